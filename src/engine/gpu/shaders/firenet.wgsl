// FIRENET's layers (Colbrook, Antun & Hansen, PNAS 2022) and their reverse mode, on complex
// vectors (array<vec2<f32>>); see src/mri/firenet.rs for the algorithm and src/engine/gpu/
// firenet.rs for the order of the dispatches. One layer:
//   a = z − τB*u,  z′ = soft_{t}(a),  e = 2z′ − z,
//   b = u + σBe − σαy,  u′ = b / max(1, ‖b‖₂),
//   sum += z′,  estimate = sum / (α j).
// Each entry point declares only the bindings it uses, numbered from 0.

struct Layer {
    tau: f32,
    sigma: f32,
    // σα (dual) or α (begin).
    sigma_alpha: f32,
    // 1/(αj) (average).
    scale: f32,
    len: u32,
    m: u32,
    // Where this layer's slice starts in a saved buffer (entries).
    offset: u32,
    // A slot of the norms buffer.
    slot: u32,
    // A slot of the dots buffer (dual_back).
    aux: u32,
    // 1: keep this layer's a (primal), b (dual) or estimate (average) at `offset` of the saved
    // buffer; 0: the saved buffer is a placeholder and is not touched.
    save: u32,
    _pad1: u32,
    _pad2: u32,
}

// soft_t(v) = v/|v| · max(|v| − t, 0).
fn soft(v: vec2<f32>, t: f32) -> vec2<f32> {
    let r = sqrt(dot(v, v));
    if (r <= t) {
        return vec2<f32>(0.0, 0.0);
    }
    return v * ((r - t) / r);
}

// ---- begin: z = α ψ, sum = 0 ----
@group(0) @binding(0) var<storage, read> begin_psi: array<vec2<f32>>;
@group(0) @binding(1) var<storage, read_write> begin_z: array<vec2<f32>>;
@group(0) @binding(2) var<storage, read_write> begin_sum: array<vec2<f32>>;
@group(0) @binding(3) var<uniform> begin_layer: Layer;

@compute @workgroup_size(256)
fn begin(@builtin(global_invocation_id) id: vec3<u32>) {
    let i = id.x;
    if (i < begin_layer.len) {
        begin_z[i] = begin_layer.sigma_alpha * begin_psi[i];
        begin_sum[i] = vec2<f32>(0.0, 0.0);
    }
}

// ---- primal: a = z − τB*u (kept when saving), z′ = soft(a), e = 2z′ − z ----
@group(0) @binding(0) var<storage, read> primal_z: array<vec2<f32>>;
@group(0) @binding(1) var<storage, read> primal_btu: array<vec2<f32>>;
@group(0) @binding(2) var<storage, read> primal_t: array<f32>;
@group(0) @binding(3) var<storage, read_write> primal_znew: array<vec2<f32>>;
@group(0) @binding(4) var<storage, read_write> primal_e: array<vec2<f32>>;
@group(0) @binding(5) var<storage, read_write> primal_a: array<vec2<f32>>;
@group(0) @binding(6) var<uniform> primal_layer: Layer;

@compute @workgroup_size(256)
fn primal(@builtin(global_invocation_id) id: vec3<u32>) {
    let i = id.x;
    if (i < primal_layer.len) {
        let z = primal_z[i];
        let a = z - primal_layer.tau * primal_btu[i];
        if (primal_layer.save != 0u) {
            primal_a[primal_layer.offset + i] = a;
        }
        let zn = soft(a, primal_t[i]);
        primal_znew[i] = zn;
        primal_e[i] = 2.0 * zn - z;
    }
}

// ---- dual: u ← b = u + σBe − σαy (kept when saving); partial sums of ‖b‖² ----
@group(0) @binding(0) var<storage, read_write> dual_u: array<vec2<f32>>;
@group(0) @binding(1) var<storage, read> dual_bz: array<vec2<f32>>;
@group(0) @binding(2) var<storage, read> dual_y: array<vec2<f32>>;
@group(0) @binding(3) var<storage, read_write> dual_partial: array<f32>;
@group(0) @binding(4) var<storage, read_write> dual_b: array<vec2<f32>>;
@group(0) @binding(5) var<uniform> dual_layer: Layer;

@compute @workgroup_size(256)
fn dual(
    @builtin(global_invocation_id) id: vec3<u32>,
    @builtin(local_invocation_index) t: u32,
    @builtin(workgroup_id) w: vec3<u32>,
) {
    let i = id.x;
    var v = 0.0;
    if (i < dual_layer.m) {
        let b = dual_u[i] + dual_layer.sigma * dual_bz[i] - dual_layer.sigma_alpha * dual_y[i];
        dual_u[i] = b;
        if (dual_layer.save != 0u) {
            dual_b[dual_layer.offset + i] = b;
        }
        v = dot(b, b);
    }
    let total = workgroup_sum(t, v);
    if (t == 0u) {
        dual_partial[w.x] = total;
    }
}

