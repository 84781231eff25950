//! More samples can make it worse (Antun, Renna, Poon, Adcock & Hansen, PNAS 2020, the third
//! kind of instability): a trained network Ψ is kept fixed — its weights learned with one
//! sampling pattern — and fed measurements `y = P_Ω F x` at other rates through nested masks
//! `Ω₁ ⊂ Ω₂ ⊂ …` (its data-consistency layers use the mask actually sampled). A stable method
//! such as FIRENET, or zero-filling, can only gain from more samples; the trained network may
//! lose accuracy away from its training rate.
//!
//! [`quality`] is the held-out measure every reconstruction network of the lab is judged by
//! (mean PSNR and SSIM of zero-filling, FIRENET and the network over the held-out slices); a
//! [`SweepReport`] holds the mean PSNR of each method against the sampling rate
//! (`static/reports/sampling_sweep.json`, written by `lab sampling-sweep`). [`Sweep`] computes
//! one, one held-out image at a time, for `lab` and for the browser's worker alike (which yields
//! between images); [`SweepReport::findings`] reads what its curves show.

use crate::engine::{wait, Engine};
use crate::mri::brain::{BrainSlices, Role, Split};
use crate::mri::instability::Reconstructor;
use crate::mri::learned::hallucination::{slice_at, FirenetSetting, HeldOut, MaskSpec, NetCard};
use crate::mri::metrics::{psnr, ssim};
use crate::mri::operator::Sampling;
use crate::{Error, Result};
use rustfft::num_complex::Complex32;
use serde::{Deserialize, Serialize};

/// `rates` dealt to `parts` workers as evenly as their cost allows: the rates in turn, highest
/// first (a rate's cost grows a little with what it samples), so each part has every
/// `parts`-th rate. Parts are never empty; there are at most as many as rates.
pub fn split_rates(rates: &[f64], parts: usize) -> Vec<Vec<f64>> {
    let parts = parts.clamp(1, rates.len().max(1));
    let mut out = vec![Vec::new(); parts];
    let mut order: Vec<f64> = rates.to_vec();
    order.sort_by(|a, b| b.total_cmp(a));
    for (k, r) in order.into_iter().enumerate() {
        out[k % parts].push(r);
    }
    for part in &mut out {
        part.sort_by(|a, b| a.total_cmp(b));
    }
    out.retain(|p| !p.is_empty());
    out
}

/// The rates of the default sweep (shares of k-space).
pub const RATES: [f64; 11] = [0.05, 0.075, 0.1, 0.125, 0.15, 0.2, 0.25, 0.3, 0.4, 0.5, 0.6];

fn magnitudes(v: &[Complex32]) -> Vec<f32> {
    v.iter().map(|z| z.norm()).collect()
}

/// `|A*y|`, `|FIRENET(y)|` (the experiment's setting `fire`) and `|Ψ(y)|` for each of `nets`,
/// from the noise-free measurements `y = Ax`.
pub fn reconstructions(
    a: &dyn Sampling,
    fire: &FirenetSetting,
    nets: &[&dyn Reconstructor],
    x: &[f32],
) -> Result<Vec<Vec<f32>>> {
    wait(reconstructions_async(a, fire, nets, x))
}

/// [`reconstructions`], asynchronously (the browser's GPU engine).
pub async fn reconstructions_async(
    a: &dyn Sampling,
    fire: &FirenetSetting<'_>,
    nets: &[&dyn Reconstructor],
    x: &[f32],
) -> Result<Vec<Vec<f32>>> {
    let b = fire.sampling(a)?;
    let firenet = fire.reconstructor(&b);
    let y = a.measure(x);
    let mut out = vec![
        magnitudes(&a.zero_filled(&y)),
        magnitudes(&firenet.reconstruct_async(&y).await?),
    ];
    for net in nets {
        out.push(magnitudes(&net.reconstruct_async(&y).await?));
    }
    Ok(out)
}

