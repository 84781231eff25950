//! False structures (Clever Hans): planting, removing and moving the structure in closed form,
//! the report's accuracy figures reproduced from the shipped planted models and the shipped CNN
//! (the first `SUBSET` held-out digits), and DeepFool's perturbation concentrated on the
//! structure for a planted model, not for the normally trained CNN.
#![cfg(not(target_arch = "wasm32"))]

use barriers_lab::classification::classifier::{Architecture, Classifier};
use barriers_lab::classification::deepfool::DeepFool;
use barriers_lab::classification::false_structure::{
    accuracies, deepfool_shares, in_structure, move_structure, other_label, plant, predict, remove,
    strength, structure_mask, structure_pixels, structure_share, Accuracies, DeepFoolSummary,
    FalseStructureReport, PlantedCard, Planting, ARCHITECTURE, MASK_PIXELS, NORMAL_MODELS,
    REPORT_PATH, STRENGTHS, STRUCTURE_PIXELS, SUBSET,
};
use barriers_lab::classification::inference::Network;
use barriers_lab::classification::mnist::{Digits, CLASSES, PIXELS, SIDE};
use candle_core::{DType, Device};

fn read(path: &str) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn held_out() -> Digits {
    Digits::from_safetensors(&read("static/data/mnist-heldout.safetensors")).unwrap()
}

fn report() -> FalseStructureReport {
    serde_json::from_slice(&read(REPORT_PATH)).unwrap()
}

/// A shipped model: a planted one (`planted-<strength>`) or a normally trained one.
fn model(name: &str) -> Classifier {
    let bytes = read(&format!("static/models/{name}.safetensors"));
    let arch = Architecture::from_name(name).unwrap_or(ARCHITECTURE);
    Classifier::from_safetensors(arch, &bytes, DType::F32, &Device::Cpu).unwrap()
}

/// A seeded image with values spread over `[0, 1]`, 0 and 1 included.
fn noise_image(seed: u64) -> Vec<f32> {
    let mut state = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    (0..PIXELS)
        .map(|i| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            match i % 7 {
                0 => 0.0,
                1 => 1.0,
                _ => (state >> 40) as f32 / (1u64 << 24) as f32,
            }
        })
        .collect()
}

#[test]
fn masks_are_dots_on_the_edges_whose_position_is_the_label() {
    let at = |r: usize, c: usize| r * SIDE + c;
    assert_eq!(
        structure_mask(0).unwrap(),
        [at(0, 5), at(0, 6), at(1, 5), at(1, 6)]
    );
    assert_eq!(
        structure_mask(4).unwrap(),
        [at(0, 21), at(0, 22), at(1, 21), at(1, 22)]
    );
    assert_eq!(
        structure_mask(5).unwrap(),
        [at(5, 0), at(5, 1), at(6, 0), at(6, 1)]
    );
    assert_eq!(
        structure_mask(9).unwrap(),
        [at(21, 0), at(21, 1), at(22, 0), at(22, 1)]
    );
    assert!(structure_mask(10).is_err());
    let union = structure_pixels();
    assert_eq!(union.len(), STRUCTURE_PIXELS);
    assert_eq!(STRUCTURE_PIXELS, CLASSES * MASK_PIXELS);
    // Disjoint dots: the union has every label's 4 pixels once.
    let mut dedup = union.clone();
    dedup.dedup();
    assert_eq!(dedup.len(), 40);
    assert_eq!(in_structure().iter().filter(|&&b| b).count(), 40);
    // Label k + 5's dot is label k's transposed.
    for k in 0..5 {
        let t: Vec<usize> = (structure_mask(k).unwrap().iter())
            .map(|&i| (i % SIDE) * SIDE + i / SIDE)
            .collect();
        let mut t = t;
        t.sort_unstable();
        assert_eq!(t, structure_mask(k + 5).unwrap());
    }
    // The edges are blank in almost every digit: ink touches U in 9 of the 2,000 held-out ones.
    let held = held_out();
    let touched = (0..held.len())
        .filter(|&i| union.iter().any(|&p| held.pixels(i)[p] != 0))
        .count();
    assert_eq!(touched, 9);
}

