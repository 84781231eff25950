//! Accuracy versus stability (the trade-off of the lecture's title; Gottschling, Antun, Adcock &
//! Hansen, "The troublesome kernel", SIAM Review 2025): every reconstruction method of the lab as
//! one point, clean held-out PSNR against the worst-case amplification κ found by the same search,
//! drawn at once from the shipped report (`static/reports/tradeoff.json`, `lab tradeoff`). A
//! point is highlighted by a click, by the table or by the link `#/tradeoff?method=NAME`.

use crate::mri::learned::tradeoff::{TradeoffPoint, TradeoffReport, KINDS};
use crate::mri::state::TradeoffState;
use crate::plot::{left_margin, linear_ticks, log_ticks, place_labels, Rect, Scale, BOTTOM};
use crate::web::app::{use_query_state, Route};
use crate::web::data::{load_once, Shareable};
use crate::web::export::ExportFigure;
use crate::web::fetch::fetch_bytes;
use crate::web::plot::{
    anchor, frame_with_legend, legend, x_axis_line, x_ticks, x_title, y_ticks, y_title, LegendItem,
    Swatch,
};
use crate::web::widgets::Notice;
use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;
use yew::prelude::*;

/// The shipped report, relative to the page.
pub const REPORT_URL: &str = "./static/reports/tradeoff.json";

thread_local! {
    static REPORT: RefCell<HashMap<String, Shareable<TradeoffReport>>> = RefCell::new(HashMap::new());
}

async fn shipped() -> crate::Result<Rc<TradeoffReport>> {
    load_once(&REPORT, REPORT_URL, || async {
        TradeoffReport::from_json(&fetch_bytes(REPORT_URL).await?)
    })
    .await
}

fn kind_class(kind: &str) -> String {
    format!(
        "k{}",
        KINDS.iter().position(|k| *k == kind).unwrap_or(KINDS.len())
    )
}

/// The shares of k-space the report's methods sample, in words ("25.0% of k-space is sampled,
/// on 128² slices"; "7.8% or 12.5% …").
fn sampled_shares(r: &TradeoffReport) -> String {
    let mut rates: Vec<f64> = r.points.iter().map(|p| p.rate).collect();
    rates.sort_by(f64::total_cmp);
    rates.dedup_by(|p, q| (*p - *q).abs() < 1e-6);
    let shares: Vec<String> = rates.iter().map(|v| format!("{:.1}%", v * 100.0)).collect();
    format!(
        "{} of k-space is sampled, on {}² slices",
        shares.join(" or "),
        r.side
    )
}

/// The caveat on the fine-tuned networks (`<net>-noise`, `<net>-kernel`) of the report, if it
/// has any: their extra training steps are part of their difference from `<net>`.
fn fine_tuned_caveat(r: &TradeoffReport) -> Option<String> {
    let tuned: Vec<(&str, &str)> = r
        .points
        .iter()
        .filter(|p| p.kind == "trained")
        .filter_map(|p| {
            let base = p
                .name
                .strip_suffix("-noise")
                .or_else(|| p.name.strip_suffix("-kernel"))?;
            r.point(base).map(|b| (p.name.as_str(), b.name.as_str()))
        })
        .collect();
    if tuned.is_empty() {
        return None;
    }
    let names: Vec<String> = tuned
        .iter()
        .map(|(t, b)| format!("{t} (from {b})"))
        .collect();
    let mut s = format!(
        "Caveat: the fine-tuned network{} {} also had extra training steps (see “Made by” under a point), so part of the difference from the network fine-tuned comes from those steps (a control with the same steps and no noise, at 64², is in docs/hallucinations.md).",
        if tuned.len() > 1 { "s" } else { "" },
        names.join(", ")
    );
    if tuned.iter().any(|(t, _)| t.ends_with("-kernel")) {
        s += " A kernel-trained network paints much less of the detail than the theory's optimum P·z_N (static/reports/kernel_detail.json at 64²; at 128², after 400 steps, almost none of it: docs/hallucinations.md).";
    }
    Some(s)
}

