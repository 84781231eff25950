//! NumPy's `.npy` format (version 1.0), for the figures' "download data": a magic string, a
//! header dict `{'descr': '<f4', 'fortran_order': False, 'shape': (h, w), }` padded with spaces
//! to a multiple of 64 bytes and ending in a newline, then the values in C order.
//!
//! Written here (some forty lines) rather than with a crate: the lab needs only to write
//! little-endian `f32` and `u8` arrays, and reads them back only in its tests.

use crate::{Error, Result};

const MAGIC: &[u8] = b"\x93NUMPY\x01\x00";

/// The element types the lab writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dtype {
    F32,
    U8,
}

impl Dtype {
    fn descr(self) -> &'static str {
        match self {
            Dtype::F32 => "<f4",
            Dtype::U8 => "|u1",
        }
    }

    fn size(self) -> usize {
        match self {
            Dtype::F32 => 4,
            Dtype::U8 => 1,
        }
    }
}

fn header(dtype: Dtype, shape: &[usize]) -> Vec<u8> {
    let dims = match shape {
        [n] => format!("({n},)"),
        _ => format!(
            "({})",
            shape
                .iter()
                .map(|d| d.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    let dict = format!(
        "{{'descr': '{}', 'fortran_order': False, 'shape': {dims}, }}",
        dtype.descr()
    );
    // magic (8) + header length (2) + dict + padding + '\n' is a multiple of 64.
    let unpadded = MAGIC.len() + 2 + dict.len() + 1;
    let padding = (64 - unpadded % 64) % 64;
    let len = (dict.len() + padding + 1) as u16;
    let mut out = Vec::with_capacity(unpadded + padding);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(dict.as_bytes());
    out.extend(std::iter::repeat_n(b' ', padding));
    out.push(b'\n');
    out
}

fn check(shape: &[usize], len: usize) -> Result<()> {
    let n: usize = shape.iter().product();
    if shape.is_empty() || n != len {
        return Err(Error::Input(format!(
            "an array of shape {shape:?} needs {n} values, not {len}"
        )));
    }
    Ok(())
}

/// A `.npy` file of little-endian `f32` values of `shape` (C order).
pub fn write_f32(shape: &[usize], values: &[f32]) -> Result<Vec<u8>> {
    check(shape, values.len())?;
    let mut out = header(Dtype::F32, shape);
    out.extend(values.iter().flat_map(|v| v.to_le_bytes()));
    Ok(out)
}

/// A `.npy` file of bytes of `shape` (C order), e.g. RGBA pixels as `(h, w, 4)`.
pub fn write_u8(shape: &[usize], values: &[u8]) -> Result<Vec<u8>> {
    check(shape, values.len())?;
    let mut out = header(Dtype::U8, shape);
    out.extend_from_slice(values);
    Ok(out)
}

/// Reads a `.npy` file's type, shape and where its data start (for tests and checks).
pub fn read_header(bytes: &[u8]) -> Result<(Dtype, Vec<usize>, usize)> {
    let bad = |why: &str| Error::Data(format!("not a .npy file: {why}"));
    if bytes.len() < 10 || &bytes[..8] != MAGIC {
        return Err(bad("no magic string"));
    }
    let len = u16::from_le_bytes([bytes[8], bytes[9]]) as usize;
    let dict = std::str::from_utf8(bytes.get(10..10 + len).ok_or_else(|| bad("short header"))?)
        .map_err(|_| bad("header is not text"))?;
    let dtype = if dict.contains("'descr': '<f4'") {
        Dtype::F32
    } else if dict.contains("'descr': '|u1'") {
        Dtype::U8
    } else {
        return Err(bad("an element type the lab does not write"));
    };
    let shape = dict
        .split_once("'shape': (")
        .and_then(|(_, rest)| rest.split_once(')'))
        .ok_or_else(|| bad("no shape"))?
        .0
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.parse::<usize>()
                .map_err(|_| bad("a shape that is not numbers"))
        })
        .collect::<Result<Vec<_>>>()?;
    let start = 10 + len;
    // Checked: a header may declare any shape (`(18446744073709551615, 2)`).
    let end = shape
        .iter()
        .try_fold(dtype.size(), |n, &d| n.checked_mul(d))
        .and_then(|n| n.checked_add(start));
    if end != Some(bytes.len()) {
        return Err(bad("data of the wrong length"));
    }
    Ok((dtype, shape, start))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn f32_arrays_round_trip_with_an_aligned_header() {
        let values: Vec<f32> = (0..12).map(|i| i as f32 * 0.5 - 1.0).collect();
        let bytes = write_f32(&[3, 4], &values).unwrap();
        // The golden header NumPy 1.x writes for np.save(f, np.zeros((3, 4), '<f4')).
        let golden = "{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }";
        assert_eq!(&bytes[10..10 + golden.len()], golden.as_bytes());
        let (dtype, shape, start) = read_header(&bytes).unwrap();
        assert_eq!((dtype, shape.as_slice()), (Dtype::F32, &[3, 4][..]));
        assert_eq!(start % 64, 0);
        assert_eq!(bytes[start - 1], b'\n');
        let back: Vec<f32> = bytes[start..]
            .chunks(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect();
        assert_eq!(back, values);
    }

    #[test]
    fn bytes_and_vectors_and_bad_shapes() {
        let bytes = write_u8(&[2, 2, 4], &[7; 16]).unwrap();
        assert_eq!(read_header(&bytes).unwrap().1, vec![2, 2, 4]);
        let v = write_f32(&[5], &[1.0; 5]).unwrap();
        assert!(std::str::from_utf8(&v[10..80])
            .unwrap()
            .contains("'shape': (5,)"));
        assert_eq!(read_header(&v).unwrap().1, vec![5]);
        assert!(write_f32(&[2, 2], &[0.0; 3]).is_err());
        assert!(read_header(b"PK\x03\x04").is_err());
        assert!(read_header(&bytes[..bytes.len() - 1]).is_err());
    }

    #[test]
    fn declared_sizes_that_overflow_are_errors() {
        // A header whose shape's product (times the element size) overflows `usize`.
        for dims in [
            "(18446744073709551615, 2)",
            "(4611686018427387904,)",
            "(0, 18446744073709551615)",
        ] {
            let dict = format!("{{'descr': '<f4', 'fortran_order': False, 'shape': {dims}, }}\n");
            let mut bytes = MAGIC.to_vec();
            bytes.extend_from_slice(&(dict.len() as u16).to_le_bytes());
            bytes.extend_from_slice(dict.as_bytes());
            bytes.extend_from_slice(&[0; 8]);
            assert!(read_header(&bytes).is_err(), "{dims}");
        }
    }
}
