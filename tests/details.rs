//! Structural details ("Can u see it?") and the kernel page's experiment, natively, with the
//! pages' defaults: the shipped `cascade-12`'s sampling, a held-out slice, the word "CAN U SEE
//! IT" added directly (`x′ = x + z`) and "AI" added through the kernel (`x′ = x + t·z_N`).
//! Zero-filling recovers exactly the share of the detail the sampling sees; every method's
//! recovered fraction is measured and printed; through the kernel nothing is recovered and the
//! lower bound holds.

mod shipped;

use barriers_lab::mri::brain::{BrainSlices, SliceId};
use barriers_lab::mri::details::Experiment;
use barriers_lab::mri::instability::{Reconstructor, ZeroFilling};
use barriers_lab::mri::learned::hallucination::{halve, FirenetSetting, SIDE};
use barriers_lab::mri::learned::warm_start::WarmStart;
use barriers_lab::mri::operator::SubsampledFourier;
use barriers_lab::mri::state::{DetailsState, KernelState};

fn setting() -> (
    barriers_lab::mri::learned::cascade::CascadeNet,
    SubsampledFourier,
    BrainSlices,
) {
    let (_, net, a) = shipped::network("cascade-12");
    (net, a, shipped::brain())
}

/// Runs `body` with `cascade-12`'s sampling, the brain slices and the four methods.
fn with_methods(
    body: impl FnOnce(&SubsampledFourier, &BrainSlices, &[(&str, &dyn Reconstructor)]),
) {
    let (net, a, brain) = setting();
    let fire = FirenetSetting::new(&barriers_lab::engine::CpuEngine, SIDE).unwrap();
    let b = fire.sampling(&a).unwrap();
    let firenet = fire.reconstructor(&b);
    let zf = ZeroFilling(&a);
    let warm = WarmStart::new(&net, &fire, &b);
    let methods: [(&str, &dyn Reconstructor); 4] = [
        ("zero-filling", &zf),
        ("FIRENET", &firenet),
        ("cascade-12", &net),
        ("cascade-12 → FIRENET", &warm),
    ];
    body(&a, &brain, &methods);
}

fn slice(brain: &BrainSlices, name: &str) -> Vec<f32> {
    halve(
        &brain.image(SliceId::from_name(name).unwrap()).unwrap(),
        128,
    )
    .unwrap()
}

#[test]
fn details_are_recovered_as_far_as_the_sampling_and_the_method_allow() {
    with_methods(|a, brain, methods| {
        let spec = DetailsState::default().settings.detail;
        let z = spec.render(SIDE).unwrap();
        for name in ["axial 10", "coronal 14"] {
            let x = slice(brain, name);
            let e = Experiment::new(a, &x, &z, None).unwrap();
            assert!(e.pair.is_none());
            assert!(e.visible > 0.01 && e.visible < 0.99, "{}", e.visible);
            assert!((e.kernel_share.powi(2) + e.visible - 1.0).abs() < 1e-5);
            let mut recovered = Vec::new();
            for &(method, psi) in methods {
                let m = e.measure(psi).unwrap();
                let r = m.recovery;
                eprintln!(
                    "{name}, {method:>12}: recovers {:.3} (visible {:.3}), region error {:.3} \
                 (without the detail {:.3}), PSNR {:.2} dB",
                    r.recovered, e.visible, r.region_error, r.region_error_clean, m.psnr
                );
                assert!(r.recovered.is_finite() && r.region_error.is_finite());
                recovered.push(r.recovered);
            }
            // Zero-filling is linear: it recovers exactly what the samples see.
            assert!((recovered[0] - e.visible).abs() < 1e-4, "{recovered:?}");
        }
    });
}

#[test]
fn through_the_kernel_nothing_is_recovered_and_the_bound_holds() {
    with_methods(|a, brain, methods| {
        let state = KernelState::default();
        let z = state.settings.detail.render(SIDE).unwrap();
        let x = slice(brain, &state.settings.slice);
        let e = Experiment::new(a, &x, &z, Some(state.t)).unwrap();
        let pair = e.pair.as_ref().unwrap();
        assert!((e.distance() - pair.bound()).abs() < 1e-5 * pair.bound());
        assert!(e.measurement_gap() < 1e-6 * barriers_lab::mri::operator::norm(&e.y));
        // `visible` is the share of z (before projection) the sampling sees; what is added, t·z_N,
        // is the rest of it.
        assert!((e.kernel_share.powi(2) + e.visible - 1.0).abs() < 1e-5);
        for &(method, psi) in methods {
            let m = e.measure(psi).unwrap();
            let bound = m.bound.unwrap();
            eprintln!(
                "{method:>12}: {:.3} + {:.3} = {:.3} ≥ {:.3}; recovered {:.1e}",
                bound.error_x,
                bound.error_x_prime,
                bound.sum(),
                bound.bound,
                m.recovery.recovered
            );
            assert!(
                bound.sum() >= bound.bound && bound.triangle_holds(),
                "{method}"
            );
            assert!(
                m.recovery.recovered.abs() < 1e-3,
                "{method}: the data are the same"
            );
        }
        assert!(Experiment::new(a, &x, &z, Some(9.0)).is_err());
        assert!(Experiment::new(a, &x, &vec![0.0; SIDE * SIDE], None).is_err());
        assert!(Experiment::new(a, &x, &z[1..], None).is_err());
    });
}
