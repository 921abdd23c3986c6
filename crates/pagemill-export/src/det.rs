//! The detection file `IN.det.md`: every block (page furniture included) as
//! `<kind>[[x0, y0, x1, y1]]` on a 0–999 grid of its page, then its text; pages separated
//! by `<--- Page Split --->`, the convention of the DeepSeek-OCR scripts. A table's text is
//! its HTML, followed by one `<table_cell>[[box]] row col rowspan colspan` entry per cell.

use std::io::{self, Write};

use pagemill_core::PageOutcome;

use crate::table_markup::html_table;

/// Writes detections page by page.
pub struct DetWriter<W: Write> {
    out: W,
    pages: u32,
}

impl<W: Write> DetWriter<W> {
    /// A writer into `out`.
    pub fn new(out: W) -> Self {
        DetWriter { out, pages: 0 }
    }

    /// Writes one page.
    pub fn page(&mut self, outcome: &PageOutcome) -> io::Result<()> {
        if self.pages > 0 {
            self.out.write_all(b"\n<--- Page Split --->\n\n")?;
        }
        self.pages += 1;
        match outcome {
            PageOutcome::Ok(page) => {
                for (i, b) in page.blocks.iter().enumerate() {
                    if i > 0 {
                        self.out.write_all(b"\n")?;
                    }
                    let [x0, y0, x1, y1] = b.bbox.to_grid(page.width, page.height);
                    let kind = match b.level {
                        Some(l) => format!("{}{l}", b.kind.as_str()),
                        None => b.kind.as_str().to_string(),
                    };
                    writeln!(self.out, "<{kind}>[[{x0}, {y0}, {x1}, {y1}]]")?;
                    match (&b.image, &b.table) {
                        (Some(path), _) => {
                            writeln!(self.out, "![]({path})")?;
                            if !b.text.is_empty() {
                                writeln!(self.out, "{}", b.text)?;
                            }
                        }
                        (None, Some(table)) => {
                            // The table as HTML (spans included), then each cell's box.
                            writeln!(self.out, "{}", html_table(table))?;
                            for c in &table.cells {
                                let [x0, y0, x1, y1] = c.bbox.to_grid(page.width, page.height);
                                writeln!(
                                    self.out,
                                    "<table_cell>[[{x0}, {y0}, {x1}, {y1}]] {} {} {} {}",
                                    c.row, c.col, c.rowspan, c.colspan
                                )?;
                                writeln!(self.out, "{}", c.text)?;
                            }
                        }
                        (None, None) => writeln!(self.out, "{}", b.text)?,
                    }
                }
            }
            PageOutcome::Failed(f) => {
                writeln!(self.out, "<failed>[[0, 0, 999, 999]]")?;
                writeln!(self.out, "{}: {}", f.reason.as_str(), f.message)?;
            }
        }
        Ok(())
    }

    /// Flushes and returns the inner writer.
    pub fn finish(mut self) -> io::Result<W> {
        self.out.flush()?;
        Ok(self.out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pagemill_core::model::{Block, BlockKind, Page};
    use pagemill_core::BBox;

    #[test]
    fn boxes_on_the_999_grid_with_page_splits() {
        let page = |i| {
            PageOutcome::Ok(Page::new(
                i,
                200.0,
                100.0,
                vec![Block {
                    kind: BlockKind::Heading,
                    level: Some(2),
                    bbox: BBox::new(0.0, 0.0, 100.0, 50.0),
                    text: "Title".into(),
                    font_size: 14.0,
                    font: None,
                    bold: true,
                    italic: false,
                    confidence: 1.0,
                    lines: vec![],
                    image: None,
                    table: None,
                    margin: None,
                    rotation: None,
                    markdown: None,
                }],
            ))
        };
        let mut w = DetWriter::new(Vec::new());
        w.page(&page(0)).unwrap();
        w.page(&page(1)).unwrap();
        let s = String::from_utf8(w.finish().unwrap()).unwrap();
        assert_eq!(
            s,
            "<heading2>[[0, 0, 500, 500]]\nTitle\n\n<--- Page Split --->\n\n<heading2>[[0, 0, 500, 500]]\nTitle\n"
        );
    }
}
