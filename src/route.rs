//! The state each demo keeps in its URL, so that a lecturer can link straight to an experiment.
//!
//! Routes live in the hash (`#/classify?model=cnn&digit=42`) so that any static host serves them.
//! Parsing never fails: unknown or malformed values fall back to defaults and produce a short
//! notice that the page shows. `embed=1` in the hash query, or `?embed` in the page query, hides
//! header and footer for iframes.

use crate::classification::attack::AttackKind;
use crate::classification::classifier::Architecture;
use crate::classification::mnist::HELD_OUT_COUNT;
use crate::mri::sampling::Pattern;
use crate::protocol::{MriImage, ReconstructJob};

/// Splits a query string (`a=1&b=two`, with or without a leading `?`) into decoded pairs.
pub fn parse_query(query: &str) -> Vec<(String, String)> {
    query
        .trim_start_matches('?')
        .split('&')
        .filter(|s| !s.is_empty())
        .map(|pair| match pair.split_once('=') {
            Some((k, v)) => (decode(k), decode(v)),
            None => (decode(pair), String::new()),
        })
        .collect()
}

/// Decodes `%XX` escapes and `+` (lossy on invalid UTF-8).
fn decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                (Some(h), Some(l)) => {
                    out.push(h * 16 + l);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex(b: u8) -> Option<u8> {
    (b as char).to_digit(16).map(|d| d as u8)
}

/// Whether a query asks for embed mode (`embed`, `embed=1`, `embed=true`).
pub fn is_embed(query: &str) -> bool {
    parse_query(query)
        .iter()
        .any(|(k, v)| k == "embed" && matches!(v.as_str(), "" | "1" | "true" | "yes"))
}

/// Where the digit of the Classify demo comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DigitSource {
    /// A held-out digit, by index.
    Gallery(usize),
    /// The user's drawing.
    Drawing,
}

/// The URL state of the Classify demo.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClassifyState {
    pub model: Architecture,
    pub source: DigitSource,
}

impl Default for ClassifyState {
    fn default() -> Self {
        Self {
            model: Architecture::Cnn,
            source: DigitSource::Gallery(0),
        }
    }
}

/// A demo's state kept in its URL query.
pub trait QueryState: Sized {
    /// Reads a query; never fails (bad values fall back to defaults, with notices).
    fn from_query(query: &str) -> Parsed<Self>;
    /// The query that [`QueryState::from_query`] reads back to this state.
    fn to_query(&self) -> String;
}

macro_rules! query_state {
    ($($t:ty),*) => {$(
        impl QueryState for $t {
            fn from_query(query: &str) -> Parsed<Self> {
                <$t>::from_query(query)
            }
            fn to_query(&self) -> String {
                <$t>::to_query(self)
            }
        }
    )*};
}
query_state!(ClassifyState, AttackState, MriState, HallucinationState);

/// A parsed state and what was wrong with the URL.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Parsed<T> {
    pub state: T,
    pub notices: Vec<String>,
}

impl ClassifyState {
    /// Applies one `key=value` of the URL if it is a model or digit setting; returns whether it was.
    fn apply(&mut self, key: &str, value: &str, notices: &mut Vec<String>) -> bool {
        match key {
            "model" => match Architecture::from_name(value) {
                Ok(a) => self.model = a,
                Err(_) => notices.push(format!(
                    "Unknown model \u{201c}{value}\u{201d}: showing the CNN instead."
                )),
            },
            "digit" if value == "draw" => self.source = DigitSource::Drawing,
            "digit" => match value.parse::<usize>() {
                Ok(i) if i < HELD_OUT_COUNT => self.source = DigitSource::Gallery(i),
                _ => notices.push(format!(
                    "There is no held-out digit \u{201c}{value}\u{201d} (0 to {}): showing digit 0.",
                    HELD_OUT_COUNT - 1
                )),
            },
            "embed" => {}
            _ => return false,
        }
        true
    }

    /// Reads `model=<linear|mlp|mlp-tanh|cnn|cnn-wide>`, `digit=<0..1999>` or `digit=draw`; ignores `embed`.
    pub fn from_query(query: &str) -> Parsed<Self> {
        let mut state = Self::default();
        let mut notices = Vec::new();
        for (key, value) in parse_query(query) {
            if !state.apply(&key, &value, &mut notices) {
                notices.push(unknown(&key));
            }
        }
        Parsed { state, notices }
    }

    /// The query that [`ClassifyState::from_query`] reads back to this state.
    pub fn to_query(&self) -> String {
        let digit = match self.source {
            DigitSource::Gallery(i) => i.to_string(),
            DigitSource::Drawing => "draw".to_string(),
        };
        format!("model={}&digit={digit}", self.model.name())
    }
}

fn unknown(key: &str) -> String {
    format!("Ignored unknown setting \u{201c}{key}\u{201d}.")
}

/// Which attack the Attacks demo shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AttackChoice {
    One(AttackKind),
    /// Random noise, fast gradient and DeepFool in one row, as in the lecture.
    CompareAll,
}

/// The URL state of the Attacks demo: the Classify state plus the attack.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AttackState {
    pub digit: ClassifyState,
    pub attack: AttackChoice,
}

impl Default for AttackState {
    fn default() -> Self {
        Self {
            digit: ClassifyState::default(),
            attack: AttackChoice::One(AttackKind::DeepFoolL2),
        }
    }
}

