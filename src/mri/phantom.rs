//! Synthetic test images: the Shepp–Logan phantom and seeded random ellipses.
//!
//! An image is a sum of constant-intensity ellipses over the square [−1, 1]², sampled on an N×N
//! grid as the MATLAB function `phantom` does: pixel (row r, column c) sits at
//!
//! ```text
//! x = (c − (N−1)/2) / ((N−1)/2),   y = ((N−1)/2 − r) / ((N−1)/2)
//! ```
//!
//! (x to the right, y up, the outer pixel centres on ±1; for N = 1 the one pixel is at 0). A
//! pixel gets the intensity `A` of every ellipse whose interior (boundary included) holds its
//! centre,
//!
//! ```text
//! ((x−x₀)cos φ + (y−y₀)sin φ)² / a² + ((y−y₀)cos φ − (x−x₀)sin φ)² / b² ≤ 1,
//! ```
//!
//! and the sum is clipped to [0, 1]. The result is a row-major `Vec<f32>`, index `r·N + c`.
//!
//! # Shepp–Logan
//!
//! [`shepp_logan`] is the *modified* Shepp–Logan phantom of Toft, the high-contrast version used in
//! MRI demonstrations (MATLAB's `phantom('Modified Shepp-Logan')`): the ellipses of Shepp and
//! Logan with intensities rescaled so that the skull is 1, the brain 0.2 and the ventricles 0.
//! Values: 0 (background, ventricles), 0.1–0.4 (brain and its small features), 1 (skull).
//!
//! | # | A    | a      | b      | x₀    | y₀      | φ (°) |
//! |---|------|--------|--------|-------|---------|-------|
//! | 1 | 1.0  | 0.69   | 0.92   | 0     | 0       | 0     |
//! | 2 | −0.8 | 0.6624 | 0.8740 | 0     | −0.0184 | 0     |
//! | 3 | −0.2 | 0.1100 | 0.3100 | 0.22  | 0       | −18   |
//! | 4 | −0.2 | 0.1600 | 0.4100 | −0.22 | 0       | 18    |
//! | 5 | 0.1  | 0.2100 | 0.2500 | 0     | 0.35    | 0     |
//! | 6 | 0.1  | 0.0460 | 0.0460 | 0     | 0.1     | 0     |
//! | 7 | 0.1  | 0.0460 | 0.0460 | 0     | −0.1    | 0     |
//! | 8 | 0.1  | 0.0460 | 0.0230 | −0.08 | −0.605  | 0     |
//! | 9 | 0.1  | 0.0230 | 0.0230 | 0     | −0.606  | 0     |
//! | 10| 0.1  | 0.0230 | 0.0460 | 0.06  | −0.605  | 0     |
//!
//! The original phantom has intensities 2, −0.98, −0.02, −0.02 and 0.01 for the rest (contrast of
//! CT attenuation), too low for the eye. Above y = 0.45 only ellipses 1, 2 and 5 reach, all
//! centred on x = 0, so the upper part of the image is left-right symmetric; ellipses 3/4 and
//! 8/10 break the symmetry below.
//!
//! References: L. A. Shepp and B. F. Logan, "The Fourier reconstruction of a head section",
//! IEEE Transactions on Nuclear Science 21(3), 21–43, 1974. P. Toft, "The Radon Transform:
//! Theory and Implementation", PhD thesis, Technical University of Denmark, 1996.
//!
//! # Random ellipses
//!
//! [`random_ellipses`] draws, from `ChaCha8Rng::seed_from_u64(seed)`, between 5 and 12 ellipses
//! ([`random_ellipse_set`]): centre uniform in the disc of radius 0.6, semi-axes uniform in
//! [0.05, 0.35] (shrunk when needed so that the ellipse stays inside the disc of radius 0.9),
//! angle uniform in [0°, 180°), intensity uniform in [0.1, 0.6]; the sum is clipped to [0, 1].
//! Such images are the usual synthetic training data of learned reconstruction.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// One ellipse of a phantom (coordinates as in the module docs).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Ellipse {
    /// Intensity added inside the ellipse.
    pub intensity: f64,
    /// Semi-axis along the ellipse's own x direction (before rotation).
    pub a: f64,
    /// Semi-axis along the ellipse's own y direction.
    pub b: f64,
    /// Centre, x.
    pub x0: f64,
    /// Centre, y (up).
    pub y0: f64,
    /// Rotation, degrees, anticlockwise.
    pub phi: f64,
}

impl Ellipse {
    const fn new(intensity: f64, a: f64, b: f64, x0: f64, y0: f64, phi: f64) -> Self {
        Self {
            intensity,
            a,
            b,
            x0,
            y0,
            phi,
        }
    }

