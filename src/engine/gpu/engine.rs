//! The GPU engine ([`GpuEngine`]): the [`Engine`] seam implemented with the GPU kernels of
//! this module's siblings. Its operators ([`GpuSamplingOp`], [`GpuWaveletOp`]) are the CPU
//! traits' [`LinearOperator`] and [`Sampling`] with their GPU twins inside, so that the
//! experiments' code runs unchanged, and FIRENET and the cascade, handed those operators, run
//! entirely on the GPU.
//!
//! Every computation has an asynchronous face (`…_async`, [`crate::engine::Pending`]): the
//! browser's worker awaits those. The synchronous faces wait for the GPU natively (tests,
//! benchmarks, the `lab` binary); in the browser, which cannot wait, they answer with an error
//! ([`crate::engine::wait`]) — except the operators' own `apply` and `adjoint`, which the
//! experiments call synchronously on the CPU side of a job (measuring `x + r`, `A*` of a
//! gradient): in the browser those run on a CPU twin of the operator.

use super::firenet::{firenet_vjp, GpuFirenetRun};
#[cfg(not(target_arch = "wasm32"))]
use super::operator::apply_to;
use super::operator::GpuOperator;
use super::sampling::GpuSampling;
use super::wavelet::{GpuWavelet2, GpuWaveletSampling};
use super::{cascade::GpuCascade, GpuContext};
use crate::engine::{wait, EachLayer, Engine, FirenetInput, FirenetSteps, Pending};
use crate::mri::firenet::FirenetVjp;
use crate::mri::learned::cascade::CascadeShape;
use crate::mri::operator::{LinearOperator, Sampling, SubsampledFourier, WaveletSampling};
use crate::mri::reconstructor::Reconstructor;
use crate::mri::sampling::Mask;
use crate::mri::wavelet::Wavelet2;
use crate::{Error, Result};
use rustfft::num_complex::Complex32;
use std::cell::OnceCell;
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

/// A GPU operator as the CPU traits see it ([`LinearOperator`], and [`Sampling`] for `A`): the
/// engine's [`GpuSamplingOp`] and [`GpuWaveletOp`], with a CPU twin `C` for the browser's
/// synchronous applies (see the module docs).
#[derive(Debug)]
pub struct GpuOp<T, C> {
    #[cfg_attr(target_arch = "wasm32", allow(dead_code))]
    ctx: Rc<GpuContext>,
    gpu: T,
    cpu: C,
}

/// `A = P_Ω F` on the GPU, as the CPU traits see it.
pub type GpuSamplingOp = GpuOp<Rc<GpuSampling>, Rc<SubsampledFourier>>;

/// `B = A W⁻¹` on the GPU, as the CPU traits see it.
pub type GpuWaveletOp = GpuOp<GpuWaveletSampling, WaveletTwin>;

/// The CPU twin of `B = A W⁻¹`: owns what [`WaveletSampling`] borrows.
#[derive(Debug)]
pub struct WaveletTwin {
    a: Rc<SubsampledFourier>,
    wavelet: Wavelet2,
}

impl WaveletTwin {
    fn with<R>(&self, f: impl FnOnce(&WaveletSampling) -> R) -> R {
        // The sides were checked when the engine built the operator.
        let b = WaveletSampling::new(&*self.a, &self.wavelet)
            .unwrap_or_else(|e| unreachable!("checked sides: {e}"));
        f(&b)
    }
}

impl<T, C> GpuOp<T, C> {
    /// The GPU twin.
    pub fn gpu(&self) -> &T {
        &self.gpu
    }
}

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

/// A GPU result the CPU traits wait for: their `apply` cannot fail, so a lost device here
/// panics with its message (natively only: tests and benchmarks).
#[cfg(not(target_arch = "wasm32"))]
fn expect_gpu<T>(result: Result<T>) -> T {
    result.unwrap_or_else(|e| panic!("the GPU engine failed: {e}"))
}

/// Where the synchronous applies of a [`GpuOp`] run: natively on the GPU, in the browser on its
/// CPU twin.
#[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
trait Twin {
    fn twin(&self) -> &dyn LinearOperator;
}

impl Twin for Rc<SubsampledFourier> {
    fn twin(&self) -> &dyn LinearOperator {
        &**self
    }
}

impl LinearOperator for WaveletTwin {
    fn input_len(&self) -> usize {
        self.a.input_len()
    }
    fn output_len(&self) -> usize {
        self.a.output_len()
    }
    fn apply(&self, x: &[Complex32], out: &mut [Complex32]) {
        self.with(|b| b.apply(x, out))
    }
    fn adjoint(&self, y: &[Complex32], out: &mut [Complex32]) {
        self.with(|b| b.adjoint(y, out))
    }
}

impl Twin for WaveletTwin {
    fn twin(&self) -> &dyn LinearOperator {
        self
    }
}

