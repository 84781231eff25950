//! `lab universal`: universal perturbations of the shipped classifiers (an experiment of issue 6;
//! it prints, and writes nothing to `static/` yet): each model's `v` on training digits, its
//! fooling rate on the held-out digits against a random perturbation of the same norm, and the
//! transfer table (rows: computed on, columns: evaluated on).

use barriers_lab::attack::Model;
use barriers_lab::classifier::{Architecture, Classifier};
use barriers_lab::inference::Network;
use barriers_lab::mnist::Digits;
use barriers_lab::universal::{fooling_rate, Universal, UniversalSearch};
use candle_core::{DType, Device};
use rand::SeedableRng;
use rand_distr::{Distribution, StandardNormal};
use std::time::Instant;

fn images(d: &Digits, count: usize) -> Vec<Vec<f64>> {
    (0..count.min(d.len()))
        .map(|i| d.image(i).iter().map(|&v| v as f64).collect())
        .collect()
}

/// Runs the experiment with `settings` on the first `count` training digits.
pub fn universal(
    train: &Digits,
    held_out: &Digits,
    settings: Universal,
    count: usize,
) -> anyhow::Result<()> {
    let models: Vec<(Architecture, Network)> = Architecture::ALL
        .into_iter()
        .map(|arch| {
            let bytes = std::fs::read(format!("static/models/{}.safetensors", arch.name()))?;
            let candle = Classifier::from_safetensors(arch, &bytes, DType::F32, &Device::Cpu)?;
            Ok((arch, Network::from_classifier(&candle)?))
        })
        .collect::<anyhow::Result<_>>()?;
    let x = images(train, count);
    let test = images(held_out, held_out.len());
    let mut vs = Vec::new();
    for (arch, net) in &models {
        let start = Instant::now();
        let search = UniversalSearch::new(settings, net, x.clone())?;
        let (v, passes) = search.finish()?;
        let labels: Vec<usize> = test
            .iter()
            .map(|t| net.label(t))
            .collect::<Result<_, _>>()?;
        let held = fooling_rate(net, &test, &labels, &v)?;
        // The control: Gaussian noise scaled to the same ℓp norm.
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(settings.seed + 7);
        let g: Vec<f64> = (0..v.len())
            .map(|_| StandardNormal.sample(&mut rng))
            .collect();
        let s = settings.ball.norm(&v) / settings.ball.norm(&g);
        let g: Vec<f64> = g.into_iter().map(|a| a * s).collect();
        let random = fooling_rate(net, &test, &labels, &g)?;
        println!(
            "{:<7} {:?} ξ {}: {} passes, fooling on X {:.3}, held-out fooling {:.3} (random of the same norm {:.3}), ‖v‖₂ {:.2}, {:.1} s",
            arch.name(),
            settings.ball,
            settings.xi,
            passes.len(),
            passes.last().map_or(0.0, |p| p.fooling_rate),
            held,
            random,
            barriers_lab::attack::norm2(&v),
            start.elapsed().as_secs_f64()
        );
        vs.push(v);
    }
    println!("transfer (rows: computed on; columns: held-out fooling on linear, mlp, cnn):");
    for ((arch, _), v) in models.iter().zip(&vs) {
        let row = models
            .iter()
            .map(|(_, net)| {
                let labels: Vec<usize> = test
                    .iter()
                    .map(|t| net.label(t))
                    .collect::<Result<_, _>>()?;
                Ok(format!("{:.3}", fooling_rate(net, &test, &labels, v)?))
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        println!("  {:<7} {}", arch.name(), row.join("  "));
    }
    Ok(())
}
