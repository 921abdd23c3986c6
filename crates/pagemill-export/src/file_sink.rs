//! Every output file format as a [`PageSink`]: a format says how to open its file(s) in
//! an [`OutputLocation`], write a page and close ([`FormatWriter`]); [`FileSink`] turns
//! that into the engine's `begin` / `page` / `finish` / `abort`.

use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use pagemill_core::model::DocKind;
use pagemill_core::sink::{DocumentMeta, PageSink, SinkError};
use pagemill_core::{PageOutcome, PageResult};

use crate::output::{OutputFile, OutputLocation};
use crate::searchable_pdf::SearchableError;
use crate::{
    DetWriter, DocumentSummary, ErasedWriter, HocrWriter, JsonWriter, LayoutPdfWriter,
    MarkdownWriter, SearchablePdfWriter,
};

/// Where figure crops go, under the document's directory.
pub const IMAGES_DIR: &str = "images";

/// One output format, written page by page into an [`OutputLocation`].
pub trait FormatWriter: Sized + Send {
    /// Starts the format's file(s) for `doc`; `None` when this document cannot have it
    /// (a searchable PDF of a damaged PDF, say: the other outputs are still written).
    fn open(location: &Arc<dyn OutputLocation>, doc: &DocumentMeta) -> io::Result<Option<Self>>;
    /// Writes one page.
    fn write_page(&mut self, page: &PageResult) -> io::Result<()>;
    /// Completes the file(s).
    fn close(self) -> io::Result<()>;
}

/// A [`FormatWriter`] as a [`PageSink`] over a shared [`OutputLocation`] (the location is
/// committed by whoever owns the document's outputs, once every sink has finished).
pub struct FileSink<W: FormatWriter> {
    location: Arc<dyn OutputLocation>,
    writer: Option<W>,
    /// Applied to the writer once it is open (a format's options).
    configure: Option<Box<dyn FnOnce(W) -> W + Send>>,
}

impl<W: FormatWriter> FileSink<W> {
    /// A sink writing into `location`.
    pub fn new(location: Arc<dyn OutputLocation>) -> Self {
        FileSink {
            location,
            writer: None,
            configure: None,
        }
    }

    /// A sink writing into `location` whose writer `configure` sets up once it is open.
    pub fn configured(
        location: Arc<dyn OutputLocation>,
        configure: impl FnOnce(W) -> W + Send + 'static,
    ) -> Self {
        FileSink {
            location,
            writer: None,
            configure: Some(Box::new(configure)),
        }
    }
}

impl<W: FormatWriter> PageSink for FileSink<W> {
    fn begin(&mut self, doc: &DocumentMeta) -> Result<(), SinkError> {
        self.writer = W::open(&self.location, doc)?;
        if let Some(f) = self.configure.take() {
            self.writer = self.writer.take().map(f);
        }
        Ok(())
    }

    fn page(&mut self, page: &PageResult) -> Result<(), SinkError> {
        if let Some(w) = &mut self.writer {
            w.write_page(page)?;
        }
        Ok(())
    }

    fn finish(&mut self) -> Result<Vec<PathBuf>, SinkError> {
        if let Some(w) = self.writer.take() {
            w.close()?;
        }
        Ok(Vec::new())
    }

    fn abort(&mut self) {
        self.writer = None;
    }
}

/// `name` of document `doc` (`<stem>.<ext>`).
fn file(doc: &DocumentMeta, ext: &str) -> String {
    format!("{}.{ext}", doc.stem)
}

/// Flushes a finished file.
fn done(mut out: OutputFile) -> io::Result<()> {
    out.flush()
}

/// A format whose writer takes its one file, writes a page from the result, and hands the
/// file back when finished: the file is `<stem>.<ext>`, `$new` makes the writer from the
/// file (`$out`) and the document (`$doc`), `$write` writes a page (`$page`) with the
/// writer (`$w`).
macro_rules! one_file_format {
    ($writer:ty, $ext:literal, |$out:ident, $doc:ident| $new:expr, |$w:ident, $page:ident| $write:expr) => {
        impl FormatWriter for $writer {
            fn open(
                location: &Arc<dyn OutputLocation>,
                doc: &DocumentMeta,
            ) -> io::Result<Option<Self>> {
                let $out = location.create(&file(doc, $ext))?;
                let $doc = doc;
                Ok(Some($new))
            }
            fn write_page(&mut self, $page: &PageResult) -> io::Result<()> {
                let $w = self;
                $write
            }
            fn close(self) -> io::Result<()> {
                done(self.finish()?)
            }
        }
    };
}

