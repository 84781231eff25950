//! The URL state of the classification demos (Classify, Attacks, universal perturbations,
//! linearity, structural edits): one table of settings each, read and written by
//! [`QueryState`].

use crate::classification::attack::AttackKind;
use crate::classification::classifier::Architecture;
use crate::classification::linearity::SIDES;
use crate::classification::mnist::HELD_OUT_COUNT;
use crate::classification::universal::{Ball, MAX_SET};
use crate::route::{
    by_name, choice, field, held, number, short_number, shorten, Field, Held, QueryState, Unknown,
};

/// Where the digit of the Classify demo comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DigitSource {
    /// A held-out digit, by index.
    Gallery(usize),
    /// The user's drawing.
    Drawing,
}

impl DigitSource {
    /// Reads `draw` or a held-out index.
    fn from_value(value: &str) -> Result<Self, String> {
        if value == "draw" {
            return Ok(DigitSource::Drawing);
        }
        match value.parse::<usize>() {
            Ok(i) if i < HELD_OUT_COUNT => Ok(DigitSource::Gallery(i)),
            _ => Err(format!(
                "There is no held-out digit \u{201c}{value}\u{201d} (0 to {}): showing digit 0.",
                HELD_OUT_COUNT - 1
            )),
        }
    }

    /// The value [`DigitSource::from_value`] reads back.
    fn value(self) -> String {
        match self {
            DigitSource::Gallery(i) => i.to_string(),
            DigitSource::Drawing => "draw".to_string(),
        }
    }
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

/// The Classify demo's settings, `model=<linear|mlp|mlp-tanh|cnn|cnn-wide>` and
/// `digit=<0..1999>|draw`, of the [`ClassifyState`] at `state.$part` (the Attacks demo keeps
/// one in `digit`).
macro_rules! digit_fields {
    ($($part:ident)?) => {
        [
            by_name!("model", $($part.)? model, Architecture, |_, v| format!(
                "Unknown model \u{201c}{v}\u{201d}: showing the CNN instead."
            )),
            field!(
                "digit",
                |s, v| {
                    s.$($part.)? source = DigitSource::from_value(v)?;
                    Ok(())
                },
                |s| Some(s.$($part.)? source.value())
            ),
        ]
    };
}

impl QueryState for ClassifyState {
    fn fields() -> Vec<Field<Self>> {
        digit_fields!().into()
    }
}

/// Which attack the Attacks demo shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AttackChoice {
    One(AttackKind),
    /// Random noise, fast gradient and DeepFool in one row, as in the lecture.
    CompareAll,
}

impl AttackChoice {
    /// Reads an attack's name or `compare`.
    fn from_value(value: &str) -> Result<Self, String> {
        if value == "compare" {
            return Ok(AttackChoice::CompareAll);
        }
        AttackKind::from_name(value)
            .map(AttackChoice::One)
            .map_err(|_| {
                format!("Unknown attack \u{201c}{value}\u{201d}: showing DeepFool instead.")
            })
    }

    /// The value [`AttackChoice::from_value`] reads back.
    fn value(self) -> &'static str {
        match self {
            AttackChoice::One(a) => a.name(),
            AttackChoice::CompareAll => "compare",
        }
    }
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

impl QueryState for AttackState {
    /// The Classify settings and `attack=<name>|compare`.
    fn fields() -> Vec<Field<Self>> {
        let mut fields = Vec::from(digit_fields!(digit));
        fields.push(field!(
            "attack",
            |s, v| {
                s.attack = AttackChoice::from_value(v)?;
                Ok(())
            },
            |s| Some(s.attack.value().to_string())
        ));
        fields
    }
}

/// Radii `ξ` the universal demo's slider offers, per ball.
pub fn xi_range(ball: Ball) -> std::ops::RangeInclusive<f64> {
    match ball {
        Ball::L2 => 0.5..=15.0,
        Ball::Linf => 0.01..=0.6,
    }
}

/// The URL state of the universal perturbations demo.
#[derive(Clone, Debug, PartialEq)]
pub struct UniversalState {
    pub model: Architecture,
    pub ball: Ball,
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
            ball: Ball::L2,
            xi: None,
            delta: 0.05,
            count: 500,
            passes: 10,
            digit: 0,
        }
    }
}

