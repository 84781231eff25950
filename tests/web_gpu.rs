//! The GPU engine in the browser (wasm-bindgen-test in headless Chromium), run twice by
//! `scripts/test.sh`:
//!
//! - `BARRIERS_WEBGPU=adapter` with `--enable-unsafe-webgpu` (`tests/web_support/webgpu.json`):
//!   SwiftShader's WebGPU adapter must be there, and the GPU kernels and whole FIRENET runs and
//!   cascade passes must equal the CPU engine's (≤ 1e-4 relative for single kernels, ≤ 1e-3 for
//!   whole runs);
//! - `BARRIERS_WEBGPU=none` without the flag: there must be no adapter, so that the worker keeps
//!   the CPU engine (the lab a student without WebGPU sees).
//!
//! The variable is read at compile time (`option_env!`), so each run is built for what it
//! expects and neither can pass by finding the other's browser.
#![cfg(target_arch = "wasm32")]

use barriers_lab::engine::gpu::cascade::GpuCascade;
use barriers_lab::engine::gpu::firenet::{firenet_vjp, GpuFirenetRun};
use barriers_lab::engine::gpu::operator::{apply_to, GpuOperator};
use barriers_lab::engine::gpu::sampling::GpuSampling;
use barriers_lab::engine::gpu::wavelet::{GpuWavelet2, GpuWaveletSampling};
use barriers_lab::engine::gpu::GpuContext;
use barriers_lab::mri::firenet::Firenet;
use barriers_lab::mri::instability::Reconstructor;
use barriers_lab::mri::learned::hallucination::NetCard;
use barriers_lab::mri::operator::{
    distance, norm, random_complex, LinearOperator, SubsampledFourier, WaveletSampling,
};
use barriers_lab::mri::phantom::shepp_logan;
use barriers_lab::mri::reconstruction::{Experiment, Setup};
use barriers_lab::mri::sampling::{mask, Pattern};
use barriers_lab::mri::wavelet::{Wavelet, Wavelet2};
use rustfft::num_complex::Complex32;
use std::rc::Rc;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

/// What this build expects of the browser: "adapter" or "none".
const EXPECT: Option<&str> = option_env!("BARRIERS_WEBGPU");

/// The adapter's device when this build expects one (`None` otherwise).
async fn context() -> Option<Rc<GpuContext>> {
    let ctx = GpuContext::request().await.expect("requesting WebGPU");
    match EXPECT {
        Some("adapter") => Some(Rc::new(
            ctx.expect("no WebGPU adapter: Chromium must run with --enable-unsafe-webgpu"),
        )),
        Some("none") => {
            assert!(ctx.is_none(), "a WebGPU adapter where none was expected");
            None
        }
        other => panic!("build with BARRIERS_WEBGPU=adapter or none (got {other:?})"),
    }
}

fn relative(got: &[Complex32], want: &[Complex32]) -> f64 {
    assert_eq!(got.len(), want.len());
    distance(got, want) / norm(want).max(f64::MIN_POSITIVE)
}

fn check(what: &str, got: &[Complex32], want: &[Complex32], tolerance: f64) {
    let gap = relative(got, want);
    web_sys::console::log_1(&format!("webgpu: {what}: relative gap {gap:.2e}").into());
    assert!(
        gap <= tolerance,
        "{what}: relative gap {gap:.2e} > {tolerance:.0e}"
    );
}

/// `op x` or `op* x` on the GPU.
async fn run_op(
    ctx: &GpuContext,
    op: &dyn GpuOperator,
    x: &[Complex32],
    adjoint: bool,
) -> Vec<Complex32> {
    apply_to(ctx, op, x, adjoint).await.unwrap()
}

#[wasm_bindgen_test]
async fn the_adapter_is_there_exactly_when_expected() {
    if let Some(ctx) = context().await {
        assert!(!ctx.adapter().is_empty());
        ctx.check().unwrap();
    }
}

