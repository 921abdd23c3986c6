//! The network on candle's CPU backend: pure Rust, always available.

use std::path::Path;

use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use candle_transformers::models::bert::{BertModel, Config};

use crate::minilm::{read_model_file, Network};
use crate::EmbedError;

/// Padded tokens per batch. Measured on 256 texts of ~180 tokens (2 cores,
/// `examples/embed_speed`): 512 → 8.7 texts per CPU-second, 181 MB peak; 2048 → 10.1;
/// 8192 → 7.7 and 678 MB (attention scores grow with the square of the length and
/// linearly with the batch, and fall out of cache).
const BATCH_TOKENS: usize = 2048;
/// Memory of the loaded model and tokenizer whatever the threads (MB), and what each
/// embedding thread adds at its largest batches. Measured with `examples/embed_speed` on
/// 293 texts of 228 tokens on average, calls of 256, peak RSS over the process before the
/// model was loaded — candle: 282 MB with one thread, 445 with two (one copy of the weights; each thread's activations at 2,048 padded tokens).
const RESIDENT_BASE_MB: u64 = 120;
/// See [`RESIDENT_BASE_MB`].
const RESIDENT_PER_CALLER_MB: u64 = 165;

/// BERT from `config.json` and `model.safetensors`, with mean pooling and L2
/// normalisation written out here.
pub struct CandleBert {
    model: BertModel,
    device: Device,
}

impl CandleBert {
    /// Loads the weights from `dir`.
    pub fn load(dir: &Path) -> Result<CandleBert, EmbedError> {
        crate::alloc::keep_activations_mapped();
        let bad = |name: &str, message: String| EmbedError::Model {
            path: dir.join(name),
            message,
        };
        let config: Config = serde_json::from_slice(&read_model_file(dir, "config.json")?)
            .map_err(|e| bad("config.json", e.to_string()))?;
        let device = Device::Cpu;
        let vb = VarBuilder::from_buffered_safetensors(
            read_model_file(dir, "model.safetensors")?,
            DType::F32,
            &device,
        )
        .map_err(|e| bad("model.safetensors", e.to_string()))?;
        let model =
            BertModel::load(vb, &config).map_err(|e| bad("model.safetensors", e.to_string()))?;
        Ok(CandleBert { model, device })
    }
}

impl Network for CandleBert {
    fn backend(&self) -> &'static str {
        "candle"
    }

    fn batch_tokens(&self) -> usize {
        BATCH_TOKENS
    }

    fn resident_bytes(&self, callers: usize) -> u64 {
        (RESIDENT_BASE_MB + RESIDENT_PER_CALLER_MB * callers as u64) << 20
    }

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