/// "There is no model “vgg”: showing cnn." (the universal and structural demos).
fn no_model(model: Architecture, value: &str) -> String {
    format!(
        "There is no model \u{201c}{value}\u{201d}: showing {}.",
        model.name()
    )
}

impl QueryState for UniversalState {
    const UNKNOWN: Unknown = Unknown::IgnoredLast;

    /// `model`, `p=2|inf`, `xi` (checked in [`QueryState::finish`], after `p`), `delta`,
    /// `count`, `passes` and `digit`.
    fn fields() -> Vec<Field<Self>> {
        vec![
            by_name!("model", model, Architecture, |s, v| no_model(s.model, v)),
            choice!("p", ball, ["2" => Ball::L2, "inf" => Ball::Linf], |_, v| format!(
                "p is 2 or inf, not \u{201c}{v}\u{201d}: using 2."
            )),
            held!("xi", |_, _| Ok(()), |s| s.xi.map(|x| x.to_string())),
            number!("delta", delta, 0.0..=0.5, |s, v| format!(
                "\u{3b4} must lie between 0 and 0.5, not \u{201c}{v}\u{201d}: using {}.",
                short_number(s.delta)
            )),
            number!("count", count, 10..=MAX_SET, |s, v| format!(
                "|X| must lie between 10 and {MAX_SET}, not \u{201c}{v}\u{201d}: using {}.",
                s.count
            )),
            number!("passes", passes, 1..=20, |s, v| format!(
                "Passes must lie between 1 and 20, not \u{201c}{v}\u{201d}: using {}.",
                s.passes
            )),
            number!("digit", digit, 0..HELD_OUT_COUNT, |_, v| format!(
                "There is no held-out digit \u{201c}{v}\u{201d}: showing the first."
            )),
        ]
    }

    /// ξ is checked after p, whose range it depends on.
    fn finish(&mut self, held: &Held, notices: &mut Vec<String>) {
        if let Some(value) = held.get("xi") {
            let range = xi_range(self.ball);
            match value.parse::<f64>() {
                Ok(x) if range.contains(&x) => self.xi = Some(x),
                // The value is echoed cut short: a held value bypasses the table's shortening.
                _ => notices.push(format!(
                    "\u{3be} must lie between {} and {}, not \u{201c}{}\u{201d}: using the shipped one.",
                    range.start(),
                    range.end(),
                    shorten(value)
                )),
            }
        }
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

impl QueryState for LinearityState {
    /// `eps`, `d`, `side=7|14|28` and `digit`.
    fn fields() -> Vec<Field<Self>> {
        vec![
            number!("eps", eps, LINEARITY_EPS, |_, v| format!(
                "ε must lie between {} and {}, not \u{201c}{v}\u{201d}: using {}.",
                LINEARITY_EPS.start(),
                LINEARITY_EPS.end(),
                Self::default().eps
            )),
            number!("d", d, LINEARITY_DIMS, |_, v| {
                format!(
                "The dimension d must be a whole number from {} to {}, not \u{201c}{v}\u{201d}: using {}.",
                LINEARITY_DIMS.start(),
                LINEARITY_DIMS.end(),
                Self::default().d
            )
            }),
            number!("side", side, SIDES, |_, v| {
                format!(
                "The models work at 7×7, 14×14 or 28×28 pixels, not \u{201c}{v}\u{201d}: using 28×28."
            )
            }),
            number!("digit", digit, 0..HELD_OUT_COUNT, |_, v| format!(
                "There is no held-out digit \u{201c}{v}\u{201d} (0 to {}): showing digit 0.",
                HELD_OUT_COUNT - 1
            )),
        ]
    }
}

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

impl QueryState for StructuralState {
    /// `model` and `digit=<0..1999>`.
    fn fields() -> Vec<Field<Self>> {
        vec![
            by_name!("model", model, Architecture, |s, v| no_model(s.model, v)),
            number!("digit", digit, 0..HELD_OUT_COUNT, |s, v| format!(
                "There is no held-out digit \u{201c}{v}\u{201d} (0 to {}): showing digit {}.",
                HELD_OUT_COUNT - 1,
                s.digit
            )),
        ]
    }
}

/// Where the target map of the manipulated explanations demo comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExplainTargetChoice {
    /// The map of the next held-out digit with another label
    /// ([`crate::classification::explanation::target_digit`]).
    Auto,
    /// The map of this held-out digit.
    Digit(usize),
    /// A map drawn by the user.
    Drawing,
}

impl ExplainTargetChoice {
    fn from_value(value: &str) -> Result<Self, String> {
        match value {
            "auto" => Ok(Self::Auto),
            "draw" => Ok(Self::Drawing),
            _ => match value.parse::<usize>() {
                Ok(i) if i < HELD_OUT_COUNT => Ok(Self::Digit(i)),
                _ => Err(format!(
                    "There is no target \u{201c}{value}\u{201d} (auto, draw or a held-out digit from 0 to {}): using the next digit with another label.",
                    HELD_OUT_COUNT - 1
                )),
            },
        }
    }

