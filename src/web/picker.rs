//! Choosing the digit a demo works on: a paged gallery of held-out digits (with their labels) or
//! the drawing pad, and the hooks that turn the choice into an image.

use crate::classification::mnist::{Digits, CLASSES};
use crate::classification::state::DigitSource;
use crate::web::data::held_out;
use crate::web::draw::DrawPad;
use crate::web::widgets::{DigitCanvas, Notice};
use std::rc::Rc;
use yew::prelude::*;

/// Digits per gallery page.
const PAGE: usize = 40;

/// The held-out digits, loading (`None`) or loaded (or why not).
pub type HeldOut = Option<Result<Rc<Digits>, String>>;

/// Loads the held-out digits (once per page; shared through [`held_out`]).
#[hook]
pub fn use_held_out() -> HeldOut {
    let digits = use_state(|| None::<Result<Rc<Digits>, String>>);
    {
        let digits = digits.clone();
        use_effect_with((), move |_| {
            wasm_bindgen_futures::spawn_local(async move {
                digits.set(Some(held_out().await.map_err(|e| e.to_string())));
            });
        });
    }
    (*digits).clone()
}

/// The current digit: the image (784 intensities) and its true label when known.
pub type CurrentDigit = Option<(Rc<Vec<f32>>, Option<usize>)>;

/// The image for `source`, and the callback the drawing pad reports to.
#[hook]
pub fn use_digit(
    source: DigitSource,
    digits: &HeldOut,
) -> (CurrentDigit, Callback<Option<Vec<f32>>>) {
    let drawing = use_state(|| None::<Rc<Vec<f32>>>);
    let loaded = match digits {
        Some(Ok(d)) => Some(d.clone()),
        _ => None,
    };
    let image = {
        let drawing = (*drawing).clone();
        use_memo(
            (source, loaded.is_some(), drawing),
            move |(source, _, drawing)| match source {
                DigitSource::Gallery(i) => loaded
                    .as_ref()
                    .map(|d| (Rc::new(d.image(*i)), Some(d.label(*i)))),
                DigitSource::Drawing => drawing.clone().map(|d| (d, None)),
            },
        )
        .as_ref()
        .clone()
    };
    let on_draw = Callback::from(move |d: Option<Vec<f32>>| drawing.set(d.map(Rc::new)));
    (image, on_draw)
}

#[derive(Properties, PartialEq)]
pub struct PickerProps {
    pub digits: HeldOut,
    pub source: DigitSource,
    pub on_source: Callback<DigitSource>,
    pub on_draw: Callback<Option<Vec<f32>>>,
}

/// Tabs "Held-out digits" | "Draw" with the gallery or the drawing pad.
#[function_component(DigitPicker)]
pub fn digit_picker(props: &PickerProps) -> Html {
    let drawing_mode = props.source == DigitSource::Drawing;
    let selected = match props.source {
        DigitSource::Gallery(i) => Some(i),
        DigitSource::Drawing => None,
    };
    // Coming back from the pad returns to the last gallery digit.
    let last_gallery = use_mut_ref(|| 0usize);
    if let Some(i) = selected {
        *last_gallery.borrow_mut() = i;
    }
    let to = |source: DigitSource| {
        let on_source = props.on_source.clone();
        Callback::from(move |_: MouseEvent| on_source.emit(source))
    };
    let on_pick = {
        let on_source = props.on_source.clone();
        Callback::from(move |i: usize| on_source.emit(DigitSource::Gallery(i)))
    };
    let body = if drawing_mode {
        html! { <DrawPad on_change={props.on_draw.clone()} /> }
    } else {
        match &props.digits {
            None => html! { <p class="muted">{"Loading the held-out digits…"}</p> },
            Some(Err(e)) => {
                html! { <Notice kind="error">{format!("The digits could not be loaded: {e}")}</Notice> }
            }
            Some(Ok(d)) => {
                html! { <Gallery digits={d.clone()} selected={selected} on_pick={on_pick} /> }
            }
        }
    };
    html! {
        <>
            <div class="tabs" role="tablist">
                <button type="button" role="tab" aria-selected={(!drawing_mode).to_string()}
                    class={classes!("tab", (!drawing_mode).then_some("active"))}
                    onclick={to(DigitSource::Gallery(*last_gallery.borrow()))} data-testid="tab-gallery">{"Held-out digits"}</button>
                <button type="button" role="tab" aria-selected={drawing_mode.to_string()}
                    class={classes!("tab", drawing_mode.then_some("active"))}
                    onclick={to(DigitSource::Drawing)} data-testid="tab-draw">{"Draw"}</button>
            </div>
            {body}
        </>
    }
}

#[derive(Properties, PartialEq)]
pub struct GalleryProps {
    pub digits: Rc<Digits>,
    pub selected: Option<usize>,
    pub on_pick: Callback<usize>,
}

/// A paged grid of held-out digits with their labels, filterable by label.
#[function_component(Gallery)]
pub fn gallery(props: &GalleryProps) -> Html {
    let filter = use_state(|| None::<usize>);
    let page = use_state(|| props.selected.unwrap_or(0) / PAGE);
    let indices: Vec<usize> = (0..props.digits.len())
        .filter(|&i| filter.is_none_or(|f| props.digits.label(i) == f))
        .collect();
    let pages = indices.len().div_ceil(PAGE).max(1);
    let current = (*page).min(pages - 1);
    let shown =
        &indices[(current * PAGE).min(indices.len())..((current + 1) * PAGE).min(indices.len())];
    let set_filter = |f: Option<usize>| {
        let (filter, page) = (filter.clone(), page.clone());
        Callback::from(move |_: MouseEvent| {
            filter.set(f);
            page.set(0);
        })
    };
    let go = |p: usize| {
        let page = page.clone();
        Callback::from(move |_: MouseEvent| page.set(p))
    };
    html! {
        <div class="gallery">
            <div class="filters" role="group" aria-label="show only one label">
                <button type="button" class={classes!("chip", filter.is_none().then_some("active"))} onclick={set_filter(None)}>{"all"}</button>
                { for (0..CLASSES).map(|c| html! {
                    <button type="button" class={classes!("chip", (*filter == Some(c)).then_some("active"))}
                        onclick={set_filter(Some(c))}>{c}</button>
                }) }
            </div>
            <div class="digit-grid" data-testid="gallery">
                { for shown.iter().map(|&i| {
                    let on_pick = props.on_pick.clone();
                    let label = props.digits.label(i);
                    html! {
                        <button type="button" class={classes!("digit-tile", (props.selected == Some(i)).then_some("selected"))}
                            data-index={i.to_string()} data-label={label.to_string()}
                            title={format!("held-out digit #{i}, label {label}")}
                            onclick={Callback::from(move |_: MouseEvent| on_pick.emit(i))}>
                            <DigitCanvas pixels={Rc::new(props.digits.image(i))} label={format!("digit #{i}")} />
                            <span class="tile-label">{label}</span>
                        </button>
                    }
                }) }
            </div>
            <div class="pager">
                <button type="button" class="secondary" disabled={current == 0} onclick={go(current.saturating_sub(1))}>{"‹ previous"}</button>
                <span>{format!("page {} of {pages}", current + 1)}</span>
                <button type="button" class="secondary" disabled={current + 1 >= pages} onclick={go(current + 1)}>{"next ›"}</button>
            </div>
        </div>
    }
}
