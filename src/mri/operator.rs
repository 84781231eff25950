//! The measurement operators of the MRI lab, behind one seam.
//!
//! - `A = P_Ω F`: the unitary 2-D DFT followed by keeping the sampled frequencies Ω (in row-major
//!   order of the grid); `A* y = F⁻¹ P_Ωᵀ y` is the zero-filled reconstruction; `‖A‖ = 1`.
//! - `B = A W⁻¹ = P_Ω F W⁻¹` on wavelet coefficients (`W` orthogonal), `B* = W A*`; `‖B‖ = 1`.
//!
//! Every algorithm (FIRENET, the instability test) sees only the [`LinearOperator`] and
//! [`Sampling`] traits, so that another engine ([`crate::engine`], e.g. WebGPU) can apply its own
//! operators in the same loops.

use crate::mri::fourier::Fourier2;
use crate::mri::sampling::Mask;
use crate::mri::wavelet::Wavelet2;
use crate::{Error, Result};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};
use rustfft::num_complex::Complex32;
use std::cell::RefCell;

/// A linear map `ℂⁿ → ℂᵐ` with its adjoint.
pub trait LinearOperator {
    /// `n`, the length of an input.
    fn input_len(&self) -> usize;
    /// `m`, the length of an output.
    fn output_len(&self) -> usize;
    /// `out = A x`.
    fn apply(&self, x: &[Complex32], out: &mut [Complex32]);
    /// `out = A* y`.
    fn adjoint(&self, y: &[Complex32], out: &mut [Complex32]);
    /// An upper bound on the operator norm `‖A‖₂`.
    fn norm_bound(&self) -> f32 {
        1.0
    }
    /// The operator as its engine's own type, for that engine to recover what it built (the
    /// GPU engine's operators keep their GPU twins); `None` for the CPU's.
    fn as_any(&self) -> Option<&dyn std::any::Any> {
        None
    }
}

impl<T: LinearOperator + ?Sized> LinearOperator for Box<T> {
    fn input_len(&self) -> usize {
        (**self).input_len()
    }
    fn output_len(&self) -> usize {
        (**self).output_len()
    }
    fn apply(&self, x: &[Complex32], out: &mut [Complex32]) {
        (**self).apply(x, out)
    }
    fn adjoint(&self, y: &[Complex32], out: &mut [Complex32]) {
        (**self).adjoint(y, out)
    }
    fn norm_bound(&self) -> f32 {
        (**self).norm_bound()
    }
    fn as_any(&self) -> Option<&dyn std::any::Any> {
        (**self).as_any()
    }
}

/// `A = P_Ω F` as an engine provides it ([`crate::engine::Engine::sampling`]): the operator with
/// its mask and the conveniences the experiments use on real images.
pub trait Sampling: LinearOperator + std::fmt::Debug {
    /// The sampling mask `Ω`.
    fn mask(&self) -> &Mask;
    /// The side `N`.
    fn side(&self) -> usize {
        self.mask().side()
    }
    /// The full (unsampled) spectrum `F x` of an image.
    fn spectrum(&self, x: &[Complex32]) -> Vec<Complex32>;
    /// `y = A x` of a real image.
    fn measure(&self, image: &[f32]) -> Vec<Complex32> {
        let x: Vec<Complex32> = image.iter().map(|&v| Complex32::new(v, 0.0)).collect();
        let mut y = vec![Complex32::default(); self.output_len()];
        self.apply(&x, &mut y);
        y
    }
    /// The zero-filled reconstruction `A* y`.
    fn zero_filled(&self, y: &[Complex32]) -> Vec<Complex32> {
        let mut x = vec![Complex32::default(); self.input_len()];
        self.adjoint(y, &mut x);
        x
    }
}

