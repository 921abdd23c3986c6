//! The embedded store: one directory, no server.
//!
//! - `index.sqlite3`: documents, chunks, entities (SQLite, WAL) and the vectors
//!   (`vec_chunks`, a sqlite-vec `vec0` table: exact cosine k-nearest-neighbour);
//! - `bm25/`: a Tantivy index of the chunks' heading paths and text.
//!
//! Two stores that can crash apart are kept consistent by one rule: a document is
//! `complete` in SQLite only after Tantivy has committed its chunks, and is marked
//! incomplete before anything of it is deleted. Opening for writing removes every
//! incomplete document from both, so a crash at any point leaves either the whole document
//! or nothing, and the next run indexes it again.

mod bm25;
mod sql;

use std::path::Path;

use rusqlite::{params, Connection, OptionalExtension};

use crate::store::{DocumentRecord, Filter, NewChunk, Stats, Store, StoredChunk};
use crate::IndexError;

pub use bm25::Bm25;

/// SQLite + sqlite-vec + Tantivy in one directory.
pub struct EmbeddedStore {
    db: Connection,
    bm25: Bm25,
    dir: std::path::PathBuf,
}

impl EmbeddedStore {
    /// Opens (creating when `writable`) the store in `dir` for vectors of `dimension`.
    pub fn open(dir: &Path, dimension: usize, writable: bool) -> Result<Self, IndexError> {
        if writable {
            std::fs::create_dir_all(dir).map_err(|e| IndexError::io(dir, e))?;
        }
        let file = dir.join("index.sqlite3");
        if !writable && !file.exists() {
            return Err(IndexError::NotAnIndex(dir.to_path_buf()));
        }
        let db = sql::open(&file, dimension, writable)?;
        let bm25 = Bm25::open(&dir.join("bm25"), writable)?;
        let mut store = EmbeddedStore {
            db,
            bm25,
            dir: dir.to_path_buf(),
        };
        if writable {
            let stale: Vec<i64> = {
                let mut st = store
                    .db
                    .prepare("SELECT id FROM documents WHERE complete = 0")?;
                let rows = st.query_map([], |r| r.get(0))?;
                rows.collect::<Result<_, _>>()?
            };
            for doc in stale {
                tracing::info!(doc, "removing a document a previous run left incomplete");
                store.remove_document(doc)?;
            }
        }
        Ok(store)
    }

    /// A value from the `meta` table.
    pub fn meta(&self, key: &str) -> Result<Option<String>, IndexError> {
        Ok(self
            .db
            .query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
            .optional()?)
    }

    /// Sets a value in the `meta` table.
    pub fn set_meta(&self, key: &str, value: &str) -> Result<(), IndexError> {
        self.db.execute(
            "INSERT INTO meta(key, value) VALUES (?1, ?2)
             ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            params![key, value],
        )?;
        Ok(())
    }

    /// Chunk ids that pass `filter` (None: no filter, every chunk passes).
    fn allowed(&self, filter: &Filter) -> Result<Option<Vec<i64>>, IndexError> {
        if filter == &Filter::default() {
            return Ok(None);
        }
        let (clause, args) = sql::filter_clause(filter);
        let q = format!(
            "SELECT c.rowid FROM chunks c JOIN documents d ON d.id = c.doc WHERE d.complete = 1{clause}"
        );
        let mut st = self.db.prepare(&q)?;
        let rows = st.query_map(rusqlite::params_from_iter(args.iter()), |r| r.get(0))?;
        Ok(Some(rows.collect::<Result<_, _>>()?))
    }
}

impl Store for EmbeddedStore {
    fn document(&self, path: &str) -> Result<Option<DocumentRecord>, IndexError> {
        Ok(self
            .db
            .query_row(
                &format!("{} WHERE path = ?1", sql::DOCUMENT_SELECT),
                [path],
                sql::document_row,
            )
            .optional()?)
    }

    fn documents(&self) -> Result<Vec<DocumentRecord>, IndexError> {
        let mut st = self
            .db
            .prepare(&format!("{} ORDER BY path", sql::DOCUMENT_SELECT))?;
        let rows = st.query_map([], sql::document_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn begin_document(&mut self, path: &str, sha256: &str, size: u64) -> Result<i64, IndexError> {
        if let Some(old) = self.document(path)? {
            self.remove_document(old.id)?;
        }
        self.db.execute(
            "INSERT INTO documents(path, sha256, size, pages, chunks, complete, indexed_at)
             VALUES (?1, ?2, ?3, 0, 0, 0, datetime('now'))",
            params![path, sha256, size as i64],
        )?;
        Ok(self.db.last_insert_rowid())
    }

    fn add_chunks(&mut self, doc: i64, chunks: &[NewChunk]) -> Result<(), IndexError> {
        let tx = self.db.transaction()?;
        let rowids = sql::insert_chunks(&tx, doc, chunks)?;
        tx.commit()?;
        for (rowid, c) in rowids.into_iter().zip(chunks) {
            self.bm25.add(rowid, doc, &c.chunk)?;
        }
        Ok(())
    }

    fn finish_document(&mut self, doc: i64, pages: u32) -> Result<(), IndexError> {
        self.bm25.commit()?;
        self.db.execute(
            "UPDATE documents SET complete = 1, pages = ?2,
                    chunks = (SELECT count(*) FROM chunks WHERE doc = ?1)
             WHERE id = ?1",
            params![doc, pages],
        )?;
        Ok(())
    }

    fn remove_document(&mut self, doc: i64) -> Result<(), IndexError> {
        self.db
            .execute("UPDATE documents SET complete = 0 WHERE id = ?1", [doc])?;
        self.bm25.delete_document(doc)?;
        self.bm25.commit()?;
        let tx = self.db.transaction()?;
        tx.execute(
            "DELETE FROM vec_chunks WHERE rowid IN (SELECT rowid FROM chunks WHERE doc = ?1)",
            [doc],
        )?;
        tx.execute(
            "DELETE FROM entities WHERE chunk IN (SELECT rowid FROM chunks WHERE doc = ?1)",
            [doc],
        )?;
        tx.execute("DELETE FROM chunks WHERE doc = ?1", [doc])?;
        tx.execute("DELETE FROM documents WHERE id = ?1", [doc])?;
        tx.commit()?;
        Ok(())
    }

    fn vector_search(
        &self,
        vector: &[f32],
        k: usize,
        filter: &Filter,
    ) -> Result<Vec<(i64, f32)>, IndexError> {
        sql::vector_search(&self.db, vector, k, &sql::filter_clause(filter))
    }

    fn text_search(
        &self,
        query: &str,
        k: usize,
        filter: &Filter,
    ) -> Result<Vec<(i64, f32)>, IndexError> {
        let allowed = self.allowed(filter)?;
        self.bm25.search(query, k, allowed.as_deref())
    }

    fn chunks(&self, rowids: &[i64]) -> Result<Vec<StoredChunk>, IndexError> {
        sql::chunks(&self.db, rowids)
    }

    fn stats(&self) -> Result<Stats, IndexError> {
        let mut s = sql::stats(&self.db)?;
        s.bytes = dir_size(&self.dir);
        Ok(s)
    }
}

fn dir_size(dir: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .map(|e| match e.file_type() {
            Ok(t) if t.is_dir() => dir_size(&e.path()),
            _ => e.metadata().map(|m| m.len()).unwrap_or(0),
        })
        .sum()
}
