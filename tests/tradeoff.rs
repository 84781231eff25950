//! The shipped accuracy-versus-stability report (`static/reports/tradeoff.json`, `lab tradeoff`):
//! zero-filling's worst case is κ = 1 (the check of the search) and recomputes exactly on every
//! report slice; one network's κ recomputes from the shipped weights on one slice; the PSNRs are
//! those of the model cards, and the networks' κ those of the instability report (the same seeds
//! and iterations).

mod shipped;

use barriers_lab::mri::brain::{BrainSlices, Role, SliceId};
use barriers_lab::mri::instability::{InstabilityTest, ZeroFilling};
use barriers_lab::mri::learned::hallucination::{
    gaussian_like, slice_at, InstabilityReport, NetCard,
};
use barriers_lab::mri::learned::tradeoff::TradeoffReport;
use barriers_lab::mri::operator::SubsampledFourier;

fn report() -> TradeoffReport {
    TradeoffReport::from_json(&std::fs::read("static/reports/tradeoff.json").unwrap()).unwrap()
}

fn card(name: &str) -> (NetCard, Vec<u8>) {
    (
        serde_json::from_str(
            &std::fs::read_to_string(format!("static/models/{name}.json")).unwrap(),
        )
        .unwrap(),
        std::fs::read(format!("static/models/{name}.safetensors")).unwrap(),
    )
}

/// The report slice `name` at the report's side; it is held out under the report's split.
fn slice(brain: &BrainSlices, name: &str) -> Vec<f32> {
    let r = report();
    let id = SliceId::from_name(name).unwrap();
    assert_eq!(r.split.role(id.index), Role::Test, "{name} is held out");
    slice_at(brain, id, r.side).unwrap()
}

#[test]
fn the_report_has_every_method_and_zero_filling_is_the_check() {
    let r = report();
    assert_eq!(r.slices.len(), 6);
    // The 128² setting: the 9 held-out slices of the separated split.
    assert_eq!(r.side, 128);
    assert_eq!(r.split, barriers_lab::mri::brain::Split::Separated);
    assert_eq!((r.rel_r, r.iterations, r.psnr_slices), (0.02, 20, 9));
    for name in [
        "zero-filling",
        "firenet",
        "cascade-128",
        "cascade-128-kernel",
        "warm-cascade-128",
    ] {
        assert!(r.point(name).is_some(), "the report lacks {name}");
    }
    let brain = shipped::brain();
    for p in r.points.iter().filter(|p| p.kind == "linear") {
        // κ ≤ 1 always, = 1 in the row space, which the search finds.
        for k in &p.kappa {
            assert!((k - 1.0).abs() <= 0.02, "{}: κ {k}", p.name);
        }
        // Recompute it exactly, with the report's seeds (zero-filling at the networks' rate).
        assert_eq!(p.name, "zero-filling");
        let spec = card("cascade-128").0.mask;
        let a = SubsampledFourier::new(spec.mask(r.side).unwrap()).unwrap();
        assert!((a.mask().rate() - p.rate).abs() < 1e-12);
        let zf = ZeroFilling(&a);
        for (k, id) in r.slices.iter().enumerate() {
            let x = slice(&brain, id);
            let test = InstabilityTest::new(&a, &zf, &x).unwrap();
            let worst = test
                .at_fixed_norm(r.rel_r, r.iterations, r.seed_base + k as u64)
                .unwrap();
            assert!(
                (worst.kappa - p.kappa[k]).abs() <= 1e-9,
                "{} on {id}",
                p.name
            );
            let g = gaussian_like(&worst.r, r.seed_base + k as u64 + 1000);
            let kg = test.probe(g).unwrap().kappa;
            assert!((kg - p.kappa_gaussian[k]).abs() <= 1e-9);
            // Gaussian noise: only the sampled share of its energy passes, κ ≈ √rate.
            assert!(
                (kg - p.rate.sqrt()).abs() < 0.05,
                "{kg} against √{}",
                p.rate
            );
        }
    }
    // Every method damps Gaussian noise of the worst case's norm, and no trained network is as
    // stable as zero-filling.
    for p in &r.points {
        assert!(p.kappa_gaussian_mean < 1.0, "{}", p.name);
        if p.kind == "trained" {
            assert!(p.kappa_mean > 1.5, "{}: κ {}", p.name, p.kappa_mean);
        }
    }
    assert!(!r.findings().is_empty() && r.summary == r.findings());
}

