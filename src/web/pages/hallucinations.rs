//! The hallucinations demo (Antun et al., PNAS 2020, the lecture's central picture): rows per
//! method (a shipped trained network Ψ, FIRENET, and Ψ followed by FIRENET from Ψ's output),
//! columns `|x + t·r_j|`, the reconstruction and what changed, for the shipped worst-case
//! perturbations `r₀ = 0 < r₁ < r₂ < r₃`; a strength slider, a Gaussian toggle, the error against
//! `‖r‖/‖x‖` from the instability and warm-start reports, and a verdict worded after the
//! report's measurements. All reconstructions run in the worker.

use crate::engine::bench::median_p95;
use crate::mri::details::Region;
use crate::mri::learned::hallucination::{
    slices_needed, window_for, CurvePoint, InstabilityReport, NetReport, SIDE,
    USEFUL_BELOW_FIRENET_DB, USEFUL_GAIN_DB,
};
use crate::mri::learned::warm_start::{WarmCurvePoint, WarmNet, WarmStartReport};
use crate::mri::state::{HallucinationState, STRENGTHS};
use crate::plot::{left_margin, Scale, BOTTOM};
use crate::protocol::{Body, HallucinateJob, Hallucination, HallucinationRow, Job};
use crate::web::app::{use_query_state, Route, WorkerEpoch};
use crate::web::compute::{use_latest_job, Compute};
use crate::web::export::ExportFigure;
use crate::web::fetch::fetch_bytes;
use crate::web::pages::mri::{PictureCanvas, RegionCanvas};
use crate::web::plot::{
    frame_with_legend, legend, x_axis_line, x_ticks, x_title, y_ticks, y_title, LegendItem, Swatch,
};
use crate::web::widgets::{engine_choice, Edit, EngineBadge, JobRun, Notice, Progress, StateEdits};
use std::rc::Rc;
use yew::prelude::*;

/// The report, relative to the page.
pub const REPORT_URL: &str = "./static/reports/instability.json";
/// The warm-start report (Ψ followed by FIRENET), relative to the page.
pub const WARM_REPORT_URL: &str = "./static/reports/warm_start.json";

/// The figure on screen and the job computing the next.
type Run = JobRun<Hallucination>;

fn percent(v: f64) -> String {
    format!("{:.1}%", v * 100.0)
}

/// The error `‖Ψ(A(x + r)) − x‖/‖x‖` against `‖r‖/‖x‖` for every method, worst case (solid)
/// and Gaussian (dashed), from the report.
#[derive(Properties, PartialEq)]
struct CurveProps {
    curve: Rc<Vec<CurvePoint>>,
    /// Ψ → FIRENET's error curve (warm-start report), if loaded.
    warm: Option<Rc<Vec<WarmCurvePoint>>>,
    net_title: AttrValue,
    /// The `‖t·r_j‖/‖x‖` on screen, marked on the axis.
    marks: Vec<f64>,
}

/// A curve's CSS class, legend and value.
type Series = (&'static str, &'static str, fn(&CurvePoint) -> f64);
/// The same for Ψ → FIRENET's curves.
type WarmSeries = (&'static str, &'static str, fn(&WarmCurvePoint) -> f64);
/// A curve as drawn: its classes, its legend and its points `(‖r‖/‖x‖, error)`.
type Curve = (String, String, Vec<(f64, f64)>);

