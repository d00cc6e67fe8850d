"""Saturated-pixel and gamma-spot removal on neutron radiograph stacks.

The processing chain of 002_3ee4edf529433f9c (Methods, "Normalization of the Transmission
Neutron Radiographs") removes saturated pixels and gamma spots before the open-beam
normalisation (Eq. 1).  Gamma rays hitting the sCMOS camera leave bright spots of one to a
few pixels that are uncorrelated from frame to frame, while the cell changes slowly (minutes)
compared with the 10 s frame interval.  :func:`remove_gamma_spots` therefore compares every
pixel with the same pixel in its neighbouring frames (temporal median, after scaling each frame
by its robust level so beam-intensity fluctuations do not count as outliers); only pixels above
``threshold_sigma`` counting-noise standard deviations are replaced, so spot-free pixels are
left untouched.  A single frame falls back to a spatial 3 × 3 median reference.
"""

from __future__ import annotations

import logging

import numpy as np

from ssbscope.errors import DataQualityError, ParameterError
from ssbscope.neutron._checks import as_stack, choice, is_dask, positive_int

__all__ = ["remove_saturated_pixels", "remove_gamma_spots", "noise_scale"]

log = logging.getLogger(__name__)


def _out_dtype(dtype):
    return np.float64 if dtype == np.float64 else np.float32


def _fill_from_neighbours(frame: np.ndarray, bad: np.ndarray, frame_index: int) -> np.ndarray:
    """Replace ``bad`` pixels by the median of the good pixels around them (growing window)."""
    out = frame.copy()
    ys, xs = np.nonzero(bad)
    radius = 1
    pending = np.ones(ys.size, dtype=bool)
    ny, nx = frame.shape
    while pending.any():
        if radius > max(ny, nx):
            raise DataQualityError(f"frame {frame_index}: saturated pixels have no unsaturated "
                                   "neighbour to fill from; drop the frame")
        py, px = ys[pending], xs[pending]
        offs = np.arange(-radius, radius + 1)
        yy = py[:, None] + np.repeat(offs, offs.size)[None]
        xx = px[:, None] + np.tile(offs, offs.size)[None]
        inside = (yy >= 0) & (yy < ny) & (xx >= 0) & (xx < nx)
        yc, xc = np.clip(yy, 0, ny - 1), np.clip(xx, 0, nx - 1)
        vals = frame[yc, xc].astype(np.float64)
        vals[~inside | bad[yc, xc]] = np.nan
        ok = np.isfinite(vals).any(axis=1)
        if ok.any():
            med = np.nanmedian(vals[ok], axis=1)
            idx = np.nonzero(pending)[0][ok]
            out[ys[idx], xs[idx]] = med
            pending[idx] = False
        radius *= 2
    return out


