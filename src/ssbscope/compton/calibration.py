"""Per-pixel energy calibration and bad-pixel masking of a spectroscopic pixel detector.

A HEXITEC-type detector gives each pixel its own gain and offset; 000_290f30815ae66793
calibrated them with the 59.54 keV line of an Am-241 source (0.79 keV FWHM).  Here each
pixel's pulse-height spectrum is searched for known lines (Am-241 59.54 keV, Cd/Te K
fluorescence, ...), their centroids are measured above a linear continuum, and a straight
line ``E = gain * ADU + offset`` is fitted per pixel.

Examples
--------
>>> from ssbscope.compton.calibration import AM241_KEV, calibration_lines_kev
>>> AM241_KEV
59.5409
>>> sorted(calibration_lines_kev())[:2]
['Am-241', 'Am-241 - Cd Ka escape']
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np

from ssbscope.errors import DataQualityError, InputError, ParameterError

__all__ = [
    "AM241_KEV",
    "PixelCalibration",
    "calibration_lines_kev",
    "calibrate_pixels",
    "find_bad_pixels",
]

log = logging.getLogger(__name__)

AM241_KEV = 59.5409  # gamma line of Am-241 (keV)


def calibration_lines_kev() -> dict[str, float]:
    """Lines of an Am-241 flood on a CdZnTe detector (keV).

    Am-241 59.54 keV, the Cd and Te K-alpha fluorescence of the sensor, and the Cd/Te
    K-alpha escape peaks of the 59.54 keV line; K-alpha1/alpha2 merged at their
    rate-weighted mean (unresolved at 0.8 keV FWHM).  Energies from xraylib.
    """
    import xraylib

    out = {"Am-241": AM241_KEV}
    for el in ("Cd", "Te"):
        z = xraylib.SymbolToAtomicNumber(el)
        r1, r2 = xraylib.RadRate(z, xraylib.KA1_LINE), xraylib.RadRate(z, xraylib.KA2_LINE)
        ka = (r1 * xraylib.LineEnergy(z, xraylib.KA1_LINE)
              + r2 * xraylib.LineEnergy(z, xraylib.KA2_LINE)) / (r1 + r2)
        out[f"{el} Ka"] = float(ka)
        out[f"Am-241 - {el} Ka escape"] = float(AM241_KEV - ka)
    return out


@dataclass(frozen=True)
class PixelCalibration:
    """Per-pixel linear calibration ``E_keV = gain * value + offset``.

    Attributes
    ----------
    gain_kev_per_unit, offset_kev : (ny, nx) ndarray
    ok : (ny, nx) bool ndarray
        Pixels with at least two lines measured.  Pixels with only the strongest line get
        their gain from it with the global offset; pixels without it keep the global
        calibration.
    centroids : (ny, nx, n_lines) ndarray
        Measured line positions (input units; NaN where not found).
    lines_kev : tuple of float
    residual_kev : (ny, nx) ndarray
        RMS residual of the straight-line fit (keV; 0 for exactly two lines).
    """

    gain_kev_per_unit: np.ndarray = field(repr=False)
    offset_kev: np.ndarray = field(repr=False)
    ok: np.ndarray = field(repr=False)
    centroids: np.ndarray = field(repr=False)
    lines_kev: tuple
    residual_kev: np.ndarray = field(repr=False)


def _centroids(spec, centres, edges, half_width, min_counts, continuum=True, top=False):
    """Centroid in windows ``centres +- half_width`` (per row of spec), optionally above a
    linear continuum through the two outer bins on each side."""
    x = 0.5 * (edges[1:] + edges[:-1])
    m, n = spec.shape
    out = np.full(m, np.nan)
    lo = np.searchsorted(x, centres - half_width)
    hi = np.searchsorted(x, centres + half_width)
    width = int(np.max(hi - lo)) if m else 0
    if width < 3:
        return out
    idx = lo[:, None] + np.arange(width)[None, :]
    valid = idx < np.minimum(hi, n)[:, None]
    idx = np.clip(idx, 0, n - 1)
    y = np.take_along_axis(spec, idx, axis=1).astype(float)
    xx = x[idx]
    # linear continuum through the mean of the two edge bins on each side
    k = 2
    nv = valid.sum(axis=1)
    yl = y[:, :k].mean(axis=1)
    xl = xx[:, :k].mean(axis=1)
    last = np.clip(nv[:, None] - k + np.arange(k)[None, :], 0, width - 1)
    yr = np.take_along_axis(y, last, axis=1).mean(axis=1)
    xr = np.take_along_axis(xx, last, axis=1).mean(axis=1)
    slope = (yr - yl) / np.where(xr > xl, xr - xl, 1.0)
    bg = yl[:, None] + slope[:, None] * (xx - xl[:, None])
    if not continuum:
        bg = np.zeros_like(y)
    net = np.where(valid, np.clip(y - bg, 0.0, None), 0.0)
    if top:
        # centroid of the bins above half the maximum: immune to low-energy tails
        # (incomplete charge collection, charge sharing below threshold)
        net = np.where(net >= 0.5 * net.max(axis=1, keepdims=True), net, 0.0)
    tot = net.sum(axis=1)
    good = tot >= min_counts
    out[good] = (net[good] * xx[good]).sum(axis=1) / tot[good]
    return out


def _net_counts(spec1d, centre, edges, half_width):
    x = 0.5 * (edges[1:] + edges[:-1])
    sel = np.abs(x - centre) <= half_width
    return float(spec1d[sel].sum())


def calibrate_pixels(cube, edges, lines_kev, *, gain_guess_kev_per_unit: float,
                     offset_guess_kev: float = 0.0, window_kev: float = 6.0,
                     line_window_kev: float = 0.7, min_counts: float = 10.0) -> PixelCalibration:
    """Fit ``E = gain * value + offset`` per pixel from known lines.

    Parameters
    ----------
    cube : (ny, nx, n) ndarray
        Per-pixel spectra in uncalibrated units (e.g. ADU), from
        :func:`events_to_cube` without calibration.
    edges : (n + 1,) ndarray
        Bin edges in the same units.
    lines_kev : sequence of float or dict
        At least two line energies (keV) present in every pixel's spectrum, e.g.
        ``calibration_lines_kev()`` for an Am-241 flood.
    gain_guess_kev_per_unit, offset_guess_kev : float
        Nominal calibration; lines are first searched at ``(E - offset)/gain`` in the
        summed spectrum, then per pixel around the refined global prediction.
    window_kev : float
        Half-width of the search window of the strongest line (keV); larger than the
        gain/offset spread.
    line_window_kev : float
        Half-width for the other lines, searched at positions scaled by the strongest
        line's per-pixel position (keV); below the spacing of neighbouring lines.
    min_counts : float
        Net counts a line needs in a pixel to be used.

    Returns
    -------
    PixelCalibration
    """
    c = np.asarray(cube, dtype=float)
    if c.ndim != 3:
        raise InputError(f"cube: must be (ny, nx, n_bins), got shape {c.shape}")
    e = np.asarray(edges, dtype=float)
    if e.ndim != 1 or e.size != c.shape[2] + 1 or np.any(np.diff(e) <= 0):
        raise InputError(f"edges: need {c.shape[2] + 1} increasing values")
    lines = np.asarray(list(lines_kev.values()) if isinstance(lines_kev, dict) else lines_kev,
                       dtype=float)
    if lines.size < 2 or np.unique(lines).size < 2:
        raise ParameterError("lines_kev", lines_kev, "need at least two different line energies")
    if not gain_guess_kev_per_unit > 0:
        raise ParameterError("gain_guess_kev_per_unit", gain_guess_kev_per_unit, "must be > 0")
    ny, nx, _ = c.shape
    spec = c.reshape(ny * nx, -1)
    total = spec.sum(axis=0)[None, :]
    # 1) global calibration from the summed spectrum
    hw = window_kev / gain_guess_kev_per_unit
    pos0 = (lines - offset_guess_kev) / gain_guess_kev_per_unit
    strength0 = np.array([_net_counts(total[0], p, e, hw / 3) for p in pos0])
    ref0 = int(np.argmax(strength0))
    pr = _centroids(total, np.array([pos0[ref0]]), e, hw, min_counts)[0]
    gscale = pr / pos0[ref0] if np.isfinite(pr) else 1.0
    gpos = np.array([pr if i == ref0 else
                     _centroids(total, np.array([p * gscale]), e, line_window_kev / gain_guess_kev_per_unit,
                                min_counts, continuum=False)[0] for i, p in enumerate(pos0)])
    okg = np.isfinite(gpos)
    if okg.sum() < 2:
        raise DataQualityError(f"cube: fewer than two calibration lines found in the summed "
                               f"spectrum near {pos0.round(1).tolist()}; check gain_guess_kev_per_unit")
    g_gain, g_off = np.polyfit(gpos[okg], lines[okg], 1)
    # 2) per pixel: the strongest line first (wide window), which fixes each pixel's scale;
    #    the other lines are then searched in narrow windows around the scaled prediction
    #    (neighbouring lines such as Cd K-beta / Te K-alpha are 1.3 keV apart)
    strength = np.array([_net_counts(total[0], p, e, hw) for p in np.where(okg, gpos, pos0)])
    ref = int(np.argmax(strength))
    cents = np.full((ny * nx, lines.size), np.nan)
    p_ref = np.full(ny * nx, (lines[ref] - g_off) / g_gain)
    for _ in range(2):
        q = _centroids(spec, p_ref, e, window_kev / abs(g_gain), min_counts)
        p_ref = np.where(np.isfinite(q), q, p_ref)
    # refine on the top of the line in a window of +-3 x its expected width (0.8 keV FWHM)
    q2 = _centroids(spec, p_ref, e, 1.0 / abs(g_gain), min_counts / 2, continuum=False, top=True)
    q = np.where(np.isfinite(q2) & np.isfinite(q), q2, q)
    p_ref = np.where(np.isfinite(q), q, p_ref)
    cents[:, ref] = q
    scale = p_ref / ((lines[ref] - g_off) / g_gain)
    for li, le in enumerate(lines):
        if li == ref:
            continue
        p = (le - g_off) / g_gain * scale
        for _ in range(2):
            q = _centroids(spec, p, e, line_window_kev / abs(g_gain), min_counts, continuum=False)
            p = np.where(np.isfinite(q), q, p)
        cents[:, li] = q
    n_ok = np.isfinite(cents).sum(axis=1)
    gain = np.full(ny * nx, g_gain)
    off = np.full(ny * nx, g_off)
    res = np.full(ny * nx, np.nan)
    good = n_ok >= 2
    if good.any():
        xm = np.where(np.isfinite(cents), cents, 0.0)
        w = np.isfinite(cents).astype(float)
        sw = w.sum(axis=1)
        mx = (w * xm).sum(axis=1) / np.maximum(sw, 1)
        my = (w * lines[None, :]).sum(axis=1) / np.maximum(sw, 1)
        sxy = (w * (xm - mx[:, None]) * (lines[None, :] - my[:, None])).sum(axis=1)
        sxx = (w * (xm - mx[:, None]) ** 2).sum(axis=1)
        g = np.where(sxx > 0, sxy / np.where(sxx > 0, sxx, 1.0), np.nan)
        o = my - g * mx
        good &= np.isfinite(g) & (g > 0)
        gain[good], off[good] = g[good], o[good]
        r = w * (lines[None, :] - (g[:, None] * xm + o[:, None])) ** 2
        res[good] = np.sqrt(r.sum(axis=1)[good] / sw[good])
    # pixels with only the strongest line: gain from that line with the global offset
    one = ~good & np.isfinite(cents[:, ref]) & (cents[:, ref] > 0)
    gain[one] = (lines[ref] - g_off) / cents[one, ref]
    off[one] = g_off
    log.info("calibrated %d of %d pixels (global gain %.5g keV/unit, offset %.4g keV)",
             int(good.sum()), ny * nx, g_gain, g_off)
    return PixelCalibration(gain_kev_per_unit=gain.reshape(ny, nx), offset_kev=off.reshape(ny, nx),
                            ok=good.reshape(ny, nx), centroids=cents.reshape(ny, nx, -1),
                            lines_kev=tuple(float(v) for v in lines),
                            residual_kev=res.reshape(ny, nx))


def find_bad_pixels(counts_map, *, dead_fraction: float = 0.05, noisy_sigma: float = 8.0):
    """Good-pixel mask from a flood or exposure count map.

    A pixel is dead when it has fewer than ``dead_fraction`` x the median counts, noisy
    when it exceeds the median by ``noisy_sigma`` robust standard deviations (1.4826 MAD,
    at least the Poisson sigma).

    Parameters
    ----------
    counts_map : (ny, nx) ndarray
        Total counts per pixel (``cube.sum(axis=2)``).

    Returns
    -------
    (ny, nx) bool ndarray
        True for good pixels.
    """
    m = np.asarray(counts_map, dtype=float)
    if m.ndim != 2:
        raise InputError(f"counts_map: must be 2-D, got shape {m.shape}")
    if np.any(~np.isfinite(m)) or np.any(m < 0):
        raise InputError("counts_map: needs finite counts >= 0")
    med = float(np.median(m))
    if med <= 0:
        raise DataQualityError("counts_map: median counts are 0; expose longer or check the "
                               "detector before masking pixels")
    sig = max(1.4826 * float(np.median(np.abs(m - med))), np.sqrt(med))
    dead = m < dead_fraction * med
    noisy = m > med + noisy_sigma * sig
    return ~(dead | noisy)
