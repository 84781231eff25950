//! Structural details, "Can u see it?": the second instability of Antun, Renna, Poon, Adcock &
//! Hansen ("On instabilities of deep learning in image reconstruction and the potential costs of
//! AI", PNAS 2020). A small detail `z` (a word, a lesion, a stroke) is added to an image,
//! `x′ = x + z`, and measured, `y′ = A x′` with `A = P_Ω F`. Does a reconstruction `R` show it?
//!
//! Two measures, both on the detail's [`Region`] `D` (its bounding box with a margin) or on all
//! of it:
//!
//! - the **recovered fraction** `c(R) = Re⟨R(Ax′) − R(Ax), z⟩ / ‖z‖²`: the part of the detail
//!   that the reconstruction adds when the detail is added (1: all of it, 0: none, negative: the
//!   opposite). For zero-filling (`R = A*`, linear) it is exactly the share of the detail's
//!   energy that the sampling sees, `c(A*) = ‖Az‖² / ‖z‖²` ([`visible_fraction`]): what a
//!   method that only trusts the data can show. A method that recovers more than that used a
//!   prior (sparsity for FIRENET, training data for a network); one that recovers less lost it.
//! - the **error inside the region**, `‖(R(Ax′) − x′)|_D‖₂ / ‖z|_D‖₂`, beside the same error
//!   for the image without the detail, `‖(R(Ax) − x)|_D‖₂ / ‖z|_D‖₂`, so that what the detail
//!   costs is visible.
//!
//! The same measures serve the troublesome kernel ([`crate::mri::kernel`]), where the added part is
//! `t·z_N` (complex, and invisible to `A`): there `R(Ax′) = R(Ax)` and `c = 0` for every method.
//!
//! [`DetailSpec`] is what a user types or places: a word (wrapped onto lines that fit, in the
//! lab's 5 × 7 font), a lesion, or a drawing (pixels kept by the page).

use crate::mri::fourier::{fftshift, magnitudes};
use crate::mri::instability::Reconstructor;
use crate::mri::kernel::{norm64, widen_real, BoundCheck, Detail, KernelProjector, Pair};
use crate::mri::operator::{inner_re, norm, Sampling};
use crate::{Error, Result};
use rustfft::num_complex::Complex32;
use serde::{Deserialize, Serialize};

/// An axis-aligned box of pixels in an `side × side` image.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Region {
    pub top: usize,
    pub left: usize,
    pub height: usize,
    pub width: usize,
}

impl Region {
    /// The bounding box of the pixels where `|z| > 10⁻³ · max|z|`, grown by `margin` pixels on
    /// every side (clipped to the image). An error for a detail that is zero or not finite.
    pub fn around(z: &[f32], side: usize, margin: usize) -> Result<Self> {
        if side == 0 || z.len() != side * side {
            return Err(Error::Input(format!(
                "a detail of {} pixels for a {side}×{side} image",
                z.len()
            )));
        }
        if z.iter().any(|v| !v.is_finite()) {
            return Err(Error::Input("the detail is not finite".into()));
        }
        let peak = z.iter().fold(0.0f32, |m, v| m.max(v.abs()));
        if peak == 0.0 {
            return Err(Error::Input(
                "the detail is empty: type some text, place a lesion or draw something".into(),
            ));
        }
        let (mut r0, mut r1, mut c0, mut c1) = (side, 0, side, 0);
        for (i, v) in z.iter().enumerate() {
            if v.abs() > 1e-3 * peak {
                let (r, c) = (i / side, i % side);
                (r0, r1, c0, c1) = (r0.min(r), r1.max(r), c0.min(c), c1.max(c));
            }
        }
        let top = r0.saturating_sub(margin);
        let left = c0.saturating_sub(margin);
        let bottom = (r1 + margin).min(side - 1);
        let right = (c1 + margin).min(side - 1);
        Ok(Self {
            top,
            left,
            height: bottom - top + 1,
            width: right - left + 1,
        })
    }

