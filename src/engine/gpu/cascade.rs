//! The deep cascade of CNNs with data-consistency layers on the GPU, the twin of
//! [`crate::mri::learned::cascade::CascadeNet`] (same weights, same safetensors names):
//!
//! `x₀ = F⁻¹k₀`,  `xᵢ = DC(xᵢ₋₁ + CNNᵢ(xᵢ₋₁))`,  `Ψ(y) = x_D`,
//!
//! with `k₀ = P_Ωᵀ y` the measured k-space (zero off the mask), `CNNᵢ` a stack of 3×3
//! convolutions ([`crate::engine::gpu::conv`]) with ReLU between them on the real and imaginary
//! parts as two channels, and `DC(x̂) = F⁻¹((1 − M) ⊙ F x̂ + M ⊙ k₀)` (`F` the unitary 2-D DFT,
//! `M` the 0/1 mask).
//!
//! # The vector–Jacobian product
//!
//! `J_Ψ(y)* g`, the gradient in `y` of `Re⟨Ψ(y), g⟩` (real and imaginary parts of `y` as real
//! parameters, gradient `∂/∂Re + i ∂/∂Im`), runs the layers backwards from `g_D = g` on the
//! activations the forward kept:
//!
//! - `DC` is affine; its linear part `F⁻¹(1 − M)F` is self-adjoint (`F` unitary, so the adjoint
//!   of `F⁻¹` is `F`), so `ĝ = F⁻¹((1 − M) ⊙ F gᵢ)`, and `k₀` receives `M ⊙ F gᵢ`;
//! - the residual `x + CNN(x)`: `gᵢ₋₁ = ĝ + CNNᵢᵀ(ĝ)` (the convolutions' input gradients, each
//!   masked by its ReLU);
//! - `x₀ = F⁻¹k₀`: `k₀` receives `F g₀`.
//!
//! So `∇_{k₀} = F g₀ + Σᵢ M ⊙ F gᵢ`, and the result is `∇_{k₀}` at the mask's indices.

use crate::engine::gpu::conv::GpuConv;
use crate::engine::gpu::fourier::GpuFourier2;
use crate::engine::gpu::{groups_for, GpuContext, Shader};
use crate::mri::learned::cascade::CascadeShape;
use crate::mri::sampling::Mask;
use crate::{Error, Result};
use rustfft::num_complex::Complex32;
use std::rc::Rc;
use wgpu::{Buffer, CommandEncoder};

const CASCADE: Shader = crate::gpu_shader!("cascade");

/// The network on the GPU: its convolutions, its mask and the Fourier transform of its side.
pub struct GpuCascade {
    ctx: Rc<GpuContext>,
    shape: CascadeShape,
    mask: Mask,
    /// `M`, one f32 per pixel.
    mask_buffer: Buffer,
    blocks: Vec<Vec<GpuConv>>,
    fourier: GpuFourier2,
}

/// What a forward pass keeps on the GPU: the output and every layer's input (the ReLU masks of
/// the backward).
pub struct CascadeActivations {
    /// `Ψ(y)`, complex.
    output: Buffer,
    /// Per cascade, per convolution: its input (planar).
    inputs: Vec<Vec<Buffer>>,
}

impl CascadeActivations {
    /// `Ψ(y)`: `N²` complex values.
    pub fn output(&self) -> &Buffer {
        &self.output
    }
}

