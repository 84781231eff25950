//! Structural perturbations: small *visible* edits of a digit that change a network's label.
//!
//! Adversarial perturbations (DeepFool, FGSM) change every pixel by a tiny amount. The lecture's
//! further point is that the instability is not only about invisible noise: a single stroke, an
//! erased bit of ink or a small square patch, edits a person ignores (or that keep the digit
//! what it is), also change `k̂(x) = argmaxₖ fₖ(x)`. This module edits a 28×28 image `x ∈ [0, 1]⁷⁸⁴`
//! and measures how large an edit `x'` is, in two ways:
//!
//! - pixels changed: `#{i : |x'ᵢ − xᵢ| > 1/255}` (one grey level of an 8-bit image);
//! - energy: `‖x' − x‖₂ = (Σᵢ (x'ᵢ − xᵢ)²)^{1/2}`.
//!
//! The edits:
//! - [`stroke`] (and [`stamp`], a stroke of length 0): a soft round brush of radius `r` along a
//!   segment `[a, b]` (sub-pixel end points, pixel `i` has its centre at `(col + ½, row + ½)`),
//!   with coverage `cᵢ = clamp(r − dᵢ + ½, 0, 1)` where `dᵢ` is the distance from pixel `i`'s
//!   centre to the segment. Ink: `x'ᵢ = max(xᵢ, cᵢ)`; eraser: `x'ᵢ = min(xᵢ, 1 − cᵢ)`. Both
//!   keep `[0, 1]`, ink never darkens and the eraser never brightens, and repeating a stroke
//!   changes nothing (so the result does not depend on how densely the pointer was sampled).
//! - [`Patch`]: an `s × s` square at (row, column) set to a value `v` (0: black, 1: white).
//!
//! [`PatchSearch`] finds the smallest label-changing patch: among all squares of side
//! `1 … max_size`, at every position, black and white, the one that changes the fewest pixels
//! (then the one with the smallest `‖x' − x‖₂`) and still changes `k̂`. It is exhaustive, but a
//! candidate is only evaluated if it would beat the best found so far, and it runs one row of
//! positions per [`PatchSearch::step`], so that the compute worker can report progress and stop.

use crate::classification::attack::Model;
use crate::classification::classifier::argmax;
use crate::classification::mnist::{PIXELS, SIDE};
use crate::{Error, Result};
use serde::{Deserialize, Serialize};

/// A pixel counts as changed when it moved by more than one 8-bit grey level.
pub const CHANGE_THRESHOLD: f32 = 1.0 / 255.0;
/// Brush radii (in pixels of the 28×28 image) the editor accepts.
pub const RADII: std::ops::RangeInclusive<f32> = 0.25..=6.0;
/// The largest patch side the search accepts.
pub const MAX_SEARCH_SIZE: usize = 8;

/// What a brush does.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Tool {
    /// Adds ink (towards 1, white on black as in MNIST).
    Ink,
    /// Removes ink (towards 0).
    Eraser,
}

impl Tool {
    /// The value the tool moves pixels towards.
    pub fn value(self) -> f32 {
        match self {
            Tool::Ink => 1.0,
            Tool::Eraser => 0.0,
        }
    }
}

/// Checks an image for editing: 784 finite values in [0, 1].
pub fn check_image(image: &[f32]) -> Result<()> {
    crate::classification::classifier::check_image(image)?;
    if image.iter().any(|v| !(0.0..=1.0).contains(v)) {
        return Err(Error::Input(
            "the image has values outside [0, 1]".to_string(),
        ));
    }
    Ok(())
}

/// Distance from `p` to the segment `[a, b]`.
fn segment_distance(p: (f32, f32), a: (f32, f32), b: (f32, f32)) -> f32 {
    let (dx, dy) = (b.0 - a.0, b.1 - a.1);
    let len2 = dx * dx + dy * dy;
    let t = if len2 > 0.0 {
        (((p.0 - a.0) * dx + (p.1 - a.1) * dy) / len2).clamp(0.0, 1.0)
    } else {
        0.0
    };
    let (qx, qy) = (a.0 + t * dx, a.1 + t * dy);
    ((p.0 - qx).powi(2) + (p.1 - qy).powi(2)).sqrt()
}

/// Draws a soft round brush of radius `radius` along the segment from `a` to `b` (points as
/// `(x, y)` = (column, row) in pixels, `(0, 0)` the top-left corner of the image, `(28, 28)` the
/// bottom-right): coverage `c = clamp(r − d + ½, 0, 1)` at distance `d` from the segment, then
/// `x' = max(x, c)` (ink) or `x' = min(x, 1 − c)` (eraser). Points may lie outside the image.
pub fn stroke(
    image: &mut [f32],
    a: (f32, f32),
    b: (f32, f32),
    radius: f32,
    tool: Tool,
) -> Result<()> {
    check_image(image)?;
    if !RADII.contains(&radius) {
        return Err(Error::Input(format!(
            "the brush radius must lie between {} and {} pixels, not {radius}",
            RADII.start(),
            RADII.end()
        )));
    }
    if ![a.0, a.1, b.0, b.1].iter().all(|v| v.is_finite()) {
        return Err(Error::Input("a stroke's points must be finite".into()));
    }
    let reach = radius + 0.5;
    let bounds = |lo: f32, hi: f32| {
        let from = (lo - reach - 0.5).floor().max(0.0) as usize;
        let to = ((hi + reach + 0.5).ceil().max(0.0) as usize).min(SIDE);
        from..to
    };
    for row in bounds(a.1.min(b.1), a.1.max(b.1)) {
        for col in bounds(a.0.min(b.0), a.0.max(b.0)) {
            let d = segment_distance((col as f32 + 0.5, row as f32 + 0.5), a, b);
            let cover = (radius - d + 0.5).clamp(0.0, 1.0);
            if cover <= 0.0 {
                continue;
            }
            let v = &mut image[row * SIDE + col];
            *v = match tool {
                Tool::Ink => v.max(cover),
                Tool::Eraser => v.min(1.0 - cover),
            };
        }
    }
    Ok(())
}