    fn value(self) -> String {
        match self {
            Self::Auto => "auto".into(),
            Self::Digit(i) => i.to_string(),
            Self::Drawing => "draw".into(),
        }
    }
}

/// The bound `‖δ‖∞ ≤ ε` the explanations demo offers.
pub const EXPLAIN_EPS: std::ops::RangeInclusive<f64> = 0.01..=0.5;

/// The URL state of the manipulated explanations demo.
#[derive(Clone, Debug, PartialEq)]
pub struct ExplanationState {
    pub model: Architecture,
    /// The held-out digit whose explanation is manipulated.
    pub digit: usize,
    pub target: ExplainTargetChoice,
    pub method: crate::classification::explanation::Method,
    /// `ε` of `‖δ‖∞ ≤ ε`.
    pub eps: f64,
    /// Adam steps.
    pub steps: usize,
}

impl Default for ExplanationState {
    fn default() -> Self {
        Self {
            model: Architecture::Cnn,
            digit: 0,
            target: ExplainTargetChoice::Auto,
            method: crate::classification::explanation::Method::Gradient,
            eps: 0.1,
            steps: 300,
        }
    }
}

impl QueryState for ExplanationState {
    /// `model`, `digit`, `target=auto|draw|<digit>`, `map=gradient|gradient-times-input`,
    /// `eps` and `steps`.
    fn fields() -> Vec<Field<Self>> {
        use crate::classification::explanation::Method;
        use crate::protocol::EXPLAIN_STEPS;
        vec![
            by_name!("model", model, Architecture, |s, v| no_model(s.model, v)),
            number!("digit", digit, 0..HELD_OUT_COUNT, |_, v| format!(
                "There is no held-out digit \u{201c}{v}\u{201d} (0 to {}): showing digit 0.",
                HELD_OUT_COUNT - 1
            )),
            field!(
                "target",
                |s, v| {
                    s.target = ExplainTargetChoice::from_value(v)?;
                    Ok(())
                },
                |s| Some(s.target.value())
            ),
            by_name!("map", method, Method, |_, v| {
                format!(
                "There is no saliency map \u{201c}{v}\u{201d} (gradient or gradient-times-input): showing the gradient."
            )
            }),
            number!("eps", eps, EXPLAIN_EPS, |_, v| format!(
                "ε must lie between {} and {}, not \u{201c}{v}\u{201d}: using {}.",
                EXPLAIN_EPS.start(),
                EXPLAIN_EPS.end(),
                Self::default().eps
            )),
            number!("steps", steps, EXPLAIN_STEPS, |_, v| format!(
                "The manipulation takes {} to {} steps, not \u{201c}{v}\u{201d}: using {}.",
                EXPLAIN_STEPS.start(),
                EXPLAIN_STEPS.end(),
                Self::default().steps
            )),
        ]
    }
}

/// Which structure the false structures demo plants in the shown digit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PlantChoice {
    /// The digit's own label's dot (as in training).
    Own,
    /// No dot: the plain digit.
    Nothing,
    /// The dot of this label (0 to 9), whatever the digit is.
    Label(usize),
}

