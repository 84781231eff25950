//! `lab tradeoff`: accuracy (clean held-out PSNR) against worst-case amplification κ for every
//! reconstruction method of the lab: `static/reports/tradeoff.json`.

use crate::hallucination::{ReportSetting, FIXED_ITERATIONS};
use crate::progress::{say, Progress};
use barriers_lab::mri::instability::{InstabilityTest, Reconstructor, ZeroFilling};
use barriers_lab::mri::learned::hallucination::{
    firenet_wavelet, gaussian_like, FirenetSetting, NetCard,
};
use barriers_lab::mri::learned::tradeoff::{
    held_out_quality, mean_max, TradeoffPoint, TradeoffReport,
};
use barriers_lab::mri::learned::warm_start::WarmStart;
use barriers_lab::mri::operator::SubsampledFourier;
use std::time::Instant;

/// `‖r‖/‖x‖` of the worst-case search (as the instability report's 2%).
pub const RHO: f64 = 0.02;
/// Slice `k` of the report is searched with seed `SEED_BASE + k`, its Gaussian noise with
/// `SEED_BASE + k + 1000` (the instability report's seeds).
pub const SEED_BASE: u64 = 100;
/// Where the report is written.
pub const PATH: &str = "static/reports/tradeoff.json";

/// The networks of the default report (cards in the models directory): the 128² setting.
pub const NETS: [&str; 2] = ["cascade-128", "cascade-128-kernel"];

/// Whether the FIRENET warm start of `net` (`warm_start::WarmStart`, Ψ → FIRENET with the same
/// data) is a point of its own, named `warm-<net>`: every network that is not a fine-tuned
/// variant (`-noise`, `-kernel`) of another.
fn warm(net: &str) -> bool {
    !(net.ends_with("-noise") || net.ends_with("-kernel"))
}

/// The suffix of zero-filling's and FIRENET's points at `rate`: none at `main` (the first
/// network's rate), else the rate in percent (`-8` for 7.8% of lines).
fn suffix(rate: f64, main: f64) -> String {
    if (rate - main).abs() < 1e-9 {
        String::new()
    } else {
        format!("-{}", (rate * 100.0).round())
    }
}

/// How a network was trained, in one line, from its card.
fn training(card: &NetCard) -> String {
    let t = &card.training;
    let mut s = match &t.init {
        Some(init) => format!("fine-tuned from {init}: "),
        None => String::new(),
    };
    s += &format!(
        "{} steps, batch {}, learning rate {}",
        t.steps, t.batch, t.learning_rate
    );
    if let Some(noise) = t.noise {
        s += &format!(", measurement noise ‖e‖ = u·{noise}·‖Ax‖");
    }
    if let Some(k) = &t.kernel_detail {
        s += &format!(", kernel detail z_N added with P = {}", k.probability);
    }
    s + &format!(" ({:.0} s on the CPU)", t.seconds)
}

/// One method: its clean held-out quality and its worst-case and Gaussian κ on each report
/// slice.
#[allow(clippy::too_many_arguments)]
pub fn measure(
    name: &str,
    title: &str,
    training: &str,
    kind: &str,
    a: &SubsampledFourier,
    psi: &dyn Reconstructor,
    held: &[Vec<f32>],
    report_images: &[Vec<f32>],
) -> anyhow::Result<TradeoffPoint> {
    let started = Instant::now();
    let (psnr, ssim) = held_out_quality(a, psi, held, a.mask().side())?;
    let (mut kappa, mut kappa_gaussian) = (Vec::new(), Vec::new());
    for (k, x) in report_images.iter().enumerate() {
        let seed = SEED_BASE + k as u64;
        let test = InstabilityTest::new(a, psi, x)?;
        let worst = test.at_fixed_norm(RHO, FIXED_ITERATIONS, seed)?;
        let g = gaussian_like(&worst.r, seed + 1000);
        kappa_gaussian.push(test.probe(g)?.kappa);
        kappa.push(worst.kappa);
    }
    let (kappa_mean, kappa_max) = mean_max(&kappa);
    let (kappa_gaussian_mean, _) = mean_max(&kappa_gaussian);
    let point = TradeoffPoint {
        name: name.into(),
        title: title.into(),
        kind: kind.into(),
        rate: a.mask().rate(),
        psnr,
        ssim,
        kappa,
        kappa_mean,
        kappa_max,
        kappa_gaussian,
        kappa_gaussian_mean,
        seconds: started.elapsed().as_secs_f64(),
        training: training.into(),
    };
    say!(
        "{name:<20} rate {:.3}: PSNR {psnr:.2} dB, SSIM {ssim:.3}; κ mean {kappa_mean:.3} max {kappa_max:.3} ({}); Gaussian κ {kappa_gaussian_mean:.3} ({:.0} s)",
        point.rate,
        point.kappa.iter().map(|k| format!("{k:.2}")).collect::<Vec<_>>().join(" "),
        point.seconds
    );
    Ok(point)
}

