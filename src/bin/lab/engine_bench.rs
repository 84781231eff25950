//! `lab bench-engine`: the CPU and GPU engines on the MRI half's hot paths, measured in the same
//! run (median and p95 of each, their ratio, the largest relative difference of the results).

use crate::median_p95;
use crate::progress::say;
use barriers_lab::classification::classifier::varmap_to_safetensors;
use barriers_lab::engine::gpu::GpuEngine;
use barriers_lab::engine::{CpuEngine, Engine, FirenetInput};
use barriers_lab::mri::instability::{FixedNormSearch, InstabilityTest};
use barriers_lab::mri::learned::cascade::{CascadeNet, CascadeShape};
use barriers_lab::mri::learned::hallucination::NetCard;
use barriers_lab::mri::operator::{distance, norm, random_complex};
use barriers_lab::mri::phantom::shepp_logan;
use barriers_lab::mri::reconstruction::{Experiment, Setup};
use barriers_lab::mri::sampling::Mask;
use candle_core::{DType, Device};
use candle_nn::VarMap;
use rustfft::num_complex::Complex32;
use serde::Serialize;
use std::time::Instant;

/// One benchmark case, as `static/reports/engine.json` lists them.
#[derive(Serialize)]
pub struct Case {
    pub name: String,
    pub side: usize,
    pub cpu_ms: f64,
    pub cpu_p95_ms: f64,
    pub gpu_ms: f64,
    pub gpu_p95_ms: f64,
    pub max_rel_diff: f64,
}

#[derive(Serialize)]
struct Report {
    adapter: String,
    repeats: usize,
    cases: Vec<Case>,
}

fn relative(a: &[Complex32], b: &[Complex32]) -> f64 {
    distance(a, b) / norm(b).max(f64::MIN_POSITIVE)
}

/// Times `f` `repeats` times (after one warm-up run): median and p95 in milliseconds.
fn time(repeats: usize, mut f: impl FnMut() -> anyhow::Result<()>) -> anyhow::Result<(f64, f64)> {
    f()?;
    let mut ms = Vec::with_capacity(repeats);
    for _ in 0..repeats {
        let t = Instant::now();
        f()?;
        ms.push(t.elapsed().as_secs_f64() * 1e3);
    }
    Ok(median_p95(&mut ms))
}

/// FIRENET (5 × 10 layers, db4, the MRI page's default setup) on the Shepp–Logan phantom: `ψ_n`
/// and the time of a run.
fn firenet(
    engine: &dyn Engine,
    side: usize,
    repeats: usize,
) -> anyhow::Result<(Vec<Complex32>, (f64, f64))> {
    let setup = Setup::default();
    let experiment = Experiment::new(engine, shepp_logan(side), side, &setup)?;
    let b = experiment.sparse_sampling()?;
    let input = FirenetInput {
        firenet: &setup.firenet,
        op: &*b,
        y: experiment.measurements(),
        weights: experiment.weights(),
        initial: None,
    };
    let times = time(repeats, || {
        engine.firenet_psi(input)?;
        Ok(())
    })?;
    Ok((engine.firenet_psi(input)?, times))
}

