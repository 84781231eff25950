//! The compute worker: its runtime and the jobs each page asks for, named after the page
//! ([`crate::web::pages`]).
//!
//! - [`runtime`]: receives requests, runs jobs with progress and cancel, reports panics;
//! - [`mri`]: reconstructions, FIRENET layers and uploads;
//! - [`hallucinations`]: the networks' figures and the live instability search;
//! - [`kernel`]: the kernel and details experiments;
//! - [`structural`]: the smallest-patch search;
//! - [`sweep`]: the live sampling sweep;
//! - [`universal`]: the universal search and the transfer table;
//!
//! The MRI jobs compute through the worker's one [`engine`] ([`crate::engine`]).

pub mod hallucinations;
pub mod kernel;
pub mod mri;
pub mod runtime;
pub mod structural;
pub mod sweep;
pub mod universal;

use crate::engine::gpu::GpuEngine;
use crate::engine::{CpuEngine, Engine};
use crate::protocol::EngineChoice;
use std::cell::RefCell;
use std::rc::Rc;

/// The engine the worker's MRI jobs compute with through the synchronous seam: the CPU engine
/// (the MRI page's FIRENET runs on the GPU where [`placement`] says so; see [`crate::engine`]).
pub fn engine() -> &'static dyn Engine {
    &CpuEngine
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