#[function_component(CurvePlot)]
fn curve_plot(props: &CurveProps) -> Html {
    let c = &props.curve;
    if c.is_empty() {
        return html! {};
    }
    let x_max = c.iter().map(|p| p.rel_r).fold(0.0, f64::max).max(0.01);
    let series: [Series; 5] = [
        ("net", "network, worst case", |p| p.net_worst),
        ("net random", "network, Gaussian", |p| p.net_random),
        ("firenet", "FIRENET, worst case", |p| p.firenet_worst),
        ("firenet random", "FIRENET, Gaussian", |p| p.firenet_random),
        ("zero-filled", "zero-filling, worst case", |p| {
            p.zero_filled_worst
        }),
    ];
    let warm_series: [WarmSeries; 2] = [
        ("warm", "Ψ → FIRENET, worst case", |p| p.warm_worst),
        ("warm random", "Ψ → FIRENET, Gaussian", |p| p.warm_random),
    ];
    let warm: &[WarmCurvePoint] = props.warm.as_deref().map_or(&[], Vec::as_slice);
    let y_max = c
        .iter()
        .flat_map(|p| series.iter().map(move |s| (s.2)(p)))
        .chain(
            warm.iter()
                .flat_map(|p| warm_series.iter().map(move |s| (s.2)(p))),
        )
        .fold(0.0, f64::max)
        .max(1e-3)
        * 1.1;
    let class = |key: &str| format!("series s-{}", key.replace(' ', "-"));
    // (class, legend, points) of every curve drawn.
    let mut curves: Vec<Curve> = series
        .iter()
        .map(|(key, label, f)| {
            let name = if key.starts_with("net") {
                label.replace("network", &props.net_title)
            } else {
                label.to_string()
            };
            (
                class(key),
                name,
                c.iter().map(|p| (p.rel_r, f(p))).collect(),
            )
        })
        .collect();
    if !warm.is_empty() {
        curves.extend(warm_series.iter().map(|(key, label, f)| {
            (
                class(key),
                label.replace('Ψ', &props.net_title),
                warm.iter().map(|p| (p.rel_r, f(p))).collect(),
            )
        }));
    }
    let items: Vec<LegendItem> = curves
        .iter()
        .map(|(class, label, _)| LegendItem::new(class.clone(), label.clone(), Swatch::Line))
        .collect();
    let (frame, slots) = frame_with_legend(880.0, 260.0, (left_margin(4), 20.0, BOTTOM), &items);
    let xa = frame.x_axis(0.0, x_max, Scale::Linear);
    let ya = frame.y_axis(0.0, y_max, Scale::Linear);
    let xticks: Vec<f64> = (0..=4).map(|k| x_max * k as f64 / 4.0).collect();
    let yticks: Vec<f64> = (0..=4).map(|k| y_max * k as f64 / 4.0).collect();
    let area = frame.area();
    let cross = crate::mri::learned::hallucination::crossover(c);
    html! {
        <>
        <svg class="error-plot curve-plot" viewBox={format!("0 0 {} {}", frame.w, frame.h)} role="img" data-testid="curve-plot"
            aria-label="reconstruction error against the relative size of the perturbation">
            {y_ticks(&frame, &ya, &yticks, |v| format!("{v:.2}"))}
            {x_ticks(&frame, &xa, &xticks, percent, false)}
            {x_axis_line(&frame)}
            { for props.marks.iter().filter(|m| **m > 0.0 && **m <= x_max).map(|m| html! {
                <line class="restart" x1={xa.at(*m).to_string()} x2={xa.at(*m).to_string()} y1={area.y0.to_string()} y2={area.y1.to_string()} />
            }) }
            { for curves.iter().map(|(class, _, points)| {
                let points: String = points.iter().map(|(x, y)| format!("{:.1},{:.1}", xa.at(*x), ya.at(*y))).collect::<Vec<_>>().join(" ");
                html! { <g class={class.clone()}><polyline points={points} /></g> }
            }) }
            if let Some(x) = cross {
                <g class="crossover" data-testid="crossover-mark">
                    <line x1={xa.at(x).to_string()} x2={xa.at(x).to_string()} y1={area.y0.to_string()} y2={area.y1.to_string()} />
                    <text x={(xa.at(x) + 4.0).to_string()} y={(area.y0 + 14.0).to_string()}>{"crossover"}</text>
                </g>
            }
            {legend(&items, &slots)}
            {x_title(&frame, "‖r‖/‖x‖ (dotted: the perturbations on screen)")}
            {y_title(&frame, "‖Ψ(A(x+r)) − x‖/‖x‖")}
        </svg>
        <p class="small" data-testid="crossover">{
            match cross {
                Some(x) if x <= c[0].rel_r => format!(
                    "At every norm measured (from {}), {}'s worst-case error is above FIRENET's.",
                    percent(x),
                    props.net_title
                ),
                Some(x) => format!(
                    "Crossover at ‖r‖/‖x‖ ≈ {}: from there on, {}'s worst-case error is above FIRENET's.",
                    percent(x),
                    props.net_title
                ),
                None => format!(
                    "No crossover up to {}: on this slice {}'s worst-case error stays below FIRENET's.",
                    percent(x_max),
                    props.net_title
                ),
            }
        }</p>
        </>
    }
}

