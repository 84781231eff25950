//! Accuracy against stability (the trade-off of Antun & Colbrook's lecture, and of Gottschling,
//! Antun, Adcock & Hansen, "The troublesome kernel", SIAM Review 2025): for every reconstruction
//! method of the lab, one point
//!
//! - accuracy: the mean PSNR of `|Ψ(Ax)|` over the held-out slices (clean measurements);
//! - stability: the worst-case amplification found by the same search for every method,
//!   `κ = ‖Ψ(A(x + r)) − Ψ(Ax)‖₂ / ‖r‖₂` at `‖r‖₂/‖x‖₂ = ρ` ([`crate::mri::instability::FixedNormSearch`],
//!   20 iterations, seeded; the instability test of Antun et al., PNAS 2020), and for comparison
//!   the same ratio for Gaussian noise of the same norm.
//!
//! Zero-filling `Ψ = A*` has `κ = ‖A*A r‖/‖r‖ ≤ 1` with equality for `r` in the row space: the
//! search finds κ = 1, the check of the measure. The lecture's point: a method much more accurate
//! than what the measurements determine must amplify some small perturbations (the kernel
//! argument of [`crate::mri::kernel`]).
//!
//! `static/reports/tradeoff.json` is written by `lab tradeoff`; this module holds its form.

use crate::{Error, Result};
use serde::{Deserialize, Serialize};

/// One method of the trade-off.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TradeoffPoint {
    /// Identifier (also the page's `?method=`).
    pub name: String,
    /// One line for the legend.
    pub title: String,
    /// `"linear"`, `"unrolled"`, `"trained"` or `"warm start"`.
    pub kind: String,
    /// Share of k-space sampled.
    pub rate: f64,
    /// Mean held-out PSNR (dB), clean measurements.
    pub psnr: f64,
    /// Mean held-out SSIM.
    pub ssim: f64,
    /// Worst-case κ on each report slice (order of [`TradeoffReport::slices`]).
    pub kappa: Vec<f64>,
    pub kappa_mean: f64,
    pub kappa_max: f64,
    /// κ of Gaussian noise of the same norm as each worst case.
    pub kappa_gaussian: Vec<f64>,
    pub kappa_gaussian_mean: f64,
    /// Wall time of this method's measurements (s, natively).
    pub seconds: f64,
    /// How the method was made (a network's training, from its card; empty for the fixed
    /// methods).
    #[serde(default)]
    pub training: String,
}

/// `static/reports/tradeoff.json`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TradeoffReport {
    pub side: usize,
    /// The train / held-out split of the held-out slices (absent in the 64² reports: the
    /// interleaved split).
    #[serde(default)]
    pub split: crate::mri::brain::Split,
    /// `ρ = ‖r‖/‖x‖` of the worst-case search.
    pub rel_r: f64,
    /// Iterations of every search.
    pub iterations: usize,
    /// The seed of slice `k` is `seed_base + k` (as in the instability report).
    pub seed_base: u64,
    /// The report slices of κ.
    pub slices: Vec<String>,
    /// How many held-out slices the PSNR is a mean over.
    pub psnr_slices: usize,
    pub points: Vec<TradeoffPoint>,
    /// What was measured, in words (for the page).
    pub summary: String,
    pub command: String,
}

impl TradeoffReport {
    /// Parses the report and checks it (one κ per slice, finite numbers, unique names).
    pub fn from_json(bytes: &[u8]) -> Result<Self> {
        let r: Self = serde_json::from_slice(bytes)
            .map_err(|e| Error::Data(format!("the trade-off report is malformed: {e}")))?;
        let bad = |m: String| Err(Error::Data(format!("the trade-off report {m}")));
        if r.points.is_empty() || r.slices.is_empty() {
            return bad("has no points or no slices".into());
        }
        for (i, p) in r.points.iter().enumerate() {
            if p.kappa.len() != r.slices.len() || p.kappa_gaussian.len() != r.slices.len() {
                return bad(format!("does not have one κ per slice for '{}'", p.name));
            }
            let numbers = [p.psnr, p.ssim, p.kappa_mean, p.kappa_max, p.rate];
            if numbers
                .iter()
                .chain(&p.kappa)
                .chain(&p.kappa_gaussian)
                .any(|v| !v.is_finite())
            {
                return bad(format!("has a number that is not finite for '{}'", p.name));
            }
            if r.points[..i].iter().any(|q| q.name == p.name) {
                return bad(format!("names '{}' twice", p.name));
            }
        }
        Ok(r)
    }

