//! FIRENET (Colbrook, Antun & Hansen, "The difficulty of computing stable and accurate neural
//! networks", PNAS 2022): an unrolled, provably stable network that reconstructs `x` from
//! `y = Ax + e` by solving the weighted square-root LASSO over wavelet coefficients `z`,
//!
//! `min_z  λ‖z‖_{ℓ¹_w} + ‖Bz − y‖₂`,   `B = P_Ω F W⁻¹`,  `x = W⁻¹z`,
//!
//! with restarted primal–dual (Chambolle–Pock) iterations. One layer is one step:
//!
//! - `z_{k+1} = soft_{τλw}(z_k − τB*u_k)`, `soft_t(v) = v/|v|·max(|v| − t, 0)` (complex);
//! - `u_{k+1} = Π_{‖·‖₂≤1}(u_k + σB(2z_{k+1} − z_k) − σy)`;
//!
//! `p` layers form a block returning the ergodic average of its iterates, `Inner_p(y, z₀)`, and
//! `n` blocks are chained by the restart scheme: `ε₀ = ‖y‖₂`, `ε_k = e⁻¹(δ + ε_{k−1})`,
//! `β_k = ε_k/(2‖B‖)`, `α_k = 1/(β_k p)`, `ψ_k = α_k⁻¹ Inner_p(α_k y, α_k ψ_{k−1})`, `ψ₀ = 0` or an
//! initial guess. Under the robust null space property the error decays geometrically, by `e⁻¹`
//! per block, down to the noise level: `O(|log ε|)` layers reach accuracy `ε`, and the map
//! `y ↦ Φ(y)` stays Lipschitz-stable.
//!
//! The estimate after layer `j` of block `k` (shown by the lab's layer slider) is
//! `α_k⁻¹ · (mean of the block's first j iterates)`.

use crate::mri::operator::{norm, LinearOperator};
use crate::{Error, Result};
use rustfft::num_complex::Complex32;

/// FIRENET's settings.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Firenet {
    /// `λ`, the weight of the sparsity term.
    pub lambda: f32,
    /// `n`, the number of restarted blocks.
    pub blocks: usize,
    /// `p`, the layers (primal–dual steps) per block.
    pub layers_per_block: usize,
    /// Primal step `τ`.
    pub tau: f32,
    /// Dual step `σ` (`τσ‖B‖² ≤ 1`).
    pub sigma: f32,
    /// `δ`, the restart scheme's noise-level guess.
    pub delta: f32,
}

impl Default for Firenet {
    fn default() -> Self {
        Self {
            lambda: 1e-3,
            blocks: 5,
            layers_per_block: 10,
            tau: 1.0,
            sigma: 1.0,
            delta: 1e-9,
        }
    }
}

/// Largest number of layers a run may have (keeps a playful "advanced" panel from stalling).
pub const MAX_LAYERS: usize = 2000;

impl Firenet {
    /// The depth `n·p`.
    pub fn layers(&self) -> usize {
        self.blocks * self.layers_per_block
    }

    fn check(&self, op: &dyn LinearOperator, y: &[Complex32], weights: &[f32]) -> Result<()> {
        self.check_sizes(op.input_len(), op.output_len(), op.norm_bound(), y, weights)
    }

