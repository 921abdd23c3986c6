//! pagemill-pdf: PDFium behind a small, safe API.
//!
//! - [`library`]: finds `libpdfium.so` and binds to it at run time;
//! - [`Engine`] / [`Document`]: open a PDF, read its page count and metadata;
//! - [`PagedDocument`]: pages of documents of any length in flat memory, through views;
//!   a run of them written as a PDF of its own; the outline ([`Bookmark`]s);
//! - [`raw`]: the small reader of the file structure that views need;
//! - [`figures`]: a page's pictures (images, vector drawings) and crops of them;
//! - [`text`]: one page's characters with boxes, sizes and fonts, in the displayed frame.
//!
//! PDFium is **not thread-safe**: an [`Engine`] lives in one thread of one process. pagemill
//! gets parallelism from several worker processes, each with its own engine.

mod document;
mod error;
pub mod figures;
pub mod library;
mod outline;
mod paged;
pub mod raw;
pub mod render;
mod rules;
mod source;
mod subset;
pub mod text;

pub use document::{Document, Engine};
pub use error::PdfError;
pub use outline::Bookmark;
pub use paged::{PagedDocument, VIEW_PAGES};
pub use render::{GrayPage, RenderOptions};
