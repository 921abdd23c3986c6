//! `IN.hocr`: the OCR ecosystem's format (hOCR 1.2), one `ocr_page` per page, streamed.
//!
//! Boxes are integers on a 300-dpi grid of the displayed page (`scan_res 300 300`), so
//! tools that place text by hOCR (hocr-tools, OCRmyPDF's renderer) get sub-point
//! precision. OCR pages carry words with `x_wconf`; text-layer pages carry their lines
//! (PDF text has no word boxes here). A failed page is an empty `ocr_page` with the reason
//! in a comment, so page numbers stay aligned.

use std::io::{self, Write};

use pagemill_core::model::{BlockKind, TextSource};
use pagemill_core::{BBox, PageOutcome};

/// Resolution of the hOCR coordinate grid.
const GRID_DPI: f32 = 300.0;

/// Writes hOCR page by page.
pub struct HocrWriter<W: Write> {
    out: W,
    pages: u32,
    /// Running ids of areas, paragraphs, lines and words (unique in the file).
    ids: [u32; 4],
}

fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c if c.is_control() && c != '\n' && c != '\t' => {}
            c => out.push(c),
        }
    }
    out
}

fn bbox(b: &BBox) -> String {
    let s = GRID_DPI / 72.0;
    let r = |v: f32| (v * s).round().max(0.0) as i64;
    format!("bbox {} {} {} {}", r(b.x0), r(b.y0), r(b.x1), r(b.y1))
}

impl<W: Write> HocrWriter<W> {
    /// Starts the document; `title` names the input.
    pub fn new(mut out: W, title: &str) -> io::Result<Self> {
        write!(
            out,
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
             <!DOCTYPE html PUBLIC \"-//W3C//DTD XHTML 1.0 Transitional//EN\" \
             \"http://www.w3.org/TR/xhtml1/DTD/xhtml1-transitional.dtd\">\n\
             <html xmlns=\"http://www.w3.org/1999/xhtml\" xml:lang=\"en\" lang=\"en\">\n\
             <head>\n<title>{}</title>\n\
             <meta http-equiv=\"Content-Type\" content=\"text/html;charset=utf-8\"/>\n\
             <meta name=\"ocr-system\" content=\"pagemill {}\"/>\n\
             <meta name=\"ocr-capabilities\" content=\"ocr_page ocr_carea ocr_par ocr_line ocrx_word ocr_photo\"/>\n\
             </head>\n<body>\n",
            escape(title),
            env!("CARGO_PKG_VERSION")
        )?;
        Ok(HocrWriter {
            out,
            pages: 0,
            ids: [0; 4],
        })
    }

    fn next(&mut self, level: usize) -> u32 {
        self.ids[level] += 1;
        self.ids[level]
    }

