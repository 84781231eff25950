//! The compute-engine seam of the MRI half: everything the MRI experiments compute in bulk
//! (the measurement operators, FIRENET's layers, the deep cascade and the gradients through
//! them) is asked of an [`Engine`], never of the CPU code directly, so that another engine
//! ([`gpu::GpuEngine`]: wgpu and WGSL shaders) can take over the same experiments.
//!
//! # The contract
//!
//! An engine computes, in the layouts of docs/mri-conventions.md (square `N × N` images in
//! row-major order, index `y·N + x`; complex values as [`Complex32`]; the unitary, unshifted
//! 2-D DFT; measurement vectors `y` holding the sampled frequencies in row-major order of the
//! grid, `m = |Ω|` entries; wavelet coefficients in the Mallat layout of [`Wavelet2`]):
//!
//! - [`Engine::sampling`]: `A = P_Ω F` and `A* = F⁻¹ P_Ωᵀ` of a mask (a [`Sampling`]);
//! - [`Engine::wavelet_sampling`]: `B = A W⁻¹` and `B* = W A*` on wavelet coefficients;
//! - FIRENET ([`Firenet`]): its restarted blocks started with [`Engine::firenet_start`] and
//!   advanced block by block ([`FirenetSteps`]: the estimate after every layer, for progress and
//!   the layer view), run to the end ([`Engine::firenet_run`]), and its vector–Jacobian product
//!   in `(y, ψ₀, ε₀)` ([`Engine::firenet_vjp`], [`Engine::firenet_vjp_y`]);
//! - [`Engine::cascade`]: the trained deep cascade of a model card with its weights and a mask,
//!   as a [`Reconstructor`]: its forward pass `Ψ(y)` and its vector–Jacobian product `J_Ψ(y)* g`.
//!
//! Accuracy: the CPU engine ([`cpu::CpuEngine`]) is the reference, and every shipped report and
//! test was computed with it; it must stay bit for bit what the lab computed before the seam.
//! Another engine computes the same maps in `f32`: the adjoint identity
//! `⟨Ax, y⟩ = ⟨x, A*y⟩` to a relative `1e-5`, and results within single-precision rounding of
//! the CPU engine's (it may sum in another order, so not bit for bit); the generic suite in
//! `tests/engine.rs` runs against every engine and states the tolerances.
//!
//! # Synchronous and asynchronous faces
//!
//! A browser's GPU answers through its event loop: the worker cannot wait for it. So every
//! computation an engine may run on the GPU has an asynchronous face returning a [`Pending`]
//! answer ([`Engine::firenet_psi_async`], [`Engine::firenet_vjp_async`],
//! [`FirenetSteps::next_block_async`], [`Reconstructor::reconstruct_async`] and
//! [`Reconstructor::vjp_async`]), and the experiments built on them have one too
//! (`InstabilityTest::probe_async`, `FixedNormSearch::step_async`, `WarmStart::refine_async`,
//! `AtRate::reconstruct_async`, `Sweep::step_async`). Each is written once, asynchronously; its
//! synchronous face is [`wait`] on it: natively that waits (the GPU engine's read-backs poll the
//! device), in the browser the CPU engine's answers are ready at once and a GPU computation is an
//! error naming the asynchronous face. The CPU engine's asynchronous faces are its synchronous
//! code, answered at once.
//!
//! # Choosing one
//!
//! The core's entry points take `&dyn Engine`. The web worker runs each MRI job through
//! `web::worker::on_engine`: on the GPU engine where the browser has a WebGPU adapter and the
//! page's `?engine=` allows it (`web::worker::placement`), awaiting the asynchronous faces, and
//! again on the CPU engine if the GPU fails (the rest of the session then stays on the CPU).
//! The native `lab` binary and the tests pass `&CpuEngine`, or `GpuEngine::native()`
//! (`lab bench-engine`, `tests/engine.rs`). Operators, FIRENET runs and networks of different
//! engines are not mixed: build everything of one experiment with one engine (the GPU engine
//! refuses another's operators with an error).

pub mod bench;
pub mod cpu;
pub mod gpu;

pub use cpu::CpuEngine;

use crate::mri::firenet::{through_norm, Firenet, FirenetVjp};
use crate::mri::learned::cascade::CascadeShape;
use crate::mri::operator::{norm, LinearOperator, Sampling};
use crate::mri::reconstructor::Reconstructor;
use crate::mri::sampling::Mask;
use crate::mri::wavelet::Wavelet2;
use crate::Result;
use futures::future::LocalBoxFuture;
use rustfft::num_complex::Complex32;
use std::future::Future;

