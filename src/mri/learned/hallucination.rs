//! The setting of the hallucinations experiment (Antun, Renna, Poon, Adcock & Hansen, "On
//! instabilities of deep learning in image reconstruction and the potential costs of AI", PNAS
//! 2020): trained reconstruction networks `Ψ` on `64 × 64` brain slices measured along Cartesian
//! lines, their model cards, FIRENET in the same setting, and the measure of whether a change of
//! the output is *structure* (a feature appearing or disappearing) rather than noise.
//!
//! A worst-case perturbation `r` with `‖r‖₂/‖x‖₂` small is a hallucination when
//! `κ = ‖Ψ(A(x + r)) − Ψ(Ax)‖₂/‖r‖₂` is large *and* the change is concentrated: its
//! [`window_share`] (the largest share of `‖Ψ(A(x + r)) − Ψ(Ax)‖₂²` inside one small window) is
//! far above the share `w²/N²` of a change spread evenly over the image.

use crate::engine::Engine;
use crate::mri::brain::Split;
use crate::mri::firenet::Firenet;
use crate::mri::instability::FirenetReconstructor;
use crate::mri::learned::cascade::{CascadeNet, CascadeShape};
use crate::mri::operator::{LinearOperator, Sampling};
use crate::mri::sampling::Mask;
use crate::mri::wavelet::{Wavelet, Wavelet2};
use crate::{Error, Result};
use serde::{Deserialize, Serialize};

/// Side of the images of the experiment (the 128² slices halved).
pub const SIDE: usize = 64;
/// Side of the window of [`window_share`] at [`SIDE`] (18 mm; [`window_for`] at other sides).
pub const WINDOW: usize = 12;

/// The window of side `n`: [`WINDOW`] scaled with the image, the same 18 mm of the field of view
/// (12 pixels at 64², 24 at 128²), so that an evenly spread change puts the same 3.5% in it.
pub fn window_for(n: usize) -> usize {
    (WINDOW * n / SIDE).clamp(1, n.max(1))
}
/// Wavelet levels of FIRENET at [`SIDE`] (Haar: 8 × 8 coarsest band).
pub const FIRENET_LEVELS: usize = 3;
/// The side of the experiment at the papers' scale (the 128² slices themselves).
pub const LARGE_SIDE: usize = 128;

/// FIRENET's wavelet and levels for images of side `n`: Haar over [`FIRENET_LEVELS`] levels at
/// [`SIDE`] (the 64² experiment), and otherwise db4 over the deepest levels whose coarsest band
/// is still as long as the filter (4 at 128²): the setting measured by `lab mri-setting`
/// (docs/hallucinations.md, "The 128² setting"), where FIRENET is 4.2 dB above zero-filling with
/// variable-density sampling at 25%.
pub fn firenet_wavelet(n: usize) -> (Wavelet, usize) {
    if n == SIDE {
        (Wavelet::Haar, FIRENET_LEVELS)
    } else {
        (
            Wavelet::Db4,
            crate::mri::wavelet::max_levels(n, Wavelet::Db4).max(1),
        )
    }
}

/// An image of side `2n` halved to side `n` by 2 × 2 means.
pub fn halve(image: &[f32], side: usize) -> Result<Vec<f32>> {
    if !side.is_multiple_of(2) || image.len() != side * side {
        return Err(Error::Input(format!(
            "halving needs an even square image, got {} pixels for side {side}",
            image.len()
        )));
    }
    let n = side / 2;
    Ok((0..n * n)
        .map(|i| {
            let (y, x) = (2 * (i / n), 2 * (i % n));
            (image[y * side + x]
                + image[y * side + x + 1]
                + image[(y + 1) * side + x]
                + image[(y + 1) * side + x + 1])
                / 4.0
        })
        .collect())
}

/// Slice `id` at side `n`: the file's slice itself, or halved once (128² → 64²).
pub fn slice_at(
    brain: &crate::mri::brain::BrainSlices,
    id: crate::mri::brain::SliceId,
    n: usize,
) -> Result<Vec<f32>> {
    let image = brain.image(id)?;
    if n == brain.side() {
        Ok(image)
    } else if 2 * n == brain.side() {
        halve(&image, brain.side())
    } else {
        Err(Error::Input(format!(
            "slices of side {0} give images of side {0} or {1}, not {n}",
            brain.side(),
            brain.side() / 2
        )))
    }
}

pub use crate::mri::sampling::MaskSpec;

/// Held-out quality of a reconstruction network against zero-filling and FIRENET (means over
/// the held-out slices, clean measurements).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HeldOut {
    pub slices: usize,
    pub psnr_zero_filled: f64,
    pub psnr_firenet: f64,
    pub psnr_net: f64,
    pub ssim_zero_filled: f64,
    pub ssim_firenet: f64,
    pub ssim_net: f64,
}

