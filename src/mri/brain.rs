//! Brain MRI slices: the compact on-disk format and the fixed train / held-out split.
//!
//! The images are slices of the MNI ICBM152 2009a nonlinear symmetric T1 template (1 mm, brain
//! only; McConnell Brain Imaging Centre, MNI, McGill; see `static/data/mri/NOTICE`), derived by
//! `scripts/prepare-mri.py` (its header gives the exact command) into two safetensors files:
//!
//! | file | side | axial | coronal | sagittal | pixel |
//! |------|------|-------|---------|----------|-------|
//! | `static/data/mri/brain-128.safetensors` | 128 | 40 | 16 | 16 | 1.5 mm |
//! | `static/data/mri/brain-256.safetensors` | 256 | 12 | 6 | 6 | 0.75 mm |
//!
//! Each holds the tensors `axial`, `coronal` and `sagittal`, `U8[slices, N, N]` (intensity =
//! value / 255 ∈ [0, 1], the volume divided by its 99.9th percentile and clipped), row-major with
//! row 0 at the top, over a square 192 mm field of view centred on the head, and the metadata
//! `source` and `<orientation>_indices` (JSON list: each slice's plane in the 197×233×189 volume,
//! z for axial, y for coronal, x for sagittal). Display: axial has anterior at the top and the
//! patient's left on the image's left; coronal and sagittal have superior at the top, sagittal
//! anterior on the right. The template is exactly left-right symmetric, so the sagittal slices run
//! from the midline into one hemisphere only (no slice is the mirror image of another).
//!
//! # The split
//!
//! Fixed by position in each stack: slice `i` of every orientation is held out for testing iff
//! `i % 4 == 2` ([`TEST_EVERY`], [`TEST_OFFSET`]), so every 4th slice is held out, spread evenly
//! from one end of the brain to the other, with three training slices between consecutive held-out
//! ones. In the 128 file that is 10 of 40 axial (volume z = 28, 40, 53, 65, 77, 90, 102, 114, 127,
//! 139), 4 of 16 coronal and 4 of 16 sagittal slices: 18 held out, 54 for training. The 256 file's
//! slices are a subset of the 128 file's, chosen so that a slice has the same role in both (3 + 1 +
//! 1 held out, 19 for training). The held-out slices are unseen planes of the same template, not
//! another subject: neighbouring training slices are 3–10 mm away and look alike.
//!
//! That interleaved split ([`Split::Interleaved`]) is the 64² networks'. The 128² networks use
//! [`Split::Separated`]: slice `i` is held out iff `i % 8 == 4`, the two slices on each side of a
//! held-out one are used by neither side (buffer), and the network trains on `i % 8 ∈ {0, 1, 7}`,
//! so no training slice lies within two positions of a held-out one (the nearest is 3 positions
//! away: 9 mm axially, 28–30 mm in the other stacks). In the 128 file: 5 + 2 + 2 = 9 held out
//! (axial 4, 12, 20, 28, 36; coronal and sagittal 4, 12), 15 + 6 + 6 = 27 for training, 36 in the
//! buffers. Slices of different orientations still cross along a line; no split of one template
//! brain avoids that.

use crate::{Error, Result};
use safetensors::tensor::Dtype;
use serde::{Deserialize, Serialize};
use std::fmt;

/// A network in training sees slice `i` of a stack iff `i % TEST_EVERY != TEST_OFFSET`.
pub const TEST_EVERY: usize = 4;
/// See [`TEST_EVERY`].
pub const TEST_OFFSET: usize = 2;

/// Whether slice `index` of a stack (any orientation, either file) is held out for testing.
pub fn is_test_index(index: usize) -> bool {
    index % TEST_EVERY == TEST_OFFSET
}

/// Which slices a network may train on and which are held out to test it (see the module docs).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Split {
    /// Every 4th slice held out (`i % 4 == 2`), all others for training: the 64² networks'.
    #[default]
    Interleaved,
    /// `i % 8 == 4` held out, `i % 8 ∈ {0, 1, 7}` for training, the rest a buffer of two slices on
    /// each side of every held-out one: the 128² networks'.
    Separated,
}

