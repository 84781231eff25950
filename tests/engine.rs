//! One suite for every compute engine (`barriers_lab::engine`): each check is a function of
//! `&dyn Engine`, run against every engine of [`engines`] (the CPU engine, and the GPU engine on
//! the first Vulkan adapter: lavapipe, Mesa's software Vulkan, where there is no GPU). The CPU
//! engine must reproduce the direct CPU calls bit for bit; the GPU engine within [`tolerance`].
//!
//! - the adjoint identity `⟨Ax, y⟩ = ⟨x, A*y⟩` of `A` and `B = A W⁻¹` for several masks at sides
//!   64 and 128;
//! - FIRENET through the engine (run, the stepwise blocks, the vector–Jacobian products) against
//!   the direct calls of `mri::firenet` on a small case;
//! - a seeded deep cascade through the engine (forward and vector–Jacobian product) against
//!   `CascadeNet` itself, and its vector–Jacobian product against central differences.

// The GPU engine's synchronous face (and lavapipe) are native; tests/web_gpu.rs is the browser's.
#![cfg(not(target_arch = "wasm32"))]

use barriers_lab::classification::classifier::varmap_to_safetensors;
use barriers_lab::engine::gpu::GpuEngine;
use barriers_lab::engine::{CpuEngine, Engine, FirenetInput};
use barriers_lab::mri::firenet::Firenet;
use barriers_lab::mri::instability::Reconstructor;
use barriers_lab::mri::learned::cascade::{CascadeNet, CascadeShape};
use barriers_lab::mri::learned::hallucination::NetCard;
use barriers_lab::mri::operator::{
    adjoint_gap, distance, inner_re, norm, random_complex, LinearOperator, SubsampledFourier,
    WaveletSampling,
};
use barriers_lab::mri::phantom::shepp_logan;
use barriers_lab::mri::sampling::{mask, Mask, MaskSpec, Pattern};
use barriers_lab::mri::wavelet::{Wavelet, Wavelet2};
use candle_core::{DType, Device, Tensor};
use candle_nn::VarMap;
use rustfft::num_complex::Complex32;

/// Every engine the suite runs against.
fn engines() -> Vec<Box<dyn Engine>> {
    vec![Box::new(CpuEngine), Box::new(GpuEngine::native())]
}

/// The largest relative distance `‖a − b‖/‖b‖` allowed between an engine's result and the
/// direct CPU call's: none for the CPU engine (the same code), single-precision rounding of a
/// differently ordered computation for any other (the bound for single kernels and
/// small runs; whole experiments at the lectures' scale get [`RUN_TOLERANCE`]).
fn tolerance(engine: &dyn Engine) -> f64 {
    if engine.name() == "cpu" {
        0.0
    } else {
        1e-4
    }
}

fn assert_close(engine: &dyn Engine, what: &str, got: &[Complex32], want: &[Complex32]) {
    assert_eq!(got.len(), want.len(), "{}: {what}: lengths", engine.name());
    let tol = tolerance(engine);
    if tol == 0.0 {
        assert!(
            got == want,
            "{}: {what} differs from the direct call",
            engine.name()
        );
    } else {
        let gap = distance(got, want) / norm(want).max(f64::MIN_POSITIVE);
        assert!(
            gap <= tol,
            "{}: {what}: relative gap {gap:.2e}",
            engine.name()
        );
    }
}

