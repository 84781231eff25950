//! The MNIST classifiers of the lab, built with candle: softmax regression, the DeepFool paper's
//! fully connected FC500-150-10 network, LeCun's classic 300-100 tanh network, a LeNet-style CNN
//! and a wider CNN (so that perturbations can be transferred between rather different models).
//!
//! Every model maps a batch of flattened images `x ∈ [0, 1]^{B×784}` to logits `f(x) ∈ ℝ^{B×10}`;
//! the predicted label is `k̂(x) = argmaxₖ fₖ(x)`. Attacks need input gradients `∇ₓ fₖ(x)`: they come
//! from candle's autograd ([`Classifier::input_gradient`], [`Classifier::jacobian`]), for any dtype
//! (f64 for the finite-difference tests).

use crate::classification::mnist::{CLASSES, PIXELS, SIDE};
use crate::classification::pooling::max_pool2;
use crate::{Error, Result};
use candle_core::{DType, Device, Module, Tensor, Var, D};
use candle_nn::{conv2d, linear, Conv2d, Conv2dConfig, Linear, VarBuilder, VarMap};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// The architectures the lab ships, by name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Architecture {
    /// Softmax regression: `f(x) = Wx + b`, `W ∈ ℝ^{10×784}`.
    Linear,
    /// FC 784-500-150-10 with ReLU, the MNIST network of DeepFool's Table 1.
    Mlp,
    /// FC 784-300-100-10 with tanh, LeCun et al.'s classic fully connected sizes (1998).
    #[serde(rename = "mlp-tanh")]
    MlpTanh,
    /// LeNet-style: conv 5×5 (32) → ReLU → max-pool 2 → conv 5×5 (64) → ReLU → max-pool 2 →
    /// FC 1024-128 → ReLU → FC 128-10.
    Cnn,
    /// Twice as wide in the second layer, with a smaller kernel: conv 5×5 (32) → ReLU → max-pool 2
    /// → conv 3×3 (128) → ReLU → max-pool 2 → FC 3200-128 → ReLU → FC 128-10.
    #[serde(rename = "cnn-wide")]
    CnnWide,
}

/// Weight and bias names of up to three dense layers.
const FC3: [(&str, &str); 3] = [
    ("fc1.weight", "fc1.bias"),
    ("fc2.weight", "fc2.bias"),
    ("fc3.weight", "fc3.bias"),
];
/// Weight and bias names of the two convolutions.
const CONV: [(&str, &str); 2] = [
    ("conv1.weight", "conv1.bias"),
    ("conv2.weight", "conv2.bias"),
];

/// Dense layer `i` maps `widths[i]` to `widths[i + 1]`: a weight of shape `out × in` and a bias.
fn dense(
    names: &[(&'static str, &'static str)],
    widths: &[usize],
) -> Vec<(&'static str, Vec<usize>)> {
    names
        .iter()
        .zip(widths.windows(2))
        .flat_map(|(&(w, b), io)| [(w, vec![io[1], io[0]]), (b, vec![io[1]])])
        .collect()
}

