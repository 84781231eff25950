//! The compute worker's hallucinations job: a shipped reconstruction network Ψ, FIRENET and Ψ
//! followed by FIRENET (`warm_start`) on `x + t·r_j` for the shipped perturbations `r_j` of a
//! demo slice (or Gaussian noise of the same norms), one reconstruction at a time with a yield
//! between them, so that a newer request supersedes an older one.

use crate::engine::Engine;
use crate::mri::brain::SliceId;
use crate::mri::instability::Reconstructor;
use crate::mri::learned::hallucination::{
    gaussian_like, outcome_of_output, slice_at, unperturbed, FirenetSetting, NetCard, Outcome,
    Perturbations,
};
use crate::mri::learned::warm_start::WarmStart;
use crate::mri::operator::Sampling;
use crate::protocol::{
    Body, EngineChoice, HallucinateJob, Hallucination, HallucinationColumn, HallucinationRow,
    Picture,
};
use crate::web::data::{load_once, Shareable};
use crate::web::fetch::fetch_bytes;
use crate::web::now_ms;
use crate::web::worker::mri::brain;
use crate::web::worker::{engine, on_engine, Computing};
use crate::{Error, Result};
use rustfft::num_complex::Complex32;
use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::rc::Rc;

/// The shipped perturbations, relative to the worker script.
pub const PERTURBATIONS_URL: &str = "./static/data/mri/perturbations.safetensors";
/// The side of the brain slices (the 128² networks use them as they are, the 64² ones halved).
const SOURCE_SIDE: usize = 128;
/// Largest strength `t`.
pub const MAX_STRENGTH: f64 = 1.5;

/// A network and its measurements `A` built on one engine.
pub struct NetOn {
    pub net: Box<dyn Reconstructor>,
    pub a: Box<dyn Sampling>,
}

impl NetOn {
    fn build(card: &NetCard, weights: &[u8], engine: &dyn Engine) -> Result<Self> {
        let mask = card.mask.mask(card.side)?;
        Ok(Self {
            net: engine.cascade(&card.name, card.shape.into(), weights, &mask)?,
            a: engine.sampling(mask)?,
        })
    }
}

/// A network with its card, built on the CPU and (once asked) on the GPU.
pub struct LoadedNet {
    pub card: NetCard,
    /// The safetensors weights (to rebuild the network with another mask).
    pub weights: Vec<u8>,
    cpu: Rc<NetOn>,
    gpu: RefCell<Option<Rc<NetOn>>>,
}

impl LoadedNet {
    /// The network on the CPU.
    pub fn cpu(&self) -> &NetOn {
        &self.cpu
    }

    /// The network on the engine of `computing` (built on the GPU once).
    pub fn on(&self, computing: &Computing) -> Result<Rc<NetOn>> {
        if !computing.is_gpu() {
            return Ok(Rc::clone(&self.cpu));
        }
        if let Some(on) = &*self.gpu.borrow() {
            return Ok(Rc::clone(on));
        }
        let on = Rc::new(NetOn::build(&self.card, &self.weights, computing.engine())?);
        *self.gpu.borrow_mut() = Some(Rc::clone(&on));
        Ok(on)
    }
}

thread_local! {
    static NETS: RefCell<HashMap<String, Shareable<LoadedNet>>> = RefCell::new(HashMap::new());
    static PERTURBATIONS: RefCell<HashMap<String, Shareable<Perturbations>>> =
        RefCell::new(HashMap::new());
    static LATEST: Cell<u64> = const { Cell::new(0) };
}

/// Fetches and checks a network's card and weights, once.
pub async fn loaded_net(name: &str) -> Result<Rc<LoadedNet>> {
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
    {
        return Err(Error::Input(format!("there is no network named '{name}'")));
    }
    let name = name.to_string();
    load_once(&NETS, &name.clone(), || async move {
        let json = fetch_bytes(&format!("./static/models/{name}.json")).await?;
        let card: NetCard = serde_json::from_slice(&json)
            .map_err(|e| Error::Data(format!("the model card of '{name}' is malformed: {e}")))?;
        let weights = fetch_bytes(&format!("./static/models/{name}.safetensors")).await?;
        let cpu = Rc::new(NetOn::build(&card, &weights, engine())?);
        Ok(LoadedNet {
            card,
            weights,
            cpu,
            gpu: RefCell::new(None),
        })
    })
    .await
}

