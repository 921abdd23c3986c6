//! `IN.layouts.pdf`: every page as a picture with its blocks' boxes drawn over it, a
//! colour per kind and a label (reading-order index and kind), for checking a conversion
//! by eye.
//!
//! Streamed: each object is written to the file as soon as its page is next in order,
//! one `pdf_writer::Chunk` per object so its offset is the file position at that moment;
//! the page tree and cross-reference table are written at the end. Object numbers are
//! fixed per page (three each), so nothing grows with the page count but the offsets
//! table (8 bytes a page's object).

use std::io::{self, Write};

use pagemill_core::model::BlockKind;
use pagemill_core::result::PagePreview;
use pagemill_core::PageOutcome;
use pdf_writer::{Chunk, Content, Filter, Finish, Name, Ref, Str};

use crate::pdf_file::{failure_label, PdfFile};

const FONT: Ref = Ref::new(3);
/// Objects per page: the page, its content stream, its picture.
const PER_PAGE: i32 = 3;
/// Label size in points.
const LABEL_SIZE: f32 = 6.0;

/// Stroke colour of each kind (RGB 0–1): headings red, text blue, lists green, code
/// purple, furniture gray, footnotes orange, tables of contents teal, figures brown,
/// tables olive (their cells drawn thinner inside).
fn colour(kind: BlockKind) -> [f32; 3] {
    match kind {
        BlockKind::Heading => [0.85, 0.1, 0.1],
        BlockKind::Paragraph => [0.1, 0.35, 0.85],
        BlockKind::ListItem => [0.1, 0.6, 0.2],
        BlockKind::Code => [0.55, 0.2, 0.7],
        BlockKind::PageHeader | BlockKind::PageFooter | BlockKind::PageNumber => [0.5, 0.5, 0.5],
        BlockKind::Footnote => [0.9, 0.5, 0.0],
        BlockKind::Toc => [0.0, 0.55, 0.55],
        BlockKind::Figure => [0.6, 0.4, 0.1],
        BlockKind::Table => [0.55, 0.55, 0.0],
    }
}

/// Writes the layout PDF page by page.
pub struct LayoutPdfWriter<W: Write> {
    file: PdfFile<W>,
    pages: i32,
}

impl<W: Write> LayoutPdfWriter<W> {
    /// Starts the file.
    pub fn new(out: W) -> io::Result<Self> {
        let mut w = LayoutPdfWriter {
            file: PdfFile::new(out)?,
            pages: 0,
        };
        let mut font = Chunk::new();
        font.type1_font(FONT)
            .base_font(Name(b"Helvetica"))
            .encoding_predefined(Name(b"WinAnsiEncoding"));
        w.file.put(FONT, &font)?;
        Ok(w)
    }

    /// Writes one page: its picture (when there is one) and its boxes.
    pub fn page(&mut self, outcome: &PageOutcome, preview: Option<&PagePreview>) -> io::Result<()> {
        let base = 4 + self.pages * PER_PAGE;
        let (page_id, content_id, image_id) =
            (Ref::new(base), Ref::new(base + 1), Ref::new(base + 2));
        self.pages += 1;
        let (w, h) = match outcome {
            PageOutcome::Ok(p) if p.width > 0.0 && p.height > 0.0 => (p.width, p.height),
            // A failed page: a Letter-size sheet saying so.
            _ => (612.0, 792.0),
        };

        let mut content = Content::new();
        if let Some(img) = preview {
            content.save_state();
            content.transform([w, 0.0, 0.0, h, 0.0, 0.0]);
            content.x_object(Name(b"Im0"));
            content.restore_state();
            let mut chunk = Chunk::new();
            let mut x = chunk.image_xobject(image_id, &img.jpeg);
            x.filter(Filter::DctDecode);
            x.width(img.width as i32);
            x.height(img.height as i32);
            x.color_space().device_gray();
            x.bits_per_component(8);
            x.finish();
            self.file.put(image_id, &chunk)?;
        }
        match outcome {
            PageOutcome::Ok(page) => {
                content.set_line_width(0.8);
                for (i, b) in page.blocks.iter().enumerate() {
                    let [r, g, bl] = colour(b.kind);
                    let (x0, y1) = (b.bbox.x0, h - b.bbox.y1);
                    content.set_stroke_rgb(r, g, bl);
                    content.rect(x0, y1, b.bbox.width(), b.bbox.height());
                    content.stroke();
                    if let Some(table) = &b.table {
                        content.set_line_width(0.3);
                        for c in &table.cells {
                            content.rect(c.bbox.x0, h - c.bbox.y1, c.bbox.width(), c.bbox.height());
                        }
                        content.stroke();
                        content.set_line_width(0.8);
                    }
                    let label = format!("{} {}", i + 1, b.kind.as_str());
                    content.begin_text();
                    content.set_font(Name(b"F1"), LABEL_SIZE);
                    content.set_fill_rgb(r, g, bl);
                    content.next_line(x0 + 1.0, (h - b.bbox.y0 + 1.0).min(h - LABEL_SIZE));
                    content.show(Str(label.as_bytes()));
                    content.end_text();
                }
            }
            PageOutcome::Failed(f) => {
                let label = format!("page {} failed: {}", f.index + 1, f.reason.as_str());
                failure_label(&mut content, &label, 72.0, h - 72.0);
            }
        }
        let data = content.finish();
        let mut chunk = Chunk::new();
        chunk.stream(content_id, &data);
        self.file.put(content_id, &chunk)?;

        self.file.put_page(
            page_id,
            content_id,
            (w, h),
            (b"F1", FONT),
            preview.map(|_| image_id),
        )
    }