    /// Writes one page.
    pub fn page(&mut self, outcome: &PageOutcome) -> io::Result<()> {
        self.pages += 1;
        let n = self.pages;
        let page = match outcome {
            PageOutcome::Ok(p) => p,
            PageOutcome::Failed(f) => {
                return writeln!(
                    self.out,
                    "<div class='ocr_page' id='page_{n}' title='ppageno {}'><!-- failed: {}: {} --></div>",
                    f.index,
                    f.reason.as_str(),
                    escape(&f.message).replace("--", "- -")
                );
            }
        };
        let full = BBox::new(0.0, 0.0, page.width, page.height);
        writeln!(
            self.out,
            "<div class='ocr_page' id='page_{n}' title='{}; ppageno {}; scan_res {g} {g}'>",
            bbox(&full),
            page.index,
            g = GRID_DPI as u32
        )?;
        for block in &page.blocks {
            if block.kind == BlockKind::Figure {
                // Tesseract's own element for image regions.
                let a = self.next(0);
                writeln!(
                    self.out,
                    " <div class='ocr_photo' id='block_{n}_{a}' title='{}'></div>",
                    bbox(&block.bbox)
                )?;
                continue;
            }
            let (a, p) = (self.next(0), self.next(1));
            // Tables keep their lines (each cell's, row by row) in hOCR's table element.
            let class = if block.kind == BlockKind::Table {
                "ocr_table"
            } else {
                "ocr_carea"
            };
            writeln!(
                self.out,
                " <div class='{class}' id='block_{n}_{a}' title='{}'>\n  <p class='ocr_par' id='par_{n}_{p}' title='{}'>",
                bbox(&block.bbox),
                bbox(&block.bbox)
            )?;
            for line in &block.lines {
                let l = self.next(2);
                write!(
                    self.out,
                    "   <span class='ocr_line' id='line_{n}_{l}' title='{}'>",
                    bbox(&line.bbox)
                )?;
                if line.words.is_empty() || page.source == TextSource::TextLayer {
                    write!(self.out, "{}", escape(&line.text))?;
                } else {
                    for (i, w) in line.words.iter().enumerate() {
                        let id = self.next(3);
                        if i > 0 {
                            write!(self.out, " ")?;
                        }
                        write!(
                            self.out,
                            "<span class='ocrx_word' id='word_{n}_{id}' title='{}; x_wconf {}'>{}</span>",
                            bbox(&w.bbox),
                            (w.confidence * 100.0).round().clamp(0.0, 100.0) as u32,
                            escape(&w.text)
                        )?;
                    }
                }
                writeln!(self.out, "</span>")?;
            }
            writeln!(self.out, "  </p>\n </div>")?;
        }
        writeln!(self.out, "</div>")
    }

    /// Closes the document and returns the inner writer.
    pub fn finish(mut self) -> io::Result<W> {
        self.out.write_all(b"</body>\n</html>\n")?;
        self.out.flush()?;
        Ok(self.out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pagemill_core::model::{Block, BlockKind, FailureReason, Line, Page, PageFailure, Word};

    #[test]
    fn words_with_boxes_and_confidences_and_failed_pages_keep_their_place() {
        let word = |x0: f32, t: &str| Word {
            bbox: BBox::new(x0, 72.0, x0 + 36.0, 84.0),
            text: t.into(),
            confidence: 0.934,
        };
        let page = Page {
            source: TextSource::Ocr,
            ..Page::new(
                0,
                612.0,
                792.0,
                vec![Block {
                    kind: BlockKind::Paragraph,
                    level: None,
                    bbox: BBox::new(72.0, 72.0, 144.0, 84.0),
                    text: "a<b & c".into(),
                    font_size: 10.0,
                    font: None,
                    bold: false,
                    italic: false,
                    confidence: 0.93,
                    lines: vec![Line {
                        bbox: BBox::new(72.0, 72.0, 144.0, 84.0),
                        text: "a<b & c".into(),
                        words: vec![word(72.0, "a<b"), word(110.0, "&")],
                    }],
                    image: None,
                    table: None,
                    margin: None,
                    rotation: None,
                    markdown: None,
                }],
            )
        };
        let mut w = HocrWriter::new(Vec::new(), "scan.pdf").unwrap();
        w.page(&PageOutcome::Ok(page)).unwrap();
        w.page(&PageOutcome::Failed(PageFailure {
            index: 1,
            reason: FailureReason::Timeout,
            message: "too slow -- really".into(),
        }))
        .unwrap();
        let out = String::from_utf8(w.finish().unwrap()).unwrap();
        assert!(out.contains("title='bbox 0 0 2550 3300; ppageno 0; scan_res 300 300'"));
        assert!(out.contains(
            "<span class='ocrx_word' id='word_1_1' title='bbox 300 300 450 350; x_wconf 93'>a&lt;b</span>"
        ));
        assert!(out.contains(">&amp;</span>"));
        assert!(out.contains(
            "id='page_2' title='ppageno 1'><!-- failed: timeout: too slow - - really -->"
        ));
        assert!(out.trim_end().ends_with("</html>"));
    }
}