    /// The point called `name`.
    pub fn point(&self, name: &str) -> Option<&TradeoffPoint> {
        self.points.iter().find(|p| p.name == name)
    }

    /// Orders the points: linear, unrolled, trained, warm starts; within a kind by falling rate,
    /// then by name.
    pub fn sort(&mut self) {
        let rank = |k: &str| KINDS.iter().position(|x| *x == k).unwrap_or(KINDS.len());
        self.points.sort_by(|p, q| {
            rank(&p.kind)
                .cmp(&rank(&q.kind))
                .then(q.rate.total_cmp(&p.rate))
                .then(p.name.cmp(&q.name))
        });
    }

    /// What the points show, in sentences computed from the numbers, joined (the report's
    /// `summary`).
    pub fn findings(&self) -> String {
        self.finding_list().join(" ")
    }

    /// [`TradeoffReport::findings`] one sentence at a time (for the page's list).
    pub fn finding_list(&self) -> Vec<String> {
        let mut out = Vec::new();
        if let Some(zf) = self.point("zero-filling") {
            out.push(format!(
                "Zero-filling's worst case is κ = {:.3} (largest {:.3}), the check of the search: \
                 ‖A*A r‖ ≤ ‖r‖, with equality in the row space.",
                zf.kappa_mean, zf.kappa_max
            ));
        }
        let best = self.points.iter().max_by(|p, q| p.psnr.total_cmp(&q.psnr));
        let fire_at = |rate: f64| {
            self.points
                .iter()
                .find(|p| p.kind == "unrolled" && (p.rate - rate).abs() < 1e-9)
        };
        if let Some(b) = best {
            let mut s = format!(
                "The most accurate method is {} ({:.2} dB) with mean worst-case κ {:.2}",
                b.name, b.psnr, b.kappa_mean
            );
            if let Some(f) = fire_at(b.rate) {
                s += &format!(
                    ", against FIRENET's {:.2} dB and κ {:.2} at the same rate ({:+.2} dB, κ × {:.2})",
                    f.psnr,
                    f.kappa_mean,
                    b.psnr - f.psnr,
                    b.kappa_mean / f.kappa_mean
                );
            }
            out.push(s + ".");
        }
        let compare = |name: &str, base: &str, what: &str| -> Option<String> {
            let (p, q) = (self.point(name)?, self.point(base)?);
            let verdict = match (p.psnr > q.psnr, p.kappa_mean > q.kappa_mean) {
                (true, true) => "more accurate and less stable",
                (false, false) => "less accurate and more stable",
                (true, false) => "more accurate and more stable",
                (false, true) => "less accurate and less stable",
            };
            Some(format!(
                "{name} ({what}) against {base}: clean PSNR {:+.2} dB ({:.2} → {:.2}), mean \
                 worst-case κ {:+.0}% ({:.2} → {:.2}; Gaussian κ {:.2} → {:.2}): {verdict}.",
                p.psnr - q.psnr,
                q.psnr,
                p.psnr,
                100.0 * (p.kappa_mean / q.kappa_mean - 1.0),
                q.kappa_mean,
                p.kappa_mean,
                q.kappa_gaussian_mean,
                p.kappa_gaussian_mean
            ))
        };
        // Each fine-tuned variant against the network it was fine-tuned from (`<net>-noise`,
        // `<net>-kernel`).
        for p in self.points.iter().filter(|p| p.kind == "trained") {
            let variants = [
                ("-noise", "fine-tuned with noisy measurements"),
                (
                    "-kernel",
                    "fine-tuned with the troublesome-kernel curriculum",
                ),
            ];
            for (suffix, what) in variants {
                if let Some(base) = p.name.strip_suffix(suffix) {
                    out.extend(compare(&p.name, base, what));
                }
            }
        }
        for p in self.points.iter().filter(|p| p.kind == "warm start") {
            if let Some(net) = p.name.strip_prefix("warm-").and_then(|n| self.point(n)) {
                out.extend(compare(
                    &p.name,
                    &net.name,
                    "FIRENET started from its output",
                ));
            }
        }
        // How often the more accurate of two methods is also the less stable one.
        let (mut agree, mut pairs) = (0, 0);
        for (i, p) in self.points.iter().enumerate() {
            for q in &self.points[i + 1..] {
                if p.psnr != q.psnr && p.kappa_mean != q.kappa_mean {
                    pairs += 1;
                    if (p.psnr > q.psnr) == (p.kappa_mean > q.kappa_mean) {
                        agree += 1;
                    }
                }
            }
        }
        if pairs > 0 {
            out.push(format!(
                "In {agree} of {pairs} pairs of methods the more accurate one has the larger \
                 worst-case κ."
            ));
        }
        out
    }
}

