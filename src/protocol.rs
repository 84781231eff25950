//! Messages between the page (Yew app) and the compute worker.
//!
//! The page sends [`Request`]s, each with an id it chose; the worker answers with [`Reply`]s
//! carrying the same id: any number of [`Body::Progress`], then exactly one final body
//! (a result, [`Body::Failed`] or [`Body::Cancelled`]). [`Job::Cancel`] asks the worker to stop the
//! job with the given id at its next check point. Messages travel as JSON strings.

use crate::card::ModelCard;
use crate::classification::attack::{AttackKind, AttackOutcome};
use crate::classification::classifier::Prediction;
use crate::classification::robustness::AttackSummary;
use crate::classification::transfer::TransferEntry;
use crate::classification::universal::{Ball, PassReport, Universal};
use crate::mri::reconstruction::Quality;
use crate::mri::sampling::Pattern;
use crate::{Error, Result};
use serde::{Deserialize, Serialize};

/// A request from the page.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Request {
    pub id: u64,
    pub job: Job,
}

/// The work the worker can do.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Job {
    /// Fetch and check a model's weights and card; answered by [`Body::ModelReady`].
    LoadModel { model: String },
    /// Classify one 28×28 image (784 intensities in [0, 1]); answered by [`Body::Classified`].
    Classify { model: String, image: Vec<f32> },
    /// Measure a model's accuracy on the first `count` held-out digits, reporting progress;
    /// answered by [`Body::Evaluated`].
    Evaluate {
        model: String,
        count: usize,
        /// A part of the job for the worker pool: these of the `count` digits only
        /// ([`crate::classification::parts`]); `None`, all of them.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        digits: Option<std::ops::Range<usize>>,
    },
    /// Attack one image (784 intensities) with `attack`; answered by [`Body::Attacked`].
    Attack {
        model: String,
        image: Vec<f32>,
        attack: AttackKind,
        seed: u64,
    },
    /// Attack the first `count` held-out digits with every attack, reporting progress;
    /// answered by [`Body::Robustness`].
    Robustness {
        model: String,
        count: usize,
        /// A part of the job for the worker pool: these of the `count` digits only
        /// ([`crate::classification::parts`]); `None`, all of them.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        digits: Option<std::ops::Range<usize>>,
    },
    /// Reconstruct an MRI image (sampling, zero-filling, FIRENET) with per-layer outputs kept
    /// for [`Job::FirenetLayer`]; answered by [`Body::Reconstructed`].
    Reconstruct(ReconstructJob),
    /// The FIRENET estimate after `layer` layers of reconstruction `run` (the id of its
    /// [`Job::Reconstruct`]); answered by [`Body::FirenetLayer`].
    FirenetLayer { run: u64, layer: usize },
    /// Decode an uploaded image file (a `data:` URL, base64) into a grey `side × side` image kept
    /// in the worker as [`MriImage::Upload`] (replacing any earlier upload, at any size); answered
    /// by [`Body::Uploaded`]. The page keeps the original file and sends it again for another
    /// size, after a reload and to a restarted worker.
    Upload { data_url: String, side: usize },
    /// The held-out brain slices available at `side`; answered by [`Body::BrainCatalog`].
    BrainCatalog { side: usize },
    /// The hallucinations figure: a shipped network, FIRENET and the network followed by
    /// FIRENET on `x + t·r_j`, `j = 0…3`;
    /// answered by [`Body::Hallucinated`] after [`Body::Progress`] per pass.
    Hallucinate(HallucinateJob),
    /// The fixed-norm worst-case search of the instability report, live, against a shipped
    /// network and FIRENET on a demo slice (`seed` as in the report), with a progress report per
    /// iteration; answered by [`Body::InstabilitySearched`].
    InstabilitySearch {
        net: String,
        slice: String,
        rel_r: f64,
        iterations: usize,
        seed: u64,
        /// The engine asked for (`?engine=` in the page's address).
        #[serde(default)]
        engine: EngineChoice,
    },
    /// A universal perturbation of a classifier: the shipped one, or computed live on the first
    /// `count` training digits with progress per image ([`Body::UniversalProgress`]); then its
    /// fooling rate on the held-out digits beside the random control; answered by
    /// [`Body::Universal`].
    Universal(UniversalJob),
    /// The transfer table for `ball`, or a part of it for the worker pool: every model's
    /// universal perturbation (shipped, or recomputed live with the shipped settings) on every
    /// model's held-out digits, with [`Body::Progress`] in the units of
    /// [`crate::classification::transfer::part_units`]; answered by [`Body::Transfer`]
    /// (merged by [`TransferResult::merge`]).
    Transfer {
        ball: Ball,
        live: bool,
        /// Only these held-out digits (a part of
        /// [`crate::classification::transfer::split_digits`]); all when absent.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        digits: Option<std::ops::Range<usize>>,
        /// Only the rows of these models (ascending indices, a part of
        /// [`crate::classification::transfer::split_rows`]); all when empty.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        rows: Vec<usize>,
    },
    /// DeepFool's ℓ₂ `r` on `source` for held-out digit `digit`, applied to every model;
    /// answered by [`Body::ImageTransfer`].
    ImageTransfer { source: String, digit: usize },
    /// The smallest label-changing square patch (sides `1 … max_size`, black or white, fewest
    /// pixels changed, then smallest `‖x' − x‖₂`) of one image (784 intensities in [0, 1]),
    /// with [`Body::Progress`] per row of positions; answered by [`Body::SmallestPatch`].
    SmallestPatch {
        model: String,
        image: Vec<f32>,
        max_size: usize,
        /// A part of the job for the worker pool: these sides only (increasing, within
        /// `1 … max_size`; [`crate::classification::structural::split_sizes`]); empty, all.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        sizes: Vec<usize>,
    },
    /// The manipulation of an explanation ([`crate::classification::explanation`]): an
    /// imperceptible change of one image (784 intensities in [0, 1]) that keeps the model's
    /// output and moves its saliency map towards a target, with [`Body::Progress`] per Adam
    /// step; answered by [`Body::Explained`].
    Explain(ExplainJob),
    /// A detail added to a held-out slice, `x′ = x + t·z_N` (the troublesome kernel) or
    /// `x′ = x + z` (structural details), measured with a shipped network's sampling and
    /// reconstructed from `Ax` and `Ax′` by zero-filling, FIRENET and the network, with
    /// [`Body::Progress`] per reconstruction; answered by [`Body::Kernel`].
    Kernel(KernelJob),
    /// The sampling sweep (more samples can make it worse): the shipped networks `nets`
    /// (weights fixed), FIRENET and zero-filling at every rate through nested masks, mean PSNR
    /// over `slices` held-out slices, with [`Body::Progress`] after each slice (`done =
    /// k·slices + j + 1` after slice `j` of rate `k`, counting from 0); rates computed before
    /// come from the worker's cache; answered by
    /// [`Body::Swept`].
    Sweep(SweepJob),
    /// One held-out slice reconstructed at one rate by every method of a sweep; answered by
    /// [`Body::SweepSlice`].
    SweepSlice(SweepSliceJob),
    /// The engine benchmark ([`crate::engine::bench`]) in this browser: the CPU and the GPU
    /// engine on the MRI half's hot paths, `repeats` times each (3 to 50), with
    /// [`Body::Progress`] per case; answered by [`Body::EngineBench`] (an error without a
    /// WebGPU adapter). For `scripts/bench-engine.sh`; no page asks for it.
    BenchEngine { repeats: usize },
    /// Stop the job with this id.
    Cancel { target: u64 },
}

