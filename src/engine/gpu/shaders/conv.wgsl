// 3×3 convolutions with zero padding 1 on planar images: a buffer of C channels of N × N
// (index c·N² + y·N + x), weights laid out as candle's [cout, cin, 3, 3] (index
// ((o·cin + i)·3 + ky)·3 + kx), and the gradient with respect to their input.
//
// Forward:   out[o, y, x] = b[o] + Σ_{i, ky, kx} w[o, i, ky, kx] · in[i, y + ky − 1, x + kx − 1],
//            optionally followed by ReLU.
// Backward:  gin[i, y, x] = Σ_{o, ky, kx} w[o, i, ky, kx] · gout[o, y − ky + 1, x − kx + 1]
//            (the transposed convolution, i.e. with flipped kernels), optionally multiplied by
//            [in[i, y, x] > 0]: the backward of the ReLU that produced this layer's input.
//
// One invocation computes one pixel for a tile of TILE = 8 channels (output channels forward,
// input channels backward), accumulated in two vec4; a workgroup (8 × 8 pixels, one tile)
// stages the tile's weights in workgroup memory, CHUNK channels of the other side at a time
// (4.5 KiB), as vec4 over the tile. Dispatch (⌈N/8⌉, ⌈N/8⌉, ⌈channels/8⌉).

struct Conv {
    n: u32,
    cin: u32,
    cout: u32,
    // Forward: apply ReLU to the output.
    relu: u32,
    // Backward: multiply the input gradient by [in > 0].
    mask: u32,
    _pad0: u32,
    _pad1: u32,
    _pad2: u32,
}

// Forward: the input. Backward: the gradient of the output.
@group(0) @binding(0) var<storage, read> src: array<f32>;
@group(0) @binding(1) var<storage, read> weight: array<f32>;
// Forward: the bias (cout values). Backward: the layer's forward input (its ReLU mask).
@group(0) @binding(2) var<storage, read> extra: array<f32>;
// Forward: the output. Backward: the gradient of the input.
@group(0) @binding(3) var<storage, read_write> dst: array<f32>;
@group(0) @binding(4) var<uniform> conv: Conv;

const TILE: u32 = 8u;
const CHUNK: u32 = 16u;
const THREADS: u32 = 64u;

// The staged weights: entry (c·9 + k)·2 + h is the vec4 of tile channels 4h … 4h + 3 at channel
// c of the chunk and tap k = ky·3 + kx.
var<workgroup> staged: array<vec4<f32>, 288>;

@compute @workgroup_size(8, 8, 1)
fn conv_forward(
    @builtin(global_invocation_id) id: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    let n = conv.n;
    let inside = id.x < n && id.y < n;
    let nn = n * n;
    let ni = i32(n);
    let x = i32(id.x);
    let y = i32(id.y);
    let o0 = id.z * TILE;
    let last = conv.cout - 1u;
    let stride = conv.cin * 9u;
    var lo = vec4<f32>(0.0);
    var hi = vec4<f32>(0.0);
    for (var c0 = 0u; c0 < conv.cin; c0 += CHUNK) {
        let count = min(CHUNK, conv.cin - c0);
        workgroupBarrier();
        for (var e = lid; e < count * 18u; e += THREADS) {
            // Output channels past the last are clamped; their results are not written.
            let o = o0 + (e % 2u) * 4u;
            let k = c0 * 9u + e / 2u;
            staged[e] = vec4<f32>(
                weight[min(o, last) * stride + k],
                weight[min(o + 1u, last) * stride + k],
                weight[min(o + 2u, last) * stride + k],
                weight[min(o + 3u, last) * stride + k],
            );
        }
        workgroupBarrier();
        if (inside) {
            for (var c = 0u; c < count; c++) {
                let plane = (c0 + c) * nn;
                for (var ky = 0; ky < 3; ky++) {
                    let yy = y + ky - 1;
                    if (yy < 0 || yy >= ni) {
                        continue;
                    }
                    let line = plane + u32(yy) * n;
                    for (var kx = 0; kx < 3; kx++) {
                        let xx = x + kx - 1;
                        if (xx < 0 || xx >= ni) {
                            continue;
                        }
                        let v = src[line + u32(xx)];
                        let e = (c * 9u + u32(ky * 3 + kx)) * 2u;
                        lo += v * staged[e];
                        hi += v * staged[e + 1u];
                    }
                }
            }
        }
    }
    if (!inside) {
        return;
    }
    let pixel = id.y * n + id.x;
    for (var t = 0u; t < TILE; t++) {
        let o = o0 + t;
        if (o < conv.cout) {
            var v: f32;
            if (t < 4u) {
                v = lo[t];
            } else {
                v = hi[t - 4u];
            }
            v += extra[o];
            if (conv.relu != 0u) {
                v = max(v, 0.0);
            }
            dst[o * nn + pixel] = v;
        }
    }
}

@compute @workgroup_size(8, 8, 1)
fn conv_backward(
    @builtin(global_invocation_id) id: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    let n = conv.n;
    let inside = id.x < n && id.y < n;
    let nn = n * n;
    let ni = i32(n);
    let x = i32(id.x);
    let y = i32(id.y);
    let i0 = id.z * TILE;
    let last = conv.cin - 1u;
    let stride = conv.cin * 9u;
    var lo = vec4<f32>(0.0);
    var hi = vec4<f32>(0.0);
    for (var c0 = 0u; c0 < conv.cout; c0 += CHUNK) {
        let count = min(CHUNK, conv.cout - c0);
        workgroupBarrier();
        for (var e = lid; e < count * 18u; e += THREADS) {
            // Input channels past the last are clamped; their results are not written.
            let i = i0 + (e % 2u) * 4u;
            let ck = e / 2u;
            let row = (c0 + ck / 9u) * stride + ck % 9u;
            staged[e] = vec4<f32>(
                weight[row + min(i, last) * 9u],
                weight[row + min(i + 1u, last) * 9u],
                weight[row + min(i + 2u, last) * 9u],
                weight[row + min(i + 3u, last) * 9u],
            );
        }
        workgroupBarrier();
        if (inside) {
            for (var c = 0u; c < count; c++) {
                let plane = (c0 + c) * nn;
                for (var ky = 0; ky < 3; ky++) {
                    let yy = y - ky + 1;
                    if (yy < 0 || yy >= ni) {
                        continue;
                    }
                    let line = plane + u32(yy) * n;
                    for (var kx = 0; kx < 3; kx++) {
                        let xx = x - kx + 1;
                        if (xx < 0 || xx >= ni) {
                            continue;
                        }
                        let g = src[line + u32(xx)];
                        let e = (c * 9u + u32(ky * 3 + kx)) * 2u;
                        lo += g * staged[e];
                        hi += g * staged[e + 1u];
                    }
                }
            }
        }
    }
    if (!inside) {
        return;
    }
    let pixel = id.y * n + id.x;
    for (var t = 0u; t < TILE; t++) {
        let i = i0 + t;
        if (i < conv.cin) {
            var v: f32;
            if (t < 4u) {
                v = lo[t];
            } else {
                v = hi[t - 4u];
            }
            if (conv.mask != 0u && extra[i * nn + pixel] <= 0.0) {
                v = 0.0;
            }
            dst[i * nn + pixel] = v;
        }
    }
}
