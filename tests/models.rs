//! Native tests of the shipped data and models: every weight file loads, reproduces the accuracy
//! its card states on the held-out digits, meets the bar, and has correct input gradients.
#![cfg(not(target_arch = "wasm32"))]

use barriers_lab::card::ModelCard;
use barriers_lab::classification::classifier::{varmap_to_safetensors, Architecture, Classifier};
use barriers_lab::classification::mnist::{Digits, HELD_OUT_COUNT, PIXELS, TRAIN_COUNT};
use barriers_lab::classification::training::{accuracy, train, TrainConfig};
use barriers_lab::Error;
use candle_core::{DType, Device, Tensor};

fn read(path: &str) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn held_out() -> Digits {
    Digits::from_safetensors(&read("static/data/mnist-heldout.safetensors")).unwrap()
}

fn card(arch: Architecture) -> ModelCard {
    serde_json::from_slice(&read(&format!("static/models/{}.json", arch.name()))).unwrap()
}

fn weights(arch: Architecture) -> Vec<u8> {
    read(&format!("static/models/{}.safetensors", arch.name()))
}

#[test]
fn shipped_data_has_the_fixed_split() {
    let train = Digits::from_safetensors(&read("static/data/mnist-train.safetensors")).unwrap();
    let held = held_out();
    assert_eq!((train.len(), held.len()), (TRAIN_COUNT, HELD_OUT_COUNT));
    // Every class is represented in both halves.
    assert!(train.class_counts().iter().all(|&c| c > 600));
    assert!(held.class_counts().iter().all(|&c| c > 150));
}

#[test]
fn shipped_models_reproduce_their_cards() {
    let held = held_out();
    let bars = [
        (Architecture::Linear, 0.90),
        (Architecture::Mlp, 0.965),
        (Architecture::MlpTanh, 0.95),
        (Architecture::Cnn, 0.98),
        (Architecture::CnnWide, 0.98),
    ];
    for (arch, bar) in bars {
        let card = card(arch);
        let bytes = weights(arch);
        assert_eq!(card.name, arch.name());
        assert_eq!(card.parameters, arch.parameter_count());
        assert_eq!(card.weights_bytes, bytes.len());
        let model = Classifier::from_safetensors(arch, &bytes, DType::F32, &Device::Cpu).unwrap();
        let acc = accuracy(&model, &held).unwrap();
        assert!(
            (acc - card.held_out_accuracy).abs() < 1e-9,
            "{}: measured {acc}, card says {}",
            arch.name(),
            card.held_out_accuracy
        );
        assert!(acc >= bar, "{}: accuracy {acc} below {bar}", arch.name());
    }
}

#[test]
fn jacobian_matches_central_differences_in_f64() {
    // A generic point: a held-out digit plus a little seeded noise. On the exact digit, whole
    // background regions of a max-pool window tie, where max-pooling is not differentiable.
    let held = held_out();
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let x: Vec<f64> = held
        .image(3)
        .iter()
        .map(|&v| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            v as f64 + 0.01 * (state >> 11) as f64 / (1u64 << 53) as f64
        })
        .collect();
    for arch in Architecture::ALL {
        let model =
            Classifier::from_safetensors(arch, &weights(arch), DType::F64, &Device::Cpu).unwrap();
        let xt = Tensor::from_slice(&x, PIXELS, &Device::Cpu).unwrap();
        let jac = model.jacobian(&xt).unwrap().to_vec2::<f64>().unwrap();
        assert_eq!((jac.len(), jac[0].len()), (10, PIXELS));
        let logits = |x: &[f64]| -> Vec<f64> {
            let t = Tensor::from_slice(x, (1, PIXELS), &Device::Cpu).unwrap();
            model
                .logits(&t)
                .unwrap()
                .flatten_all()
                .unwrap()
                .to_vec1::<f64>()
                .unwrap()
        };
        let h = 1e-6;
        // A spread of pixels, some in the ink and some in the background.
        for &p in &[0usize, 150, 300, 350, 406, 434, 462, 600, 783] {
            let (mut plus, mut minus) = (x.clone(), x.clone());
            plus[p] += h;
            minus[p] -= h;
            let (fp, fm) = (logits(&plus), logits(&minus));
            for k in 0..10 {
                let fd = (fp[k] - fm[k]) / (2.0 * h);
                let err = (fd - jac[k][p]).abs();
                assert!(
                    err <= 1e-6 * (1.0 + fd.abs()),
                    "{} class {k} pixel {p}: autograd {} vs finite difference {fd}",
                    arch.name(),
                    jac[k][p]
                );
            }
        }
    }
}