/// How a network was trained.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NetTraining {
    pub steps: usize,
    pub batch: usize,
    pub learning_rate: f64,
    pub seed: u64,
    pub seconds: f64,
    pub final_loss: f64,
    /// `(step, loss)` every 50 steps.
    pub history: Vec<(usize, f64)>,
    pub data: String,
    pub trained_with: String,
    pub command: String,
    /// The shipped network whose weights training started from (fine-tuning), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub init: Option<String>,
    /// `S` of the measurement noise during training: `y = Ax + e`, `‖e‖ = u·S·‖Ax‖`,
    /// `u ~ U[0, 1]` per image; absent for noise-free training.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub noise: Option<f64>,
    /// The troublesome-kernel curriculum (`z_N` of a fixed detail added with probability `P`),
    /// if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kernel_detail: Option<crate::mri::learned::kernel_training::KernelCurriculum>,
}

/// The model card `static/models/<name>.json` of a reconstruction network.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NetCard {
    pub name: String,
    pub title: String,
    pub architecture: String,
    pub shape: CascadeShapeCard,
    pub side: usize,
    pub mask: MaskSpec,
    /// The train / held-out split of the slices it was trained and measured on (absent in the
    /// 64² networks' cards: the interleaved split).
    #[serde(default, skip_serializing_if = "is_interleaved")]
    pub split: Split,
    pub parameters: usize,
    pub weights_bytes: usize,
    pub held_out: HeldOut,
    pub training: NetTraining,
}

fn is_interleaved(split: &Split) -> bool {
    *split == Split::Interleaved
}

/// [`CascadeShape`] as stored in a card.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CascadeShapeCard {
    pub cascades: usize,
    pub layers: usize,
    pub channels: usize,
}

impl From<CascadeShape> for CascadeShapeCard {
    fn from(s: CascadeShape) -> Self {
        Self {
            cascades: s.cascades,
            layers: s.layers,
            channels: s.channels,
        }
    }
}

impl From<CascadeShapeCard> for CascadeShape {
    fn from(s: CascadeShapeCard) -> Self {
        Self {
            cascades: s.cascades,
            layers: s.layers,
            channels: s.channels,
        }
    }
}

impl NetCard {
    /// The network of this card from its safetensors weights (f32, CPU), with its mask (the CPU
    /// code itself: experiments ask an engine, [`Engine::cascade`]).
    pub fn load(&self, weights: &[u8]) -> Result<(CascadeNet, Mask)> {
        let m = self.mask.mask(self.side)?;
        Ok((self.load_with(weights, &m)?, m))
    }

    /// The same network with another mask in its data-consistency layers (the weights are
    /// those trained with the card's mask).
    pub fn load_with(&self, weights: &[u8], m: &Mask) -> Result<CascadeNet> {
        CascadeNet::from_safetensors(&self.name, self.shape.into(), weights, m)
    }
}

/// FIRENET in the experiment's setting: the wavelet and levels of [`firenet_wavelet`] (Haar
/// over [`FIRENET_LEVELS`] levels at 64², db4 at 128²), unit weights, default parameters
/// (λ = 10⁻³, 5 × 10 layers), computed by an engine. Build `B = A W⁻¹` with
/// [`FirenetSetting::sampling`], then [`FirenetSetting::reconstructor`].
pub struct FirenetSetting<'e> {
    /// The engine that applies `B` and runs FIRENET.
    pub engine: &'e dyn Engine,
    pub wavelet: Wavelet2,
    pub weights: Vec<f32>,
    pub firenet: Firenet,
}

impl<'e> FirenetSetting<'e> {
    /// For images of side `n` (divisible by 8), on `engine`.
    pub fn new(engine: &'e dyn Engine, n: usize) -> Result<Self> {
        let (wavelet, levels) = firenet_wavelet(n);
        Ok(Self {
            engine,
            wavelet: Wavelet2::new(wavelet, n, levels)?,
            weights: vec![1.0; n * n],
            firenet: Firenet::default(),
        })
    }

    /// `B = A W⁻¹` (`A` from the same engine).
    pub fn sampling<'s>(&'s self, a: &'s dyn Sampling) -> Result<Box<dyn LinearOperator + 's>> {
        self.engine.wavelet_sampling(a, &self.wavelet)
    }

    /// FIRENET as a [`crate::mri::instability::Reconstructor`].
    pub fn reconstructor<'s>(&'s self, b: &'s dyn LinearOperator) -> FirenetReconstructor<'s> {
        FirenetReconstructor {
            engine: self.engine,
            firenet: self.firenet,
            b,
            wavelet: &self.wavelet,
            weights: &self.weights,
        }
    }
}

