// One core's multiply–add rate on f32, for the single-core floor of DeepFool in
// scripts/bench-peers.mjs. Built by scripts/bench-peers.sh with plain `rustc -O` for the default
// x86-64 target: 128-bit SSE vectors and no FMA, the same width as wasm `simd128` (which also
// has no fused multiply–add), so the rate bounds what the lab's worker could reach.
//
// Two kernels on the shape of the CNN's second convolution as im2col (W [64 × 800] times
// cols [800 × 64], 3.28 M multiply–adds, in L2):
//   axpy:    out[o][·] += W[o][t] · cols[t][·], the loop the lab's own code runs;
//   blocked: a 4 × 8 register tile of the output kept in registers over the whole k loop
//            (each loaded value used 4 or 8 times), close to the core's peak for this width.
// Prints one JSON line: multiply–adds per second (best of several repetitions) for each.
use std::hint::black_box;
use std::time::Instant;

const M: usize = 64;
const K: usize = 800;
const N: usize = 64;

fn axpy(w: &[f32], cols: &[f32], out: &mut [f32]) {
    for (o, row) in out.chunks_exact_mut(N).enumerate() {
        for t in 0..K {
            let a = w[o * K + t];
            for (y, x) in row.iter_mut().zip(&cols[t * N..(t + 1) * N]) {
                *y += a * x;
            }
        }
    }
}

fn blocked(w: &[f32], cols: &[f32], out: &mut [f32]) {
    for o in (0..M).step_by(4) {
        for p in (0..N).step_by(8) {
            let mut acc = [[0.0f32; 8]; 4];
            for t in 0..K {
                let b: &[f32; 8] = cols[t * N + p..t * N + p + 8].try_into().unwrap();
                for r in 0..4 {
                    let a = w[(o + r) * K + t];
                    for c in 0..8 {
                        acc[r][c] += a * b[c];
                    }
                }
            }
            for r in 0..4 {
                for c in 0..8 {
                    out[(o + r) * N + p + c] += acc[r][c];
                }
            }
        }
    }
}

fn rate(kernel: fn(&[f32], &[f32], &mut [f32]), w: &[f32], cols: &[f32]) -> f64 {
    let mut out = vec![0.0f32; M * N];
    let mut best = f64::INFINITY;
    for _ in 0..7 {
        let reps = 50;
        let start = Instant::now();
        for _ in 0..reps {
            kernel(black_box(w), black_box(cols), black_box(&mut out));
        }
        best = best.min(start.elapsed().as_secs_f64() / reps as f64);
    }
    black_box(&out);
    (M * K * N) as f64 / best
}

fn main() {
    let w: Vec<f32> = (0..M * K).map(|i| ((i * 7 % 13) as f32 - 6.0) * 1e-3).collect();
    let cols: Vec<f32> = (0..K * N).map(|i| ((i * 5 % 11) as f32 - 5.0) * 1e-3).collect();
    // Both kernels compute the same product.
    let (mut a, mut b) = (vec![0.0f32; M * N], vec![0.0f32; M * N]);
    axpy(&w, &cols, &mut a);
    blocked(&w, &cols, &mut b);
    let err = a.iter().zip(&b).map(|(x, y)| (x - y).abs()).fold(0.0f32, f32::max);
    assert!(err < 1e-4, "kernels disagree by {err}");
    let axpy_rate = rate(axpy, &w, &cols);
    let blocked_rate = rate(blocked, &w, &cols);
    println!(
        "{{\"shape\": [{M}, {K}, {N}], \"axpy_macs_per_s\": {axpy_rate:.4e}, \"blocked_macs_per_s\": {blocked_rate:.4e}}}"
    );
}
