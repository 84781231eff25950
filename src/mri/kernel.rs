//! The troublesome kernel (Gottschling, Antun, Adcock & Hansen, "The troublesome kernel: on
//! hallucinations, no free lunches and the accuracy–stability trade-off in inverse problems",
//! SIAM Review 2025; arXiv:2001.01258): why a method that is too accurate must hallucinate.
//!
//! For `A = P_Ω F` (the unitary 2-D DFT `F` followed by keeping the sampled frequencies Ω), `A A* =
//! I` on the sampled set, so `A* A = F* P_Ωᵀ P_Ω F` is the orthogonal projection onto the row
//! space `N(A)^⊥`, and
//!
//! `z_N = z − A* A z = F* (I − P_Ωᵀ P_Ω) F z`
//!
//! is the exact orthogonal projection of a detail `z` onto the kernel `N(A)`: the detail with its
//! sampled frequencies removed. Adding it to an image changes nothing the scanner measures:
//! `x′ = x + t·z_N` has `A x′ = A x`. So any reconstruction `R` returns the same output `R(Ax)` for
//! both, and by the triangle inequality
//!
//! `‖R(Ax) − x‖₂ + ‖R(Ax′) − x′‖₂ ≥ ‖x − x′‖₂ = t‖z_N‖₂`:
//!
//! a method that is very accurate on `x′` must invent `t·z_N` in its reconstruction of `x` (a
//! hallucination), whatever it is: zero-filling, FIRENET or a trained network. [`Pair`] holds
//! `x` and `x′`; [`error_bound`] measures the two error terms of any
//! [`crate::mri::instability::Reconstructor`] against the bound.
//!
//! **Complex images.** `A` acts on complex images, and unless Ω is symmetric (`Ω = −Ω`, not so
//! for the lab's seeded masks) the kernel component of a *real* detail is complex-valued. The
//! detail added to `x` is `t·z_N` itself (so that `A x′ = A x` holds exactly), a complex image;
//! the page shows magnitudes ([`Pair::magnitude`]). (Projecting onto the real kernel instead,
//! i.e. removing `Ω ∪ −Ω`, would keep `x′` real at the price of removing more of the detail.)
//!
//! **Precision.** The projection is computed in f64 with its own FFT plans (the operator's
//! transform is f32): `z_N` is then in the kernel to ~1e-15 and the projection is idempotent to
//! that precision, so the f32 rounding of `A` is what the checks `‖A z_N‖ ≈ 0`,
//! `‖Ax − Ax′‖ ≈ 0` see.
//!
//! The details to project are deterministic: a soft-edged disk ("lesion", with a seeded random
//! placement), a rectangle, a line, and a short word in the lab's own 5 × 7 bitmap font.

use crate::mri::operator::{distance, Sampling};
use crate::mri::reconstructor::Reconstructor;
use crate::mri::sampling::Mask;
use crate::{Error, Result};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rustfft::num_complex::{Complex32, Complex64};
use rustfft::{Fft, FftPlanner};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// The orthogonal projections onto the kernel `N(A)` and the row space `N(A)^⊥` of
/// `A = P_Ω F`, in f64.
#[derive(Clone)]
pub struct KernelProjector {
    n: usize,
    /// In the transposed spectrum (entry `(v, u)` holds frequency `(u, v)`): whether the
    /// frequency is sampled.
    sampled_transposed: Vec<bool>,
    forward: Arc<dyn Fft<f64>>,
    inverse: Arc<dyn Fft<f64>>,
}

impl std::fmt::Debug for KernelProjector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "KernelProjector({0}×{0})", self.n)
    }
}

impl KernelProjector {
    /// The projections of `A = P_Ω F` for the mask `Ω`.
    pub fn from_mask(mask: &Mask) -> Result<Self> {
        let n = mask.side();
        if n == 0 {
            return Err(Error::Input("an image needs at least one pixel".into()));
        }
        let grid = mask.grid();
        let sampled_transposed = (0..n * n).map(|i| grid[(i % n) * n + i / n]).collect();
        let mut planner = FftPlanner::<f64>::new();
        Ok(Self {
            n,
            sampled_transposed,
            forward: planner.plan_fft_forward(n),
            inverse: planner.plan_fft_inverse(n),
        })
    }

