//! Held-out runs split for the worker pool ([`crate::pool`]): the held-out evaluation
//! ([`Job::Evaluate`](crate::protocol::Job::Evaluate)) and the robustness run
//! ([`Job::Robustness`](crate::protocol::Job::Robustness)) over the first `count` held-out digits,
//! cut into contiguous ranges of digits ([`split_digits`]), one per worker, and the parts' replies
//! merged back ([`merge_evaluations`], [`merge_robustness`]) into exactly what one run over all
//! the digits answers: the evaluation classifies the same batches ([`evaluation_batches`]), a
//! digit is attacked with its own index as the seed whichever part it falls in
//! ([`attack_digit`]), and the robustness sums are exact ([`AttackSums`]).

use crate::classification::attack::{AttackKind, Model};
use crate::classification::classifier::Classifier;
use crate::classification::mnist::Digits;
use crate::classification::robustness::{attack_digit, empty_summaries, AttackSummary, AttackSums};
use crate::classification::training::count_correct;
use crate::protocol::Body;
use crate::{Error, Result};
use std::ops::Range;

/// Digits the held-out evaluation classifies in one batch (the worker checks for a cancel
/// between batches). Batches start at multiples of it whatever the part, and parts are cut at
/// its multiples, so a split evaluation classifies exactly the batches of one run.
pub const EVALUATE_BATCH: usize = 100;

/// The digits `0..count` cut into at most `parts` contiguous ranges, in order, as even as
/// `align` allows: every cut is a multiple of `align`. Ranges are never empty, except the one
/// range `0..0` when `count` is 0; there are at most `⌈count / align⌉` of them.
pub fn split_digits(count: usize, parts: usize, align: usize) -> Vec<Range<usize>> {
    let align = align.max(1);
    let blocks = count.div_ceil(align);
    let parts = parts.clamp(1, blocks.max(1));
    (0..parts)
        .map(|k| {
            let (a, b) = (k * blocks / parts, (k + 1) * blocks / parts);
            (a * align).min(count)..(b * align).min(count)
        })
        .collect()
}

/// The digits a part of a job over the first `count` held-out digits works on: `digits`
/// (`None`: all of them), checked to lie within `0..count`, then cut to the `available` digits.
pub fn part_digits(
    digits: Option<Range<usize>>,
    count: usize,
    available: usize,
) -> Result<Range<usize>> {
    let range = digits.unwrap_or(0..count);
    if range.start > range.end || range.end > count {
        return Err(Error::Input(format!(
            "a part's digits {}..{} do not lie within the first {count} held-out digits",
            range.start, range.end
        )));
    }
    Ok(range.start.min(available)..range.end.min(available))
}

/// The batches of the held-out evaluation over `digits`: runs of at most [`EVALUATE_BATCH`]
/// digits that start at its multiples (or at `digits.start`).
pub fn evaluation_batches(digits: Range<usize>) -> Vec<Vec<usize>> {
    let mut out = Vec::new();
    let mut start = digits.start;
    while start < digits.end {
        let end = ((start / EVALUATE_BATCH + 1) * EVALUATE_BATCH).min(digits.end);
        out.push((start..end).collect());
        start = end;
    }
    out
}

/// Held-out digits among `digits` that `model` classifies correctly, batch by batch as the
/// worker does ([`evaluation_batches`]).
pub fn count_correct_in(
    model: &Classifier,
    held_out: &Digits,
    digits: Range<usize>,
) -> Result<usize> {
    evaluation_batches(digits)
        .iter()
        .map(|batch| count_correct(model, held_out, batch))
        .sum()
}