impl AttackState {
    /// Reads the Classify settings and `attack=<name>` or `attack=compare`.
    pub fn from_query(query: &str) -> Parsed<Self> {
        let mut state = Self::default();
        let mut notices = Vec::new();
        for (key, value) in parse_query(query) {
            if state.digit.apply(&key, &value, &mut notices) {
                continue;
            }
            match key.as_str() {
                "attack" if value == "compare" => state.attack = AttackChoice::CompareAll,
                "attack" => match AttackKind::from_name(&value) {
                    Ok(a) => state.attack = AttackChoice::One(a),
                    Err(_) => notices.push(format!(
                        "Unknown attack \u{201c}{value}\u{201d}: showing DeepFool instead."
                    )),
                },
                other => notices.push(unknown(other)),
            }
        }
        Parsed { state, notices }
    }

    /// The query that [`AttackState::from_query`] reads back to this state.
    pub fn to_query(&self) -> String {
        let attack = match self.attack {
            AttackChoice::One(a) => a.name(),
            AttackChoice::CompareAll => "compare",
        };
        format!("{}&attack={attack}", self.digit.to_query())
    }
}

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
            },
            layer: None,
        }
    }
}

/// FIRENET's default λ for images in [0, 1] (see `lab firenet-report`).
pub const DEFAULT_LAMBDA: f32 = 1e-3;

impl MriState {
    /// Reads `image=<brain|shepp_logan|ellipses|upload>`, `orientation`, `slice`, `seed`, `side`,
    /// `pattern`, `rate`, `noise`, `wavelet`, `lambda`, `n`, `p`, `layer`; bad values fall back
    /// to the defaults with a notice.
    pub fn from_query(query: &str) -> Parsed<Self> {
        let mut state = Self::default();
        let mut notices = Vec::new();
        let (mut image, mut orientation, mut slice, mut seed) =
            ("brain".to_string(), "axial".to_string(), 4usize, 1u64);
        let job = &mut state.job;
        fn number<T: std::str::FromStr + PartialOrd + std::fmt::Display>(
            key: &str,
            value: &str,
            range: std::ops::RangeInclusive<T>,
            notices: &mut Vec<String>,
        ) -> Option<T> {
            match value.parse::<T>() {
                Ok(v) if range.contains(&v) => Some(v),
                _ => {
                    notices.push(format!(
                        "Ignored {key}=\u{201c}{value}\u{201d}: expected a number from {} to {}.",
                        range.start(),
                        range.end()
                    ));
                    None
                }
            }
        }
        for (key, value) in parse_query(query) {
            match key.as_str() {
                "image" => match value.as_str() {
                    "brain" | "shepp_logan" | "ellipses" | "upload" => image = value,
                    _ => notices.push(format!(
                        "Unknown image \u{201c}{value}\u{201d}: showing a brain slice."
                    )),
                },
                "orientation" => match crate::mri::brain::Orientation::from_name(&value) {
                    Ok(_) => orientation = value,
                    Err(_) => notices.push(format!(
                        "Unknown orientation \u{201c}{value}\u{201d}: showing an axial slice."
                    )),
                },
                "slice" => {
                    if let Some(v) = number(&key, &value, 0..=999, &mut notices) {
                        slice = v;
                    }
                }
                "seed" => {
                    if let Some(v) = number(&key, &value, 0..=u64::MAX, &mut notices) {
                        seed = v;
                    }
                }
                "side" => match value.as_str() {
                    "128" => job.side = 128,
                    "256" => job.side = 256,
                    _ => notices.push(format!(
                        "The lab works at 128 or 256 pixels, not \u{201c}{value}\u{201d}: using 128."
                    )),
                },
                "pattern" => match Pattern::from_name(&value) {
                    Ok(p) => job.pattern = p,
                    Err(_) => notices.push(format!(
                        "Unknown sampling pattern \u{201c}{value}\u{201d}: using variable density."
                    )),
                },
                "rate" => {
                    if let Some(v) = number(&key, &value, MRI_RATES, &mut notices) {
                        job.rate = v;
                    }
                }
                "noise" => {
                    if let Some(v) = number(&key, &value, MRI_NOISE, &mut notices) {
                        job.noise = v;
                    }
                }
                "wavelet" => match crate::mri::wavelet::Wavelet::from_name(&value) {
                    Ok(w) => job.wavelet = w.name().to_string(),
                    Err(_) => notices.push(format!(
                        "Unknown wavelet \u{201c}{value}\u{201d}: using db4."
                    )),
                },
                "lambda" => {
                    if let Some(v) = number(&key, &value, MRI_LAMBDA, &mut notices) {
                        job.lambda = v;
                    }
                }
                "n" => {
                    if let Some(v) = number(&key, &value, MRI_BLOCKS, &mut notices) {
                        job.blocks = v;
                    }
                }
                "p" => {
                    if let Some(v) = number(&key, &value, MRI_LAYERS_PER_BLOCK, &mut notices) {
                        job.layers_per_block = v;
                    }
                }
                "layer" => {
                    if let Some(v) = number(&key, &value, 1..=1000, &mut notices) {
                        state.layer = Some(v);
                    }
                }
                "embed" => {}
                other => notices.push(unknown(other)),
            }
        }
        job.image = match image.as_str() {
            "shepp_logan" => MriImage::SheppLogan,
            "ellipses" => MriImage::Ellipses { seed },
            "upload" => MriImage::Upload,
            _ => MriImage::Brain {
                orientation,
                index: slice,
            },
        };
        if let Some(l) = state.layer {
            let layers = job.blocks * job.layers_per_block;
            if l > layers {
                notices.push(format!(
                    "FIRENET has {layers} layers here: showing the last."
                ));
                state.layer = None;
            }
        }
        Parsed { state, notices }
    }

