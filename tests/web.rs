//! Web-glue tests, run by wasm-bindgen-test in headless Chromium
//! (`cargo test --target wasm32-unknown-unknown`): fetching and checking weights, the worker
//! runtime's job handling, the page's worker client (queueing, routing, progress, crashes), and
//! the files the page keeps in the browser's storage (IndexedDB).
#![cfg(target_arch = "wasm32")]

mod web_support;
use web_support::*;

use barriers_lab::card::ModelCard;
use barriers_lab::protocol::{Body, Job};
use barriers_lab::web::compute::{Compute, WorkerStatus};
use barriers_lab::web::fetch;
use barriers_lab::web::worker::runtime;
use futures::channel::mpsc;
use futures::StreamExt;
use wasm_bindgen_test::*;
use yew::Callback;

wasm_bindgen_test_configure!(run_in_browser);

fn response(bytes: &[u8], status: u16) -> gloo::net::http::Response {
    let mut copy = bytes.to_vec();
    let init = web_sys::ResponseInit::new();
    init.set_status(status);
    let raw = web_sys::Response::new_with_opt_u8_array_and_init(Some(&mut copy), &init).unwrap();
    gloo::net::http::Response::from(raw)
}

#[wasm_bindgen_test]
async fn response_bytes_returns_the_body_or_names_the_http_error() {
    let ok = fetch::response_bytes("w.safetensors", response(LINEAR, 200))
        .await
        .unwrap();
    assert_eq!(ok, LINEAR);
    let err = fetch::response_bytes("static/models/mlp.safetensors", response(b"nope", 404))
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("mlp.safetensors") && err.contains("404"),
        "{err}"
    );
}

#[wasm_bindgen_test]
async fn runtime_classifies_with_installed_weights_and_rejects_bad_input() {
    let digits = install(LINEAR_CARD, LINEAR);
    let no_progress = |_: Body| {};
    let mut correct = 0;
    for i in 0..20 {
        let body = runtime::execute(
            1,
            Job::Classify {
                model: "linear".into(),
                image: digits.image(i),
            },
            &no_progress,
        )
        .await;
        match body {
            Body::Classified { prediction, .. } => {
                assert!((prediction.probabilities.iter().sum::<f32>() - 1.0).abs() < 1e-4);
                correct += usize::from(prediction.label == digits.label(i));
            }
            other => panic!("unexpected reply {other:?}"),
        }
    }
    assert!(correct >= 17, "{correct} of 20");
    let bad = runtime::execute(
        2,
        Job::Classify {
            model: "linear".into(),
            image: vec![f32::NAN; 784],
        },
        &no_progress,
    )
    .await;
    assert!(
        matches!(bad, Body::Failed { ref message } if message.contains("NaN")),
        "{bad:?}"
    );
    let unknown = runtime::execute(
        3,
        Job::LoadModel {
            model: "resnet".into(),
        },
        &no_progress,
    )
    .await;
    assert!(
        matches!(unknown, Body::Failed { ref message } if message.contains("resnet")),
        "{unknown:?}"
    );
    // Corrupt weights are refused with the model's name, not a panic.
    let card: ModelCard = serde_json::from_str(LINEAR_CARD).unwrap();
    let err = runtime::install_model(card, &LINEAR[..100])
        .unwrap_err()
        .to_string();
    assert!(err.contains("linear"), "{err}");
}

/// A stand-in worker speaking the protocol: it answers every job with one progress message and
/// then a failure that echoes the job kind; a `load_model` job makes it throw (a crash).
const FAKE_WORKER: &str = r#"
setTimeout(() => postMessage(JSON.stringify({ id: 0, body: { kind: "ready" } })), 50);
onmessage = (e) => {
  const r = JSON.parse(e.data);
  if (r.job.kind === "cancel") return;
  if (r.job.kind === "load_model") throw new Error("boom in worker");
  postMessage(JSON.stringify({ id: r.id, body: { kind: "progress", done: 1, total: 2 } }));
  postMessage(JSON.stringify({ id: r.id, body: { kind: "failed", message: "echo " + r.job.kind } }));
};
"#;

