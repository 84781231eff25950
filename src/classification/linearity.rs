//! The linearity argument of Goodfellow, Shlens & Szegedy ("Explaining and harnessing adversarial
//! examples", ICLR 2015; the lecture's slide "Is the behaviour we are seeing reasonable?").
//!
//! For an affine score `s(x) = wᵀx + b` on `ℝᵈ`, `s(x + Δx) − s(x) = wᵀΔx`, and under
//! `‖Δx‖∞ ≤ ε` (Hölder)
//!
//! ```text
//! max_{‖Δx‖∞ ≤ ε} wᵀΔx = ε‖w‖₁ = ε·d·mean|wᵢ|,   attained by Δx = ε·sign(w).
//! ```
//!
//! The size of the change `‖Δx‖∞ = ε` does not depend on `d`, its effect grows linearly with
//! `d`. For random weights `w ∼ N(0, σ²I_d)`, `E‖w‖₁ = d·σ·√(2/π)`; a perturbation of random
//! signs `Δx = ε·s` (`sᵢ = ±1`, independent) moves the score by `wᵀΔx` with `E(wᵀΔx)² = ε²‖w‖²₂`,
//! about `ε·σ·√d`: only the aligned (worst-case) direction gains the full factor `d`.
//!
//! For a multiclass affine classifier `f(x) = Wx + b` ([`Affine`]) with label `k̂ = argmaxₖ fₖ(x)`,
//! the label changes as soon as `fₖ ≥ f_k̂` for some `k`; each such set is a half-space, whose
//! ℓ∞ distance is measured by the dual norm ℓ₁, so the smallest ℓ∞ perturbation that changes the
//! label is exactly
//!
//! ```text
//! min_{k≠k̂} |fₖ(x) − f_k̂(x)| / ‖wₖ − w_k̂‖₁     ([`min_linf_flip`]),
//! ```
//!
//! which ℓ∞ DeepFool ([`crate::classification::deepfool`]) finds in one step, up to its overshoot `(1 + η)` and
//! the `10⁻⁴` added to the step.
//!
//! The lab tests the argument on data: the shipped softmax regression is retrained ([`train`])
//! on digits area-averaged to `s × s` pixels ([`downsample`], `s ∈` [`SIDES`], `d = s²`), and
//! the smallest ℓ∞ DeepFool perturbation is summarised over held-out digits ([`Quartiles`]).
//! Area averaging is fair to the comparison: the `s × s` model seen as a model of the 28×28
//! digit has weights `Dᵀw` with `‖Dᵀw‖₁ = ‖w‖₁`, so distances are the same in either space.
//! `lab linearity` writes the three models ([`models_to_safetensors`]) and the report
//! ([`LinearityReport`]).

use crate::classification::affine::Affine;
use crate::classification::attack::{norm1, norm2, Model};
use crate::classification::classifier::{argmax, Architecture};
use crate::classification::deepfool::{DeepFool, Norm};
use crate::classification::mnist::{Digits, CLASSES, SIDE};
use crate::classification::training::TrainConfig;
use crate::tensor_file::f32_values;
use crate::{Error, Result};
use candle_core::{DType, Device, Module, Tensor};
use candle_nn::{VarBuilder, VarMap};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};
use serde::{Deserialize, Serialize};

/// The resolutions the lab compares: digits of `s × s` pixels, `d = s²`.
pub const SIDES: [usize; 3] = [7, 14, 28];
/// The three models, relative to the repository root and to the page.
pub const WEIGHTS_PATH: &str = "static/data/linearity.safetensors";
/// The report of `lab linearity`.
pub const REPORT_PATH: &str = "static/reports/linearity.json";
/// The command that writes both files.
pub const COMMAND: &str = "cargo run --release --bin lab -- linearity";

/// Area average of a `side × side` image down to `to × to` (`to` must divide `side`): every
/// output pixel is the mean of its `(side/to)²` block, so the mean intensity is kept.
pub fn downsample(image: &[f64], side: usize, to: usize) -> Result<Vec<f64>> {
    if to == 0 || side == 0 || !side.is_multiple_of(to) || image.len() != side * side {
        return Err(Error::Input(format!(
            "cannot average {} values as a {side}×{side} image down to {to}×{to}",
            image.len()
        )));
    }
    let k = side / to;
    let scale = 1.0 / (k * k) as f64;
    let mut out = vec![0.0; to * to];
    for y in 0..side {
        for x in 0..side {
            out[(y / k) * to + x / k] += image[y * side + x] * scale;
        }
    }
    Ok(out)
}

/// Held-out (or training) digit `i` in `[0, 1]`, area-averaged to `to × to`.
pub fn digit_at(digits: &Digits, i: usize, to: usize) -> Result<Vec<f64>> {
    let x: Vec<f64> = digits.image(i).iter().map(|&v| v as f64).collect();
    downsample(&x, SIDE, to)
}

/// `ε‖w‖₁`: the largest change of `wᵀx + b` under `‖Δx‖∞ ≤ ε`.
pub fn worst_change(w: &[f64], eps: f64) -> f64 {
    eps * norm1(w)
}

/// `Δx = ε·sign(w)`, which attains [`worst_change`] (zero where `wᵢ = 0`).
pub fn worst_perturbation(w: &[f64], eps: f64) -> Vec<f64> {
    w.iter()
        .map(|&v| {
            if v > 0.0 {
                eps
            } else if v < 0.0 {
                -eps
            } else {
                0.0
            }
        })
        .collect()
}

/// `E[ε‖w‖₁] = ε·d·σ·√(2/π)` for `w ∼ N(0, σ²I_d)` (`E|wᵢ| = σ√(2/π)`).
pub fn expected_worst_change(eps: f64, d: usize, sigma: f64) -> f64 {
    eps * d as f64 * sigma * (2.0 / std::f64::consts::PI).sqrt()
}