/// Where a change is concentrated: the `w × w` window (top-left corner `(row, col)`) holding
/// the largest share of `Σ change²`, and that share.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Concentration {
    pub row: usize,
    pub col: usize,
    pub window: usize,
    /// Largest share of the squared change inside one window, in `[0, 1]`.
    pub share: f64,
    /// The share of an evenly spread change, `w²/N²`.
    pub uniform_share: f64,
}

/// [`Concentration`] of an `n × n` change (e.g. `|Ψ(A(x + r))| − |Ψ(Ax)|`) over `w × w`
/// windows (summed-area table, every position).
pub fn window_share(change: &[f32], n: usize, w: usize) -> Result<Concentration> {
    if change.len() != n * n || w == 0 || w > n {
        return Err(Error::Input(format!(
            "window {w} on {} pixels of side {n}",
            change.len()
        )));
    }
    let mut table = vec![0.0f64; (n + 1) * (n + 1)];
    for y in 0..n {
        for x in 0..n {
            let v = change[y * n + x] as f64;
            table[(y + 1) * (n + 1) + x + 1] =
                v * v + table[y * (n + 1) + x + 1] + table[(y + 1) * (n + 1) + x]
                    - table[y * (n + 1) + x];
        }
    }
    let total = table[(n + 1) * (n + 1) - 1];
    let mut best = (0, 0, 0.0f64);
    for y in 0..=n - w {
        for x in 0..=n - w {
            let s = table[(y + w) * (n + 1) + x + w]
                - table[y * (n + 1) + x + w]
                - table[(y + w) * (n + 1) + x]
                + table[y * (n + 1) + x];
            if s > best.2 {
                best = (y, x, s);
            }
        }
    }
    Ok(Concentration {
        row: best.0,
        col: best.1,
        window: w,
        share: if total > 0.0 { best.2 / total } else { 0.0 },
        uniform_share: (w * w) as f64 / (n * n) as f64,
    })
}

/// What one perturbation does to one method.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Effect {
    pub rel_r: f64,
    pub kappa: f64,
    /// `‖Ψ(A(x + r)) − x‖/‖x‖`.
    pub error: f64,
    /// Share of `(|Ψ(A(x + r))| − |Ψ(Ax)|)²` in the best window ([`window_for`]).
    pub share: f64,
    /// Top-left corner (row, column) of that window.
    pub window: [usize; 2],
}

/// The fixed-norm searches at one `‖r‖/‖x‖` on one slice.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AtNorm {
    pub rel_r: f64,
    pub kappa_net: f64,
    pub kappa_firenet: f64,
    pub kappa_net_random: f64,
    pub kappa_firenet_random: f64,
    pub kappa_zero_filled: f64,
    pub share_net: f64,
    pub share_net_random: f64,
    pub share_firenet: f64,
    pub window_net: [usize; 2],
    /// The network's worst-case error `‖Ψ(A(x + r)) − x‖/‖x‖` at this norm (absent in reports
    /// made before the crossover was part of the bar).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_net: Option<f64>,
    /// FIRENET's worst-case error at the same norm (its own search, the same budget).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_firenet: Option<f64>,
    /// The bar at this norm: a useful network, `κ_net ≥ 2 κ_FIRENET`, structure, Gaussian
    /// noise shrinking, and (where measured) the network's worst case worse than FIRENET's.
    pub meets_bar: bool,
}

/// One point of the error curve: `‖Ψ(A(x + r)) − x‖/‖x‖` at `‖r‖/‖x‖ = rel_r`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CurvePoint {
    pub rel_r: f64,
    pub net_worst: f64,
    pub net_random: f64,
    pub firenet_worst: f64,
    pub firenet_random: f64,
    pub zero_filled_worst: f64,
}

/// The smallest `‖r‖/‖x‖` from which the network's worst-case error exceeds FIRENET's on an
/// error curve (sorted by norm): linear interpolation between the two measured norms around the
/// sign change, or the first norm if it is worse already there; `None` if it never is. The
/// crossover of the lecture: under a perturbation one cannot see, the network one would use
/// becomes the worse reconstruction.
pub fn crossover(curve: &[CurvePoint]) -> Option<f64> {
    let gap = |p: &CurvePoint| p.net_worst - p.firenet_worst;
    let first = curve.first()?;
    if gap(first) > 0.0 {
        return Some(first.rel_r);
    }
    curve.windows(2).find_map(|w| {
        let (d0, d1) = (gap(&w[0]), gap(&w[1]));
        (d0 <= 0.0 && d1 > 0.0).then(|| w[0].rel_r + (w[1].rel_r - w[0].rel_r) * (-d0) / (d1 - d0))
    })
}

