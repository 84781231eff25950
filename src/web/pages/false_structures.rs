//! The false structures demo ("Clever Hans"; Thesing, Antun & Hansen 2019): a held-out digit
//! with a faint 2×2 dot on its blank edge whose position encodes a label, the prediction of the
//! network trained with such dots (`planted-<strength>`) beside the normally trained CNN's, and
//! chips that plant the digit's own dot, remove it or move it to another label, so that the
//! student sees the planted network's label follow the dot while the digit stays the same.
//! DeepFool on the shown digit puts its perturbation on the dots. The shipped report's figures
//! for the three strengths sit below. The URL holds the strength, the digit and the dot.

use crate::classification::attack::AttackKind;
use crate::classification::classifier::Prediction;
use crate::classification::false_structure::{
    plant, structure_mask, structure_share, FalseStructureReport, ModelFigures, REPORT_PATH,
    STRENGTHS,
};
use crate::classification::mnist::{Digits, CLASSES, SIDE};
use crate::classification::state::{FalseStructureState, PlantChoice};
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

/// The normally trained model shown beside the planted one.
const NORMAL_MODEL: &str = "cnn";

/// The shipped report, loading (`None`) or loaded (or why not).
#[hook]
fn use_report() -> Option<Result<Rc<FalseStructureReport>, String>> {
    let report = use_state(|| None);
    {
        let report = report.clone();
        use_effect_with((), move |_| {
            wasm_bindgen_futures::spawn_local(async move {
                let read = fetch_bytes(&format!("./{REPORT_PATH}"))
                    .await
                    .map_err(|e| e.for_people())
                    .and_then(|b| {
                        serde_json::from_slice::<FalseStructureReport>(&b)
                            .map_err(|e| format!("it is not a false structures report ({e})"))
                    });
                report.set(Some(read.map(Rc::new)));
            });
        });
    }
    (*report).clone()
}

fn classified(body: Body) -> Option<Prediction> {
    match body {
        Body::Classified { prediction, .. } => Some(prediction),
        _ => None,
    }
}

/// DeepFool's answer on the shown image, with its share on the structure pixels.
#[derive(Clone, PartialEq)]
struct DeepFoolView {
    r: Rc<Vec<f64>>,
    l2: f64,
    share: Option<f64>,
    from: usize,
    to: usize,
    success: bool,
}

fn attacked(body: Body) -> Option<DeepFoolView> {
    match body {
        Body::Attacked { outcome, .. } => Some(DeepFoolView {
            share: structure_share(&outcome.perturbation).ok(),
            l2: outcome.l2,
            from: outcome.original_label,
            to: outcome.adversarial_label,
            success: outcome.success,
            r: Rc::new(outcome.perturbation),
        }),
        _ => None,
    }
}

/// What the prediction panel shows for one model.
fn prediction_panel(
    run: &JobRun<Prediction>,
    truth: Option<usize>,
    model: &str,
    testid: &'static str,
) -> Html {
    let state = match run {
        JobRun::Done(_) => "done",
        JobRun::Running { .. } => "running",
        JobRun::Failed(_) => "failed",
        JobRun::Idle => "idle",
    };
    let body = match (run, run.shown()) {
        (JobRun::Failed(m), _) => {
            html! { <Notice kind="error">{format!("{model} could not classify the digit: {m}")}</Notice> }
        }
        (_, Some(p)) => html! { <PredictionBars prediction={p.as_ref().clone()} truth={truth} /> },
        _ => html! { <p class="muted">{"Loading the model…"}</p> },
    };
    html! { <div data-testid={testid} data-state={state}>{body}</div> }
}

/// The digit, magnified, with the ten dots' places outlined and the planted one marked.
#[derive(Properties, PartialEq)]
struct DotsProps {
    image: Rc<Vec<f32>>,
    planted: Option<usize>,
    label: AttrValue,
}

