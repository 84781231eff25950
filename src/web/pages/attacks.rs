//! The Attacks demo: random noise, fast gradient, FGSM and DeepFool on a chosen model and digit;
//! panels for x, r and x + t·r, a slider along the perturbation with the flip point marked, a
//! noise slider for comparison, "compare all" in the lecture's row, and the robustness summary.

use crate::classification::attack::{norm2, AttackKind, AttackOutcome};
use crate::classification::classifier::{Architecture, Prediction};
use crate::classification::mnist::PIXELS;
use crate::classification::random_noise::gaussian;
use crate::classification::state::{AttackChoice, AttackState, DigitSource};
use crate::protocol::{Body, Job};
use crate::web::app::{use_query_state, Route, WorkerEpoch};
use crate::web::compute::Compute;
use crate::web::export::{Array2, ExportFigure, FigureData};
use crate::web::pages::robustness::RobustnessPanel;
use crate::web::picker::{use_digit, use_held_out, DigitPicker};
use crate::web::widgets::{DigitCanvas, ModelPicker, Notice, PerturbationCanvas, PredictionBars};
use std::collections::BTreeMap;
use std::rc::Rc;
use yew::prelude::*;

/// The attacks of "compare all", in the lecture's order.
const COMPARED: [AttackKind; 3] = [
    AttackKind::RandomNoise,
    AttackKind::FastGradient,
    AttackKind::DeepFoolL2,
];

/// Seed of the comparison noise added by the second slider.
const NOISE_SEED: u64 = 7;

/// A finished attack as the page shows it.
#[derive(Clone, Debug, PartialEq)]
pub struct Attacked {
    pub outcome: AttackOutcome,
    pub original: Prediction,
    pub flip_t: f64,
    pub millis: f64,
}

#[derive(Clone, Debug, PartialEq)]
enum Run {
    Running,
    Done(Rc<Attacked>),
    Failed(String),
}

/// Attack results for the current request (stale answers are dropped by ticket).
#[derive(Clone, Debug, Default, PartialEq)]
struct Results {
    ticket: u64,
    runs: BTreeMap<&'static str, (AttackKind, Run)>,
}

enum ResultsAction {
    Start(u64, Vec<AttackKind>),
    Finish(u64, AttackKind, Run),
}

impl Reducible for Results {
    type Action = ResultsAction;
    fn reduce(self: Rc<Self>, action: Self::Action) -> Rc<Self> {
        match action {
            ResultsAction::Start(ticket, kinds) => Rc::new(Results {
                ticket,
                runs: kinds
                    .into_iter()
                    .map(|k| (k.name(), (k, Run::Running)))
                    .collect(),
            }),
            ResultsAction::Finish(ticket, kind, run) if ticket == self.ticket => {
                let mut next = (*self).clone();
                next.runs.insert(kind.name(), (kind, run));
                Rc::new(next)
            }
            ResultsAction::Finish(..) => self,
        }
    }
}

/// The human name of an attack.
pub fn attack_title(a: AttackKind) -> &'static str {
    match a {
        AttackKind::RandomNoise => "Random noise",
        AttackKind::FastGradient => "Fast gradient",
        AttackKind::Fgsm => "FGSM (ℓ∞)",
        AttackKind::DeepFoolL2 => "DeepFool (ℓ₂)",
        AttackKind::DeepFoolLinf => "DeepFool (ℓ∞)",
    }
}

/// The formula and reference of an attack.
fn attack_formula(a: AttackKind) -> (crate::formula::Formula, &'static str) {
    use crate::formula::{DEEPFOOL_L2, DEEPFOOL_LINF, FAST_GRADIENT, FGSM, RANDOM_NOISE};
    match a {
        AttackKind::RandomNoise => (
            RANDOM_NOISE,
            "Random directions: the baseline of the lecture (slide: ρ = 1.47).",
        ),
        AttackKind::FastGradient => (
            FAST_GRADIENT,
            "The lecture's fast gradient (slide: ρ = 0.34); ∇L(0) = 0, hence the small random start.",
        ),
        AttackKind::Fgsm => (
            FGSM,
            "Goodfellow, Shlens, Szegedy: Explaining and harnessing adversarial examples, ICLR 2015.",
        ),
        AttackKind::DeepFoolL2 => (
            DEEPFOOL_L2,
            "Moosavi-Dezfooli, Fawzi, Frossard: DeepFool, CVPR 2016 (η = 0.02, at most 50 iterations).",
        ),
        AttackKind::DeepFoolLinf => (DEEPFOOL_LINF, "DeepFool for the ℓ∞ norm (q = 1), CVPR 2016."),
    }
}

