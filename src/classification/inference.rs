//! The shipped classifiers evaluated directly: the forward pass and the input Jacobian
//! `J[k] = ∇ₓ fₖ(x)` written out layer by layer in f32, for the attacks.
//!
//! Why not candle here: candle (with its autograd) trains the models and is the reference these
//! loops are tested against, but an attack needs only input gradients of one image. Candle's
//! backward pass also computes every weight gradient, runs the 10 Jacobian rows as a batch of 10
//! full forward passes, and its convolution backward is a generic transposed convolution; on the
//! CNN that made one DeepFool run about 100 ms natively and 200 ms in the browser worker. Here:
//!
//! - one forward pass per point, its activations and pooling choices kept (a *trace*);
//! - the Jacobian rows pushed back through that trace: a dense layer is `gᵢₙ = Wᵀ(g ⊙ σ'(h))`
//!   (`1[h > 0]` after a ReLU, `1 − h²` after tanh); 2×2 max-pooling routes each gradient to the
//!   window's first maximum; a valid k×k convolution `y = W ⋆ x + b` (5×5 or 3×3; as im2col,
//!   `Y = W·cols(x)`) has `gᵢₙ = col2im(Wᵀ G)`, and only the positions a pool chose (a quarter)
//!   carry gradient, so each column of `Wᵀ G` is a short sum of weight rows, built position by
//!   position in a buffer that stays in cache;
//! - every inner loop is an `axpy` (`y += a·x`) over contiguous memory, which the compiler turns
//!   into SIMD (SSE natively, `simd128` on wasm32);
//! - the last trace is cached, so DeepFool's label test at a new point and the Jacobian there
//!   share one forward pass.
//!
//! The CNN's forward pass is about 3.8 M multiply–adds and each Jacobian row about 0.7 M; the wide
//! CNN's about 4.6 M and at most 1.5 M.

use crate::classification::attack::Model;
use crate::classification::classifier::{
    check_image, Activation, Architecture, Classifier, Prediction,
};
use crate::classification::mnist::{CLASSES, PIXELS, SIDE};
use crate::{Error, Result};
use std::cell::RefCell;
use std::collections::HashMap;

/// `y += a·x`.
#[inline]
fn axpy(a: f32, x: &[f32], y: &mut [f32]) {
    for (yi, xi) in y.iter_mut().zip(x) {
        *yi += a * xi;
    }
}

/// `aᵀb` with eight partial sums (so that it vectorises).
#[inline]
fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut acc = [0.0f32; 8];
    let (ca, cb) = (a.chunks_exact(8), b.chunks_exact(8));
    let tail: f32 = ca
        .remainder()
        .iter()
        .zip(cb.remainder())
        .map(|(x, y)| x * y)
        .sum();
    for (xa, xb) in ca.zip(cb) {
        for i in 0..8 {
            acc[i] += xa[i] * xb[i];
        }
    }
    acc.iter().sum::<f32>() + tail
}

/// `h = σ(t)` in place.
fn activate(sigma: Activation, v: &mut [f32]) {
    match sigma {
        Activation::Relu => v.iter_mut().for_each(|x| *x = x.max(0.0)),
        Activation::Tanh => v.iter_mut().for_each(|x| *x = x.tanh()),
    }
}

/// A dense layer `y = Wx + b`, `W` row-major `[outputs][inputs]`.
#[derive(Clone, Debug)]
struct Dense {
    w: Vec<f32>,
    b: Vec<f32>,
    inputs: usize,
}

impl Dense {
    fn forward(&self, x: &[f32]) -> Vec<f32> {
        self.w
            .chunks_exact(self.inputs)
            .zip(&self.b)
            .map(|(row, b)| b + dot(row, x))
            .collect()
    }

    /// `g_in += Wᵀ g`.
    fn backward(&self, g: &[f32], g_in: &mut [f32]) {
        for (row, &gj) in self.w.chunks_exact(self.inputs).zip(g) {
            if gj != 0.0 {
                axpy(gj, row, g_in);
            }
        }
    }
}

/// A valid (unpadded), stride-1 convolution with square kernels on square planes.
#[derive(Clone, Debug)]
struct Conv {
    /// `[out][in·k·k]`.
    w: Vec<f32>,
    b: Vec<f32>,
    channels_in: usize,
    kernel: usize,
    side_in: usize,
}

impl Conv {
    fn side_out(&self) -> usize {
        self.side_in - self.kernel + 1
    }

    fn taps(&self) -> usize {
        self.channels_in * self.kernel * self.kernel
    }