impl GpuCascade {
    /// The network `name` of `shape` from its safetensors `weights` (`cascade{c}.conv{l}.weight`
    /// `[cout, cin, 3, 3]` and `.bias`, f32), with `mask` in its data-consistency layers (errors
    /// name the network).
    pub fn from_safetensors(
        ctx: &Rc<GpuContext>,
        name: &str,
        shape: CascadeShape,
        weights: &[u8],
        mask: &Mask,
    ) -> Result<Self> {
        let fail = |e: String| Error::Input(format!("the weights of '{name}': {e}"));
        if shape.cascades == 0 || shape.layers < 2 || shape.channels == 0 {
            return Err(Error::Input(format!(
                "a cascade needs at least one block of two convolutions, got {shape:?}"
            )));
        }
        let tensors =
            safetensors::SafeTensors::deserialize(weights).map_err(|e| fail(e.to_string()))?;
        let tensor = |key: &str, dims: &[usize]| -> Result<Vec<f32>> {
            let view = tensors
                .tensor(key)
                .map_err(|e| fail(format!("{key}: {e}")))?;
            if view.dtype() != safetensors::Dtype::F32 || view.shape() != dims {
                return Err(fail(format!(
                    "{key} is {:?} {:?}, expected F32 {dims:?}",
                    view.dtype(),
                    view.shape()
                )));
            }
            Ok(crate::tensor_file::f32_values(&view))
        };
        let n = mask.side();
        let mut blocks = Vec::with_capacity(shape.cascades);
        for c in 0..shape.cascades {
            let mut convs = Vec::with_capacity(shape.layers);
            for l in 0..shape.layers {
                let cin = if l == 0 { 2 } else { shape.channels };
                let last = l + 1 == shape.layers;
                let cout = if last { 2 } else { shape.channels };
                let w = tensor(&format!("cascade{c}.conv{l}.weight"), &[cout, cin, 3, 3])?;
                let b = tensor(&format!("cascade{c}.conv{l}.bias"), &[cout])?;
                convs.push(GpuConv::new(ctx, n, (cin, cout), &w, &b, !last, l > 0)?);
            }
            blocks.push(convs);
        }
        let grid: Vec<f32> = mask
            .grid()
            .iter()
            .map(|&b| f32::from(u8::from(b)))
            .collect();
        Ok(Self {
            ctx: Rc::clone(ctx),
            shape,
            mask: mask.clone(),
            mask_buffer: ctx.upload(&grid),
            blocks,
            fourier: GpuFourier2::new(ctx, n)?,
        })
    }

    /// The shape.
    pub fn shape(&self) -> CascadeShape {
        self.shape
    }

    /// The mask.
    pub fn mask(&self) -> &Mask {
        &self.mask
    }

    fn side(&self) -> usize {
        self.mask.side()
    }

    /// `k₀ = P_Ωᵀ y` on the grid.
    fn measured(&self, y: &[Complex32]) -> Result<Vec<Complex32>> {
        if y.len() != self.mask.count() {
            return Err(Error::Input(format!(
                "{} measurements for a mask of {}",
                y.len(),
                self.mask.count()
            )));
        }
        let n = self.side();
        let mut k = vec![Complex32::default(); n * n];
        for (v, &i) in y.iter().zip(self.mask.indices()) {
            k[i as usize] = *v;
        }
        Ok(k)
    }

    /// Records an element-wise entry of `cascade.wgsl` over the `N²` pixels.
    fn glue(&self, encoder: &mut CommandEncoder, entry: &'static str, buffers: &[&Buffer]) {
        let n2 = self.side() * self.side();
        let values = if entry == "add" { 2 * n2 } else { n2 };
        self.ctx.dispatch(
            encoder,
            &CASCADE,
            entry,
            buffers,
            (groups_for(values, 64), 1, 1),
        );
    }

    /// Records `Ψ` on the measured k-space `measured` (`N²` complex values, zero off the mask;
    /// not modified), keeping the activations for [`GpuCascade::record_vjp`].
    pub fn record_forward(
        &self,
        encoder: &mut CommandEncoder,
        measured: &Buffer,
    ) -> CascadeActivations {
        let n2 = self.side() * self.side();
        let ctx = &self.ctx;
        let x = ctx.complex(n2);
        encoder.copy_buffer_to_buffer(measured, 0, &x, 0, (n2 * 8) as u64);
        self.fourier.record_inverse(encoder, &x);
        let h = ctx.storage(2 * n2 * 4);
        let mut inputs = Vec::with_capacity(self.blocks.len());
        for convs in &self.blocks {
            let mut layer_inputs: Vec<Buffer> = Vec::with_capacity(convs.len());
            let planar = ctx.storage(2 * n2 * 4);
            self.glue(encoder, "split", &[&x, &planar]);
            layer_inputs.push(planar);
            for (l, conv) in convs.iter().enumerate() {
                let input = &layer_inputs[l];
                if l + 1 < convs.len() {
                    let out = ctx.storage(conv.cout() * n2 * 4);
                    conv.record_forward(encoder, input, &out);
                    layer_inputs.push(out);
                } else {
                    conv.record_forward(encoder, input, &h);
                }
            }
            self.glue(encoder, "add_planar", &[&x, &h]);
            self.fourier.record_forward(encoder, &x);
            self.glue(encoder, "consistency", &[&x, measured, &self.mask_buffer]);
            self.fourier.record_inverse(encoder, &x);
            inputs.push(layer_inputs);
        }
        CascadeActivations { output: x, inputs }
    }

