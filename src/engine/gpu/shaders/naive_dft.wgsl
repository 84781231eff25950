// TEMPORARY fallback until fourier.wgsl (branch gpu-ops) lands: the unitary 2-D DFT of an
// N × N complex image by direct sums along rows, then columns (O(N³)).
//   pass 1: dst[y, u] = Σ_x src[y, x] · e^{∓2πi u x / N} / √N
//   pass 2: the same along columns.
// sign = −1 forward, +1 inverse.

struct Dft {
    n: u32,
    sign: f32,
    // 0: along rows, 1: along columns.
    axis: u32,
    _pad: u32,
}

@group(0) @binding(0) var<storage, read> src: array<vec2<f32>>;
@group(0) @binding(1) var<storage, read_write> dst: array<vec2<f32>>;
@group(0) @binding(2) var<uniform> dft: Dft;

@compute @workgroup_size(8, 8, 1)
fn dft_pass(@builtin(global_invocation_id) id: vec3<u32>) {
    let n = dft.n;
    let u = id.x;
    let line = id.y;
    if (u >= n || line >= n) {
        return;
    }
    var acc = vec2<f32>(0.0);
    for (var k = 0u; k < n; k++) {
        var i: u32;
        if (dft.axis == 0u) {
            i = line * n + k;
        } else {
            i = k * n + line;
        }
        let v = src[i];
        let phase = dft.sign * 6.283185307179586 * f32((u * k) % n) / f32(n);
        let c = cos(phase);
        let s = sin(phase);
        acc += vec2<f32>(v.x * c - v.y * s, v.x * s + v.y * c);
    }
    let scale = inverseSqrt(f32(n));
    if (dft.axis == 0u) {
        dst[line * n + u] = acc * scale;
    } else {
        dst[u * n + line] = acc * scale;
    }
}
