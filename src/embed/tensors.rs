//! Reading model weights straight from a safetensors file's bytes into f32 buffers.

use safetensors::{Dtype, SafeTensors};

/// A tensor's little-endian values as f32 (`None` for another type). Safetensors has
/// already checked that the data's length fits the shape.
pub fn to_f32(dtype: Dtype, data: &[u8]) -> Option<Vec<f32>> {
    match dtype {
        Dtype::F32 => Some(
            data.chunks_exact(4)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .collect(),
        ),
        Dtype::F16 => Some(
            data.chunks_exact(2)
                .map(|b| half::f16::from_le_bytes([b[0], b[1]]).to_f32())
                .collect(),
        ),
        // bfloat16 is the upper half of an f32.
        Dtype::BF16 => Some(
            data.chunks_exact(2)
                .map(|b| f32::from_bits(u32::from(u16::from_le_bytes([b[0], b[1]])) << 16))
                .collect(),
        ),
        _ => None,
    }
}

/// Named tensors of a transformer checkpoint, looked up by their Hugging Face names.
pub struct Checkpoint<'a> {
    file: SafeTensors<'a>,
}

impl<'a> Checkpoint<'a> {
    pub fn parse(bytes: &'a [u8]) -> Result<Checkpoint<'a>, String> {
        SafeTensors::deserialize(bytes)
            .map(|file| Checkpoint { file })
            .map_err(|e| format!("model.safetensors: {e}"))
    }

    /// The tensor `name` (or its spelling in older checkpoints: a `bert.` prefix, LayerNorm's
    /// `gamma`/`beta`) as f32, which must have exactly `shape`.
    pub fn get(&self, name: &str, shape: &[usize]) -> Result<Vec<f32>, String> {
        let old = name
            .strip_suffix("LayerNorm.weight")
            .map(|p| format!("{p}LayerNorm.gamma"))
            .or_else(|| {
                name.strip_suffix("LayerNorm.bias")
                    .map(|p| format!("{p}LayerNorm.beta"))
            });
        let mut spellings = vec![name.to_string(), format!("bert.{name}")];
        if let Some(old) = old {
            spellings.push(format!("bert.{old}"));
            spellings.push(old);
        }
        let view = spellings
            .iter()
            .find_map(|n| self.file.tensor(n).ok())
            .ok_or_else(|| format!("model.safetensors has no tensor {name}"))?;
        if view.shape() != shape {
            return Err(format!(
                "model.safetensors: {name} has shape {:?} where the config needs {shape:?}",
                view.shape()
            ));
        }
        to_f32(view.dtype(), view.data()).ok_or_else(|| {
            format!(
                "model.safetensors: {name} is {:?}; F32, F16 or BF16 expected",
                view.dtype()
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_of_each_float_type_read_as_f32() {
        let values = [1.0f32, -2.5, 0.0, 65504.0];
        let f32_bytes: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        let f16_bytes: Vec<u8> = values
            .iter()
            .flat_map(|v| half::f16::from_f32(*v).to_le_bytes())
            .collect();
        let bf16_bytes: Vec<u8> = values
            .iter()
            .flat_map(|v| half::bf16::from_f32(*v).to_le_bytes())
            .collect();
        assert_eq!(to_f32(Dtype::F32, &f32_bytes).unwrap(), values);
        assert_eq!(to_f32(Dtype::F16, &f16_bytes).unwrap(), values);
        // 65504 is not a bfloat16 value; the rest are.
        let bf = to_f32(Dtype::BF16, &bf16_bytes).unwrap();
        assert_eq!(bf[..3], values[..3]);
        assert_eq!(bf[3], half::bf16::from_f32(65504.0).to_f32());
        assert_eq!(to_f32(Dtype::I64, &f32_bytes), None);
    }
}