/// Mean PSNR and SSIM of zero-filling `A*y`, FIRENET (the experiment's setting, on `engine`)
/// and `net` on the `side × side` images `test` (noise-free measurements `y = Ax`).
pub fn quality(
    engine: &dyn Engine,
    a: &dyn Sampling,
    net: &dyn Reconstructor,
    test: &[Vec<f32>],
    side: usize,
) -> Result<HeldOut> {
    if test.is_empty() {
        return Err(Error::Input("no images to measure quality on".into()));
    }
    let fire = FirenetSetting::new(engine, side)?;
    let mut sums = [0.0f64; 6];
    for x in test {
        let outs = reconstructions(a, &fire, &[net], x)?;
        for (k, out) in outs.iter().enumerate() {
            sums[k] += psnr(x, out, 1.0);
            sums[3 + k] += ssim(x, out, side, 1.0);
        }
    }
    let k = test.len() as f64;
    Ok(HeldOut {
        slices: test.len(),
        psnr_zero_filled: sums[0] / k,
        psnr_firenet: sums[1] / k,
        psnr_net: sums[2] / k,
        ssim_zero_filled: sums[3] / k,
        ssim_firenet: sums[4] / k,
        ssim_net: sums[5] / k,
    })
}

/// The masks of a sweep: `spec`'s pattern and seed at every rate, nested by construction.
pub fn masks(
    spec: &MaskSpec,
    side: usize,
    rates: &[f64],
) -> Result<Vec<crate::mri::sampling::Mask>> {
    rates
        .iter()
        .map(|&rate| MaskSpec { rate, ..*spec }.mask(side))
        .collect()
}

/// One network's mean held-out PSNR at every rate of the sweep.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SweepNet {
    pub name: String,
    /// The rate its weights were trained at.
    pub training_rate: f64,
    pub psnr: Vec<f64>,
}

/// `static/reports/sampling_sweep.json`. Every method sees the same nested masks (the pattern
/// and seed of the networks' cards).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SweepReport {
    /// Requested shares of k-space.
    pub rates: Vec<f64>,
    /// Shares actually sampled (whole lines).
    pub sampled: Vec<f64>,
    pub psnr_zero_filled: Vec<f64>,
    pub psnr_firenet: Vec<f64>,
    pub nets: Vec<SweepNet>,
    /// Held-out slices each mean is taken over.
    pub slices: usize,
    pub side: usize,
    /// The train / held-out split the held-out slices come from (absent in the 64² reports:
    /// the interleaved split).
    #[serde(default)]
    pub split: Split,
    pub mask: MaskSpec,
    pub command: String,
}

impl SweepReport {
    /// Parses and checks the report (every curve has one value per rate).
    pub fn from_json(bytes: &[u8]) -> Result<Self> {
        let r: Self = serde_json::from_slice(bytes)
            .map_err(|e| Error::Data(format!("the sampling sweep is malformed: {e}")))?;
        let n = r.rates.len();
        if n == 0
            || r.sampled.len() != n
            || r.psnr_zero_filled.len() != n
            || r.psnr_firenet.len() != n
            || r.nets.iter().any(|m| m.psnr.len() != n)
        {
            return Err(Error::Data(
                "the sampling sweep's curves do not have one value per rate".into(),
            ));
        }
        Ok(r)
    }
}

/// Lowest and highest rate of a sweep, and the most rates one may ask for.
pub const MIN_RATE: f64 = 0.02;
pub const MAX_RATE: f64 = 0.8;
pub const MAX_RATES: usize = 12;
/// Most networks in one sweep.
pub const MAX_NETS: usize = 4;

/// Images of one side, row-major.
pub type Images = Vec<Vec<f32>>;

/// The experiment's training and held-out images: the template's slices halved by 2 × 2 means
/// (128² → [`crate::mri::learned::hallucination::SIDE`]²), in the order of [`BrainSlices::train_slices`] and
/// [`BrainSlices::test_slices`].
pub fn slices(brain: &BrainSlices) -> Result<(Images, Images)> {
    split_slices(brain, brain.side() / 2, Split::Interleaved)
}

/// The training and held-out images of `split` at side `side`: the slices themselves when
/// `side` is the file's, halved by 2 × 2 means when it is half of it.
pub fn split_slices(brain: &BrainSlices, side: usize, split: Split) -> Result<(Images, Images)> {
    let get = |role| -> Result<Images> {
        brain
            .slices(split, role)
            .into_iter()
            .map(|id| slice_at(brain, id, side))
            .collect()
    };
    Ok((get(Role::Train)?, get(Role::Test)?))
}

