//! The unitary 2-D DFT on the GPU, the twin of [`crate::mri::fourier::Fourier2`]:
//!
//! `(Fx)[u, v] = (1/N) Σ_{y,x} x[y, x] e^{−2πi(uy + vx)/N}`, `F* = F⁻¹`,
//!
//! on an `N × N` complex image in a GPU buffer (row-major, unshifted), in place. `N` is a power
//! of two from 2 to 256. Two passes of 1-D transforms (`shaders/fourier.wgsl`): the rows, then the
//! columns (read with stride `N`), one workgroup per line held in workgroup memory, radix-2 with
//! twiddles computed on the CPU in `f64`; the second pass applies the unitary scale `1/N`.

use super::{GpuContext, Shader};
use crate::{Error, Result};
use std::rc::Rc;

const SHADER: Shader = crate::gpu_shader!("fourier");

/// The largest side the one-workgroup-per-line kernel holds (its workgroup array).
pub const MAX_SIDE: usize = 256;

/// The unitary 2-D DFT of `N × N` complex images in GPU buffers.
pub struct GpuFourier2 {
    ctx: Rc<GpuContext>,
    n: usize,
    twiddles: wgpu::Buffer,
    /// Uniforms of the passes: forward rows, forward columns, inverse rows, inverse columns.
    passes: [wgpu::Buffer; 4],
}

impl std::fmt::Debug for GpuFourier2 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "GpuFourier2({0}×{0})", self.n)
    }
}

impl GpuFourier2 {
    /// The transforms of `n × n` images; [`Error::Input`] unless `n` is a power of two from 2
    /// to [`MAX_SIDE`].
    pub fn new(ctx: &Rc<GpuContext>, n: usize) -> Result<Self> {
        if !(2..=MAX_SIDE).contains(&n) || !n.is_power_of_two() {
            return Err(Error::Input(format!(
                "the GPU Fourier transform needs a power-of-two side from 2 to {MAX_SIDE}, not {n}"
            )));
        }
        let twiddles: Vec<[f32; 2]> = (0..n / 2)
            .map(|k| {
                let angle = -2.0 * std::f64::consts::PI * k as f64 / n as f64;
                [angle.cos() as f32, angle.sin() as f32]
            })
            .collect();
        let log2n = n.trailing_zeros();
        let n32 = n as u32;
        let pass = |rows: bool, inverse: bool| {
            let (elem_stride, line_stride, scale) = if rows {
                (1, n32, 1.0f32)
            } else {
                (n32, 1, 1.0 / n as f32)
            };
            let sign = if inverse { -1.0f32 } else { 1.0 };
            ctx.uniform(&[
                n32,
                log2n,
                elem_stride,
                line_stride,
                scale.to_bits(),
                sign.to_bits(),
                0,
                0,
            ])
        };
        Ok(Self {
            ctx: Rc::clone(ctx),
            n,
            twiddles: ctx.upload(&twiddles),
            passes: [
                pass(true, false),
                pass(false, false),
                pass(true, true),
                pass(false, true),
            ],
        })
    }

    /// The side `N`.
    pub fn side(&self) -> usize {
        self.n
    }

    /// Records `data ← F data` (`N²` complex values, in place).
    pub fn record_forward(&self, encoder: &mut wgpu::CommandEncoder, data: &wgpu::Buffer) {
        self.record(encoder, data, &self.passes[0..2]);
    }

    /// Records `data ← F* data = F⁻¹ data` (in place).
    pub fn record_inverse(&self, encoder: &mut wgpu::CommandEncoder, data: &wgpu::Buffer) {
        self.record(encoder, data, &self.passes[2..4]);
    }

    fn record(
        &self,
        encoder: &mut wgpu::CommandEncoder,
        data: &wgpu::Buffer,
        passes: &[wgpu::Buffer],
    ) {
        for params in passes {
            self.ctx.dispatch(
                encoder,
                &SHADER,
                "lines",
                &[data, &self.twiddles, params],
                (self.n as u32, 1, 1),
            );
        }
    }
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;
    use crate::engine::gpu::{block_on, native_context};
    use crate::mri::fourier::Fourier2;
    use crate::mri::operator::{distance, norm, random_complex};
    use rustfft::num_complex::Complex32;