/// A `k × k` convolution from `cin` to `cout` channels: weight `cout × cin × k × k` and a bias.
fn conv(
    (w, b): (&'static str, &'static str),
    cin: usize,
    cout: usize,
    k: usize,
) -> [(&'static str, Vec<usize>); 2] {
    [(w, vec![cout, cin, k, k]), (b, vec![cout])]
}

impl Architecture {
    /// Every shipped architecture, in display order.
    pub const ALL: [Architecture; 5] = [
        Architecture::Linear,
        Architecture::Mlp,
        Architecture::MlpTanh,
        Architecture::Cnn,
        Architecture::CnnWide,
    ];

    /// The model's file and URL name.
    pub fn name(self) -> &'static str {
        match self {
            Architecture::Linear => "linear",
            Architecture::Mlp => "mlp",
            Architecture::MlpTanh => "mlp-tanh",
            Architecture::Cnn => "cnn",
            Architecture::CnnWide => "cnn-wide",
        }
    }

    /// Parses a model name (`linear`, `mlp`, `mlp-tanh`, `cnn`, `cnn-wide`).
    pub fn from_name(name: &str) -> Result<Self> {
        Self::ALL
            .into_iter()
            .find(|a| a.name() == name)
            .ok_or_else(|| Error::UnknownModel(name.to_string()))
    }

    /// A one-line human description.
    pub fn description(self) -> &'static str {
        match self {
            Architecture::Linear => "softmax regression 784 → 10",
            Architecture::Mlp => "fully connected 784-500-150-10, ReLU",
            Architecture::MlpTanh => "fully connected 784-300-100-10, tanh",
            Architecture::Cnn => {
                "LeNet-style CNN: conv5×5(32)-pool-conv5×5(64)-pool-FC128-10, ReLU"
            }
            Architecture::CnnWide => "wide CNN: conv5×5(32)-pool-conv3×3(128)-pool-FC128-10, ReLU",
        }
    }

    /// The parameter names and shapes, in a fixed order.
    pub fn parameter_shapes(self) -> Vec<(&'static str, Vec<usize>)> {
        match self {
            Architecture::Linear => vec![("fc.weight", vec![10, PIXELS]), ("fc.bias", vec![10])],
            Architecture::Mlp => dense(&FC3, &[PIXELS, 500, 150, 10]),
            Architecture::MlpTanh => dense(&FC3, &[PIXELS, 300, 100, 10]),
            Architecture::Cnn => [conv(CONV[0], 1, 32, 5), conv(CONV[1], 32, 64, 5)]
                .into_iter()
                .flatten()
                .chain(dense(&FC3[..2], &[1024, 128, 10]))
                .collect(),
            Architecture::CnnWide => [conv(CONV[0], 1, 32, 5), conv(CONV[1], 32, 128, 3)]
                .into_iter()
                .flatten()
                .chain(dense(&FC3[..2], &[3200, 128, 10]))
                .collect(),
        }
    }

    /// Number of trainable parameters.
    pub fn parameter_count(self) -> usize {
        self.parameter_shapes()
            .iter()
            .map(|(_, s)| s.iter().product::<usize>())
            .sum()
    }

    /// The nonlinearity of the hidden layers.
    pub fn activation(self) -> Activation {
        match self {
            Architecture::MlpTanh => Activation::Tanh,
            _ => Activation::Relu,
        }
    }
}

/// The nonlinearity `σ` of a model's hidden layers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Activation {
    /// `σ(t) = max(t, 0)`, `σ' = 1[t > 0]`.
    Relu,
    /// `σ(t) = tanh t`, `σ' = 1 − σ²`.
    Tanh,
}

impl Activation {
    /// `σ` applied elementwise to a tensor.
    pub fn apply(self, t: &Tensor) -> candle_core::Result<Tensor> {
        match self {
            Activation::Relu => t.relu(),
            Activation::Tanh => t.tanh(),
        }
    }
}

#[derive(Clone, Debug)]
enum Layers {
    /// `fc`.
    Linear { fc: Linear },
    /// `fc1`, `fc2`, `fc3`.
    Mlp { fc: [Linear; 3] },
    /// `conv1`, `conv2`, then `fc1`, `fc2`.
    Cnn { conv: [Conv2d; 2], fc: [Linear; 2] },
}

/// A trained (or freshly initialised) classifier.
#[derive(Clone, Debug)]
pub struct Classifier {
    architecture: Architecture,
    layers: Layers,
}

/// A model's answer for one image.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Prediction {
    /// `k̂(x) = argmaxₖ fₖ(x)`.
    pub label: usize,
    /// Softmax probabilities, one per class.
    pub probabilities: Vec<f32>,
    /// Logits `f(x)`.
    pub logits: Vec<f32>,
}

