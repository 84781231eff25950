//! `lab warm-start-report`: Ψ followed by FIRENET (`ΦΨ`: Ψ's output as FIRENET's initial guess,
//! the same data) against Ψ and FIRENET alone, for every shipped network: held-out quality, the
//! output change under the shipped perturbations, `ΦΨ`'s own worst case (the instability
//! report's fixed-norm search, same seeds and budget) and the settings of the FIRENET stage tried.

use crate::hallucination::ReportSetting;
use crate::progress::{say, Progress};
use barriers_lab::mri::firenet::Firenet;
use barriers_lab::mri::instability::{InstabilityTest, Reconstructor};
use barriers_lab::mri::learned::hallucination::{
    firenet_wavelet, gaussian_like, outcome, FirenetSetting, InstabilityReport, Perturbations,
};
use barriers_lab::mri::learned::warm_start::{
    ShippedChange, Variant, WarmAtNorm, WarmCurvePoint, WarmNet, WarmSlice, WarmStart,
};
use barriers_lab::mri::metrics::{psnr, ssim};
use barriers_lab::mri::operator::{
    distance, norm, LinearOperator, SubsampledFourier, WaveletSampling,
};
use barriers_lab::mri::wavelet::{Wavelet, Wavelet2};
use rustfft::num_complex::Complex32;
use std::time::Instant;

fn magnitudes(v: &[Complex32]) -> Vec<f32> {
    v.iter().map(|z| z.norm()).collect()
}

/// How a variant of the FIRENET stage picks `ε₀`.
#[derive(Clone, Copy)]
enum Epsilon0 {
    /// `s‖y‖₂`.
    Data(f32),
    /// `‖Bψ₀ − y‖₂`, the initial guess' residual.
    Residual,
}

/// A setting of the FIRENET stage tried.
struct Setting {
    wavelet: Wavelet,
    lambda: f64,
    blocks: usize,
    layers: usize,
    epsilon0: Epsilon0,
}

impl Setting {
    fn epsilon_label(&self) -> String {
        match self.epsilon0 {
            Epsilon0::Data(1.0) => "‖y‖".into(),
            Epsilon0::Data(s) => format!("{s}‖y‖"),
            Epsilon0::Residual => "‖Bψ₀ − y‖".into(),
        }
    }
}

/// The settings tried at side `side`, the shipped one first (FIRENET's wavelet at that side,
/// [`firenet_wavelet`]; the last one with the other wavelet of the two).
fn settings(side: usize) -> Vec<Setting> {
    let s = |wavelet, lambda, blocks, layers, epsilon0| Setting {
        wavelet,
        lambda,
        blocks,
        layers,
        epsilon0,
    };
    use Epsilon0::{Data, Residual};
    let w = firenet_wavelet(side).0;
    let other = match w {
        Wavelet::Haar => Wavelet::Db4,
        _ => Wavelet::Haar,
    };
    vec![
        s(w, 1e-3, 5, 10, Data(1.0)),
        s(w, 1e-3, 5, 10, Residual),
        s(w, 1e-3, 5, 10, Data(0.1)),
        s(w, 1e-3, 5, 10, Data(0.3)),
        s(w, 1e-3, 1, 10, Data(1.0)),
        s(w, 1e-3, 2, 10, Data(1.0)),
        s(w, 1e-3, 5, 20, Data(1.0)),
        s(w, 1e-3, 20, 20, Data(1.0)),
        s(w, 1e-2, 5, 10, Data(1.0)),
        s(other, 1e-3, 5, 10, Data(1.0)),
    ]
}

