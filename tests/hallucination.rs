//! The shipped hallucinations experiment, checked natively: the report, the networks' cards and
//! weights, the shipped perturbations, and the instability test through a trained network
//! (gradient of `Q` against central differences; the fixed-norm search finds at least the
//! ascent's κ; zero-filling has κ = 1).

use barriers_lab::mri::brain::{BrainSlices, SliceId};
use barriers_lab::mri::instability::{Ascent, InstabilityTest, Reconstructor, ZeroFilling};
use barriers_lab::mri::learned::hallucination::{
    gaussian_like, outcome, slice_at, FirenetSetting, InstabilityReport, NetCard, Perturbations,
};
use barriers_lab::mri::operator::SubsampledFourier;
use barriers_lab::mri::sampling::Mask;

const REPORT: &str = include_str!("../static/reports/instability.json");

fn report() -> InstabilityReport {
    InstabilityReport::from_json(REPORT).expect("the shipped report parses")
}

fn load(
    name: &str,
) -> (
    NetCard,
    barriers_lab::mri::learned::cascade::CascadeNet,
    Mask,
) {
    let card: NetCard = serde_json::from_str(
        &std::fs::read_to_string(format!("static/models/{name}.json")).unwrap(),
    )
    .unwrap();
    let (net, mask) = card
        .load(&std::fs::read(format!("static/models/{name}.safetensors")).unwrap())
        .unwrap();
    (card, net, mask)
}

/// The slice `name` at the report's side.
fn slice(name: &str) -> Vec<f32> {
    let brain = BrainSlices::from_safetensors(
        &std::fs::read("static/data/mri/brain-128.safetensors").unwrap(),
    )
    .unwrap();
    slice_at(&brain, SliceId::from_name(name).unwrap(), report().side).unwrap()
}

#[test]
fn cards_weights_and_perturbations_are_complete_and_within_budget() {
    let r = report();
    assert!(
        r.slices.len() >= 5,
        "the bar is measured on at least 5 slices"
    );
    let shipped = Perturbations::from_safetensors(
        &std::fs::read("static/data/mri/perturbations.safetensors").unwrap(),
    )
    .unwrap();
    for net in &r.networks {
        let (card, _, _) = load(&net.name);
        assert!(card.weights_bytes <= 3 * 1024 * 1024, "{}", card.name);
        assert!((card.held_out.psnr_net - net.psnr_net).abs() < 1e-6);
        for s in &r.demo_slices {
            let rs = shipped.get(&format!("{}/{s}", net.name)).unwrap();
            let fs = shipped.get(&format!("firenet@{}/{s}", net.name)).unwrap();
            assert_eq!((rs.len(), fs.len()), (3, 3));
            // r₁ < r₂ < r₃, and FIRENET's at the same norms.
            let n = |v: &[f32]| v.iter().map(|a| (*a as f64).powi(2)).sum::<f64>().sqrt();
            assert!(n(&rs[0]) < n(&rs[1]) && n(&rs[1]) < n(&rs[2]));
            for (a, b) in rs.iter().zip(fs) {
                assert!((n(a) - n(b)).abs() < 0.02 * n(a));
            }
        }
        // The verdict follows the numbers.
        assert_eq!(net.hallucinating, r.hallucinating.contains(&net.name));
        if net.hallucinating {
            assert!(net.useful && net.psnr_net >= net.psnr_zero_filled + 3.0);
        }
    }
}

#[test]
fn the_shipped_worst_case_reproduces_the_report() {
    // Re-measure the hallucinating (or first) network on the first demo slice with the shipped,
    // 8-bit perturbation r₃: κ within 5% of the report's ascent snapshot.
    let r = report();
    let net_report = r
        .networks
        .iter()
        .find(|n| n.hallucinating)
        .unwrap_or(&r.networks[0]);
    let (_, net, mask) = load(&net_report.name);
    let a = SubsampledFourier::new(mask).unwrap();
    let name = &r.demo_slices[0];
    let x = slice(name);
    let shipped = Perturbations::from_safetensors(
        &std::fs::read("static/data/mri/perturbations.safetensors").unwrap(),
    )
    .unwrap();
    let rs = shipped.get(&format!("{}/{name}", net_report.name)).unwrap();
    let clean = net.reconstruct(&a.measure(&x)).unwrap();
    let measured = net_report.slices.iter().find(|s| &s.slice == name).unwrap();
    let o = outcome(&a, &net, &x, &clean, &rs[2]).unwrap();
    let reported = measured.ascent[2].kappa;
    assert!(
        (o.kappa - reported).abs() <= 0.05 * reported,
        "{} vs {reported}",
        o.kappa
    );
    // Gaussian noise of the same norm: what the report says of it (κ < 1 for the shipped nets).
    let g = gaussian_like(&rs[2], 9);
    let og = outcome(&a, &net, &x, &clean, &g).unwrap();
    assert!(og.kappa < o.kappa);
}

