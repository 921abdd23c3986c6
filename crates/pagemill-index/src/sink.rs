//! The index as a page sink: chunk each page as it arrives, embed and store chunks in
//! batches, mark the document complete at its end.
//!
//! A sink holds the open chunk and at most one batch of closed chunks, so a document of
//! any length is indexed in the same memory. Embedding happens in the sink's thread while
//! the engine's workers convert the next pages; when embedding is the slower of the two
//! (it is, on born-digital pages), the engine's reorder window fills and the workers wait —
//! backpressure, not a growing queue.

use std::collections::HashMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use pagemill_chunk::{ChunkConfig, Chunker, TokenCounter};
use pagemill_core::model::PageOutcome;
use pagemill_core::result::PageResult;
use pagemill_core::sink::{DocumentMeta, PageSink, SinkError, SinkFactory};
use pagemill_embed::Embedder;
use sha2::{Digest, Sha256};

use crate::store::{NewChunk, Store};

/// Closed chunks embedded together: enough for the embedder to form full batches of
/// similar length, few enough that a batch's texts and vectors stay well under a MB.
const EMBED_BATCH: usize = 64;
/// Batches waiting for the embedding thread before the sink (and so the engine) waits:
/// one being embedded and one ready keeps the thread busy without holding more.
const QUEUED_BATCHES: usize = 1;

/// A file about to be indexed: its key in the index and its content hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedDocument {
    /// The path the index knows it by (absolute).
    pub key: String,
    /// SHA-256 of its bytes, hex.
    pub sha256: String,
    /// Its size in bytes.
    pub size: u64,
}

impl PlannedDocument {
    /// Reads `path` once to hash it.
    pub fn of(path: &Path) -> std::io::Result<PlannedDocument> {
        let key = std::fs::canonicalize(path)?;
        let mut f = std::fs::File::open(&key)?;
        let mut h = Sha256::new();
        let mut buf = vec![0u8; 1 << 16];
        let mut size = 0u64;
        loop {
            let n = f.read(&mut buf)?;
            if n == 0 {
                break;
            }
            size += n as u64;
            h.update(&buf[..n]);
        }
        let sha256 = h.finalize().iter().map(|b| format!("{b:02x}")).collect();
        Ok(PlannedDocument {
            key: key.to_string_lossy().into_owned(),
            sha256,
            size,
        })
    }
}

/// The embedder's tokenizer as the chunker's token counter.
struct ModelTokens(Arc<dyn Embedder>);

impl TokenCounter for ModelTokens {
    fn count(&self, text: &str) -> usize {
        self.0.count_tokens(text)
    }
}

/// Makes an index sink for each document of a job.
pub struct IndexSinkFactory {
    store: Arc<Mutex<dyn Store>>,
    embedder: Arc<dyn Embedder>,
    config: ChunkConfig,
    planned: HashMap<PathBuf, PlannedDocument>,
}

impl IndexSinkFactory {
    /// Sinks writing to `store`, embedding with `embedder`. `planned` gives the hash of
    /// files already read (keyed by canonical path); others are hashed when they start.
    pub fn new(
        store: Arc<Mutex<dyn Store>>,
        embedder: Arc<dyn Embedder>,
        config: ChunkConfig,
        planned: Vec<PlannedDocument>,
    ) -> Self {
        let planned = planned
            .into_iter()
            .map(|p| (PathBuf::from(&p.key), p))
            .collect();
        IndexSinkFactory {
            store,
            embedder,
            config,
            planned,
        }
    }
}

impl SinkFactory for IndexSinkFactory {
    fn create(&self, doc: &DocumentMeta) -> Result<Option<Box<dyn PageSink>>, SinkError> {
        let key = std::fs::canonicalize(&doc.path).unwrap_or_else(|_| doc.path.clone());
        let planned = match self.planned.get(&key) {
            Some(p) => p.clone(),
            None => PlannedDocument::of(&doc.path)?,
        };
        Ok(Some(Box::new(IndexSink {
            store: Arc::clone(&self.store),
            embedder: Arc::clone(&self.embedder),
            chunker: Chunker::new(self.config, ModelTokens(Arc::clone(&self.embedder))),
            planned,
            doc: None,
            pending: Vec::new(),
            pages: 0,
            batches: None,
            embedding: None,
        })))
    }
}

