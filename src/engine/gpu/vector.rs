//! Element-wise operations and reductions on complex GPU vectors (`shaders/vector.wgsl`): the
//! glue between the engine's kernels.
//!
//! Reductions run in two passes: `dot` leaves one partial sum per workgroup of 256 entries,
//! `sum_into` adds them (one workgroup) into a slot of a small `f32` buffer, where later kernels
//! read the scalar without a round trip to the CPU.

use super::{groups_for, GpuContext, Shader};
use wgpu::{Buffer, CommandEncoder};

pub(crate) const VECTOR: Shader = crate::gpu_shader!("vector", "reduce");

/// Workgroup size of the element-wise kernels and of the first reduction pass.
pub const GROUP: usize = 256;

/// The uniform of `vector.wgsl`'s kernels.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, bytemuck::Pod, bytemuck::Zeroable)]
struct Span {
    factor: f32,
    n: u32,
    slot: u32,
    _pad: u32,
}

/// Partial sums a reduction over `n` entries needs (the length of its `partial` buffer).
pub fn partials(n: usize) -> usize {
    n.div_ceil(GROUP).max(1)
}

/// Records `y ← y + factor·x` on the first `n` entries.
pub fn record_axpy(
    ctx: &GpuContext,
    encoder: &mut CommandEncoder,
    x: &Buffer,
    y: &Buffer,
    n: usize,
    factor: f32,
) {
    let span = ctx.uniform(&Span {
        factor,
        n: n as u32,
        ..Span::default()
    });
    ctx.dispatch(
        encoder,
        &VECTOR,
        "axpy",
        &[x, y, &span],
        (groups_for(n, GROUP), 1, 1),
    );
}

/// Records `out[slot] = Re⟨a, b⟩ = Σ Re(a_i b̄_i)` over the first `n` entries, using `partial`
/// (at least [`partials`]`(n)` floats) as scratch.
#[allow(clippy::too_many_arguments)]
pub fn record_dot(
    ctx: &GpuContext,
    encoder: &mut CommandEncoder,
    a: &Buffer,
    b: &Buffer,
    n: usize,
    partial: &Buffer,
    out: &Buffer,
    slot: usize,
) {
    let span = ctx.uniform(&Span {
        n: n as u32,
        ..Span::default()
    });
    ctx.dispatch(
        encoder,
        &VECTOR,
        "dot_partial",
        &[a, b, partial, &span],
        (groups_for(n, GROUP), 1, 1),
    );
    record_sum(ctx, encoder, partial, partials(n), out, slot);
}

/// Records `out[slot] = Σ partial[0..count]` (the second pass of a reduction).
pub fn record_sum(
    ctx: &GpuContext,
    encoder: &mut CommandEncoder,
    partial: &Buffer,
    count: usize,
    out: &Buffer,
    slot: usize,
) {
    let sum = ctx.uniform(&Span {
        n: count as u32,
        slot: slot as u32,
        ..Span::default()
    });
    ctx.dispatch(
        encoder,
        &VECTOR,
        "sum_into",
        &[partial, out, &sum],
        (1, 1, 1),
    );
}

/// Records `x ← factor·x` on the whole of `x` (`n` complex entries).
pub fn record_scale(
    ctx: &GpuContext,
    encoder: &mut CommandEncoder,
    x: &Buffer,
    n: usize,
    factor: f32,
) {
    let params = ctx.uniform(&[factor, 0.0, 0.0, 0.0]);
    ctx.dispatch(
        encoder,
        &VECTOR,
        "scale",
        &[x, &params],
        (groups_for(n, 64), 1, 1),
    );
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;
    use crate::engine::gpu::{block_on, native_context};
    use crate::mri::operator::{inner_re, random_complex};

    #[test]
    fn dot_and_axpy_match_the_cpu() {
        let gpu = native_context();
        for n in [1, 255, 256, 257, 5000, 65536] {
            let (a, b) = (random_complex(n, 1), random_complex(n, 2));
            let (ga, gb) = (gpu.upload_complex(&a), gpu.upload_complex(&b));
            let partial = gpu.storage(partials(n) * 4);
            let out = gpu.storage(3 * 4);
            let mut encoder = gpu.encoder();
            record_dot(&gpu, &mut encoder, &ga, &gb, n, &partial, &out, 2);
            record_axpy(&gpu, &mut encoder, &ga, &gb, n, -0.5);
            gpu.submit(encoder);
            let dot = block_on(gpu.read_f32(&out, 3)).unwrap()[2] as f64;
            let want = inner_re(&a, &b);
            assert!(
                (dot - want).abs() <= 1e-5 * want.abs().max(1.0),
                "n = {n}: {dot} vs {want}"
            );
            let y = block_on(gpu.read_complex(&gb, n)).unwrap();
            for i in 0..n {
                assert!((y[i] - (b[i] - a[i] * 0.5)).norm() < 1e-6);
            }
        }
    }
}
