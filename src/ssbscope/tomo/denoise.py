"""Denoising of a reconstructed volume before segmentation, slab by slab.

Methods (YAML ``analysis.tomo.denoise.method``):

``none``
    The grey values as reconstructed.
``median``
    3x3x3 median (:func:`ssbscope.tomo.filters.median3`; the series analysis' default).
``tv``
    Total-variation denoising (Chambolle, :func:`skimage.restoration.denoise_tv_chambolle`)
    with weight ``weight_sigma x sigma``, ``sigma`` the noise estimated from the data
    (:func:`skimage.restoration.estimate_sigma`, wavelet MAD).
``tv2d``
    The same, slice by slice in (y, x) (no halo along z, the memory of one slice; the
    default for the interiors of the pure-phase levels, :mod:`ssbscope.tomo.levels`), with
    an own kernel (:func:`tv_chambolle_2d`) equal to scikit-image's bit for bit.
``nlm``
    Non-local means (:func:`skimage.restoration.denoise_nl_means`, ``fast_mode``) with
    ``h = h_sigma x sigma`` and the same ``sigma``.

Speed (``benchmarks/bench_tv2d.py``): :func:`tv_chambolle_2d` runs Chambolle's iteration of
:func:`skimage.restoration.denoise_tv_chambolle` (same float32 arithmetic in the same order,
same stopping rule) in one sweep per iteration instead of about fifteen NumPy passes, and
the noise of a block is estimated from the finest diagonal wavelet sub-band alone
(:func:`estimate_noise_sigma`, equal to :func:`skimage.restoration.estimate_sigma`): an
8 x 1024 x 1024 block of ``tv2d`` costs 2.4-3.2x less CPU time (3.5-4.4 -> 1.2-1.4 CPU-s, the
same labels).

``tv`` and ``nlm`` run on a fixed grid of z-blocks of ``block_slices`` slices, each read with
a halo of :func:`halo_slices` slices (edges replicated) and ``sigma`` estimated per block, so
the result is the same whichever memory slabs a caller cuts the volume into
(:func:`denoise_rows`): the in-memory and the chunked series analyses agree bit for bit.
The noise estimate assumes white noise; FBP noise is correlated (ramp-filtered), so
``estimate_sigma`` reads it low and the ``*_sigma`` factors absorb that.

Through the chain on the demo's anode-free series (``ssbscope demo``, 40 x 40 x 56 voxels,
90 projections; pore + crack volume / truth at the 5 scans, with the pure-phase levels of
:mod:`ssbscope.tomo.levels` (interiors from the segmentation's labels; tv on blocks of 32
slices with a halo of 8): median 0.58 / 0.66 / 0.79 / 0.75 / 0.78; tv (weight 0.5 sigma)
0.79 / 0.82 / 0.87 / 0.87 / 0.87; tv 1.0: 0.58 / 0.67 / 0.80 / 0.78 / 0.80; tv 1.5: 0.58 /
0.57 / 0.70 / 0.68 / 0.68; nlm (h 0.6 sigma) 0.73 / 0.78 / 0.87 / 0.85 / 0.85.  TV and NLM
segment more of the small pores, so the matrix interior is purer; but the plated Li thickness
(heights on the filtered values) reads 7.21 / 11.29 / 6.81 / 15.58 um with tv 0.5 against
6.47 / 11.29 / 6.43 / 15.58 with the median (truth 5.76 / 11.23 / 5.76 / 15.69), so the
median stays the default for segmentation, and ``tv2d`` defines only the interiors of the
pure-phase levels (:data:`ssbscope.tomo.levels.DEFAULT_LEVEL_DENOISE`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numba
import numpy as np

from ssbscope.errors import ParameterError

__all__ = ["METHODS", "DenoiseSettings", "as_settings", "halo_slices", "denoise_rows",
           "denoise_volume", "tv_chambolle_2d", "estimate_noise_sigma"]

METHODS = ("none", "median", "tv", "tv2d", "nlm")


@dataclass(frozen=True)
class DenoiseSettings:
    """How a volume is denoised (see the module docstring).

    Attributes
    ----------
    method : {"none", "median", "tv", "tv2d", "nlm"}
    weight_sigma : float
        ``tv``/``tv2d``: weight in units of the estimated noise sigma.
    h_sigma : float
        ``nlm``: filter strength ``h`` in units of the estimated noise sigma.
    patch_size, patch_distance : int
        ``nlm``: patch side and search radius (voxels).
    block_slices : int
        ``tv``/``tv2d``/``nlm``: z-block size of the fixed block grid (``tv2d``: the blocks
        only share a noise estimate).
    """

    method: str = "median"
    weight_sigma: float = 0.5
    h_sigma: float = 0.6
    patch_size: int = 3
    patch_distance: int = 3
    block_slices: int = 8

    def __post_init__(self):
        if self.method not in METHODS:
            raise ParameterError("method", self.method, f"must be one of {list(METHODS)}")
        for f in ("weight_sigma", "h_sigma"):
            v = getattr(self, f)
            if not (v > 0 and math.isfinite(v)):
                raise ParameterError(f, v, "must be a positive number")
        if self.patch_size < 1 or self.patch_distance < 1 or self.block_slices < 4:
            raise ParameterError("patch_size/patch_distance/block_slices",
                                 (self.patch_size, self.patch_distance, self.block_slices),
                                 "must be >= 1, >= 1, >= 4")


def as_settings(denoise=None, median: bool = True) -> DenoiseSettings:
    """Settings from a mapping / pydantic model / :class:`DenoiseSettings`; None: the
    3x3x3 median when ``median`` else none (the analysis' ``median`` switch)."""
    if denoise is None:
        return DenoiseSettings("median" if median else "none")
    if isinstance(denoise, DenoiseSettings):
        return denoise
    if hasattr(denoise, "model_dump"):
        denoise = denoise.model_dump()
    if isinstance(denoise, str):
        return DenoiseSettings(denoise)
    return DenoiseSettings(**dict(denoise))


def halo_slices(settings: DenoiseSettings) -> int:
    """Slices read beyond a block (``tv``: 4; ``nlm``: patch radius + search distance + 2)."""
    if settings.method == "tv":
        return 4
    if settings.method == "nlm":
        return settings.patch_size // 2 + settings.patch_distance + 2
    if settings.method == "median":
        return 1
    return 0  # none, tv2d


def estimate_noise_sigma(v) -> float:
    """Noise standard deviation of ``v`` from its finest diagonal wavelet sub-band.

    Equal to ``skimage.restoration.estimate_sigma(v.astype(np.float64), channel_axis=None)``
    (Donoho & Johnstone's median absolute deviation of the ``'d' * ndim`` sub-band of a
    one-level ``db2`` transform, zero coefficients left out), but the one-level transform
    keeps only the detail half along each axis (what ``pywt.dwtn`` computes for that
    sub-band, in the same order), about a third of the work.

    Parameters
    ----------
    v : ndarray
        Grey values, any number of dimensions.

    Returns
    -------
    float
        sigma (units of ``v``).
    """
    import pywt
    from scipy.stats import norm

    x = np.asarray(v, np.float64)
    for ax in range(x.ndim):
        x = pywt.dwt(x, "db2", axis=ax)[1]
    x = x[np.nonzero(x)]
    if x.size == 0:
        return 0.0
    return float(np.median(np.abs(x)) / norm.ppf(0.75))


def _sigma(v) -> float:
    s = estimate_noise_sigma(v)
    return s if s > 0 and math.isfinite(s) else float(np.std(v)) or 1.0


# ------------------------------------------------------------------ Chambolle's TV, 2-D kernel
# skimage.restoration._denoise._denoise_tv_chambolle_nd for ndim = 2 in float32, row by row:
# the divergence of p gives the row of ``out`` (one iteration ahead of the p update, which
# needs the next row of ``out``), then p is updated; every float32 operation is the one NumPy
# does, in the same order, so the result is the same bit for bit.  The energies of the
# stopping rule are summed in float64 (NumPy sums them in float32, pairwise): the rule
# |E_prev - E| < eps E_0 could in principle stop one iteration apart (not seen on the
# benchmark's slices).

@numba.njit(cache=True, nogil=True, fastmath={"reassoc", "nsz"})
def _sum_sq64(x):
    s = 0.0
    for j in range(x.size):
        s += np.float64(x[j]) * np.float64(x[j])
    return s


@numba.njit(cache=True, nogil=True, fastmath={"reassoc", "nsz"})
def _sum64(x):
    s = 0.0
    for j in range(x.size):
        s += np.float64(x[j])
    return s


@numba.njit(cache=True, nogil=True)
def _tv_out_row(i, img, p0, p1, out, drow):
    # out[i] = img[i] + d[i], d = -div p (skimage: d = -(p0 + p1); d[1:] += p0[:-1];
    # d[:, 1:] += p1[:, :-1]); returns sum(d^2) of the row
    nx = img.shape[1]
    a0 = p0[i]
    a1 = p1[i]
    if i > 0:
        b0 = p0[i - 1]
        drow[0] = -(a0[0] + a1[0]) + b0[0]
        for j in range(1, nx):
            drow[j] = (-(a0[j] + a1[j]) + b0[j]) + a1[j - 1]
    else:
        drow[0] = -(a0[0] + a1[0])
        for j in range(1, nx):
            drow[j] = -(a0[j] + a1[j]) + a1[j - 1]
    o = out[i]
    im = img[i]
    for j in range(nx):
        o[j] = im[j] + drow[j]
    return _sum_sq64(drow)


@numba.njit(cache=True, nogil=True)
def _tv_p_row(i, out, p0, p1, g0, g1, nrow, tau, c, one):
    # g = forward differences of out (0 at the last row / column), |g|, p = (p - tau g) /
    # (1 + tau / weight |g|); returns sum |g| of the row
    ny, nx = out.shape
    o = out[i]
    if i < ny - 1:
        on = out[i + 1]
        for j in range(nx):
            g0[j] = on[j] - o[j]
    else:
        g0[:] = 0
    for j in range(nx - 1):
        g1[j] = o[j + 1] - o[j]
    g1[nx - 1] = 0
    for j in range(nx):
        nrow[j] = np.sqrt(g0[j] * g0[j] + g1[j] * g1[j])
    s = _sum64(nrow)
    a0 = p0[i]
    a1 = p1[i]
    for j in range(nx):
        nr = nrow[j] * c + one
        a0[j] = (a0[j] - tau * g0[j]) / nr
        a1[j] = (a1[j] - tau * g1[j]) / nr
    return s


@numba.njit(cache=True, nogil=True)
def _tv2d_slice(img, out, weight, eps, max_num_iter):
    ny, nx = img.shape
    p0 = np.zeros((ny, nx), np.float32)
    p1 = np.zeros((ny, nx), np.float32)
    out[:, :] = img
    drow = np.empty(nx, np.float32)
    nrow = np.empty(nx, np.float32)
    g0 = np.empty(nx, np.float32)
    g1 = np.empty(nx, np.float32)
    tau = np.float32(0.25)
    c = np.float32(0.25 / weight)
    one = np.float32(1.0)
    e_init = 0.0
    e_prev = 0.0
    for it in range(max_num_iter):
        e = 0.0
        en = 0.0
        if it > 0:
            e += _tv_out_row(0, img, p0, p1, out, drow)
        for i in range(ny):
            if it > 0 and i + 1 < ny:
                e += _tv_out_row(i + 1, img, p0, p1, out, drow)
            en += _tv_p_row(i, out, p0, p1, g0, g1, nrow, tau, c, one)
        e = (e + weight * en) / (ny * nx)
        if it == 0:
            e_init = e
            e_prev = e
        elif abs(e_prev - e) < eps * e_init:
            return it + 1
        else:
            e_prev = e
    return max_num_iter


@numba.njit(cache=True, nogil=True)
def _tv2d_stack(img, weight, eps, max_num_iter):
    # serial: the callers run blocks as Dask tasks on threads (the GIL released) or workers;
    # numba threads inside them only oversubscribed the cores (under load a prange over 8
    # slices took 20x its CPU time in wall time, waiting for a descheduled thread)
    out = np.empty_like(img)
    n_it = np.zeros(img.shape[0], np.int64)
    for k in range(img.shape[0]):
        n_it[k] = _tv2d_slice(img[k], out[k], weight, eps, max_num_iter)
    return out, n_it


def tv_chambolle_2d(image, weight: float, eps: float = 2.0e-4,
                    max_num_iter: int = 200) -> np.ndarray:
    """Total-variation denoising (Chambolle) of each 2-D slice, equal to scikit-image's.

    ``out[k] == skimage.restoration.denoise_tv_chambolle(image[k], weight, eps,
    max_num_iter)`` for float32 slices, bit for bit (the same float32 operations in the same
    order; see ``benchmarks/bench_tv2d.py``), in one sweep over the slice per iteration
    instead of about fifteen array passes; the slices one after the other, the GIL released
    (a caller's threads run blocks in parallel).

    Parameters
    ----------
    image : (Y, X) or (Z, Y, X) array_like
        Grey values (cast to float32).
    weight : float
        Denoising weight (> 0; skimage's ``weight``, units of ``image``).
    eps : float, default 2e-4
        Stop when the energy changes by less than ``eps`` times the first one.
    max_num_iter : int, default 200

    Returns
    -------
    ndarray of float32, the shape of ``image``
    """
    a = np.ascontiguousarray(image, np.float32)
    if a.ndim not in (2, 3) or min(a.shape[-2:], default=0) < 1:
        from ssbscope.errors import InputError

        raise InputError(f"tv_chambolle_2d: expected a (y, x) or (z, y, x) array, got shape "
                         f"{a.shape}")
    if not (weight > 0 and math.isfinite(weight)):
        raise ParameterError("weight", weight, "must be a positive number")
    out, _ = _tv2d_stack(a.reshape((-1,) + a.shape[-2:]), float(weight), float(eps),
                         int(max_num_iter))
    return out.reshape(a.shape)


def _block(src, z0, z1, st: DenoiseSettings):
    """Denoised rows ``[z0, z1)`` of one block (global indices), from the block plus halo."""
    nz = src.shape[0]
    h = halo_slices(st)
    a, b = max(0, z0 - h), min(nz, z1 + h)
    d = np.asarray(src[a:b], np.float32)
    if h:
        d = np.pad(d, ((h - (z0 - a), h - (b - z1)), (0, 0), (0, 0)), mode="edge")
    sig = _sigma(d[h:h + (z1 - z0)])
    if st.method == "tv":
        from skimage.restoration import denoise_tv_chambolle

        out = denoise_tv_chambolle(d, weight=st.weight_sigma * sig, channel_axis=None)
    elif st.method == "tv2d":
        out = tv_chambolle_2d(d, st.weight_sigma * sig)
    else:
        from skimage.restoration import denoise_nl_means

        out = denoise_nl_means(d, h=st.h_sigma * sig, sigma=sig, patch_size=st.patch_size,
                               patch_distance=st.patch_distance, fast_mode=True,
                               channel_axis=None)
    return np.asarray(out[h:h + (z1 - z0)], np.float32)


def denoise_rows(src, z0: int, z1: int, settings=None) -> np.ndarray:
    """Rows ``[z0, z1)`` of :func:`denoise_volume` of ``src``, reading only the blocks (and
    halos) they need.

    Parameters
    ----------
    src : (Z, Y, X) array sliced along z (NumPy, Zarr)
    z0, z1 : int
    settings : DenoiseSettings or mapping, optional

    Returns
    -------
    (z1 - z0, Y, X) ndarray of float32
    """
    from ssbscope.tomo.filters import median3

    st = as_settings(settings)
    nz = src.shape[0]
    z0, z1 = max(0, int(z0)), min(nz, int(z1))
    if st.method == "none":
        return np.asarray(src[z0:z1], np.float32)
    if st.method == "median":
        a, b = max(0, z0 - 1), min(nz, z1 + 1)
        d = np.asarray(src[a:b], np.float32)
        d = np.pad(d, ((1 - (z0 - a), 1 - (b - z1)), (1, 1), (1, 1)), mode="edge")
        return median3(d)[1:-1, 1:-1, 1:-1]
    bs = st.block_slices
    out = []
    for k in range(z0 // bs, -(-z1 // bs)):
        a, b = k * bs, min(nz, (k + 1) * bs)
        blk = _block(src, a, b, st)
        out.append(blk[max(z0, a) - a:min(z1, b) - a])
    return np.concatenate(out, axis=0)


def denoise_volume(volume, method: str = "median", **params) -> np.ndarray:
    """Denoise a reconstructed volume before segmentation.

    Parameters
    ----------
    volume : (Z, Y, X) array_like
        Grey values (finite).
    method : {"none", "median", "tv", "tv2d", "nlm"}
    **params
        ``weight_sigma``, ``h_sigma``, ``patch_size``, ``patch_distance``, ``block_slices``
        (:class:`DenoiseSettings`).

    Returns
    -------
    (Z, Y, X) ndarray of float32
        ``median`` equals :func:`ssbscope.tomo.filters.median3` of the volume; ``tv``/``nlm``
        are computed on the fixed z-block grid (see the module docstring).
    """
    from ssbscope.tomo.filters import check_finite, median3

    v = np.asarray(volume, np.float32)
    if v.ndim != 3:
        from ssbscope.errors import InputError

        raise InputError(f"volume: expected (z, y, x), got shape {v.shape}")
    check_finite(v)
    st = DenoiseSettings(method, **params)
    if st.method == "none":
        return v
    if st.method == "median":
        return median3(v)
    return denoise_rows(v, 0, v.shape[0], st)
