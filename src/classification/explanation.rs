//! Explanations can be manipulated (Dombrowski, Alber, Anders, Ackermann, Müller & Kessel,
//! "Explanations can be manipulated and geometry is to blame", NeurIPS 2019): an imperceptible
//! change of the input keeps the network's output but makes its saliency map look like any
//! chosen target map.
//!
//! **Saliency maps** of a classifier with logits `g(x) ∈ ℝ¹⁰` for the class `c` (the predicted one
//! unless given): the gradient `h(x) = ∇ₓ g_c(x)` ([`gradient`]) and gradient × input
//! `h(x) = x ⊙ ∇ₓ g_c(x)` ([`gradient_times_input`]). As in the paper, maps are compared after
//! normalisation to unit sum; the absolute values are taken first (our reading for signed maps),
//! `ĥ = |h| / ‖h‖₁` ([`normalise`]), so that `ĥ` says how relevance is spread over the pixels.
//!
//! **The manipulation** (the paper's eq. 4): for a target map `hₜ`, find `x′ = x + δ ∈ [0, 1]⁷⁸⁴`
//! minimising
//!
//! `L(x′) = ‖ĥ(x′) − ĥₜ‖²₂ + γ ‖g(x′) − g(x)‖²₂`,
//!
//! the first term moves the explanation, the second keeps the output. It is minimised by Adam on
//! `δ`, each step projected back onto the box `x + δ ∈ [0, 1]` (and `‖δ‖∞ ≤ ε` if a bound is set),
//! from a small seeded random start ([`Manipulation`], [`manipulate`]).
//!
//! **The second-order gradient.** `∇ₓ′ L` contains the Hessian of the logit, `∂h/∂x′ = ∇²g_c(x′)`,
//! which is zero almost everywhere for a ReLU network (piecewise linear). Following the paper, the
//! optimisation therefore runs on the same network with every ReLU replaced by
//! `softplus_β(t) = ln(1 + e^{βt}) / β` (→ ReLU as `β → ∞`, `0 ≤ softplus_β − ReLU ≤ ln 2 / β`),
//! with the same weights ([`SaliencyNet`], [`Nonlinearity::Softplus`]); `β` grows geometrically
//! from `β₀` to `β₁` over the run, and the result is evaluated on the original ReLU network.
//!
//! (For softmax regression the gradient map is the constant `W_c`: nothing to manipulate.)
//!
//! One step beyond the paper: the CNN's 2×2 max-pooling is smoothed too in that network, to
//! `smax_β(a) = ln Σᵢ e^{βaᵢ} / β` over each window (`softplus_β(t) = smax_β(0, t)` is the same
//! smoothing of `max(0, t)`). On MNIST's exactly black background all four inputs of a pooling
//! window are equal (each convolution sees only zeros), so with a hard maximum the input gradient
//! jumps under small changes there (also after faint noise, which leaves near-ties) and its
//! finite differences (below) are meaningless. With hard pooling, a Hessian–vector product gave
//! `uᵀ∇²g v = 8.8` where second differences of the logit (step 10⁻³) gave 110, and a 100-step run (β 10 → 30,
//! no `ℓ∞` bound) left the ReLU map's Pearson correlation with the target at 0.32; with smooth
//! pooling the two agree to 10⁻³ and the same run reaches 0.58.
//!
//! Candle cannot differentiate a gradient a second time here (the max-pooling, softplus and
//! smooth pooling ops have hand-written backward passes built from plain values, see
//! [`crate::classification::pooling`]), so the Hessian–vector products are central differences
//! of autograd input gradients on the smooth network,
//! `∇²g_c(x′) v ≈ ‖v‖ (∇g_c(x′ + ηv̂) − ∇g_c(x′ − ηv̂)) / (2η)`, `v̂ = v/‖v‖`, error `O(η²)`
//! ([`hessian_vector_product`]). With `u = ∂L/∂h` (through the normalisation,
//! `u_j = sign(h_j) (a_j − ⟨a, ĥ⟩) / ‖h‖₁`, `a = 2(ĥ − ĥₜ)`):
//!
//! - gradient maps: `∇L = ∇²g_c u + Jᵀ r`;
//! - gradient × input: `∇L = u ⊙ ∇g_c + ∇²g_c (u ⊙ x′) + Jᵀ r`;
//!
//! with `r = 2γ (g(x′) − g(x))` and `Jᵀ r` one more autograd pass; `g(x)` is the smooth network's
//! own output at `x` for the step's `β`. A step costs a forward pass and two forward/backward
//! passes (batches of 1 and 3): about 35 ms on the CNN natively (optimised test build on the
//! lab's 2-core build machine).
//!
//! Measured on the shipped CNN (held-out digit 0, a 7; target: the map of the next digit of
//! another class; default settings: 300 steps, `‖δ‖∞ ≤ 0.1`, `β` 10 → 100): the gradient map's
//! Pearson correlation with the target rises from 0.32 to 0.59 on the ReLU network (0.65 on the
//! smooth one), the label stays 7 with `max|Δg| = 0.71`, at `‖δ‖₂/‖x‖₂ = 0.21`; for gradient ×
//! input 0.18 → 0.47, `max|Δg| = 2.2`, `‖δ‖₂/‖x‖₂ = 0.21`. MNIST digits are mostly background,
//! so an `ℓ∞` change of 0.1 spread over it is a visible haze, unlike the paper's ImageNet images.

use crate::classification::classifier::{argmax, Architecture, Classifier};
use crate::classification::mnist::{Digits, CLASSES, PIXELS, SIDE};
use crate::classification::pooling::max_pool2;
use crate::{Error, Result};
use candle_core::{CpuStorage, CustomOp1, DType, Device, Layout, Module, Shape, Tensor, Var};
use candle_nn::{Conv2d, Conv2dConfig, Linear};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

/// Which saliency map is explained.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Method {
    /// `h(x) = ∇ₓ g_c(x)`.
    Gradient,
    /// `h(x) = x ⊙ ∇ₓ g_c(x)`.
    GradientTimesInput,
}

impl Method {
    /// The map's name for pages and reports.
    pub fn name(self) -> &'static str {
        match self {
            Method::Gradient => "gradient",
            Method::GradientTimesInput => "gradient-times-input",
        }
    }

    /// Both maps, in the page's order.
    pub const ALL: [Method; 2] = [Method::Gradient, Method::GradientTimesInput];

    /// The method called `name` ([`Method::name`]).
    pub fn from_name(name: &str) -> Result<Self> {
        Self::ALL
            .into_iter()
            .find(|m| m.name() == name)
            .ok_or_else(|| Error::Input(format!("no saliency map is called “{name}”")))
    }
}

/// The hidden nonlinearity of a [`SaliencyNet`] (the tanh network keeps its tanh either way).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Nonlinearity {
    /// `max(t, 0)`: the network as trained and shipped.
    Relu,
    /// `softplus_β(t) = ln(1 + e^{βt}) / β`, with derivative `sigmoid(βt)` and second derivative
    /// `β sigmoid(βt)(1 − sigmoid(βt))`.
    Softplus { beta: f64 },
}

/// `softplus_β` as a candle op with an exact first derivative.
struct Softplus {
    beta: f64,
}

/// `softplus_β(t)`, computed without overflow as `max(t, 0) + ln(1 + e^{−β|t|}) / β`.
fn softplus(t: f64, beta: f64) -> f64 {
    t.max(0.0) + (-beta * t.abs()).exp().ln_1p() / beta
}

/// `sigmoid(βt)`, the derivative of `softplus_β`.
fn softplus_slope(t: f64, beta: f64) -> f64 {
    let e = (-beta * t.abs()).exp();
    if t >= 0.0 {
        1.0 / (1.0 + e)
    } else {
        e / (1.0 + e)
    }
}

impl CustomOp1 for Softplus {
    fn name(&self) -> &'static str {
        "softplus-beta"
    }

    fn cpu_fwd(
        &self,
        storage: &CpuStorage,
        layout: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        let Some((start, end)) = layout.contiguous_offsets() else {
            candle_core::bail!("softplus needs a contiguous input");
        };
        let b = self.beta;
        let out = match storage {
            CpuStorage::F32(v) => CpuStorage::F32(
                v[start..end]
                    .iter()
                    .map(|&t| softplus(t as f64, b) as f32)
                    .collect(),
            ),
            CpuStorage::F64(v) => {
                CpuStorage::F64(v[start..end].iter().map(|&t| softplus(t, b)).collect())
            }
            _ => candle_core::bail!("softplus supports f32 and f64"),
        };
        Ok((out, layout.shape().clone()))
    }

    fn bwd(
        &self,
        arg: &Tensor,
        _res: &Tensor,
        grad_res: &Tensor,
    ) -> candle_core::Result<Option<Tensor>> {
        let b = self.beta;
        let slope = match arg.dtype() {
            DType::F32 => {
                let t = arg.flatten_all()?.to_vec1::<f32>()?;
                let s: Vec<f32> = t
                    .iter()
                    .map(|&t| softplus_slope(t as f64, b) as f32)
                    .collect();
                Tensor::from_vec(s, arg.shape(), arg.device())?
            }
            DType::F64 => {
                let t = arg.flatten_all()?.to_vec1::<f64>()?;
                let s: Vec<f64> = t.iter().map(|&t| softplus_slope(t, b)).collect();
                Tensor::from_vec(s, arg.shape(), arg.device())?
            }
            dt => candle_core::bail!("softplus supports f32 and f64, not {dt:?}"),
        };
        Ok(Some(grad_res.mul(&slope)?))
    }
}

