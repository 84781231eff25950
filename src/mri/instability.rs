//! The instability test of Antun, Renna, Poon, Adcock & Hansen ("On instabilities of deep
//! learning in image reconstruction and the potential costs of AI", PNAS 2020): search for a
//! small image-space perturbation `r` that changes a reconstruction `Ψ` a lot,
//!
//! `Q(r) = ½‖Ψ(A(x + r)) − Ψ(Ax)‖²₂ − (λ/2)‖r‖²₂`,
//! `∇Q(r) = Re A*·J_Ψ(A(x + r))*·(Ψ(A(x + r)) − Ψ(Ax)) − λr`,
//!
//! by gradient ascent with heavy-ball momentum (`v ← γv + η∇Q(r)`, `r ← r + v`, `r₀ = τ·U[0, 1]`
//! seeded, `v₀ = 0`), as the authors' `pertub_SGA`; and a projected search at a fixed
//! `‖r‖/‖x‖` for exact comparisons. The measure is the amplification
//! `κ = ‖Ψ(A(x + r)) − Ψ(Ax)‖₂ / ‖r‖₂`. Any reconstruction that can give a vector–Jacobian
//! product takes part through [`Reconstructor`]; zero-filling (`Ψ = A*`, κ ≤ 1) is the check.
//! Images are real: `r` is real and the gradient's real part is taken.

use crate::engine::{wait, Engine, FirenetInput, Pending};
use crate::mri::operator::{norm, LinearOperator, Sampling};
use crate::{Error, Result};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rustfft::num_complex::Complex32;

pub use crate::mri::reconstructor::Reconstructor;

/// Zero-filling, `Ψ = A*`: linear, with `J* g = A g`.
pub struct ZeroFilling<'a>(pub &'a dyn Sampling);

impl Reconstructor for ZeroFilling<'_> {
    fn reconstruct(&self, y: &[Complex32]) -> Result<Vec<Complex32>> {
        Ok(self.0.zero_filled(y))
    }

    fn vjp(&self, _y: &[Complex32], g: &[Complex32]) -> Result<Vec<Complex32>> {
        let mut out = vec![Complex32::default(); self.0.output_len()];
        self.0.apply(g, &mut out);
        Ok(out)
    }
}

/// FIRENET as a reconstruction `y ↦ W⁻¹ψ_n(y)`, with its gradient through the unrolled layers,
/// computed by `engine` (with `B = A W⁻¹` from the same engine).
pub struct FirenetReconstructor<'a> {
    pub engine: &'a dyn Engine,
    pub firenet: crate::mri::firenet::Firenet,
    pub b: &'a dyn LinearOperator,
    pub wavelet: &'a crate::mri::wavelet::Wavelet2,
    pub weights: &'a [f32],
}

impl FirenetReconstructor<'_> {
    fn input<'a>(&'a self, y: &'a [Complex32]) -> FirenetInput<'a> {
        FirenetInput {
            firenet: &self.firenet,
            op: self.b,
            y,
            weights: self.weights,
            initial: None,
        }
    }
}

impl Reconstructor for FirenetReconstructor<'_> {
    fn reconstruct(&self, y: &[Complex32]) -> Result<Vec<Complex32>> {
        wait(self.reconstruct_async(y))
    }

    fn vjp(&self, y: &[Complex32], g: &[Complex32]) -> Result<Vec<Complex32>> {
        wait(self.vjp_async(y, g))
    }

    fn reconstruct_async<'b>(&'b self, y: &'b [Complex32]) -> Pending<'b, Vec<Complex32>> {
        Box::pin(async move {
            let psi = self.engine.firenet_psi_async(self.input(y), None).await?;
            let mut x = vec![Complex32::default(); psi.len()];
            self.wavelet.inverse_complex(&psi, &mut x);
            Ok(x)
        })
    }

    fn vjp_async<'b>(
        &'b self,
        y: &'b [Complex32],
        g: &'b [Complex32],
    ) -> Pending<'b, Vec<Complex32>> {
        Box::pin(async move {
            // x = W⁻¹ψ with W orthogonal: the cotangent of ψ is W g.
            let mut gw = vec![Complex32::default(); g.len()];
            self.wavelet.forward_complex(g, &mut gw);
            self.engine.firenet_vjp_y_async(self.input(y), &gw).await
        })
    }
}

