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
//!
//! On the page's worker pool the table is filled in parts: the shipped perturbations' table by
//! contiguous ranges of the held-out digits ([`split_digits`]), each part counting how many of
//! its digits every perturbation fools every network on ([`fooled_table`]), so that the counts
//! add up and the rates ([`fooling_rates`], divided once by `|H|`) are the whole table's bit for
//! bit; a live recomputation by rows ([`split_rows`]), each part searching its rows'
//! perturbations. `crate::protocol::TransferResult::merge` puts the parts together.

use crate::classification::attack::{norm2, Model};
use crate::classification::deepfool::{DeepFool, Norm};
use crate::classification::line_search::LineSearch;
use crate::classification::universal::{Ball, PassReport, Universal};
use crate::{Error, Result};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::ops::Range;

/// `k̂(x)` for every image.
pub fn labels(model: &dyn Model, images: &[Vec<f64>]) -> Result<Vec<usize>> {
    images.iter().map(|x| model.label(x)).collect()
}

/// `#{x ∈ images : k̂(x + v) ≠ k̂(x)}` (`labels` are `k̂(x)`): the count behind
/// [`fooling_rate`](crate::classification::universal::fooling_rate).
pub fn fooled_count(
    model: &dyn Model,
    images: &[Vec<f64>],
    labels: &[usize],
    v: &[f64],
) -> Result<usize> {
    if labels.len() != images.len() {
        return Err(Error::Input(format!(
            "{} images but {} labels",
            images.len(),
            labels.len()
        )));
    }
    if v.len() != model.dim() {
        return Err(Error::Input(format!(
            "a perturbation of {} values for a model that takes {}",
            v.len(),
            model.dim()
        )));
    }
    let mut fooled = 0usize;
    for (x, &k) in images.iter().zip(labels) {
        let xv: Vec<f64> = x.iter().zip(v).map(|(a, b)| a + b).collect();
        fooled += usize::from(model.label(&xv)? != k);
    }
    Ok(fooled)
}

/// The counts of the table: `fooled[i][j]` is how many of `images` `vs[i]` fools model `j` on;
/// `labels[j]` are model `j`'s clean labels of `images` (see [`labels`]).
pub fn fooled_table(
    models: &[&dyn Model],
    labels: &[Vec<usize>],
    vs: &[Vec<f64>],
    images: &[Vec<f64>],
) -> Result<Vec<Vec<usize>>> {
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
                .map(|(m, l)| fooled_count(*m, images, l, v))
                .collect()
        })
        .collect()
}

/// Rates from counts over `count` digits, `fooled / count` as
/// [`fooling_rate`](crate::classification::universal::fooling_rate) divides: a table summed from
/// parts and divided once is the table computed at once, bit for bit.
pub fn fooling_rates(fooled: &[Vec<usize>], count: usize) -> Vec<Vec<f64>> {
    fooled
        .iter()
        .map(|row| row.iter().map(|&f| f as f64 / count as f64).collect())
        .collect()
}

/// The full table: `vs[i]` (computed on model `i`) evaluated on every model; `labels[j]` are
/// model `j`'s clean labels of `images` (see [`labels`]). [`fooled_table`] over `|images|`.
pub fn fooling_table(
    models: &[&dyn Model],
    labels: &[Vec<usize>],
    vs: &[Vec<f64>],
    images: &[Vec<f64>],
) -> Result<Vec<Vec<f64>>> {
    if images.is_empty() {
        return Err(Error::Input(
            "the fooling rate needs at least one image".into(),
        ));
    }
    Ok(fooling_rates(
        &fooled_table(models, labels, vs, images)?,
        images.len(),
    ))
}

/// The held-out digits `0..count` cut into `parts` contiguous ranges, in order, for the worker
/// pool's parts of the shipped perturbations' transfer table: their sizes differ by at most one
/// (each part labels its digits with every network and counts every cell on them, so the work
/// is proportional to the size and the parts are balanced to a digit), none is empty (fewer
/// parts than asked when there are fewer digits), and there is always at least one (`0..0` for
/// no digits, which the worker refuses).
pub fn split_digits(count: usize, parts: usize) -> Vec<Range<usize>> {
    let parts = parts.clamp(1, count.max(1));
    let (size, extra) = (count / parts, count % parts);
    let mut start = 0;
    (0..parts)
        .map(|k| {
            let end = start + size + usize::from(k < extra);
            let r = start..end;
            start = end;
            r
        })
        .collect()
}