/// One method's three rows of pictures.
#[derive(Properties, PartialEq)]
struct RowProps {
    row: HallucinationRow,
    gaussian: bool,
    /// The window where the network's output changed most under the strongest perturbation,
    /// magnified below every reconstruction (the same window in every row and column).
    zoom: Option<Region>,
}

/// The network row's window ([`crate::protocol::HallucinationColumn::window`], `[row, column, side]`) in its last
/// (strongest) column.
fn zoom_window(rows: &[HallucinationRow]) -> Option<Region> {
    let net = rows.iter().find(|r| r.method == "net")?;
    let last = net.columns.iter().skip(1).last()?;
    let [top, left, side] = last.window;
    (side > 0).then_some(Region {
        top,
        left,
        height: side,
        width: side,
    })
}

#[function_component(MethodRows)]
fn method_rows(props: &RowProps) -> Html {
    let r = &props.row;
    let symbol = match r.method.as_str() {
        "net" => "Ψ",
        "warm" => "Ψ → Φ",
        _ => "Φ",
    };
    // FIRENET's row shows its own worst cases v_j (its search at the network's norms), as in
    // the lectures' slides; the other rows the network's r_j (or Gaussian noise g_j).
    let kind = match (props.gaussian, r.method.as_str()) {
        (true, _) => "g",
        (false, "firenet") => "v",
        _ => "r",
    };
    html! {
        // A row the reader is not looking at folds away (click its title).
        <details class="halluc-method" open=true data-testid={format!("row-{}", r.method)}>
            <summary><h3>{format!("{} ({symbol})", r.title)}
                <span class="small muted">{format!(" · {:.0} ms per reconstruction in this browser", r.millis_per_pass)}</span>
            </h3></summary>
            <div class="halluc-grid">
                { for r.columns.iter().enumerate().map(|(j, c)| html! {
                    <figure class="halluc-cell" data-testid={format!("{}-{j}", r.method)}>
                        <figcaption class="panel-label">{
                            if j == 0 { "x (no perturbation)".to_string() } else { format!("x + t·{kind}{}", sub(j)) }
                        }</figcaption>
                        // The three picture rows, labelled in the first column (kept, hidden, in
                        // the others so that the rows line up).
                        <span class={classes!("row-label", (j > 0).then_some("spacer"))}>{"input"}</span>
                        <PictureCanvas picture={c.input.clone()} label={format!("input {j}")} />
                        <span class={classes!("row-label", (j > 0).then_some("spacer"))}>{format!("reconstruction {symbol}")}</span>
                        <PictureCanvas picture={c.output.clone()} label={format!("{symbol} reconstruction {j}")} />
                        if let Some(zoom) = props.zoom {
                            <span class={classes!("row-label", (j > 0).then_some("spacer"))}>{"magnified (the window where Ψ changed most)"}</span>
                            <RegionCanvas picture={c.output.clone()} region={zoom}
                                label={format!("{symbol} reconstruction {j}, magnified window")}
                                testid={format!("zoom-{}-{j}", r.method)} />
                        }
                        <span class={classes!("row-label", (j > 0).then_some("spacer"))}>{"change from x's reconstruction"}</span>
                        <PictureCanvas picture={c.change.clone()} label={format!("change {j}")} />
                        <p class="small" data-testid="cell-numbers">{
                            if j == 0 {
                                format!("error {:.3}", c.error)
                            } else {
                                format!("‖r‖/‖x‖ {} · κ {:.2} · error {:.3} · window share {:.2}",
                                    percent(c.rel_r), c.kappa, c.error, c.share)
                            }
                        }</p>
                    </figure>
                }) }
            </div>
        </details>
    }
}

fn sub(j: usize) -> &'static str {
    ["₀", "₁", "₂", "₃", "₄"].get(j).copied().unwrap_or("ⱼ")
}