    /// The flat indices of the region's pixels, row by row.
    pub fn indices(&self, side: usize) -> impl Iterator<Item = usize> + '_ {
        (self.top..self.top + self.height)
            .flat_map(move |r| (self.left..self.left + self.width).map(move |c| r * side + c))
    }

    /// Whether the region lies inside an `side × side` image.
    pub fn fits(&self, side: usize) -> bool {
        self.height > 0
            && self.width > 0
            && self.top + self.height <= side
            && self.left + self.width <= side
    }

    /// The region's values, row by row.
    pub fn crop<T: Copy>(&self, values: &[T], side: usize) -> Vec<T> {
        self.indices(side).map(|i| values[i]).collect()
    }
}

/// What one reconstruction made of a detail.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Recovery {
    /// `c = Re⟨R(Ax′) − R(Ax), z⟩ / ‖z‖²`.
    pub recovered: f64,
    /// `‖(R(Ax′) − x′)|_D‖ / ‖z|_D‖`: the error inside the region with the detail.
    pub region_error: f64,
    /// `‖(R(Ax) − x)|_D‖ / ‖z|_D‖`: the error inside the region without it.
    pub region_error_clean: f64,
    /// `‖R(Ax′) − x′‖ / ‖x′‖`: the relative error on the whole image.
    pub error: f64,
}

/// The measures of one reconstruction: `x` the image, `added` what was added (`z`, or `t·z_N`
/// for the troublesome kernel), `outputs = (R(Ax), R(Ax′))`, `region` the detail's box.
pub fn recovery(
    x: &[f32],
    added: &[Complex32],
    outputs: (&[Complex32], &[Complex32]),
    region: Region,
    side: usize,
) -> Result<Recovery> {
    let (out, out_prime) = outputs;
    let n = side * side;
    if x.len() != n || added.len() != n || out.len() != n || out_prime.len() != n {
        return Err(Error::Input(format!(
            "an image, detail and reconstructions of {}, {}, {} and {} pixels for {side}×{side}",
            x.len(),
            added.len(),
            out.len(),
            out_prime.len()
        )));
    }
    if !region.fits(side) {
        return Err(Error::Input(format!(
            "the region {region:?} is not inside a {side}×{side} image"
        )));
    }
    let energy = norm(added).powi(2);
    if !(energy > 0.0 && energy.is_finite()) {
        return Err(Error::Input("the detail is empty or not finite".into()));
    }
    let difference: Vec<Complex32> = out_prime.iter().zip(out).map(|(p, q)| p - q).collect();
    let recovered = inner_re(&difference, added) / energy;
    let (mut inside, mut with, mut without) = (0.0f64, 0.0f64, 0.0f64);
    for i in region.indices(side) {
        let truth = Complex32::new(x[i], 0.0);
        inside += added[i].norm_sqr() as f64;
        with += (out_prime[i] - truth - added[i]).norm_sqr() as f64;
        without += (out[i] - truth).norm_sqr() as f64;
    }
    // A detail that lies (nearly) outside its own box cannot happen for `Region::around`; for
    // a kernel component it can be tiny there, so fall back to the whole detail's norm.
    let scale = if inside > 1e-12 * energy {
        inside.sqrt()
    } else {
        energy.sqrt()
    };
    let x_prime_norm = x
        .iter()
        .zip(added)
        .map(|(&v, a)| (Complex32::new(v, 0.0) + a).norm_sqr() as f64)
        .sum::<f64>()
        .sqrt();
    let error_all = out_prime
        .iter()
        .zip(x.iter().zip(added))
        .map(|(o, (&v, a))| (o - Complex32::new(v, 0.0) - a).norm_sqr() as f64)
        .sum::<f64>()
        .sqrt();
    Ok(Recovery {
        recovered,
        region_error: with.sqrt() / scale,
        region_error_clean: without.sqrt() / scale,
        error: error_all / x_prime_norm.max(f64::MIN_POSITIVE),
    })
}

