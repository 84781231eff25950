//! The manipulated explanations demo (Dombrowski et al., NeurIPS 2019): a held-out digit, its
//! saliency map, and the worker's search for an imperceptible change `δ` that keeps the output and
//! moves the map towards a target (another digit's map, or a drawn one), with progress and
//! cancel; the original and manipulated inputs, `δ` magnified, the three maps, the numbers and the
//! similarity's climb step by step; the shipped report's figures beside. The URL holds the
//! model, the digit, the target, the map, `ε` and the steps.

use crate::classification::classifier::Architecture;
use crate::classification::explanation::{
    target_digit, ExplanationsReport, HistoryPoint, ManipulationResult, Method, REPORT_PATH,
};
use crate::classification::mnist::Digits;
use crate::classification::state::{ExplainTargetChoice, ExplanationState, EXPLAIN_EPS};
use crate::plot::{left_margin, linear_ticks, nice_step, Scale, BOTTOM};
use crate::protocol::{Body, ExplainAnswer, ExplainJob, ExplainTarget, Job, EXPLAIN_STEPS};
use crate::web::app::{use_query_state, Route};
use crate::web::compute::{use_long_job, LongJob};
use crate::web::draw::DrawPad;
use crate::web::export::{Array2, ExportFigure, FigureData};
use crate::web::fetch::fetch_bytes;
use crate::web::picker::{use_held_out, Gallery};
use crate::web::plot::{
    frame_with_legend, legend, x_axis_line, x_ticks, x_title, y_ticks, y_title, LegendItem, Swatch,
};
use crate::web::widgets::{DigitCanvas, ModelPicker, Notice, PerturbationCanvas, Progress};
use std::rc::Rc;
use yew::prelude::*;

/// The human name of a saliency map.
fn method_title(m: Method) -> &'static str {
    match m {
        Method::Gradient => "gradient ∇ₓg_c",
        Method::GradientTimesInput => "gradient × input",
    }
}

/// The final reply of a manipulation.
fn finish(body: Body) -> Option<Rc<ExplainAnswer>> {
    match body {
        Body::Explained(a) => Some(Rc::new(*a)),
        _ => None,
    }
}

/// The shipped report, loading (`None`) or loaded (or why not).
#[hook]
fn use_report() -> Option<Result<Rc<ExplanationsReport>, String>> {
    let report = use_state(|| None);
    {
        let report = report.clone();
        use_effect_with((), move |_| {
            wasm_bindgen_futures::spawn_local(async move {
                let read = fetch_bytes(&format!("./{REPORT_PATH}"))
                    .await
                    .and_then(|b| ExplanationsReport::from_json(&String::from_utf8_lossy(&b)))
                    .map_err(|e| e.for_people());
                report.set(Some(read.map(Rc::new)));
            });
        });
    }
    (*report).clone()
}

/// `values` as f64 (for the signed canvas).
fn wide(values: &[f32]) -> Rc<Vec<f64>> {
    Rc::new(values.iter().map(|&v| f64::from(v)).collect())
}

