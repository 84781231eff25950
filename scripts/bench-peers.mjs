// The lab beside TensorFlow.js (issue 19, item 1; a report, not a test). In one headless Chromium,
// on a page kept out of the shipped bundle (bench/peers/, served here next to dist/):
//   - the lab's shipped linear, mlp and cnn weights loaded into TF.js 4.22 models of the same
//     architecture, their logits checked against the lab's worker on the held-out digits
//     (max |Δ| ≤ 1e-4);
//   - DeepFool (ℓ₂, η = 0.02, ε = 1e-4, at most 50 iterations) per digit: the lab's own compute
//     worker first, then TF.js on each backend (cpu, wasm, webgpu where an adapter exists) on the
//     same digits, with the mean ρ = ‖r‖₂/‖x‖₂ of both (they must agree within 1%);
//   - one forward pass of a batch of 2,000 digits on each side;
//   - the single-core floor of DeepFool on the CNN from its multiply–adds per digit and one
//     core's measured rate (bench/peers/flops.rs, built by scripts/bench-peers.sh).
// Writes the key "tfjs" (and "date", "browser", "cores") into static/reports/peers.json, keeping
// every other key, and prints a table.
//   trunk build --release && bash scripts/bench-peers.sh [--digits 100] [--slow-digits 20]
//     [--webgpu-digits 5] [--warmup 2] [--check 2000] [--batch 2000] [--webgpu-batch 200]
//     [--batch-size 100] [--runs 3]
//     [--models linear,mlp,cnn] [--backends cpu,wasm,webgpu] [--wasm-threads 0] [--no-isolation] [--no-write]
//     [--out static/reports/peers.json]
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { launch, WEBGPU_ARGS } from '../tests/e2e/helpers.mjs';
import { TYPES } from './serve.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const DIST = path.join(ROOT, 'dist');

const defaults = {
  digits: 100, // DeepFool digits: the lab and TF.js's wasm backend
  'slow-digits': 20, // DeepFool digits for TF.js's cpu backend (plain JavaScript)
  'webgpu-digits': 5, // DeepFool digits for TF.js's webgpu backend (SwiftShader here: a GPU emulated on the CPU)
  warmup: 2, // untimed DeepFool runs before each timed series
  check: 2000, // held-out digits whose logits are compared
  batch: 2000, // digits in the timed forward pass
  'webgpu-batch': 200, // digits in webgpu's logit check and timed forward pass
  'batch-size': 100, // TF.js predict()'s batch size (the lab's evaluate job also goes by 100)
  runs: 3, // timed forward passes (after the untimed one that checks the logits)
  'wasm-threads': 0, // TF.js wasm backend's threads (0: its default)
  models: 'linear,mlp,cnn',
  backends: 'cpu,wasm,webgpu',
  out: 'static/reports/peers.json',
};
const args = { ...defaults, isolation: true, write: true };
const argv = process.argv.slice(2);
for (let i = 0; i < argv.length; i++) {
  const a = argv[i];
  if (a === '--no-isolation') args.isolation = false;
  else if (a === '--no-write') args.write = false;
  else if (a.startsWith('--') && a.slice(2) in defaults) {
    const v = argv[++i];
    args[a.slice(2)] = typeof defaults[a.slice(2)] === 'number' ? Number(v) : v;
  } else {
    console.error(`unknown argument ${a}; see the head of scripts/bench-peers.mjs`);
    process.exit(2);
  }
}
const MODELS = args.models.split(',');
const BACKENDS = args.backends.split(',');