/// What the kernel-awareness and structural-details pages ask for.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct KernelJob {
    /// A shipped reconstruction network: it fixes the sampling `A` for every method.
    pub net: String,
    /// A brain slice the network holds out under its split (`axial 20`).
    pub slice: String,
    /// The detail `z`, `side²` values at the network's side (composed on the page: text,
    /// lesion or drawing).
    pub detail: Vec<f32>,
    /// `Some(t)`: add `t·z_N`, the detail's kernel component; `None`: add `z` itself.
    pub t: Option<f64>,
    /// The engine asked for (`?engine=` in the page's address).
    #[serde(default)]
    pub engine: EngineChoice,
}

/// One method's reconstructions of `Ax` and `Ax′` and what they show.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct KernelMethod {
    /// `zero-filling`, `firenet`, `net` or `net+firenet`.
    pub key: String,
    pub title: String,
    /// `|R(Ax)|`.
    pub from_x: Picture,
    /// `|R(Ax′)|`.
    pub from_x_prime: Picture,
    /// `|R(Ax′) − x′|`, on the figure's common error scale.
    pub error_map: Picture,
    /// The two error terms against `t‖z_N‖` (for `t`).
    pub bound: Option<crate::mri::kernel::BoundCheck>,
    /// Recovered fraction and errors inside the detail's region.
    pub recovery: crate::mri::details::Recovery,
    /// PSNR of `|R(Ax′)|` against `|x′|` (dB).
    pub psnr: f64,
    /// Mean time of one reconstruction in this browser.
    pub millis: f64,
}

/// The answer to a [`KernelJob`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct KernelResult {
    pub net: String,
    pub slice: String,
    pub t: Option<f64>,
    pub side: usize,
    /// `|x|`.
    pub truth: Picture,
    /// `|x′|`.
    pub perturbed: Picture,
    /// The detail `z`, signed, mid-grey for 0, `±detail_scale` full scale.
    pub detail: Picture,
    /// What was added (`t·z_N` or `z`), signed real part, on the same scale as `detail`.
    pub added: Picture,
    /// `|t·z_N|` or `|z|` on the same scale.
    pub added_magnitude: Picture,
    pub detail_scale: f64,
    /// The sampling mask (white: sampled), k-space centred.
    pub mask: Picture,
    /// `log(1 + |F x′|)`, normalised, k-space centred, unsampled frequencies dimmed.
    pub kspace: Picture,
    /// The detail's box (for the magnified views).
    pub region: crate::mri::details::Region,
    /// `‖z‖₂`.
    pub detail_norm: f64,
    /// `‖z_N‖₂ / ‖z‖₂`: the share of the detail the sampling cannot see.
    pub kernel_share: f64,
    /// `‖Az‖² / ‖z‖²`.
    pub visible: f64,
    /// `‖x − x′‖₂`.
    pub distance: f64,
    /// `‖Ax − Ax′‖₂` and `‖Ax‖₂`.
    pub measurement_gap: f64,
    pub measurement_norm: f64,
    /// `|R(Ax′) − x′|` that maps to white in the error maps.
    pub error_scale: f64,
    /// The sampling rate of the network's mask.
    pub rate: f64,
    /// The pattern of the network's mask.
    pub pattern: crate::mri::sampling::Pattern,
    pub methods: Vec<KernelMethod>,
    /// What computed the reconstructions.
    #[serde(default)]
    pub computed: Computed,
}

/// What the sampling-sweep page asks for.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SweepJob {
    /// Shipped reconstruction networks (`static/models/<net>.json`), in the curves' order.
    pub nets: Vec<String>,
    /// Shares of k-space, increasing ([`crate::mri::learned::sweep::check_rates`]).
    pub rates: Vec<f64>,
    /// Held-out slices each mean is taken over ([`crate::mri::learned::sweep::spread`]).
    pub slices: usize,
    /// The engine asked for (`?engine=` in the page's address).
    #[serde(default)]
    pub engine: EngineChoice,
    /// Rates of these networks and slices computed before ([`Body::SweptRate`]), which the
    /// worker takes as computed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub known: Vec<crate::mri::learned::sweep::RatePoint>,
}

