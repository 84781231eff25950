//! The plain-loop networks of `inference` against candle, the reference: the same logits, input
//! Jacobians and vector–Jacobian products (candle in f64, itself checked against central
//! differences in `models.rs`), and the same DeepFool answers.
#![cfg(not(target_arch = "wasm32"))]

use barriers_lab::classification::attack::Model;
use barriers_lab::classification::classifier::{Architecture, Classifier};
use barriers_lab::classification::deepfool::DeepFool;
use barriers_lab::classification::inference::Network;
use barriers_lab::classification::mnist::{Digits, PIXELS};
use candle_core::{DType, Device};
use std::collections::HashMap;

fn held_out() -> Digits {
    Digits::from_safetensors(&std::fs::read("static/data/mnist-heldout.safetensors").unwrap())
        .unwrap()
}

fn load(arch: Architecture, dtype: DType) -> Classifier {
    let bytes = std::fs::read(format!("static/models/{}.safetensors", arch.name())).unwrap();
    Classifier::from_safetensors(arch, &bytes, dtype, &Device::Cpu).unwrap()
}

/// Held-out digit `i` plus seeded uniform noise of amplitude `amplitude`.
fn noisy_digit(held: &Digits, i: usize, amplitude: f64) -> Vec<f64> {
    let mut state = 0x9e37_79b9_7f4a_7c15u64 ^ i as u64;
    held.image(i)
        .iter()
        .map(|&v| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            v as f64 + amplitude * ((state >> 11) as f64 / (1u64 << 53) as f64 - 0.5)
        })
        .collect()
}

fn distance(a: &[f64], b: &[f64]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).powi(2))
        .sum::<f64>()
        .sqrt()
}

fn norm(a: &[f64]) -> f64 {
    a.iter().map(|x| x * x).sum::<f64>().sqrt()
}

#[test]
fn networks_match_candle_logits_jacobians_and_vjps() {
    let held = held_out();
    for arch in Architecture::ALL {
        let reference = load(arch, DType::F64);
        let network = Network::from_classifier(&load(arch, DType::F32)).unwrap();
        for i in [0, 7, 42, 313, 1999] {
            for amplitude in [0.0, 0.02] {
                let x = noisy_digit(&held, i, amplitude);
                let (f_ref, j_ref) = Model::jacobian(&reference, &x).unwrap();
                let (f, j) = network.jacobian(&x).unwrap();
                assert!(
                    distance(&f, &f_ref) <= 1e-4 * (1.0 + norm(&f_ref)),
                    "{} digit {i}: logits {f:?} vs {f_ref:?}",
                    arch.name()
                );
                for k in 0..10 {
                    let err = distance(&j[k], &j_ref[k]);
                    assert!(
                        err <= 1e-4 * norm(&j_ref[k]),
                        "{} digit {i} class {k}: Jacobian row off by {err} (norm {})",
                        arch.name(),
                        norm(&j_ref[k])
                    );
                }
                let w: Vec<f64> = (0..10).map(|k| (k as f64 - 4.5) / 3.0).collect();
                let v = network.vjp(&x, &w).unwrap();
                let v_ref = reference.vjp(&x, &w).unwrap();
                assert!(distance(&v, &v_ref) <= 1e-4 * norm(&v_ref));
                assert_eq!(network.label(&x).unwrap(), reference.label(&x).unwrap());
                let image: Vec<f32> = x.iter().map(|&v| v as f32).collect();
                let (p, p_ref) = (
                    network.classify(&image).unwrap(),
                    load(arch, DType::F32).classify(&image).unwrap(),
                );
                assert_eq!(p.label, p_ref.label);
                for (a, b) in p.probabilities.iter().zip(&p_ref.probabilities) {
                    assert!((a - b).abs() < 1e-5);
                }
            }
        }
    }
}

#[test]
fn deepfool_gives_the_same_answer_on_both() {
    let held = held_out();
    for arch in Architecture::ALL {
        let reference = load(arch, DType::F32);
        let network = Network::from_classifier(&reference).unwrap();
        for i in [1, 2, 3, 4, 5] {
            let x: Vec<f64> = held.image(i).iter().map(|&v| v as f64).collect();
            let a = DeepFool::default().run(&reference, &x).unwrap();
            let b = DeepFool::default().run(&network, &x).unwrap();
            assert_eq!((a.iterations, a.converged), (b.iterations, b.converged));
            assert_eq!(a.targets, b.targets);
            let (na, nb) = (norm(&a.perturbation), norm(&b.perturbation));
            assert!(
                (na - nb).abs() <= 1e-3 * na,
                "{}: {na} vs {nb}",
                arch.name()
            );
        }
    }
}

#[test]
fn bad_parameters_and_inputs_are_clear_errors() {
    let net = Network::from_classifier(&load(Architecture::Mlp, DType::F32)).unwrap();
    assert!(net.logits(&[0.0; 10]).is_err());
    assert!(net.classify(&[0.5; 10]).is_err());
    assert!(net.classify(&[f32::NAN; PIXELS]).is_err());
    let mut nan = vec![0.0; PIXELS];
    nan[5] = f64::NAN;
    assert!(net.jacobian(&nan).is_err());
    assert!(net.vjp(&[0.0; PIXELS], &[1.0; 3]).is_err());
    let mut params: HashMap<String, Vec<f32>> =
        load(Architecture::Linear, DType::F32).parameters().unwrap();
    params.get_mut("fc.weight").unwrap().pop();
    let e = Network::from_parameters(Architecture::Linear, params.clone()).unwrap_err();
    assert!(e.to_string().contains("fc.weight"), "{e}");
    params.remove("fc.bias");
    assert!(Network::from_parameters(Architecture::Linear, params).is_err());
}
