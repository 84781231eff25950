//! The random-noise "attack": a Gaussian direction `v ~ N(0, I)` (seeded) and the smallest
//! multiple `r = α*v` that changes the label (lecture, Day I: ρ = 1.47 on its ImageNet example).

use crate::classification::attack::{AttackKind, AttackOutcome, Model};
use crate::classification::line_search::LineSearch;
use crate::Result;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};

/// `n` seeded standard normal values.
pub fn gaussian(n: usize, seed: u64) -> Vec<f64> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    (0..n).map(|_| StandardNormal.sample(&mut rng)).collect()
}

/// Runs the random-noise attack on `x`.
pub fn random_noise(
    model: &dyn Model,
    x: &[f64],
    seed: u64,
    search: &LineSearch,
) -> Result<AttackOutcome> {
    let what = (model, AttackKind::RandomNoise, x);
    search.attack_along(what, false, 0, || Ok(gaussian(x.len(), seed)))
}