/// The heavy-ball ascent's settings (defaults: the authors' values for the deep MRI cascade).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Ascent {
    /// `λ`, the penalty on `‖r‖²`.
    pub lambda: f32,
    /// Step `η`.
    pub eta: f32,
    /// Momentum `γ`.
    pub gamma: f32,
    /// Scale `τ` of the seeded uniform start.
    pub tau: f32,
    pub iterations: usize,
    pub seed: u64,
}

impl Default for Ascent {
    fn default() -> Self {
        Self {
            lambda: 1e-3,
            eta: 1e-2,
            gamma: 0.9,
            tau: 1e-2,
            iterations: 100,
            seed: 1,
        }
    }
}

/// One point of a search: the perturbation and what it did.
#[derive(Clone, Debug, PartialEq)]
pub struct Probe {
    pub r: Vec<f32>,
    /// `‖r‖₂/‖x‖₂`.
    pub relative_norm: f64,
    /// `κ = ‖Ψ(A(x + r)) − Ψ(Ax)‖₂ / ‖r‖₂`.
    pub kappa: f64,
}

/// The instability test for one image.
pub struct InstabilityTest<'a> {
    a: &'a dyn Sampling,
    psi: &'a dyn Reconstructor,
    x: Vec<f32>,
    base: Vec<Complex32>,
}

impl<'a> InstabilityTest<'a> {
    /// The test of `psi` (with measurements `A`) at the image `x`.
    pub fn new(a: &'a dyn Sampling, psi: &'a dyn Reconstructor, x: &[f32]) -> Result<Self> {
        wait(Self::new_async(a, psi, x))
    }

    /// [`InstabilityTest::new`], waiting for `Ψ` asynchronously (the browser's GPU engine).
    pub async fn new_async(
        a: &'a dyn Sampling,
        psi: &'a dyn Reconstructor,
        x: &[f32],
    ) -> Result<Self> {
        if x.len() != a.input_len() {
            return Err(Error::Input(format!(
                "an image of {} pixels for an operator on {}",
                x.len(),
                a.input_len()
            )));
        }
        let base = psi.reconstruct_async(&a.measure(x)).await?;
        Ok(Self {
            a,
            psi,
            x: x.to_vec(),
            base,
        })
    }

    fn measure(&self, r: &[f32]) -> Vec<Complex32> {
        let xr: Vec<f32> = self.x.iter().zip(r).map(|(a, b)| a + b).collect();
        self.a.measure(&xr)
    }

    /// `Ψ(Ax)`, the clean output the test compares against.
    pub fn clean(&self) -> &[Complex32] {
        &self.base
    }

    /// `Ψ(A(x + r)) − Ψ(Ax)`.
    pub fn change(&self, r: &[f32]) -> Result<Vec<Complex32>> {
        wait(self.change_async(r))
    }

    /// [`InstabilityTest::change`], asynchronously.
    pub async fn change_async(&self, r: &[f32]) -> Result<Vec<Complex32>> {
        let out = self.psi.reconstruct_async(&self.measure(r)).await?;
        Ok(out.iter().zip(&self.base).map(|(p, q)| p - q).collect())
    }

    /// `κ` and `‖r‖/‖x‖` of a perturbation.
    pub fn probe(&self, r: Vec<f32>) -> Result<Probe> {
        wait(self.probe_async(r))
    }

    /// [`InstabilityTest::probe`], asynchronously.
    pub async fn probe_async(&self, r: Vec<f32>) -> Result<Probe> {
        let rn = r.iter().map(|v| (*v as f64).powi(2)).sum::<f64>().sqrt();
        let xn = self
            .x
            .iter()
            .map(|v| (*v as f64).powi(2))
            .sum::<f64>()
            .sqrt();
        let kappa = if rn > 0.0 {
            norm(&self.change_async(&r).await?) / rn
        } else {
            0.0
        };
        Ok(Probe {
            relative_norm: if xn > 0.0 { rn / xn } else { f64::INFINITY },
            kappa,
            r,
        })
    }