fn verdict(net: &NetReport) -> Html {
    let (kind, heading) = if net.hallucinating {
        (
            "warning",
            format!("{} ({}) hallucinates.", net.title, net.name),
        )
    } else if !net.useful {
        (
            "info",
            format!(
                "{} ({}) is not a useful reconstructor (less than 1 dB better than zero-filling), so it is not called hallucinating.",
                net.title, net.name
            ),
        )
    } else {
        ("info", net.headline())
    };
    html! {
        <Notice kind={kind}>
            <strong>{heading}</strong>{" "}
            <span data-testid="verdict-text">{net.verdict.clone()}</span>
        </Notice>
    }
}

/// What the warm-start report measured for one network: Ψ followed by FIRENET against Ψ and
/// FIRENET alone.
fn warm_summary(w: &WarmNet) -> Html {
    let ratios: Vec<f64> = w
        .shipped
        .iter()
        .filter(|c| c.change_net > 0.0)
        .map(|c| c.change_warm / c.change_net)
        .collect();
    let range = |v: &[f64]| {
        (
            v.iter().cloned().fold(f64::INFINITY, f64::min),
            v.iter().cloned().fold(0.0, f64::max),
        )
    };
    let (lo, hi) = range(&ratios);
    let nulls: Vec<f64> = w.shipped.iter().map(|c| c.null_share_net).collect();
    let (null_lo, null_hi) = range(&nulls);
    let norms: Vec<String> = w
        .slices
        .first()
        .map(|s| s.at.iter().map(|a| a.rel_r).collect::<Vec<_>>())
        .unwrap_or_default()
        .iter()
        .enumerate()
        .map(|(j, rho)| {
            let mean = |f: fn(&crate::mri::learned::warm_start::WarmAtNorm) -> f64| {
                let v: Vec<f64> = w.slices.iter().filter_map(|s| s.at.get(j)).map(f).collect();
                v.iter().sum::<f64>() / v.len().max(1) as f64
            };
            format!(
                "at ‖r‖/‖x‖ = {}: mean κ {:.2} against Ψ's {:.2} and FIRENET's {:.2}",
                percent(*rho),
                mean(|a| a.kappa_warm),
                mean(|a| a.kappa_net),
                mean(|a| a.kappa_firenet)
            )
        })
        .collect();
    html! {
        <p class="small" data-testid="warm-summary">
            <strong>{"Ψ followed by FIRENET (warm-start report): "}</strong>
            {format!(
                "held-out PSNR {:.2} dB against Ψ's {:.2} and FIRENET's {:.2}; under Ψ's shipped worst cases its output moves by {:.0}–{:.0}% of Ψ's change ({:.0}–{:.0}% of Ψ's change lies in the null space of A, which the measurements do not see); its own worst case (the same search) {}.",
                w.psnr_warm, w.psnr_net, w.psnr_firenet, lo * 100.0, hi * 100.0, null_lo * 100.0, null_hi * 100.0, norms.join("; ")
            )}
        </p>
    }
}

/// Seed of the report's searches on slice `k` of the report (see `lab instability-report`).
pub fn report_seed(k: usize) -> u64 {
    100 + k as u64
}

#[derive(Clone, Debug, PartialEq)]
enum Search {
    Idle,
    Running { done: usize, total: usize, id: u64 },
    Done(Rc<Body>),
    Failed(String),
}

#[derive(Properties, PartialEq)]
struct LiveSearchProps {
    net: AttrValue,
    slice: AttrValue,
    seed: u64,
    /// The report's κ at 2% for this slice: (network, FIRENET).
    reported: Option<(f64, f64)>,
}

