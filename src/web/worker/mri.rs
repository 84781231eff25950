//! The compute worker's MRI jobs: reconstruct (zero-filling and FIRENET, block by block with a
//! yield between blocks so that a newer request supersedes an older one), a FIRENET layer of the
//! last run on request, uploads, and the catalogue of held-out brain slices.

use crate::engine::FirenetInput;
use crate::mri::brain::{BrainSlices, Orientation};
use crate::mri::firenet::Firenet;
use crate::mri::phantom::{random_ellipses, shepp_logan};
use crate::mri::reconstruction::{Experiment, SIDES};
use crate::mri::upload::prepare_upload;
use crate::protocol::EngineChoice;
use crate::protocol::{Body, MriImage, Panel, Picture, ReconstructJob, Reconstruction};
use crate::web::data::{load_once, Shareable};
use crate::web::fetch::fetch_bytes;
use crate::web::now_ms;
use crate::web::worker::hallucinations::loaded_net;
use crate::web::worker::{engine, on_engine, placement, Computing, Placement};
use crate::{Error, Result};
use rustfft::num_complex::Complex32;
use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::rc::Rc;

/// Where the worker finds the brain slices, relative to its own script.
pub fn brain_url(side: usize) -> String {
    format!("./static/data/mri/brain-{side}.safetensors")
}

/// A finished run, kept for [`firenet_layer`].
struct StoredRun {
    id: u64,
    experiment: Rc<Experiment<'static>>,
    /// The wavelet coefficients after each layer.
    layers: Vec<Vec<Complex32>>,
}

thread_local! {
    static BRAINS: RefCell<HashMap<String, Shareable<BrainSlices>>> = RefCell::new(HashMap::new());
    static LATEST: Cell<u64> = const { Cell::new(0) };
    static LAST_RUN: RefCell<Option<StoredRun>> = const { RefCell::new(None) };
    /// The latest upload, prepared at one size `(side, image)`: the page sends its file again
    /// for another size.
    static UPLOAD: RefCell<Option<(usize, Vec<f32>)>> = const { RefCell::new(None) };
}

pub(crate) async fn brain(side: usize) -> Result<Rc<BrainSlices>> {
    let url = brain_url(side);
    load_once(&BRAINS, &url.clone(), || async move {
        // Name the file and the data set: "header too large" alone tells the reader nothing.
        let slices = BrainSlices::from_safetensors(&fetch_bytes(&url).await?).map_err(|e| {
            Error::Data(format!(
                "the brain slices ({}) could not be read: {e}",
                url.trim_start_matches("./")
            ))
        })?;
        if slices.side() != side {
            return Err(Error::Data(format!(
                "{url} holds {0}×{0} slices",
                slices.side()
            )));
        }
        Ok(slices)
    })
    .await
}

fn check_side(side: usize) -> Result<()> {
    if SIDES.contains(&side) {
        Ok(())
    } else {
        Err(Error::Input(format!(
            "the MRI lab works at {SIDES:?} pixels, not {side}"
        )))
    }
}

/// The image a job asks for.
async fn image(choice: &MriImage, side: usize) -> Result<Vec<f32>> {
    match choice {
        MriImage::Brain { orientation, index } => {
            let brain = brain(side).await?;
            let orientation = Orientation::from_name(orientation)?;
            let held_out: Vec<_> = brain
                .test_slices()
                .into_iter()
                .filter(|s| s.orientation == orientation)
                .collect();
            let id = held_out.get(*index).ok_or_else(|| {
                Error::Input(format!(
                    "there are {} held-out {} slices, not {}",
                    held_out.len(),
                    orientation.name(),
                    index + 1
                ))
            })?;
            brain.image(*id)
        }
        MriImage::SheppLogan => Ok(shepp_logan(side)),
        MriImage::Ellipses { seed } => Ok(random_ellipses(side, *seed)),
        MriImage::Upload => UPLOAD.with(|u| {
            u.borrow()
                .as_ref()
                .filter(|(at, _)| *at == side)
                .map(|(_, image)| image.clone())
                .ok_or_else(|| Error::Input("no image has been uploaded at this size yet".into()))
        }),
    }
}

fn magnitude_picture(x: &[Complex32], side: usize) -> Picture {
    let m: Vec<f32> = x.iter().map(|z| z.norm()).collect();
    Picture::from_unit(&m, side)
}

