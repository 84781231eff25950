//! The URL state of the MRI demos (reconstruction, hallucinations, troublesome kernel,
//! structural details, sampling sweep, accuracy-versus-stability trade-off): one table of
//! settings each, read and written by [`QueryState`].

use crate::mri::brain::{Orientation, Role, SliceId, Split};
use crate::mri::details::{
    wrap, DetailKind, DetailSpec, DETAIL_GRID, MAX_INTENSITY, MAX_SIZE, MAX_T, MAX_TEXT,
};
use crate::mri::learned::sweep::{MAX_NETS, MAX_RATE, MAX_RATES, MIN_RATE, RATES};
use crate::mri::sampling::Pattern;
use crate::mri::wavelet::Wavelet;
use crate::protocol::{MriImage, ReconstructJob};
use crate::route::{
    by_name, choice, field, held, is_name, number, number_in, shorten, Field, Held, QueryState,
    Unknown, MAX_NAME,
};

/// The URL state of the MRI reconstruction demo: the image, sampling and FIRENET settings, and
/// the layer shown (`None`: the last).
#[derive(Clone, Debug, PartialEq)]
pub struct MriState {
    pub job: ReconstructJob,
    pub layer: Option<usize>,
}

/// Sampling rates the demo's slider offers.
pub const MRI_RATES: std::ops::RangeInclusive<f64> = 0.05..=0.6;
/// Relative noise levels the demo's slider offers.
pub const MRI_NOISE: std::ops::RangeInclusive<f64> = 0.0..=0.2;
/// λ the advanced panel accepts.
pub const MRI_LAMBDA: std::ops::RangeInclusive<f32> = 1e-6..=0.1;
/// FIRENET blocks `n` and layers per block `p` the advanced panel accepts.
pub const MRI_BLOCKS: std::ops::RangeInclusive<usize> = 1..=20;
pub const MRI_LAYERS_PER_BLOCK: std::ops::RangeInclusive<usize> = 1..=50;

impl Default for MriState {
    fn default() -> Self {
        Self {
            job: ReconstructJob {
                image: MriImage::Brain {
                    orientation: "axial".into(),
                    index: 4,
                },
                side: 128,
                pattern: Pattern::VariableDensity,
                rate: 0.25,
                noise: 0.0,
                seed: 1,
                wavelet: "db4".into(),
                lambda: DEFAULT_LAMBDA,
                blocks: 5,
                layers_per_block: 10,
                engine: Default::default(),
                lose_gpu: false,
            },
            layer: None,
        }
    }
}

/// FIRENET's default λ for images in [0, 1] (see `lab firenet-report`).
pub const DEFAULT_LAMBDA: f32 = 1e-3;

impl QueryState for MriState {
    /// `image=<brain|shepp_logan|ellipses|upload>`, `orientation`, `slice`, `seed` (assembled
    /// into the image in [`QueryState::finish`]), `side`, `pattern`, `rate`, `noise`, `wavelet`,
    /// `lambda`, `n`, `p`, `layer` (checked against `n`·`p` in `finish`).
    fn fields() -> Vec<Field<Self>> {
        vec![
            held!(
                "image",
                |_, v| match v {
                    "brain" | "shepp_logan" | "ellipses" | "upload" => Ok(()),
                    _ => Err(format!(
                        "Unknown image \u{201c}{v}\u{201d}: showing a brain slice."
                    )),
                },
                |s| Some(
                    match s.job.image {
                        MriImage::Brain { .. } => "brain",
                        MriImage::SheppLogan => "shepp_logan",
                        MriImage::Ellipses { .. } => "ellipses",
                        MriImage::Upload => "upload",
                    }
                    .into()
                )
            ),
            held!(
                "orientation",
                |_, v| Orientation::from_name(v).map(drop).map_err(|_| format!(
                    "Unknown orientation \u{201c}{v}\u{201d}: showing an axial slice."
                )),
                |s| match &s.job.image {
                    MriImage::Brain { orientation, .. } => Some(orientation.clone()),
                    _ => None,
                }
            ),
            held!(
                "slice",
                |_, v| number_in("slice", v, &(0..=999usize)).map(drop),
                |s| {
                    match s.job.image {
                        MriImage::Brain { index, .. } => Some(index.to_string()),
                        _ => None,
                    }
                }
            ),
            held!(
                "seed",
                |_, v| number_in("seed", v, &(0..=u64::MAX)).map(drop),
                |s| {
                    match s.job.image {
                        MriImage::Ellipses { seed } => Some(seed.to_string()),
                        _ => None,
                    }
                }
            ),
            choice!(
                "side",
                job.side,
                ["128" => 128, "256" => 256],
                |_, v| format!(
                    "The lab works at 128 or 256 pixels, not \u{201c}{v}\u{201d}: using 128."
                ),
                |s| Some(s.job.side.to_string())
            ),
            by_name!("pattern", job.pattern, Pattern, |_, v| format!(
                "Unknown sampling pattern \u{201c}{v}\u{201d}: using variable density."
            )),
            number!("rate", job.rate, MRI_RATES),
            number!("noise", job.noise, MRI_NOISE),
            field!(
                "wavelet",
                |s, v| {
                    let wavelet = Wavelet::from_name(v)
                        .map_err(|_| format!("Unknown wavelet \u{201c}{v}\u{201d}: using db4."))?;
                    s.job.wavelet = wavelet.name().to_string();
                    Ok(())
                },
                |s| Some(s.job.wavelet.clone())
            ),
            number!("lambda", job.lambda, MRI_LAMBDA),
            number!("n", job.blocks, MRI_BLOCKS),
            number!("p", job.layers_per_block, MRI_LAYERS_PER_BLOCK),
            number!("layer", Some(layer), 1..=1000),
        ]
    }

