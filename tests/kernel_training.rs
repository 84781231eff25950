//! The troublesome-kernel curriculum, checked on the shipped network and report
//! (`static/models/cascade-12-kernel.*`, `static/reports/kernel_detail.json`): the card names the
//! detail and `P`; the report's numbers recompute from the shipped weights on a few held-out
//! slices; zero-filling's painted coefficient is the f64 oracle `−Re⟨x_N, z_N⟩/‖z_N‖²`; the
//! kernel-trained network paints clearly more of `z_N` into slices that never had it than the
//! networks, FIRENET and zero-filling do.

use barriers_lab::mri::brain::{BrainSlices, SliceId};
use barriers_lab::mri::instability::{Reconstructor, ZeroFilling};
use barriers_lab::mri::kernel::{widen_real, KernelProjector};
use barriers_lab::mri::learned::hallucination::{halve, NetCard};
use barriers_lab::mri::learned::kernel_training::{
    shipped_detail, KernelDetail, KernelDetailReport,
};
use barriers_lab::mri::operator::SubsampledFourier;

fn report() -> KernelDetailReport {
    KernelDetailReport::from_json(&std::fs::read("static/reports/kernel_detail.json").unwrap())
        .unwrap()
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

#[test]
fn the_card_and_the_report_describe_the_same_curriculum() {
    let r = report();
    let (c, _) = card(&r.kernel_net);
    let curriculum = c
        .training
        .kernel_detail
        .clone()
        .expect("the card names its detail");
    assert_eq!(curriculum.detail, shipped_detail(64));
    assert_eq!(curriculum.detail, r.detail);
    assert_eq!(curriculum.probability, r.probability);
    assert_eq!(c.mask, r.mask);
    assert_eq!(r.t, 1.0);
    assert_eq!(r.slices.len(), 18, "the held-out slices");
    // x and x + z_N have the same data (f32 rounding).
    assert!(r.measurement_gap < 1e-5, "{}", r.measurement_gap);
    let a = SubsampledFourier::new(r.mask.mask(r.side).unwrap()).unwrap();
    let d = KernelDetail::new(&a, &r.detail).unwrap();
    assert!((d.norm() - r.z_n_norm).abs() < 1e-9);
    assert_eq!(d.region().iter().filter(|v| **v).count(), r.region_pixels);
    for name in [
        r.kernel_net.as_str(),
        "cascade-12",
        "firenet",
        "zero-filling",
    ] {
        assert!(r.method(name).is_some(), "the report lacks {name}");
    }
}

#[test]
fn the_numbers_recompute_and_the_kernel_net_paints_the_detail() {
    let r = report();
    let brain = BrainSlices::from_safetensors(
        &std::fs::read("static/data/mri/brain-128.safetensors").unwrap(),
    )
    .unwrap();
    let a = SubsampledFourier::new(r.mask.mask(r.side).unwrap()).unwrap();
    let d = KernelDetail::new(&a, &r.detail).unwrap();
    let p = KernelProjector::new(&a).unwrap();
    let (kc, kw) = card(&r.kernel_net);
    let (kernel_net, _) = kc.load(&kw).unwrap();
    let (cc, cw) = card("cascade-12");
    let (cascade, _) = cc.load(&cw).unwrap();
    let zf = ZeroFilling(&a);
    let methods: [(&str, &dyn Reconstructor); 3] = [
        (r.kernel_net.as_str(), &kernel_net),
        ("cascade-12", &cascade),
        ("zero-filling", &zf),
    ];
    for k in [0, 7, 13] {
        let id = SliceId::from_name(&r.slices[k]).unwrap();
        assert!(id.is_test());
        let x = halve(&brain.image(id).unwrap(), 128).unwrap();
        let y = a.measure(&x);
        for (name, psi) in methods {
            let out = psi.reconstruct(&y).unwrap();
            let shipped = &r.method(name).unwrap().slices[k];
            let c = d.coefficient(&out, &x).unwrap();
            let region = d.in_region(&out, &x).unwrap();
            assert!(
                (c - shipped.c).abs() <= 1e-4,
                "{name} on {id}: {c} vs {}",
                shipped.c
            );
            assert!((region.rms - shipped.region.rms).abs() <= 1e-4);
            if name == "zero-filling" {
                // A*Ax − x = −x_N: the oracle in f64.
                let x_n = p.kernel(&widen_real(&x)).unwrap();
                let oracle = -x_n
                    .iter()
                    .zip(&d.z_n)
                    .map(|(u, v)| (u * v.conj()).re)
                    .sum::<f64>()
                    / d.norm().powi(2);
                assert!((c - oracle).abs() <= 1e-5, "{c} vs {oracle}");
            }
        }
    }
    // The kernel-trained network paints clearly more than every other method on average, and
    // more than the network it was fine-tuned from on every slice (the same data, the same
    // starting weights: the paired comparison). `c` of a single slice also carries how much the
    // slice's own kernel part correlates with z_N (zero-filling's −Re⟨x_N, z_N⟩/‖z_N‖² ranges
    // over ±0.6), hence the means.
    let kernel = r.method(&r.kernel_net).unwrap();
    for m in r.methods.iter().filter(|m| m.name != r.kernel_net) {
        assert!(
            kernel.mean_c > m.mean_c + 0.15,
            "{}: c {} vs {}",
            m.name,
            kernel.mean_c,
            m.mean_c
        );
        assert!(
            m.mean_c.abs() < 0.15,
            "{} paints nothing: {}",
            m.name,
            m.mean_c
        );
    }
    let base = r.method("cascade-12").unwrap();
    for (s, t) in kernel.slices.iter().zip(&base.slices) {
        assert!(s.c > t.c, "on {}: {} vs {}", s.slice, s.c, t.c);
    }
}
