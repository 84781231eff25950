//! The universal perturbations demo (Moosavi-Dezfooli, Fawzi, Fawzi & Frossard, CVPR 2017): one
//! `v` with `‖v‖_p ≤ ξ` that changes the label of most digits; its fooling rate on held-out digits
//! beside a random perturbation of the same norm, the fooling curve per pass, a grid of held-out
//! digits with and without `v`, the transfer table between networks and the per-image transfer of
//! DeepFool's `r`. The shipped perturbations show at once; a live search runs in the worker with
//! progress and cancel.

use crate::classification::classifier::Architecture;
use crate::classification::mnist::Digits;
use crate::classification::state::{xi_range, UniversalState};
use crate::classification::transfer::{
    part_units, split_digits, split_rows, TransferEntry, TransferReport,
};
use crate::classification::universal::{Ball, PassReport, Universal};
use crate::plot::{left_margin, linear_ticks, nice_step, Scale, BOTTOM};
use crate::protocol::{Body, Job, TransferResult, UniversalJob, UniversalResult};
use crate::web::app::{use_query_state, Route, WorkerEpoch};
use crate::web::compute::{use_pooled_job, Compute, LongJob};
use crate::web::export::ExportFigure;
use crate::web::fetch::fetch_bytes;
use crate::web::picker::{use_held_out, HeldOut};
use crate::web::plot::{
    frame_with_legend, legend, x_axis_line, x_ticks, x_title, y_ticks, y_title, LegendItem, Swatch,
};
use crate::web::widgets::{
    DigitCanvas, ModelPicker, Notice, PerturbationCanvas, Progress, StateEdits,
};
use std::rc::Rc;
use yew::prelude::*;

/// The shipped table and settings, relative to the page.
pub const REPORT_URL: &str = "./static/reports/transfer.json";
/// Held-out digits in the grid.
const GRID: usize = 24;

fn percent(v: f64) -> String {
    format!("{:.1}%", v * 100.0)
}

fn p_name(ball: Ball) -> &'static str {
    match ball {
        Ball::L2 => "ℓ₂",
        Ball::Linf => "ℓ∞",
    }
}

/// Where the demo's perturbation stands.
#[derive(Clone, Debug, PartialEq)]
enum Run {
    Idle,
    Running {
        id: u64,
        live: bool,
        /// Pass under way, images visited in it, `|X|`.
        pass: usize,
        visited: usize,
        count: usize,
        passes: Vec<PassReport>,
        /// Held-out evaluation: done of total.
        evaluated: Option<(usize, usize)>,
        previous: Option<Rc<UniversalResult>>,
    },
    Done(Rc<UniversalResult>),
    Failed(String, Option<Rc<UniversalResult>>),
}

impl Run {
    fn shown(&self) -> Option<&Rc<UniversalResult>> {
        match self {
            Run::Done(r) => Some(r),
            Run::Running { previous, .. } | Run::Failed(_, previous) => previous.as_ref(),
            Run::Idle => None,
        }
    }
}

#[derive(Properties, PartialEq)]
struct CurveProps {
    passes: Vec<PassReport>,
    /// `1 − δ`.
    target: f64,
    max_passes: usize,
    /// The held-out fooling rate, drawn after the last pass.
    held_out: Option<f64>,
}

