//! The set of sinks for one document, written under a temporary directory and moved into
//! place when the document is complete.

use std::fs::{self, File};
use std::io::{self, BufWriter};
use std::path::{Path, PathBuf};
use std::str::FromStr;

use pagemill_core::model::{DocInfo, DocKind};
use pagemill_core::result::FigureImage;
use pagemill_core::sink::{DocumentMeta, PageSink, SinkError};
use pagemill_core::{PageOutcome, PageResult};

use crate::erased::ErasedWriter;
use crate::searchable_pdf::{SearchableError, SearchablePdfWriter};
use crate::{DetWriter, DocumentSummary, HocrWriter, JsonWriter, LayoutPdfWriter, MarkdownWriter};

/// Name of the per-document temporary directory (under `OUT/IN/`).
pub const TMP_DIR: &str = ".pagemill-tmp";
/// Where figure crops go, under the document's directory.
pub const IMAGES_DIR: &str = "images";

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
        }
    }

    /// Whether any format is on.
    pub fn any(&self) -> bool {
        let f = self;
        f.markdown || f.json || f.det || f.hocr || f.layouts || f.searchable || f.images || f.erased
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

type Out = BufWriter<File>;

/// The sinks of one document.
pub struct DocumentSinks {
    dir: PathBuf,
    tmp: PathBuf,
    stem: String,
    markdown: Option<MarkdownWriter<Out>>,
    det: Option<DetWriter<Out>>,
    json: Option<JsonWriter<Out>>,
    hocr: Option<HocrWriter<Out>>,
    layouts: Option<LayoutPdfWriter<Out>>,
    searchable: Option<SearchablePdfWriter<Out>>,
    erased: Option<ErasedWriter>,
    /// Figure crops are written (`images/` under the temporary directory).
    images: bool,
    /// Crops written so far.
    figures_written: u32,
    summary: DocumentSummary,
    finished: bool,
}

/// Flushes a finished file to disk before it is renamed into place.
pub(crate) fn sync(out: Out) -> io::Result<()> {
    out.into_inner().map_err(|e| e.into_error())?.sync_data()
}

fn create(path: &Path) -> io::Result<Out> {
    Ok(BufWriter::with_capacity(64 * 1024, File::create(path)?))
}

impl DocumentSinks {
    /// Prepares `dir` (`OUT/IN/`) and starts every selected file under `dir/.pagemill-tmp/`.
    /// Leftovers of an earlier run that was killed are removed first.
    ///
    /// A searchable PDF that cannot be made for this input (an image, an encrypted or
    /// damaged PDF) is left out with a warning; the other files are still written.
    pub fn create(
        dir: &Path,
        stem: &str,
        input: &Path,
        info: &DocInfo,
        formats: Formats,
        pages: u32,
    ) -> io::Result<Self> {
        let source = input.display().to_string();
        let tmp = dir.join(TMP_DIR);
        if tmp.exists() {
            fs::remove_dir_all(&tmp)?;
        }
        fs::create_dir_all(&tmp)?;
        let mut s = DocumentSinks {
            dir: dir.to_path_buf(),
            tmp: tmp.clone(),
            stem: stem.to_string(),
            markdown: None,
            det: None,
            json: None,
            hocr: None,
            layouts: None,
            searchable: None,
            erased: None,
            images: formats.images,
            figures_written: 0,
            summary: DocumentSummary {
                pages,
                ..Default::default()
            },
            finished: false,
        };
        if formats.markdown {
            s.markdown = Some(MarkdownWriter::new(create(&s.tmp_path("md"))?));
        }
        if formats.det {
            s.det = Some(DetWriter::new(create(&s.tmp_path("det.md"))?));
        }
        if formats.json {
            s.json = Some(JsonWriter::new(
                create(&s.tmp_path("json"))?,
                &source,
                info,
            )?);
        }
        if formats.hocr {
            s.hocr = Some(HocrWriter::new(create(&s.tmp_path("hocr"))?, &source)?);
        }
        if formats.layouts {
            s.layouts = Some(LayoutPdfWriter::new(create(&s.tmp_path("layouts.pdf"))?)?);
        }
        if formats.searchable {
            s.searchable = s.searchable_writer(input, info)?;
        }
        if formats.erased {
            s.erased = Some(ErasedWriter::new(&s.tmp, stem, &source, info)?);
        }
        Ok(s)
    }

    fn searchable_writer(
        &self,
        input: &Path,
        info: &DocInfo,
    ) -> io::Result<Option<SearchablePdfWriter<Out>>> {
        if info.kind == DocKind::Image {
            return SearchablePdfWriter::for_images(create(&self.tmp_path("ocr.pdf"))?).map(Some);
        }
        match SearchablePdfWriter::for_pdf(input, create(&self.tmp_path("ocr.pdf"))?) {
            Ok(w) => Ok(Some(w)),
            Err(SearchableError::Io(e)) => Err(e),
            Err(e) => {
                tracing::warn!("{}: {e}", input.display());
                Ok(None)
            }
        }
    }

    fn tmp_path(&self, ext: &str) -> PathBuf {
        self.tmp.join(format!("{}.{ext}", self.stem))
    }

    /// Writes one page to every sink, with the pictures the PDF outputs need.
    pub fn page(&mut self, result: &PageResult) -> io::Result<()> {
        let (outcome, pictures) = (&result.outcome, result);
        match outcome {
            PageOutcome::Ok(_) => self.summary.ok += 1,
            PageOutcome::Failed(_) => self.summary.failed += 1,
        }
        if let Some(w) = &mut self.markdown {
            w.page(outcome)?;
        }
        if let Some(w) = &mut self.det {
            w.page(outcome)?;
        }
        if let Some(w) = &mut self.json {
            w.page(outcome)?;
        }
        if let Some(w) = &mut self.hocr {
            w.page(outcome)?;
        }
        if let Some(w) = &mut self.layouts {
            w.page(outcome, pictures.preview.as_ref())?;
        }
        if let Some(w) = &mut self.searchable {
            w.page(outcome, pictures.image.as_ref())?;
        }
        if let Some(w) = &mut self.erased {
            w.page(outcome, pictures.erased.as_ref())?;
        }
        if self.images {
            for f in &pictures.figures {
                self.write_figure(f)?;
            }
        }
        Ok(())
    }

    /// Writes one crop as `images/<file>`; only the file name the worker gave is used, so
    /// nothing is written outside the directory.
    fn write_figure(&mut self, f: &FigureImage) -> io::Result<()> {
        let Some(name) = Path::new(&f.name).file_name() else {
            return Ok(());
        };
        let dir = self.tmp.join(IMAGES_DIR);
        if self.figures_written == 0 {
            fs::create_dir_all(&dir)?;
        }
        fs::write(dir.join(name), &f.jpeg)?;
        self.figures_written += 1;
        Ok(())
    }

    /// Counts so far.
    pub fn summary(&self) -> &DocumentSummary {
        &self.summary
    }

    /// Completes every file, moves them into `OUT/IN/` and removes the temporary directory.
    /// Returns the paths written.
    pub fn finish(mut self) -> io::Result<Vec<PathBuf>> {
        self.finish_files()
    }

    fn finish_files(&mut self) -> io::Result<Vec<PathBuf>> {
        let mut done = Vec::new();
        if let Some(w) = self.markdown.take() {
            sync(w.finish()?)?;
            done.push("md");
        }
        if let Some(w) = self.det.take() {
            sync(w.finish()?)?;
            done.push("det.md");
        }
        if let Some(w) = self.json.take() {
            sync(w.finish(&self.summary)?)?;
            done.push("json");
        }
        if let Some(w) = self.hocr.take() {
            sync(w.finish()?)?;
            done.push("hocr");
        }
        if let Some(w) = self.layouts.take() {
            sync(w.finish()?)?;
            done.push("layouts.pdf");
        }
        if let Some(w) = self.searchable.take() {
            sync(w.finish()?)?;
            done.push("ocr.pdf");
        }
        if let Some(w) = self.erased.take() {
            done.extend(w.finish()?);
        }
        let mut paths = Vec::new();
        if self.images {
            // Crops of an earlier run would be referenced by nothing.
            let to = self.dir.join(IMAGES_DIR);
            if to.exists() {
                fs::remove_dir_all(&to)?;
            }
            if self.figures_written > 0 {
                fs::rename(self.tmp.join(IMAGES_DIR), &to)?;
                paths.push(to);
            }
        }
        for ext in done {
            let to = self.dir.join(format!("{}.{ext}", self.stem));
            fs::rename(self.tmp_path(ext), &to)?;
            paths.push(to);
        }
        self.finished = true;
        fs::remove_dir_all(&self.tmp)?;
        Ok(paths)
    }
}

/// The file outputs of one document as one [`PageSink`]: the engine's built-in sink.
/// (Created with [`DocumentSinks::create`], which is where the files are started, so
/// `begin` has nothing left to do.)
impl PageSink for DocumentSinks {
    fn begin(&mut self, _doc: &DocumentMeta) -> Result<(), SinkError> {
        Ok(())
    }

    fn page(&mut self, page: &PageResult) -> Result<(), SinkError> {
        DocumentSinks::page(self, page).map_err(SinkError::from)
    }

    fn finish(&mut self) -> Result<Vec<PathBuf>, SinkError> {
        self.finish_files().map_err(SinkError::from)
    }

    fn abort(&mut self) {
        self.discard();
    }
}

impl DocumentSinks {
    /// Drops every file of an unfinished document: it leaves no partial files behind.
    fn discard(&mut self) {
        if !self.finished {
            self.finished = true;
            self.markdown = None;
            self.det = None;
            self.json = None;
            self.hocr = None;
            self.layouts = None;
            self.searchable = None;
            self.erased = None;
            let _ = fs::remove_dir_all(&self.tmp);
            // The document's own directory too, when nothing else is in it.
            let _ = fs::remove_dir(&self.dir);
        }
    }
}

impl Drop for DocumentSinks {
    /// A document that did not finish leaves no partial files behind.
    fn drop(&mut self) {
        self.discard();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pagemill_core::model::{FailureReason, PageFailure};

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
        DocumentSinks::create(dir, "doc", input, &info(), Formats::default(), 1).unwrap()
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
