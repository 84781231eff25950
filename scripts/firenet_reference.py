#!/usr/bin/env python3
"""Independent reference implementation of FIRENET (Colbrook, Antun, Hansen, PNAS 2022) for MRI,
written to be *obviously correct* rather than fast, plus the golden file the Rust test compares against.

What it computes
----------------
Everything follows docs/mri-conventions.md:

* unitary, unshifted 2-D DFT  (Fx)[u,v] = (1/N) sum_{y,x} x[y,x] exp(-2 pi i (u y + v x)/N),
  applied as an explicit matrix product F1 X F1^T with the 1-D DFT matrix F1[u,y] built from its
  definition (no FFT);
* orthogonal periodic separable 2-D wavelet transform with J levels in the Mallat layout, computed from
  the 1-D formula a[k] = sum_n h[n] x[(2k+n) mod L], d[k] = sum_n g[n] x[(2k+n) mod L],
  g[n] = (-1)^n h[K-1-n], with explicit modulo indexing (no PyWavelets); synthesis is the literal transpose;
* sampling A = P_Omega F (row-major order of the sampled grid positions), B = P_Omega F W^{-1}, B^*;
* FIRENET: primal-dual inner iterations (ergodic average of p steps) for the square-root LASSO
  min_z lambda ||z||_{1,w} + ||B z - y||_2, wrapped in n restarts with eps_k = e^{-1}(delta + eps_{k-1}).

It writes tests/data/firenet_golden.json with three cases ("haar_sparse", "db4_phantom", "db4_noisy"),
N = 32, each holding the inputs (image, mask, measurements y, wavelet, J, per-level weights, lambda, n,
p, tau, sigma, delta) and the outputs (A^* y, B^* y, the FIRENET image x = W^{-1} psi_n and the relative
error ||x_k - x|| / ||x|| after every restart block k = 1..n). Complex values are [re, im] pairs; images
and masks are row-major lists (index y*N + x). Floats are written with Python's repr (full precision).

Before writing, the script asserts: DFT unitarity and agreement with the brute-force definition,
wavelet perfect reconstruction / orthogonality, the adjoint identity <Bz, u> = <z, B^* u>, ||B|| = 1,
and (haar_sparse) that the error after the last block is far below the error after the first block.

Regenerate
----------
    python3 -m venv /tmp/refvenv && /tmp/refvenv/bin/pip install numpy
    /tmp/refvenv/bin/python scripts/firenet_reference.py          # writes tests/data/firenet_golden.json

Timing mode (the same FIRENET on other cases, for `lab firenet-peers` / scripts/bench-firenet-peers.sh):
    python scripts/firenet_reference.py --time CASES.json --out TIMES.json [--repeats 5]

The golden file is deterministic (fixed seeds / closed-form inputs). The Rust FIRENET test reads
tests/data/firenet_golden.json and compares its operators and reconstructions against these values.
"""

import json
import math
import os
import sys

import numpy as np

N = 32
OUT_PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "data", "firenet_golden.json")

# ---------------------------------------------------------------------------------------------------
# Wavelet filters (low-pass h = PyWavelets' rec_lo), exactly as in the conventions.
# ---------------------------------------------------------------------------------------------------
FILTERS = {
    "db1": [1.0 / math.sqrt(2.0), 1.0 / math.sqrt(2.0)],
    "db4": [
        0.23037781330885523,
        0.7148465705525415,
        0.6308807679295904,
        -0.02798376941698385,
        -0.18703481171888114,
        0.030841381835986965,
        0.032883011666982945,
        -0.010597401784997278,
    ],
}


def lowpass(name):
    return np.array(FILTERS[name], dtype=float)


def highpass(h):
    """g[n] = (-1)^n h[K-1-n]."""
    K = len(h)
    return np.array([(-1) ** n * h[K - 1 - n] for n in range(K)], dtype=float)


