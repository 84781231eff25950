//! The compute worker's runtime: receives [`Request`]s, runs them on the numeric core and posts
//! [`Reply`]s. Jobs run concurrently as futures on the worker's event loop; long jobs yield
//! between chunks, report progress and stop at the next chunk after a [`Job::Cancel`].
//! A panic posts [`Body::Panicked`] before the worker dies, so the page can say so and restart it.

use crate::card::ModelCard;
use crate::classification::attack::AttackKind;
use crate::classification::classifier::Classifier;
use crate::classification::inference::Network;
use crate::classification::line_search::LineSearch;
use crate::classification::parts::{evaluation_batches, part_digits, robustness_reply};
use crate::classification::robustness::{attack_digit, empty_summaries, run_attack};
use crate::classification::training::count_correct;
use crate::protocol::{Body, Job, Reply, Request};
use crate::web::data::{held_out, load_once, Shareable};
use crate::web::fetch::{fetch_bytes, fetch_json};
use crate::web::now_ms;
use crate::web::worker::{hallucinations, mri, universal};
use crate::{Error, Result};
use candle_core::{DType, Device};
use futures::future::{FutureExt, LocalBoxFuture};
use std::cell::RefCell;
use std::collections::{HashMap, HashSet};
use std::rc::Rc;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

/// Where the worker finds the lab's files, relative to its own script.
pub const MODEL_DIR: &str = "./static/models";
/// Digits attacked (with every attack) between two checks for cancellation.
const ROBUSTNESS_CHUNK: usize = 2;

/// A model ready to use, with its card.
pub struct LoadedModel {
    /// The candle model (batched evaluation).
    pub model: Classifier,
    /// The same weights as plain loops (single images, attacks).
    pub network: Network,
    pub card: ModelCard,
}

thread_local! {
    static MODELS: RefCell<HashMap<String, Shareable<LoadedModel>>> = RefCell::new(HashMap::new());
    static CANCELLED: RefCell<HashSet<u64>> = RefCell::new(HashSet::new());
}

fn post(reply: &Reply) {
    let scope: web_sys::DedicatedWorkerGlobalScope = js_sys::global().unchecked_into();
    if let Err(e) = scope.post_message(&JsValue::from_str(&reply.encode())) {
        web_sys::console::error_2(&"worker: cannot post reply".into(), &e);
    }
}

/// Starts the worker: installs the panic hook and the message handler, then says it is ready.
pub fn start() {
    std::panic::set_hook(Box::new(|info| {
        let message = info.to_string();
        web_sys::console::error_1(&format!("compute worker panicked: {message}").into());
        post(&Reply {
            id: 0,
            body: Body::Panicked { message },
        });
    }));
    let scope: web_sys::DedicatedWorkerGlobalScope = js_sys::global().unchecked_into();
    let onmessage =
        Closure::<dyn FnMut(web_sys::MessageEvent)>::new(|event: web_sys::MessageEvent| {
            let Some(text) = event.data().as_string() else {
                post(&Reply {
                    id: 0,
                    body: Body::Failed {
                        message: "the worker received a message that is not text".into(),
                    },
                });
                return;
            };
            match Request::decode(&text) {
                Ok(Request {
                    job: Job::Cancel { target },
                    ..
                }) => {
                    CANCELLED.with(|c| c.borrow_mut().insert(target));
                }
                Ok(request) => wasm_bindgen_futures::spawn_local(async move {
                    let id = request.id;
                    let body = execute(id, request.job, &|body| post(&Reply { id, body })).await;
                    CANCELLED.with(|c| c.borrow_mut().remove(&id));
                    post(&Reply { id, body });
                }),
                Err(e) => post(&Reply {
                    id: 0,
                    body: Body::Failed {
                        message: format!("the worker could not read a request: {e}"),
                    },
                }),
            }
        });
    scope.set_onmessage(Some(onmessage.as_ref().unchecked_ref()));
    onmessage.forget();
    post(&Reply {
        id: 0,
        body: Body::Ready,
    });
}