/// An engine's answer that may come later: a browser's GPU reads back through the event loop,
/// so every computation a GPU engine may run has an asynchronous face (`…_async`); the CPU's
/// answers are ready at once.
pub type Pending<'a, T> = LocalBoxFuture<'a, Result<T>>;

/// An answer already computed, as a [`Pending`] one (the asynchronous faces' default).
pub fn ready<'a, T: 'a>(result: Result<T>) -> Pending<'a, T> {
    Box::pin(std::future::ready(result))
}

/// The synchronous face of an engine's asynchronous computation: natively it waits until the
/// answer is there (the GPU engine's read-backs poll the device); in the browser the answer must
/// be ready at once (the CPU engine's are), and a GPU computation, which the browser cannot wait
/// for, is an error that names the asynchronous entry point to use instead.
pub fn wait<T>(future: impl Future<Output = Result<T>>) -> Result<T> {
    #[cfg(not(target_arch = "wasm32"))]
    {
        pollster::block_on(future)
    }
    #[cfg(target_arch = "wasm32")]
    {
        use futures::FutureExt;
        future.now_or_never().unwrap_or_else(|| {
            Err(crate::Error::Gpu(
                "the browser's GPU answers asynchronously: call the `…_async` entry point".into(),
            ))
        })
    }
}

/// What a FIRENET run reads: its settings, `op = B`, the data `y`, per-coefficient weights and
/// an optional initial guess `ψ₀` (wavelet coefficients).
#[derive(Clone, Copy)]
pub struct FirenetInput<'a> {
    pub firenet: &'a Firenet,
    pub op: &'a dyn LinearOperator,
    pub y: &'a [Complex32],
    pub weights: &'a [f32],
    pub initial: Option<&'a [Complex32]>,
}

/// What sees FIRENET's estimate after each layer `k` (wavelet coefficients); returning `false`
/// cancels the run.
pub type EachLayer<'c> = &'c mut dyn FnMut(usize, &[Complex32]) -> bool;

/// A FIRENET run in progress on an engine (see [`Engine::firenet_start`]).
pub trait FirenetSteps {
    /// Blocks completed.
    fn blocks_done(&self) -> usize;
    /// Runs the next block of `p` layers, calling `each_layer(k, ψ)` with the estimate after
    /// each layer `k` (wavelet coefficients); returning `false` from it cancels the run
    /// ([`crate::Error::Cancelled`]). Returns whether blocks remain.
    fn next_block(
        &mut self,
        each_layer: &mut dyn FnMut(usize, &[Complex32]) -> bool,
    ) -> Result<bool>;
    /// Runs the next block without looking at its layers (an engine may then skip reading
    /// them back). Returns whether blocks remain.
    fn next_block_quiet(&mut self) -> Result<bool> {
        self.next_block(&mut |_, _| true)
    }
    /// [`FirenetSteps::next_block`] (with `Some(each_layer)`) or
    /// [`FirenetSteps::next_block_quiet`] (with `None`), as a [`Pending`] answer (the browser's
    /// GPU engine reads back asynchronously).
    fn next_block_async<'s>(&'s mut self, each_layer: Option<EachLayer<'s>>) -> Pending<'s, bool> {
        ready(match each_layer {
            Some(each_layer) => self.next_block(each_layer),
            None => self.next_block_quiet(),
        })
    }
    /// Makes [`FirenetSteps::psi`] and [`FirenetSteps::finish`] answer without waiting (an
    /// engine that reads `ψ` back lazily reads it here).
    fn settle(&mut self) -> Pending<'_, ()> {
        ready(Ok(()))
    }
    /// The current estimate `ψ` (after the last completed block).
    fn psi(&self) -> &[Complex32];
    /// `ψ_n` (or the estimate after the blocks run so far).
    fn finish(self: Box<Self>) -> Vec<Complex32>;
}

/// A compute engine for the MRI experiments (see the module docs for the contract).
pub trait Engine {
    /// A short name ("cpu", "webgpu").
    fn name(&self) -> &'static str;

    /// `A = P_Ω F` for the mask (an error for an empty mask).
    fn sampling(&self, mask: Mask) -> Result<Box<dyn Sampling>>;