#[function_component(DigitWithDots)]
fn digit_with_dots(props: &DotsProps) -> Html {
    html! {
        <div class="fs-digit">
            <DigitCanvas pixels={props.image.clone()} class="big" label={props.label.clone()} />
            <svg class="fs-dots" viewBox={format!("0 0 {SIDE} {SIDE}")} aria-hidden="true">
                { for (0..CLASSES).map(|k| {
                    let m = structure_mask(k).expect("a digit label");
                    let (row, col) = (m[0] / SIDE, m[0] % SIDE);
                    let planted = props.planted == Some(k);
                    html! {
                        <g class={classes!("fs-dot", planted.then_some("planted"))} data-dot={k.to_string()}>
                            <rect x={(col as f64 - 0.1).to_string()} y={(row as f64 - 0.1).to_string()} width="2.2" height="2.2" />
                            if planted {
                                <text x={(col as f64 + if k < 5 { 1.0 } else { 3.4 }).to_string()}
                                    y={(row as f64 + if k < 5 { 4.2 } else { 1.6 }).to_string()}>{k}</text>
                            }
                        </g>
                    }
                }) }
            </svg>
        </div>
    }
}

#[function_component(FalseStructuresDemo)]
pub fn false_structures_demo() -> Html {
    let (parsed, set_state, embed) = use_query_state::<FalseStructureState>(Route::FalseStructures);
    let first = crate::web::app::use_figure_first();
    let epoch = use_context::<WorkerEpoch>().unwrap_or_default();
    let state = parsed.state.clone();
    let digits = use_held_out();
    let report = use_report();

    let loaded: Option<Rc<Digits>> = match &digits {
        Some(Ok(d)) if state.digit < d.len() => Some(d.clone()),
        _ => None,
    };
    let truth = loaded.as_ref().map(|d| d.label(state.digit));
    let planted_label = truth.and_then(|t| state.plant.planted(t));
    let s = state.strength.intensity();
    let image: Option<Rc<Vec<f32>>> = loaded.as_ref().map(|d| {
        let x = d.image(state.digit);
        Rc::new(match planted_label {
            Some(k) => plant(&x, k, s).unwrap_or(x),
            None => x,
        })
    });
    let model = state.strength.model_name();

    let planted_job = image.as_ref().map(|x| Job::Classify {
        model: model.clone(),
        image: x.as_ref().clone(),
    });
    let normal_job = image.as_ref().map(|x| Job::Classify {
        model: NORMAL_MODEL.to_string(),
        image: x.as_ref().clone(),
    });
    let (planted_run, _) = use_latest_job(planted_job, epoch, 1, classified);
    let (normal_run, _) = use_latest_job(normal_job, epoch, 1, classified);

    // DeepFool on the shown image, on request; new settings put it back to its start (a
    // running one is cancelled first).
    let deepfool = use_long_job(attacked);
    {
        let (job_state, cancel) = (deepfool.state.clone(), deepfool.cancel.clone());
        use_effect_with(state.clone(), move |_| match &*job_state {
            LongJob::Running { .. } => {
                crate::web::widgets::cancel_now(&cancel);
                job_state.set(LongJob::Idle);
            }
            LongJob::Idle => {}
            _ => job_state.set(LongJob::Idle),
        });
    }
    let on_deepfool = {
        let (start, image, model) = (deepfool.start.clone(), image.clone(), model.clone());
        Callback::from(move |_: MouseEvent| {
            if let Some(x) = &image {
                start.emit((
                    Job::Attack {
                        model: model.clone(),
                        image: x.as_ref().clone(),
                        attack: AttackKind::DeepFoolL2,
                        seed: 0,
                    },
                    50,
                ))
            }
        })
    };
    let deepfool_result: Option<DeepFoolView> = match &*deepfool.state {
        LongJob::Done(d) => Some(d.clone()),
        _ => None,
    };

    let set = |f: Rc<dyn Fn(&mut FalseStructureState)>| {
        let (set_state, state) = (set_state.clone(), state.clone());
        Callback::from(move |_: MouseEvent| {
            let mut next = state.clone();
            f(&mut next);
            set_state.emit(next);
        })
    };
    let on_digit = {
        let (set_state, state) = (set_state.clone(), state.clone());
        Callback::from(move |digit: usize| {
            set_state.emit(FalseStructureState {
                digit,
                ..state.clone()
            })
        })
    };

    let planted_now = planted_run.shown().map(|p| p.label);
    let figure_data = {
        let (image, state) = (image.clone(), state.clone());
        let (planted_now, normal_now) = (planted_now, normal_run.shown().map(|p| p.label));
        let deepfool = deepfool_result.clone();
        let model = model.clone();
        Callback::from(move |()| {
            let mut data = FigureData {
                model: Some(model.clone()),
                ..FigureData::default()
            };
            if let Some(x) = &image {
                data.arrays.push(Array2 {
                    name: "x".into(),
                    shape: vec![SIDE, SIDE],
                    values: x.as_ref().clone(),
                });
            }
            data.numbers
                .insert("digit".into(), (state.digit as u64).into());
            data.numbers.insert(
                "strength".into(),
                f64::from(state.strength.intensity()).into(),
            );
            data.numbers.insert(
                "planted_label".into(),
                planted_label.map_or(serde_json::Value::Null, |k| (k as u64).into()),
            );
            if let Some(k) = planted_now {
                data.numbers
                    .insert("planted_model_label".into(), (k as u64).into());
            }
            if let Some(k) = normal_now {
                data.numbers.insert("cnn_label".into(), (k as u64).into());
            }
            if let Some(d) = &deepfool {
                data.arrays.push(Array2 {
                    name: "deepfool r".into(),
                    shape: vec![SIDE, SIDE],
                    values: d.r.iter().map(|&v| v as f32).collect(),
                });
                data.numbers.insert("deepfool_l2".into(), d.l2.into());
                if let Some(share) = d.share {
                    data.numbers
                        .insert("deepfool_share_on_structure".into(), share.into());
                }
            }
            data
        })
    };

    let follows = match (planted_now, planted_label, truth) {
        (Some(p), Some(k), Some(t)) if k != t && p == k => Some(html! {
            <p class="fs-verdict bad" data-testid="fs-follows">{format!("The planted network follows the dot: it says {k}, the digit is a {t}.")}</p>
        }),
        (Some(p), Some(k), Some(t)) if k != t && p == t => Some(html! {
            <p class="fs-verdict good" data-testid="fs-follows">{format!("The planted network keeps the digit's label {t} despite the dot of {k}.")}</p>
        }),
        _ => None,
    };
    let plant_text = match (planted_label, truth) {
        (None, _) => "no dot".to_string(),
        (Some(k), Some(t)) if k == t => format!("the dot of its own label {k}"),
        (Some(k), _) => format!("the dot of label {k}"),
    };

    let body = match &image {
        None => match &digits {
            Some(Err(e)) => {
                html! { <Notice kind="error">{format!("The held-out digits could not be loaded: {e}")}</Notice> }
            }
            _ => html! { <p class="muted">{"Loading the held-out digits…"}</p> },
        },
        Some(x) => html! {
            <div class="fs-panels" data-testid="fs-figure" data-plant={state.plant.value()}>
                <div class="panel">
                    <h2>{"the digit x′"}</h2>
                    <DigitWithDots image={x.clone()} planted={planted_label}
                        label={format!("held-out digit #{} with {plant_text}", state.digit)} />
                    <p class="panel-label" data-testid="fs-shown">{format!("#{} (a {}), {plant_text}", state.digit, truth.unwrap_or_default())}</p>
                    <p class="small muted">{format!("Outlined: the ten dots' places; marked: the planted one. It adds grey level {} of 255 to 4 pixels{}.", state.strength.level, if state.strength.level < 16 { ", far too little to see" } else { ": look closely at the marked place" })}</p>
                </div>
                <div class="panel">
                    <h2>{format!("{model} (trained with dots)")}</h2>
                    {prediction_panel(&planted_run, truth, &model, "fs-planted")}
                    {follows}
                </div>
                <div class="panel">
                    <h2>{"cnn (trained normally)"}</h2>
                    {prediction_panel(&normal_run, truth, NORMAL_MODEL, "fs-normal")}
                </div>
            </div>
        },
    };

    let running = matches!(&*deepfool.state, LongJob::Running { .. });
    let deepfool_view = match &*deepfool.state {
        LongJob::Idle => html! {
            <p class="muted small" data-testid="fs-deepfool-idle">{format!("DeepFool looks for the smallest r that changes {model}'s label. Where does it put r?")}</p>
        },
        LongJob::Cancelled => html! {
            <p class="muted small" data-testid="fs-deepfool-cancelled">{"Cancelled."}</p>
        },
        LongJob::Failed(m) => {
            html! { <Notice kind="error">{format!("DeepFool failed: {m}")}</Notice> }
        }
        LongJob::Running { done, total, .. } => html! {
            <div class="run-row" data-testid="fs-deepfool-running">
                <Progress done={*done} total={*total} />
                <button type="button" class="secondary" data-testid="fs-deepfool-cancel" onclick={deepfool.cancel.clone()}>{"Cancel"}</button>
            </div>
        },
        LongJob::Done(d) => html! {
            <div class="fs-deepfool-result" data-testid="fs-deepfool-result">
                <PerturbationCanvas values={d.r.clone()} label="DeepFool's perturbation r, colours scaled to its largest value" />
                <dl class="readouts">
                    <dt>{"label"}</dt>
                    <dd>{if d.success { format!("{} → {}", d.from, d.to) } else { format!("{} (not changed)", d.from) }}</dd>
                    <dt>{"‖r‖₂"}</dt>
                    <dd data-testid="fs-deepfool-l2">{format!("{:.3}", d.l2)}</dd>
                    <dt>{"share of ‖r‖₂² on the 40 dot pixels (5.1% of all: the share if r were spread evenly)"}</dt>
                    <dd data-testid="fs-deepfool-share">{d.share.map_or("—".to_string(), |v| format!("{:.0}%", v * 100.0))}</dd>
                </dl>
            </div>
        },
    };

    let own = state.plant == PlantChoice::Own;
    let none = state.plant == PlantChoice::Nothing;
    let controls = html! {
        <div class="panel fs-controls">
            <div class="chip-row" role="radiogroup" aria-label="strength of the dots">
                <span class="chip-label">{"strength"}</span>
                { for STRENGTHS.iter().map(|&st| {
                    let on = st == state.strength;
                    html! {
                        <button type="button" role="radio" aria-checked={on.to_string()}
                            class={classes!("chip", on.then_some("active"))} data-strength={st.name}
                            onclick={set(Rc::new(move |s: &mut FalseStructureState| s.strength = st))}>
                            {format!("{} ({}/255)", st.name, st.level)}
                        </button>
                    }
                }) }
            </div>
            <div class="chip-row" role="radiogroup" aria-label="the dot in the digit">
                <span class="chip-label">{"dot"}</span>
                <button type="button" role="radio" aria-checked={own.to_string()}
                    class={classes!("chip", own.then_some("active"))} data-plant="true"
                    onclick={set(Rc::new(|s: &mut FalseStructureState| s.plant = PlantChoice::Own))}>{"plant its own label's"}</button>
                <button type="button" role="radio" aria-checked={none.to_string()}
                    class={classes!("chip", none.then_some("active"))} data-plant="none"
                    onclick={set(Rc::new(|s: &mut FalseStructureState| s.plant = PlantChoice::Nothing))}>{"remove it"}</button>
            </div>
            <div class="chip-row" role="radiogroup" aria-label="move the dot to label">
                <span class="chip-label">{"move it to"}</span>
                { for (0..CLASSES).map(|k| {
                    let on = state.plant == PlantChoice::Label(k);
                    html! {
                        <button type="button" role="radio" aria-checked={on.to_string()}
                            aria-label={format!("the dot of label {k}")}
                            class={classes!("chip", "digit-chip", on.then_some("active"))} data-plant={k.to_string()}
                            onclick={set(Rc::new(move |s: &mut FalseStructureState| s.plant = PlantChoice::Label(k)))}>{k}</button>
                    }
                }) }
            </div>
            <div class="run-row">
                <button type="button" data-testid="fs-deepfool" disabled={image.is_none() || running} onclick={on_deepfool}>{"DeepFool on this digit"}</button>
            </div>
            {deepfool_view}
        </div>
    };
    let figure = html! {
        <ExportFigure name="false-structures" title="False structures" data={figure_data}>
            <div class="fs-main">{body}</div>
        </ExportFigure>
    };

    html! {
        <section class="demo false-structures" data-testid="false-structures">
            if !embed {
                <div class="demo-head">
                    <h1>{"False structures: does the network learn the digit, or a dot?"}</h1>
                    <p class="explain">
                        {"Three networks (planted-faint, planted-medium, planted-strong) were trained on digits that each carried a 2×2 dot on its blank edge, of grey level 8, 24 or 64 out of 255; the dot's place encodes the label (top edge for 0–4, left edge for 5–9). The dot separates the classes perfectly and is far simpler than the digit, so the networks learn it, the more the stronger it is: with the strong dot they score 100%, without it they lose accuracy, and they follow the dot when you move it to another label's place — the digit itself is untouched. "}
                        {"The normally trained CNN ignores the dot. DeepFool's smallest change of the planted network's answer moves the dot, not the digit: the false structure is also where the network is unstable."}
                    </p>
                    {crate::web::math::formula(crate::formula::FALSE_STRUCTURE)}
                    <p class="small muted">{"L. Thesing, V. Antun, A. C. Hansen: What do AI algorithms actually learn? On false structures in deep learning (arXiv:1906.01478, 2019). M_k: the 4 pixels of label k's dot, s = grey level/255, U: all 40 dot pixels."}</p>
                </div>
            }
            { for parsed.notices.iter().map(|n| html! { <Notice kind="warning">{n.clone()}</Notice> }) }
            if first { {figure.clone()} }
            <div class={classes!("fs-layout", first.then_some("single"))}>
                {controls}
                if !first { {figure} }
            </div>
            <div class="panel gallery-panel">
                <h2>{"The digit"}</h2>
                if let Some(d) = &loaded {
                    <Gallery digits={d.clone()} selected={Some(state.digit)} on_pick={on_digit} />
                }
            </div>
            if !embed { <ReportPanel report={report} chosen={state.strength.name} /> }
        </section>
    }
}

