//! Non-robust features (Ilyas, Santurkar, Tsipras, Engstrom, Tran & Madry, "Adversarial Examples
//! Are Not Bugs, They Are Features", NeurIPS 2019, §3.2): a training set whose labels are
//! explained *only* by imperceptible, adversarial directions still teaches a network that
//! generalises to clean test images.
//!
//! The construction, at MNIST scale:
//! 1. a normally trained source classifier `f` (the lab's shipped `cnn`);
//! 2. for each training digit `(x, y)` a target `t ≠ y`: `t = (y + 1) mod 10` (the paper's
//!    `D_det`, [`TargetRule::Deterministic`]) or `t` drawn uniformly from the nine other classes
//!    (`D_rand`, [`TargetRule::Random`]; the paper draws `t` uniformly, we leave out `t = y` so
//!    that no relabelled digit keeps its own label);
//! 3. targeted projected gradient descent in an ℓ₂ ball ([`TargetedPgd`]): minimise the
//!    cross-entropy towards `t`, `L(x′) = −log softmax(f(x′))_t`, by `x′ ← P(x′ − α ∇L/‖∇L‖₂)`,
//!    `P` the projection onto the ball `‖x′ − x‖₂ ≤ ε` followed by clipping to the pixel box
//!    `[0, 1]` (as in the authors' `robustness` library; clipping a point of the ball towards the
//!    box, which holds `x`, keeps it in the ball), `steps` times from `x′ = x`;
//! 4. the relabelled set `D = {(x′, t)}` ([`relabel`]): the digits still look like their
//!    original `y` (‖x′ − x‖₂ ≤ ε), yet every label is "wrong" to a human.
//!
//! A fresh network trained only on `D` and tested on the clean held-out digits with their true
//! labels scores well above chance when the perturbations carry features that generalise: the
//! paper reports 63.3% (`D_rand`) and 43.7% (`D_det`) clean CIFAR-10 test accuracy for a
//! ResNet-50 (Table 1; ε = 0.5 in ℓ₂ on pixels in `[0, 1]`). MNIST digits need a larger radius
//! for targeted success; the lab's figures are in `static/reports/non_robust_features.json`.
//!
//! Everything is batched over many digits at once with candle; the relabelled images are stored
//! as bytes (`round(255 x′)`), and every statistic is measured on the stored bytes.

use crate::classification::classifier::Classifier;
use crate::classification::mnist::{Digits, CLASSES, PIXELS, SIDE};
use crate::classification::training::{EpochReport, TrainConfig};
use crate::{Error, Result};
use candle_core::{DType, Tensor, Var, D};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use safetensors::tensor::{Dtype, TensorView};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// How the target class `t` of a training digit of class `y` is chosen.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TargetRule {
    /// `t = (y + 1) mod 10`: the paper's `D_det`.
    Deterministic,
    /// `t` uniform over the nine classes other than `y` (seeded): the paper's `D_rand`.
    Random,
}

impl TargetRule {
    /// Both rules.
    pub const ALL: [TargetRule; 2] = [TargetRule::Random, TargetRule::Deterministic];

    /// The short name (`det`, `rand`) used on the command line and in file names.
    pub fn name(self) -> &'static str {
        match self {
            TargetRule::Deterministic => "det",
            TargetRule::Random => "rand",
        }
    }

    /// Parses `det` or `rand`.
    pub fn from_name(name: &str) -> Result<Self> {
        Self::ALL
            .into_iter()
            .find(|r| r.name() == name)
            .ok_or_else(|| Error::Input(format!("a target rule is det or rand, not '{name}'")))
    }

    /// The paper's name of the set (`D_det`, `D_rand`).
    pub fn paper_name(self) -> &'static str {
        match self {
            TargetRule::Deterministic => "D_det",
            TargetRule::Random => "D_rand",
        }
    }

    /// The targets of digits labelled `labels` (`seed` draws the random ones).
    pub fn targets(self, labels: &[u8], seed: u64) -> Vec<u8> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        labels
            .iter()
            .map(|&y| match self {
                TargetRule::Deterministic => (y + 1) % CLASSES as u8,
                TargetRule::Random => {
                    // Uniform over the other nine classes: y + 1, …, y + 9 (mod 10).
                    let k: u8 = rng.random_range(1..CLASSES as u8);
                    (y + k) % CLASSES as u8
                }
            })
            .collect()
    }
}

