//! pagemill-export: sinks that write a document's pages as they arrive, in order.
//!
//! Every sink holds at most one page (or one pending paragraph) in memory; everything else
//! goes straight to a buffered file. [`DocumentSinks`] writes into a temporary directory
//! and moves the finished files into place only when the document completes, so a run
//! that dies never leaves a truncated file that looks complete.

#![forbid(unsafe_code)]

mod det;
mod erased;
mod hocr;
mod invisible_text;
mod json;
mod layout_pdf;
mod markdown;
mod pdf_file;
mod searchable_pdf;
mod sinks;

pub use det::DetWriter;
pub use erased::{ErasedWriter, ERASED_SCHEMA};
pub use hocr::HocrWriter;
pub use json::{DocumentSummary, JsonWriter, JSON_SCHEMA};
pub use layout_pdf::LayoutPdfWriter;
pub use markdown::MarkdownWriter;
pub use searchable_pdf::{SearchableError, SearchablePdfWriter};
pub use sinks::{DocumentSinks, Format, Formats};
