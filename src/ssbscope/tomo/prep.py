"""Projection preparation: flat/dark correction, -log, zinger removal, ring (stripe) removal.

Projections are ``(n_angles, n_rows, n_detector)`` (a sinogram is ``proj[:, row, :]``); every
function returns a new array and leaves its input untouched.
"""

from __future__ import annotations

import logging

import numpy as np

from ssbscope.errors import DataQualityError, InputError, ParameterError

__all__ = ["flat_dark_correct", "remove_zingers", "remove_rings", "minus_log"]

log = logging.getLogger(__name__)


def _as_float_stack(a, name):
    arr = np.asarray(a)
    if not np.issubdtype(arr.dtype, np.number) or np.iscomplexobj(arr):
        raise InputError(f"{name}: dtype {arr.dtype} is not a real number type")
    return arr


def _mean_field(frames, name, shape):
    f = _as_float_stack(frames, name).astype(np.float64)
    if f.ndim == 2:
        f = f[None]
    if f.ndim != 3 or f.shape[1:] != shape:
        raise InputError(f"{name}: frame shape {f.shape[1:] if f.ndim == 3 else f.shape} does "
                         f"not match the projections' (n_rows, n_detector) = {shape}; pass "
                         "flats/darks from the same detector region and binning")
    if f.shape[0] == 0:
        raise InputError(f"{name}: no frames; a flat/dark correction needs at least one")
    if not np.all(np.isfinite(f)):
        raise DataQualityError(f"{name}: contains NaN/inf; remove the broken frames")
    # median over frames is robust to zingers in individual flats
    return np.median(f, axis=0) if f.shape[0] > 2 else f.mean(axis=0)


def flat_dark_correct(projections, flats, darks, *, log_transform: bool = True,
                      min_transmission: float = 1e-6, bad_pixels: str = "raise"):
    """Normalise projections by flat (white) and dark fields, optionally taking -ln.

    ``T = (P - D) / (F - D)`` with ``F`` and ``D`` the per-pixel median of the flat and dark
    frames (the standard Beer-Lambert normalisation; with ``log_transform`` the result is the
    line integral ``-ln T``).

    Parameters
    ----------
    projections : (n_angles, n_rows, n_detector) array
        Raw counts.  A 2-D ``(n_angles, n_detector)`` sinogram is accepted too.
    flats, darks : (n_frames, n_rows, n_detector) or (n_rows, n_detector) arrays
        Flat and dark frames (same detector region).
    log_transform : bool
        Return ``-ln(T)`` (line integrals) instead of the transmission ``T``.
    min_transmission : float
        Transmissions are clipped below at this value before the log (photon starvation or
        negative counts after dark subtraction), and the number of clipped values is logged.
    bad_pixels : {"raise", "mask"}
        What to do with pixels where ``F - D <= 0`` (dead pixels, swapped flats/darks):
        ``"raise"`` gives a DataQualityError naming them; ``"mask"`` sets their corrected value
        to the mean of the valid neighbours in the same row (and logs how many).

    Returns
    -------
    ndarray of float32
        Same shape as ``projections``.

    Raises
    ------
    InputError
        Shape mismatch between projections and flats/darks.
    DataQualityError
        NaN/inf in the input, or ``F - D <= 0`` with ``bad_pixels="raise"``.
    """
    p = _as_float_stack(projections, "projections")
    squeeze = False
    if p.ndim == 2:
        p = p[:, None, :]
        squeeze = True
    if p.ndim != 3:
        raise InputError(f"projections: expected (n_angles, n_rows, n_detector), got shape "
                         f"{p.shape}")
    shape = p.shape[1:]
    fl = np.asarray(flats)
    dk = np.asarray(darks)
    if squeeze:
        fl = fl[..., None, :] if fl.ndim in (1, 2) else fl
        dk = dk[..., None, :] if dk.ndim in (1, 2) else dk
    F = _mean_field(fl, "flats", shape)
    D = _mean_field(dk, "darks", shape)
    if bad_pixels not in ("raise", "mask"):
        raise ParameterError("bad_pixels", bad_pixels, "must be 'raise' or 'mask'")
    if not (0 < min_transmission < 1):
        raise ParameterError("min_transmission", min_transmission, "must be within (0, 1)")
    denom = F - D
    bad = ~(denom > 0)
    if bad.any():
        rows, cols = np.nonzero(bad)
        msg = (f"flats - darks <= 0 at {int(bad.sum())} pixel(s) (first at row {rows[0]}, "
               f"column {cols[0]}); check that flats and darks are not swapped")
        if bad_pixels == "raise":
            raise DataQualityError(msg + ", or pass bad_pixels='mask' to interpolate them")
        log.warning("%s; masking them", msg)
    if not np.all(np.isfinite(p)):
        n = int((~np.isfinite(p)).sum())
        raise DataQualityError(f"projections: {n} non-finite value(s) (NaN/inf); fix or drop "
                               "those frames")
    safe = np.where(bad, 1.0, denom)
    t = (p.astype(np.float64) - D) / safe
    if bad.any():
        t = _fill_bad_columns(t, bad)
    low = t < min_transmission
    if low.any():
        log.info("clipping %d transmission value(s) below %g", int(low.sum()), min_transmission)
        t = np.maximum(t, min_transmission)
    out = -np.log(t) if log_transform else t
    out = out.astype(np.float32)
    return out[:, 0, :] if squeeze else out


