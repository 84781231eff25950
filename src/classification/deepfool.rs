//! DeepFool (Moosavi-Dezfooli, Fawzi, Frossard, CVPR 2016): the minimal perturbation that moves
//! `x` across the nearest decision boundary of the linearised classifier, iterated.
//!
//! - Binary (Algorithm 1), for a score `f: ℝᵈ → ℝ` with label `sign f`:
//!   `rᵢ = −f(xᵢ) ∇f(xᵢ) / ‖∇f(xᵢ)‖²₂`, `xᵢ₊₁ = xᵢ + rᵢ` until the sign flips.
//! - Multiclass (Algorithm 2) on the logits: with `w′ₖ = ∇fₖ(xᵢ) − ∇f_k̂(xᵢ)` and
//!   `f′ₖ = fₖ(xᵢ) − f_k̂(xᵢ)`, pick `l̂ = argmin_{k≠k̂} |f′ₖ| / ‖w′ₖ‖_q` and step
//!   `rᵢ = (|f′_l̂| / ‖w′_l̂‖_q + ε) · |w′_l̂|^{q−1} ⊙ sign(w′_l̂) / ‖w′_l̂‖_q^{q−1}`, `q = p/(p − 1)`:
//!   for ℓ₂ `rᵢ = (|f′|/‖w′‖₂ + ε) w′/‖w′‖₂`, for ℓ∞ `rᵢ = (|f′|/‖w′‖₁ + ε) sign(w′)`.
//!
//! As in the authors' code: the overshoot `η` is applied to the total, `xᵢ = x + (1 + η)Σrⱼ`, the
//! label is tested at `xᵢ`, `ε = 10⁻⁴` is added to each step length, all other classes are
//! candidates, and at most 50 iterations run. The result is `r̂ = (1 + η)Σrᵢ`. Pixel-range
//! clipping is an option, off by default (as in the paper).

use crate::classification::attack::{
    add_scaled, check_input, norm1, norm2, AttackKind, AttackOutcome, Model,
};
use crate::{Error, Result};

/// The norm DeepFool minimises.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Norm {
    L2,
    Linf,
}

/// Settings of DeepFool.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct DeepFool {
    pub norm: Norm,
    /// Overshoot `η`.
    pub overshoot: f64,
    pub max_iterations: usize,
    /// Added to every step length (`10⁻⁴` in the authors' code).
    pub step_epsilon: f64,
    /// Clip `x + r` to this range after each step, if set.
    pub clip: Option<(f64, f64)>,
}

impl Default for DeepFool {
    fn default() -> Self {
        Self {
            norm: Norm::L2,
            overshoot: 0.02,
            max_iterations: 50,
            step_epsilon: 1e-4,
            clip: None,
        }
    }
}

/// DeepFool's answer with its path.
#[derive(Clone, Debug, PartialEq)]
pub struct DeepFoolRun {
    /// `r̂ = (1 + η)Σrᵢ` (after clipping, `x + r̂` is the clipped point).
    pub perturbation: Vec<f64>,
    /// The points `x₀ = x, x₁, …` visited (`xᵢ = x + (1 + η)Σ_{j<i} rⱼ`).
    pub iterates: Vec<Vec<f64>>,
    /// The class whose boundary each step aimed at.
    pub targets: Vec<usize>,
    /// Iterations run.
    pub iterations: usize,
    /// Whether the label changed within the iteration budget.
    pub converged: bool,
}

impl DeepFool {
    fn clip(&self, x: Vec<f64>) -> Vec<f64> {
        match self.clip {
            Some((lo, hi)) => x.into_iter().map(|v| v.clamp(lo, hi)).collect(),
            None => x,
        }
    }

