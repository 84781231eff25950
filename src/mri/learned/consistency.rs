//! The data-consistency layer of the deep MRI cascade (Schlemper, Caballero, Hajnal, Price &
//! Rueckert, "A deep cascade of convolutional neural networks for dynamic MR image
//! reconstruction", IEEE TMI 2018), in candle so that autograd differentiates through it:
//!
//! `DC(x̂) = F⁻¹((1 − M) ⊙ F x̂ + M ⊙ k₀)`,
//!
//! with `M` the sampling mask and `k₀ = P_Ωᵀ y` the measured k-space (noise-free data
//! consistency). The unitary 2-D DFT is written as matrix products, `F x = F₁ X F₁ᵀ` with
//! `F₁[u, y] = e^{−2πi uy/N}/√N`, on complex tensors stored as real and imaginary parts
//! (`[B, N, N]` each): `O(N³)` work, fine at the 64² of the trainable networks, and exactly
//! [`crate::mri::fourier::Fourier2`] (tested).

use crate::mri::sampling::Mask;
use crate::Result;
use candle_core::{DType, Device, Tensor};

/// A complex tensor as real and imaginary parts of the same shape.
pub type Complex = (Tensor, Tensor);

/// The DFT matrices and the mask for `N × N` images.
#[derive(Clone, Debug)]
pub struct DataConsistency {
    f_re: Tensor,
    f_im: Tensor,
    f_re_t: Tensor,
    f_im_t: Tensor,
    /// `M` as 0/1, `[N, N]`, unshifted.
    mask: Tensor,
    /// `1 − M`.
    unmeasured: Tensor,
}

impl DataConsistency {
    /// For `mask` (unshifted, as [`crate::mri::sampling`] makes it).
    pub fn new(mask: &Mask, dtype: DType, device: &Device) -> Result<Self> {
        let n = mask.side();
        let scale = 1.0 / (n as f64).sqrt();
        let (mut re, mut im) = (Vec::with_capacity(n * n), Vec::with_capacity(n * n));
        for u in 0..n {
            for y in 0..n {
                let phase = -2.0 * std::f64::consts::PI * ((u * y) % n) as f64 / n as f64;
                re.push(phase.cos() * scale);
                im.push(phase.sin() * scale);
            }
        }
        let f_re = Tensor::from_vec(re, (n, n), device)?.to_dtype(dtype)?;
        let f_im = Tensor::from_vec(im, (n, n), device)?.to_dtype(dtype)?;
        let m: Vec<f64> = mask
            .grid()
            .iter()
            .map(|&b| f64::from(u8::from(b)))
            .collect();
        let mask = Tensor::from_vec(m, (n, n), device)?.to_dtype(dtype)?;
        Ok(Self {
            f_re_t: f_re.t()?.contiguous()?,
            f_im_t: f_im.t()?.contiguous()?,
            unmeasured: (1.0 - &mask)?,
            mask,
            f_re,
            f_im,
        })
    }

    /// The unitary 2-D DFT (or its inverse) of a batch `[B, N, N]`.
    pub fn dft(&self, x: &Complex, inverse: bool) -> Result<Complex> {
        // F⁻¹ = conj(F): negate the imaginary part of the matrices.
        let sign = if inverse { -1.0 } else { 1.0 };
        let (a_re, a_im) = (&self.f_re, (&self.f_im * sign)?);
        // Y = F₁ X.
        let (x_re, x_im) = x;
        let y_re = (a_re.broadcast_matmul(x_re)? - a_im.broadcast_matmul(x_im)?)?;
        let y_im = (a_re.broadcast_matmul(x_im)? + a_im.broadcast_matmul(x_re)?)?;
        // Z = Y F₁ᵀ.
        let (b_re, b_im) = (&self.f_re_t, (&self.f_im_t * sign)?);
        let z_re = (y_re.broadcast_matmul(b_re)? - y_im.broadcast_matmul(&b_im)?)?;
        let z_im = (y_re.broadcast_matmul(&b_im)? + y_im.broadcast_matmul(b_re)?)?;
        Ok((z_re, z_im))
    }

