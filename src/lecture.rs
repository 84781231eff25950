//! Lecture paths: an ordered list of experiments, each a deep link with its settings and a
//! one-line "what to notice", that a lecturer steps through with `N` and `P`.
//!
//! The lab's own path, [`LECTURES`], follows the slides of Antun & Colbrook's lectures (Day I:
//! classification; Days II–III: inverse problems). A lecturer's own path travels in the page's
//! query as one link, `?path=<code>`, where the code is the URL-safe base64 of the steps as JSON
//! (nothing is stored on a server); [`Path::encode`] and [`Path::decode`] write and read it, and
//! [`Path::parse_lines`] reads a path typed as one link per line (`link — note`).

use crate::{Error, Result};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde::{Deserialize, Serialize};

/// One step of a path: where to go and what to look at there.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Step {
    /// The experiment with its settings: the part of the address after `#`, e.g.
    /// `/attacks?model=cnn&digit=0&attack=random_noise`.
    #[serde(rename = "l")]
    pub link: String,
    /// A short title (the lab's path has one; a lecturer's steps may leave it empty).
    #[serde(rename = "t", default, skip_serializing_if = "String::is_empty")]
    pub title: String,
    /// One line: what to notice.
    #[serde(rename = "n", default, skip_serializing_if = "String::is_empty")]
    pub notice: String,
}

/// A lecture path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Path {
    /// The steps in order (never empty).
    pub steps: Vec<Step>,
    /// Whether this is the lab's own path ([`LECTURES`]), linked as `?path=lecture`.
    pub builtin: bool,
}

/// The most steps a path may have (a link stays well under browsers' URL limits).
pub const MAX_STEPS: usize = 40;
/// The longest link or note of a step, in characters.
pub const MAX_TEXT: usize = 400;

/// A step of the lab's own path.
struct Builtin {
    part: &'static str,
    title: &'static str,
    link: &'static str,
    notice: &'static str,
}

/// The lab's path through the lectures' experiments, in the slides' order.
const BUILTIN: &[Builtin] = &[
    Builtin {
        part: "Day I",
        title: "Classify",
        link: "/classify?model=cnn&digit=0",
        notice: "A trained CNN labels held-out digits correctly and with high confidence.",
    },
    Builtin {
        part: "Day I",
        title: "Random noise",
        link: "/attacks?model=cnn&digit=0&attack=random_noise",
        notice: "Random noise must be about as large as the digit itself (ρ ≈ 1.5) before the label changes.",
    },
    Builtin {
        part: "Day I",
        title: "Fast gradient",
        link: "/attacks?model=cnn&digit=0&attack=fast_gradient",
        notice: "Following the gradient finds a far smaller perturbation that changes the label.",
    },
    Builtin {
        part: "Day I",
        title: "DeepFool",
        link: "/attacks?model=cnn&digit=0&attack=deepfool_l2",
        notice: "DeepFool's r is invisible: drag t and watch the label flip just past t = 1.",
    },
    Builtin {
        part: "Day I",
        title: "DeepFool's geometry",
        link: "/geometry",
        notice: "Each step projects onto the nearest linearised boundary; drag x₀ and follow the iterates.",
    },
    Builtin {
        part: "Day I",
        title: "Universal perturbations",
        link: "/universal?model=cnn&p=2",
        notice: "One perturbation v, computed once, fools the network on most digits it has never seen.",
    },
    Builtin {
        part: "Day I",
        title: "Transfer",
        link: "/universal?model=mlp&p=2",
        notice: "The transfer table: a v computed for one network fools the other networks too.",
    },
    Builtin {
        part: "Day I",
        title: "Linearity",
        link: "/linearity",
        notice: "A change of ε in every pixel moves wᵀx by ε‖w‖₁, which grows with the dimension d.",
    },
    Builtin {
        part: "Day I",
        title: "Structural perturbations",
        link: "/structural?model=cnn",
        notice: "A few visible strokes or a small patch change the label as well.",
    },
    Builtin {
        part: "Day I",
        title: "Non-robust features",
        link: "/non-robust",
        notice: "A network trained only on wrong labels reads clean digits far above chance.",
    },
    Builtin {
        part: "Day I",
        title: "False structures",
        link: "/false-structures",
        notice: "A faint dot encodes the label: move it and the network follows the dot, not the digit.",
    },
    Builtin {
        part: "Day I",
        title: "Manipulated explanations",
        link: "/explanations",
        notice: "An invisible change keeps the label and moves the saliency map towards another digit's.",
    },
    Builtin {
        part: "Days II–III",
        title: "The MRI forward model",
        link: "/mri?rate=0.15",
        notice: "Zero-filling A*y: the missing frequencies show up as aliasing streaks.",
    },
    Builtin {
        part: "Days II–III",
        title: "FIRENET",
        link: "/mri?rate=0.25",
        notice: "FIRENET's error falls geometrically with its layers; drag the layer slider.",
    },
    Builtin {
        part: "Days II–III",
        title: "Hallucinations",
        link: "/hallucinations",
        notice: "Under a perturbation one cannot see, the trained network's output changes far more than FIRENET's.",
    },
    Builtin {
        part: "Days II–III",
        title: "The troublesome kernel",
        link: "/kernel",
        notice: "A detail in the kernel of A is invisible to the data: whoever is accurate on x′ must hallucinate on x.",
    },
    Builtin {
        part: "Days II–III",
        title: "Can u see it?",
        link: "/details",
        notice: "Which method recovers the small detail, and which one loses it?",
    },
    Builtin {
        part: "Days II–III",
        title: "More samples, worse?",
        link: "/sweep",
        notice: "With its weights fixed, a trained network need not improve when it gets more samples.",
    },
    Builtin {
        part: "Days II–III",
        title: "Accuracy versus stability",
        link: "/tradeoff",
        notice: "Every method as one point: the most accurate are not the most stable.",
    },
];

