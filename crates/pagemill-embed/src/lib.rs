//! Local sentence embeddings behind the [`Embedder`] trait.
//!
//! The model shipped today is [`MiniLm`]: `all-MiniLM-L6-v2` (a 6-layer BERT, 384
//! dimensions) with the sentence-transformers recipe — mean of the last hidden states over
//! the real tokens, then L2 normalisation — so its vectors agree with
//! sentence-transformers' to cosine ≥ 0.9999 (tested against reference vectors in
//! `tests/data`). Two backends run the network ([`Backend`]): ONNX Runtime, loaded at run
//! time, when `scripts/setup` has installed it, and `candle` (pure Rust) otherwise.
//! Nothing is fetched from a network: `scripts/setup` installs the weights.
#![deny(unsafe_code)]

mod alloc;
mod candle_bert;
mod minilm;
mod onnx_bert;

use std::path::PathBuf;

use thiserror::Error;

pub use minilm::{Backend, MiniLm};

/// Why embedding could not be done.
#[derive(Debug, Error)]
pub enum EmbedError {
    /// A model file is missing or unreadable.
    #[error(
        "cannot read the embedding model at {path}: {message} (run scripts/setup to install it)"
    )]
    Model {
        /// The file or directory.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },
    /// The tokenizer refused a text.
    #[error("tokenizer: {0}")]
    Tokenizer(String),
    /// The network itself failed (shapes, memory).
    #[error("embedding model: {0}")]
    Compute(String),
}

impl From<candle_core::Error> for EmbedError {
    fn from(e: candle_core::Error) -> Self {
        EmbedError::Compute(e.to_string())
    }
}

/// A text embedding model.
pub trait Embedder: Send + Sync {
    /// The model's name, as stored in an index (`all-MiniLM-L6-v2`).
    fn name(&self) -> &str;
    /// Length of its vectors.
    fn dimension(&self) -> usize;
    /// Tokens it reads of one text, its special tokens excluded; the rest is cut.
    fn max_tokens(&self) -> usize;
    /// Tokens of `text` as the model counts them (special tokens excluded, nothing cut).
    fn count_tokens(&self, text: &str) -> usize;
    /// One unit-length vector per text, in order.
    fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, EmbedError>;
    /// Makes ready what `callers` threads embedding at once need (ONNX Runtime: one session
    /// each), so memory is taken up front, not as work arrives. The default does nothing.
    fn reserve(&self, callers: usize) -> Result<(), EmbedError> {
        let _ = callers;
        Ok(())
    }
    /// Memory the model holds with `callers` threads embedding at once — weights, runtime
    /// state, each thread's largest activations — for a memory budget to count. The
    /// default says nothing is known (0).
    fn resident_bytes(&self, callers: usize) -> u64 {
        let _ = callers;
        0
    }
}

/// pagemill's data directory: `$PAGEMILL_HOME` or `~/.local/share/pagemill`.
fn data_dir() -> PathBuf {
    if let Some(home) = std::env::var_os("PAGEMILL_HOME") {
        return PathBuf::from(home);
    }
    let home = std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_default();
    home.join(".local/share/pagemill")
}

/// Where `scripts/setup` installs models: `models/` in pagemill's data directory.
pub fn models_dir() -> PathBuf {
    data_dir().join("models")
}

/// Where `scripts/setup` installs shared libraries (ONNX Runtime): `lib/` in pagemill's
/// data directory.
pub fn lib_dir() -> PathBuf {
    data_dir().join("lib")
}

/// Cosine similarity of two vectors (0 when either is zero).
pub fn cosine(a: &[f32], b: &[f32]) -> f32 {
    let dot: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
    let na: f32 = a.iter().map(|x| x * x).sum::<f32>().sqrt();
    let nb: f32 = b.iter().map(|x| x * x).sum::<f32>().sqrt();
    if na == 0.0 || nb == 0.0 {
        0.0
    } else {
        dot / (na * nb)
    }
}

/// Loads a model by name from [`models_dir`].
pub fn load(name: &str) -> Result<Box<dyn Embedder>, EmbedError> {
    match name {
        MiniLm::NAME | "minilm" => Ok(Box::new(MiniLm::load(&models_dir().join(MiniLm::NAME))?)),
        other => Err(EmbedError::Model {
            path: models_dir().join(other),
            message: format!("unknown model {other:?}; known: {}", MiniLm::NAME),
        }),
    }
}
