// The lab's classifiers in TensorFlow.js (4.22, global `tf` from the UMD bundles the page loads):
// the same architectures as src/classification/classifier.rs, built with tf.layers and given the
// lab's shipped weights; their logits; DeepFool (ℓ₂) written the idiomatic TF.js way; and one
// timed forward pass of a batch.
//
// Layouts. The lab stores (PyTorch/candle conventions) dense weights as [out, in], convolution
// kernels as OIHW [out, in, kh, kw], and flattens the CNN's last feature map [64, 4, 4] in NCHW
// order (index c·16 + y·4 + x). TF.js wants dense kernels [in, out], convolution kernels HWIO
// [kh, kw, in, out], and its feature maps are NHWC, so Flatten gives index (y·4 + x)·64 + c: the
// rows of fc1's kernel are permuted accordingly. Both convolve without flipping the kernel
// (cross-correlation), valid padding, stride 1; pooling is 2×2, stride 2, after the ReLU.

const tf = globalThis.tf;

/** Dense weight [out, in] (row-major) → TF kernel [in, out]; `rowOf(j)` maps TF input j to the lab's. */
function denseKernel(w, outputs, inputs, rowOf = (j) => j) {
  const k = new Float32Array(inputs * outputs);
  for (let j = 0; j < inputs; j++) {
    const i = rowOf(j);
    for (let o = 0; o < outputs; o++) k[j * outputs + o] = w[o * inputs + i];
  }
  return tf.tensor2d(k, [inputs, outputs]);
}

/** Convolution weight OIHW [out, in, k, k] → TF kernel HWIO [k, k, in, out]. */
function convKernel(w, outputs, inputs, size) {
  const k = new Float32Array(size * size * inputs * outputs);
  for (let o = 0; o < outputs; o++) {
    for (let c = 0; c < inputs; c++) {
      for (let y = 0; y < size; y++) {
        for (let x = 0; x < size; x++) {
          k[((y * size + x) * inputs + c) * outputs + o] = w[((o * inputs + c) * size + y) * size + x];
        }
      }
    }
  }
  return tf.tensor4d(k, [size, size, inputs, outputs]);
}

function need(weights, name, shape) {
  const t = weights[name];
  if (!t) throw new Error(`the weights have no '${name}'`);
  if (t.shape.join() !== shape.join()) throw new Error(`'${name}' has shape [${t.shape}], expected [${shape}]`);
  return t.data;
}

/**
 * A tf.layers model of the lab's `name` (linear, mlp, cnn) with the lab's weights:
 * x ∈ [0, 1]^{B×784} (row-major 28×28, no other normalisation) → logits [B, 10].
 */
export function buildModel(name, weights) {
  const model = tf.sequential();
  const values = [];
  const dense = (prefix, inputs, outputs, options, rowOf) => {
    model.add(tf.layers.dense({ units: outputs, ...options }));
    values.push(
      denseKernel(need(weights, `${prefix}.weight`, [outputs, inputs]), outputs, inputs, rowOf),
      tf.tensor1d(need(weights, `${prefix}.bias`, [outputs])),
    );
  };
  if (name === 'linear') {
    dense('fc', 784, 10, { inputShape: [784] });
  } else if (name === 'mlp') {
    dense('fc1', 784, 500, { inputShape: [784], activation: 'relu' });
    dense('fc2', 500, 150, { activation: 'relu' });
    dense('fc3', 150, 10, {});
  } else if (name === 'cnn') {
    model.add(tf.layers.reshape({ inputShape: [784], targetShape: [28, 28, 1] }));
    const conv = (prefix, inputs, outputs, size) => {
      model.add(tf.layers.conv2d({ filters: outputs, kernelSize: size, padding: 'valid', activation: 'relu' }));
      values.push(
        convKernel(need(weights, `${prefix}.weight`, [outputs, inputs, size, size]), outputs, inputs, size),
        tf.tensor1d(need(weights, `${prefix}.bias`, [outputs])),
      );
      model.add(tf.layers.maxPooling2d({ poolSize: 2, strides: 2 }));
    };
    conv('conv1', 1, 32, 5); // 28 → 24 → 12
    conv('conv2', 32, 64, 5); // 12 → 8 → 4
    model.add(tf.layers.flatten()); // NHWC [4, 4, 64]: j = (y·4 + x)·64 + c
    const nchw = (j) => (j % 64) * 16 + Math.floor(j / 64); // the lab's index c·16 + (y·4 + x)
    dense('fc1', 1024, 128, { activation: 'relu' }, nchw);
    dense('fc2', 128, 10, {});
  } else {
    throw new Error(`no TF.js version of model '${name}'`);
  }
  model.setWeights(values);
  values.forEach((t) => t.dispose());
  return model;
}

