//! BERT sentence embeddings: token vectors from the last layer, mean-pooled over the text's
//! tokens. The caller L2-normalises.
//!
//! The forward pass is our own (the arithmetic in `crates/kernels`): texts of a batch are laid
//! end to end rather than padded to the longest, so no work goes to padding, and each attends
//! only to its own tokens. It exists because a query of ten tokens spent most of its time in
//! the general matrix product's packing of the weights.
//!
//! Where the CPU has AVX-512 VNNI the dense layers run in int8 (`vaultmcp_kernels::quant`:
//! weights per output, each token's activations over their own range, exact integer sums): a
//! query's pass took 2.0–2.6 → 0.63–0.87 ms (p50, one query alone) and 19–23 → 9.6–10.5 ms
//! for sixteen at once; the vectors stay within a cosine of 0.99 of candle-transformers' f32 `BertModel` (a
//! test checks), and the eval's figures moved as CHANGELOG.md records. Elsewhere they run in
//! f32 on bfloat16 weights. The model's identity names the arithmetic, so an index moved to a
//! machine of the other kind recomputes its vectors rather than mixing the two.

use std::path::Path;

use serde::Deserialize;
use tokenizers::{PaddingParams, Tokenizer, TruncationParams};

use super::EmbedError;
use super::tensors::Checkpoint;
use vaultmcp_kernels as kernels;
use vaultmcp_kernels::quant::{self, Packed8};
use vaultmcp_kernels::{Activation, Packed};

/// Tokens per forward pass: bounds the activations' memory (the widest, the intermediate
/// layer, is 4096 × 1536 floats = 24 MiB for all-MiniLM-L6-v2) whatever the batch.
const PASS_TOKENS: usize = 4096;

/// Text below which a batch is tokenised on the calling thread: `encode_batch` hands each
/// text to rayon's threads, and for a batch of queries (a few hundred bytes) the hand-offs
/// cost more than the tokenising, on a core that is busy serving anyway. Note chunks (up to a
/// thousand characters each) are worth spreading.
const PARALLEL_TOKENIZE_BYTES: usize = 16 * 1024;

/// The part of a BERT `config.json` the forward pass needs.
#[derive(Deserialize)]
struct Config {
    vocab_size: usize,
    hidden_size: usize,
    num_hidden_layers: usize,
    num_attention_heads: usize,
    intermediate_size: usize,
    max_position_embeddings: usize,
    #[serde(default = "default_act")]
    hidden_act: String,
    #[serde(default = "default_eps")]
    layer_norm_eps: f64,
    #[serde(default = "default_types")]
    type_vocab_size: usize,
    #[serde(default)]
    position_embedding_type: Option<String>,
}

fn default_act() -> String {
    "gelu".into()
}
fn default_eps() -> f64 {
    1e-12
}
fn default_types() -> usize {
    2
}

struct Norm {
    gamma: Vec<f32>,
    beta: Vec<f32>,
}

/// A dense layer's weights: int8 where the CPU has AVX-512 VNNI, else bfloat16 for f32
/// arithmetic (see `vaultmcp_kernels::quant` for why not int8 everywhere).
enum Dense {
    Int8(Packed8),
    F32(Packed),
}

impl Dense {
    fn new(w: &[f32], bias: Vec<f32>) -> Dense {
        if quant::available() {
            Dense::Int8(Packed8::new(w, bias))
        } else {
            Dense::F32(Packed::new(w, bias))
        }
    }

    fn outputs(&self) -> usize {
        match self {
            Dense::Int8(p) => p.outputs(),
            Dense::F32(p) => p.outputs(),
        }
    }

    fn run(&self, x: &[f32], y: &mut [f32]) {
        match self {
            Dense::Int8(p) => quant::dense(x, p, y),
            Dense::F32(p) => kernels::dense(x, p, y),
        }
    }
}

struct Layer {
    /// Query, key and value stacked into one `[3 × hidden, hidden]` product.
    qkv: Dense,
    attn_out: Dense,
    attn_norm: Norm,
    up: Dense,
    down: Dense,
    out_norm: Norm,
}

