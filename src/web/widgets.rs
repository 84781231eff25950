//! Small display components shared by the demos.

use crate::classification::classifier::Prediction;
use crate::classification::mnist::SIDE;
use wasm_bindgen::{Clamped, JsCast};
use yew::prelude::*;

/// Paints `side × side` pixels, each given as RGBA by `colour(i)`, into `canvas` (resized to fit).
pub fn paint_pixels(
    canvas: &web_sys::HtmlCanvasElement,
    side: usize,
    colour: impl Fn(usize) -> [u8; 4],
) {
    paint_rect(canvas, side, side, colour);
}

/// Paints `width × height` pixels (row-major), each given as RGBA by `colour(i)`, into `canvas`
/// (resized to fit).
pub fn paint_rect(
    canvas: &web_sys::HtmlCanvasElement,
    width: usize,
    height: usize,
    colour: impl Fn(usize) -> [u8; 4],
) {
    canvas.set_width(width as u32);
    canvas.set_height(height as u32);
    let Ok(Some(ctx)) = canvas.get_context("2d") else {
        return;
    };
    let Ok(ctx) = ctx.dyn_into::<web_sys::CanvasRenderingContext2d>() else {
        return;
    };
    let mut rgba = vec![0u8; width * height * 4];
    for (i, px) in rgba.chunks_exact_mut(4).enumerate() {
        px.copy_from_slice(&colour(i));
    }
    if let Ok(image) = web_sys::ImageData::new_with_u8_clamped_array_and_sh(
        Clamped(&rgba),
        width as u32,
        height as u32,
    ) {
        let _ = ctx.put_image_data(&image, 0.0, 0.0);
    }
}

/// Paints grey values in [0, 1] (white ink on black, as in MNIST) into a canvas of `side × side`.
pub fn paint_grey(canvas: &web_sys::HtmlCanvasElement, values: &[f32], side: usize) {
    paint_pixels(canvas, side, |i| {
        crate::colour::grey(values.get(i).copied().unwrap_or(0.0))
    });
}

#[derive(Properties, PartialEq)]
pub struct DigitProps {
    /// 784 intensities in [0, 1].
    pub pixels: std::rc::Rc<Vec<f32>>,
    /// CSS class (sets the displayed size).
    #[prop_or_default]
    pub class: Classes,
    #[prop_or_default]
    pub label: AttrValue,
}

/// A 28×28 digit, drawn into a canvas and scaled by CSS without smoothing.
#[function_component(DigitCanvas)]
pub fn digit_canvas(props: &DigitProps) -> Html {
    let canvas = use_node_ref();
    {
        let canvas = canvas.clone();
        use_effect_with(props.pixels.clone(), move |pixels| {
            if let Some(c) = canvas.cast::<web_sys::HtmlCanvasElement>() {
                paint_grey(&c, pixels, SIDE);
            }
        });
    }
    html! {
        <canvas ref={canvas} class={classes!("digit-canvas", props.class.clone())}
            role="img" aria-label={props.label.clone()} width="28" height="28" />
    }
}

#[derive(Properties, PartialEq)]
pub struct BarsProps {
    pub prediction: Prediction,
    /// The true label, if known.
    #[prop_or_default]
    pub truth: Option<usize>,
}

/// The prediction as a headline ("7 — 0.993") and one bar per class.
#[function_component(PredictionBars)]
pub fn prediction_bars(props: &BarsProps) -> Html {
    let p = &props.prediction;
    let top = p.top(3);
    let verdict = props.truth.map(|t| {
        if t == p.label {
            html! { <span class="verdict ok">{"correct"}</span> }
        } else {
            html! { <span class="verdict wrong">{format!("wrong: the digit is a {t}")}</span> }
        }
    });
    html! {
        <div class="prediction">
            <div class="headline" data-testid="predicted">
                <span class="predicted-label" data-testid="predicted-label">{p.label}</span>
                <span class="sep">{" — "}</span>
                <span class="predicted-prob">{format!("{:.3}", p.probabilities[p.label])}</span>
                {verdict}
            </div>
            <div class="top3" data-testid="top3">
                { for top.iter().map(|(c, q)| html! { <span class="top-item">{format!("{c}: {q:.3}")}</span> }) }
            </div>
            <ol class="bars" aria-label="class probabilities">
                { for p.probabilities.iter().enumerate().map(|(c, &q)| {
                    let class = classes!("bar", (c == p.label).then_some("winner"), (Some(c) == props.truth).then_some("truth"));
                    html! {
                        <li class={class} data-class={c.to_string()}>
                            <span class="bar-label">{c}</span>
                            <span class="bar-track"><span class="bar-fill" ~style={format!("width: {:.1}%", q * 100.0)} /></span>
                            <span class="bar-value">{format!("{q:.3}")}</span>
                        </li>
                    }
                }) }
            </ol>
        </div>
    }
}

