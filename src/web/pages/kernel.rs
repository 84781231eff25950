//! Kernel awareness, two pages over one worker job ([`crate::web::worker::kernel`]):
//!
//! - `#/kernel`, the troublesome kernel (Gottschling, Antun, Adcock & Hansen): a detail `z`
//!   (typed, a lesion, or drawn) is projected onto the kernel of `A`, `z_N = z − A*Az`, and
//!   added to a held-out slice, `x′ = x + t·z_N`. The page shows `x`, `x′`, their (equal)
//!   measurements, every method's reconstructions of both, and the two error terms against the
//!   lower bound `t‖z_N‖`, live as `t` moves.
//! - `#/details`, structural details ("Can u see it?", Antun et al., PNAS 2020): the detail
//!   itself is added, `x′ = x + z`; each method's reconstruction of the detail's region is shown
//!   magnified, with the fraction of the detail it recovers against what the sampling sees.
//!
//! Both work at the side of the chosen network ([`DETAIL_NETS`]: 128² by default, 64² for the
//! older networks) on the slices it holds out; a detail's settings are in the 64² grid at
//! either side ([`crate::mri::details::DetailSpec`]), a drawn detail is drawn at the side.

use crate::mri::details::{grid_scale, rescale_drawing, DetailKind, Region, DETAIL_GRID, MAX_T};
use crate::mri::kernel::Detail;
use crate::mri::learned::hallucination::LARGE_SIDE;
use crate::mri::learned::kernel_training::shipped_detail;
use crate::mri::state::{
    detail_net_label, held_out_slice_names, DetailSettings, DetailsState, KernelState, DETAIL_NETS,
    MIN_T,
};
use crate::plot::{self, linear_ticks, nice_step, Scale, BOTTOM};
use crate::protocol::{Body, Job, KernelJob, KernelMethod, KernelResult, Picture};
use crate::web::app::{use_query_state, Route, WorkerEpoch};
use crate::web::compute::use_latest_job;
use crate::web::export::ExportFigure;
use crate::web::fetch::fetch_json;
use crate::web::pages::mri::{PictureCanvas, RegionCanvas};
use crate::web::plot::{
    frame_with_legend, legend, x_axis_line, x_ticks, x_title, LegendItem, Swatch,
};
use crate::web::widgets::{
    engine_choice, paint_pixels, pointer_at, EngineBadge, JobRun, Notice, Progress, StateEdits,
};
use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;
use yew::prelude::*;

/// How long after the last key typed text applies itself (ms).
const TEXT_DEBOUNCE_MS: u32 = 400;

/// What the picker reads of a network's card.
#[derive(serde::Deserialize)]
struct CardTitle {
    title: String,
    side: usize,
}

thread_local! {
    /// The picker's words for each network, once its card has been read (see [`use_net_labels`]).
    static LABELS: RefCell<HashMap<&'static str, String>> = RefCell::new(HashMap::new());
}

/// The picker's words for each network a user can pick (the URL state's [`DETAIL_NETS`], each
/// fixing the sampling `A` every method uses): from its card's title ([`detail_net_label`]),
/// read once per session; until then, or for a card that cannot be read, its name and side.
#[hook]
fn use_net_labels() -> Rc<HashMap<&'static str, String>> {
    let labels = use_state(|| Rc::new(LABELS.with(|l| l.borrow().clone())));
    {
        let labels = labels.clone();
        use_effect_with((), move |_| {
            if labels.len() < DETAIL_NETS.len() {
                wasm_bindgen_futures::spawn_local(async move {
                    for net in DETAIL_NETS {
                        if LABELS.with(|l| l.borrow().contains_key(net.name)) {
                            continue;
                        }
                        let url = format!("./static/models/{}.json", net.name);
                        if let Ok(card) = fetch_json::<CardTitle>(&url).await {
                            let label = detail_net_label(net.name, &card.title, card.side);
                            LABELS.with(|l| l.borrow_mut().insert(net.name, label));
                        }
                    }
                    labels.set(Rc::new(LABELS.with(|l| l.borrow().clone())));
                });
            }
        });
    }
    (*labels).clone()
}

/// The kernel-trained 128² network and its detail, as a link to the kernel page: the lesion
/// of its training ([`shipped_detail`] at 128²) in the units of the 64² grid of the page's
/// links, on the network's default held-out slice.
fn trained_detail_link() -> (&'static str, String) {
    let net = DETAIL_NETS
        .into_iter()
        .find(|n| n.side == LARGE_SIDE && n.name.ends_with("-kernel"))
        .unwrap_or(DETAIL_NETS[0]);
    let s = (LARGE_SIDE / DETAIL_GRID) as f64;
    let mut link = format!(
        "#/kernel?net={}&slice={}",
        net.name,
        net.default_slice().replace(' ', "+")
    );
    if let Detail::Lesion {
        row,
        col,
        radius,
        intensity,
        ..
    } = shipped_detail(LARGE_SIDE)
    {
        link.push_str(&format!(
            "&detail=lesion&row={}&col={}&size={}&intensity={intensity}",
            (row / s).round(),
            (col / s).round(),
            (radius / s).round()
        ));
    }
    (net.name, link + "&t=1")
}

