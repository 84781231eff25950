//! The DeepFool geometry demo (Moosavi-Dezfooli, Fawzi, Frossard, CVPR 2016): two planes in which
//! the point `x₀` can be dragged while DeepFool re-runs on every move.
//!
//! - Binary linear classifier `f(x) = wᵀx + b`: one step `r = −f(x) w / ‖w‖²₂` lands on the
//!   boundary (Algorithm 1).
//! - Multiclass, a trained 2 → 16 → 16 → 4 tanh network: at each iterate `xᵢ` the step goes to
//!   the nearest linearised boundary, `l̂ = argmin_{k≠k̂} |f′ₖ| / ‖w′ₖ‖₂`,
//!   `rᵢ = |f′_l̂| / ‖w′_l̂‖²₂ · w′_l̂` (Algorithm 2), drawn as a dashed line and an arrow.
//!
//! The numbers come from [`crate::classification::geometry`]; the decision regions are painted once into a canvas
//! under the SVG, so dragging only redraws a few lines.

use crate::classification::attack::{norm2, Model};
use crate::classification::classifier::argmax;
use crate::classification::deepfool::{deepfool_binary, DeepFool, DeepFoolRun};
use crate::classification::geometry::{
    boundary_mask, decision_grid, default_classifier, linearise, step_boundaries, BinaryLinear,
    Linearisation, Segment, Trained, VIEW,
};
use crate::web::export::ExportFigure;
use crate::web::widgets::{paint_pixels, Notice};
use std::cell::RefCell;
use std::rc::Rc;
use yew::prelude::*;

/// Side of the SVG's view box, in pixels of the 480 × 480 drawing.
const SIDE: f64 = 480.0;
/// Cells per side of the decision-region grid (2 px each).
const GRID: usize = 240;
/// DeepFool's overshoot `η` and iteration budget (the paper's defaults).
const OVERSHOOT: f64 = 0.02;
const MAX_ITERATIONS: usize = 50;

/// The binary classifier of the left panel.
const BINARY: BinaryLinear = BinaryLinear {
    w: [0.9, -1.4],
    b: 0.3,
};

/// Region colours (light) and ink colours (strong), one per class.
const REGION: [[u8; 3]; 4] = [
    [214, 228, 246],
    [252, 229, 196],
    [212, 239, 233],
    [246, 215, 219],
];
const INK: [&str; 4] = ["#1d3557", "#c77d12", "#1f7a6f", "#c1121f"];
/// Names of the binary classes: class 1 is `f > 0`.
const SIGN: [&str; 2] = ["−", "+"];

/// Data coordinates to SVG pixels (y up in the data, down on the screen).
fn px(p: &[f64]) -> (f64, f64) {
    let (x0, x1, y0, y1) = VIEW;
    (
        (p[0] - x0) / (x1 - x0) * SIDE,
        (y1 - p[1]) / (y1 - y0) * SIDE,
    )
}

/// Keeps a point inside the view.
fn clamp_to_view(p: [f64; 2]) -> [f64; 2] {
    let (x0, x1, y0, y1) = VIEW;
    [p[0].clamp(x0, x1), p[1].clamp(y0, y1)]
}

/// A label grid shared without copying; equal only to itself, so comparing props is free.
#[derive(Clone)]
struct Regions(Rc<Vec<usize>>);

impl PartialEq for Regions {
    fn eq(&self, other: &Self) -> bool {
        Rc::ptr_eq(&self.0, &other.0)
    }
}

/// Paints an `n × n` label grid into `canvas`, darkening the cells on a boundary.
fn paint_regions(canvas: &web_sys::HtmlCanvasElement, labels: &[usize], n: usize) {
    let edge = boundary_mask(labels, n);
    paint_pixels(canvas, n, |i| {
        let c = REGION[labels[i] % REGION.len()];
        let shade = |v: u8| if edge[i] { v / 2 } else { v };
        [shade(c[0]), shade(c[1]), shade(c[2]), 255]
    });
}

