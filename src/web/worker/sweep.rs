//! The compute worker's sampling-sweep jobs: the sweep of [`crate::mri::learned::sweep::Sweep`] one held-out
//! slice at a time, with a progress report and a yield after each slice (so that a cancel gets
//! in), every finished rate kept by (networks, slices, rate) so that a sweep asked for again, or
//! resumed after a cancel, reuses it (and sent to the page, which sends it back in
//! [`SweepJob::known`] should this worker have been terminated); and one slice at one rate by
//! every method.

use crate::mri::brain::{Role, Split};
use crate::mri::learned::hallucination::{FirenetSetting, LARGE_SIDE};
use crate::mri::learned::sweep::{
    check_rates, common_mask, split_slices, spread, AtRate, Images, RatePoint, Sweep, SweepReport,
    SweepSource, MAX_NETS,
};
use crate::mri::metrics::psnr;
use crate::protocol::{
    Body, Picture, SweepJob, SweepResult, SweepSliceJob, SweepSliceMethod, SweepSliceResult,
};
use crate::web::data::{load_once, Shareable};
use crate::web::now_ms;
use crate::web::worker::hallucinations::{loaded_net, LoadedNet};
use crate::web::worker::mri::brain;
use crate::web::worker::{on_engine, Computing};
use crate::{Error, Result};
use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

/// The held-out images of one setting (side and split) with their names.
struct HeldOutSlices {
    side: usize,
    images: Images,
    names: Vec<String>,
}

thread_local! {
    static HELD_OUT: RefCell<HashMap<String, Shareable<HeldOutSlices>>> =
        RefCell::new(HashMap::new());
    /// Finished rates, by [`point_key`].
    static POINTS: RefCell<HashMap<String, RatePoint>> = RefCell::new(HashMap::new());
}

/// The held-out slices of the networks' setting: their side and split (every network of a
/// sweep must share them).
async fn held_out(loaded: &[Rc<LoadedNet>]) -> Result<Rc<HeldOutSlices>> {
    let first = &loaded
        .first()
        .ok_or_else(|| Error::Input("a sweep needs a network".into()))?
        .card;
    let (side, split): (usize, Split) = (first.side, first.split);
    if let Some(other) = loaded
        .iter()
        .find(|l| (l.card.side, l.card.split) != (side, split))
    {
        return Err(Error::Input(format!(
            "{} is a {}² network, {} a {side}² one of another split: a sweep compares networks of one setting",
            other.card.name, other.card.side, first.name
        )));
    }
    let key = format!("held-out {side} {}", split.name());
    load_once(&HELD_OUT, &key, || async move {
        let brain = brain(LARGE_SIDE).await?;
        let (_, images) = split_slices(&brain, side, split)?;
        let names = brain
            .slices(split, Role::Test)
            .iter()
            .map(|s| s.to_string())
            .collect();
        Ok(HeldOutSlices {
            side,
            images,
            names,
        })
    })
    .await
}

fn point_key(nets: &[String], slices: usize, rate: f64) -> String {
    format!("{}|{slices}|{rate:.9}", nets.join(","))
}

async fn networks(names: &[String]) -> Result<Vec<Rc<LoadedNet>>> {
    if names.is_empty() || names.len() > MAX_NETS {
        return Err(Error::Input(format!(
            "a sweep compares 1 to {MAX_NETS} networks, not {}",
            names.len()
        )));
    }
    if (1..names.len()).any(|k| names[..k].contains(&names[k])) {
        return Err(Error::Input("a network is listed twice".into()));
    }
    let mut out = Vec::with_capacity(names.len());
    for name in names {
        out.push(loaded_net(name).await?);
    }
    Ok(out)
}

fn sources(loaded: &[Rc<LoadedNet>]) -> Vec<SweepSource<'_>> {
    loaded
        .iter()
        .map(|l| SweepSource {
            card: &l.card,
            weights: &l.weights,
        })
        .collect()
}

/// The sweep of `job`: rates the worker has computed before come from its cache, the others
/// are computed slice by slice, reporting progress and stopping (as cancelled) at the next
/// slice after a cancel; finished rates stay cached.
pub async fn sweep(
    job: SweepJob,
    cancelled: &dyn Fn() -> bool,
    progress: &dyn Fn(Body),
) -> Result<Body> {
    check_rates(&job.rates)?;
    let loaded = networks(&job.nets).await?;
    let sources = sources(&loaded);
    let held = held_out(&loaded).await?;
    let chosen = spread(held.images.len(), job.slices)?;
    let test: Vec<&[f32]> = chosen.iter().map(|&i| &held.images[i][..]).collect();
    let n = test.len();
    for point in &job.known {
        if point.nets.len() != job.nets.len() || !job.rates.contains(&point.rate) {
            return Err(Error::Input(format!(
                "a rate computed before ({}) does not belong to this sweep",
                point.rate
            )));
        }
        POINTS.with(|p| {
            p.borrow_mut()
                .insert(point_key(&job.nets, n, point.rate), point.clone())
        });
    }
    let start = now_ms();
    let cached = job
        .rates
        .iter()
        .filter(|&&r| POINTS.with(|p| p.borrow().contains_key(&point_key(&job.nets, n, r))))
        .count();
    let run = Missing {
        side: held.side,
        job: &job,
        sources: &sources,
        test: &test,
        cancelled,
        progress,
    };
    let ((rate_millis, steps), computed) =
        on_engine(job.engine, false, |c| async move { run.compute(&c).await }).await?;
    let computing: f64 = rate_millis.iter().sum();
    let computed = computed.timed(computing / steps.max(1) as f64, "slice at one rate");
    let points: Vec<Option<RatePoint>> = job
        .rates
        .iter()
        .map(|&r| POINTS.with(|p| p.borrow().get(&point_key(&job.nets, n, r)).cloned()))
        .collect();
    let points: Vec<RatePoint> = points
        .into_iter()
        .collect::<Option<_>>()
        .ok_or_else(|| Error::Data("a rate of the sweep was not computed".into()))?;
    let report = SweepReport::from_points(
        &sources,
        &points,
        n,
        held.side,
        format!(
            "computed in this browser's worker: nets {}, {} rates, {n} held-out slices",
            job.nets.join(","),
            job.rates.len()
        ),
    )?;
    Ok(Body::Swept(Box::new(SweepResult {
        job,
        report,
        millis: now_ms() - start,
        rate_millis,
        cached,
        computed,
    })))
}