#[test]
fn bad_weights_are_clear_errors() {
    let good = weights(Architecture::Linear);
    let load =
        |bytes: &[u8], arch| Classifier::from_safetensors(arch, bytes, DType::F32, &Device::Cpu);
    let message = |r: Result<Classifier, Error>| r.expect_err("must fail").to_string();
    // Truncated file.
    assert!(message(load(&good[..good.len() / 2], Architecture::Linear)).contains("linear"));
    // Not a safetensors file at all.
    assert!(message(load(b"<!doctype html>", Architecture::Linear))
        .contains("not a readable safetensors"));
    // Another model's weights.
    assert!(message(load(&good, Architecture::Mlp)).contains("missing"));
    // NaN in the weights.
    let mut tensors = candle_core::safetensors::load_buffer(&good, &Device::Cpu).unwrap();
    let w = tensors["fc.weight"].clone();
    let mut v = w.flatten_all().unwrap().to_vec1::<f32>().unwrap();
    v[17] = f32::NAN;
    tensors.insert(
        "fc.weight".into(),
        Tensor::from_vec(v, w.dims(), &Device::Cpu).unwrap(),
    );
    let path = std::env::temp_dir().join("barriers-lab-nan.safetensors");
    candle_core::safetensors::save(&tensors, &path).unwrap();
    let nan = std::fs::read(&path).unwrap();
    assert!(message(load(&nan, Architecture::Linear)).contains("NaN"));
}

#[test]
fn bad_images_are_rejected() {
    let model = Classifier::from_safetensors(
        Architecture::Linear,
        &weights(Architecture::Linear),
        DType::F32,
        &Device::Cpu,
    )
    .unwrap();
    assert!(model.classify(&[0.0; 10]).is_err());
    let mut nan = vec![0.0f32; PIXELS];
    nan[5] = f32::NAN;
    assert!(model.classify(&nan).is_err());
    // An all-zero image is a valid input with a definite answer.
    let p = model.classify(&vec![0.0; PIXELS]).unwrap();
    assert!((p.probabilities.iter().sum::<f32>() - 1.0).abs() < 1e-5);
}

#[test]
fn training_is_seeded_and_learns() {
    // A short run on a slice of the data: same seed, same weights; and it beats chance clearly.
    let train_set = Digits::from_safetensors(&read("static/data/mnist-train.safetensors"))
        .unwrap()
        .select(&(0..1000).collect::<Vec<_>>());
    let held = held_out().select(&(0..500).collect::<Vec<_>>());
    let config = TrainConfig {
        epochs: 6,
        ..TrainConfig::shipped(Architecture::Linear)
    };
    let run = || {
        let (vars, model, history) =
            train(Architecture::Linear, &config, &train_set, &held, |_| {}).unwrap();
        (
            varmap_to_safetensors(&vars).unwrap(),
            accuracy(&model, &held).unwrap(),
            history,
        )
    };
    let (a, acc, history) = run();
    let (b, _, _) = run();
    assert_eq!(a, b, "same seed must give the same weights");
    assert_eq!(history.len(), 6);
    assert!(acc > 0.8, "accuracy {acc}");
}
