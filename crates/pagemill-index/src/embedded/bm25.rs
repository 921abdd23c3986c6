//! Tantivy side of the embedded store: BM25 over each chunk's heading path and text.

use std::path::Path;

use tantivy::collector::TopDocs;
use tantivy::query::{BooleanQuery, Occur, Query, QueryParser, TermSetQuery};
use tantivy::schema::{
    Field, IndexRecordOption, Schema, TextFieldIndexing, TextOptions, Value, FAST, INDEXED, STORED,
};
use tantivy::{doc, Index, IndexReader, IndexWriter, ReloadPolicy, TantivyDocument, Term};

use crate::IndexError;

/// Memory Tantivy's writer may buffer before it writes a segment: 32 MB keeps segments
/// large enough that merging stays cheap, and is what the index run adds to its peak RSS.
const WRITER_MEMORY: usize = 32 << 20;

/// A Tantivy index of chunks.
pub struct Bm25 {
    index: Index,
    reader: IndexReader,
    writer: Option<IndexWriter>,
    rowid: Field,
    doc: Field,
    heading: Field,
    text: Field,
}

fn schema() -> Schema {
    let mut sb = Schema::builder();
    sb.add_u64_field("rowid", INDEXED | STORED | FAST);
    sb.add_u64_field("doc", INDEXED);
    // English stemming: a question says "plotting" where the manual says "plot".
    let text = TextOptions::default().set_indexing_options(
        TextFieldIndexing::default()
            .set_tokenizer("en_stem")
            .set_index_option(IndexRecordOption::WithFreqsAndPositions),
    );
    sb.add_text_field("heading", text.clone());
    sb.add_text_field("text", text);
    sb.build()
}

impl Bm25 {
    /// Opens the index in `dir` (creating it when `writable`).
    pub fn open(dir: &Path, writable: bool) -> Result<Self, IndexError> {
        let index = if writable {
            std::fs::create_dir_all(dir).map_err(|e| IndexError::io(dir, e))?;
            let mmap = tantivy::directory::MmapDirectory::open(dir)?;
            Index::open_or_create(mmap, schema())?
        } else {
            Index::open_in_dir(dir)?
        };
        let s = index.schema();
        let field = |name: &str| s.get_field(name);
        let (rowid, doc, heading, text) = (
            field("rowid")?,
            field("doc")?,
            field("heading")?,
            field("text")?,
        );
        let writer = if writable {
            Some(index.writer_with_num_threads(1, WRITER_MEMORY)?)
        } else {
            None
        };
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .try_into()?;
        Ok(Bm25 {
            index,
            reader,
            writer,
            rowid,
            doc,
            heading,
            text,
        })
    }

    fn writer(&mut self) -> Result<&mut IndexWriter, IndexError> {
        self.writer.as_mut().ok_or(IndexError::ReadOnly)
    }

    /// Adds a chunk (visible after [`Bm25::commit`]).
    pub fn add(
        &mut self,
        rowid: i64,
        doc: i64,
        chunk: &pagemill_chunk::Chunk,
    ) -> Result<(), IndexError> {
        let d = doc!(
            self.rowid => rowid as u64,
            self.doc => doc as u64,
            self.heading => chunk.heading_line(),
            self.text => chunk.text.as_str(),
        );
        self.writer()?.add_document(d)?;
        Ok(())
    }

    /// Removes a document's chunks (at the next commit).
    pub fn delete_document(&mut self, doc: i64) -> Result<(), IndexError> {
        let term = Term::from_field_u64(self.doc, doc as u64);
        self.writer()?.delete_term(term);
        Ok(())
    }

    /// Makes what was added and deleted durable and visible.
    pub fn commit(&mut self) -> Result<(), IndexError> {
        self.writer()?.commit()?;
        self.reader.reload()?;
        Ok(())
    }

    /// Best chunks for `query`, among `allowed` when given: (rowid, BM25 score).
    pub fn search(
        &self,
        query: &str,
        k: usize,
        allowed: Option<&[i64]>,
    ) -> Result<Vec<(i64, f32)>, IndexError> {
        let parser = QueryParser::for_index(&self.index, vec![self.heading, self.text]);
        // Lenient: a question's punctuation (`read.table()`, `x[1]`) is text, not syntax.
        let (parsed, _) = parser.parse_query_lenient(query);
        let q: Box<dyn Query> = match allowed {
            None => parsed,
            Some(ids) => {
                let terms = ids
                    .iter()
                    .map(|&id| Term::from_field_u64(self.rowid, id as u64));
                Box::new(BooleanQuery::new(vec![
                    (Occur::Must, parsed),
                    (Occur::Must, Box::new(TermSetQuery::new(terms))),
                ]))
            }
        };
        let searcher = self.reader.searcher();
        let top = searcher.search(&q, &TopDocs::with_limit(k.max(1)).order_by_score())?;
        let mut out = Vec::with_capacity(top.len());
        for (score, addr) in top {
            let d: TantivyDocument = searcher.doc(addr)?;
            if let Some(id) = d.get_first(self.rowid).and_then(|v| v.as_u64()) {
                out.push((id as i64, score));
            }
        }
        Ok(out)
    }
}
