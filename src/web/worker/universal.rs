//! The compute worker's universal-perturbation jobs: a live search one image at a time (yielding
//! every few milliseconds, reporting progress and stopping when cancelled), the shipped
//! perturbations, their held-out fooling rates beside the random control, the transfer table and
//! the per-image transfer of DeepFool's `r`.

use crate::classification::attack::Model;
use crate::classification::classifier::Architecture;
use crate::classification::transfer::{
    fooled_count, fooling_rates, image_transfer, labels, part_units, transfer_part,
    ShippedUniversal, TransferReport,
};
use crate::classification::universal::{random_like, Ball, Universal, UniversalSearch, MAX_SET};
use crate::protocol::{Body, GridDigit, TransferResult, UniversalJob, UniversalResult};
use crate::web::data::{held_out, load_once, universal_set, Shareable};
use crate::web::fetch::fetch_bytes;
use crate::web::now_ms;
use crate::web::worker::runtime::{model_named, LoadedModel};
use crate::{Error, Result};
use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

/// The shipped perturbations and their report, relative to the worker script.
pub const PERTURBATIONS_URL: &str = "./static/data/universal.safetensors";
pub const REPORT_URL: &str = "./static/reports/transfer.json";
/// Seed offset of the random control (as in `lab universal`).
const CONTROL_SEED: u64 = 7;
/// Longest stretch of work between two yields, milliseconds.
const SLICE_MS: f64 = 40.0;
/// Most passes a live search may run.
pub const MAX_PASSES: usize = 20;

/// The shipped perturbations with their report.
pub struct Shipped {
    pub vectors: ShippedUniversal,
    pub report: TransferReport,
}

thread_local! {
    static SHIPPED: RefCell<HashMap<String, Shareable<Shipped>>> = RefCell::new(HashMap::new());
}

async fn shipped() -> Result<Rc<Shipped>> {
    load_once(&SHIPPED, PERTURBATIONS_URL, || async {
        let vectors = ShippedUniversal::from_safetensors(&fetch_bytes(PERTURBATIONS_URL).await?)?;
        let report = TransferReport::from_json(&fetch_bytes(REPORT_URL).await?)?;
        Ok(Shipped { vectors, report })
    })
    .await
}

fn images(d: &crate::classification::mnist::Digits, count: usize) -> Vec<Vec<f64>> {
    (0..count.min(d.len()))
        .map(|i| d.image(i).iter().map(|&v| v as f64).collect())
        .collect()
}

fn f32s(v: &[f64]) -> Vec<f32> {
    v.iter().map(|&a| a as f32).collect()
}

/// Yields to the event loop (so that cancels and other requests get in) when the current slice
/// of work is used up; fails with [`Error::Cancelled`] after a cancel.
struct Pacer<'a> {
    cancelled: &'a dyn Fn() -> bool,
    since: f64,
}

impl<'a> Pacer<'a> {
    fn new(cancelled: &'a dyn Fn() -> bool) -> Self {
        Self {
            cancelled,
            since: now_ms(),
        }
    }

    /// Whether a yield is due (then call [`Pacer::pause`]).
    fn due(&self) -> bool {
        now_ms() - self.since > SLICE_MS
    }

    async fn pause(&mut self) -> Result<()> {
        gloo::timers::future::TimeoutFuture::new(0).await;
        self.since = now_ms();
        if (self.cancelled)() {
            return Err(Error::Cancelled);
        }
        Ok(())
    }
}

fn check(job: &UniversalJob) -> Result<()> {
    if job.count == 0 || job.count > MAX_SET {
        return Err(Error::Input(format!(
            "|X| must lie between 1 and {MAX_SET}, not {}",
            job.count
        )));
    }
    if job.settings.max_passes > MAX_PASSES {
        return Err(Error::Input(format!(
            "a live search runs at most {MAX_PASSES} passes, not {}",
            job.settings.max_passes
        )));
    }
    if job.settings.deepfool_iterations > 50 {
        return Err(Error::Input(
            "DeepFool runs at most 50 iterations per image here".into(),
        ));
    }
    Ok(())
}