type Run = JobRun<KernelResult>;

fn finish(body: Body) -> Option<KernelResult> {
    match body {
        Body::Kernel(r) => Some(*r),
        _ => None,
    }
}

fn percent(v: f64) -> String {
    format!("{:.0}%", v * 100.0)
}

/// The detail `z` of the settings at `side` (`drawn`: the drawing, at that side), or why there
/// is none.
fn compose(settings: &DetailSettings, drawn: &[f32], side: usize) -> Result<Rc<Vec<f32>>, String> {
    match settings.detail.kind {
        DetailKind::Drawn => {
            if drawn.iter().any(|v| *v != 0.0) {
                Ok(Rc::new(drawn.to_vec()))
            } else {
                Err("Draw a detail on the image: press and drag.".into())
            }
        }
        _ => settings
            .detail
            .render(side)
            .map(Rc::new)
            .map_err(|e| e.to_string()),
    }
}

#[derive(Properties, PartialEq)]
struct EditorProps {
    settings: DetailSettings,
    /// The side of the images (the network's).
    side: usize,
    /// The slice under the detail, once the worker has sent it.
    background: Option<Picture>,
    /// `z` as composed (for the overlay).
    detail: Option<Rc<Vec<f32>>>,
    /// The drawing, `side²` values.
    drawn: Rc<Vec<f32>>,
    on_settings: Callback<DetailSettings>,
    on_drawn: Callback<Rc<Vec<f32>>>,
}

