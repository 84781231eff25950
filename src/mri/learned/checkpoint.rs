//! Resumable training: AdamW whose moments can be saved, and the checkpoint file that holds
//! them with the weights, so that a long training run (a 128² network takes hours on two cores)
//! stopped at any checkpoint and started again ends with exactly the weights of an
//! uninterrupted run.
//!
//! The update is candle's `AdamW` (Loshchilov & Hutter, ICLR 2019), operation for operation, so
//! that both give the same bits: with `g` the gradient at step `t`,
//!
//! `m ← β₁m + (1 − β₁)g`, `v ← β₂v + (1 − β₂)g²`, `m̂ = m/(1 − β₁ᵗ)`, `v̂ = v/(1 − β₂ᵗ)`,
//! `θ ← θ(1 − ηλ) − η·m̂/(√v̂ + ε)`.
//!
//! candle's optimiser keeps `m`, `v` and `t` private, so it cannot be checkpointed; this one
//! keeps them by the variables' names.
//!
//! A checkpoint is a safetensors file: `weight.<name>`, `m.<name>` and `v.<name>` for every
//! variable, and the metadata `step_t` plus whatever the caller adds (the run's settings, the
//! random generator's position, the loss history).

use crate::{Error, Result};
use candle_core::{Tensor, Var};
use candle_nn::{ParamsAdamW, VarMap};
use std::collections::HashMap;

struct Slot {
    name: String,
    var: Var,
    m: Var,
    v: Var,
}

/// AdamW over the variables of a [`VarMap`], with its state saved and restored by
/// [`ResumableAdamW::checkpoint`] and [`ResumableAdamW::restore`].
pub struct ResumableAdamW {
    slots: Vec<Slot>,
    step_t: usize,
    params: ParamsAdamW,
}

impl ResumableAdamW {
    /// The optimiser of every floating-point variable of `varmap` (sorted by name).
    pub fn new(varmap: &VarMap, params: ParamsAdamW) -> Result<Self> {
        let vars = varmap
            .data()
            .lock()
            .map_err(|_| Error::Data("the variable map's lock is poisoned".into()))?;
        let mut named: Vec<(String, Var)> = vars
            .iter()
            .filter(|(_, v)| v.dtype().is_float())
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        named.sort_by(|a, b| a.0.cmp(&b.0));
        let slots = named
            .into_iter()
            .map(|(name, var)| {
                let zeros = || Var::zeros(var.shape(), var.dtype(), var.device());
                Ok(Slot {
                    m: zeros()?,
                    v: zeros()?,
                    name,
                    var,
                })
            })
            .collect::<Result<_>>()?;
        Ok(Self {
            slots,
            step_t: 0,
            params,
        })
    }

    /// Steps taken so far.
    pub fn steps_taken(&self) -> usize {
        self.step_t
    }

    /// Sets the learning rate `η` of the next steps.
    pub fn set_learning_rate(&mut self, lr: f64) {
        self.params.lr = lr;
    }

    /// One step on the gradients of `loss`.
    pub fn backward_step(&mut self, loss: &Tensor) -> Result<()> {
        let grads = loss.backward()?;
        self.step_t += 1;
        let p = &self.params;
        let (lr, beta1, beta2) = (p.lr, p.beta1, p.beta2);
        let lr_lambda = lr * p.weight_decay;
        let scale_m = 1f64 / (1f64 - beta1.powi(self.step_t as i32));
        let scale_v = 1f64 / (1f64 - beta2.powi(self.step_t as i32));
        for s in &self.slots {
            if let Some(g) = grads.get(&s.var) {
                let next_m = ((s.m.as_tensor() * beta1)? + (g * (1.0 - beta1))?)?;
                let next_v = ((s.v.as_tensor() * beta2)? + (g.sqr()? * (1.0 - beta2))?)?;
                let m_hat = (&next_m * scale_m)?;
                let v_hat = (&next_v * scale_v)?;
                let next_theta = (s.var.as_tensor() * (1f64 - lr_lambda))?;
                let adjusted = (m_hat / (v_hat.sqrt()? + p.eps)?)?;
                let next_theta = (next_theta - (adjusted * lr)?)?;
                s.m.set(&next_m)?;
                s.v.set(&next_v)?;
                s.var.set(&next_theta)?;
            }
        }
        Ok(())
    }