    /// `DC(x̂) = F⁻¹((1 − M) ⊙ F x̂ + M ⊙ k₀)` for a batch of estimates and measured k-spaces.
    pub fn apply(&self, estimate: &Complex, measured: &Complex) -> Result<Complex> {
        let (k_re, k_im) = self.dft(estimate, false)?;
        let keep = |k: &Tensor, k0: &Tensor| -> Result<Tensor> {
            Ok((k.broadcast_mul(&self.unmeasured)? + k0.broadcast_mul(&self.mask)?)?)
        };
        let mixed = (keep(&k_re, &measured.0)?, keep(&k_im, &measured.1)?);
        self.dft(&mixed, true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mri::fourier::Fourier2;
    use crate::mri::sampling::{mask, Pattern};
    use candle_core::Var;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;
    use rustfft::num_complex::Complex32;

    fn random(len: usize, seed: u64) -> Vec<f64> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        (0..len).map(|_| rng.random_range(-1.0..1.0)).collect()
    }

    #[test]
    fn matrix_dft_is_the_fft() {
        let n = 16;
        let dc = DataConsistency::new(
            &mask(Pattern::VariableDensity, n, 0.3, 1).unwrap(),
            DType::F64,
            &Device::Cpu,
        )
        .unwrap();
        let (re, im) = (random(n * n, 1), random(n * n, 2));
        let t = |v: &[f64]| Tensor::from_slice(v, (1, n, n), &Device::Cpu).unwrap();
        for inverse in [false, true] {
            let (z_re, z_im) = dc.dft(&(t(&re), t(&im)), inverse).unwrap();
            let (z_re, z_im) = (
                z_re.flatten_all().unwrap().to_vec1::<f64>().unwrap(),
                z_im.flatten_all().unwrap().to_vec1::<f64>().unwrap(),
            );
            let mut fast: Vec<Complex32> = re
                .iter()
                .zip(&im)
                .map(|(a, b)| Complex32::new(*a as f32, *b as f32))
                .collect();
            let f = Fourier2::new(n).unwrap();
            if inverse {
                f.inverse(&mut fast);
            } else {
                f.forward(&mut fast);
            }
            for i in 0..n * n {
                assert!((z_re[i] - fast[i].re as f64).abs() < 1e-5);
                assert!((z_im[i] - fast[i].im as f64).abs() < 1e-5);
            }
        }
    }

    #[test]
    fn consistency_keeps_the_measurements_and_has_the_right_gradient() {
        let n = 8;
        let m = mask(Pattern::VariableDensity, n, 0.4, 3).unwrap();
        let dc = DataConsistency::new(&m, DType::F64, &Device::Cpu).unwrap();
        let t = |v: &[f64]| Tensor::from_slice(v, (1, n, n), &Device::Cpu).unwrap();
        let (k0_re, k0_im) = (random(n * n, 4), random(n * n, 5));
        let measured = (t(&k0_re), t(&k0_im));
        let x_re = random(n * n, 6);
        let zeros = vec![0.0; n * n];
        // The output's spectrum equals k₀ on Ω.
        let out = dc.apply(&(t(&x_re), t(&zeros)), &measured).unwrap();
        let (s_re, s_im) = dc.dft(&out, false).unwrap();
        let (s_re, s_im) = (
            s_re.flatten_all().unwrap().to_vec1::<f64>().unwrap(),
            s_im.flatten_all().unwrap().to_vec1::<f64>().unwrap(),
        );
        for &i in m.indices() {
            let i = i as usize;
            assert!((s_re[i] - k0_re[i]).abs() < 1e-12 && (s_im[i] - k0_im[i]).abs() < 1e-12);
        }
        // Autograd of Σ w ⊙ Re DC(x) against central differences in f64.
        let w = t(&random(n * n, 7));
        let objective = |x: &Tensor| -> Tensor {
            let (re, _) = dc.apply(&(x.clone(), t(&zeros)), &measured).unwrap();
            (re * &w).unwrap().sum_all().unwrap()
        };
        let var = Var::from_tensor(&t(&x_re)).unwrap();
        let grads = objective(var.as_tensor()).backward().unwrap();
        let g = grads
            .get(var.as_tensor())
            .unwrap()
            .flatten_all()
            .unwrap()
            .to_vec1::<f64>()
            .unwrap();
        let h = 1e-6;
        for p in [0, 9, 27, 63] {
            let (mut plus, mut minus) = (x_re.clone(), x_re.clone());
            plus[p] += h;
            minus[p] -= h;
            let value = |v: &[f64]| objective(&t(v)).to_scalar::<f64>().unwrap();
            let fd = (value(&plus) - value(&minus)) / (2.0 * h);
            assert!((fd - g[p]).abs() < 1e-7, "pixel {p}: {fd} vs {}", g[p]);
        }
    }
}