/// What a slice is for under a [`Split`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Role {
    /// A network may train on it.
    Train,
    /// Held out: measurements of trained networks are reported on it.
    Test,
    /// Near a held-out slice: used by neither side.
    Buffer,
}

/// The period of [`Split::Separated`].
pub const SEPARATED_EVERY: usize = 8;

impl Split {
    /// Both splits.
    pub const ALL: [Split; 2] = [Self::Interleaved, Self::Separated];

    /// The role of position `index` in a stack.
    pub fn role(self, index: usize) -> Role {
        match self {
            Self::Interleaved if is_test_index(index) => Role::Test,
            Self::Interleaved => Role::Train,
            Self::Separated => match index % SEPARATED_EVERY {
                4 => Role::Test,
                0 | 1 | 7 => Role::Train,
                _ => Role::Buffer,
            },
        }
    }

    /// The name in reports and cards: `interleaved` or `separated`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Interleaved => "interleaved",
            Self::Separated => "separated",
        }
    }
}

/// The plane a slice lies in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Orientation {
    /// Horizontal (transverse) plane, a fixed z.
    Axial,
    /// Frontal plane, a fixed y.
    Coronal,
    /// Side plane, a fixed x.
    Sagittal,
}

impl Orientation {
    /// All orientations, in the order of the files' tensors.
    pub const ALL: [Orientation; 3] = [Self::Axial, Self::Coronal, Self::Sagittal];

    /// The tensor name: `axial`, `coronal` or `sagittal`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Axial => "axial",
            Self::Coronal => "coronal",
            Self::Sagittal => "sagittal",
        }
    }

    /// The orientation called `name` (as [`Orientation::name`] writes it).
    pub fn from_name(name: &str) -> Result<Self> {
        Self::ALL
            .into_iter()
            .find(|o| o.name() == name)
            .ok_or_else(|| Error::Input(format!("unknown orientation '{name}'")))
    }

    fn position(self) -> usize {
        self as usize
    }
}

impl fmt::Display for Orientation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One slice of a [`BrainSlices`] set: its orientation and its position in that stack.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SliceId {
    /// The stack.
    pub orientation: Orientation,
    /// Position in the stack (0-based, from inferior / posterior / the midline on).
    pub index: usize,
}

impl SliceId {
    /// Parses the [`fmt::Display`] form, `"<orientation> <index>"` (e.g. `axial 42`).
    pub fn from_name(name: &str) -> Result<Self> {
        let (o, i) = name
            .trim()
            .split_once(' ')
            .ok_or_else(|| Error::Input(format!("'{name}' is not a slice (e.g. 'axial 42')")))?;
        let index = i
            .trim()
            .parse()
            .map_err(|_| Error::Input(format!("'{name}' is not a slice (e.g. 'axial 42')")))?;
        Ok(Self {
            orientation: Orientation::from_name(o)?,
            index,
        })
    }

    /// Whether this slice is held out for testing (see the module docs).
    pub fn is_test(self) -> bool {
        is_test_index(self.index)
    }
}

impl fmt::Display for SliceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.orientation, self.index)
    }
}

#[derive(Clone, Debug, PartialEq)]
struct Stack {
    pixels: Vec<u8>,
    volume_indices: Vec<usize>,
}

/// Square brain slices of one size in three orientations, with their place in the volume.
#[derive(Clone, Debug, PartialEq)]
pub struct BrainSlices {
    side: usize,
    stacks: [Stack; 3],
    source: String,
}

