//! A 3×3 convolution with zero padding 1 and bias on the GPU, with an optional fused ReLU, and
//! its gradient with respect to the input: the layers of the deep cascade's CNNs
//! ([`crate::engine::gpu::cascade`]). Images are planar, `C` channels of `N × N` (index
//! `c·N² + y·N + x`), the weights candle's `[cout, cin, 3, 3]`:
//!
//! `out[o, y, x] = b[o] + Σ_{i, ky, kx} w[o, i, ky, kx] · in[i, y + ky − 1, x + kx − 1]`
//! (then `max(·, 0)` with ReLU), and
//!
//! `gin[i, y, x] = [in[i, y, x] > 0]? · Σ_{o, ky, kx} w[o, i, ky, kx] · gout[o, y − ky + 1, x − kx + 1]`,
//!
//! the transposed convolution (flipped kernels), optionally masked where the layer's input (the
//! output of the previous layer's ReLU) is zero: the ReLU's backward, fused.
//!
//! Each invocation computes one pixel for a tile of 8 channels (output channels forward, input
//! channels backward) in two `vec4` accumulators; an 8 × 8 workgroup stages its tile's weights
//! in 4.5 KiB of workgroup memory, 16 channels of the other side at a time, so that any channel
//! counts fit WebGPU's default limits.

use crate::engine::gpu::{GpuContext, Shader};
use crate::{Error, Result};
use std::rc::Rc;
use wgpu::{Buffer, CommandEncoder};

const CONV: Shader = crate::gpu_shader!("conv");

/// Output (forward) or input (backward) channels per invocation (`TILE` in the shader).
const TILE: usize = 8;
/// Pixels per workgroup along each axis.
const SIDE: usize = 8;

/// The shader's parameters.
#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct Params {
    n: u32,
    cin: u32,
    cout: u32,
    relu: u32,
    mask: u32,
    _pad: [u32; 3],
}

/// One convolution layer with its weights on the GPU.
pub struct GpuConv {
    ctx: Rc<GpuContext>,
    n: usize,
    cin: usize,
    cout: usize,
    weight: Buffer,
    bias: Buffer,
    forward: Buffer,
    backward: Buffer,
}

impl GpuConv {
    /// The layer `cin → cout` on `n × n` images with `weight` (`[cout, cin, 3, 3]`, row-major)
    /// and `bias` (`cout`); `relu` applies ReLU to the forward output, `mask_input` multiplies
    /// the input gradient by `[input > 0]` (the input came out of a ReLU).
    pub fn new(
        ctx: &Rc<GpuContext>,
        n: usize,
        (cin, cout): (usize, usize),
        weight: &[f32],
        bias: &[f32],
        relu: bool,
        mask_input: bool,
    ) -> Result<Self> {
        if n == 0 || cin == 0 || cout == 0 {
            return Err(Error::Input(format!(
                "a convolution needs channels and pixels, got {cin} → {cout} on {n}²"
            )));
        }
        if weight.len() != cout * cin * 9 || bias.len() != cout {
            return Err(Error::Input(format!(
                "a 3×3 convolution {cin} → {cout} needs {} weights and {cout} biases, got {} and {}",
                cout * cin * 9,
                weight.len(),
                bias.len()
            )));
        }
        let params = |relu: bool, mask: bool| Params {
            n: n as u32,
            cin: cin as u32,
            cout: cout as u32,
            relu: relu.into(),
            mask: mask.into(),
            _pad: [0; 3],
        };
        Ok(Self {
            ctx: Rc::clone(ctx),
            n,
            cin,
            cout,
            weight: ctx.upload(weight),
            bias: ctx.upload(bias),
            forward: ctx.uniform(&params(relu, false)),
            backward: ctx.uniform(&params(false, mask_input)),
        })
    }

    /// Input channels.
    pub fn cin(&self) -> usize {
        self.cin
    }

    /// Output channels.
    pub fn cout(&self) -> usize {
        self.cout
    }