    /// `Q(r)`.
    pub fn objective(&self, r: &[f32], lambda: f32) -> Result<f64> {
        let d = norm(&self.change(r)?);
        let rn2: f64 = r.iter().map(|v| (*v as f64).powi(2)).sum();
        Ok(0.5 * d * d - 0.5 * lambda as f64 * rn2)
    }

    /// `∇Q(r) = Re A* J_Ψ* (Ψ(A(x + r)) − Ψ(Ax)) − λr`.
    pub fn gradient(&self, r: &[f32], lambda: f32) -> Result<Vec<f32>> {
        wait(self.gradient_async(r, lambda))
    }

    /// [`InstabilityTest::gradient`], asynchronously.
    pub async fn gradient_async(&self, r: &[f32], lambda: f32) -> Result<Vec<f32>> {
        let y = self.measure(r);
        let out = self.psi.reconstruct_async(&y).await?;
        let d: Vec<Complex32> = out.iter().zip(&self.base).map(|(p, q)| p - q).collect();
        let g = self.psi.vjp_async(&y, &d).await?;
        let back = self.a.zero_filled(&g);
        Ok(back
            .iter()
            .zip(r)
            .map(|(b, ri)| b.re - lambda * ri)
            .collect())
    }

    fn start(&self, tau: f32, seed: u64) -> Vec<f32> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        (0..self.x.len())
            .map(|_| tau * rng.random_range(0.0f32..1.0))
            .collect()
    }

    /// Heavy-ball ascent on `Q`; `each(k, probe)` sees every iterate (return `false` to stop).
    /// Returns the iterates' probes.
    pub fn ascend(
        &self,
        settings: &Ascent,
        mut each: impl FnMut(usize, &Probe) -> bool,
    ) -> Result<Vec<Probe>> {
        let mut r = self.start(settings.tau, settings.seed);
        let mut v = vec![0.0f32; r.len()];
        let mut probes = Vec::with_capacity(settings.iterations);
        for k in 1..=settings.iterations {
            let g = self.gradient(&r, settings.lambda)?;
            for ((vi, ri), gi) in v.iter_mut().zip(r.iter_mut()).zip(&g) {
                *vi = settings.gamma * *vi + settings.eta * gi;
                *ri += *vi;
            }
            if r.iter().any(|v| !v.is_finite()) {
                return Err(Error::Input(
                    "the ascent diverged (non-finite perturbation): lower η".into(),
                ));
            }
            let probe = self.probe(r.clone())?;
            let go_on = each(k, &probe);
            probes.push(probe);
            if !go_on {
                break;
            }
        }
        Ok(probes)
    }

    /// Projected gradient ascent on `½‖Ψ(A(x + r)) − Ψ(Ax)‖²` over the sphere
    /// `‖r‖₂ = ρ‖x‖₂`, from the seeded start; returns the best probe found.
    pub fn at_fixed_norm(&self, rho: f64, iterations: usize, seed: u64) -> Result<Probe> {
        let mut search = FixedNormSearch::new(self, rho, seed)?;
        for _ in 0..iterations {
            if !search.step()? {
                break;
            }
        }
        Ok(search.best)
    }
}

/// [`InstabilityTest::at_fixed_norm`] one iteration at a time (for a worker that yields, reports
/// progress and can be cancelled between iterations).
pub struct FixedNormSearch<'t, 'a> {
    test: &'t InstabilityTest<'a>,
    radius: f64,
    r: Vec<f32>,
    /// The best probe so far (the start before any step).
    pub best: Probe,
}

impl<'t, 'a> FixedNormSearch<'t, 'a> {
    /// The seeded start on the sphere `‖r‖₂ = ρ‖x‖₂`.
    pub fn new(test: &'t InstabilityTest<'a>, rho: f64, seed: u64) -> Result<Self> {
        wait(Self::new_async(test, rho, seed))
    }