/// Everything measured on one slice.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SliceReport {
    pub slice: String,
    pub at: Vec<AtNorm>,
    /// The momentum ascent's snapshots `r₁ < r₂ < r₃` (against the network).
    pub ascent: Vec<Effect>,
    /// κ of the fixed-norm search at each snapshot's norm.
    pub fixed_at_ascent_norms: Vec<f64>,
    /// The same momentum ascent against FIRENET (its snapshots past the same norms).
    #[serde(default)]
    pub ascent_firenet: Vec<Effect>,
    /// Error against `‖r‖/‖x‖` for every method, worst case and Gaussian.
    pub curve: Vec<CurvePoint>,
}

/// One network in `static/reports/instability.json`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NetReport {
    pub name: String,
    pub title: String,
    pub psnr_zero_filled: f64,
    pub psnr_firenet: f64,
    pub psnr_net: f64,
    /// [`is_useful`]: at least 3 dB better than zero-filling and at most 1 dB below FIRENET on
    /// clean held-out slices.
    pub useful: bool,
    /// Meets the hallucination bar on [`slices_needed`] of the report slices at one norm ≤ 5%.
    pub hallucinating: bool,
    /// One sentence with the numbers, for the page.
    pub verdict: String,
    pub slices: Vec<SliceReport>,
}

/// Held-out PSNR (dB) a network must gain over zero-filling to be *useful*, one a reader would be
/// tempted to use (the bar of issue 17, fixed before the 128² networks were measured).
pub const USEFUL_GAIN_DB: f64 = 3.0;
/// How far (dB) below FIRENET's held-out PSNR a useful network may stay.
pub const USEFUL_BELOW_FIRENET_DB: f64 = 1.0;

/// Whether held-out PSNRs (dB) make a network useful: at least [`USEFUL_GAIN_DB`] above
/// zero-filling and at most [`USEFUL_BELOW_FIRENET_DB`] below FIRENET.
pub fn is_useful(psnr_net: f64, psnr_zero_filled: f64, psnr_firenet: f64) -> bool {
    psnr_net >= psnr_zero_filled + USEFUL_GAIN_DB
        && psnr_net >= psnr_firenet - USEFUL_BELOW_FIRENET_DB
}

/// How many of `n` report slices must meet the bar at one norm for a network to be called
/// hallucinating: all but one in six (5 of 6).
pub fn slices_needed(n: usize) -> usize {
    n - n / 6
}

/// Norms the hallucination bar considers: `‖r‖/‖x‖ ≤ 5%` (with the f32 rounding of the
/// report's norms).
const BAR_NORM: f64 = 0.05 + 1e-6;

impl NetReport {
    /// The headline the page gives a useful network that is not called hallucinating, worded
    /// after the report: the range over the report slices of the worst-case amplification `κ`
    /// against FIRENET's (the largest ratio at a norm ≤ 5% on each slice), and on how many slices
    /// the full bar (including concentrated structure) is met.
    pub fn headline(&self) -> String {
        let per_slice: Vec<(f64, bool)> = self
            .slices
            .iter()
            .map(|s| {
                let at = s.at.iter().filter(|a| a.rel_r <= BAR_NORM);
                let ratio = at
                    .clone()
                    .map(|a| a.kappa_net / a.kappa_firenet)
                    .fold(0.0, f64::max);
                (ratio, at.clone().any(|a| a.meets_bar))
            })
            .collect();
        let n = per_slice.len();
        let lo = per_slice.iter().map(|p| p.0).fold(f64::INFINITY, f64::min);
        let hi = per_slice.iter().map(|p| p.0).fold(0.0, f64::max);
        let met = per_slice.iter().filter(|p| p.1).count();
        let above = per_slice.iter().filter(|p| p.0 > 1.0).count();
        let amplifies = if above == n {
            format!("amplifies worst-case perturbations {lo:.1}–{hi:.1}× more than FIRENET on every report slice")
        } else if above == 0 {
            format!("amplifies worst-case perturbations less than FIRENET on every report slice (κ {lo:.2}–{hi:.2} times FIRENET's)")
        } else {
            format!(
                "amplifies worst-case perturbations more than FIRENET on {above} of {n} report slices (up to {hi:.1}×)"
            )
        };
        // Slices where the network's worst-case error exceeds FIRENET's at a norm ≤ 5% (when
        // the report measured the errors).
        let errors: Vec<bool> = self
            .slices
            .iter()
            .filter_map(|s| {
                let at: Vec<_> = s.at.iter().filter(|a| a.rel_r <= BAR_NORM).collect();
                let pairs: Option<Vec<(f64, f64)>> = at
                    .iter()
                    .map(|a| Some((a.error_net?, a.error_firenet?)))
                    .collect();
                pairs.map(|p| p.iter().any(|(net, fire)| net > fire))
            })
            .collect();
        let crossing = if errors.len() == n {
            let worse = errors.iter().filter(|w| **w).count();
            format!(
                " Its worst-case error exceeds FIRENET's worst-case error on {worse} of {n} report slices at a norm ≤ 5%."
            )
        } else {
            String::new()
        };
        format!(
            "{} ({}) {amplifies}; it meets the full bar, including concentrated structure, on {met} of {n}, so it is not called hallucinating (that takes {} of {n} at one norm).{crossing}",
            self.title,
            self.name,
            slices_needed(n)
        )
    }
}

