//! Native tests of the shipped brain slices (static/data/mri/): shapes, value range, the fixed
//! split (disjoint, complete, spread, agreeing between the two files) and clear errors for bad
//! files.
#![cfg(not(target_arch = "wasm32"))]

use barriers_lab::mri::brain::{is_test_index, BrainSlices, Orientation, SliceId};
use barriers_lab::Error;
use safetensors::tensor::{Dtype, TensorView};
use std::collections::{HashMap, HashSet};

fn read(path: &str) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn load(side: usize) -> BrainSlices {
    BrainSlices::from_safetensors(&read(&format!("static/data/mri/brain-{side}.safetensors")))
        .unwrap()
}

#[test]
fn shipped_files_have_the_documented_shapes() {
    for (side, counts) in [(128, [40, 16, 16]), (256, [12, 6, 6])] {
        let b = load(side);
        assert_eq!(b.side(), side);
        assert_eq!(b.orientations(), Orientation::ALL);
        for (o, k) in Orientation::ALL.into_iter().zip(counts) {
            assert_eq!(b.count(o), k, "{side} {o}");
            // Volume planes inside the 197×233×189 template; sagittal from the midline on.
            let idx = b.volume_indices(o);
            let limit = match o {
                Orientation::Axial => 189,
                Orientation::Coronal => 233,
                Orientation::Sagittal => 197,
            };
            assert!(idx.windows(2).all(|w| w[0] < w[1]) && idx[k - 1] < limit);
        }
        assert_eq!(b.volume_indices(Orientation::Sagittal)[0], 98);
        assert!(b.source().contains("ICBM152") && b.source().contains("Louis Collins"));
    }
}

#[test]
fn slices_are_images_in_the_unit_interval_with_a_head_in_them() {
    for side in [128, 256] {
        let b = load(side);
        for id in b.ids() {
            let img = b.image(id).unwrap();
            assert_eq!(img.len(), side * side);
            assert!(img.iter().all(|v| (0.0..=1.0).contains(v)), "{id}");
            // Not near-empty: at least 5 % of the field of view is head.
            let head = img.iter().filter(|&&v| v > 0.05).count();
            assert!(head * 20 > side * side, "{side} {id}: {head} head pixels");
            // The field of view holds the whole head: the border rows and columns are black.
            let border = (0..side)
                .flat_map(|i| [i, (side - 1) * side + i, i * side, i * side + side - 1])
                .all(|k| img[k] == 0.0);
            assert!(border, "{side} {id}: head touches the border");
        }
        // The intensity scale uses the full range somewhere.
        let max = b
            .ids()
            .into_iter()
            .flat_map(|id| b.image(id).unwrap())
            .fold(0.0f32, f32::max);
        assert_eq!(max, 1.0);
    }
}

#[test]
fn split_is_fixed_disjoint_complete_and_spread() {
    for side in [128, 256] {
        let b = load(side);
        let train = b.train_slices();
        let test = b.test_slices();
        assert_eq!(train, b.train_slices(), "stable");
        let train_set: HashSet<SliceId> = train.iter().copied().collect();
        let test_set: HashSet<SliceId> = test.iter().copied().collect();
        assert!(train_set.is_disjoint(&test_set));
        assert_eq!(train.len() + test.len(), b.total());
        for o in Orientation::ALL {
            let held: Vec<usize> = test
                .iter()
                .filter(|id| id.orientation == o)
                .map(|id| id.index)
                .collect();
            // Every orientation has held-out slices, 4 apart, from one end of the stack to the
            // other.
            assert!(!held.is_empty(), "{side} {o}");
            assert!(held.windows(2).all(|w| w[1] - w[0] == 4));
            assert!(held[0] <= 3 && *held.last().unwrap() + 4 >= b.count(o));
        }
    }
    let b = load(128);
    assert_eq!((b.train_slices().len(), b.test_slices().len()), (54, 18));
    let axial: Vec<usize> = b
        .test_slices()
        .iter()
        .filter(|id| id.orientation == Orientation::Axial)
        .map(|id| b.volume_index(id.orientation, id.index))
        .collect();
    assert_eq!(axial, [28, 40, 53, 65, 77, 90, 102, 114, 127, 139]);
    assert_eq!(
        (
            load(256).train_slices().len(),
            load(256).test_slices().len()
        ),
        (19, 5)
    );
}

#[test]
fn split_agrees_between_the_two_files() {
    let (small, large) = (load(128), load(256));
    for o in Orientation::ALL {
        for (i, v) in large.volume_indices(o).iter().enumerate() {
            let j = small
                .volume_indices(o)
                .iter()
                .position(|w| w == v)
                .unwrap_or_else(|| panic!("{o} plane {v} of the 256 file is not in the 128 file"));
            assert_eq!(is_test_index(i), is_test_index(j), "{o} plane {v}");
        }
    }
}

