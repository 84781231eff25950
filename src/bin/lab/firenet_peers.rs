//! `lab firenet-peers`: the lab's FIRENET side by side with the independent NumPy reference
//! (`scripts/firenet_reference.py`, explicit DFT matrix, wavelets by the formula, f64) on the same
//! cases, on this machine: the golden N = 32 cases of `tests/data/firenet_golden.json` and the MRI
//! page's default reconstruction (128² brain slice, variable density 25%, db4, λ, n, p of
//! [`MriState::default`]). Per case: the median and p95 time of both, their ratio and the relative
//! difference `‖x_lab − x_ref‖ / ‖x_ref‖` of the output images; merged as the key `"firenet"` into
//! `static/reports/peers.json` (`scripts/bench-firenet-peers.sh` installs NumPy and runs it).

use crate::median_p95;
use crate::progress::say;
use anyhow::{bail, ensure, Context};
use barriers_lab::engine::{CpuEngine, Engine, FirenetInput};
use barriers_lab::mri::brain::Orientation;
use barriers_lab::mri::firenet::Firenet;
use barriers_lab::mri::reconstruction::Experiment;
use barriers_lab::mri::sampling::Mask;
use barriers_lab::mri::state::MriState;
use barriers_lab::mri::wavelet::{Wavelet, Wavelet2};
use barriers_lab::protocol::MriImage;
use rustfft::num_complex::Complex32;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::path::Path;
use std::time::Instant;

/// The golden cases (written by the reference, read by `tests/firenet.rs`).
const GOLDEN: &str = "tests/data/firenet_golden.json";
/// The cases handed to the reference and its times and outputs.
const WORK: &str = "target/firenet-peers";
/// The reference.
const REFERENCE: &str = "scripts/firenet_reference.py";

/// One case in the golden file's format (its inputs; the reference reads the same fields).
#[derive(Clone, Debug, Serialize, Deserialize)]
struct Case {
    name: String,
    n_size: usize,
    x: Vec<f64>,
    mask: Vec<u8>,
    y: Vec<[f64; 2]>,
    wavelet: String,
    levels: usize,
    level_weights: Vec<f32>,
    lambda: f32,
    n: usize,
    p: usize,
    tau: f32,
    sigma: f32,
    delta: f32,
}

/// What the reference writes for one case.
#[derive(Deserialize)]
struct Timed {
    name: String,
    times_ms: Vec<f64>,
    output: Vec<[f64; 2]>,
}

#[derive(Deserialize)]
struct ReferenceRun {
    python: String,
    numpy: String,
    cases: Vec<Timed>,
}

/// `‖lab − reference‖₂ / ‖reference‖₂` in f64, complex values (the reference's as `[re, im]`).
pub fn relative_difference(lab: &[Complex32], reference: &[[f64; 2]]) -> anyhow::Result<f64> {
    ensure!(
        lab.len() == reference.len(),
        "{} values against the reference's {}",
        lab.len(),
        reference.len()
    );
    let (mut d, mut n) = (0.0f64, 0.0f64);
    for (a, [re, im]) in lab.iter().zip(reference) {
        d += (f64::from(a.re) - re).powi(2) + (f64::from(a.im) - im).powi(2);
        n += re * re + im * im;
    }
    ensure!(n > 0.0, "the reference's output is zero");
    Ok((d / n).sqrt())
}

/// Merges `firenet` as the key `"firenet"` into the peers report `existing` (its text, `None` when
/// there is none yet), keeping every other key (`"tfjs"`, `"pool"`, `"browser"`, …); sets `"date"`
/// and `"cores"` only where absent, in the shape `scripts/bench-peers.mjs` writes them (an ISO
/// time; `{"os_cpus": n}`, to which that script adds the browser's count).
pub fn merge_peers(
    existing: Option<&str>,
    firenet: Value,
    date: &str,
    cores: usize,
) -> anyhow::Result<Value> {
    let mut report = match existing {
        None => Value::Object(Default::default()),
        Some(text) => serde_json::from_str(text).context("the peers report is not JSON")?,
    };
    let Some(map) = report.as_object_mut() else {
        bail!("the peers report is not a JSON object");
    };
    map.insert("firenet".into(), firenet);
    map.entry("date").or_insert_with(|| json!(date));
    map.entry("cores")
        .or_insert_with(|| json!({ "os_cpus": cores }));
    Ok(report)
}

/// The civil date (UTC) `YYYY-MM-DD` of `days` days after 1970-01-01 (H. Hinnant's algorithm).
pub fn date_of_days(days: i64) -> String {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}")
}