/// The fooling rate on `X` after each pass (and the held-out rate), hand-drawn in SVG.
#[function_component(FoolingCurve)]
fn fooling_curve(props: &CurveProps) -> Html {
    let mut items = vec![
        LegendItem::new("series s-net", "fooling rate on X", Swatch::LineDot),
        LegendItem::new(
            "restart",
            format!("target 1 − δ = {}", percent(props.target)),
            Swatch::Line,
        ),
    ];
    if let Some(v) = props.held_out {
        items.push(LegendItem::new(
            "series s-firenet held",
            format!("held-out digits: {}", percent(v)),
            Swatch::Dot,
        ));
    }
    let (frame, slots) = frame_with_legend(470.0, 170.0, (left_margin(4), 14.0, BOTTOM), &items);
    let n = props.max_passes.max(props.passes.len()).max(1);
    let xa = frame.x_axis(0.0, n as f64, Scale::Linear);
    let ya = frame.y_axis(0.0, 1.0, Scale::Linear);
    let mut points = vec![format!("{:.1},{:.1}", xa.at(0.0), ya.at(0.0))];
    points.extend(
        props
            .passes
            .iter()
            .map(|p| format!("{:.1},{:.1}", xa.at(p.pass as f64), ya.at(p.fooling_rate))),
    );
    let area = frame.area();
    let passes: Vec<f64> = linear_ticks(0.0, n as f64, nice_step(n as f64, 8.0).max(1.0));
    html! {
        <svg class="error-plot fooling-curve" viewBox={format!("0 0 {} {}", frame.w, frame.h)} role="img" data-testid="fooling-curve"
            aria-label="fooling rate on X after each pass">
            {y_ticks(&frame, &ya, &[0.0, 0.25, 0.5, 0.75, 1.0], |v| format!("{:.0}%", v * 100.0))}
            {x_ticks(&frame, &xa, &passes, |p| format!("{p}"), false)}
            {x_axis_line(&frame)}
            <line class="restart" x1={area.x0.to_string()} x2={area.x1.to_string()} y1={ya.at(props.target).to_string()} y2={ya.at(props.target).to_string()} />
            <g class="series s-net"><polyline points={points.join(" ")} /></g>
            { for props.passes.iter().map(|p| html! {
                <circle class="dot" cx={xa.at(p.pass as f64).to_string()} cy={ya.at(p.fooling_rate).to_string()} r="3.5" />
            }) }
            if let (Some(v), Some(last)) = (props.held_out, props.passes.last()) {
                <g class="series s-firenet">
                    <circle class="dot held" cx={xa.at(last.pass as f64).to_string()} cy={ya.at(v).to_string()} r="5" />
                </g>
            }
            {legend(&items, &slots)}
            {x_title(&frame, "pass over X")}
            {y_title(&frame, "fooling rate")}
        </svg>
    }
}

#[derive(Properties, PartialEq)]
struct GridProps {
    result: Rc<UniversalResult>,
    digits: Rc<Digits>,
}

/// Held-out digits with and without `v`, their labels, flipped ones marked.
#[function_component(DigitGrid)]
fn digit_grid(props: &GridProps) -> Html {
    let r = &props.result;
    let flipped = r.grid.iter().filter(|g| g.perturbed != g.clean).count();
    html! {
        <div>
            <p class="small" data-testid="grid-summary">{format!(
                "{flipped} of these {} held-out digits change label with v (red frame); with the random control, {}.",
                r.grid.len(),
                r.grid.iter().filter(|g| g.random != g.clean).count()
            )}</p>
            <div class="universal-grid" data-testid="digit-grid">
                { for r.grid.iter().filter(|g| g.index < props.digits.len()).map(|g| {
                    let x = props.digits.image(g.index);
                    let xv: Vec<f32> = x.iter().zip(&r.v).map(|(a, b)| a + b).collect();
                    let flip = g.perturbed != g.clean;
                    html! {
                        <figure class={classes!("universal-cell", flip.then_some("flipped"))} data-testid="grid-cell" data-flipped={flip.to_string()}>
                            <DigitCanvas pixels={Rc::new(x)} label={format!("held-out digit {}", g.index)} />
                            <DigitCanvas pixels={Rc::new(xv)} label={format!("held-out digit {} plus v", g.index)} />
                            <figcaption>{format!("{} → {}", g.clean, g.perturbed)}</figcaption>
                        </figure>
                    }
                }) }
            </div>
        </div>
    }
}

/// A fooling rate as a table cell: white for 0, dark red for 1, its text black or white,
/// whichever contrasts more ([`crate::colour::fooling`], [`crate::colour::ink_on`]).
fn rate_cell(v: f64, diagonal: bool) -> Html {
    let [r, g, b] = crate::colour::fooling(v);
    let style = format!(
        "background: rgb({r}, {g}, {b}); color: {}",
        crate::colour::ink_on([r, g, b])
    );
    html! {
        <td class={classes!("rate", diagonal.then_some("diagonal"))} ~style={style} data-rate={v.to_string()}>{percent(v)}</td>
    }
}

#[derive(Properties, PartialEq)]
struct TableProps {
    models: Vec<String>,
    fooling: Vec<Vec<f64>>,
    xi: Vec<f64>,
    ball: Ball,
}

