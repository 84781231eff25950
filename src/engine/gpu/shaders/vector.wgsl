// Element-wise operations on complex vectors (array<vec2<f32>>): the glue between the engine's
// kernels.

struct Scale {
    factor: f32,
    _pad0: f32,
    _pad1: f32,
    _pad2: f32,
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
