//! The non-robust features demo (Ilyas et al., NeurIPS 2019, §3.2): training digits pushed by
//! targeted ℓ₂ PGD towards a wrong label `t` and labelled `t`, which still look like their own
//! digit; a network trained only on them (`non-robust`, `D_rand`) classifying clean held-out
//! digits beside the normally trained CNN, the `D_det` control, a measurement in the worker and
//! the shipped report's figures. The URL holds the model, the held-out digit and the example.

use crate::classification::classifier::{Architecture, Prediction};
use crate::classification::mnist::Digits;
use crate::classification::non_robust::{Examples, NonRobustReport, TargetRule};
use crate::classification::state::NonRobustState;
use crate::protocol::{Body, Job};
use crate::web::app::{use_query_state, Route, WorkerEpoch};
use crate::web::compute::{use_latest_job, use_long_job, LongJob};
use crate::web::export::{Array2, ExportFigure, FigureData};
use crate::web::fetch::fetch_bytes;
use crate::web::picker::{use_held_out, Gallery};
use crate::web::widgets::{
    DigitCanvas, JobRun, Notice, PerturbationCanvas, PredictionBars, Progress,
};
use std::rc::Rc;
use yew::prelude::*;

/// The shipped report.
pub const REPORT_PATH: &str = "static/reports/non_robust_features.json";
/// The shipped relabelled training digits.
pub const EXAMPLES_PATH: &str = "static/data/non-robust-examples.safetensors";
/// Held-out digits of the measurement in the worker (the report's subset).
const MEASURE_COUNT: usize = 500;

/// The shipped model trained on the set of `rule`.
fn model_name(rule: TargetRule) -> &'static str {
    match rule {
        TargetRule::Random => "non-robust",
        TargetRule::Deterministic => "non-robust-det",
    }
}

/// What the model of `rule` was trained on, in words.
fn model_title(rule: TargetRule) -> &'static str {
    match rule {
        TargetRule::Random => "trained on D_rand (random wrong labels t)",
        TargetRule::Deterministic => "trained on D_det (t = y + 1, the control)",
    }
}

/// A shipped file read by `read`, loading (`None`) or loaded (or why not).
type Loaded<T> = Option<Result<Rc<T>, String>>;

#[hook]
fn use_shipped<T: 'static>(path: &'static str, read: fn(&[u8]) -> crate::Result<T>) -> Loaded<T> {
    let loaded = use_state(|| None);
    {
        let loaded = loaded.clone();
        use_effect_with((), move |_| {
            wasm_bindgen_futures::spawn_local(async move {
                let read = fetch_bytes(&format!("./{path}"))
                    .await
                    .and_then(|b| read(&b))
                    .map_err(|e| e.for_people());
                loaded.set(Some(read.map(Rc::new)));
            });
        });
    }
    (*loaded).clone()
}

fn finish_classify(body: Body) -> Option<Prediction> {
    match body {
        Body::Classified { prediction, .. } => Some(prediction),
        _ => None,
    }
}

/// The measurement's answer: the model, correct, count.
fn finish_measure(body: Body) -> Option<(String, usize, usize)> {
    match body {
        Body::Evaluated {
            model,
            correct,
            count,
            ..
        } => Some((model, correct, count)),
        _ => None,
    }
}

/// Bytes `0..=255` as intensities.
fn intensities(bytes: &[u8]) -> Vec<f32> {
    bytes.iter().map(|&b| f32::from(b) / 255.0).collect()
}

fn percent(v: f64) -> String {
    format!("{:.1}%", v * 100.0)
}

