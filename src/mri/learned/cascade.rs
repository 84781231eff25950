//! A deep cascade of CNNs with data-consistency layers (Schlemper et al., IEEE TMI 2018; the
//! lecture's "DeepMRINet"), the trained reconstruction network Ψ of the hallucinations issue:
//!
//! `x₀ = A*y`,  `xᵢ = DC(xᵢ₋₁ + CNNᵢ(xᵢ₋₁))`,  `Ψ(y) = x_D`,
//!
//! each `CNNᵢ` a stack of 3×3 convolutions with ReLU on the real and imaginary parts as two
//! channels, and `DC` the data-consistency layer of [`crate::mri::learned::consistency`]. Built with candle, so
//! that training and the instability test differentiate through it; [`CascadeNet`] is also a
//! [`Reconstructor`] (its vector–Jacobian product by autograd).

use crate::mri::learned::consistency::{Complex, DataConsistency};
use crate::mri::reconstructor::Reconstructor;
use crate::mri::sampling::Mask;
use crate::{Error, Result};
use candle_core::{DType, Device, Module, Tensor, Var};
use candle_nn::{conv2d, Conv2d, Conv2dConfig, VarBuilder};
use rustfft::num_complex::Complex32;

/// The shape of a cascade.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CascadeShape {
    /// Cascades `D` (CNN + data consistency).
    pub cascades: usize,
    /// Convolutions per CNN (at least 2).
    pub layers: usize,
    /// Channels of the hidden convolutions.
    pub channels: usize,
}

impl Default for CascadeShape {
    fn default() -> Self {
        Self {
            cascades: 5,
            layers: 5,
            channels: 32,
        }
    }
}

/// The most cascades, and convolutions per cascade, a network may have.
pub const MAX_SHAPE: usize = 64;
/// The most channels of a hidden convolution.
pub const MAX_CHANNELS: usize = 1024;

/// The network: its convolutions and the data-consistency layer of its mask.
pub struct CascadeNet {
    shape: CascadeShape,
    blocks: Vec<Vec<Conv2d>>,
    consistency: DataConsistency,
    mask: Mask,
}

