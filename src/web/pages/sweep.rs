//! More samples can make it worse (Antun, Renna, Poon, Adcock & Hansen, PNAS 2020, the third
//! instability): trained networks Ψ with their weights fixed, FIRENET and zero-filling against
//! the sampling rate through nested masks of their pattern. The shipped sweep
//! (`static/reports/sampling_sweep.json`, `lab sampling-sweep`) shows at once, with each
//! network's training rate marked, a table and the lesson read off its numbers; a live sweep
//! with chosen networks, rates and held-out slices runs in the worker with progress and cancel
//! and is kept (per networks, rates and slices) on the page and in the worker; a rate clicked
//! on a plot or in a table shows one held-out slice reconstructed at that rate by each method.

use crate::mri::learned::sweep::{
    losses, split_rates, NetFindings, RatePoint, SweepReport, MAX_NETS, MAX_RATES,
};
use crate::mri::state::{rate_percent, SweepState};
use crate::plot::{self, left_margin, linear_ticks, nice_step, place_labels, Rect, Scale, BOTTOM};
use crate::protocol::{Body, Job, SweepJob, SweepResult, SweepSliceJob, SweepSliceResult};
use crate::web::app::{use_query_state, Route, WorkerEpoch};
use crate::web::compute::{use_pooled_job_noting, Compute, LongJob};
use crate::web::data::{load_once, Shareable};
use crate::web::export::ExportFigure;
use crate::web::fetch::fetch_bytes;
use crate::web::pages::mri::PictureCanvas;
use crate::web::plot::{
    anchor, frame_with_legend, legend, x_axis_line, x_ticks, x_title, y_ticks, y_title, LegendItem,
    Swatch,
};
use crate::web::widgets::{engine_choice, EngineBadge, Notice, Progress};
use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;
use yew::prelude::*;

/// The shipped sweep, relative to the page.
pub const REPORT_URL: &str = "./static/reports/sampling_sweep.json";

/// Rates offered as checkboxes (with those of the URL).
const RATE_MENU: [f64; 16] = [
    0.02, 0.03, 0.05, 0.075, 0.1, 0.125, 0.15, 0.2, 0.25, 0.3, 0.4, 0.5, 0.6, 0.7, 0.75, 0.8,
];

thread_local! {
    static REPORT: RefCell<HashMap<String, Shareable<SweepReport>>> = RefCell::new(HashMap::new());
    /// Live sweeps finished on this page, by [`job_key`].
    static LIVE: RefCell<HashMap<String, Rc<SweepResult>>> = RefCell::new(HashMap::new());
    /// Rates the workers finished, by networks and slices ([`known_key`]): sent back with the
    /// next sweep of those networks, so that a rate outlives a worker terminated by a cancel.
    static FINISHED: RefCell<HashMap<String, Vec<RatePoint>>> = RefCell::new(HashMap::new());
}

fn known_key(nets: &[String], slices: usize) -> String {
    format!("{}|{slices}", nets.join(","))
}

/// Keeps a rate a worker finished ([`Body::SweptRate`]).
fn note(body: Body) {
    if let Body::SweptRate {
        nets,
        slices,
        point,
    } = body
    {
        FINISHED.with(|f| {
            let mut f = f.borrow_mut();
            let points = f.entry(known_key(&nets, slices)).or_default();
            points.retain(|p| p.rate != point.rate);
            points.push(point);
        });
    }
}

/// The rates among `rates` finished before for these networks and slices.
fn known_points(nets: &[String], slices: usize, rates: &[f64]) -> Vec<RatePoint> {
    FINISHED.with(|f| {
        f.borrow()
            .get(&known_key(nets, slices))
            .map(|points| {
                points
                    .iter()
                    .filter(|p| rates.contains(&p.rate))
                    .cloned()
                    .collect()
            })
            .unwrap_or_default()
    })
}

async fn shipped() -> crate::Result<Rc<SweepReport>> {
    load_once(&REPORT, REPORT_URL, || async {
        SweepReport::from_json(&fetch_bytes(REPORT_URL).await?)
    })
    .await
}

fn job_key(job: &SweepJob) -> String {
    format!(
        "{}|{}|{}",
        job.nets.join(","),
        job.rates
            .iter()
            .map(|&r| rate_percent(r))
            .collect::<Vec<_>>()
            .join(","),
        job.slices
    )
}

/// Keeps a finished live sweep on the page, so that it shows at once when asked for again.
/// The whole sweep from its parts' replies (one per worker of the pool), kept on the page.
fn merge(bodies: Vec<Body>) -> Result<Rc<SweepResult>, String> {
    let parts = bodies
        .into_iter()
        .map(|b| match b {
            Body::Swept(r) => Ok(*r),
            other => Err(format!("a part of the sweep answered {other:?}")),
        })
        .collect::<Result<Vec<_>, _>>()?;
    let job = RUNNING
        .with(|r| r.borrow().clone())
        .ok_or("no sweep is running")?;
    let r = Rc::new(SweepResult::merge(job, parts).map_err(|e| e.for_people())?);
    LIVE.with(|l| l.borrow_mut().insert(job_key(&r.job), r.clone()));
    Ok(r)
}