/// `count` of `len` held-out images, evenly spread over the list: positions `⌊i·len/count⌋`,
/// `i = 0 … count − 1` (all of them, in order, for `count = len`).
pub fn spread(len: usize, count: usize) -> Result<Vec<usize>> {
    if count == 0 || count > len {
        return Err(Error::Input(format!(
            "a sweep averages over 1 to {len} held-out slices, not {count}"
        )));
    }
    Ok((0..count).map(|i| i * len / count).collect())
}

/// Checks the rates of a sweep: 1 to [`MAX_RATES`] of them, each in
/// [[`MIN_RATE`], [`MAX_RATE`]], strictly increasing.
pub fn check_rates(rates: &[f64]) -> Result<()> {
    if rates.is_empty() || rates.len() > MAX_RATES {
        return Err(Error::Input(format!(
            "a sweep has 1 to {MAX_RATES} rates, not {}",
            rates.len()
        )));
    }
    if let Some(r) = rates
        .iter()
        .find(|r| !(r.is_finite() && (MIN_RATE..=MAX_RATE).contains(*r)))
    {
        return Err(Error::Input(format!(
            "the rates of a sweep lie between {:.0}% and {:.0}%, not {r}",
            MIN_RATE * 100.0,
            MAX_RATE * 100.0
        )));
    }
    if rates.windows(2).any(|w| w[0] >= w[1]) {
        return Err(Error::Input(
            "the rates of a sweep must increase".to_string(),
        ));
    }
    Ok(())
}

/// A network of a sweep: its card and its weights (learned with the card's mask).
#[derive(Clone, Copy, Debug)]
pub struct SweepSource<'a> {
    pub card: &'a NetCard,
    pub weights: &'a [u8],
}

/// The mask pattern and seed the networks of a sweep share (every network must have been
/// trained with the same pattern and seed, at side `side`); the rate is the first network's.
pub fn common_mask(nets: &[SweepSource], side: usize) -> Result<MaskSpec> {
    let spec = nets
        .first()
        .map(|n| n.card.mask)
        .ok_or_else(|| Error::Input("a sweep needs at least one network".into()))?;
    if let Some(n) = nets.iter().find(|n| {
        n.card.mask.pattern != spec.pattern || n.card.mask.seed != spec.seed || n.card.side != side
    }) {
        return Err(Error::Input(format!(
            "the networks of a sweep must share their mask's pattern and seed and work at {side}²; '{}' does not",
            n.card.name
        )));
    }
    Ok(spec)
}

/// One rate of a sweep: `A = P_Ω F` with the mask of `spec`'s pattern and seed at that rate,
/// and every network rebuilt with that mask in its data-consistency layers (weights fixed), on
/// one engine.
pub struct AtRate {
    pub rate: f64,
    pub a: Box<dyn Sampling>,
    pub nets: Vec<Box<dyn Reconstructor>>,
}

impl AtRate {
    pub fn new(
        engine: &dyn Engine,
        spec: &MaskSpec,
        side: usize,
        rate: f64,
        nets: &[SweepSource],
    ) -> Result<Self> {
        let a = engine.sampling(MaskSpec { rate, ..*spec }.mask(side)?)?;
        let nets = nets
            .iter()
            .map(|n| engine.cascade(&n.card.name, n.card.shape.into(), n.weights, a.mask()))
            .collect::<Result<_>>()?;
        Ok(Self { rate, a, nets })
    }

    /// Share of k-space actually sampled (whole lines).
    pub fn sampled(&self) -> f64 {
        self.a.mask().rate()
    }

    /// `|A*y|`, `|FIRENET(y)|` and `|Ψ_i(y)|` for every network, from `y = Ax` (noise-free).
    pub fn reconstruct(&self, fire: &FirenetSetting, x: &[f32]) -> Result<Vec<Vec<f32>>> {
        wait(self.reconstruct_async(fire, x))
    }

