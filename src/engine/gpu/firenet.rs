//! FIRENET on the GPU (`shaders/firenet.wgsl`): the restarted primal–dual layers of
//! [`crate::mri::firenet`] with every vector in GPU buffers, so that a block of `p` layers is
//! one submission and the CPU reads back only what the page shows (the estimate after each
//! layer for the layer slider, or nothing until the end), and the reverse mode through every
//! layer and the restart scales for the instability search.
//!
//! One layer, as on the CPU: `a = z − τB*u`, `z′ = soft_t(a)`, `e = 2z′ − z`,
//! `b = u + σBe − σαy`, `u′ = b/max(1, ‖b‖₂)` (the norm reduced on the GPU and read there by
//! the projection), `sum += z′`, estimate `= sum/(αj)`. The restart scales
//! `ε_k = e⁻¹(δ + ε_{k−1})`, `α_k = 2‖B‖/(ε_k p)` depend only on `ε₀`, so the CPU computes
//! them and passes them as uniforms.

use super::operator::GpuOperator;
use super::vector::{partials, record_axpy, record_dot, GROUP};
use super::{groups_for, GpuContext, Shader};
use crate::engine::EachLayer;
use crate::mri::firenet::{initial_guess, Firenet, FirenetVjp};
use crate::{Error, Result};
use rustfft::num_complex::Complex32;
use std::rc::Rc;
use wgpu::{Buffer, CommandEncoder};

const FIRENET: Shader = crate::gpu_shader!("firenet", "reduce");

/// The uniform of `firenet.wgsl`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, bytemuck::Pod, bytemuck::Zeroable)]
struct Layer {
    tau: f32,
    sigma: f32,
    sigma_alpha: f32,
    scale: f32,
    len: u32,
    m: u32,
    offset: u32,
    slot: u32,
    aux: u32,
    save: u32,
    _pad: [u32; 2],
}

/// `α_k` for `ε_k`, exactly as the CPU's forward pass computes it.
fn alpha_of(epsilon: f32, norm_bound: f32, p: usize) -> f32 {
    let beta = epsilon / (2.0 * norm_bound);
    1.0 / (beta * p as f32)
}

/// The vectors of one run.
struct Vectors {
    y: Buffer,
    thresholds: Buffer,
    z: Buffer,
    z_new: Buffer,
    e: Buffer,
    bt_u: Buffer,
    u: Buffer,
    bz: Buffer,
    sum: Buffer,
    partial: Buffer,
}

impl Vectors {
    fn new(
        ctx: &GpuContext,
        firenet: &Firenet,
        y: &[Complex32],
        weights: &[f32],
        len: usize,
        m: usize,
    ) -> Self {
        let thresholds: Vec<f32> = weights
            .iter()
            .map(|w| firenet.tau * firenet.lambda * w)
            .collect();
        Self {
            y: ctx.upload_complex(y),
            thresholds: ctx.upload(&thresholds),
            z: ctx.complex(len),
            z_new: ctx.complex(len),
            e: ctx.complex(len),
            bt_u: ctx.complex(len),
            u: ctx.complex(m),
            bz: ctx.complex(m),
            sum: ctx.complex(len),
            partial: ctx.storage(partials(m) * 4),
        }
    }
}

/// Where a block keeps what the reverse mode needs (`None`: a plain run).
struct Saved<'b> {
    /// `a_j` of every layer of the run, `layers × len`.
    a: &'b Buffer,
    /// `b_j` of every layer, `layers × m`.
    b: &'b Buffer,
    /// The first layer of this block in the run.
    first: usize,
}