/// 2×2 pooling by the smooth maximum `smax_β(a) = ln Σᵢ e^{βaᵢ} / β` (stride 2), whose gradient
/// is `softmax(βa)`: `max ≤ smax_β ≤ max + ln 4 / β`. With `softplus_β(t) = smax_β(0, t)` it is
/// the same smoothing applied to the pooling's maximum.
struct SmoothMaxPool {
    beta: f64,
}

/// The four inputs of output `(plane, i, j)` of planes `h × w`.
fn window(plane: usize, h: usize, w: usize, i: usize, j: usize) -> [usize; 4] {
    let k = plane * h * w + 2 * i * w + 2 * j;
    [k, k + 1, k + w, k + w + 1]
}

/// `smax_β` of a window and its softmax weights.
fn smooth_max(a: [f64; 4], beta: f64) -> (f64, [f64; 4]) {
    let m = a.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let e = a.map(|v| (beta * (v - m)).exp());
    let s: f64 = e.iter().sum();
    (m + s.ln() / beta, e.map(|v| v / s))
}

impl SmoothMaxPool {
    fn planes(shape: &Shape) -> candle_core::Result<(usize, usize, usize, usize)> {
        let (b, c, h, w) = shape.dims4()?;
        if h % 2 != 0 || w % 2 != 0 {
            candle_core::bail!("2×2 pooling needs even sides, got {h}×{w}");
        }
        Ok((b, c, h, w))
    }

    /// `(outputs, input gradient)` for values `x` and output gradients `g` (if given).
    fn run(&self, x: &[f64], g: Option<&[f64]>, planes: usize, h: usize, w: usize) -> Vec<f64> {
        let (oh, ow) = (h / 2, w / 2);
        let mut out = vec![
            0.0;
            if g.is_some() {
                x.len()
            } else {
                planes * oh * ow
            }
        ];
        for plane in 0..planes {
            for i in 0..oh {
                for j in 0..ow {
                    let idx = window(plane, h, w, i, j);
                    let (v, p) = smooth_max(idx.map(|k| x[k]), self.beta);
                    let o = (plane * oh + i) * ow + j;
                    match g {
                        None => out[o] = v,
                        Some(g) => {
                            for (k, pk) in idx.iter().zip(p) {
                                out[*k] += g[o] * pk;
                            }
                        }
                    }
                }
            }
        }
        out
    }
}

impl CustomOp1 for SmoothMaxPool {
    fn name(&self) -> &'static str {
        "smooth-max-pool-2x2"
    }

    fn cpu_fwd(
        &self,
        storage: &CpuStorage,
        layout: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        let (b, c, h, w) = Self::planes(layout.shape())?;
        let Some((start, end)) = layout.contiguous_offsets() else {
            candle_core::bail!("2×2 pooling needs a contiguous input");
        };
        let out = match storage {
            CpuStorage::F32(v) => {
                let x: Vec<f64> = v[start..end].iter().map(|&a| a as f64).collect();
                CpuStorage::F32(
                    self.run(&x, None, b * c, h, w)
                        .into_iter()
                        .map(|a| a as f32)
                        .collect(),
                )
            }
            CpuStorage::F64(v) => CpuStorage::F64(self.run(&v[start..end], None, b * c, h, w)),
            _ => candle_core::bail!("2×2 pooling supports f32 and f64"),
        };
        Ok((out, Shape::from((b, c, h / 2, w / 2))))
    }

    fn bwd(
        &self,
        arg: &Tensor,
        _res: &Tensor,
        grad_res: &Tensor,
    ) -> candle_core::Result<Option<Tensor>> {
        let (b, c, h, w) = Self::planes(arg.shape())?;
        let values = |t: &Tensor| -> candle_core::Result<Vec<f64>> {
            t.flatten_all()?.to_dtype(DType::F64)?.to_vec1::<f64>()
        };
        let (x, g) = (values(arg)?, values(grad_res)?);
        let grad = self.run(&x, Some(&g), b * c, h, w);
        Ok(Some(
            Tensor::from_vec(grad, (b, c, h, w), arg.device())?.to_dtype(arg.dtype())?,
        ))
    }
}

/// One `Vec` per point of a batch.
pub type Rows = Vec<Vec<f64>>;

/// A shipped classifier rebuilt with a chosen hidden nonlinearity and the same weights, for
/// saliency maps: with [`Nonlinearity::Relu`] it computes exactly what [`Classifier`] computes;
/// with [`Nonlinearity::Softplus`] it is the smooth stand-in whose Hessian is not zero.
#[derive(Clone, Debug)]
pub struct SaliencyNet {
    architecture: Architecture,
    conv: Vec<Conv2d>,
    fc: Vec<Linear>,
    nonlinearity: Nonlinearity,
    dtype: DType,
    device: Device,
}

impl SaliencyNet {
    /// The classifier's weights in `dtype` (f32 for speed, f64 for finite-difference tests).
    pub fn from_classifier(
        classifier: &Classifier,
        nonlinearity: Nonlinearity,
        dtype: DType,
    ) -> Result<Self> {
        let architecture = classifier.architecture();
        let device = classifier.device();
        let params = classifier.parameters()?;
        let shapes = architecture.parameter_shapes();
        let tensor = |name: String| -> Result<Tensor> {
            let values = params
                .get(&name)
                .ok_or_else(|| Error::Data(format!("parameter {name} missing")))?;
            let shape = shapes
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, s)| s.clone())
                .ok_or_else(|| Error::Data(format!("parameter {name} has no shape")))?;
            Ok(Tensor::from_slice(values, shape.as_slice(), &device)?.to_dtype(dtype)?)
        };
        let dense = |name: &str| -> Result<Linear> {
            Ok(Linear::new(
                tensor(format!("{name}.weight"))?,
                Some(tensor(format!("{name}.bias"))?),
            ))
        };
        let convolution = |name: &str| -> Result<Conv2d> {
            Ok(Conv2d::new(
                tensor(format!("{name}.weight"))?,
                Some(tensor(format!("{name}.bias"))?),
                Conv2dConfig::default(),
            ))
        };
        let (conv, fc) = match architecture {
            Architecture::Linear => (vec![], vec![dense("fc")?]),
            Architecture::Mlp | Architecture::MlpTanh => {
                (vec![], vec![dense("fc1")?, dense("fc2")?, dense("fc3")?])
            }
            Architecture::Cnn | Architecture::CnnWide => (
                vec![convolution("conv1")?, convolution("conv2")?],
                vec![dense("fc1")?, dense("fc2")?],
            ),
        };
        let net = Self {
            architecture,
            conv,
            fc,
            nonlinearity: Nonlinearity::Relu,
            dtype,
            device,
        };
        net.with_nonlinearity(nonlinearity)
    }

    /// The same weights with another nonlinearity (the tensors are shared, not copied).
    pub fn with_nonlinearity(&self, nonlinearity: Nonlinearity) -> Result<Self> {
        if let Nonlinearity::Softplus { beta } = nonlinearity {
            if !(beta.is_finite() && beta > 0.0) {
                return Err(Error::Input(format!(
                    "the softplus β must be positive, got {beta}"
                )));
            }
        }
        Ok(Self {
            nonlinearity,
            ..self.clone()
        })
    }

    /// The hidden nonlinearity.
    pub fn nonlinearity(&self) -> Nonlinearity {
        self.nonlinearity
    }

    /// The architecture.
    pub fn architecture(&self) -> Architecture {
        self.architecture
    }

    fn sigma(&self, t: &Tensor) -> candle_core::Result<Tensor> {
        match self.nonlinearity {
            Nonlinearity::Relu => t.relu(),
            Nonlinearity::Softplus { beta } => t.contiguous()?.apply_op1(Softplus { beta }),
        }
    }

    /// 2×2 max-pooling, or its smooth version next to softplus.
    fn pool(&self, t: &Tensor) -> candle_core::Result<Tensor> {
        match self.nonlinearity {
            Nonlinearity::Relu => max_pool2(t),
            Nonlinearity::Softplus { beta } => t.contiguous()?.apply_op1(SmoothMaxPool { beta }),
        }
    }

    /// Logits `g(x)` for a batch `x` of shape `[B, 784]`.
    pub fn logits(&self, x: &Tensor) -> Result<Tensor> {
        Ok(self.forward(x)?)
    }

    /// Logits and input gradients of a batch of points: for each row `x_b` (784 values) and
    /// weight row `w_b` (10 values), `(g(x_b), ∇ₓ Σₖ w_{b,k} g_k(x_b))`, in f64.
    pub fn logits_and_gradients(&self, xs: &[&[f64]], ws: &[&[f64]]) -> Result<(Rows, Rows)> {
        let b = xs.len();
        if b == 0 || ws.len() != b {
            return Err(Error::Input(format!(
                "{b} points and {} weight rows",
                ws.len()
            )));
        }
        if xs.iter().any(|x| x.len() != PIXELS) || ws.iter().any(|w| w.len() != CLASSES) {
            return Err(Error::Input(format!(
                "points have {PIXELS} values and weight rows {CLASSES}"
            )));
        }
        let flat =
            |rows: &[&[f64]]| -> Vec<f64> { rows.iter().flat_map(|r| r.iter()).copied().collect() };
        let x = Tensor::from_vec(flat(xs), (b, PIXELS), &self.device)?.to_dtype(self.dtype)?;
        let w = Tensor::from_vec(flat(ws), (b, CLASSES), &self.device)?.to_dtype(self.dtype)?;
        let var = Var::from_tensor(&x)?;
        let logits = self.forward(var.as_tensor())?;
        let grads = (&logits * &w)?.sum_all()?.backward()?;
        let grad = grads
            .get(var.as_tensor())
            .ok_or_else(|| Error::Input("the input does not influence the output".into()))?;
        let rows =
            |t: &Tensor| -> Result<Vec<Vec<f64>>> { Ok(t.to_dtype(DType::F64)?.to_vec2::<f64>()?) };
        Ok((rows(&logits)?, rows(grad)?))
    }

    /// `(g(x), ∇ₓ g_c(x))` at one point.
    pub fn logits_and_gradient(&self, x: &[f64], class: usize) -> Result<(Vec<f64>, Vec<f64>)> {
        check_class(class)?;
        let (mut l, mut g) = self.logits_and_gradients(&[x], &[&unit(class)])?;
        Ok((l.remove(0), g.remove(0)))
    }

    /// The raw saliency map `h(x)` of `class` (the predicted class if `None`), with the class and
    /// the logits.
    pub fn saliency(
        &self,
        x: &[f64],
        class: Option<usize>,
        method: Method,
    ) -> Result<(usize, Vec<f64>, Vec<f64>)> {
        let (logits, map) = match class {
            Some(c) => self.logits_and_gradient(x, c)?,
            None => {
                let logits = self.logits_f64(x)?;
                self.logits_and_gradient(x, argmax(&logits))?
            }
        };
        let c = class.unwrap_or_else(|| argmax(&logits));
        let map = match method {
            Method::Gradient => map,
            Method::GradientTimesInput => map.iter().zip(x).map(|(g, v)| g * v).collect(),
        };
        Ok((c, logits, map))
    }

    /// `g(x)` of one point, in f64.
    pub fn logits_f64(&self, x: &[f64]) -> Result<Vec<f64>> {
        if x.len() != PIXELS {
            return Err(Error::Input(format!(
                "an image has {PIXELS} pixels, this one has {}",
                x.len()
            )));
        }
        let t = Tensor::from_slice(x, (1, PIXELS), &self.device)?.to_dtype(self.dtype)?;
        Ok(self
            .forward(&t)?
            .to_dtype(DType::F64)?
            .flatten_all()?
            .to_vec1::<f64>()?)
    }
}

