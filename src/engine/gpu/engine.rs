//! The GPU engine ([`GpuEngine`]): the [`Engine`](crate::engine::Engine) seam implemented with the GPU kernels of this
//! module's siblings. Its operators ([`GpuSamplingOp`], [`GpuWaveletOp`]) are the CPU traits'
//! [`LinearOperator`] and [`Sampling`](crate::mri::operator::Sampling) with their GPU twins inside, so that the experiments'
//! code runs unchanged, and FIRENET and the cascade, handed those operators, run entirely on
//! the GPU.
//!
//! Natively (tests, benchmarks, the `lab` binary) every call waits for the GPU with
//! [`super::block_on`]; in the browser the worker awaits the same kernels' futures.

#[cfg(not(target_arch = "wasm32"))]
use super::operator::GpuOperator;
#[cfg(not(target_arch = "wasm32"))]
use super::sampling::GpuSampling;
#[cfg(not(target_arch = "wasm32"))]
use super::wavelet::GpuWaveletSampling;
use super::GpuContext;
#[cfg(not(target_arch = "wasm32"))]
use crate::mri::operator::LinearOperator;
#[cfg(not(target_arch = "wasm32"))]
use crate::Error;
use crate::Result;
use std::rc::Rc;

/// The GPU engine: one adapter's device (see [`crate::engine`] for the contract).
#[derive(Clone, Debug)]
pub struct GpuEngine {
    ctx: Rc<GpuContext>,
}

impl GpuEngine {
    /// The engine on a device.
    pub fn new(ctx: GpuContext) -> Self {
        Self { ctx: Rc::new(ctx) }
    }

    /// Asks for an adapter: `Ok(None)` without one (a browser without WebGPU, a machine
    /// without a Vulkan driver).
    pub async fn request() -> Result<Option<Self>> {
        Ok(GpuContext::request().await?.map(Self::new))
    }

    /// The device.
    pub fn context(&self) -> &Rc<GpuContext> {
        &self.ctx
    }

    /// The adapter's name, for the engine badge and the reports.
    pub fn adapter(&self) -> &str {
        self.ctx.adapter()
    }
}

/// A GPU operator as the CPU traits see it ([`LinearOperator`], and [`Sampling`](crate::mri::operator::Sampling) for `A`): the
/// engine's [`GpuSamplingOp`] and [`GpuWaveletOp`].
#[cfg(not(target_arch = "wasm32"))]
#[derive(Debug)]
pub struct GpuOp<T> {
    ctx: Rc<GpuContext>,
    gpu: T,
}

/// `A = P_Ω F` on the GPU, as the CPU traits see it.
#[cfg(not(target_arch = "wasm32"))]
pub type GpuSamplingOp = GpuOp<Rc<GpuSampling>>;

/// `B = A W⁻¹` on the GPU, as the CPU traits see it.
#[cfg(not(target_arch = "wasm32"))]
pub type GpuWaveletOp = GpuOp<GpuWaveletSampling>;

#[cfg(not(target_arch = "wasm32"))]
impl<T> GpuOp<T> {
    /// The GPU twin.
    pub fn gpu(&self) -> &T {
        &self.gpu
    }
}

#[cfg(not(target_arch = "wasm32"))]
/// The GPU twin of an operator this engine built (an error for another engine's).
pub fn gpu_operator(op: &dyn LinearOperator) -> Result<&dyn GpuOperator> {
    let any = op.as_any();
    if let Some(b) = any.and_then(|a| a.downcast_ref::<GpuWaveletOp>()) {
        return Ok(&b.gpu);
    }
    if let Some(a) = any.and_then(|a| a.downcast_ref::<GpuSamplingOp>()) {
        return Ok(&*a.gpu);
    }
    Err(Error::Input(
        "an operator built by another engine was handed to the GPU engine".into(),
    ))
}

#[cfg(not(target_arch = "wasm32"))]
mod native {
    use super::*;
    use crate::engine::gpu::block_on;
    use crate::engine::gpu::cascade::GpuCascade;
    use crate::engine::gpu::firenet::{firenet_vjp, GpuFirenetRun};
    use crate::engine::gpu::operator::apply_to;
    use crate::engine::gpu::wavelet::GpuWavelet2;
    use crate::engine::{Engine, FirenetInput, FirenetSteps};
    use crate::mri::firenet::FirenetVjp;
    use crate::mri::learned::cascade::CascadeShape;
    use crate::mri::operator::Sampling;
    use crate::mri::reconstructor::Reconstructor;
    use crate::mri::sampling::Mask;
    use crate::mri::wavelet::Wavelet2;
    use rustfft::num_complex::Complex32;
    use std::cell::OnceCell;

    /// A GPU result the CPU traits wait for: their `apply` cannot fail, so a lost device here
    /// panics with its message (natively only: tests and benchmarks).
    fn wait<T>(result: Result<T>) -> T {
        result.unwrap_or_else(|e| panic!("the GPU engine failed: {e}"))
    }

