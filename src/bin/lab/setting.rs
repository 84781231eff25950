//! `lab mri-setting`: FIRENET against zero-filling on the held-out 128² slices of the separated
//! split, for every sampling pattern at 15–60% and several FIRENET configurations (the authors'
//! Haar setting with their per-level weights, Haar and Daubechies wavelets with unit weights,
//! λ and depth varied), written to `static/reports/mri_setting.json`: the table from which the
//! 128² setting of the hallucinations experiment is chosen (issue 17; docs/hallucinations.md).

use crate::progress::{say, Progress};
use barriers_lab::mri::brain::{Role, Split};
use barriers_lab::mri::firenet::{sparsity_weights, Firenet};
use barriers_lab::mri::fourier::complexify;
use barriers_lab::mri::metrics::{psnr, ssim};
use barriers_lab::mri::operator::{LinearOperator, SubsampledFourier, WaveletSampling};
use barriers_lab::mri::sampling::{mask, Pattern};
use barriers_lab::mri::wavelet::{max_levels, Wavelet, Wavelet2};
use rustfft::num_complex::Complex32;
use serde::Serialize;

/// The side of the setting.
const SIDE: usize = 128;
/// The rates explored.
const RATES: [f64; 7] = [0.15, 0.2, 0.25, 0.3, 0.4, 0.5, 0.6];
/// The authors' sparsity levels for Haar over 5 levels (coarse to fine), giving the per-level
/// weights `w_j = √(s/s_j)` (Colbrook, Antun & Hansen, PNAS 2022, their AUTOMAP comparison).
const PAPER_SPARSITIES: [f64; 6] = [4.0, 12.0, 48.0, 50.0, 100.0, 100.0];

/// One FIRENET configuration of the table.
#[derive(Clone, Debug, Serialize)]
struct Config {
    name: String,
    wavelet: &'static str,
    levels: usize,
    /// Sparsity levels of the per-level weights; unit weights when absent.
    sparsities: Option<Vec<f64>>,
    lambda: f32,
    blocks: usize,
    layers_per_block: usize,
}

impl Config {
    fn new(wavelet: Wavelet, levels: Option<usize>, lambda: f32, blocks: usize, p: usize) -> Self {
        let levels = levels.unwrap_or_else(|| max_levels(SIDE, wavelet).max(1));
        Self {
            name: format!("{} L{levels} λ={lambda:e} {blocks}×{p}", wavelet.name()),
            wavelet: wavelet.name(),
            levels,
            sparsities: None,
            lambda,
            blocks,
            layers_per_block: p,
        }
    }

    fn all() -> Vec<Self> {
        let mut paper = Self::new(Wavelet::Haar, Some(5), 2.5e-4, 5, 10);
        paper.sparsities = Some(PAPER_SPARSITIES.to_vec());
        paper.name = "authors' (haar L5 weighted λ=2.5e-4 5×10)".into();
        vec![
            paper,
            Self::new(Wavelet::Haar, Some(5), 1e-3, 5, 10),
            Self::new(Wavelet::Db4, None, 3e-4, 5, 10),
            Self::new(Wavelet::Db4, None, 1e-3, 5, 10),
            Self::new(Wavelet::Db4, None, 3e-3, 5, 10),
            Self::new(Wavelet::Db4, None, 1e-3, 8, 15),
            Self::new(Wavelet::Sym4, None, 1e-3, 5, 10),
        ]
    }

    fn firenet(&self) -> Firenet {
        Firenet {
            lambda: self.lambda,
            blocks: self.blocks,
            layers_per_block: self.layers_per_block,
            ..Firenet::default()
        }
    }

    fn wavelet(&self) -> anyhow::Result<Wavelet2> {
        Ok(Wavelet2::new(
            Wavelet::from_name(self.wavelet)?,
            SIDE,
            self.levels,
        )?)
    }

    fn weights(&self, w: &Wavelet2) -> anyhow::Result<Vec<f32>> {
        Ok(match &self.sparsities {
            Some(s) => w.weights(&sparsity_weights(s)?)?,
            None => vec![1.0; SIDE * SIDE],
        })
    }
}

/// Mean quality of one method over the held-out slices.
#[derive(Clone, Copy, Debug, Default, Serialize)]
struct Mean {
    psnr: f64,
    ssim: f64,
    /// The smallest per-slice PSNR gain over zero-filling (FIRENET rows only).
    min_gain: Option<f64>,
}

#[derive(Debug, Serialize)]
struct Row {
    pattern: &'static str,
    rate: f64,
    /// The share of k-space the mask samples.
    measured_rate: f64,
    zero_filled: Mean,
    /// One entry per configuration, in the order of `configs`.
    firenet: Vec<Mean>,
}