#[function_component(NonRobustDemo)]
pub fn non_robust_demo() -> Html {
    let (parsed, set_state, embed) = use_query_state::<NonRobustState>(Route::NonRobust);
    let first = crate::web::app::use_figure_first();
    let state = parsed.state.clone();
    let digits = use_held_out();
    let report = use_shipped(REPORT_PATH, NonRobustReport::from_json);
    let examples = use_shipped(EXAMPLES_PATH, Examples::from_safetensors);
    let epoch = use_context::<WorkerEpoch>().unwrap_or_default();
    let loaded: Option<Rc<Digits>> = match &digits {
        Some(Ok(d)) => Some(d.clone()),
        _ => None,
    };
    let image = loaded.as_ref().map(|d| d.image(state.digit));
    let truth = loaded.as_ref().map(|d| d.label(state.digit));
    let classify = |model: &str| {
        image.as_ref().map(|image| Job::Classify {
            model: model.to_string(),
            image: image.clone(),
        })
    };
    let (ours, _) = use_latest_job(classify(model_name(state.model)), epoch, 1, finish_classify);
    let (normal, _) = use_latest_job(
        classify(Architecture::Cnn.name()),
        epoch,
        1,
        finish_classify,
    );
    let measure = use_long_job(finish_measure);
    // A measurement belongs to its model: another model cancels it.
    {
        let (job_state, cancel) = (measure.state.clone(), measure.cancel.clone());
        use_effect_with(state.model, move |_| match &*job_state {
            LongJob::Running { .. } => {
                crate::web::widgets::cancel_now(&cancel);
                job_state.set(LongJob::Idle);
            }
            LongJob::Idle => {}
            _ => job_state.set(LongJob::Idle),
        });
    }

    let on_digit = {
        let (set_state, state) = (set_state.clone(), state.clone());
        Callback::from(move |digit: usize| {
            set_state.emit(NonRobustState {
                digit,
                ..state.clone()
            })
        })
    };
    let choose_model = |model: TargetRule| {
        let (set_state, state) = (set_state.clone(), state.clone());
        Callback::from(move |_: MouseEvent| {
            set_state.emit(NonRobustState {
                model,
                ..state.clone()
            })
        })
    };
    let on_example = {
        let (set_state, state) = (set_state.clone(), state.clone());
        Callback::from(move |example: usize| {
            set_state.emit(NonRobustState {
                example,
                ..state.clone()
            })
        })
    };
    let on_measure = {
        let (start, model) = (measure.start.clone(), state.model);
        Callback::from(move |_: MouseEvent| {
            start.emit((
                Job::Evaluate {
                    model: model_name(model).to_string(),
                    count: MEASURE_COUNT,
                    digits: None,
                },
                MEASURE_COUNT,
            ))
        })
    };

    let prediction = |run: &JobRun<Prediction>, name: &str, testid: &'static str| match run {
        JobRun::Failed(m) => html! {
            <div data-testid={testid}>
                <Notice kind="error">{format!("Model \u{201c}{name}\u{201d} is unavailable: {m}")}</Notice>
            </div>
        },
        run => match run.shown() {
            Some(p) => html! {
                <div data-testid={testid}><PredictionBars prediction={p.as_ref().clone()} truth={truth} /></div>
            },
            None => html! { <p class="muted" data-testid={testid}>{"Classifying…"}</p> },
        },
    };
    let live = match (&digits, &image) {
        (Some(Err(e)), _) => html! {
            <Notice kind="error">{format!("The held-out digits could not be loaded: {e}")}</Notice>
        },
        (_, None) => html! { <p class="muted">{"Loading the held-out digits…"}</p> },
        (_, Some(x)) => html! {
            <div class="nr-live" data-testid="nr-live">
                <div class="panel">
                    <h2>{"a clean held-out digit"}</h2>
                    <DigitCanvas pixels={Rc::new(x.clone())} class="big" label="the clean held-out digit" />
                    <p class="panel-label">{format!("held-out digit #{}, a {}", state.digit, truth.unwrap_or_default())}</p>
                </div>
                <div class="panel">
                    <h2>{format!("{}: never saw a correct label", model_name(state.model))}</h2>
                    <p class="small muted">{model_title(state.model)}</p>
                    {prediction(&ours, model_name(state.model), "nr-model-prediction")}
                </div>
                <div class="panel">
                    <h2>{"cnn: the normally trained network"}</h2>
                    <p class="small muted">{"trained on the true labels"}</p>
                    {prediction(&normal, Architecture::Cnn.name(), "nr-cnn-prediction")}
                </div>
            </div>
        },
    };
    let figure_data = {
        let (image, ours, normal, model) = (
            image.clone(),
            ours.shown().cloned(),
            normal.shown().cloned(),
            state.model,
        );
        Callback::from(move |()| {
            let mut data = FigureData {
                model: Some(model_name(model).to_string()),
                ..FigureData::default()
            };
            if let Some(x) = &image {
                data.arrays.push(Array2 {
                    name: "x".into(),
                    shape: vec![28, 28],
                    values: x.clone(),
                });
            }
            for (name, p) in [("non_robust", &ours), ("cnn", &normal)] {
                if let Some(p) = p {
                    data.numbers
                        .insert(format!("{name}_label"), (p.label as f64).into());
                    data.numbers.insert(
                        format!("{name}_probability"),
                        f64::from(p.probabilities[p.label]).into(),
                    );
                }
            }
            data
        })
    };
    let figure = html! {
        <ExportFigure name="non-robust" title="Non-robust features" data={figure_data}>
            {live}
        </ExportFigure>
    };
    let measured = match &*measure.state {
        LongJob::Idle => html! {},
        LongJob::Running { done, total, .. } => html! {
            <div class="run-row" data-testid="nr-measure-running">
                <Progress done={*done} total={*total} />
                <button type="button" class="secondary" data-testid="nr-measure-cancel" onclick={measure.cancel.clone()}>{"Cancel"}</button>
            </div>
        },
        LongJob::Cancelled => {
            html! { <p class="muted" data-testid="nr-measure-cancelled">{"Cancelled."}</p> }
        }
        LongJob::Failed(m) => {
            html! { <Notice kind="error">{format!("The measurement failed: {m}")}</Notice> }
        }
        LongJob::Done((model, correct, count)) => html! {
            <p data-testid="nr-measured">{format!("{model}: {correct} of {count} clean held-out digits right, {}", percent(*correct as f64 / (*count).max(1) as f64))}</p>
        },
    };
    let measuring = matches!(&*measure.state, LongJob::Running { .. });

    html! {
        <section class="demo non-robust" data-testid="non-robust">
            if !embed {
                <div class="demo-head">
                    <h1>{"Non-robust features: wrong labels, right answers"}</h1>
                    <p class="explain">
                        {"Take every training digit x of class y, pick another class t, and push x towards t on the normally trained CNN f by targeted projected gradient descent in a small ℓ₂ ball, ‖x′ − x‖₂ ≤ ε. Label the result t. To a person every label of this set is wrong: the digits still look like their original digit. "}
                        {"Train a fresh network only on these pairs (x′, t) and test it on clean digits with their true labels. If adversarial perturbations were noise it would score 10%, chance. It does far better: the perturbations carry features of class t that clean digits of class t have too, features that predict the class but that people cannot see (Ilyas et al., NeurIPS 2019)."}
                    </p>
                    {crate::web::math::formula(crate::formula::NON_ROBUST_PGD)}
                    <p class="small muted">{"Ilyas, Santurkar, Tsipras, Engstrom, Tran, Madry: Adversarial Examples Are Not Bugs, They Are Features, NeurIPS 2019, §3.2. Here ε = 2.5 (a digit has ‖x‖₂ ≈ 9.2), α = 0.625, 10 steps; D_rand draws t among the nine other classes, D_det sets t = (y + 1) mod 10."}</p>
                </div>
            }
            { for parsed.notices.iter().map(|n| html! { <Notice kind="warning">{n.clone()}</Notice> }) }
            if first { {figure.clone()} }
            <div class="chip-row" role="radiogroup" aria-label="the network trained on relabelled digits">
                <span class="chip-label">{"network"}</span>
                { for TargetRule::ALL.iter().map(|&r| html! {
                    <button type="button" role="radio" aria-checked={(r == state.model).to_string()}
                        class={classes!("chip", (r == state.model).then_some("active"))}
                        data-model={model_name(r)} onclick={choose_model(r)}>{format!("{} ({})", model_name(r), r.paper_name())}</button>
                }) }
            </div>
            if !first { {figure} }
            <div class="run-row">
                <button type="button" data-testid="nr-measure" disabled={measuring} onclick={on_measure}>
                    {format!("Measure {} on {MEASURE_COUNT} held-out digits", model_name(state.model))}
                </button>
                {measured}
            </div>
            <div class="panel gallery-panel">
                <h2>{"The clean held-out digit"}</h2>
                if let Some(d) = &loaded {
                    <Gallery digits={d.clone()} selected={Some(state.digit)} on_pick={on_digit} />
                }
            </div>
            <ExamplesPanel examples={examples} selected={state.example} choose={on_example} />
            if !embed { <ReportPanel report={report} /> }
        </section>
    }
}

