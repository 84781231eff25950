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

impl ModelCard {
    /// The architecture named by the card.
    pub fn architecture_kind(&self) -> crate::Result<Architecture> {
        Architecture::from_name(&self.name)
    }
}
