//! The linearity demo (Goodfellow, Shlens & Szegedy, ICLR 2015; the lecture's slide "Is the
//! behaviour we are seeing reasonable?"): for a linear score `wᵀx + b` and `‖Δx‖∞ ≤ ε` the worst
//! change is `ε‖w‖₁ ≈ ε·d·mean|w|`. Sliders for `ε` and `d`; a log–log plot of the change
//! against `d` for random `w ∼ N(0, I_d)` (and the shipped models' class scores); a plot of the
//! median smallest ℓ∞ DeepFool perturbation of the softmax regression retrained at 7×7, 14×14
//! and 28×28 (`lab linearity`); and one held-out digit at the chosen resolution with its ℓ∞
//! DeepFool perturbation and the flipped label.
//!
//! Everything here is closed form or one DeepFool step on an affine model, so it runs on the page
//! from [`crate::classification::linearity`] without the worker: the smallest ℓ∞ perturbation of all 2,000
//! held-out digits at the three resolutions once after loading (timed and shown on the page),
//! then microseconds per slider move.

use crate::classification::attack::{norm_inf, Model};
use crate::classification::linearity::{
    deepfool_linf, digit_at, expected_worst_change, figure, finding, log_grid, min_linf_flip,
    models_from_safetensors, thousands, Flip, LinearityReport, Quartiles, RandomWeights,
    ResolutionModel, SIDES,
};
use crate::classification::mnist::{Digits, SIDE};
use crate::classification::state::{LinearityState, LINEARITY_DIMS, LINEARITY_EPS};
use crate::plot::{left_margin, linear_ticks, nice_step, place_labels, Rect, Scale, BOTTOM};
use crate::web::app::{use_query_state, Route};
use crate::web::export::ExportFigure;
use crate::web::fetch::fetch_bytes;
use crate::web::picker::use_held_out;
use crate::web::plot::{
    anchor, frame_with_legend, legend, x_axis_line, x_ticks, x_title, y_ticks, y_title, LegendItem,
    Swatch,
};
use crate::web::widgets::{paint_grey, paint_signed, Notice};
use std::rc::Rc;
use yew::prelude::*;

/// The three models (`lab linearity`), relative to the page.
pub const WEIGHTS_URL: &str = "./static/data/linearity.safetensors";
/// The report of `lab linearity`, relative to the page.
pub const REPORT_URL: &str = "./static/reports/linearity.json";
/// `σ` of the random weights `w ∼ N(0, σ²I_d)`.
const SIGMA: f64 = 1.0;
/// Seed of the random weights (one stream per `d`).
const SEED: u64 = 1;
/// Dimensions sampled for the curve.
const GRID: usize = 33;

/// A file loading, loaded, or why not.
type Loaded<T> = Option<Result<Rc<T>, String>>;

/// Fetches and parses a file once, on mount.
#[hook]
fn use_file<T: 'static>(url: &'static str, parse: fn(Vec<u8>) -> crate::Result<T>) -> Loaded<T> {
    let state = use_state(|| None::<Result<Rc<T>, String>>);
    {
        let state = state.clone();
        use_effect_with((), move |_| {
            wasm_bindgen_futures::spawn_local(async move {
                let loaded = match fetch_bytes(url).await {
                    Ok(bytes) => parse(bytes).map(Rc::new).map_err(|e| e.to_string()),
                    Err(e) => Err(e.to_string()),
                };
                state.set(Some(loaded));
            });
        });
    }
    (*state).clone()
}

fn parse_models(bytes: Vec<u8>) -> crate::Result<Vec<ResolutionModel>> {
    models_from_safetensors(&bytes)
}

fn parse_report(bytes: Vec<u8>) -> crate::Result<LinearityReport> {
    let text = String::from_utf8(bytes)
        .map_err(|_| crate::Error::Data("the linearity report is not text".into()))?;
    LinearityReport::from_json(&text)
}

/// `10ᵏ` with a superscript exponent.
fn pow10(k: i32) -> String {
    const SUP: [char; 10] = ['⁰', '¹', '²', '³', '⁴', '⁵', '⁶', '⁷', '⁸', '⁹'];
    let digits: String = k
        .unsigned_abs()
        .to_string()
        .chars()
        .filter_map(|c| c.to_digit(10).map(|d| SUP[d as usize]))
        .collect();
    format!("10{}{digits}", if k < 0 { "⁻" } else { "" })
}

/// `d` from the log-scale slider's value `log₁₀ d`, kept in range.
fn d_from_slider(v: f64) -> usize {
    (10f64.powf(v).round() as usize).clamp(*LINEARITY_DIMS.start(), *LINEARITY_DIMS.end())
}

/// A percentage with one decimal.
fn percent(v: f64) -> String {
    format!("{:.1}%", 100.0 * v)
}