    /// The query that [`MriState::from_query`] reads back to this state.
    pub fn to_query(&self) -> String {
        let j = &self.job;
        let image = match &j.image {
            MriImage::Brain { orientation, index } => {
                format!("image=brain&orientation={orientation}&slice={index}")
            }
            MriImage::SheppLogan => "image=shepp_logan".into(),
            MriImage::Ellipses { seed } => format!("image=ellipses&seed={seed}"),
            MriImage::Upload => "image=upload".into(),
        };
        let mut q = format!(
            "{image}&side={}&pattern={}&rate={}&noise={}&wavelet={}&lambda={}&n={}&p={}",
            j.side,
            j.pattern.name(),
            j.rate,
            j.noise,
            j.wavelet,
            j.lambda,
            j.blocks,
            j.layers_per_block
        );
        if let Some(l) = self.layer {
            q.push_str(&format!("&layer={l}"));
        }
        q
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

impl HallucinationState {
    /// Reads `net`, `slice`, `t` and `noise=gaussian|worst`; bad values fall back to the
    /// defaults with a notice. (Whether `net` and `slice` exist is checked against the report.)
    pub fn from_query(query: &str) -> Parsed<Self> {
        let mut state = Self::default();
        let mut notices = Vec::new();
        for (key, value) in parse_query(query) {
            match key.as_str() {
                "net" => {
                    if !value.is_empty()
                        && value
                            .chars()
                            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
                    {
                        state.net = Some(value);
                    } else {
                        notices.push(format!(
                            "There is no network \u{201c}{value}\u{201d}: showing the default."
                        ));
                    }
                }
                "slice" => match value.parse::<usize>() {
                    Ok(i) if i < 16 => state.slice = i,
                    _ => notices.push(format!(
                        "There is no demo slice \u{201c}{value}\u{201d}: showing the first."
                    )),
                },
                "t" => match value.parse::<f64>() {
                    Ok(t) if STRENGTHS.contains(&t) => state.strength = t,
                    _ => notices.push(format!(
                        "The strength t must lie between 0 and {}, not \u{201c}{value}\u{201d}: using 1.",
                        STRENGTHS.end()
                    )),
                },
                "noise" => match value.as_str() {
                    "gaussian" => state.gaussian = true,
                    "worst" => state.gaussian = false,
                    _ => notices.push(format!(
                        "Unknown perturbation \u{201c}{value}\u{201d} (worst or gaussian): using the worst case."
                    )),
                },
                "embed" => {}
                _ => notices.push(format!("Unknown setting \u{201c}{key}\u{201d} ignored.")),
            }
        }
        Parsed { state, notices }
    }

    /// The query that [`HallucinationState::from_query`] reads back to this state.
    pub fn to_query(&self) -> String {
        let mut q = String::new();
        if let Some(net) = &self.net {
            q.push_str(&format!("net={net}&"));
        }
        q.push_str(&format!(
            "slice={}&t={}&noise={}",
            self.slice,
            self.strength,
            if self.gaussian { "gaussian" } else { "worst" }
        ));
        q
    }
}

#[cfg(test)]
mod hallucination_state_tests {
    use super::*;

    #[test]
    fn round_trips_and_rejects_bad_values() {
        let state = HallucinationState {
            net: Some("cascade".into()),
            slice: 2,
            strength: 0.35,
            gaussian: true,
        };
        let parsed = HallucinationState::from_query(&state.to_query());
        assert_eq!(parsed.state, state);
        assert!(parsed.notices.is_empty());
        let d = HallucinationState::default();
        assert_eq!(HallucinationState::from_query(&d.to_query()).state, d);
        let bad =
            HallucinationState::from_query("net=../x&slice=99&t=NaN&noise=pink&zoom=2&embed=1");
        assert_eq!(bad.state, d);
        assert_eq!(bad.notices.len(), 5, "{:?}", bad.notices);
        assert_eq!(HallucinationState::from_query("t=2").state.strength, 1.0);
    }
}

/// Radii `ξ` the universal demo's slider offers, per ball.
pub fn xi_range(ball: crate::classification::universal::Ball) -> std::ops::RangeInclusive<f64> {
    match ball {
        crate::classification::universal::Ball::L2 => 0.5..=15.0,
        crate::classification::universal::Ball::Linf => 0.01..=0.6,
    }
}

/// The URL state of the universal perturbations demo.
#[derive(Clone, Debug, PartialEq)]
pub struct UniversalState {
    pub model: Architecture,
    pub ball: crate::classification::universal::Ball,
    /// `ξ` of a live search; `None` for the shipped perturbation's.
    pub xi: Option<f64>,
    /// Target `1 − δ` on `X`.
    pub delta: f64,
    /// `|X|`.
    pub count: usize,
    pub passes: usize,
    /// The held-out digit of the per-image transfer view.
    pub digit: usize,
}

impl Default for UniversalState {
    fn default() -> Self {
        Self {
            model: Architecture::Cnn,
            ball: crate::classification::universal::Ball::L2,
            xi: None,
            delta: 0.05,
            count: 500,
            passes: 10,
            digit: 0,
        }
    }
}

impl UniversalState {
    /// Reads `model`, `p=2|inf`, `xi`, `delta`, `count`, `passes` and `digit`; bad values fall
    /// back to the defaults with a notice.
    pub fn from_query(query: &str) -> Parsed<Self> {
        use crate::classification::universal::{Ball, MAX_SET};
        let mut state = Self::default();
        let mut notices = Vec::new();
        let mut xi = None;
        for (key, value) in parse_query(query) {
            match key.as_str() {
                "model" => match Architecture::from_name(&value) {
                    Ok(m) => state.model = m,
                    Err(_) => notices.push(format!(
                        "There is no model \u{201c}{value}\u{201d}: showing {}.",
                        state.model.name()
                    )),
                },
                "p" => match value.as_str() {
                    "2" => state.ball = Ball::L2,
                    "inf" => state.ball = Ball::Linf,
                    _ => notices.push(format!(
                        "p is 2 or inf, not \u{201c}{value}\u{201d}: using 2."
                    )),
                },
                "xi" => xi = Some(value),
                "delta" => match value.parse::<f64>() {
                    Ok(d) if (0.0..=0.5).contains(&d) => state.delta = d,
                    _ => notices.push(format!(
                        "\u{3b4} must lie between 0 and 0.5, not \u{201c}{value}\u{201d}: using {}.",
                        state.delta
                    )),
                },
                "count" => match value.parse::<usize>() {
                    Ok(c) if (10..=MAX_SET).contains(&c) => state.count = c,
                    _ => notices.push(format!(
                        "|X| must lie between 10 and {MAX_SET}, not \u{201c}{value}\u{201d}: using {}.",
                        state.count
                    )),
                },
                "passes" => match value.parse::<usize>() {
                    Ok(p) if (1..=20).contains(&p) => state.passes = p,
                    _ => notices.push(format!(
                        "Passes must lie between 1 and 20, not \u{201c}{value}\u{201d}: using {}.",
                        state.passes
                    )),
                },
                "digit" => match value.parse::<usize>() {
                    Ok(d) if d < HELD_OUT_COUNT => state.digit = d,
                    _ => notices.push(format!(
                        "There is no held-out digit \u{201c}{value}\u{201d}: showing the first."
                    )),
                },
                "embed" => {}
                _ => notices.push(format!("Unknown setting \u{201c}{key}\u{201d} ignored.")),
            }
        }
        // ξ is checked after p, whose range it depends on.
        if let Some(value) = xi {
            let range = xi_range(state.ball);
            match value.parse::<f64>() {
                Ok(x) if range.contains(&x) => state.xi = Some(x),
                _ => notices.push(format!(
                    "\u{3be} must lie between {} and {}, not \u{201c}{value}\u{201d}: using the shipped one.",
                    range.start(),
                    range.end()
                )),
            }
        }
        Parsed { state, notices }
    }

    /// The query that [`UniversalState::from_query`] reads back to this state.
    pub fn to_query(&self) -> String {
        let p = match self.ball {
            crate::classification::universal::Ball::L2 => "2",
            crate::classification::universal::Ball::Linf => "inf",
        };
        let mut q = format!("model={}&p={p}", self.model.name());
        if let Some(xi) = self.xi {
            q.push_str(&format!("&xi={xi}"));
        }
        q.push_str(&format!(
            "&delta={}&count={}&passes={}&digit={}",
            self.delta, self.count, self.passes, self.digit
        ));
        q
    }
}

query_state!(UniversalState);

#[cfg(test)]
mod universal_state_tests {
    use super::*;
    use crate::classification::universal::Ball;

    #[test]
    fn round_trips_and_rejects_bad_values() {
        let state = UniversalState {
            model: Architecture::Mlp,
            ball: Ball::Linf,
            xi: Some(0.15),
            delta: 0.2,
            count: 300,
            passes: 4,
            digit: 17,
        };
        let parsed = UniversalState::from_query(&state.to_query());
        assert_eq!(parsed.state, state);
        assert!(parsed.notices.is_empty(), "{:?}", parsed.notices);
        let d = UniversalState::default();
        assert_eq!(UniversalState::from_query(&d.to_query()).state, d);
        let bad = UniversalState::from_query(
            "model=vgg&p=1&xi=NaN&delta=2&count=0&passes=99&digit=-1&zoom=2&embed=1",
        );
        assert_eq!(bad.state, d);
        assert_eq!(bad.notices.len(), 8, "{:?}", bad.notices);
        // ξ's range follows p: 3 is a fine ℓ₂ radius but not an ℓ∞ one.
        assert_eq!(UniversalState::from_query("p=2&xi=3").state.xi, Some(3.0));
        assert_eq!(UniversalState::from_query("p=inf&xi=3").state.xi, None);
    }
}

/// `ε` the linearity demo's slider offers (`‖Δx‖∞ ≤ ε`, pixels in `[0, 1]`).
pub const LINEARITY_EPS: std::ops::RangeInclusive<f64> = 0.001..=0.3;
/// Dimensions `d` the linearity demo's (log-scale) slider offers.
pub const LINEARITY_DIMS: std::ops::RangeInclusive<usize> = 10..=100_000;

/// The URL state of the linearity demo (Goodfellow et al.): `ε`, the dimension `d` of the
/// random-weight example, the resolution `side × side` of the shipped models' digit view, and
/// the held-out digit.
#[derive(Clone, Debug, PartialEq)]
pub struct LinearityState {
    pub eps: f64,
    pub d: usize,
    /// One of [`crate::classification::linearity::SIDES`].
    pub side: usize,
    pub digit: usize,
}

impl Default for LinearityState {
    fn default() -> Self {
        Self {
            eps: 0.03,
            d: 784,
            side: 28,
            digit: 0,
        }
    }
}

impl LinearityState {
    /// Reads `eps`, `d`, `side=7|14|28` and `digit`; bad values fall back to the defaults with
    /// a notice.
    pub fn from_query(query: &str) -> Parsed<Self> {
        let mut state = Self::default();
        let mut notices = Vec::new();
        for (key, value) in parse_query(query) {
            match key.as_str() {
                "eps" => match value.parse::<f64>() {
                    Ok(v) if LINEARITY_EPS.contains(&v) => state.eps = v,
                    _ => notices.push(format!(
                        "ε must lie between {} and {}, not \u{201c}{value}\u{201d}: using {}.",
                        LINEARITY_EPS.start(),
                        LINEARITY_EPS.end(),
                        Self::default().eps
                    )),
                },
                "d" => match value.parse::<usize>() {
                    Ok(v) if LINEARITY_DIMS.contains(&v) => state.d = v,
                    _ => notices.push(format!(
                        "The dimension d must be a whole number from {} to {}, not \u{201c}{value}\u{201d}: using {}.",
                        LINEARITY_DIMS.start(),
                        LINEARITY_DIMS.end(),
                        Self::default().d
                    )),
                },
                "side" => match value.parse::<usize>() {
                    Ok(v) if crate::classification::linearity::SIDES.contains(&v) => state.side = v,
                    _ => notices.push(format!(
                        "The models work at 7×7, 14×14 or 28×28 pixels, not \u{201c}{value}\u{201d}: using 28×28."
                    )),
                },
                "digit" => match value.parse::<usize>() {
                    Ok(i) if i < HELD_OUT_COUNT => state.digit = i,
                    _ => notices.push(format!(
                        "There is no held-out digit \u{201c}{value}\u{201d} (0 to {}): showing digit 0.",
                        HELD_OUT_COUNT - 1
                    )),
                },
                "embed" => {}
                other => notices.push(unknown(other)),
            }
        }
        Parsed { state, notices }
    }

    /// The query that [`LinearityState::from_query`] reads back to this state.
    pub fn to_query(&self) -> String {
        format!(
            "eps={}&d={}&side={}&digit={}",
            self.eps, self.d, self.side, self.digit
        )
    }
}

query_state!(LinearityState);

/// The held-out digit the structural perturbations demo opens with: a 7 that the CNN calls a 9
/// once it is crossed (a horizontal stroke through its middle).
pub const STRUCTURAL_DIGIT: usize = 164;

/// The URL state of the structural perturbations demo: the model and the held-out digit edited.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StructuralState {
    pub model: Architecture,
    pub digit: usize,
}

impl Default for StructuralState {
    fn default() -> Self {
        Self {
            model: Architecture::Cnn,
            digit: STRUCTURAL_DIGIT,
        }
    }
}

impl StructuralState {
    /// Reads `model` and `digit=<0..1999>`; bad values fall back to the defaults with a notice.
    pub fn from_query(query: &str) -> Parsed<Self> {
        let mut state = Self::default();
        let mut notices = Vec::new();
        for (key, value) in parse_query(query) {
            match key.as_str() {
                "model" => match Architecture::from_name(&value) {
                    Ok(m) => state.model = m,
                    Err(_) => notices.push(format!(
                        "There is no model \u{201c}{value}\u{201d}: showing {}.",
                        state.model.name()
                    )),
                },
                "digit" => match value.parse::<usize>() {
                    Ok(d) if d < HELD_OUT_COUNT => state.digit = d,
                    _ => notices.push(format!(
                        "There is no held-out digit \u{201c}{value}\u{201d} (0 to {}): showing digit {}.",
                        HELD_OUT_COUNT - 1,
                        state.digit
                    )),
                },
                "embed" => {}
                _ => notices.push(unknown(&key)),
            }
        }
        Parsed { state, notices }
    }