/// Runs one job; `progress` receives intermediate bodies. Returns the final body.
pub async fn execute(id: u64, job: Job, progress: &dyn Fn(Body)) -> Body {
    let result = match job {
        Job::LoadModel { model } => model_named(&model).await.map(|m| Body::ModelReady {
            card: m.card.clone(),
        }),
        Job::Classify { model, image } => classify(&model, &image).await,
        Job::Evaluate {
            model,
            count,
            digits,
        } => evaluate(id, &model, count, digits, progress).await,
        Job::Attack {
            model,
            image,
            attack,
            seed,
        } => attack_one(&model, &image, attack, seed).await,
        Job::Robustness {
            model,
            count,
            digits,
        } => robustness(id, &model, count, digits, progress).await,
        Job::Reconstruct(job) => {
            let cancelled = || CANCELLED.with(|c| c.borrow().contains(&id));
            mri::reconstruct(id, job, &cancelled, progress).await
        }
        Job::FirenetLayer { run, layer } => mri::firenet_layer(run, layer),
        Job::Upload { data_url, side } => mri::upload(&data_url, side),
        Job::BrainCatalog { side } => mri::brain_catalog(side).await,
        Job::Hallucinate(job) => {
            let cancelled = || CANCELLED.with(|c| c.borrow().contains(&id));
            hallucinations::hallucinate(id, job, &cancelled, progress).await
        }
        Job::InstabilitySearch {
            net,
            slice,
            rel_r,
            iterations,
            seed,
            engine,
        } => {
            let cancelled = || CANCELLED.with(|c| c.borrow().contains(&id));
            let job = (net, slice, rel_r, iterations, seed, engine);
            hallucinations::search(id, job, &cancelled, progress).await
        }
        Job::Universal(job) => {
            let cancelled = || CANCELLED.with(|c| c.borrow().contains(&id));
            universal::universal(job, &cancelled, progress).await
        }
        Job::Transfer {
            ball,
            live,
            digits,
            rows,
        } => {
            let cancelled = || CANCELLED.with(|c| c.borrow().contains(&id));
            universal::transfer(ball, live, digits, rows, &cancelled, progress).await
        }
        Job::ImageTransfer { source, digit } => universal::image(&source, digit).await,
        Job::SmallestPatch {
            model,
            image,
            max_size,
            sizes,
        } => {
            let cancelled = || CANCELLED.with(|c| c.borrow().contains(&id));
            crate::web::worker::structural::smallest_patch(
                model, image, max_size, sizes, &cancelled, progress,
            )
            .await
        }
        Job::Explain(job) => {
            let cancelled = || CANCELLED.with(|c| c.borrow().contains(&id));
            crate::web::worker::explanations::explain(job, &cancelled, progress).await
        }
        Job::Kernel(job) => {
            let cancelled = || CANCELLED.with(|c| c.borrow().contains(&id));
            crate::web::worker::kernel::kernel(id, job, &cancelled, progress).await
        }
        Job::Sweep(job) => {
            let cancelled = || CANCELLED.with(|c| c.borrow().contains(&id));
            crate::web::worker::sweep::sweep(job, &cancelled, progress).await
        }
        Job::SweepSlice(job) => crate::web::worker::sweep::slice(job).await,
        Job::BenchEngine { repeats } => mri::bench_engine(repeats, progress).await,
        Job::Cancel { .. } => Err(Error::Input("a cancel request is not a job".into())),
    };
    match result {
        Ok(body) => body,
        Err(Error::Cancelled) => Body::Cancelled,
        Err(e) => Body::Failed {
            message: e.for_people(),
        },
    }
}

async fn classify(model: &str, image: &[f32]) -> Result<Body> {
    let loaded = model_named(model).await?;
    let start = now_ms();
    let prediction = loaded.network.classify(image)?;
    Ok(Body::Classified {
        model: model.to_string(),
        prediction,
        millis: now_ms() - start,
    })
}

/// The held-out evaluation over the first `count` digits, or over `digits` of them (a part of
/// the job for the worker pool), batch by batch ([`evaluation_batches`]), with progress in
/// digits of the part.
async fn evaluate(
    id: u64,
    model: &str,
    count: usize,
    digits: Option<std::ops::Range<usize>>,
    progress: &dyn Fn(Body),
) -> Result<Body> {
    part_digits(digits.clone(), count, usize::MAX)?;
    let loaded = model_named(model).await?;
    let held = held_out().await?;
    let range = part_digits(digits, count, held.len())?;
    let count = count.min(held.len());
    let start = now_ms();
    let mut correct = 0;
    let mut done = 0;
    for batch in evaluation_batches(range.clone()) {
        // Let other messages (a cancel, a classification) run between batches.
        gloo::timers::future::TimeoutFuture::new(0).await;
        if CANCELLED.with(|c| c.borrow().contains(&id)) {
            return Err(Error::Cancelled);
        }
        correct += count_correct(&loaded.model, &held, &batch)?;
        done += batch.len();
        progress(Body::Progress {
            done,
            total: range.len(),
        });
    }
    Ok(Body::Evaluated {
        model: model.to_string(),
        correct,
        count,
        millis: now_ms() - start,
        digits: Some(range),
    })
}

