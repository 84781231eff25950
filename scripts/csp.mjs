// The lab's content-security policy, put into the bundle's index.html as a
// <meta http-equiv="Content-Security-Policy"> (so that it holds on any static host) by the
// release build's post-build hook (scripts/post-build.mjs, before the offline manifest), and sent
// as a header by scripts/serve.mjs (read back from that meta, so the two never differ; as a
// header it also covers the compute workers and the service worker, which a meta cannot).
//
// Only the lab's own origin: scripts from it, WebAssembly ('wasm-unsafe-eval', which allows
// compiling wasm and nothing else), workers from it, fetches to it. The one inline script is the
// loader Trunk writes into index.html; it is allowed by its SHA-256 hash, computed here from the
// built file. `frame-ancestors` only works as a header: see docs/hardening.md for what a course
// page's server may set.
//   node scripts/csp.mjs [dir=dist]
import { hookTarget } from './hook-target.mjs';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The policy's directives, with `hashes` ('sha256-…' sources) for the inline scripts. */
export function policy(hashes) {
  return [
    "default-src 'self'",
    `script-src 'self' 'wasm-unsafe-eval'${hashes.map((h) => ` '${h}'`).join('')}`,
    "worker-src 'self'",
    "connect-src 'self'",
    // Exported figures and uploads are shown from data: and blob: URLs made on the page.
    "img-src 'self' data: blob:",
    "style-src 'self'",
    "font-src 'self'",
    "manifest-src 'self'",
    "object-src 'none'",
    "base-uri 'self'",
    "form-action 'none'",
  ].join('; ');
}

const INLINE_SCRIPT = /<script(?![^>]*\bsrc=)[^>]*>([\s\S]*?)<\/script>/gi;
const META = /<meta http-equiv="Content-Security-Policy" content="([^"]*)"\s*\/?>\n?/i;

/** The 'sha256-…' hash of every inline script of `html`. */
export function inlineScriptHashes(html) {
  return [...html.matchAll(INLINE_SCRIPT)].map(
    (m) => 'sha256-' + crypto.createHash('sha256').update(m[1], 'utf8').digest('base64'),
  );
}

/** `html` with its policy meta (replacing any) as the first element of <head>. */
export function withPolicy(html) {
  const clean = html.replace(META, '');
  const meta = `<meta http-equiv="Content-Security-Policy" content="${policy(inlineScriptHashes(clean))}">\n`;
  return clean.replace(/<head>\s*/i, (head) => head + meta);
}

/** The policy a built index.html carries, or null. */
export function policyOf(html) {
  return html.match(META)?.[1] ?? null;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const dir = hookTarget('csp', 'the policy is not added');
  if (dir) {
    const index = path.join(dir, 'index.html');
    const html = withPolicy(fs.readFileSync(index, 'utf8'));
    fs.writeFileSync(index, html);
    console.log(`csp: ${policyOf(html)}`);
  }
}
