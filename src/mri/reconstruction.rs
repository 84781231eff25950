//! One reconstruction experiment as the MRI demo runs it: an image `x`, a sampling pattern at a
//! rate, measurements `y = Ax + e` (`A = P_Ω F`, `e` complex Gaussian of relative norm `‖e‖/‖Ax‖`),
//! the zero-filled reconstruction `A*y`, and FIRENET over wavelet coefficients, with the quality
//! of each (PSNR, SSIM, relative error of `|x̂|` against `x`).

use crate::engine::{Engine, FirenetInput};
use crate::mri::firenet::Firenet;
use crate::mri::fourier::fftshift;
use crate::mri::metrics::{psnr, relative_error, ssim};
use crate::mri::operator::{noise_like, LinearOperator, Sampling};
use crate::mri::sampling::{Ordering, Pattern};
use crate::mri::wavelet::{max_levels, Wavelet, Wavelet2};
use crate::{Error, Result};
use rustfft::num_complex::Complex32;
use serde::{Deserialize, Serialize};

/// The working sides of the MRI lab.
pub const SIDES: [usize; 2] = [128, 256];

/// Everything that defines an experiment besides the image.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Setup {
    pub pattern: Pattern,
    /// Requested share of sampled frequencies.
    pub rate: f64,
    /// `‖e‖₂ / ‖Ax‖₂`.
    pub noise: f64,
    /// Seeds the pattern and the noise.
    pub seed: u64,
    pub wavelet: Wavelet,
    /// Wavelet levels; `None` for the deepest whose coarsest block is still as long as the filter.
    pub levels: Option<usize>,
    pub firenet: Firenet,
}

impl Default for Setup {
    fn default() -> Self {
        Self {
            pattern: Pattern::VariableDensity,
            rate: 0.25,
            noise: 0.0,
            seed: 1,
            wavelet: Wavelet::Db4,
            levels: None,
            firenet: Firenet::default(),
        }
    }
}

/// How close an estimate is to the truth, on magnitudes.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Quality {
    /// PSNR in dB with peak 1 (`None` for a perfect match).
    pub psnr: Option<f64>,
    /// SSIM (Gaussian window 11×11, σ = 1.5, data range 1).
    pub ssim: f64,
    /// `‖|x̂| − x‖₂ / ‖x‖₂`.
    pub error: f64,
}

/// One experiment: the image, its measurements and the operators, on one engine.
pub struct Experiment<'e> {
    engine: &'e dyn Engine,
    n: usize,
    truth: Vec<f32>,
    a: Box<dyn Sampling>,
    wavelet: Wavelet2,
    y: Vec<Complex32>,
    weights: Vec<f32>,
}

impl<'e> Experiment<'e> {
    /// Measures `truth` (an `n × n` image) as `setup` says, with `engine`'s operators.
    pub fn new(engine: &'e dyn Engine, truth: Vec<f32>, n: usize, setup: &Setup) -> Result<Self> {
        if truth.len() != n * n {
            return Err(Error::Input(format!(
                "an {n}×{n} image needs {} pixels, got {}",
                n * n,
                truth.len()
            )));
        }
        if truth.iter().any(|v| !v.is_finite()) {
            return Err(Error::Input(
                "the image contains NaN or infinite values".into(),
            ));
        }
        let mask = Ordering::new(setup.pattern, n, setup.seed)?.mask(setup.rate)?;
        let a = engine.sampling(mask)?;
        let levels = setup
            .levels
            .unwrap_or_else(|| max_levels(n, setup.wavelet).max(1));
        let wavelet = Wavelet2::new(setup.wavelet, n, levels)?;
        let clean = a.measure(&truth);
        let e = noise_like(&clean, setup.noise, setup.seed ^ 0x5eed_0f0e)?;
        let y = clean.iter().zip(&e).map(|(c, e)| c + e).collect();
        let weights = vec![1.0; n * n];
        Ok(Self {
            engine,
            n,
            truth,
            a,
            wavelet,
            y,
            weights,
        })
    }

