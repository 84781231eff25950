//! Linear operators on the GPU: the measurement operators of [`crate::mri::operator`] with their
//! inputs and outputs in GPU buffers, so that an algorithm (FIRENET, the cascade's
//! data-consistency layer) chains them without read-backs.

use super::GpuContext;
use crate::Result;
use rustfft::num_complex::Complex32;
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

impl<T: GpuOperator + ?Sized> GpuOperator for std::rc::Rc<T> {
    fn input_len(&self) -> usize {
        (**self).input_len()
    }
    fn output_len(&self) -> usize {
        (**self).output_len()
    }
    fn record_apply(&self, encoder: &mut CommandEncoder, x: &Buffer, out: &Buffer) {
        (**self).record_apply(encoder, x, out)
    }
    fn record_adjoint(&self, encoder: &mut CommandEncoder, y: &Buffer, out: &Buffer) {
        (**self).record_adjoint(encoder, y, out)
    }
    fn norm_bound(&self) -> f32 {
        (**self).norm_bound()
    }
}

/// `A x` (or `A* x` with `adjoint`) of a vector on the CPU: uploaded, applied, read back. The
/// CPU traits' face of a GPU operator and the tests use it; algorithms chain the recorded
/// operators instead.
pub async fn apply_to(
    ctx: &GpuContext,
    op: &dyn GpuOperator,
    x: &[Complex32],
    adjoint: bool,
) -> Result<Vec<Complex32>> {
    let input = ctx.upload_complex(x);
    let len = if adjoint {
        op.input_len()
    } else {
        op.output_len()
    };
    let out = ctx.complex(len);
    let mut encoder = ctx.encoder();
    if adjoint {
        op.record_adjoint(&mut encoder, &input, &out);
    } else {
        op.record_apply(&mut encoder, &input, &out);
    }
    ctx.submit(encoder);
    ctx.read_complex(&out, len).await
}