/// `L_b = −log softmax(f(x_b))_{t_b}` for every image of the batch `x` (`[B, 784]`), and the
/// gradient `∇ₓ Σ_b L_b` (row `b` is `∇ L_b`, since each loss depends on its own image only).
/// `targets` is a `[B]` u32 tensor.
pub fn targeted_loss(model: &Classifier, x: &Tensor, targets: &Tensor) -> Result<(Tensor, Tensor)> {
    let var = Var::from_tensor(&x.detach())?;
    let logits = model.logits(var.as_tensor())?;
    let log_p = candle_nn::ops::log_softmax(&logits, D::Minus1)?;
    let loss = log_p.gather(&targets.unsqueeze(1)?, 1)?.squeeze(1)?.neg()?;
    let grads = loss.sum_all()?.backward()?;
    let gradient = grads
        .get(var.as_tensor())
        .cloned()
        .ok_or_else(|| Error::Input("the input does not influence the output".into()))?;
    Ok((loss.detach(), gradient))
}

/// The row-wise ℓ₂ norms `‖v_b‖₂` of a `[B, n]` tensor, as `[B, 1]`.
fn row_norms(v: &Tensor) -> Result<Tensor> {
    Ok(v.sqr()?.sum_keepdim(1)?.sqrt()?)
}

/// One step of targeted ℓ₂ PGD for a batch: `x ← x − α g/‖g‖₂` (row-wise; a zero gradient does
/// not move), then `x₀ + δ·min(1, ε/‖δ‖₂)` with `δ = x − x₀` (the projection onto the ℓ₂ ball of
/// radius `ε` around `x₀`), then clipping to `[0, 1]`. The result lies in the ball and the box
/// whenever `x₀` lies in the box.
pub fn pgd_step(
    x: &Tensor,
    x0: &Tensor,
    gradient: &Tensor,
    alpha: f64,
    epsilon: f64,
) -> Result<Tensor> {
    let direction = gradient.broadcast_div(&row_norms(gradient)?.affine(1.0, 1e-12)?)?;
    let moved = (x - direction.affine(alpha, 0.0)?)?;
    let delta = (moved - x0)?;
    let scale = row_norms(&delta)?
        .affine(1.0, 1e-12)?
        .recip()?
        .affine(epsilon, 0.0)?
        .minimum(1.0)?;
    Ok((x0 + delta.broadcast_mul(&scale)?)?.clamp(0.0, 1.0)?)
}

/// Targeted ℓ₂ projected gradient descent (no random start, a fixed number of steps: the
/// attack aims at a confidently classified target, not at the smallest perturbation).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct TargetedPgd {
    /// Radius `ε` of the ℓ₂ ball, on pixels in `[0, 1]`.
    pub epsilon: f64,
    /// Step length `α` along the normalised gradient.
    pub alpha: f64,
    pub steps: usize,
}

impl TargetedPgd {
    /// Checks the settings.
    pub fn check(&self) -> Result<()> {
        let ok = |v: f64| v.is_finite() && v > 0.0;
        if !ok(self.epsilon) || !ok(self.alpha) || self.steps == 0 {
            return Err(Error::Input(format!(
                "PGD needs ε > 0, α > 0 and at least one step, not ε = {}, α = {}, {} steps",
                self.epsilon, self.alpha, self.steps
            )));
        }
        Ok(())
    }

