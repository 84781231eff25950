// Every page of the app (src/web/app.rs `Route`) and the signal that its first result is on
// screen: shared by the tests that visit every page (layouts, presenter mode, the lecture path,
// the accessibility audit).
import { FIRST } from './helpers.mjs';

export const RUN = 120_000;

/** Waits until `selector` exists and (for a figure that recomputes) is not `.updating`. */
export const finished = (selector, extra = null) => async (page) => {
  await page.waitForFunction(
    ({ selector, extra }) => {
      const el = document.querySelector(selector);
      if (!el || el.classList.contains('updating')) return false;
      return !extra || !document.querySelector(extra);
    },
    { selector, extra },
    { timeout: RUN, polling: 100 },
  );
};

/** Waits until the element with test id `id` is there. */
export const shown = (id, timeout = RUN) => (page) => page.getByTestId(id).first().waitFor({ timeout });

const predicted = (timeout) => (page) =>
  page.waitForFunction(() => /^[0-9]$/.test(document.querySelector('[data-testid="predicted-label"]')?.textContent?.trim() ?? ''), null, {
    timeout,
  });

/** The pages, in the header's order, with their ready signal. */
export const PAGES = [
  { route: '', ready: shown('demo-grid') },
  { route: 'classify', ready: predicted(FIRST) },
  { route: 'attacks', ready: shown('readouts') },
  { route: 'geometry', ready: (page) => page.getByTestId('geometry-multi').getByTestId('point').waitFor({ timeout: FIRST }) },
  { route: 'universal', ready: finished('[data-testid="universal-result"]', '[data-testid="universal-running"]') },
  { route: 'linearity', ready: (page) => page.locator('[data-testid="linearity"][data-ready="true"]').waitFor({ timeout: RUN }) },
  { route: 'structural', ready: predicted(RUN) },
  { route: 'explanations', ready: (page) => page.locator('[data-testid="explain-run"]:not([disabled])').waitFor({ timeout: RUN }) },
  { route: 'false-structures', ready: (page) => page.locator('[data-testid="fs-planted"][data-state="done"] [data-testid="predicted-label"]').waitFor({ timeout: RUN }) },
  { route: 'non-robust', ready: (page) => page.locator('[data-testid="nr-model-prediction"] [data-testid="predicted-label"]').waitFor({ timeout: RUN }) },
  { route: 'mri', ready: finished('[data-testid="mri-results"]') },
  { route: 'hallucinations', ready: finished('[data-testid="halluc-results"]') },
  { route: 'kernel', ready: finished('[data-testid="kernel-results"]', '[data-testid="kernel-running"]') },
  { route: 'details', ready: finished('[data-testid="details-results"]', '[data-testid="kernel-running"]') },
  { route: 'sweep', ready: shown('shipped-table') },
  {
    route: 'tradeoff',
    ready: (page) => page.waitForFunction(() => document.querySelectorAll('[data-testid="tradeoff-point"]').length > 0, null, { timeout: RUN }),
  },
  { route: 'path', ready: shown('path-steps') },
  { route: 'speed', ready: shown('speed-chart') },
];

/** The ready signal of the page at hash link `link` (`/attacks?…`). */
export function readyFor(link) {
  const route = link.replace(/^#?\//, '').split('?')[0];
  const page = PAGES.find((p) => p.route === route);
  if (!page) throw new Error(`no such page: ${link}`);
  return page.ready;
}