/// Records one block of `p` layers from `psi` (`z₀ = αψ`), leaving the estimate in `estimate`
/// (and in `layers[(j−1)·len …]` when given) and `‖b_j‖²` in `norms[first + j − 1]`.
#[allow(clippy::too_many_arguments)]
fn record_block(
    ctx: &GpuContext,
    encoder: &mut CommandEncoder,
    op: &dyn GpuOperator,
    firenet: &Firenet,
    v: &mut Vectors,
    psi: &Buffer,
    estimate: &Buffer,
    layers: Option<&Buffer>,
    norms: &Buffer,
    saved: Option<Saved>,
    alpha: f32,
) {
    let (len, m, p) = (op.input_len(), op.output_len(), firenet.layers_per_block);
    let (gl, gm) = (groups_for(len, GROUP), groups_for(m, GROUP));
    let first = saved.as_ref().map_or(0, |s| s.first);
    let layer = |j: usize, offset: usize| Layer {
        tau: firenet.tau,
        sigma: firenet.sigma,
        sigma_alpha: firenet.sigma * alpha,
        scale: 1.0 / (alpha * j as f32),
        len: len as u32,
        m: m as u32,
        offset: offset as u32,
        slot: (first + j - 1) as u32,
        ..Layer::default()
    };
    let begin = ctx.uniform(&Layer {
        sigma_alpha: alpha,
        len: len as u32,
        ..Layer::default()
    });
    ctx.dispatch(
        encoder,
        &FIRENET,
        "begin",
        &[psi, &v.z, &v.sum, &begin],
        (gl, 1, 1),
    );
    encoder.clear_buffer(&v.u, 0, None);
    // Where a layer's a, b and estimate go; the placeholder when they are not kept.
    let placeholder = ctx.complex(1);
    let (a_all, b_all) = saved
        .as_ref()
        .map_or((&placeholder, &placeholder), |s| (s.a, s.b));
    let layers_all = layers.unwrap_or(&placeholder);
    let keep = |yes: bool| u32::from(yes);
    for j in 1..=p {
        let at = first + j - 1;
        op.record_adjoint(encoder, &v.u, &v.bt_u);
        let params = ctx.uniform(&Layer {
            save: keep(saved.is_some()),
            ..layer(j, at * len)
        });
        let buffers = [&v.z, &v.bt_u, &v.thresholds, &v.z_new, &v.e, a_all, &params];
        ctx.dispatch(encoder, &FIRENET, "primal", &buffers, (gl, 1, 1));
        op.record_apply(encoder, &v.e, &v.bz);
        let params = ctx.uniform(&Layer {
            save: keep(saved.is_some()),
            ..layer(j, at * m)
        });
        let buffers = [&v.u, &v.bz, &v.y, &v.partial, b_all, &params];
        ctx.dispatch(encoder, &FIRENET, "dual", &buffers, (gm, 1, 1));
        super::vector::record_sum(ctx, encoder, &v.partial, partials(m), norms, at);
        let params = ctx.uniform(&layer(j, 0));
        ctx.dispatch(
            encoder,
            &FIRENET,
            "project",
            &[&v.u, norms, &params],
            (gm, 1, 1),
        );
        std::mem::swap(&mut v.z, &mut v.z_new);
        let params = ctx.uniform(&Layer {
            save: keep(layers.is_some()),
            ..layer(j, (j - 1) * len)
        });
        let buffers = [&v.sum, &v.z, estimate, layers_all, &params];
        ctx.dispatch(encoder, &FIRENET, "average", &buffers, (gl, 1, 1));
    }
}

/// A FIRENET run in progress on the GPU, advanced block by block (the GPU twin of
/// [`crate::mri::firenet::FirenetRun`]).
pub struct GpuFirenetRun<'a> {
    ctx: Rc<GpuContext>,
    op: &'a dyn GpuOperator,
    firenet: Firenet,
    vectors: Vectors,
    psi: Buffer,
    estimate: Buffer,
    norms: Buffer,
    layers: Option<Buffer>,
    epsilon: f32,
    block: usize,
    layer: usize,
}

