//! The MRI reconstruction demo: an image (held-out brain slice, phantom or upload), a sampling
//! pattern and rate, noise, and FIRENET; panels for the truth, the mask, k-space, the
//! zero-filled reconstruction and FIRENET after any layer, with PSNR and SSIM, and the error
//! against the layer. All work runs in the worker; a newer request supersedes an older one.
//!
//! An upload stays on the user's computer: the page keeps the original file in this browser's
//! storage ([`crate::web::storage`], never sent anywhere) and hands it to the worker again after a
//! reload and at each size. A link with `image=upload` opened elsewhere explains that and offers
//! the file picker, showing the default image meanwhile.

use crate::mri::reconstruction::Quality;
use crate::mri::sampling::Pattern;
use crate::mri::state::{MriState, MRI_NOISE, MRI_RATES};
use crate::mri::wavelet::Wavelet;
use crate::plot::{left_margin, Scale, BOTTOM};
use crate::protocol::{
    query_value, Body, Computed, EngineChoice, Job, MriImage, Panel, Picture, ReconstructJob,
    Reconstruction,
};
use crate::web::app::{use_query_state, Route, WorkerEpoch};
use crate::web::compute::Compute;
use crate::web::export::ExportFigure;
use crate::web::plot::{
    frame_with_legend, legend, x_axis_line, x_ticks, x_title, y_ticks, y_title, LegendItem, Swatch,
};
use crate::web::storage::{self, StoredFile, MRI_UPLOAD};
use crate::web::widgets::{paint_pixels, Edit, EngineBadge, JobRun, Notice, Progress, StateEdits};
use std::rc::Rc;
use yew::prelude::*;

/// Largest upload the page reads (bytes).
const MAX_UPLOAD_BYTES: f64 = 25.0 * 1024.0 * 1024.0;

/// The figure on screen and the job computing the next.
type Run = JobRun<Reconstruction>;

/// The upload this browser keeps for the MRI lab, as the page knows it.
#[derive(Clone, Debug, PartialEq)]
enum Kept {
    /// Reading the browser's storage (while the page loads).
    Reading,
    /// No upload here: none was made in this browser, it was removed, or the storage could not
    /// be read (`problem` says why).
    Nothing { problem: Option<String> },
    /// An upload; `id` tells it from the next one in this page view.
    File { file: Rc<StoredFile>, id: u32 },
}

/// The upload the worker holds: its id, the size it was prepared at and the worker (a restarted
/// worker has forgotten it).
type Prepared = (u32, usize, WorkerEpoch);

/// The image shown while the URL asks for an upload this browser does not have: the default
/// brain slice (the first held-out axial slice at sizes without the default one).
fn stand_in(side: usize) -> MriImage {
    let default = MriState::default().job;
    if side == default.side {
        default.image
    } else {
        MriImage::Brain {
            orientation: "axial".into(),
            index: 0,
        }
    }
}

/// A picture on a canvas, scaled by CSS without smoothing.
#[derive(Properties, PartialEq)]
pub struct PictureProps {
    pub picture: Picture,
    #[prop_or_default]
    pub label: AttrValue,
    #[prop_or_default]
    pub testid: AttrValue,
}

#[function_component(PictureCanvas)]
pub fn picture_canvas(props: &PictureProps) -> Html {
    let canvas = use_node_ref();
    {
        let canvas = canvas.clone();
        use_effect_with(props.picture.clone(), move |picture| {
            if let Some(c) = canvas.cast::<web_sys::HtmlCanvasElement>() {
                match picture.bytes() {
                    Ok(bytes) => paint_pixels(&c, picture.side, |i| {
                        let g = bytes[i];
                        [g, g, g, 255]
                    }),
                    Err(e) => gloo::console::error!(format!("picture: {e}")),
                }
            }
        });
    }
    html! {
        <canvas ref={canvas} class="mri-canvas" role="img" aria-label={props.label.clone()}
            data-testid={props.testid.clone()} />
    }
}

#[derive(Properties, PartialEq)]
pub struct RegionProps {
    pub picture: Picture,
    pub region: crate::mri::details::Region,
    pub label: AttrValue,
    #[prop_or_default]
    pub testid: AttrValue,
}