impl PlantChoice {
    fn from_value(value: &str) -> Result<Self, String> {
        match value {
            "true" => Ok(Self::Own),
            "none" => Ok(Self::Nothing),
            _ => match value.parse::<usize>() {
                Ok(k) if k < crate::classification::mnist::CLASSES => Ok(Self::Label(k)),
                _ => Err(format!(
                    "There is no structure \u{201c}{value}\u{201d} to plant (true, none or a label from 0 to 9): planting the digit\u{2019}s own."
                )),
            },
        }
    }

    /// The value in the link.
    pub fn value(self) -> String {
        match self {
            Self::Own => "true".into(),
            Self::Nothing => "none".into(),
            Self::Label(k) => k.to_string(),
        }
    }

    /// The label whose dot is planted on a digit of label `truth` (`None`: no dot).
    pub fn planted(self, truth: usize) -> Option<usize> {
        match self {
            Self::Own => Some(truth),
            Self::Nothing => None,
            Self::Label(k) => Some(k),
        }
    }
}

/// The URL state of the false structures demo: the strength (and so the planted model
/// `planted-<strength>`), the held-out digit and which dot is planted in it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FalseStructureState {
    pub strength: crate::classification::false_structure::Strength,
    pub digit: usize,
    pub plant: PlantChoice,
}

impl Default for FalseStructureState {
    fn default() -> Self {
        Self {
            strength: crate::classification::false_structure::STRENGTHS[2],
            digit: 0,
            plant: PlantChoice::Own,
        }
    }
}

impl QueryState for FalseStructureState {
    /// `strength=faint|medium|strong`, `digit=<0..1999>` and `plant=true|none|<label>`.
    fn fields() -> Vec<Field<Self>> {
        use crate::classification::false_structure::strength;
        vec![
            field!(
                "strength",
                |s, v| {
                    s.strength = strength(v).map_err(|_| {
                        format!(
                            "There is no structure strength \u{201c}{v}\u{201d} (faint, medium or strong): showing {}.",
                            s.strength.name
                        )
                    })?;
                    Ok(())
                },
                |s| Some(s.strength.name.to_string())
            ),
            number!("digit", digit, 0..HELD_OUT_COUNT, |s, v| format!(
                "There is no held-out digit \u{201c}{v}\u{201d} (0 to {}): showing digit {}.",
                HELD_OUT_COUNT - 1,
                s.digit
            )),
            field!(
                "plant",
                |s, v| {
                    s.plant = PlantChoice::from_value(v)?;
                    Ok(())
                },
                |s| Some(s.plant.value())
            ),
        ]
    }
}

/// Relabelled training digits shipped for the non-robust features page
/// (`static/data/non-robust-examples.safetensors`).
pub const NON_ROBUST_EXAMPLES: usize = 20;

/// The URL state of the non-robust features demo.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NonRobustState {
    /// The network trained on `D_rand` (`non-robust`) or on `D_det` (`non-robust-det`).
    pub model: crate::classification::non_robust::TargetRule,
    /// The clean held-out digit it classifies.
    pub digit: usize,
    /// The relabelled training example shown magnified.
    pub example: usize,
}

impl Default for NonRobustState {
    fn default() -> Self {
        Self {
            model: crate::classification::non_robust::TargetRule::Random,
            digit: 0,
            example: 0,
        }
    }
}