/// The detail's controls and the slice with the detail over it: a click places text or a
/// lesion; in drawing mode, press and drag to draw.
#[function_component(DetailEditor)]
fn detail_editor(props: &EditorProps) -> Html {
    let canvas = use_node_ref();
    // The stroke being drawn (committed on release).
    let stroke = use_mut_ref(|| None::<Vec<f32>>);
    let bump = use_state(|| 0u32);
    let side = props.side;
    // Pixels of the image per pixel of the 64² grid of the settings.
    let scale = grid_scale(side).unwrap_or(1);
    {
        let canvas = canvas.clone();
        // The slice of a result at another side (the network just changed) is not shown.
        let background = props.background.clone().filter(|p| p.side == side);
        let detail = props.detail.clone();
        let stroke = stroke.clone();
        use_effect_with(
            (background, detail, *bump, side),
            move |(background, detail, _, side)| {
                let side = *side;
                let Some(c) = canvas.cast::<web_sys::HtmlCanvasElement>() else {
                    return;
                };
                let base = background.as_ref().and_then(|p| p.bytes().ok());
                let live = stroke.borrow().clone();
                let z: Option<&[f32]> = live
                    .as_deref()
                    .or(detail.as_deref().map(|d| d.as_slice()))
                    .filter(|z| z.len() == side * side);
                let peak = z
                    .map(|z| z.iter().fold(0.0f32, |m, v| m.max(v.abs())))
                    .unwrap_or(0.0)
                    .max(f32::MIN_POSITIVE);
                paint_pixels(&c, side, |i| {
                    let g = base.as_ref().map(|b| b[i] as f32).unwrap_or(0.0);
                    let a = z.map(|z| (z[i].abs() / peak).min(1.0)).unwrap_or(0.0);
                    // The detail in amber over the grey slice.
                    let mix = |c: f32| (g * (1.0 - a) + c * a).round() as u8;
                    [mix(255.0), mix(176.0), mix(32.0), 255]
                });
            },
        );
    }
    let s = &props.settings;
    let edits = StateEdits {
        state: s.clone(),
        set_state: props.on_settings.clone(),
    };
    let on_kind = edits.on_select(Rc::new(|s, v| {
        if let Ok(k) = DetailKind::from_name(&v) {
            s.detail.kind = k;
        }
    }));
    // Typed text applies itself TEXT_DEBOUNCE_MS after the last key (Enter or leaving the field
    // at once); a newer key restarts the wait.
    let pending = use_mut_ref(|| None::<gloo::timers::callback::Timeout>);
    let apply_text = Rc::new(edits.apply(Rc::new(|s, v| s.detail.text = v.to_uppercase())));
    let on_text_input = {
        let (pending, apply) = (pending.clone(), apply_text.clone());
        Callback::from(move |e: InputEvent| {
            let input: web_sys::HtmlInputElement = e.target_unchecked_into();
            let (value, apply) = (input.value(), apply.clone());
            *pending.borrow_mut() = Some(gloo::timers::callback::Timeout::new(
                TEXT_DEBOUNCE_MS,
                move || apply(value),
            ));
        })
    };
    let on_text = {
        let (pending, apply) = (pending.clone(), apply_text.clone());
        Callback::from(move |e: Event| {
            if let Some(timer) = pending.borrow_mut().take() {
                timer.cancel();
            }
            let input: web_sys::HtmlInputElement = e.target_unchecked_into();
            apply(input.value());
        })
    };
    let on_size = edits.on_input(Rc::new(|s, v| {
        if let Ok(v) = v.parse() {
            s.detail.size = v;
        }
    }));
    let on_intensity = edits.on_input(Rc::new(|s, v| {
        if let Ok(v) = v.parse() {
            s.detail.intensity = v;
        }
    }));
    let drawing = s.detail.kind == DetailKind::Drawn;
    let paint = {
        let (stroke, canvas, bump) = (stroke.clone(), canvas.clone(), bump.clone());
        let intensity = s.detail.intensity;
        // A round brush of radius 1.2 pixels of the 64² grid (2.4 px at 128²), so that a stroke
        // is as wide in the field of view at either side.
        let brush = (1.2 * scale as f32).powi(2);
        move |e: &PointerEvent| {
            let Some((col, row)) = pointer_at(&canvas, e, side) else {
                return;
            };
            if let Some(buffer) = stroke.borrow_mut().as_mut() {
                for (i, v) in buffer.iter_mut().enumerate() {
                    let (r, c) = ((i / side) as f32 + 0.5, (i % side) as f32 + 0.5);
                    if (r - row).powi(2) + (c - col).powi(2) <= brush {
                        *v = intensity;
                    }
                }
            }
            bump.set(*bump + 1);
        }
    };
    let on_down = {
        let (stroke, drawn, paint) = (stroke.clone(), props.drawn.clone(), paint.clone());
        let (apply, canvas) = (props.on_settings.clone(), canvas.clone());
        let s = s.clone();
        Callback::from(move |e: PointerEvent| {
            if drawing {
                if let Some(c) = canvas.cast::<web_sys::Element>() {
                    let _ = c.set_pointer_capture(e.pointer_id());
                }
                *stroke.borrow_mut() = Some(drawn.to_vec());
                paint(&e);
            } else if let Some((col, row)) = pointer_at(&canvas, &e, DETAIL_GRID) {
                // The settings are in the 64² grid at every side.
                let mut next = s.clone();
                next.detail.row = (row.max(0.0) as usize).min(DETAIL_GRID - 1);
                next.detail.col = (col.max(0.0) as usize).min(DETAIL_GRID - 1);
                apply.emit(next);
            }
        })
    };
    let on_move = {
        let (stroke, paint) = (stroke.clone(), paint.clone());
        Callback::from(move |e: PointerEvent| {
            if stroke.borrow().is_some() {
                paint(&e);
            }
        })
    };
    let on_up = {
        let (stroke, on_drawn) = (stroke.clone(), props.on_drawn.clone());
        Callback::from(move |_: PointerEvent| {
            if let Some(buffer) = stroke.borrow_mut().take() {
                on_drawn.emit(Rc::new(buffer));
            }
        })
    };
    let on_clear = {
        let on_drawn = props.on_drawn.clone();
        Callback::from(move |_: MouseEvent| on_drawn.emit(Rc::new(vec![0.0; side * side])))
    };
    let size_label = if s.detail.kind == DetailKind::Lesion {
        format!("radius {} px ", s.detail.size * scale)
    } else {
        format!("size {} ", s.detail.size)
    };
    html! {
        <div class="detail-editor">
            <div class="row">
                <label>{"detail "}
                    <select data-testid="detail-kind" onchange={on_kind}>
                        { for [(DetailKind::Text, "text"), (DetailKind::Lesion, "lesion"), (DetailKind::Drawn, "draw")].into_iter().map(|(k, label)| html! {
                            <option value={k.name()} selected={k == s.detail.kind}>{label}</option>
                        }) }
                    </select>
                </label>
                if s.detail.kind == DetailKind::Text {
                    <label>{"text "}
                        <input type="text" data-testid="detail-text" maxlength="40" value={s.detail.text.clone()}
                            oninput={on_text_input} onchange={on_text}
                            aria-label="the detail's text (A–Z, 0–9, spaces), applied as you type" />
                    </label>
                }
                if s.detail.kind != DetailKind::Drawn {
                    <label class="slider">{size_label}
                        <input type="range" min="1" max={if s.detail.kind == DetailKind::Text { "3" } else { "8" }} step="1"
                            value={s.detail.size.to_string()} data-testid="detail-size" oninput={on_size}
                            aria-label="size of the detail" aria-valuetext={format!("size of the detail, {}", s.detail.size)} />
                    </label>
                }
                <label class="slider">{format!("intensity {:.2} ", s.detail.intensity)}
                    <input type="range" min="0.05" max="1" step="0.05" value={s.detail.intensity.to_string()}
                        data-testid="detail-intensity" oninput={on_intensity}
                        aria-label="intensity of the detail" aria-valuetext={format!("intensity, {:.2}", s.detail.intensity)} />
                </label>
                if drawing {
                    <button type="button" data-testid="clear-drawing" onclick={on_clear}>{"Clear drawing"}</button>
                }
            </div>
            <figure class="mri-figure editor">
                <canvas ref={canvas} class="mri-canvas editor-canvas" data-testid="detail-editor"
                    role="img" aria-label="the slice with the detail: click to place it, or draw"
                    onpointerdown={on_down} onpointermove={on_move} onpointerup={on_up.clone()} onpointercancel={on_up} />
                <figcaption class="small muted">{
                    if drawing { "Press and drag to draw the detail." } else { "Click to move the detail." }
                }</figcaption>
            </figure>
        </div>
    }
}