#[function_component(ExplanationsDemo)]
pub fn explanations_demo() -> Html {
    let (parsed, set_state, embed) = use_query_state::<ExplanationState>(Route::Explanations);
    let first = crate::web::app::use_figure_first();
    let state = parsed.state.clone();
    let digits = use_held_out();
    let report = use_report();
    let job = use_long_job(finish);
    // The drawn target map (the pad's 28×28 picture, used as the map).
    let drawn = use_state(|| None::<Rc<Vec<f32>>>);
    // A result belongs to the settings it was computed for: new settings put the page back to
    // its start (a running job is cancelled first).
    {
        let (state_now, job_state, cancel) = (state.clone(), job.state.clone(), job.cancel.clone());
        use_effect_with(state_now, move |_| match &*job_state {
            LongJob::Running { .. } => {
                crate::web::widgets::cancel_now(&cancel);
                job_state.set(LongJob::Idle);
            }
            LongJob::Idle => {}
            _ => job_state.set(LongJob::Idle),
        });
    }

    let loaded: Option<Rc<Digits>> = match &digits {
        Some(Ok(d)) => Some(d.clone()),
        _ => None,
    };
    let edit = |f: Rc<dyn Fn(&mut ExplanationState)>| {
        let (set_state, state) = (set_state.clone(), state.clone());
        move || {
            let mut s = state.clone();
            f(&mut s);
            set_state.emit(s);
        }
    };
    let on_model = {
        let (set_state, state) = (set_state.clone(), state.clone());
        Callback::from(move |model: Architecture| {
            set_state.emit(ExplanationState {
                model,
                ..state.clone()
            })
        })
    };
    let on_digit = {
        let (set_state, state) = (set_state.clone(), state.clone());
        Callback::from(move |digit: usize| {
            set_state.emit(ExplanationState {
                digit,
                ..state.clone()
            })
        })
    };
    let choose_method = |m: Method| {
        let go = edit(Rc::new(move |s: &mut ExplanationState| s.method = m));
        Callback::from(move |_: MouseEvent| go())
    };
    let choose_target = |t: ExplainTargetChoice| {
        let go = edit(Rc::new(move |s: &mut ExplanationState| s.target = t));
        Callback::from(move |_: MouseEvent| go())
    };
    let on_eps = {
        let (set_state, state) = (set_state.clone(), state.clone());
        Callback::from(move |e: InputEvent| {
            let input: web_sys::HtmlInputElement = e.target_unchecked_into();
            if let Ok(v) = input.value().parse::<f64>() {
                if EXPLAIN_EPS.contains(&v) {
                    set_state.emit(ExplanationState {
                        eps: v,
                        ..state.clone()
                    });
                }
            }
        })
    };
    let steps_error = use_state(|| None::<String>);
    let on_steps = {
        let (set_state, state, steps_error) =
            (set_state.clone(), state.clone(), steps_error.clone());
        Callback::from(move |e: Event| {
            let input: web_sys::HtmlInputElement = e.target_unchecked_into();
            match input.value().trim().parse::<usize>() {
                Ok(v) if EXPLAIN_STEPS.contains(&v) => {
                    steps_error.set(None);
                    set_state.emit(ExplanationState {
                        steps: v,
                        ..state.clone()
                    });
                }
                _ => {
                    steps_error.set(Some(format!(
                        "The manipulation takes a whole number of steps from {} to {}, not “{}”: still {}.",
                        EXPLAIN_STEPS.start(),
                        EXPLAIN_STEPS.end(),
                        input.value(),
                        state.steps
                    )));
                    input.set_value(&state.steps.to_string());
                }
            }
        })
    };
    let on_draw = {
        let drawn = drawn.clone();
        Callback::from(move |d: Option<Vec<f32>>| drawn.set(d.map(Rc::new)))
    };

    // The target: which digit (if any) and the job's target.
    let target_index: Option<usize> = match (state.target, &loaded) {
        (ExplainTargetChoice::Auto, Some(d)) => target_digit(d, state.digit).ok(),
        (ExplainTargetChoice::Digit(i), _) => Some(i),
        _ => None,
    };
    let image = loaded.as_ref().map(|d| Rc::new(d.image(state.digit)));
    let job_target: Option<ExplainTarget> = match (state.target, &loaded, &*drawn) {
        (ExplainTargetChoice::Drawing, _, Some(map)) => Some(ExplainTarget::Map {
            map: map.as_ref().clone(),
        }),
        (ExplainTargetChoice::Drawing, _, None) => None,
        (_, Some(d), _) => target_index.map(|i| ExplainTarget::Image { image: d.image(i) }),
        _ => None,
    };
    let run = {
        let (start, state, image, job_target) = (
            job.start.clone(),
            state.clone(),
            image.clone(),
            job_target.clone(),
        );
        Callback::from(move |_: MouseEvent| {
            if let (Some(image), Some(target)) = (&image, &job_target) {
                start.emit((
                    Job::Explain(ExplainJob {
                        model: state.model.name().to_string(),
                        image: image.as_ref().clone(),
                        target: target.clone(),
                        method: state.method,
                        steps: state.steps,
                        max_change: state.eps,
                    }),
                    state.steps,
                ))
            }
        })
    };

    let result: Option<Rc<ExplainAnswer>> = match &*job.state {
        LongJob::Done(a) => Some(a.clone()),
        _ => None,
    };
    let figure_data = {
        let (result, model) = (result.clone(), state.model);
        Callback::from(move |()| {
            let mut data = FigureData {
                model: Some(model.name().to_string()),
                ..FigureData::default()
            };
            if let Some(a) = &result {
                let r = &a.result;
                for (name, values) in [
                    ("x", &r.original),
                    ("x + delta", &r.manipulated),
                    ("delta", &r.delta),
                    ("explanation of x", &r.original_explanation),
                    ("explanation of x + delta", &r.manipulated_explanation),
                    ("target", &r.target),
                ] {
                    data.arrays.push(Array2 {
                        name: name.into(),
                        shape: vec![28, 28],
                        values: values.clone(),
                    });
                }
                data.numbers
                    .insert("pearson_before".into(), r.similarity_before.pearson.into());
                data.numbers
                    .insert("pearson_after".into(), r.similarity_after.pearson.into());
                data.numbers
                    .insert("delta_relative".into(), r.delta_relative.into());
            }
            data
        })
    };

    let status = match &*job.state {
        LongJob::Idle => html! {
            <p class="muted" data-testid="explain-idle">{"Press Manipulate to search for δ in the worker (about a second per 20 steps on a laptop)."}</p>
        },
        LongJob::Running { done, total, .. } => html! {
            <div class="run-row" data-testid="explain-running">
                <Progress done={*done} total={*total} />
                <button type="button" class="secondary" data-testid="explain-cancel" onclick={job.cancel.clone()}>{"Cancel"}</button>
            </div>
        },
        LongJob::Cancelled => html! {
            <p class="muted" data-testid="explain-cancelled">{"Cancelled. Press Manipulate to run it again."}</p>
        },
        LongJob::Failed(m) => html! {
            <Notice kind="error">{format!("The manipulation failed: {m}")}</Notice>
        },
        LongJob::Done(_) => html! {},
    };
    let running = matches!(&*job.state, LongJob::Running { .. });
    let can_run = image.is_some() && job_target.is_some() && !running;

    let body = match (&image, &result) {
        (None, _) => match &digits {
            Some(Err(e)) => {
                html! { <Notice kind="error">{format!("The held-out digits could not be loaded: {e}")}</Notice> }
            }
            _ => html! { <p class="muted">{"Loading the held-out digits…"}</p> },
        },
        (Some(x), None) => html! {
            <div class="explain-panels" data-testid="explain-start">
                <div class="panel">
                    <h2>{"x"}</h2>
                    <DigitCanvas pixels={x.clone()} class="big" label="the held-out digit x" />
                    <p class="panel-label">{format!("held-out digit #{}", state.digit)}</p>
                </div>
            </div>
        },
        (Some(_), Some(a)) => html! { <ResultPanels answer={a.clone()} /> },
    };

    let controls = html! {
        <div class="panel explain-controls">
            <div class="chip-row" role="radiogroup" aria-label="saliency map">
                <span class="chip-label">{"map"}</span>
                { for Method::ALL.iter().map(|&m| html! {
                    <button type="button" role="radio" aria-checked={(m == state.method).to_string()}
                        class={classes!("chip", (m == state.method).then_some("active"))}
                        data-map={m.name()} onclick={choose_method(m)}>{method_title(m)}</button>
                }) }
            </div>
            <div class="chip-row" role="radiogroup" aria-label="target map">
                <span class="chip-label">{"target"}</span>
                <button type="button" role="radio" aria-checked={(state.target == ExplainTargetChoice::Auto).to_string()}
                    class={classes!("chip", (state.target == ExplainTargetChoice::Auto).then_some("active"))}
                    data-target="auto" onclick={choose_target(ExplainTargetChoice::Auto)}>{"another digit’s map"}</button>
                <button type="button" role="radio" aria-checked={(state.target == ExplainTargetChoice::Drawing).to_string()}
                    class={classes!("chip", (state.target == ExplainTargetChoice::Drawing).then_some("active"))}
                    data-target="draw" onclick={choose_target(ExplainTargetChoice::Drawing)}>{"a map I draw"}</button>
            </div>
            if let (Some(i), Some(d)) = (target_index, &loaded) {
                <div class="target-digit" data-testid="target-digit">
                    <DigitCanvas pixels={Rc::new(d.image(i))} label={format!("target digit #{i}")} />
                    <span class="small">{format!("target: the map of held-out digit #{i} (a {}), explained for its own label", d.label(i))}</span>
                </div>
            }
            if state.target == ExplainTargetChoice::Drawing {
                <div class="draw-target" data-testid="draw-target">
                    <p class="small muted">{"Draw the shape the explanation should take (a letter, a circle…)."}</p>
                    <DrawPad on_change={on_draw} />
                    if drawn.is_none() {
                        <p class="small muted" data-testid="draw-first">{"Draw something first: an empty map cannot be a target."}</p>
                    }
                </div>
            }
            <label class="slider">
                <span>{"largest change per pixel ε"}</span>
                <span class="track">
                    <input type="range" min={EXPLAIN_EPS.start().to_string()} max={EXPLAIN_EPS.end().to_string()} step="0.01"
                        value={format!("{:.2}", state.eps)} oninput={on_eps} data-testid="eps-slider"
                        aria-label="ε, the largest change of a pixel" aria-valuetext={format!("ε, {:.2}", state.eps)} />
                </span>
                <span class="value">{format!("{:.2}", state.eps)}</span>
            </label>
            <label class="number-field">
                <span>{"Adam steps"}</span>
                <input type="number" min={EXPLAIN_STEPS.start().to_string()} max={EXPLAIN_STEPS.end().to_string()}
                    value={state.steps.to_string()} onchange={on_steps} data-testid="steps-input" />
            </label>
            if let Some(e) = &*steps_error {
                <Notice kind="warning">{e.clone()}</Notice>
            }
            <div class="run-row">
                <button type="button" data-testid="explain-run" disabled={!can_run} onclick={run}>{"Manipulate"}</button>
            </div>
            {status.clone()}
        </div>
    };
    let figure = html! {
        <ExportFigure name="explanations" title="Manipulated explanations" data={figure_data}>
            <div class="explain-main">{body}</div>
        </ExportFigure>
    };

    html! {
        <section class="demo explanations" data-testid="explanations">
            if !embed {
                <div class="demo-head">
                    <h1>{"Can explanations be trusted? Manipulated saliency maps"}</h1>
                    <p class="explain">
                        {"A saliency map says which pixels a network's answer depends on. Dombrowski et al. (NeurIPS 2019) showed that a change of the input too small to alter the answer can make the map look like anything: here Adam searches for such a δ, minimising the distance of the normalised map ĥ(x + δ) to a target map while keeping the logits g(x + δ) near g(x). "}
                        {"The map of a ReLU network has a Hessian that is zero almost everywhere, so the search runs on the same weights with softplus_β in place of ReLU (and a smooth max-pooling), β growing from 10 to 100; every number shown is the ReLU network's."}
                    </p>
                    {crate::web::math::formula(crate::formula::MANIPULATION)}
                    <p class="small muted">{"Dombrowski, Alber, Anders, Ackermann, Müller, Kessel: Explanations can be manipulated and geometry is to blame, NeurIPS 2019 (their eq. 4; ĥ = |h|/‖h‖₁, γ = 10⁻⁴)."}</p>
                </div>
            }
            { for parsed.notices.iter().map(|n| html! { <Notice kind="warning">{n.clone()}</Notice> }) }
            if first { {figure.clone()} }
            <ModelPicker model={state.model} on_pick={on_model} />
            if state.model == Architecture::Linear && state.method == Method::Gradient {
                <Notice kind="info">{"For softmax regression the gradient map is the row W_c of the weights, the same for every input: nothing can move it. Pick gradient × input, or another model."}</Notice>
            }
            <div class="explain-layout">
                {controls}
                if !first { {figure} }
            </div>
            <div class="panel gallery-panel">
                <h2>{"The digit"}</h2>
                if let Some(d) = &loaded {
                    <Gallery digits={d.clone()} selected={Some(state.digit)} on_pick={on_digit} />
                }
            </div>
            if !embed { <ReportPanel report={report} /> }
        </section>
    }
}

