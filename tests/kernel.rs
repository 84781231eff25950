//! The troublesome kernel, checked natively: details projected onto `N(A)` are not measured
//! (line and variable-density masks at 64² and 128²), the projection is idempotent and leaves the
//! rest in the row space, `x` and `x′ = x + t·z_N` have the same measurements, and the lower bound
//! `‖R(Ax) − x‖ + ‖R(Ax′) − x′‖ ≥ t‖z_N‖` holds for zero-filling, FIRENET and the shipped network
//! `cascade-12` on held-out brain slices; the 5 × 7 font.

mod shipped;

use barriers_lab::mri::brain::{BrainSlices, SliceId};
use barriers_lab::mri::instability::{Reconstructor, ZeroFilling};
use barriers_lab::mri::kernel::{
    distance64, error_bound, glyph, kernel_component, narrow, norm64, widen_real, Detail,
    KernelProjector, Pair, CHARSET, GLYPH_HEIGHT, GLYPH_WIDTH,
};
use barriers_lab::mri::learned::hallucination::{halve, FirenetSetting, SIDE};
use barriers_lab::mri::operator::{norm, LinearOperator, SubsampledFourier};
use barriers_lab::mri::sampling::{mask, Pattern};
use rustfft::num_complex::{Complex32, Complex64};

fn details(n: usize) -> Vec<(&'static str, Detail)> {
    let s = n as f64 / 64.0;
    vec![
        (
            "lesion",
            Detail::Lesion {
                row: 25.0 * s,
                col: 38.0 * s,
                radius: 3.0 * s,
                intensity: 0.5,
                edge: 1.0,
            },
        ),
        (
            "rectangle",
            Detail::Rectangle {
                top: (20.0 * s) as usize,
                left: (12.0 * s) as usize,
                height: (4.0 * s) as usize,
                width: (9.0 * s) as usize,
                intensity: 0.4,
            },
        ),
        (
            "line",
            Detail::Line {
                from: [40.0 * s, 10.0 * s],
                to: [48.0 * s, 30.0 * s],
                width: 1.5,
                intensity: 0.6,
            },
        ),
        (
            "text",
            Detail::Text {
                text: "KERNEL 7".into(),
                top: (8.0 * s) as usize,
                left: (6.0 * s) as usize,
                scale: n / 64,
                intensity: 0.5,
            },
        ),
    ]
}

#[test]
fn kernel_components_are_not_measured_and_the_rest_is_in_the_row_space() {
    let mut worst_measured: f64 = 0.0;
    let mut worst_idempotent: f64 = 0.0;
    let mut worst_row_f32: f64 = 0.0;
    let mut worst_row_f64: f64 = 0.0;
    for n in [64, 128] {
        for (pattern, rate) in [
            (Pattern::Cartesian, 0.125),
            (Pattern::Cartesian, 0.25),
            (Pattern::VariableDensity, 0.1),
            (Pattern::VariableDensity, 0.25),
            (Pattern::Radial, 0.2),
        ] {
            let a = SubsampledFourier::new(mask(pattern, n, rate, 1).unwrap()).unwrap();
            let p = KernelProjector::new(&a).unwrap();
            for (name, detail) in details(n) {
                let z = detail.render(n).unwrap();
                let zc = widen_real(&z);
                let zn = norm64(&zc);
                let z_n = kernel_component(&a, &z).unwrap();
                assert_eq!(z_n, p.kernel(&zc).unwrap());
                // ‖A z_N‖ ≤ 1e-6 ‖z‖ with the crate's (f32) operator.
                let mut az = vec![Complex32::default(); a.output_len()];
                a.apply(&narrow(&z_n), &mut az);
                let measured = norm(&az) / zn;
                // The detail itself is measured: the kernel removed something.
                let mut az_full = vec![Complex32::default(); a.output_len()];
                a.apply(&narrow(&zc), &mut az_full);
                let what = format!("{name} on {} {n}² at {rate}", pattern.name());
                assert!(measured <= 1e-6, "{what}: ‖A z_N‖/‖z‖ = {measured:.2e}");
                assert!(norm(&az_full) > 1e-2 * zn, "{what}");
                eprintln!(
                    "{what}: ‖A z_N‖/‖z‖ = {measured:.2e}, ‖z_N‖/‖z‖ = {:.3}",
                    norm64(&z_n) / zn
                );
                worst_measured = worst_measured.max(measured);
                // Idempotent: the kernel component of z_N is z_N.
                let again = p.kernel(&z_n).unwrap();
                let idem = distance64(&again, &z_n) / norm64(&z_n);
                assert!(idem <= 1e-9, "{what}: idempotence gap {idem:.2e}");
                worst_idempotent = worst_idempotent.max(idem);
                // z − z_N is in the row space: A*A(z − z_N) = z − z_N, with the crate's A (f32)
                // and with the exact projection (f64).
                let w: Vec<Complex64> = zc.iter().zip(&z_n).map(|(u, v)| u - v).collect();
                let mut aw = vec![Complex32::default(); a.output_len()];
                a.apply(&narrow(&w), &mut aw);
                let back = widen(&a.zero_filled(&aw));
                let row_f32 = distance64(&back, &w) / norm64(&w);
                assert!(row_f32 <= 1e-6, "{what}: A*A w vs w {row_f32:.2e}");
                let row_f64 = distance64(&p.row_space(&w).unwrap(), &w) / norm64(&w);
                assert!(row_f64 <= 1e-9, "{what}: exact A*A w vs w {row_f64:.2e}");
                worst_row_f32 = worst_row_f32.max(row_f32);
                worst_row_f64 = worst_row_f64.max(row_f64);
            }
        }
    }
    eprintln!(
        "worst: ‖A z_N‖/‖z‖ {worst_measured:.2e}; idempotence {worst_idempotent:.2e}; \
         row space (f32 A) {worst_row_f32:.2e}, (f64) {worst_row_f64:.2e}"
    );
}