    /// [`AtRate::reconstruct`], asynchronously (the browser's GPU engine).
    pub async fn reconstruct_async(
        &self,
        fire: &FirenetSetting<'_>,
        x: &[f32],
    ) -> Result<Vec<Vec<f32>>> {
        let nets: Vec<&dyn Reconstructor> = self.nets.iter().map(|n| &**n).collect();
        reconstructions_async(&*self.a, fire, &nets, x).await
    }

    /// The PSNR (peak 1) against `x` of each reconstruction of [`AtRate::reconstruct`].
    pub fn psnr(&self, fire: &FirenetSetting, x: &[f32]) -> Result<Vec<f64>> {
        wait(self.psnr_async(fire, x))
    }

    /// [`AtRate::psnr`], asynchronously.
    pub async fn psnr_async(&self, fire: &FirenetSetting<'_>, x: &[f32]) -> Result<Vec<f64>> {
        Ok(self
            .reconstruct_async(fire, x)
            .await?
            .iter()
            .map(|out| psnr(x, out, 1.0))
            .collect())
    }
}

/// Mean held-out PSNR of every method at one rate of a sweep.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RatePoint {
    pub rate: f64,
    pub sampled: f64,
    pub zero_filled: f64,
    pub firenet: f64,
    /// One per network, in the sweep's order.
    pub nets: Vec<f64>,
}

/// A sampling sweep computed one held-out image at a time ([`Sweep::step`]), rate after rate,
/// so that a caller can report progress, yield and stop between images. The means are sums in
/// the images' order divided by their number, as in [`quality`].
pub struct Sweep<'a> {
    engine: &'a dyn Engine,
    nets: Vec<SweepSource<'a>>,
    test: Vec<&'a [f32]>,
    rates: Vec<f64>,
    spec: MaskSpec,
    side: usize,
    fire: FirenetSetting<'a>,
    current: Option<AtRate>,
    /// Zero-filling, FIRENET, then each network.
    sums: Vec<f64>,
    rate: usize,
    slice: usize,
    points: Vec<RatePoint>,
}