/// A sampling sweep computed in the worker.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SweepResult {
    pub job: SweepJob,
    pub report: crate::mri::learned::sweep::SweepReport,
    /// Time of the whole job in this browser's worker, milliseconds.
    pub millis: f64,
    /// Time of each rate, milliseconds (0 for a rate the worker had computed before).
    pub rate_millis: Vec<f64>,
    /// Rates taken from the worker's cache.
    pub cached: usize,
    /// What computed the rates computed now (time per slice and rate).
    #[serde(default)]
    pub computed: Computed,
}

impl ReconstructJob {
    /// The experiment's setting besides the image: the sampling, the wavelet and FIRENET's
    /// parameters (the worker and `lab firenet-peers` build the page's experiment from it).
    pub fn setup(&self) -> crate::Result<crate::mri::reconstruction::Setup> {
        use crate::mri::firenet::Firenet;
        Ok(crate::mri::reconstruction::Setup {
            pattern: self.pattern,
            rate: self.rate,
            noise: self.noise,
            seed: self.seed,
            wavelet: crate::mri::wavelet::Wavelet::from_name(&self.wavelet)?,
            levels: None,
            firenet: Firenet {
                lambda: self.lambda,
                blocks: self.blocks,
                layers_per_block: self.layers_per_block,
                ..Firenet::default()
            },
        })
    }
}

impl SweepResult {
    /// The sweep `job` from the results of its parts (the same job over parts of its rates,
    /// [`crate::mri::learned::sweep::split_rates`], run side by side): the report merged in
    /// the job's order, each rate's time from its part, the time of the slowest part (they ran
    /// at once), and the rates the parts had cached.
    pub fn merge(job: SweepJob, parts: Vec<SweepResult>) -> crate::Result<SweepResult> {
        use crate::mri::learned::sweep::SweepReport;
        let reports: Vec<SweepReport> = parts.iter().map(|p| p.report.clone()).collect();
        let command = format!(
            "computed in this browser by {} workers: nets {}, {} rates, {} held-out slices",
            parts.len(),
            job.nets.join(","),
            job.rates.len(),
            reports.first().map_or(0, |r| r.slices)
        );
        let report = SweepReport::merge(&reports, &job.rates, command)?;
        let rate_millis = job
            .rates
            .iter()
            .map(|r| {
                parts
                    .iter()
                    .find_map(|p| {
                        let k = p.job.rates.iter().position(|s| s == r)?;
                        p.rate_millis.get(k).copied()
                    })
                    .unwrap_or(0.0)
            })
            .collect();
        Ok(SweepResult {
            millis: parts.iter().map(|p| p.millis).fold(0.0, f64::max),
            cached: parts.iter().map(|p| p.cached).sum(),
            computed: parts
                .iter()
                .find(|p| p.cached < p.job.rates.len())
                .or(parts.first())
                .map(|p| p.computed.clone())
                .unwrap_or_default(),
            job,
            report,
            rate_millis,
        })
    }
}

/// One held-out slice at one rate, by every method of a sweep.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SweepSliceJob {
    pub nets: Vec<String>,
    pub rate: f64,
    /// Index into the held-out slices.
    pub slice: usize,
    /// The engine asked for (`?engine=` in the page's address).
    #[serde(default)]
    pub engine: EngineChoice,
}

/// One method's reconstruction of a [`SweepSliceJob`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SweepSliceMethod {
    /// `zero-filled`, `firenet` or a network's name.
    pub key: String,
    pub title: String,
    pub picture: Picture,
    pub psnr: f64,
}

/// The answer to a [`SweepSliceJob`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SweepSliceResult {
    pub job: SweepSliceJob,
    /// The slice's name (`coronal 10`).
    pub name: String,
    /// Share of k-space sampled.
    pub sampled: f64,
    pub truth: Picture,
    pub methods: Vec<SweepSliceMethod>,
    /// What computed the reconstructions.
    #[serde(default)]
    pub computed: Computed,
}

/// What the universal perturbations demo asks for.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct UniversalJob {
    pub model: String,
    /// `false`: the shipped perturbation for `settings.ball` (its own settings, from the report).
    pub live: bool,
    pub settings: Universal,
    /// `|X|`: the first training digits.
    pub count: usize,
    /// Held-out digits shown in the grid.
    pub grid: usize,
}

/// One held-out digit of the grid: its labels without and with `v`, and with the control.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct GridDigit {
    pub index: usize,
    pub clean: usize,
    pub perturbed: usize,
    pub random: usize,
}

/// A universal perturbation and what it does.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct UniversalResult {
    pub model: String,
    pub live: bool,
    pub settings: Universal,
    pub count: usize,
    /// `v` (784 values).
    pub v: Vec<f32>,
    /// The control: Gaussian noise of the same `‖·‖_p`.
    pub random: Vec<f32>,
    pub passes: Vec<PassReport>,
    pub held_out_fooling: f64,
    pub random_fooling: f64,
    pub held_out_count: usize,
    pub norm2: f64,
    pub norm_inf: f64,
    pub grid: Vec<GridDigit>,
    /// Time of the search in this browser (0 for a shipped one), milliseconds.
    pub search_millis: f64,
    /// For a live search with the shipped settings: `max|v − v_shipped| / max|v_shipped|`.
    pub shipped_difference: Option<f64>,
}

/// A transfer table (or a part of one) as computed in the worker.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TransferResult {
    pub ball: Ball,
    pub live: bool,
    /// Every model, in the columns' order.
    pub models: Vec<String>,
    /// Rows: computed on (the models of [`TransferResult::rows`]); columns: evaluated on; each
    /// cell is its count in [`TransferResult::fooled`] over the digits counted.
    pub fooling: Vec<Vec<f64>>,
    /// `ξ` of each row's perturbation.
    pub xi: Vec<f64>,
    /// All the held-out digits (of which [`TransferResult::digits`] were counted).
    pub held_out_count: usize,
    /// Time for the searches (live only) and for filling the table, milliseconds (of the
    /// slowest part, for a table merged from parts that ran side by side).
    pub search_millis: f64,
    pub table_millis: f64,
    /// How many of the digits counted each row's perturbation fools each model on.
    #[serde(default)]
    pub fooled: Vec<Vec<usize>>,
    /// The held-out digits counted: `0..held_out_count` for a whole table.
    #[serde(default)]
    pub digits: std::ops::Range<usize>,
    /// Indices in [`TransferResult::models`] of the rows: every model for a whole table.
    #[serde(default)]
    pub rows: Vec<usize>,
}

