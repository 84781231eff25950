//! Affine classifiers `f(x) = Wx + b` in plain f64: the closed-form case of the attacks
//! (DeepFool's first step is exact for them) and the models of the 2-D geometry playground.

use crate::classification::attack::Model;
use crate::{Error, Result};

/// `f(x) = Wx + b` with `W ∈ ℝ^{K×d}` given by rows.
#[derive(Clone, Debug, PartialEq)]
pub struct Affine {
    pub weights: Vec<Vec<f64>>,
    pub bias: Vec<f64>,
}

impl Affine {
    /// Checks shapes: `K ≥ 2` rows of equal length `d ≥ 1`, `K` biases.
    pub fn new(weights: Vec<Vec<f64>>, bias: Vec<f64>) -> Result<Self> {
        let d = weights.first().map_or(0, Vec::len);
        if weights.len() < 2
            || d == 0
            || weights.iter().any(|r| r.len() != d)
            || bias.len() != weights.len()
        {
            return Err(Error::Input(
                "an affine classifier needs K ≥ 2 rows of one length and K biases".into(),
            ));
        }
        Ok(Self { weights, bias })
    }
}

impl Model for Affine {
    fn dim(&self) -> usize {
        self.weights[0].len()
    }

    fn classes(&self) -> usize {
        self.weights.len()
    }

    fn logits(&self, x: &[f64]) -> Result<Vec<f64>> {
        Ok(self
            .weights
            .iter()
            .zip(&self.bias)
            .map(|(w, b)| w.iter().zip(x).map(|(a, c)| a * c).sum::<f64>() + b)
            .collect())
    }

    fn jacobian(&self, x: &[f64]) -> Result<(Vec<f64>, Vec<Vec<f64>>)> {
        Ok((self.logits(x)?, self.weights.clone()))
    }
}
