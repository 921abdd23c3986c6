//! Structure-aware chunks of converted pages, for embedding and search.
//!
//! A [`Chunker`] takes a document's pages in order (the way a page sink receives them) and
//! gives back chunks as soon as they are closed, so a caller can embed and store the first
//! chunks while later pages are still being converted. The stages, in the order data flows
//! through them:
//!
//! 1. [`units`]: each block becomes units that are never split further — sentences of
//!    prose, a code block (or its lines when it is too long), a table's rows with its
//!    header row apart.
//! 2. [`pack`]: units are packed into chunks up to a token budget. A heading closes the
//!    chunk and updates the heading path; a table split across chunks repeats its header
//!    in each; prose chunks overlap by whole trailing sentences.
//!
//! Sizes are counted with the embedding model's own tokenizer through [`TokenCounter`], so
//! a chunk is never truncated by the model. Where this goes beyond `text-splitter`: the
//! structure comes from the page analysis (headings, tables, code, furniture) rather than
//! from re-parsing Markdown, and every chunk keeps its provenance (pages, block ids and
//! boxes). `text-splitter` is still what splits a sentence longer than the whole budget.
#![forbid(unsafe_code)]

pub mod pack;
#[cfg(test)]
mod testkit;
pub mod units;

use pagemill_core::model::{BBox, Page};
use sha2::{Digest, Sha256};

pub use pack::Chunker;

/// Counts tokens the way the embedding model will see them (without its special tokens).
pub trait TokenCounter: Send + Sync {
    /// Number of tokens in `text`.
    fn count(&self, text: &str) -> usize;
}

impl<T: TokenCounter + ?Sized> TokenCounter for &T {
    fn count(&self, text: &str) -> usize {
        (**self).count(text)
    }
}

impl<T: TokenCounter + ?Sized> TokenCounter for std::sync::Arc<T> {
    fn count(&self, text: &str) -> usize {
        (**self).count(text)
    }
}

/// Counts whitespace-separated words: for tests and for callers without a tokenizer.
#[derive(Debug, Clone, Copy, Default)]
pub struct WordCounter;

impl TokenCounter for WordCounter {
    fn count(&self, text: &str) -> usize {
        text.split_whitespace().count()
    }
}

/// How large chunks may be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChunkConfig {
    /// Tokens per chunk, heading path included, the model's special tokens excluded.
    pub max_tokens: usize,
    /// Tokens of trailing prose repeated at the start of the next chunk of the same
    /// section (whole sentences only; 0 for none).
    pub overlap_tokens: usize,
    /// A heading does not close a chunk holding fewer tokens than this: the next section
    /// joins it (0: every heading closes its chunk).
    pub combine_under_tokens: usize,
}

impl ChunkConfig {
    /// `max_tokens` per chunk, `overlap_tokens` of overlap, sections combined while the
    /// chunk is under a quarter of the budget.
    pub fn new(max_tokens: usize, overlap_tokens: usize) -> Self {
        ChunkConfig {
            max_tokens,
            overlap_tokens,
            combine_under_tokens: max_tokens / 4,
        }
    }
}

impl Default for ChunkConfig {
    fn default() -> Self {
        ChunkConfig::new(254, 32)
    }
}

/// What a chunk holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ChunkKind {
    /// Prose: paragraphs, list items, footnotes.
    Text,
    /// Rows of one table (with its header).
    Table,
    /// A code block, or part of one.
    Code,
    /// More than one of the above.
    Mixed,
}

impl ChunkKind {
    /// Lower-case name, as stored and shown.
    pub fn as_str(&self) -> &'static str {
        match self {
            ChunkKind::Text => "text",
            ChunkKind::Table => "table",
            ChunkKind::Code => "code",
            ChunkKind::Mixed => "mixed",
        }
    }
}

/// Where part of a chunk's text comes from.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SourceBlock {
    /// 0-based page index.
    pub page: u32,
    /// Index of the block in the page's `blocks` (as in the JSON output).
    pub block: u32,
    /// The block's box, in the page's displayed frame (PDF points).
    pub bbox: BBox,
}

/// A piece of a document to embed and search.
#[derive(Debug, Clone, PartialEq)]
pub struct Chunk {
    /// Position in the document, from 0.
    pub seq: u32,
    /// Stable id: a hash of the position, the heading path and the text. The same document
    /// chunked with the same settings gives the same ids.
    pub id: String,
    /// What the chunk holds.
    pub kind: ChunkKind,
    /// Headings above the chunk, outermost first.
    pub heading_path: Vec<String>,
    /// The chunk's text: blocks apart by a blank line, table rows and code lines by a
    /// newline.
    pub text: String,
    /// Tokens of [`Chunk::embedding_text`].
    pub tokens: usize,
    /// First and last 0-based page the text comes from.
    pub pages: (u32, u32),
    /// Blocks the text comes from, in reading order, each once.
    pub sources: Vec<SourceBlock>,
}

impl Chunk {
    /// The heading path as one line (`Chapter > Section`).
    pub fn heading_line(&self) -> String {
        self.heading_path.join(" > ")
    }

    /// What is embedded: the heading path, a blank line, the text. The path gives a
    /// section's later chunks the context their own words lack.
    pub fn embedding_text(&self) -> String {
        embedding_text(&self.heading_path, &self.text)
    }
}

pub(crate) fn embedding_text(path: &[String], text: &str) -> String {
    if path.is_empty() {
        text.to_string()
    } else {
        format!("{}\n\n{}", path.join(" > "), text)
    }
}

pub(crate) fn chunk_id(seq: u32, path: &[String], text: &str) -> String {
    let mut h = Sha256::new();
    h.update(seq.to_le_bytes());
    for p in path {
        h.update(p.as_bytes());
        h.update([0x1f]);
    }
    h.update([0x1e]);
    h.update(text.as_bytes());
    let d = h.finalize();
    d[..12].iter().map(|b| format!("{b:02x}")).collect()
}

/// Chunks a whole document at once (tests and small inputs; the index streams pages
/// through [`Chunker`] instead).
pub fn chunk_pages<'a>(
    pages: impl IntoIterator<Item = &'a Page>,
    config: ChunkConfig,
    counter: &dyn TokenCounter,
) -> Vec<Chunk> {
    let mut chunker = Chunker::new(config, counter);
    let mut out = Vec::new();
    for page in pages {
        out.extend(chunker.push_page(page));
    }
    out.extend(chunker.finish());
    out
}