#[derive(Properties, PartialEq)]
struct ExamplesProps {
    examples: Loaded<Examples>,
    selected: usize,
    choose: Callback<usize>,
}

/// The shipped relabelled training digits: each x, x′ and its labels y → t; the selected one
/// magnified with δ = x′ − x.
#[function_component(ExamplesPanel)]
fn examples_panel(props: &ExamplesProps) -> Html {
    let ex = match &props.examples {
        None => return html! { <p class="muted">{"Loading the relabelled training digits…"}</p> },
        Some(Err(e)) => {
            return html! { <Notice kind="warning">{format!("The relabelled training digits could not be loaded: {e}")}</Notice> }
        }
        Some(Ok(ex)) => ex.clone(),
    };
    let n = ex.len();
    let px = |v: &[u8], i: usize| intensities(&v[i * 784..(i + 1) * 784]);
    let sel = props.selected.min(n.saturating_sub(1));
    let detail = (n > 0).then(|| {
        let (x, x1) = (px(&ex.original, sel), px(&ex.perturbed, sel));
        let delta: Vec<f64> = x1.iter().zip(&x).map(|(a, b)| f64::from(a - b)).collect();
        let l2 = delta.iter().map(|d| d * d).sum::<f64>().sqrt();
        let linf = delta.iter().fold(0.0f64, |m, d| m.max(d.abs()));
        let (y, t) = (ex.labels[sel], ex.targets[sel]);
        html! {
            <div class="nr-detail" data-testid="nr-detail">
                <div class="panel">
                    <h3>{"x, the training digit"}</h3>
                    <DigitCanvas pixels={Rc::new(x)} class="big" label={format!("the original training digit, a {y}")} />
                    <p class="panel-label">{format!("true label y = {y}")}</p>
                </div>
                <div class="panel">
                    <h3>{"x′, what the network is trained on"}</h3>
                    <DigitCanvas pixels={Rc::new(x1)} class="big" label={format!("the perturbed digit, labelled {t}")} />
                    <p class="panel-label bad" data-testid="nr-detail-label">{format!("labelled t = {t}")}</p>
                </div>
                <div class="panel">
                    <h3>{"δ = x′ − x, magnified"}</h3>
                    <PerturbationCanvas values={Rc::new(delta)} label="the change δ, colours scaled to its largest value" />
                    <p class="small" data-testid="nr-detail-delta">{format!("‖δ‖₂ = {l2:.2}, ‖δ‖∞ = {linf:.2}")}</p>
                </div>
            </div>
        }
    });
    html! {
        <div class="panel nr-examples" data-testid="nr-examples">
            <h2>{format!("The training set: {n} of its digits ({}, ε = {})", ex.rule.paper_name(), ex.epsilon)}</h2>
            <p class="small muted">{"Each pair is a training digit x and the x′ the network was trained on, with its true label y and the label t it was given. They still look like their original digit; the only trace of t is the faint speckle of δ. Pick one to magnify it."}</p>
            <div class="nr-grid">
                { for (0..n).map(|i| {
                    let (y, t) = (ex.labels[i], ex.targets[i]);
                    let choose = props.choose.clone();
                    html! {
                        <button type="button" class={classes!("nr-example", (i == sel).then_some("active"))}
                            data-testid="nr-example" aria-pressed={(i == sel).to_string()}
                            onclick={Callback::from(move |_: MouseEvent| choose.emit(i))}>
                            <DigitCanvas pixels={Rc::new(px(&ex.original, i))} label={format!("example {i}: the original {y}")} />
                            <DigitCanvas pixels={Rc::new(px(&ex.perturbed, i))} label={format!("example {i}: perturbed, labelled {t}")} />
                            <span class="nr-labels">{format!("{y} → {t}")}</span>
                        </button>
                    }
                }) }
            </div>
            {detail.unwrap_or_default()}
        </div>
    }
}

