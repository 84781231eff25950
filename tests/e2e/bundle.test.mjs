// End-to-end test of what a first visit downloads from the lab's own server (scripts/serve.mjs)
// with the release bundle (dist/, built with its precompressed variants): each page in a fresh
// browser context (empty cache), counted by the server, against the budgets (home 1 MB, a
// classification page 3 MB, an MRI page 4 MB; 1 MB = 1,000,000 bytes), with the files each page
// may and may not fetch; the server's encoding negotiation; and the measured report
// static/reports/bundle.json (scripts/bench.sh). Fails on any console error, page error or
// failed request.
//   trunk build --release && node --test tests/e2e/bundle.test.mjs
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import zlib from 'node:zlib';
import { DIST, ROOT, haveDist, launch, watch } from './helpers.mjs';
import { BUDGETS, MB, PAGES, countingServer, visit } from '../../scripts/bundle.mjs';
import { MIN_SIZE } from '../../scripts/precompress.mjs';

const skip = haveDist() ? false : 'no release bundle: run `trunk build --release` first (dist/index.html is missing)';
const REPORT = path.join(ROOT, 'static/reports/bundle.json');
/** How far the committed report may be from what this bundle transfers before it is stale. */
const REPORT_TOLERANCE = 0.1;

/** Whether `p` (a URL path) is one of the worker's files (its loader, glue or wasm). */
const workerFile = (p) => /^\/worker(_loader\.js|\.js|_bg\.wasm)$/.test(p);
/** The raw size of the file behind URL path `p` in the bundle. */
const rawSize = (p) => fs.statSync(path.join(DIST, decodeURIComponent(p === '/' ? '/index.html' : p))).size;