#[derive(Properties, PartialEq)]
struct EffectProps {
    eps: f64,
    /// One sampled `w` per `d` of the curve.
    grid: Rc<Vec<RandomWeights>>,
    /// The sampled `w` at the slider's `d`.
    point: RandomWeights,
    /// `(side, d, mean ‖w_k‖₁)` of the shipped models.
    shipped: Rc<Vec<(usize, usize, f64)>>,
}

/// The change of the score against `d` on log–log axes: worst case (expected and sampled),
/// random signs, the shipped models' class scores, and the slider's point.
#[function_component(EffectPlot)]
fn effect_plot(props: &EffectProps) -> Html {
    let items = [
        LegendItem::new("l-expected", "ε‖w‖₁ expected: ε·d·√(2/π)", Swatch::Line),
        LegendItem::new("l-sampled", "ε‖w‖₁, one sampled w", Swatch::Dot),
        LegendItem::new("l-random", "random signs: about ε‖w‖₂", Swatch::Line),
        LegendItem::new("l-shipped", "trained models: ε·mean‖w_k‖₁", Swatch::Diamond),
        LegendItem::new("l-point", "the slider's d", Swatch::Dot),
    ];
    let (frame, slots) = frame_with_legend(860.0, 300.0, (left_margin(4), 20.0, BOTTOM), &items);
    let xa = frame.x_axis(10.0, 1e5, Scale::Log);
    let ya = frame.y_axis(1e-3, 1e5, Scale::Log);
    let eps = props.eps;
    let line = |f: &dyn Fn(&RandomWeights) -> f64| -> String {
        props
            .grid
            .iter()
            .map(|r| format!("{:.1},{:.1}", xa.at(r.d as f64), ya.at(f(r))))
            .collect::<Vec<_>>()
            .join(" ")
    };
    let expected = line(&|r| expected_worst_change(eps, r.d, r.sigma));
    let random = line(&|r| r.random_sign_change(eps));
    let p = &props.point;
    let (px, py) = (xa.at(p.d as f64), ya.at(p.worst_change(eps)));
    let area = frame.area();
    // The shipped models' labels, placed clear of every dot and diamond.
    let shipped: Vec<(f64, f64, String)> = props
        .shipped
        .iter()
        .map(|(side, d, l1)| (xa.at(*d as f64), ya.at(eps * l1), format!("{side}×{side}")))
        .collect();
    let mut marks: Vec<Rect> = props
        .grid
        .iter()
        .map(|r| Rect::around(xa.at(r.d as f64), ya.at(r.worst_change(eps)), 3.0))
        .chain(shipped.iter().map(|(x, y, _)| Rect::around(*x, *y, 7.0)))
        .collect();
    marks.push(Rect::around(px, py, 7.0));
    let anchors: Vec<(f64, f64, &str)> = shipped
        .iter()
        .map(|(x, y, t)| (*x, *y, t.as_str()))
        .collect();
    let labels = place_labels(&anchors, &marks, area);
    let decades = |lo: i32, hi: i32| (lo..=hi).map(|k| 10f64.powi(k)).collect::<Vec<_>>();
    html! {
        <svg class="error-plot linearity-plot" viewBox={format!("0 0 {} {}", frame.w, frame.h)} role="img" data-testid="effect-plot"
            aria-label="change of the score against the dimension d, log–log">
            {y_ticks(&frame, &ya, &decades(-3, 5), |v| pow10(v.log10().round() as i32))}
            {x_ticks(&frame, &xa, &decades(1, 5), |v| pow10(v.log10().round() as i32), true)}
            {x_axis_line(&frame)}
            <line class="d-mark" x1={px.to_string()} x2={px.to_string()} y1={area.y0.to_string()} y2={area.y1.to_string()} />
            <polyline class="s-expected" points={expected} />
            <polyline class="s-random" points={random} />
            { for props.grid.iter().map(|r| html! {
                <circle class="s-sampled" cx={format!("{:.1}", xa.at(r.d as f64))} cy={format!("{:.1}", ya.at(r.worst_change(eps)))} r="2.5" />
            }) }
            { for props.shipped.iter().zip(&shipped).zip(&labels).map(|(((side, _, _), (sx, sy, text)), l)| html! {
                <g class="s-shipped" data-side={side.to_string()}>
                    <rect x={format!("{:.1}", sx - 4.5)} y={format!("{:.1}", sy - 4.5)} width="9" height="9"
                        transform={format!("rotate(45 {sx:.1} {sy:.1})")} />
                    <text x={format!("{:.1}", l.x)} y={format!("{:.1}", l.y)} text-anchor={anchor(l.anchor)}>{text.clone()}</text>
                </g>
            }) }
            <circle class="s-point" cx={format!("{px:.1}")} cy={format!("{py:.1}")} r="6" data-testid="effect-point"
                data-d={p.d.to_string()} data-effect={format!("{:.6}", p.worst_change(eps))} />
            {legend(&items, &slots)}
            {x_title(&frame, "dimension d (log scale)")}
            {y_title(&frame, "change of the score")}
        </svg>
    }
}

