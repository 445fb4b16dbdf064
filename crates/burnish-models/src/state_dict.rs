//! PyTorch-style state dicts: named float tensors, read from and written to safetensors bytes.
//!
//! A model of the zoo imports PyTorch weights by taking each tensor by its PyTorch name
//! (`weight_ih_l0`, `self_attn.in_proj_weight`, ...) and exports its own weights under the same
//! names, so a `state_dict` saved by `safetensors.torch.save_file` loads here and back. This
//! module only converts bytes; reading and writing files is the caller's job.

use std::collections::BTreeMap;

use burn::tensor::{Device, Tensor, TensorData};
use safetensors::{Dtype, SafeTensors, tensor::TensorView};

use crate::model::Error;

/// Named float tensors with their shapes, in PyTorch's layouts.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StateDict {
    tensors: BTreeMap<String, (Vec<usize>, Vec<f32>)>,
}

impl StateDict {
    /// An empty state dict.
    pub fn new() -> Self {
        Self::default()
    }

    /// Parses safetensors bytes. Float64, float16 and bfloat16 tensors are converted to float32; any
    /// other type is an error naming the tensor.
    pub fn from_safetensors(bytes: &[u8]) -> Result<Self, Error> {
        let file = parse(bytes)?;
        let mut state_dict = Self::new();
        for (name, view) in file.iter() {
            let values = floats(name, &view)?;
            state_dict
                .tensors
                .insert(name.to_string(), (view.shape().to_vec(), values));
        }
        Ok(state_dict)
    }

    /// The names of the tensors in safetensors bytes, in the file's order, without
    /// converting any tensor.
    pub fn tensor_names(bytes: &[u8]) -> Result<Vec<String>, Error> {
        let file = parse(bytes)?;
        Ok(file.names().into_iter().map(str::to_string).collect())
    }

    /// Parses the tensors of safetensors bytes that `rename` keeps, under the names it gives
    /// (`None` skips a tensor, which is then never converted: a checkpoint's integer buffers
    /// or unused heads cost nothing and are no error). Floats convert as
    /// [`Self::from_safetensors`] converts them.
    pub fn from_safetensors_where(
        bytes: &[u8],
        mut rename: impl FnMut(&str) -> Option<String>,
    ) -> Result<Self, Error> {
        let file = parse(bytes)?;
        let mut state_dict = Self::new();
        for (name, view) in file.iter() {
            let Some(renamed) = rename(name) else {
                continue;
            };
            let values = floats(name, &view)?;
            state_dict
                .tensors
                .insert(renamed, (view.shape().to_vec(), values));
        }
        Ok(state_dict)
    }

    /// The safetensors bytes of every tensor, as float32.
    pub fn to_safetensors(&self) -> Vec<u8> {
        let bytes: Vec<(&str, Vec<usize>, Vec<u8>)> = self
            .tensors
            .iter()
            .map(|(name, (shape, values))| {
                let data = values
                    .iter()
                    .flat_map(|value| value.to_le_bytes())
                    .collect();
                (name.as_str(), shape.clone(), data)
            })
            .collect();
        let views = bytes.iter().map(|(name, shape, data)| {
            let view = TensorView::new(Dtype::F32, shape.clone(), data)
                .expect("the byte count follows from the shape");
            (*name, view)
        });
        safetensors::serialize(views, None).expect("float32 tensors always serialise")
    }

