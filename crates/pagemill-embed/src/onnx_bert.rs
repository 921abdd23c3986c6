//! The network as an ONNX graph in ONNX Runtime, loaded at run time.
//!
//! `scripts/setup` writes the graph (`model.onnx`, by `scripts/bert-to-onnx`, from the same
//! safetensors weights: pooling and normalisation are in the graph) and installs
//! `libonnxruntime.so` from the `onnxruntime` PyPI wheel. Each session runs on the calling
//! thread only (one intra-op thread): the index runs one embedding thread per core, and
//! batches in parallel beat threads inside a batch here as they do with candle.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

use ort::session::builder::GraphOptimizationLevel;
use ort::session::Session;
use ort::value::Tensor;

use crate::minilm::Network;
use crate::EmbedError;

/// The graph's file name in a model directory.
pub const GRAPH_FILE: &str = "model.onnx";
/// The runtime library's file name in pagemill's library directory.
pub const RUNTIME_FILE: &str = "libonnxruntime.so";

/// Padded tokens per run. ONNX Runtime gains little from batching on one thread and
/// loses on large batches: on 1,024 of R-refman's chunks (mean 155 tokens, 2 threads,
/// `examples/embed_speed`), one text per run gives 38.2 texts/s, 256 tokens 40.3, 1,024
/// 36.5, 2,048 36.2, 4,096 30.0 (sentence-transformers on the same texts: 20.4).
const BATCH_TOKENS: usize = 256;
/// Memory of the loaded model and tokenizer whatever the threads (MB), and what each
/// embedding thread adds at its largest batches. Measured with `examples/embed_speed` on
/// 293 texts of 228 tokens on average, calls of 256, peak RSS over the process before the
/// model was loaded — ONNX Runtime: 178 MB with one thread, 280 with two (each session holds its own copy of the weights and its arena).
const RESIDENT_BASE_MB: u64 = 80;
/// See [`RESIDENT_BASE_MB`].
const RESIDENT_PER_CALLER_MB: u64 = 100;

/// The sentence-embedding graph, with one session per thread that has used it.
pub struct OnnxBert {
    graph: PathBuf,
    /// Idle sessions. A call takes one (or makes one when all are busy) and puts it back,
    /// so there are never more sessions than threads that embedded at the same time.
    idle: Mutex<Vec<Session>>,
}

/// Loads the runtime library once per process; later calls return the first outcome.
fn runtime(library: &Path) -> Result<(), EmbedError> {
    static LOADED: OnceLock<Result<(), String>> = OnceLock::new();
    LOADED
        .get_or_init(|| {
            let builder = ort::init_from(library).map_err(|e| e.to_string())?;
            builder.with_name("pagemill").commit();
            Ok(())
        })
        .clone()
        .map_err(|message| EmbedError::Model {
            path: library.to_path_buf(),
            message,
        })
}

impl OnnxBert {
    /// Loads the runtime from `library` and the graph from `dir`, checking that a session
    /// can be made.
    pub fn load(dir: &Path, library: &Path) -> Result<OnnxBert, EmbedError> {
        runtime(library)?;
        let net = OnnxBert {
            graph: dir.join(GRAPH_FILE),
            idle: Mutex::new(Vec::new()),
        };
        let first = net.session()?;
        net.put_back(first);
        Ok(net)
    }

    /// An idle session, or a new one when all are busy.
    fn session(&self) -> Result<Session, EmbedError> {
        if let Some(s) = self.idle.lock().ok().and_then(|mut idle| idle.pop()) {
            return Ok(s);
        }
        self.session_new()
    }

    fn session_new(&self) -> Result<Session, EmbedError> {
        let bad = |e: ort::Error| EmbedError::Model {
            path: self.graph.clone(),
            message: e.to_string(),
        };
        Session::builder()
            .map_err(bad)?
            .with_optimization_level(GraphOptimizationLevel::Level3)
            .map_err(|e| bad(e.into()))?
            .with_intra_threads(1)
            .map_err(|e| bad(e.into()))?
            .with_inter_threads(1)
            .map_err(|e| bad(e.into()))?
            .with_intra_op_spinning(false)
            .map_err(|e| bad(e.into()))?
            .commit_from_file(&self.graph)
            .map_err(bad)
    }

    fn put_back(&self, session: Session) {
        if let Ok(mut idle) = self.idle.lock() {
            idle.push(session);
        }
    }
}

impl Network for OnnxBert {
    fn backend(&self) -> &'static str {
        "onnxruntime"
    }

    fn batch_tokens(&self) -> usize {
        BATCH_TOKENS
    }

    fn resident_bytes(&self, callers: usize) -> u64 {
        (RESIDENT_BASE_MB + RESIDENT_PER_CALLER_MB * callers as u64) << 20
    }

    fn reserve(&self, callers: usize) -> Result<(), EmbedError> {
        let idle = self.idle.lock().map(|i| i.len()).unwrap_or(0);
        for _ in idle..callers {
            let session = self.session_new()?;
            self.put_back(session);
        }
        Ok(())
    }

    fn embed_batch(&self, ids: &[&[u32]]) -> Result<Vec<Vec<f32>>, EmbedError> {
        let len = ids.iter().map(|t| t.len()).max().unwrap_or(0).max(1);
        let mut flat_ids = Vec::with_capacity(ids.len() * len);
        let mut flat_mask = Vec::with_capacity(ids.len() * len);
        for t in ids {
            flat_ids.extend(t.iter().map(|&i| i64::from(i)));
            flat_ids.extend(std::iter::repeat_n(0i64, len - t.len()));
            flat_mask.extend(std::iter::repeat_n(1i64, t.len()));
            flat_mask.extend(std::iter::repeat_n(0i64, len - t.len()));
        }
        let compute = |e: ort::Error| EmbedError::Compute(e.to_string());
        let shape = [ids.len(), len];
        let input = Tensor::from_array((shape, flat_ids)).map_err(compute)?;
        let mask = Tensor::from_array((shape, flat_mask)).map_err(compute)?;
        let mut session = self.session()?;
        let result = (|| {
            let outputs = session
                .run(ort::inputs!["input_ids" => input, "attention_mask" => mask])
                .map_err(compute)?;
            let Some(value) = outputs.get("sentence_embedding") else {
                return Err(EmbedError::Compute(
                    "the graph has no output named sentence_embedding".into(),
                ));
            };
            let (_, data) = value.try_extract_tensor::<f32>().map_err(compute)?;
            if data.len() % ids.len().max(1) != 0 {
                return Err(EmbedError::Compute("unexpected output shape".into()));
            }
            let dim = data.len() / ids.len().max(1);
            Ok(data.chunks(dim.max(1)).map(<[f32]>::to_vec).collect())
        })();
        self.put_back(session);
        result
    }
}