impl TransferResult {
    /// The whole table from its parts (the same job over parts of the held-out digits or of
    /// the rows, run side by side): for each row, the parts that computed it must count the
    /// held-out digits exactly once between them; their counts are added and divided once by
    /// the number of held-out digits, so that the rates are those of the table computed at once,
    /// bit for bit. The times are the slowest part's. Parts of another `p`, other models or
    /// other held-out digits, ragged or overlapping parts and missing rows or digits are errors.
    pub fn merge(parts: Vec<TransferResult>) -> Result<TransferResult> {
        let first = parts
            .first()
            .ok_or_else(|| Error::Input("no parts of the transfer table to merge".into()))?;
        let (n, h) = (first.models.len(), first.held_out_count);
        if n == 0 || h == 0 {
            return Err(Error::Input(
                "a part of the transfer table has no models or no held-out digits".into(),
            ));
        }
        for p in &parts {
            if p.ball != first.ball
                || p.live != first.live
                || p.models != first.models
                || p.held_out_count != h
            {
                return Err(Error::Input(
                    "the parts of the transfer table differ in p, models or held-out digits".into(),
                ));
            }
            let (d, rows) = (&p.digits, &p.rows);
            if d.start >= d.end || d.end > h {
                return Err(Error::Input(format!(
                    "a part of the transfer table counted the digits {}..{} of {h}",
                    d.start, d.end
                )));
            }
            if rows.is_empty()
                || rows.iter().any(|&r| r >= n)
                || rows.windows(2).any(|w| w[0] >= w[1])
                || p.fooled.len() != rows.len()
                || p.xi.len() != rows.len()
                || p.fooled
                    .iter()
                    .any(|row| row.len() != n || row.iter().any(|&f| f > d.len()))
            {
                return Err(Error::Input(
                    "a part of the transfer table is ragged or has no counts".into(),
                ));
            }
        }
        let mut fooled = vec![vec![0usize; n]; n];
        let mut xi = vec![0.0; n];
        for (i, name) in first.models.iter().enumerate() {
            let mut pieces: Vec<(&std::ops::Range<usize>, &Vec<usize>, f64)> = parts
                .iter()
                .filter_map(|p| {
                    let k = p.rows.iter().position(|&r| r == i)?;
                    Some((&p.digits, &p.fooled[k], p.xi[k]))
                })
                .collect();
            pieces.sort_by_key(|(d, _, _)| d.start);
            let Some(&(_, _, row_xi)) = pieces.first() else {
                return Err(Error::Input(format!(
                    "no part of the transfer table computed the row of '{name}'"
                )));
            };
            let mut next = 0;
            for (d, counts, x) in pieces {
                if d.start != next || x.to_bits() != row_xi.to_bits() {
                    return Err(Error::Input(format!(
                        "the parts of the row of '{name}' do not count the held-out digits once each with one ξ"
                    )));
                }
                next = d.end;
                for (sum, &c) in fooled[i].iter_mut().zip(counts) {
                    *sum += c;
                }
            }
            if next != h {
                return Err(Error::Input(format!(
                    "the parts of the row of '{name}' count {next} of the {h} held-out digits"
                )));
            }
            xi[i] = row_xi;
        }
        let slowest = |f: fn(&TransferResult) -> f64| parts.iter().map(f).fold(0.0, f64::max);
        Ok(TransferResult {
            ball: first.ball,
            live: first.live,
            models: first.models.clone(),
            fooling: crate::classification::transfer::fooling_rates(&fooled, h),
            xi,
            held_out_count: h,
            search_millis: slowest(|p| p.search_millis),
            table_millis: slowest(|p| p.table_millis),
            fooled,
            digits: 0..h,
            rows: (0..n).collect(),
        })
    }
}

/// What the hallucinations demo asks for.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HallucinateJob {
    /// A shipped reconstruction network (`static/models/<net>.json`).
    pub net: String,
    /// A demo slice of the instability report (`axial 42`).
    pub slice: String,
    /// `t` in `x + t·r_j`.
    pub strength: f64,
    /// Replace every `r_j` by Gaussian noise of the same norm.
    pub gaussian: bool,
    /// The engine asked for (`?engine=` in the page's address).
    #[serde(default)]
    pub engine: EngineChoice,
}

/// One column of the figure: `x + t·r_j` and what a method made of it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HallucinationColumn {
    /// `|x + t·r_j|` (clamped to [0, 1] for display).
    pub input: Picture,
    /// `|Ψ(A(x + t·r_j))|`.
    pub output: Picture,
    /// `|Ψ(A(x + t·r_j))| − |Ψ(Ax)|`, mid-grey for 0, on the figure's common scale.
    pub change: Picture,
    /// `‖t·r_j‖/‖x‖`.
    pub rel_r: f64,
    /// `‖Ψ(A(x + t·r_j)) − Ψ(Ax)‖/‖t·r_j‖`.
    pub kappa: f64,
    /// `‖Ψ(A(x + t·r_j)) − x‖/‖x‖`.
    pub error: f64,
    /// Largest share of the squared change in one window, and that window (row, column, side).
    pub share: f64,
    pub window: [usize; 3],
}

/// One method's row.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HallucinationRow {
    /// `net`, `firenet` or `warm` (the network followed by FIRENET from its output).
    pub method: String,
    pub title: String,
    pub columns: Vec<HallucinationColumn>,
    /// Mean time of one reconstruction in this browser.
    pub millis_per_pass: f64,
}

