"""Local current density maps from successive Li thickness maps (Faraday's law).

From two registered thickness maps of the same Li electrode taken ``dt`` apart, the local
current density is ``j(x, y) = rho_Li F dh / (M_Li dt)`` (current-density maps of
004_abdc661361e9d05b Fig. 24d): positive where Li was plated, negative where stripped.
Hot-spots are connected regions whose current departs from the mean by more than
``k`` standard deviations; their relation to the local microstructure is reported as the
Pearson correlation with any co-registered map (e.g. the local porosity of the electrolyte).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import scipy.ndimage as ndi

from ssbscope._maps import smooth_with_gaps
from ssbscope.errors import InputError, ParameterError
from ssbscope.mapnoise import (NOISE_MAX_LAG_PX, NOISE_MAX_LENGTH_PX, NOISE_SCALE_RATIO,
                               MapNoiseModel, empirical_variogram, fit_map_noise,
                               neighbour_difference_noise)
from ssbscope.materials import FARADAY_C_MOL, M_LI_G_MOL, RHO_LI_G_CM3

__all__ = ["CurrentDensityMap", "current_density_map", "thickness_change_to_current_ma_cm2",
           "SeriesCurrentDensity", "series_current_density", "map_noise",
           "MapNoiseModel", "map_noise_correlated", "empirical_variogram",
           "MapAgreement", "map_agreement"]


def thickness_change_to_current_ma_cm2(delta_thickness_um, dt_s: float):
    """Faraday's law for a Li layer: ``j = rho F dh / (M dt)`` in mA/cm2.

    Parameters
    ----------
    delta_thickness_um : array_like
        Thickness change (um), positive for plating.
    dt_s : float
        Time between the two maps (s).

    Returns
    -------
    ndarray or float
        Current density (mA/cm2) with the sign of the thickness change.
    """
    dh_cm = np.asarray(delta_thickness_um, dtype=float) * 1e-4
    return RHO_LI_G_CM3 * FARADAY_C_MOL * dh_cm / (M_LI_G_MOL * float(dt_s)) * 1e3


@dataclass(frozen=True)
class CurrentDensityMap:
    """Local current density between two thickness maps.

    Attributes
    ----------
    current_ma_cm2 : (Y, X) ndarray
        Local current density (NaN where either map is NaN or outside ``mask``).
    mean_current_ma_cm2 : float
        Mean over the valid pixels (the cell's geometric current when the whole electrode is
        covered).
    std_current_ma_cm2 : float
    plating_hotspots : (Y, X) bool ndarray
        ``j > mean + k std``.
    stripping_hotspots : (Y, X) bool ndarray
        ``j < mean - k std``.
    hotspots : pandas.DataFrame
        One row per connected hot-spot: ``kind``, ``area_px``, ``centroid_y``,
        ``centroid_x``, ``peak_current_ma_cm2``, ``mean_current_ma_cm2``.
    correlation : float or None
        Pearson correlation of ``current_ma_cm2`` with the ``microstructure`` map.
    dt_s : float
    """

    current_ma_cm2: np.ndarray = field(repr=False)
    mean_current_ma_cm2: float
    std_current_ma_cm2: float
    plating_hotspots: np.ndarray = field(repr=False)
    stripping_hotspots: np.ndarray = field(repr=False)
    hotspots: pd.DataFrame = field(repr=False)
    correlation: float | None
    dt_s: float


def _as_map(a, name):
    arr = np.asarray(a, dtype=float)
    if arr.ndim != 2 or arr.size == 0:
        raise InputError(f"{name}: expected a non-empty 2-D (y, x) thickness map, got shape "
                         f"{arr.shape}")
    return arr


def current_density_map(thickness_before_um, thickness_after_um, dt_s: float, *,
                        mask=None, smoothing_px: float = 0.0, hotspot_sigma: float = 2.0,
                        min_hotspot_px: int = 4, microstructure=None) -> CurrentDensityMap:
    """Current-density map from two registered Li thickness maps (Faraday's law).

    Parameters
    ----------
    thickness_before_um, thickness_after_um : (Y, X) array_like
        Thickness maps (um) of the same electrode, registered (same pixel grid), NaN where
        unknown.  Not modified.
    dt_s : float
        Time between the maps (s), > 0.
    mask : (Y, X) bool array, optional
        Pixels to use (e.g. the electrode footprint).
    smoothing_px : float
        Gaussian smoothing (pixels) of the thickness change before Faraday's law (0: none).
    hotspot_sigma : float
        ``k``: hot-spots depart from the mean by more than ``k`` standard deviations.
    min_hotspot_px : int
        Smallest connected hot-spot kept.
    microstructure : (Y, X) array_like, optional
        A co-registered map to correlate with the current (004_abdc661361e9d05b Fig. 24d).

    Returns
    -------
    CurrentDensityMap
    """
    h0 = _as_map(thickness_before_um, "thickness_before_um")
    h1 = _as_map(thickness_after_um, "thickness_after_um")
    if h0.shape != h1.shape:
        raise InputError(f"thickness_after_um: shape {h1.shape} differs from "
                         f"thickness_before_um {h0.shape}; register the maps first")
    try:
        dt = float(dt_s)
    except (TypeError, ValueError):
        raise ParameterError("dt_s", dt_s, "must be a number") from None
    if not np.isfinite(dt) or dt <= 0:
        raise ParameterError("dt_s", dt_s, "must be finite and > 0",
                             "pass the time between the two scans in seconds")
    if not np.isfinite(hotspot_sigma) or hotspot_sigma <= 0:
        raise ParameterError("hotspot_sigma", hotspot_sigma, "must be finite and > 0")
    if not np.isfinite(smoothing_px) or smoothing_px < 0:
        raise ParameterError("smoothing_px", smoothing_px, "must be finite and >= 0")
    valid = np.isfinite(h0) & np.isfinite(h1)
    if mask is not None:
        m = np.asarray(mask, dtype=bool)
        if m.shape != h0.shape:
            raise InputError(f"mask: shape {m.shape} differs from the maps {h0.shape}")
        valid &= m
    if not valid.any():
        raise InputError("thickness maps: no pixel is finite in both maps (inside mask); "
                         "check the maps and the mask")
    dh = np.where(valid, h1 - h0, 0.0)
    if smoothing_px > 0:
        dh = np.where(valid, smooth_with_gaps(dh, smoothing_px, valid), 0.0)
    j = np.where(valid, thickness_change_to_current_ma_cm2(dh, dt), np.nan)
    jv = j[valid]
    mean = float(jv.mean())
    std = float(jv.std())
    hi = valid & (j > mean + hotspot_sigma * std) if std > 0 else np.zeros_like(valid)
    lo = valid & (j < mean - hotspot_sigma * std) if std > 0 else np.zeros_like(valid)
    rows = []
    for kind, m in (("plating", hi), ("stripping", lo)):
        lab, n = ndi.label(m)
        for k in range(1, n + 1):
            reg = lab == k
            area = int(reg.sum())
            if area < min_hotspot_px:
                continue
            cy, cx = ndi.center_of_mass(reg)
            vals = j[reg]
            peak = float(vals.max() if kind == "plating" else vals.min())
            rows.append(dict(kind=kind, area_px=area, centroid_y=float(cy), centroid_x=float(cx),
                             peak_current_ma_cm2=peak, mean_current_ma_cm2=float(vals.mean())))
    table = pd.DataFrame(rows, columns=["kind", "area_px", "centroid_y", "centroid_x",
                                        "peak_current_ma_cm2", "mean_current_ma_cm2"])
    corr = None
    if microstructure is not None:
        ms = _as_map(microstructure, "microstructure")
        if ms.shape != h0.shape:
            raise InputError(f"microstructure: shape {ms.shape} differs from the maps {h0.shape}")
        both = valid & np.isfinite(ms)
        if both.sum() > 2 and np.std(ms[both]) > 0 and np.std(j[both]) > 0:
            corr = float(np.corrcoef(j[both], ms[both])[0, 1])
    return CurrentDensityMap(j, mean, std, hi, lo, table, corr, dt)


def map_noise(values) -> float:
    """Per-pixel noise of a map from its neighbour differences (white-noise assumption).

    :func:`ssbscope.mapnoise.neighbour_difference_noise`: the scaled median absolute
    deviation of the differences of adjacent pixels, divided by sqrt 2.  Noise correlated
    between neighbours (a median filter upstream) reads low, by ``sqrt(1 - rho(1))`` with
    ``rho(1)`` the error's correlation between neighbours: on the anode-free twin's tiny
    series (``rho(1)`` ~ 0.55) the current-density maps differ from the true map by ~1.8
    times this estimate.  :func:`map_noise_correlated` includes the correlated part.
    Parameters and result as :func:`ssbscope.mapnoise.neighbour_difference_noise`, which this
    name keeps for callers of the transport API.
    """
    return neighbour_difference_noise(values)


def map_noise_correlated(values, *, max_lag_px: float = NOISE_MAX_LAG_PX,
                         max_noise_length_px: float = NOISE_MAX_LENGTH_PX,
                         scale_ratio: float = NOISE_SCALE_RATIO) -> MapNoiseModel:
    """Per-pixel error of a map, correlated error included: the shared noise model.

    :func:`ssbscope.mapnoise.fit_map_noise` (white + Gaussian-correlated noise under a smooth
    signal, fitted to the map's robust semivariogram; the model the interface area's
    hot-spot noise floor uses too).  ``.noise`` (= ``.sigma``) is the per-pixel std of white
    and correlated parts together, what an rms difference from the true map sees;
    ``.white_noise`` the neighbour-difference estimate (:func:`map_noise`).

    Measured (tests/transport/test_current_density_truth.py; 32 x 32 maps, ~550 pixels in a
    disk, smooth signal of 4 px, white and ~1 px correlated noise of 0.3-1 times the
    signal's std; estimate over truth): see the test's docstring for the medians and spread.

    Parameters
    ----------
    values : (Y, X) array_like
        The map (NaN where unknown).
    max_lag_px : float
        Largest distance fitted (pixels).
    max_noise_length_px : float
        Largest correlation length ``l`` (Gaussian std, pixels) tried.
    scale_ratio : float
        ``r``: the signal's Gaussian scale ``L`` is at least ``r 2 l``.

    Returns
    -------
    MapNoiseModel
        All NaN but ``white_noise`` (``model`` ``"none"``) with fewer than
        :data:`ssbscope.mapnoise.NOISE_MIN_PX` finite pixels.
    """
    return fit_map_noise(values, max_lag_px=max_lag_px, max_length_px=max_noise_length_px,
                         scale_ratio=scale_ratio)


@dataclass(frozen=True)
class MapAgreement:
    """How a measured map agrees with a reference map of the same quantity.

    Attributes
    ----------
    rms : float
        Root-mean-square difference over the pixels finite in both (the maps' unit).
    bias : float
        Mean difference (measured - reference).
    correlation : float
        Pearson correlation after both maps are smoothed by a Gaussian of ``smoothing_px``
        (normalised over the valid pixels), on the pixels finite in both.
    correlation_raw : float
        The same without smoothing.
    smoothing_px : float
    n_px : int
        Pixels compared.
    """

    rms: float
    bias: float
    correlation: float
    correlation_raw: float
    smoothing_px: float
    n_px: int


def map_agreement(measured, reference, *, smoothing_px: float = 2.0, measured_yx=None,
                  reference_yx=None) -> MapAgreement:
    """Agreement of a measured map with a reference (e.g. a twin's true current density).

    Parameters
    ----------
    measured, reference : (Y, X) array_like
        NaN where unknown.
    smoothing_px : float
        Gaussian sigma (pixels of ``measured``) applied to both before the correlation:
        compares the patterns at the scale the measurement resolves.
    measured_yx, reference_yx : (ndarray, ndarray), optional
        Pixel-centre coordinates (same unit) of each map; where given and different, the
        reference is resampled onto the measured grid (bilinear, NaN outside).

    Returns
    -------
    MapAgreement
    """
    m = _as_map(measured, "measured")
    r = _as_map(reference, "reference")
    if measured_yx is not None and reference_yx is not None:
        my, mx = (np.asarray(v, float) for v in measured_yx)
        ry, rx = (np.asarray(v, float) for v in reference_yx)
        if not (my.shape == ry.shape and mx.shape == rx.shape and np.allclose(my, ry)
                and np.allclose(mx, rx)):
            from scipy.interpolate import RegularGridInterpolator

            f = RegularGridInterpolator((ry, rx), r, bounds_error=False, fill_value=np.nan)
            yy, xx = np.meshgrid(my, mx, indexing="ij")
            r = f(np.stack([yy.ravel(), xx.ravel()], axis=1)).reshape(my.size, mx.size)
    if m.shape != r.shape:
        raise InputError(f"reference: shape {r.shape} differs from the measured map {m.shape}; "
                         "give both maps' coordinates to resample")
    ok = np.isfinite(m) & np.isfinite(r)
    n = int(ok.sum())
    if n < 3:
        raise InputError("maps: fewer than 3 pixels finite in both")
    d = m[ok] - r[ok]

    def corr(a, b):
        a, b = a[ok], b[ok]
        return float(np.corrcoef(a, b)[0, 1]) if a.std() > 0 and b.std() > 0 else float("nan")

    s = float(smoothing_px)
    return MapAgreement(rms=float(np.sqrt(np.mean(d ** 2))), bias=float(d.mean()),
                        correlation=corr(smooth_with_gaps(m, s, ok), smooth_with_gaps(r, s, ok)),
                        correlation_raw=corr(m, r), smoothing_px=s, n_px=n)


@dataclass(frozen=True)
class SeriesCurrentDensity:
    """Current-density maps between consecutive scans of a series, against the cycler.

    Attributes
    ----------
    t_start_s, t_end_s : (n,) ndarray
        Times of the two scans of each interval (s since the start of the echem log).
    current_ma_cm2 : (n, Y, X) ndarray
        Local current density of each interval (Faraday's law on the thickness change;
        positive where the layer thickened, NaN where either map is NaN).
    mean_current_ma_cm2, std_current_ma_cm2 : (n,) ndarray
        Mean and standard deviation over the valid pixels.
    n_hotspots : (n,) int ndarray
        Connected hot-spots (> 2 std from the mean) of each interval.
    charge_mah_cm2 : (n,) ndarray
        Net areal charge the cycler passed between the two scan times (NaN without a log).
    cycler_current_ma_cm2 : (n,) ndarray
        ``charge_mah_cm2 / dt``: the cycler's mean current density over the interval, in mA/cm2.
    ratio : (n,) ndarray
        ``mean_current_ma_cm2 / cycler_current_ma_cm2`` (NaN where the cycler's charge is
        below ``min_charge_mah_cm2`` in magnitude).
    residual_pct : (n,) ndarray
        ``100 (ratio - 1)``.
    noise_ma_cm2 : (n,) ndarray
        Per-pixel error of each map, correlated error included (:func:`map_noise_correlated`,
        the shared model :class:`ssbscope.mapnoise.MapNoiseModel` ``.sigma``; the
        white-noise estimate where the map has too few pixels for the fit).
    noise_correlation_length_px : (n,) ndarray
        The correlated part's length ``l`` (Gaussian std, pixels) of the same fit (0: white
        noise; NaN where not fitted).
    white_noise_ma_cm2 : (n,) ndarray
        The neighbour-difference estimate (:func:`map_noise`), which misses correlated error.
    """

    t_start_s: np.ndarray
    t_end_s: np.ndarray
    current_ma_cm2: np.ndarray = field(repr=False)
    mean_current_ma_cm2: np.ndarray = field(repr=False)
    std_current_ma_cm2: np.ndarray = field(repr=False)
    n_hotspots: np.ndarray = field(repr=False)
    charge_mah_cm2: np.ndarray = field(repr=False)
    cycler_current_ma_cm2: np.ndarray = field(repr=False)
    ratio: np.ndarray = field(repr=False)
    residual_pct: np.ndarray = field(repr=False)
    noise_ma_cm2: np.ndarray | None = field(default=None, repr=False)
    noise_correlation_length_px: np.ndarray | None = field(default=None, repr=False)
    white_noise_ma_cm2: np.ndarray | None = field(default=None, repr=False)


def series_current_density(thickness_um, time_s, *, log_time_s=None, log_charge_mah_cm2=None,
                           mask=None, smoothing_px: float = 0.0,
                           min_charge_mah_cm2: float = 0.05) -> SeriesCurrentDensity:
    """Current-density maps between consecutive registered thickness maps of one layer.

    For every pair of consecutive scans ``k, k + 1``: :func:`current_density_map` of the two
    thickness maps over ``dt = t[k+1] - t[k]``, and, from the cycler's log, the net areal
    charge between the two times (linear interpolation of the cumulative charge,
    :func:`ssbscope.correlate.states.charge_at`) over ``dt``: the mean current density the
    maps must reproduce on average (dense Li; a layer that grows by non-dense Li or loses Li
    to side reactions departs from it).

    Parameters
    ----------
    thickness_um : (T, Y, X) array_like
        Thickness maps (um) of the layer in the registered frame, NaN where unknown.
    time_s : (T,) array_like
        Scan times (s since the start of the log), increasing.
    log_time_s, log_charge_mah_cm2 : (m,) array_like, optional
        The cycler's sample times (s) and net cumulative areal charge (mAh cm-2, positive when
        the layer gains Li); without them the cycler columns are NaN.
    mask : (Y, X) bool array, optional
        Pixels to use (e.g. the cell footprint).
    smoothing_px : float
        Passed to :func:`current_density_map`.
    min_charge_mah_cm2 : float
        Intervals with less net charge (magnitude) get a NaN ratio and residual.

    Returns
    -------
    SeriesCurrentDensity

    Raises
    ------
    InputError
        Fewer than two maps, shapes that disagree, or times not increasing.
    """
    h = np.asarray(thickness_um, dtype=float)
    t = np.asarray(time_s, dtype=float).ravel()
    if h.ndim != 3 or h.shape[0] != t.size:
        raise InputError(f"thickness_um {h.shape} / time_s {t.shape}: expected (T, Y, X) maps and "
                         "T times")
    if t.size < 2:
        raise InputError("thickness_um: a current density needs at least two scans of the series")
    if not np.all(np.isfinite(t)) or np.any(np.diff(t) <= 0):
        raise InputError(f"time_s {t.tolist()}: scan times must be finite and increasing")
    maps, means, stds, nhs = [], [], [], []
    for k in range(t.size - 1):
        r = current_density_map(h[k], h[k + 1], t[k + 1] - t[k], mask=mask,
                                smoothing_px=smoothing_px)
        maps.append(r.current_ma_cm2)
        means.append(r.mean_current_ma_cm2)
        stds.append(r.std_current_ma_cm2)
        nhs.append(len(r.hotspots))
    n = t.size - 1
    q = np.full(n, np.nan)
    if log_time_s is not None and log_charge_mah_cm2 is not None:
        from ssbscope.correlate.states import charge_at

        qt = np.asarray(charge_at(t, log_time_s, log_charge_mah_cm2), float)
        q = qt[1:] - qt[:-1]
    dt_h = np.diff(t) / 3600.0
    jc = q / dt_h
    noise = [map_noise_correlated(m) for m in maps]
    mean = np.asarray(means, float)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(np.abs(q) >= float(min_charge_mah_cm2), mean / jc, np.nan)
    return SeriesCurrentDensity(
        t_start_s=t[:-1].copy(), t_end_s=t[1:].copy(), current_ma_cm2=np.stack(maps),
        mean_current_ma_cm2=mean, std_current_ma_cm2=np.asarray(stds, float),
        n_hotspots=np.asarray(nhs, int), charge_mah_cm2=q, cycler_current_ma_cm2=jc,
        ratio=ratio, residual_pct=100.0 * (ratio - 1.0),
        noise_ma_cm2=np.asarray([nm.noise if np.isfinite(nm.noise) else nm.white_noise
                                 for nm in noise], float),
        noise_correlation_length_px=np.asarray([nm.correlation_length_px for nm in noise],
                                               float),
        white_noise_ma_cm2=np.asarray([nm.white_noise for nm in noise], float))