    /// Checks the inputs of a vector–Jacobian product (those of a run, `ε₀ > 0` and a cotangent
    /// of `len` entries), on every engine.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn check_vjp(
        &self,
        len: usize,
        m: usize,
        norm_bound: f32,
        y: &[Complex32],
        weights: &[f32],
        epsilon0: f32,
        g: &[Complex32],
    ) -> Result<()> {
        self.check_sizes(len, m, norm_bound, y, weights)?;
        if g.len() != len {
            return Err(Error::Input(format!(
                "a cotangent of {} entries for {len} coefficients",
                g.len()
            )));
        }
        if !(epsilon0.is_finite() && epsilon0 > 0.0) {
            return Err(Error::Input(format!(
                "FIRENET's gradient needs ε₀ > 0, got {epsilon0}"
            )));
        }
        Ok(())
    }

    /// Checks the settings and the inputs of a run on an operator `ℂⁿ → ℂᵐ` (`n = len`) with
    /// `‖B‖ ≤ norm_bound` (every engine's runs check the same).
    pub(crate) fn check_sizes(
        &self,
        len: usize,
        m: usize,
        norm_bound: f32,
        y: &[Complex32],
        weights: &[f32],
    ) -> Result<()> {
        let bad = |m: String| Err(Error::Input(m));
        if !(self.lambda.is_finite() && self.lambda >= 0.0) {
            return bad(format!("λ must be finite and ≥ 0, got {}", self.lambda));
        }
        if self.blocks == 0 || self.layers_per_block == 0 {
            return bad("FIRENET needs at least one block of at least one layer".into());
        }
        if self.layers() > MAX_LAYERS {
            return bad(format!(
                "{} layers requested; at most {MAX_LAYERS}",
                self.layers()
            ));
        }
        let b = norm_bound;
        if !(self.tau > 0.0 && self.sigma > 0.0 && self.tau * self.sigma * b * b <= 1.0 + 1e-6) {
            return bad(format!(
                "the steps must satisfy τσ‖B‖² ≤ 1 (τ = {}, σ = {}, ‖B‖ ≤ {b})",
                self.tau, self.sigma
            ));
        }
        if !(self.delta.is_finite() && self.delta >= 0.0) {
            return bad(format!("δ must be finite and ≥ 0, got {}", self.delta));
        }
        if y.len() != m {
            return bad(format!(
                "{} measurements for an operator with {m} outputs",
                y.len(),
            ));
        }
        if y.iter().any(|v| !v.re.is_finite() || !v.im.is_finite()) {
            return bad("the measurements contain NaN or infinite values".into());
        }
        if weights.len() != len {
            return bad(format!("{} weights for {len} coefficients", weights.len()));
        }
        if weights.iter().any(|w| !(w.is_finite() && *w >= 0.0)) {
            return bad("the weights must be finite and ≥ 0".into());
        }
        Ok(())
    }

    /// Runs FIRENET on `op = B` with data `y`, per-coefficient weights `w` and an optional initial
    /// guess `ψ₀` (coefficients). `each_layer(k, ψ)` receives the estimate after layer `k = 1 …
    /// n·p`; return `false` from it to stop (the run then ends with [`Error::Cancelled`]).
    /// Returns `ψ_n`.
    pub fn run(
        &self,
        op: &dyn LinearOperator,
        y: &[Complex32],
        weights: &[f32],
        initial: Option<&[Complex32]>,
        mut each_layer: impl FnMut(usize, &[Complex32]) -> bool,
    ) -> Result<Vec<Complex32>> {
        let mut run = self.start(op, y, weights, initial)?;
        while run.next_block(&mut each_layer)? {}
        Ok(run.finish())
    }

    /// Starts a run that the caller advances block by block with [`FirenetRun::next_block`]
    /// (the worker yields to its event loop between blocks).
    pub fn start<'a>(
        &self,
        op: &'a dyn LinearOperator,
        y: &'a [Complex32],
        weights: &[f32],
        initial: Option<&[Complex32]>,
    ) -> Result<FirenetRun<'a>> {
        self.start_with_epsilon(op, y, weights, initial, norm(y) as f32)
    }

    /// [`Firenet::start`] with the restart scheme's `ε₀` given (the default is `‖y‖₂`, an upper
    /// bound for the cold start `ψ₀ = 0`; a warm start may begin lower). The smaller `ε₀`, the
    /// less the blocks move `ψ₀` (each block moves its estimate by about `ε_k/2` at most).
    pub fn start_with_epsilon<'a>(
        &self,
        op: &'a dyn LinearOperator,
        y: &'a [Complex32],
        weights: &[f32],
        initial: Option<&[Complex32]>,
        epsilon0: f32,
    ) -> Result<FirenetRun<'a>> {
        self.check(op, y, weights)?;
        if !(epsilon0.is_finite() && epsilon0 >= 0.0) {
            return Err(Error::Input(format!(
                "ε₀ must be finite and ≥ 0, got {epsilon0}"
            )));
        }
        let (len, m) = (op.input_len(), op.output_len());
        let psi = initial_guess(len, initial)?;
        let zeros = |k: usize| vec![Complex32::default(); k];
        Ok(FirenetRun {
            settings: *self,
            op,
            y,
            thresholds: weights.iter().map(|w| self.tau * self.lambda * w).collect(),
            estimate: psi.clone(),
            psi,
            z: zeros(len),
            z_new: zeros(len),
            sum: zeros(len),
            bt_u: zeros(len),
            extrapolated: zeros(len),
            u: zeros(m),
            bz: zeros(m),
            epsilon: epsilon0,
            block: 0,
            layer: 0,
        })
    }
}

