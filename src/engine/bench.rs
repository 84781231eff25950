//! The engine benchmark: the CPU and GPU engines on the MRI half's hot paths, measured in the
//! same run, for `lab bench-engine` natively and for the worker's `bench_engine` job in the
//! browser (`scripts/bench-engine.sh`, which writes `static/reports/engine.json`).
//!
//! Six cases, each timed `repeats` times after one warm-up run (median and p95), with the
//! largest relative difference `‖gpu − cpu‖₂ / ‖cpu‖₂` of what both engines computed:
//!
//! - FIRENET (5 blocks × 10 layers, db4, the MRI page's default setup) on the Shepp–Logan
//!   phantom at 128² and 256²: `ψ_n`;
//! - the shipped deep cascade (`cascade-12`, trained at 64²; the same weights at 128² with the
//!   card's sampling pattern at 128², convolutions being size-free) on the phantom at 64² and
//!   128²: its forward pass `Ψ(y)`;
//! - one iteration of the fixed-norm instability search through it (`‖r‖/‖x‖ = 2%`, seed 1:
//!   forward, vector–Jacobian product, probe), compared on what it finds: the amplification `κ`
//!   of its best probe after one iteration. Its vector–Jacobian product is reported beside it
//!   ([`Case::gradient_rel_diff`]: `J_Ψ(y)* d` at `y = A(x + r₀)` with the same cotangent
//!   `d = Ψ(y) − Ψ(Ax)`, the CPU's, on both engines), with the CPU engine's own largest change of
//!   that product when `y` is scaled by `1 + k·2⁻²³`, `k = 1…4` ([`Case::cpu_self_rel_diff`]).
//!   The product of a piecewise-linear network depends on `y` only through which ReLUs are on,
//!   so it jumps wherever a ReLU's input crosses zero (at a noisy input, many sit near zero):
//!   rounding in another summation order flips some and moves the gradient by as much as an
//!   ulp's change of the data does on one engine, while `κ`, what the search reports, agrees
//!   closely.
//!
//! Every GPU time includes reading the result back.

use crate::engine::{Engine, FirenetInput};
use crate::mri::instability::{FixedNormSearch, InstabilityTest};
use crate::mri::learned::hallucination::NetCard;
use crate::mri::operator::{distance, norm};
use crate::mri::phantom::shepp_logan;
use crate::mri::reconstruction::{Experiment, Setup};
use crate::Result;
use rustfft::num_complex::Complex32;
use serde::{Deserialize, Serialize};

/// One case of the benchmark (as `static/reports/engine.json` lists them).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Case {
    pub name: String,
    pub side: usize,
    pub cpu_ms: f64,
    pub cpu_p95_ms: f64,
    pub gpu_ms: f64,
    pub gpu_p95_ms: f64,
    /// `‖gpu − cpu‖/‖cpu‖` of what the case compares (`ψ_n`, `Ψ(y)`, or the search's `κ`).
    pub max_rel_diff: f64,
    /// What `max_rel_diff` compares.
    #[serde(default)]
    pub compared: String,
    /// Search iterations: the vector–Jacobian product's relative difference.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gradient_rel_diff: Option<f64>,
    /// Search iterations: the CPU's own largest change of that product when `y` is scaled by
    /// `1 + k·2⁻²³`, `k = 1…4`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu_self_rel_diff: Option<f64>,
}

impl Case {
    /// One line for a log: both engines' median and p95, their ratio and the difference.
    pub fn line(&self) -> String {
        let gradient = match (self.gradient_rel_diff, self.cpu_self_rel_diff) {
            (Some(g), Some(c)) => {
                format!(" (vjp {g:.1e}; the CPU's own under y ↦ (1 + k·2⁻²³)y, k ≤ 4: {c:.1e})")
            }
            _ => String::new(),
        };
        format!(
            "{} {}²: CPU median {:.2} ms p95 {:.2} ms; GPU median {:.2} ms p95 {:.2} ms; CPU/GPU {:.2}×; max relative difference of {} {:.1e}{gradient}",
            self.name,
            self.side,
            self.cpu_ms,
            self.cpu_p95_ms,
            self.gpu_ms,
            self.gpu_p95_ms,
            self.cpu_ms / self.gpu_ms,
            self.compared,
            self.max_rel_diff
        )
    }
}

