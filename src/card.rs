//! Model cards: the JSON file `static/models/<name>.json` beside each shipped weight file, with the
//! architecture, size, measured held-out accuracy and how the model was trained.

use crate::classification::classifier::Architecture;
use crate::classification::training::{EpochReport, TrainConfig};
use serde::{Deserialize, Serialize};

/// What the lab knows and says about a shipped model.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ModelCard {
    /// File and URL name (`linear`, `mlp`, `cnn`).
    pub name: String,
    /// Human description of the layers.
    pub architecture: String,
    /// Trainable parameters.
    pub parameters: usize,
    /// Share of the held-out digits labelled correctly, as a fraction.
    pub held_out_accuracy: f64,
    /// Number of held-out digits it was measured on.
    pub held_out_count: usize,
    /// Number of training digits.
    pub train_count: usize,
    /// Wall-clock training time, seconds.
    pub training_seconds: f64,
    /// Seed of the initialisation and batch order.
    pub seed: u64,
    /// All training settings.
    pub training: TrainConfig,
    /// Loss and held-out accuracy after each epoch.
    pub history: Vec<EpochReport>,
    /// Size of the weight file, bytes.
    pub weights_bytes: usize,
    /// Where the data came from.
    pub data: String,
    /// What trained it, and on what.
    pub trained_with: String,
    /// The command that reproduces it.
    pub command: String,
}

/// The shipped classifiers trained on purpose for one experiment (issue 21), beside the five of
/// [`Architecture::ALL`]: the networks trained with a planted structure
/// ([`crate::classification::false_structure`]) and on a non-robust relabelled set
/// ([`crate::classification::non_robust`]). Each one's card names it and describes its
/// architecture.
pub const EXPERIMENT_MODELS: [&str; 5] = [
    "planted-faint",
    "planted-medium",
    "planted-strong",
    "non-robust",
    "non-robust-det",
];

/// Whether the worker may load the shipped model called `name` (one of [`Architecture::ALL`] or
/// [`EXPERIMENT_MODELS`]); the error names it.
pub fn check_model_name(name: &str) -> crate::Result<()> {
    if Architecture::from_name(name).is_ok() || EXPERIMENT_MODELS.contains(&name) {
        Ok(())
    } else {
        Err(crate::Error::Input(format!(
            "there is no model \u{201c}{name}\u{201d}"
        )))
    }
}

impl ModelCard {
    /// The architecture of the card's model: the one it is named after, or (for
    /// [`EXPERIMENT_MODELS`]) the one whose description the card gives.
    pub fn architecture_kind(&self) -> crate::Result<Architecture> {
        Architecture::from_name(&self.name).or_else(|e| {
            Architecture::ALL
                .into_iter()
                .find(|a| a.description() == self.architecture)
                .ok_or(e)
        })
    }
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;

    /// Every shipped classifier's card gives its architecture, and its weights load with it.
    #[test]
    fn every_shipped_card_gives_an_architecture_that_loads_its_weights() {
        let names = Architecture::ALL
            .iter()
            .map(|a| a.name())
            .chain(EXPERIMENT_MODELS);
        for name in names {
            check_model_name(name).unwrap();
            let text = std::fs::read_to_string(format!("static/models/{name}.json")).unwrap();
            let card: ModelCard = serde_json::from_str(&text).unwrap();
            assert_eq!(card.name, name);
            let arch = card.architecture_kind().unwrap();
            let bytes = std::fs::read(format!("static/models/{name}.safetensors")).unwrap();
            crate::classification::classifier::Classifier::from_safetensors(
                arch,
                &bytes,
                candle_core::DType::F32,
                &candle_core::Device::Cpu,
            )
            .unwrap_or_else(|e| panic!("{name} as {}: {e}", arch.name()));
        }
    }

    #[test]
    fn other_names_are_refused() {
        for name in ["vgg", "../cnn", "cnn.json", "", "planted"] {
            assert!(check_model_name(name).is_err(), "{name}");
        }
    }
}