impl Prediction {
    /// From a logit vector; errors on NaN or infinite logits.
    pub fn from_logits(logits: Vec<f32>) -> Result<Self> {
        if logits.is_empty() || logits.iter().any(|v| !v.is_finite()) {
            return Err(Error::Input("the model produced non-finite outputs".into()));
        }
        let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let exp: Vec<f32> = logits.iter().map(|&l| (l - max).exp()).collect();
        let sum: f32 = exp.iter().sum();
        let probabilities: Vec<f32> = exp.iter().map(|e| e / sum).collect();
        let label = argmax(&logits);
        Ok(Self {
            label,
            probabilities,
            logits,
        })
    }

    /// Classes sorted by decreasing probability, the first `k`.
    pub fn top(&self, k: usize) -> Vec<(usize, f32)> {
        let mut order: Vec<usize> = (0..self.probabilities.len()).collect();
        order.sort_by(|&a, &b| self.probabilities[b].total_cmp(&self.probabilities[a]));
        order
            .into_iter()
            .take(k)
            .map(|c| (c, self.probabilities[c]))
            .collect()
    }
}

/// Index of the largest value (the first on ties).
pub fn argmax<T: PartialOrd>(v: &[T]) -> usize {
    let mut best = 0;
    for (i, x) in v.iter().enumerate() {
        if *x > v[best] {
            best = i;
        }
    }
    best
}

impl Classifier {
    /// Builds the layers of `architecture` from a var builder (fresh variables or stored weights).
    pub fn build(architecture: Architecture, vb: VarBuilder) -> Result<Self> {
        // The sizes come from one table, [`Architecture::parameter_shapes`].
        let shapes = architecture.parameter_shapes();
        let weight = |name: &str| {
            let key = format!("{name}.weight");
            shapes
                .iter()
                .find(|(n, _)| *n == key)
                .map(|(_, s)| s.clone())
        };
        let lin = |name: &str| match weight(name).as_deref() {
            Some(&[out, inp]) => linear(inp, out, vb.pp(name)),
            _ => unreachable!("{name} is a dense layer of {architecture:?}"),
        };
        let cv = |name: &str| match weight(name).as_deref() {
            Some(&[out, inp, k, _]) => conv2d(inp, out, k, Conv2dConfig::default(), vb.pp(name)),
            _ => unreachable!("{name} is a convolution of {architecture:?}"),
        };
        let layers = match architecture {
            Architecture::Linear => Layers::Linear { fc: lin("fc")? },
            Architecture::Mlp | Architecture::MlpTanh => Layers::Mlp {
                fc: [lin("fc1")?, lin("fc2")?, lin("fc3")?],
            },
            Architecture::Cnn | Architecture::CnnWide => Layers::Cnn {
                conv: [cv("conv1")?, cv("conv2")?],
                fc: [lin("fc1")?, lin("fc2")?],
            },
        };
        Ok(Self {
            architecture,
            layers,
        })
    }

    /// A fresh model whose variables live in `varmap`, initialised from `seed` (He-uniform
    /// weights `U(±√(6/fan_in))`, zero biases), so that training is reproducible.
    pub fn new_seeded(
        architecture: Architecture,
        varmap: &VarMap,
        seed: u64,
        device: &Device,
    ) -> Result<Self> {
        let vb = VarBuilder::from_varmap(varmap, DType::F32, device);
        let model = Self::build(architecture, vb)?;
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let vars = varmap.data().lock().expect("var map lock");
        for (name, shape) in architecture.parameter_shapes() {
            let var = vars
                .get(name)
                .ok_or_else(|| Error::Data(format!("variable {name} missing")))?;
            let n: usize = shape.iter().product();
            let values: Vec<f32> = if name.ends_with("weight") {
                let fan_in: usize = shape[1..].iter().product();
                let bound = (6.0 / fan_in as f64).sqrt() as f32;
                (0..n).map(|_| rng.random_range(-bound..bound)).collect()
            } else {
                vec![0.0; n]
            };
            var.set(&Tensor::from_vec(values, shape, device)?)?;
        }
        Ok(model)
    }

