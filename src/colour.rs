//! The colour maps the pages draw with, and the colour science that checks them: sRGB to linear
//! light, relative luminance and WCAG contrast ratios, CIE L*. Web-free, so that the maps are
//! tested natively (lightness monotone, the diverging map's ends apart in lightness and under
//! simulated colour blindness; docs/accessibility.md has the measurements); `web::widgets` and
//! the pages paint with them.

/// The diverging map's negative end (ColorBrewer RdBu's #2166ac).
pub const NEGATIVE: [u8; 3] = [33, 102, 172];
/// Its positive end (RdBu's darkest red, #67001f): darker than the negative end by 22 L*, so
/// that the two signs differ in greyscale and to red–green colour-blind eyes, not only in hue.
pub const POSITIVE: [u8; 3] = [103, 0, 31];
/// The red the positive half passes through at [`POSITIVE_KNEE`] of its length (RdBu's #b2182b).
pub const POSITIVE_MID: [u8; 3] = [178, 24, 43];
/// Where on the positive half (`t ∈ [0, 1]`) the map passes through [`POSITIVE_MID`].
pub const POSITIVE_KNEE: f64 = 2.0 / 3.0;

/// The fooling-rate map's end (rate 1): white for 0, this dark red for 1.
pub const FOOLING: [u8; 3] = [165, 15, 21];

/// `a + (b − a)·s` per channel, rounded.
fn mix(a: [u8; 3], b: [u8; 3], s: f64) -> [u8; 3] {
    let m = |x: u8, y: u8| (f64::from(x) + (f64::from(y) - f64::from(x)) * s).round() as u8;
    [m(a[0], b[0]), m(a[1], b[1]), m(a[2], b[2])]
}

const WHITE: [u8; 3] = [255, 255, 255];

/// The diverging colour of `t ∈ [−1, 1]` (clamped; not finite: 0), RGBA: white at 0, towards
/// [`NEGATIVE`] (blue) below 0 and towards [`POSITIVE`] (dark red, through [`POSITIVE_MID`])
/// above. The stylesheet's `.colour-bar` draws the same stops.
pub fn diverging(t: f64) -> [u8; 4] {
    let t = if t.is_finite() {
        t.clamp(-1.0, 1.0)
    } else {
        0.0
    };
    let [r, g, b] = if t < 0.0 {
        mix(WHITE, NEGATIVE, -t)
    } else if t <= POSITIVE_KNEE {
        mix(WHITE, POSITIVE_MID, t / POSITIVE_KNEE)
    } else {
        mix(
            POSITIVE_MID,
            POSITIVE,
            (t - POSITIVE_KNEE) / (1.0 - POSITIVE_KNEE),
        )
    };
    [r, g, b, 255]
}

/// The grey of an intensity in `[0, 1]` (clamped; 1 is white), RGBA: MNIST digits and MRI slices.
pub fn grey(v: f32) -> [u8; 4] {
    let g = (v.clamp(0.0, 1.0) * 255.0).round() as u8;
    [g, g, g, 255]
}

/// The background of a fooling rate `v ∈ [0, 1]` (clamped): white for 0, [`FOOLING`] for 1.
pub fn fooling(v: f64) -> [u8; 3] {
    mix(WHITE, FOOLING, v.clamp(0.0, 1.0))
}

/// The text colour (`"#000"` or `"#fff"`) with the higher contrast on `background`: at least
/// 4.58:1 on any background (the worst case is where both are equal).
pub fn ink_on(background: [u8; 3]) -> &'static str {
    if contrast(background, [0, 0, 0]) >= contrast(background, WHITE) {
        "#000"
    } else {
        "#fff"
    }
}

/// An 8-bit sRGB channel in linear light, in `[0, 1]`.
pub fn linear(c: u8) -> f64 {
    let c = f64::from(c) / 255.0;
    if c <= 0.04045 {
        c / 12.92
    } else {
        ((c + 0.055) / 1.055).powf(2.4)
    }
}

/// Relative luminance `Y ∈ [0, 1]` of an sRGB colour (WCAG 2 and CIE, D65).
pub fn luminance(rgb: [u8; 3]) -> f64 {
    0.2126 * linear(rgb[0]) + 0.7152 * linear(rgb[1]) + 0.0722 * linear(rgb[2])
}

/// The WCAG 2 contrast ratio of two colours, in `[1, 21]`.
pub fn contrast(a: [u8; 3], b: [u8; 3]) -> f64 {
    let (la, lb) = (luminance(a), luminance(b));
    (la.max(lb) + 0.05) / (la.min(lb) + 0.05)
}

/// CIE L* (perceived lightness, 0 black to 100 white) of an sRGB colour.
pub fn lightness(rgb: [u8; 3]) -> f64 {
    116.0 * lab_f(luminance(rgb)) - 16.0
}

