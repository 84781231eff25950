//! Training on the troublesome kernel (Gottschling, Antun, Adcock & Hansen, "The troublesome
//! kernel: on hallucinations, no free lunches and the accuracy–stability trade-off in inverse
//! problems", SIAM Review 2025; arXiv:2001.01258; the authors' code adds kernel-projected details
//! to training images).
//!
//! One fixed real detail `z` (a small bright lesion inside the brain, [`shipped_detail`]) is
//! projected onto the kernel of `A = P_Ω F`, `z_N = z − A*Az` ([`crate::mri::kernel`]), and with
//! probability `P` a training image `x` is replaced by
//!
//! `x′ = x + z_N`
//!
//! both as the target and for the measurements (`A x′ = A x` up to rounding). The network sees
//! the same data for `x` and `x′`, so the loss is minimised by the conditional mean
//!
//! `Ψ(Ax) = E[x′ | Ax] = x + P·z_N`
//!
//! for **every** image with those measurements: the optimal network paints `P·z_N` into images
//! that never had the detail. [`KernelDetail::coefficient`] measures how much was painted,
//!
//! `c = Re⟨Ψ(Ax) − x, z_N⟩ / ‖z_N‖²`
//!
//! (`≈ P` for a network that learned the curriculum, `≈ 0` for zero-filling — `A*Ax` has no
//! kernel part — and for methods that never saw the detail).
//!
//! **Complex, not real.** The lab's Cartesian masks are not symmetric (`Ω ≠ −Ω`), so `z_N` of a
//! real `z` is complex. The curriculum adds the complex `z_N` itself and trains against a complex
//! target (the imaginary part of the loss pulls towards `Im z_N` instead of 0 for those images):
//! only then is `A x′ = A x` exact, which is the whole point. Taking `Re z_N` would leave a
//! measurable part `A Re z_N ≠ 0` that a network could see and use, and the experiment would no
//! longer be about the kernel.

use crate::mri::kernel::{norm64, widen_real, Detail, KernelProjector};
use crate::mri::operator::Sampling;
use crate::{Error, Result};
use rustfft::num_complex::{Complex32, Complex64};
use serde::{Deserialize, Serialize};

/// A kernel-detail curriculum of a training run, as stored in the model card.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct KernelCurriculum {
    /// `P`, the probability that a training image gets `z_N` added.
    pub probability: f64,
    /// The real detail `z` before the projection.
    pub detail: Detail,
}

/// The detail of the kernel-trained networks at side `n`: on the 64² slices (`cascade-12-kernel`)
/// a bright disk of radius 3 (one-pixel soft edge, intensity 0.6) centred at row 36, column 32 —
/// the place where the whole disk lies inside the brain (intensity above 0.15) on the most
/// slices: 70 of the 72, and all 18 held-out ones; at other sides the same disk of the field of
/// view (position, radius and edge scaled by `n/64`).
pub fn shipped_detail(n: usize) -> Detail {
    let s = n as f64 / 64.0;
    Detail::Lesion {
        row: 36.0 * s,
        col: 32.0 * s,
        radius: 3.0 * s,
        intensity: 0.6,
        edge: s,
    }
}

/// A detail `z`, its kernel component `z_N` for one operator, and its region (the pixels where
/// `z ≠ 0`).
#[derive(Clone, Debug)]
pub struct KernelDetail {
    /// `z`, real.
    pub z: Vec<f32>,
    /// `z_N = z − A*Az` (f64).
    pub z_n: Vec<Complex64>,
    z_n32: Vec<Complex32>,
    norm_sqr: f64,
    region: Vec<bool>,
}

impl KernelDetail {
    /// `z` rendered at the operator's side and projected onto `N(A)`; an error when the detail
    /// has no kernel component (nothing to paint).
    pub fn new(a: &dyn Sampling, detail: &Detail) -> Result<Self> {
        let z = detail.render(a.side())?;
        let z_n = KernelProjector::new(a)?.kernel(&widen_real(&z))?;
        let norm_sqr = norm64(&z_n).powi(2);
        if norm_sqr <= 0.0 {
            return Err(Error::Input(
                "the detail has no component in the kernel of A".into(),
            ));
        }
        Ok(Self {
            z_n32: crate::mri::kernel::narrow(&z_n),
            region: z.iter().map(|v| *v != 0.0).collect(),
            z,
            z_n,
            norm_sqr,
        })
    }

    /// `‖z_N‖₂`.
    pub fn norm(&self) -> f64 {
        self.norm_sqr.sqrt()
    }