/// Measures the listed points (`only`; all when empty), keeping the other points of the report
/// at `out` with `add`, and writes `out` ([`PATH`] for the shipped report).
pub fn tradeoff(
    dir: &str,
    nets: &[String],
    only: &[String],
    add: bool,
    out: &str,
) -> anyhow::Result<()> {
    let started = Instant::now();
    let setting = ReportSetting::of(dir, nets)?;
    let (side, held, report_images) = (setting.side, &setting.held, &setting.images);
    let (wavelet, levels) = firenet_wavelet(side);
    let wanted = |name: &str| only.is_empty() || only.iter().any(|o| o == name);
    let cards: Vec<(NetCard, Vec<u8>)> = nets
        .iter()
        .map(|n| -> anyhow::Result<_> {
            Ok((
                serde_json::from_str(&std::fs::read_to_string(format!("{dir}/{n}.json"))?)?,
                std::fs::read(format!("{dir}/{n}.safetensors"))?,
            ))
        })
        .collect::<anyhow::Result<_>>()?;
    let mut points = Vec::new();
    // Zero-filling and FIRENET at every rate of the networks (the suffix names the rate's
    // network family: `-8` for 7.8% of lines).
    let mut specs: Vec<_> = cards.iter().map(|(c, _)| c.mask).collect();
    let main = specs.first().map_or(0.0, |spec| spec.rate);
    specs.dedup();
    specs.sort_by(|p, q| q.rate.total_cmp(&p.rate));
    specs.dedup();
    let warm_cards = || cards.iter().filter(|(c, _)| warm(&c.name));
    // One unit per point measured.
    let planned = specs
        .iter()
        .flat_map(|spec| {
            let suffix = suffix(spec.rate, main);
            [format!("zero-filling{suffix}"), format!("firenet{suffix}")]
        })
        .chain(cards.iter().map(|(c, _)| c.name.clone()))
        .chain(warm_cards().map(|(c, _)| format!("warm-{}", c.name)))
        .filter(|name| wanted(name))
        .count();
    let progress = Progress::new("tradeoff", planned);
    for spec in specs {
        let a = SubsampledFourier::new(spec.mask(side)?)?;
        let suffix = suffix(spec.rate, main);
        let zf = format!("zero-filling{suffix}");
        if wanted(&zf) {
            progress.message(zf.as_str());
            points.push(measure(
                &zf,
                &format!("Zero-filling A*y, {}", spec.pattern.share(a.mask().rate())),
                "",
                "linear",
                &a,
                &ZeroFilling(&a),
                held,
                report_images,
            )?);
            progress.inc();
        }
        let fire_name = format!("firenet{suffix}");
        if wanted(&fire_name) {
            progress.message(fire_name.as_str());
            let fire = FirenetSetting::new(&barriers_lab::engine::CpuEngine, side)?;
            let b = fire.sampling(&a)?;
            points.push(measure(
                &fire_name,
                &format!(
                    "FIRENET ({}, {levels} levels, unit weights), {}",
                    wavelet.name(),
                    spec.pattern.share(a.mask().rate())
                ),
                "",
                "unrolled",
                &a,
                &fire.reconstructor(&b),
                held,
                report_images,
            )?);
            progress.inc();
        }
    }
    for (card, weights) in &cards {
        if !wanted(&card.name) {
            continue;
        }
        progress.message(card.name.as_str());
        let (net, m) = card.load(weights)?;
        let a = SubsampledFourier::new(m)?;
        points.push(measure(
            &card.name,
            &card.title,
            &training(card),
            "trained",
            &a,
            &net,
            held,
            report_images,
        )?);
        progress.inc();
    }
    for (card, weights) in warm_cards() {
        let name = format!("warm-{}", card.name);
        if !wanted(&name) {
            continue;
        }
        progress.message(name.as_str());
        let (net, m) = card.load(weights)?;
        let a = SubsampledFourier::new(m)?;
        let fire = FirenetSetting::new(&barriers_lab::engine::CpuEngine, side)?;
        let b = fire.sampling(&a)?;
        let warm = WarmStart::new(&net, &fire, &b);
        points.push(measure(
            &name,
            &format!(
                "FIRENET warm-started from {} (Ψ → FIRENET, same data), {}",
                card.name,
                card.mask.pattern.share(a.mask().rate())
            ),
            &format!(
                "{}; then FIRENET's {} blocks × {} layers from ψ₀ = WΨ(y), ε₀ = ‖y‖ (no training)",
                training(card),
                warm.firenet.blocks,
                warm.firenet.layers_per_block
            ),
            "warm start",
            &a,
            &warm,
            held,
            report_images,
        )?);
        progress.inc();
    }
    drop(progress);
    if add {
        let old = TradeoffReport::from_json(&std::fs::read(out)?)?;
        for p in old.points {
            if !points.iter().any(|q| q.name == p.name) {
                points.push(p);
            }
        }
    }
    let mut report = TradeoffReport {
        side,
        split: setting.split,
        rel_r: RHO,
        iterations: FIXED_ITERATIONS,
        seed_base: SEED_BASE,
        slices: setting.ids.iter().map(|id| id.to_string()).collect(),
        psnr_slices: held.len(),
        points,
        summary: String::new(),
        command: format!(
            "cargo run --release --bin lab -- tradeoff --nets {}",
            nets.join(",")
        ),
    };
    report.sort();
    report.summary = report.findings();
    say!("{}", report.summary);
    crate::write_json(out, &report)?;
    say!("wrote {out} ({:.0} s)", started.elapsed().as_secs_f64());
    Ok(())
}
