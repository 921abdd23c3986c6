//! A small reader of the PDF file structure, for one job PDFium cannot do cheaply: finding
//! the page objects of a window of pages without touching the pages before it.
//!
//! Why hand-rolled: PDFium's `FPDF_LoadPage(n)` walks and keeps every page dictionary
//! before `n` (measured: 1.8–4.6 KB per page, for any page-tree shape), so memory grows
//! with the page index. `lopdf` parses the whole file up front, which is the same problem
//! in a different place. This reader needs only the cross-reference index (16 bytes per
//! object) and reads objects on demand through small windows.
//!
//! With it, [`view_update`] builds an incremental update (appended in memory, never
//! written) whose new page tree holds just the window's pages; PDFium opens original bytes
//! plus update as a document of those pages. Pages keep their `/Parent`, so inherited
//! attributes (resources, boxes, rotation) still resolve through the original tree.

pub mod encryption;
pub mod object;
mod update;
mod xref;

use std::collections::HashSet;
use std::fmt::Write as _;
use std::path::Path;

use object::{write_obj, Obj};
pub use update::{Original, PageObject, UpdateWriter};
pub use xref::Xref;

/// Why a document cannot be read this way (the caller then lets PDFium do it all).
#[derive(Debug, thiserror::Error)]
pub enum RawError {
    /// Reading the file failed.
    #[error("cannot read the file: {0}")]
    Io(#[from] std::io::Error),
    /// The structure is broken (PDFium may still repair it).
    #[error("damaged structure: {0}")]
    Damaged(&'static str),
    /// A syntax error: what was expected, near which offset or object.
    #[error("expected {0} near {1}")]
    Syntax(&'static str, u64),
    /// A feature this reader leaves to PDFium.
    #[error("not handled here: {0}")]
    Unsupported(&'static str),
}

/// Deepest page tree followed (PDFium's own limit is similar).
const MAX_TREE_DEPTH: usize = 64;

/// A reference to a page object.
pub type PageRef = (u32, u16);

/// The page tree of a PDF, read once per document: the page objects in order, and what a
/// view's update needs. The cross-reference index is dropped once the tree is read.
pub struct PageTree {
    pages: Vec<PageRef>,
    catalog: object::Dict,
    size: u32,
    prev: u64,
    newest_is_stream: bool,
}

impl PageTree {
    /// Reads the index and walks the page tree of `path`, accepting at most `max_pages`.
    pub fn read(path: &Path, max_pages: usize) -> Result<Self, RawError> {
        let o = Original::open(path, max_pages)?;
        Ok(PageTree {
            pages: o.pages,
            catalog: o.catalog,
            size: o.size,
            prev: o.xref.start,
            newest_is_stream: o.xref.newest_is_stream,
        })
    }

    /// The page objects, in page order.
    pub fn pages(&self) -> &[PageRef] {
        &self.pages
    }

    /// Bytes to append to the file so that it reads as a document of `pages` only.
    ///
    /// `file_len` is the original file's length: offsets in the update are absolute.
    pub fn view_update(&self, pages: &[PageRef], file_len: u64) -> Result<Vec<u8>, RawError> {
        let mut catalog = self.catalog.clone();
        let size = self.size;
        let (tree_num, cat_num) = (size, size + 1);
        catalog.set(b"Pages", Obj::Ref(tree_num, 0));
        // Outlines, names and the like refer to pages of the whole document; a view does
        // not need them, and leaving them out keeps PDFium from loading them.
        for key in [
            &b"Outlines"[..],
            b"PageLabels",
            b"StructTreeRoot",
            b"OpenAction",
        ] {
            catalog.0.retain(|(k, _)| k != key);
        }

        let mut out = String::from("\n");
        let tree_at = file_len + out.len() as u64;
        let _ = write!(
            out,
            "{tree_num} 0 obj\n<</Type/Pages/Count {}/Kids[",
            pages.len()
        );
        for (i, (n, g)) in pages.iter().enumerate() {
            if i > 0 {
                out.push(' ');
            }
            let _ = write!(out, "{n} {g} R");
        }
        out.push_str("]>>\nendobj\n");
        let cat_at = file_len + out.len() as u64;
        let _ = writeln!(out, "{cat_num} 0 obj");
        write_obj(&Obj::Dict(catalog), &mut out);
        out.push_str("\nendobj\n");

        let xref_at = file_len + out.len() as u64;
        let mut trailer = object::Dict::default();
        trailer.set(b"Root", Obj::Ref(cat_num, 0));
        let mut bytes = out.into_bytes();
        bytes.extend(update::closing_section(
            &mut vec![(tree_num, 0, tree_at), (cat_num, 0, cat_at)],
            xref_at,
            cat_num + 1,
            self.newest_is_stream,
            self.prev,
            trailer,
        ));
        Ok(bytes)
    }
}

struct Walker<'x> {
    xref: &'x Xref,
    pages: Vec<PageRef>,
    seen: HashSet<u32>,
    max_pages: usize,
}

impl Walker<'_> {
    /// Walks page tree node `node` (already resolved to `obj`), each object read once.
    fn walk(&mut self, node: u32, obj: Obj, depth: usize) -> Result<(), RawError> {
        if depth > MAX_TREE_DEPTH || !self.seen.insert(node) {
            return Err(RawError::Damaged("page tree too deep or cyclic"));
        }
        let Obj::Dict(mut d) = obj else {
            return Err(RawError::Damaged("page tree node is not a dictionary"));
        };
        let kids = match d.0.iter().position(|(k, _)| k == b"Kids") {
            Some(i) => match d.0.swap_remove(i).1 {
                Obj::Array(a) => a,
                Obj::Ref(n, _) => match self.xref.object(n)? {
                    Obj::Array(a) => a,
                    _ => return Err(RawError::Damaged("/Kids is not an array")),
                },
                _ => return Err(RawError::Damaged("/Kids is not an array")),
            },
            None => return Err(RawError::Damaged("page tree node without /Kids")),
        };
        for kid in kids {
            let Some((num, gen)) = kid.as_ref() else {
                continue;
            };
            // Like PDFium: a kid with /Kids is a node, anything else a page.
            let obj = self.xref.object(num)?;
            if obj.as_dict().is_some_and(|d| d.get(b"Kids").is_some()) {
                self.walk(num, obj, depth + 1)?;
            } else {
                if self.pages.len() >= self.max_pages {
                    return Err(RawError::Unsupported("more pages than allowed"));
                }
                self.pages.push((num, gen));
            }
        }
        Ok(())
    }
}
