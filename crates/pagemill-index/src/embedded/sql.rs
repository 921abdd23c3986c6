//! SQLite side of the embedded store: schema, statements, sqlite-vec.

use std::path::Path;
use std::sync::Once;

use rusqlite::{params, Connection, OpenFlags, Row, ToSql, Transaction};

use crate::store::{DocumentRecord, Filter, NewChunk, SourceRef, Stats, StoredChunk};
use crate::IndexError;

/// Registers sqlite-vec with every connection this process opens.
fn register_sqlite_vec() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // SAFETY: `sqlite3_vec_init` is sqlite-vec's extension entry point, compiled from
        // its own C source into this binary and linked against the same bundled SQLite
        // as rusqlite; `sqlite3_auto_extension` takes exactly such an entry point. The
        // transmute only restates its C signature, which the extension API defines.
        #[allow(unsafe_code)]
        unsafe {
            type Entry = unsafe extern "C" fn(
                *mut rusqlite::ffi::sqlite3,
                *mut *mut std::os::raw::c_char,
                *const rusqlite::ffi::sqlite3_api_routines,
            ) -> std::os::raw::c_int;
            let entry: Entry = std::mem::transmute(sqlite_vec::sqlite3_vec_init as *const ());
            rusqlite::ffi::sqlite3_auto_extension(Some(entry));
        }
    });
}

/// Opens the database, creating the schema for vectors of `dimension` when writable.
pub fn open(file: &Path, dimension: usize, writable: bool) -> Result<Connection, IndexError> {
    register_sqlite_vec();
    let flags = if writable {
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE
    } else {
        OpenFlags::SQLITE_OPEN_READ_ONLY
    };
    let db = Connection::open_with_flags(file, flags)?;
    db.busy_timeout(std::time::Duration::from_secs(30))?;
    if writable {
        // WAL: searches read while a run writes. synchronous=NORMAL is durable against a
        // killed process (kill -9), which is the crash the index must survive; only a
        // power cut may lose the last transactions, and those documents are redone.
        db.execute_batch(&format!(
            "PRAGMA journal_mode = WAL;
             PRAGMA synchronous = NORMAL;
             PRAGMA foreign_keys = ON;
             CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
             CREATE TABLE IF NOT EXISTS documents(
                 id INTEGER PRIMARY KEY,
                 path TEXT NOT NULL UNIQUE,
                 sha256 TEXT NOT NULL,
                 size INTEGER NOT NULL,
                 pages INTEGER NOT NULL,
                 chunks INTEGER NOT NULL,
                 complete INTEGER NOT NULL,
                 indexed_at TEXT NOT NULL);
             CREATE TABLE IF NOT EXISTS chunks(
                 rowid INTEGER PRIMARY KEY,
                 doc INTEGER NOT NULL,
                 seq INTEGER NOT NULL,
                 chunk_id TEXT NOT NULL,
                 kind TEXT NOT NULL,
                 heading TEXT NOT NULL,
                 text TEXT NOT NULL,
                 first_page INTEGER NOT NULL,
                 last_page INTEGER NOT NULL,
                 sources TEXT NOT NULL,
                 tokens INTEGER NOT NULL);
             CREATE INDEX IF NOT EXISTS chunks_doc ON chunks(doc, seq);
             CREATE TABLE IF NOT EXISTS entities(
                 chunk INTEGER NOT NULL,
                 kind TEXT NOT NULL,
                 value TEXT NOT NULL);
             CREATE INDEX IF NOT EXISTS entities_kind ON entities(kind, value);
             CREATE INDEX IF NOT EXISTS entities_chunk ON entities(chunk);
             CREATE VIRTUAL TABLE IF NOT EXISTS vec_chunks
                 USING vec0(embedding float[{dimension}] distance_metric=cosine);"
        ))?;
    }
    Ok(db)
}

/// The columns [`document_row`] reads.
pub const DOCUMENT_SELECT: &str =
    "SELECT id, path, sha256, size, pages, chunks, complete FROM documents";