    /// Writes the page tree, catalog and cross-reference table; returns the writer.
    pub fn finish(self) -> io::Result<W> {
        self.file
            .finish((0..self.pages).map(|i| Ref::new(4 + i * PER_PAGE)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pagemill_core::model::{Block, FailureReason, Page, PageFailure};
    use pagemill_core::BBox;

    #[test]
    fn every_xref_offset_points_at_its_object() {
        let page = Page::new(
            0,
            612.0,
            792.0,
            vec![Block {
                kind: BlockKind::Heading,
                level: Some(1),
                bbox: BBox::new(72.0, 72.0, 300.0, 96.0),
                text: "Title".into(),
                font_size: 20.0,
                font: None,
                bold: true,
                italic: false,
                confidence: 1.0,
                lines: Vec::new(),
                image: None,
                table: None,
                margin: None,
                rotation: None,
                markdown: None,
            }],
        );
        let preview = PagePreview {
            width: 2,
            height: 2,
            jpeg: vec![0xff, 0xd8, 0xff, 0xd9],
        };
        let mut w = LayoutPdfWriter::new(Vec::new()).unwrap();
        // A failed page first: its picture's object number stays unused (a free entry).
        w.page(
            &PageOutcome::Failed(PageFailure {
                index: 0,
                reason: FailureReason::Timeout,
                message: "slow".into(),
            }),
            None,
        )
        .unwrap();
        w.page(&PageOutcome::Ok(page), Some(&preview)).unwrap();
        let pdf = w.finish().unwrap();
        // Offsets are byte offsets: work on bytes (the JPEG and header are not UTF-8).
        let text = String::from_utf8_lossy(&pdf).into_owned();
        assert!(text.contains("/Count 2"), "{text}");
        assert!(text.contains("(1 heading) Tj"));
        let tail = String::from_utf8_lossy(&pdf[pdf.len() - 40..]).into_owned();
        let xref_at: usize = tail
            .rsplit("startxref\n")
            .next()
            .and_then(|t| t.lines().next())
            .and_then(|t| t.parse().ok())
            .unwrap();
        assert!(pdf[xref_at..].starts_with(b"xref\n"));
        let table = String::from_utf8_lossy(&pdf[xref_at..]).into_owned();
        // Entry n (n ≥ 1) is the offset of "n 0 obj", or free (the failed page's picture).
        let mut free = 0;
        for (n, line) in table
            .lines()
            .skip(3)
            .take_while(|l| l.len() == 19)
            .enumerate()
        {
            let off: usize = line[..10].parse().unwrap();
            if line.ends_with("f ") {
                free += 1;
                continue;
            }
            let want = format!("{} 0 obj", n + 1);
            assert!(pdf[off..].starts_with(want.as_bytes()), "object {}", n + 1);
        }
        assert_eq!(free, 1, "only the failed page's missing picture is free");
    }
}
