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

/// A summary for each attack, in the order of [`AttackKind::ALL`], with nothing added yet.
pub fn empty_summaries() -> Vec<(AttackKind, AttackSummary)> {
    AttackKind::ALL
        .iter()
        .map(|&a| (a, AttackSummary::default()))
        .collect()
}

/// One digit of a robustness run: if `model` classifies `x` as its `label`, attacks it with every
/// attack of `summaries` and adds the outcomes, the random directions seeded by the digit's
/// `index` among the held-out digits (so a digit is attacked alike whichever part of a split run
/// it falls in). `clock` reads milliseconds, for the timings. Returns whether the model was right.
pub fn attack_digit(
    model: &dyn Model,
    x: &[f64],
    label: usize,
    index: usize,
    summaries: &mut [(AttackKind, AttackSummary)],
    clock: &dyn Fn() -> f64,
) -> Result<bool> {
    if model.label(x)? != label {
        return Ok(false);
    }
    for (attack, summary) in summaries.iter_mut() {
        let start = clock();
        let outcome = run_attack(*attack, model, x, index as u64);
        summary.add(&outcome, clock() - start);
    }
    Ok(true)
}

/// Accumulates one attack's results over many digits.
///
/// The means are finished from exact sums ([`AttackSums`]), so a summary does not depend on the
/// order its digits were added in, nor on how they were split: the summaries of parts of a run
/// merged by [`AttackSummary::merged`] equal the summary of the whole run, bit for bit (except
/// `ms_per_image`, a timing).
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
    sums: AttackSums,
}

/// What an [`AttackSummary`] adds up: counts, and sums that are exact ([`ExactSum`]), so that
/// adding the sums of parts of a run gives exactly the sums of the whole run. They travel with a
/// part's reply from the worker pool (an [`AttackSummary`] serialises only its means).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct AttackSums {
    /// Digits attacked.
    pub images: usize,
    /// Successful attacks.
    pub successes: usize,
    /// Iterations or model evaluations, over every attacked digit.
    pub iterations: u64,
    /// `Σ ρ` over the successful attacks.
    pub rho: ExactSum,
    /// `Σ ‖r‖₂ / ‖x − μ‖₂` over the successful attacks, where `‖x − μ‖₂` was given.
    pub rho_centred: ExactSum,
    /// Whether any digit came with `‖x − μ‖₂` ([`AttackSummary::add_centred`]).
    pub centred: bool,
    /// Wall-clock time, milliseconds (a timing: summed in whatever order the parts come).
    pub millis: f64,
}

impl AttackSums {
    /// Adds the sums of `other` (another part of the same run).
    pub fn add_sums(&mut self, other: &AttackSums) {
        self.images += other.images;
        self.successes += other.successes;
        self.iterations += other.iterations;
        self.rho.add_sum(&other.rho);
        self.rho_centred.add_sum(&other.rho_centred);
        self.centred |= other.centred;
        self.millis += other.millis;
    }
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
        let s = &mut self.sums;
        s.images += 1;
        s.millis += millis;
        s.centred |= centred.is_some();
        if let Ok(o) = outcome {
            s.iterations += o.iterations as u64;
            if o.success {
                s.successes += 1;
                s.rho.add(o.rho.unwrap_or(0.0));
                if let Some(c) = centred.filter(|&c| c > 0.0) {
                    s.rho_centred.add(o.l2 / c);
                }
            }
        }
        self.finish();
    }

    /// The sums behind the means.
    pub fn sums(&self) -> &AttackSums {
        &self.sums
    }

    /// The summary of `sums`.
    pub fn from_sums(sums: AttackSums) -> Self {
        let mut summary = Self {
            sums,
            ..Self::default()
        };
        summary.finish();
        summary
    }

    /// The summary of a run from the sums of its parts (added in the parts' order; being exact,
    /// the order does not change the means): equal to the summary of one run over all their
    /// digits, except `ms_per_image`.
    pub fn merged<'a>(parts: impl IntoIterator<Item = &'a AttackSums>) -> Self {
        let mut sums = AttackSums::default();
        for part in parts {
            sums.add_sums(part);
        }
        Self::from_sums(sums)
    }

    /// The means from the sums.
    fn finish(&mut self) {
        let s = &self.sums;
        self.images = s.images;
        if s.images == 0 {
            let sums = std::mem::take(&mut self.sums);
            *self = Self {
                sums,
                ..Self::default()
            };
            return;
        }
        let n = s.images as f64;
        let successes = s.successes as f64;
        self.success_rate = successes / n;
        self.mean_rho = if s.successes > 0 {
            s.rho.value() / successes
        } else {
            0.0
        };
        self.mean_rho_centred =
            (s.centred && s.successes > 0).then(|| s.rho_centred.value() / successes);
        self.mean_iterations = s.iterations as f64 / n;
        self.ms_per_image = s.millis / n;
    }
}