/// `‖Az‖² / ‖z‖²`: the share of the detail's energy the sampling sees (what zero-filling
/// recovers, see the module docs).
pub fn visible_fraction(a: &dyn Sampling, z: &[f32]) -> Result<f64> {
    let n = a.mask().side();
    if z.len() != n * n {
        return Err(Error::Input(format!(
            "a detail of {} pixels for a {n}×{n} operator",
            z.len()
        )));
    }
    let energy: f64 = z.iter().map(|v| (*v as f64).powi(2)).sum();
    if !(energy > 0.0 && energy.is_finite()) {
        return Err(Error::Input("the detail is empty or not finite".into()));
    }
    Ok(norm(&a.measure(z)).powi(2) / energy)
}

/// The kinds of detail a user can place.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DetailKind {
    /// A word or a few, wrapped onto lines.
    Text,
    /// A soft-edged disk.
    Lesion,
    /// Pixels drawn with a brush (kept by the page, not in links).
    Drawn,
}

impl DetailKind {
    /// `text`, `lesion` or `drawn`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Text => "text",
            Self::Lesion => "lesion",
            Self::Drawn => "drawn",
        }
    }

    /// The kind called `name`.
    pub fn from_name(name: &str) -> Result<Self> {
        [Self::Text, Self::Lesion, Self::Drawn]
            .into_iter()
            .find(|k| k.name() == name)
            .ok_or_else(|| Error::Input(format!("unknown detail '{name}' (text, lesion, drawn)")))
    }
}

/// Largest font scale and lesion radius a user can choose.
pub const MAX_SIZE: usize = 8;
/// Largest `|intensity|` of a detail (the images lie in [0, 1]).
pub const MAX_INTENSITY: f32 = 1.0;
/// Longest text.
pub const MAX_TEXT: usize = 40;

/// The grid of a [`DetailSpec`]'s coordinates: `row`, `col` and `size` are pixels of a
/// 64 × 64 image at every side (see [`DetailSpec`]).
pub const DETAIL_GRID: usize = 64;

/// How many pixels of an `side × side` image one pixel of the [`DETAIL_GRID`] covers per axis
/// (1 at 64², 2 at 128²); an error for a side that is not a whole multiple of the grid.
pub fn grid_scale(side: usize) -> Result<usize> {
    if side == 0 || !side.is_multiple_of(DETAIL_GRID) {
        return Err(Error::Input(format!(
            "details are placed on a {DETAIL_GRID}×{DETAIL_GRID} grid; an image of side {side} is not a multiple of it"
        )));
    }
    Ok(side / DETAIL_GRID)
}

/// A detail as a user places it: a kind, where (the centre `row`, `col`), how big (font scale
/// or lesion radius) and how bright.
///
/// **Coordinates.** `row`, `col` and `size` are in pixels of the 64² grid
/// ([`DETAIL_GRID`]) whatever the side of the image, and scaled by `side / 64` when the detail is
/// drawn at a larger side ([`DetailSpec::pieces`]): at 128² a text is laid out on the grid and
/// every font pixel becomes a 2 × 2 block (the text at 64² magnified exactly), and a lesion's
/// centre, radius and soft edge are doubled. So a detail is the same place and the same size in
/// the field of view at both sides, the links written before the 128² networks keep their
/// meaning, switching the network between 64² and 128² keeps the detail where it was, and the
/// lesion `row=36&col=32&size=3` is the one the kernel-trained networks saw at either side
/// ([`crate::mri::learned::kernel_training::shipped_detail`] scales the same way). The price:
/// a typed detail cannot be finer at 128² than at 64² (a drawn one can: it is drawn at the
/// image's side).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DetailSpec {
    pub kind: DetailKind,
    /// The words of a text detail (upper-cased; A–Z, 0–9 and spaces).
    pub text: String,
    /// The centre, a pixel of the 64² grid.
    pub row: usize,
    pub col: usize,
    /// Font scale (each font pixel `size × size` pixels of the grid) or lesion radius (in
    /// pixels of the grid).
    pub size: usize,
    pub intensity: f32,
}

