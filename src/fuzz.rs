//! Fuzzing of every parser of untrusted input (issue 20), seeded and on stable Rust: `lab fuzz`
//! runs it at length, the unit tests for a few thousand inputs a target. The flow is a fuzzer's
//! (seeded random bytes → [`arbitrary::Unstructured`] → a structured input, often a valid file
//! or message mutated), the check a property test's: each input is fed to the parsers under
//! [`std::panic::catch_unwind`] and must come back as a value or a clear error, with no panic and
//! no allocation beyond the target's budget. What each [`Target`] generates and checks, and the
//! limits: `docs/hardening.md`.
//!
//! - [`Target::Url`]: a page's query string into each demo's URL state ([`crate::route`],
//!   [`crate::classification::state`], [`crate::mri::state`]), the page-query helpers and the
//!   lecture paths of [`crate::lecture`]: a state and short notices; the state, written back to
//!   a link, reads back as itself without notices.
//! - [`Target::Upload`]: PNG and JPEG bytes into [`crate::mri::upload::prepare_upload`]: a
//!   working image in [0, 1] or [`Error::Input`](crate::Error::Input); a header that claims
//!   more than the limits is refused before any pixel buffer is allocated.
//! - [`Target::Weights`]: safetensors (and `.npy`) bytes into every loader of weights and data:
//!   a value or an error; nothing loaded holds NaN or infinity.
//! - [`Target::Card`]: JSON into the model cards ([`crate::card::ModelCard`],
//!   [`NetCard`]) and the reports the pages read; a card's network and mask are built from it.
//! - [`Target::Protocol`]: JSON into [`Request::decode`] (and [`Reply::decode`]): a request or
//!   an error; a request encodes and decodes back as itself.
//!
//! Allocation: [`TrackingAllocator`], installed as the global allocator of the `lab` binary and
//! of the crate's tests, records the largest single allocation while an input is checked. Panics
//! are caught and recorded with their message and place, not printed.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::{Cell, RefCell};
use std::panic::{self, AssertUnwindSafe};
use std::sync::{Once, OnceLock};
use std::time::Instant;

use arbitrary::Unstructured;
use rand::{RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;
use serde_json::{json, Value};

use crate::classification::classifier::{Architecture, Classifier};
use crate::classification::linearity::{models_from_safetensors, models_to_safetensors};
use crate::classification::mnist::Digits;
use crate::classification::state::{
    AttackState, ClassifyState, LinearityState, StructuralState, UniversalState,
};
use crate::classification::transfer::ShippedUniversal;
use crate::classification::universal::Ball;
use crate::lecture::{Path, Step};
use crate::mri::brain::BrainSlices;
use crate::mri::learned::cascade::{CascadeNet, CascadeShape};
use crate::mri::learned::hallucination::{NetCard, Perturbations};
use crate::mri::sampling::{mask, Mask, Pattern};
use crate::mri::state::{
    DetailsState, HallucinationState, KernelState, MriState, SweepState, TradeoffState,
};
use crate::mri::upload::{
    prepare_upload, MAX_DECODER_ALLOC, MAX_PIXELS, MAX_UPLOAD_SIDE, MAX_WORKING_SIDE,
};
use crate::protocol::{Reply, Request};
use crate::route::{QueryState, ECHO};

/// What is fuzzed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Target {
    /// Query strings into every demo's URL state.
    Url,
    /// Uploaded PNG and JPEG files.
    Upload,
    /// safetensors (and `.npy`) bytes into the weight and data loaders.
    Weights,
    /// Model-card (and report) JSON.
    Card,
    /// Messages from the page to the worker (and back).
    Protocol,
}

impl Target {
    /// Every target, in the order `lab fuzz --target all` runs them.
    pub const ALL: [Target; 5] = [
        Target::Url,
        Target::Upload,
        Target::Weights,
        Target::Card,
        Target::Protocol,
    ];

    /// The name on the command line and in the report.
    pub fn name(self) -> &'static str {
        match self {
            Target::Url => "url",
            Target::Upload => "upload",
            Target::Weights => "weights",
            Target::Card => "card",
            Target::Protocol => "protocol",
        }
    }

    /// The target called `name`.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.name() == name)
    }

    /// The largest single allocation an input of `len` bytes may cause: a few times its size
    /// plus a fixed allowance, except for uploads, whose decoder may allocate up to its
    /// documented limit ([`MAX_DECODER_ALLOC`]) for an image within the limits.
    pub fn allocation_budget(self, len: usize) -> usize {
        const MIB: usize = 1 << 20;
        match self {
            Target::Url | Target::Protocol => 16 * MIB + 64 * len,
            Target::Weights => 8 * MIB + 16 * len,
            // A card's mask is built at its side (at most `sampling::MAX_SIDE`).
            Target::Card => 64 * MIB + 16 * len,
            Target::Upload => MAX_DECODER_ALLOC as usize,
        }
    }
}

/// How one target fared.
#[derive(Clone, Debug, Serialize)]
pub struct Report {
    pub target: Target,
    pub seed: u64,
    /// Inputs checked.
    pub inputs: u64,
    /// Inputs that broke a property (panicked, allocated too much, or gave a wrong answer).
    pub failed: u64,
    /// The first [`MAX_REPORTED`] failures: the input (escaped text, or hex) and what went wrong.
    pub failures: Vec<String>,
    /// Wall-clock time, milliseconds.
    pub millis: f64,
    pub inputs_per_second: f64,
    /// The slowest input, milliseconds.
    pub slowest_input_millis: f64,
    /// The largest single allocation any input caused, bytes (`None`: allocations were not
    /// tracked, [`TrackingAllocator`] is not the global allocator).
    pub largest_allocation_bytes: Option<u64>,
    /// The inputs of [`Report::failures`], for a corpus.
    #[serde(skip)]
    pub failing_inputs: Vec<Vec<u8>>,
}

/// Failures kept in a [`Report`] (all are counted).
pub const MAX_REPORTED: usize = 50;

/// Random bytes behind each input (what [`Unstructured`] draws from).
const ENTROPY: usize = 8192;

/// Runs `target` on `iterations` inputs generated from `seed`.
pub fn run(target: Target, iterations: u64, seed: u64) -> Report {
    run_with(target, iterations, seed, &mut |_| {})
}

/// [`run`], calling `progress` with the number of inputs checked now and then.
pub fn run_with(
    target: Target,
    iterations: u64,
    seed: u64,
    progress: &mut dyn FnMut(u64),
) -> Report {
    let seeds = Seeds::new(target);
    let tracked = allocations_tracked();
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut raw = vec![0u8; ENTROPY];
    let mut report = Report {
        target,
        seed,
        inputs: 0,
        failed: 0,
        failures: Vec::new(),
        millis: 0.0,
        inputs_per_second: 0.0,
        slowest_input_millis: 0.0,
        largest_allocation_bytes: tracked.then_some(0),
        failing_inputs: Vec::new(),
    };
    let start = Instant::now();
    for i in 0..iterations {
        rng.fill_bytes(&mut raw);
        let input = generate(target, &seeds, &mut Gen::new(&raw));
        let t0 = Instant::now();
        let (verdict, largest) = check_measured(target, &input);
        let ms = t0.elapsed().as_secs_f64() * 1e3;
        report.slowest_input_millis = report.slowest_input_millis.max(ms);
        if let Some(l) = report.largest_allocation_bytes.as_mut() {
            *l = (*l).max(largest as u64);
        }
        report.inputs += 1;
        if let Err(why) = verdict {
            report.failed += 1;
            if report.failures.len() < MAX_REPORTED {
                report
                    .failures
                    .push(format!("{why} ← input {}", show(&input)));
                report.failing_inputs.push(input);
            }
        }
        if (i + 1) % 256 == 0 {
            progress(i + 1);
        }
    }
    progress(iterations);
    report.millis = start.elapsed().as_secs_f64() * 1e3;
    report.inputs_per_second = report.inputs as f64 / (report.millis / 1e3).max(1e-9);
    report
}

/// Checks one input of `target`: `Err` says which property it broke (a panic, with its message
/// and place, counts as one).
pub fn check(target: Target, input: &[u8]) -> Result<(), String> {
    check_measured(target, input).0
}

/// [`check`], with the largest single allocation it caused (0 when not tracked).
fn check_measured(target: Target, input: &[u8]) -> (Result<(), String>, usize) {
    install_panic_hook();
    QUIET.with(|q| q.set(true));
    arm();
    let outcome = panic::catch_unwind(AssertUnwindSafe(|| match target {
        Target::Url => check_url(input),
        Target::Upload => check_upload(input),
        Target::Weights => check_weights(input),
        Target::Card => check_card(input),
        Target::Protocol => check_protocol(input),
    }));
    let largest = disarm();
    QUIET.with(|q| q.set(false));
    let verdict = match outcome {
        Ok(v) => v,
        Err(payload) => {
            let message = payload
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "a panic without a message".into());
            let place = PANIC_PLACE
                .with(|p| p.borrow_mut().take())
                .unwrap_or_default();
            Err(format!("panicked at {place}: {message}"))
        }
    };
    let budget = target.allocation_budget(input.len());
    let verdict = verdict.and_then(|()| {
        if largest > budget {
            Err(format!(
                "allocated {largest} bytes at once (budget {budget} for {} input bytes)",
                input.len()
            ))
        } else {
            Ok(())
        }
    });
    (verdict, largest)
}

/// A smaller input that fails `target` the same way (the same kind of failure: what its message
/// says before the first colon), by deleting ever smaller chunks; at most `max_checks` checks.
pub fn minimize(target: Target, input: &[u8], max_checks: usize) -> Vec<u8> {
    let kind = |why: &str| why.split(':').next().unwrap_or("").to_string();
    let Err(why) = check(target, input) else {
        return input.to_vec();
    };
    let wanted = kind(&why);
    shrink(input, max_checks, |candidate| {
        check(target, candidate).is_err_and(|why| kind(&why) == wanted)
    })
}

