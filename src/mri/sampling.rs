//! Sampling patterns Ω for subsampled Fourier measurements `y = P_Ω F x` (MRI).
//!
//! Every pattern is an *ordering* of the `N²` frequencies, seeded; the mask at rate `r` keeps the
//! first `⌊r N²⌉` of them (whole lines for the line patterns), so masks are **nested**: a higher
//! rate keeps every sample of a lower one, which is what "more samples" experiments need.
//!
//! - **Variable density** (multilevel random sampling, Adcock, Hansen, Poon & Roman, 2017): the
//!   frequency plane is split into dyadic annuli `2^{l−1} ≤ ‖k‖∞ < 2^l`; within an annulus the
//!   samples are uniformly random, and annulus `l` is favoured with weight `2^{−αl}` (α = 3)
//!   through weighted sampling without replacement (Efraimidis & Spirakis: order by `u^{1/w}`,
//!   `u ~ U(0, 1)`). A centre square `‖k‖∞ ≤ N/32` (at least 2) is always sampled first.
//!   α was measured on the 18 held-out 128² brain slices at 25% (mean PSNR, zero-filled /
//!   FIRENET db4 λ = 10⁻³): α = 1.5: 26.0 / 30.9 dB; 2: 27.7 / 32.7; 2.5: 28.9 / 33.5;
//!   3: 29.6 / 33.9; 4: 30.6 / 33.9. α = 3 gives FIRENET's best and a clear gap.
//! - **Radial lines** through the centre at successive golden-angle increments (111.25°), each
//!   rasterised at one sample per pixel from the centre outwards; the last line is cut short
//!   (a shorter spoke) so that the rate is met exactly.
//! - **Cartesian lines** (rows `k_y`, all `k_x`): a fully sampled centre band of `N/16` lines (at
//!   least 4) first, then the remaining lines in a seeded random order with density decaying like
//!   `1/(1 + |k_y|)` — the Deep MRI cascade's line masks; nearest whole number of lines.
//!
//! Frequencies are stored unshifted (row `u` is frequency `u` for `u < N/2`, else `u − N`), as the
//! DFT in [`crate::mri::fourier`] produces them.

use crate::{Error, Result};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

/// The sampling patterns of the lab.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Pattern {
    VariableDensity,
    Radial,
    Cartesian,
}

impl Pattern {
    pub const ALL: [Pattern; 3] = [
        Pattern::VariableDensity,
        Pattern::Radial,
        Pattern::Cartesian,
    ];

    /// Name used in URLs and reports.
    pub fn name(self) -> &'static str {
        match self {
            Pattern::VariableDensity => "variable_density",
            Pattern::Radial => "radial",
            Pattern::Cartesian => "cartesian",
        }
    }

    /// Parses [`Pattern::name`].
    pub fn from_name(name: &str) -> Result<Self> {
        Self::ALL
            .into_iter()
            .find(|p| p.name() == name)
            .ok_or_else(|| Error::Input(format!("unknown sampling pattern '{name}'")))
    }

    /// How much of k-space a mask of this pattern at `rate` samples, in words: "12.5% of
    /// lines", "25.0% variable-density random sampling", "25.0% of k-space on radial lines".
    pub fn share(self, rate: f64) -> String {
        match self {
            Pattern::Cartesian => format!("{:.1}% of lines", rate * 100.0),
            Pattern::Radial => format!("{:.1}% of k-space on radial lines", rate * 100.0),
            Pattern::VariableDensity => {
                format!("{:.1}% variable-density random sampling", rate * 100.0)
            }
        }
    }

    /// A title for the page.
    pub fn title(self) -> &'static str {
        match self {
            Pattern::VariableDensity => "variable-density random",
            Pattern::Radial => "radial lines",
            Pattern::Cartesian => "Cartesian lines",
        }
    }
}

/// Lowest and highest sampling rates offered.
pub const MIN_RATE: f64 = 0.02;
pub const MAX_RATE: f64 = 0.9;

/// A sampling mask over the unshifted `N × N` frequency grid.
#[derive(Clone, Debug, PartialEq)]
pub struct Mask {
    n: usize,
    sampled: Vec<bool>,
    indices: Vec<u32>,
}