impl Module for SaliencyNet {
    fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        match self.architecture {
            Architecture::Linear => self.fc[0].forward(x),
            Architecture::Mlp | Architecture::MlpTanh => {
                let sigma = |t: &Tensor| match self.architecture {
                    Architecture::MlpTanh => t.tanh(),
                    _ => self.sigma(t),
                };
                let h = sigma(&self.fc[0].forward(x)?)?;
                let h = sigma(&self.fc[1].forward(&h)?)?;
                self.fc[2].forward(&h)
            }
            Architecture::Cnn | Architecture::CnnWide => {
                let b = x.dim(0)?;
                let h = x.reshape((b, 1, SIDE, SIDE))?;
                let h = self.pool(&self.sigma(&self.conv[0].forward(&h)?)?)?;
                let h = self.pool(&self.sigma(&self.conv[1].forward(&h)?)?)?;
                let h = h.flatten_from(1)?;
                let h = self.sigma(&self.fc[0].forward(&h)?)?;
                self.fc[1].forward(&h)
            }
        }
    }
}

fn check_class(class: usize) -> Result<()> {
    if class >= CLASSES {
        return Err(Error::Input(format!("class {class} is not a digit")));
    }
    Ok(())
}

/// The unit vector `e_c ∈ ℝ¹⁰`.
fn unit(class: usize) -> Vec<f64> {
    let mut e = vec![0.0; CLASSES];
    e[class] = 1.0;
    e
}

fn to_f64(x: &[f32]) -> Vec<f64> {
    x.iter().map(|&v| v as f64).collect()
}

fn to_f32(x: &[f64]) -> Vec<f32> {
    x.iter().map(|&v| v as f32).collect()
}

fn check_image(x: &[f32]) -> Result<()> {
    crate::classification::classifier::check_image(x)?;
    if x.iter().any(|v| !(0.0..=1.0).contains(v)) {
        return Err(Error::Input("pixel intensities must lie in [0, 1]".into()));
    }
    Ok(())
}

/// The gradient map `∇ₓ g_c(x)` of a classifier at one image (784 values), for `class` or the
/// predicted class; returns the class and the map.
pub fn gradient(
    classifier: &Classifier,
    x: &[f32],
    class: Option<usize>,
) -> Result<(usize, Vec<f32>)> {
    crate::classification::classifier::check_image(x)?;
    let c = match class {
        Some(c) => {
            check_class(c)?;
            c
        }
        None => classifier.classify(x)?.label,
    };
    let device = classifier.device();
    let xt = Tensor::from_slice(x, (1, PIXELS), &device)?.to_dtype(classifier.dtype())?;
    let w =
        Tensor::from_vec(to_f32(&unit(c)), (1, CLASSES), &device)?.to_dtype(classifier.dtype())?;
    let g = classifier.input_gradient(&xt, &w)?;
    Ok((c, g.to_dtype(DType::F32)?.flatten_all()?.to_vec1::<f32>()?))
}

/// The gradient × input map `x ⊙ ∇ₓ g_c(x)` (Shrikumar et al. 2016), for `class` or the predicted
/// class; returns the class and the map.
pub fn gradient_times_input(
    classifier: &Classifier,
    x: &[f32],
    class: Option<usize>,
) -> Result<(usize, Vec<f32>)> {
    let (c, g) = gradient(classifier, x, class)?;
    Ok((c, g.iter().zip(x).map(|(g, v)| g * v).collect()))
}

/// The map of `method` (see [`gradient`], [`gradient_times_input`]).
pub fn explanation(
    classifier: &Classifier,
    x: &[f32],
    class: Option<usize>,
    method: Method,
) -> Result<(usize, Vec<f32>)> {
    match method {
        Method::Gradient => gradient(classifier, x, class),
        Method::GradientTimesInput => gradient_times_input(classifier, x, class),
    }
}

/// `ĥ = |h| / ‖h‖₁`: a map as the paper compares them (non-negative, unit sum).
pub fn normalise(h: &[f64]) -> Result<Vec<f64>> {
    let s: f64 = h.iter().map(|v| v.abs()).sum();
    if !(s.is_finite() && s > 0.0) {
        return Err(Error::Input(
            "the explanation is zero everywhere (or not finite)".into(),
        ));
    }
    Ok(h.iter().map(|v| v.abs() / s).collect())
}

/// Pearson's correlation of two maps (0 if either is constant).
pub fn pearson(a: &[f64], b: &[f64]) -> f64 {
    let n = a.len().min(b.len()) as f64;
    let (ma, mb) = (a.iter().sum::<f64>() / n, b.iter().sum::<f64>() / n);
    let (mut sab, mut saa, mut sbb) = (0.0, 0.0, 0.0);
    for (x, y) in a.iter().zip(b) {
        let (dx, dy) = (x - ma, y - mb);
        sab += dx * dy;
        saa += dx * dx;
        sbb += dy * dy;
    }
    if saa <= 0.0 || sbb <= 0.0 {
        0.0
    } else {
        sab / (saa * sbb).sqrt()
    }
}

/// The cosine of the angle between two maps (0 if either is zero).
pub fn cosine(a: &[f64], b: &[f64]) -> f64 {
    let ab: f64 = a.iter().zip(b).map(|(x, y)| x * y).sum();
    let na = a.iter().map(|x| x * x).sum::<f64>().sqrt();
    let nb = b.iter().map(|x| x * x).sum::<f64>().sqrt();
    if na <= 0.0 || nb <= 0.0 {
        0.0
    } else {
        ab / (na * nb)
    }
}

/// How close a normalised map is to the normalised target.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Similarity {
    /// Pearson's correlation of `ĥ` and `ĥₜ`.
    pub pearson: f64,
    /// `⟨ĥ, ĥₜ⟩ / (‖ĥ‖₂‖ĥₜ‖₂)`.
    pub cosine: f64,
    /// `‖ĥ − ĥₜ‖²₂`, the explanation term of the loss.
    pub distance: f64,
}

