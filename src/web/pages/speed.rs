//! The Speed page: the lab against what a user would pick instead, measured in the same run
//! (`static/reports/peers.json`, [`crate::peers`]): DeepFool per digit in the lab's worker and in
//! TensorFlow.js's backends (a bar chart on a log scale and a table per model), FIRENET against
//! the NumPy reference, and the worker pool against one worker.

use crate::peers::Peers;
use crate::web::data::{load_once, Shareable};
use crate::web::export::ExportFigure;
use crate::web::fetch::fetch_bytes;
use crate::web::widgets::Notice;
use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;
use yew::prelude::*;

pub const REPORT_URL: &str = "./static/reports/peers.json";

thread_local! {
    static REPORT: RefCell<HashMap<String, Shareable<Peers>>> = RefCell::new(HashMap::new());
}

async fn shipped() -> crate::Result<Rc<Peers>> {
    load_once(&REPORT, REPORT_URL, || async {
        Peers::from_json(&fetch_bytes(REPORT_URL).await?)
    })
    .await
}

/// Milliseconds as people read them.
fn ms(v: f64) -> String {
    if v >= 1000.0 {
        format!("{:.2} s", v / 1000.0)
    } else if v >= 10.0 {
        format!("{v:.0} ms")
    } else if v >= 1.0 {
        format!("{v:.1} ms")
    } else {
        format!("{v:.2} ms")
    }
}

/// The DeepFool chart: one row per (model, engine), the median per digit as a bar on a log
/// scale from 10 µs to 10 s.
fn deepfool_chart(p: &Peers) -> Html {
    let Some(tfjs) = &p.tfjs else { return html! {} };
    let mut rows: Vec<(String, String, f64)> = Vec::new();
    for (model, m) in &tfjs.models {
        rows.push((model.clone(), "lab".into(), m.lab.deepfool.median));
        for (backend, b) in &m.tfjs {
            rows.push((model.clone(), format!("TF.js {backend}"), b.deepfool.median));
        }
    }
    let (left, width, row_h) = (170.0, 760.0, 26.0);
    let (lo, hi) = (-2.0f64, 4.0f64); // log10 ms: 10 µs … 10 s
    let x = |v: f64| {
        left + (v.max(1e-3).log10().clamp(lo, hi) - lo) / (hi - lo) * (width - left - 90.0)
    };
    let height = 40.0 + rows.len() as f64 * row_h;
    html! {
        <svg class="speed-chart" viewBox={format!("0 0 {width} {height}")} role="img" data-testid="speed-chart"
            aria-label="DeepFool per digit, median, on a log scale: the lab's worker and TensorFlow.js's backends">
            { for (-2..=4).map(|e| {
                let xe = x(10f64.powi(e));
                let label = match e { -2 => "10 µs".to_string(), -1 => "0.1 ms".into(), 0 => "1 ms".into(), 1 => "10 ms".into(), 2 => "0.1 s".into(), 3 => "1 s".into(), _ => "10 s".into() };
                html! { <g class="tick"><line x1={xe.to_string()} x2={xe.to_string()} y1="22" y2={(height - 6.0).to_string()} />
                    <text x={xe.to_string()} y="15" text-anchor="middle">{label}</text></g> }
            }) }
            { for rows.iter().enumerate().map(|(k, (model, engine, v))| {
                let y = 28.0 + k as f64 * row_h;
                let lab = engine == "lab";
                html! {
                    <g class={classes!("bar", lab.then_some("lab"))} data-testid="speed-bar" data-model={model.clone()} data-engine={engine.clone()} data-ms={v.to_string()}>
                        <text x={(left - 8.0).to_string()} y={(y + 15.0).to_string()} text-anchor="end">{format!("{model} · {engine}")}</text>
                        <rect x={left.to_string()} y={(y + 3.0).to_string()} width={(x(*v) - left).max(1.0).to_string()} height={(row_h - 8.0).to_string()} />
                        <text x={(x(*v) + 6.0).to_string()} y={(y + 15.0).to_string()}>{ms(*v)}</text>
                    </g>
                }
            }) }
        </svg>
    }
}