impl<'a> Sweep<'a> {
    /// A sweep of `nets` over `rates` (checked by [`check_rates`]), averaging over `test`, on
    /// `engine`.
    pub fn new(
        engine: &'a dyn Engine,
        nets: &[SweepSource<'a>],
        test: Vec<&'a [f32]>,
        rates: &[f64],
        side: usize,
    ) -> Result<Self> {
        let spec = common_mask(nets, side)?;
        check_rates(rates)?;
        if test.is_empty() || test.iter().any(|x| x.len() != side * side) {
            return Err(Error::Input(format!(
                "a sweep needs held-out images of {side}² pixels"
            )));
        }
        Ok(Self {
            engine,
            nets: nets.to_vec(),
            test,
            rates: rates.to_vec(),
            spec,
            side,
            fire: FirenetSetting::new(engine, side)?,
            current: None,
            sums: vec![0.0; 2 + nets.len()],
            rate: 0,
            slice: 0,
            points: Vec::with_capacity(rates.len()),
        })
    }

    pub fn is_done(&self) -> bool {
        self.rate >= self.rates.len()
    }

    /// The rate (index into the rates) and the held-out image (index into the images) the next
    /// [`Sweep::step`] measures.
    pub fn position(&self) -> (usize, usize) {
        (self.rate, self.slice)
    }

    /// Number of held-out images per rate.
    pub fn slices(&self) -> usize {
        self.test.len()
    }

    /// The mask pattern and seed of the sweep (rate: the first network's).
    pub fn spec(&self) -> MaskSpec {
        self.spec
    }

    /// The finished rates.
    pub fn points(&self) -> &[RatePoint] {
        &self.points
    }

    /// Measures the next held-out image at the current rate; once the rate's last image is
    /// measured, returns that rate's means.
    pub fn step(&mut self) -> Result<Option<RatePoint>> {
        wait(self.step_async())
    }

    /// [`Sweep::step`], asynchronously (the browser's GPU engine).
    pub async fn step_async(&mut self) -> Result<Option<RatePoint>> {
        if self.is_done() {
            return Err(Error::Input("the sweep is finished".into()));
        }
        let at = match self.current.take() {
            Some(at) => at,
            None => AtRate::new(
                self.engine,
                &self.spec,
                self.side,
                self.rates[self.rate],
                &self.nets,
            )?,
        };
        let values = at.psnr_async(&self.fire, self.test[self.slice]).await?;
        for (s, v) in self.sums.iter_mut().zip(&values) {
            *s += v;
        }
        self.slice += 1;
        if self.slice < self.test.len() {
            self.current = Some(at);
            return Ok(None);
        }
        let k = self.test.len() as f64;
        let means: Vec<f64> = self.sums.iter().map(|s| s / k).collect();
        let point = RatePoint {
            rate: at.rate,
            sampled: at.sampled(),
            zero_filled: means[0],
            firenet: means[1],
            nets: means[2..].to_vec(),
        };
        self.points.push(point.clone());
        self.sums.iter_mut().for_each(|s| *s = 0.0);
        self.slice = 0;
        self.rate += 1;
        Ok(Some(point))
    }
}

/// A run of consecutive losses of a curve as the rate grows: from the rate at index `from` to
/// the rate at index `to`, `db` lost in all.
#[derive(Clone, Debug, PartialEq)]
pub struct Loss {
    pub from: usize,
    pub to: usize,
    pub db: f64,
}

/// Every maximal run of decreases of `curve`.
pub fn losses(curve: &[f64]) -> Vec<Loss> {
    let mut out: Vec<Loss> = Vec::new();
    for k in 1..curve.len() {
        if curve[k] < curve[k - 1] {
            match out.last_mut() {
                Some(l) if l.to == k - 1 => {
                    l.to = k;
                    l.db = curve[l.from] - curve[k];
                }
                _ => out.push(Loss {
                    from: k - 1,
                    to: k,
                    db: curve[k - 1] - curve[k],
                }),
            }
        }
    }
    out
}

/// What a sweep's curves show for one network.
#[derive(Clone, Debug, PartialEq)]
pub struct NetFindings {
    pub name: String,
    /// Share of k-space its training mask samples.
    pub trained_share: f64,
    /// The sweep's rate whose sampled share is nearest to it.
    pub trained: usize,
    /// Whether that rate samples exactly the training share (the same lines).
    pub trained_exact: bool,
    /// Runs of losses of its curve as more is sampled.
    pub losses: Vec<Loss>,
    /// Rates at which FIRENET is better than it.
    pub firenet_better: Vec<usize>,
    /// PSNR gained from the training rate to the highest rate: by it, by FIRENET.
    pub gain: f64,
    pub gain_firenet: f64,
}

impl SweepReport {
    /// Reads off the curves: for every network its losses, where FIRENET beats it, and the
    /// gains from its training rate on.
    pub fn findings(&self) -> Result<Vec<NetFindings>> {
        let last = self.rates.len() - 1;
        self.nets
            .iter()
            .map(|n| {
                let trained_share = MaskSpec {
                    rate: n.training_rate,
                    ..self.mask
                }
                .mask(self.side)?
                .rate();
                let trained = (0..self.sampled.len())
                    .min_by(|&a, &b| {
                        (self.sampled[a] - trained_share)
                            .abs()
                            .total_cmp(&(self.sampled[b] - trained_share).abs())
                    })
                    .unwrap_or(0);
                Ok(NetFindings {
                    name: n.name.clone(),
                    trained_share,
                    trained,
                    trained_exact: (self.sampled[trained] - trained_share).abs() < 1e-9,
                    losses: losses(&n.psnr),
                    firenet_better: (0..=last)
                        .filter(|&k| self.psnr_firenet[k] > n.psnr[k])
                        .collect(),
                    gain: n.psnr[last] - n.psnr[trained],
                    gain_firenet: self.psnr_firenet[last] - self.psnr_firenet[trained],
                })
            })
            .collect()
    }

