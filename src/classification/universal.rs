//! Universal adversarial perturbations (Moosavi-Dezfooli, Fawzi, Fawzi & Frossard, "Universal
//! adversarial perturbations", CVPR 2017): one `v` with `‖v‖_p ≤ ξ` that changes the label of most
//! images, `k̂(x + v) ≠ k̂(x)` for "most" `x ∼ μ`.
//!
//! Algorithm 1 of the paper (and the authors' `universal_pert.py`): `v = 0`; passes over a
//! shuffled set `X`; for each `x` with `k̂(x + v) = k̂(x)`, the minimal extra perturbation
//! `Δv = DeepFool(x + v)` (ℓ₂, at most 10 iterations, overshoot 0.02), accepted only when DeepFool
//! converged; then `v ← P_{p,ξ}(v + Δv)`, the projection onto the ℓp ball of radius `ξ`. Stop when
//! the fooling rate on `X`, the share of `x ∈ X` with `k̂(x + v) ≠ k̂(x)`, reaches `1 − δ`, or after
//! the last pass.

use crate::classification::attack::{norm2, Model};
use crate::classification::deepfool::{DeepFool, Norm};
use crate::{Error, Result};
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

/// Most training digits the demo's set `X` holds (`static/data/mnist-universal.safetensors`, the
/// first digits of the training split).
pub const MAX_SET: usize = 1000;

/// The ball a universal perturbation lives in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Ball {
    L2,
    Linf,
}

impl Ball {
    /// `‖v‖_p`.
    pub fn norm(self, v: &[f64]) -> f64 {
        match self {
            Ball::L2 => norm2(v),
            Ball::Linf => v.iter().fold(0.0f64, |a, x| a.max(x.abs())),
        }
    }

    /// `P_{p,ξ}(v) = argmin_{‖u‖_p ≤ ξ} ‖v − u‖₂`, in place: for ℓ₂ a rescaling of `v` when it
    /// lies outside the ball, for ℓ∞ clipping every entry to `[−ξ, ξ]`.
    pub fn project(self, v: &mut [f64], xi: f64) {
        match self {
            Ball::L2 => {
                let n = norm2(v);
                if n > xi {
                    let s = xi / n;
                    v.iter_mut().for_each(|x| *x *= s);
                }
            }
            Ball::Linf => v.iter_mut().for_each(|x| *x = x.clamp(-xi, xi)),
        }
    }
}

/// Settings of the universal perturbation search.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Universal {
    pub ball: Ball,
    /// Radius `ξ` of the ball.
    pub xi: f64,
    /// Target: stop when the fooling rate on `X` reaches `1 − δ`.
    pub delta: f64,
    pub max_passes: usize,
    /// DeepFool's iteration budget per image (10 in the paper's code).
    pub deepfool_iterations: usize,
    /// DeepFool's overshoot (0.02).
    pub overshoot: f64,
    /// Seed of the order of `X` in each pass.
    pub seed: u64,
}

impl Default for Universal {
    fn default() -> Self {
        Self {
            ball: Ball::L2,
            xi: 5.0,
            delta: 0.2,
            max_passes: 10,
            deepfool_iterations: 10,
            overshoot: 0.02,
            seed: 1,
        }
    }
}

/// `k̂(x + v) ≠ k̂(x)` over `images`, as a share (`labels` are `k̂(x)`).
pub fn fooling_rate(
    model: &dyn Model,
    images: &[Vec<f64>],
    labels: &[usize],
    v: &[f64],
) -> Result<f64> {
    if images.is_empty() {
        return Err(Error::Input(
            "the fooling rate needs at least one image".into(),
        ));
    }
    let mut fooled = 0usize;
    for (x, &k) in images.iter().zip(labels) {
        let xv: Vec<f64> = x.iter().zip(v).map(|(a, b)| a + b).collect();
        fooled += usize::from(model.label(&xv)? != k);
    }
    Ok(fooled as f64 / images.len() as f64)
}

/// The control: Gaussian noise scaled to the same `‖·‖_p` as `v` (seeded), so that a fooling rate
/// can be compared with what any perturbation of that size does.
pub fn random_like(v: &[f64], ball: Ball, seed: u64) -> Vec<f64> {
    use rand_distr::{Distribution, StandardNormal};
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let g: Vec<f64> = (0..v.len())
        .map(|_| StandardNormal.sample(&mut rng))
        .collect();
    let n = ball.norm(&g);
    let s = if n > 0.0 { ball.norm(v) / n } else { 0.0 };
    g.into_iter().map(|a| a * s).collect()
}