/// An exact sum of `f64`s: Shewchuk's non-overlapping partials (as in Python's `math.fsum`), whose
/// [`ExactSum::value`] is the exact sum rounded once to the nearest `f64`. It therefore does not
/// depend on the order of the terms or on how they were grouped: the sum of two sums is the sum of
/// all their terms. Infinite and NaN terms are summed apart (their sum, ±∞ or NaN, is the value).
/// Serialises as the bit patterns of its terms, so that it crosses JSON exactly.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ExactSum {
    /// Non-overlapping, increasing in magnitude; their exact sum is the sum of the finite terms.
    partials: Vec<f64>,
    /// The sum of the non-finite terms, 0 if none.
    special: f64,
}

impl ExactSum {
    /// Adds `x`.
    pub fn add(&mut self, x: f64) {
        if !x.is_finite() {
            self.special += x;
            return;
        }
        let mut x = x;
        let mut kept = 0;
        for j in 0..self.partials.len() {
            let mut y = self.partials[j];
            if x.abs() < y.abs() {
                std::mem::swap(&mut x, &mut y);
            }
            let hi = x + y;
            let lo = y - (hi - x);
            if lo != 0.0 {
                self.partials[kept] = lo;
                kept += 1;
            }
            x = hi;
        }
        self.partials.truncate(kept);
        if x.is_finite() {
            self.partials.push(x);
        } else {
            // The finite terms overflowed: the sum is that infinity.
            self.special += x;
        }
    }

    /// Adds every term of `other`.
    pub fn add_sum(&mut self, other: &ExactSum) {
        for &p in &other.partials {
            self.add(p);
        }
        if other.special != 0.0 {
            self.special += other.special;
        }
    }

    /// The sum, correctly rounded (to nearest, ties to even).
    pub fn value(&self) -> f64 {
        // (NaN is not 0 either.)
        if self.special != 0.0 {
            return self.special;
        }
        let p = &self.partials;
        let Some(mut n) = p.len().checked_sub(1) else {
            return 0.0;
        };
        let mut hi = p[n];
        let mut lo = 0.0;
        while n > 0 {
            let x = hi;
            n -= 1;
            let y = p[n];
            hi = x + y;
            lo = y - (hi - x);
            if lo != 0.0 {
                break;
            }
        }
        // Round half to even across the remaining partials: if `lo` is exactly half an ulp of
        // `hi` and the next partial has its sign, the exact sum lies beyond the half-way point.
        if n > 0 && ((lo < 0.0 && p[n - 1] < 0.0) || (lo > 0.0 && p[n - 1] > 0.0)) {
            let y = lo * 2.0;
            let x = hi + y;
            if y == x - hi {
                hi = x;
            }
        }
        hi
    }

    /// The terms whose sum this is (the partials, then the non-finite sum if any).
    fn terms(&self) -> Vec<f64> {
        let mut terms = self.partials.clone();
        if self.special != 0.0 {
            terms.push(self.special);
        }
        terms
    }
}