/// A file like the shipped ones, with one thing changed by `edit`.
fn variant(
    edit: impl FnOnce(&mut Vec<(String, Dtype, Vec<usize>)>, &mut HashMap<String, String>),
) -> Vec<u8> {
    let mut tensors: Vec<(String, Dtype, Vec<usize>)> = Orientation::ALL
        .iter()
        .map(|o| (o.name().to_string(), Dtype::U8, vec![2, 8, 8]))
        .collect();
    let mut meta: HashMap<String, String> = HashMap::new();
    meta.insert("source".into(), "test".into());
    for o in Orientation::ALL {
        meta.insert(format!("{o}_indices"), "[3, 9]".into());
    }
    edit(&mut tensors, &mut meta);
    let data: Vec<Vec<u8>> = tensors
        .iter()
        .map(|(_, d, s)| vec![0u8; s.iter().product::<usize>() * d.bitsize() / 8])
        .collect();
    let views: Vec<(String, TensorView)> = tensors
        .iter()
        .zip(&data)
        .map(|((n, d, s), bytes)| (n.clone(), TensorView::new(*d, s.clone(), bytes).unwrap()))
        .collect();
    safetensors::serialize(views, Some(meta)).unwrap()
}

fn data_error(bytes: &[u8]) -> String {
    match BrainSlices::from_safetensors(bytes) {
        Err(Error::Data(m)) => m,
        other => panic!("expected Error::Data, got {other:?}"),
    }
}

#[test]
fn bad_files_are_clear_errors() {
    assert!(BrainSlices::from_safetensors(&variant(|_, _| {})).is_ok());
    assert!(matches!(
        BrainSlices::from_safetensors(b"not safetensors"),
        Err(Error::SafeTensors(_))
    ));
    let shipped = read("static/data/mri/brain-128.safetensors");
    assert!(BrainSlices::from_safetensors(&shipped[..shipped.len() - 100]).is_err());

    let m = data_error(&variant(|t, _| t[1].0 = "frontal".into()));
    assert!(
        m.contains("'frontal'") && m.contains("axial, coronal, sagittal"),
        "{m}"
    );
    let m = data_error(&variant(|t, _| {
        t.pop();
    }));
    assert!(m.contains("'sagittal'"), "{m}");
    let m = data_error(&variant(|t, _| t[0].1 = Dtype::F32));
    assert!(m.contains("'axial'") && m.contains("U8"), "{m}");
    let m = data_error(&variant(|t, _| t[0].2 = vec![16, 8]));
    assert!(m.contains("[16, 8]"), "{m}");
    let m = data_error(&variant(|t, _| t[2].2 = vec![2, 8, 4]));
    assert!(m.contains("'sagittal'") && m.contains("[2, 8, 4]"), "{m}");
    let m = data_error(&variant(|t, _| t[1].2 = vec![2, 4, 4]));
    assert!(m.contains("'coronal'") && m.contains("N = 8"), "{m}");
    let m = data_error(&variant(|t, _| t[0].2 = vec![0, 8, 8]));
    assert!(m.contains("'axial'"), "{m}");
    let m = data_error(&variant(|_, meta| {
        meta.remove("source");
    }));
    assert!(m.contains("source"), "{m}");
    let m = data_error(&variant(|_, meta| {
        meta.insert("coronal_indices".into(), "[3]".into());
    }));
    assert!(m.contains("coronal_indices"), "{m}");
    let m = data_error(&variant(|_, meta| {
        meta.insert("axial_indices".into(), "[9, 3]".into());
    }));
    assert!(m.contains("axial_indices"), "{m}");
    let m = data_error(&variant(|_, meta| {
        meta.insert("axial_indices".into(), "three".into());
    }));
    assert!(m.contains("axial_indices"), "{m}");

    let b = load(128);
    let missing = SliceId {
        orientation: Orientation::Coronal,
        index: 16,
    };
    assert!(matches!(b.image(missing), Err(Error::Input(_))));
}

#[test]
fn the_separated_split_keeps_two_slices_between_training_and_test() {
    use barriers_lab::mri::brain::{Role, Split};
    let b = load(128);
    let test = b.slices(Split::Separated, Role::Test);
    let train = b.slices(Split::Separated, Role::Train);
    let buffer = b.slices(Split::Separated, Role::Buffer);
    assert_eq!((test.len(), train.len(), buffer.len()), (9, 27, 36));
    for t in &test {
        for r in train.iter().filter(|r| r.orientation == t.orientation) {
            assert!(r.index.abs_diff(t.index) >= 3, "{r} is next to {t}");
        }
    }
    // Every orientation is tested, and every held-out slice of it has training slices on both
    // sides (the network has seen the anatomy above and below, not the plane's neighbours).
    for o in Orientation::ALL {
        let held: Vec<usize> = test
            .iter()
            .filter(|id| id.orientation == o)
            .map(|id| id.index)
            .collect();
        assert!(!held.is_empty(), "{o}");
        for h in held {
            assert!(train.iter().any(|r| r.orientation == o && r.index < h));
            assert!(train.iter().any(|r| r.orientation == o && r.index > h));
        }
    }
    // The held-out axial planes, in the volume.
    let axial: Vec<usize> = test
        .iter()
        .filter(|id| id.orientation == Orientation::Axial)
        .map(|id| b.volume_index(id.orientation, id.index))
        .collect();
    assert_eq!(axial.len(), 5);
    // The interleaved split is the one `train_slices` and `test_slices` give.
    assert_eq!(b.slices(Split::Interleaved, Role::Test), b.test_slices());
    assert_eq!(b.slices(Split::Interleaved, Role::Train), b.train_slices());
    assert!(b.slices(Split::Interleaved, Role::Buffer).is_empty());
}
