//! Native tests of the linearity demo's shipped files (`lab linearity`): the three softmax
//! regressions at 7×7, 14×14 and 28×28 load with the right shapes, reproduce the report's
//! accuracy, weight norms and smallest ℓ∞ DeepFool perturbations on the held-out digits, and the
//! report's claim about the medians against `d` is what the recomputation finds.
#![cfg(not(target_arch = "wasm32"))]

use barriers_lab::classification::linearity::{
    linf_figures, models_from_safetensors, strictly_decreasing, train_config, LinearityReport,
    Quartiles, WeightNorms, COMMAND, REPORT_PATH, SIDES, WEIGHTS_PATH,
};
use barriers_lab::classification::mnist::{Digits, CLASSES, HELD_OUT_COUNT};

fn read(path: &str) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn report() -> LinearityReport {
    LinearityReport::from_json(&String::from_utf8(read(REPORT_PATH)).unwrap()).unwrap()
}

fn close(a: f64, b: f64, what: &str) {
    assert!(
        (a - b).abs() <= 1e-9 * b.abs().max(1.0),
        "{what}: recomputed {a}, report says {b}"
    );
}

fn close_quartiles(a: &Quartiles, b: &Quartiles, what: &str) {
    assert_eq!(a.count, b.count, "{what}: count");
    close(a.q1, b.q1, what);
    close(a.median, b.median, what);
    close(a.q3, b.q3, what);
    close(a.mean, b.mean, what);
}

#[test]
fn shipped_linearity_files_are_consistent() {
    let models = models_from_safetensors(&read(WEIGHTS_PATH)).unwrap();
    let report = report();
    let held = Digits::from_safetensors(&read("static/data/mnist-heldout.safetensors")).unwrap();
    assert_eq!(report.held_out_count, HELD_OUT_COUNT);
    assert_eq!(report.training, train_config());
    assert_eq!(report.command, COMMAND);
    assert_eq!(models.len(), SIDES.len());
    // Floors well below what the runs reach (86%, 92%, 93%): lower resolutions lose detail.
    let floors = [0.80, 0.88, 0.90];
    let mut medians = Vec::new();
    for ((m, line), floor) in models.iter().zip(&report.resolutions).zip(floors) {
        assert_eq!(m.side, line.side);
        let d = m.side * m.side;
        assert_eq!(
            (m.model.weights.len(), m.model.weights[0].len()),
            (CLASSES, d)
        );
        assert_eq!(line.d, d);
        let figures = linf_figures(&m.model, m.side, &held).unwrap();
        close(figures.accuracy(), line.held_out_accuracy, "accuracy");
        assert!(
            figures.accuracy() >= floor,
            "{0}×{0}: accuracy {1} below {floor}",
            m.side,
            figures.accuracy()
        );
        assert_eq!(figures.correct, line.correct);
        assert_eq!(
            figures.converged, figures.correct,
            "DeepFool flips every digit"
        );
        assert_eq!(figures.converged, line.converged);
        close_quartiles(
            &Quartiles::of(&figures.deepfool).unwrap(),
            &line.deepfool_linf,
            "DeepFool",
        );
        close_quartiles(
            &Quartiles::of(&figures.exact).unwrap(),
            &line.exact_linf,
            "exact",
        );
        close_quartiles(
            &Quartiles::of(&figures.margins).unwrap(),
            &line.margin,
            "margin",
        );
        close_quartiles(
            &Quartiles::of(&figures.l1).unwrap(),
            &line.boundary_l1,
            "boundary l1",
        );
        // DeepFool is one step on an affine model: (1 + η)(exact + 10⁻⁴), digit by digit.
        for (r, e) in figures.deepfool.iter().zip(&figures.exact) {
            let expected = (1.0 + report.deepfool.overshoot) * (e + report.deepfool.step_epsilon);
            assert!((r - expected).abs() < 1e-9, "{r} vs {expected}");
        }
        let w = WeightNorms::of(&m.model);
        close(w.l1_mean, line.weights.l1_mean, "mean l1");
        close(w.mean_abs, line.weights.mean_abs, "mean |w|");
        medians.push(line.deepfool_linf.median);
    }
    // The report's claim about the medians against d is what the files give.
    assert_eq!(
        report.median_linf_decreases_with_d,
        strictly_decreasing(&medians),
        "medians {medians:?}"
    );
    // What holds in every run measured (seeds 1–3): the full-resolution model needs the
    // smallest ℓ∞ change, and ‖w_k‖₁ grows with d (slower than d: trained weights shrink).
    let last = *medians.last().unwrap();
    assert!(
        medians[..medians.len() - 1].iter().all(|&m| m > last),
        "{medians:?}"
    );
    let l1: Vec<f64> = report
        .resolutions
        .iter()
        .map(|l| l.weights.l1_mean)
        .collect();
    assert!(l1.windows(2).all(|w| w[1] > w[0]), "{l1:?}");
    let mean_abs: Vec<f64> = report
        .resolutions
        .iter()
        .map(|l| l.weights.mean_abs)
        .collect();
    assert!(mean_abs.windows(2).all(|w| w[1] < w[0]), "{mean_abs:?}");
}

#[test]
fn linearity_full_resolution_model_is_the_shipped_linear_model() {
    // The page says so: the same data, settings, seed and initialisation give the same weights.
    let models = models_from_safetensors(&read(WEIGHTS_PATH)).unwrap();
    let full = models.iter().find(|m| m.side == 28).unwrap();
    let bytes = read("static/models/linear.safetensors");
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let w = st.tensor("fc.weight").unwrap();
    let shipped = barriers_lab::tensor_file::f32_values(&w);
    let ours: Vec<f32> = full
        .model
        .weights
        .iter()
        .flatten()
        .map(|&v| v as f32)
        .collect();
    assert_eq!(ours.len(), shipped.len());
    let gap = ours
        .iter()
        .zip(&shipped)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0f32, f32::max);
    assert!(gap < 1e-4, "largest weight difference {gap}");
}

#[test]
fn corrupt_linearity_files_are_errors() {
    let bytes = read(WEIGHTS_PATH);
    assert!(models_from_safetensors(&bytes[..bytes.len() / 2]).is_err());
    let text = String::from_utf8(read(REPORT_PATH)).unwrap();
    assert!(LinearityReport::from_json(&text[..text.len() / 2]).is_err());
    let mut value: serde_json::Value = serde_json::from_str(&text).unwrap();
    value["resolutions"][1]["side"] = 13.into();
    assert!(LinearityReport::from_json(&value.to_string()).is_err());
}