    /// The image from its parts; a layer past the network's last falls back to the last.
    fn finish(&mut self, held: &Held, notices: &mut Vec<String>) {
        let job = &mut self.job;
        job.image = match held.get("image") {
            Some("shepp_logan") => MriImage::SheppLogan,
            Some("ellipses") => MriImage::Ellipses {
                seed: held.parse("seed").unwrap_or(1),
            },
            Some("upload") => MriImage::Upload,
            _ => MriImage::Brain {
                orientation: held.get("orientation").unwrap_or("axial").into(),
                index: held.parse("slice").unwrap_or(4),
            },
        };
        if let Some(l) = self.layer {
            let layers = job.blocks * job.layers_per_block;
            if l > layers {
                notices.push(format!(
                    "FIRENET has {layers} layers here: showing the last."
                ));
                self.layer = None;
            }
        }
    }
}

/// Strengths `t` the hallucinations demo's slider offers (`x + t·r`).
pub const STRENGTHS: std::ops::RangeInclusive<f64> = 0.0..=1.5;

/// The URL state of the hallucinations demo.
#[derive(Clone, Debug, PartialEq)]
pub struct HallucinationState {
    /// A shipped network; `None` for the report's hallucinating one (or its first).
    pub net: Option<String>,
    /// Index into the report's demo slices.
    pub slice: usize,
    /// `t` in `x + t·r_j`.
    pub strength: f64,
    /// Gaussian noise of the same norms instead of the worst cases.
    pub gaussian: bool,
}

impl Default for HallucinationState {
    fn default() -> Self {
        Self {
            net: None,
            slice: 0,
            strength: 1.0,
            gaussian: false,
        }
    }
}

impl QueryState for HallucinationState {
    const UNKNOWN: Unknown = Unknown::IgnoredLast;

    /// `net`, `slice`, `t` and `noise=gaussian|worst`. (Whether `net` and `slice` exist is
    /// checked against the report.)
    fn fields() -> Vec<Field<Self>> {
        vec![
            field!(
                "net",
                |s, v| {
                    if !is_name(v) {
                        return Err(format!(
                            "There is no network \u{201c}{v}\u{201d}: showing the default."
                        ));
                    }
                    s.net = Some(v.to_string());
                    Ok(())
                },
                |s| s.net.clone()
            ),
            number!("slice", slice, 0..16, |_, v| format!(
                "There is no demo slice \u{201c}{v}\u{201d}: showing the first."
            )),
            number!("t", strength, STRENGTHS, |_, v| format!(
                "The strength t must lie between 0 and {}, not \u{201c}{v}\u{201d}: using 1.",
                STRENGTHS.end()
            )),
            choice!("noise", gaussian, ["gaussian" => true, "worst" => false], |_, v| format!(
                "Unknown perturbation \u{201c}{v}\u{201d} (worst or gaussian): using the worst case."
            )),
        ]
    }
}

/// The number of slices in each stack of the brain file both sides of the detail pages come
/// from (`static/data/mri/brain-128.safetensors`; the 64² slices are its slices halved):
/// axial, coronal, sagittal (checked against the file in the tests).
pub const BRAIN_STACKS: [(Orientation, usize); 3] = [
    (Orientation::Axial, 40),
    (Orientation::Coronal, 16),
    (Orientation::Sagittal, 16),
];

/// The slices held out under `split`, by name (`axial 20`), by orientation then position: 18
/// under the interleaved split of the 64² networks, 9 under the separated split of the 128²
/// ones. (Both sides cut the same stacks, so the list depends on the split only.)
pub fn held_out_slice_names(split: Split) -> Vec<String> {
    held_out_slices(split)
        .into_iter()
        .map(|id| id.to_string())
        .collect()
}

/// [`held_out_slice_names`] as slices.
pub fn held_out_slices(split: Split) -> Vec<SliceId> {
    BRAIN_STACKS
        .iter()
        .flat_map(|&(orientation, count)| {
            (0..count)
                .filter(move |&index| split.role(index) == Role::Test)
                .map(move |index| SliceId { orientation, index })
        })
        .collect()
}

/// A slice of the brain stacks (`axial 7`), whatever its role.
fn is_slice(name: &str) -> bool {
    SliceId::from_name(name).is_ok_and(|id| {
        id.to_string() == name
            && BRAIN_STACKS
                .iter()
                .any(|&(o, count)| o == id.orientation && id.index < count)
    })
}

/// What the URL state of the detail pages must know of a network before its card is fetched:
/// its side (the side of the page's images and of the detail) and the split of its training
/// (which slices are held out). The tests check it against every shipped card.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DetailNet {
    pub name: &'static str,
    pub side: usize,
    pub split: Split,
}

impl DetailNet {
    const fn at_128(name: &'static str) -> Self {
        Self {
            name,
            side: 128,
            split: Split::Separated,
        }
    }

    const fn at_64(name: &'static str) -> Self {
        Self {
            name,
            side: 64,
            split: Split::Interleaved,
        }
    }

    /// The slice a page shows for this network when the link names none: `axial 20` (the middle
    /// held-out axial slice of the separated split), `axial 10` under the interleaved split.
    pub fn default_slice(self) -> &'static str {
        match self.split {
            Split::Separated => "axial 20",
            Split::Interleaved => "axial 10",
        }
    }

    /// Whether the slice called `name` is held out for this network.
    pub fn holds_out(self, name: &str) -> bool {
        is_slice(name)
            && SliceId::from_name(name).is_ok_and(|id| self.split.role(id.index) == Role::Test)
    }

    /// The held-out slice of this network nearest to `name` in the same stack (the lower of two
    /// as near); the default slice for a name that is no slice.
    pub fn nearest_held_out(self, name: &str) -> String {
        let Ok(id) = SliceId::from_name(name) else {
            return self.default_slice().into();
        };
        held_out_slices(self.split)
            .into_iter()
            .filter(|h| h.orientation == id.orientation)
            .min_by_key(|h| (h.index.abs_diff(id.index), h.index))
            .map_or_else(|| self.default_slice().into(), |h| h.to_string())
    }
}

