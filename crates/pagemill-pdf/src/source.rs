//! A document PDFium reads through `FPDF_FILEACCESS`: the original file, plus an
//! in-memory tail (an incremental update that is never written to disk).
//!
//! Views ([`crate::PagedDocument`]) use it to name a window of pages; the encryption
//! repair ([`crate::raw::encryption`]) uses it to give a damaged encryption dictionary
//! what it lacks.

use std::fs::File;
use std::io;
use std::os::raw::{c_int, c_uchar, c_ulong, c_void};
use std::os::unix::fs::FileExt;
use std::path::Path;

use pdfium_render::prelude::FPDF_FILEACCESS;

/// Original file plus an in-memory tail.
struct TailSource {
    file: File,
    file_len: u64,
    tail: Vec<u8>,
}

/// `m_GetBlock`: PDFium asks for `size` bytes at `position`.
unsafe extern "C" fn get_block(
    param: *mut c_void,
    position: c_ulong,
    buf: *mut c_uchar,
    size: c_ulong,
) -> c_int {
    // SAFETY: `param` is the `TailSource` boxed in `CustomSource`, alive while PDFium
    // holds the document; `buf` has room for `size` bytes (PDFium's contract).
    let src = unsafe { &*(param as *const TailSource) };
    let out = unsafe { std::slice::from_raw_parts_mut(buf, size as usize) };
    let (pos, end) = (position, position.saturating_add(size));
    let mut written = 0usize;
    if pos < src.file_len {
        let n = (end.min(src.file_len) - pos) as usize;
        if src.file.read_exact_at(&mut out[..n], pos).is_err() {
            return 0;
        }
        written = n;
    }
    if written < out.len() {
        let from = (pos + written as u64 - src.file_len) as usize;
        let Some(part) = src.tail.get(from..from + (out.len() - written)) else {
            return 0;
        };
        out[written..].copy_from_slice(part);
    }
    1
}

/// What PDFium reads a custom document through. It must outlive the document, which is
/// why [`crate::Document`] owns it (and closes itself before dropping it).
pub(crate) struct CustomSource {
    access: Box<FPDF_FILEACCESS>,
    // Kept for `access.m_Param`, which points into it.
    _source: Box<TailSource>,
}

impl CustomSource {
    /// `file` (of length `file_len`, measured by the caller when it built `tail`,
    /// whose offsets are absolute) followed by `tail`.
    pub(crate) fn new(file: File, file_len: u64, tail: Vec<u8>) -> Self {
        let source = Box::new(TailSource {
            file,
            file_len,
            tail,
        });
        let access = Box::new(FPDF_FILEACCESS {
            m_FileLen: (file_len + source.tail.len() as u64) as c_ulong,
            m_GetBlock: Some(get_block),
            m_Param: &*source as *const TailSource as *mut c_void,
        });
        CustomSource {
            access,
            _source: source,
        }
    }

    /// Opens `path` and appends `tail`; `file_len` must be the length `tail` was built for.
    pub(crate) fn open(path: &Path, file_len: u64, tail: Vec<u8>) -> io::Result<Self> {
        let file = File::open(path)?;
        if file.metadata()?.len() != file_len {
            return Err(io::Error::other("the file changed while it was read"));
        }
        Ok(Self::new(file, file_len, tail))
    }

    /// The access structure to hand to `FPDF_LoadCustomDocument`.
    pub(crate) fn access(&mut self) -> &mut FPDF_FILEACCESS {
        &mut self.access
    }
}