fn adjoint_identity_holds(engine: &dyn Engine) {
    for n in [64, 128] {
        for (k, pattern) in Pattern::ALL.into_iter().enumerate() {
            for rate in [0.1, 0.3] {
                let m = mask(pattern, n, rate, 3 + k as u64).unwrap();
                let a = engine.sampling(m.clone()).unwrap();
                assert_eq!(a.mask(), &m);
                assert_eq!((a.input_len(), a.output_len()), (n * n, m.count()));
                let gap = adjoint_gap(&*a, 11);
                assert!(
                    gap <= 1e-5,
                    "{}: A, {n}², {}: {gap:.2e}",
                    engine.name(),
                    pattern.name()
                );
                // A real image measured and zero-filled as the direct operator does.
                let direct = SubsampledFourier::new(m).unwrap();
                let x = shepp_logan(n);
                let y = a.measure(&x);
                assert_close(engine, "A x", &y, &direct.measure(&x));
                assert_close(engine, "A* y", &a.zero_filled(&y), &direct.zero_filled(&y));
                for w in [Wavelet::Haar, Wavelet::Db4] {
                    let wavelet = Wavelet2::new(w, n, 3).unwrap();
                    let b = engine.wavelet_sampling(&*a, &wavelet).unwrap();
                    let gap = adjoint_gap(&*b, 12);
                    assert!(
                        gap <= 1e-5,
                        "{}: B, {n}², {}: {gap:.2e}",
                        engine.name(),
                        pattern.name()
                    );
                }
            }
        }
    }
    assert!(engine
        .sampling(Mask::from_grid(8, vec![false; 64]).unwrap())
        .is_err());
    let a = engine
        .sampling(mask(Pattern::Cartesian, 64, 0.3, 1).unwrap())
        .unwrap();
    let wrong = Wavelet2::new(Wavelet::Haar, 32, 2).unwrap();
    assert!(engine.wavelet_sampling(&*a, &wrong).is_err());
}

/// The small FIRENET case: 32², Haar, variable density, a few blocks.
struct FirenetCase {
    a: SubsampledFourier,
    wavelet: Wavelet2,
    y: Vec<Complex32>,
    weights: Vec<f32>,
    firenet: Firenet,
}

fn firenet_case() -> FirenetCase {
    let n = 32;
    let a = SubsampledFourier::new(mask(Pattern::VariableDensity, n, 0.3, 2).unwrap()).unwrap();
    let y = a.measure(&shepp_logan(n));
    FirenetCase {
        a,
        wavelet: Wavelet2::new(Wavelet::Haar, n, 3).unwrap(),
        y,
        weights: (0..n * n).map(|i| 1.0 + (i % 3) as f32 * 0.25).collect(),
        firenet: Firenet {
            lambda: 2e-3,
            blocks: 3,
            layers_per_block: 4,
            ..Firenet::default()
        },
    }
}