/// A row of [`DOCUMENT_SELECT`].
pub fn document_row(r: &Row<'_>) -> rusqlite::Result<DocumentRecord> {
    Ok(DocumentRecord {
        id: r.get(0)?,
        path: r.get(1)?,
        sha256: r.get(2)?,
        size: r.get::<_, i64>(3)?.max(0) as u64,
        pages: r.get(4)?,
        chunks: r.get(5)?,
        complete: r.get::<_, i64>(6)? != 0,
    })
}

/// Inserts chunks, their vectors and entities; returns the chunks' rowids.
pub fn insert_chunks(
    tx: &Transaction<'_>,
    doc: i64,
    chunks: &[NewChunk],
) -> Result<Vec<i64>, IndexError> {
    let mut chunk_st = tx.prepare_cached(
        "INSERT INTO chunks(doc, seq, chunk_id, kind, heading, text, first_page, last_page, sources, tokens)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
    )?;
    let mut vec_st =
        tx.prepare_cached("INSERT INTO vec_chunks(rowid, embedding) VALUES (?1, ?2)")?;
    let mut ent_st =
        tx.prepare_cached("INSERT INTO entities(chunk, kind, value) VALUES (?1, ?2, ?3)")?;
    let mut rowids = Vec::with_capacity(chunks.len());
    for n in chunks {
        let c = &n.chunk;
        let sources: Vec<SourceRef> = c
            .sources
            .iter()
            .map(|s| SourceRef {
                page: s.page + 1,
                block: s.block,
                bbox: s.bbox.into(),
            })
            .collect();
        let sources = serde_json::to_string(&sources).unwrap_or_else(|_| "[]".into());
        let heading = serde_json::to_string(&c.heading_path).unwrap_or_else(|_| "[]".into());
        chunk_st.execute(params![
            doc,
            c.seq,
            c.id,
            c.kind.as_str(),
            heading,
            c.text,
            c.pages.0 + 1,
            c.pages.1 + 1,
            sources,
            c.tokens as i64
        ])?;
        let rowid = tx.last_insert_rowid();
        vec_st.execute(params![rowid, vector_blob(&n.vector)])?;
        for e in &n.entities {
            ent_st.execute(params![rowid, e.kind, e.value])?;
        }
        rowids.push(rowid);
    }
    Ok(rowids)
}