impl DetailSpec {
    /// The detail's pieces on an `side × side` canvas (`side` a multiple of 64): the lines of a
    /// text (centred on `(row, col)`, wrapped at spaces to fit the width, shifted inwards to
    /// fit, laid out on the 64² grid and scaled by `side / 64`), or a lesion (centre, radius
    /// and a soft edge of one grid pixel, scaled the same way). Errors say what is wrong (empty
    /// text, a character outside the font, too big to fit, a side that is no multiple of 64).
    pub fn pieces(&self, side: usize) -> Result<Vec<Detail>> {
        let s = grid_scale(side)?;
        if !(self.intensity.is_finite() && self.intensity.abs() <= MAX_INTENSITY) {
            return Err(Error::Input(format!(
                "the intensity must lie in [−{MAX_INTENSITY}, {MAX_INTENSITY}]"
            )));
        }
        if self.size == 0 || self.size > MAX_SIZE {
            return Err(Error::Input(format!(
                "the size must lie between 1 and {MAX_SIZE}"
            )));
        }
        let grid = DETAIL_GRID;
        match self.kind {
            DetailKind::Drawn => Err(Error::Input(
                "a drawn detail is made of the drawn pixels, not of settings".into(),
            )),
            DetailKind::Lesion => Ok(vec![Detail::Lesion {
                row: (self.row * s) as f64,
                col: (self.col * s) as f64,
                radius: (self.size * s) as f64,
                intensity: self.intensity,
                edge: s as f64,
            }]),
            DetailKind::Text => {
                let lines = wrap(&self.text, self.size, grid)?;
                let line_height = crate::mri::kernel::text_extent("A", self.size).0;
                let gap = self.size;
                let total = lines.len() * line_height + (lines.len() - 1) * gap;
                if total > grid {
                    return Err(Error::Input(format!(
                        "the text needs {total} rows of the {grid}² grid at size {}; it has {grid}",
                        self.size
                    )));
                }
                let top = (self.row as isize - total as isize / 2).clamp(0, (grid - total) as isize)
                    as usize;
                Ok(lines
                    .into_iter()
                    .enumerate()
                    .map(|(k, line)| {
                        let width = crate::mri::kernel::text_extent(&line, self.size).1;
                        let left = (self.col as isize - width as isize / 2)
                            .clamp(0, (grid - width) as isize)
                            as usize;
                        Detail::Text {
                            text: line,
                            top: (top + k * (line_height + gap)) * s,
                            left: left * s,
                            scale: self.size * s,
                            intensity: self.intensity,
                        }
                    })
                    .collect())
            }
        }
    }

    /// The detail `z` on an `side × side` canvas (the sum of its pieces).
    pub fn render(&self, side: usize) -> Result<Vec<f32>> {
        let mut z = vec![0.0f32; side * side];
        for piece in self.pieces(side)? {
            for (v, p) in z.iter_mut().zip(piece.render(side)?) {
                *v += p;
            }
        }
        Ok(z)
    }
}

/// A drawn detail of side `from` redrawn at side `to` (the same strokes in the field of view):
/// each pixel repeated over a `k × k` block when `to = k·from`; when `from = k·to`, each
/// `k × k` block becomes its value of largest magnitude, so that a thin stroke keeps its
/// intensity. `None` when neither side divides the other or `drawn` is not `from²` values.
pub fn rescale_drawing(drawn: &[f32], from: usize, to: usize) -> Option<Vec<f32>> {
    if from == 0 || to == 0 || drawn.len() != from * from {
        return None;
    }
    if to.is_multiple_of(from) {
        let k = to / from;
        Some(
            (0..to * to)
                .map(|i| drawn[(i / to / k) * from + (i % to) / k])
                .collect(),
        )
    } else if from.is_multiple_of(to) {
        let k = from / to;
        Some(
            (0..to * to)
                .map(|i| {
                    let (r, c) = (i / to * k, i % to * k);
                    (0..k * k)
                        .map(|j| drawn[(r + j / k) * from + c + j % k])
                        .fold(0.0f32, |m, v| if v.abs() > m.abs() { v } else { m })
                })
                .collect(),
        )
    } else {
        None
    }
}

