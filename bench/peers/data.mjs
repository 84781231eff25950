// The lab's files as the benchmark page reads them: safetensors parsed by hand (an 8-byte
// little-endian header length, a JSON header, then the raw little-endian tensors), the shipped
// weights, and the held-out digits (U8 [N, 28, 28], scaled to [0, 1] like the lab's
// `Digits::image`: p / 255 in f32).

/** Parses a safetensors file: `{ name: { dtype, shape, data } }` (F32 → Float32Array, U8 → Uint8Array). */
export function parseSafetensors(buffer) {
  const view = new DataView(buffer);
  const headerLength = Number(view.getBigUint64(0, true));
  const header = JSON.parse(new TextDecoder().decode(new Uint8Array(buffer, 8, headerLength)));
  const base = 8 + headerLength;
  const tensors = {};
  for (const [name, entry] of Object.entries(header)) {
    if (name === '__metadata__') continue;
    const [begin, end] = entry.data_offsets;
    const count = entry.shape.reduce((a, b) => a * b, 1);
    let data;
    if (entry.dtype === 'F32') {
      if (end - begin !== 4 * count) throw new Error(`${name}: ${end - begin} bytes for ${count} f32 values`);
      data = new Float32Array(count);
      // Explicitly little-endian (the file's byte order), whatever the platform's.
      for (let i = 0; i < count; i++) data[i] = view.getFloat32(base + begin + 4 * i, true);
    } else if (entry.dtype === 'U8') {
      if (end - begin !== count) throw new Error(`${name}: ${end - begin} bytes for ${count} u8 values`);
      data = new Uint8Array(buffer.slice(base + begin, base + end));
    } else {
      throw new Error(`${name}: dtype ${entry.dtype} is not read here`);
    }
    tensors[name] = { dtype: entry.dtype, shape: entry.shape, data };
  }
  return tensors;
}

async function fetchBuffer(url) {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`${url}: HTTP ${response.status}`);
  return response.arrayBuffer();
}

/** The shipped weights of `model` (static/models/<model>.safetensors) and its model card. */
export async function loadWeights(model, base = '/static/models') {
  const [weights, card] = await Promise.all([
    fetchBuffer(`${base}/${model}.safetensors`).then(parseSafetensors),
    fetch(`${base}/${model}.json`).then((r) => r.json()),
  ]);
  return { weights, card };
}

/**
 * The held-out digits: `{ count, images: Float32Array(count·784), labels: Uint8Array, image(i) }`,
 * intensities p / 255 rounded to f32 (the same value as Rust's `p as f32 / 255.0`: rounding the
 * f64 quotient to f32 is exact-rounding for a division).
 */
export async function loadHeldOut(url = '/static/data/mnist-heldout.safetensors') {
  const t = parseSafetensors(await fetchBuffer(url));
  const { images, labels } = t;
  const count = labels.shape[0];
  if (images.shape.join() !== `${count},28,28`) throw new Error(`held-out images of shape ${images.shape}`);
  const scaled = new Float32Array(count * 784);
  for (let i = 0; i < scaled.length; i++) scaled[i] = images.data[i] / 255;
  return {
    count,
    images: scaled,
    labels: labels.data,
    image: (i) => scaled.subarray(i * 784, (i + 1) * 784),
  };
}

/** Median and 95th percentile (the same rule as tests/e2e/helpers.mjs `stats`). */
export function stats(values) {
  const s = [...values].sort((a, b) => a - b);
  const at = (q) => s[Math.round((s.length - 1) * q)];
  return { median: at(0.5), p95: at(0.95) };
}

export function mean(values) {
  return values.length ? values.reduce((a, b) => a + b, 0) / values.length : NaN;
}