#[derive(Properties, PartialEq)]
struct ChoiceProps {
    settings: DetailSettings,
    on_settings: Callback<DetailSettings>,
    /// Says what a change of network did to the slice (`None`: nothing).
    on_net_notice: Callback<Option<SliceMoved>>,
}

/// A change of network that moved the slice to one the network holds out: the notice, and the
/// network and slice it is about.
#[derive(Clone, Debug, PartialEq)]
struct SliceMoved {
    notice: String,
    net: String,
    slice: String,
}

/// The network (sampling) and held-out slice selectors: the slices are those the chosen network
/// holds out; choosing a network that does not hold out the slice shown moves to the nearest
/// slice it holds out, and says so.
#[function_component(SettingsChoice)]
fn settings_choice(props: &ChoiceProps) -> Html {
    let labels = use_net_labels();
    let edits = StateEdits {
        state: props.settings.clone(),
        set_state: props.on_settings.clone(),
    };
    let on_net = {
        let notice = props.on_net_notice.clone();
        edits.on_select(Rc::new(move |s: &mut DetailSettings, v| {
            s.net = v;
            notice.emit(s.fit_slice().map(|notice| SliceMoved {
                notice,
                net: s.net.clone(),
                slice: s.slice.clone(),
            }));
        }))
    };
    let on_slice = edits.on_select(Rc::new(|s: &mut DetailSettings, v| s.slice = v));
    let s = &props.settings;
    html! {
        <div class="row">
            // The options' words are long: on a narrow window the menu wraps under its label and
            // shrinks to the window (the open list still shows them whole).
            <label ~style="flex-wrap: wrap; max-width: 100%; min-width: 0">{"network (and its sampling) "}
                <select data-testid="net" onchange={on_net} ~style="max-width: 100%; min-width: 0">
                    { for DETAIL_NETS.iter().map(|net| html! {
                        <option value={net.name} selected={net.name == s.net}>{
                            labels.get(net.name).cloned().unwrap_or_else(|| format!("{}, {}\u{b2}", net.name, net.side))
                        }</option>
                    }) }
                </select>
            </label>
            <label>{"held-out slice "}
                <select data-testid="slice" onchange={on_slice}>
                    { for held_out_slice_names(s.net().split).into_iter().map(|name| html! {
                        <option value={name.clone()} selected={name == s.slice}>{name.clone()}</option>
                    }) }
                </select>
            </label>
        </div>
    }
}

/// What the page shows while the worker works, or why nothing can be shown.
fn status(run: &Run, detail: &Result<Rc<Vec<f32>>, String>, cancel: Callback<MouseEvent>) -> Html {
    match (detail, run) {
        (Err(e), _) => html! { <Notice kind="warning">{e.clone()}</Notice> },
        (_, JobRun::Failed(m)) => {
            html! { <Notice kind="error">{format!("The reconstructions failed: {m}")}</Notice> }
        }
        (_, JobRun::Running { done, total, .. }) => html! {
            <div class="row" data-testid="kernel-running">
                <span class="muted">{"Reconstructing in the worker… "}</span>
                <Progress done={*done} total={*total} />
                <button type="button" data-testid="cancel" onclick={cancel}>{"Cancel"}</button>
            </div>
        },
        _ => html! {},
    }
}

/// A picture with the detail's region framed.
fn framed(picture: &Picture, region: Region, label: &str, testid: &str) -> Html {
    let side = picture.side.max(1) as f64;
    let style = format!(
        "left:{:.2}%;top:{:.2}%;width:{:.2}%;height:{:.2}%",
        100.0 * region.left as f64 / side,
        100.0 * region.top as f64 / side,
        100.0 * region.width as f64 / side,
        100.0 * region.height as f64 / side
    );
    html! {
        <div class="framed">
            <PictureCanvas picture={picture.clone()} label={AttrValue::from(label.to_string())} testid={AttrValue::from(testid.to_string())} />
            <div class="region-frame" ~style={style} />
        </div>
    }
}

/// What the k-space picture's caption says of the sampling: "25% of k-space, variable-density
/// random (bright: sampled)".
fn sampled(r: &KernelResult) -> String {
    // One decimal where the rate has one (12.5% of lines), none where it is whole (25%).
    format!(
        "{}% of k-space, {} (bright: sampled)",
        (r.rate * 1000.0).round() / 10.0,
        r.pattern.title()
    )
}

fn figure(title: &str, body: Html, caption: String) -> Html {
    html! {
        <figure class="mri-figure">
            <figcaption><strong>{title.to_string()}</strong></figcaption>
            {body}
            <figcaption class="small muted">{caption}</figcaption>
        </figure>
    }
}

