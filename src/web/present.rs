//! Teaching with the lab: presenter mode, the keyboard, and the lecture path.
//!
//! The stage's state lives in the page query, before the hash (`?present&path=lecture&step=3`),
//! so that it survives the demos rewriting their own settings (after the hash) and a reload:
//! - presenter mode (`?present`, key `M`): the figure and its main controls fill the screen at
//!   projector sizes, the explanation folded away (key `I` shows it), full screen on `F`;
//! - the keys work on every page, in and out of presenter mode: `←`/`→` move the page's main
//!   slider, `Space` runs or cancels its main job, `N`/`P` step through the lecture path, `?`
//!   lists the keys;
//! - the lecture path ([`crate::lecture`]): the bar under the header says where one is and what
//!   to notice.

use crate::lecture::{self, Path};
use crate::route::parse_query;
use crate::web::app::Route;
use gloo::events::{EventListener, EventListenerOptions};
use std::rc::Rc;
use wasm_bindgen::JsCast;
use yew::prelude::*;
use yew_router::prelude::*;

/// Where the lecturer stands: presenter mode, the explanation and the keys' list shown, the
/// lecture path and its step.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Stage {
    pub present: bool,
    /// In presenter mode: whether the explanation is unfolded.
    pub explain: bool,
    /// Whether the list of keys is open.
    pub help: bool,
    pub path: Option<Rc<Path>>,
    /// The current step of `path` (from 0).
    pub step: usize,
    /// Why the link's path could not be read.
    pub path_error: Option<String>,
}

/// What changes the stage.
pub enum StageAction {
    TogglePresent,
    ToggleExplain,
    Help(bool),
    /// Go to a step of the current path.
    Step(usize),
    /// Start a path at a step.
    Start(Rc<Path>, usize),
    EndPath,
}

impl Reducible for Stage {
    type Action = StageAction;

    fn reduce(self: Rc<Self>, action: StageAction) -> Rc<Self> {
        let mut s = (*self).clone();
        match action {
            StageAction::TogglePresent => {
                s.present = !s.present;
                s.explain = false;
            }
            StageAction::ToggleExplain => s.explain = !s.explain,
            StageAction::Help(open) => s.help = open,
            StageAction::Step(i) => {
                if let Some(p) = &s.path {
                    s.step = i.min(p.steps.len() - 1);
                }
            }
            StageAction::Start(path, i) => {
                s.step = i.min(path.steps.len() - 1);
                s.path = Some(path);
                s.path_error = None;
            }
            StageAction::EndPath => {
                s.path = None;
                s.step = 0;
                // Also the dismiss of a damaged path's error bar.
                s.path_error = None;
            }
        }
        Rc::new(s)
    }
}

/// The window's location: its query (before the hash) and its hash without `#`.
pub fn location() -> (String, String) {
    let loc = web_sys::window().map(|w| w.location());
    let search = loc
        .as_ref()
        .and_then(|l| l.search().ok())
        .unwrap_or_default();
    let hash = loc.and_then(|l| l.hash().ok()).unwrap_or_default();
    (search, hash.trim_start_matches('#').to_string())
}

impl Stage {
    /// The stage the page's address asks for.
    pub fn from_location() -> Self {
        let (search, hash) = location();
        let pairs = parse_query(&search);
        let get = |k: &str| {
            pairs
                .iter()
                .rev()
                .find(|(key, _)| key == k)
                .map(|(_, v)| v.as_str())
        };
        let present = get("present").is_some_and(|v| !matches!(v, "0" | "false" | "no"));
        let mut stage = Stage {
            present,
            ..Stage::default()
        };
        if let Some(code) = get("path") {
            match Path::decode(code) {
                Ok(path) => {
                    let step = get("step")
                        .and_then(|s| s.parse::<usize>().ok())
                        .map(|s| s.saturating_sub(1))
                        .or_else(|| path.find(&hash))
                        .unwrap_or(0)
                        .min(path.steps.len() - 1);
                    stage.step = step;
                    stage.path = Some(Rc::new(path));
                }
                Err(e) => stage.path_error = Some(e.for_people()),
            }
        }
        stage
    }

    /// The page query this stage writes.
    fn search(&self, current: &str) -> String {
        lecture::page_query(current, self.present, self.path.as_deref(), self.step)
    }
}

