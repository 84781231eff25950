//! The structural perturbations demo: edit a held-out digit with a brush, an eraser or square
//! patches on a big pixelated canvas, watch the prediction change live, see how large the edit
//! is (pixels changed, `‖x' − x‖₂`), keep the smallest label-changing edit of the session, and
//! let the worker find the smallest label-changing patch, beside DeepFool's `‖r‖₂` for scale.
//! The URL holds the model and the digit.

use crate::classification::attack::AttackKind;
use crate::classification::classifier::{Architecture, Prediction};
use crate::classification::mnist::{Digits, HELD_OUT_COUNT, SIDE};
use crate::classification::state::StructuralState;
use crate::classification::structural::{
    measure, merge_answers, split_sizes, stroke, EditStats, Patch, Tool, CHANGE_THRESHOLD,
    MAX_SEARCH_SIZE, RADII,
};
use crate::protocol::{Body, Job, PatchAnswer};
use crate::web::app::{use_query_state, Route, WorkerEpoch};
use crate::web::compute::{use_pooled_job, Compute, LongJob};
use crate::web::export::ExportFigure;
use crate::web::picker::{use_held_out, Gallery};
use crate::web::widgets::{
    cancel_now, control_value, paint_grey, workers_text, DigitCanvas, ModelPicker, Notice,
    PerturbationCanvas, PredictionBars, Progress,
};
use std::cell::RefCell;
use std::rc::Rc;
use yew::prelude::*;

/// The search's answer from its parts' answers (one per worker of the pool): the patch the
/// whole search finds ([`merge_answers`]).
fn merge_patch_parts(bodies: Vec<Body>) -> Result<PatchAnswer, String> {
    let answers = bodies
        .into_iter()
        .map(|b| match b {
            Body::SmallestPatch(a) => Ok(a),
            _ => Err("a part of the patch search answered something else".to_string()),
        })
        .collect::<Result<Vec<_>, _>>()?;
    merge_answers(answers).map_err(|e| e.for_people())
}

/// Brush radius the editor starts with (pixels of the 28×28 image).
const DEFAULT_RADIUS: f32 = 1.0;
/// Largest patch side the search tries unless the user changes it.
const DEFAULT_SEARCH_SIZE: usize = 5;
/// Edits kept for undo.
const UNDO_DEPTH: usize = 200;

/// What a pointer on the canvas does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum EditTool {
    Brush,
    Eraser,
    Patch,
}

/// The image being edited. Kept in a `RefCell` so that pointer events, which come faster than
/// renders, always edit the latest image; `version` counts edits (effects depend on it).
struct Editor {
    /// The held-out digit loaded, if any.
    digit: Option<usize>,
    original: Rc<Vec<f32>>,
    current: Vec<f32>,
    undo: Vec<Vec<f32>>,
    /// The pointer's last position during a stroke.
    last: Option<(f32, f32)>,
    version: u64,
}

impl Editor {
    fn new() -> Self {
        Self {
            digit: None,
            original: Rc::new(vec![0.0; SIDE * SIDE]),
            current: vec![0.0; SIDE * SIDE],
            undo: Vec::new(),
            last: None,
            version: 0,
        }
    }

    fn load(&mut self, digit: usize, image: Vec<f32>) {
        self.digit = Some(digit);
        self.current = image.clone();
        self.original = Rc::new(image);
        self.undo.clear();
        self.last = None;
        self.version += 1;
    }

    /// Remembers the image before an edit.
    fn checkpoint(&mut self) {
        if self.undo.len() == UNDO_DEPTH {
            self.undo.remove(0);
        }
        self.undo.push(self.current.clone());
    }

    fn set(&mut self, image: Vec<f32>) {
        self.checkpoint();
        self.current = image;
        self.version += 1;
    }
}

/// One live classification request (the latest edit wins).
#[derive(Clone)]
struct LiveRequest {
    ticket: u64,
    model: Architecture,
    digit: usize,
    image: Rc<Vec<f32>>,
}

/// At most one live classification in flight; a newer edit waits in `pending`, replacing any
/// older one waiting there.
#[derive(Default)]
struct Live {
    in_flight: bool,
    pending: Option<LiveRequest>,
    /// The newest ticket whose answer is shown.
    shown: u64,
    next: u64,
}