/// A method's short name: the network's own name (`net`) for the network.
fn short(m: &KernelMethod, net: &str) -> String {
    match m.key.as_str() {
        "zero-filling" => "zero-filling".into(),
        "firenet" => "FIRENET".into(),
        "net+firenet" => format!("{net} → FIRENET"),
        _ => net.to_string(),
    }
}

/// The two error terms of one method against the bound, as stacked bars.
fn bound_bars(methods: &[KernelMethod], net: &str) -> Html {
    let rows: Vec<(&KernelMethod, crate::mri::kernel::BoundCheck)> = methods
        .iter()
        .filter_map(|m| m.bound.map(|b| (m, b)))
        .collect();
    let Some(bound) = rows.first().map(|(_, b)| b.bound) else {
        return html! {};
    };
    let top = rows
        .iter()
        .map(|(_, b)| b.sum())
        .fold(bound, f64::max)
        .max(f64::MIN_POSITIVE)
        * 1.15;
    let items = [
        LegendItem::new("bar-x", "‖R(Ax) − x‖", Swatch::Bar),
        LegendItem::new("bar-x-prime", "‖R(Ax′) − x′‖", Swatch::Bar),
        LegendItem::new(
            "bound-line",
            format!("the lower bound t‖z_N‖ = {bound:.2}"),
            Swatch::Line,
        ),
    ];
    let (bar, gap) = (26.0, 14.0);
    let names: Vec<String> = rows.iter().map(|(m, _)| short(m, net)).collect();
    let widest = names
        .iter()
        .map(|n| plot::text_width(n))
        .fold(0.0, f64::max);
    let data = rows.len() as f64 * (bar + gap) + gap;
    let (frame, slots) = frame_with_legend(680.0, data, (widest + 16.0, 70.0, BOTTOM), &items);
    let xa = frame.x_axis(0.0, top, Scale::Linear);
    let area = frame.area();
    let row_y = |k: usize| area.y0 + gap + k as f64 * (bar + gap);
    html! {
        <svg class="bound-bars" viewBox={format!("0 0 {} {}", frame.w, frame.h)} role="img" data-testid="bound-bars"
            data-categories="y" aria-label="‖R(Ax) − x‖ + ‖R(Ax′) − x′‖ for each method against t‖z_N‖">
            {x_ticks(&frame, &xa, &linear_ticks(0.0, top, nice_step(top, 5.0)), |v| format!("{v}"), true)}
            {x_axis_line(&frame)}
            { for rows.iter().zip(&names).enumerate().map(|(k, ((_, b), name))| {
                let y = row_y(k);
                html! {
                    <g class="bar-row">
                        <g class="y-tick"><text x={(area.x0 - 8.0).to_string()} y={(y + bar / 2.0 + 5.0).to_string()} text-anchor="end">{name.clone()}</text></g>
                        <rect x={xa.at(0.0).to_string()} y={y.to_string()} width={(xa.at(b.error_x) - xa.at(0.0)).to_string()} height={bar.to_string()} class="bar-x" />
                        <rect x={xa.at(b.error_x).to_string()} y={y.to_string()} width={(xa.at(b.sum()) - xa.at(b.error_x)).to_string()} height={bar.to_string()} class="bar-x-prime" />
                        <text x={(xa.at(b.sum()) + 5.0).to_string()} y={(y + bar / 2.0 + 5.0).to_string()} class="value">{format!("{:.2}", b.sum())}</text>
                    </g>
                }
            }) }
            <line x1={xa.at(bound).to_string()} x2={xa.at(bound).to_string()} y1={area.y0.to_string()} y2={area.y1.to_string()} class="bound-line" />
            {legend(&items, &slots)}
            {x_title(&frame, "‖R(Ax) − x‖ + ‖R(Ax′) − x′‖: one method's two errors, stacked")}
        </svg>
    }
}