fn firenet_matches_the_direct_call(engine: &dyn Engine) {
    let c = firenet_case();
    let direct_b = WaveletSampling::new(&c.a, &c.wavelet).unwrap();
    let a = engine.sampling(c.a.mask().clone()).unwrap();
    let b = engine.wavelet_sampling(&*a, &c.wavelet).unwrap();
    let f = &c.firenet;
    // A warm start's ψ₀, and settings FIRENET refuses.
    let psi0 = random_complex(32 * 32, 4);
    let psi0: Vec<Complex32> = psi0.iter().map(|v| v * 0.1).collect();
    let bad = Firenet { blocks: 0, ..*f };
    let input = |firenet, initial| FirenetInput {
        firenet,
        op: &*b,
        y: &c.y,
        weights: &c.weights,
        initial,
    };
    // Run to the end, with every layer's estimate.
    let mut want_layers = Vec::new();
    let want = f
        .run(&direct_b, &c.y, &c.weights, None, |_, e| {
            want_layers.push(e.to_vec());
            true
        })
        .unwrap();
    let mut got_layers = Vec::new();
    let got = engine
        .firenet_run(input(f, None), &mut |_, e: &[Complex32]| {
            got_layers.push(e.to_vec());
            true
        })
        .unwrap();
    assert_close(engine, "ψ_n", &got, &want);
    assert_eq!(got_layers.len(), f.layers());
    for (k, (g, w)) in got_layers.iter().zip(&want_layers).enumerate() {
        assert_close(engine, &format!("layer {}", k + 1), g, w);
    }
    // Block by block, as the worker runs it.
    let mut run = engine.firenet_start(input(f, None), None).unwrap();
    let mut layers = 0;
    while run
        .next_block(&mut |k, _| {
            layers = k;
            true
        })
        .unwrap()
    {
        assert_eq!(run.blocks_done() * f.layers_per_block, layers);
    }
    assert_eq!((run.blocks_done(), layers), (f.blocks, f.layers()));
    assert_close(engine, "ψ after the blocks", run.psi(), &want);
    assert_close(engine, "finished ψ", &run.finish(), &want);
    // A cancelled layer cancels the run.
    let mut run = engine.firenet_start(input(f, None), None).unwrap();
    assert!(matches!(
        run.next_block(&mut |k, _| k < 2),
        Err(barriers_lab::Error::Cancelled)
    ));
    // A warm start with a given ε₀.
    let eps = 0.3 * norm(&c.y) as f32;
    let mut direct = f
        .start_with_epsilon(&direct_b, &c.y, &c.weights, Some(&psi0), eps)
        .unwrap();
    while direct.next_block(|_, _| true).unwrap() {}
    let mut run = engine
        .firenet_start(input(f, Some(&psi0)), Some(eps))
        .unwrap();
    while run.next_block(&mut |_, _| true).unwrap() {}
    assert_close(engine, "warm-started ψ_n", &run.finish(), &direct.finish());
    // The vector–Jacobian products.
    let g = random_complex(32 * 32, 6);
    assert_close(
        engine,
        "FIRENET's gradient in y",
        &engine.firenet_vjp_y(input(f, None), &g).unwrap(),
        &f.vjp(&direct_b, &c.y, &c.weights, &g).unwrap(),
    );
    let got = engine.firenet_vjp(input(f, Some(&psi0)), eps, &g).unwrap();
    let want = f
        .vjp_with_epsilon(&direct_b, &c.y, &c.weights, Some(&psi0), eps, &g)
        .unwrap();
    assert_close(engine, "gradient in y (ε₀ given)", &got.y, &want.y);
    assert_close(engine, "gradient in ψ₀", &got.initial, &want.initial);
    let tol = tolerance(engine).max(f64::MIN_POSITIVE);
    assert!(
        (got.epsilon0 - want.epsilon0).abs() <= tol * want.epsilon0.abs() || got == want,
        "{}: derivative in ε₀ {} vs {}",
        engine.name(),
        got.epsilon0,
        want.epsilon0
    );
    // Bad settings are refused as by the direct call.
    assert!(engine.firenet_start(input(&bad, None), None).is_err());
}

/// A small seeded cascade (16², Cartesian), its weights (with non-zero biases, as in a trained
/// network, so that central differences do not straddle ReLU kinks) and a card that describes it.
fn seeded_cascade() -> (CascadeNet, NetCard, Vec<u8>, Mask) {
    let side = 16;
    let spec = MaskSpec {
        pattern: Pattern::Cartesian,
        rate: 0.3,
        seed: 1,
    };
    let m = spec.mask(side).unwrap();
    let shape = CascadeShape {
        cascades: 2,
        layers: 3,
        channels: 4,
    };
    let varmap = VarMap::new();
    let net = CascadeNet::new_seeded(shape, &m, &varmap, 5, DType::F32, &Device::Cpu).unwrap();
    for (name, var) in varmap.data().lock().unwrap().iter() {
        if name.ends_with("bias") {
            let dims = var.as_tensor().dims().to_vec();
            let count: usize = dims.iter().product();
            let values: Vec<f32> = (0..count).map(|i| 0.1 - 0.03 * i as f32).collect();
            var.set(&Tensor::from_vec(values, dims, &Device::Cpu).unwrap())
                .unwrap();
        }
    }
    let weights = varmap_to_safetensors(&varmap).unwrap();
    // Any shipped card, describing the seeded network instead.
    let mut card: NetCard =
        serde_json::from_str(&std::fs::read_to_string("static/models/cascade-8.json").unwrap())
            .unwrap();
    card.name = "seeded".into();
    card.shape = shape.into();
    card.side = side;
    card.mask = spec;
    (net, card, weights, m)
}