#[wasm_bindgen_test]
async fn sampling_and_wavelet_kernels_match_the_cpu() {
    let Some(ctx) = context().await else { return };
    for n in [64, 128] {
        let m = mask(Pattern::VariableDensity, n, 0.25, 3).unwrap();
        let cpu = SubsampledFourier::new(m.clone()).unwrap();
        let gpu = Rc::new(GpuSampling::new(&ctx, m).unwrap());
        let x = random_complex(n * n, 1);
        let mut want = vec![Complex32::default(); cpu.output_len()];
        cpu.apply(&x, &mut want);
        check(
            &format!("A at {n}²"),
            &run_op(&ctx, &*gpu, &x, false).await,
            &want,
            1e-4,
        );
        let y = random_complex(cpu.output_len(), 2);
        let mut want = vec![Complex32::default(); n * n];
        cpu.adjoint(&y, &mut want);
        check(
            &format!("A* at {n}²"),
            &run_op(&ctx, &*gpu, &y, true).await,
            &want,
            1e-4,
        );
        for w in [Wavelet::Haar, Wavelet::Db4, Wavelet::Sym4] {
            let wavelet = Wavelet2::new(w, n, 3).unwrap();
            let direct = WaveletSampling::new(&cpu, &wavelet).unwrap();
            let b =
                GpuWaveletSampling::new(Rc::clone(&gpu), GpuWavelet2::new(&ctx, &wavelet).unwrap())
                    .unwrap();
            let mut want = vec![Complex32::default(); cpu.output_len()];
            direct.apply(&x, &mut want);
            let what = format!("B = A W⁻¹ at {n}², {}", w.name());
            check(&what, &run_op(&ctx, &b, &x, false).await, &want, 1e-4);
            let mut want = vec![Complex32::default(); n * n];
            direct.adjoint(&y, &mut want);
            let what = format!("B* at {n}², {}", w.name());
            check(&what, &run_op(&ctx, &b, &y, true).await, &want, 1e-4);
        }
    }
}

/// FIRENET (the MRI page's default setup, 5 × 10 layers) at 64², 128² and 256² for every
/// wavelet, and its vector–Jacobian product at 64².
#[wasm_bindgen_test]
async fn firenet_runs_match_the_cpu() {
    let Some(ctx) = context().await else { return };
    for side in [64, 128, 256] {
        for wavelet in [Wavelet::Haar, Wavelet::Db4, Wavelet::Sym4] {
            let setup = Setup {
                wavelet,
                ..Setup::default()
            };
            let e = Experiment::new(
                &barriers_lab::engine::CpuEngine,
                shepp_logan(side),
                side,
                &setup,
            )
            .unwrap();
            let cpu_b = e.sparse_sampling().unwrap();
            let firenet: Firenet = setup.firenet;
            let want = firenet
                .run(&*cpu_b, e.measurements(), e.weights(), None, |_, _| true)
                .unwrap();
            let a = Rc::new(GpuSampling::new(&ctx, e.sampling().mask().clone()).unwrap());
            let b =
                GpuWaveletSampling::new(a, GpuWavelet2::new(&ctx, e.wavelet()).unwrap()).unwrap();
            let eps = norm(e.measurements()) as f32;
            let mut run =
                GpuFirenetRun::start(&ctx, &b, &firenet, e.measurements(), e.weights(), None, eps)
                    .unwrap();
            while run.next_block(None).await.unwrap() {}
            let got = run.psi().await.unwrap();
            check(
                &format!("FIRENET {side}² {}", wavelet.name()),
                &got,
                &want,
                1e-3,
            );
            if side == 64 && wavelet == Wavelet::Db4 {
                let g = random_complex(side * side, 7);
                let want = firenet
                    .vjp_with_epsilon(&*cpu_b, e.measurements(), e.weights(), None, eps, &g)
                    .unwrap();
                let got = firenet_vjp(
                    &ctx,
                    &b,
                    &firenet,
                    e.measurements(),
                    e.weights(),
                    None,
                    eps,
                    &g,
                )
                .await
                .unwrap();
                check("FIRENET's gradient in y at 64²", &got.y, &want.y, 1e-3);
            }
        }
    }
}

/// The shipped cascade (64²): forward pass and vector–Jacobian product.
#[wasm_bindgen_test]
async fn the_cascade_matches_the_cpu() {
    let Some(ctx) = context().await else { return };
    let card: NetCard =
        serde_json::from_slice(include_bytes!("../static/models/cascade-12.json")).unwrap();
    let weights: &[u8] = include_bytes!("../static/models/cascade-12.safetensors");
    let (cpu, m) = card.load(weights).unwrap();
    let gpu =
        GpuCascade::from_safetensors(&ctx, &card.name, card.shape.into(), weights, &m).unwrap();
    let a = SubsampledFourier::new(m).unwrap();
    let y = barriers_lab::mri::operator::Sampling::measure(&a, &shepp_logan(card.side));
    let want = cpu.reconstruct(&y).unwrap();
    check("cascade Ψ(y)", &gpu.forward(&y).await.unwrap(), &want, 1e-3);
    let g = random_complex(card.side * card.side, 9);
    let want = cpu.vjp(&y, &g).unwrap();
    check(
        "cascade J_Ψ(y)* g",
        &gpu.backward(&y, &g).await.unwrap(),
        &want,
        1e-3,
    );
}

