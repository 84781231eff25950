//! Native tests of the non-robust features experiment (Ilyas et al. 2019): the targeted ℓ₂ PGD
//! step against its closed form, the gradient it follows against central differences, the attack
//! on the shipped `cnn`, and the shipped models, examples and report against each other.
#![cfg(not(target_arch = "wasm32"))]

use barriers_lab::card::ModelCard;
use barriers_lab::classification::classifier::{varmap_to_safetensors, Architecture, Classifier};
use barriers_lab::classification::mnist::{Digits, PIXELS};
use barriers_lab::classification::non_robust::{
    next_class_share, pgd_step, subset_accuracy, targeted_loss, Examples, NonRobustReport,
    TargetRule, TargetedPgd,
};
use barriers_lab::classification::training::accuracy;
use candle_core::{DType, Device, Tensor};
use candle_nn::VarMap;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

fn read(path: &str) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn held_out() -> Digits {
    Digits::from_safetensors(&read("static/data/mnist-heldout.safetensors")).unwrap()
}

fn report() -> NonRobustReport {
    NonRobustReport::from_json(&read("static/reports/non_robust_features.json")).unwrap()
}

fn shipped(arch: Architecture, name: &str) -> Classifier {
    let bytes = read(&format!("static/models/{name}.safetensors"));
    Classifier::from_safetensors(arch, &bytes, DType::F32, &Device::Cpu).unwrap()
}

/// A seeded random `[rows, 784]` matrix with entries in `[lo, hi)`, as f64.
fn uniform(rows: usize, lo: f64, hi: f64, seed: u64) -> Vec<Vec<f64>> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    (0..rows)
        .map(|_| (0..PIXELS).map(|_| rng.random_range(lo..hi)).collect())
        .collect()
}

fn tensor(rows: &[Vec<f64>]) -> Tensor {
    let flat: Vec<f64> = rows.iter().flatten().copied().collect();
    Tensor::from_vec(flat, (rows.len(), PIXELS), &Device::Cpu).unwrap()
}

fn norm(v: &[f64]) -> f64 {
    v.iter().map(|a| a * a).sum::<f64>().sqrt()
}

/// The step of `pgd_step` written out for one image: `x − α ĝ`, rescaled into the ball, clipped.
fn closed_form(x: &[f64], x0: &[f64], g: &[f64], alpha: f64, epsilon: f64) -> Vec<f64> {
    let gn = norm(g);
    let delta: Vec<f64> = (0..PIXELS)
        .map(|i| x[i] - alpha * g[i] / (gn + 1e-12) - x0[i])
        .collect();
    let s = (epsilon / (norm(&delta) + 1e-12)).min(1.0);
    (0..PIXELS)
        .map(|i| (x0[i] + s * delta[i]).clamp(0.0, 1.0))
        .collect()
}

#[test]
fn the_pgd_step_stays_in_the_ball_and_the_box() {
    let g = uniform(3, -1.0, 1.0, 1);
    // Inside the box with room to move: a short step is exactly `x − α ĝ`; a long one ends on
    // the sphere of radius ε in the direction −ĝ.
    let x0 = uniform(3, 0.4, 0.6, 2);
    for (alpha, epsilon, length) in [(0.1, 1.0, 0.1), (5.0, 0.5, 0.5)] {
        let out = pgd_step(&tensor(&x0), &tensor(&x0), &tensor(&g), alpha, epsilon).unwrap();
        for (b, row) in out.to_vec2::<f64>().unwrap().iter().enumerate() {
            let gn = norm(&g[b]);
            for i in 0..PIXELS {
                let expected = x0[b][i] - length * g[b][i] / gn;
                assert!((row[i] - expected).abs() < 1e-9, "{} vs {expected}", row[i]);
            }
        }
    }
    // MNIST-like digits (mostly 0 or 1) from a point already in the ball: the box binds.
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    let x0: Vec<Vec<f64>> = (0..4)
        .map(|_| {
            (0..PIXELS)
                .map(|_| [0.0, 1.0, rng.random_range(0.0..1.0)][rng.random_range(0..3)])
                .collect()
        })
        .collect();
    let x: Vec<Vec<f64>> = (x0.iter())
        .map(|r| r.iter().map(|v| (v + 0.02).clamp(0.0, 1.0)).collect())
        .collect();
    let g = uniform(4, -1.0, 1.0, 4);
    for (alpha, epsilon) in [(0.3, 2.0), (3.0, 1.5), (10.0, 0.1)] {
        let out = pgd_step(&tensor(&x), &tensor(&x0), &tensor(&g), alpha, epsilon).unwrap();
        for (b, row) in out.to_vec2::<f64>().unwrap().iter().enumerate() {
            let expected = closed_form(&x[b], &x0[b], &g[b], alpha, epsilon);
            let d: Vec<f64> = (0..PIXELS).map(|i| row[i] - x0[b][i]).collect();
            assert!(
                norm(&d) <= epsilon + 1e-9,
                "‖δ‖₂ {} > ε {epsilon}",
                norm(&d)
            );
            assert!(row.iter().all(|v| (0.0..=1.0).contains(v)));
            assert!(row.iter().zip(&expected).all(|(a, b)| (a - b).abs() < 1e-9));
        }
    }
    // A zero gradient does not move.
    let zero = vec![vec![0.0; PIXELS]; 4];
    let out = pgd_step(&tensor(&x), &tensor(&x0), &tensor(&zero), 1.0, 5.0).unwrap();
    assert_eq!(out.to_vec2::<f64>().unwrap(), x);
}

