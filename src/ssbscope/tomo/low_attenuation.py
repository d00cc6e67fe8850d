"""Low-attenuation regions of an electrolyte on noisy scans: pure levels, threshold, layer
fractions (Cao et al. 2023, doi:10.1002/adfm.202307998, Fig. 3I-J).

The soft-short filaments are 1-3 voxels across; at the demo's noise (contrast-to-noise of
about 3 between the Li6PS5Cl matrix and Li per voxel) any smoothing (Gaussian, total
variation, non-local means) erases them, so the regions are taken on the unfiltered grey
values.  What matters then is where the threshold lies.  The darkest class's Otsu threshold
of the segmentation sits below the midpoint of the two pure phases (the class median of the
matrix is pulled down by the filaments around it), so filament voxels drop out and break
off from the anode: on the demo's small twin the Li-connected volume read -25 % and the
isolated +51 %.  Here the two pure levels are measured where each phase is pure:

* the low level and the noise from the interior of the declared Li electrode (median, and
  half the 16-84 % range);
* the matrix level from the electrolyte's histogram: a Gaussian whose width is that noise,
  fitted to the bins at and above the histogram's peak (voxels brighter than the peak are
  matrix plus noise; partial volume with filaments only pulls values down).

The regions are the voxels at or below the midpoint of the two levels.  The layer volume
fractions are partial-volume estimates, ``(level_matrix - mean grey) / (level_matrix -
level_low)`` per layer: a mean is unbiased under noise and keeps the sub-voxel filaments that
a threshold loses (the paper reads the same trend from the median grey profile, Fig. 3G).

Both the in-memory (:func:`ssbscope.tomo.series.measure_scan`) and the chunked
(:mod:`ssbscope.tomo.series_chunked`) analyses call these functions on the same per-slice
numbers and integer histograms, so their results are bit-identical.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np

from ssbscope.errors import ParameterError

__all__ = ["LowAttenuationLevels", "electrode_level", "histogram_edges", "matrix_level",
           "levels", "measure_levels", "slice_fraction_sums", "layer_fractions_from_slices"]

#: Bins per noise standard deviation of the electrolyte histogram.
BINS_PER_SD = 4
#: Most bins of the electrolyte histogram (a wide range of outliers widens the bins).
MAX_BINS = 20000


@dataclass(frozen=True)
class LowAttenuationLevels:
    """Pure grey levels of the low-attenuation phase and the electrolyte matrix.

    Attributes
    ----------
    level_low : float
        Median grey value of the Li electrode's interior.
    level_matrix : float
        Electrolyte matrix level (Gaussian fit to its histogram at and above the peak).
    noise_sd : float
        Noise standard deviation (half the 16-84 % range of the electrode's interior).
    threshold : float
        Midpoint of the two levels: voxels at or below it are low-attenuation.
    """

    level_low: float
    level_matrix: float
    noise_sd: float

    @property
    def threshold(self) -> float:
        return 0.5 * (self.level_low + self.level_matrix)


def electrode_level(values) -> tuple[float, float]:
    """Median and noise standard deviation (half the 16-84 % range) of a pure phase's grey
    values, e.g. the interior of the Li electrode.

    Parameters
    ----------
    values : ndarray
        Grey values (any shape; at least 10).

    Returns
    -------
    (level, noise_sd) : (float, float)
    """
    v = np.asarray(values, np.float64).ravel()
    v = v[np.isfinite(v)]
    if v.size < 10:
        raise ParameterError("values", v.size, "need >= 10 grey values of the electrode")
    q16, q50, q84 = np.percentile(v, [15.865, 50.0, 84.135])
    return float(q50), float(0.5 * (q84 - q16))


def histogram_edges(vmin: float, vmax: float, noise_sd: float) -> np.ndarray:
    """Bin edges of the electrolyte histogram: ``noise_sd / BINS_PER_SD`` wide from ``vmin``
    to ``vmax`` (at most :data:`MAX_BINS` bins)."""
    if not (math.isfinite(vmin) and math.isfinite(vmax) and vmax > vmin):
        raise ParameterError("vmin/vmax", (vmin, vmax), "need finite vmin < vmax")
    if not (math.isfinite(noise_sd) and noise_sd > 0):
        raise ParameterError("noise_sd", noise_sd, "must be finite and > 0")
    w = noise_sd / BINS_PER_SD
    n = int(min(MAX_BINS, max(8, math.ceil((vmax - vmin) / w) + 1)))
    return np.linspace(vmin, vmax, n + 1)


def matrix_level(counts, edges, noise_sd: float) -> float:
    """Level of the brightest abundant phase of a histogram: a Gaussian of width ``noise_sd``
    fitted (least squares on the counts) to the bins at and above the peak of the counts
    (5-bin moving average).

    Parameters
    ----------
    counts : (n,) ndarray
    edges : (n + 1,) ndarray
    noise_sd : float

    Returns
    -------
    float
        The fitted centre; the peak bin's centre when the fit fails.
    """
    from scipy.optimize import curve_fit

    h = np.asarray(counts, np.float64)
    e = np.asarray(edges, np.float64)
    c = 0.5 * (e[1:] + e[:-1])
    if h.sum() <= 0:
        raise ParameterError("counts", 0, "the electrolyte histogram is empty")
    hs = np.convolve(h, np.ones(5) / 5.0, mode="same")
    k = int(np.argmax(hs))
    sel = c >= c[k]
    s = float(noise_sd)

    def gauss(x, a, m):
        return a * np.exp(-0.5 * ((x - m) / s) ** 2)

    if sel.sum() < 3:
        return float(c[k])
    try:
        p, _ = curve_fit(gauss, c[sel], h[sel], p0=(float(hs[k]), float(c[k])))
    except (RuntimeError, ValueError):
        return float(c[k])
    m = float(p[1])
    return m if math.isfinite(m) and e[0] <= m <= e[-1] else float(c[k])


def levels(electrode_values, electrolyte_counts, electrolyte_edges,
           noise_sd: float | None = None) -> LowAttenuationLevels:
    """Both pure levels from the electrode's grey values and the electrolyte's histogram."""
    lo, sd = electrode_level(electrode_values)
    if noise_sd is not None:
        sd = float(noise_sd)
    return LowAttenuationLevels(level_low=lo,
                                level_matrix=matrix_level(electrolyte_counts, electrolyte_edges, sd),
                                noise_sd=sd)


def slice_fraction_sums(values_2d_by_slice, lv: LowAttenuationLevels) -> np.ndarray:
    """Per-slice sum of the partial-volume fraction ``(level_matrix - v) / (level_matrix -
    level_low)`` over a footprint.

    Parameters
    ----------
    values_2d_by_slice : (Z, N) ndarray
        Grey values of each slice inside the footprint.
    lv : LowAttenuationLevels

    Returns
    -------
    (Z,) ndarray of float64
    """
    v = np.asarray(values_2d_by_slice)
    d = lv.level_matrix - lv.level_low
    if not (math.isfinite(d) and d > 0):
        raise ParameterError("level_matrix", lv.level_matrix,
                             f"must lie above level_low={lv.level_low!r}")
    s = v.astype(np.float64).sum(axis=1)
    return (lv.level_matrix * v.shape[1] - s) / d


def layer_fractions_from_slices(per_slice, start_vox: float, stop_vox: float, n_layers: int,
                                area: float, nz: int) -> np.ndarray:
    """Mean of per-slice sums over ``n_layers`` equal layers between two positions.

    Layer 1 starts at ``start_vox`` (a slice belongs to the layer holding its centre,
    ``index + 0.5``); :func:`ssbscope.tomo.metrics.layer_volume_fractions` bins its mask with it.

    Parameters
    ----------
    per_slice : (nz,) ndarray
        Per-slice sums (voxel counts or fractions) over a footprint of ``area`` pixels.
    start_vox, stop_vox : float
    n_layers : int
    area : float
    nz : int

    Returns
    -------
    (n_layers,) ndarray
    """
    if n_layers < 1:
        raise ParameterError("n_layers", n_layers, "must be >= 1")
    if not (0 <= min(start_vox, stop_vox) and max(start_vox, stop_vox) <= nz):
        raise ParameterError("start_vox/stop_vox", (start_vox, stop_vox),
                             f"must lie in 0..{nz} along axis 0")
    if start_vox == stop_vox:
        raise ParameterError("stop_vox", stop_vox, "equals start_vox; no thickness")
    centres = np.arange(nz) + 0.5
    edges = np.linspace(start_vox, stop_vox, n_layers + 1)
    lo_e, hi_e = np.minimum(edges[:-1], edges[1:]), np.maximum(edges[:-1], edges[1:])
    out = np.empty(n_layers)
    for k in range(n_layers):
        sel = (centres >= lo_e[k]) & (centres < hi_e[k])
        nsl = int(sel.sum())
        if nsl == 0:
            raise ParameterError("n_layers", n_layers, f"layer {k + 1} holds no whole slice",
                                 "use fewer layers or a thicker range")
        out[k] = per_slice[sel].sum() / (nsl * area)
    return out


def _split(ranges, bounds):
    """Ranges [a, b) cut at the slab bounds (all of each range when bounds is None)."""
    out = []
    for a, b in ranges:
        if bounds is None:
            if b > a:
                out.append((a, b))
            continue
        for z0, z1 in bounds:
            lo, hi = max(a, z0), min(b, z1)
            if hi > lo:
                out.append((lo, hi))
    return out


def _serial(func, ranges):
    return [func(a, b) for a, b in ranges]


def _extremes(read, fp, a, b):
    v = np.asarray(read(a, b))[:, fp]
    return (float(v.min()), float(v.max()), int(v.size)) if v.size else None


def _counts(read, fp, edges, a, b):
    return np.histogram(np.asarray(read(a, b))[:, fp], bins=edges)[0]


def _histogram(read, fp, ranges, noise_sd=None, n_bins=65536, map_slabs=None):
    """Exact min/max, then integer counts on fixed edges: the same for any slab split; each
    range one call of ``map_slabs`` (default a loop here)."""
    mp = map_slabs or _serial
    vmin, vmax, n = math.inf, -math.inf, 0
    for r in mp(functools.partial(_extremes, read, fp), ranges):
        if r is not None:
            vmin, vmax, n = min(vmin, r[0]), max(vmax, r[1]), n + r[2]
    if n == 0 or not vmax > vmin:
        return None, None
    edges = (histogram_edges(vmin, vmax, noise_sd) if noise_sd is not None
             else np.linspace(vmin, vmax, n_bins + 1))
    counts = np.zeros(edges.size - 1, np.int64)
    for c in mp(functools.partial(_counts, read, fp, edges), ranges):
        counts += c
    return counts, edges


def _quantiles(counts, edges, qs):
    """Quantiles from a histogram (linear within a bin)."""
    cdf = np.concatenate([[0.0], np.cumsum(counts, dtype=np.float64)])
    cdf /= cdf[-1]
    return [float(np.interp(q, cdf, edges)) for q in qs]


def measure_levels(read, footprint, electrode_bands, e0: int, e1: int, bounds=None,
                   map_slabs=None):
    """Both pure levels of a scan, read slab by slab.

    The electrode's median and noise come from a fine histogram (65536 bins between its
    exact extremes), the matrix level from the electrolyte's histogram
    (:func:`histogram_edges`, :func:`matrix_level`); integer counts on fixed edges make the
    result independent of how the volume is cut into slabs.

    Parameters
    ----------
    read : callable
        ``read(z0, z1)`` -> (z1 - z0, Y, X) grey values (the unfiltered, registered volume).
    footprint : (Y, X) ndarray of bool
        Inner cell region.
    electrode_bands : sequence of (int, int)
        Slice ranges [z0, z1) of the declared Li electrode layers (darkest material); their
        interior (one slice off each face when the band has >= 3 slices) gives the low level
        and the noise.
    e0, e1 : int
        The electrolyte's slice range.
    bounds : sequence of (int, int), optional
        Slabs to read in (default: each range at once); the result does not depend on them.
    map_slabs : callable, optional
        ``map_slabs(func, ranges)`` -> ``[func(a, b) for a, b in ranges]`` in order, e.g. as
        Dask tasks (only extremes and histogram counts come back); default a loop here.

    Returns
    -------
    LowAttenuationLevels or None
        None when the electrode interior holds fewer than 10 voxels or the electrolyte is
        empty (the caller falls back to the segmentation's threshold).
    """
    fp = np.asarray(footprint, bool)
    inner_bands = [((p0 + 1, p1 - 1) if p1 - p0 >= 3 else (p0, p1)) for p0, p1 in electrode_bands]
    ranges = _split(inner_bands, bounds)
    n_el = sum((b - a) for a, b in ranges) * int(fp.sum())
    if n_el < 10 or e1 <= e0 or not fp.any():
        return None
    counts, edges = _histogram(read, fp, ranges, map_slabs=map_slabs)
    if counts is None:
        return None
    q16, lo, q84 = _quantiles(counts, edges, (0.15865, 0.5, 0.84135))
    sd = 0.5 * (q84 - q16)
    if not (math.isfinite(sd) and sd > 0):
        return None
    counts, edges = _histogram(read, fp, _split([(e0, e1)], bounds), noise_sd=sd,
                               map_slabs=map_slabs)
    if counts is None:
        return None
    lv = LowAttenuationLevels(level_low=lo, level_matrix=matrix_level(counts, edges, sd),
                              noise_sd=sd)
    return lv if lv.level_matrix > lv.level_low else None
