//! A formula typeset as MathML ([`crate::formula`]), with its plain text as the accessible
//! label (and shown instead for a formula the bundle has no MathML for).

use crate::formula::{typeset, Formula};
use yew::prelude::*;

#[derive(Properties, PartialEq)]
pub struct MathProps {
    /// LaTeX math.
    pub tex: AttrValue,
    /// The same formula as plain text.
    pub text: AttrValue,
    #[prop_or_default]
    pub testid: Option<AttrValue>,
}

/// `<Math tex=… text=… />`: the formula as real mathematics.
#[function_component(Math)]
pub fn math(props: &MathProps) -> Html {
    match typeset(&props.tex) {
        Some(mathml) => html! {
            // Focusable: a formula wider than its column scrolls, and keyboards must reach it.
            <div class="formula" role="math" tabindex="0" aria-label={props.text.clone()} title={props.text.clone()}
                data-testid={props.testid.clone()} data-tex={props.tex.clone()}>
                { Html::from_html_unchecked(AttrValue::Static(mathml)) }
            </div>
        },
        None => html! {
            <p class="formula" data-testid={props.testid.clone()}>{props.text.clone()}</p>
        },
    }
}

/// `{formula(KAPPA)}`: a formula of [`crate::formula`] as [`Math`].
pub fn formula(f: Formula) -> Html {
    html! { <Math tex={f.tex} text={f.text} /> }
}