/// Splits `text` (upper-cased, spaces collapsed) into lines that fit `side` pixels at `scale`,
/// breaking at spaces. An error for empty text, text over [`MAX_TEXT`] characters, characters
/// outside the font, or a word longer than a line.
pub fn wrap(text: &str, scale: usize, side: usize) -> Result<Vec<String>> {
    let upper = text.trim().to_uppercase();
    if upper.is_empty() {
        return Err(Error::Input("type some text first".into()));
    }
    if upper.chars().count() > MAX_TEXT {
        return Err(Error::Input(format!(
            "at most {MAX_TEXT} characters of text"
        )));
    }
    if let Some(c) = upper
        .chars()
        .find(|&c| c != ' ' && crate::mri::kernel::glyph(c).is_none())
    {
        return Err(Error::Input(format!(
            "the 5×7 font has no '{c}' (it draws A–Z, 0–9 and the space)"
        )));
    }
    let fits = |line: &str| crate::mri::kernel::text_extent(line, scale).1 <= side;
    let mut lines: Vec<String> = Vec::new();
    for word in upper.split_whitespace() {
        if !fits(word) {
            return Err(Error::Input(format!(
                "'{word}' is too wide for a {side}-pixel image at size {scale}"
            )));
        }
        match lines.last_mut() {
            Some(line) if fits(&format!("{line} {word}")) => {
                line.push(' ');
                line.push_str(word);
            }
            _ => lines.push(word.to_string()),
        }
    }
    Ok(lines)
}

/// One experiment of the two pages: a slice `x`, a detail `z`, and `x′ = x + t·z_N` (with
/// `t`) or `x′ = x + z` (without), measured by `A`; [`Experiment::measure`] runs one method.
#[derive(Clone, Debug)]
pub struct Experiment {
    pub side: usize,
    pub x: Vec<f32>,
    pub z: Vec<f32>,
    /// `Some(pair)` for the troublesome kernel.
    pub pair: Option<Pair>,
    /// What was added: `t·z_N` or `z`.
    pub added: Vec<Complex32>,
    /// `x′`.
    pub x_prime: Vec<Complex32>,
    /// `(Ax, Ax′)`.
    pub y: Vec<Complex32>,
    pub y_prime: Vec<Complex32>,
    /// The detail's box, from `z` (with a margin of [`REGION_MARGIN`] pixels of the 64² grid).
    pub region: Region,
    /// `‖z_N‖ / ‖z‖`.
    pub kernel_share: f64,
    /// `‖Az‖² / ‖z‖²`.
    pub visible: f64,
}

/// One method's outputs and measures (see [`Experiment::measure`]).
#[derive(Clone, Debug)]
pub struct Measured {
    /// `R(Ax)` and `R(Ax′)`.
    pub out: Vec<Complex32>,
    pub out_prime: Vec<Complex32>,
    /// For the troublesome kernel: the two error terms against `t‖z_N‖`.
    pub bound: Option<BoundCheck>,
    pub recovery: Recovery,
    /// PSNR of `|R(Ax′)|` against `|x′|`, peak 1.
    pub psnr: f64,
}

/// Margin of [`Experiment::region`] around the detail, in pixels of the 64² grid (6 pixels at
/// 128²).
pub const REGION_MARGIN: usize = 3;
/// Largest `|t|` of the troublesome kernel's `x + t·z_N`.
pub const MAX_T: f64 = 8.0;

