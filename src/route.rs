//! The state each demo keeps in its URL, so that a lecturer can link straight to an experiment.
//!
//! Routes live in the hash (`#/classify?model=cnn&digit=42`) so that any static host serves them.
//! Parsing never fails: unknown or malformed values fall back to defaults and produce a short
//! notice that the page shows. `embed=1` in the hash query, or `?embed` in the page query, hides
//! header and footer for iframes.

use crate::attack::AttackKind;
use crate::classifier::Architecture;
use crate::mnist::HELD_OUT_COUNT;

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

    /// Reads `model=<linear|mlp|cnn>`, `digit=<0..1999>` or `digit=draw`; ignores `embed`.
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
}