/// The hallucinations figure.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Hallucination {
    pub net: String,
    pub slice: String,
    pub strength: f64,
    pub gaussian: bool,
    pub side: usize,
    /// `|x|`.
    pub truth: Picture,
    /// Change that maps to white (and its negative to black) in the change pictures.
    pub change_scale: f64,
    pub rows: Vec<HallucinationRow>,
    /// What computed the figure.
    #[serde(default)]
    pub computed: Computed,
}

/// Which image the MRI demo reconstructs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "source", rename_all = "snake_case")]
pub enum MriImage {
    /// A held-out slice of the MNI brain template: `index` into the held-out slices of
    /// `orientation` (`axial`, `coronal`, `sagittal`).
    Brain { orientation: String, index: usize },
    /// The (modified) Shepp–Logan phantom.
    SheppLogan,
    /// Seeded random ellipses.
    Ellipses { seed: u64 },
    /// The image last uploaded to the worker ([`Job::Upload`]), at the job's size.
    Upload,
}

/// Everything a reconstruction needs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ReconstructJob {
    pub image: MriImage,
    pub side: usize,
    pub pattern: Pattern,
    pub rate: f64,
    /// `‖e‖₂ / ‖Ax‖₂`.
    pub noise: f64,
    pub seed: u64,
    /// Wavelet name (`haar`, `db4`, `sym4`, …).
    pub wavelet: String,
    pub lambda: f32,
    /// FIRENET's `n`.
    pub blocks: usize,
    /// FIRENET's `p`.
    pub layers_per_block: usize,
    /// The engine asked for (`?engine=` in the page's address).
    #[serde(default)]
    pub engine: EngineChoice,
    /// A test aid (`?lose-gpu=1`): destroy the GPU device after FIRENET's first block, so that
    /// the fallback to the CPU can be seen and tested.
    #[serde(default)]
    pub lose_gpu: bool,
}

/// What computed a result, for the engine badge of an MRI page: the engine (`CPU`, or the GPU
/// adapter's name), the time of one unit of its work (`per`: "reconstruction", "search
/// iteration", …) and a notice when the GPU was asked for and not used (or failed and the job
/// was run again on the CPU).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Computed {
    pub engine: String,
    #[serde(default)]
    pub millis: f64,
    #[serde(default)]
    pub per: String,
    #[serde(default)]
    pub notice: Option<String>,
}

impl Default for Computed {
    fn default() -> Self {
        Self::new("CPU", None)
    }
}

impl Computed {
    /// `engine` with a notice; no time yet.
    pub fn new(engine: &str, notice: Option<String>) -> Self {
        Self {
            engine: engine.to_string(),
            millis: 0.0,
            per: "reconstruction".into(),
            notice,
        }
    }

    /// With the time of one `per`.
    pub fn timed(self, millis: f64, per: &str) -> Self {
        Self {
            millis,
            per: per.to_string(),
            ..self
        }
    }

    /// Whether the GPU computed it.
    pub fn on_gpu(&self) -> bool {
        self.engine != "CPU"
    }
}

/// Which engine a job asks for: `auto` (the GPU where the browser has WebGPU, else the CPU),
/// `cpu`, or `gpu` (the GPU, or the CPU with a notice where there is no adapter).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EngineChoice {
    #[default]
    Auto,
    Cpu,
    Gpu,
}

impl EngineChoice {
    /// From the `engine` parameter of a query string (`?engine=cpu&…`); anything else is
    /// `auto`.
    pub fn from_query(search: &str) -> Self {
        match query_value(search, "engine") {
            Some("cpu") => Self::Cpu,
            Some("gpu") => Self::Gpu,
            _ => Self::Auto,
        }
    }
}

/// The value of `key` in a query string (`?a=1&b=2`), if present.
pub fn query_value<'s>(search: &'s str, key: &str) -> Option<&'s str> {
    search
        .trim_start_matches('?')
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .find(|(k, _)| *k == key)
        .map(|(_, v)| v)
}

/// A grey image for display: 8-bit pixels (row-major, `side²`), base64-encoded.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Picture {
    pub side: usize,
    pub pixels: String,
}

impl Picture {
    /// Quantises values in [0, 1] (clamped; NaN as 0) to 8 bits.
    pub fn from_unit(values: &[f32], side: usize) -> Self {
        use base64::Engine;
        let bytes: Vec<u8> = values
            .iter()
            .map(|v| (v.clamp(0.0, 1.0) * 255.0).round() as u8)
            .collect();
        Self {
            side,
            pixels: base64::engine::general_purpose::STANDARD.encode(bytes),
        }
    }

    /// The 8-bit pixels.
    pub fn bytes(&self) -> Result<Vec<u8>> {
        use base64::Engine;
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(&self.pixels)
            .map_err(|e| Error::Data(format!("a picture's pixels are not base64: {e}")))?;
        if bytes.len() != self.side * self.side {
            return Err(Error::Data(format!(
                "a {0}×{0} picture has {1} pixels",
                self.side,
                bytes.len()
            )));
        }
        Ok(bytes)
    }
}

/// One reconstruction as shown: its picture and quality.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Panel {
    pub picture: Picture,
    pub quality: Quality,
}

/// The answer to [`Job::Reconstruct`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Reconstruction {
    /// The id of the request, for [`Job::FirenetLayer`].
    pub run: u64,
    pub side: usize,
    pub truth: Picture,
    /// The sampling mask, zero frequency at the centre.
    pub mask: Picture,
    /// `log|Fx|` (see [`crate::mri::reconstruction::Experiment::kspace_display`]).
    pub kspace: Picture,
    /// Sampled share and count of frequencies.
    pub rate: f64,
    pub samples: usize,
    pub wavelet_levels: usize,
    pub zero_filled: Panel,
    /// FIRENET after all layers.
    pub firenet: Panel,
    /// `‖x_k − x‖₂/‖x‖₂` of the complex estimate after each layer `k = 1 … n·p`.
    pub layer_errors: Vec<f64>,
    /// FIRENET's `p` (restarts come every `p` layers).
    pub layers_per_block: usize,
    /// FIRENET's time in the worker, milliseconds.
    pub millis: f64,
    /// What computed FIRENET: "CPU" or the GPU adapter's name.
    #[serde(default)]
    pub engine: String,
    /// Why the GPU did not compute it although asked (no adapter, a lost device), if so.
    #[serde(default)]
    pub notice: Option<String>,
}