    /// The projections of the operator `a`.
    pub fn new(a: &dyn Sampling) -> Result<Self> {
        Self::from_mask(a.mask())
    }

    /// The side `N`.
    pub fn side(&self) -> usize {
        self.n
    }

    /// `z_N = z − A*Az = F*(I − P_ΩᵀP_Ω)F z`: the kernel component.
    pub fn kernel(&self, z: &[Complex64]) -> Result<Vec<Complex64>> {
        self.project(z, false)
    }

    /// `A*A z = F*P_ΩᵀP_Ω F z = z − z_N`: the row-space component.
    pub fn row_space(&self, z: &[Complex64]) -> Result<Vec<Complex64>> {
        self.project(z, true)
    }

    /// Keeps the sampled frequencies (`keep_sampled`) or the others.
    fn project(&self, z: &[Complex64], keep_sampled: bool) -> Result<Vec<Complex64>> {
        let n = self.n;
        if z.len() != n * n {
            return Err(Error::Input(format!(
                "an image of {} pixels for a {n}×{n} operator",
                z.len()
            )));
        }
        if z.iter().any(|v| !(v.re.is_finite() && v.im.is_finite())) {
            return Err(Error::Input("the detail is not finite".into()));
        }
        let mut s = z.to_vec();
        let mut scratch = vec![
            Complex64::default();
            self.forward
                .get_inplace_scratch_len()
                .max(self.inverse.get_inplace_scratch_len())
        ];
        // Rows, transpose, rows: the unnormalised spectrum, transposed.
        self.forward.process_with_scratch(&mut s, &mut scratch);
        transpose(&mut s, n);
        self.forward.process_with_scratch(&mut s, &mut scratch);
        for (v, &sampled) in s.iter_mut().zip(&self.sampled_transposed) {
            if sampled != keep_sampled {
                *v = Complex64::default();
            }
        }
        // The adjoint, back to the image layout, with the unitary scale 1/N² of F*F.
        self.inverse.process_with_scratch(&mut s, &mut scratch);
        transpose(&mut s, n);
        self.inverse.process_with_scratch(&mut s, &mut scratch);
        let scale = 1.0 / (n * n) as f64;
        s.iter_mut().for_each(|v| *v *= scale);
        Ok(s)
    }
}

fn transpose(data: &mut [Complex64], n: usize) {
    for i in 0..n {
        for j in i + 1..n {
            data.swap(i * n + j, j * n + i);
        }
    }
}

/// `z_N = z − A*Az` of a real detail `z` (taken as a complex image), for `A = P_Ω F`. Complex in
/// general (see the module docs); f64 (see "Precision" there).
pub fn kernel_component(a: &dyn Sampling, z: &[f32]) -> Result<Vec<Complex64>> {
    KernelProjector::new(a)?.kernel(&widen_real(z))
}

/// A real image as f64 complex numbers.
pub fn widen_real(image: &[f32]) -> Vec<Complex64> {
    image
        .iter()
        .map(|&v| Complex64::new(v as f64, 0.0))
        .collect()
}

/// f64 complex numbers rounded to the operator's f32.
pub fn narrow(v: &[Complex64]) -> Vec<Complex32> {
    v.iter()
        .map(|c| Complex32::new(c.re as f32, c.im as f32))
        .collect()
}

/// `‖v‖₂` of an f64 complex vector.
pub fn norm64(v: &[Complex64]) -> f64 {
    v.iter().map(Complex64::norm_sqr).sum::<f64>().sqrt()
}

/// `‖a − b‖₂` of f64 complex vectors.
pub fn distance64(a: &[Complex64], b: &[Complex64]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(p, q)| (p - q).norm_sqr())
        .sum::<f64>()
        .sqrt()
}