#[derive(Properties, PartialEq)]
pub struct ProgressProps {
    pub done: usize,
    pub total: usize,
}

/// A labelled progress bar.
#[function_component(Progress)]
pub fn progress(props: &ProgressProps) -> Html {
    html! {
        <div class="progress" data-testid="progress">
            <progress max={props.total.to_string()} value={props.done.to_string()} />
            <span>{format!("{} / {}", props.done, props.total)}</span>
        </div>
    }
}

#[derive(Properties, PartialEq)]
pub struct NoticeProps {
    pub children: Html,
    #[prop_or(AttrValue::Static("info"))]
    pub kind: AttrValue,
}

/// A short notice (information, warning or error).
#[function_component(Notice)]
pub fn notice(props: &NoticeProps) -> Html {
    let role = if props.kind == "error" {
        "alert"
    } else {
        "status"
    };
    html! { <div class={classes!("notice", props.kind.to_string())} role={role}>{props.children.clone()}</div> }
}

#[derive(Properties, PartialEq)]
pub struct EngineBadgeProps {
    pub computed: crate::protocol::Computed,
}

/// What computed an MRI page's result (the GPU's adapter, or the CPU) and the time of one unit
/// of its work, with the notice when the GPU was asked for and not used.
#[function_component(EngineBadge)]
pub fn engine_badge(props: &EngineBadgeProps) -> Html {
    let c = &props.computed;
    let on = if c.on_gpu() {
        format!("the GPU ({})", c.engine)
    } else {
        "the CPU".to_string()
    };
    html! {
        <>
            <span class="engine-badge" data-testid="engine-badge"
                data-engine={if c.on_gpu() { "gpu" } else { "cpu" }}
                title="What computed this: add ?engine=cpu or ?engine=gpu to the address (before #) to choose">
                {format!("Computed on {on} · {:.0} ms per {}", c.millis, c.per)}
            </span>
            if let Some(notice) = &c.notice {
                <Notice kind="warning">{notice.clone()}</Notice>
            }
        </>
    }
}

/// The engine the page's address asks for (`?engine=cpu|gpu`, before the `#`).
pub fn engine_choice() -> crate::protocol::EngineChoice {
    crate::protocol::EngineChoice::from_query(&crate::web::location_search())
}

#[derive(Properties, PartialEq)]
pub struct ModelPickerProps {
    pub model: crate::classification::classifier::Architecture,
    pub on_pick: Callback<crate::classification::classifier::Architecture>,
}

/// One button per shipped model, with its description.
#[function_component(ModelPicker)]
pub fn model_picker(props: &ModelPickerProps) -> Html {
    html! {
        <div class="model-picker" role="radiogroup" aria-label="model">
            { for crate::classification::classifier::Architecture::ALL.iter().map(|&a| {
                let on_pick = props.on_pick.clone();
                html! {
                    <button type="button" role="radio" aria-checked={(a == props.model).to_string()}
                        class={classes!("model-choice", (a == props.model).then_some("active"))}
                        data-model={a.name()} onclick={Callback::from(move |_: MouseEvent| on_pick.emit(a))}>
                        <strong>{a.name()}</strong><span>{a.description()}</span>
                    </button>
                }
            }) }
        </div>
    }
}

/// Paints a signed image (a perturbation) with a diverging colour map centred at 0: blue for
/// negative, white for 0, dark red for positive, saturating at `±scale` ([`crate::colour::diverging`]).
pub fn paint_signed(canvas: &web_sys::HtmlCanvasElement, values: &[f64], side: usize, scale: f64) {
    paint_pixels(canvas, side, |i| {
        let v = values.get(i).copied().unwrap_or(0.0);
        crate::colour::diverging(if scale > 0.0 { v / scale } else { 0.0 })
    });
}

#[derive(Properties, PartialEq)]
pub struct SignedProps {
    pub values: std::rc::Rc<Vec<f64>>,
    #[prop_or_default]
    pub label: AttrValue,
}

/// A perturbation `r` in a diverging colour map, auto-scaled to `±max|r|`, with its colour bar.
#[function_component(PerturbationCanvas)]
pub fn perturbation_canvas(props: &SignedProps) -> Html {
    let canvas = use_node_ref();
    let scale = props.values.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    {
        let canvas = canvas.clone();
        use_effect_with(props.values.clone(), move |values| {
            if let Some(c) = canvas.cast::<web_sys::HtmlCanvasElement>() {
                paint_signed(&c, values, SIDE, scale);
            }
        });
    }
    html! {
        <div class="signed">
            <canvas ref={canvas} class="digit-canvas big signed-canvas" role="img"
                aria-label={props.label.clone()} width="28" height="28" />
            <div class="colour-bar" role="group" aria-label="colour scale">
                <span>{format!("−{scale:.3}")}</span><span>{"0"}</span><span>{format!("+{scale:.3}")}</span>
            </div>
        </div>
    }
}