#[derive(Properties, PartialEq)]
struct DeepFoolProps {
    /// `(side, d, quartiles of ‖r‖∞)` from the report.
    lines: Rc<Vec<(usize, usize, Quartiles)>>,
    eps: f64,
}

/// The median smallest ℓ∞ DeepFool perturbation against `d`, with quartile bars and `ε`.
#[function_component(DeepFoolPlot)]
fn deepfool_plot(props: &DeepFoolProps) -> Html {
    let data_max = props.lines.iter().map(|l| l.2.q3).fold(0.0, f64::max) * 1.3;
    let step = nice_step(data_max.max(1e-6), 5.0);
    let y_max = (data_max / step).ceil().max(1.0) * step;
    let eps_label = if props.eps <= y_max {
        format!("ε = {}, the slider", figure(props.eps))
    } else {
        format!("ε = {}, the slider (above the plot ↑)", figure(props.eps))
    };
    let items = [
        LegendItem::new(
            "l-median",
            "median ‖r‖∞ over held-out digits (bar: quartiles)",
            Swatch::Dot,
        ),
        LegendItem::new("eps-line", eps_label, Swatch::Line),
    ];
    let (frame, slots) = frame_with_legend(860.0, 280.0, (left_margin(5), 20.0, BOTTOM), &items);
    let xa = frame.x_axis(30.0, 1300.0, Scale::Log);
    let ya = frame.y_axis(0.0, y_max, Scale::Linear);
    let area = frame.area();
    let bars: Vec<(f64, &Quartiles)> = props
        .lines
        .iter()
        .map(|(_, d, q)| (xa.at(*d as f64), q))
        .collect();
    // Each median's value beside its dot, clear of every whisker.
    let marks: Vec<Rect> = bars
        .iter()
        .flat_map(|(cx, q)| {
            [
                Rect {
                    x0: cx - 8.0,
                    y0: ya.at(q.q3) - 1.0,
                    x1: cx + 8.0,
                    y1: ya.at(q.q1) + 1.0,
                },
                Rect::around(*cx, ya.at(q.median), 6.0),
            ]
        })
        .collect();
    let texts: Vec<String> = bars.iter().map(|(_, q)| figure(q.median)).collect();
    let anchors: Vec<(f64, f64, &str)> = bars
        .iter()
        .zip(&texts)
        .map(|((cx, q), t)| (*cx, ya.at(q.median), t.as_str()))
        .collect();
    let labels = place_labels(&anchors, &marks, area);
    let ticks: Vec<f64> = props.lines.iter().map(|(_, d, _)| *d as f64).collect();
    let sides: Vec<(f64, usize)> = props
        .lines
        .iter()
        .map(|(side, d, _)| (*d as f64, *side))
        .collect();
    let tick_label = move |d: f64| {
        let side = sides.iter().find(|(v, _)| *v == d).map_or(0, |(_, s)| *s);
        format!("d = {d} ({side}×{side})")
    };
    html! {
        <svg class="error-plot linearity-plot" viewBox={format!("0 0 {} {}", frame.w, frame.h)} role="img" data-testid="deepfool-plot"
            aria-label="median smallest l-infinity DeepFool perturbation against the dimension d">
            {y_ticks(&frame, &ya, &linear_ticks(0.0, y_max, step), figure)}
            {x_ticks(&frame, &xa, &ticks, tick_label, false)}
            {x_axis_line(&frame)}
            <g class="eps-line" data-testid="deepfool-eps-line" data-eps={props.eps.to_string()}>
                if props.eps <= y_max {
                    <line x1={area.x0.to_string()} x2={area.x1.to_string()} y1={ya.at(props.eps).to_string()} y2={ya.at(props.eps).to_string()} />
                }
            </g>
            { for props.lines.iter().zip(&bars).zip(labels.iter().zip(&texts)).map(|(((side, _, q), (cx, _)), (l, text))| {
                let cx = *cx;
                html! { <g class="bar" data-testid="deepfool-point" data-side={side.to_string()} data-median={q.median.to_string()}>
                    <line class="whisker" x1={cx.to_string()} x2={cx.to_string()} y1={ya.at(q.q1).to_string()} y2={ya.at(q.q3).to_string()} />
                    <line class="whisker" x1={(cx - 7.0).to_string()} x2={(cx + 7.0).to_string()} y1={ya.at(q.q1).to_string()} y2={ya.at(q.q1).to_string()} />
                    <line class="whisker" x1={(cx - 7.0).to_string()} x2={(cx + 7.0).to_string()} y1={ya.at(q.q3).to_string()} y2={ya.at(q.q3).to_string()} />
                    <circle cx={cx.to_string()} cy={ya.at(q.median).to_string()} r="6" />
                    <text x={format!("{:.1}", l.x)} y={format!("{:.1}", l.y)} text-anchor={anchor(l.anchor)}>{text.clone()}</text>
                </g> }
            }) }
            {legend(&items, &slots)}
            {x_title(&frame, "dimension d (log scale)")}
            {y_title(&frame, "smallest ‖r‖∞")}
        </svg>
    }
}

