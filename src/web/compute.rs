//! The page's handle on the compute worker: spawns it on the first request (a page that asks for
//! nothing, like the home page, never downloads the worker's script and wasm), queues requests
//! until it is ready, routes replies to the callback of their request, forwards cancels, and
//! turns a crash (a panic in the worker, a script that fails to load) into a status the app
//! shows, with a restart.

use crate::protocol::{Body, Job, Reply, Request};
use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::{Rc, Weak};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use yew::prelude::*;

/// The worker script Trunk writes (`data-loader-shim`).
pub const WORKER_SCRIPT: &str = "./worker_loader.js";

/// What the page knows about the worker.
#[derive(Clone, Debug, PartialEq)]
pub enum WorkerStatus {
    /// Not started: no request has been made yet.
    Idle,
    /// Spawned (or restarted), loading its script and wasm.
    Starting,
    /// Answering requests.
    Ready,
    /// Stopped, with the reason; requests fail until [`Compute::restart`].
    Crashed(String),
}

/// A cheap, cloneable handle on the compute worker.
#[derive(Clone)]
pub struct Compute(Rc<RefCell<Inner>>);

impl PartialEq for Compute {
    fn eq(&self, other: &Self) -> bool {
        Rc::ptr_eq(&self.0, &other.0)
    }
}

struct Inner {
    script: String,
    /// Whether the worker was ever spawned: until then `worker` is `None` without a crash.
    started: bool,
    worker: Option<web_sys::Worker>,
    ready: bool,
    queue: Vec<String>,
    next_id: u64,
    handlers: HashMap<u64, Callback<Body>>,
    on_status: Callback<WorkerStatus>,
    _onmessage: Option<Closure<dyn FnMut(web_sys::MessageEvent)>>,
    _onerror: Option<Closure<dyn FnMut(web_sys::ErrorEvent)>>,
}

impl Compute {
    /// A handle on a worker from `script`, spawned on the first [`Compute::request`];
    /// `on_status` hears when it starts, is ready or has crashed.
    pub fn new(script: &str, on_status: Callback<WorkerStatus>) -> Self {
        Compute(Rc::new(RefCell::new(Inner {
            script: script.to_string(),
            started: false,
            worker: None,
            ready: false,
            queue: Vec::new(),
            next_id: 1,
            handlers: HashMap::new(),
            on_status,
            _onmessage: None,
            _onerror: None,
        })))
    }

    /// Whether the worker has been spawned (by a request or a restart).
    pub fn is_started(&self) -> bool {
        self.0.borrow().started
    }

    fn start(&self) {
        let script = {
            let mut inner = self.0.borrow_mut();
            inner.started = true;
            inner.script.clone()
        };
        let worker = match web_sys::Worker::new(&script) {
            Ok(w) => w,
            Err(e) => {
                self.crash(format!("the compute worker could not be started ({e:?})"));
                return;
            }
        };
        let weak = Rc::downgrade(&self.0);
        let onmessage = Closure::<dyn FnMut(_)>::new(move |event: web_sys::MessageEvent| {
            if let Some(inner) = Weak::upgrade(&weak) {
                Compute(inner).on_message(event.data().as_string().unwrap_or_default());
            }
        });
        let weak = Rc::downgrade(&self.0);
        let onerror = Closure::<dyn FnMut(_)>::new(move |event: web_sys::ErrorEvent| {
            event.prevent_default();
            if let Some(inner) = Weak::upgrade(&weak) {
                let message = match event.message() {
                    m if m.is_empty() => "the compute worker failed to load".to_string(),
                    m => m,
                };
                Compute(inner).crash(message);
            }
        });
        worker.set_onmessage(Some(onmessage.as_ref().unchecked_ref()));
        worker.set_onerror(Some(onerror.as_ref().unchecked_ref()));
        let mut inner = self.0.borrow_mut();
        inner.worker = Some(worker);
        inner.ready = false;
        inner._onmessage = Some(onmessage);
        inner._onerror = Some(onerror);
    }