/// A worker job whose last result stays on screen while the next one runs.
#[derive(Clone, Debug, PartialEq)]
pub enum JobRun<T> {
    Idle,
    /// Running; `previous` is what stays on screen meanwhile.
    Running {
        done: usize,
        total: usize,
        previous: Option<std::rc::Rc<T>>,
    },
    Done(std::rc::Rc<T>),
    Failed(String),
}

impl<T> JobRun<T> {
    /// The result to show: the finished one, or the previous one while running.
    pub fn shown(&self) -> Option<&std::rc::Rc<T>> {
        match self {
            JobRun::Done(r) => Some(r),
            JobRun::Running { previous, .. } => previous.as_ref(),
            _ => None,
        }
    }
}

/// Where a pointer event falls on `canvas`, in the coordinates of a `side × side` grid drawn
/// over the canvas's whole box (`None` before layout or for an empty box).
pub fn pointer_at(canvas: &NodeRef, e: &PointerEvent, side: usize) -> Option<(f32, f32)> {
    let c = canvas.cast::<web_sys::HtmlCanvasElement>()?;
    let rect = c.get_bounding_client_rect();
    if rect.width() <= 0.0 || rect.height() <= 0.0 {
        return None;
    }
    let x = (e.client_x() as f64 - rect.left()) / rect.width() * side as f64;
    let y = (e.client_y() as f64 - rect.top()) / rect.height() * side as f64;
    Some((x as f32, y as f32))
}

/// One edit of a demo's state from a control's value (`f(&mut state, value)`).
pub type Edit<S> = std::rc::Rc<dyn Fn(&mut S, String)>;

/// Turns controls into edits of a page's URL state: each callback applies its [`Edit`] to a copy
/// of `state` and sets the result through `set_state` (which writes the URL).
pub struct StateEdits<S> {
    pub state: S,
    pub set_state: Callback<S>,
}

impl<S: Clone + 'static> StateEdits<S> {
    /// A function of the control's value that applies `f`.
    pub fn apply(&self, f: Edit<S>) -> impl Fn(String) + 'static {
        let (set_state, state) = (self.set_state.clone(), self.state.clone());
        move |value: String| {
            let mut s = state.clone();
            f(&mut s, value);
            set_state.emit(s);
        }
    }

    /// `onchange` of a `<select>`.
    pub fn on_select(&self, f: Edit<S>) -> Callback<Event> {
        let apply = self.apply(f);
        Callback::from(move |e: Event| {
            let select: web_sys::HtmlSelectElement = e.target_unchecked_into();
            apply(select.value());
        })
    }

    /// `oninput` of an `<input>` (ranges and numbers, as they move).
    pub fn on_input(&self, f: Edit<S>) -> Callback<InputEvent> {
        let apply = self.apply(f);
        Callback::from(move |e: InputEvent| {
            let input: web_sys::HtmlInputElement = e.target_unchecked_into();
            apply(input.value());
        })
    }

    /// `onchange` of an `<input>` (when the value is committed).
    pub fn on_change(&self, f: Edit<S>) -> Callback<Event> {
        let apply = self.apply(f);
        Callback::from(move |e: Event| {
            let input: web_sys::HtmlInputElement = e.target_unchecked_into();
            apply(input.value());
        })
    }
}

/// The value of the `<input>` or `<select>` an event came from (empty for anything else).
pub fn control_value(e: &Event) -> String {
    let Some(target) = e.target() else {
        return String::new();
    };
    if let Some(input) = target.dyn_ref::<web_sys::HtmlInputElement>() {
        input.value()
    } else if let Some(select) = target.dyn_ref::<web_sys::HtmlSelectElement>() {
        select.value()
    } else {
        String::new()
    }
}

/// How many workers of the pool a job runs on, for its progress row (beside `data-workers`).
pub fn workers_text(workers: usize) -> String {
    match workers {
        1 => "on 1 worker".to_string(),
        n => format!("on {n} workers side by side"),
    }
}

/// Cancels a pooled job from code (a new model or digit), as its Cancel button would.
pub fn cancel_now(cancel: &Callback<MouseEvent>) {
    if let Ok(click) = web_sys::MouseEvent::new("click") {
        cancel.emit(click);
    }
}
