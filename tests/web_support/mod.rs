//! What the wasm tests (`tests/web.rs`, `tests/web_structural.rs`) share: the shipped files they
//! install, and installing a model in the worker runtime.
#![allow(dead_code)]

use barriers_lab::card::ModelCard;
use barriers_lab::classification::mnist::Digits;
use barriers_lab::mri::learned::cascade::CascadeNet;
use barriers_lab::mri::learned::hallucination::NetCard;
use barriers_lab::mri::operator::SubsampledFourier;
use barriers_lab::protocol::{Body, Job};
use barriers_lab::web::worker::runtime;

pub const LINEAR: &[u8] = include_bytes!("../../static/models/linear.safetensors");
pub const LINEAR_CARD: &str = include_str!("../../static/models/linear.json");
pub const CNN: &[u8] = include_bytes!("../../static/models/cnn.safetensors");
pub const CNN_CARD: &str = include_str!("../../static/models/cnn.json");
pub const HELD_OUT: &[u8] = include_bytes!("../../static/data/mnist-heldout.safetensors");

/// Installs a shipped model (its card's JSON and its weights) in this thread's worker runtime
/// and returns the held-out digits.
pub fn install(card: &str, weights: &[u8]) -> Digits {
    let card: ModelCard = serde_json::from_str(card).unwrap();
    runtime::install_model(card, weights).unwrap();
    Digits::from_safetensors(HELD_OUT).unwrap()
}

/// The shipped `cascade-12`: its card, the network and its sampling operator.
pub fn shipped_cascade_12() -> (NetCard, CascadeNet, SubsampledFourier) {
    let card: NetCard =
        serde_json::from_str(include_str!("../../static/models/cascade-12.json")).unwrap();
    let (net, mask) = card
        .load(include_bytes!("../../static/models/cascade-12.safetensors"))
        .unwrap();
    (card, net, SubsampledFourier::new(mask).unwrap())
}

/// Runs each job (as request `id`) and checks that it fails with a message containing the
/// expected words.
pub async fn assert_rejected<const N: usize>(id: u64, cases: [(Job, &str); N]) {
    for (job, expect) in cases {
        let body = runtime::execute(id, job, &|_: Body| {}).await;
        assert!(
            matches!(body, Body::Failed { ref message } if message.contains(expect)),
            "{expect}: {body:?}"
        );
    }
}
