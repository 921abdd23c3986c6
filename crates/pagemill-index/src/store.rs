//! What an index keeps, behind the [`Store`] trait.
//!
//! The embedded store ([`crate::embedded::EmbeddedStore`]) is SQLite (documents, chunks,
//! entities), sqlite-vec (vectors, exact k-nearest-neighbour) and Tantivy (BM25) in one
//! directory. A store for more than one machine (PostgreSQL with pgvector and its full-text
//! search, docs/index.md) is another implementation of the same trait: the chunking,
//! embedding and fusion above it do not change.

use crate::IndexError;

/// A document as the index knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DocumentRecord {
    /// The store's id.
    pub id: i64,
    /// The file's path (absolute) or an upload's name.
    pub path: String,
    /// SHA-256 of the file's bytes, hex.
    pub sha256: String,
    /// File size in bytes.
    pub size: u64,
    /// Pages converted.
    pub pages: u32,
    /// Chunks stored.
    pub chunks: u32,
    /// `true` once every chunk is stored; an incomplete document is removed when the index
    /// is next opened for writing, and indexed again.
    pub complete: bool,
}

/// A chunk with its vector, ready to store.
#[derive(Debug, Clone, PartialEq)]
pub struct NewChunk {
    /// The chunk (text, heading path, provenance).
    pub chunk: pagemill_chunk::Chunk,
    /// Its unit-length embedding.
    pub vector: Vec<f32>,
    /// Entities found in it.
    pub entities: Vec<crate::entities::Entity>,
}

/// A stored chunk, as search returns it.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct StoredChunk {
    /// The store's id of the chunk.
    pub rowid: i64,
    /// The chunk's stable id.
    pub chunk_id: String,
    /// The document's path.
    pub document: String,
    /// Position in the document.
    pub seq: u32,
    /// `text`, `table`, `code` or `mixed`.
    pub kind: String,
    /// Headings above it, outermost first.
    pub heading_path: Vec<String>,
    /// Its text.
    pub text: String,
    /// First page, 1-based.
    pub first_page: u32,
    /// Last page, 1-based.
    pub last_page: u32,
    /// Blocks it comes from, in reading order.
    pub sources: Vec<SourceRef>,
}

/// A block a chunk's text comes from.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SourceRef {
    /// 1-based page.
    pub page: u32,
    /// Index of the block in the page's `blocks` (as in the JSON output).
    pub block: u32,
    /// The block's box `[x0, y0, x1, y1]` in PDF points, origin top left of the page as
    /// displayed.
    pub bbox: [f32; 4],
}

/// Limits a search to some documents and pages.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filter {
    /// Only chunks of documents whose path contains this.
    pub document: Option<String>,
    /// Only chunks that overlap these 1-based pages (inclusive).
    pub pages: Option<(u32, u32)>,
    /// Only chunks with an entity of this kind (and value, when given as `kind=value`).
    pub entity: Option<String>,
}

impl Filter {
    /// Reads a page span as a search filter takes it: `12`, `10-20` or `10-` (1-based,
    /// inclusive; an open end runs to the last page). `None` when it is not one.
    pub fn page_span(s: &str) -> Option<(u32, u32)> {
        let page = |t: &str| t.trim().parse::<u32>().ok().filter(|&n| n > 0);
        match s.split_once('-') {
            Some((a, b)) if b.trim().is_empty() => Some((page(a)?, u32::MAX)),
            Some((a, b)) => Some((page(a)?, page(b)?)),
            None => page(s).map(|n| (n, n)),
        }
    }
}

/// Counts over the whole index.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Stats {
    /// Complete documents.
    pub documents: u64,
    /// Documents left incomplete (removed on the next write).
    pub incomplete: u64,
    /// Chunks.
    pub chunks: u64,
    /// Pages.
    pub pages: u64,
    /// Entities.
    pub entities: u64,
    /// Bytes on disk.
    pub bytes: u64,
}

/// Where an index keeps its documents, chunks, vectors and text.
pub trait Store: Send {
    /// The document stored under `path`, if any.
    fn document(&self, path: &str) -> Result<Option<DocumentRecord>, IndexError>;
    /// Every document, in path order.
    fn documents(&self) -> Result<Vec<DocumentRecord>, IndexError>;
    /// Starts storing a document (incomplete until [`Store::finish_document`]); returns its
    /// id. A document already under `path` is removed first.
    fn begin_document(&mut self, path: &str, sha256: &str, size: u64) -> Result<i64, IndexError>;
    /// Stores chunks of document `doc`, in one transaction.
    fn add_chunks(&mut self, doc: i64, chunks: &[NewChunk]) -> Result<(), IndexError>;
    /// Marks `doc` complete with its page and chunk counts, once everything is durable.
    fn finish_document(&mut self, doc: i64, pages: u32) -> Result<(), IndexError>;
    /// Removes a document and everything of it.
    fn remove_document(&mut self, doc: i64) -> Result<(), IndexError>;
    /// Chunks nearest to `vector` (cosine), best first, with their distance.
    fn vector_search(
        &self,
        vector: &[f32],
        k: usize,
        filter: &Filter,
    ) -> Result<Vec<(i64, f32)>, IndexError>;
    /// Chunks best matching `query` by BM25, best first, with their score.
    fn text_search(
        &self,
        query: &str,
        k: usize,
        filter: &Filter,
    ) -> Result<Vec<(i64, f32)>, IndexError>;
    /// The chunks with these ids (any order; missing ids are skipped).
    fn chunks(&self, rowids: &[i64]) -> Result<Vec<StoredChunk>, IndexError>;
    /// Counts.
    fn stats(&self) -> Result<Stats, IndexError>;
}

#[cfg(test)]
mod tests {
    use super::Filter;

    #[test]
    fn page_spans() {
        assert_eq!(Filter::page_span("12"), Some((12, 12)));
        assert_eq!(Filter::page_span(" 10-20 "), Some((10, 20)));
        assert_eq!(Filter::page_span("5-"), Some((5, u32::MAX)));
        for bad in ["0", "x", "", "-3", "1-0"] {
            assert_eq!(Filter::page_span(bad), None, "{bad:?}");
        }
    }
}
