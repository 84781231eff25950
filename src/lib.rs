//! # Barriers Lab
//!
//! A browser lab on "the barriers of AI and the trade-off between stability and accuracy in deep
//! learning" (Antun & Colbrook). This crate is both the web-free numeric core, tested natively
//! with `cargo test`, and, on `wasm32`, the thin Yew app and compute worker built on it.
//!
//! The folders mirror the lectures' two halves; arrows point down only (`web` → the halves →
//! shared pieces), nothing in the core imports `web`, and no two core files import each other:
//! - [`classification`] (Day I): MNIST, the classifiers, and the attacks on them (DeepFool,
//!   universal perturbations, linearity, structural edits, …);
//! - [`mri`] (Days II–III): Fourier sampling, wavelets, FIRENET, the instability test, the
//!   troublesome kernel; [`mri::learned`]: the trained deep cascade and the experiments on it;
//! - [`engine`]: the compute-engine seam the MRI experiments and the worker's jobs ask for
//!   operators, FIRENET runs and networks (the CPU engine, built from the MRI building blocks,
//!   today; WebGPU next);
//! - shared: [`Error`] and [`Result`], [`card`] (model cards), [`protocol`] (the page–worker
//!   messages), [`route`] (URL state: the query-string machinery and the route list; each demo's
//!   state is declared beside its half, in [`classification::state`] and [`mri::state`]),
//!   [`tensor_file`] (the one writer and reader of the lab's `f32` safetensors files), [`plot`]
//!   (the charts' geometry: axes, ticks, legends, label placement), [`colour`] (the colour maps
//!   and the colour science that checks them);
//! - natively only: `fuzz`, the fuzz targets of every parser of untrusted input (URL state,
//!   uploads, weights, cards, worker messages), run by `lab fuzz` and the tests;
//! - `web` (wasm32 only): the Yew pages (`web::pages`), the worker's jobs (`web::worker`, named
//!   after the pages) and the shared components.

pub mod card;
pub mod classification;
pub mod colour;
pub mod engine;
mod error;
pub mod formula;
#[cfg(not(target_arch = "wasm32"))]
pub mod fuzz;
pub mod lecture;
pub mod mri;
pub mod npy;
pub mod peers;
pub mod plot;
pub mod pool;
pub mod protocol;
pub mod route;
pub mod tensor_file;

#[cfg(target_arch = "wasm32")]
pub mod web;

pub use error::{Error, Result};