/// The stage and a way to change it, shared by the shell's components.
pub type StageHandle = UseReducerHandle<Stage>;

/// Rewrites the page query (before the hash) without a reload, keeping the router's history
/// state and the hash.
pub fn sync_search(stage: &Stage) {
    let Some(w) = web_sys::window() else { return };
    let (search, hash) = location();
    let wanted = stage.search(&search);
    if wanted == search {
        return;
    }
    let pathname = w.location().pathname().unwrap_or_default();
    let url = if hash.is_empty() {
        format!("{pathname}{wanted}")
    } else {
        format!("{pathname}{wanted}#{hash}")
    };
    if let Ok(history) = w.history() {
        let state = history.state().unwrap_or(wasm_bindgen::JsValue::NULL);
        let _ = history.replace_state_with_url(&state, "", Some(&url));
    }
}

/// Opens a link of a path (`/route?query`) in the app.
pub fn open_link(navigator: &Navigator, link: &str) {
    let (route, query) = link.split_once('?').unwrap_or((link, ""));
    let route = Route::recognize(route).unwrap_or(Route::NotFound);
    let pairs = parse_query(query);
    if pairs.is_empty() || navigator.push_with_query(&route, &pairs).is_err() {
        navigator.push(&route);
    }
}

/// Goes to step `i` of the stage's path (or of `path`, starting it).
pub fn go_to_step(stage: &StageHandle, navigator: &Navigator, path: Option<Rc<Path>>, i: usize) {
    let path = match path.or_else(|| stage.path.clone()) {
        Some(p) => p,
        None => return,
    };
    let i = i.min(path.steps.len() - 1);
    let link = path.steps[i].link.clone();
    stage.dispatch(StageAction::Start(path, i));
    open_link(navigator, &link);
}

/// The controls the keys act on, per page: the main slider, the button that runs the main job,
/// and the one that cancels it (their `data-testid`s).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MainControls {
    pub slider: Option<&'static str>,
    pub run: Option<&'static str>,
    pub cancel: Option<&'static str>,
    /// What `←`/`→` change, for the list of keys.
    pub slider_name: &'static str,
}

/// The main controls of a page.
pub fn main_controls(route: &Route) -> MainControls {
    let c = |slider, slider_name, run, cancel| MainControls {
        slider,
        run,
        cancel,
        slider_name,
    };
    match route {
        Route::Attacks => c(Some("t-slider"), "t", None, None),
        Route::Universal => c(
            Some("xi"),
            "the radius ξ",
            Some("compute-live"),
            Some("universal-cancel"),
        ),
        Route::Linearity => c(Some("eps-slider"), "ε", None, None),
        Route::Structural => c(
            Some("patch-size"),
            "the patch size",
            Some("find-patch"),
            Some("patch-cancel"),
        ),
        Route::Explanations => c(
            Some("eps-slider"),
            "ε",
            Some("explain-run"),
            Some("explain-cancel"),
        ),
        Route::FalseStructures => c(None, "", Some("fs-deepfool"), Some("fs-deepfool-cancel")),
        Route::NonRobust => c(None, "", Some("nr-measure"), Some("nr-measure-cancel")),
        Route::Mri => c(Some("rate"), "the sampling rate", None, None),
        Route::Hallucinations => c(
            Some("strength"),
            "the strength t",
            Some("search-run"),
            Some("search-cancel"),
        ),
        Route::Kernel => c(Some("kernel-t"), "t", None, None),
        Route::Details => c(Some("detail-size"), "the detail's size", None, None),
        Route::Sweep => c(None, "", Some("sweep-compute"), Some("sweep-cancel")),
        Route::Classify => c(None, "", Some("evaluate"), Some("cancel")),
        _ => MainControls::default(),
    }
}

fn by_testid(id: &str) -> Option<web_sys::HtmlElement> {
    web_sys::window()?
        .document()?
        .query_selector(&format!("[data-testid=\"{id}\"]"))
        .ok()
        .flatten()?
        .dyn_into()
        .ok()
}