/// The parts of `static/reports/instability.json` the page reads.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct InstabilityReport {
    pub side: usize,
    pub slices: Vec<String>,
    pub demo_slices: Vec<String>,
    pub hallucinating: Vec<String>,
    pub networks: Vec<NetReport>,
}

impl InstabilityReport {
    /// Parses the report, or says what is wrong with it.
    pub fn from_json(text: &str) -> Result<Self> {
        serde_json::from_str(text)
            .map_err(|e| Error::Data(format!("the instability report is malformed: {e}")))
    }
}

/// Gaussian noise (seeded) with the norm of `r`: the random counterpart of a worst case.
pub fn gaussian_like(r: &[f32], seed: u64) -> Vec<f32> {
    use rand::SeedableRng;
    use rand_distr::{Distribution, StandardNormal};
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let g: Vec<f32> = (0..r.len())
        .map(|_| StandardNormal.sample(&mut rng))
        .collect();
    let (nr, ng) = (norm2(r), norm2(&g));
    let s = if ng > 0.0 { (nr / ng) as f32 } else { 0.0 };
    g.into_iter().map(|v| v * s).collect()
}

fn norm2(v: &[f32]) -> f64 {
    v.iter().map(|a| (*a as f64).powi(2)).sum::<f64>().sqrt()
}

/// `‖out − x‖₂/‖x‖₂` for a complex output and a real image (∞ for `x = 0`).
fn relative_error(out: &[rustfft::num_complex::Complex32], x: &[f32]) -> f64 {
    let xn = norm2(x);
    let error = out
        .iter()
        .zip(x)
        .map(|(o, t)| ((o.re - t) as f64).powi(2) + (o.im as f64).powi(2))
        .sum::<f64>()
        .sqrt();
    if xn > 0.0 {
        error / xn
    } else {
        f64::INFINITY
    }
}

/// What the perturbation `r` of `x` does to a reconstruction `Ψ`.
#[derive(Clone, Debug, PartialEq)]
pub struct Outcome {
    /// `x + r`.
    pub perturbed: Vec<f32>,
    /// `|Ψ(A(x + r))|`.
    pub output: Vec<f32>,
    /// `|Ψ(A(x + r))| − |Ψ(Ax)|`.
    pub change: Vec<f32>,
    /// `‖r‖/‖x‖`.
    pub rel_r: f64,
    /// `‖Ψ(A(x + r)) − Ψ(Ax)‖/‖r‖` (0 for `r = 0`).
    pub kappa: f64,
    /// `‖Ψ(A(x + r)) − x‖/‖x‖`.
    pub error: f64,
    /// Where `change` is concentrated ([`window_for`] windows).
    pub concentration: Concentration,
}

/// [`Outcome`] of `r` for `Ψ` at `x`, given the clean output `Ψ(Ax)`.
pub fn outcome(
    a: &dyn Sampling,
    psi: &dyn crate::mri::reconstructor::Reconstructor,
    x: &[f32],
    clean: &[rustfft::num_complex::Complex32],
    r: &[f32],
) -> Result<Outcome> {
    let n = a.mask().side();
    if x.len() != n * n || r.len() != x.len() || clean.len() != x.len() {
        return Err(Error::Input(format!(
            "an image of {} pixels, a perturbation of {} and a clean output of {} for side {n}",
            x.len(),
            r.len(),
            clean.len()
        )));
    }
    if r.iter().any(|v| !v.is_finite()) {
        return Err(Error::Input("the perturbation is not finite".into()));
    }
    let perturbed: Vec<f32> = x.iter().zip(r).map(|(p, q)| p + q).collect();
    let out = psi.reconstruct(&a.measure(&perturbed))?;
    outcome_of_output(x, clean, r, &out, n)
}