fn tfjs_tables(p: &Peers) -> Html {
    let Some(tfjs) = &p.tfjs else {
        return html! { <p class="muted">{"No TensorFlow.js run in the report (scripts/bench-peers.sh writes it)."}</p> };
    };
    let floor = tfjs.floor.as_ref().map(|f| html! {
        <p data-testid="speed-floor">{format!(
            "The single-core floor of DeepFool on the CNN: {:.1} M multiply–adds per digit (the mean of {:.2} iterations) at {:.1} G multiply–adds/s on one core = {}; the lab's worker takes {}, {:.1}× the floor.",
            f.macs_per_digit_pooled / 1e6, f.mean_iterations, f.core_macs_per_s / 1e9, ms(f.floor_ms_pooled), ms(f.lab_median_ms), f.lab_over_floor
        )}</p>
    });
    html! {
        <>
            <table class="robustness speed-table" data-testid="speed-tfjs">
                <thead><tr><th>{"model"}</th><th>{"engine"}</th><th>{"DeepFool median / p95"}</th><th>{"× the lab"}</th><th>{"mean ρ agrees within"}</th><th>{"2,000 digits forward"}</th></tr></thead>
                <tbody>
                    { for tfjs.models.iter().map(|(model, m)| html! {
                        <>
                            <tr class="lab" data-testid="speed-row" data-model={model.clone()} data-engine="lab">
                                <th>{model.clone()}</th><td>{"the lab's worker"}</td>
                                <td>{format!("{} / {}", ms(m.lab.deepfool.median), ms(m.lab.deepfool.p95))}</td>
                                <td>{"1"}</td><td>{"—"}</td><td>{ms(m.lab.batch.median)}</td>
                            </tr>
                            { for m.tfjs.iter().map(|(name, b)| html! {
                                <tr data-testid="speed-row" data-model={model.clone()} data-engine={name.clone()}>
                                    <th>{model.clone()}</th><td>{format!("TF.js {} {name}", tfjs.version)}</td>
                                    <td>{format!("{} / {}", ms(b.deepfool.median), ms(b.deepfool.p95))}</td>
                                    <td>{format!("{:.1}×", b.ratio_median)}</td>
                                    <td>{format!("{:.2}% ({} digits)", b.agreement.mean_rho_rel_diff * 100.0, b.agreement.digits)}</td>
                                    <td>{format!("{}{}", ms(b.batch.median), b.batch.count.filter(|&c| c != 2000).map(|c| format!(" ({c} digits)")).unwrap_or_default())}</td>
                                </tr>
                            }) }
                        </>
                    }) }
                </tbody>
            </table>
            {floor.unwrap_or_default()}
        </>
    }
}

fn firenet_table(p: &Peers) -> Html {
    let Some(f) = &p.firenet else { return html! {} };
    html! {
        <table class="robustness speed-table" data-testid="speed-firenet">
            <thead><tr><th>{"case"}</th><th>{"side"}</th><th>{"the lab (f32, one thread)"}</th><th>{"NumPy reference (f64)"}</th><th>{"reference / lab"}</th><th>{"‖x_lab − x_ref‖ / ‖x_ref‖"}</th></tr></thead>
            <tbody>
                { for f.cases.iter().map(|c| html! {
                    <tr data-testid="speed-firenet-row" data-case={c.name.clone()}>
                        <th>{c.name.clone()}</th><td>{format!("{}²", c.side)}</td>
                        <td>{ms(c.lab.median_ms)}</td><td>{ms(c.reference.median_ms)}</td>
                        <td>{format!("{:.0}×", c.reference_over_lab)}</td><td>{format!("{:.1e}", c.relative_difference)}</td>
                    </tr>
                }) }
            </tbody>
        </table>
    }
}