/// A reply from the worker.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Reply {
    pub id: u64,
    pub body: Body,
}

/// Adam steps an explanation's manipulation may take ([`ExplainJob::steps`]).
pub const EXPLAIN_STEPS: std::ops::RangeInclusive<usize> = 10..=1000;

/// What the explanation is moved towards ([`ExplainJob::target`]).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "source", rename_all = "snake_case")]
pub enum ExplainTarget {
    /// The map (of the same method) of this image, another digit: explained for its own label.
    Image { image: Vec<f32> },
    /// A map given as it is (784 values, drawn on the page), normalised to `|h|/‖h‖₁`.
    Map { map: Vec<f32> },
}

/// A manipulation of an explanation ([`Job::Explain`]).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ExplainJob {
    pub model: String,
    /// The image whose explanation is manipulated (784 intensities in [0, 1]).
    pub image: Vec<f32>,
    pub target: ExplainTarget,
    pub method: crate::classification::explanation::Method,
    /// Adam steps ([`EXPLAIN_STEPS`]).
    pub steps: usize,
    /// The bound `‖δ‖∞ ≤ ε`, in `(0, 1]`.
    pub max_change: f64,
}

impl ExplainJob {
    /// The job's settings (the defaults, with this job's method, steps and bound), once its
    /// images, map and numbers are checked.
    pub fn settings(&self) -> Result<crate::classification::explanation::ManipulationSettings> {
        use crate::classification::classifier::check_image;
        check_image(&self.image)?;
        match &self.target {
            ExplainTarget::Image { image } => check_image(image)?,
            ExplainTarget::Map { map } => {
                if map.len() != crate::classification::mnist::PIXELS {
                    return Err(Error::Input(format!(
                        "a target map has {} values, not {}",
                        map.len(),
                        crate::classification::mnist::PIXELS
                    )));
                }
                if map.iter().any(|v| !v.is_finite()) || map.iter().all(|v| *v == 0.0) {
                    return Err(Error::Input(
                        "the target map is empty: draw something first".into(),
                    ));
                }
            }
        }
        if !EXPLAIN_STEPS.contains(&self.steps) {
            return Err(Error::Input(format!(
                "the manipulation takes {} to {} steps, not {}",
                EXPLAIN_STEPS.start(),
                EXPLAIN_STEPS.end(),
                self.steps
            )));
        }
        if !(self.max_change > 0.0 && self.max_change <= 1.0) {
            return Err(Error::Input(format!(
                "the largest change ε is in (0, 1], not {}",
                self.max_change
            )));
        }
        Ok(crate::classification::explanation::ManipulationSettings {
            method: self.method,
            steps: self.steps,
            max_change: self.max_change,
            record_every: (self.steps / 30).max(1),
            ..Default::default()
        })
    }
}

/// The answer of a manipulation ([`Job::Explain`]).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ExplainAnswer {
    pub model: String,
    pub result: crate::classification::explanation::ManipulationResult,
    pub millis: f64,
}

/// The answer of a smallest-patch search ([`Job::SmallestPatch`]).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PatchAnswer {
    pub model: String,
    pub max_size: usize,
    /// `k̂(x)` of the unedited image.
    pub original: usize,
    /// The smallest label-changing patch, if any patch up to `max_size` changes the label.
    pub found: Option<crate::classification::structural::PatchFound>,
    /// Model evaluations the search needed.
    pub evaluations: usize,
    pub millis: f64,
    /// The sides searched (a part of the job for the worker pool); empty, all of
    /// `1 … max_size`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sizes: Vec<usize>,
}

