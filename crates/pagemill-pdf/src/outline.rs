//! A PDF's outline (bookmarks): titles, nesting and the pages they point at.

use std::collections::HashSet;

use pdfium_render::prelude::{FPDF_BOOKMARK, FPDF_DEST};

use crate::Document;

/// One bookmark, in the outline's depth-first order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bookmark {
    /// 1 for top-level entries.
    pub level: u32,
    /// Its title (whitespace runs made one space).
    pub title: String,
    /// The page it points at, 0-based; `None` when it points nowhere in this document
    /// (a missing or broken destination, another file, a URL).
    pub page: Option<u32>,
}

/// Deepest nesting followed; deeper entries are left out (outlines nest a few levels).
const MAX_DEPTH: u32 = 32;
/// Most bookmarks read: malformed files can chain siblings into a cycle, which the visited
/// set catches, or into a chain long enough to matter, which this catches.
const MAX_BOOKMARKS: usize = 1 << 20;
/// PDFium's `PDFACTION_GOTO`.
const ACTION_GOTO: std::os::raw::c_ulong = 1;

impl Document<'_> {
    /// The outline in depth-first order (empty when the document has none).
    pub fn outline(&self) -> Vec<Bookmark> {
        let mut out = Vec::new();
        let mut seen = HashSet::new();
        // (bookmark, level) still to visit; children go on top so order stays depth-first.
        let first = unsafe {
            self.engine
                .b
                .FPDFBookmark_GetFirstChild(self.handle, std::ptr::null_mut())
        };
        let mut stack: Vec<(FPDF_BOOKMARK, u32)> = Vec::new();
        if !first.is_null() {
            stack.push((first, 1));
        }
        while let Some((bm, level)) = stack.pop() {
            if out.len() >= MAX_BOOKMARKS || !seen.insert(bm as usize) {
                continue;
            }
            out.push(Bookmark {
                level,
                title: self.bookmark_title(bm),
                page: self.bookmark_page(bm),
            });
            let b = &self.engine.b;
            // SAFETY: `bm` came from PDFium for this open document.
            let next = unsafe { b.FPDFBookmark_GetNextSibling(self.handle, bm) };
            if !next.is_null() {
                stack.push((next, level));
            }
            let child = unsafe { b.FPDFBookmark_GetFirstChild(self.handle, bm) };
            if !child.is_null() && level < MAX_DEPTH {
                stack.push((child, level + 1));
            }
        }
        out
    }

    fn bookmark_title(&self, bm: FPDF_BOOKMARK) -> String {
        let b = &self.engine.b;
        // SAFETY: a null buffer asks for the length only.
        let len = unsafe { b.FPDFBookmark_GetTitle(bm, std::ptr::null_mut(), 0) } as usize;
        if len <= 2 || len > 1 << 16 {
            return String::new();
        }
        let mut buf = vec![0u8; len];
        // SAFETY: `buf` holds `len` bytes, the length PDFium asked for.
        unsafe { b.FPDFBookmark_GetTitle(bm, buf.as_mut_ptr().cast(), len as _) };
        let units: Vec<u16> = buf
            .chunks_exact(2)
            .map(|c| u16::from_le_bytes([c[0], c[1]]))
            .take_while(|&u| u != 0)
            .collect();
        String::from_utf16_lossy(&units)
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
    }

    fn bookmark_page(&self, bm: FPDF_BOOKMARK) -> Option<u32> {
        let b = &self.engine.b;
        // SAFETY: handles from PDFium for this open document.
        let mut dest: FPDF_DEST = unsafe { b.FPDFBookmark_GetDest(self.handle, bm) };
        if dest.is_null() {
            let action = unsafe { b.FPDFBookmark_GetAction(bm) };
            if action.is_null() || unsafe { b.FPDFAction_GetType(action) } != ACTION_GOTO {
                return None;
            }
            dest = unsafe { b.FPDFAction_GetDest(self.handle, action) };
            if dest.is_null() {
                return None;
            }
        }
        let index = unsafe { b.FPDFDest_GetDestPageIndex(self.handle, dest) };
        u32::try_from(index).ok().filter(|&i| i < self.page_count())
    }
}
