//! The state each demo keeps in its URL, so that a lecturer can link straight to an experiment.
//!
//! Routes live in the hash (`#/classify?model=cnn&digit=42`) so that any static host serves them.
//! Parsing never fails: unknown or malformed values fall back to defaults and produce a short
//! notice that the page shows. `embed=1` in the hash query, or `?embed` in the page query, hides
//! header and footer for iframes.
//!
//! Each demo describes its state once, as a table of [`Field`]s (key, reader, writer), one line
//! a setting with the macros `number!` (a number in a range), `by_name!` (an enum by its name),
//! `choice!` (a few words), `field!` (any reader and writer) and `held!` (checked in
//! [`QueryState::finish`]); [`QueryState`] reads and writes every table the same way. The states
//! themselves live beside their half: [`crate::classification::state`] and [`crate::mri::state`].

use std::fmt::Display;
use std::ops::RangeInclusive;
use std::str::FromStr;

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

/// Encodes a value for a query string, so that [`parse_query`] reads it back unchanged: a
/// space becomes `+`; letters, digits, `-`, `.`, `_`, `~`, `,` and `:` stay; every other byte
/// is written `%XX` (so `&`, `=`, `+`, `%` and `#` in typed text stay text).
pub fn encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for &b in value.as_bytes() {
        match b {
            b' ' => out.push('+'),
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' | b',' | b':' => {
                out.push(b as char)
            }
            b => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
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

/// A parsed state and what was wrong with the URL.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Parsed<T> {
    pub state: T,
    pub notices: Vec<String>,
}

/// One setting of a demo's URL: its key, how a value is read into the state, and how the state
/// writes it back into a link.
pub struct Field<S> {
    pub key: &'static str,
    /// Reads a value into the state; `Err` is the notice the page shows (the state keeps what
    /// it had).
    pub read: fn(&mut S, &str) -> Result<(), String>,
    /// The value as it stands in the link; `None` leaves the key out.
    pub write: fn(&S) -> Option<String>,
    /// Whether a good value (the last one) is kept in [`Held`] for [`QueryState::finish`]
    /// instead of being read into the state: for settings checked against others, or
    /// assembled with them.
    pub held: bool,
}

/// The last good value of each held [`Field`], for [`QueryState::finish`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Held(Vec<(&'static str, String)>);

impl Held {
    /// The last good value of `key`, if the URL had one.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .rev()
            .find(|(k, _)| *k == key)
            .map(|(_, v)| v.as_str())
    }

    /// The last good value of `key` as a number (the reader has checked it).
    pub fn parse<T: FromStr>(&self, key: &str) -> Option<T> {
        self.get(key)?.parse().ok()
    }
}

/// How a demo words a key it does not know.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unknown {
    /// "Ignored unknown setting “zoom”."
    IgnoredFirst,
    /// "Unknown setting “zoom” ignored."
    IgnoredLast,
}

impl Unknown {
    /// The notice for `key`.
    pub fn notice(self, key: &str) -> String {
        match self {
            Unknown::IgnoredFirst => format!("Ignored unknown setting \u{201c}{key}\u{201d}."),
            Unknown::IgnoredLast => format!("Unknown setting \u{201c}{key}\u{201d} ignored."),
        }
    }
}

/// A demo's state kept in its URL query, described by its table of settings.
pub trait QueryState: Default {
    /// How this demo words a key it does not know.
    const UNKNOWN: Unknown = Unknown::IgnoredFirst;

    /// The settings, in the order the link writes them.
    fn fields() -> Vec<Field<Self>>;

    /// Checks across settings once every one is read (a value whose range depends on another,
    /// parts assembled into one); `held` has the held fields' values.
    fn finish(&mut self, _held: &Held, _notices: &mut Vec<String>) {}

    /// Reads a query; never fails: bad values keep the defaults, with a notice each; unknown keys
    /// are noticed, `embed` is ignored. Of a key given twice, the last good value wins.
    fn from_query(query: &str) -> Parsed<Self> {
        let fields = Self::fields();
        let mut state = Self::default();
        let mut held = Held::default();
        let mut notices = Vec::new();
        for (key, value) in parse_query(query) {
            match fields.iter().find(|f| f.key == key) {
                Some(field) => match (field.read)(&mut state, &value) {
                    Ok(()) if field.held => held.0.push((field.key, value)),
                    Ok(()) => {}
                    Err(notice) => notices.push(shorten_echo(notice, &value)),
                },
                None if key == "embed" => {}
                None => notices.push(shorten_echo(Self::UNKNOWN.notice(&key), &key)),
            }
        }
        state.finish(&held, &mut notices);
        Parsed { state, notices }
    }