    /// Records the gradient in `k₀` of `Re⟨Ψ, g⟩` at the activations of a forward pass (`g`,
    /// `N²` complex values, is overwritten); returns `∇_{k₀}` on the whole grid (`N²` complex
    /// values; the vector–Jacobian product in `y` is its entries at the mask's indices).
    pub fn record_vjp(
        &self,
        encoder: &mut CommandEncoder,
        activations: &CascadeActivations,
        g: &Buffer,
    ) -> Buffer {
        let n2 = self.side() * self.side();
        let ctx = &self.ctx;
        let grad_k = ctx.complex(n2);
        let planar = ctx.storage(2 * n2 * 4);
        let hidden = [
            ctx.storage(self.shape.channels * n2 * 4),
            ctx.storage(self.shape.channels * n2 * 4),
        ];
        for (convs, inputs) in self.blocks.iter().zip(&activations.inputs).rev() {
            // Data consistency.
            self.fourier.record_forward(encoder, g);
            self.glue(
                encoder,
                "consistency_back",
                &[g, &grad_k, &self.mask_buffer],
            );
            self.fourier.record_inverse(encoder, g);
            // The residual: g + CNNᵀ(g).
            self.glue(encoder, "split", &[g, &planar]);
            // The latest gradient is in hidden[current] (after the last layer's backward).
            let mut current = 0;
            for (l, conv) in convs.iter().enumerate().rev() {
                let last = l + 1 == convs.len();
                let grad_output = if last { &planar } else { &hidden[current] };
                let next = if last { 0 } else { 1 - current };
                let grad_input = if l == 0 { &planar } else { &hidden[next] };
                conv.record_backward(encoder, grad_output, &inputs[l], grad_input);
                current = next;
            }
            self.glue(encoder, "add_planar", &[g, &planar]);
        }
        // x₀ = F⁻¹k₀.
        self.fourier.record_forward(encoder, g);
        self.glue(encoder, "add", &[&grad_k, g]);
        grad_k
    }

    /// `Ψ(y)` (reads the result back).
    pub async fn forward(&self, y: &[Complex32]) -> Result<Vec<Complex32>> {
        let measured = self.ctx.upload_complex(&self.measured(y)?);
        let mut encoder = self.ctx.encoder();
        let activations = self.record_forward(&mut encoder, &measured);
        self.ctx.submit(encoder);
        let n = self.side();
        self.ctx.read_complex(activations.output(), n * n).await
    }

    /// `J_Ψ(y)* g`, the gradient in `y` of `Re⟨Ψ(y), g⟩` (`g` an `N × N` image; the result has
    /// one value per measurement).
    pub async fn backward(&self, y: &[Complex32], g: &[Complex32]) -> Result<Vec<Complex32>> {
        let n = self.side();
        if g.len() != n * n {
            return Err(Error::Input(format!(
                "a gradient of {} values for {n}² pixels",
                g.len()
            )));
        }
        let measured = self.ctx.upload_complex(&self.measured(y)?);
        let upstream = self.ctx.upload_complex(g);
        let mut encoder = self.ctx.encoder();
        let activations = self.record_forward(&mut encoder, &measured);
        let grad = self.record_vjp(&mut encoder, &activations, &upstream);
        self.ctx.submit(encoder);
        let grad = self.ctx.read_complex(&grad, n * n).await?;
        Ok(self
            .mask
            .indices()
            .iter()
            .map(|&i| grad[i as usize])
            .collect())
    }
}

/// The cascade as the experiments see it: natively the synchronous face waits for the GPU; in
/// the browser only the asynchronous one answers (see [`crate::engine::wait`]).
impl crate::mri::reconstructor::Reconstructor for GpuCascade {
    fn reconstruct(&self, y: &[Complex32]) -> Result<Vec<Complex32>> {
        crate::engine::wait(self.forward(y))
    }

    fn vjp(&self, y: &[Complex32], g: &[Complex32]) -> Result<Vec<Complex32>> {
        crate::engine::wait(self.backward(y, g))
    }

