//! The MRI commands of `lab`: FIRENET's measured properties (`firenet-report`, written to
//! `static/reports/firenet.json`) and its speed (`bench-firenet`).

use crate::median_p95;
use crate::progress::say;
use barriers_lab::mri::brain::BrainSlices;
use barriers_lab::mri::firenet::Firenet;
use barriers_lab::mri::fourier::complexify;
use barriers_lab::mri::operator::{
    distance, noise_like, norm, LinearOperator, SubsampledFourier, WaveletSampling,
};
use barriers_lab::mri::phantom::wavelet_sparse;
use barriers_lab::mri::reconstruction::{Experiment, Setup};
use barriers_lab::mri::sampling::{mask, Pattern};
use barriers_lab::mri::wavelet::{Wavelet, Wavelet2};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rustfft::num_complex::Complex32;
use std::time::Instant;

/// The brain slices of one side from `static/data/mri`.
pub fn brain(side: usize) -> anyhow::Result<BrainSlices> {
    let path = format!("static/data/mri/brain-{side}.safetensors");
    Ok(BrainSlices::from_safetensors(&std::fs::read(&path)?)?)
}

/// FIRENET's image `W⁻¹ψ` from data `y`.
fn reconstruct(
    firenet: &Firenet,
    b: &dyn LinearOperator,
    w: &Wavelet2,
    y: &[Complex32],
    weights: &[f32],
) -> anyhow::Result<Vec<Complex32>> {
    let psi = firenet.run(b, y, weights, None, |_, _| true)?;
    let mut x = vec![Complex32::default(); psi.len()];
    w.inverse_complex(&psi, &mut x);
    Ok(x)
}