def remove_saturated_pixels(images, *, saturation_level: float | None = None,
                            max_saturated_fraction: float = 0.5, return_mask: bool = False):
    """Replace saturated pixels by the median of their unsaturated neighbours.

    First step of the chain of 002_3ee4edf529433f9c (Methods): pixels at the camera's full
    well are not measurements and are filled from the surrounding unsaturated pixels (3 × 3,
    widened until one is found).

    Parameters
    ----------
    images : (t, y, x) or (y, x) ndarray
        Raw frames (ADU).
    saturation_level : float, optional
        Pixels ``>= saturation_level`` are saturated.  Default: the maximum of an integer
        dtype (65535 for uint16); required for float input.
    max_saturated_fraction : float
        A frame with a larger saturated fraction is refused (DataQualityError naming the frame):
        it carries no usable image.
    return_mask : bool
        Also return the (t, y, x) boolean mask of replaced pixels.

    Returns
    -------
    ndarray (float32, float64 for float64 input), same shape; and the mask if asked.

    Raises
    ------
    DataQualityError
        A frame is (almost) fully saturated.
    """
    arr, was2d = as_stack(images)
    if is_dask(arr):
        arr = np.asarray(arr)
    if saturation_level is None:
        if not np.issubdtype(arr.dtype, np.integer):
            raise ParameterError("saturation_level", None, f"is needed for {arr.dtype} images",
                                 "pass the camera's full-well value in ADU (e.g. 65535)")
        saturation_level = float(np.iinfo(arr.dtype).max)
    if not 0 < max_saturated_fraction <= 1:
        raise ParameterError("max_saturated_fraction", max_saturated_fraction, "must be in (0, 1]")
    out = np.empty(arr.shape, dtype=_out_dtype(arr.dtype))
    mask = np.zeros(arr.shape, dtype=bool)
    for i in range(arr.shape[0]):
        fr = arr[i]
        bad = fr >= saturation_level
        frac = float(bad.mean())
        if frac > max_saturated_fraction:
            raise DataQualityError(f"images[{i}]: {100 * frac:.1f} % of the pixels are saturated "
                                   f"(>= {saturation_level:g}); drop this frame (or lower the exposure)")
        mask[i] = bad
        out[i] = _fill_from_neighbours(fr, bad, i) if bad.any() else fr
    out = out[0] if was2d else out
    if return_mask:
        return out, (mask[0] if was2d else mask)
    return out