impl Similarity {
    /// Of two normalised maps.
    pub fn of(map: &[f64], target: &[f64]) -> Self {
        Self {
            pearson: pearson(map, target),
            cosine: cosine(map, target),
            distance: map.iter().zip(target).map(|(a, b)| (a - b).powi(2)).sum(),
        }
    }
}

/// `∇²g_c(x) v` by central differences of the input gradient of `net` (which should be smooth:
/// a [`Nonlinearity::Softplus`] network), with step `η` along `v/‖v‖`:
/// `‖v‖ (∇g_c(x + ηv̂) − ∇g_c(x − ηv̂)) / (2η)`.
pub fn hessian_vector_product(
    net: &SaliencyNet,
    x: &[f64],
    class: usize,
    v: &[f64],
    step: f64,
) -> Result<Vec<f64>> {
    check_class(class)?;
    let e = unit(class);
    let (points, scale) = difference_points(x, v, step)?;
    if scale == 0.0 {
        return Ok(vec![0.0; x.len()]);
    }
    let (_, g) = net.logits_and_gradients(&[&points[0], &points[1]], &[&e, &e])?;
    Ok(central(&g[0], &g[1], scale, step))
}

/// `x ± ηv̂` and `‖v‖`.
fn difference_points(x: &[f64], v: &[f64], step: f64) -> Result<([Vec<f64>; 2], f64)> {
    if !(step.is_finite() && step > 0.0) {
        return Err(Error::Input(format!(
            "the difference step must be positive, got {step}"
        )));
    }
    let norm = v.iter().map(|a| a * a).sum::<f64>().sqrt();
    if norm == 0.0 {
        return Ok(([x.to_vec(), x.to_vec()], 0.0));
    }
    let at = |s: f64| -> Vec<f64> {
        x.iter()
            .zip(v)
            .map(|(a, b)| a + s * step * b / norm)
            .collect()
    };
    Ok(([at(1.0), at(-1.0)], norm))
}

fn central(plus: &[f64], minus: &[f64], scale: f64, step: f64) -> Vec<f64> {
    plus.iter()
        .zip(minus)
        .map(|(p, m)| scale * (p - m) / (2.0 * step))
        .collect()
}

/// The two terms of the manipulation loss at a point.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Loss {
    /// `‖ĥ(x′) − ĥₜ‖²₂`.
    pub explanation: f64,
    /// `γ ‖g(x′) − g(x)‖²₂`.
    pub output: f64,
}

impl Loss {
    /// The sum of both terms.
    pub fn total(&self) -> f64 {
        self.explanation + self.output
    }
}

/// The manipulation loss `L(x′) = ‖ĥ(x′) − ĥₜ‖²₂ + γ‖g(x′) − g(x)‖²₂` on one network (the smooth
/// one during the optimisation), for the explained class `c`.
#[derive(Clone, Debug)]
pub struct Objective<'n> {
    pub net: &'n SaliencyNet,
    pub method: Method,
    pub class: usize,
    /// `ĥₜ`, normalised.
    pub target: Vec<f64>,
    /// `g(x)`, the output to keep.
    pub reference: Vec<f64>,
    /// `γ`.
    pub gamma: f64,
    /// `η`, the step of the Hessian–vector differences.
    pub step: f64,
}

/// What one evaluation of the objective sees.
#[derive(Clone, Debug)]
pub struct Evaluation {
    pub loss: Loss,
    /// `g(x′)`.
    pub logits: Vec<f64>,
    /// `ĥ(x′)`.
    pub map: Vec<f64>,
}

impl Objective<'_> {
    fn terms(&self, x: &[f64], logits: &[f64], grad: &[f64]) -> Result<(Evaluation, Vec<f64>)> {
        let h: Vec<f64> = match self.method {
            Method::Gradient => grad.to_vec(),
            Method::GradientTimesInput => grad.iter().zip(x).map(|(g, v)| g * v).collect(),
        };
        let map = normalise(&h)?;
        let explanation: f64 = map
            .iter()
            .zip(&self.target)
            .map(|(a, b)| (a - b).powi(2))
            .sum();
        let output = self.gamma
            * logits
                .iter()
                .zip(&self.reference)
                .map(|(a, b)| (a - b).powi(2))
                .sum::<f64>();
        Ok((
            Evaluation {
                loss: Loss {
                    explanation,
                    output,
                },
                logits: logits.to_vec(),
                map,
            },
            h,
        ))
    }

    /// `L(x′)` (one forward and backward pass).
    pub fn value(&self, x: &[f64]) -> Result<Evaluation> {
        let (logits, grad) = self.net.logits_and_gradient(x, self.class)?;
        Ok(self.terms(x, &logits, &grad)?.0)
    }

    /// `L(x′)` and `∇L(x′)` (see the module's documentation for the formula).
    pub fn value_and_gradient(&self, x: &[f64]) -> Result<(Evaluation, Vec<f64>)> {
        let (logits, grad) = self.net.logits_and_gradient(x, self.class)?;
        let (eval, h) = self.terms(x, &logits, &grad)?;
        // u = ∂L/∂h through ĥ = |h| / ‖h‖₁.
        let s: f64 = h.iter().map(|v| v.abs()).sum();
        let a: Vec<f64> = eval
            .map
            .iter()
            .zip(&self.target)
            .map(|(m, t)| 2.0 * (m - t))
            .collect();
        let mean: f64 = a.iter().zip(&eval.map).map(|(a, m)| a * m).sum();
        let u: Vec<f64> = h
            .iter()
            .zip(&a)
            .map(|(hj, aj)| {
                if *hj == 0.0 {
                    0.0
                } else {
                    hj.signum() * (aj - mean) / s
                }
            })
            .collect();
        let v: Vec<f64> = match self.method {
            Method::Gradient => u.clone(),
            Method::GradientTimesInput => u.iter().zip(x).map(|(a, b)| a * b).collect(),
        };
        let r: Vec<f64> = logits
            .iter()
            .zip(&self.reference)
            .map(|(a, b)| 2.0 * self.gamma * (a - b))
            .collect();
        let e = unit(self.class);
        let ([plus, minus], scale) = difference_points(x, &v, self.step)?;
        let (_, g) = self
            .net
            .logits_and_gradients(&[&plus, &minus, x], &[&e, &e, &r])?;
        let mut total = if scale == 0.0 {
            vec![0.0; x.len()]
        } else {
            central(&g[0], &g[1], scale, self.step)
        };
        for (t, jr) in total.iter_mut().zip(&g[2]) {
            *t += jr;
        }
        if self.method == Method::GradientTimesInput {
            for ((t, uj), gj) in total.iter_mut().zip(&u).zip(&grad) {
                *t += uj * gj;
            }
        }
        Ok((eval, total))
    }
}

/// Settings of the manipulation.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct ManipulationSettings {
    pub method: Method,
    /// Adam steps.
    pub steps: usize,
    /// Adam's step size (in pixel intensity).
    pub learning_rate: f64,
    /// `γ`, the weight of the output term.
    pub gamma: f64,
    /// `β` of the softplus at the first step…
    pub beta_start: f64,
    /// …and at the last (geometric in between).
    pub beta_end: f64,
    /// `η`, the step of the Hessian–vector differences.
    pub difference_step: f64,
    /// `‖δ‖∞ ≤ ε` (1 leaves only the pixel range).
    pub max_change: f64,
    /// The start `δ₀ ~ U(−σ, σ)⁷⁸⁴` (projected), so that pixels at 0 get a gradient × input.
    pub start_noise: f64,
    pub seed: u64,
    /// A [`HistoryPoint`] every this many steps (and at the end).
    pub record_every: usize,
}

impl Default for ManipulationSettings {
    fn default() -> Self {
        Self {
            method: Method::Gradient,
            steps: 300,
            learning_rate: 2e-3,
            gamma: 1e-4,
            beta_start: 10.0,
            beta_end: 100.0,
            difference_step: 1e-3,
            max_change: 0.1,
            start_noise: 1e-3,
            seed: 0,
            record_every: 10,
        }
    }
}

impl ManipulationSettings {
    fn check(&self) -> Result<()> {
        let positive = |v: f64| v.is_finite() && v > 0.0;
        if self.steps == 0 || self.record_every == 0 {
            return Err(Error::Input(
                "the manipulation needs at least one step and a record interval".into(),
            ));
        }
        for (name, v) in [
            ("learning rate", self.learning_rate),
            ("β₀", self.beta_start),
            ("β₁", self.beta_end),
            ("difference step", self.difference_step),
            ("largest change", self.max_change),
        ] {
            if !positive(v) {
                return Err(Error::Input(format!(
                    "the {name} must be positive, got {v}"
                )));
            }
        }
        let non_negative = |v: f64| v.is_finite() && v >= 0.0;
        if !non_negative(self.gamma) || !non_negative(self.start_noise) {
            return Err(Error::Input("γ and the start noise must be ≥ 0".into()));
        }
        Ok(())
    }

    /// `β` at step `t` of `T`: `β₀ (β₁/β₀)^{t/(T−1)}`.
    pub fn beta(&self, step: usize) -> f64 {
        if self.steps <= 1 {
            return self.beta_end;
        }
        let f = step.min(self.steps - 1) as f64 / (self.steps - 1) as f64;
        self.beta_start * (self.beta_end / self.beta_start).powf(f)
    }
}

