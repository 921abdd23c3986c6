//! The outputs of `pagemill erase-text`: the document without its text, and a report of
//! where text was erased.
//!
//! - `IN.erased.png` / `IN.erased.jpg` for a one-page image input (PNG for every format
//!   but JPEG, so the pixels the erasure did not touch are exactly the input's);
//! - `IN.erased.pdf` for PDF inputs and multi-page images: a page per input page, the
//!   same size in points, holding the erased page image; streamed like the layout PDF;
//! - `IN.erased.json`: per page, the boxes pixels were changed in, the pixels replaced
//!   and the words erased by each reading (schema `pagemill.erased/1`).

use std::io::{self, Write};
use std::sync::Arc;

use pagemill_core::model::DocInfo;
use pagemill_core::result::{erased_as_pdf, ErasedOutput, ErasedPage};
use pagemill_core::PageOutcome;
use serde_json::json;

use crate::output::OutputLocation;
use crate::picture_pdf::{PageReport, PicturePdf};

/// Schema name and version of `IN.erased.json`.
pub const ERASED_SCHEMA: &str = "pagemill.erased/1";

/// What a page without its erased picture says.
const MISSING: &str = "not erased";

/// Where the erased pages go.
enum Pages {
    /// One image file, written when its page arrives.
    File,
    /// A PDF, a page at a time.
    Pdf(PicturePdf),
}

/// Writes the erased document and its report.
pub struct ErasedWriter {
    location: Arc<dyn OutputLocation>,
    stem: String,
    pages: Pages,
    report: PageReport,
}

impl ErasedWriter {
    /// Starts the outputs in `location` for document `stem` (`source` is named in the
    /// report).
    pub fn new(
        location: Arc<dyn OutputLocation>,
        stem: &str,
        source: &str,
        info: &DocInfo,
    ) -> io::Result<Self> {
        let pages = if erased_as_pdf(info.kind, info.page_count) {
            Pages::Pdf(PicturePdf::create(
                &location,
                &format!("{stem}.erased.pdf"),
            )?)
        } else {
            Pages::File
        };
        let report = PageReport::create(
            &location,
            &format!("{stem}.erased.json"),
            ERASED_SCHEMA,
            source,
            "",
        )?;
        Ok(ErasedWriter {
            location,
            stem: stem.to_string(),
            pages,
            report,
        })
    }

    /// Writes one page: its erased image (a marked blank page in the PDF when it failed)
    /// and its line of the report.
    pub fn page(&mut self, outcome: &PageOutcome, erased: Option<&ErasedPage>) -> io::Result<()> {
        self.report_page(outcome, erased)?;
        match &mut self.pages {
            Pages::File => {
                let (ext, data) = match erased.map(|e| &e.output) {
                    Some(ErasedOutput::Png { data }) => ("erased.png", data),
                    Some(ErasedOutput::Jpeg { data }) => ("erased.jpg", data),
                    _ => return Ok(()),
                };
                let mut out = self.location.create(&format!("{}.{ext}", self.stem))?;
                out.write_all(data)?;
                out.flush()?;
                Ok(())
            }
            Pages::Pdf(pdf) => match erased.map(|e| &e.output) {
                Some(ErasedOutput::PdfPage {
                    image,
                    width_pt,
                    height_pt,
                }) => pdf.picture_page((*width_pt, *height_pt), |file, id| {
                    file.put_image(id, image)
                }),
                _ => pdf.marked_page(outcome, MISSING),
            },
        }
    }

    fn report_page(
        &mut self,
        outcome: &PageOutcome,
        erased: Option<&ErasedPage>,
    ) -> io::Result<()> {
        let line = match (outcome, erased) {
            (PageOutcome::Ok(p), Some(e)) => json!({
                "index": p.index,
                "status": "ok",
                "width": e.width,
                "height": e.height,
                "pixels": e.pixels,
                "words": e.words,
                "regions": e.regions,
            }),
            _ => PageReport::failure(outcome, "no erased image came back for this page"),
        };
        self.report.line(&line)
    }

