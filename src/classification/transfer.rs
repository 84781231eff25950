//! Transfer of adversarial perturbations between networks (Moosavi-Dezfooli, Fawzi, Fawzi &
//! Frossard, CVPR 2017, Table 2; the lecture's slide on universal perturbations): a perturbation
//! computed for one network also fools others.
//!
//! The transfer table `T` has rows for the network `v_i` was computed on and columns for the
//! network `j` it is evaluated on: `T_ij = #{x ∈ H : k̂_j(x + v_i) ≠ k̂_j(x)} / |H|` on the
//! held-out digits `H`. Its diagonal is each perturbation's own held-out fooling rate.
//!
//! The shipped table (`static/reports/transfer.json`, [`TransferReport`]) and perturbations
//! (`static/data/universal.safetensors`, [`ShippedUniversal`]) are written by `lab universal
//! --write`; the per-image view ([`image_transfer`]) applies DeepFool's `r` for one network to
//! the others.

use crate::classification::attack::{norm2, Model};
use crate::classification::deepfool::{DeepFool, Norm};
use crate::classification::line_search::LineSearch;
use crate::classification::universal::{fooling_rate, Ball, PassReport, Universal};
use crate::{Error, Result};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// `k̂(x)` for every image.
pub fn labels(model: &dyn Model, images: &[Vec<f64>]) -> Result<Vec<usize>> {
    images.iter().map(|x| model.label(x)).collect()
}

/// The full table: `vs[i]` (computed on model `i`) evaluated on every model; `labels[j]` are
/// model `j`'s clean labels of `images` (see [`labels`]).
pub fn fooling_table(
    models: &[&dyn Model],
    labels: &[Vec<usize>],
    vs: &[Vec<f64>],
    images: &[Vec<f64>],
) -> Result<Vec<Vec<f64>>> {
    if labels.len() != models.len() {
        return Err(Error::Input(format!(
            "{} models but labels for {}",
            models.len(),
            labels.len()
        )));
    }
    vs.iter()
        .map(|v| {
            models
                .iter()
                .zip(labels)
                .map(|(m, l)| fooling_rate(*m, images, l, v))
                .collect()
        })
        .collect()
}

/// What the report says about one shipped perturbation.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PerturbationCard {
    /// The network it was computed on.
    pub model: String,
    /// The search's settings (`ball` is `p`, `xi` is `ξ`).
    pub settings: Universal,
    /// `|X|`: the first training digits used.
    pub count: usize,
    /// One report per pass (the fooling-rate curve on `X`).
    pub passes: Vec<PassReport>,
    /// Fooling rate on the held-out digits: the honest figure.
    pub held_out_fooling: f64,
    /// The control: Gaussian noise of the same `‖·‖_p`, on the held-out digits.
    pub random_fooling: f64,
    /// Seed of the control.
    pub random_seed: u64,
    pub norm2: f64,
    pub norm_inf: f64,
    /// Native time of the search, seconds.
    pub seconds: f64,
    /// The `ξ` tried on the way to this one, with their held-out fooling rates.
    pub tried: Vec<(f64, f64)>,
}

/// One table: rows computed on, columns evaluated on (names in [`TransferReport::models`]).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Table {
    pub ball: Ball,
    pub fooling: Vec<Vec<f64>>,
}

/// `static/reports/transfer.json`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TransferReport {
    /// Network names in row and column order.
    pub models: Vec<String>,
    /// The ℓ₂ table: `fooling[i][j]` for `v` computed on `models[i]`, evaluated on `models[j]`.
    pub fooling: Vec<Vec<f64>>,
    /// Every shipped perturbation (ℓ₂ and ℓ∞ for each network).
    pub perturbations: Vec<PerturbationCard>,
    /// Every table, ℓ₂ first (its `fooling` repeats the top-level one).
    pub tables: Vec<Table>,
    /// Held-out digits each rate is measured on.
    pub held_out_count: usize,
    /// The held-out fooling rate the settings were chosen to reach.
    pub target: f64,
    pub command: String,
    /// Time to fill each table natively, seconds.
    pub table_seconds: Vec<f64>,
}

impl TransferReport {
    /// Parses and checks the report (square tables over the named models, rates in [0, 1]).
    pub fn from_json(bytes: &[u8]) -> Result<Self> {
        let report: Self = serde_json::from_slice(bytes)
            .map_err(|e| Error::Data(format!("the transfer report is malformed: {e}")))?;
        let n = report.models.len();
        let square = |t: &[Vec<f64>]| {
            t.len() == n
                && t.iter()
                    .all(|r| r.len() == n && r.iter().all(|v| (0.0..=1.0).contains(v)))
        };
        if n == 0 || !square(&report.fooling) || report.tables.iter().any(|t| !square(&t.fooling)) {
            return Err(Error::Data(format!(
                "the transfer report's tables are not {n}×{n} fooling rates"
            )));
        }
        Ok(report)
    }

