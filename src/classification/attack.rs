//! What every attack on a classifier shares: the differentiable-model interface the attacks see,
//! norms, and the result an attack returns.
//!
//! An attack looks for a perturbation `r` with `k̂(x + r) ≠ k̂(x)`, where `k̂(x) = argmaxₖ fₖ(x)`;
//! the lecture compares attacks by `ρ = ‖r‖₂ / ‖x‖₂` (its slide: random noise 1.47, fast gradient
//! 0.34, DeepFool 0.0052 on an ImageNet network).

use crate::classification::classifier::{argmax, Classifier};
use crate::{Error, Result};
use candle_core::Tensor;
use serde::{Deserialize, Serialize};

/// A classifier as the attacks see it: logits and their derivatives at a point, in f64.
pub trait Model {
    /// Input dimension `d`.
    fn dim(&self) -> usize;
    /// Number of classes.
    fn classes(&self) -> usize;
    /// Logits `f(x)`.
    fn logits(&self, x: &[f64]) -> Result<Vec<f64>>;
    /// Logits and the Jacobian rows `∇ₓ fₖ(x)`, `k = 0 … classes − 1`.
    fn jacobian(&self, x: &[f64]) -> Result<(Vec<f64>, Vec<Vec<f64>>)>;
    /// `∇ₓ Σₖ wₖ fₖ(x)` (a vector–Jacobian product).
    fn vjp(&self, x: &[f64], w: &[f64]) -> Result<Vec<f64>> {
        let (_, jac) = self.jacobian(x)?;
        let mut g = vec![0.0; self.dim()];
        for (row, &wk) in jac.iter().zip(w) {
            for (gi, ri) in g.iter_mut().zip(row) {
                *gi += wk * ri;
            }
        }
        Ok(g)
    }
    /// The predicted label `k̂(x)`.
    fn label(&self, x: &[f64]) -> Result<usize> {
        let f = self.logits(x)?;
        Ok(argmax(&f))
    }
}

/// `‖v‖₂`.
pub fn norm2(v: &[f64]) -> f64 {
    v.iter().map(|x| x * x).sum::<f64>().sqrt()
}

/// `‖v‖₁`.
pub fn norm1(v: &[f64]) -> f64 {
    v.iter().map(|x| x.abs()).sum()
}

/// `‖v‖∞`.
pub fn norm_inf(v: &[f64]) -> f64 {
    v.iter().fold(0.0, |m, x| m.max(x.abs()))
}

/// `x + t·r`.
pub fn add_scaled(x: &[f64], t: f64, r: &[f64]) -> Vec<f64> {
    x.iter().zip(r).map(|(a, b)| a + t * b).collect()
}

/// Softmax of logits.
pub fn softmax(f: &[f64]) -> Vec<f64> {
    let m = f.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let e: Vec<f64> = f.iter().map(|v| (v - m).exp()).collect();
    let s: f64 = e.iter().sum();
    e.iter().map(|v| v / s).collect()
}

/// Checks an input for an attack: the right size and finite.
pub fn check_input(model: &dyn Model, x: &[f64]) -> Result<()> {
    if x.len() != model.dim() {
        return Err(Error::Input(format!(
            "the model takes {} values, the input has {}",
            model.dim(),
            x.len()
        )));
    }
    if x.iter().any(|v| !v.is_finite()) {
        return Err(Error::Input(
            "the input contains NaN or infinite values".into(),
        ));
    }
    Ok(())
}

/// The attacks of the lab.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AttackKind {
    /// Gaussian noise direction, smallest label-changing multiple.
    RandomNoise,
    /// The slides' fast gradient: `∇ₛ‖softmax f(x + s) − softmax f(x)‖²` at a small random `s₀`.
    FastGradient,
    /// Goodfellow et al.'s ℓ∞ direction `sign(∇ₓ cross-entropy(x, k̂(x)))`.
    Fgsm,
    /// DeepFool (multiclass), ℓ₂.
    DeepFoolL2,
    /// DeepFool (multiclass), ℓ∞.
    DeepFoolLinf,
}