def _fill_bad_columns(t, bad):
    """Replace masked pixels by linear interpolation along the detector row."""
    out = t.copy()
    n_d = t.shape[2]
    x = np.arange(n_d)
    for r in np.unique(np.nonzero(bad)[0]):
        good = ~bad[r]
        if not good.any():
            raise DataQualityError(f"flats - darks <= 0 on the whole detector row {r}; the "
                                   "flat/dark frames are unusable")
        for a in range(t.shape[0]):
            out[a, r, ~good] = np.interp(x[~good], x[good], t[a, r, good])
    return out


def minus_log(transmission, min_transmission: float = 1e-6):
    """``-ln(T)`` with ``T`` clipped below at ``min_transmission`` (returns float32)."""
    t = np.asarray(transmission, dtype=np.float64)
    if not np.all(np.isfinite(t)):
        raise DataQualityError("transmission: contains NaN/inf")
    return (-np.log(np.maximum(t, min_transmission))).astype(np.float32)


def remove_zingers(projections, *, threshold: float = 0.1, size: int = 3):
    """Replace isolated bright/dark outliers (zingers) by the local median.

    A pixel is a zinger when it differs from the median of its ``size x size`` neighbourhood
    (in the detector plane of the same projection) by more than ``threshold`` (absolute, in
    the input's units, e.g. 0.1 of line integral or transmission).

    Parameters
    ----------
    projections : (n_angles, n_rows, n_detector) or (n_angles, n_detector) array
        Projections or one sinogram (for a sinogram the neighbourhood spans angles).
    threshold : float
        Deviation from the local median that marks a zinger (> 0).
    size : int
        Odd median window (3 or 5).

    Returns
    -------
    ndarray of float32
        Copy with zingers replaced.
    """
    from scipy.ndimage import median_filter

    a = _as_float_stack(projections, "projections").astype(np.float32)
    if a.ndim not in (2, 3):
        raise InputError(f"projections: expected 2-D or 3-D, got shape {a.shape}")
    if not threshold > 0:
        raise ParameterError("threshold", threshold, "must be > 0")
    if size < 3 or size % 2 == 0:
        raise ParameterError("size", size, "must be an odd integer >= 3")
    if not np.all(np.isfinite(a)):
        raise DataQualityError("projections: contains NaN/inf; zinger removal needs finite data")
    footprint = (1, size, size) if a.ndim == 3 else (size, size)
    med = median_filter(a, size=footprint, mode="nearest")
    z = np.abs(a - med) > threshold
    out = np.where(z, med, a).astype(np.float32)
    log.info("replaced %d zinger pixel(s)", int(z.sum()))
    return out


def remove_rings(sinogram, *, method: str = "sorting", size: int = 21, sigma: float = 3.0):
    """Remove stripes from a sinogram (they become rings in the reconstruction).

    Detector pixels with a gain error add a constant (or slowly varying) offset to one
    column of the -log sinogram.  Two methods:

    * ``"sorting"`` (Vo, Atwood & Drakopoulos, Opt. Express 26, 28396 (2018), algorithm 3):
      sort each column along the angle axis, median-filter the sorted image across columns
      (window ``size``), and undo the sort; the correction (sorted minus filtered) is
      high-passed across columns (Gaussian of width ``size / 2``) before it is subtracted, so
      smooth content and the mean are not biased.  Removes partial and full stripes.
    * ``"mean"`` (the low-pass idea of Münch et al., Opt. Express 17, 8567 (2009), applied to
      the column means instead of wavelet bands): the mean of each column over all angles is
      split into its smooth part (Gaussian of width ``sigma`` px across columns) and the
      residual, which is the stripe offset; the residual is subtracted from the column.
      Full stripes only; keeps each row's mean (the residual sums to ~0).

    Parameters
    ----------
    sinogram : (n_angles, n_detector) or (n_angles, n_rows, n_detector) array
        -log sinogram(s).  For 3-D input each row's sinogram is processed.
    method : {"sorting", "mean"}
    size : int
        Median window across detector columns for ``"sorting"`` (odd, >= 3).
    sigma : float
        Smoothing width (px) across columns for ``"mean"``.

    Returns
    -------
    ndarray of float32
        Same shape, stripes removed.
    """
    a = _as_float_stack(sinogram, "sinogram").astype(np.float32)
    if a.ndim == 3:
        return np.stack([remove_rings(a[:, r, :], method=method, size=size, sigma=sigma)
                         for r in range(a.shape[1])], axis=1)
    if a.ndim != 2:
        raise InputError(f"sinogram: expected (n_angles, n_detector), got shape {a.shape}")
    if not np.all(np.isfinite(a)):
        raise DataQualityError("sinogram: contains NaN/inf; ring removal needs finite data")
    if method == "sorting":
        from scipy.ndimage import gaussian_filter1d, median_filter

        if size < 3 or size % 2 == 0:
            raise ParameterError("size", size, "must be an odd integer >= 3")
        idx = np.argsort(a, axis=0, kind="stable")
        sorted_ = np.take_along_axis(a, idx, axis=0)
        smooth = median_filter(sorted_, size=(1, size), mode="reflect")
        corr = np.empty_like(a)
        np.put_along_axis(corr, idx, sorted_ - smooth, axis=0)
        # keep only the stripe-like (high spatial frequency across columns) part of the
        # correction, so that the low-frequency content (and the mean) is not biased
        corr = corr - gaussian_filter1d(corr, size / 2.0, axis=1, mode="reflect")
        return (a - corr).astype(np.float32)
    if method == "mean":
        from scipy.ndimage import gaussian_filter1d

        if not sigma > 0:
            raise ParameterError("sigma", sigma, "must be > 0")
        prof = a.mean(axis=0, dtype=np.float64)
        stripe = prof - gaussian_filter1d(prof, sigma, mode="reflect")
        return (a - stripe[None, :]).astype(np.float32)
    raise ParameterError("method", method, "must be 'sorting' or 'mean'")
