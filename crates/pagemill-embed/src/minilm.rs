//! `all-MiniLM-L6-v2` on candle's CPU backend.
//!
//! Throughput comes from how texts are batched, not from the network: texts are sorted by
//! length and cut into batches of similar length, each padded only to its own longest text
//! (dynamic padding). A batch of 256-token chunks costs about as much per token as one
//! text, while padding a short text to 256 tokens would cost it eight times its own work.

use std::path::Path;

use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use candle_transformers::models::bert::{BertModel, Config};
use tokenizers::{Tokenizer, TruncationParams};

use crate::{EmbedError, Embedder};

/// Tokens sentence-transformers reads of a text for this model (`max_seq_length`), special
/// tokens included.
const MAX_SEQ_LEN: usize = 256;
/// Padded tokens per batch. Measured on 256 texts of ~180 tokens (2 cores,
/// `examples/embed_speed`): 512 → 8.7 texts per CPU-second, 181 MB peak; 2048 → 10.1;
/// 8192 → 7.7 and 678 MB (attention scores grow with the square of the length and
/// linearly with the batch, and fall out of cache).
const BATCH_TOKENS: usize = 2048;

/// The all-MiniLM-L6-v2 sentence-embedding model.
pub struct MiniLm {
    model: BertModel,
    /// Cuts at [`MAX_SEQ_LEN`], adds `[CLS]`/`[SEP]`, no padding.
    tokenizer: Tokenizer,
    /// Same vocabulary, nothing cut: for counting.
    counter: Tokenizer,
    device: Device,
}

impl MiniLm {
    /// The model's name.
    pub const NAME: &'static str = "all-MiniLM-L6-v2";

    /// Loads `config.json`, `model.safetensors` and `tokenizer.json` from `dir`.
    pub fn load(dir: &Path) -> Result<MiniLm, EmbedError> {
        crate::alloc::keep_activations_mapped();
        let read = |name: &str| {
            let path = dir.join(name);
            std::fs::read(&path).map_err(|e| EmbedError::Model {
                path,
                message: e.to_string(),
            })
        };
        let bad = |name: &str, message: String| EmbedError::Model {
            path: dir.join(name),
            message,
        };
        let config: Config = serde_json::from_slice(&read("config.json")?)
            .map_err(|e| bad("config.json", e.to_string()))?;
        let device = Device::Cpu;
        let vb =
            VarBuilder::from_buffered_safetensors(read("model.safetensors")?, DType::F32, &device)
                .map_err(|e| bad("model.safetensors", e.to_string()))?;
        let model =
            BertModel::load(vb, &config).map_err(|e| bad("model.safetensors", e.to_string()))?;
        let mut counter = Tokenizer::from_bytes(read("tokenizer.json")?)
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
            model,
            tokenizer,
            counter,
            device,
        })
    }

    /// Embeds texts that are already tokenised and of similar length.
    fn embed_batch(&self, ids: &[&[u32]]) -> Result<Vec<Vec<f32>>, EmbedError> {
        let len = ids.iter().map(|t| t.len()).max().unwrap_or(0).max(1);
        let mut flat_ids = Vec::with_capacity(ids.len() * len);
        let mut flat_mask = Vec::with_capacity(ids.len() * len);
        for t in ids {
            flat_ids.extend_from_slice(t);
            flat_ids.extend(std::iter::repeat_n(0u32, len - t.len()));
            flat_mask.extend(std::iter::repeat_n(1u32, t.len()));
            flat_mask.extend(std::iter::repeat_n(0u32, len - t.len()));
        }
        let shape = (ids.len(), len);
        let input = Tensor::from_vec(flat_ids, shape, &self.device)?;
        let mask = Tensor::from_vec(flat_mask, shape, &self.device)?;
        let types = input.zeros_like()?;
        let hidden = self.model.forward(&input, &types, Some(&mask))?;
        // Mean over real tokens: padded positions are zeroed by the mask before the sum.
        let mask = mask.to_dtype(DType::F32)?.unsqueeze(2)?;
        let summed = hidden.broadcast_mul(&mask)?.sum(1)?;
        let counts = mask.sum(1)?.clamp(1e-9, f64::MAX)?;
        let mean = summed.broadcast_div(&counts)?;
        let norm = mean.sqr()?.sum_keepdim(1)?.sqrt()?.clamp(1e-12, f64::MAX)?;
        let unit = mean.broadcast_div(&norm)?;
        Ok(unit.to_vec2::<f32>()?)
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
            let n = (BATCH_TOKENS / len).clamp(1, order.len() - start);
            let batch: Vec<&[u32]> = order[start..start + n].iter().map(|&i| ids[i]).collect();
            for (k, v) in self.embed_batch(&batch)?.into_iter().enumerate() {
                out[order[start + k]] = v;
            }
            start += n;
        }
        Ok(out)
    }
}