/// The state every `record_every` steps.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HistoryPoint {
    /// Adam steps taken.
    pub step: usize,
    /// The softplus `β` of the step.
    pub beta: f64,
    /// The loss on the smooth network.
    pub loss: Loss,
    /// The smooth network's map against the target (what is optimised).
    pub smooth: Similarity,
    /// The ReLU network's map against the target (what a user sees).
    pub relu: Similarity,
    /// The ReLU network's label at `x + δ`.
    pub label: usize,
    /// `maxₖ |gₖ(x + δ) − gₖ(x)|` of the ReLU network.
    pub max_logit_change: f64,
    /// `‖δ‖₂`.
    pub delta_l2: f64,
}

/// The manipulation's answer (images and maps row-major 28×28; maps normalised, `ĥ = |h|/‖h‖₁`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ManipulationResult {
    pub model: Architecture,
    pub settings: ManipulationSettings,
    /// The explained class `c` (the ReLU network's label of `x`).
    pub class: usize,
    pub original: Vec<f32>,
    pub manipulated: Vec<f32>,
    /// `δ = x′ − x`.
    pub delta: Vec<f32>,
    pub delta_l2: f64,
    /// `‖δ‖₂ / ‖x‖₂`.
    pub delta_relative: f64,
    pub delta_linf: f64,
    /// `ĥ(x)`, ReLU network.
    pub original_explanation: Vec<f32>,
    /// `ĥ(x′)`, ReLU network.
    pub manipulated_explanation: Vec<f32>,
    /// `ĥ(x′)` of the smooth network at the last `β`.
    pub smooth_explanation: Vec<f32>,
    /// `ĥₜ`.
    pub target: Vec<f32>,
    pub label_before: usize,
    pub label_after: usize,
    /// ReLU logits `g(x)` and `g(x′)`.
    pub logits_before: Vec<f32>,
    pub logits_after: Vec<f32>,
    /// `maxₖ |gₖ(x′) − gₖ(x)|`, ReLU network.
    pub max_logit_change: f64,
    /// `ĥ(x)` against `ĥₜ` (ReLU).
    pub similarity_before: Similarity,
    /// `ĥ(x′)` against `ĥₜ` (ReLU).
    pub similarity_after: Similarity,
    /// `ĥ(x′)` against `ĥₜ` on the smooth network at the last `β`.
    pub similarity_after_smooth: Similarity,
    pub history: Vec<HistoryPoint>,
}

/// The manipulation, one Adam step at a time (so that a worker can report progress and stop).
pub struct Manipulation {
    relu: SaliencyNet,
    settings: ManipulationSettings,
    x: Vec<f64>,
    class: usize,
    target: Vec<f64>,
    relu_logits: Vec<f64>,
    relu_map: Vec<f64>,
    delta: Vec<f64>,
    lower: Vec<f64>,
    upper: Vec<f64>,
    m: Vec<f64>,
    v: Vec<f64>,
    step: usize,
    history: Vec<HistoryPoint>,
    last: Option<(f64, Evaluation)>,
}

impl Manipulation {
    /// Starts at image `x` (784 intensities in `[0, 1]`) towards the map `target` (784 values,
    /// any sign; it is normalised), explaining the classifier's label of `x`. The optimisation
    /// runs in f32.
    pub fn new(
        classifier: &Classifier,
        x: &[f32],
        target: &[f32],
        settings: ManipulationSettings,
    ) -> Result<Self> {
        Self::with_dtype(classifier, x, target, settings, DType::F32)
    }

    /// [`Manipulation::new`] with the networks in `dtype`.
    pub fn with_dtype(
        classifier: &Classifier,
        x: &[f32],
        target: &[f32],
        settings: ManipulationSettings,
        dtype: DType,
    ) -> Result<Self> {
        settings.check()?;
        check_image(x)?;
        if target.len() != PIXELS || target.iter().any(|v| !v.is_finite()) {
            return Err(Error::Input(format!(
                "the target map needs {PIXELS} finite values"
            )));
        }
        let target = normalise(&to_f64(target))?;
        let relu = SaliencyNet::from_classifier(classifier, Nonlinearity::Relu, dtype)?;
        let x = to_f64(x);
        let (class, relu_logits, h) = relu.saliency(&x, None, settings.method)?;
        let relu_map = normalise(&h)?;
        let lower: Vec<f64> = x.iter().map(|v| (-v).max(-settings.max_change)).collect();
        let upper: Vec<f64> = x
            .iter()
            .map(|v| (1.0 - v).min(settings.max_change))
            .collect();
        let mut rng = ChaCha8Rng::seed_from_u64(settings.seed);
        let sigma = settings.start_noise;
        let delta: Vec<f64> = (0..PIXELS)
            .map(|i| {
                let d = if sigma > 0.0 {
                    rng.random_range(-sigma..sigma)
                } else {
                    0.0
                };
                d.clamp(lower[i], upper[i])
            })
            .collect();
        Ok(Self {
            relu,
            settings,
            x,
            class,
            target,
            relu_logits,
            relu_map,
            delta,
            lower,
            upper,
            m: vec![0.0; PIXELS],
            v: vec![0.0; PIXELS],
            step: 0,
            history: Vec::new(),
            last: None,
        })
    }

    /// Steps taken and steps in all.
    pub fn progress(&self) -> (usize, usize) {
        (self.step, self.settings.steps)
    }

    /// Whether every step has run.
    pub fn is_done(&self) -> bool {
        self.step >= self.settings.steps
    }

    /// The explained class.
    pub fn class(&self) -> usize {
        self.class
    }

    /// The history so far.
    pub fn history(&self) -> &[HistoryPoint] {
        &self.history
    }

    fn point(&self) -> Vec<f64> {
        self.x.iter().zip(&self.delta).map(|(a, b)| a + b).collect()
    }

    fn smooth(&self, beta: f64) -> Result<SaliencyNet> {
        self.relu.with_nonlinearity(Nonlinearity::Softplus { beta })
    }

    fn objective<'n>(&self, net: &'n SaliencyNet) -> Result<Objective<'n>> {
        Ok(Objective {
            net,
            method: self.settings.method,
            class: self.class,
            target: self.target.clone(),
            // The output to keep: the smooth network's own at x (it tends to the ReLU one).
            reference: net.logits_f64(&self.x)?,
            gamma: self.settings.gamma,
            step: self.settings.difference_step,
        })
    }

    /// The ReLU network at `x′`: its logits and normalised map.
    fn relu_at(&self, point: &[f64]) -> Result<(Vec<f64>, Vec<f64>)> {
        let (_, logits, h) = self
            .relu
            .saliency(point, Some(self.class), self.settings.method)?;
        Ok((logits, normalise(&h)?))
    }

    fn record(&mut self, beta: f64, eval: &Evaluation) -> Result<()> {
        let point = self.point();
        let (logits, map) = self.relu_at(&point)?;
        self.history.push(HistoryPoint {
            step: self.step,
            beta,
            loss: eval.loss,
            smooth: Similarity::of(&eval.map, &self.target),
            relu: Similarity::of(&map, &self.target),
            label: argmax(&logits),
            max_logit_change: max_abs_difference(&logits, &self.relu_logits),
            delta_l2: norm2(&self.delta),
        });
        Ok(())
    }

    /// One projected Adam step on `δ`.
    pub fn step(&mut self) -> Result<()> {
        if self.is_done() {
            return Ok(());
        }
        let beta = self.settings.beta(self.step);
        let net = self.smooth(beta)?;
        let objective = self.objective(&net)?;
        let point = self.point();
        let (eval, grad) = objective.value_and_gradient(&point)?;
        if grad.iter().any(|g| !g.is_finite()) {
            return Err(Error::Input(
                "the manipulation's gradient is not finite".into(),
            ));
        }
        if self.step.is_multiple_of(self.settings.record_every) {
            self.record(beta, &eval)?;
        }
        let (b1, b2, eps) = (0.9, 0.999, 1e-8);
        let t = (self.step + 1) as i32;
        let (c1, c2) = (1.0 - f64::powi(b1, t), 1.0 - f64::powi(b2, t));
        let lr = self.settings.learning_rate;
        for (i, &g) in grad.iter().enumerate() {
            self.m[i] = b1 * self.m[i] + (1.0 - b1) * g;
            self.v[i] = b2 * self.v[i] + (1.0 - b2) * g * g;
            let update = lr * (self.m[i] / c1) / ((self.v[i] / c2).sqrt() + eps);
            self.delta[i] = (self.delta[i] - update).clamp(self.lower[i], self.upper[i]);
        }
        self.step += 1;
        self.last = Some((beta, eval));
        Ok(())
    }

    /// The answer at the current `δ` (after the last step; also records the final history point).
    pub fn finish(mut self) -> Result<ManipulationResult> {
        let beta = self.settings.beta(self.step);
        let net = self.smooth(beta)?;
        let objective = self.objective(&net)?;
        let point = self.point();
        let eval = objective.value(&point)?;
        if self.history.last().map(|h| h.step) != Some(self.step) {
            self.record(beta, &eval)?;
        }
        let (logits, map) = self.relu_at(&point)?;
        let delta: Vec<f64> = point.iter().zip(&self.x).map(|(a, b)| a - b).collect();
        let delta_l2 = norm2(&delta);
        Ok(ManipulationResult {
            model: self.relu.architecture(),
            settings: self.settings,
            class: self.class,
            original: to_f32(&self.x),
            manipulated: to_f32(&point),
            delta: to_f32(&delta),
            delta_l2,
            delta_relative: delta_l2 / norm2(&self.x).max(f64::MIN_POSITIVE),
            delta_linf: delta.iter().fold(0.0, |m, d| m.max(d.abs())),
            original_explanation: to_f32(&self.relu_map),
            manipulated_explanation: to_f32(&map),
            smooth_explanation: to_f32(&eval.map),
            target: to_f32(&self.target),
            label_before: self.class,
            label_after: argmax(&logits),
            logits_before: to_f32(&self.relu_logits),
            logits_after: to_f32(&logits),
            max_logit_change: max_abs_difference(&logits, &self.relu_logits),
            similarity_before: Similarity::of(&self.relu_map, &self.target),
            similarity_after: Similarity::of(&map, &self.target),
            similarity_after_smooth: Similarity::of(&eval.map, &self.target),
            history: self.history,
        })
    }
}