/// A detail to project onto the kernel, drawn on an `N × N` canvas (zero elsewhere). Pixel
/// `(row, col)` has its centre at the coordinates `(row, col)`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Detail {
    /// A disk of `intensity` around `(row, col)`; its edge falls smoothly (smoothstep) from
    /// `intensity` to 0 between distances `radius − edge/2` and `radius + edge/2` (`edge = 0`:
    /// a hard edge, every pixel centre within `radius`).
    Lesion {
        row: f64,
        col: f64,
        radius: f64,
        intensity: f32,
        edge: f64,
    },
    /// An axis-aligned rectangle of pixels, clipped to the image.
    Rectangle {
        top: usize,
        left: usize,
        height: usize,
        width: usize,
        intensity: f32,
    },
    /// A segment from `from` to `to` (`[row, col]`) of the given width, with a one-pixel
    /// antialiased edge.
    Line {
        from: [f64; 2],
        to: [f64; 2],
        width: f64,
        intensity: f32,
    },
    /// A short word in the 5 × 7 font ([`glyph`]), each font pixel a `scale × scale` block,
    /// top-left corner at `(top, left)`; it must fit in the image.
    Text {
        text: String,
        top: usize,
        left: usize,
        scale: usize,
        intensity: f32,
    },
}

impl Detail {
    /// A lesion of the given radius and intensity (edge one pixel) at a seeded random place,
    /// entirely inside an `side × side` image.
    pub fn random_lesion(side: usize, radius: f64, intensity: f32, seed: u64) -> Result<Self> {
        let edge = 1.0;
        let margin = radius + edge;
        if !(radius.is_finite() && radius > 0.0) || 2.0 * margin >= side as f64 - 1.0 {
            return Err(Error::Input(format!(
                "a lesion of radius {radius} does not fit in a {side}×{side} image"
            )));
        }
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let hi = side as f64 - 1.0 - margin;
        Ok(Detail::Lesion {
            row: rng.random_range(margin..hi),
            col: rng.random_range(margin..hi),
            radius,
            intensity,
            edge,
        })
    }

    /// The detail on an `side × side` canvas; an error for invalid parameters or when nothing
    /// of it lies inside the image.
    pub fn render(&self, side: usize) -> Result<Vec<f32>> {
        if side == 0 {
            return Err(Error::Input("an image needs at least one pixel".into()));
        }
        let intensity = match self {
            Detail::Lesion { intensity, .. }
            | Detail::Rectangle { intensity, .. }
            | Detail::Line { intensity, .. }
            | Detail::Text { intensity, .. } => *intensity,
        };
        if !intensity.is_finite() || intensity == 0.0 {
            return Err(Error::Input(format!(
                "a detail needs a finite non-zero intensity, got {intensity}"
            )));
        }
        let mut out = vec![0.0f32; side * side];
        match self {
            Detail::Lesion {
                row,
                col,
                radius,
                edge,
                ..
            } => {
                if ![*row, *col, *radius, *edge].iter().all(|v| v.is_finite())
                    || *radius <= 0.0
                    || *edge < 0.0
                {
                    return Err(Error::Input(format!(
                        "a lesion needs a finite centre, a radius > 0 and an edge ≥ 0, got \
                         ({row}, {col}), {radius}, {edge}"
                    )));
                }
                for (i, v) in out.iter_mut().enumerate() {
                    let (y, x) = ((i / side) as f64, (i % side) as f64);
                    let d = ((y - row).powi(2) + (x - col).powi(2)).sqrt();
                    let s = if *edge == 0.0 {
                        f64::from(u8::from(d <= *radius))
                    } else {
                        let u = ((radius + edge / 2.0 - d) / edge).clamp(0.0, 1.0);
                        u * u * (3.0 - 2.0 * u)
                    };
                    *v = intensity * s as f32;
                }
            }
            Detail::Rectangle {
                top,
                left,
                height,
                width,
                ..
            } => {
                if *height == 0 || *width == 0 {
                    return Err(Error::Input("a rectangle needs a non-zero size".into()));
                }
                for y in *top..top.saturating_add(*height).min(side) {
                    for x in *left..left.saturating_add(*width).min(side) {
                        out[y * side + x] = intensity;
                    }
                }
            }
            Detail::Line {
                from, to, width, ..
            } => {
                let valid = from.iter().chain(to).all(|v| v.is_finite())
                    && width.is_finite()
                    && *width > 0.0;
                if !valid {
                    return Err(Error::Input(format!(
                        "a line needs finite end points and a width > 0, got {from:?}, {to:?}, \
                         {width}"
                    )));
                }
                let (dy, dx) = (to[0] - from[0], to[1] - from[1]);
                let len2 = dy * dy + dx * dx;
                for (i, v) in out.iter_mut().enumerate() {
                    let (y, x) = ((i / side) as f64, (i % side) as f64);
                    let s = if len2 > 0.0 {
                        (((y - from[0]) * dy + (x - from[1]) * dx) / len2).clamp(0.0, 1.0)
                    } else {
                        0.0
                    };
                    let d =
                        ((y - from[0] - s * dy).powi(2) + (x - from[1] - s * dx).powi(2)).sqrt();
                    *v = intensity * (width / 2.0 + 0.5 - d).clamp(0.0, 1.0) as f32;
                }
            }
            Detail::Text {
                text,
                top,
                left,
                scale,
                ..
            } => draw_text(&mut out, side, text, *top, *left, *scale, intensity)?,
        }
        if out.iter().all(|v| *v == 0.0) {
            return Err(Error::Input(
                "the detail has no pixel inside the image".into(),
            ));
        }
        Ok(out)
    }
}