    /// `cols[(c, ky, kx)][(y, x)] = x[c][y + ky][x + kx]`.
    fn im2col(&self, x: &[f32]) -> Vec<f32> {
        let (k, s, so) = (self.kernel, self.side_in, self.side_out());
        let positions = so * so;
        let mut cols = vec![0.0; self.taps() * positions];
        for (tap, col) in cols.chunks_exact_mut(positions).enumerate() {
            let (c, ky, kx) = (tap / (k * k), tap / k % k, tap % k);
            for (y, out) in col.chunks_exact_mut(so).enumerate() {
                let start = c * s * s + (y + ky) * s + kx;
                out.copy_from_slice(&x[start..start + so]);
            }
        }
        cols
    }

    /// `y[o][p] = b[o] + Σ_t W[o][t] cols[t][p]`, shape `[out][side_out²]`.
    fn forward(&self, x: &[f32]) -> Vec<f32> {
        let cols = self.im2col(x);
        let positions = self.side_out() * self.side_out();
        let mut y = Vec::with_capacity(self.b.len() * positions);
        for (w, &b) in self.w.chunks_exact(self.taps()).zip(&self.b) {
            let start = y.len();
            y.resize(start + positions, b);
            let out = &mut y[start..];
            for (&wt, col) in w.iter().zip(cols.chunks_exact(positions)) {
                axpy(wt, col, out);
            }
        }
        y
    }

    /// `g_in += col2im(Wᵀ G)` for an output gradient `G` that is non-zero only along `routes`:
    /// `G[c][p] = g[i]` for each `(c, i)` routed to position `p`. Position by position, the
    /// column `Σ g[i]·W[c]` is built in a small buffer and added back into the input planes.
    fn backward(&self, routes: &Routes, g: &[f32], g_in: &mut [f32]) {
        let (k, s, so, taps) = (self.kernel, self.side_in, self.side_out(), self.taps());
        let mut col = vec![0.0; taps];
        for position in 0..so * so {
            let group = routes.at(position);
            col.fill(0.0);
            let mut any = false;
            for &(channel, index) in group {
                let gi = g[index as usize];
                if gi != 0.0 {
                    let c = channel as usize;
                    axpy(gi, &self.w[c * taps..(c + 1) * taps], &mut col);
                    any = true;
                }
            }
            if !any {
                continue;
            }
            let (y, x) = (position / so, position % so);
            for (row, taps_row) in col.chunks_exact(k).enumerate() {
                let (c, ky) = (row / k, row % k);
                let start = c * s * s + (y + ky) * s + x;
                for (gi, t) in g_in[start..start + k].iter_mut().zip(taps_row) {
                    *gi += t;
                }
            }
        }
    }
}

/// Where the gradient of a layer's outputs comes from, grouped by output position: for each
/// position `p` of a plane, the pairs `(channel, index into the next layer's gradient)`.
#[derive(Clone, Debug, Default, PartialEq)]
struct Routes {
    start: Vec<u32>,
    entries: Vec<(u32, u32)>,
}

impl Routes {
    /// From `(channel, position, index)` triples, for planes of `positions` positions.
    fn new(positions: usize, triples: &[(usize, usize, usize)]) -> Self {
        let mut start = vec![0u32; positions + 1];
        for &(_, p, _) in triples {
            start[p + 1] += 1;
        }
        for p in 0..positions {
            start[p + 1] += start[p];
        }
        let mut next = start.clone();
        let mut entries = vec![(0, 0); triples.len()];
        for &(c, p, i) in triples {
            entries[next[p] as usize] = (c as u32, i as u32);
            next[p] += 1;
        }
        Self { start, entries }
    }

    fn at(&self, position: usize) -> &[(u32, u32)] {
        &self.entries[self.start[position] as usize..self.start[position + 1] as usize]
    }
}

/// ReLU followed by 2×2 max-pooling (stride 2) of `channels` planes of side `side`: the pooled
/// values and the routes of their gradient back to the window's first maximum (only where
/// that maximum is positive: elsewhere the ReLU stops the gradient).
#[derive(Clone, Debug)]
struct Pooled {
    values: Vec<f32>,
    routes: Routes,
}

impl Pooled {
    fn relu_pool(x: &[f32], channels: usize, side: usize) -> Self {
        let half = side / 2;
        let mut values = Vec::with_capacity(channels * half * half);
        let mut triples = Vec::with_capacity(channels * half * half);
        for c in 0..channels {
            let plane = &x[c * side * side..(c + 1) * side * side];
            for i in 0..half {
                for j in 0..half {
                    let mut best = 2 * i * side + 2 * j;
                    for (p, q) in [(0, 1), (1, 0), (1, 1)] {
                        let k = (2 * i + p) * side + 2 * j + q;
                        if plane[k].max(0.0) > plane[best].max(0.0) {
                            best = k;
                        }
                    }
                    let v = plane[best].max(0.0);
                    if v > 0.0 {
                        triples.push((c, best, values.len()));
                    }
                    values.push(v);
                }
            }
        }
        Self {
            values,
            routes: Routes::new(side * side, &triples),
        }
    }
}