pub struct Bert {
    /// `[vocab, hidden]`, as bfloat16: half the memory of the largest table, and a rounding
    /// (at most 2⁻⁹ of each value) far below the dense layers' int8 step.
    words: Vec<u16>,
    /// `[positions, hidden]`, with the first token type's row already added (every text is
    /// one segment).
    positions: Vec<f32>,
    embed_norm: Norm,
    layers: Vec<Layer>,
    heads: usize,
    dim: usize,
    act: Activation,
    eps: f32,
    tokenizer: Tokenizer,
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
        let bad = |reason: String| EmbedError::load(dir, reason);
        let c: Config =
            serde_json::from_value(config.clone()).map_err(|e| bad(format!("config.json: {e}")))?;
        let act = Activation::from_name(&c.hidden_act).ok_or_else(|| {
            bad(format!(
                "config.json: hidden_act {:?} is not supported (gelu, gelu_new, relu are)",
                c.hidden_act
            ))
        })?;
        if let Some(p) = c
            .position_embedding_type
            .as_deref()
            .filter(|p| *p != "absolute")
        {
            return Err(bad(format!(
                "config.json: position_embedding_type {p:?} is not supported (absolute is)"
            )));
        }
        let h = c.hidden_size;
        if h == 0 || c.num_attention_heads == 0 || !h.is_multiple_of(c.num_attention_heads) {
            return Err(bad(format!(
                "config.json: hidden_size {h} is not a multiple of num_attention_heads {}",
                c.num_attention_heads
            )));
        }
        if c.type_vocab_size == 0 || c.max_position_embeddings == 0 {
            return Err(bad("config.json: no token types or no positions".into()));
        }

        let file = Checkpoint::parse(&weights).map_err(bad)?;
        let get = |name: &str, shape: &[usize]| file.get(name, shape).map_err(bad);
        let norm = |prefix: &str| -> Result<Norm, EmbedError> {
            Ok(Norm {
                gamma: get(&format!("{prefix}LayerNorm.weight"), &[h])?,
                beta: get(&format!("{prefix}LayerNorm.bias"), &[h])?,
            })
        };
        let dense =
            |name: &str, out: usize, inp: usize| -> Result<(Vec<f32>, Vec<f32>), EmbedError> {
                Ok((
                    get(&format!("{name}.weight"), &[out, inp])?,
                    get(&format!("{name}.bias"), &[out])?,
                ))
            };
        let packed = |(w, b): (Vec<f32>, Vec<f32>)| Dense::new(&w, b);

        let words: Vec<u16> = get("embeddings.word_embeddings.weight", &[c.vocab_size, h])?
            .into_iter()
            .map(kernels::to_bf16)
            .collect();
        let mut positions = get(
            "embeddings.position_embeddings.weight",
            &[c.max_position_embeddings, h],
        )?;
        let types = get(
            "embeddings.token_type_embeddings.weight",
            &[c.type_vocab_size, h],
        )?;
        for row in positions.chunks_exact_mut(h) {
            for (p, t) in row.iter_mut().zip(&types[..h]) {
                *p += t;
            }
        }
        let embed_norm = norm("embeddings.")?;
        let mut layers = Vec::with_capacity(c.num_hidden_layers);
        for l in 0..c.num_hidden_layers {
            let p = format!("encoder.layer.{l}.");
            let (q, k, v) = (
                dense(&format!("{p}attention.self.query"), h, h)?,
                dense(&format!("{p}attention.self.key"), h, h)?,
                dense(&format!("{p}attention.self.value"), h, h)?,
            );
            layers.push(Layer {
                qkv: Dense::new(&[q.0, k.0, v.0].concat(), [q.1, k.1, v.1].concat()),
                attn_out: packed(dense(&format!("{p}attention.output.dense"), h, h)?),
                attn_norm: norm(&format!("{p}attention.output."))?,
                up: packed(dense(
                    &format!("{p}intermediate.dense"),
                    c.intermediate_size,
                    h,
                )?),
                down: packed(dense(&format!("{p}output.dense"), h, c.intermediate_size)?),
                out_norm: norm(&format!("{p}output."))?,
            });
        }
        drop(file);
        drop(weights);