#[derive(Properties, PartialEq)]
struct ResultProps {
    answer: Rc<ExplainAnswer>,
}

/// The manipulation's answer: the inputs, `δ`, the maps, the numbers and the climb.
#[function_component(ResultPanels)]
fn result_panels(props: &ResultProps) -> Html {
    let a = &props.answer;
    let r: &ManipulationResult = &a.result;
    let kept = r.label_after == r.label_before;
    html! {
        <div class="explain-result" data-testid="explain-result">
            <div class="explain-panels">
                <div class="panel">
                    <h2>{"x"}</h2>
                    <DigitCanvas pixels={Rc::new(r.original.clone())} class="big" label="the digit x" />
                    <p class="panel-label" data-testid="label-before">{format!("k̂(x) = {}", r.label_before)}</p>
                </div>
                <div class="panel">
                    <h2>{"x + δ"}</h2>
                    <DigitCanvas pixels={Rc::new(r.manipulated.clone())} class="big" label="the manipulated digit x + δ" />
                    <p class={classes!("panel-label", if kept { "good" } else { "bad" })} data-testid="label-after">{format!("k̂(x + δ) = {}", r.label_after)}</p>
                </div>
                <div class="panel">
                    <h2>{"δ, magnified"}</h2>
                    <PerturbationCanvas values={wide(&r.delta)} label="the change δ, colours scaled to its largest value" />
                </div>
            </div>
            <div class="explain-panels">
                <div class="panel">
                    <h2>{"map of x"}</h2>
                    <PerturbationCanvas values={wide(&r.original_explanation)} label="the explanation of x" />
                </div>
                <div class="panel">
                    <h2>{"map of x + δ"}</h2>
                    <PerturbationCanvas values={wide(&r.manipulated_explanation)} label="the explanation of x + δ" />
                </div>
                <div class="panel">
                    <h2>{"target map"}</h2>
                    <PerturbationCanvas values={wide(&r.target)} label="the target map" />
                </div>
            </div>
            <dl class="readouts" data-testid="readouts">
                <dt>{"similarity to the target (Pearson)"}</dt>
                <dd data-testid="pearson">{format!("{:.3} → {:.3}", r.similarity_before.pearson, r.similarity_after.pearson)}</dd>
                <dt>{"cosine"}</dt>
                <dd>{format!("{:.3} → {:.3}", r.similarity_before.cosine, r.similarity_after.cosine)}</dd>
                <dt>{"label"}</dt>
                <dd data-testid="label-kept">{if kept { format!("{} (kept)", r.label_after) } else { format!("{} → {} (changed)", r.label_before, r.label_after) }}</dd>
                <dt>{"largest logit change max|Δg|"}</dt>
                <dd data-testid="logit-change">{format!("{:.3}", r.max_logit_change)}</dd>
                <dt>{"‖δ‖₂ (‖δ‖₂/‖x‖₂)"}</dt>
                <dd data-testid="delta">{format!("{:.3} ({:.3})", r.delta_l2, r.delta_relative)}</dd>
                <dt>{"‖δ‖∞"}</dt>
                <dd>{format!("{:.3} (ε = {:.2})", r.delta_linf, r.settings.max_change)}</dd>
                <dt>{"time"}</dt>
                <dd>{format!("{:.1} s for {} steps", a.millis / 1e3, r.settings.steps)}</dd>
            </dl>
            <SimilarityCurve history={Rc::new(r.history.clone())} steps={r.settings.steps} />
        </div>
    }
}