/// The troublesome-kernel figure.
fn kernel_figure(r: &KernelResult, current: bool) -> Html {
    let t = r.t.unwrap_or(0.0);
    let bound = r.methods.iter().find_map(|m| m.bound).map(|b| b.bound);
    html! {
        <div class={classes!("kernel-results", (!current).then_some("updating"))} data-testid="kernel-results"
            data-net={r.net.clone()} data-slice={r.slice.clone()} data-side={r.side.to_string()} data-t={t.to_string()}>
            <div class="small"><EngineBadge computed={r.computed.clone()} /></div>
            <div class="mri-row">
                {figure("x", html! { <PictureCanvas picture={r.truth.clone()} label="the slice x" testid="truth" /> },
                    format!("{} (held out), {}²", r.slice, r.side))}
                {figure("the detail z", html! { <PictureCanvas picture={r.detail.clone()} label="the detail z" testid="detail" /> },
                    format!("‖z‖ = {:.2}", r.detail_norm))}
                {figure("t·z_N, its kernel component", html! { <PictureCanvas picture={r.added_magnitude.clone()} label="|t z_N|" testid="added" /> },
                    format!("|t·z_N|; ‖z_N‖/‖z‖ = {}: the sampling misses that much of z", percent(r.kernel_share)))}
                {figure("x′ = x + t·z_N", html! { <PictureCanvas picture={r.perturbed.clone()} label="|x′|" testid="perturbed" /> },
                    format!("|x′|, ‖x − x′‖ = {:.3}", r.distance))}
                {figure("what A measures", html! { <PictureCanvas picture={r.kspace.clone()} label="k-space of x′, unsampled dimmed" testid="kspace" /> },
                    sampled(r))}
            </div>
            <p class="measurement-gap" data-testid="measurement-gap">
                {format!("‖Ax − Ax′‖ = {:.1e}, against ‖Ax‖ = {:.1}: the data are the same (to rounding), so every method returns the same image for x and x′.",
                    r.measurement_gap, r.measurement_norm)}
            </p>
            // A phone scrolls the wide table sideways rather than the page.
            <div ~style="overflow-x: auto; max-width: 100%">
            <table class="kernel-table" data-testid="kernel-table">
                <thead><tr>
                    <th>{"method"}</th><th>{"‖R(Ax) − x‖"}</th><th>{"‖R(Ax′) − x′‖"}</th><th>{"sum"}</th>
                    <th>{"t‖z_N‖"}</th><th>{"‖R(Ax) − R(Ax′)‖"}</th><th>{"ms"}</th>
                </tr></thead>
                <tbody>
                    { for r.methods.iter().filter_map(|m| m.bound.map(|b| (m, b))).map(|(m, b)| html! {
                        <tr data-method={m.key.clone()} data-error-x={b.error_x.to_string()} data-error-x-prime={b.error_x_prime.to_string()}
                            data-bound={b.bound.to_string()} data-output-gap={b.output_gap.to_string()}>
                            <td>{m.title.clone()}</td>
                            <td>{format!("{:.3}", b.error_x)}</td>
                            <td>{format!("{:.3}", b.error_x_prime)}</td>
                            <td class={classes!((b.sum() + b.output_gap >= b.distance * (1.0 - 1e-9)).then_some("holds"))}>
                                {format!("{:.3} ≥ {:.3}", b.sum(), b.bound)}</td>
                            <td>{format!("{:.3}", b.bound)}</td>
                            <td>{format!("{:.1e}", b.output_gap)}</td>
                            <td>{format!("{:.0}", m.millis)}</td>
                        </tr>
                    }) }
                </tbody>
            </table>
            </div>
            {bound_bars(&r.methods, &r.net)}
            { for r.methods.iter().map(|m| {
                let b = m.bound;
                let (share_x, share_xp) = match (b, bound) {
                    (Some(b), Some(t)) if t > 0.0 => (b.error_x / t, b.error_x_prime / t),
                    _ => (0.0, 0.0),
                };
                html! {
                    <div class="mri-row method-row" data-testid={format!("kernel-method-{}", m.key)}>
                        <h3 class="method-title">{m.title.clone()}</h3>
                        {figure("R(Ax)", html! { <PictureCanvas picture={m.from_x.clone()} label="R(Ax)" /> },
                            format!("error on x: {share_x:.2}·t‖z_N‖"))}
                        {figure("R(Ax′)", html! { <PictureCanvas picture={m.from_x_prime.clone()} label="R(Ax′)" /> },
                            format!("error on x′: {share_xp:.2}·t‖z_N‖"))}
                        {figure("|R(Ax′) − x′|", html! { <PictureCanvas picture={m.error_map.clone()} label="error on x′" /> },
                            format!("white: {:.2}", r.error_scale))}
                    </div>
                }
            }) }
        </div>
    }
}