    /// The names of the tensors, sorted.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.tensors.keys().map(String::as_str)
    }

    /// The number of tensors.
    pub fn len(&self) -> usize {
        self.tensors.len()
    }

    /// Whether there are no tensors.
    pub fn is_empty(&self) -> bool {
        self.tensors.is_empty()
    }

    /// Whether a tensor is called `name`.
    pub fn contains(&self, name: &str) -> bool {
        self.tensors.contains_key(name)
    }

    /// The shape of the tensor called `name`, if there is one.
    pub fn shape(&self, name: &str) -> Option<&[usize]> {
        self.tensors.get(name).map(|(shape, _)| shape.as_slice())
    }

    /// The values, row-major, of the tensor called `name`, which must have exactly `shape`.
    pub fn values(&self, name: &str, shape: &[usize]) -> Result<&[f32], Error> {
        let (actual, values) = self.tensors.get(name).ok_or_else(|| missing(name))?;
        if actual.as_slice() != shape {
            return Err(wrong_shape(name, actual, shape));
        }
        Ok(values)
    }

    /// Stores `values`, row-major, as a tensor of `shape` under `name`, replacing any tensor
    /// of that name.
    ///
    /// # Panics
    /// When the number of values is not the product of the shape.
    pub fn insert_values(&mut self, name: impl Into<String>, shape: Vec<usize>, values: Vec<f32>) {
        assert_eq!(
            shape.iter().product::<usize>(),
            values.len(),
            "{shape:?} holds another number of values"
        );
        self.tensors.insert(name.into(), (shape, values));
    }

    /// Stores `tensor` under `name`, replacing any tensor of that name.
    pub fn insert<const D: usize>(&mut self, name: impl Into<String>, tensor: Tensor<D>) {
        let shape = tensor.dims().to_vec();
        let values = tensor
            .into_data()
            .try_into_vec_as::<f32>()
            .expect("float tensors convert to float32");
        self.tensors.insert(name.into(), (shape, values));
    }

    /// The tensor called `name`, which must have exactly `shape`.
    pub fn tensor<const D: usize>(
        &self,
        name: &str,
        shape: [usize; D],
        device: &Device,
    ) -> Result<Tensor<D>, Error> {
        let values = self.values(name, &shape)?;
        Ok(Tensor::from_data(
            TensorData::new(values.to_vec(), shape),
            device,
        ))
    }

    /// Checks that every tensor's name is in `used`, so that weights meant for another
    /// architecture are not half-loaded in silence.
    pub fn expect_only<'a>(&self, used: impl IntoIterator<Item = &'a str>) -> Result<(), Error> {
        let used: std::collections::BTreeSet<&str> = used.into_iter().collect();
        match self.names().find(|name| !used.contains(name)) {
            Some(name) => Err(Error::Weights {
                name: name.to_string(),
                reason: "is not a weight of this model".to_string(),
            }),
            None => Ok(()),
        }
    }
}

fn parse(bytes: &[u8]) -> Result<SafeTensors<'_>, Error> {
    SafeTensors::deserialize(bytes).map_err(|error| Error::Weights {
        name: String::new(),
        reason: format!("not a safetensors file: {error}"),
    })
}

fn missing(name: &str) -> Error {
    Error::Weights {
        name: name.to_string(),
        reason: "missing".to_string(),
    }
}

fn wrong_shape(name: &str, actual: &[usize], expected: &[usize]) -> Error {
    Error::Weights {
        name: name.to_string(),
        reason: format!("has shape {actual:?}, expected {expected:?}"),
    }
}

fn floats(name: &str, view: &TensorView<'_>) -> Result<Vec<f32>, Error> {
    let bytes = view.data();
    let values = match view.dtype() {
        Dtype::F32 => bytes
            .chunks_exact(4)
            .map(|chunk| f32::from_le_bytes(chunk.try_into().expect("4 bytes")))
            .collect(),
        Dtype::F64 => bytes
            .chunks_exact(8)
            .map(|chunk| f64::from_le_bytes(chunk.try_into().expect("8 bytes")) as f32)
            .collect(),
        Dtype::F16 => bytes
            .chunks_exact(2)
            .map(|chunk| half_to_f32(u16::from_le_bytes([chunk[0], chunk[1]])))
            .collect(),
        // bfloat16 is the upper half of a float32.
        Dtype::BF16 => bytes
            .chunks_exact(2)
            .map(|chunk| f32::from_bits(u32::from(u16::from_le_bytes([chunk[0], chunk[1]])) << 16))
            .collect(),
        other => {
            return Err(Error::Weights {
                name: name.to_string(),
                reason: format!("has type {other:?}; only float tensors are weights"),
            });
        }
    };
    Ok(values)
}

/// IEEE 754 half precision to single precision, subnormals and infinities included.
fn half_to_f32(bits: u16) -> f32 {
    let sign = u32::from(bits >> 15) << 31;
    let exponent = u32::from((bits >> 10) & 0x1f);
    let mantissa = u32::from(bits & 0x3ff);
    let magnitude = match exponent {
        0 => return (mantissa as f32) * 2f32.powi(-24) * sign_of(bits),
        0x1f => 0xff << 23 | mantissa << 13,
        _ => (exponent + 127 - 15) << 23 | mantissa << 13,
    };
    f32::from_bits(sign | magnitude)
}

fn sign_of(bits: u16) -> f32 {
    if bits >> 15 == 1 { -1.0 } else { 1.0 }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn half_precision_values_convert_exactly() {
        assert_eq!(half_to_f32(0x3c00), 1.0);
        assert_eq!(half_to_f32(0xc000), -2.0);
        assert_eq!(half_to_f32(0x0001), 2f32.powi(-24));
        assert_eq!(half_to_f32(0x8001), -(2f32.powi(-24)));
        assert_eq!(half_to_f32(0x7c00), f32::INFINITY);
        assert_eq!(half_to_f32(0x3555), 0.333_251_95);
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        let error = StateDict::from_safetensors(b"not safetensors at all").unwrap_err();
        assert!(
            error.to_string().contains("not a safetensors file"),
            "{error}"
        );
    }
}