/// `ε·σ·√d`: about the root-mean-square change `√E(wᵀΔx)² = ε‖w‖₂` of a random-sign
/// perturbation `Δx = ε·s` for `w ∼ N(0, σ²I_d)`.
pub fn expected_random_sign_change(eps: f64, d: usize, sigma: f64) -> f64 {
    eps * sigma * (d as f64).sqrt()
}

/// The norms of one sampled `w ∼ N(0, σ²I_d)`: what the worst-case and random-sign changes need.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RandomWeights {
    pub d: usize,
    pub sigma: f64,
    /// `‖w‖₁`.
    pub l1: f64,
    /// `‖w‖₂`.
    pub l2: f64,
}

impl RandomWeights {
    /// Samples `w ∼ N(0, σ²I_d)` from a stream seeded by `seed` and `d`, so that one `d` gives
    /// the same figures whatever else is sampled.
    pub fn sample(d: usize, sigma: f64, seed: u64) -> Self {
        let mut rng =
            ChaCha8Rng::seed_from_u64(seed ^ (d as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15));
        let (mut l1, mut l2) = (0.0, 0.0);
        for _ in 0..d {
            let v: f64 = StandardNormal.sample(&mut rng);
            let v = sigma * v;
            l1 += v.abs();
            l2 += v * v;
        }
        Self {
            d,
            sigma,
            l1,
            l2: l2.sqrt(),
        }
    }

    /// `ε‖w‖₁`, the worst change.
    pub fn worst_change(&self, eps: f64) -> f64 {
        eps * self.l1
    }

    /// `ε‖w‖₂`, the typical (root-mean-square) change under random signs.
    pub fn random_sign_change(&self, eps: f64) -> f64 {
        eps * self.l2
    }
}

/// `n ≥ 2` dimensions spaced evenly on a log scale from `lo` to `hi` (rounded, without repeats).
pub fn log_grid(lo: usize, hi: usize, n: usize) -> Vec<usize> {
    let (a, b) = ((lo.max(1) as f64).ln(), (hi.max(lo).max(1) as f64).ln());
    let mut out: Vec<usize> = (0..n.max(2))
        .map(|k| {
            (a + (b - a) * k as f64 / (n.max(2) - 1) as f64)
                .exp()
                .round() as usize
        })
        .collect();
    out.dedup();
    out
}

/// One point of the random-weight curve at a given `ε`.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct EffectPoint {
    pub d: usize,
    /// `ε·d·σ·√(2/π)`.
    pub expected_worst: f64,
    /// `ε‖w‖₁` for the sampled `w`.
    pub sampled_worst: f64,
    /// `ε‖w‖₂` for the sampled `w` (random signs).
    pub random_signs: f64,
}

impl EffectPoint {
    /// The point of `w` at `eps`.
    pub fn at(w: &RandomWeights, eps: f64) -> Self {
        Self {
            d: w.d,
            expected_worst: expected_worst_change(eps, w.d, w.sigma),
            sampled_worst: w.worst_change(eps),
            random_signs: w.random_sign_change(eps),
        }
    }
}

/// The per-`d` figures of the plot: one sampled `w ∼ N(0, σ²I_d)` for each `d` of `dims`, at `eps`.
pub fn effect_curve(eps: f64, sigma: f64, dims: &[usize], seed: u64) -> Vec<EffectPoint> {
    dims.iter()
        .map(|&d| EffectPoint::at(&RandomWeights::sample(d, sigma, seed), eps))
        .collect()
}

/// The exact smallest ℓ∞ label change of an affine model at a point, and its two factors.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Flip {
    /// `|f_l − f_k̂| / ‖w_l − w_k̂‖₁`, the smallest over `l ≠ k̂`.
    pub distance: f64,
    /// The nearest class `l`.
    pub target: usize,
    /// `k̂(x)`.
    pub label: usize,
    /// The margin `f_k̂(x) − f_l(x)`.
    pub margin: f64,
    /// `‖w_l − w_k̂‖₁`: how much `f_l − f_k̂` can move per unit of `‖Δx‖∞`.
    pub l1: f64,
}

/// The smallest ℓ∞ perturbation that changes the label of the affine `model` at `x`, in closed
/// form: `min_{l≠k̂} |f_l − f_k̂| / ‖w_l − w_k̂‖₁`, with the minimising class and both factors.
pub fn min_linf_flip(model: &Affine, x: &[f64]) -> Result<Flip> {
    crate::classification::attack::check_input(model, x)?;
    let f = model.logits(x)?;
    let k0 = argmax(&f);
    let w0 = &model.weights[k0];
    let mut best: Option<Flip> = None;
    for (k, wk) in model.weights.iter().enumerate().filter(|(k, _)| *k != k0) {
        let l1: f64 = wk.iter().zip(w0).map(|(a, b)| (a - b).abs()).sum();
        if l1 <= 0.0 || l1.is_nan() {
            continue;
        }
        let margin = f[k0] - f[k];
        let distance = margin.abs() / l1;
        if best.is_none_or(|b| distance < b.distance) {
            best = Some(Flip {
                distance,
                target: k,
                label: k0,
                margin,
                l1,
            });
        }
    }
    best.ok_or_else(|| Error::Input("every class has the same weights: no label can change".into()))
}

/// DeepFool as the report runs it: ℓ∞, the paper's defaults (overshoot 0.02, at most 50
/// iterations, `10⁻⁴` added to each step, no clipping).
pub fn deepfool_linf() -> DeepFool {
    DeepFool {
        norm: Norm::Linf,
        ..DeepFool::default()
    }
}

