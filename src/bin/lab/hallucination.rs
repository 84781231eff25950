//! The hallucinations commands of `lab`: `train-net` (a deep cascade on 64² or 128² brain slices,
//! seeded and resumable; weights and model card) and `instability-report`.

use crate::median_p95;
use crate::progress::{say, Progress};
use barriers_lab::classification::classifier::varmap_to_safetensors;
use barriers_lab::mri::brain::{Role, Split};
use barriers_lab::mri::instability::{InstabilityTest, Reconstructor};
use barriers_lab::mri::learned::cascade::{mse_loss, mse_loss_complex, CascadeNet, CascadeShape};
use barriers_lab::mri::learned::checkpoint::ResumableAdamW;
use barriers_lab::mri::learned::hallucination::{
    firenet_wavelet, is_useful, slice_at, slices_needed, window_for, USEFUL_BELOW_FIRENET_DB,
    USEFUL_GAIN_DB,
};
use barriers_lab::mri::learned::hallucination::{
    gaussian_like, halve, outcome, AtNorm, CascadeShapeCard, CurvePoint, Effect, FirenetSetting,
    HeldOut, MaskSpec, NetCard, NetReport, NetTraining, Perturbations, SliceReport, LARGE_SIDE,
    SIDE,
};
use barriers_lab::mri::learned::kernel_training::{shipped_detail, KernelCurriculum, KernelDetail};
use barriers_lab::mri::learned::sweep::split_slices;
use barriers_lab::mri::operator::{noise_like, LinearOperator, SubsampledFourier};
use barriers_lab::mri::sampling::Pattern;
use candle_core::{DType, Device, Tensor};
use candle_nn::{ParamsAdamW, VarMap};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rustfft::num_complex::Complex32;
use std::path::Path;
use std::time::Instant;

/// Settings of `train-net`.
pub struct TrainNet {
    pub name: String,
    pub dir: String,
    pub steps: usize,
    pub rate: f64,
    pub pattern: Pattern,
    /// [`SIDE`] (the 128² slices halved) or [`LARGE_SIDE`].
    pub side: usize,
    pub split: Split,
    /// Steps between checkpoints (0: none).
    pub checkpoint_every: usize,
    /// Start from step 0 even if a checkpoint exists.
    pub fresh: bool,
    /// Stop after this many steps of this run, leaving a checkpoint.
    pub stop_after: Option<usize>,
    pub shape: CascadeShape,
    pub seed: u64,
    pub batch: usize,
    pub learning_rate: f64,
    /// Probability of adding a small "lesion" (a disc of radius 1.5–3 pixels, contrast ±0.15–0.35)
    /// inside the brain of a training image: details whose measurements are nearly invisible,
    /// the troublesome-kernel mechanism.
    pub lesions: f64,
    /// Start from this shipped network's weights (`static/models/<init>.safetensors`, same
    /// shape and mask): fine-tuning.
    pub init: Option<String>,
    /// `S`: measurement noise during training, `y = Ax + e` with complex Gaussian `e`,
    /// `‖e‖ = u·S·‖Ax‖`, `u ~ U[0, 1]` per image (0: noise-free).
    pub noise: f64,
    /// `P`: with this probability a training image `x` becomes `x + z_N` for the fixed detail
    /// of [`barriers_lab::mri::learned::kernel_training::shipped_detail`], target and measurements (0: off).
    pub kernel_detail: f64,
}

/// Adds a seeded random disc inside the brain (where the image is above 0.2).
fn add_lesion(img: &mut [f32], n: usize, rng: &mut ChaCha8Rng) {
    let inside: Vec<usize> = (0..img.len()).filter(|&i| img[i] > 0.2).collect();
    if inside.is_empty() {
        return;
    }
    let c = inside[rng.random_range(0..inside.len())];
    let (cy, cx) = ((c / n) as f32, (c % n) as f32);
    let radius: f32 = rng.random_range(1.5..3.0);
    let contrast: f32 =
        rng.random_range(0.15..0.35) * if rng.random_bool(0.5) { 1.0 } else { -1.0 };
    for (i, v) in img.iter_mut().enumerate() {
        let (y, x) = ((i / n) as f32, (i % n) as f32);
        if (y - cy).powi(2) + (x - cx).powi(2) <= radius * radius {
            *v = (*v + contrast).clamp(0.0, 1.0);
        }
    }
}

/// Held-out PSNR and SSIM of zero-filling, FIRENET and `net` on `test` (images of side
/// `n`).
pub fn held_out(
    a: &SubsampledFourier,
    net: &dyn Reconstructor,
    test: &[Vec<f32>],
) -> anyhow::Result<HeldOut> {
    let n = a.mask().side();
    Ok(barriers_lab::mri::learned::sweep::quality(
        &barriers_lab::engine::CpuEngine,
        a,
        net,
        test,
        n,
    )?)
}

/// What a checkpoint of `train-net` holds besides the weights and moments.
struct Resume {
    /// The next step.
    step: usize,
    history: Vec<(usize, f64)>,
    seconds: f64,
    last: f64,
}

/// The settings a checkpoint must match to be resumed (everything that changes the run).
fn run_settings(s: &TrainNet) -> String {
    serde_json::json!({
        "name": s.name, "steps": s.steps, "rate": s.rate, "pattern": s.pattern.name(),
        "side": s.side, "split": s.split.name(),
        "shape": [s.shape.cascades, s.shape.layers, s.shape.channels],
        "seed": s.seed, "batch": s.batch, "learning_rate": s.learning_rate,
        "lesions": s.lesions, "init": s.init, "noise": s.noise, "kernel_detail": s.kernel_detail,
    })
    .to_string()
}