impl CascadeNet {
    /// The network `name` of `shape` from its safetensors `weights` (every tensor `f32` and
    /// finite, as the GPU engine's loader also requires), with `mask` in its data-consistency
    /// layers (errors name the network).
    pub fn from_safetensors(
        name: &str,
        shape: CascadeShape,
        weights: &[u8],
        mask: &Mask,
    ) -> Result<Self> {
        let fail = |why: String| Error::Input(format!("the weights of '{name}': {why}"));
        let file =
            safetensors::SafeTensors::deserialize(weights).map_err(|e| fail(e.to_string()))?;
        for (tensor, view) in file.tensors() {
            if view.dtype() != safetensors::Dtype::F32 {
                return Err(fail(format!(
                    "tensor '{tensor}' is {}, expected F32",
                    view.dtype()
                )));
            }
            let finite = view
                .data()
                .chunks_exact(4)
                .all(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]).is_finite());
            if !finite {
                return Err(fail(format!(
                    "tensor '{tensor}' holds NaN or infinite values"
                )));
            }
        }
        let vb = VarBuilder::from_buffered_safetensors(weights.to_vec(), DType::F32, &Device::Cpu)
            .map_err(|e| fail(e.to_string()))?;
        Self::build(shape, mask, vb).map_err(|e| fail(e.to_string()))
    }

    /// Builds the layers from a var builder (fresh variables or stored weights), for `mask`.
    pub fn build(shape: CascadeShape, mask: &Mask, vb: VarBuilder) -> Result<Self> {
        if shape.cascades == 0 || shape.layers < 2 || shape.channels == 0 {
            return Err(Error::Input(format!(
                "a cascade needs at least one block of two convolutions, got {shape:?}"
            )));
        }
        // A shape read from a model card is bounded before anything is sized by it.
        if shape.cascades > MAX_SHAPE || shape.layers > MAX_SHAPE || shape.channels > MAX_CHANNELS {
            return Err(Error::Input(format!(
                "a cascade has at most {MAX_SHAPE} blocks of {MAX_SHAPE} convolutions of \
                 {MAX_CHANNELS} channels, got {shape:?}"
            )));
        }
        let cfg = Conv2dConfig {
            padding: 1,
            ..Default::default()
        };
        let mut blocks = Vec::with_capacity(shape.cascades);
        for c in 0..shape.cascades {
            let vb = vb.pp(format!("cascade{c}"));
            let mut convs = Vec::with_capacity(shape.layers);
            for l in 0..shape.layers {
                let cin = if l == 0 { 2 } else { shape.channels };
                let cout = if l + 1 == shape.layers {
                    2
                } else {
                    shape.channels
                };
                convs.push(conv2d(cin, cout, 3, cfg, vb.pp(format!("conv{l}")))?);
            }
            blocks.push(convs);
        }
        Ok(Self {
            shape,
            blocks,
            consistency: DataConsistency::new(mask, vb.dtype(), vb.device())?,
            mask: mask.clone(),
        })
    }

    /// A fresh network whose variables live in `varmap`, initialised from `seed` (He-uniform
    /// weights `U(±√(6/fan_in))`, zero biases, in the order of the variables' names), so that
    /// training is reproducible.
    pub fn new_seeded(
        shape: CascadeShape,
        mask: &Mask,
        varmap: &candle_nn::VarMap,
        seed: u64,
        dtype: DType,
        device: &Device,
    ) -> Result<Self> {
        use rand::{Rng, SeedableRng};
        let net = Self::build(shape, mask, VarBuilder::from_varmap(varmap, dtype, device))?;
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        let vars = varmap.data().lock().expect("var map lock");
        let mut names: Vec<&String> = vars.keys().collect();
        names.sort();
        for name in names {
            let var = &vars[name];
            let dims = var.as_tensor().dims().to_vec();
            let count: usize = dims.iter().product();
            let values: Vec<f32> = if name.ends_with("weight") {
                let fan_in: usize = dims[1..].iter().product();
                let bound = (6.0 / fan_in as f64).sqrt() as f32;
                (0..count)
                    .map(|_| rng.random_range(-bound..bound))
                    .collect()
            } else {
                vec![0.0; count]
            };
            var.set(&Tensor::from_vec(values, dims, device)?.to_dtype(dtype)?)?;
        }
        drop(vars);
        Ok(net)
    }

    /// The shape.
    pub fn shape(&self) -> CascadeShape {
        self.shape
    }

    /// `Ψ` on a batch: the zero-filled images `x₀` and measured k-spaces `k₀` (`[B, N, N]`
    /// real and imaginary parts each) to the reconstructions.
    pub fn forward(&self, zero_filled: &Complex, measured: &Complex) -> Result<Complex> {
        let mut x = zero_filled.clone();
        for convs in &self.blocks {
            // [B, 2, N, N] from the two parts.
            let mut h = Tensor::stack(&[&x.0, &x.1], 1)?;
            let input = h.clone();
            for (l, conv) in convs.iter().enumerate() {
                h = conv.forward(&h)?;
                if l + 1 < convs.len() {
                    h = h.relu()?;
                }
            }
            let h = (input + h)?;
            let estimate = (
                h.narrow(1, 0, 1)?.squeeze(1)?,
                h.narrow(1, 1, 1)?.squeeze(1)?,
            );
            x = self.consistency.apply(&estimate, measured)?;
        }
        Ok(x)
    }

    /// The measured k-space `P_Ωᵀ y` and the zero-filled image of one measurement vector, as
    /// `[1, N, N]` tensors on the network's device.
    pub fn inputs(
        &self,
        y: &[Complex32],
        dtype: DType,
        device: &Device,
    ) -> Result<(Complex, Complex)> {
        let n = self.mask.side();
        if y.len() != self.mask.count() {
            return Err(Error::Input(format!(
                "{} measurements for a mask of {}",
                y.len(),
                self.mask.count()
            )));
        }
        let (mut re, mut im) = (vec![0.0f32; n * n], vec![0.0f32; n * n]);
        for (v, &i) in y.iter().zip(self.mask.indices()) {
            re[i as usize] = v.re;
            im[i as usize] = v.im;
        }
        let t = |v: Vec<f32>| -> Result<Tensor> {
            Ok(Tensor::from_vec(v, (1, n, n), device)?.to_dtype(dtype)?)
        };
        let measured = (t(re)?, t(im)?);
        let zero_filled = self.consistency.dft(&measured, true)?;
        Ok((zero_filled, measured))
    }

    fn dtype_device(&self) -> (DType, Device) {
        let w = self.blocks[0][0].weight();
        (w.dtype(), w.device().clone())
    }
}