fn widen(v: &[Complex32]) -> Vec<Complex64> {
    v.iter()
        .map(|c| Complex64::new(c.re as f64, c.im as f64))
        .collect()
}

fn held_out_slice(brain: &BrainSlices, name: &str) -> Vec<f32> {
    let id = SliceId::from_name(name).unwrap();
    assert!(id.is_test(), "{name} is held out");
    halve(&brain.image(id).unwrap(), 128).unwrap()
}

#[test]
fn the_lower_bound_holds_for_zero_filling_firenet_and_cascade_12() {
    let (_, net, a) = shipped::network("cascade-12");
    assert_eq!(a.mask().side(), SIDE);
    let fire = FirenetSetting::new(&barriers_lab::engine::CpuEngine, SIDE).unwrap();
    let b = fire.sampling(&a).unwrap();
    let firenet = fire.reconstructor(&b);
    let zf = ZeroFilling(&a);
    let methods: [(&str, &dyn Reconstructor); 3] = [
        ("zero-filling", &zf),
        ("FIRENET", &firenet),
        ("cascade-12", &net),
    ];
    let brain = shipped::brain();
    let projector = KernelProjector::new(&a).unwrap();
    for slice in ["axial 10", "coronal 10"] {
        let x = held_out_slice(&brain, slice);
        let xn = x.iter().map(|v| (*v as f64).powi(2)).sum::<f64>().sqrt();
        for (name, detail, t) in [
            (
                "lesion r = 3 px, 0.5",
                Detail::Lesion {
                    row: 26.0,
                    col: 38.0,
                    radius: 3.0,
                    intensity: 0.5,
                    edge: 1.0,
                },
                1.0,
            ),
            (
                "text 'AI', t = 4",
                Detail::Text {
                    text: "AI".into(),
                    top: 24,
                    left: 22,
                    scale: 2,
                    intensity: 0.5,
                },
                4.0,
            ),
        ] {
            let z = detail.render(SIDE).unwrap();
            let z_n = projector.kernel(&widen_real(&z)).unwrap();
            let pair = Pair::from_kernel_component(&x, z_n, t).unwrap();
            assert_eq!(pair, Pair::new(&a, &x, &z, t).unwrap());
            eprintln!(
                "{slice}, {name}: t‖z_N‖ = {:.4} (‖z‖ = {:.4}, ‖x‖ = {xn:.3})",
                pair.bound(),
                norm64(&widen_real(&z)),
            );
            for (method, psi) in methods {
                let c = error_bound(&a, psi, &pair).unwrap();
                eprintln!(
                    "  {method:>12}: ‖R(Ax) − x‖ = {:.4}, ‖R(Ax′) − x′‖ = {:.4}, sum {:.4} ≥ \
                     {:.4}; ‖Ax − Ax′‖/‖Ax‖ = {:.1e}, ‖R(Ax) − R(Ax′)‖ = {:.1e}",
                    c.error_x,
                    c.error_x_prime,
                    c.sum(),
                    c.bound,
                    c.measurement_gap / c.measurement_norm,
                    c.output_gap,
                );
                // The data are the same to rounding, so are the outputs.
                assert!(c.measurement_gap <= 1e-6 * c.measurement_norm, "{method}");
                assert!(c.output_gap <= 1e-3 * c.bound, "{method}: {}", c.output_gap);
                assert!((c.distance - c.bound).abs() <= 1e-6 * c.bound);
                // The bound, and the triangle inequality behind it.
                assert!(c.triangle_holds(), "{method}");
                assert!(
                    c.sum() >= c.bound,
                    "{method} on {slice}, {name}: {} < {}",
                    c.sum(),
                    c.bound
                );
            }
        }
    }
}