/// Rows: computed on; columns: evaluated on; the diagonal framed.
#[function_component(TransferTable)]
fn transfer_table(props: &TableProps) -> Html {
    html! {
        <table class="transfer-table" data-testid="transfer-table">
            <thead>
                <tr>
                    <th class="corner">{"v computed on ↓ · fooling rate on →"}</th>
                    { for props.models.iter().map(|m| html! { <th>{m.clone()}</th> }) }
                </tr>
            </thead>
            <tbody>
                { for props.fooling.iter().enumerate().map(|(i, row)| html! {
                    <tr data-testid={format!("transfer-row-{}", props.models.get(i).cloned().unwrap_or_default())}>
                        <th>{format!("{} (ξ = {})", props.models.get(i).cloned().unwrap_or_default(),
                            props.xi.get(i).map(|x| format!("{x}")).unwrap_or_default())}</th>
                        { for row.iter().enumerate().map(|(j, v)| rate_cell(*v, i == j)) }
                    </tr>
                }) }
            </tbody>
            <caption>{format!("{} universal perturbations, fooling rates on the held-out digits", p_name(props.ball))}</caption>
        </table>
    }
}

#[derive(Properties, PartialEq)]
struct TransferProps {
    report: Rc<TransferReport>,
    ball: Ball,
}

/// The whole transfer table from its parts' replies (one per worker of the pool).
fn merge_transfer(bodies: Vec<Body>) -> Result<Rc<TransferResult>, String> {
    let parts = bodies
        .into_iter()
        .map(|b| match b {
            Body::Transfer(t) => Ok(*t),
            _ => Err("a part of the transfer table gave another answer".to_string()),
        })
        .collect::<Result<Vec<_>, _>>()?;
    TransferResult::merge(parts)
        .map(Rc::new)
        .map_err(|e| e.for_people())
}

/// The parts of the transfer table for `workers` workers, with the units of the whole job: the
/// shipped perturbations' table by contiguous ranges of the held-out digits (balanced to a
/// digit), a live one by rows dealt by the report's native costs ([`split_rows`]: the slowest
/// search bounds it, about 1.8× with 2 workers).
fn transfer_parts(
    report: &TransferReport,
    ball: Ball,
    live: bool,
    workers: usize,
) -> (Vec<Job>, usize) {
    let n = report.models.len();
    let h = report.held_out_count;
    let (jobs, units): (Vec<Job>, Vec<usize>) = if live {
        let search = |rows: &[usize]| -> usize {
            rows.iter()
                .filter_map(|&i| report.card(&report.models[i], ball))
                .map(|c| c.search_units())
                .sum()
        };
        split_rows(&report.row_costs(ball), workers)
            .into_iter()
            .map(|rows| {
                let units = part_units(n, h, rows.len(), search(&rows));
                let job = Job::Transfer {
                    ball,
                    live,
                    digits: None,
                    rows,
                };
                (job, units)
            })
            .unzip()
    } else {
        split_digits(h, workers)
            .into_iter()
            .map(|digits| {
                let units = part_units(n, digits.len(), n, 0);
                let job = Job::Transfer {
                    ball,
                    live,
                    digits: Some(digits),
                    rows: Vec::new(),
                };
                (job, units)
            })
            .unzip()
    };
    (jobs, units.iter().sum())
}