fn to_complex(x: &Complex) -> Result<Vec<Complex32>> {
    let re = x.0.to_dtype(DType::F32)?.flatten_all()?.to_vec1::<f32>()?;
    let im = x.1.to_dtype(DType::F32)?.flatten_all()?.to_vec1::<f32>()?;
    Ok(re
        .into_iter()
        .zip(im)
        .map(|(a, b)| Complex32::new(a, b))
        .collect())
}

impl Reconstructor for CascadeNet {
    fn reconstruct(&self, y: &[Complex32]) -> Result<Vec<Complex32>> {
        let (dtype, device) = self.dtype_device();
        let (zero_filled, measured) = self.inputs(y, dtype, &device)?;
        to_complex(&self.forward(&zero_filled, &measured)?)
    }

    fn vjp(&self, y: &[Complex32], g: &[Complex32]) -> Result<Vec<Complex32>> {
        let (dtype, device) = self.dtype_device();
        let n = self.mask.side();
        let (_, measured) = self.inputs(y, dtype, &device)?;
        // Differentiate with respect to the measured k-space; y is its sampled entries.
        let (k_re, k_im) = (
            Var::from_tensor(&measured.0)?,
            Var::from_tensor(&measured.1)?,
        );
        let k = (k_re.as_tensor().clone(), k_im.as_tensor().clone());
        let zero_filled = self.consistency.dft(&k, true)?;
        let out = self.forward(&zero_filled, &k)?;
        let part = |f: fn(&Complex32) -> f32| -> Result<Tensor> {
            Ok(
                Tensor::from_vec(g.iter().map(f).collect::<Vec<f32>>(), (1, n, n), &device)?
                    .to_dtype(dtype)?,
            )
        };
        let objective =
            ((&out.0 * part(|c| c.re)?)?.sum_all()? + (&out.1 * part(|c| c.im)?)?.sum_all()?)?;
        let grads = objective.backward()?;
        let get = |v: &Var| -> Result<Vec<f32>> {
            let t = grads
                .get(v.as_tensor())
                .cloned()
                .unwrap_or(v.as_tensor().zeros_like()?);
            Ok(t.to_dtype(DType::F32)?.flatten_all()?.to_vec1::<f32>()?)
        };
        let (gr, gi) = (get(&k_re)?, get(&k_im)?);
        Ok(self
            .mask
            .indices()
            .iter()
            .map(|&i| Complex32::new(gr[i as usize], gi[i as usize]))
            .collect())
    }
}

/// Mean squared error between a batch of reconstructions and real ground truths `[B, N, N]`
/// (the imaginary part is pushed to zero).
pub fn mse_loss(output: &Complex, truth: &Tensor) -> Result<Tensor> {
    let re = (&output.0 - truth)?.sqr()?.mean_all()?;
    let im = output.1.sqr()?.mean_all()?;
    Ok((re + im)?)
}

/// Mean squared error against complex ground truths (real and imaginary parts, `[B, N, N]`
/// each): the targets `x + z_N` of the troublesome-kernel curriculum
/// ([`crate::mri::learned::kernel_training`]) are complex.
pub fn mse_loss_complex(output: &Complex, truth: &Complex) -> Result<Tensor> {
    let re = (&output.0 - &truth.0)?.sqr()?.mean_all()?;
    let im = (&output.1 - &truth.1)?.sqr()?.mean_all()?;
    Ok((re + im)?)
}

