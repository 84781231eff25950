//! `lab universal`: universal perturbations of the shipped classifiers (Moosavi-Dezfooli et al.,
//! CVPR 2017) on the first training digits, each one's fooling rate on the held-out digits beside
//! a random perturbation of the same norm, and the transfer table (rows: computed on, columns:
//! evaluated on).
//!
//! With `--write` it searches, for every model and `p ∈ {2, ∞}`, the smallest `ξ` on a grid whose
//! perturbation fools at least 80% of the held-out digits (bisection on the grid, assuming the
//! rate grows with `ξ`; every `ξ` tried is recorded), and writes the perturbations to
//! `static/data/universal.safetensors` and the tables to `static/reports/transfer.json`.

use crate::progress::{say, Progress};
use barriers_lab::classification::classifier::{Architecture, Classifier};
use barriers_lab::classification::inference::Network;
use barriers_lab::classification::mnist::Digits;
use barriers_lab::classification::transfer::{
    fooling_table, labels, PerturbationCard, ShippedUniversal, Table, TransferReport,
};
use barriers_lab::classification::universal::{
    fooling_rate, random_like, Ball, Universal, UniversalSearch, MAX_SET,
};
use candle_core::{DType, Device};
use std::time::Instant;

/// Where `--write` puts its files.
const PERTURBATIONS: &str = "static/data/universal.safetensors";
const REPORT: &str = "static/reports/transfer.json";
/// The demo's set `X`: the first [`MAX_SET`] training digits.
const SET: &str = "static/data/mnist-universal.safetensors";
/// The held-out fooling rate the shipped perturbations must reach.
const TARGET: f64 = 0.8;
/// Seed offset of the random control.
const CONTROL_SEED: u64 = 7;

fn images(d: &Digits, count: usize) -> Vec<Vec<f64>> {
    (0..count.min(d.len()))
        .map(|i| d.image(i).iter().map(|&v| v as f64).collect())
        .collect()
}

/// Every shipped classifier as plain loops.
fn networks() -> anyhow::Result<Vec<(Architecture, Network)>> {
    Architecture::ALL
        .into_iter()
        .map(|arch| {
            let bytes = std::fs::read(format!("static/models/{}.safetensors", arch.name()))?;
            let candle = Classifier::from_safetensors(arch, &bytes, DType::F32, &Device::Cpu)?;
            Ok((arch, Network::from_classifier(&candle)?))
        })
        .collect()
}

/// One search and its measurements on the held-out digits.
fn measure(
    name: &str,
    net: &Network,
    settings: Universal,
    x: &[Vec<f64>],
    test: &[Vec<f64>],
    test_labels: &[usize],
) -> anyhow::Result<(Vec<f64>, PerturbationCard)> {
    let start = Instant::now();
    let (v, passes) = UniversalSearch::new(settings, net, x.to_vec())?.finish()?;
    let seconds = start.elapsed().as_secs_f64();
    let held_out_fooling = fooling_rate(net, test, test_labels, &v)?;
    let random_seed = settings.seed + CONTROL_SEED;
    let g = random_like(&v, settings.ball, random_seed);
    let random_fooling = fooling_rate(net, test, test_labels, &g)?;
    let card = PerturbationCard {
        model: name.to_string(),
        settings,
        count: x.len(),
        passes,
        held_out_fooling,
        random_fooling,
        random_seed,
        norm2: Ball::L2.norm(&v),
        norm_inf: Ball::Linf.norm(&v),
        seconds: (seconds * 100.0).round() / 100.0,
        tried: Vec::new(),
    };
    say!(
        "{name:<9} {:?} ξ {:.3}: {} passes, fooling on X {:.3}, held-out {:.3} (random of the same norm {:.3}), ‖v‖₂ {:.2}, ‖v‖∞ {:.3}, {:.1} s",
        settings.ball,
        settings.xi,
        card.passes.len(),
        card.passes.last().map_or(0.0, |p| p.fooling_rate),
        held_out_fooling,
        random_fooling,
        card.norm2,
        card.norm_inf,
        seconds
    );
    Ok((v, card))
}