    /// The query that [`StructuralState::from_query`] reads back to this state.
    pub fn to_query(&self) -> String {
        format!("model={}&digit={}", self.model.name(), self.digit)
    }
}

query_state!(StructuralState);

/// The held-out slices of the brain pages (`i % 4 == 2` in each 24-slice stack), by name.
pub fn held_out_slice_names() -> Vec<String> {
    crate::mri::brain::Orientation::ALL
        .iter()
        .flat_map(|o| {
            (0..24)
                .filter(|&i| {
                    crate::mri::brain::SliceId {
                        orientation: *o,
                        index: i,
                    }
                    .is_test()
                })
                .map(move |i| format!("{o} {i}"))
        })
        .collect()
}

/// What the kernel-awareness and structural-details pages share in their URLs: the network
/// (whose sampling every method uses), the held-out slice and the detail.
#[derive(Clone, Debug, PartialEq)]
pub struct DetailSettings {
    /// A shipped network (checked by the worker).
    pub net: String,
    /// A held-out slice, `axial 10`.
    pub slice: String,
    pub detail: crate::mri::details::DetailSpec,
}

impl DetailSettings {
    /// Applies one `key=value` (`net`, `slice`, `detail=text|lesion|drawn`, `text`, `row`,
    /// `col`, `size`, `intensity`); returns whether the key was one of these.
    fn apply(&mut self, key: &str, value: &str, notices: &mut Vec<String>) -> bool {
        use crate::mri::details::{wrap, DetailKind, MAX_INTENSITY, MAX_SIZE, MAX_TEXT};
        let side = 64;
        match key {
            "net" => {
                if !value.is_empty()
                    && value.len() <= 40
                    && value
                        .chars()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
                {
                    self.net = value.to_string();
                } else {
                    notices.push(format!(
                        "There is no network \u{201c}{value}\u{201d}: showing {}.",
                        self.net
                    ));
                }
            }
            "slice" => {
                if held_out_slice_names().iter().any(|s| s == value) {
                    self.slice = value.to_string();
                } else {
                    notices.push(format!(
                        "\u{201c}{value}\u{201d} is not a held-out slice (e.g. axial 10): showing {}.",
                        self.slice
                    ));
                }
            }
            // `drawn`: the pixels stay on the page (a link opens an empty drawing).
            "detail" => match DetailKind::from_name(value) {
                Ok(k) => self.detail.kind = k,
                Err(_) => notices.push(format!(
                    "Unknown detail \u{201c}{value}\u{201d} (text, lesion or drawn): showing {}.",
                    self.detail.kind.name()
                )),
            },
            "text" => {
                let fits = value.chars().count() <= MAX_TEXT
                    && wrap(value, 1, side).is_ok();
                if fits {
                    self.detail.text = value.to_uppercase();
                } else {
                    notices.push(format!(
                        "The text \u{201c}{value}\u{201d} cannot be drawn (A–Z, 0–9 and spaces, at most {MAX_TEXT} characters): showing \u{201c}{}\u{201d}.",
                        self.detail.text
                    ));
                }
            }
            "row" | "col" => match value.parse::<usize>() {
                Ok(v) if v < side => {
                    if key == "row" {
                        self.detail.row = v
                    } else {
                        self.detail.col = v
                    }
                }
                _ => notices.push(format!(
                    "The {key} must be a pixel from 0 to {}, not \u{201c}{value}\u{201d}.",
                    side - 1
                )),
            },
            "size" => match value.parse::<usize>() {
                Ok(v) if (1..=MAX_SIZE).contains(&v) => self.detail.size = v,
                _ => notices.push(format!(
                    "The size must be 1 to {MAX_SIZE}, not \u{201c}{value}\u{201d}: using {}.",
                    self.detail.size
                )),
            },
            "intensity" => match value.parse::<f32>() {
                Ok(v) if v.is_finite() && v.abs() <= MAX_INTENSITY && v != 0.0 => {
                    self.detail.intensity = v
                }
                _ => notices.push(format!(
                    "The intensity must be non-zero, between −{MAX_INTENSITY} and {MAX_INTENSITY}, not \u{201c}{value}\u{201d}: using {}.",
                    self.detail.intensity
                )),
            },
            _ => return false,
        }
        true
    }

