//! Seeded mini-batch training of the classifiers with candle (AdamW, cosine learning rate,
//! random-translation augmentation), and held-out evaluation.
//!
//! Loss: cross-entropy `L = −(1/B) Σ_b log softmax(f(x_b))_{y_b}`. Every random choice (weight
//! initialisation, batch order, shifts) is drawn from one ChaCha8 stream seeded by
//! [`TrainConfig::seed`]. No clock is read here: the native `lab train` command times the run.

use crate::classification::classifier::{Architecture, Classifier};
use crate::classification::mnist::{Digits, PIXELS, SIDE};
use crate::Result;
use candle_core::{Device, Tensor};
use candle_nn::{AdamW, Optimizer, ParamsAdamW, VarMap};
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

/// Hyper-parameters of one training run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TrainConfig {
    pub epochs: usize,
    pub batch_size: usize,
    /// Peak learning rate; decays as a cosine to 1% of it.
    pub learning_rate: f64,
    pub weight_decay: f64,
    /// Training digits are translated by up to this many pixels in each direction.
    pub max_shift: usize,
    pub seed: u64,
}

impl TrainConfig {
    /// The settings used for the shipped models.
    pub fn shipped(architecture: Architecture) -> Self {
        match architecture {
            Architecture::Linear => Self {
                epochs: 30,
                batch_size: 64,
                learning_rate: 2e-3,
                weight_decay: 1e-4,
                max_shift: 0,
                seed: 1,
            },
            Architecture::Mlp => Self {
                epochs: 40,
                batch_size: 64,
                learning_rate: 1e-3,
                weight_decay: 1e-4,
                max_shift: 2,
                seed: 2,
            },
            Architecture::MlpTanh => Self {
                epochs: 40,
                batch_size: 64,
                learning_rate: 1e-3,
                weight_decay: 1e-4,
                max_shift: 2,
                seed: 4,
            },
            Architecture::Cnn => Self {
                epochs: 30,
                batch_size: 64,
                learning_rate: 1e-3,
                weight_decay: 1e-4,
                max_shift: 2,
                seed: 3,
            },
            Architecture::CnnWide => Self {
                epochs: 30,
                batch_size: 64,
                learning_rate: 1e-3,
                weight_decay: 1e-4,
                max_shift: 2,
                seed: 5,
            },
        }
    }
}

/// What one epoch achieved.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EpochReport {
    pub epoch: usize,
    pub mean_loss: f64,
    pub held_out_accuracy: f64,
}

/// Translates a 28×28 digit by `(dy, dx)` pixels, filling with background.
pub fn shift(pixels: &[u8], dy: isize, dx: isize) -> Vec<u8> {
    let mut out = vec![0u8; PIXELS];
    let s = SIDE as isize;
    for y in 0..s {
        for x in 0..s {
            let (sy, sx) = (y - dy, x - dx);
            if (0..s).contains(&sy) && (0..s).contains(&sx) {
                out[(y * s + x) as usize] = pixels[(sy * s + sx) as usize];
            }
        }
    }
    out
}

/// The loop every classifier of the lab is trained with: `config.epochs` passes over `train` in
/// batches shuffled by a ChaCha8 stream seeded by `seed ^ 0x5eed`, cross-entropy on
/// `logits(x)`, AdamW over `varmap` with the learning rate decaying as a cosine to 1% of its peak.
/// `inputs(indices, rng)` builds a batch's input tensor (drawing any augmentation from the same
/// stream); `on_epoch(epoch, mean loss)` runs after each epoch.
pub fn fit(
    varmap: &VarMap,
    config: &TrainConfig,
    train: &Digits,
    mut inputs: impl FnMut(&[usize], &mut ChaCha8Rng) -> Result<Tensor>,
    logits: impl Fn(&Tensor) -> Result<Tensor>,
    mut on_epoch: impl FnMut(usize, f64) -> Result<()>,
) -> Result<()> {
    let mut rng = ChaCha8Rng::seed_from_u64(config.seed ^ 0x5eed);
    let params = ParamsAdamW {
        lr: config.learning_rate,
        weight_decay: config.weight_decay,
        ..Default::default()
    };
    let mut opt = AdamW::new(varmap.all_vars(), params)?;
    let batches_per_epoch = train.len().div_ceil(config.batch_size);
    let total_steps = (config.epochs * batches_per_epoch) as f64;
    let mut step = 0usize;
    let mut order: Vec<usize> = (0..train.len()).collect();
    for epoch in 1..=config.epochs {
        order.shuffle(&mut rng);
        let mut loss_sum = 0.0;
        for chunk in order.chunks(config.batch_size) {
            let x = inputs(chunk, &mut rng)?;
            let ys: Vec<u32> = chunk.iter().map(|&i| train.label(i) as u32).collect();
            let y = Tensor::from_vec(ys, chunk.len(), x.device())?;
            let progress = step as f64 / total_steps;
            let lr = config.learning_rate
                * (0.01 + 0.99 * 0.5 * (1.0 + (std::f64::consts::PI * progress).cos()));
            opt.set_learning_rate(lr);
            let loss = candle_nn::loss::cross_entropy(&logits(&x)?, &y)?;
            opt.backward_step(&loss)?;
            loss_sum += loss.to_scalar::<f32>()? as f64;
            step += 1;
        }
        on_epoch(epoch, loss_sum / batches_per_epoch as f64)?;
    }
    Ok(())
}