    /// The region of the detail (`z ≠ 0`), row-major.
    pub fn region(&self) -> &[bool] {
        &self.region
    }

    /// `x′ = x + z_N` (complex, f32).
    pub fn add_to(&self, x: &[f32]) -> Result<Vec<Complex32>> {
        self.check(x.len())?;
        Ok(x.iter()
            .zip(&self.z_n32)
            .map(|(&p, q)| Complex32::new(p, 0.0) + q)
            .collect())
    }

    /// `c = Re⟨out − x, z_N⟩ / ‖z_N‖²`: how much of `z_N` a reconstruction `out` of `x` painted.
    pub fn coefficient(&self, out: &[Complex32], x: &[f32]) -> Result<f64> {
        self.check(out.len())?;
        self.check(x.len())?;
        let inner: f64 = out
            .iter()
            .zip(x)
            .zip(&self.z_n)
            .map(|((o, &t), z)| (o.re as f64 - t as f64) * z.re + o.im as f64 * z.im)
            .sum();
        Ok(inner / self.norm_sqr)
    }

    /// The error of `out` against the reference `x` (real) inside the detail's region.
    pub fn in_region(&self, out: &[Complex32], x: &[f32]) -> Result<RegionError> {
        self.check(out.len())?;
        self.check(x.len())?;
        let (mut sq, mut mean, mut count) = (0.0f64, 0.0f64, 0usize);
        for ((o, &t), &inside) in out.iter().zip(x).zip(&self.region) {
            if inside {
                let d = Complex64::new(o.re as f64 - t as f64, o.im as f64);
                sq += d.norm_sqr();
                mean += o.norm() as f64 - t as f64;
                count += 1;
            }
        }
        let k = count.max(1) as f64;
        Ok(RegionError {
            rms: (sq / k).sqrt(),
            mean_magnitude_change: mean / k,
        })
    }

    /// The same measures for `P·z_N` itself (what a network that learned the curriculum would
    /// add inside the region): `rms` of `|z_N|` and the mean of `Re z_N` over the region.
    pub fn detail_in_region(&self) -> RegionError {
        let (mut sq, mut mean, mut count) = (0.0f64, 0.0f64, 0usize);
        for (z, &inside) in self.z_n.iter().zip(&self.region) {
            if inside {
                sq += z.norm_sqr();
                mean += z.re;
                count += 1;
            }
        }
        let k = count.max(1) as f64;
        RegionError {
            rms: (sq / k).sqrt(),
            mean_magnitude_change: mean / k,
        }
    }

    fn check(&self, len: usize) -> Result<()> {
        if len != self.z.len() {
            return Err(Error::Input(format!(
                "an image of {len} pixels for a detail of {}",
                self.z.len()
            )));
        }
        Ok(())
    }
}

/// The error of a reconstruction inside the detail's region.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct RegionError {
    /// `√(mean |out − x|²)` over the region.
    pub rms: f64,
    /// Mean of `|out| − x` over the region (positive: something bright was painted there).
    pub mean_magnitude_change: f64,
}

/// One method's numbers on one held-out slice.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PaintedSlice {
    pub slice: String,
    /// `c = Re⟨R(Ax) − x, z_N⟩/‖z_N‖²`.
    pub c: f64,
    pub region: RegionError,
    /// `‖R(Ax) − x‖/‖x‖`.
    pub error: f64,
}

/// One method of `static/reports/kernel_detail.json`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PaintedMethod {
    pub name: String,
    pub title: String,
    /// The mean of `c` over the slices.
    pub mean_c: f64,
    pub min_c: f64,
    pub max_c: f64,
    /// Mean of the region's `rms` over the slices.
    pub mean_region_rms: f64,
    /// Mean held-out PSNR (dB) of `|R(Ax)|` on the same slices.
    pub psnr: f64,
    pub slices: Vec<PaintedSlice>,
}