/// Measures exact recovery, the noise constant, the Lipschitz-type ratio and held-out PSNR, and
/// writes `static/reports/firenet.json`.
pub fn firenet_report() -> anyhow::Result<()> {
    let started = Instant::now();
    // 1. Exact recovery of a Haar-sparse image from 45% variable-density samples.
    let n = 64;
    let w = Wavelet2::new(Wavelet::Haar, n, 4)?;
    let x = complexify(&wavelet_sparse(&w, 11));
    let a = SubsampledFourier::new(mask(Pattern::VariableDensity, n, 0.45, 3)?)?;
    let b = WaveletSampling::new(&a, &w)?;
    let weights = vec![1.0f32; n * n];
    let mut y = vec![Complex32::default(); a.output_len()];
    a.apply(&x, &mut y);
    let exact = Firenet {
        lambda: 5e-3,
        blocks: 15,
        layers_per_block: 10,
        ..Firenet::default()
    };
    let xn = norm(&x);
    let mut block_errors = Vec::new();
    let psi = exact.run(&b, &y, &weights, None, |layer, estimate| {
        if layer % exact.layers_per_block == 0 {
            let mut image = vec![Complex32::default(); n * n];
            w.inverse_complex(estimate, &mut image);
            block_errors.push(distance(&image, &x) / xn);
        }
        true
    })?;
    let mut recovered = vec![Complex32::default(); n * n];
    w.inverse_complex(&psi, &mut recovered);
    let exact_error = distance(&recovered, &x) / xn;
    say!("exact recovery (64², Haar-sparse, 45% variable density, λ = 5e-3, n = 15, p = 10):");
    for (k, e) in block_errors.iter().enumerate() {
        say!("  block {:>2}: relative error {e:.3e}", k + 1);
    }

    // 2. Noise: ‖Φ(y + e) − x‖ = O(‖e‖).
    let mut noise_rows = Vec::new();
    let mut noise_constant: f64 = 0.0;
    for (k, level) in [1e-3, 3e-3, 1e-2, 3e-2, 1e-1].into_iter().enumerate() {
        let e = noise_like(&y, level, 100 + k as u64)?;
        let noisy: Vec<Complex32> = y.iter().zip(&e).map(|(a, b)| a + b).collect();
        let out = reconstruct(&exact, &b, &w, &noisy, &weights)?;
        let error = distance(&out, &x);
        let c = error / norm(&e);
        noise_constant = noise_constant.max(c);
        say!("  noise ‖e‖/‖y‖ = {level:.0e}: ‖Φ(y + e) − x‖ = {error:.3e} = {c:.2}·‖e‖");
        noise_rows.push(serde_json::json!({ "relative_noise": level, "noise_norm": norm(&e), "error": error, "constant": c }));
    }

    // 3. Lipschitz-type ratio at the lab's default setting on a held-out brain slice.
    let slices = brain(128)?;
    let id = slices.test_slices()[4];
    let setup = Setup::default();
    let experiment = Experiment::new(
        &barriers_lab::engine::CpuEngine,
        slices.image(id)?,
        128,
        &setup,
    )?;
    let bb = experiment.sparse_sampling()?;
    let yb = experiment.measurements().to_vec();
    let wb = experiment.wavelet();
    let base = reconstruct(&setup.firenet, &bb, wb, &yb, experiment.weights())?;
    let scale = 1e-2 * norm(&yb);
    let ratio = |e: &[Complex32]| -> anyhow::Result<f64> {
        let perturbed: Vec<Complex32> = yb.iter().zip(e).map(|(a, b)| a + b).collect();
        let out = reconstruct(&setup.firenet, &bb, wb, &perturbed, experiment.weights())?;
        Ok(distance(&out, &base) / norm(e))
    };
    let normalise = |v: Vec<Complex32>| -> Vec<Complex32> {
        let s = (scale / norm(&v).max(f64::MIN_POSITIVE)) as f32;
        v.into_iter().map(|z| z * s).collect()
    };
    let mut random_max: f64 = 0.0;
    let mut best = (0.0, Vec::new());
    for t in 0..20 {
        let e = noise_like(&yb, 1e-2, 1000 + t)?;
        let r = ratio(&e)?;
        random_max = random_max.max(r);
        if r > best.0 {
            best = (r, e);
        }
    }
    // Adversarial: power iteration e ← A(Φ(y + e) − Φ(y)) (A maps the output change back to
    // data space), then a seeded hill climb around the best direction found.
    let mut adversarial_max = best.0;
    let mut e = best.1.clone();
    for _ in 0..15 {
        let perturbed: Vec<Complex32> = yb.iter().zip(&e).map(|(a, b)| a + b).collect();
        let out = reconstruct(&setup.firenet, &bb, wb, &perturbed, experiment.weights())?;
        let change: Vec<Complex32> = out.iter().zip(&base).map(|(p, q)| p - q).collect();
        let mut back = vec![Complex32::default(); yb.len()];
        experiment.sampling().apply(&change, &mut back);
        e = normalise(back);
        let r = ratio(&e)?;
        if r > adversarial_max {
            adversarial_max = r;
            best = (r, e.clone());
        }
    }
    let mut rng = ChaCha8Rng::seed_from_u64(77);
    for _ in 0..15 {
        let step: Vec<Complex32> = best
            .1
            .iter()
            .map(|z| {
                z + Complex32::new(rng.random_range(-1.0..1.0), rng.random_range(-1.0..1.0))
                    * (0.3 * scale as f32 / (yb.len() as f32).sqrt())
            })
            .collect();
        let candidate = normalise(step);
        let r = ratio(&candidate)?;
        if r > best.0 {
            best = (r, candidate);
        }
    }
    adversarial_max = adversarial_max.max(best.0);
    let lipschitz = random_max.max(adversarial_max);
    say!(
        "Lipschitz-type ratio ‖Φ(y + e) − Φ(y)‖/‖e‖ at ‖e‖ = 1% of ‖y‖ (brain slice {id}, defaults): \
         random max {random_max:.3}, adversarial max {adversarial_max:.3}"
    );

    // 4. Held-out PSNR at the default rate, per pattern.
    let mut psnr = serde_json::Map::new();
    for pattern in Pattern::ALL {
        let setup = Setup {
            pattern,
            ..Setup::default()
        };
        let (mut zf, mut fi, mut count) = (0.0, 0.0, 0);
        for id in slices.test_slices() {
            let e = Experiment::new(
                &barriers_lab::engine::CpuEngine,
                slices.image(id)?,
                128,
                &setup,
            )?;
            zf += e.quality(&e.zero_filled()).psnr.unwrap_or(f64::INFINITY);
            fi += e
                .quality(&e.firenet(&setup.firenet)?)
                .psnr
                .unwrap_or(f64::INFINITY);
            count += 1;
        }
        let (zf, fi) = (zf / count as f64, fi / count as f64);
        say!(
            "held-out mean PSNR, {} at 25% ({count} slices, 128²): zero-filled {zf:.2} dB, FIRENET {fi:.2} dB (+{:.2})",
            pattern.title(),
            fi - zf
        );
        psnr.insert(
            pattern.name().into(),
            serde_json::json!({ "zero_filled": zf, "firenet": fi, "slices": count }),
        );
    }

    let report = serde_json::json!({
        "command": "cargo run --release --bin lab -- firenet-report",
        "exact_recovery_rel_error": exact_error,
        "exact_recovery": {
            "image": "64x64, exactly sparse in 4-level Haar (phantom::wavelet_sparse, seed 11)",
            "sampling": "variable density, 45%",
            "lambda": exact.lambda, "blocks": exact.blocks, "layers_per_block": exact.layers_per_block,
            "block_rel_errors": block_errors,
        },
        "noise_constant": noise_constant,
        "noise": noise_rows,
        "max_lipschitz_ratio": lipschitz,
        "lipschitz": {
            "setting": format!("128x128 held-out brain slice {id}, variable density 25%, db4, lambda 1e-3, n = 5, p = 10"),
            "perturbation_norm": "1% of ||y||",
            "random_trials": 20, "random_max": random_max,
            "adversarial": "15 steps of power iteration e <- A(Phi(y + e) - Phi(y)) and 15 seeded hill-climbing steps",
            "adversarial_max": adversarial_max,
        },
        "held_out_psnr": psnr,
        "default_settings": {
            "side": 128, "rate": setup.rate, "wavelet": "db4", "lambda": setup.firenet.lambda,
            "blocks": setup.firenet.blocks, "layers_per_block": setup.firenet.layers_per_block,
        },
    });
    crate::write_json("static/reports/firenet.json", &report)?;
    say!(
        "wrote static/reports/firenet.json ({:.0} s)",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// FIRENET (n = 5, p = 10, db4, 25% variable density) per held-out slice at 128² and 256², and
/// one `A`/`A*` pair. Prints `native firenet <side> median … ms p95 … ms`.
pub fn bench_firenet(repeats: usize) -> anyhow::Result<()> {
    say!("FIRENET (n = 5, p = 10, db4, 25% variable density), natively, one thread:");
    for side in [128, 256] {
        let slices = brain(side)?;
        let setup = Setup::default();
        let mut times = Vec::new();
        for id in slices.test_slices() {
            let e = Experiment::new(
                &barriers_lab::engine::CpuEngine,
                slices.image(id)?,
                side,
                &setup,
            )?;
            for _ in 0..repeats {
                let start = Instant::now();
                e.firenet(&setup.firenet)?;
                times.push(start.elapsed().as_secs_f64() * 1e3);
            }
        }
        let (median, p95) = median_p95(&times);
        let a = SubsampledFourier::new(mask(Pattern::VariableDensity, side, 0.25, 1)?)?;
        let x = complexify(&slices.image(slices.test_slices()[0])?);
        let (mut y, mut back) = (
            vec![Complex32::default(); a.output_len()],
            vec![Complex32::default(); a.input_len()],
        );
        let mut pair = Vec::new();
        for _ in 0..200 {
            let start = Instant::now();
            a.apply(&x, &mut y);
            a.adjoint(&y, &mut back);
            pair.push(start.elapsed().as_secs_f64() * 1e3);
        }
        let (pair_median, pair_p95) = median_p95(&pair);
        say!(
            "native firenet {side} median {median:.2} ms p95 {p95:.2} ms ({} runs); A and A* pair median {pair_median:.3} ms p95 {pair_p95:.3} ms",
            times.len()
        );
    }
    Ok(())
}