/// Trains `architecture` on `train` (with random translations of up to `config.max_shift`
/// pixels), reporting held-out accuracy after each epoch.
pub fn train(
    architecture: Architecture,
    config: &TrainConfig,
    train: &Digits,
    held_out: &Digits,
    mut on_epoch: impl FnMut(&EpochReport),
) -> Result<(VarMap, Classifier, Vec<EpochReport>)> {
    let device = Device::Cpu;
    let varmap = VarMap::new();
    let model = Classifier::new_seeded(architecture, &varmap, config.seed, &device)?;
    let mut reports = Vec::new();
    let inputs = |chunk: &[usize], rng: &mut ChaCha8Rng| -> Result<Tensor> {
        let mut xs = Vec::with_capacity(chunk.len() * PIXELS);
        for &i in chunk {
            let m = config.max_shift as i32;
            let pixels = if m > 0 {
                shift(
                    train.pixels(i),
                    rng.random_range(-m..=m) as isize,
                    rng.random_range(-m..=m) as isize,
                )
            } else {
                train.pixels(i).to_vec()
            };
            xs.extend(pixels.iter().map(|&p| p as f32 / 255.0));
        }
        Ok(Tensor::from_vec(xs, (chunk.len(), PIXELS), &device)?)
    };
    fit(
        &varmap,
        config,
        train,
        inputs,
        |x| model.logits(x),
        |epoch, mean_loss| {
            let report = EpochReport {
                epoch,
                mean_loss,
                held_out_accuracy: accuracy(&model, held_out)?,
            };
            on_epoch(&report);
            reports.push(report);
            Ok(())
        },
    )?;
    Ok((varmap, model, reports))
}

/// Share of `digits` that `model` labels correctly.
pub fn accuracy(model: &Classifier, digits: &Digits) -> Result<f64> {
    let mut correct = 0usize;
    let indices: Vec<usize> = (0..digits.len()).collect();
    for chunk in indices.chunks(500) {
        correct += count_correct(model, digits, chunk)?;
    }
    Ok(correct as f64 / digits.len().max(1) as f64)
}

/// Number of the digits at `indices` that `model` labels correctly.
pub fn count_correct(model: &Classifier, digits: &Digits, indices: &[usize]) -> Result<usize> {
    let (x, y) = digits.batch(indices, &model.device())?;
    let x = x.to_dtype(model.dtype())?;
    let predicted = model.logits(&x)?.argmax(1)?.to_vec1::<u32>()?;
    let truth = y.to_vec1::<u32>()?;
    Ok(predicted.iter().zip(&truth).filter(|(a, b)| a == b).count())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shift_moves_pixels_and_fills_background() {
        let mut p = vec![0u8; PIXELS];
        p[5 * SIDE + 5] = 200;
        let s = shift(&p, 2, -1);
        assert_eq!(s[7 * SIDE + 4], 200);
        assert_eq!(s.iter().filter(|&&v| v != 0).count(), 1);
        assert_eq!(shift(&p, 0, 0), p);
        // Off the edge: gone.
        assert!(shift(&p, 30, 0).iter().all(|&v| v == 0));
    }
}
