// Writes what the service worker (static/sw.js) needs to keep the lab offline:
//   - offline.json = { version, files }: every file of the bundle (relative paths, sorted), less
//     the precompressed variants (.gz, .br: the same bytes again), sw.js and offline.json itself;
//     `version` is a hash of the path and content of each of those files and of sw.js;
//   - the bundle's sw.js with that version stamped into its `const VERSION = '…';` line, so that
//     every new bundle is a new service worker for the browser (it compares the script's bytes).
//
// Runs in the post-build hook of `trunk build --release` (scripts/post-build.mjs, before the
// precompression, so that the variants of sw.js and offline.json are of the final files), on
// the staging folder, in release builds only (`trunk serve`'s debug builds keep the placeholder,
// and the service worker then keeps nothing). Or by hand on a folder:
//   node scripts/offline-manifest.mjs [dir=dist]
import { hookTarget } from './hook-target.mjs';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { walk } from './precompress.mjs';

export const MANIFEST = 'offline.json';
export const SERVICE_WORKER = 'sw.js';
/** The line of sw.js that carries the version (the placeholder is '__BUILD__'). */
const VERSION_LINE = /^const VERSION = '[^'\n]*';$/m;

/** The files of the bundle in `dir` the service worker keeps: relative paths with '/', sorted. */
export function offlineFiles(dir) {
  return walk(dir)
    .map((f) => path.relative(dir, f).split(path.sep).join('/'))
    .filter((f) => !f.endsWith('.gz') && !f.endsWith('.br') && f !== MANIFEST && f !== SERVICE_WORKER)
    .sort();
}

/** sw.js as written by the build, with any stamped version put back to the placeholder. */
function unstamped(text) {
  return text.replace(VERSION_LINE, "const VERSION = '__BUILD__';");
}

/** The manifest of the bundle in `dir`: `{ version, files }`. */
export function offlineManifest(dir) {
  const files = offlineFiles(dir);
  const hash = crypto.createHash('sha256');
  const add = (name, bytes) => {
    hash.update(`${name}\0${bytes.length}\0`);
    hash.update(bytes);
  };
  for (const f of files) add(f, fs.readFileSync(path.join(dir, f)));
  // The service worker's own code too: a change of it alone is a new version.
  const sw = path.join(dir, SERVICE_WORKER);
  if (fs.existsSync(sw)) add(SERVICE_WORKER, Buffer.from(unstamped(fs.readFileSync(sw, 'utf8'))));
  return { version: hash.digest('hex').slice(0, 20), files };
}

/**
 * Writes offline.json into `dir` and stamps its version into `dir`/sw.js; returns the manifest
 * and the total size of the files it lists, in bytes.
 */
export function writeOffline(dir) {
  const manifest = offlineManifest(dir);
  // Files are rewritten only when they change (a second run keeps them, and their variants, fresh).
  const update = (file, text) => {
    if (!fs.existsSync(file) || fs.readFileSync(file, 'utf8') !== text) fs.writeFileSync(file, text);
  };
  update(path.join(dir, MANIFEST), `${JSON.stringify(manifest, null, 1)}\n`);
  const sw = path.join(dir, SERVICE_WORKER);
  if (fs.existsSync(sw)) {
    const text = fs.readFileSync(sw, 'utf8');
    if (!VERSION_LINE.test(text)) throw new Error(`${sw} has no line "const VERSION = '__BUILD__';" to stamp`);
    update(sw, text.replace(VERSION_LINE, `const VERSION = '${manifest.version}';`));
  }
  const bytes = manifest.files.reduce((s, f) => s + fs.statSync(path.join(dir, f)).size, 0);
  return { manifest, bytes };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const dir = hookTarget('offline-manifest', 'nothing to do (the service worker keeps nothing)');
  if (dir === null) process.exit(0);
  const { manifest, bytes } = writeOffline(dir);
  console.log(
    `offline-manifest: version ${manifest.version}, ${manifest.files.length} files, ` +
      `${(bytes / 1e6).toFixed(2)} MB kept offline`,
  );
}