#[derive(Properties, PartialEq)]
struct CanvasProps {
    values: Rc<Vec<f64>>,
    side: usize,
    /// A perturbation: diverging colours scaled to `±max|v|`; otherwise grey in `[0, 1]`.
    #[prop_or_default]
    signed: bool,
    label: AttrValue,
    testid: AttrValue,
}

/// An image of `side × side` pixels, scaled by CSS without smoothing.
#[function_component(PixelCanvas)]
fn pixel_canvas(props: &CanvasProps) -> Html {
    let canvas = use_node_ref();
    {
        let canvas = canvas.clone();
        use_effect_with(
            (props.values.clone(), props.side, props.signed),
            move |(values, side, signed)| {
                if let Some(c) = canvas.cast::<web_sys::HtmlCanvasElement>() {
                    if *signed {
                        paint_signed(&c, values, *side, norm_inf(values));
                    } else {
                        let grey: Vec<f32> = values.iter().map(|&v| v as f32).collect();
                        paint_grey(&c, &grey, *side);
                    }
                }
            },
        );
    }
    html! {
        <canvas ref={canvas} class={classes!("digit-canvas", "big", props.signed.then_some("signed-canvas"))}
            role="img" aria-label={props.label.clone()} data-testid={props.testid.clone()}
            width={props.side.to_string()} height={props.side.to_string()} />
    }
}

/// One digit at one resolution, and what ℓ∞ DeepFool does to it.
#[derive(Clone, PartialEq)]
struct DigitView {
    side: usize,
    original: Rc<Vec<f64>>,
    small: Rc<Vec<f64>>,
    perturbation: Rc<Vec<f64>>,
    adversarial: Rc<Vec<f64>>,
    truth: usize,
    adversarial_label: usize,
    linf: f64,
    flip: Flip,
    converged: bool,
    millis: f64,
}

fn digit_view(model: &ResolutionModel, digits: &Digits, i: usize) -> crate::Result<DigitView> {
    if i >= digits.len() {
        return Err(crate::Error::Input(format!(
            "the held-out file has {} digits, there is no digit {i}",
            digits.len()
        )));
    }
    let start = crate::web::now_ms();
    let small = digit_at(digits, i, model.side)?;
    let flip = min_linf_flip(&model.model, &small)?;
    let run = deepfool_linf().run(&model.model, &small)?;
    let adversarial: Vec<f64> = small
        .iter()
        .zip(&run.perturbation)
        .map(|(a, b)| a + b)
        .collect();
    let adversarial_label = model.model.label(&adversarial)?;
    let millis = crate::web::now_ms() - start;
    Ok(DigitView {
        side: model.side,
        original: Rc::new(digits.image(i).iter().map(|&v| v as f64).collect()),
        linf: norm_inf(&run.perturbation),
        perturbation: Rc::new(run.perturbation),
        adversarial: Rc::new(adversarial),
        small: Rc::new(small),
        truth: digits.label(i),
        adversarial_label,
        flip,
        converged: run.converged,
        millis,
    })
}

/// Per resolution, the exact smallest ℓ∞ perturbation of every held-out digit the model labels
/// correctly (sorted), and how long computing all of them took on this page.
#[derive(Clone, PartialEq)]
struct Distances {
    per_side: Vec<(usize, Vec<f64>)>,
    millis: f64,
    digits: usize,
}

impl Distances {
    fn compute(models: &[ResolutionModel], digits: &Digits) -> crate::Result<Self> {
        let start = crate::web::now_ms();
        let mut per_side = Vec::new();
        for m in models {
            let mut v = Vec::new();
            for i in 0..digits.len() {
                let x = digit_at(digits, i, m.side)?;
                let flip = min_linf_flip(&m.model, &x)?;
                if flip.label == digits.label(i) {
                    v.push(flip.distance);
                }
            }
            v.sort_by(f64::total_cmp);
            per_side.push((m.side, v));
        }
        Ok(Self {
            per_side,
            millis: crate::web::now_ms() - start,
            digits: digits.len(),
        })
    }

