//! The compute worker's kernel-awareness job: a detail added to a slice the network holds out
//! (its kernel component `t·z_N`, or the detail itself), measured with a shipped network's
//! sampling at the network's side (64² or 128²), and reconstructed from `Ax` and `Ax′` by
//! zero-filling, FIRENET and the network, one reconstruction at a time with a yield between
//! them, so that a newer request (the user dragging `t`) supersedes an older one.

use crate::mri::brain::{Role, SliceId};
use crate::mri::details::{Experiment, Measured};
use crate::mri::fourier::{fftshift, magnitudes};
use crate::mri::instability::{Reconstructor, ZeroFilling};
use crate::mri::learned::hallucination::{firenet_wavelet, slice_at, FirenetSetting};
use crate::mri::learned::warm_start::WarmStart;
use crate::mri::sampling::Pattern;
use crate::mri::state::detail_net_words;
use crate::mri::wavelet::Wavelet;
use crate::protocol::{Body, KernelJob, KernelMethod, KernelResult, Picture};
use crate::web::now_ms;
use crate::web::worker::hallucinations::{loaded_net, LoadedNet};
use crate::web::worker::mri::brain;
use crate::web::worker::{on_engine, Computing};
use crate::{Error, Result};
use std::cell::Cell;

/// The side of the brain slices the experiment takes its images from (halved for the 64²
/// networks).
const SOURCE_SIDE: usize = 128;

thread_local! {
    static LATEST: Cell<u64> = const { Cell::new(0) };
}

/// Runs the experiment; between reconstructions it yields and stops (as cancelled) if a newer
/// request came or the job was cancelled.
pub async fn kernel(
    id: u64,
    job: KernelJob,
    cancelled: &dyn Fn() -> bool,
    progress: &dyn Fn(Body),
) -> Result<Body> {
    LATEST.with(|l| l.set(id));
    let slice = SliceId::from_name(&job.slice)?;
    let loaded = loaded_net(&job.net).await?;
    let (side, split) = (loaded.card.side, loaded.card.split);
    if split.role(slice.index) != Role::Test {
        return Err(Error::Input(format!(
            "'{}' is not held out for {} (its {} split); the pages use held-out slices only",
            job.slice,
            job.net,
            split.name()
        )));
    }
    let brain = brain(SOURCE_SIDE).await?;
    let x = slice_at(&brain, slice, side)?;
    if job.detail.len() != side * side {
        return Err(Error::Input(format!(
            "the network '{}' works at {side}²; the detail has {} pixels, not {}",
            job.net,
            job.detail.len(),
            side * side
        )));
    }
    let a = &loaded.cpu().a;
    let experiment = Experiment::new(a, &x, &job.detail, job.t)?;
    let stop = || cancelled() || LATEST.with(|l| l.get()) != id;
    let run = Run {
        loaded: &loaded,
        experiment: &experiment,
        stop: &stop,
        progress,
    };
    let (measured, computed) =
        on_engine(job.engine, false, |c| async move { run.measure(&c).await }).await?;
    let mean = measured.iter().map(|(_, ms)| ms).sum::<f64>() / measured.len().max(1) as f64;
    let computed = computed.timed(mean, "reconstruction");
    let names = [
        ("zero-filling", "Zero-filling A*y".to_string()),
        ("firenet", firenet_title(side)),
        ("net", detail_net_words(&loaded.card.title, side)),
        ("net+firenet", format!("{} → FIRENET", job.net)),
    ];
    let pattern = loaded.card.mask.pattern;
    let mut result = result(&job, &experiment, (a, pattern), &names, measured);
    result.computed = computed;
    Ok(Body::Kernel(Box::new(result)))
}

/// FIRENET's title at side `side`, with its wavelet setting ([`firenet_wavelet`]): "FIRENET
/// (Haar, 3 levels; stable by design)" at 64², db4 at 128².
fn firenet_title(side: usize) -> String {
    let (wavelet, levels) = firenet_wavelet(side);
    let name = match wavelet {
        Wavelet::Haar => "Haar".to_string(),
        w => w.name().to_string(),
    };
    format!("FIRENET ({name}, {levels} levels; stable by design)")
}

/// What one run of the experiment reads.
#[derive(Clone, Copy)]
struct Run<'r> {
    loaded: &'r LoadedNet,
    experiment: &'r Experiment,
    /// Whether to stop (cancelled, or a newer request came).
    stop: &'r dyn Fn() -> bool,
    progress: &'r dyn Fn(Body),
}

