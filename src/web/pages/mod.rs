//! One Yew page per demo; each asks the worker for the jobs of the same name in
//! [`crate::web::worker`].
//!
//! - [`attacks`]: random noise, fast gradient and DeepFool on one digit, with the t slider;
//! - [`classify`]: draw or pick a digit, see every model's prediction;
//! - [`explanations`]: a saliency map moved by an imperceptible change;
//! - [`false_structures`]: a planted dot the network learns instead of the digit;
//! - [`geometry`]: the 2-D DeepFool playground;
//! - [`hallucinations`]: the networks' worst cases beside FIRENET's;
//! - [`kernel`]: the troublesome kernel and "Can u see it?";
//! - [`linearity`]: Goodfellow's linearity argument;
//! - [`mri`]: FIRENET against zero-filling on brain slices, phantoms and uploads;
//! - [`non_robust`]: a network trained only on wrongly labelled, perturbed digits;
//! - [`robustness`]: the robustness table, live on the held-out digits;
//! - [`speed`]: the lab against TensorFlow.js and NumPy, and the worker pool;
//! - [`structural`]: structural edits and the smallest-patch search;
//! - [`sweep`]: more samples can make it worse;
//! - [`tradeoff`]: accuracy against stability;
//! - [`universal`]: universal perturbations and the transfer table;

pub mod attacks;
pub mod classify;
pub mod explanations;
pub mod false_structures;
pub mod geometry;
pub mod hallucinations;
pub mod kernel;
pub mod linearity;
pub mod mri;
pub mod non_robust;
pub mod robustness;
pub mod speed;
pub mod structural;
pub mod sweep;
pub mod tradeoff;
pub mod universal;