    /// Completes the files.
    pub fn finish(self) -> io::Result<()> {
        self.report.finish()?;
        if let Pages::Pdf(pdf) = self.pages {
            pdf.finish()?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pagemill_core::model::DocKind;
    use pagemill_core::model::{FailureReason, Page, PageFailure};
    use pagemill_core::result::{ImageColour, ImageEncoding, PageImage};

    /// A local output directory `doc/` in a temporary directory (kept alive by the first).
    fn location() -> (
        tempfile::TempDir,
        std::path::PathBuf,
        Arc<crate::output::LocalDir>,
    ) {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("doc");
        let loc = Arc::new(crate::output::LocalDir::create(&dir).unwrap());
        (tmp, dir, loc)
    }

    fn info(kind: DocKind, page_count: u32) -> DocInfo {
        DocInfo {
            page_count,
            pdf_version: None,
            title: None,
            kind,
        }
    }

    #[test]
    fn a_pdf_keeps_every_page_and_the_report_is_json() {
        let (_keep, dir, loc) = location();
        let mut w =
            ErasedWriter::new(loc.clone(), "doc", "doc.pdf", &info(DocKind::Pdf, 2)).unwrap();
        let erased = ErasedPage {
            width: 2,
            height: 1,
            output: ErasedOutput::PdfPage {
                image: PageImage {
                    width: 2,
                    height: 1,
                    encoding: ImageEncoding::Flate,
                    colour: Some(ImageColour::Gray),
                    data: pagemill_core::result::deflate(&[255, 0]),
                },
                width_pt: 144.0,
                height_pt: 72.0,
            },
            regions: vec![[1, 0, 2, 1]],
            pixels: 1,
            words: vec![1, 0],
        };
        w.page(
            &PageOutcome::Ok(Page::new(0, 144.0, 72.0, Vec::new())),
            Some(&erased),
        )
        .unwrap();
        w.page(
            &PageOutcome::Failed(PageFailure {
                index: 1,
                reason: FailureReason::Timeout,
                message: "slow".into(),
            }),
            None,
        )
        .unwrap();
        w.finish().unwrap();
        let names = loc.commit().unwrap();
        assert_eq!(
            names,
            vec![dir.join("doc.erased.pdf"), dir.join("doc.erased.json")]
        );
        let pdf = std::fs::read(dir.join("doc.erased.pdf")).unwrap();
        let text = String::from_utf8_lossy(&pdf);
        assert!(text.contains("/Count 2"));
        assert!(text.contains("(page 2 failed: timeout) Tj"));
        let report: serde_json::Value =
            serde_json::from_slice(&std::fs::read(dir.join("doc.erased.json")).unwrap()).unwrap();
        assert_eq!(report["schema"], ERASED_SCHEMA);
        assert_eq!(report["pages"][0]["regions"][0], json!([1, 0, 2, 1]));
        assert_eq!(report["pages"][1]["reason"], "timeout");
    }

    #[test]
    fn a_one_page_image_becomes_a_file_of_its_kind() {
        let (_keep, dir, loc) = location();
        let mut w =
            ErasedWriter::new(loc.clone(), "scan", "scan.png", &info(DocKind::Image, 1)).unwrap();
        let erased = ErasedPage {
            width: 1,
            height: 1,
            output: ErasedOutput::Png {
                data: b"\x89PNG".to_vec(),
            },
            regions: Vec::new(),
            pixels: 0,
            words: vec![0],
        };
        w.page(
            &PageOutcome::Ok(Page::new(0, 1.0, 1.0, Vec::new())),
            Some(&erased),
        )
        .unwrap();
        w.finish().unwrap();
        let names = loc.commit().unwrap();
        assert_eq!(
            names,
            vec![dir.join("scan.erased.json"), dir.join("scan.erased.png")]
        );
        assert_eq!(
            std::fs::read(dir.join("scan.erased.png")).unwrap(),
            b"\x89PNG"
        );
    }
}