impl<'a> GpuFirenetRun<'a> {
    /// Starts FIRENET on `op = B` with data `y`, per-coefficient weights, an optional initial
    /// guess `ψ₀` and the restart scheme's `ε₀` (checked as the CPU run checks them).
    pub fn start(
        ctx: &Rc<GpuContext>,
        op: &'a dyn GpuOperator,
        firenet: &Firenet,
        y: &[Complex32],
        weights: &[f32],
        initial: Option<&[Complex32]>,
        epsilon0: f32,
    ) -> Result<Self> {
        let (len, m) = (op.input_len(), op.output_len());
        firenet.check_sizes(len, m, op.norm_bound(), y, weights)?;
        if !(epsilon0.is_finite() && epsilon0 >= 0.0) {
            return Err(Error::Input(format!(
                "ε₀ must be finite and ≥ 0, got {epsilon0}"
            )));
        }
        let psi = ctx.upload_complex(&initial_guess(len, initial)?);
        let estimate = ctx.complex(len);
        Ok(Self {
            ctx: Rc::clone(ctx),
            op,
            firenet: *firenet,
            vectors: Vectors::new(ctx, firenet, y, weights, len, m),
            psi,
            estimate,
            norms: ctx.storage(firenet.layers_per_block * 4),
            layers: None,
            epsilon: epsilon0,
            block: 0,
            layer: 0,
        })
    }

    /// Blocks completed.
    pub fn blocks_done(&self) -> usize {
        self.block
    }

    /// Runs the next block of `p` layers. With `each_layer`, reads back the estimate after
    /// each layer and calls `each_layer(k, ψ)` (returning `false` cancels the run:
    /// [`Error::Cancelled`]); without, reads nothing back. Returns whether blocks remain.
    pub async fn next_block(&mut self, each_layer: Option<EachLayer<'_>>) -> Result<bool> {
        let Firenet {
            blocks,
            layers_per_block: p,
            delta,
            ..
        } = self.firenet;
        if self.block >= blocks {
            return Ok(false);
        }
        self.block += 1;
        self.epsilon = (delta + self.epsilon) / std::f32::consts::E;
        let alpha = alpha_of(self.epsilon, self.op.norm_bound(), p);
        let len = self.op.input_len();
        if !alpha.is_finite() || alpha == 0.0 {
            // ε underflowed or overflowed: ψ stands as it is.
            if let Some(each_layer) = each_layer {
                let psi = self.ctx.read_complex(&self.psi, len).await?;
                for _ in 0..p {
                    self.layer += 1;
                    if !each_layer(self.layer, &psi) {
                        return Err(Error::Cancelled);
                    }
                }
            } else {
                self.layer += p;
            }
            return Ok(self.block < blocks);
        }
        let recording = each_layer.is_some();
        if recording && self.layers.is_none() {
            self.layers = Some(self.ctx.complex(p * len));
        }
        let mut encoder = self.ctx.encoder();
        record_block(
            &self.ctx,
            &mut encoder,
            self.op,
            &self.firenet,
            &mut self.vectors,
            &self.psi,
            &self.estimate,
            self.layers.as_ref().filter(|_| recording),
            &self.norms,
            None,
            alpha,
        );
        encoder.copy_buffer_to_buffer(&self.estimate, 0, &self.psi, 0, None);
        self.ctx.submit(encoder);
        match (each_layer, &self.layers) {
            (Some(each_layer), Some(layers)) => {
                let all = self.ctx.read_complex(layers, p * len).await?;
                for estimate in all.chunks_exact(len) {
                    self.layer += 1;
                    if !each_layer(self.layer, estimate) {
                        return Err(Error::Cancelled);
                    }
                }
            }
            _ => {
                self.layer += p;
                self.ctx.check()?;
            }
        }
        Ok(self.block < blocks)
    }

    /// Reads the current estimate `ψ` back.
    pub async fn psi(&self) -> Result<Vec<Complex32>> {
        self.ctx.read_complex(&self.psi, self.op.input_len()).await
    }
}

