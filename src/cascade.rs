//! A deep cascade of CNNs with data-consistency layers (Schlemper et al., IEEE TMI 2018; the
//! lecture's "DeepMRINet"), the trained reconstruction network Ψ of the hallucinations issue:
//!
//! `x₀ = A*y`,  `xᵢ = DC(xᵢ₋₁ + CNNᵢ(xᵢ₋₁))`,  `Ψ(y) = x_D`,
//!
//! each `CNNᵢ` a stack of 3×3 convolutions with ReLU on the real and imaginary parts as two
//! channels, and `DC` the data-consistency layer of [`crate::consistency`]. Built with candle, so
//! that training and the instability test differentiate through it; [`CascadeNet`] is also a
//! [`Reconstructor`] (its vector–Jacobian product by autograd).

use crate::consistency::{Complex, DataConsistency};
use crate::instability::Reconstructor;
use crate::sampling::Mask;
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

/// The network: its convolutions and the data-consistency layer of its mask.
pub struct CascadeNet {
    shape: CascadeShape,
    blocks: Vec<Vec<Conv2d>>,
    consistency: DataConsistency,
    mask: Mask,
}

impl CascadeNet {
    /// Builds the layers from a var builder (fresh variables or stored weights), for `mask`.
    pub fn build(shape: CascadeShape, mask: &Mask, vb: VarBuilder) -> Result<Self> {
        if shape.cascades == 0 || shape.layers < 2 || shape.channels == 0 {
            return Err(Error::Input(format!(
                "a cascade needs at least one block of two convolutions, got {shape:?}"
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

/// `|x|` of a batch, `[B, N, N]`.
pub fn magnitude(x: &Complex) -> Result<Tensor> {
    Ok((x.0.sqr()? + x.1.sqr()?)?.sqrt()?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::instability::InstabilityTest;
    use crate::operator::SubsampledFourier;
    use crate::phantom::shepp_logan;
    use crate::sampling::{mask, Pattern};
    use candle_nn::VarMap;

    fn small_net(dtype: DType) -> (CascadeNet, Mask, VarMap) {
        let m = mask(Pattern::Cartesian, 16, 0.3, 1).unwrap();
        let varmap = VarMap::new();
        let vb = VarBuilder::from_varmap(&varmap, dtype, &Device::Cpu);
        let net = CascadeNet::build(
            CascadeShape {
                cascades: 2,
                layers: 3,
                channels: 4,
            },
            &m,
            vb,
        )
        .unwrap();
        (net, m, varmap)
    }

    #[test]
    fn the_output_is_consistent_with_the_measurements() {
        let (net, m, _) = small_net(DType::F32);
        let a = SubsampledFourier::new(m.clone()).unwrap();
        let y = a.measure(&shepp_logan(16));
        let out = net.reconstruct(&y).unwrap();
        let mut again = vec![Complex32::default(); m.count()];
        crate::operator::LinearOperator::apply(&a, &out, &mut again);
        let gap = crate::operator::distance(&again, &y) / crate::operator::norm(&y);
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
    fn its_gradient_in_the_instability_test_matches_central_differences() {
        let (net, m, _) = small_net(DType::F64);
        let a = SubsampledFourier::new(m).unwrap();
        let x = shepp_logan(16);
        let test = InstabilityTest::new(&a, &net, &x).unwrap();
        let r: Vec<f32> = (0..256)
            .map(|i| ((i * 37 % 11) as f32 - 5.0) * 0.01)
            .collect();
        let g = test.gradient(&r, 0.0).unwrap();
        let d: Vec<f32> = (0..256)
            .map(|i| ((i * 13 % 7) as f32 - 3.0) / 3.0)
            .collect();
        let h = 1e-3f32;
        let plus: Vec<f32> = r.iter().zip(&d).map(|(a, b)| a + h * b).collect();
        let minus: Vec<f32> = r.iter().zip(&d).map(|(a, b)| a - h * b).collect();
        let fd = (test.objective(&plus, 0.0).unwrap() - test.objective(&minus, 0.0).unwrap())
            / (2.0 * h as f64);
        let exact: f64 = g.iter().zip(&d).map(|(a, b)| *a as f64 * *b as f64).sum();
        assert!((fd - exact).abs() <= 1e-2 * exact.abs(), "{exact} vs {fd}");
    }
}
