//! A worker host's documents: each producer's document, fetched once from the object store
//! into a local cache file, known to the local worker processes by a host-wide id (two
//! producers may both have a document 1), and dropped when its producer closes it or when
//! the cache is full.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use async_nats::jetstream::object_store::ObjectStore;
use pagemill_core::protocol::{DocRef, DocumentSource};
use tokio::sync::OnceCell;

use crate::{store, NatsError};

/// Documents kept open and cached at once; more are dropped oldest first (those with no
/// page under way).
const CACHED_DOCS: usize = 8;

/// One cached document.
struct Cached {
    local_id: u32,
    /// The fetch, shared by every task of the document that arrives while it runs.
    file: Arc<OnceCell<Result<PathBuf, String>>>,
    key: String,
    last_use: u64,
    /// Requests of it under way on this host.
    busy: usize,
    /// Its producer closed it: dropped once not busy.
    closed: bool,
}

/// The cache, keyed by (producer, the producer's document id).
pub(super) struct Documents {
    dir: PathBuf,
    docs: HashMap<(String, u32), Cached>,
    next_local: u32,
    clock: u64,
}

/// What a task's document became on this host.
pub(super) struct Local {
    /// The host-wide id the worker processes know it by.
    pub local_id: u32,
    /// The fetch to wait for.
    pub file: Arc<OnceCell<Result<PathBuf, String>>>,
    /// The object's name.
    pub key: String,
}

impl Documents {
    /// A cache in `dir` (created; emptied of files a previous run left).
    pub(super) fn new(dir: PathBuf) -> Result<Self, NatsError> {
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir)
            .map_err(|e| NatsError::io(format!("cannot create {}", dir.display()), e))?;
        Ok(Documents {
            dir,
            docs: HashMap::new(),
            next_local: 1,
            clock: 0,
        })
    }

    /// The document a task names, registered (its fetch not yet started) and marked busy.
    pub(super) fn take(&mut self, producer: &str, doc: &DocRef) -> Result<Local, String> {
        let DocumentSource::Stored { key, .. } = &doc.source else {
            return Err(format!(
                "{}: the document is not in the object store; a producer stores it first",
                doc.source
            ));
        };
        self.clock += 1;
        let entry = self
            .docs
            .entry((producer.to_string(), doc.id))
            .or_insert_with(|| {
                let local_id = self.next_local;
                self.next_local = self.next_local.wrapping_add(1).max(1);
                Cached {
                    local_id,
                    file: Arc::new(OnceCell::new()),
                    key: key.clone(),
                    last_use: 0,
                    busy: 0,
                    closed: false,
                }
            });
        entry.busy += 1;
        entry.last_use = self.clock;
        Ok(Local {
            local_id: entry.local_id,
            file: Arc::clone(&entry.file),
            key: entry.key.clone(),
        })
    }

    /// Where a document's copy goes.
    pub(super) fn path_for(&self, local_id: u32, name: &str) -> PathBuf {
        // The original extension helps nothing (workers sniff the bytes) but makes the
        // cache readable.
        let ext = Path::new(name)
            .extension()
            .map(|e| format!(".{}", e.to_string_lossy()))
            .unwrap_or_default();
        self.dir.join(format!("doc-{local_id}{ext}"))
    }

    /// Where a document's upscaled pages go on this host.
    pub(super) fn upscaled_dir(&self, local_id: u32) -> PathBuf {
        self.dir.join(format!("upscaled-{local_id}"))
    }

    /// A request of the document ended on this host.
    pub(super) fn release(&mut self, producer: &str, doc: u32) {
        if let Some(c) = self.docs.get_mut(&(producer.to_string(), doc)) {
            c.busy = c.busy.saturating_sub(1);
        }
    }

    /// The producer closed the document.
    pub(super) fn close(&mut self, producer: &str, doc: u32) {
        if let Some(c) = self.docs.get_mut(&(producer.to_string(), doc)) {
            c.closed = true;
        }
    }

    /// Drops closed documents and, past the cache's size, the least recently used idle
    /// ones; returns their host-wide ids (the worker processes are told to close them).
    pub(super) fn evict(&mut self) -> Vec<u32> {
        let mut gone: Vec<(String, u32)> = self
            .docs
            .iter()
            .filter(|(_, c)| c.closed && c.busy == 0)
            .map(|(k, _)| k.clone())
            .collect();
        let left = self.docs.len() - gone.len();
        if left > CACHED_DOCS {
            let mut idle: Vec<(&(String, u32), u64)> = self
                .docs
                .iter()
                .filter(|(_, c)| !c.closed && c.busy == 0)
                .map(|(k, c)| (k, c.last_use))
                .collect();
            idle.sort_by_key(|&(_, t)| t);
            gone.extend(
                idle.into_iter()
                    .take(left - CACHED_DOCS)
                    .map(|(k, _)| k.clone()),
            );
        }
        let mut ids = Vec::new();
        for k in gone {
            if let Some(c) = self.docs.remove(&k) {
                if let Some(Ok(path)) = c.file.get() {
                    let _ = std::fs::remove_file(path);
                }
                let _ = std::fs::remove_dir_all(self.upscaled_dir(c.local_id));
                ids.push(c.local_id);
            }
        }
        ids
    }

    /// Removes the cache directory.
    pub(super) fn clear(&mut self) {
        self.docs.clear();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Fetches a document once (every task of it waits on the same fetch).
pub(super) async fn fetch(
    file: &OnceCell<Result<PathBuf, String>>,
    docs: &ObjectStore,
    key: &str,
    path: PathBuf,
) -> Result<PathBuf, String> {
    file.get_or_init(|| async {
        match store::get_file(docs, key, &path).await {
            Ok(()) => Ok(path),
            Err(e) => Err(e.to_string()),
        }
    })
    .await
    .clone()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(id: u32, key: &str) -> DocRef {
        crate::wire::stored_doc(id, key)
    }

    #[test]
    fn producers_documents_get_their_own_host_ids() {
        let dir = tempfile::tempdir().unwrap();
        let mut d = Documents::new(dir.path().join("c")).unwrap();
        let a = d.take("p1", &doc(1, "k1")).unwrap().local_id;
        let b = d.take("p2", &doc(1, "k2")).unwrap().local_id;
        let a2 = d.take("p1", &doc(1, "k1")).unwrap().local_id;
        assert_ne!(a, b);
        assert_eq!(a, a2);
    }

    #[test]
    fn closed_documents_go_once_idle_and_the_cache_stays_bounded() {
        let dir = tempfile::tempdir().unwrap();
        let mut d = Documents::new(dir.path().join("c")).unwrap();
        let first = d.take("p", &doc(0, "k")).unwrap().local_id;
        d.close("p", 0);
        assert!(d.evict().is_empty(), "busy documents stay");
        d.release("p", 0);
        assert_eq!(d.evict(), vec![first]);
        for i in 1..=(CACHED_DOCS as u32 + 3) {
            d.take("p", &doc(i, "k")).unwrap();
            d.release("p", i);
        }
        assert_eq!(d.evict().len(), 3);
        assert_eq!(d.docs.len(), CACHED_DOCS);
    }

    #[test]
    fn local_files_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let mut d = Documents::new(dir.path().join("c")).unwrap();
        let mut r = doc(1, "k");
        r.source = DocumentSource::path("/etc/passwd");
        assert!(d.take("p", &r).is_err());
    }
}