fn blob_url(source: &str) -> String {
    let parts = js_sys::Array::of1(&source.into());
    let options = web_sys::BlobPropertyBag::new();
    options.set_type("text/javascript");
    let blob = web_sys::Blob::new_with_str_sequence_and_options(&parts, &options).unwrap();
    web_sys::Url::create_object_url_with_blob(&blob).unwrap()
}

#[wasm_bindgen_test]
async fn client_spawns_on_first_request_queues_until_ready_routes_replies_and_reports_crashes() {
    let (status_tx, mut status_rx) = mpsc::unbounded();
    let compute = Compute::new(
        &blob_url(FAKE_WORKER),
        Callback::from(move |s: WorkerStatus| status_tx.unbounded_send(s).unwrap()),
    );
    // Nothing is spawned (or downloaded) until a demo asks; a cancel does not spawn it either.
    assert!(!compute.is_started());
    compute.cancel(1);
    assert!(!compute.is_started());
    assert!(
        status_rx.try_recv().is_err(),
        "no status before the first request"
    );
    // The first request spawns the worker; sent before it is ready, it is queued, then
    // answered in order.
    let (tx, mut rx) = mpsc::unbounded();
    let tx2 = tx.clone();
    let id = compute.request(
        Job::Evaluate {
            model: "cnn".into(),
            count: 10,
            digits: None,
        },
        Callback::from(move |b: Body| tx2.unbounded_send(b).unwrap()),
    );
    assert!(id > 0);
    assert!(compute.is_started());
    assert_eq!(status_rx.next().await, Some(WorkerStatus::Starting));
    assert_eq!(status_rx.next().await, Some(WorkerStatus::Ready));
    assert_eq!(rx.next().await, Some(Body::Progress { done: 1, total: 2 }));
    assert_eq!(
        rx.next().await,
        Some(Body::Failed {
            message: "echo evaluate".into()
        })
    );
    // A crash fails the pending request and is reported; a restart brings the worker back.
    let tx3 = tx.clone();
    compute.request(
        Job::LoadModel {
            model: "cnn".into(),
        },
        Callback::from(move |b: Body| tx3.unbounded_send(b).unwrap()),
    );
    match status_rx.next().await {
        Some(WorkerStatus::Crashed(m)) => assert!(m.contains("boom"), "{m}"),
        other => panic!("expected a crash, got {other:?}"),
    }
    match rx.next().await {
        Some(Body::Failed { message }) => assert!(message.contains("boom"), "{message}"),
        other => panic!("expected the pending job to fail, got {other:?}"),
    }
    compute.restart();
    assert_eq!(status_rx.next().await, Some(WorkerStatus::Starting));
    assert_eq!(status_rx.next().await, Some(WorkerStatus::Ready));
}

#[wasm_bindgen_test]
fn fatal_panel_shows_the_message_and_a_reload_button() {
    barriers_lab::web::panic::show_fatal("index out of bounds: the len is 3 but the index is 7");
    let document = web_sys::window().unwrap().document().unwrap();
    let panel = document
        .get_element_by_id("fatal-error")
        .expect("panel shown");
    let text = panel.text_content().unwrap();
    assert!(text.contains("Something went wrong"), "{text}");
    assert!(text.contains("the index is 7"), "{text}");
    assert!(panel.query_selector("button").unwrap().is_some());
    // A second panic reuses the panel instead of stacking another.
    barriers_lab::web::panic::show_fatal("second");
    assert_eq!(
        document
            .query_selector_all(".fatal-error")
            .unwrap()
            .length(),
        1
    );
    panel.remove();
}

