//! The CPU engine: today's code (rustfft, the loops of [`crate::mri::firenet`], candle on the
//! CPU for the cascade), the reference every other engine is measured against.

use crate::engine::{Engine, FirenetInput, FirenetSteps};
use crate::mri::firenet::{FirenetRun, FirenetVjp};
use crate::mri::learned::cascade::{CascadeNet, CascadeShape};
use crate::mri::operator::{LinearOperator, Sampling, SubsampledFourier, WaveletSampling};
use crate::mri::reconstructor::Reconstructor;
use crate::mri::sampling::Mask;
use crate::mri::wavelet::Wavelet2;
use crate::Result;
use rustfft::num_complex::Complex32;

/// The CPU engine (see [`crate::engine`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CpuEngine;

impl FirenetSteps for FirenetRun<'_> {
    fn blocks_done(&self) -> usize {
        FirenetRun::blocks_done(self)
    }

    fn next_block(
        &mut self,
        each_layer: &mut dyn FnMut(usize, &[Complex32]) -> bool,
    ) -> Result<bool> {
        FirenetRun::next_block(self, each_layer)
    }

    fn psi(&self) -> &[Complex32] {
        FirenetRun::psi(self)
    }

    fn finish(self: Box<Self>) -> Vec<Complex32> {
        FirenetRun::finish(*self)
    }
}

impl Engine for CpuEngine {
    fn name(&self) -> &'static str {
        "cpu"
    }

    fn sampling(&self, mask: Mask) -> Result<Box<dyn Sampling>> {
        Ok(Box::new(SubsampledFourier::new(mask)?))
    }

    fn wavelet_sampling<'a>(
        &self,
        a: &'a dyn Sampling,
        wavelet: &'a Wavelet2,
    ) -> Result<Box<dyn LinearOperator + 'a>> {
        Ok(Box::new(WaveletSampling::new(a, wavelet)?))
    }

    fn firenet_start<'a>(
        &self,
        input: FirenetInput<'a>,
        epsilon0: Option<f32>,
    ) -> Result<Box<dyn FirenetSteps + 'a>> {
        let FirenetInput {
            firenet,
            op,
            y,
            weights,
            initial,
        } = input;
        // ε₀ = ‖y‖₂ unless given.
        Ok(Box::new(match epsilon0 {
            None => firenet.start(op, y, weights, initial)?,
            Some(e) => firenet.start_with_epsilon(op, y, weights, initial, e)?,
        }))
    }

    fn firenet_vjp(
        &self,
        input: FirenetInput,
        epsilon0: f32,
        g: &[Complex32],
    ) -> Result<FirenetVjp> {
        let i = input;
        (i.firenet).vjp_with_epsilon(i.op, i.y, i.weights, i.initial, epsilon0, g)
    }

    fn cascade(
        &self,
        name: &str,
        shape: CascadeShape,
        weights: &[u8],
        mask: &Mask,
    ) -> Result<Box<dyn Reconstructor>> {
        Ok(Box::new(CascadeNet::from_safetensors(
            name, shape, weights, mask,
        )?))
    }
}