def _robust_level(frame: np.ndarray) -> float:
    sub = frame[:: max(1, frame.shape[0] // 64), :: max(1, frame.shape[1] // 64)]
    return float(np.median(sub))


def noise_scale(residual: np.ndarray, reference: np.ndarray, floor: float) -> float:
    """Robust scale c of ``residual ≈ c·sqrt(reference)`` (Poisson-like noise model).

    ``c = 1.4826 · MAD(residual / sqrt(max(reference, floor)))`` on a strided subsample.
    """
    st = (slice(None, None, max(1, residual.shape[0] // 128)), slice(None, None, max(1, residual.shape[1] // 128)))
    z = residual[st] / np.sqrt(np.maximum(reference[st], floor))
    z = z[np.isfinite(z)]
    if z.size == 0:
        return 0.0
    med = np.median(z)
    return float(1.4826 * np.median(np.abs(z - med)))


def _neighbours(i: int, t: int, window: int) -> list[int]:
    cand = sorted((k for k in range(t) if k != i), key=lambda k: (abs(k - i), k))
    return sorted(cand[: 2 * window])


def _gamma_block(arr: np.ndarray, threshold_sigma: float, window: int, method: str):
    t = arr.shape[0]
    out = np.empty(arr.shape, dtype=_out_dtype(arr.dtype))
    mask = np.zeros(arr.shape, dtype=bool)
    use_temporal = method == "temporal" or (method == "auto" and t >= 3)
    if use_temporal and t < 3:
        raise ParameterError("method", method, f"'temporal' needs >= 3 frames, got {t}",
                             "use method='spatial' for single frames")
    win = min(window, (t - 1) // 2) if use_temporal else 0
    levels = np.array([_robust_level(arr[k]) for k in range(t)]) if use_temporal else None
    if use_temporal and np.any(levels <= 0):
        levels = np.where(levels <= 0, 1.0, levels)
    cache: dict[int, np.ndarray] = {}

    def scaled(k: int) -> np.ndarray:
        # frame k divided by its robust level, kept while it is inside the sliding window
        if k not in cache:
            cache[k] = arr[k].astype(np.float32) * np.float32(1.0 / levels[k])
        return cache[k]

    for i in range(t):
        fr = arr[i].astype(np.float32, copy=False)
        if use_temporal:
            nb = _neighbours(i, t, win)
            for k in [k for k in cache if k < nb[0]]:
                del cache[k]
            vals = [scaled(k) for k in nb]
            lv = np.float32(levels[i])
            if len(vals) == 2:
                ref = (vals[0] + vals[1]) * (0.5 * lv)
            elif len(vals) == 4:
                s = vals[0] + vals[1]
                s += vals[2]
                s += vals[3]
                s -= np.maximum(np.maximum(vals[0], vals[1]), np.maximum(vals[2], vals[3]))
                s -= np.minimum(np.minimum(vals[0], vals[1]), np.minimum(vals[2], vals[3]))
                s *= 0.5 * lv
                ref = s
            else:
                ref = np.median(np.stack(vals), axis=0) * lv
            floor = max(1e-2 * abs(float(levels[i])), 1e-12)
        else:
            from scipy.ndimage import median_filter

            ref = median_filter(fr, size=3, mode="nearest")
            floor = max(1e-2 * abs(_robust_level(fr)), 1e-12)
        resid = fr - ref
        c = noise_scale(resid, ref, floor)
        if c <= 0:
            out[i] = fr
            continue
        # resid > k c sqrt(max(ref, floor))  <=>  resid > 0 and resid^2 > (k c)^2 max(ref, floor)
        k2 = np.float32((threshold_sigma * c) ** 2)
        spot = resid > 0
        spot &= resid * resid > k2 * np.maximum(ref, np.float32(floor))
        mask[i] = spot
        out[i] = fr
        out[i][spot] = ref[spot]
    return out, mask


def remove_gamma_spots(images, *, threshold_sigma: float = 5.0, window: int = 2,
                       method: str = "auto", return_mask: bool = False):
    """Remove gamma spots (bright, frame-uncorrelated outliers) from radiographs.

    For a stack (``method="temporal"``, the default when t >= 3), the reference of pixel
    (i, y, x) is the median of the same pixel in the ``2·window`` nearest other frames, each
    scaled by the ratio of robust frame levels; for a single frame (``"spatial"``) it is the
    3 × 3 median.  A pixel is a spot when ``I − ref > threshold_sigma · c · sqrt(ref)``, with
    the Poisson-like noise scale ``c`` estimated robustly (MAD) per frame, so the threshold
    is in counting-noise standard deviations whatever the camera gain.  Spot pixels are
    replaced by ``ref``; all other pixels are returned unchanged.

    Parameters
    ----------
    images : (t, y, x) or (y, x) ndarray or dask array
        Raw (ADU) or normalised frames.  A dask array is processed chunk by chunk with a
        ``window``-frame overlap (``dask.array.map_overlap``), lazily.
    threshold_sigma : float
        Detection threshold in noise standard deviations (default 5: ≈ 3e-7 false
        positives per pixel for Gaussian noise).
    window : int
        Frames on each side used for the temporal reference.
    method : {"auto", "temporal", "spatial"}
    return_mask : bool
        Also return the boolean mask of replaced pixels (numpy input only).

    Returns
    -------
    ndarray (float32; float64 for float64 input), same shape; and the mask if asked.
    """
    choice("method", method, ("auto", "temporal", "spatial"))
    positive_int("window", window)
    if not np.isfinite(threshold_sigma) or threshold_sigma <= 0:
        raise ParameterError("threshold_sigma", threshold_sigma, "must be > 0")
    arr, was2d = as_stack(images)
    if is_dask(arr):
        if return_mask:
            raise ParameterError("return_mask", True, "is not available for dask input",
                                 "compute the array first or call per chunk")
        import dask.array as da

        depth = {0: window, 1: 0, 2: 0} if method != "spatial" else {0: 0, 1: 0, 2: 0}
        res = da.map_overlap(lambda b: _gamma_block(b, threshold_sigma, window, method)[0], arr,
                             depth=depth, boundary="none", dtype=_out_dtype(arr.dtype), trim=True)
        return res[0] if was2d else res
    out, mask = _gamma_block(np.asarray(arr), threshold_sigma, window, method)
    log.debug("gamma spots: %d pixels replaced in %d frames", int(mask.sum()), arr.shape[0])
    if was2d:
        out, mask = out[0], mask[0]
    return (out, mask) if return_mask else out