fn reconstruct_job(image: barriers_lab::protocol::MriImage) -> Job {
    Job::Reconstruct(barriers_lab::protocol::ReconstructJob {
        image,
        side: 128,
        pattern: barriers_lab::mri::sampling::Pattern::VariableDensity,
        rate: 0.25,
        noise: 0.0,
        seed: 1,
        wavelet: "db4".into(),
        lambda: 1e-3,
        blocks: 2,
        layers_per_block: 3,
        engine: Default::default(),
        lose_gpu: false,
    })
}

/// A PNG (a bright square on a dark background) as a data URL, as the page reads an upload.
fn png_data_url(width: u32, height: u32) -> String {
    use base64::Engine;
    let img = image::GrayImage::from_fn(width, height, |x, y| {
        let inside = (x > width / 4 && x < 3 * width / 4) && (y > height / 4 && y < 3 * height / 4);
        image::Luma([if inside { 220 } else { 20 }])
    });
    let mut bytes = Vec::new();
    img.write_to(
        &mut std::io::Cursor::new(&mut bytes),
        image::ImageFormat::Png,
    )
    .unwrap();
    format!(
        "data:image/png;base64,{}",
        base64::engine::general_purpose::STANDARD.encode(bytes)
    )
}

#[wasm_bindgen_test]
async fn runtime_reconstructs_keeps_layers_and_handles_uploads() {
    use barriers_lab::protocol::MriImage;
    let progress = std::cell::RefCell::new(Vec::new());
    let record = |b: Body| progress.borrow_mut().push(b);
    let body = runtime::execute(40, reconstruct_job(MriImage::SheppLogan), &record).await;
    let Body::Reconstructed(r) = body else {
        panic!("unexpected reply {body:?}")
    };
    assert_eq!((r.run, r.side, r.layer_errors.len()), (40, 128, 6));
    assert!(r.firenet.quality.error < r.zero_filled.quality.error * 1.5);
    assert_eq!(r.truth.bytes().unwrap().len(), 128 * 128);
    assert!((r.rate - 0.25).abs() < 0.005);
    assert_eq!(progress.borrow().len(), 2, "one progress report per block");
    // Any layer of the last run, on request; other runs and layers are clear errors.
    let layer = runtime::execute(41, Job::FirenetLayer { run: 40, layer: 2 }, &record).await;
    assert!(
        matches!(layer, Body::FirenetLayer { layer: 2, .. }),
        "{layer:?}"
    );
    let stale = runtime::execute(42, Job::FirenetLayer { run: 7, layer: 2 }, &record).await;
    assert!(matches!(stale, Body::Failed { .. }), "{stale:?}");
    let deep = runtime::execute(43, Job::FirenetLayer { run: 40, layer: 99 }, &record).await;
    assert!(
        matches!(deep, Body::Failed { ref message } if message.contains("6 layers")),
        "{deep:?}"
    );
    // Uploads: a PNG becomes the "upload" image; broken files and sizes are clear errors.
    let before = runtime::execute(44, reconstruct_job(MriImage::Upload), &record).await;
    assert!(
        matches!(before, Body::Failed { ref message } if message.contains("uploaded")),
        "{before:?}"
    );
    let uploaded = runtime::execute(
        45,
        Job::Upload {
            data_url: png_data_url(300, 200),
            side: 128,
        },
        &record,
    )
    .await;
    let Body::Uploaded { preview, notes } = uploaded else {
        panic!("unexpected reply {uploaded:?}")
    };
    assert_eq!(preview.side, 128);
    assert!(!notes.is_empty());
    let from_upload = runtime::execute(46, reconstruct_job(MriImage::Upload), &record).await;
    assert!(
        matches!(from_upload, Body::Reconstructed(_)),
        "{from_upload:?}"
    );
    for (data_url, expect) in [
        ("data:image/png;base64,AAAA".to_string(), "PNG or JPEG"),
        ("not a data url".to_string(), "could not be read"),
        (png_data_url(4, 4), "small"),
    ] {
        let bad = runtime::execute(
            47,
            Job::Upload {
                data_url,
                side: 128,
            },
            &record,
        )
        .await;
        assert!(
            matches!(bad, Body::Failed { ref message } if message.contains(expect)),
            "{expect}: {bad:?}"
        );
    }
    let odd = runtime::execute(
        48,
        Job::Upload {
            data_url: png_data_url(64, 64),
            side: 100,
        },
        &record,
    )
    .await;
    assert!(matches!(odd, Body::Failed { .. }), "{odd:?}");
    // An upload replaces the earlier one at every size: the page sends its file again for 256,
    // and the 128 image is gone rather than stale.
    let large = runtime::execute(
        49,
        Job::Upload {
            data_url: png_data_url(64, 64),
            side: 256,
        },
        &record,
    )
    .await;
    assert!(
        matches!(large, Body::Uploaded { ref preview, .. } if preview.side == 256),
        "{large:?}"
    );
    let gone = runtime::execute(50, reconstruct_job(MriImage::Upload), &record).await;
    assert!(
        matches!(gone, Body::Failed { ref message } if message.contains("uploaded")),
        "{gone:?}"
    );
}