# The db4 values above (PyWavelets' table) are orthonormal only to about 1e-12: sum h[n]^2 = 1 - 9.3e-13,
# so W^T W - I for db4 is ~3e-12, not ~1e-16. Checks that depend on W^T = W^{-1} therefore use this
# per-filter tolerance (the filter is kept exactly as specified; synthesis is the exact transpose).
PR_TOL = {"db1": 1e-12, "db4": 1e-11}

# ---------------------------------------------------------------------------------------------------
# Unitary 2-D DFT as an explicit matrix product.
# ---------------------------------------------------------------------------------------------------
def dft_matrix(n):
    """F1[u, y] = exp(-2 pi i u y / n) / sqrt(n), built entry by entry from the definition."""
    F1 = np.zeros((n, n), dtype=complex)
    for u in range(n):
        for y in range(n):
            F1[u, y] = np.exp(-2j * np.pi * ((u * y) % n) / n) / np.sqrt(n)
    return F1


F1 = dft_matrix(N)


def fft2_unitary(X):
    """(F X)[u, v] = sum_{y,x} F1[u,y] F1[v,x] X[y,x] = (F1 X F1^T)[u, v]."""
    return F1 @ X @ F1.T


def ifft2_unitary(Y):
    """F^{-1} = F^* (unitary): X = conj(F1)^T Y conj(F1)."""
    return F1.conj().T @ Y @ F1.conj()


