//! Gradient directions with a line search: the lecture's "fast gradient" and Goodfellow et al.'s
//! FGSM (ICLR 2015).
//!
//! - Fast gradient (slides): `L(s) = ‖p(x + s) − p(x)‖²₂` with `p = softmax ∘ f`; `v = ∇L(s₀)`.
//!   Since `∇L(0) = 0`, the gradient is taken at a small seeded start `s₀ = τ‖x‖₂·ξ/‖ξ‖₂`,
//!   `ξ ~ N(0, I)`, `τ = 10⁻³` (the authors' searches start from `τ·noise` likewise). By the chain
//!   rule `∇L(s) = J_f(x + s)ᵀ (diag p − p pᵀ) · 2(p(x + s) − p(x))`.
//! - FGSM (ℓ∞): `v = sign(∇ₓ CE(x, k̂(x)))`, with `∇_f CE = p − e_k̂`.
//!
//! Both then take the smallest label-changing step along the line through `x` in direction `v`
//! ([`LineSearch::run_both_ways`]): from a random start the gradient can point either way.

use crate::classification::attack::{add_scaled, norm2, softmax, AttackKind, AttackOutcome, Model};
use crate::classification::line_search::LineSearch;
use crate::classification::random_noise::gaussian;
use crate::Result;

/// Relative size `τ` of the random start of the fast-gradient direction.
pub const START_SCALE: f64 = 1e-3;

/// The slides' fast-gradient direction at `x` (see the module docs).
pub fn fast_gradient_direction(model: &dyn Model, x: &[f64], seed: u64) -> Result<Vec<f64>> {
    let p0 = softmax(&model.logits(x)?);
    let xi = gaussian(x.len(), seed);
    let s0 = START_SCALE * norm2(x).max(1.0) / norm2(&xi);
    let xs = add_scaled(x, s0, &xi);
    let p = softmax(&model.logits(&xs)?);
    let g: Vec<f64> = p.iter().zip(&p0).map(|(a, b)| 2.0 * (a - b)).collect();
    let pg: f64 = p.iter().zip(&g).map(|(a, b)| a * b).sum();
    let w: Vec<f64> = p.iter().zip(&g).map(|(pk, gk)| pk * (gk - pg)).collect();
    model.vjp(&xs, &w)
}

/// FGSM's direction `sign(∇ₓ CE(x, k̂(x)))` at `x`.
pub fn fgsm_direction(model: &dyn Model, x: &[f64]) -> Result<Vec<f64>> {
    let f = model.logits(x)?;
    let k = crate::classification::classifier::argmax(&f);
    let mut w = softmax(&f);
    w[k] -= 1.0;
    let g = model.vjp(x, &w)?;
    Ok(g.iter()
        .map(|&v| {
            if v > 0.0 {
                1.0
            } else if v < 0.0 {
                -1.0
            } else {
                0.0
            }
        })
        .collect())
}

/// Runs the fast-gradient attack on `x`.
pub fn fast_gradient(
    model: &dyn Model,
    x: &[f64],
    seed: u64,
    search: &LineSearch,
) -> Result<AttackOutcome> {
    // One extra evaluation: the gradient that gave v.
    let what = (model, AttackKind::FastGradient, x);
    search.attack_along(what, true, 1, || fast_gradient_direction(model, x, seed))
}

/// Runs FGSM with the smallest label-changing `ε` on `x`.
pub fn fgsm(model: &dyn Model, x: &[f64], search: &LineSearch) -> Result<AttackOutcome> {
    search.attack_along((model, AttackKind::Fgsm, x), false, 1, || {
        fgsm_direction(model, x)
    })
}