/// A vector as sqlite-vec reads it: little-endian f32s.
pub fn vector_blob(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

/// The `AND …` clause and its arguments for a filter over `chunks c` joined with
/// `documents d`.
pub fn filter_clause(filter: &Filter) -> (String, Vec<Box<dyn ToSql>>) {
    let mut clause = String::new();
    let mut args: Vec<Box<dyn ToSql>> = Vec::new();
    if let Some(doc) = &filter.document {
        args.push(Box::new(doc.clone()));
        clause.push_str(&format!(" AND instr(d.path, ?{}) > 0", args.len()));
    }
    if let Some((lo, hi)) = filter.pages {
        args.push(Box::new(lo));
        clause.push_str(&format!(" AND c.last_page >= ?{}", args.len()));
        args.push(Box::new(hi));
        clause.push_str(&format!(" AND c.first_page <= ?{}", args.len()));
    }
    if let Some(entity) = &filter.entity {
        let (kind, value) = match entity.split_once('=') {
            Some((k, v)) => (k.to_string(), Some(v.to_string())),
            None => (entity.clone(), None),
        };
        args.push(Box::new(kind));
        let k = args.len();
        match value {
            Some(v) => {
                args.push(Box::new(v));
                clause.push_str(&format!(
                    " AND EXISTS(SELECT 1 FROM entities e WHERE e.chunk = c.rowid AND e.kind = ?{k} AND e.value = ?{})",
                    args.len()
                ));
            }
            None => clause.push_str(&format!(
                " AND EXISTS(SELECT 1 FROM entities e WHERE e.chunk = c.rowid AND e.kind = ?{k})"
            )),
        }
    }
    (clause, args)
}

/// Nearest chunks by cosine distance. Without a filter, sqlite-vec's k-NN over the whole
/// table; with one, the distance computed for the chunks that pass it (exact either way).
pub fn vector_search(
    db: &Connection,
    vector: &[f32],
    k: usize,
    (clause, args): &(String, Vec<Box<dyn ToSql>>),
) -> Result<Vec<(i64, f32)>, IndexError> {
    let blob = vector_blob(vector);
    let k = k.max(1) as i64;
    let mut out = Vec::new();
    if clause.is_empty() {
        // Chunks of incomplete documents can sit in the table until the next write: ask
        // for a few more and let `chunks()` drop them.
        let mut st = db.prepare_cached(
            "SELECT v.rowid, v.distance FROM vec_chunks v
             WHERE v.embedding MATCH ?1 AND k = ?2",
        )?;
        let rows = st.query_map(params![blob, k], |r| Ok((r.get(0)?, r.get(1)?)))?;
        for r in rows {
            out.push(r?);
        }
    } else {
        let n = args.len();
        let q = format!(
            "SELECT c.rowid, vec_distance_cosine(v.embedding, ?{}) AS dist
             FROM chunks c JOIN documents d ON d.id = c.doc JOIN vec_chunks v ON v.rowid = c.rowid
             WHERE d.complete = 1{clause} ORDER BY dist LIMIT ?{}",
            n + 1,
            n + 2
        );
        let mut all: Vec<&dyn ToSql> = args.iter().map(|a| a.as_ref()).collect();
        all.push(&blob);
        all.push(&k);
        let mut st = db.prepare(&q)?;
        let rows = st.query_map(all.as_slice(), |r| Ok((r.get(0)?, r.get(1)?)))?;
        for r in rows {
            out.push(r?);
        }
    }
    Ok(out)
}

/// Chunks by rowid, of complete documents only.
pub fn chunks(db: &Connection, rowids: &[i64]) -> Result<Vec<StoredChunk>, IndexError> {
    let mut st = db.prepare_cached(
        "SELECT c.rowid, c.chunk_id, d.path, c.seq, c.kind, c.heading, c.text, c.first_page,
                c.last_page, c.sources
         FROM chunks c JOIN documents d ON d.id = c.doc
         WHERE c.rowid = ?1 AND d.complete = 1",
    )?;
    let mut out = Vec::with_capacity(rowids.len());
    for id in rowids {
        let row = st.query_row([id], |r| {
            let heading: String = r.get(5)?;
            let sources: String = r.get(9)?;
            Ok(StoredChunk {
                rowid: r.get(0)?,
                chunk_id: r.get(1)?,
                document: r.get(2)?,
                seq: r.get(3)?,
                kind: r.get(4)?,
                heading_path: serde_json::from_str(&heading).unwrap_or_default(),
                text: r.get(6)?,
                first_page: r.get(7)?,
                last_page: r.get(8)?,
                sources: serde_json::from_str(&sources).unwrap_or_default(),
            })
        });
        match row {
            Ok(c) => out.push(c),
            Err(rusqlite::Error::QueryReturnedNoRows) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(out)
}

/// Counts over the index.
pub fn stats(db: &Connection) -> Result<Stats, IndexError> {
    let one = |q: &str| -> Result<u64, IndexError> {
        Ok(db.query_row(q, [], |r| r.get::<_, i64>(0))?.max(0) as u64)
    };
    Ok(Stats {
        documents: one("SELECT count(*) FROM documents WHERE complete = 1")?,
        incomplete: one("SELECT count(*) FROM documents WHERE complete = 0")?,
        chunks: one(
            "SELECT count(*) FROM chunks c JOIN documents d ON d.id = c.doc WHERE d.complete = 1",
        )?,
        pages: one("SELECT coalesce(sum(pages), 0) FROM documents WHERE complete = 1")?,
        entities: one("SELECT count(*) FROM entities")?,
        bytes: 0,
    })
}