impl Mask {
    /// From a boolean grid (row-major, unshifted).
    pub fn from_grid(n: usize, sampled: Vec<bool>) -> Result<Self> {
        if sampled.len() != n * n {
            return Err(Error::Input(format!(
                "a {n}×{n} mask needs {} entries, got {}",
                n * n,
                sampled.len()
            )));
        }
        let indices = (0..n * n)
            .filter(|&i| sampled[i])
            .map(|i| i as u32)
            .collect();
        Ok(Self {
            n,
            sampled,
            indices,
        })
    }

    /// The side `N`.
    pub fn side(&self) -> usize {
        self.n
    }

    /// Whether frequency index `i` (row-major, unshifted) is sampled.
    pub fn contains(&self, i: usize) -> bool {
        self.sampled[i]
    }

    /// The sampled indices in row-major order: the order of the entries of `y`.
    pub fn indices(&self) -> &[u32] {
        &self.indices
    }

    /// `m = |Ω|`.
    pub fn count(&self) -> usize {
        self.indices.len()
    }

    /// `|Ω| / N²`.
    pub fn rate(&self) -> f64 {
        self.count() as f64 / (self.n * self.n) as f64
    }

    /// The grid, row-major, unshifted.
    pub fn grid(&self) -> &[bool] {
        &self.sampled
    }
}

/// Signed frequency of row/column index `i` on a grid of side `n`.
fn frequency(i: usize, n: usize) -> i64 {
    if i < n.div_ceil(2) {
        i as i64
    } else {
        i as i64 - n as i64
    }
}

/// The largest side a sampling pattern is drawn on (the lab works at 64 to 256; a model card or
/// a job that names a larger side is refused before `N²` frequencies are allocated).
pub const MAX_SIDE: usize = 1024;

/// An ordering of all frequencies for a pattern: the mask at a rate is a prefix of it.
#[derive(Clone, Debug)]
pub struct Ordering {
    n: usize,
    /// Frequency indices, most important first.
    order: Vec<u32>,
    /// For line patterns: the prefix lengths that end a whole line (increasing); empty for
    /// point patterns (any prefix is allowed).
    line_ends: Vec<usize>,
}

impl Ordering {
    /// The ordering of `pattern` on an `n × n` grid for `seed` (`8 ≤ n ≤` [`MAX_SIDE`]).
    pub fn new(pattern: Pattern, n: usize, seed: u64) -> Result<Self> {
        if n < 8 {
            return Err(Error::Input(format!(
                "sampling patterns need a side of at least 8, got {n}"
            )));
        }
        if n > MAX_SIDE {
            return Err(Error::Input(format!(
                "sampling patterns are drawn on sides up to {MAX_SIDE}, not {n}"
            )));
        }
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        Ok(match pattern {
            Pattern::VariableDensity => variable_density(n, &mut rng),
            Pattern::Radial => radial(n),
            Pattern::Cartesian => cartesian(n, &mut rng),
        })
    }

    /// The mask keeping the first `rate·N²` frequencies (for line patterns: the whole number of
    /// lines whose sample count is nearest to it).
    pub fn mask(&self, rate: f64) -> Result<Mask> {
        if !rate.is_finite() || !(MIN_RATE..=MAX_RATE).contains(&rate) {
            return Err(Error::Input(format!(
                "the sampling rate must lie between {:.0}% and {:.0}%, got {rate}",
                MIN_RATE * 100.0,
                MAX_RATE * 100.0
            )));
        }
        let total = self.n * self.n;
        let wanted = (rate * total as f64).round() as usize;
        let count = if self.line_ends.is_empty() {
            wanted
        } else {
            *self
                .line_ends
                .iter()
                .min_by_key(|&&end| end.abs_diff(wanted))
                .expect("every line pattern has lines")
        };
        let mut sampled = vec![false; total];
        for &i in &self.order[..count.min(total)] {
            sampled[i as usize] = true;
        }
        Mask::from_grid(self.n, sampled)
    }
}

/// The mask of `pattern` at `rate` on an `n × n` grid, seeded.
pub fn mask(pattern: Pattern, n: usize, rate: f64, seed: u64) -> Result<Mask> {
    Ordering::new(pattern, n, seed)?.mask(rate)
}