async fn perturbations() -> Result<Rc<Perturbations>> {
    load_once(&PERTURBATIONS, PERTURBATIONS_URL, || async {
        Perturbations::from_safetensors(&fetch_bytes(PERTURBATIONS_URL).await?)
    })
    .await
}

fn column(o: &Outcome, side: usize, scale: f64) -> HallucinationColumn {
    let s = scale.max(f64::MIN_POSITIVE) as f32;
    let change: Vec<f32> = o.change.iter().map(|d| 0.5 + 0.5 * d / s).collect();
    HallucinationColumn {
        input: Picture::from_unit(&o.perturbed, side),
        output: Picture::from_unit(&o.output, side),
        change: Picture::from_unit(&change, side),
        rel_r: o.rel_r,
        kappa: o.kappa,
        error: o.error,
        share: o.concentration.share,
        window: [
            o.concentration.row,
            o.concentration.col,
            o.concentration.window,
        ],
    }
}

/// Runs the figure; between reconstructions it yields and stops (as cancelled) if a newer
/// figure was requested or the job was cancelled.
pub async fn hallucinate(
    id: u64,
    job: HallucinateJob,
    cancelled: &dyn Fn() -> bool,
    progress: &dyn Fn(Body),
) -> Result<Body> {
    LATEST.with(|l| l.set(id));
    if !(job.strength.is_finite() && (0.0..=MAX_STRENGTH).contains(&job.strength)) {
        return Err(Error::Input(format!(
            "the strength t must lie in [0, {MAX_STRENGTH}], got {}",
            job.strength
        )));
    }
    let slice = SliceId::from_name(&job.slice)?;
    let loaded = loaded_net(&job.net).await?;
    let shipped = perturbations().await?;
    let brain = brain(SOURCE_SIDE).await?;
    let side = loaded.card.side;
    let x = slice_at(&brain, slice, side)?;
    let net_key = format!("{}/{}", job.net, job.slice);
    // Ψ, FIRENET, and Ψ → FIRENET: FIRENET's stage from Ψ's outputs (kept from the first row),
    // on the same inputs as Ψ (its perturbations, or the same Gaussian noise).
    let methods: [(&str, String, String); 3] = [
        ("net", loaded.card.title.clone(), net_key.clone()),
        (
            "firenet",
            if job.gaussian {
                "FIRENET (stable by design), under the same Gaussian noise".to_string()
            } else {
                "FIRENET (stable by design), under its own worst cases v at the same norms"
                    .to_string()
            },
            format!("firenet@{}/{}", job.net, job.slice),
        ),
        (
            "warm",
            format!(
                "{} followed by FIRENET (its output as FIRENET's initial guess)",
                loaded.card.title
            ),
            net_key,
        ),
    ];
    let stop = || cancelled() || LATEST.with(|l| l.get()) != id;
    let figure = Figure {
        loaded: &loaded,
        shipped: &shipped,
        x: &x,
        job: &job,
        keys: methods.each_ref().map(|(_, _, key)| key.as_str()),
        stop: &stop,
        progress,
    };
    let (outcomes, computed) =
        on_engine(job.engine, false, |c| async move { figure.rows(&c).await }).await?;
    let net_millis = outcomes.first().map_or(0.0, |(_, _, ms)| *ms);
    let computed = computed.timed(net_millis, "pass of the network");
    let scale = outcomes
        .iter()
        .flat_map(|(_, row, _)| row.iter().flat_map(|o| o.change.iter()))
        .fold(0.0f32, |a, d| a.max(d.abs())) as f64;
    let scale = if scale > 0.0 { scale } else { 1.0 };
    let rows = outcomes
        .into_iter()
        .map(|(m, row, millis)| HallucinationRow {
            method: methods[m].0.to_string(),
            title: methods[m].1.clone(),
            columns: row.iter().map(|o| column(o, side, scale)).collect(),
            millis_per_pass: millis,
        })
        .collect();
    Ok(Body::Hallucinated(Box::new(Hallucination {
        net: job.net,
        slice: job.slice,
        strength: job.strength,
        gaussian: job.gaussian,
        side,
        truth: Picture::from_unit(&x, side),
        change_scale: scale,
        rows,
        computed,
    })))
}