/// Width and height of a glyph of the font, in font pixels.
pub const GLYPH_WIDTH: usize = 5;
/// See [`GLYPH_WIDTH`].
pub const GLYPH_HEIGHT: usize = 7;

/// The lab's own 5 × 7 bitmap font: `0`–`9`, `A`–`Z` (lower case drawn as upper case) and the
/// space; one byte a row, top row first, bit 4 the leftmost column.
///
/// The lab carries its own glyphs because the numeric core runs natively and in a Web Worker,
/// where there is no canvas text API, and the bundle loads nothing from elsewhere (no font file
/// is available offline); a fixed bitmap also makes the detail, hence `z_N` and every number
/// measured with it, identical on every machine. The shapes are the classic 5 × 7 dot-matrix
/// (character-LCD) forms.
pub fn glyph(c: char) -> Option<[u8; GLYPH_HEIGHT]> {
    Some(match c.to_ascii_uppercase() {
        ' ' => [0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00],
        '0' => [0x0E, 0x11, 0x13, 0x15, 0x19, 0x11, 0x0E],
        '1' => [0x04, 0x0C, 0x04, 0x04, 0x04, 0x04, 0x0E],
        '2' => [0x0E, 0x11, 0x01, 0x02, 0x04, 0x08, 0x1F],
        '3' => [0x1F, 0x02, 0x04, 0x02, 0x01, 0x11, 0x0E],
        '4' => [0x02, 0x06, 0x0A, 0x12, 0x1F, 0x02, 0x02],
        '5' => [0x1F, 0x10, 0x1E, 0x01, 0x01, 0x11, 0x0E],
        '6' => [0x06, 0x08, 0x10, 0x1E, 0x11, 0x11, 0x0E],
        '7' => [0x1F, 0x01, 0x02, 0x04, 0x08, 0x08, 0x08],
        '8' => [0x0E, 0x11, 0x11, 0x0E, 0x11, 0x11, 0x0E],
        '9' => [0x0E, 0x11, 0x11, 0x0F, 0x01, 0x02, 0x0C],
        'A' => [0x0E, 0x11, 0x11, 0x11, 0x1F, 0x11, 0x11],
        'B' => [0x1E, 0x11, 0x11, 0x1E, 0x11, 0x11, 0x1E],
        'C' => [0x0E, 0x11, 0x10, 0x10, 0x10, 0x11, 0x0E],
        'D' => [0x1C, 0x12, 0x11, 0x11, 0x11, 0x12, 0x1C],
        'E' => [0x1F, 0x10, 0x10, 0x1E, 0x10, 0x10, 0x1F],
        'F' => [0x1F, 0x10, 0x10, 0x1E, 0x10, 0x10, 0x10],
        'G' => [0x0E, 0x11, 0x10, 0x17, 0x11, 0x11, 0x0F],
        'H' => [0x11, 0x11, 0x11, 0x1F, 0x11, 0x11, 0x11],
        'I' => [0x0E, 0x04, 0x04, 0x04, 0x04, 0x04, 0x0E],
        'J' => [0x07, 0x02, 0x02, 0x02, 0x02, 0x12, 0x0C],
        'K' => [0x11, 0x12, 0x14, 0x18, 0x14, 0x12, 0x11],
        'L' => [0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x1F],
        'M' => [0x11, 0x1B, 0x15, 0x15, 0x11, 0x11, 0x11],
        'N' => [0x11, 0x11, 0x19, 0x15, 0x13, 0x11, 0x11],
        'O' => [0x0E, 0x11, 0x11, 0x11, 0x11, 0x11, 0x0E],
        'P' => [0x1E, 0x11, 0x11, 0x1E, 0x10, 0x10, 0x10],
        'Q' => [0x0E, 0x11, 0x11, 0x11, 0x15, 0x12, 0x0D],
        'R' => [0x1E, 0x11, 0x11, 0x1E, 0x14, 0x12, 0x11],
        'S' => [0x0F, 0x10, 0x10, 0x0E, 0x01, 0x01, 0x1E],
        'T' => [0x1F, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04],
        'U' => [0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x0E],
        'V' => [0x11, 0x11, 0x11, 0x11, 0x11, 0x0A, 0x04],
        'W' => [0x11, 0x11, 0x11, 0x15, 0x15, 0x15, 0x0A],
        'X' => [0x11, 0x11, 0x0A, 0x04, 0x0A, 0x11, 0x11],
        'Y' => [0x11, 0x11, 0x11, 0x0A, 0x04, 0x04, 0x04],
        'Z' => [0x1F, 0x01, 0x02, 0x04, 0x08, 0x10, 0x1F],
        _ => return None,
    })
}

