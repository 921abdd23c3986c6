//! The file outputs of one document: the formats chosen ([`Formats`]), each a
//! [`PageSink`], all writing into one [`LocalDir`] that is committed when every one of
//! them has finished.

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;

use pagemill_core::model::DocInfo;
use pagemill_core::sink::{DocumentMeta, PageSink, SinkError};
use pagemill_core::PageResult;

use crate::continuation::TableContinuity;
use crate::file_sink::{FigureCrops, FileSink, JsonFile};
use crate::output::{LocalDir, OutputFile, OutputLocation};
use crate::upscaled::UpscaledSink;
use crate::{
    DetWriter, ErasedWriter, HocrWriter, LayoutPdfWriter, MarkdownWriter, SearchablePdfWriter,
    TableForm,
};

/// One output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// `IN.md`
    Markdown,
    /// `IN.json`
    Json,
    /// `IN.det.md`
    Det,
    /// `IN.hocr`
    Hocr,
    /// `IN.layouts.pdf`
    Layouts,
    /// `IN.ocr.pdf`
    Searchable,
    /// `IN.erased.{png,jpg,pdf}` and `IN.erased.json`
    Erased,
    /// `images/<page>_<n>.jpg`
    Images,
}

/// Which formats to write.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct Formats {
    /// Write `IN.md`.
    pub markdown: bool,
    /// Write `IN.json`.
    pub json: bool,
    /// Write `IN.det.md`.
    pub det: bool,
    /// Write `IN.hocr`.
    pub hocr: bool,
    /// Write `IN.layouts.pdf` (needs page previews from the workers).
    pub layouts: bool,
    /// Write `IN.ocr.pdf`, the input with an invisible text layer on its OCR pages.
    pub searchable: bool,
    /// Write figure crops into `images/` (needs crops from the workers).
    pub images: bool,
    /// Write the document with its text erased (`pagemill erase-text`; needs erased
    /// pages from the workers).
    pub erased: bool,
    /// Write the pages upscaled by this factor (`pagemill upscale`: `IN.xN.png` or
    /// `IN.xN.pdf`, and `IN.upscale.json`; needs upscaled pages from the workers).
    pub upscaled: Option<u8>,
    /// The form of tables in `IN.md`.
    pub tables: TableForm,
}

impl Default for Formats {
    fn default() -> Self {
        Formats {
            markdown: true,
            json: true,
            det: true,
            hocr: false,
            layouts: true,
            searchable: false,
            images: true,
            erased: false,
            upscaled: None,
            tables: TableForm::Auto,
        }
    }
}

impl Formats {
    /// No format at all (a starting point to switch some on).
    pub fn none() -> Self {
        Formats {
            markdown: false,
            json: false,
            det: false,
            hocr: false,
            layouts: false,
            searchable: false,
            images: false,
            erased: false,
            upscaled: None,
            tables: TableForm::Auto,
        }
    }

    /// Whether any format is on.
    pub fn any(&self) -> bool {
        let f = self;
        f.markdown
            || f.json
            || f.det
            || f.hocr
            || f.layouts
            || f.searchable
            || f.images
            || f.erased
            || f.upscaled.is_some()
    }
}

impl FromStr for Formats {
    type Err = String;
    /// Parses `md,json,det,hocr` (any subset, any order).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut f = Formats::none();
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            match part {
                "md" | "markdown" => f.markdown = true,
                "json" => f.json = true,
                "det" => f.det = true,
                "hocr" => f.hocr = true,
                "layouts" | "layout-pdf" => f.layouts = true,
                "ocr.pdf" | "searchable" => f.searchable = true,
                "images" | "figures" => f.images = true,
                "erased" => f.erased = true,
                other => {
                    return Err(format!(
                        "unknown format `{other}`: choose from {FORMAT_NAMES}"
                    ))
                }
            }
        }
        if !f.any() {
            return Err(format!("no format given: choose from {FORMAT_NAMES}"));
        }
        Ok(f)
    }
}

/// The names `--format` takes.
const FORMAT_NAMES: &str = "md, json, det, hocr, layouts, searchable, images, erased";

/// The file outputs of one document, as one [`PageSink`]: the engine's built-in sink.
pub struct DocumentSinks {
    location: Arc<LocalDir>,
    sinks: Vec<Box<dyn PageSink>>,
    tables: TableContinuity,
}

impl DocumentSinks {
    /// Prepares `dir` (`OUT/IN/`) and starts every selected format under
    /// `dir/.pagemill-tmp/` for the document `input` (named `stem`, shown as `source`). Leftovers of an
    /// earlier run that was killed are removed first.
    ///
    /// A searchable PDF that cannot be made for this input (an encrypted or damaged PDF)
    /// is left out with a warning; the other files are still written.
    pub fn create(
        dir: &Path,
        stem: &str,
        source: &str,
        input: &Path,
        info: &DocInfo,
        formats: Formats,
        pages: u32,
    ) -> Result<Self, SinkError> {
        let location = Arc::new(LocalDir::create(dir)?);
        let shared: Arc<dyn OutputLocation> = location.clone();
        let mut sinks: Vec<Box<dyn PageSink>> = Vec::new();
        let on = [
            (formats.markdown, Format::Markdown),
            (formats.det, Format::Det),
            (formats.json, Format::Json),
            (formats.hocr, Format::Hocr),
            (formats.layouts, Format::Layouts),
            (formats.searchable, Format::Searchable),
            (formats.erased, Format::Erased),
            (formats.images, Format::Images),
        ];
        for (_, format) in on.into_iter().filter(|(on, _)| *on) {
            sinks.push(format.sink(&shared, formats.tables));
        }
        if let Some(scale) = formats.upscaled {
            sinks.push(Box::new(UpscaledSink::new(shared.clone(), scale)));
        }
        let meta = DocumentMeta {
            doc: 0,
            source: source.to_string(),
            path: input.to_path_buf(),
            stem: stem.to_string(),
            info: info.clone(),
            pages,
        };
        for s in &mut sinks {
            s.begin(&meta)?;
        }
        Ok(DocumentSinks {
            location,
            sinks,
            tables: TableContinuity::default(),
        })
    }

