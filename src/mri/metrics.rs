//! Image quality measures shown beside reconstructions: PSNR, relative ℓ² error and SSIM.
//!
//! Images are row-major `f32` slices (see the crate's conventions); all sums are taken in `f64`.
//! The functions take the reference (ground truth) first and the estimate second. Mismatched
//! sizes are programming errors and panic; non-finite values propagate (the result is NaN).

/// Side of the SSIM window: 11 (the Gaussian is truncated at radius 5 ≈ 3.5 σ).
pub const SSIM_WINDOW: usize = 11;
/// Standard deviation of the SSIM Gaussian window, in pixels.
pub const SSIM_SIGMA: f64 = 1.5;
/// SSIM stabilising constant `K1` (`C1 = (K1·L)²`).
pub const SSIM_K1: f64 = 0.01;
/// SSIM stabilising constant `K2` (`C2 = (K2·L)²`).
pub const SSIM_K2: f64 = 0.03;

const RADIUS: usize = SSIM_WINDOW / 2;

/// Mean squared error `(1/n) Σ (x̂ᵢ − xᵢ)²`.
fn mse(reference: &[f32], estimate: &[f32]) -> f64 {
    assert_eq!(
        reference.len(),
        estimate.len(),
        "reference and estimate must have the same number of pixels"
    );
    assert!(!reference.is_empty(), "images must not be empty");
    let sum: f64 = reference
        .iter()
        .zip(estimate)
        .map(|(&x, &e)| (f64::from(e) - f64::from(x)).powi(2))
        .sum();
    sum / reference.len() as f64
}

/// Peak signal-to-noise ratio in decibels: `PSNR = 20 log₁₀(peak / RMSE)`, with
/// `RMSE = √((1/n) Σ (x̂ᵢ − xᵢ)²)` and `peak` the largest possible intensity (1 for images in
/// [0, 1]).
///
/// Identical images have RMSE = 0 and return `f64::INFINITY` (show it as "∞ dB").
///
/// # Panics
/// If the images differ in length or are empty, or `peak` is not positive.
pub fn psnr(reference: &[f32], estimate: &[f32], peak: f64) -> f64 {
    assert!(peak > 0.0, "the PSNR peak must be positive");
    let mse = mse(reference, estimate);
    if mse == 0.0 {
        return f64::INFINITY;
    }
    10.0 * (peak * peak / mse).log10()
}

/// Relative ℓ² error `‖x̂ − x‖₂ / ‖x‖₂` of the estimate `x̂` against the reference `x`.
///
/// A zero reference has no scale: the error is then 0 if the estimate is zero too, and
/// `f64::INFINITY` otherwise.
///
/// # Panics
/// If the images differ in length.
pub fn relative_error(reference: &[f32], estimate: &[f32]) -> f64 {
    assert_eq!(
        reference.len(),
        estimate.len(),
        "reference and estimate must have the same number of pixels"
    );
    let (mut diff, mut norm) = (0.0f64, 0.0f64);
    for (&x, &e) in reference.iter().zip(estimate) {
        let (x, e) = (f64::from(x), f64::from(e));
        diff += (e - x) * (e - x);
        norm += x * x;
    }
    if norm == 0.0 {
        return if diff == 0.0 { 0.0 } else { f64::INFINITY };
    }
    (diff / norm).sqrt()
}

/// The normalised 1-D Gaussian taps `g[k] ∝ exp(−(k − 5)²/(2σ²))`, `k = 0 … 10`, `Σ g = 1`.
pub fn ssim_gaussian() -> [f64; SSIM_WINDOW] {
    let mut g = [0.0; SSIM_WINDOW];
    for (k, v) in g.iter_mut().enumerate() {
        let d = k as f64 - RADIUS as f64;
        *v = (-d * d / (2.0 * SSIM_SIGMA * SSIM_SIGMA)).exp();
    }
    let sum: f64 = g.iter().sum();
    g.iter_mut().for_each(|v| *v /= sum);
    g
}