    /// Loads stored weights (safetensors), checking names, dtypes (`f32`, as the lab writes
    /// them), shapes and that every value is finite.
    pub fn from_safetensors(
        architecture: Architecture,
        bytes: &[u8],
        dtype: DType,
        device: &Device,
    ) -> Result<Self> {
        let model = architecture.name().to_string();
        let bad = |reason: String| Error::Weights {
            model: model.clone(),
            reason,
        };
        let tensors = safetensors::SafeTensors::deserialize(bytes)
            .map_err(|e| bad(format!("not a readable safetensors file ({e})")))?;
        let mut checked = HashMap::new();
        for (name, shape) in architecture.parameter_shapes() {
            let t = tensors
                .tensor(name)
                .map_err(|_| bad(format!("tensor '{name}' is missing")))?;
            if t.dtype() != safetensors::Dtype::F32 {
                return Err(bad(format!(
                    "tensor '{name}' is {}, expected F32",
                    t.dtype()
                )));
            }
            if t.shape() != shape.as_slice() {
                return Err(bad(format!(
                    "tensor '{name}' has shape {:?}, expected {:?}",
                    t.shape(),
                    shape
                )));
            }
            let values = crate::tensor_file::f32_values(&t);
            if values.iter().any(|v| !v.is_finite()) {
                return Err(bad(format!("tensor '{name}' holds NaN or infinite values")));
            }
            let t = Tensor::from_vec(values, shape.as_slice(), device)?;
            checked.insert(name.to_string(), t.to_dtype(dtype)?);
        }
        if tensors.len() != checked.len() {
            return Err(bad(format!(
                "{} tensors stored, {} expected",
                tensors.len(),
                checked.len()
            )));
        }
        Self::build(
            architecture,
            VarBuilder::from_tensors(checked, dtype, device),
        )
    }

    /// The architecture.
    pub fn architecture(&self) -> Architecture {
        self.architecture
    }

    /// Logits `f(x)` for a batch `x` of shape `[B, 784]`.
    pub fn logits(&self, x: &Tensor) -> Result<Tensor> {
        Ok(self.forward(x)?)
    }

    /// Softmax probabilities for a batch `x` of shape `[B, 784]`.
    pub fn probabilities(&self, x: &Tensor) -> Result<Tensor> {
        Ok(candle_nn::ops::softmax(&self.logits(x)?, D::Minus1)?)
    }

    /// Classifies one image given as 784 intensities (row-major 28×28).
    pub fn classify(&self, image: &[f32]) -> Result<Prediction> {
        check_image(image)?;
        let x = Tensor::from_slice(image, (1, PIXELS), &self.device())?.to_dtype(self.dtype())?;
        let logits = self.logits(&x)?.to_dtype(DType::F32)?.flatten_all()?;
        Prediction::from_logits(logits.to_vec1::<f32>()?)
    }

    /// `∇ₓ Σ_b Σ_k w_{b,k} f_k(x_b)`: for each image of the batch `x` (`[B, 784]`), the gradient of
    /// the `w`-weighted sum of its logits (`w` of shape `[B, 10]`).
    pub fn input_gradient(&self, x: &Tensor, w: &Tensor) -> Result<Tensor> {
        let var = Var::from_tensor(&x.detach())?;
        let logits = self.logits(var.as_tensor())?;
        let objective = (logits * w)?.sum_all()?;
        let grads = objective.backward()?;
        grads
            .get(var.as_tensor())
            .cloned()
            .ok_or_else(|| Error::Input("the input does not influence the output".into()))
    }

