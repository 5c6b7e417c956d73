//! Static embedding models (model2vec layout, e.g. WordLlama): one vector per token in a
//! table; a text's vector is the average of its tokens' vectors (the caller L2-normalises).
//! No transformer, so thousands of notes a second on one core.

use std::path::Path;

use safetensors::SafeTensors;
use tokenizers::{PaddingParams, Tokenizer};

use super::EmbedError;
use super::tensors::to_f32;

/// Names the table may have: model2vec's and WordLlama's. A file holding a single 2-D tensor
/// is used whatever its name.
const TABLE_NAMES: [&str; 2] = ["embeddings", "embedding.weight"];

pub struct StaticModel {
    /// Row-major `[rows, dim]`.
    table: Vec<f32>,
    rows: usize,
    dim: usize,
    tokenizer: Tokenizer,
}

impl StaticModel {
    pub fn load(
        dir: &Path,
        weights: &[u8],
        mut tokenizer: Tokenizer,
    ) -> Result<StaticModel, EmbedError> {
        // Read straight from the file's bytes into the f32 table: through candle tensors the
        // table was copied three times on the way (100 MB at once for WordLlama's 16 MB file).
        let file = SafeTensors::deserialize(weights)
            .map_err(|e| EmbedError::load(dir, format!("model.safetensors: {e}")))?;
        let view = TABLE_NAMES
            .iter()
            .find_map(|n| file.tensor(n).ok())
            .or_else(|| {
                let tensors = file.tensors();
                let mut two_d = tensors.into_iter().filter(|(_, t)| t.shape().len() == 2);
                match (two_d.next(), two_d.next()) {
                    (Some((_, t)), None) => Some(t),
                    _ => None,
                }
            })
            .ok_or_else(|| {
                EmbedError::load(
                    dir,
                    "model.safetensors holds no token-vector table (and config.json describes no transformer)",
                )
            })?;
        let &[rows, dim] = view.shape() else {
            return Err(EmbedError::load(
                dir,
                format!(
                    "the token-vector table has shape {:?}, not [tokens, dimensions]",
                    view.shape()
                ),
            ));
        };
        if rows == 0 || dim == 0 {
            return Err(EmbedError::load(dir, "the token-vector table is empty"));
        }
        let table = to_f32(view.dtype(), view.data()).ok_or_else(|| {
            EmbedError::load(
                dir,
                format!(
                    "the token-vector table is {:?}; F32, F16 or BF16 expected",
                    view.dtype()
                ),
            )
        })?;
        let vocab = tokenizer.get_vocab_size(true);
        if vocab > rows {
            return Err(EmbedError::load(
                dir,
                format!("the tokenizer has {vocab} tokens but the table only {rows} rows"),
            ));
        }
        // Every token counts once, with no special tokens and no truncation (as WordLlama
        // embeds); chunks are already capped in length.
        tokenizer.with_padding(None::<PaddingParams>);
        let _ = tokenizer.with_truncation(None);
        Ok(StaticModel {
            table,
            rows,
            dim,
            tokenizer,
        })
    }

    pub fn dim(&self) -> usize {
        self.dim
    }

    pub fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, EmbedError> {
        texts
            .iter()
            .map(|t| {
                let enc = self
                    .tokenizer
                    .encode(*t, false)
                    .map_err(|e| EmbedError::Run(e.to_string()))?;
                let mut v = vec![0f32; self.dim];
                let ids = enc.get_ids();
                for &id in ids {
                    let row = (id as usize).min(self.rows - 1);
                    let r = &self.table[row * self.dim..(row + 1) * self.dim];
                    for (a, b) in v.iter_mut().zip(r) {
                        *a += b;
                    }
                }
                if !ids.is_empty() {
                    let n = ids.len() as f32;
                    v.iter_mut().for_each(|x| *x /= n);
                }
                Ok(v)
            })
            .collect()
    }
}