/// The report's fixed-norm search at 2%, run live in the worker with progress and cancel.
#[function_component(LiveSearch)]
fn live_search(props: &LiveSearchProps) -> Html {
    let compute = use_context::<Compute>().expect("the compute worker is provided by the app");
    let search = use_state(|| Search::Idle);
    {
        let search = search.clone();
        use_effect_with((props.net.clone(), props.slice.clone()), move |_| {
            search.set(Search::Idle);
        });
    }
    let iterations = 20;
    let on_run = {
        let (compute, search) = (compute.clone(), search.clone());
        let (net, slice, seed) = (props.net.to_string(), props.slice.to_string(), props.seed);
        Callback::from(move |_: MouseEvent| {
            let s2 = search.clone();
            let id_cell = Rc::new(std::cell::Cell::new(0u64));
            let id_for_reply = id_cell.clone();
            let id = compute.request(
                Job::InstabilitySearch {
                    net: net.clone(),
                    slice: slice.clone(),
                    rel_r: 0.02,
                    iterations,
                    seed,
                    engine: engine_choice(),
                },
                Callback::from(move |body| match body {
                    Body::Progress { done, total } => s2.set(Search::Running {
                        done,
                        total,
                        id: id_for_reply.get(),
                    }),
                    Body::InstabilitySearched { .. } => s2.set(Search::Done(Rc::new(body))),
                    Body::Failed { message } => s2.set(Search::Failed(message)),
                    Body::Cancelled => s2.set(Search::Idle),
                    _ => {}
                }),
            );
            id_cell.set(id);
            search.set(Search::Running {
                done: 0,
                total: 2 * iterations,
                id,
            });
        })
    };
    let on_cancel = {
        let (compute, search) = (compute.clone(), search.clone());
        Callback::from(move |_: MouseEvent| {
            if let Search::Running { id, .. } = &*search {
                compute.cancel(*id);
                search.set(Search::Idle);
            }
        })
    };
    let result = match &*search {
        Search::Idle => html! {},
        Search::Running { done, total, .. } => html! {
            <div class="row" data-testid="search-running">
                <Progress done={*done} total={*total} />
                <button type="button" class="secondary" data-testid="search-cancel" onclick={on_cancel}>{"Cancel"}</button>
            </div>
        },
        Search::Failed(m) => {
            html! { <Notice kind="error">{format!("The search failed: {m}")}</Notice> }
        }
        Search::Done(body) => match &**body {
            Body::InstabilitySearched {
                kappa_net,
                kappa_firenet,
                iteration_ms_net,
                iteration_ms_firenet,
                computed,
                ..
            } => {
                let (nm, np) = median_p95(iteration_ms_net);
                let (fm, fp) = median_p95(iteration_ms_firenet);
                let reported = props
                    .reported
                    .map(|(n, f)| format!(" (report: {n:.2} and {f:.2})"))
                    .unwrap_or_default();
                html! {
                    <>
                    <p data-testid="search-result">
                        {format!("Worst case found at ‖r‖/‖x‖ = 2%: κ = {kappa_net:.2} for the network, {kappa_firenet:.2} for FIRENET{reported}. ")}
                        <span class="small muted" data-testid="search-timing">{format!(
                            "One iteration (forward, backward, probe) in this browser: network median {nm:.0} ms (p95 {np:.0}), FIRENET median {fm:.0} ms (p95 {fp:.0})."
                        )}</span>
                    </p>
                    <div class="small" data-testid="search-engine"><EngineBadge computed={computed.clone()} /></div>
                    </>
                }
            }
            _ => html! {},
        },
    };
    let running = matches!(&*search, Search::Running { .. });
    html! {
        <div class="live-search" data-testid="live-search">
            <h3>{"Run the search yourself"}</h3>
            <p class="small">{format!("The report's projected gradient ascent at ‖r‖/‖x‖ = 2% ({iterations} iterations for each method, same seed), here in your browser's worker.")}</p>
            <button type="button" data-testid="search-run" onclick={on_run} disabled={running}>{"Search at 2%"}</button>
            {result}
        </div>
    }
}

/// What the report measured on one slice, at each norm, against the bar.
fn slice_summary(net: &NetReport, slice: &str) -> Html {
    let Some(s) = net.slices.iter().find(|s| s.slice == slice) else {
        return html! {};
    };
    let parts: Vec<String> = s
        .at
        .iter()
        .map(|a| {
            format!(
                "at {}: κ {:.2} = {:.2} × FIRENET's {:.2}, share in one window {:.2}, Gaussian κ {:.2}: {}",
                percent(a.rel_r),
                a.kappa_net,
                a.kappa_net / a.kappa_firenet.max(f64::MIN_POSITIVE),
                a.kappa_firenet,
                a.share_net,
                a.kappa_net_random,
                if a.meets_bar { "meets the bar" } else { "does not meet the bar" }
            )
        })
        .collect();
    html! {
        <p class="small" data-testid="slice-summary">
            <strong>{format!("On {slice} (report): ")}</strong>{parts.join("; ")}{"."}
        </p>
    }
}