/// The answer for an edited image.
#[derive(Clone, PartialEq)]
struct LiveResult {
    ticket: u64,
    model: Architecture,
    digit: usize,
    image: Rc<Vec<f32>>,
    prediction: Result<Prediction, String>,
}

/// An answer about the unedited digit (its prediction, DeepFool) for one model and digit.
#[derive(Clone, PartialEq)]
struct About<T> {
    model: Architecture,
    digit: usize,
    answer: Result<T, String>,
}

/// DeepFool's `r` on the unedited digit, as the page shows it.
#[derive(Clone, PartialEq)]
struct DeepFoolScale {
    l2: f64,
    pixels: usize,
    label: usize,
    success: bool,
}

/// The smallest label-changing edit of the session.
#[derive(Clone, PartialEq)]
struct Record {
    model: Architecture,
    digit: usize,
    image: Rc<Vec<f32>>,
    stats: EditStats,
    from: usize,
    to: usize,
    source: &'static str,
}

fn send_live(
    compute: &Compute,
    live: &Rc<RefCell<Live>>,
    result: &UseStateHandle<Option<LiveResult>>,
    request: LiveRequest,
) {
    {
        let mut l = live.borrow_mut();
        if l.in_flight {
            l.pending = Some(request);
            return;
        }
        l.in_flight = true;
    }
    let (compute2, live2, result2) = (compute.clone(), live.clone(), result.clone());
    let job = Job::Classify {
        model: request.model.name().to_string(),
        image: request.image.as_ref().clone(),
    };
    compute.request(
        job,
        Callback::from(move |body| {
            let prediction = match body {
                Body::Classified { prediction, .. } => Ok(prediction),
                Body::Failed { message } => Err(message),
                Body::Cancelled => Err("cancelled".to_string()),
                _ => return,
            };
            let (show, pending) = {
                let mut l = live2.borrow_mut();
                l.in_flight = false;
                let show = request.ticket > l.shown;
                if show {
                    l.shown = request.ticket;
                }
                (show, l.pending.take())
            };
            if show {
                result2.set(Some(LiveResult {
                    ticket: request.ticket,
                    model: request.model,
                    digit: request.digit,
                    image: request.image.clone(),
                    prediction,
                }));
            }
            if let Some(next) = pending {
                send_live(&compute2, &live2, &result2, next);
            }
        }),
    );
}

/// Offers `candidate` as the session's smallest label-changing edit.
fn offer(best: &UseStateHandle<Option<Record>>, candidate: Record) {
    if best
        .as_ref()
        .is_none_or(|b| candidate.stats.smaller_than(&b.stats))
    {
        best.set(Some(candidate));
    }
}

fn fmt_l2(v: f64) -> String {
    format!("{v:.3}")
}

/// Asks the worker `job` about the unedited digit whenever `deps` (model, digit, whether it is
/// loaded, worker epoch) change, once the digit is loaded; `read` takes the answer out of the
/// final reply. A newer request supersedes an older one.
#[hook]
fn use_about<T: Clone + 'static>(
    compute: &Compute,
    deps: (Architecture, usize, bool, WorkerEpoch),
    job: Job,
    read: fn(Body) -> Option<T>,
) -> UseStateHandle<Option<About<T>>> {
    let answer = use_state(|| None::<About<T>>);
    let ticket = use_mut_ref(|| 0u64);
    {
        let (compute, answer) = (compute.clone(), answer.clone());
        use_effect_with(deps, move |(model, digit, has_digit, _)| {
            let (model, digit) = (*model, *digit);
            if *has_digit {
                let t = {
                    let mut t = ticket.borrow_mut();
                    *t += 1;
                    *t
                };
                compute.request(
                    job,
                    Callback::from(move |body| {
                        if *ticket.borrow() != t {
                            return;
                        }
                        let result = match body {
                            Body::Failed { message } => Err(message),
                            body => match read(body) {
                                Some(a) => Ok(a),
                                None => return,
                            },
                        };
                        answer.set(Some(About {
                            model,
                            digit,
                            answer: result,
                        }));
                    }),
                );
            }
        });
    }
    answer
}