/// The structural-details figure.
fn details_figure(r: &KernelResult, current: bool) -> Html {
    let region = r.region;
    let zero = r.methods.iter().find(|m| m.key == "zero-filling");
    let verdicts: Vec<String> = r
        .methods
        .iter()
        .map(|m| {
            let c = m.recovery.recovered;
            let what = if c >= r.visible + 0.05 {
                "more than the samples show (its prior fills in)"
            } else if c >= r.visible - 0.05 {
                "about what the samples show"
            } else if c > 0.1 {
                "less than the samples show: it blurs the detail"
            } else {
                "almost none of it: the detail is lost"
            };
            format!("{} recovers {} of the detail, {what}", m.title, percent(c))
        })
        .collect();
    html! {
        <div class={classes!("kernel-results", (!current).then_some("updating"))} data-testid="details-results"
            data-net={r.net.clone()} data-slice={r.slice.clone()} data-side={r.side.to_string()}>
            <div class="small"><EngineBadge computed={r.computed.clone()} /></div>
            <div class="mri-row">
                {figure("x′ = x + z", framed(&r.perturbed, region, "the slice with the detail", "perturbed"),
                    format!("{} (held out), {}²; the frame is the detail's region", r.slice, r.side))}
                {figure("the detail z", html! { <PictureCanvas picture={r.detail.clone()} label="the detail z" testid="detail" /> },
                    format!("‖z‖ = {:.2}", r.detail_norm))}
                {figure("what A measures", html! { <PictureCanvas picture={r.kspace.clone()} label="k-space of x′, unsampled dimmed" testid="kspace" /> },
                    sampled(r))}
                {figure("the region, truth", html! { <RegionCanvas picture={r.perturbed.clone()} region={region} label="the detail's region in x′" testid="region-truth" /> },
                    format!("{}×{} pixels, magnified", region.width, region.height))}
            </div>
            <p data-testid="visible">{format!(
                "The sampling sees {} of the detail's energy (‖Az‖²/‖z‖²): zero-filling shows exactly that much of it{}.",
                percent(r.visible),
                zero.map(|m| format!(" (measured: {})", percent(m.recovery.recovered))).unwrap_or_default()
            )}</p>
            <div class="mri-row region-row">
                { for r.methods.iter().map(|m| html! {
                    <figure class="mri-figure" data-testid={format!("details-method-{}", m.key)}
                        data-recovered={m.recovery.recovered.to_string()} data-region-error={m.recovery.region_error.to_string()}>
                        <figcaption><strong>{m.title.clone()}</strong></figcaption>
                        <RegionCanvas picture={m.from_x_prime.clone()} region={region} label={AttrValue::from(format!("{}: the detail's region", m.title))} />
                        <figcaption class="small">{format!(
                            "recovers {} · error in the region {:.2}×‖z‖ (without the detail {:.2}) · PSNR {:.1} dB",
                            percent(m.recovery.recovered), m.recovery.region_error, m.recovery.region_error_clean, m.psnr
                        )}</figcaption>
                    </figure>
                }) }
            </div>
            <ul class="verdicts" data-testid="verdicts">
                { for verdicts.into_iter().map(|v| html! { <li>{v}</li> }) }
            </ul>
            <div class="mri-row">
                { for r.methods.iter().map(|m| figure(&m.title,
                    framed(&m.from_x_prime, region, &m.title, ""),
                    format!("whole image: error {:.1}%", 100.0 * m.recovery.error))) }
            </div>
        </div>
    }
}

#[derive(Properties, PartialEq)]
struct PageProps {
    /// `true`: `#/kernel`; `false`: `#/details`.
    kernel: bool,
}