    fn context() -> Rc<GpuContext> {
        Rc::new(native_context())
    }

    /// `‖gpu − cpu‖ / ‖cpu‖`.
    pub(crate) fn relative(gpu: &[Complex32], cpu: &[Complex32]) -> f64 {
        assert_eq!(gpu.len(), cpu.len());
        distance(gpu, cpu) / norm(cpu)
    }

    #[test]
    fn the_gpu_fft_matches_fourier2_forward_and_inverse() {
        let ctx = context();
        for (seed, n) in [2usize, 8, 64, 128, 256].into_iter().enumerate() {
            let gpu = GpuFourier2::new(&ctx, n).unwrap();
            let cpu = Fourier2::new(n).unwrap();
            let x = random_complex(n * n, seed as u64);
            let buffer = ctx.upload_complex(&x);
            let mut encoder = ctx.encoder();
            gpu.record_forward(&mut encoder, &buffer);
            ctx.submit(encoder);
            let forward = block_on(ctx.read_complex(&buffer, n * n)).unwrap();
            let mut expected = x.clone();
            cpu.forward(&mut expected);
            let e_fwd = relative(&forward, &expected);
            // The inverse of a fresh random vector, and back to x.
            let y = random_complex(n * n, 100 + seed as u64);
            let yb = ctx.upload_complex(&y);
            let mut encoder = ctx.encoder();
            gpu.record_inverse(&mut encoder, &yb);
            gpu.record_inverse(&mut encoder, &buffer);
            ctx.submit(encoder);
            let inverse = block_on(ctx.read_complex(&yb, n * n)).unwrap();
            let back = block_on(ctx.read_complex(&buffer, n * n)).unwrap();
            let mut expected = y.clone();
            cpu.inverse(&mut expected);
            let e_inv = relative(&inverse, &expected);
            let e_back = relative(&back, &x);
            eprintln!("n = {n}: forward {e_fwd:.2e}, inverse {e_inv:.2e}, round trip {e_back:.2e}");
            assert!(e_fwd <= 1e-5 && e_inv <= 1e-5 && e_back <= 1e-5, "n = {n}");
        }
    }

    #[test]
    fn the_gpu_fft_matches_a_naive_dft() {
        let ctx = context();
        let n = 16;
        let x = random_complex(n * n, 7);
        let mut naive = vec![Complex32::default(); n * n];
        for u in 0..n {
            for v in 0..n {
                let mut sum = (0.0f64, 0.0f64);
                for y in 0..n {
                    for xx in 0..n {
                        let angle =
                            -2.0 * std::f64::consts::PI * ((u * y + v * xx) % n) as f64 / n as f64;
                        let z = x[y * n + xx];
                        let (c, s) = (angle.cos(), angle.sin());
                        sum.0 += z.re as f64 * c - z.im as f64 * s;
                        sum.1 += z.re as f64 * s + z.im as f64 * c;
                    }
                }
                naive[u * n + v] =
                    Complex32::new((sum.0 / n as f64) as f32, (sum.1 / n as f64) as f32);
            }
        }
        let gpu = GpuFourier2::new(&ctx, n).unwrap();
        let buffer = ctx.upload_complex(&x);
        let mut encoder = ctx.encoder();
        gpu.record_forward(&mut encoder, &buffer);
        ctx.submit(encoder);
        let forward = block_on(ctx.read_complex(&buffer, n * n)).unwrap();
        let e = relative(&forward, &naive);
        eprintln!("n = {n}: against the naive DFT {e:.2e}");
        assert!(e <= 1e-5);
    }

    #[test]
    fn only_powers_of_two_up_to_256_are_accepted() {
        let ctx = context();
        for n in [0, 1, 3, 12, 512] {
            assert!(
                matches!(GpuFourier2::new(&ctx, n), Err(Error::Input(_))),
                "{n}"
            );
        }
        assert_eq!(GpuFourier2::new(&ctx, 32).unwrap().side(), 32);
    }
}