/// `ψ₀`: the initial guess checked (length, finite), or zeros.
pub(crate) fn initial_guess(len: usize, initial: Option<&[Complex32]>) -> Result<Vec<Complex32>> {
    match initial {
        Some(z) if z.len() == len => {
            if z.iter().any(|v| !v.re.is_finite() || !v.im.is_finite()) {
                return Err(Error::Input(
                    "the initial guess contains NaN or infinite values".into(),
                ));
            }
            Ok(z.to_vec())
        }
        Some(z) => Err(Error::Input(format!(
            "initial guess of {} coefficients, expected {len}",
            z.len()
        ))),
        None => Ok(vec![Complex32::default(); len]),
    }
}

/// A FIRENET run in progress (see [`Firenet::start`]).
pub struct FirenetRun<'a> {
    settings: Firenet,
    op: &'a dyn LinearOperator,
    y: &'a [Complex32],
    thresholds: Vec<f32>,
    psi: Vec<Complex32>,
    estimate: Vec<Complex32>,
    z: Vec<Complex32>,
    z_new: Vec<Complex32>,
    sum: Vec<Complex32>,
    bt_u: Vec<Complex32>,
    extrapolated: Vec<Complex32>,
    u: Vec<Complex32>,
    bz: Vec<Complex32>,
    epsilon: f32,
    block: usize,
    layer: usize,
}

impl FirenetRun<'_> {
    /// Blocks completed.
    pub fn blocks_done(&self) -> usize {
        self.block
    }

    /// Runs the next block of `p` layers, calling `each_layer(k, ψ)` after each layer `k`.
    /// Returns whether blocks remain.
    pub fn next_block(
        &mut self,
        mut each_layer: impl FnMut(usize, &[Complex32]) -> bool,
    ) -> Result<bool> {
        let Firenet {
            blocks,
            layers_per_block: p,
            tau,
            sigma,
            delta,
            ..
        } = self.settings;
        if self.block >= blocks {
            return Ok(false);
        }
        self.block += 1;
        self.epsilon = (delta + self.epsilon) / std::f32::consts::E;
        let beta = self.epsilon / (2.0 * self.op.norm_bound());
        let alpha = 1.0 / (beta * p as f32);
        if !alpha.is_finite() || alpha == 0.0 {
            // ε underflowed (zero data and δ = 0) or overflowed: ψ stands as it is.
            for _ in 0..p {
                self.layer += 1;
                if !each_layer(self.layer, &self.psi) {
                    return Err(Error::Cancelled);
                }
            }
            return Ok(self.block < blocks);
        }
        let sy = sigma * alpha;
        for (zi, pi) in self.z.iter_mut().zip(&self.psi) {
            *zi = pi * alpha;
        }
        self.u.fill(Complex32::default());
        self.sum.fill(Complex32::default());
        for j in 1..=p {
            self.op.adjoint(&self.u, &mut self.bt_u);
            // z′ = soft(z − τB*u) and the extrapolation 2z′ − z, in one pass.
            for ((((zn, e), zi), g), t) in self
                .z_new
                .iter_mut()
                .zip(self.extrapolated.iter_mut())
                .zip(&self.z)
                .zip(&self.bt_u)
                .zip(&self.thresholds)
            {
                *zn = soft(zi - g * tau, *t);
                *e = *zn * 2.0 - zi;
            }
            self.op.apply(&self.extrapolated, &mut self.bz);
            // u + σB(2z′ − z) − σy and its norm, then the projection onto the unit ball.
            let mut un2 = 0.0f64;
            for ((ui, bi), yi) in self.u.iter_mut().zip(&self.bz).zip(self.y) {
                *ui += bi * sigma - yi * sy;
                un2 += ui.norm_sqr() as f64;
            }
            let un = un2.sqrt() as f32;
            if un > 1.0 {
                let s = 1.0 / un;
                for ui in self.u.iter_mut() {
                    *ui *= s;
                }
            }
            std::mem::swap(&mut self.z, &mut self.z_new);
            self.layer += 1;
            let scale = 1.0 / (alpha * j as f32);
            for ((s, e), zi) in self
                .sum
                .iter_mut()
                .zip(self.estimate.iter_mut())
                .zip(&self.z)
            {
                *s += zi;
                *e = *s * scale;
            }
            if !each_layer(self.layer, &self.estimate) {
                return Err(Error::Cancelled);
            }
        }
        self.psi.copy_from_slice(&self.estimate);
        Ok(self.block < blocks)
    }

    /// The current estimate `ψ` (after the last completed block).
    pub fn psi(&self) -> &[Complex32] {
        &self.psi
    }

    /// `ψ_n` (or the estimate after the blocks run so far).
    pub fn finish(self) -> Vec<Complex32> {
        self.psi
    }
}