    /// Sends `job` (spawning the worker if this is the first request); `on_reply` receives its
    /// progress and then its final reply. Returns the id.
    pub fn request(&self, job: Job, on_reply: Callback<Body>) -> u64 {
        if !self.is_started() {
            let status = self.0.borrow().on_status.clone();
            status.emit(WorkerStatus::Starting);
            self.start();
        }
        let (id, crashed) = {
            let mut inner = self.0.borrow_mut();
            let id = inner.next_id;
            inner.next_id += 1;
            let text = Request { id, job }.encode();
            let crashed = inner.worker.is_none();
            if !crashed {
                inner.handlers.insert(id, on_reply.clone());
                if inner.ready {
                    post(inner.worker.as_ref(), &text);
                } else {
                    inner.queue.push(text);
                }
            }
            (id, crashed)
        };
        if crashed {
            on_reply.emit(Body::Failed {
                message: "the compute worker is not running; restart it".into(),
            });
        }
        id
    }

    /// Asks the worker to stop job `id`.
    pub fn cancel(&self, id: u64) {
        let text = Request {
            id: 0,
            job: Job::Cancel { target: id },
        }
        .encode();
        let inner = self.0.borrow();
        if inner.ready {
            post(inner.worker.as_ref(), &text);
        }
    }

    /// Replaces a crashed (or running) worker by a fresh one.
    pub fn restart(&self) {
        if let Some(w) = self.0.borrow_mut().worker.take() {
            w.terminate();
        }
        let status = self.0.borrow().on_status.clone();
        status.emit(WorkerStatus::Starting);
        self.start();
    }

    /// Terminates the worker if every job it still runs is one of `ids` (the parts of a
    /// cancelled job that did not stop in time), dropping their handlers; the next request
    /// starts a fresh worker. Returns whether it did.
    pub fn stop_if_only(&self, ids: &[u64]) -> bool {
        let mut inner = self.0.borrow_mut();
        if inner.worker.is_none() || inner.handlers.keys().any(|id| !ids.contains(id)) {
            return false;
        }
        if let Some(w) = inner.worker.take() {
            w.terminate();
        }
        inner.started = false;
        inner.ready = false;
        inner.queue.clear();
        inner.handlers.clear();
        inner._onmessage = None;
        inner._onerror = None;
        true
    }

    fn on_message(&self, text: String) {
        let reply = match Reply::decode(&text) {
            Ok(r) => r,
            Err(e) => {
                web_sys::console::error_1(&format!("unreadable worker reply: {e}").into());
                return;
            }
        };
        match reply.body {
            Body::Ready => {
                let (queue, status) = {
                    let mut inner = self.0.borrow_mut();
                    inner.ready = true;
                    (std::mem::take(&mut inner.queue), inner.on_status.clone())
                };
                {
                    let inner = self.0.borrow();
                    for text in &queue {
                        post(inner.worker.as_ref(), text);
                    }
                }
                status.emit(WorkerStatus::Ready);
            }
            Body::Panicked { message } => {
                self.crash(format!("the compute worker panicked: {message}"))
            }
            body => {
                let handler = {
                    let mut inner = self.0.borrow_mut();
                    if body.is_final() {
                        inner.handlers.remove(&reply.id)
                    } else {
                        inner.handlers.get(&reply.id).cloned()
                    }
                };
                match handler {
                    Some(h) => h.emit(body),
                    None if reply.id == 0 => {
                        web_sys::console::warn_1(&format!("compute worker: {body:?}").into())
                    }
                    None => {}
                }
            }
        }
    }

    fn crash(&self, message: String) {
        let (handlers, status) = {
            let mut inner = self.0.borrow_mut();
            if let Some(w) = inner.worker.take() {
                w.terminate();
            }
            inner.ready = false;
            inner.queue.clear();
            (std::mem::take(&mut inner.handlers), inner.on_status.clone())
        };
        for (_, h) in handlers {
            h.emit(Body::Failed {
                message: message.clone(),
            });
        }
        status.emit(WorkerStatus::Crashed(message));
    }
}

