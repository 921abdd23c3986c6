//! What `erase-text` and `upscale` write alike: a PDF holding one picture a page (a page
//! that failed keeps its place, marked), and a JSON report with a line a page.

use std::io::{self, Write};
use std::sync::Arc;

use pagemill_core::PageOutcome;
use pdf_writer::{Chunk, Content, Name, Ref};
use serde_json::Value;

use crate::output::{OutputFile, OutputLocation};
use crate::pdf_file::{failure_label, PdfFile};

const FONT: Ref = Ref::new(3);
/// Objects per page: the page, its content stream, its picture.
const PER_PAGE: i32 = 3;
/// US Letter, for a failed page whose size is unknown.
const LETTER: (f32, f32) = (612.0, 792.0);

/// A PDF of a picture a page, written a page at a time.
pub(crate) struct PicturePdf {
    file: PdfFile<OutputFile>,
    pages: i32,
}

impl PicturePdf {
    /// Starts file `name` in `location`.
    pub(crate) fn create(location: &Arc<dyn OutputLocation>, name: &str) -> io::Result<Self> {
        let mut file = PdfFile::new(location.create(name)?)?;
        let mut font = Chunk::new();
        font.type1_font(FONT)
            .base_font(Name(b"Helvetica"))
            .encoding_predefined(Name(b"WinAnsiEncoding"));
        file.put(FONT, &font)?;
        Ok(PicturePdf { file, pages: 0 })
    }

    /// Adds a page `size` points large whose picture `put_picture` writes as the image
    /// object it is given.
    pub(crate) fn picture_page(
        &mut self,
        (w, h): (f32, f32),
        put_picture: impl FnOnce(&mut PdfFile<OutputFile>, Ref) -> io::Result<()>,
    ) -> io::Result<()> {
        let image = Ref::new(self.next() + 2);
        put_picture(&mut self.file, image)?;
        let mut content = Content::new();
        content.save_state();
        content.transform([w, 0.0, 0.0, h, 0.0, 0.0]);
        content.x_object(Name(b"Im0"));
        content.restore_state();
        self.finish_page((w, h), content, Some(image))
    }

    /// Adds a page for one without a picture, marked: `page N: {missing}` for a page
    /// read but not processed, `page N failed: REASON` for a failed one; the input page's
    /// size when known.
    pub(crate) fn marked_page(&mut self, outcome: &PageOutcome, missing: &str) -> io::Result<()> {
        let (w, h, label) = match outcome {
            PageOutcome::Ok(p) => (
                p.width,
                p.height,
                format!("page {}: {missing}", p.index + 1),
            ),
            PageOutcome::Failed(f) => (
                LETTER.0,
                LETTER.1,
                format!("page {} failed: {}", f.index + 1, f.reason.as_str()),
            ),
        };
        let (w, h) = if w > 0.0 && h > 0.0 { (w, h) } else { LETTER };
        let mut content = Content::new();
        failure_label(&mut content, &label, 36.0, h - 50.0);
        self.finish_page((w, h), content, None)
    }

    /// The first object number of the next page.
    fn next(&self) -> i32 {
        4 + self.pages * PER_PAGE
    }

    fn finish_page(
        &mut self,
        size: (f32, f32),
        content: Content,
        image: Option<Ref>,
    ) -> io::Result<()> {
        let base = self.next();
        let (page_id, content_id) = (Ref::new(base), Ref::new(base + 1));
        self.pages += 1;
        let data = content.finish();
        let mut chunk = Chunk::new();
        chunk.stream(content_id, &data);
        self.file.put(content_id, &chunk)?;
        self.file
            .put_page(page_id, content_id, size, (b"F1", FONT), image)
    }

    /// Completes the file.
    pub(crate) fn finish(self) -> io::Result<()> {
        let pages = self.pages;
        let mut out = self
            .file
            .finish((0..pages).map(|i| Ref::new(4 + i * PER_PAGE)))?;
        out.flush()
    }
}

/// A JSON report: `{"schema": …, "source": …, <more>, "pages": [<a line a page>]}`.
pub(crate) struct PageReport {
    out: OutputFile,
    lines: u32,
}

impl PageReport {
    /// Starts file `name` in `location`; `more` are further `"key":value` members, each
    /// followed by a comma.
    pub(crate) fn create(
        location: &Arc<dyn OutputLocation>,
        name: &str,
        schema: &str,
        source: &str,
        more: &str,
    ) -> io::Result<Self> {
        let mut out = location.create(name)?;
        write!(
            out,
            "{{\"schema\":{},\"source\":{},{more}\"pages\":[",
            serde_json::to_string(schema)?,
            serde_json::to_string(source)?
        )?;
        Ok(PageReport { out, lines: 0 })
    }

    /// Appends a page's line.
    pub(crate) fn line(&mut self, line: &Value) -> io::Result<()> {
        self.out
            .write_all(if self.lines == 0 { b"\n" } else { b",\n" })?;
        serde_json::to_writer(&mut self.out, line)?;
        self.lines += 1;
        Ok(())
    }

    /// The line of a page that failed, or that came back without its picture.
    pub(crate) fn failure(outcome: &PageOutcome, missing: &str) -> Value {
        match outcome {
            PageOutcome::Ok(p) => serde_json::json!({
                "index": p.index,
                "status": "failed",
                "reason": "invalid",
                "message": missing,
            }),
            PageOutcome::Failed(f) => serde_json::json!({
                "index": f.index,
                "status": "failed",
                "reason": f.reason.as_str(),
                "message": f.message,
            }),
        }
    }

    /// Completes the file.
    pub(crate) fn finish(mut self) -> io::Result<()> {
        self.out.write_all(b"\n]}\n")?;
        self.out.flush()
    }
}