/// A region of a picture, magnified (CSS, no smoothing): the details' region, the window a
/// worst case changed most.
#[function_component(RegionCanvas)]
pub fn region_canvas(props: &RegionProps) -> Html {
    let canvas = use_node_ref();
    {
        let canvas = canvas.clone();
        use_effect_with(
            (props.picture.clone(), props.region),
            move |(picture, region)| {
                let Some(c) = canvas.cast::<web_sys::HtmlCanvasElement>() else {
                    return;
                };
                let Ok(bytes) = picture.bytes() else { return };
                let side = picture.side;
                if !region.fits(side) {
                    return;
                }
                let crop = region.crop(&bytes, side);
                crate::web::widgets::paint_rect(&c, region.width, region.height, |i| {
                    let g = crop[i];
                    [g, g, g, 255]
                });
            },
        );
    }
    html! {
        <canvas ref={canvas} class="mri-canvas zoom" role="img" aria-label={props.label.clone()}
            data-testid={props.testid.clone()} />
    }
}

fn quality_text(q: &Quality) -> String {
    let psnr = q
        .psnr
        .map(|p| format!("{p:.2} dB"))
        .unwrap_or_else(|| "∞ (exact)".into());
    format!("PSNR {psnr} · SSIM {:.3}", q.ssim)
}

#[derive(Properties, PartialEq)]
struct FigureProps {
    title: AttrValue,
    picture: Picture,
    #[prop_or_default]
    quality: Option<Quality>,
    #[prop_or_default]
    caption: AttrValue,
    testid: AttrValue,
    #[prop_or_default]
    children: Html,
}

#[function_component(Figure)]
fn figure(props: &FigureProps) -> Html {
    html! {
        <figure class="mri-figure" data-testid={props.testid.clone()}>
            <figcaption class="panel-label">{props.title.clone()}</figcaption>
            <PictureCanvas picture={props.picture.clone()} label={props.title.clone()} />
            if let Some(q) = &props.quality {
                <p class="quality" data-testid="quality">{quality_text(q)}</p>
            }
            if !props.caption.is_empty() {
                <p class="small muted">{props.caption.clone()}</p>
            }
            {props.children.clone()}
        </figure>
    }
}

/// The error of FIRENET's estimate against the layer, on a log scale, with the block
/// boundaries (restarts), the zero-filled error and the layer shown.
#[derive(Properties, PartialEq)]
struct ErrorPlotProps {
    errors: Rc<Vec<f64>>,
    layers_per_block: usize,
    zero_filled: f64,
    layer: usize,
}

#[function_component(ErrorPlot)]
fn error_plot(props: &ErrorPlotProps) -> Html {
    let errors: Vec<f64> = props
        .errors
        .iter()
        .map(|e| e.max(1e-12))
        .chain(std::iter::once(props.zero_filled.max(1e-12)))
        .collect();
    let n = props.errors.len().max(1);
    let lo = errors
        .iter()
        .copied()
        .fold(f64::INFINITY, f64::min)
        .log10()
        .floor();
    let hi = errors.iter().copied().fold(0.0, f64::max).log10().ceil();
    let hi = if hi <= lo { lo + 1.0 } else { hi };
    let items = [
        LegendItem::new(
            "firenet",
            "FIRENET's relative error ‖x_k − x‖/‖x‖",
            Swatch::Line,
        ),
        LegendItem::new("zero-filled", "zero-filling's", Swatch::Line),
        LegendItem::new("restart", "restart (end of a block)", Swatch::Line),
        LegendItem::new("current", "the layer shown", Swatch::Dot),
    ];
    let (frame, slots) = frame_with_legend(880.0, 220.0, (left_margin(5), 20.0, BOTTOM), &items);
    let xa = frame.x_axis(1.0, n.max(2) as f64, Scale::Linear);
    let ya = frame.y_axis(10f64.powf(lo), 10f64.powf(hi), Scale::Log);
    let area = frame.area();
    let zero_filled_y = ya.at(props.zero_filled.max(1e-12));
    let points: String = props
        .errors
        .iter()
        .enumerate()
        .map(|(i, e)| format!("{:.1},{:.1}", xa.at(i as f64 + 1.0), ya.at(e.max(1e-12))))
        .collect::<Vec<_>>()
        .join(" ");
    let decades: Vec<f64> = (lo as i32..=hi as i32).map(|d| 10f64.powi(d)).collect();
    let restarts: Vec<usize> = (1..)
        .map(|b| b * props.layers_per_block)
        .take_while(|&l| l < n)
        .collect();
    let shown = props.layer.clamp(1, n);
    // x ticks: the first layer and the end of every block (where FIRENET restarts).
    let x_ticks_at: Vec<f64> = std::iter::once(1)
        .chain(restarts.iter().copied())
        .chain((n > 1).then_some(n))
        .map(|l| l as f64)
        .collect();
    html! {
        <svg class="error-plot" viewBox={format!("0 0 {} {}", frame.w, frame.h)} role="img" data-testid="error-plot"
            aria-label="relative error of FIRENET against the layer, log scale">
            {y_ticks(&frame, &ya, &decades, |v| format!("1e{}", v.log10().round()))}
            { for restarts.iter().map(|l| {
                let xx = xa.at(*l as f64 + 0.5);
                html! { <line class="restart" x1={xx.to_string()} x2={xx.to_string()} y1={area.y0.to_string()} y2={area.y1.to_string()} /> }
            }) }
            <line class="zero-filled" x1={area.x0.to_string()} x2={area.x1.to_string()}
                y1={zero_filled_y.to_string()} y2={zero_filled_y.to_string()} />
            <polyline class="firenet" points={points} />
            <circle class="current" cx={xa.at(shown as f64).to_string()} cy={ya.at(props.errors.get(shown - 1).copied().unwrap_or(1.0).max(1e-12)).to_string()} r="5" />
            {x_axis_line(&frame)}
            {x_ticks(&frame, &xa, &x_ticks_at, |l| format!("{l}"), false)}
            {legend(&items, &slots)}
            {x_title(&frame, format!("layer (1 … {n})"))}
            {y_title(&frame, "relative error")}
        </svg>
    }
}

