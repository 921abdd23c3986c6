//! The index as a page sink: chunk each page as it arrives, embed and store chunks in
//! batches, mark the document complete at its end.
//!
//! A sink holds the open chunk and at most one batch of closed chunks; batches go to a
//! pool of embedding threads ([`EmbedPool`]) through a queue of one batch per thread, so a
//! document of any length is indexed in the same memory. Embedding runs while the
//! engine's workers convert the next pages; when it is the slower of the two (it is, on
//! born-digital pages), the queue is full, the sink waits, the engine's reorder window
//! fills and its workers wait — backpressure, not a growing queue.

use std::collections::HashMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{channel, sync_channel, Receiver, Sender, SyncSender, TryRecvError};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use pagemill_chunk::{ChunkConfig, Chunker, TokenCounter};
use pagemill_core::model::PageOutcome;
use pagemill_core::result::PageResult;
use pagemill_core::sink::{DocumentMeta, PageSink, SinkError, SinkFactory};
use pagemill_embed::Embedder;
use sha2::{Digest, Sha256};

use crate::entities::EntityFinder;
use crate::store::{NewChunk, Store};

/// Closed chunks embedded together. The embedder sorts a call's texts by length, so a
/// larger call pads less: on 1,024 of R-refman's chunks (2 threads), calls of 64 embed
/// 42.9 chunks/s, of 256 51.9. A batch's texts and vectors stay under a MB.
const EMBED_BATCH: usize = 256;

/// A file about to be indexed: where it is, its key in the index and its content hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedDocument {
    /// The file (canonical path).
    pub path: PathBuf,
    /// The name the index knows it by: its absolute path, unless given another
    /// ([`PlannedDocument::with_key`]: a service names uploads by their file names).
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
            path: key,
            sha256,
            size,
        })
    }

    /// The same file under another name in the index.
    pub fn with_key(self, key: impl Into<String>) -> PlannedDocument {
        PlannedDocument {
            key: key.into(),
            ..self
        }
    }
}

/// The embedder's tokenizer as the chunker's token counter.
struct ModelTokens(Arc<dyn Embedder>);

impl TokenCounter for ModelTokens {
    fn count(&self, text: &str) -> usize {
        self.0.count_tokens(text)
    }
}

/// A batch of one document's chunks on its way to be embedded and stored.
struct Batch {
    doc: i64,
    /// The document's name, for the entity finder.
    name: Arc<str>,
    chunks: Vec<pagemill_chunk::Chunk>,
    done: Sender<Result<(), String>>,
}

/// Embedding threads shared by every document of a run. Each thread runs the model on
/// one core (one intra-op thread per ONNX Runtime session; for candle the process sets
/// `RAYON_NUM_THREADS=1` before any thread starts): measured on 256 texts, candle on one
/// thread embeds 17.7 texts per CPU-second against 9.7 when it spreads one batch over two
/// cores, so batches in parallel beat threads in a batch.
pub struct EmbedPool {
    queue: Option<SyncSender<Batch>>,
    threads: Vec<JoinHandle<()>>,
}