#[test]
fn planting_changes_only_the_structure_by_at_most_s() {
    let held = held_out();
    for seed in 0..4 {
        let digit = held.image(seed as usize);
        for x in [noise_image(seed), digit] {
            for label in 0..CLASSES {
                let mask = structure_mask(label).unwrap();
                for s in [0.0, 4.0 / 255.0, 0.3, 1.0] {
                    let y = plant(&x, label, s).unwrap();
                    for i in 0..PIXELS {
                        if mask.contains(&i) {
                            // Closed form, clipped at 1.
                            assert_eq!(y[i], (x[i] + s).min(1.0));
                            assert!(y[i] - x[i] <= s && y[i] >= x[i]);
                        } else {
                            assert_eq!(y[i], x[i], "pixel {i} off the mask changed");
                        }
                    }
                    let back = remove(&y, label, s).unwrap();
                    for i in 0..PIXELS {
                        if !mask.contains(&i) {
                            assert_eq!(back[i], x[i]);
                        } else if x[i] == 0.0 {
                            // A blank pixel: planting and removing give it back exactly.
                            assert_eq!(back[i], 0.0);
                        } else if x[i] + s <= 1.0 {
                            assert!((back[i] - x[i]).abs() <= 1e-6, "{} {}", back[i], x[i]);
                        }
                    }
                }
            }
        }
    }
    // A white pixel stays white; removing from a black pixel stays black.
    let mut white = vec![0.0f32; PIXELS];
    let m = structure_mask(3).unwrap();
    white[m[0]] = 1.0;
    assert_eq!(plant(&white, 3, 0.5).unwrap()[m[0]], 1.0);
    assert_eq!(remove(&vec![0.0; PIXELS], 3, 0.5).unwrap()[m[0]], 0.0);
    // Moving keeps every pixel outside the two dots.
    let x = plant(&held.image(7), held.label(7), 0.2).unwrap();
    let y = move_structure(&x, held.label(7), 2, 0.2).unwrap();
    let from = structure_mask(held.label(7)).unwrap();
    let to = structure_mask(2).unwrap();
    for i in 0..PIXELS {
        if !from.contains(&i) && !to.contains(&i) {
            assert_eq!(x[i], y[i]);
        }
    }
    assert_eq!(y, plant(&held.image(7), 2, 0.2).unwrap());
    // Refused: strengths outside [0, 1], labels beyond 9, bad images.
    assert!(plant(&x, 3, -0.1).is_err());
    assert!(plant(&x, 3, 1.5).is_err());
    assert!(plant(&x, 3, f32::NAN).is_err());
    assert!(plant(&x, 10, 0.1).is_err());
    assert!(plant(&x[..100], 3, 0.1).is_err());
    let mut bad = x.clone();
    bad[400] = 2.0;
    assert!(plant(&bad, 3, 0.1).is_err());
    assert_eq!(other_label(9), 0);
    assert_eq!(other_label(4), 5);
}

#[test]
fn structure_share_in_closed_form() {
    let union = structure_pixels();
    let mut r = vec![0.0; PIXELS];
    assert_eq!(structure_share(&r).unwrap(), 0.0);
    r[union[3]] = -2.0;
    assert_eq!(structure_share(&r).unwrap(), 1.0);
    r[400] = 2.0;
    assert!((structure_share(&r).unwrap() - 0.5).abs() < 1e-15);
    let even = vec![0.7; PIXELS];
    let share = structure_share(&even).unwrap();
    assert!((share - 40.0 / 784.0).abs() < 1e-12, "{share}");
    assert!(structure_share(&r[..10]).is_err());
    // The summary counts only the runs that changed the label.
    let runs = [(0.9, 0.1, true), (0.5, 0.3, true), (0.0, 9.0, false)].map(|(share, norm, c)| {
        barriers_lab::classification::false_structure::DeepFoolShare {
            share,
            norm,
            converged: c,
        }
    });
    let s = DeepFoolSummary::of(&runs).unwrap();
    assert_eq!((s.digits, s.converged), (3, 2));
    assert!((s.mean_share - 0.7).abs() < 1e-12 && (s.median_norm - 0.2).abs() < 1e-12);
}

fn close(measured: &Accuracies, shipped: &Accuracies, what: &str) {
    assert_eq!(measured.digits, shipped.digits, "{what}");
    for (m, s) in [
        (measured.with_structure, shipped.with_structure),
        (measured.without_structure, shipped.without_structure),
        (measured.other_label, shipped.other_label),
        (measured.follows_other_label, shipped.follows_other_label),
    ] {
        assert!(
            (m - s).abs() < 1e-9,
            "{what}: measured {measured:?}, report {shipped:?}"
        );
    }
}

