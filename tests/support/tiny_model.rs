//! Tiny embedding models the tests write themselves, so no test needs a download: a two-layer
//! BERT (hidden size 16, 201 word pieces) with deterministic weights that
//! `tiny_bert_reference.py` re-implements in numpy, and a static token table over the same
//! vocabulary. Also the raw safetensors writer, for broken files.
#![allow(dead_code)]

use std::path::Path;

use serde_json::json;

pub const H: usize = 16;
const LAYERS: usize = 2;
const HEADS: usize = 4;
const INTER: usize = 32;
pub const POS: usize = 64;
const SPECIALS: [&str; 5] = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"];

/// The word pieces, specials first (ids in this order).
pub fn vocab() -> Vec<String> {
    let words = include_str!("tiny_vocab.txt");
    SPECIALS
        .iter()
        .map(|s| s.to_string())
        .chain(words.split_whitespace().map(String::from))
        .collect()
}

/// Value `i` of tensor number `k`, as in `tiny_bert_reference.py`.
fn weight(k: usize, name: &str, n: usize) -> Vec<f32> {
    (0..n)
        .map(|i| {
            let s = (2.71 * i as f64 + 1.3 * k as f64).sin();
            let v = if name.ends_with("LayerNorm.weight") {
                1.0 + 0.1 * s
            } else if name.ends_with("bias") {
                0.05 * s
            } else {
                0.4 * s
            };
            v as f32
        })
        .collect()
}

fn tensor_names(v: usize) -> Vec<(String, Vec<usize>)> {
    let mut out: Vec<(String, Vec<usize>)> = vec![
        ("embeddings.word_embeddings.weight".into(), vec![v, H]),
        ("embeddings.position_embeddings.weight".into(), vec![POS, H]),
        ("embeddings.token_type_embeddings.weight".into(), vec![2, H]),
        ("embeddings.LayerNorm.weight".into(), vec![H]),
        ("embeddings.LayerNorm.bias".into(), vec![H]),
    ];
    for l in 0..LAYERS {
        let p = format!("encoder.layer.{l}.");
        for m in ["query", "key", "value"] {
            out.push((format!("{p}attention.self.{m}.weight"), vec![H, H]));
            out.push((format!("{p}attention.self.{m}.bias"), vec![H]));
        }
        for (n, s) in [
            ("attention.output.dense.weight", vec![H, H]),
            ("attention.output.dense.bias", vec![H]),
            ("attention.output.LayerNorm.weight", vec![H]),
            ("attention.output.LayerNorm.bias", vec![H]),
            ("intermediate.dense.weight", vec![INTER, H]),
            ("intermediate.dense.bias", vec![INTER]),
            ("output.dense.weight", vec![H, INTER]),
            ("output.dense.bias", vec![H]),
            ("output.LayerNorm.weight", vec![H]),
            ("output.LayerNorm.bias", vec![H]),
        ] {
            out.push((format!("{p}{n}"), s));
        }
    }
    out
}

/// A tensor to write: name, dtype (`F32` or `F16`), shape, little-endian bytes.
pub struct RawTensor {
    pub name: String,
    pub dtype: &'static str,
    pub shape: Vec<usize>,
    pub bytes: Vec<u8>,
}

impl RawTensor {
    pub fn f32(name: &str, shape: Vec<usize>, values: &[f32]) -> RawTensor {
        RawTensor {
            name: name.into(),
            dtype: "F32",
            shape,
            bytes: values.iter().flat_map(|v| v.to_le_bytes()).collect(),
        }
    }

    pub fn f16(name: &str, shape: Vec<usize>, values: &[f32]) -> RawTensor {
        RawTensor {
            name: name.into(),
            dtype: "F16",
            shape,
            bytes: values
                .iter()
                .flat_map(|v| half::f16::from_f32(*v).to_le_bytes())
                .collect(),
        }
    }
}

/// The safetensors format: an 8-byte header length, a JSON header, the data.
pub fn safetensors_bytes(tensors: &[RawTensor]) -> Vec<u8> {
    let mut header = serde_json::Map::new();
    let mut offset = 0;
    for t in tensors {
        header.insert(
            t.name.clone(),
            json!({"dtype": t.dtype, "shape": t.shape, "data_offsets": [offset, offset + t.bytes.len()]}),
        );
        offset += t.bytes.len();
    }
    let header = serde_json::to_vec(&header).unwrap();
    let mut out = (header.len() as u64).to_le_bytes().to_vec();
    out.extend_from_slice(&header);
    for t in tensors {
        out.extend_from_slice(&t.bytes);
    }
    out
}