/// Runs a search to the end, pacing and reporting progress (`base` is added to the images
/// visited, for jobs that run several searches).
async fn run_search(
    settings: Universal,
    model: &dyn Model,
    x: Vec<Vec<f64>>,
    pacer: &mut Pacer<'_>,
    progress: &dyn Fn(Body),
) -> Result<(Vec<f64>, Vec<crate::classification::universal::PassReport>)> {
    let mut search = UniversalSearch::new(settings, model, x)?;
    while !search.is_done() {
        search.step()?;
        if pacer.due() {
            let (visited, count) = search.progress();
            progress(Body::UniversalProgress {
                pass: search.passes.len() + 1,
                visited,
                count,
                passes: search.passes.clone(),
            });
            pacer.pause().await?;
        }
    }
    Ok((search.v, search.passes))
}

/// Held-out fooling rate of `v` on `model`, paced.
async fn held_out_fooling(
    model: &dyn Model,
    test: &[Vec<f64>],
    test_labels: &[usize],
    v: &[f64],
    pacer: &mut Pacer<'_>,
) -> Result<f64> {
    let mut fooled = 0;
    for (chunk, l) in test.chunks(50).zip(test_labels.chunks(50)) {
        fooled += fooled_count(model, chunk, l, v)?;
        if pacer.due() {
            pacer.pause().await?;
        }
    }
    // Counted, then divided once, as `fooling_rate` over all of them.
    Ok(fooled as f64 / test.len().max(1) as f64)
}

/// The universal perturbation of one model, shipped or live, and what it does.
pub async fn universal(
    job: UniversalJob,
    cancelled: &dyn Fn() -> bool,
    progress: &dyn Fn(Body),
) -> Result<Body> {
    check(&job)?;
    let loaded = model_named(&job.model).await?;
    let net = &loaded.network;
    let digits = held_out().await?;
    let mut pacer = Pacer::new(cancelled);
    let shipped = shipped().await;
    let card = shipped
        .as_ref()
        .ok()
        .and_then(|s| s.report.card(&job.model, job.settings.ball).cloned());
    let start = now_ms();
    let (settings, count, v, passes, difference) = if job.live {
        let x = images(&*universal_set().await?, job.count);
        let (v, passes) = run_search(job.settings, net, x, &mut pacer, progress).await?;
        // Same settings as the shipped one: say how close the two are.
        let difference = match (&card, &shipped) {
            (Some(c), Ok(s)) if c.settings == job.settings && c.count == job.count => {
                s.vectors.get(&job.model, job.settings.ball).map(|w| {
                    let scale = w.iter().fold(0.0f64, |m, a| m.max(a.abs())).max(1e-12);
                    v.iter()
                        .zip(&w)
                        .fold(0.0f64, |m, (a, b)| m.max((a - b).abs()))
                        / scale
                })
            }
            _ => None,
        };
        (job.settings, job.count, v, passes, difference)
    } else {
        let s = shipped.map_err(|e| {
            Error::Load(format!(
                "the shipped universal perturbations are missing: {e}"
            ))
        })?;
        let card = card.clone().ok_or_else(|| {
            Error::Data(format!(
                "no shipped {:?} perturbation for '{}'",
                job.settings.ball, job.model
            ))
        })?;
        let v = s
            .vectors
            .get(&job.model, job.settings.ball)
            .ok_or_else(|| Error::Data(format!("no shipped perturbation for '{}'", job.model)))?;
        if v.len() != net.dim() {
            return Err(Error::Data(format!(
                "the shipped perturbation of '{}' has {} values, the model takes {}",
                job.model,
                v.len(),
                net.dim()
            )));
        }
        (card.settings, card.count, v, card.passes.clone(), None)
    };
    let search_millis = if job.live { now_ms() - start } else { 0.0 };
    let random = random_like(&v, settings.ball, settings.seed + CONTROL_SEED);
    let (held, random_rate, test) = match (&card, job.live) {
        // The shipped one: its measured rates (checked natively by `tests/universal.rs`), and
        // only the grid's digits here, so that it shows at once.
        (Some(c), false) => (
            c.held_out_fooling,
            c.random_fooling,
            images(&digits, job.grid),
        ),
        _ => {
            let test = images(&digits, digits.len());
            progress(Body::Progress {
                done: 0,
                total: test.len(),
            });
            let mut test_labels = Vec::with_capacity(test.len());
            for chunk in test.chunks(100) {
                test_labels.extend(labels(net, chunk)?);
                if pacer.due() {
                    progress(Body::Progress {
                        done: test_labels.len(),
                        total: test.len(),
                    });
                    pacer.pause().await?;
                }
            }
            let held = held_out_fooling(net, &test, &test_labels, &v, &mut pacer).await?;
            let random_rate =
                held_out_fooling(net, &test, &test_labels, &random, &mut pacer).await?;
            (held, random_rate, test)
        }
    };
    let held_out_count = digits.len();
    let grid = (0..job.grid.min(test.len()))
        .map(|i| {
            let add =
                |r: &[f64]| -> Vec<f64> { test[i].iter().zip(r).map(|(a, b)| a + b).collect() };
            Ok(GridDigit {
                index: i,
                clean: net.label(&test[i])?,
                perturbed: net.label(&add(&v))?,
                random: net.label(&add(&random))?,
            })
        })
        .collect::<Result<_>>()?;
    Ok(Body::Universal(Box::new(UniversalResult {
        model: job.model,
        live: job.live,
        settings,
        count,
        norm2: Ball::L2.norm(&v),
        norm_inf: Ball::Linf.norm(&v),
        v: f32s(&v),
        random: f32s(&random),
        passes,
        held_out_fooling: held,
        random_fooling: random_rate,
        held_out_count,
        grid,
        search_millis,
        shipped_difference: difference,
    })))
}

