//! The compute worker: its runtime and the jobs each page asks for, named after the page
//! ([`crate::web::pages`]).
//!
//! - [`runtime`]: receives requests, runs jobs with progress and cancel, reports panics;
//! - [`mri`]: reconstructions, FIRENET layers and uploads;
//! - [`hallucinations`]: the networks' figures and the live instability search;
//! - [`kernel`]: the kernel and details experiments;
//! - [`structural`]: the smallest-patch search;
//! - [`explanations`]: the manipulation of an explanation;
//! - [`sweep`]: the live sampling sweep;
//! - [`universal`]: the universal search and the transfer table;
//!
//! The MRI jobs compute through an [`Engine`] ([`crate::engine`]): [`on_engine`] runs a job on
//! the GPU where the page's `?engine=` and the browser allow it ([`placement`]), through the
//! engine's asynchronous faces, and again on the CPU if the GPU fails; [`engine`] is the CPU
//! engine for what stays on the CPU.

pub mod explanations;
pub mod hallucinations;
pub mod kernel;
pub mod mri;
pub mod runtime;
pub mod structural;
pub mod sweep;
pub mod universal;

use crate::engine::gpu::GpuEngine;
use crate::engine::{CpuEngine, Engine};
use crate::protocol::{Computed, EngineChoice};
use crate::{Error, Result};
use std::cell::RefCell;
use std::future::Future;
use std::rc::Rc;

/// The CPU engine, for what the worker computes on the CPU whatever the page asks (the
/// catalogue's and the layer view's wavelet transforms, the classification half).
pub fn engine() -> &'static dyn Engine {
    &CpuEngine
}

/// The engine one run of a job computes on ([`on_engine`]).
#[derive(Clone)]
pub struct Computing {
    gpu: Option<Rc<GpuEngine>>,
    lose: bool,
}

impl Computing {
    /// The engine.
    pub fn engine(&self) -> &dyn Engine {
        match &self.gpu {
            Some(gpu) => &**gpu,
            None => &CpuEngine,
        }
    }

    /// Whether this run is on the GPU.
    pub fn is_gpu(&self) -> bool {
        self.gpu.is_some()
    }

    /// The engine's name for the page's badge: the adapter's, or `CPU`.
    pub fn name(&self) -> String {
        match &self.gpu {
            Some(gpu) => gpu.adapter().to_string(),
            None => "CPU".into(),
        }
    }

    /// The fallback's test aid (`?lose-gpu=1`): destroys the GPU device after the run's first
    /// chunk of work, when the job asked for it.
    pub fn maybe_lose(&self) {
        if let (Some(gpu), true) = (&self.gpu, self.lose) {
            gpu.context().lose();
        }
    }
}

/// Runs `job` on the engine [`placement`] picks for `choice`: on the GPU, and if the GPU fails
/// there (a lost device, an out-of-memory or validation error: [`Error::Gpu`]) the worker marks
/// it lost and runs the job again on the CPU, never losing it. Returns the result and what
/// computed it (`millis` left 0 for the caller to fill in), with a notice when the GPU was asked
/// for and not used. `lose` is the fallback's test aid ([`Computing::maybe_lose`]).
pub async fn on_engine<T, Fut>(
    choice: EngineChoice,
    lose: bool,
    job: impl Fn(Computing) -> Fut,
) -> Result<(T, Computed)>
where
    Fut: Future<Output = Result<T>>,
{
    let cpu = Computing {
        gpu: None,
        lose: false,
    };
    let (gpu, notice) = match placement(choice).await {
        Placement::Gpu(gpu) => (gpu, None),
        Placement::Cpu(notice) => {
            let value = job(cpu).await?;
            return Ok((value, Computed::new("CPU", notice)));
        }
    };
    let on_gpu = Computing {
        gpu: Some(gpu),
        lose,
    };
    let name = on_gpu.name();
    match job(on_gpu).await {
        Ok(value) => Ok((value, Computed::new(&name, notice))),
        Err(Error::Gpu(why)) => {
            gpu_failed(why.clone());
            let value = job(cpu).await?;
            let notice = format!(
                "The GPU failed ({why}): from now on the CPU computes; this was computed again on it."
            );
            Ok((value, Computed::new("CPU", Some(notice))))
        }
        Err(e) => Err(e),
    }
}

/// The worker's GPU, asked for once (the first job that may use it).
enum GpuSlot {
    Unasked,
    Absent,
    Ready(Rc<GpuEngine>),
    /// Lost (or failed) during this session: the CPU computes from then on.
    Lost(String),
}

thread_local! {
    static GPU: RefCell<GpuSlot> = const { RefCell::new(GpuSlot::Unasked) };
}

/// Where a job that may use the GPU computes.
pub enum Placement {
    /// On this GPU.
    Gpu(Rc<GpuEngine>),
    /// On the CPU, with why not on the GPU when it was asked for (or had been lost).
    Cpu(Option<String>),
}

/// Where a job asking for `choice` computes: the GPU for `auto` and `gpu` where the browser
/// has an adapter and it was not lost; else the CPU, with a notice unless the CPU was asked for
/// or `auto` found no adapter.
pub async fn placement(choice: EngineChoice) -> Placement {
    if choice == EngineChoice::Cpu {
        return Placement::Cpu(None);
    }
    if GPU.with(|g| matches!(*g.borrow(), GpuSlot::Unasked)) {
        let slot = match GpuEngine::request().await {
            Ok(Some(gpu)) => GpuSlot::Ready(Rc::new(gpu)),
            Ok(None) => GpuSlot::Absent,
            Err(e) => GpuSlot::Lost(e.to_string()),
        };
        GPU.with(|g| *g.borrow_mut() = slot);
    }
    GPU.with(|g| match &*g.borrow() {
        GpuSlot::Ready(gpu) => Placement::Gpu(Rc::clone(gpu)),
        GpuSlot::Absent | GpuSlot::Unasked => Placement::Cpu(
            (choice == EngineChoice::Gpu)
                .then(|| "This browser offers no WebGPU adapter: computed on the CPU.".into()),
        ),
        GpuSlot::Lost(why) => Placement::Cpu(Some(format!(
            "The GPU failed earlier in this session ({why}): computed on the CPU."
        ))),
    })
}

/// Records that the GPU failed (a lost device, an out-of-memory or validation error): the
/// worker computes on the CPU for the rest of the session.
pub fn gpu_failed(why: String) {
    GPU.with(|g| *g.borrow_mut() = GpuSlot::Lost(why));
}
