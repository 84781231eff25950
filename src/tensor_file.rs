//! The lab's `f32` safetensors files (classifier weights, the linearity models, universal
//! perturbations, the scales of the shipped MRI perturbations): one writer and one reader of
//! their values, shared by both halves.

use crate::Result;

/// Serialises named `f32` tensors `(name, shape, row-major values)` to safetensors bytes, with
/// optional metadata: the one writer of the lab's weight and vector files.
pub fn f32_safetensors(
    tensors: &[(String, Vec<usize>, Vec<f32>)],
    metadata: Option<std::collections::HashMap<String, String>>,
) -> Result<Vec<u8>> {
    let bytes: Vec<Vec<u8>> = tensors
        .iter()
        .map(|(_, _, v)| v.iter().flat_map(|x| x.to_le_bytes()).collect())
        .collect();
    let views = tensors
        .iter()
        .zip(&bytes)
        .map(|((n, s, _), b)| {
            safetensors::tensor::TensorView::new(safetensors::Dtype::F32, s.clone(), b)
                .map(|v| (n.clone(), v))
        })
        .collect::<std::result::Result<Vec<_>, _>>()?;
    Ok(safetensors::serialize(views, metadata)?)
}

/// The values of an `f32` tensor, row-major (the caller checks its dtype and shape first).
pub fn f32_values(view: &safetensors::tensor::TensorView) -> Vec<f32> {
    view.data()
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect()
}