fn cascade_matches_the_direct_call(engine: &dyn Engine) {
    let (net, card, weights, m) = seeded_cascade();
    let side = m.side();
    let psi = engine
        .cascade(&card.name, card.shape.into(), &weights, &m)
        .unwrap();
    let a = engine.sampling(m.clone()).unwrap();
    let x: Vec<f32> = shepp_logan(side)
        .iter()
        .enumerate()
        .map(|(i, v)| v + 0.2 + 0.1 * ((i * 7 % 5) as f32))
        .collect();
    let y = a.measure(&x);
    let out = psi.reconstruct(&y).unwrap();
    assert_close(engine, "Ψ(y)", &out, &net.reconstruct(&y).unwrap());
    let g = random_complex(side * side, 9);
    let grad = psi.vjp(&y, &g).unwrap();
    assert_close(engine, "J_Ψ(y)* g", &grad, &net.vjp(&y, &g).unwrap());
    // Central differences of f(y) = Re⟨Ψ(y), g⟩ along a random direction d, ‖d‖ = ‖y‖. f is
    // piecewise linear (ReLU) with kinks close together: at h = 1e-2 the one-sided slopes differ
    // in sign, from h = 1e-3 down they agree with the gradient (measured on the CPU engine:
    // 1.1073, 1.1650, 1.1662 at h = 1e-3, 3e-4, 1e-4 for 1.1636), and below 1e-4 single-precision
    // rounding takes over.
    let f = |y: &[Complex32]| inner_re(&psi.reconstruct(y).unwrap(), &g);
    let d = random_complex(y.len(), 10);
    let scale = (norm(&y) / norm(&d)) as f32;
    let d: Vec<Complex32> = d.iter().map(|v| v * scale).collect();
    let h = 3e-4f32;
    let step = |s: f32| -> Vec<Complex32> { y.iter().zip(&d).map(|(p, q)| p + q * s).collect() };
    let fd = (f(&step(h)) - f(&step(-h))) / (2.0 * h as f64);
    let exact = inner_re(&grad, &d);
    eprintln!(
        "{}: cascade directional derivative {exact:.6}, central difference {fd:.6}",
        engine.name()
    );
    assert!(
        (fd - exact).abs() <= 1e-2 * exact.abs().max(1e-3),
        "{}: {exact} vs {fd}",
        engine.name()
    );
    // The card's mask or another one: wrong measurement counts are refused.
    assert!(psi.reconstruct(&y[..3]).is_err());
    let other = MaskSpec {
        rate: 0.5,
        ..card.mask
    }
    .mask(side)
    .unwrap();
    let wider = engine
        .cascade(&card.name, card.shape.into(), &weights, &other)
        .unwrap();
    let a2 = engine.sampling(other).unwrap();
    assert_eq!(
        wider.reconstruct(&a2.measure(&x)).unwrap().len(),
        side * side
    );
    assert!(engine
        .cascade(&card.name, card.shape.into(), &weights[..100], &m)
        .is_err());
}

#[test]
fn the_adjoint_identity_holds_on_every_engine() {
    for engine in engines() {
        adjoint_identity_holds(&*engine);
    }
}

#[test]
fn firenet_through_every_engine_matches_the_direct_call() {
    for engine in engines() {
        firenet_matches_the_direct_call(&*engine);
    }
}

#[test]
fn the_cascade_through_every_engine_matches_the_direct_call_and_central_differences() {
    for engine in engines() {
        cascade_matches_the_direct_call(&*engine);
    }
}

