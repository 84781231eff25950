//! The orthogonal periodic 2-D wavelet transform on the GPU, the twin of
//! [`crate::mri::wavelet::Wavelet2`] (same filters, same `J` levels, same Mallat layout):
//!
//! `a[k] = Σ_j h[j] x[(2k + j) mod s]`, `d[k] = Σ_j g[j] x[(2k + j) mod s]`,
//! `g[j] = (−1)^j h[K−1−j]`,
//!
//! on the rows, then the columns of the top-left `s × s` block, `s = N, N/2, …, N/2^{J−1}`; the
//! inverse is the transpose, coarsest level first, columns then rows. A complex image is the
//! transform of its real and imaginary parts. One dispatch per level and direction
//! (`shaders/wavelet.wgsl`), one invocation per output entry, between the output buffer and an
//! internal scratch buffer.
//!
//! [`GpuWaveletSampling`] is `B = A W⁻¹ = P_Ω F W⁻¹` on wavelet coefficients, `B* = W A*`, the
//! twin of [`crate::mri::operator::WaveletSampling`].

use super::operator::GpuOperator;
use super::sampling::GpuSampling;
use super::{GpuContext, Shader};
use crate::mri::wavelet::{Wavelet, Wavelet2};
use crate::{Error, Result};
use std::rc::Rc;
use wgpu::{Buffer, CommandEncoder};

const SHADER: Shader = crate::gpu_shader!("wavelet");

/// The `J`-level periodic 2-D wavelet transform `W` of `N × N` complex images on the GPU.
pub struct GpuWavelet2 {
    ctx: Rc<GpuContext>,
    wavelet: Wavelet,
    n: usize,
    levels: usize,
    /// `h` then `g`, in `f32` (converted from `f64` as [`Wavelet2`] does).
    filters: Buffer,
    /// The uniforms of each level (`[N, s, K, 0]`, `s = N / 2^level`), finest first.
    params: Vec<Buffer>,
    /// `N²` complex values between the row and the column passes.
    scratch: Buffer,
}

impl std::fmt::Debug for GpuWavelet2 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "GpuWavelet2({0}, {1}×{1}, {2} levels)",
            self.wavelet, self.n, self.levels
        )
    }
}

impl GpuWavelet2 {
    /// The GPU twin of `wavelet` (its family, side and levels).
    pub fn new(ctx: &Rc<GpuContext>, wavelet: &Wavelet2) -> Result<Self> {
        let n = wavelet.n();
        let levels = wavelet.levels();
        let h = wavelet.wavelet().filter();
        let k = h.len();
        let g = (0..k).map(|i| {
            if i % 2 == 0 {
                h[k - 1 - i]
            } else {
                -h[k - 1 - i]
            }
        });
        let filters: Vec<f32> = h.iter().copied().chain(g).map(|v| v as f32).collect();
        let params = (0..levels)
            .map(|level| ctx.uniform(&[n as u32, (n >> level) as u32, k as u32, 0]))
            .collect();
        Ok(Self {
            ctx: Rc::clone(ctx),
            wavelet: wavelet.wavelet(),
            n,
            levels,
            filters: ctx.upload(&filters),
            params,
            scratch: ctx.complex(n * n),
        })
    }

    /// The wavelet.
    pub fn wavelet(&self) -> Wavelet {
        self.wavelet
    }

    /// The image side `N`.
    pub fn n(&self) -> usize {
        self.n
    }

    /// The number of levels `J`.
    pub fn levels(&self) -> usize {
        self.levels
    }

    /// Records `output = W input` (`N²` complex values; `input` is not modified and is not
    /// `output`).
    pub fn record_forward(&self, encoder: &mut CommandEncoder, input: &Buffer, output: &Buffer) {
        encoder.copy_buffer_to_buffer(input, 0, output, 0, self.bytes());
        for level in 0..self.levels {
            self.pass(encoder, "analyse_rows", level, output, &self.scratch);
            self.pass(encoder, "analyse_columns", level, &self.scratch, output);
        }
    }

    /// Records `output = W⁻¹ input = Wᵀ input` (`input` is not modified and is not `output`).
    pub fn record_inverse(&self, encoder: &mut CommandEncoder, input: &Buffer, output: &Buffer) {
        encoder.copy_buffer_to_buffer(input, 0, output, 0, self.bytes());
        for level in (0..self.levels).rev() {
            self.pass(encoder, "synthesise_columns", level, output, &self.scratch);
            self.pass(encoder, "synthesise_rows", level, &self.scratch, output);
        }
    }