/// `YYYY-MM-DDTHH:MM:SSZ` of `secs` seconds after the epoch (UTC).
pub fn iso_time(secs: u64) -> String {
    let s = secs % 86_400;
    format!(
        "{}T{:02}:{:02}:{:02}Z",
        date_of_days((secs / 86_400) as i64),
        s / 3600,
        s / 60 % 60,
        s % 60
    )
}

pub fn now() -> String {
    iso_time(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0),
    )
}

/// The load averages over 1, 5 and 15 minutes (`/proc/loadavg`; empty elsewhere).
fn load_average() -> Vec<f64> {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| {
            s.split_whitespace()
                .take(3)
                .filter_map(|v| v.parse().ok())
                .collect()
        })
        .unwrap_or_default()
}

/// The MRI page's default reconstruction ([`MriState::default`]: the held-out brain slice, the
/// pattern, rate, seed, wavelet, λ, n and p), measured as the page's worker measures it.
fn page_default_case() -> anyhow::Result<Case> {
    let job = MriState::default().job;
    let MriImage::Brain { orientation, index } = &job.image else {
        bail!("the MRI page's default image is no longer a brain slice");
    };
    let orientation = Orientation::from_name(orientation)?;
    let slices = crate::mri::brain(job.side)?;
    let held_out: Vec<_> = slices
        .test_slices()
        .into_iter()
        .filter(|s| s.orientation == orientation)
        .collect();
    let id = *held_out
        .get(*index)
        .context("the default slice is missing")?;
    let setup = job.setup()?;
    let firenet = setup.firenet;
    let e = Experiment::new(&CpuEngine, slices.image(id)?, job.side, &setup)?;
    let levels = e.wavelet().levels();
    Ok(Case {
        name: format!("brain_{}", job.side),
        n_size: job.side,
        x: e.truth().iter().map(|&v| f64::from(v)).collect(),
        mask: e
            .sampling()
            .mask()
            .grid()
            .iter()
            .map(|&b| u8::from(b))
            .collect(),
        y: e.measurements()
            .iter()
            .map(|z| [f64::from(z.re), f64::from(z.im)])
            .collect(),
        wavelet: setup.wavelet.name().into(),
        levels,
        level_weights: vec![1.0; levels + 1],
        lambda: firenet.lambda,
        n: firenet.blocks,
        p: firenet.layers_per_block,
        tau: firenet.tau,
        sigma: firenet.sigma,
        delta: firenet.delta,
    })
}

/// The lab's FIRENET on `case` with the CPU engine: `repeats` timed runs after one untimed
/// warm-up (milliseconds) and the output image `W⁻¹ψ_n`. The clock covers the n blocks from y
/// and the final `W⁻¹`, as the reference's does.
fn lab_run(case: &Case, repeats: usize) -> anyhow::Result<(Vec<f64>, Vec<Complex32>)> {
    let engine = CpuEngine;
    let side = case.n_size;
    let mask = Mask::from_grid(side, case.mask.iter().map(|&b| b != 0).collect())?;
    let a = engine.sampling(mask)?;
    let w = Wavelet2::new(Wavelet::from_name(&case.wavelet)?, side, case.levels)?;
    let b = engine.wavelet_sampling(&*a, &w)?;
    let weights = w.weights(&case.level_weights)?;
    let y: Vec<Complex32> = case
        .y
        .iter()
        .map(|[re, im]| Complex32::new(*re as f32, *im as f32))
        .collect();
    let firenet = Firenet {
        lambda: case.lambda,
        blocks: case.n,
        layers_per_block: case.p,
        tau: case.tau,
        sigma: case.sigma,
        delta: case.delta,
    };
    let run = || -> anyhow::Result<Vec<Complex32>> {
        let psi = engine.firenet_psi(FirenetInput {
            firenet: &firenet,
            op: &*b,
            y: &y,
            weights: &weights,
            initial: None,
        })?;
        let mut x = vec![Complex32::default(); side * side];
        w.inverse_complex(&psi, &mut x);
        Ok(x)
    };
    let mut x = run()?;
    let mut times = Vec::with_capacity(repeats);
    for _ in 0..repeats {
        let start = Instant::now();
        x = run()?;
        times.push(start.elapsed().as_secs_f64() * 1e3);
    }
    Ok((times, x))
}

