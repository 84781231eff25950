//! The shipped sampling sweep (`lab sampling-sweep`) against the networks' cards: at each
//! network's own training rate it reproduces the card's held-out PSNR, the masks grow, and the
//! stable methods (zero-filling, FIRENET) only gain from more samples.

use barriers_lab::mri::learned::hallucination::NetCard;
use barriers_lab::mri::learned::sweep::SweepReport;

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

/// The stepwise sweep the worker runs (and `lab sampling-sweep` too) reproduces the shipped
/// report on two of its rates — where FIRENET overtakes `cascade-128` — averaged over all
/// held-out slices of the report's split and side, and reads that off as a finding.
#[test]
fn the_shared_sweep_reproduces_the_report_where_firenet_overtakes() {
    use barriers_lab::mri::brain::BrainSlices;
    use barriers_lab::mri::learned::sweep::{split_slices, spread, Sweep, SweepSource};
    let report =
        SweepReport::from_json(&std::fs::read("static/reports/sampling_sweep.json").unwrap())
            .unwrap();
    let brain = BrainSlices::from_safetensors(
        &std::fs::read("static/data/mri/brain-128.safetensors").unwrap(),
    )
    .unwrap();
    let (_, test) = split_slices(&brain, report.side, report.split).unwrap();
    assert_eq!(report.side, 128, "the sweep is at the papers' scale");
    assert_eq!(test.len(), report.slices);
    let loaded: Vec<(NetCard, Vec<u8>)> = report
        .nets
        .iter()
        .map(|n| {
            let card: NetCard = serde_json::from_slice(
                &std::fs::read(format!("static/models/{}.json", n.name)).unwrap(),
            )
            .unwrap();
            let weights = std::fs::read(format!("static/models/{}.safetensors", n.name)).unwrap();
            (card, weights)
        })
        .collect();
    let sources: Vec<SweepSource> = loaded
        .iter()
        .map(|(card, weights)| SweepSource { card, weights })
        .collect();
    // The rates 50% and 60% of the report.
    let ks: Vec<usize> = [0.5, 0.6]
        .iter()
        .map(|r| {
            report
                .rates
                .iter()
                .position(|s| (s - r).abs() < 1e-12)
                .unwrap()
        })
        .collect();
    let rates: Vec<f64> = ks.iter().map(|&k| report.rates[k]).collect();
    let order = spread(test.len(), report.slices).unwrap();
    let mut sweep = Sweep::new(
        &barriers_lab::engine::CpuEngine,
        &sources,
        order.iter().map(|&i| &test[i][..]).collect(),
        &rates,
        report.side,
    )
    .unwrap();
    let mut steps = 0;
    while !sweep.is_done() {
        let (rate, slice) = sweep.position();
        assert_eq!((rate, slice), (steps / test.len(), steps % test.len()));
        let finished = sweep.step().unwrap();
        steps += 1;
        assert_eq!(finished.is_some(), steps % test.len() == 0);
    }
    assert!(
        sweep.step().is_err(),
        "a finished sweep takes no more steps"
    );
    let live = SweepReport::from_points(
        &sources,
        sweep.points(),
        test.len(),
        report.side,
        String::new(),
    )
    .unwrap();
    let (diff, count) = live.max_difference(&report);
    assert_eq!(count, 2 * (2 + report.nets.len()));
    assert!(
        diff < 1e-9,
        "the live sweep differs from the report by {diff} dB"
    );
    for (j, &k) in ks.iter().enumerate() {
        assert_eq!(live.sampled[j], report.sampled[k]);
    }
    // As shipped: cascade-128 (trained at 25%) gains from every added sample but less than
    // FIRENET, which overtakes it at 60% only; the findings say so.
    let net = live
        .nets
        .iter()
        .position(|n| n.name == "cascade-128")
        .unwrap();
    assert!(live.nets[net].psnr[1] > live.nets[net].psnr[0]);
    assert!(live.psnr_firenet[1] > live.nets[net].psnr[1]);
    assert!(live.psnr_firenet[0] < live.nets[net].psnr[0]);
    let f = &report.findings().unwrap()[net];
    assert!(f.losses.is_empty(), "{:?}", f.losses.len());
    assert_eq!(
        report.rates[f.trained], 0.25,
        "cascade-128 was trained at 25%"
    );
    assert_eq!(
        f.firenet_better,
        vec![report.rates.len() - 1],
        "FIRENET overtakes cascade-128 at the highest rate only"
    );
}
