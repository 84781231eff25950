// The benchmark page's entry points, called one step at a time by scripts/bench-peers.mjs:
//   peers.init()                       the digits, the lab's worker, what this browser offers
//   peers.lab(model, config)           the lab's worker: logits, DeepFool per digit, a batch
//   peers.tfjs(backend, model, config) TF.js on `backend`: the same, checked against the lab
// Heavy data (digits, logits, per-digit results) stays in the page; the steps return summaries.
import { loadHeldOut, loadWeights, stats, mean } from './data.mjs';
import { LabWorker } from './lab.mjs';
import { buildModel, deepfool, forward, useBackend } from './tfjs.mjs';

const tf = globalThis.tf;
const state = { digits: null, worker: null, weights: new Map(), lab: new Map() };
const range = (n) => [...Array(n).keys()];
const log = (line) => {
  document.getElementById('log').textContent += `${line}\n`;
};

async function weightsOf(model) {
  if (!state.weights.has(model)) state.weights.set(model, await loadWeights(model));
  return state.weights.get(model);
}

/** Per-digit DeepFool results → the summary both sides report. */
function summarise(runs) {
  const ok = runs.filter((r) => r.ok);
  return {
    digits: runs.length,
    converged: ok.length,
    ...stats(runs.map((r) => r.millis)),
    mean_rho: mean(ok.map((r) => r.rho)),
    mean_iterations: mean(ok.map((r) => r.iterations)),
  };
}

async function init() {
  state.digits = await loadHeldOut();
  state.worker = await LabWorker.start();
  const adapter = await navigator.gpu?.requestAdapter().catch(() => null);
  return {
    userAgent: navigator.userAgent,
    hardwareConcurrency: navigator.hardwareConcurrency,
    crossOriginIsolated: globalThis.crossOriginIsolated === true,
    tfjs: tf.version.tfjs,
    webgpuAdapter: Boolean(adapter),
    heldOut: state.digits.count,
  };
}

/**
 * The lab's worker on `model`: logits of the first `check` held-out digits (its `classify` job:
 * the plain-loop f32 network the attacks and the transfer table use, one image a job), DeepFool
 * ℓ₂ (its `attack` job, `deep_fool_l2`, the default settings η = 0.02, ε = 1e-4, 50 iterations)
 * on the first `digits` digits after `warmup` untimed ones, and a forward pass of `batch` digits
 * `runs` times (after the untimed check): one image at a time (the `classify` jobs' own times
 * summed: the transfer table's unit of work) and as its `evaluate` job (candle, batches of 100,
 * a yield to the event loop between batches).
 */
async function lab(model, { digits, warmup, check, batch, runs }) {
  const D = state.digits;
  const worker = state.worker;
  await worker.request({ kind: 'load_model', model });
  const image = (i) => Array.from(D.image(i));
  const classifyAll = async (count) => {
    const start = performance.now();
    const replies = await Promise.all(range(count).map((i) => worker.request({ kind: 'classify', model, image: image(i) })));
    return { replies, page: performance.now() - start, worker: replies.reduce((a, b) => a + b.millis, 0) };
  };

  const checked = await classifyAll(check);
  const logits = new Float32Array(check * 10);
  checked.replies.forEach((b, i) => logits.set(b.prediction.logits, i * 10));

  const attack = (i) =>
    worker.request({ kind: 'attack', model, image: image(i), attack: 'deep_fool_l2', seed: i }).then(
      (b) => ({
        ok: b.outcome.success,
        millis: b.millis,
        roundTrip: b.roundTrip,
        rho: b.outcome.rho,
        iterations: b.outcome.iterations,
        label: b.outcome.original_label,
        adversarial: b.outcome.adversarial_label,
      }),
      // The lab answers "did not change the label in 50 iterations" with a failure.
      (e) => ({ ok: false, millis: NaN, message: e.message }),
    );
  for (let w = 0; w < warmup; w++) await attack(w % digits);
  const per = [];
  for (let i = 0; i < digits; i++) per.push(await attack(i));
  const failed = per.filter((r) => !Number.isFinite(r.millis));
  if (failed.length) log(`lab ${model}: ${failed.length} DeepFool runs failed (${failed[0].message})`);

  const passes = [];
  for (let r = 0; r < runs; r++) passes.push(await classifyAll(batch));
  await worker.request({ kind: 'evaluate', model, count: batch });
  const evaluations = [];
  for (let r = 0; r < runs; r++) evaluations.push(await worker.request({ kind: 'evaluate', model, count: batch }));

  state.lab.set(model, { logits, per });
  const timed = per.filter((r) => Number.isFinite(r.millis));
  const deepfoolSummary = summarise(timed);
  deepfoolSummary.failed = per.length - timed.length;
  deepfoolSummary.round_trip = stats(timed.map((r) => r.roundTrip));
  log(`lab ${model}: DeepFool median ${deepfoolSummary.median.toFixed(2)} ms`);
  return {
    deepfool: deepfoolSummary,
    batch: {
      count: batch,
      runs,
      // One image a job: the worker's times summed (its clock: 5 µs steps when cross-origin isolated).
      ...stats(passes.map((p) => p.worker)),
      page: stats(passes.map((p) => p.page)),
      evaluate: { ...stats(evaluations.map((e) => e.millis)), accuracy: evaluations[0].correct / evaluations[0].count },
    },
  };
}