fn norm2(v: &[f64]) -> f64 {
    v.iter().map(|a| a * a).sum::<f64>().sqrt()
}

fn max_abs_difference(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).fold(0.0, |m, (x, y)| m.max((x - y).abs()))
}

/// Runs the whole manipulation; `progress(done, total)` is called after every step and stops
/// the run with [`Error::Cancelled`] when it returns `false`.
pub fn manipulate(
    classifier: &Classifier,
    x: &[f32],
    target: &[f32],
    settings: ManipulationSettings,
    progress: &mut dyn FnMut(usize, usize) -> bool,
) -> Result<ManipulationResult> {
    let mut run = Manipulation::new(classifier, x, target, settings)?;
    while !run.is_done() {
        run.step()?;
        let (done, total) = run.progress();
        if !progress(done, total) {
            return Err(Error::Cancelled);
        }
    }
    run.finish()
}

/// Where `lab explanations` writes its report.
pub const REPORT_PATH: &str = "static/reports/explanations.json";
/// The command that writes [`REPORT_PATH`].
pub const COMMAND: &str = "cargo run --release --bin lab -- explanations";
/// Held-out digits the report manipulates (the first ones).
pub const REPORT_DIGITS: usize = 10;

/// The held-out digit whose explanation is the target for digit `digit`: the next one
/// (cyclically) with another label, so that the target map is another digit's shape.
pub fn target_digit(digits: &Digits, digit: usize) -> Result<usize> {
    let n = digits.len();
    if digit >= n {
        return Err(Error::Input(format!(
            "there is no held-out digit {digit} (0 to {})",
            n.saturating_sub(1)
        )));
    }
    (1..n)
        .map(|k| (digit + k) % n)
        .find(|&j| digits.label(j) != digits.label(digit))
        .ok_or_else(|| Error::Input("every held-out digit has the same label".into()))
}

/// One manipulated digit, as the report keeps it (similarities of the ReLU network's map).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CaseSummary {
    /// The held-out digit manipulated.
    pub digit: usize,
    /// The held-out digit whose map is the target ([`target_digit`]).
    pub target_digit: usize,
    pub label_before: usize,
    pub label_after: usize,
    pub pearson_before: f64,
    pub pearson_after: f64,
    pub cosine_before: f64,
    pub cosine_after: f64,
    /// `maxₖ |gₖ(x′) − gₖ(x)|`.
    pub max_logit_change: f64,
    pub delta_l2: f64,
    /// `‖δ‖₂ / ‖x‖₂`.
    pub delta_relative: f64,
    pub delta_linf: f64,
    /// Wall time per Adam step where it was measured.
    pub millis_per_step: f64,
}

impl CaseSummary {
    /// The figures of run `r` of digit `digit` towards the map of `target_digit`.
    pub fn of(
        digit: usize,
        target_digit: usize,
        r: &ManipulationResult,
        millis_per_step: f64,
    ) -> Self {
        Self {
            digit,
            target_digit,
            label_before: r.label_before,
            label_after: r.label_after,
            pearson_before: r.similarity_before.pearson,
            pearson_after: r.similarity_after.pearson,
            cosine_before: r.similarity_before.cosine,
            cosine_after: r.similarity_after.cosine,
            max_logit_change: r.max_logit_change,
            delta_l2: r.delta_l2,
            delta_relative: r.delta_relative,
            delta_linf: r.delta_linf,
            millis_per_step,
        }
    }
}

/// The median of `values` (the mean of the middle two for an even count); NaN when empty.
fn median(mut values: Vec<f64>) -> f64 {
    if values.is_empty() {
        return f64::NAN;
    }
    values.sort_by(f64::total_cmp);
    let n = values.len();
    if n % 2 == 1 {
        values[n / 2]
    } else {
        0.5 * (values[n / 2 - 1] + values[n / 2])
    }
}

/// Every case of one saliency method, summarised.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MethodReport {
    pub method: Method,
    pub cases: Vec<CaseSummary>,
    /// Cases whose label stayed.
    pub labels_kept: usize,
    pub median_pearson_before: f64,
    pub median_pearson_after: f64,
    pub median_delta_relative: f64,
    pub median_max_logit_change: f64,
    pub largest_logit_change: f64,
    /// The first case's run, every `record_every` steps: the similarity rising while the label
    /// stays.
    pub history: Vec<HistoryPoint>,
}

impl MethodReport {
    /// The summary of `cases`, with the first case's `history`.
    pub fn of(method: Method, cases: Vec<CaseSummary>, history: Vec<HistoryPoint>) -> Self {
        let pick = |f: fn(&CaseSummary) -> f64| median(cases.iter().map(f).collect());
        Self {
            method,
            labels_kept: cases
                .iter()
                .filter(|c| c.label_after == c.label_before)
                .count(),
            median_pearson_before: pick(|c| c.pearson_before),
            median_pearson_after: pick(|c| c.pearson_after),
            median_delta_relative: pick(|c| c.delta_relative),
            median_max_logit_change: pick(|c| c.max_logit_change),
            largest_logit_change: cases.iter().map(|c| c.max_logit_change).fold(0.0, f64::max),
            cases,
            history,
        }
    }
}

/// `static/reports/explanations.json`: the manipulation on the first [`REPORT_DIGITS`] held-out
/// digits with the default settings, for both saliency methods.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ExplanationsReport {
    pub what: String,
    pub command: String,
    pub date: String,
    pub model: Architecture,
    /// The settings of every run (the method aside).
    pub settings: ManipulationSettings,
    pub methods: Vec<MethodReport>,
}

impl ExplanationsReport {
    /// Reads and checks a report (the page's copy of the shipped one, say).
    pub fn from_json(text: &str) -> Result<Self> {
        let r: Self = serde_json::from_str(text)
            .map_err(|e| Error::Input(format!("the explanations report is damaged: {e}")))?;
        if r.methods.is_empty() || r.methods.iter().any(|m| m.cases.is_empty()) {
            return Err(Error::Input(
                "the explanations report has no manipulated digit".into(),
            ));
        }
        Ok(r)
    }

    /// The figures of `method`, if the report has them.
    pub fn method(&self, method: Method) -> Option<&MethodReport> {
        self.methods.iter().find(|m| m.method == method)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::classification::mnist::Digits;

    fn cnn(dtype: DType) -> Classifier {
        let bytes = std::fs::read("static/models/cnn.safetensors").unwrap();
        Classifier::from_safetensors(Architecture::Cnn, &bytes, dtype, &Device::Cpu).unwrap()
    }

    fn held_out() -> Digits {
        Digits::from_safetensors(&std::fs::read("static/data/mnist-heldout.safetensors").unwrap())
            .unwrap()
    }

    fn random(seed: u64, n: usize, scale: f64) -> Vec<f64> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        (0..n).map(|_| rng.random_range(-scale..scale)).collect()
    }

    fn dot(a: &[f64], b: &[f64]) -> f64 {
        a.iter().zip(b).map(|(x, y)| x * y).sum()
    }

    fn along(x: &[f64], t: f64, d: &[f64]) -> Vec<f64> {
        x.iter().zip(d).map(|(a, b)| a + t * b).collect()
    }

    /// The CNN in f64 with `nonlinearity`, a held-out digit and its label. The digit gets faint
    /// noise, `U(0, 0.01)` a pixel: on the exactly black background every 2×2 pooling window
    /// ties (all four convolutions see only zeros), and the network is not differentiable there,
    /// whatever its activation.
    fn f64_setup(nonlinearity: Nonlinearity) -> (SaliencyNet, Vec<f64>, usize) {
        let net = SaliencyNet::from_classifier(&cnn(DType::F64), nonlinearity, DType::F64).unwrap();
        let x: Vec<f64> = to_f64(&held_out().image(3))
            .iter()
            .zip(random(3, PIXELS, 0.01))
            .map(|(a, r)| (a + r.abs()).min(1.0))
            .collect();
        let c = argmax(&net.logits_f64(&x).unwrap());
        (net, x, c)
    }