/// One part of a robustness run, as the worker computes it: every held-out digit of `digits`
/// that `model` classifies correctly attacked with every attack ([`attack_digit`]); `clock`
/// reads milliseconds. Returns the digits classified correctly and the summaries.
pub fn robustness_part(
    model: &dyn Model,
    held_out: &Digits,
    digits: Range<usize>,
    clock: &dyn Fn() -> f64,
) -> Result<(usize, Vec<(AttackKind, AttackSummary)>)> {
    let mut summaries = empty_summaries();
    let mut correct = 0;
    for i in digits {
        let x: Vec<f64> = held_out.image(i).iter().map(|&v| v as f64).collect();
        if attack_digit(model, &x, held_out.label(i), i, &mut summaries, clock)? {
            correct += 1;
        }
    }
    Ok((correct, summaries))
}

/// The reply of a part of a robustness run: its summaries with their exact sums, for
/// [`merge_robustness`].
pub fn robustness_reply(
    model: &str,
    count: usize,
    digits: Range<usize>,
    correct: usize,
    summaries: Vec<(AttackKind, AttackSummary)>,
) -> Body {
    let sums = summaries.iter().map(|(_, s)| s.sums().clone()).collect();
    Body::Robustness {
        model: model.to_string(),
        correct,
        count,
        summaries,
        digits: Some(digits),
        sums,
    }
}

/// The held-out evaluation's answer.
#[derive(Clone, Debug, PartialEq)]
pub struct Evaluation {
    pub model: String,
    /// Digits classified correctly.
    pub correct: usize,
    /// Digits classified.
    pub count: usize,
    /// Time of the slowest part (they ran side by side), milliseconds.
    pub millis: f64,
}

/// A robustness run's answer.
#[derive(Clone, Debug, PartialEq)]
pub struct RobustnessRun {
    pub model: String,
    /// Digits classified correctly (and attacked).
    pub correct: usize,
    /// Digits looked at.
    pub count: usize,
    pub summaries: Vec<(AttackKind, AttackSummary)>,
}

/// What kind of reply `body` is, for messages.
fn kind(body: &Body) -> String {
    serde_json::to_value(body)
        .ok()
        .and_then(|v| v.get("kind")?.as_str().map(str::to_string))
        .unwrap_or_else(|| "something else".into())
}

/// Checks that `ranges`, in order, are one run over `0..count`.
fn check_cover(ranges: &[Range<usize>], count: usize, what: &str) -> Result<()> {
    let mut next = 0;
    for r in ranges {
        if r.start != next || r.end < r.start {
            return Err(Error::Input(format!(
                "the parts of the {what} do not cover the first {count} digits in order (a part has digits {}..{} after digits up to {next})",
                r.start, r.end
            )));
        }
        next = r.end;
    }
    if next != count {
        return Err(Error::Input(format!(
            "the parts of the {what} cover {next} of its {count} digits"
        )));
    }
    Ok(())
}

/// The digit range of each part of a job over the first `count` held-out digits of one model
/// (each part's model, count and range, `None` for all of them), checked to be one run over all
/// the digits; with that count.
fn part_ranges<'a>(
    parts: impl Iterator<Item = (&'a String, usize, Option<Range<usize>>)>,
    what: &str,
) -> Result<(usize, Vec<Range<usize>>)> {
    let parts: Vec<_> = parts.collect();
    let same: Vec<(&String, usize)> = parts.iter().map(|p| (p.0, p.1)).collect();
    check_same(&same, what)?;
    let count = parts[0].1;
    let ranges: Vec<Range<usize>> = parts
        .iter()
        .map(|p| p.2.clone().unwrap_or(0..p.1))
        .collect();
    check_cover(&ranges, count, what)?;
    Ok((count, ranges))
}

/// Checks that every part answered for the same model and number of digits.
fn check_same(parts: &[(&String, usize)], what: &str) -> Result<()> {
    let (model, count) = *parts
        .first()
        .ok_or_else(|| Error::Input(format!("the {what} has no parts")))?;
    if let Some((m, c)) = parts.iter().find(|(m, c)| *m != model || *c != count) {
        return Err(Error::Input(format!(
            "the parts of the {what} differ: {model} on {count} digits, {m} on {c}"
        )));
    }
    Ok(())
}