/// Every character the font draws (upper case; lower case is drawn as upper case).
pub const CHARSET: &str = " 0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";

/// `(height, width)` in pixels of `text` at `scale`: glyphs `5·scale` wide, one font pixel
/// (`scale` pixels) apart.
pub fn text_extent(text: &str, scale: usize) -> (usize, usize) {
    let count = text.chars().count();
    let width = if count == 0 {
        0
    } else {
        (count * (GLYPH_WIDTH + 1) - 1) * scale
    };
    (GLYPH_HEIGHT * scale, width)
}

fn draw_text(
    out: &mut [f32],
    side: usize,
    text: &str,
    top: usize,
    left: usize,
    scale: usize,
    intensity: f32,
) -> Result<()> {
    if scale == 0 || text.is_empty() {
        return Err(Error::Input(
            "a text detail needs some text and a scale ≥ 1".into(),
        ));
    }
    let glyphs = text
        .chars()
        .map(|c| {
            glyph(c).ok_or_else(|| {
                Error::Input(format!(
                    "the 5×7 font has no '{c}' (it draws A–Z, 0–9 and the space)"
                ))
            })
        })
        .collect::<Result<Vec<_>>>()?;
    let (h, w) = text_extent(text, scale);
    if top + h > side || left + w > side {
        return Err(Error::Input(format!(
            "the text is {w}×{h} pixels at ({top}, {left}) and does not fit in a {side}×{side} \
             image"
        )));
    }
    for (k, rows) in glyphs.iter().enumerate() {
        let x0 = left + k * (GLYPH_WIDTH + 1) * scale;
        for (r, bits) in rows.iter().enumerate() {
            for c in 0..GLYPH_WIDTH {
                if bits >> (GLYPH_WIDTH - 1 - c) & 1 == 1 {
                    for dy in 0..scale {
                        for dx in 0..scale {
                            out[(top + r * scale + dy) * side + x0 + c * scale + dx] = intensity;
                        }
                    }
                }
            }
        }
    }
    Ok(())
}

/// An image `x` and `x′ = x + t·z_N`, which have the same measurements.
#[derive(Clone, Debug, PartialEq)]
pub struct Pair {
    /// `x`, real.
    pub x: Vec<f32>,
    /// The slider's `t`.
    pub t: f64,
    /// `z_N`, the kernel component of the detail (f64).
    pub z_n: Vec<Complex64>,
    /// `t·z_N`, what is added to `x` (complex; the page shows its magnitude).
    pub added: Vec<Complex32>,
    /// `x′ = x + t·z_N` (complex).
    pub x_prime: Vec<Complex32>,
}

impl Pair {
    /// `x` and `x + t·z_N` for the real detail `z`.
    pub fn new(a: &dyn Sampling, x: &[f32], z: &[f32], t: f64) -> Result<Self> {
        if z.len() != x.len() {
            return Err(Error::Input(format!(
                "an image of {} pixels and a detail of {}",
                x.len(),
                z.len()
            )));
        }
        Self::from_kernel_component(x, KernelProjector::new(a)?.kernel(&widen_real(z))?, t)
    }

