//! Turning a user's drawing into an MNIST-like digit.
//!
//! MNIST digits were size-normalised to fit a 20×20 box (aspect ratio kept) and then centred by
//! their centre of mass in a 28×28 frame (LeCun et al.). A drawing made on a larger canvas gets
//! the same treatment, so the models see what they were trained on: crop to the ink's bounding
//! box, resample so the longer side is 20 pixels, shift the centre of mass to (14, 14).

use crate::classification::mnist::{PIXELS, SIDE};

/// Side of the drawing pad's ink buffer (4× MNIST).
pub const INK_SIDE: usize = 112;

/// Ink below this level counts as background when finding the bounding box.
const INK_THRESHOLD: f32 = 0.05;
/// The longer side of the digit after size normalisation.
const BOX: usize = 20;

/// Downsamples a `side × side` ink image (values in [0, 1]) by averaging `factor × factor` blocks.
pub fn downsample(ink: &[f32], side: usize, factor: usize) -> Vec<f32> {
    let out_side = side / factor;
    let mut out = vec![0.0; out_side * out_side];
    let norm = 1.0 / (factor * factor) as f32;
    for y in 0..out_side * factor {
        for x in 0..out_side * factor {
            out[(y / factor) * out_side + x / factor] += ink[y * side + x] * norm;
        }
    }
    out
}

/// Whether an ink image has any ink at all.
pub fn has_ink(ink: &[f32]) -> bool {
    ink.iter().any(|&v| v > INK_THRESHOLD)
}

/// Centre of mass `(Σ v·x, Σ v·y) / Σ v` of a `w × h` image, in pixel coordinates (pixel
/// centres at `+0.5`).
pub fn centre_of_mass(img: &[f32], w: usize, h: usize) -> (f32, f32) {
    let (mut m, mut mx, mut my) = (0.0f32, 0.0f32, 0.0f32);
    for y in 0..h {
        for x in 0..w {
            let v = img[y * w + x];
            m += v;
            mx += v * (x as f32 + 0.5);
            my += v * (y as f32 + 0.5);
        }
    }
    (mx / m, my / m)
}

/// MNIST-style normalisation of a `side × side` drawing into 28×28 pixels in [0, 1].
/// Returns all zeros for an empty drawing.
pub fn centre_like_mnist(ink: &[f32], side: usize) -> Vec<f32> {
    assert_eq!(ink.len(), side * side, "ink image must be side × side");
    let (mut x0, mut y0, mut x1, mut y1) = (side, side, 0, 0);
    for y in 0..side {
        for x in 0..side {
            if ink[y * side + x] > INK_THRESHOLD {
                x0 = x0.min(x);
                y0 = y0.min(y);
                x1 = x1.max(x);
                y1 = y1.max(y);
            }
        }
    }
    if x0 > x1 {
        return vec![0.0; PIXELS];
    }
    let (w, h) = ((x1 - x0 + 1) as f32, (y1 - y0 + 1) as f32);
    let scale = BOX as f32 / w.max(h);
    let (ow, oh) = (
        ((w * scale).round() as usize).clamp(1, BOX),
        ((h * scale).round() as usize).clamp(1, BOX),
    );
    // Box-filter resampling: each output pixel averages 4×4 sample points of its footprint.
    const S: usize = 4;
    let mut fitted = vec![0.0f32; ow * oh];
    for oy in 0..oh {
        for ox in 0..ow {
            let mut acc = 0.0;
            for sy in 0..S {
                for sx in 0..S {
                    let fx = x0 as f32 + (ox as f32 + (sx as f32 + 0.5) / S as f32) * w / ow as f32;
                    let fy = y0 as f32 + (oy as f32 + (sy as f32 + 0.5) / S as f32) * h / oh as f32;
                    let (ix, iy) = ((fx as usize).min(side - 1), (fy as usize).min(side - 1));
                    acc += ink[iy * side + ix];
                }
            }
            fitted[oy * ow + ox] = acc / (S * S) as f32;
        }
    }
    let (cx, cy) = centre_of_mass(&fitted, ow, oh);
    let half = SIDE as f32 / 2.0;
    let left = ((half - cx).round() as isize).clamp(0, (SIDE - ow) as isize) as usize;
    let top = ((half - cy).round() as isize).clamp(0, (SIDE - oh) as isize) as usize;
    let mut out = vec![0.0; PIXELS];
    for oy in 0..oh {
        for ox in 0..ow {
            out[(top + oy) * SIDE + left + ox] = fitted[oy * ow + ox].clamp(0.0, 1.0);
        }
    }
    out
}