    /// The engine that computes the experiment.
    pub fn engine(&self) -> &'e dyn Engine {
        self.engine
    }

    /// The side `N`.
    pub fn side(&self) -> usize {
        self.n
    }

    /// The image `x`.
    pub fn truth(&self) -> &[f32] {
        &self.truth
    }

    /// The measurements `y`.
    pub fn measurements(&self) -> &[Complex32] {
        &self.y
    }

    /// `A = P_Ω F`.
    pub fn sampling(&self) -> &dyn Sampling {
        &*self.a
    }

    /// The wavelet transform `W`.
    pub fn wavelet(&self) -> &Wavelet2 {
        &self.wavelet
    }

    /// `B = A W⁻¹`, the operator FIRENET runs on.
    pub fn sparse_sampling(&self) -> Result<Box<dyn LinearOperator + '_>> {
        self.engine.wavelet_sampling(&*self.a, &self.wavelet)
    }

    /// FIRENET's per-coefficient weights (uniform).
    pub fn weights(&self) -> &[f32] {
        &self.weights
    }

    /// The zero-filled reconstruction `A*y`.
    pub fn zero_filled(&self) -> Vec<Complex32> {
        self.a.zero_filled(&self.y)
    }

    /// Runs FIRENET to the end (no per-layer output).
    pub fn firenet(&self, firenet: &Firenet) -> Result<Vec<Complex32>> {
        let b = self.sparse_sampling()?;
        let input = FirenetInput {
            firenet,
            op: &*b,
            y: &self.y,
            weights: &self.weights,
            initial: None,
        };
        let psi = self.engine.firenet_psi(input)?;
        Ok(self.image_of(&psi))
    }

    /// The image `W⁻¹ψ` of wavelet coefficients.
    pub fn image_of(&self, coefficients: &[Complex32]) -> Vec<Complex32> {
        let mut x = vec![Complex32::default(); self.n * self.n];
        self.wavelet.inverse_complex(coefficients, &mut x);
        x
    }

    /// The wavelet coefficients `Wx` of the truth.
    pub fn truth_coefficients(&self) -> Vec<Complex32> {
        let x: Vec<Complex32> = self.truth.iter().map(|&v| Complex32::new(v, 0.0)).collect();
        let mut z = vec![Complex32::default(); self.n * self.n];
        self.wavelet.forward_complex(&x, &mut z);
        z
    }

    /// PSNR, SSIM and relative error of `|estimate|` against the truth.
    pub fn quality(&self, estimate: &[Complex32]) -> Quality {
        let magnitude: Vec<f32> = estimate.iter().map(|z| z.norm()).collect();
        let p = psnr(&self.truth, &magnitude, 1.0);
        Quality {
            psnr: p.is_finite().then_some(p),
            ssim: ssim(&self.truth, &magnitude, self.n, 1.0),
            error: relative_error(&self.truth, &magnitude),
        }
    }

    /// The mask for display: sampled frequencies 1, others 0, zero frequency at the centre.
    pub fn mask_display(&self) -> Vec<f32> {
        let grid: Vec<f32> = self
            .a
            .mask()
            .grid()
            .iter()
            .map(|&b| f32::from(u8::from(b)))
            .collect();
        fftshift(&grid, self.n)
    }

    /// `log|Fx|` of the full spectrum for display, zero frequency at the centre: mapped to [0, 1]
    /// from 10⁻⁵ of the largest magnitude (black) to the largest (white).
    pub fn kspace_display(&self) -> Vec<f32> {
        let x: Vec<Complex32> = self.truth.iter().map(|&v| Complex32::new(v, 0.0)).collect();
        let scaled = crate::mri::fourier::log_display(&self.a.spectrum(&x));
        fftshift(&scaled, self.n)
    }
}

/// The deepest wavelet level usable at side `n` (at least 1).
pub fn default_levels(n: usize, wavelet: Wavelet) -> usize {
    max_levels(n, wavelet).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::CpuEngine;

    fn disc(n: usize) -> Vec<f32> {
        (0..n * n)
            .map(|i| {
                let (y, x) = (
                    (i / n) as f32 - n as f32 / 2.0,
                    (i % n) as f32 - n as f32 / 2.0,
                );
                if x * x + y * y < (n as f32 / 3.0).powi(2) {
                    0.8
                } else {
                    0.1
                }
            })
            .collect()
    }

    #[test]
    fn a_perfect_estimate_has_no_error_and_full_sampling_is_exact() {
        let n = 32;
        let setup = Setup {
            rate: 0.9,
            ..Setup::default()
        };
        let e = Experiment::new(&CpuEngine, disc(n), n, &setup).unwrap();
        let exact: Vec<Complex32> = e.truth().iter().map(|&v| Complex32::new(v, 0.0)).collect();
        let q = e.quality(&exact);
        assert!(q.psnr.is_none() && (q.ssim - 1.0).abs() < 1e-9 && q.error == 0.0);
        assert!(e.quality(&e.zero_filled()).error < 0.2);
        let k = e.kspace_display();
        assert!(k.iter().all(|v| (0.0..=1.0).contains(v)));
        // The largest coefficient (DC) sits at the centre after the shift.
        assert_eq!(k[n / 2 * n + n / 2], 1.0);
        assert_eq!(e.mask_display()[n / 2 * n + n / 2], 1.0);
    }

    #[test]
    fn bad_images_are_clear_errors() {
        let setup = Setup::default();
        assert!(Experiment::new(&CpuEngine, vec![0.0; 10], 32, &setup).is_err());
        let mut nan = disc(32);
        nan[3] = f32::NAN;
        assert!(Experiment::new(&CpuEngine, nan, 32, &setup).is_err());
        // An all-zero image is measured and reconstructed as zero.
        let zero = Experiment::new(&CpuEngine, vec![0.0; 32 * 32], 32, &setup).unwrap();
        let x = zero.firenet(&Firenet::default()).unwrap();
        assert!(x.iter().all(|z| z.norm() == 0.0));
    }
}