#[derive(Properties, PartialEq)]
struct ReportProps {
    report: Loaded<NonRobustReport>,
}

/// The shipped report's figures: both sets, the accuracies against chance and the normal CNN,
/// and the paper's CIFAR-10 figures.
#[function_component(ReportPanel)]
fn report_panel(props: &ReportProps) -> Html {
    let r = match &props.report {
        None => return html! { <p class="muted">{"Loading the report…"}</p> },
        Some(Err(e)) => {
            return html! { <Notice kind="warning">{format!("The shipped report could not be read: {e}")}</Notice> }
        }
        Some(Ok(r)) => r.clone(),
    };
    let mut bars: Vec<(String, f64, &'static str)> = vec![(
        format!("{} trained normally", r.source_model),
        r.source_held_out_accuracy,
        "normal",
    )];
    for run in &r.runs {
        bars.push((
            format!("{} trained on {}", run.model, run.construction),
            run.held_out_accuracy,
            if run.rule == TargetRule::Random {
                "ours"
            } else {
                "control"
            },
        ));
    }
    bars.push(("chance".into(), r.chance, "chance"));
    for p in &r.paper_figures {
        bars.push((
            format!("paper: {} on {} {}", p.model, p.dataset, p.construction),
            p.accuracy,
            "paper",
        ));
    }
    html! {
        <div class="panel nr-report" data-testid="nr-report">
            <h2>{format!("Measured: accuracy on the {} clean held-out digits, true labels", r.held_out_count)}</h2>
            <ul class="nr-bars" aria-label="clean held-out accuracy">
                { for bars.iter().map(|(label, v, kind)| html! {
                    <li class={classes!("nr-bar", *kind)} data-kind={*kind}>
                        <span class="nr-bar-label">{label.clone()}</span>
                        <span class="bar-track"><span class="bar-fill" ~style={format!("width: {:.1}%", v * 100.0)} /></span>
                        <span class="nr-bar-value">{percent(*v)}</span>
                    </li>
                }) }
            </ul>
            <table class="robustness">
                <thead><tr>
                    <th scope="col">{"set"}</th>
                    <th scope="col">{"training digits"}</th>
                    <th scope="col">{"targeted PGD success"}</th>
                    <th scope="col">{"‖δ‖₂ median (max)"}</th>
                    <th scope="col">{"‖δ‖∞ median"}</th>
                    <th scope="col">{"fits its labels t"}</th>
                    <th scope="col">{"clean held-out, true labels"}</th>
                    <th scope="col">{"clean held-out labelled y + 1"}</th>
                </tr></thead>
                <tbody>
                    { for r.runs.iter().map(|run| html! {
                        <tr data-rule={run.rule.name()}>
                            <th scope="row">{format!("{} ({})", run.construction, run.model)}</th>
                            <td>{run.set.count}</td>
                            <td>{percent(run.set.attack_success)}</td>
                            <td>{format!("{:.2} ({:.2})", run.set.delta_l2.median, run.set.delta_l2.max)}</td>
                            <td>{format!("{:.2}", run.set.delta_linf.median)}</td>
                            <td>{percent(run.relabelled_accuracy)}</td>
                            <td data-testid={format!("nr-accuracy-{}", run.rule.name())}>{percent(run.held_out_accuracy)}</td>
                            <td>{percent(run.held_out_next_class)}</td>
                        </tr>
                    }) }
                </tbody>
            </table>
            <p class="small">
                {"D_rand: the only thing that ties an image to its label is the perturbation towards t, and still the network reads most clean digits right, seven times chance. "}
                {"D_det is different on MNIST: t = y + 1 is a function of the digit's shape, so the network learns the strokes (\u{201c}a 3-shaped digit is a 4\u{201d}) and labels most clean digits y + 1, below chance with the true labels. On CIFAR-10, where robust features are weaker, the paper's ResNet-50 reached 43.7% on D_det."}
            </p>
            <p class="small muted">{format!("{} ({}); {}", r.command, r.date, r.paper)}</p>
        </div>
    }
}