    /// Share of the correctly labelled digits whose label some `‖Δx‖∞ ≤ ε` changes.
    fn share(&self, side: usize, eps: f64) -> Option<f64> {
        let (_, v) = self.per_side.iter().find(|(s, _)| *s == side)?;
        (!v.is_empty()).then(|| v.partition_point(|&d| d < eps) as f64 / v.len() as f64)
    }
}

#[function_component(LinearityDemo)]
pub fn linearity_demo() -> Html {
    let (parsed, set_state, embed) = use_query_state::<LinearityState>(Route::Linearity);
    let state = parsed.state.clone();
    let mut notices = parsed.notices.clone();

    let models = use_file(WEIGHTS_URL, parse_models);
    let report = use_file(REPORT_URL, parse_report);
    let digits = use_held_out();
    let loaded_models = models.as_ref().and_then(|m| m.as_ref().ok().cloned());
    let loaded_report = report.as_ref().and_then(|r| r.as_ref().ok().cloned());
    let loaded_digits = digits.as_ref().and_then(|d| d.as_ref().ok().cloned());
    if let Some(Err(e)) = &models {
        notices.push(format!(
            "The retrained models could not be loaded ({e}): the trained-model figures and the digit view need them."
        ));
    }
    if let Some(Err(e)) = &report {
        notices.push(format!(
            "The linearity report could not be loaded ({e}): the DeepFool plot needs it."
        ));
    }
    if let Some(Err(e)) = &digits {
        notices.push(format!(
            "The held-out digits could not be loaded ({e}): the digit view and the flip shares need them."
        ));
    }

    // The random-weight curve, sampled once, and the slider's point.
    let grid = use_memo((), |_| {
        log_grid(*LINEARITY_DIMS.start(), *LINEARITY_DIMS.end(), GRID)
            .into_iter()
            .map(|d| RandomWeights::sample(d, SIGMA, SEED))
            .collect::<Vec<_>>()
    });
    let point = *use_memo(state.d, |&d| RandomWeights::sample(d, SIGMA, SEED));

    // Every held-out digit's exact smallest ℓ∞ flip, once both files are in.
    let distances = {
        let (m, d) = (loaded_models.clone(), loaded_digits.clone());
        use_memo((m.is_some(), d.is_some()), move |_| match (m, d) {
            (Some(m), Some(d)) => Some(Distances::compute(&m, &d).map_err(|e| e.to_string())),
            _ => None,
        })
    };
    if let Some(Err(e)) = distances.as_ref() {
        notices.push(format!("The flip distances could not be computed: {e}"));
    }
    let distances = distances
        .as_ref()
        .as_ref()
        .and_then(|d| d.as_ref().ok())
        .cloned();

    let view = {
        let (m, d) = (loaded_models.clone(), loaded_digits.clone());
        use_memo(
            (state.side, state.digit, m.is_some(), d.is_some()),
            move |(side, digit, _, _)| {
                let (m, d) = (m?, d?);
                let model = m.iter().find(|r| r.side == *side)?;
                Some(digit_view(model, &d, *digit).map_err(|e| e.to_string()))
            },
        )
    };

    let shipped: Rc<Vec<(usize, usize, f64)>> = Rc::new(
        loaded_models
            .iter()
            .flat_map(|m| m.iter())
            .map(|m| {
                let l1 = m
                    .model
                    .weights
                    .iter()
                    .map(|w| crate::classification::attack::norm1(w))
                    .sum::<f64>()
                    / m.model.classes() as f64;
                (m.side, m.side * m.side, l1)
            })
            .collect(),
    );

    let edit = |f: fn(&mut LinearityState, f64)| {
        let (set_state, state) = (set_state.clone(), state.clone());
        move |v: f64| {
            let mut s = state.clone();
            f(&mut s, v);
            set_state.emit(s);
        }
    };
    let on_range = |f: fn(&mut LinearityState, f64)| {
        let apply = edit(f);
        Callback::from(move |e: InputEvent| {
            let input: web_sys::HtmlInputElement = e.target_unchecked_into();
            if let Ok(v) = input.value().parse::<f64>() {
                apply(v);
            }
        })
    };
    let on_eps = on_range(|s, v| {
        s.eps = ((v * 1000.0).round() / 1000.0).clamp(*LINEARITY_EPS.start(), *LINEARITY_EPS.end())
    });
    let on_d = on_range(|s, v| s.d = d_from_slider(v));
    let pick_side = |side: usize| {
        let apply = edit(|s, v| s.side = v as usize);
        Callback::from(move |_: MouseEvent| apply(side as f64))
    };
    let digit_count = loaded_digits
        .as_ref()
        .map_or(crate::classification::mnist::HELD_OUT_COUNT, |d| d.len());
    let go_digit = |delta: isize| {
        let apply = edit(|s, v| s.digit = v as usize);
        let current = state.digit as isize;
        let count = digit_count.max(1) as isize;
        Callback::from(move |_: MouseEvent| apply((current + delta).rem_euclid(count) as f64))
    };
    let on_digit = {
        let apply = edit(|s, v| s.digit = v as usize);
        Callback::from(move |e: Event| {
            let input: web_sys::HtmlInputElement = e.target_unchecked_into();
            match input.value().trim().parse::<usize>() {
                Ok(i) if i < digit_count => apply(i as f64),
                _ => {}
            }
        })
    };

    let eps = state.eps;
    let d = state.d;
    let lesson = format!(
        "‖Δx‖∞ = ε = {} in every case. For a random w ∼ N(0, I_d) with d = {}, the score wᵀx + b moves by up to ε‖w‖₁ = {}; its expectation ε·d·√(2/π) is {} here, {} at d = 10 and {} at d = 100,000. Random signs of the same size move it by only about ε‖w‖₂ = {}.",
        figure(eps),
        thousands(d as i64),
        figure(point.worst_change(eps)),
        figure(expected_worst_change(eps, d, SIGMA)),
        figure(expected_worst_change(eps, 10, SIGMA)),
        figure(expected_worst_change(eps, 100_000, SIGMA)),
        figure(point.random_sign_change(eps)),
    );
    let shipped_sentence = (!shipped.is_empty()).then(|| {
        let moves: Vec<String> = shipped
            .iter()
            .map(|(s, _, l1)| format!("{} ({s}×{s})", figure(eps * l1)))
            .collect();
        let shares: Vec<String> = SIDES
            .iter()
            .filter_map(|&s| {
                distances
                    .as_ref()
                    .and_then(|x| x.share(s, eps))
                    .map(|v| format!("{} ({s}×{s})", percent(v)))
            })
            .collect();
        let shares = if shares.is_empty() {
            String::new()
        } else {
            format!(
                ", and ε = {} changes the label of {} of the held-out digits each model labels correctly",
                figure(eps),
                shares.join(", ")
            )
        };
        format!(
            "The trained softmax regressions at the same ε: a class score moves by up to ε‖w_k‖₁ = {} on average over the classes{shares}.",
            moves.join(", ")
        )
    });

    let explain = html! {
        <div class="explain">
            {crate::web::math::formula(crate::formula::LINEARITY)}
            <p>
                {"A linear score wᵀx + b changes by wᵀΔx when the input changes by Δx. If no pixel may change by more than ε, the worst choice is Δx = ε·sign(w): every pixel pushes the score the same way, and the d small pushes add up to ε‖w‖₁ = ε·d·mean|w|. "}
                {"The size of the change stays ε however many pixels there are, but its effect grows with the number of pixels d. "}
                {"Random signs of the same size mostly cancel and move the score by only about ε‖w‖₂, which grows like √d. "}
                {"So in high dimension a change too small to see in any single pixel can move a linear model a long way (Goodfellow, Shlens & Szegedy, ICLR 2015)."}
            </p>
        </div>
    };

    let controls = html! {
        <div class="panel linearity-controls">
            <label class="slider">
                <span>{"largest change of a pixel: ε"}</span>
                <span class="track">
                    <input type="range" min={LINEARITY_EPS.start().to_string()} max={LINEARITY_EPS.end().to_string()} step="0.001"
                        value={eps.to_string()} oninput={on_eps} data-testid="eps-slider" aria-label="ε, the largest change of a pixel"
                        aria-valuetext={format!("ε, {}", figure(eps))} />
                </span>
                <span class="value" data-testid="eps-value">{figure(eps)}</span>
            </label>
            <label class="slider">
                <span>{"dimension of the random w: d"}</span>
                <span class="track">
                    <input type="range" min={(*LINEARITY_DIMS.start() as f64).log10().to_string()} max={(*LINEARITY_DIMS.end() as f64).log10().to_string()}
                        step="0.001" value={format!("{:.3}", (d as f64).log10())} oninput={on_d} data-testid="d-slider"
                        aria-label="d, the dimension (log scale)" aria-valuetext={format!("d, {}", thousands(d as i64))} />
                </span>
                <span class="value" data-testid="d-value">{thousands(d as i64)}</span>
            </label>
        </div>
    };

    let deepfool_panel = match (&report, &loaded_report) {
        (None, _) => html! { <p class="muted">{"Loading the report…"}</p> },
        (_, None) => html! {},
        (_, Some(r)) => {
            let lines: Rc<Vec<(usize, usize, Quartiles)>> = Rc::new(
                r.resolutions
                    .iter()
                    .map(|l| (l.side, l.d, l.deepfool_linf))
                    .collect(),
            );
            html! {
                <>
                    <DeepFoolPlot lines={lines} eps={eps} />
                    <p class="small" data-testid="linearity-finding">{finding(r)}</p>
                </>
            }
        }
    };

    let table = loaded_report.as_ref().map(|r| {
        html! {
            <div class="panel linearity-table-wrap">
            <table class="robustness linearity-table" data-testid="shipped-table">
                <thead><tr>
                    <th>{"resolution"}</th><th>{"d"}</th><th>{"held-out accuracy"}</th><th>{"mean ‖w_k‖₁"}</th>
                    <th>{"mean |w|"}</th><th>{format!("ε·mean‖w_k‖₁ (ε = {})", figure(eps))}</th>
                    <th>{"smallest ‖r‖∞: median (quartiles)"}</th><th>{format!("flipped at ε = {}", figure(eps))}</th>
                </tr></thead>
                <tbody>
                    { for r.resolutions.iter().map(|l| {
                        let share = distances.as_ref().and_then(|x| x.share(l.side, eps));
                        html! {
                            <tr data-testid="shipped-row" data-side={l.side.to_string()}
                                class={classes!((l.side == state.side).then_some("current"))}>
                                <th>{format!("{0}×{0}", l.side)}</th>
                                <td>{l.d}</td>
                                <td>{percent(l.held_out_accuracy)}</td>
                                <td>{figure(l.weights.l1_mean)}</td>
                                <td>{figure(l.weights.mean_abs)}</td>
                                <td>{figure(eps * l.weights.l1_mean)}</td>
                                <td>{format!("{} ({}–{})", figure(l.deepfool_linf.median), figure(l.deepfool_linf.q1), figure(l.deepfool_linf.q3))}</td>
                                <td data-testid="flip-share">{share.map(percent).unwrap_or_else(|| "…".into())}</td>
                            </tr>
                        }
                    }) }
                </tbody>
            </table>
            <p class="small muted">{"Held-out accuracy, weights and ‖r‖∞ (ℓ∞ DeepFool on every held-out digit the model labels correctly) from the report of lab linearity; the last column is computed on this page from the weights and the digits."}</p>
            </div>
        }
    });

    let digit_panel = match view.as_ref() {
        None if loaded_models.is_none() || loaded_digits.is_none() => {
            if models.is_none() || digits.is_none() {
                html! { <p class="muted">{"Loading the models and the digits…"}</p> }
            } else {
                html! {}
            }
        }
        None => html! {},
        Some(Err(e)) => {
            html! { <Notice kind="warning">{format!("This digit cannot be shown: {e}")}</Notice> }
        }
        Some(Ok(v)) => {
            let s = v.side;
            let f = &v.flip;
            let verdict = if eps > f.distance {
                format!(
                    "At ε = {}, the worst-case change ε·sign(w{} − w{}) of every pixel changes the label to {}.",
                    figure(eps),
                    subscript(f.target),
                    subscript(f.label),
                    f.target
                )
            } else {
                format!(
                    "At ε = {}, no change of at most ε per pixel changes the label: it needs ε > {}.",
                    figure(eps),
                    figure(f.distance)
                )
            };
            let truth_note = (f.label != v.truth).then(|| {
                format!(
                    " (the {s}×{s} model gets this digit wrong: it is a {})",
                    v.truth
                )
            });
            html! {
                <>
                    <div class="linearity-digits">
                        <figure>
                            <PixelCanvas values={v.original.clone()} side={SIDE} label="the held-out digit, 28×28" testid="digit-original" />
                            <figcaption class="caption">{format!("digit #{}, 28×28 (label {})", state.digit, v.truth)}</figcaption>
                        </figure>
                        <figure>
                            <PixelCanvas values={v.small.clone()} side={s} label={format!("the digit averaged to {s}×{s}")} testid="digit-downsampled" />
                            <figcaption class="caption">{format!("x at {s}×{s}: k̂ = {}", f.label)}</figcaption>
                        </figure>
                        <figure>
                            <PixelCanvas values={v.perturbation.clone()} side={s} signed=true label="the l-infinity DeepFool perturbation r" testid="digit-perturbation" />
                            <figcaption class="caption">{format!("r: ±{} in every pixel (blue −, red +)", figure(v.linf))}</figcaption>
                        </figure>
                        <figure>
                            <PixelCanvas values={v.adversarial.clone()} side={s} label="x + r" testid="digit-adversarial" />
                            <figcaption class="caption">{format!("x + r: k̂ = {}", v.adversarial_label)}</figcaption>
                        </figure>
                    </div>
                    <p class="panel-label" data-testid="flip-label" data-from={f.label.to_string()} data-to={v.adversarial_label.to_string()}>
                        {format!("{} → {}", f.label, v.adversarial_label)}
                    </p>
                    <p data-testid="digit-readout">
                        {format!(
                            "ℓ∞ DeepFool: ‖r‖∞ = {} after {} ({} here){}. The exact smallest change is ε* = (f{} − f{}) / ‖w{} − w{}‖₁ = {} / {} = {}; DeepFool adds its 2% overshoot.",
                            figure(v.linf),
                            if v.converged { "one step" } else { "no success" },
                            if v.millis < 0.1 { "under 0.1 ms".to_string() } else { format!("{:.1} ms", v.millis) },
                            truth_note.unwrap_or_default(),
                            subscript(f.label), subscript(f.target), subscript(f.target), subscript(f.label),
                            figure(f.margin), figure(f.l1), figure(f.distance)
                        )}
                    </p>
                    <p data-testid="digit-eps-verdict"><strong>{verdict}</strong></p>
                </>
            }
        }
    };

    let timing = distances.as_ref().map(|x| {
        html! {
            <p class="small muted" data-testid="linearity-timing">{format!(
                "Computed on this page, in closed form: the smallest ℓ∞ change of all {} held-out digits at three resolutions in {:.0} ms (once); moving a slider recomputes only counts and a few numbers.",
                thousands(x.digits as i64), x.millis
            )}</p>
        }
    });

    let ready = loaded_models.is_some()
        && loaded_report.is_some()
        && loaded_digits.is_some()
        && distances.is_some();

    html! {
        <section class="demo linearity" data-testid="linearity" data-eps={eps.to_string()} data-d={d.to_string()}
            data-side={state.side.to_string()} data-digit={state.digit.to_string()} data-ready={ready.to_string()}>
            if !embed {
                <div class="demo-head">
                    <h1>{"Linearity: many tiny changes add up"}</h1>
                    {explain}
                </div>
            }
            { for notices.iter().map(|n| html! { <div data-testid="linearity-notice"><Notice kind="warning">{n.clone()}</Notice></div> }) }
            <ExportFigure name="linearity" title="Linearity: many tiny changes add up">
            {controls}
            <p class="linearity-lesson" data-testid="linearity-lesson">{lesson}</p>
            <div class="linearity-plots">
                <figure class="panel">
                    <h2>{"Random w: the worst change grows like d"}</h2>
                    <EffectPlot eps={eps} grid={grid.clone()} point={point} shipped={shipped.clone()} />
                    if let Some(s) = shipped_sentence {
                        <p class="small" data-testid="linearity-shipped">{s}</p>
                    }
                </figure>
                <figure class="panel">
                    <h2>{"Trained models: the smallest ℓ∞ change that flips a digit"}</h2>
                    {deepfool_panel}
                </figure>
            </div>
            </ExportFigure>
            {table.unwrap_or_default()}
            <div class="panel linearity-digit" data-testid="digit-panel">
                <h2>{"One digit, ℓ∞ DeepFool at the chosen resolution"}</h2>
                <div class="row linearity-pick">
                    <div class="tabs" role="radiogroup" aria-label="resolution">
                        { for SIDES.iter().map(|&s| html! {
                            <button type="button" role="radio" aria-checked={(s == state.side).to_string()}
                                class={classes!("tab", (s == state.side).then_some("active"))}
                                data-testid={format!("side-{s}")} onclick={pick_side(s)}>{format!("{s}×{s}")}</button>
                        }) }
                    </div>
                    <button type="button" class="secondary" data-testid="digit-prev" onclick={go_digit(-1)}>{"‹"}</button>
                    <label>{"held-out digit "}
                        <input type="number" min="0" max={(digit_count.max(1) - 1).to_string()} value={state.digit.to_string()}
                            onchange={on_digit} data-testid="digit-input" class="narrow" />
                    </label>
                    <button type="button" class="secondary" data-testid="digit-next" onclick={go_digit(1)}>{"›"}</button>
                </div>
                {digit_panel}
            </div>
            {timing}
            if !embed {
                <p class="muted small">
                    {"I. J. Goodfellow, J. Shlens, C. Szegedy, "}<em>{"Explaining and harnessing adversarial examples"}</em>
                    {", ICLR 2015. The models: the lab's softmax regression retrained on digits averaged to 7×7, 14×14 and 28×28 pixels ("}
                    <code>{"cargo run --release --bin lab -- linearity"}</code>{"); the 28×28 one is the shipped linear model."}
                </p>
            }
        </section>
    }
}

/// A class index as subscript digits (`w₇`), for formulas inside sentences.
fn subscript(k: usize) -> String {
    k.to_string()
        .chars()
        .map(|c| char::from_u32(0x2080 + c.to_digit(10).unwrap_or(0)).unwrap_or(c))
        .collect()
}