thread_local! {
    /// The whole job of the sweep running now (its parts' replies carry only their rates).
    static RUNNING: RefCell<Option<SweepJob>> = const { RefCell::new(None) };
}

fn cached(job: &SweepJob) -> Option<Rc<SweepResult>> {
    LIVE.with(|l| l.borrow().get(&job_key(job)).cloned())
}

fn pct(v: f64) -> String {
    format!("{:.1}%", v * 100.0)
}

/// A sweep's plot or table.
#[derive(Properties, PartialEq)]
struct SweepProps {
    report: Rc<SweepReport>,
    findings: Rc<Vec<NetFindings>>,
    /// Index of the rate whose slice is on screen.
    #[prop_or_default]
    selected: Option<usize>,
    on_select: Callback<usize>,
    testid: AttrValue,
    /// The shipped report's networks: a network keeps its colour on every plot (the table
    /// does without).
    #[prop_or_default]
    palette: Rc<Vec<String>>,
}

/// The colour class of network `name` (`k`-th on its plot).
fn colour(palette: &[String], name: &str, k: usize) -> String {
    format!(
        "s-net{}",
        palette.iter().position(|p| p == name).unwrap_or(k) % MAX_NETS
    )
}

/// Mean held-out PSNR against the share sampled, one line per method, each network's training
/// rate marked; a click on a rate selects it. Hand-drawn SVG, like the lab's other plots.
#[function_component(SweepPlot)]
fn sweep_plot(props: &SweepProps) -> Html {
    let r = &props.report;
    let x_max = r
        .sampled
        .iter()
        .chain(props.findings.iter().map(|f| &f.trained_share))
        .fold(0.0f64, |m, v| m.max(*v))
        * 1.06;
    let values: Vec<f64> = r
        .psnr_zero_filled
        .iter()
        .chain(&r.psnr_firenet)
        .chain(r.nets.iter().flat_map(|n| &n.psnr))
        .copied()
        .filter(|v| v.is_finite())
        .collect();
    let lo = values.iter().fold(f64::INFINITY, |m, v| m.min(*v));
    let hi = values.iter().fold(f64::NEG_INFINITY, |m, v| m.max(*v));
    let ystep = nice_step((hi - lo).max(1.0), 6.0);
    let (y_lo, y_hi) = ((lo / ystep).floor() * ystep, (hi / ystep).ceil() * ystep);
    // (class, legend, values)
    let mut series: Vec<(String, String, Vec<f64>)> = vec![
        (
            "s-zero-filled".into(),
            "zero-filling A*y".into(),
            r.psnr_zero_filled.clone(),
        ),
        ("s-firenet".into(), "FIRENET".into(), r.psnr_firenet.clone()),
    ];
    series.extend(r.nets.iter().enumerate().map(|(k, n)| {
        (
            colour(&props.palette, &n.name, k),
            format!("{} (fixed)", n.name),
            n.psnr.clone(),
        )
    }));
    let items: Vec<LegendItem> = series
        .iter()
        .map(|(class, label, _)| {
            LegendItem::new(format!("series {class}"), label.clone(), Swatch::LineDot)
        })
        .collect();
    let (frame, slots) = frame_with_legend(880.0, 300.0, (left_margin(3), 20.0, BOTTOM), &items);
    let xa = frame.x_axis(0.0, x_max, Scale::Linear);
    let ya = frame.y_axis(y_lo, y_hi, Scale::Linear);
    let area = frame.area();
    let dots: Vec<(f64, f64)> = series
        .iter()
        .flat_map(|(_, _, v)| {
            r.sampled
                .iter()
                .zip(v)
                .filter(|(_, p)| p.is_finite())
                .map(|(s, p)| (xa.at(*s), ya.at(*p)))
        })
        .collect();
    // Each training rate's label near the top of its line, clear of the dots and each other.
    let marker_texts: Vec<String> = props
        .findings
        .iter()
        .map(|f| format!("{} trained at {}", f.name, pct(f.trained_share)))
        .collect();
    let anchors: Vec<(f64, f64, &str)> = props
        .findings
        .iter()
        .zip(&marker_texts)
        .map(|(f, t)| {
            (
                xa.at(f.trained_share) - 6.0,
                area.y0 + plot::FONT,
                t.as_str(),
            )
        })
        .collect();
    let obstacles: Vec<Rect> = dots
        .iter()
        .map(|(x, y)| Rect::around(*x, *y, 4.0))
        .collect();
    let marker_labels = place_labels(&anchors, &obstacles, area);
    // Clickable bands around each rate.
    let bands: Vec<(f64, f64)> = (0..r.sampled.len())
        .map(|k| {
            let a = if k == 0 {
                xa.at(0.0)
            } else {
                (xa.at(r.sampled[k - 1]) + xa.at(r.sampled[k])) / 2.0
            };
            let b = if k + 1 == r.sampled.len() {
                xa.at(x_max)
            } else {
                (xa.at(r.sampled[k]) + xa.at(r.sampled[k + 1])) / 2.0
            };
            (a, b)
        })
        .collect();
    html! {
        <svg class="error-plot curve-plot sweep-plot" viewBox={format!("0 0 {} {}", frame.w, frame.h)} role="img"
            data-testid={props.testid.clone()}
            aria-label="mean held-out PSNR against the share of k-space sampled">
            {y_ticks(&frame, &ya, &linear_ticks(y_lo, y_hi, ystep), |v| format!("{v}"))}
            {x_ticks(&frame, &xa, &linear_ticks(0.0, x_max, nice_step(x_max, 8.0)), |v| format!("{:.0}%", v * 100.0), false)}
            {x_axis_line(&frame)}
            if let Some(k) = props.selected.filter(|k| *k < r.sampled.len()) {
                <line class="selected-rate" x1={xa.at(r.sampled[k]).to_string()} x2={xa.at(r.sampled[k]).to_string()}
                    y1={area.y0.to_string()} y2={area.y1.to_string()} />
            }
            { for props.findings.iter().enumerate().zip(marker_texts.iter().zip(&marker_labels)).map(|((k, f), (text, l))| {
                let xm = xa.at(f.trained_share);
                html! { <g class={classes!("trained", colour(&props.palette, &f.name, k))} data-testid="training-marker"
                    data-net={f.name.clone()} data-share={f.trained_share.to_string()}>
                    <line x1={xm.to_string()} x2={xm.to_string()} y1={area.y0.to_string()} y2={area.y1.to_string()} />
                    <text x={format!("{:.1}", l.x)} y={format!("{:.1}", l.y)} text-anchor={anchor(l.anchor)}>{text.clone()}</text>
                </g> }
            }) }
            { for series.iter().map(|(class, label, v)| {
                let points: String = r.sampled.iter().zip(v).filter(|(_, p)| p.is_finite())
                    .map(|(s, p)| format!("{:.1},{:.1}", xa.at(*s), ya.at(*p))).collect::<Vec<_>>().join(" ");
                html! { <g class={classes!("series", class.clone())} data-testid="sweep-series" data-label={label.clone()}>
                    <polyline points={points} />
                    { for r.sampled.iter().zip(v).filter(|(_, p)| p.is_finite()).map(|(s, p)| html! {
                        <circle class="dot" cx={format!("{:.1}", xa.at(*s))} cy={format!("{:.1}", ya.at(*p))} r="3" />
                    }) }
                </g> }
            }) }
            { for bands.iter().enumerate().map(|(k, (a, b))| {
                let on_select = props.on_select.clone();
                html! { <rect class="rate-hit" x={a.to_string()} y={area.y0.to_string()} width={(b - a).max(1.0).to_string()}
                    height={(area.y1 - area.y0).to_string()} data-testid="rate-hit" data-rate={r.rates[k].to_string()}
                    onclick={Callback::from(move |_: MouseEvent| on_select.emit(k))}>
                    <title>{format!("{} sampled (asked {}): show one held-out slice", pct(r.sampled[k]), pct(r.rates[k]))}</title>
                </rect> }
            }) }
            {legend(&items, &slots)}
            {x_title(&frame, format!("share of k-space sampled (nested {} masks)", r.mask.pattern.title()))}
            {y_title(&frame, "mean held-out PSNR (dB)")}
        </svg>
    }
}