/// The smallest input `fails` still holds for, found by deleting ever smaller chunks of `input`
/// (at most `max_checks` calls).
fn shrink(input: &[u8], max_checks: usize, mut fails: impl FnMut(&[u8]) -> bool) -> Vec<u8> {
    let mut best = input.to_vec();
    let mut checks = 0;
    let mut chunk = best.len().div_ceil(2);
    while chunk > 0 && checks < max_checks {
        let mut at = 0;
        let mut smaller = false;
        while at < best.len() && checks < max_checks {
            let end = (at + chunk).min(best.len());
            let candidate = [&best[..at], &best[end..]].concat();
            checks += 1;
            if fails(&candidate) {
                best = candidate;
                smaller = true;
            } else {
                at += chunk;
            }
        }
        if !smaller {
            chunk /= 2;
        }
    }
    best
}

/// Writes each failing input of `report`, minimized, to `dir/<target>/<hash>.bin` (the corpus
/// that `tests/corpus/fuzz` keeps and the tests replay); returns the files written.
pub fn save_failures(
    report: &Report,
    dir: &std::path::Path,
) -> std::io::Result<Vec<std::path::PathBuf>> {
    let dir = dir.join(report.target.name());
    let mut written = Vec::new();
    for input in &report.failing_inputs {
        let input = &minimize(report.target, input, 2000);
        std::fs::create_dir_all(&dir)?;
        // FNV-1a of the bytes: a stable name.
        let hash = input.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| {
            (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
        });
        let path = dir.join(format!("{hash:016x}.bin"));
        std::fs::write(&path, input)?;
        written.push(path);
    }
    Ok(written)
}

/// An input as a failure shows it: escaped text if it is UTF-8, else hex; at most 600 bytes.
pub fn show(input: &[u8]) -> String {
    const MAX: usize = 600;
    let cut = &input[..input.len().min(MAX)];
    let more = if input.len() > MAX {
        format!("… ({} bytes)", input.len())
    } else {
        String::new()
    };
    match std::str::from_utf8(cut) {
        Ok(text) => format!("\"{}\"{more}", text.escape_debug()),
        Err(_) => {
            let hex: String = cut.iter().map(|b| format!("{b:02x}")).collect();
            format!("hex {hex}{more}")
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Allocation tracking and quiet panics.

/// The system allocator, recording the largest single allocation (or reallocation) requested
/// on this thread between [`check`]'s start and end. It refuses nothing: an allocation beyond a
/// target's budget is reported after the input, not stopped.
pub struct TrackingAllocator;

thread_local! {
    /// Whether this thread is checking an input.
    static ARMED: Cell<bool> = const { Cell::new(false) };
    /// The largest allocation while armed.
    static LARGEST: Cell<usize> = const { Cell::new(0) };
    /// Whether a panic on this thread is caught by the fuzzer (and not printed).
    static QUIET: Cell<bool> = const { Cell::new(false) };
    /// Where the last caught panic happened.
    static PANIC_PLACE: RefCell<Option<String>> = const { RefCell::new(None) };
}

fn note(size: usize) {
    // `try_with`: never fails for these constant thread-locals, and does not allocate.
    let _ = ARMED.try_with(|armed| {
        if armed.get() {
            let _ = LARGEST.try_with(|l| l.set(l.get().max(size)));
        }
    });
}

// SAFETY: every call is forwarded to `System` unchanged; `note` only reads and writes two
// thread-local cells and neither allocates nor unwinds.
unsafe impl GlobalAlloc for TrackingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note(layout.size());
        // SAFETY: the caller's contract is passed on.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note(layout.size());
        // SAFETY: the caller's contract is passed on.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note(new_size);
        // SAFETY: the caller's contract is passed on.
        unsafe { System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: the caller's contract is passed on.
        unsafe { System.dealloc(ptr, layout) }
    }
}

/// The crate's tests track allocations too (the `lab` binary installs it in its `main.rs`).
#[cfg(test)]
#[global_allocator]
static TESTS_ALLOCATOR: TrackingAllocator = TrackingAllocator;

fn arm() {
    LARGEST.with(|l| l.set(0));
    ARMED.with(|a| a.set(true));
}

fn disarm() -> usize {
    ARMED.with(|a| a.set(false));
    LARGEST.with(Cell::get)
}

/// Whether [`TrackingAllocator`] is the global allocator (a probe allocation is seen).
pub fn allocations_tracked() -> bool {
    arm();
    let probe: Vec<u8> = Vec::with_capacity(std::hint::black_box(12_345));
    drop(std::hint::black_box(probe));
    disarm() >= 12_345
}

/// Routes panics on a thread that is checking an input to [`PANIC_PLACE`] instead of stderr;
/// others go to the hook that was there before.
fn install_panic_hook() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let previous = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            if QUIET.with(Cell::get) {
                let place = info.location().map(|l| l.to_string());
                PANIC_PLACE.with(|p| *p.borrow_mut() = place);
            } else {
                previous(info);
            }
        }));
    });
}

// ---------------------------------------------------------------------------------------------
// Drawing from the random bytes.

/// Choices drawn from an input's random bytes (zeros once they run out).
struct Gen<'a>(Unstructured<'a>);

impl<'a> Gen<'a> {
    fn new(raw: &'a [u8]) -> Self {
        Self(Unstructured::new(raw))
    }

    /// A number in `0..n` (0 when `n` is 0).
    fn below(&mut self, n: usize) -> usize {
        if n <= 1 {
            return 0;
        }
        self.0.int_in_range(0..=n - 1).unwrap_or(0)
    }

    /// A number in `lo..=hi`.
    fn between(&mut self, lo: usize, hi: usize) -> usize {
        lo + self.below(hi - lo + 1)
    }

    /// True with probability `num / den`.
    fn chance(&mut self, num: u32, den: u32) -> bool {
        self.0.ratio(num, den).unwrap_or(false)
    }

    fn pick<'b, T>(&mut self, items: &'b [T]) -> &'b T {
        &items[self.below(items.len())]
    }

    fn u64(&mut self) -> u64 {
        self.0.arbitrary().unwrap_or(0)
    }

    fn f64(&mut self) -> f64 {
        self.0.arbitrary().unwrap_or(0.0)
    }

    /// Any string (arbitrary Unicode), at most `max` characters.
    fn string(&mut self, max: usize) -> String {
        let s: String = self.0.arbitrary().unwrap_or_default();
        s.chars().take(max).collect()
    }

    /// Up to `max` random bytes.
    fn bytes(&mut self, max: usize) -> Vec<u8> {
        let n = self.below(max + 1);
        match self.0.bytes(n) {
            Ok(b) => b.to_vec(),
            Err(_) => {
                let rest = self.0.len();
                self.0.bytes(rest).map(<[u8]>::to_vec).unwrap_or_default()
            }
        }
    }
}

/// Bytes chosen to sit on boundaries.
const INTERESTING_BYTES: [u8; 8] = [0x00, 0x01, 0x7f, 0x80, 0xff, b'0', b'9', b'-'];
const INTERESTING_U32: [u32; 12] = [
    0,
    1,
    7,
    8,
    0x7f,
    0xffff,
    0x10000,
    0x7fff_ffff,
    0x8000_0000,
    0xffff_fffe,
    0xffff_ffff,
    16_385,
];

/// `rounds` byte-level mutations of `data`: bit flips, boundary values, insertions, deletions,
/// duplications, truncation and overwritten integers.
fn mutate_bytes(g: &mut Gen, data: &mut Vec<u8>, rounds: usize) {
    for _ in 0..rounds {
        let len = data.len();
        match g.below(8) {
            0 if len > 0 => {
                let i = g.below(len);
                data[i] ^= 1 << g.below(8);
            }
            1 if len > 0 => {
                let i = g.below(len);
                data[i] = *g.pick(&INTERESTING_BYTES);
            }
            2 => {
                let at = g.below(len + 1);
                let extra = g.bytes(16);
                data.splice(at..at, extra);
            }
            3 if len > 0 => {
                let at = g.below(len);
                let n = g.between(1, (len - at).min(64));
                data.drain(at..at + n);
            }
            4 if len > 0 => {
                let at = g.below(len);
                let n = g.between(1, (len - at).min(64));
                let copy = data[at..at + n].to_vec();
                let to = g.below(len + 1);
                data.splice(to..to, copy);
            }
            5 if len > 0 => data.truncate(g.below(len)),
            6 if len >= 4 => {
                let i = g.below(len - 3);
                let v = *g.pick(&INTERESTING_U32);
                let b = if g.chance(1, 2) {
                    v.to_be_bytes()
                } else {
                    v.to_le_bytes()
                };
                data[i..i + 4].copy_from_slice(&b);
            }
            _ => {
                let at = g.below(len + 1);
                data.insert(at, g.pick(&INTERESTING_BYTES).to_owned());
            }
        }
    }
}

/// Numbers that parsers get wrong: out of range, not numbers, other scripts, other notations.
const WILD_NUMBERS: &[&str] = &[
    "-1",
    "-0",
    "0.0",
    "1e309",
    "-1e309",
    "NaN",
    "nan",
    "inf",
    "-inf",
    "infinity",
    "+inf",
    "1e-400",
    "0x10",
    "1_000",
    " 5",
    "5 ",
    "+5",
    "\u{663}",
    "\u{ff11}",
    "18446744073709551615",
    "18446744073709551616",
    "340282366920938463463374607431768211456",
    "4294967296",
    "2147483648",
    "9007199254740993",
    "0.1e1",
    "1.",
    ".",
    "e",
    "-",
    "",
    "\u{221e}",
    "1,5",
    "5%",
    "1e3",
    "0.30000000000000004",
    "5e-324",
    "1.7976931348623157e308",
];