/// The shipped transfer table at once, and recomputed in the worker pool on request.
#[function_component(TransferSection)]
fn transfer_section(props: &TransferProps) -> Html {
    let job = use_pooled_job::<Rc<TransferResult>>(merge_transfer);
    // How many workers the running (or last) job was dealt to.
    let parts = use_state(|| 1usize);
    let ball = props.ball;
    let n = props.report.models.len();
    let recompute = |live: bool| {
        let (start, report, workers, parts) = (
            job.start.clone(),
            props.report.clone(),
            job.workers,
            parts.clone(),
        );
        Callback::from(move |_: MouseEvent| {
            let (jobs, total) = transfer_parts(&report, ball, live, workers);
            parts.set(jobs.len());
            start.emit((jobs, total))
        })
    };
    let shipped = props.report.table(ball).map(|t| {
        let xi: Vec<f64> = props
            .report
            .models
            .iter()
            .map(|m| props.report.card(m, ball).map_or(f64::NAN, |c| c.settings.xi))
            .collect();
        html! { <TransferTable models={props.report.models.clone()} fooling={t.fooling.clone()} xi={xi} ball={ball} /> }
    });
    let running = matches!(&*job.state, LongJob::Running { .. });
    let by = match *parts {
        1 => String::new(),
        k => format!(" ({k} workers side by side, the slowest one's time)"),
    };
    let status = match &*job.state {
        LongJob::Idle => html! {},
        LongJob::Running { done, total, .. } => html! {
            <div class="row" data-testid="transfer-running" data-done={done.to_string()} data-workers={parts.to_string()}>
                <span class="muted" data-testid="transfer-progress">{
                    match *parts {
                        1 => "Filling the table in the worker… ".to_string(),
                        k => format!("Filling the table in {k} workers side by side… "),
                    }
                }</span>
                <Progress done={*done} total={*total} />
                <button type="button" class="secondary" data-testid="transfer-cancel" onclick={job.cancel.clone()}>{"Cancel"}</button>
            </div>
        },
        LongJob::Cancelled => {
            html! { <p class="muted small" data-testid="transfer-cancelled">{"Cancelled; the shipped table stays on screen."}</p> }
        }
        LongJob::Failed(m) => {
            html! { <Notice kind="error">{format!("The table could not be filled: {m}")}</Notice> }
        }
        LongJob::Done(t) if t.ball == ball => html! {
            <div data-testid="transfer-live" data-workers={parts.to_string()}>
                <p class="small" data-testid="transfer-timing">{
                    if t.live {
                        format!(
                            "Recomputed in this browser, every perturbation searched again with the shipped settings: the searches took {:.1} s, filling the {n}×{n} table on {} held-out digits {:.1} s{by}.",
                            t.search_millis / 1000.0, t.held_out_count, t.table_millis / 1000.0
                        )
                    } else {
                        format!(
                            "Refilled in this browser from the shipped perturbations: the {n}×{n} table on {} held-out digits took {:.1} s{by}.",
                            t.held_out_count, t.table_millis / 1000.0
                        )
                    }
                }</p>
                <TransferTable models={t.models.clone()} fooling={t.fooling.clone()} xi={t.xi.clone()} ball={t.ball} />
            </div>
        },
        LongJob::Done(_) => html! {},
    };
    html! {
        <div class="panel transfer" data-testid="transfer">
            <h2>{"Transfer between networks"}</h2>
            <p>{"Each network's universal perturbation, applied to every network. A high rate off the diagonal means the perturbation carries over: the networks share the directions they are fragile in. The diagonal is each perturbation's own held-out fooling rate."}</p>
            {shipped.unwrap_or_else(|| html! { <Notice kind="warning">{"The report has no table for this p."}</Notice> })}
            <div class="row">
                <button type="button" data-testid="transfer-refill" disabled={running} onclick={recompute(false)}>{"Refill from the shipped perturbations"}</button>
                <button type="button" class="secondary" data-testid="transfer-live-run" disabled={running} onclick={recompute(true)}>{"Recompute every perturbation live"}</button>
            </div>
            {status}
        </div>
    }
}

#[derive(Properties, PartialEq)]
struct ImageProps {
    source: Architecture,
    digit: usize,
    digits: HeldOut,
    on_digit: Callback<usize>,
}

