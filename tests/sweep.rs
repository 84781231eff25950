//! The shipped sampling sweep (`lab sampling-sweep`) against the networks' cards: at each
//! network's own training rate it reproduces the card's held-out PSNR, the masks grow, and the
//! stable methods (zero-filling, FIRENET) only gain from more samples.

use barriers_lab::hallucination::NetCard;
use barriers_lab::sweep::SweepReport;

#[test]
fn the_sweep_matches_the_cards_and_stable_methods_gain_from_samples() {
    let report =
        SweepReport::from_json(&std::fs::read("static/reports/sampling_sweep.json").unwrap())
            .unwrap();
    assert!(report.sampled.windows(2).all(|w| w[0] < w[1]));
    for net in &report.nets {
        let card: NetCard = serde_json::from_slice(
            &std::fs::read(format!("static/models/{}.json", net.name)).unwrap(),
        )
        .unwrap();
        // The rate of the sweep whose mask is the card's (whole lines: 7.5% samples 7.8%).
        let trained = card.mask.mask(card.side).unwrap().rate();
        let k = report
            .sampled
            .iter()
            .position(|r| (r - trained).abs() < 1e-9)
            .unwrap_or_else(|| panic!("{}'s training rate is in the sweep", net.name));
        assert!(
            (net.psnr[k] - card.held_out.psnr_net).abs() < 0.01,
            "{}: {} against the card's {}",
            net.name,
            net.psnr[k],
            card.held_out.psnr_net
        );
        assert!((report.psnr_firenet[k] - card.held_out.psnr_firenet).abs() < 0.01);
        assert_eq!(report.slices, card.held_out.slices);
    }
    for curve in [&report.psnr_zero_filled, &report.psnr_firenet] {
        assert!(
            curve.windows(2).all(|w| w[1] >= w[0] - 0.05),
            "a stable method lost accuracy with more samples: {curve:?}"
        );
    }
}