/// [`Outcome`] of `r` at `x` from an output `Ψ(A(x + r))` already computed (`side × side`
/// images), given the clean output `Ψ(Ax)`.
pub fn outcome_of_output(
    x: &[f32],
    clean: &[rustfft::num_complex::Complex32],
    r: &[f32],
    out: &[rustfft::num_complex::Complex32],
    side: usize,
) -> Result<Outcome> {
    let n = side;
    if x.len() != n * n || r.len() != x.len() || clean.len() != x.len() || out.len() != x.len() {
        return Err(Error::Input(format!(
            "an image of {} pixels, a perturbation of {}, outputs of {} and {} for side {n}",
            x.len(),
            r.len(),
            clean.len(),
            out.len()
        )));
    }
    let perturbed: Vec<f32> = x.iter().zip(r).map(|(p, q)| p + q).collect();
    let (rn, xn) = (norm2(r), norm2(x));
    let moved = out
        .iter()
        .zip(clean)
        .map(|(p, q)| (p - q).norm_sqr() as f64)
        .sum::<f64>()
        .sqrt();
    let output: Vec<f32> = out.iter().map(|z| z.norm()).collect();
    let change: Vec<f32> = output
        .iter()
        .zip(clean)
        .map(|(p, q)| p - q.norm())
        .collect();
    Ok(Outcome {
        concentration: window_share(&change, n, window_for(n))?,
        rel_r: if xn > 0.0 { rn / xn } else { f64::INFINITY },
        kappa: if rn > 0.0 { moved / rn } else { 0.0 },
        error: relative_error(out, x),
        perturbed,
        output,
        change,
    })
}

/// The [`Outcome`] of `r = 0`, from the clean output alone (no reconstruction).
pub fn unperturbed(
    x: &[f32],
    clean: &[rustfft::num_complex::Complex32],
    side: usize,
) -> Result<Outcome> {
    if x.len() != side * side || clean.len() != x.len() {
        return Err(Error::Input(format!(
            "an image of {} pixels and a clean output of {} for side {side}",
            x.len(),
            clean.len()
        )));
    }
    let change = vec![0.0f32; x.len()];
    Ok(Outcome {
        perturbed: x.to_vec(),
        output: clean.iter().map(|z| z.norm()).collect(),
        concentration: window_share(&change, side, window_for(side))?,
        change,
        rel_r: 0.0,
        kappa: 0.0,
        error: relative_error(clean, x),
    })
}

impl From<&Outcome> for Effect {
    fn from(o: &Outcome) -> Self {
        Effect {
            rel_r: o.rel_r,
            kappa: o.kappa,
            error: o.error,
            share: o.concentration.share,
            window: [o.concentration.row, o.concentration.col],
        }
    }
}

/// The shipped perturbations (`static/data/mri/perturbations.safetensors`): for each key
/// (`<net>/<slice>` for the network's ascent snapshots, `firenet@<net>/<slice>` for FIRENET's
/// own worst case at the same norms) an `i8` tensor `[J, N, N]` (`<key>/r`) and its scales
/// `f32 [J]` (`<key>/scale`): `r = scale · q`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Perturbations {
    sets: std::collections::BTreeMap<String, Vec<Vec<f32>>>,
}

impl Perturbations {
    /// Quantises `rs` (each to 8 bits with its own scale) under `key`.
    pub fn insert(&mut self, key: &str, rs: &[Vec<f32>]) {
        let restored = rs
            .iter()
            .map(|r| {
                let s = quantisation_scale(r);
                r.iter().map(|v| quantise(*v, s) as f32 * s).collect()
            })
            .collect();
        self.sets.insert(key.to_string(), restored);
    }

    /// The perturbations under `key`.
    pub fn get(&self, key: &str) -> Result<&[Vec<f32>]> {
        self.sets
            .get(key)
            .map(Vec::as_slice)
            .ok_or_else(|| Error::Data(format!("no shipped perturbations for '{key}'")))
    }

    /// Keeps the keys for which `keep` holds.
    pub fn retain(&mut self, mut keep: impl FnMut(&str) -> bool) {
        self.sets.retain(|k, _| keep(k));
    }

    /// The keys, sorted.
    pub fn keys(&self) -> Vec<&str> {
        self.sets.keys().map(String::as_str).collect()
    }

    /// The file's bytes.
    pub fn to_safetensors(&self) -> Result<Vec<u8>> {
        let mut data: Vec<(String, Vec<usize>, Vec<u8>, safetensors::Dtype)> = Vec::new();
        for (key, rs) in &self.sets {
            let side = (rs.first().map_or(0, Vec::len) as f64).sqrt() as usize;
            let mut q = Vec::new();
            let mut scales = Vec::new();
            for r in rs {
                let s = quantisation_scale(r);
                scales.extend_from_slice(&s.to_le_bytes());
                q.extend(r.iter().map(|v| quantise(*v, s) as u8));
            }
            data.push((
                format!("{key}/r"),
                vec![rs.len(), side, side],
                q,
                safetensors::Dtype::I8,
            ));
            data.push((
                format!("{key}/scale"),
                vec![rs.len()],
                scales,
                safetensors::Dtype::F32,
            ));
        }
        let views = data
            .iter()
            .map(|(n, s, b, d)| {
                safetensors::tensor::TensorView::new(*d, s.clone(), b).map(|v| (n.clone(), v))
            })
            .collect::<std::result::Result<Vec<_>, _>>()
            .map_err(|e| Error::Data(format!("perturbations: {e}")))?;
        safetensors::serialize(views, None).map_err(|e| Error::Data(format!("perturbations: {e}")))
    }