/// The held-out evaluation from its parts' replies ([`Body::Evaluated`], in the order of their
/// digits): the correct digits summed; an error if a part answered something else, for another
/// model or count, or if their digits are not one run over all of them.
pub fn merge_evaluations(bodies: Vec<Body>) -> Result<Evaluation> {
    let mut parts = Vec::new();
    for body in bodies {
        match body {
            Body::Evaluated {
                model,
                correct,
                count,
                millis,
                digits,
            } => parts.push((model, correct, count, millis, digits)),
            other => {
                return Err(Error::Input(format!(
                    "a part of the evaluation answered {}",
                    kind(&other)
                )))
            }
        }
    }
    let (count, ranges) =
        part_ranges(parts.iter().map(|p| (&p.0, p.2, p.4.clone())), "evaluation")?;
    if let Some((p, r)) = parts.iter().zip(&ranges).find(|(p, r)| p.1 > r.len()) {
        return Err(Error::Input(format!(
            "a part of the evaluation found {} of its {} digits correct",
            p.1,
            r.len()
        )));
    }
    Ok(Evaluation {
        correct: parts.iter().map(|p| p.1).sum(),
        count,
        millis: parts.iter().map(|p| p.3).fold(0.0, f64::max),
        model: parts.swap_remove(0).0,
    })
}