/// Runs the experiment with `settings` on the first `count` training digits (prints only).
pub fn universal(
    train: &Digits,
    held_out: &Digits,
    settings: Universal,
    count: usize,
) -> anyhow::Result<()> {
    let models = networks()?;
    let x = images(train, count);
    let test = images(held_out, held_out.len());
    let mut vs = Vec::new();
    let mut test_labels = Vec::new();
    for (arch, net) in &models {
        let l = labels(net, &test)?;
        vs.push(measure(arch.name(), net, settings, &x, &test, &l)?.0);
        test_labels.push(l);
    }
    let nets: Vec<&dyn barriers_lab::classification::attack::Model> = models
        .iter()
        .map(|(_, n)| n as &dyn barriers_lab::classification::attack::Model)
        .collect();
    print_table(&models, &fooling_table(&nets, &test_labels, &vs, &test)?);
    Ok(())
}

fn print_table(models: &[(Architecture, Network)], t: &[Vec<f64>]) {
    let names: Vec<&str> = models.iter().map(|(a, _)| a.name()).collect();
    say!(
        "transfer (rows: computed on; columns: held-out fooling on {}):",
        names.join(", ")
    );
    for (name, row) in names.iter().zip(t) {
        let cells: Vec<String> = row.iter().map(|v| format!("{v:.3}")).collect();
        say!("  {name:<9} {}", cells.join("  "));
    }
}

/// The grid of `ξ` searched for `ball`: `(first, step, last)`.
fn grid(ball: Ball) -> (f64, f64, f64) {
    match ball {
        Ball::L2 => (1.0, 0.25, 12.0),
        Ball::Linf => (0.04, 0.01, 0.5),
    }
}

/// Searches the smallest `ξ` on the grid reaching [`TARGET`], writes the files.
pub fn write(
    train: &Digits,
    held_out: &Digits,
    base: Universal,
    count: usize,
) -> anyhow::Result<()> {
    anyhow::ensure!(count <= MAX_SET, "--count must be at most {MAX_SET}");
    let models = networks()?;
    let x = images(train, count);
    let test = images(held_out, held_out.len());
    let test_labels: Vec<Vec<usize>> = models
        .iter()
        .map(|(_, n)| labels(n, &test))
        .collect::<Result<_, _>>()?;
    let nets: Vec<&dyn barriers_lab::classification::attack::Model> = models
        .iter()
        .map(|(_, n)| n as &dyn barriers_lab::classification::attack::Model)
        .collect();
    let mut shipped = ShippedUniversal::default();
    let mut cards = Vec::new();
    let mut tables = Vec::new();
    let mut table_seconds = Vec::new();
    // One unit per model and ball (each a bisection of several searches).
    let progress = Progress::new("universal --write", 2 * models.len());
    for ball in [Ball::L2, Ball::Linf] {
        let (first, step, last) = grid(ball);
        let steps = ((last - first) / step).round() as usize;
        let xi_at = |k: usize| ((first + step * k as f64) * 1e4).round() / 1e4;
        let mut vs = Vec::new();
        for ((arch, net), l) in models.iter().zip(&test_labels) {
            progress.message(format!("{} {ball:?}", arch.name()));
            let mut tried = Vec::new();
            let mut run = |k: usize| -> anyhow::Result<(Vec<f64>, PerturbationCard)> {
                let settings = Universal {
                    ball,
                    xi: xi_at(k),
                    ..base
                };
                let out = measure(arch.name(), net, settings, &x, &test, l)?;
                tried.push((settings.xi, out.1.held_out_fooling));
                Ok(out)
            };
            // Bisection on the grid: `lo` fails (or is below the grid), `hi` reaches the target.
            let mut best = run(steps)?;
            if best.1.held_out_fooling < TARGET {
                anyhow::bail!(
                    "{} {ball:?}: even ξ = {last} fools only {:.3} of the held-out digits",
                    arch.name(),
                    best.1.held_out_fooling
                );
            }
            let (mut lo, mut hi): (isize, usize) = (-1, steps);
            while hi as isize - lo > 1 {
                let mid = ((lo + hi as isize) / 2) as usize;
                let out = run(mid)?;
                if out.1.held_out_fooling >= TARGET {
                    hi = mid;
                    best = out;
                } else {
                    lo = mid as isize;
                }
            }
            let (v, mut card) = best;
            tried.sort_by(|a, b| a.0.total_cmp(&b.0));
            card.tried = tried;
            shipped.insert(arch.name(), ball, &v);
            cards.push(card);
            vs.push(v);
            progress.inc();
        }
        let start = Instant::now();
        let fooling = fooling_table(&nets, &test_labels, &vs, &test)?;
        table_seconds.push((start.elapsed().as_secs_f64() * 100.0).round() / 100.0);
        say!("{ball:?}:");
        print_table(&models, &fooling);
        tables.push(Table { ball, fooling });
    }
    drop(progress);
    let report = TransferReport {
        models: models.iter().map(|(a, _)| a.name().to_string()).collect(),
        fooling: tables[0].fooling.clone(),
        perturbations: cards,
        tables,
        held_out_count: test.len(),
        target: TARGET,
        command: format!(
            "cargo run --release --bin lab -- universal --write --count {count} --delta {} --passes {} --seed {}",
            base.delta, base.max_passes, base.seed
        ),
        table_seconds,
    };
    let first: Vec<usize> = (0..MAX_SET.min(train.len())).collect();
    std::fs::write(SET, train.select(&first).to_safetensors()?)?;
    std::fs::write(PERTURBATIONS, shipped.to_safetensors()?)?;
    crate::write_json(REPORT, &report)?;
    say!("wrote {SET}, {PERTURBATIONS} and {REPORT}");
    Ok(())
}