impl EmbedPool {
    /// `threads` embedding threads writing to `store`. The queue holds one batch per
    /// thread: a sink with more waits (and so does the engine behind it).
    pub fn new(
        threads: usize,
        embedder: Arc<dyn Embedder>,
        store: Arc<Mutex<dyn Store>>,
        entities: Arc<dyn EntityFinder>,
    ) -> Self {
        let threads = threads.max(1);
        // Every thread's share of the model now: memory is the same from the first page
        // of a run as at its 10,000th (measured in BENCHMARKS.md, 100 pages vs 9,660).
        if let Err(e) = embedder.reserve(threads) {
            tracing::warn!(error = %e, "cannot prepare the embedding threads ahead");
        }
        let (tx, rx) = sync_channel::<Batch>(threads);
        let rx = Arc::new(Mutex::new(rx));
        let handles = (0..threads)
            .filter_map(|i| {
                let (rx, embedder, store, entities) = (
                    Arc::clone(&rx),
                    Arc::clone(&embedder),
                    Arc::clone(&store),
                    Arc::clone(&entities),
                );
                std::thread::Builder::new()
                    .name(format!("pagemill-embed-{i}"))
                    .spawn(move || loop {
                        let next = match rx.lock() {
                            Ok(r) => r.recv(),
                            Err(_) => return,
                        };
                        let Ok(Batch {
                            doc,
                            name,
                            chunks,
                            done,
                        }) = next
                        else {
                            return;
                        };
                        let found = entities.find(&name, &chunks);
                        let _ = done.send(embed_and_store(
                            doc,
                            chunks,
                            found,
                            embedder.as_ref(),
                            &store,
                        ));
                    })
                    .ok()
            })
            .collect();
        EmbedPool {
            queue: Some(tx),
            threads: handles,
        }
    }
}

