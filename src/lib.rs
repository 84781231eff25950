//! # Barriers Lab
//!
//! A browser lab on "the barriers of AI and the trade-off between stability and accuracy in deep
//! learning" (Antun & Colbrook). This crate is both the web-free numeric core (models, data,
//! training; later attacks, operators and FIRENET), tested natively with `cargo test`, and, on
//! `wasm32`, the thin Yew app and compute worker built on it.
//!
//! Modules, one concept a file:
//! - [`mnist`]: the digits, their compact safetensors form and the seeded split;
//! - [`classifier`]: the candle models (logits, probabilities, input gradients);
//! - [`drawing`]: MNIST-style normalisation of drawn digits;
//! - [`pooling`]: max-pooling with an exact gradient;
//! - [`training`]: seeded training and evaluation;
//! - [`card`]: model cards, the JSON beside each shipped weight file;
//! - [`protocol`]: the messages between the page and the compute worker;
//! - [`route`]: the demos' URL state (deep links, embed mode);
//! - `web` (wasm32 only): the Yew components and the worker runtime.

pub mod card;
pub mod classifier;
pub mod drawing;
mod error;
pub mod mnist;
pub mod pooling;
pub mod protocol;
pub mod route;
pub mod training;

#[cfg(target_arch = "wasm32")]
pub mod web;

pub use error::{Error, Result};
