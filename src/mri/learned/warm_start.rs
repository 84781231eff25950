//! Getting stability back: a reconstruction `Ψ` followed by FIRENET layers (Colbrook, Antun &
//! Hansen, "The difficulty of computing stable and accurate neural networks", PNAS 2022), with
//! `Ψ`'s output as FIRENET's initial guess and the same measured data,
//!
//! `ΦΨ(y) = W⁻¹ψ_n(y; ψ₀ = W Ψ(y))`,
//!
//! where `ψ_k = α_k⁻¹ Inner_p(α_k y, α_k ψ_{k−1})` are FIRENET's restarted blocks
//! ([`crate::mri::firenet`]) with `ε₀ = s‖y‖₂` (`s = 1`: FIRENET's own scheme) and `W` the
//! orthogonal wavelet transform. The authors feed a hallucinating network's output to FIRENET in
//! this way and report that the hallucination goes; the instability test (Antun, Renna, Poon,
//! Adcock & Hansen, PNAS 2020, [`crate::mri::instability`]) measures how far that holds for the lab's
//! trained cascades (`lab warm-start-report`, docs/hallucinations.md).
//!
//! Its vector–Jacobian product follows both paths from `y`: with `ψ_n = F(y, ψ₀, ε₀)`,
//! `ψ₀ = WΨ(y)`, `ε₀ = s‖y‖` and the cotangent `Wg` of `ψ_n`,
//!
//! `J*g = F_y* Wg + J_Ψ*(W⁻¹ F_ψ₀* Wg) + s·(∂F/∂ε₀ · Wg)·y/‖y‖`.
//!
//! The restart scheme's `ε₀` could instead start from the initial guess' residual
//! `‖Bψ₀ − y‖₂`; for a network with data-consistency layers that residual is 0 up to rounding,
//! the scales `α_k` then freeze `ψ₀`, and nothing changes (measured: `lab warm-start-report`),
//! so `ε₀` is a multiple of `‖y‖₂`.

use crate::engine::{wait, Engine, FirenetInput, Pending};
use crate::mri::firenet::Firenet;
use crate::mri::instability::Reconstructor;
use crate::mri::learned::hallucination::FirenetSetting;
use crate::mri::operator::{norm, LinearOperator};
use crate::mri::wavelet::Wavelet2;
use crate::{Error, Result};
use rustfft::num_complex::Complex32;
use serde::{Deserialize, Serialize};

/// `Ψ` followed by FIRENET from `ψ₀ = WΨ(y)` with the same data (see the module docs).
pub struct WarmStart<'a> {
    /// `Ψ`, the first stage.
    pub inner: &'a dyn Reconstructor,
    /// The engine that runs the FIRENET stage (and made `B`).
    pub engine: &'a dyn Engine,
    /// FIRENET's settings (blocks, layers, `λ`, steps).
    pub firenet: Firenet,
    /// `B = A W⁻¹` (the inner method's measurements).
    pub b: &'a dyn LinearOperator,
    /// `W`, the wavelet of `B`.
    pub wavelet: &'a Wavelet2,
    /// Per-coefficient weights of the `ℓ¹` term.
    pub weights: &'a [f32],
    /// `s` in `ε₀ = s‖y‖₂` (1: FIRENET's own restart scheme).
    pub epsilon_scale: f32,
}

impl<'a> WarmStart<'a> {
    /// `Ψ` followed by the experiment's FIRENET (`setting`, with `B` from
    /// [`FirenetSetting::sampling`]), `ε₀ = ‖y‖₂`.
    pub fn new(
        inner: &'a dyn Reconstructor,
        setting: &'a FirenetSetting,
        b: &'a dyn LinearOperator,
    ) -> Self {
        Self {
            inner,
            engine: setting.engine,
            firenet: setting.firenet,
            b,
            wavelet: &setting.wavelet,
            weights: &setting.weights,
            epsilon_scale: 1.0,
        }
    }