/// The rates of a sweep the worker has not computed yet.
#[derive(Clone, Copy)]
struct Missing<'m> {
    side: usize,
    job: &'m SweepJob,
    sources: &'m [SweepSource<'m>],
    test: &'m [&'m [f32]],
    cancelled: &'m dyn Fn() -> bool,
    progress: &'m dyn Fn(Body),
}

impl Missing<'_> {
    /// Computes the rates not in the cache on the engine of `c`, slice by slice, caching each
    /// finished rate; returns the time of each rate of the job (0 for a cached one) and the
    /// number of (slice, rate) reconstructions computed.
    async fn compute(&self, c: &Computing) -> Result<(Vec<f64>, usize)> {
        let (job, n) = (self.job, self.test.len());
        let total = job.rates.len() * n;
        let missing: Vec<usize> = (0..job.rates.len())
            .filter(|&k| {
                POINTS.with(|p| {
                    !p.borrow()
                        .contains_key(&point_key(&job.nets, n, job.rates[k]))
                })
            })
            .collect();
        let mut rate_millis = vec![0.0; job.rates.len()];
        if missing.is_empty() {
            return Ok((rate_millis, 0));
        }
        let rates: Vec<f64> = missing.iter().map(|&k| job.rates[k]).collect();
        let mut sweep = Sweep::new(
            c.engine(),
            self.sources,
            self.test.to_vec(),
            &rates,
            self.side,
        )?;
        let mut since = now_ms();
        let mut steps = 0;
        while !sweep.is_done() {
            let (m, j) = sweep.position();
            let k = missing[m];
            let finished = sweep.step_async().await?;
            steps += 1;
            (self.progress)(Body::Progress {
                done: k * n + j + 1,
                total,
            });
            if let Some(p) = finished {
                rate_millis[k] = now_ms() - since;
                since = now_ms();
                (self.progress)(Body::SweptRate {
                    nets: job.nets.clone(),
                    slices: job.slices,
                    point: p.clone(),
                });
                POINTS.with(|c| c.borrow_mut().insert(point_key(&job.nets, n, p.rate), p));
            }
            gloo::timers::future::TimeoutFuture::new(0).await;
            if (self.cancelled)() {
                return Err(Error::Cancelled);
            }
        }
        Ok((rate_millis, steps))
    }
}

/// One held-out slice measured at one rate and reconstructed by zero-filling, FIRENET and every
/// network (rebuilt with that rate's mask), with each PSNR.
pub async fn slice(job: SweepSliceJob) -> Result<Body> {
    check_rates(&[job.rate])?;
    let loaded = networks(&job.nets).await?;
    let sources = sources(&loaded);
    let held = held_out(&loaded).await?;
    let side = held.side;
    let x = held.images.get(job.slice).ok_or_else(|| {
        Error::Input(format!(
            "there are {} held-out slices, not {}",
            held.images.len(),
            job.slice + 1
        ))
    })?;
    let spec = common_mask(&sources, side)?;
    let ((outs, sampled), computed) = on_engine(job.engine, false, |c| {
        let (spec, sources) = (&spec, &sources);
        let rate = job.rate;
        async move {
            let at = AtRate::new(c.engine(), spec, side, rate, sources)?;
            let fire = FirenetSetting::new(c.engine(), side)?;
            let start = now_ms();
            let outs = at.reconstruct_async(&fire, x).await?;
            let per = (now_ms() - start) / outs.len().max(1) as f64;
            Ok(((outs, at.sampled()), per))
        }
    })
    .await
    .map(|(((outs, sampled), per), computed)| {
        ((outs, sampled), computed.timed(per, "reconstruction"))
    })?;
    let mut titles = vec![
        ("zero-filled".to_string(), "zero-filling A*y".to_string()),
        ("firenet".to_string(), "FIRENET".to_string()),
    ];
    titles.extend(loaded.iter().map(|l| {
        (
            l.card.name.clone(),
            format!("{} (weights fixed)", l.card.name),
        )
    }));
    let methods = titles
        .into_iter()
        .zip(&outs)
        .map(|((key, title), out)| SweepSliceMethod {
            key,
            title,
            picture: Picture::from_unit(out, side),
            psnr: psnr(x, out, 1.0),
        })
        .collect();
    Ok(Body::SweepSlice(Box::new(SweepSliceResult {
        name: held.names.get(job.slice).cloned().unwrap_or_default(),
        sampled,
        truth: Picture::from_unit(x, side),
        methods,
        job,
        computed,
    })))
}
