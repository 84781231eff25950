// Element-wise operations and reductions on complex vectors (array<vec2<f32>>): the glue
// between the engine's kernels. Each entry point declares only the bindings it uses, numbered
// from 0 in the order the Rust side passes its buffers.

struct Scale {
    factor: f32,
    _pad0: f32,
    _pad1: f32,
    _pad2: f32,
}

// `n` entries; `factor` for axpy; `slot` where sum_into writes.
struct Span {
    factor: f32,
    n: u32,
    slot: u32,
    _pad: u32,
}

@group(0) @binding(0) var<storage, read_write> x: array<vec2<f32>>;
@group(0) @binding(1) var<uniform> params: Scale;

// x ← factor · x.
@compute @workgroup_size(64)
fn scale(@builtin(global_invocation_id) id: vec3<u32>) {
    let i = id.x;
    if (i < arrayLength(&x)) {
        x[i] = params.factor * x[i];
    }
}

@group(0) @binding(0) var<storage, read> axpy_x: array<vec2<f32>>;
@group(0) @binding(1) var<storage, read_write> axpy_y: array<vec2<f32>>;
@group(0) @binding(2) var<uniform> axpy_span: Span;

// y ← y + factor · x on the first n entries.
@compute @workgroup_size(256)
fn axpy(@builtin(global_invocation_id) id: vec3<u32>) {
    let i = id.x;
    if (i < axpy_span.n) {
        axpy_y[i] = axpy_y[i] + axpy_span.factor * axpy_x[i];
    }
}

@group(0) @binding(0) var<storage, read> dot_a: array<vec2<f32>>;
@group(0) @binding(1) var<storage, read> dot_b: array<vec2<f32>>;
@group(0) @binding(2) var<storage, read_write> dot_out: array<f32>;
@group(0) @binding(3) var<uniform> dot_span: Span;

// partial[w] = Σ Re(a_i · conj b_i) over workgroup w's 256 entries of the first n.
@compute @workgroup_size(256)
fn dot_partial(
    @builtin(global_invocation_id) id: vec3<u32>,
    @builtin(local_invocation_index) t: u32,
    @builtin(workgroup_id) w: vec3<u32>,
) {
    var v = 0.0;
    if (id.x < dot_span.n) {
        v = dot(dot_a[id.x], dot_b[id.x]);
    }
    let total = workgroup_sum(t, v);
    if (t == 0u) {
        dot_out[w.x] = total;
    }
}

@group(0) @binding(0) var<storage, read> sum_partial: array<f32>;
@group(0) @binding(1) var<storage, read_write> sum_out: array<f32>;
@group(0) @binding(2) var<uniform> sum_span: Span;

// out[slot] = Σ partial[0..n] (one workgroup).
@compute @workgroup_size(256)
fn sum_into(@builtin(local_invocation_index) t: u32) {
    var v = 0.0;
    for (var i = t; i < sum_span.n; i = i + 256u) {
        v = v + sum_partial[i];
    }
    let total = workgroup_sum(t, v);
    if (t == 0u) {
        sum_out[sum_span.slot] = total;
    }
}