    /// The weights, both moments and `t` as safetensors bytes, with `metadata` added.
    pub fn checkpoint(&self, mut metadata: HashMap<String, String>) -> Result<Vec<u8>> {
        let mut tensors = Vec::with_capacity(3 * self.slots.len());
        for s in &self.slots {
            for (prefix, var) in [("weight", &s.var), ("m", &s.m), ("v", &s.v)] {
                let t = var.as_tensor();
                tensors.push((
                    format!("{prefix}.{}", s.name),
                    t.dims().to_vec(),
                    t.flatten_all()?.to_vec1::<f32>()?,
                ));
            }
        }
        metadata.insert("step_t".into(), self.step_t.to_string());
        crate::tensor_file::f32_safetensors(&tensors, Some(metadata))
    }

    /// Restores weights, moments and `t` from [`ResumableAdamW::checkpoint`]'s bytes (the
    /// same variables, names and shapes, or [`Error::Data`]); returns the metadata.
    pub fn restore(&mut self, bytes: &[u8]) -> Result<HashMap<String, String>> {
        let (_, header) = safetensors::SafeTensors::read_metadata(bytes)?;
        let st = safetensors::SafeTensors::deserialize(bytes)?;
        let metadata = header.metadata().clone().unwrap_or_default();
        let step_t = metadata
            .get("step_t")
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| Error::Data("a checkpoint without its step count".into()))?;
        if st.len() != 3 * self.slots.len() {
            return Err(Error::Data(format!(
                "the checkpoint holds {} tensors, this network needs {}",
                st.len(),
                3 * self.slots.len()
            )));
        }
        for s in &self.slots {
            for (prefix, var) in [("weight", &s.var), ("m", &s.m), ("v", &s.v)] {
                let name = format!("{prefix}.{}", s.name);
                let view = st
                    .tensor(&name)
                    .map_err(|_| Error::Data(format!("the checkpoint lacks '{name}'")))?;
                if view.dtype() != safetensors::Dtype::F32 || view.shape() != var.dims() {
                    return Err(Error::Data(format!(
                        "'{name}' is {:?} {:?} in the checkpoint, {:?} in the network",
                        view.dtype(),
                        view.shape(),
                        var.dims()
                    )));
                }
                let t = Tensor::from_vec(
                    crate::tensor_file::f32_values(&view),
                    var.dims(),
                    var.device(),
                )?;
                var.set(&t)?;
            }
        }
        self.step_t = step_t;
        Ok(metadata)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{DType, Device, Module};
    use candle_nn::{linear, Optimizer, VarBuilder};

    /// A tiny regression problem: a 4 → 3 → 1 network with a tanh, seeded data.
    fn problem() -> (VarMap, impl Fn() -> Result<Tensor>) {
        let dev = Device::Cpu;
        let varmap = VarMap::new();
        let vb = VarBuilder::from_varmap(&varmap, DType::F32, &dev);
        let l1 = linear(4, 3, vb.pp("l1")).unwrap();
        let l2 = linear(3, 1, vb.pp("l2")).unwrap();
        // Deterministic weights (the VarMap's initialisers are random).
        for (k, (name, var)) in {
            let mut v: Vec<_> = varmap.data().lock().unwrap().clone().into_iter().collect();
            v.sort_by(|a, b| a.0.cmp(&b.0));
            v
        }
        .into_iter()
        .enumerate()
        {
            let n = var.elem_count();
            let vals: Vec<f32> = (0..n)
                .map(|i| ((i * 7 + k * 3) % 11) as f32 / 11.0 - 0.45)
                .collect();
            var.set(&Tensor::from_vec(vals, var.dims(), &dev).unwrap())
                .unwrap();
            let _ = name;
        }
        let x: Vec<f32> = (0..32).map(|i| ((i * 5) % 13) as f32 / 6.5 - 1.0).collect();
        let y: Vec<f32> = (0..8).map(|i| (i as f32 * 0.7).sin()).collect();
        let x = Tensor::from_vec(x, (8, 4), &dev).unwrap();
        let y = Tensor::from_vec(y, (8, 1), &dev).unwrap();
        let loss = move || -> Result<Tensor> {
            let h = l1.forward(&x)?.tanh()?;
            let out = l2.forward(&h)?;
            Ok((out - &y)?.sqr()?.mean_all()?)
        };
        (varmap, loss)
    }