/// The robustness run from its parts' replies ([`Body::Robustness`] with their sums, in the
/// order of their digits): each attack's summary from the parts' exact sums, equal to the summary
/// of one run over all the digits (but for `ms_per_image`); an error if a part answered something
/// else, for another model or count, without its sums or with other attacks, or if their digits
/// are not one run over all of them.
pub fn merge_robustness(bodies: Vec<Body>) -> Result<RobustnessRun> {
    let mut parts = Vec::new();
    for body in bodies {
        match body {
            Body::Robustness {
                model,
                correct,
                count,
                summaries,
                digits,
                sums,
            } => parts.push((model, correct, count, summaries, digits, sums)),
            other => {
                return Err(Error::Input(format!(
                    "a part of the robustness run answered {}",
                    kind(&other)
                )))
            }
        }
    }
    let (count, ranges) = part_ranges(
        parts.iter().map(|p| (&p.0, p.2, p.4.clone())),
        "robustness run",
    )?;
    let attacks: Vec<AttackKind> = parts[0].3.iter().map(|(k, _)| *k).collect();
    for ((_, correct, _, summaries, _, sums), range) in parts.iter().zip(&ranges) {
        let kinds: Vec<AttackKind> = summaries.iter().map(|(k, _)| *k).collect();
        if kinds != attacks {
            return Err(Error::Input(
                "the parts of the robustness run ran different attacks".into(),
            ));
        }
        if sums.len() != summaries.len() {
            return Err(Error::Input(
                "a part of the robustness run did not send its sums".into(),
            ));
        }
        if *correct > range.len() || sums.iter().any(|s| s.images != *correct) {
            return Err(Error::Input(format!(
                "a part of the robustness run attacked other digits than the {correct} it classified correctly"
            )));
        }
    }
    let summaries = attacks
        .iter()
        .enumerate()
        .map(|(k, &attack)| {
            let part_sums: Vec<&AttackSums> = parts.iter().map(|p| &p.5[k]).collect();
            (attack, AttackSummary::merged(part_sums))
        })
        .collect();
    Ok(RobustnessRun {
        correct: parts.iter().map(|p| p.1).sum(),
        count,
        summaries,
        model: parts.swap_remove(0).0,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::classification::classifier::Architecture;
    use crate::classification::inference::Network;
    use crate::protocol::Reply;
    use candle_core::{DType, Device};

    fn held_out() -> Digits {
        Digits::from_safetensors(&std::fs::read("static/data/mnist-heldout.safetensors").unwrap())
            .unwrap()
    }

    fn classifier(arch: Architecture) -> Classifier {
        let bytes = std::fs::read(format!("static/models/{}.safetensors", arch.name())).unwrap();
        Classifier::from_safetensors(arch, &bytes, DType::F32, &Device::Cpu).unwrap()
    }

    /// A reply as the page receives it: through JSON.
    fn sent(body: Body) -> Body {
        Reply::decode(&Reply { id: 1, body }.encode()).unwrap().body
    }

    #[test]
    fn digits_are_cut_into_even_aligned_runs() {
        for count in [0, 1, 5, 20, 99, 100, 101, 500, 2000] {
            for align in [1, 2, 100] {
                for parts in 1..=9 {
                    let ranges = split_digits(count, parts, align);
                    let blocks = count.div_ceil(align);
                    assert_eq!(ranges.len(), parts.min(blocks).max(1));
                    check_cover(&ranges, count, "test").unwrap();
                    if count > 0 {
                        assert!(ranges.iter().all(|r| !r.is_empty()), "{ranges:?}");
                    }
                    for r in &ranges[..ranges.len() - 1] {
                        assert_eq!(r.end % align, 0, "{ranges:?}");
                    }
                    let sizes: Vec<usize> =
                        ranges.iter().map(|r| r.len().div_ceil(align)).collect();
                    assert!(sizes.iter().max().unwrap() - sizes.iter().min().unwrap() <= 1);
                }
            }
        }
        assert_eq!(
            split_digits(2000, 2, EVALUATE_BATCH),
            vec![0..1000, 1000..2000]
        );
        assert_eq!(split_digits(20, 3, 1), vec![0..6, 6..13, 13..20]);
        assert_eq!(split_digits(0, 4, 1), vec![0..0]);
        // A part's digits are checked against its job, then cut to the digits there are.
        assert_eq!(part_digits(None, 50, 2000).unwrap(), 0..50);
        assert_eq!(part_digits(Some(10..20), 50, 2000).unwrap(), 10..20);
        assert_eq!(part_digits(Some(10..3000), 3000, 2000).unwrap(), 10..2000);
        let e = part_digits(Some(10..60), 50, 2000).unwrap_err().to_string();
        assert!(e.contains("10..60") && e.contains("first 50"), "{e}");
        #[allow(clippy::reversed_empty_ranges)]
        let backwards = part_digits(Some(20..10), 50, 2000);
        assert!(backwards.is_err());
        // Batches start at multiples of the batch size whatever the part.
        assert_eq!(
            evaluation_batches(150..420)
                .iter()
                .map(|b| (b[0], b.len()))
                .collect::<Vec<_>>(),
            vec![(150, 50), (200, 100), (300, 100), (400, 20)]
        );
        assert!(evaluation_batches(7..7).is_empty());
        let whole: Vec<usize> = evaluation_batches(0..2000).concat();
        assert_eq!(whole, (0..2000).collect::<Vec<_>>());
    }

    #[test]
    fn messages_without_parts_still_decode() {
        use crate::protocol::{Job, Request};
        let job = |text: &str| {
            Request::decode(&format!("{{\"id\":1,\"job\":{text}}}"))
                .unwrap()
                .job
        };
        assert_eq!(
            job(r#"{"kind":"evaluate","model":"cnn","count":10}"#),
            Job::Evaluate {
                model: "cnn".into(),
                count: 10,
                digits: None
            }
        );
        assert_eq!(
            job(r#"{"kind":"robustness","model":"cnn","count":10}"#),
            Job::Robustness {
                model: "cnn".into(),
                count: 10,
                digits: None
            }
        );
        let part = Job::Robustness {
            model: "cnn".into(),
            count: 10,
            digits: Some(3..7),
        };
        let r = Request { id: 2, job: part };
        assert_eq!(Request::decode(&r.encode()).unwrap(), r);
        let body = |text: &str| {
            Reply::decode(&format!("{{\"id\":1,\"body\":{text}}}"))
                .unwrap()
                .body
        };
        let old = body(r#"{"kind":"evaluated","model":"cnn","correct":9,"count":10,"millis":2.0}"#);
        assert_eq!(merge_evaluations(vec![old]).unwrap().correct, 9);
        // An old robustness reply has no sums: it cannot be merged, and says so.
        let old = body(
            r#"{"kind":"robustness","model":"cnn","correct":0,"count":0,"summaries":[["fgsm",{"mean_rho":0.0,"success_rate":0.0,"mean_iterations":0.0,"ms_per_image":0.0,"images":0}]]}"#,
        );
        let e = merge_robustness(vec![old]).unwrap_err().to_string();
        assert!(e.contains("sums"), "{e}");
    }

    #[test]
    fn the_split_evaluation_counts_what_one_run_counts() {
        let digits = held_out();
        let model = classifier(Architecture::Cnn);
        // One run, as the worker did before the pool: batches of 100 from digit 0.
        let all: Vec<usize> = (0..2000).collect();
        let one: usize = all
            .chunks(EVALUATE_BATCH)
            .map(|c| count_correct(&model, &digits, c).unwrap())
            .sum();
        assert!(one > 1900, "{one}");
        for workers in [1, 2, 3, 8] {
            let bodies: Vec<Body> = split_digits(2000, workers, EVALUATE_BATCH)
                .into_iter()
                .map(|r| {
                    sent(Body::Evaluated {
                        model: "cnn".into(),
                        correct: count_correct_in(&model, &digits, r.clone()).unwrap(),
                        count: 2000,
                        millis: 10.0 * (r.start as f64 + 1.0),
                        digits: Some(r),
                    })
                })
                .collect();
            assert_eq!(bodies.len(), workers);
            let e = merge_evaluations(bodies).unwrap();
            assert_eq!(
                (e.model.as_str(), e.correct, e.count),
                ("cnn", one, 2000),
                "{workers} workers"
            );
        }
        // Parts that do not fit together are rejected, with a reason.
        let part = |model: &str, correct, count, digits: Option<Range<usize>>| Body::Evaluated {
            model: model.into(),
            correct,
            count,
            millis: 1.0,
            digits,
        };
        let ok = merge_evaluations(vec![part("cnn", 5, 10, None)]).unwrap();
        assert_eq!((ok.correct, ok.count), (5, 10));
        for (bodies, words) in [
            (vec![], "no parts"),
            (
                vec![
                    part("cnn", 5, 10, Some(0..5)),
                    part("mlp", 5, 10, Some(5..10)),
                ],
                "differ",
            ),
            (
                vec![
                    part("cnn", 5, 10, Some(0..5)),
                    part("cnn", 5, 20, Some(5..10)),
                ],
                "differ",
            ),
            (vec![part("cnn", 5, 10, Some(0..5))], "cover 5 of its 10"),
            (
                vec![
                    part("cnn", 5, 10, Some(0..6)),
                    part("cnn", 4, 10, Some(5..10)),
                ],
                "in order",
            ),
            (
                vec![
                    part("cnn", 4, 10, Some(5..10)),
                    part("cnn", 5, 10, Some(0..5)),
                ],
                "in order",
            ),
            (vec![part("cnn", 11, 10, None)], "11 of its 10"),
            (vec![Body::Cancelled], "answered cancelled"),
        ] {
            let e = merge_evaluations(bodies).unwrap_err().to_string();
            assert!(e.contains(words), "{e} (expected {words})");
        }
    }

    /// The numbers the page shows of each summary (all but the timing).
    fn shown(
        summaries: &[(AttackKind, AttackSummary)],
    ) -> Vec<(AttackKind, [u64; 3], usize, Option<u64>)> {
        summaries
            .iter()
            .map(|(k, s)| {
                (
                    *k,
                    [
                        s.mean_rho.to_bits(),
                        s.success_rate.to_bits(),
                        s.mean_iterations.to_bits(),
                    ],
                    s.images,
                    s.mean_rho_centred.map(f64::to_bits),
                )
            })
            .collect()
    }

    fn clock() -> f64 {
        0.5
    }

    #[test]
    fn the_split_robustness_run_summarises_what_one_run_does() {
        let digits = held_out();
        for (arch, count, splits) in [
            (Architecture::Linear, 16, &[1usize, 2, 3, 5, 16][..]),
            (Architecture::Cnn, 6, &[2][..]),
        ] {
            let network = Network::from_classifier(&classifier(arch)).unwrap();
            let name = arch.name();
            // One run over all the digits, sequentially.
            let (correct, whole) = robustness_part(&network, &digits, 0..count, &clock).unwrap();
            assert!(correct > count / 2, "{name}: {correct} of {count}");
            assert!(whole.iter().all(|(_, s)| s.images == correct));
            for &workers in splits {
                let bodies: Vec<Body> = split_digits(count, workers, 1)
                    .into_iter()
                    .map(|r| {
                        let (c, s) = robustness_part(&network, &digits, r.clone(), &clock).unwrap();
                        sent(robustness_reply(name, count, r, c, s))
                    })
                    .collect();
                assert_eq!(bodies.len(), workers);
                let run = merge_robustness(bodies).unwrap();
                assert_eq!(
                    (run.model.as_str(), run.correct, run.count),
                    (name, correct, count)
                );
                assert_eq!(
                    shown(&run.summaries),
                    shown(&whole),
                    "{name}, {workers} workers"
                );
            }
        }
        // Parts that do not fit together are rejected, with a reason.
        let network = Network::from_classifier(&classifier(Architecture::Linear)).unwrap();
        let part = |r: Range<usize>| {
            let (c, s) = robustness_part(&network, &digits, r.clone(), &clock).unwrap();
            robustness_reply("linear", 4, r, c, s)
        };
        let (a, b) = (part(0..2), part(2..4));
        assert!(merge_robustness(vec![a.clone(), b.clone()]).is_ok());
        let without_sums = match b.clone() {
            Body::Robustness {
                model,
                correct,
                count,
                summaries,
                digits,
                ..
            } => Body::Robustness {
                model,
                correct,
                count,
                summaries,
                digits,
                sums: Vec::new(),
            },
            _ => unreachable!(),
        };
        let other_model = match b.clone() {
            Body::Robustness {
                correct,
                count,
                summaries,
                digits,
                sums,
                ..
            } => Body::Robustness {
                model: "cnn".into(),
                correct,
                count,
                summaries,
                digits,
                sums,
            },
            _ => unreachable!(),
        };
        let fewer_attacks = match b.clone() {
            Body::Robustness {
                model,
                correct,
                count,
                mut summaries,
                digits,
                mut sums,
            } => {
                summaries.pop();
                sums.pop();
                Body::Robustness {
                    model,
                    correct,
                    count,
                    summaries,
                    digits,
                    sums,
                }
            }
            _ => unreachable!(),
        };
        for (bodies, words) in [
            (vec![], "no parts"),
            (vec![a.clone()], "cover 2 of its 4"),
            (vec![b.clone(), a.clone()], "in order"),
            (vec![a.clone(), a.clone()], "in order"),
            (vec![a.clone(), without_sums], "did not send its sums"),
            (vec![a.clone(), other_model], "differ"),
            (vec![a.clone(), fewer_attacks], "different attacks"),
            (
                vec![
                    a.clone(),
                    Body::Failed {
                        message: "x".into(),
                    },
                ],
                "answered failed",
            ),
        ] {
            let e = merge_robustness(bodies).unwrap_err().to_string();
            assert!(e.contains(words), "{e} (expected {words})");
        }
    }
}