/// What one run of the figure reads.
#[derive(Clone, Copy)]
struct Figure<'f> {
    loaded: &'f LoadedNet,
    shipped: &'f Perturbations,
    x: &'f [f32],
    job: &'f HallucinateJob,
    /// The shipped perturbations' key of each method: Ψ, FIRENET, Ψ → FIRENET.
    keys: [&'f str; 3],
    /// Whether to stop (cancelled, or a newer figure asked for).
    stop: &'f dyn Fn() -> bool,
    progress: &'f dyn Fn(Body),
}

impl Figure<'_> {
    /// Each method's row (its index, the outcomes for `j = 0…3` and its time per pass) on the
    /// engine of `c`, yielding between reconstructions.
    async fn rows(&self, c: &Computing) -> Result<Vec<(usize, Vec<Outcome>, f64)>> {
        let (job, x) = (self.job, self.x);
        let side = self.loaded.card.side;
        let on = self.loaded.on(c)?;
        let fire = FirenetSetting::new(c.engine(), side)?;
        let b = fire.sampling(&on.a)?;
        let firenet = fire.reconstructor(&b);
        let warm = WarmStart::new(&on.net, &fire, &b);
        let psis: [Option<&dyn Reconstructor>; 3] = [Some(&on.net), Some(&firenet), None];
        let total = psis.len() * 4;
        let mut done = 0;
        let mut outcomes: Vec<(usize, Vec<Outcome>, f64)> = Vec::new();
        let mut net_outputs: Vec<Vec<Complex32>> = Vec::new();
        let mut net_millis = 0.0;
        for (m, (psi, key)) in psis.iter().zip(self.keys).enumerate() {
            let rs = self.shipped.get(key)?;
            let (mut millis, mut passes) = (0.0, 0.0);
            let mut row = Vec::with_capacity(rs.len() + 1);
            let mut clean = Vec::new();
            for j in 0..=rs.len() {
                let r: Vec<f32> = if j == 0 {
                    vec![0.0f32; x.len()]
                } else {
                    let scaled: Vec<f32> =
                        rs[j - 1].iter().map(|v| v * job.strength as f32).collect();
                    if job.gaussian {
                        gaussian_like(&scaled, 7 + j as u64)
                    } else {
                        scaled
                    }
                };
                let perturbed: Vec<f32> = x.iter().zip(&r).map(|(p, q)| p + q).collect();
                let y = on.a.measure(&perturbed);
                let start = now_ms();
                let out = match psi {
                    Some(psi) => psi.reconstruct_async(&y).await?,
                    None => {
                        let given = net_outputs.get(j).ok_or_else(|| {
                            Error::Data("Ψ's outputs are missing for its FIRENET stage".into())
                        })?;
                        warm.refine_async(&y, given).await?
                    }
                };
                millis += now_ms() - start;
                passes += 1.0;
                if j == 0 {
                    row.push(unperturbed(x, &out, side)?);
                    clean = out.clone();
                } else {
                    row.push(outcome_of_output(x, &clean, &r, &out, side)?);
                }
                if m == 0 {
                    net_outputs.push(out);
                }
                done += 1;
                (self.progress)(Body::Progress { done, total });
                gloo::timers::future::TimeoutFuture::new(0).await;
                if (self.stop)() {
                    return Err(Error::Cancelled);
                }
            }
            let per_pass = millis / passes;
            if m == 0 {
                net_millis = per_pass;
            }
            // Ψ → FIRENET costs Ψ's pass and its FIRENET stage.
            let per_pass = if psi.is_none() {
                per_pass + net_millis
            } else {
                per_pass
            };
            outcomes.push((m, row, per_pass));
        }
        Ok(outcomes)
    }
}