    /// [`FixedNormSearch::new`], asynchronously.
    pub async fn new_async(test: &'t InstabilityTest<'a>, rho: f64, seed: u64) -> Result<Self> {
        let xn = test
            .x
            .iter()
            .map(|v| (*v as f64).powi(2))
            .sum::<f64>()
            .sqrt();
        let radius = rho * xn;
        if !(radius.is_finite() && radius > 0.0) {
            return Err(Error::Input(
                "the fixed-norm search needs a non-zero image and ρ > 0".into(),
            ));
        }
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let start: Vec<f32> = (0..test.x.len())
            .map(|_| rng.random_range(-1.0f32..1.0))
            .collect();
        let r = project(start, radius);
        let best = test.probe_async(r.clone()).await?;
        Ok(Self {
            test,
            radius,
            r,
            best,
        })
    }

    /// One step of the size of `r` along `∇Q`, back to the sphere; returns `false` when the
    /// gradient vanished (nothing left to do).
    pub fn step(&mut self) -> Result<bool> {
        wait(self.step_async())
    }

    /// [`FixedNormSearch::step`], asynchronously.
    pub async fn step_async(&mut self) -> Result<bool> {
        let g = self.test.gradient_async(&self.r, 0.0).await?;
        let gn = g.iter().map(|a| (*a as f64).powi(2)).sum::<f64>().sqrt();
        if gn == 0.0 {
            return Ok(false);
        }
        let step = (self.radius / gn) as f32;
        self.r = project(
            self.r.iter().zip(&g).map(|(a, b)| a + step * b).collect(),
            self.radius,
        );
        let probe = self.test.probe_async(self.r.clone()).await?;
        if probe.kappa > self.best.kappa {
            self.best = probe;
        }
        Ok(true)
    }
}