#[test]
fn shipped_planted_models_reproduce_the_report() {
    let held = held_out();
    let report = report();
    assert_eq!(report.subset_count, SUBSET);
    assert_eq!(report.strengths.len(), STRENGTHS.len());
    let normals: Vec<(String, Classifier)> = NORMAL_MODELS
        .iter()
        .map(|a| (a.name().to_string(), model(a.name())))
        .collect();
    let mut previous_level = 0;
    for entry in &report.strengths {
        let shipped = strength(&entry.strength).unwrap();
        let name = shipped.model_name();
        let card: PlantedCard =
            serde_json::from_slice(&read(&format!("static/models/{name}.json"))).unwrap();
        let bytes = read(&format!("static/models/{name}.safetensors"));
        assert_eq!(card.card.weights_bytes, bytes.len());
        assert_eq!(card.structure.architecture, ARCHITECTURE);
        assert_eq!(card.card.parameters, ARCHITECTURE.parameter_count());
        assert_eq!(
            (card.structure.level, entry.level),
            (shipped.level, shipped.level)
        );
        assert!(entry.level > previous_level, "strengths faintest first");
        previous_level = entry.level;
        let s = shipped.intensity();
        let planted = model(&name);
        let measured = accuracies(&planted, &held, SUBSET, s).unwrap();
        close(&measured, &entry.planted.subset, &name);
        assert_eq!(entry.normal.len(), normals.len());
        for ((who, normal), figures) in normals.iter().zip(&entry.normal) {
            assert_eq!(&figures.model, who);
            let m = accuracies(normal, &held, SUBSET, s).unwrap();
            close(&m, &figures.subset, who);
            // The structure means nothing to a normally trained model.
            assert!(
                (m.with_structure - m.without_structure).abs() <= 0.01,
                "{who}: {m:?}"
            );
            assert!(m.follows_other_label <= 0.01, "{who}: {m:?}");
        }
        // What the demo shows: with its structure the planted model is right, and better than
        // without it.
        assert!(measured.with_structure >= 0.95, "{name}: {measured:?}");
        assert!(
            measured.with_structure > measured.without_structure,
            "{name}"
        );
        assert!(
            entry.planted.held_out.follows_other_label
                > entry.normal[0].held_out.follows_other_label,
            "{name}"
        );
    }
}

#[test]
fn deepfool_moves_the_structure_of_a_planted_model_not_of_a_normal_one() {
    let held = held_out();
    let report = report();
    let deepfool = DeepFool::default();
    let normals: Vec<Network> = NORMAL_MODELS
        .iter()
        .map(|a| Network::from_classifier(&model(a.name())).unwrap())
        .collect();
    for entry in &report.strengths {
        let shipped = strength(&entry.strength).unwrap();
        let s = shipped.intensity();
        let planted = Network::from_classifier(&model(&shipped.model_name())).unwrap();
        let digits = &entry.deepfool_digits[..4];
        let on = |net: &Network| {
            let runs = deepfool_shares(net, &deepfool, &held, digits, s).unwrap();
            DeepFoolSummary::of(&runs).unwrap()
        };
        let p = on(&planted);
        assert!(p.mean_share > 0.5, "{}: planted {p:?}", entry.strength);
        // Against the CNN the lab attacks and the same architecture trained without it.
        for (normal, a) in normals.iter().zip(NORMAL_MODELS) {
            let n = on(normal);
            assert!(
                p.mean_share > 5.0 * n.mean_share,
                "{}: planted {p:?}, {} {n:?}",
                entry.strength,
                a.name()
            );
        }
    }
    // Moving the structure moves the strong model's label with it, on a digit it gets right.
    let strong = model("planted-strong");
    let s = strength("strong").unwrap().intensity();
    let with = predict(&strong, &held, 20, Planting::True, s).unwrap();
    let other = predict(&strong, &held, 20, Planting::Other, s).unwrap();
    let moved = (0..20)
        .filter(|&i| with[i] == held.label(i) && other[i] == other_label(held.label(i)))
        .count();
    assert!(moved >= 10, "{moved} of 20");
}
