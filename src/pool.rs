//! How many compute workers a job that splits into independent parts may use.
//!
//! The page keeps one compute worker for everything else; jobs that are sums of independent
//! parts (the sampling sweep's rates, the transfer table's digits, the held-out evaluation's and
//! the robustness run's digits, the patch search's sizes) run on a pool of workers of their own,
//! each with its own copy of the wasm module, one part per worker, with one progress bar and one
//! cancel for the whole job (a part that does not stop by itself within
//! `web::compute::CANCEL_GRACE_MS` has its worker terminated).
//! The pool has `navigator.hardwareConcurrency − 1` workers (the page's thread keeps a core),
//! but at least 2 (on a 2-core machine the page's thread is idle while the workers compute, so a
//! second worker is what makes the machine's second core count) and at most [`MAX_WORKERS`], and
//! no more than the memory budget allows: [`MEMORY_BUDGET`] over [`WORKER_MEMORY`] each. A link
//! may ask for fewer or more with `?workers=N` before the `#` (1: the parts run one after another
//! on one worker, the single-worker baseline).

/// The most workers the pool starts.
pub const MAX_WORKERS: usize = 8;

/// What the pool budgets for one compute worker. Measured (`scripts/bench-pool.mjs`): a
/// worker's wasm linear memory after the sweep at 128² is 12–14 MiB (the networks' weights, the
/// held-out slices, the engine's buffers); the browser does not tell a page what the compiled
/// module (6.1 MB of wasm) and the worker's JS heap add, so the budget takes 64 MiB a worker.
pub const WORKER_MEMORY: usize = 64 << 20;

/// The memory all the pool's workers together may hold (besides the page's own worker): 512 MiB,
/// which caps the pool at [`MAX_WORKERS`] workers.
pub const MEMORY_BUDGET: usize = 512 << 20;

// The budget never caps the pool below its most workers.
const _: () = assert!(MEMORY_BUDGET / WORKER_MEMORY >= MAX_WORKERS);

/// The pool's size for a machine with `cores` logical cores, or the `asked` size of a link
/// (clamped to 1…[`MAX_WORKERS`]).
pub fn pool_size(cores: usize, asked: Option<usize>) -> usize {
    let by_memory = (MEMORY_BUDGET / WORKER_MEMORY).max(1);
    let size = asked.unwrap_or_else(|| cores.saturating_sub(1).max(2));
    size.clamp(1, MAX_WORKERS.min(by_memory))
}

/// `?workers=N` in a page query (before the `#`), if it is a number.
pub fn asked_workers(search: &str) -> Option<usize> {
    crate::route::parse_query(search)
        .into_iter()
        .rev()
        .find(|(k, _)| k == "workers")
        .and_then(|(_, v)| v.parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pool_uses_every_core_but_one_within_its_caps() {
        assert_eq!(pool_size(1, None), 2);
        assert_eq!(pool_size(2, None), 2);
        assert_eq!(pool_size(4, None), 3);
        assert_eq!(pool_size(8, None), 7);
        assert_eq!(pool_size(16, None), 8, "512 MiB / 64 MiB = 8 workers");
        assert_eq!(pool_size(64, None), 8);
        assert_eq!(pool_size(8, Some(1)), 1);
        assert_eq!(pool_size(2, Some(4)), 4);
        assert_eq!(pool_size(2, Some(0)), 1);
        assert_eq!(pool_size(2, Some(99)), 8);
    }

    #[test]
    fn links_ask_for_a_size() {
        assert_eq!(asked_workers("?workers=1"), Some(1));
        assert_eq!(asked_workers("?engine=cpu&workers=3"), Some(3));
        assert_eq!(asked_workers("?workers=x"), None);
        assert_eq!(asked_workers(""), None);
    }
}
