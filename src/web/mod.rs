//! The browser side (wasm32 only): the Yew app on the page and the compute worker's runtime.
//! Both are thin layers over the web-free core: they fetch files, pass messages and draw.

pub mod app;
pub mod attacks;
pub mod classify;
pub mod compute;
pub mod data;
pub mod draw;
pub mod fetch;
pub mod geometry;
pub mod hallucination_jobs;
pub mod hallucinations;
pub mod kernel;
pub mod kernel_jobs;
pub mod linearity;
pub mod mri;
pub mod mri_jobs;
pub mod panic;
pub mod picker;
pub mod robustness;
pub mod runtime;
pub mod structural;
pub mod structural_jobs;
pub mod sweep;
pub mod sweep_jobs;
pub mod tradeoff;
pub mod universal;
pub mod universal_jobs;
pub mod widgets;

/// Entry point of the `app` binary: the page.
pub fn start_app() {
    panic::install_page_hook();
    yew::Renderer::<app::App>::new().render();
}

/// Entry point of the `worker` binary: the compute worker.
pub fn start_worker() {
    runtime::start();
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
