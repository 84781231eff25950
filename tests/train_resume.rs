//! `lab train-net` stopped at a checkpoint and run again ends with exactly the weights of an
//! uninterrupted run (a tiny cascade, a few steps, both splits' code paths at 64²).
#![cfg(not(target_arch = "wasm32"))]

use std::process::Command;

fn train(dir: &std::path::Path, extra: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_lab"))
        .args([
            "train-net",
            "--name",
            "tiny",
            "--dir",
            dir.to_str().unwrap(),
            "--steps",
            "6",
            "--cascades",
            "1",
            "--layers",
            "2",
            "--channels",
            "4",
            "--batch",
            "1",
            "--checkpoint-every",
            "0",
            "--split",
            "separated",
            "--pattern",
            "variable_density",
            "--rate",
            "0.25",
        ])
        .args(extra)
        .output()
        .expect("lab runs");
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{text}");
    text
}

#[test]
fn a_training_run_stopped_and_resumed_gives_the_same_weights() {
    let root = std::env::temp_dir().join(format!("barriers-train-resume-{}", std::process::id()));
    let (straight, split) = (root.join("straight"), root.join("split"));
    train(&straight, &[]);
    let first = train(&split, &["--stop-after", "4"]);
    assert!(first.contains("stopped after step 4 of 6"), "{first}");
    let checkpoint = split.join("tiny.checkpoint.safetensors");
    assert!(checkpoint.exists());
    assert!(!split.join("tiny.safetensors").exists());
    let second = train(&split, &[]);
    assert!(second.contains("resuming from"), "{second}");
    assert!(
        !checkpoint.exists(),
        "the finished run removes its checkpoint"
    );
    let weights = |d: &std::path::Path| std::fs::read(d.join("tiny.safetensors")).unwrap();
    assert_eq!(weights(&straight), weights(&split));
    let card: serde_json::Value =
        serde_json::from_slice(&std::fs::read(split.join("tiny.json")).unwrap()).unwrap();
    assert_eq!(card["split"], "separated");
    assert_eq!(card["held_out"]["slices"], 9);
    assert_eq!(card["training"]["history"][0][0], 0);
    // Another run's checkpoint is refused rather than silently mixed in.
    train(&split, &["--stop-after", "2"]);
    let out = Command::new(env!("CARGO_BIN_EXE_lab"))
        .args([
            "train-net",
            "--name",
            "tiny",
            "--dir",
            split.to_str().unwrap(),
            "--steps",
            "7",
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--fresh"));
    std::fs::remove_dir_all(&root).ok();
}