impl Drop for EmbedPool {
    fn drop(&mut self) {
        self.queue = None;
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

/// Embeds a batch of document `doc`'s chunks and stores it in one transaction.
fn embed_and_store(
    doc: i64,
    chunks: Vec<pagemill_chunk::Chunk>,
    entities: Vec<Vec<crate::entities::Entity>>,
    embedder: &dyn Embedder,
    store: &Mutex<dyn Store>,
) -> Result<(), String> {
    let texts: Vec<String> = chunks.iter().map(|c| c.embedding_text()).collect();
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    let vectors = embedder.embed(&refs).map_err(|e| e.to_string())?;
    let mut entities = entities.into_iter();
    let rows: Vec<NewChunk> = chunks
        .into_iter()
        .zip(vectors)
        .map(|(chunk, vector)| NewChunk {
            entities: entities.next().unwrap_or_default(),
            chunk,
            vector,
        })
        .collect();
    store
        .lock()
        .map_err(|_| WRITER_PANICKED.to_string())?
        .add_chunks(doc, &rows)
        .map_err(|e| e.to_string())
}

/// Makes an index sink for each document of a job.
pub struct IndexSinkFactory {
    store: Arc<Mutex<dyn Store>>,
    embedder: Arc<dyn Embedder>,
    pool: Arc<EmbedPool>,
    config: ChunkConfig,
    planned: HashMap<PathBuf, PlannedDocument>,
}

impl IndexSinkFactory {
    /// Sinks writing to `store`, embedding with `embedder` on `threads` threads. `planned`
    /// gives the key and hash of files already read (matched by canonical path); others
    /// are hashed when they start and known by their paths.
    pub fn new(
        store: Arc<Mutex<dyn Store>>,
        embedder: Arc<dyn Embedder>,
        threads: usize,
        config: ChunkConfig,
        planned: Vec<PlannedDocument>,
        entities: Arc<dyn EntityFinder>,
    ) -> Self {
        let planned = planned.into_iter().map(|p| (p.path.clone(), p)).collect();
        let pool = Arc::new(EmbedPool::new(
            threads,
            Arc::clone(&embedder),
            Arc::clone(&store),
            entities,
        ));
        IndexSinkFactory {
            store,
            embedder,
            pool,
            config,
            planned,
        }
    }
}

impl SinkFactory for IndexSinkFactory {
    /// The model and its threads' buffers: held for the whole job, so the engine admits
    /// pages into what is left of its budget.
    fn resident_bytes(&self) -> u64 {
        self.embedder.resident_bytes(self.pool.threads.len())
    }

    fn create(&self, doc: &DocumentMeta) -> Result<Option<Box<dyn PageSink>>, SinkError> {
        let key = std::fs::canonicalize(&doc.path).unwrap_or_else(|_| doc.path.clone());
        let planned = match self.planned.get(&key) {
            Some(p) => p.clone(),
            None => PlannedDocument::of(&doc.path)?,
        };
        let (done_tx, done_rx) = channel();
        Ok(Some(Box::new(IndexSink {
            store: Arc::clone(&self.store),
            pool: Arc::clone(&self.pool),
            chunker: Chunker::new(self.config, ModelTokens(Arc::clone(&self.embedder))),
            name: display_name(&planned.key),
            planned,
            doc: None,
            pending: Vec::new(),
            pages: 0,
            outstanding: 0,
            done_tx,
            done_rx,
        })))
    }
}

/// Indexes one document.
struct IndexSink {
    store: Arc<Mutex<dyn Store>>,
    pool: Arc<EmbedPool>,
    chunker: Chunker<ModelTokens>,
    planned: PlannedDocument,
    /// The document's file name, as entity prompts show it.
    name: Arc<str>,
    doc: Option<i64>,
    pending: Vec<pagemill_chunk::Chunk>,
    pages: u32,
    /// Batches sent and not yet reported back.
    outstanding: usize,
    done_tx: Sender<Result<(), String>>,
    done_rx: Receiver<Result<(), String>>,
}

/// A document's name for prompts: the last part of its key.
fn display_name(key: &str) -> Arc<str> {
    Arc::from(key.rsplit(['/', '\\']).next().unwrap_or(key))
}

/// The store's lock is poisoned: another document's writer panicked while holding it.
const WRITER_PANICKED: &str = "the index writer panicked in another document";

fn sink_err(e: impl std::fmt::Display) -> SinkError {
    SinkError::Other(format!("index: {e}"))
}

impl IndexSink {
    fn store(&self) -> Result<std::sync::MutexGuard<'_, dyn Store + 'static>, SinkError> {
        self.store.lock().map_err(|_| sink_err(WRITER_PANICKED))
    }

    /// Takes the reports of finished batches; with `wait`, waits for all of them.
    fn collect(&mut self, wait: bool) -> Result<(), SinkError> {
        let mut first_error = None;
        while self.outstanding > 0 {
            let report = if wait {
                self.done_rx
                    .recv()
                    .map_err(|_| "the embedding threads stopped".to_string())
            } else {
                match self.done_rx.try_recv() {
                    Ok(r) => Ok(r),
                    Err(TryRecvError::Empty) => break,
                    Err(TryRecvError::Disconnected) => {
                        Err("the embedding threads stopped".to_string())
                    }
                }
            };
            self.outstanding -= 1;
            if let Err(e) = report.and_then(|r| r) {
                first_error.get_or_insert(e);
            }
        }
        match first_error {
            Some(e) => Err(sink_err(e)),
            None => Ok(()),
        }
    }

    /// Hands the pending chunks to the embedding threads (waiting while their queue is
    /// full).
    fn send(&mut self) -> Result<(), SinkError> {
        self.collect(false)?;
        let Some(doc) = self.doc else { return Ok(()) };
        if self.pending.is_empty() {
            return Ok(());
        }
        let batch = Batch {
            doc,
            name: Arc::clone(&self.name),
            chunks: std::mem::take(&mut self.pending),
            done: self.done_tx.clone(),
        };
        let queue = self
            .pool
            .queue
            .as_ref()
            .ok_or_else(|| sink_err("the embedding threads stopped"))?;
        queue
            .send(batch)
            .map_err(|_| sink_err("the embedding threads stopped"))?;
        self.outstanding += 1;
        Ok(())
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
        let last = self.chunker.finish();
        self.pending.extend(last);
        self.send()?;
        self.collect(true)?;
        if let Some(doc) = self.doc {
            self.store()?
                .finish_document(doc, self.pages)
                .map_err(sink_err)?;
        }
        Ok(Vec::new())
    }

    fn abort(&mut self) {
        self.pending.clear();
        let _ = self.collect(true);
        if let Some(doc) = self.doc.take() {
            if let Ok(mut store) = self.store.lock() {
                if let Err(e) = store.remove_document(doc) {
                    tracing::warn!("index: could not remove an aborted document: {e}");
                }
            }
        }
    }
}