    /// The Jacobian `J[k] = ∇ₓ fₖ(x)` of the logits at one image `x` (`[784]`), shape `[10, 784]`,
    /// from a single backward pass over 10 copies of `x`.
    pub fn jacobian(&self, x: &Tensor) -> Result<Tensor> {
        let batch = x.reshape((1, PIXELS))?.repeat((CLASSES, 1))?;
        let eye = Tensor::eye(CLASSES, self.dtype(), &self.device())?;
        self.input_gradient(&batch, &eye)
    }

    /// The parameters by name (as in [`Architecture::parameter_shapes`]), flattened row-major, in f32.
    pub fn parameters(&self) -> Result<HashMap<String, Vec<f32>>> {
        let mut out = HashMap::new();
        let mut put = |name: &str, w: &Tensor, b: Option<&Tensor>| -> Result<()> {
            let flat = |t: &Tensor| -> Result<Vec<f32>> {
                Ok(t.to_dtype(DType::F32)?.flatten_all()?.to_vec1::<f32>()?)
            };
            out.insert(format!("{name}.weight"), flat(w)?);
            let b = b.ok_or_else(|| Error::Data(format!("{name} has no bias")))?;
            out.insert(format!("{name}.bias"), flat(b)?);
            Ok(())
        };
        let dense = |fc: &[Linear]| -> Vec<(String, Tensor, Option<Tensor>)> {
            let name = |i: usize| {
                if fc.len() == 1 {
                    "fc".into()
                } else {
                    format!("fc{}", i + 1)
                }
            };
            (fc.iter().enumerate())
                .map(|(i, l)| (name(i), l.weight().clone(), l.bias().cloned()))
                .collect()
        };
        let layers = match &self.layers {
            Layers::Linear { fc } => dense(std::slice::from_ref(fc)),
            Layers::Mlp { fc } => dense(fc),
            Layers::Cnn { conv, fc } => (conv.iter().enumerate())
                .map(|(i, c)| {
                    (
                        format!("conv{}", i + 1),
                        c.weight().clone(),
                        c.bias().cloned(),
                    )
                })
                .chain(dense(fc))
                .collect(),
        };
        for (name, w, b) in &layers {
            put(name, w, b.as_ref())?;
        }
        Ok(out)
    }

    /// The dtype of the weights.
    pub fn dtype(&self) -> DType {
        self.first_weight().dtype()
    }

    /// The device of the weights.
    pub fn device(&self) -> Device {
        self.first_weight().device().clone()
    }

    fn first_weight(&self) -> &Tensor {
        match &self.layers {
            Layers::Linear { fc } | Layers::Mlp { fc: [fc, ..] } => fc.weight(),
            Layers::Cnn { conv, .. } => conv[0].weight(),
        }
    }
}

impl Module for Classifier {
    fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        match &self.layers {
            Layers::Linear { fc } => fc.forward(x),
            Layers::Mlp { fc } => {
                let sigma = self.architecture.activation();
                let h = sigma.apply(&fc[0].forward(x)?)?;
                let h = sigma.apply(&fc[1].forward(&h)?)?;
                fc[2].forward(&h)
            }
            Layers::Cnn { conv, fc } => {
                let b = x.dim(0)?;
                let h = x.reshape((b, 1, SIDE, SIDE))?;
                let h = max_pool2(&conv[0].forward(&h)?.relu()?)?;
                let h = max_pool2(&conv[1].forward(&h)?.relu()?)?;
                let h = h.flatten_from(1)?;
                let h = fc[0].forward(&h)?.relu()?;
                fc[1].forward(&h)
            }
        }
    }
}

/// Checks that an image has 784 finite values.
pub fn check_image(image: &[f32]) -> Result<()> {
    if image.len() != PIXELS {
        return Err(Error::Input(format!(
            "an image has {PIXELS} pixels (28×28), this one has {}",
            image.len()
        )));
    }
    if image.iter().any(|v| !v.is_finite()) {
        return Err(Error::Input(
            "the image contains NaN or infinite values".into(),
        ));
    }
    Ok(())
}

