//! A panic on the page must never leave a dead page: the hook logs it and shows a readable error
//! panel (outside Yew, whose state can no longer be trusted) with a button to reload.

use wasm_bindgen::JsCast;

/// Installs the page's panic hook.
pub fn install_page_hook() {
    std::panic::set_hook(Box::new(|info| {
        let message = info.to_string();
        web_sys::console::error_1(&format!("Barriers Lab panicked: {message}").into());
        show_fatal(&message);
    }));
}

/// Shows the fatal-error panel with `message`.
pub fn show_fatal(message: &str) {
    let Some(document) = web_sys::window().and_then(|w| w.document()) else {
        return;
    };
    let Some(body) = document.body() else { return };
    let panel = match document.get_element_by_id("fatal-error") {
        Some(p) => p,
        None => {
            let Ok(p) = document.create_element("div") else {
                return;
            };
            p.set_id("fatal-error");
            p.set_attribute("role", "alert").ok();
            let _ = body.append_child(&p);
            p
        }
    };
    panel.set_class_name("fatal-error");
    panel.set_inner_html(
        "<h2>Something went wrong in the lab</h2>\
         <p>The page hit an internal error and stopped. Reloading starts it afresh; \
         the address keeps your experiment.</p><pre></pre>\
         <button type=\"button\">Reload</button>",
    );
    if let Ok(Some(pre)) = panel.query_selector("pre") {
        pre.set_text_content(Some(message));
    }
    if let Ok(Some(button)) = panel.query_selector("button") {
        let reload = wasm_bindgen::closure::Closure::<dyn FnMut()>::new(|| {
            if let Some(w) = web_sys::window() {
                let _ = w.location().reload();
            }
        });
        if let Ok(b) = button.dyn_into::<web_sys::HtmlElement>() {
            b.set_onclick(Some(reload.as_ref().unchecked_ref()));
        }
        reload.forget();
    }
}