impl Experiment {
    /// Prepares `x′` and the measurements. Errors for a detail of the wrong size, an empty or
    /// non-finite one, or `|t| > MAX_T`.
    pub fn new(a: &dyn Sampling, x: &[f32], z: &[f32], t: Option<f64>) -> Result<Self> {
        let side = a.mask().side();
        if x.len() != side * side {
            return Err(Error::Input(format!(
                "an image of {} pixels for a {side}×{side} operator",
                x.len()
            )));
        }
        let margin = REGION_MARGIN * (side / DETAIL_GRID).max(1);
        let region = Region::around(z, side, margin)?;
        let projector = KernelProjector::new(a)?;
        let z_wide = widen_real(z);
        let z_n = projector.kernel(&z_wide)?;
        let kernel_share = norm64(&z_n) / norm64(&z_wide);
        let visible = visible_fraction(a, z)?;
        let (pair, added, x_prime) = match t {
            Some(t) => {
                if !(t.is_finite() && t.abs() <= MAX_T) {
                    return Err(Error::Input(format!(
                        "t must lie in [−{MAX_T}, {MAX_T}], got {t}"
                    )));
                }
                let pair = Pair::from_kernel_component(x, z_n, t)?;
                let (added, x_prime) = (pair.added.clone(), pair.x_prime.clone());
                (Some(pair), added, x_prime)
            }
            None => {
                let added = crate::mri::fourier::complexify(z);
                let x_prime = x
                    .iter()
                    .zip(z)
                    .map(|(&p, &q)| Complex32::new(p + q, 0.0))
                    .collect();
                (None, added, x_prime)
            }
        };
        let y = a.measure(x);
        let mut y_prime = vec![Complex32::default(); a.output_len()];
        a.apply(&x_prime, &mut y_prime);
        Ok(Self {
            side,
            x: x.to_vec(),
            z: z.to_vec(),
            pair,
            added,
            x_prime,
            y,
            y_prime,
            region,
            kernel_share,
            visible,
        })
    }

    /// `‖x − x′‖₂`.
    pub fn distance(&self) -> f64 {
        norm(&self.added)
    }

    /// `‖Ax − Ax′‖₂`.
    pub fn measurement_gap(&self) -> f64 {
        crate::mri::operator::distance(&self.y, &self.y_prime)
    }

    /// Reconstructs `Ax` and `Ax′` with `psi` and measures the result.
    pub fn measure(&self, psi: &dyn Reconstructor) -> Result<Measured> {
        let out = psi.reconstruct(&self.y)?;
        let out_prime = psi.reconstruct(&self.y_prime)?;
        self.measured(out, out_prime)
    }

    /// The measures of reconstructions computed already (the worker yields between them).
    pub fn measured(&self, out: Vec<Complex32>, out_prime: Vec<Complex32>) -> Result<Measured> {
        let recovery = recovery(
            &self.x,
            &self.added,
            (&out, &out_prime),
            self.region,
            self.side,
        )?;
        let bound = match &self.pair {
            Some(pair) => Some(BoundCheck::from_outputs(
                pair,
                (&self.y, &self.y_prime),
                (&out, &out_prime),
            )?),
            None => None,
        };
        let psnr =
            crate::mri::metrics::psnr(&magnitudes(&self.x_prime), &magnitudes(&out_prime), 1.0);
        Ok(Measured {
            out,
            out_prime,
            bound,
            recovery,
            psnr,
        })
    }