/// Mean structural similarity (SSIM) of two `n × n` images (Wang, Bovik, Sheikh, Simoncelli,
/// "Image quality assessment: from error visibility to structural similarity", IEEE TIP 13(4),
/// 2004), in the convention of scikit-image's
/// `structural_similarity(x, y, data_range=L, gaussian_weights=True, sigma=1.5,
/// use_sample_covariance=False)`:
///
/// - local statistics with the 11 × 11 Gaussian window `w = g gᵀ` of [`ssim_gaussian`]
///   (σ = 1.5, truncated at radius 5, normalised to sum 1):
///   `μx = w∗x`, `μy = w∗y`, `σx² = w∗x² − μx²`, `σy² = w∗y² − μy²`, `σxy = w∗(xy) − μx μy`
///   (population, not sample, covariances);
/// - `SSIM(p) = (2 μx μy + C1)(2 σxy + C2) / ((μx² + μy² + C1)(σx² + σy² + C2))` with
///   `C1 = (K1 L)²`, `C2 = (K2 L)²`, `K1 = 0.01`, `K2 = 0.03`, `L = data_range` (1 for images in
///   [0, 1]);
/// - the mean of `SSIM(p)` over the valid window positions only, i.e. the `(n − 10)²` centres at
///   least 5 pixels from every border (scikit-image crops the same border, so padding never enters).
///
/// The filtering is separable (rows, then columns) and done in `f64`. The measure is symmetric in
/// its two images, equals 1 for identical images and lies in [−1, 1].
///
/// # Panics
/// If either image does not hold `n²` values, `n < 11`, or `data_range` is not positive.
pub fn ssim(reference: &[f32], estimate: &[f32], n: usize, data_range: f64) -> f64 {
    assert!(
        n >= SSIM_WINDOW,
        "SSIM needs images of at least {SSIM_WINDOW}×{SSIM_WINDOW}"
    );
    assert!(
        reference.len() == n * n && estimate.len() == n * n,
        "SSIM images must hold n² values"
    );
    assert!(data_range > 0.0, "the SSIM data range must be positive");
    let g = ssim_gaussian();
    let c1 = (SSIM_K1 * data_range).powi(2);
    let c2 = (SSIM_K2 * data_range).powi(2);
    let m = n - 2 * RADIUS; // valid positions per row and column

    // Horizontal pass: for every row y and valid column cx, the five filtered moments
    // [x, y, x², y², xy] over the window's row segment.
    let mut rows = vec![[0.0f64; 5]; n * m];
    for y in 0..n {
        let xr = &reference[y * n..(y + 1) * n];
        let yr = &estimate[y * n..(y + 1) * n];
        for cx in 0..m {
            let mut acc = [0.0f64; 5];
            for (k, &gk) in g.iter().enumerate() {
                let a = f64::from(xr[cx + k]);
                let b = f64::from(yr[cx + k]);
                acc[0] += gk * a;
                acc[1] += gk * b;
                acc[2] += gk * a * a;
                acc[3] += gk * b * b;
                acc[4] += gk * a * b;
            }
            rows[y * m + cx] = acc;
        }
    }

    // Vertical pass and the SSIM map, summed.
    let mut total = 0.0;
    for cy in 0..m {
        for cx in 0..m {
            let mut s = [0.0f64; 5];
            for (k, &gk) in g.iter().enumerate() {
                let r = &rows[(cy + k) * m + cx];
                for (sj, rj) in s.iter_mut().zip(r) {
                    *sj += gk * rj;
                }
            }
            let [mx, my, mxx, myy, mxy] = s;
            let vx = mxx - mx * mx;
            let vy = myy - my * my;
            let vxy = mxy - mx * my;
            total += ((2.0 * mx * my + c1) * (2.0 * vxy + c2))
                / ((mx * mx + my * my + c1) * (vx + vy + c2));
        }
    }
    total / (m * m) as f64
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;
    use rand_distr::{Distribution, Normal, Uniform};

    /// A structured test image in [0, 1]: a gradient with a bright square and a dark disc.
    fn phantom(n: usize) -> Vec<f32> {
        let mut img = vec![0.0f32; n * n];
        for y in 0..n {
            for x in 0..n {
                let mut v = 0.2 + 0.4 * x as f32 / n as f32;
                if (n / 4..n / 2).contains(&x) && (n / 4..n / 2).contains(&y) {
                    v = 0.9;
                }
                let (dx, dy) = (x as f32 - 0.7 * n as f32, y as f32 - 0.65 * n as f32);
                if dx * dx + dy * dy < (0.15 * n as f32).powi(2) {
                    v = 0.05;
                }
                img[y * n + x] = v;
            }
        }
        img
    }

    fn noisy(img: &[f32], sigma: f32, seed: u64) -> Vec<f32> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let normal = Normal::new(0.0f32, sigma).unwrap();
        img.iter().map(|&v| v + normal.sample(&mut rng)).collect()
    }

    /// SSIM straight from the definition: a full 11 × 11 window per position, in f64.
    fn naive_ssim(x: &[f32], y: &[f32], n: usize, l: f64) -> f64 {
        let g = ssim_gaussian();
        let (c1, c2) = ((0.01 * l).powi(2), (0.03 * l).powi(2));
        let mut total = 0.0;
        let mut count = 0;
        for cy in RADIUS..n - RADIUS {
            for cx in RADIUS..n - RADIUS {
                let (mut mx, mut my, mut mxx, mut myy, mut mxy) = (0.0, 0.0, 0.0, 0.0, 0.0);
                for i in 0..SSIM_WINDOW {
                    for j in 0..SSIM_WINDOW {
                        let w = g[i] * g[j];
                        let p = (cy + i - RADIUS) * n + cx + j - RADIUS;
                        let (a, b) = (f64::from(x[p]), f64::from(y[p]));
                        mx += w * a;
                        my += w * b;
                        mxx += w * a * a;
                        myy += w * b * b;
                        mxy += w * a * b;
                    }
                }
                let (vx, vy, vxy) = (mxx - mx * mx, myy - my * my, mxy - mx * my);
                total += ((2.0 * mx * my + c1) * (2.0 * vxy + c2))
                    / ((mx * mx + my * my + c1) * (vx + vy + c2));
                count += 1;
            }
        }
        total / count as f64
    }

    #[test]
    fn identical_images_give_infinite_psnr_zero_error_and_unit_ssim() {
        let img = phantom(64);
        assert_eq!(psnr(&img, &img, 1.0), f64::INFINITY);
        assert_eq!(relative_error(&img, &img), 0.0);
        assert!((ssim(&img, &img, 64, 1.0) - 1.0).abs() < 1e-12);
    }

    #[test]
    fn psnr_of_a_constant_offset_is_known() {
        // RMSE = 0.25 exactly, so PSNR = 20 log10(4) dB; with peak 2, 20 log10(8).
        let x = vec![0.25f32; 100];
        let e = vec![0.5f32; 100];
        assert!((psnr(&x, &e, 1.0) - 20.0 * 4f64.log10()).abs() < 1e-12);
        assert!((psnr(&x, &e, 2.0) - 20.0 * 8f64.log10()).abs() < 1e-12);
        // A mixed error: squares 0.01 and 0.09 average to 0.05.
        let e2 = [0.35f32, 0.55].repeat(50);
        let expected = 10.0 * (1.0 / 0.05f64).log10();
        assert!((psnr(&x, &e2, 1.0) - expected).abs() < 1e-5);
    }

    #[test]
    fn relative_error_matches_its_definition() {
        let x = [3.0f32, 4.0];
        let e = [3.0f32, 5.0];
        assert!((relative_error(&x, &e) - 0.2).abs() < 1e-12);
        assert!((relative_error(&x, &[0.0, 0.0]) - 1.0).abs() < 1e-12);
        assert_eq!(relative_error(&[0.0, 0.0], &[0.0, 0.0]), 0.0);
        assert_eq!(relative_error(&[0.0, 0.0], &[0.0, 1.0]), f64::INFINITY);
    }

    #[test]
    fn gaussian_window_is_normalised_and_symmetric() {
        let g = ssim_gaussian();
        assert!((g.iter().sum::<f64>() - 1.0).abs() < 1e-15);
        for k in 0..SSIM_WINDOW {
            assert_eq!(g[k], g[SSIM_WINDOW - 1 - k]);
        }
        assert!((g[RADIUS + 1] / g[RADIUS] - (-1.0f64 / 4.5).exp()).abs() < 1e-15);
    }

    #[test]
    fn ssim_of_constant_images_matches_the_hand_value() {
        // All variances vanish, so SSIM = (2ab + C1)/(a² + b² + C1) = 0.2501/0.3126.
        let (a, b) = (0.5f32, 0.25f32);
        let s = ssim(&[a; 16 * 16], &[b; 16 * 16], 16, 1.0);
        assert!((s - 0.2501 / 0.3126).abs() < 1e-12, "{s}");
    }

    #[test]
    fn ssim_agrees_with_a_naive_implementation() {
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let u = Uniform::new(0.0f32, 1.0).unwrap();
        for (n, l) in [(11, 1.0), (17, 1.0), (24, 2.0)] {
            let x: Vec<f32> = (0..n * n).map(|_| u.sample(&mut rng)).collect();
            let y: Vec<f32> = x
                .iter()
                .map(|&v| 0.7 * v + 0.3 * u.sample(&mut rng))
                .collect();
            let fast = ssim(&x, &y, n, l);
            let slow = naive_ssim(&x, &y, n, l);
            assert!((fast - slow).abs() < 1e-9, "n = {n}: {fast} vs {slow}");
        }
        let x = phantom(40);
        let y = noisy(&x, 0.1, 3);
        assert!((ssim(&x, &y, 40, 1.0) - naive_ssim(&x, &y, 40, 1.0)).abs() < 1e-9);
    }

    #[test]
    fn ssim_is_symmetric() {
        let x = phantom(48);
        let y = noisy(&x, 0.07, 11);
        let (a, b) = (ssim(&x, &y, 48, 1.0), ssim(&y, &x, 48, 1.0));
        assert!((a - b).abs() < 1e-12, "{a} vs {b}");
        assert_eq!(psnr(&x, &y, 1.0), psnr(&y, &x, 1.0));
    }

    #[test]
    fn ssim_and_psnr_decrease_with_noise() {
        let n = 64;
        let x = phantom(n);
        let mut last_ssim = 1.0;
        let mut last_psnr = f64::INFINITY;
        for sigma in [0.02, 0.05, 0.1, 0.2] {
            let y = noisy(&x, sigma, 5);
            let (s, p) = (ssim(&x, &y, n, 1.0), psnr(&x, &y, 1.0));
            assert!(s < last_ssim && s > -1.0, "σ = {sigma}: SSIM {s}");
            assert!(p < last_psnr, "σ = {sigma}: PSNR {p}");
            // PSNR of Gaussian noise is about −20 log10 σ.
            assert!(
                (p + 20.0 * f64::from(sigma).log10()).abs() < 0.3,
                "σ = {sigma}: {p}"
            );
            (last_ssim, last_psnr) = (s, p);
        }
        assert!(last_ssim < 0.5);
    }

    #[test]
    fn ssim_of_256_by_256_runs_and_prints_its_time() {
        let n = 256;
        let x = phantom(n);
        let y = noisy(&x, 0.05, 1);
        let start = std::time::Instant::now();
        let s = ssim(&x, &y, n, 1.0);
        let elapsed = start.elapsed();
        eprintln!("ssim 256×256: {s:.4} in {elapsed:?}");
        assert!(s > 0.0 && s < 1.0);
    }

    #[test]
    #[should_panic(expected = "n² values")]
    fn ssim_rejects_wrong_sizes() {
        ssim(&[0.0; 100], &[0.0; 121], 11, 1.0);
    }
}
