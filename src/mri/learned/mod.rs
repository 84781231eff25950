//! Learned reconstructions: the deep cascade trained for the lab, and what it does under the
//! instability test, the troublesome kernel, more samples and noise.
//!
//! - [`consistency`]: the data-consistency layer of the deep cascade in candle;
//! - [`cascade`]: the deep cascade network, trainable and differentiable;
//! - [`checkpoint`]: resumable training (AdamW with saved moments, checkpoint files);
//! - [`hallucination`]: the trained networks' setting, cards, report types and the structure of a change;
//! - [`kernel_training`]: the troublesome kernel in training (a fixed detail's `z_N` in training images);
//! - [`warm_start`]: `Ψ` followed by FIRENET, with its vector–Jacobian product;
//! - [`sweep`]: more samples can make it worse: fixed networks against the sampling rate;
//! - [`tradeoff`]: accuracy against worst-case amplification for every method;

pub mod cascade;
pub mod checkpoint;
pub mod consistency;
pub mod hallucination;
pub mod kernel_training;
pub mod sweep;
pub mod tradeoff;
pub mod warm_start;