    fn reconstruct_async<'a>(
        &'a self,
        y: &'a [Complex32],
    ) -> crate::engine::Pending<'a, Vec<Complex32>> {
        Box::pin(self.forward(y))
    }

    fn vjp_async<'a>(
        &'a self,
        y: &'a [Complex32],
        g: &'a [Complex32],
    ) -> crate::engine::Pending<'a, Vec<Complex32>> {
        Box::pin(self.backward(y, g))
    }
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;
    use crate::engine::gpu::{block_on, native_context};
    use crate::mri::learned::cascade::CascadeNet;
    use crate::mri::learned::consistency::DataConsistency;
    use crate::mri::learned::hallucination::NetCard;
    use crate::mri::operator::{distance, norm, SubsampledFourier};
    use crate::mri::phantom::shepp_logan;
    use crate::mri::reconstructor::Reconstructor;
    use crate::mri::sampling::{mask, Pattern};
    use candle_core::{DType, Device, Tensor, Var};
    use candle_nn::{VarBuilder, VarMap};
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;
    use std::time::Instant;

    fn random_image(len: usize, seed: u64) -> Vec<Complex32> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        (0..len)
            .map(|_| Complex32::new(rng.random_range(-1.0..1.0), rng.random_range(-1.0..1.0)))
            .collect()
    }

    /// `‖a − b‖ / ‖b‖`.
    fn relative(a: &[Complex32], b: &[Complex32]) -> f64 {
        distance(a, b) / norm(b)
    }

    /// The phantom's measurements with 5% noise (no flat background).
    fn measurements(m: &Mask, seed: u64) -> Vec<Complex32> {
        let y = SubsampledFourier::new(m.clone())
            .unwrap()
            .measure(&shepp_logan(m.side()));
        let sigma = 0.05 * norm(&y) as f32 / (y.len() as f32).sqrt();
        let noise = random_image(y.len(), seed);
        y.iter().zip(&noise).map(|(v, e)| v + sigma * e).collect()
    }

    /// Per cascade, per ReLU: where the GPU's forward found the pre-activation positive.
    type Patterns = Vec<Vec<Vec<f64>>>;

    fn gpu_patterns(gpu: &GpuCascade, y: &[Complex32]) -> Patterns {
        let measured = gpu.ctx.upload_complex(&gpu.measured(y).unwrap());
        let mut encoder = gpu.ctx.encoder();
        let activations = gpu.record_forward(&mut encoder, &measured);
        gpu.ctx.submit(encoder);
        let n2 = gpu.side() * gpu.side();
        activations
            .inputs
            .iter()
            .map(|inputs| {
                inputs[1..]
                    .iter()
                    .map(|b| {
                        let v = block_on(gpu.ctx.read_f32(b, gpu.shape.channels * n2)).unwrap();
                        v.into_iter()
                            .map(|a| f64::from(u8::from(a > 0.0)))
                            .collect()
                    })
                    .collect()
            })
            .collect()
    }

    /// The cascade in candle, f64, with every ReLU replaced by multiplication with the 0/1
    /// `patterns` where given: `(Ψ(y), J_Ψ(y)* g, the ReLU patterns it used)`. With the GPU's
    /// patterns this is the network linearised where the GPU linearised it, so that the GPU's
    /// vjp is compared without the jumps of ReLUs that f32 rounding flips (see `compare`).
    fn reference(
        weights: &[u8],
        shape: CascadeShape,
        m: &Mask,
        y: &[Complex32],
        g: &[Complex32],
        patterns: Option<&Patterns>,
    ) -> (Vec<Complex32>, Vec<Complex32>, Patterns) {
        let dev = Device::Cpu;
        let n = m.side();
        let vb = VarBuilder::from_buffered_safetensors(weights.to_vec(), DType::F64, &dev).unwrap();
        let dc = DataConsistency::new(m, DType::F64, &dev).unwrap();
        let (mut re, mut im) = (vec![0.0f64; n * n], vec![0.0f64; n * n]);
        for (v, &i) in y.iter().zip(m.indices()) {
            re[i as usize] = f64::from(v.re);
            im[i as usize] = f64::from(v.im);
        }
        let t = |v: Vec<f64>, dims: &[usize]| Tensor::from_vec(v, dims, &dev).unwrap();
        let (k_re, k_im) = (
            Var::from_tensor(&t(re, &[1, n, n])).unwrap(),
            Var::from_tensor(&t(im, &[1, n, n])).unwrap(),
        );
        let k = (k_re.as_tensor().clone(), k_im.as_tensor().clone());
        let mut x = dc.dft(&k, true).unwrap();
        let mut used = Vec::new();
        for c in 0..shape.cascades {
            let mut h = Tensor::stack(&[&x.0, &x.1], 1).unwrap();
            let input = h.clone();
            let mut block = Vec::new();
            for l in 0..shape.layers {
                let last = l + 1 == shape.layers;
                let (cin, cout) = (
                    if l == 0 { 2 } else { shape.channels },
                    if last { 2 } else { shape.channels },
                );
                let vb = vb.pp(format!("cascade{c}.conv{l}"));
                let w = vb.get((cout, cin, 3, 3), "weight").unwrap();
                let b = vb.get(cout, "bias").unwrap();
                h = h
                    .conv2d(&w, 1, 1, 1, 1)
                    .unwrap()
                    .broadcast_add(&b.reshape((1, cout, 1, 1)).unwrap())
                    .unwrap();
                if !last {
                    let p = match patterns {
                        Some(p) => p[c][l].clone(),
                        None => h
                            .flatten_all()
                            .unwrap()
                            .to_vec1::<f64>()
                            .unwrap()
                            .into_iter()
                            .map(|a| f64::from(u8::from(a > 0.0)))
                            .collect(),
                    };
                    h = (h * t(p.clone(), &[1, cout, n, n])).unwrap();
                    block.push(p);
                }
            }
            let h = (input + h).unwrap();
            let estimate = (
                h.narrow(1, 0, 1).unwrap().squeeze(1).unwrap(),
                h.narrow(1, 1, 1).unwrap().squeeze(1).unwrap(),
            );
            x = dc.apply(&estimate, &k).unwrap();
            used.push(block);
        }
        let part =
            |f: fn(&Complex32) -> f32| t(g.iter().map(|c| f64::from(f(c))).collect(), &[1, n, n]);
        let objective = ((&x.0 * part(|c| c.re)).unwrap().sum_all().unwrap()
            + (&x.1 * part(|c| c.im)).unwrap().sum_all().unwrap())
        .unwrap();
        let grads = objective.backward().unwrap();
        let values = |t: &Tensor| -> Vec<f64> { t.flatten_all().unwrap().to_vec1().unwrap() };
        let (gr, gi) = (
            values(grads.get(k_re.as_tensor()).unwrap()),
            values(grads.get(k_im.as_tensor()).unwrap()),
        );
        let (xr, xi) = (values(&x.0), values(&x.1));
        let output = xr
            .iter()
            .zip(&xi)
            .map(|(a, b)| Complex32::new(*a as f32, *b as f32))
            .collect();
        let vjp = m
            .indices()
            .iter()
            .map(|&i| Complex32::new(gr[i as usize] as f32, gi[i as usize] as f32))
            .collect();
        (output, vjp, used)
    }

    /// The GPU network against the CPU's on noisy phantom measurements; returns the forward's
    /// relative difference to [`CascadeNet`] and the vjp's to [`CascadeNet`] and to the
    /// reference linearised at the GPU's ReLU patterns, and how many ReLUs of the f64 network
    /// the GPU's f32 rounding flipped.
    ///
    /// The network is piecewise affine, so its vjp is piecewise constant in `y` and jumps
    /// where a pre-activation crosses 0: at the shipped 64² networks (1.5 million ReLUs a
    /// pass), rounding differences of 1e-6 flip a few, each moving the vjp by up to ~1e-3
    /// (CascadeNet in f64 against itself does the same under perturbations of 1e-6 of `y`).
    /// The vjp's exactness is therefore checked against the reference with the GPU's patterns,
    /// and against CascadeNet directly where no ReLU flipped.
    fn compare(
        gpu: &GpuCascade,
        cpu: &CascadeNet,
        weights: &[u8],
        seed: u64,
    ) -> (f64, f64, f64, usize) {
        let m = gpu.mask();
        let n = m.side();
        let y = measurements(m, seed + 100);
        let g = random_image(n * n, seed);
        let (out, vjp) = (gpu.reconstruct(&y).unwrap(), gpu.vjp(&y, &g).unwrap());
        let forward = relative(&out, &cpu.reconstruct(&y).unwrap());
        let direct = relative(&vjp, &cpu.vjp(&y, &g).unwrap());
        let patterns = gpu_patterns(gpu, &y);
        let (_, own_vjp, own) = reference(weights, gpu.shape, m, &y, &g, None);
        let flips: usize = own
            .iter()
            .flatten()
            .flatten()
            .zip(patterns.iter().flatten().flatten())
            .filter(|(a, b)| a != b)
            .count();
        let (_, linear_vjp, _) = reference(weights, gpu.shape, m, &y, &g, Some(&patterns));
        let linearised = relative(&vjp, &linear_vjp);
        if flips == 0 {
            assert!(relative(&own_vjp, &linear_vjp) < 1e-9);
        }
        (forward, direct, linearised, flips)
    }

    #[test]
    fn a_shipped_cascade_matches_the_cpu_network() {
        let ctx = Rc::new(native_context());
        let name = "cascade-8";
        let card: NetCard =
            serde_json::from_slice(&std::fs::read(format!("static/models/{name}.json")).unwrap())
                .unwrap();
        let weights = std::fs::read(format!("static/models/{name}.safetensors")).unwrap();
        let m = card.mask.mask(card.side).unwrap();
        let shape: CascadeShape = card.shape.into();
        let gpu = GpuCascade::from_safetensors(&ctx, name, shape, &weights, &m).unwrap();
        let cpu = CascadeNet::from_safetensors(name, shape, &weights, &m).unwrap();
        let (forward, direct, linearised, flips) = compare(&gpu, &cpu, &weights, 1);
        eprintln!(
            "{name} ({shape:?} at {}²): forward {forward:.2e}; vjp {linearised:.2e} at the \
             GPU's ReLU patterns, {direct:.2e} against CascadeNet ({flips} ReLUs flipped)",
            m.side()
        );
        assert!(forward <= 1e-4, "forward {forward}");
        assert!(linearised <= 1e-3, "vjp {linearised}");
        if flips == 0 {
            assert!(direct <= 1e-3, "vjp {direct} against CascadeNet");
        }
        // Timings, pipelines compiled.
        let n = m.side();
        let y = measurements(&m, 5);
        let g = random_image(n * n, 2);
        let start = Instant::now();
        gpu.reconstruct(&y).unwrap();
        let forward_s = start.elapsed().as_secs_f64();
        let start = Instant::now();
        gpu.vjp(&y, &g).unwrap();
        let vjp_s = start.elapsed().as_secs_f64();
        eprintln!(
            "{} at {n}²: forward {forward_s:.3} s, vjp (forward + backward) {vjp_s:.3} s",
            ctx.adapter()
        );
        // Errors name the network; bad inputs are errors.
        let e = GpuCascade::from_safetensors(&ctx, name, CascadeShape::default(), &weights, &m)
            .err()
            .unwrap();
        assert!(e.to_string().contains(name), "{e}");
        let e = GpuCascade::from_safetensors(&ctx, name, shape, &weights[..100], &m)
            .err()
            .unwrap();
        assert!(e.to_string().contains(name), "{e}");
        assert!(gpu.reconstruct(&y[1..]).is_err());
        assert!(gpu.vjp(&y, &g[1..]).is_err());
    }

    #[test]
    fn a_seeded_cascade_at_another_size_matches_the_cpu_network() {
        let ctx = Rc::new(native_context());
        let n = 32;
        let m = mask(Pattern::VariableDensity, n, 0.25, 4).unwrap();
        let shape = CascadeShape {
            cascades: 3,
            layers: 3,
            channels: 6,
        };
        let varmap = VarMap::new();
        let cpu = CascadeNet::new_seeded(shape, &m, &varmap, 7, DType::F32, &Device::Cpu).unwrap();
        // Nonzero biases, as in a trained network.
        let mut tensors = Vec::new();
        for (name, var) in varmap.data().lock().unwrap().iter() {
            let dims = var.as_tensor().dims().to_vec();
            if name.ends_with("bias") {
                let count: usize = dims.iter().product();
                let values: Vec<f32> = (0..count).map(|i| 0.1 - 0.03 * i as f32).collect();
                var.set(&Tensor::from_vec(values, dims.clone(), &Device::Cpu).unwrap())
                    .unwrap();
            }
            let values: Vec<f32> = var.as_tensor().flatten_all().unwrap().to_vec1().unwrap();
            tensors.push((name.clone(), dims, values));
        }
        let weights = crate::tensor_file::f32_safetensors(&tensors, None).unwrap();
        let gpu = GpuCascade::from_safetensors(&ctx, "seeded", shape, &weights, &m).unwrap();
        let (forward, direct, linearised, flips) = compare(&gpu, &cpu, &weights, 3);
        eprintln!(
            "seeded ({shape:?} at {n}²): forward {forward:.2e}; vjp {linearised:.2e} at the \
             GPU's ReLU patterns, {direct:.2e} against CascadeNet ({flips} ReLUs flipped)"
        );
        assert!(forward <= 1e-4, "forward {forward}");
        assert!(linearised <= 1e-3, "vjp {linearised}");
        assert_eq!(flips, 0);
        assert!(direct <= 1e-3, "vjp {direct} against CascadeNet");
    }
}