    impl<T: GpuOperator + 'static> LinearOperator for GpuOp<T> {
        fn input_len(&self) -> usize {
            self.gpu.input_len()
        }
        fn output_len(&self) -> usize {
            self.gpu.output_len()
        }
        fn apply(&self, x: &[Complex32], out: &mut [Complex32]) {
            out.copy_from_slice(&wait(block_on(apply_to(&self.ctx, &self.gpu, x, false))));
        }
        fn adjoint(&self, y: &[Complex32], out: &mut [Complex32]) {
            out.copy_from_slice(&wait(block_on(apply_to(&self.ctx, &self.gpu, y, true))));
        }
        fn as_any(&self) -> Option<&dyn std::any::Any> {
            Some(self)
        }
    }

    impl Sampling for GpuSamplingOp {
        fn mask(&self) -> &Mask {
            self.gpu.mask()
        }
        fn spectrum(&self, x: &[Complex32]) -> Vec<Complex32> {
            let input = self.ctx.upload_complex(x);
            let out = self.ctx.complex(x.len());
            let mut encoder = self.ctx.encoder();
            self.gpu.record_spectrum(&mut encoder, &input, &out);
            self.ctx.submit(encoder);
            wait(block_on(self.ctx.read_complex(&out, x.len())))
        }
    }

    /// A FIRENET run on the GPU behind [`FirenetSteps`]. `ψ` after the last block: the last
    /// layer's estimate when the layers were read back, else read from the GPU when asked for.
    struct Steps<'a> {
        run: GpuFirenetRun<'a>,
        psi: OnceCell<Vec<Complex32>>,
    }

    impl FirenetSteps for Steps<'_> {
        fn blocks_done(&self) -> usize {
            self.run.blocks_done()
        }

        fn next_block(
            &mut self,
            each_layer: &mut dyn FnMut(usize, &[Complex32]) -> bool,
        ) -> Result<bool> {
            let mut last = Vec::new();
            let more = block_on(self.run.next_block(Some(&mut |k, estimate: &[Complex32]| {
                last.clear();
                last.extend_from_slice(estimate);
                each_layer(k, estimate)
            })))?;
            self.psi = OnceCell::from(last);
            Ok(more)
        }

        fn next_block_quiet(&mut self) -> Result<bool> {
            let more = block_on(self.run.next_block(None))?;
            self.psi = OnceCell::new();
            Ok(more)
        }

        fn psi(&self) -> &[Complex32] {
            self.psi.get_or_init(|| wait(block_on(self.run.psi())))
        }

        fn finish(self: Box<Self>) -> Vec<Complex32> {
            self.psi();
            self.psi.into_inner().unwrap_or_default()
        }
    }

    impl GpuEngine {
        /// Natively, the first Vulkan adapter's engine (lavapipe where there is no GPU);
        /// panics with the fix when there is none (see [`crate::engine::gpu::native_context`]).
        pub fn native() -> Self {
            Self::new(crate::engine::gpu::native_context())
        }
    }

    impl Engine for GpuEngine {
        fn name(&self) -> &'static str {
            "gpu"
        }

        fn sampling(&self, mask: Mask) -> Result<Box<dyn Sampling>> {
            Ok(Box::new(GpuSamplingOp {
                ctx: Rc::clone(&self.ctx),
                gpu: Rc::new(GpuSampling::new(&self.ctx, mask)?),
            }))
        }

        fn wavelet_sampling<'a>(
            &self,
            a: &'a dyn Sampling,
            wavelet: &'a Wavelet2,
        ) -> Result<Box<dyn LinearOperator + 'a>> {
            let Some(a) = a.as_any().and_then(|a| a.downcast_ref::<GpuSamplingOp>()) else {
                return Err(Error::Input(
                    "a sampling operator built by another engine was handed to the GPU engine"
                        .into(),
                ));
            };
            if wavelet.n() != a.side() {
                return Err(Error::Input(format!(
                    "wavelet for {0}×{0} images, sampling for {1}×{1}",
                    wavelet.n(),
                    a.side()
                )));
            }
            let w = GpuWavelet2::new(&self.ctx, wavelet)?;
            Ok(Box::new(GpuWaveletOp {
                ctx: Rc::clone(&self.ctx),
                gpu: GpuWaveletSampling::new(Rc::clone(&a.gpu), w)?,
            }))
        }

        fn firenet_start<'a>(
            &self,
            input: FirenetInput<'a>,
            epsilon0: Option<f32>,
        ) -> Result<Box<dyn FirenetSteps + 'a>> {
            let op = gpu_operator(input.op)?;
            let epsilon0 = epsilon0.unwrap_or(crate::mri::operator::norm(input.y) as f32);
            let run = GpuFirenetRun::start(
                &self.ctx,
                op,
                input.firenet,
                input.y,
                input.weights,
                input.initial,
                epsilon0,
            )?;
            Ok(Box::new(Steps {
                run,
                psi: OnceCell::new(),
            }))
        }

        fn firenet_vjp(
            &self,
            input: FirenetInput,
            epsilon0: f32,
            g: &[Complex32],
        ) -> Result<FirenetVjp> {
            let op = gpu_operator(input.op)?;
            block_on(firenet_vjp(
                &self.ctx,
                op,
                input.firenet,
                input.y,
                input.weights,
                input.initial,
                epsilon0,
                g,
            ))
        }

        fn cascade(
            &self,
            name: &str,
            shape: CascadeShape,
            weights: &[u8],
            mask: &Mask,
        ) -> Result<Box<dyn Reconstructor>> {
            Ok(Box::new(GpuCascade::from_safetensors(
                &self.ctx, name, shape, weights, mask,
            )?))
        }
    }
}