#[derive(Properties, PartialEq)]
struct PlaneProps {
    /// Distinguishes the two planes (ids of the arrowhead markers, labels).
    name: AttrValue,
    regions: Regions,
    /// The draggable start point `x₀`.
    point: [f64; 2],
    /// `k̂(x₀)`, which colours the point.
    start_class: usize,
    /// `k̂` at the last iterate.
    end_class: usize,
    on_move: Callback<[f64; 2]>,
    /// DeepFool's iterates `x₀, x₁, …`.
    iterates: Rc<Vec<Vec<f64>>>,
    /// Each step's linearised boundary (dashed).
    steps: Vec<Segment>,
    /// Exact boundaries to draw (solid).
    #[prop_or_default]
    boundaries: Vec<Segment>,
    /// Further lines, drawn faintly (dotted).
    #[prop_or_default]
    faint: Vec<Segment>,
}

fn segment_line(s: &Segment, class: &'static str) -> Html {
    let ((x1, y1), (x2, y2)) = (px(&s.a), px(&s.b));
    html! {
        <line class={class} x1={format!("{x1:.2}")} y1={format!("{y1:.2}")}
            x2={format!("{x2:.2}")} y2={format!("{y2:.2}")} />
    }
}

/// One plane: the regions (canvas), the lines and arrows (SVG), and the draggable point.
#[function_component(Plane)]
fn plane(props: &PlaneProps) -> Html {
    let canvas = use_node_ref();
    let svg = use_node_ref();
    let dragging = use_mut_ref(|| None::<i32>);
    {
        let canvas = canvas.clone();
        use_effect_with(props.regions.clone(), move |regions| {
            if let Some(c) = canvas.cast::<web_sys::HtmlCanvasElement>() {
                paint_regions(&c, &regions.0, GRID);
            }
        });
    }

    // Pointer position in data coordinates, from the SVG's box on the screen.
    let to_data = {
        let svg = svg.clone();
        move |e: &PointerEvent| -> Option<[f64; 2]> {
            let el = svg.cast::<web_sys::Element>()?;
            let r = el.get_bounding_client_rect();
            if r.width() <= 0.0 || r.height() <= 0.0 {
                return None;
            }
            let (x0, x1, y0, y1) = VIEW;
            let u = (e.client_x() as f64 - r.left()) / r.width();
            let v = (e.client_y() as f64 - r.top()) / r.height();
            Some(clamp_to_view([x0 + u * (x1 - x0), y1 - v * (y1 - y0)]))
        }
    };
    let onpointerdown = {
        let (svg, dragging, to_data, on_move) = (
            svg.clone(),
            dragging.clone(),
            to_data.clone(),
            props.on_move.clone(),
        );
        Callback::from(move |e: PointerEvent| {
            if e.pointer_type() == "mouse" && e.button() != 0 {
                return;
            }
            e.prevent_default();
            if let Some(el) = svg.cast::<web_sys::Element>() {
                let _ = el.set_pointer_capture(e.pointer_id());
            }
            *dragging.borrow_mut() = Some(e.pointer_id());
            if let Some(p) = to_data(&e) {
                on_move.emit(p);
            }
        })
    };
    let onpointermove = {
        let (dragging, on_move) = (dragging.clone(), props.on_move.clone());
        Callback::from(move |e: PointerEvent| {
            if *dragging.borrow() != Some(e.pointer_id()) {
                return;
            }
            e.prevent_default();
            if let Some(p) = to_data(&e) {
                on_move.emit(p);
            }
        })
    };
    let onpointerup = {
        let dragging = dragging.clone();
        Callback::from(move |_: PointerEvent| *dragging.borrow_mut() = None)
    };
    let onkeydown = {
        let (on_move, point) = (props.on_move.clone(), props.point);
        Callback::from(move |e: KeyboardEvent| {
            let step = if e.shift_key() { 0.1 } else { 0.02 };
            let delta = match e.key().as_str() {
                "ArrowLeft" => [-step, 0.0],
                "ArrowRight" => [step, 0.0],
                "ArrowUp" => [0.0, step],
                "ArrowDown" => [0.0, -step],
                _ => return,
            };
            e.prevent_default();
            on_move.emit(clamp_to_view([point[0] + delta[0], point[1] + delta[1]]));
        })
    };

    let marker = format!("geometry-arrowhead-{}", props.name);
    let (cx, cy) = px(&props.point);
    // The label "x₀" beside the point, inside the drawing near its edges.
    let label_x = if cx > SIDE - 40.0 {
        cx - 34.0
    } else {
        cx + 12.0
    };
    let label_y = if cy < 30.0 { cy + 26.0 } else { cy - 10.0 };
    let arrows = props.iterates.windows(2).enumerate().map(|(i, pair)| {
        let ((x1, y1), (x2, y2)) = (px(&pair[0]), px(&pair[1]));
        html! {
            <line class="geometry-arrow" data-testid="arrow" data-step={i.to_string()}
                x1={format!("{x1:.2}")} y1={format!("{y1:.2}")}
                x2={format!("{x2:.2}")} y2={format!("{y2:.2}")}
                marker-end={format!("url(#{marker})")} />
        }
    });
    let last = props.iterates.last().filter(|_| props.iterates.len() > 1);
    let end = last.map(|p| {
        let (x, y) = px(p);
        html! {
            <circle class="geometry-end" data-testid="end" cx={format!("{x:.2}")} cy={format!("{y:.2}")} r="7"
                stroke={INK[props.end_class % INK.len()]} />
        }
    });
    let inner = props.iterates.iter().skip(1).rev().skip(1).map(|p| {
        let (x, y) = px(p);
        html! { <circle class="geometry-iterate" cx={format!("{x:.2}")} cy={format!("{y:.2}")} r="3.5" /> }
    });
    html! {
        <div class="geometry-stage">
            <canvas ref={canvas} class="geometry-regions" width={GRID.to_string()} height={GRID.to_string()}
                aria-hidden="true" />
            <svg ref={svg} class="geometry-plane" viewBox={format!("0 0 {SIDE} {SIDE}")}
                role="group" aria-label={format!("{}: drag the point x₀", props.name)}
                onpointerdown={onpointerdown} onpointermove={onpointermove}
                onpointerup={onpointerup.clone()} onpointercancel={onpointerup.clone()}
                onlostpointercapture={onpointerup} onkeydown={onkeydown}>
                <defs>
                    <marker id={marker.clone()} viewBox="0 0 10 10" refX="9" refY="5"
                        markerWidth="7" markerHeight="7" orient="auto-start-reverse">
                        <path d="M 0 0 L 10 5 L 0 10 z" class="geometry-arrowhead" />
                    </marker>
                </defs>
                { for props.boundaries.iter().map(|s| segment_line(s, "geometry-boundary")) }
                { for props.faint.iter().map(|s| segment_line(s, "geometry-faint")) }
                { for props.steps.iter().map(|s| segment_line(s, "geometry-linearised")) }
                { for arrows }
                { for inner }
                { for end }
                <circle class="geometry-point" data-testid="point" tabindex="0" role="slider"
                    aria-label="the point x₀: drag it, or move it with the arrow keys"
                    aria-valuemin={format!("{:.2}", VIEW.0)} aria-valuemax={format!("{:.2}", VIEW.1)}
                    aria-valuenow={format!("{:.2}", props.point[0])}
                    aria-valuetext={format!("x₀ = ({:.2}, {:.2})", props.point[0], props.point[1])}
                    cx={format!("{cx:.2}")} cy={format!("{cy:.2}")} r="9"
                    fill={INK[props.start_class % INK.len()]} />
                <text class="geometry-point-label" x={format!("{label_x:.2}")} y={format!("{label_y:.2}")}>{"x₀"}</text>
            </svg>
        </div>
    }
}