#[derive(Properties, PartialEq)]
struct PlotProps {
    report: Rc<TradeoffReport>,
    highlighted: Option<String>,
    on_select: Callback<String>,
    on_hover: Callback<Option<String>>,
}

/// PSNR (y) against mean worst-case κ (x, logarithmic), each point labelled, with a bar from the
/// smallest to the largest κ over the report slices. Hand-drawn SVG, like the lab's other plots.
#[function_component(TradeoffPlot)]
fn tradeoff_plot(props: &PlotProps) -> Html {
    let r = &props.report;
    let k_lo = r
        .points
        .iter()
        .flat_map(|p| p.kappa.iter())
        .fold(f64::INFINITY, |m, v| m.min(*v))
        .min(1.0)
        * 0.8;
    let k_hi = r.points.iter().map(|p| p.kappa_max).fold(1.0f64, f64::max) * 1.35;
    let p_lo = r
        .points
        .iter()
        .map(|p| p.psnr)
        .fold(f64::INFINITY, f64::min);
    let p_hi = r
        .points
        .iter()
        .map(|p| p.psnr)
        .fold(f64::NEG_INFINITY, f64::max);
    let (y_lo, y_hi) = ((p_lo - 1.0).floor(), (p_hi + 1.0).ceil());
    let mut items: Vec<LegendItem> = KINDS
        .iter()
        .filter(|k| r.points.iter().any(|p| &p.kind == *k))
        .map(|k| LegendItem::new(kind_class(k), *k, Swatch::Dot))
        .collect();
    items.push(LegendItem::new(
        "kappa-one",
        "κ = 1: nothing added to the data",
        Swatch::Line,
    ));
    let (frame, slots) = frame_with_legend(880.0, 420.0, (left_margin(2), 20.0, BOTTOM), &items);
    let xa = frame.x_axis(k_lo, k_hi, Scale::Log);
    let ya = frame.y_axis(y_lo, y_hi, Scale::Linear);
    let step = if y_hi - y_lo > 12.0 { 2.0 } else { 1.0 };
    // Each point's label beside it, clear of every dot, every range bar and every other label.
    let marks: Vec<Rect> = r
        .points
        .iter()
        .flat_map(|p| {
            let lo = p.kappa.iter().fold(f64::INFINITY, |m, v| m.min(*v));
            let y = ya.at(p.psnr);
            [
                Rect::around(xa.at(p.kappa_mean), y, 9.0),
                Rect {
                    x0: xa.at(lo),
                    y0: y - 2.0,
                    x1: xa.at(p.kappa_max),
                    y1: y + 2.0,
                },
            ]
        })
        .collect();
    let anchors: Vec<(f64, f64, &str)> = r
        .points
        .iter()
        .map(|p| (xa.at(p.kappa_mean), ya.at(p.psnr), p.name.as_str()))
        .collect();
    let labels = place_labels(&anchors, &marks, frame.area());
    html! {
        <svg class="error-plot tradeoff-plot" viewBox={format!("0 0 {} {}", frame.w, frame.h)} role="img"
            data-testid="tradeoff-plot"
            aria-label="clean held-out PSNR against the worst-case amplification κ, one point per method">
            {y_ticks(&frame, &ya, &linear_ticks(y_lo, y_hi, step), |v| format!("{v}"))}
            {x_ticks(&frame, &xa, &log_ticks(k_lo, k_hi), |v| format!("{v}"), true)}
            {x_axis_line(&frame)}
            {x_title(&frame, format!("worst-case amplification κ at ‖r‖ = {:.0}% of ‖x‖ (mean over {} slices; bar: range), log scale", r.rel_r * 100.0, r.slices.len()))}
            {y_title(&frame, format!("clean PSNR (dB), {} slices", r.psnr_slices))}
            if (k_lo..=k_hi).contains(&1.0) {
                <line class="kappa-one" x1={xa.at(1.0).to_string()} x2={xa.at(1.0).to_string()} y1={frame.top.to_string()} y2={(frame.h - frame.bottom).to_string()} />
            }
            // The highlighted point last, so that it lies on top of any it overlaps.
            { for r.points.iter().zip(&labels)
                .filter(|(p, _)| props.highlighted.as_deref() != Some(p.name.as_str()))
                .chain(r.points.iter().zip(&labels).filter(|(p, _)| props.highlighted.as_deref() == Some(p.name.as_str())))
                .map(|(p, l)| {
                let on = props.highlighted.as_deref() == Some(p.name.as_str());
                let lo = p.kappa.iter().fold(f64::INFINITY, |m, v| m.min(*v));
                let select = {
                    let (cb, name) = (props.on_select.clone(), p.name.clone());
                    Callback::from(move |_: MouseEvent| cb.emit(name.clone()))
                };
                let enter = {
                    let (cb, name) = (props.on_hover.clone(), p.name.clone());
                    Callback::from(move |_: MouseEvent| cb.emit(Some(name.clone())))
                };
                let leave = {
                    let cb = props.on_hover.clone();
                    Callback::from(move |_: MouseEvent| cb.emit(None))
                };
                html! {
                    <g class={classes!("point", kind_class(&p.kind), on.then_some("highlighted"))}
                        data-testid="tradeoff-point" data-method={p.name.clone()}
                        data-psnr={p.psnr.to_string()} data-kappa={p.kappa_mean.to_string()}
                        data-highlighted={on.to_string()}
                        onclick={select} onmouseenter={enter} onmouseleave={leave}>
                        <title>{format!("{}: PSNR {:.2} dB, κ {:.2} (max {:.2}), Gaussian κ {:.2}", p.name, p.psnr, p.kappa_mean, p.kappa_max, p.kappa_gaussian_mean)}</title>
                        <line class="range" x1={format!("{:.1}", xa.at(lo))} x2={format!("{:.1}", xa.at(p.kappa_max))}
                            y1={format!("{:.1}", ya.at(p.psnr))} y2={format!("{:.1}", ya.at(p.psnr))} />
                        <circle cx={format!("{:.1}", xa.at(p.kappa_mean))} cy={format!("{:.1}", ya.at(p.psnr))} r={if on { "8" } else { "5.5" }} />
                        <text class="label" x={format!("{:.1}", l.x)} y={format!("{:.1}", l.y)}
                            text-anchor={anchor(l.anchor)}>{p.name.clone()}</text>
                    </g>
                }
            }) }
            {legend(&items, &slots)}
        </svg>
    }
}