/// Moves a range input by about a twentieth of its range (a whole number of its steps) and
/// tells the page, as a user's drag would.
fn nudge(id: &str, direction: f64) -> bool {
    let Some(input) = by_testid(id).and_then(|e| e.dyn_into::<web_sys::HtmlInputElement>().ok())
    else {
        return false;
    };
    if input.disabled() {
        return false;
    }
    let num = |s: String, d: f64| s.parse::<f64>().unwrap_or(d);
    let (min, max) = (num(input.min(), 0.0), num(input.max(), 100.0));
    let step = num(input.step(), 1.0).max(1e-9);
    let value = num(input.value(), min);
    let stride = (((max - min) / 20.0 / step).round()).max(1.0) * step;
    let next = (value + direction * stride).clamp(min, max);
    // Snap to the input's grid, as the browser does for a drag.
    let snapped = min + ((next - min) / step).round() * step;
    let decimals = input.step().split_once('.').map_or(0, |(_, f)| f.len());
    input.set_value(&format!("{:.*}", decimals, snapped.clamp(min, max)));
    for kind in ["input", "change"] {
        let init = web_sys::EventInit::new();
        init.set_bubbles(true);
        if let Ok(e) = web_sys::Event::new_with_event_init_dict(kind, &init) {
            let _ = input.dispatch_event(&e);
        }
    }
    true
}

fn visible(e: &web_sys::HtmlElement) -> bool {
    e.offset_parent().is_some() && !e.has_attribute("disabled")
}

/// Cancels the page's running job, or starts its main one.
fn run_or_cancel(c: &MainControls) -> bool {
    if let Some(cancel) = c.cancel.and_then(by_testid).filter(visible) {
        cancel.click();
        return true;
    }
    if let Some(run) = c.run.and_then(by_testid).filter(visible) {
        run.click();
        return true;
    }
    false
}

/// Whether keys typed into `target` belong to it (text fields, selects, sliders, buttons).
fn owns_keys(target: Option<web_sys::EventTarget>, key: &str) -> bool {
    let Some(el) = target.and_then(|t| t.dyn_into::<web_sys::Element>().ok()) else {
        return false;
    };
    let tag = el.tag_name().to_ascii_lowercase();
    if el.has_attribute("contenteditable") || matches!(tag.as_str(), "textarea" | "select") {
        return true;
    }
    if tag == "input" {
        let kind = el.get_attribute("type").unwrap_or_default();
        // Letters go to text fields; a focused slider keeps its own arrows.
        return kind != "range" || key.starts_with("Arrow") || key == " ";
    }
    key == " " && matches!(tag.as_str(), "button" | "a" | "summary")
}

/// Toggles full screen for the whole page.
pub fn toggle_fullscreen() {
    let Some(doc) = web_sys::window().and_then(|w| w.document()) else {
        return;
    };
    if doc.fullscreen_element().is_some() {
        doc.exit_fullscreen();
    } else if let Some(root) = doc.document_element() {
        let _ = root.request_fullscreen();
    }
}

