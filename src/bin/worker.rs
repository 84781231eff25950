//! The compute worker of Barriers Lab: loads models and runs them off the page's thread.

#[cfg(target_arch = "wasm32")]
fn main() {
    barriers_lab::web::start_worker();
}

#[cfg(not(target_arch = "wasm32"))]
fn main() {
    eprintln!("the compute worker runs in the browser: build it with `trunk build --release`");
    std::process::exit(2);
}
