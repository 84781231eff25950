//! The formulas printed beside the experiments: a LaTeX source typeset to MathML (which
//! browsers render natively), and the plain text kept as the formula's accessible label and for
//! copying.
//!
//! Every formula of the pages is a constant here. Natively, [`to_mathml`] typesets LaTeX with
//! `pulldown-latex`; the MathML of every formula is kept in `src/formula.mathml.json`, which the
//! browser bundle includes instead of the typesetter (about 150 KB less to download). A native
//! test typesets them all, fails on any LaTeX the renderer does not understand, and fails while
//! the JSON is not what the typesetter writes (`BLESS=1 cargo test --lib formula` rewrites it).

use std::collections::HashMap;
use std::sync::OnceLock;

/// The MathML of every formula in [`ALL`], by LaTeX source, as [`to_mathml`] typeset it.
const TYPESET: &str = include_str!("formula.mathml.json");

/// The MathML of a formula of [`ALL`] (by its LaTeX source); `None` for any other.
pub fn typeset(tex: &str) -> Option<&'static str> {
    static TABLE: OnceLock<HashMap<String, String>> = OnceLock::new();
    TABLE
        .get_or_init(|| serde_json::from_str(TYPESET).unwrap_or_default())
        .get(tex)
        .map(String::as_str)
}

/// One formula: its LaTeX source and the same formula as plain text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Formula {
    /// LaTeX math (without `$`), typeset by [`to_mathml`].
    pub tex: &'static str,
    /// The formula as plain Unicode text: the accessible label.
    pub text: &'static str,
}

/// Typesets LaTeX math into a `<math display="block">` element; an error names the first
/// construct the renderer did not understand.
#[cfg(not(target_arch = "wasm32"))]
pub fn to_mathml(tex: &str) -> crate::Result<String> {
    use crate::Error;
    use pulldown_latex::{config::DisplayMode, push_mathml, Parser, RenderConfig, Storage};
    let storage = Storage::new();
    let events = Parser::new(tex, &storage)
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|e| Error::Input(format!("formula \u{201c}{tex}\u{201d}: {e}")))?;
    let mut out = String::new();
    let config = RenderConfig {
        display_mode: DisplayMode::Block,
        ..RenderConfig::default()
    };
    push_mathml(
        &mut out,
        events.into_iter().map(Ok::<_, std::convert::Infallible>),
        config,
    )
    .map_err(|e| Error::Input(format!("formula \u{201c}{tex}\u{201d}: {e}")))?;
    Ok(out)
}

/// The classifier's decision and its softmax.
pub const CLASSIFY: Formula = Formula {
    tex: r"\hat k(x) = \operatorname{argmax}_k f_k(x), \qquad p_k(x) = \frac{e^{f_k(x)}}{\sum_j e^{f_j(x)}}",
    text: "k̂(x) = argmaxₖ fₖ(x),   pₖ(x) = exp fₖ(x) / Σⱼ exp fⱼ(x)",
};

/// The random-noise baseline.
pub const RANDOM_NOISE: Formula = Formula {
    tex: r"v \sim \mathcal N(0, I), \quad r = \alpha^* v, \quad \alpha^* = \min\{\alpha > 0 : \hat k(x + \alpha v) \neq \hat k(x)\}",
    text: "v ~ N(0, I),   r = α*·v,   α* = min{α > 0 : k̂(x + αv) ≠ k̂(x)}",
};

/// The lecture's fast gradient.
pub const FAST_GRADIENT: Formula = Formula {
    tex: r"L(s) = \|p(x + s) - p(x)\|_2^2, \quad v = \nabla L(s_0),\ \|s_0\| = 10^{-3}\|x\|, \quad r = \alpha^* v",
    text: "L(s) = ‖p(x + s) − p(x)‖²₂,   v = ∇L(s₀), ‖s₀‖ = 10⁻³‖x‖,   r = α*·v",
};

/// Goodfellow's fast gradient sign method.
pub const FGSM: Formula = Formula {
    tex: r"v = \operatorname{sign}\big(\nabla_x \mathrm{CE}(x, \hat k(x))\big), \quad r = \varepsilon^* v, \quad \varepsilon^* \text{ the smallest label-changing } \varepsilon",
    text: "v = sign(∇ₓ CE(x, k̂(x))),   r = ε*·v,   ε* the smallest label-changing ε",
};