/// One brush stamp at `at`: a stroke of length 0.
pub fn stamp(image: &mut [f32], at: (f32, f32), radius: f32, tool: Tool) -> Result<()> {
    stroke(image, at, at, radius, tool)
}

/// An `size × size` square with its top-left pixel at (`row`, `col`), set to `value`.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Patch {
    pub row: usize,
    pub col: usize,
    pub size: usize,
    pub value: f32,
}

impl Patch {
    /// Every black and white patch of side `size` whose top row is `row`, left to right (black
    /// first at each place): the candidates of one step of [`PatchSearch`].
    pub fn along_row(size: usize, row: usize) -> impl Iterator<Item = Patch> {
        (0..=SIDE.saturating_sub(size)).flat_map(move |col| {
            [0.0, 1.0].map(|value| Patch {
                row,
                col,
                size,
                value,
            })
        })
    }

    /// The patch of side `size` whose centre is nearest to the point `(x, y)` (pixels, as in
    /// [`stroke`]), moved inside the image.
    pub fn centred_at(x: f32, y: f32, size: usize, value: f32) -> Result<Self> {
        if !(1..=SIDE).contains(&size) {
            return Err(Error::Input(format!(
                "a patch is 1 to {SIDE} pixels wide, not {size}"
            )));
        }
        if !x.is_finite() || !y.is_finite() {
            return Err(Error::Input("a patch's position must be finite".into()));
        }
        let corner = |c: f32| {
            let start = (c - size as f32 / 2.0).round();
            start.clamp(0.0, (SIDE - size) as f32) as usize
        };
        let patch = Self {
            row: corner(y),
            col: corner(x),
            size,
            value,
        };
        patch.check()?;
        Ok(patch)
    }

    /// Checks that the patch lies inside the image and its value in [0, 1].
    pub fn check(&self) -> Result<()> {
        if self.size == 0 || self.row + self.size > SIDE || self.col + self.size > SIDE {
            return Err(Error::Input(format!(
                "a {0}×{0} patch at row {1}, column {2} does not fit in the 28×28 image",
                self.size, self.row, self.col
            )));
        }
        if !(0.0..=1.0).contains(&self.value) {
            return Err(Error::Input(format!(
                "a patch's value must lie in [0, 1], not {}",
                self.value
            )));
        }
        Ok(())
    }

    /// The indices of the patch's pixels, row by row.
    pub fn pixels(&self) -> impl Iterator<Item = usize> + '_ {
        (self.row..self.row + self.size)
            .flat_map(move |r| (self.col..self.col + self.size).map(move |c| r * SIDE + c))
    }

    /// Sets the patch's pixels of `image` to its value.
    pub fn apply(&self, image: &mut [f32]) -> Result<()> {
        check_image(image)?;
        self.check()?;
        for i in self.pixels() {
            image[i] = self.value;
        }
        Ok(())
    }

    /// `image` with the patch applied.
    pub fn applied(&self, image: &[f32]) -> Result<Vec<f32>> {
        let mut out = image.to_vec();
        self.apply(&mut out)?;
        Ok(out)
    }
}

/// How large an edit is.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct EditStats {
    /// `#{i : |x'ᵢ − xᵢ| > 1/255}`.
    pub pixels: usize,
    /// `‖x' − x‖₂`.
    pub l2: f64,
}

impl EditStats {
    /// Whether this edit is smaller than `other`: fewer pixels, or as many and a smaller `‖·‖₂`.
    pub fn smaller_than(&self, other: &EditStats) -> bool {
        self.pixels < other.pixels || (self.pixels == other.pixels && self.l2 < other.l2)
    }
}

/// The size of the edit from `original` to `edited`.
pub fn measure(original: &[f32], edited: &[f32]) -> Result<EditStats> {
    check_image(original)?;
    check_image(edited)?;
    let mut pixels = 0;
    let mut sum = 0.0f64;
    for (&a, &b) in original.iter().zip(edited) {
        let change = b - a;
        if change.abs() > CHANGE_THRESHOLD {
            pixels += 1;
        }
        sum += (change as f64) * (change as f64);
    }
    Ok(EditStats {
        pixels,
        l2: sum.sqrt(),
    })
}

/// The size of `patch` applied to `image`, without building the edited image: only the
/// patch's pixels change, summed in the same order as [`measure`], so the two agree exactly.
fn patch_stats(image: &[f32], patch: &Patch) -> EditStats {
    let mut pixels = 0;
    let mut sum = 0.0f64;
    for i in patch.pixels() {
        let change = patch.value - image[i];
        if change.abs() > CHANGE_THRESHOLD {
            pixels += 1;
        }
        sum += (change as f64) * (change as f64);
    }
    EditStats {
        pixels,
        l2: sum.sqrt(),
    }
}

/// A label-changing patch.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PatchFound {
    pub patch: Patch,
    pub stats: EditStats,
    /// `k̂(x')`.
    pub label: usize,
    /// Softmax probabilities at `x'`.
    pub probabilities: Vec<f64>,
}