/// The benchmark's report.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EngineReport {
    /// The GPU engine's adapter.
    pub adapter: String,
    /// Where it ran ("native", "browser").
    pub host: String,
    pub repeats: usize,
    pub cases: Vec<Case>,
}

/// Median and 95th percentile of a sample (NaN for an empty one).
pub fn median_p95(v: &[f64]) -> (f64, f64) {
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    if s.is_empty() {
        return (f64::NAN, f64::NAN);
    }
    let at = |q: f64| s[((s.len() - 1) as f64 * q).round() as usize];
    (at(0.5), at(0.95))
}

/// The CPU's own sensitivity of the search's vector–Jacobian product: the largest change under
/// `y ↦ (1 + k·2⁻²³) y`, `k = 1…ULPS`.
const ULPS: usize = 4;

fn relative(got: &[Complex32], want: &[Complex32]) -> f64 {
    distance(got, want) / norm(want).max(f64::MIN_POSITIVE)
}

/// Times `$body` (an `async` expression giving a `Result`) `$repeats` times after a warm-up
/// run with the clock `$now`: median and p95 in milliseconds.
macro_rules! timed {
    ($repeats:expr, $now:expr, $body:expr) => {{
        $body.await?;
        let mut ms = Vec::with_capacity($repeats);
        for _ in 0..$repeats {
            let start = $now();
            $body.await?;
            ms.push($now() - start);
        }
        median_p95(&ms)
    }};
}

/// FIRENET's `ψ_n` and times on one engine.
async fn firenet(
    engine: &dyn Engine,
    side: usize,
    repeats: usize,
    now: &dyn Fn() -> f64,
) -> Result<(Vec<Complex32>, (f64, f64))> {
    let setup = Setup::default();
    let experiment = Experiment::new(engine, shepp_logan(side), side, &setup)?;
    let b = experiment.sparse_sampling()?;
    let input = FirenetInput {
        firenet: &setup.firenet,
        op: &*b,
        y: experiment.measurements(),
        weights: experiment.weights(),
        initial: None,
    };
    let times = timed!(repeats, now, engine.firenet_psi_async(input, None));
    Ok((engine.firenet_psi_async(input, None).await?, times))
}

/// What the cascade cases measure on one engine: `Ψ(y)`, `κ` after one search iteration and
/// `J_Ψ(y_r)* d` at the search's start `y_r = A(x + r₀)` (and, on the engine that computes its
/// own `(y_r, d)`, the same at `(1 + k·2⁻²³) y_r`, `k = 1…ULPS`), with the forward pass's and a search
/// iteration's times, and the search's own `(y_r, d)`.
struct CascadeRun {
    output: Vec<Complex32>,
    kappa: f64,
    gradient: Vec<Complex32>,
    gradient_ulp: Vec<Vec<Complex32>>,
    forward: (f64, f64),
    iteration: (f64, f64),
    cotangent: (Vec<Complex32>, Vec<Complex32>),
}