/// The shipped networks the kernel and details pages offer (each fixes the sampling `A`), the
/// 128² ones first.
pub const DETAIL_NETS: [DetailNet; 6] = [
    DetailNet::at_128("cascade-128"),
    DetailNet::at_128("cascade-128-kernel"),
    DetailNet::at_64("cascade-12"),
    DetailNet::at_64("cascade-8"),
    DetailNet::at_64("cascade-12-noise"),
    DetailNet::at_64("cascade-12-kernel"),
];

/// The network of the detail pages called `name`.
pub fn detail_net(name: &str) -> Option<DetailNet> {
    DETAIL_NETS.into_iter().find(|n| n.name == name)
}

/// The picker's words for a network, from its card's title: `cascade-128: deep cascade, 128²,
/// 25% variable-density sampling` (its name and [`detail_net_words`]).
pub fn detail_net_label(name: &str, title: &str, side: usize) -> String {
    let mut words = detail_net_words(title, side);
    if let Some(c) = words.chars().next() {
        words = c.to_lowercase().chain(words.chars().skip(1)).collect();
    }
    format!("{name}: {words}")
}

/// A card's title made short and given the side: `Deep cascade, 128², 25% variable-density
/// sampling`. The title's architecture in brackets is dropped, the side is named where the title
/// leaves it out (the 64² cards), whole percentages lose their `.0` and "variable-density random
/// sampling" is shortened to "variable-density sampling".
pub fn detail_net_words(title: &str, side: usize) -> String {
    let mut parts: Vec<String> = title
        .split(", ")
        .map(|p| match p.find(" (") {
            Some(k) if p.ends_with(')') => p[..k].to_string(),
            _ => p.to_string(),
        })
        .map(|p| {
            p.replace(".0%", "%").replace(
                "variable-density random sampling",
                "variable-density sampling",
            )
        })
        .collect();
    let named = format!("{side}\u{b2}");
    if !parts.contains(&named) {
        parts.insert(parts.len().min(1), named);
    }
    parts.join(", ")
}

/// What the kernel-awareness and structural-details pages share in their URLs: the network
/// (whose sampling every method uses), the held-out slice and the detail.
#[derive(Clone, Debug, PartialEq)]
pub struct DetailSettings {
    /// One of [`DETAIL_NETS`].
    pub net: String,
    /// A slice held out for the network, `axial 20`.
    pub slice: String,
    /// The detail, in the coordinates of the 64² grid at every side (see [`DetailSpec`]).
    pub detail: DetailSpec,
}

impl DetailSettings {
    /// The network (the first of [`DETAIL_NETS`] for a name that is not one of them, which the
    /// URL state never holds).
    pub fn net(&self) -> DetailNet {
        detail_net(&self.net).unwrap_or(DETAIL_NETS[0])
    }

    /// The side of the page's images: the network's.
    pub fn side(&self) -> usize {
        self.net().side
    }

    /// Keeps the slice if the network holds it out; otherwise moves to the nearest slice it
    /// holds out and says so.
    pub fn fit_slice(&mut self) -> Option<String> {
        let net = self.net();
        if net.holds_out(&self.slice) {
            return None;
        }
        let why = match SliceId::from_name(&self.slice).map(|id| net.split.role(id.index)) {
            Ok(Role::Train) => "it was trained on it",
            Ok(Role::Buffer) => "it lies next to a held-out slice, used by neither side",
            _ => "it is no slice",
        };
        let nearest = net.nearest_held_out(&self.slice);
        let notice = format!(
            "{} does not hold out \u{201c}{}\u{201d} ({why}): showing {nearest}, the nearest slice it holds out.",
            net.name,
            shorten(&self.slice)
        );
        self.slice = nearest;
        Some(notice)
    }

    /// [`QueryState::finish`] of both pages: a slice the link names but the network does not
    /// hold out moves to the nearest held-out one, with a notice; without a slice in the link,
    /// the network's default slice, silently.
    fn finish(&mut self, held: &Held, notices: &mut Vec<String>) {
        if held.get("slice").is_none() && !self.net().holds_out(&self.slice) {
            self.slice = self.net().default_slice().into();
        }
        notices.extend(self.fit_slice());
    }
}

/// The smallest `t` of the kernel page's slider (at `t = 0`, `x′ = x` and nothing is added).
pub const MIN_T: f64 = 0.1;