/// The lab's own path: its steps' part of the lectures ("Day I", "Days II–III") and the steps.
pub fn lectures() -> Vec<(&'static str, Step)> {
    BUILTIN
        .iter()
        .map(|b| {
            (
                b.part,
                Step {
                    link: b.link.into(),
                    title: b.title.into(),
                    notice: b.notice.into(),
                },
            )
        })
        .collect()
}

/// The value of `path=` that names the lab's own path.
pub const LECTURES: &str = "lecture";

impl Path {
    /// The lab's own path.
    pub fn lectures() -> Self {
        Self {
            steps: lectures().into_iter().map(|(_, s)| s).collect(),
            builtin: true,
        }
    }

    /// The value of `path=` for this path: [`LECTURES`], or the steps as URL-safe base64 JSON.
    pub fn encode(&self) -> String {
        if self.builtin {
            return LECTURES.into();
        }
        let json = serde_json::to_vec(&self.steps).expect("steps serialise");
        URL_SAFE_NO_PAD.encode(json)
    }

    /// Reads the value of `path=`; an error says what is wrong with the link, for people.
    pub fn decode(code: &str) -> Result<Self> {
        if code == LECTURES || code.is_empty() {
            return Ok(Self::lectures());
        }
        let bad = |why: &str| Error::Input(format!("This lecture path's link is damaged ({why})."));
        let bytes = URL_SAFE_NO_PAD
            .decode(code.trim_end_matches('='))
            .map_err(|_| bad("not base64"))?;
        let steps: Vec<Step> =
            serde_json::from_slice(&bytes).map_err(|_| bad("not a list of steps"))?;
        Self::checked(steps)
    }

