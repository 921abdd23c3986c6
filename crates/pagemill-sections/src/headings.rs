//! Headings as section marks: a page sink that keeps the detected headings of each
//! document (a few bytes each; the pages themselves are not kept).

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use pagemill_core::model::{BlockKind, Page, PageOutcome};
use pagemill_core::result::PageResult;
use pagemill_core::sink::{DocumentMeta, PageSink, SinkError, SinkFactory};

use crate::Mark;

/// The headings of `page` up to `level`, as marks, in reading order.
pub fn heading_marks(page: &Page, level: u32) -> impl Iterator<Item = Mark> + '_ {
    page.blocks
        .iter()
        .filter(|b| b.kind == BlockKind::Heading)
        .filter_map(move |b| {
            let l = u32::from(b.level.unwrap_or(1)).max(1);
            let title = b.text.split_whitespace().collect::<Vec<_>>().join(" ");
            (l <= level && !title.is_empty()).then_some(Mark {
                level: l,
                title,
                page: Some(page.index),
            })
        })
}

/// Renumbers heading levels from the document's shallowest one: a document whose largest
/// headings are `##` (its title set as `#` elsewhere, or absent) has them as level 1, so
/// `headings:1` always means "the top level of this document".
pub fn relative_levels(marks: &mut [Mark]) {
    if let Some(top) = marks.iter().map(|m| m.level).min() {
        for m in marks.iter_mut() {
            m.level = m.level + 1 - top.max(1);
        }
    }
}

/// Collects each document's headings (up to a level) while a job converts it.
#[derive(Debug)]
pub struct HeadingCollector {
    level: u32,
    found: Arc<Mutex<HashMap<PathBuf, Vec<Mark>>>>,
}

impl HeadingCollector {
    /// Keeps headings of level ≤ `level`.
    pub fn new(level: u32) -> Self {
        HeadingCollector {
            level,
            found: Arc::default(),
        }
    }

    /// The headings found in the document at `path` (as the job named it), once its
    /// conversion has finished; `None` when it did not finish.
    pub fn take(&self, path: &std::path::Path) -> Option<Vec<Mark>> {
        self.found.lock().ok()?.remove(path)
    }
}

impl SinkFactory for HeadingCollector {
    fn create(&self, doc: &DocumentMeta) -> Result<Option<Box<dyn PageSink>>, SinkError> {
        Ok(Some(Box::new(HeadingSink {
            level: self.level,
            path: doc.path.clone(),
            marks: Vec::new(),
            found: Arc::clone(&self.found),
        })))
    }
}

struct HeadingSink {
    level: u32,
    path: PathBuf,
    marks: Vec<Mark>,
    found: Arc<Mutex<HashMap<PathBuf, Vec<Mark>>>>,
}

impl PageSink for HeadingSink {
    fn begin(&mut self, _doc: &DocumentMeta) -> Result<(), SinkError> {
        Ok(())
    }

    fn page(&mut self, page: &PageResult) -> Result<(), SinkError> {
        if let PageOutcome::Ok(p) = &page.outcome {
            self.marks.extend(heading_marks(p, self.level));
        }
        Ok(())
    }

    fn finish(&mut self) -> Result<Vec<PathBuf>, SinkError> {
        let marks = std::mem::take(&mut self.marks);
        self.found
            .lock()
            .map_err(|_| SinkError::Other("the heading collector panicked".into()))?
            .insert(self.path.clone(), marks);
        Ok(Vec::new())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pagemill_core::model::{BBox, Block};

    fn block(kind: BlockKind, level: Option<u8>, text: &str) -> Block {
        let mut b = Block::figure(BBox::new(0.0, 0.0, 10.0, 10.0));
        b.kind = kind;
        b.text = text.into();
        b.level = level;
        b
    }

    #[test]
    fn levels_count_from_the_documents_top_heading() {
        let mark = |level| Mark {
            level,
            title: "t".into(),
            page: Some(0),
        };
        let mut marks = vec![mark(2), mark(3), mark(2), mark(4)];
        relative_levels(&mut marks);
        assert_eq!(
            marks.iter().map(|m| m.level).collect::<Vec<_>>(),
            vec![1, 2, 1, 3]
        );
    }

    #[test]
    fn headings_up_to_the_level_become_marks() {
        let page = Page::new(
            4,
            600.0,
            800.0,
            vec![
                block(BlockKind::Heading, Some(1), "1  Intro"),
                block(BlockKind::Paragraph, None, "text"),
                block(BlockKind::Heading, Some(2), "1.1 Scope"),
                block(BlockKind::Heading, Some(3), "1.1.1 Detail"),
            ],
        );
        let marks: Vec<Mark> = heading_marks(&page, 2).collect();
        assert_eq!(
            marks,
            vec![
                Mark {
                    level: 1,
                    title: "1 Intro".into(),
                    page: Some(4)
                },
                Mark {
                    level: 2,
                    title: "1.1 Scope".into(),
                    page: Some(4)
                },
            ]
        );
    }
}
