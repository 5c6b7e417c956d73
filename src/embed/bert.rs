//! BERT sentence embeddings with candle: token vectors from the last layer, mean-pooled over
//! the real tokens (padding masked out). The caller L2-normalises.

use std::path::Path;

use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use candle_transformers::models::bert::{BertModel, Config};
use tokenizers::{PaddingParams, Tokenizer, TruncationParams};

use super::EmbedError;

/// Texts per forward pass, and a cap on padded tokens per pass (long texts go in smaller
/// batches, so memory stays bounded and little work is spent on padding).
const BATCH: usize = 16;
const BATCH_TOKENS: usize = 4096;

pub struct Bert {
    model: BertModel,
    tokenizer: Tokenizer,
    dim: usize,
    device: Device,
}

/// The longest input the model takes: sentence-transformers' `max_seq_length` when the folder
/// has `sentence_bert_config.json` (256 for all-MiniLM-L6-v2), else the position table's size.
pub fn max_tokens(dir: &Path, config: &serde_json::Value) -> usize {
    let positions = config
        .get("max_position_embeddings")
        .and_then(|v| v.as_u64())
        .unwrap_or(512) as usize;
    let st = std::fs::read(dir.join("sentence_bert_config.json"))
        .ok()
        .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
        .and_then(|v| v.get("max_seq_length").and_then(|m| m.as_u64()));
    match st {
        Some(n) if n > 0 => (n as usize).min(positions),
        _ => positions,
    }
}

impl Bert {
    pub fn load(
        dir: &Path,
        config: &serde_json::Value,
        weights: Vec<u8>,
        mut tokenizer: Tokenizer,
        max_tokens: usize,
    ) -> Result<Bert, EmbedError> {
        let config: Config = serde_json::from_value(config.clone())
            .map_err(|e| EmbedError::load(dir, format!("config.json: {e}")))?;
        let device = Device::Cpu;
        let tensors = candle_core::safetensors::load_buffer(&weights, &device)
            .map_err(|e| EmbedError::load(dir, format!("model.safetensors: {e}")))?;
        drop(weights);
        let vb = VarBuilder::from_tensors(tensors, DType::F32, &device);
        let model = BertModel::load(vb, &config)
            .map_err(|e| EmbedError::load(dir, format!("model.safetensors: {e}")))?;
        // The shipped tokenizer.json of all-MiniLM-L6-v2 pads every input to 128 tokens: we
        // pad per batch ourselves, with a mask, and truncate at what the model was trained on.
        tokenizer.with_padding(None::<PaddingParams>);
        tokenizer
            .with_truncation(Some(TruncationParams {
                max_length: max_tokens,
                ..Default::default()
            }))
            .map_err(|e| EmbedError::load(dir, format!("tokenizer.json: {e}")))?;
        let vocab = tokenizer.get_vocab_size(true);
        if vocab > config.vocab_size {
            return Err(EmbedError::load(
                dir,
                format!(
                    "the tokenizer has {vocab} tokens but the model only {}",
                    config.vocab_size
                ),
            ));
        }
        let bert = Bert {
            model,
            tokenizer,
            dim: config.hidden_size,
            device,
        };
        // One pass now, so a model whose weights do not fit its config fails here, with the
        // folder named, and not on the first note.
        bert.embed(&["a"])
            .map_err(|e| EmbedError::load(dir, e.to_string()))?;
        Ok(bert)
    }

    pub fn dim(&self) -> usize {
        self.dim
    }

    pub fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, EmbedError> {
        let encodings = self
            .tokenizer
            .encode_batch(texts.to_vec(), true)
            .map_err(|e| EmbedError::Run(e.to_string()))?;
        let mut order: Vec<usize> = (0..texts.len()).collect();
        order.sort_by_key(|&i| encodings[i].get_ids().len());
        let mut out = vec![Vec::new(); texts.len()];
        let mut start = 0;
        while start < order.len() {
            // Sorted by length, so the last text of a batch is its longest.
            let mut end = start + 1;
            while end < order.len()
                && end - start < BATCH
                && (end - start + 1) * encodings[order[end]].get_ids().len() <= BATCH_TOKENS
            {
                end += 1;
            }
            let batch: Vec<&tokenizers::Encoding> =
                order[start..end].iter().map(|&i| &encodings[i]).collect();
            let vectors = self
                .forward(&batch)
                .map_err(|e| EmbedError::Run(e.to_string()))?;
            for (&i, v) in order[start..end].iter().zip(vectors) {
                out[i] = v;
            }
            start = end;
        }
        Ok(out)
    }

    fn forward(&self, batch: &[&tokenizers::Encoding]) -> candle_core::Result<Vec<Vec<f32>>> {
        let len = batch
            .iter()
            .map(|e| e.get_ids().len())
            .max()
            .unwrap_or(0)
            .max(1);
        let n = batch.len();
        let mut ids = vec![0u32; n * len];
        let mut mask = vec![0u32; n * len];
        for (row, e) in batch.iter().enumerate() {
            for (col, &id) in e.get_ids().iter().enumerate() {
                ids[row * len + col] = id;
                mask[row * len + col] = 1;
            }
        }
        let ids = Tensor::from_vec(ids, (n, len), &self.device)?;
        let mask = Tensor::from_vec(mask, (n, len), &self.device)?;
        let types = ids.zeros_like()?;
        let hidden = self.model.forward(&ids, &types, Some(&mask))?; // [n, len, dim]
        let maskf = mask.to_dtype(DType::F32)?.unsqueeze(2)?; // [n, len, 1]
        let summed = hidden.broadcast_mul(&maskf)?.sum(1)?; // [n, dim]
        let counts = maskf.sum(1)?.clamp(1f32, f32::MAX)?; // [n, 1]
        let mean = summed.broadcast_div(&counts)?;
        mean.to_vec2::<f32>()
    }
}