/// The largest relative distance between the GPU engine's and the CPU engine's results of a
/// whole experiment (f32 on both, summed in different orders).
const RUN_TOLERANCE: f64 = 1e-3;

fn assert_run_close(what: &str, got: &[Complex32], want: &[Complex32]) {
    let gap = distance(got, want) / norm(want).max(f64::MIN_POSITIVE);
    eprintln!("gpu: {what}: relative gap {gap:.2e}");
    assert!(gap <= RUN_TOLERANCE, "gpu: {what}: relative gap {gap:.2e}");
}

fn complexify(v: &[f32]) -> Vec<Complex32> {
    v.iter().map(|&r| Complex32::new(r, 0.0)).collect()
}

/// FIRENET at the lectures' scale (the MRI page's default setup: variable density at 25 %,
/// 5 × 10 layers) for every wavelet at 64², 128² and 256²: the GPU engine's ψ_n against the CPU
/// engine's.
#[test]
fn firenet_at_the_lectures_scale_is_the_same_on_the_gpu() {
    use barriers_lab::mri::reconstruction::{Experiment, Setup};
    let gpu = GpuEngine::native();
    for side in [64, 128, 256] {
        for wavelet in [Wavelet::Haar, Wavelet::Db4, Wavelet::Sym4] {
            let setup = Setup {
                wavelet,
                ..Setup::default()
            };
            let run = |engine: &dyn Engine| {
                let e = Experiment::new(engine, shepp_logan(side), side, &setup).unwrap();
                e.firenet(&setup.firenet).unwrap()
            };
            let what = format!("FIRENET {side}² {}", wavelet.name());
            assert_run_close(&what, &run(&gpu), &run(&CpuEngine));
        }
    }
}