/// The shipped `cascade-12` at 64², and a network of its shape with seeded weights (and biases
/// away from zero) at 128².
fn cascade(side: usize) -> anyhow::Result<(String, CascadeShape, Vec<u8>, Mask)> {
    let card: NetCard =
        serde_json::from_str(&std::fs::read_to_string("static/models/cascade-12.json")?)?;
    if side == card.side {
        let weights = std::fs::read("static/models/cascade-12.safetensors")?;
        return Ok((
            card.name.clone(),
            card.shape.into(),
            weights,
            card.mask.mask(side)?,
        ));
    }
    let shape: CascadeShape = card.shape.into();
    let mask = card.mask.mask(side)?;
    let varmap = VarMap::new();
    CascadeNet::new_seeded(shape, &mask, &varmap, 7, DType::F32, &Device::Cpu)?;
    // Biases away from zero, as a trained network's: with the seeded zero biases the phantom's
    // flat background puts pre-activations at exactly 0, where f32 rounding in either engine
    // decides the ReLU's side and the gradients are not comparable.
    for (name, var) in varmap.data().lock().expect("var map lock").iter() {
        if name.ends_with("bias") {
            let dims = var.as_tensor().dims().to_vec();
            let count: usize = dims.iter().product();
            let values: Vec<f32> = (0..count).map(|i| 0.1 - 0.01 * (i % 20) as f32).collect();
            var.set(&candle_core::Tensor::from_vec(values, dims, &Device::Cpu)?)?;
        }
    }
    Ok((
        "seeded".into(),
        shape,
        varmap_to_safetensors(&varmap)?,
        mask,
    ))
}

/// `lab bench-engine`: prints every case and writes the report to `json` when given.
pub fn bench_engine(repeats: usize, json: Option<&str>) -> anyhow::Result<()> {
    let repeats = repeats.max(3);
    let gpu = GpuEngine::native();
    say!("GPU adapter: {}", gpu.adapter());
    let engines: [&dyn Engine; 2] = [&CpuEngine, &gpu];
    let mut cases = Vec::new();
    let mut report = |name: &str, side: usize, t: [(f64, f64); 2], diff: f64| {
        say!(
            "{name} {side}²: CPU median {:.2} ms p95 {:.2} ms; GPU median {:.2} ms p95 {:.2} ms; CPU/GPU {:.2}×; max relative difference {diff:.1e}",
            t[0].0, t[0].1, t[1].0, t[1].1, t[0].0 / t[1].0
        );
        cases.push(Case {
            name: name.into(),
            side,
            cpu_ms: t[0].0,
            cpu_p95_ms: t[0].1,
            gpu_ms: t[1].0,
            gpu_p95_ms: t[1].1,
            max_rel_diff: diff,
        });
    };
    for side in [128, 256] {
        let mut times = [(0.0, 0.0); 2];
        let mut results = Vec::new();
        for (i, engine) in engines.iter().enumerate() {
            let (psi, t) = firenet(*engine, side, repeats)?;
            times[i] = t;
            results.push(psi);
        }
        report(
            "FIRENET 5×10 db4",
            side,
            times,
            relative(&results[1], &results[0]),
        );
    }
    for side in [64, 128] {
        let (name, shape, weights, mask) = cascade(side)?;
        let x = shepp_logan(side);
        let mut forward = [(0.0, 0.0); 2];
        let mut iteration = [(0.0, 0.0); 2];
        let (mut outputs, mut gradients) = (Vec::new(), Vec::new());
        for (i, engine) in engines.iter().enumerate() {
            let a = engine.sampling(mask.clone())?;
            let net = engine.cascade(&name, shape, &weights, &mask)?;
            let y = a.measure(&x);
            forward[i] = time(repeats, || {
                net.reconstruct(&y)?;
                Ok(())
            })?;
            outputs.push(net.reconstruct(&y)?);
            gradients.push(net.vjp(&y, &random_complex(side * side, 3))?);
            let test = InstabilityTest::new(&*a, &*net, &x)?;
            let mut search = FixedNormSearch::new(&test, 0.02, 1)?;
            iteration[i] = time(repeats, || {
                search.step()?;
                Ok(())
            })?;
        }
        report(
            "cascade forward",
            side,
            forward,
            relative(&outputs[1], &outputs[0]),
        );
        report(
            "search iteration (forward + vjp)",
            side,
            iteration,
            relative(&gradients[1], &gradients[0]),
        );
    }
    if let Some(path) = json {
        let report = Report {
            adapter: gpu.adapter().to_string(),
            repeats,
            cases,
        };
        std::fs::write(path, serde_json::to_string_pretty(&report)? + "\n")?;
        say!("wrote {path}");
    }
    Ok(())
}