impl BrainSlices {
    /// Reads the safetensors form (see the module docs). Wrong or missing tensor names, dtypes
    /// other than U8, shapes other than `[k ≥ 1, N, N]` with one `N ≥ 1` for all orientations, and
    /// missing or inconsistent metadata are [`Error::Data`]; unparsable bytes are
    /// [`Error::SafeTensors`].
    pub fn from_safetensors(bytes: &[u8]) -> Result<Self> {
        let (_, header) = safetensors::SafeTensors::read_metadata(bytes)?;
        let st = safetensors::SafeTensors::deserialize(bytes)?;
        let expected = || Orientation::ALL.map(Orientation::name).join(", ");
        if let Some(bad) = st
            .names()
            .into_iter()
            .find(|n| Orientation::from_name(n).is_err())
        {
            return Err(Error::Data(format!(
                "unexpected tensor '{bad}' in brain slices (expected {})",
                expected()
            )));
        }
        let meta = header.metadata().clone().unwrap_or_default();
        let source = meta
            .get("source")
            .cloned()
            .ok_or_else(|| Error::Data("brain slices without a 'source' in the metadata".into()))?;
        let mut side = None;
        let mut stacks = Vec::with_capacity(3);
        for o in Orientation::ALL {
            let t = st.tensor(o.name()).map_err(|_| {
                Error::Data(format!(
                    "brain slices lack the tensor '{o}' (expected {})",
                    expected()
                ))
            })?;
            if t.dtype() != Dtype::U8 {
                return Err(Error::Data(format!(
                    "tensor '{o}' is {}, expected U8",
                    t.dtype()
                )));
            }
            let &[k, n, m] = t.shape() else {
                return Err(Error::Data(format!(
                    "tensor '{o}' has shape {:?}, expected [slices, N, N]",
                    t.shape()
                )));
            };
            if k == 0 || n == 0 || n != m || side.is_some_and(|s| s != n) {
                return Err(Error::Data(format!(
                    "tensor '{o}' has shape {:?}, expected [slices ≥ 1, N, N] with one N ≥ 1 for all orientations{}",
                    t.shape(),
                    side.map(|s| format!(" (N = {s})")).unwrap_or_default()
                )));
            }
            side = Some(n);
            let key = format!("{o}_indices");
            let raw = meta
                .get(&key)
                .ok_or_else(|| Error::Data(format!("metadata '{key}' is missing")))?;
            let volume_indices: Vec<usize> = serde_json::from_str(raw).map_err(|e| {
                Error::Data(format!("metadata '{key}' is not a list of indices: {e}"))
            })?;
            if volume_indices.len() != k || volume_indices.windows(2).any(|w| w[0] >= w[1]) {
                return Err(Error::Data(format!(
                    "metadata '{key}' must list {k} increasing volume indices, found {raw}"
                )));
            }
            stacks.push(Stack {
                pixels: t.data().to_vec(),
                volume_indices,
            });
        }
        let stacks: [Stack; 3] = stacks
            .try_into()
            .map_err(|_| Error::Data("expected three orientations".into()))?;
        Ok(Self {
            side: side.unwrap_or(0),
            stacks,
            source,
        })
    }

    fn stack(&self, orientation: Orientation) -> &Stack {
        &self.stacks[orientation.position()]
    }

    /// Side length `N` of every slice.
    pub fn side(&self) -> usize {
        self.side
    }

    /// The orientations present (always all three).
    pub fn orientations(&self) -> [Orientation; 3] {
        Orientation::ALL
    }

    /// Number of slices in one orientation.
    pub fn count(&self, orientation: Orientation) -> usize {
        self.stack(orientation).volume_indices.len()
    }

    /// Number of slices in all orientations.
    pub fn total(&self) -> usize {
        Orientation::ALL.iter().map(|&o| self.count(o)).sum()
    }

    /// The raw bytes of slice `i`, row-major (panics when `i ≥ count(orientation)`).
    pub fn pixels(&self, orientation: Orientation, i: usize) -> &[u8] {
        let p = self.side * self.side;
        &self.stack(orientation).pixels[i * p..(i + 1) * p]
    }

    /// Slice `i` as an `N×N` row-major image with intensities in `[0, 1]` (panics when
    /// `i ≥ count(orientation)`; see [`BrainSlices::image`] for a checked form).
    pub fn slice(&self, orientation: Orientation, i: usize) -> Vec<f32> {
        self.pixels(orientation, i)
            .iter()
            .map(|&p| p as f32 / 255.0)
            .collect()
    }