    /// The perturbed batch `x′` (`[B, 784]`, the dtype of `x0`) from clean images `x0` towards
    /// `targets` (`[B]` u32).
    pub fn run(&self, model: &Classifier, x0: &Tensor, targets: &Tensor) -> Result<Tensor> {
        self.check()?;
        let mut x = x0.clone();
        for _ in 0..self.steps {
            let (_, gradient) = targeted_loss(model, &x, targets)?;
            x = pgd_step(&x, x0, &gradient, self.alpha, self.epsilon)?;
        }
        Ok(x)
    }
}

/// The relabelled training set and what it was made from.
#[derive(Clone, Debug, PartialEq)]
pub struct Relabelled {
    pub rule: TargetRule,
    /// The perturbed digits `x′` (as bytes) labelled with their targets `t`.
    pub digits: Digits,
    /// The clean digits `x` with their true labels `y`, in the same order.
    pub originals: Digits,
    /// The source model's label of each stored `x′`.
    pub source_labels: Vec<u8>,
}

/// Statistics of a sample: mean, median and largest value.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Spread {
    pub mean: f64,
    pub median: f64,
    pub max: f64,
}

impl Spread {
    /// Of `values` (all zero when empty).
    pub fn of(values: &[f64]) -> Self {
        if values.is_empty() {
            return Self {
                mean: 0.0,
                median: 0.0,
                max: 0.0,
            };
        }
        let mut sorted = values.to_vec();
        sorted.sort_by(f64::total_cmp);
        let n = sorted.len();
        let median = if n % 2 == 1 {
            sorted[n / 2]
        } else {
            0.5 * (sorted[n / 2 - 1] + sorted[n / 2])
        };
        Self {
            mean: sorted.iter().sum::<f64>() / n as f64,
            median,
            max: sorted[n - 1],
        }
    }
}

/// What the relabelled set is, measured on the stored bytes.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct SetStats {
    pub count: usize,
    /// Share of `x′` the source model labels `t` (the targeted attack's success rate).
    pub attack_success: f64,
    /// Share of `x′` the source model still labels `y`.
    pub source_keeps_label: f64,
    /// `‖x′ − x‖₂` over the digits (pixels in `[0, 1]`).
    pub delta_l2: Spread,
    /// `‖x′ − x‖∞` over the digits.
    pub delta_linf: Spread,
}

/// Bytes `round(255 v)` of intensities in `[0, 1]`.
fn to_bytes(values: &[f32]) -> Vec<u8> {
    values
        .iter()
        .map(|&v| (v.clamp(0.0, 1.0) * 255.0).round() as u8)
        .collect()
}

/// The source model's labels of `images` (bytes, `PIXELS` a digit).
fn labels_of(model: &Classifier, images: &[u8]) -> Result<Vec<u8>> {
    let n = images.len() / PIXELS;
    let xs: Vec<f32> = images.iter().map(|&p| p as f32 / 255.0).collect();
    let x = Tensor::from_vec(xs, (n, PIXELS), &model.device())?.to_dtype(model.dtype())?;
    let labels = model.logits(&x)?.argmax(1)?.to_vec1::<u32>()?;
    Ok(labels.into_iter().map(|l| l as u8).collect())
}

/// Builds the relabelled set from `digits`: targets by `rule` (seeded by `seed`), targeted PGD
/// on `source` in batches of `batch` digits; `on_batch(done)` runs after each batch (the number
/// of digits done so far) and may stop the run with an error.
pub fn relabel(
    source: &Classifier,
    digits: &Digits,
    rule: TargetRule,
    seed: u64,
    pgd: &TargetedPgd,
    batch: usize,
    mut on_batch: impl FnMut(usize) -> Result<()>,
) -> Result<Relabelled> {
    pgd.check()?;
    let targets = rule.targets(digits.labels(), seed);
    let indices: Vec<usize> = (0..digits.len()).collect();
    let mut images = Vec::with_capacity(digits.len() * PIXELS);
    let mut source_labels = Vec::with_capacity(digits.len());
    for chunk in indices.chunks(batch.max(1)) {
        let (x0, _) = digits.batch(chunk, &source.device())?;
        let x0 = x0.to_dtype(source.dtype())?;
        let t: Vec<u32> = chunk.iter().map(|&i| targets[i] as u32).collect();
        let t = Tensor::from_vec(t, chunk.len(), &source.device())?;
        let x = pgd.run(source, &x0, &t)?;
        let bytes = to_bytes(&x.to_dtype(DType::F32)?.flatten_all()?.to_vec1::<f32>()?);
        source_labels.extend(labels_of(source, &bytes)?);
        images.extend(bytes);
        on_batch(images.len() / PIXELS)?;
    }
    Ok(Relabelled {
        rule,
        digits: Digits::new(images, targets)?,
        originals: digits.clone(),
        source_labels,
    })
}