# ---------------------------------------------------------------------------------------------------
# Orthogonal periodic wavelet transform, by the formula with explicit modulo indexing.
# ---------------------------------------------------------------------------------------------------
def analysis_1d(x, h):
    """a[k] = sum_n h[n] x[(2k+n) mod L], d[k] = sum_n g[n] x[(2k+n) mod L]; returns [a, d]."""
    L = len(x)
    assert L % 2 == 0
    g = highpass(h)
    a = np.zeros(L // 2)
    d = np.zeros(L // 2)
    for k in range(L // 2):
        for n in range(len(h)):
            a[k] += h[n] * x[(2 * k + n) % L]
            d[k] += g[n] * x[(2 * k + n) % L]
    return np.concatenate([a, d])


def synthesis_1d(c, h):
    """Exact transpose of analysis_1d: x[(2k+n) mod L] += h[n] a[k] + g[n] d[k]."""
    L = len(c)
    g = highpass(h)
    a, d = c[: L // 2], c[L // 2 :]
    x = np.zeros(L)
    for k in range(L // 2):
        for n in range(len(h)):
            x[(2 * k + n) % L] += h[n] * a[k] + g[n] * d[k]
    return x


def wavelet_forward_real(img, h, J):
    """J levels, each: 1-D analysis of every row of the top-left s x s block, then every column."""
    c = np.array(img, dtype=float).copy()
    s = c.shape[0]
    for _ in range(J):
        assert s % 2 == 0
        for r in range(s):
            c[r, :s] = analysis_1d(c[r, :s], h)
        for col in range(s):
            c[:s, col] = analysis_1d(c[:s, col], h)
        s //= 2
    return c


def wavelet_inverse_real(coef, h, J):
    """Transpose of wavelet_forward_real: undo the levels from coarsest to finest, columns then rows."""
    x = np.array(coef, dtype=float).copy()
    n = x.shape[0]
    for level in reversed(range(J)):
        s = n >> level
        for col in range(s):
            x[:s, col] = synthesis_1d(x[:s, col], h)
        for r in range(s):
            x[r, :s] = synthesis_1d(x[r, :s], h)
    return x


def wavelet_forward(img, h, J):
    """Complex images: real and imaginary parts separately."""
    img = np.asarray(img)
    return wavelet_forward_real(img.real, h, J) + 1j * wavelet_forward_real(np.imag(img), h, J)


def wavelet_inverse(coef, h, J):
    coef = np.asarray(coef)
    return wavelet_inverse_real(coef.real, h, J) + 1j * wavelet_inverse_real(np.imag(coef), h, J)


def coefficient_level(y, x, n, J):
    """0 for the scaling block max(y,x) < n/2^J; else j with max(y,x) in [n/2^{J-j+1}, n/2^{J-j})."""
    m = max(y, x)
    if m < n >> J:
        return 0
    for j in range(1, J + 1):
        if (n >> (J - j + 1)) <= m < (n >> (J - j)):
            return j
    raise AssertionError("unreachable")


def weight_array(level_weights, n, J):
    assert len(level_weights) == J + 1
    w = np.zeros((n, n))
    for y in range(n):
        for x in range(n):
            w[y, x] = level_weights[coefficient_level(y, x, n, J)]
    return w


# ---------------------------------------------------------------------------------------------------
# Sampling operators.
# ---------------------------------------------------------------------------------------------------
def sample(K, mask):
    """P_Omega: entries of the N x N grid K at mask positions, row-major order."""
    return np.array([K[u, v] for u in range(N) for v in range(N) if mask[u, v]], dtype=complex)


def zero_fill(yv, mask):
    """P_Omega^T: place y back on the grid (row-major order of sampled positions), zeros elsewhere."""
    K = np.zeros((N, N), dtype=complex)
    i = 0
    for u in range(N):
        for v in range(N):
            if mask[u, v]:
                K[u, v] = yv[i]
                i += 1
    assert i == len(yv)
    return K


def A_op(x, mask):
    return sample(fft2_unitary(x), mask)


def A_adj(yv, mask):
    return ifft2_unitary(zero_fill(yv, mask))


class Operator:
    """B = P_Omega F W^{-1} and B^* = W F^{-1} P_Omega^T for one mask and wavelet."""

    def __init__(self, mask, h, J):
        self.mask, self.h, self.J = mask, h, J

    def B(self, z):
        return A_op(wavelet_inverse(z, self.h, self.J), self.mask)

    def B_adj(self, u):
        return wavelet_forward(A_adj(u, self.mask), self.h, self.J)


# ---------------------------------------------------------------------------------------------------
# FIRENET.
# ---------------------------------------------------------------------------------------------------
def soft(v, t):
    """v/|v| * max(|v| - t, 0), componentwise (complex modulus), 0 where v = 0."""
    out = np.zeros_like(v, dtype=complex)
    mag = np.abs(v)
    nz = mag > 0
    out[nz] = v[nz] / mag[nz] * np.maximum(mag[nz] - t[nz], 0.0)
    return out


def proj_unit_ball(v):
    """v * min(1, 1/||v||_2)."""
    nrm = np.linalg.norm(v)
    return v if nrm <= 1.0 else v / nrm


def inner(op, yp, z0, lam, w, p, tau, sigma):
    u = np.zeros_like(yp, dtype=complex)
    z = np.array(z0, dtype=complex)
    S = np.zeros_like(z)
    for _ in range(p):
        z_new = soft(z - tau * op.B_adj(u), tau * lam * w)
        u = proj_unit_ball(u + sigma * op.B(2 * z_new - z) - sigma * yp)
        z = z_new
        S = S + z_new
    return S / p


def firenet(op, yv, lam, w, n, p, tau, sigma, delta, psi0=None):
    """Restarted scheme; returns the list [psi_1, ..., psi_n] and the eps sequence [eps_0, ..., eps_n]."""
    B_norm = 1.0
    eps = np.linalg.norm(yv)
    psi = np.zeros((N, N), dtype=complex) if psi0 is None else psi0
    psis, epss = [], [eps]
    for _ in range(n):
        eps = math.exp(-1.0) * (delta + eps)
        beta = eps / (2.0 * B_norm)
        alpha = 1.0 / (beta * p)
        psi = (1.0 / alpha) * inner(op, alpha * yv, alpha * psi, lam, w, p, tau, sigma)
        psis.append(psi)
        epss.append(eps)
    return psis, epss


# ---------------------------------------------------------------------------------------------------
# Test inputs (deterministic).
# ---------------------------------------------------------------------------------------------------
def wrapped(k):
    """|k| in the wrapped sense on the unshifted grid: min(k, N - k)."""
    return min(k, N - k)


def variable_density_mask(fraction, seed, full_radius=2.5, decay=2.0):
    """Bernoulli mask with P(u,v) = min(1, c / (1 + r)^decay), r = wrapped radius, and every entry
    with r <= full_radius sampled. c is found by bisection so that the expected fraction matches."""
    r = np.array([[math.hypot(wrapped(u), wrapped(v)) for v in range(N)] for u in range(N)])
    base = 1.0 / (1.0 + r) ** decay

    def probs(c):
        P = np.minimum(1.0, c * base)
        P[r <= full_radius] = 1.0
        return P

    lo, hi = 0.0, 1e6
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if probs(mid).mean() < fraction:
            lo = mid
        else:
            hi = mid
    P = probs(0.5 * (lo + hi))
    rng = np.random.default_rng(seed)
    return rng.random((N, N)) < P


def haar_sparse_image(seed, J):
    """Real image exactly sparse in db1 with J levels: all 16 scaling coefficients plus 24 details at
    levels 1 and 2 (coarse), x = W^{-1} z."""
    rng = np.random.default_rng(seed)
    z = np.zeros((N, N))
    s0 = N >> J
    z[:s0, :s0] = rng.uniform(0.5, 1.5, size=(s0, s0)) * s0  # scaling block (positive mean image)
    candidates = [(y, x) for y in range(N >> (J - 2)) for x in range(N >> (J - 2))
                  if coefficient_level(y, x, N, J) in (1, 2)]
    idx = rng.choice(len(candidates), size=24, replace=False)
    for i in idx:
        y, x = candidates[i]
        z[y, x] = rng.normal(0.0, 1.0) * 2.0
    return wavelet_inverse_real(z, lowpass("db1"), J), z


def phantom_image():
    """Sum of a few ellipses with a smooth (tanh) edge profile, clipped to [0, 1]."""
    # (intensity, centre_y, centre_x, semi-axis_y, semi-axis_x, angle) in [-1, 1] coordinates
    ellipses = [
        (0.8, 0.0, 0.0, 0.85, 0.70, 0.0),
        (-0.5, 0.0, 0.0, 0.75, 0.60, 0.0),
        (0.5, -0.25, -0.2, 0.25, 0.15, 0.5),
        (0.4, 0.3, 0.25, 0.18, 0.28, -0.4),
        (0.3, 0.35, -0.3, 0.10, 0.10, 0.0),
    ]
    img = np.zeros((N, N))
    for yi in range(N):
        for xi in range(N):
            py = (2.0 * yi + 1.0) / N - 1.0
            px = (2.0 * xi + 1.0) / N - 1.0
            val = 0.0
            for inten, cy, cx, ay, ax, th in ellipses:
                dy, dx = py - cy, px - cx
                ry = math.cos(th) * dy - math.sin(th) * dx
                rx = math.sin(th) * dy + math.cos(th) * dx
                rho = math.sqrt((ry / ay) ** 2 + (rx / ax) ** 2)
                val += inten * 0.5 * (1.0 - math.tanh((rho - 1.0) / 0.08))
            img[yi, xi] = min(1.0, max(0.0, val))
    return img


# ---------------------------------------------------------------------------------------------------
# Sanity checks.
# ---------------------------------------------------------------------------------------------------
def rel(a, b):
    return np.linalg.norm(a - b) / max(np.linalg.norm(b), 1e-300)


def sanity_checks():
    rng = np.random.default_rng(12345)
    # DFT: unitary, and equal to the brute-force double sum of the definition.
    assert np.max(np.abs(F1.conj().T @ F1 - np.eye(N))) < 1e-12
    X = rng.normal(size=(N, N)) + 1j * rng.normal(size=(N, N))
    FX = fft2_unitary(X)
    assert abs(np.linalg.norm(FX) - np.linalg.norm(X)) / np.linalg.norm(X) < 1e-12
    assert rel(ifft2_unitary(FX), X) < 1e-12
    yy, xx = np.meshgrid(np.arange(N), np.arange(N), indexing="ij")
    for (u, v) in [(0, 0), (1, 0), (0, 1), (3, 7), (N - 1, 5), (16, 16)]:
        direct = np.sum(X * np.exp(-2j * np.pi * (u * yy + v * xx) / N)) / N
        assert abs(direct - FX[u, v]) < 1e-12 * np.linalg.norm(X)
    # Wavelets: filter identities, perfect reconstruction, orthogonality.
    for name in FILTERS:
        h = lowpass(name)
        assert abs(h.sum() - math.sqrt(2.0)) < 1e-12
        for k in range(len(h) // 2):
            s = sum(h[n] * h[n + 2 * k] for n in range(len(h) - 2 * k))
            assert abs(s - (1.0 if k == 0 else 0.0)) < 1e-12, (name, k, s)
        tol = PR_TOL[name]
        for J in (1, 2, 3):
            img = rng.normal(size=(N, N))
            c = wavelet_forward_real(img, h, J)
            assert abs(np.linalg.norm(c) - np.linalg.norm(img)) < tol * np.linalg.norm(img)
            assert rel(wavelet_inverse_real(c, h, J), img) < tol
            assert rel(wavelet_forward_real(wavelet_inverse_real(img, h, J), h, J), img) < tol
            other = rng.normal(size=(N, N))
            lhs = np.sum(wavelet_forward_real(img, h, J) * other)
            rhs = np.sum(img * wavelet_inverse_real(other, h, J))
            assert abs(lhs - rhs) < 1e-12 * np.linalg.norm(img) * np.linalg.norm(other)
        # Orthogonality of the full matrix on a small grid (all basis vectors), J = 2.
        n_small, J = 8, 2
        Wm = np.zeros((n_small * n_small, n_small * n_small))
        for i in range(n_small * n_small):
            e = np.zeros(n_small * n_small)
            e[i] = 1.0
            Wm[:, i] = wavelet_forward_real(e.reshape(n_small, n_small), h, J).ravel()
        assert np.max(np.abs(Wm @ Wm.T - np.eye(n_small * n_small))) < tol
        assert np.max(np.abs(Wm.T @ Wm - np.eye(n_small * n_small))) < tol
        print(f"  {name}: max |W W^T - I| (8x8, J=2) = {np.max(np.abs(Wm @ Wm.T - np.eye(n_small * n_small))):.2e}")
    # Haar spot check: one level on a constant image gives 2*c in the scaling corner (1/sqrt2 twice).
    const = np.full((N, N), 3.0)
    c = wavelet_forward_real(const, lowpass("db1"), 1)
    assert np.allclose(c[: N // 2, : N // 2], 6.0, atol=1e-12) and np.allclose(c[N // 2 :, :], 0, atol=1e-12)
    print("sanity: DFT unitary / definition, wavelet PR / orthogonality: OK")


def operator_checks(op, m, tol):
    rng = np.random.default_rng(777)
    z = rng.normal(size=(N, N)) + 1j * rng.normal(size=(N, N))
    u = rng.normal(size=m) + 1j * rng.normal(size=m)
    lhs = np.vdot(u, op.B(z))  # <Bz, u> = sum Bz * conj(u)
    rhs = np.vdot(op.B_adj(u), z)  # <z, B^* u>
    assert abs(lhs - rhs) < 1e-12 * np.linalg.norm(z) * np.linalg.norm(u), (lhs, rhs)
    # ||B|| = 1: B B^* = I on C^m (rows of a unitary), so B B^* u = u (up to the filter's defect).
    assert rel(op.B(op.B_adj(u)), u) < tol
    # and power iteration on B^* B reaches 1
    v = z / np.linalg.norm(z)
    for _ in range(5):
        v = op.B_adj(op.B(v))
        nv = np.linalg.norm(v)
        v = v / nv
    assert abs(nv - 1.0) < tol


# ---------------------------------------------------------------------------------------------------
# Cases.
# ---------------------------------------------------------------------------------------------------
def cplx_list(a):
    return [[float(c.real), float(c.imag)] for c in np.asarray(a, dtype=complex).ravel()]


def run_case(name, x, mask, wavelet, J, level_weights, lam, n, p, tau, sigma, delta, noise_rel=0.0, noise_seed=None):
    h = lowpass(wavelet)
    op = Operator(mask, h, J)
    m = int(mask.sum())
    operator_checks(op, m, PR_TOL[wavelet])
    y_clean = A_op(x.astype(complex), mask)
    yv = y_clean
    if noise_rel > 0:
        rng = np.random.default_rng(noise_seed)
        e = rng.normal(size=m) + 1j * rng.normal(size=m)
        e *= noise_rel * np.linalg.norm(y_clean) / np.linalg.norm(e)
        yv = y_clean + e
    w = weight_array(level_weights, N, J)
    psis, epss = firenet(op, yv, lam, w, n, p, tau, sigma, delta)
    errs = [float(np.linalg.norm(wavelet_inverse(psi, h, J) - x) / np.linalg.norm(x)) for psi in psis]
    x_out = wavelet_inverse(psis[-1], h, J)
    zero_filled = A_adj(yv, mask)
    Bstar_y = op.B_adj(yv)
    assert rel(Bstar_y, wavelet_forward(zero_filled, h, J)) < 1e-14
    zf_err = float(np.linalg.norm(zero_filled - x) / np.linalg.norm(x))
    print(f"{name}: N={N} m={m} ({m / N / N:.3f} sampled) wavelet={wavelet} J={J} weights={level_weights} "
          f"lambda={lam} n={n} p={p}")
    print(f"  zero-filled rel err {zf_err:.6e}")
    for k, e in enumerate(errs, 1):
        ratio = "" if k == 1 else f"  (ratio {e / errs[k - 2]:.4f})"
        print(f"  block {k}: rel err {e:.6e}  eps_k {epss[k]:.6e}{ratio}")
    case = {
        "name": name,
        "n_size": N,
        "x": [float(v) for v in x.ravel()],
        "mask": [int(b) for b in mask.ravel()],
        "m": m,
        "y": cplx_list(yv),
        "wavelet": wavelet,
        "wavelet_filter": [float(v) for v in h],
        "levels": J,
        "level_weights": [float(v) for v in level_weights],
        "lambda": lam,
        "n": n,
        "p": p,
        "tau": tau,
        "sigma": sigma,
        "delta": delta,
        "noise_rel": noise_rel,
        "zero_filled": cplx_list(zero_filled),
        "bstar_y": cplx_list(Bstar_y),
        "firenet_output": cplx_list(x_out),
        "block_rel_errors": errs,
        "eps": [float(e) for e in epss],
    }
    return case, errs


def main():
    sanity_checks()
    cases = []

    # haar_sparse
    J = 3
    x_h, z_h = haar_sparse_image(seed=2022, J=J)
    assert np.count_nonzero(z_h) == (N >> J) ** 2 + 24
    assert rel(wavelet_forward_real(x_h, lowpass("db1"), J), z_h) < 1e-12
    mask_h = variable_density_mask(0.45, seed=4)
    case, errs = run_case("haar_sparse", x_h, mask_h, "db1", J, [1.0] * (J + 1), lam=0.005, n=6, p=10,
                          tau=1.0, sigma=1.0, delta=1e-9)
    assert errs[-1] < 1e-2 * errs[0], "haar_sparse: restarts did not reduce the error"
    cases.append(case)

    # db4_phantom and db4_noisy share image and mask
    x_p = phantom_image()
    assert x_p.min() >= 0.0 and x_p.max() <= 1.0
    mask_p = variable_density_mask(0.30, seed=7)
    case, _ = run_case("db4_phantom", x_p, mask_p, "db4", 2, [1.0, 1.0, 1.0], lam=0.001, n=5, p=10,
                       tau=1.0, sigma=1.0, delta=1e-9)
    cases.append(case)
    case, _ = run_case("db4_noisy", x_p, mask_p, "db4", 2, [0.5, 1.0, 1.5], lam=0.001, n=5, p=10,
                       tau=1.0, sigma=1.0, delta=1e-9, noise_rel=0.02, noise_seed=99)
    cases.append(case)

    doc = {
        "description": "FIRENET golden outputs from scripts/firenet_reference.py (see docs/mri-conventions.md). "
                       "Images/masks row-major (index y*N+x); complex values as [re, im]; y in row-major order of "
                       "the sampled positions of the unshifted grid; level_weights[0] = scaling block, then "
                       "levels 1..J coarse to fine; block_rel_errors[k-1] = ||W^-1 psi_k - x|| / ||x|| "
                       "(complex difference); eps = [eps_0, ..., eps_n].",
        "cases": cases,
    }
    os.makedirs(os.path.dirname(OUT_PATH), exist_ok=True)
    text = json.dumps(doc, separators=(",", ":"))
    with open(OUT_PATH, "w") as f:
        f.write(text + "\n")
    print(f"wrote {os.path.normpath(OUT_PATH)} ({len(text) + 1} bytes)")


# ---------------------------------------------------------------------------------------------------
# Timing mode: the same FIRENET on given cases (`lab firenet-peers`, scripts/bench-firenet-peers.sh).
# ---------------------------------------------------------------------------------------------------
def set_size(n):
    """Rebinds the grid side N and the DFT matrix F1 that the operators above read (32 on import)."""
    global N, F1
    if n != N:
        N, F1 = n, dft_matrix(n)


def time_cases(cases_path, out_path, repeats):
    """Runs FIRENET `repeats` times on every case of `cases_path` (the golden file's format; the inputs
    n_size, x, mask, y, wavelet, levels, level_weights, lambda, n, p, tau, sigma, delta are read) and
    writes the wall time of each run and the output image x = W^{-1} psi_n of the last run to
    `out_path`. The clock covers the n restart blocks from y and the final W^{-1}; the DFT matrix, the
    operator and the weight array are built before it. A case holding a firenet_output (the golden
    cases) must be reproduced to 1e-12 (relative)."""
    import platform
    import time

    with open(cases_path) as f:
        cases = json.load(f)["cases"]
    results = []
    for case in cases:
        n_side, J = case["n_size"], case["levels"]
        set_size(n_side)
        mask = np.array(case["mask"], dtype=bool).reshape(n_side, n_side)
        yv = np.array([complex(re, im) for re, im in case["y"]])
        h = lowpass(case["wavelet"])
        op = Operator(mask, h, J)
        w = weight_array(case["level_weights"], n_side, J)
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            psis, _ = firenet(op, yv, case["lambda"], w, case["n"], case["p"], case["tau"], case["sigma"],
                              case["delta"])
            x_out = wavelet_inverse(psis[-1], h, J)
            times.append((time.perf_counter() - start) * 1e3)
        if "firenet_output" in case:
            golden = np.array([complex(re, im) for re, im in case["firenet_output"]]).reshape(n_side, n_side)
            gap = rel(x_out, golden)
            assert gap < 1e-12, f"{case['name']}: timed output differs from the golden output by {gap}"
        print(f"reference {case['name']} ({n_side}^2): median {float(np.median(times)):.1f} ms over "
              f"{repeats} runs", file=sys.stderr)
        results.append({"name": case["name"], "times_ms": times, "output": cplx_list(x_out)})
    doc = {
        "python": platform.python_version(),
        "numpy": np.__version__,
        "openblas_num_threads": os.environ.get("OPENBLAS_NUM_THREADS"),
        "cases": results,
    }
    with open(out_path, "w") as f:
        json.dump(doc, f, separators=(",", ":"))


if __name__ == "__main__":
    if len(sys.argv) > 1:
        import argparse

        parser = argparse.ArgumentParser(description="Without arguments: check and write the golden file. "
                                                     "With --time: time FIRENET on given cases.")
        parser.add_argument("--time", metavar="CASES", required=True,
                            help="JSON file {\"cases\": [...]} in the golden file's format")
        parser.add_argument("--out", required=True, help="where the times and outputs are written")
        parser.add_argument("--repeats", type=int, default=5, help="timed runs per case")
        args = parser.parse_args()
        sys.exit(time_cases(args.time, args.out, args.repeats))
    sys.exit(main())