#[test]
fn x_and_x_prime_have_the_same_measurements() {
    for (pattern, n) in [(Pattern::Cartesian, 64), (Pattern::VariableDensity, 128)] {
        let a = SubsampledFourier::new(mask(pattern, n, 0.2, 2).unwrap()).unwrap();
        let x = barriers_lab::mri::phantom::shepp_logan(n);
        for (name, detail) in details(n) {
            let z = detail.render(n).unwrap();
            for t in [0.5, 1.0, 8.0] {
                let pair = Pair::new(&a, &x, &z, t).unwrap();
                let (y, y_prime) = pair.measurements(&a).unwrap();
                let gap = y
                    .iter()
                    .zip(&y_prime)
                    .map(|(p, q)| (p - q).norm_sqr() as f64)
                    .sum::<f64>()
                    .sqrt();
                assert!(gap <= 1e-6 * norm(&y), "{name}, t = {t}: {gap:.2e}");
                // What the page shows: |x′| and |t z_N|; x′ − x is t z_N.
                assert_eq!(pair.magnitude().len(), n * n);
                assert!((pair.distance() - pair.bound()).abs() <= 1e-6 * pair.bound());
                let added = pair.added_magnitude();
                assert!(added.iter().all(|v| v.is_finite()));
                assert!(added.iter().any(|v| *v > 0.0));
            }
        }
    }
}

#[test]
fn the_font_draws_every_glyph_inside_its_box_and_tells_letters_apart() {
    let (n, top, left, scale) = (24, 3, 5, 2);
    let mut seen: Vec<(char, Vec<f32>)> = Vec::new();
    for c in CHARSET.chars() {
        let rows = glyph(c).unwrap();
        assert!(
            rows.iter().all(|r| r >> GLYPH_WIDTH == 0),
            "'{c}' is 5 wide"
        );
        assert_eq!(glyph(c.to_ascii_lowercase()), Some(rows));
        let detail = Detail::Text {
            text: c.to_string(),
            top,
            left,
            scale,
            intensity: 1.0,
        };
        if c == ' ' {
            assert!(rows.iter().all(|r| *r == 0));
            assert!(detail.render(n).is_err(), "a blank detail is refused");
            continue;
        }
        let img = detail.render(n).unwrap();
        let (h, w) = (GLYPH_HEIGHT * scale, GLYPH_WIDTH * scale);
        for (i, v) in img.iter().enumerate() {
            let (y, x) = (i / n, i % n);
            let inside = (top..top + h).contains(&y) && (left..left + w).contains(&x);
            assert!(
                *v == 0.0 || inside,
                "'{c}' draws ({y}, {x}) outside its box"
            );
            assert!(*v == 0.0 || *v == 1.0);
        }
        // Every font pixel is a scale × scale block.
        let lit = img.iter().filter(|v| **v > 0.0).count();
        let bits: u32 = rows.iter().map(|r| r.count_ones()).sum();
        assert_eq!(lit, bits as usize * scale * scale, "'{c}'");
        for (other, prev) in &seen {
            assert_ne!(&img, prev, "'{c}' and '{other}' look the same");
        }
        seen.push((c, img));
    }
    assert_eq!(seen.len(), 36);
    assert!(glyph('é').is_none() && glyph('?').is_none());
    // A word: glyphs side by side, one font pixel apart, and each letter where it belongs.
    let word = Detail::Text {
        text: "AB".into(),
        top: 0,
        left: 0,
        scale: 1,
        intensity: 1.0,
    }
    .render(16)
    .unwrap();
    let column = |x: usize| (0..7).any(|y| word[y * 16 + x] > 0.0);
    assert!(!column(5), "the gap between the glyphs");
    assert!(column(6) && !column(11));
}
