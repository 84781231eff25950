// What a first visit to each page downloads from the lab's own server (scripts/serve.mjs), as
// the server counts it: every byte written to the connections (status lines, headers, bodies as
// encoded) while one page loads in a fresh browser context (empty cache) and does its work.
// Shared by the benchmark (scripts/bench.mjs writes static/reports/bundle.json) and the
// end-to-end test (tests/e2e/bundle.test.mjs).
import { startServer } from './serve.mjs';

/** 1 MB = 1,000,000 bytes (decimal megabytes, as in the budgets). */
export const MB = 1_000_000;

/** The pages measured: the route, and what shows that the page has done its work. */
export const PAGES = {
  home: { hash: '#/', ready: (page) => page.getByTestId('demo-grid').waitFor() },
  classify: {
    hash: '#/classify',
    ready: async (page) => {
      await page.getByTestId('predicted-label').waitFor();
      await page.getByTestId('model-card').waitFor();
    },
  },
  attacks: {
    hash: '#/attacks',
    ready: (page) => page.locator('[data-testid="single-attack"] [data-testid="readouts"]').waitFor(),
  },
  mri: {
    hash: '#/mri',
    ready: (page) =>
      page.waitForFunction(() => {
        const el = document.querySelector('[data-testid="mri-results"]');
        return el && !el.classList.contains('updating') && el.dataset.run;
      }),
  },
  hallucinations: {
    hash: '#/hallucinations',
    ready: (page) =>
      page.waitForFunction(() => {
        const el = document.querySelector('[data-testid="halluc-results"]');
        return el && !el.classList.contains('updating');
      }),
  },
};

/** The budgets of the issue, in bytes transferred: home 1 MB, classification 3 MB, MRI 4 MB. */
export const BUDGETS = {
  home: 1 * MB,
  classify: 3 * MB,
  attacks: 3 * MB,
  mri: 4 * MB,
  hallucinations: 4 * MB,
};

/**
 * Starts scripts/serve.mjs on `dir` with a count of what it sends. Resolves to
 * `{ server, url, pending(), idleFor(), take() }`: the requests not answered yet, the
 * milliseconds since the last request began or ended, and `take()`, which returns the responses
 * sent since the last call (`{ path, status, encoding, bytes }` each) and forgets them.
 */
export async function countingServer(dir) {
  let sent = [];
  let pending = 0;
  let last = Date.now();
  const { server, url } = await startServer(dir, 0, {
    onSent: (r) => {
      sent.push(r);
      pending -= 1;
      last = Date.now();
    },
  });
  server.on('request', () => {
    pending += 1;
    last = Date.now();
  });
  return {
    server,
    url,
    pending: () => pending,
    idleFor: () => (pending > 0 ? 0 : Date.now() - last),
    take() {
      const out = sent;
      sent = [];
      return out;
    },
  };
}

/** Waits until the server has had no request in flight for `quietMs`. */
async function quiet(counting, quietMs, maxMs) {
  const start = Date.now();
  while (counting.idleFor() < quietMs) {
    if (Date.now() - start > maxMs) throw new Error(`the network did not go quiet within ${maxMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * Opens page `name` (a key of PAGES) in a fresh context of `browser` (empty cache), waits until
 * it has done its work and the network has been quiet for `quietMs`, and returns
 * `{ bytes, responses, encodings }`: the bytes the server sent for it, its responses as the
 * server counted them, and the Content-Encoding the browser saw per URL path. `onContext(context)`
 * may return a watcher whose `check()` runs before the context closes (the end-to-end test's).
 */
export async function visit(browser, counting, name, { quietMs = 1500, timeout = 120_000, onContext } = {}) {
  const { hash, ready } = PAGES[name];
  counting.take();
  // What the page itself needs: the service worker's background copy of the whole bundle for
  // offline use (docs/offline.md) is not part of the budgets.
  const context = await browser.newContext({ viewport: { width: 1400, height: 900 }, serviceWorkers: 'block' });
  const watcher = onContext ? await onContext(context) : null;
  const encodings = {};
  context.on('response', async (res) => {
    try {
      const headers = await res.allHeaders();
      encodings[new URL(res.url()).pathname] = headers['content-encoding'] ?? null;
    } catch {
      // A response of a closed context.
    }
  });
  try {
    const page = await context.newPage();
    page.setDefaultTimeout(timeout);
    await page.goto(`${counting.url}${hash}`);
    await ready(page);
    await quiet(counting, quietMs, timeout);
    watcher?.check();
  } finally {
    await context.close();
  }
  await quiet(counting, 0, 5_000);
  const responses = counting.take();
  return { bytes: responses.reduce((s, r) => s + r.bytes, 0), responses, encodings };
}