    /// `x` and `x + t·z_N` for a kernel component computed already (e.g. with a reused
    /// [`KernelProjector`], or when only `t` changes).
    pub fn from_kernel_component(x: &[f32], z_n: Vec<Complex64>, t: f64) -> Result<Self> {
        if z_n.len() != x.len() {
            return Err(Error::Input(format!(
                "an image of {} pixels and a kernel component of {}",
                x.len(),
                z_n.len()
            )));
        }
        if !t.is_finite() || x.iter().any(|v| !v.is_finite()) {
            return Err(Error::Input("t and the image must be finite".into()));
        }
        let added: Vec<Complex32> = z_n
            .iter()
            .map(|v| {
                let s = v * t;
                Complex32::new(s.re as f32, s.im as f32)
            })
            .collect();
        let x_prime = x
            .iter()
            .zip(&added)
            .map(|(&p, q)| Complex32::new(p, 0.0) + q)
            .collect();
        Ok(Self {
            x: x.to_vec(),
            t,
            z_n,
            added,
            x_prime,
        })
    }

    /// `t‖z_N‖₂`, the bound (in f64, before rounding `x′` to f32).
    pub fn bound(&self) -> f64 {
        self.t.abs() * norm64(&self.z_n)
    }

    /// `‖x − x′‖₂` of the stored images (equals [`Pair::bound`] up to f32 rounding).
    pub fn distance(&self) -> f64 {
        self.x
            .iter()
            .zip(&self.x_prime)
            .map(|(&p, q)| (q.re as f64 - p as f64).powi(2) + (q.im as f64).powi(2))
            .sum::<f64>()
            .sqrt()
    }

    /// `(Ax, Ax′)`.
    pub fn measurements(&self, a: &dyn Sampling) -> Result<(Vec<Complex32>, Vec<Complex32>)> {
        if self.x.len() != a.input_len() {
            return Err(Error::Input(format!(
                "an image of {} pixels for an operator on {}",
                self.x.len(),
                a.input_len()
            )));
        }
        let mut y_prime = vec![Complex32::default(); a.output_len()];
        a.apply(&self.x_prime, &mut y_prime);
        Ok((a.measure(&self.x), y_prime))
    }

    /// `|x′|`, for display.
    pub fn magnitude(&self) -> Vec<f32> {
        self.x_prime.iter().map(|v| v.norm()).collect()
    }

    /// `|t·z_N|`, for display.
    pub fn added_magnitude(&self) -> Vec<f32> {
        self.added.iter().map(|v| v.norm()).collect()
    }
}

/// The two error terms of one reconstruction on a [`Pair`] against the bound.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct BoundCheck {
    /// `‖R(Ax) − x‖₂`.
    pub error_x: f64,
    /// `‖R(Ax′) − x′‖₂`.
    pub error_x_prime: f64,
    /// `t‖z_N‖₂`.
    pub bound: f64,
    /// `‖x − x′‖₂` of the stored (f32) images.
    pub distance: f64,
    /// `‖Ax − Ax′‖₂`: zero up to rounding.
    pub measurement_gap: f64,
    /// `‖Ax‖₂`, the scale of [`BoundCheck::measurement_gap`].
    pub measurement_norm: f64,
    /// `‖R(Ax) − R(Ax′)‖₂`: zero up to rounding, as the data are the same.
    pub output_gap: f64,
}

impl BoundCheck {
    /// `‖R(Ax) − x‖ + ‖R(Ax′) − x′‖`.
    pub fn sum(&self) -> f64 {
        self.error_x + self.error_x_prime
    }

    /// The triangle inequality on the stored values, `sum + output_gap ≥ ‖x − x′‖`, which
    /// holds whatever `R` is (up to f64 rounding of the norms).
    pub fn triangle_holds(&self) -> bool {
        self.sum() + self.output_gap >= self.distance * (1.0 - 1e-12)
    }
}

/// `‖R(Ax) − x‖`, `‖R(Ax′) − x′‖` and the bound `t‖z_N‖` for the reconstruction `psi` with
/// measurements `a`.
pub fn error_bound(a: &dyn Sampling, psi: &dyn Reconstructor, pair: &Pair) -> Result<BoundCheck> {
    let (y, y_prime) = pair.measurements(a)?;
    let (out, out_prime) = (psi.reconstruct(&y)?, psi.reconstruct(&y_prime)?);
    BoundCheck::from_outputs(pair, (&y, &y_prime), (&out, &out_prime))
}