/// A random JSON value: scalars on boundaries, long arrays, deep nesting.
fn wild_json(g: &mut Gen, depth: usize) -> Value {
    match g.below(if depth > 3 { 12 } else { 16 }) {
        0 => Value::Null,
        1 => Value::Bool(g.chance(1, 2)),
        2 => json!(0),
        3 => json!(-1),
        4 => json!(u64::MAX),
        5 => json!(i64::MIN),
        6 => json!(1.5),
        7 => json!(*g.pick(&[1e308, -1e308, 1e39, -1e39, 5e-324, 9007199254740993.0, 0.25])),
        8 => Value::String(g.string(64)),
        9 => Value::String(
            g.pick(&[
                "cnn",
                "linear",
                "axial 20",
                "cascade-12",
                "",
                "l2",
                "radial",
            ])
            .to_string(),
        ),
        10 => Value::String("x".repeat(g.pick(&[100, 1000, 20_000]).to_owned())),
        11 => json!(g.u64()),
        12 => {
            let n = g.below(6);
            Value::Array((0..n).map(|_| wild_json(g, depth + 1)).collect())
        }
        13 => {
            let n = g.pick(&[0usize, 10, 783, 784, 785, 4096]).to_owned();
            let v = g.f64();
            Value::Array(vec![json!(if v.is_finite() { v } else { 0.5 }); n])
        }
        14 => {
            let mut nested = wild_json(g, 4);
            for _ in 0..g.pick(&[5usize, 127, 128, 300]).to_owned() {
                nested = if g.chance(1, 2) {
                    Value::Array(vec![nested])
                } else {
                    json!({ "a": nested })
                };
            }
            nested
        }
        _ => {
            let n = g.below(5);
            Value::Object(
                (0..n)
                    .map(|_| (g.string(12), wild_json(g, depth + 1)))
                    .collect(),
            )
        }
    }
}

/// Replaces, deletes or adds one node somewhere in `v`.
fn mutate_json(g: &mut Gen, v: &mut Value, words: &[&str]) {
    let descend = g.chance(3, 4);
    match v {
        Value::Object(map) if descend && !map.is_empty() => {
            let keys: Vec<String> = map.keys().cloned().collect();
            let key = g.pick(&keys).clone();
            match g.below(8) {
                0 => {
                    map.remove(&key);
                }
                1 => {
                    let value = map.remove(&key).unwrap_or(Value::Null);
                    let new_key = if g.chance(1, 2) {
                        g.pick(words).to_string()
                    } else {
                        g.string(12)
                    };
                    map.insert(new_key, value);
                }
                2 => {
                    map.insert(g.pick(words).to_string(), wild_json(g, 1));
                }
                _ => {
                    if let Some(child) = map.get_mut(&key) {
                        mutate_json(g, child, words);
                    }
                }
            }
        }
        Value::Array(items) if descend && !items.is_empty() => match g.below(6) {
            0 => {
                let i = g.below(items.len());
                items.remove(i);
            }
            1 => {
                let i = g.below(items.len());
                let copy = items[i].clone();
                items.insert(i, copy);
            }
            _ => {
                let i = g.below(items.len());
                mutate_json(g, &mut items[i], words);
            }
        },
        Value::String(s) if g.chance(1, 2) => {
            *s = if g.chance(1, 2) {
                g.pick(words).to_string()
            } else {
                g.string(40)
            };
        }
        _ => *v = wild_json(g, 0),
    }
}