/// `|x|` of a batch, `[B, N, N]`.
pub fn magnitude(x: &Complex) -> Result<Tensor> {
    Ok((x.0.sqr()? + x.1.sqr()?)?.sqrt()?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mri::instability::ZeroFilling;
    use crate::mri::operator::SubsampledFourier;
    use crate::mri::phantom::shepp_logan;
    use crate::mri::sampling::{mask, Pattern};
    use candle_nn::VarMap;

    fn small_net(dtype: DType, seed: u64) -> (CascadeNet, Mask, VarMap) {
        let m = mask(Pattern::Cartesian, 16, 0.3, 1).unwrap();
        let varmap = VarMap::new();
        let shape = CascadeShape {
            cascades: 2,
            layers: 3,
            channels: 4,
        };
        let net = CascadeNet::new_seeded(shape, &m, &varmap, seed, dtype, &Device::Cpu).unwrap();
        (net, m, varmap)
    }

    #[test]
    fn stored_weights_must_be_finite_f32_of_a_bounded_shape() {
        let (net, m, varmap) = small_net(DType::F32, 3);
        let bytes = crate::classification::classifier::varmap_to_safetensors(&varmap).unwrap();
        assert!(CascadeNet::from_safetensors("t", net.shape(), &bytes, &m).is_ok());
        let message = |r: Result<CascadeNet>| match r {
            Err(e) => e.to_string(),
            Ok(_) => panic!("loaded"),
        };
        // A NaN in the first value of the first tensor.
        let start = 8 + u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
        let mut nan = bytes.clone();
        nan[start..start + 4].copy_from_slice(&f32::NAN.to_le_bytes());
        let e = message(CascadeNet::from_safetensors("t", net.shape(), &nan, &m));
        assert!(e.contains("'t'") && e.contains("NaN or infinite"), "{e}");
        // The same weights stored as f64.
        let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
        let wide: Vec<(String, Vec<usize>, Vec<u8>)> = st
            .tensors()
            .into_iter()
            .map(|(name, v)| {
                let data = crate::tensor_file::f32_values(&v)
                    .into_iter()
                    .flat_map(|x| f64::from(x).to_le_bytes())
                    .collect();
                (name, v.shape().to_vec(), data)
            })
            .collect();
        let views = wide.iter().map(|(n, s, d)| {
            let view = safetensors::tensor::TensorView::new(safetensors::Dtype::F64, s.clone(), d);
            (n.clone(), view.unwrap())
        });
        let f64_bytes = safetensors::serialize(views, None).unwrap();
        let e = message(CascadeNet::from_safetensors(
            "t",
            net.shape(),
            &f64_bytes,
            &m,
        ));
        assert!(e.contains("F64, expected F32"), "{e}");
        // A card's shape is bounded before anything is sized by it.
        let huge = CascadeShape {
            cascades: usize::MAX,
            ..net.shape()
        };
        let e = message(CascadeNet::from_safetensors("t", huge, &bytes, &m));
        assert!(e.contains("at most 64 blocks"), "{e}");
    }

    #[test]
    fn the_output_is_consistent_with_the_measurements() {
        let (net, m, _) = small_net(DType::F32, 1);
        let (twin, _, _) = small_net(DType::F32, 1);
        let a = SubsampledFourier::new(m.clone()).unwrap();
        let y = a.measure(&shepp_logan(16));
        let out = net.reconstruct(&y).unwrap();
        assert_eq!(
            out,
            twin.reconstruct(&y).unwrap(),
            "seeded networks are identical"
        );
        let mut again = vec![Complex32::default(); m.count()];
        crate::mri::operator::LinearOperator::apply(&a, &out, &mut again);
        let gap = crate::mri::operator::distance(&again, &y) / crate::mri::operator::norm(&y);
        assert!(gap < 1e-5, "relative gap {gap}");
        assert!(CascadeNet::build(
            CascadeShape {
                cascades: 0,
                ..CascadeShape::default()
            },
            &m,
            VarBuilder::from_varmap(&VarMap::new(), DType::F32, &Device::Cpu)
        )
        .is_err());
        assert!(net.reconstruct(&y[..3]).is_err());
    }

    #[test]
    fn with_zero_convolutions_it_is_zero_filling_and_so_is_its_gradient() {
        // Every CNN outputs 0, the residual passes x through, and DC(A*y) = A*y: Ψ = A*, whose
        // vector–Jacobian product is A g. This pins the plumbing of `vjp` (gathering, real and
        // imaginary parts) exactly.
        let (net, m, varmap) = small_net(DType::F32, 1);
        for var in varmap.all_vars() {
            var.set(&var.as_tensor().zeros_like().unwrap()).unwrap();
        }
        let a = SubsampledFourier::new(m.clone()).unwrap();
        let y = a.measure(&shepp_logan(16));
        let zf = ZeroFilling(&a);
        let gap = |p: &[Complex32], q: &[Complex32]| {
            crate::mri::operator::distance(p, q) / crate::mri::operator::norm(q)
        };
        assert!(gap(&net.reconstruct(&y).unwrap(), &zf.reconstruct(&y).unwrap()) < 1e-5);
        let g: Vec<Complex32> = (0..256)
            .map(|i| Complex32::new((i % 7) as f32 - 3.0, (i % 5) as f32 - 2.0))
            .collect();
        assert!(gap(&net.vjp(&y, &g).unwrap(), &zf.vjp(&y, &g).unwrap()) < 1e-5);
    }

    #[test]
    fn autograd_through_the_cascade_matches_central_differences_in_f64() {
        // Nonzero biases, as in a trained network. With the zero biases of a fresh one, ReLU
        // inputs over the phantom's empty background are 0 up to rounding: kinks where a central
        // difference averages the two one-sided slopes while autograd takes one (this once looked
        // like a 5% disagreement; with biases the two agree to 1e-10).
        let (net, m, varmap) = small_net(DType::F64, 2);
        for (name, var) in varmap.data().lock().unwrap().iter() {
            if name.ends_with("bias") {
                let dims = var.as_tensor().dims().to_vec();
                let count: usize = dims.iter().product();
                let values: Vec<f64> = (0..count).map(|i| 0.1 - 0.03 * i as f64).collect();
                var.set(&Tensor::from_vec(values, dims, &Device::Cpu).unwrap())
                    .unwrap();
            }
        }
        let n = 16;
        let a = SubsampledFourier::new(m).unwrap();
        let y = a.measure(&shepp_logan(n));
        let (_, measured) = net.inputs(&y, DType::F64, &Device::Cpu).unwrap();
        let t = |v: Vec<f64>| Tensor::from_vec(v, (1, n, n), &Device::Cpu).unwrap();
        let w = t((0..n * n).map(|i| ((i * 7) % 5) as f64 - 2.0).collect());
        let d = t((0..n * n)
            .map(|i| ((i * 3) % 7) as f64 / 7.0 - 0.4)
            .collect());
        // f(k) = Σ w ⊙ Re Ψ(k), differentiated in the real part of the measured k-space.
        let f = |k_re: &Tensor| -> Tensor {
            let k = (k_re.clone(), measured.1.clone());
            let x0 = net.consistency.dft(&k, true).unwrap();
            let out = net.forward(&x0, &k).unwrap();
            (out.0 * &w).unwrap().sum_all().unwrap()
        };
        let var = Var::from_tensor(&measured.0).unwrap();
        let grads = f(var.as_tensor()).backward().unwrap();
        let g = grads.get(var.as_tensor()).unwrap();
        let exact = (g * &d)
            .unwrap()
            .sum_all()
            .unwrap()
            .to_scalar::<f64>()
            .unwrap();
        let h = 1e-6;
        let value = |s: f64| {
            f(&(&measured.0 + (&d * s).unwrap()).unwrap())
                .to_scalar::<f64>()
                .unwrap()
        };
        let fd = (value(h) - value(-h)) / (2.0 * h);
        assert!(
            (fd - exact).abs() <= 1e-8 * (1.0 + exact.abs()),
            "{exact} vs {fd}"
        );
    }
}