/// Writes a checkpoint atomically (a temporary file renamed over the old one).
fn save_checkpoint(
    path: &Path,
    opt: &ResumableAdamW,
    settings: &str,
    rng: &ChaCha8Rng,
    r: &Resume,
) -> anyhow::Result<()> {
    let mut meta = std::collections::HashMap::new();
    meta.insert("settings".to_string(), settings.to_string());
    meta.insert("step".into(), r.step.to_string());
    meta.insert("rng_word_pos".into(), rng.get_word_pos().to_string());
    meta.insert("history".into(), serde_json::to_string(&r.history)?);
    meta.insert("seconds".into(), r.seconds.to_string());
    meta.insert("last".into(), r.last.to_string());
    let tmp = path.with_extension("partial");
    std::fs::write(&tmp, opt.checkpoint(meta)?)?;
    std::fs::rename(&tmp, path)?;
    Ok(())
}

/// Restores a checkpoint into `opt` and `rng`, checking that it is of this run.
fn load_checkpoint(
    path: &Path,
    opt: &mut ResumableAdamW,
    settings: &str,
    rng: &mut ChaCha8Rng,
) -> anyhow::Result<Resume> {
    let bytes = std::fs::read(path)?;
    // The settings first: another run's checkpoint is refused before anything is restored.
    let (_, header) = safetensors::SafeTensors::read_metadata(&bytes)?;
    let theirs = header
        .metadata()
        .as_ref()
        .and_then(|m| m.get("settings").cloned())
        .unwrap_or_default();
    anyhow::ensure!(
        theirs == settings,
        "checkpoint {} is of another run ({theirs}); pass --fresh to start this one from step 0",
        path.display(),
    );
    let meta = opt.restore(&bytes)?;
    let get = |k: &str| {
        meta.get(k)
            .cloned()
            .ok_or_else(|| anyhow::anyhow!("checkpoint {} lacks '{k}'", path.display()))
    };
    rng.set_word_pos(get("rng_word_pos")?.parse()?);
    Ok(Resume {
        step: get("step")?.parse()?,
        history: serde_json::from_str(&get("history")?)?,
        seconds: get("seconds")?.parse()?,
        last: get("last")?.parse()?,
    })
}