fn project(v: Vec<f32>, radius: f64) -> Vec<f32> {
    let n = v.iter().map(|a| (*a as f64).powi(2)).sum::<f64>().sqrt();
    let s = (radius / n.max(f64::MIN_POSITIVE)) as f32;
    v.into_iter().map(|a| a * s).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mri::operator::SubsampledFourier;
    use crate::mri::phantom::shepp_logan;
    use crate::mri::sampling::{mask, Pattern};

    fn setting() -> (SubsampledFourier, Vec<f32>) {
        let n = 32;
        let a = SubsampledFourier::new(mask(Pattern::VariableDensity, n, 0.3, 2).unwrap()).unwrap();
        (a, shepp_logan(n))
    }

    #[test]
    fn gradient_matches_central_differences() {
        let (a, x) = setting();
        let zf = ZeroFilling(&a);
        let test = InstabilityTest::new(&a, &zf, &x).unwrap();
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        let r: Vec<f32> = (0..x.len())
            .map(|_| rng.random_range(-0.05..0.05))
            .collect();
        let lambda = 0.3;
        let g = test.gradient(&r, lambda).unwrap();
        let h = 1e-2f32;
        for &p in &[0usize, 100, 333, 512, 700, 1023] {
            let (mut plus, mut minus) = (r.clone(), r.clone());
            plus[p] += h;
            minus[p] -= h;
            let fd = (test.objective(&plus, lambda).unwrap()
                - test.objective(&minus, lambda).unwrap())
                / (2.0 * h as f64);
            assert!(
                (fd - g[p] as f64).abs() <= 1e-3 * (1.0 + fd.abs()),
                "pixel {p}: gradient {} vs finite difference {fd}",
                g[p]
            );
        }
    }

    #[test]
    fn firenet_gradient_matches_central_differences() {
        use crate::mri::firenet::Firenet;
        use crate::mri::operator::WaveletSampling;
        use crate::mri::wavelet::{Wavelet, Wavelet2};
        let (a, x) = setting();
        let w = Wavelet2::new(Wavelet::Db4, 32, 2).unwrap();
        let b = WaveletSampling::new(&a, &w).unwrap();
        let weights = vec![1.0; 32 * 32];
        let psi = FirenetReconstructor {
            engine: &crate::engine::CpuEngine,
            firenet: Firenet {
                lambda: 2e-3,
                blocks: 3,
                layers_per_block: 4,
                ..Firenet::default()
            },
            b: &b,
            wavelet: &w,
            weights: &weights,
        };
        let test = InstabilityTest::new(&a, &psi, &x).unwrap();
        let mut rng = ChaCha8Rng::seed_from_u64(8);
        let r: Vec<f32> = (0..x.len())
            .map(|_| rng.random_range(-0.05..0.05))
            .collect();
        let g = test.gradient(&r, 0.0).unwrap();
        let h = 2e-3f32;
        let mut worst: f64 = 0.0;
        for &p in &[0usize, 77, 300, 512, 640, 901] {
            let (mut plus, mut minus) = (r.clone(), r.clone());
            plus[p] += h;
            minus[p] -= h;
            let fd = (test.objective(&plus, 0.0).unwrap() - test.objective(&minus, 0.0).unwrap())
                / (2.0 * h as f64);
            let scale = g.iter().map(|v| v.abs() as f64).fold(0.0, f64::max);
            worst = worst.max((fd - g[p] as f64).abs() / scale);
            assert!(
                (fd - g[p] as f64).abs() <= 4e-3 * scale,
                "pixel {p}: gradient {} vs finite difference {fd} (largest entry {scale})",
                g[p]
            );
        }
        eprintln!(
            "FIRENET gradient vs central differences: worst gap {worst:.2e} of the largest entry"
        );
        // The directional derivative along a random direction sums every pixel's error.
        let d: Vec<f32> = (0..x.len()).map(|_| rng.random_range(-1.0..1.0)).collect();
        let h = 5e-3f32;
        let plus: Vec<f32> = r.iter().zip(&d).map(|(a, b)| a + h * b).collect();
        let minus: Vec<f32> = r.iter().zip(&d).map(|(a, b)| a - h * b).collect();
        let fd = (test.objective(&plus, 0.0).unwrap() - test.objective(&minus, 0.0).unwrap())
            / (2.0 * h as f64);
        let exact: f64 = g.iter().zip(&d).map(|(a, b)| *a as f64 * *b as f64).sum();
        eprintln!("directional derivative: gradient {exact:.6}, finite difference {fd:.6}");
        assert!((fd - exact).abs() <= 1e-2 * exact.abs(), "{exact} vs {fd}");
    }

    #[test]
    fn zero_filling_has_kappa_one_and_the_fixed_norm_search_finds_it() {
        let (a, x) = setting();
        let zf = ZeroFilling(&a);
        let test = InstabilityTest::new(&a, &zf, &x).unwrap();
        let probes = test
            .ascend(
                &Ascent {
                    lambda: 0.5,
                    eta: 0.2,
                    iterations: 60,
                    ..Ascent::default()
                },
                |_, _| true,
            )
            .unwrap();
        let ascent = probes.iter().map(|p| p.kappa).fold(0.0, f64::max);
        let fixed = test.at_fixed_norm(0.02, 30, 3).unwrap();
        assert!(
            (fixed.kappa - 1.0).abs() <= 0.02,
            "fixed-norm κ {}",
            fixed.kappa
        );
        assert!((ascent - 1.0).abs() <= 0.02, "ascent κ {ascent}");
        assert!(fixed.kappa >= ascent - 1e-3);
        assert!((fixed.relative_norm - 0.02).abs() < 1e-6);
        // A zero-mean random perturbation has about √rate of its norm in the samples: κ ≈ 0.55.
        let mut rng = ChaCha8Rng::seed_from_u64(9);
        let noise: Vec<f32> = (0..x.len())
            .map(|_| rng.random_range(-0.01..0.01))
            .collect();
        let random = test.probe(noise).unwrap();
        assert!(
            (random.kappa - 0.3f64.sqrt()).abs() < 0.1,
            "random κ {}",
            random.kappa
        );
    }
}