/** A GET (or `method`) of the raw path `p` with `headers`; resolves to { status, headers, body }. */
function get(base, p, headers = {}, method = 'GET') {
  const { hostname, port } = new URL(base);
  return new Promise((resolve, reject) => {
    const req = http.request({ hostname, port, path: p, method, headers }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks) }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('What a first visit downloads', { skip }, () => {
  let counting;
  let browser;
  const measured = {};
  before(async () => {
    counting = await countingServer(DIST);
    browser = await launch();
  });
  after(async () => {
    await browser?.close();
    await new Promise((resolve) => (counting ? counting.server.close(resolve) : resolve()));
  });

  test('the server sends br or gzip only to clients that ask, and the original otherwise', async () => {
    const wasm = fs.readdirSync(DIST).find((f) => /^app-[0-9a-f]+_bg\.wasm$/.test(f));
    const raw = fs.readFileSync(path.join(DIST, wasm));
    for (const suffix of ['.gz', '.br']) {
      assert.ok(
        fs.existsSync(path.join(DIST, wasm + suffix)),
        `dist/${wasm}${suffix} is missing: rebuild with trunk build --release (Trunk.toml runs scripts/precompress.mjs)`,
      );
    }
    const p = `/${wasm}`;
    const plain = await get(counting.url, p);
    assert.equal(plain.headers['content-encoding'], undefined, 'no Accept-Encoding: no encoding');
    assert.ok(plain.body.equals(raw));
    assert.equal(plain.headers['content-type'], 'application/wasm');
    assert.equal(plain.headers.vary, 'Accept-Encoding');

    const gz = await get(counting.url, p, { 'accept-encoding': 'gzip' });
    assert.equal(gz.headers['content-encoding'], 'gzip');
    assert.equal(gz.headers['content-type'], 'application/wasm', 'the type of the original');
    assert.equal(Number(gz.headers['content-length']), gz.body.length);
    assert.ok(gz.body.length < raw.length / 2, `gzip: ${gz.body.length} of ${raw.length} bytes`);
    assert.ok(zlib.gunzipSync(gz.body).equals(raw), 'the .gz is the file');

    const br = await get(counting.url, p, { 'accept-encoding': 'gzip, deflate, br, zstd' });
    assert.equal(br.headers['content-encoding'], 'br');
    assert.ok(br.body.length < gz.body.length, `br ${br.body.length} < gzip ${gz.body.length} bytes`);
    assert.ok(zlib.brotliDecompressSync(br.body).equals(raw), 'the .br is the file');

    // Refused encodings (q=0) and identity only; HEAD and 304 keep working.
    assert.equal((await get(counting.url, p, { 'accept-encoding': 'br;q=0, gzip' })).headers['content-encoding'], 'gzip');
    assert.equal((await get(counting.url, p, { 'accept-encoding': 'identity' })).headers['content-encoding'], undefined);
    assert.equal((await get(counting.url, p, { 'accept-encoding': '*;q=0' })).headers['content-encoding'], undefined);
    assert.equal((await get(counting.url, p, { 'accept-encoding': '*' })).headers['content-encoding'], 'br');
    const head = await get(counting.url, p, { 'accept-encoding': 'gzip' }, 'HEAD');
    assert.equal(Number(head.headers['content-length']), gz.body.length);
    assert.equal(head.body.length, 0);
    const again = await get(counting.url, p, { 'accept-encoding': 'br', 'if-modified-since': br.headers['last-modified'] });
    assert.equal(again.status, 304);
    // Small files stay as they are; a path out of the bundle is refused.
    const loader = await get(counting.url, '/worker_loader.js', { 'accept-encoding': 'br, gzip' });
    assert.equal(loader.headers['content-encoding'], undefined);
    assert.ok(loader.body.length < MIN_SIZE);
    for (const out of ['/../Cargo.toml', '/..%2fCargo.toml', '/%2e%2e/Cargo.toml']) {
      // Refused (403), or resolved inside the bundle where there is no such file (404).
      assert.ok([403, 404].includes((await get(counting.url, out)).status), out);
    }
    counting.take();
  });

  for (const name of Object.keys(PAGES)) {
    test(`${name} (${PAGES[name].hash}) transfers at most ${BUDGETS[name] / MB} MB`, async (t) => {
      const result = await visit(browser, counting, name, { onContext: (context) => watch(context) });
      measured[name] = result.bytes;
      const paths = result.responses.map((r) => r.path);
      t.diagnostic(
        `${name}: ${result.bytes} bytes in ${paths.length} responses: ` +
          result.responses.map((r) => `${r.path} ${r.encoding ?? 'identity'} ${r.bytes}`).join(', '),
      );
      assert.ok(result.bytes <= BUDGETS[name], `${name} transferred ${result.bytes} bytes, budget ${BUDGETS[name]}`);

      // Compressible files above 1 KiB come encoded, as the server sent them and as the
      // browser received them.
      for (const r of result.responses) {
        if (!/\.(wasm|js|css|json)$|^\/$/.test(r.path) || rawSize(r.path) < MIN_SIZE) continue;
        assert.ok(['br', 'gzip'].includes(r.encoding), `${r.path} was sent with encoding ${r.encoding}`);
        if (r.path in result.encodings) {
          assert.ok(['br', 'gzip'].includes(result.encodings[r.path]), `${r.path}: the browser saw ${result.encodings[r.path]}`);
        }
      }
      assert.ok(paths.some((p) => /^\/app-[0-9a-f]+_bg\.wasm$/.test(p)), 'the app itself was loaded');

      // Each page fetches only what it uses.
      const classification = name === 'classify' || name === 'attacks';
      if (name === 'home') {
        assert.deepEqual(paths.filter(workerFile), [], 'the home page never starts the worker');
        assert.deepEqual(paths.filter((p) => p.startsWith('/static/')), [], 'no weights, data or reports');
      } else {
        assert.ok(paths.includes('/worker_bg.wasm'), `${name} runs the worker`);
      }
      if (classification) {
        const mri = paths.filter((p) => p.startsWith('/static/data/mri/') || p.includes('/cascade-'));
        assert.deepEqual(mri, [], 'a classification page fetches no MRI data or networks');
      }
      if (name === 'mri' || name === 'hallucinations') {
        const mnist = paths.filter((p) => p.includes('mnist') || /\/static\/models\/(linear|mlp|cnn)/.test(p));
        assert.deepEqual(mnist, [], 'an MRI page fetches no digits or classifiers');
      }
      assert.equal(new Set(paths).size, paths.length, `a file fetched twice: ${paths.join(' ')}`);
    });
  }

  test('static/reports/bundle.json holds the measured figures within the budgets', () => {
    assert.ok(fs.existsSync(REPORT), 'run bash scripts/bench.sh to measure and write it');
    const report = JSON.parse(fs.readFileSync(REPORT, 'utf8'));
    assert.deepEqual(Object.keys(report.pages).sort(), Object.keys(PAGES).sort());
    for (const [name, bytes] of Object.entries(report.pages)) {
      assert.ok(Number.isInteger(bytes) && bytes > 0, `${name}: ${bytes}`);
      assert.ok(bytes <= BUDGETS[name], `${name}: ${bytes} bytes in the report, budget ${BUDGETS[name]}`);
      // The report says what this bundle transfers (rerun scripts/bench.sh when it changes).
      if (name in measured) {
        const off = Math.abs(bytes - measured[name]) / measured[name];
        assert.ok(off <= REPORT_TOLERANCE, `${name}: report ${bytes}, measured now ${measured[name]} bytes`);
      }
    }
  });
});