/// The cascade cases on one engine; `J_Ψ(y)* d` with the given `(y, d)` (the CPU's), or with
/// this engine's own.
async fn cascade(
    engine: &dyn Engine,
    card: &NetCard,
    weights: &[u8],
    side: usize,
    repeats: usize,
    now: &dyn Fn() -> f64,
    given: Option<&(Vec<Complex32>, Vec<Complex32>)>,
) -> Result<CascadeRun> {
    let mask = card.mask.mask(side)?;
    let net = engine.cascade(&card.name, card.shape.into(), weights, &mask)?;
    let a = engine.sampling(mask)?;
    let x = shepp_logan(side);
    let y = a.measure(&x);
    let forward = timed!(repeats, now, net.reconstruct_async(&y));
    let output = net.reconstruct_async(&y).await?;
    let test = InstabilityTest::new_async(&*a, &*net, &x).await?;
    let mut search = FixedNormSearch::new_async(&test, 0.02, 1).await?;
    let r0 = &search.best.r;
    let y_r = a.measure(&x.iter().zip(r0).map(|(p, q)| p + q).collect::<Vec<_>>());
    let d = test.change_async(r0).await?;
    let cotangent = (y_r, d);
    let (y_r, d) = given.unwrap_or(&cotangent);
    let gradient = net.vjp_async(y_r, d).await?;
    let mut gradient_ulp = Vec::new();
    if given.is_none() {
        for k in 1..=ULPS {
            let s = 1.0 + k as f32 * f32::EPSILON;
            let scaled: Vec<Complex32> = y_r.iter().map(|v| v * s).collect();
            gradient_ulp.push(net.vjp_async(&scaled, d).await?);
        }
    }
    search.step_async().await?;
    let kappa = search.best.kappa;
    let iteration = timed!(repeats, now, search.step_async());
    Ok(CascadeRun {
        output,
        kappa,
        gradient,
        gradient_ulp,
        forward,
        iteration,
        cotangent,
    })
}

/// Runs the six cases on `cpu` and `gpu` (the GPU engine, on `adapter`), `repeats` times each
/// (at least 3) with the clock `now` (milliseconds), calling `each` after every case; `card`
/// and `weights` are the shipped `cascade-12`'s.
#[allow(clippy::too_many_arguments)]
pub async fn run(
    cpu: &dyn Engine,
    gpu: &dyn Engine,
    adapter: &str,
    host: &str,
    card: &NetCard,
    weights: &[u8],
    repeats: usize,
    now: &dyn Fn() -> f64,
    each: &mut dyn FnMut(&Case),
) -> Result<EngineReport> {
    let repeats = repeats.max(3);
    let mut cases = Vec::new();
    let mut push = |case: Case| {
        each(&case);
        cases.push(case);
    };
    let case = |name: &str, side, c: (f64, f64), g: (f64, f64), diff, compared: &str| Case {
        name: name.into(),
        side,
        cpu_ms: c.0,
        cpu_p95_ms: c.1,
        gpu_ms: g.0,
        gpu_p95_ms: g.1,
        max_rel_diff: diff,
        compared: compared.into(),
        gradient_rel_diff: None,
        cpu_self_rel_diff: None,
    };
    for side in [128, 256] {
        let (want, c) = firenet(cpu, side, repeats, now).await?;
        let (got, g) = firenet(gpu, side, repeats, now).await?;
        push(case(
            "FIRENET 5×10 db4",
            side,
            c,
            g,
            relative(&got, &want),
            "ψ_n",
        ));
    }
    for side in [64, 128] {
        let c = cascade(cpu, card, weights, side, repeats, now, None).await?;
        let g = cascade(gpu, card, weights, side, repeats, now, Some(&c.cotangent)).await?;
        push(case(
            "cascade forward",
            side,
            c.forward,
            g.forward,
            relative(&g.output, &c.output),
            "Ψ(y)",
        ));
        push(Case {
            gradient_rel_diff: Some(relative(&g.gradient, &c.gradient)),
            cpu_self_rel_diff: Some(
                c.gradient_ulp
                    .iter()
                    .map(|ulp| relative(ulp, &c.gradient))
                    .fold(0.0, f64::max),
            ),
            ..case(
                "search iteration (forward + vjp)",
                side,
                c.iteration,
                g.iteration,
                (g.kappa - c.kappa).abs() / c.kappa,
                "κ",
            )
        });
    }
    Ok(EngineReport {
        adapter: adapter.to_string(),
        host: host.to_string(),
        repeats,
        cases,
    })
}