impl Relabelled {
    /// Number of digits.
    pub fn len(&self) -> usize {
        self.digits.len()
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.digits.is_empty()
    }

    /// `x′ − x` of digit `i`, in `[−1, 1]`.
    pub fn delta(&self, i: usize) -> Vec<f64> {
        (self.digits.pixels(i).iter())
            .zip(self.originals.pixels(i))
            .map(|(&a, &b)| (a as f64 - b as f64) / 255.0)
            .collect()
    }

    /// The perturbed digits with their *original* labels `y`.
    pub fn with_original_labels(&self) -> Result<Digits> {
        let images = (0..self.len())
            .flat_map(|i| self.digits.pixels(i).to_vec())
            .collect();
        Digits::new(images, self.originals.labels().to_vec())
    }

    /// The attack's success and the perturbations' sizes.
    pub fn stats(&self) -> SetStats {
        let n = self.len();
        let share = |count: usize| count as f64 / n.max(1) as f64;
        let hits = |labels: &[u8]| {
            (self.source_labels.iter())
                .zip(labels)
                .filter(|(a, b)| a == b)
                .count()
        };
        let (mut l2, mut linf) = (Vec::with_capacity(n), Vec::with_capacity(n));
        for i in 0..n {
            let d = self.delta(i);
            l2.push(d.iter().map(|v| v * v).sum::<f64>().sqrt());
            linf.push(d.iter().fold(0.0f64, |m, v| m.max(v.abs())));
        }
        SetStats {
            count: n,
            attack_success: share(hits(self.digits.labels())),
            source_keeps_label: share(hits(self.originals.labels())),
            delta_l2: Spread::of(&l2),
            delta_linf: Spread::of(&linf),
        }
    }

    /// The first `per_class` digits of each original class, in class order: indices for
    /// [`Examples`].
    pub fn example_indices(&self, per_class: usize) -> Vec<usize> {
        let mut out = Vec::new();
        for class in 0..CLASSES {
            out.extend(
                (0..self.len())
                    .filter(|&i| self.originals.label(i) == class)
                    .take(per_class),
            );
        }
        out
    }
}

/// A few relabelled training digits for the page: `original: U8[N, 28, 28]`,
/// `perturbed: U8[N, 28, 28]`, `label: U8[N]` (the true `y`), `target: U8[N]` (the label `t` the
/// set gives it), and the construction in the metadata (`rule`, `epsilon`).
#[derive(Clone, Debug, PartialEq)]
pub struct Examples {
    pub rule: TargetRule,
    pub epsilon: f64,
    pub original: Vec<u8>,
    pub perturbed: Vec<u8>,
    pub labels: Vec<u8>,
    pub targets: Vec<u8>,
}

impl Examples {
    /// The digits of `set` at `indices`.
    pub fn from_relabelled(set: &Relabelled, epsilon: f64, indices: &[usize]) -> Self {
        let pick = |d: &Digits| -> Vec<u8> {
            (indices.iter())
                .flat_map(|&i| d.pixels(i).to_vec())
                .collect()
        };
        Self {
            rule: set.rule,
            epsilon,
            original: pick(&set.originals),
            perturbed: pick(&set.digits),
            labels: indices.iter().map(|&i| set.originals.labels()[i]).collect(),
            targets: indices.iter().map(|&i| set.digits.labels()[i]).collect(),
        }
    }

