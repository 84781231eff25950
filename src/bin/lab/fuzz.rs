//! `lab fuzz`: the fuzz targets of [`barriers_lab::fuzz`] at length, with a progress bar per
//! target, a JSON report and a corpus of the inputs that failed.

use crate::progress::{say, Progress};
use barriers_lab::fuzz::{self, Target};
use serde_json::{json, Value};

/// Runs `target` (`all`: every target in turn) on `iterations` inputs from `seed`; writes the
/// report under the key `fuzz` of the JSON file `json` (its other keys, such as the bad-input
/// corpus's, are kept; with `add`, so are the other targets already there) and each failing
/// input, minimized, to `corpus/<target>/` if asked. Fails if any input failed.
pub fn fuzz(
    target: &str,
    iterations: u64,
    seed: u64,
    json: Option<&str>,
    add: bool,
    corpus: Option<&str>,
) -> anyhow::Result<()> {
    let targets: Vec<Target> = if target == "all" {
        Target::ALL.to_vec()
    } else {
        vec![Target::from_name(target).ok_or_else(|| {
            anyhow::anyhow!(
                "unknown target {target:?}: url, upload, weights, card, protocol or all"
            )
        })?]
    };
    let command = std::env::args().collect::<Vec<_>>().join(" ");
    let mut reports = Vec::new();
    let mut failed = 0;
    for t in targets {
        let progress = Progress::new(&format!("fuzz {}", t.name()), iterations as usize);
        let mut shown = 0;
        let report = fuzz::run_with(t, iterations, seed, &mut |done| {
            for _ in shown..done {
                progress.inc();
            }
            shown = done;
        });
        drop(progress);
        say!(
            "{:<9} {:>9} inputs  {:>3} failed  {:>8.1} s  {:>9.0} inputs/s  slowest {:.1} ms  largest allocation {}",
            t.name(),
            report.inputs,
            report.failed,
            report.millis / 1e3,
            report.inputs_per_second,
            report.slowest_input_millis,
            report
                .largest_allocation_bytes
                .map_or("not tracked".into(), |b| format!("{:.1} MiB", b as f64 / 1048576.0))
        );
        for f in &report.failures {
            say!("  {f}");
        }
        if let Some(dir) = corpus {
            for path in fuzz::save_failures(&report, std::path::Path::new(dir))? {
                say!("  kept {}", path.display());
            }
        }
        failed += report.failed;
        let mut entry = serde_json::to_value(&report)?;
        entry["command"] = json!(command);
        reports.push(entry);
    }
    if let Some(path) = json {
        // The file's other keys are kept; with --add, so are the targets not run now.
        let mut file = match std::fs::read_to_string(path) {
            Ok(text) => serde_json::from_str::<Value>(&text)
                .map_err(|e| anyhow::anyhow!("{path} is not JSON ({e}): not overwriting it"))?,
            Err(_) => json!({}),
        };
        let mut targets: Vec<Value> = if add {
            file["fuzz"]["targets"]
                .as_array()
                .cloned()
                .unwrap_or_default()
        } else {
            Vec::new()
        };
        targets.retain(|old| !reports.iter().any(|new| new["target"] == old["target"]));
        targets.extend(reports);
        targets.sort_by_key(|t| {
            Target::ALL
                .iter()
                .position(|k| t["target"] == k.name())
                .unwrap_or(usize::MAX)
        });
        let sum = |key: &str| targets.iter().filter_map(|t| t[key].as_f64()).sum::<f64>();
        let summary = json!({
            "what": "lab fuzz: every parser of untrusted input fed generated and mutated inputs; \
                     a failure is a panic, an allocation over the target's budget or a broken \
                     property (docs/hardening.md)",
            "inputs": sum("inputs") as u64,
            "failed": sum("failed") as u64,
            "millis": sum("millis"),
            "allocations_tracked": fuzz::allocations_tracked(),
            "targets": targets,
        });
        if !file.is_object() {
            anyhow::bail!("{path} holds JSON that is not an object: not overwriting it");
        }
        file["fuzz"] = summary;
        crate::write_json(path, &file)?;
        say!("wrote the key \"fuzz\" of {path}");
    }
    if failed > 0 {
        anyhow::bail!("{failed} inputs failed");
    }
    Ok(())
}