/// DeepFool's `r` for one network on one held-out digit, applied to every network.
#[function_component(ImageTransfer)]
fn image_transfer(props: &ImageProps) -> Html {
    let compute = use_context::<Compute>().expect("the compute worker is provided by the app");
    let epoch = use_context::<WorkerEpoch>().unwrap_or_default();
    type Answer = Option<Result<(Rc<Vec<f64>>, Vec<TransferEntry>), String>>;
    let answer = use_state(|| None as Answer);
    {
        let answer = answer.clone();
        let (source, digit) = (props.source, props.digit);
        use_effect_with((source, digit, epoch), move |_| {
            answer.set(None);
            let a2 = answer.clone();
            compute.request(
                Job::ImageTransfer {
                    source: source.name().to_string(),
                    digit,
                },
                Callback::from(move |body| match body {
                    Body::ImageTransfer { r, entries, .. } => a2.set(Some(Ok((
                        Rc::new(r.iter().map(|&v| v as f64).collect()),
                        entries,
                    )))),
                    Body::Failed { message } => a2.set(Some(Err(message))),
                    _ => {}
                }),
            );
        });
    }
    let on_digit = props.on_digit.clone();
    let step = |d: isize| {
        let on_digit = on_digit.clone();
        let digit = props.digit as isize;
        Callback::from(move |_: MouseEvent| {
            on_digit.emit(
                (digit + d).clamp(0, crate::classification::mnist::HELD_OUT_COUNT as isize - 1)
                    as usize,
            )
        })
    };
    let x = match &props.digits {
        Some(Ok(d)) if props.digit < d.len() => Some(d.image(props.digit)),
        _ => None,
    };
    let body = match (&*answer, &x) {
        (None, _) => html! { <p class="muted">{"DeepFool in the worker…"}</p> },
        (Some(Err(m)), _) => html! { <Notice kind="warning">{m.clone()}</Notice> },
        (Some(Ok((r, entries))), x) => {
            let xr = x.as_ref().map(|x| {
                Rc::new(
                    x.iter()
                        .zip(r.iter())
                        .map(|(a, b)| a + *b as f32)
                        .collect::<Vec<f32>>(),
                )
            });
            html! {
                <div class="row image-transfer">
                    if let Some(xr) = xr { <DigitCanvas pixels={xr} class="big" label="x + r" /> }
                    <PerturbationCanvas values={r.clone()} label="DeepFool's r" />
                    <table class="entries" data-testid="image-transfer-table">
                        <thead><tr><th>{"network"}</th><th>{"k̂(x)"}</th><th>{"k̂(x + r)"}</th><th>{"flips at t ="}</th></tr></thead>
                        <tbody>
                            { for entries.iter().map(|e| html! {
                                <tr class={classes!((e.clean != e.perturbed).then_some("flipped"))} data-testid={format!("entry-{}", e.model)}>
                                    <td>{e.model.clone()}</td><td>{e.clean}</td><td>{e.perturbed}</td>
                                    <td>{e.flip_t.map(|t| format!("{t:.2}")).unwrap_or_else(|| "> 100".into())}</td>
                                </tr>
                            }) }
                        </tbody>
                    </table>
                </div>
            }
        }
    };
    html! {
        <div class="panel" data-testid="image-transfer">
            <h2>{format!("One digit: DeepFool's r for {} on the others", props.source.name())}</h2>
            <p class="small">{"The smallest ℓ₂ perturbation DeepFool finds for this network, applied unchanged to every network; t is the multiple of r at which each network's label flips (1 or just under for the network r was computed on)."}</p>
            <div class="row">
                <button type="button" class="secondary" data-testid="digit-prev" onclick={step(-1)}>{"← previous digit"}</button>
                <span data-testid="digit-index">{format!("held-out digit {}", props.digit)}</span>
                <button type="button" class="secondary" data-testid="digit-next" onclick={step(1)}>{"next digit →"}</button>
            </div>
            {body}
        </div>
    }
}