/**
 * TF.js on `backend` with `model`: the logits of the first `check` digits against the lab's
 * (max |Δ|, labels), `runs` timed forward passes of `batch` digits (after the untimed check pass),
 * and DeepFool on the first `digits` digits (after `warmup` untimed ones), digit by digit against
 * the lab's run of the same digits.
 */
async function tfjs(backend, model, { digits, warmup, check, batch, batchSize, runs, wasmThreads = 0 }) {
  const info = await useBackend(backend, { wasmThreads });
  const D = state.digits;
  const reference = state.lab.get(model);
  if (!reference) throw new Error(`run the lab on '${model}' first`);
  const tensorsBefore = tf.memory().numTensors;
  const net = buildModel(model, (await weightsOf(model)).weights);

  const checked = await forward(net, D.images, check, batchSize);
  let maxDelta = 0;
  let labelsDiffer = 0;
  const n = Math.min(check, reference.logits.length / 10);
  for (let i = 0; i < n; i++) {
    let a = 0;
    let b = 0;
    for (let k = 0; k < 10; k++) {
      const t = checked.logits[i * 10 + k];
      const l = reference.logits[i * 10 + k];
      maxDelta = Math.max(maxDelta, Math.abs(t - l));
      if (t > checked.logits[i * 10 + a]) a = k;
      if (l > reference.logits[i * 10 + b]) b = k;
    }
    if (a !== b) labelsDiffer++;
  }

  const passes = [];
  for (let r = 0; r < runs; r++) passes.push((await forward(net, D.images, batch, batchSize)).millis);

  const count = Math.min(digits, reference.per.length);
  for (let w = 0; w < warmup; w++) await deepfool(net, D.image(w % count));
  const per = [];
  for (let i = 0; i < count; i++) {
    const r = await deepfool(net, D.image(i));
    per.push({ ok: r.converged, ...r });
  }
  net.dispose();
  const leaked = tf.memory().numTensors - tensorsBefore;

  // The same digits, side by side with the lab's runs.
  const both = per.map((t, i) => [t, reference.per[i]]).filter(([t, l]) => t.ok && l.ok);
  const rhoDiff = both.map(([t, l]) => Math.abs(t.rho - l.rho) / l.rho);
  const deepfoolSummary = summarise(per);
  const labSame = summarise(reference.per.slice(0, count).filter((r) => Number.isFinite(r.millis)));
  const common = {
    digits: both.length,
    mean_rho_tfjs: mean(both.map(([t]) => t.rho)),
    mean_rho_lab: mean(both.map(([, l]) => l.rho)),
    max_rho_rel_diff: Math.max(0, ...rhoDiff),
    iterations_differ: both.filter(([t, l]) => t.iterations !== l.iterations).length,
    adversarial_label_differs: both.filter(([t, l]) => t.adversarial !== l.adversarial).length,
    converged_differs: per.filter((t, i) => t.ok !== reference.per[i].ok).length,
  };
  common.mean_rho_rel_diff = Math.abs(common.mean_rho_tfjs - common.mean_rho_lab) / common.mean_rho_lab;
  // The digits where the two runs part (a different path, or ρ apart by more than 0.1%).
  const outliers = per
    .map((t, i) => ({ t, l: reference.per[i], i }))
    .filter(({ t, l }) => t.ok !== l.ok || t.iterations !== l.iterations || t.adversarial !== l.adversarial ||
      (t.ok && l.ok && Math.abs(t.rho - l.rho) / l.rho > 1e-3))
    .map(({ t, l, i }) => ({
      digit: i,
      label: l.label,
      lab: { rho: l.rho, iterations: l.iterations, adversarial: l.adversarial, converged: l.ok },
      tfjs: { rho: t.rho, iterations: t.iterations, adversarial: t.adversarial, converged: t.ok, targets: t.targets },
    }));
  common.outlier_count = outliers.length;
  common.outliers = outliers.slice(0, 10);
  log(`${backend} ${model}: max |Δlogit| ${maxDelta.toExponential(2)}, DeepFool median ${deepfoolSummary.median.toFixed(2)} ms`);
  return {
    info,
    logits: { count: n, max_abs_diff: maxDelta, labels_differ: labelsDiffer },
    batch: { ...stats(passes), count: batch, batch_size: batchSize, runs },
    deepfool: deepfoolSummary,
    lab_same_digits: labSame,
    agreement: common,
    leaked_tensors: leaked,
  };
}

window.peers = { init, lab, tfjs };
window.peersReady = true;