/// The left panel: DeepFool on `f(x) = wᵀx + b` (Algorithm 1).
#[function_component(BinaryPanel)]
fn binary_panel() -> Html {
    let point = use_state(|| [-0.55, -0.45]);
    let regions = use_memo((), |_| {
        Regions(Rc::new(
            decision_grid(&BINARY, VIEW, GRID).unwrap_or_default(),
        ))
    });
    let on_move = {
        let point = point.clone();
        Callback::from(move |p: [f64; 2]| point.set(p))
    };
    let x0 = *point;
    let f0 = BINARY.value(&x0);
    let score = |x: &[f64]| BINARY.score(x);
    let run = deepfool_binary(&score, &x0, OVERSHOOT, MAX_ITERATIONS);
    let start_class = usize::from(f0 > 0.0);
    let wn = norm2(&BINARY.w);
    let (iterates, steps, end_class, readout) = match &run {
        Ok(run) => {
            // The linearisation at each iterate; for an affine f it is the boundary itself.
            let steps: Vec<Segment> = run
                .iterates
                .iter()
                .take(run.iterations)
                .filter_map(|x| {
                    linearise(&BINARY, x, start_class, VIEW)
                        .ok()
                        .and_then(|l| l.first().and_then(|l| l.segment))
                })
                .collect();
            let end_class = run
                .iterates
                .last()
                .map_or(start_class, |x| usize::from(BINARY.value(x) > 0.0));
            let readout = html! {
                <dl class="geometry-readout">
                    <dt>{"f(x₀) = wᵀx₀ + b"}</dt><dd>{format!("{f0:+.4}")}</dd>
                    <dt>{"distance |f(x₀)| / ‖w‖₂"}</dt><dd>{format!("{:.4}", f0.abs() / wn)}</dd>
                    <dt>{"‖r̂‖₂ = (1 + η)·|f(x₀)| / ‖w‖₂"}</dt>
                    <dd data-testid="rnorm">{format!("{:.4}", norm2(&run.perturbation))}</dd>
                    <dt>{"iterations"}</dt><dd data-testid="iterations">{run.iterations}</dd>
                    <dt>{"label sign f"}</dt>
                    <dd data-testid="labels">{format!("{} → {}", SIGN[start_class], SIGN[end_class])}</dd>
                </dl>
            };
            (Rc::new(run.iterates.clone()), steps, end_class, readout)
        }
        Err(e) => (
            Rc::new(vec![x0.to_vec()]),
            vec![],
            start_class,
            html! { <Notice kind="warning">{e.to_string()}</Notice> },
        ),
    };
    html! {
        <div class="panel geometry-panel" data-testid="geometry-binary">
            <h2>{"Binary linear classifier"}</h2>
            <p class="explain">
                {"The label is the sign of f(x) = wᵀx + b. Linearising an affine f changes nothing, so a single step "}
                {"reaches the boundary: the orthogonal projection of x₀ onto the line wᵀx + b = 0."}
            </p>
            {crate::web::math::formula(crate::formula::BINARY_STEP)}
            <Plane name="binary" regions={(*regions).clone()} point={x0} start_class={start_class}
                end_class={end_class} on_move={on_move} iterates={iterates} steps={steps}
                boundaries={BINARY.boundary(VIEW).into_iter().collect::<Vec<_>>()} />
            <p class="caption">{format!("w = ({}, {}), b = {}; blue: f < 0, orange: f > 0", BINARY.w[0], BINARY.w[1], BINARY.b)}</p>
            {readout}
        </div>
    }
}