/// DeepFool's step for the ℓ₂ norm.
pub const DEEPFOOL_L2: Formula = Formula {
    tex: r"\hat l = \operatorname{argmin}_{k \neq \hat k} \frac{|f'_k|}{\|w'_k\|_2}, \quad r_i = \frac{|f'_{\hat l}|}{\|w'_{\hat l}\|_2^2}\, w'_{\hat l}, \quad \hat r = (1 + \eta) \sum_i r_i",
    text: "l̂ = argmin_{k≠k̂} |f′ₖ| / ‖w′ₖ‖₂,   rᵢ = |f′_l̂| / ‖w′_l̂‖²₂ · w′_l̂,   r̂ = (1 + η) Σᵢ rᵢ",
};

/// DeepFool's step for the ℓ∞ norm (q = 1).
pub const DEEPFOOL_LINF: Formula = Formula {
    tex: r"\hat l = \operatorname{argmin}_{k \neq \hat k} \frac{|f'_k|}{\|w'_k\|_1}, \quad r_i = \frac{|f'_{\hat l}|}{\|w'_{\hat l}\|_1} \operatorname{sign}(w'_{\hat l}), \quad \hat r = (1 + \eta) \sum_i r_i",
    text:
        "l̂ = argmin_{k≠k̂} |f′ₖ| / ‖w′ₖ‖₁,   rᵢ = |f′_l̂| / ‖w′_l̂‖₁ · sign(w′_l̂),   r̂ = (1 + η) Σᵢ rᵢ",
};

/// The projection onto a binary linear classifier's boundary.
pub const BINARY_STEP: Formula = Formula {
    tex: r"r(x) = -\frac{f(x)\, \nabla f(x)}{\|\nabla f(x)\|_2^2} = -\frac{(w^\top x + b)\, w}{\|w\|_2^2}",
    text: "r(x) = −f(x) ∇f(x) / ‖∇f(x)‖²₂ = −(wᵀx + b) w / ‖w‖²₂",
};

/// The universal perturbation's loop.
pub const UNIVERSAL: Formula = Formula {
    tex: r"v \leftarrow P(v + \Delta v), \quad \Delta v = \mathrm{DeepFool}(x + v), \quad P\text{: the nearest point with } \|v\|_p \le \xi; \quad \text{until } \frac{\#\{x \in X : \hat k(x + v) \neq \hat k(x)\}}{|X|} \ge 1 - \delta",
    text: "v ← P(v + Δv),   Δv = DeepFool(x + v),   P: the nearest point with ‖v‖ₚ ≤ ξ;   until  #{x ∈ X : k̂(x + v) ≠ k̂(x)} / |X| ≥ 1 − δ",
};

/// Goodfellow's linearity argument.
pub const LINEARITY: Formula = Formula {
    tex: r"\max_{\|\Delta x\|_\infty \le \varepsilon} w^\top(x + \Delta x) - w^\top x = \varepsilon \|w\|_1 = \varepsilon\, d\, \overline{|w|}, \quad \text{attained at } \Delta x = \varepsilon \operatorname{sign}(w)",
    text:
        "max over ‖Δx‖∞ ≤ ε of wᵀ(x + Δx) − wᵀx = ε‖w‖₁ = ε·d·mean|w|,   attained at Δx = ε·sign(w)",
};

/// The sizes of a structural edit.
pub const STRUCTURAL_SIZE: Formula = Formula {
    tex: r"\|x' - x\|_2 = \Big(\sum_i (x'_i - x_i)^2\Big)^{1/2}, \qquad \#\{i : x'_i \neq x_i\}",
    text: "‖x′ − x‖₂ = (Σᵢ (x′ᵢ − xᵢ)²)^½,   #{i : x′ᵢ ≠ xᵢ}",
};

/// The manipulation of an explanation (Dombrowski et al. 2019, eq. 4).
pub const MANIPULATION: Formula = Formula {
    tex: r"\min_{\|\delta\|_\infty \le \varepsilon,\; x + \delta \in [0,1]^{784}} \big\|\hat h(x + \delta) - \hat h_t\big\|_2^2 + \gamma \big\|g(x + \delta) - g(x)\big\|_2^2, \qquad \hat h = \frac{|h|}{\|h\|_1}, \quad h(x) = \nabla_x g_c(x)",
    text: "min over ‖δ‖∞ ≤ ε, x + δ ∈ [0,1]⁷⁸⁴ of ‖ĥ(x + δ) − ĥₜ‖₂² + γ‖g(x + δ) − g(x)‖₂²,   ĥ = |h|/‖h‖₁,   h(x) = ∇ₓ g_c(x)",
};