/// The rows of a live transfer table (indices of the networks whose perturbations are searched
/// again) dealt to `parts` workers by their estimated `costs` (seconds, say; see
/// [`TransferReport::row_costs`]): the costliest first, each to the part with the least so far
/// (longest processing time first, within 4/3 of the best dealing). Each part's rows ascend,
/// the parts are in the order of their first row, none is empty (fewer parts than asked when
/// there are fewer rows) and there is at least one. A row's search cannot be split (it runs
/// pass after pass over its training digits), so the slowest search bounds the speed-up: with
/// the shipped report's costs (searches of 0.03–13.7 s natively, the CNNs' an order above the
/// others, and a row of the table about 3 s), two workers get 20.6 s and 19.5 s of the 40 s
/// (about 1.8× with the clean labels each part needs), four get at most 15.4 s (about 2.3×).
pub fn split_rows(costs: &[f64], parts: usize) -> Vec<Vec<usize>> {
    let parts = parts.clamp(1, costs.len().max(1));
    let cost = |i: usize| {
        let c = costs[i];
        if c.is_finite() && c > 0.0 {
            c
        } else {
            0.0
        }
    };
    let mut order: Vec<usize> = (0..costs.len()).collect();
    order.sort_by(|&a, &b| cost(b).total_cmp(&cost(a)).then(a.cmp(&b)));
    let mut out = vec![(0.0f64, Vec::new()); parts];
    for i in order {
        // The least loaded part; among equals the emptiest, then the first.
        let k = (0..parts)
            .min_by(|&a, &b| {
                out[a]
                    .0
                    .total_cmp(&out[b].0)
                    .then(out[a].1.len().cmp(&out[b].1.len()))
                    .then(a.cmp(&b))
            })
            .unwrap_or(0);
        out[k].0 += cost(i);
        out[k].1.push(i);
    }
    let mut out: Vec<Vec<usize>> = out
        .into_iter()
        .map(|(_, mut rows)| {
            rows.sort_unstable();
            rows
        })
        .filter(|rows| !rows.is_empty())
        .collect();
    out.sort_by_key(|rows| rows[0]);
    if out.is_empty() {
        out.push(Vec::new());
    }
    out
}

/// Checks a part of the transfer table against `models` networks and `count` held-out digits:
/// its `digits` (all when `None`) must be a non-empty range within them and its `rows` (all when
/// empty) ascending indices of the networks. Returns the range and the rows.
pub fn transfer_part(
    models: usize,
    count: usize,
    digits: Option<Range<usize>>,
    rows: &[usize],
) -> Result<(Range<usize>, Vec<usize>)> {
    if models == 0 || count == 0 {
        return Err(Error::Data(format!(
            "the transfer table needs networks and held-out digits ({models} networks, {count} digits)"
        )));
    }
    let digits = digits.unwrap_or(0..count);
    if digits.start >= digits.end || digits.end > count {
        return Err(Error::Input(format!(
            "the held-out digits {}..{} are not a part of the {count} held-out digits",
            digits.start, digits.end
        )));
    }
    if rows.iter().any(|&r| r >= models) || rows.windows(2).any(|w| w[0] >= w[1]) {
        return Err(Error::Input(format!(
            "the rows {rows:?} are not ascending rows of the {models} networks' table"
        )));
    }
    let rows = if rows.is_empty() {
        (0..models).collect()
    } else {
        rows.to_vec()
    };
    Ok((digits, rows))
}