/**
 * Switches TF.js to `backend` (cpu, wasm, webgpu); throws if it cannot start (no WebGPU adapter).
 * The wasm backend's thread count is fixed once, at its first start.
 * Returns what the backend is running on.
 */
export async function useBackend(backend, { wasmPath = '/tfjs/tfjs-backend-wasm/', wasmThreads = 0 } = {}) {
  if (backend === 'wasm') {
    tf.wasm.setWasmPaths(wasmPath);
    // 0: TF.js's default (its threaded build, when the page is cross-origin isolated, sizes its
    // pool itself: one thread in this Chromium); n: XNNPACK's pool of n threads.
    if (wasmThreads > 0) tf.wasm.setThreadsCount(wasmThreads);
  }
  if (backend === 'webgpu') {
    const adapter = await navigator.gpu?.requestAdapter();
    if (!adapter) throw new Error('no WebGPU adapter');
  }
  if (!(await tf.setBackend(backend))) throw new Error(`TF.js backend '${backend}' did not start`);
  await tf.ready();
  const info = { backend: tf.getBackend(), max_pool_tie: await maxPoolTie() };
  if (backend === 'wasm') {
    info.simd = await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT');
    info.multithread = await tf.env().getAsync('WASM_HAS_MULTITHREAD_SUPPORT');
    info.threads = tf.wasm.getThreadsCount?.() ?? null;
  }
  if (backend === 'webgpu') {
    const adapter = await navigator.gpu.requestAdapter();
    const a = adapter.info ?? (await adapter.requestAdapterInfo?.()) ?? {};
    info.adapter = [a.vendor, a.architecture, a.device, a.description].filter(Boolean).join(' ') || 'unknown';
  }
  return info;
}

/**
 * Where this backend's max-pooling gradient goes in a window of equal values: `first` (the first
 * maximum in row-major order, like the lab and TF.js's cpu backend), `last`, or the gradient
 * itself. At a tie max is not differentiable and any choice is a valid subgradient, but the
 * CNN's first convolution leaves plateaus of equal positive values (its bias) wherever a digit's
 * 5×5 neighbourhood is blank, so the choice changes the Jacobian and DeepFool's steps.
 */
export async function maxPoolTie() {
  const dx = tf.tidy(() => tf.grad((t) => tf.maxPool(t, 2, 2, 'valid').sum())(tf.ones([1, 2, 2, 1])));
  const d = Array.from(await dx.data());
  dx.dispose();
  if (d.join() === '1,0,0,0') return 'first';
  if (d.join() === '0,0,0,1') return 'last';
  return d.join(',');
}

/**
 * One forward pass of `count` digits (`images`: count·784 f32): `model.predict` with batches of
 * `batchSize`, the logits read back. Timed from the upload of the input to the logits in JS.
 */
export async function forward(model, images, count, batchSize) {
  const start = performance.now();
  const x = tf.tensor2d(images.subarray(0, count * 784), [count, 784]);
  const y = model.predict(x, { batchSize });
  const logits = await y.data();
  const millis = performance.now() - start;
  x.dispose();
  y.dispose();
  return { millis, logits };
}