/// `lab firenet-peers`: times both on every case, prints a table and merges the key
/// `"firenet"` into `out`.
pub fn firenet_peers(
    repeats: usize,
    reference_repeats: usize,
    python: &str,
    out: &str,
) -> anyhow::Result<()> {
    ensure!(
        repeats >= 1 && reference_repeats >= 1,
        "at least one run each"
    );
    let load_start = load_average();
    if load_start.first().is_some_and(|&l| l > 1.5) {
        say!(
            "warning: load average {:.2} at the start: the times are taken under load",
            load_start[0]
        );
    }
    // The golden cases as the reference wrote them (its firenet_output included, which the
    // reference's timing mode must reproduce), then the page's default.
    let golden: Value = serde_json::from_str(
        &std::fs::read_to_string(GOLDEN).with_context(|| format!("reading {GOLDEN}"))?,
    )?;
    let mut raw: Vec<Value> = golden["cases"]
        .as_array()
        .context("the golden file has no cases")?
        .clone();
    raw.push(serde_json::to_value(page_default_case()?)?);
    let cases: Vec<Case> = raw
        .iter()
        .map(|v| serde_json::from_value(v.clone()))
        .collect::<Result<_, _>>()?;

    say!("the lab (release, CPU engine, one thread, f32): one warm-up and {repeats} runs per case");
    let mut lab = Vec::new();
    for case in &cases {
        let (times, x) = lab_run(case, repeats)?;
        let (median, _) = median_p95(&times);
        say!(
            "  lab {} ({}²): median {median:.2} ms",
            case.name,
            case.n_size
        );
        lab.push((times, x));
    }

    std::fs::create_dir_all(WORK)?;
    let cases_path = Path::new(WORK).join("cases.json");
    let times_path = Path::new(WORK).join("reference.json");
    std::fs::write(
        &cases_path,
        serde_json::to_string(&json!({ "cases": raw }))?,
    )?;
    say!("the NumPy reference ({python} {REFERENCE}, f64, BLAS on one thread): {reference_repeats} runs per case");
    let status = std::process::Command::new(python)
        .arg(REFERENCE)
        .arg("--time")
        .arg(&cases_path)
        .arg("--out")
        .arg(&times_path)
        .arg("--repeats")
        .arg(reference_repeats.to_string())
        .env("OPENBLAS_NUM_THREADS", "1")
        .env("OMP_NUM_THREADS", "1")
        .env("MKL_NUM_THREADS", "1")
        .status()
        .with_context(|| {
            format!("running {python} (scripts/bench-firenet-peers.sh installs NumPy there)")
        })?;
    ensure!(status.success(), "the reference failed ({status})");
    let reference: ReferenceRun = serde_json::from_str(&std::fs::read_to_string(&times_path)?)?;
    ensure!(
        reference.cases.len() == cases.len(),
        "the reference timed {} cases of {}",
        reference.cases.len(),
        cases.len()
    );
    let load_end = load_average();

    say!(
        "{:<12} {:>5} {:>22} {:>24} {:>10} {:>14}",
        "case",
        "side",
        "lab median / p95 ms",
        "NumPy median / p95 ms",
        "NumPy/lab",
        "‖Δ‖/‖x_ref‖"
    );
    let mut rows = Vec::new();
    for ((case, (times, x)), timed) in cases.iter().zip(&lab).zip(&reference.cases) {
        ensure!(
            timed.name == case.name,
            "{} against {}",
            timed.name,
            case.name
        );
        let gap = relative_difference(x, &timed.output)?;
        let (median, p95) = median_p95(times);
        let (ref_median, ref_p95) = median_p95(&timed.times_ms);
        let ratio = ref_median / median;
        say!(
            "{:<12} {:>5} {:>22} {:>24} {:>10} {:>14}",
            case.name,
            format!("{}²", case.n_size),
            format!("{median:.2} / {p95:.2}"),
            format!("{ref_median:.0} / {ref_p95:.0}"),
            format!("{ratio:.0}×"),
            format!("{gap:.2e}")
        );
        let sampled = case.mask.iter().filter(|&&b| b != 0).count() as f64
            / (case.n_size * case.n_size) as f64;
        rows.push(json!({
            "name": case.name,
            "side": case.n_size,
            "wavelet": case.wavelet,
            "levels": case.levels,
            "level_weights": case.level_weights,
            "sampled": sampled,
            // f32's shortest decimal (0.005, not 0.004999999888241291).
            "lambda": case.lambda.to_string().parse::<f64>()?,
            "n": case.n,
            "p": case.p,
            "lab": { "median_ms": median, "p95_ms": p95, "runs": times.len() },
            "reference": { "median_ms": ref_median, "p95_ms": ref_p95, "runs": timed.times_ms.len() },
            "reference_over_lab": ratio,
            "relative_difference": gap,
        }));
    }
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    let date = now();
    let firenet = json!({
        "command": "bash scripts/bench-firenet-peers.sh",
        "date": date,
        "cores": cores,
        "load_average": { "start": load_start, "end": load_end },
        "lab": format!("lab firenet-peers: the release build, CPU engine (rustfft and the loops of mri::firenet), one thread, f32; one untimed warm-up, then {repeats} runs"),
        "reference": format!("{REFERENCE} --time: NumPy {} on Python {}, f64, the explicit DFT matrix (F1 X F1^T, OpenBLAS on one thread) and the wavelet transform by interpreted loops; {reference_repeats} runs", reference.numpy, reference.python),
        "timed": "FIRENET's n restart blocks of p layers from y, and the final W^-1; the operators, the DFT matrix and the weights are built before the clock starts",
        "relative_difference": "||x_lab - x_ref||_2 / ||x_ref||_2 of the output images (complex), f32 against f64",
        "cases_from": format!("{GOLDEN} (haar_sparse, db4_phantom, db4_noisy: y, mask and settings as the reference wrote them), and brain_<side>: the MRI page's default (MriState::default: held-out axial brain slice 4, variable density 25%, seed 1, db4 at the deepest level, uniform weights, lambda, n, p), y measured by the lab in f32 and given to both"),
        "cases": rows,
    });
    let existing = match std::fs::read_to_string(out) {
        Ok(text) => Some(text),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(e).with_context(|| format!("reading {out}")),
    };
    let report = merge_peers(existing.as_deref(), firenet, &date, cores)?;
    crate::write_json(out, &report)?;
    say!("wrote the key \"firenet\" of {out}");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_difference_is_the_norm_of_the_gap_over_the_norm_of_the_reference() {
        let reference = [[3.0, 0.0], [0.0, 4.0]];
        let same = [Complex32::new(3.0, 0.0), Complex32::new(0.0, 4.0)];
        assert_eq!(relative_difference(&same, &reference).unwrap(), 0.0);
        // Gap (0, 0.5) and (0, 0): 0.5 / 5.
        let off = [Complex32::new(3.0, 0.5), Complex32::new(0.0, 4.0)];
        let r = relative_difference(&off, &reference).unwrap();
        assert!((r - 0.1).abs() < 1e-12, "{r}");
        // f32 rounding of the reference's f64 values is of the order of 1e-8.
        let rounded: Vec<Complex32> = [[0.1, 0.2], [0.3, -0.7]]
            .iter()
            .map(|[a, b]| Complex32::new(*a as f32, *b as f32))
            .collect();
        let r = relative_difference(&rounded, &[[0.1, 0.2], [0.3, -0.7]]).unwrap();
        assert!(r > 0.0 && r < 1e-7, "{r}");
        assert!(relative_difference(&same[..1], &reference).is_err());
        assert!(relative_difference(&same, &[[0.0, 0.0], [0.0, 0.0]]).is_err());
    }

    #[test]
    fn merging_keeps_the_other_keys_and_sets_date_and_cores_only_when_absent() {
        let fresh = merge_peers(None, json!({ "cases": [] }), "2026-01-02", 2).unwrap();
        assert_eq!(
            fresh,
            json!({ "firenet": { "cases": [] }, "date": "2026-01-02", "cores": { "os_cpus": 2 } })
        );
        let existing = r#"{"tfjs": {"cnn": 1}, "pool": [1, 2], "browser": "Chromium 140",
                           "date": "2025-12-31", "cores": 8, "firenet": {"old": true}}"#;
        let merged = merge_peers(Some(existing), json!({ "new": true }), "2026-01-02", 2).unwrap();
        assert_eq!(
            merged,
            json!({ "tfjs": { "cnn": 1 }, "pool": [1, 2], "browser": "Chromium 140",
                    "date": "2025-12-31", "cores": 8, "firenet": { "new": true } })
        );
        assert!(merge_peers(Some("[1, 2]"), json!({}), "2026-01-02", 2).is_err());
        assert!(merge_peers(Some("{"), json!({}), "2026-01-02", 2).is_err());
    }

    #[test]
    fn dates_of_days_since_the_epoch() {
        assert_eq!(date_of_days(0), "1970-01-01");
        assert_eq!(date_of_days(59), "1970-03-01");
        assert_eq!(date_of_days(10_957), "2000-01-01");
        assert_eq!(date_of_days(11_016), "2000-02-29");
        assert_eq!(date_of_days(20_454), "2026-01-01");
        assert_eq!(date_of_days(-1), "1969-12-31");
        assert_eq!(iso_time(0), "1970-01-01T00:00:00Z");
        assert_eq!(iso_time(20_454 * 86_400 + 3_723), "2026-01-01T01:02:03Z");
    }
}
