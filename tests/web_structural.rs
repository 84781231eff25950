//! The structural perturbations job in the worker runtime, in headless Chromium
//! (`CHROMEDRIVER=/usr/bin/chromedriver cargo test --target wasm32-unknown-unknown --test web_structural`):
//! the smallest patch of a held-out digit matches the native search, with progress, and bad
//! requests fail with a message instead of a panic.
#![cfg(target_arch = "wasm32")]

mod web_support;
use web_support::*;

use barriers_lab::classification::classifier::{Architecture, Classifier};
use barriers_lab::classification::inference::Network;
use barriers_lab::classification::structural::smallest_patch;
use barriers_lab::protocol::{Body, Job, PatchAnswer};
use barriers_lab::web::compute::Compute;
use barriers_lab::web::worker::runtime;
use candle_core::{DType, Device};
use std::cell::RefCell;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

#[wasm_bindgen_test]
async fn the_worker_finds_the_smallest_patch_and_rejects_bad_requests() {
    let digits = install(LINEAR_CARD, LINEAR);
    let image = digits.image(164);
    let reports = RefCell::new(Vec::new());
    let record = |b: Body| reports.borrow_mut().push(b);
    let body = runtime::execute(
        70,
        Job::SmallestPatch {
            model: "linear".into(),
            image: image.clone(),
            max_size: 4,
            sizes: Vec::new(),
        },
        &record,
    )
    .await;
    let classifier =
        Classifier::from_safetensors(Architecture::Linear, LINEAR, DType::F32, &Device::Cpu)
            .unwrap();
    let network = Network::from_classifier(&classifier).unwrap();
    let expected = smallest_patch(&network, &image, 4).unwrap();
    match body {
        Body::SmallestPatch(PatchAnswer {
            model,
            max_size,
            original,
            found,
            evaluations,
            millis,
            sizes,
        }) => {
            assert_eq!((model.as_str(), max_size, original), ("linear", 4, 7));
            assert_eq!(sizes, vec![1, 2, 3, 4]);
            assert!(found.is_some());
            assert_eq!(found, expected);
            assert!(evaluations > 1 && millis >= 0.0);
        }
        other => panic!("unexpected answer {other:?}"),
    }
    assert!(matches!(
        reports.borrow().first(),
        Some(Body::Progress {
            done: 0,
            total: 106
        })
    ));
    // The same search in two parts (the pool's split), merged: the same patch.
    let mut answers = Vec::new();
    for sizes in barriers_lab::classification::structural::split_sizes(4, 2) {
        match runtime::execute(
            72,
            Job::SmallestPatch {
                model: "linear".into(),
                image: image.clone(),
                max_size: 4,
                sizes: sizes.clone(),
            },
            &|_| {},
        )
        .await
        {
            Body::SmallestPatch(a) => {
                assert_eq!(a.sizes, sizes);
                answers.push(a);
            }
            other => panic!("unexpected answer {other:?}"),
        }
    }
    let merged = barriers_lab::classification::structural::merge_answers(answers).unwrap();
    assert_eq!(merged.found, expected);
    let none = |_: Body| {};
    for (job, words) in [
        (
            Job::SmallestPatch {
                model: "linear".into(),
                image: image.clone(),
                max_size: 0,
                sizes: Vec::new(),
            },
            "1 to 8",
        ),
        (
            Job::SmallestPatch {
                model: "linear".into(),
                image: vec![0.5; 10],
                max_size: 2,
                sizes: Vec::new(),
            },
            "784",
        ),
        (
            Job::SmallestPatch {
                model: "linear".into(),
                image: vec![f32::NAN; 784],
                max_size: 2,
                sizes: Vec::new(),
            },
            "NaN",
        ),
        (
            Job::SmallestPatch {
                model: "linear".into(),
                image: image.clone(),
                max_size: 3,
                sizes: vec![3, 1],
            },
            "increase",
        ),
        (
            Job::SmallestPatch {
                model: "resnet".into(),
                image: image.clone(),
                max_size: 2,
                sizes: Vec::new(),
            },
            "resnet",
        ),
    ] {
        match runtime::execute(71, job, &none).await {
            Body::Failed { message } => assert!(message.contains(words), "{message}"),
            other => panic!("expected a failure, got {other:?}"),
        }
    }
}