    /// Number of examples.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// The safetensors form.
    pub fn to_safetensors(&self) -> Result<Vec<u8>> {
        let n = self.len();
        let image = vec![n, SIDE, SIDE];
        let tensors = [
            (
                "original",
                TensorView::new(Dtype::U8, image.clone(), &self.original)?,
            ),
            (
                "perturbed",
                TensorView::new(Dtype::U8, image, &self.perturbed)?,
            ),
            ("label", TensorView::new(Dtype::U8, vec![n], &self.labels)?),
            (
                "target",
                TensorView::new(Dtype::U8, vec![n], &self.targets)?,
            ),
        ];
        let meta = HashMap::from([
            ("rule".to_string(), self.rule.name().to_string()),
            ("epsilon".to_string(), self.epsilon.to_string()),
        ]);
        Ok(safetensors::serialize(tensors, Some(meta))?)
    }

    /// Reads [`Examples::to_safetensors`]' form, checking dtypes, shapes, labels and metadata.
    pub fn from_safetensors(bytes: &[u8]) -> Result<Self> {
        let bad = |what: String| Error::Data(format!("non-robust examples: {what}"));
        let (_, meta) = safetensors::SafeTensors::read_metadata(bytes)?;
        let st = safetensors::SafeTensors::deserialize(bytes)?;
        let meta = meta.metadata().clone().unwrap_or_default();
        let rule = TargetRule::from_name(meta.get("rule").map_or("", String::as_str))?;
        let epsilon: f64 = (meta.get("epsilon"))
            .and_then(|e| e.parse().ok())
            .filter(|e: &f64| e.is_finite() && *e > 0.0)
            .ok_or_else(|| bad("no valid epsilon in the metadata".into()))?;
        let n = st.tensor("label")?.shape().first().copied().unwrap_or(0);
        let read = |name: &str, shape: &[usize]| -> Result<Vec<u8>> {
            let t = st.tensor(name)?;
            if t.dtype() != Dtype::U8 || t.shape() != shape {
                return Err(bad(format!(
                    "{name} is {:?} {:?}, expected U8 {shape:?}",
                    t.dtype(),
                    t.shape()
                )));
            }
            Ok(t.data().to_vec())
        };
        let examples = Self {
            rule,
            epsilon,
            original: read("original", &[n, SIDE, SIDE])?,
            perturbed: read("perturbed", &[n, SIDE, SIDE])?,
            labels: read("label", &[n])?,
            targets: read("target", &[n])?,
        };
        if (examples.labels.iter())
            .chain(&examples.targets)
            .any(|&l| l as usize >= CLASSES)
        {
            return Err(bad("a label is not a digit".into()));
        }
        Ok(examples)
    }
}

/// A figure of the paper, for comparison.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PaperFigure {
    pub dataset: String,
    pub construction: String,
    pub model: String,
    /// Clean test accuracy, as a fraction.
    pub accuracy: f64,
    pub source: String,
}

/// The paper's clean CIFAR-10 test accuracies of a ResNet-50 trained on `D_rand` and `D_det`
/// (Ilyas et al. 2019, Table 1).
pub fn paper_figures() -> Vec<PaperFigure> {
    [("D_rand", 0.633), ("D_det", 0.437)]
        .into_iter()
        .map(|(construction, accuracy)| PaperFigure {
            dataset: "CIFAR-10".into(),
            construction: construction.into(),
            model: "ResNet-50".into(),
            accuracy,
            source: "Ilyas et al., NeurIPS 2019, Table 1 (ℓ₂, ε = 0.5)".into(),
        })
        .collect()
}