    fn to_query(&self) -> String {
        let d = &self.detail;
        let mut q = format!(
            "net={}&slice={}&detail={}",
            self.net,
            self.slice.replace(' ', "+"),
            d.kind.name()
        );
        // The text stays in the link for every kind, so that switching back keeps it.
        q.push_str(&format!("&text={}", d.text.replace(' ', "+")));
        q.push_str(&format!(
            "&row={}&col={}&size={}&intensity={}",
            d.row, d.col, d.size, d.intensity
        ));
        q
    }
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
                net: "cascade-12".into(),
                slice: "axial 10".into(),
                detail: crate::mri::details::DetailSpec {
                    kind: crate::mri::details::DetailKind::Text,
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

impl KernelState {
    /// Reads the detail settings and `t` (|t| ≤ [`crate::mri::details::MAX_T`]); bad values fall
    /// back to the defaults with a notice.
    pub fn from_query(query: &str) -> Parsed<Self> {
        let mut state = Self::default();
        let mut notices = Vec::new();
        for (key, value) in parse_query(query) {
            if state.settings.apply(&key, &value, &mut notices) {
                continue;
            }
            match key.as_str() {
                "t" => match value.parse::<f64>() {
                    Ok(t) if t.is_finite() && t.abs() <= crate::mri::details::MAX_T => state.t = t,
                    _ => notices.push(format!(
                        "t must lie between −{0} and {0}, not \u{201c}{value}\u{201d}: using {1}.",
                        crate::mri::details::MAX_T,
                        state.t
                    )),
                },
                "embed" => {}
                _ => notices.push(unknown(&key)),
            }
        }
        Parsed { state, notices }
    }

    /// The query that [`KernelState::from_query`] reads back to this state.
    pub fn to_query(&self) -> String {
        format!("{}&t={}", self.settings.to_query(), self.t)
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

impl DetailsState {
    /// Reads the detail settings; bad values fall back to the defaults with a notice.
    pub fn from_query(query: &str) -> Parsed<Self> {
        let mut state = Self::default();
        let mut notices = Vec::new();
        for (key, value) in parse_query(query) {
            if !state.settings.apply(&key, &value, &mut notices) && key != "embed" {
                notices.push(unknown(&key));
            }
        }
        Parsed { state, notices }
    }

    /// The query that [`DetailsState::from_query`] reads back to this state.
    pub fn to_query(&self) -> String {
        self.settings.to_query()
    }
}

query_state!(KernelState, DetailsState);

#[cfg(test)]
mod kernel_state_tests {
    use super::*;
    use crate::mri::details::DetailKind;

    #[test]
    fn kernel_and_details_states_round_trip_and_fall_back() {
        assert_eq!(held_out_slice_names().len(), 18);
        let mut state = KernelState::default();
        state.settings.net = "cascade-8".into();
        state.settings.slice = "coronal 14".into();
        state.settings.detail.text = "SEE IT".into();
        state.settings.detail.size = 3;
        state.settings.detail.intensity = -0.25;
        state.t = -2.5;
        let parsed = KernelState::from_query(&state.to_query());
        assert!(parsed.notices.is_empty(), "{:?}", parsed.notices);
        assert_eq!(parsed.state, state);
        state.settings.detail.kind = DetailKind::Lesion;
        assert_eq!(KernelState::from_query(&state.to_query()).state, state);
        let d = KernelState::default();
        assert_eq!(KernelState::from_query("").state, d);
        let bad = KernelState::from_query(
            "net=Bad!&slice=axial+11&detail=blob&text=%C3%A9&row=64&col=-1&size=9&intensity=0&t=NaN&zoom=1&embed=1",
        );
        assert_eq!(bad.state, d);
        assert_eq!(bad.notices.len(), 10, "{:?}", bad.notices);
        let drawn = KernelState::from_query("detail=drawn&t=9");
        assert_eq!(drawn.state.settings.detail.kind, DetailKind::Drawn);
        assert_eq!(drawn.state.t, d.t);
        assert_eq!(drawn.notices.len(), 1);
        let details = DetailsState::default();
        assert_eq!(DetailsState::from_query(&details.to_query()).state, details);
        assert!(DetailsState::from_query(&details.to_query())
            .notices
            .is_empty());
        let p = DetailsState::from_query("t=1&text=HELLO+WORLD");
        assert_eq!(p.state.settings.detail.text, "HELLO WORLD");
        assert_eq!(p.notices.len(), 1, "t is not a setting of the details page");
        // The defaults render.
        d.settings.detail.render(64).unwrap();
        details.settings.detail.render(64).unwrap();
    }
}

#[cfg(test)]
mod structural_state_tests {
    use super::*;

    #[test]
    fn structural_state_round_trips_and_falls_back() {
        let state = StructuralState {
            model: Architecture::Mlp,
            digit: 1999,
        };
        let parsed = StructuralState::from_query(&state.to_query());
        assert_eq!(parsed.state, state);
        assert!(parsed.notices.is_empty(), "{:?}", parsed.notices);
        let d = StructuralState::default();
        assert_eq!(StructuralState::from_query(&d.to_query()).state, d);
        assert_eq!(StructuralState::from_query("").state, d);
        let bad = StructuralState::from_query("model=vgg&digit=2000&zoom=2&embed=1");
        assert_eq!(bad.state, d);
        assert_eq!(bad.notices.len(), 3, "{:?}", bad.notices);
        let bad = StructuralState::from_query("digit=-1&digit=abc&model=linear");
        assert_eq!(bad.state.model, Architecture::Linear);
        assert_eq!(bad.state.digit, STRUCTURAL_DIGIT);
        assert_eq!(bad.notices.len(), 2);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_parse_and_decode() {
        assert_eq!(
            parse_query("?a=1&b=two%20words&c&d=x+y"),
            vec![
                ("a".into(), "1".into()),
                ("b".into(), "two words".into()),
                ("c".into(), "".into()),
                ("d".into(), "x y".into())
            ]
        );
        assert_eq!(parse_query(""), vec![]);
        // Broken escapes survive as text instead of failing.
        assert_eq!(parse_query("a=%zz%"), vec![("a".into(), "%zz%".into())]);
        assert_eq!(
            parse_query("a=%e2%80"),
            vec![("a".into(), "\u{fffd}".into())]
        );
    }

    #[test]
    fn embed_flag() {
        assert!(is_embed("?embed"));
        assert!(is_embed("model=cnn&embed=1"));
        assert!(!is_embed("embed=0"));
        assert!(!is_embed("model=cnn"));
    }

    #[test]
    fn classify_state_round_trips() {
        for state in [
            ClassifyState {
                model: Architecture::Mlp,
                source: DigitSource::Gallery(1999),
            },
            ClassifyState {
                model: Architecture::Linear,
                source: DigitSource::Drawing,
            },
        ] {
            let parsed = ClassifyState::from_query(&state.to_query());
            assert_eq!(parsed.state, state);
            assert!(parsed.notices.is_empty());
        }
    }

    #[test]
    fn attack_state_round_trips_and_falls_back() {
        for attack in [
            AttackChoice::CompareAll,
            AttackChoice::One(AttackKind::Fgsm),
        ] {
            let state = AttackState {
                digit: ClassifyState {
                    model: Architecture::Mlp,
                    source: DigitSource::Gallery(17),
                },
                attack,
            };
            let parsed = AttackState::from_query(&state.to_query());
            assert_eq!(parsed.state, state);
            assert!(parsed.notices.is_empty());
        }
        let p = AttackState::from_query("attack=magic&model=cnn&foo=1&embed=1");
        assert_eq!(p.state, AttackState::default());
        assert_eq!(p.notices.len(), 2);
    }

    #[test]
    fn bad_state_falls_back_with_notices() {
        let p = ClassifyState::from_query("model=resnet&digit=5000&zoom=3");
        assert_eq!(p.state, ClassifyState::default());
        assert_eq!(p.notices.len(), 3);
        let p = ClassifyState::from_query("digit=-1&model=mlp");
        assert_eq!(p.state.model, Architecture::Mlp);
        assert_eq!(p.state.source, DigitSource::Gallery(0));
        assert_eq!(p.notices.len(), 1);
    }

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
        let parsed = MriState::from_query(&state.to_query());
        assert_eq!(parsed.state, state);
        assert!(parsed.notices.is_empty(), "{:?}", parsed.notices);
        let default = MriState::default();
        assert_eq!(MriState::from_query(&default.to_query()).state, default);
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
    fn linearity_state_round_trips_and_falls_back() {
        let state = LinearityState {
            eps: 0.125,
            d: 31_623,
            side: 7,
            digit: 1999,
        };
        let parsed = LinearityState::from_query(&state.to_query());
        assert_eq!(parsed.state, state);
        assert!(parsed.notices.is_empty(), "{:?}", parsed.notices);
        let d = LinearityState::default();
        assert_eq!(LinearityState::from_query(&d.to_query()).state, d);
        assert!(LinearityState::from_query("").notices.is_empty());
        let bad = LinearityState::from_query("eps=NaN&d=5&side=10&digit=2000&zoom=2&embed=1");
        assert_eq!(bad.state, d);
        assert_eq!(bad.notices.len(), 5, "{:?}", bad.notices);
        let bad = LinearityState::from_query("eps=0.5&d=1e3&side=&digit=-1");
        assert_eq!(bad.state, d);
        assert_eq!(bad.notices.len(), 4, "{:?}", bad.notices);
        // The edges of the sliders are fine.
        let edge = LinearityState::from_query("eps=0.001&d=100000&side=14").state;
        assert_eq!((edge.eps, edge.d, edge.side), (0.001, 100_000, 14));
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
            rates: crate::mri::learned::sweep::RATES.to_vec(),
            slices: None,
        }
    }
}

impl SweepState {
    /// Reads `nets=a,b`, `rates=5,10,20` (percent, rounded to 0.01%; sorted, repeats dropped)
    /// and `slices=N`; a bad value falls back to that setting's default with a notice. (Whether
    /// the networks exist and `N` is at most the number of held-out slices is checked against
    /// the shipped report on the page.)
    pub fn from_query(query: &str) -> Parsed<Self> {
        use crate::mri::learned::sweep::{MAX_RATE, MAX_RATES, MIN_RATE};
        let mut state = Self::default();
        let mut notices = Vec::new();
        for (key, value) in parse_query(query) {
            match key.as_str() {
                "nets" => {
                    let names: Vec<String> =
                        value.split(',').map(|s| s.trim().to_string()).collect();
                    let valid = names.iter().all(|n| {
                        !n.is_empty()
                            && n.len() <= 40
                            && n.chars()
                                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
                    });
                    let distinct = (1..names.len()).all(|k| !names[..k].contains(&names[k]));
                    if valid && distinct && names.len() <= crate::mri::learned::sweep::MAX_NETS {
                        state.nets = Some(names);
                    } else {
                        notices.push(format!(
                            "\u{201c}{value}\u{201d} is not a list of networks (e.g. cascade-8,cascade-12): showing every network of the report."
                        ));
                    }
                }
                "rates" => {
                    let parsed: Option<Vec<f64>> = value
                        .split(',')
                        .map(|s| {
                            let p = s.trim().parse::<f64>().ok()?;
                            let p = (p * 100.0).round() / 100.0;
                            let r = p / 100.0;
                            (p.is_finite() && (MIN_RATE..=MAX_RATE).contains(&r)).then_some(r)
                        })
                        .collect();
                    match parsed {
                        Some(mut rates) => {
                            rates.sort_by(f64::total_cmp);
                            rates.dedup();
                            if rates.len() <= MAX_RATES {
                                state.rates = rates;
                            } else {
                                notices.push(format!(
                                    "A sweep has at most {MAX_RATES} rates, not {}: using the report's.",
                                    rates.len()
                                ));
                            }
                        }
                        None => notices.push(format!(
                            "The rates must be percentages from {} to {}, comma-separated, not \u{201c}{value}\u{201d}: using the report's.",
                            rate_percent(MIN_RATE),
                            rate_percent(MAX_RATE)
                        )),
                    }
                }
                "slices" => match value.parse::<usize>() {
                    Ok(n) if n >= 1 => state.slices = Some(n),
                    _ => notices.push(format!(
                        "The number of held-out slices must be a whole number from 1 on, not \u{201c}{value}\u{201d}: using all of them."
                    )),
                },
                "embed" => {}
                _ => notices.push(unknown(&key)),
            }
        }
        Parsed { state, notices }
    }

    /// The query that [`SweepState::from_query`] reads back to this state.
    pub fn to_query(&self) -> String {
        let mut q = Vec::new();
        if let Some(nets) = &self.nets {
            q.push(format!("nets={}", nets.join(",")));
        }
        q.push(format!(
            "rates={}",
            self.rates
                .iter()
                .map(|&r| rate_percent(r))
                .collect::<Vec<_>>()
                .join(",")
        ));
        if let Some(n) = self.slices {
            q.push(format!("slices={n}"));
        }
        q.join("&")
    }
}

query_state!(SweepState);

#[cfg(test)]
mod sweep_state_tests {
    use super::*;

    #[test]
    fn sweep_state_round_trips_and_falls_back() {
        let state = SweepState {
            nets: Some(vec!["cascade-8".into(), "cascade-12".into()]),
            rates: vec![0.05, 0.075, 0.1, 0.2, 0.4],
            slices: Some(18),
        };
        let parsed = SweepState::from_query(&state.to_query());
        assert_eq!(parsed.state, state);
        assert!(parsed.notices.is_empty(), "{:?}", parsed.notices);
        assert_eq!(
            state.to_query(),
            "nets=cascade-8,cascade-12&rates=5,7.5,10,20,40&slices=18"
        );
        let d = SweepState::default();
        assert_eq!(SweepState::from_query(&d.to_query()).state, d);
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
}

/// The URL state of the accuracy-versus-stability page (`#/tradeoff?method=cascade-12`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TradeoffState {
    /// The highlighted point; `None`: none. (Whether the report has it is checked on the page.)
    pub method: Option<String>,
}

impl TradeoffState {
    /// Reads `method=NAME` (lower-case letters, digits and `-`, at most 40 characters); a bad
    /// value highlights nothing, with a notice.
    pub fn from_query(query: &str) -> Parsed<Self> {
        let mut state = Self::default();
        let mut notices = Vec::new();
        for (key, value) in parse_query(query) {
            match key.as_str() {
                "method" => {
                    let valid = !value.is_empty()
                        && value.len() <= 40
                        && value
                            .chars()
                            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
                    if valid {
                        state.method = Some(value);
                    } else {
                        notices.push(format!(
                            "\u{201c}{value}\u{201d} is not a method name (e.g. cascade-12): no point is highlighted."
                        ));
                    }
                }
                "embed" => {}
                _ => notices.push(unknown(&key)),
            }
        }
        Parsed { state, notices }
    }

    /// The query that [`TradeoffState::from_query`] reads back to this state.
    pub fn to_query(&self) -> String {
        self.method
            .as_ref()
            .map(|m| format!("method={m}"))
            .unwrap_or_default()
    }
}

query_state!(TradeoffState);

#[cfg(test)]
mod tradeoff_state_tests {
    use super::*;

    #[test]
    fn tradeoff_state_round_trips_and_falls_back() {
        let state = TradeoffState {
            method: Some("cascade-12-noise".into()),
        };
        let parsed = TradeoffState::from_query(&state.to_query());
        assert_eq!(parsed.state, state);
        assert!(parsed.notices.is_empty());
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
}