one_file_format!(
    MarkdownWriter<OutputFile>,
    "md",
    |out, _doc| MarkdownWriter::new(out),
    |w, page| w.page(&page.outcome)
);
one_file_format!(
    DetWriter<OutputFile>,
    "det.md",
    |out, _doc| DetWriter::new(out),
    |w, page| w.page(&page.outcome)
);
one_file_format!(
    HocrWriter<OutputFile>,
    "hocr",
    |out, doc| HocrWriter::new(out, &doc.source)?,
    |w, page| w.page(&page.outcome)
);
one_file_format!(
    LayoutPdfWriter<OutputFile>,
    "layouts.pdf",
    |out, _doc| LayoutPdfWriter::new(out)?,
    |w, page| w.page(&page.outcome, page.preview.as_ref())
);

/// `IN.json` with the counts its summary needs.
pub struct JsonFile {
    writer: JsonWriter<OutputFile>,
    summary: DocumentSummary,
}

impl FormatWriter for JsonFile {
    fn open(location: &Arc<dyn OutputLocation>, doc: &DocumentMeta) -> io::Result<Option<Self>> {
        let out = location.create(&file(doc, "json"))?;
        Ok(Some(JsonFile {
            writer: JsonWriter::new(out, &doc.source, &doc.info)?,
            summary: DocumentSummary {
                pages: doc.pages,
                ..Default::default()
            },
        }))
    }
    fn write_page(&mut self, page: &PageResult) -> io::Result<()> {
        match page.outcome {
            PageOutcome::Ok(_) => self.summary.ok += 1,
            PageOutcome::Failed(_) => self.summary.failed += 1,
        }
        self.writer.page(&page.outcome)
    }
    fn close(self) -> io::Result<()> {
        done(self.writer.finish(&self.summary)?)
    }
}

impl FormatWriter for SearchablePdfWriter<OutputFile> {
    /// For an image input, a new PDF; for a PDF, the input plus an update — left out with
    /// a warning when the input cannot take one (encrypted, damaged).
    fn open(location: &Arc<dyn OutputLocation>, doc: &DocumentMeta) -> io::Result<Option<Self>> {
        let name = file(doc, "ocr.pdf");
        let out = location.create(&name)?;
        if doc.info.kind == DocKind::Image {
            return SearchablePdfWriter::for_images(out).map(Some);
        }
        match SearchablePdfWriter::for_pdf(&doc.path, out) {
            Ok(w) => Ok(Some(w)),
            Err(SearchableError::Io(e)) => Err(e),
            Err(e) => {
                tracing::warn!("{}: {e}", doc.source);
                location.remove(&name);
                Ok(None)
            }
        }
    }
    fn write_page(&mut self, page: &PageResult) -> io::Result<()> {
        self.page(&page.outcome, page.image.as_ref())
    }
    fn close(self) -> io::Result<()> {
        done(self.finish()?)
    }
}

impl FormatWriter for ErasedWriter {
    fn open(location: &Arc<dyn OutputLocation>, doc: &DocumentMeta) -> io::Result<Option<Self>> {
        ErasedWriter::new(Arc::clone(location), &doc.stem, &doc.source, &doc.info).map(Some)
    }
    fn write_page(&mut self, page: &PageResult) -> io::Result<()> {
        self.page(&page.outcome, page.erased.as_ref())
    }
    fn close(self) -> io::Result<()> {
        self.finish()
    }
}

/// Figure crops, `images/<page>_<n>.jpg`.
pub struct FigureCrops {
    location: Arc<dyn OutputLocation>,
}

impl PageSink for FigureCrops {
    fn begin(&mut self, _doc: &DocumentMeta) -> Result<(), SinkError> {
        self.location.claim_dir(IMAGES_DIR);
        Ok(())
    }

    /// Writes each crop under the name the worker gave, its file name only, so nothing is
    /// written outside `images/`.
    fn page(&mut self, page: &PageResult) -> Result<(), SinkError> {
        for f in &page.figures {
            let Some(name) = Path::new(&f.name).file_name().and_then(|n| n.to_str()) else {
                continue;
            };
            let mut out = self.location.create(&format!("{IMAGES_DIR}/{name}"))?;
            out.write_all(&f.jpeg)?;
            out.flush()?;
        }
        Ok(())
    }

    fn finish(&mut self) -> Result<Vec<PathBuf>, SinkError> {
        Ok(Vec::new())
    }
}

impl FigureCrops {
    /// Crops written into `location`.
    pub fn new(location: Arc<dyn OutputLocation>) -> Self {
        FigureCrops { location }
    }
}