#[test]
fn the_networks_points_agree_with_their_cards_and_the_instability_report() {
    let r = report();
    let instability = InstabilityReport::from_json(
        &std::fs::read_to_string("static/reports/instability.json").unwrap(),
    )
    .unwrap();
    assert_eq!(instability.slices, r.slices);
    for p in r.points.iter().filter(|p| p.kind == "trained") {
        let (c, _) = card(&p.name);
        assert!(
            (c.held_out.psnr_net - p.psnr).abs() <= 1e-6,
            "{}: card {} vs report {}",
            p.name,
            c.held_out.psnr_net,
            p.psnr
        );
        assert!((c.held_out.ssim_net - p.ssim).abs() <= 1e-6);
        if let Some(n) = instability.networks.iter().find(|n| n.name == p.name) {
            for (s, k) in n.slices.iter().zip(&p.kappa) {
                let at =
                    s.at.iter()
                        .find(|a| (a.rel_r - r.rel_r).abs() < 1e-3)
                        .unwrap();
                assert!(
                    (at.kappa_net - k).abs() <= 1e-6,
                    "{} on {}",
                    p.name,
                    s.slice
                );
            }
        }
    }
    // FIRENET at the networks' rate is the instability report's comparison for cascade-128.
    let fire = r.point("firenet").unwrap();
    let net = instability
        .networks
        .iter()
        .find(|n| n.name == "cascade-128")
        .unwrap();
    for (s, k) in net.slices.iter().zip(&fire.kappa) {
        assert!(
            (s.at[0].kappa_firenet - k).abs() <= 1e-6,
            "FIRENET on {}",
            s.slice
        );
    }
}

#[test]
fn a_network_point_recomputes_from_the_shipped_weights() {
    // cascade-128-kernel on the first report slice: 20 forward/backward passes.
    let r = report();
    let p = r.point("cascade-128-kernel").unwrap();
    let (c, w) = card("cascade-128-kernel");
    let (net, m) = c.load(&w).unwrap();
    let a = SubsampledFourier::new(m).unwrap();
    let x = slice(&shipped::brain(), &r.slices[0]);
    let test = InstabilityTest::new(&a, &net, &x).unwrap();
    let worst = test
        .at_fixed_norm(r.rel_r, r.iterations, r.seed_base)
        .unwrap();
    assert!(
        (worst.kappa - p.kappa[0]).abs() <= 1e-4 * p.kappa[0],
        "{} vs {}",
        worst.kappa,
        p.kappa[0]
    );
    assert!((worst.relative_norm - r.rel_r).abs() < 1e-6);
}

#[test]
fn the_fine_tuned_cards_quality_recomputes_from_their_weights() {
    // The held-out PSNR and SSIM of the fine-tuned networks, as their cards state, from the
    // shipped weights (one forward pass per held-out slice of their split and side): the 64²
    // ones of the interleaved split (18 slices), the 128² one of the separated split (9).
    let brain = shipped::brain();
    for (name, from, count) in [
        ("cascade-12-noise", "cascade-12", 18),
        ("cascade-12-kernel", "cascade-12", 18),
        ("cascade-128-kernel", "cascade-128", 9),
    ] {
        let (c, w) = card(name);
        assert_eq!(
            c.training.init.as_deref(),
            Some(from),
            "{name} is fine-tuned"
        );
        let (_, held) =
            barriers_lab::mri::learned::sweep::split_slices(&brain, c.side, c.split).unwrap();
        assert_eq!(held.len(), count, "{name}");
        let (net, m) = c.load(&w).unwrap();
        let a = SubsampledFourier::new(m).unwrap();
        let (psnr, ssim) =
            barriers_lab::mri::learned::tradeoff::held_out_quality(&a, &net, &held, c.side)
                .unwrap();
        assert!((psnr - c.held_out.psnr_net).abs() < 1e-6, "{name}: {psnr}");
        assert!((ssim - c.held_out.ssim_net).abs() < 1e-6, "{name}: {ssim}");
    }
    let (noise, _) = card("cascade-12-noise");
    assert_eq!(noise.training.noise, Some(0.5));
    assert!(noise.training.kernel_detail.is_none());
    let (kernel, _) = card("cascade-128-kernel");
    assert!(kernel.training.kernel_detail.is_some());
}
