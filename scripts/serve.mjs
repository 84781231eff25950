// A minimal static file server for the release bundle (dist/), bound to 127.0.0.1.
// Used by the serve command, the end-to-end tests and the benchmarks.
//   node scripts/serve.mjs [dir=dist] [port=8080]
//
// It serves precompressed files the way static hosts do: for `x.wasm`, a client whose
// Accept-Encoding admits br gets `x.wasm.br` (Content-Encoding: br), else one that admits gzip
// gets `x.wasm.gz`, else the file itself. The variants are written at build time by
// scripts/precompress.mjs (a post-build hook of `trunk build --release`); a variant older than
// its file is ignored, and a client that did not ask for an encoding never gets one.
//
// Every response carries the bundle's content-security policy as a header (the one the build
// put into index.html, scripts/csp.mjs), so that the workers run under it too; `frameAncestors`
// (or FRAME_ANCESTORS for the command) adds the header-only `frame-ancestors` directive.
import http from 'node:http';
import { policyOf } from './csp.mjs';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.wasm': 'application/wasm',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.safetensors': 'application/octet-stream',
  '.bin': 'application/octet-stream',
  '.gz': 'application/gzip',
  '.br': 'application/octet-stream',
};

/** The encodings the server can send, best first, with the suffix of their precompressed files. */
const ENCODINGS = [
  { name: 'br', suffix: '.br' },
  { name: 'gzip', suffix: '.gz' },
];

/**
 * Parses an Accept-Encoding header into a function `accepts(name)`: true when `name` (or `*`)
 * is listed with a quality above 0 (RFC 9110, 12.5.3). No header means no encoding.
 */
export function acceptedEncodings(header) {
  const q = new Map();
  for (const part of String(header ?? '').split(',')) {
    const [token, ...params] = part.trim().toLowerCase().split(';');
    if (!token) continue;
    let quality = 1;
    for (const p of params) {
      const [k, v] = p.trim().split('=');
      if (k === 'q') quality = Number(v);
    }
    q.set(token, Number.isNaN(quality) ? 0 : quality);
  }
  return (name) => (q.has(name) ? q.get(name) > 0 : (q.get('*') ?? 0) > 0);
}

/**
 * The file to send for `file` (whose stat is `stat`) to a client that accepts `accepts`:
 * `{ path, size, encoding }`, with `encoding` null for the file itself.
 */
function variant(file, stat, accepts) {
  for (const { name, suffix } of ENCODINGS) {
    if (!accepts(name)) continue;
    try {
      const s = fs.statSync(file + suffix);
      // A stale variant (the file was rebuilt after it) is never served.
      if (s.isFile() && s.mtimeMs >= stat.mtimeMs) return { path: file + suffix, size: s.size, encoding: name };
    } catch {
      // No such variant.
    }
  }
  return { path: file, size: stat.size, encoding: null };
}

/**
 * Starts a server for `dir` on 127.0.0.1:`port` (0 = any free port); resolves to { server, url }.
 * `onSent`, if given, hears of every response once it is finished or aborted:
 * `{ path, status, encoding, bytes }`, where `bytes` counts everything written to the connection
 * for it (status line, headers and body, as encoded), the bytes the client actually downloaded.
 */
export function startServer(dir, port = 0, { onSent, frameAncestors = process.env.FRAME_ANCESTORS } = {}) {
  const root = path.resolve(dir);
  let csp = null;
  try {
    csp = policyOf(fs.readFileSync(path.join(root, 'index.html'), 'utf8'));
  } catch {
    // No index.html: nothing to protect.
  }
  if (csp && frameAncestors) csp += `; frame-ancestors ${frameAncestors}`;
  const server = http.createServer((req, res) => {
    const socket = req.socket;
    const before = socket.bytesWritten;
    const record = { path: req.url, status: 0, encoding: null, bytes: 0 };
    let reported = false;
    const report = () => {
      if (reported || !onSent) return;
      reported = true;
      record.status = res.statusCode;
      record.bytes = socket.bytesWritten - before;
      onSent(record);
    };
    res.once('finish', report);
    res.once('close', report);

    const url = new URL(req.url, 'http://127.0.0.1');
    record.path = url.pathname;
    let file;
    try {
      file = path.normalize(path.join(root, decodeURIComponent(url.pathname)));
    } catch {
      res.writeHead(400, { 'content-type': 'text/plain' }).end('bad request');
      return;
    }
    if (file !== root && !file.startsWith(root + path.sep)) {
      res.writeHead(403).end('forbidden');
      return;
    }
    if (fs.existsSync(file) && fs.statSync(file).isDirectory()) file = path.join(file, 'index.html');
    fs.stat(file, (err, stat) => {
      if (err || !stat.isFile()) {
        res.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
        return;
      }
      const since = Date.parse(req.headers['if-modified-since'] ?? '');
      if (!Number.isNaN(since) && Math.floor(stat.mtimeMs / 1000) * 1000 <= since) {
        res.writeHead(304, { 'last-modified': stat.mtime.toUTCString(), vary: 'Accept-Encoding' }).end();
        return;
      }
      const send = variant(file, stat, acceptedEncodings(req.headers['accept-encoding']));
      record.encoding = send.encoding;
      const headers = {
        'content-type': TYPES[path.extname(file)] ?? 'application/octet-stream',
        'content-length': send.size,
        'last-modified': stat.mtime.toUTCString(),
        'cache-control': 'no-cache',
        vary: 'Accept-Encoding',
      };
      if (csp) headers['content-security-policy'] = csp;
      if (send.encoding) headers['content-encoding'] = send.encoding;
      res.writeHead(200, headers);
      if (req.method === 'HEAD') res.end();
      else fs.createReadStream(send.path).pipe(res);
    });
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      resolve({ server, url: `http://127.0.0.1:${server.address().port}/` });
    });
  });
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const dir = process.argv[2] ?? 'dist';
  const port = Number(process.argv[3] ?? 8080);
  const { url } = await startServer(dir, port);
  console.log(`Barriers Lab is served at ${url} (Ctrl-C stops it)`);
}