/// What the worker says.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Body {
    /// The worker has started and is ready for requests (id 0).
    Ready,
    /// Progress of a long job: `done` of `total` units.
    Progress { done: usize, total: usize },
    /// A model is loaded and checked.
    ModelReady { card: ModelCard },
    /// A classification.
    Classified {
        model: String,
        prediction: Prediction,
        /// Time spent in the model, milliseconds.
        millis: f64,
    },
    /// Accuracy on held-out digits.
    Evaluated {
        model: String,
        correct: usize,
        count: usize,
        millis: f64,
        /// The digits of a part of the job ([`Job::Evaluate`]); `None`, all `count`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        digits: Option<std::ops::Range<usize>>,
    },
    /// An attack's result.
    Attacked {
        model: String,
        outcome: AttackOutcome,
        /// The model's answer on the unperturbed image.
        original: Prediction,
        /// The smallest `t` with `k̂(x + t·r) ≠ k̂(x)` (where the slider flips).
        flip_t: f64,
        millis: f64,
    },
    /// The robustness summary of one model.
    Robustness {
        model: String,
        /// Correctly classified digits among those attacked.
        correct: usize,
        count: usize,
        summaries: Vec<(AttackKind, AttackSummary)>,
        /// The digits of a part of the job ([`Job::Robustness`]); `None`, all `count`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        digits: Option<std::ops::Range<usize>>,
        /// Each summary's exact sums, in the same order, for merging the parts
        /// ([`crate::classification::parts::merge_robustness`]).
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        sums: Vec<crate::classification::robustness::AttackSums>,
    },
    /// A reconstruction.
    Reconstructed(Box<Reconstruction>),
    /// FIRENET after `layer` layers.
    FirenetLayer {
        run: u64,
        layer: usize,
        panel: Panel,
    },
    /// An upload, decoded.
    Uploaded {
        preview: Picture,
        /// What was done to the file, and warnings.
        notes: Vec<String>,
    },
    /// The hallucinations figure.
    Hallucinated(Box<Hallucination>),
    /// The live search: the worst κ found for each method and the time of each iteration
    /// (forward + backward + probe), milliseconds.
    InstabilitySearched {
        net: String,
        slice: String,
        rel_r: f64,
        kappa_net: f64,
        kappa_firenet: f64,
        iteration_ms_net: Vec<f64>,
        iteration_ms_firenet: Vec<f64>,
        /// What computed the search.
        #[serde(default)]
        computed: Computed,
    },
    /// Held-out brain slices per orientation (name, count) at a side.
    BrainCatalog {
        side: usize,
        slices: Vec<(String, usize)>,
    },
    /// Progress of a live universal search: the pass under way, images of `X` visited in it,
    /// and the finished passes.
    UniversalProgress {
        pass: usize,
        visited: usize,
        count: usize,
        passes: Vec<PassReport>,
    },
    /// A universal perturbation.
    Universal(Box<UniversalResult>),
    /// A transfer table.
    Transfer(Box<TransferResult>),
    /// DeepFool's `r` on `source` for one held-out digit, on every model.
    ImageTransfer {
        source: String,
        digit: usize,
        r: Vec<f32>,
        entries: Vec<TransferEntry>,
    },
    /// The smallest label-changing patch, if any patch up to `max_size` changes the label.
    SmallestPatch(PatchAnswer),
    /// A manipulated explanation.
    Explained(Box<ExplainAnswer>),
    /// A detail, its kernel component and every method's reconstructions.
    Kernel(Box<KernelResult>),
    /// A sampling sweep.
    Swept(Box<SweepResult>),
    /// A rate of a sweep finished (on the way to [`Body::Swept`]): kept by the page, and sent
    /// back as [`SweepJob::known`] when the sweep is asked for again, so that a rate survives
    /// its worker being terminated by a cancel.
    SweptRate {
        /// The sweep's networks and slices ([`SweepJob::nets`], [`SweepJob::slices`]).
        nets: Vec<String>,
        slices: usize,
        point: crate::mri::learned::sweep::RatePoint,
    },
    /// One held-out slice at one rate of a sweep.
    SweepSlice(Box<SweepSliceResult>),
    /// The engine benchmark's report.
    EngineBench(Box<crate::engine::bench::EngineReport>),
    /// The job stopped because it was cancelled.
    Cancelled,
    /// The job failed; the message is for people.
    Failed { message: String },
    /// The worker panicked and must be restarted (id 0).
    Panicked { message: String },
}

impl Body {
    /// Whether this body ends its job.
    pub fn is_final(&self) -> bool {
        !matches!(
            self,
            Body::Progress { .. }
                | Body::UniversalProgress { .. }
                | Body::SweptRate { .. }
                | Body::Ready
        )
    }
}

impl Request {
    /// Encodes for `postMessage`.
    pub fn encode(&self) -> String {
        serde_json::to_string(self).expect("requests always serialise")
    }

    /// Decodes a message from the page.
    pub fn decode(text: &str) -> Result<Self> {
        serde_json::from_str(text).map_err(Error::from)
    }
}

impl Reply {
    /// Encodes for `postMessage`.
    pub fn encode(&self) -> String {
        serde_json::to_string(self).expect("replies always serialise")
    }

