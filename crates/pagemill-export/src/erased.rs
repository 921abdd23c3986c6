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
use pdf_writer::{Chunk, Content, Name, Ref};
use serde_json::json;

use crate::output::{OutputFile, OutputLocation};
use crate::pdf_file::{failure_label, PdfFile};

/// Schema name and version of `IN.erased.json`.
pub const ERASED_SCHEMA: &str = "pagemill.erased/1";

const FONT: Ref = Ref::new(3);
/// Objects per page: the page, its content stream, its picture.
const PER_PAGE: i32 = 3;

type Out = OutputFile;

/// Where the erased pages go.
enum Pages {
    /// One image file, written when its page arrives.
    File,
    /// A PDF, a page at a time.
    Pdf { file: PdfFile<Out>, pages: i32 },
}

/// Writes the erased document and its report.
pub struct ErasedWriter {
    location: Arc<dyn OutputLocation>,
    stem: String,
    pages: Pages,
    report: Out,
    reported: u32,
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
        let create = |ext: &str| location.create(&format!("{stem}.{ext}"));
        let pages = if erased_as_pdf(info.kind, info.page_count) {
            let mut file = PdfFile::new(create("erased.pdf")?)?;
            let mut font = Chunk::new();
            font.type1_font(FONT)
                .base_font(Name(b"Helvetica"))
                .encoding_predefined(Name(b"WinAnsiEncoding"));
            file.put(FONT, &font)?;
            Pages::Pdf { file, pages: 0 }
        } else {
            Pages::File
        };
        let mut report = create("erased.json")?;
        write!(
            report,
            "{{\"schema\":{},\"source\":{},\"pages\":[",
            serde_json::to_string(ERASED_SCHEMA)?,
            serde_json::to_string(source)?
        )?;
        Ok(ErasedWriter {
            location,
            stem: stem.to_string(),
            pages,
            report,
            reported: 0,
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
            Pages::Pdf { file, pages } => {
                let base = 4 + *pages * PER_PAGE;
                *pages += 1;
                pdf_page(file, base, outcome, erased)
            }
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
            (PageOutcome::Ok(p), None) => json!({
                "index": p.index,
                "status": "failed",
                "reason": "invalid",
                "message": "no erased image came back for this page",
            }),
            (PageOutcome::Failed(f), _) => json!({
                "index": f.index,
                "status": "failed",
                "reason": f.reason.as_str(),
                "message": f.message,
            }),
        };
        self.report
            .write_all(if self.reported == 0 { b"\n" } else { b",\n" })?;
        serde_json::to_writer(&mut self.report, &line)?;
        self.reported += 1;
        Ok(())
    }

    /// Completes the files.
    pub fn finish(mut self) -> io::Result<()> {
        self.report.write_all(b"\n]}\n")?;
        self.report.flush()?;
        if let Pages::Pdf { file, pages } = self.pages {
            let mut out = file.finish((0..pages).map(|i| Ref::new(4 + i * PER_PAGE)))?;
            out.flush()?;
        }
        Ok(())
    }
}

/// Writes PDF page `base` (content `base + 1`, picture `base + 2`).
fn pdf_page(
    file: &mut PdfFile<Out>,
    base: i32,
    outcome: &PageOutcome,
    erased: Option<&ErasedPage>,
) -> io::Result<()> {
    let (page_id, content_id, image_id) = (Ref::new(base), Ref::new(base + 1), Ref::new(base + 2));
    let picture = erased.and_then(|e| match &e.output {
        ErasedOutput::PdfPage {
            image,
            width_pt,
            height_pt,
        } => Some((image, *width_pt, *height_pt)),
        _ => None,
    });
    let mut content = Content::new();
    let (w, h) = match (picture, outcome) {
        (Some((image, w, h)), _) => {
            content.save_state();
            content.transform([w, 0.0, 0.0, h, 0.0, 0.0]);
            content.x_object(Name(b"Im0"));
            content.restore_state();
            file.put_image(image_id, image)?;
            (w, h)
        }
        (None, outcome) => {
            // A page that failed keeps its place, marked, so pages still line up with
            // the input's.
            let (w, h, label) = match outcome {
                PageOutcome::Ok(p) => (
                    p.width,
                    p.height,
                    format!("page {}: not erased", p.index + 1),
                ),
                PageOutcome::Failed(f) => (
                    612.0,
                    792.0,
                    format!("page {} failed: {}", f.index + 1, f.reason.as_str()),
                ),
            };
            let (w, h) = if w > 0.0 && h > 0.0 {
                (w, h)
            } else {
                (612.0, 792.0)
            };
            failure_label(&mut content, &label, 36.0, h - 50.0);
            (w, h)
        }
    };
    let data = content.finish();
    let mut chunk = Chunk::new();
    chunk.stream(content_id, &data);
    file.put(content_id, &chunk)?;
    file.put_page(
        page_id,
        content_id,
        (w, h),
        (b"F1", FONT),
        picture.map(|_| image_id),
    )
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
