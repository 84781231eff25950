//! Linear operators on the GPU: the measurement operators of [`crate::mri::operator`] with their
//! inputs and outputs in GPU buffers, so that an algorithm (FIRENET, the cascade's
//! data-consistency layer) chains them without read-backs.

use wgpu::{Buffer, CommandEncoder};

/// A linear map `ℂⁿ → ℂᵐ` on complex GPU buffers (`array<vec2<f32>>`) with its adjoint; the
/// GPU twin of [`crate::mri::operator::LinearOperator`]. Methods record commands only.
pub trait GpuOperator {
    /// `n`, the length of an input.
    fn input_len(&self) -> usize;
    /// `m`, the length of an output.
    fn output_len(&self) -> usize;
    /// Records `out = A x` (`x` is not modified; `out` is overwritten).
    fn record_apply(&self, encoder: &mut CommandEncoder, x: &Buffer, out: &Buffer);
    /// Records `out = A* y` (`y` is not modified; `out` is overwritten).
    fn record_adjoint(&self, encoder: &mut CommandEncoder, y: &Buffer, out: &Buffer);
    /// An upper bound on the operator norm `‖A‖₂`.
    fn norm_bound(&self) -> f32 {
        1.0
    }
}