    /// The slice `id` as an image in `[0, 1]`, or [`Error::Input`] when there is no such slice.
    pub fn image(&self, id: SliceId) -> Result<Vec<f32>> {
        let count = self.count(id.orientation);
        if id.index >= count {
            return Err(Error::Input(format!(
                "no {} slice {} (there are {count})",
                id.orientation, id.index
            )));
        }
        Ok(self.slice(id.orientation, id.index))
    }

    /// The plane of the volume slice `i` was taken from (z, y or x voxel index).
    pub fn volume_index(&self, orientation: Orientation, i: usize) -> usize {
        self.stack(orientation).volume_indices[i]
    }

    /// The planes of the volume of all slices of one orientation, increasing.
    pub fn volume_indices(&self, orientation: Orientation) -> &[usize] {
        &self.stack(orientation).volume_indices
    }

    /// Where the images come from (the file's `source` metadata).
    pub fn source(&self) -> &str {
        &self.source
    }

    /// Every slice, by orientation then position.
    pub fn ids(&self) -> Vec<SliceId> {
        Orientation::ALL
            .into_iter()
            .flat_map(|orientation| {
                (0..self.count(orientation)).map(move |index| SliceId { orientation, index })
            })
            .collect()
    }

    /// The slices a network may be trained on: all but the held-out ones.
    pub fn train_slices(&self) -> Vec<SliceId> {
        self.ids().into_iter().filter(|id| !id.is_test()).collect()
    }

    /// The held-out test slices: position `i % 4 == 2` in every orientation.
    pub fn test_slices(&self) -> Vec<SliceId> {
        self.ids().into_iter().filter(|id| id.is_test()).collect()
    }

    /// The slices with `role` under `split`, by orientation then position.
    pub fn slices(&self, split: Split, role: Role) -> Vec<SliceId> {
        self.ids()
            .into_iter()
            .filter(|id| split.role(id.index) == role)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use safetensors::tensor::TensorView;
    use std::collections::HashMap;

    fn toy(counts: [usize; 3], side: usize) -> Vec<u8> {
        let data: Vec<Vec<u8>> = counts
            .iter()
            .map(|&k| (0..k * side * side).map(|v| (v % 251) as u8).collect())
            .collect();
        let mut meta = HashMap::new();
        meta.insert("source".to_string(), "toy".to_string());
        let mut tensors = Vec::new();
        for (o, (&k, d)) in Orientation::ALL.iter().zip(counts.iter().zip(&data)) {
            let idx: Vec<usize> = (0..k).map(|i| 3 * i + 1).collect();
            meta.insert(format!("{o}_indices"), serde_json::to_string(&idx).unwrap());
            tensors.push((
                o.name(),
                TensorView::new(Dtype::U8, vec![k, side, side], d).unwrap(),
            ));
        }
        safetensors::serialize(tensors, Some(meta)).unwrap()
    }

    #[test]
    fn reads_a_toy_file() {
        let b = BrainSlices::from_safetensors(&toy([5, 2, 3], 4)).unwrap();
        assert_eq!(b.side(), 4);
        assert_eq!(b.total(), 10);
        assert_eq!(b.count(Orientation::Coronal), 2);
        assert_eq!(b.volume_indices(Orientation::Sagittal), &[1, 4, 7]);
        assert_eq!(b.slice(Orientation::Axial, 1)[0], 16.0 / 255.0);
        assert_eq!(b.source(), "toy");
        let id = SliceId {
            orientation: Orientation::Axial,
            index: 5,
        };
        assert!(matches!(b.image(id), Err(Error::Input(_))));
    }

    #[test]
    fn split_rule() {
        let b = BrainSlices::from_safetensors(&toy([8, 3, 2], 2)).unwrap();
        let test: Vec<String> = b.test_slices().iter().map(|s| s.to_string()).collect();
        assert_eq!(test, ["axial 2", "axial 6", "coronal 2"]);
        assert_eq!(b.train_slices().len(), 13 - 3);
    }

    #[test]
    fn orientation_names_round_trip() {
        for o in Orientation::ALL {
            assert_eq!(Orientation::from_name(o.name()).unwrap(), o);
        }
        assert!(Orientation::from_name("oblique").is_err());
    }
}