/// The vector–Jacobian product of `(y, ψ₀, ε₀) ↦ ψ_n` on the GPU, as
/// [`Firenet::vjp_with_epsilon`]: a forward pass keeping every layer's `a_j` and `b_j` and
/// `‖b_j‖²` in GPU buffers, then the reverse pass layer by layer. The scalars the restart
/// scales need (`Re⟨ψ̄, sum⟩`, `Re⟨Σb̄, y⟩`, `Re⟨z̄₀, ψ_in⟩` per block) are reduced on the GPU
/// and read back once at the end with `ȳ` and `ψ̄₀`.
#[allow(clippy::too_many_arguments)]
pub async fn firenet_vjp(
    ctx: &GpuContext,
    op: &dyn GpuOperator,
    firenet: &Firenet,
    y: &[Complex32],
    weights: &[f32],
    initial: Option<&[Complex32]>,
    epsilon0: f32,
    g: &[Complex32],
) -> Result<FirenetVjp> {
    let (len, m) = (op.input_len(), op.output_len());
    let (nb, p) = (firenet.blocks, firenet.layers_per_block);
    firenet.check_vjp(len, m, op.norm_bound(), y, weights, epsilon0, g)?;
    let mut v = Vectors::new(ctx, firenet, y, weights, len, m);
    let total = nb * p;
    let (a_all, b_all) = (ctx.complex(total * len), ctx.complex(total * m));
    let norms = ctx.storage(total * 4);
    // ψ before each block and the block's Σz′ (`sum`), for the restart scales' gradients.
    let psi_in: Vec<Buffer> = (0..=nb).map(|_| ctx.complex(len)).collect();
    let sums: Vec<Buffer> = (0..nb).map(|_| ctx.complex(len)).collect();
    ctx.write_complex(&psi_in[0], &initial_guess(len, initial)?);
    let mut alphas = Vec::with_capacity(nb);
    let mut epsilons = Vec::with_capacity(nb);
    let mut epsilon = epsilon0;
    let mut encoder = ctx.encoder();
    for k in 0..nb {
        epsilon = (firenet.delta + epsilon) / std::f32::consts::E;
        let alpha = 2.0 * op.norm_bound() / (epsilon * p as f32);
        if !alpha.is_finite() {
            return Err(Error::Input(
                "FIRENET's gradient needs non-zero data (ε underflowed)".into(),
            ));
        }
        alphas.push(alpha);
        epsilons.push(epsilon);
        let saved = Saved {
            a: &a_all,
            b: &b_all,
            first: k * p,
        };
        record_block(
            ctx,
            &mut encoder,
            op,
            firenet,
            &mut v,
            &psi_in[k],
            &psi_in[k + 1],
            None,
            &norms,
            Some(saved),
            alpha,
        );
        encoder.copy_buffer_to_buffer(&v.sum, 0, &sums[k], 0, None);
    }
    ctx.submit(encoder);

    // Reverse.
    let (tau, sigma) = (firenet.tau, firenet.sigma);
    let y_bar = ctx.complex(m);
    let psi_bar = ctx.upload_complex(g);
    let (u_bar, bsum, b_cur, bz) = (
        ctx.complex(m),
        ctx.complex(m),
        ctx.complex(m),
        ctx.complex(m),
    );
    let (s_bar, e_bar, a_bar) = (ctx.complex(len), ctx.complex(len), ctx.complex(len));
    let (mut cur, mut prev) = (ctx.complex(len), ctx.complex(len));
    let partial = ctx.storage(partials(len.max(m)) * 4);
    // Per block: Re⟨ψ̄, sum⟩, Re⟨Σb̄, y⟩, Re⟨z̄₀, ψ_in⟩.
    let scalars = ctx.storage(3 * nb * 4);
    let dots = ctx.storage(4);
    let (gl, gm) = (groups_for(len, GROUP), groups_for(m, GROUP));
    let mut encoder = ctx.encoder();
    for k in (0..nb).rev() {
        let alpha = alphas[k];
        record_dot(
            ctx,
            &mut encoder,
            &psi_bar,
            &sums[k],
            len,
            &partial,
            &scalars,
            3 * k,
        );
        // s̄ = ψ̄/(αp): z̄_p = s̄, z̄_{p−1} = s̄ (or 0 when p = 1).
        encoder.copy_buffer_to_buffer(&psi_bar, 0, &s_bar, 0, None);
        super::vector::record_scale(ctx, &mut encoder, &s_bar, len, 1.0 / (alpha * p as f32));
        encoder.copy_buffer_to_buffer(&s_bar, 0, &cur, 0, None);
        if p > 1 {
            encoder.copy_buffer_to_buffer(&s_bar, 0, &prev, 0, None);
        } else {
            encoder.clear_buffer(&prev, 0, None);
        }
        encoder.clear_buffer(&u_bar, 0, None);
        encoder.clear_buffer(&bsum, 0, None);
        for j in (1..=p).rev() {
            let layer = k * p + j - 1;
            let bytes = |n: usize| (n * 8) as u64;
            encoder.copy_buffer_to_buffer(&b_all, bytes(layer * m), &b_cur, 0, Some(bytes(m)));
            record_dot(ctx, &mut encoder, &b_cur, &u_bar, m, &partial, &dots, 0);
            let params = ctx.uniform(&Layer {
                m: m as u32,
                slot: layer as u32,
                aux: 0,
                ..Layer::default()
            });
            let buffers = [&b_cur, &u_bar, &bsum, &norms, &dots, &params];
            ctx.dispatch(&mut encoder, &FIRENET, "dual_back", &buffers, (gm, 1, 1));
            op.record_adjoint(&mut encoder, &u_bar, &e_bar);
            let params = ctx.uniform(&Layer {
                sigma,
                len: len as u32,
                offset: (layer * len) as u32,
                ..Layer::default()
            });
            let buffers = [&e_bar, &a_all, &v.thresholds, &cur, &prev, &a_bar, &params];
            ctx.dispatch(&mut encoder, &FIRENET, "extrap_back", &buffers, (gl, 1, 1));
            op.record_apply(&mut encoder, &a_bar, &bz);
            record_axpy(ctx, &mut encoder, &bz, &u_bar, m, -tau);
            // z̄_{j−1} becomes the current; the one before starts as s̄ (or 0 for z̄₀).
            std::mem::swap(&mut cur, &mut prev);
            if j >= 2 {
                if j - 2 >= 1 {
                    encoder.copy_buffer_to_buffer(&s_bar, 0, &prev, 0, None);
                } else {
                    encoder.clear_buffer(&prev, 0, None);
                }
            }
        }
        // ȳ −= σα Σb̄; the scalars; ψ̄ = α z̄₀ (z̄₀ is `cur` now).
        record_axpy(ctx, &mut encoder, &bsum, &y_bar, m, -sigma * alpha);
        record_dot(
            ctx,
            &mut encoder,
            &bsum,
            &v.y,
            m,
            &partial,
            &scalars,
            3 * k + 1,
        );
        record_dot(
            ctx,
            &mut encoder,
            &cur,
            &psi_in[k],
            len,
            &partial,
            &scalars,
            3 * k + 2,
        );
        encoder.copy_buffer_to_buffer(&cur, 0, &psi_bar, 0, None);
        super::vector::record_scale(ctx, &mut encoder, &psi_bar, len, alpha);
    }
    ctx.submit(encoder);
    let s = ctx.read_f32(&scalars, 3 * nb).await?;
    let mut epsilon0_bar = 0.0f64;
    for k in 0..nb {
        let (alpha, eps) = (alphas[k] as f64, epsilons[k] as f64);
        let alpha_bar = -s[3 * k] as f64 / (alpha * alpha * p as f64)
            - sigma as f64 * s[3 * k + 1] as f64
            + s[3 * k + 2] as f64;
        let epsilon_bar = alpha_bar * (-alpha / eps);
        epsilon0_bar += epsilon_bar * (-((k + 1) as f64)).exp();
    }
    Ok(FirenetVjp {
        y: ctx.read_complex(&y_bar, m).await?,
        initial: ctx.read_complex(&psi_bar, len).await?,
        epsilon0: epsilon0_bar,
    })
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;
    use crate::engine::gpu::vector::record_scale;
    use crate::engine::gpu::{block_on, native_context};
    use crate::mri::operator::{distance, norm, random_complex, LinearOperator};

    /// `x ↦ x/2` on both engines: the layers' arithmetic without the transforms.
    struct Half(usize);

    impl LinearOperator for Half {
        fn input_len(&self) -> usize {
            self.0
        }
        fn output_len(&self) -> usize {
            self.0
        }
        fn apply(&self, x: &[Complex32], out: &mut [Complex32]) {
            for (o, v) in out.iter_mut().zip(x) {
                *o = v * 0.5;
            }
        }
        fn adjoint(&self, y: &[Complex32], out: &mut [Complex32]) {
            self.apply(y, out)
        }
    }

    struct GpuHalf<'a>(&'a GpuContext, usize);

    impl GpuOperator for GpuHalf<'_> {
        fn input_len(&self) -> usize {
            self.1
        }
        fn output_len(&self) -> usize {
            self.1
        }
        fn record_apply(&self, encoder: &mut CommandEncoder, x: &Buffer, out: &Buffer) {
            encoder.copy_buffer_to_buffer(x, 0, out, 0, Some(self.1 as u64 * 8));
            record_scale(self.0, encoder, out, self.1, 0.5);
        }
        fn record_adjoint(&self, encoder: &mut CommandEncoder, y: &Buffer, out: &Buffer) {
            self.record_apply(encoder, y, out)
        }
    }

    fn relative(a: &[Complex32], b: &[Complex32]) -> f64 {
        distance(a, b) / norm(b).max(1e-30)
    }

    fn setup(len: usize) -> (Firenet, Vec<Complex32>, Vec<f32>, Vec<Complex32>) {
        let firenet = Firenet {
            lambda: 0.02,
            blocks: 3,
            layers_per_block: 4,
            ..Firenet::default()
        };
        let y = random_complex(len, 3);
        let weights: Vec<f32> = (0..len).map(|i| 0.5 + (i % 7) as f32 * 0.25).collect();
        let initial = random_complex(len, 4);
        (firenet, y, weights, initial)
    }

    #[test]
    fn a_run_matches_the_cpu_layer_by_layer() {
        let gpu = Rc::new(native_context());
        let len = 3000;
        let (firenet, y, weights, initial) = setup(len);
        let mut cpu_layers = Vec::new();
        let cpu = firenet
            .run(&Half(len), &y, &weights, Some(&initial), |_, e| {
                cpu_layers.push(e.to_vec());
                true
            })
            .unwrap();
        let op = GpuHalf(&gpu, len);
        let eps = norm(&y) as f32;
        let mut run =
            GpuFirenetRun::start(&gpu, &op, &firenet, &y, &weights, Some(&initial), eps).unwrap();
        let mut gpu_layers = Vec::new();
        let mut each = |_: usize, e: &[Complex32]| {
            gpu_layers.push(e.to_vec());
            true
        };
        // The first block records its layers, the others run quietly.
        assert!(block_on(run.next_block(Some(&mut each))).unwrap());
        while block_on(run.next_block(None)).unwrap() {}
        let psi = block_on(run.psi()).unwrap();
        assert_eq!(gpu_layers.len(), firenet.layers_per_block);
        for (g, c) in gpu_layers.iter().zip(&cpu_layers) {
            assert!(relative(g, c) < 1e-5, "{}", relative(g, c));
        }
        let r = relative(&psi, &cpu);
        assert!(r < 1e-5, "ψ_n differs by {r}");
    }

    #[test]
    fn the_vjp_matches_the_cpu() {
        let gpu = native_context();
        let len = 3000;
        let (firenet, y, weights, initial) = setup(len);
        let g = random_complex(len, 5);
        let eps = norm(&y) as f32 * 0.8;
        let cpu = firenet
            .vjp_with_epsilon(&Half(len), &y, &weights, Some(&initial), eps, &g)
            .unwrap();
        let op = GpuHalf(&gpu, len);
        let v = block_on(firenet_vjp(
            &gpu,
            &op,
            &firenet,
            &y,
            &weights,
            Some(&initial),
            eps,
            &g,
        ))
        .unwrap();
        let (ry, ri) = (relative(&v.y, &cpu.y), relative(&v.initial, &cpu.initial));
        let re = (v.epsilon0 - cpu.epsilon0).abs() / cpu.epsilon0.abs().max(1e-30);
        eprintln!("vjp relative differences: y {ry:.2e}, ψ₀ {ri:.2e}, ε₀ {re:.2e}");
        assert!(ry < 1e-4 && ri < 1e-4 && re < 1e-3, "{ry} {ri} {re}");
    }
}