fn panel(experiment: &Experiment, x: &[Complex32]) -> Panel {
    Panel {
        picture: magnitude_picture(x, experiment.side()),
        quality: experiment.quality(x),
    }
}

/// Runs a reconstruction. Between FIRENET blocks it yields to the event loop and stops
/// (as cancelled) if a newer reconstruction was requested or the job was cancelled.
pub async fn reconstruct(
    id: u64,
    job: ReconstructJob,
    cancelled: &dyn Fn() -> bool,
    progress: &dyn Fn(Body),
) -> Result<Body> {
    LATEST.with(|l| l.set(id));
    check_side(job.side)?;
    let truth = image(&job.image, job.side).await?;
    let setup = job.setup()?;
    let firenet = setup.firenet;
    let experiment = Rc::new(Experiment::new(engine(), truth, job.side, &setup)?);
    let watch = Watch {
        id,
        total: firenet.blocks,
        cancelled,
        progress,
    };
    let (run, computed) = on_engine(job.engine, job.lose_gpu, |c| {
        let (experiment, firenet, watch) = (&experiment, &firenet, &watch);
        async move { firenet_on(&c, experiment, firenet, watch).await }
    })
    .await?;
    let FirenetRun {
        psi,
        layers,
        errors,
        millis,
    } = run;
    let x = experiment.image_of(&psi);
    let side = job.side;
    let reply = Reconstruction {
        run: id,
        side,
        truth: Picture::from_unit(experiment.truth(), side),
        mask: Picture::from_unit(&experiment.mask_display(), side),
        kspace: Picture::from_unit(&experiment.kspace_display(), side),
        rate: experiment.sampling().mask().rate(),
        samples: experiment.sampling().mask().count(),
        wavelet_levels: experiment.wavelet().levels(),
        zero_filled: panel(&experiment, &experiment.zero_filled()),
        firenet: panel(&experiment, &x),
        layer_errors: errors,
        layers_per_block: job.layers_per_block,
        millis,
        engine: computed.engine,
        notice: computed.notice,
    };
    LAST_RUN.with(|r| {
        *r.borrow_mut() = Some(StoredRun {
            id,
            experiment,
            layers,
        })
    });
    Ok(Body::Reconstructed(Box::new(reply)))
}

/// What a reconstruction job reports to and asks of the page while FIRENET runs.
struct Watch<'w> {
    id: u64,
    total: usize,
    cancelled: &'w dyn Fn() -> bool,
    progress: &'w dyn Fn(Body),
}

impl Watch<'_> {
    /// After a block: progress, a yield to the event loop, and whether to stop (cancelled, or a
    /// newer reconstruction asked for).
    async fn block_done(&self, done: usize, more: bool) -> Result<()> {
        (self.progress)(Body::Progress {
            done,
            total: self.total,
        });
        if more {
            gloo::timers::future::TimeoutFuture::new(0).await;
            if (self.cancelled)() || LATEST.with(|l| l.get()) != self.id {
                return Err(Error::Cancelled);
            }
        }
        Ok(())
    }
}

/// A finished FIRENET run: `ψ_n`, the estimate after each layer, each layer's relative error
/// and the computing time (without the yields between blocks).
struct FirenetRun {
    psi: Vec<Complex32>,
    layers: Vec<Vec<Complex32>>,
    errors: Vec<f64>,
    millis: f64,
}

impl FirenetRun {
    fn new(layers: usize) -> Self {
        Self {
            psi: Vec::new(),
            layers: Vec::with_capacity(layers),
            errors: Vec::with_capacity(layers),
            millis: 0.0,
        }
    }

    /// Keeps a layer's estimate and its error against the truth's coefficients (W is
    /// orthogonal: the image error is the coefficient error).
    fn keep(&mut self, estimate: &[Complex32], truth: &[Complex32], truth_norm: f64) {
        self.errors
            .push(crate::mri::operator::distance(estimate, truth) / truth_norm);
        self.layers.push(estimate.to_vec());
    }
}