/// A seeded random model of `arch`, in f64.
fn random_model(arch: Architecture, seed: u64) -> Classifier {
    let varmap = VarMap::new();
    Classifier::new_seeded(arch, &varmap, seed, &Device::Cpu).unwrap();
    let bytes = varmap_to_safetensors(&varmap).unwrap();
    Classifier::from_safetensors(arch, &bytes, DType::F64, &Device::Cpu).unwrap()
}

#[test]
fn the_targeted_loss_gradient_matches_central_differences() {
    for (arch, seed) in [
        (Architecture::Linear, 1),
        (Architecture::MlpTanh, 2),
        (Architecture::Cnn, 3),
    ] {
        let model = random_model(arch, seed);
        let x = uniform(2, 0.0, 1.0, 10 + seed);
        let t = Tensor::new(&[3u32, 7], &Device::Cpu).unwrap();
        let (loss, gradient) = targeted_loss(&model, &tensor(&x), &t).unwrap();
        let loss = loss.to_vec1::<f64>().unwrap();
        let gradient = gradient.to_vec2::<f64>().unwrap();
        let loss_at = |x: &[Vec<f64>]| targeted_loss(&model, &tensor(x), &t).unwrap().0;
        // The loss itself: −log softmax(f(x))_t.
        let logits = model.logits(&tensor(&x)).unwrap().to_vec2::<f64>().unwrap();
        for (b, &target) in [3usize, 7].iter().enumerate() {
            let lse = logits[b].iter().map(|v| v.exp()).sum::<f64>().ln();
            assert!((loss[b] - (lse - logits[b][target])).abs() < 1e-10);
        }
        let h = 1e-5;
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let scale = gradient
            .iter()
            .flatten()
            .fold(0.0f64, |m, v| m.max(v.abs()));
        assert!(scale > 0.0);
        for _ in 0..12 {
            let i = rng.random_range(0..PIXELS);
            let (mut plus, mut minus) = (x.clone(), x.clone());
            for b in 0..2 {
                plus[b][i] += h;
                minus[b][i] -= h;
            }
            let (lp, lm) = (
                loss_at(&plus).to_vec1::<f64>().unwrap(),
                loss_at(&minus).to_vec1::<f64>().unwrap(),
            );
            for b in 0..2 {
                let numeric = (lp[b] - lm[b]) / (2.0 * h);
                assert!(
                    (numeric - gradient[b][i]).abs() < 1e-6 * scale,
                    "{arch:?} image {b} pixel {i}: autograd {} vs central differences {numeric}",
                    gradient[b][i]
                );
            }
        }
    }
}

