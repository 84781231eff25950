// The workgroup reduction shared by vector.wgsl and firenet.wgsl (included before them: WGSL has
// no imports). Workgroups of 256 invocations.

var<workgroup> shared_sum: array<f32, 256>;

// Adds the workgroup's values `v` (one per invocation `t`); every invocation gets the total.
fn workgroup_sum(t: u32, v: f32) -> f32 {
    shared_sum[t] = v;
    workgroupBarrier();
    for (var s = 128u; s > 0u; s = s >> 1u) {
        if (t < s) {
            shared_sum[t] = shared_sum[t] + shared_sum[t + s];
        }
        workgroupBarrier();
    }
    return shared_sum[0];
}

