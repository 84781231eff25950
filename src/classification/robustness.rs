//! The robustness summary: for each model and attack, the mean `ρ = ‖r‖₂/‖x‖₂` over held-out
//! digits the model classifies correctly, the success rate, mean iterations and time per image.
//! DeepFool's Table 1 reports ρ ≈ 0.20 (LeNet) and 0.11 (FC500-150-10) on MNIST.

use crate::classification::attack::{AttackKind, AttackOutcome, Model};
use crate::classification::deepfool::{DeepFool, Norm};
use crate::classification::fast_gradient::{fast_gradient, fgsm};
use crate::classification::line_search::LineSearch;
use crate::classification::random_noise::random_noise;
use crate::Result;
use serde::{Deserialize, Serialize};

/// Runs `attack` on `x` with the lab's default settings; `seed` drives the random directions.
pub fn run_attack(
    attack: AttackKind,
    model: &dyn Model,
    x: &[f64],
    seed: u64,
) -> Result<AttackOutcome> {
    let search = LineSearch::default();
    match attack {
        AttackKind::RandomNoise => random_noise(model, x, seed, &search),
        AttackKind::FastGradient => fast_gradient(model, x, seed, &search),
        AttackKind::Fgsm => fgsm(model, x, &search),
        AttackKind::DeepFoolL2 => DeepFool::default().attack(model, x),
        AttackKind::DeepFoolLinf => DeepFool {
            norm: Norm::Linf,
            ..DeepFool::default()
        }
        .attack(model, x),
    }
}

/// Accumulates one attack's results over many digits.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct AttackSummary {
    /// Mean ρ over the successful attacks.
    pub mean_rho: f64,
    /// Successful attacks / attacked digits.
    pub success_rate: f64,
    /// Mean iterations (DeepFool) or model evaluations (line searches).
    pub mean_iterations: f64,
    /// Mean wall-clock time per digit, milliseconds.
    pub ms_per_image: f64,
    /// Digits attacked (the correctly classified ones).
    pub images: usize,
    /// Mean `‖r‖₂ / ‖x − μ‖₂` over the successful attacks, `μ` the mean training image: ρ as
    /// measured on mean-subtracted inputs (MatConvNet's MNIST networks, used by the DeepFool
    /// paper, subtract `μ`). Only when the caller supplies `‖x − μ‖₂`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mean_rho_centred: Option<f64>,
    #[serde(skip)]
    sums: (f64, usize, f64, f64, f64),
}

impl AttackSummary {
    /// Adds one digit's result (an error counts as a failed attack) and the time it took.
    pub fn add(&mut self, outcome: &Result<AttackOutcome>, millis: f64) {
        self.add_digit(outcome, millis, None);
    }

    /// [`AttackSummary::add`], also accumulating `‖r‖₂ / ‖x − μ‖₂` given `centred_norm = ‖x − μ‖₂`.
    pub fn add_centred(&mut self, outcome: &Result<AttackOutcome>, millis: f64, centred_norm: f64) {
        self.add_digit(outcome, millis, Some(centred_norm));
    }

    fn add_digit(&mut self, outcome: &Result<AttackOutcome>, millis: f64, centred: Option<f64>) {
        let (rho, successes, iterations, time, rho_centred) = &mut self.sums;
        self.images += 1;
        *time += millis;
        if let Ok(o) = outcome {
            *iterations += o.iterations as f64;
            if o.success {
                *successes += 1;
                *rho += o.rho.unwrap_or(0.0);
                if let Some(c) = centred.filter(|&c| c > 0.0) {
                    *rho_centred += o.l2 / c;
                }
            }
        }
        if centred.is_some() && *successes > 0 {
            self.mean_rho_centred = Some(*rho_centred / *successes as f64);
        }
        let n = self.images as f64;
        self.success_rate = *successes as f64 / n;
        self.mean_rho = if *successes > 0 {
            *rho / *successes as f64
        } else {
            0.0
        };
        self.mean_iterations = *iterations / n;
        self.ms_per_image = *time / n;
    }
}