    fn epsilon0(&self, y: &[Complex32]) -> Result<f32> {
        let s = self.epsilon_scale;
        if !(s.is_finite() && s >= 0.0) {
            return Err(Error::Input(format!(
                "the scale of ε₀ must be finite and ≥ 0, got {s}"
            )));
        }
        Ok(s * norm(y) as f32)
    }

    fn coefficients(&self, image: &[Complex32]) -> Result<Vec<Complex32>> {
        let n = self.wavelet.n();
        if image.len() != n * n {
            return Err(Error::Input(format!(
                "an output of {} pixels for a wavelet of side {n}",
                image.len()
            )));
        }
        let mut out = vec![Complex32::default(); image.len()];
        self.wavelet.forward_complex(image, &mut out);
        Ok(out)
    }

    /// The FIRENET stage alone on an output `Ψ(y)` already computed: `W⁻¹ψ_n(y; WΨ(y))`.
    pub fn refine(&self, y: &[Complex32], inner_output: &[Complex32]) -> Result<Vec<Complex32>> {
        wait(self.refine_async(y, inner_output))
    }

    /// [`WarmStart::refine`], asynchronously (the browser's GPU engine).
    pub async fn refine_async(
        &self,
        y: &[Complex32],
        inner_output: &[Complex32],
    ) -> Result<Vec<Complex32>> {
        let psi0 = self.coefficients(inner_output)?;
        let input = self.input(y, &psi0);
        let psi = self
            .engine
            .firenet_psi_async(input, Some(self.epsilon0(y)?))
            .await?;
        let mut x = vec![Complex32::default(); psi.len()];
        self.wavelet.inverse_complex(&psi, &mut x);
        Ok(x)
    }
}

impl WarmStart<'_> {
    /// FIRENET's input for data `y` from the initial guess `psi0`.
    fn input<'a>(&'a self, y: &'a [Complex32], psi0: &'a [Complex32]) -> FirenetInput<'a> {
        FirenetInput {
            firenet: &self.firenet,
            op: self.b,
            y,
            weights: self.weights,
            initial: Some(psi0),
        }
    }
}

impl Reconstructor for WarmStart<'_> {
    fn reconstruct(&self, y: &[Complex32]) -> Result<Vec<Complex32>> {
        wait(self.reconstruct_async(y))
    }

    fn vjp(&self, y: &[Complex32], g: &[Complex32]) -> Result<Vec<Complex32>> {
        wait(self.vjp_async(y, g))
    }

    fn reconstruct_async<'b>(&'b self, y: &'b [Complex32]) -> Pending<'b, Vec<Complex32>> {
        Box::pin(async move {
            let out = self.inner.reconstruct_async(y).await?;
            self.refine_async(y, &out).await
        })
    }

    fn vjp_async<'b>(
        &'b self,
        y: &'b [Complex32],
        g: &'b [Complex32],
    ) -> Pending<'b, Vec<Complex32>> {
        Box::pin(async move {
            let psi0 = self.coefficients(&self.inner.reconstruct_async(y).await?)?;
            // x = W⁻¹ψ_n with W orthogonal: the cotangent of ψ_n is W g.
            let gw = self.coefficients(g)?;
            let epsilon0 = self.epsilon0(y)?;
            let v = self
                .engine
                .firenet_vjp_async(self.input(y, &psi0), epsilon0, &gw)
                .await?;
            // ψ₀ = WΨ(y): the cotangent of Ψ(y) is W⁻¹ψ̄₀ (Wᵀ = W⁻¹).
            let mut out_bar = vec![Complex32::default(); v.initial.len()];
            self.wavelet.inverse_complex(&v.initial, &mut out_bar);
            let through_inner = self.inner.vjp_async(y, &out_bar).await?;
            if through_inner.len() != y.len() {
                return Err(Error::Input(format!(
                    "the inner method's gradient has {} entries for {} measurements",
                    through_inner.len(),
                    y.len()
                )));
            }
            // ε₀ = s‖y‖: ∂ε₀/∂y = s·y/‖y‖.
            let y_norm = norm(y);
            let along = if y_norm > 0.0 {
                (v.epsilon0 * self.epsilon_scale as f64 / y_norm) as f32
            } else {
                0.0
            };
            Ok(v.y
                .iter()
                .zip(&through_inner)
                .zip(y)
                .map(|((a, b), yi)| a + b + yi * along)
                .collect())
        })
    }
}

