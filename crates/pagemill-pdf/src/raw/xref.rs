//! The cross-reference index of a PDF and object lookup through it.
//!
//! Reads the file with positioned reads into small windows, never the whole file: classic
//! `xref` tables, cross-reference streams (PDF 1.5, with PNG predictors), hybrid files
//! (`/XRefStm`), `/Prev` chains of incremental updates and objects inside object streams.

use std::cell::RefCell;
use std::collections::HashSet;
use std::fs::File;
use std::io::{Read, Write};
use std::os::unix::fs::FileExt;
use std::path::Path;

use super::object::{Dict, Lexer, Obj, ParseError};
use super::RawError;

/// Largest object (or xref section) read into memory at once.
const MAX_WINDOW: usize = 64 << 20;
/// Largest decoded stream (object streams, xref streams).
const MAX_DECODED: u64 = 256 << 20;
/// Largest object number accepted (bounds the index: 16 bytes each).
const MAX_OBJECTS: u64 = 8 << 20;
/// Cross-reference sections followed through `/Prev` before giving up.
const MAX_SECTIONS: usize = 256;

/// Where an object lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Entry {
    /// Not listed by any section read so far.
    Unset,
    /// Free (or deleted).
    Free,
    /// At a byte offset.
    At(u64),
    /// The `index`-th object in object stream `stream`.
    InStream(u32, u32),
}

/// A decoded object stream: its data and the (object number, offset) table.
struct ObjStream {
    num: u32,
    data: Vec<u8>,
    first: usize,
    offsets: Vec<(u32, usize)>,
}

/// An open PDF's cross-reference index.
pub struct Xref {
    file: File,
    len: u64,
    entries: Vec<Entry>,
    /// The newest trailer (for a cross-reference stream: its dictionary).
    pub trailer: Dict,
    /// Offset of the newest cross-reference section (`startxref`).
    pub start: u64,
    /// Whether the newest section is a cross-reference stream.
    pub newest_is_stream: bool,
    cache: RefCell<Option<ObjStream>>,
}

impl Xref {
    /// Reads the index of the PDF at `path`; encrypted files are refused (their object
    /// streams could not be read).
    pub fn open(path: &Path) -> Result<Self, RawError> {
        let x = Self::open_any(path)?;
        if x.trailer.get(b"Encrypt").is_some() {
            return Err(RawError::Unsupported("encrypted document"));
        }
        Ok(x)
    }

    /// Reads the index of the PDF at `path`, encrypted or not. Objects outside object
    /// streams still parse; their strings and streams stay encrypted.
    pub(super) fn open_any(path: &Path) -> Result<Self, RawError> {
        let file = File::open(path)?;
        let len = file.metadata()?.len();
        let mut x = Xref {
            file,
            len,
            entries: Vec::new(),
            trailer: Dict::default(),
            start: 0,
            newest_is_stream: false,
            cache: RefCell::new(None),
        };
        x.start = x.find_startxref()?;
        let mut next = Some(x.start);
        let mut seen = HashSet::new();
        let mut first = true;
        while let Some(off) = next {
            if !seen.insert(off) || seen.len() > MAX_SECTIONS {
                return Err(RawError::Damaged("cross-reference sections form a loop"));
            }
            let (trailer, is_stream) = x.read_section(off)?;
            next = trailer.get(b"Prev").and_then(Obj::as_int).map(|p| p as u64);
            if first {
                x.trailer = trailer;
                x.newest_is_stream = is_stream;
                first = false;
            }
        }
        Ok(x)
    }

    /// The newest trailer's `/Size` (one past the highest object number), checked.
    pub(super) fn trailer_size(&self) -> Result<u32, RawError> {
        self.trailer
            .get(b"Size")
            .and_then(Obj::as_int)
            .filter(|s| *s > 0 && *s < (1 << 23))
            .map(|s| s as u32)
            .ok_or(RawError::Damaged("bad trailer /Size"))
    }

    /// The file's length in bytes.
    pub fn file_len(&self) -> u64 {
        self.len
    }

    /// Copies the whole file to `out` through a fixed buffer; returns the bytes copied.
    pub fn copy_file_to(&self, out: &mut impl Write) -> std::io::Result<u64> {
        let mut buf = vec![0u8; 64 * 1024];
        let mut at = 0u64;
        while at < self.len {
            let n = buf.len().min((self.len - at) as usize);
            self.file.read_exact_at(&mut buf[..n], at)?;
            out.write_all(&buf[..n])?;
            at += n as u64;
        }
        Ok(at)
    }

