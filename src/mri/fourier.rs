//! The unitary 2-D discrete Fourier transform of square images, with rustfft.
//!
//! `(Fx)[u, v] = (1/N) Σ_{y,x} x[y, x] e^{−2πi(uy + vx)/N}` for an `N × N` image stored row-major;
//! `F* = F⁻¹`, so `‖Fx‖₂ = ‖x‖₂` (Parseval). Frequencies are stored unshifted (index 0 is the DC
//! term, low frequencies sit at the corners); [`fftshift`] moves them to the centre for display.
//! Plans and scratch are made once per size and reused; rows are transformed in one batched call,
//! columns after a transpose.

use crate::{Error, Result};
use rustfft::num_complex::Complex32;
use rustfft::{Fft, FftPlanner};
use std::sync::Arc;

/// The unitary 2-D DFT of `N × N` images.
#[derive(Clone)]
pub struct Fourier2 {
    n: usize,
    forward: Arc<dyn Fft<f32>>,
    inverse: Arc<dyn Fft<f32>>,
}

impl std::fmt::Debug for Fourier2 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Fourier2({0}×{0})", self.n)
    }
}

impl Fourier2 {
    /// Plans the transforms for `n × n` images (`n ≥ 1`).
    pub fn new(n: usize) -> Result<Self> {
        if n == 0 {
            return Err(Error::Input("an image needs at least one pixel".into()));
        }
        let mut planner = FftPlanner::<f32>::new();
        Ok(Self {
            n,
            forward: planner.plan_fft_forward(n),
            inverse: planner.plan_fft_inverse(n),
        })
    }

    /// The side `N`.
    pub fn side(&self) -> usize {
        self.n
    }

    /// `data ← F data` in place.
    pub fn forward(&self, data: &mut [Complex32]) {
        self.apply(data, &self.forward);
    }

    /// `data ← F* data = F⁻¹ data` in place.
    pub fn inverse(&self, data: &mut [Complex32]) {
        self.apply(data, &self.inverse);
    }

    /// `data ← N·(F data)ᵀ`: the unnormalised spectrum, transposed (entry `(v, u)` holds
    /// frequency `(u, v)`). One transpose and no scaling pass fewer than [`Fourier2::forward`];
    /// [`crate::mri::operator::SubsampledFourier`] gathers its samples from this layout and scales
    /// only those.
    pub fn forward_transposed_unscaled(&self, data: &mut [Complex32]) {
        let n = self.n;
        assert_eq!(data.len(), n * n, "Fourier2: expected an {n}×{n} image");
        let mut scratch = vec![Complex32::default(); self.forward.get_inplace_scratch_len()];
        self.forward.process_with_scratch(data, &mut scratch);
        transpose_scaled(data, n, 1.0);
        self.forward.process_with_scratch(data, &mut scratch);
    }

    /// The adjoint of [`Fourier2::forward_transposed_unscaled`]: `data ← N·F⁻¹(dataᵀ)` for a
    /// spectrum given transposed.
    pub fn inverse_from_transposed_unscaled(&self, data: &mut [Complex32]) {
        let n = self.n;
        assert_eq!(data.len(), n * n, "Fourier2: expected an {n}×{n} image");
        let mut scratch = vec![Complex32::default(); self.inverse.get_inplace_scratch_len()];
        self.inverse.process_with_scratch(data, &mut scratch);
        transpose_scaled(data, n, 1.0);
        self.inverse.process_with_scratch(data, &mut scratch);
    }

    fn apply(&self, data: &mut [Complex32], fft: &Arc<dyn Fft<f32>>) {
        let n = self.n;
        assert_eq!(data.len(), n * n, "Fourier2: expected an {n}×{n} image");
        let mut scratch = vec![Complex32::default(); fft.get_inplace_scratch_len()];
        fft.process_with_scratch(data, &mut scratch);
        transpose_scaled(data, n, 1.0);
        fft.process_with_scratch(data, &mut scratch);
        // The unitary scale 1/N, applied while transposing back.
        transpose_scaled(data, n, 1.0 / n as f32);
    }
}

/// In-place transpose of a square `n × n` matrix, multiplying every entry by `scale`, in
/// cache-friendly blocks.
fn transpose_scaled(data: &mut [Complex32], n: usize, scale: f32) {
    const BLOCK: usize = 16;
    for bi in (0..n).step_by(BLOCK) {
        for bj in (bi..n).step_by(BLOCK) {
            for i in bi..(bi + BLOCK).min(n) {
                if bi == bj && scale != 1.0 {
                    data[i * n + i] *= scale;
                }
                let start = if bi == bj { i + 1 } else { bj };
                for j in start..(bj + BLOCK).min(n) {
                    let (a, b) = (data[i * n + j], data[j * n + i]);
                    data[i * n + j] = b * scale;
                    data[j * n + i] = a * scale;
                }
            }
        }
    }
}

/// Moves the zero frequency of an `n × n` array to the centre (`(n/2, n/2)`), as numpy's
/// `fftshift`; for display.
pub fn fftshift<T: Copy>(data: &[T], n: usize) -> Vec<T> {
    let h = n / 2;
    let mut out = Vec::with_capacity(n * n);
    for y in 0..n {
        let sy = (y + n - h) % n;
        for x in 0..n {
            out.push(data[sy * n + (x + n - h) % n]);
        }
    }
    out
}

/// `log|v|` of a spectrum for display: mapped to [0, 1] from 10⁻⁵ of the largest magnitude
/// (black) to the largest (white), in the spectrum's own layout.
pub fn log_display(spectrum: &[Complex32]) -> Vec<f32> {
    let top = spectrum
        .iter()
        .map(|z| z.norm())
        .fold(0.0f32, f32::max)
        .max(f32::MIN_POSITIVE);
    let floor = top * 1e-5;
    let span = (top / floor).ln();
    spectrum
        .iter()
        .map(|z| ((z.norm().max(floor) / floor).ln() / span).clamp(0.0, 1.0))
        .collect()
}