/// Every shipped classifier, loaded.
async fn all_models() -> Result<Vec<Rc<LoadedModel>>> {
    let mut out = Vec::new();
    for arch in Architecture::ALL {
        out.push(model_named(arch.name()).await?);
    }
    Ok(out)
}

/// The transfer table for `ball`, from the shipped perturbations or recomputed live with the
/// shipped settings; or a part of it for the worker pool: every row on the held-out digits
/// `digits`, or the rows `rows` (indices of the models) on all of them
/// ([`transfer_part`] checks them). Each cell is a count of fooled digits, divided once at the
/// end ([`fooling_rates`]), so that parts merged by [`TransferResult::merge`] give the whole
/// table's rates exactly. Progress in the units of [`part_units`].
pub async fn transfer(
    ball: Ball,
    live: bool,
    digits: Option<std::ops::Range<usize>>,
    rows: Vec<usize>,
    cancelled: &dyn Fn() -> bool,
    progress: &dyn Fn(Body),
) -> Result<Body> {
    let s = shipped().await?;
    let models = all_models().await?;
    let held = held_out().await?;
    let n = models.len();
    let (digits, rows) = transfer_part(n, held.len(), digits, &rows)?;
    let test: Vec<Vec<f64>> = digits
        .clone()
        .map(|i| held.image(i).iter().map(|&v| v as f64).collect())
        .collect();
    let mut pacer = Pacer::new(cancelled);
    let cards = rows
        .iter()
        .map(|&i| {
            let name = &models[i].card.name;
            s.report.card(name, ball).ok_or_else(|| {
                Error::Data(format!("no shipped {ball:?} perturbation for '{name}'"))
            })
        })
        .collect::<Result<Vec<_>>>()?;
    let search: usize = if live {
        cards.iter().map(|c| c.search_units()).sum()
    } else {
        0
    };
    let total = part_units(n, test.len(), rows.len(), search);
    let report = |done: usize| {
        progress(Body::Progress {
            done: done.min(total),
            total,
        })
    };
    report(0);
    let mut done = 0;
    let mut vs = Vec::with_capacity(rows.len());
    let start = now_ms();
    for (&i, card) in rows.iter().zip(&cards) {
        let m = &models[i];
        let name = &m.card.name;
        let v = if live {
            let x = images(&*universal_set().await?, card.count);
            let (base, budget) = (done, card.search_units());
            // The search's images visited, as units of this part.
            let on_search = |body: Body| {
                if let Body::UniversalProgress {
                    pass,
                    visited,
                    count,
                    ..
                } = body
                {
                    report(base + (pass.saturating_sub(1) * count + visited).min(budget));
                }
            };
            let (v, _) = run_search(card.settings, &m.network, x, &mut pacer, &on_search).await?;
            done += budget;
            report(done);
            v
        } else {
            s.vectors
                .get(name, ball)
                .ok_or_else(|| Error::Data(format!("no shipped perturbation for '{name}'")))?
        };
        if v.len() != m.network.dim() {
            return Err(Error::Data(format!(
                "the perturbation of '{name}' has {} values, the model takes {}",
                v.len(),
                m.network.dim()
            )));
        }
        vs.push(v);
    }
    let search_millis = if live { now_ms() - start } else { 0.0 };
    let start = now_ms();
    let mut test_labels = Vec::with_capacity(n);
    for m in &models {
        let mut l = Vec::with_capacity(test.len());
        for chunk in test.chunks(100) {
            l.extend(labels(&m.network, chunk)?);
            done += chunk.len();
            if pacer.due() {
                report(done);
                pacer.pause().await?;
            }
        }
        test_labels.push(l);
    }
    let mut fooled = vec![vec![0usize; n]; rows.len()];
    for (counts, v) in fooled.iter_mut().zip(&vs) {
        for ((count, m), l) in counts.iter_mut().zip(&models).zip(&test_labels) {
            for (chunk, l) in test.chunks(50).zip(l.chunks(50)) {
                *count += fooled_count(&m.network, chunk, l, v)?;
                done += chunk.len();
                if pacer.due() {
                    report(done);
                    pacer.pause().await?;
                }
            }
            report(done);
        }
    }
    Ok(Body::Transfer(Box::new(TransferResult {
        ball,
        live,
        models: models.iter().map(|m| m.card.name.clone()).collect(),
        fooling: fooling_rates(&fooled, test.len()),
        xi: cards.iter().map(|c| c.settings.xi).collect(),
        held_out_count: held.len(),
        search_millis,
        table_millis: now_ms() - start,
        fooled,
        digits,
        rows,
    })))
}

/// DeepFool's `r` for `source` on held-out digit `digit`, applied to every model.
pub async fn image(source: &str, digit: usize) -> Result<Body> {
    let digits = held_out().await?;
    if digit >= digits.len() {
        return Err(Error::Input(format!(
            "there are {} held-out digits; {digit} is not one of them",
            digits.len()
        )));
    }
    let models = all_models().await?;
    let src = models
        .iter()
        .find(|m| m.card.name == source)
        .ok_or_else(|| Error::UnknownModel(source.to_string()))?;
    let x: Vec<f64> = digits.image(digit).iter().map(|&v| v as f64).collect();
    let named: Vec<(&str, &dyn Model)> = models
        .iter()
        .map(|m| (m.card.name.as_str(), &m.network as &dyn Model))
        .collect();
    let (r, entries) = image_transfer(&src.network, &named, &x)?;
    Ok(Body::ImageTransfer {
        source: source.to_string(),
        digit,
        r: f32s(&r),
        entries,
    })
}