/// What the backward pass needs from a forward pass.
#[derive(Clone, Debug)]
enum Trace {
    Linear,
    Mlp { h1: Vec<f32>, h2: Vec<f32> },
    Cnn { p1: Pooled, p2: Pooled, h: Vec<f32> },
}

#[derive(Clone, Debug)]
enum Layers {
    Linear(Dense),
    Mlp(Dense, Dense, Dense),
    Cnn {
        conv1: Conv,
        conv2: Conv,
        fc1: Dense,
        fc2: Dense,
    },
}

/// One forward pass: its input, logits and trace.
type Pass = (Vec<f32>, Vec<f32>, Trace);

/// A shipped classifier as plain loops: logits and input Jacobians of one image, in f32.
///
/// It implements [`Model`] for the attacks (inputs and outputs in f64, computed in f32 like the
/// shipped weights). The last forward pass is cached, keyed by its input.
#[derive(Debug)]
pub struct Network {
    architecture: Architecture,
    layers: Layers,
    last: RefCell<Option<Pass>>,
}

impl Clone for Network {
    fn clone(&self) -> Self {
        Self {
            architecture: self.architecture,
            layers: self.layers.clone(),
            last: RefCell::new(None),
        }
    }
}

impl Network {
    /// Takes the weights of a candle classifier.
    pub fn from_classifier(classifier: &Classifier) -> Result<Self> {
        Self::from_parameters(classifier.architecture(), classifier.parameters()?)
    }

    /// Builds the network from named parameters (the names and shapes of
    /// [`Architecture::parameter_shapes`], row-major).
    pub fn from_parameters(
        architecture: Architecture,
        mut parameters: HashMap<String, Vec<f32>>,
    ) -> Result<Self> {
        for (name, shape) in architecture.parameter_shapes() {
            let n: usize = shape.iter().product();
            match parameters.get(name) {
                Some(v) if v.len() == n => {}
                Some(v) => {
                    return Err(Error::Weights {
                        model: architecture.name().into(),
                        reason: format!("'{name}' has {} values, expected {n}", v.len()),
                    })
                }
                None => {
                    return Err(Error::Weights {
                        model: architecture.name().into(),
                        reason: format!("'{name}' is missing"),
                    })
                }
            }
        }
        let mut take = |name: &str| parameters.remove(name).unwrap_or_default();
        let mut dense = |name: &str, inputs: usize| Dense {
            w: take(&format!("{name}.weight")),
            b: take(&format!("{name}.bias")),
            inputs,
        };
        let layers = match architecture {
            Architecture::Linear => Layers::Linear(dense("fc", PIXELS)),
            Architecture::Mlp => {
                Layers::Mlp(dense("fc1", PIXELS), dense("fc2", 500), dense("fc3", 150))
            }
            Architecture::MlpTanh => {
                Layers::Mlp(dense("fc1", PIXELS), dense("fc2", 300), dense("fc3", 100))
            }
            Architecture::Cnn | Architecture::CnnWide => {
                // The wide CNN's second layer: 128 kernels of 3×3 instead of 64 of 5×5.
                let (kernel2, flat) = if architecture == Architecture::CnnWide {
                    (3, 3200)
                } else {
                    (5, 1024)
                };
                let fc1 = dense("fc1", flat);
                let fc2 = dense("fc2", 128);
                let mut conv =
                    |name: &str, channels_in: usize, kernel: usize, side_in: usize| Conv {
                        w: take(&format!("{name}.weight")),
                        b: take(&format!("{name}.bias")),
                        channels_in,
                        kernel,
                        side_in,
                    };
                Layers::Cnn {
                    conv1: conv("conv1", 1, 5, SIDE),
                    conv2: conv("conv2", 32, kernel2, 12),
                    fc1,
                    fc2,
                }
            }
        };
        Ok(Self {
            architecture,
            layers,
            last: RefCell::new(None),
        })
    }

    /// The architecture.
    pub fn architecture(&self) -> Architecture {
        self.architecture
    }

    /// Classifies one image given as 784 intensities (row-major 28×28).
    pub fn classify(&self, image: &[f32]) -> Result<Prediction> {
        check_image(image)?;
        Prediction::from_logits(self.forward(image).0)
    }