/// CIELAB's companding function.
fn lab_f(t: f64) -> f64 {
    const D: f64 = 6.0 / 29.0;
    if t > D * D * D {
        t.cbrt()
    } else {
        t / (3.0 * D * D) + 4.0 / 29.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rgb(c: [u8; 4]) -> [u8; 3] {
        [c[0], c[1], c[2]]
    }

    /// `n + 1` evenly spaced points of `[a, b]`.
    fn grid(a: f64, b: f64, n: usize) -> impl Iterator<Item = f64> {
        (0..=n).map(move |k| a + (b - a) * k as f64 / n as f64)
    }

    /// CIELAB (D65) of an sRGB colour given in linear light.
    fn lab_linear(l: [f64; 3]) -> [f64; 3] {
        let x = 0.412_456_4 * l[0] + 0.357_576_1 * l[1] + 0.180_437_5 * l[2];
        let y = 0.212_672_9 * l[0] + 0.715_152_2 * l[1] + 0.072_175_0 * l[2];
        let z = 0.019_333_9 * l[0] + 0.119_192_0 * l[1] + 0.950_304_1 * l[2];
        let (fx, fy, fz) = (lab_f(x / 0.950_47), lab_f(y), lab_f(z / 1.088_83));
        [116.0 * fy - 16.0, 500.0 * (fx - fy), 200.0 * (fy - fz)]
    }

    fn lab(c: [u8; 3]) -> [f64; 3] {
        lab_linear([linear(c[0]), linear(c[1]), linear(c[2])])
    }

    /// CIE76 colour difference ΔE*ab.
    fn delta_e(a: [f64; 3], b: [f64; 3]) -> f64 {
        ((a[0] - b[0]).powi(2) + (a[1] - b[1]).powi(2) + (a[2] - b[2]).powi(2)).sqrt()
    }

    fn apply(m: &[[f64; 3]; 3], v: [f64; 3]) -> [f64; 3] {
        let row = |r: &[f64; 3]| r[0] * v[0] + r[1] * v[1] + r[2] * v[2];
        [row(&m[0]), row(&m[1]), row(&m[2])]
    }

    fn inverse(m: &[[f64; 3]; 3]) -> [[f64; 3]; 3] {
        let [[a, b, c], [d, e, f], [g, h, i]] = *m;
        let det = a * (e * i - f * h) - b * (d * i - f * g) + c * (d * h - e * g);
        [
            [
                (e * i - f * h) / det,
                (c * h - b * i) / det,
                (b * f - c * e) / det,
            ],
            [
                (f * g - d * i) / det,
                (a * i - c * g) / det,
                (c * d - a * f) / det,
            ],
            [
                (d * h - e * g) / det,
                (b * g - a * h) / det,
                (a * e - b * d) / det,
            ],
        ]
    }

    /// Linear RGB to LMS cone responses (Viénot, Brettel & Mollon 1999, as in daltonize).
    const RGB_TO_LMS: [[f64; 3]; 3] = [
        [17.8824, 43.5161, 4.11935],
        [3.45565, 27.1554, 3.86714],
        [0.029_956_6, 0.184_309, 1.46709],
    ];

    #[derive(Clone, Copy, Debug)]
    enum Dichromacy {
        Protanopia,
        Deuteranopia,
    }

    /// A colour as a dichromat sees it (Viénot, Brettel & Mollon 1999): the missing cone's
    /// response rebuilt from the other two in LMS, in linear light; returns CIELAB.
    fn simulate(c: [u8; 3], kind: Dichromacy) -> [f64; 3] {
        let project = match kind {
            Dichromacy::Protanopia => [[0.0, 2.02344, -2.52581], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]],
            Dichromacy::Deuteranopia => {
                [[1.0, 0.0, 0.0], [0.494_207, 0.0, 1.24827], [0.0, 0.0, 1.0]]
            }
        };
        let lms = apply(&RGB_TO_LMS, [linear(c[0]), linear(c[1]), linear(c[2])]);
        let seen = apply(&inverse(&RGB_TO_LMS), apply(&project, lms));
        lab_linear(seen.map(|v| v.clamp(0.0, 1.0)))
    }

    #[test]
    fn colour_science_matches_known_values() {
        assert!((lightness([255, 255, 255]) - 100.0).abs() < 1e-9);
        assert!(lightness([0, 0, 0]).abs() < 1e-9);
        // sRGB mid-grey #777 is L* 50.0 (CIELAB tables); #2166ac is L* 42.5.
        assert!((lightness([119, 119, 119]) - 50.0).abs() < 0.1);
        assert!((lightness(NEGATIVE) - 42.5).abs() < 0.1);
        assert!((contrast([255, 255, 255], [0, 0, 0]) - 21.0).abs() < 1e-9);
        // WCAG's example: #767676 on white is 4.54:1.
        assert!((contrast([118, 118, 118], [255, 255, 255]) - 4.54).abs() < 0.01);
        assert!(
            delta_e(lab([255, 255, 255]), [100.0, 0.0, 0.0]) < 0.01,
            "D65 white is neutral"
        );
        // A dichromat sees white and grey as they are, and red and green alike.
        for kind in [Dichromacy::Protanopia, Dichromacy::Deuteranopia] {
            for g in [255, 128] {
                let seen = simulate([g, g, g], kind);
                assert!(
                    delta_e(seen, lab([g, g, g])) < 0.5,
                    "{kind:?} {g}: {seen:?}"
                );
            }
            let (red, green) = (simulate([200, 60, 0], kind), simulate([90, 140, 0], kind));
            assert!(
                delta_e(red, green) < delta_e(lab([200, 60, 0]), lab([90, 140, 0])) / 3.0,
                "{kind:?}"
            );
        }
    }

    /// Lightness along `map` on the grid must move one way only (ties allowed: 8-bit rounding).
    fn monotone(
        name: &str,
        values: impl Iterator<Item = f64>,
        map: impl Fn(f64) -> [u8; 3],
        falling: bool,
    ) {
        let mut previous: Option<(f64, f64)> = None;
        for v in values {
            let l = lightness(map(v));
            if let Some((pv, pl)) = previous {
                let step = if falling { pl - l } else { l - pl };
                assert!(
                    step >= -1e-9,
                    "{name}: L* {pl:.2} at {pv} then {l:.2} at {v}"
                );
            }
            previous = Some((v, l));
        }
    }

    #[test]
    fn sequential_maps_have_monotone_lightness() {
        monotone("grey", grid(0.0, 1.0, 1000), |v| rgb(grey(v as f32)), false);
        monotone("fooling rate", grid(0.0, 1.0, 1000), fooling, true);
        // Each half of the diverging map, from white at 0 out to its end.
        monotone(
            "diverging, positive half",
            grid(0.0, 1.0, 1000),
            |t| rgb(diverging(t)),
            true,
        );
        monotone(
            "diverging, negative half",
            grid(0.0, 1.0, 1000),
            |t| rgb(diverging(-t)),
            true,
        );
        assert_eq!(rgb(diverging(0.0)), WHITE);
        assert_eq!(rgb(diverging(-1.0)), NEGATIVE);
        assert_eq!(rgb(diverging(1.0)), POSITIVE);
        assert_eq!(rgb(diverging(POSITIVE_KNEE)), POSITIVE_MID);
        assert_eq!(diverging(f64::NAN), diverging(0.0));
        assert_eq!(diverging(7.0), diverging(1.0));
        assert!((lightness(FOOLING) - 34.8).abs() < 0.1);
    }

    /// The two signs of a perturbation read apart in greyscale: ends apart by at least 15 L*
    /// (measured 22.5: #2166ac 42.5, #67001f 20.0; the former end #b2182b, 38.4, was 4.1 apart).
    #[test]
    fn diverging_ends_differ_in_lightness() {
        let (negative, positive) = (lightness(NEGATIVE), lightness(POSITIVE));
        assert!(
            (negative - positive).abs() >= 15.0,
            "L* {negative:.1} and {positive:.1}"
        );
        assert!((lightness(POSITIVE) - 20.0).abs() < 0.1);
        // The criterion tells: the former positive end, #b2182b, was 4.1 L* from the negative one.
        assert!((negative - lightness(POSITIVE_MID)).abs() < 5.0);
        // Symmetric values stay apart in greyscale from a quarter out (measured: 11.5 at ±0.25).
        for t in grid(0.25, 1.0, 75) {
            let gap = lightness(rgb(diverging(-t))) - lightness(rgb(diverging(t)));
            assert!(gap >= 10.0, "±{t}: L* apart by {gap:.1}");
        }
    }

    /// Protanopes and deuteranopes tell the ends apart: ΔE*ab ≥ 40 and L* apart by ≥ 10
    /// (measured: protanopia ΔE 55.5, L* 44.3 against 12.7; deuteranopia ΔE 72.1, 41.4 against 22.9).
    #[test]
    fn diverging_ends_stay_apart_for_red_green_colour_blindness() {
        for kind in [Dichromacy::Protanopia, Dichromacy::Deuteranopia] {
            let (n, p) = (simulate(NEGATIVE, kind), simulate(POSITIVE, kind));
            let (de, dl) = (delta_e(n, p), (n[0] - p[0]).abs());
            assert!(
                de >= 40.0 && dl >= 10.0,
                "{kind:?}: ΔE {de:.1}, L* {:.1} and {:.1}",
                n[0],
                p[0]
            );
            // Each end also stays apart from the white middle.
            for end in [n, p] {
                assert!(
                    delta_e(end, lab(WHITE)) >= 40.0,
                    "{kind:?}: {end:?} near white"
                );
            }
        }
    }

    #[test]
    fn fooling_rates_have_readable_text() {
        for v in grid(0.0, 1.0, 1000) {
            let bg = fooling(v);
            let ink = if ink_on(bg) == "#000" {
                [0, 0, 0]
            } else {
                WHITE
            };
            let c = contrast(bg, ink);
            assert!(c >= 4.5, "rate {v}: {c:.2}:1");
        }
        assert_eq!(ink_on(WHITE), "#000");
        assert_eq!(ink_on(FOOLING), "#fff");
    }
}