impl BoundCheck {
    /// The check from reconstructions computed already: `data = (Ax, Ax′)` and
    /// `outputs = (R(Ax), R(Ax′))` (the worker times and yields between the two).
    pub fn from_outputs(
        pair: &Pair,
        data: (&[Complex32], &[Complex32]),
        outputs: (&[Complex32], &[Complex32]),
    ) -> Result<Self> {
        let (out, out_prime) = outputs;
        if out.len() != pair.x.len() || out_prime.len() != pair.x.len() {
            return Err(Error::Input(format!(
                "a reconstruction of {} pixels for an image of {}",
                out.len(),
                pair.x.len()
            )));
        }
        let x = crate::mri::fourier::complexify(&pair.x);
        Ok(BoundCheck {
            error_x: distance(out, &x),
            error_x_prime: distance(out_prime, &pair.x_prime),
            bound: pair.bound(),
            distance: pair.distance(),
            measurement_gap: distance(data.0, data.1),
            measurement_norm: crate::mri::operator::norm(data.0),
            output_gap: distance(out, out_prime),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mri::instability::ZeroFilling;
    use crate::mri::operator::norm;
    use crate::mri::operator::SubsampledFourier;
    use crate::mri::phantom::shepp_logan;
    use crate::mri::sampling::{mask, Pattern};

    fn operator(pattern: Pattern, n: usize, rate: f64) -> SubsampledFourier {
        SubsampledFourier::new(mask(pattern, n, rate, 3).unwrap()).unwrap()
    }

    fn lesion(n: usize) -> Detail {
        Detail::Lesion {
            row: n as f64 * 0.4,
            col: n as f64 * 0.6,
            radius: 3.0,
            intensity: 0.5,
            edge: 1.0,
        }
    }

    #[test]
    fn the_projection_matches_the_operator_and_is_idempotent() {
        let n = 32;
        let a = operator(Pattern::VariableDensity, n, 0.25);
        let z = lesion(n).render(n).unwrap();
        let p = KernelProjector::new(&a).unwrap();
        let z_n = p.kernel(&widen_real(&z)).unwrap();
        // z − A*Az with the crate's (f32) operator.
        let zf = a.zero_filled(&a.measure(&z));
        let direct: Vec<Complex64> = z
            .iter()
            .zip(&zf)
            .map(|(&v, w)| Complex64::new(v as f64 - w.re as f64, -w.im as f64))
            .collect();
        assert!(distance64(&z_n, &direct) <= 1e-6 * norm64(&widen_real(&z)));
        let again = p.kernel(&z_n).unwrap();
        assert!(distance64(&again, &z_n) <= 1e-12 * norm64(&z_n));
        assert!(norm64(&p.row_space(&z_n).unwrap()) <= 1e-12 * norm64(&z_n));
        // Kernel and row space are orthogonal and add up to z.
        let r = p.row_space(&widen_real(&z)).unwrap();
        let inner: f64 = r.iter().zip(&z_n).map(|(u, v)| (u * v.conj()).re).sum();
        assert!(inner.abs() <= 1e-12 * norm64(&r) * norm64(&z_n));
        let sum: Vec<Complex64> = r.iter().zip(&z_n).map(|(u, v)| u + v).collect();
        assert!(distance64(&sum, &widen_real(&z)) <= 1e-12 * norm64(&sum));
        assert!(p.kernel(&z_n[..5]).is_err());
        // With every frequency sampled the kernel is {0}.
        let full =
            KernelProjector::from_mask(&Mask::from_grid(8, vec![true; 64]).unwrap()).unwrap();
        let k = full.kernel(&widen_real(&[1.0; 64])).unwrap();
        assert!(norm64(&k) < 1e-12);
    }

    #[test]
    fn details_render_where_asked() {
        let n = 32;
        let disk = lesion(n).render(n).unwrap();
        assert!((disk[13 * n + 19] - 0.5).abs() < 1e-6, "the centre is full");
        assert_eq!(disk[0], 0.0);
        let total: f32 = disk.iter().sum();
        // Area π r² at the mean intensity, give or take the soft edge.
        let area = std::f32::consts::PI * 9.0 * 0.5;
        assert!((total - area).abs() < 0.15 * area, "{total} vs {area}");
        let rect = Detail::Rectangle {
            top: 30,
            left: 2,
            height: 5,
            width: 3,
            intensity: 1.0,
        }
        .render(n)
        .unwrap();
        assert_eq!(rect.iter().filter(|v| **v == 1.0).count(), 2 * 3, "clipped");
        let line = Detail::Line {
            from: [4.0, 4.0],
            to: [4.0, 20.0],
            width: 1.0,
            intensity: 1.0,
        }
        .render(n)
        .unwrap();
        assert_eq!(line[4 * n + 10], 1.0);
        assert_eq!(line[6 * n + 10], 0.0);
        assert_eq!(line.iter().filter(|v| **v > 0.0).count(), 17);
        let seeded = Detail::random_lesion(n, 3.0, 0.5, 7).unwrap();
        assert_eq!(seeded, Detail::random_lesion(n, 3.0, 0.5, 7).unwrap());
        assert_ne!(seeded, Detail::random_lesion(n, 3.0, 0.5, 8).unwrap());
        assert!(Detail::random_lesion(8, 4.0, 0.5, 1).is_err());
        // Errors: nothing inside, bad numbers, text that does not fit or is not in the font.
        let outside = Detail::Rectangle {
            top: 40,
            left: 0,
            height: 2,
            width: 2,
            intensity: 1.0,
        };
        assert!(outside.render(n).is_err());
        let text = |t: &str, scale| Detail::Text {
            text: t.into(),
            top: 1,
            left: 1,
            scale,
            intensity: 1.0,
        };
        assert!(text("HI", 2).render(n).is_ok());
        assert!(text("TOO LONG", 1).render(n).is_err());
        assert!(text("É", 1).render(n).is_err());
        assert!(text("AB", 0).render(n).is_err());
        assert!(Detail::Lesion {
            row: 1.0,
            col: 1.0,
            radius: f64::NAN,
            intensity: 1.0,
            edge: 0.0
        }
        .render(n)
        .is_err());
        assert_eq!(text_extent("AB", 2), (14, 22));
        // The JSON form the page will send.
        let json = serde_json::to_string(&text("HI", 2)).unwrap();
        assert!(json.contains("\"kind\":\"text\""), "{json}");
        assert_eq!(
            serde_json::from_str::<Detail>(&json).unwrap(),
            text("HI", 2)
        );
    }

    #[test]
    fn zero_filling_errors_are_the_kernel_components() {
        // R = A*: R(Ax) − x = −x_N and R(Ax′) − x′ = −(x_N + t z_N).
        let n = 32;
        let a = operator(Pattern::Cartesian, n, 0.25);
        let x = shepp_logan(n);
        let z = lesion(n).render(n).unwrap();
        let pair = Pair::new(&a, &x, &z, 2.0).unwrap();
        let check = error_bound(&a, &ZeroFilling(&a), &pair).unwrap();
        let p = KernelProjector::new(&a).unwrap();
        let x_n = p.kernel(&widen_real(&x)).unwrap();
        let both: Vec<Complex64> = x_n
            .iter()
            .zip(&pair.z_n)
            .map(|(u, v)| u + v * 2.0)
            .collect();
        let scale = norm64(&widen_real(&x));
        assert!((check.error_x - norm64(&x_n)).abs() <= 1e-5 * scale);
        assert!((check.error_x_prime - norm64(&both)).abs() <= 1e-5 * scale);
        assert!((check.bound - 2.0 * norm64(&pair.z_n)).abs() <= 1e-12);
        assert!((check.distance - check.bound).abs() <= 1e-6 * check.bound);
        assert!(check.measurement_gap <= 1e-6 * check.measurement_norm);
        assert!(check.output_gap <= 1e-6 * scale);
        assert!(check.triangle_holds() && check.sum() >= check.bound);
        assert!(norm(&pair.added) > 0.0);
        assert!(Pair::new(&a, &x, &z[..10], 1.0).is_err());
        assert!(Pair::new(&a, &x, &z, f64::INFINITY).is_err());
    }
}