/// Trains a cascade, writes `<dir>/<name>.safetensors` and `<dir>/<name>.json`, prints held-out
/// quality and a quick worst-case κ at 2% and 5% on 5 held-out slices against FIRENET's.
pub fn train_net(s: &TrainNet, command: &str) -> anyhow::Result<()> {
    let n = s.side;
    anyhow::ensure!(
        n == SIDE || n == LARGE_SIDE,
        "--side is {SIDE} or {LARGE_SIDE}, not {n}"
    );
    let (train, test) = split_slices(&crate::mri::brain(LARGE_SIDE)?, n, s.split)?;
    let spec = MaskSpec {
        pattern: s.pattern,
        rate: s.rate,
        seed: 1,
    };
    anyhow::ensure!(
        s.noise.is_finite() && s.noise >= 0.0,
        "--noise must be a finite number ≥ 0, got {}",
        s.noise
    );
    anyhow::ensure!(
        (0.0..=1.0).contains(&s.kernel_detail),
        "--kernel-detail is a probability in [0, 1], got {}",
        s.kernel_detail
    );
    let m = spec.mask(n)?;
    let a = SubsampledFourier::new(m.clone())?;
    let device = Device::Cpu;
    let mut varmap = VarMap::new();
    let net = CascadeNet::new_seeded(s.shape, &m, &varmap, s.seed, DType::F32, &device)?;
    if let Some(init) = &s.init {
        let card: NetCard = serde_json::from_str(&std::fs::read_to_string(format!(
            "static/models/{init}.json"
        ))?)?;
        // The weights do not depend on the mask (the data-consistency layers take this run's),
        // so a network may start from one trained with another pattern or rate; the split must
        // be the same, or the start would have seen this run's held-out slices.
        anyhow::ensure!(
            CascadeShape::from(card.shape) == s.shape && card.side == n && card.split == s.split,
            "--init {init}: its shape {:?}, side {} and split {} differ from this run's {:?}, {n}, {}",
            card.shape,
            card.side,
            card.split.name(),
            s.shape,
            s.split.name()
        );
        if card.mask != spec {
            say!(
                "--init {init} was trained with {:?}; this run samples {spec:?}",
                card.mask
            );
        }
        varmap.load(format!("static/models/{init}.safetensors"))?;
        say!("starting from the weights of {init}");
    }
    let kernel = if s.kernel_detail > 0.0 {
        let d = KernelDetail::new(&a, &shipped_detail(n))?;
        say!(
            "kernel detail {:?}: ‖z‖ {:.3}, ‖z_N‖ {:.3}, added with probability {}",
            shipped_detail(n),
            d.z.iter().map(|v| (*v as f64).powi(2)).sum::<f64>().sqrt(),
            d.norm(),
            s.kernel_detail
        );
        Some(d)
    } else {
        None
    };
    // candle's AdamW, step for step, with moments that a checkpoint can hold.
    let mut opt = ResumableAdamW::new(
        &varmap,
        ParamsAdamW {
            lr: s.learning_rate,
            weight_decay: 0.0,
            ..Default::default()
        },
    )?;
    let mut rng = ChaCha8Rng::seed_from_u64(s.seed.wrapping_add(2));
    let settings = run_settings(s);
    std::fs::create_dir_all(&s.dir)?;
    let checkpoint = Path::new(&s.dir).join(format!("{}.checkpoint.safetensors", s.name));
    let mut run = if checkpoint.exists() && !s.fresh {
        let r = load_checkpoint(&checkpoint, &mut opt, &settings, &mut rng)?;
        say!(
            "resuming from {} at step {} of {} ({:.0} s trained so far)",
            checkpoint.display(),
            r.step,
            s.steps,
            r.seconds
        );
        r
    } else {
        Resume {
            step: 0,
            history: Vec::new(),
            seconds: 0.0,
            last: f64::NAN,
        }
    };
    let started = Instant::now();
    let before = run.seconds;
    let progress = Progress::new(
        &format!("train-net {}", s.name),
        s.steps.saturating_sub(run.step),
    );
    let first = run.step;
    for step in first..s.steps {
        let (mut zre, mut zim, mut kre, mut kim, mut truth, mut truth_im) =
            (vec![], vec![], vec![], vec![], vec![], vec![]);
        for _ in 0..s.batch {
            let mut img = train[rng.random_range(0..train.len())].clone();
            if rng.random_bool(0.5) {
                for row in img.chunks_mut(n) {
                    row.reverse();
                }
            }
            if s.lesions > 0.0 && rng.random_bool(s.lesions) {
                add_lesion(&mut img, n, &mut rng);
            }
            let mut im = vec![0.0f32; n * n];
            let mut y = match &kernel {
                // x′ = x + z_N, measured as it is (A x′ = A x up to rounding).
                Some(d) if rng.random_bool(s.kernel_detail) => {
                    let x_prime = d.add_to(&img)?;
                    let mut y = vec![Complex32::default(); a.output_len()];
                    a.apply(&x_prime, &mut y);
                    for ((re, im), v) in img.iter_mut().zip(im.iter_mut()).zip(&x_prime) {
                        (*re, *im) = (v.re, v.im);
                    }
                    y
                }
                _ => a.measure(&img),
            };
            if s.noise > 0.0 {
                let u: f64 = rng.random_range(0.0..1.0);
                let e = noise_like(&y, u * s.noise, rng.random())?;
                y.iter_mut().zip(&e).for_each(|(v, e)| *v += e);
            }
            let (zf, k) = net.inputs(&y, DType::F32, &device)?;
            zre.push(zf.0);
            zim.push(zf.1);
            kre.push(k.0);
            kim.push(k.1);
            truth.push(Tensor::from_vec(img, (1, n, n), &device)?);
            truth_im.push(Tensor::from_vec(im, (1, n, n), &device)?);
        }
        let cat = |v: &[Tensor]| Tensor::cat(v, 0);
        let out = net.forward(&(cat(&zre)?, cat(&zim)?), &(cat(&kre)?, cat(&kim)?))?;
        let loss = if kernel.is_some() {
            mse_loss_complex(&out, &(cat(&truth)?, cat(&truth_im)?))?
        } else {
            mse_loss(&out, &cat(&truth)?)?
        };
        // Cosine decay to 5% of the initial rate.
        let lr = s.learning_rate
            * (0.05
                + 0.95 * 0.5 * (1.0 + (std::f64::consts::PI * step as f64 / s.steps as f64).cos()));
        opt.set_learning_rate(lr);
        opt.backward_step(&loss)?;
        run.last = loss.to_scalar::<f32>()? as f64;
        run.step = step + 1;
        run.seconds = before + started.elapsed().as_secs_f64();
        progress.inc();
        if step % 50 == 0 || step + 1 == s.steps {
            run.history.push((step, run.last));
            say!(
                "step {step:>5}: loss {:.5} ({:.0} s)",
                run.last,
                run.seconds
            );
        }
        let stop = s.stop_after.is_some_and(|k| step + 1 - first >= k) && run.step < s.steps;
        if stop
            || (s.checkpoint_every > 0 && run.step % s.checkpoint_every == 0 && run.step < s.steps)
        {
            save_checkpoint(&checkpoint, &opt, &settings, &rng, &run)?;
        }
        if stop {
            drop(progress);
            say!(
                "stopped after step {} of {}; checkpoint {} (run the same command to go on)",
                run.step,
                s.steps,
                checkpoint.display()
            );
            return Ok(());
        }
    }
    drop(progress);
    let (seconds, last, history) = (run.seconds, run.last, run.history);
    let quality = held_out(&a, &net, &test)?;
    say!(
        "held-out ({} slices, {n}², {} {:.1}%): PSNR zero-filled {:.2} dB, FIRENET {:.2} dB, net {:.2} dB; SSIM {:.3} / {:.3} / {:.3}",
        quality.slices,
        s.pattern.title(),
        m.rate() * 100.0,
        quality.psnr_zero_filled,
        quality.psnr_firenet,
        quality.psnr_net,
        quality.ssim_zero_filled,
        quality.ssim_firenet,
        quality.ssim_net
    );
    let weights = varmap_to_safetensors(&varmap)?;
    let parameters = varmap
        .all_vars()
        .iter()
        .map(|v| v.as_tensor().elem_count())
        .sum();
    let card = NetCard {
        name: s.name.clone(),
        title: format!(
            "Deep cascade ({} × CNN + data consistency){}, {}{}",
            s.shape.cascades,
            if n == SIDE { String::new() } else { format!(", {n}²") },
            s.pattern.share(m.rate()),
            match (s.noise > 0.0, kernel.is_some()) {
                (true, true) => ", noisy measurements and kernel details in training",
                (true, false) => ", trained with measurement noise",
                (false, true) => ", kernel details in training",
                (false, false) => "",
            }
        ),
        architecture: format!(
            "{} cascades of {} 3×3 convolutions ({} channels, ReLU, residual) each followed by a data-consistency layer (Schlemper et al. 2018)",
            s.shape.cascades, s.shape.layers, s.shape.channels
        ),
        shape: CascadeShapeCard::from(s.shape),
        side: n,
        mask: spec,
        split: s.split,
        parameters,
        weights_bytes: weights.len(),
        held_out: quality,
        training: NetTraining {
            steps: s.steps,
            batch: s.batch,
            learning_rate: s.learning_rate,
            seed: s.seed,
            seconds,
            final_loss: last,
            history,
            data: format!(
                "MNI ICBM152 2009a T1 template slices (nilearn), {}; random left-right flips; {}{}{}{}",
                match (n == SIDE, s.split) {
                    (true, Split::Interleaved) => "128² halved to 64², held-out slices i % 4 == 2 excluded".to_string(),
                    (size, split) => format!(
                        "{}, the {} split: trained on slices i % 8 ∈ {{0, 1, 7}} of each orientation ({} slices), i % 8 == 4 held out, the two slices on each side of a held-out one unused",
                        if size { "128² halved to 64²" } else { "128²" },
                        split.name(),
                        train.len()
                    ),
                },
                if s.noise > 0.0 {
                    format!("measurement noise y = Ax + e, complex Gaussian e with ‖e‖ = u·{}·‖Ax‖, u ~ U[0, 1] per image (seeded); the network sees A*y and k₀ = y", s.noise)
                } else {
                    "noise-free measurements".into()
                },
                if s.lesions > 0.0 { format!("; small random lesions (discs of radius 1.5–3 px, contrast ±0.15–0.35) added with probability {}", s.lesions) } else { String::new() },
                if kernel.is_some() { format!("; with probability {} the image x is replaced by x + z_N (target and measurements; complex), z_N = z − A*Az the kernel component of one fixed detail z = {:?}", s.kernel_detail, shipped_detail(n)) } else { String::new() },
                match &s.init { Some(init) => format!("; fine-tuned from the weights of {init} (whose own training is in its card)"), None => String::new() }
            ),
            trained_with: "candle 0.11 on CPU (2 cores), f32, AdamW".into(),
            command: command.into(),
            init: s.init.clone(),
            noise: (s.noise > 0.0).then_some(s.noise),
            kernel_detail: kernel.as_ref().map(|_| KernelCurriculum {
                probability: s.kernel_detail,
                detail: shipped_detail(n),
            }),
        },
    };
    let dir = Path::new(&s.dir);
    std::fs::write(dir.join(format!("{}.safetensors", s.name)), &weights)?;
    crate::write_json(dir.join(format!("{}.json", s.name)), &card)?;
    if checkpoint.exists() {
        std::fs::remove_file(&checkpoint)?;
    }
    let fire = FirenetSetting::new(&barriers_lab::engine::CpuEngine, n)?;
    let b = fire.sampling(&a)?;
    let firenet = fire.reconstructor(&b);
    for x in test.iter().take(5) {
        let tn = InstabilityTest::new(&a, &net, x)?;
        let tf = InstabilityTest::new(&a, &firenet, x)?;
        say!(
            "  kappa at 2%: net {:.2}, FIRENET {:.2}; at 5%: net {:.2}, FIRENET {:.2}",
            tn.at_fixed_norm(0.02, 20, 1)?.kappa,
            tf.at_fixed_norm(0.02, 20, 1)?.kappa,
            tn.at_fixed_norm(0.05, 20, 1)?.kappa,
            tf.at_fixed_norm(0.05, 20, 1)?.kappa
        );
    }
    Ok(())
}