    /// Reads the file, checking every shape and scale.
    pub fn from_safetensors(bytes: &[u8]) -> Result<Self> {
        let bad = |m: String| Error::Data(format!("the perturbations file is unusable: {m}"));
        let file = safetensors::SafeTensors::deserialize(bytes).map_err(|e| bad(e.to_string()))?;
        let mut sets = std::collections::BTreeMap::new();
        for name in file.names() {
            let Some(key) = name.strip_suffix("/r") else {
                continue;
            };
            let r = file.tensor(name).map_err(|e| bad(e.to_string()))?;
            let s = file
                .tensor(&format!("{key}/scale"))
                .map_err(|e| bad(format!("{key}: {e}")))?;
            let shape = r.shape();
            // `p = N²` pixels a perturbation (checked: the header may declare any `N`).
            let pixels = match shape {
                [_, n, m] if n == m && *n > 0 => n.checked_mul(*m),
                _ => None,
            };
            let Some(p) = pixels.filter(|_| {
                r.dtype() == safetensors::Dtype::I8
                    && s.dtype() == safetensors::Dtype::F32
                    && s.shape() == [shape[0]]
            }) else {
                return Err(bad(format!(
                    "{key} has shape {shape:?} and scales {:?}, expected i8 [J, N, N] with \
                     N ≥ 1 and f32 [J]",
                    s.shape()
                )));
            };
            let scales = crate::tensor_file::f32_values(&s);
            if scales.iter().any(|v| !v.is_finite() || *v < 0.0) {
                return Err(bad(format!(
                    "{key} has a scale that is not a finite non-negative number"
                )));
            }
            let rs = r
                .data()
                .chunks_exact(p)
                .zip(&scales)
                .map(|(q, s)| q.iter().map(|b| *b as i8 as f32 * s).collect())
                .collect();
            sets.insert(key.to_string(), rs);
        }
        if sets.is_empty() {
            return Err(bad("it holds no perturbations".into()));
        }
        Ok(Self { sets })
    }
}

fn quantisation_scale(r: &[f32]) -> f32 {
    r.iter().fold(0.0f32, |a, v| a.max(v.abs())) / 127.0
}