fn post(worker: Option<&web_sys::Worker>, text: &str) {
    if let Some(w) = worker {
        if let Err(e) = w.post_message(&JsValue::from_str(text)) {
            web_sys::console::error_2(&"cannot post to the compute worker".into(), &e);
        }
    }
}

/// Where a long job (progress, cancel) stands; `T` is its final answer.
#[derive(Clone, Debug, PartialEq)]
pub enum LongJob<T> {
    Idle,
    Running { id: u64, done: usize, total: usize },
    Done(T),
    Cancelled,
    Failed(String),
}

/// A long job's state with the callbacks that start one (the job and its number of units, for
/// the progress bar) and cancel the running one.
pub struct LongJobHandle<T> {
    pub state: UseStateHandle<LongJob<T>>,
    pub start: Callback<(Job, usize)>,
    pub cancel: Callback<MouseEvent>,
}

/// Runs long jobs on the compute worker; `finish` turns the job's final reply into its answer.
#[hook]
pub fn use_long_job<T: Clone + PartialEq + 'static>(
    finish: fn(Body) -> Option<T>,
) -> LongJobHandle<T> {
    let compute = use_context::<Compute>().expect("the compute worker is provided by the app");
    let state = use_state(|| LongJob::Idle);
    // Jobs the user cancelled: the page says "Cancelled" at once and ignores what they still
    // send (a job may finish before the worker reads the cancellation).
    let dropped = use_mut_ref(std::collections::HashSet::<u64>::new);
    let start = {
        let (compute, state, dropped) = (compute.clone(), state.clone(), dropped.clone());
        Callback::from(move |(job, total): (Job, usize)| {
            let st = state.clone();
            let id_cell = Rc::new(std::cell::Cell::new(0u64));
            let id_of_reply = id_cell.clone();
            let dropped = dropped.clone();
            let id = compute.request(
                job,
                Callback::from(move |body| match body {
                    _ if dropped.borrow().contains(&id_of_reply.get()) => {}
                    Body::Progress { done, total } => st.set(LongJob::Running {
                        id: id_of_reply.get(),
                        done,
                        total,
                    }),
                    Body::Cancelled => st.set(LongJob::Cancelled),
                    Body::Failed { message } => st.set(LongJob::Failed(message)),
                    body => {
                        if let Some(answer) = finish(body) {
                            st.set(LongJob::Done(answer));
                        }
                    }
                }),
            );
            id_cell.set(id);
            state.set(LongJob::Running { id, done: 0, total });
        })
    };
    let cancel = {
        let state = state.clone();
        Callback::from(move |_: MouseEvent| {
            if let LongJob::Running { id, .. } = &*state {
                dropped.borrow_mut().insert(*id);
                compute.cancel(*id);
                state.set(LongJob::Cancelled);
            }
        })
    };
    LongJobHandle {
        state,
        start,
        cancel,
    }
}

