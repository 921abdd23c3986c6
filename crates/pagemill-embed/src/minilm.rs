//! `all-MiniLM-L6-v2`: its tokenizer, batching, and a choice of backends for the network.
//!
//! Texts are sorted by length and cut into batches of similar length, each padded only to
//! its own longest text (dynamic padding): padding a short text to 256 tokens would cost it
//! eight times its own work. How many tokens go into one batch is the backend's choice
//! (measured for each).

use std::path::Path;

use tokenizers::{Tokenizer, TruncationParams};

use crate::candle_bert::CandleBert;
use crate::onnx_bert::{OnnxBert, GRAPH_FILE, RUNTIME_FILE};
use crate::{EmbedError, Embedder};

/// Tokens sentence-transformers reads of a text for this model (`max_seq_length`), special
/// tokens included.
const MAX_SEQ_LEN: usize = 256;
/// What runs the network: both give the same vectors (cosine ≥ 0.9999 with
/// sentence-transformers, tested), so an index written with one is read with the other.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// ONNX Runtime when its library and the graph are installed, else candle.
    Auto,
    /// candle, pure Rust.
    Candle,
    /// ONNX Runtime (`model.onnx` + `libonnxruntime.so`, both from `scripts/setup`).
    Onnx,
}

impl Backend {
    /// From `PAGEMILL_EMBED_BACKEND` (`candle`, `onnx`; anything else or unset: auto).
    pub fn from_env() -> Backend {
        match std::env::var("PAGEMILL_EMBED_BACKEND").as_deref() {
            Ok("candle") => Backend::Candle,
            Ok("onnx") | Ok("onnxruntime") => Backend::Onnx,
            _ => Backend::Auto,
        }
    }
}

/// One way to run the network: token ids of similar length in, unit vectors out.
pub(crate) trait Network: Send + Sync {
    /// Short name for logs and reports.
    fn backend(&self) -> &'static str;
    /// Padded tokens per call of [`Network::embed_batch`] (at least one text per call).
    fn batch_tokens(&self) -> usize;
    /// Embeds texts that are already tokenised and of similar length.
    fn embed_batch(&self, ids: &[&[u32]]) -> Result<Vec<Vec<f32>>, EmbedError>;
    /// Makes ready what `callers` concurrent callers need.
    fn reserve(&self, callers: usize) -> Result<(), EmbedError> {
        let _ = callers;
        Ok(())
    }
    /// Memory held with `callers` concurrent callers (measured: `examples/embed_speed`).
    fn resident_bytes(&self, callers: usize) -> u64;
}

/// Reads one file of a model directory.
pub(crate) fn read_model_file(dir: &Path, name: &str) -> Result<Vec<u8>, EmbedError> {
    let path = dir.join(name);
    std::fs::read(&path).map_err(|e| EmbedError::Model {
        path,
        message: e.to_string(),
    })
}

/// The all-MiniLM-L6-v2 sentence-embedding model.
pub struct MiniLm {
    network: Box<dyn Network>,
    /// Cuts at [`MAX_SEQ_LEN`], adds `[CLS]`/`[SEP]`, no padding.
    tokenizer: Tokenizer,
    /// Same vocabulary, nothing cut: for counting.
    counter: Tokenizer,
}

impl MiniLm {
    /// The model's name.
    pub const NAME: &'static str = "all-MiniLM-L6-v2";

    /// Loads the model from `dir` with the backend `PAGEMILL_EMBED_BACKEND` asks for.
    pub fn load(dir: &Path) -> Result<MiniLm, EmbedError> {
        Self::load_with(dir, Backend::from_env())
    }

    /// Loads `tokenizer.json` and the network from `dir`: `config.json` and
    /// `model.safetensors` for candle, `model.onnx` and pagemill's `libonnxruntime.so`
    /// for ONNX Runtime.
    pub fn load_with(dir: &Path, backend: Backend) -> Result<MiniLm, EmbedError> {
        let library = crate::lib_dir().join(RUNTIME_FILE);
        let network: Box<dyn Network> = match backend {
            Backend::Candle => Box::new(CandleBert::load(dir)?),
            Backend::Onnx => Box::new(OnnxBert::load(dir, &library)?),
            Backend::Auto if dir.join(GRAPH_FILE).is_file() && library.is_file() => {
                match OnnxBert::load(dir, &library) {
                    Ok(net) => Box::new(net),
                    Err(e) => {
                        tracing::warn!("ONNX Runtime unusable ({e}); embedding with candle");
                        Box::new(CandleBert::load(dir)?)
                    }
                }
            }
            Backend::Auto => Box::new(CandleBert::load(dir)?),
        };
        tracing::debug!(backend = network.backend(), "embedding model loaded");
        let bad = |name: &str, message: String| EmbedError::Model {
            path: dir.join(name),
            message,
        };
        let mut counter = Tokenizer::from_bytes(read_model_file(dir, "tokenizer.json")?)
            .map_err(|e| bad("tokenizer.json", e.to_string()))?;
        counter.with_padding(None);
        counter
            .with_truncation(None)
            .map_err(|e| bad("tokenizer.json", e.to_string()))?;
        let mut tokenizer = counter.clone();
        tokenizer
            .with_truncation(Some(TruncationParams {
                max_length: MAX_SEQ_LEN,
                ..Default::default()
            }))
            .map_err(|e| bad("tokenizer.json", e.to_string()))?;
        Ok(MiniLm {
            network,
            tokenizer,
            counter,
        })
    }

    /// What runs the network: `candle` or `onnxruntime`.
    pub fn backend(&self) -> &'static str {
        self.network.backend()
    }
}

impl Embedder for MiniLm {
    fn name(&self) -> &str {
        Self::NAME
    }

    fn dimension(&self) -> usize {
        384
    }

    fn max_tokens(&self) -> usize {
        MAX_SEQ_LEN - 2
    }

    fn count_tokens(&self, text: &str) -> usize {
        self.counter
            .encode(text, false)
            .map(|e| e.len())
            // A text the tokenizer refuses is counted by its words: the budget stays a
            // budget, and the embedder reports the refusal if it is ever embedded.
            .unwrap_or_else(|_| text.split_whitespace().count())
    }

    fn reserve(&self, callers: usize) -> Result<(), EmbedError> {
        self.network.reserve(callers)
    }

    fn resident_bytes(&self, callers: usize) -> u64 {
        self.network.resident_bytes(callers)
    }

    fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, EmbedError> {
        let encodings = self
            .tokenizer
            .encode_batch(texts.to_vec(), true)
            .map_err(|e| EmbedError::Tokenizer(e.to_string()))?;
        let ids: Vec<&[u32]> = encodings.iter().map(|e| e.get_ids()).collect();
        let mut order: Vec<usize> = (0..ids.len()).collect();
        order.sort_by_key(|&i| std::cmp::Reverse(ids[i].len()));
        let mut out = vec![Vec::new(); ids.len()];
        let mut start = 0;
        while start < order.len() {
            // Sorted longest first: the first text of a batch sets its padded length.
            let len = ids[order[start]].len().max(1);
            let n = (self.network.batch_tokens() / len).clamp(1, order.len() - start);
            let batch: Vec<&[u32]> = order[start..start + n].iter().map(|&i| ids[i]).collect();
            for (k, v) in self.network.embed_batch(&batch)?.into_iter().enumerate() {
                out[order[start + k]] = v;
            }
            start += n;
        }
        Ok(out)
    }
}