/// Listens for the lab's keys on the whole window.
#[function_component(StageKeys)]
pub fn stage_keys() -> Html {
    let stage = use_context::<StageHandle>().expect("the stage is provided by the shell");
    let navigator = use_navigator();
    let route = use_route::<Route>().unwrap_or(Route::Home);
    {
        let stage = stage.clone();
        use_effect_with((route.clone(), stage.clone()), move |(route, _)| {
            let route = route.clone();
            let window = web_sys::window().expect("a window");
            let options = EventListenerOptions::enable_prevent_default();
            let listener = EventListener::new_with_options(&window, "keydown", options, move |e| {
                let Some(e) = e.dyn_ref::<web_sys::KeyboardEvent>() else {
                    return;
                };
                if e.ctrl_key() || e.meta_key() || e.alt_key() || e.default_prevented() {
                    return;
                }
                let key = e.key();
                if owns_keys(e.target(), &key) {
                    return;
                }
                let controls = main_controls(&route);
                let handled = match key.as_str() {
                    "ArrowLeft" | "ArrowRight" => controls
                        .slider
                        .is_some_and(|s| nudge(s, if key == "ArrowLeft" { -1.0 } else { 1.0 })),
                    " " => run_or_cancel(&controls),
                    "n" | "N" | "p" | "P" => {
                        let forward = key.eq_ignore_ascii_case("n");
                        if let Some(nav) = &navigator {
                            match &stage.path {
                                Some(p) => {
                                    let i = if forward {
                                        (stage.step + 1).min(p.steps.len() - 1)
                                    } else {
                                        stage.step.saturating_sub(1)
                                    };
                                    if i != stage.step {
                                        go_to_step(&stage, nav, None, i);
                                    }
                                }
                                None => {
                                    // No path yet: the lab's own, from this page on.
                                    let path = Rc::new(Path::lectures());
                                    let (_, hash) = location();
                                    let i = match path.find(&hash) {
                                        Some(i) if forward => i + 1,
                                        Some(i) => i.saturating_sub(1),
                                        None => 0,
                                    };
                                    go_to_step(&stage, nav, Some(path), i);
                                }
                            }
                        }
                        true
                    }
                    "?" => {
                        stage.dispatch(StageAction::Help(!stage.help));
                        true
                    }
                    "Escape" if stage.help => {
                        stage.dispatch(StageAction::Help(false));
                        true
                    }
                    "m" | "M" => {
                        stage.dispatch(StageAction::TogglePresent);
                        true
                    }
                    "i" | "I" if stage.present => {
                        stage.dispatch(StageAction::ToggleExplain);
                        true
                    }
                    "f" | "F" => {
                        toggle_fullscreen();
                        true
                    }
                    _ => false,
                };
                if handled {
                    e.prevent_default();
                }
            });
            move || drop(listener)
        });
    }
    html! {}
}

/// The bar under the header while a lecture path is on: the step, what to notice, and the way
/// on.
#[function_component(LectureBar)]
pub fn lecture_bar() -> Html {
    let stage = use_context::<StageHandle>().expect("the stage is provided by the shell");
    let navigator = use_navigator();
    if let Some(e) = &stage.path_error {
        let end = {
            let stage = stage.clone();
            Callback::from(move |_: MouseEvent| stage.dispatch(StageAction::EndPath))
        };
        return html! {
            <div class="lecture-bar error" role="alert" data-testid="path-error">
                <span>{e.clone()}</span>
                <button type="button" class="secondary" onclick={end}>{"Dismiss"}</button>
            </div>
        };
    }
    let (Some(path), Some(nav)) = (stage.path.clone(), navigator) else {
        return html! {};
    };
    let i = stage.step;
    let n = path.steps.len();
    let go = |to: usize| {
        let (stage, nav) = (stage.clone(), nav.clone());
        Callback::from(move |_: MouseEvent| go_to_step(&stage, &nav, None, to))
    };
    let pick = {
        let (stage, nav) = (stage.clone(), nav.clone());
        Callback::from(move |e: Event| {
            if let Some(s) = e.target_dyn_into::<web_sys::HtmlSelectElement>() {
                if let Ok(to) = s.value().parse::<usize>() {
                    go_to_step(&stage, &nav, None, to);
                }
            }
        })
    };
    let end = {
        let stage = stage.clone();
        Callback::from(move |_: MouseEvent| stage.dispatch(StageAction::EndPath))
    };
    let step = &path.steps[i];
    html! {
        <nav class="lecture-bar" aria-label="Lecture path" data-testid="lecture-bar">
            <button type="button" class="secondary" onclick={go(i.saturating_sub(1))} disabled={i == 0}
                aria-label="Previous step (P)" data-testid="path-prev">{"◀"}</button>
            <label class="path-pick">
                <span class="visually-hidden">{"Step of the lecture path"}</span>
                <select onchange={pick} data-testid="path-select">
                    { for (0..n).map(|k| html! {
                        <option value={k.to_string()} selected={k == i}>{format!("{}. {}", k + 1, path.title(k))}</option>
                    }) }
                </select>
            </label>
            <span class="path-count" data-testid="path-count">{format!("{} / {n}", i + 1)}</span>
            <span class="path-notice" data-testid="path-notice">{step.notice.clone()}</span>
            <button type="button" class="secondary" onclick={go((i + 1).min(n - 1))} disabled={i + 1 == n}
                aria-label="Next step (N)" data-testid="path-next">{"▶"}</button>
            <button type="button" class="link" onclick={end} data-testid="path-end">{"End path"}</button>
        </nav>
    }
}

