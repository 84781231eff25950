//! `static/reports/peers.json`: the lab measured against what users would pick instead, in the
//! same run (`scripts/bench-peers.sh`: TensorFlow.js in the same browser; `scripts/bench-
//! firenet-peers.sh`: the NumPy reference of FIRENET; `scripts/bench-pool.sh`: the worker pool
//! against one worker). The Speed page shows it; this module reads the parts it shows, and
//! ignores the rest of what the benchmarks record.

use crate::{Error, Result};
use serde::Deserialize;
use std::collections::BTreeMap;

/// The whole report.
#[derive(Clone, Debug, PartialEq, Deserialize)]
pub struct Peers {
    #[serde(default)]
    pub date: String,
    #[serde(default)]
    pub browser: String,
    #[serde(default)]
    pub cores: Cores,
    pub tfjs: Option<Tfjs>,
    pub firenet: Option<FirenetPeers>,
    pub pool: Option<PoolPeers>,
}

#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
pub struct Cores {
    pub navigator_hardware_concurrency: Option<usize>,
    pub os_cpus: Option<usize>,
}

/// A median and 95th percentile, milliseconds.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
pub struct Timed {
    pub median: f64,
    pub p95: f64,
    #[serde(default)]
    pub mean_rho: Option<f64>,
    #[serde(default)]
    pub digits: Option<usize>,
    #[serde(default)]
    pub count: Option<usize>,
}

/// TensorFlow.js against the lab's worker.
#[derive(Clone, Debug, PartialEq, Deserialize)]
pub struct Tfjs {
    #[serde(default)]
    pub version: String,
    pub models: BTreeMap<String, TfjsModel>,
    pub floor: Option<Floor>,
}

#[derive(Clone, Debug, PartialEq, Deserialize)]
pub struct TfjsModel {
    pub lab: LabSide,
    /// By backend (`cpu`, `wasm`, `webgpu`).
    pub tfjs: BTreeMap<String, Backend>,
}

#[derive(Clone, Debug, PartialEq, Deserialize)]
pub struct LabSide {
    pub deepfool: Timed,
    pub batch: Timed,
}

#[derive(Clone, Debug, PartialEq, Deserialize)]
pub struct Backend {
    pub deepfool: Timed,
    pub batch: Timed,
    /// TF.js's median over the lab's on the same digits.
    pub ratio_median: f64,
    pub agreement: Agreement,
}

/// How TF.js's DeepFool agreed with the lab's on the digits both attacked.
#[derive(Clone, Debug, PartialEq, Deserialize)]
pub struct Agreement {
    pub digits: usize,
    /// `|mean ρ(TF.js) − mean ρ(lab)| / mean ρ(lab)`.
    pub mean_rho_rel_diff: f64,
}

/// The single-core floor of DeepFool on the CNN.
#[derive(Clone, Debug, PartialEq, Deserialize)]
pub struct Floor {
    pub floor_ms_pooled: f64,
    pub lab_median_ms: f64,
    pub lab_over_floor: f64,
    pub macs_per_digit_pooled: f64,
    pub core_macs_per_s: f64,
    pub mean_iterations: f64,
}

/// FIRENET against the NumPy reference.
#[derive(Clone, Debug, PartialEq, Deserialize)]
pub struct FirenetPeers {
    pub cases: Vec<FirenetCase>,
}

#[derive(Clone, Debug, PartialEq, Deserialize)]
pub struct FirenetCase {
    pub name: String,
    pub side: usize,
    pub lab: CaseTime,
    pub reference: CaseTime,
    pub reference_over_lab: f64,
    pub relative_difference: f64,
}

#[derive(Clone, Debug, PartialEq, Deserialize)]
pub struct CaseTime {
    pub median_ms: f64,
    pub p95_ms: f64,
}

/// The worker pool against one worker.
#[derive(Clone, Debug, PartialEq, Deserialize)]
pub struct PoolPeers {
    #[serde(default)]
    pub sweep: String,
    pub rows: Vec<PoolRow>,
}

#[derive(Clone, Debug, PartialEq, Deserialize)]
pub struct PoolRow {
    pub workers: usize,
    pub median_ms: f64,
    pub p95_ms: f64,
    pub speedup: f64,
    pub same_as_one_worker: bool,
    #[serde(default)]
    pub worker_memory_bytes: Vec<u64>,
}

impl Peers {
    /// Parses the report.
    pub fn from_json(bytes: &[u8]) -> Result<Self> {
        serde_json::from_slice(bytes)
            .map_err(|e| Error::Data(format!("the speed report is malformed: {e}")))
    }

    /// The fastest TF.js backend's DeepFool median on `model`, with its name.
    pub fn fastest_backend(&self, model: &str) -> Option<(&str, f64)> {
        let m = self.tfjs.as_ref()?.models.get(model)?;
        m.tfjs
            .iter()
            .map(|(name, b)| (name.as_str(), b.deepfool.median))
            .min_by(|a, b| a.1.total_cmp(&b.1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_report_reads_and_says_what_the_docs_say() {
        let p = Peers::from_json(include_bytes!("../static/reports/peers.json")).unwrap();
        assert!(p.browser.starts_with("Chromium"));
        let tfjs = p.tfjs.as_ref().unwrap();
        assert_eq!(
            tfjs.models.keys().collect::<Vec<_>>(),
            ["cnn", "linear", "mlp"]
        );
        let cnn = &tfjs.models["cnn"];
        // The lab's worker against TF.js's fastest backend on the CNN: the target is 0.1×.
        let (name, fastest) = p.fastest_backend("cnn").unwrap();
        assert!(
            cnn.lab.deepfool.median / fastest <= 0.1,
            "{name}: {fastest}"
        );
        // Mean ρ agrees within 1% on every model and backend, on the digits both attacked.
        for m in tfjs.models.values() {
            for b in m.tfjs.values() {
                assert!(b.agreement.mean_rho_rel_diff < 0.01, "{:?}", b.agreement);
            }
        }
        let floor = tfjs.floor.as_ref().unwrap();
        assert!((floor.lab_over_floor - floor.lab_median_ms / floor.floor_ms_pooled).abs() < 1e-9);
        let fire = p.firenet.as_ref().unwrap();
        assert_eq!(fire.cases.len(), 4);
        assert!(fire.cases.iter().all(|c| c.relative_difference < 1e-5));
        let pool = p.pool.as_ref().unwrap();
        assert_eq!(pool.rows[0].workers, 1);
        assert!(pool.rows.iter().all(|r| r.same_as_one_worker));
    }

    #[test]
    fn a_broken_report_is_a_clear_error() {
        let e = Peers::from_json(b"{\"tfjs\": 3}").unwrap_err().for_people();
        assert!(e.contains("speed report"), "{e}");
        let empty = Peers::from_json(b"{}").unwrap();
        assert!(empty.tfjs.is_none() && empty.fastest_backend("cnn").is_none());
    }
}
