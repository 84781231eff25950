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
//! - [`inference`]: the shipped classifiers as plain loops (forward pass, input Jacobian) for the
//!   attacks;
//! - [`training`]: seeded training and evaluation;
//! - [`affine`]: affine classifiers, the closed-form case of the attacks;
//! - [`attack`]: what the attacks share (model interface, norms, outcomes);
//! - [`random_noise`], [`fast_gradient`], [`deepfool`]: the attacks, with [`line_search`];
//! - [`universal`]: universal perturbations (one `v` for most images) and ℓp projections;
//! - [`linearity`]: Goodfellow et al.'s linearity argument (`ε‖w‖₁` under `‖Δx‖∞ ≤ ε`), digits
//!   area-averaged to 7×7 and 14×14, and the smallest ℓ∞ DeepFool perturbation per resolution;
//! - [`transfer`]: how perturbations carry over between networks (the transfer table);
//! - [`robustness`]: the per-model, per-attack summary;
//! - [`structural`]: structural perturbations (strokes, erasing, small patches), their size in
//!   pixels and `‖x' − x‖₂`, and the search for the smallest label-changing patch;
//! - [`geometry`]: the 2-D DeepFool playground (a binary linear and a small trained classifier);
//! - [`card`]: model cards, the JSON beside each shipped weight file;
//! - [`protocol`]: the messages between the page and the compute worker;
//! - [`route`]: the demos' URL state (deep links, embed mode);
//! - MRI (inverse problems): [`fourier`] (the unitary 2-D DFT), [`sampling`] (nested sampling
//!   patterns), [`wavelet`] (orthogonal periodic 2-D wavelets), [`operator`] (`A = P_Ω F`,
//!   `B = A W⁻¹`, the seam for other engines), [`firenet`] (the stable unrolled network),
//!   [`reconstruction`] (one experiment: measurements, zero-filling, FIRENET, quality),
//!   [`metrics`] (PSNR, SSIM), [`brain`] (MNI template slices), [`phantom`] (Shepp–Logan,
//!   random ellipses), [`upload`] (users' images), [`instability`] (the worst-case perturbation
//!   search of the PNAS 2020 paper), [`consistency`] (the deep cascade's data-consistency
//!   layer in candle), [`cascade`] (the deep cascade network, trainable and differentiable),
//!   [`hallucination`] (the trained networks' setting and cards, structure of a change),
//!   [`sweep`] (more samples can make it worse: a fixed network against the sampling rate);
//! - [`kernel`]: the troublesome kernel (details projected onto `N(A)`, the error lower bound);
//! - [`warm_start`]: getting stability back? `Ψ` followed by FIRENET (`Ψ`'s output as the
//!   initial guess, the same data), with its vector–Jacobian product;
//! - [`kernel_training`]: the troublesome kernel in training (a fixed detail's `z_N` added to
//!   training images; the painted coefficient); [`tradeoff`]: accuracy against worst-case
//!   amplification for every reconstruction method;
//! - [`details`]: structural details ("Can u see it?": how much of a small detail a method
//!   recovers, against what the sampling sees);
//! - `web` (wasm32 only): the Yew components and the worker runtime.

pub mod affine;
pub mod attack;
pub mod brain;
pub mod card;
pub mod cascade;
pub mod classifier;
pub mod consistency;
pub mod deepfool;
pub mod details;
pub mod drawing;
mod error;
pub mod fast_gradient;
pub mod firenet;
pub mod fourier;
pub mod geometry;
pub mod hallucination;
pub mod inference;
pub mod instability;
pub mod kernel;
pub mod kernel_training;
pub mod line_search;
pub mod linearity;
pub mod metrics;
pub mod mnist;
pub mod operator;
pub mod phantom;
pub mod pooling;
pub mod protocol;
pub mod random_noise;
pub mod reconstruction;
pub mod robustness;
pub mod route;
pub mod sampling;
pub mod structural;
pub mod sweep;
pub mod tradeoff;
pub mod training;
pub mod transfer;
pub mod universal;
pub mod upload;
pub mod warm_start;
pub mod wavelet;

#[cfg(target_arch = "wasm32")]
pub mod web;

pub use error::{Error, Result};