/// The settings of the [`DetailSettings`] at `state.$part`: `net`, `slice`,
/// `detail=text|lesion|drawn` (`drawn`: the pixels stay on the page, a link opens an empty
/// drawing), `text` (kept in the link for every kind, so that switching back keeps it), `row`,
/// `col`, `size`, `intensity`.
macro_rules! detail_fields {
    ($part:ident) => {
        [
            field!(
                "net",
                |s, v| {
                    if detail_net(v).is_none() {
                        return Err(format!(
                            "There is no network \u{201c}{}\u{201d} on this page: showing {}.",
                            shorten(v),
                            s.$part.net
                        ));
                    }
                    s.$part.net = v.to_string();
                    Ok(())
                },
                |s| Some(s.$part.net.clone())
            ),
            // Any slice of the stacks; whether the network holds it out is checked once every
            // setting is read (`DetailSettings::finish`), whatever the order of the keys.
            held!(
                "slice",
                |s, v| {
                    if !is_slice(v) {
                        return Err(format!(
                            "\u{201c}{}\u{201d} is not a slice (e.g. axial 20): showing {}.",
                            shorten(v),
                            s.$part.slice
                        ));
                    }
                    s.$part.slice = v.to_string();
                    Ok(())
                },
                |s| Some(s.$part.slice.clone())
            ),
            by_name!("detail", $part.detail.kind, DetailKind, |s, v| format!(
                "Unknown detail \u{201c}{v}\u{201d} (text, lesion or drawn): showing {}.",
                s.$part.detail.kind.name()
            )),
            field!(
                "text",
                |s, v| {
                    if v.chars().count() > MAX_TEXT || wrap(v, 1, DETAIL_GRID).is_err() {
                        return Err(format!(
                            "The text \u{201c}{v}\u{201d} cannot be drawn (A–Z, 0–9 and spaces, at most {MAX_TEXT} characters): showing \u{201c}{}\u{201d}.",
                            s.$part.detail.text
                        ));
                    }
                    s.$part.detail.text = v.to_uppercase();
                    Ok(())
                },
                |s| Some(s.$part.detail.text.clone())
            ),
            number!("row", $part.detail.row, 0..DETAIL_GRID, |s, v| format!(
                "The row must be a pixel of the {DETAIL_GRID}\u{b2} grid, 0 to {}, not \u{201c}{v}\u{201d}: using {}.",
                DETAIL_GRID - 1,
                s.$part.detail.row
            )),
            number!("col", $part.detail.col, 0..DETAIL_GRID, |s, v| format!(
                "The col must be a pixel of the {DETAIL_GRID}\u{b2} grid, 0 to {}, not \u{201c}{v}\u{201d}: using {}.",
                DETAIL_GRID - 1,
                s.$part.detail.col
            )),
            number!("size", $part.detail.size, 1..=MAX_SIZE, |s, v| format!(
                "The size must be 1 to {MAX_SIZE}, not \u{201c}{v}\u{201d}: using {}.",
                s.$part.detail.size
            )),
            field!(
                "intensity",
                |s, v| match v.parse::<f32>() {
                    Ok(x) if x.is_finite() && x.abs() <= MAX_INTENSITY && x != 0.0 => {
                        s.$part.detail.intensity = x;
                        Ok(())
                    }
                    _ => Err(format!(
                        "The intensity must be non-zero, between −{MAX_INTENSITY} and {MAX_INTENSITY}, not \u{201c}{v}\u{201d}: using {}.",
                        $crate::route::short_number(s.$part.detail.intensity)
                    )),
                },
                |s| Some(s.$part.detail.intensity.to_string())
            ),
        ]
    };
}

/// The URL state of the troublesome-kernel page (`#/kernel`): the detail and `t` of
/// `x′ = x + t·z_N`.
#[derive(Clone, Debug, PartialEq)]
pub struct KernelState {
    pub settings: DetailSettings,
    pub t: f64,
}

impl Default for KernelState {
    fn default() -> Self {
        Self {
            settings: DetailSettings {
                net: DETAIL_NETS[0].name.into(),
                slice: DETAIL_NETS[0].default_slice().into(),
                detail: DetailSpec {
                    kind: DetailKind::Text,
                    text: "AI".into(),
                    row: 30,
                    col: 32,
                    size: 2,
                    intensity: 0.5,
                },
            },
            t: 1.0,
        }
    }
}

impl QueryState for KernelState {
    /// The detail settings and `t` (|t| ≤ [`MAX_T`]).
    fn fields() -> Vec<Field<Self>> {
        let mut fields = Vec::from(detail_fields!(settings));
        fields.push(field!(
            "t",
            |s, v| match v.parse::<f64>() {
                Ok(t) if (MIN_T..=MAX_T).contains(&t) => {
                    s.t = t;
                    Ok(())
                }
                Ok(t) if t.is_finite() => {
                    // Outside the slider's range: its nearer end.
                    s.t = t.clamp(MIN_T, MAX_T);
                    Err(format!(
                        "t runs from {MIN_T} to {MAX_T}; \u{201c}{}\u{201d} is outside: using {}.",
                        shorten(v),
                        s.t
                    ))
                }
                _ => Err(format!(
                    "t must be a number from {MIN_T} to {MAX_T}, not \u{201c}{}\u{201d}: using {}.",
                    shorten(v),
                    s.t
                )),
            },
            |s| Some(s.t.to_string())
        ));
        fields
    }

    fn finish(&mut self, held: &Held, notices: &mut Vec<String>) {
        self.settings.finish(held, notices);
    }
}

/// The URL state of the structural-details page (`#/details`, "Can u see it?").
#[derive(Clone, Debug, PartialEq)]
pub struct DetailsState {
    pub settings: DetailSettings,
}

impl Default for DetailsState {
    fn default() -> Self {
        let mut settings = KernelState::default().settings;
        settings.detail.text = "CAN U SEE IT".into();
        settings.detail.size = 1;
        settings.detail.intensity = 0.3;
        settings.detail.row = 32;
        Self { settings }
    }
}

impl QueryState for DetailsState {
    /// The detail settings.
    fn fields() -> Vec<Field<Self>> {
        detail_fields!(settings).into()
    }

    fn finish(&mut self, held: &Held, notices: &mut Vec<String>) {
        self.settings.finish(held, notices);
    }
}

/// A share of k-space as the percentage the sampling-sweep URL uses (two decimals at most:
/// `0.075` → `7.5`).
pub fn rate_percent(rate: f64) -> String {
    format!("{}", (rate * 1e4).round() / 1e2)
}