/// Serialises a model's variables (from training) to safetensors bytes.
pub fn varmap_to_safetensors(varmap: &VarMap) -> Result<Vec<u8>> {
    let vars = varmap.data().lock().expect("var map lock");
    let mut tensors: Vec<(String, Tensor)> = vars
        .iter()
        .map(|(k, v)| (k.clone(), v.as_tensor().clone()))
        .collect();
    tensors.sort_by(|a, b| a.0.cmp(&b.0));
    let mut data = Vec::new();
    for (name, t) in &tensors {
        data.push((
            name.clone(),
            t.dims().to_vec(),
            t.flatten_all()?.to_vec1::<f32>()?,
        ));
    }
    crate::tensor_file::f32_safetensors(&data, None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameter_counts_match_the_papers_architectures() {
        assert_eq!(Architecture::Linear.parameter_count(), 7_850);
        // DeepFool's FC500-150-10.
        assert_eq!(Architecture::Mlp.parameter_count(), 469_160);
        // LeCun et al.'s 300-100.
        assert_eq!(Architecture::MlpTanh.parameter_count(), 266_610);
        assert_eq!(Architecture::Cnn.parameter_count(), 184_586);
        assert_eq!(Architecture::CnnWide.parameter_count(), 448_842);
        for a in Architecture::ALL {
            assert_eq!(Architecture::from_name(a.name()).unwrap(), a);
            // Serialised (route state, messages) under the same name.
            assert_eq!(serde_json::to_value(a).unwrap(), a.name());
        }
        assert!(Architecture::from_name("resnet").is_err());
    }

    #[test]
    fn stored_weights_must_be_finite_f32_of_the_right_shapes() {
        let tensors: Vec<(String, Vec<usize>, Vec<f32>)> = Architecture::Linear
            .parameter_shapes()
            .into_iter()
            .map(|(name, shape)| {
                let n = shape.iter().product();
                (name.to_string(), shape, vec![0.01; n])
            })
            .collect();
        let load = |bytes: &[u8]| {
            Classifier::from_safetensors(Architecture::Linear, bytes, DType::F32, &Device::Cpu)
        };
        let good = crate::tensor_file::f32_safetensors(&tensors, None).unwrap();
        assert!(load(&good).is_ok());
        let message = |bytes: &[u8]| match load(bytes) {
            Err(e) => e.to_string(),
            Ok(_) => panic!("loaded"),
        };
        let mut nan = tensors.clone();
        nan[1].2[3] = f32::INFINITY;
        let e = message(&crate::tensor_file::f32_safetensors(&nan, None).unwrap());
        assert!(e.contains("NaN or infinite"), "{e}");
        let mut shape = tensors.clone();
        shape[0].1 = vec![784, 10];
        let e = message(&crate::tensor_file::f32_safetensors(&shape, None).unwrap());
        assert!(e.contains("has shape [784, 10], expected [10, 784]"), "{e}");
        // The same values as f16 (2 bytes each): another dtype is refused, not converted.
        let halves: Vec<Vec<u8>> = tensors
            .iter()
            .map(|(_, _, v)| vec![0; 2 * v.len()])
            .collect();
        let views = tensors.iter().zip(&halves).map(|((n, s, _), d)| {
            let view = safetensors::tensor::TensorView::new(safetensors::Dtype::F16, s.clone(), d);
            (n.clone(), view.unwrap())
        });
        let e = message(&safetensors::serialize(views, None).unwrap());
        assert!(e.contains("is F16, expected F32"), "{e}");
        assert!(message(&good[..good.len() / 2]).contains("not a readable safetensors file"));
    }

    #[test]
    fn predictions_rank_classes() {
        let p = Prediction::from_logits(vec![0.0, 3.0, 1.0]).unwrap();
        assert_eq!(p.label, 1);
        assert_eq!(p.top(2).iter().map(|t| t.0).collect::<Vec<_>>(), vec![1, 2]);
        assert!(Prediction::from_logits(vec![f32::NAN, 1.0]).is_err());
    }
}
