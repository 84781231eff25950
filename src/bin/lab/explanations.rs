//! `lab explanations`: manipulated explanations on the shipped CNN (issue 21, part 3;
//! Dombrowski et al., NeurIPS 2019). For each of the first [`REPORT_DIGITS`] held-out digits and
//! both saliency maps, the default manipulation (300 Adam steps, `‖δ‖∞ ≤ 0.1`, β 10 → 100)
//! towards the map of the next held-out digit with another label; writes
//! `static/reports/explanations.json` ([`ExplanationsReport`]).

use crate::progress::{say, Progress};
use barriers_lab::classification::classifier::{Architecture, Classifier};
use barriers_lab::classification::explanation::{
    explanation, target_digit, CaseSummary, ExplanationsReport, Manipulation, ManipulationSettings,
    Method, MethodReport, COMMAND, REPORT_DIGITS, REPORT_PATH,
};
use barriers_lab::classification::mnist::Digits;
use candle_core::{DType, Device};
use std::time::Instant;

/// Runs every case and writes the report.
pub fn explanations(held_out: &Digits) -> anyhow::Result<()> {
    let arch = Architecture::Cnn;
    let bytes = std::fs::read(format!("static/models/{}.safetensors", arch.name()))?;
    let classifier = Classifier::from_safetensors(arch, &bytes, DType::F32, &Device::Cpu)?;
    let settings = ManipulationSettings::default();
    let digits = REPORT_DIGITS.min(held_out.len());
    let mut methods = Vec::new();
    for method in Method::ALL {
        let settings = ManipulationSettings { method, ..settings };
        let bar = Progress::new(method.name(), digits * settings.steps);
        let mut cases = Vec::new();
        let mut history = Vec::new();
        for digit in 0..digits {
            let other = target_digit(held_out, digit)?;
            let (_, target) = explanation(&classifier, &held_out.image(other), None, method)?;
            let start = Instant::now();
            let mut run =
                Manipulation::new(&classifier, &held_out.image(digit), &target, settings)?;
            while !run.is_done() {
                run.step()?;
                bar.inc();
            }
            let result = run.finish()?;
            let ms = start.elapsed().as_secs_f64() * 1e3 / settings.steps as f64;
            let case = CaseSummary::of(digit, other, &result, ms);
            say!(
                "{} digit {digit} ({} → map of digit {other}): Pearson {:.3} → {:.3}, cosine {:.3} → {:.3}; \
                 label {} → {}, max|Δg| {:.3}; ‖δ‖₂/‖x‖₂ {:.3}, ‖δ‖∞ {:.3}; {ms:.1} ms/step",
                method.name(),
                case.label_before,
                case.pearson_before,
                case.pearson_after,
                case.cosine_before,
                case.cosine_after,
                case.label_before,
                case.label_after,
                case.max_logit_change,
                case.delta_relative,
                case.delta_linf,
            );
            if digit == 0 {
                history = result.history.clone();
            }
            cases.push(case);
        }
        drop(bar);
        let m = MethodReport::of(method, cases, history);
        say!(
            "{}: labels kept {}/{}; median Pearson {:.3} → {:.3}; median ‖δ‖₂/‖x‖₂ {:.3}; median max|Δg| {:.3} (largest {:.3})",
            method.name(),
            m.labels_kept,
            m.cases.len(),
            m.median_pearson_before,
            m.median_pearson_after,
            m.median_delta_relative,
            m.median_max_logit_change,
            m.largest_logit_change
        );
        methods.push(m);
    }
    let report = ExplanationsReport {
        what: format!(
            "Manipulated explanations (Dombrowski et al., NeurIPS 2019) on the shipped {} and the first {digits} \
             held-out digits: for each digit and saliency map, Adam on δ (the softplus network's \
             second-order gradient) moves the ReLU network's normalised map |h|/‖h‖₁ towards the map \
             of the next held-out digit with another label, keeping the logits; similarities are \
             the ReLU network's.",
            arch.name()
        ),
        command: COMMAND.into(),
        date: crate::firenet_peers::now(),
        model: arch,
        settings: ManipulationSettings {
            method: Method::Gradient,
            ..settings
        },
        methods,
    };
    crate::write_json(REPORT_PATH, &report)?;
    say!("wrote {REPORT_PATH}");
    Ok(())
}