    /// Reads a path typed as one step per line: a link (a whole address, or its part from `#`),
    /// then optionally ` — ` or ` | ` and what to notice. Blank lines are skipped.
    pub fn parse_lines(text: &str) -> Result<Self> {
        let steps = text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .enumerate()
            .map(|(i, line)| {
                let (link, notice) = match line.split_once(" — ").or_else(|| line.split_once(" | ")) {
                    Some((l, n)) => (l.trim(), n.trim()),
                    None => (line, ""),
                };
                let link = hash_part(link).ok_or_else(|| {
                    Error::Input(format!(
                        "Line {}: \u{201c}{}\u{201d} is not a link to an experiment (it should contain #/…).",
                        i + 1,
                        crate::route::shorten(link)
                    ))
                })?;
                Ok(Step {
                    link,
                    title: String::new(),
                    notice: notice.into(),
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Self::checked(steps)
    }

    /// The path as [`Path::parse_lines`] reads it back.
    pub fn to_lines(&self) -> String {
        self.steps
            .iter()
            .map(|s| {
                if s.notice.is_empty() {
                    format!("#{}", s.link)
                } else {
                    format!("#{} — {}", s.link, s.notice)
                }
            })
            .collect::<Vec<_>>()
            .join("\n")
    }

    fn checked(steps: Vec<Step>) -> Result<Self> {
        if steps.is_empty() {
            return Err(Error::Input(
                "A lecture path needs at least one step.".into(),
            ));
        }
        if steps.len() > MAX_STEPS {
            return Err(Error::Input(format!(
                "A lecture path has at most {MAX_STEPS} steps, not {}.",
                steps.len()
            )));
        }
        for (i, s) in steps.iter().enumerate() {
            if !s.link.starts_with('/') || s.link.len() > MAX_TEXT {
                return Err(Error::Input(format!(
                    "Step {}: \u{201c}{}\u{201d} is not a link to an experiment.",
                    i + 1,
                    crate::route::shorten(&s.link)
                )));
            }
            if s.notice.chars().count() > MAX_TEXT || s.title.chars().count() > MAX_TEXT {
                return Err(Error::Input(format!(
                    "Step {}: its note is longer than {MAX_TEXT} characters.",
                    i + 1
                )));
            }
        }
        Ok(Self {
            steps,
            builtin: false,
        })
    }

    /// The step a page opened at `link` (its part after `#`) is on: the first whose route (the
    /// part before `?`) matches, preferring an exact match of the whole link.
    pub fn find(&self, link: &str) -> Option<usize> {
        let route = |l: &str| l.split('?').next().unwrap_or("").to_string();
        self.steps.iter().position(|s| s.link == link).or_else(|| {
            self.steps
                .iter()
                .position(|s| route(&s.link) == route(link))
        })
    }

    /// A step's title: its own, or the name of its page.
    pub fn title(&self, i: usize) -> String {
        let s = &self.steps[i];
        if !s.title.is_empty() {
            return s.title.clone();
        }
        let route = s
            .link
            .trim_start_matches('/')
            .split('?')
            .next()
            .unwrap_or("");
        match route {
            "" => "Home".into(),
            r => {
                let mut c = r.chars();
                c.next()
                    .map(|f| f.to_uppercase().collect::<String>() + c.as_str())
                    .unwrap_or_default()
            }
        }
    }
}

/// The part of an address from `#` on, without the `#`, if it is a route (`/…`).
fn hash_part(link: &str) -> Option<String> {
    let from_hash = match link.split_once('#') {
        Some((_, h)) => h,
        None => link,
    };
    from_hash.starts_with('/').then(|| from_hash.to_string())
}

/// The page query (before `#`) with presenter mode (`present`), `path` and `step` set as
/// given, keeping every other setting (`embed`): how the lab links a step of a path.
pub fn page_query(search: &str, present: bool, path: Option<&Path>, step: usize) -> String {
    let mut pairs: Vec<String> = search
        .trim_start_matches('?')
        .split('&')
        .filter(|p| !p.is_empty())
        .filter(|p| {
            let key = p.split('=').next().unwrap_or("");
            !matches!(key, "path" | "step" | "present")
        })
        .map(str::to_string)
        .collect();
    if present {
        pairs.push("present".into());
    }
    if let Some(path) = path {
        pairs.push(format!("path={}", path.encode()));
        pairs.push(format!("step={}", step + 1));
    }
    if pairs.is_empty() {
        String::new()
    } else {
        format!("?{}", pairs.join("&"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::classification::state::{
        AttackState, ClassifyState, ExplanationState, FalseStructureState, LinearityState,
        NonRobustState, StructuralState, UniversalState,
    };
    use crate::mri::state::{
        DetailsState, HallucinationState, KernelState, MriState, SweepState, TradeoffState,
    };
    use crate::route::QueryState;

    /// The notices a page would show for `link`'s query (`None`: no such page).
    fn notices(link: &str) -> Option<Vec<String>> {
        let (route, query) = link.split_once('?').unwrap_or((link, ""));
        Some(match route {
            "/classify" => ClassifyState::from_query(query).notices,
            "/attacks" => AttackState::from_query(query).notices,
            "/universal" => UniversalState::from_query(query).notices,
            "/linearity" => LinearityState::from_query(query).notices,
            "/structural" => StructuralState::from_query(query).notices,
            "/explanations" => ExplanationState::from_query(query).notices,
            "/false-structures" => FalseStructureState::from_query(query).notices,
            "/non-robust" => NonRobustState::from_query(query).notices,
            "/mri" => MriState::from_query(query).notices,
            "/hallucinations" => HallucinationState::from_query(query).notices,
            "/kernel" => KernelState::from_query(query).notices,
            "/details" => DetailsState::from_query(query).notices,
            "/sweep" => SweepState::from_query(query).notices,
            "/tradeoff" => TradeoffState::from_query(query).notices,
            "/geometry" if query.is_empty() => vec![],
            _ => return None,
        })
    }

    #[test]
    fn the_lectures_path_follows_the_slides_with_valid_links() {
        let steps = lectures();
        assert_eq!(steps.len(), 19);
        let titles: Vec<_> = steps.iter().map(|(_, s)| s.title.as_str()).collect();
        assert_eq!(titles[0], "Classify");
        assert_eq!(titles[3], "DeepFool");
        assert_eq!(titles[15], "The troublesome kernel");
        assert_eq!(titles[18], "Accuracy versus stability");
        // Day I, then Days II–III, never back.
        let first_mri = steps.iter().position(|(p, _)| *p != "Day I").unwrap();
        assert_eq!(first_mri, 12);
        assert!(steps[first_mri..].iter().all(|(p, _)| *p == "Days II–III"));
        for (_, s) in &steps {
            let n = notices(&s.link).unwrap_or_else(|| panic!("{}: no such page", s.link));
            assert!(n.is_empty(), "{}: {n:?}", s.link);
            assert!(
                !s.notice.is_empty() && s.notice.chars().count() <= 120,
                "{}",
                s.notice
            );
        }
    }

    #[test]
    fn a_path_round_trips_through_its_link() {
        let lectures = Path::lectures();
        assert_eq!(lectures.encode(), "lecture");
        assert_eq!(Path::decode("lecture").unwrap(), lectures);
        let own = Path::parse_lines(
            "http://127.0.0.1:8080/#/attacks?model=cnn&digit=7&attack=fgsm — the sign of the gradient\n\n\
             #/mri?rate=0.1\n/kernel | ‖x − x′‖ is a lower bound",
        )
        .unwrap();
        assert!(!own.builtin);
        assert_eq!(own.steps.len(), 3);
        assert_eq!(own.steps[0].link, "/attacks?model=cnn&digit=7&attack=fgsm");
        assert_eq!(own.steps[0].notice, "the sign of the gradient");
        assert_eq!(own.steps[1].notice, "");
        assert_eq!(own.steps[2].notice, "‖x − x′‖ is a lower bound");
        let code = own.encode();
        assert!(code
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'));
        assert_eq!(Path::decode(&code).unwrap(), own);
        assert_eq!(Path::parse_lines(&own.to_lines()).unwrap(), own);
        assert_eq!(own.title(1), "Mri");
        assert_eq!(lectures.title(0), "Classify");
    }

    #[test]
    fn damaged_paths_are_clear_errors() {
        for bad in ["%%%", "bm90IGpzb24", &URL_SAFE_NO_PAD.encode("[]")] {
            let e = Path::decode(bad).unwrap_err().for_people();
            assert!(e.contains("path"), "{bad}: {e}");
        }
        let e = Path::parse_lines("#/mri\nhello world")
            .unwrap_err()
            .for_people();
        assert!(e.contains("Line 2"), "{e}");
        assert!(Path::parse_lines("  \n ").is_err());
        let many = "#/mri\n".repeat(MAX_STEPS + 1);
        assert!(Path::parse_lines(&many).is_err());
        let long = format!("#/mri — {}", "x".repeat(MAX_TEXT + 1));
        assert!(Path::parse_lines(&long).is_err());
    }

    #[test]
    fn steps_are_found_by_link_then_by_page() {
        let p = Path::lectures();
        assert_eq!(
            p.find("/attacks?model=cnn&digit=0&attack=fast_gradient"),
            Some(2)
        );
        assert_eq!(p.find("/attacks?model=mlp"), Some(1));
        assert_eq!(p.find("/tradeoff"), Some(18));
        assert_eq!(p.find("/explanations?digit=3"), Some(11));
        assert_eq!(p.find("/nowhere"), None);
    }

    #[test]
    fn the_page_query_keeps_other_settings() {
        let p = Path::lectures();
        assert_eq!(
            page_query("?present", true, Some(&p), 2),
            "?present&path=lecture&step=3"
        );
        assert_eq!(
            page_query("?path=lecture&step=3&present&embed", false, Some(&p), 0),
            "?embed&path=lecture&step=1"
        );
        assert_eq!(page_query("?path=lecture&step=2", false, None, 0), "");
        assert_eq!(page_query("", true, None, 0), "?present");
    }
}
