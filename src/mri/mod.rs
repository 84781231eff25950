//! The inverse-problems half of the lectures (Days II–III): MRI from subsampled Fourier data, the
//! provably stable FIRENET, and the tests that expose learned reconstructions.
//!
//! Operators and the stable method:
//! - [`fourier`]: the unitary 2-D DFT of square images (rustfft);
//! - [`sampling`]: nested sampling patterns Ω for `y = P_Ω F x`;
//! - [`wavelet`]: orthogonal periodic 2-D wavelets (Haar, db2, db4, sym4), the sparsifying `W`;
//! - [`operator`]: `A = P_Ω F` and `B = A W⁻¹` behind the `LinearOperator` trait;
//! - [`firenet`]: FIRENET (Colbrook, Antun & Hansen, PNAS 2022): the stable unrolled network with restarts;
//! - [`reconstructor`]: the `Reconstructor` trait (`Ψ(y)` and its vector–Jacobian product);
//! - [`reconstruction`]: one experiment as the MRI page runs it: measurements, zero-filling, FIRENET, quality;
//! - [`metrics`]: PSNR, relative ℓ² error and SSIM;
//! - [`brain`]: MNI ICBM152 template slices: the compact format and the train / held-out split;
//! - [`phantom`]: Shepp–Logan and seeded random ellipses;
//! - [`upload`]: users' pictures turned into working images;
//! - [`instability`]: the worst-case perturbation search of Antun et al. (PNAS 2020);
//! - [`kernel`]: the troublesome kernel: details projected onto `N(A)`, the error lower bound;
//! - [`details`]: "Can u see it?": how much of a small detail a method recovers;
//! - [`state`]: each demo's URL state (reconstruction, hallucinations, kernel, details, sweep, trade-off), one table of settings per demo;
//!
//! [`learned`]: the trained reconstruction networks and the experiments run on them.

pub mod brain;
pub mod details;
pub mod firenet;
pub mod fourier;
pub mod instability;
pub mod kernel;
pub mod learned;
pub mod metrics;
pub mod operator;
pub mod phantom;
pub mod reconstruction;
pub mod reconstructor;
pub mod sampling;
pub mod state;
pub mod upload;
pub mod wavelet;