/// A WordPiece tokenizer.json over [`vocab`], lower-casing like BERT's uncased models.
pub fn tokenizer_json() -> serde_json::Value {
    let vocab: serde_json::Map<String, serde_json::Value> = vocab()
        .into_iter()
        .enumerate()
        .map(|(i, t)| (t, json!(i)))
        .collect();
    let added: Vec<_> = SPECIALS
        .iter()
        .enumerate()
        .map(|(i, s)| {
            json!({"id": i, "content": s, "single_word": false, "lstrip": false,
                   "rstrip": false, "normalized": false, "special": true})
        })
        .collect();
    json!({
        "version": "1.0",
        "truncation": null,
        // Like all-MiniLM-L6-v2's shipped file: padding on. The loader must turn it off.
        "padding": {"strategy": {"Fixed": 32}, "direction": "Right", "pad_to_multiple_of": null,
                    "pad_id": 0, "pad_type_id": 0, "pad_token": "[PAD]"},
        "added_tokens": added,
        "normalizer": {"type": "BertNormalizer", "clean_text": true, "handle_chinese_chars": true,
                       "strip_accents": null, "lowercase": true},
        "pre_tokenizer": {"type": "BertPreTokenizer"},
        "post_processor": {"type": "BertProcessing", "sep": ["[SEP]", 3], "cls": ["[CLS]", 2]},
        "decoder": {"type": "WordPiece", "prefix": "##", "cleanup": true},
        "model": {"type": "WordPiece", "unk_token": "[UNK]", "continuing_subword_prefix": "##",
                  "max_input_chars_per_word": 100, "vocab": vocab}
    })
}

pub fn bert_config() -> serde_json::Value {
    json!({
        "architectures": ["BertModel"], "model_type": "bert",
        "attention_probs_dropout_prob": 0.1, "hidden_act": "gelu", "hidden_dropout_prob": 0.1,
        "hidden_size": H, "initializer_range": 0.02, "intermediate_size": INTER,
        "layer_norm_eps": 1e-12, "max_position_embeddings": POS, "num_attention_heads": HEADS,
        "num_hidden_layers": LAYERS, "pad_token_id": 0, "position_embedding_type": "absolute",
        "type_vocab_size": 2, "vocab_size": vocab().len()
    })
}

/// The BERT's tensors, in the reference script's order.
pub fn bert_tensors() -> Vec<RawTensor> {
    tensor_names(vocab().len())
        .into_iter()
        .enumerate()
        .map(|(k, (name, shape))| {
            let n = shape.iter().product();
            RawTensor::f32(&name, shape, &weight(k, &name, n))
        })
        .collect()
}

/// Writes the tiny BERT into `dir` (created).
pub fn write_bert(dir: &Path) {
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join("config.json"), bert_config().to_string()).unwrap();
    std::fs::write(dir.join("tokenizer.json"), tokenizer_json().to_string()).unwrap();
    std::fs::write(
        dir.join("model.safetensors"),
        safetensors_bytes(&bert_tensors()),
    )
    .unwrap();
}

/// Row `id` of the static table: one-hot, so a text's vector is its bag of word pieces and
/// cosine similarity is plain word overlap (easy to reason about in ranking tests).
pub fn static_row(id: usize) -> Vec<f32> {
    let mut row = vec![0f32; vocab().len()];
    row[id] = 1.0;
    row
}

/// Writes a static model (WordLlama's layout: one F16 `embedding.weight`, no config.json).
pub fn write_static(dir: &Path) {
    std::fs::create_dir_all(dir).unwrap();
    let rows = vocab().len();
    let table: Vec<f32> = (0..rows).flat_map(static_row).collect();
    std::fs::write(dir.join("tokenizer.json"), tokenizer_json().to_string()).unwrap();
    std::fs::write(
        dir.join("model.safetensors"),
        safetensors_bytes(&[RawTensor::f16("embedding.weight", vec![rows, rows], &table)]),
    )
    .unwrap();
}

/// The id of a word piece in [`vocab`].
pub fn id(token: &str) -> usize {
    vocab()
        .iter()
        .position(|t| t == token)
        .expect("token in vocab")
}