/// The FIRENET stage of `setting` on Ψ's output `out` with data `y`.
fn stage(
    setting: &Setting,
    wavelet: &Wavelet2,
    b: &WaveletSampling,
    y: &[Complex32],
    out: &[Complex32],
) -> anyhow::Result<Vec<Complex32>> {
    let firenet = Firenet {
        lambda: setting.lambda as f32,
        blocks: setting.blocks,
        layers_per_block: setting.layers,
        ..Firenet::default()
    };
    let mut psi0 = vec![Complex32::default(); out.len()];
    wavelet.forward_complex(out, &mut psi0);
    let epsilon0 = match setting.epsilon0 {
        Epsilon0::Data(s) => s * norm(y) as f32,
        Epsilon0::Residual => {
            let mut bz = vec![Complex32::default(); y.len()];
            b.apply(&psi0, &mut bz);
            distance(&bz, y) as f32
        }
    };
    let weights = vec![1.0; out.len()];
    let mut run = firenet.start_with_epsilon(b, y, &weights, Some(&psi0), epsilon0)?;
    while run.next_block(|_, _| true)? {}
    let psi = run.finish();
    let mut x = vec![Complex32::default(); psi.len()];
    wavelet.inverse_complex(&psi, &mut x);
    Ok(x)
}

/// `(y, Ψ(y))` pairs.
type Outputs = Vec<(Vec<Complex32>, Vec<Complex32>)>;

/// A setting's held-out PSNR and its change under the shipped perturbations relative to Ψ's
/// (`cases`: per demo slice, the clean pair then one per `r_j`).
fn variant(
    setting: &Setting,
    a: &SubsampledFourier,
    held: &[Vec<f32>],
    held_out: &Outputs,
    cases: &[Outputs],
) -> anyhow::Result<Variant> {
    let side = a.mask().side();
    let wavelet = Wavelet2::new(setting.wavelet, side, firenet_wavelet(side).1)?;
    let b = WaveletSampling::new(a, &wavelet)?;
    let mut total = 0.0;
    for (x, (y, out)) in held.iter().zip(held_out) {
        total += psnr(x, &magnitudes(&stage(setting, &wavelet, &b, y, out)?), 1.0);
    }
    let mut ratios = Vec::new();
    for row in cases {
        let clean = stage(setting, &wavelet, &b, &row[0].0, &row[0].1)?;
        for (y, out) in &row[1..] {
            let warm = stage(setting, &wavelet, &b, y, out)?;
            ratios.push(distance(&warm, &clean) / distance(out, &row[0].1));
        }
    }
    Ok(Variant {
        wavelet: setting.wavelet.name().to_string(),
        lambda: setting.lambda,
        blocks: setting.blocks,
        layers_per_block: setting.layers,
        epsilon0: setting.epsilon_label(),
        psnr: total / held.len() as f64,
        ratio_mean: ratios.iter().sum::<f64>() / ratios.len().max(1) as f64,
        ratio_max: ratios.iter().cloned().fold(0.0, f64::max),
    })
}

/// The fixed-norm search's iterations and the norms of the instability report.
fn report_search() -> anyhow::Result<(usize, Vec<f64>)> {
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string("static/reports/instability.json")?)?;
    let fixed = &v["search"]["fixed_norm"];
    let iterations = fixed["iterations"]
        .as_u64()
        .ok_or_else(|| anyhow::anyhow!("the instability report has no search budget"))?;
    let norms = fixed["norms"]
        .as_array()
        .ok_or_else(|| anyhow::anyhow!("the instability report has no norms"))?
        .iter()
        .map(|n| {
            n.as_f64()
                .ok_or_else(|| anyhow::anyhow!("a norm is not a number"))
        })
        .collect::<anyhow::Result<_>>()?;
    Ok((iterations as usize, norms))
}

