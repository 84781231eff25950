//! What the instability test and the engines share about a reconstruction method: the map
//! `Ψ(y)` and its vector–Jacobian product (zero-filling, FIRENET, the deep cascade, `Ψ` followed
//! by FIRENET all implement it).

use crate::engine::{ready, Pending};
use crate::Result;
use rustfft::num_complex::Complex32;

/// A reconstruction map `Ψ: ℂᵐ → ℂⁿ` (measurements to image) with its vector–Jacobian product.
pub trait Reconstructor {
    /// `Ψ(y)`.
    fn reconstruct(&self, y: &[Complex32]) -> Result<Vec<Complex32>>;
    /// `J_Ψ(y)* g`: the gradient in `y` of `Re⟨Ψ(y), g⟩`.
    fn vjp(&self, y: &[Complex32], g: &[Complex32]) -> Result<Vec<Complex32>>;
    /// [`Reconstructor::reconstruct`] as a [`Pending`] answer (the browser's GPU engine
    /// answers only so).
    fn reconstruct_async<'a>(&'a self, y: &'a [Complex32]) -> Pending<'a, Vec<Complex32>> {
        ready(self.reconstruct(y))
    }
    /// [`Reconstructor::vjp`] as a [`Pending`] answer.
    fn vjp_async<'a>(
        &'a self,
        y: &'a [Complex32],
        g: &'a [Complex32],
    ) -> Pending<'a, Vec<Complex32>> {
        ready(self.vjp(y, g))
    }
}

impl<T: Reconstructor + ?Sized> Reconstructor for Box<T> {
    fn reconstruct(&self, y: &[Complex32]) -> Result<Vec<Complex32>> {
        (**self).reconstruct(y)
    }

    fn vjp(&self, y: &[Complex32], g: &[Complex32]) -> Result<Vec<Complex32>> {
        (**self).vjp(y, g)
    }

    fn reconstruct_async<'a>(&'a self, y: &'a [Complex32]) -> Pending<'a, Vec<Complex32>> {
        (**self).reconstruct_async(y)
    }

    fn vjp_async<'a>(
        &'a self,
        y: &'a [Complex32],
        g: &'a [Complex32],
    ) -> Pending<'a, Vec<Complex32>> {
        (**self).vjp_async(y, g)
    }
}
