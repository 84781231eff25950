// One level of the separable periodic 2-D wavelet transform on the top-left s × s block of an
// N × N complex image (row-major), along rows or along columns; Mallat layout. With the
// low-pass h and high-pass g[k] = (−1)^k h[K−1−k] (both in filt: h then g), the 1-D analysis of
// a line x of length s is
//   a[k] = Σ_j h[j] x[(2k + j) mod s],  d[k] = Σ_j g[j] x[(2k + j) mod s],  k < s/2,
// stored as [a, d]; the synthesis is its transpose, gathered per output i:
//   x[i] = Σ_{j ≡ i mod 2} h[j] a[k] + g[j] d[k],  k = ((i − j) mod s) / 2.
// One invocation per output entry of the block; entries outside the block are not touched.

struct Params {
    // The image side N.
    n: u32,
    // The side s of the block this level acts on.
    s: u32,
    // The filter length K.
    taps: u32,
    _pad: u32,
}

@group(0) @binding(0) var<storage, read> src: array<vec2<f32>>;
@group(0) @binding(1) var<storage, read_write> dst: array<vec2<f32>>;
@group(0) @binding(2) var<storage, read> filt: array<f32>;
@group(0) @binding(3) var<uniform> params: Params;

// Analysis of the line starting at `base` with stride `stride`; output position i of the line.
fn analyse(base: u32, stride: u32, i: u32) -> vec2<f32> {
    let s = params.s;
    let mid = s / 2u;
    let k = i % mid;
    // The low-pass half reads h, the high-pass half g.
    let offset = select(0u, params.taps, i >= mid);
    var acc = vec2<f32>(0.0, 0.0);
    for (var j = 0u; j < params.taps; j++) {
        acc += filt[offset + j] * src[base + ((2u * k + j) % s) * stride];
    }
    return acc;
}

// Synthesis of the line starting at `base` with stride `stride`; output position i of the line.
fn synthesise(base: u32, stride: u32, i: u32) -> vec2<f32> {
    let s = params.s;
    let mid = s / 2u;
    var acc = vec2<f32>(0.0, 0.0);
    for (var j = i % 2u; j < params.taps; j += 2u) {
        // (i − j) mod s, with j reduced first so that nothing underflows.
        let k = ((i + s - (j % s)) % s) / 2u;
        acc += filt[j] * src[base + k * stride] + filt[params.taps + j] * src[base + (mid + k) * stride];
    }
    return acc;
}

@compute @workgroup_size(16, 16)
fn analyse_rows(@builtin(global_invocation_id) id: vec3<u32>) {
    let x = id.x;
    let y = id.y;
    if (x < params.s && y < params.s) {
        dst[y * params.n + x] = analyse(y * params.n, 1u, x);
    }
}

@compute @workgroup_size(16, 16)
fn analyse_columns(@builtin(global_invocation_id) id: vec3<u32>) {
    let x = id.x;
    let y = id.y;
    if (x < params.s && y < params.s) {
        dst[y * params.n + x] = analyse(x, params.n, y);
    }
}

@compute @workgroup_size(16, 16)
fn synthesise_rows(@builtin(global_invocation_id) id: vec3<u32>) {
    let x = id.x;
    let y = id.y;
    if (x < params.s && y < params.s) {
        dst[y * params.n + x] = synthesise(y * params.n, 1u, x);
    }
}

@compute @workgroup_size(16, 16)
fn synthesise_columns(@builtin(global_invocation_id) id: vec3<u32>) {
    let x = id.x;
    let y = id.y;
    if (x < params.s && y < params.s) {
        dst[y * params.n + x] = synthesise(x, params.n, y);
    }
}
