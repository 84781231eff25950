//! More samples can make it worse (Antun, Renna, Poon, Adcock & Hansen, PNAS 2020, the third
//! kind of instability): a trained network Ψ is kept fixed — its weights learned with one
//! sampling pattern — and fed measurements at other rates through nested masks
//! `Ω₁ ⊂ Ω₂ ⊂ …` (its data-consistency layers use the mask actually sampled). A stable method
//! such as FIRENET, or zero-filling, can only gain from more samples; the trained network may
//! lose accuracy away from its training rate.
//!
//! [`quality`] is the held-out measure every reconstruction network of the lab is judged by
//! (mean PSNR and SSIM of zero-filling, FIRENET and the network over the held-out slices); a
//! [`SweepReport`] holds the mean PSNR of each method against the sampling rate
//! (`static/reports/sampling_sweep.json`, written by `lab sampling-sweep`).

use crate::hallucination::{FirenetSetting, HeldOut, MaskSpec};
use crate::instability::Reconstructor;
use crate::metrics::{psnr, ssim};
use crate::operator::SubsampledFourier;
use crate::{Error, Result};
use rustfft::num_complex::Complex32;
use serde::{Deserialize, Serialize};

/// The rates of the default sweep (shares of k-space).
pub const RATES: [f64; 11] = [0.05, 0.075, 0.1, 0.125, 0.15, 0.2, 0.25, 0.3, 0.4, 0.5, 0.6];

fn magnitudes(v: &[Complex32]) -> Vec<f32> {
    v.iter().map(|z| z.norm()).collect()
}

/// Mean PSNR and SSIM of zero-filling `A*y`, FIRENET (the experiment's setting) and `net` on
/// the `side × side` images `test` (noise-free measurements `y = Ax`).
pub fn quality(
    a: &SubsampledFourier,
    net: &dyn Reconstructor,
    test: &[Vec<f32>],
    side: usize,
) -> Result<HeldOut> {
    if test.is_empty() {
        return Err(Error::Input("no images to measure quality on".into()));
    }
    let fire = FirenetSetting::new(side)?;
    let b = fire.sampling(a)?;
    let firenet = fire.reconstructor(&b);
    let mut sums = [0.0f64; 6];
    for x in test {
        let y = a.measure(x);
        let outs = [
            magnitudes(&a.zero_filled(&y)),
            magnitudes(&firenet.reconstruct(&y)?),
            magnitudes(&net.reconstruct(&y)?),
        ];
        for (k, out) in outs.iter().enumerate() {
            sums[k] += psnr(x, out, 1.0);
            sums[3 + k] += ssim(x, out, side, 1.0);
        }
    }
    let k = test.len() as f64;
    Ok(HeldOut {
        slices: test.len(),
        psnr_zero_filled: sums[0] / k,
        psnr_firenet: sums[1] / k,
        psnr_net: sums[2] / k,
        ssim_zero_filled: sums[3] / k,
        ssim_firenet: sums[4] / k,
        ssim_net: sums[5] / k,
    })
}

/// The masks of a sweep: `spec`'s pattern and seed at every rate, nested by construction.
pub fn masks(spec: &MaskSpec, side: usize, rates: &[f64]) -> Result<Vec<crate::sampling::Mask>> {
    rates
        .iter()
        .map(|&rate| MaskSpec { rate, ..*spec }.mask(side))
        .collect()
}

/// One network's mean held-out PSNR at every rate of the sweep.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SweepNet {
    pub name: String,
    /// The rate its weights were trained at.
    pub training_rate: f64,
    pub psnr: Vec<f64>,
}

/// `static/reports/sampling_sweep.json`. Every method sees the same nested masks (the pattern
/// and seed of the networks' cards).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SweepReport {
    /// Requested shares of k-space.
    pub rates: Vec<f64>,
    /// Shares actually sampled (whole lines).
    pub sampled: Vec<f64>,
    pub psnr_zero_filled: Vec<f64>,
    pub psnr_firenet: Vec<f64>,
    pub nets: Vec<SweepNet>,
    /// Held-out slices each mean is taken over.
    pub slices: usize,
    pub side: usize,
    pub mask: MaskSpec,
    pub command: String,
}

impl SweepReport {
    /// Parses and checks the report (every curve has one value per rate).
    pub fn from_json(bytes: &[u8]) -> Result<Self> {
        let r: Self = serde_json::from_slice(bytes)
            .map_err(|e| Error::Data(format!("the sampling sweep is malformed: {e}")))?;
        let n = r.rates.len();
        if n == 0
            || r.sampled.len() != n
            || r.psnr_zero_filled.len() != n
            || r.psnr_firenet.len() != n
            || r.nets.iter().any(|m| m.psnr.len() != n)
        {
            return Err(Error::Data(
                "the sampling sweep's curves do not have one value per rate".into(),
            ));
        }
        Ok(r)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sampling::Pattern;

    #[test]
    fn the_masks_are_nested_and_grow() {
        let spec = MaskSpec {
            pattern: Pattern::Cartesian,
            rate: 0.125,
            seed: 3,
        };
        let ms = masks(&spec, 64, &RATES).unwrap();
        for w in ms.windows(2) {
            let (small, big) = (&w[0], &w[1]);
            assert!(small.count() <= big.count());
            for i in 0..64 * 64 {
                assert!(!small.contains(i) || big.contains(i), "not nested at {i}");
            }
        }
    }

    #[test]
    fn ragged_reports_are_refused() {
        let good = SweepReport {
            rates: vec![0.1, 0.2],
            sampled: vec![0.1, 0.2],
            psnr_zero_filled: vec![15.0, 17.0],
            psnr_firenet: vec![16.0, 19.0],
            nets: vec![SweepNet {
                name: "n".into(),
                training_rate: 0.1,
                psnr: vec![25.0, 24.0],
            }],
            slices: 18,
            side: 64,
            mask: MaskSpec {
                pattern: Pattern::Cartesian,
                rate: 0.1,
                seed: 1,
            },
            command: String::new(),
        };
        let json = serde_json::to_vec(&good).unwrap();
        assert_eq!(SweepReport::from_json(&json).unwrap(), good);
        let mut bad = good;
        bad.nets[0].psnr.pop();
        assert!(SweepReport::from_json(&serde_json::to_vec(&bad).unwrap()).is_err());
    }
}
