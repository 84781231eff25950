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
// One invocation computes one pixel for a tile of TILE = 4 channels (output channels forward,
// input channels backward), accumulated in a vec4; dispatch (⌈N/8⌉, ⌈N/8⌉, ⌈channels/4⌉).

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

const TILE: u32 = 4u;

@compute @workgroup_size(8, 8, 1)
fn conv_forward(@builtin(global_invocation_id) id: vec3<u32>) {
    let n = conv.n;
    if (id.x >= n || id.y >= n) {
        return;
    }
    let nn = n * n;
    let ni = i32(n);
    let x = i32(id.x);
    let y = i32(id.y);
    let o0 = id.z * TILE;
    let last = conv.cout - 1u;
    let stride = conv.cin * 9u;
    // Rows of the weights of the tile's output channels (clamped past the last one; those
    // results are not written).
    let row = vec4<u32>(
        min(o0, last) * stride,
        min(o0 + 1u, last) * stride,
        min(o0 + 2u, last) * stride,
        min(o0 + 3u, last) * stride,
    );
    var acc = vec4<f32>(0.0);
    for (var i = 0u; i < conv.cin; i++) {
        let plane = i * nn;
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
                let k = i * 9u + u32(ky * 3 + kx);
                acc += v * vec4<f32>(
                    weight[row.x + k],
                    weight[row.y + k],
                    weight[row.z + k],
                    weight[row.w + k],
                );
            }
        }
    }
    let pixel = id.y * n + id.x;
    for (var t = 0u; t < TILE; t++) {
        let o = o0 + t;
        if (o < conv.cout) {
            var v = acc[t] + extra[o];
            if (conv.relu != 0u) {
                v = max(v, 0.0);
            }
            dst[o * nn + pixel] = v;
        }
    }
}

@compute @workgroup_size(8, 8, 1)
fn conv_backward(@builtin(global_invocation_id) id: vec3<u32>) {
    let n = conv.n;
    if (id.x >= n || id.y >= n) {
        return;
    }
    let nn = n * n;
    let ni = i32(n);
    let x = i32(id.x);
    let y = i32(id.y);
    let i0 = id.z * TILE;
    let last = conv.cin - 1u;
    // Offsets of the tile's input channels within an output channel's weights.
    let col = vec4<u32>(
        min(i0, last) * 9u,
        min(i0 + 1u, last) * 9u,
        min(i0 + 2u, last) * 9u,
        min(i0 + 3u, last) * 9u,
    );
    let stride = conv.cin * 9u;
    var acc = vec4<f32>(0.0);
    for (var o = 0u; o < conv.cout; o++) {
        let plane = o * nn;
        let base = o * stride;
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
                let k = base + u32(ky * 3 + kx);
                acc += g * vec4<f32>(
                    weight[k + col.x],
                    weight[k + col.y],
                    weight[k + col.z],
                    weight[k + col.w],
                );
            }
        }
    }
    let pixel = id.y * n + id.x;
    for (var t = 0u; t < TILE; t++) {
        let i = i0 + t;
        if (i < conv.cin) {
            var v = acc[t];
            if (conv.mask != 0u && extra[i * nn + pixel] <= 0.0) {
                v = 0.0;
            }
            dst[i * nn + pixel] = v;
        }
    }
}