impl AttackKind {
    pub const ALL: [AttackKind; 5] = [
        AttackKind::RandomNoise,
        AttackKind::FastGradient,
        AttackKind::Fgsm,
        AttackKind::DeepFoolL2,
        AttackKind::DeepFoolLinf,
    ];

    /// Name used in URLs and reports.
    pub fn name(self) -> &'static str {
        match self {
            AttackKind::RandomNoise => "random_noise",
            AttackKind::FastGradient => "fast_gradient",
            AttackKind::Fgsm => "fgsm",
            AttackKind::DeepFoolL2 => "deepfool_l2",
            AttackKind::DeepFoolLinf => "deepfool_linf",
        }
    }

    /// Parses [`AttackKind::name`].
    pub fn from_name(name: &str) -> Result<Self> {
        Self::ALL
            .into_iter()
            .find(|a| a.name() == name)
            .ok_or_else(|| Error::Input(format!("unknown attack '{name}'")))
    }
}

/// What an attack found.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AttackOutcome {
    pub attack: AttackKind,
    /// The perturbation `r`.
    pub perturbation: Vec<f64>,
    /// `k̂(x)`.
    pub original_label: usize,
    /// `k̂(x + r)`.
    pub adversarial_label: usize,
    /// Softmax probabilities at `x + r`.
    pub adversarial_probabilities: Vec<f64>,
    /// `‖r‖₂`.
    pub l2: f64,
    /// `‖r‖∞`.
    pub linf: f64,
    /// `ρ = ‖r‖₂ / ‖x‖₂`; `None` for an all-zero image, where it is undefined.
    pub rho: Option<f64>,
    /// Model evaluations (line search) or DeepFool iterations.
    pub iterations: usize,
    /// Whether the label changed.
    pub success: bool,
}

impl AttackOutcome {
    /// Fills in the measurements of `r` at `x`.
    pub fn measure(
        model: &dyn Model,
        attack: AttackKind,
        x: &[f64],
        r: Vec<f64>,
        original_label: usize,
        iterations: usize,
    ) -> Result<Self> {
        let f = model.logits(&add_scaled(x, 1.0, &r))?;
        let adversarial_label = argmax(&f);
        let nx = norm2(x);
        let l2 = norm2(&r);
        Ok(Self {
            attack,
            adversarial_probabilities: softmax(&f),
            original_label,
            adversarial_label,
            l2,
            linf: norm_inf(&r),
            rho: (nx > 0.0).then(|| l2 / nx),
            iterations,
            success: adversarial_label != original_label,
            perturbation: r,
        })
    }
}

impl Model for Classifier {
    fn dim(&self) -> usize {
        crate::classification::mnist::PIXELS
    }

    fn classes(&self) -> usize {
        crate::classification::mnist::CLASSES
    }

    fn logits(&self, x: &[f64]) -> Result<Vec<f64>> {
        let t = Tensor::from_slice(x, (1, x.len()), &self.device())?.to_dtype(self.dtype())?;
        let f = Classifier::logits(self, &t)?;
        Ok(f.to_dtype(candle_core::DType::F64)?
            .flatten_all()?
            .to_vec1::<f64>()?)
    }

    fn jacobian(&self, x: &[f64]) -> Result<(Vec<f64>, Vec<Vec<f64>>)> {
        let t = Tensor::from_slice(x, x.len(), &self.device())?.to_dtype(self.dtype())?;
        let jac = Classifier::jacobian(self, &t)?
            .to_dtype(candle_core::DType::F64)?
            .to_vec2::<f64>()?;
        Ok((Model::logits(self, x)?, jac))
    }

    fn vjp(&self, x: &[f64], w: &[f64]) -> Result<Vec<f64>> {
        let dev = self.device();
        let t = Tensor::from_slice(x, (1, x.len()), &dev)?.to_dtype(self.dtype())?;
        let wt = Tensor::from_slice(w, (1, w.len()), &dev)?.to_dtype(self.dtype())?;
        let g = self.input_gradient(&t, &wt)?;
        Ok(g.to_dtype(candle_core::DType::F64)?
            .flatten_all()?
            .to_vec1::<f64>()?)
    }
}