/// One construction (`D_rand` or `D_det`) and the network trained on it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunReport {
    pub rule: TargetRule,
    /// The paper's name of the set.
    pub construction: String,
    /// The shipped model trained on it (`static/models/<model>.safetensors`).
    pub model: String,
    /// The seed of the random targets.
    pub target_seed: u64,
    pub attack: TargetedPgd,
    pub set: SetStats,
    /// Wall-clock time of building the set, seconds.
    pub build_seconds: f64,
    pub training: TrainConfig,
    pub training_seconds: f64,
    /// Clean held-out accuracy with the true labels.
    pub held_out_accuracy: f64,
    /// The same on the first [`NonRobustReport::subset_count`] held-out digits (the tests).
    pub subset_held_out_accuracy: f64,
    /// Accuracy on the relabelled training set with the labels `t` it was trained on.
    pub relabelled_accuracy: f64,
    /// Accuracy on the relabelled training images with their original labels `y`.
    pub original_label_accuracy: f64,
    /// Share of the clean held-out digits it labels `(y + 1) mod 10`: the label that `D_det`'s
    /// robust features (the digit's shape) teach.
    #[serde(default)]
    pub held_out_next_class: f64,
    /// Loss and clean held-out accuracy after each epoch.
    pub history: Vec<EpochReport>,
}

/// `static/reports/non_robust_features.json`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NonRobustReport {
    pub paper: String,
    /// The normally trained source model the perturbations are computed on.
    pub source_model: String,
    /// Its clean held-out accuracy, the normal model to compare with.
    pub source_held_out_accuracy: f64,
    /// `1/10`.
    pub chance: f64,
    pub held_out_count: usize,
    /// Held-out digits of the subset figures.
    pub subset_count: usize,
    /// The main experiment first.
    pub runs: Vec<RunReport>,
    pub paper_figures: Vec<PaperFigure>,
    /// The examples file (of the first run).
    pub examples: String,
    pub command: String,
    pub date: String,
    pub trained_with: String,
}

impl NonRobustReport {
    /// Parses the report.
    pub fn from_json(bytes: &[u8]) -> Result<Self> {
        Ok(serde_json::from_slice(bytes)?)
    }

    /// The run of `rule`, if any.
    pub fn run(&self, rule: TargetRule) -> Option<&RunReport> {
        self.runs.iter().find(|r| r.rule == rule)
    }
}

/// Share of the first `count` digits of `digits` that `model` labels correctly.
pub fn subset_accuracy(model: &Classifier, digits: &Digits, count: usize) -> Result<f64> {
    let first: Vec<usize> = (0..count.min(digits.len())).collect();
    crate::classification::training::accuracy(model, &digits.select(&first))
}

/// Share of `digits` that `model` labels `(y + 1) mod 10`, the class after their own.
pub fn next_class_share(model: &Classifier, digits: &Digits) -> Result<f64> {
    let images = (0..digits.len())
        .flat_map(|i| digits.pixels(i).to_vec())
        .collect();
    let next = TargetRule::Deterministic.targets(digits.labels(), 0);
    crate::classification::training::accuracy(model, &Digits::new(images, next)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_are_never_the_label() {
        let labels: Vec<u8> = (0..1000).map(|i| (i % 10) as u8).collect();
        let det = TargetRule::Deterministic.targets(&labels, 1);
        assert!(labels.iter().zip(&det).all(|(y, t)| *t == (y + 1) % 10));
        let rand = TargetRule::Random.targets(&labels, 1);
        assert!(labels.iter().zip(&rand).all(|(y, t)| t != y && *t < 10));
        // Every other class is drawn.
        for k in 1..10 {
            assert!(labels
                .iter()
                .zip(&rand)
                .any(|(y, t)| (t + 10 - y) % 10 == k));
        }
        assert_eq!(rand, TargetRule::Random.targets(&labels, 1));
        assert_ne!(rand, TargetRule::Random.targets(&labels, 2));
        for r in TargetRule::ALL {
            assert_eq!(TargetRule::from_name(r.name()).unwrap(), r);
        }
        assert!(TargetRule::from_name("random").is_err());
    }

    #[test]
    fn spreads() {
        let s = Spread::of(&[3.0, 1.0, 2.0, 10.0]);
        assert_eq!((s.mean, s.median, s.max), (4.0, 2.5, 10.0));
        assert_eq!(Spread::of(&[1.0, 5.0, 2.0]).median, 2.0);
    }
}