async fn attack_one(model: &str, image: &[f32], attack: AttackKind, seed: u64) -> Result<Body> {
    let loaded = model_named(model).await?;
    let original = loaded.network.classify(image)?;
    let x: Vec<f64> = image.iter().map(|&v| v as f64).collect();
    let start = now_ms();
    let outcome = run_attack(attack, &loaded.network, &x, seed)?;
    let millis = now_ms() - start;
    let flip_t = LineSearch::default()
        .run(&loaded.network, &x, &outcome.perturbation, original.label)
        .map(|s| s.alpha)
        .unwrap_or(1.0);
    Ok(Body::Attacked {
        model: model.to_string(),
        outcome,
        original,
        flip_t,
        millis,
    })
}

/// The robustness run over the first `count` held-out digits, or over `digits` of them (a part
/// of the job for the worker pool), each digit attacked with its own index as the seed
/// ([`attack_digit`]), with progress in digits of the part; the reply carries the exact sums
/// ([`robustness_reply`]).
async fn robustness(
    id: u64,
    model: &str,
    count: usize,
    digits: Option<std::ops::Range<usize>>,
    progress: &dyn Fn(Body),
) -> Result<Body> {
    part_digits(digits.clone(), count, usize::MAX)?;
    let loaded = model_named(model).await?;
    let held = held_out().await?;
    let range = part_digits(digits, count, held.len())?;
    let count = count.min(held.len());
    let mut summaries = empty_summaries();
    let mut correct = 0;
    for (k, i) in range.clone().enumerate() {
        if k % ROBUSTNESS_CHUNK == 0 {
            gloo::timers::future::TimeoutFuture::new(0).await;
            if CANCELLED.with(|c| c.borrow().contains(&id)) {
                return Err(Error::Cancelled);
            }
            progress(Body::Progress {
                done: k,
                total: range.len(),
            });
        }
        let x: Vec<f64> = held.image(i).iter().map(|&v| v as f64).collect();
        if attack_digit(
            &loaded.network,
            &x,
            held.label(i),
            i,
            &mut summaries,
            &now_ms,
        )? {
            correct += 1;
        }
    }
    Ok(robustness_reply(model, count, range, correct, summaries))
}

/// Makes a model available without fetching (used by tests and by callers holding the bytes).
pub fn install_model(card: ModelCard, weights: &[u8]) -> Result<()> {
    let name = card.name.clone();
    let loaded = Rc::new(check_model(card, weights)?);
    let ready: LocalBoxFuture<'static, _> = Box::pin(futures::future::ready(Ok(loaded)));
    MODELS.with(|m| m.borrow_mut().insert(name, ready.shared()));
    Ok(())
}

fn check_model(card: ModelCard, weights: &[u8]) -> Result<LoadedModel> {
    let arch = card.architecture_kind()?;
    // An experiment's model (`non-robust`, …) is named by its card, not by its architecture.
    let model = Classifier::from_safetensors(arch, weights, DType::F32, &Device::Cpu).map_err(
        |e| match e {
            Error::Weights { reason, .. } => Error::Weights {
                model: card.name.clone(),
                reason,
            },
            e => e,
        },
    )?;
    let network = Network::from_classifier(&model)?;
    Ok(LoadedModel {
        model,
        network,
        card,
    })
}

async fn fetch_model(name: String) -> Result<LoadedModel> {
    crate::card::check_model_name(&name)?;
    let card: ModelCard = fetch_json(&format!("{MODEL_DIR}/{name}.json")).await?;
    if card.name != name {
        return Err(Error::Weights {
            model: name,
            reason: format!("its card describes model '{}'", card.name),
        });
    }
    let weights = fetch_bytes(&format!("{MODEL_DIR}/{name}.safetensors")).await?;
    check_model(card, &weights)
}

/// The model called `name`, fetched and checked once; a failed load is retried next time.
pub async fn model_named(name: &str) -> Result<Rc<LoadedModel>> {
    let owned = name.to_string();
    load_once(&MODELS, name, || fetch_model(owned)).await
}