/// The worker's path: the engine seam's asynchronous faces on the GPU engine — the fixed-norm
/// instability search through the shipped cascade (the worst case's `κ`: the search's path
/// itself is chaotic in `f32`, on one engine too — scaling `x` by one ulp moves the CPU's `r`
/// after 4 steps by 2e-2 relative, and its `κ` by 5e-4; `docs/testing.md`), FIRENET's
/// vector–Jacobian product in the search (with the CPU's cotangent: see
/// `barriers_lab::engine::bench` for why), the cascade followed by FIRENET, and a point of the
/// sampling sweep — answer what the CPU engine answers; the synchronous faces, which a browser
/// cannot wait for, answer with an error.
#[wasm_bindgen_test]
async fn the_engine_seam_answers_asynchronously_like_the_cpu() {
    use barriers_lab::engine::gpu::GpuEngine;
    use barriers_lab::engine::{CpuEngine, Engine};
    use barriers_lab::mri::instability::{FixedNormSearch, InstabilityTest};
    use barriers_lab::mri::learned::hallucination::FirenetSetting;
    use barriers_lab::mri::learned::sweep::{common_mask, AtRate, SweepSource};
    use barriers_lab::mri::learned::warm_start::WarmStart;
    if context().await.is_none() {
        return;
    }
    let gpu = GpuEngine::request().await.unwrap().unwrap();
    let card: NetCard =
        serde_json::from_slice(include_bytes!("../static/models/cascade-12.json")).unwrap();
    let weights: &[u8] = include_bytes!("../static/models/cascade-12.safetensors");
    let side = card.side;
    let x = shepp_logan(side);
    let sources = [SweepSource {
        card: &card,
        weights,
    }];
    let spec = common_mask(&sources, side).unwrap();
    let mut answers = Vec::new();
    let mut cotangent: Option<(Vec<Complex32>, Vec<Complex32>)> = None;
    for engine in [&CpuEngine as &dyn Engine, &gpu] {
        let mask = card.mask.mask(side).unwrap();
        let net = engine
            .cascade(&card.name, card.shape.into(), weights, &mask)
            .unwrap();
        let a = engine.sampling(mask).unwrap();
        let fire = FirenetSetting::new(engine, side).unwrap();
        let b = fire.sampling(&*a).unwrap();
        let firenet = fire.reconstructor(&*b);
        let warm = WarmStart::new(&*net, &fire, &*b);
        let test = InstabilityTest::new_async(&*a, &*net, &x).await.unwrap();
        let mut search = FixedNormSearch::new_async(&test, 0.05, 1).await.unwrap();
        for _ in 0..4 {
            assert!(search.step_async().await.unwrap());
        }
        let r = search.best.r.clone();
        let (y_r, d) = cotangent.get_or_insert_with(|| {
            let on_firenet = InstabilityTest::new(&*a, &firenet, &x).unwrap();
            let xr: Vec<f32> = x.iter().zip(&r).map(|(p, q)| p + q).collect();
            (a.measure(&xr), on_firenet.change(&r).unwrap())
        });
        let gradient = firenet.vjp_async(y_r, d).await.unwrap();
        let y = a.measure(&x);
        let warm_out = warm.reconstruct_async(&y).await.unwrap();
        let at = AtRate::new(engine, &spec, side, 0.3, &sources).unwrap();
        let sweep: Vec<f32> = at.reconstruct_async(&fire, &x).await.unwrap().concat();
        if engine.name() == "gpu" {
            let e = net.reconstruct(&y).unwrap_err();
            assert!(e.to_string().contains("asynchronously"), "{e}");
        }
        answers.push((search.best.kappa, r, gradient, warm_out, sweep));
    }
    let (cpu, gpu) = (&answers[0], &answers[1]);
    let reals = |v: &[f32]| {
        v.iter()
            .map(|&r| Complex32::new(r, 0.0))
            .collect::<Vec<_>>()
    };
    web_sys::console::log_1(
        &format!(
            "webgpu: the search's κ: GPU {} CPU {}, relative gap {:.2e}",
            gpu.0,
            cpu.0,
            ((gpu.0 - cpu.0) / cpu.0).abs()
        )
        .into(),
    );
    assert!(
        ((gpu.0 - cpu.0) / cpu.0).abs() <= 1e-3,
        "κ after 4 search steps: GPU {} CPU {}",
        gpu.0,
        cpu.0
    );
    web_sys::console::log_1(
        &format!(
            "webgpu: the search's r after 4 steps: relative gap {:.2e} (not compared)",
            relative(&reals(&gpu.1), &reals(&cpu.1))
        )
        .into(),
    );
    check("FIRENET's J* d in the search", &gpu.2, &cpu.2, 1e-3);
    check("Ψ → FIRENET", &gpu.3, &cpu.3, 1e-3);
    check("a sweep point", &reals(&gpu.4), &reals(&cpu.4), 1e-3);
}
