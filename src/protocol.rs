//! Messages between the page (Yew app) and the compute worker.
//!
//! The page sends [`Request`]s, each with an id it chose; the worker answers with [`Reply`]s
//! carrying the same id: any number of [`Body::Progress`], then exactly one final body
//! (a result, [`Body::Failed`] or [`Body::Cancelled`]). [`Job::Cancel`] asks the worker to stop the
//! job with the given id at its next check point. Messages travel as JSON strings.

use crate::attack::{AttackKind, AttackOutcome};
use crate::card::ModelCard;
use crate::classifier::Prediction;
use crate::robustness::AttackSummary;
use crate::{Error, Result};
use serde::{Deserialize, Serialize};

/// A request from the page.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Request {
    pub id: u64,
    pub job: Job,
}

/// The work the worker can do.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Job {
    /// Fetch and check a model's weights and card; answered by [`Body::ModelReady`].
    LoadModel { model: String },
    /// Classify one 28×28 image (784 intensities in [0, 1]); answered by [`Body::Classified`].
    Classify { model: String, image: Vec<f32> },
    /// Measure a model's accuracy on the first `count` held-out digits, reporting progress;
    /// answered by [`Body::Evaluated`].
    Evaluate { model: String, count: usize },
    /// Attack one image (784 intensities) with `attack`; answered by [`Body::Attacked`].
    Attack {
        model: String,
        image: Vec<f32>,
        attack: AttackKind,
        seed: u64,
    },
    /// Attack the first `count` held-out digits with every attack, reporting progress;
    /// answered by [`Body::Robustness`].
    Robustness { model: String, count: usize },
    /// Stop the job with this id.
    Cancel { target: u64 },
}

/// A reply from the worker.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Reply {
    pub id: u64,
    pub body: Body,
}

/// What the worker says.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Body {
    /// The worker has started and is ready for requests (id 0).
    Ready,
    /// Progress of a long job: `done` of `total` units.
    Progress { done: usize, total: usize },
    /// A model is loaded and checked.
    ModelReady { card: ModelCard },
    /// A classification.
    Classified {
        model: String,
        prediction: Prediction,
        /// Time spent in the model, milliseconds.
        millis: f64,
    },
    /// Accuracy on held-out digits.
    Evaluated {
        model: String,
        correct: usize,
        count: usize,
        millis: f64,
    },
    /// An attack's result.
    Attacked {
        model: String,
        outcome: AttackOutcome,
        /// The model's answer on the unperturbed image.
        original: Prediction,
        /// The smallest `t` with `k̂(x + t·r) ≠ k̂(x)` (where the slider flips).
        flip_t: f64,
        millis: f64,
    },
    /// The robustness summary of one model.
    Robustness {
        model: String,
        /// Correctly classified digits among those attacked.
        correct: usize,
        count: usize,
        summaries: Vec<(AttackKind, AttackSummary)>,
    },
    /// The job stopped because it was cancelled.
    Cancelled,
    /// The job failed; the message is for people.
    Failed { message: String },
    /// The worker panicked and must be restarted (id 0).
    Panicked { message: String },
}

impl Body {
    /// Whether this body ends its job.
    pub fn is_final(&self) -> bool {
        !matches!(self, Body::Progress { .. } | Body::Ready)
    }
}

impl Request {
    /// Encodes for `postMessage`.
    pub fn encode(&self) -> String {
        serde_json::to_string(self).expect("requests always serialise")
    }

    /// Decodes a message from the page.
    pub fn decode(text: &str) -> Result<Self> {
        serde_json::from_str(text).map_err(Error::from)
    }
}

impl Reply {
    /// Encodes for `postMessage`.
    pub fn encode(&self) -> String {
        serde_json::to_string(self).expect("replies always serialise")
    }

    /// Decodes a message from the worker.
    pub fn decode(text: &str) -> Result<Self> {
        serde_json::from_str(text).map_err(Error::from)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_and_replies_round_trip() {
        let r = Request {
            id: 7,
            job: Job::Classify {
                model: "cnn".into(),
                image: vec![0.5; 784],
            },
        };
        assert_eq!(Request::decode(&r.encode()).unwrap(), r);
        let p = Reply {
            id: 7,
            body: Body::Progress { done: 3, total: 9 },
        };
        assert_eq!(Reply::decode(&p.encode()).unwrap(), p);
        assert!(!p.body.is_final());
        assert!(Body::Cancelled.is_final());
        assert!(Request::decode("{\"id\":1}").is_err());
        assert!(Reply::decode("garbage").is_err());
    }
}
