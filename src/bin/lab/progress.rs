//! The progress bars of `lab`'s long runs (indicatif, on stderr, with an estimate of the time
//! left) and [`say!`], the `println!` that every command prints its figures with: while a bar
//! is shown it clears the bar, prints the line to stdout and draws the bar again, so that lines
//! and bar do not garble. When stderr is not a terminal the bar is hidden and `say!` is
//! `println!`. A bar only counts: it changes no computation, seed or output file.

use indicatif::{ProgressBar, ProgressStyle};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

/// The bar shown now, if any (one at a time).
static ACTIVE: Mutex<Option<ProgressBar>> = Mutex::new(None);

/// Prints one line to stdout without garbling the bar shown now; see [`say!`].
pub fn print_line(line: std::fmt::Arguments) {
    let bar = ACTIVE
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .clone();
    match bar {
        Some(bar) => bar.suspend(|| println!("{line}")),
        None => println!("{line}"),
    }
}

/// `println!` for `lab`'s figures, drawn around the progress bar shown now.
macro_rules! say {
    ($($arg:tt)*) => {
        $crate::progress::print_line(format_args!($($arg)*))
    };
}
pub(crate) use say;

/// A progress bar over `len` units of work, shown until it is dropped.
pub struct Progress(ProgressBar);

impl Progress {
    /// Starts a bar for `what` (its prefix) over `len` units.
    pub fn new(what: &str, len: usize) -> Self {
        let bar = ProgressBar::new(len as u64);
        bar.set_style(
            ProgressStyle::with_template(
                "{prefix} [{elapsed_precise}] {wide_bar} {pos}/{len} {msg} (about {eta} left)",
            )
            .expect("a valid template"),
        );
        bar.set_prefix(what.to_string());
        // Redraw between units, so that the elapsed time and the estimate keep moving.
        bar.enable_steady_tick(Duration::from_millis(500));
        *ACTIVE.lock().unwrap_or_else(PoisonError::into_inner) = Some(bar.clone());
        Self(bar)
    }

    /// One unit done.
    pub fn inc(&self) {
        self.0.inc(1);
    }

    /// What is measured now, shown after the count.
    pub fn message(&self, message: impl Into<String>) {
        self.0.set_message(message.into());
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.0.finish_and_clear();
        *ACTIVE.lock().unwrap_or_else(PoisonError::into_inner) = None;
    }
}

/// Prints one epoch of a classifier's training ([`barriers_lab::classification::training::train`]):
/// the mean loss, the held-out accuracy (`accuracy` says of what) and the time since `start`.
pub fn say_epoch(
    r: &barriers_lab::classification::training::EpochReport,
    accuracy: &str,
    start: std::time::Instant,
) {
    say!(
        "  epoch {:>3}  loss {:.4}  {accuracy} {:.4}  ({:.0} s)",
        r.epoch,
        r.mean_loss,
        r.held_out_accuracy,
        start.elapsed().as_secs_f64()
    );
}