#[function_component(AttackDemo)]
pub fn attack_demo() -> Html {
    let compute = use_context::<Compute>().expect("the compute worker is provided by the app");
    let epoch = use_context::<WorkerEpoch>().unwrap_or_default();
    let (parsed, set_state, embed) = use_query_state::<AttackState>(Route::Attacks);
    let first = crate::web::app::use_figure_first();
    let state = parsed.state.clone();
    let digits = use_held_out();
    let (image, on_draw) = use_digit(state.digit.source, &digits);
    let model = state.digit.model;

    // Run the chosen attack(s) whenever the model, the digit or the attack changes.
    let results = use_reducer(Results::default);
    let tickets = use_mut_ref(|| 0u64);
    {
        let (compute, results, tickets) = (compute.clone(), results.clone(), tickets.clone());
        use_effect_with(
            (model, image.clone(), state.attack, epoch),
            move |(model, image, choice, _)| {
                let Some((pixels, _)) = image else { return };
                let kinds = match choice {
                    AttackChoice::One(k) => vec![*k],
                    AttackChoice::CompareAll => COMPARED.to_vec(),
                };
                let ticket = {
                    let mut t = tickets.borrow_mut();
                    *t += 1;
                    *t
                };
                results.dispatch(ResultsAction::Start(ticket, kinds.clone()));
                for kind in kinds {
                    let results = results.clone();
                    compute.request(
                        Job::Attack {
                            model: model.name().to_string(),
                            image: pixels.as_ref().clone(),
                            attack: kind,
                            seed: 0,
                        },
                        Callback::from(move |body| {
                            let run = match body {
                                Body::Attacked {
                                    outcome,
                                    original,
                                    flip_t,
                                    millis,
                                    ..
                                } => Run::Done(Rc::new(Attacked {
                                    outcome,
                                    original,
                                    flip_t,
                                    millis,
                                })),
                                Body::Failed { message } => Run::Failed(message),
                                _ => return,
                            };
                            results.dispatch(ResultsAction::Finish(ticket, kind, run));
                        }),
                    );
                }
            },
        );
    }

    let on_model = {
        let (set_state, state) = (set_state.clone(), state.clone());
        Callback::from(move |model: Architecture| {
            let mut s = state.clone();
            s.digit.model = model;
            set_state.emit(s)
        })
    };
    let on_source = {
        let (set_state, state) = (set_state.clone(), state.clone());
        Callback::from(move |source: DigitSource| {
            let mut s = state.clone();
            s.digit.source = source;
            set_state.emit(s)
        })
    };
    let choose = |choice: AttackChoice| {
        let (set_state, state) = (set_state.clone(), state.clone());
        Callback::from(move |_: MouseEvent| {
            set_state.emit(AttackState {
                attack: choice,
                ..state.clone()
            })
        })
    };
    let choices = AttackKind::ALL
        .iter()
        .map(|&k| (AttackChoice::One(k), attack_title(k)))
        .chain(std::iter::once((AttackChoice::CompareAll, "Compare all")));

    // The figure's data: x, the attack's r and x + r, as the worker computed them.
    let figure_data = {
        let (image, results, model) = (image.clone(), results.clone(), model);
        let kind = match state.attack {
            AttackChoice::One(k) => Some(k),
            AttackChoice::CompareAll => None,
        };
        Callback::from(move |()| {
            let mut data = FigureData {
                model: Some(model.name().to_string()),
                ..FigureData::default()
            };
            let done = kind.and_then(|k| match results.runs.get(k.name()) {
                Some((_, Run::Done(a))) => Some(a.clone()),
                _ => None,
            });
            if let (Some((x, _)), Some(a)) = (&image, done) {
                let r: Vec<f32> = a.outcome.perturbation.iter().map(|&v| v as f32).collect();
                let xr: Vec<f32> = x.iter().zip(&r).map(|(x, r)| x + r).collect();
                for (name, values) in [("x", x.to_vec()), ("r", r), ("x + r", xr)] {
                    data.arrays.push(Array2 {
                        name: name.into(),
                        shape: vec![28, 28],
                        values,
                    });
                }
                data.numbers.insert("flip_t".into(), a.flip_t.into());
            }
            data
        })
    };
    let figure = |body: Html| {
        html! { <ExportFigure name="attacks" title="Attacks" data={figure_data.clone()}>{body}</ExportFigure> }
    };
    let body = match (&image, state.attack) {
        (None, _) => html! { <p class="muted">{"Pick a digit or draw one."}</p> },
        (Some((pixels, truth)), AttackChoice::One(kind)) => {
            let run = results
                .runs
                .get(kind.name())
                .map(|(_, r)| r.clone())
                .unwrap_or(Run::Running);
            html! { <SingleAttack model={model} kind={kind} image={pixels.clone()} truth={*truth} run={run} /> }
        }
        (Some((pixels, _)), AttackChoice::CompareAll) => html! {
            <div class="compare-row" data-testid="compare">
                { for COMPARED.iter().map(|k| {
                    let run = results.runs.get(k.name()).map(|(_, r)| r.clone()).unwrap_or(Run::Running);
                    html! { <CompareCell kind={*k} image={pixels.clone()} run={run} /> }
                }) }
            </div>
        },
    };

    html! {
        <section class="demo attacks" data-testid="attacks">
            if !embed {
                <div class="demo-head">
                    <h1>{"Attacks: how small a change flips the label?"}</h1>
                    <p class="explain">
                        {"Each attack looks for a perturbation r with k̂(x + r) ≠ k̂(x) and is judged by its relative size ρ = ‖r‖₂/‖x‖₂. "}
                        {"The lecture's example on ImageNet: random noise needs ρ = 1.47, the fast gradient 0.34, DeepFool 0.0052. Random directions barely matter; worst-case directions are tiny."}
                    </p>
                </div>
            }
            { for parsed.notices.iter().map(|n| html! { <Notice kind="warning">{n.clone()}</Notice> }) }
            // Embedded in a course page or presenting, the figure comes first and the pickers after it.
            if first { {figure(html! { <div class="attack-main">{body.clone()}</div> })} }
            <ModelPicker model={model} on_pick={on_model} />
            <div class="attack-choices" role="radiogroup" aria-label="attack">
                { for choices.map(|(c, title)| html! {
                    <button type="button" role="radio" aria-checked={(c == state.attack).to_string()}
                        class={classes!("chip", "attack-choice", (c == state.attack).then_some("active"))}
                        data-attack={match c { AttackChoice::One(k) => k.name(), AttackChoice::CompareAll => "compare" }}
                        onclick={choose(c)}>{title}</button>
                }) }
            </div>
            <div class="attack-layout">
                <div class="panel input-panel">
                    <DigitPicker digits={digits.clone()} source={state.digit.source} on_source={on_source} on_draw={on_draw} />
                </div>
                if !first { <div class="attack-main">{figure(body)}</div> }
            </div>
            if !embed { <RobustnessPanel model={model} /> }
        </section>
    }
}