#[test]
fn the_targeted_attack_raises_the_targets_logit() {
    let model = shipped(Architecture::Cnn, "cnn");
    let held = held_out();
    let indices: Vec<usize> = (0..12).collect();
    let (x0, y) = held.batch(&indices, &Device::Cpu).unwrap();
    let y = y.to_vec1::<u32>().unwrap();
    let targets: Vec<u32> = y.iter().map(|&l| (l + 1) % 10).collect();
    let t = Tensor::new(targets.as_slice(), &Device::Cpu).unwrap();
    // The shipped settings.
    let pgd = report().runs[0].attack;
    let x = pgd.run(&model, &x0, &t).unwrap();
    // The target's margin over the best other class.
    let margins = |x: &Tensor| -> Vec<f32> {
        let logits = model.logits(x).unwrap().to_vec2::<f32>().unwrap();
        (logits.iter().zip(&targets))
            .map(|(l, &t)| {
                let other = (l.iter().enumerate())
                    .filter(|(k, _)| *k != t as usize)
                    .fold(f32::NEG_INFINITY, |m, (_, v)| m.max(*v));
                l[t as usize] - other
            })
            .collect()
    };
    let (before, after) = (margins(&x0), margins(&x));
    for (b, a) in before.iter().zip(&after) {
        assert!(a > b, "margin {b} → {a}");
    }
    let (loss0, _) = targeted_loss(&model, &x0, &t).unwrap();
    let (loss1, _) = targeted_loss(&model, &x, &t).unwrap();
    let (loss0, loss1) = (
        loss0.to_vec1::<f32>().unwrap(),
        loss1.to_vec1::<f32>().unwrap(),
    );
    assert!(loss0.iter().zip(&loss1).all(|(a, b)| b < a));
    let d = (x.clone() - &x0).unwrap().to_vec2::<f32>().unwrap();
    for row in &d {
        let n = row.iter().map(|v| (*v as f64).powi(2)).sum::<f64>().sqrt();
        assert!(n <= pgd.epsilon + 1e-4, "‖δ‖₂ {n}");
    }
    let x = x.to_vec2::<f32>().unwrap();
    assert!(x.iter().flatten().all(|v| (0.0..=1.0).contains(v)));
    // At least half of them now carry the target's label, none did before, and a smaller ball
    // (ε = 1) succeeds less often.
    let hits = |m: &[f32]| m.iter().filter(|&&m| m > 0.0).count();
    assert_eq!(hits(&before), 0);
    assert!(hits(&after) >= 6, "{after:?}");
    let small = TargetedPgd {
        epsilon: 1.0,
        ..pgd
    };
    let smaller = margins(&small.run(&model, &x0, &t).unwrap());
    assert!(hits(&smaller) < hits(&after), "{smaller:?} {after:?}");
}

#[test]
fn the_shipped_models_reproduce_the_report() {
    let report = report();
    let held = held_out();
    assert_eq!(report.held_out_count, held.len());
    assert_eq!(report.chance, 0.1);
    assert!(!report.runs.is_empty());
    let source = shipped(Architecture::Cnn, &report.source_model);
    let subset = subset_accuracy(&source, &held, report.subset_count).unwrap();
    assert!(subset > 0.95, "the source model: {subset}");
    assert_eq!(
        accuracy(&source, &held).unwrap(),
        report.source_held_out_accuracy
    );
    for run in &report.runs {
        let model = shipped(Architecture::Cnn, &run.model);
        let measured = subset_accuracy(&model, &held, report.subset_count).unwrap();
        assert!(
            (measured - run.subset_held_out_accuracy).abs() < 1e-12,
            "{}: first {} held-out digits {measured}, report {}",
            run.model,
            report.subset_count,
            run.subset_held_out_accuracy
        );
        let next = next_class_share(&model, &held).unwrap();
        assert!((next - run.held_out_next_class).abs() < 1e-12, "{next}");
        let card: ModelCard =
            serde_json::from_slice(&read(&format!("static/models/{}.json", run.model))).unwrap();
        assert_eq!(card.held_out_accuracy, run.held_out_accuracy);
        assert_eq!(card.train_count, run.set.count);
        assert_eq!(
            card.weights_bytes,
            read(&format!("static/models/{}.safetensors", run.model)).len()
        );
        assert_eq!(run.construction, run.rule.paper_name());
        assert!(run.set.delta_l2.max <= run.attack.epsilon + 0.06);
    }
}

#[test]
fn the_examples_follow_the_main_construction() {
    let report = report();
    let main = &report.runs[0];
    let examples = Examples::from_safetensors(&read(&report.examples)).unwrap();
    assert_eq!(examples.rule, main.rule);
    assert_eq!(examples.epsilon, main.attack.epsilon);
    assert_eq!(examples.len(), 20);
    for k in 0..examples.len() {
        let (y, t) = (examples.labels[k], examples.targets[k]);
        assert_ne!(y, t);
        if main.rule == TargetRule::Deterministic {
            assert_eq!(t, (y + 1) % 10);
        }
        let image = |v: &[u8]| -> Vec<f64> {
            v[k * PIXELS..(k + 1) * PIXELS]
                .iter()
                .map(|&p| p as f64 / 255.0)
                .collect()
        };
        let (x, xp) = (image(&examples.original), image(&examples.perturbed));
        let d: Vec<f64> = x.iter().zip(&xp).map(|(a, b)| b - a).collect();
        // Stored as bytes: within ε up to the rounding, ≤ 0.5/255 a pixel.
        assert!(norm(&d) <= main.attack.epsilon + 0.5 / 255.0 * 28.0);
        assert!(norm(&d) > 0.0);
    }
    // Every original class is shown.
    let mut classes = examples.labels.clone();
    classes.sort_unstable();
    classes.dedup();
    assert_eq!(classes.len(), 10);
    // A corrupt file is an error, not a panic.
    let bytes = examples.to_safetensors().unwrap();
    assert_eq!(Examples::from_safetensors(&bytes).unwrap(), examples);
    assert!(Examples::from_safetensors(&bytes[..bytes.len() / 2]).is_err());
}