    /// `B = A W⁻¹` on wavelet coefficients, for `A` from this engine's [`Engine::sampling`]
    /// (an error when the sides differ).
    fn wavelet_sampling<'a>(
        &self,
        a: &'a dyn Sampling,
        wavelet: &'a Wavelet2,
    ) -> Result<Box<dyn LinearOperator + 'a>>;

    /// Starts FIRENET on `input` with the restart scheme's `ε₀` (`None`: `‖y‖₂`), as
    /// [`Firenet::start_with_epsilon`]; the caller advances it block by block.
    fn firenet_start<'a>(
        &self,
        input: FirenetInput<'a>,
        epsilon0: Option<f32>,
    ) -> Result<Box<dyn FirenetSteps + 'a>>;

    /// FIRENET to the end (`ε₀ = ‖y‖₂`), as [`Firenet::run`]: `ψ_n`.
    fn firenet_run(
        &self,
        input: FirenetInput,
        each_layer: &mut dyn FnMut(usize, &[Complex32]) -> bool,
    ) -> Result<Vec<Complex32>> {
        let mut run = self.firenet_start(input, None)?;
        while run.next_block(each_layer)? {}
        Ok(run.finish())
    }

    /// FIRENET to the end (`ε₀ = ‖y‖₂`) without looking at its layers: `ψ_n`.
    fn firenet_psi(&self, input: FirenetInput) -> Result<Vec<Complex32>> {
        let mut run = self.firenet_start(input, None)?;
        while run.next_block_quiet()? {}
        Ok(run.finish())
    }

    /// FIRENET to the end without looking at its layers, from `input.initial` with the restart
    /// scheme's `ε₀` (`None`: `‖y‖₂`): `ψ_n`, as a [`Pending`] answer.
    fn firenet_psi_async<'a>(
        &'a self,
        input: FirenetInput<'a>,
        epsilon0: Option<f32>,
    ) -> Pending<'a, Vec<Complex32>> {
        Box::pin(async move {
            let mut run = self.firenet_start(input, epsilon0)?;
            while run.next_block_async(None).await? {}
            run.settle().await?;
            Ok(run.finish())
        })
    }

    /// The vector–Jacobian product of `(y, ψ₀, ε₀) ↦ ψ_n` at `input` and `ε₀`, as
    /// [`Firenet::vjp_with_epsilon`].
    fn firenet_vjp(
        &self,
        input: FirenetInput,
        epsilon0: f32,
        g: &[Complex32],
    ) -> Result<FirenetVjp>;

    /// [`Engine::firenet_vjp`] as a [`Pending`] answer.
    fn firenet_vjp_async<'a>(
        &'a self,
        input: FirenetInput<'a>,
        epsilon0: f32,
        g: &'a [Complex32],
    ) -> Pending<'a, FirenetVjp> {
        ready(self.firenet_vjp(input, epsilon0, g))
    }

    /// The gradient in `y` of `Re⟨ψ_n(y), g⟩` from `ψ₀ = 0` (`input.initial` is not read) with
    /// `ε₀ = ‖y‖₂` (through the restart scales too), as [`Firenet::vjp`].
    fn firenet_vjp_y(&self, input: FirenetInput, g: &[Complex32]) -> Result<Vec<Complex32>> {
        wait(self.firenet_vjp_y_async(input, g))
    }

    /// [`Engine::firenet_vjp_y`] as a [`Pending`] answer.
    fn firenet_vjp_y_async<'a>(
        &'a self,
        input: FirenetInput<'a>,
        g: &'a [Complex32],
    ) -> Pending<'a, Vec<Complex32>> {
        Box::pin(async move {
            let y_norm = norm(input.y);
            let cold = FirenetInput {
                initial: None,
                ..input
            };
            let v = self.firenet_vjp_async(cold, y_norm as f32, g).await?;
            Ok(through_norm(v, input.y, y_norm).0)
        })
    }

    /// The deep cascade `name` of `shape` (a model card's) with its safetensors `weights` and
    /// `mask` in its data-consistency layers (the card's own mask, or another for a sweep), as a
    /// [`Reconstructor`]: forward pass and vector–Jacobian product.
    fn cascade(
        &self,
        name: &str,
        shape: CascadeShape,
        weights: &[u8],
        mask: &Mask,
    ) -> Result<Box<dyn Reconstructor>>;
}