impl QueryState for NonRobustState {
    /// `model=non-robust|non-robust-det`, `digit` and `example`.
    fn fields() -> Vec<Field<Self>> {
        use crate::classification::non_robust::TargetRule;
        vec![
            choice!(
                "model",
                model,
                ["non-robust" => TargetRule::Random, "non-robust-det" => TargetRule::Deterministic],
                |_, v| format!(
                    "There is no model \u{201c}{v}\u{201d} (non-robust or non-robust-det): showing non-robust, trained on D_rand."
                )
            ),
            number!("digit", digit, 0..HELD_OUT_COUNT, |_, v| format!(
                "There is no held-out digit \u{201c}{v}\u{201d} (0 to {}): showing digit 0.",
                HELD_OUT_COUNT - 1
            )),
            number!("example", example, 0..NON_ROBUST_EXAMPLES, |_, v| format!(
                "There is no relabelled example \u{201c}{v}\u{201d} (0 to {}): showing example 0.",
                NON_ROBUST_EXAMPLES - 1
            )),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::route::assert_round_trip;

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
            assert_round_trip(&state);
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
            assert_round_trip(&state);
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
    fn linearity_state_round_trips_and_falls_back() {
        let state = LinearityState {
            eps: 0.125,
            d: 31_623,
            side: 7,
            digit: 1999,
        };
        assert_round_trip(&state);
        let d = LinearityState::default();
        assert_round_trip(&d);
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

    #[test]
    fn universal_state_round_trips_and_rejects_bad_values() {
        let state = UniversalState {
            model: Architecture::Mlp,
            ball: Ball::Linf,
            xi: Some(0.15),
            delta: 0.2,
            count: 300,
            passes: 4,
            digit: 17,
        };
        assert_round_trip(&state);
        let d = UniversalState::default();
        assert_round_trip(&d);
        let bad = UniversalState::from_query(
            "model=vgg&p=1&xi=NaN&delta=2&count=0&passes=99&digit=-1&zoom=2&embed=1",
        );
        assert_eq!(bad.state, d);
        assert_eq!(bad.notices.len(), 8, "{:?}", bad.notices);
        // ξ's range follows p: 3 is a fine ℓ₂ radius but not an ℓ∞ one.
        assert_eq!(UniversalState::from_query("p=2&xi=3").state.xi, Some(3.0));
        assert_eq!(UniversalState::from_query("p=inf&xi=3").state.xi, None);
    }

    #[test]
    fn explanation_state_round_trips_and_falls_back() {
        use crate::classification::explanation::Method;
        let d = ExplanationState::default();
        assert_eq!(
            assert_round_trip(&d),
            "model=cnn&digit=0&target=auto&map=gradient&eps=0.1&steps=300"
        );
        for target in [
            ExplainTargetChoice::Drawing,
            ExplainTargetChoice::Digit(1999),
        ] {
            let state = ExplanationState {
                model: Architecture::Mlp,
                digit: 7,
                target,
                method: Method::GradientTimesInput,
                eps: 0.05,
                steps: 10,
            };
            assert_round_trip(&state);
        }
        let bad = ExplanationState::from_query(
            "model=vgg&digit=2000&target=-1&map=lrp&eps=0.9&steps=5&zoom=1",
        );
        assert_eq!(bad.state, d);
        assert_eq!(bad.notices.len(), 7, "{:?}", bad.notices);
        let bad = ExplanationState::from_query("eps=NaN&steps=1e3&target=2000");
        assert_eq!(bad.state, d);
        assert_eq!(bad.notices.len(), 3, "{:?}", bad.notices);
    }

    #[test]
    fn false_structure_state_round_trips_and_falls_back() {
        use crate::classification::false_structure::STRENGTHS;
        let d = FalseStructureState::default();
        assert_eq!(assert_round_trip(&d), "strength=strong&digit=0&plant=true");
        for (strength, plant) in [
            (STRENGTHS[0], PlantChoice::Nothing),
            (STRENGTHS[1], PlantChoice::Label(0)),
            (STRENGTHS[2], PlantChoice::Label(9)),
        ] {
            assert_round_trip(&FalseStructureState {
                strength,
                digit: 1999,
                plant,
            });
        }
        let bad = FalseStructureState::from_query("strength=huge&digit=2000&plant=10&zoom=1");
        assert_eq!(bad.state, d);
        assert_eq!(bad.notices.len(), 4, "{:?}", bad.notices);
        let bad = FalseStructureState::from_query("strength=Faint&digit=-1&plant=-1");
        assert_eq!(bad.state, d);
        assert_eq!(bad.notices.len(), 3, "{:?}", bad.notices);
        let ok = FalseStructureState::from_query("strength=faint&digit=7&plant=none");
        assert!(ok.notices.is_empty());
        assert_eq!(ok.state.strength.name, "faint");
        assert_eq!(ok.state.plant.planted(3), None);
        assert_eq!(PlantChoice::Own.planted(3), Some(3));
        assert_eq!(PlantChoice::Label(5).planted(3), Some(5));
    }

    #[test]
    fn non_robust_state_round_trips_and_falls_back() {
        use crate::classification::non_robust::TargetRule;
        let d = NonRobustState::default();
        assert_eq!(assert_round_trip(&d), "model=non-robust&digit=0&example=0");
        let state = NonRobustState {
            model: TargetRule::Deterministic,
            digit: 1999,
            example: 19,
        };
        assert_eq!(
            assert_round_trip(&state),
            "model=non-robust-det&digit=1999&example=19"
        );
        let bad = NonRobustState::from_query("model=rand&digit=2000&example=20&zoom=1");
        assert_eq!(bad.state, d);
        assert_eq!(bad.notices.len(), 4, "{:?}", bad.notices);
        let bad = NonRobustState::from_query("digit=-1&example=NaN");
        assert_eq!(bad.state, d);
        assert_eq!(bad.notices.len(), 2, "{:?}", bad.notices);
    }

    #[test]
    fn structural_state_round_trips_and_falls_back() {
        let state = StructuralState {
            model: Architecture::Mlp,
            digit: 1999,
        };
        assert_round_trip(&state);
        let d = StructuralState::default();
        assert_round_trip(&d);
        assert_eq!(StructuralState::from_query("").state, d);
        let bad = StructuralState::from_query("model=vgg&digit=2000&zoom=2&embed=1");
        assert_eq!(bad.state, d);
        assert_eq!(bad.notices.len(), 3, "{:?}", bad.notices);
        let bad = StructuralState::from_query("digit=-1&digit=abc&model=linear");
        assert_eq!(bad.state.model, Architecture::Linear);
        assert_eq!(bad.state.digit, STRUCTURAL_DIGIT);
        assert_eq!(bad.notices.len(), 2);
    }

    /// Every state's default and a state with every setting changed come back from their
    /// links, which keep their order; unknown keys are noticed in each page's words.
    #[test]
    fn every_state_round_trips_through_its_table() {
        fn round_trip<S: QueryState + PartialEq + std::fmt::Debug>(state: S, link: &str) {
            assert_eq!(assert_round_trip(&state), link);
        }
        round_trip(ClassifyState::default(), "model=cnn&digit=0");
        round_trip(
            AttackState::default(),
            "model=cnn&digit=0&attack=deepfool_l2",
        );
        round_trip(
            AttackState {
                digit: ClassifyState {
                    model: Architecture::CnnWide,
                    source: DigitSource::Drawing,
                },
                attack: AttackChoice::One(AttackKind::DeepFoolLinf),
            },
            "model=cnn-wide&digit=draw&attack=deepfool_linf",
        );
        round_trip(
            UniversalState::default(),
            "model=cnn&p=2&delta=0.05&count=500&passes=10&digit=0",
        );
        round_trip(
            UniversalState {
                model: Architecture::Linear,
                ball: Ball::L2,
                xi: Some(15.0),
                delta: 0.0,
                count: MAX_SET,
                passes: 1,
                digit: 1999,
            },
            "model=linear&p=2&xi=15&delta=0&count=1000&passes=1&digit=1999",
        );
        round_trip(LinearityState::default(), "eps=0.03&d=784&side=28&digit=0");
        round_trip(
            LinearityState {
                eps: 0.3,
                d: 10,
                side: 14,
                digit: 5,
            },
            "eps=0.3&d=10&side=14&digit=5",
        );
        round_trip(StructuralState::default(), "model=cnn&digit=164");
        round_trip(
            StructuralState {
                model: Architecture::MlpTanh,
                digit: 0,
            },
            "model=mlp-tanh&digit=0",
        );
        assert_eq!(
            ClassifyState::from_query("embed&zoom=1&digit=2000").notices,
            [
                "Ignored unknown setting \u{201c}zoom\u{201d}.",
                "There is no held-out digit \u{201c}2000\u{201d} (0 to 1999): showing digit 0."
            ]
        );
        assert_eq!(
            UniversalState::from_query("xi=0.7&p=inf&zoom=1&passes=x").notices,
            [
                "Unknown setting \u{201c}zoom\u{201d} ignored.",
                "Passes must lie between 1 and 20, not \u{201c}x\u{201d}: using 10.",
                "\u{3be} must lie between 0.01 and 0.6, not \u{201c}0.7\u{201d}: using the shipped one."
            ]
        );
    }
}