    fn read_at(&self, off: u64, len: usize) -> Result<Vec<u8>, RawError> {
        let len = len.min(self.len.saturating_sub(off) as usize);
        let mut buf = vec![0; len];
        self.file.read_exact_at(&mut buf, off)?;
        Ok(buf)
    }

    /// Runs `f` over a window at `off`, growing the window while the parse needs more.
    fn parse_at<T>(
        &self,
        off: u64,
        mut f: impl FnMut(&mut Lexer<'_>) -> Result<T, ParseError>,
    ) -> Result<T, RawError> {
        let mut window = 4096;
        loop {
            let buf = self.read_at(off, window)?;
            let short = buf.len() < window;
            match f(&mut Lexer::new(&buf, 0)) {
                Err(ParseError::Incomplete) if !short && window < MAX_WINDOW => window *= 8,
                Err(ParseError::Incomplete) => return Err(RawError::Damaged("truncated object")),
                Err(ParseError::Invalid(what, _)) => return Err(RawError::Syntax(what, off)),
                Ok(v) => return Ok(v),
            }
        }
    }

    fn find_startxref(&self) -> Result<u64, RawError> {
        let tail_len = 2048.min(self.len) as usize;
        let tail = self.read_at(self.len - tail_len as u64, tail_len)?;
        let at = tail
            .windows(9)
            .rposition(|w| w == b"startxref")
            .ok_or(RawError::Damaged("no startxref"))?;
        // A delimiter after the number, so a file ending in it still parses.
        let mut rest = tail[at + 9..].to_vec();
        rest.push(b'\n');
        let off = Lexer::new(&rest, 0)
            .uint()
            .map_err(|_| RawError::Damaged("bad startxref"))?;
        if off >= self.len {
            return Err(RawError::Damaged("startxref points past the end"));
        }
        Ok(off)
    }

    fn set(&mut self, num: u64, e: Entry) -> Result<(), RawError> {
        if num >= MAX_OBJECTS {
            return Err(RawError::Unsupported("too many objects"));
        }
        let i = num as usize;
        if self.entries.len() <= i {
            self.entries.resize(i + 1, Entry::Unset);
        }
        // Newer sections are read first and win.
        if self.entries[i] == Entry::Unset {
            self.entries[i] = e;
        }
        Ok(())
    }

    /// Reads one section; returns its trailer and whether it was a stream.
    fn read_section(&mut self, off: u64) -> Result<(Dict, bool), RawError> {
        let is_table = self
            .read_at(off, 64)?
            .trim_ascii_start()
            .starts_with(b"xref");
        if !is_table {
            let (dict, data) = self.stream_at(off)?;
            if !dict.get(b"Type").is_some_and(|t| t.is_name(b"XRef")) {
                return Err(RawError::Damaged(
                    "startxref does not point to a cross-reference",
                ));
            }
            self.add_stream_entries(&dict, &data)?;
            return Ok((dict, true));
        }
        let mut rows: Vec<(u64, Entry)> = Vec::new();
        let trailer = self.parse_at(off, |lx| {
            rows.clear();
            lx.expect(b"xref")?;
            loop {
                let at = lx.pos;
                let t = lx.token()?;
                if t == b"trailer" {
                    break;
                }
                lx.pos = at;
                let start = lx.uint()?;
                let count = lx.uint()?;
                for i in 0..count {
                    let offset = lx.uint()?;
                    let _gen = lx.uint()?;
                    let kind = lx.token()?;
                    let e = match kind {
                        b"n" => Entry::At(offset),
                        b"f" => Entry::Free,
                        _ => return Err(ParseError::Invalid("n or f", lx.pos)),
                    };
                    rows.push((start + i, e));
                }
            }
            match lx.object()? {
                Obj::Dict(d) => Ok(d),
                _ => Err(ParseError::Invalid("a trailer dictionary", lx.pos)),
            }
        })?;
        for (num, e) in rows {
            // PDF writers often number a one-object section from 0 by mistake; tolerate
            // nothing clever here, PDFium repairs such files and views fall back to it.
            self.set(num, e)?;
        }
        // A hybrid file lists its compressed objects in a stream named by /XRefStm.
        if let Some(stm) = trailer.get(b"XRefStm").and_then(Obj::as_int) {
            let (dict, data) = self.stream_at(stm as u64)?;
            self.add_stream_entries(&dict, &data)?;
        }
        Ok((trailer, false))
    }

    fn add_stream_entries(&mut self, dict: &Dict, data: &[u8]) -> Result<(), RawError> {
        let w: Vec<usize> = match dict.get(b"W") {
            Some(Obj::Array(a)) if a.len() == 3 => a
                .iter()
                .map(|v| {
                    v.as_int()
                        .filter(|&n| (0..=8).contains(&n))
                        .map(|n| n as usize)
                })
                .collect::<Option<_>>()
                .ok_or(RawError::Damaged("bad /W in cross-reference stream"))?,
            _ => return Err(RawError::Damaged("missing /W in cross-reference stream")),
        };
        let size = dict.get(b"Size").and_then(Obj::as_int).unwrap_or(0).max(0);
        let index: Vec<i64> = match dict.get(b"Index") {
            Some(Obj::Array(a)) => a.iter().filter_map(Obj::as_int).collect(),
            _ => vec![0, size],
        };
        let row = w.iter().sum::<usize>();
        if row == 0 {
            return Err(RawError::Damaged("empty rows in cross-reference stream"));
        }
        let field = |bytes: &[u8]| bytes.iter().fold(0u64, |v, &b| v << 8 | u64::from(b));
        let mut rows = data.chunks_exact(row);
        for pair in index.chunks_exact(2) {
            let (start, count) = (pair[0].max(0) as u64, pair[1].max(0) as u64);
            for i in 0..count {
                let Some(r) = rows.next() else {
                    return Ok(());
                };
                let t = if w[0] == 0 { 1 } else { field(&r[..w[0]]) };
                let a = field(&r[w[0]..w[0] + w[1]]);
                let b = field(&r[w[0] + w[1]..]);
                let e = match t {
                    0 => Entry::Free,
                    1 => Entry::At(a),
                    2 => Entry::InStream(a as u32, b as u32),
                    _ => continue,
                };
                self.set(start + i, e)?;
            }
        }
        Ok(())
    }

    /// Parses `num gen obj <dict> stream` at `off`; returns the dictionary and decoded data.
    fn stream_at(&self, off: u64) -> Result<(Dict, Vec<u8>), RawError> {
        let (dict, data_start) = self.parse_at(off, |lx| {
            lx.uint()?;
            lx.uint()?;
            lx.expect(b"obj")?;
            let d = match lx.object()? {
                Obj::Dict(d) => d,
                _ => return Err(ParseError::Invalid("a stream dictionary", lx.pos)),
            };
            lx.expect(b"stream")?;
            Ok((d, lx.stream_data_start()))
        })?;
        let length = match dict.get(b"Length") {
            Some(Obj::Int(n)) if *n >= 0 => *n as u64,
            Some(Obj::Ref(n, _)) => {
                self.object(*n)?
                    .as_int()
                    .filter(|n| *n >= 0)
                    .ok_or(RawError::Damaged("bad stream /Length"))? as u64
            }
            _ => return Err(RawError::Damaged("stream without /Length")),
        };
        if length > MAX_DECODED {
            return Err(RawError::Unsupported("stream too large"));
        }
        let raw = self.read_at(off + data_start as u64, length as usize)?;
        let data = decode(&dict, raw)?;
        Ok((dict, data))
    }

    /// Resolves object `num` (any generation: the index keeps only the newest).
    pub fn object(&self, num: u32) -> Result<Obj, RawError> {
        match self
            .entries
            .get(num as usize)
            .copied()
            .unwrap_or(Entry::Unset)
        {
            Entry::Unset | Entry::Free => Ok(Obj::Null),
            Entry::At(off) => self.parse_at(off, |lx| {
                lx.uint()?;
                lx.uint()?;
                lx.expect(b"obj")?;
                lx.object()
            }),
            Entry::InStream(stream, index) => self.object_in_stream(num, stream, index),
        }
    }

    fn object_in_stream(&self, num: u32, stream: u32, index: u32) -> Result<Obj, RawError> {
        let mut cache = self.cache.borrow_mut();
        if cache.as_ref().map(|c| c.num) != Some(stream) {
            let Entry::At(off) = self
                .entries
                .get(stream as usize)
                .copied()
                .unwrap_or(Entry::Unset)
            else {
                return Err(RawError::Damaged("object stream not found"));
            };
            let (dict, data) = self.stream_at(off)?;
            let n = dict.get(b"N").and_then(Obj::as_int).unwrap_or(0).max(0) as usize;
            let first = dict.get(b"First").and_then(Obj::as_int).unwrap_or(0).max(0) as usize;
            let mut header = data.get(..first).unwrap_or(&data).to_vec();
            header.push(b' ');
            let mut lx = Lexer::new(&header, 0);
            let mut offsets = Vec::with_capacity(n.min(1 << 16));
            for _ in 0..n {
                match (lx.uint(), lx.uint()) {
                    (Ok(o), Ok(at)) => offsets.push((o as u32, at as usize)),
                    _ => break,
                }
            }
            *cache = Some(ObjStream {
                num: stream,
                data,
                first,
                offsets,
            });
        }
        let Some(s) = cache.as_ref() else {
            return Err(RawError::Damaged("object stream not found"));
        };
        let at = s
            .offsets
            .get(index as usize)
            .filter(|(o, _)| *o == num)
            .or_else(|| s.offsets.iter().find(|(o, _)| *o == num))
            .map(|(_, at)| s.first + at)
            .ok_or(RawError::Damaged("object missing from its object stream"))?;
        // Objects in a stream end at the data's end, so pad with a delimiter.
        let mut lx = Lexer::new(&s.data, at);
        match lx.object() {
            Ok(o) => Ok(o),
            Err(ParseError::Incomplete) => {
                let mut padded = s.data[at..].to_vec();
                padded.push(b' ');
                Lexer::new(&padded, 0)
                    .object()
                    .map_err(|_| RawError::Damaged("broken object in object stream"))
            }
            Err(ParseError::Invalid(what, _)) => Err(RawError::Syntax(what, u64::from(num))),
        }
    }
}

/// Decodes a stream's data (FlateDecode with optional PNG predictor, or unfiltered).
fn decode(dict: &Dict, raw: Vec<u8>) -> Result<Vec<u8>, RawError> {
    let filter = match dict.get(b"Filter") {
        None => None,
        Some(Obj::Name(n)) => Some(n.as_slice()),
        Some(Obj::Array(a)) if a.len() == 1 => match &a[0] {
            Obj::Name(n) => Some(n.as_slice()),
            _ => return Err(RawError::Unsupported("stream filter")),
        },
        Some(Obj::Array(a)) if a.is_empty() => None,
        _ => return Err(RawError::Unsupported("stream filter chain")),
    };
    let data = match filter {
        None => raw,
        Some(b"FlateDecode") => {
            let mut out = Vec::new();
            flate2::read::ZlibDecoder::new(raw.as_slice())
                .take(MAX_DECODED)
                .read_to_end(&mut out)
                .map_err(|_| RawError::Damaged("broken compressed stream"))?;
            out
        }
        Some(_) => return Err(RawError::Unsupported("stream filter")),
    };
    let parms = match dict.get(b"DecodeParms") {
        Some(Obj::Dict(d)) => Some(d),
        Some(Obj::Array(a)) => a.first().and_then(Obj::as_dict),
        _ => None,
    };
    let predictor = parms
        .and_then(|p| p.get(b"Predictor"))
        .and_then(Obj::as_int)
        .unwrap_or(1);
    if predictor < 10 {
        return Ok(data);
    }
    let columns = parms
        .and_then(|p| p.get(b"Columns"))
        .and_then(Obj::as_int)
        .unwrap_or(1)
        .clamp(1, 1 << 16) as usize;
    Ok(unpredict_png(&data, columns))
}

/// Undoes PNG row filters (one byte per pixel, as cross-reference streams use).
fn unpredict_png(data: &[u8], columns: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len());
    let mut prev = vec![0u8; columns];
    for row in data.chunks(columns + 1) {
        let (filter, bytes) = (row[0], &row[1..]);
        let mut cur = vec![0u8; columns];
        for (i, &b) in bytes.iter().enumerate() {
            let left = if i > 0 { cur[i - 1] } else { 0 };
            let up = prev[i];
            let up_left = if i > 0 { prev[i - 1] } else { 0 };
            cur[i] = match filter {
                1 => b.wrapping_add(left),
                2 => b.wrapping_add(up),
                3 => b.wrapping_add(((u16::from(left) + u16::from(up)) / 2) as u8),
                4 => b.wrapping_add(paeth(left, up, up_left)),
                _ => b,
            };
        }
        out.extend_from_slice(&cur[..bytes.len()]);
        prev = cur;
    }
    out
}

fn paeth(a: u8, b: u8, c: u8) -> u8 {
    let p = i16::from(a) + i16::from(b) - i16::from(c);
    let (pa, pb, pc) = (
        (p - i16::from(a)).abs(),
        (p - i16::from(b)).abs(),
        (p - i16::from(c)).abs(),
    );
    if pa <= pb && pa <= pc {
        a
    } else if pb <= pc {
        b
    } else {
        c
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn png_up_filter_is_undone() {
        // Two rows of 3 columns, second filtered with Up (2).
        let data = [0, 1, 2, 3, 2, 1, 1, 1];
        assert_eq!(unpredict_png(&data, 3), vec![1, 2, 3, 2, 3, 4]);
    }
}