#[derive(Serialize)]
struct Report {
    side: usize,
    split: &'static str,
    slices: Vec<String>,
    mask_seed: u64,
    noise: f64,
    configs: Vec<Config>,
    rows: Vec<Row>,
    seconds: f64,
}

fn quality(truth: &[f32], x: &[Complex32]) -> (f64, f64) {
    let m: Vec<f32> = x.iter().map(|z| z.norm()).collect();
    (psnr(truth, &m, 1.0), ssim(truth, &m, SIDE, 1.0))
}

/// Runs the table and writes `out`.
pub fn mri_setting(out: &str) -> anyhow::Result<()> {
    let started = std::time::Instant::now();
    let brain = crate::mri::brain(SIDE)?;
    let ids = brain.slices(Split::Separated, Role::Test);
    let truths: Vec<Vec<f32>> = ids
        .iter()
        .map(|&id| brain.image(id))
        .collect::<Result<_, _>>()?;
    let configs = Config::all();
    let wavelets: Vec<(Wavelet2, Vec<f32>)> = configs
        .iter()
        .map(|c| {
            let w = c.wavelet()?;
            let weights = c.weights(&w)?;
            Ok((w, weights))
        })
        .collect::<anyhow::Result<_>>()?;
    let seed = 1;
    let progress = Progress::new(
        "mri-setting",
        Pattern::ALL.len() * RATES.len() * configs.len() * ids.len(),
    );
    let mut rows = Vec::new();
    for pattern in Pattern::ALL {
        for rate in RATES {
            let m = mask(pattern, SIDE, rate, seed)?;
            let measured_rate = m.rate();
            let a = SubsampledFourier::new(m)?;
            let mut zf = Mean::default();
            let mut zf_psnr = Vec::new();
            let data: Vec<Vec<Complex32>> = truths
                .iter()
                .map(|t| {
                    let x = complexify(t);
                    let mut y = vec![Complex32::default(); a.output_len()];
                    a.apply(&x, &mut y);
                    y
                })
                .collect();
            for (t, y) in truths.iter().zip(&data) {
                let mut x = vec![Complex32::default(); SIDE * SIDE];
                a.adjoint(y, &mut x);
                let (p, s) = quality(t, &x);
                zf.psnr += p / ids.len() as f64;
                zf.ssim += s / ids.len() as f64;
                zf_psnr.push(p);
            }
            let mut firenet = Vec::new();
            for (c, (w, weights)) in configs.iter().zip(&wavelets) {
                let b = WaveletSampling::new(&a, w)?;
                let f = c.firenet();
                let mut mean = Mean {
                    min_gain: Some(f64::INFINITY),
                    ..Mean::default()
                };
                for ((t, y), z) in truths.iter().zip(&data).zip(&zf_psnr) {
                    let psi = f.run(&b, y, weights, None, |_, _| true)?;
                    let mut x = vec![Complex32::default(); SIDE * SIDE];
                    w.inverse_complex(&psi, &mut x);
                    let (p, s) = quality(t, &x);
                    mean.psnr += p / ids.len() as f64;
                    mean.ssim += s / ids.len() as f64;
                    mean.min_gain = mean.min_gain.map(|g| g.min(p - z));
                    progress.inc();
                }
                firenet.push(mean);
            }
            let best = firenet
                .iter()
                .zip(&configs)
                .max_by(|a, b| a.0.psnr.total_cmp(&b.0.psnr))
                .expect("configurations");
            say!(
                "{:<16} {:>4.0}% (measured {:>5.1}%): zero-filled {:.2} dB; best FIRENET {:.2} dB (+{:.2}, min +{:.2}) with {}",
                pattern.name(),
                rate * 100.0,
                measured_rate * 100.0,
                zf.psnr,
                best.0.psnr,
                best.0.psnr - zf.psnr,
                best.0.min_gain.unwrap_or(f64::NAN),
                best.1.name
            );
            rows.push(Row {
                pattern: pattern.name(),
                rate,
                measured_rate,
                zero_filled: zf,
                firenet,
            });
        }
    }
    drop(progress);
    let report = Report {
        side: SIDE,
        split: Split::Separated.name(),
        slices: ids.iter().map(|id| id.to_string()).collect(),
        mask_seed: seed,
        noise: 0.0,
        configs,
        rows,
        seconds: started.elapsed().as_secs_f64(),
    };
    crate::write_json(out, &report)?;
    say!("wrote {out} ({:.0} s)", report.seconds);
    Ok(())
}
