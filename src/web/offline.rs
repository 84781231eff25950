//! The lab offline: registers the service worker (`static/sw.js`, which keeps a copy of the whole
//! bundle in this browser after the first visit) and shows, in the header, a small
//! [`OfflineStatus`]: "Saving for offline…" while the first copy is made, "Available offline"
//! once it is complete, and "A new version is ready — Reload" when a new bundle has been copied
//! beside the one in use (Reload hands over to it and reloads the page). See docs/offline.md.
//!
//! Where there are no service workers (not a secure context, an old browser, a blocked
//! registration) it shows nothing and logs no error: the lab simply needs the network.

use gloo::events::EventListener;
use gloo::timers::callback::Interval;
use js_sys::{Function, Object, Reflect};
use std::cell::{Cell, RefCell};
use std::rc::{Rc, Weak};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{ServiceWorker, ServiceWorkerContainer, ServiceWorkerRegistration};
use yew::prelude::*;

/// The service worker's script, relative to the page (its folder is the worker's scope).
pub const SCRIPT: &str = "./sw.js";
/// How often an open page asks for a new version (the browser also checks on every load).
const UPDATE_CHECK_MS: u32 = 60 * 60 * 1000;

/// What the indicator shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Shown {
    /// Nothing: no service worker, or nothing kept (a debug build), or not known yet.
    Nothing,
    /// The first copy is being made.
    Saving,
    /// This version is kept in full: the lab runs without a network.
    Available,
    /// A newer version is kept and waits for this page to hand over.
    Update,
}

/// The page's side of the service worker: its registration and the listeners on it.
struct Watch {
    show: UseStateSetter<Shown>,
    registration: RefCell<Option<ServiceWorkerRegistration>>,
    /// What the active worker said of its copy (`None`: not asked yet).
    complete: Cell<Option<bool>>,
    /// Reload asked for: reload when the new worker takes over.
    reloading: Cell<bool>,
    /// Whether a worker controls this page (it answers the page's requests).
    controlled: Cell<bool>,
    /// Another page handed over to a new worker: this one runs the old version.
    outdated: Cell<bool>,
    listeners: RefCell<Vec<EventListener>>,
    interval: RefCell<Option<Interval>>,
}

/// `navigator.serviceWorker`, where the browser has it here (a secure context).
fn container() -> Option<ServiceWorkerContainer> {
    let navigator = web_sys::window()?.navigator();
    Reflect::get(&navigator, &"serviceWorker".into())
        .ok()?
        .dyn_into::<ServiceWorkerContainer>()
        .ok()
}

/// A message for the service worker: `{ type: kind }`.
fn message(kind: &str) -> JsValue {
    let object = Object::new();
    let _ = Reflect::set(&object, &"type".into(), &kind.into());
    object.into()
}

impl Watch {
    /// Registers the service worker and starts watching it; `None` where there is none.
    fn start(show: UseStateSetter<Shown>) -> Option<Rc<Self>> {
        let container = container()?;
        let watch = Rc::new(Self {
            show,
            registration: RefCell::new(None),
            complete: Cell::new(None),
            reloading: Cell::new(false),
            controlled: Cell::new(container.controller().is_some()),
            outdated: Cell::new(false),
            listeners: RefCell::new(Vec::new()),
            interval: RefCell::new(None),
        });
        let weak = Rc::downgrade(&watch);
        watch.listen(&container, "message", move |event| {
            if let Some(watch) = weak.upgrade() {
                watch.heard(event);
            }
        });
        let weak = Rc::downgrade(&watch);
        watch.listen(&container, "controllerchange", move |_| {
            let Some(watch) = weak.upgrade() else { return };
            if watch.reloading.get() {
                if let Some(window) = web_sys::window() {
                    let _ = window.location().reload();
                }
            } else {
                // Another page of the lab handed over to a new version: this page's code is the
                // old one (unless this is the first worker taking charge of the page).
                if watch.controlled.replace(true) {
                    watch.outdated.set(true);
                }
                watch.refresh();
            }
        });
        // The worker's answers wait until the page listens (`startMessages`).
        if let Ok(start) = Reflect::get(&container, &"startMessages".into()) {
            if let Some(start) = start.dyn_ref::<Function>() {
                let _ = start.call0(&container);
            }
        }
        let weak = Rc::downgrade(&watch);
        wasm_bindgen_futures::spawn_local(async move {
            let registered = JsFuture::from(container.register(SCRIPT)).await;
            let Some(watch) = weak.upgrade() else { return };
            match registered.map(|r| r.dyn_into::<ServiceWorkerRegistration>()) {
                Ok(Ok(registration)) => watch.registered(registration),
                // Registration blocked (a test harness may stub it): nothing to show.
                Ok(Err(_)) => {}
                Err(error) => web_sys::console::warn_2(
                    &"The lab cannot be kept for offline use in this browser:".into(),
                    &error,
                ),
            }
        });
        Some(watch)
    }

    /// Adds a listener for `event` on `target`, kept as long as this watch.
    fn listen(
        &self,
        target: &web_sys::EventTarget,
        event: &'static str,
        callback: impl FnMut(&Event) + 'static,
    ) {
        self.listeners
            .borrow_mut()
            .push(EventListener::new(target, event, callback));
    }