    /// A report from the points of a sweep of `nets` (in their order) over `slices` held-out
    /// images.
    pub fn from_points(
        nets: &[SweepSource],
        points: &[RatePoint],
        slices: usize,
        side: usize,
        command: String,
    ) -> Result<Self> {
        let mask = common_mask(nets, side)?;
        if points.is_empty() || points.iter().any(|p| p.nets.len() != nets.len()) {
            return Err(Error::Input(
                "every rate of a sweep has one value per network".into(),
            ));
        }
        Ok(Self {
            rates: points.iter().map(|p| p.rate).collect(),
            sampled: points.iter().map(|p| p.sampled).collect(),
            psnr_zero_filled: points.iter().map(|p| p.zero_filled).collect(),
            psnr_firenet: points.iter().map(|p| p.firenet).collect(),
            nets: nets
                .iter()
                .enumerate()
                .map(|(k, n)| SweepNet {
                    name: n.card.name.clone(),
                    training_rate: n.card.mask.rate,
                    psnr: points.iter().map(|p| p.nets[k]).collect(),
                })
                .collect(),
            slices,
            side,
            split: nets.first().map_or(Split::Interleaved, |n| n.card.split),
            mask,
            command,
        })
    }

    /// The report's values at each of its rates (the inverse of [`SweepReport::from_points`]).
    pub fn points(&self) -> Vec<RatePoint> {
        (0..self.rates.len())
            .map(|k| RatePoint {
                rate: self.rates[k],
                sampled: self.sampled[k],
                zero_filled: self.psnr_zero_filled[k],
                firenet: self.psnr_firenet[k],
                nets: self.nets.iter().map(|n| n.psnr[k]).collect(),
            })
            .collect()
    }

