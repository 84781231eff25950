// The unitary 2-D DFT of an N × N complex image (N a power of two, 2 … 256), as two passes of
// 1-D transforms: one workgroup per line (a row, or a column read with stride N), the line held
// in workgroup memory, radix-2 decimation in time after a bit-reversed load, its stages paired as
// radix-4 butterflies. Twiddles w[k] = e^{−2πik/N} (k < N/2) are computed on the CPU in f64; the
// inverse conjugates them.

struct Params {
    // The line length N and log₂ N.
    n: u32,
    log2n: u32,
    // Element i of line l sits at l·line_stride + i·elem_stride (rows: N, 1; columns: 1, N).
    elem_stride: u32,
    line_stride: u32,
    // The factor applied on the way out (1, or 1/N after the second pass).
    scale: f32,
    // +1 for the forward transform, −1 for the inverse (the sign of the twiddles' imaginary part).
    sign: f32,
    _pad0: u32,
    _pad1: u32,
}

@group(0) @binding(0) var<storage, read_write> data: array<vec2<f32>>;
@group(0) @binding(1) var<storage, read> twiddles: array<vec2<f32>>;
@group(0) @binding(2) var<uniform> params: Params;

const THREADS: u32 = 64u;

var<workgroup> buf: array<vec2<f32>, 256>;

fn cmul(a: vec2<f32>, b: vec2<f32>) -> vec2<f32> {
    return vec2<f32>(a.x * b.x - a.y * b.y, a.x * b.y + a.y * b.x);
}

// The twiddle e^{∓2πik/N}.
fn twiddle(k: u32) -> vec2<f32> {
    let w = twiddles[k];
    return vec2<f32>(w.x, params.sign * w.y);
}

// One 1-D transform per workgroup (line = workgroup_id.x), in place: the radix-2 stages
// s = 1 … log₂ N (span 2^{s−1}, twiddles w^{j·N/2^s}) done two at a time as radix-4 butterflies
// (fewer barriers; the same arithmetic), after one lone radix-2 stage when log₂ N is odd.
@compute @workgroup_size(64)
fn lines(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let n = params.n;
    let log2n = params.log2n;
    let base = wg.x * params.line_stride;
    let stride = params.elem_stride;
    let shift = 32u - log2n;
    for (var i = lid; i < n; i += THREADS) {
        buf[reverseBits(i) >> shift] = data[base + i * stride];
    }
    workgroupBarrier();
    var s = 1u;
    if ((log2n & 1u) == 1u) {
        // Stage 1: span 1, twiddle 1.
        for (var b = lid; b < n / 2u; b += THREADS) {
            let u = buf[2u * b];
            let v = buf[2u * b + 1u];
            buf[2u * b] = u + v;
            buf[2u * b + 1u] = u - v;
        }
        workgroupBarrier();
        s = 2u;
    }
    for (; s < log2n; s += 2u) {
        // Stages s and s + 1 on the quadruple i0 + {0, m, 2m, 3m}, m = 2^{s−1}.
        let m = 1u << (s - 1u);
        let t1 = log2n - s;
        for (var b = lid; b < n / 4u; b += THREADS) {
            let j = b & (m - 1u);
            let i0 = ((b >> (s - 1u)) << (s + 1u)) + j;
            let w1 = twiddle(j << t1);
            let x0 = buf[i0];
            let x1 = cmul(w1, buf[i0 + m]);
            let x2 = buf[i0 + 2u * m];
            let x3 = cmul(w1, buf[i0 + 3u * m]);
            let a0 = x0 + x1;
            let a1 = x0 - x1;
            let a2 = cmul(twiddle(j << (t1 - 1u)), x2 + x3);
            let a3 = cmul(twiddle((j + m) << (t1 - 1u)), x2 - x3);
            buf[i0] = a0 + a2;
            buf[i0 + 2u * m] = a0 - a2;
            buf[i0 + m] = a1 + a3;
            buf[i0 + 3u * m] = a1 - a3;
        }
        workgroupBarrier();
    }
    for (var i = lid; i < n; i += THREADS) {
        data[base + i * stride] = params.scale * buf[i];
    }
}