#[function_component(HallucinationsDemo)]
pub fn hallucinations_demo() -> Html {
    let epoch = use_context::<WorkerEpoch>().unwrap_or_default();
    let (parsed, set_state, embed) = use_query_state::<HallucinationState>(Route::Hallucinations);
    let state = parsed.state.clone();

    let report = use_state(|| None::<Result<Rc<InstabilityReport>, String>>);
    {
        let report = report.clone();
        use_effect_with((), move |_| {
            wasm_bindgen_futures::spawn_local(async move {
                let loaded = match fetch_bytes(REPORT_URL).await {
                    Ok(bytes) => String::from_utf8(bytes)
                        .map_err(|e| e.to_string())
                        .and_then(|t| InstabilityReport::from_json(&t).map_err(|e| e.to_string()))
                        .map(Rc::new),
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
    let warm_report = use_state(|| None::<Result<Rc<WarmStartReport>, String>>);
    {
        let warm_report = warm_report.clone();
        use_effect_with((), move |_| {
            wasm_bindgen_futures::spawn_local(async move {
                let loaded = match fetch_bytes(WARM_REPORT_URL).await {
                    Ok(bytes) => String::from_utf8(bytes)
                        .map_err(|e| e.to_string())
                        .and_then(|t| WarmStartReport::from_json(&t).map_err(|e| e.to_string()))
                        .map(Rc::new),
                    Err(e) => Err(e.to_string()),
                };
                warm_report.set(Some(loaded));
            });
        });
    }
    // The network and slice asked for, checked against the report.
    let mut notices = parsed.notices.clone();
    let chosen = loaded.as_ref().and_then(|r| {
        let default = r
            .hallucinating
            .first()
            .cloned()
            .or_else(|| r.networks.first().map(|n| n.name.clone()))?;
        let net = match &state.net {
            Some(n) if r.networks.iter().any(|m| &m.name == n) => n.clone(),
            Some(n) => {
                notices.push(format!(
                    "There is no network \u{201c}{n}\u{201d}: showing {default}."
                ));
                default
            }
            None => default,
        };
        let slice = match r.demo_slices.get(state.slice) {
            Some(s) => s.clone(),
            None => {
                notices.push(format!(
                    "There are {} demo slices: showing the first.",
                    r.demo_slices.len()
                ));
                r.demo_slices.first()?.clone()
            }
        };
        Some((net, slice))
    });

    let job = chosen.clone().map(|(net, slice)| {
        Job::Hallucinate(HallucinateJob {
            net,
            slice,
            strength: state.strength,
            gaussian: state.gaussian,
            engine: engine_choice(),
        })
    });
    let (run, on_cancel) = use_latest_job(job, epoch, 12, |body| match body {
        Body::Hallucinated(h) => Some(*h),
        _ => None,
    });

    let edits = StateEdits {
        state: state.clone(),
        set_state: set_state.clone(),
    };
    let on_select = |f: Edit<HallucinationState>| edits.on_select(f);
    let on_strength = edits.on_input(Rc::new(|s, v| {
        if let Ok(t) = v.parse::<f64>() {
            s.strength = t.clamp(*STRENGTHS.start(), *STRENGTHS.end());
        }
    }));
    let on_gaussian = {
        let apply = edits.apply(Rc::new(|s, v| s.gaussian = v == "true"));
        Callback::from(move |e: Event| {
            let input: web_sys::HtmlInputElement = e.target_unchecked_into();
            apply(input.checked().to_string());
        })
    };

    let explain = html! {
        <div class="explain">
            <p>{"A trained reconstruction network Ψ can be far more accurate than classical methods and still be unstable: a tiny perturbation r of the image, found by gradient ascent, can make Ψ invent or erase structure. Antun et al. (PNAS 2020) search for it by maximising"}</p>
            {crate::web::math::formula(crate::formula::WORST_CASE)}
            <p data-testid="bar-text">{format!("and report κ = ‖Ψ(A(x + r)) − Ψ(Ax)‖₂/‖r‖₂. Zero-filling A* has κ ≤ 1. FIRENET (Colbrook, Antun & Hansen, PNAS 2022) is searched with the same budget at the same norms. A network is called hallucinating here only if it is one a user would be tempted to use (on clean held-out slices at least {USEFUL_GAIN_DB} dB better than zero-filling and at most {USEFUL_BELOW_FIRENET_DB} dB below FIRENET) and, at one norm ‖r‖/‖x‖ ≤ 5%, on at least {} of the {} report slices: its κ is at least twice FIRENET's, the change is structure (at least a quarter of its energy in one {w}×{w} window), Gaussian noise of the same norm changes its output by less than the noise itself, and its worst-case error exceeds FIRENET's worst-case error at that norm (under a perturbation one cannot see, the network one would use becomes the worse reconstruction).",
                loaded.as_ref().map_or(5, |r| slices_needed(r.slices.len())),
                loaded.as_ref().map_or(6, |r| r.slices.len()),
                w = window_for(loaded.as_ref().map_or(SIDE, |r| r.side)))}</p>
            <p>{"Getting stability back? The third row feeds the network's output to FIRENET as its initial guess, with the same measurements (the authors' experiment), on the network's own worst-case inputs:"}</p>
            {crate::web::math::formula(crate::formula::WARM_START)}
            <p>{"FIRENET's layers pull the estimate towards a sparse, data-consistent image. What the worst case changes in the null space of A (the measurements cannot see it) only the sparsity prior can judge, and it cannot tell a hallucinated detail from a real one there: the change shrinks, and so does the network's advantage. How much of each, and how much of the change lay in the null space, is measured in the warm-start report (below)."}</p>
        </div>
    };

    let controls = match &loaded {
        None => html! {},
        Some(r) => {
            let (net, slice) = chosen.clone().unwrap_or_default();
            html! {
                <div class="mri-controls">
                    <div class="row">
                        <label>{"network "}
                            <select data-testid="net" onchange={on_select(Rc::new(|s, v| s.net = Some(v)))}>
                                { for r.networks.iter().map(|n| html! {
                                    <option value={n.name.clone()} selected={n.name == net}>{format!("{} ({})", n.title, n.name)}</option>
                                }) }
                            </select>
                        </label>
                        <label>{"held-out slice "}
                            <select data-testid="demo-slice" onchange={on_select(Rc::new(|s, v| {
                                if let Ok(i) = v.parse() { s.slice = i; }
                            }))}>
                                { for r.demo_slices.iter().enumerate().map(|(i, name)| html! {
                                    <option value={i.to_string()} selected={*name == slice}>{name.clone()}</option>
                                }) }
                            </select>
                        </label>
                        <label class="slider">{format!("strength t = {:.2} ", state.strength)}
                            <input type="range" min={STRENGTHS.start().to_string()} max={STRENGTHS.end().to_string()} step="0.05"
                                value={state.strength.to_string()} data-testid="strength" aria-label="strength t of x + t·r"
                                aria-valuetext={format!("t, {:.2}", state.strength)}
                                oninput={on_strength} />
                        </label>
                        <label>
                            <input type="checkbox" data-testid="gaussian" checked={state.gaussian} onchange={on_gaussian} />
                            {" Gaussian noise of the same norm instead"}
                        </label>
                    </div>
                </div>
            }
        }
    };

    let warm_net = match &*warm_report {
        Some(Ok(w)) => chosen
            .as_ref()
            .and_then(|(net, _)| w.networks.iter().find(|n| &n.name == net).cloned()),
        _ => None,
    };
    let warm_notice = match &*warm_report {
        Some(Err(e)) => html! {
            <Notice kind="warning">{format!("The warm-start report could not be loaded ({e}): the plot shows no Ψ → FIRENET curve.")}</Notice>
        },
        _ => html! {},
    };
    let status = match (&*report, &*run) {
        (Some(Err(e)), _) => html! {
            <Notice kind="error">{format!("The instability report could not be loaded ({e}); the demo needs it to know its networks and perturbations.")}</Notice>
        },
        (None, _) => html! { <p class="muted">{"Loading the instability report…"}</p> },
        (_, Run::Failed(m)) => {
            html! { <Notice kind="error">{format!("The reconstructions failed: {m}")}</Notice> }
        }
        (_, Run::Running { done, total, .. }) => html! {
            <div class="row" data-testid="halluc-running">
                <span class="muted">{"Reconstructing in the worker… "}</span>
                <Progress done={*done} total={*total} />
                <button type="button" data-testid="cancel" onclick={on_cancel}>{"Cancel"}</button>
            </div>
        },
        _ => html! {},
    };

    let net_report = loaded.as_ref().and_then(|r| {
        let (net, _) = chosen.clone()?;
        r.networks.iter().find(|n| n.name == net).cloned()
    });
    let body = match run.shown() {
        None => html! {},
        Some(h) => {
            let current = matches!(&*run, Run::Done(_));
            let curve = net_report
                .as_ref()
                .and_then(|n| n.slices.iter().find(|s| s.slice == h.slice))
                .map(|s| Rc::new(s.curve.clone()));
            let marks: Vec<f64> = h
                .rows
                .first()
                .map(|r| r.columns.iter().map(|c| c.rel_r).collect())
                .unwrap_or_default();
            let net_title = h.net.clone();
            let warm_curve = warm_net
                .as_ref()
                .and_then(|w| w.slices.iter().find(|s| s.slice == h.slice))
                .filter(|s| !s.curve.is_empty())
                .map(|s| Rc::new(s.curve.clone()));
            let live = loaded.as_ref().and_then(|r| {
                let k = r.slices.iter().position(|s| *s == h.slice)?;
                let reported = net_report
                    .as_ref()
                    .and_then(|n| n.slices.iter().find(|s| s.slice == h.slice))
                    .and_then(|s| s.at.iter().find(|a| (a.rel_r - 0.02).abs() < 1e-3))
                    .map(|a| (a.kappa_net, a.kappa_firenet));
                Some((report_seed(k), reported))
            });
            html! {
                <div class={classes!("halluc-results", (!current).then_some("updating"))} data-testid="halluc-results"
                    data-net={h.net.clone()} data-slice={h.slice.clone()} data-strength={h.strength.to_string()}
                    data-gaussian={h.gaussian.to_string()}>
                    <p class="small muted">{format!(
                        "{} · {}×{} · each column: the input |x + t·r|, the reconstruction, and the change against the unperturbed reconstruction (mid-grey: none; white: brighter, black: darker; ±{:.2} full scale, the same for every picture).",
                        h.slice, h.side, h.side, h.change_scale
                    )}</p>
                    <div class="small"><EngineBadge computed={h.computed.clone()} /></div>
                    { for h.rows.iter().map(|row| html! { <MethodRows row={row.clone()} gaussian={h.gaussian} zoom={zoom_window(&h.rows)} /> }) }
                    if let Some((seed, reported)) = live {
                        <LiveSearch net={h.net.clone()} slice={h.slice.clone()} seed={seed} reported={reported} />
                    }
                    if let Some(curve) = curve {
                        <h3>{format!("Error ‖Ψ(A(x + r)) − x‖/‖x‖ against ‖r‖/‖x‖ on {} (from the reports)", h.slice)}</h3>
                        <CurvePlot curve={curve} warm={warm_curve} net_title={AttrValue::from(net_title)} marks={marks} />
                    }
                </div>
            }
        }
    };

    html! {
        <section class="demo mri hallucinations" data-testid="hallucinations">
            if !embed {
                <h1 class="page-title">{"AI-generated hallucinations: a trained network, the instability test and FIRENET"}</h1>
                {explain}
            }
            { for notices.iter().map(|n| html! { <Notice kind="warning">{n.clone()}</Notice> }) }
            if let Some(n) = &net_report { <div data-testid="verdict">{verdict(n)}</div> }
            if let (Some(n), Some((_, slice))) = (&net_report, &chosen) { {slice_summary(n, slice)} }
            if let Some(w) = &warm_net { {warm_summary(w)} }
            {warm_notice}
            <ExportFigure name="hallucinations" title="Hallucinations">
                {controls}
                {status}
                {body}
            </ExportFigure>
        </section>
    }
}