fn quantise(v: f32, scale: f32) -> i8 {
    if scale > 0.0 {
        (v / scale).round().clamp(-127.0, 127.0) as i8
    } else {
        0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn point(rel_r: f64, net_worst: f64, firenet_worst: f64) -> CurvePoint {
        CurvePoint {
            rel_r,
            net_worst,
            net_random: 0.0,
            firenet_worst,
            firenet_random: 0.0,
            zero_filled_worst: 0.0,
        }
    }

    #[test]
    fn the_crossover_is_where_the_networks_worst_case_overtakes_firenets() {
        let c = [
            point(0.01, 0.10, 0.20),
            point(0.02, 0.15, 0.21),
            point(0.04, 0.35, 0.23),
        ];
        // Between 2% (gap −0.06) and 4% (gap +0.12): a third of the way.
        let x = crossover(&c).unwrap();
        assert!((x - (0.02 + 0.02 / 3.0)).abs() < 1e-12, "{x}");
        assert_eq!(crossover(&[point(0.01, 0.3, 0.2)]), Some(0.01));
        assert_eq!(crossover(&c[..2]), None);
        assert_eq!(crossover(&[]), None);
    }
    use crate::mri::sampling::{mask, Pattern};

    #[test]
    fn halving_averages_blocks() {
        let img: Vec<f32> = (0..16).map(|i| i as f32).collect();
        assert_eq!(halve(&img, 4).unwrap(), vec![2.5, 4.5, 10.5, 12.5]);
        assert!(halve(&img, 3).is_err());
    }

    #[test]
    fn window_share_finds_a_blob_and_not_noise() {
        let n = 32;
        let mut blob = vec![0.0f32; n * n];
        for y in 10..14 {
            for x in 20..24 {
                blob[y * n + x] = 1.0;
            }
        }
        let c = window_share(&blob, n, 8).unwrap();
        assert!((c.share - 1.0).abs() < 1e-12);
        assert!(c.row <= 10 && c.row + 8 >= 14 && c.col <= 20 && c.col + 8 >= 24);
        let flat = vec![0.5f32; n * n];
        let c = window_share(&flat, n, 8).unwrap();
        assert!((c.share - c.uniform_share).abs() < 1e-12);
        assert_eq!(window_share(&[0.0; 16], 4, 2).unwrap().share, 0.0);
        assert!(window_share(&flat, n, 40).is_err());
    }

    #[test]
    fn perturbations_round_trip_within_a_quantisation_step() {
        let r1: Vec<f32> = (0..64)
            .map(|i| ((i * 37) % 19) as f32 / 19.0 - 0.5)
            .collect();
        let r2 = vec![0.0f32; 64];
        let mut p = Perturbations::default();
        p.insert("net/axial 1", &[r1.clone(), r2.clone()]);
        let back = Perturbations::from_safetensors(&p.to_safetensors().unwrap()).unwrap();
        assert_eq!(back, p);
        let got = back.get("net/axial 1").unwrap();
        let step = 0.5 / 127.0;
        assert!(got[0]
            .iter()
            .zip(&r1)
            .all(|(a, b)| (a - b).abs() <= step / 2.0 + 1e-7));
        assert_eq!(got[1], r2);
        assert!(back.get("other").is_err());
        assert!(Perturbations::from_safetensors(b"not a file").is_err());
        assert!(Perturbations::default().to_safetensors().is_ok());
        assert!(Perturbations::from_safetensors(
            &Perturbations::default().to_safetensors().unwrap()
        )
        .is_err());
    }

    #[test]
    fn empty_or_overflowing_perturbation_shapes_are_errors() {
        // `[J, 0, 0]` once panicked (chunks of zero pixels); `[0, 2³², 2³²]` overflowed `N²`.
        for (shape, scales) in [(vec![2usize, 0, 0], 2usize), (vec![0, 1 << 32, 1 << 32], 0)] {
            let scale_bytes = vec![0u8; 4 * scales];
            let views = [
                (
                    "k/r",
                    safetensors::tensor::TensorView::new(
                        safetensors::Dtype::I8,
                        shape.clone(),
                        &[],
                    )
                    .unwrap(),
                ),
                (
                    "k/scale",
                    safetensors::tensor::TensorView::new(
                        safetensors::Dtype::F32,
                        vec![scales],
                        &scale_bytes,
                    )
                    .unwrap(),
                ),
            ];
            let bytes = safetensors::serialize(views, None).unwrap();
            let e = Perturbations::from_safetensors(&bytes)
                .unwrap_err()
                .to_string();
            assert!(e.contains("expected i8 [J, N, N]"), "{shape:?}: {e}");
        }
    }

    #[test]
    fn gaussian_noise_has_the_norm_of_the_perturbation() {
        let r: Vec<f32> = (0..100).map(|i| (i as f32 * 0.1).sin()).collect();
        let g = gaussian_like(&r, 3);
        assert!((norm2(&g) - norm2(&r)).abs() < 1e-4 * norm2(&r));
        assert_eq!(g, gaussian_like(&r, 3));
        assert!(gaussian_like(&[0.0; 4], 1).iter().all(|v| *v == 0.0));
    }

    #[test]
    fn zero_filling_moves_by_the_measured_part_of_r() {
        use crate::mri::instability::{Reconstructor, ZeroFilling};
        use crate::mri::operator::SubsampledFourier;
        let n = 16;
        let a = SubsampledFourier::new(mask(Pattern::Cartesian, n, 0.3, 1).unwrap()).unwrap();
        let x = crate::mri::phantom::shepp_logan(n);
        let zf = ZeroFilling(&a);
        let clean = zf.reconstruct(&a.measure(&x)).unwrap();
        let r: Vec<f32> = (0..n * n).map(|i| ((i * 7) % 11) as f32 * 0.01).collect();
        let o = outcome(&a, &zf, &x, &clean, &r).unwrap();
        // Zero-filling is linear with ‖A*A r‖ = ‖P r‖ ≤ ‖r‖.
        assert!(o.kappa > 0.0 && o.kappa <= 1.0 + 1e-5, "{}", o.kappa);
        let none = outcome(&a, &zf, &x, &clean, &vec![0.0; n * n]).unwrap();
        assert_eq!((none.kappa, none.rel_r), (0.0, 0.0));
        assert!(none.change.iter().all(|v| v.abs() < 1e-6));
        let quick = unperturbed(&x, &clean, n).unwrap();
        assert!((quick.error - none.error).abs() < 1e-9 && quick.output == none.output);
        assert!(outcome(&a, &zf, &x, &clean, &r[..5]).is_err());
    }
}
