//! Structural perturbations on the shipped models: the stroke the end-to-end test draws flips the
//! label it says it flips, the demo digit's smallest patch, and (ignored; run with
//! `cargo test --release --test structural -- --ignored --nocapture`) the patch search's native
//! timings per model.
#![cfg(not(target_arch = "wasm32"))]

use barriers_lab::classification::attack::Model;
use barriers_lab::classification::classifier::{Architecture, Classifier};
use barriers_lab::classification::inference::Network;
use barriers_lab::classification::mnist::{Digits, SIDE};
use barriers_lab::classification::structural::{measure, smallest_patch, stroke, Tool};
use candle_core::{DType, Device};

fn held_out() -> Digits {
    Digits::from_safetensors(&std::fs::read("static/data/mnist-heldout.safetensors").unwrap())
        .unwrap()
}

fn network(arch: Architecture) -> Option<Network> {
    let bytes = std::fs::read(format!("static/models/{}.safetensors", arch.name())).ok()?;
    let c = Classifier::from_safetensors(arch, &bytes, DType::F32, &Device::Cpu).unwrap();
    Some(Network::from_classifier(&c).unwrap())
}

fn label(n: &Network, x: &[f32]) -> usize {
    n.label(&x.iter().map(|&v| v as f64).collect::<Vec<_>>())
        .unwrap()
}

/// A stroke given in fractions of the canvas, as a pointer would draw it.
fn draw(x: &[f32], from: (f32, f32), to: (f32, f32), radius: f32) -> Vec<f32> {
    let s = SIDE as f32;
    let mut y = x.to_vec();
    stroke(
        &mut y,
        (from.0 * s, from.1 * s),
        (to.0 * s, to.1 * s),
        radius,
        Tool::Ink,
    )
    .unwrap();
    y
}

/// The end-to-end test's stroke: on held-out digit 164 (a 7), a horizontal brush stroke of radius 1
/// (the editor's default) from (0.2, 0.5) to (0.8, 0.5) of the canvas crosses the 7, and the CNN
/// calls the crossed 7 a 9. The flip survives where a pointer may land: the line a little higher
/// or lower, a wider brush, and pointer positions rounded to whole screen pixels (a 392-pixel
/// canvas, 14 screen pixels per image pixel) along the way. Every shipped model flips too.
#[test]
fn the_e2e_stroke_crosses_a_seven_into_a_nine() {
    let digits = held_out();
    let net = network(Architecture::Cnn).unwrap();
    let x = digits.image(164);
    assert_eq!(digits.label(164), 7);
    assert_eq!(label(&net, &x), 7);
    for y in [0.45f32, 0.48, 0.5, 0.52, 0.55] {
        for r in [1.0f32, 1.25, 1.5] {
            assert_eq!(
                label(&net, &draw(&x, (0.2, y), (0.8, y), r)),
                9,
                "y {y}, r {r}"
            );
        }
    }
    // As the page sees it: a pointer-down, then twelve moves, at whole screen pixels.
    let screen = 392.0f32;
    let at = |f: f32| (f * screen).round() / screen * SIDE as f32;
    let points: Vec<(f32, f32)> = (0..=12)
        .map(|k| (at(0.2 + 0.6 * k as f32 / 12.0), at(0.5)))
        .collect();
    let mut e = x.clone();
    stroke(&mut e, points[0], points[0], 1.0, Tool::Ink).unwrap();
    for w in points.windows(2) {
        stroke(&mut e, w[0], w[1], 1.0, Tool::Ink).unwrap();
    }
    let p = net.classify(&e).unwrap();
    assert_eq!(p.label, 9);
    assert!(p.probabilities[9] > 0.9, "{:?}", p.probabilities);
    let stats = measure(&x, &e).unwrap();
    assert!(stats.pixels < 60 && stats.l2 < 6.0, "{stats:?}");
    // Every shipped model calls the crossed 7 a 9.
    for arch in Architecture::ALL {
        if let Some(net) = network(arch) {
            assert_eq!(label(&net, &x), 7, "{}", arch.name());
            assert_eq!(label(&net, &e), 9, "{}", arch.name());
        }
    }
}

/// The CNN's smallest label-changing patch on the demo's digit is a 2×2 white square.
#[test]
fn a_four_pixel_patch_flips_the_demo_digit() {
    let digits = held_out();
    let net = network(Architecture::Cnn).unwrap();
    let x = digits.image(164);
    let found = smallest_patch(&net, &x, 2)
        .unwrap()
        .expect("a 2×2 patch flips digit 164");
    assert_eq!((found.patch.size, found.patch.value), (2, 1.0));
    assert_eq!(found.stats.pixels, 4);
    let patched = found.patch.applied(&x).unwrap();
    assert_eq!(measure(&x, &patched).unwrap(), found.stats);
    assert_eq!(label(&net, &patched), found.label);
    assert_ne!(found.label, 7);
}

#[test]
#[ignore]
fn bench_patch_search() {
    let digits = held_out();
    for arch in Architecture::ALL {
        let Some(net) = network(arch) else { continue };
        for max_size in [4usize, 6] {
            let mut times = Vec::new();
            let mut summary = Vec::new();
            for i in [0usize, 1, 2, 3, 4, 5, 6, 7, 8, 164] {
                let x = digits.image(i);
                let t = std::time::Instant::now();
                let mut s =
                    barriers_lab::classification::structural::PatchSearch::new(&net, &x, max_size)
                        .unwrap();
                while s.step().unwrap() {}
                let ev = s.evaluations();
                let f = s.finish();
                times.push(t.elapsed().as_secs_f64() * 1e3);
                summary.push(match f {
                    Some(f) => format!(
                        "#{i}:{}px/{}x{}={}/{ev}ev",
                        f.stats.pixels, f.patch.size, f.patch.size, f.patch.value
                    ),
                    None => format!("#{i}:none/{ev}ev"),
                });
            }
            let mut sorted = times.clone();
            sorted.sort_by(f64::total_cmp);
            println!(
                "{} max {max_size}: median {:.0} ms, max {:.0} ms; {}",
                arch.name(),
                sorted[sorted.len() / 2],
                sorted[sorted.len() - 1],
                summary.join(" ")
            );
        }
    }
}