/// A figure that follows its inputs: whenever `job` (or the worker epoch) changes, the running
/// request is cancelled and a new one sent; the previous result stays on screen meanwhile
/// ([`JobRun::Running`]'s `previous`), and replies to superseded requests are ignored. `finish`
/// turns the final reply into the result; `total` sizes the progress bar until the worker
/// reports. Returns the run and a cancel callback.
#[hook]
pub fn use_latest_job<T: 'static>(
    job: Option<Job>,
    epoch: crate::web::app::WorkerEpoch,
    total: usize,
    finish: fn(Body) -> Option<T>,
) -> (
    UseStateHandle<crate::web::widgets::JobRun<T>>,
    Callback<MouseEvent>,
) {
    use crate::web::widgets::JobRun;
    let compute = use_context::<Compute>().expect("the compute worker is provided by the app");
    let run = use_state(|| JobRun::<T>::Idle);
    let running_id = use_mut_ref(|| None::<u64>);
    let tickets = use_mut_ref(|| 0u64);
    {
        let (compute, run, running_id, tickets) = (
            compute.clone(),
            run.clone(),
            running_id.clone(),
            tickets.clone(),
        );
        use_effect_with((job, epoch), move |(job, _)| {
            let Some(job) = job.clone() else { return };
            let ticket = {
                let mut t = tickets.borrow_mut();
                *t += 1;
                *t
            };
            if let Some(previous) = running_id.borrow_mut().take() {
                compute.cancel(previous);
            }
            let previous = run.shown().cloned();
            run.set(JobRun::Running {
                done: 0,
                total,
                previous: previous.clone(),
            });
            let (run2, tickets2, running2) = (run.clone(), tickets.clone(), running_id.clone());
            let id = compute.request(
                job,
                Callback::from(move |body| {
                    if *tickets2.borrow() != ticket {
                        return;
                    }
                    let settle = |next: JobRun<T>| {
                        running2.borrow_mut().take();
                        run2.set(next);
                    };
                    match body {
                        Body::Progress { done, total } => run2.set(JobRun::Running {
                            done,
                            total,
                            previous: previous.clone(),
                        }),
                        Body::Failed { message } => settle(JobRun::Failed(message)),
                        Body::Cancelled => settle(match previous.clone() {
                            Some(p) => JobRun::Done(p),
                            None => JobRun::Idle,
                        }),
                        body => {
                            if let Some(answer) = finish(body) {
                                settle(JobRun::Done(Rc::new(answer)));
                            }
                        }
                    }
                }),
            );
            *running_id.borrow_mut() = Some(id);
        });
    }
    let cancel = {
        let run = run.clone();
        Callback::from(move |_: MouseEvent| {
            if let Some(id) = running_id.borrow_mut().take() {
                compute.cancel(id);
                *tickets.borrow_mut() += 1;
                run.set(match run.shown().cloned() {
                    Some(p) => JobRun::Done(p),
                    None => JobRun::Idle,
                });
            }
        })
    };
    (run, cancel)
}

/// Compute workers for jobs that split into independent parts ([`crate::pool`]): `size`
/// workers of their own beside the page's worker, each started on its first part (with its own
/// copy of the wasm module) and kept for the next job, so that a part dealt to the same worker
/// again finds what that worker cached. Their own, so that a cancel may end a part that does not
/// stop in time by terminating its worker ([`CANCEL_GRACE_MS`]) without touching the page's
/// other jobs.
#[derive(Clone)]
pub struct Pool(Rc<RefCell<PoolInner>>);

impl PartialEq for Pool {
    fn eq(&self, other: &Self) -> bool {
        Rc::ptr_eq(&self.0, &other.0)
    }
}

struct PoolInner {
    workers: Vec<Compute>,
    size: usize,
}

/// How long a cancelled part may take to stop by itself (its worker checks for the cancel
/// between slices of work) before the pool terminates its worker; the next part dealt to that
/// worker starts a fresh one. With the message's trip, every worker stops within 200 ms of the
/// click.
pub const CANCEL_GRACE_MS: u32 = 120;

/// What a pooled job tells its page.
#[derive(Clone, Debug, PartialEq)]
pub enum PoolEvent {
    /// The parts' progress summed, `done` of `total` units, after part `part` reported
    /// `part_done` of its units.
    Progress {
        done: usize,
        total: usize,
        part: usize,
        part_done: usize,
    },
    /// Something part `part` reported on the way that is neither progress nor its answer (a
    /// sweep's finished rate, say).
    Note { part: usize, body: Body },
    /// Every part's final reply, in the parts' order.
    Done(Vec<Body>),
    /// The first part that failed (or was cancelled), with its reply.
    Stopped(Body),
}

/// The requests of a pooled job, `(worker, request id)` per part, and which parts have given
/// their final reply.
#[derive(Clone, Default)]
pub struct PoolRun {
    parts: Vec<(usize, u64)>,
    finished: Rc<RefCell<Vec<bool>>>,
}

