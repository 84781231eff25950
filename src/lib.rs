//! # Barriers Lab
//!
//! A browser lab on "the barriers of AI and the trade-off between stability and accuracy in deep
//! learning" (Antun & Colbrook). This crate is both the web-free numeric core, tested natively
//! with `cargo test`, and, on `wasm32`, the thin Yew app and compute worker built on it.
//!
//! The folders mirror the lectures' two halves; arrows point down only (`web` → the halves →
//! `engine` → shared pieces), and nothing in the core imports `web`:
//! - [`classification`] (Day I): MNIST, the classifiers, and the attacks on them (DeepFool,
//!   universal perturbations, linearity, structural edits, …);
//! - [`mri`] (Days II–III): Fourier sampling, wavelets, FIRENET, the instability test, the
//!   troublesome kernel; [`mri::learned`]: the trained deep cascade and the experiments on it;
//! - [`engine`]: the compute-engine seam the MRI experiments ask for (the CPU engine today);
//! - shared: [`Error`] and [`Result`], [`card`] (model cards), [`protocol`] (the page–worker
//!   messages), [`route`] (URL state: the query-string machinery and the route list; each demo's
//!   state is declared beside its half, in [`classification::state`] and [`mri::state`]);
//! - `web` (wasm32 only): the Yew pages (`web::pages`), the worker's jobs (`web::worker`, named
//!   after the pages) and the shared components.

pub mod card;
pub mod classification;
pub mod engine;
mod error;
pub mod mri;
pub mod protocol;
pub mod route;

#[cfg(target_arch = "wasm32")]
pub mod web;

pub use error::{Error, Result};