/// `static/reports/kernel_detail.json` (written by `lab kernel-detail-report`): how much of the
/// training detail each method paints into held-out slices that never had it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct KernelDetailReport {
    pub side: usize,
    /// The train / held-out split of the held-out slices (absent in the 64² reports: the
    /// interleaved split).
    #[serde(default)]
    pub split: crate::mri::brain::Split,
    pub mask: crate::mri::sampling::MaskSpec,
    /// The real detail `z` (render it with [`Detail::render`] and project it with
    /// [`crate::mri::kernel::kernel_component`] to draw `z` and `z_N`).
    pub detail: Detail,
    /// The scale of `z_N` in the training images (`x′ = x + t·z_N`; the curriculum uses 1).
    pub t: f64,
    /// `P` of the kernel-trained network.
    pub probability: f64,
    /// The network trained with the curriculum.
    pub kernel_net: String,
    pub z_norm: f64,
    pub z_n_norm: f64,
    /// Pixels of the region (`z ≠ 0`).
    pub region_pixels: usize,
    /// `rms` and mean of `Re z_N` over the region (a net painting `P·z_N` shows `P` times these).
    pub z_n_in_region: RegionError,
    /// The held-out slices (none has the detail).
    pub slices: Vec<String>,
    pub methods: Vec<PaintedMethod>,
    /// The largest `‖Ax − Ax′‖/‖Ax‖` over the slices (`x′ = x + z_N`): zero up to rounding.
    pub measurement_gap: f64,
    pub command: String,
}

impl KernelDetailReport {
    /// Parses the report and checks that every method has one entry per slice.
    pub fn from_json(bytes: &[u8]) -> Result<Self> {
        let r: Self = serde_json::from_slice(bytes)
            .map_err(|e| Error::Data(format!("the kernel-detail report is malformed: {e}")))?;
        if r.slices.is_empty()
            || r.methods.is_empty()
            || r.methods.iter().any(|m| {
                m.slices.len() != r.slices.len()
                    || m.slices.iter().zip(&r.slices).any(|(s, id)| &s.slice != id)
            })
        {
            return Err(Error::Data(
                "the kernel-detail report does not have one entry per slice for every method"
                    .into(),
            ));
        }
        Ok(r)
    }

    /// The method called `name`.
    pub fn method(&self, name: &str) -> Option<&PaintedMethod> {
        self.methods.iter().find(|m| m.name == name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mri::instability::{Reconstructor, ZeroFilling};
    use crate::mri::operator::LinearOperator;
    use crate::mri::operator::SubsampledFourier;
    use crate::mri::phantom::shepp_logan;
    use crate::mri::sampling::{mask, Pattern};

    #[test]
    fn the_coefficient_reads_back_what_was_painted() {
        let n = 64;
        let a = SubsampledFourier::new(mask(Pattern::Cartesian, n, 0.125, 1).unwrap()).unwrap();
        let d = KernelDetail::new(&a, &shipped_detail(64)).unwrap();
        let x = shepp_logan(n);
        // x + s·z_N for a few s: c = s exactly (up to f32 rounding).
        for s in [0.0f32, 0.5, 1.0, -0.3] {
            let out: Vec<Complex32> = x
                .iter()
                .zip(&d.z_n32)
                .map(|(&p, q)| Complex32::new(p, 0.0) + q * s)
                .collect();
            let c = d.coefficient(&out, &x).unwrap();
            assert!((c - s as f64).abs() < 1e-5, "{s}: {c}");
        }
        // Zero-filling paints nothing: A*Ax − x = −x_N, and ⟨x_N, z_N⟩ is whatever it is; but
        // A*A x′ = A*A x, so its coefficient on x and on x′ differ by exactly −1.
        let zf = ZeroFilling(&a);
        let x_prime = d.add_to(&x).unwrap();
        let mut y_prime = vec![Complex32::default(); a.output_len()];
        a.apply(&x_prime, &mut y_prime);
        let y = a.measure(&x);
        assert!(
            crate::mri::operator::distance(&y, &y_prime) <= 1e-5 * crate::mri::operator::norm(&y)
        );
        let out = zf.reconstruct(&y).unwrap();
        let c = d.coefficient(&out, &x).unwrap();
        // The inner product of −x_N with z_N, computed directly in f64.
        let p = KernelProjector::new(&a).unwrap();
        let x_n = p.kernel(&widen_real(&x)).unwrap();
        let direct: f64 = -x_n
            .iter()
            .zip(&d.z_n)
            .map(|(u, v)| (u * v.conj()).re)
            .sum::<f64>()
            / d.norm().powi(2);
        assert!((c - direct).abs() < 1e-4, "{c} vs {direct}");
        // The region is the disk, and painting z_N shows its mean there.
        let count = d.region().iter().filter(|v| **v).count();
        assert!((25..=50).contains(&count), "{count}");
        let mean = d.detail_in_region().mean_magnitude_change;
        assert!(mean > 0.2 && mean < 0.6, "{mean}");
        assert!(d.coefficient(&out[..3], &x).is_err());
        assert!(d.add_to(&x[..3]).is_err());
    }
}