/// The trained network and its decision regions, computed once per page load.
struct Network {
    trained: Trained,
    regions: Regions,
}

thread_local! {
    static NETWORK: RefCell<Option<Rc<Result<Network, String>>>> = const { RefCell::new(None) };
}

/// Trains the network and computes its regions the first time; later calls return the same.
fn network() -> Rc<Result<Network, String>> {
    if let Some(n) = NETWORK.with(|n| n.borrow().clone()) {
        return n;
    }
    let built = default_classifier()
        .and_then(|trained| {
            let labels = decision_grid(&trained.model, VIEW, GRID)?;
            Ok(Network {
                trained,
                regions: Regions(Rc::new(labels)),
            })
        })
        .map_err(|e| e.to_string());
    let built = Rc::new(built);
    NETWORK.with(|n| *n.borrow_mut() = Some(built.clone()));
    built
}

/// The right panel: multiclass DeepFool on the trained network (Algorithm 2).
#[function_component(MultiPanel)]
fn multi_panel() -> Html {
    let net = use_state(|| NETWORK.with(|n| n.borrow().clone()));
    {
        // Train after the first paint, so the page shows up at once.
        let net = net.clone();
        use_effect_with((), move |_| {
            let pending = net.is_none().then(|| {
                gloo::timers::callback::Timeout::new(30, move || net.set(Some(network())))
            });
            move || drop(pending)
        });
    }
    let point = use_state(|| [0.45, -0.5]);
    let show_all = use_state(|| false);
    let on_move = {
        let point = point.clone();
        Callback::from(move |p: [f64; 2]| point.set(p))
    };
    let on_toggle = {
        let show_all = show_all.clone();
        Callback::from(move |_: Event| show_all.set(!*show_all))
    };
    let head = html! {
        <>
            <h2>{"Multiclass (trained network)"}</h2>
            <p class="explain">
                {"At the iterate xᵢ every class k ≠ k̂ has a linearised boundary f′ₖ + w′ₖᵀ(x − xᵢ) = 0 with "}
                {"f′ₖ = fₖ(xᵢ) − f_k̂(xᵢ) and w′ₖ = ∇fₖ(xᵢ) − ∇f_k̂(xᵢ). DeepFool steps to the nearest one (dashed), "}
                {"overshoots by η = 0.02, and repeats until the label changes."}
            </p>
            {crate::web::math::formula(crate::formula::DEEPFOOL_L2)}
        </>
    };
    let network = match &*net {
        None => {
            return html! {
                <div class="panel geometry-panel" data-testid="geometry-multi">
                    {head}
                    <div class="geometry-stage geometry-waiting">{"Training the network in your browser…"}</div>
                </div>
            }
        }
        Some(n) => n.clone(),
    };
    let network = match &*network {
        Ok(n) => n,
        Err(e) => {
            return html! {
                <div class="panel geometry-panel" data-testid="geometry-multi">
                    {head}
                    <Notice kind="error">{format!("The network could not be trained: {e}")}</Notice>
                </div>
            }
        }
    };
    let model = &network.trained.model;
    let x0 = *point;
    let f0 = model.logits_at(x0);
    let k0 = argmax(&f0);
    let run: Result<(DeepFoolRun, Vec<Linearisation>), String> = DeepFool::default()
        .run(model, &x0)
        .and_then(|run| {
            let lines = step_boundaries(model, &run, k0, VIEW)?;
            Ok((run, lines))
        })
        .map_err(|e| e.to_string());
    let candidates = linearise(model, &x0, k0, VIEW).unwrap_or_default();
    let nearest = candidates
        .iter()
        .min_by(|a, b| a.distance.total_cmp(&b.distance))
        .map(|l| l.target);
    let faint: Vec<Segment> = if *show_all {
        candidates.iter().filter_map(|l| l.segment).collect()
    } else {
        vec![]
    };
    let (iterates, steps, end_class, readout) = match &run {
        Ok((run, lines)) => {
            let end_class = run
                .iterates
                .last()
                .map_or(k0, |x| model.label(x).unwrap_or(k0));
            let readout = html! {
                <dl class="geometry-readout">
                    <dt>{"label k̂"}</dt>
                    <dd data-testid="labels">{format!("{k0} → {end_class}")}</dd>
                    <dt>{"‖r̂‖₂"}</dt>
                    <dd data-testid="rnorm">{format!("{:.4}", norm2(&run.perturbation))}</dd>
                    <dt>{"iterations"}</dt><dd data-testid="iterations">{run.iterations}</dd>
                    <dt>{"targets l̂ᵢ"}</dt>
                    <dd>{run.targets.iter().map(|t| t.to_string()).collect::<Vec<_>>().join(", ")}</dd>
                    if !run.converged {
                        <>
                            <dt>{"converged"}</dt><dd>{"no (iteration budget spent)"}</dd>
                        </>
                    }
                </dl>
            };
            (
                Rc::new(run.iterates.clone()),
                lines.iter().filter_map(|l| l.segment).collect::<Vec<_>>(),
                end_class,
                readout,
            )
        }
        Err(e) => (
            Rc::new(vec![x0.to_vec()]),
            vec![],
            k0,
            html! { <Notice kind="warning">{e.clone()}</Notice> },
        ),
    };
    html! {
        <div class="panel geometry-panel" data-testid="geometry-multi">
            {head}
            <Plane name="multi" regions={network.regions.clone()} point={x0} start_class={k0}
                end_class={end_class} on_move={on_move} iterates={iterates} steps={steps} faint={faint} />
            <p class="caption">{format!(
                "A 2 → 16 → 16 → 4 tanh network trained here (400 points, 150 Adam steps): training accuracy {:.1} %",
                network.trained.accuracy * 100.0
            )}</p>
            {readout}
            <h3>{"At x₀: distance to each linearised boundary"}</h3>
            <ul class="geometry-candidates" data-testid="candidates">
                { for candidates.iter().map(|l| html! {
                    <li class={classes!((Some(l.target) == nearest).then_some("nearest"))}>
                        <span class="swatch" ~style={format!("background: {}", INK[l.target % INK.len()])} />
                        {format!("class {}: |f′| / ‖w′‖₂ = {:.4}", l.target, l.distance)}
                        if Some(l.target) == nearest { <strong>{" ← l̂"}</strong> }
                    </li>
                }) }
            </ul>
            <label class="geometry-toggle">
                <input type="checkbox" checked={*show_all} onchange={on_toggle} />
                {" show all K − 1 linearised boundaries at x₀ (dotted)"}
            </label>
        </div>
    }
}