#[derive(Properties, PartialEq)]
struct CompareProps {
    kind: AttackKind,
    image: Rc<Vec<f32>>,
    run: Run,
}

/// One attack of the lecture's row: x + r, r, the new label and ρ.
#[function_component(CompareCell)]
fn compare_cell(props: &CompareProps) -> Html {
    let content = match &props.run {
        Run::Running => html! { <p class="muted">{"computing…"}</p> },
        Run::Failed(m) => html! { <Notice kind="error">{m.clone()}</Notice> },
        Run::Done(a) => {
            let o = &a.outcome;
            let x_plus_r: Rc<Vec<f32>> = Rc::new(
                props
                    .image
                    .iter()
                    .zip(&o.perturbation)
                    .map(|(x, r)| (*x as f64 + r) as f32)
                    .collect(),
            );
            html! {
                <>
                    <DigitCanvas pixels={x_plus_r} class="big" label="x + r" />
                    <p class="compare-label">{format!("{} → {}", o.original_label, o.adversarial_label)}</p>
                    <p class="rho" data-testid="rho">{rho_text(o)}</p>
                    <PerturbationCanvas values={Rc::new(o.perturbation.clone())} label="r" />
                    <p class="small muted">{format!("{:.1} ms", a.millis)}</p>
                </>
            }
        }
    };
    html! {
        <div class="panel compare-cell" data-attack={props.kind.name()}>
            <h2>{attack_title(props.kind)}</h2>
            {content}
        </div>
    }
}

