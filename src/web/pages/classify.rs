//! The Classify demo: pick a held-out digit or draw one, choose a model, and see the prediction
//! as bars, updating while drawing. The URL holds the model and the digit (deep links).

use crate::card::ModelCard;
use crate::classification::classifier::{Architecture, Prediction};
use crate::web::export::ExportFigure;

use crate::classification::mnist::HELD_OUT_COUNT;
use crate::classification::parts::{merge_evaluations, split_digits, EVALUATE_BATCH};
use crate::classification::state::{ClassifyState, DigitSource};
use crate::protocol::{Body, Job};
use crate::web::compute::{use_pooled_job, Compute, LongJob};
use crate::web::picker::{use_digit, use_held_out, DigitPicker};
use crate::web::widgets::{
    cancel_now, workers_text, DigitCanvas, ModelPicker, Notice, PredictionBars, Progress,
};
use yew::prelude::*;

use crate::web::app::{use_query_state, Route, WorkerEpoch};

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

/// A held-out accuracy measured in the workers.
#[derive(Clone, PartialEq)]
struct Measured {
    correct: usize,
    count: usize,
    millis: f64,
}

/// The evaluation from its parts' replies (one per worker of the pool).
fn merge(bodies: Vec<Body>) -> Result<Measured, String> {
    let e = merge_evaluations(bodies).map_err(|e| e.for_people())?;
    Ok(Measured {
        correct: e.correct,
        count: e.count,
        millis: e.millis,
    })
}

/// The held-out digits dealt to `workers` workers, in batches ([`EVALUATE_BATCH`]).
fn evaluation_parts(workers: usize) -> Vec<std::ops::Range<usize>> {
    split_digits(HELD_OUT_COUNT, workers, EVALUATE_BATCH)
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
    let (parsed, set_state, embed) = use_query_state::<ClassifyState>(Route::Classify);
    let state = parsed.state.clone();

    let digits = use_held_out();
    let (image, on_draw) = use_digit(state.source, &digits);

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

    let evaluation = use_pooled_job::<Measured>(merge);
    {
        // Another model: stop an evaluation under way and forget the last one.
        let (job, cancel) = (evaluation.state.clone(), evaluation.cancel.clone());
        use_effect_with(state.model, move |_| {
            cancel_now(&cancel);
            job.set(LongJob::Idle)
        });
    }
    // The held-out digits in contiguous parts, one per worker of the pool.
    let parts = evaluation_parts(evaluation.workers);
    let on_evaluate = {
        let (start, model, parts) = (evaluation.start.clone(), state.model, parts.clone());
        Callback::from(move |_: MouseEvent| {
            let jobs = parts
                .iter()
                .map(|digits| Job::Evaluate {
                    model: model.name().to_string(),
                    count: HELD_OUT_COUNT,
                    digits: Some(digits.clone()),
                })
                .collect();
            start.emit((jobs, HELD_OUT_COUNT))
        })
    };

    let on_model = {
        let (set_state, state) = (set_state.clone(), state.clone());
        Callback::from(move |model: Architecture| {
            set_state.emit(ClassifyState {
                model,
                ..state.clone()
            })
        })
    };
    let on_source = {
        let (set_state, state) = (set_state.clone(), state.clone());
        Callback::from(move |source: DigitSource| {
            set_state.emit(ClassifyState {
                source,
                ..state.clone()
            })
        })
    };
    let drawing_mode = state.source == DigitSource::Drawing;

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
    let evaluation_panel = match &*evaluation.state {
        LongJob::Idle if card_failed => html! {},
        LongJob::Idle => html! {
            <button type="button" class="secondary" onclick={on_evaluate} data-testid="evaluate">
                {"Measure held-out accuracy in this browser"}</button>
        },
        LongJob::Running { done, total, .. } => html! {
            <div class="row" data-testid="evaluation-running" data-workers={parts.len().to_string()}>
                <Progress done={*done} total={*total} />
                <span class="small muted">{workers_text(parts.len())}</span>
                <button type="button" class="secondary" onclick={evaluation.cancel.clone()} data-testid="cancel">{"Cancel"}</button>
            </div>
        },
        LongJob::Done(Measured {
            correct,
            count,
            millis,
        }) => html! {
            <p data-testid="evaluation">{format!("{correct} of {count} correct: {:.2}% (in {:.0} ms)",
                100.0 * *correct as f64 / (*count).max(1) as f64, millis)}</p>
        },
        LongJob::Cancelled => html! {
            <p data-testid="evaluation">{"Cancelled. "}
                <button type="button" class="link" onclick={on_evaluate}>{"Run again"}</button></p>
        },
        LongJob::Failed(m) => html! {
            <div data-testid="evaluation-failed">
                <Notice kind="error">{m.clone()}</Notice>
                <button type="button" class="secondary" onclick={on_evaluate} data-testid="evaluate">
                    {"Try the measurement again"}</button>
            </div>
        },
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
                    {crate::web::math::formula(crate::formula::CLASSIFY)}
                </div>
            }
            { for parsed.notices.iter().map(|n| html! { <Notice kind="warning">{n.clone()}</Notice> }) }
            <ModelPicker model={state.model} on_pick={on_model} />
            <ExportFigure name="classify" title="Classify a digit">
                <div class="classify-grid">
                    <div class="panel input-panel">
                        <DigitPicker digits={digits.clone()} source={state.source} on_source={on_source} on_draw={on_draw} />
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
            </ExportFigure>
        </section>
    }
}