/// The state after a pass.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct PassReport {
    /// 1-based.
    pub pass: usize,
    /// Fooling rate on `X` after the pass.
    pub fooling_rate: f64,
    /// `‖v‖_p` after the pass.
    pub norm: f64,
    /// DeepFool steps accepted during the pass.
    pub updates: usize,
}

/// The search one image at a time (so that a worker can report progress and be cancelled).
pub struct UniversalSearch<'m> {
    settings: Universal,
    model: &'m dyn Model,
    images: Vec<Vec<f64>>,
    labels: Vec<usize>,
    order: Vec<usize>,
    rng: ChaCha8Rng,
    /// Position in the current pass.
    position: usize,
    updates: usize,
    /// The perturbation so far.
    pub v: Vec<f64>,
    /// One report per finished pass.
    pub passes: Vec<PassReport>,
    done: bool,
}

impl<'m> UniversalSearch<'m> {
    /// Starts on `images` (the set `X`), all of the model's input size.
    pub fn new(settings: Universal, model: &'m dyn Model, images: Vec<Vec<f64>>) -> Result<Self> {
        if images.is_empty() {
            return Err(Error::Input(
                "the universal search needs at least one image".into(),
            ));
        }
        if !(settings.xi.is_finite() && settings.xi > 0.0) {
            return Err(Error::Input(format!(
                "ξ must be positive, got {}",
                settings.xi
            )));
        }
        if !(0.0..1.0).contains(&settings.delta) {
            return Err(Error::Input(format!(
                "δ must lie in [0, 1), got {}",
                settings.delta
            )));
        }
        if settings.max_passes == 0 || settings.deepfool_iterations == 0 {
            return Err(Error::Input(
                "the search needs at least one pass and one DeepFool iteration".into(),
            ));
        }
        let labels = images
            .iter()
            .map(|x| {
                crate::classification::attack::check_input(model, x)?;
                model.label(x)
            })
            .collect::<Result<Vec<_>>>()?;
        let mut rng = ChaCha8Rng::seed_from_u64(settings.seed);
        let mut order: Vec<usize> = (0..images.len()).collect();
        order.shuffle(&mut rng);
        Ok(Self {
            v: vec![0.0; model.dim()],
            settings,
            model,
            images,
            labels,
            order,
            rng,
            position: 0,
            updates: 0,
            passes: Vec::new(),
            done: false,
        })
    }

    /// Whether the search has stopped (target reached or passes used up).
    pub fn is_done(&self) -> bool {
        self.done
    }

    /// Images visited in the current pass, and `|X|`.
    pub fn progress(&self) -> (usize, usize) {
        (self.position, self.images.len())
    }

    /// Visits one image; at the end of a pass returns its report.
    pub fn step(&mut self) -> Result<Option<PassReport>> {
        if self.done {
            return Ok(None);
        }
        let i = self.order[self.position];
        let x = &self.images[i];
        let xv: Vec<f64> = x.iter().zip(&self.v).map(|(a, b)| a + b).collect();
        if self.model.label(&xv)? == self.labels[i] {
            let deepfool = DeepFool {
                norm: Norm::L2,
                overshoot: self.settings.overshoot,
                max_iterations: self.settings.deepfool_iterations,
                ..DeepFool::default()
            };
            let run = deepfool.run(self.model, &xv)?;
            if run.converged {
                for (vi, r) in self.v.iter_mut().zip(&run.perturbation) {
                    *vi += r;
                }
                self.settings.ball.project(&mut self.v, self.settings.xi);
                self.updates += 1;
            }
        }
        self.position += 1;
        if self.position < self.images.len() {
            return Ok(None);
        }
        let rate = fooling_rate(self.model, &self.images, &self.labels, &self.v)?;
        let report = PassReport {
            pass: self.passes.len() + 1,
            fooling_rate: rate,
            norm: self.settings.ball.norm(&self.v),
            updates: self.updates,
        };
        self.passes.push(report);
        self.position = 0;
        self.updates = 0;
        self.order.shuffle(&mut self.rng);
        self.done =
            rate >= 1.0 - self.settings.delta || self.passes.len() >= self.settings.max_passes;
        Ok(Some(report))
    }

