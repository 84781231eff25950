// Gathering and scattering the sampled frequencies Ω of a spectrum (A = P_Ω F and A* = F⁻¹ P_Ωᵀ).
// idx holds the sampled indices of the N × N grid in row-major order: the order of y.

@group(0) @binding(0) var<storage, read> src: array<vec2<f32>>;
@group(0) @binding(1) var<storage, read> idx: array<u32>;
@group(0) @binding(2) var<storage, read_write> dst: array<vec2<f32>>;

// dst[k] = src[idx[k]] (P_Ω).
@compute @workgroup_size(64)
fn gather(@builtin(global_invocation_id) id: vec3<u32>) {
    let k = id.x;
    if (k < arrayLength(&idx)) {
        dst[k] = src[idx[k]];
    }
}

// dst[idx[k]] = src[k] (P_Ωᵀ on a zeroed dst).
@compute @workgroup_size(64)
fn scatter(@builtin(global_invocation_id) id: vec3<u32>) {
    let k = id.x;
    if (k < arrayLength(&idx)) {
        dst[idx[k]] = src[k];
    }
}
