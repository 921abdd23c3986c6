//! The service's search indexes: one index directory per API key and name, under
//! `DATA/indexes/`, each opened once and shared by the jobs that write it and the searches
//! that read it (an embedded index has one writer; a second open would fail on its lock).
//!
//! ```text
//! DATA/indexes/key/NAME/INDEX/   an API key's index INDEX (the layout `pagemill index` writes)
//! DATA/indexes/open/INDEX/       an index of a service without keys
//! ```
//!
//! A key sees only its own indexes: the key's name is part of the path, so another key's
//! index of the same name is a different directory.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

use pagemill_chunk::ChunkConfig;
use pagemill_core::sink::SinkFactory;
use pagemill_embed::Embedder;
use pagemill_index::{
    open_store, DocumentRecord, Filter, Hit, IndexError, IndexSinkFactory, Mode, PlannedDocument,
    Store,
};
use thiserror::Error;

use crate::auth::valid_name;
use crate::Owner;

/// Chunk size in tokens, as `pagemill index --chunk-tokens` (special tokens included).
const CHUNK_TOKENS: usize = 256;
/// Overlap in tokens, as `pagemill index --chunk-overlap`.
const CHUNK_OVERLAP: usize = 32;

/// Why an index operation failed.
#[derive(Debug, Error)]
pub enum IndexesError {
    /// The index name is not `[A-Za-z0-9_-]{1,64}`.
    #[error("index names are 1 to 64 letters, digits, `-` or `_`; `{0}` is not one")]
    BadName(String),
    /// No such index for this key.
    #[error("no index named `{0}`")]
    NotFound(String),
    /// The embedding model is not installed or cannot load.
    #[error("the embedding model cannot be loaded: {0}")]
    Model(String),
    /// The index itself failed.
    #[error(transparent)]
    Index(#[from] IndexError),
}

/// The indexes under one data directory.
pub struct Indexes {
    root: PathBuf,
    model: String,
    /// Embedding threads per indexing job.
    threads: usize,
    embedder: OnceLock<Result<Arc<dyn Embedder>, String>>,
    open: Mutex<HashMap<PathBuf, Arc<Mutex<dyn Store>>>>,
}

impl Indexes {
    /// Indexes under `root`, embedding with `model` (loaded at first use) on `threads`
    /// threads per job.
    pub fn new(root: PathBuf, model: &str, threads: usize) -> Indexes {
        Indexes {
            root,
            model: model.to_string(),
            threads: threads.max(1),
            embedder: OnceLock::new(),
            open: Mutex::new(HashMap::new()),
        }
    }

    /// The directory of `owner`'s index `name`.
    pub fn dir(&self, owner: &Owner, name: &str) -> Result<PathBuf, IndexesError> {
        if !valid_name(name) {
            return Err(IndexesError::BadName(name.to_string()));
        }
        Ok(if owner.0.is_empty() {
            self.root.join("open").join(name)
        } else {
            self.root.join("key").join(&owner.0).join(name)
        })
    }

    /// The embedding model, loaded once.
    pub fn embedder(&self) -> Result<Arc<dyn Embedder>, IndexesError> {
        self.embedder
            .get_or_init(|| {
                pagemill_embed::load(&self.model)
                    .map(Arc::from)
                    .map_err(|e| e.to_string())
            })
            .clone()
            .map_err(IndexesError::Model)
    }

    /// `owner`'s index `name`, opened (and made, when `create`) once and kept open.
    fn store(
        &self,
        owner: &Owner,
        name: &str,
        create: bool,
    ) -> Result<Arc<Mutex<dyn Store>>, IndexesError> {
        let dir = self.dir(owner, name)?;
        let mut open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(store) = open.get(&dir) {
            return Ok(Arc::clone(store));
        }
        if !create && !dir.join("index.sqlite3").exists() {
            return Err(IndexesError::NotFound(name.to_string()));
        }
        let embedder = self.embedder()?;
        let store = open_store(&dir, embedder.name(), embedder.dimension(), true)?;
        let store: Arc<Mutex<dyn Store>> = Arc::new(Mutex::new(store));
        open.insert(dir, Arc::clone(&store));
        Ok(store)
    }

    /// The sinks that index `inputs` (files of a job, known in the index by their file
    /// names) into `owner`'s index `name`, which is made if new.
    pub fn sink(
        &self,
        owner: &Owner,
        name: &str,
        inputs: &[PathBuf],
    ) -> Result<Arc<dyn SinkFactory>, IndexesError> {
        let store = self.store(owner, name, true)?;
        let mut planned = Vec::new();
        for path in inputs {
            let key = file_name(path);
            let doc = PlannedDocument::of(path).map_err(|source| IndexError::Io {
                path: path.clone(),
                source,
            })?;
            planned.push(doc.with_key(key));
        }
        let config = ChunkConfig::new(CHUNK_TOKENS - 2, CHUNK_OVERLAP);
        Ok(Arc::new(IndexSinkFactory::new(
            store,
            self.embedder()?,
            self.threads,
            config,
            planned,
            Arc::new(pagemill_index::RuleEntities),
        )))
    }

    /// Searches `owner`'s index `name`.
    pub fn search(
        &self,
        owner: &Owner,
        name: &str,
        query: &str,
        k: usize,
        mode: Mode,
        filter: &Filter,
    ) -> Result<Vec<Hit>, IndexesError> {
        let store = self.store(owner, name, false)?;
        let embedder = self.embedder()?;
        let store = store.lock().unwrap_or_else(|p| p.into_inner());
        Ok(pagemill_index::search(
            &*store,
            embedder.as_ref(),
            query,
            k,
            mode,
            filter,
        )?)
    }

    /// The documents of `owner`'s index `name`.
    pub fn documents(
        &self,
        owner: &Owner,
        name: &str,
    ) -> Result<Vec<DocumentRecord>, IndexesError> {
        let store = self.store(owner, name, false)?;
        let store = store.lock().unwrap_or_else(|p| p.into_inner());
        Ok(store.documents()?)
    }

    /// Removes `document` (its file name) from `owner`'s index `name`; `false` when the
    /// index has no such document.
    pub fn remove(&self, owner: &Owner, name: &str, document: &str) -> Result<bool, IndexesError> {
        let store = self.store(owner, name, false)?;
        let mut store = store.lock().unwrap_or_else(|p| p.into_inner());
        match store.document(document)? {
            Some(d) => {
                store.remove_document(d.id)?;
                Ok(true)
            }
            None => Ok(false),
        }
    }
}

/// A job input's name in an index: its file name.
fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.to_string_lossy().into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_key_has_its_own_directory_and_names_are_checked() {
        let ix = Indexes::new("/data/indexes".into(), "all-MiniLM-L6-v2", 1);
        let a = ix.dir(&Owner("alice".into()), "docs").unwrap();
        let b = ix.dir(&Owner("bob".into()), "docs").unwrap();
        assert_ne!(a, b);
        assert_eq!(
            ix.dir(&Owner(String::new()), "docs").unwrap(),
            PathBuf::from("/data/indexes/open/docs")
        );
        for bad in ["", "../x", "a/b", ".", "x".repeat(65).as_str()] {
            assert!(ix.dir(&Owner("alice".into()), bad).is_err(), "{bad:?}");
        }
    }
}
