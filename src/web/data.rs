//! The lab's data files, fetched once per page or worker and shared by everything that needs them.

use crate::classification::mnist::Digits;
use crate::web::fetch::fetch_bytes;
use crate::{Error, Result};
use futures::future::{FutureExt, LocalBoxFuture, Shared};
use std::cell::RefCell;
use std::collections::HashMap;
use std::future::Future;
use std::rc::Rc;

/// The held-out digits, relative to the page and to the worker script alike.
pub const HELD_OUT_URL: &str = "./static/data/mnist-heldout.safetensors";

/// The first training digits, the set `X` of the universal perturbations demo.
pub const UNIVERSAL_SET_URL: &str = "./static/data/mnist-universal.safetensors";

/// A load shared by everyone who asks while it runs; errors are strings so that it can be cloned.
pub type Shareable<T> = Shared<LocalBoxFuture<'static, std::result::Result<Rc<T>, String>>>;

/// A per-thread cache of loads by key.
pub type LoadCache<T> = std::thread::LocalKey<RefCell<HashMap<String, Shareable<T>>>>;

thread_local! {
    static DIGITS: RefCell<HashMap<String, Shareable<Digits>>> = RefCell::new(HashMap::new());
}

/// Runs `load` once per `key` and shares its result with everyone who asks, also while it runs;
/// a failed load is forgotten, so the next call tries again.
pub async fn load_once<T: 'static, F>(
    cache: &'static LoadCache<T>,
    key: &str,
    load: impl FnOnce() -> F,
) -> Result<Rc<T>>
where
    F: Future<Output = Result<T>> + 'static,
{
    let future = cache.with(|c| {
        c.borrow_mut()
            .entry(key.to_string())
            .or_insert_with(|| {
                let pending = load();
                let f: LocalBoxFuture<'static, _> =
                    Box::pin(async move { pending.await.map(Rc::new).map_err(|e| e.to_string()) });
                f.shared()
            })
            .clone()
    });
    let result = future.await;
    if result.is_err() {
        cache.with(|c| c.borrow_mut().remove(key));
    }
    result.map_err(Error::Load)
}

/// The held-out digits, fetched once.
pub async fn held_out() -> Result<Rc<Digits>> {
    load_once(&DIGITS, HELD_OUT_URL, || async {
        Digits::from_safetensors(&fetch_bytes(HELD_OUT_URL).await?)
    })
    .await
}

/// The universal perturbations' training digits, fetched once.
pub async fn universal_set() -> Result<Rc<Digits>> {
    load_once(&DIGITS, UNIVERSAL_SET_URL, || async {
        Digits::from_safetensors(&fetch_bytes(UNIVERSAL_SET_URL).await?)
    })
    .await
}