/// Indexes one document.
struct IndexSink {
    store: Arc<Mutex<dyn Store>>,
    embedder: Arc<dyn Embedder>,
    chunker: Chunker<ModelTokens>,
    planned: PlannedDocument,
    doc: Option<i64>,
    pending: Vec<pagemill_chunk::Chunk>,
    pages: u32,
    /// Batches on their way to the embedding thread.
    batches: Option<SyncSender<Vec<pagemill_chunk::Chunk>>>,
    embedding: Option<JoinHandle<Result<(), String>>>,
}

fn sink_err(e: impl std::fmt::Display) -> SinkError {
    SinkError::Other(format!("index: {e}"))
}

/// The embedding thread: embeds each batch and stores it in one transaction.
fn embed_and_store(
    batches: Receiver<Vec<pagemill_chunk::Chunk>>,
    embedder: Arc<dyn Embedder>,
    store: Arc<Mutex<dyn Store>>,
    doc: i64,
) -> Result<(), String> {
    for chunks in batches {
        let texts: Vec<String> = chunks.iter().map(|c| c.embedding_text()).collect();
        let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
        let vectors = embedder.embed(&refs).map_err(|e| e.to_string())?;
        let rows: Vec<NewChunk> = chunks
            .into_iter()
            .zip(vectors)
            .map(|(chunk, vector)| NewChunk {
                entities: crate::entities::extract(&chunk.text),
                chunk,
                vector,
            })
            .collect();
        store
            .lock()
            .map_err(|_| "the index writer panicked in another document".to_string())?
            .add_chunks(doc, &rows)
            .map_err(|e| e.to_string())?;
    }
    Ok(())
}

impl IndexSink {
    fn store(&self) -> Result<std::sync::MutexGuard<'_, dyn Store + 'static>, SinkError> {
        self.store
            .lock()
            .map_err(|_| sink_err("the index writer panicked in another document"))
    }

    /// Hands the pending chunks to the embedding thread (waiting while it is
    /// [`QUEUED_BATCHES`] behind).
    fn send(&mut self) -> Result<(), SinkError> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let batch = std::mem::take(&mut self.pending);
        let sent = self.batches.as_ref().map(|tx| tx.send(batch).is_ok());
        if sent == Some(true) {
            return Ok(());
        }
        // The thread stopped: say why.
        self.join()
    }

    /// Closes the queue and waits for the embedding thread.
    fn join(&mut self) -> Result<(), SinkError> {
        self.batches = None;
        match self.embedding.take().map(|h| h.join()) {
            None | Some(Ok(Ok(()))) => Ok(()),
            Some(Ok(Err(e))) => Err(sink_err(e)),
            Some(Err(_)) => Err(sink_err("the embedding thread panicked")),
        }
    }
}

impl PageSink for IndexSink {
    fn begin(&mut self, _doc: &DocumentMeta) -> Result<(), SinkError> {
        let p = &self.planned;
        let id = self
            .store()?
            .begin_document(&p.key, &p.sha256, p.size)
            .map_err(sink_err)?;
        self.doc = Some(id);
        let (tx, rx) = sync_channel(QUEUED_BATCHES);
        let (embedder, store) = (Arc::clone(&self.embedder), Arc::clone(&self.store));
        let handle = std::thread::Builder::new()
            .name("pagemill-embed".into())
            .spawn(move || embed_and_store(rx, embedder, store, id))?;
        self.batches = Some(tx);
        self.embedding = Some(handle);
        Ok(())
    }

    fn page(&mut self, page: &PageResult) -> Result<(), SinkError> {
        if let PageOutcome::Ok(p) = &page.outcome {
            self.pages += 1;
            let closed = self.chunker.push_page(p);
            self.pending.extend(closed);
            if self.pending.len() >= EMBED_BATCH {
                self.send()?;
            }
        }
        Ok(())
    }

    fn finish(&mut self) -> Result<Vec<PathBuf>, SinkError> {
        let chunker = std::mem::replace(
            &mut self.chunker,
            Chunker::new(
                ChunkConfig::default(),
                ModelTokens(Arc::clone(&self.embedder)),
            ),
        );
        self.pending.extend(chunker.finish());
        self.send()?;
        self.join()?;
        if let Some(doc) = self.doc {
            self.store()?
                .finish_document(doc, self.pages)
                .map_err(sink_err)?;
        }
        Ok(Vec::new())
    }

    fn abort(&mut self) {
        self.pending.clear();
        let _ = self.join();
        if let Some(doc) = self.doc.take() {
            if let Ok(mut store) = self.store.lock() {
                if let Err(e) = store.remove_document(doc) {
                    tracing::warn!("index: could not remove an aborted document: {e}");
                }
            }
        }
    }
}
