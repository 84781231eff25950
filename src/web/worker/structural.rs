//! The structural perturbations demo's job in the compute worker: the search for the smallest
//! label-changing patch ([`crate::classification::structural::PatchSearch`]), one row of positions at a time,
//! yielding to the event loop (a cancel, a live classification) every few tens of milliseconds.

use crate::classification::structural::PatchSearch;
use crate::protocol::{Body, PatchAnswer};
use crate::web::now_ms;
use crate::web::worker::runtime::model_named;
use crate::{Error, Result};

/// Longest stretch of work between two yields, milliseconds.
const SLICE_MS: f64 = 25.0;

/// Runs [`crate::protocol::Job::SmallestPatch`] (over `sizes` only, a part of the job for the
/// worker pool; empty, all sides): reports [`Body::Progress`] in rows of positions, stops with
/// [`Error::Cancelled`] when `cancelled()` says so.
pub async fn smallest_patch(
    model: String,
    image: Vec<f32>,
    max_size: usize,
    sizes: Vec<usize>,
    cancelled: &dyn Fn() -> bool,
    progress: &dyn Fn(Body),
) -> Result<Body> {
    let loaded = model_named(&model).await?;
    let start = now_ms();
    let mut search = PatchSearch::with_sizes(&loaded.network, &image, max_size, &sizes)?;
    let total = search.total_rows();
    progress(Body::Progress { done: 0, total });
    let mut slice = now_ms();
    while search.step()? {
        if now_ms() - slice >= SLICE_MS {
            progress(Body::Progress {
                done: search.rows_done(),
                total,
            });
            gloo::timers::future::TimeoutFuture::new(0).await;
            if cancelled() {
                return Err(Error::Cancelled);
            }
            slice = now_ms();
        }
    }
    let millis = now_ms() - start;
    let (original, evaluations) = (search.original_label(), search.evaluations());
    let sizes = search.sizes().to_vec();
    Ok(Body::SmallestPatch(PatchAnswer {
        model,
        max_size,
        original,
        found: search.finish(),
        evaluations,
        millis,
        sizes,
    }))
}
