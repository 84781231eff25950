//! Structural details ("Can u see it?") and the kernel page's experiment, natively, with the
//! pages' defaults: the shipped `cascade-128`'s sampling at 128² (and `cascade-12`'s at 64²), a
//! slice the network holds out, the word "CAN U SEE IT" added directly (`x′ = x + z`) and "AI"
//! added through the kernel (`x′ = x + t·z_N`), the detail placed on the 64² grid and scaled to
//! the network's side. Zero-filling recovers exactly the share of the detail the sampling sees;
//! every method's recovered fraction is measured and printed; through the kernel nothing is
//! recovered and the lower bound holds.

mod shipped;

use barriers_lab::mri::brain::{BrainSlices, SliceId};
use barriers_lab::mri::details::Experiment;
use barriers_lab::mri::instability::{Reconstructor, ZeroFilling};
use barriers_lab::mri::learned::hallucination::{slice_at, FirenetSetting};
use barriers_lab::mri::learned::warm_start::WarmStart;
use barriers_lab::mri::operator::SubsampledFourier;
use barriers_lab::mri::state::{detail_net, DetailSettings, DetailsState, KernelState};

/// The networks the tests run: the pages' default (128²) and a 64² one.
const NETS: [&str; 2] = ["cascade-128", "cascade-12"];

/// Runs `body` with the network `name`'s sampling, its side, the brain slices and the four
/// methods.
fn with_methods(
    name: &str,
    body: impl FnOnce(&SubsampledFourier, usize, &BrainSlices, &[(&str, &dyn Reconstructor)]),
) {
    let (card, net, a) = shipped::network(name);
    let brain = shipped::brain();
    let side = card.side;
    assert_eq!(
        detail_net(name).map(|n| (n.side, n.split)),
        Some((side, card.split))
    );
    let fire = FirenetSetting::new(&barriers_lab::engine::CpuEngine, side).unwrap();
    let b = fire.sampling(&a).unwrap();
    let firenet = fire.reconstructor(&b);
    let zf = ZeroFilling(&a);
    let warm = WarmStart::new(&net, &fire, &b);
    let warm_name = format!("{name} → FIRENET");
    let methods: [(&str, &dyn Reconstructor); 4] = [
        ("zero-filling", &zf),
        ("FIRENET", &firenet),
        (name, &net),
        (&warm_name, &warm),
    ];
    body(&a, side, &brain, &methods);
}

fn slice(brain: &BrainSlices, name: &str, side: usize) -> Vec<f32> {
    slice_at(brain, SliceId::from_name(name).unwrap(), side).unwrap()
}

/// The page's settings with the network `name` (the slice fitted to it as the page does).
fn settings_for(mut settings: DetailSettings, name: &str) -> DetailSettings {
    settings.net = name.into();
    settings.fit_slice();
    settings
}

#[test]
fn details_are_recovered_as_far_as_the_sampling_and_the_method_allow() {
    for name in NETS {
        with_methods(name, |a, side, brain, methods| {
            let settings = settings_for(DetailsState::default().settings, name);
            let z = settings.detail.render(side).unwrap();
            let other = match side {
                128 => "coronal 12",
                _ => "coronal 14",
            };
            for slice_name in [settings.slice.as_str(), other] {
                assert!(settings.net().holds_out(slice_name), "{slice_name}");
                let x = slice(brain, slice_name, side);
                let e = Experiment::new(a, &x, &z, None).unwrap();
                assert!(e.pair.is_none());
                assert!(e.visible > 0.01 && e.visible < 0.99, "{}", e.visible);
                assert!((e.kernel_share.powi(2) + e.visible - 1.0).abs() < 1e-5);
                let mut recovered = Vec::new();
                for &(method, psi) in methods {
                    let m = e.measure(psi).unwrap();
                    let r = m.recovery;
                    eprintln!(
                        "{name} {side}², {slice_name}, {method:>12}: recovers {:.3} (visible {:.3}), \
                         region error {:.3} (without the detail {:.3}), PSNR {:.2} dB",
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
}

#[test]
fn through_the_kernel_nothing_is_recovered_and_the_bound_holds() {
    for name in NETS {
        with_methods(name, |a, side, brain, methods| {
            let state = KernelState::default();
            let settings = settings_for(state.settings, name);
            let z = settings.detail.render(side).unwrap();
            let x = slice(brain, &settings.slice, side);
            let e = Experiment::new(a, &x, &z, Some(state.t)).unwrap();
            let pair = e.pair.as_ref().unwrap();
            assert!((e.distance() - pair.bound()).abs() < 1e-5 * pair.bound());
            assert!(e.measurement_gap() < 1e-6 * barriers_lab::mri::operator::norm(&e.y));
            // `visible` is the share of z (before projection) the sampling sees; what is added,
            // t·z_N, is the rest of it.
            assert!((e.kernel_share.powi(2) + e.visible - 1.0).abs() < 1e-5);
            for &(method, psi) in methods {
                let m = e.measure(psi).unwrap();
                let bound = m.bound.unwrap();
                eprintln!(
                    "{name} {side}², {method:>12}: {:.3} + {:.3} = {:.3} ≥ {:.3}; recovered {:.1e}",
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
            assert!(Experiment::new(a, &x, &vec![0.0; side * side], None).is_err());
            assert!(Experiment::new(a, &x, &z[1..], None).is_err());
            // A detail at the other side does not fit this network's sampling.
            let other = settings.detail.render(192 - side).unwrap();
            assert!(Experiment::new(a, &x, &other, None).is_err());
        });
    }
}