/// The numbers of a sweep; each network's training rate framed; a row click selects the rate.
#[function_component(SweepTable)]
fn sweep_table(props: &SweepProps) -> Html {
    let r = &props.report;
    html! {
        <table class="robustness sweep-table" data-testid={props.testid.clone()}>
            <thead>
                <tr>
                    <th>{"rate asked"}</th><th>{"sampled"}</th><th>{"zero-filling"}</th><th>{"FIRENET"}</th>
                    { for r.nets.iter().map(|n| html! { <th>{n.name.clone()}</th> }) }
                </tr>
            </thead>
            <tbody>
                { for (0..r.rates.len()).map(|k| {
                    let on_select = props.on_select.clone();
                    html! {
                        <tr data-testid="sweep-row" data-rate={r.rates[k].to_string()}
                            class={classes!((props.selected == Some(k)).then_some("current"))}
                            onclick={Callback::from(move |_: MouseEvent| on_select.emit(k))}>
                            <th>{pct(r.rates[k])}</th>
                            <td>{pct(r.sampled[k])}</td>
                            <td>{format!("{:.2}", r.psnr_zero_filled[k])}</td>
                            <td>{format!("{:.2}", r.psnr_firenet[k])}</td>
                            { for r.nets.iter().enumerate().map(|(j, n)| {
                                let trained = props
                                    .findings
                                    .get(j)
                                    .is_some_and(|f| f.trained == k && f.trained_exact);
                                html! {
                                    <td class={classes!(trained.then_some("trained-cell"))}
                                        title={trained.then(|| format!("{} was trained at this rate", n.name))}>
                                        {format!("{:.2}", n.psnr[k])}
                                    </td>
                                }
                            }) }
                        </tr>
                    }
                }) }
            </tbody>
            <caption>{format!(
                "Mean PSNR (dB) over {} held-out slices, {}²; framed: each network's training rate. Click a row to see one slice.",
                r.slices, r.side
            )}</caption>
        </table>
    }
}

