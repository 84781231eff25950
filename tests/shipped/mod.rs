//! What the native MRI tests load from the shipped files: a reconstruction network with its
//! sampling operator, and the brain slices at 128².
#![allow(dead_code)]

use barriers_lab::mri::brain::BrainSlices;
use barriers_lab::mri::learned::cascade::CascadeNet;
use barriers_lab::mri::learned::hallucination::NetCard;
use barriers_lab::mri::operator::SubsampledFourier;

/// The shipped network `name` (`static/models/<name>.{json,safetensors}`): its card, the
/// network and its sampling operator `A`.
pub fn network(name: &str) -> (NetCard, CascadeNet, SubsampledFourier) {
    let card: NetCard = serde_json::from_str(
        &std::fs::read_to_string(format!("static/models/{name}.json")).unwrap(),
    )
    .unwrap();
    let (net, m) = card
        .load(&std::fs::read(format!("static/models/{name}.safetensors")).unwrap())
        .unwrap();
    (card, net, SubsampledFourier::new(m).unwrap())
}

/// The 128² brain slices.
pub fn brain() -> BrainSlices {
    BrainSlices::from_safetensors(&std::fs::read("static/data/mri/brain-128.safetensors").unwrap())
        .unwrap()
}