impl Pool {
    /// A pool of `size` workers (none started yet).
    pub fn new(size: usize) -> Self {
        Pool(Rc::new(RefCell::new(PoolInner {
            workers: Vec::new(),
            size: size.max(1),
        })))
    }

    /// How many workers the pool uses.
    pub fn size(&self) -> usize {
        self.0.borrow().size
    }

    /// The `k`-th worker, made on first use.
    fn worker(&self, k: usize) -> Compute {
        let mut inner = self.0.borrow_mut();
        while inner.workers.len() <= k {
            // A pool worker's status is its parts' replies: a crash fails them.
            inner
                .workers
                .push(Compute::new(WORKER_SCRIPT, Callback::from(|_| {})));
        }
        inner.workers[k].clone()
    }

    /// Runs `parts`, part `k` on worker `k mod size`; `on_event` hears the summed progress and
    /// the parts' notes, then every final reply in order, or the first failure.
    pub fn run(&self, parts: Vec<Job>, on_event: Callback<PoolEvent>) -> PoolRun {
        let n = parts.len();
        let finished = Rc::new(RefCell::new(vec![false; n]));
        let state = Rc::new(RefCell::new((
            vec![(0usize, 0usize); n],
            vec![None::<Body>; n],
            false,
        )));
        let size = self.size();
        let parts = parts
            .into_iter()
            .enumerate()
            .map(|(k, job)| {
                let (state, on_event, finished) =
                    (state.clone(), on_event.clone(), finished.clone());
                let worker = k % size;
                let id = self.worker(worker).request(
                    job,
                    Callback::from(move |body: Body| {
                        if body.is_final() {
                            finished.borrow_mut()[k] = true;
                        } else if !matches!(body, Body::Progress { .. }) {
                            // Notes count even after another part stopped the job.
                            on_event.emit(PoolEvent::Note { part: k, body });
                            return;
                        }
                        let event = {
                            let mut s = state.borrow_mut();
                            if s.2 {
                                return;
                            }
                            match body {
                                Body::Progress { done, total } => {
                                    s.0[k] = (done, total);
                                    PoolEvent::Progress {
                                        done: s.0.iter().map(|p| p.0).sum(),
                                        total: s.0.iter().map(|p| p.1).sum(),
                                        part: k,
                                        part_done: done,
                                    }
                                }
                                Body::Failed { .. } | Body::Cancelled => {
                                    s.2 = true;
                                    PoolEvent::Stopped(body)
                                }
                                body => {
                                    s.1[k] = Some(body);
                                    if s.1.iter().any(Option::is_none) {
                                        return;
                                    }
                                    s.2 = true;
                                    PoolEvent::Done(
                                        s.1.iter_mut().filter_map(Option::take).collect(),
                                    )
                                }
                            }
                        };
                        on_event.emit(event);
                    }),
                );
                (worker, id)
            })
            .collect();
        PoolRun { parts, finished }
    }

    /// Asks every worker of `run` to stop its part; a part still running [`CANCEL_GRACE_MS`]
    /// later has its worker terminated (unless that worker also runs parts of another job).
    pub fn cancel(&self, run: &PoolRun) {
        for &(worker, id) in &run.parts {
            self.worker(worker).cancel(id);
        }
        let (pool, run) = (self.clone(), run.clone());
        gloo::timers::callback::Timeout::new(CANCEL_GRACE_MS, move || {
            let running: Vec<(usize, u64)> = {
                let finished = run.finished.borrow();
                run.parts
                    .iter()
                    .zip(finished.iter())
                    .filter(|(_, &f)| !f)
                    .map(|(&p, _)| p)
                    .collect()
            };
            let ids: Vec<u64> = running.iter().map(|&(_, id)| id).collect();
            for &(worker, _) in &running {
                pool.worker(worker).stop_if_only(&ids);
            }
        })
        .forget();
    }

    /// Restarts every worker the pool has started.
    pub fn restart(&self) {
        let workers = self.0.borrow().workers.clone();
        for w in workers.iter().filter(|w| w.is_started()) {
            w.restart();
        }
    }
}