    /// Follows a worker through its states (installing, installed, activating, activated).
    fn follow(self: &Rc<Self>, worker: Option<ServiceWorker>) {
        if let Some(worker) = worker {
            let weak: Weak<Self> = Rc::downgrade(self);
            self.listen(&worker, "statechange", move |_| {
                if let Some(watch) = weak.upgrade() {
                    watch.refresh();
                }
            });
        }
    }

    fn registered(self: &Rc<Self>, registration: ServiceWorkerRegistration) {
        self.follow(registration.installing());
        self.follow(registration.waiting());
        let weak = Rc::downgrade(self);
        self.listen(&registration, "updatefound", move |_| {
            let Some(watch) = weak.upgrade() else { return };
            let installing = watch
                .registration
                .borrow()
                .as_ref()
                .and_then(|r| r.installing());
            watch.follow(installing);
            watch.refresh();
        });
        // A page left open for hours still hears of a new version.
        let weak = Rc::downgrade(self);
        *self.interval.borrow_mut() = Some(Interval::new(UPDATE_CHECK_MS, move || {
            if let Some(watch) = weak.upgrade() {
                watch.check_for_update();
            }
        }));
        *self.registration.borrow_mut() = Some(registration);
        self.ask();
        self.refresh();
    }

    /// Asks the browser to look for a new sw.js (quietly: offline, it simply fails).
    fn check_for_update(&self) {
        let update = self.registration.borrow().as_ref().map(|r| r.update());
        if let Some(Ok(promise)) = update {
            wasm_bindgen_futures::spawn_local(async move {
                let _ = JsFuture::from(promise).await;
            });
        }
    }

    /// Asks the active worker whether its copy is complete (it answers with a `status` message).
    fn ask(&self) {
        let active = self.registration.borrow().as_ref().and_then(|r| r.active());
        if let Some(active) = active {
            let _ = active.post_message(&message("status"));
        }
    }

    /// A message from the service worker: `{ type: 'status', version, offline }`.
    fn heard(&self, event: &Event) {
        let Some(event) = event.dyn_ref::<web_sys::MessageEvent>() else {
            return;
        };
        let data = event.data();
        let field = |name: &str| Reflect::get(&data, &name.into()).unwrap_or(JsValue::UNDEFINED);
        if field("type").as_string().as_deref() == Some("status") {
            self.complete.set(field("offline").as_bool());
            self.refresh();
        }
    }

    /// Shows what the registration's workers say now.
    fn refresh(&self) {
        let registration = self.registration.borrow();
        let Some(registration) = registration.as_ref() else {
            return;
        };
        let active = registration.active();
        let shown = if self.outdated.get() || (registration.waiting().is_some() && active.is_some())
        {
            Shown::Update
        } else if active.is_some() && self.complete.get() == Some(true) {
            Shown::Available
        } else if registration.installing().is_some() || registration.waiting().is_some() {
            Shown::Saving
        } else {
            if active.is_some() && self.complete.get().is_none() {
                // Activated since the page asked: ask again.
                self.ask();
            }
            Shown::Nothing
        };
        self.show.set(shown);
    }

    /// Reload: the waiting worker takes over (then the page reloads), or just reload.
    fn reload(&self) {
        let waiting = self
            .registration
            .borrow()
            .as_ref()
            .and_then(|r| r.waiting());
        match waiting {
            Some(waiting) if !self.outdated.get() => {
                self.reloading.set(true);
                let _ = waiting.post_message(&message("skip-waiting"));
            }
            _ => {
                if let Some(window) = web_sys::window() {
                    let _ = window.location().reload();
                }
            }
        }
    }
}

/// The header's indicator of offline use (see the module's documentation).
#[function_component(OfflineStatus)]
pub fn offline_status() -> Html {
    let shown = use_state_eq(|| Shown::Nothing);
    let watch = use_mut_ref(|| None::<Rc<Watch>>);
    {
        let setter = shown.setter();
        let watch = watch.clone();
        use_effect_with((), move |_| {
            *watch.borrow_mut() = Watch::start(setter);
            move || {
                watch.borrow_mut().take();
            }
        });
    }
    let reload = {
        let watch = watch.clone();
        Callback::from(move |_: MouseEvent| {
            if let Some(watch) = watch.borrow().as_ref() {
                watch.reload();
            }
        })
    };
    match *shown {
        Shown::Nothing => html! {},
        Shown::Saving => html! {
            <span class="offline-status saving" data-testid="offline-status" role="status"
                title="Copying the lab into this browser, so that it runs without a network">
                {"Saving for offline…"}
            </span>
        },
        Shown::Available => html! {
            <span class="offline-status available" data-testid="offline-status" role="status"
                title="The whole lab is kept in this browser: every demo runs without a network">
                {"Available offline"}
            </span>
        },
        Shown::Update => html! {
            <span class="offline-status update" data-testid="update-notice" role="status">
                {"A new version is ready — "}
                <button type="button" onclick={reload}>{"Reload"}</button>
            </span>
        },
    }
}
