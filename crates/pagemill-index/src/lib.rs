//! The search index: converted pages → chunks → embeddings → an embedded hybrid store.
//!
//! Data flows through it the way it flows through a conversion: the engine delivers a
//! document's pages in order to an [`IndexSinkFactory`]'s sink ([`sink`]), which chunks
//! each page as it arrives (`pagemill-chunk`), embeds closed chunks in batches
//! (`pagemill-embed`) and writes each batch in one transaction ([`store`], [`embedded`]).
//! Nothing waits for the whole document, so memory does not grow with its length.
//! [`search`] answers queries by BM25, by vector, or by both fused (reciprocal-rank
//! fusion).
#![deny(unsafe_code)]

pub mod embedded;
pub mod entities;
pub mod search;
pub mod sink;
pub mod store;

use std::path::{Path, PathBuf};

use thiserror::Error;

pub use embedded::EmbeddedStore;
pub use entities::{Entity, EntityFinder, RuleEntities};
pub use search::{search, Hit, Mode};
pub use sink::{IndexSinkFactory, PlannedDocument};
pub use store::{DocumentRecord, Filter, Stats, Store, StoredChunk};

/// Why the index could not do what was asked.
#[derive(Debug, Error)]
pub enum IndexError {
    /// The directory holds no index.
    #[error("{0} is not an index (no index.sqlite3); create it with `pagemill index`")]
    NotAnIndex(PathBuf),
    /// The index was made with another embedding model.
    #[error("the index was built with {index} ({index_dim} dimensions), not {asked} ({asked_dim}); use the same model or a new index directory")]
    ModelMismatch {
        /// The index's model.
        index: String,
        /// Its dimension.
        index_dim: usize,
        /// The model asked for.
        asked: String,
        /// Its dimension.
        asked_dim: usize,
    },
    /// A write on an index opened for reading.
    #[error("the index is open for reading only")]
    ReadOnly,
    /// Reading or writing a file.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// SQLite.
    #[error("index database: {0}")]
    Sql(#[from] rusqlite::Error),
    /// Tantivy.
    #[error("full-text index: {0}")]
    Text(String),
    /// The embedding model.
    #[error(transparent)]
    Embed(#[from] pagemill_embed::EmbedError),
}

impl IndexError {
    pub(crate) fn io(path: &Path, source: std::io::Error) -> Self {
        IndexError::Io {
            path: path.to_path_buf(),
            source,
        }
    }
}

impl From<tantivy::TantivyError> for IndexError {
    fn from(e: tantivy::TantivyError) -> Self {
        IndexError::Text(e.to_string())
    }
}

impl From<tantivy::directory::error::OpenDirectoryError> for IndexError {
    fn from(e: tantivy::directory::error::OpenDirectoryError) -> Self {
        IndexError::Text(e.to_string())
    }
}

impl From<tantivy::query::QueryParserError> for IndexError {
    fn from(e: tantivy::query::QueryParserError) -> Self {
        IndexError::Text(e.to_string())
    }
}

/// The model an index was built with and its dimension, if `dir` holds an index that has
/// recorded them (an index whose first run was killed before its schema was written has
/// not).
pub fn index_model(dir: &Path) -> Result<Option<(String, usize)>, IndexError> {
    let file = dir.join("index.sqlite3");
    if !file.exists() {
        return Err(IndexError::NotAnIndex(dir.to_path_buf()));
    }
    let db =
        rusqlite::Connection::open_with_flags(&file, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)?;
    let get = |key: &str| {
        db.query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| {
            r.get::<_, String>(0)
        })
    };
    match (get("model"), get("dimension")) {
        (Ok(m), Ok(d)) => Ok(d.parse().ok().map(|d| (m, d))),
        (Err(rusqlite::Error::QueryReturnedNoRows), _)
        | (_, Err(rusqlite::Error::QueryReturnedNoRows))
        | (Err(rusqlite::Error::SqliteFailure(_, _)), _)
        | (_, Err(rusqlite::Error::SqliteFailure(_, _))) => Ok(None),
        (Err(e), _) | (_, Err(e)) => Err(e.into()),
    }
}

/// Opens the embedded store in `dir` for `model`, checking (or, for a new index,
/// recording) the model's name and dimension.
pub fn open_store(
    dir: &Path,
    model: &str,
    dimension: usize,
    writable: bool,
) -> Result<EmbeddedStore, IndexError> {
    let store = EmbeddedStore::open(dir, dimension, writable)?;
    match (store.meta("model")?, store.meta("dimension")?) {
        (Some(m), Some(d)) => {
            let d: usize = d.parse().unwrap_or(0);
            if m != model || d != dimension {
                return Err(IndexError::ModelMismatch {
                    index: m,
                    index_dim: d,
                    asked: model.to_string(),
                    asked_dim: dimension,
                });
            }
        }
        _ if writable => {
            store.set_meta("model", model)?;
            store.set_meta("dimension", &dimension.to_string())?;
        }
        _ => {}
    }
    Ok(store)
}
