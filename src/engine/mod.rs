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
//! # Choosing one
//!
//! The web worker holds one engine and hands it to its jobs (`web::worker::engine`, the CPU
//! engine): this trait is synchronous and a browser's GPU read-back is not, so in the browser
//! only the MRI page's FIRENET runs on the GPU, driving the asynchronous
//! [`gpu::firenet::GpuFirenetRun`] itself (`web::worker::placement` picks the GPU or the CPU and
//! falls back when the GPU fails); the core's entry points take `&dyn Engine`; the native `lab`
//! binary and the tests pass `&CpuEngine`, or `GpuEngine::native()` (`lab bench-engine`,
//! `tests/engine.rs`). Operators, FIRENET runs and networks of different engines are not mixed:
//! build everything of one experiment with one engine (the GPU engine refuses another's
//! operators with an error).

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
use rustfft::num_complex::Complex32;

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

    /// The vector–Jacobian product of `(y, ψ₀, ε₀) ↦ ψ_n` at `input` and `ε₀`, as
    /// [`Firenet::vjp_with_epsilon`].
    fn firenet_vjp(
        &self,
        input: FirenetInput,
        epsilon0: f32,
        g: &[Complex32],
    ) -> Result<FirenetVjp>;

    /// The gradient in `y` of `Re⟨ψ_n(y), g⟩` from `ψ₀ = 0` (`input.initial` is not read) with
    /// `ε₀ = ‖y‖₂` (through the restart scales too), as [`Firenet::vjp`].
    fn firenet_vjp_y(&self, input: FirenetInput, g: &[Complex32]) -> Result<Vec<Complex32>> {
        let y_norm = norm(input.y);
        let cold = FirenetInput {
            initial: None,
            ..input
        };
        let v = self.firenet_vjp(cold, y_norm as f32, g)?;
        Ok(through_norm(v, input.y, y_norm).0)
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