    fn groups(&self, channels: usize) -> (u32, u32, u32) {
        let side = self.n.div_ceil(SIDE) as u32;
        (side, side, channels.div_ceil(TILE) as u32)
    }

    /// Records `output = conv(input)` (with ReLU if so built); `input` holds `cin·N²` values,
    /// `output` `cout·N²` (overwritten).
    pub fn record_forward(&self, encoder: &mut CommandEncoder, input: &Buffer, output: &Buffer) {
        self.ctx.dispatch(
            encoder,
            &CONV,
            "conv_forward",
            &[input, &self.weight, &self.bias, output, &self.forward],
            self.groups(self.cout),
        );
    }

    /// Records `grad_input = convᵀ(grad_output)`, masked by `[input > 0]` if so built (`input`
    /// is the forward's input; it is bound either way). `grad_output` is the gradient of the
    /// convolution's output before any ReLU of its own (apply that ReLU's mask first, as the
    /// backward of the next layer does).
    pub fn record_backward(
        &self,
        encoder: &mut CommandEncoder,
        grad_output: &Buffer,
        input: &Buffer,
        grad_input: &Buffer,
    ) {
        self.ctx.dispatch(
            encoder,
            &CONV,
            "conv_backward",
            &[grad_output, &self.weight, input, grad_input, &self.backward],
            self.groups(self.cin),
        );
    }
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;
    use crate::engine::gpu::{block_on, native_context};
    use candle_core::{Device, Tensor, Var};
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    fn random(len: usize, seed: u64) -> Vec<f32> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        (0..len).map(|_| rng.random_range(-1.0..1.0)).collect()
    }

    /// `‖a − b‖∞ / ‖b‖∞`.
    fn relative(a: &[f32], b: &[f32]) -> f64 {
        assert_eq!(a.len(), b.len());
        let diff = a
            .iter()
            .zip(b)
            .map(|(x, y)| (x - y).abs())
            .fold(0.0f32, f32::max);
        let scale = b.iter().map(|y| y.abs()).fold(0.0f32, f32::max);
        f64::from(diff) / f64::from(scale.max(f32::MIN_POSITIVE))
    }

    fn candle_conv(x: &Tensor, w: &Tensor, b: &Tensor) -> Tensor {
        let cout = w.dims()[0];
        x.conv2d(w, 1, 1, 1, 1)
            .unwrap()
            .broadcast_add(&b.reshape((1, cout, 1, 1)).unwrap())
            .unwrap()
    }

    #[test]
    fn convolutions_match_candle_forward_and_backward() {
        let ctx = Rc::new(native_context());
        let dev = Device::Cpu;
        let mut worst = (0.0f64, 0.0f64);
        // (side, cin, cout, ReLU after, input masked by the ReLU before).
        for (seed, (n, cin, cout, relu, masked)) in [
            (16, 2, 32, true, false),
            (16, 32, 32, true, true),
            (16, 32, 2, false, true),
            (13, 3, 5, true, false),
            (20, 7, 6, false, true),
            (12, 20, 9, true, true),
            (9, 5, 17, false, false),
        ]
        .into_iter()
        .enumerate()
        {
            let seed = seed as u64 * 10;
            let (w, b) = (random(cout * cin * 9, seed), random(cout, seed + 1));
            let z = random(cin * n * n, seed + 2);
            let g = random(cout * n * n, seed + 3);
            // The input of a masked layer came out of a ReLU: the GPU sees relu(z) and masks by
            // it, candle differentiates through the ReLU.
            let conv = GpuConv::new(&ctx, n, (cin, cout), &w, &b, relu, masked).unwrap();
            let zt = Var::from_tensor(&Tensor::from_vec(z.clone(), (1, cin, n, n), &dev).unwrap())
                .unwrap();
            let wt = Tensor::from_vec(w, (cout, cin, 3, 3), &dev).unwrap();
            let bt = Tensor::from_vec(b, cout, &dev).unwrap();
            let input = if masked {
                zt.as_tensor().relu().unwrap()
            } else {
                zt.as_tensor().clone()
            };
            let mut out = candle_conv(&input, &wt, &bt);
            let pre = out.clone();
            if relu {
                out = out.relu().unwrap();
            }
            let expected: Vec<f32> = out.flatten_all().unwrap().to_vec1().unwrap();
            // Backward of Σ g ⊙ conv(input) (before this layer's own ReLU).
            let objective = (pre * Tensor::from_vec(g.clone(), (1, cout, n, n), &dev).unwrap())
                .unwrap()
                .sum_all()
                .unwrap();
            let grads = objective.backward().unwrap();
            let expected_grad: Vec<f32> = grads
                .get(zt.as_tensor())
                .unwrap()
                .flatten_all()
                .unwrap()
                .to_vec1()
                .unwrap();

            let input_values: Vec<f32> = input.flatten_all().unwrap().to_vec1().unwrap();
            let x = ctx.upload(&input_values);
            let y = ctx.storage(cout * n * n * 4);
            let gy = ctx.upload(&g);
            let gx = ctx.storage(cin * n * n * 4);
            let mut encoder = ctx.encoder();
            conv.record_forward(&mut encoder, &x, &y);
            conv.record_backward(&mut encoder, &gy, &x, &gx);
            ctx.submit(encoder);
            let got = block_on(ctx.read_f32(&y, cout * n * n)).unwrap();
            let got_grad = block_on(ctx.read_f32(&gx, cin * n * n)).unwrap();
            let (f, b) = (
                relative(&got, &expected),
                relative(&got_grad, &expected_grad),
            );
            eprintln!("conv {cin} → {cout} at {n}² (relu {relu}, masked {masked}): forward {f:.2e}, backward {b:.2e}");
            assert!(f <= 1e-5, "{cin} → {cout}: forward {f}");
            assert!(b <= 1e-5, "{cin} → {cout}: backward {b}");
            worst = (worst.0.max(f), worst.1.max(b));
        }
        eprintln!("worst: forward {:.2e}, backward {:.2e}", worst.0, worst.1);
    }

    #[test]
    fn a_malformed_layer_is_an_error() {
        let ctx = Rc::new(native_context());
        assert!(GpuConv::new(&ctx, 8, (2, 3), &[0.0; 53], &[0.0; 3], true, false).is_err());
        assert!(GpuConv::new(&ctx, 8, (2, 3), &[0.0; 54], &[0.0; 2], true, false).is_err());
        assert!(GpuConv::new(&ctx, 0, (2, 3), &[0.0; 54], &[0.0; 3], true, false).is_err());
    }
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod bench {
    use super::*;
    use crate::engine::gpu::{block_on, native_context};

    /// `cargo test --lib engine::gpu::conv::bench -- --ignored --nocapture`
    #[test]
    #[ignore]
    fn time_a_hidden_layer() {
        let ctx = Rc::new(native_context());
        let (n, c) = (64, 24);
        let w: Vec<f32> = (0..c * c * 9)
            .map(|i| ((i * 7) % 13) as f32 / 13.0 - 0.5)
            .collect();
        let conv = GpuConv::new(&ctx, n, (c, c), &w, &vec![0.1; c], true, true).unwrap();
        let x = ctx.upload(&vec![0.5f32; c * n * n]);
        let y = ctx.storage(c * n * n * 4);
        for round in 0..2 {
            for backward in [false, true] {
                let start = std::time::Instant::now();
                let mut encoder = ctx.encoder();
                for _ in 0..20 {
                    if backward {
                        conv.record_backward(&mut encoder, &x, &x, &y);
                    } else {
                        conv.record_forward(&mut encoder, &x, &y);
                    }
                }
                ctx.submit(encoder);
                block_on(ctx.read_f32(&y, 1)).unwrap();
                eprintln!(
                    "round {round}, {}: {:.2} ms a layer {c} → {c} at {n}²",
                    if backward { "backward" } else { "forward" },
                    start.elapsed().as_secs_f64() * 1e3 / 20.0
                );
            }
        }
    }
}