impl<T: Sampling + ?Sized> Sampling for Box<T> {
    fn mask(&self) -> &Mask {
        (**self).mask()
    }
    fn side(&self) -> usize {
        (**self).side()
    }
    fn spectrum(&self, x: &[Complex32]) -> Vec<Complex32> {
        (**self).spectrum(x)
    }
    fn measure(&self, image: &[f32]) -> Vec<Complex32> {
        (**self).measure(image)
    }
    fn zero_filled(&self, y: &[Complex32]) -> Vec<Complex32> {
        (**self).zero_filled(y)
    }
}

/// `A = P_Ω F` for `N × N` images.
#[derive(Debug)]
pub struct SubsampledFourier {
    fourier: Fourier2,
    mask: Mask,
    /// Where each sample sits in the transposed spectrum (see
    /// [`Fourier2::forward_transposed_unscaled`]), in the order of `y`.
    transposed: Vec<u32>,
    scratch: RefCell<Vec<Complex32>>,
}

impl SubsampledFourier {
    pub fn new(mask: Mask) -> Result<Self> {
        let n = mask.side();
        if mask.count() == 0 {
            return Err(Error::Input("the sampling mask is empty".into()));
        }
        let transposed = mask
            .indices()
            .iter()
            .map(|&i| (i as usize % n * n + i as usize / n) as u32)
            .collect();
        Ok(Self {
            fourier: Fourier2::new(n)?,
            scratch: RefCell::new(vec![Complex32::default(); n * n]),
            transposed,
            mask,
        })
    }

    /// The sampling mask.
    pub fn mask(&self) -> &Mask {
        &self.mask
    }

    /// The side `N`.
    pub fn side(&self) -> usize {
        self.mask.side()
    }

    /// The full (unsampled) spectrum `F x` of an image.
    pub fn spectrum(&self, x: &[Complex32]) -> Vec<Complex32> {
        let mut s = x.to_vec();
        self.fourier.forward(&mut s);
        s
    }

    /// `y = A x` of a real image.
    pub fn measure(&self, image: &[f32]) -> Vec<Complex32> {
        let x: Vec<Complex32> = image.iter().map(|&v| Complex32::new(v, 0.0)).collect();
        let mut y = vec![Complex32::default(); self.output_len()];
        self.apply(&x, &mut y);
        y
    }

    /// The zero-filled reconstruction `A* y`.
    pub fn zero_filled(&self, y: &[Complex32]) -> Vec<Complex32> {
        let mut x = vec![Complex32::default(); self.input_len()];
        self.adjoint(y, &mut x);
        x
    }
}

impl Sampling for SubsampledFourier {
    fn mask(&self) -> &Mask {
        SubsampledFourier::mask(self)
    }
    fn side(&self) -> usize {
        SubsampledFourier::side(self)
    }
    fn spectrum(&self, x: &[Complex32]) -> Vec<Complex32> {
        SubsampledFourier::spectrum(self, x)
    }
    fn measure(&self, image: &[f32]) -> Vec<Complex32> {
        SubsampledFourier::measure(self, image)
    }
    fn zero_filled(&self, y: &[Complex32]) -> Vec<Complex32> {
        SubsampledFourier::zero_filled(self, y)
    }
}

impl LinearOperator for SubsampledFourier {
    fn input_len(&self) -> usize {
        self.side() * self.side()
    }

    fn output_len(&self) -> usize {
        self.mask.count()
    }

    fn apply(&self, x: &[Complex32], out: &mut [Complex32]) {
        let mut s = self.scratch.borrow_mut();
        s.copy_from_slice(x);
        self.fourier.forward_transposed_unscaled(&mut s);
        let scale = 1.0 / self.side() as f32;
        for (o, &i) in out.iter_mut().zip(&self.transposed) {
            *o = s[i as usize] * scale;
        }
    }

    fn adjoint(&self, y: &[Complex32], out: &mut [Complex32]) {
        out.fill(Complex32::default());
        let scale = 1.0 / self.side() as f32;
        for (&v, &i) in y.iter().zip(&self.transposed) {
            out[i as usize] = v * scale;
        }
        self.fourier.inverse_from_transposed_unscaled(out);
    }
}