/// Measures Ψ → FIRENET for every listed network; writes `static/reports/warm_start.json`.
pub fn warm_start_report(dir: &str, names: &[String]) -> anyhow::Result<()> {
    let started = Instant::now();
    let setting = ReportSetting::of(dir, names)?;
    let (side, held) = (setting.side, &setting.held);
    let report =
        InstabilityReport::from_json(&std::fs::read_to_string("static/reports/instability.json")?)?;
    let (iterations, norms) = report_search()?;
    let shipped = Perturbations::from_safetensors(&std::fs::read(
        "static/data/mri/perturbations.safetensors",
    )?)?;
    let image = |s: &str| setting.image(s);
    let mut networks = Vec::new();
    // One unit for the held-out quality, then one per demo slice, setting and report slice.
    let per_net = 1 + report.demo_slices.len() + settings(side).len() + report.slices.len();
    let progress = Progress::new("warm-start-report", names.len() * per_net);
    for name in names {
        progress.message(name.as_str());
        let t = Instant::now();
        let (card, net, a) = crate::hallucination::load_net(dir, name)?;
        let fire = FirenetSetting::new(&barriers_lab::engine::CpuEngine, side)?;
        let b = fire.sampling(&a)?;
        let warm = WarmStart::new(&net, &fire, &b);
        let net_report = report
            .networks
            .iter()
            .find(|n| &n.name == name)
            .ok_or_else(|| anyhow::anyhow!("{name} is not in the instability report"))?;

        // Held-out quality: zero-filling, FIRENET and Ψ as every network is judged
        // (`sweep::quality`), then Ψ → FIRENET; Ψ's outputs kept for the variants.
        let quality = crate::hallucination::held_out(&a, &net, held)?;
        let (mut psnr_warm, mut ssim_warm) = (0.0f64, 0.0f64);
        let mut held_out: Outputs = Vec::new();
        for x in held {
            let y = a.measure(x);
            let out = net.reconstruct(&y)?;
            let refined = magnitudes(&warm.refine(&y, &out)?);
            psnr_warm += psnr(x, &refined, 1.0);
            ssim_warm += ssim(x, &refined, side, 1.0);
            held_out.push((y, out));
        }
        let k = held.len() as f64;
        let (psnr_warm, ssim_warm) = (psnr_warm / k, ssim_warm / k);
        progress.inc();
        say!(
            "{name}: held-out PSNR ({} slices) zero-filled {:.2}, FIRENET {:.2}, Ψ {:.2}, Ψ → FIRENET {:.2} dB; SSIM FIRENET {:.3}, Ψ {:.3}, Ψ → FIRENET {:.3}",
            held.len(), quality.psnr_zero_filled, quality.psnr_firenet, quality.psnr_net, psnr_warm, quality.ssim_firenet, quality.ssim_net, ssim_warm
        );

        // The shipped perturbations (found against Ψ) on the demo slices.
        let mut changes = Vec::new();
        let mut cases: Vec<Outputs> = Vec::new();
        for s in &report.demo_slices {
            let x = image(s)?;
            let y = a.measure(&x);
            let clean_net = net.reconstruct(&y)?;
            let clean_warm = warm.refine(&y, &clean_net)?;
            let mut row = vec![(y, clean_net.clone())];
            for (j, r) in shipped.get(&format!("{name}/{s}"))?.iter().enumerate() {
                let on = outcome(&a, &net, &x, &clean_net, r)?;
                let ow = outcome(&a, &warm, &x, &clean_warm, r)?;
                let rn = r.iter().map(|v| (*v as f64).powi(2)).sum::<f64>().sqrt();
                let xr: Vec<f32> = x.iter().zip(r).map(|(p, q)| p + q).collect();
                let yr = a.measure(&xr);
                let out = net.reconstruct(&yr)?;
                let null_share = |o: &[Complex32], c: &[Complex32]| {
                    let d: Vec<Complex32> = o.iter().zip(c).map(|(p, q)| p - q).collect();
                    let mut ad = vec![Complex32::default(); a.output_len()];
                    a.apply(&d, &mut ad);
                    1.0 - (norm(&ad) / norm(&d).max(f64::MIN_POSITIVE)).powi(2)
                };
                let null_share_net = null_share(&out, &clean_net);
                let null_share_warm = null_share(&warm.refine(&yr, &out)?, &clean_warm);
                let c = ShippedChange {
                    slice: s.clone(),
                    index: j + 1,
                    rel_r: on.rel_r,
                    change_net: on.kappa * rn,
                    change_warm: ow.kappa * rn,
                    kappa_net: on.kappa,
                    kappa_warm: ow.kappa,
                    share_net: on.concentration.share,
                    share_warm: ow.concentration.share,
                    null_share_net,
                    null_share_warm,
                };
                say!(
                    "{name} {s} r{}: ‖r‖/‖x‖ {:.2}%, change Ψ {:.3} → Ψ → FIRENET {:.3} (ratio {:.3}); κ {:.2} → {:.2}; share {:.2} → {:.2}; in the null space of A {:.2} → {:.2}",
                    c.index, c.rel_r * 100.0, c.change_net, c.change_warm, c.change_warm / c.change_net,
                    c.kappa_net, c.kappa_warm, c.share_net, c.share_warm, c.null_share_net, c.null_share_warm
                );
                changes.push(c);
                row.push((yr, out));
            }
            cases.push(row);
            progress.inc();
        }

        // The settings of the FIRENET stage tried (forward only, Ψ's outputs reused).
        let mut variants = Vec::new();
        for variant_setting in settings(side) {
            let v = variant(&variant_setting, &a, held, &held_out, &cases)?;
            say!(
                "{name} variant {} λ={} {}×{} ε₀={}: PSNR {:.2} dB ({:+.2} against Ψ); change / Ψ's: mean {:.3}, largest {:.3}",
                v.wavelet, v.lambda, v.blocks, v.layers_per_block, v.epsilon0, v.psnr, v.psnr - quality.psnr_net, v.ratio_mean, v.ratio_max
            );
            variants.push(v);
            progress.inc();
        }

        // ΦΨ's own worst case: every report slice at the report's norms, the demo slices also
        // at the error curve's norms (same seeds and budget as the instability report).
        let mut slices_out = Vec::new();
        for (k, s) in report.slices.iter().enumerate() {
            let x = image(s)?;
            let test = InstabilityTest::new(&a, &warm, &x)?;
            let seed = 100 + k as u64;
            let reported = net_report.slices.iter().find(|r| &r.slice == s);
            let curve_norms: Vec<f64> = if report.demo_slices.contains(s) {
                reported
                    .map(|r| r.curve.iter().map(|p| p.rel_r).collect())
                    .unwrap_or_default()
            } else {
                Vec::new()
            };
            let mut all: Vec<f64> = norms.iter().chain(&curve_norms).cloned().collect();
            all.sort_by(f64::total_cmp);
            all.dedup_by(|p, q| (*p - *q).abs() < 1e-9);
            let mut at = Vec::new();
            let mut curve = Vec::new();
            for rho in all {
                let probe = test.at_fixed_norm(rho, iterations, seed)?;
                let worst = outcome(&a, &warm, &x, test.clean(), &probe.r)?;
                let random = outcome(
                    &a,
                    &warm,
                    &x,
                    test.clean(),
                    &gaussian_like(&probe.r, seed + 1000),
                )?;
                if curve_norms.iter().any(|c| (c - rho).abs() < 1e-9) {
                    curve.push(WarmCurvePoint {
                        rel_r: rho,
                        warm_worst: worst.error,
                        warm_random: random.error,
                    });
                }
                if norms.iter().any(|c| (c - rho).abs() < 1e-9) {
                    let (kappa_net, kappa_firenet) = reported
                        .and_then(|r| r.at.iter().find(|p| (p.rel_r - rho).abs() < 1e-4))
                        .map(|p| (p.kappa_net, p.kappa_firenet))
                        .unwrap_or((f64::NAN, f64::NAN));
                    say!(
                        "{name} {s} at {:.0}%: worst-case κ Ψ → FIRENET {:.2} (Gaussian {:.2}, share {:.2}); report: Ψ {kappa_net:.2}, FIRENET {kappa_firenet:.2} ({:.0} s)",
                        rho * 100.0, worst.kappa, random.kappa, worst.concentration.share, t.elapsed().as_secs_f64()
                    );
                    at.push(WarmAtNorm {
                        rel_r: rho,
                        kappa_warm: worst.kappa,
                        kappa_net,
                        kappa_firenet,
                        kappa_warm_random: random.kappa,
                        share_warm: worst.concentration.share,
                    });
                }
            }
            slices_out.push(WarmSlice {
                slice: s.clone(),
                at,
                curve,
            });
            progress.inc();
        }
        networks.push(WarmNet {
            name: name.clone(),
            title: card.title.clone(),
            psnr_zero_filled: quality.psnr_zero_filled,
            psnr_firenet: quality.psnr_firenet,
            psnr_net: quality.psnr_net,
            psnr_warm,
            ssim_firenet: quality.ssim_firenet,
            ssim_net: quality.ssim_net,
            ssim_warm,
            shipped: changes,
            slices: slices_out,
            variants,
        });
        say!("{name}: {:.0} s", t.elapsed().as_secs_f64());
    }
    drop(progress);
    for n in &networks {
        let mean = |f: fn(&WarmAtNorm) -> f64, j: usize| {
            n.slices.iter().map(|s| f(&s.at[j])).sum::<f64>() / n.slices.len() as f64
        };
        let ratios: Vec<f64> = n
            .shipped
            .iter()
            .map(|c| c.change_warm / c.change_net)
            .collect();
        say!(
            "{}: PSNR Ψ {:.2} → Ψ → FIRENET {:.2} (FIRENET {:.2}) dB; shipped perturbations: change ratio {:.2}–{:.2}; {}",
            n.name,
            n.psnr_net,
            n.psnr_warm,
            n.psnr_firenet,
            ratios.iter().cloned().fold(f64::INFINITY, f64::min),
            ratios.iter().cloned().fold(0.0, f64::max),
            norms
                .iter()
                .enumerate()
                .map(|(j, rho)| format!(
                    "mean worst-case κ at {:.0}%: Ψ {:.2}, Ψ → FIRENET {:.2}, FIRENET {:.2}",
                    rho * 100.0,
                    mean(|a| a.kappa_net, j),
                    mean(|a| a.kappa_warm, j),
                    mean(|a| a.kappa_firenet, j)
                ))
                .collect::<Vec<_>>()
                .join("; ")
        );
    }
    let json = serde_json::json!({
        "generated_by": format!("cargo run --release --bin lab -- warm-start-report --nets {}", names.join(",")),
        "side": side,
        "split": setting.split.name(),
        "method": "ΦΨ(y) = W⁻¹ψ_n(y; ψ₀ = WΨ(y)): FIRENET from Ψ's output with the same data; ε₀ = ‖y‖ (FIRENET's own restart scheme)",
        "firenet": { "wavelet": firenet_wavelet(side).0.name(), "levels": firenet_wavelet(side).1, "settings": format!("{:?}", Firenet::default()) },
        "search": { "fixed_norm": { "iterations": iterations, "norms": norms, "seeds": "100 + index of the slice in the instability report, as there" }, "random": "Gaussian noise of the norm of the worst case (seed + 1000)" },
        "note": "the shipped perturbations exist for the demo slices only, so the output change under them is measured there; the worst case of Ψ → FIRENET on every report slice at the report's norms, and on the demo slices also at the error curve's norms; variants: forward only, Ψ's outputs reused",
        "networks": networks,
        "seconds": started.elapsed().as_secs_f64(),
    });
    crate::write_json("static/reports/warm_start.json", &json)?;
    say!(
        "wrote static/reports/warm_start.json ({:.0} s)",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}