/// `soft_t(v) = v/|v| · max(|v| − t, 0)`, 0 at `v = 0`.
#[inline]
pub(crate) fn soft(v: Complex32, t: f32) -> Complex32 {
    // √(re² + im²) rather than `norm()` (hypot), which is several times slower on wasm32.
    let a = v.norm_sqr().sqrt();
    if a <= t {
        Complex32::default()
    } else {
        v * ((a - t) / a)
    }
}

/// `Re⟨a, b⟩` in f64.
fn re_inner(a: &[Complex32], b: &[Complex32]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(p, q)| p.re as f64 * q.re as f64 + p.im as f64 * q.im as f64)
        .sum()
}

/// The vector–Jacobian product of `(y, ψ₀, ε₀) ↦ ψ_n` (see [`Firenet::vjp_with_epsilon`]).
#[derive(Clone, Debug, PartialEq)]
pub struct FirenetVjp {
    /// The gradient in `y` through the layers (not through `ε₀`).
    pub y: Vec<Complex32>,
    /// The gradient in the initial guess `ψ₀`.
    pub initial: Vec<Complex32>,
    /// The derivative in `ε₀`.
    pub epsilon0: f64,
}

impl Firenet {
    /// The vector–Jacobian product of `y ↦ ψ_n` (from `ψ₀ = 0`): the gradient in `y` of
    /// `Re⟨ψ_n(y), g⟩`, by reverse mode through every layer, including the restart scales
    /// `α_k`, which depend on `y` through `ε₀ = ‖y‖₂`. See [`Firenet::vjp_with_initial`].
    pub fn vjp(
        &self,
        op: &dyn LinearOperator,
        y: &[Complex32],
        weights: &[f32],
        g: &[Complex32],
    ) -> Result<Vec<Complex32>> {
        Ok(self.vjp_with_initial(op, y, weights, None, g)?.0)
    }

    /// The vector–Jacobian product of `(y, ψ₀) ↦ ψ_n` with `ε₀ = ‖y‖₂` (as [`Firenet::run`]):
    /// the gradients in `y` and in the initial guess `ψ₀` (zeros for `None`) of
    /// `Re⟨ψ_n(y, ψ₀), g⟩`.
    pub fn vjp_with_initial(
        &self,
        op: &dyn LinearOperator,
        y: &[Complex32],
        weights: &[f32],
        initial: Option<&[Complex32]>,
        g: &[Complex32],
    ) -> Result<(Vec<Complex32>, Vec<Complex32>)> {
        let y_norm = norm(y);
        let v = self.vjp_with_epsilon(op, y, weights, initial, y_norm as f32, g)?;
        Ok(through_norm(v, y, y_norm))
    }

