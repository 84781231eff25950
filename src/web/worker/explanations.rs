//! The manipulated explanations demo's job in the compute worker
//! ([`crate::classification::explanation`]): the target map, then one Adam step at a time,
//! yielding to the event loop (a cancel) every few tens of milliseconds, with the progress.

use crate::classification::explanation::{explanation, Manipulation};
use crate::protocol::{Body, ExplainAnswer, ExplainJob, ExplainTarget};
use crate::web::now_ms;
use crate::web::worker::runtime::model_named;
use crate::{Error, Result};

/// Longest stretch of work between two yields, milliseconds.
const SLICE_MS: f64 = 25.0;

/// Runs [`crate::protocol::Job::Explain`]: reports [`Body::Progress`] in Adam steps, stops with
/// [`Error::Cancelled`] when `cancelled()` says so.
pub async fn explain(
    job: ExplainJob,
    cancelled: &dyn Fn() -> bool,
    progress: &dyn Fn(Body),
) -> Result<Body> {
    let settings = job.settings()?;
    let loaded = model_named(&job.model).await?;
    let start = now_ms();
    let target = match &job.target {
        ExplainTarget::Image { image } => explanation(&loaded.model, image, None, job.method)?.1,
        ExplainTarget::Map { map } => map.clone(),
    };
    let mut run = Manipulation::new(&loaded.model, &job.image, &target, settings)?;
    let total = settings.steps;
    progress(Body::Progress { done: 0, total });
    let mut slice = now_ms();
    while !run.is_done() {
        run.step()?;
        if now_ms() - slice >= SLICE_MS {
            progress(Body::Progress {
                done: run.progress().0,
                total,
            });
            gloo::timers::future::TimeoutFuture::new(0).await;
            if cancelled() {
                return Err(Error::Cancelled);
            }
            slice = now_ms();
        }
    }
    let result = run.finish()?;
    Ok(Body::Explained(Box::new(ExplainAnswer {
        model: job.model,
        result,
        millis: now_ms() - start,
    })))
}