/// FIRENET on the engine of `c`, block by block, with the experiment's measurements, weights
/// and wavelet (on the GPU every layer runs there and the layers' estimates are read back after
/// each block). With the fallback's test aid the GPU device is destroyed after the first block.
async fn firenet_on(
    c: &Computing,
    experiment: &Experiment<'_>,
    firenet: &Firenet,
    watch: &Watch<'_>,
) -> Result<FirenetRun> {
    let engine = c.engine();
    let truth = experiment.truth_coefficients();
    let truth_norm = crate::mri::operator::norm(&truth).max(f64::MIN_POSITIVE);
    let a = engine.sampling(experiment.sampling().mask().clone())?;
    let b = engine.wavelet_sampling(&*a, experiment.wavelet())?;
    let input = FirenetInput {
        firenet,
        op: &*b,
        y: experiment.measurements(),
        weights: experiment.weights(),
        initial: None,
    };
    let mut out = FirenetRun::new(firenet.layers());
    let mut run = engine.firenet_start(input, None)?;
    loop {
        let start = now_ms();
        let more = run
            .next_block_async(Some(&mut |_, estimate: &[Complex32]| {
                out.keep(estimate, &truth, truth_norm);
                true
            }))
            .await?;
        out.millis += now_ms() - start;
        if run.blocks_done() == 1 {
            c.maybe_lose();
        }
        watch.block_done(run.blocks_done(), more).await?;
        if !more {
            break;
        }
    }
    run.settle().await?;
    out.psi = run.finish();
    Ok(out)
}

/// The engine benchmark ([`crate::engine::bench`]) in this browser, on its WebGPU adapter,
/// with a progress report after each case.
pub async fn bench_engine(repeats: usize, progress: &dyn Fn(Body)) -> Result<Body> {
    if !(3..=50).contains(&repeats) {
        return Err(Error::Input(format!(
            "the engine benchmark repeats each case 3 to 50 times, not {repeats}"
        )));
    }
    let gpu = match placement(EngineChoice::Gpu).await {
        Placement::Gpu(gpu) => gpu,
        Placement::Cpu(why) => {
            return Err(Error::Input(why.unwrap_or_else(|| {
                "the engine benchmark needs a WebGPU adapter".into()
            })))
        }
    };
    let net = loaded_net("cascade-12").await?;
    let mut done = 0;
    let report = crate::engine::bench::run(
        engine(),
        &*gpu,
        gpu.adapter(),
        "browser",
        &net.card,
        &net.weights,
        repeats,
        &now_ms,
        &mut |_| {
            done += 1;
            progress(Body::Progress { done, total: 6 });
        },
    )
    .await?;
    Ok(Body::EngineBench(Box::new(report)))
}

/// FIRENET's estimate after `layer` layers of the last run.
pub fn firenet_layer(run: u64, layer: usize) -> Result<Body> {
    LAST_RUN.with(|r| {
        let stored = r.borrow();
        let Some(s) = stored.as_ref().filter(|s| s.id == run) else {
            return Err(Error::Input(
                "that reconstruction is no longer available; run it again".into(),
            ));
        };
        let coefficients = layer
            .checked_sub(1)
            .and_then(|k| s.layers.get(k))
            .ok_or_else(|| {
                Error::Input(format!(
                    "FIRENET has {} layers, not {layer}",
                    s.layers.len()
                ))
            })?;
        let x = s.experiment.image_of(coefficients);
        Ok(Body::FirenetLayer {
            run,
            layer,
            panel: panel(&s.experiment, &x),
        })
    })
}

/// Decodes an upload (a `data:` URL) and keeps it as the upload at `side`, forgetting any
/// earlier upload (at any size): the page sends its file again for another size.
pub fn upload(data_url: &str, side: usize) -> Result<Body> {
    use base64::Engine;
    check_side(side)?;
    let payload = data_url
        .split_once(";base64,")
        .map(|(_, b)| b)
        .ok_or_else(|| Error::Input("the file could not be read (not a base64 data URL)".into()))?;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(payload.trim())
        .map_err(|e| Error::Input(format!("the file could not be read ({e})")))?;
    let prepared = prepare_upload(&bytes, side)?;
    let preview = Picture::from_unit(&prepared.image, side);
    UPLOAD.with(|u| *u.borrow_mut() = Some((side, prepared.image)));
    let mut notes = prepared.notes;
    notes.extend(prepared.warnings);
    Ok(Body::Uploaded { preview, notes })
}

/// The held-out brain slices per orientation at `side`.
pub async fn brain_catalog(side: usize) -> Result<Body> {
    check_side(side)?;
    let brain = brain(side).await?;
    let held_out = brain.test_slices();
    let slices = Orientation::ALL
        .iter()
        .map(|o| {
            (
                o.name().to_string(),
                held_out.iter().filter(|s| s.orientation == *o).count(),
            )
        })
        .collect();
    Ok(Body::BrainCatalog { side, slices })
}