#[function_component(StructuralDemo)]
pub fn structural_demo() -> Html {
    let compute = use_context::<Compute>().expect("the compute worker is provided by the app");
    let epoch = use_context::<WorkerEpoch>().unwrap_or_default();
    let (parsed, set_state, embed) = use_query_state::<StructuralState>(Route::Structural);
    let state = parsed.state.clone();
    let model = state.model;
    let digit = state.digit;
    let digits = use_held_out();
    let loaded: Option<Rc<Digits>> = match &digits {
        Some(Ok(d)) if digit < d.len() => Some(d.clone()),
        _ => None,
    };
    let truth = loaded.as_ref().map(|d| d.label(digit));

    // The editor follows the chosen digit.
    let editor = use_mut_ref(Editor::new);
    if let Some(d) = &loaded {
        if editor.borrow().digit != Some(digit) {
            editor.borrow_mut().load(digit, d.image(digit));
        }
    }
    let redraw = use_force_update();
    let (version, has_digit, original) = {
        let e = editor.borrow();
        (e.version, e.digit == Some(digit), e.original.clone())
    };
    let current = use_memo(version, {
        let editor = editor.clone();
        move |_| Rc::new(editor.borrow().current.clone())
    })
    .as_ref()
    .clone();
    let stats = measure(&original, &current).unwrap_or_default();

    let tool = use_state(|| EditTool::Brush);
    let radius = use_state(|| DEFAULT_RADIUS);
    let patch_size = use_state(|| 3usize);
    let patch_white = use_state(|| true);
    let search_size = use_state(|| DEFAULT_SEARCH_SIZE);

    // Paint the edited image.
    let canvas = use_node_ref();
    {
        let canvas = canvas.clone();
        use_effect_with((current.clone(), has_digit), move |(image, _)| {
            if let Some(c) = canvas.cast::<web_sys::HtmlCanvasElement>() {
                paint_grey(&c, image, SIDE);
            }
        });
    }

    // The unedited digit's prediction, and DeepFool on it for scale.
    let original_prediction = use_about(
        &compute,
        (model, digit, has_digit, epoch),
        Job::Classify {
            model: model.name().to_string(),
            image: original.as_ref().clone(),
        },
        |body| match body {
            Body::Classified { prediction, .. } => Some(prediction),
            _ => None,
        },
    );
    let deepfool = use_about(
        &compute,
        (model, digit, has_digit, epoch),
        Job::Attack {
            model: model.name().to_string(),
            image: original.as_ref().clone(),
            attack: AttackKind::DeepFoolL2,
            seed: 0,
        },
        |body| match body {
            Body::Attacked { outcome, .. } => Some(DeepFoolScale {
                l2: outcome.l2,
                pixels: outcome
                    .perturbation
                    .iter()
                    .filter(|r| r.abs() > CHANGE_THRESHOLD as f64)
                    .count(),
                label: outcome.adversarial_label,
                success: outcome.success,
            }),
            _ => None,
        },
    );

    // Live classification of the edited image: at most one request in flight.
    let live = use_mut_ref(Live::default);
    let live_result = use_state(|| None::<LiveResult>);
    {
        // A restarted worker never answers the request that was in flight (this effect runs
        // before the one below, which sends the current image to the fresh worker).
        let live = live.clone();
        use_effect_with(epoch, move |_| live.borrow_mut().in_flight = false);
    }
    {
        let (compute, live, result) = (compute.clone(), live.clone(), live_result.clone());
        use_effect_with(
            (model, current.clone(), has_digit, epoch),
            move |(model, image, has_digit, _)| {
                if *has_digit {
                    let ticket = {
                        let mut l = live.borrow_mut();
                        l.next += 1;
                        l.next
                    };
                    send_live(
                        &compute,
                        &live,
                        &result,
                        LiveRequest {
                            ticket,
                            model: *model,
                            digit,
                            image: image.clone(),
                        },
                    );
                }
            },
        );
    }

    // The session's smallest label-changing edit.
    let best = use_state(|| None::<Record>);
    let live_now = live_result
        .as_ref()
        .filter(|r| r.model == model && r.digit == digit)
        .cloned();
    let original_now = original_prediction
        .as_ref()
        .filter(|o| o.model == model && o.digit == digit)
        .cloned();
    {
        let best = best.clone();
        let original = original.clone();
        use_effect_with(
            (live_now.clone(), original_now.clone()),
            move |(result, orig)| {
                if let (Some(r), Some(o)) = (result, orig) {
                    if let (Ok(p), Ok(q)) = (&r.prediction, &o.answer) {
                        if p.label != q.label {
                            if let Ok(stats) = measure(&original, &r.image) {
                                offer(
                                    &best,
                                    Record {
                                        model: r.model,
                                        digit: r.digit,
                                        image: r.image.clone(),
                                        stats,
                                        from: q.label,
                                        to: p.label,
                                        source: "your edit",
                                    },
                                );
                            }
                        }
                    }
                }
            },
        );
    }

    // The patch search, its sides dealt to the pool's workers.
    let search = use_pooled_job::<PatchAnswer>(merge_patch_parts);
    let searched = use_mut_ref(|| None::<(Architecture, usize, Rc<Vec<f32>>)>);
    {
        // A new model or digit: stop a search under way and forget the last answer.
        let (job, cancel) = (search.state.clone(), search.cancel.clone());
        use_effect_with((model, digit), move |_| {
            cancel_now(&cancel);
            job.set(LongJob::Idle);
        });
    }
    let size_parts = split_sizes(*search_size, search.workers);
    {
        let (best, searched) = (best.clone(), searched.clone());
        use_effect_with((*search.state).clone(), move |job| {
            if let LongJob::Done(PatchAnswer {
                model: answered,
                original,
                found: Some(f),
                ..
            }) = job
            {
                if let Some((m, d, image)) = searched.borrow().as_ref() {
                    if *answered != m.name() {
                        return;
                    }
                    if let Ok(patched) = f.patch.applied(image) {
                        offer(
                            &best,
                            Record {
                                model: *m,
                                digit: *d,
                                image: Rc::new(patched),
                                stats: f.stats,
                                from: *original,
                                to: f.label,
                                source: "patch search",
                            },
                        );
                    }
                }
            }
        });
    }
    let on_search = {
        let (start, searched, original, size_parts) = (
            search.start.clone(),
            searched.clone(),
            original.clone(),
            size_parts.clone(),
        );
        let max_size = *search_size;
        Callback::from(move |_: MouseEvent| {
            *searched.borrow_mut() = Some((model, digit, original.clone()));
            let rows = (1..=max_size).map(|s| SIDE + 1 - s).sum();
            let jobs = size_parts
                .iter()
                .map(|sizes| Job::SmallestPatch {
                    model: model.name().to_string(),
                    image: original.as_ref().clone(),
                    max_size,
                    sizes: sizes.clone(),
                })
                .collect();
            start.emit((jobs, rows))
        })
    };

    // Pointer input on the canvas.
    let to_image = {
        let canvas = canvas.clone();
        move |e: &PointerEvent| crate::web::widgets::pointer_at(&canvas, e, SIDE)
    };
    let brush = match *tool {
        EditTool::Eraser => Tool::Eraser,
        _ => Tool::Ink,
    };
    let onpointerdown = {
        let (editor, redraw, to_image) = (editor.clone(), redraw.clone(), to_image.clone());
        let (tool, radius, size, white) = (*tool, *radius, *patch_size, *patch_white);
        Callback::from(move |e: PointerEvent| {
            e.prevent_default();
            let Some(p) = to_image(&e) else { return };
            let mut ed = editor.borrow_mut();
            if ed.digit.is_none() {
                return;
            }
            match tool {
                EditTool::Patch => {
                    let value = if white { 1.0 } else { 0.0 };
                    let patched = Patch::centred_at(p.0, p.1, size, value)
                        .and_then(|q| q.applied(&ed.current));
                    match patched {
                        Ok(image) => ed.set(image),
                        Err(err) => web_sys::console::warn_1(&err.to_string().into()),
                    }
                }
                EditTool::Brush | EditTool::Eraser => {
                    if let Some(target) = e.target_dyn_into::<web_sys::Element>() {
                        let _ = target.set_pointer_capture(e.pointer_id());
                    }
                    let mut image = ed.current.clone();
                    if stroke(&mut image, p, p, radius, brush).is_ok() {
                        ed.set(image);
                        ed.last = Some(p);
                    }
                }
            }
            drop(ed);
            redraw.force_update();
        })
    };
    let onpointermove = {
        let (editor, redraw) = (editor.clone(), redraw.clone());
        let radius = *radius;
        Callback::from(move |e: PointerEvent| {
            let Some(last) = editor.borrow().last else {
                return;
            };
            e.prevent_default();
            let Some(p) = to_image(&e) else { return };
            let mut ed = editor.borrow_mut();
            // One stroke is one undo step: continue it in place.
            if stroke(&mut ed.current, last, p, radius, brush).is_ok() {
                ed.last = Some(p);
                ed.version += 1;
            }
            drop(ed);
            redraw.force_update();
        })
    };
    let onpointerup = {
        let editor = editor.clone();
        Callback::from(move |_: PointerEvent| editor.borrow_mut().last = None)
    };

    let on_undo = {
        let (editor, redraw) = (editor.clone(), redraw.clone());
        Callback::from(move |_: MouseEvent| {
            let mut ed = editor.borrow_mut();
            if let Some(previous) = ed.undo.pop() {
                ed.current = previous;
                ed.last = None;
                ed.version += 1;
            }
            drop(ed);
            redraw.force_update();
        })
    };
    let on_reset = {
        let (editor, redraw) = (editor.clone(), redraw.clone());
        Callback::from(move |_: MouseEvent| {
            let mut ed = editor.borrow_mut();
            if ed.current != *ed.original {
                let original = ed.original.as_ref().clone();
                ed.set(original);
            }
            ed.last = None;
            drop(ed);
            redraw.force_update();
        })
    };
    let can_undo = !editor.borrow().undo.is_empty();

    let choose_tool = |t: EditTool| {
        let tool = tool.clone();
        Callback::from(move |_: MouseEvent| tool.set(t))
    };
    let on_radius = {
        let radius = radius.clone();
        Callback::from(move |e: InputEvent| {
            let input: web_sys::HtmlInputElement = e.target_unchecked_into();
            if let Ok(v) = input.value().parse::<f32>() {
                if v.is_finite() {
                    radius.set(v.clamp(*RADII.start(), 3.0));
                }
            }
        })
    };
    // Patch sides typed or chosen: 1 to the largest the search tries.
    let set_size = |size: &UseStateHandle<usize>| {
        let size = size.clone();
        move |e: &Event| {
            if let Ok(v) = control_value(e).parse::<usize>() {
                size.set(v.clamp(1, MAX_SEARCH_SIZE));
            }
        }
    };
    let on_patch_size = {
        let set = set_size(&patch_size);
        Callback::from(move |e: InputEvent| set(&e))
    };
    let on_patch_value = {
        let white = patch_white.clone();
        Callback::from(move |e: Event| {
            let select: web_sys::HtmlSelectElement = e.target_unchecked_into();
            white.set(select.value() != "black");
        })
    };
    let on_search_size = {
        let set = set_size(&search_size);
        Callback::from(move |e: Event| set(&e))
    };
    let apply_patch = {
        let (editor, redraw, searched) = (editor.clone(), redraw.clone(), searched.clone());
        move |patch: Patch| {
            let editor = editor.clone();
            let (redraw, searched) = (redraw.clone(), searched.clone());
            Callback::from(move |_: MouseEvent| {
                let same = searched
                    .borrow()
                    .as_ref()
                    .is_some_and(|(m, d, _)| *m == model && *d == digit);
                let mut ed = editor.borrow_mut();
                if same {
                    if let Ok(image) = patch.applied(&ed.original) {
                        ed.set(image);
                    }
                }
                drop(ed);
                redraw.force_update();
            })
        }
    };

    let on_model = {
        let (set_state, state) = (set_state.clone(), state.clone());
        Callback::from(move |model: Architecture| {
            set_state.emit(StructuralState {
                model,
                ..state.clone()
            })
        })
    };
    let go_digit = |d: usize| {
        let (set_state, state) = (set_state.clone(), state.clone());
        Callback::from(move |_: MouseEvent| {
            set_state.emit(StructuralState {
                digit: d,
                ..state.clone()
            })
        })
    };
    let on_pick = {
        let (set_state, state) = (set_state.clone(), state.clone());
        Callback::from(move |d: usize| {
            set_state.emit(StructuralState {
                digit: d,
                ..state.clone()
            })
        })
    };

    // Panels.
    let original_line = match &original_now {
        None => html! { <span class="muted">{"…"}</span> },
        Some(About { answer: Ok(p), .. }) => html! {
            <span>{"unedited: "}<strong data-testid="original-label">{p.label}</strong>
                {format!(" ({:.3})", p.probabilities[p.label])}</span>
        },
        Some(About { answer: Err(_), .. }) => html! {},
    };
    let original_label = original_now
        .as_ref()
        .and_then(|o| o.answer.as_ref().ok())
        .map(|p| p.label);
    let prediction_panel = match (&digits, &live_now) {
        (Some(Err(_)), _) => html! {},
        (_, None) => html! { <p class="muted">{"Classifying…"}</p> },
        (
            _,
            Some(LiveResult {
                prediction: Err(m), ..
            }),
        ) => html! {
            <Notice kind="error">{format!("Model \u{201c}{}\u{201d} is unavailable: {m}", model.name())}</Notice>
        },
        (
            _,
            Some(LiveResult {
                prediction: Ok(p), ..
            }),
        ) => {
            let flipped = original_label.is_some_and(|l| l != p.label);
            html! {
                <>
                    <PredictionBars prediction={p.clone()} truth={truth} />
                    <p class={classes!("flip-state", flipped.then_some("flipped"))} data-testid="flip-state">
                        { match original_label {
                            Some(l) if flipped => format!("The edit changed the label: {l} → {}", p.label),
                            Some(l) => format!("Still {l}"),
                            None => String::new(),
                        } }
                    </p>
                </>
            }
        }
    };

    let best_panel = match &*best {
        None => html! {
            <p class="muted" data-testid="smallest-edit">{"No label-changing edit yet. Draw on the digit, or run the search."}</p>
        },
        Some(r) => html! {
            <div class="smallest-edit" data-testid="smallest-edit">
                <DigitCanvas pixels={r.image.clone()} class="thumb" label="the smallest label-changing edit" />
                <dl class="readouts">
                    <dt>{"label"}</dt><dd>{format!("{} → {}", r.from, r.to)}</dd>
                    <dt>{"pixels changed"}</dt><dd data-testid="smallest-pixels">{r.stats.pixels}</dd>
                    <dt>{"‖x′ − x‖₂"}</dt><dd data-testid="smallest-l2">{fmt_l2(r.stats.l2)}</dd>
                    <dt>{"found by"}</dt><dd>{format!("{} (digit #{}, {})", r.source, r.digit, r.model.name())}</dd>
                </dl>
            </div>
        },
    };

    let searched_here = searched
        .borrow()
        .as_ref()
        .is_some_and(|(m, d, _)| *m == model && *d == digit);
    let search_panel = match &*search.state {
        LongJob::Idle => html! {},
        LongJob::Running { done, total, .. } => html! {
            <div class="row" data-testid="patch-running" data-workers={size_parts.len().to_string()}>
                <Progress done={*done} total={*total} />
                <span class="small muted">{workers_text(size_parts.len())}</span>
                <button type="button" class="secondary" onclick={search.cancel.clone()} data-testid="patch-cancel">{"Cancel"}</button>
            </div>
        },
        LongJob::Cancelled => {
            html! { <p class="muted" data-testid="patch-result">{"Search cancelled."}</p> }
        }
        LongJob::Failed(m) => html! {
            <div data-testid="patch-result"><Notice kind="error">{format!("The search failed: {m}")}</Notice></div>
        },
        // An answer for another model or digit (a search that ended before its cancel arrived).
        LongJob::Done(a) if a.model != model.name() || !searched_here => html! {},
        LongJob::Done(PatchAnswer {
            found: None,
            max_size,
            original: from,
            evaluations,
            millis,
            ..
        }) => html! {
            <p data-testid="patch-result">{format!(
                "No square patch up to {max_size}×{max_size} changes the label {from} ({evaluations} evaluations, {:.1} s).",
                millis / 1000.0
            )}</p>
        },
        LongJob::Done(PatchAnswer {
            found: Some(f),
            original: from,
            evaluations,
            millis,
            ..
        }) => {
            let patched = f
                .patch
                .applied(&original)
                .map(Rc::new)
                .unwrap_or_else(|_| original.clone());
            let colour = if f.patch.value >= 0.5 {
                "white"
            } else {
                "black"
            };
            html! {
                <div class="patch-result" data-testid="patch-result">
                    <DigitCanvas pixels={patched} class="thumb" label="the digit with the smallest label-changing patch" />
                    <dl class="readouts">
                        <dt>{"patch"}</dt>
                        <dd>{format!("{0}×{0} {colour} at row {1}, column {2}", f.patch.size, f.patch.row, f.patch.col)}</dd>
                        <dt>{"label"}</dt><dd data-testid="patch-labels">{format!("{from} → {}", f.label)}</dd>
                        <dt>{"pixels changed"}</dt><dd data-testid="patch-pixels">{f.stats.pixels}</dd>
                        <dt>{"‖x′ − x‖₂"}</dt><dd data-testid="patch-l2">{fmt_l2(f.stats.l2)}</dd>
                        <dt>{"search"}</dt><dd>{format!("{evaluations} evaluations, {:.1} s", millis / 1000.0)}</dd>
                    </dl>
                    <button type="button" class="secondary" onclick={apply_patch(f.patch)} data-testid="patch-apply">
                        {"Put it on the canvas"}</button>
                </div>
            }
        }
    };
    let searching = matches!(&*search.state, LongJob::Running { .. });

    let deepfool_panel = match deepfool
        .as_ref()
        .filter(|d| d.model == model && d.digit == digit)
    {
        None => html! { <p class="muted">{"DeepFool is running…"}</p> },
        Some(About { answer: Err(m), .. }) => html! {
            <p class="muted">{format!("DeepFool is unavailable: {m}")}</p>
        },
        Some(About { answer: Ok(d), .. }) => html! {
            <p>
                {"DeepFool (ℓ₂) on the same digit: ‖r‖₂ = "}
                <strong data-testid="deepfool-l2">{fmt_l2(d.l2)}</strong>
                {format!(", changing {} pixels by more than 1/255", d.pixels)}
                { if d.success {
                    original_label.map(|l| format!(" ({l} → {})", d.label)).unwrap_or_default()
                } else {
                    " (it did not change the label)".to_string()
                } }
                {". Invisible noise everywhere versus a visible change in a few pixels."}
            </p>
        },
    };

    let digit_panel = match &digits {
        None => html! { <p class="muted">{"Loading the held-out digits…"}</p> },
        Some(Err(e)) => html! {
            <Notice kind="error">{format!("The digits could not be loaded: {e}")}</Notice>
        },
        Some(Ok(d)) => html! {
            <Gallery digits={d.clone()} selected={Some(digit)} on_pick={on_pick} />
        },
    };
    let caption = match truth {
        Some(t) => format!("held-out digit #{digit}, true label {t}"),
        None => format!("held-out digit #{digit}"),
    };
    let difference: Rc<Vec<f64>> = Rc::new(
        current
            .iter()
            .zip(original.iter())
            .map(|(a, b)| (a - b) as f64)
            .collect(),
    );
    let tool_button = |t: EditTool, id: &'static str, text: &'static str| {
        html! {
            <button type="button" class={classes!("tool", (*tool == t).then_some("active"))}
                aria-pressed={(*tool == t).to_string()} onclick={choose_tool(t)} data-testid={id}>{text}</button>
        }
    };

    html! {
        <section class="demo structural" data-testid="structural">
            if !embed {
                <div class="demo-head">
                    <h1>{"Structural perturbations"}</h1>
                    <p class="explain">
                        {"Adversarial noise such as DeepFool's changes almost every pixel by an invisible amount. "}
                        {"But a network can also change its answer under small structural edits: a stroke, a bit of erased ink or a small square patch, \
                          changes a person sees but ignores, because the digit stays what it is. "}
                        {"Draw on the digit with the brush or the eraser, or place patches, and watch the prediction; the size of your edit is \
                          counted in changed pixels and measured by its energy ‖x′ − x‖₂. "}
                        {"The search tries every black or white square up to the chosen size, at every position, and reports the label-changing \
                          one that changes the fewest pixels."}
                    </p>
                    {crate::web::math::formula(crate::formula::STRUCTURAL_SIZE)}<p class="small muted">{"A pixel counts as changed when it moves by more than 1/255."}</p>
                </div>
            }
            { for parsed.notices.iter().map(|n| html! { <Notice kind="warning">{n.clone()}</Notice> }) }
            <ModelPicker model={model} on_pick={on_model} />
            <ExportFigure name="structural" title="Structural perturbations">
                <div class="structural-grid">
                    <div class="panel structural-editor">
                        <div class="row structural-digit">
                            <button type="button" class="secondary" disabled={digit == 0}
                                onclick={go_digit(digit.saturating_sub(1))} data-testid="digit-prev">{"‹"}</button>
                            <span class="caption" data-testid="digit-caption">{caption}</span>
                            <button type="button" class="secondary" disabled={digit + 1 >= HELD_OUT_COUNT}
                                onclick={go_digit((digit + 1).min(HELD_OUT_COUNT - 1))} data-testid="digit-next">{"›"}</button>
                        </div>
                        <canvas ref={canvas} class={classes!("edit-canvas", format!("tool-{}", match *tool {
                                EditTool::Brush => "brush", EditTool::Eraser => "eraser", EditTool::Patch => "patch" }))}
                            data-testid="edit-canvas" width="28" height="28" role="img"
                            aria-label="the digit x′ being edited: draw with the mouse, a pen or a finger"
                            onpointerdown={onpointerdown} onpointermove={onpointermove}
                            onpointerup={onpointerup.clone()} onpointercancel={onpointerup.clone()}
                            onlostpointercapture={onpointerup} />
                        <div class="tools" role="toolbar" aria-label="editing tools">
                            {tool_button(EditTool::Brush, "tool-brush", "Brush (ink)")}
                            {tool_button(EditTool::Eraser, "tool-eraser", "Eraser")}
                            {tool_button(EditTool::Patch, "tool-patch", "Patch")}
                            <button type="button" class="secondary" disabled={!can_undo} onclick={on_undo} data-testid="undo">{"Undo"}</button>
                            <button type="button" class="secondary" onclick={on_reset} data-testid="reset">{"Reset"}</button>
                        </div>
                        if *tool == EditTool::Patch {
                            <div class="tool-settings">
                                <label>{format!("Patch {0}×{0} ", *patch_size)}
                                    <input type="range" min="1" max={MAX_SEARCH_SIZE.to_string()} step="1" value={patch_size.to_string()}
                                        oninput={on_patch_size} data-testid="patch-size" aria-label="patch size"
                                        aria-valuetext={format!("patch size, {0}×{0}", *patch_size)} />
                                </label>
                                <label>{"Colour "}
                                    <select onchange={on_patch_value} data-testid="patch-value" aria-label="patch colour">
                                        <option value="white" selected={*patch_white}>{"white (ink)"}</option>
                                        <option value="black" selected={!*patch_white}>{"black (erase)"}</option>
                                    </select>
                                </label>
                            </div>
                        } else {
                            <div class="tool-settings">
                                <label>{format!("Brush radius {:.2} px ", *radius)}
                                    <input type="range" min={RADII.start().to_string()} max="3" step="0.25" value={radius.to_string()}
                                        oninput={on_radius} data-testid="radius" aria-label="brush radius"
                                        aria-valuetext={format!("brush radius, {:.2} px", *radius)} />
                                </label>
                            </div>
                        }
                    </div>
                    <div class="panel structural-prediction">
                        <h2>{format!("Prediction of {}", model.name())}</h2>
                        <p class="small">{original_line}</p>
                        {prediction_panel}
                        <h3>{"This edit"}</h3>
                        <dl class="readouts">
                            <dt>{"pixels changed"}</dt><dd data-testid="edit-pixels">{stats.pixels}</dd>
                            <dt>{"‖x′ − x‖₂"}</dt><dd data-testid="edit-l2">{fmt_l2(stats.l2)}</dd>
                        </dl>
                        <div class="structural-diff">
                            <PerturbationCanvas values={difference} label="x′ − x: added ink in red, erased ink in blue" />
                            <p class="caption">{"x′ − x"}</p>
                        </div>
                    </div>
                    <div class="panel structural-search">
                        <h2>{"Smallest label-changing edit"}</h2>
                        {best_panel}
                        <h3>{"Smallest patch"}</h3>
                        <div class="row">
                            <label>{"up to "}
                                <select onchange={on_search_size} data-testid="search-size" aria-label="largest patch side" disabled={searching}>
                                    { for (1..=MAX_SEARCH_SIZE).map(|s| html! {
                                        <option value={s.to_string()} selected={s == *search_size}>{format!("{s}×{s}")}</option>
                                    }) }
                                </select>
                            </label>
                            <button type="button" onclick={on_search} disabled={searching || !has_digit} data-testid="find-patch">
                                {"Find the smallest patch"}</button>
                        </div>
                        {search_panel}
                        <h3>{"For scale"}</h3>
                        {deepfool_panel}
                    </div>
                </div>
            </ExportFigure>
            <div class="panel structural-gallery">
                <h2>{"Choose a held-out digit"}</h2>
                {digit_panel}
            </div>
        </section>
    }
}