    /// The query that [`QueryState::from_query`] reads back to this state.
    fn to_query(&self) -> String {
        Self::fields()
            .iter()
            .filter_map(|f| Some(format!("{}={}", f.key, encode(&(f.write)(self)?))))
            .collect::<Vec<_>>()
            .join("&")
    }
}

/// Longest value a notice echoes in full (a longer one is cut, with an ellipsis).
pub const ECHO: usize = 40;

/// `v` as a notice echoes it: at most [`ECHO`] characters, then an ellipsis.
pub fn shorten(v: &str) -> String {
    if v.chars().count() <= ECHO {
        v.to_string()
    } else {
        format!("{}…", v.chars().take(ECHO).collect::<String>())
    }
}

/// A number as a notice states it: as a link writes it when that is short, else in scientific
/// notation (`5e-324`, not the 326 characters of `0.000…5`).
pub fn short_number<T: Display + std::fmt::LowerExp>(x: T) -> String {
    let plain = x.to_string();
    if plain.chars().count() <= 12 {
        plain
    } else {
        format!("{x:e}")
    }
}

/// `notice` with every echo of a long `value` shortened, so that a pasted 10 KB value does not
/// run off the page.
fn shorten_echo(notice: String, value: &str) -> String {
    if value.chars().count() > ECHO {
        notice.replace(value, &shorten(value))
    } else {
        notice
    }
}

/// `Ok` with what was read, or `Err` with the notice for the state and the value.
pub fn or_notice<S, T>(
    read: Option<T>,
    state: &S,
    value: &str,
    notice: fn(&S, &str) -> String,
) -> Result<T, String> {
    read.ok_or_else(|| notice(state, value))
}

/// Parses a number in `range`; otherwise the notice names the key and the range.
pub fn number_in<T: FromStr + PartialOrd + Display>(
    key: &str,
    value: &str,
    range: &RangeInclusive<T>,
) -> Result<T, String> {
    match value.parse::<T>() {
        Ok(v) if range.contains(&v) => Ok(v),
        _ => Err(format!(
            "Ignored {key}=\u{201c}{value}\u{201d}: expected a number from {} to {}.",
            range.start(),
            range.end()
        )),
    }
}