/// One seeded instability search (fixed norm, a few iterations) through FIRENET and through a
/// seeded cascade, and one point of the sampling sweep with the shipped cascade rebuilt at another
/// rate (zero-filling, FIRENET, the cascade), on both engines.
///
/// The search is not run on a trained cascade here: its vector–Jacobian product is piecewise
/// constant, and f32 rounding in another summation order flips a ReLU or two of its 1.5 million
/// (measured: one flip moves cascade-8's gradient by 2.6e-3, and four steps of cascade-12's search
/// drift apart by 1.8e-2, both engines' searches being valid ascents). FIRENET and the seeded
/// cascade (biases away from the kinks) have no such flips.
#[test]
fn a_search_and_a_sweep_point_are_the_same_on_the_gpu() {
    use barriers_lab::mri::instability::InstabilityTest;
    use barriers_lab::mri::learned::hallucination::FirenetSetting;
    use barriers_lab::mri::learned::sweep::{AtRate, SweepSource};
    let gpu = GpuEngine::native();
    let card: NetCard =
        serde_json::from_str(&std::fs::read_to_string("static/models/cascade-12.json").unwrap())
            .unwrap();
    let weights = std::fs::read("static/models/cascade-12.safetensors").unwrap();
    let side = card.side;
    let m = card.mask.mask(side).unwrap();
    let x = shepp_logan(side);
    let through_firenet = |engine: &dyn Engine| {
        let a = engine.sampling(m.clone()).unwrap();
        let fire = FirenetSetting::new(engine, side).unwrap();
        let b = fire.sampling(&*a).unwrap();
        let psi = fire.reconstructor(&b);
        let test = InstabilityTest::new(&*a, &psi, &x).unwrap();
        test.at_fixed_norm(0.05, 4, 1).unwrap()
    };
    let (seeded, seeded_card, seeded_weights, seeded_mask) = seeded_cascade();
    drop(seeded);
    let seeded_x = shepp_logan(seeded_mask.side());
    let through_seeded = |engine: &dyn Engine| {
        let a = engine.sampling(seeded_mask.clone()).unwrap();
        let net = engine
            .cascade(
                &seeded_card.name,
                seeded_card.shape.into(),
                &seeded_weights,
                &seeded_mask,
            )
            .unwrap();
        let test = InstabilityTest::new(&*a, &*net, &seeded_x).unwrap();
        test.at_fixed_norm(0.05, 4, 1).unwrap()
    };
    for (what, got, want) in [
        (
            "FIRENET",
            through_firenet(&gpu),
            through_firenet(&CpuEngine),
        ),
        (
            "seeded cascade",
            through_seeded(&gpu),
            through_seeded(&CpuEngine),
        ),
    ] {
        assert_run_close(
            &format!("the search's perturbation through {what}"),
            &complexify(&got.r),
            &complexify(&want.r),
        );
        let kappa_gap = (got.kappa - want.kappa).abs() / want.kappa;
        assert!(
            kappa_gap <= RUN_TOLERANCE,
            "{what}: κ {} vs {}",
            got.kappa,
            want.kappa
        );
    }
    // The shipped cascade: its search path is chaotic in f32 (scaling x by one ulp moves the
    // CPU's own r after 4 steps by 2e-2 relative), so the run is compared on what it finds, κ.
    let through_shipped = |engine: &dyn Engine| {
        let a = engine.sampling(m.clone()).unwrap();
        let net = engine
            .cascade(&card.name, card.shape.into(), &weights, &m)
            .unwrap();
        let test = InstabilityTest::new(&*a, &*net, &x).unwrap();
        test.at_fixed_norm(0.05, 4, 1).unwrap().kappa
    };
    let (got, want) = (through_shipped(&gpu), through_shipped(&CpuEngine));
    let kappa_gap = (got - want).abs() / want;
    println!("the shipped cascade's search: κ {got} vs {want}, relative gap {kappa_gap:.1e}");
    assert!(
        kappa_gap <= RUN_TOLERANCE,
        "shipped cascade: κ {got} vs {want}"
    );
    let source = [SweepSource {
        card: &card,
        weights: &weights,
    }];
    let point = |engine: &dyn Engine| {
        let at = AtRate::new(engine, &card.mask, side, 0.15, &source).unwrap();
        let fire = FirenetSetting::new(engine, side).unwrap();
        at.reconstruct(&fire, &x).unwrap()
    };
    let (got, want) = (point(&gpu), point(&CpuEngine));
    for (method, (g, w)) in ["zero-filled", "FIRENET", "cascade"]
        .iter()
        .zip(got.iter().zip(&want))
    {
        assert_run_close(
            &format!("sweep point at 15 %: {method}"),
            &complexify(g),
            &complexify(w),
        );
    }
}

/// The shipped browser benchmark (`scripts/bench-engine.sh` writes it): the six cases, both
/// engines timed, every result within 1e-3 of the CPU's.
#[test]
fn the_shipped_engine_report_has_every_case_within_tolerance() {
    use barriers_lab::engine::bench::EngineReport;
    let report: EngineReport =
        serde_json::from_str(&std::fs::read_to_string("static/reports/engine.json").unwrap())
            .unwrap();
    assert_eq!(report.host, "browser");
    assert!(!report.adapter.is_empty());
    let cases: Vec<(&str, usize)> = report
        .cases
        .iter()
        .map(|c| (c.name.as_str(), c.side))
        .collect();
    for want in [
        ("FIRENET 5×10 db4", 128),
        ("FIRENET 5×10 db4", 256),
        ("cascade forward", 64),
        ("cascade forward", 128),
        ("search iteration (forward + vjp)", 64),
        ("search iteration (forward + vjp)", 128),
    ] {
        assert!(cases.contains(&want), "{want:?} missing from {cases:?}");
    }
    for c in &report.cases {
        assert!(c.cpu_ms > 0.0 && c.gpu_ms > 0.0, "{}", c.line());
        assert!(c.max_rel_diff <= RUN_TOLERANCE, "{}", c.line());
    }
}