/// Largest number of iterations of a live search.
pub const MAX_SEARCH_ITERATIONS: usize = 50;

/// The fixed-norm search of the report, live: one iteration at a time for the network, then
/// for FIRENET, yielding (and stopping when cancelled or superseded) between iterations.
pub async fn search(
    id: u64,
    job: (String, String, f64, usize, u64, EngineChoice),
    cancelled: &dyn Fn() -> bool,
    progress: &dyn Fn(Body),
) -> Result<Body> {
    let (net, slice_name, rel_r, iterations, seed, engine_choice) = job;
    LATEST.with(|l| l.set(id));
    if !(rel_r.is_finite() && rel_r > 0.0 && rel_r <= 0.2) {
        return Err(Error::Input(format!(
            "‖r‖/‖x‖ must lie in (0, 20%], got {rel_r}"
        )));
    }
    if iterations == 0 || iterations > MAX_SEARCH_ITERATIONS {
        return Err(Error::Input(format!(
            "a live search runs 1 to {MAX_SEARCH_ITERATIONS} iterations, not {iterations}"
        )));
    }
    let slice = SliceId::from_name(&slice_name)?;
    let loaded = loaded_net(&net).await?;
    let brain = brain(SOURCE_SIDE).await?;
    let x = slice_at(&brain, slice, loaded.card.side)?;
    let stop = || cancelled() || LATEST.with(|l| l.get()) != id;
    let search = Search {
        loaded: &loaded,
        x: &x,
        rel_r,
        iterations,
        seed,
        stop: &stop,
        progress,
    };
    let ((kappas, times), computed) =
        on_engine(
            engine_choice,
            false,
            |c| async move { search.run(&c).await },
        )
        .await?;
    let all: Vec<f64> = times.iter().flatten().copied().collect();
    let computed = computed.timed(
        all.iter().sum::<f64>() / all.len().max(1) as f64,
        "search iteration",
    );
    let [iteration_ms_net, iteration_ms_firenet] = times;
    Ok(Body::InstabilitySearched {
        net,
        slice: slice_name,
        rel_r,
        kappa_net: kappas[0],
        kappa_firenet: kappas[1],
        iteration_ms_net,
        iteration_ms_firenet,
        computed,
    })
}

/// What one run of the live search reads.
#[derive(Clone, Copy)]
struct Search<'f> {
    loaded: &'f LoadedNet,
    x: &'f [f32],
    rel_r: f64,
    iterations: usize,
    seed: u64,
    stop: &'f dyn Fn() -> bool,
    progress: &'f dyn Fn(Body),
}

impl Search<'_> {
    /// The worst κ of the network and of FIRENET, and the time of each iteration, on the
    /// engine of `c`, yielding between iterations.
    async fn run(&self, c: &Computing) -> Result<([f64; 2], [Vec<f64>; 2])> {
        use crate::mri::instability::{FixedNormSearch, InstabilityTest};
        let iterations = self.iterations;
        let on = self.loaded.on(c)?;
        let fire = FirenetSetting::new(c.engine(), self.loaded.card.side)?;
        let b = fire.sampling(&on.a)?;
        let firenet = fire.reconstructor(&b);
        let methods: [&dyn Reconstructor; 2] = [&on.net, &firenet];
        let mut kappas = [0.0; 2];
        let mut times = [Vec::new(), Vec::new()];
        for (m, psi) in methods.into_iter().enumerate() {
            let test = InstabilityTest::new_async(&on.a, psi, self.x).await?;
            let mut search = FixedNormSearch::new_async(&test, self.rel_r, self.seed).await?;
            for k in 0..iterations {
                let start = now_ms();
                let more = search.step_async().await?;
                times[m].push(now_ms() - start);
                (self.progress)(Body::Progress {
                    done: m * iterations + k + 1,
                    total: 2 * iterations,
                });
                gloo::timers::future::TimeoutFuture::new(0).await;
                if (self.stop)() {
                    return Err(Error::Cancelled);
                }
                if !more {
                    break;
                }
            }
            kappas[m] = search.best.kappa;
        }
        Ok((kappas, times))
    }
}