/// The relative norms `‖r‖/‖x‖` of the full comparison (the acceptance bar is at ≤ 5%); they
/// are among the curve's.
const NORMS: [f64; 2] = [0.02, 0.05];
/// The relative norms of the error curve.
const CURVE: [f64; 6] = [0.005, 0.01, 0.02, 0.03, 0.05, 0.08];
/// Iterations of every fixed-norm search (the same budget for each method).
pub const FIXED_ITERATIONS: usize = 20;
/// The ascent's snapshots: the first iterates past these relative norms.
const SNAPSHOTS: [f64; 3] = [0.01, 0.02, 0.04];
/// A change is structure when at least this share of its energy lies in one window (fixed
/// before any network was measured; a change spread evenly puts 3.5% there).
pub const STRUCTURE_SHARE: f64 = 0.25;
/// Held-out slices of the report: two in each orientation, at these positions of its held-out
/// list (interleaved split: 10 axial, 4 coronal, 4 sagittal held out) …
const REPORT_POSITIONS: [usize; 2] = [2, 3];
/// … and of the separated split's lists (5 axial: the two mid-brain ones, 20 and 28; 2
/// coronal and 2 sagittal: both). The first of each orientation is a demo slice.
const SEPARATED_POSITIONS: [[usize; 2]; 3] = [[2, 3], [0, 1], [0, 1]];

/// The positions in each orientation's held-out list of the report slices of `split`.
fn report_positions(split: Split) -> [[usize; 2]; 3] {
    match split {
        Split::Interleaved => [REPORT_POSITIONS; 3],
        Split::Separated => SEPARATED_POSITIONS,
    }
}

/// The report's held-out slices (two per orientation, [`report_positions`]), for the
/// instability report and the trade-off.
pub fn report_ids(
    brain: &barriers_lab::mri::brain::BrainSlices,
    split: Split,
) -> Vec<barriers_lab::mri::brain::SliceId> {
    let tests = brain.slices(split, Role::Test);
    let mut ids = Vec::new();
    for (o, positions) in brain
        .orientations()
        .into_iter()
        .zip(report_positions(split))
    {
        let of: Vec<_> = tests.iter().filter(|id| id.orientation == o).collect();
        for p in positions {
            ids.push(*of[p]);
        }
    }
    ids
}