    /// The vector–Jacobian product of `(y, ψ₀, ε₀) ↦ ψ_n` ([`Firenet::start_with_epsilon`]),
    /// by reverse mode through every layer and the restart scales `α_k = 2‖B‖/(ε_k p)`,
    /// `ε_k = e⁻ᵏε₀ + (terms in δ)`. The real Jacobians used: `soft_t(v) = v − t·v/|v|` (for
    /// `|v| > t`, else 0) has `ā = z̄ − t(z̄ − v̂⟨v̂, z̄⟩)/|v|` per entry; `Π(b) = b/‖b‖` (for
    /// `‖b‖ > 1`) has `b̄ = (ū − b̂⟨b̂, ū⟩)/‖b‖`.
    pub fn vjp_with_epsilon(
        &self,
        op: &dyn LinearOperator,
        y: &[Complex32],
        weights: &[f32],
        initial: Option<&[Complex32]>,
        epsilon0: f32,
        g: &[Complex32],
    ) -> Result<FirenetVjp> {
        let (len, m, p) = (op.input_len(), op.output_len(), self.layers_per_block);
        self.check_vjp(len, m, op.norm_bound(), y, weights, epsilon0, g)?;
        let initial = initial_guess(len, initial)?;
        let zeros = |k: usize| vec![Complex32::default(); k];
        let thresholds: Vec<f32> = weights.iter().map(|w| self.tau * self.lambda * w).collect();
        let (tau, sigma) = (self.tau, self.sigma);
        // Forward, keeping what the backward pass needs.
        struct Block {
            alpha: f32,
            epsilon: f32,
            psi_in: Vec<Complex32>,
            a: Vec<Vec<Complex32>>,
            b: Vec<Vec<Complex32>>,
            sum: Vec<Complex32>,
        }
        let mut blocks: Vec<Block> = Vec::with_capacity(self.blocks);
        let mut psi = initial;
        let mut epsilon = epsilon0;
        let (mut bt_u, mut e, mut bz) = (zeros(len), zeros(len), zeros(m));
        for _ in 0..self.blocks {
            epsilon = (self.delta + epsilon) / std::f32::consts::E;
            let alpha = 2.0 * op.norm_bound() / (epsilon * p as f32);
            if !alpha.is_finite() {
                return Err(Error::Input(
                    "FIRENET's gradient needs non-zero data (ε underflowed)".into(),
                ));
            }
            let mut prev: Vec<Complex32> = psi.iter().map(|v| v * alpha).collect();
            let (mut a_all, mut b_all) = (Vec::with_capacity(p), Vec::with_capacity(p));
            let mut u = zeros(m);
            let mut sum = zeros(len);
            for _ in 0..p {
                op.adjoint(&u, &mut bt_u);
                let a: Vec<Complex32> = prev
                    .iter()
                    .zip(&bt_u)
                    .map(|(zi, gi)| zi - gi * tau)
                    .collect();
                let next: Vec<Complex32> = a
                    .iter()
                    .zip(&thresholds)
                    .map(|(v, t)| soft(*v, *t))
                    .collect();
                for ((ei, n), zi) in e.iter_mut().zip(&next).zip(&prev) {
                    *ei = n * 2.0 - zi;
                }
                op.apply(&e, &mut bz);
                let b: Vec<Complex32> = u
                    .iter()
                    .zip(&bz)
                    .zip(y)
                    .map(|((ui, bi), yi)| ui + bi * sigma - yi * (sigma * alpha))
                    .collect();
                let bn = norm(&b) as f32;
                u = if bn > 1.0 {
                    b.iter().map(|v| v / bn).collect()
                } else {
                    b.clone()
                };
                for (s, n) in sum.iter_mut().zip(&next) {
                    *s += n;
                }
                a_all.push(a);
                b_all.push(b);
                prev = next;
            }
            let psi_out: Vec<Complex32> = sum.iter().map(|s| s / (alpha * p as f32)).collect();
            blocks.push(Block {
                alpha,
                epsilon,
                psi_in: std::mem::replace(&mut psi, psi_out),
                a: a_all,
                b: b_all,
                sum,
            });
        }
        // Backward.
        let mut y_bar = zeros(m);
        let mut psi_bar = g.to_vec();
        let mut epsilon0_bar = 0.0f64;
        for (k, block) in blocks.iter().enumerate().rev() {
            let alpha = block.alpha;
            let mut alpha_bar =
                -re_inner(&psi_bar, &block.sum) / (alpha as f64 * alpha as f64 * p as f64);
            let s_bar: Vec<Complex32> = psi_bar.iter().map(|v| v / (alpha * p as f32)).collect();
            let mut z_bar: Vec<Vec<Complex32>> = (0..=p)
                .map(|j| if j == 0 { zeros(len) } else { s_bar.clone() })
                .collect();
            let mut u_bar = zeros(m);
            for j in (1..=p).rev() {
                // u^j = Π(b_j).
                let b = &block.b[j - 1];
                let bn = norm(b);
                let b_bar: Vec<Complex32> = if bn > 1.0 {
                    let along = re_inner(b, &u_bar) / (bn * bn);
                    b.iter()
                        .zip(&u_bar)
                        .map(|(bi, ui)| (ui - bi * along as f32) / bn as f32)
                        .collect()
                } else {
                    u_bar.clone()
                };
                // b_j = u^{j−1} + σBe_j − σαy.
                u_bar = b_bar.clone();
                for (yb, bb) in y_bar.iter_mut().zip(&b_bar) {
                    *yb -= bb * (sigma * alpha);
                }
                alpha_bar -= sigma as f64 * re_inner(&b_bar, y);
                let mut e_bar = zeros(len);
                op.adjoint(&b_bar, &mut e_bar);
                // e_j = 2z^j − z^{j−1}.
                {
                    let (lo, hi) = z_bar.split_at_mut(j);
                    for ((prev, cur), eb) in lo[j - 1].iter_mut().zip(hi[0].iter_mut()).zip(&e_bar)
                    {
                        let eb = eb * sigma;
                        *cur += eb * 2.0;
                        *prev -= eb;
                    }
                }
                // z^j = soft(a_j).
                let a = &block.a[j - 1];
                let a_bar: Vec<Complex32> = a
                    .iter()
                    .zip(&z_bar[j])
                    .zip(&thresholds)
                    .map(|((v, zb), t)| {
                        let r = v.norm_sqr().sqrt();
                        if r <= *t {
                            Complex32::default()
                        } else {
                            let vh = v / r;
                            let along = vh.re * zb.re + vh.im * zb.im;
                            zb - (zb - vh * along) * (t / r)
                        }
                    })
                    .collect();
                // a_j = z^{j−1} − τB*u^{j−1}.
                for (zb, ab) in z_bar[j - 1].iter_mut().zip(&a_bar) {
                    *zb += ab;
                }
                op.apply(&a_bar, &mut bz);
                for (ub, v) in u_bar.iter_mut().zip(&bz) {
                    *ub -= v * tau;
                }
            }
            // z⁰ = αψ_{k−1}.
            alpha_bar += re_inner(&z_bar[0], &block.psi_in);
            psi_bar = z_bar[0].iter().map(|v| v * alpha).collect();
            // α_k = 2‖B‖/(ε_k p), ε_k = e^{−k}ε₀ + (terms in δ).
            let epsilon_bar = alpha_bar * (-(alpha as f64) / block.epsilon as f64);
            epsilon0_bar += epsilon_bar * (-((k + 1) as f64)).exp();
        }
        Ok(FirenetVjp {
            y: y_bar,
            initial: psi_bar,
            epsilon0: epsilon0_bar,
        })
    }
}

