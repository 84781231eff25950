// Benchmark of the compute engines (a report, not a test): the CPU and GPU engines on the MRI
// half's hot paths (src/engine/bench.rs: FIRENET 5×10 db4 at 128² and 256², the cascade's
// forward pass and one instability-search iteration at 64² and 128²), median and p95 of each,
// measured in the same run — natively (`lab bench-engine`, the first Vulkan adapter) and in the
// browser's compute worker (headless Chromium with --enable-unsafe-webgpu: SwiftShader's WebGPU
// adapter), with the ratio. Writes the browser's figures to static/reports/engine.json.
//   cargo build --release --bin lab && trunk build --release && node scripts/bench-engine.mjs [repeats=5]
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startServer } from './serve.mjs';
import { launch, WEBGPU_ARGS } from '../tests/e2e/helpers.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const REPEATS = Number(process.argv[2] ?? 5);
const REPORT = path.join(ROOT, 'static/reports/engine.json');

const lab = path.join(ROOT, 'target/release/lab');
for (const [file, how] of [[lab, 'cargo build --release --bin lab'], [path.join(ROOT, 'dist/index.html'), 'trunk build --release']]) {
  if (!fs.existsSync(file)) {
    console.error(`build first: ${how}`);
    process.exit(2);
  }
}

console.log(`natively (lab bench-engine --repeats ${REPEATS}):`);
const nativeOut = execFileSync(lab, ['bench-engine', '--repeats', String(REPEATS)], {
  cwd: ROOT,
  encoding: 'utf8',
  stdio: ['ignore', 'pipe', 'pipe'],
});
process.stdout.write(nativeOut);

// The page's compute worker, kept where the script can post to it.
const KEEP_WORKER = `(() => {
  const Original = Worker;
  window.Worker = class extends Original {
    constructor(...a) { super(...a); window.__worker = this; }
  };
})();`;

const { server, url } = await startServer(path.join(ROOT, 'dist'), 0);
const browser = await launch(WEBGPU_ARGS);
let report;
try {
  const context = await browser.newContext({ viewport: { width: 1400, height: 900 }, serviceWorkers: 'block' });
  await context.addInitScript(KEEP_WORKER);
  const page = await context.newPage();
  // The MRI page with the CPU engine: its worker is up and idle once the reconstruction shows.
  await page.goto(`${url}?engine=cpu#/mri`);
  await page.waitForSelector('[data-testid="mri-results"]', { timeout: 120_000 });
  console.log(`\nin the browser's worker (${REPEATS} repeats per case; SwiftShader emulates the GPU on the CPU):`);
  report = await page.evaluate(
    (repeats) =>
      new Promise((resolve, reject) => {
        const id = 900_000_001;
        window.__worker.addEventListener('message', (e) => {
          const r = JSON.parse(e.data);
          if (r.id !== id) return;
          if (r.body.kind === 'engine_bench') resolve(r.body);
          else if (r.body.kind !== 'progress') reject(new Error(JSON.stringify(r.body)));
        });
        window.__worker.postMessage(JSON.stringify({ id, job: { kind: 'bench_engine', repeats } }));
      }),
    REPEATS,
  );
  await context.close();
} finally {
  await browser.close();
  server.close();
}

delete report.kind;
console.log(`adapter: ${report.adapter}`);
console.log('case                                     side   CPU median   CPU p95   GPU median   GPU p95   CPU/GPU   max rel diff (of)');
for (const c of report.cases) {
  const extra = c.gradient_rel_diff === undefined ? ''
    : `   vjp ${c.gradient_rel_diff.toExponential(1)}, the CPU's own under a few ulps of y ${c.cpu_self_rel_diff.toExponential(1)}`;
  console.log(`${c.name.padEnd(40)} ${String(c.side).padStart(4)} ${c.cpu_ms.toFixed(1).padStart(9)} ms ${c.cpu_p95_ms.toFixed(1).padStart(7)} ms ` +
    `${c.gpu_ms.toFixed(1).padStart(9)} ms ${c.gpu_p95_ms.toFixed(1).padStart(7)} ms ${(c.cpu_ms / c.gpu_ms).toFixed(2).padStart(8)} ${c.max_rel_diff.toExponential(1).padStart(10)} (${c.compared})${extra}`);
}
const worst = Math.max(...report.cases.map((c) => c.max_rel_diff));
console.log(`\nlargest relative difference ${worst.toExponential(1)} (target ≤ 1e-3): ${worst <= 1e-3 ? 'met' : 'NOT MET'}`);
fs.writeFileSync(REPORT, JSON.stringify(report, null, 2) + '\n');
console.log(`wrote ${path.relative(ROOT, REPORT)}`);