impl<T: GpuOperator + 'static, C: Twin + std::fmt::Debug + 'static> LinearOperator for GpuOp<T, C> {
    fn input_len(&self) -> usize {
        self.gpu.input_len()
    }
    fn output_len(&self) -> usize {
        self.gpu.output_len()
    }
    fn apply(&self, x: &[Complex32], out: &mut [Complex32]) {
        #[cfg(not(target_arch = "wasm32"))]
        out.copy_from_slice(&expect_gpu(wait(apply_to(&self.ctx, &self.gpu, x, false))));
        #[cfg(target_arch = "wasm32")]
        self.cpu.twin().apply(x, out);
    }
    fn adjoint(&self, y: &[Complex32], out: &mut [Complex32]) {
        #[cfg(not(target_arch = "wasm32"))]
        out.copy_from_slice(&expect_gpu(wait(apply_to(&self.ctx, &self.gpu, y, true))));
        #[cfg(target_arch = "wasm32")]
        self.cpu.twin().adjoint(y, out);
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
        #[cfg(target_arch = "wasm32")]
        {
            self.cpu.spectrum(x)
        }
        #[cfg(not(target_arch = "wasm32"))]
        {
            let input = self.ctx.upload_complex(x);
            let out = self.ctx.complex(x.len());
            let mut encoder = self.ctx.encoder();
            self.gpu.record_spectrum(&mut encoder, &input, &out);
            self.ctx.submit(encoder);
            expect_gpu(wait(self.ctx.read_complex(&out, x.len())))
        }
    }
}

/// A FIRENET run on the GPU behind [`FirenetSteps`]. `ψ` after the last block: the last
/// layer's estimate when the layers were read back, else read from the GPU when asked for
/// ([`FirenetSteps::settle`] in the browser).
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
        wait(self.next_block_async(Some(each_layer)))
    }

    fn next_block_quiet(&mut self) -> Result<bool> {
        wait(self.next_block_async(None))
    }

    fn next_block_async<'s>(&'s mut self, each_layer: Option<EachLayer<'s>>) -> Pending<'s, bool> {
        Box::pin(async move {
            let Some(each_layer) = each_layer else {
                let more = self.run.next_block(None).await?;
                self.psi = OnceCell::new();
                return Ok(more);
            };
            let mut last = Vec::new();
            let more = self
                .run
                .next_block(Some(&mut |k, estimate: &[Complex32]| {
                    last.clear();
                    last.extend_from_slice(estimate);
                    each_layer(k, estimate)
                }))
                .await?;
            self.psi = OnceCell::from(last);
            Ok(more)
        })
    }

    fn settle(&mut self) -> Pending<'_, ()> {
        Box::pin(async move {
            if self.psi.get().is_none() {
                let psi = self.run.psi().await?;
                self.psi = OnceCell::from(psi);
            }
            Ok(())
        })
    }

    fn psi(&self) -> &[Complex32] {
        self.psi.get_or_init(|| {
            wait(self.run.psi()).unwrap_or_else(|e| panic!("the GPU engine failed: {e}"))
        })
    }

    fn finish(self: Box<Self>) -> Vec<Complex32> {
        self.psi();
        self.psi.into_inner().unwrap_or_default()
    }
}

#[cfg(not(target_arch = "wasm32"))]
impl GpuEngine {
    /// Natively, the first Vulkan adapter's engine (lavapipe where there is no GPU); panics
    /// with the fix when there is none (see [`crate::engine::gpu::native_context`]).
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
            gpu: Rc::new(GpuSampling::new(&self.ctx, mask.clone())?),
            cpu: Rc::new(SubsampledFourier::new(mask)?),
        }))
    }

    fn wavelet_sampling<'a>(
        &self,
        a: &'a dyn Sampling,
        wavelet: &'a Wavelet2,
    ) -> Result<Box<dyn LinearOperator + 'a>> {
        let Some(a) = a.as_any().and_then(|a| a.downcast_ref::<GpuSamplingOp>()) else {
            return Err(Error::Input(
                "a sampling operator built by another engine was handed to the GPU engine".into(),
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
            cpu: WaveletTwin {
                a: Rc::clone(&a.cpu),
                wavelet: wavelet.clone(),
            },
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
        wait(self.firenet_vjp_async(input, epsilon0, g))
    }

    fn firenet_vjp_async<'a>(
        &'a self,
        input: FirenetInput<'a>,
        epsilon0: f32,
        g: &'a [Complex32],
    ) -> Pending<'a, FirenetVjp> {
        Box::pin(async move {
            let op = gpu_operator(input.op)?;
            firenet_vjp(
                &self.ctx,
                op,
                input.firenet,
                input.y,
                input.weights,
                input.initial,
                epsilon0,
                g,
            )
            .await
        })
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