/// Lower quartile, median, upper quartile and mean of a sample (nearest rank on the sorted
/// sample, `v[round((n − 1)q)]`, as every summary of the lab).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Quartiles {
    pub q1: f64,
    pub median: f64,
    pub q3: f64,
    pub mean: f64,
    pub count: usize,
}

impl Quartiles {
    /// `None` for an empty sample or one with NaN.
    pub fn of(sample: &[f64]) -> Option<Self> {
        if sample.is_empty() || sample.iter().any(|v| v.is_nan()) {
            return None;
        }
        let mut s = sample.to_vec();
        s.sort_by(f64::total_cmp);
        let at = |q: f64| s[((s.len() - 1) as f64 * q).round() as usize];
        Some(Self {
            q1: at(0.25),
            median: at(0.5),
            q3: at(0.75),
            mean: s.iter().sum::<f64>() / s.len() as f64,
            count: s.len(),
        })
    }
}

/// The size of a model's weights, per class score `fₖ = wₖᵀx + bₖ`.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct WeightNorms {
    /// Mean over classes of `‖wₖ‖₁`.
    pub l1_mean: f64,
    pub l1_min: f64,
    pub l1_max: f64,
    /// Mean `|wₖᵢ|` over all weights (`‖wₖ‖₁ ≈ d·mean|w|`).
    pub mean_abs: f64,
    /// Mean over classes of `‖wₖ‖₂`.
    pub l2_mean: f64,
}

impl WeightNorms {
    /// The figures of `model`.
    pub fn of(model: &Affine) -> Self {
        let l1: Vec<f64> = model.weights.iter().map(|w| norm1(w)).collect();
        let k = l1.len() as f64;
        let d = model.dim() as f64;
        Self {
            l1_mean: l1.iter().sum::<f64>() / k,
            l1_min: l1.iter().copied().fold(f64::INFINITY, f64::min),
            l1_max: l1.iter().copied().fold(0.0, f64::max),
            mean_abs: l1.iter().sum::<f64>() / (k * d),
            l2_mean: model.weights.iter().map(|w| norm2(w)).sum::<f64>() / k,
        }
    }
}

/// One model's smallest ℓ∞ perturbations over a set of digits.
#[derive(Clone, Debug, PartialEq)]
pub struct LinfFigures {
    /// Digits the model labels correctly (the ones attacked).
    pub correct: usize,
    /// Digits measured.
    pub count: usize,
    /// `‖r‖∞` of DeepFool's answer on each correctly labelled digit that it flipped.
    pub deepfool: Vec<f64>,
    /// The exact smallest ℓ∞ perturbation ([`min_linf_flip`]) on each correctly labelled digit.
    pub exact: Vec<f64>,
    /// Its margin `f_k̂ − f_l` to the nearest class `l`, digit by digit.
    pub margins: Vec<f64>,
    /// Its `‖w_l − w_k̂‖₁`, digit by digit (`exact = margin / l1`).
    pub l1: Vec<f64>,
    /// DeepFool runs that changed the label.
    pub converged: usize,
}

impl LinfFigures {
    /// Held-out accuracy.
    pub fn accuracy(&self) -> f64 {
        self.correct as f64 / self.count.max(1) as f64
    }
}

/// Runs [`deepfool_linf`] and [`min_linf_flip`] on every digit of `digits` (area-averaged to the
/// model's side) that `model` labels correctly.
pub fn linf_figures(model: &Affine, side: usize, digits: &Digits) -> Result<LinfFigures> {
    if model.dim() != side * side {
        return Err(Error::Input(format!(
            "a {side}×{side} model takes {} values, this one {}",
            side * side,
            model.dim()
        )));
    }
    let deepfool = deepfool_linf();
    let mut out = LinfFigures {
        correct: 0,
        count: digits.len(),
        deepfool: Vec::new(),
        exact: Vec::new(),
        margins: Vec::new(),
        l1: Vec::new(),
        converged: 0,
    };
    for i in 0..digits.len() {
        let x = digit_at(digits, i, side)?;
        if model.label(&x)? != digits.label(i) {
            continue;
        }
        out.correct += 1;
        let flip = min_linf_flip(model, &x)?;
        out.exact.push(flip.distance);
        out.margins.push(flip.margin);
        out.l1.push(flip.l1);
        let run = deepfool.run(model, &x)?;
        if run.converged {
            out.converged += 1;
            out.deepfool
                .push(crate::classification::attack::norm_inf(&run.perturbation));
        }
    }
    Ok(out)
}

/// Share of the held-out digits that `model` labels correctly.
pub fn accuracy(model: &Affine, side: usize, digits: &Digits) -> Result<f64> {
    let mut correct = 0usize;
    for i in 0..digits.len() {
        if model.label(&digit_at(digits, i, side)?)? == digits.label(i) {
            correct += 1;
        }
    }
    Ok(correct as f64 / digits.len().max(1) as f64)
}

/// The training settings: those of the shipped `linear` model (30 epochs, batch 64, AdamW with
/// peak rate 2·10⁻³ and cosine decay, weight decay 10⁻⁴, no shifts, seed 1).
pub fn train_config() -> TrainConfig {
    TrainConfig::shipped(Architecture::Linear)
}