    /// The table for `ball`.
    pub fn table(&self, ball: Ball) -> Option<&Table> {
        self.tables.iter().find(|t| t.ball == ball)
    }

    /// The card of `model`'s perturbation in `ball`.
    pub fn card(&self, model: &str, ball: Ball) -> Option<&PerturbationCard> {
        self.perturbations
            .iter()
            .find(|c| c.model == model && c.settings.ball == ball)
    }
}

/// The shipped universal perturbations, `f32` in `static/data/universal.safetensors`, one tensor
/// `<model>.<l2|linf>` of the input's size each.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ShippedUniversal {
    vectors: BTreeMap<String, Vec<f32>>,
}

fn key(model: &str, ball: Ball) -> String {
    let p = match ball {
        Ball::L2 => "l2",
        Ball::Linf => "linf",
    };
    format!("{model}.{p}")
}

impl ShippedUniversal {
    pub fn insert(&mut self, model: &str, ball: Ball, v: &[f64]) {
        self.vectors
            .insert(key(model, ball), v.iter().map(|&a| a as f32).collect());
    }

    /// `model`'s perturbation in `ball`, if shipped.
    pub fn get(&self, model: &str, ball: Ball) -> Option<Vec<f64>> {
        self.vectors
            .get(&key(model, ball))
            .map(|v| v.iter().map(|&a| a as f64).collect())
    }

    pub fn len(&self) -> usize {
        self.vectors.len()
    }

    pub fn is_empty(&self) -> bool {
        self.vectors.is_empty()
    }

    pub fn to_safetensors(&self) -> Result<Vec<u8>> {
        let data: Vec<(String, Vec<usize>, Vec<f32>)> = self
            .vectors
            .iter()
            .map(|(k, v)| (k.clone(), vec![v.len()], v.clone()))
            .collect();
        crate::tensor_file::f32_safetensors(&data, None)
    }

    /// Reads the file, refusing anything but finite `f32` vectors.
    pub fn from_safetensors(bytes: &[u8]) -> Result<Self> {
        let st = safetensors::SafeTensors::deserialize(bytes)?;
        let mut vectors = BTreeMap::new();
        for (name, view) in st.tensors() {
            if view.dtype() != safetensors::Dtype::F32 || view.shape().len() != 1 {
                return Err(Error::Data(format!(
                    "the universal perturbation '{name}' is not a vector of f32"
                )));
            }
            let v = crate::tensor_file::f32_values(&view);
            if v.iter().any(|a| !a.is_finite()) {
                return Err(Error::Data(format!(
                    "the universal perturbation '{name}' is not finite"
                )));
            }
            vectors.insert(name, v);
        }
        Ok(Self { vectors })
    }
}

/// How one network fares on `x + r` for DeepFool's `r` computed on another.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TransferEntry {
    pub model: String,
    /// `k̂(x)`.
    pub clean: usize,
    /// `k̂(x + r)`.
    pub perturbed: usize,
    /// The smallest `t` with `k̂(x + t·r) ≠ k̂(x)`, if found up to `t = 100` (1 on the source
    /// network, by DeepFool's overshoot; above 1 where `r` does not transfer).
    pub flip_t: Option<f64>,
}

