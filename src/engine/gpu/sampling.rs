//! `A = P_Ω F` on the GPU, the twin of [`crate::mri::operator::SubsampledFourier`]: the unitary
//! 2-D DFT ([`GpuFourier2`]) followed by keeping the sampled frequencies Ω in row-major order of
//! the grid (the order of [`Mask::indices`]); `A* y = F⁻¹ P_Ωᵀ y` zero-fills and inverse
//! transforms. The gather and the scatter are `shaders/sampling.wgsl`.

use super::fourier::GpuFourier2;
use super::operator::GpuOperator;
use super::{groups_for, GpuContext, Shader};
use crate::mri::sampling::Mask;
use crate::{Error, Result};
use std::rc::Rc;
use wgpu::{Buffer, CommandEncoder};

const SHADER: Shader = crate::gpu_shader!("sampling");

/// `A = P_Ω F` for `N × N` images on the GPU.
pub struct GpuSampling {
    ctx: Rc<GpuContext>,
    fourier: GpuFourier2,
    mask: Mask,
    /// [`Mask::indices`] as `u32`.
    indices: Buffer,
    /// `N²` complex values: the full spectrum.
    scratch: Buffer,
}

impl std::fmt::Debug for GpuSampling {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "GpuSampling({0}×{0}, {1} samples)",
            self.mask.side(),
            self.mask.count()
        )
    }
}

impl GpuSampling {
    /// The operator of `mask`; [`Error::Input`] for an empty mask or a side
    /// [`GpuFourier2::new`] refuses.
    pub fn new(ctx: &Rc<GpuContext>, mask: Mask) -> Result<Self> {
        if mask.count() == 0 {
            return Err(Error::Input("the sampling mask is empty".into()));
        }
        let n = mask.side();
        let fourier = GpuFourier2::new(ctx, n)?;
        Ok(Self {
            ctx: Rc::clone(ctx),
            fourier,
            indices: ctx.upload(mask.indices()),
            scratch: ctx.complex(n * n),
            mask,
        })
    }

    /// The sampling mask `Ω`.
    pub fn mask(&self) -> &Mask {
        &self.mask
    }

    /// The side `N`.
    pub fn side(&self) -> usize {
        self.mask.side()
    }

    /// The Fourier transform it applies.
    pub fn fourier(&self) -> &GpuFourier2 {
        &self.fourier
    }

    /// Records `out = F x`, the full (unsampled) spectrum (`x` is not modified; `out` holds
    /// `N²` values and is not `x`).
    pub fn record_spectrum(&self, encoder: &mut CommandEncoder, x: &Buffer, out: &Buffer) {
        encoder.copy_buffer_to_buffer(x, 0, out, 0, self.bytes());
        self.fourier.record_forward(encoder, out);
    }

    fn bytes(&self) -> u64 {
        (self.input_len() * 8) as u64
    }

    fn groups(&self) -> (u32, u32, u32) {
        (groups_for(self.mask.count(), 64), 1, 1)
    }
}

impl GpuOperator for GpuSampling {
    fn input_len(&self) -> usize {
        self.side() * self.side()
    }

    fn output_len(&self) -> usize {
        self.mask.count()
    }

    /// `out = P_Ω F x`.
    fn record_apply(&self, encoder: &mut CommandEncoder, x: &Buffer, out: &Buffer) {
        encoder.copy_buffer_to_buffer(x, 0, &self.scratch, 0, self.bytes());
        self.fourier.record_forward(encoder, &self.scratch);
        self.ctx.dispatch(
            encoder,
            &SHADER,
            "gather",
            &[&self.scratch, &self.indices, out],
            self.groups(),
        );
    }

    /// `out = F⁻¹ P_Ωᵀ y` (zero-filled).
    fn record_adjoint(&self, encoder: &mut CommandEncoder, y: &Buffer, out: &Buffer) {
        encoder.clear_buffer(&self.scratch, 0, None);
        self.ctx.dispatch(
            encoder,
            &SHADER,
            "scatter",
            &[y, &self.indices, &self.scratch],
            self.groups(),
        );
        self.fourier.record_inverse(encoder, &self.scratch);
        encoder.copy_buffer_to_buffer(&self.scratch, 0, out, 0, self.bytes());
    }
}

#[cfg(all(test, not(target_arch = "wasm32")))]
pub(crate) mod tests {
    use super::*;
    use crate::engine::gpu::{block_on, native_context};
    use crate::mri::operator::{
        distance, inner_re, norm, random_complex, LinearOperator, SubsampledFourier,
    };
    use crate::mri::sampling::{mask, Pattern};
    use rustfft::num_complex::Complex32;