/// Stamps an anti-aliased disc of radius `r` at `(cx, cy)` into a `side × side` ink buffer:
/// coverage `clamp(r − d + ½, 0, 1)` at distance `d`, keeping the darker ink.
pub fn stamp(ink: &mut [f32], side: usize, cx: f32, cy: f32, r: f32) {
    let side = side as isize;
    let (x0, x1) = (
        (cx - r - 1.0).floor() as isize,
        (cx + r + 1.0).ceil() as isize,
    );
    let (y0, y1) = (
        (cy - r - 1.0).floor() as isize,
        (cy + r + 1.0).ceil() as isize,
    );
    for y in y0.max(0)..y1.min(side) {
        for x in x0.max(0)..x1.min(side) {
            let d = ((x as f32 + 0.5 - cx).powi(2) + (y as f32 + 0.5 - cy).powi(2)).sqrt();
            let cover = (r - d + 0.5).clamp(0.0, 1.0);
            let i = (y * side + x) as usize;
            ink[i] = ink[i].max(cover);
        }
    }
}

/// Stamps along the segment from `a` to `b` every half pixel.
pub fn stroke(ink: &mut [f32], side: usize, a: (f32, f32), b: (f32, f32), r: f32) {
    let len = ((b.0 - a.0).powi(2) + (b.1 - a.1).powi(2)).sqrt();
    let steps = (len * 2.0).ceil().max(1.0) as usize;
    for s in 0..=steps {
        let t = s as f32 / steps as f32;
        stamp(ink, side, a.0 + t * (b.0 - a.0), a.1 + t * (b.1 - a.1), r);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_drawing_gives_zeros() {
        assert!(centre_like_mnist(&vec![0.0; 112 * 112], 112)
            .iter()
            .all(|&v| v == 0.0));
        assert!(!has_ink(&[0.0, 0.01]));
    }

    #[test]
    fn off_centre_stroke_is_scaled_and_centred() {
        // A vertical bar in the top-left corner of a 112×112 canvas.
        let side = 112;
        let mut ink = vec![0.0; side * side];
        for y in 5..45 {
            for x in 10..18 {
                ink[y * side + x] = 1.0;
            }
        }
        let out = centre_like_mnist(&ink, side);
        let (cx, cy) = centre_of_mass(&out, SIDE, SIDE);
        assert!(
            (cx - 14.0).abs() <= 1.0 && (cy - 14.0).abs() <= 1.0,
            "{cx}, {cy}"
        );
        // Height normalised to 20 pixels.
        let rows = (0..SIDE)
            .filter(|y| (0..SIDE).any(|x| out[y * SIDE + x] > 0.5))
            .count();
        assert_eq!(rows, 20);
        assert!(out.iter().all(|v| (0.0..=1.0).contains(v)));
    }

    #[test]
    fn strokes_stay_inside_the_buffer_and_saturate() {
        let mut ink = vec![0.0; INK_SIDE * INK_SIDE];
        stroke(&mut ink, INK_SIDE, (-10.0, -10.0), (200.0, 50.0), 5.0);
        assert!(ink.iter().all(|v| (0.0..=1.0).contains(v)));
        assert!(ink.contains(&1.0));
        // A dot of radius 3 covers about π·3² pixels.
        let mut dot = vec![0.0; INK_SIDE * INK_SIDE];
        stamp(&mut dot, INK_SIDE, 50.0, 50.0, 3.0);
        let area: f32 = dot.iter().sum();
        assert!((area - std::f32::consts::PI * 9.0).abs() < 2.0, "{area}");
    }

    #[test]
    fn downsample_averages_blocks() {
        let ink: Vec<f32> = (0..16)
            .map(|i| if i % 2 == 0 { 1.0 } else { 0.0 })
            .collect();
        assert_eq!(downsample(&ink, 4, 2), vec![0.5; 4]);
    }
}