#[function_component(UniversalDemo)]
pub fn universal_demo() -> Html {
    let compute = use_context::<Compute>().expect("the compute worker is provided by the app");
    let epoch = use_context::<WorkerEpoch>().unwrap_or_default();
    let (parsed, set_state, embed) = use_query_state::<UniversalState>(Route::Universal);
    let state = parsed.state.clone();
    let digits = use_held_out();

    let report = use_state(|| None::<Result<Rc<TransferReport>, String>>);
    {
        let report = report.clone();
        use_effect_with((), move |_| {
            wasm_bindgen_futures::spawn_local(async move {
                let loaded = match fetch_bytes(REPORT_URL).await {
                    Ok(bytes) => TransferReport::from_json(&bytes)
                        .map(Rc::new)
                        .map_err(|e| e.to_string()),
                    Err(e) => Err(e.to_string()),
                };
                report.set(Some(loaded));
            });
        });
    }
    let loaded = match &*report {
        Some(Ok(r)) => Some(r.clone()),
        _ => None,
    };
    let card = loaded
        .as_ref()
        .and_then(|r| r.card(state.model.name(), state.ball).cloned());
    // The settings a live search would use: the URL's, else the shipped ones.
    let settings = Universal {
        ball: state.ball,
        xi: state
            .xi
            .or(card.as_ref().map(|c| c.settings.xi))
            .unwrap_or(match state.ball {
                Ball::L2 => 5.0,
                Ball::Linf => 0.2,
            }),
        delta: state.delta,
        max_passes: state.passes,
        seed: card.as_ref().map_or(1, |c| c.settings.seed),
        ..Universal::default()
    };

    let run = use_state(|| Run::Idle);
    // The id of the latest request: replies to older ones are ignored.
    let latest = use_mut_ref(|| 0u64);
    let start = {
        let (compute, run, latest) = (compute.clone(), run.clone(), latest.clone());
        let model = state.model.name().to_string();
        let count = state.count;
        Callback::from(move |(live, settings): (bool, Universal)| {
            let previous = run.shown().cloned();
            if let Run::Running { id, .. } = &*run {
                compute.cancel(*id);
            }
            let (r2, prev2, latest2) = (run.clone(), previous.clone(), latest.clone());
            let id_cell = Rc::new(std::cell::Cell::new(0u64));
            let id_of_reply = id_cell.clone();
            // Where the search stands, kept across replies (a state handle would be stale here).
            let at = Rc::new(std::cell::RefCell::new((1usize, 0usize, count, Vec::new())));
            let id = compute.request(
                Job::Universal(UniversalJob {
                    model: model.clone(),
                    live,
                    settings,
                    count,
                    grid: GRID,
                }),
                Callback::from(move |body| {
                    let id = id_of_reply.get();
                    if *latest2.borrow() != id {
                        return;
                    }
                    let running = |evaluated: Option<(usize, usize)>| {
                        let (pass, visited, count, passes) = at.borrow().clone();
                        Run::Running {
                            id,
                            live,
                            pass,
                            visited,
                            count,
                            passes,
                            evaluated,
                            previous: prev2.clone(),
                        }
                    };
                    match body {
                        Body::UniversalProgress {
                            pass,
                            visited,
                            count,
                            passes,
                        } => {
                            *at.borrow_mut() = (pass, visited, count, passes);
                            r2.set(running(None));
                        }
                        Body::Progress { done, total } => r2.set(running(Some((done, total)))),
                        Body::Universal(u) => r2.set(Run::Done(Rc::new(*u))),
                        Body::Cancelled => r2.set(match prev2.clone() {
                            Some(p) => Run::Done(p),
                            None => Run::Idle,
                        }),
                        Body::Failed { message } => r2.set(Run::Failed(message, prev2.clone())),
                        _ => {}
                    }
                }),
            );
            id_cell.set(id);
            *latest.borrow_mut() = id;
            run.set(Run::Running {
                id,
                live,
                pass: 1,
                visited: 0,
                count,
                passes: Vec::new(),
                evaluated: None,
                previous,
            });
        })
    };
    // The shipped perturbation whenever the model or p changes (and after a worker restart).
    {
        let start = start.clone();
        use_effect_with((state.model, state.ball, epoch), move |(_, ball, _)| {
            start.emit((
                false,
                Universal {
                    ball: *ball,
                    ..Universal::default()
                },
            ));
        });
    }
    let on_live = {
        let start = start.clone();
        Callback::from(move |_: MouseEvent| start.emit((true, settings)))
    };
    let on_cancel = {
        let (compute, run) = (compute.clone(), run.clone());
        Callback::from(move |_: MouseEvent| {
            if let Run::Running { id, .. } = &*run {
                compute.cancel(*id);
            }
        })
    };
    let edits = StateEdits {
        state: state.clone(),
        set_state: set_state.clone(),
    };
    let edit = |f: fn(&mut UniversalState, &str)| {
        edits.on_change(Rc::new(move |s: &mut UniversalState, v: String| f(s, &v)))
    };
    let on_model = {
        let (set_state, state) = (set_state.clone(), state.clone());
        Callback::from(move |m: Architecture| {
            set_state.emit(UniversalState {
                model: m,
                xi: None,
                ..state.clone()
            })
        })
    };
    let on_p = edit(|s, v| {
        s.ball = if v == "inf" { Ball::Linf } else { Ball::L2 };
        s.xi = None;
    });
    let on_xi = {
        let (set_state, state) = (set_state.clone(), state.clone());
        Callback::from(move |e: InputEvent| {
            let input: web_sys::HtmlInputElement = e.target_unchecked_into();
            if let Ok(x) = input.value().parse::<f64>() {
                set_state.emit(UniversalState {
                    xi: Some(x),
                    ..state.clone()
                });
            }
        })
    };
    let on_delta = edit(|s, v| {
        if let Ok(d) = v.parse() {
            s.delta = d;
        }
    });
    let on_count = edit(|s, v| {
        if let Ok(c) = v.parse() {
            s.count = c;
        }
    });
    let on_passes = edit(|s, v| {
        if let Ok(p) = v.parse() {
            s.passes = p;
        }
    });
    let on_shipped = {
        let (set_state, state, start) = (set_state.clone(), state.clone(), start.clone());
        Callback::from(move |_: MouseEvent| {
            set_state.emit(UniversalState {
                xi: None,
                ..state.clone()
            });
            start.emit((
                false,
                Universal {
                    ball: state.ball,
                    ..Universal::default()
                },
            ));
        })
    };
    let on_digit = {
        let (set_state, state) = (set_state.clone(), state.clone());
        Callback::from(move |d: usize| {
            set_state.emit(UniversalState {
                digit: d,
                ..state.clone()
            })
        })
    };

    let range = xi_range(state.ball);
    let step = match state.ball {
        Ball::L2 => "0.25",
        Ball::Linf => "0.01",
    };
    let running = matches!(&*run, Run::Running { .. });
    let controls = html! {
        <div class="panel universal-controls">
            <ModelPicker model={state.model} on_pick={on_model} />
            <div class="row">
                <label>{"p "}
                    <select data-testid="p" onchange={on_p}>
                        <option value="2" selected={state.ball == Ball::L2}>{"2"}</option>
                        <option value="inf" selected={state.ball == Ball::Linf}>{"∞"}</option>
                    </select>
                </label>
                <label class="slider">{format!("ξ = {} ", settings.xi)}
                    <input type="range" min={range.start().to_string()} max={range.end().to_string()} step={step}
                        value={settings.xi.to_string()} data-testid="xi" aria-label="radius ξ of the ball"
                        aria-valuetext={format!("ξ, {}", settings.xi)} oninput={on_xi} />
                </label>
                <label>{"δ "}
                    <input type="number" min="0" max="0.5" step="0.05" value={state.delta.to_string()} data-testid="delta" onchange={on_delta} />
                </label>
                <label>{"|X| "}
                    <input type="number" min="10" max={crate::classification::universal::MAX_SET.to_string()} step="50" value={state.count.to_string()} data-testid="count" onchange={on_count} />
                </label>
                <label>{"passes ≤ "}
                    <input type="number" min="1" max="20" step="1" value={state.passes.to_string()} data-testid="passes" onchange={on_passes} />
                </label>
            </div>
            <div class="row">
                <button type="button" data-testid="compute-live" disabled={running} onclick={on_live}>{"Compute live"}</button>
                <button type="button" class="secondary" data-testid="show-shipped" disabled={running} onclick={on_shipped}>{"Show the shipped one"}</button>
                if let Some(c) = &card {
                    <span class="small muted">{format!(
                        "Shipped: ξ = {}, δ = {}, |X| = {}, seed {}; held-out fooling {} (random of the same norm {}).",
                        c.settings.xi, c.settings.delta, c.count, c.settings.seed,
                        percent(c.held_out_fooling), percent(c.random_fooling)
                    )}</span>
                }
            </div>
        </div>
    };

    let status = match &*run {
        Run::Running {
            live: true,
            pass,
            visited,
            count,
            evaluated,
            ..
        } => html! {
            <div class="row" data-testid="universal-running">
                <span class="muted" data-testid="universal-progress">{match evaluated {
                    None => format!("Pass {pass}: {visited} of {count} digits visited… "),
                    Some(_) => "Measuring on the held-out digits… ".to_string(),
                }}</span>
                {match evaluated {
                    None => html! { <Progress done={*visited} total={*count} /> },
                    Some((d, t)) => html! { <Progress done={*d} total={*t} /> },
                }}
                <button type="button" class="secondary" data-testid="universal-cancel" onclick={on_cancel}>{"Cancel"}</button>
            </div>
        },
        Run::Running { .. } => html! { <p class="muted">{"Loading the shipped perturbation…"}</p> },
        Run::Failed(m, _) => {
            html! { <Notice kind="error">{format!("The universal perturbation failed: {m}")}</Notice> }
        }
        _ => html! {},
    };
    // The curve: the live passes while a search runs, else the result's.
    let curve = match (&*run, run.shown()) {
        (
            Run::Running {
                live: true, passes, ..
            },
            _,
        ) => Some((passes.clone(), settings.delta, settings.max_passes, None)),
        (_, Some(r)) => Some((
            r.passes.clone(),
            r.settings.delta,
            r.settings.max_passes,
            Some(r.held_out_fooling),
        )),
        _ => None,
    };
    let result = run.shown().map(|r| {
        let v: Rc<Vec<f64>> = Rc::new(r.v.iter().map(|&a| a as f64).collect());
        let g: Rc<Vec<f64>> = Rc::new(r.random.iter().map(|&a| a as f64).collect());
        let origin = if r.live {
            format!(
                "computed live in this browser in {:.1} s on the first {} training digits",
                r.search_millis / 1000.0,
                r.count
            )
        } else {
            format!("shipped (computed natively on the first {} training digits)", r.count)
        };
        let reproduced = r.shipped_difference.map(|d| {
            format!(" Same settings as the shipped perturbation: they differ by at most {:.1e} of its largest entry.", d)
        });
        html! {
            <div class="row universal-result" data-testid="universal-result" data-live={r.live.to_string()}
                data-model={r.model.clone()} data-fooling={r.held_out_fooling.to_string()}>
                <div class="panel">
                    <h3>{format!("v ({} ball, ξ = {})", p_name(r.settings.ball), r.settings.xi)}</h3>
                    <PerturbationCanvas values={v} label="the universal perturbation v" />
                    <p class="small muted">{origin}</p>
                </div>
                <div class="panel">
                    <h3>{"control: random, same norm"}</h3>
                    <PerturbationCanvas values={g} label="a random perturbation of the same norm" />
                </div>
                <div class="panel">
                    <h3>{"fooling rate"}</h3>
                    <dl class="readouts">
                        <dt>{"held-out digits fooled by v"}</dt><dd data-testid="held-out-fooling">{percent(r.held_out_fooling)}</dd>
                        <dt>{"by the random control"}</dt><dd data-testid="random-fooling">{percent(r.random_fooling)}</dd>
                        <dt>{"‖v‖₂"}</dt><dd>{format!("{:.3}", r.norm2)}</dd>
                        <dt>{"‖v‖∞"}</dt><dd>{format!("{:.3}", r.norm_inf)}</dd>
                        <dt>{"held-out digits"}</dt><dd>{r.held_out_count}</dd>
                    </dl>
                    if let Some(t) = reproduced { <p class="small" data-testid="reproduced">{t}</p> }
                </div>
            </div>
        }
    });
    let grid = match (run.shown(), &digits) {
        (Some(r), Some(Ok(d))) => html! { <DigitGrid result={r.clone()} digits={d.clone()} /> },
        _ => html! {},
    };

    let explain = html! {
        <div class="explain">
            <p>{"DeepFool finds a tiny perturbation for one image. Moosavi-Dezfooli et al. (CVPR 2017) go further: a single perturbation v that changes the label of most images. Their algorithm walks over a set X of training digits; whenever x + v is still classified like x, it adds DeepFool's smallest extra step for x + v and projects back onto the ball ‖v‖ₚ ≤ ξ:"}</p>
            {crate::web::math::formula(crate::formula::UNIVERSAL)}
            <p>{"The honest figure is the fooling rate on held-out digits the search never saw, beside a random perturbation of exactly the same norm: the random one barely matters, the universal one flips most labels. (x + v is not clipped to [0, 1], as in the paper.)"}</p>
        </div>
    };

    html! {
        <section class="demo universal" data-testid="universal">
            if !embed {
                <h1 class="page-title">{"Universal perturbations: one v for most digits"}</h1>
                {explain}
            }
            { for parsed.notices.iter().map(|n| html! { <Notice kind="warning">{n.clone()}</Notice> }) }
            if let Some(Err(e)) = &*report {
                <Notice kind="error">{format!("The transfer report could not be loaded ({e}); live searches still work.")}</Notice>
            }
            <ExportFigure name="universal" title="Universal perturbations">
                {controls}
                {status}
                {result.unwrap_or_default()}
            </ExportFigure>
            if let Some((passes, delta, max_passes, held)) = curve {
                <div class="panel">
                    <h3>{"Fooling rate on X after each pass"}</h3>
                    <FoolingCurve passes={passes} target={1.0 - delta} max_passes={max_passes} held_out={held} />
                </div>
            }
            {grid}
            if let Some(r) = &loaded {
                <ExportFigure name="transfer" title="Transfer of universal perturbations">
                    <TransferSection report={r.clone()} ball={state.ball} />
                </ExportFigure>
            }
            <ImageTransfer source={state.model} digit={state.digit} digits={digits.clone()} on_digit={on_digit} />
        </section>
    }
}