for (const [file, hint] of [
  ['dist/index.html', 'trunk build --release'],
  ['node_modules/@tensorflow/tfjs/dist/tf.min.js', 'npm ci (or bash scripts/setup.sh --browser)'],
]) {
  if (!fs.existsSync(path.join(ROOT, file))) {
    console.error(`${file} is missing: ${hint}`);
    process.exit(2);
  }
}
// The page reads the weights and digits the bundle ships: they must be the checked-in ones.
for (const f of [...MODELS.map((m) => `static/models/${m}.safetensors`), 'static/data/mnist-heldout.safetensors']) {
  const shipped = path.join(DIST, f);
  if (!fs.existsSync(shipped) || !fs.readFileSync(shipped).equals(fs.readFileSync(path.join(ROOT, f)))) {
    console.error(`dist/${f} differs from ${f}: rebuild the bundle (trunk build --release)`);
    process.exit(2);
  }
}

// ---- One core's multiply–add rate (native, 128-bit SIMD like wasm simd128) -------------------
const flopsBin = path.join(ROOT, 'target/bench-peers/flops');
let core = null;
if (fs.existsSync(flopsBin)) {
  core = JSON.parse(execFileSync(flopsBin, { encoding: 'utf8' }));
} else {
  console.error('target/bench-peers/flops is missing (scripts/bench-peers.sh builds it): no floor estimate');
}

// ---- A server for dist/, bench/peers/ and the TF.js bundles, cross-origin isolated ------------
// The lab server's content types (scripts/serve.mjs).
const TFJS_PACKAGES = new Set(['tfjs', 'tfjs-backend-wasm', 'tfjs-backend-webgpu']);
function resolve(pathname) {
  const parts = pathname.split('/').filter(Boolean);
  let base;
  let rest;
  if (parts[0] === 'tfjs' && TFJS_PACKAGES.has(parts[1])) {
    base = path.join(ROOT, 'node_modules/@tensorflow', parts[1], 'dist');
    rest = parts.slice(2);
  } else if (parts[0] === 'bench' && parts[1] === 'peers') {
    base = path.join(ROOT, 'bench/peers');
    rest = parts.slice(2);
  } else {
    base = DIST;
    rest = parts;
  }
  const file = path.normalize(path.join(base, ...rest));
  if (file !== base && !file.startsWith(base + path.sep)) return null;
  return fs.existsSync(file) && fs.statSync(file).isDirectory() ? path.join(file, 'index.html') : file;
}
const server = http.createServer((req, res) => {
  let file;
  try {
    file = resolve(decodeURIComponent(new URL(req.url, 'http://127.0.0.1').pathname));
  } catch {
    file = null;
  }
  if (!file || !fs.existsSync(file) || !fs.statSync(file).isFile()) {
    res.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
    return;
  }
  const headers = {
    'content-type': TYPES[path.extname(file)] ?? 'application/octet-stream',
    'cache-control': 'no-store',
  };
  if (args.isolation) {
    // Cross-origin isolation: TF.js's wasm backend may use its threaded build (SharedArrayBuffer),
    // and performance.now() has its finest resolution.
    headers['cross-origin-opener-policy'] = 'same-origin';
    headers['cross-origin-embedder-policy'] = 'require-corp';
  }
  res.writeHead(200, headers);
  fs.createReadStream(file).pipe(res);
});
await new Promise((r) => server.listen(0, '127.0.0.1', r));
const url = `http://127.0.0.1:${server.address().port}/`;