/// JSON text from `seeds` (mutated), random JSON, or random bytes.
fn json_input(g: &mut Gen, seeds: &[Value], words: &[&str]) -> Vec<u8> {
    match g.below(20) {
        0 => g.bytes(512),
        1..=3 => wild_json(g, 0).to_string().into_bytes(),
        4 => seeds[g.below(seeds.len())].to_string().into_bytes(),
        _ => {
            let mut v = seeds[g.below(seeds.len())].clone();
            for _ in 0..g.between(1, 4) {
                mutate_json(g, &mut v, words);
            }
            let mut text = if g.chance(1, 4) {
                serde_json::to_vec_pretty(&v).unwrap_or_default()
            } else {
                serde_json::to_vec(&v).unwrap_or_default()
            };
            match g.below(8) {
                0 => {
                    let rounds = g.between(1, 4);
                    mutate_bytes(g, &mut text, rounds);
                }
                1 => {
                    // A key given twice, or a token JSON does not have.
                    let extra: &[u8] = g.pick::<&[u8]>(&[
                        b",\"kind\":\"cancel\",\"target\":1",
                        b",\"id\":-1",
                        b",\"x\":NaN",
                        b",\"x\":Infinity",
                        b",\"name\":\"mlp\"",
                    ]);
                    if let Some(end) = text.iter().rposition(|&b| b == b'}') {
                        text.splice(end..end, extra.iter().copied());
                    }
                }
                _ => {}
            }
            text
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The valid inputs that mutations start from.

/// Valid inputs of a target, made once per run.
struct Seeds {
    /// Query strings (url).
    links: Vec<String>,
    /// Files (upload, weights).
    files: Vec<Vec<u8>>,
    /// JSON documents (card, protocol).
    documents: Vec<Value>,
}

impl Seeds {
    fn new(target: Target) -> Self {
        let mut seeds = Seeds {
            links: Vec::new(),
            files: Vec::new(),
            documents: Vec::new(),
        };
        match target {
            Target::Url => seeds.links = url_seeds(),
            Target::Upload => seeds.files = upload_seeds(),
            Target::Weights => seeds.files = weight_seeds(),
            Target::Card => seeds.documents = card_seeds(),
            Target::Protocol => seeds.documents = protocol_seeds(),
        }
        seeds
    }
}

fn generate(target: Target, seeds: &Seeds, g: &mut Gen) -> Vec<u8> {
    match target {
        Target::Url => url_input(g, &seeds.links),
        Target::Upload => upload_input(g, &seeds.files),
        Target::Weights => weights_input(g, &seeds.files),
        Target::Card => json_input(g, &seeds.documents, CARD_WORDS),
        Target::Protocol => json_input(g, &seeds.documents, PROTOCOL_WORDS),
    }
}

// ---------------------------------------------------------------------------------------------
// URL state.

/// Every key a demo's query (or the page query) knows.
const URL_KEYS: &[&str] = &[
    "model",
    "digit",
    "attack",
    "p",
    "xi",
    "delta",
    "count",
    "passes",
    "eps",
    "d",
    "side",
    "image",
    "orientation",
    "slice",
    "seed",
    "pattern",
    "rate",
    "noise",
    "wavelet",
    "lambda",
    "n",
    "layer",
    "net",
    "t",
    "detail",
    "text",
    "row",
    "col",
    "size",
    "intensity",
    "nets",
    "rates",
    "slices",
    "method",
    "embed",
    "path",
    "step",
    "present",
    "workers",
    "engine",
    "lose-gpu",
];

/// Good values of a key (some good for one demo and not another).
fn good_values(key: &str) -> &'static [&'static str] {
    match key {
        "model" => &["linear", "mlp", "mlp-tanh", "cnn", "cnn-wide"],
        "digit" => &["0", "42", "164", "1999", "2000", "draw"],
        "attack" => &[
            "random_noise",
            "fast_gradient",
            "fgsm",
            "deepfool_l2",
            "deepfool_linf",
            "compare",
        ],
        "p" => &["2", "inf", "1", "10", "50"],
        "xi" => &["0.5", "5", "15", "0.01", "0.6", "0.3"],
        "delta" => &["0", "0.05", "0.5"],
        "count" => &["10", "500", "2000"],
        "passes" => &["1", "10", "20"],
        "eps" => &["0.001", "0.03", "0.3"],
        "d" => &["10", "784", "100000"],
        "side" => &["7", "14", "28", "128", "256"],
        "image" => &["brain", "shepp_logan", "ellipses", "upload"],
        "orientation" => &["axial", "coronal", "sagittal"],
        "slice" => &[
            "0",
            "4",
            "15",
            "999",
            "axial 20",
            "axial+20",
            "coronal 10",
            "sagittal 3",
            "axial 39",
            "axial 10",
        ],
        "seed" => &["0", "1", "42"],
        "pattern" => &["variable_density", "radial", "cartesian"],
        "rate" => &["0.05", "0.25", "0.6"],
        "noise" => &["0", "0.2", "gaussian", "worst"],
        "wavelet" => &["haar", "db1", "db2", "db4", "sym4"],
        "lambda" => &["0.000001", "0.001", "0.1", "1e-6"],
        "n" => &["1", "5", "20"],
        "layer" => &["1", "12", "100", "1000"],
        "net" => &[
            "cascade-128",
            "cascade-128-kernel",
            "cascade-12",
            "cascade-8",
            "cascade-12-noise",
            "cascade-12-kernel",
        ],
        "t" => &["0", "0.1", "1", "1.5", "8"],
        "detail" => &["text", "lesion", "drawn"],
        "text" => &["AI", "CAN U SEE IT", "CAN+U+SEE+IT", "ai", "A1 B2"],
        "row" | "col" => &["0", "30", "32", "63"],
        "size" => &["1", "2", "8"],
        "intensity" => &["0.5", "-1", "1", "0.3"],
        "nets" => &[
            "cascade-128",
            "cascade-8,cascade-12",
            "cascade-8,cascade-12,cascade-12-noise,cascade-128",
        ],
        "rates" => &["5,10,20,40", "2,80", "7.5,12.5", "10", "2.005,2.015"],
        "slices" => &["1", "9", "18"],
        "method" => &["cascade-12", "firenet", "cascade-128-kernel"],
        "embed" | "present" => &["", "1", "true", "yes", "0"],
        "step" => &["1", "16", "0"],
        "workers" => &["1", "4", "0"],
        "engine" => &["cpu", "gpu", "auto"],
        "lose-gpu" => &["1"],
        "path" => &["lecture", ""],
        _ => &[""],
    }
}

/// Valid links to start from: each demo's default state and the README's examples.
fn url_seeds() -> Vec<String> {
    let mut links = vec![
        ClassifyState::default().to_query(),
        AttackState::default().to_query(),
        UniversalState::default().to_query(),
        LinearityState::default().to_query(),
        StructuralState::default().to_query(),
        MriState::default().to_query(),
        HallucinationState::default().to_query(),
        KernelState::default().to_query(),
        DetailsState::default().to_query(),
        SweepState::default().to_query(),
        TradeoffState::default().to_query(),
    ];
    links.extend(
        [
            "model=cnn&digit=42",
            "model=cnn&digit=3&attack=deepfool_l2",
            "model=cnn&p=2&digit=0",
            "eps=0.03&d=784&side=28&digit=0",
            "image=brain&orientation=axial&slice=4&pattern=radial&rate=0.25&layer=12",
            "net=cascade-128&slice=0&t=1&noise=worst",
            "net=cascade-128&slice=axial+20&detail=text&text=AI&row=30&col=32&size=2&intensity=0.5&t=1",
            "net=cascade-128&slice=axial+20&detail=text&text=CAN+U+SEE+IT&row=32&col=32&size=1&intensity=0.3",
            "nets=cascade-128&rates=5,10,20,40&slices=9",
            "method=cascade-128-kernel",
            "?embed&present&path=lecture&step=3&workers=2&engine=cpu",
        ]
        .map(String::from),
    );
    links.extend(
        crate::lecture::lectures()
            .into_iter()
            .filter_map(|(_, s)| s.link.split_once('?').map(|(_, q)| q.to_string())),
    );
    links
}

/// A lecture path's code (`?path=`): valid or damaged.
fn path_code(g: &mut Gen) -> String {
    use base64::Engine as _;
    let steps: Vec<Step> = (0..g.pick(&[0usize, 1, 3, 40, 41]).to_owned())
        .map(|_| Step {
            link: match g.below(4) {
                0 => g.string(30),
                1 => format!(
                    "/{}",
                    "x".repeat(g.pick(&[10usize, 399, 400, 401]).to_owned())
                ),
                _ => format!("/classify?digit={}", g.below(3000)),
            },
            title: g.string(20),
            notice: if g.chance(1, 8) {
                "n".repeat(401)
            } else {
                g.string(50)
            },
        })
        .collect();
    let json = serde_json::to_vec(&steps).unwrap_or_default();
    let mut code = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(json);
    if g.chance(1, 4) {
        let mut bytes = code.into_bytes();
        let rounds = g.between(1, 3);
        mutate_bytes(g, &mut bytes, rounds);
        code = String::from_utf8_lossy(&bytes).into_owned();
    }
    code
}

fn url_value(g: &mut Gen, key: &str) -> String {
    match g.below(12) {
        0..=3 => g.pick(good_values(key)).to_string(),
        4 | 5 => g.pick(WILD_NUMBERS).to_string(),
        6 => g.string(60),
        7 => {
            let unit = if g.chance(1, 2) {
                g.pick(good_values(key)).to_string()
            } else {
                g.pick(WILD_NUMBERS).to_string()
            };
            let times = g.pick(&[2usize, 20, 500, 10_000]).to_owned();
            let sep = g.pick(&["", ",", " ", "-"]).to_string();
            let long = vec![if unit.is_empty() { "9".into() } else { unit }; times].join(&sep);
            long.chars().take(10_000).collect()
        }
        8 => format!(
            "{}{}{}",
            g.pick(good_values(key)),
            g.pick(&[",", " ", "+", "", ".", "e"]),
            g.pick(WILD_NUMBERS)
        ),
        9 if key == "path" => path_code(g),
        9 => {
            let other = *g.pick(URL_KEYS);
            g.pick(good_values(other)).to_string()
        }
        10 => format!("{}", g.f64()),
        _ => format!("{}", g.u64() >> g.below(64)),
    }
}

/// `text` percent-encoded in one of several styles (raw, all escaped, `+` for spaces, broken
/// escapes).
fn encode_part(g: &mut Gen, text: &str) -> String {
    match g.below(6) {
        0 => text.bytes().map(|b| format!("%{b:02X}")).collect(),
        1 => text.replace(' ', "+"),
        2 => {
            let mut s = text.to_string();
            let at = g.below(s.len() + 1);
            if s.is_char_boundary(at) {
                s.insert_str(
                    at,
                    g.pick::<&str>(&["%", "%e2%80", "%zz", "%2", "%25", "%00", "%ff"]),
                );
            }
            s
        }
        _ => text
            .chars()
            .map(|c| match c {
                '&' | '=' | '%' | '+' | '#' => format!("%{:02X}", c as u32),
                ' ' => "%20".into(),
                c => c.to_string(),
            })
            .collect(),
    }
}

fn url_input(g: &mut Gen, links: &[String]) -> Vec<u8> {
    match g.below(10) {
        0 => g.bytes(600),
        1..=2 => {
            let mut bytes = links[g.below(links.len())].clone().into_bytes();
            let rounds = g.between(1, 6);
            mutate_bytes(g, &mut bytes, rounds);
            bytes
        }
        _ => {
            let mut query = String::new();
            if g.chance(1, 5) {
                query.push('?');
            }
            let pairs = g.below(14);
            for i in 0..pairs {
                if i > 0 {
                    query.push_str(g.pick::<&str>(&["&", "&", "&", "&&", "&=&", "&?"]));
                }
                let key = if g.chance(6, 7) {
                    g.pick(URL_KEYS).to_string()
                } else {
                    g.string(12)
                };
                let value = url_value(g, &key);
                query.push_str(&encode_part(g, &key));
                if !(value.is_empty() && g.chance(1, 2)) {
                    query.push('=');
                    query.push_str(&encode_part(g, &value));
                }
            }
            if g.chance(1, 10) {
                query.push('&');
            }
            query.into_bytes()
        }
    }
}

/// Longest notice a page shows (values echoed in it are cut to [`ECHO`] characters).
pub const MAX_NOTICE: usize = 300;

/// The properties of one demo's state on query `q`.
fn check_state<S: QueryState + PartialEq + std::fmt::Debug>(
    demo: &str,
    q: &str,
) -> Result<(), String> {
    let parsed = S::from_query(q);
    if let Some(n) = parsed
        .notices
        .iter()
        .find(|n| n.chars().count() > MAX_NOTICE)
    {
        return Err(format!(
            "{demo}: a notice of {} characters (at most {MAX_NOTICE}; values are echoed up to \
             {ECHO}): {}…",
            n.chars().count(),
            n.chars().take(120).collect::<String>()
        ));
    }
    let link = parsed.state.to_query();
    let again = S::from_query(&link);
    if !again.notices.is_empty() {
        return Err(format!(
            "{demo}: the state written back, {link:?}, reads with notices {:?}",
            again.notices
        ));
    }
    if again.state != parsed.state {
        return Err(format!(
            "{demo}: the state written back, {link:?}, reads as {:?}, not {:?}",
            again.state, parsed.state
        ));
    }
    if again.state.to_query() != link {
        return Err(format!("{demo}: {link:?} is written back differently"));
    }
    Ok(())
}

/// A lecture path's code: decoded paths encode and decode back as themselves.
fn check_path(code: &str) -> Result<(), String> {
    if let Ok(path) = Path::decode(code) {
        if path.steps.is_empty() {
            return Err(format!("the path {code:?} decodes with no steps"));
        }
        for i in 0..path.steps.len() {
            let _ = path.title(i);
        }
        let _ = path.find(&path.steps[0].link);
        let again = Path::decode(&path.encode())
            .map_err(|e| format!("the path {code:?} does not decode again once encoded: {e}"))?;
        if again != path {
            return Err(format!(
                "the path {code:?} decodes differently once encoded"
            ));
        }
    }
    Ok(())
}

fn check_url(input: &[u8]) -> Result<(), String> {
    let q = String::from_utf8_lossy(input);
    let pairs = crate::route::parse_query(&q);
    let _ = crate::route::is_embed(&q);
    let _ = crate::protocol::EngineChoice::from_query(&q);
    let _ = crate::protocol::query_value(&q, "engine");
    check_state::<ClassifyState>("classify", &q)?;
    check_state::<AttackState>("attacks", &q)?;
    check_state::<UniversalState>("universal", &q)?;
    check_state::<LinearityState>("linearity", &q)?;
    check_state::<StructuralState>("structural", &q)?;
    check_state::<crate::classification::state::ExplanationState>("explanations", &q)?;
    check_state::<crate::classification::state::FalseStructureState>("false-structures", &q)?;
    check_state::<crate::classification::state::NonRobustState>("non-robust", &q)?;
    check_state::<MriState>("mri", &q)?;
    check_state::<HallucinationState>("hallucinations", &q)?;
    check_state::<KernelState>("kernel", &q)?;
    check_state::<DetailsState>("details", &q)?;
    check_state::<SweepState>("sweep", &q)?;
    check_state::<TradeoffState>("tradeoff", &q)?;
    for (_, value) in pairs.iter().filter(|(k, _)| k == "path") {
        check_path(value)?;
    }
    check_path(&q)?;
    let _ = Path::parse_lines(&q);
    let page = crate::lecture::page_query(&q, true, Some(&Path::lectures()), 3);
    if !crate::route::parse_query(&page)
        .iter()
        .any(|(k, v)| k == "path" && v == crate::lecture::LECTURES)
    {
        return Err(format!("page_query lost the path: {page:?}"));
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Uploads.

/// Valid small PNG and JPEG files of every colour type the decoder meets.
fn upload_seeds() -> Vec<Vec<u8>> {
    use image::codecs::jpeg::JpegEncoder;
    use image::codecs::png::PngEncoder;
    use image::{ExtendedColorType as C, ImageEncoder};
    let mut rng = ChaCha8Rng::seed_from_u64(20);
    let mut pixels = |n: usize| {
        let mut v = vec![0u8; n];
        rng.fill_bytes(&mut v);
        v
    };
    let mut files = Vec::new();
    for (w, h, color, bytes_per_pixel) in [
        (8u32, 8u32, C::L8, 1usize),
        (16, 12, C::La8, 2),
        (20, 20, C::Rgb8, 3),
        (9, 17, C::Rgba8, 4),
        (12, 12, C::L16, 2),
        (10, 10, C::Rgb16, 6),
        (33, 8, C::Rgba16, 8),
    ] {
        let data = pixels(w as usize * h as usize * bytes_per_pixel);
        let mut out = Vec::new();
        if PngEncoder::new(&mut out)
            .write_image(&data, w, h, color)
            .is_ok()
        {
            files.push(out);
        }
    }
    // EXIF orientation 6 (rotate 90° clockwise), as a phone writes it.
    let mut exif = b"II*\0".to_vec();
    exif.extend_from_slice(&8u32.to_le_bytes());
    exif.extend_from_slice(&1u16.to_le_bytes());
    exif.extend_from_slice(&0x0112u16.to_le_bytes());
    exif.extend_from_slice(&3u16.to_le_bytes());
    exif.extend_from_slice(&1u32.to_le_bytes());
    exif.extend_from_slice(&[6, 0, 0, 0]);
    exif.extend_from_slice(&0u32.to_le_bytes());
    for (w, h, color, channels, with_exif) in [
        (16u32, 16u32, C::L8, 1usize, false),
        (24, 16, C::Rgb8, 3, false),
        (17, 9, C::Rgb8, 3, true),
    ] {
        let data = pixels(w as usize * h as usize * channels);
        let mut out = Vec::new();
        let mut encoder = JpegEncoder::new_with_quality(&mut out, 90);
        if with_exif {
            let _ = encoder.set_exif_metadata(exif.clone());
        }
        if encoder.write_image(&data, w, h, color).is_ok() {
            files.push(out);
        }
    }
    files
}

const PNG_SIGNATURE: &[u8] = b"\x89PNG\r\n\x1a\n";

/// The CRC-32 of PNG chunks.
fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// Recomputes the CRC of every whole chunk of a PNG (so that mutations reach the decoder).
fn fix_png_crcs(data: &mut [u8]) {
    let mut at = PNG_SIGNATURE.len();
    while at + 12 <= data.len() {
        let len = u32::from_be_bytes([data[at], data[at + 1], data[at + 2], data[at + 3]]) as usize;
        let Some(end) = at.checked_add(8 + len).filter(|&e| e + 4 <= data.len()) else {
            break;
        };
        let crc = crc32(&data[at + 4..end]);
        data[end..end + 4].copy_from_slice(&crc.to_be_bytes());
        at = end + 4;
    }
}

/// The width and height a PNG's IHDR or a JPEG's first SOF claims, read independently of the
/// decoder.
pub fn claimed_dimensions(data: &[u8]) -> Option<(u32, u32)> {
    if data.starts_with(PNG_SIGNATURE) && data.get(12..16) == Some(b"IHDR") {
        let w = u32::from_be_bytes(data.get(16..20)?.try_into().ok()?);
        let h = u32::from_be_bytes(data.get(20..24)?.try_into().ok()?);
        return Some((w, h));
    }
    let at = jpeg_sof(data)?;
    let h = u16::from_be_bytes([data[at + 5], data[at + 6]]);
    let w = u16::from_be_bytes([data[at + 7], data[at + 8]]);
    Some((u32::from(w), u32::from(h)))
}

/// Where a JPEG's first start-of-frame marker is (with its height and width within the data).
fn jpeg_sof(data: &[u8]) -> Option<usize> {
    if !data.starts_with(&[0xFF, 0xD8]) {
        return None;
    }
    let mut at = 2;
    while at + 4 <= data.len() {
        if data[at] != 0xFF {
            return None;
        }
        let marker = data[at + 1];
        if marker == 0xFF {
            at += 1;
            continue;
        }
        let len = usize::from(u16::from_be_bytes([data[at + 2], data[at + 3]]));
        let sof = matches!(marker, 0xC0..=0xCF) && !matches!(marker, 0xC4 | 0xC8 | 0xCC);
        if sof {
            return (at + 9 <= data.len()).then_some(at);
        }
        if marker == 0xDA || marker == 0xD9 {
            return None;
        }
        at += 2 + len;
    }
    None
}

/// Sides a forged header claims.
const FORGED_SIDES: [u32; 14] = [
    0,
    1,
    7,
    8,
    100,
    4096,
    MAX_UPLOAD_SIDE,
    MAX_UPLOAD_SIDE + 1,
    6324,
    6325,
    40_000,
    65_535,
    0x7fff_ffff,
    u32::MAX,
];

fn upload_input(g: &mut Gen, seeds: &[Vec<u8>]) -> Vec<u8> {
    let mut data = seeds[g.below(seeds.len())].clone();
    match g.below(20) {
        0 => data = g.bytes(400),
        1 => {
            let magic: &[u8] = if g.chance(1, 2) {
                PNG_SIGNATURE
            } else {
                &[0xFF, 0xD8, 0xFF]
            };
            data = [magic, &g.bytes(400)].concat();
        }
        2 => {}
        3..=6 => {
            // A forged header: the dimensions (and for PNGs the depth and colour type).
            let (w, h) = (*g.pick(&FORGED_SIDES), *g.pick(&FORGED_SIDES));
            if data.starts_with(PNG_SIGNATURE) && data.len() >= 33 {
                data[16..20].copy_from_slice(&w.to_be_bytes());
                data[20..24].copy_from_slice(&h.to_be_bytes());
                if g.chance(1, 3) {
                    data[24] = *g.pick(&[1, 2, 4, 8, 16, 3, 0]);
                    data[25] = *g.pick(&[0, 2, 3, 4, 6, 1, 7]);
                }
                if g.chance(1, 4) {
                    data[28] = 1; // interlaced
                }
                fix_png_crcs(&mut data);
            } else if let Some(at) = jpeg_sof(&data) {
                let (w, h) = (w.min(65_535) as u16, h.min(65_535) as u16);
                data[at + 5..at + 7].copy_from_slice(&h.to_be_bytes());
                data[at + 7..at + 9].copy_from_slice(&w.to_be_bytes());
            }
            if g.chance(1, 3) {
                let cut = g.below(data.len() + 1);
                data.truncate(cut);
            }
        }
        7 | 8 => {
            let cut = g.below(data.len() + 1);
            data.truncate(cut);
        }
        9 => {
            let other = &seeds[g.below(seeds.len())];
            let (a, b) = (g.below(data.len() + 1), g.below(other.len() + 1));
            data.truncate(a);
            data.extend_from_slice(&other[b..]);
        }
        _ => {
            let rounds = g.between(1, 8);
            mutate_bytes(g, &mut data, rounds);
            if data.starts_with(PNG_SIGNATURE) && g.chance(1, 2) {
                fix_png_crcs(&mut data);
            }
        }
    }
    // The working side, first: mostly small (fast), sometimes outside the limits.
    let n: u32 = match g.below(20) {
        0 => *g.pick(&[0, 7, MAX_WORKING_SIDE as u32 + 1, u32::MAX]),
        1 => 128,
        _ => *g.pick(&[8, 16, 32, 64]),
    };
    [&n.to_le_bytes()[..], &data].concat()
}

fn check_upload(input: &[u8]) -> Result<(), String> {
    let (n, file) = match input {
        [a, b, c, d, rest @ ..] => (u32::from_le_bytes([*a, *b, *c, *d]) as usize, rest),
        _ => (64, input),
    };
    let before = LARGEST.with(Cell::get);
    let result = prepare_upload(file, n);
    let largest = LARGEST.with(Cell::get).max(before);
    // Over the limits, or more pixels than a file this long can hold (a truncated file or a
    // bomb under the limits): either way refused before the pixels are allocated.
    let format = if file.starts_with(PNG_SIGNATURE) {
        image::ImageFormat::Png
    } else {
        image::ImageFormat::Jpeg
    };
    let over_limit = claimed_dimensions(file).is_some_and(|(w, h)| {
        let pixels = u64::from(w) * u64::from(h);
        w.max(h) > MAX_UPLOAD_SIDE
            || pixels > MAX_PIXELS
            || pixels > crate::mri::upload::max_pixels_in(format, file.len())
    });
    match result {
        Ok(p) => {
            if over_limit {
                return Err("a file whose header claims more than the limits was decoded".into());
            }
            if p.n != n || p.image.len() != n * n {
                return Err(format!(
                    "asked for {n}×{n}, got n = {} with {} values",
                    p.n,
                    p.image.len()
                ));
            }
            if let Some(v) = p.image.iter().find(|v| !(0.0..=1.0).contains(*v)) {
                return Err(format!("a value {v} outside [0, 1]"));
            }
            if p.notes.is_empty() {
                return Err("a decoded upload without notes".into());
            }
            Ok(())
        }
        Err(crate::Error::Input(message)) => {
            if message.trim().is_empty() {
                return Err("an empty error message".into());
            }
            // Refused before allocation: nothing image-sized (the decoder's copy of the file
            // aside).
            let small = (1 << 20) + 4 * file.len();
            if over_limit && largest > small {
                return Err(format!(
                    "a header over the limits was refused only after allocating {largest} bytes \
                     ({message})"
                ));
            }
            Ok(())
        }
        Err(other) => Err(format!("not an error for people: {other:?}")),
    }
}

// ---------------------------------------------------------------------------------------------
// Weights and data.

/// The tiny cascade the weights target loads (`cascade0.conv{0,1}.{weight,bias}`).
const TINY_CASCADE: CascadeShape = CascadeShape {
    cascades: 1,
    layers: 2,
    channels: 3,
};

/// The 8 × 8 mask the fuzzed cascades are built with.
fn tiny_mask() -> &'static Mask {
    static MASK: OnceLock<Mask> = OnceLock::new();
    MASK.get_or_init(|| mask(Pattern::Cartesian, 8, 0.3, 1).expect("an 8 × 8 mask"))
}

/// Valid weights of [`TINY_CASCADE`].
fn tiny_cascade_weights() -> Vec<u8> {
    let mut tensors = Vec::new();
    for l in 0..TINY_CASCADE.layers {
        let cin = if l == 0 { 2 } else { TINY_CASCADE.channels };
        let cout = if l + 1 == TINY_CASCADE.layers {
            2
        } else {
            TINY_CASCADE.channels
        };
        let n = cout * cin * 9;
        tensors.push((
            format!("cascade0.conv{l}.weight"),
            vec![cout, cin, 3, 3],
            (0..n).map(|i| (i as f32 * 0.37).sin() * 0.1).collect(),
        ));
        tensors.push((
            format!("cascade0.conv{l}.bias"),
            vec![cout],
            vec![0.01; cout],
        ));
    }
    crate::tensor_file::f32_safetensors(&tensors, None).expect("tiny cascade weights")
}

/// Valid files of every loader (small ones: the linear classifier is the largest, 31 KB).
fn weight_seeds() -> Vec<Vec<u8>> {
    use safetensors::tensor::TensorView;
    use safetensors::Dtype;
    let mut rng = ChaCha8Rng::seed_from_u64(21);
    let mut floats = |n: usize| -> Vec<f32> {
        (0..n)
            .map(|_| (rng.next_u32() as f32 / u32::MAX as f32 - 0.5) * 0.2)
            .collect()
    };
    let mut files = Vec::new();
    // The linear classifier.
    let linear: Vec<(String, Vec<usize>, Vec<f32>)> = Architecture::Linear
        .parameter_shapes()
        .into_iter()
        .map(|(name, shape)| {
            let n = shape.iter().product();
            (name.to_string(), shape, floats(n))
        })
        .collect();
    files.extend(crate::tensor_file::f32_safetensors(&linear, None).ok());
    // Two universal perturbations.
    let mut universal = ShippedUniversal::default();
    for (model, ball) in [("cnn", Ball::L2), ("linear", Ball::Linf)] {
        let v: Vec<f64> = floats(784).into_iter().map(f64::from).collect();
        universal.insert(model, ball, &v);
    }
    files.extend(universal.to_safetensors().ok());
    // The linearity models (one per side).
    let models: Vec<_> = crate::classification::linearity::SIDES
        .iter()
        .map(|&side| crate::classification::linearity::ResolutionModel {
            side,
            model: crate::classification::affine::Affine {
                weights: (0..10)
                    .map(|_| floats(side * side).into_iter().map(f64::from).collect())
                    .collect(),
                bias: vec![0.0; 10],
            },
        })
        .collect();
    files.extend(models_to_safetensors(&models).ok());
    // Perturbations of two 8 × 8 slices.
    let mut perturbations = Perturbations::default();
    perturbations.insert("cascade-8/axial 3", &[floats(64), floats(64)]);
    perturbations.insert("firenet@cascade-8/axial 3", &[floats(64)]);
    files.extend(perturbations.to_safetensors().ok());
    // Three digits.
    let digits = Digits::new(
        (0..3 * 784).map(|i| (i % 256) as u8).collect(),
        vec![3, 1, 4],
    );
    files.extend(digits.ok().and_then(|d| d.to_safetensors().ok()));
    // Brain slices, 8 × 8.
    let stacks: Vec<(usize, Vec<u8>)> = [2usize, 1, 1]
        .iter()
        .map(|&k| (k, (0..k * 64).map(|i| (i * 7 % 256) as u8).collect()))
        .collect();
    let mut meta = std::collections::HashMap::new();
    meta.insert("source".to_string(), "fuzz".to_string());
    let names = ["axial", "coronal", "sagittal"];
    let views: Vec<_> = names
        .iter()
        .zip(&stacks)
        .filter_map(|(name, (k, data))| {
            meta.insert(
                format!("{name}_indices"),
                serde_json::to_string(&(0..*k).map(|i| 2 * i + 1).collect::<Vec<_>>()).ok()?,
            );
            Some((
                *name,
                TensorView::new(Dtype::U8, vec![*k, 8, 8], data).ok()?,
            ))
        })
        .collect();
    files.extend(safetensors::serialize(views, Some(meta)).ok());
    // The tiny cascade, and `.npy` files.
    files.push(tiny_cascade_weights());
    files.extend(crate::npy::write_f32(&[3, 4], &floats(12)).ok());
    files.extend(crate::npy::write_u8(&[2, 2, 4], &[7; 16]).ok());
    files
}

/// Dtypes a forged header names (valid, exotic and made up).
const DTYPES: &[&str] = &[
    "F32", "F64", "F16", "BF16", "I8", "U8", "I16", "U16", "I32", "U32", "I64", "U64", "BOOL",
    "F8_E4M3", "F8_E5M2", "F8_E8M0", "F4", "F6_E2M3", "C64", "X", "",
];

/// Sizes and offsets a forged header declares.
fn wild_size(g: &mut Gen) -> Value {
    match g.below(12) {
        0 => json!(0),
        1 => json!(1),
        2 => json!(2),
        3 => json!(3),
        4 => json!(u32::MAX),
        5 => json!(1u64 << 31),
        6 => json!(1u64 << 32 | 1),
        7 => json!(1u64 << 62),
        8 => json!(u64::MAX),
        9 => json!(-1),
        10 => json!(1.5),
        _ => json!(g.below(100_000)),
    }
}

/// Mutates the JSON header of a safetensors file (its tensors' dtypes, shapes and offsets, the
/// names, the metadata), the length prefix, or the values (NaN and infinities).
fn mutate_safetensors(g: &mut Gen, data: &[u8]) -> Option<Vec<u8>> {
    let n = usize::try_from(u64::from_le_bytes(data.get(..8)?.try_into().ok()?)).ok()?;
    let header_end = 8usize.checked_add(n).filter(|&e| e <= data.len())?;
    let mut header: serde_json::Map<String, Value> =
        serde_json::from_slice(&data[8..header_end]).ok()?;
    let mut body = data[header_end..].to_vec();
    let names: Vec<String> = header
        .keys()
        .filter(|k| *k != "__metadata__")
        .cloned()
        .collect();
    if names.is_empty() {
        return None;
    }
    for _ in 0..g.between(1, 3) {
        let name = g.pick(&names).clone();
        match g.below(10) {
            0 => {
                if let Some(t) = header.get_mut(&name) {
                    t["dtype"] = json!(*g.pick(DTYPES));
                }
            }
            1 => {
                if let Some(Value::Array(shape)) = header.get_mut(&name).map(|t| &mut t["shape"]) {
                    match g.below(4) {
                        0 => shape.push(wild_size(g)),
                        1 => {
                            shape.pop();
                        }
                        _ if !shape.is_empty() => {
                            let i = g.below(shape.len());
                            shape[i] = wild_size(g);
                        }
                        _ => shape.push(json!(0)),
                    }
                }
            }
            2 => {
                if let Some(Value::Array(offsets)) =
                    header.get_mut(&name).map(|t| &mut t["data_offsets"])
                {
                    if !offsets.is_empty() {
                        let i = g.below(offsets.len());
                        offsets[i] = wild_size(g);
                    }
                    if g.chance(1, 4) {
                        offsets.reverse();
                    }
                }
            }
            3 => {
                if let Some(t) = header.remove(&name) {
                    let new_name = if g.chance(1, 2) {
                        g.string(20)
                    } else {
                        g.pick(&[
                            "fc.weight",
                            "fc1.weight",
                            "conv1.weight",
                            "axial",
                            "images",
                            "labels",
                            "cnn/l2",
                            "x/r",
                            "x/scale",
                            "cascade0.conv0.weight",
                            "28x28.weight",
                        ])
                        .to_string()
                    };
                    header.insert(new_name, t);
                }
            }
            4 => {
                header.remove(&name);
            }
            5 => {
                if let Some(t) = header.get(&name).cloned() {
                    header.insert(format!("{name}.copy"), t);
                }
            }
            6 => {
                let meta = match g.below(4) {
                    0 => wild_json(g, 1),
                    1 => json!({ "source": g.string(20), "axial_indices": "[1,1]" }),
                    2 => json!({ "step_t": "x", "coronal_indices": "[0, 18446744073709551616]" }),
                    _ => {
                        let mut map = serde_json::Map::new();
                        map.insert(g.string(8), Value::String(g.string(8)));
                        Value::Object(map)
                    }
                };
                header.insert("__metadata__".into(), meta);
            }
            _ => {
                // A non-finite value where a float was.
                if !body.is_empty() {
                    let at = g.below(body.len()) & !3;
                    let bits: u32 = *g.pick(&[
                        f32::NAN.to_bits(),
                        f32::INFINITY.to_bits(),
                        f32::NEG_INFINITY.to_bits(),
                        0x7fa0_0000, // a signalling NaN
                        1,           // the smallest subnormal
                    ]);
                    let end = (at + 4).min(body.len());
                    body[at..end].copy_from_slice(&bits.to_le_bytes()[..end - at]);
                }
            }
        }
    }
    let mut text = serde_json::to_vec(&Value::Object(header)).ok()?;
    text.extend(std::iter::repeat_n(b' ', g.below(8)));
    let declared: u64 = match g.below(12) {
        0 => u64::MAX,
        1 => 1 << 63,
        2 => text.len() as u64 + 1,
        3 => (text.len() as u64).saturating_sub(1),
        4 => 100_000_001,
        _ => text.len() as u64,
    };
    let mut out = declared.to_le_bytes().to_vec();
    out.extend(text);
    out.extend(body);
    Some(out)
}

fn weights_input(g: &mut Gen, seeds: &[Vec<u8>]) -> Vec<u8> {
    let seed = &seeds[g.below(seeds.len())];
    match g.below(10) {
        0 => g.bytes(600),
        1 => seed.clone(),
        2 => {
            let mut data = seed.clone();
            data.truncate(g.below(seed.len() + 1));
            data
        }
        3 | 4 => {
            let mut data = seed.clone();
            let rounds = g.between(1, 8);
            mutate_bytes(g, &mut data, rounds);
            data
        }
        _ => mutate_safetensors(g, seed).unwrap_or_else(|| {
            let mut data = seed.clone();
            mutate_bytes(g, &mut data, 2);
            data
        }),
    }
}

/// An error is clear: it has a message.
fn clear(what: &str, e: &crate::Error) -> Result<(), String> {
    if e.to_string().trim().is_empty() {
        return Err(format!("{what}: an error without a message ({e:?})"));
    }
    Ok(())
}

fn finite(what: &str, values: impl IntoIterator<Item = f64>) -> Result<(), String> {
    match values.into_iter().find(|v| !v.is_finite()) {
        Some(v) => Err(format!("{what} loaded a value that is not finite ({v})")),
        None => Ok(()),
    }
}

fn check_weights(input: &[u8]) -> Result<(), String> {
    use candle_core::{DType, Device};
    for arch in Architecture::ALL {
        match Classifier::from_safetensors(arch, input, DType::F32, &Device::Cpu) {
            Ok(model) => {
                let params = model
                    .parameters()
                    .map_err(|e| format!("a loaded {arch:?} has no parameters: {e}"))?;
                finite(
                    arch.name(),
                    params.values().flatten().map(|&v| f64::from(v)),
                )?;
            }
            Err(e) => clear(arch.name(), &e)?,
        }
    }
    match ShippedUniversal::from_safetensors(input) {
        Ok(u) => {
            for model in Architecture::ALL {
                for ball in [Ball::L2, Ball::Linf] {
                    finite("universal", u.get(model.name(), ball).into_iter().flatten())?;
                }
            }
        }
        Err(e) => clear("universal", &e)?,
    }
    match models_from_safetensors(input) {
        Ok(models) => {
            for m in &models {
                finite(
                    "linearity",
                    m.model
                        .weights
                        .iter()
                        .flatten()
                        .chain(&m.model.bias)
                        .copied(),
                )?;
            }
        }
        Err(e) => clear("linearity", &e)?,
    }
    match Perturbations::from_safetensors(input) {
        Ok(p) => {
            for key in p.keys() {
                let sets = p.get(key).map_err(|e| e.to_string())?;
                finite(
                    "perturbations",
                    sets.iter().flatten().map(|&v| f64::from(v)),
                )?;
            }
        }
        Err(e) => clear("perturbations", &e)?,
    }
    match Digits::from_safetensors(input) {
        Ok(d) => {
            let _ = d.class_counts();
        }
        Err(e) => clear("digits", &e)?,
    }
    match BrainSlices::from_safetensors(input) {
        Ok(b) => {
            for o in b.orientations() {
                let _ = b.count(o);
            }
        }
        Err(e) => clear("brain slices", &e)?,
    }
    if let Err(e) = CascadeNet::from_safetensors("fuzz", TINY_CASCADE, input, tiny_mask()) {
        clear("cascade", &e)?;
    }
    if let Ok((dtype, shape, start)) = crate::npy::read_header(input) {
        let size: usize = match dtype {
            crate::npy::Dtype::F32 => 4,
            crate::npy::Dtype::U8 => 1,
        };
        let data = shape
            .iter()
            .try_fold(size, |n, &d| n.checked_mul(d))
            .and_then(|n| n.checked_add(start));
        if data != Some(input.len()) {
            return Err(format!(
                "npy: a header {shape:?} that does not fit the data"
            ));
        }
    }
    if let Ok(st) = safetensors::SafeTensors::deserialize(input) {
        for (_, view) in st.tensors() {
            if view.dtype() == safetensors::Dtype::F32 {
                let _ = crate::tensor_file::f32_values(&view);
            }
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Model cards and reports.

/// Words the card mutations use as keys and values.
const CARD_WORDS: &[&str] = &[
    "name",
    "architecture",
    "parameters",
    "held_out_accuracy",
    "training",
    "history",
    "shape",
    "cascades",
    "layers",
    "channels",
    "side",
    "mask",
    "pattern",
    "rate",
    "seed",
    "split",
    "cnn",
    "linear",
    "cnn-wide",
    "cascade-12",
    "variable_density",
    "cartesian",
    "radial",
    "separated",
    "interleaved",
];

fn card_seeds() -> Vec<Value> {
    [
        include_str!("../static/models/linear.json"),
        include_str!("../static/models/cnn.json"),
        include_str!("../static/models/cascade-12.json"),
        include_str!("../static/models/cascade-128.json"),
    ]
    .iter()
    .filter_map(|text| serde_json::from_str(text).ok())
    .collect()
}

fn check_card(input: &[u8]) -> Result<(), String> {
    use crate::card::ModelCard;
    if let Ok(card) = serde_json::from_slice::<ModelCard>(input) {
        if let Err(e) = card.architecture_kind() {
            clear("model card", &e)?;
        }
        let text = serde_json::to_string(&card).map_err(|e| format!("a card re-encodes: {e}"))?;
        serde_json::from_str::<ModelCard>(&text)
            .map_err(|e| format!("a model card does not read back once written: {e}"))?;
    }
    if let Ok(card) = serde_json::from_slice::<NetCard>(input) {
        // Its network (against the tiny cascade's weights) and its mask.
        if let Err(e) =
            CascadeNet::from_safetensors(&card.name, card.shape.into(), tiny_weights(), tiny_mask())
        {
            clear("network card", &e)?;
        }
        match card.mask.mask(card.side) {
            Ok(m) if m.side() != card.side => {
                return Err(format!(
                    "a mask of side {} for side {}",
                    m.side(),
                    card.side
                ))
            }
            Ok(_) => {}
            Err(e) => clear("network card's mask", &e)?,
        }
        let text = serde_json::to_string(&card).map_err(|e| format!("a card re-encodes: {e}"))?;
        serde_json::from_str::<NetCard>(&text)
            .map_err(|e| format!("a network card does not read back once written: {e}"))?;
    }
    // The reports the pages read.
    use crate::mri::learned;
    let text = String::from_utf8_lossy(input);
    let results = [
        learned::sweep::SweepReport::from_json(input).err(),
        learned::tradeoff::TradeoffReport::from_json(input).err(),
        learned::kernel_training::KernelDetailReport::from_json(input).err(),
        learned::hallucination::InstabilityReport::from_json(&text).err(),
        learned::warm_start::WarmStartReport::from_json(&text).err(),
        crate::classification::linearity::LinearityReport::from_json(&text).err(),
        crate::peers::Peers::from_json(input).err(),
    ];
    for e in results.iter().flatten() {
        clear("report", e)?;
    }
    Ok(())
}

/// [`tiny_cascade_weights`], made once.
fn tiny_weights() -> &'static [u8] {
    static WEIGHTS: OnceLock<Vec<u8>> = OnceLock::new();
    WEIGHTS.get_or_init(tiny_cascade_weights)
}

// ---------------------------------------------------------------------------------------------
// The worker protocol.

/// Words the protocol mutations use as keys and values: the jobs' kinds and fields.
const PROTOCOL_WORDS: &[&str] = &[
    "id",
    "job",
    "kind",
    "body",
    "model",
    "image",
    "count",
    "digits",
    "side",
    "rate",
    "rates",
    "nets",
    "slices",
    "data_url",
    "load_model",
    "classify",
    "evaluate",
    "attack",
    "robustness",
    "reconstruct",
    "firenet_layer",
    "upload",
    "brain_catalog",
    "hallucinate",
    "instability_search",
    "universal",
    "transfer",
    "image_transfer",
    "smallest_patch",
    "explain",
    "kernel",
    "sweep",
    "sweep_slice",
    "bench_engine",
    "cancel",
    "progress",
    "failed",
    "cnn",
    "deepfool_l2",
    "l2",
    "linf",
    "radial",
];

/// One request of each kind, and a few replies (as JSON, so that they follow the protocol's
/// changes without code here).
fn protocol_seeds() -> Vec<Value> {
    let image: Vec<f32> = (0..784).map(|i| (i % 7) as f32 / 7.0).collect();
    let job = |job: Value| json!({ "id": 7, "job": job });
    vec![
        job(json!({ "kind": "load_model", "model": "cnn" })),
        job(json!({ "kind": "classify", "model": "cnn", "image": image })),
        job(json!({ "kind": "evaluate", "model": "mlp", "count": 2000 })),
        job(
            json!({ "kind": "evaluate", "model": "mlp", "count": 2000, "digits": { "start": 0, "end": 100 } }),
        ),
        job(
            json!({ "kind": "attack", "model": "cnn", "image": image, "attack": "deepfool_l2", "seed": 1 }),
        ),
        job(json!({ "kind": "robustness", "model": "linear", "count": 50 })),
        job(json!({
            "kind": "reconstruct",
            "image": { "source": "brain", "orientation": "axial", "index": 4 },
            "side": 128, "pattern": "radial", "rate": 0.25, "noise": 0.0, "seed": 1,
            "wavelet": "db4", "lambda": 0.001, "blocks": 5, "layers_per_block": 10,
            "engine": "cpu"
        })),
        job(json!({ "kind": "firenet_layer", "run": 3, "layer": 12 })),
        job(
            json!({ "kind": "upload", "data_url": "data:image/png;base64,iVBORw0KGgo=", "side": 128 }),
        ),
        job(json!({ "kind": "brain_catalog", "side": 128 })),
        job(
            json!({ "kind": "hallucinate", "net": "cascade-128", "slice": "axial 20", "strength": 1.0, "gaussian": false }),
        ),
        job(
            json!({ "kind": "instability_search", "net": "cascade-12", "slice": "axial 10", "rel_r": 0.05, "iterations": 10, "seed": 1 }),
        ),
        job(json!({
            "kind": "universal", "model": "cnn", "live": true, "count": 500, "grid": 12,
            "settings": { "ball": "l2", "xi": 5.0, "delta": 0.2, "max_passes": 10,
                          "deepfool_iterations": 10, "overshoot": 0.02, "seed": 1 }
        })),
        job(
            json!({ "kind": "transfer", "ball": "linf", "live": false, "digits": { "start": 0, "end": 10 }, "rows": [0, 2] }),
        ),
        job(json!({ "kind": "image_transfer", "source": "cnn", "digit": 3 })),
        job(
            json!({ "kind": "smallest_patch", "model": "cnn", "image": image, "max_size": 4, "sizes": [1, 2] }),
        ),
        job(
            json!({ "kind": "kernel", "net": "cascade-12", "slice": "axial 10", "detail": vec![0.0f32; 64], "t": 1.0 }),
        ),
        job(
            json!({ "kind": "sweep", "nets": ["cascade-8"], "rates": [0.05, 0.1, 0.2], "slices": 2 }),
        ),
        job(json!({ "kind": "sweep_slice", "nets": ["cascade-8"], "rate": 0.1, "slice": 0 })),
        job(json!({
            "kind": "explain", "model": "cnn", "image": image, "method": "gradient",
            "target": { "source": "image", "image": image }, "steps": 30, "max_change": 0.1
        })),
        job(json!({
            "kind": "explain", "model": "cnn", "image": image, "method": "gradient-times-input",
            "target": { "source": "map", "map": image }, "steps": 300, "max_change": 0.05
        })),
        job(json!({ "kind": "bench_engine", "repeats": 3 })),
        job(json!({ "kind": "cancel", "target": 7 })),
        json!({ "id": 7, "body": { "kind": "progress", "done": 1, "total": 2 } }),
        json!({ "id": 7, "body": { "kind": "failed", "message": "no" } }),
        json!({ "id": 0, "body": { "kind": "ready" } }),
    ]
}

fn check_protocol(input: &[u8]) -> Result<(), String> {
    use crate::protocol::Job;
    let text = String::from_utf8_lossy(input);
    if let Ok(request) = Request::decode(&text) {
        let encoded = request.encode();
        match Request::decode(&encoded) {
            Ok(again) if again == request => {}
            // Known gap (docs/hardening.md): a number beyond f32's range decodes as an infinite
            // f32, which JSON writes as null.
            _ if beyond_f32(&text) => {}
            // Known gap: serde_json's default float parser (without its `float_roundtrip`
            // feature) may read a number 1 ulp off, so a float can move by that much.
            Ok(again)
                if serde_json::to_value(&again)
                    .ok()
                    .zip(serde_json::to_value(&request).ok())
                    .is_some_and(|(a, b)| within_an_ulp(&a, &b)) => {}
            Ok(again) => {
                return Err(format!(
                    "a request re-decodes differently: {again:?} from {encoded}"
                ))
            }
            Err(e) => {
                return Err(format!(
                    "a request does not decode once encoded ({e}): {encoded}"
                ))
            }
        }
        // The checks the core has for a decoded job (the worker's own live in `web::worker`).
        match &request.job {
            Job::Classify { image, .. } | Job::Attack { image, .. } => {
                let _ = crate::classification::classifier::check_image(image);
            }
            Job::Reconstruct(job) => {
                let _ = job.setup();
            }
            Job::Sweep(job) => {
                let _ = crate::mri::learned::sweep::check_rates(&job.rates);
            }
            Job::Explain(job) => {
                let _ = job.settings();
            }
            _ => {}
        }
    }
    if let Ok(reply) = Reply::decode(&text) {
        let _ = reply.encode();
        let _ = reply.body.is_final();
    }
    Ok(())
}

/// Whether two JSON values are equal but for floats a few ulps apart.
fn within_an_ulp(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => match (x.as_f64(), y.as_f64()) {
            (Some(x), Some(y)) => (x - y).abs() <= 4.0 * f64::EPSILON * x.abs().max(y.abs()),
            _ => x == y,
        },
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| within_an_ulp(a, b))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, a)| y.get(k).is_some_and(|b| within_an_ulp(a, b)))
        }
        _ => a == b,
    }
}