    #[test]
    fn input_gradients_match_central_differences() {
        // f64 throughout: ε = 10⁻⁶ makes the truncation error of the smooth network O(ε²β²‖·‖)
        // ≈ 10⁻¹⁰ and the rounding error about 10⁻¹⁶·|g|/ε ≈ 10⁻⁹; the ReLU network is linear
        // between kinks, which steps of 10⁻⁶ along random directions do not cross.
        for nonlinearity in [Nonlinearity::Relu, Nonlinearity::Softplus { beta: 10.0 }] {
            let (net, x, c) = f64_setup(nonlinearity);
            let (_, g) = net.logits_and_gradient(&x, c).unwrap();
            let eps = 1e-6;
            for seed in 0..4 {
                let d = random(seed, PIXELS, 1.0);
                let f = |t: f64| net.logits_f64(&along(&x, t, &d)).unwrap()[c];
                let numeric = (f(eps) - f(-eps)) / (2.0 * eps);
                let analytic = dot(&g, &d);
                let error = (numeric - analytic).abs();
                assert!(
                    error <= 1e-6 * (1.0 + analytic.abs()),
                    "{nonlinearity:?}, direction {seed}: {numeric} against {analytic}"
                );
            }
        }
        // The f32 classifier's map (what a page shows) agrees with the f64 ReLU network's to f32
        // precision.
        let (net, x, c) = f64_setup(Nonlinearity::Relu);
        let (_, _, h64) = net
            .saliency(&x, Some(c), Method::GradientTimesInput)
            .unwrap();
        let (c32, h32) = gradient_times_input(&cnn(DType::F32), &to_f32(&x), None).unwrap();
        assert_eq!(c32, c);
        let scale = h64.iter().fold(0.0f64, |m, v| m.max(v.abs()));
        for (a, b) in h32.iter().zip(&h64) {
            assert!((*a as f64 - b).abs() <= 1e-4 * scale, "{a} against {b}");
        }
    }

    #[test]
    fn relu_network_is_the_classifier_and_softplus_tends_to_it() {
        let classifier = cnn(DType::F32);
        let x = held_out().image(7);
        let want = classifier.classify(&x).unwrap().logits;
        let relu =
            SaliencyNet::from_classifier(&classifier, Nonlinearity::Relu, DType::F32).unwrap();
        let got = relu.logits_f64(&to_f64(&x)).unwrap();
        for (a, b) in want.iter().zip(&got) {
            assert!((*a as f64 - b).abs() < 1e-5, "{a} against {b}");
        }
        // Every shipped architecture is rebuilt faithfully.
        for architecture in Architecture::ALL {
            let bytes = std::fs::read(format!("static/models/{}.safetensors", architecture.name()))
                .unwrap();
            let c = Classifier::from_safetensors(architecture, &bytes, DType::F32, &Device::Cpu)
                .unwrap();
            let net = SaliencyNet::from_classifier(&c, Nonlinearity::Relu, DType::F32).unwrap();
            assert_eq!(net.architecture(), architecture);
            let want = c.classify(&x).unwrap().logits;
            let got = net.logits_f64(&to_f64(&x)).unwrap();
            assert!(
                max_abs_difference(&to_f64(&want), &got) < 1e-4,
                "{}",
                architecture.name()
            );
        }
        // The gap shrinks like 1/β (each unit is off by at most ln 2/β, each pool by ln 4/β).
        let mut gaps = vec![];
        for beta in [3.0, 10.0, 30.0, 100.0, 1000.0] {
            let net = relu
                .with_nonlinearity(Nonlinearity::Softplus { beta })
                .unwrap();
            let l = net.logits_f64(&to_f64(&x)).unwrap();
            let gap = max_abs_difference(&l, &got);
            assert!(
                gaps.last().is_none_or(|&g| gap < g),
                "β = {beta}: {gap} after {gaps:?}"
            );
            gaps.push(gap);
        }
        assert!(gaps[4] < 0.2 * gaps[3], "not O(1/β): {gaps:?}");
        assert!(gaps[4] < 0.1, "β = 1000 still {gaps:?} away");
        // 0 ≤ softplus_β − ReLU ≤ ln 2 / β, and the slope is sigmoid(βt).
        for beta in [1.0, 10.0, 100.0] {
            for t in [-3.0, -0.1, 0.0, 1e-3, 0.5, 40.0] {
                let gap = softplus(t, beta) - t.max(0.0);
                assert!((0.0..=std::f64::consts::LN_2 / beta + 1e-15).contains(&gap));
                let h = 1e-6;
                let slope = (softplus(t + h, beta) - softplus(t - h, beta)) / (2.0 * h);
                assert!((slope - softplus_slope(t, beta)).abs() < 1e-6 * (1.0 + beta));
            }
        }
        assert!(relu
            .with_nonlinearity(Nonlinearity::Softplus { beta: 0.0 })
            .is_err());
    }

    #[test]
    fn hessian_vector_products_match_second_differences() {
        // uᵀ∇²g v against the four-point second difference of the scalar logit,
        // [g(x+εu+εv) − g(x+εu−εv) − g(x−εu+εv) + g(x−εu−εv)] / (4ε²), in f64 with ε = 10⁻³
        // (truncation O(ε²)); the products use η = 10⁻⁵.
        let beta = 10.0;
        let (net, x, c) = f64_setup(Nonlinearity::Softplus { beta });
        let (u, v) = (random(11, PIXELS, 1.0), random(12, PIXELS, 1.0));
        let hv = hessian_vector_product(&net, &x, c, &v, 1e-5).unwrap();
        let hu = hessian_vector_product(&net, &x, c, &u, 1e-5).unwrap();
        let eps = 1e-3;
        let f = |a: f64, b: f64| {
            let p: Vec<f64> = (0..PIXELS).map(|i| x[i] + a * u[i] + b * v[i]).collect();
            net.logits_f64(&p).unwrap()[c]
        };
        let numeric =
            (f(eps, eps) - f(eps, -eps) - f(-eps, eps) + f(-eps, -eps)) / (4.0 * eps * eps);
        let (uhv, vhu) = (dot(&u, &hv), dot(&v, &hu));
        eprintln!("uᵀHv {uhv}, vᵀHu {vhu}, second difference {numeric}");
        assert!(
            (uhv - numeric).abs() <= 1e-3 * (1.0 + numeric.abs()),
            "{uhv} against {numeric}"
        );
        // The Hessian is symmetric.
        assert!(
            (uhv - vhu).abs() <= 1e-4 * (1.0 + uhv.abs()),
            "{uhv} against {vhu}"
        );
        // And not zero: the point of the softplus.
        assert!(hv.iter().any(|h| h.abs() > 1e-3));
        // On the ReLU network it is zero almost everywhere.
        let relu = net.with_nonlinearity(Nonlinearity::Relu).unwrap();
        let flat = hessian_vector_product(&relu, &x, c, &v, 1e-7).unwrap();
        assert!(
            flat.iter().all(|h| h.abs() < 1e-6),
            "the ReLU network has curvature"
        );
    }

    #[test]
    fn loss_gradient_matches_central_differences_of_the_loss() {
        // ∇L (through the normalisation, the Hessian–vector differences and Jᵀr) against the
        // central difference of the scalar L along random directions, in f64, at a point with
        // every pixel inside (0, 1).
        let (net, x, c) = f64_setup(Nonlinearity::Softplus { beta: 10.0 });
        let digits = held_out();
        let xt = digits.image(5);
        let point: Vec<f64> = x
            .iter()
            .zip(random(21, PIXELS, 0.01))
            .map(|(a, r)| (a + r).clamp(0.001, 0.999))
            .collect();
        for method in [Method::Gradient, Method::GradientTimesInput] {
            let (_, _, target) = net.saliency(&to_f64(&xt), None, method).unwrap();
            let objective = Objective {
                net: &net,
                method,
                class: c,
                target: normalise(&target).unwrap(),
                reference: net.logits_f64(&x).unwrap(),
                gamma: 1e-3,
                step: 1e-5,
            };
            let (eval, grad) = objective.value_and_gradient(&point).unwrap();
            assert!(eval.loss.output > 0.0 && eval.loss.explanation > 0.0);
            let eps = 1e-5;
            for seed in 0..3 {
                let d = random(30 + seed, PIXELS, 1.0);
                let l = |t: f64| objective.value(&along(&point, t, &d)).unwrap().loss.total();
                let numeric = (l(eps) - l(-eps)) / (2.0 * eps);
                let analytic = dot(&grad, &d);
                eprintln!("{method:?} {seed}: ⟨∇L, d⟩ {analytic}, difference {numeric}");
                assert!(
                    (numeric - analytic).abs() <= 1e-4 * numeric.abs().max(1e-6),
                    "{method:?}, direction {seed}: {numeric} against {analytic}"
                );
            }
        }
    }