// ---- The run --------------------------------------------------------------------------------
const loadBefore = os.loadavg();
const started = Date.now();
const browser = await launch(WEBGPU_ARGS);
const results = { lab: {}, tfjs: {} };
const backendInfo = {};
let env;
let chromium;
try {
  const context = await browser.newContext({ serviceWorkers: 'block' });
  const page = await context.newPage();
  page.on('console', (m) => {
    if (m.type() === 'error' || m.type() === 'warning') console.error(`[page ${m.type()}] ${m.text()}`);
  });
  page.on('pageerror', (e) => console.error(`[page error] ${e.message}`));
  page.on('response', (r) => {
    if (r.status() >= 400) console.error(`[page] HTTP ${r.status()} for ${r.url()}`);
  });
  await page.goto(`${url}bench/peers/index.html`);
  await page.waitForFunction(() => window.peersReady === true, null, { timeout: 60_000 });
  env = await page.evaluate(() => window.peers.init());
  chromium = `Chromium ${browser.version()}`;
  console.log(`${chromium} · ${env.hardwareConcurrency} cores · TF.js ${env.tfjs} · ` +
    `cross-origin isolated: ${env.crossOriginIsolated} · WebGPU adapter: ${env.webgpuAdapter}`);
  const unavailable = {};
  for (const model of MODELS) {
    const cfg = { digits: args.digits, warmup: args.warmup, check: args.check, batch: args.batch, runs: args.runs };
    const t0 = Date.now();
    results.lab[model] = await page.evaluate(([m, c]) => window.peers.lab(m, c), [model, cfg]);
    console.log(`lab ${model}: ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    results.tfjs[model] = {};
    for (const backend of BACKENDS) {
      if (unavailable[backend]) continue;
      const c = { ...cfg, batchSize: args['batch-size'], wasmThreads: args['wasm-threads'] };
      if (backend === 'cpu') c.digits = Math.min(args.digits, args['slow-digits']);
      if (backend === 'webgpu') {
        c.digits = Math.min(args.digits, args['webgpu-digits']);
        c.check = Math.min(args.check, args['webgpu-batch']);
        c.batch = Math.min(args.batch, args['webgpu-batch']);
      }
      const t1 = Date.now();
      try {
        const r = await page.evaluate(([b, m, cc]) => window.peers.tfjs(b, m, cc), [backend, model, c]);
        backendInfo[backend] = r.info;
        delete r.info;
        results.tfjs[model][backend] = r;
        console.log(`tfjs ${backend} ${model}: ${((Date.now() - t1) / 1000).toFixed(1)} s`);
      } catch (e) {
        const message = String(e.message ?? e).split('\n')[0];
        if (/no WebGPU adapter|did not start/.test(message)) {
          unavailable[backend] = message;
          backendInfo[backend] = { unavailable: message };
          console.log(`tfjs ${backend}: unavailable (${message})`);
        } else {
          throw e;
        }
      }
    }
  }
  await context.close();
} finally {
  await browser.close();
  server.close();
}
const loadAfter = os.loadavg();

// ---- Ratios, agreement, the floor -----------------------------------------------------------
const failures = [];
const explained = [];
for (const model of MODELS) {
  for (const [backend, r] of Object.entries(results.tfjs[model])) {
    r.ratio_median = r.deepfool.median / r.lab_same_digits.median;
    r.ratio_p95 = r.deepfool.p95 / r.lab_same_digits.p95;
    // Per digit: webgpu's pass may be shorter than the lab's.
    r.batch_ratio = (r.batch.median / r.batch.count) / (results.lab[model].batch.median / results.lab[model].batch.count);
    if (!(r.logits.max_abs_diff <= 1e-4)) {
      failures.push(`${model} on ${backend}: logits differ by up to ${r.logits.max_abs_diff.toExponential(2)} (> 1e-4)`);
    }
    if (!(r.agreement.mean_rho_rel_diff <= 0.01)) {
      const tie = backendInfo[backend]?.max_pool_tie;
      const why = model === 'cnn' && tie !== 'first'
        ? `: this backend's max-pooling gradient sends a tied window's gradient to its ${tie} maximum, the lab ` +
          "(and TF.js's cpu backend) to the first; the CNN's first convolution outputs plateaus of equal values " +
          "(its bias) wherever a digit's 5×5 neighbourhood is blank, so the two compute different, equally valid " +
          'subgradients there and DeepFool takes different steps'
        : '';
      (why ? explained : failures).push(`${model} on ${backend}: mean ρ differs by ${(100 * r.agreement.mean_rho_rel_diff).toFixed(2)}% (> 1%)${why}`);
    }
    if (r.agreement.converged_differs) {
      failures.push(`${model} on ${backend}: DeepFool converged on ${r.agreement.converged_differs} digits where the lab did not, or the reverse`);
    }
  }
}

// Multiply–adds of the CNN (src/classification/classifier.rs): conv 5×5 1→32 on 28² (24² out),
// pool, conv 5×5 32→64 on 12² (8² out), pool, FC 1024→128, FC 128→10.
const CNN = {
  forward: 24 * 24 * 32 * 25 + 8 * 8 * 64 * 32 * 25 + 1024 * 128 + 128 * 10,
  // ∇ₓ of one logit, every layer transposed: as much as the forward pass.
  row_dense: 128 * 10 + 1024 * 128 + 8 * 8 * 64 * 32 * 25 + 24 * 24 * 32 * 25,
  // Max-pooling passes each gradient to one of its 4 inputs: the transposed convolutions need
  // only the chosen positions (what the lab exploits; ReLU zeros would cut this further).
  row_pooled: 128 * 10 + 1024 * 128 + 4 * 4 * 64 * (32 * 25) + 12 * 12 * 32 * 25,
};
let floor = null;
const cnnLab = results.lab.cnn?.deepfool;
if (core && cnnLab) {
  const rate = Math.max(core.axpy_macs_per_s, core.blocked_macs_per_s);
  const it = cnnLab.mean_iterations;
  // DeepFool evaluates the model at x₀ … x_n (n + 1 forward passes) and the 10-row Jacobian at
  // x₀ … x_{n−1} (n backward passes of 10 rows).
  const macs = (row) => (it + 1) * CNN.forward + it * 10 * row;
  floor = {
    core_macs_per_s: rate,
    core_kernels: core,
    mean_iterations: it,
    forward_macs: CNN.forward,
    jacobian_row_macs_dense: CNN.row_dense,
    jacobian_row_macs_pooled: CNN.row_pooled,
    macs_per_digit_pooled: macs(CNN.row_pooled),
    macs_per_digit_dense: macs(CNN.row_dense),
    floor_ms_pooled: (macs(CNN.row_pooled) / rate) * 1e3,
    floor_ms_dense: (macs(CNN.row_dense) / rate) * 1e3,
    lab_median_ms: cnnLab.median,
  };
  floor.lab_over_floor = floor.lab_median_ms / floor.floor_ms_pooled;
}

// ---- The report -----------------------------------------------------------------------------
const f = (v, d = 2) => (v == null || Number.isNaN(v) ? 'n/a' : v.toFixed(d));
console.log(`\nDeepFool (ℓ₂) per digit, and one forward pass of ${args.batch} digits, in ${chromium ?? 'Chromium'}`);
console.log('model   side         digits  median ms    p95 ms  ×lab(median)   mean ρ    ρ Δ%  mean it.   batch ms (digits)  ×lab/digit  max|Δlogit|');
for (const model of MODELS) {
  const l = results.lab[model];
  const batchCell = (b) => `${f(b.median, 1).padStart(9)} (${String(b.count).padStart(4)})`;
  console.log(`${model.padEnd(7)} lab worker ${String(l.deepfool.digits).padStart(7)} ${f(l.deepfool.median).padStart(10)} ${f(l.deepfool.p95).padStart(9)} ` +
    `${'1'.padStart(13)} ${f(l.deepfool.mean_rho, 4).padStart(8)} ${''.padStart(7)} ${f(l.deepfool.mean_iterations).padStart(9)} ${batchCell(l.batch).padStart(18)} ${'1'.padStart(11)}`);
  for (const [backend, r] of Object.entries(results.tfjs[model])) {
    console.log(`${''.padEnd(7)} tfjs ${backend.padEnd(6)}${String(r.deepfool.digits).padStart(7)} ${f(r.deepfool.median).padStart(10)} ${f(r.deepfool.p95).padStart(9)} ` +
      `${f(r.ratio_median, 1).padStart(13)} ${f(r.deepfool.mean_rho, 4).padStart(8)} ${f(100 * r.agreement.mean_rho_rel_diff, 3).padStart(7)} ` +
      `${f(r.deepfool.mean_iterations).padStart(9)} ${batchCell(r.batch).padStart(18)} ${f(r.batch_ratio, 2).padStart(11)}  ${r.logits.max_abs_diff.toExponential(1)} (${r.logits.count})`);
  }
}
console.log(`\n×lab: TF.js's median over the lab worker's on the same digits. ρ Δ%: |mean ρ(TF.js) − mean ρ(lab)| / mean ρ(lab)`);
console.log(`on the digits both attacked. Lab DeepFool: the worker's own time of its attack job (page to page, the median:`);
console.log(`  ${MODELS.map((m) => `${m} ${f(results.lab[m].deepfool.round_trip.median)} ms`).join(', ')}).`);
console.log(`  The round trip also holds the line search for the slider's flip point and the JSON of the reply.`);
console.log(`Lab batch: ${args.batch} digits one image at a time through the attacks' network (its classify job, the transfer`);
console.log(`  table's way), the worker's own times summed (a 5 µs clock). As its evaluate job (candle, batches of 100, a yield`);
console.log(`  between batches): ${MODELS.map((m) => `${m} ${f(results.lab[m].batch.evaluate.median, 1)} ms`).join(', ')}; ` +
  `page to page, one image a job: ${MODELS.map((m) => `${m} ${f(results.lab[m].batch.page.median, 1)} ms`).join(', ')}.`);
console.log(`TF.js batch: predict() with batchSize ${args['batch-size']}, from upload to logits read back; ×lab/digit: time per digit over the lab's.`);
for (const [b, i] of Object.entries(backendInfo)) console.log(`  ${b}: ${JSON.stringify(i)}`);
if (floor) {
  console.log(`\nSingle-core floor, DeepFool on the CNN: one core does ${f(floor.core_macs_per_s / 1e9)} G multiply–adds/s ` +
    `(bench/peers/flops.rs, 128-bit SIMD; axpy ${f(core.axpy_macs_per_s / 1e9)}, blocked ${f(core.blocked_macs_per_s / 1e9)}).`);
  console.log(`  forward ${(CNN.forward / 1e6).toFixed(3)} M; Jacobian row ${(CNN.row_pooled / 1e6).toFixed(3)} M (pooled positions only; ` +
    `${(CNN.row_dense / 1e6).toFixed(3)} M dense); mean iterations n = ${f(floor.mean_iterations)} (the lab's)`);
  console.log(`  (n + 1)·${(CNN.forward / 1e6).toFixed(3)} M + n·10·${(CNN.row_pooled / 1e6).toFixed(3)} M = ${f(floor.macs_per_digit_pooled / 1e6, 1)} M multiply–adds ` +
    `→ ${f(floor.floor_ms_pooled)} ms (dense rows: ${f(floor.macs_per_digit_dense / 1e6, 1)} M → ${f(floor.floor_ms_dense)} ms)`);
  console.log(`  the lab's worker: ${f(floor.lab_median_ms)} ms median = ${f(floor.lab_over_floor, 1)}× the floor (target ≤ 2×)`);
}
const fastest = results.tfjs.cnn && Object.entries(results.tfjs.cnn).sort((a, b) => a[1].deepfool.median - b[1].deepfool.median)[0];
if (fastest) {
  const share = 1 / fastest[1].ratio_median; // the lab's time over TF.js's, same digits
  console.log(`CNN target: the lab ≤ 0.1× TF.js's fastest backend (${fastest[0]}) → ${f(share, 3)}× (${share <= 0.1 ? 'met' : 'NOT MET'})`);
}
const load = `load average ${loadBefore.map((v) => v.toFixed(2)).join(' ')} before, ${loadAfter.map((v) => v.toFixed(2)).join(' ')} after`;
console.log(`${load}; ${((Date.now() - started) / 1000).toFixed(0)} s in the browser`);
for (const model of MODELS) {
  for (const [backend, r] of Object.entries(results.tfjs[model])) {
    if (!r.agreement.outlier_count) continue;
    console.log(`${model} on ${backend}: ${r.agreement.outlier_count} of ${r.agreement.digits} digits part from the lab's run ` +
      `(ρ apart by > 0.1%, or another path); max ρ difference ${f(100 * r.agreement.max_rho_rel_diff)}%; the first:`);
    for (const o of r.agreement.outliers.slice(0, 3)) {
      console.log(`  ${model} ${backend} digit ${o.digit} (k̂ ${o.label}): lab ρ ${f(o.lab.rho, 5)} in ${o.lab.iterations} it. → ${o.lab.adversarial}; ` +
        `TF.js ρ ${f(o.tfjs.rho, 5)} in ${o.tfjs.iterations} it. → ${o.tfjs.adversarial} (aimed at ${o.tfjs.targets.join(', ')})`);
    }
  }
}
if (explained.length) console.log(`\nρ APART BY MORE THAN 1%, EXPLAINED:\n  ${explained.join('\n  ')}`);
if (failures.length) console.log(`\nDISAGREEMENTS:\n  ${failures.join('\n  ')}`);
if (!failures.length && !explained.length) console.log('\nagreement: logits within 1e-4 and mean ρ within 1% for every model and backend');

if (args.write) {
  const out = path.resolve(ROOT, args.out);
  // Re-read right before writing: other scripts own other keys of the same file.
  const report = fs.existsSync(out) ? JSON.parse(fs.readFileSync(out, 'utf8')) : {};
  report.date = new Date().toISOString().replace(/\.\d+Z$/, 'Z'); // YYYY-MM-DDTHH:MM:SSZ
  report.browser = chromium;
  // The same shape as scripts/bench-pool.mjs and `lab firenet-peers` write.
  report.cores = { ...report.cores, hardware_concurrency: env.hardwareConcurrency, os_cpus: os.cpus().length };
  report.tfjs = {
    version: env.tfjs,
    browser: chromium,
    cross_origin_isolated: env.crossOriginIsolated,
    settings: {
      deepfool: { norm: 'l2', overshoot: 0.02, epsilon: 1e-4, max_iterations: 50 },
      digits: args.digits,
      cpu_digits: Math.min(args.digits, args['slow-digits']),
      webgpu_digits: Math.min(args.digits, args['webgpu-digits']),
      webgpu_batch: Math.min(args.batch, args['webgpu-batch']),
      warmup: args.warmup,
      logit_check_digits: args.check,
      batch: args.batch,
      tfjs_batch_size: args['batch-size'],
      wasm_threads: args['wasm-threads'] || 'default',
      batch_runs: args.runs,
    },
    measured: {
      lab_deepfool: "the worker's own time of its attack job (deep_fool_l2), per digit; round_trip: page to page, with the slider's flip-point line search and the reply's JSON",
      lab_batch: `${args.batch} held-out digits one image at a time (the classify job: the attacks' and the transfer table's network), the worker's own times summed; page: the same from the page; evaluate: its evaluate job (candle, batches of 100, a yield between batches)`,
      tfjs_deepfool: 'per digit in the page: upload, DeepFool with one tf.valueAndGrad (10 copies, identity cotangent) per iteration, ρ read back',
      tfjs_batch: `model.predict() of ${args.batch} digits with batchSize ${args['batch-size']}, from upload to logits read back`,
      ratio_median: "TF.js median over the lab's median on the same digits",
    },
    backends: backendInfo,
    models: Object.fromEntries(MODELS.map((m) => [m, { lab: results.lab[m], tfjs: results.tfjs[m] }])),
    floor,
    disagreements: failures,
    explained_disagreements: explained,
    load_average: { before: loadBefore, after: loadAfter },
  };
  fs.mkdirSync(path.dirname(out), { recursive: true });
  fs.writeFileSync(out, `${JSON.stringify(report, null, 2)}\n`);
  console.log(`wrote the key "tfjs" of ${path.relative(ROOT, out)}`);
}
process.exit(failures.length ? 1 : 0);
