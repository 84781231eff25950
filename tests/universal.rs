//! The shipped universal perturbations and transfer table (`lab universal --write`) against
//! their report: norms, held-out fooling above the target, the random control, the table's
//! diagonal, and a live search reproducing a shipped perturbation from its recorded settings.

use barriers_lab::classification::attack::Model;
use barriers_lab::classification::classifier::{Architecture, Classifier};
use barriers_lab::classification::inference::Network;
use barriers_lab::classification::mnist::Digits;
use barriers_lab::classification::transfer::{
    fooling_table, labels, ShippedUniversal, TransferReport,
};
use barriers_lab::classification::universal::{
    fooling_rate, random_like, Ball, UniversalSearch, MAX_SET,
};
use candle_core::{DType, Device};

fn read(path: &str) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn report() -> TransferReport {
    TransferReport::from_json(&read("static/reports/transfer.json")).unwrap()
}

fn shipped() -> ShippedUniversal {
    ShippedUniversal::from_safetensors(&read("static/data/universal.safetensors")).unwrap()
}

fn network(name: &str) -> Network {
    let arch = Architecture::from_name(name).unwrap();
    let bytes = read(&format!("static/models/{name}.safetensors"));
    let c = Classifier::from_safetensors(arch, &bytes, DType::F32, &Device::Cpu).unwrap();
    Network::from_classifier(&c).unwrap()
}

fn images(d: &Digits) -> Vec<Vec<f64>> {
    (0..d.len())
        .map(|i| d.image(i).iter().map(|&v| v as f64).collect())
        .collect()
}

fn held_out() -> Vec<Vec<f64>> {
    images(&Digits::from_safetensors(&read("static/data/mnist-heldout.safetensors")).unwrap())
}

#[test]
fn the_report_covers_every_model_in_both_balls() {
    let r = report();
    let names: Vec<&str> = Architecture::ALL.iter().map(|a| a.name()).collect();
    assert_eq!(r.models, names);
    let s = shipped();
    assert_eq!(s.len(), 2 * names.len());
    for ball in [Ball::L2, Ball::Linf] {
        let table = r.table(ball).expect("a table per ball");
        for (i, name) in names.iter().enumerate() {
            let card = r.card(name, ball).unwrap();
            // The diagonal is each perturbation's own held-out fooling rate.
            assert_eq!(
                table.fooling[i][i], card.held_out_fooling,
                "{name} {ball:?}"
            );
            assert!(card.held_out_fooling >= r.target, "{name} {ball:?}");
            assert!(
                card.random_fooling < 0.5 * card.held_out_fooling,
                "{name} {ball:?}: the random control fools {} of the digits",
                card.random_fooling
            );
            // The smallest ξ found: every smaller ξ tried missed the target.
            for (xi, rate) in &card.tried {
                if *xi < card.settings.xi {
                    assert!(*rate < r.target, "{name} {ball:?}: ξ = {xi} reached {rate}");
                }
            }
            let v = s.get(name, ball).unwrap();
            assert_eq!(v.len(), 784);
            assert!(ball.norm(&v) <= card.settings.xi * (1.0 + 1e-6));
        }
    }
    assert_eq!(r.fooling, r.table(Ball::L2).unwrap().fooling);
}

#[test]
fn the_l2_table_and_the_controls_recompute_from_the_shipped_files() {
    let r = report();
    let s = shipped();
    let test = held_out();
    let nets: Vec<Network> = r.models.iter().map(|m| network(m)).collect();
    let models: Vec<&dyn Model> = nets.iter().map(|n| n as &dyn Model).collect();
    let l: Vec<Vec<usize>> = models.iter().map(|m| labels(*m, &test).unwrap()).collect();
    let vs: Vec<Vec<f64>> = r
        .models
        .iter()
        .map(|m| s.get(m, Ball::L2).unwrap())
        .collect();
    let table = fooling_table(&models, &l, &vs, &test).unwrap();
    // The shipped vectors are f32: a digit or two on a decision boundary may go either way.
    for (i, row) in table.iter().enumerate() {
        for (j, v) in row.iter().enumerate() {
            assert!(
                (v - r.fooling[i][j]).abs() <= 0.002,
                "{} on {}: {v} against {}",
                r.models[i],
                r.models[j],
                r.fooling[i][j]
            );
        }
    }
    for (i, name) in r.models.iter().enumerate() {
        let card = r.card(name, Ball::L2).unwrap();
        let g = random_like(&vs[i], Ball::L2, card.random_seed);
        let random = fooling_rate(models[i], &test, &l[i], &g).unwrap();
        assert!((random - card.random_fooling).abs() <= 0.002, "{name}");
    }
}

#[test]
fn a_live_search_reproduces_the_shipped_perturbation() {
    let r = report();
    let set = Digits::from_safetensors(&read("static/data/mnist-universal.safetensors")).unwrap();
    let train = Digits::from_safetensors(&read("static/data/mnist-train.safetensors")).unwrap();
    assert_eq!(set.len(), MAX_SET);
    for i in [0, 1, MAX_SET - 1] {
        assert_eq!(
            set.pixels(i),
            train.pixels(i),
            "the demo's X is the first training digits"
        );
    }
    for ball in [Ball::L2, Ball::Linf] {
        let card = r.card("linear", ball).unwrap();
        let net = network("linear");
        let x: Vec<Vec<f64>> = images(&set).into_iter().take(card.count).collect();
        let (v, passes) = UniversalSearch::new(card.settings, &net, x)
            .unwrap()
            .finish()
            .unwrap();
        assert_eq!(passes.len(), card.passes.len());
        let shipped = shipped().get("linear", ball).unwrap();
        let scale = shipped.iter().fold(0.0f64, |m, a| m.max(a.abs()));
        let diff = v
            .iter()
            .zip(&shipped)
            .fold(0.0f64, |m, (a, b)| m.max((a - b).abs()));
        assert!(diff <= 1e-5 * scale, "{ball:?}: {diff} of {scale}");
    }
}