#[derive(Properties, PartialEq)]
struct DetailProps {
    point: TradeoffPoint,
    slices: Vec<String>,
    highlighted: bool,
}

/// The numbers of one point.
#[function_component(PointDetail)]
fn point_detail(props: &DetailProps) -> Html {
    let p = &props.point;
    html! {
        <div class="tradeoff-detail" data-testid="tradeoff-detail" data-method={p.name.clone()}
            data-highlighted={props.highlighted.to_string()}>
            <h3>{p.title.clone()}</h3>
            <p>{format!(
                "{} · {:.1}% of k-space · PSNR {:.2} dB, SSIM {:.3} · worst-case κ mean {:.3}, largest {:.3} · Gaussian noise of the same norm: κ {:.3}",
                p.kind, p.rate * 100.0, p.psnr, p.ssim, p.kappa_mean, p.kappa_max, p.kappa_gaussian_mean
            )}</p>
            if !p.training.is_empty() {
                <p class="small" data-testid="tradeoff-training">{format!("Made by: {}.", p.training)}</p>
            }
            <p class="small muted">{format!(
                "Per slice (worst case / Gaussian): {}.",
                props.slices.iter().zip(p.kappa.iter().zip(&p.kappa_gaussian))
                    .map(|(s, (k, g))| format!("{s} {k:.2} / {g:.2}"))
                    .collect::<Vec<_>>().join("; ")
            )}</p>
        </div>
    }
}

