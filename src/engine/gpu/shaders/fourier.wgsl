// The unitary 2-D DFT of an N × N complex image (N a power of two, 2 … 256), as two passes of
// 1-D transforms: one workgroup per line (a row, or a column read with stride N), the line held
// in workgroup memory, radix-2 decimation in time after a bit-reversed load. Twiddles
// w[k] = e^{−2πik/N} (k < N/2) are computed on the CPU in f64; the inverse conjugates them.

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

const THREADS: u32 = 128u;

var<workgroup> buf: array<vec2<f32>, 256>;

fn cmul(a: vec2<f32>, b: vec2<f32>) -> vec2<f32> {
    return vec2<f32>(a.x * b.x - a.y * b.y, a.x * b.y + a.y * b.x);
}

// One 1-D transform per workgroup (line = workgroup_id.x), in place.
@compute @workgroup_size(128)
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
    let butterflies = n / 2u;
    for (var s = 1u; s <= log2n; s++) {
        let span = 1u << (s - 1u);
        let tshift = log2n - s;
        for (var b = lid; b < butterflies; b += THREADS) {
            let j = b & (span - 1u);
            let i0 = ((b >> (s - 1u)) << s) + j;
            let i1 = i0 + span;
            let w = twiddles[j << tshift];
            let t = cmul(vec2<f32>(w.x, params.sign * w.y), buf[i1]);
            let u = buf[i0];
            buf[i0] = u + t;
            buf[i1] = u - t;
        }
        workgroupBarrier();
    }
    for (var i = lid; i < n; i += THREADS) {
        data[base + i * stride] = params.scale * buf[i];
    }
}