/// Trains softmax regression `f(x) = Wx + b`, `W ∈ ℝ^{10×s²}`, on `train` area-averaged to
/// `side × side`, as `training::train` trains the shipped `linear` model: He-uniform weights
/// `U(±√(6/d))` and zero biases from a ChaCha8 stream seeded by `config.seed`, batches shuffled
/// by a stream seeded by `seed ^ 0x5eed`, cross-entropy, AdamW with cosine decay to 1%.
/// `on_epoch(epoch, mean loss)` follows the run; no clock is read here.
pub fn train(
    side: usize,
    config: &TrainConfig,
    train: &Digits,
    mut on_epoch: impl FnMut(usize, f64),
) -> Result<Affine> {
    if !SIDE.is_multiple_of(side.max(1)) || side == 0 {
        return Err(Error::Input(format!("{side} does not divide {SIDE}")));
    }
    if train.is_empty() || config.batch_size == 0 {
        return Err(Error::Input("nothing to train on".into()));
    }
    let d = side * side;
    let device = Device::Cpu;
    let varmap = VarMap::new();
    let vb = VarBuilder::from_varmap(&varmap, DType::F32, &device);
    let fc = candle_nn::linear(d, CLASSES, vb.pp("fc"))?;
    {
        let mut rng = ChaCha8Rng::seed_from_u64(config.seed);
        let vars = varmap.data().lock().expect("var map lock");
        let bound = (6.0 / d as f64).sqrt() as f32;
        let w: Vec<f32> = (0..CLASSES * d)
            .map(|_| rng.random_range(-bound..bound))
            .collect();
        let set = |name: &str, t: Tensor| -> Result<()> {
            vars.get(name)
                .ok_or_else(|| Error::Data(format!("variable {name} missing")))?
                .set(&t)?;
            Ok(())
        };
        set("fc.weight", Tensor::from_vec(w, (CLASSES, d), &device)?)?;
        set("fc.bias", Tensor::zeros(CLASSES, DType::F32, &device)?)?;
    }
    let images: Vec<f32> = (0..train.len())
        .map(|i| digit_at(train, i, side))
        .collect::<Result<Vec<_>>>()?
        .into_iter()
        .flatten()
        .map(|v| v as f32)
        .collect();
    let inputs = |chunk: &[usize], _: &mut ChaCha8Rng| -> Result<Tensor> {
        let mut xs = Vec::with_capacity(chunk.len() * d);
        for &i in chunk {
            xs.extend_from_slice(&images[i * d..(i + 1) * d]);
        }
        Ok(Tensor::from_vec(xs, (chunk.len(), d), &device)?)
    };
    crate::classification::training::fit(
        &varmap,
        config,
        train,
        inputs,
        |x| Ok(fc.forward(x)?),
        |epoch, loss| {
            on_epoch(epoch, loss);
            Ok(())
        },
    )?;
    let weights = fc.weight().to_dtype(DType::F64)?.to_vec2::<f64>()?;
    let bias = fc
        .bias()
        .ok_or_else(|| Error::Data("the linear layer has no bias".into()))?
        .to_dtype(DType::F64)?
        .to_vec1::<f64>()?;
    Affine::new(weights, bias)
}

/// The tensor names of the `side × side` model: `"{side}x{side}.weight"` (`F32[10, side²]`) and
/// `"{side}x{side}.bias"` (`F32[10]`).
pub fn tensor_names(side: usize) -> (String, String) {
    (
        format!("{side}x{side}.weight"),
        format!("{side}x{side}.bias"),
    )
}

/// One retrained model and its resolution.
#[derive(Clone, Debug, PartialEq)]
pub struct ResolutionModel {
    pub side: usize,
    pub model: Affine,
}

/// Writes the models as one safetensors file, in f32 (what ships).
pub fn models_to_safetensors(models: &[ResolutionModel]) -> Result<Vec<u8>> {
    let mut data = Vec::new();
    for m in models {
        let (wn, bn) = tensor_names(m.side);
        let w: Vec<f32> = m
            .model
            .weights
            .iter()
            .flatten()
            .map(|&v| v as f32)
            .collect();
        let b: Vec<f32> = m.model.bias.iter().map(|&v| v as f32).collect();
        data.push((wn, vec![m.model.classes(), m.model.dim()], w));
        data.push((bn, vec![m.model.classes()], b));
    }
    let mut meta = std::collections::HashMap::new();
    meta.insert(
        "description".to_string(),
        "softmax regression on MNIST area-averaged to 7x7, 14x14, 28x28 (lab linearity)"
            .to_string(),
    );
    crate::tensor_file::f32_safetensors(&data, Some(meta))
}

/// Reads the file of [`models_to_safetensors`]: one model per side of [`SIDES`], in that order,
/// checking dtypes, shapes and that every value is finite.
pub fn models_from_safetensors(bytes: &[u8]) -> Result<Vec<ResolutionModel>> {
    let bad = |reason: String| Error::Weights {
        model: "linearity".into(),
        reason,
    };
    let st = safetensors::SafeTensors::deserialize(bytes)
        .map_err(|e| bad(format!("not a readable safetensors file ({e})")))?;
    let read = |name: &str, shape: &[usize]| -> Result<Vec<f64>> {
        let t = st
            .tensor(name)
            .map_err(|_| bad(format!("tensor '{name}' is missing")))?;
        if t.dtype() != safetensors::Dtype::F32 || t.shape() != shape {
            return Err(bad(format!(
                "tensor '{name}' is {:?} {:?}, expected F32 {shape:?}",
                t.dtype(),
                t.shape()
            )));
        }
        let values: Vec<f64> = f32_values(&t).into_iter().map(f64::from).collect();
        if values.iter().any(|v| !v.is_finite()) {
            return Err(bad(format!("tensor '{name}' holds NaN or infinite values")));
        }
        Ok(values)
    };
    SIDES
        .iter()
        .map(|&side| {
            let d = side * side;
            let (wn, bn) = tensor_names(side);
            let w = read(&wn, &[CLASSES, d])?;
            let b = read(&bn, &[CLASSES])?;
            let model = Affine::new(w.chunks(d).map(<[f64]>::to_vec).collect(), b)?;
            Ok(ResolutionModel { side, model })
        })
        .collect()
}