#[function_component(TradeoffDemo)]
pub fn tradeoff_demo() -> Html {
    let (parsed, set_state, embed) = use_query_state::<TradeoffState>(Route::Tradeoff);
    let report = use_state(|| None::<Result<Rc<TradeoffReport>, String>>);
    let hover = use_state(|| None::<String>);
    {
        let report = report.clone();
        use_effect_with((), move |_| {
            wasm_bindgen_futures::spawn_local(async move {
                report.set(Some(shipped().await.map_err(|e| e.to_string())));
            });
        });
    }
    let mut notices = parsed.notices.clone();
    let loaded = match &*report {
        Some(Ok(r)) => Some(r.clone()),
        _ => None,
    };
    // The highlighted point, if the report has it.
    let highlighted = match (&parsed.state.method, &loaded) {
        (Some(m), Some(r)) if r.point(m).is_some() => Some(m.clone()),
        (Some(m), Some(r)) => {
            notices.push(format!(
                "The report has no method \u{201c}{m}\u{201d} (it has {}): no point is highlighted.",
                r.points
                    .iter()
                    .map(|p| p.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
            None
        }
        _ => None,
    };
    let on_select = {
        let (set_state, current) = (set_state.clone(), highlighted.clone());
        Callback::from(move |name: String| {
            // A second click on the highlighted point clears the highlight.
            let method = (current.as_deref() != Some(name.as_str())).then_some(name);
            set_state.emit(TradeoffState { method });
        })
    };
    let on_hover = {
        let hover = hover.clone();
        Callback::from(move |name: Option<String>| hover.set(name))
    };
    let explain = html! {
        <div class="panel explain" data-testid="tradeoff-explain">
            <p>{format!("The lecture's point: accuracy and stability trade against each other. Where the measurements \
                y = Ax say little (the kernel of A is large: here {}), a method \
                that reconstructs much better than the data alone allow must fill in what it cannot see, and \
                the same mechanism makes some small changes of the data change its output a lot. A method \
                that adds nothing to the data (zero-filling) cannot be misled, and cannot be accurate.",
                loaded.as_ref().map_or_else(|| "a small share of k-space is sampled".to_string(), |r| sampled_shares(r)))}</p>
            <p>{"Each point is one method: its accuracy (clean mean PSNR over the held-out slices) against its \
                stability, the worst-case amplification"}</p>
            <crate::web::math::Math tex={crate::formula::KAPPA.tex} text={crate::formula::KAPPA.text} testid="kappa-formula" />
            <p>{match &loaded {
                Some(r) => format!(
                    "found by the same search for every method: projected gradient ascent on ‖Ψ(A(x + r)) − Ψ(Ax)‖ over the sphere ‖r‖₂ = {:.0}% of ‖x‖₂, {} steps from a seeded start, on {} held-out slices (the hallucinations test). Zero-filling Ψ = A* has κ ≤ 1 (equality for r in the row space): it is the check of the search. Lower left is stable and inaccurate, upper right accurate and unstable; the upper left would be both accurate and stable.",
                    r.rel_r * 100.0, r.iterations, r.slices.len()
                ),
                None => "found by the same worst-case search for every method.".into(),
            }}</p>
        </div>
    };
    let body = match &*report {
        None => {
            html! { <p class="muted" data-testid="tradeoff-loading">{"Loading the shipped report…"}</p> }
        }
        Some(Err(m)) => html! {
            <Notice kind="error">{format!("The trade-off report could not be loaded: {m}")}</Notice>
        },
        Some(Ok(r)) => {
            let shown = hover
                .as_ref()
                .and_then(|n| r.point(n))
                .or_else(|| highlighted.as_ref().and_then(|n| r.point(n)));
            let detail = match shown {
                Some(p) => html! {
                    <PointDetail point={p.clone()} slices={r.slices.clone()}
                        highlighted={highlighted.as_deref() == Some(p.name.as_str())} />
                },
                None => html! {
                    <p class="small muted" data-testid="tradeoff-hint">{"Point at a method, or click it, for its numbers; a click also puts it in the address (a link to this view)."}</p>
                },
            };
            let row = |p: &TradeoffPoint| {
                let on = highlighted.as_deref() == Some(p.name.as_str());
                let select = {
                    let (cb, name) = (on_select.clone(), p.name.clone());
                    Callback::from(move |_: MouseEvent| cb.emit(name.clone()))
                };
                html! {
                    <tr class={classes!(on.then_some("current"))} data-testid="tradeoff-row" data-method={p.name.clone()}
                        data-psnr={p.psnr.to_string()} data-kappa={p.kappa_mean.to_string()}
                        data-kappa-max={p.kappa_max.to_string()} data-kappa-gaussian={p.kappa_gaussian_mean.to_string()}
                        onclick={select}>
                        <th><span class={classes!("swatch", kind_class(&p.kind))}></span>{p.name.clone()}</th>
                        <td>{p.kind.clone()}</td>
                        <td>{format!("{:.1}%", p.rate * 100.0)}</td>
                        <td>{format!("{:.2}", p.psnr)}</td>
                        <td>{format!("{:.3}", p.ssim)}</td>
                        <td>{format!("{:.2}", p.kappa_mean)}</td>
                        <td>{format!("{:.2}", p.kappa_max)}</td>
                        <td>{format!("{:.2}", p.kappa_gaussian_mean)}</td>
                    </tr>
                }
            };
            html! {
                <>
                    <div class="panel">
                        <TradeoffPlot report={r.clone()} highlighted={highlighted.clone()}
                            on_select={on_select.clone()} on_hover={on_hover} />
                        {detail}
                    </div>
                    <div class="panel">
                        <h3>{"The numbers"}</h3>
                        <table class="robustness tradeoff-table" data-testid="tradeoff-table">
                            <thead><tr>
                                <th>{"method"}</th><th>{"kind"}</th><th>{"sampled"}</th><th>{"PSNR (dB)"}</th><th>{"SSIM"}</th>
                                <th>{"κ mean"}</th><th>{"κ largest"}</th><th>{"Gaussian κ"}</th>
                            </tr></thead>
                            <tbody>{ for r.points.iter().map(row) }</tbody>
                        </table>
                        <h3>{"What was measured"}</h3>
                        <ul data-testid="tradeoff-findings">
                            { for r.finding_list().into_iter().map(|f| html! { <li>{f}</li> }) }
                        </ul>
                        if let Some(caveat) = fine_tuned_caveat(r) {
                            <p class="small" data-testid="tradeoff-caveat">{caveat}</p>
                        }
                        <p class="small muted">{format!(
                            "Computed natively by `{}`; the page draws the shipped report. Gaussian κ: noise of the same norm as each worst case moves the outputs by at most {:.2} times its norm, against worst cases of up to {:.2}: the instability lies in special directions, not in noise.",
                            r.command,
                            r.points.iter().map(|p| p.kappa_gaussian_mean).fold(0.0, f64::max),
                            r.points.iter().map(|p| p.kappa_max).fold(0.0, f64::max)
                        )}</p>
                    </div>
                </>
            }
        }
    };
    html! {
        <section class="demo mri tradeoff" data-testid="tradeoff">
            if !embed {
                <h1 class="page-title">{"Accuracy versus stability"}</h1>
                {explain}
            }
            { for notices.iter().map(|n| html! { <Notice kind="warning">{n.clone()}</Notice> }) }
            <ExportFigure name="tradeoff" title="Accuracy versus stability">{body}</ExportFigure>
        </section>
    }
}