/// The list of keys (`?`).
#[function_component(KeysHelp)]
pub fn keys_help() -> Html {
    let stage = use_context::<StageHandle>().expect("the stage is provided by the shell");
    let route = use_route::<Route>().unwrap_or(Route::Home);
    if !stage.help {
        return html! {};
    }
    let close = {
        let stage = stage.clone();
        Callback::from(move |_: MouseEvent| stage.dispatch(StageAction::Help(false)))
    };
    let c = main_controls(&route);
    let slider = if c.slider.is_some() {
        format!("move {} on this page", c.slider_name)
    } else {
        "move the main slider (this page has none)".into()
    };
    let space = if c.run.is_some() {
        "run the main computation, or cancel it while it runs"
    } else {
        "run or cancel the main computation (this page computes as you change it)"
    };
    let keys: [(&str, String); 9] = [
        ("← →", slider),
        ("Space", space.into()),
        (
            "N",
            "next step of the lecture path (starts the lectures' path)".into(),
        ),
        ("P", "previous step".into()),
        ("M", "presenter mode on or off".into()),
        ("I", "show or fold the explanation in presenter mode".into()),
        ("F", "full screen on or off".into()),
        ("?", "this list of keys".into()),
        (
            "Tab",
            "every control, in order, with a visible focus ring".into(),
        ),
    ];
    html! {
        <div class="keys-help" role="dialog" aria-modal="true" aria-labelledby="keys-title" data-testid="keys-help">
            <div class="keys-card">
                <h2 id="keys-title">{"Keys"}</h2>
                <dl>
                    { for keys.iter().map(|(k, what)| html! { <><dt><kbd>{*k}</kbd></dt><dd>{what.clone()}</dd></> }) }
                </dl>
                <button type="button" onclick={close} data-testid="keys-close">{"Close (Esc)"}</button>
            </div>
        </div>
    }
}

/// The slim bar of presenter mode: where one is, and the stage's switches.
#[function_component(PresenterBar)]
pub fn presenter_bar() -> Html {
    let stage = use_context::<StageHandle>().expect("the stage is provided by the shell");
    let act = |a: fn() -> StageAction| {
        let stage = stage.clone();
        Callback::from(move |_: MouseEvent| stage.dispatch(a()))
    };
    let help = {
        let stage = stage.clone();
        Callback::from(move |_: MouseEvent| stage.dispatch(StageAction::Help(!stage.help)))
    };
    html! {
        <div class="presenter-bar" data-testid="presenter-bar">
            <Link<Route> to={Route::Home} classes="brand">{"Barriers Lab"}</Link<Route>>
            <span class="grow" />
            <button type="button" class="secondary" onclick={act(|| StageAction::ToggleExplain)}
                aria-pressed={stage.explain.to_string()} data-testid="toggle-explain">
                {if stage.explain { "Fold explanation (I)" } else { "Explanation (I)" }}</button>
            <button type="button" class="secondary" onclick={Callback::from(|_: MouseEvent| toggle_fullscreen())}
                data-testid="fullscreen">{"Full screen (F)"}</button>
            <button type="button" class="secondary" onclick={help} data-testid="keys-button">{"Keys (?)"}</button>
            <button type="button" onclick={act(|| StageAction::TogglePresent)} data-testid="exit-present">{"Exit presenter mode (M)"}</button>
        </div>
    }
}

