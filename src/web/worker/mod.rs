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

use crate::engine::{CpuEngine, Engine};

/// The engine the worker's MRI jobs compute with: the one place it is chosen (the CPU engine
/// until the jobs can await the GPU engine's read-backs; see [`crate::engine`]).
pub fn engine() -> &'static dyn Engine {
    &CpuEngine
}