/// Efraimidis–Spirakis key: larger keys come first; `ln(u)/w` orders like `u^{1/w}`.
fn weighted_key(rng: &mut ChaCha8Rng, weight: f64) -> f64 {
    let u: f64 = rng.random_range(f64::MIN_POSITIVE..1.0);
    u.ln() / weight
}

fn variable_density(n: usize, rng: &mut ChaCha8Rng) -> Ordering {
    const ALPHA: f64 = 3.0;
    let centre = (n / 32).max(2) as i64;
    let mut keyed: Vec<(f64, u32)> = Vec::with_capacity(n * n);
    for u in 0..n {
        for v in 0..n {
            let r = frequency(u, n).abs().max(frequency(v, n).abs());
            // Always first: the centre square (keys above every random key, which are ≤ 0).
            let key = if r <= centre {
                1.0 + (centre - r) as f64
            } else {
                let level = (r as f64).log2().floor() + 1.0;
                weighted_key(rng, 2f64.powf(-ALPHA * level))
            };
            keyed.push((key, (u * n + v) as u32));
        }
    }
    keyed.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
    Ordering {
        n,
        order: keyed.into_iter().map(|(_, i)| i).collect(),
        line_ends: Vec::new(),
    }
}

fn radial(n: usize) -> Ordering {
    // The golden angle on [0, π): π(√5 − 1)/2 ≈ 111.25°, so every new line halves a gap.
    let angle_step = std::f64::consts::PI * (5f64.sqrt() - 1.0) / 2.0;
    let (lo, hi) = (-(n as i64) / 2, n.div_ceil(2) as i64);
    let mut seen = vec![false; n * n];
    let mut order = Vec::with_capacity(n * n);
    let steps = (n as f64 * std::f64::consts::SQRT_2).ceil() as i64;
    for line in 0..4 * n {
        let (s, c) = (line as f64 * angle_step).sin_cos();
        // Half-pixel steps along the line, from the centre outwards (both directions), so that
        // a line cut short by the rate is a shorter spoke.
        for t in (0..=2 * steps).map(|k| if k % 2 == 0 { k / 2 } else { -(k + 1) / 2 }) {
            let r = t as f64 / 2.0;
            let (fy, fx) = ((r * s).round() as i64, (r * c).round() as i64);
            if fy < lo || fy >= hi || fx < lo || fx >= hi {
                continue;
            }
            let i = fy.rem_euclid(n as i64) as usize * n + fx.rem_euclid(n as i64) as usize;
            if !seen[i] {
                seen[i] = true;
                order.push(i as u32);
            }
        }
    }
    // The few corner samples no line reached, so that every rate is reachable.
    order.extend((0..n * n).filter(|&i| !seen[i]).map(|i| i as u32));
    Ordering {
        n,
        order,
        // The exact rate: the last line is cut short (it stays centred).
        line_ends: Vec::new(),
    }
}

fn cartesian(n: usize, rng: &mut ChaCha8Rng) -> Ordering {
    let band = (n / 16).max(4) as i64;
    let mut rows: Vec<(f64, usize)> = (0..n)
        .map(|u| {
            let f = frequency(u, n);
            // The centre band: rows −band/2 … band/2 − 1, always first.
            let key = if f >= -band / 2 && f < band - band / 2 {
                1.0 + (band - f.abs()) as f64
            } else {
                weighted_key(rng, 1.0 / (1.0 + f.abs() as f64))
            };
            (key, u)
        })
        .collect();
    rows.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
    let mut order = Vec::with_capacity(n * n);
    let mut line_ends = Vec::with_capacity(n);
    for (_, u) in rows {
        order.extend((0..n).map(|v| (u * n + v) as u32));
        line_ends.push(order.len());
    }
    Ordering {
        n,
        order,
        line_ends,
    }
}

/// A sampling pattern at a rate, independent of the side: how the measurements of a network
/// were taken.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct MaskSpec {
    pub pattern: Pattern,
    /// Requested share of k-space.
    pub rate: f64,
    pub seed: u64,
}