/**
 * DeepFool (multiclass, ℓ₂) as src/classification/deepfool.rs runs it: k₀ = k̂(x); at xᵢ the
 * logits f and the Jacobian J (rows ∇fₖ) come from ONE batched backward pass — `tf.valueAndGrad`
 * of the model on 10 copies of xᵢ with the identity as the output cotangent (a vector–Jacobian
 * product per row); w′ₖ = Jₖ − J_k₀, f′ₖ = fₖ − f_k₀, l̂ = argmin_{k≠k₀, ‖w′ₖ‖>0} |f′ₖ|/‖w′ₖ‖₂,
 * rᵢ = (|f′_l̂|/‖w′_l̂‖₂ + ε) w′_l̂/‖w′_l̂‖₂, xᵢ₊₁ = x + (1 + η)Σrⱼ, until k̂(xᵢ₊₁) ≠ k₀ or
 * `maxIterations`. Everything stays on the backend; one read-back (the label) per iteration.
 * Returns `{ label, adversarial, iterations, converged, rho, l2, targets, millis }` (ρ = ‖r‖₂/‖x‖₂).
 */
export async function deepfool(model, image, { overshoot = 0.02, epsilon = 1e-4, maxIterations = 50 } = {}) {
  const start = performance.now();
  const x = tf.tensor2d(image, [1, 784]);
  const labelOf = (t) => tf.tidy(() => model.apply(t).argMax(1));
  const first = labelOf(x);
  const k0 = (await first.data())[0];
  first.dispose();
  const eye = tf.eye(10);
  const others = tf.tensor1d([...Array(10).keys()].map((k) => k !== k0), 'bool');
  const never = tf.fill([10], Infinity);
  const jacobian = tf.valueAndGrad((xs) => model.apply(xs));
  let total = tf.zerosLike(x);
  let xi = x.clone();
  let label = k0;
  let iterations = 0;
  const targets = []; // the class each step aimed at (read back at the end, with ρ)
  while (label === k0 && iterations < maxIterations) {
    const [nextTotal, nextX, nextLabel, target] = tf.tidy(() => {
      const { value, grad } = jacobian(tf.tile(xi, [10, 1]), eye); // [10, 10], [10, 784]
      const f = value.slice([0, 0], [1, 10]).as1D();
      const w = grad.sub(grad.slice([k0, 0], [1, 784])); // w′ₖ
      const gap = f.sub(f.slice([k0], [1])).abs(); // |f′ₖ|
      const norms = tf.norm(w, 'euclidean', 1); // ‖w′ₖ‖₂
      const candidate = others.logicalAnd(norms.greater(0)); // NaN > 0 is false
      const dist = tf.where(candidate, gap.div(norms), never);
      const l = dist.argMin();
      const length = dist.gather(l).add(epsilon);
      const step = w.gather(l).mul(length.div(norms.gather(l))); // [784]
      const t = total.add(step);
      const moved = x.add(t.mul(1 + overshoot));
      return [t, moved, labelOf(moved), l];
    });
    targets.push(target);
    total.dispose();
    xi.dispose();
    total = nextTotal;
    xi = nextX;
    label = (await nextLabel.data())[0];
    nextLabel.dispose();
    iterations++;
  }
  const difference = xi.sub(x);
  const [r, xs] = await Promise.all([difference.data(), x.data()]);
  difference.dispose();
  let rr = 0;
  let xx = 0;
  for (let i = 0; i < 784; i++) {
    rr += r[i] * r[i];
    xx += xs[i] * xs[i];
  }
  const millis = performance.now() - start;
  const aimed = await Promise.all(targets.map((t) => t.data().then((d) => d[0])));
  for (const t of [x, eye, others, never, total, xi, ...targets]) t.dispose();
  return {
    label: k0,
    adversarial: label,
    iterations,
    converged: label !== k0 && Number.isFinite(rr),
    l2: Math.sqrt(rr),
    rho: xx > 0 ? Math.sqrt(rr / xx) : null,
    targets: aimed,
    millis,
  };
}