    /// Runs to the end.
    pub fn finish(mut self) -> Result<(Vec<f64>, Vec<PassReport>)> {
        while !self.done {
            self.step()?;
        }
        Ok((self.v, self.passes))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::classification::affine::Affine;

    #[test]
    fn projections_are_idempotent_bounded_and_nearest() {
        let v = vec![3.0, -4.0, 0.5];
        for ball in [Ball::L2, Ball::Linf] {
            let mut p = v.clone();
            ball.project(&mut p, 2.0);
            assert!(ball.norm(&p) <= 2.0 + 1e-12);
            let mut q = p.clone();
            ball.project(&mut q, 2.0);
            assert_eq!(p, q, "idempotent");
            // Nearest: no point of a fine grid on the ball's boundary directions is closer.
            let d = norm2(&v.iter().zip(&p).map(|(a, b)| a - b).collect::<Vec<_>>());
            for k in 0..200 {
                let t = k as f64 / 200.0 * std::f64::consts::TAU;
                let mut u = vec![2.0 * t.cos(), 2.0 * t.sin(), 0.5];
                ball.project(&mut u, 2.0);
                let du = norm2(&v.iter().zip(&u).map(|(a, b)| a - b).collect::<Vec<_>>());
                assert!(d <= du + 1e-12, "{ball:?}: {d} > {du}");
            }
        }
        let mut inside = vec![0.1, 0.2];
        Ball::L2.project(&mut inside, 1.0);
        assert_eq!(inside, vec![0.1, 0.2]);
        let mut c = vec![3.0, -0.5, -7.0];
        Ball::Linf.project(&mut c, 1.0);
        assert_eq!(c, vec![1.0, -0.5, -1.0]);
    }

    /// Two classes split by the hyperplane x₀ = 0: one perturbation along −sign·e₀ can't fool both
    /// sides, but images all on one side are fooled by a single shift.
    fn one_sided() -> (Affine, Vec<Vec<f64>>) {
        let model = Affine::new(
            vec![vec![1.0, 0.0, 0.0], vec![-1.0, 0.0, 0.0]],
            vec![0.0, 0.0],
        )
        .unwrap();
        let images = (0..20)
            .map(|i| {
                vec![
                    0.2 + 0.05 * i as f64,
                    (i as f64 * 0.7).sin(),
                    (i as f64 * 1.3).cos(),
                ]
            })
            .collect();
        (model, images)
    }

    #[test]
    fn reaches_its_target_where_reachable_and_is_reproducible() {
        let (model, images) = one_sided();
        // Every image has x₀ ≤ 1.15; the scores differ by 2x₀, so v = (−1.2, 0, 0) fools all.
        let settings = Universal {
            xi: 1.5,
            delta: 0.0,
            ..Universal::default()
        };
        let (v, passes) = UniversalSearch::new(settings, &model, images.clone())
            .unwrap()
            .finish()
            .unwrap();
        let last = passes.last().unwrap();
        assert_eq!(last.fooling_rate, 1.0, "{passes:?}");
        assert!(Ball::L2.norm(&v) <= 1.5 + 1e-12);
        let labels: Vec<usize> = images.iter().map(|x| model.label(x).unwrap()).collect();
        assert_eq!(fooling_rate(&model, &images, &labels, &v).unwrap(), 1.0);
        let (again, _) = UniversalSearch::new(settings, &model, images.clone())
            .unwrap()
            .finish()
            .unwrap();
        assert_eq!(v, again, "same seed, same perturbation");
        // A ball too small to reach the far images: the target is not met, passes run out.
        let small = Universal {
            xi: 0.5,
            max_passes: 3,
            ..settings
        };
        let (_, passes) = UniversalSearch::new(small, &model, images)
            .unwrap()
            .finish()
            .unwrap();
        assert_eq!(passes.len(), 3);
        assert!(passes.last().unwrap().fooling_rate < 1.0);
    }

    #[test]
    fn the_random_control_has_the_same_norm_and_is_seeded() {
        let v = vec![0.3, -0.1, 0.0, 2.0];
        for ball in [Ball::L2, Ball::Linf] {
            let g = random_like(&v, ball, 5);
            assert!((ball.norm(&g) - ball.norm(&v)).abs() < 1e-12);
            assert_eq!(g, random_like(&v, ball, 5));
            assert_ne!(g, random_like(&v, ball, 6));
        }
        assert_eq!(random_like(&[0.0; 3], Ball::L2, 1), vec![0.0; 3]);
    }

    #[test]
    fn bad_settings_are_clear_errors() {
        let (model, images) = one_sided();
        for s in [
            Universal {
                xi: 0.0,
                ..Universal::default()
            },
            Universal {
                xi: f64::NAN,
                ..Universal::default()
            },
            Universal {
                delta: 1.0,
                ..Universal::default()
            },
            Universal {
                max_passes: 0,
                ..Universal::default()
            },
        ] {
            assert!(
                UniversalSearch::new(s, &model, images.clone()).is_err(),
                "{s:?}"
            );
        }
        assert!(UniversalSearch::new(Universal::default(), &model, vec![]).is_err());
        assert!(UniversalSearch::new(Universal::default(), &model, vec![vec![1.0]]).is_err());
    }
}