impl MaskSpec {
    /// The mask at side `n`.
    pub fn mask(&self, n: usize) -> Result<Mask> {
        mask(self.pattern, n, self.rate, self.seed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_are_nested_and_meet_the_rate() {
        for pattern in Pattern::ALL {
            for n in [64, 128, 256] {
                let ordering = Ordering::new(pattern, n, 7).unwrap();
                let mut previous: Option<Mask> = None;
                for rate in [0.05, 0.1, 0.15, 0.25, 0.4, 0.6] {
                    let m = ordering.mask(rate).unwrap();
                    // ±0.5%, or half a line where one line is more than 1% of the plane.
                    let widest_line = ordering
                        .line_ends
                        .windows(2)
                        .map(|w| w[1] - w[0])
                        .max()
                        .unwrap_or(0);
                    let tolerance = 0.005f64.max(0.5 * widest_line as f64 / (n * n) as f64);
                    assert!(
                        (m.rate() - rate).abs() <= tolerance,
                        "{} n = {n}: rate {} for {rate}",
                        pattern.name(),
                        m.rate()
                    );
                    // The centre (DC and its neighbours) is always sampled.
                    for (u, v) in [(0, 0), (0, 1), (1, 0), (n - 1, 0), (0, n - 1)] {
                        assert!(
                            m.contains(u * n + v),
                            "{} misses ({u}, {v})",
                            pattern.name()
                        );
                    }
                    if let Some(p) = &previous {
                        assert!(p.indices().iter().all(|&i| m.contains(i as usize)));
                    }
                    previous = Some(m);
                }
            }
        }
    }

    #[test]
    fn variable_density_is_denser_at_low_frequencies_and_seeded() {
        let n = 128;
        let m = mask(Pattern::VariableDensity, n, 0.25, 3).unwrap();
        let density = |lo: i64, hi: i64| {
            let (mut hit, mut all) = (0, 0);
            for u in 0..n {
                for v in 0..n {
                    let r = frequency(u, n).abs().max(frequency(v, n).abs());
                    if r >= lo && r < hi {
                        all += 1;
                        hit += usize::from(m.contains(u * n + v));
                    }
                }
            }
            hit as f64 / all as f64
        };
        let (inner, middle, outer) = (density(4, 16), density(16, 32), density(32, 64));
        assert!(inner > middle && middle > outer, "{inner} {middle} {outer}");
        assert_eq!(m, mask(Pattern::VariableDensity, n, 0.25, 3).unwrap());
        assert_ne!(m, mask(Pattern::VariableDensity, n, 0.25, 4).unwrap());
    }

    #[test]
    fn lines_are_lines() {
        let n = 64;
        let m = mask(Pattern::Cartesian, n, 0.25, 1).unwrap();
        for u in 0..n {
            let row: Vec<bool> = (0..n).map(|v| m.contains(u * n + v)).collect();
            assert!(row.iter().all(|&b| b) || row.iter().all(|&b| !b));
        }
        // Radial: symmetric under k ↦ −k (lines pass through the centre), up to the Nyquist edge.
        let m = mask(Pattern::Radial, n, 0.2, 1).unwrap();
        let mut asymmetric = 0;
        for u in 1..n {
            for v in 1..n {
                if m.contains(u * n + v) != m.contains((n - u) * n + (n - v)) {
                    asymmetric += 1;
                }
            }
        }
        assert!(asymmetric < n / 2, "{asymmetric}");
    }

    #[test]
    fn bad_requests_are_clear_errors() {
        assert!(mask(Pattern::Radial, 4, 0.2, 0).is_err());
        // A side from a model card or a job is bounded before N² frequencies are allocated.
        assert!(mask(Pattern::VariableDensity, MAX_SIDE + 1, 0.2, 0).is_err());
        assert!(mask(Pattern::Cartesian, usize::MAX, 0.2, 0).is_err());
        assert!(mask(Pattern::Cartesian, 64, 0.0, 0).is_err());
        assert!(mask(Pattern::Cartesian, 64, f64::NAN, 0).is_err());
        assert!(mask(Pattern::Cartesian, 64, 1.5, 0).is_err());
        assert!(Pattern::from_name("spiral").is_err());
        assert!(Mask::from_grid(4, vec![true; 3]).is_err());
        for p in Pattern::ALL {
            assert_eq!(Pattern::from_name(p.name()).unwrap(), p);
        }
    }
}