    /// Whether the point (x, y) lies inside the ellipse or on its boundary.
    pub fn contains(&self, x: f64, y: f64) -> bool {
        let (s, c) = self.phi.to_radians().sin_cos();
        let (dx, dy) = (x - self.x0, y - self.y0);
        let u = dx * c + dy * s;
        let v = dy * c - dx * s;
        (u * u) / (self.a * self.a) + (v * v) / (self.b * self.b) <= 1.0
    }
}

/// The ellipses of Toft's modified Shepp–Logan phantom (table in the module docs).
pub const SHEPP_LOGAN_TOFT: [Ellipse; 10] = [
    Ellipse::new(1.0, 0.69, 0.92, 0.0, 0.0, 0.0),
    Ellipse::new(-0.8, 0.6624, 0.8740, 0.0, -0.0184, 0.0),
    Ellipse::new(-0.2, 0.1100, 0.3100, 0.22, 0.0, -18.0),
    Ellipse::new(-0.2, 0.1600, 0.4100, -0.22, 0.0, 18.0),
    Ellipse::new(0.1, 0.2100, 0.2500, 0.0, 0.35, 0.0),
    Ellipse::new(0.1, 0.0460, 0.0460, 0.0, 0.1, 0.0),
    Ellipse::new(0.1, 0.0460, 0.0460, 0.0, -0.1, 0.0),
    Ellipse::new(0.1, 0.0460, 0.0230, -0.08, -0.605, 0.0),
    Ellipse::new(0.1, 0.0230, 0.0230, 0.0, -0.606, 0.0),
    Ellipse::new(0.1, 0.0230, 0.0460, 0.06, -0.605, 0.0),
];

/// The grid coordinate of pixel `i` of `n` (x of a column; y of a row is its negative).
fn coordinate(i: usize, n: usize) -> f64 {
    if n <= 1 {
        return 0.0;
    }
    let h = (n - 1) as f64 / 2.0;
    (i as f64 - h) / h
}

/// Samples the sum of `ellipses` on the `n`×`n` grid and clips it to [0, 1].
pub fn render(ellipses: &[Ellipse], n: usize) -> Vec<f32> {
    let mut out = Vec::with_capacity(n * n);
    for r in 0..n {
        let y = -coordinate(r, n);
        for c in 0..n {
            let x = coordinate(c, n);
            let v: f64 = ellipses
                .iter()
                .filter(|e| e.contains(x, y))
                .map(|e| e.intensity)
                .sum();
            out.push(v.clamp(0.0, 1.0) as f32);
        }
    }
    out
}

/// Toft's modified Shepp–Logan phantom, `n`×`n`, in [0, 1].
pub fn shepp_logan(n: usize) -> Vec<f32> {
    render(&SHEPP_LOGAN_TOFT, n)
}

/// The 5 to 12 random ellipses of `seed` (distribution in the module docs).
pub fn random_ellipse_set(seed: u64) -> Vec<Ellipse> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let count = rng.random_range(5..=12usize);
    (0..count)
        .map(|_| {
            // Uniform in the disc of radius 0.6, by rejection from the square.
            let (x0, y0) = loop {
                let x: f64 = rng.random_range(-0.6..0.6);
                let y: f64 = rng.random_range(-0.6..0.6);
                if x * x + y * y <= 0.36 {
                    break (x, y);
                }
            };
            let mut a: f64 = rng.random_range(0.05..0.35);
            let mut b: f64 = rng.random_range(0.05..0.35);
            let room = 0.9 - (x0 * x0 + y0 * y0).sqrt();
            let longest = a.max(b);
            if longest > room {
                a *= room / longest;
                b *= room / longest;
            }
            let phi = rng.random_range(0.0..180.0);
            let intensity = rng.random_range(0.1..0.6);
            Ellipse {
                intensity,
                a,
                b,
                x0,
                y0,
                phi,
            }
        })
        .collect()
}

/// An `n`×`n` image of the random ellipses of `seed`, in [0, 1]: the same seed gives the same
/// ellipses at every size.
pub fn random_ellipses(n: usize, seed: u64) -> Vec<f32> {
    render(&random_ellipse_set(seed), n)
}