/// DeepFool's (ℓ₂) `r` on `source` at `x`, then every one of `models` on `x + t·r`. Returns `r`
/// and one entry per model.
pub fn image_transfer(
    source: &dyn Model,
    models: &[(&str, &dyn Model)],
    x: &[f64],
) -> Result<(Vec<f64>, Vec<TransferEntry>)> {
    let run = DeepFool {
        norm: Norm::L2,
        ..DeepFool::default()
    }
    .run(source, x)?;
    if !run.converged || norm2(&run.perturbation) == 0.0 {
        return Err(Error::Input(
            "DeepFool did not change this digit's label within its iteration budget".into(),
        ));
    }
    let r = run.perturbation;
    let search = LineSearch {
        max_ratio: 100.0 * norm2(&r) / norm2(x).max(1.0),
        ..LineSearch::default()
    };
    let entries = models
        .iter()
        .map(|(name, m)| {
            let clean = m.label(x)?;
            let xr: Vec<f64> = x.iter().zip(&r).map(|(a, b)| a + b).collect();
            Ok(TransferEntry {
                model: name.to_string(),
                clean,
                perturbed: m.label(&xr)?,
                flip_t: search.run(*m, x, &r, clean).ok().map(|s| s.alpha),
            })
        })
        .collect::<Result<_>>()?;
    Ok((r, entries))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::classification::affine::Affine;

    fn two_models() -> (Affine, Affine) {
        let a = Affine::new(vec![vec![1.0, 0.0], vec![-1.0, 0.0]], vec![0.0, 0.0]).unwrap();
        let b = Affine::new(vec![vec![1.0, 1.0], vec![-1.0, -1.0]], vec![0.0, 0.0]).unwrap();
        (a, b)
    }

    #[test]
    fn the_table_is_the_fooling_rate_of_each_pair() {
        let (a, b) = two_models();
        let images = vec![vec![0.5, 0.1], vec![0.2, -0.1], vec![-0.3, 0.2]];
        let models: [&dyn Model; 2] = [&a, &b];
        let l: Vec<Vec<usize>> = models
            .iter()
            .map(|m| labels(*m, &images).unwrap())
            .collect();
        let vs = vec![vec![-0.6, 0.0], vec![0.0, 0.0]];
        let t = fooling_table(&models, &l, &vs, &images).unwrap();
        for (i, v) in vs.iter().enumerate() {
            for (j, m) in models.iter().enumerate() {
                assert_eq!(t[i][j], fooling_rate(*m, &images, &l[j], v).unwrap());
            }
        }
        assert_eq!(t[1], vec![0.0, 0.0], "a zero perturbation fools nobody");
        assert!(t[0][0] > 0.0);
        assert!(fooling_table(&models, &l[..1], &vs, &images).is_err());
    }

    #[test]
    fn deepfools_r_flips_its_source_at_t_about_one() {
        let (a, b) = two_models();
        let x = vec![0.4, 0.3];
        let (r, entries) = image_transfer(&a, &[("a", &a), ("b", &b)], &x).unwrap();
        assert!(norm2(&r) > 0.0);
        assert_ne!(entries[0].clean, entries[0].perturbed);
        let t = entries[0].flip_t.unwrap();
        // The boundary is at t = 1/(1 + overshoot) of DeepFool's r.
        assert!((t - 1.0 / 1.02).abs() < 1e-3, "{t}");
        // On b, r (along −e₀) needs a larger step: the boundary is x₀ + x₁ = 0.
        assert!(entries[1].flip_t.unwrap() > t);
    }

    #[test]
    fn shipped_perturbations_round_trip_and_refuse_bad_files() {
        let mut s = ShippedUniversal::default();
        s.insert("cnn", Ball::L2, &[0.25, -1.5]);
        s.insert("cnn", Ball::Linf, &[0.1, -0.1]);
        let back = ShippedUniversal::from_safetensors(&s.to_safetensors().unwrap()).unwrap();
        assert_eq!(back, s);
        assert_eq!(back.get("cnn", Ball::L2).unwrap(), vec![0.25, -1.5]);
        assert!(back.get("mlp", Ball::L2).is_none());
        assert!(ShippedUniversal::from_safetensors(b"garbage").is_err());
        let mut bad = ShippedUniversal::default();
        bad.insert("cnn", Ball::L2, &[f64::NAN]);
        assert!(ShippedUniversal::from_safetensors(&bad.to_safetensors().unwrap()).is_err());
    }

    #[test]
    fn reports_with_ragged_tables_are_refused() {
        let good = TransferReport {
            models: vec!["a".into(), "b".into()],
            fooling: vec![vec![0.5, 0.1], vec![0.2, 0.9]],
            perturbations: vec![],
            tables: vec![Table {
                ball: Ball::L2,
                fooling: vec![vec![0.5, 0.1], vec![0.2, 0.9]],
            }],
            held_out_count: 10,
            target: 0.8,
            command: "lab universal --write".into(),
            table_seconds: vec![1.0],
        };
        let json = serde_json::to_vec(&good).unwrap();
        assert_eq!(TransferReport::from_json(&json).unwrap(), good);
        let mut ragged = good.clone();
        ragged.fooling[1].pop();
        assert!(TransferReport::from_json(&serde_json::to_vec(&ragged).unwrap()).is_err());
        let mut out_of_range = good;
        out_of_range.tables[0].fooling[0][0] = 1.5;
        assert!(TransferReport::from_json(&serde_json::to_vec(&out_of_range).unwrap()).is_err());
        assert!(TransferReport::from_json(b"{}").is_err());
    }
}