    fn bytes(&self) -> u64 {
        (self.n * self.n * 8) as u64
    }

    fn pass(
        &self,
        encoder: &mut CommandEncoder,
        entry: &'static str,
        level: usize,
        src: &Buffer,
        dst: &Buffer,
    ) {
        let groups = (self.n >> level).div_ceil(16) as u32;
        self.ctx.dispatch(
            encoder,
            &SHADER,
            entry,
            &[src, dst, &self.filters, &self.params[level]],
            (groups, groups, 1),
        );
    }
}

/// `B = A W⁻¹ = P_Ω F W⁻¹` on wavelet coefficients, `B* = W A*`, on the GPU.
pub struct GpuWaveletSampling {
    a: Rc<GpuSampling>,
    wavelet: GpuWavelet2,
    /// The image `W⁻¹ z` (or `A* y`), `N²` complex values.
    scratch: Buffer,
}

impl std::fmt::Debug for GpuWaveletSampling {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "GpuWaveletSampling({:?}, {:?})", self.a, self.wavelet)
    }
}

impl GpuWaveletSampling {
    /// `B` of a sampling operator and a wavelet transform of the same side ([`Error::Input`]
    /// otherwise).
    pub fn new(a: Rc<GpuSampling>, wavelet: GpuWavelet2) -> Result<Self> {
        if wavelet.n() != a.side() {
            return Err(Error::Input(format!(
                "wavelet for {0}×{0} images, sampling for {1}×{1}",
                wavelet.n(),
                a.side()
            )));
        }
        let scratch = wavelet.ctx.complex(a.input_len());
        Ok(Self {
            a,
            wavelet,
            scratch,
        })
    }

    /// The sampling operator `A`.
    pub fn sampling(&self) -> &Rc<GpuSampling> {
        &self.a
    }

    /// The wavelet transform `W`.
    pub fn wavelet(&self) -> &GpuWavelet2 {
        &self.wavelet
    }
}

impl GpuOperator for GpuWaveletSampling {
    fn input_len(&self) -> usize {
        self.a.input_len()
    }

    fn output_len(&self) -> usize {
        self.a.output_len()
    }

    /// `out = A W⁻¹ z`.
    fn record_apply(&self, encoder: &mut CommandEncoder, z: &Buffer, out: &Buffer) {
        self.wavelet.record_inverse(encoder, z, &self.scratch);
        self.a.record_apply(encoder, &self.scratch, out);
    }

    /// `out = W A* y`.
    fn record_adjoint(&self, encoder: &mut CommandEncoder, y: &Buffer, out: &Buffer) {
        self.a.record_adjoint(encoder, y, &self.scratch);
        self.wavelet.record_forward(encoder, &self.scratch, out);
    }
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;
    use crate::engine::gpu::sampling::tests::{gpu_adjoint_gap, relative, run};
    use crate::engine::gpu::{block_on, native_context};
    use crate::mri::operator::{
        random_complex, LinearOperator, SubsampledFourier, WaveletSampling,
    };
    use crate::mri::sampling::{mask, Pattern};
    use crate::mri::wavelet::max_levels;
    use rustfft::num_complex::Complex32;

    /// `(W x, W⁻¹ x, W⁻¹ W x)` on the GPU.
    fn transforms(
        ctx: &GpuContext,
        w: &GpuWavelet2,
        x: &[Complex32],
    ) -> (Vec<Complex32>, Vec<Complex32>, Vec<Complex32>) {
        let len = x.len();
        let input = ctx.upload_complex(x);
        let (fwd, inv, back) = (ctx.complex(len), ctx.complex(len), ctx.complex(len));
        let mut encoder = ctx.encoder();
        w.record_forward(&mut encoder, &input, &fwd);
        w.record_inverse(&mut encoder, &input, &inv);
        w.record_inverse(&mut encoder, &fwd, &back);
        ctx.submit(encoder);
        let read = |b: &Buffer| block_on(ctx.read_complex(b, len)).unwrap();
        assert_eq!(read(&input), x, "the input is not modified");
        (read(&fwd), read(&inv), read(&back))
    }