/// What one shipped perturbation `r_j` (found against `Ψ`) does to `Ψ` and to `ΦΨ`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ShippedChange {
    pub slice: String,
    /// `j` of `r_j` (1, 2, 3).
    pub index: usize,
    pub rel_r: f64,
    /// `‖Ψ(A(x + r)) − Ψ(Ax)‖`.
    pub change_net: f64,
    /// `‖ΦΨ(A(x + r)) − ΦΨ(Ax)‖`.
    pub change_warm: f64,
    pub kappa_net: f64,
    pub kappa_warm: f64,
    /// Share of the squared change of `|·|` in the best 12 × 12 window.
    pub share_net: f64,
    pub share_warm: f64,
    /// Share of `‖change‖²` in the null space of `A`, `1 − ‖A·change‖²/‖change‖²` (what the
    /// measurements do not see).
    pub null_share_net: f64,
    pub null_share_warm: f64,
}

/// `ΦΨ`'s own worst case (fixed-norm search) at one `‖r‖/‖x‖`, beside `Ψ`'s and FIRENET's
/// from the instability report.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct WarmAtNorm {
    pub rel_r: f64,
    pub kappa_warm: f64,
    pub kappa_net: f64,
    pub kappa_firenet: f64,
    /// Gaussian noise of the norm of `ΦΨ`'s worst case.
    pub kappa_warm_random: f64,
    pub share_warm: f64,
}

/// One point of `ΦΨ`'s error curve: `‖ΦΨ(A(x + r)) − x‖/‖x‖` for its worst case and Gaussian
/// noise of the same norm.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct WarmCurvePoint {
    pub rel_r: f64,
    pub warm_worst: f64,
    pub warm_random: f64,
}

/// Everything measured on one report slice.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct WarmSlice {
    pub slice: String,
    pub at: Vec<WarmAtNorm>,
    /// On the demo slices only (empty elsewhere).
    pub curve: Vec<WarmCurvePoint>,
}

/// A setting of the FIRENET stage tried (forward only): held-out PSNR and the change under the
/// shipped perturbations relative to `Ψ`'s.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Variant {
    /// The wavelet of `W` (Haar in the experiment's FIRENET).
    pub wavelet: String,
    /// `λ`.
    pub lambda: f64,
    pub blocks: usize,
    pub layers_per_block: usize,
    /// How `ε₀` was chosen (`‖y‖`, `0.3‖y‖`, `‖Bψ₀ − y‖`).
    pub epsilon0: String,
    pub psnr: f64,
    /// Mean and largest `‖ΦΨ change‖/‖Ψ change‖` over the shipped perturbations.
    pub ratio_mean: f64,
    pub ratio_max: f64,
}

/// One network in `static/reports/warm_start.json`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct WarmNet {
    pub name: String,
    pub title: String,
    /// Mean held-out PSNR (dB) and SSIM of zero-filling, FIRENET, `Ψ` and `ΦΨ`.
    pub psnr_zero_filled: f64,
    pub psnr_firenet: f64,
    pub psnr_net: f64,
    pub psnr_warm: f64,
    pub ssim_firenet: f64,
    pub ssim_net: f64,
    pub ssim_warm: f64,
    pub shipped: Vec<ShippedChange>,
    pub slices: Vec<WarmSlice>,
    pub variants: Vec<Variant>,
}

/// The parts of `static/reports/warm_start.json` the page reads.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct WarmStartReport {
    pub side: usize,
    pub networks: Vec<WarmNet>,
}

impl WarmStartReport {
    /// Parses the report, or says what is wrong with it.
    pub fn from_json(text: &str) -> Result<Self> {
        serde_json::from_str(text)
            .map_err(|e| Error::Data(format!("the warm-start report is malformed: {e}")))
    }
}