/// What the curves show, in words, from the report's numbers.
fn lesson(r: &SweepReport, findings: &[NetFindings]) -> Html {
    let last = r.sampled.len() - 1;
    let at = |k: usize| pct(r.sampled[k]);
    let per_net = findings.iter().zip(&r.nets).map(|(f, n)| {
        let falls = if f.losses.is_empty() {
            "its PSNR never falls as more is sampled".to_string()
        } else {
            format!(
                "its PSNR falls by {} although each higher rate samples everything the lower one does and more",
                f.losses
                    .iter()
                    .map(|l| format!("{:.2} dB from {} to {}", l.db, at(l.from), at(l.to)))
                    .collect::<Vec<_>>()
                    .join(" and by ")
            )
        };
        let firenet = if f.firenet_better.is_empty() {
            "; it stays above FIRENET at every rate".to_string()
        } else {
            format!(
                "; FIRENET is better at {} ({})",
                f.firenet_better.iter().map(|&k| at(k)).collect::<Vec<_>>().join(", "),
                f.firenet_better
                    .iter()
                    .map(|&k| format!("{:.2} against {:.2} dB", r.psnr_firenet[k], n.psnr[k]))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        };
        html! {
            <li data-testid="lesson-net" data-net={f.name.clone()}>
                <strong>{format!("{} (trained at {}): ", f.name, pct(f.trained_share))}</strong>
                {format!(
                    "{falls}. From {} to {} it gains {:.2} dB, FIRENET {:.2} dB{firenet}.",
                    if f.trained_exact {
                        "its training rate".to_string()
                    } else {
                        format!("{}, the rate nearest its training rate,", at(f.trained))
                    },
                    at(last), f.gain, f.gain_firenet
                )}
            </li>
        }
    });
    let stable: Vec<String> = [
        ("zero-filling", &r.psnr_zero_filled),
        ("FIRENET", &r.psnr_firenet),
    ]
    .iter()
    .map(|(name, curve)| {
        let l = losses(curve);
        if l.is_empty() {
            format!("{name} gains at every step")
        } else {
            format!(
                "{name} loses {}",
                l.iter()
                    .map(|l| format!("{:.2} dB from {} to {}", l.db, at(l.from), at(l.to)))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        }
    })
    .collect();
    let worst = findings
        .iter()
        .flat_map(|f| f.losses.iter().map(move |l| (f, l)))
        .max_by(|a, b| a.1.db.total_cmp(&b.1.db));
    let summary = match worst {
        None => "None of the shipped networks loses accuracy as the rate grows here: what the curves show is how much less a fixed network gains from extra samples than FIRENET.".to_string(),
        Some((f, l)) => format!(
            "The largest loss with more samples is {:.2} dB ({}, {} → {}){}: the effect the paper reports is {} in these networks, and what the curves show most is how much less a fixed network gains from extra samples than FIRENET.",
            l.db,
            f.name,
            at(l.from),
            at(l.to),
            if l.db < 1.0 { ", a mild dip" } else { "" },
            if l.db < 1.0 { "present but small" } else { "clear" }
        ),
    };
    html! {
        <div class="panel sweep-lesson" data-testid="lesson">
            <h3>{"What the shipped curves show"}</h3>
            <ul>{ for per_net }</ul>
            <p data-testid="lesson-stable">{format!("{}: the stable methods only gain from more samples.", stable.join("; "))}</p>
            <p data-testid="lesson-summary">{summary}</p>
        </div>
    }
}

#[derive(Properties, PartialEq)]
struct SliceProps {
    nets: Vec<String>,
    rate: f64,
    slices: usize,
}

/// One held-out slice at one rate, reconstructed by each method in the worker.
#[function_component(SliceView)]
fn slice_view(props: &SliceProps) -> Html {
    let compute = use_context::<Compute>().expect("the compute worker is provided by the app");
    let epoch = use_context::<WorkerEpoch>().unwrap_or_default();
    let slice = use_state(|| 0usize);
    let answer = use_state(|| None::<Result<Rc<SweepSliceResult>, String>>);
    {
        let answer = answer.clone();
        let job = SweepSliceJob {
            nets: props.nets.clone(),
            rate: props.rate,
            slice: *slice,
            engine: engine_choice(),
        };
        use_effect_with((job, epoch), move |(job, _)| {
            answer.set(None);
            let a2 = answer.clone();
            compute.request(
                Job::SweepSlice(job.clone()),
                Callback::from(move |body| match body {
                    Body::SweepSlice(s) => a2.set(Some(Ok(Rc::new(*s)))),
                    Body::Failed { message } => a2.set(Some(Err(message))),
                    _ => {}
                }),
            );
        });
    }
    let on_slice = {
        let slice = slice.clone();
        Callback::from(move |e: Event| {
            let select: web_sys::HtmlSelectElement = e.target_unchecked_into();
            if let Ok(i) = select.value().parse() {
                slice.set(i);
            }
        })
    };
    let body = match &*answer {
        None => html! { <p class="muted">{"Reconstructing in the worker…"}</p> },
        Some(Err(m)) => {
            html! { <Notice kind="error">{format!("The slice could not be reconstructed: {m}")}</Notice> }
        }
        Some(Ok(s)) => html! {
            <>
            <div class="small"><EngineBadge computed={s.computed.clone()} /></div>
            <div class="sweep-slice-grid" data-testid="slice-result" data-rate={s.job.rate.to_string()} data-slice={s.job.slice.to_string()}>
                <figure class="halluc-cell">
                    <figcaption>{format!("x ({})", s.name)}</figcaption>
                    <PictureCanvas picture={s.truth.clone()} label={format!("held-out slice {}", s.name)} />
                    <p class="small">{"the truth"}</p>
                </figure>
                { for s.methods.iter().map(|m| html! {
                    <figure class="halluc-cell" data-testid="slice-method" data-key={m.key.clone()} data-psnr={m.psnr.to_string()}>
                        <figcaption>{m.title.clone()}</figcaption>
                        <PictureCanvas picture={m.picture.clone()} label={format!("{} at {}", m.title, pct(s.sampled))} />
                        <p class="small">{format!("PSNR {:.2} dB", m.psnr)}</p>
                    </figure>
                }) }
            </div>
            </>
        },
    };
    html! {
        <div class="panel sweep-slice" data-testid="slice-view">
            <h3>{format!("One held-out slice at {} asked", pct(props.rate))}
                {match &*answer { Some(Ok(s)) => format!(" ({} sampled)", pct(s.sampled)), _ => String::new() }}</h3>
            <label>{"held-out slice "}
                <select data-testid="slice-select" onchange={on_slice}>
                    { for (0..props.slices).map(|i| html! {
                        <option value={i.to_string()} selected={i == *slice}>{format!("{} of {}", i + 1, props.slices)}</option>
                    }) }
                </select>
            </label>
            {body}
        </div>
    }
}

#[function_component(SweepDemo)]
pub fn sweep_demo() -> Html {
    let (parsed, set_state, embed) = use_query_state::<SweepState>(Route::Sweep);
    let state = parsed.state.clone();
    let report = use_state(|| None::<Result<Rc<SweepReport>, String>>);
    {
        let report = report.clone();
        use_effect_with((), move |_| {
            wasm_bindgen_futures::spawn_local(async move {
                report.set(Some(shipped().await.map_err(|e| e.to_string())));
            });
        });
    }
    let loaded = match &*report {
        Some(Ok(r)) => Some(r.clone()),
        _ => None,
    };
    let findings: Option<Result<Rc<Vec<NetFindings>>, String>> = loaded
        .as_ref()
        .map(|r| r.findings().map(Rc::new).map_err(|e| e.to_string()));

    // The live sweep asked for, checked against the report.
    let mut notices = parsed.notices.clone();
    let job = loaded.as_ref().map(|r| {
        let names: Vec<String> = r.nets.iter().map(|n| n.name.clone()).collect();
        let nets = match &state.nets {
            Some(asked) => {
                let known: Vec<String> = names
                    .iter()
                    .filter(|n| asked.contains(n))
                    .cloned()
                    .collect();
                let unknown: Vec<&String> = asked.iter().filter(|n| !names.contains(n)).collect();
                if !unknown.is_empty() {
                    notices.push(format!(
                        "The report has no network {}: {}.",
                        unknown
                            .iter()
                            .map(|n| format!("\u{201c}{n}\u{201d}"))
                            .collect::<Vec<_>>()
                            .join(", "),
                        if known.is_empty() {
                            "using every network of the report".to_string()
                        } else {
                            format!("using {}", known.join(", "))
                        }
                    ));
                }
                if known.is_empty() {
                    names.clone()
                } else {
                    known
                }
            }
            None => names.clone(),
        };
        let slices = match state.slices {
            Some(n) if n <= r.slices => n,
            Some(n) => {
                notices.push(format!(
                    "There are {} held-out slices, not {n}: using all of them.",
                    r.slices
                ));
                r.slices
            }
            None => r.slices,
        };
        SweepJob {
            nets,
            rates: state.rates.clone(),
            slices,
            engine: engine_choice(),
            known: Vec::new(),
        }
    });

    let live = use_pooled_job_noting::<Rc<SweepResult>>(merge, note);
    let running_job = use_state(|| None::<SweepJob>);
    // The rate clicked, on which plot ("shipped" or "live"), with that plot's networks.
    let selected = use_state(|| None::<(&'static str, f64, Vec<String>)>);
    let shown = job.as_ref().and_then(cached);
    let running = matches!(&*live.state, LongJob::Running { .. });

    let on_compute = {
        let (start, running_job, job, workers) = (
            live.start.clone(),
            running_job.clone(),
            job.clone(),
            live.workers,
        );
        Callback::from(move |_: MouseEvent| {
            if let Some(job) = &job {
                running_job.set(Some(job.clone()));
                RUNNING.with(|r| *r.borrow_mut() = Some(job.clone()));
                // The rates dealt to the pool's workers, one part each.
                let parts = split_rates(&job.rates, workers)
                    .into_iter()
                    .map(|rates| {
                        Job::Sweep(SweepJob {
                            known: known_points(&job.nets, job.slices, &rates),
                            rates,
                            ..job.clone()
                        })
                    })
                    .collect();
                start.emit((parts, job.rates.len() * job.slices));
            }
        })
    };
    let select = |source: &'static str, nets: Vec<String>, rates: Vec<f64>| {
        let selected = selected.clone();
        Callback::from(move |k: usize| {
            if let Some(&rate) = rates.get(k) {
                selected.set(Some((source, rate, nets.clone())));
            }
        })
    };
    // The slice view under the plot that was clicked.
    let slice_view = |source: &str, nets: &[String], slices: usize| match &*selected {
        Some((s, rate, n)) if *s == source && n == nets => html! {
            <SliceView nets={n.clone()} rate={*rate} slices={slices} />
        },
        _ => html! {},
    };
    let selected_index = |source: &str, nets: &[String], rates: &[f64]| match &*selected {
        Some((s, rate, n)) if *s == source && n == nets => {
            rates.iter().position(|x| (x - rate).abs() < 1e-9)
        }
        _ => None,
    };

    // Controls: each change goes to the URL (a deep link to the sweep on screen).
    let toggle_net = |name: String| {
        let (set_state, state, job) = (set_state.clone(), state.clone(), job.clone());
        Callback::from(move |e: Event| {
            let input: web_sys::HtmlInputElement = e.target_unchecked_into();
            let mut nets = job.as_ref().map(|j| j.nets.clone()).unwrap_or_default();
            nets.retain(|n| *n != name);
            if input.checked() {
                nets.push(name.clone());
            }
            let mut s = state.clone();
            s.nets = (!nets.is_empty()).then_some(nets);
            set_state.emit(s);
        })
    };
    let toggle_rate = |rate: f64| {
        let (set_state, state) = (set_state.clone(), state.clone());
        Callback::from(move |e: Event| {
            let input: web_sys::HtmlInputElement = e.target_unchecked_into();
            let mut s = state.clone();
            s.rates.retain(|r| (r - rate).abs() > 1e-9);
            if input.checked() {
                s.rates.push(rate);
                s.rates.sort_by(f64::total_cmp);
            }
            if !s.rates.is_empty() && s.rates.len() <= MAX_RATES {
                set_state.emit(s);
            }
        })
    };
    let on_slices = {
        let (set_state, state) = (set_state.clone(), state.clone());
        Callback::from(move |e: Event| {
            let input: web_sys::HtmlInputElement = e.target_unchecked_into();
            if let Ok(n) = input.value().parse::<usize>() {
                let mut s = state.clone();
                s.slices = Some(n.max(1));
                set_state.emit(s);
            }
        })
    };
    let on_reset = {
        let set_state = set_state.clone();
        Callback::from(move |_: MouseEvent| set_state.emit(SweepState::default()))
    };

    let explain = html! {
        <div class="explain">
            <p>{"Antun et al. (PNAS 2020) found a third kind of instability: a network trained to reconstruct from one sampling pattern can get worse when it is given more samples. The setting here:"}</p>
            {crate::web::math::formula(crate::formula::SWEEP)}
            <p class="small muted">{format!("The masks are nested {} masks.", loaded.as_ref().map_or("sampling", |r| r.mask.pattern.title()))}</p>
            <p>{"Each network was trained at one rate; only the mask of its data-consistency layers DC(x̂) = F⁻¹((1 − M) ⊙ F x̂ + M ⊙ y) changes to the one actually sampled. FIRENET and zero-filling see exactly the same measurements. A stable method can only gain from samples it did not have before; the question is whether the trained network does."}</p>
        </div>
    };

    let shipped_section = match (&*report, &loaded, &findings) {
        (None, _, _) => html! { <p class="muted">{"Loading the shipped sweep…"}</p> },
        (Some(Err(e)), _, _) => html! {
            <Notice kind="error">{format!("The shipped sweep could not be loaded ({e}); it names the networks a live sweep can use.")}</Notice>
        },
        (_, Some(_), Some(Err(e))) => html! {
            <Notice kind="error">{format!("The shipped sweep's networks could not be read ({e}).")}</Notice>
        },
        (_, Some(r), Some(Ok(f))) => {
            let nets: Vec<String> = r.nets.iter().map(|n| n.name.clone()).collect();
            let sel = selected_index("shipped", &nets, &r.rates);
            html! {
                <div class="panel" data-testid="shipped">
                    <h2>{"The shipped sweep"}</h2>
                    <p class="small muted">{format!(
                        "Computed natively ({}): {} networks with fixed weights, {} rates, mean over {} held-out slices ({}², {} split), {} masks with seed {}.",
                        r.command, r.nets.len(), r.rates.len(), r.slices, r.side, r.split.name(), r.mask.pattern.title(), r.mask.seed
                    )}</p>
                    <SweepPlot report={r.clone()} findings={f.clone()} selected={sel}
                        on_select={select("shipped", nets.clone(), r.rates.clone())} testid="shipped-plot"
                        palette={Rc::new(nets.clone())} />
                    {slice_view("shipped", &nets, r.slices)}
                    <SweepTable report={r.clone()} findings={f.clone()} selected={sel}
                        on_select={select("shipped", nets.clone(), r.rates.clone())} testid="shipped-table" />
                    {lesson(r, f)}
                </div>
            }
        }
        _ => html! {},
    };

    let controls = match (&loaded, &job) {
        (Some(r), Some(j)) => {
            let mut menu: Vec<f64> = RATE_MENU.to_vec();
            menu.extend(state.rates.iter().copied());
            menu.sort_by(f64::total_cmp);
            menu.dedup_by(|a, b| (*a - *b).abs() < 1e-9);
            let full = state.rates.len() >= MAX_RATES;
            html! {
                <div class="mri-controls sweep-controls">
                    <div class="row">
                        <span>{"networks "}</span>
                        { for r.nets.iter().map(|n| html! {
                            <label>
                                <input type="checkbox" data-testid="sweep-net" data-net={n.name.clone()}
                                    checked={j.nets.contains(&n.name)} onchange={toggle_net(n.name.clone())}
                                    disabled={j.nets.len() == 1 && j.nets.contains(&n.name)} />
                                {format!(" {}", n.name)}
                            </label>
                        }) }
                        <label>{"held-out slices "}
                            <input type="number" min="1" max={r.slices.to_string()} step="1" value={j.slices.to_string()}
                                data-testid="sweep-slices" onchange={on_slices} />
                            {format!(" of {}", r.slices)}
                        </label>
                    </div>
                    <div class="row rates" role="group" aria-label="rates">
                        <span>{format!("rates (up to {MAX_RATES}) ")}</span>
                        { for menu.iter().map(|&rate| {
                            let on = state.rates.iter().any(|r| (r - rate).abs() < 1e-9);
                            html! {
                                <label class="rate-choice">
                                    <input type="checkbox" data-testid="sweep-rate" data-rate={rate_percent(rate)}
                                        checked={on} disabled={(!on && full) || (on && state.rates.len() == 1)}
                                        onchange={toggle_rate(rate)} />
                                    {format!(" {}%", rate_percent(rate))}
                                </label>
                            }
                        }) }
                    </div>
                    <div class="row">
                        <button type="button" data-testid="sweep-compute" disabled={running} onclick={on_compute}>
                            { if shown.is_some() { "Computed: show again" } else { "Compute in the browser" } }
                        </button>
                        <button type="button" class="secondary" data-testid="sweep-reset" disabled={running} onclick={on_reset}>
                            {"The report's settings"}
                        </button>
                        <span class="small muted">{format!(
                            "{} rates × {} slices = {} reconstructions by each of the {} methods.",
                            j.rates.len(), j.slices, j.rates.len() * j.slices, j.nets.len() + 2
                        )}</span>
                    </div>
                </div>
            }
        }
        _ => html! {},
    };

    let status = match &*live.state {
        LongJob::Running { done, total, .. } => {
            // The part that reported last: its rate and slice.
            let label = running_job
                .as_ref()
                .zip(*live.last)
                .filter(|(j, (_, part_done))| j.slices > 0 && *part_done > 0)
                .and_then(|(j, (part, part_done))| {
                    let rates = split_rates(&j.rates, live.workers);
                    let k = (part_done - 1) / j.slices;
                    rates.get(part)?.get(k).map(|r| {
                        format!(
                            "rate {}%: slice {} of {}",
                            rate_percent(*r),
                            (part_done - 1) % j.slices + 1,
                            j.slices
                        )
                    })
                })
                .unwrap_or_else(|| "Loading the networks and slices…".to_string());
            html! {
                <div class="row" data-testid="sweep-running" data-done={done.to_string()} data-workers={live.workers.min(running_job.as_ref().map_or(1, |j| j.rates.len())).to_string()}>
                    <span class="muted" data-testid="sweep-progress">{label}</span>
                    <Progress done={*done} total={*total} />
                    <button type="button" class="secondary" data-testid="sweep-cancel" onclick={live.cancel.clone()}>{"Cancel"}</button>
                </div>
            }
        }
        LongJob::Cancelled => html! {
            <p class="muted small" data-testid="sweep-cancelled">{"Cancelled. The rates finished so far are kept in the worker: computing again resumes from there."}</p>
        },
        LongJob::Failed(m) => {
            html! { <Notice kind="error">{format!("The sweep failed: {m}")}</Notice> }
        }
        _ => html! {},
    };

    let live_section = match (&shown, &loaded) {
        (Some(res), Some(r)) => match res.report.findings() {
            Err(e) => {
                html! { <Notice kind="error">{format!("The live sweep cannot be read: {e}")}</Notice> }
            }
            Ok(lf) => {
                let (lr, lf) = (Rc::new(res.report.clone()), Rc::new(lf));
                let sel = selected_index("live", &res.job.nets, &lr.rates);
                let (diff, count) = lr.max_difference(r);
                let compare = if lr.slices == r.slices && count > 0 {
                    format!(
                        "Against the shipped report on the {count} values both have: largest difference {diff:.2e} dB."
                    )
                } else if count > 0 {
                    format!(
                        "Averaged over {} held-out slices instead of the report's {}: not the report's numbers (largest difference {diff:.2} dB on the {count} values both have).",
                        lr.slices, r.slices
                    )
                } else {
                    "No rate in common with the shipped report.".to_string()
                };
                let computed: f64 = res.rate_millis.iter().sum();
                let fresh = res.rate_millis.iter().filter(|m| **m > 0.0).count();
                let timing = if res.cached == res.job.rates.len() {
                    format!("Every rate was computed before ({:.0} ms).", res.millis)
                } else {
                    format!(
                        "Computed in this browser's worker in {:.1} s ({:.1} s per rate{}).",
                        res.millis / 1000.0,
                        computed / 1000.0 / fresh.max(1) as f64,
                        match res.cached {
                            0 => String::new(),
                            1 => "; 1 rate computed before".to_string(),
                            c => format!("; {c} rates computed before"),
                        }
                    )
                };
                html! {
                    <div class="panel" data-testid="live" data-key={job_key(&res.job)} data-max-diff={diff.to_string()}
                        data-compared={count.to_string()} data-millis={res.millis.to_string()}>
                        <h2>{"Computed in your browser"}</h2>
                        <p class="small" data-testid="live-timing">{timing}</p>
                        if res.cached < res.job.rates.len() {
                            <div class="small"><EngineBadge computed={res.computed.clone()} /></div>
                        }
                        <p class="small" data-testid="live-compare">{compare}</p>
                        <SweepPlot report={lr.clone()} findings={lf.clone()} selected={sel}
                            on_select={select("live", res.job.nets.clone(), lr.rates.clone())} testid="live-plot"
                            palette={Rc::new(r.nets.iter().map(|n| n.name.clone()).collect::<Vec<_>>())} />
                        {slice_view("live", &res.job.nets, r.slices)}
                        <SweepTable report={lr.clone()} findings={lf} selected={sel}
                            on_select={select("live", res.job.nets.clone(), lr.rates.clone())} testid="live-table" />
                    </div>
                }
            }
        },
        _ => html! {},
    };

    html! {
        <section class="demo mri sweep" data-testid="sweep">
            if !embed {
                <h1 class="page-title">{"More samples can make it worse: a fixed network against the sampling rate"}</h1>
                {explain}
            }
            { for notices.iter().map(|n| html! { <Notice kind="warning">{n.clone()}</Notice> }) }
            <ExportFigure name="sweep" title="More samples, worse?">{shipped_section}</ExportFigure>
            <div class="panel">
                <h2>{"Run a sweep yourself"}</h2>
                <p class="small">{format!(
                    "Choose networks, rates and the number of held-out slices (spread evenly over the {}); the sweep runs in your browser's worker, rate by rate and slice by slice. Finished sweeps are kept: asking again shows them at once.",
                    loaded.as_ref().map_or(0, |r| r.slices)
                )}</p>
                {controls}
                {status}
            </div>
            <ExportFigure name="sweep-live" title="Your sweep">{live_section}</ExportFigure>
        </section>
    }
}
