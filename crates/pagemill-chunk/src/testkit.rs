//! Tiny synthetic pages for the unit tests.

use pagemill_core::model::{BBox, Block, BlockKind, Page};

use crate::Chunk;

/// A block of `kind` with `text`; headings starting with "Chapter" are level 1, others 2.
pub fn block(kind: BlockKind, text: &str) -> Block {
    let mut b = Block::figure(BBox::new(0.0, 0.0, 10.0, 10.0));
    b.kind = kind;
    b.text = text.to_string();
    if kind == BlockKind::Heading {
        b.level = Some(if text.starts_with("Chapter") { 1 } else { 2 });
    }
    b
}

/// A page holding `blocks`.
pub fn page(index: u32, blocks: Vec<Block>) -> Page {
    Page::new(index, 600.0, 800.0, blocks)
}

/// Each chunk's heading line and text.
pub fn paths_and_texts(chunks: &[Chunk]) -> Vec<(String, &str)> {
    chunks
        .iter()
        .map(|c| (c.heading_line(), c.text.as_str()))
        .collect()
}
