"""Profiles along the stacking axis, layer boundaries, space–time maps and Li bands.

Section 2.1–2.2 of 002_3ee4edf529433f9c: the transmission profile along the stacking axis in a
region of interest locates the layers and their boundaries through its derivative; the ratio
Tr_t/Tr_0 averaged across a region and plotted as position × time (a space–time map) shows
bands of lithium enrichment (< 1) and depletion (> 1), labelled P1–P4 in the paper; after the
soft short (≈ 4.5 h) the bands at the cathode and the Li|SE interface fluctuate.

Axes: frames are (t, y, x) with rows y along the stacking axis z; a profile or a space–time
map runs along y (``position_px``: row index, pixel centres at integers).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ssbscope.errors import DataQualityError, EmptyResultError, InputError, ParameterError
from ssbscope.neutron.roi import ROI, as_roi

__all__ = [
    "profile",
    "LayerBoundaries",
    "layer_boundaries",
    "SpaceTimeMap",
    "space_time_map",
    "Band",
    "detect_bands",
    "fluctuation_onset",
    "soft_short_onset",
]


def profile(images, roi=None, *, return_sigma_from=None):
    """Mean over the columns of ``roi`` -> profile along the stacking axis (rows).

    Parameters
    ----------
    images : (y, x) or (t, y, x) ndarray or MaskedArray
    roi : ROI or (y0, y1, x0, x1), optional
        Default: the whole frame.
    return_sigma_from : ndarray, optional
        Per-pixel standard deviations (same shape as ``images``); if given, also return the
        standard deviation of the profile (``sqrt(Σ σ²) / n``, independent pixels).

    Returns
    -------
    (ny_roi,) or (t, ny_roi) ndarray [, sigma]
        Masked pixels are left out of the mean; a row with no valid pixel raises.
    """
    a = images
    shape_yx = np.shape(a)[-2:]
    r = as_roi(roi, shape_yx) if roi is not None else ROI(0, shape_yx[0], 0, shape_yx[1], "frame")
    ys, xs = r.slices
    sub = a[..., ys, xs]
    m = np.ma.getmaskarray(sub) if isinstance(sub, np.ma.MaskedArray) else None
    data = np.asarray(np.ma.getdata(sub), dtype=np.float64)
    valid = ~m if m is not None else np.ones(data.shape, dtype=bool)
    valid &= np.isfinite(data)
    n = valid.sum(axis=-1)
    if np.any(n == 0):
        raise EmptyResultError(f"roi {r.name!r}: some rows have no valid pixel; move the ROI or "
                               "unmask pixels")
    prof = np.where(valid, data, 0.0).sum(axis=-1) / n
    if return_sigma_from is None:
        return prof
    s = np.asarray(return_sigma_from, dtype=np.float64)[..., ys, xs]
    sig = np.sqrt(np.where(valid, s ** 2, 0.0).sum(axis=-1)) / n
    return prof, sig


@dataclass(frozen=True)
class LayerBoundaries:
    """Layer boundaries found on a profile.

    Attributes
    ----------
    position_px : (k,) ndarray
        Sub-pixel row coordinates of the boundaries, increasing.
    step : (k,) ndarray
        Signed derivative at the boundary (profile units per pixel): > 0 when the
        transmission rises with increasing row.
    derivative : (n,) ndarray
        The derivative of the profile (central differences).
    """

    position_px: np.ndarray
    step: np.ndarray
    derivative: np.ndarray = field(repr=False)


def layer_boundaries(prof, *, smooth_sigma_px: float = 0.0, threshold_sigma: float = 8.0,
                     min_relative_step: float = 0.04, min_separation_px: float = 1.5) -> LayerBoundaries:
    """Boundaries between layers from the derivative of a profile (002_ Fig. S3).

    The derivative (central differences, optionally after Gaussian smoothing) has an extremum
    at each boundary; extrema of either sign that exceed ``threshold_sigma`` noise units and
    ``min_relative_step`` × (profile range) are kept and refined to sub-pixel by a parabola
    through the extremum and its two neighbours.

    Parameters
    ----------
    prof : (n,) ndarray
        Profile along the stacking axis (e.g. :func:`profile` of a binned transmission frame).
    smooth_sigma_px : float
        Gaussian smoothing before differentiating (0: none).
    threshold_sigma : float
        Noise threshold; the noise is the robust (MAD) spread of the derivative.
    min_relative_step : float
        Minimum |derivative| as a fraction of the profile's range.
    min_separation_px : float
        Extrema of one sign closer than this keep only the stronger.

    Returns
    -------
    LayerBoundaries
    """
    from scipy.ndimage import gaussian_filter1d
    from scipy.signal import find_peaks

    p = np.asarray(np.ma.filled(prof, np.nan) if isinstance(prof, np.ma.MaskedArray) else prof, dtype=float)
    if p.ndim != 1 or p.size < 5:
        raise InputError(f"prof: expected a 1-D profile of >= 5 points, got shape {p.shape}")
    if not np.all(np.isfinite(p)):
        raise DataQualityError("prof: contains non-finite values; mask or crop them first")
    if smooth_sigma_px > 0:
        p = gaussian_filter1d(p, smooth_sigma_px, mode="nearest")
    d = np.gradient(p)
    med = np.median(d)
    noise = 1.4826 * np.median(np.abs(d - med))
    rng_p = float(p.max() - p.min())
    thr = max(threshold_sigma * noise, min_relative_step * rng_p, 1e-12)
    pos, steps = [], []
    for sgn in (+1, -1):
        pk, _ = find_peaks(sgn * d, height=thr, distance=max(1, int(np.ceil(min_separation_px))))
        for i in pk:
            off = 0.0
            if 0 < i < d.size - 1:
                y0, y1, y2 = sgn * d[i - 1], sgn * d[i], sgn * d[i + 1]
                den = y0 - 2 * y1 + y2
                if den < 0:
                    off = float(np.clip(0.5 * (y0 - y2) / den, -0.5, 0.5))
            pos.append(i + off)
            steps.append(d[i])
    order = np.argsort(pos)
    return LayerBoundaries(np.asarray(pos, dtype=float)[order], np.asarray(steps, dtype=float)[order], d)


@dataclass(frozen=True)
class SpaceTimeMap:
    """Tr_t/Tr_0 averaged across an ROI: position along the stacking axis × time.

    Attributes
    ----------
    ratio : (t, n) ndarray
    sigma : (t, n) ndarray
        Counting-statistics standard deviation of ``ratio``.
    time_s : (t,) ndarray
    position_px : (n,) ndarray
        Row coordinates (frame rows).
    roi : ROI
    """

    ratio: np.ndarray
    sigma: np.ndarray
    time_s: np.ndarray
    position_px: np.ndarray
    roi: ROI

    def to_xarray(self, pixel_size_um: float | None = None):
        """``xarray.Dataset`` with ``ratio`` and ``ratio_sigma`` on (time_s, position_px)."""
        import xarray as xr

        coords = {"time_s": self.time_s, "position_px": self.position_px}
        if pixel_size_um is not None:
            coords["position_um"] = ("position_px", (self.position_px + 0.5) * pixel_size_um)
        return xr.Dataset({"ratio": (("time_s", "position_px"), self.ratio),
                           "ratio_sigma": (("time_s", "position_px"), self.sigma)},
                          coords=coords, attrs={"roi": str(self.roi.to_dict())})


def space_time_map(ratio, roi, time_s, sigma=None) -> SpaceTimeMap:
    """Space–time map of Tr_t/Tr_0 over ``roi`` (002_ Fig. 2D,E).

    Parameters
    ----------
    ratio : (t, y, x) ndarray or MaskedArray
        Ratio maps (:func:`ssbscope.neutron.transmission_ratio`).
    roi : ROI or (y0, y1, x0, x1)
    time_s : (t,) ndarray
        Time of each (binned) frame.
    sigma : (t, y, x) ndarray, optional
        Ratio uncertainty; without it the noise is estimated from the frame-to-frame scatter
        (robust std of first differences / sqrt(2), per row).

    Returns
    -------
    SpaceTimeMap
    """
    from ssbscope.neutron.binning import check_times

    arr = ratio
    if np.ndim(arr) != 3:
        raise InputError(f"ratio: expected (t, y, x), got shape {np.shape(arr)}")
    t = check_times(time_s, np.shape(arr)[0])
    r = as_roi(roi, np.shape(arr)[1:])
    if sigma is not None:
        prof, sig = profile(arr, r, return_sigma_from=sigma)
    else:
        prof = profile(arr, r)
        if prof.shape[0] >= 3:
            dd = np.diff(prof, axis=0)
            s = 1.4826 * np.median(np.abs(dd - np.median(dd, axis=0)), axis=0) / np.sqrt(2)
        else:
            s = np.zeros(prof.shape[1])
        sig = np.broadcast_to(s, prof.shape).copy()
    return SpaceTimeMap(prof, sig, t, np.arange(r.y0, r.y1, dtype=float), r)


@dataclass(frozen=True)
class Band:
    """A band of lithium enrichment or depletion in a space–time map.

    Attributes
    ----------
    position_px : float
        |change|-weighted centroid row.
    rows : tuple of int
        ``(first, last + 1)`` rows.
    sign : int
        +1 enrichment (Tr_t/Tr_0 < 1), −1 depletion (> 1).
    kind : str
        "enrichment" or "depletion".
    final_ratio : float
        Mean Tr_t/Tr_0 of the band over the last frames used.
    onset_s : float
        Time of the first frame from which the band stays significant.
    onset_index : int
    series : (t,) ndarray
        Band-mean ratio versus time.
    series_sigma : (t,) ndarray
    roi : str
    """

    position_px: float
    rows: tuple
    sign: int
    kind: str
    final_ratio: float
    onset_s: float
    onset_index: int
    series: np.ndarray = field(repr=False)
    series_sigma: np.ndarray = field(repr=False)
    roi: str = ""


def detect_bands(stmap: SpaceTimeMap, *, threshold_sigma: float = 6.0, min_change: float = 0.01,
                 n_last: int = 3, persist: int = 2) -> list[Band]:
    """Find enrichment and depletion bands with their position, sign and onset.

    Rows whose mean ratio over the last ``n_last`` frames differs from 1 by more than
    ``threshold_sigma`` standard deviations and by more than ``min_change`` are grouped into
    contiguous runs of one sign.  The onset is the first frame from which the band-mean
    change stays beyond the threshold (same sign) for ``persist`` frames.

    Returns
    -------
    list of Band
        Ordered by position.  Empty if nothing changed.
    """
    if not isinstance(stmap, SpaceTimeMap):
        raise ParameterError("stmap", type(stmap).__name__, "must be a SpaceTimeMap")
    R = np.asarray(stmap.ratio, dtype=float)
    S = np.asarray(stmap.sigma, dtype=float)
    nt = R.shape[0]
    if nt < 2:
        raise InputError("stmap: needs at least 2 frames (reference + one)")
    k = max(1, min(n_last, nt - 1))
    dev = R[-k:].mean(axis=0) - 1.0
    sig = np.sqrt((S[-k:] ** 2).mean(axis=0) / k)
    sig = np.where(sig > 0, sig, np.inf if not np.any(sig > 0) else np.median(sig[sig > 0]))
    sigr = np.where(np.isfinite(sig), sig, 0.0)
    signif = (np.abs(dev) > threshold_sigma * sigr) & (np.abs(dev) > min_change)
    sgn = np.where(dev < 0, 1, -1)  # enrichment = ratio < 1
    bands: list[Band] = []
    i = 0
    n = dev.size
    while i < n:
        if not signif[i]:
            i += 1
            continue
        j = i
        while j + 1 < n and signif[j + 1] and sgn[j + 1] == sgn[i]:
            j += 1
        rows = slice(i, j + 1)
        w = np.abs(dev[rows])
        pos = float(np.sum(stmap.position_px[rows] * w) / np.sum(w))
        series = R[:, rows].mean(axis=1)
        ssig = np.sqrt((S[:, rows] ** 2).sum(axis=1)) / (j + 1 - i)
        s = int(sgn[i])
        beyond = (-s * (series - 1.0) > np.maximum(threshold_sigma * ssig, min_change))
        onset_i = nt - 1
        for q in range(nt):
            if beyond[q:q + persist].all() and q + persist <= nt:
                onset_i = q
                break
        bands.append(Band(position_px=pos, rows=(int(stmap.position_px[i]), int(stmap.position_px[j]) + 1),
                          sign=s, kind="enrichment" if s > 0 else "depletion",
                          final_ratio=float(1.0 + dev[rows].mean()), onset_s=float(stmap.time_s[onset_i]),
                          onset_index=int(onset_i), series=series, series_sigma=ssig,
                          roi=stmap.roi.name))
        i = j + 1
    return bands


def _reversal_onset(y, s, threshold_sigma, window, min_flags):
    """First frame of confirmed fluctuations at one time scale (see fluctuation_onset)."""
    if y.size < 4:
        return None
    d2 = y[:-2] - 2 * y[1:-1] + y[2:]
    sd = np.sqrt(s[:-2] ** 2 + 4 * s[1:-1] ** 2 + s[2:] ** 2)
    sd = np.where(sd > 0, sd, np.median(sd[sd > 0]) if np.any(sd > 0) else 1e-12)
    z = d2 / sd
    flag = np.abs(z) > threshold_sigma
    d1 = np.diff(y)
    s1 = np.sqrt(s[:-1] ** 2 + s[1:] ** 2)
    up = d1 > threshold_sigma * s1
    down = d1 < -threshold_sigma * s1
    for c in range(z.size):
        if not flag[c]:
            continue
        win = slice(c, min(c + window, z.size))
        zz = z[win][flag[win]]
        w1 = slice(c, min(c + window + 1, d1.size))
        if zz.size >= min_flags and np.any(zz > 0) and np.any(zz < 0) and up[w1].any() and down[w1].any():
            return c + 1
    return None


def _departure(y, s, t, k, threshold_sigma, window, min_flags, n_fit=6):
    """Does frame k (and the next ones) leave the line through the frames before it?

    Returns ``(departs, sign of the line's slope, 0 when not significant)``.
    """
    q = slice(max(0, k - n_fit), k)
    if k - q.start < 3:
        return False, 0.0
    floor = np.min(s[s > 0]) if np.any(s > 0) else 1e-12
    for _ in range(2):
        tt = t[q] - t[k]
        w = 1.0 / np.maximum(s[q], floor)
        coef, cov = np.polyfit(tt, y[q], 1, w=w, cov="unscaled")
        chi2 = float(np.sum(((y[q] - np.polyval(coef, tt)) * w) ** 2)) / max(tt.size - 2, 1)
        if chi2 <= 9.0 or k - q.start <= 3:
            break
        q = slice(k - 3, k)  # the frames before are not on one line (an old kink): use the last 3
    nxt = slice(k, min(k + window, y.size))
    tn = t[nxt] - t[k]
    pred = coef[0] * tn + coef[1]
    var_pred = cov[0, 0] * tn ** 2 + 2 * cov[0, 1] * tn + cov[1, 1]
    z = (y[nxt] - pred) / np.sqrt(s[nxt] ** 2 + np.maximum(var_pred, 0))
    departs = abs(z[0]) > threshold_sigma and np.sum(np.abs(z) > threshold_sigma) >= min(min_flags, z.size)
    slope = coef[0] if abs(coef[0]) > 3 * np.sqrt(max(cov[0, 0], 0)) else 0.0
    return departs, float(np.sign(slope))


def fluctuation_onset(series, sigma, time_s, *, threshold_sigma: float = 4.0, window: int = 4,
                      min_flags: int = 2, scales=(1, 2, 4, 8)):
    """Onset of fluctuations in a band time series (soft short, 002_ Fig. 2D after 4.5 h).

    1. *Are there fluctuations?*  At time scales of 1, 2, 4, 8 frames (block means), second
       differences ``y[i−1] − 2 y[i] + y[i+1]`` (noise ``σ_d2 = sqrt(σ[i−1]² + 4σ[i]² +
       σ[i+1]²)``) beyond ``threshold_sigma`` with both signs within ``window`` frames, while
       the series both rises and falls beyond the noise (a reversal: the paper's alternating
       "enhancing and reducing" of P1).  A kink, or a monotonic trend with kinks (creep
       starting, a creep front crossing pixel rows), is not a fluctuation; two opposite 4σ
       noise excursions within 4 frames have a probability below 1e-8.
    2. *When did they start?*  Searching back from the first confirmed fluctuation (12 coarse
       frames), the onset is the first frame that leaves the straight line through the 6
       frames before it by more than 0.75 ``threshold_sigma`` (counting noise plus the line's
       extrapolation uncertainty; 3σ by default) and stays off it in at least ``min_flags``
       of ``window`` frames (false-alarm probability ≈ 2e-5 per frame), while the series moves
       against its former trend (3σ; without a significant trend: rises and falls) within
       ``window`` frames of it: the step when part of the plated Li reconnects, or the first
       swing.

    Returns
    -------
    (float, int) or (None, None)
        Onset time and the index of the first fluctuating frame.  The time is the boundary
        between the last quiet frame and the first fluctuating one (midpoint of their times;
        the start of the first fluctuating bin for contiguous bins), or None.
    """
    y = np.asarray(series, dtype=float)
    t = np.asarray(time_s, dtype=float)
    s = np.broadcast_to(np.asarray(sigma, dtype=float), y.shape)
    if y.ndim != 1 or t.shape != y.shape:
        raise InputError(f"series/time_s: shapes {y.shape} and {t.shape} must be equal and 1-D")
    if not np.all(np.isfinite(y)) or not np.all(np.isfinite(s)):
        raise DataQualityError("series/sigma: non-finite values; mask them first")
    if y.size < 4:
        return None, None
    coarse = None
    for m in scales:
        nb = y.size // m
        if nb < 4:
            break
        ym = y[: nb * m].reshape(nb, m).mean(axis=1)
        sm = np.sqrt((s[: nb * m].reshape(nb, m) ** 2).mean(axis=1) / m)
        k = _reversal_onset(ym, sm, threshold_sigma, window, min_flags)
        if k is not None:
            coarse = (k * m, m)
            break
    if coarse is None:
        return None, None
    kc, m = coarse
    onset = min(kc + m, y.size - 1) if m > 1 else kc
    for k in range(max(3, kc - 12 * m - window), min(kc + m, y.size - 1) + 1):
        departs, trend = _departure(y, s, t, k, 0.75 * threshold_sigma, window, min_flags)
        if departs:
            # a fluctuation onset, not an old kink: around it the series moves against its
            # former trend (or, without a trend, both rises and falls)
            seg = slice(max(0, k - 1), min(k + window + 2, y.size))
            d1 = np.diff(y[seg])
            ss = s[seg]
            s1 = np.sqrt(ss[:-1] ** 2 + ss[1:] ** 2)
            thr = 0.75 * threshold_sigma * s1
            rise, fall = np.any(d1 > thr), np.any(d1 < -thr)
            if (rise and fall) or (trend < 0 and rise) or (trend > 0 and fall):
                onset = k
                break
    onset = max(onset, 1)
    return float(0.5 * (t[onset - 1] + t[onset])), int(onset)


def soft_short_onset(bands, time_s, **kwargs):
    """Earliest fluctuation onset over bands (``fluctuation_onset`` on each band series).

    Returns
    -------
    (float, int, str) or (None, None, None)
        Onset time, frame index and the band (``"roi:position"``) it was found in.
    """
    best = (None, None, None)
    for b in bands:
        ts, idx = fluctuation_onset(b.series, b.series_sigma, time_s, **kwargs)
        if ts is not None and (best[0] is None or ts < best[0]):
            best = (ts, idx, f"{b.roi}:{b.position_px:.1f}")
    return best