// ---- project: u ← u / ‖u‖ when ‖u‖² = norms[slot] > 1 ----
@group(0) @binding(0) var<storage, read_write> project_u: array<vec2<f32>>;
@group(0) @binding(1) var<storage, read> project_norms: array<f32>;
@group(0) @binding(2) var<uniform> project_layer: Layer;

@compute @workgroup_size(256)
fn project(@builtin(global_invocation_id) id: vec3<u32>) {
    let i = id.x;
    let n2 = project_norms[project_layer.slot];
    if (i < project_layer.m && sqrt(n2) > 1.0) {
        project_u[i] = project_u[i] / sqrt(n2);
    }
}

// ---- average: sum += z′, estimate = sum/(αj) (kept for the layer view when saving) ----
@group(0) @binding(0) var<storage, read_write> average_sum: array<vec2<f32>>;
@group(0) @binding(1) var<storage, read> average_z: array<vec2<f32>>;
@group(0) @binding(2) var<storage, read_write> average_estimate: array<vec2<f32>>;
@group(0) @binding(3) var<storage, read_write> average_layers: array<vec2<f32>>;
@group(0) @binding(4) var<uniform> average_layer: Layer;

@compute @workgroup_size(256)
fn average(@builtin(global_invocation_id) id: vec3<u32>) {
    let i = id.x;
    if (i < average_layer.len) {
        let s = average_sum[i] + average_z[i];
        average_sum[i] = s;
        let estimate = average_layer.scale * s;
        average_estimate[i] = estimate;
        if (average_layer.save != 0u) {
            average_layers[average_layer.offset + i] = estimate;
        }
    }
}

// ---- reverse mode ----
// dual_back: through u = Π(b): b̄ = (ū − b̂⟨b̂, ū⟩)/‖b‖ when ‖b‖ > 1, else ū; then ū ← b̄ and
// bsum += b̄ (the block's Σ b̄, for ȳ and ᾱ). norms[slot] = ‖b‖², dots[aux] = Re⟨b, ū⟩.
@group(0) @binding(0) var<storage, read> dback_b: array<vec2<f32>>;
@group(0) @binding(1) var<storage, read_write> dback_ubar: array<vec2<f32>>;
@group(0) @binding(2) var<storage, read_write> dback_bsum: array<vec2<f32>>;
@group(0) @binding(3) var<storage, read> dback_norms: array<f32>;
@group(0) @binding(4) var<storage, read> dback_dots: array<f32>;
@group(0) @binding(5) var<uniform> dback_layer: Layer;

@compute @workgroup_size(256)
fn dual_back(@builtin(global_invocation_id) id: vec3<u32>) {
    let i = id.x;
    if (i < dback_layer.m) {
        let n2 = dback_norms[dback_layer.slot];
        var bbar = dback_ubar[i];
        let bn = sqrt(n2);
        if (bn > 1.0) {
            let along = dback_dots[dback_layer.aux] / n2;
            bbar = (bbar - dback_b[i] * along) / bn;
        }
        dback_ubar[i] = bbar;
        dback_bsum[i] = dback_bsum[i] + bbar;
    }
}

// extrap_back: ē = B*b̄ (given), through e = 2z′ − z and z′ = soft(a):
//   z̄′ += 2σē, z̄ −= σē, ā = z̄′ − t(z̄′ − â⟨â, z̄′⟩)/|a| (|a| > t, else 0), z̄ += ā.
@group(0) @binding(0) var<storage, read> eback_ebar: array<vec2<f32>>;
@group(0) @binding(1) var<storage, read> eback_a: array<vec2<f32>>;
@group(0) @binding(2) var<storage, read> eback_t: array<f32>;
@group(0) @binding(3) var<storage, read> eback_cur: array<vec2<f32>>;
@group(0) @binding(4) var<storage, read_write> eback_prev: array<vec2<f32>>;
@group(0) @binding(5) var<storage, read_write> eback_abar: array<vec2<f32>>;
@group(0) @binding(6) var<uniform> eback_layer: Layer;

@compute @workgroup_size(256)
fn extrap_back(@builtin(global_invocation_id) id: vec3<u32>) {
    let i = id.x;
    if (i < eback_layer.len) {
        let eb = eback_layer.sigma * eback_ebar[i];
        let zb = eback_cur[i] + 2.0 * eb;
        let a = eback_a[eback_layer.offset + i];
        let t = eback_t[i];
        let r = sqrt(dot(a, a));
        var abar = vec2<f32>(0.0, 0.0);
        if (r > t) {
            let ah = a / r;
            let along = dot(ah, zb);
            abar = zb - (zb - ah * along) * (t / r);
        }
        eback_prev[i] = eback_prev[i] - eb + abar;
        eback_abar[i] = abar;
    }
}