    /// One report from sweeps of the same networks and slices over parts of `rates` (the
    /// worker pool's parts, [`split_rates`]), in the order of `rates`: every rate's values are
    /// copied from the part that computed it, so the result is the report one sweep over all of
    /// `rates` gives.
    pub fn merge(parts: &[SweepReport], rates: &[f64], command: String) -> Result<Self> {
        let first = parts
            .first()
            .ok_or_else(|| Error::Input("no parts to merge".into()))?;
        let same = |p: &SweepReport| {
            p.slices == first.slices
                && p.side == first.side
                && p.split == first.split
                && p.mask == first.mask
                && p.nets.len() == first.nets.len()
                && p.nets
                    .iter()
                    .zip(&first.nets)
                    .all(|(a, b)| a.name == b.name && a.training_rate == b.training_rate)
        };
        if !parts.iter().all(same) {
            return Err(Error::Input(
                "the parts of a sweep differ in networks, slices or mask".into(),
            ));
        }
        let all: Vec<RatePoint> = parts.iter().flat_map(|p| p.points()).collect();
        let points = rates
            .iter()
            .map(|r| {
                all.iter()
                    .find(|p| p.rate == *r)
                    .cloned()
                    .ok_or_else(|| Error::Input(format!("no part computed the rate {r}")))
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Self {
            command,
            ..first.with_points(&points)
        })
    }

    /// This report's networks, slices and mask with the values of `points` (one per rate).
    fn with_points(&self, points: &[RatePoint]) -> Self {
        Self {
            rates: points.iter().map(|p| p.rate).collect(),
            sampled: points.iter().map(|p| p.sampled).collect(),
            psnr_zero_filled: points.iter().map(|p| p.zero_filled).collect(),
            psnr_firenet: points.iter().map(|p| p.firenet).collect(),
            nets: self
                .nets
                .iter()
                .enumerate()
                .map(|(k, n)| SweepNet {
                    psnr: points.iter().map(|p| p.nets[k]).collect(),
                    ..n.clone()
                })
                .collect(),
            ..self.clone()
        }
    }

    /// The largest `|self − other|` (dB) over the curves and rates both have (rates matched
    /// to 10⁻⁹, networks by name), with the number of values compared.
    pub fn max_difference(&self, other: &SweepReport) -> (f64, usize) {
        let mut worst = 0.0f64;
        let mut count = 0;
        for (k, r) in self.rates.iter().enumerate() {
            let Some(j) = other.rates.iter().position(|s| (s - r).abs() < 1e-9) else {
                continue;
            };
            let mut pairs = vec![
                (self.psnr_zero_filled[k], other.psnr_zero_filled[j]),
                (self.psnr_firenet[k], other.psnr_firenet[j]),
            ];
            for n in &self.nets {
                if let Some(m) = other.nets.iter().find(|m| m.name == n.name) {
                    pairs.push((n.psnr[k], m.psnr[j]));
                }
            }
            for (a, b) in pairs {
                worst = worst.max((a - b).abs());
                count += 1;
            }
        }
        (worst, count)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_are_dealt_evenly_and_merged_back_exactly() {
        let shipped: SweepReport = SweepReport::from_json(include_bytes!(
            "../../../static/reports/sampling_sweep.json"
        ))
        .unwrap();
        let rates = shipped.rates.clone();
        for workers in [1, 2, 3, 4, 8, 40] {
            let parts = split_rates(&rates, workers);
            assert_eq!(parts.len(), workers.min(rates.len()));
            let sizes: Vec<usize> = parts.iter().map(Vec::len).collect();
            assert!(
                sizes.iter().max().unwrap() - sizes.iter().min().unwrap() <= 1,
                "{sizes:?}"
            );
            let mut dealt: Vec<f64> = parts.concat();
            dealt.sort_by(|a, b| a.total_cmp(b));
            assert_eq!(dealt, rates);
            // Each part as a worker would report it: the shipped values at its rates.
            let reports: Vec<SweepReport> = parts
                .iter()
                .map(|part| {
                    let points: Vec<RatePoint> = shipped
                        .points()
                        .into_iter()
                        .filter(|p| part.contains(&p.rate))
                        .collect();
                    shipped.with_points(&points)
                })
                .collect();
            let merged = SweepReport::merge(&reports, &rates, shipped.command.clone()).unwrap();
            assert_eq!(merged, shipped, "{workers} workers");
        }
        // A missing rate or a part of other networks is an error.
        let one = split_rates(&rates, 1);
        assert_eq!(one, vec![rates.clone()]);
        assert!(SweepReport::merge(&[], &rates, String::new()).is_err());
        let mut other = shipped.clone();
        other.slices += 1;
        assert!(SweepReport::merge(&[shipped.clone(), other], &rates, String::new()).is_err());
        assert!(
            SweepReport::merge(std::slice::from_ref(&shipped), &[0.99], String::new()).is_err()
        );
    }
    use crate::mri::sampling::Pattern;

    #[test]
    fn the_masks_are_nested_and_grow() {
        let spec = MaskSpec {
            pattern: Pattern::Cartesian,
            rate: 0.125,
            seed: 3,
        };
        let ms = masks(&spec, 64, &RATES).unwrap();
        for w in ms.windows(2) {
            let (small, big) = (&w[0], &w[1]);
            assert!(small.count() <= big.count());
            for i in 0..64 * 64 {
                assert!(!small.contains(i) || big.contains(i), "not nested at {i}");
            }
        }
    }

    #[test]
    fn ragged_reports_are_refused() {
        let good = SweepReport {
            rates: vec![0.1, 0.2],
            sampled: vec![0.1, 0.2],
            psnr_zero_filled: vec![15.0, 17.0],
            psnr_firenet: vec![16.0, 19.0],
            nets: vec![SweepNet {
                name: "n".into(),
                training_rate: 0.1,
                psnr: vec![25.0, 24.0],
            }],
            slices: 18,
            side: 64,
            split: Split::Interleaved,
            mask: MaskSpec {
                pattern: Pattern::Cartesian,
                rate: 0.1,
                seed: 1,
            },
            command: String::new(),
        };
        let json = serde_json::to_vec(&good).unwrap();
        assert_eq!(SweepReport::from_json(&json).unwrap(), good);
        let mut bad = good;
        bad.nets[0].psnr.pop();
        assert!(SweepReport::from_json(&serde_json::to_vec(&bad).unwrap()).is_err());
    }

    #[test]
    fn spread_takes_every_slice_in_order_or_spreads_fewer() {
        assert_eq!(spread(18, 18).unwrap(), (0..18).collect::<Vec<_>>());
        assert_eq!(spread(18, 2).unwrap(), vec![0, 9]);
        assert_eq!(spread(18, 3).unwrap(), vec![0, 6, 12]);
        assert_eq!(spread(18, 1).unwrap(), vec![0]);
        assert!(spread(18, 0).is_err());
        assert!(spread(18, 19).is_err());
    }

    #[test]
    fn rates_are_bounded_increasing_and_few() {
        assert!(check_rates(&RATES).is_ok());
        assert!(check_rates(&[MIN_RATE, MAX_RATE]).is_ok());
        assert!(check_rates(&[]).is_err());
        assert!(check_rates(&[0.01]).is_err());
        assert!(check_rates(&[0.81]).is_err());
        assert!(check_rates(&[f64::NAN]).is_err());
        assert!(check_rates(&[0.2, 0.1]).is_err());
        assert!(check_rates(&[0.2, 0.2]).is_err());
        let many: Vec<f64> = (0..=MAX_RATES).map(|k| 0.05 + 0.05 * k as f64).collect();
        assert!(check_rates(&many).is_err());
        assert!(check_rates(&many[..MAX_RATES]).is_ok());
    }

    #[test]
    fn losses_are_maximal_runs_of_decrease() {
        assert_eq!(losses(&[1.0, 2.0, 3.0]), vec![]);
        assert_eq!(
            losses(&[1.0, 3.0, 2.5, 2.0, 4.0, 3.5]),
            vec![
                Loss {
                    from: 1,
                    to: 3,
                    db: 1.0
                },
                Loss {
                    from: 4,
                    to: 5,
                    db: 0.5
                }
            ]
        );
        // Equal values are no loss.
        assert_eq!(losses(&[2.0, 2.0, 2.0]), vec![]);
    }

    fn report(net: Vec<f64>, firenet: Vec<f64>) -> SweepReport {
        let rates = vec![0.05, 0.125, 0.25, 0.5];
        let n = rates.len();
        SweepReport {
            sampled: rates
                .iter()
                .map(|&rate| {
                    MaskSpec {
                        pattern: Pattern::Cartesian,
                        rate,
                        seed: 1,
                    }
                    .mask(64)
                    .unwrap()
                    .rate()
                })
                .collect(),
            rates,
            psnr_zero_filled: vec![10.0; n],
            psnr_firenet: firenet,
            nets: vec![SweepNet {
                name: "n".into(),
                training_rate: 0.125,
                psnr: net,
            }],
            slices: 18,
            side: 64,
            split: Split::Interleaved,
            mask: MaskSpec {
                pattern: Pattern::Cartesian,
                rate: 0.125,
                seed: 1,
            },
            command: String::new(),
        }
    }

    #[test]
    fn findings_read_the_curves() {
        let r = report(vec![20.0, 26.0, 25.0, 27.0], vec![15.0, 17.0, 20.0, 30.0]);
        let f = &r.findings().unwrap()[0];
        assert_eq!(f.trained, 1);
        assert!(f.trained_exact);
        assert!((f.trained_share - 0.125).abs() < 1e-12);
        assert_eq!(
            f.losses,
            vec![Loss {
                from: 1,
                to: 2,
                db: 1.0
            }]
        );
        assert_eq!(f.firenet_better, vec![3]);
        assert!((f.gain - 1.0).abs() < 1e-12);
        assert!((f.gain_firenet - 13.0).abs() < 1e-12);
    }

    #[test]
    fn differences_compare_the_common_rates_and_networks() {
        let a = report(vec![20.0, 26.0, 25.0, 27.0], vec![15.0, 17.0, 20.0, 30.0]);
        assert_eq!(a.max_difference(&a), (0.0, 12));
        let mut b = a.clone();
        b.rates.remove(0);
        b.sampled.remove(0);
        b.psnr_zero_filled.remove(0);
        b.psnr_firenet.remove(0);
        b.nets[0].psnr.remove(0);
        b.nets[0].psnr[2] += 0.25;
        let (d, count) = a.max_difference(&b);
        assert!((d - 0.25).abs() < 1e-12);
        assert_eq!(count, 9);
        b.nets[0].name = "other".into();
        assert_eq!(a.max_difference(&b).1, 6);
    }
}