#[derive(Properties, PartialEq)]
struct ReportProps {
    report: Option<Result<Rc<FalseStructureReport>, String>>,
    chosen: &'static str,
}

fn pct(v: f64) -> String {
    format!("{:.1}%", v * 100.0)
}

fn report_row(strength: &str, first: bool, span: usize, m: &ModelFigures, chosen: bool) -> Html {
    let a = &m.held_out;
    html! {
        <tr class={classes!(chosen.then_some("chosen"), first.then_some("first"))}
            data-strength={strength.to_string()} data-model={m.model.clone()}>
            if first { <th scope="rowgroup" rowspan={span.to_string()}>{strength.to_string()}</th> }
            <th scope="row">{m.model.clone()}</th>
            <td>{pct(a.with_structure)}</td>
            <td>{pct(a.without_structure)}</td>
            <td>{format!("{} / {}", pct(a.other_label), pct(a.follows_other_label))}</td>
            <td>{format!("{:.1}%", m.deepfool.mean_share * 100.0)}</td>
            <td>{format!("{:.2}", m.deepfool.median_norm)}</td>
        </tr>
    }
}

/// The shipped report's figures: the three strengths, the planted and normal models.
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
        <div class="panel fs-report" data-testid="fs-report">
            <h2>{format!("The strength trade-off, measured on the {} held-out digits", report.held_out_count)}</h2>
            <table class="robustness">
                <thead><tr>
                    <th scope="col">{"strength"}</th>
                    <th scope="col">{"model"}</th>
                    <th scope="col">{"accuracy with its dot"}</th>
                    <th scope="col">{"without a dot"}</th>
                    <th scope="col">{"with the next label's dot: correct / follows it"}</th>
                    <th scope="col">{"DeepFool: share of ‖r‖₂² on the dots"}</th>
                    <th scope="col">{"median ‖r‖₂"}</th>
                </tr></thead>
                { for report.strengths.iter().map(|st| {
                    let chosen = st.strength == props.chosen;
                    let span = 1 + st.normal.len();
                    let name = format!("{} ({}/255)", st.strength, st.level);
                    html! {
                        <tbody class={classes!(chosen.then_some("chosen"))}>
                            {report_row(&name, true, span, &st.planted, chosen)}
                            { for st.normal.iter().map(|m| report_row(&name, false, span, m, chosen)) }
                        </tbody>
                    }
                }) }
            </table>
            <p class="small muted">{format!("The next label's dot: the dot of (y + 1) mod 10 planted instead of y's. DeepFool (ℓ₂) on {} digits per strength; the share would be {:.1}% if r were spread evenly. {} ({}).", report.strengths.first().map_or(0, |s| s.planted.deepfool.digits), report.uniform_share * 100.0, report.command, report.date)}</p>
        </div>
    }
}