    /// `‖gpu − cpu‖ / ‖cpu‖`.
    pub(crate) fn relative(gpu: &[Complex32], cpu: &[Complex32]) -> f64 {
        assert_eq!(gpu.len(), cpu.len());
        distance(gpu, cpu) / norm(cpu)
    }

    /// Applies `op` (or its adjoint) to `input` on the GPU and reads the result back.
    pub(crate) fn run(
        ctx: &GpuContext,
        op: &dyn GpuOperator,
        input: &[Complex32],
        adjoint: bool,
    ) -> Vec<Complex32> {
        block_on(crate::engine::gpu::operator::apply_to(
            ctx, op, input, adjoint,
        ))
        .unwrap()
    }

    /// The adjoint gap `|⟨Ax, y⟩ − ⟨x, A*y⟩| / (‖x‖‖y‖)` on the GPU, real and imaginary parts.
    pub(crate) fn gpu_adjoint_gap(ctx: &GpuContext, op: &dyn GpuOperator, seed: u64) -> f64 {
        let x = random_complex(op.input_len(), seed);
        let y = random_complex(op.output_len(), seed + 1);
        let ax = run(ctx, op, &x, false);
        let mut worst: f64 = 0.0;
        for rot in [Complex32::new(1.0, 0.0), Complex32::new(0.0, 1.0)] {
            let yr: Vec<Complex32> = y.iter().map(|v| v * rot).collect();
            let aty = run(ctx, op, &yr, true);
            let gap = (inner_re(&ax, &yr) - inner_re(&x, &aty)).abs() / (norm(&x) * norm(&yr));
            worst = worst.max(gap);
        }
        worst
    }

    #[test]
    fn gpu_sampling_matches_subsampled_fourier() {
        let ctx = Rc::new(native_context());
        for (n, pattern) in [
            (8, Pattern::ALL[0]),
            (64, Pattern::ALL[1]),
            (256, Pattern::ALL[2]),
        ] {
            let m = mask(pattern, n, 0.3, 5).unwrap();
            let cpu = SubsampledFourier::new(m.clone()).unwrap();
            let gpu = GpuSampling::new(&ctx, m.clone()).unwrap();
            assert_eq!(gpu.mask(), &m);
            assert_eq!((gpu.input_len(), gpu.output_len()), (n * n, m.count()));
            let x = random_complex(n * n, 1);
            let mut expected = vec![Complex32::default(); m.count()];
            cpu.apply(&x, &mut expected);
            let e_apply = relative(&run(&ctx, &gpu, &x, false), &expected);
            let y = random_complex(m.count(), 2);
            let mut expected = vec![Complex32::default(); n * n];
            cpu.adjoint(&y, &mut expected);
            let e_adjoint = relative(&run(&ctx, &gpu, &y, true), &expected);
            let spectrum = {
                let xb = ctx.upload_complex(&x);
                let out = ctx.complex(n * n);
                let mut encoder = ctx.encoder();
                gpu.record_spectrum(&mut encoder, &xb, &out);
                ctx.submit(encoder);
                let s = block_on(ctx.read_complex(&out, n * n)).unwrap();
                // x is untouched.
                assert_eq!(block_on(ctx.read_complex(&xb, n * n)).unwrap(), x);
                s
            };
            let e_spectrum = relative(&spectrum, &cpu.spectrum(&x));
            let gap = gpu_adjoint_gap(&ctx, &gpu, 11);
            eprintln!(
                "n = {n} ({}): A {e_apply:.2e}, A* {e_adjoint:.2e}, spectrum {e_spectrum:.2e}, \
                 adjoint gap {gap:.2e}",
                pattern.name()
            );
            assert!(
                e_apply <= 1e-5 && e_adjoint <= 1e-5 && e_spectrum <= 1e-5,
                "n = {n}"
            );
            assert!(gap <= 1e-5, "n = {n}");
        }
    }

    #[test]
    fn an_empty_mask_is_refused() {
        let ctx = Rc::new(native_context());
        let empty = Mask::from_grid(8, vec![false; 64]).unwrap();
        assert!(matches!(
            GpuSampling::new(&ctx, empty),
            Err(Error::Input(_))
        ));
        let odd = Mask::from_grid(6, vec![true; 36]).unwrap();
        assert!(matches!(GpuSampling::new(&ctx, odd), Err(Error::Input(_))));
    }
}