    /// Held-out digit 0 (a 7 the CNN labels 7), and the ReLU map of the first held-out digit
    /// with another label as the target.
    fn manipulation_case(method: Method) -> (Classifier, Vec<f32>, Vec<f32>) {
        let digits = held_out();
        let classifier = cnn(DType::F32);
        let other = (1..).find(|&i| digits.label(i) != digits.label(0)).unwrap();
        let (_, target) = explanation(&classifier, &digits.image(other), None, method).unwrap();
        (classifier, digits.image(0), target)
    }

    /// What every run must show: the label kept, `x′` in the box, the numbers consistent.
    fn check_run(r: &ManipulationResult) {
        assert_eq!(r.label_after, r.label_before);
        assert!(r.history.iter().all(|h| h.label == r.label_before));
        assert!(r.manipulated.iter().all(|v| (0.0..=1.0).contains(v)));
        assert!(r.delta_linf <= r.settings.max_change + 1e-6);
        let x = to_f64(&r.original);
        let d = to_f64(&r.delta);
        assert!((r.delta_l2 - norm2(&d)).abs() < 1e-4);
        assert!((r.delta_relative - r.delta_l2 / norm2(&x)).abs() < 1e-6);
        assert!((r.target.iter().sum::<f32>() - 1.0).abs() < 1e-4);
        assert!((r.manipulated_explanation.iter().sum::<f32>() - 1.0).abs() < 1e-4);
        assert_eq!(r.history.last().unwrap().step, r.settings.steps);
    }

    /// The shipped report (`lab explanations`) holds together, and its first digit's run is
    /// reproduced: the first 30 of its 300 steps give the recorded similarities.
    #[test]
    fn the_shipped_report_is_consistent_and_its_first_run_reproduces() {
        let text = std::fs::read_to_string(REPORT_PATH).unwrap();
        let report = ExplanationsReport::from_json(&text).unwrap();
        assert_eq!(report.model, Architecture::Cnn);
        let digits = held_out();
        let classifier = cnn(DType::F32);
        for m in &report.methods {
            assert_eq!(m.cases.len(), REPORT_DIGITS);
            let again = MethodReport::of(m.method, m.cases.clone(), m.history.clone());
            assert_eq!(&again, m, "{}: the summary is the cases'", m.method.name());
            assert_eq!(m.labels_kept, m.cases.len(), "{}", m.method.name());
            for (k, c) in m.cases.iter().enumerate() {
                assert_eq!(c.digit, k);
                assert_eq!(c.target_digit, target_digit(&digits, k).unwrap());
                assert_eq!(c.label_before, digits.label(k));
                assert!(c.pearson_after > c.pearson_before + 0.1, "{c:?}");
                assert!(c.delta_linf <= report.settings.max_change + 1e-6, "{c:?}");
            }
            // Replay the first digit's run for 30 steps.
            let settings = ManipulationSettings {
                method: m.method,
                ..report.settings
            };
            let (_, target) = explanation(
                &classifier,
                &digits.image(m.cases[0].target_digit),
                None,
                m.method,
            )
            .unwrap();
            let mut run =
                Manipulation::new(&classifier, &digits.image(0), &target, settings).unwrap();
            for _ in 0..30 {
                run.step().unwrap();
            }
            for (got, want) in run.history().iter().zip(&m.history) {
                assert_eq!(got.step, want.step);
                assert!(
                    (got.relu.pearson - want.relu.pearson).abs() < 1e-3
                        && (got.smooth.pearson - want.smooth.pearson).abs() < 1e-3,
                    "{}: step {}: {:?} against the report's {:?}",
                    m.method.name(),
                    got.step,
                    (got.relu.pearson, got.smooth.pearson),
                    (want.relu.pearson, want.smooth.pearson)
                );
            }
            assert!(run.history().len() >= 3);
        }
    }

    #[test]
    fn a_short_run_on_the_shipped_cnn_moves_the_explanation_and_keeps_the_label() {
        // 60 of the default 300 steps (about 2 s).
        let (classifier, x, target) = manipulation_case(Method::Gradient);
        let settings = ManipulationSettings {
            steps: 60,
            ..ManipulationSettings::default()
        };
        let mut calls = 0;
        let r = manipulate(&classifier, &x, &target, settings, &mut |done, total| {
            calls += 1;
            assert_eq!((done, total), (calls, 60));
            true
        })
        .unwrap();
        eprintln!(
            "Pearson {:.3} → {:.3} (smooth {:.3} → {:.3}); ‖δ‖/‖x‖ {:.3}; max|Δg| {:.3}",
            r.similarity_before.pearson,
            r.similarity_after.pearson,
            r.history[0].smooth.pearson,
            r.similarity_after_smooth.pearson,
            r.delta_relative,
            r.max_logit_change
        );
        check_run(&r);
        assert_eq!(r.label_before, 7);
        assert_eq!(r.history.len(), 7);
        let (first, last) = (&r.history[0], r.history.last().unwrap());
        // Measured: Pearson 0.317 → 0.520 (smooth 0.324 → 0.544), ‖δ‖/‖x‖ = 0.155,
        // max|Δg| = 0.387.
        assert!(
            r.similarity_after.pearson > r.similarity_before.pearson + 0.12,
            "{:?} → {:?}",
            r.similarity_before,
            r.similarity_after
        );
        assert!(r.similarity_after.distance < r.similarity_before.distance);
        assert!(last.smooth.pearson > first.smooth.pearson + 0.15);
        assert!(last.loss.explanation < 0.8 * first.loss.explanation);
        assert!(r.max_logit_change < 2.0, "{}", r.max_logit_change);
        assert!(r.delta_relative < 0.3, "{}", r.delta_relative);
        // The report travels as JSON.
        let back: ManipulationResult =
            serde_json::from_str(&serde_json::to_string(&r).unwrap()).unwrap();
        assert_eq!(back.history.len(), r.history.len());
        assert_eq!(back.settings, r.settings);
    }

    #[test]
    fn runs_are_deterministic_and_cancellable() {
        let (classifier, x, target) = manipulation_case(Method::GradientTimesInput);
        let settings = ManipulationSettings {
            method: Method::GradientTimesInput,
            steps: 3,
            record_every: 2,
            ..ManipulationSettings::default()
        };
        let run = || manipulate(&classifier, &x, &target, settings, &mut |_, _| true).unwrap();
        let (a, b) = (run(), run());
        assert_eq!(a, b);
        assert_eq!(
            a.history.iter().map(|h| h.step).collect::<Vec<_>>(),
            vec![0, 2, 3]
        );
        let other = manipulate(
            &classifier,
            &x,
            &target,
            ManipulationSettings {
                seed: 1,
                ..settings
            },
            &mut |_, _| true,
        )
        .unwrap();
        assert_ne!(a.delta, other.delta);
        let e = manipulate(&classifier, &x, &target, settings, &mut |done, _| done < 2);
        assert!(matches!(e, Err(Error::Cancelled)));
        for bad in [
            ManipulationSettings {
                steps: 0,
                ..settings
            },
            ManipulationSettings {
                learning_rate: 0.0,
                ..settings
            },
            ManipulationSettings {
                beta_start: f64::NAN,
                ..settings
            },
            ManipulationSettings {
                gamma: -1.0,
                ..settings
            },
        ] {
            assert!(manipulate(&classifier, &x, &target, bad, &mut |_, _| true).is_err());
        }
        assert!(manipulate(&classifier, &x, &[0.0; PIXELS], settings, &mut |_, _| true).is_err());
        let mut outside = x.clone();
        outside[0] = 1.5;
        assert!(manipulate(&classifier, &outside, &target, settings, &mut |_, _| true).is_err());
    }

    /// The default run (300 steps, about 10 s) for both maps; `--ignored --nocapture` prints it.
    #[test]
    #[ignore]
    fn the_default_run_on_the_shipped_cnn() {
        for method in [Method::Gradient, Method::GradientTimesInput] {
            let (classifier, x, target) = manipulation_case(method);
            let settings = ManipulationSettings {
                method,
                ..ManipulationSettings::default()
            };
            let start = std::time::Instant::now();
            let r = manipulate(&classifier, &x, &target, settings, &mut |_, _| true).unwrap();
            let ms = start.elapsed().as_secs_f64() * 1e3 / settings.steps as f64;
            let path: Vec<String> = (r.history.iter().step_by(5))
                .map(|h| format!("{}: {:.2}/{:.2}", h.step, h.smooth.pearson, h.relu.pearson))
                .collect();
            eprintln!(
                "{}: {ms:.1} ms/step; Pearson {:.3} → {:.3} (smooth {:.3}); cosine {:.3} → {:.3}; \
                 label {} → {}; max|Δg| {:.3}; ‖δ‖/‖x‖ {:.3}; ‖δ‖∞ {:.3}; {}",
                method.name(),
                r.similarity_before.pearson,
                r.similarity_after.pearson,
                r.similarity_after_smooth.pearson,
                r.similarity_before.cosine,
                r.similarity_after.cosine,
                r.label_before,
                r.label_after,
                r.max_logit_change,
                r.delta_relative,
                r.delta_linf,
                path.join(", ")
            );
            check_run(&r);
            assert!(r.similarity_after.pearson > r.similarity_before.pearson + 0.25);
        }
    }
}