        // The shipped tokenizer.json of all-MiniLM-L6-v2 pads every input to 128 tokens: the
        // forward pass takes each text at its own length, and truncates at what the model was
        // trained on.
        tokenizer.with_padding(None::<PaddingParams>);
        tokenizer
            .with_truncation(Some(TruncationParams {
                max_length: max_tokens.min(c.max_position_embeddings),
                ..Default::default()
            }))
            .map_err(|e| bad(format!("tokenizer.json: {e}")))?;
        let vocab = tokenizer.get_vocab_size(true);
        if vocab > c.vocab_size {
            return Err(bad(format!(
                "the tokenizer has {vocab} tokens but the model only {}",
                c.vocab_size
            )));
        }
        Ok(Bert {
            words,
            positions,
            embed_norm,
            layers,
            heads: c.num_attention_heads,
            dim: h,
            act,
            eps: c.layer_norm_eps as f32,
            tokenizer,
        })
    }

    pub fn dim(&self) -> usize {
        self.dim
    }

    /// Whether the dense layers compute in int8 (on this CPU).
    pub fn int8(&self) -> bool {
        self.layers
            .first()
            .is_some_and(|l| matches!(l.qkv, Dense::Int8(_)))
    }

    pub fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, EmbedError> {
        let bytes: usize = texts.iter().map(|t| t.len()).sum();
        let encodings = if bytes < PARALLEL_TOKENIZE_BYTES {
            texts
                .iter()
                .map(|t| self.tokenizer.encode(*t, true))
                .collect::<Result<Vec<_>, _>>()
        } else {
            self.tokenizer.encode_batch(texts.to_vec(), true)
        }
        .map_err(|e| EmbedError::Run(e.to_string()))?;
        let mut out = Vec::with_capacity(texts.len());
        let mut start = 0;
        while start < encodings.len() {
            let mut end = start + 1;
            let mut tokens = encodings[start].get_ids().len();
            while end < encodings.len() && tokens + encodings[end].get_ids().len() <= PASS_TOKENS {
                tokens += encodings[end].get_ids().len();
                end += 1;
            }
            let ids: Vec<&[u32]> = encodings[start..end].iter().map(|e| e.get_ids()).collect();
            out.extend(self.forward(&ids));
            start = end;
        }
        Ok(out)
    }

    /// The mean of the last layer's token vectors, for each token sequence.
    fn forward(&self, seqs: &[&[u32]]) -> Vec<Vec<f32>> {
        let h = self.dim;
        let lens: Vec<usize> = seqs.iter().map(|s| s.len()).collect();
        let tokens: usize = lens.iter().sum();
        let rows = self.words.len() / h;
        let mut x = vec![0f32; tokens * h];
        let mut at = 0;
        for seq in seqs {
            for (pos, &id) in seq.iter().enumerate() {
                // The tokenizer's ids are checked against the table at load; truncation keeps
                // positions inside theirs.
                let word = &self.words[(id as usize).min(rows - 1) * h..][..h];
                let place = &self.positions[pos * h..][..h];
                for ((v, w), p) in x[at * h..(at + 1) * h].iter_mut().zip(word).zip(place) {
                    *v = kernels::from_bf16(*w) + p;
                }
                at += 1;
            }
        }
        let e = &self.embed_norm;
        kernels::layer_norm(&mut x, &e.gamma, &e.beta, self.eps);

        let wide = self.layers.first().map_or(0, |l| l.up.outputs());
        let mut qkv = vec![0f32; tokens * 3 * h];
        let mut ctx = vec![0f32; tokens * h];
        let mut mid = vec![0f32; tokens * h];
        let mut up = vec![0f32; tokens * wide];
        for l in &self.layers {
            l.qkv.run(&x, &mut qkv);
            kernels::attention(&qkv, &lens, self.heads, &mut ctx);
            l.attn_out.run(&ctx, &mut mid);
            add(&mut mid, &x);
            kernels::layer_norm(&mut mid, &l.attn_norm.gamma, &l.attn_norm.beta, self.eps);
            l.up.run(&mid, &mut up);
            self.act.apply(&mut up);
            l.down.run(&up, &mut x);
            add(&mut x, &mid);
            kernels::layer_norm(&mut x, &l.out_norm.gamma, &l.out_norm.beta, self.eps);
        }

        let mut out = Vec::with_capacity(seqs.len());
        let mut at = 0;
        for &len in &lens {
            let mut mean = vec![0f32; h];
            for row in x[at * h..(at + len) * h].chunks_exact(h) {
                add(&mut mean, row);
            }
            let n = len.max(1) as f32;
            mean.iter_mut().for_each(|v| *v /= n);
            out.push(mean);
            at += len;
        }
        out
    }
}

fn add(acc: &mut [f32], x: &[f32]) {
    for (a, b) in acc.iter_mut().zip(x) {
        *a += b;
    }
}