/// An image exactly sparse in the wavelet basis `w`: every scaling coefficient and every other
/// coefficient of the two coarsest detail levels drawn from `U(−1, 1)` (seeded), the rest zero;
/// `x = W⁻¹z`. The test image of FIRENET's exact-recovery property.
pub fn wavelet_sparse(w: &crate::mri::wavelet::Wavelet2, seed: u64) -> Vec<f32> {
    let n = w.n();
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut z = vec![0.0f32; n * n];
    let candidates = (0..n * n).filter(|&i| w.level_of(i) <= 2);
    for (k, i) in candidates.enumerate() {
        if w.level_of(i) == 0 || k % 2 == 0 {
            z[i] = rng.random_range(-1.0..1.0);
        }
    }
    let mut x = vec![0.0f32; n * n];
    w.inverse(&z, &mut x);
    x
}

#[cfg(test)]
mod tests {
    use super::*;

    fn in_unit_interval(img: &[f32]) -> bool {
        img.iter().all(|v| (0.0..=1.0).contains(v))
    }

    #[test]
    fn sizes_and_range() {
        for n in [0, 1, 2, 3, 16, 63, 64, 127, 128] {
            let s = shepp_logan(n);
            assert_eq!(s.len(), n * n);
            assert!(in_unit_interval(&s));
            let r = random_ellipses(n, 7);
            assert_eq!(r.len(), n * n);
            assert!(in_unit_interval(&r));
        }
    }

    #[test]
    fn shepp_logan_known_values() {
        let n = 129; // odd: the centre pixel sits at (0, 0)
        let s = shepp_logan(n);
        let at = |r: usize, c: usize| s[r * n + c] as f64;
        let c = n / 2;
        assert!((at(c, c) - 0.2).abs() < 1e-6, "brain at the centre");
        assert_eq!(at(0, 0), 0.0, "background in the corner");
        // (0, 0.9) lies in the skull: row (1 − 0.9)·64 = 6.4 → row 6 is y = 0.906.
        assert_eq!(at(6, c), 1.0, "skull at the top");
        // The right ventricle (x = 0.22, y = 0): 1 − 0.8 − 0.2 = 0.
        let col = (c as f64 + 0.22 * c as f64).round() as usize;
        assert!(at(c, col).abs() < 1e-6, "ventricle");
        // Only the intensity levels the table allows.
        for v in &s {
            let v = *v as f64;
            assert!(
                [0.0, 0.1, 0.2, 0.3, 0.4, 1.0]
                    .iter()
                    .any(|l| (v - l).abs() < 1e-6),
                "unexpected level {v}"
            );
        }
    }

    #[test]
    fn shepp_logan_symmetries() {
        for n in [64, 65, 128, 255] {
            let s = shepp_logan(n);
            for r in 0..n {
                let y = -coordinate(r, n);
                for c in 0..n {
                    let (v, mirror) = (s[r * n + c], s[r * n + n - 1 - c]);
                    // Above y = 0.45 the image is exactly left-right symmetric.
                    if y > 0.45 {
                        assert_eq!(v, mirror, "n = {n}, row {r}, column {c}");
                    }
                    // Everything outside the skull ellipse is background, and the skull is
                    // symmetric as a set.
                    let x = coordinate(c, n);
                    if !SHEPP_LOGAN_TOFT[0].contains(x, y) {
                        assert_eq!(v, 0.0);
                        assert_eq!(mirror, 0.0);
                    }
                }
            }
            // The lower half is not symmetric (ellipses 3/4 and 8/10 differ).
            let mirrored: Vec<f32> = (0..n * n).map(|k| s[(k / n) * n + n - 1 - k % n]).collect();
            assert_ne!(s, mirrored);
        }
    }

    #[test]
    fn random_ellipses_are_seeded() {
        assert_eq!(random_ellipses(64, 3), random_ellipses(64, 3));
        assert_ne!(random_ellipses(64, 3), random_ellipses(64, 4));
        for seed in 0..200 {
            let set = random_ellipse_set(seed);
            assert!((5..=12).contains(&set.len()));
            for e in &set {
                assert!((0.1..0.6).contains(&e.intensity));
                assert!(e.a > 0.0 && e.b > 0.0 && e.a.max(e.b) < 0.35);
                let r = (e.x0 * e.x0 + e.y0 * e.y0).sqrt();
                assert!(r <= 0.6 && r + e.a.max(e.b) <= 0.9 + 1e-12);
            }
            // Nothing outside the disc of radius 0.9, and something inside.
            let n = 33;
            let img = random_ellipses(n, seed);
            for r in 0..n {
                for c in 0..n {
                    let (x, y) = (coordinate(c, n), -coordinate(r, n));
                    if x * x + y * y > 0.81 + 1e-9 {
                        assert_eq!(img[r * n + c], 0.0);
                    }
                }
            }
            assert!(img.iter().any(|&v| v > 0.0));
        }
    }
}