/// `B = P_Ω F W⁻¹` on wavelet coefficients.
#[derive(Debug)]
pub struct WaveletSampling<'a> {
    a: &'a dyn Sampling,
    wavelet: &'a Wavelet2,
    scratch: RefCell<Vec<Complex32>>,
}

impl<'a> WaveletSampling<'a> {
    pub fn new(a: &'a dyn Sampling, wavelet: &'a Wavelet2) -> Result<Self> {
        if wavelet.n() != a.side() {
            return Err(Error::Input(format!(
                "wavelet for {0}×{0} images, sampling for {1}×{1}",
                wavelet.n(),
                a.side()
            )));
        }
        Ok(Self {
            a,
            wavelet,
            scratch: RefCell::new(vec![Complex32::default(); a.input_len()]),
        })
    }
}

impl LinearOperator for WaveletSampling<'_> {
    fn input_len(&self) -> usize {
        self.a.input_len()
    }

    fn output_len(&self) -> usize {
        self.a.output_len()
    }

    fn apply(&self, z: &[Complex32], out: &mut [Complex32]) {
        let mut x = self.scratch.borrow_mut();
        self.wavelet.inverse_complex(z, &mut x);
        self.a.apply(&x, out);
    }

    fn adjoint(&self, y: &[Complex32], out: &mut [Complex32]) {
        let mut x = self.scratch.borrow_mut();
        self.a.adjoint(y, &mut x);
        self.wavelet.forward_complex(&x, out);
    }
}

/// `‖v‖₂` of a complex vector, accumulated in f64.
pub fn norm(v: &[Complex32]) -> f64 {
    v.iter().map(|z| z.norm_sqr() as f64).sum::<f64>().sqrt()
}

/// `‖a − b‖₂` of complex vectors, accumulated in f64.
pub fn distance(a: &[Complex32], b: &[Complex32]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(p, q)| (p - q).norm_sqr() as f64)
        .sum::<f64>()
        .sqrt()
}

/// `Re ⟨a, b⟩ = Re Σ aᵢ conj(bᵢ)`, accumulated in f64.
pub fn inner_re(a: &[Complex32], b: &[Complex32]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(p, q)| p.re as f64 * q.re as f64 + p.im as f64 * q.im as f64)
        .sum()
}

/// Complex Gaussian noise `e` with `‖e‖₂ = level · ‖y‖₂` (seeded), for `y + e`.
pub fn noise_like(y: &[Complex32], level: f64, seed: u64) -> Result<Vec<Complex32>> {
    if !level.is_finite() || level < 0.0 {
        return Err(Error::Input(format!(
            "the noise level must be a finite non-negative number, got {level}"
        )));
    }
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let e: Vec<Complex32> = (0..y.len())
        .map(|_| {
            let re: f32 = StandardNormal.sample(&mut rng);
            let im: f32 = StandardNormal.sample(&mut rng);
            Complex32::new(re, im)
        })
        .collect();
    let scale = if level == 0.0 {
        0.0
    } else {
        (level * norm(y) / norm(&e).max(f64::MIN_POSITIVE)) as f32
    };
    Ok(e.into_iter().map(|v| v * scale).collect())
}

/// A seeded random complex vector, entries uniform in `[−1, 1) + i[−1, 1)`.
pub fn random_complex(len: usize, seed: u64) -> Vec<Complex32> {
    use rand::Rng;
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    (0..len)
        .map(|_| Complex32::new(rng.random_range(-1.0..1.0), rng.random_range(-1.0..1.0)))
        .collect()
}