/// DeepFool's settings, as recorded in the report.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DeepFoolSettings {
    pub norm: String,
    pub overshoot: f64,
    pub max_iterations: usize,
    pub step_epsilon: f64,
    pub clip: bool,
}

impl DeepFoolSettings {
    /// The settings of [`deepfool_linf`].
    pub fn of(d: &DeepFool) -> Self {
        Self {
            norm: match d.norm {
                Norm::L2 => "l2".into(),
                Norm::Linf => "linf".into(),
            },
            overshoot: d.overshoot,
            max_iterations: d.max_iterations,
            step_epsilon: d.step_epsilon,
            clip: d.clip.is_some(),
        }
    }
}

/// One resolution's line of the report.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ResolutionReport {
    pub side: usize,
    /// `d = side²`.
    pub d: usize,
    pub held_out_accuracy: f64,
    /// Held-out digits labelled correctly (the ones attacked).
    pub correct: usize,
    /// DeepFool runs that changed the label.
    pub converged: usize,
    /// `‖r‖∞` of ℓ∞ DeepFool over the correctly labelled held-out digits.
    pub deepfool_linf: Quartiles,
    /// The exact smallest ℓ∞ perturbation ([`min_linf_flip`]) over the same digits.
    pub exact_linf: Quartiles,
    /// Its numerator, the margin `f_k̂ − f_l` to the nearest class, over the same digits.
    pub margin: Quartiles,
    /// Its denominator `‖w_l − w_k̂‖₁`, over the same digits.
    pub boundary_l1: Quartiles,
    pub weights: WeightNorms,
    /// Mean training loss of the last epoch.
    pub final_loss: f64,
    /// Wall-clock training time (2 cores), seconds.
    pub training_seconds: f64,
    /// Wall-clock time of DeepFool per digit, milliseconds (natively, one thread).
    pub deepfool_ms_per_digit: f64,
}

/// What `lab linearity` measured (`static/reports/linearity.json`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LinearityReport {
    /// One line per side of [`SIDES`], in that order.
    pub resolutions: Vec<ResolutionReport>,
    /// Whether the median of `deepfool_linf` falls strictly as `d` grows.
    pub median_linf_decreases_with_d: bool,
    pub held_out_count: usize,
    pub train_count: usize,
    pub seed: u64,
    pub training: TrainConfig,
    pub deepfool: DeepFoolSettings,
    pub data: String,
    pub trained_with: String,
    pub note: String,
    pub command: String,
}

impl LinearityReport {
    /// Parses and checks a report: one line per side of [`SIDES`], `d = side²`, finite figures.
    pub fn from_json(text: &str) -> Result<Self> {
        let r: Self = serde_json::from_str(text)?;
        let sides: Vec<usize> = r.resolutions.iter().map(|l| l.side).collect();
        if sides != SIDES {
            return Err(Error::Data(format!(
                "the linearity report covers sides {sides:?}, expected {SIDES:?}"
            )));
        }
        for l in &r.resolutions {
            let q = [&l.deepfool_linf, &l.exact_linf, &l.margin, &l.boundary_l1];
            let finite = q
                .iter()
                .all(|q| [q.q1, q.median, q.q3, q.mean].iter().all(|v| v.is_finite()))
                && l.held_out_accuracy.is_finite()
                && l.weights.l1_mean.is_finite();
            if l.d != l.side * l.side || !finite {
                return Err(Error::Data(format!(
                    "the linearity report's line for {0}×{0} is inconsistent",
                    l.side
                )));
            }
        }
        Ok(r)
    }

    /// The line of `side`.
    pub fn at(&self, side: usize) -> Option<&ResolutionReport> {
        self.resolutions.iter().find(|l| l.side == side)
    }
}

/// A figure for the page and the report's wording: three significant digits or so, thousands
/// separated (`23,937`, `133.9`, `4.02`, `0.0266`).
pub fn figure(v: f64) -> String {
    if !v.is_finite() {
        return "—".into();
    }
    let a = v.abs();
    if a >= 1000.0 {
        thousands(v.round() as i64)
    } else if a >= 100.0 {
        format!("{v:.0}")
    } else if a >= 10.0 {
        format!("{v:.1}")
    } else if a >= 1.0 {
        format!("{v:.2}")
    } else if a >= 0.01 || a == 0.0 {
        format!("{v:.3}")
    } else {
        format!("{v:.4}")
    }
}

/// An integer with thousands separators (`100,000`).
pub fn thousands(n: i64) -> String {
    let digits = n.unsigned_abs().to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    if n < 0 {
        format!("-{out}")
    } else {
        out
    }
}

/// The report's finding in words: how the median smallest ℓ∞ perturbation moves with `d`, and
/// its two factors, `ε* = (f_k̂ − f_l) / ‖w_l − w_k̂‖₁`.
pub fn finding(report: &LinearityReport) -> String {
    let r = &report.resolutions;
    let (Some(first), Some(last)) = (r.first(), r.last()) else {
        return String::new();
    };
    if r.len() < 2 {
        return String::new();
    }
    let arrows = |f: fn(&ResolutionReport) -> f64| {
        r.iter()
            .map(|l| figure(f(l)))
            .collect::<Vec<_>>()
            .join(" → ")
    };
    let steps: Vec<String> = r
        .windows(2)
        .map(|w| {
            let (a, b) = (&w[0].deepfool_linf.median, &w[1].deepfool_linf.median);
            format!(
                "from {0}×{0} to {1}×{1} it {2} from {3} to {4}",
                w[0].side,
                w[1].side,
                if b < a { "falls" } else { "rises" },
                figure(*a),
                figure(*b)
            )
        })
        .collect();
    let head = if report.median_linf_decreases_with_d {
        "The median smallest ℓ∞ perturbation falls as d grows"
    } else {
        "The median smallest ℓ∞ perturbation does not simply fall as d grows"
    };
    let growth = (last.boundary_l1.median / first.boundary_l1.median).ln()
        / (last.d as f64 / first.d as f64).ln();
    format!(
        "{head}: {}. For each digit, ε* is the margin f_k̂ − f_l to the nearest class l divided by \
         ‖w_l − w_k̂‖₁. That ℓ₁ norm grows with d (median {}), but only about like d^{growth:.2}, \
         not like d: training shrinks the weights as their number grows (mean |w| {}). The \
         margin changes too (median {}).",
        steps.join("; "),
        arrows(|l| l.boundary_l1.median),
        arrows(|l| l.weights.mean_abs),
        arrows(|l| l.margin.median),
    )
}