/// The lecture path page: the lab's path through the lectures, and a lecturer's own.
#[function_component(PathPage)]
pub fn path_page() -> Html {
    let stage = use_context::<StageHandle>().expect("the stage is provided by the shell");
    let navigator = use_navigator();
    let draft = use_state(String::new);
    let made = use_state(|| None::<Result<Rc<Path>, String>>);
    let start = |path: Rc<Path>, present: bool| {
        let (stage, nav) = (stage.clone(), navigator.clone());
        Callback::from(move |_: MouseEvent| {
            if let Some(nav) = &nav {
                if present != stage.present {
                    stage.dispatch(StageAction::TogglePresent);
                }
                go_to_step(&stage, nav, Some(path.clone()), 0);
            }
        })
    };
    let lectures = Rc::new(Path::lectures());
    let steps = lecture::lectures();
    let on_draft = {
        let draft = draft.clone();
        Callback::from(move |e: InputEvent| {
            if let Some(t) = e.target_dyn_into::<web_sys::HtmlTextAreaElement>() {
                draft.set(t.value());
            }
        })
    };
    let make = {
        let (draft, made) = (draft.clone(), made.clone());
        Callback::from(move |_: MouseEvent| {
            made.set(Some(
                Path::parse_lines(&draft)
                    .map(Rc::new)
                    .map_err(|e| e.for_people()),
            ));
        })
    };
    let fill = {
        let draft = draft.clone();
        let lines = lectures.to_lines();
        Callback::from(move |_: MouseEvent| draft.set(lines.clone()))
    };
    let own = match &*made {
        None => html! {},
        Some(Err(e)) => {
            html! { <p class="notice warning" role="alert" data-testid="path-made-error">{e.clone()}</p> }
        }
        Some(Ok(path)) => {
            let link = crate::web::export::page_link(
                &lecture::page_query("", false, Some(path), 0),
                &path.steps[0].link,
            );
            html! {
                <div class="path-made" data-testid="path-made">
                    <p>{format!("A path of {} steps. Its link (nothing is stored anywhere: the path is in the link):", path.steps.len())}</p>
                    <input type="text" readonly=true value={link.clone()} aria-label="The path's link" data-testid="path-link" class="link-field" />
                    <div class="row">
                        <crate::web::export::CopyButton text={link} label="Copy link" />
                        <button type="button" onclick={start(path.clone(), false)} data-testid="path-own-start">{"Start"}</button>
                        <button type="button" class="secondary" onclick={start(path.clone(), true)}>{"Start in presenter mode"}</button>
                    </div>
                </div>
            }
        }
    };
    let mut last_part = "";
    html! {
        <section class="demo path-page" data-testid="path-page">
            <div class="demo-head">
                <h1>{"Lecture path"}</h1>
                <p class="explain">{"The experiments in the order of the lectures' slides, each opened with its settings and a line on what to notice. Step through them with N and P (or the bar under the header), in presenter mode (M) on a projector."}</p>
            </div>
            <div class="row">
                <button type="button" onclick={start(lectures.clone(), false)} data-testid="path-start">{"Start the lectures' path"}</button>
                <button type="button" class="secondary" onclick={start(lectures.clone(), true)} data-testid="path-start-present">{"Start in presenter mode"}</button>
            </div>
            <ol class="path-steps" data-testid="path-steps">
                { for steps.iter().enumerate().map(|(i, (part, s))| {
                    let heading = (*part != last_part).then(|| html! { <li class="path-part" aria-hidden="true">{*part}</li> });
                    last_part = part;
                    let (stage, nav, lectures) = (stage.clone(), navigator.clone(), lectures.clone());
                    let open = Callback::from(move |e: MouseEvent| {
                        e.prevent_default();
                        if let Some(nav) = &nav { go_to_step(&stage, nav, Some(lectures.clone()), i); }
                    });
                    let href = format!("?path=lecture&step={}#{}", i + 1, s.link);
                    html! { <>
                        {heading.unwrap_or_default()}
                        <li value={(i + 1).to_string()}>
                            <a href={href} onclick={open}>{s.title.clone()}</a>
                            <span class="muted">{format!(" — {}", s.notice)}</span>
                        </li>
                    </> }
                }) }
            </ol>
            <h2>{"Your own path"}</h2>
            <p>{"Set up each experiment as you want to show it, copy its address from the browser, and paste one address per line below; after an address, \u{201c} — \u{201d} and a note of what to notice. The lab turns the list into one link to share or bookmark."}</p>
            <label class="path-draft">
                <span class="visually-hidden">{"One address per line, then optionally — and a note"}</span>
                <textarea rows="8" value={(*draft).clone()} oninput={on_draft} data-testid="path-draft"
                    placeholder={"http://…/#/attacks?model=cnn&digit=3&attack=deepfool_l2 — the label flips at t ≈ 1\nhttp://…/#/kernel — the bound"} />
            </label>
            <div class="row">
                <button type="button" onclick={make} data-testid="path-make">{"Make the link"}</button>
                <button type="button" class="secondary" onclick={fill} data-testid="path-fill">{"Start from the lectures' path"}</button>
            </div>
            {own}
        </section>
    }
}
