//! pagemill-export: sinks that write a document's pages as they arrive, in order.
//!
//! One writer per format (`markdown`, `det`, `json`, `hocr`, `layout_pdf`,
//! `searchable_pdf`, `erased`), each a [`PageSink`](pagemill_core::sink::PageSink) through
//! [`FileSink`] ([`FigureCrops`] for the figure crops). Every sink holds at most one page
//! (or one pending paragraph) in memory; everything else goes straight to a buffered file
//! in an [`OutputLocation`]. [`LocalDir`] writes into a temporary directory and moves the
//! finished files into place only when the document completes, so a run that dies never
//! leaves a truncated file that looks complete. [`DocumentSinks`] is the set of formats a
//! job asked for.

#![forbid(unsafe_code)]

mod continuation;
mod det;
mod erased;
mod file_sink;
mod footnotes;
mod hocr;
mod invisible_text;
mod json;
mod layout_pdf;
mod markdown;
mod output;
mod pdf_file;
mod picture_pdf;
mod searchable_pdf;
mod sinks;
mod table_markup;
mod upscaled;

pub use continuation::TableContinuity;
pub use det::DetWriter;
pub use erased::{ErasedWriter, ERASED_SCHEMA};
pub use file_sink::{FigureCrops, FileSink, FormatWriter, JsonFile, IMAGES_DIR};
pub use hocr::HocrWriter;
pub use json::{DocumentSummary, JsonWriter, JSON_SCHEMA};
pub use layout_pdf::LayoutPdfWriter;
pub use markdown::MarkdownWriter;
pub use output::{LocalDir, OutputFile, OutputLocation, TMP_DIR};
pub use searchable_pdf::{SearchableError, SearchablePdfWriter};
pub use sinks::{DocumentSinks, Format, Formats};
pub use table_markup::{html_table, pipe_table, render_table, TableForm};
pub use upscaled::{UpscaledSink, UpscaledWriter, UPSCALED_DIR, UPSCALE_SCHEMA};
