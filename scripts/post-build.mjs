// The post-build hook of `trunk build` (Trunk.toml): on Trunk's staging folder, in order,
//   0. scripts/csp.mjs: the content-security policy into index.html (before the manifest, whose
//      version hashes index.html);
//   1. scripts/offline-manifest.mjs: offline.json and the version stamped into sw.js;
//   2. scripts/precompress.mjs: the .gz/.br variants.
// All three only act in release builds. They are one hook because Trunk 0.21 starts all the hooks of
// a stage at once and only waits for them together (src/hooks.rs: spawn_hooks, wait_hooks): as
// two hooks, the manifest could list variants being written, and the variants of sw.js could be
// made before it was stamped.
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
for (const step of ['csp.mjs', 'offline-manifest.mjs', 'precompress.mjs']) {
  // Same arguments, environment and output; a failing step fails the build.
  try {
    execFileSync(process.execPath, [path.join(here, step), ...process.argv.slice(2)], { stdio: 'inherit' });
  } catch (error) {
    console.error(`post-build: ${step} failed`);
    process.exit(error.status || 1);
  }
}