impl Run<'_> {
    /// Zero-filling, FIRENET, the network and the network → FIRENET on `Ax` and `Ax′` on the
    /// engine of `c`, with each method's mean time per reconstruction.
    async fn measure(&self, c: &Computing) -> Result<Vec<(Measured, f64)>> {
        let experiment = self.experiment;
        let on = self.loaded.on(c)?;
        let fire = FirenetSetting::new(c.engine(), experiment.side)?;
        let b = fire.sampling(&on.a)?;
        let firenet = fire.reconstructor(&b);
        let zero_filling = ZeroFilling(&on.a);
        let methods: [&dyn Reconstructor; 3] = [&zero_filling, &firenet, &on.net];
        let warm = WarmStart::new(&on.net, &fire, &b);
        // The last method refines the network's outputs: Ψ → FIRENET with the same data.
        let total = 2 * (methods.len() + 1);
        let mut measured: Vec<(Measured, f64)> = Vec::with_capacity(methods.len() + 1);
        let ys = [&experiment.y, &experiment.y_prime];
        let mut net_outputs: Vec<(Vec<rustfft::num_complex::Complex32>, f64)> = Vec::new();
        for m in 0..=methods.len() {
            let mut outputs = Vec::with_capacity(2);
            let mut millis = 0.0;
            for (k, y) in ys.into_iter().enumerate() {
                let start = now_ms();
                outputs.push(match methods.get(m) {
                    Some(psi) => psi.reconstruct_async(y).await?,
                    None => warm.refine_async(y, &net_outputs[k].0).await?,
                });
                let spent = now_ms() - start;
                millis += match methods.get(m) {
                    Some(_) => spent,
                    // The warm start's time includes the network's.
                    None => spent + net_outputs[k].1,
                };
                if m + 1 == methods.len() {
                    net_outputs.push((outputs[k].clone(), spent));
                }
                (self.progress)(Body::Progress {
                    done: 2 * m + k + 1,
                    total,
                });
                gloo::timers::future::TimeoutFuture::new(0).await;
                if (self.stop)() {
                    return Err(Error::Cancelled);
                }
            }
            let out_prime = outputs.pop().unwrap_or_default();
            let out = outputs.pop().unwrap_or_default();
            measured.push((experiment.measured(out, out_prime)?, millis / 2.0));
        }
        Ok(measured)
    }
}

/// The pictures and numbers of the figure.
fn result(
    job: &KernelJob,
    e: &Experiment,
    (a, pattern): (&dyn crate::mri::operator::Sampling, Pattern),
    names: &[(&str, String)],
    measured: Vec<(Measured, f64)>,
) -> KernelResult {
    let side = e.side;
    let x_prime = magnitudes(&e.x_prime);
    let detail_scale =
        e.z.iter()
            .map(|v| v.abs())
            .chain(e.added.iter().map(|v| v.norm()))
            .fold(0.0f32, f32::max)
            .max(f32::MIN_POSITIVE);
    let signed = |v: f32| 0.5 + 0.5 * v / detail_scale;
    let errors: Vec<Vec<f32>> = measured
        .iter()
        .map(|(m, _)| {
            m.out_prime
                .iter()
                .zip(&e.x_prime)
                .map(|(o, t)| (o - t).norm())
                .collect()
        })
        .collect();
    let error_scale = errors
        .iter()
        .flatten()
        .fold(0.0f32, |m, v| m.max(*v))
        .max(f32::MIN_POSITIVE);
    let grid: Vec<f32> = a
        .mask()
        .grid()
        .iter()
        .map(|&b| f32::from(u8::from(b)))
        .collect();
    let methods = measured
        .into_iter()
        .zip(names)
        .zip(&errors)
        .map(|(((m, millis), (key, title)), error)| KernelMethod {
            key: key.to_string(),
            title: title.clone(),
            from_x: Picture::from_unit(&magnitudes(&m.out), side),
            from_x_prime: Picture::from_unit(&magnitudes(&m.out_prime), side),
            error_map: Picture::from_unit(
                &error.iter().map(|v| v / error_scale).collect::<Vec<_>>(),
                side,
            ),
            bound: m.bound,
            recovery: m.recovery,
            psnr: m.psnr,
            millis,
        })
        .collect();
    KernelResult {
        net: job.net.clone(),
        slice: job.slice.clone(),
        t: job.t,
        side,
        truth: Picture::from_unit(&e.x, side),
        perturbed: Picture::from_unit(&x_prime, side),
        detail: Picture::from_unit(&e.z.iter().map(|v| signed(*v)).collect::<Vec<_>>(), side),
        added: Picture::from_unit(
            &e.added.iter().map(|v| signed(v.re)).collect::<Vec<_>>(),
            side,
        ),
        added_magnitude: Picture::from_unit(
            &e.added
                .iter()
                .map(|v| v.norm() / detail_scale)
                .collect::<Vec<_>>(),
            side,
        ),
        detail_scale: detail_scale as f64,
        mask: Picture::from_unit(&fftshift(&grid, side), side),
        kspace: Picture::from_unit(&e.kspace_display(a), side),
        region: e.region,
        detail_norm: e.z.iter().map(|v| (*v as f64).powi(2)).sum::<f64>().sqrt(),
        kernel_share: e.kernel_share,
        visible: e.visible,
        distance: e.distance(),
        measurement_gap: e.measurement_gap(),
        measurement_norm: crate::mri::operator::norm(&e.y),
        error_scale: error_scale as f64,
        rate: a.mask().rate(),
        pattern,
        methods,
        computed: Default::default(),
    }
}