/// The search for the smallest label-changing square patch, one row of positions at a time.
///
/// Candidates: sides `s = 1 … max_size`, top-left corners `(row, col) ∈ {0 … 28 − s}²`, values 0
/// and 1 — `2 Σₛ (29 − s)²` of them. A candidate that changes no pixel cannot be a structural
/// edit and is skipped; one that is not smaller (in [`EditStats::smaller_than`]) than the best
/// label-changing patch so far is skipped without evaluating the model. The answer is therefore
/// the exact minimum (first in the order size, row, column, value on ties). It never stops
/// early: pruning only skips evaluations.
///
/// A search may also take only some of the sides ([`PatchSearch::with_sizes`]: a part of the job
/// for the worker pool, [`split_sizes`]); the parts' answers merged by [`merge_answers`] are the
/// answer of the whole search.
pub struct PatchSearch<'a> {
    model: &'a dyn Model,
    image: Vec<f32>,
    /// The image in f64, edited in place for each candidate and restored.
    work: Vec<f64>,
    original: usize,
    /// The sides searched, increasing.
    sizes: Vec<usize>,
    /// The next row of positions: the index of its side in `sizes`, and its row.
    next: usize,
    row: usize,
    rows_done: usize,
    best: Option<PatchFound>,
    evaluations: usize,
}

impl<'a> PatchSearch<'a> {
    /// Starts a search on `image` (784 values in [0, 1]) for sides up to `max_size`
    /// (1 … [`MAX_SEARCH_SIZE`]); evaluates `k̂(x)` once.
    pub fn new(model: &'a dyn Model, image: &[f32], max_size: usize) -> Result<Self> {
        Self::with_sizes(model, image, max_size, &[])
    }

    /// [`PatchSearch::new`] over the sides `sizes` only (a part of the search: increasing,
    /// within `1 … max_size`; empty, all of them).
    pub fn with_sizes(
        model: &'a dyn Model,
        image: &[f32],
        max_size: usize,
        sizes: &[usize],
    ) -> Result<Self> {
        check_image(image)?;
        let sizes = check_sizes(max_size, sizes)?;
        if model.dim() != PIXELS {
            return Err(Error::Input(format!(
                "the model takes {} values, not a 28×28 image",
                model.dim()
            )));
        }
        let work: Vec<f64> = image.iter().map(|&v| v as f64).collect();
        let original = argmax(&model.logits(&work)?);
        Ok(Self {
            model,
            image: image.to_vec(),
            work,
            original,
            sizes,
            next: 0,
            row: 0,
            rows_done: 0,
            best: None,
            evaluations: 1,
        })
    }

    /// `k̂(x)` of the unedited image.
    pub fn original_label(&self) -> usize {
        self.original
    }

    /// Rows of positions in the whole search: `Σₛ (29 − s)` over its sides.
    pub fn total_rows(&self) -> usize {
        self.sizes.iter().map(|s| SIDE + 1 - s).sum()
    }

    /// The sides searched, increasing.
    pub fn sizes(&self) -> &[usize] {
        &self.sizes
    }

    /// Rows of positions searched so far.
    pub fn rows_done(&self) -> usize {
        self.rows_done
    }

    /// Whether every candidate has been considered.
    pub fn is_done(&self) -> bool {
        self.next >= self.sizes.len()
    }

    /// Model evaluations so far (including `k̂(x)`).
    pub fn evaluations(&self) -> usize {
        self.evaluations
    }

    /// The smallest label-changing patch so far.
    pub fn best(&self) -> Option<&PatchFound> {
        self.best.as_ref()
    }

    /// The answer (the best so far if the search has not finished).
    pub fn finish(self) -> Option<PatchFound> {
        self.best
    }

    /// Considers every position of the next row (both values); returns whether rows remain.
    pub fn step(&mut self) -> Result<bool> {
        if self.is_done() {
            return Ok(false);
        }
        let (size, row) = (self.sizes[self.next], self.row);
        for patch in Patch::along_row(size, row) {
            let value = patch.value;
            let stats = patch_stats(&self.image, &patch);
            if stats.pixels == 0
                || self
                    .best
                    .as_ref()
                    .is_some_and(|b| !stats.smaller_than(&b.stats))
            {
                continue;
            }
            for i in patch.pixels() {
                self.work[i] = value as f64;
            }
            let logits = self.model.logits(&self.work);
            for i in patch.pixels() {
                self.work[i] = self.image[i] as f64;
            }
            let logits = logits?;
            self.evaluations += 1;
            let label = argmax(&logits);
            if label != self.original {
                self.best = Some(PatchFound {
                    patch,
                    stats,
                    label,
                    probabilities: crate::classification::attack::softmax(&logits),
                });
            }
        }
        self.rows_done += 1;
        self.row += 1;
        if self.row + size > SIDE {
            self.next += 1;
            self.row = 0;
        }
        Ok(!self.is_done())
    }
}

/// The smallest label-changing square patch of side `1 … max_size` (see [`PatchSearch`]), or
/// `None` if no such patch changes `k̂(x)`.
pub fn smallest_patch(
    model: &dyn Model,
    image: &[f32],
    max_size: usize,
) -> Result<Option<PatchFound>> {
    let mut search = PatchSearch::new(model, image, max_size)?;
    while search.step()? {}
    Ok(search.finish())
}

/// Checks the sides of a (part of a) search up to `max_size` (1 … [`MAX_SEARCH_SIZE`]):
/// increasing, within `1 … max_size`; empty means all of them. Returns the sides.
pub fn check_sizes(max_size: usize, sizes: &[usize]) -> Result<Vec<usize>> {
    if !(1..=MAX_SEARCH_SIZE).contains(&max_size) {
        return Err(Error::Input(format!(
            "the largest patch must be 1 to {MAX_SEARCH_SIZE} pixels wide, not {max_size}"
        )));
    }
    if sizes.is_empty() {
        return Ok((1..=max_size).collect());
    }
    if sizes.iter().any(|s| !(1..=max_size).contains(s)) || sizes.windows(2).any(|w| w[0] >= w[1]) {
        return Err(Error::Input(format!(
            "the patch sides to search must increase within 1 to {max_size}, not {sizes:?}"
        )));
    }
    Ok(sizes.to_vec())
}