/// Planting a false structure (Thesing, Antun & Hansen 2019) and DeepFool's share on it.
pub const FALSE_STRUCTURE: Formula = Formula {
    tex: r"x'_i = \min(x_i + s, 1) \;\; (i \in M_k), \qquad x'_i = x_i \;\; (i \notin M_k), \qquad \text{share} = \frac{\sum_{i \in U} r_i^2}{\|r\|_2^2}, \quad U = \bigcup_k M_k",
    text: "x′ᵢ = min(xᵢ + s, 1) for i ∈ M_k, x′ᵢ = xᵢ otherwise;   share = Σ_{i∈U} rᵢ² / ‖r‖₂²,   U = ∪ₖ M_k",
};

/// The relabelled training set of the non-robust features experiment (Ilyas et al. 2019, §3.2):
/// targeted ℓ₂ projected gradient descent towards the label `t`.
pub const NON_ROBUST_PGD: Formula = Formula {
    tex: r"x' \leftarrow \Pi_{\|x' - x\|_2 \le \varepsilon,\; [0,1]^{784}}\Big(x' - \alpha\, \frac{\nabla_{x'} L(f(x'), t)}{\|\nabla_{x'} L(f(x'), t)\|_2}\Big), \qquad \mathcal{D} = \{(x', t)\}, \quad t \ne y",
    text: "x′ ← Π(x′ − α ∇L(f(x′), t)/‖∇L(f(x′), t)‖₂) onto ‖x′ − x‖₂ ≤ ε and [0,1]⁷⁸⁴,   D = {(x′, t)}, t ≠ y",
};

/// The MRI forward model.
pub const MRI_FORWARD: Formula = Formula {
    tex: r"y = Ax + e, \qquad A = P_\Omega F",
    text: "y = Ax + e,   A = P_Ω F",
};

/// FIRENET's optimisation problem and its primal–dual steps.
pub const FIRENET: Formula = Formula {
    tex: r"\min_z \lambda\|z\|_1 + \|Bz - y\|_2, \quad B = P_\Omega F W^{-1}; \qquad z \leftarrow \operatorname{soft}_{\tau\lambda}(z - \tau B^* u), \quad u \leftarrow \Pi_{\|\cdot\| \le 1}\big(u + \sigma B(2z' - z) - \sigma y\big)",
    text: "min_z λ‖z‖₁ + ‖Bz − y‖₂,   B = P_Ω F W⁻¹;   z ← soft_τλ(z − τB*u),   u ← Π_{‖·‖≤1}(u + σB(2z′ − z) − σy)",
};

/// The worst-case search of Antun et al. (PNAS 2020).
pub const WORST_CASE: Formula = Formula {
    tex: r"Q(r) = \tfrac12 \|\Psi(A(x + r)) - \Psi(Ax)\|_2^2 - \tfrac{\lambda}{2}\|r\|_2^2, \qquad v \leftarrow \gamma v + \eta \nabla Q(r), \quad r \leftarrow r + v",
    text: "Q(r) = ½‖Ψ(A(x + r)) − Ψ(Ax)‖²₂ − (λ/2)‖r‖²₂,   v ← γv + η∇Q(r),  r ← r + v",
};

/// FIRENET started from a network's output.
pub const WARM_START: Formula = Formula {
    tex: r"\Phi_\Psi(y) = W^{-1}\psi_n\big(y;\ \psi_0 = W\Psi(y)\big), \quad \psi_k = \alpha_k^{-1}\, \mathrm{Inner}_p(\alpha_k y, \alpha_k \psi_{k-1}), \quad \varepsilon_0 = \|y\|_2",
    text: "ΦΨ(y) = W⁻¹ψₙ(y; ψ₀ = W Ψ(y)),   ψₖ = αₖ⁻¹ Innerₚ(αₖ y, αₖ ψₖ₋₁),  ε₀ = ‖y‖₂",
};

/// The local amplification of a reconstruction.
pub const KAPPA: Formula = Formula {
    tex: r"\kappa = \frac{\|\Psi(A(x + r)) - \Psi(Ax)\|_2}{\|r\|_2}",
    text: "κ = ‖Ψ(A(x + r)) − Ψ(Ax)‖₂ / ‖r‖₂",
};

