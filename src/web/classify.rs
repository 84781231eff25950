//! The Classify demo: pick a held-out digit or draw one, choose a model, and see the prediction
//! as bars, updating while drawing. The URL holds the model and the digit (deep links).

use crate::card::ModelCard;
use crate::classifier::{Architecture, Prediction};
use crate::mnist::{Digits, CLASSES};
use crate::protocol::{Body, Job};
use crate::route::{ClassifyState, DigitSource};
use crate::web::compute::Compute;
use crate::web::data::held_out;
use crate::web::draw::DrawPad;
use crate::web::widgets::{DigitCanvas, Notice, PredictionBars, Progress};
use std::rc::Rc;
use yew::prelude::*;
use yew_router::prelude::*;

use super::app::{embed_mode, Route, WorkerEpoch};

/// Digits per gallery page.
const PAGE: usize = 40;

#[derive(Clone, PartialEq)]
enum Outcome {
    Waiting,
    Done {
        model: Architecture,
        prediction: Prediction,
        millis: f64,
    },
    Failed {
        model: Architecture,
        message: String,
    },
}

impl Outcome {
    /// Whether this is (still) an answer of `model`: while another model's answer is pending, the
    /// previous model's is not shown under the new name. The same model's last answer stays up
    /// until the next one arrives, so predictions do not flicker while drawing.
    fn is_for(&self, model: Architecture) -> bool {
        match self {
            Outcome::Waiting => true,
            Outcome::Done { model: m, .. } | Outcome::Failed { model: m, .. } => *m == model,
        }
    }
}

#[derive(Clone, PartialEq)]
enum CardState {
    Loading,
    Ready(Box<ModelCard>),
    Failed(String),
}

#[derive(Clone, PartialEq)]
enum Evaluation {
    Idle,
    Running {
        id: u64,
        done: usize,
        total: usize,
    },
    Done {
        correct: usize,
        count: usize,
        millis: f64,
    },
    Cancelled,
    Failed(String),
}

/// Marks the first prediction shown, for the start-up benchmark.
fn mark_first_prediction() {
    thread_local!(static MARKED: std::cell::Cell<bool> = const { std::cell::Cell::new(false) });
    if !MARKED.with(|m| m.replace(true)) {
        if let Some(p) = web_sys::window().and_then(|w| w.performance()) {
            let _ = p.mark("first-prediction");
        }
    }
}

