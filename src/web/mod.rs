//! The browser side (wasm32 only): the Yew app on the page and the compute worker's runtime.
//! Both are thin layers over the web-free core: they fetch files, pass messages and draw.
//!
//! - [`pages`]: one Yew page per demo; [`worker`]: the worker's runtime and the jobs each page asks
//!   for, under the page's name (the page and the worker are separate binaries and threads, so
//!   they sit in two folders with matching file names);
//! - [`app`] (routes, header, footer), [`compute`] (the page's handle on the worker),
//!   [`widgets`], [`draw`], [`picker`], [`plot`] (charts): what the pages share; [`data`], [`fetch`]:
//!   downloads; [`panic`]: the fatal-error panel; [`storage`]: files kept in this browser (IndexedDB);
//!   [`offline`]: the service worker that keeps the whole lab for use without a network;
//!   [`present`]: presenter mode, the keys and the lecture path; [`export`]: the figures' PNG, SVG,
//!   data, link and embed code; [`math`]: the formulas typeset as MathML.

pub mod app;
pub mod compute;
pub mod data;
pub mod draw;
pub mod export;
pub mod fetch;
pub mod math;
pub mod offline;
pub mod pages;
pub mod panic;
pub mod picker;
pub mod plot;
pub mod present;
pub mod storage;
pub mod widgets;
pub mod worker;

/// Entry point of the `app` binary: the page.
pub fn start_app() {
    panic::install_page_hook();
    yew::Renderer::<app::App>::new().render();
}

/// Entry point of the `worker` binary: the compute worker.
pub fn start_worker() {
    worker::runtime::start();
}

/// The page's query string (`?engine=cpu`, before the `#`), or "" (in a worker, or without one).
pub fn location_search() -> String {
    web_sys::window()
        .and_then(|w| w.location().search().ok())
        .unwrap_or_default()
}

/// `performance.now()` in milliseconds, on the page and in workers alike.
pub fn now_ms() -> f64 {
    use wasm_bindgen::JsCast;
    let performance = js_sys::Reflect::get(&js_sys::global(), &"performance".into())
        .ok()
        .and_then(|p| p.dyn_into::<web_sys::Performance>().ok());
    performance
        .map(|p| p.now())
        .unwrap_or_else(js_sys::Date::now)
}