/// The adjoint test of an operator `L`: `|⟨Lx, y⟩ − ⟨x, L*y⟩| / (‖x‖‖y‖)` for seeded random
/// complex `x`, `y`, the worst of the real and imaginary parts of the inner product (through the
/// real parts of `⟨·, y⟩` and `⟨·, iy⟩`). Every engine's operators pass it (`tests/engine.rs`).
pub fn adjoint_gap(op: &dyn LinearOperator, seed: u64) -> f64 {
    let x = random_complex(op.input_len(), seed);
    let y = random_complex(op.output_len(), seed + 1);
    let mut lx = vec![Complex32::default(); op.output_len()];
    op.apply(&x, &mut lx);
    let mut worst: f64 = 0.0;
    for rot in [Complex32::new(1.0, 0.0), Complex32::new(0.0, 1.0)] {
        let yr: Vec<Complex32> = y.iter().map(|v| v * rot).collect();
        let mut lty = vec![Complex32::default(); op.input_len()];
        op.adjoint(&yr, &mut lty);
        let gap = (inner_re(&lx, &yr) - inner_re(&x, &lty)).abs() / (norm(&x) * norm(&yr));
        worst = worst.max(gap);
    }
    worst
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mri::sampling::{mask, Pattern};
    use crate::mri::wavelet::Wavelet;

    #[test]
    fn a_and_b_pass_the_adjoint_test_and_have_norm_one() {
        for pattern in Pattern::ALL {
            for n in [32, 128] {
                let a = SubsampledFourier::new(mask(pattern, n, 0.3, 5).unwrap()).unwrap();
                assert!(adjoint_gap(&a, 11) <= 1e-5, "{} A", pattern.name());
                for w in [Wavelet::Haar, Wavelet::Db4] {
                    let levels = 3;
                    let wav = Wavelet2::new(w, n, levels).unwrap();
                    let b = WaveletSampling::new(&a, &wav).unwrap();
                    assert!(adjoint_gap(&b, 12) <= 1e-5, "{} B", pattern.name());
                    // ‖B z‖ ≤ ‖z‖, with equality when z's image is all sampled frequencies.
                    let z = random_complex(b.input_len(), 3);
                    let mut bz = vec![Complex32::default(); b.output_len()];
                    b.apply(&z, &mut bz);
                    assert!(norm(&bz) <= norm(&z) * (1.0 + 1e-5));
                }
            }
        }
    }

    #[test]
    fn zero_filling_keeps_the_sampled_frequencies() {
        let n = 32;
        let a =
            SubsampledFourier::new(mask(Pattern::VariableDensity, n, 0.25, 1).unwrap()).unwrap();
        let image: Vec<f32> = (0..n * n).map(|i| ((i * 37) % 11) as f32 / 10.0).collect();
        let y = a.measure(&image);
        // A A* = I on the measurements.
        let again = {
            let mut out = vec![Complex32::default(); a.output_len()];
            a.apply(&a.zero_filled(&y), &mut out);
            out
        };
        let err: f64 = y
            .iter()
            .zip(&again)
            .map(|(p, q)| (p - q).norm_sqr() as f64)
            .sum::<f64>();
        assert!(err.sqrt() <= 1e-5 * norm(&y));
        // With every frequency sampled, A* A = I.
        let full = SubsampledFourier::new(Mask::from_grid(n, vec![true; n * n]).unwrap()).unwrap();
        let back = full.zero_filled(&full.measure(&image));
        for (b, x) in back.iter().zip(&image) {
            assert!((b.re - x).abs() < 1e-5 && b.im.abs() < 1e-5);
        }
    }

    #[test]
    fn noise_has_the_requested_relative_norm() {
        let y = random_complex(500, 4);
        let e = noise_like(&y, 0.05, 9).unwrap();
        assert!((norm(&e) / norm(&y) - 0.05).abs() < 1e-6);
        assert_eq!(e, noise_like(&y, 0.05, 9).unwrap());
        assert!(norm(&noise_like(&y, 0.0, 9).unwrap()) == 0.0);
        assert!(noise_like(&y, f64::NAN, 9).is_err());
        assert!(SubsampledFourier::new(Mask::from_grid(8, vec![false; 64]).unwrap()).is_err());
    }
}