/// The URL state of the sampling-sweep page (`#/sweep`): the networks, the rates (percent in
/// the URL) and the number of held-out slices of a live sweep.
#[derive(Clone, Debug, PartialEq)]
pub struct SweepState {
    /// Shipped networks; `None`: every network of the shipped report.
    pub nets: Option<Vec<String>>,
    /// Shares of k-space, increasing, within [`crate::mri::learned::sweep::MIN_RATE`] …
    /// [`crate::mri::learned::sweep::MAX_RATE`], at most [`crate::mri::learned::sweep::MAX_RATES`].
    pub rates: Vec<f64>,
    /// Held-out slices per mean; `None`: all of them (as in the shipped report).
    pub slices: Option<usize>,
}

impl Default for SweepState {
    fn default() -> Self {
        Self {
            nets: None,
            rates: RATES.to_vec(),
            slices: None,
        }
    }
}

impl QueryState for SweepState {
    /// `nets=a,b`, `rates=5,10,20` (percent, rounded to 0.01%; sorted, repeats dropped) and
    /// `slices=N`. (Whether the networks exist and `N` is at most the number of held-out slices
    /// is checked against the shipped report on the page.)
    fn fields() -> Vec<Field<Self>> {
        vec![
            field!("nets", read_nets, |s| s.nets.as_ref().map(|n| n.join(","))),
            field!("rates", read_rates, |s| Some(
                s.rates
                    .iter()
                    .map(|&r| rate_percent(r))
                    .collect::<Vec<_>>()
                    .join(",")
            )),
            number!("slices", Some(slices), 1.., |_, v| {
                format!(
                "The number of held-out slices must be a whole number from 1 on, not \u{201c}{v}\u{201d}: using all of them."
            )
            }),
        ]
    }
}

/// Reads `nets=a,b`: distinct names, at most [`MAX_NETS`].
fn read_nets(state: &mut SweepState, value: &str) -> Result<(), String> {
    let names: Vec<String> = value.split(',').map(|s| s.trim().to_string()).collect();
    let valid = names.iter().all(|n| is_name(n) && n.len() <= MAX_NAME);
    let distinct = (1..names.len()).all(|k| !names[..k].contains(&names[k]));
    if !(valid && distinct && names.len() <= MAX_NETS) {
        return Err(format!(
            "\u{201c}{value}\u{201d} is not a list of networks (e.g. cascade-8,cascade-12): showing every network of the report."
        ));
    }
    state.nets = Some(names);
    Ok(())
}

/// Reads `rates=5,10,20` (percent).
fn read_rates(state: &mut SweepState, value: &str) -> Result<(), String> {
    let parsed: Option<Vec<f64>> = value
        .split(',')
        .map(|s| {
            let p = s.trim().parse::<f64>().ok()?;
            let p = (p * 100.0).round() / 100.0;
            let r = p / 100.0;
            (p.is_finite() && (MIN_RATE..=MAX_RATE).contains(&r)).then_some(r)
        })
        .collect();
    let Some(mut rates) = parsed else {
        return Err(format!(
            "The rates must be percentages from {} to {}, comma-separated, not \u{201c}{value}\u{201d}: using the report's.",
            rate_percent(MIN_RATE),
            rate_percent(MAX_RATE)
        ));
    };
    rates.sort_by(f64::total_cmp);
    rates.dedup();
    if rates.len() > MAX_RATES {
        return Err(format!(
            "A sweep has at most {MAX_RATES} rates, not {}: using the report's.",
            rates.len()
        ));
    }
    state.rates = rates;
    Ok(())
}

/// The URL state of the accuracy-versus-stability page (`#/tradeoff?method=cascade-12`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TradeoffState {
    /// The highlighted point; `None`: none. (Whether the report has it is checked on the page.)
    pub method: Option<String>,
}