/// The shared body of both pages.
#[function_component(KernelPage)]
fn kernel_page(props: &PageProps) -> Html {
    let epoch = use_context::<WorkerEpoch>().unwrap_or_default();
    let (kernel_state, set_kernel, embed_k) = use_query_state::<KernelState>(Route::Kernel);
    let (details_state, set_details, embed_d) = use_query_state::<DetailsState>(Route::Details);
    let (settings, t, notices, embed) = if props.kernel {
        let p = kernel_state;
        (p.state.settings, Some(p.state.t), p.notices, embed_k)
    } else {
        let p = details_state;
        (p.state.settings, None, p.notices, embed_d)
    };
    let set_settings = {
        let (set_kernel, set_details) = (set_kernel.clone(), set_details.clone());
        let kernel = props.kernel;
        Callback::from(move |s: DetailSettings| {
            if kernel {
                set_kernel.emit(KernelState {
                    settings: s,
                    t: t.unwrap_or(1.0),
                })
            } else {
                set_details.emit(DetailsState { settings: s })
            }
        })
    };
    let side = settings.side();
    // The drawing as last drawn (at the side of the network then), and at the page's side now.
    let drawn = use_state(|| Rc::new(vec![0.0f32; side * side]));
    let drawn_here = {
        let from = (drawn.len() as f64).sqrt() as usize;
        if from == side {
            (*drawn).clone()
        } else {
            Rc::new(rescale_drawing(&drawn, from, side).unwrap_or_else(|| vec![0.0; side * side]))
        }
    };
    // What the last change of network did to the slice, shown while that network and slice are.
    let moved = use_state(|| None::<SliceMoved>);
    let on_net_notice = {
        let moved = moved.clone();
        Callback::from(move |m: Option<SliceMoved>| moved.set(m))
    };
    let moved_notice = (*moved)
        .clone()
        .filter(|m| m.net == settings.net && m.slice == settings.slice);
    let detail = compose(&settings, &drawn_here, side);
    let job = detail.as_ref().ok().map(|z| {
        Job::Kernel(KernelJob {
            net: settings.net.clone(),
            slice: settings.slice.clone(),
            detail: z.to_vec(),
            t,
            engine: engine_choice(),
        })
    });
    let (run, cancel) = use_latest_job(job, epoch, 6, finish);
    let on_t = {
        let (set_kernel, settings) = (set_kernel.clone(), settings.clone());
        Callback::from(move |e: InputEvent| {
            let input: web_sys::HtmlInputElement = e.target_unchecked_into();
            if let Ok(t) = input.value().parse::<f64>() {
                set_kernel.emit(KernelState {
                    settings: settings.clone(),
                    t: t.clamp(MIN_T, MAX_T),
                });
            }
        })
    };
    let on_drawn = {
        let drawn = drawn.clone();
        Callback::from(move |d: Rc<Vec<f32>>| drawn.set(d))
    };
    let shown = run.shown().cloned();
    let current = matches!(&*run, JobRun::Done(_));
    let (trained_net, trained_link) = trained_detail_link();
    let explain = if props.kernel {
        html! {
            <div class="explain">
                <p>{"Subsampled Fourier measurements y = Ax, A = P"}<sub>{"Ω"}</sub>{"F, cannot see anything in the kernel of A. Project a detail z onto it and add it to the image:"}</p>
                {crate::web::math::formula(crate::formula::KERNEL_PROJECTION)}
                <p>{"Every reconstruction R gets the same data for x and x′, so it returns the same image for both, and by the triangle inequality"}</p>
                {crate::web::math::formula(crate::formula::KERNEL_BOUND)}
                <p>{"A method that is very accurate on x′ must therefore put t·z"}<sub>{"N"}</sub>{" into its reconstruction of x: a hallucination. This holds for zero-filling, FIRENET and a trained network alike (Gottschling, Antun, Adcock & Hansen, \u{201c}The troublesome kernel\u{201d}). What differs is where a method errs: a network trained on images like x′ has learnt to be accurate there, and pays on x. The last method, Ψ → FIRENET, starts FIRENET from the network's output with the same data; it cannot escape the bound either."}</p>
                <p>{format!("The network {trained_net} was trained (as in the authors' code) with the kernel component of one lesion added to half of its training images (cascade-12-kernel likewise at 64², with the same lesion of the field of view). ")}
                    <a href={trained_link} data-testid="trained-detail-link">{"Open its lesion"}</a>
                    {": its R(Ax) is pulled towards x + z"}<sub>{"N"}</sub>{", so it pays on x. How much such a network paints into held-out slices is measured in static/reports/kernel_detail.json (docs/kernel.md)."}</p>
            </div>
        }
    } else {
        html! {
            <div class="explain">
                <p>{"Can u see it? Antun et al. (PNAS 2020) added small text and symbols to images and found that trained networks often lose them, while a method that trusts the data shows what the samples contain. Add a detail z to a held-out slice, x′ = x + z, measure y′ = Ax′ and look at the detail's region in each reconstruction:"}</p>
                {crate::web::math::formula(crate::formula::RECOVERED)}
                <p>{"Zero-filling recovers exactly the share of the detail's energy that the sampling sees; FIRENET, with its sparsity prior, should recover at least that; a trained network recovers what its training taught it to expect. The last method feeds the network's output to FIRENET as its initial guess, with the same data (Ψ → FIRENET)."}</p>
            </div>
        }
    };
    let t_control = t.map(|t| {
        html! {
            <label class="slider">{format!("t = {t:.2} ")}
                <input type="range" min={MIN_T.to_string()} max={MAX_T.to_string()} step="0.1" value={t.to_string()}
                    data-testid="kernel-t" aria-label="t in x′ = x + t·z_N" aria-valuetext={format!("t, {t:.2}")} oninput={on_t} />
            </label>
        }
    });
    html! {
        <section class="demo mri kernel" data-testid={if props.kernel { "kernel" } else { "details" }}>
            if !embed {
                <h1 class="page-title">{ if props.kernel { "The troublesome kernel: why an accurate method must hallucinate" } else { "Can u see it? Small structural details" } }</h1>
                {explain}
            }
            { for notices.iter().map(|n| html! { <Notice kind="warning">{n.clone()}</Notice> }) }
            if let Some(m) = moved_notice {
                <div data-testid="slice-moved"><Notice kind="info">{m.notice}</Notice></div>
            }
            <ExportFigure name={if props.kernel { "kernel" } else { "details" }}
                title={if props.kernel { "The troublesome kernel" } else { "Can u see it?" }}>
            <div class="mri-controls">
                <SettingsChoice settings={settings.clone()} on_settings={set_settings.clone()} {on_net_notice} />
                if let Some(t) = t_control { <div class="row">{t}</div> }
            </div>
            <div class="kernel-layout">
                <DetailEditor settings={settings.clone()} {side} background={shown.as_ref().map(|r| r.truth.clone())}
                    detail={detail.as_ref().ok().cloned()} drawn={drawn_here}
                    on_settings={set_settings} on_drawn={on_drawn} />
                // min-width 0: the results' column may be narrower than their widest row.
                <div class="kernel-main" ~style="min-width: 0">
                    {status(&run, &detail, cancel)}
                    if let Some(r) = &shown {
                        if props.kernel { {kernel_figure(r, current)} } else { {details_figure(r, current)} }
                    }
                </div>
            </div>
            </ExportFigure>
        </section>
    }
}

/// `#/kernel`.
#[function_component(KernelDemo)]
pub fn kernel_demo() -> Html {
    html! { <KernelPage kernel=true /> }
}

/// `#/details`.
#[function_component(DetailsDemo)]
pub fn details_demo() -> Html {
    html! { <KernelPage kernel=false /> }
}