#[function_component(ClassifyDemo)]
pub fn classify_demo() -> Html {
    let compute = use_context::<Compute>().expect("the compute worker is provided by the app");
    let epoch = use_context::<WorkerEpoch>().unwrap_or_default();
    let location = use_location();
    let navigator = use_navigator();
    let query = location
        .as_ref()
        .map(|l| l.query_str().to_string())
        .unwrap_or_default();
    let parsed = ClassifyState::from_query(&query);
    let state = parsed.state.clone();
    let embed = embed_mode(&location);

    let set_state = {
        let navigator = navigator.clone();
        Callback::from(move |s: ClassifyState| {
            if let Some(n) = &navigator {
                let mut pairs = crate::route::parse_query(&s.to_query());
                if embed {
                    pairs.push(("embed".into(), "1".into()));
                }
                let _ = n.replace_with_query(&Route::Classify, &pairs);
            }
        })
    };

    // The held-out digits (shared with the worker's copy through the browser cache).
    let digits = use_state(|| None::<Result<Rc<Digits>, String>>);
    {
        let digits = digits.clone();
        use_effect_with((), move |_| {
            wasm_bindgen_futures::spawn_local(async move {
                digits.set(Some(held_out().await.map_err(|e| e.to_string())));
            });
        });
    }
    let loaded = match &*digits {
        Some(Ok(d)) => Some(d.clone()),
        _ => None,
    };

    let drawing = use_state(|| None::<Rc<Vec<f32>>>);

    // The image being classified, and its true label when known.
    let image: Option<(Rc<Vec<f32>>, Option<usize>)> = {
        let loaded = loaded.clone();
        let drawing = (*drawing).clone();
        let source = state.source;
        use_memo(
            (source, loaded.is_some(), drawing),
            move |(source, _, drawing)| match source {
                DigitSource::Gallery(i) => loaded
                    .as_ref()
                    .map(|d| (Rc::new(d.image(*i)), Some(d.label(*i)))),
                DigitSource::Drawing => drawing.clone().map(|d| (d, None)),
            },
        )
        .as_ref()
        .clone()
    };

    // Classify whenever the model or the image changes; only the latest answer is shown.
    let outcome = use_state(|| Outcome::Waiting);
    let latest = use_mut_ref(|| 0u64);
    {
        let (compute, outcome, latest) = (compute.clone(), outcome.clone(), latest.clone());
        let model = state.model;
        use_effect_with((model, image.clone(), epoch), move |(model, image, _)| {
            let model = *model;
            if let Some((pixels, _)) = image {
                let ticket = {
                    let mut l = latest.borrow_mut();
                    *l += 1;
                    *l
                };
                let (outcome2, latest2) = (outcome.clone(), latest.clone());
                compute.request(
                    Job::Classify {
                        model: model.name().to_string(),
                        image: pixels.as_ref().clone(),
                    },
                    Callback::from(move |body| {
                        if *latest2.borrow() != ticket {
                            return;
                        }
                        match body {
                            Body::Classified {
                                prediction, millis, ..
                            } => {
                                mark_first_prediction();
                                outcome2.set(Outcome::Done {
                                    model,
                                    prediction,
                                    millis,
                                });
                            }
                            Body::Failed { message } => {
                                outcome2.set(Outcome::Failed { model, message })
                            }
                            _ => {}
                        }
                    }),
                );
            }
        });
    }

    // The model card.
    let card = use_state(|| CardState::Loading);
    {
        let (compute, card) = (compute.clone(), card.clone());
        use_effect_with((state.model, epoch), move |(model, _)| {
            card.set(CardState::Loading);
            let card2 = card.clone();
            compute.request(
                Job::LoadModel {
                    model: model.name().to_string(),
                },
                Callback::from(move |body| match body {
                    Body::ModelReady { card } => card2.set(CardState::Ready(Box::new(card))),
                    Body::Failed { message } => card2.set(CardState::Failed(message)),
                    _ => {}
                }),
            );
        });
    }

    let evaluation = use_state(|| Evaluation::Idle);
    {
        let evaluation = evaluation.clone();
        use_effect_with(state.model, move |_| evaluation.set(Evaluation::Idle));
    }
    let on_evaluate = {
        let (compute, evaluation, model) = (compute.clone(), evaluation.clone(), state.model);
        Callback::from(move |_: MouseEvent| {
            let ev = evaluation.clone();
            let id_cell = Rc::new(std::cell::Cell::new(0u64));
            let id_cell2 = id_cell.clone();
            let id = compute.request(
                Job::Evaluate {
                    model: model.name().to_string(),
                    count: crate::mnist::HELD_OUT_COUNT,
                },
                Callback::from(move |body| match body {
                    Body::Progress { done, total } => ev.set(Evaluation::Running {
                        id: id_cell2.get(),
                        done,
                        total,
                    }),
                    Body::Evaluated {
                        correct,
                        count,
                        millis,
                        ..
                    } => ev.set(Evaluation::Done {
                        correct,
                        count,
                        millis,
                    }),
                    Body::Cancelled => ev.set(Evaluation::Cancelled),
                    Body::Failed { message } => ev.set(Evaluation::Failed(message)),
                    _ => {}
                }),
            );
            id_cell.set(id);
            evaluation.set(Evaluation::Running {
                id,
                done: 0,
                total: crate::mnist::HELD_OUT_COUNT,
            });
        })
    };
    let on_cancel = {
        let (compute, evaluation) = (compute.clone(), evaluation.clone());
        Callback::from(move |_: MouseEvent| {
            if let Evaluation::Running { id, .. } = &*evaluation {
                compute.cancel(*id);
            }
        })
    };

    // A click that moves to another state (model or digit source).
    let go_to = {
        let set_state = set_state.clone();
        move |target: ClassifyState| {
            let set_state = set_state.clone();
            Callback::from(move |_: MouseEvent| set_state.emit(target.clone()))
        }
    };
    let on_model = |model: Architecture| {
        go_to(ClassifyState {
            model,
            ..state.clone()
        })
    };
    let on_source = |source: DigitSource| {
        go_to(ClassifyState {
            source,
            ..state.clone()
        })
    };
    let on_pick = {
        let (set_state, state) = (set_state.clone(), state.clone());
        Callback::from(move |i: usize| {
            set_state.emit(ClassifyState {
                source: DigitSource::Gallery(i),
                ..state.clone()
            })
        })
    };
    let on_draw = {
        let drawing = drawing.clone();
        Callback::from(move |d: Option<Vec<f32>>| drawing.set(d.map(Rc::new)))
    };

    let drawing_mode = state.source == DigitSource::Drawing;
    let selected = match state.source {
        DigitSource::Gallery(i) => Some(i),
        DigitSource::Drawing => None,
    };
    let last_gallery = use_mut_ref(|| 0usize);
    if let Some(i) = selected {
        *last_gallery.borrow_mut() = i;
    }
    let gallery_target = DigitSource::Gallery(*last_gallery.borrow());

    let input_panel = if drawing_mode {
        html! { <DrawPad on_change={on_draw} /> }
    } else {
        match &*digits {
            None => html! { <p class="muted">{"Loading the held-out digits…"}</p> },
            Some(Err(e)) => {
                html! { <Notice kind="error">{format!("The digits could not be loaded: {e}")}</Notice> }
            }
            Some(Ok(d)) => {
                html! { <Gallery digits={d.clone()} selected={selected} on_pick={on_pick} /> }
            }
        }
    };

    let truth = image.as_ref().and_then(|(_, t)| *t);
    let image_panel = match &image {
        Some((pixels, _)) => html! {
            <DigitCanvas pixels={pixels.clone()} class="big" label="the digit being classified" />
        },
        None if drawing_mode => {
            html! { <div class="empty-digit">{"Draw a digit on the pad"}</div> }
        }
        None => html! { <div class="empty-digit">{"…"}</div> },
    };
    let image_caption = match (state.source, truth) {
        (DigitSource::Gallery(i), Some(t)) => format!("held-out digit #{i}, true label {t}"),
        (DigitSource::Drawing, _) => {
            "your drawing, size-normalised and centred as in MNIST".to_string()
        }
        _ => String::new(),
    };

    let prediction_panel = match (&image, &*outcome) {
        (None, _) => html! { <p class="muted">{"The prediction appears here."}</p> },
        (_, o) if !o.is_for(state.model) => html! { <p class="muted">{"Classifying…"}</p> },
        (_, Outcome::Waiting) => html! { <p class="muted">{"Classifying…"}</p> },
        (_, Outcome::Failed { model, message }) => html! {
            <Notice kind="error">{format!("Model \u{201c}{}\u{201d} is unavailable: {message}", model.name())}</Notice>
        },
        (
            _,
            Outcome::Done {
                prediction, millis, ..
            },
        ) => html! {
            <>
                <PredictionBars prediction={prediction.clone()} truth={truth} />
                <p class="small muted">{format!("computed in the worker in {millis:.1} ms")}</p>
            </>
        },
    };

    let card_panel = match &*card {
        CardState::Loading => html! { <p class="muted">{"Loading the model…"}</p> },
        CardState::Failed(m) => html! { <Notice kind="error">{m.clone()}</Notice> },
        CardState::Ready(c) => html! {
            <dl class="card" data-testid="model-card">
                <dt>{"Architecture"}</dt><dd>{c.architecture.clone()}</dd>
                <dt>{"Parameters"}</dt><dd>{c.parameters}</dd>
                <dt>{"Held-out accuracy"}</dt><dd>{format!("{:.2}% of {} digits", c.held_out_accuracy * 100.0, c.held_out_count)}</dd>
                <dt>{"Trained on"}</dt><dd>{format!("{} digits in {:.0} s (seed {})", c.train_count, c.training_seconds, c.seed)}</dd>
            </dl>
        },
    };

    let card_failed = matches!(&*card, CardState::Failed(_));
    let evaluation_panel = match &*evaluation {
        Evaluation::Idle if card_failed => html! {},
        Evaluation::Idle => html! {
            <button type="button" class="secondary" onclick={on_evaluate} data-testid="evaluate">
                {"Measure held-out accuracy in this browser"}</button>
        },
        Evaluation::Running { done, total, .. } => html! {
            <div class="row">
                <Progress done={*done} total={*total} />
                <button type="button" class="secondary" onclick={on_cancel} data-testid="cancel">{"Cancel"}</button>
            </div>
        },
        Evaluation::Done {
            correct,
            count,
            millis,
        } => html! {
            <p data-testid="evaluation">{format!("{correct} of {count} correct: {:.2}% (in {:.0} ms)",
                100.0 * *correct as f64 / (*count).max(1) as f64, millis)}</p>
        },
        Evaluation::Cancelled => html! {
            <p data-testid="evaluation">{"Cancelled. "}
                <button type="button" class="link" onclick={on_evaluate}>{"Run again"}</button></p>
        },
        Evaluation::Failed(m) => html! { <Notice kind="error">{m.clone()}</Notice> },
    };

    html! {
        <section class="demo classify" data-testid="classify">
            if !embed {
                <div class="demo-head">
                    <h1>{"Classify a digit"}</h1>
                    <p class="explain">
                        {"A classifier maps an image x (28×28 = 784 pixels in [0, 1]) to scores f(x) ∈ ℝ¹⁰, one per digit. "}
                        {"Its answer is the class with the largest score, and the softmax turns the scores into probabilities:"}
                    </p>
                    <p class="formula">{"k̂(x) = argmaxₖ fₖ(x),   pₖ(x) = exp fₖ(x) / Σⱼ exp fⱼ(x)"}</p>
                </div>
            }
            { for parsed.notices.iter().map(|n| html! { <Notice kind="warning">{n.clone()}</Notice> }) }
            <div class="model-picker" role="radiogroup" aria-label="model">
                { for Architecture::ALL.iter().map(|&a| html! {
                    <button type="button" role="radio" aria-checked={(a == state.model).to_string()}
                        class={classes!("model-choice", (a == state.model).then_some("active"))}
                        data-model={a.name()} onclick={on_model(a)}>
                        <strong>{a.name()}</strong><span>{a.description()}</span>
                    </button>
                }) }
            </div>
            <div class="classify-grid">
                <div class="panel input-panel">
                    <div class="tabs" role="tablist">
                        <button type="button" role="tab" aria-selected={(!drawing_mode).to_string()}
                            class={classes!("tab", (!drawing_mode).then_some("active"))}
                            onclick={on_source(gallery_target)} data-testid="tab-gallery">{"Held-out digits"}</button>
                        <button type="button" role="tab" aria-selected={drawing_mode.to_string()}
                            class={classes!("tab", drawing_mode.then_some("active"))}
                            onclick={on_source(DigitSource::Drawing)} data-testid="tab-draw">{"Draw"}</button>
                    </div>
                    {input_panel}
                </div>
                <div class="panel image-panel">
                    <h2>{"Input x"}</h2>
                    {image_panel}
                    <p class="caption" data-testid="image-caption">{image_caption}</p>
                </div>
                <div class="panel prediction-panel">
                    <h2>{format!("Prediction of {}", state.model.name())}</h2>
                    {prediction_panel}
                    <h3>{"Model card"}</h3>
                    {card_panel}
                    {evaluation_panel}
                </div>
            </div>
        </section>
    }
}