/// What `r` does to the method of `test` (whose clean output `Ψ(Ax)` it already holds).
fn effect(
    test: &InstabilityTest,
    a: &SubsampledFourier,
    psi: &dyn Reconstructor,
    x: &[f32],
    r: &[f32],
) -> anyhow::Result<Effect> {
    Ok(Effect::from(&outcome(a, psi, x, test.clean(), r)?))
}

/// Measures every listed network (cards and weights in `static/models`) against FIRENET on the
/// report's held-out slices; writes `static/reports/instability.json` and the demo's
/// perturbations `static/data/mri/perturbations.safetensors`.
pub fn instability_report(dir: &str, names: &[String], add: bool) -> anyhow::Result<()> {
    use barriers_lab::mri::instability::{Ascent, ZeroFilling};
    let started = Instant::now();
    let ReportSetting {
        side,
        split,
        brain,
        held,
        ids,
        images,
    } = ReportSetting::of(dir, names)?;
    let tests = brain.slices(split, Role::Test);
    // With `add`, keep the networks already in the report (and their perturbations) that are
    // not measured again now.
    let (mut shipped, mut reports) = if add {
        let old = barriers_lab::mri::learned::hallucination::InstabilityReport::from_json(
            &std::fs::read_to_string("static/reports/instability.json")?,
        )?;
        let mut shipped = Perturbations::from_safetensors(&std::fs::read(
            "static/data/mri/perturbations.safetensors",
        )?)?;
        shipped.retain(|key| {
            !names.iter().any(|n| {
                key.starts_with(&format!("{n}/")) || key.starts_with(&format!("firenet@{n}/"))
            })
        });
        let kept: Vec<NetReport> = old
            .networks
            .into_iter()
            .filter(|n| !names.contains(&n.name))
            .map(|mut n| {
                n.verdict = verdict([n.psnr_net, n.psnr_zero_filled, n.psnr_firenet], &n.slices);
                n
            })
            .collect();
        (shipped, kept)
    } else {
        (Perturbations::default(), Vec::new())
    };
    let ascent = Ascent {
        tau: 1e-3,
        iterations: 60,
        ..Ascent::default()
    };
    // One unit per network and report slice.
    let progress = Progress::new("instability-report", names.len() * ids.len());
    for name in names {
        progress.message(name.as_str());
        let (card, net, a) = load_net(dir, name)?;
        let fire = FirenetSetting::new(&barriers_lab::engine::CpuEngine, side)?;
        let b = fire.sampling(&a)?;
        let firenet = fire.reconstructor(&b);
        let zf = ZeroFilling(&a);
        let quality = held_out(&a, &net, &held)?;
        let useful = is_useful(
            quality.psnr_net,
            quality.psnr_zero_filled,
            quality.psnr_firenet,
        );
        let mut slices_out = Vec::new();
        for (k, (id, x)) in ids.iter().zip(&images).enumerate() {
            let tn = InstabilityTest::new(&a, &net, x)?;
            let tf = InstabilityTest::new(&a, &firenet, x)?;
            let tz = InstabilityTest::new(&a, &zf, x)?;
            let seed = 100 + k as u64;
            let mut at = Vec::new();
            let mut curve = Vec::new();
            for rho in CURVE {
                let rn = tn.at_fixed_norm(rho, FIXED_ITERATIONS, seed)?;
                let rf = tf.at_fixed_norm(rho, FIXED_ITERATIONS, seed)?;
                let rz = tz.at_fixed_norm(rho, FIXED_ITERATIONS, seed)?;
                let g = gaussian_like(&rn.r, seed + 1000);
                let en = effect(&tn, &a, &net, x, &rn.r)?;
                let eg = effect(&tn, &a, &net, x, &g)?;
                let ef = effect(&tf, &a, &firenet, x, &rf.r)?;
                let efg = effect(&tf, &a, &firenet, x, &g)?;
                curve.push(CurvePoint {
                    rel_r: rho,
                    net_worst: en.error,
                    net_random: eg.error,
                    firenet_worst: ef.error,
                    firenet_random: efg.error,
                    zero_filled_worst: effect(&tz, &a, &zf, x, &rz.r)?.error,
                });
                if !NORMS.contains(&rho) {
                    continue;
                }
                let meets_bar = useful
                    && en.kappa >= 2.0 * ef.kappa
                    && en.share >= STRUCTURE_SHARE
                    && eg.kappa < 1.0
                    && en.error > ef.error;
                say!(
                    "{name} {id} at {:.0}%: kappa net {:.2} (random {:.2}), FIRENET {:.2} (random {:.2}), zero-filling {:.3}; share net {:.2} (random {:.2}), FIRENET {:.2}; worst-case error net {:.3}, FIRENET {:.3}{}",
                    rho * 100.0, en.kappa, eg.kappa, ef.kappa, efg.kappa, rz.kappa, en.share, eg.share, ef.share, en.error, ef.error,
                    if meets_bar { "  <- meets the bar" } else { "" }
                );
                at.push(AtNorm {
                    rel_r: en.rel_r,
                    kappa_net: en.kappa,
                    kappa_firenet: ef.kappa,
                    kappa_net_random: eg.kappa,
                    kappa_firenet_random: efg.kappa,
                    kappa_zero_filled: rz.kappa,
                    share_net: en.share,
                    share_net_random: eg.share,
                    share_firenet: ef.share,
                    window_net: en.window,
                    error_net: Some(en.error),
                    error_firenet: Some(ef.error),
                    meets_bar,
                });
            }
            // The momentum ascent and its snapshots.
            let probes = tn.ascend(&Ascent { seed, ..ascent }, |_, p| {
                p.relative_norm < SNAPSHOTS[SNAPSHOTS.len() - 1]
            })?;
            let mut snaps: Vec<Vec<f32>> = Vec::new();
            for target in SNAPSHOTS {
                let p = probes
                    .iter()
                    .find(|p| p.relative_norm >= target)
                    .or(probes.last())
                    .ok_or_else(|| anyhow::anyhow!("the ascent made no iterate"))?;
                snaps.push(p.r.clone());
            }
            let mut ascent_effects = Vec::new();
            let mut fixed = Vec::new();
            let mut fire_snaps = Vec::new();
            for r in &snaps {
                let e = effect(&tn, &a, &net, x, r)?;
                fixed.push(tn.at_fixed_norm(e.rel_r, FIXED_ITERATIONS, seed)?.kappa);
                fire_snaps.push(tf.at_fixed_norm(e.rel_r, FIXED_ITERATIONS, seed)?.r);
                ascent_effects.push(e);
            }
            // The same ascent against FIRENET, its snapshots past the same norms.
            let fire_probes = tf.ascend(&Ascent { seed, ..ascent }, |_, p| {
                p.relative_norm < SNAPSHOTS[SNAPSHOTS.len() - 1]
            })?;
            let mut ascent_firenet = Vec::new();
            for target in SNAPSHOTS {
                if let Some(p) = fire_probes
                    .iter()
                    .find(|p| p.relative_norm >= target)
                    .or(fire_probes.last())
                {
                    ascent_firenet.push(effect(&tf, &a, &firenet, x, &p.r)?);
                }
            }
            if report_positions(split)[id.orientation as usize][0] == id_position(&tests, id) {
                shipped.insert(&format!("{name}/{id}"), &snaps);
                shipped.insert(&format!("firenet@{name}/{id}"), &fire_snaps);
            }
            slices_out.push(SliceReport {
                slice: id.to_string(),
                at,
                ascent: ascent_effects,
                fixed_at_ascent_norms: fixed,
                ascent_firenet,
                curve,
            });
            progress.inc();
        }
        let hallucinating = useful
            && NORMS.iter().enumerate().any(|(j, _)| {
                slices_out.iter().filter(|s| s.at[j].meets_bar).count()
                    >= slices_needed(slices_out.len())
            });
        let verdict = verdict(
            [
                quality.psnr_net,
                quality.psnr_zero_filled,
                quality.psnr_firenet,
            ],
            &slices_out,
        );
        say!("{name}: {verdict}");
        reports.push(NetReport {
            name: name.clone(),
            title: card.title.clone(),
            psnr_zero_filled: quality.psnr_zero_filled,
            psnr_firenet: quality.psnr_firenet,
            psnr_net: quality.psnr_net,
            useful,
            hallucinating,
            verdict,
            slices: slices_out,
        });
    }
    drop(progress);
    // The checks that can fail: zero-filling's worst case is κ = 1, and the fixed-norm search
    // finds at least the ascent's κ at the same norm.
    let zf_kappas: Vec<f64> = reports
        .iter()
        .flat_map(|r| {
            r.slices
                .iter()
                .flat_map(|s| s.at.iter().map(|a| a.kappa_zero_filled))
        })
        .collect();
    let zf_range = (
        zf_kappas.iter().cloned().fold(f64::INFINITY, f64::min),
        zf_kappas.iter().cloned().fold(f64::NEG_INFINITY, f64::max),
    );
    let fixed_beats_ascent = reports.iter().all(|r| {
        r.slices.iter().all(|s| {
            s.ascent
                .iter()
                .zip(&s.fixed_at_ascent_norms)
                .all(|(e, f)| *f >= e.kappa * 0.99)
        })
    });
    say!(
        "checks: zero-filling kappa in [{:.4}, {:.4}]; fixed-norm >= ascent: {fixed_beats_ascent}",
        zf_range.0,
        zf_range.1
    );
    let hallucinating: Vec<&str> = reports
        .iter()
        .filter(|r| r.hallucinating)
        .map(|r| r.name.as_str())
        .collect();
    let json = serde_json::json!({
        "generated_by": "cargo run --release --bin lab -- instability-report",
        "side": side,
        "split": split.name(),
        "slices": ids.iter().map(|id| id.to_string()).collect::<Vec<_>>(),
        "demo_slices": ids.iter().filter(|id| id_position(&tests, id) == report_positions(split)[id.orientation as usize][0]).map(|id| id.to_string()).collect::<Vec<_>>(),
        "search": {
            "fixed_norm": { "iterations": FIXED_ITERATIONS, "norms": NORMS, "note": "projected gradient ascent on the sphere ‖r‖ = ρ‖x‖ from a seeded uniform start; the same budget for every method" },
            "ascent": { "lambda": ascent.lambda, "eta": ascent.eta, "gamma": ascent.gamma, "tau": ascent.tau, "max_iterations": ascent.iterations, "snapshots_at": SNAPSHOTS },
            "random": "Gaussian noise of the same norm as the worst case (seeded)",
        },
        "firenet": { "wavelet": firenet_wavelet(side).0.name(), "levels": firenet_wavelet(side).1, "settings": format!("{:?}", barriers_lab::mri::firenet::Firenet::default()) },
        "structure": { "window": window_for(side), "share_threshold": STRUCTURE_SHARE, "uniform_share": (window_for(side) as f64).powi(2) / (side * side) as f64 },
        "bar": format!("useful (held-out PSNR ≥ zero-filled + {USEFUL_GAIN_DB} dB and ≥ FIRENET − {USEFUL_BELOW_FIRENET_DB} dB) and, at one norm ≤ 5%, on {} of the {} report slices: κ_net ≥ 2 κ_FIRENET, share_net ≥ share_threshold, κ_net_random < 1, and the network's worst-case error above FIRENET's", slices_needed(ids.len()), ids.len()),
        "checks": {
            "zero_filling_kappa": [zf_range.0, zf_range.1],
            "zero_filling_kappa_is_one": (zf_range.0 - 1.0).abs() <= 0.02 && (zf_range.1 - 1.0).abs() <= 0.02,
            "fixed_norm_at_least_ascent": fixed_beats_ascent,
        },
        "hallucinating": hallucinating,
        "networks": reports,
        "seconds": started.elapsed().as_secs_f64(),
    });
    crate::write_json("static/reports/instability.json", &json)?;
    std::fs::write(
        "static/data/mri/perturbations.safetensors",
        shipped.to_safetensors()?,
    )?;

    say!(
        "wrote static/reports/instability.json and static/data/mri/perturbations.safetensors ({:.0} s)",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

fn id_position(
    tests: &[barriers_lab::mri::brain::SliceId],
    id: &barriers_lab::mri::brain::SliceId,
) -> usize {
    tests
        .iter()
        .filter(|t| t.orientation == id.orientation)
        .position(|t| t == id)
        .unwrap_or(usize::MAX)
}

fn verdict(psnr: [f64; 3], slices: &[SliceReport]) -> String {
    let mean = |j: usize, f: fn(&AtNorm) -> f64| {
        slices.iter().map(|s| f(&s.at[j])).sum::<f64>() / slices.len() as f64
    };
    let figures = NORMS
        .iter()
        .enumerate()
        .map(|(j, rho)| {
            format!(
                "at ‖r‖/‖x‖ = {:.0}%: mean κ {:.2} against FIRENET's {:.2}, Gaussian {:.2}, share in one window {:.2}",
                rho * 100.0,
                mean(j, |a| a.kappa_net),
                mean(j, |a| a.kappa_firenet),
                mean(j, |a| a.kappa_net_random),
                mean(j, |a| a.share_net)
            )
        })
        .collect::<Vec<_>>()
        .join("; ");
    let quality = format!(
        "held-out PSNR {:.2} dB against zero-filling's {:.2} and FIRENET's {:.2}",
        psnr[0], psnr[1], psnr[2]
    );
    let share = |j: usize| slices.iter().filter(|s| s.at[j].meets_bar).count();
    let bar = NORMS
        .iter()
        .enumerate()
        .map(|(j, rho)| {
            format!(
                "{} of {} slices at {:.0}%",
                share(j),
                slices.len(),
                rho * 100.0
            )
        })
        .collect::<Vec<_>>()
        .join(", ");
    format!("{quality}; {figures}; the bar is met on {bar}.")
}

/// Times one reconstruction and one instability-test iteration (forward, backward, probe) of
/// each shipped network and of FIRENET in its setting, natively, on the first demo slice.
pub fn bench_instability(dir: &str, names: &[String], repeats: usize) -> anyhow::Result<()> {
    use barriers_lab::mri::instability::FixedNormSearch;
    let report: barriers_lab::mri::learned::hallucination::InstabilityReport =
        serde_json::from_str(&std::fs::read_to_string("static/reports/instability.json")?)?;
    let brain = crate::mri::brain(128)?;
    let id = barriers_lab::mri::brain::SliceId::from_name(&report.demo_slices[0])?;
    let x = halve(&brain.image(id)?, 128)?;
    let repeats = repeats.max(3);
    for name in names {
        let (card, net, a) = load_net(dir, name)?;
        let fire = FirenetSetting::new(&barriers_lab::engine::CpuEngine, card.side)?;
        let b = fire.sampling(&a)?;
        let firenet = fire.reconstructor(&b);
        let y = a.measure(&x);
        for (label, psi) in [
            (name.as_str(), &net as &dyn Reconstructor),
            ("firenet", &firenet),
        ] {
            let forward: Vec<f64> = (0..repeats)
                .map(|_| {
                    let t = Instant::now();
                    psi.reconstruct(&y).map(|_| t.elapsed().as_secs_f64() * 1e3)
                })
                .collect::<Result<_, _>>()?;
            let test = InstabilityTest::new(&a, psi, &x)?;
            let mut search = FixedNormSearch::new(&test, 0.02, 1)?;
            let mut iteration = Vec::with_capacity(repeats);
            for _ in 0..repeats {
                let t = Instant::now();
                search.step()?;
                iteration.push(t.elapsed().as_secs_f64() * 1e3);
            }
            let (fm, fp) = median_p95(&forward);
            let (im, ip) = median_p95(&iteration);
            say!(
                "native {label} ({}², with {name}'s mask) forward median {fm:.2} ms p95 {fp:.2} ms; iteration median {im:.2} ms p95 {ip:.2} ms",
                card.side
            );
        }
    }
    Ok(())
}

/// `lab sampling-sweep`: every shipped network (weights fixed) and FIRENET and zero-filling at
/// the rates of [`barriers_lab::mri::learned::sweep::RATES`] through nested masks with the networks' pattern
/// and seed; mean held-out PSNR ([`barriers_lab::mri::learned::sweep::Sweep`], as in the browser's worker);
/// writes `static/reports/sampling_sweep.json` unless `write` is false; prints the time of the
/// sweep and of one step (one held-out slice at one rate, every method), median and p95.
pub fn sampling_sweep(dir: &str, names: &[String], write: bool) -> anyhow::Result<()> {
    use barriers_lab::mri::learned::sweep::{Sweep, SweepReport, SweepSource, RATES};
    let setting = ReportSetting::of(dir, names)?;
    let (side, test) = (setting.side, setting.held);
    let cards: Vec<(NetCard, Vec<u8>)> = names
        .iter()
        .map(|n| -> anyhow::Result<_> {
            let card: NetCard = serde_json::from_slice(&std::fs::read(format!("{dir}/{n}.json"))?)?;
            let weights = std::fs::read(format!("{dir}/{n}.safetensors"))?;
            Ok((card, weights))
        })
        .collect::<anyhow::Result<_>>()?;
    let sources: Vec<SweepSource> = cards
        .iter()
        .map(|(card, weights)| SweepSource { card, weights })
        .collect();
    let mut sweep = Sweep::new(
        &barriers_lab::engine::CpuEngine,
        &sources,
        test.iter().map(|x| &x[..]).collect(),
        &RATES,
        side,
    )?;
    let all = Instant::now();
    let mut start = Instant::now();
    let mut steps = Vec::new();
    // One unit per held-out slice at one rate.
    let progress = Progress::new("sampling-sweep", RATES.len() * sweep.slices());
    while !sweep.is_done() {
        let step = Instant::now();
        let finished = sweep.step()?;
        steps.push(step.elapsed().as_secs_f64() * 1e3);
        progress.inc();
        if let Some(p) = finished {
            say!(
                "rate {:.3} (sampled {:.3}): zero-filled {:.2} dB, FIRENET {:.2} dB, {} ({:.1} s)",
                p.rate,
                p.sampled,
                p.zero_filled,
                p.firenet,
                names
                    .iter()
                    .zip(&p.nets)
                    .map(|(n, v)| format!("{n} {v:.2} dB"))
                    .collect::<Vec<_>>()
                    .join(", "),
                start.elapsed().as_secs_f64()
            );
            start = Instant::now();
        }
    }
    drop(progress);
    let seconds = all.elapsed().as_secs_f64();
    let (median, p95) = median_p95(&steps);
    say!(
        "native sweep {seconds:.1} s ({} rates, {} held-out slices); one slice at one rate median {median:.1} ms p95 {p95:.1} ms",
        RATES.len(),
        test.len()
    );
    if !write {
        return Ok(());
    }
    let report = SweepReport::from_points(
        &sources,
        sweep.points(),
        test.len(),
        side,
        format!(
            "cargo run --release --bin lab -- sampling-sweep --nets {}",
            names.join(",")
        ),
    )?;
    let path = "static/reports/sampling_sweep.json";
    crate::write_json(path, &report)?;
    say!("wrote {path}");
    Ok(())
}

/// What every report of one setting shares: the networks' side and split (every listed network
/// must have the same; one report holds one setting), the held-out images of the split at that
/// side, and the report slices ([`report_ids`]) with their images.
pub struct ReportSetting {
    pub side: usize,
    pub split: Split,
    pub brain: barriers_lab::mri::brain::BrainSlices,
    pub held: Vec<Vec<f32>>,
    pub ids: Vec<barriers_lab::mri::brain::SliceId>,
    pub images: Vec<Vec<f32>>,
}

impl ReportSetting {
    /// The setting of the networks `names` (cards in `dir`); an error names the first network
    /// whose side or split differs from the first one's.
    pub fn of(dir: &str, names: &[String]) -> anyhow::Result<Self> {
        let first = load_card(dir, names.first().map_or("", String::as_str))?;
        let (side, split) = (first.side, first.split);
        for name in names {
            let card = load_card(dir, name)?;
            anyhow::ensure!(
                (card.side, card.split) == (side, split),
                "{name} is a {}² network of the {} split, {} is {side}² of the {} split: one report holds one setting",
                card.side,
                card.split.name(),
                first.name,
                split.name()
            );
        }
        let brain = crate::mri::brain(LARGE_SIDE)?;
        let ids = report_ids(&brain, split);
        let images = ids
            .iter()
            .map(|id| Ok(slice_at(&brain, *id, side)?))
            .collect::<anyhow::Result<_>>()?;
        let (_, held) = split_slices(&brain, side, split)?;
        Ok(Self {
            side,
            split,
            brain,
            held,
            ids,
            images,
        })
    }

    /// The image of the slice named `name` (as `axial 20`) at the setting's side.
    pub fn image(&self, name: &str) -> anyhow::Result<Vec<f32>> {
        Ok(slice_at(
            &self.brain,
            barriers_lab::mri::brain::SliceId::from_name(name)?,
            self.side,
        )?)
    }
}

/// The card of the shipped network `name` in `dir` (`<name>.json`).
pub fn load_card(dir: &str, name: &str) -> anyhow::Result<NetCard> {
    Ok(serde_json::from_str(&std::fs::read_to_string(format!(
        "{dir}/{name}.json"
    ))?)?)
}

/// The shipped network `name` in `dir` (`<name>.json` and `<name>.safetensors`): its card, the
/// network and its sampling operator.
pub fn load_net(
    dir: &str,
    name: &str,
) -> anyhow::Result<(
    NetCard,
    barriers_lab::mri::learned::cascade::CascadeNet,
    SubsampledFourier,
)> {
    let card = load_card(dir, name)?;
    let (net, m) = card.load(&std::fs::read(format!("{dir}/{name}.safetensors"))?)?;
    Ok((card, net, SubsampledFourier::new(m)?))
}
