//! The classification half of the lectures (Day I): MNIST digits, the classifiers trained for
//! the lab, and the attacks that show how unstable they are.
//!
//! Models and data:
//! - [`mnist`]: the digits, their compact safetensors form and the seeded split;
//! - [`classifier`]: the candle models (logits, probabilities, input gradients);
//! - [`drawing`]: MNIST-style normalisation of drawn digits;
//! - [`pooling`]: 2×2 max-pooling with an exact gradient;
//! - [`inference`]: the shipped classifiers as plain loops (forward pass, input Jacobian) for the attacks;
//! - [`training`]: seeded training and held-out evaluation;
//! - [`parts`]: the held-out evaluation and the robustness run split into digit ranges for the worker pool, and merged back;
//!
//! Attacks and what they show:
//! - [`affine`]: affine classifiers, the closed-form case of the attacks;
//! - [`attack`]: what the attacks share: the model interface, norms, outcomes;
//! - [`random_noise`]: random noise of growing norm (the baseline);
//! - [`fast_gradient`]: the fast gradient sign method (Goodfellow et al. 2015);
//! - [`line_search`]: the exact line search along a direction, shared by the baselines;
//! - [`deepfool`]: DeepFool (Moosavi-Dezfooli et al. 2016), ℓ₂ and ℓ∞;
//! - [`robustness`]: the per-model, per-attack summary on the held-out digits;
//! - [`geometry`]: the 2-D DeepFool playground (a binary linear and a small trained classifier);
//! - [`universal`]: universal perturbations (one `v` for most images) and ℓp projections;
//! - [`transfer`]: how perturbations carry over between networks (the transfer table);
//! - [`linearity`]: Goodfellow et al.'s linearity argument (`ε‖w‖₁`) and the models at three resolutions;
//! - [`structural`]: structural edits (strokes, erasing, patches) and the smallest label-changing patch;
//! - [`false_structure`]: a faint label-dependent structure planted in the digits (Thesing, Antun &
//!   Hansen 2019): a network trained on it follows the structure, and DeepFool's perturbation
//!   concentrates on it;
//! - [`non_robust`]: non-robust features (Ilyas et al. 2019): a set relabelled by targeted ℓ₂
//!   PGD, and what a network trained only on it learns;
//! - [`explanation`]: saliency maps and their manipulation (Dombrowski et al. 2019);
//!
//! The pages' links:
//! - [`state`]: each demo's URL state (Classify, Attacks, universal, linearity, structural), one table of settings per demo;

pub mod affine;
pub mod attack;
pub mod classifier;
pub mod deepfool;
pub mod drawing;
pub mod explanation;
pub mod false_structure;
pub mod fast_gradient;
pub mod geometry;
pub mod inference;
pub mod line_search;
pub mod linearity;
pub mod mnist;
pub mod non_robust;
pub mod parts;
pub mod pooling;
pub mod random_noise;
pub mod robustness;
pub mod state;
pub mod structural;
pub mod training;
pub mod transfer;
pub mod universal;
