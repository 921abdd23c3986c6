//! Documents of any length in flat memory: pages are loaded through *views* of
//! [`VIEW_PAGES`] pages each (see [`crate::raw`] for why and how).

use std::fs::File;
use std::path::{Path, PathBuf};

use pagemill_core::layout::blank::Blankness;
use pagemill_core::layout::RawPage;
use pagemill_core::model::DocInfo;

use pagemill_core::BBox;

use crate::figures::RgbImage;
use crate::raw::PageTree;
use crate::render::{GrayPage, RenderOptions};
use crate::source::CustomSource;
use crate::{Document, Engine, PdfError};

/// Pages per view. Within a view PDFium still keeps every page dictionary (and the object
/// streams holding them) up to the page loaded, and each view costs a parse of the
/// cross-reference table. Measured on R's reference manual (BENCHMARKS.md): 64 keeps the
/// peak within 3 % of a 10-page run for 1.3× the CPU of 256-page views, which drift to +12 %.
pub const VIEW_PAGES: u32 = 64;

/// Most pages a document may have for views (the page list costs 8 bytes a page).
const MAX_VIEW_PAGES: usize = 4 << 20;

/// A view: a PDFium document over original bytes plus an update naming a window of pages.
struct ViewDocument<'e> {
    window: u32,
    doc: Document<'e>,
}

enum Tree {
    NotRead,
    Ready(PageTree),
    /// The structure could not be read; every page goes through the whole document.
    Unavailable,
}

/// An open document that loads far pages through views.
pub struct PagedDocument<'e> {
    engine: &'e Engine,
    path: PathBuf,
    password: Option<String>,
    /// The document opened as a whole: for small files, and as the fallback. Closed while
    /// views are in use, because each open document holds PDFium's cross-reference map
    /// (~60 bytes an object: 3.6 MB for the 59,000 objects of R's reference manual).
    whole: Option<Document<'e>>,
    info: DocInfo,
    pages: u32,
    view_pages: u32,
    tree: Tree,
    view: Option<ViewDocument<'e>>,
}

impl<'e> PagedDocument<'e> {
    /// Opens `path`. Views are prepared lazily, when a page past the first window is asked.
    pub fn open(engine: &'e Engine, path: &Path, password: Option<&str>) -> Result<Self, PdfError> {
        Self::open_with_views(engine, path, password, VIEW_PAGES)
    }

    /// Opens `path` with views of `view_pages` pages (tests use small views on small files).
    pub fn open_with_views(
        engine: &'e Engine,
        path: &Path,
        password: Option<&str>,
        view_pages: u32,
    ) -> Result<Self, PdfError> {
        let whole = engine.open(path, password)?;
        let pages = whole.page_count();
        let info = whole.info();
        Ok(PagedDocument {
            engine,
            path: path.to_path_buf(),
            password: password.map(str::to_string),
            whole: Some(whole),
            info,
            pages,
            view_pages: view_pages.max(1),
            tree: Tree::NotRead,
            view: None,
        })
    }

    /// Page count, version and title.
    pub fn info(&self) -> DocInfo {
        self.info.clone()
    }

    /// Number of pages.
    pub fn page_count(&self) -> u32 {
        self.pages
    }

    /// Whether pages past the first window are read through views (false when the file's
    /// structure is left to PDFium's repair, or the file is encrypted).
    pub fn uses_views(&mut self) -> bool {
        self.ensure_tree();
        matches!(self.tree, Tree::Ready(_))
    }

    /// Extracts the text layer of page `index` (0-based).
    pub fn extract_page(&mut self, index: u32) -> Result<RawPage, PdfError> {
        let (doc, local) = self.document_for(index)?;
        let mut page = doc.extract_page(local)?;
        page.index = index;
        Ok(page)
    }

    /// Renders page `index` (0-based) for OCR; see [`Document::render_gray`].
    pub fn render_gray(
        &mut self,
        index: u32,
        dpi: u32,
        options: &RenderOptions,
    ) -> Result<GrayPage, PdfError> {
        let (doc, local) = self.document_for(index)?;
        doc.render_gray(local, dpi, options).map_err(|e| match e {
            PdfError::Page { message, .. } => PdfError::Page { index, message },
            other => other,
        })
    }

    /// Whether page `index` (0-based) shows ink; see [`Document::page_has_ink`].
    pub fn page_has_ink(&mut self, index: u32) -> Result<bool, PdfError> {
        let (doc, local) = self.document_for(index)?;
        doc.page_has_ink(local).map_err(|e| match e {
            PdfError::Page { message, .. } => PdfError::Page { index, message },
            other => other,
        })
    }