    /// The logits and the trace of one forward pass.
    fn forward(&self, x: &[f32]) -> (Vec<f32>, Trace) {
        match &self.layers {
            Layers::Linear(fc) => (fc.forward(x), Trace::Linear),
            Layers::Mlp(fc1, fc2, fc3) => {
                let sigma = self.architecture.activation();
                let mut h1 = fc1.forward(x);
                activate(sigma, &mut h1);
                let mut h2 = fc2.forward(&h1);
                activate(sigma, &mut h2);
                (fc3.forward(&h2), Trace::Mlp { h1, h2 })
            }
            Layers::Cnn {
                conv1,
                conv2,
                fc1,
                fc2,
            } => {
                let p1 = Pooled::relu_pool(&conv1.forward(x), conv1.b.len(), conv1.side_out());
                let p2 =
                    Pooled::relu_pool(&conv2.forward(&p1.values), conv2.b.len(), conv2.side_out());
                let mut h = fc1.forward(&p2.values);
                activate(Activation::Relu, &mut h);
                (fc2.forward(&h), Trace::Cnn { p1, p2, h })
            }
        }
    }

    /// Runs `f` on the logits and trace at `x`, reusing the last forward pass if `x` is its input.
    fn with_trace<R>(&self, x: &[f64], f: impl FnOnce(&[f32], &Trace) -> R) -> Result<R> {
        if x.len() != PIXELS {
            return Err(Error::Input(format!(
                "the model takes {PIXELS} values, the input has {}",
                x.len()
            )));
        }
        let x32: Vec<f32> = x.iter().map(|&v| v as f32).collect();
        if x32.iter().any(|v| !v.is_finite()) {
            return Err(Error::Input(
                "the input contains NaN or infinite values".into(),
            ));
        }
        let mut last = self.last.borrow_mut();
        if last.as_ref().is_none_or(|(input, _, _)| *input != x32) {
            let (logits, trace) = self.forward(&x32);
            *last = Some((x32, logits, trace));
        }
        let (_, logits, trace) = last.as_ref().expect("trace just computed");
        Ok(f(logits, trace))
    }

    /// `∇ₓ Σₖ wₖ fₖ(x)` at the traced point.
    fn backward(&self, trace: &Trace, w: &[f32]) -> Vec<f32> {
        let mut g_x = vec![0.0; PIXELS];
        match (&self.layers, trace) {
            (Layers::Linear(fc), Trace::Linear) => fc.backward(w, &mut g_x),
            (Layers::Mlp(fc1, fc2, fc3), Trace::Mlp { h1, h2 }) => {
                let sigma = self.architecture.activation();
                let mut g2 = vec![0.0; h2.len()];
                fc3.backward(w, &mut g2);
                activate_backward(sigma, &mut g2, h2);
                let mut g1 = vec![0.0; h1.len()];
                fc2.backward(&g2, &mut g1);
                activate_backward(sigma, &mut g1, h1);
                fc1.backward(&g1, &mut g_x);
            }
            (
                Layers::Cnn {
                    conv1,
                    conv2,
                    fc1,
                    fc2,
                },
                Trace::Cnn { p1, p2, h },
            ) => {
                let mut g_h = vec![0.0; h.len()];
                fc2.backward(w, &mut g_h);
                activate_backward(Activation::Relu, &mut g_h, h);
                let mut g_p2 = vec![0.0; p2.values.len()];
                fc1.backward(&g_h, &mut g_p2);
                let mut g_p1 = vec![0.0; p1.values.len()];
                conv2.backward(&p2.routes, &g_p2, &mut g_p1);
                conv1.backward(&p1.routes, &g_p1, &mut g_x);
            }
            _ => unreachable!("a trace always comes from its own network"),
        }
        g_x
    }
}

/// `g ⊙ σ'`, from the layer's outputs `h = σ(t)`: `1[h > 0]` for ReLU, `1 − h²` for tanh.
fn activate_backward(sigma: Activation, g: &mut [f32], h: &[f32]) {
    for (gi, &hi) in g.iter_mut().zip(h) {
        match sigma {
            Activation::Relu if hi <= 0.0 => *gi = 0.0,
            Activation::Relu => {}
            Activation::Tanh => *gi *= 1.0 - hi * hi,
        }
    }
}

fn widen(v: &[f32]) -> Vec<f64> {
    v.iter().map(|&x| x as f64).collect()
}

impl Model for Network {
    fn dim(&self) -> usize {
        PIXELS
    }

    fn classes(&self) -> usize {
        CLASSES
    }