fn pool_table(p: &Peers) -> Html {
    let Some(pool) = &p.pool else { return html! {} };
    html! {
        <table class="robustness speed-table" data-testid="speed-pool">
            <thead><tr><th>{"workers"}</th><th>{"median / p95"}</th><th>{"speed-up"}</th><th>{"same numbers as one worker"}</th><th>{"wasm memory per worker"}</th></tr></thead>
            <tbody>
                { for pool.rows.iter().map(|r| html! {
                    <tr data-testid="speed-pool-row" data-workers={r.workers.to_string()}>
                        <th>{r.workers}</th><td>{format!("{} / {}", ms(r.median_ms), ms(r.p95_ms))}</td>
                        <td>{format!("{:.2}×", r.speedup)}</td><td>{if r.same_as_one_worker { "yes" } else { "no" }}</td>
                        <td>{r.worker_memory_bytes.iter().map(|b| format!("{} MiB", b >> 20)).collect::<Vec<_>>().join(", ")}</td>
                    </tr>
                }) }
            </tbody>
        </table>
    }
}

#[function_component(SpeedDemo)]
pub fn speed_demo() -> Html {
    let report = use_state(|| None::<Result<Rc<Peers>, String>>);
    {
        let report = report.clone();
        use_effect_with((), move |_| {
            wasm_bindgen_futures::spawn_local(async move {
                report.set(Some(shipped().await.map_err(|e| e.to_string())));
            });
        });
    }
    let body = match &*report {
        None => html! { <p class="muted">{"Loading the measurements…"}</p> },
        Some(Err(e)) => {
            html! { <Notice kind="error">{format!("The speed report could not be loaded: {e}")}</Notice> }
        }
        Some(Ok(p)) => {
            let cores = p
                .cores
                .navigator_hardware_concurrency
                .or(p.cores.os_cpus)
                .unwrap_or(0);
            html! {
                <>
                    <p class="small muted" data-testid="speed-setting">{format!(
                        "Measured in {} on a machine with {cores} cores, {} (static/reports/peers.json). Every figure is a median over repeated runs in the same browser and the same run; the commands are in docs/benchmarks.md.",
                        p.browser, p.date.get(..10).unwrap_or(&p.date)
                    )}</p>
                    <ExportFigure name="speed-deepfool" title="DeepFool per digit: the lab against TensorFlow.js">
                        <h2>{"DeepFool per digit: the lab against TensorFlow.js"}</h2>
                        <p>{"The same shipped weights loaded into TensorFlow.js models of the same architecture (their logits agree with the lab's within 10⁻⁴ on the held-out digits), and the same DeepFool (ℓ₂, η = 0.02, at most 50 iterations) on the same digits, right after the lab's own worker. TensorFlow.js gets its Jacobian from one batched backward pass per iteration, the idiomatic way."}</p>
                        {deepfool_chart(p)}
                        {tfjs_tables(p)}
                    </ExportFigure>
                    <ExportFigure name="speed-firenet" title="FIRENET against the NumPy reference">
                        <h2>{"FIRENET against the NumPy reference"}</h2>
                        <p>{"The same image, mask, wavelet, λ, n and p, natively on the same machine. The reference is written to be obviously correct (explicit DFT matrices, wavelet loops from the formula), not fast."}</p>
                        {firenet_table(p)}
                    </ExportFigure>
                    <ExportFigure name="speed-pool" title="The worker pool">
                        <h2>{"The worker pool"}</h2>
                        <p>{"The sampling sweep split over several workers, each with its own copy of the wasm module, against one worker: the same numbers, sooner where there are cores to use."}</p>
                        {pool_table(p)}
                    </ExportFigure>
                </>
            }
        }
    };
    html! {
        <section class="demo speed" data-testid="speed">
            <h1 class="page-title">{"Speed: the lab against what you would pick instead"}</h1>
            {body}
        </section>
    }
}