#[derive(Properties, PartialEq)]
struct CurveProps {
    history: Rc<Vec<HistoryPoint>>,
    steps: usize,
}

/// Pearson's correlation with the target after each recorded step, on the ReLU network (what a
/// user sees) and the smooth one (what is optimised).
#[function_component(SimilarityCurve)]
fn similarity_curve(props: &CurveProps) -> Html {
    let items = vec![
        LegendItem::new("series s-firenet", "ReLU network (shown)", Swatch::Line),
        LegendItem::new(
            "series s-net-random",
            "softplus network (optimised)",
            Swatch::Line,
        ),
    ];
    let (frame, slots) = frame_with_legend(470.0, 190.0, (left_margin(4), 14.0, BOTTOM), &items);
    let n = props.steps.max(1) as f64;
    let lo = props
        .history
        .iter()
        .flat_map(|h| [h.relu.pearson, h.smooth.pearson])
        .fold(0.0f64, f64::min)
        .max(-1.0);
    let xa = frame.x_axis(0.0, n, Scale::Linear);
    let ya = frame.y_axis(lo.min(0.0), 1.0, Scale::Linear);
    let line = |f: fn(&HistoryPoint) -> f64| {
        props
            .history
            .iter()
            .map(|h| format!("{:.1},{:.1}", xa.at(h.step as f64), ya.at(f(h))))
            .collect::<Vec<_>>()
            .join(" ")
    };
    let y_ticks_at = linear_ticks(
        (lo.min(0.0) * 4.0).floor() / 4.0,
        1.0,
        nice_step(1.0 - lo.min(0.0), 5.0),
    );
    html! {
        <svg class="error-plot curve-plot similarity-curve" viewBox={format!("0 0 {} {}", frame.w, frame.h)} role="img"
            data-testid="similarity-curve" aria-label="similarity of the explanation to the target after each step">
            {y_ticks(&frame, &ya, &y_ticks_at, |v| format!("{v:.2}"))}
            {x_ticks(&frame, &xa, &linear_ticks(0.0, n, nice_step(n, 6.0).max(1.0)), |v| format!("{v}"), false)}
            {x_axis_line(&frame)}
            <g class="series s-net-random"><polyline points={line(|h| h.smooth.pearson)} /></g>
            <g class="series s-firenet"><polyline points={line(|h| h.relu.pearson)} /></g>
            {legend(&items, &slots)}
            {x_title(&frame, "Adam step")}
            {y_title(&frame, "Pearson with target")}
        </svg>
    }
}