    fn logits(&self, x: &[f64]) -> Result<Vec<f64>> {
        self.with_trace(x, |logits, _| widen(logits))
    }

    fn jacobian(&self, x: &[f64]) -> Result<(Vec<f64>, Vec<Vec<f64>>)> {
        self.with_trace(x, |logits, trace| {
            let rows = (0..CLASSES)
                .map(|k| {
                    let mut e = [0.0; CLASSES];
                    e[k] = 1.0;
                    widen(&self.backward(trace, &e))
                })
                .collect();
            (widen(logits), rows)
        })
    }

    fn vjp(&self, x: &[f64], w: &[f64]) -> Result<Vec<f64>> {
        if w.len() != CLASSES {
            return Err(Error::Input(format!(
                "{} weights for {CLASSES} logits",
                w.len()
            )));
        }
        let w32: Vec<f32> = w.iter().map(|&v| v as f32).collect();
        self.with_trace(x, |_, trace| widen(&self.backward(trace, &w32)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dot_and_axpy_handle_every_length() {
        for n in [0, 1, 7, 8, 9, 25, 800] {
            let a: Vec<f32> = (0..n).map(|i| i as f32 * 0.5 - 3.0).collect();
            let b: Vec<f32> = (0..n).map(|i| 1.0 - i as f32 * 0.25).collect();
            let naive: f32 = a.iter().zip(&b).map(|(x, y)| x * y).sum();
            assert!((dot(&a, &b) - naive).abs() <= 1e-3 * naive.abs().max(1.0));
            let mut y = b.clone();
            axpy(2.0, &a, &mut y);
            for i in 0..n {
                assert_eq!(y[i], b[i] + 2.0 * a[i]);
            }
        }
    }

    #[test]
    fn convolution_matches_its_definition() {
        // 2 input channels of side 6, 3 output channels, kernel 3.
        let conv = Conv {
            w: (0..3 * 2 * 9)
                .map(|i| ((i * 7) % 11) as f32 - 5.0)
                .collect(),
            b: vec![0.5, -1.0, 2.0],
            channels_in: 2,
            kernel: 3,
            side_in: 6,
        };
        let x: Vec<f32> = (0..2 * 36).map(|i| ((i * 5) % 13) as f32 * 0.1).collect();
        let y = conv.forward(&x);
        for o in 0..3 {
            for i in 0..4 {
                for j in 0..4 {
                    let mut want = conv.b[o];
                    for c in 0..2 {
                        for p in 0..3 {
                            for q in 0..3 {
                                want += conv.w[o * 18 + c * 9 + p * 3 + q]
                                    * x[c * 36 + (i + p) * 6 + j + q];
                            }
                        }
                    }
                    assert!((y[o * 16 + i * 4 + j] - want).abs() < 1e-4);
                }
            }
        }
        // Adjoint: ⟨conv(x) − b, g⟩ = ⟨x, convᵀ g⟩ for a dense gradient g.
        let g: Vec<f32> = (0..48).map(|i| ((i * 3) % 7) as f32 - 3.0).collect();
        let lhs: f32 = y
            .iter()
            .enumerate()
            .map(|(i, v)| (v - conv.b[i / 16]) * g[i])
            .sum();
        let triples: Vec<_> = (0..48).map(|i| (i / 16, i % 16, i)).collect();
        let mut g_in = vec![0.0; 72];
        conv.backward(&Routes::new(16, &triples), &g, &mut g_in);
        let rhs: f32 = x.iter().zip(&g_in).map(|(a, b)| a * b).sum();
        assert!(
            (lhs - rhs).abs() < 1e-3 * lhs.abs().max(1.0),
            "{lhs} vs {rhs}"
        );
    }

    #[test]
    fn pooling_routes_to_the_first_maximum_after_relu() {
        // One plane of side 4: windows with a unique max, a tie, and all negative.
        #[rustfmt::skip]
        let x = [
            1.0, 3.0,   2.0, 2.0,
            0.0, -1.0,  1.0, 0.0,
            -1.0, -2.0, 5.0, 0.0,
            -3.0, -4.0, 0.0, 6.0,
        ];
        let p = Pooled::relu_pool(&x, 1, 4);
        assert_eq!(p.values, vec![3.0, 2.0, 0.0, 6.0]);
        // Pooled value i flows back to position 1, 2 and 15; the all-negative window to nothing.
        assert_eq!(p.routes.at(1), &[(0, 0)]);
        assert_eq!(p.routes.at(2), &[(0, 1)]);
        assert_eq!(p.routes.at(15), &[(0, 3)]);
        assert_eq!(p.routes.entries.len(), 3);
    }
}