#[wasm_bindgen_test]
async fn storage_keeps_replaces_and_forgets_a_file() {
    use barriers_lab::web::storage::{self, StoredFile};
    // Its own key, so that the page's upload (MRI_UPLOAD) is never touched.
    let key = "test-file";
    storage::remove(key).await.unwrap();
    assert_eq!(storage::load(key).await.unwrap(), None);
    let first = StoredFile {
        name: "disc.png".into(),
        mime: "image/png".into(),
        saved_ms: 1.7e12,
        bytes: (0..=255).collect(),
    };
    storage::save(key, &first).await.unwrap();
    assert_eq!(storage::load(key).await.unwrap(), Some(first));
    // The newest replaces the older under the same key.
    let second = StoredFile {
        name: "scan.jpg".into(),
        mime: "image/jpeg".into(),
        saved_ms: 1.8e12,
        bytes: vec![1, 2, 3],
    };
    storage::save(key, &second).await.unwrap();
    assert_eq!(storage::load(key).await.unwrap(), Some(second.clone()));
    assert_eq!(second.data_url(), "data:image/jpeg;base64,AQID");
    storage::remove(key).await.unwrap();
    assert_eq!(storage::load(key).await.unwrap(), None);
    // Removing what is not there is no error.
    storage::remove(key).await.unwrap();
    // A file without a MIME type still makes a data URL the worker reads by its bytes.
    let untyped = StoredFile {
        mime: String::new(),
        ..second
    };
    assert!(untyped
        .data_url()
        .starts_with("data:application/octet-stream;base64,"));
}

#[wasm_bindgen_test]
async fn hallucination_jobs_reject_bad_requests_before_loading_anything() {
    use barriers_lab::protocol::HallucinateJob;
    let job = |strength: f64, slice: &str| {
        Job::Hallucinate(HallucinateJob {
            net: "cascade-12".into(),
            slice: slice.into(),
            strength,
            gaussian: false,
            engine: Default::default(),
        })
    };
    assert_rejected(
        60,
        [
            (job(f64::NAN, "axial 10"), "strength"),
            (job(2.0, "axial 10"), "strength"),
            (job(1.0, "axial"), "not a slice"),
            (job(1.0, "oblique 3"), "oblique"),
        ],
    )
    .await;
    let search = |rel_r: f64, iterations: usize| Job::InstabilitySearch {
        net: "cascade-12".into(),
        slice: "axial 10".into(),
        rel_r,
        iterations,
        seed: 1,
        engine: Default::default(),
    };
    assert_rejected(
        61,
        [
            (search(0.0, 5), "‖r‖/‖x‖"),
            (search(0.5, 5), "‖r‖/‖x‖"),
            (search(0.02, 0), "iterations"),
            (search(0.02, 1000), "iterations"),
        ],
    )
    .await;
}

