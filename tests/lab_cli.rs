//! The command line of `lab` (clap): `--help` names every subcommand, an unknown subcommand or
//! flag is refused with a clear error and a non-zero exit, and each subcommand's help describes
//! its flags. Runs no work: help and parse errors only.
#![cfg(not(target_arch = "wasm32"))]

use std::process::{Command, Output};

/// Every subcommand of `lab`, as the README and scripts/ call them.
const SUBCOMMANDS: [&str; 23] = [
    "prepare-mnist",
    "train",
    "evaluate",
    "linearity",
    "robustness",
    "bench-attacks",
    "firenet-report",
    "mri-setting",
    "bench-engine",
    "bench-firenet",
    "firenet-peers",
    "train-net",
    "bench-instability",
    "universal",
    "sampling-sweep",
    "bench-universal",
    "kernel-detail-report",
    "tradeoff",
    "instability-report",
    "warm-start-report",
    "explanations",
    "false-structures",
    "non-robust-features",
];

fn lab(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_lab"))
        .args(args)
        .output()
        .expect("lab runs")
}

fn text(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr)
}

#[test]
fn help_names_every_subcommand() {
    let out = lab(&["--help"]);
    assert!(out.status.success(), "{}", text(&out));
    let help = text(&out);
    for name in SUBCOMMANDS {
        assert!(
            help.lines()
                .any(|l| l.trim_start().starts_with(&format!("{name} "))),
            "lab --help does not list {name} with a description:\n{help}"
        );
    }
}

#[test]
fn an_unknown_subcommand_is_refused() {
    let out = lab(&["no-such-command"]);
    assert!(!out.status.success());
    assert!(text(&out).contains("no-such-command"), "{}", text(&out));
}

#[test]
fn an_unknown_flag_is_refused() {
    let out = lab(&["evaluate", "--no-such-flag"]);
    assert!(!out.status.success());
    assert!(text(&out).contains("--no-such-flag"), "{}", text(&out));
}

#[test]
fn no_subcommand_is_refused() {
    let out = lab(&[]);
    assert!(!out.status.success());
}

#[test]
fn subcommand_help_describes_the_flags() {
    let out = lab(&["tradeoff", "--help"]);
    assert!(out.status.success(), "{}", text(&out));
    let help = text(&out);
    for flag in ["--nets", "--points", "--add", "--dir", "--out"] {
        assert!(help.contains(flag), "tradeoff --help lacks {flag}:\n{help}");
    }
    assert!(help.contains("cascade-128,cascade-128-kernel"));
    let out = lab(&["train-net", "--help"]);
    let help = text(&out);
    for flag in [
        "--name",
        "--dir",
        "--steps",
        "--rate",
        "--cascades",
        "--layers",
        "--channels",
        "--seed",
        "--batch",
        "--lr",
        "--lesions",
        "--init",
        "--noise",
        "--kernel-detail",
    ] {
        assert!(
            help.contains(flag),
            "train-net --help lacks {flag}:\n{help}"
        );
    }
}

#[test]
fn a_bad_value_is_refused() {
    let out = lab(&["universal", "--p", "3"]);
    assert!(!out.status.success());
    assert!(text(&out).contains("--p"), "{}", text(&out));
    let out = lab(&["train-net", "--steps", "many"]);
    assert!(!out.status.success());
    assert!(text(&out).contains("many"), "{}", text(&out));
}