    /// Whether the page `raw` (from [`PagedDocument::extract_page`]) has nothing to read;
    /// see [`Document::page_is_blank`].
    pub fn page_is_blank(&mut self, raw: &RawPage) -> Result<bool, PdfError> {
        Ok(match raw.blankness() {
            Blankness::Blank => true,
            Blankness::NotBlank => false,
            Blankness::NeedsRender => !self.page_has_ink(raw.index)?,
        })
    }

    /// Renders a region of page `index` in colour; see [`Document::render_region`].
    pub fn render_region(
        &mut self,
        index: u32,
        region: BBox,
        dpi: f32,
        max_pixels: u64,
    ) -> Result<RgbImage, PdfError> {
        let (doc, local) = self.document_for(index)?;
        doc.render_region(local, region, dpi, max_pixels)
            .map_err(|e| match e {
                PdfError::Page { message, .. } => PdfError::Page { index, message },
                other => other,
            })
    }

    /// The open document holding page `index`, and the page's index in it.
    pub(crate) fn document_for(&mut self, index: u32) -> Result<(&Document<'e>, u32), PdfError> {
        // A document that fits one view is read whole; so are encrypted ones (views
        // would have to decrypt object streams, which the structure reader leaves alone).
        if self.pages <= self.view_pages || self.password.is_some() {
            return Ok((self.whole()?, index));
        }
        let window = index / self.view_pages;
        if self.view.as_ref().map(|v| v.window) != Some(window) {
            self.view = None;
            self.view = self.open_view(window);
        }
        if self.view.is_some() {
            self.whole = None;
        }
        if self.view.is_none() {
            return Ok((self.whole()?, index));
        }
        let local = index - window * self.view_pages;
        match &self.view {
            Some(v) => Ok((&v.doc, local)),
            None => Err(PdfError::Page {
                index,
                message: "no open view".into(),
            }),
        }
    }

    /// The engine the document is open in.
    pub(crate) fn engine(&self) -> &'e Engine {
        self.engine
    }

    /// The whole document (closing any view), for what views do not carry (the outline).
    pub(crate) fn whole_document(&mut self) -> Result<&Document<'e>, PdfError> {
        self.view = None;
        self.whole()
    }

    /// The whole document, reopened if it was closed for views.
    fn whole(&mut self) -> Result<&Document<'e>, PdfError> {
        if self.whole.is_none() {
            self.whole = Some(self.engine.open(&self.path, self.password.as_deref())?);
        }
        self.whole.as_ref().ok_or_else(|| PdfError::Open {
            message: format!("{}: cannot reopen", self.path.display()),
        })
    }

    fn ensure_tree(&mut self) {
        if matches!(self.tree, Tree::NotRead) {
            self.tree = match PageTree::read(&self.path, MAX_VIEW_PAGES) {
                Ok(t) if t.pages().len() == self.pages as usize => Tree::Ready(t),
                Ok(t) => {
                    tracing::debug!(
                        path = %self.path.display(),
                        found = t.pages().len(),
                        pdfium = self.pages,
                        "page trees disagree; no views"
                    );
                    Tree::Unavailable
                }
                Err(e) => {
                    tracing::debug!(path = %self.path.display(), error = %e, "no views");
                    Tree::Unavailable
                }
            };
        }
    }

    fn open_view(&mut self, window: u32) -> Option<ViewDocument<'e>> {
        self.ensure_tree();
        let Tree::Ready(tree) = &self.tree else {
            return None;
        };
        let start = (window * self.view_pages) as usize;
        let end = (start + self.view_pages as usize).min(tree.pages().len());
        let pages = tree.pages().get(start..end)?;
        let file = File::open(&self.path).ok()?;
        let file_len = file.metadata().ok()?.len();
        let tail = match tree.view_update(pages, file_len) {
            Ok(t) => t,
            Err(e) => {
                tracing::debug!(error = %e, "cannot build a view");
                self.tree = Tree::Unavailable;
                return None;
            }
        };
        let doc = self
            .engine
            .open_custom(CustomSource::new(file, file_len, tail), None)?;
        if doc.page_count() as usize != pages.len() {
            tracing::debug!(window, "view has the wrong page count; no views");
            self.tree = Tree::Unavailable;
            return None;
        }
        Some(ViewDocument { window, doc })
    }
}