#[wasm_bindgen_test]
fn the_shipped_cascade_runs_in_wasm_and_keeps_its_measurements() {
    use barriers_lab::mri::instability::Reconstructor;
    use barriers_lab::mri::operator::{distance, norm, LinearOperator};
    let (card, net, a) = shipped_cascade_12();
    let x = barriers_lab::mri::phantom::shepp_logan(card.side);
    let y = a.measure(&x);
    let mut times = Vec::new();
    let mut out = Vec::new();
    for _ in 0..3 {
        let start = barriers_lab::web::now_ms();
        out = net.reconstruct(&y).unwrap();
        times.push(barriers_lab::web::now_ms() - start);
    }
    gloo::console::log!(format!("cascade-12 forward in wasm: {times:?} ms"));
    assert!(out.iter().all(|z| z.re.is_finite() && z.im.is_finite()));
    // Data consistency: A Ψ(y) = y.
    let mut again = vec![Default::default(); y.len()];
    a.apply(&out, &mut again);
    assert!(distance(&again, &y) / norm(&y) < 1e-4);
    // Corrupt weights are a clear error.
    assert!(card.load(b"not safetensors").is_err());
}

#[wasm_bindgen_test]
async fn kernel_jobs_reject_bad_requests_before_loading_anything() {
    use barriers_lab::protocol::KernelJob;
    let job = |slice: &str, t: Option<f64>| {
        Job::Kernel(KernelJob {
            net: "cascade-12".into(),
            slice: slice.into(),
            detail: vec![0.5; 64 * 64],
            t,
            engine: Default::default(),
        })
    };
    assert_rejected(
        70,
        [
            (job("axial 9", Some(1.0)), "not held out"),
            (job("axial", Some(1.0)), "not a slice"),
            (job("oblique 2", None), "oblique"),
        ],
    )
    .await;
}

#[wasm_bindgen_test]
fn the_kernel_experiment_runs_in_wasm_as_natively() {
    // The kernel page's experiment with the shipped cascade in wasm: the data of x and x′ agree
    // to rounding, the network's outputs too, and the bound holds; a zero detail is refused.
    use barriers_lab::mri::details::Experiment;
    use barriers_lab::mri::state::KernelState;
    let (card, net, a) = shipped_cascade_12();
    let x = barriers_lab::mri::phantom::shepp_logan(card.side);
    let z = KernelState::default()
        .settings
        .detail
        .render(card.side)
        .unwrap();
    let e = Experiment::new(&a, &x, &z, Some(2.0)).unwrap();
    let m = e.measure(&net).unwrap();
    let b = m.bound.unwrap();
    assert!(b.measurement_gap <= 1e-6 * b.measurement_norm, "{b:?}");
    assert!(b.output_gap <= 1e-3 * b.bound, "{b:?}");
    assert!(b.sum() >= b.bound && b.triangle_holds(), "{b:?}");
    assert!(Experiment::new(&a, &x, &vec![0.0; z.len()], None).is_err());
}

/// The 61-byte PNG whose header claims 65535 × 65535 is refused in the browser (wasm32, where
/// the decoder cannot open it at all) with its size and the limits, as natively.
#[wasm_bindgen_test]
fn a_png_bomb_is_refused_with_its_size_in_wasm() {
    // A fuzz input: the working side (4 bytes, little-endian), then the file.
    let bomb = &include_bytes!("corpus/fuzz/upload/png-65535x65535.bin")[4..];
    let message = match barriers_lab::mri::upload::prepare_upload(bomb, 128) {
        Err(e) => e.to_string(),
        Ok(_) => panic!("the bomb was accepted"),
    };
    assert!(
        message.contains("65535×65535 pixels, 4294.8 megapixels")
            && message.contains("the limits are 40 megapixels and 16384 pixels a side"),
        "{message}"
    );
}