impl QueryState for TradeoffState {
    /// `method=NAME` (lower-case letters, digits and `-`, at most 40 characters); a bad value
    /// highlights nothing.
    fn fields() -> Vec<Field<Self>> {
        vec![field!(
            "method",
            |s, v| {
                if !(is_name(v) && v.len() <= MAX_NAME) {
                    return Err(format!(
                        "\u{201c}{v}\u{201d} is not a method name (e.g. cascade-12): no point is highlighted."
                    ));
                }
                s.method = Some(v.to_string());
                Ok(())
            },
            |s| s.method.clone()
        )]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::route::assert_round_trip;

    #[test]
    fn mri_state_round_trips_and_falls_back() {
        let mut state = MriState::default();
        state.job.image = MriImage::Ellipses { seed: 42 };
        state.job.pattern = Pattern::Radial;
        state.job.rate = 0.15;
        state.job.noise = 0.02;
        state.job.side = 256;
        state.job.wavelet = "haar".into();
        state.job.lambda = 0.003;
        state.job.blocks = 6;
        state.job.layers_per_block = 15;
        state.layer = Some(33);
        assert_round_trip(&state);
        let default = MriState::default();
        assert_round_trip(&default);
        let p = MriState::from_query(
            "image=cat&rate=2&noise=-1&lambda=NaN&n=0&p=abc&side=100&pattern=spiral&wavelet=db99&layer=5000&zoom=1",
        );
        assert_eq!(p.state, MriState::default());
        assert_eq!(p.notices.len(), 11, "{:?}", p.notices);
        let p = MriState::from_query("n=2&p=3&layer=7");
        assert_eq!(p.state.layer, None);
        assert_eq!(p.notices.len(), 1);
    }

    #[test]
    fn hallucination_state_round_trips_and_rejects_bad_values() {
        let state = HallucinationState {
            net: Some("cascade".into()),
            slice: 2,
            strength: 0.35,
            gaussian: true,
        };
        assert_round_trip(&state);
        let d = HallucinationState::default();
        assert_round_trip(&d);
        let bad =
            HallucinationState::from_query("net=../x&slice=99&t=NaN&noise=pink&zoom=2&embed=1");
        assert_eq!(bad.state, d);
        assert_eq!(bad.notices.len(), 5, "{:?}", bad.notices);
        assert_eq!(HallucinationState::from_query("t=2").state.strength, 1.0);
    }

    /// Text typed into the detail field goes into the link encoded: query syntax and percent
    /// escapes in it are read back as the same text (and refused, as text the grid cannot draw),
    /// never as other settings.
    #[test]
    fn typed_detail_text_is_written_into_the_link_encoded() {
        for typed in ["A&B=C", "%41%42", "A+B", "A#B"] {
            let mut state = KernelState::default();
            state.settings.detail.text = typed.to_string();
            let link = state.to_query();
            let p = KernelState::from_query(&link);
            assert_eq!(p.notices.len(), 1, "{typed:?} as {link:?}: {:?}", p.notices);
            assert!(
                p.notices[0]
                    .starts_with(&format!("The text \u{201c}{typed}\u{201d} cannot be drawn")),
                "{typed:?}: {:?}",
                p.notices
            );
            assert_eq!(
                p.state.settings.detail.text,
                KernelState::default().settings.detail.text
            );
        }
        let mut state = KernelState::default();
        state.settings.detail.text = "AB 12".to_string();
        assert!(
            state.to_query().contains("text=AB+12"),
            "{}",
            state.to_query()
        );
        assert_round_trip(&state);
    }

    #[test]
    fn kernel_and_details_states_round_trip_and_fall_back() {
        let d = KernelState::default();
        assert_eq!(
            (d.settings.net.as_str(), d.settings.slice.as_str()),
            ("cascade-128", "axial 20")
        );
        assert_eq!(d.settings.side(), 128);
        let mut state = KernelState::default();
        state.settings.net = "cascade-8".into();
        state.settings.slice = "coronal 14".into();
        state.settings.detail.text = "SEE IT".into();
        state.settings.detail.size = 3;
        state.settings.detail.intensity = -0.25;
        state.t = 2.5;
        assert_round_trip(&state);
        state.settings.detail.kind = DetailKind::Lesion;
        assert_round_trip(&state);
        state.settings.net = "cascade-128-kernel".into();
        state.settings.slice = "sagittal 12".into();
        assert_round_trip(&state);
        assert_eq!(KernelState::from_query("").state, d);
        let bad = KernelState::from_query(
            "net=Bad!&slice=axial+99&detail=blob&text=%C3%A9&row=64&col=-1&size=9&intensity=0&t=NaN&zoom=1&embed=1",
        );
        assert_eq!(bad.state, d);
        assert_eq!(bad.notices.len(), 10, "{:?}", bad.notices);
        let drawn = KernelState::from_query("detail=drawn&t=9");
        assert_eq!(drawn.state.settings.detail.kind, DetailKind::Drawn);
        assert_eq!(
            drawn.state.t, MAX_T,
            "t beyond the slider is clamped to its end"
        );
        assert_eq!(drawn.notices.len(), 1);
        // Out of range: clamped with a notice that says so; an unknown network falls back to the
        // default; row and col say which value is used.
        let p = KernelState::from_query("t=-5&net=evil&row=99&col=x&slice=oblique+3");
        assert_eq!(p.state.t, MIN_T);
        assert_eq!(p.state.settings.net, d.settings.net);
        assert_eq!(
            p.notices,
            [
                "t runs from 0.1 to 8; \u{201c}-5\u{201d} is outside: using 0.1.",
                "There is no network \u{201c}evil\u{201d} on this page: showing cascade-128.",
                "The row must be a pixel of the 64\u{b2} grid, 0 to 63, not \u{201c}99\u{201d}: using 30.",
                "The col must be a pixel of the 64\u{b2} grid, 0 to 63, not \u{201c}x\u{201d}: using 32.",
                "\u{201c}oblique 3\u{201d} is not a slice (e.g. axial 20): showing axial 20.",
            ]
        );
        let long = KernelState::from_query(&format!("net={}", "a".repeat(10_000)));
        assert!(long.notices[0].chars().count() < 120, "{:?}", long.notices);
        // Every echo of a pasted long value or key is cut (the route machinery does it for
        // every state).
        let nines = "9".repeat(10_000);
        let long = MriState::from_query(&format!("rate={nines}&{nines}=1"));
        assert_eq!(long.notices.len(), 2);
        for n in &long.notices {
            assert!(n.chars().count() < 150 && n.contains('…'), "{n}");
        }
        let details = DetailsState::default();
        assert_eq!(details.settings.net, "cascade-128");
        assert_round_trip(&details);
        let p = DetailsState::from_query("t=1&text=HELLO+WORLD");
        assert_eq!(p.state.settings.detail.text, "HELLO WORLD");
        assert_eq!(p.notices.len(), 1, "t is not a setting of the details page");
        // The defaults render at both sides.
        for side in [64, 128] {
            d.settings.detail.render(side).unwrap();
            details.settings.detail.render(side).unwrap();
        }
    }

    /// The slice follows the network: held out under its split, whatever the order of the
    /// link's keys; a slice it does not hold out moves to the nearest one, with a notice.
    #[test]
    fn the_slice_is_held_out_for_the_network() {
        assert_eq!(held_out_slice_names(Split::Interleaved).len(), 18);
        assert_eq!(
            held_out_slice_names(Split::Separated),
            [
                "axial 4",
                "axial 12",
                "axial 20",
                "axial 28",
                "axial 36",
                "coronal 4",
                "coronal 12",
                "sagittal 4",
                "sagittal 12"
            ]
        );
        assert!(held_out_slice_names(Split::Interleaved).contains(&"axial 38".to_string()));
        assert!(!held_out_slice_names(Split::Interleaved).contains(&"coronal 18".to_string()));
        // The 64² networks' links keep working, in either order of the keys.
        for link in [
            "net=cascade-12&slice=axial+10",
            "slice=axial+10&net=cascade-12",
        ] {
            let p = KernelState::from_query(link);
            assert_eq!(p.state.settings.slice, "axial 10", "{link}");
            assert!(p.notices.is_empty(), "{link}: {:?}", p.notices);
        }
        // Without a slice, the network's default, silently.
        let p = DetailsState::from_query("net=cascade-8");
        assert_eq!(p.state.settings.slice, "axial 10");
        assert!(p.notices.is_empty(), "{:?}", p.notices);
        // A slice the network does not hold out: the nearest it does, and why.
        let p = KernelState::from_query("slice=axial+10");
        assert_eq!(p.state.settings.slice, "axial 12");
        assert_eq!(
            p.notices,
            ["cascade-128 does not hold out \u{201c}axial 10\u{201d} (it lies next to a held-out slice, used by neither side): showing axial 12, the nearest slice it holds out."]
        );
        let p = DetailsState::from_query("net=cascade-128-kernel&slice=axial+8");
        assert_eq!(
            p.state.settings.slice, "axial 4",
            "of two as near, the lower"
        );
        assert!(
            p.notices[0].contains("it was trained on it"),
            "{:?}",
            p.notices
        );
        let p = DetailsState::from_query("slice=coronal+15&net=cascade-128");
        assert_eq!(p.state.settings.slice, "coronal 12");
        let p = KernelState::from_query("net=cascade-12&slice=sagittal+12");
        assert_eq!(p.state.settings.slice, "sagittal 10");
        assert_eq!(p.notices.len(), 1);
        // Switching the network on the page fits the slice the same way.
        let mut s = KernelState::from_query("net=cascade-12&slice=axial+10")
            .state
            .settings;
        assert_eq!(s.side(), 64);
        s.net = "cascade-128".into();
        assert!(s.fit_slice().unwrap().contains("showing axial 12"));
        assert_eq!((s.slice.as_str(), s.side()), ("axial 12", 128));
        assert_eq!(s.fit_slice(), None);
        s.net = "cascade-12-noise".into();
        assert!(s.fit_slice().is_some());
        assert_eq!(s.slice, "axial 10");
        // Every held-out slice of a network is kept, and is its own nearest.
        for net in DETAIL_NETS {
            for name in held_out_slice_names(net.split) {
                assert!(net.holds_out(&name), "{} {name}", net.name);
                assert_eq!(net.nearest_held_out(&name), name);
            }
            assert!(net.holds_out(net.default_slice()));
            assert!(!net.holds_out("axial 40") && !net.holds_out("axial 04"));
        }
    }

    /// What the URL state knows of each network agrees with its card, the stacks with the brain
    /// file, and the picker's words come from the card's title.
    #[test]
    fn the_detail_networks_are_shipped_as_described() {
        use crate::mri::learned::hallucination::NetCard;
        let brain = crate::mri::brain::BrainSlices::from_safetensors(
            &std::fs::read("static/data/mri/brain-128.safetensors").unwrap(),
        )
        .unwrap();
        for (o, count) in BRAIN_STACKS {
            assert_eq!(brain.count(o), count, "{o}");
        }
        for split in Split::ALL {
            assert_eq!(brain.slices(split, Role::Test), held_out_slices(split));
        }
        assert_eq!(DETAIL_NETS[0].side, 128);
        for net in DETAIL_NETS {
            let path = format!("static/models/{}.json", net.name);
            assert!(
                std::path::Path::new(&path).exists(),
                "{} is shipped",
                net.name
            );
            let card: NetCard =
                serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
            assert_eq!(
                (card.side, card.split),
                (net.side, net.split),
                "{}",
                net.name
            );
            let label = detail_net_label(net.name, &card.title, card.side);
            assert!(
                label.starts_with(&format!("{}: deep cascade, {}\u{b2}, ", net.name, net.side)),
                "{label}"
            );
        }
        for (name, title, side, label) in [
            (
                "cascade-128",
                "Deep cascade (4 × CNN + data consistency), 128², 25.0% variable-density random sampling",
                128,
                "cascade-128: deep cascade, 128², 25% variable-density sampling",
            ),
            (
                "cascade-12",
                "Deep cascade (4 × CNN + data consistency), 12.5% of lines",
                64,
                "cascade-12: deep cascade, 64², 12.5% of lines",
            ),
            (
                "cascade-12-noise",
                "Deep cascade (4 × CNN + data consistency), 12.5% of lines, trained with measurement noise",
                64,
                "cascade-12-noise: deep cascade, 64², 12.5% of lines, trained with measurement noise",
            ),
            ("x", "", 64, "x: , 64²"),
        ] {
            assert_eq!(detail_net_label(name, title, side), label);
        }
        assert_eq!(
            detail_net_words(
                "Deep cascade (4 × CNN + data consistency), 128², 25.0% variable-density random sampling, kernel details in training",
                128
            ),
            "Deep cascade, 128², 25% variable-density sampling, kernel details in training"
        );
    }

    #[test]
    fn sweep_state_round_trips_and_falls_back() {
        let state = SweepState {
            nets: Some(vec!["cascade-8".into(), "cascade-12".into()]),
            rates: vec![0.05, 0.075, 0.1, 0.2, 0.4],
            slices: Some(18),
        };
        assert_round_trip(&state);
        assert_eq!(
            state.to_query(),
            "nets=cascade-8,cascade-12&rates=5,7.5,10,20,40&slices=18"
        );
        let d = SweepState::default();
        assert_round_trip(&d);
        assert_eq!(SweepState::from_query("").state, d);
        // Unsorted and repeated rates are put in order; percent-encoded commas are fine.
        let p = SweepState::from_query("rates=40%2C5,20,5&slices=2");
        assert_eq!(p.state.rates, vec![0.05, 0.2, 0.4]);
        assert_eq!(p.state.slices, Some(2));
        assert!(p.notices.is_empty(), "{:?}", p.notices);
        let bad = SweepState::from_query("nets=../x&rates=1,90&slices=0&zoom=2&embed=1");
        assert_eq!(bad.state, d);
        assert_eq!(bad.notices.len(), 4, "{:?}", bad.notices);
        let bad = SweepState::from_query("rates=5,abc&nets=a,a&slices=x");
        assert_eq!(bad.state, d);
        assert_eq!(bad.notices.len(), 3, "{:?}", bad.notices);
        let many: Vec<String> = (1..=13).map(|k| (5 * k).to_string()).collect();
        let bad = SweepState::from_query(&format!("rates={}", many.join(",")));
        assert_eq!(bad.state.rates, d.rates);
        assert_eq!(bad.notices.len(), 1);
        // The edges are allowed.
        assert_eq!(
            SweepState::from_query("rates=2,80").state.rates,
            vec![0.02, 0.8]
        );
    }

    #[test]
    fn tradeoff_state_round_trips_and_falls_back() {
        let state = TradeoffState {
            method: Some("cascade-12-noise".into()),
        };
        assert_round_trip(&state);
        assert_eq!(
            TradeoffState::from_query("").state,
            TradeoffState::default()
        );
        assert_eq!(TradeoffState::default().to_query(), "");
        let bad = TradeoffState::from_query("method=%3Cscript%3E&zoom=2&embed=1");
        assert_eq!(bad.state, TradeoffState::default());
        assert_eq!(bad.notices.len(), 2, "{:?}", bad.notices);
        assert_eq!(TradeoffState::from_query("method=").notices.len(), 1);
    }

    /// Every state's default and a state with every setting changed come back from their
    /// links, which keep their order; unknown keys are noticed in each page's words.
    #[test]
    fn every_state_round_trips_through_its_table() {
        fn round_trip<S: QueryState + PartialEq + std::fmt::Debug>(state: S, link: &str) {
            assert_eq!(assert_round_trip(&state), link);
        }
        round_trip(
            MriState::default(),
            "image=brain&orientation=axial&slice=4&side=128&pattern=variable_density&rate=0.25&noise=0&wavelet=db4&lambda=0.001&n=5&p=10",
        );
        // The edges of every range, from the link's side.
        let link = "image=upload&side=256&pattern=radial&rate=0.6&noise=0.2&wavelet=sym4&lambda=0.1&n=20&p=50&layer=1000";
        let mri = MriState::from_query(link).state;
        assert_eq!(
            (mri.job.image.clone(), mri.job.blocks, mri.layer),
            (MriImage::Upload, 20, Some(1000))
        );
        round_trip(mri, link);
        round_trip(HallucinationState::default(), "slice=0&t=1&noise=worst");
        round_trip(
            HallucinationState {
                net: Some("cascade-12".into()),
                slice: 15,
                strength: 1.5,
                gaussian: true,
            },
            "net=cascade-12&slice=15&t=1.5&noise=gaussian",
        );
        round_trip(
            KernelState::default(),
            "net=cascade-128&slice=axial+20&detail=text&text=AI&row=30&col=32&size=2&intensity=0.5&t=1",
        );
        let link = "net=cascade-8&slice=sagittal+14&detail=lesion&text=AI&row=63&col=0&size=8&intensity=-1&t=8";
        let kernel = KernelState::from_query(link).state;
        assert_eq!(
            (kernel.settings.detail.kind, kernel.t),
            (DetailKind::Lesion, MAX_T)
        );
        round_trip(kernel, link);
        round_trip(
            DetailsState::default(),
            "net=cascade-128&slice=axial+20&detail=text&text=CAN+U+SEE+IT&row=32&col=32&size=1&intensity=0.3",
        );
        round_trip(
            SweepState::default(),
            "rates=5,7.5,10,12.5,15,20,25,30,40,50,60",
        );
        round_trip(
            SweepState {
                nets: Some(vec!["cascade-8".into()]),
                rates: vec![0.02, 0.8],
                slices: Some(1),
            },
            "nets=cascade-8&rates=2,80&slices=1",
        );
        round_trip(TradeoffState::default(), "");
        round_trip(
            TradeoffState {
                method: Some("cascade-12".into()),
            },
            "method=cascade-12",
        );
        assert_eq!(
            MriState::from_query("embed=1&zoom&rate=0.01&n=1&p=1&layer=2").notices,
            [
                "Ignored unknown setting \u{201c}zoom\u{201d}.",
                "Ignored rate=\u{201c}0.01\u{201d}: expected a number from 0.05 to 0.6.",
                "FIRENET has 1 layers here: showing the last."
            ]
        );
        assert_eq!(
            HallucinationState::from_query("zoom=1&t=2").notices,
            [
                "Unknown setting \u{201c}zoom\u{201d} ignored.",
                "The strength t must lie between 0 and 1.5, not \u{201c}2\u{201d}: using 1."
            ]
        );
        // The image's parts come together whatever their order.
        let p = MriState::from_query("seed=9&slice=7&image=ellipses&orientation=coronal");
        assert_eq!(p.state.job.image, MriImage::Ellipses { seed: 9 });
        assert!(p.notices.is_empty());
    }
}