#[derive(Properties, PartialEq)]
struct ReportProps {
    report: Option<Result<Rc<ExplanationsReport>, String>>,
}

/// The shipped report's figures: every method on the first held-out digits.
#[function_component(ReportPanel)]
fn report_panel(props: &ReportProps) -> Html {
    let report = match &props.report {
        None => return html! { <p class="muted">{"Loading the report…"}</p> },
        Some(Err(e)) => {
            return html! { <Notice kind="warning">{format!("The shipped report could not be read: {e}")}</Notice> }
        }
        Some(Ok(r)) => r.clone(),
    };
    html! {
        <div class="panel explain-report" data-testid="explain-report">
            <h2>{format!("Measured on the first {} held-out digits ({}, {} steps, ε = {})", report.methods.first().map_or(0, |m| m.cases.len()), report.model.name(), report.settings.steps, report.settings.max_change)}</h2>
            <table class="robustness">
                <thead><tr>
                    <th scope="col">{"map"}</th>
                    <th scope="col">{"labels kept"}</th>
                    <th scope="col">{"Pearson with the target, median"}</th>
                    <th scope="col">{"‖δ‖₂/‖x‖₂, median"}</th>
                    <th scope="col">{"max|Δg|, median (largest)"}</th>
                </tr></thead>
                <tbody>
                    { for report.methods.iter().map(|m| html! {
                        <tr data-map={m.method.name()}>
                            <th scope="row">{method_title(m.method)}</th>
                            <td>{format!("{} of {}", m.labels_kept, m.cases.len())}</td>
                            <td>{format!("{:.2} → {:.2}", m.median_pearson_before, m.median_pearson_after)}</td>
                            <td>{format!("{:.3}", m.median_delta_relative)}</td>
                            <td>{format!("{:.2} ({:.2})", m.median_max_logit_change, m.largest_logit_change)}</td>
                        </tr>
                    }) }
                </tbody>
            </table>
            <p class="small muted">{format!("Each digit's target is the map of the next held-out digit with another label. {} ({}). MNIST digits are mostly black background, so an ℓ∞ change of 0.1 spread over it is a faint haze you can see when you look for it, unlike the paper's ImageNet photographs.", report.command, report.date)}</p>
        </div>
    }
}