/// Whether a value names a shipped network or method: lower-case letters, digits and `-`.
pub fn is_name(value: &str) -> bool {
    !value.is_empty()
        && value
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

/// The longest network or method name a link may give.
pub const MAX_NAME: usize = 40;

/// Asserts that `state` comes back from its link without notices; returns the link (for the
/// states' tests).
#[cfg(test)]
pub(crate) fn assert_round_trip<S: QueryState + PartialEq + std::fmt::Debug>(state: &S) -> String {
    let link = state.to_query();
    let parsed = S::from_query(&link);
    assert!(parsed.notices.is_empty(), "{link}: {:?}", parsed.notices);
    assert_eq!(&parsed.state, state, "{link}");
    link
}

/// A setting read and written by the functions given (inside `impl QueryState`):
/// `field!("key", |state, value| -> Result<(), notice>, |state| -> Option<value in the link>)`.
macro_rules! field {
    ($key:literal, $read:expr, $write:expr $(,)?) => {
        $crate::route::Field::<Self> {
            key: $key,
            read: $read,
            write: $write,
            held: false,
        }
    };
}
pub(crate) use field;

/// A setting whose good values are kept for [`QueryState::finish`]:
/// `held!("key", |state, value| -> Result<(), notice>, |state| -> Option<value in the link>)`.
macro_rules! held {
    ($key:literal, $check:expr, $write:expr $(,)?) => {
        $crate::route::Field::<Self> {
            key: $key,
            read: $check,
            write: $write,
            held: true,
        }
    };
}
pub(crate) use held;

/// A number at `state.place` that `range` (anything with `contains`) accepts:
/// `number!("key", place, range, |state, value| notice)`; `Some(place)` for an optional one
/// (left out of the link while `None`). Without a notice, [`number_in`]'s, for a
/// `RangeInclusive`.
macro_rules! number {
    ($key:literal, Some($($f:ident).+), $range:expr, $notice:expr $(,)?) => {
        $crate::route::field!(
            $key,
            |s, v| {
                let read = v.parse().ok().filter(|x| $range.contains(x));
                s.$($f).+ = Some($crate::route::or_notice(read, &*s, v, $notice)?);
                Ok(())
            },
            |s| s.$($f).+.map(|x| x.to_string())
        )
    };
    ($key:literal, Some($($f:ident).+), $range:expr $(,)?) => {
        $crate::route::field!(
            $key,
            |s, v| {
                s.$($f).+ = Some($crate::route::number_in($key, v, &$range)?);
                Ok(())
            },
            |s| s.$($f).+.map(|x| x.to_string())
        )
    };
    ($key:literal, $($f:ident).+, $range:expr, $notice:expr $(,)?) => {
        $crate::route::field!(
            $key,
            |s, v| {
                let read = v.parse().ok().filter(|x| $range.contains(x));
                s.$($f).+ = $crate::route::or_notice(read, &*s, v, $notice)?;
                Ok(())
            },
            |s| Some(s.$($f).+.to_string())
        )
    };
    ($key:literal, $($f:ident).+, $range:expr $(,)?) => {
        $crate::route::field!(
            $key,
            |s, v| {
                s.$($f).+ = $crate::route::number_in($key, v, &$range)?;
                Ok(())
            },
            |s| Some(s.$($f).+.to_string())
        )
    };
}
pub(crate) use number;

/// An enum at `state.place` read by its `from_name` and written by its `name`:
/// `by_name!("key", place, Type, |state, value| notice)`.
macro_rules! by_name {
    ($key:literal, $($f:ident).+, $type:ty, $notice:expr $(,)?) => {
        $crate::route::field!(
            $key,
            |s, v| {
                let read = <$type>::from_name(v).ok();
                s.$($f).+ = $crate::route::or_notice(read, &*s, v, $notice)?;
                Ok(())
            },
            |s| Some(s.$($f).+.name().to_string())
        )
    };
}
pub(crate) use by_name;

/// One of a few values at `state.place`, each with its word in the link:
/// `choice!("key", place, ["word" => value, …], |state, value| notice)`, written back by the
/// word of the value; a writer after the notice replaces that.
macro_rules! choice {
    ($key:literal, $($f:ident).+, [$($word:literal => $value:expr),+ $(,)?], $notice:expr, $write:expr $(,)?) => {
        $crate::route::field!(
            $key,
            |s, v| {
                let read = match v {
                    $($word => Some($value),)+
                    _ => None,
                };
                s.$($f).+ = $crate::route::or_notice(read, &*s, v, $notice)?;
                Ok(())
            },
            $write
        )
    };
    ($key:literal, $($f:ident).+, [$($word:literal => $value:expr),+ $(,)?], $notice:expr $(,)?) => {
        $crate::route::choice!(
            $key,
            $($f).+,
            [$($word => $value),+],
            $notice,
            |s| {
                [$(($word, $value)),+]
                    .into_iter()
                    .find(|(_, x)| *x == s.$($f).+)
                    .map(|(w, _)| w.to_string())
            }
        )
    };
}
pub(crate) use choice;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encoded_values_read_back_unchanged() {
        for value in [
            "A&B=C",
            "%41%42",
            "a+b c",
            "axial 20",
            "#/x?y=1",
            "\u{e9}\u{1f9e0} \u{202e}",
            "5,10,20",
            "-1.5e-3",
            "",
        ] {
            let query = format!("k={}&z=1", encode(value));
            assert_eq!(
                parse_query(&query),
                vec![("k".into(), value.into()), ("z".into(), "1".into())],
                "{value:?} as {query:?}"
            );
        }
        assert_eq!(encode("axial 20"), "axial+20");
        assert_eq!(encode("A&B=C"), "A%26B%3DC");
        assert_eq!(encode("5,10,20"), "5,10,20");
    }

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
    fn numbers_in_notices_stay_short() {
        assert_eq!(short_number(0.05), "0.05");
        assert_eq!(short_number(5e-324), "5e-324");
        assert_eq!(short_number(1e-45f32), "1e-45");
        assert_eq!(short_number(1e300), "1e300");
    }

    #[test]
    fn embed_flag() {
        assert!(is_embed("?embed"));
        assert!(is_embed("model=cnn&embed=1"));
        assert!(!is_embed("embed=0"));
        assert!(!is_embed("model=cnn"));
    }

    /// A state with one setting of each kind, and one checked in `finish`.
    #[derive(Debug, PartialEq)]
    struct Toy {
        count: usize,
        share: Option<f64>,
        on: bool,
        shade: Shade,
        /// Held, at most `count`.
        pick: Option<usize>,
    }

    impl Default for Toy {
        fn default() -> Self {
            Self {
                count: 3,
                share: None,
                on: false,
                shade: Shade::Light,
                pick: None,
            }
        }
    }

    #[derive(Clone, Copy, Debug, PartialEq)]
    enum Shade {
        Light,
        Dark,
    }

    impl Shade {
        fn name(self) -> &'static str {
            match self {
                Shade::Light => "light",
                Shade::Dark => "dark",
            }
        }

        fn from_name(name: &str) -> Result<Self, ()> {
            [Shade::Light, Shade::Dark]
                .into_iter()
                .find(|s| s.name() == name)
                .ok_or(())
        }
    }

    impl QueryState for Toy {
        fn fields() -> Vec<Field<Self>> {
            vec![
                number!("count", count, 1..=9, |s, v| format!(
                    "count {v}: using {}",
                    s.count
                )),
                number!("share", Some(share), 0.0..=1.0),
                choice!("on", on, ["yes" => true, "no" => false], |_, v| format!("on {v}")),
                by_name!("shade", shade, Shade, |_, v| format!("shade {v}")),
                held!(
                    "pick",
                    |_, v| number_in("pick", v, &(0..=9)).map(drop),
                    |s| { s.pick.map(|p| p.to_string()) }
                ),
            ]
        }

        fn finish(&mut self, held: &Held, notices: &mut Vec<String>) {
            match held.parse::<usize>("pick") {
                Some(p) if p <= self.count => self.pick = Some(p),
                Some(p) => notices.push(format!("pick {p} > {}", self.count)),
                None => {}
            }
        }
    }

    #[test]
    fn tables_read_write_and_notice() {
        let d = Toy::default();
        assert_eq!(d.to_query(), "count=3&on=no&shade=light");
        assert_eq!(
            Toy::from_query(&d.to_query()),
            Parsed {
                state: Toy::default(),
                notices: vec![]
            }
        );
        let state = Toy {
            count: 9,
            share: Some(0.25),
            on: true,
            shade: Shade::Dark,
            pick: Some(7),
        };
        assert_eq!(
            state.to_query(),
            "count=9&share=0.25&on=yes&shade=dark&pick=7"
        );
        let parsed = Toy::from_query(&state.to_query());
        assert_eq!(parsed.state, state);
        assert!(parsed.notices.is_empty(), "{:?}", parsed.notices);
        // Keys in any order; `pick` is checked against the final `count`.
        assert_eq!(
            Toy::from_query("pick=7&shade=dark&count=9&on=yes&share=0.25").state,
            state
        );
        // Bad values keep the defaults (or the last good value), with the notices in URL order;
        // `embed` is no setting, an unknown key is noticed.
        let bad = Toy::from_query(
            "count=5&count=10&share=2&on=maybe&embed=1&shade=grey&zoom=2&pick=x&pick=6",
        );
        assert_eq!(
            bad.state,
            Toy {
                count: 5,
                ..Toy::default()
            }
        );
        assert_eq!(
            bad.notices,
            vec![
                "count 10: using 5".to_string(),
                "Ignored share=\u{201c}2\u{201d}: expected a number from 0 to 1.".into(),
                "on maybe".into(),
                "shade grey".into(),
                "Ignored unknown setting \u{201c}zoom\u{201d}.".into(),
                "Ignored pick=\u{201c}x\u{201d}: expected a number from 0 to 9.".into(),
                "pick 6 > 5".into(),
            ]
        );
        assert_eq!(
            Unknown::IgnoredLast.notice("zoom"),
            "Unknown setting \u{201c}zoom\u{201d} ignored."
        );
        // The last good value of a held key counts.
        assert_eq!(Toy::from_query("pick=2&pick=y").state.pick, Some(2));
    }
}
