//! `lab kernel-detail-report`: how much of the troublesome-kernel curriculum's detail each method
//! paints into the held-out slices (none of which has it): `static/reports/kernel_detail.json`.

use crate::progress::{say, Progress};
use barriers_lab::mri::brain::Role;
use barriers_lab::mri::instability::{Reconstructor, ZeroFilling};
use barriers_lab::mri::learned::hallucination::{
    firenet_wavelet, FirenetSetting, NetCard, LARGE_SIDE,
};
use barriers_lab::mri::learned::kernel_training::{
    KernelDetail, KernelDetailReport, PaintedMethod, PaintedSlice,
};
use barriers_lab::mri::learned::sweep::split_slices;
use barriers_lab::mri::operator::{distance, norm, LinearOperator, SubsampledFourier};
use rustfft::num_complex::Complex32;
use std::time::Instant;

/// A card and its network.
fn load(
    dir: &str,
    name: &str,
) -> anyhow::Result<(NetCard, barriers_lab::mri::learned::cascade::CascadeNet)> {
    let (card, net, _) = crate::hallucination::load_net(dir, name)?;
    Ok((card, net))
}

/// The painted coefficient and the region's error of `psi` on every held-out slice.
pub fn measure(
    name: &str,
    title: &str,
    a: &SubsampledFourier,
    psi: &dyn Reconstructor,
    detail: &KernelDetail,
    ids: &[String],
    images: &[Vec<f32>],
) -> anyhow::Result<PaintedMethod> {
    let mut slices = Vec::new();
    let mut psnr = 0.0;
    for (id, x) in ids.iter().zip(images) {
        let out = psi.reconstruct(&a.measure(x))?;
        let magnitude: Vec<f32> = out.iter().map(|z| z.norm()).collect();
        psnr += barriers_lab::mri::metrics::psnr(x, &magnitude, 1.0);
        let xn = x.iter().map(|v| (*v as f64).powi(2)).sum::<f64>().sqrt();
        slices.push(PaintedSlice {
            slice: id.clone(),
            c: detail.coefficient(&out, x)?,
            region: detail.in_region(&out, x)?,
            error: distance(&out, &barriers_lab::mri::fourier::complexify(x)) / xn,
        });
    }
    let cs: Vec<f64> = slices.iter().map(|s| s.c).collect();
    let k = slices.len() as f64;
    let method = PaintedMethod {
        name: name.into(),
        title: title.into(),
        mean_c: cs.iter().sum::<f64>() / k,
        min_c: cs.iter().cloned().fold(f64::INFINITY, f64::min),
        max_c: cs.iter().cloned().fold(f64::NEG_INFINITY, f64::max),
        mean_region_rms: slices.iter().map(|s| s.region.rms).sum::<f64>() / k,
        psnr: psnr / k,
        slices,
    };
    say!(
        "{name}: c mean {:.3} (min {:.3}, max {:.3}); region rms {:.4}; PSNR {:.2} dB",
        method.mean_c,
        method.min_c,
        method.max_c,
        method.mean_region_rms,
        method.psnr
    );
    Ok(method)
}

/// Measures the kernel-trained network `kernel_net` (its card holds the detail and `P`), the
/// other networks `others`, FIRENET and zero-filling with the kernel net's mask on the 18
/// held-out slices; writes `out` (with `write`) or prints only.
pub fn report(
    dir: &str,
    kernel_net: &str,
    others: &[String],
    out: Option<&str>,
) -> anyhow::Result<()> {
    let started = Instant::now();
    let (card, net) = load(dir, kernel_net)?;
    let curriculum = card.training.kernel_detail.clone().ok_or_else(|| {
        anyhow::anyhow!("{kernel_net} was not trained with a kernel detail (its card has none)")
    })?;
    let side = card.side;
    let m = card.mask.mask(side)?;
    // Every held-out slice of the network's split, at its side.
    let brain = crate::mri::brain(LARGE_SIDE)?;
    let (_, images) = split_slices(&brain, side, card.split)?;
    let ids: Vec<String> = brain
        .slices(card.split, Role::Test)
        .iter()
        .map(|id| id.to_string())
        .collect();
    let a = SubsampledFourier::new(m)?;
    let detail = KernelDetail::new(&a, &curriculum.detail)?;
    // x′ = x + z_N has the measurements of x, up to rounding.
    let mut gap: f64 = 0.0;
    for x in &images {
        let x_prime = detail.add_to(x)?;
        let mut y_prime = vec![Complex32::default(); a.output_len()];
        a.apply(&x_prime, &mut y_prime);
        let y = a.measure(x);
        gap = gap.max(distance(&y, &y_prime) / norm(&y));
    }
    say!(
        "detail {:?}, P = {}: ‖z‖ {:.3}, ‖z_N‖ {:.3}; max ‖Ax − Ax′‖/‖Ax‖ = {gap:.2e}",
        curriculum.detail,
        curriculum.probability,
        detail
            .z
            .iter()
            .map(|v| (*v as f64).powi(2))
            .sum::<f64>()
            .sqrt(),
        detail.norm()
    );
    // One unit per method: the kernel net, the others, FIRENET and zero-filling.
    let progress = Progress::new("kernel-detail-report", others.len() + 3);
    let mut methods = vec![measure(
        kernel_net,
        &card.title,
        &a,
        &net,
        &detail,
        &ids,
        &images,
    )?];
    progress.inc();
    for name in others {
        let (c, n) = load(dir, name)?;
        anyhow::ensure!(
            c.mask == card.mask && c.side == card.side && c.split == card.split,
            "{name} was trained with another mask, side or split than {kernel_net}"
        );
        methods.push(measure(name, &c.title, &a, &n, &detail, &ids, &images)?);
        progress.inc();
    }
    let fire = FirenetSetting::new(&barriers_lab::engine::CpuEngine, side)?;
    let (wavelet, levels) = firenet_wavelet(side);
    let b = fire.sampling(&a)?;
    let firenet = fire.reconstructor(&b);
    methods.push(measure(
        "firenet",
        &format!(
            "FIRENET ({}, {levels} levels, unit weights)",
            wavelet.name()
        ),
        &a,
        &firenet,
        &detail,
        &ids,
        &images,
    )?);
    progress.inc();
    methods.push(measure(
        "zero-filling",
        "Zero-filling A*y",
        &a,
        &ZeroFilling(&a),
        &detail,
        &ids,
        &images,
    )?);
    drop(progress);
    let report = KernelDetailReport {
        side,
        split: card.split,
        mask: card.mask,
        detail: curriculum.detail.clone(),
        t: 1.0,
        probability: curriculum.probability,
        kernel_net: kernel_net.into(),
        z_norm: detail
            .z
            .iter()
            .map(|v| (*v as f64).powi(2))
            .sum::<f64>()
            .sqrt(),
        z_n_norm: detail.norm(),
        region_pixels: detail.region().iter().filter(|v| **v).count(),
        z_n_in_region: detail.detail_in_region(),
        slices: ids,
        methods,
        measurement_gap: gap,
        command: format!(
            "cargo run --release --bin lab -- kernel-detail-report --net {kernel_net} --nets {}",
            others.join(",")
        ),
    };
    if let Some(path) = out {
        crate::write_json(path, &report)?;
        say!("wrote {path} ({:.0} s)", started.elapsed().as_secs_f64());
    } else {
        say!(
            "({:.0} s; not written: pass --write)",
            started.elapsed().as_secs_f64()
        );
    }
    Ok(())
}