/// A detail projected onto the kernel of A.
pub const KERNEL_PROJECTION: Formula = Formula {
    tex: r"z_N = z - A^*Az, \qquad x' = x + t\, z_N, \qquad Ax' = Ax",
    text: "z_N = z − A*Az,   x′ = x + t·z_N,   Ax′ = Ax.",
};

/// The troublesome kernel's lower bound.
pub const KERNEL_BOUND: Formula = Formula {
    tex: r"\|R(Ax) - x\| + \|R(Ax') - x'\| \ge \|x - x'\| = t\|z_N\|",
    text: "‖R(Ax) − x‖ + ‖R(Ax′) − x′‖ ≥ ‖x − x′‖ = t‖z_N‖.",
};

/// How much of a detail a reconstruction recovers.
pub const RECOVERED: Formula = Formula {
    tex: r"c(R) = \frac{\operatorname{Re}\langle R(Ax') - R(Ax), z\rangle}{\|z\|^2}, \qquad c(A^*) = \frac{\|Az\|^2}{\|z\|^2}",
    text: "recovered fraction c(R) = Re⟨R(Ax′) − R(Ax), z⟩ / ‖z‖²,   c(A*) = ‖Az‖²/‖z‖².",
};

/// The sampling sweep's setting.
pub const SWEEP: Formula = Formula {
    tex: r"y = P_\Omega F x, \qquad \Omega_1 \subset \Omega_2 \subset \cdots, \qquad \hat x = \Psi(y) \text{ with } \Psi\text{'s weights fixed}",
    text: "y = P_Ω F x,   Ω₁ ⊂ Ω₂ ⊂ … (nested masks),   x̂ = Ψ(y) with Ψ's weights fixed",
};

/// Every formula of the pages (for the test that typesets them all).
pub const ALL: &[Formula] = &[
    CLASSIFY,
    RANDOM_NOISE,
    FAST_GRADIENT,
    FGSM,
    DEEPFOOL_L2,
    DEEPFOOL_LINF,
    BINARY_STEP,
    UNIVERSAL,
    LINEARITY,
    STRUCTURAL_SIZE,
    MANIPULATION,
    FALSE_STRUCTURE,
    NON_ROBUST_PGD,
    MRI_FORWARD,
    FIRENET,
    WORST_CASE,
    WARM_START,
    KAPPA,
    KERNEL_PROJECTION,
    KERNEL_BOUND,
    RECOVERED,
    SWEEP,
];

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;

    #[test]
    fn every_formula_typesets_without_errors() {
        for f in ALL {
            let m = to_mathml(f.tex).unwrap_or_else(|e| panic!("{}: {e}", f.text));
            assert!(m.starts_with("<math"), "{m}");
            assert!(m.contains("display=\"block\""), "{m}");
            // The renderer marks what it could not typeset with <merror>.
            assert!(!m.contains("merror"), "{}: {m}", f.tex);
            assert!(!f.text.is_empty());
        }
    }

    #[test]
    fn typesetting_is_real_mathematics() {
        let m = to_mathml(KAPPA.tex).unwrap();
        assert!(m.contains("<mfrac>"), "{m}");
        assert!(m.contains("<mi>κ</mi>") || m.contains("κ"), "{m}");
        let m = to_mathml(MRI_FORWARD.tex).unwrap();
        assert!(m.contains("<msub>"), "{m}");
        assert!(m.contains("Ω"), "{m}");
    }

    #[test]
    fn the_bundle_carries_every_formula_as_typeset() {
        let table: std::collections::BTreeMap<&str, String> = ALL
            .iter()
            .map(|f| (f.tex, to_mathml(f.tex).unwrap()))
            .collect();
        let json = serde_json::to_string_pretty(&table).unwrap() + "\n";
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/src/formula.mathml.json");
        if std::env::var_os("BLESS").is_some() {
            std::fs::write(path, &json).unwrap();
        }
        assert!(
            json == TYPESET,
            "src/formula.mathml.json is stale: BLESS=1 cargo test --lib formula"
        );
        for f in ALL {
            assert_eq!(typeset(f.tex), table.get(f.tex).map(String::as_str));
        }
        assert_eq!(typeset("x"), None);
    }

    #[test]
    fn broken_latex_is_an_error() {
        assert!(to_mathml(r"\frac{a}{").is_err());
        assert!(to_mathml(r"\nosuchcommand x").is_err());
    }
}
