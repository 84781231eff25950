// Barriers Lab's service worker: after one visit, the whole lab (app, compute worker, models,
// data, reports) runs without a network. See docs/offline.md.
//
// - install: fetches offline.json (written by scripts/offline-manifest.mjs, a post-build hook of
//   `trunk build --release`) and copies every file it lists into the cache of this version;
//   offline.json itself goes in last, as the mark of a complete copy.
// - activate: deletes this lab's caches of other versions (same scope only).
// - fetch: same-origin GETs inside the scope are answered from that cache (a navigation to the
//   lab's folder gets the cached index.html; the query is ignored), anything else from the
//   network.
// - An update is a new sw.js: the hook stamps the build's version into the line below, so every
//   new bundle is a new worker for the browser. It installs beside the old one and waits; the
//   page offers a Reload, which posts 'skip-waiting' here.
//
// Without offline.json (a debug build such as `trunk serve`'s, whose sw.js keeps the
// placeholder) nothing is cached and every request goes to the network.
const VERSION = '__BUILD__';

/** The folder the lab is served from (the registration's scope: the bundle's root). */
const SCOPE = self.registration.scope;
/** This lab's caches, one per version; several labs on one origin keep apart by their scope. */
const PREFIX = `barriers-lab ${SCOPE} `;
const CACHE = PREFIX + VERSION;
const MANIFEST = 'offline.json';
/** Downloads at a time while installing (the page is loading too). */
const LANES = 4;

const stamped = !VERSION.startsWith('__');

/** The URL of bundle file `file` (a path relative to the bundle's root). */
const inScope = (file) => new URL(file, SCOPE).href;

/**
 * A copy of `response` fit for the cache: a redirected response (a host that sends index.html
 * from elsewhere) would be refused for navigations, so it becomes a plain one.
 */
function storable(response) {
  if (!response.redirected) return response;
  return new Response(response.body, {
    status: response.status,
    statusText: response.statusText,
    headers: response.headers,
  });
}

/** Fetches `url` past the HTTP cache's freshness (the bytes must be this version's). */
async function download(url) {
  const response = await fetch(url, { cache: 'no-cache' });
  if (!response.ok) throw new Error(`${url}: HTTP ${response.status}`);
  return storable(response);
}

/** Copies the bundle into the cache of this version (resuming an interrupted copy). */
async function precache() {
  // A debug build: nothing to keep.
  if (!stamped) return;
  let response;
  try {
    response = await fetch(inScope(MANIFEST), { cache: 'no-store' });
  } catch {
    // No network: the install fails, and the browser tries again on a later visit.
    throw new Error('offline.json could not be fetched');
  }
  // No manifest (a bundle built without the hook): nothing to keep.
  if (!response.ok) return;
  const manifest = await response.clone().json();
  if (manifest.version !== VERSION) {
    // A deploy between fetching sw.js and offline.json: this worker is already outdated. Fail
    // the install (the old version stays in charge); the next check finds the new sw.js.
    throw new Error(`offline.json is version ${manifest.version}, this worker ${VERSION}`);
  }
  const cache = await caches.open(CACHE);
  const queue = [...manifest.files];
  const lane = async () => {
    while (queue.length) {
      const url = inScope(queue.shift());
      if (await cache.match(url, { ignoreVary: true })) continue;
      await cache.put(url, await download(url));
    }
  };
  await Promise.all(Array.from({ length: LANES }, lane));
  // Last: the mark of a complete copy (what the page asks about).
  await cache.put(inScope(MANIFEST), response);
}

/** Whether this version's copy is complete. */
async function complete() {
  return stamped && !!(await caches.match(inScope(MANIFEST), { cacheName: CACHE }));
}

self.addEventListener('install', (event) => {
  event.waitUntil(precache());
});

self.addEventListener('activate', (event) => {
  event.waitUntil(
    (async () => {
      const names = await caches.keys();
      await Promise.all(names.filter((n) => n.startsWith(PREFIX) && n !== CACHE).map((n) => caches.delete(n)));
      // Take charge of the page that installed this worker at once (its next reload works
      // offline); the page reloads itself only after a Reload it asked for.
      await self.clients.claim();
      await tell({ type: 'status', version: VERSION, offline: await complete() });
    })(),
  );
});

/** Posts `message` to every page of the lab. */
async function tell(message) {
  for (const client of await self.clients.matchAll({ type: 'window' })) client.postMessage(message);
}

self.addEventListener('message', (event) => {
  const kind = event.data?.type;
  if (kind === 'skip-waiting') {
    self.skipWaiting();
  } else if (kind === 'status') {
    event.waitUntil(
      complete().then((offline) => event.source?.postMessage({ type: 'status', version: VERSION, offline })),
    );
  }
});

/** The answer to a GET of `url` (a same-origin URL inside the scope): the cached copy, if any. */
async function answer(request, url) {
  // The copies were stored without the request's headers: Vary (Accept-Encoding) cannot apply.
  const options = { cacheName: CACHE, ignoreSearch: true, ignoreVary: true };
  let cached = await caches.match(url.href, options);
  // The lab's folder itself ("…/lab/") is its index.html.
  if (!cached && request.mode === 'navigate' && url.pathname === new URL(SCOPE).pathname) {
    cached = await caches.match(inScope('index.html'), options);
  }
  return cached ?? fetch(request);
}

if (stamped) {
  self.addEventListener('fetch', (event) => {
    const request = event.request;
    if (request.method !== 'GET') return;
    const url = new URL(request.url);
    if (url.origin !== self.location.origin || !url.href.startsWith(SCOPE)) return;
    // Range requests (media) go to the network: the copies are whole files.
    if (request.headers.has('range')) return;
    url.hash = '';
    event.respondWith(answer(request, url));
  });
}
