//! The page: the Yew app of Barriers Lab.

#[cfg(target_arch = "wasm32")]
fn main() {
    barriers_lab::web::start_app();
}

#[cfg(not(target_arch = "wasm32"))]
fn main() {
    eprintln!("the app runs in the browser: build it with `trunk build --release`");
    std::process::exit(2);
}