#[derive(Properties, PartialEq)]
struct GalleryProps {
    digits: Rc<Digits>,
    selected: Option<usize>,
    on_pick: Callback<usize>,
}

/// A paged grid of held-out digits with their labels, filterable by label.
#[function_component(Gallery)]
fn gallery(props: &GalleryProps) -> Html {
    let filter = use_state(|| None::<usize>);
    let page = use_state(|| props.selected.unwrap_or(0) / PAGE);
    let indices: Vec<usize> = (0..props.digits.len())
        .filter(|&i| filter.is_none_or(|f| props.digits.label(i) == f))
        .collect();
    let pages = indices.len().div_ceil(PAGE).max(1);
    let current = (*page).min(pages - 1);
    let shown =
        &indices[(current * PAGE).min(indices.len())..((current + 1) * PAGE).min(indices.len())];
    let set_filter = |f: Option<usize>| {
        let (filter, page) = (filter.clone(), page.clone());
        Callback::from(move |_: MouseEvent| {
            filter.set(f);
            page.set(0);
        })
    };
    let go = |p: usize| {
        let page = page.clone();
        Callback::from(move |_: MouseEvent| page.set(p))
    };
    html! {
        <div class="gallery">
            <div class="filters" aria-label="show only one label">
                <button type="button" class={classes!("chip", filter.is_none().then_some("active"))} onclick={set_filter(None)}>{"all"}</button>
                { for (0..CLASSES).map(|c| html! {
                    <button type="button" class={classes!("chip", (*filter == Some(c)).then_some("active"))}
                        onclick={set_filter(Some(c))}>{c}</button>
                }) }
            </div>
            <div class="digit-grid" data-testid="gallery">
                { for shown.iter().map(|&i| {
                    let on_pick = props.on_pick.clone();
                    let label = props.digits.label(i);
                    html! {
                        <button type="button" class={classes!("digit-tile", (props.selected == Some(i)).then_some("selected"))}
                            data-index={i.to_string()} data-label={label.to_string()}
                            title={format!("held-out digit #{i}, label {label}")}
                            onclick={Callback::from(move |_: MouseEvent| on_pick.emit(i))}>
                            <DigitCanvas pixels={Rc::new(props.digits.image(i))} label={format!("digit #{i}")} />
                            <span class="tile-label">{label}</span>
                        </button>
                    }
                }) }
            </div>
            <div class="pager">
                <button type="button" class="secondary" disabled={current == 0} onclick={go(current.saturating_sub(1))}>{"‹ previous"}</button>
                <span>{format!("page {} of {pages}", current + 1)}</span>
                <button type="button" class="secondary" disabled={current + 1 >= pages} onclick={go(current + 1)}>{"next ›"}</button>
            </div>
        </div>
    }
}
