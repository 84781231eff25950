//! `lab bench-engine`: the CPU and GPU engines on the MRI half's hot paths, measured in the same
//! run ([`barriers_lab::engine::bench`]: median and p95 of each, their ratio, the largest
//! relative difference of the results), on the first Vulkan adapter.

use crate::progress::say;
use barriers_lab::engine::bench;
use barriers_lab::engine::gpu::GpuEngine;
use barriers_lab::engine::{wait, CpuEngine};
use barriers_lab::mri::learned::hallucination::NetCard;
use std::time::Instant;

/// `lab bench-engine`: prints every case and writes the report to `json` when given.
pub fn bench_engine(repeats: usize, json: Option<&str>) -> anyhow::Result<()> {
    let gpu = GpuEngine::native();
    say!("GPU adapter: {}", gpu.adapter());
    let card: NetCard =
        serde_json::from_str(&std::fs::read_to_string("static/models/cascade-12.json")?)?;
    let weights = std::fs::read("static/models/cascade-12.safetensors")?;
    let origin = Instant::now();
    let now = || origin.elapsed().as_secs_f64() * 1e3;
    let report = wait(bench::run(
        &CpuEngine,
        &gpu,
        gpu.adapter(),
        "native",
        &card,
        &weights,
        repeats,
        &now,
        &mut |case| say!("{}", case.line()),
    ))?;
    if let Some(path) = json {
        std::fs::write(path, serde_json::to_string_pretty(&report)? + "\n")?;
        say!("wrote {path}");
    }
    Ok(())
}