/// The gradients in `y` and `ψ₀` of [`Firenet::vjp_with_initial`] from the vector–Jacobian
/// product `v` at `ε₀ = ‖y‖₂ = y_norm`: adds the path through `ε₀` (`∂ε₀/∂y = y/‖y‖`).
pub fn through_norm(
    mut v: FirenetVjp,
    y: &[Complex32],
    y_norm: f64,
) -> (Vec<Complex32>, Vec<Complex32>) {
    if y_norm > 0.0 {
        for (yb, yi) in v.y.iter_mut().zip(y) {
            *yb += yi * (v.epsilon0 / y_norm) as f32;
        }
    }
    (v.y, v.initial)
}

/// Per-coefficient weights from one weight per wavelet level, `w_j = √(s/s_j)` for sparsity
/// levels `s_j` (`s = Σ s_j`), as in the authors' code.
pub fn sparsity_weights(sparsities: &[f64]) -> Result<Vec<f32>> {
    if sparsities.is_empty() || sparsities.iter().any(|s| !(s.is_finite() && *s > 0.0)) {
        return Err(Error::Input(
            "sparsity levels must be positive numbers".into(),
        ));
    }
    let s: f64 = sparsities.iter().sum();
    Ok(sparsities.iter().map(|sj| (s / sj).sqrt() as f32).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn soft_threshold_shrinks_the_modulus() {
        let v = Complex32::new(3.0, 4.0);
        let s = soft(v, 1.0);
        assert!((s.norm() - 4.0).abs() < 1e-6);
        assert!((s.arg() - v.arg()).abs() < 1e-6);
        assert_eq!(soft(v, 5.0), Complex32::default());
        assert_eq!(soft(Complex32::default(), 0.0), Complex32::default());
    }

    #[test]
    fn sparsity_weights_follow_the_formula() {
        let w = sparsity_weights(&[4.0, 12.0]).unwrap();
        assert!((w[0] - 2.0).abs() < 1e-6 && (w[1] - (16.0f32 / 12.0).sqrt()).abs() < 1e-6);
        assert!(sparsity_weights(&[1.0, 0.0]).is_err());
    }
}