/// Whether JSON text holds a number beyond the range of `f32` (read token by token: the text
/// may nest deeper than `serde_json::Value` reads).
fn beyond_f32(text: &str) -> bool {
    let mut in_string = false;
    let mut escaped = false;
    let mut number = String::new();
    let mut beyond = false;
    let mut end_number = |number: &mut String| {
        beyond |= number
            .parse::<f64>()
            .is_ok_and(|x| x.abs() > f64::from(f32::MAX));
        number.clear();
    };
    for c in text.chars() {
        if in_string {
            match (escaped, c) {
                (true, _) => escaped = false,
                (false, '\\') => escaped = true,
                (false, '"') => in_string = false,
                _ => {}
            }
        } else if c.is_ascii_digit() || matches!(c, '-' | '+' | '.' | 'e' | 'E') {
            number.push(c);
        } else {
            end_number(&mut number);
            in_string = c == '"';
        }
    }
    end_number(&mut number);
    beyond
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs `target` on `n` inputs and asserts that none failed (with `FUZZ_CORPUS=dir`, the
    /// failing inputs are kept there first).
    fn clean(target: Target, n: u64) {
        let report = run(target, n, 2026);
        if let Ok(dir) = std::env::var("FUZZ_CORPUS") {
            save_failures(&report, std::path::Path::new(&dir)).unwrap();
        }
        assert_eq!(report.inputs, n);
        assert!(
            report.failed == 0,
            "{} of {n} {} inputs failed:\n{}",
            report.failed,
            target.name(),
            report.failures.join("\n")
        );
    }

    #[test]
    fn url_states_survive_any_query() {
        clean(Target::Url, 3000);
    }

    #[test]
    fn uploads_give_an_image_or_a_clear_error() {
        clean(Target::Upload, 2000);
    }

    #[test]
    fn weight_files_give_weights_or_a_clear_error() {
        clean(Target::Weights, 1500);
    }

    #[test]
    fn cards_give_a_card_or_a_clear_error() {
        clean(Target::Card, 3000);
    }

    #[test]
    fn worker_messages_give_a_request_or_an_error() {
        clean(Target::Protocol, 3000);
    }

    /// A PNG whose IHDR claims `width × height` (8-bit grey) with a few bytes of data.
    fn png_claiming(width: u32, height: u32) -> Vec<u8> {
        let mut out = PNG_SIGNATURE.to_vec();
        for (kind, data) in [
            (
                &b"IHDR"[..],
                [
                    &width.to_be_bytes()[..],
                    &height.to_be_bytes(),
                    &[8, 0, 0, 0, 0],
                ]
                .concat(),
            ),
            (b"IDAT", vec![0x78, 0x9c, 0x03, 0x00]),
            (b"IEND", vec![]),
        ] {
            out.extend_from_slice(&(data.len() as u32).to_be_bytes());
            let start = out.len();
            out.extend_from_slice(kind);
            out.extend_from_slice(&data);
            let crc = crc32(&out[start..]);
            out.extend_from_slice(&crc.to_be_bytes());
        }
        out
    }

    /// A valid JPEG whose start of frame is forged to claim `width × height`.
    fn jpeg_claiming(width: u16, height: u16) -> Vec<u8> {
        let mut file = upload_seeds()
            .into_iter()
            .find(|f| f.starts_with(&[0xFF, 0xD8]))
            .unwrap();
        let at = jpeg_sof(&file).unwrap();
        file[at + 5..at + 7].copy_from_slice(&height.to_be_bytes());
        file[at + 7..at + 9].copy_from_slice(&width.to_be_bytes());
        file
    }

    /// Decompression bombs (a header claiming 65535 × 65535, 4.3 gigapixels, in a few bytes) are
    /// refused from the header, before any pixel buffer, with the limits in the message.
    #[test]
    fn bombs_are_refused_before_any_pixel_buffer() {
        for (file, claim) in [
            (png_claiming(65_535, 65_535), "65535×65535"),
            // Beyond PNG's own limit (2³¹ − 1): the decoder refuses to read the size back.
            (png_claiming(u32::MAX, 1), "too large"),
            (png_claiming(MAX_UPLOAD_SIDE + 1, 64), "16385×64"),
            (jpeg_claiming(65_535, 65_535), "65535×65535"),
            (jpeg_claiming(20_000, 100), "20000×100"),
        ] {
            assert!(claimed_dimensions(&file).is_some(), "{claim}");
            let input = [&128u32.to_le_bytes()[..], &file].concat();
            let (verdict, largest) = check_measured(Target::Upload, &input);
            assert!(verdict.is_ok(), "{claim}: {verdict:?}");
            // The decoders' fixed buffers (128 KiB), nothing image-sized.
            assert!(largest < 1 << 20, "{claim}: {largest} bytes");
            let message = prepare_upload(&file, 128).unwrap_err().to_string();
            assert!(
                message.contains(claim)
                    && message.contains("40 megapixels")
                    && message.contains("16384 pixels a side"),
                "{message}"
            );
        }
        // Within the limits (6324² ≈ 40 megapixels) on a file that cannot hold so many pixels:
        // refused too before the pixel buffer (40 MB) is allocated.
        for file in [png_claiming(6_324, 6_324), jpeg_claiming(6_324, 6_324)] {
            let (verdict, largest) =
                check_measured(Target::Upload, &[&64u32.to_le_bytes()[..], &file].concat());
            assert!(verdict.is_ok(), "{verdict:?}");
            assert!(largest < 1 << 20, "{largest} bytes");
            let message = prepare_upload(&file, 64).unwrap_err().to_string();
            assert!(
                message.contains("6324×6324") && message.contains("damaged or truncated"),
                "{message}"
            );
        }
    }

    #[test]
    fn numbers_beyond_f32_are_found_at_any_depth() {
        assert!(beyond_f32(r#"{"image":[1,8e39]}"#));
        assert!(beyond_f32(&format!(
            "{}-1e40{}",
            "[".repeat(300),
            "]".repeat(300)
        )));
        assert!(!beyond_f32(r#"{"image":[1,3e38],"x":"8e39\"9e99"}"#));
    }

    #[test]
    fn shrinking_keeps_a_failing_input_failing() {
        let input = b"model=cnn&xi=5555555555&digit=42";
        let small = shrink(input, 1000, |c| c.windows(2).any(|w| w == b"xi"));
        assert_eq!(small, b"xi");
        // Nothing fails: nothing shrinks.
        assert_eq!(minimize(Target::Weights, b"abc", 100), b"abc");
    }

    #[test]
    fn allocations_are_tracked_in_the_tests() {
        assert!(allocations_tracked());
        let (verdict, largest) = check_measured(Target::Url, b"model=cnn");
        assert!(verdict.is_ok());
        assert!(largest > 0 && largest < 1 << 20, "{largest}");
    }

    #[test]
    fn panics_are_caught_and_reported_with_their_place() {
        install_panic_hook();
        QUIET.with(|q| q.set(true));
        let caught = panic::catch_unwind(|| panic!("on purpose"));
        QUIET.with(|q| q.set(false));
        assert!(caught.is_err());
        let place = PANIC_PLACE.with(|p| p.borrow_mut().take()).unwrap();
        assert!(place.contains("fuzz.rs"), "{place}");
    }

    #[test]
    fn seeds_are_valid_inputs() {
        for file in upload_seeds() {
            assert!(prepare_upload(&file, 16).is_ok(), "{}", show(&file[..40]));
        }
        assert!(upload_seeds().len() >= 10);
        assert!(
            CascadeNet::from_safetensors("tiny", TINY_CASCADE, tiny_weights(), tiny_mask()).is_ok()
        );
        assert!(card_seeds().len() == 4);
        let decoded = protocol_seeds()
            .iter()
            .filter(|v| Request::decode(&v.to_string()).is_ok())
            .count();
        assert!(decoded >= 15, "only {decoded} protocol seeds decode");
    }

    /// Every input that ever failed a target, kept in `tests/corpus/fuzz/<target>/`.
    #[test]
    fn the_corpus_of_past_failures_passes() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus/fuzz");
        let mut replayed = 0;
        for target in Target::ALL {
            let Ok(entries) = std::fs::read_dir(root.join(target.name())) else {
                continue;
            };
            for entry in entries.flatten() {
                let input = std::fs::read(entry.path()).unwrap();
                if let Err(why) = check(target, &input) {
                    panic!("{}: {why}", entry.path().display());
                }
                replayed += 1;
            }
        }
        assert!(replayed > 0, "no corpus under {}", root.display());
    }
}