/// A stand-in for the compute worker: the label is 9 when pixel (row 13 or 14, column 8) has ink (a
/// stroke across digit 164's middle passes there, the digit itself does not), else 7; DeepFool
/// fails; the patch search reports progress and a 2×2 white patch.
const FAKE_WORKER: &str = r#"
const probs = (k) => Array.from({ length: 10 }, (_, i) => (i === k ? 0.91 : 0.01));
self.onmessage = (e) => {
  const r = JSON.parse(e.data);
  const j = r.job;
  const reply = (body) => postMessage(JSON.stringify({ id: r.id, body }));
  if (j.kind === "cancel") return;
  if (j.kind === "classify") {
    const label = Math.max(j.image[13 * 28 + 8], j.image[14 * 28 + 8]) > 0.5 ? 9 : 7;
    reply({ kind: "classified", model: j.model,
      prediction: { label, probabilities: probs(label), logits: probs(label) }, millis: 0.1 });
  } else if (j.kind === "smallest_patch") {
    reply({ kind: "progress", done: 3, total: 106 });
    setTimeout(() => reply({ kind: "smallest_patch", model: j.model, max_size: j.max_size, original: 7,
      found: { patch: { row: 10, col: 11, size: 2, value: 1 }, stats: { pixels: 4, l2: 2 }, label: 4,
        probabilities: probs(4) },
      evaluations: 1234, millis: 56, sizes: j.sizes ?? [] }), 50);
  } else {
    reply({ kind: "failed", message: "the fake worker does not do " + j.kind });
  }
};
postMessage(JSON.stringify({ id: 0, body: { kind: "ready" } }));
"#;

mod page {
    use barriers_lab::web::compute::{Compute, Pool};
    use barriers_lab::web::pages::structural::StructuralDemo;
    use yew::prelude::*;
    use yew_router::prelude::*;

    #[derive(Properties, PartialEq)]
    pub struct RootProps {
        pub compute: Compute,
        pub pool: Pool,
    }

    #[function_component(Root)]
    pub fn root(props: &RootProps) -> Html {
        html! {
            <HashRouter>
                <ContextProvider<Compute> context={props.compute.clone()}>
                    <ContextProvider<Pool> context={props.pool.clone()}>
                        <StructuralDemo />
                    </ContextProvider<Pool>>
                </ContextProvider<Compute>>
            </HashRouter>
        }
    }
}

fn blob_url(source: &str) -> String {
    let parts = js_sys::Array::of1(&source.into());
    let options = web_sys::BlobPropertyBag::new();
    options.set_type("text/javascript");
    let blob = web_sys::Blob::new_with_str_sequence_and_options(&parts, &options).unwrap();
    web_sys::Url::create_object_url_with_blob(&blob).unwrap()
}

fn document() -> web_sys::Document {
    web_sys::window().unwrap().document().unwrap()
}

fn text(id: &str) -> Option<String> {
    document()
        .query_selector(&format!("[data-testid=\"{id}\"]"))
        .unwrap()
        .and_then(|e| e.text_content())
}

fn click(id: &str) {
    use wasm_bindgen::JsCast;
    document()
        .query_selector(&format!("[data-testid=\"{id}\"]"))
        .unwrap()
        .unwrap_or_else(|| panic!("no {id}"))
        .unchecked_into::<web_sys::HtmlElement>()
        .click();
}

/// Waits (up to 10 s) until `id`'s text satisfies `ok`.
async fn until(id: &str, ok: impl Fn(&str) -> bool) -> String {
    for _ in 0..200 {
        if let Some(t) = text(id) {
            if ok(&t) {
                return t;
            }
        }
        gloo::timers::future::TimeoutFuture::new(50).await;
    }
    panic!("{id} never got there: {:?}", text(id));
}

/// Lets the page render (a new tool takes effect with the next render, as for a user).
async fn settle() {
    gloo::timers::future::TimeoutFuture::new(50).await;
}

/// Dispatches a pointer event at a fraction of the edit canvas.
fn pointer(kind: &str, fx: f64, fy: f64) {
    let canvas = document()
        .query_selector("[data-testid=\"edit-canvas\"]")
        .unwrap()
        .unwrap();
    let rect = canvas.get_bounding_client_rect();
    let dispatch = js_sys::Function::new_with_args(
        "el, kind, x, y",
        "el.dispatchEvent(new PointerEvent(kind, { clientX: x, clientY: y, bubbles: true, \
         cancelable: true, pointerId: 1, isPrimary: true, buttons: 1 }));",
    );
    let args = js_sys::Array::of4(
        &canvas,
        &kind.into(),
        &(rect.left() + fx * rect.width()).into(),
        &(rect.top() + fy * rect.height()).into(),
    );
    dispatch.apply(&wasm_bindgen::JsValue::NULL, &args).unwrap();
}