impl Serialize for ExactSum {
    fn serialize<S: serde::Serializer>(
        &self,
        serializer: S,
    ) -> std::result::Result<S::Ok, S::Error> {
        let bits: Vec<u64> = self.terms().iter().map(|t| t.to_bits()).collect();
        bits.serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for ExactSum {
    /// Any list of bit patterns: its terms are added again, so the partials keep their form.
    fn deserialize<D: serde::Deserializer<'de>>(
        deserializer: D,
    ) -> std::result::Result<Self, D::Error> {
        let bits = Vec::<u64>::deserialize(deserializer)?;
        let mut sum = ExactSum::default();
        for b in bits {
            sum.add(f64::from_bits(b));
        }
        Ok(sum)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::seq::SliceRandom;
    use rand::{Rng, SeedableRng};

    fn sum_of(terms: &[f64]) -> ExactSum {
        let mut s = ExactSum::default();
        for &t in terms {
            s.add(t);
        }
        s
    }

    #[test]
    fn exact_sums_are_correctly_rounded_whatever_the_order_and_grouping() {
        assert_eq!(ExactSum::default().value(), 0.0);
        assert_eq!(sum_of(&[0.1; 10]).value(), 1.0);
        assert_ne!(
            [0.1f64; 10].iter().sum::<f64>(),
            1.0,
            "naive summation rounds 10 times"
        );
        assert_eq!(sum_of(&[1e100, 1.0, -1e100]).value(), 1.0);
        assert_eq!(
            sum_of(&[1.0, 1e-16, 1e-16]).value(),
            1.0 + 2.220446049250313e-16
        );
        // Half-way cases round to even; a tail beyond half-way rounds up.
        let ulp = f64::EPSILON;
        assert_eq!(sum_of(&[1.0, ulp / 2.0]).value(), 1.0);
        assert_eq!(sum_of(&[1.0, ulp / 2.0, 1e-300]).value(), 1.0 + ulp);
        assert_eq!(sum_of(&[1.0 + ulp, ulp / 2.0]).value(), 1.0 + 2.0 * ulp);
        // Random terms of very different sizes: shuffled, and split into parts summed apart and
        // then added, always the same bits.
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(11);
        let terms: Vec<f64> = (0..500)
            .map(|_| {
                let m: f64 = rng.random_range(-1.0..1.0);
                m * 10f64.powi(rng.random_range(-20..20))
            })
            .collect();
        let whole = sum_of(&terms).value();
        for round in 0..20 {
            let mut t = terms.clone();
            t.shuffle(&mut rng);
            let cuts = 1 + round % 7;
            let mut merged = ExactSum::default();
            for part in t.chunks(t.len().div_ceil(cuts)) {
                merged.add_sum(&sum_of(part));
            }
            assert_eq!(merged.value().to_bits(), whole.to_bits(), "round {round}");
            assert_eq!(sum_of(&t).value().to_bits(), whole.to_bits());
        }
        // JSON carries the bits exactly (and normalises whatever terms it is given).
        let s = sum_of(&terms);
        let back: ExactSum = serde_json::from_str(&serde_json::to_string(&s).unwrap()).unwrap();
        assert_eq!(back.value().to_bits(), whole.to_bits());
        let raw: ExactSum = serde_json::from_str(&format!(
            "[{}, {}, {}]",
            1e16f64.to_bits(),
            1.0f64.to_bits(),
            (-1e16f64).to_bits()
        ))
        .unwrap();
        assert_eq!(raw.value(), 1.0);
        // Infinities and NaN are summed apart.
        assert_eq!(sum_of(&[1.0, f64::INFINITY, 2.0]).value(), f64::INFINITY);
        assert!(sum_of(&[f64::INFINITY, f64::NEG_INFINITY]).value().is_nan());
        let mut inf = sum_of(&[3.0]);
        inf.add_sum(&sum_of(&[f64::NEG_INFINITY]));
        assert_eq!(inf.value(), f64::NEG_INFINITY);
        let nan: ExactSum =
            serde_json::from_str(&serde_json::to_string(&sum_of(&[f64::NAN])).unwrap()).unwrap();
        assert!(nan.value().is_nan());
    }

    fn outcome(rng: &mut rand_chacha::ChaCha8Rng) -> Result<AttackOutcome> {
        if rng.random_range(0..10) == 0 {
            return Err(crate::Error::Input("no attack".into()));
        }
        let l2: f64 = rng.random_range(0.1..8.0);
        Ok(AttackOutcome {
            attack: AttackKind::DeepFoolL2,
            perturbation: Vec::new(),
            original_label: 3,
            adversarial_label: 5,
            adversarial_probabilities: Vec::new(),
            l2,
            linf: l2 / 10.0,
            rho: Some(l2 / rng.random_range(5.0..12.0)),
            iterations: rng.random_range(1..60),
            success: rng.random_range(0..5) > 0,
        })
    }

    /// The numbers a summary shows, all but the timing.
    fn shown(s: &AttackSummary) -> (u64, u64, u64, usize, Option<u64>) {
        (
            s.mean_rho.to_bits(),
            s.success_rate.to_bits(),
            s.mean_iterations.to_bits(),
            s.images,
            s.mean_rho_centred.map(f64::to_bits),
        )
    }

    #[test]
    fn summaries_of_parts_merge_into_the_summary_of_the_whole() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(5);
        let digits: Vec<(Result<AttackOutcome>, f64, f64)> = (0..97)
            .map(|_| {
                let o = outcome(&mut rng);
                (o, rng.random_range(0.1..9.0), rng.random_range(3.0..10.0))
            })
            .collect();
        for centred in [false, true] {
            let add = |s: &mut AttackSummary, (o, ms, c): &(Result<AttackOutcome>, f64, f64)| {
                if centred {
                    s.add_centred(o, *ms, *c)
                } else {
                    s.add(o, *ms)
                }
            };
            let mut whole = AttackSummary::default();
            for d in &digits {
                add(&mut whole, d);
            }
            assert_eq!(whole.images, 97);
            assert!(whole.success_rate > 0.5 && whole.success_rate < 1.0);
            assert_eq!(whole.mean_rho_centred.is_some(), centred);
            for parts in [1, 2, 3, 5, 8, 97] {
                let sums: Vec<AttackSums> = digits
                    .chunks(digits.len().div_ceil(parts))
                    .map(|chunk| {
                        let mut s = AttackSummary::default();
                        for d in chunk {
                            add(&mut s, d);
                        }
                        s.sums().clone()
                    })
                    .collect();
                // Through JSON, as the parts' replies travel.
                let sums: Vec<AttackSums> =
                    serde_json::from_str(&serde_json::to_string(&sums).unwrap()).unwrap();
                let merged = AttackSummary::merged(&sums);
                assert_eq!(shown(&merged), shown(&whole), "{parts} parts");
                assert!((merged.ms_per_image - whole.ms_per_image).abs() < 1e-9);
                assert_eq!(merged.sums().rho.value(), whole.sums().rho.value());
            }
        }
        // No digits, no means; a summary from its own sums is itself.
        assert_eq!(AttackSummary::merged([]), AttackSummary::default());
        let mut one = AttackSummary::default();
        one.add(&outcome(&mut rng), 2.0);
        assert_eq!(AttackSummary::from_sums(one.sums().clone()), one);
        // The report's form is unchanged: the means only.
        let json = serde_json::to_value(&one).unwrap();
        assert!(json.get("sums").is_none(), "{json}");
    }
}
