//! A drawing pad for digits: pointer input (mouse, pen and touch alike), an anti-aliased round
//! brush on a 112×112 ink buffer (4× MNIST), and MNIST-style normalisation of the result.

use crate::classification::drawing::{centre_like_mnist, has_ink, stroke};
use crate::web::widgets::paint_grey;
use std::cell::RefCell;
use std::rc::Rc;
use yew::prelude::*;

/// Side of the ink buffer.
pub const INK_SIDE: usize = crate::classification::drawing::INK_SIDE;

#[derive(Properties, PartialEq)]
pub struct DrawProps {
    /// Receives the normalised 28×28 digit after every stroke segment, or `None` once cleared.
    pub on_change: Callback<Option<Vec<f32>>>,
}

struct Pad {
    ink: Vec<f32>,
    last: Option<(f32, f32)>,
}

/// The drawing pad with its brush-size control and Clear button.
#[function_component(DrawPad)]
pub fn draw_pad(props: &DrawProps) -> Html {
    let canvas = use_node_ref();
    let pad = use_mut_ref(|| Pad {
        ink: vec![0.0; INK_SIDE * INK_SIDE],
        last: None,
    });
    let brush = use_state(|| 4.5f32);

    let repaint = {
        let canvas = canvas.clone();
        move |pad: &Rc<RefCell<Pad>>| {
            if let Some(c) = canvas.cast::<web_sys::HtmlCanvasElement>() {
                paint_grey(&c, &pad.borrow().ink, INK_SIDE);
            }
        }
    };
    let emit = {
        let on_change = props.on_change.clone();
        move |pad: &Rc<RefCell<Pad>>| {
            let ink = &pad.borrow().ink;
            on_change.emit(has_ink(ink).then(|| centre_like_mnist(ink, INK_SIDE)));
        }
    };
    {
        // A fresh pad is empty: paint it and tell the parent, which may hold an older drawing.
        let (pad, repaint, emit) = (pad.clone(), repaint.clone(), emit.clone());
        use_effect_with((), move |_| {
            repaint(&pad);
            emit(&pad);
        });
    }

    let to_buffer = {
        let canvas = canvas.clone();
        move |e: &PointerEvent| crate::web::widgets::pointer_at(&canvas, e, INK_SIDE)
    };
    // Continues the stroke (or starts one at the pointer) and shows the result.
    let draw_at = {
        let (pad, repaint, to_buffer, emit, brush) = (
            pad.clone(),
            repaint.clone(),
            to_buffer,
            emit.clone(),
            *brush,
        );
        move |e: &PointerEvent, from: Option<(f32, f32)>| {
            if let Some(p) = to_buffer(e) {
                {
                    let mut pad = pad.borrow_mut();
                    stroke(&mut pad.ink, INK_SIDE, from.unwrap_or(p), p, brush);
                    pad.last = Some(p);
                }
                repaint(&pad);
                emit(&pad);
            }
        }
    };
    let onpointerdown = {
        let draw_at = draw_at.clone();
        Callback::from(move |e: PointerEvent| {
            e.prevent_default();
            if let Some(target) = e.target_dyn_into::<web_sys::Element>() {
                let _ = target.set_pointer_capture(e.pointer_id());
            }
            draw_at(&e, None);
        })
    };
    let onpointermove = {
        let pad = pad.clone();
        Callback::from(move |e: PointerEvent| {
            let Some(last) = pad.borrow().last else {
                return;
            };
            e.prevent_default();
            draw_at(&e, Some(last));
        })
    };
    let onpointerup = {
        let pad = pad.clone();
        Callback::from(move |_: PointerEvent| pad.borrow_mut().last = None)
    };
    let onclear = {
        let (pad, repaint, emit) = (pad.clone(), repaint.clone(), emit.clone());
        Callback::from(move |_: MouseEvent| {
            pad.borrow_mut().ink.iter_mut().for_each(|v| *v = 0.0);
            repaint(&pad);
            emit(&pad);
        })
    };
    let onbrush = {
        let brush = brush.clone();
        Callback::from(move |e: InputEvent| {
            let input: web_sys::HtmlInputElement = e.target_unchecked_into();
            if let Ok(v) = input.value().parse::<f32>() {
                brush.set(v.clamp(2.0, 9.0));
            }
        })
    };

    html! {
        <div class="draw-pad">
            <canvas ref={canvas} class="draw-canvas" data-testid="draw-canvas"
                width={INK_SIDE.to_string()} height={INK_SIDE.to_string()} role="img"
                aria-label="drawing pad: draw a digit with the mouse, a pen or a finger"
                onpointerdown={onpointerdown} onpointermove={onpointermove}
                onpointerup={onpointerup.clone()} onpointercancel={onpointerup.clone()}
                onlostpointercapture={onpointerup} />
            <div class="draw-controls">
                <label>{"Brush "}
                    <input type="range" min="2" max="9" step="0.5" value={brush.to_string()}
                        oninput={onbrush} aria-label="brush size" aria-valuetext={format!("brush size, {:.1}", *brush)} />
                </label>
                <button type="button" class="secondary" onclick={onclear} data-testid="clear">{"Clear"}</button>
            </div>
        </div>
    }
}