/// Positions (top-left corners) of a patch of side `size`: `(29 − s)²`, each tried black and
/// white: the work of one side of the search.
pub fn positions(size: usize) -> usize {
    (SIDE + 1).saturating_sub(size).pow(2)
}

/// The sides `1 … max_size` dealt to at most `parts` searches so that each has about as many
/// positions ([`positions`]: larger patches have fewer): the side with the most positions
/// first, each to the part with the fewest positions so far (the first of those on a tie);
/// each part's sides increasing. Parts are never empty; there are at most `max_size`.
pub fn split_sizes(max_size: usize, parts: usize) -> Vec<Vec<usize>> {
    let parts = parts.clamp(1, max_size.max(1));
    let mut out = vec![Vec::new(); parts];
    let mut load = vec![0usize; parts];
    // Side 1 has the most positions; sides in increasing order are by decreasing work.
    for size in 1..=max_size {
        let k = (0..parts).min_by_key(|&k| (load[k], k)).unwrap_or(0);
        out[k].push(size);
        load[k] += positions(size);
    }
    out.retain(|p| !p.is_empty());
    out
}

/// The answer of a whole search from its parts' answers (searches of the same model, image and
/// `max_size` over sides that together are `1 … max_size`, each once): the patch the one search
/// finds, the smallest by [`EditStats::smaller_than`] and, on a tie, the first in the order side,
/// row, column, value (each part's answer is the first of its sides in that order); the
/// evaluations summed and the time of the slowest part (they ran side by side). An error if the
/// parts do not fit together.
pub fn merge_answers(
    parts: Vec<crate::protocol::PatchAnswer>,
) -> Result<crate::protocol::PatchAnswer> {
    let first = parts
        .first()
        .ok_or_else(|| Error::Input("the patch search has no parts".into()))?;
    let (model, max_size, original) = (first.model.clone(), first.max_size, first.original);
    let mut all = Vec::new();
    for p in &parts {
        if p.model != model || p.max_size != max_size || p.original != original {
            return Err(Error::Input(format!(
                "the parts of the patch search differ: {model} up to {max_size} from label {original}, {} up to {} from label {}",
                p.model, p.max_size, p.original
            )));
        }
        let sizes = check_sizes(max_size, &p.sizes)?;
        if let Some(f) = p.found.as_ref().filter(|f| !sizes.contains(&f.patch.size)) {
            return Err(Error::Input(format!(
                "a part of the patch search found a {0}×{0} patch, a side it did not search",
                f.patch.size
            )));
        }
        all.extend(sizes);
    }
    all.sort_unstable();
    if all != (1..=max_size).collect::<Vec<_>>() {
        return Err(Error::Input(format!(
            "the parts of the patch search searched the sides {all:?}, not each of 1 to {max_size} once"
        )));
    }
    let key = |f: &PatchFound| {
        (
            f.stats.pixels,
            f.stats.l2,
            f.patch.size,
            f.patch.row,
            f.patch.col,
            f.patch.value,
        )
    };
    let evaluations = parts.iter().map(|p| p.evaluations).sum();
    let millis = parts.iter().map(|p| p.millis).fold(0.0, f64::max);
    let found = parts.into_iter().filter_map(|p| p.found).min_by(|a, b| {
        let (a, b) = (key(a), key(b));
        a.0.cmp(&b.0)
            .then(a.1.total_cmp(&b.1))
            .then(a.2.cmp(&b.2))
            .then(a.3.cmp(&b.3))
            .then(a.4.cmp(&b.4))
            .then(a.5.total_cmp(&b.5))
    });
    Ok(crate::protocol::PatchAnswer {
        model,
        max_size,
        original,
        found,
        evaluations,
        millis,
        sizes: Vec::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::classification::affine::Affine;
    use crate::protocol::PatchAnswer;
    use rand::{Rng, SeedableRng};

    fn zeros() -> Vec<f32> {
        vec![0.0; PIXELS]
    }

    /// Two classes: `f₀ = 0`, `f₁ = w·x + b`.
    fn binary(w: Vec<f64>, b: f64) -> Affine {
        Affine::new(vec![vec![0.0; PIXELS], w], vec![0.0, b]).unwrap()
    }

    fn random_image(seed: u64) -> Vec<f32> {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        (0..PIXELS)
            .map(|_| match rng.random_range(0..4) {
                0 => 1.0,
                1 => rng.random_range(0.0..1.0),
                _ => 0.0,
            })
            .collect()
    }

    #[test]
    fn stamps_are_soft_disks_and_clamped() {
        let mut x = zeros();
        stamp(&mut x, (14.0, 14.0), 1.0, Tool::Ink).unwrap();
        // The four pixels around the point (centres at distance √½ ≈ 0.71) are fully covered
        // only in part: c = 1 − 0.71 + 0.5 = 0.79.
        let c = 1.5 - 0.5f32.sqrt();
        for i in [
            13 * SIDE + 13,
            13 * SIDE + 14,
            14 * SIDE + 13,
            14 * SIDE + 14,
        ] {
            assert!((x[i] - c).abs() < 1e-6, "{}", x[i]);
        }
        assert!(x.iter().all(|v| (0.0..=1.0).contains(v)));
        // Symmetric about the point, nothing beyond r + ½.
        assert_eq!(x[12 * SIDE + 13], x[15 * SIDE + 14]);
        assert_eq!(x[10 * SIDE + 14], 0.0);
        // Stamping again changes nothing (max semantics).
        let before = x.clone();
        stamp(&mut x, (14.0, 14.0), 1.0, Tool::Ink).unwrap();
        assert_eq!(x, before);
        // A stamp at the centre of a pixel covers it fully.
        let mut y = zeros();
        stamp(&mut y, (3.5, 20.5), 0.5, Tool::Ink).unwrap();
        assert_eq!(y[20 * SIDE + 3], 1.0);
        assert_eq!(measure(&zeros(), &y).unwrap().pixels, 1);
    }

    #[test]
    fn ink_never_darkens_and_the_eraser_never_brightens() {
        for seed in 0..5 {
            let x = random_image(seed);
            let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(100 + seed);
            let mut ink = x.clone();
            let mut erased = x.clone();
            for _ in 0..10 {
                let p = |rng: &mut rand_chacha::ChaCha8Rng| {
                    (rng.random_range(-3.0..31.0), rng.random_range(-3.0..31.0))
                };
                let (a, b, r) = (p(&mut rng), p(&mut rng), rng.random_range(0.25..4.0));
                stroke(&mut ink, a, b, r, Tool::Ink).unwrap();
                stroke(&mut erased, a, b, r, Tool::Eraser).unwrap();
            }
            for i in 0..PIXELS {
                assert!(ink[i] >= x[i] && ink[i] <= 1.0);
                assert!(erased[i] <= x[i] && erased[i] >= 0.0);
            }
            assert!(measure(&x, &ink).unwrap().pixels > 0);
        }
    }

    #[test]
    fn a_stroke_is_a_capsule() {
        // A horizontal stroke along row 10's centre line: full coverage on row 10 between the
        // end points, nothing two rows away with r = 1.
        let mut x = zeros();
        stroke(&mut x, (4.5, 10.5), (20.5, 10.5), 1.0, Tool::Ink).unwrap();
        for col in 4..=20 {
            assert_eq!(x[10 * SIDE + col], 1.0);
            assert!((x[9 * SIDE + col] - 0.5).abs() < 1e-6);
            assert_eq!(x[8 * SIDE + col], 0.0);
        }
        assert_eq!(x[10 * SIDE + 23], 0.0);
        // Reversed end points give the same stroke; a point far outside changes nothing.
        let mut y = zeros();
        stroke(&mut y, (20.5, 10.5), (4.5, 10.5), 1.0, Tool::Ink).unwrap();
        assert_eq!(x, y);
        let mut z = zeros();
        stamp(&mut z, (-40.0, 100.0), 2.0, Tool::Ink).unwrap();
        assert_eq!(z, zeros());
    }

    #[test]
    fn edits_reject_bad_input() {
        let mut x = zeros();
        assert!(stamp(&mut x, (1.0, 1.0), 0.0, Tool::Ink).is_err());
        assert!(stamp(&mut x, (1.0, 1.0), f32::NAN, Tool::Ink).is_err());
        assert!(stamp(&mut x, (f32::INFINITY, 1.0), 1.0, Tool::Ink).is_err());
        assert!(stamp(&mut x[..10], (1.0, 1.0), 1.0, Tool::Ink).is_err());
        let mut bad = zeros();
        bad[3] = 1.5;
        assert!(stamp(&mut bad, (1.0, 1.0), 1.0, Tool::Ink).is_err());
        bad[3] = f32::NAN;
        assert!(measure(&zeros(), &bad).is_err());
        assert!(measure(&zeros(), &x[..5]).is_err());
        let p = Patch {
            row: 26,
            col: 0,
            size: 3,
            value: 1.0,
        };
        assert!(p.apply(&mut x).is_err());
        assert!(Patch {
            value: 2.0,
            row: 0,
            ..p
        }
        .check()
        .is_err());
        assert!(Patch {
            size: 0,
            row: 0,
            ..p
        }
        .check()
        .is_err());
        assert!(Patch::centred_at(5.0, 5.0, 0, 1.0).is_err());
        assert!(Patch::centred_at(5.0, 5.0, 29, 1.0).is_err());
        assert!(Patch::centred_at(f32::NAN, 5.0, 2, 1.0).is_err());
        assert!(Patch::centred_at(5.0, 5.0, 2, f32::NAN).is_err());
        let model = binary(vec![1.0; PIXELS], -0.5);
        assert!(PatchSearch::new(&model, &zeros(), 0).is_err());
        assert!(PatchSearch::new(&model, &zeros(), MAX_SEARCH_SIZE + 1).is_err());
        assert!(PatchSearch::new(&model, &bad, 2).is_err());
        let small = Affine::new(vec![vec![1.0; 4], vec![0.0; 4]], vec![0.0; 2]).unwrap();
        assert!(PatchSearch::new(&small, &zeros(), 2).is_err());
        assert_eq!(x, zeros());
    }

    #[test]
    fn patches_and_their_stats_are_exact() {
        let p = Patch::centred_at(14.0, 14.0, 3, 1.0).unwrap();
        assert_eq!((p.row, p.col), (13, 13));
        let corner = Patch::centred_at(27.9, 0.1, 4, 0.0).unwrap();
        assert_eq!((corner.row, corner.col), (0, 24));
        let x = random_image(3);
        for (row, col, size, value) in [
            (0, 0, 1, 1.0),
            (5, 7, 3, 0.0),
            (20, 25, 3, 1.0),
            (0, 0, 28, 0.0),
        ] {
            let patch = Patch {
                row,
                col,
                size,
                value,
            };
            let edited = patch.applied(&x).unwrap();
            let expected: Vec<usize> = patch.pixels().collect();
            assert_eq!(expected.len(), size * size);
            let mut pixels = 0;
            let mut sum = 0.0f64;
            for i in 0..PIXELS {
                if expected.contains(&i) {
                    assert_eq!(edited[i], value);
                    let d = (value - x[i]) as f64;
                    pixels += usize::from(d.abs() > 1.0 / 255.0);
                    sum += d * d;
                } else {
                    assert_eq!(edited[i], x[i]);
                }
            }
            let stats = measure(&x, &edited).unwrap();
            assert_eq!(stats, patch_stats(&x, &patch));
            assert_eq!(stats.pixels, pixels);
            assert!((stats.l2 - sum.sqrt()).abs() < 1e-12);
        }
        // One grey level is not a change; two are.
        let mut y = zeros();
        y[0] = 1.0 / 255.0;
        y[1] = 2.0 / 255.0;
        let s = measure(&zeros(), &y).unwrap();
        assert_eq!(s.pixels, 1);
        let e = EditStats { pixels: 2, l2: 5.0 };
        assert!(EditStats { pixels: 1, l2: 9.0 }.smaller_than(&e));
        assert!(EditStats { pixels: 2, l2: 4.0 }.smaller_than(&e));
        assert!(!e.smaller_than(&e));
    }

    #[test]
    fn one_sensitive_pixel_is_found_with_a_one_pixel_patch() {
        // f₁ − f₀ = x_p − ½: only a white patch over pixel p flips, and a 1×1 patch is smallest.
        let p = 17 * SIDE + 9;
        let mut w = vec![0.0; PIXELS];
        w[p] = 1.0;
        let model = binary(w, -0.5);
        let found = smallest_patch(&model, &zeros(), 3).unwrap().unwrap();
        assert_eq!(
            found.patch,
            Patch {
                row: 17,
                col: 9,
                size: 1,
                value: 1.0
            }
        );
        assert_eq!(found.stats, EditStats { pixels: 1, l2: 1.0 });
        assert_eq!(found.label, 1);
        assert!(found.probabilities[1] > 0.5);
    }

    #[test]
    fn a_uniform_model_needs_four_white_pixels() {
        // f₁ − f₀ = Σx − 3.5 on a black image: 4 white pixels, the first 2×2 square.
        let model = binary(vec![1.0; PIXELS], -3.5);
        let found = smallest_patch(&model, &zeros(), 4).unwrap().unwrap();
        assert_eq!(
            found.patch,
            Patch {
                row: 0,
                col: 0,
                size: 2,
                value: 1.0
            }
        );
        assert_eq!(found.stats, EditStats { pixels: 4, l2: 2.0 });
        // With 1×1 patches only, nothing flips.
        assert_eq!(smallest_patch(&model, &zeros(), 1).unwrap(), None);
    }

    #[test]
    fn fewest_pixels_beats_the_smallest_square() {
        // A 3×3 white block at rows/columns 10–12; f₁ − f₀ = 6.5 − (ink in the block): erasing 3
        // of its pixels flips. A 2×2 patch erases 1, 2 or 4 of them, a 3×3 one straddling the
        // block's edge exactly 3: the answer changes 3 pixels, not the 4 of the smaller square.
        let mut x = zeros();
        let mut w = vec![0.0; PIXELS];
        for r in 10..13 {
            for c in 10..13 {
                x[r * SIDE + c] = 1.0;
                w[r * SIDE + c] = -1.0;
            }
        }
        let model = binary(w, 6.5);
        assert_eq!(
            model
                .label(&x.iter().map(|&v| v as f64).collect::<Vec<_>>())
                .unwrap(),
            0
        );
        let mut search = PatchSearch::new(&model, &x, 2).unwrap();
        while search.step().unwrap() {}
        assert_eq!(search.best().unwrap().stats.pixels, 4);
        let found = smallest_patch(&model, &x, 4).unwrap().unwrap();
        assert_eq!(
            found.patch,
            Patch {
                row: 8,
                col: 10,
                size: 3,
                value: 0.0
            }
        );
        assert_eq!(found.stats.pixels, 3);
        assert!((found.stats.l2 - 3f64.sqrt()).abs() < 1e-12);
        assert_eq!(found.label, 1);
    }

    #[test]
    fn the_search_is_the_exhaustive_minimum() {
        // A random 10-class affine model on a random image against brute force over every
        // candidate; the pruned search evaluates far fewer.
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        for seed in 0..3 {
            let weights: Vec<Vec<f64>> = (0..10)
                .map(|_| (0..PIXELS).map(|_| rng.random_range(-1.0..1.0)).collect())
                .collect();
            let x = random_image(seed);
            let x64: Vec<f64> = x.iter().map(|&v| v as f64).collect();
            let mut model = Affine::new(weights, vec![0.0; 10]).unwrap();
            // Make the runner-up close, so that some small patches flip.
            let f = model.logits(&x64).unwrap();
            let top = argmax(&f);
            let mut sorted = f.clone();
            sorted.sort_by(|a, b| b.total_cmp(a));
            model.bias[top] = sorted[1] - sorted[0] + 2.0;
            let original = model.label(&x64).unwrap();
            let max_size = 3;
            let mut brute: Option<(EditStats, Patch)> = None;
            let mut candidates = 0;
            for size in 1..=max_size {
                for row in 0..=SIDE - size {
                    for patch in Patch::along_row(size, row) {
                        candidates += 1;
                        let edited = patch.applied(&x).unwrap();
                        let stats = measure(&x, &edited).unwrap();
                        let e64: Vec<f64> = edited.iter().map(|&v| v as f64).collect();
                        if stats.pixels > 0
                            && model.label(&e64).unwrap() != original
                            && brute.as_ref().is_none_or(|(b, _)| stats.smaller_than(b))
                        {
                            brute = Some((stats, patch));
                        }
                    }
                }
            }
            let mut search = PatchSearch::new(&model, &x, max_size).unwrap();
            let mut steps = 0;
            while search.step().unwrap() {
                steps += 1;
                assert_eq!(search.rows_done(), steps);
            }
            assert_eq!(search.rows_done(), search.total_rows());
            assert_eq!(search.total_rows(), 28 + 27 + 26);
            assert!(!search.step().unwrap());
            assert!(search.evaluations() < candidates);
            let found = search.finish();
            let (stats, patch) = brute.expect("some patch flips");
            let found = found.expect("the search finds it");
            assert_eq!((found.stats, found.patch), (stats, patch), "seed {seed}");
            assert_ne!(found.label, original);
        }
    }

    #[test]
    fn the_worker_messages_round_trip() {
        use crate::protocol::{Body, Job, PatchAnswer, Reply, Request};
        let request = Request {
            id: 3,
            job: Job::SmallestPatch {
                model: "cnn".into(),
                image: vec![0.25; PIXELS],
                max_size: 5,
                sizes: vec![2, 5],
            },
        };
        assert_eq!(Request::decode(&request.encode()).unwrap(), request);
        let model = binary(vec![1.0; PIXELS], -3.5);
        let found = smallest_patch(&model, &zeros(), 2).unwrap();
        assert!(found.is_some());
        let reply = Reply {
            id: 3,
            body: Body::SmallestPatch(PatchAnswer {
                model: "cnn".into(),
                max_size: 2,
                original: 0,
                found,
                evaluations: 12,
                millis: 1.5,
                sizes: vec![1, 2],
            }),
        };
        assert_eq!(Reply::decode(&reply.encode()).unwrap(), reply);
        assert!(reply.body.is_final());
    }

    /// A part's answer, as the worker gives it.
    fn part_answer(model: &dyn Model, x: &[f32], max_size: usize, sizes: &[usize]) -> PatchAnswer {
        let mut search = PatchSearch::with_sizes(model, x, max_size, sizes).unwrap();
        while search.step().unwrap() {}
        PatchAnswer {
            model: "m".into(),
            max_size,
            original: search.original_label(),
            evaluations: search.evaluations(),
            millis: 1.0,
            sizes: search.sizes().to_vec(),
            found: search.finish(),
        }
    }

    /// A random affine model whose runner-up is close at `x`, so that small patches flip.
    fn close_affine(rng: &mut rand_chacha::ChaCha8Rng, x: &[f32], margin: f64) -> Affine {
        let weights: Vec<Vec<f64>> = (0..10)
            .map(|_| (0..PIXELS).map(|_| rng.random_range(-1.0..1.0)).collect())
            .collect();
        let x64: Vec<f64> = x.iter().map(|&v| v as f64).collect();
        let mut model = Affine::new(weights, vec![0.0; 10]).unwrap();
        let f = model.logits(&x64).unwrap();
        let top = argmax(&f);
        let mut sorted = f.clone();
        sorted.sort_by(|a, b| b.total_cmp(a));
        model.bias[top] = sorted[1] - sorted[0] + margin;
        model
    }

    #[test]
    fn sides_are_dealt_by_their_positions() {
        assert_eq!(positions(1), 784);
        assert_eq!(positions(8), 441);
        for max_size in 1..=MAX_SEARCH_SIZE {
            for parts in 1..=10 {
                let split = split_sizes(max_size, parts);
                assert_eq!(split.len(), parts.min(max_size));
                let mut all: Vec<usize> = split.concat();
                all.sort_unstable();
                assert_eq!(all, (1..=max_size).collect::<Vec<_>>());
                for p in &split {
                    check_sizes(max_size, p).unwrap();
                }
                // Greedy balance: no part has more positions than another by more than a side.
                let loads: Vec<usize> = split
                    .iter()
                    .map(|p| p.iter().map(|&s| positions(s)).sum())
                    .collect();
                let (lo, hi) = (loads.iter().min().unwrap(), loads.iter().max().unwrap());
                assert!(hi - lo <= positions(1), "{split:?}: {loads:?}");
            }
        }
        assert_eq!(split_sizes(5, 1), vec![vec![1, 2, 3, 4, 5]]);
        assert_eq!(split_sizes(8, 2), vec![vec![1, 4, 6, 7], vec![2, 3, 5, 8]]);
        // 784 + 625 + 529 + 484 = 729 + 676 + 576 + 441 = 2422 positions each.
        // Sides a search may take.
        assert_eq!(check_sizes(3, &[]).unwrap(), vec![1, 2, 3]);
        for (max_size, sizes) in [
            (3, vec![0]),
            (3, vec![4]),
            (3, vec![2, 1]),
            (3, vec![2, 2]),
            (9, vec![1]),
            (0, vec![]),
        ] {
            let e = check_sizes(max_size, &sizes).unwrap_err().to_string();
            assert!(e.contains("1 to"), "{e}");
        }
        let model = binary(vec![1.0; PIXELS], -0.5);
        assert!(PatchSearch::with_sizes(&model, &zeros(), 3, &[3, 1]).is_err());
        let part = PatchSearch::with_sizes(&model, &zeros(), 4, &[2, 4]).unwrap();
        assert_eq!(part.total_rows(), 27 + 25);
        assert_eq!(part.sizes(), &[2, 4]);
    }

    #[test]
    fn the_parts_answers_merge_into_the_whole_searchs() {
        // Random affine models on random images, and on binary ones (there every patch's
        // ‖x′ − x‖₂ is the square root of its pixels changed, so ties across sides abound), and
        // a uniform model (ties everywhere): the merged answer is the one search's, patch,
        // stats, label and probabilities.
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(21);
        let mut cases: Vec<(Affine, Vec<f32>)> = Vec::new();
        for seed in 0..3 {
            let x = random_image(seed);
            cases.push((close_affine(&mut rng, &x, 2.0), x));
            let b: Vec<f32> = random_image(10 + seed)
                .iter()
                .map(|&v| if v > 0.5 { 1.0 } else { 0.0 })
                .collect();
            cases.push((close_affine(&mut rng, &b, 3.0), b));
        }
        cases.push((binary(vec![1.0; PIXELS], -3.5), zeros()));
        cases.push((binary(vec![0.0; PIXELS], -1.0), random_image(4)));
        let mut ties = 0;
        for (k, (model, x)) in cases.iter().enumerate() {
            let max_size = 4;
            let one = smallest_patch(model, x, max_size).unwrap();
            let whole = part_answer(model, x, max_size, &[]);
            assert_eq!(whole.found, one);
            for workers in 1..=5 {
                let answers: Vec<PatchAnswer> = split_sizes(max_size, workers)
                    .iter()
                    .map(|sizes| part_answer(model, x, max_size, sizes))
                    .collect();
                let founds: Vec<_> = answers.iter().filter_map(|a| a.found.as_ref()).collect();
                if founds.iter().any(|f| {
                    founds
                        .iter()
                        .any(|g| g.patch != f.patch && g.stats == f.stats)
                }) {
                    ties += 1;
                }
                let merged = merge_answers(answers).unwrap();
                assert_eq!(merged.found, one, "case {k}, {workers} workers");
                assert_eq!(merged.max_size, max_size);
                assert!(merged.sizes.is_empty());
            }
        }
        assert!(ties > 0, "some case has ties between parts");
    }

    #[test]
    fn the_split_search_on_shipped_models_finds_what_one_search_finds() {
        use crate::classification::classifier::{Architecture, Classifier};
        use crate::classification::inference::Network;
        use crate::classification::mnist::Digits;
        let digits = Digits::from_safetensors(
            &std::fs::read("static/data/mnist-heldout.safetensors").unwrap(),
        )
        .unwrap();
        for (arch, digit, max_size, splits) in [
            (Architecture::Linear, 164, 5, &[2usize, 3, 5][..]),
            (Architecture::Linear, 0, 4, &[2, 4][..]),
            (Architecture::Cnn, 164, 3, &[2, 3][..]),
        ] {
            let bytes =
                std::fs::read(format!("static/models/{}.safetensors", arch.name())).unwrap();
            let classifier = Classifier::from_safetensors(
                arch,
                &bytes,
                candle_core::DType::F32,
                &candle_core::Device::Cpu,
            )
            .unwrap();
            let network = Network::from_classifier(&classifier).unwrap();
            let x = digits.image(digit);
            let one = smallest_patch(&network, &x, max_size).unwrap();
            assert!(one.is_some(), "{} flips digit {digit}", arch.name());
            // What the page sees of an answer: it travels as JSON.
            let sent = |a: &PatchAnswer| -> PatchAnswer {
                serde_json::from_str(&serde_json::to_string(a).unwrap()).unwrap()
            };
            let one_sent = sent(&part_answer(&network, &x, max_size, &[]));
            for &workers in splits {
                let answers: Vec<PatchAnswer> = split_sizes(max_size, workers)
                    .iter()
                    .map(|sizes| part_answer(&network, &x, max_size, sizes))
                    .collect();
                assert_eq!(answers.len(), workers);
                let what = format!("{} digit {digit}, {workers} workers", arch.name());
                let merged = merge_answers(answers.iter().map(sent).collect()).unwrap();
                assert_eq!(merged.found, one_sent.found, "{what}");
                let merged = merge_answers(answers).unwrap();
                assert_eq!(merged.found, one, "{what}");
            }
        }
    }

    #[test]
    fn mismatched_parts_are_rejected() {
        let model = binary(vec![1.0; PIXELS], -3.5);
        let x = zeros();
        let a = part_answer(&model, &x, 4, &[1, 3]);
        let b = part_answer(&model, &x, 4, &[2, 4]);
        assert!(merge_answers(vec![a.clone(), b.clone()]).is_ok());
        let c = part_answer(&model, &x, 4, &[2, 3, 4]);
        let other = |f: &dyn Fn(&mut PatchAnswer)| {
            let mut p = b.clone();
            f(&mut p);
            p
        };
        for (parts, words) in [
            (vec![], "no parts"),
            (vec![a.clone()], "not each of 1 to 4 once"),
            (vec![a.clone(), c], "not each of 1 to 4 once"),
            (
                vec![a.clone(), other(&|p| p.model = "cnn".into())],
                "differ",
            ),
            (vec![a.clone(), other(&|p| p.max_size = 5)], "differ"),
            (vec![a.clone(), other(&|p| p.original = 3)], "differ"),
            (
                vec![a.clone(), other(&|p| p.sizes = vec![4, 2])],
                "increase",
            ),
            (
                vec![
                    a.clone(),
                    other(&|p| {
                        if let Some(f) = p.found.as_mut() {
                            f.patch.size = 3
                        }
                    }),
                ],
                "did not search",
            ),
        ] {
            let e = merge_answers(parts).unwrap_err().to_string();
            assert!(e.contains(words), "{e} (expected {words})");
        }
    }

    #[test]
    fn a_robust_image_has_no_answer() {
        let model = binary(vec![0.0; PIXELS], -1.0);
        let mut search = PatchSearch::new(&model, &random_image(1), 2).unwrap();
        assert_eq!(search.original_label(), 0);
        while search.step().unwrap() {}
        assert!(search.best().is_none());
        assert!(search.is_done());
    }
}
