//! 2×2 max-pooling (stride 2) with an exact gradient, as a candle custom op.
//!
//! `y[b,c,i,j] = max_{0≤p,q<2} x[b,c,2i+p,2j+q]`; the gradient routes `∂L/∂y[b,c,i,j]` to the first
//! maximal entry of the window (the subgradient PyTorch uses). candle 0.11's own `max_pool2d`
//! backward multiplies the gradient by the share of maxima in each window (¼ for a unique
//! maximum), which would scale input gradients by 1/16 through the CNN's two pools; and writing
//! the pool as two `max` reductions is exact but makes training 2.5× slower on CPU.

use candle_core::{CpuStorage, CustomOp1, Layout, Shape, Tensor};

struct MaxPool2;

/// Index (within `src`) of the first maximum of the window at output position `(i, j)` of plane
/// `plane`, for input planes of `h × w`.
fn window_argmax<T: PartialOrd + Copy>(
    src: &[T],
    plane: usize,
    h: usize,
    w: usize,
    i: usize,
    j: usize,
) -> usize {
    let base = plane * h * w;
    let mut best = base + 2 * i * w + 2 * j;
    for (p, q) in [(0, 1), (1, 0), (1, 1)] {
        let k = base + (2 * i + p) * w + 2 * j + q;
        if src[k] > src[best] {
            best = k;
        }
    }
    best
}

fn forward<T: PartialOrd + Copy>(src: &[T], planes: usize, h: usize, w: usize) -> Vec<T> {
    let (oh, ow) = (h / 2, w / 2);
    let mut out = Vec::with_capacity(planes * oh * ow);
    for plane in 0..planes {
        for i in 0..oh {
            for j in 0..ow {
                out.push(src[window_argmax(src, plane, h, w, i, j)]);
            }
        }
    }
    out
}

fn backward<T: PartialOrd + Copy + Default + std::ops::AddAssign>(
    src: &[T],
    grad: &[T],
    planes: usize,
    h: usize,
    w: usize,
) -> Vec<T> {
    let (oh, ow) = (h / 2, w / 2);
    let mut out = vec![T::default(); src.len()];
    for plane in 0..planes {
        for i in 0..oh {
            for j in 0..ow {
                out[window_argmax(src, plane, h, w, i, j)] += grad[(plane * oh + i) * ow + j];
            }
        }
    }
    out
}

impl CustomOp1 for MaxPool2 {
    fn name(&self) -> &'static str {
        "max-pool-2x2"
    }

    fn cpu_fwd(
        &self,
        storage: &CpuStorage,
        layout: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        let (b, c, h, w) = layout.shape().dims4()?;
        if h % 2 != 0 || w % 2 != 0 {
            candle_core::bail!("max-pool-2x2 needs even sides, got {h}×{w}");
        }
        let Some((start, end)) = layout.contiguous_offsets() else {
            candle_core::bail!("max-pool-2x2 needs a contiguous input");
        };
        let shape = Shape::from((b, c, h / 2, w / 2));
        let out = match storage {
            CpuStorage::F32(v) => CpuStorage::F32(forward(&v[start..end], b * c, h, w)),
            CpuStorage::F64(v) => CpuStorage::F64(forward(&v[start..end], b * c, h, w)),
            _ => candle_core::bail!("max-pool-2x2 supports f32 and f64"),
        };
        Ok((out, shape))
    }

    fn bwd(
        &self,
        arg: &Tensor,
        _res: &Tensor,
        grad_res: &Tensor,
    ) -> candle_core::Result<Option<Tensor>> {
        let (b, c, h, w) = arg.dims4()?;
        let grad = match arg.dtype() {
            candle_core::DType::F32 => {
                let src = arg.flatten_all()?.to_vec1::<f32>()?;
                let g = grad_res.flatten_all()?.to_vec1::<f32>()?;
                Tensor::from_vec(backward(&src, &g, b * c, h, w), (b, c, h, w), arg.device())?
            }
            candle_core::DType::F64 => {
                let src = arg.flatten_all()?.to_vec1::<f64>()?;
                let g = grad_res.flatten_all()?.to_vec1::<f64>()?;
                Tensor::from_vec(backward(&src, &g, b * c, h, w), (b, c, h, w), arg.device())?
            }
            dt => candle_core::bail!("max-pool-2x2 supports f32 and f64, not {dt:?}"),
        };
        Ok(Some(grad))
    }
}

/// 2×2 max-pooling with stride 2, `[B, C, H, W] → [B, C, H/2, W/2]`, with an exact gradient.
pub fn max_pool2(x: &Tensor) -> candle_core::Result<Tensor> {
    x.contiguous()?.apply_op1(MaxPool2)
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{Device, Var};

    #[test]
    fn forward_matches_candle() {
        let dev = Device::Cpu;
        let values: Vec<f64> = (0..2 * 3 * 6 * 4)
            .map(|i| ((i * 37) % 23) as f64 - 7.5)
            .collect();
        let x = Tensor::from_vec(values, (2, 3, 6, 4), &dev).unwrap();
        let ours = max_pool2(&x).unwrap();
        assert_eq!(ours.dims(), &[2, 3, 3, 2]);
        let theirs = x.max_pool2d(2).unwrap();
        assert_eq!(
            ours.flatten_all().unwrap().to_vec1::<f64>().unwrap(),
            theirs.flatten_all().unwrap().to_vec1::<f64>().unwrap()
        );
        // Non-contiguous inputs are handled too.
        let t = x.transpose(2, 3).unwrap();
        let a = max_pool2(&t)
            .unwrap()
            .flatten_all()
            .unwrap()
            .to_vec1::<f64>()
            .unwrap();
        let b = t
            .max_pool2d(2)
            .unwrap()
            .flatten_all()
            .unwrap()
            .to_vec1::<f64>()
            .unwrap();
        assert_eq!(a, b);
    }

    #[test]
    fn gradient_goes_to_the_first_maximum() {
        let dev = Device::Cpu;
        let x = Var::from_tensor(
            &Tensor::new(&[[[[1f64, 2., 5., 5.], [3., 4., 0., 1.]]]], &dev).unwrap(),
        )
        .unwrap();
        let y = max_pool2(x.as_tensor()).unwrap();
        let w = Tensor::new(&[[[[10f64, 20.]]]], &dev).unwrap();
        let grads = (y * w).unwrap().sum_all().unwrap().backward().unwrap();
        let g = grads
            .get(x.as_tensor())
            .unwrap()
            .flatten_all()
            .unwrap()
            .to_vec1::<f64>()
            .unwrap();
        assert_eq!(g, vec![0., 0., 20., 0., 0., 10., 0., 0.]);
    }
}