    /// Decodes a message from the worker.
    pub fn decode(text: &str) -> Result<Self> {
        serde_json::from_str(text).map_err(Error::from)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A part of a transfer table computed as the worker computes one: the clean labels of the
    /// part's digits, the counts of its rows, each divided once.
    fn transfer_part(
        models: &[&dyn crate::classification::attack::Model],
        vs: &[Vec<f64>],
        images: &[Vec<f64>],
        digits: std::ops::Range<usize>,
        rows: Vec<usize>,
    ) -> TransferResult {
        use crate::classification::transfer::{fooled_table, fooling_rates, labels};
        let test = &images[digits.clone()];
        let l: Vec<Vec<usize>> = models.iter().map(|m| labels(*m, test).unwrap()).collect();
        let row_vs: Vec<Vec<f64>> = rows.iter().map(|&i| vs[i].clone()).collect();
        let fooled = fooled_table(models, &l, &row_vs, test).unwrap();
        TransferResult {
            ball: Ball::L2,
            live: false,
            models: (0..models.len()).map(|i| format!("m{i}")).collect(),
            fooling: fooling_rates(&fooled, test.len()),
            xi: rows.iter().map(|&i| 0.5 + i as f64).collect(),
            held_out_count: images.len(),
            search_millis: 0.0,
            table_millis: 0.0,
            fooled,
            digits,
            rows,
        }
    }

    #[test]
    fn transfer_tables_merged_from_parts_are_the_whole_table_exactly() {
        use crate::classification::affine::Affine;
        use crate::classification::attack::Model;
        use crate::classification::transfer::{fooling_table, labels, split_digits, split_rows};
        use rand::{Rng, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
        let mut matrix = |rows: usize, cols: usize| -> Vec<Vec<f64>> {
            (0..rows)
                .map(|_| (0..cols).map(|_| rng.random_range(-1.0..1.0)).collect())
                .collect()
        };
        let (d, h) = (6, 97);
        let affines: Vec<Affine> = (0..4)
            .map(|_| Affine::new(matrix(3, d), vec![0.0; 3]).unwrap())
            .collect();
        let models: Vec<&dyn Model> = affines.iter().map(|a| a as &dyn Model).collect();
        let images = matrix(h, d);
        let vs: Vec<Vec<f64>> = matrix(4, d)
            .into_iter()
            .map(|v| v.into_iter().map(|a| 0.8 * a).collect())
            .collect();
        let all_rows: Vec<usize> = (0..4).collect();
        let whole = transfer_part(&models, &vs, &images, 0..h, all_rows.clone());
        // The lab's native table, rate for rate.
        let l: Vec<Vec<usize>> = models
            .iter()
            .map(|m| labels(*m, &images).unwrap())
            .collect();
        assert_eq!(
            whole.fooling,
            fooling_table(&models, &l, &vs, &images).unwrap()
        );
        let fooled: usize = whole.fooled.iter().flatten().sum();
        assert!(fooled > 0 && fooled < 4 * 4 * h, "{fooled}");
        assert_eq!(TransferResult::merge(vec![whole.clone()]).unwrap(), whole);
        for workers in 1..=6 {
            let parts: Vec<TransferResult> = split_digits(h, workers)
                .into_iter()
                .map(|r| transfer_part(&models, &vs, &images, r, all_rows.clone()))
                .collect();
            assert_eq!(parts.len(), workers);
            // In any order.
            let mut reversed = parts.clone();
            reversed.reverse();
            assert_eq!(TransferResult::merge(parts).unwrap(), whole, "{workers}");
            assert_eq!(TransferResult::merge(reversed).unwrap(), whole, "{workers}");
            let parts: Vec<TransferResult> = split_rows(&[1.0, 5.0, 2.0, 4.0], workers)
                .into_iter()
                .map(|rows| transfer_part(&models, &vs, &images, 0..h, rows))
                .collect();
            assert_eq!(
                TransferResult::merge(parts).unwrap(),
                whole,
                "rows, {workers}"
            );
        }
        // The slowest part's times.
        let mut parts: Vec<TransferResult> = split_digits(h, 2)
            .into_iter()
            .map(|r| transfer_part(&models, &vs, &images, r, all_rows.clone()))
            .collect();
        parts[1].table_millis = 7.0;
        parts[0].table_millis = 3.0;
        assert_eq!(
            TransferResult::merge(parts.clone()).unwrap().table_millis,
            7.0
        );

        // Bad or mismatched parts are refused.
        let bad = |f: &dyn Fn(&mut Vec<TransferResult>)| {
            let mut p = parts.clone();
            f(&mut p);
            let e = TransferResult::merge(p).unwrap_err();
            assert!(matches!(e, Error::Input(_)), "{e}");
        };
        bad(&|p| p.clear());
        bad(&|p| {
            p.pop();
        });
        bad(&|p| p.push(p[0].clone()));
        bad(&|p| p[1].ball = Ball::Linf);
        bad(&|p| p[1].live = true);
        bad(&|p| p[1].models[0] = "other".into());
        bad(&|p| p[1].held_out_count += 1);
        bad(&|p| p[1].digits = 40..h);
        bad(&|p| p[1].digits = 60..h);
        bad(&|p| p[1].digits = p[1].digits.start..h + 1);
        bad(&|p| p[1].digits = 49..49);
        bad(&|p| p[1].fooled[2].pop().map(drop).unwrap());
        bad(&|p| p[1].fooled.pop().map(drop).unwrap());
        bad(&|p| p[1].fooled[0][0] = 1000);
        bad(&|p| p[1].xi[0] = 9.0);
        bad(&|p| p[1].rows = vec![0, 1, 2, 4]);
        bad(&|p| p[1].rows = vec![1, 0, 2, 3]);
        bad(&|p| {
            p[1].rows.clear();
            p[1].fooled.clear();
            p[1].xi.clear();
        });
        // A row that no part computed.
        let three: Vec<TransferResult> =
            vec![transfer_part(&models, &vs, &images, 0..h, vec![0, 1, 2])];
        assert!(TransferResult::merge(three).is_err());
    }

    #[test]
    fn transfer_jobs_without_a_part_still_decode() {
        let old = r#"{"id":4,"job":{"kind":"transfer","ball":"l2","live":false}}"#;
        let r = Request::decode(old).unwrap();
        assert_eq!(
            r.job,
            Job::Transfer {
                ball: Ball::L2,
                live: false,
                digits: None,
                rows: vec![],
            }
        );
        assert_eq!(Request::decode(&r.encode()).unwrap(), r);
        let part = Request {
            id: 5,
            job: Job::Transfer {
                ball: Ball::Linf,
                live: true,
                digits: Some(1000..2000),
                rows: vec![1, 3],
            },
        };
        assert_eq!(Request::decode(&part.encode()).unwrap(), part);
    }

    #[test]
    fn requests_and_replies_round_trip() {
        let r = Request {
            id: 7,
            job: Job::Classify {
                model: "cnn".into(),
                image: vec![0.5; 784],
            },
        };
        assert_eq!(Request::decode(&r.encode()).unwrap(), r);
        let p = Reply {
            id: 7,
            body: Body::Progress { done: 3, total: 9 },
        };
        assert_eq!(Reply::decode(&p.encode()).unwrap(), p);
        assert!(!p.body.is_final());
        assert!(Body::Cancelled.is_final());
        assert!(Request::decode("{\"id\":1}").is_err());
        let mri = Request {
            id: 9,
            job: Job::Reconstruct(ReconstructJob {
                image: MriImage::Brain {
                    orientation: "axial".into(),
                    index: 2,
                },
                side: 128,
                pattern: Pattern::Radial,
                rate: 0.25,
                noise: 0.01,
                seed: 1,
                wavelet: "db4".into(),
                lambda: 1e-3,
                blocks: 5,
                layers_per_block: 10,
                engine: EngineChoice::Gpu,
                lose_gpu: false,
            }),
        };
        assert_eq!(Request::decode(&mri.encode()).unwrap(), mri);
        assert_eq!(
            EngineChoice::from_query("?a=1&engine=cpu"),
            EngineChoice::Cpu
        );
        assert_eq!(EngineChoice::from_query("?engine=gpu"), EngineChoice::Gpu);
        assert_eq!(EngineChoice::from_query("?engine=fast"), EngineChoice::Auto);
        assert_eq!(EngineChoice::from_query(""), EngineChoice::Auto);
        assert_eq!(query_value("?lose-gpu=1", "lose-gpu"), Some("1"));
        let picture = Picture::from_unit(&[0.0, 0.5, 1.0, 2.0], 2);
        assert_eq!(picture.bytes().unwrap(), vec![0, 128, 255, 255]);
        assert!(Picture {
            side: 3,
            ..picture.clone()
        }
        .bytes()
        .is_err());
        assert!(Reply::decode("garbage").is_err());
    }
}