/// The kinds of method, in the order of the legend.
pub const KINDS: [&str; 4] = ["linear", "unrolled", "trained", "warm start"];

/// Mean PSNR and SSIM of `|Ψ(Ax)|` against `x` over `test` (`side × side` images, clean
/// measurements, peak 1): the formulas of [`crate::mri::learned::sweep::quality`], for one method at a time.
pub fn held_out_quality(
    a: &dyn crate::mri::operator::Sampling,
    psi: &dyn crate::mri::instability::Reconstructor,
    test: &[Vec<f32>],
    side: usize,
) -> Result<(f64, f64)> {
    if test.is_empty() {
        return Err(Error::Input("no images to measure quality on".into()));
    }
    let (mut p, mut s) = (0.0, 0.0);
    for x in test {
        let out = crate::mri::fourier::magnitudes(&psi.reconstruct(&a.measure(x))?);
        p += crate::mri::metrics::psnr(x, &out, 1.0);
        s += crate::mri::metrics::ssim(x, &out, side, 1.0);
    }
    let k = test.len() as f64;
    Ok((p / k, s / k))
}

/// Mean and maximum of a non-empty list (NaN and −∞ for an empty one).
pub fn mean_max(v: &[f64]) -> (f64, f64) {
    let mean = v.iter().sum::<f64>() / v.len() as f64;
    (mean, v.iter().cloned().fold(f64::NEG_INFINITY, f64::max))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn point(name: &str) -> TradeoffPoint {
        TradeoffPoint {
            name: name.into(),
            title: name.into(),
            kind: "trained".into(),
            rate: 0.125,
            psnr: 25.0,
            ssim: 0.7,
            kappa: vec![3.0, 4.0],
            kappa_mean: 3.5,
            kappa_max: 4.0,
            kappa_gaussian: vec![0.5, 0.6],
            kappa_gaussian_mean: 0.55,
            seconds: 1.0,
            training: String::new(),
        }
    }

    fn report() -> TradeoffReport {
        TradeoffReport {
            side: 64,
            split: crate::mri::brain::Split::Interleaved,
            rel_r: 0.02,
            iterations: 20,
            seed_base: 100,
            slices: vec!["axial 10".into(), "axial 14".into()],
            psnr_slices: 18,
            points: vec![point("a"), point("b")],
            summary: String::new(),
            command: String::new(),
        }
    }

    #[test]
    fn reports_are_checked() {
        let good = report();
        let back = TradeoffReport::from_json(&serde_json::to_vec(&good).unwrap()).unwrap();
        assert_eq!(back, good);
        assert_eq!(back.point("b").unwrap().name, "b");
        assert!(back.point("c").is_none());
        let mut ragged = report();
        ragged.points[1].kappa.pop();
        assert!(TradeoffReport::from_json(&serde_json::to_vec(&ragged).unwrap()).is_err());
        let mut twice = report();
        twice.points[1].name = "a".into();
        assert!(TradeoffReport::from_json(&serde_json::to_vec(&twice).unwrap()).is_err());
        assert!(TradeoffReport::from_json(b"{}").is_err());
        assert_eq!(mean_max(&[1.0, 3.0]), (2.0, 3.0));
    }

    #[test]
    fn findings_read_the_numbers() {
        let mut r = report();
        r.points[0].name = "cascade-12".into();
        r.points[1].name = "cascade-12-noise".into();
        r.points[1].psnr = 24.0;
        r.points[1].kappa_mean = 2.8;
        let mut zf = point("zero-filling");
        zf.kind = "linear".into();
        zf.psnr = 17.0;
        zf.kappa_mean = 1.0;
        zf.kappa_max = 1.0;
        r.points.push(zf);
        r.sort();
        assert_eq!(r.points[0].name, "zero-filling", "linear methods first");
        let f = r.finding_list();
        assert!(
            f[0].starts_with("Zero-filling's worst case is κ = 1.000"),
            "{f:?}"
        );
        assert!(
            f.iter().any(|s| s.contains("cascade-12-noise")
                && s.contains("-1.00 dB")
                && s.contains("-20%")
                && s.ends_with("less accurate and more stable.")),
            "{f:?}"
        );
        // zero-filling < noise < cascade-12 in both PSNR and κ: all three pairs agree.
        assert!(f.last().unwrap().starts_with("In 3 of 3 pairs"), "{f:?}");
        assert_eq!(r.findings(), f.join(" "));
    }
}
