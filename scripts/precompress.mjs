// Precompresses the release bundle for the lab's own server and for static hosts that serve
// precompressed files: writes `file.gz` (gzip -9) next to every compressible file above 1 KiB
// that gzip makes smaller, and `file.br` (brotli, quality 11) where gzip saves at least 10%
// and brotli beats gzip. On the nearly incompressible weights (f32 values; gzip saves about
// 8%) brotli saves another 1–2% for 3–4 s of CPU per MB, so they get gzip only.
//
// Runs as a post-build hook of `trunk build --release` (Trunk.toml: on the staging folder, in
// release builds only), or by hand on a folder:
//   node scripts/precompress.mjs [dir=dist]
import { hookTarget } from './hook-target.mjs';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';

const gzip = promisify(zlib.gzip);
const brotli = promisify(zlib.brotliCompress);

/** The extensions worth compressing (text, WebAssembly, tensors). */
export const COMPRESSIBLE = ['.wasm', '.js', '.mjs', '.css', '.html', '.json', '.svg', '.safetensors', '.txt'];
/** Files smaller than this are sent as they are: the saving would not pay for a variant. */
export const MIN_SIZE = 1024;
/** Brotli is tried only where gzip keeps at most this fraction of the bytes. */
export const BROTLI_IF_GZIP_BELOW = 0.9;

/** Every file under `dir`, recursively (the benchmark weighs the bundle with it too). */
export function walk(dir) {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    return e.isDirectory() ? walk(p) : e.isFile() ? [p] : [];
  });
}

/** Runs `jobs` (functions returning promises) with at most `limit` at a time. */
async function pool(jobs, limit) {
  const results = new Array(jobs.length);
  let next = 0;
  const lane = async () => {
    while (next < jobs.length) {
      const i = next++;
      results[i] = await jobs[i]();
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, jobs.length) }, lane));
  return results;
}

/** Writes the variants of `file`; returns `{ file, raw, gzip, br }` (null: no such variant). */
async function compress(file) {
  const buf = fs.readFileSync(file);
  const row = { file, raw: buf.length, gzip: null, br: null };
  const gz = await gzip(buf, { level: 9 });
  if (gz.length >= buf.length) return row;
  fs.writeFileSync(`${file}.gz`, gz);
  row.gzip = gz.length;
  if (gz.length <= BROTLI_IF_GZIP_BELOW * buf.length) {
    const br = await brotli(buf, {
      params: {
        [zlib.constants.BROTLI_PARAM_QUALITY]: 11,
        [zlib.constants.BROTLI_PARAM_LGWIN]: 24,
        [zlib.constants.BROTLI_PARAM_SIZE_HINT]: buf.length,
      },
    });
    if (br.length < gz.length) {
      fs.writeFileSync(`${file}.br`, br);
      row.br = br.length;
    }
  }
  return row;
}

/** Precompresses every compressible file under `dir`; returns one row per file compressed. */
export async function precompress(dir) {
  const files = walk(dir).filter((f) => {
    if (!COMPRESSIBLE.includes(path.extname(f))) return false;
    return fs.statSync(f).size >= MIN_SIZE;
  });
  // Stale variants of a previous run are replaced; those of removed files are removed.
  for (const f of walk(dir)) {
    if ((f.endsWith('.gz') || f.endsWith('.br')) && !files.includes(f.slice(0, -3))) fs.rmSync(f);
  }
  for (const f of files) for (const s of ['.gz', '.br']) fs.rmSync(f + s, { force: true });
  // Biggest first, so that the two largest (the wasm modules) do not end up last on one core.
  files.sort((a, b) => fs.statSync(b).size - fs.statSync(a).size);
  const lanes = Math.max(1, os.availableParallelism?.() ?? os.cpus().length);
  return pool(files.map((f) => () => compress(f)), lanes);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const dir = hookTarget('precompress');
  if (dir === null) process.exit(0);
  const start = Date.now();
  const rows = await precompress(dir);
  const sum = (k) => rows.reduce((s, r) => s + (r[k] ?? r.raw), 0);
  console.log(
    `precompress: ${rows.length} files in ${((Date.now() - start) / 1000).toFixed(1)} s: ` +
      `${(sum('raw') / 1e6).toFixed(2)} MB raw, ${(sum('gzip') / 1e6).toFixed(2)} MB gzip, ` +
      `${(rows.reduce((s, r) => s + (r.br ?? r.gzip ?? r.raw), 0) / 1e6).toFixed(2)} MB best ` +
      `(${rows.filter((r) => r.gzip).length} .gz, ${rows.filter((r) => r.br).length} .br)`,
  );
}