    /// Writes one page to every format.
    pub fn page(&mut self, result: &PageResult) -> Result<(), SinkError> {
        let marked = self.tables.mark(result);
        let result = marked.as_ref().unwrap_or(result);
        for s in &mut self.sinks {
            s.page(result)?;
        }
        Ok(())
    }

    /// Completes every file, moves them into `OUT/IN/` and removes the temporary directory.
    /// Returns the paths written.
    pub fn finish(mut self) -> Result<Vec<PathBuf>, SinkError> {
        self.finish_files()
    }

    fn finish_files(&mut self) -> Result<Vec<PathBuf>, SinkError> {
        for s in &mut self.sinks {
            s.finish()?;
        }
        Ok(self.location.commit()?)
    }
}

impl Format {
    /// This format's sink, writing into `location`.
    fn sink(self, location: &Arc<dyn OutputLocation>, tables: TableForm) -> Box<dyn PageSink> {
        let l = Arc::clone(location);
        match self {
            Format::Markdown => Box::new(FileSink::<MarkdownWriter<OutputFile>>::configured(
                l,
                move |w| w.with_table_form(tables),
            )),
            Format::Det => Box::new(FileSink::<DetWriter<OutputFile>>::new(l)),
            Format::Json => Box::new(FileSink::<JsonFile>::new(l)),
            Format::Hocr => Box::new(FileSink::<HocrWriter<OutputFile>>::new(l)),
            Format::Layouts => Box::new(FileSink::<LayoutPdfWriter<OutputFile>>::new(l)),
            Format::Searchable => Box::new(FileSink::<SearchablePdfWriter<OutputFile>>::new(l)),
            Format::Erased => Box::new(FileSink::<ErasedWriter>::new(l)),
            Format::Images => Box::new(FigureCrops::new(l)),
        }
    }
}

impl PageSink for DocumentSinks {
    /// Nothing to do: [`DocumentSinks::create`] began every format.
    fn begin(&mut self, _doc: &DocumentMeta) -> Result<(), SinkError> {
        Ok(())
    }

    fn page(&mut self, page: &PageResult) -> Result<(), SinkError> {
        DocumentSinks::page(self, page)
    }

    fn finish(&mut self) -> Result<Vec<PathBuf>, SinkError> {
        self.finish_files()
    }

    fn abort(&mut self) {
        for s in &mut self.sinks {
            s.abort();
        }
        self.location.discard();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::output::TMP_DIR;
    use pagemill_core::model::{FailureReason, PageFailure};
    use pagemill_core::PageOutcome;

    fn info() -> DocInfo {
        DocInfo {
            page_count: 1,
            pdf_version: None,
            title: None,
            kind: Default::default(),
        }
    }

    /// The default sinks of a one-page `doc.pdf` under `dir`.
    fn sinks(dir: &Path) -> DocumentSinks {
        let input = Path::new("doc.pdf");
        DocumentSinks::create(dir, "doc", "doc.pdf", input, &info(), Formats::default(), 1).unwrap()
    }

    #[test]
    fn formats_parse() {
        assert_eq!(
            "md".parse::<Formats>().unwrap(),
            Formats {
                markdown: true,
                json: false,
                det: false,
                hocr: false,
                layouts: false,
                searchable: false,
                images: false,
                erased: false,
                upscaled: None,
                tables: TableForm::Auto,
            }
        );
        assert!("md,hocr".parse::<Formats>().unwrap().hocr);
        assert!("md,pdf".parse::<Formats>().is_err());
        assert!("".parse::<Formats>().is_err());
    }

    #[test]
    fn files_appear_only_when_finished_and_tmp_is_removed() {
        let out = tempfile::tempdir().unwrap();
        let dir = out.path().join("doc");
        let mut s = sinks(&dir);
        s.page(&PageResult::bare(PageOutcome::Failed(PageFailure {
            index: 0,
            reason: FailureReason::Invalid,
            message: "m".into(),
        })))
        .unwrap();
        assert!(!dir.join("doc.md").exists(), "nothing final before finish");
        let paths = s.finish().unwrap();
        assert_eq!(paths.len(), 4, "md, json, det and the layout PDF");
        assert!(paths.iter().all(|p| p.exists()));
        assert!(!dir.join(TMP_DIR).exists());
    }

    #[test]
    fn dropped_unfinished_sinks_leave_nothing() {
        let out = tempfile::tempdir().unwrap();
        let dir = out.path().join("doc");
        let s = sinks(&dir);
        drop(s);
        assert!(!dir.join(TMP_DIR).exists());
        assert!(!dir.exists(), "an empty document directory is removed too");
    }
}