    /// Multiclass DeepFool on `model` at `x` (Algorithm 2, ℓ₂ or ℓ∞).
    pub fn run(&self, model: &dyn Model, x: &[f64]) -> Result<DeepFoolRun> {
        check_input(model, x)?;
        let k0 = model.label(x)?;
        let mut total = vec![0.0; x.len()];
        let mut xi = x.to_vec();
        let mut iterates = vec![xi.clone()];
        let mut targets = Vec::new();
        let mut label = k0;
        let mut i = 0;
        while label == k0 && i < self.max_iterations {
            let (f, jac) = model.jacobian(&xi)?;
            let mut best: Option<(f64, usize, Vec<f64>)> = None;
            for k in (0..f.len()).filter(|&k| k != k0) {
                let w: Vec<f64> = jac[k].iter().zip(&jac[k0]).map(|(a, b)| a - b).collect();
                let wn = match self.norm {
                    Norm::L2 => norm2(&w),
                    Norm::Linf => norm1(&w),
                };
                if wn.is_nan() || wn <= 0.0 {
                    continue;
                }
                let dist = (f[k] - f[k0]).abs() / wn;
                if best.as_ref().is_none_or(|b| dist < b.0) {
                    best = Some((dist, k, w));
                }
            }
            let Some((dist, l, w)) = best else {
                return Err(Error::Input(
                    "the classifier is flat here (all gradients equal): DeepFool cannot move"
                        .into(),
                ));
            };
            let length = dist + self.step_epsilon;
            let step: Vec<f64> = match self.norm {
                Norm::L2 => {
                    let wn = norm2(&w);
                    w.iter().map(|v| length * v / wn).collect()
                }
                Norm::Linf => w
                    .iter()
                    .map(|v| length * v.signum() * f64::from(*v != 0.0))
                    .collect(),
            };
            for (t, s) in total.iter_mut().zip(&step) {
                *t += s;
            }
            xi = self.clip(add_scaled(x, 1.0 + self.overshoot, &total));
            label = model.label(&xi)?;
            iterates.push(xi.clone());
            targets.push(l);
            i += 1;
        }
        let perturbation = xi.iter().zip(x).map(|(a, b)| a - b).collect();
        Ok(DeepFoolRun {
            perturbation,
            iterates,
            targets,
            iterations: i,
            converged: label != k0,
        })
    }

    /// [`DeepFool::run`] as an [`AttackOutcome`] (failure to converge is an error).
    pub fn attack(&self, model: &dyn Model, x: &[f64]) -> Result<AttackOutcome> {
        let run = self.run(model, x)?;
        if !run.converged {
            return Err(Error::Input(format!(
                "DeepFool did not change the label in {} iterations",
                run.iterations
            )));
        }
        let kind = match self.norm {
            Norm::L2 => AttackKind::DeepFoolL2,
            Norm::Linf => AttackKind::DeepFoolLinf,
        };
        let label = model.label(x)?;
        AttackOutcome::measure(model, kind, x, run.perturbation, label, run.iterations)
    }
}

/// A scalar score with its gradient, `x ↦ (f(x), ∇f(x))`.
pub type Score<'a> = &'a dyn Fn(&[f64]) -> (f64, Vec<f64>);

/// Binary DeepFool (Algorithm 1) for a score `f` given with its gradient: `score(x) = (f(x), ∇f(x))`.
/// Returns the iterates `x₀, x₁, …`, the last one across the boundary, and `r̂ = (1 + η)Σrᵢ`.
pub fn deepfool_binary(
    score: Score,
    x: &[f64],
    overshoot: f64,
    max_iterations: usize,
) -> Result<DeepFoolRun> {
    let (f0, _) = score(x);
    if f0 == 0.0 {
        return Err(Error::Input("x lies on the decision boundary".into()));
    }
    let mut total = vec![0.0; x.len()];
    let mut xi = x.to_vec();
    let mut iterates = vec![xi.clone()];
    let mut i = 0;
    loop {
        let (f, g) = score(&xi);
        if f.signum() != f0.signum() || i >= max_iterations {
            break;
        }
        let gn2: f64 = g.iter().map(|v| v * v).sum();
        if gn2.is_nan() || gn2 <= 0.0 {
            return Err(Error::Input(
                "the score is flat here: DeepFool cannot move".into(),
            ));
        }
        for (t, gi) in total.iter_mut().zip(&g) {
            *t += -f / gn2 * gi;
        }
        xi = add_scaled(x, 1.0 + overshoot, &total);
        iterates.push(xi.clone());
        i += 1;
    }
    let converged = score(&xi).0.signum() != f0.signum();
    Ok(DeepFoolRun {
        perturbation: xi.iter().zip(x).map(|(a, b)| a - b).collect(),
        iterates,
        targets: vec![],
        iterations: i,
        converged,
    })
}