/// `lab bench-universal`: the time of each model's shipped ℓ₂ search (same settings, same
/// `|X|`) and of filling the ℓ₂ transfer table, `repeats` times each; median and p95.
pub fn bench(train: &Digits, held_out: &Digits, repeats: usize) -> anyhow::Result<()> {
    let report = TransferReport::from_json(&std::fs::read(REPORT)?)?;
    let models = networks()?;
    let test = images(held_out, held_out.len());
    let mut vs = Vec::new();
    for (arch, net) in &models {
        let card = report
            .card(arch.name(), Ball::L2)
            .ok_or_else(|| anyhow::anyhow!("no ℓ₂ card for {}", arch.name()))?;
        let x = images(train, card.count);
        let mut times = Vec::new();
        let mut v = Vec::new();
        for _ in 0..repeats.max(1) {
            let start = Instant::now();
            v = UniversalSearch::new(card.settings, net, x.clone())?
                .finish()?
                .0;
            times.push(start.elapsed().as_secs_f64() * 1000.0);
        }
        let (median, p95) = crate::median_p95(&times);
        say!(
            "native universal {} (ξ {}, |X| {}, {} passes): median {median:.0} ms p95 {p95:.0} ms",
            arch.name(),
            card.settings.xi,
            card.count,
            card.passes.len()
        );
        vs.push(v);
    }
    let nets: Vec<&dyn barriers_lab::classification::attack::Model> = models
        .iter()
        .map(|(_, n)| n as &dyn barriers_lab::classification::attack::Model)
        .collect();
    let mut times = Vec::new();
    for _ in 0..repeats.max(1) {
        let start = Instant::now();
        let l: Vec<Vec<usize>> = nets
            .iter()
            .map(|m| labels(*m, &test))
            .collect::<Result<_, _>>()?;
        fooling_table(&nets, &l, &vs, &test)?;
        times.push(start.elapsed().as_secs_f64() * 1000.0);
    }
    let (median, p95) = crate::median_p95(&times);
    say!(
        "native transfer table ({n}×{n} on {} held-out digits): median {median:.0} ms p95 {p95:.0} ms",
        test.len(),
        n = nets.len()
    );
    Ok(())
}