/// The DeepFool geometry playground: the binary and the multiclass planes side by side.
#[function_component(GeometryDemo)]
pub fn geometry_demo() -> Html {
    html! {
        <section class="demo geometry" data-testid="geometry">
            <div class="demo-head">
                <h1>{"DeepFool in the plane"}</h1>
                <p class="explain">
                    {"DeepFool looks for the smallest perturbation r that changes the label k̂(x) = argmaxₖ fₖ(x). "}
                    {"It replaces the classifier by its linearisation at the current point, steps to the nearest "}
                    {"linearised decision boundary, and repeats. Drag the point x₀ in either plane (mouse, pen or finger; "}
                    {"arrow keys after a click), and watch the iterates xᵢ → xᵢ₊₁ (arrows) and the linearised boundaries (dashed)."}
                </p>
            </div>
            <ExportFigure name="geometry" title="DeepFool's geometry">
                <div class="geometry-grid">
                    <BinaryPanel />
                    <MultiPanel />
                </div>
            </ExportFigure>
            <p class="muted geometry-reference">
                {"S.-M. Moosavi-Dezfooli, A. Fawzi, P. Frossard, "}
                <em>{"DeepFool: a simple and accurate method to fool deep neural networks"}</em>
                {", CVPR 2016 (Algorithms 1 and 2)."}
            </p>
        </section>
    }
}