#[test]
fn the_instability_test_through_the_trained_network() {
    let r = report();
    let name = &r.networks[0].name;
    let (_, net, mask) = load(name);
    let a = SubsampledFourier::new(mask).unwrap();
    let x = slice(&r.demo_slices[0]);
    let test = InstabilityTest::new(&a, &net, &x).unwrap();
    // ∇Q against central differences along a direction (f32 network: h large enough).
    let r0: Vec<f32> = (0..x.len())
        .map(|i| 0.01 * (((i * 37) % 23) as f32 / 23.0 - 0.5))
        .collect();
    let d: Vec<f32> = (0..x.len())
        .map(|i| ((i * 11) % 7) as f32 / 7.0 - 0.45)
        .collect();
    let lambda = 1e-3;
    let g = test.gradient(&r0, lambda).unwrap();
    let exact: f64 = g
        .iter()
        .zip(&d)
        .map(|(a, b)| (*a as f64) * (*b as f64))
        .sum();
    let h = 2e-3f32;
    let at = |s: f32| {
        let p: Vec<f32> = r0.iter().zip(&d).map(|(a, b)| a + s * b).collect();
        test.objective(&p, lambda).unwrap()
    };
    let fd = (at(h) - at(-h)) / (2.0 * h as f64);
    assert!(
        (fd - exact).abs() <= 0.03 * exact.abs().max(1e-3),
        "directional derivative: autograd {exact} vs central differences {fd}"
    );
    // The fixed-norm search finds at least the momentum ascent's κ at the same norm.
    let probes = test
        .ascend(
            &Ascent {
                tau: 1e-3,
                iterations: 12,
                ..Ascent::default()
            },
            |_, _| true,
        )
        .unwrap();
    let last = probes.last().unwrap();
    let fixed = test.at_fixed_norm(last.relative_norm, 20, 3).unwrap();
    assert!(
        fixed.kappa >= 0.99 * last.kappa,
        "fixed-norm {} vs ascent {}",
        fixed.kappa,
        last.kappa
    );
    // Zero-filling: κ = 1 ± 0.02 at 2%.
    let zf = ZeroFilling(&a);
    let tz = InstabilityTest::new(&a, &zf, &x).unwrap();
    let k = tz.at_fixed_norm(0.02, 20, 1).unwrap().kappa;
    assert!((k - 1.0).abs() <= 0.02, "zero-filling κ = {k}");
    // FIRENET's search runs in the same setting.
    let fire = FirenetSetting::new(&barriers_lab::engine::CpuEngine, a.mask().side()).unwrap();
    let b = fire.sampling(&a).unwrap();
    let firenet = fire.reconstructor(&b);
    let tf = InstabilityTest::new(&a, &firenet, &x).unwrap();
    assert!(tf.at_fixed_norm(0.02, 5, 1).unwrap().kappa > 0.0);
}

#[test]
fn the_report_is_at_the_papers_scale_with_the_separated_split() {
    let r = report();
    assert_eq!(r.side, 128);
    let v: serde_json::Value = serde_json::from_str(REPORT).unwrap();
    assert_eq!(v["split"], "separated");
    for net in &r.networks {
        for s in &net.slices {
            for a in &s.at {
                // Each method's worst-case error at each norm of the bar.
                assert!(a.error_net.is_some_and(f64::is_finite), "{}", s.slice);
                assert!(a.error_firenet.is_some_and(f64::is_finite), "{}", s.slice);
            }
        }
    }
}

#[test]
fn the_headline_is_worded_after_the_report() {
    // cascade-128 (25% variable density, 128²): κ 0.71–0.86 of FIRENET's on every report slice
    // at 2% and 5%, its worst-case error below FIRENET's everywhere, the bar met on none
    // (static/reports/instability.json).
    let r = report();
    let line = |name: &str| {
        r.networks
            .iter()
            .find(|n| n.name == name)
            .unwrap()
            .headline()
    };
    let c = line("cascade-128");
    assert!(c.contains("less than FIRENET on every report slice"), "{c}");
    assert!(c.contains("on 0 of 6"), "{c}");
    assert!(
        c.contains("exceeds FIRENET's worst-case error on 0 of 6"),
        "{c}"
    );
}