/// "ρ = 0.123" or the reason there is none.
fn rho_text(o: &AttackOutcome) -> String {
    match o.rho {
        Some(r) => format!("ρ = ‖r‖₂/‖x‖₂ = {r:.4}"),
        None => format!("‖r‖₂ = {:.4} (ρ is undefined: the image is all zero)", o.l2),
    }
}

#[derive(Properties, PartialEq)]
struct SingleProps {
    model: Architecture,
    kind: AttackKind,
    image: Rc<Vec<f32>>,
    truth: Option<usize>,
    run: Run,
}

/// One attack in detail, with the sliders.
#[function_component(SingleAttack)]
fn single_attack(props: &SingleProps) -> Html {
    let compute = use_context::<Compute>().expect("the compute worker is provided by the app");
    let t = use_state(|| 1.0f64);
    let noise = use_state(|| 0.0f64);
    // Reset the sliders when a new result arrives.
    {
        let (t, noise) = (t.clone(), noise.clone());
        use_effect_with(props.run.clone(), move |_| {
            t.set(1.0);
            noise.set(0.0);
        });
    }
    let noise_direction = use_memo((), |_| {
        let g = gaussian(PIXELS, NOISE_SEED);
        let n = norm2(&g);
        g.into_iter().map(|v| v / n).collect::<Vec<f64>>()
    });

    // The probe: the model's answer at x + t·r + n, re-evaluated while dragging.
    let probe = use_state(|| None::<Result<Prediction, String>>);
    let tickets = use_mut_ref(|| 0u64);
    let composed: Option<Rc<Vec<f32>>> = match &props.run {
        Run::Done(a) => {
            let x_norm = norm2(&props.image.iter().map(|&v| v as f64).collect::<Vec<_>>()).max(1.0);
            let sigma = *noise * x_norm;
            Some(Rc::new(
                props
                    .image
                    .iter()
                    .zip(&a.outcome.perturbation)
                    .zip(noise_direction.iter())
                    .map(|((x, r), n)| (*x as f64 + *t * r + sigma * n) as f32)
                    .collect(),
            ))
        }
        _ => None,
    };
    {
        let (compute, probe, tickets) = (compute.clone(), probe.clone(), tickets.clone());
        let model = props.model;
        use_effect_with(composed.clone(), move |composed| {
            if let Some(img) = composed {
                let ticket = {
                    let mut t = tickets.borrow_mut();
                    *t += 1;
                    *t
                };
                let (probe, tickets) = (probe.clone(), tickets.clone());
                compute.request(
                    Job::Classify {
                        model: model.name().to_string(),
                        image: img.as_ref().clone(),
                    },
                    Callback::from(move |body| {
                        if *tickets.borrow() != ticket {
                            return;
                        }
                        match body {
                            Body::Classified { prediction, .. } => probe.set(Some(Ok(prediction))),
                            Body::Failed { message } => probe.set(Some(Err(message))),
                            _ => {}
                        }
                    }),
                );
            }
        });
    }

    let (formula, reference) = attack_formula(props.kind);
    let explain = html! {
        <div class="attack-explain">
            {crate::web::math::formula(formula)}
            <p class="small muted">{reference}</p>
        </div>
    };
    let a = match &props.run {
        Run::Running => {
            return html! { <>{explain}<p class="muted" data-testid="attack-running">{"Attacking…"}</p></> }
        }
        Run::Failed(m) => {
            return html! { <>{explain}<Notice kind="error">{format!("The attack failed: {m}")}</Notice></> }
        }
        Run::Done(a) => a.clone(),
    };
    let o = &a.outcome;
    let on_t = {
        let t = t.clone();
        Callback::from(move |e: InputEvent| {
            let input: web_sys::HtmlInputElement = e.target_unchecked_into();
            if let Ok(v) = input.value().parse::<f64>() {
                t.set(v.clamp(0.0, 2.0));
            }
        })
    };
    let on_noise = {
        let noise = noise.clone();
        Callback::from(move |e: InputEvent| {
            let input: web_sys::HtmlInputElement = e.target_unchecked_into();
            if let Ok(v) = input.value().parse::<f64>() {
                noise.set(v.clamp(0.0, 2.0));
            }
        })
    };
    let flip_pct = (a.flip_t / 2.0 * 100.0).clamp(0.0, 100.0);
    let probe_panel = match &*probe {
        Some(Ok(p)) => html! { <PredictionBars prediction={p.clone()} truth={props.truth} /> },
        Some(Err(m)) => html! { <Notice kind="error">{m.clone()}</Notice> },
        None => html! { <p class="muted">{"…"}</p> },
    };
    let top = a.original.top(3);
    html! {
        <div class="single-attack" data-testid="single-attack" data-attack={props.kind.name()}>
            {explain}
            <div class="attack-panels">
                <div class="panel">
                    <h2>{"x"}</h2>
                    <DigitCanvas pixels={props.image.clone()} class="big" label="x" />
                    <p class="panel-label" data-testid="label-x">{format!("k̂(x) = {}", a.original.label)}</p>
                    <p class="small muted">{ top.iter().map(|(c, q)| format!("{c}: {q:.3}")).collect::<Vec<_>>().join("   ") }</p>
                </div>
                <div class="panel">
                    <h2>{"r"}</h2>
                    <PerturbationCanvas values={Rc::new(o.perturbation.clone())} label="the perturbation r" />
                    <dl class="readouts" data-testid="readouts">
                        <dt>{"ρ"}</dt><dd data-testid="rho">{o.rho.map(|r| format!("{r:.4}")).unwrap_or_else(|| "undefined (x = 0)".into())}</dd>
                        <dt>{"‖r‖₂"}</dt><dd>{format!("{:.4}", o.l2)}</dd>
                        <dt>{"‖r‖∞"}</dt><dd>{format!("{:.4}", o.linf)}</dd>
                        <dt>{"iterations"}</dt><dd>{o.iterations}</dd>
                        <dt>{"time"}</dt><dd>{format!("{:.1} ms", a.millis)}</dd>
                    </dl>
                </div>
                <div class="panel probe-panel">
                    <h2>{format!("x + {:.2}·r{}", *t, if *noise > 0.0 { " + noise" } else { "" })}</h2>
                    if let Some(img) = composed.clone() {
                        <DigitCanvas pixels={img} class="big" label="x + t·r" />
                    }
                    {probe_panel}
                </div>
            </div>
            <div class="sliders panel">
                <label class="slider">
                    <span>{"along the perturbation: t"}</span>
                    <span class="track">
                        <input type="range" min="0" max="2" step="0.01" value={format!("{:.2}", *t)}
                            oninput={on_t} data-testid="t-slider" aria-label="t, the multiple of r"
                            aria-valuetext={format!("t, {:.2}", *t)} />
                        <span class="flip-mark" ~style={format!("left: {flip_pct:.2}%")} data-testid="flip-mark"
                            title={format!("the label flips at t = {:.3}", a.flip_t)} />
                    </span>
                    <span class="value">{format!("{:.2}", *t)}</span>
                </label>
                <p class="small muted" data-testid="flip-text">{format!("The label flips at t = {:.3} (marked).", a.flip_t)}</p>
                <label class="slider">
                    <span>{"plus Gaussian noise: ‖n‖₂/‖x‖₂"}</span>
                    <span class="track">
                        <input type="range" min="0" max="2" step="0.01" value={format!("{:.2}", *noise)}
                            oninput={on_noise} data-testid="noise-slider" aria-label="relative norm of the added noise"
                            aria-valuetext={format!("relative norm of the added noise, {:.2}", *noise)} />
                    </span>
                    <span class="value">{format!("{:.2}", *noise)}</span>
                </label>
                <p class="small muted">{format!("For scale: the worst-case r has ‖r‖₂/‖x‖₂ = {}; drag the noise to that size and beyond and compare.", o.rho.map(|r| format!("{r:.3}")).unwrap_or_else(|| "—".into()))}</p>
            </div>
        </div>
    }
}