#[wasm_bindgen_test]
async fn the_page_edits_classifies_live_and_shows_the_search() {
    // Serve the held-out digits from memory and open digit 164 with the linear model.
    let bytes = js_sys::Uint8Array::from(HELD_OUT);
    let mock = js_sys::Function::new_with_args(
        "bytes",
        "const orig = window.fetch.bind(window); \
         window.fetch = (input, init) => { \
           const url = typeof input === 'string' ? input : input.url; \
           if (url.includes('mnist-heldout')) return Promise.resolve(new Response(bytes)); \
           return orig(input, init); };",
    );
    mock.call1(&wasm_bindgen::JsValue::NULL, &bytes).unwrap();
    web_sys::window()
        .unwrap()
        .location()
        .set_hash("#/structural?model=linear&digit=164&zoom=2")
        .unwrap();
    let fake = blob_url(FAKE_WORKER);
    let compute = Compute::new(&fake, yew::Callback::noop());
    // The pool's workers (the patch search's) are the fake worker too: one of them.
    js_sys::Function::new_with_args(
        "script, fake",
        "const Real = window.Worker; \
         window.Worker = class extends Real { \
           constructor(url, options) { super(url === script ? fake : url, options); } };",
    )
    .call2(
        &wasm_bindgen::JsValue::NULL,
        &barriers_lab::web::compute::WORKER_SCRIPT.into(),
        &fake.as_str().into(),
    )
    .unwrap();
    let pool = barriers_lab::web::compute::Pool::new(1);
    // The page's size for the canvas (the stylesheet is not loaded here).
    let style = document().create_element("style").unwrap();
    style.set_text_content(Some(".edit-canvas { width: 392px; height: 392px; }"));
    document().head().unwrap().append_child(&style).unwrap();
    let host = document().create_element("div").unwrap();
    document().body().unwrap().append_child(&host).unwrap();
    yew::Renderer::<page::Root>::with_root_and_props(host, page::RootProps { compute, pool })
        .render();

    until("digit-caption", |t| {
        t.contains("#164") && t.contains("true label 7")
    })
    .await;
    until("predicted-label", |t| t == "7").await;
    assert!(document().body().unwrap().inner_text().contains("zoom"));
    assert_eq!(text("edit-pixels").as_deref(), Some("0"));
    assert_eq!(text("edit-l2").as_deref(), Some("0.000"));
    // The fake worker has no DeepFool: the page says so instead of a number.
    until("structural", |t| t.contains("DeepFool is unavailable")).await;

    // A stroke across the middle flips the (fake) label; the edit's size is shown.
    pointer("pointerdown", 0.2, 0.5);
    for k in 1..=12 {
        pointer("pointermove", 0.2 + 0.05 * k as f64, 0.5);
    }
    pointer("pointerup", 0.8, 0.5);
    until("predicted-label", |t| t == "9").await;
    let pixels: usize = text("edit-pixels").unwrap().parse().unwrap();
    assert!(pixels > 20, "{pixels}");
    let l2: f64 = text("edit-l2").unwrap().parse().unwrap();
    assert!(l2 > 2.0, "{l2}");
    until("flip-state", |t| t.contains("7 → 9")).await;
    // (An earlier part of the stroke may already have flipped it.)
    until("smallest-pixels", |t| t.parse::<usize>().unwrap() <= pixels).await;

    // Undo removes the whole stroke.
    click("undo");
    until("edit-pixels", |t| t == "0").await;
    until("predicted-label", |t| t == "7").await;

    // The search: progress, then the patch; it can be put on the canvas.
    click("find-patch");
    until("patch-result", |t| {
        t.contains("7 → 4") && t.contains("2×2 white")
    })
    .await;
    until("smallest-pixels", |t| t == "4").await;
    click("patch-apply");
    until("edit-pixels", |t| t == "4").await;
    click("reset");
    until("edit-pixels", |t| t == "0").await;

    // The patch tool places a square where the pointer goes down; the eraser removes ink.
    click("tool-patch");
    settle().await;
    pointer("pointerdown", 0.1, 0.1);
    pointer("pointerup", 0.1, 0.1);
    until("edit-pixels", |t| t == "9").await;
    click("tool-eraser");
    settle().await;
    pointer("pointerdown", 0.1, 0.1);
    pointer("pointermove", 0.15, 0.1);
    pointer("pointerup", 0.15, 0.1);
    until("edit-pixels", |t| t.parse::<usize>().unwrap() < 9).await;
    click("undo");
    click("undo");
    until("edit-pixels", |t| t == "0").await;
}

/// The patch search's time in this browser for the CNN (`-- --include-ignored`; the test
/// profile, which optimises the crate at level 2, so about the release bundle's speed or slower).
#[wasm_bindgen_test]
#[ignore]
async fn time_the_cnn_search_in_the_browser() {
    let digits = install(CNN_CARD, CNN);
    let none = |_: Body| {};
    for (digit, max_size) in [(164, 5), (0, 5), (4, 5), (6, 5)] {
        let body = runtime::execute(
            80,
            Job::SmallestPatch {
                model: "cnn".into(),
                image: digits.image(digit),
                max_size,
                sizes: Vec::new(),
            },
            &none,
        )
        .await;
        if let Body::SmallestPatch(PatchAnswer {
            found,
            evaluations,
            millis,
            ..
        }) = body
        {
            web_sys::console::log_1(
                &format!(
                    "cnn digit {digit} up to {max_size}: {:.0} ms, {evaluations} evaluations, {:?}",
                    millis,
                    found.map(|f| f.stats.pixels)
                )
                .into(),
            );
        }
    }
}