/// A real image as complex numbers.
pub fn complexify(image: &[f32]) -> Vec<Complex32> {
    image.iter().map(|&v| Complex32::new(v, 0.0)).collect()
}

/// `|z|` of each entry.
pub fn magnitudes(data: &[Complex32]) -> Vec<f32> {
    data.iter().map(|z| z.norm()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    fn random_image(n: usize, seed: u64) -> Vec<Complex32> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        (0..n * n)
            .map(|_| Complex32::new(rng.random_range(-1.0..1.0), rng.random_range(-1.0..1.0)))
            .collect()
    }

    /// The definition, in f64.
    fn naive_dft(x: &[Complex32], n: usize, sign: f64) -> Vec<(f64, f64)> {
        let mut out = vec![(0.0, 0.0); n * n];
        for u in 0..n {
            for v in 0..n {
                let (mut re, mut im) = (0.0, 0.0);
                for y in 0..n {
                    for xx in 0..n {
                        let phase =
                            sign * 2.0 * std::f64::consts::PI * ((u * y + v * xx) % n) as f64
                                / n as f64;
                        let (a, b) = (x[y * n + xx].re as f64, x[y * n + xx].im as f64);
                        re += a * phase.cos() - b * phase.sin();
                        im += a * phase.sin() + b * phase.cos();
                    }
                }
                out[u * n + v] = (re / n as f64, im / n as f64);
            }
        }
        out
    }

    #[test]
    fn matches_the_naive_dft_on_small_sizes() {
        for (n, seed) in [(1, 1), (2, 2), (3, 3), (8, 4), (12, 5), (16, 6), (17, 7)] {
            let x = random_image(n, seed);
            let f = Fourier2::new(n).unwrap();
            for (sign, inverse) in [(-1.0, false), (1.0, true)] {
                let mut fast = x.clone();
                if inverse {
                    f.inverse(&mut fast);
                } else {
                    f.forward(&mut fast);
                }
                let want = naive_dft(&x, n, sign);
                let scale = (x.iter().map(|z| z.norm_sqr() as f64).sum::<f64>()).sqrt();
                let err = fast
                    .iter()
                    .zip(&want)
                    .map(|(a, b)| (a.re as f64 - b.0).powi(2) + (a.im as f64 - b.1).powi(2))
                    .sum::<f64>()
                    .sqrt();
                assert!(err <= 1e-6 * scale, "n = {n}: error {err} (scale {scale})");
            }
        }
    }

    #[test]
    fn is_unitary_and_inverted_by_its_adjoint() {
        let n = 64;
        let f = Fourier2::new(n).unwrap();
        let x = random_image(n, 9);
        let y = random_image(n, 10);
        let mut fx = x.clone();
        f.forward(&mut fx);
        let norm = |v: &[Complex32]| v.iter().map(|z| z.norm_sqr() as f64).sum::<f64>().sqrt();
        assert!((norm(&fx) - norm(&x)).abs() <= 1e-5 * norm(&x));
        // ⟨Fx, y⟩ = ⟨x, F*y⟩.
        let mut fty = y.clone();
        f.inverse(&mut fty);
        let inner = |a: &[Complex32], b: &[Complex32]| {
            a.iter().zip(b).fold((0.0f64, 0.0f64), |(re, im), (p, q)| {
                let z = p * q.conj();
                (re + z.re as f64, im + z.im as f64)
            })
        };
        let (l, r) = (inner(&fx, &y), inner(&x, &fty));
        let scale = norm(&x) * norm(&y);
        assert!(((l.0 - r.0).powi(2) + (l.1 - r.1).powi(2)).sqrt() <= 1e-5 * scale);
        let mut back = fx.clone();
        f.inverse(&mut back);
        let err: f64 = back
            .iter()
            .zip(&x)
            .map(|(a, b)| (a - b).norm_sqr() as f64)
            .sum::<f64>()
            .sqrt();
        assert!(err <= 1e-5 * norm(&x));
    }

    #[test]
    fn transposed_unscaled_variants_agree_with_the_unitary_transform() {
        let n = 16;
        let f = Fourier2::new(n).unwrap();
        let x = random_image(n, 21);
        let (mut a, mut b) = (x.clone(), x.clone());
        f.forward(&mut a);
        f.forward_transposed_unscaled(&mut b);
        for u in 0..n {
            for v in 0..n {
                assert!((a[u * n + v] * n as f32 - b[v * n + u]).norm() < 1e-4);
            }
        }
        let (mut c, mut d) = (x.clone(), x.clone());
        f.inverse(&mut c);
        let mut xt = vec![Complex32::default(); n * n];
        for u in 0..n {
            for v in 0..n {
                xt[v * n + u] = x[u * n + v];
            }
        }
        d.copy_from_slice(&xt);
        f.inverse_from_transposed_unscaled(&mut d);
        for (p, q) in c.iter().zip(&d) {
            assert!((p * n as f32 - q).norm() < 1e-4);
        }
    }

    #[test]
    fn fftshift_centres_the_zero_frequency() {
        let n = 4;
        let data: Vec<usize> = (0..16).collect();
        let s = fftshift(&data, n);
        assert_eq!(s[2 * 4 + 2], 0);
        assert_eq!(
            s,
            vec![10, 11, 8, 9, 14, 15, 12, 13, 2, 3, 0, 1, 6, 7, 4, 5]
        );
        let odd: Vec<usize> = (0..9).collect();
        assert_eq!(fftshift(&odd, 3)[4], 0);
        assert!(Fourier2::new(0).is_err());
    }
}