    #[test]
    fn the_gpu_wavelets_match_wavelet2() {
        let ctx = Rc::new(native_context());
        let mut worst: f64 = 0.0;
        for wavelet in Wavelet::ALL {
            for n in [64usize, 128, 256] {
                if wavelet == Wavelet::Db2 && n > 64 {
                    continue;
                }
                // The lab's level counts: max_levels (at least 1), FIRENET's 3, and at 64 the
                // deepest transform, whose filters wrap around the small blocks.
                let mut levels = vec![max_levels(n, wavelet).max(1), 3];
                if n == 64 {
                    levels.push(n.trailing_zeros() as usize);
                }
                levels.sort_unstable();
                levels.dedup();
                for j in levels {
                    let cpu = Wavelet2::new(wavelet, n, j).unwrap();
                    let gpu = GpuWavelet2::new(&ctx, &cpu).unwrap();
                    assert_eq!((gpu.wavelet(), gpu.n(), gpu.levels()), (wavelet, n, j));
                    let x = random_complex(n * n, j as u64 + n as u64);
                    let (fwd, inv, back) = transforms(&ctx, &gpu, &x);
                    let mut expected = vec![Complex32::default(); n * n];
                    cpu.forward_complex(&x, &mut expected);
                    let e_fwd = relative(&fwd, &expected);
                    cpu.inverse_complex(&x, &mut expected);
                    let e_inv = relative(&inv, &expected);
                    let e_back = relative(&back, &x);
                    eprintln!(
                        "{wavelet} n = {n} J = {j}: forward {e_fwd:.2e}, inverse {e_inv:.2e}, \
                         reconstruction {e_back:.2e}"
                    );
                    assert!(e_fwd <= 1e-5 && e_inv <= 1e-5 && e_back <= 1e-5);
                    worst = worst.max(e_fwd).max(e_inv).max(e_back);
                }
            }
        }
        eprintln!("worst {worst:.2e}");
    }

    #[test]
    fn zero_levels_are_the_identity() {
        let ctx = Rc::new(native_context());
        let gpu = GpuWavelet2::new(&ctx, &Wavelet2::new(Wavelet::Db4, 16, 0).unwrap()).unwrap();
        let x = random_complex(256, 3);
        let (fwd, inv, _) = transforms(&ctx, &gpu, &x);
        assert_eq!((fwd, inv), (x.clone(), x));
    }

    #[test]
    fn gpu_wavelet_sampling_matches_wavelet_sampling() {
        let ctx = Rc::new(native_context());
        for (n, wavelet) in [
            (64, Wavelet::Db4),
            (128, Wavelet::Haar),
            (256, Wavelet::Sym4),
        ] {
            let m = mask(Pattern::VariableDensity, n, 0.25, 9).unwrap();
            let levels = max_levels(n, wavelet).max(1);
            let w = Wavelet2::new(wavelet, n, levels).unwrap();
            let a = SubsampledFourier::new(m.clone()).unwrap();
            let cpu = WaveletSampling::new(&a, &w).unwrap();
            let gpu_a = Rc::new(GpuSampling::new(&ctx, m.clone()).unwrap());
            let gpu =
                GpuWaveletSampling::new(Rc::clone(&gpu_a), GpuWavelet2::new(&ctx, &w).unwrap())
                    .unwrap();
            assert_eq!((gpu.input_len(), gpu.output_len()), (n * n, m.count()));
            let z = random_complex(n * n, 4);
            let mut expected = vec![Complex32::default(); m.count()];
            cpu.apply(&z, &mut expected);
            let e_apply = relative(&run(&ctx, &gpu, &z, false), &expected);
            let y = random_complex(m.count(), 5);
            let mut expected = vec![Complex32::default(); n * n];
            cpu.adjoint(&y, &mut expected);
            let e_adjoint = relative(&run(&ctx, &gpu, &y, true), &expected);
            let gap = gpu_adjoint_gap(&ctx, &gpu, 21);
            eprintln!(
                "{wavelet} n = {n} J = {levels}: B {e_apply:.2e}, B* {e_adjoint:.2e}, adjoint gap \
                 {gap:.2e}"
            );
            assert!(e_apply <= 1e-5 && e_adjoint <= 1e-5 && gap <= 1e-5);
        }
        // Sides must agree.
        let a = Rc::new(
            GpuSampling::new(&ctx, mask(Pattern::VariableDensity, 32, 0.3, 1).unwrap()).unwrap(),
        );
        let w = GpuWavelet2::new(&ctx, &Wavelet2::new(Wavelet::Haar, 64, 2).unwrap()).unwrap();
        assert!(matches!(
            GpuWaveletSampling::new(a, w),
            Err(Error::Input(_))
        ));
    }
}
