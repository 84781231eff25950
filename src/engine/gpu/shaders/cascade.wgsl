// The glue of the deep cascade between its convolutions (conv.wgsl) and its Fourier transforms:
// layout conversions between a complex image (N² values (re, im), read here as 2·N² floats) and
// the CNN's planar two channels (the N² real parts, then the N² imaginary parts), the residual,
// and the data-consistency layer's mixing in k-space with its backward. The mask is one f32 per
// pixel, 1 where measured and 0 elsewhere. Dispatch ⌈N²/64⌉ workgroups (one per value).

@group(0) @binding(0) var<storage, read_write> a: array<f32>;
@group(0) @binding(1) var<storage, read_write> b: array<f32>;
@group(0) @binding(2) var<storage, read> mask: array<f32>;

// b (planar) ← (Re a, Im a).
@compute @workgroup_size(64)
fn split(@builtin(global_invocation_id) id: vec3<u32>) {
    let len = arrayLength(&a) / 2u;
    let i = id.x;
    if (i < len) {
        b[i] = a[2u * i];
        b[len + i] = a[2u * i + 1u];
    }
}

// a ← a + (b[i] + i·b[N² + i]), b planar: the residual x + CNN(x), or its backward g + CNNᵀ(g).
@compute @workgroup_size(64)
fn add_planar(@builtin(global_invocation_id) id: vec3<u32>) {
    let len = arrayLength(&a) / 2u;
    let i = id.x;
    if (i < len) {
        a[2u * i] += b[i];
        a[2u * i + 1u] += b[len + i];
    }
}

// Data consistency in k-space, a = F x̂ on entry: a ← (1 − M) ⊙ a + M ⊙ k₀, b = k₀ (complex).
@compute @workgroup_size(64)
fn consistency(@builtin(global_invocation_id) id: vec3<u32>) {
    let i = id.x;
    if (i < arrayLength(&mask)) {
        let m = mask[i];
        a[2u * i] = (1.0 - m) * a[2u * i] + m * b[2u * i];
        a[2u * i + 1u] = (1.0 - m) * a[2u * i + 1u] + m * b[2u * i + 1u];
    }
}

// Its backward, a = F g on entry (g the gradient of the layer's output): b ← b + M ⊙ a (the
// gradient of k₀, complex) and a ← (1 − M) ⊙ a.
@compute @workgroup_size(64)
fn consistency_back(@builtin(global_invocation_id) id: vec3<u32>) {
    let i = id.x;
    if (i < arrayLength(&mask)) {
        let m = mask[i];
        let re = a[2u * i];
        let im = a[2u * i + 1u];
        b[2u * i] += m * re;
        b[2u * i + 1u] += m * im;
        a[2u * i] = (1.0 - m) * re;
        a[2u * i + 1u] = (1.0 - m) * im;
    }
}

// a ← a + b (any two vectors of the same length).
@compute @workgroup_size(64)
fn add(@builtin(global_invocation_id) id: vec3<u32>) {
    let i = id.x;
    if (i < arrayLength(&a)) {
        a[i] += b[i];
    }
}