/// Runs long jobs split into parts on the [`Pool`]: like [`use_long_job`], but `start` takes the
/// parts and the units of the whole job, and `merge` turns the parts' final replies into the
/// answer (or says why they do not fit).
#[hook]
pub fn use_pooled_job<T: Clone + PartialEq + 'static>(
    merge: fn(Vec<Body>) -> Result<T, String>,
) -> PooledJob<T> {
    use_pooled_job_noting(merge, |_| {})
}

/// [`use_pooled_job`] whose `note` hears what the parts report on the way
/// ([`PoolEvent::Note`]), also after a cancel (a finished part of a cancelled job is still
/// worth keeping).
#[hook]
pub fn use_pooled_job_noting<T: Clone + PartialEq + 'static>(
    merge: fn(Vec<Body>) -> Result<T, String>,
    note: fn(Body),
) -> PooledJob<T> {
    let pool = use_context::<Pool>().expect("the worker pool is provided by the app");
    let state = use_state(|| LongJob::Idle);
    let last = use_state(|| None::<(usize, usize)>);
    let running = use_mut_ref(|| None::<PoolRun>);
    let runs = use_mut_ref(|| 0u64);
    let start = {
        let (pool, state, running, runs, last) = (
            pool.clone(),
            state.clone(),
            running.clone(),
            runs.clone(),
            last.clone(),
        );
        Callback::from(move |(parts, total): (Vec<Job>, usize)| {
            let ticket = {
                let mut r = runs.borrow_mut();
                *r += 1;
                *r
            };
            let (st, runs2, running2, last) =
                (state.clone(), runs.clone(), running.clone(), last.clone());
            last.set(None);
            let run = pool.run(
                parts,
                Callback::from(move |event| {
                    if let PoolEvent::Note { body, .. } = event {
                        note(body);
                        return;
                    }
                    if *runs2.borrow() != ticket {
                        return;
                    }
                    match event {
                        PoolEvent::Note { .. } => {}
                        PoolEvent::Progress {
                            done,
                            total,
                            part,
                            part_done,
                        } => {
                            last.set(Some((part, part_done)));
                            st.set(LongJob::Running {
                                id: ticket,
                                done,
                                total,
                            })
                        }
                        PoolEvent::Stopped(Body::Failed { message }) => {
                            running2.borrow_mut().take();
                            st.set(LongJob::Failed(message))
                        }
                        PoolEvent::Stopped(_) => {
                            running2.borrow_mut().take();
                            st.set(LongJob::Cancelled)
                        }
                        PoolEvent::Done(bodies) => {
                            running2.borrow_mut().take();
                            st.set(match merge(bodies) {
                                Ok(answer) => LongJob::Done(answer),
                                Err(message) => LongJob::Failed(message),
                            })
                        }
                    }
                }),
            );
            *running.borrow_mut() = Some(run);
            state.set(LongJob::Running {
                id: ticket,
                done: 0,
                total,
            });
        })
    };
    let workers = pool.size();
    let cancel = {
        let state = state.clone();
        Callback::from(move |_: MouseEvent| {
            if let Some(run) = running.borrow_mut().take() {
                // The page says so at once; replies still coming are ignored.
                *runs.borrow_mut() += 1;
                pool.cancel(&run);
                state.set(LongJob::Cancelled);
            }
        })
    };
    PooledJob {
        state,
        last,
        start,
        cancel,
        workers,
    }
}

/// A pooled job's state, the part that reported last (its index and units done), the callbacks
/// that start one (the parts and the units of the whole job) and cancel it, and the pool's size.
pub struct PooledJob<T> {
    pub state: UseStateHandle<LongJob<T>>,
    pub last: UseStateHandle<Option<(usize, usize)>>,
    pub start: Callback<(Vec<Job>, usize)>,
    pub cancel: Callback<MouseEvent>,
    pub workers: usize,
}