    /// `log(1 + |F x′|)` for display: mapped to [0, 1] from 10⁻⁵ of the largest magnitude to
    /// the largest, unsampled frequencies dimmed to a third, zero frequency at the centre.
    pub fn kspace_display(&self, a: &dyn Sampling) -> Vec<f32> {
        let grid = a.mask().grid();
        let scaled: Vec<f32> = crate::mri::fourier::log_display(&a.spectrum(&self.x_prime))
            .into_iter()
            .zip(grid)
            .map(|(v, &sampled)| if sampled { v } else { v / 3.0 })
            .collect();
        fftshift(&scaled, self.side)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mri::instability::ZeroFilling;
    use crate::mri::operator::SubsampledFourier;
    use crate::mri::phantom::shepp_logan;
    use crate::mri::sampling::{mask, Pattern};

    fn text(t: &str, size: usize) -> DetailSpec {
        DetailSpec {
            kind: DetailKind::Text,
            text: t.into(),
            row: 32,
            col: 32,
            size,
            intensity: 0.5,
        }
    }

    #[test]
    fn text_wraps_at_spaces_and_is_centred() {
        assert_eq!(
            wrap("can u  see it", 1, 64).unwrap(),
            vec!["CAN U SEE", "IT"]
        );
        assert_eq!(wrap("can u see it", 1, 128).unwrap(), vec!["CAN U SEE IT"]);
        assert!(wrap("   ", 1, 64).is_err());
        assert!(wrap("é", 1, 64).is_err());
        assert!(wrap("WIDEWORDWIDE", 1, 64).is_err());
        let pieces = text("can u see it", 1).pieces(64).unwrap();
        assert_eq!(pieces.len(), 2);
        // Two lines of 7 rows with a one-row gap, centred on row 32.
        match (&pieces[0], &pieces[1]) {
            (
                Detail::Text {
                    top: a, left: l0, ..
                },
                Detail::Text {
                    top: b, left: l1, ..
                },
            ) => {
                assert_eq!((*a, *b), (25, 33));
                assert_eq!(*l0, 32 - 53 / 2);
                assert_eq!(*l1, 32 - 11 / 2);
            }
            other => panic!("{other:?}"),
        }
        // Near the edge the text is shifted inwards, not cut.
        let mut edge = text("AI", 2);
        edge.col = 63;
        edge.row = 0;
        let z = edge.render(64).unwrap();
        assert!(z.iter().filter(|v| **v > 0.0).count() > 20);
        let mut big = text("ONE TWO SIX TEN", 4);
        big.row = 10;
        assert!(big.render(64).is_err(), "too many rows");
        assert!(DetailSpec {
            size: 0,
            ..text("A", 1)
        }
        .render(64)
        .is_err());
        assert!(DetailSpec {
            intensity: f32::NAN,
            ..text("A", 1)
        }
        .render(64)
        .is_err());
        assert!(DetailSpec {
            kind: DetailKind::Drawn,
            ..text("A", 1)
        }
        .render(64)
        .is_err());
        let lesion = DetailSpec {
            kind: DetailKind::Lesion,
            size: 3,
            ..text("", 1)
        };
        assert!(lesion.render(64).unwrap()[32 * 64 + 32] > 0.49);
        assert_eq!(DetailKind::from_name("lesion").unwrap(), DetailKind::Lesion);
        assert!(DetailKind::from_name("blob").is_err());
    }

    #[test]
    fn details_are_placed_on_the_64_grid_and_scaled_at_128() {
        // A text at 128² is the text at 64² magnified exactly: each pixel a 2 × 2 block.
        for spec in [text("can u see it", 1), text("AI", 2), {
            let mut edge = text("ZN", 3);
            (edge.row, edge.col) = (63, 0);
            edge
        }] {
            let small = spec.render(64).unwrap();
            let large = spec.render(128).unwrap();
            assert_eq!(rescale_drawing(&small, 64, 128).unwrap(), large, "{spec:?}");
            assert_eq!(rescale_drawing(&large, 128, 64).unwrap(), small);
        }
        // A lesion's centre, radius and soft edge are scaled: the kernel-trained networks' lesion
        // at either side.
        let lesion = DetailSpec {
            kind: DetailKind::Lesion,
            text: String::new(),
            row: 36,
            col: 32,
            size: 3,
            intensity: 0.6,
        };
        for n in [64, 128] {
            assert_eq!(
                lesion.pieces(n).unwrap(),
                vec![crate::mri::learned::kernel_training::shipped_detail(n)]
            );
        }
        // Its energy grows with the area, as in the field of view.
        let energy = |z: Vec<f32>| z.iter().map(|v| v * v).sum::<f32>();
        let ratio = energy(lesion.render(128).unwrap()) / energy(lesion.render(64).unwrap());
        assert!((ratio - 4.0).abs() < 0.3, "{ratio}");
        assert_eq!(grid_scale(128).unwrap(), 2);
        assert!(grid_scale(100).is_err() && grid_scale(0).is_err());
        assert!(text("AI", 1).render(96).is_err());
    }

    #[test]
    fn drawings_are_rescaled_between_sides() {
        let mut drawn = vec![0.0f32; 16];
        drawn[5] = 0.5;
        drawn[10] = -0.8;
        let up = rescale_drawing(&drawn, 4, 8).unwrap();
        assert_eq!(up.iter().filter(|v| **v == 0.5).count(), 4);
        assert_eq!(up[2 * 8 + 2], 0.5);
        assert_eq!(up[3 * 8 + 3], 0.5);
        assert_eq!(rescale_drawing(&up, 8, 4).unwrap(), drawn);
        // Halving keeps a one-pixel stroke at its intensity (the largest magnitude of a block).
        let mut thin = vec![0.0f32; 64];
        thin[9] = -0.7;
        let down = rescale_drawing(&thin, 8, 4).unwrap();
        assert_eq!(down[0], -0.7);
        assert_eq!(down.iter().filter(|v| **v != 0.0).count(), 1);
        assert_eq!(rescale_drawing(&drawn, 4, 4).unwrap(), drawn);
        assert!(rescale_drawing(&drawn, 4, 6).is_none());
        assert!(rescale_drawing(&drawn[1..], 4, 8).is_none());
    }

    #[test]
    fn regions_box_the_detail() {
        let z = text("AI", 2).render(64).unwrap();
        let r = Region::around(&z, 64, 2).unwrap();
        assert!(r.fits(64));
        let inside: f32 = r.crop(&z, 64).iter().sum();
        assert!((inside - z.iter().sum::<f32>()).abs() < 1e-4);
        // The box without margin is tight: "AI" at size 2 is 14 rows by 22 columns of glyph
        // cells, and the I's last font column is blank, so 20 columns of ink.
        let tight = Region::around(&z, 64, 0).unwrap();
        assert_eq!((tight.height, tight.width), (14, 20));
        assert_eq!(r.height, 18);
        let mut corner = vec![0.0; 64];
        corner[0] = 1.0;
        let c = Region::around(&corner, 8, 3).unwrap();
        assert_eq!((c.top, c.left, c.height, c.width), (0, 0, 4, 4));
        assert!(Region::around(&[0.0; 64], 8, 1).is_err());
        assert!(Region::around(&[f32::NAN; 64], 8, 1).is_err());
        assert!(Region::around(&[1.0; 10], 8, 1).is_err());
    }

    #[test]
    fn zero_filling_recovers_exactly_the_visible_fraction() {
        // c(A*) = Re⟨A*A z, z⟩/‖z‖² = ‖Az‖²/‖z‖².
        for (pattern, rate) in [(Pattern::Cartesian, 0.125), (Pattern::VariableDensity, 0.3)] {
            let n = 64;
            let a = SubsampledFourier::new(mask(pattern, n, rate, 1).unwrap()).unwrap();
            let x = shepp_logan(n);
            let z = text("AI", 2).render(n).unwrap();
            let x_prime: Vec<f32> = x.iter().zip(&z).map(|(p, q)| p + q).collect();
            let r = ZeroFilling(&a);
            let out = r.reconstruct(&a.measure(&x)).unwrap();
            let out_prime = r.reconstruct(&a.measure(&x_prime)).unwrap();
            let added = crate::mri::fourier::complexify(&z);
            let region = Region::around(&z, n, 2).unwrap();
            let got = recovery(&x, &added, (&out, &out_prime), region, n).unwrap();
            let visible = visible_fraction(&a, &z).unwrap();
            assert!(
                (got.recovered - visible).abs() < 1e-5,
                "{pattern:?}: {} vs {visible}",
                got.recovered
            );
            assert!(visible > 0.0 && visible < 1.0);
            // A perfect reconstruction: c = 1 and no error anywhere.
            let truth = crate::mri::fourier::complexify(&x);
            let truth_prime = crate::mri::fourier::complexify(&x_prime);
            let perfect = recovery(&x, &added, (&truth, &truth_prime), region, n).unwrap();
            assert!((perfect.recovered - 1.0).abs() < 1e-6);
            assert!(perfect.region_error < 1e-6 && perfect.error < 1e-6);
            // A method that ignores the detail: c = 0 and the region error is the detail's.
            let blind = recovery(&x, &added, (&truth, &truth), region, n).unwrap();
            assert!(blind.recovered.abs() < 1e-9);
            assert!((blind.region_error - 1.0).abs() < 1e-6);
            assert!(recovery(&x, &added, (&truth, &truth[1..]), region, n).is_err());
            assert!(recovery(
                &x,
                &vec![Complex32::default(); n * n],
                (&truth, &truth),
                region,
                n
            )
            .is_err());
        }
    }
}