    fn weights(varmap: &VarMap) -> Vec<(String, Vec<f32>)> {
        let mut v: Vec<_> = varmap
            .data()
            .lock()
            .unwrap()
            .iter()
            .map(|(k, v)| (k.clone(), v.flatten_all().unwrap().to_vec1().unwrap()))
            .collect();
        v.sort_by(|a, b| a.0.cmp(&b.0));
        v
    }

    fn params() -> ParamsAdamW {
        ParamsAdamW {
            lr: 0.05,
            weight_decay: 0.01,
            ..Default::default()
        }
    }

    #[test]
    fn takes_the_same_steps_as_candles_adamw_bit_for_bit() {
        let (vm_a, loss_a) = problem();
        let (vm_b, loss_b) = problem();
        let mut candle = candle_nn::AdamW::new(vm_a.all_vars(), params()).unwrap();
        let mut ours = ResumableAdamW::new(&vm_b, params()).unwrap();
        let first = loss_a().unwrap().to_scalar::<f32>().unwrap();
        for step in 0..25 {
            let lr = 0.05 * 0.97f64.powi(step);
            candle.set_learning_rate(lr);
            ours.set_learning_rate(lr);
            candle.backward_step(&loss_a().unwrap()).unwrap();
            ours.backward_step(&loss_b().unwrap()).unwrap();
        }
        assert_eq!(weights(&vm_a), weights(&vm_b));
        let last = loss_b().unwrap().to_scalar::<f32>().unwrap();
        assert!(last < 0.8 * first, "it trains: {first} → {last}");
        assert_eq!(ours.steps_taken(), 25);
    }

    #[test]
    fn a_run_resumed_from_a_checkpoint_ends_where_an_uninterrupted_one_does() {
        let (vm_a, loss_a) = problem();
        let mut straight = ResumableAdamW::new(&vm_a, params()).unwrap();
        for _ in 0..20 {
            straight.backward_step(&loss_a().unwrap()).unwrap();
        }
        let (vm_b, loss_b) = problem();
        let mut first = ResumableAdamW::new(&vm_b, params()).unwrap();
        for _ in 0..12 {
            first.backward_step(&loss_b().unwrap()).unwrap();
        }
        let mut meta = HashMap::new();
        meta.insert("note".to_string(), "twelve".to_string());
        let bytes = first.checkpoint(meta).unwrap();
        // A fresh process: new variables, restored from the file.
        let (vm_c, loss_c) = problem();
        let mut resumed = ResumableAdamW::new(&vm_c, params()).unwrap();
        let meta = resumed.restore(&bytes).unwrap();
        assert_eq!(meta["note"], "twelve");
        assert_eq!(resumed.steps_taken(), 12);
        for _ in 12..20 {
            resumed.backward_step(&loss_c().unwrap()).unwrap();
        }
        assert_eq!(weights(&vm_a), weights(&vm_c));
        // Restarting the moments instead (what candle's optimiser would force) differs.
        let (vm_d, loss_d) = problem();
        let mut restarted = ResumableAdamW::new(&vm_d, params()).unwrap();
        restarted.restore(&bytes).unwrap();
        let mut fresh = ResumableAdamW::new(&vm_d, params()).unwrap();
        for _ in 12..20 {
            fresh.backward_step(&loss_d().unwrap()).unwrap();
        }
        assert_ne!(weights(&vm_a), weights(&vm_d));
    }

    #[test]
    fn a_checkpoint_of_another_network_is_refused() {
        let (vm, _) = problem();
        let opt = ResumableAdamW::new(&vm, params()).unwrap();
        let bytes = opt.checkpoint(HashMap::new()).unwrap();
        let other = VarMap::new();
        let vb = VarBuilder::from_varmap(&other, DType::F32, &Device::Cpu);
        linear(4, 2, vb.pp("l1")).unwrap();
        linear(2, 1, vb.pp("l2")).unwrap();
        let mut wrong = ResumableAdamW::new(&other, params()).unwrap();
        assert!(matches!(wrong.restore(&bytes), Err(Error::Data(_))));
        assert!(matches!(
            wrong.restore(b"not a checkpoint"),
            Err(Error::SafeTensors(_))
        ));
    }
}