/// Whether the medians fall strictly from one line to the next.
pub fn strictly_decreasing(values: &[f64]) -> bool {
    values.windows(2).all(|w| w[1] < w[0])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::classification::mnist::PIXELS;

    fn random_vec(n: usize, seed: u64) -> Vec<f64> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        (0..n).map(|_| StandardNormal.sample(&mut rng)).collect()
    }

    fn random_affine(k: usize, d: usize, seed: u64) -> Affine {
        let w = (0..k)
            .map(|i| random_vec(d, seed * 31 + i as u64))
            .collect();
        Affine::new(w, random_vec(k, seed + 1000)).unwrap()
    }

    /// All `2ᵈ` vertices `ε·s` of the ℓ∞ ball.
    fn vertices(d: usize, eps: f64) -> Vec<Vec<f64>> {
        (0..1usize << d)
            .map(|m| {
                (0..d)
                    .map(|i| if m >> i & 1 == 1 { eps } else { -eps })
                    .collect()
            })
            .collect()
    }

    #[test]
    fn worst_change_is_the_max_over_sign_vectors() {
        for seed in 0..5 {
            let d = 10;
            let w = random_vec(d, seed);
            let eps = 0.07;
            // A linear function on the ℓ∞ ball peaks at a vertex: brute force over all 2¹⁰.
            let brute = vertices(d, eps)
                .iter()
                .map(|v| v.iter().zip(&w).map(|(a, b)| a * b).sum::<f64>())
                .fold(f64::NEG_INFINITY, f64::max);
            let closed = worst_change(&w, eps);
            assert!((brute - closed).abs() < 1e-12, "{brute} vs {closed}");
            let attained: f64 = worst_perturbation(&w, eps)
                .iter()
                .zip(&w)
                .map(|(a, b)| a * b)
                .sum();
            assert!((attained - closed).abs() < 1e-12);
            assert!((closed - eps * d as f64 * norm1(&w) / d as f64).abs() < 1e-12);
        }
        assert_eq!(
            worst_perturbation(&[2.0, 0.0, -1.0], 0.1),
            vec![0.1, 0.0, -0.1]
        );
    }

    #[test]
    fn downsampling_keeps_the_mean_intensity() {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let image: Vec<f64> = (0..PIXELS).map(|_| rng.random_range(0.0..1.0)).collect();
        let mean = image.iter().sum::<f64>() / PIXELS as f64;
        for s in SIDES {
            let small = downsample(&image, SIDE, s).unwrap();
            assert_eq!(small.len(), s * s);
            let m = small.iter().sum::<f64>() / (s * s) as f64;
            assert!((m - mean).abs() < 1e-12, "{s}: {m} vs {mean}");
        }
        assert_eq!(downsample(&image, SIDE, SIDE).unwrap(), image);
        // A block: one 4×4 block of ones is one full pixel at 7×7.
        let mut block = vec![0.0; PIXELS];
        for y in 4..8 {
            for x in 8..12 {
                block[y * SIDE + x] = 1.0;
            }
        }
        let small = downsample(&block, SIDE, 7).unwrap();
        assert_eq!(small[7 + 2], 1.0);
        assert_eq!(small.iter().sum::<f64>(), 1.0);
        assert!(downsample(&image, SIDE, 5).is_err());
        assert!(downsample(&image[..10], SIDE, 7).is_err());
        assert!(downsample(&image, SIDE, 0).is_err());
    }

    #[test]
    fn deepfool_linf_on_an_affine_model_is_the_closed_form() {
        let model = random_affine(CLASSES, 20, 7);
        let df = deepfool_linf();
        for seed in 0..20 {
            let x = random_vec(20, 100 + seed);
            let flip = min_linf_flip(&model, &x).unwrap();
            let (dist, target) = (flip.distance, flip.target);
            assert!((flip.margin / flip.l1 - dist).abs() < 1e-12);
            let run = df.run(&model, &x).unwrap();
            assert!(run.converged);
            assert_eq!(run.iterations, 1, "one step suffices on an affine model");
            assert_eq!(run.targets, vec![target]);
            let r = crate::classification::attack::norm_inf(&run.perturbation);
            let expected = (1.0 + df.overshoot) * (dist + df.step_epsilon);
            assert!((r - expected).abs() < 1e-12, "{r} vs {expected}");
            // Its label is the target's or another one, never the original.
            let adv = crate::classification::attack::add_scaled(&x, 1.0, &run.perturbation);
            assert_ne!(model.label(&adv).unwrap(), model.label(&x).unwrap());
        }
    }

    #[test]
    fn the_closed_form_is_the_exact_smallest_flip() {
        // Each fₖ − f_k̂ is affine, so over the ℓ∞ ball of radius ρ it peaks at a vertex: the
        // label can change inside the ball iff some vertex changes it.
        let d = 6;
        for seed in 0..10 {
            let model = random_affine(4, d, 50 + seed);
            let x = random_vec(d, 200 + seed);
            let k0 = model.label(&x).unwrap();
            let dist = min_linf_flip(&model, &x).unwrap().distance;
            let flips = |rho: f64| {
                vertices(d, rho).iter().any(|v| {
                    let f = model
                        .logits(&crate::classification::attack::add_scaled(&x, 1.0, v))
                        .unwrap();
                    (0..f.len()).any(|k| k != k0 && f[k] > f[k0])
                })
            };
            assert!(!flips(dist * (1.0 - 1e-9)));
            assert!(flips(dist * (1.0 + 1e-9)));
        }
        let flat = Affine::new(vec![vec![1.0, 2.0]; 3], vec![0.0, 1.0, 2.0]).unwrap();
        assert!(min_linf_flip(&flat, &[0.0, 0.0]).is_err());
        assert!(min_linf_flip(&flat, &[0.0]).is_err());
    }

    #[test]
    fn random_weights_follow_the_expected_growth() {
        let (eps, sigma) = (0.1, 0.5);
        for d in [100, 1000, 10_000] {
            let mean_l1 = (0..40)
                .map(|s| RandomWeights::sample(d, sigma, s).l1)
                .sum::<f64>()
                / 40.0;
            let expected = expected_worst_change(eps, d, sigma);
            assert!(
                (eps * mean_l1 / expected - 1.0).abs() < 0.03,
                "{d}: {} vs {expected}",
                eps * mean_l1
            );
            let w = RandomWeights::sample(d, sigma, 1);
            let rms = expected_random_sign_change(eps, d, sigma);
            assert!((w.random_sign_change(eps) / rms - 1.0).abs() < 0.1);
        }
        // Seeded by seed and d: the same w whatever else was sampled.
        assert_eq!(
            RandomWeights::sample(77, 1.0, 4),
            RandomWeights::sample(77, 1.0, 4)
        );
        assert_ne!(
            RandomWeights::sample(77, 1.0, 4),
            RandomWeights::sample(77, 1.0, 5)
        );
        let curve = effect_curve(0.05, 1.0, &[10, 100], 4);
        assert_eq!(
            curve[1],
            EffectPoint::at(&RandomWeights::sample(100, 1.0, 4), 0.05)
        );
        // Linear in d, against √d for random signs.
        assert!(
            (expected_worst_change(0.05, 400, 1.0) / expected_worst_change(0.05, 100, 1.0) - 4.0)
                .abs()
                < 1e-12
        );
        assert!(
            (expected_random_sign_change(0.05, 400, 1.0)
                / expected_random_sign_change(0.05, 100, 1.0)
                - 2.0)
                .abs()
                < 1e-12
        );
    }

    #[test]
    fn log_grid_spans_the_range() {
        let g = log_grid(10, 100_000, 41);
        assert_eq!((g[0], *g.last().unwrap()), (10, 100_000));
        assert!(g.windows(2).all(|w| w[0] < w[1]));
        assert_eq!(log_grid(10, 1000, 3), vec![10, 100, 1000]);
    }

    #[test]
    fn quartiles_of_a_known_sample() {
        let q = Quartiles::of(&[5.0, 1.0, 4.0, 2.0, 3.0]).unwrap();
        assert_eq!(
            (q.q1, q.median, q.q3, q.mean, q.count),
            (2.0, 3.0, 4.0, 3.0, 5)
        );
        assert!(Quartiles::of(&[]).is_none());
        assert!(Quartiles::of(&[1.0, f64::NAN]).is_none());
        assert!(strictly_decreasing(&[3.0, 2.0, 1.0]));
        assert!(!strictly_decreasing(&[3.0, 3.0, 1.0]));
    }

    #[test]
    fn weight_norms_of_a_small_model() {
        let m = Affine::new(vec![vec![1.0, -3.0], vec![0.0, 2.0]], vec![0.0, 0.0]).unwrap();
        let n = WeightNorms::of(&m);
        assert_eq!(
            (n.l1_mean, n.l1_min, n.l1_max, n.mean_abs),
            (3.0, 2.0, 4.0, 1.5)
        );
    }

    fn toy_digits(n: usize) -> Digits {
        let mut rng = ChaCha8Rng::seed_from_u64(9);
        let labels: Vec<u8> = (0..n).map(|i| (i % CLASSES) as u8).collect();
        // Class c lights row band c a little: learnable at every resolution.
        let images = labels
            .iter()
            .flat_map(|&c| {
                let noise: Vec<u8> = (0..PIXELS).map(|_| rng.random_range(0..60)).collect();
                noise.into_iter().enumerate().map(move |(i, v)| {
                    if (i / SIDE) / 3 == c as usize {
                        200
                    } else {
                        v
                    }
                })
            })
            .collect();
        Digits::new(images, labels).unwrap()
    }

    #[test]
    fn training_is_seeded_and_learns() {
        let digits = toy_digits(200);
        let config = TrainConfig {
            epochs: 8,
            batch_size: 32,
            learning_rate: 5e-2,
            ..train_config()
        };
        let mut losses = Vec::new();
        let a = train(7, &config, &digits, |_, l| losses.push(l)).unwrap();
        let b = train(7, &config, &digits, |_, _| {}).unwrap();
        assert_eq!(a, b);
        assert_eq!((a.classes(), a.dim()), (CLASSES, 49));
        assert_eq!(losses.len(), 8);
        assert!(losses[7] < losses[0], "{losses:?}");
        let acc = accuracy(&a, 7, &digits).unwrap();
        assert!(acc > 0.9, "{acc}");
        assert!(train(5, &config, &digits, |_, _| {}).is_err());
        let figures = linf_figures(&a, 7, &digits).unwrap();
        assert_eq!(figures.exact.len(), figures.correct);
        assert_eq!(figures.margins.len(), figures.correct);
        assert_eq!(figures.converged, figures.correct);
        assert!(linf_figures(&a, 14, &digits).is_err());
    }

    #[test]
    fn models_round_trip_through_safetensors() {
        let models: Vec<ResolutionModel> = SIDES
            .iter()
            .map(|&side| ResolutionModel {
                side,
                model: random_affine(CLASSES, side * side, side as u64),
            })
            .collect();
        let bytes = models_to_safetensors(&models).unwrap();
        let back = models_from_safetensors(&bytes).unwrap();
        for (a, b) in models.iter().zip(&back) {
            assert_eq!(a.side, b.side);
            for (ra, rb) in a.model.weights.iter().zip(&b.model.weights) {
                for (x, y) in ra.iter().zip(rb) {
                    assert_eq!(*x as f32, *y as f32);
                }
            }
        }
        assert!(models_from_safetensors(b"garbage").is_err());
        assert!(models_from_safetensors(&bytes[..bytes.len() - 8]).is_err());
        // A missing resolution and a non-finite weight are errors.
        assert!(models_from_safetensors(&models_to_safetensors(&models[..2]).unwrap()).is_err());
        let mut broken = models.clone();
        broken[1].model.weights[0][3] = f64::NAN;
        let e = models_from_safetensors(&models_to_safetensors(&broken).unwrap()).unwrap_err();
        assert!(e.to_string().contains("NaN"), "{e}");
    }

    /// A report with these lines and the shipped settings.
    fn report_of(resolutions: Vec<ResolutionReport>) -> LinearityReport {
        LinearityReport {
            resolutions,
            median_linf_decreases_with_d: false,
            held_out_count: 2000,
            train_count: 8000,
            seed: 1,
            training: train_config(),
            deepfool: DeepFoolSettings::of(&deepfool_linf()),
            data: String::new(),
            trained_with: String::new(),
            note: String::new(),
            command: COMMAND.into(),
        }
    }

    #[test]
    fn reports_are_checked() {
        let q = Quartiles::of(&[0.1, 0.2, 0.3]).unwrap();
        let w = WeightNorms::of(&random_affine(CLASSES, 4, 1));
        let line = |side: usize| ResolutionReport {
            side,
            d: side * side,
            held_out_accuracy: 0.9,
            correct: 1800,
            converged: 1800,
            deepfool_linf: q,
            exact_linf: q,
            margin: q,
            boundary_l1: q,
            weights: w,
            final_loss: 0.3,
            training_seconds: 1.0,
            deepfool_ms_per_digit: 0.01,
        };
        let report = report_of(SIDES.iter().map(|&s| line(s)).collect());
        let text = serde_json::to_string(&report).unwrap();
        assert_eq!(LinearityReport::from_json(&text).unwrap(), report);
        assert_eq!(report.at(14).unwrap().d, 196);
        let mut bad = report.clone();
        bad.resolutions.pop();
        assert!(LinearityReport::from_json(&serde_json::to_string(&bad).unwrap()).is_err());
        let mut bad = report.clone();
        bad.resolutions[0].d = 50;
        assert!(LinearityReport::from_json(&serde_json::to_string(&bad).unwrap()).is_err());
        assert!(LinearityReport::from_json("{").is_err());
    }

    #[test]
    fn figures_and_the_finding_in_words() {
        assert_eq!(figure(23_936.7), "23,937");
        assert_eq!(figure(133.95), "134");
        assert_eq!(figure(77.03), "77.0");
        assert_eq!(figure(4.021), "4.02");
        assert_eq!(figure(0.02661), "0.027");
        assert_eq!(figure(0.00266), "0.0027");
        assert_eq!(figure(f64::NAN), "—");
        assert_eq!(thousands(100_000), "100,000");
        assert_eq!(thousands(-1234), "-1,234");
        assert_eq!(thousands(999), "999");
        let q = |m: f64| Quartiles {
            q1: m,
            median: m,
            q3: m,
            mean: m,
            count: 1,
        };
        let w = WeightNorms::of(&random_affine(CLASSES, 4, 1));
        let line = |side: usize, median: f64, l1: f64| ResolutionReport {
            side,
            d: side * side,
            held_out_accuracy: 0.9,
            correct: 1,
            converged: 1,
            deepfool_linf: q(median),
            exact_linf: q(median),
            margin: q(median * l1),
            boundary_l1: q(l1),
            weights: w,
            final_loss: 0.3,
            training_seconds: 1.0,
            deepfool_ms_per_digit: 0.01,
        };
        let mut report = report_of(vec![
            line(7, 0.036, 58.0),
            line(14, 0.039, 93.0),
            line(28, 0.027, 168.0),
        ]);
        let text = finding(&report);
        assert!(
            text.starts_with("The median smallest ℓ∞ perturbation does not simply fall"),
            "{text}"
        );
        assert!(
            text.contains("from 7×7 to 14×14 it rises from 0.036 to 0.039"),
            "{text}"
        );
        assert!(
            text.contains("from 14×14 to 28×28 it falls from 0.039 to 0.027"),
            "{text}"
        );
        assert!(text.contains("median 58.0 → 93.0 → 168"), "{text}");
        assert!(text.contains("d^0.38"), "{text}");
        report.resolutions[0].deepfool_linf.median = 0.05;
        report.median_linf_decreases_with_d = true;
        assert!(
            finding(&report).starts_with("The median smallest ℓ∞ perturbation falls as d grows")
        );
        report.resolutions.truncate(1);
        assert_eq!(finding(&report), "");
    }
}