/// Units of work of a part of the transfer table, for its progress bar: one per image a network
/// labels (the `models` networks' clean labels of the part's `digits` held-out digits, and each
/// of its `rows` perturbations on every network), plus `search`, the training digits its live
/// searches visit ([`PerturbationCard::search_units`]). The parts' units add up to the job's.
pub fn part_units(models: usize, digits: usize, rows: usize, search: usize) -> usize {
    search + models * digits * (1 + rows)
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

impl PerturbationCard {
    /// The training digits a live search with these settings visits, for a progress bar: `|X|`
    /// per pass the shipped search ran (a live one with the same settings runs the same).
    pub fn search_units(&self) -> usize {
        self.count * self.passes.len().max(1)
    }
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

    /// The estimated cost of each row of the live table for `ball`, seconds, in the order of
    /// [`TransferReport::models`]: the native search of its perturbation plus its share of the
    /// native time to fill the table (for [`split_rows`]; a missing card costs nothing).
    pub fn row_costs(&self, ball: Ball) -> Vec<f64> {
        let n = self.models.len().max(1) as f64;
        let table = self
            .tables
            .iter()
            .position(|t| t.ball == ball)
            .and_then(|k| self.table_seconds.get(k))
            .copied()
            .unwrap_or(0.0);
        self.models
            .iter()
            .map(|m| self.card(m, ball).map_or(0.0, |c| c.seconds) + table / n)
            .collect()
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
    use crate::classification::universal::fooling_rate;

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
    fn counts_are_what_the_rates_are_made_of() {
        let (a, b) = two_models();
        let images = vec![vec![0.5, 0.1], vec![0.2, -0.1], vec![-0.3, 0.2]];
        let models: [&dyn Model; 2] = [&a, &b];
        let l: Vec<Vec<usize>> = models
            .iter()
            .map(|m| labels(*m, &images).unwrap())
            .collect();
        let vs = vec![vec![-0.6, 0.0], vec![0.1, 0.0]];
        let counts = fooled_table(&models, &l, &vs, &images).unwrap();
        let t = fooling_table(&models, &l, &vs, &images).unwrap();
        assert_eq!(t, fooling_rates(&counts, images.len()));
        for (i, v) in vs.iter().enumerate() {
            for (j, m) in models.iter().enumerate() {
                assert_eq!(
                    counts[i][j],
                    fooled_count(*m, &images, &l[j], v).unwrap(),
                    "{i},{j}"
                );
            }
        }
        assert!(fooled_count(&a, &images, &l[0][..2], &vs[0]).is_err());
        assert!(fooled_count(&a, &images, &l[0], &[0.1]).is_err());
        assert!(fooling_table(&models, &l, &vs, &[]).is_err());
    }

    #[test]
    fn the_digits_split_into_contiguous_balanced_ranges() {
        for count in [0, 1, 2, 3, 7, 10, 2000] {
            for parts in 0..=9 {
                let split = split_digits(count, parts);
                assert_eq!(split.len(), parts.clamp(1, count.max(1)), "{count}/{parts}");
                assert_eq!(split[0].start, 0);
                assert_eq!(split.last().unwrap().end, count);
                for w in split.windows(2) {
                    assert_eq!(w[0].end, w[1].start);
                }
                let sizes: Vec<usize> = split.iter().map(|r| r.len()).collect();
                let (lo, hi) = (sizes.iter().min().unwrap(), sizes.iter().max().unwrap());
                assert!(hi - lo <= 1, "{count}/{parts}: {sizes:?}");
                assert!(count == 0 || *lo > 0);
            }
        }
        assert_eq!(split_digits(2000, 2), vec![0..1000, 1000..2000]);
        assert_eq!(split_digits(10, 4), vec![0..3, 3..6, 6..8, 8..10]);
    }

    #[test]
    fn rows_are_dealt_by_cost_and_every_row_once() {
        let costs = [3.0, 4.3, 4.1, 13.2, 15.4];
        assert_eq!(split_rows(&costs, 1), vec![vec![0, 1, 2, 3, 4]]);
        // Longest first: 15.4 | 13.2, then 4.3 to the second, 4.1 to the first, 3.0 to the first.
        assert_eq!(split_rows(&costs, 2), vec![vec![0, 1, 3], vec![2, 4]]);
        for parts in 0..=7 {
            let split = split_rows(&costs, parts);
            assert_eq!(split.len(), parts.clamp(1, costs.len()));
            let mut all: Vec<usize> = split.concat();
            all.sort_unstable();
            assert_eq!(all, vec![0, 1, 2, 3, 4]);
            assert!(split
                .iter()
                .all(|p| !p.is_empty() && p.windows(2).all(|w| w[0] < w[1])));
        }
        // Bad costs count as nothing; no rows still make one (empty) part.
        assert_eq!(split_rows(&[f64::NAN, -1.0, 2.0], 2).concat().len(), 3);
        assert_eq!(split_rows(&[], 3), vec![Vec::<usize>::new()]);
    }

    #[test]
    fn the_shipped_reports_rows_balance_as_documented() {
        let report =
            TransferReport::from_json(include_bytes!("../../static/reports/transfer.json"))
                .unwrap();
        let costs = report.row_costs(Ball::L2);
        assert_eq!(costs.len(), report.models.len());
        let load = |parts: usize| -> Vec<f64> {
            split_rows(&costs, parts)
                .iter()
                .map(|rows| rows.iter().map(|&i| costs[i]).sum())
                .collect()
        };
        let total: f64 = costs.iter().sum();
        let labels = report.table_seconds[0] / report.models.len() as f64;
        let speedup = |parts: usize| {
            let slowest = load(parts).into_iter().fold(0.0, f64::max);
            (total + labels) / (slowest + labels)
        };
        assert!(speedup(2) >= 1.7, "{}", speedup(2));
        assert!(speedup(4) >= 2.2, "{}", speedup(4));
        for p in report.perturbations.iter() {
            assert_eq!(p.search_units(), p.count * p.passes.len());
        }
    }

    #[test]
    fn parts_are_checked() {
        assert_eq!(
            transfer_part(5, 2000, None, &[]).unwrap(),
            (0..2000, vec![0, 1, 2, 3, 4])
        );
        assert_eq!(
            transfer_part(5, 2000, Some(1000..2000), &[1, 3]).unwrap(),
            (1000..2000, vec![1, 3])
        );
        for (digits, rows) in [
            (Some(0..2001), vec![]),
            (Some(5..5), vec![]),
            (Some(Range { start: 7, end: 3 }), vec![]),
            (None, vec![5]),
            (None, vec![2, 1]),
            (None, vec![1, 1]),
        ] {
            let e = transfer_part(5, 2000, digits.clone(), &rows).unwrap_err();
            assert!(matches!(e, Error::Input(_)), "{digits:?} {rows:?}: {e}");
        }
        assert!(transfer_part(0, 2000, None, &[]).is_err());
        assert!(transfer_part(5, 0, None, &[]).is_err());
        assert_eq!(part_units(5, 2000, 5, 0), 60_000);
        assert_eq!(
            split_digits(2000, 3)
                .iter()
                .map(|d| part_units(5, d.len(), 5, 0))
                .sum::<usize>(),
            part_units(5, 2000, 5, 0)
        );
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
