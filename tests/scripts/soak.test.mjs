// Unit tests of the soak test's arithmetic (scripts/soak.mjs): its seeded generator and the
// memory growth it reports.
//   node --test tests/scripts/
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mulberry32, slope, growth } from '../../scripts/soak.mjs';

test('the generator is seeded: the same seed, the same actions; another seed, others', () => {
  const take = (seed) => Array.from({ length: 5 }, mulberry32(seed));
  assert.deepEqual(take(2026), take(2026));
  assert.notDeepEqual(take(2026), take(2027));
  const r = mulberry32(1);
  const xs = Array.from({ length: 10_000 }, r);
  assert.ok(xs.every((x) => x >= 0 && x < 1));
  const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
  assert.ok(Math.abs(mean - 0.5) < 0.01, `mean ${mean}`);
});

test('slope: least squares, exact on a line, zero without spread', () => {
  assert.equal(slope([0, 1, 2, 3], [5, 7, 9, 11]), 2);
  assert.equal(slope([1, 1, 1], [1, 2, 3]), 0);
  assert.equal(slope([4], [9]), 0);
  assert.ok(Math.abs(slope([0, 1, 2], [0, 2, 1]) - 0.5) < 1e-12);
});

test('growth: MB per 10 minutes after the warm-up, and a memory that levels off', () => {
  // Loading for 5 minutes (ignored), then +0.3 MB a minute to the middle of the rest, then flat.
  const samples = [];
  for (let minute = 0; minute <= 30; minute += 0.5) {
    const heap = minute < 5 ? 10 * minute : minute < 17.5 ? 50 + 0.3 * (minute - 5) : 53.75;
    samples.push({ minute, js_heap_mb: heap, page_wasm_mb: 20, worker_wasm_mb: 0, page_mb: heap + 20, rss_mb: 400 });
  }
  const g = growth(samples, 5);
  assert.ok(Math.abs(g.js_heap_mb.first_half_per_10_min - 3) < 1e-9, JSON.stringify(g.js_heap_mb));
  assert.equal(g.js_heap_mb.second_half_per_10_min, 0);
  assert.equal(g.page_wasm_mb.per_10_min, 0);
  assert.equal(g.js_heap_mb.first, 50);
  assert.equal(g.js_heap_mb.last, 53.75);
  assert.equal(g.js_heap_mb.max, 53.75);
  assert.deepEqual(growth([], 5), {});
});