#[function_component(MriDemo)]
pub fn mri_demo() -> Html {
    let compute = use_context::<Compute>().expect("the compute worker is provided by the app");
    let epoch = use_context::<WorkerEpoch>().unwrap_or_default();
    let (parsed, set_state, embed) = use_query_state::<MriState>(Route::Mri);
    let first = crate::web::app::use_figure_first();
    let state = parsed.state.clone();

    // The held-out slices per orientation at this size.
    let catalog = use_state(|| None::<Vec<(String, usize)>>);
    {
        let (compute, catalog) = (compute.clone(), catalog.clone());
        use_effect_with((state.job.side, epoch), move |(side, _)| {
            compute.request(
                Job::BrainCatalog { side: *side },
                Callback::from(move |body| {
                    if let Body::BrainCatalog { slices, .. } = body {
                        catalog.set(Some(slices));
                    }
                }),
            );
        });
    }

    // The upload kept in this browser, read once when the page opens; `ids` counts uploads and
    // removals, so that a late read never overrides a newer choice.
    let kept = use_state(|| Kept::Reading);
    let ids = use_mut_ref(|| 0u32);
    {
        let (kept, ids) = (kept.clone(), ids.clone());
        use_effect_with((), move |_| {
            let started = *ids.borrow();
            wasm_bindgen_futures::spawn_local(async move {
                let found = storage::load(MRI_UPLOAD).await;
                let mut ids = ids.borrow_mut();
                if *ids != started {
                    return;
                }
                kept.set(match found {
                    Ok(Some(file)) => {
                        *ids += 1;
                        Kept::File {
                            file: Rc::new(file),
                            id: *ids,
                        }
                    }
                    Ok(None) => Kept::Nothing { problem: None },
                    Err(e) => Kept::Nothing {
                        problem: Some(e.to_string()),
                    },
                });
            });
        });
    }

    // The worker prepares the kept upload at the current size (again after a reload, a change of
    // size or a restart of the worker); its notes, or why it failed.
    let upload_state = use_state(|| None::<Result<(Picture, Vec<String>), String>>);
    let prepared = use_state(|| None::<Prepared>);
    let wanted = match (&state.job.image, &*kept) {
        (MriImage::Upload, Kept::File { file, id }) => Some((file.clone(), *id)),
        _ => None,
    };
    let wanted_key: Option<Prepared> = wanted.as_ref().map(|(_, id)| (*id, state.job.side, epoch));
    {
        let (compute, prepared, upload_state) =
            (compute.clone(), prepared.clone(), upload_state.clone());
        use_effect_with(wanted_key, move |key| {
            let (Some(key), Some((file, _))) = (*key, wanted) else {
                return;
            };
            if *prepared == Some(key) {
                return;
            }
            compute.request(
                Job::Upload {
                    data_url: file.data_url(),
                    side: key.1,
                },
                Callback::from(move |body| match body {
                    Body::Uploaded { preview, notes } => {
                        upload_state.set(Some(Ok((preview, notes))));
                        prepared.set(Some(key));
                    }
                    Body::Failed { message } => upload_state.set(Some(Err(message))),
                    _ => {}
                }),
            );
        });
    }

    // What to reconstruct: the URL's job, except that an upload waits until the worker holds it
    // at this size, and an upload this browser does not have gives way to the stand-in image.
    let effective: Option<ReconstructJob> = match (&state.job.image, &*kept) {
        (MriImage::Upload, Kept::Reading) => None,
        (MriImage::Upload, Kept::Nothing { .. }) => Some(ReconstructJob {
            image: stand_in(state.job.side),
            ..state.job.clone()
        }),
        (MriImage::Upload, Kept::File { .. }) => {
            (*prepared == wanted_key).then(|| state.job.clone())
        }
        _ => Some(state.job.clone()),
    };
    // The engine the address asks for (`?engine=cpu|gpu`, before the `#`), for every run.
    let effective = effective.map(|job| {
        let search = crate::web::location_search();
        ReconstructJob {
            engine: EngineChoice::from_query(&search),
            lose_gpu: query_value(&search, "lose-gpu") == Some("1"),
            ..job
        }
    });
    let upload_id = wanted_key.map(|(id, _, _)| id);

    // Reconstruct whenever the job changes; stale answers are dropped by ticket.
    let run = use_state(|| Run::Idle);
    let tickets = use_mut_ref(|| (0u64, None::<u64>));
    {
        let (compute, run, tickets) = (compute.clone(), run.clone(), tickets.clone());
        use_effect_with((effective, epoch, upload_id), move |(job, _, _)| {
            let Some(job) = job else { return };
            let ticket = {
                let mut t = tickets.borrow_mut();
                t.0 += 1;
                if let Some(previous) = t.1.take() {
                    compute.cancel(previous);
                }
                t.0
            };
            let previous = run.shown().cloned();
            run.set(Run::Running {
                done: 0,
                total: job.blocks,
                previous: previous.clone(),
            });
            let (run2, tickets2) = (run.clone(), tickets.clone());
            let id = compute.request(
                Job::Reconstruct(job.clone()),
                Callback::from(move |body| {
                    if tickets2.borrow().0 != ticket {
                        return;
                    }
                    match body {
                        Body::Progress { done, total } => run2.set(Run::Running {
                            done,
                            total,
                            previous: previous.clone(),
                        }),
                        Body::Reconstructed(r) => {
                            tickets2.borrow_mut().1 = None;
                            run2.set(Run::Done(Rc::new(*r)))
                        }
                        Body::Failed { message } => run2.set(Run::Failed(message)),
                        _ => {}
                    }
                }),
            );
            tickets.borrow_mut().1 = Some(id);
        });
    }

    // The FIRENET layer shown (the last unless the URL says otherwise).
    let layers = state.job.blocks * state.job.layers_per_block;
    let layer = state.layer.unwrap_or(layers).min(layers);
    let layer_panel = use_state(|| None::<(u64, usize, Panel)>);
    {
        let (compute, layer_panel) = (compute.clone(), layer_panel.clone());
        let run_id = match &*run {
            Run::Done(r) => Some(r.run),
            _ => None,
        };
        use_effect_with((run_id, layer), move |(run_id, layer)| {
            let Some(run) = *run_id else { return };
            let layer = *layer;
            compute.request(
                Job::FirenetLayer { run, layer },
                Callback::from(move |body| {
                    if let Body::FirenetLayer { run, layer, panel } = body {
                        layer_panel.set(Some((run, layer, panel)));
                    }
                }),
            );
        });
    }

    let edits = StateEdits {
        state: state.clone(),
        set_state: set_state.clone(),
    };
    let on_select = |f: Edit<MriState>| edits.on_select(f);
    let on_input = |f: Edit<MriState>| edits.on_input(f);
    let on_change = |f: Edit<MriState>| edits.on_change(f);

    // Upload: read the file, let the worker decode it at this size, then keep it in this browser
    // (never sent anywhere) so that a reload or another size finds it again.
    let not_kept = use_state(|| None::<String>);
    let not_removed = use_state(|| None::<String>);
    let on_upload = {
        let (compute, upload_state, kept, prepared, ids) = (
            compute.clone(),
            upload_state.clone(),
            kept.clone(),
            prepared.clone(),
            ids.clone(),
        );
        let (not_kept, not_removed) = (not_kept.clone(), not_removed.clone());
        let (set_state, state) = (set_state.clone(), state.clone());
        Callback::from(move |e: Event| {
            let input: web_sys::HtmlInputElement = e.target_unchecked_into();
            let Some(file) = input.files().and_then(|f| f.get(0)) else {
                return;
            };
            // Choosing the same file again (after removing it) is a change too.
            input.set_value("");
            if file.size() > MAX_UPLOAD_BYTES {
                upload_state.set(Some(Err(format!(
                    "That file is {:.0} MB; the lab reads images up to {:.0} MB.",
                    file.size() / 1048576.0,
                    MAX_UPLOAD_BYTES / 1048576.0
                ))));
                return;
            }
            let (compute, upload_state, kept, prepared, ids) = (
                compute.clone(),
                upload_state.clone(),
                kept.clone(),
                prepared.clone(),
                ids.clone(),
            );
            let (not_kept, not_removed) = (not_kept.clone(), not_removed.clone());
            let (set_state, state) = (set_state.clone(), state.clone());
            let side = state.job.side;
            wasm_bindgen_futures::spawn_local(async move {
                let blob: &web_sys::Blob = file.as_ref();
                let bytes =
                    match gloo::file::futures::read_as_bytes(&gloo::file::Blob::from(blob.clone()))
                        .await
                    {
                        Ok(b) => b,
                        Err(e) => {
                            upload_state.set(Some(Err(format!("The file could not be read: {e}"))));
                            return;
                        }
                    };
                let upload = Rc::new(StoredFile {
                    name: file.name(),
                    mime: file.type_(),
                    saved_ms: js_sys::Date::now(),
                    bytes,
                });
                compute.request(
                    Job::Upload {
                        data_url: upload.data_url(),
                        side,
                    },
                    Callback::from(move |body| match body {
                        Body::Uploaded { preview, notes } => {
                            let id = {
                                let mut ids = ids.borrow_mut();
                                *ids += 1;
                                *ids
                            };
                            kept.set(Kept::File {
                                file: upload.clone(),
                                id,
                            });
                            prepared.set(Some((id, side, epoch)));
                            upload_state.set(Some(Ok((preview, notes))));
                            not_kept.set(None);
                            not_removed.set(None);
                            let mut s = state.clone();
                            s.job.image = MriImage::Upload;
                            set_state.emit(s);
                            let (upload, not_kept) = (upload.clone(), not_kept.clone());
                            wasm_bindgen_futures::spawn_local(async move {
                                if let Err(e) = storage::save(MRI_UPLOAD, &upload).await {
                                    not_kept.set(Some(format!(
                                        "This browser did not let the lab keep {} ({e}), so it is used in this page view only and will be gone after a reload.",
                                        upload.name
                                    )));
                                }
                            });
                        }
                        Body::Failed { message } => upload_state.set(Some(Err(message))),
                        _ => {}
                    }),
                );
            });
        })
    };
    // Forget the upload: here at once, and in the browser's storage.
    let on_remove = {
        let (upload_state, kept, prepared, ids) = (
            upload_state.clone(),
            kept.clone(),
            prepared.clone(),
            ids.clone(),
        );
        let (not_kept, not_removed) = (not_kept.clone(), not_removed.clone());
        Callback::from(move |_: MouseEvent| {
            *ids.borrow_mut() += 1;
            kept.set(Kept::Nothing { problem: None });
            prepared.set(None);
            upload_state.set(None);
            // An upload the browser did not keep is forgotten with the page's copy.
            if not_kept.is_some() {
                not_kept.set(None);
                return;
            }
            let not_removed = not_removed.clone();
            wasm_bindgen_futures::spawn_local(async move {
                if let Err(e) = storage::remove(MRI_UPLOAD).await {
                    not_removed.set(Some(format!(
                        "The upload could not be removed from this browser's storage ({e}); it may come back after a reload."
                    )));
                }
            });
        })
    };

    let job = &state.job;
    let image_kind = match &job.image {
        MriImage::Brain { .. } => "brain",
        MriImage::SheppLogan => "shepp_logan",
        MriImage::Ellipses { .. } => "ellipses",
        MriImage::Upload => "upload",
    };
    let image_controls = match &job.image {
        MriImage::Brain { orientation, index } => {
            let count = catalog
                .as_ref()
                .and_then(|c| c.iter().find(|(o, _)| o == orientation).map(|(_, n)| *n))
                .unwrap_or(1)
                .max(1);
            html! {
                <>
                    <label>{"plane "}
                        <select data-testid="orientation" onchange={on_select(Rc::new(|s: &mut MriState, v: String| {
                            s.job.image = MriImage::Brain { orientation: v, index: 0 };
                        }))}>
                            { for ["axial", "coronal", "sagittal"].iter().map(|o| html! {
                                <option value={*o} selected={orientation == o}>{*o}</option>
                            }) }
                        </select>
                    </label>
                    <label>{format!("held-out slice {} of {count} ", index + 1)}
                        <input type="range" min="0" max={(count - 1).to_string()} step="1" value={index.to_string()}
                            data-testid="slice" aria-label="held-out slice"
                            aria-valuetext={format!("held-out slice, {} of {count}", index + 1)}
                            oninput={on_input(Rc::new(|s: &mut MriState, v: String| {
                                if let (MriImage::Brain { index, .. }, Ok(i)) = (&mut s.job.image, v.parse::<usize>()) {
                                    *index = i;
                                }
                            }))} />
                    </label>
                </>
            }
        }
        MriImage::Ellipses { seed } => html! {
            <label>{"seed "}
                <input type="number" min="0" step="1" value={seed.to_string()} class="narrow" data-testid="ellipse-seed"
                    onchange={on_change(Rc::new(|s: &mut MriState, v: String| {
                        if let Ok(seed) = v.parse::<u64>() { s.job.image = MriImage::Ellipses { seed }; }
                    }))} />
            </label>
        },
        _ => html! {},
    };
    let upload_error = match &*upload_state {
        Some(Err(m)) => html! { <Notice kind="error">{m.clone()}</Notice> },
        _ => html! {},
    };
    let storage_notes = html! {
        <>
            if let Some(m) = &*not_kept {
                <Notice kind="warning"><span data-testid="upload-not-kept">{m.clone()}</span></Notice>
            }
            if let Some(m) = &*not_removed {
                <Notice kind="warning">{m.clone()}</Notice>
            }
        </>
    };
    let upload_note = match (&job.image, &*kept) {
        (MriImage::Upload, Kept::Reading) => html! {
            <p class="small muted">{"Reading your upload from this browser's storage…"}</p>
        },
        (MriImage::Upload, Kept::File { file, .. }) => {
            let whose = if not_kept.is_some() {
                format!("Your upload {}, in this page view only.", file.name)
            } else {
                format!(
                    "Your upload {}, kept on this computer only (in this browser's storage; it is never sent anywhere).",
                    file.name
                )
            };
            let notes = match (&*upload_state, *prepared == wanted_key) {
                (Some(Ok((_, notes))), true) => notes.join(" "),
                (Some(Err(_)), _) => String::new(),
                _ => format!("Preparing it at {0}×{0}…", job.side),
            };
            html! {
                <div class="upload-kept small muted" data-testid="upload-notes">
                    <span>{whose}{" "}{notes}</span>
                    <button type="button" class="secondary" onclick={on_remove}>{"Remove my upload"}</button>
                </div>
            }
        }
        (MriImage::Upload, Kept::Nothing { problem }) => html! {
            <Notice kind="info">
                <div data-testid="upload-elsewhere">
                    <p>{"No upload is kept in this browser. Images uploaded to the lab stay on the computer they were uploaded from, in that browser's storage, and are never sent anywhere, so a link cannot show someone else's upload. Meanwhile the figure shows the default brain slice."}</p>
                    if let Some(p) = problem {
                        <p class="small">{format!("(This browser's storage could not be read: {p}.)")}</p>
                    }
                    <label class="file">{"Choose an image of your own (PNG or JPEG): "}
                        <input type="file" accept="image/png,image/jpeg" data-testid="upload-here" onchange={on_upload.clone()} />
                    </label>
                </div>
            </Notice>
        },
        _ => html! {},
    };

    let controls = html! {
        <div class="mri-controls">
            <div class="row">
                <label>{"image "}
                    <select data-testid="image" onchange={on_select(Rc::new(|s: &mut MriState, v: String| {
                        s.job.image = match v.as_str() {
                            "shepp_logan" => MriImage::SheppLogan,
                            "ellipses" => MriImage::Ellipses { seed: 1 },
                            "upload" => MriImage::Upload,
                            _ => MriImage::Brain { orientation: "axial".into(), index: 4 },
                        };
                    }))}>
                        <option value="brain" selected={image_kind == "brain"}>{"brain (MNI template)"}</option>
                        <option value="shepp_logan" selected={image_kind == "shepp_logan"}>{"Shepp–Logan phantom"}</option>
                        <option value="ellipses" selected={image_kind == "ellipses"}>{"random ellipses"}</option>
                        <option value="upload" selected={image_kind == "upload"}>{"your upload"}</option>
                    </select>
                </label>
                {image_controls}
                <label class="file">{"upload PNG/JPEG "}
                    <input type="file" accept="image/png,image/jpeg" data-testid="upload" onchange={on_upload} />
                </label>
                <label>{"size "}
                    <select data-testid="side" onchange={on_select(Rc::new(|s: &mut MriState, v: String| {
                        if let Ok(n) = v.parse() { s.job.side = n; }
                        if let MriImage::Brain { index, .. } = &mut s.job.image { *index = 0; }
                    }))}>
                        { for [128usize, 256].iter().map(|n| html! {
                            <option value={n.to_string()} selected={job.side == *n}>{format!("{n}×{n}")}</option>
                        }) }
                    </select>
                </label>
            </div>
            {upload_error}
            {storage_notes}
            {upload_note}
            <div class="row">
                <label>{"pattern "}
                    <select data-testid="pattern" onchange={on_select(Rc::new(|s: &mut MriState, v: String| {
                        if let Ok(p) = Pattern::from_name(&v) { s.job.pattern = p; }
                    }))}>
                        { for Pattern::ALL.iter().map(|p| html! {
                            <option value={p.name()} selected={job.pattern == *p}>{p.title()}</option>
                        }) }
                    </select>
                </label>
                <label class="slider">{format!("sampling rate {:.0}% ", job.rate * 100.0)}
                    <input type="range" min={MRI_RATES.start().to_string()} max={MRI_RATES.end().to_string()} step="0.01"
                        value={job.rate.to_string()} data-testid="rate" aria-label="sampling rate"
                        aria-valuetext={format!("sampling rate, {:.0}%", job.rate * 100.0)}
                        oninput={on_input(Rc::new(|s: &mut MriState, v: String| {
                            if let Ok(r) = v.parse::<f64>() { s.job.rate = r.clamp(*MRI_RATES.start(), *MRI_RATES.end()); }
                        }))} />
                </label>
                <label class="slider">{format!("noise ‖e‖/‖Ax‖ = {:.1}% ", job.noise * 100.0)}
                    <input type="range" min="0" max={MRI_NOISE.end().to_string()} step="0.005"
                        value={job.noise.to_string()} data-testid="noise" aria-label="relative noise level"
                        aria-valuetext={format!("relative noise level, {:.1}%", job.noise * 100.0)}
                        oninput={on_input(Rc::new(|s: &mut MriState, v: String| {
                            if let Ok(r) = v.parse::<f64>() { s.job.noise = r.clamp(*MRI_NOISE.start(), *MRI_NOISE.end()); }
                        }))} />
                </label>
            </div>
            <details class="advanced" data-testid="advanced">
                <summary>{"Advanced: wavelet, λ, n, p"}</summary>
                <div class="row">
                    <label>{"wavelet "}
                        <select data-testid="wavelet" onchange={on_select(Rc::new(|s: &mut MriState, v: String| {
                            s.job.wavelet = v;
                        }))}>
                            { for [Wavelet::Haar, Wavelet::Db4, Wavelet::Sym4].iter().map(|w| html! {
                                <option value={w.name()} selected={job.wavelet == w.name()}>{w.name()}</option>
                            }) }
                        </select>
                    </label>
                    <label>{"λ "}
                        <input type="number" class="narrow" min="0.000001" max="0.1" step="0.0001" value={job.lambda.to_string()}
                            data-testid="lambda" onchange={on_change(Rc::new(|s: &mut MriState, v: String| {
                                if let Ok(l) = v.parse::<f32>() {
                                    if crate::mri::state::MRI_LAMBDA.contains(&l) { s.job.lambda = l; }
                                }
                            }))} />
                    </label>
                    <label>{"n (blocks) "}
                        <input type="number" class="narrow" min="1" max="20" step="1" value={job.blocks.to_string()}
                            data-testid="blocks" onchange={on_change(Rc::new(|s: &mut MriState, v: String| {
                                if let Ok(n) = v.parse::<usize>() {
                                    if crate::mri::state::MRI_BLOCKS.contains(&n) { s.job.blocks = n; s.layer = None; }
                                }
                            }))} />
                    </label>
                    <label>{"p (layers per block) "}
                        <input type="number" class="narrow" min="1" max="50" step="1" value={job.layers_per_block.to_string()}
                            data-testid="layers-per-block" onchange={on_change(Rc::new(|s: &mut MriState, v: String| {
                                if let Ok(p) = v.parse::<usize>() {
                                    if crate::mri::state::MRI_LAYERS_PER_BLOCK.contains(&p) { s.job.layers_per_block = p; s.layer = None; }
                                }
                            }))} />
                    </label>
                </div>
                <p class="small muted">{"λ weighs sparsity against data fit; λ and p interact (a small λ needs more layers per block), and λ·max weight must stay well below 1. Restarts shrink the error geometrically, by about e⁻¹ per block, down to the noise level."}</p>
            </details>
        </div>
    };

    let explain = html! {
        <div class="explain">
            <p>{"An MRI scanner measures Fourier coefficients of the image. Sampling only a share Ω of them is faster; the reconstruction must fill in the rest:"}</p>
            {crate::web::math::formula(crate::formula::MRI_FORWARD)}<p class="small muted">{"F is the unitary 2-D DFT; P"}<sub>{"Ω"}</sub>{" keeps the sampled frequencies."}</p>
            <p>{"Zero-filling, A*y, sets the missing frequencies to zero. FIRENET (Colbrook, Antun & Hansen, PNAS 2022) is a network whose layers are the steps of a primal–dual algorithm for the square-root LASSO over wavelet coefficients z (x = W⁻¹z):"}</p>
            {crate::web::math::formula(crate::formula::FIRENET)}
            <p>{"Its blocks of p layers restart with rescaled data, so the error falls geometrically with depth, and it is provably stable: small changes in y give small changes in the output."}</p>
        </div>
    };

    let status = match &*run {
        Run::Idle | Run::Done(_) => html! {},
        Run::Failed(m) => {
            html! { <Notice kind="error">{format!("The reconstruction failed: {m}")}</Notice> }
        }
        Run::Running { done, total, .. } => html! {
            <div class="row" data-testid="mri-running">
                <span class="muted">{"Reconstructing… "}</span>
                <Progress done={*done} total={*total} />
            </div>
        },
    };
    let body = match run.shown() {
        None => html! {},
        Some(r) => {
            let current = matches!(&*run, Run::Done(_));
            let (shown, shown_layer) = match &*layer_panel {
                Some((run_id, l, p)) if *run_id == r.run && *l == layer => (p.clone(), layer),
                _ => (r.firenet.clone(), r.layer_errors.len()),
            };
            let on_layer = on_input(Rc::new(|s: &mut MriState, v: String| {
                if let Ok(l) = v.parse::<usize>() {
                    let layers = s.job.blocks * s.job.layers_per_block;
                    s.layer = (l < layers).then_some(l.max(1));
                }
            }));
            html! {
                <div class={classes!("mri-results", (!current).then_some("updating"))} data-testid="mri-results"
                    data-run={r.run.to_string()}>
                    <p class="small" data-testid="mri-summary">
                        {format!(
                            "{} of {} frequencies sampled ({:.1}%), {} wavelet levels; FIRENET: {} layers in {:.0} ms in this browser.",
                            r.samples, r.side * r.side, r.rate * 100.0, r.wavelet_levels, r.layer_errors.len(), r.millis
                        )}
                    </p>
                    <div class="small"><EngineBadge computed={Computed {
                        engine: r.engine.clone(),
                        millis: r.millis,
                        per: "reconstruction".into(),
                        notice: r.notice.clone(),
                    }} /></div>
                    <div class="mri-grid">
                        <Figure title="truth x" picture={r.truth.clone()} testid="panel-truth" />
                        <Figure title="mask Ω" picture={r.mask.clone()} testid="panel-mask"
                            caption="white: sampled frequencies (zero frequency at the centre)" />
                        <Figure title="k-space log|Fx|" picture={r.kspace.clone()} testid="panel-kspace" />
                        <Figure title="zero-filled A*y" picture={r.zero_filled.picture.clone()}
                            quality={Some(r.zero_filled.quality)} testid="panel-zero-filled" />
                        <Figure title={format!("FIRENET, layer {shown_layer}/{}", r.layer_errors.len())}
                            picture={shown.picture.clone()} quality={Some(shown.quality)} testid="panel-firenet">
                            <label class="layer-slider">{format!("layer {shown_layer}")}
                                <input type="range" min="1" max={r.layer_errors.len().to_string()} step="1"
                                    value={shown_layer.to_string()} data-testid="layer"
                                    aria-label="FIRENET layer" aria-valuetext={format!("layer {shown_layer} of {}", r.layer_errors.len())}
                                    oninput={on_layer} disabled={!current} />
                            </label>
                        </Figure>
                    </div>
                    <h3>{"Relative error ‖x̂ − x‖₂/‖x‖₂ against the layer"}</h3>
                    <ErrorPlot errors={Rc::new(r.layer_errors.clone())} layers_per_block={r.layers_per_block}
                        zero_filled={r.zero_filled.quality.error} layer={shown_layer} />
                </div>
            }
        }
    };

    html! {
        <section class="demo mri" data-testid="mri">
            if !embed {
                <h1 class="page-title">{"MRI reconstruction: subsampled Fourier sampling, wavelets and FIRENET"}</h1>
                {explain}
            }
            { for parsed.notices.iter().map(|n| html! { <Notice kind="warning">{n.clone()}</Notice> }) }
            // Embedded in a course page or presenting, the figure comes first and the controls after it.
            if first {
                {status}
                <ExportFigure name="mri" title="MRI reconstruction">{body}</ExportFigure>
                {controls}
            } else {
                {controls}
                {status}
                <ExportFigure name="mri" title="MRI reconstruction">{body}</ExportFigure>
            }
        </section>
    }
}
