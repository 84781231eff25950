//! The smallest label-changing step along a direction: `α* = min{α > 0 : k̂(x + αv) ≠ k̂(x)}`,
//! found by bracketing (doubling α) and then bisection. Used by the random-noise and
//! fast-gradient attacks, and by the slider that marks where the label flips.

use crate::classification::attack::{
    add_scaled, check_input, norm2, AttackKind, AttackOutcome, Model,
};
use crate::{Error, Result};

/// Settings of the search.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LineSearch {
    /// First trial step, as a multiple of `‖x‖₂ / ‖v‖₂` (or of `1/‖v‖₂` for a zero image).
    pub initial: f64,
    /// The search gives up beyond `‖αv‖₂ = max_ratio · max(‖x‖₂, 1)`.
    pub max_ratio: f64,
    /// Bisection stops when the bracket `[lo, hi]` has `hi − lo ≤ rel_tol · hi`.
    pub rel_tol: f64,
}

impl Default for LineSearch {
    fn default() -> Self {
        Self {
            initial: 1e-3,
            max_ratio: 100.0,
            rel_tol: 1e-4,
        }
    }
}

/// The result: the step `α` (on the changed side of the boundary) and model evaluations used.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Step {
    pub alpha: f64,
    /// The largest step known to keep the label (the bracket's other end).
    pub below: f64,
    pub evaluations: usize,
}

impl LineSearch {
    /// Searches along `v` from `x`, whose label is `label`.
    pub fn run(&self, model: &dyn Model, x: &[f64], v: &[f64], label: usize) -> Result<Step> {
        let nv = norm2(v);
        if !nv.is_finite() || nv <= 0.0 {
            return Err(Error::Input(
                "the search direction is zero or not finite".into(),
            ));
        }
        let scale = norm2(x).max(1.0);
        let changed = |a: f64| -> Result<bool> { Ok(model.label(&add_scaled(x, a, v))? != label) };
        let mut evaluations = 0;
        let (mut lo, mut hi) = (0.0, self.initial * scale / nv);
        loop {
            evaluations += 1;
            if changed(hi)? {
                break;
            }
            lo = hi;
            hi *= 2.0;
            if hi * nv > self.max_ratio * scale {
                return Err(Error::Input(format!(
                    "no label change along this direction up to ‖r‖₂ = {:.3} (‖x‖₂ = {:.3})",
                    lo * nv,
                    norm2(x)
                )));
            }
        }
        while hi - lo > self.rel_tol * hi {
            let mid = 0.5 * (lo + hi);
            evaluations += 1;
            if changed(mid)? {
                hi = mid;
            } else {
                lo = mid;
            }
        }
        Ok(Step {
            alpha: hi,
            below: lo,
            evaluations,
        })
    }

    /// Searches both ways along the line through `x` in direction `v` and keeps the nearer label
    /// change; a negative `alpha` means the change lies along `−v`. A gradient direction has no
    /// preferred sign once the start point is random, so the fast-gradient attack uses this.
    pub fn run_both_ways(
        &self,
        model: &dyn Model,
        x: &[f64],
        v: &[f64],
        label: usize,
    ) -> Result<Step> {
        let minus: Vec<f64> = v.iter().map(|a| -a).collect();
        match (
            self.run(model, x, v, label),
            self.run(model, x, &minus, label),
        ) {
            (Ok(p), Ok(m)) => {
                let evaluations = p.evaluations + m.evaluations;
                Ok(if p.alpha <= m.alpha {
                    Step { evaluations, ..p }
                } else {
                    Step {
                        alpha: -m.alpha,
                        below: -m.below,
                        evaluations,
                    }
                })
            }
            (Ok(p), Err(_)) => Ok(p),
            (Err(_), Ok(m)) => Ok(Step {
                alpha: -m.alpha,
                below: -m.below,
                evaluations: m.evaluations,
            }),
            (Err(e), Err(_)) => Err(e),
        }
    }

    /// Checks `x`, labels it, asks `direction` for `v` and runs [`Self::attack`] along it: the
    /// whole of the random-noise, fast-gradient and FGSM attacks.
    pub fn attack_along(
        &self,
        (model, kind, x): (&dyn Model, AttackKind, &[f64]),
        both_ways: bool,
        extra: usize,
        direction: impl FnOnce() -> Result<Vec<f64>>,
    ) -> Result<AttackOutcome> {
        check_input(model, x)?;
        let label = model.label(x)?;
        self.attack(model, kind, x, label, &direction()?, both_ways, extra)
    }

    /// The attack `r = α*·v` along direction `v` from `x` (label `label`): the smallest
    /// label-changing step, along `±v` if `both_ways`. `extra` counts the model evaluations spent
    /// on finding `v`.
    #[allow(clippy::too_many_arguments)]
    pub fn attack(
        &self,
        model: &dyn Model,
        kind: AttackKind,
        x: &[f64],
        label: usize,
        v: &[f64],
        both_ways: bool,
        extra: usize,
    ) -> Result<AttackOutcome> {
        let step = if both_ways {
            self.run_both_ways(model, x, v, label)?
        } else {
            self.run(model, x, v, label)?
        };
        let r = v.iter().map(|vi| step.alpha * vi).collect();
        AttackOutcome::measure(model, kind, x, r, label, step.evaluations + extra)
    }
}
