//! The lab's data files, fetched once per page or worker and shared by everything that needs them.

use crate::mnist::Digits;
use crate::web::fetch::fetch_bytes;
use crate::{Error, Result};
use futures::future::{FutureExt, LocalBoxFuture, Shared};
use std::cell::RefCell;
use std::rc::Rc;

/// The held-out digits, relative to the page and to the worker script alike.
pub const HELD_OUT_URL: &str = "./static/data/mnist-heldout.safetensors";

/// A load shared by everyone who asks while it runs; errors are strings so that it can be cloned.
pub type Shareable<T> = Shared<LocalBoxFuture<'static, std::result::Result<Rc<T>, String>>>;

thread_local! {
    static HELD_OUT: RefCell<Option<Shareable<Digits>>> = const { RefCell::new(None) };
}

/// The held-out digits, fetched once.
pub async fn held_out() -> Result<Rc<Digits>> {
    let future = HELD_OUT.with(|h| {
        h.borrow_mut()
            .get_or_insert_with(|| {
                let f: LocalBoxFuture<'static, _> = Box::pin(async {
                    let bytes = fetch_bytes(HELD_OUT_URL).await.map_err(|e| e.to_string())?;
                    Digits::from_safetensors(&bytes)
                        .map(Rc::new)
                        .map_err(|e| e.to_string())
                });
                f.shared()
            })
            .clone()
    });
    match future.await {
        Ok(d) => Ok(d),
        Err(message) => {
            HELD_OUT.with(|h| h.borrow_mut().take());
            Err(Error::Data(message))
        }
    }
}
