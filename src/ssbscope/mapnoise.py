"""Spatially correlated noise of a 2-D map: one model for every area that needs a map's noise.

A map measured through the CT chain (a current-density map from two thickness maps, an
interface height map) carries an error that is partly white (per pixel) and partly correlated
over a few pixels (a 3 x 3 x 3 median filter, interpolation in a registration, interface-height
windows).  Smoothing removes white noise as ``1 / sqrt(area)`` but correlated noise much less,
and an estimate that sees only neighbouring pixels misses the correlated part; so both the
transport area (the stored per-pixel noise of ``transport/<series>/current_density``) and the
interface area (the noise floor of the hot-spot comparison after its smoothing) use the model
fitted here, :func:`fit_map_noise`, which returns a :class:`MapNoiseModel`.

Model (pixel units).  The map is ``a = s + n`` with ``s`` a signal smooth on a longer scale
than the noise and ``n`` stationary, isotropic noise made of a white part of variance ``W`` and
a correlated part of variance ``C``: white noise filtered by a Gaussian of standard deviation
``l`` pixels (the discrete kernel of :func:`scipy.ndimage.gaussian_filter`), scaled to variance
``C``.  Its correlation is ``rho_l(d) = (k_l * k_l)(d) / sum k_l^2``, close to
``exp(-|d|^2 / (4 l^2))`` for ``l >= 0.7`` px (the correlation falls to 1/e at ``2 l``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ssbscope.errors import InputError, ParameterError

__all__ = ["MapNoiseModel", "fit_map_noise", "robust_variogram", "empirical_variogram",
           "neighbour_difference_noise", "NOISE_MAX_LAG_PX", "NOISE_MAX_LENGTH_PX",
           "NOISE_MIN_LENGTH_PX", "NOISE_SCALE_RATIO", "NOISE_MIN_SIGNAL_LENGTH_PX",
           "NOISE_TRIM_FRACTION", "NOISE_MIN_PX", "NOISE_CORRELATED_F_LEVEL",
           "NOISE_MODEL_TEXT"]

#: Largest lag (pixels) of the variogram that :func:`fit_map_noise` fits.
NOISE_MAX_LAG_PX = 10.0
#: Longest correlation length ``l`` (Gaussian std, pixels) of the noise the fit accepts: its
#: correlation falls to 1/e at ``2 l`` = 3 px (the CT chain's correlated errors: 3 x 3 x 3
#: median, interpolation, height windows).  Longer noise competes with signal features of a
#: few pixels: on the hot-spot run's maps (tests/interface/test_hot_spot_run.py) ``l`` up to
#: 3 px took the hot spots for noise (floor 42 x the true error).
NOISE_MAX_LENGTH_PX = 1.5
#: The signal's Gaussian scale ``L`` is at least this many times the noise's e-folding
#: distance ``2 l`` (the separation the fit needs; :func:`fit_map_noise`): ``L >= 3 l``.
NOISE_SCALE_RATIO = 1.5
#: Shortest Gaussian scale ``L`` (pixels) of the signal term: structure on shorter scales
#: (features of Gaussian std below ``L / 2`` = 2 px) counts as noise unless trimmed.
NOISE_MIN_SIGNAL_LENGTH_PX = 4.0
#: Fraction of the largest squared differences left out at each lag (:func:`robust_variogram`):
#: the few pairs that straddle a sharp feature (a hot spot's flank, a voxel step).  Measured
#: trade-off (benchmarks/map_noise_estimators.py): more trimming keeps sharp features out
#: better but loses the power to see correlated noise on small (~500 pixel) maps.
NOISE_TRIM_FRACTION = 0.05
#: Fewest finite pixels for a fit (fewer: the model is NaN, ``model`` ``"none"``).
NOISE_MIN_PX = 50
#: A correlated part is kept only when its F statistic against the white model (weighted
#: residual sums of squares, 2 and ``m - 6`` degrees of freedom for ``m`` distances) exceeds
#: this quantile of the F distribution.
NOISE_CORRELATED_F_LEVEL = 0.95
#: Shortest correlation length ``l`` tried (pixels): the correlation between neighbours is
#: then ~0.17; below it the correlated part is not told from white noise.
NOISE_MIN_LENGTH_PX = 0.45

#: One-line description of the model (stored with results that use it).
NOISE_MODEL_TEXT = (
    "white + Gaussian-correlated noise (white noise filtered by a Gaussian of std "
    "0.45 <= l <= 1.5 px, kept when an F test at 95 % prefers it) fitted with a smooth signal "
    "(Gaussian scale L >= 4 px and >= 3 l, plus a trend) to the map's robust semivariogram "
    "(squared pixel differences up to 10 px, the largest 5 % at each distance trimmed, "
    "Gaussian-consistent; ssbscope.mapnoise.fit_map_noise); noise correlated as far as the "
    "signal (l >~ 1.5 px) is taken for signal")


def _as_map(values):
    a = np.asarray(values, dtype=float)
    if a.ndim != 2:
        raise InputError(f"map: expected a (y, x) map, got shape {a.shape}")
    return a


def neighbour_difference_noise(values) -> float:
    """Per-pixel noise of a map under a white-noise assumption, from neighbour differences.

    The scaled median absolute deviation (1.4826 MAD) of the differences of adjacent pixels
    (along y and along x, both finite), divided by ``sqrt 2``.  A smooth signal hardly changes
    from one pixel to the next, so the differences are the noise of two pixels; the median
    keeps edges and hot spots out.  Noise correlated between neighbours reads low, by
    ``sqrt(1 - rho(1))`` with ``rho(1)`` the noise's correlation between neighbours.

    Parameters
    ----------
    values : (Y, X) array_like
        The map (NaN where unknown).

    Returns
    -------
    float
        The noise's standard deviation in the map's units; NaN with fewer than 10 pairs.
    """
    a = _as_map(values)
    d = np.concatenate([np.diff(a, axis=0).ravel(), np.diff(a, axis=1).ravel()])
    d = d[np.isfinite(d)]
    if d.size < 10:
        return float("nan")
    return float(1.4826 * np.median(np.abs(d - np.median(d))) / np.sqrt(2.0))


def _offsets(max_lag_px):
    """Lag vectors ``(dy, dx)`` of a half plane with ``0 < |d| <= max_lag_px``."""
    hm = int(np.floor(max_lag_px))
    out = []
    for dy in range(0, hm + 1):
        for dx in range(-hm, hm + 1):
            if (dy == 0 and dx <= 0) or math.hypot(dy, dx) > max_lag_px:
                continue
            out.append((dy, dx))
    return out


def _pair_sq_diffs(a, ok, dy, dx):
    ny, nx = a.shape
    if dy >= ny or abs(dx) >= nx:
        return np.empty(0)
    x1, x0 = (slice(dx, nx), slice(0, nx - dx)) if dx >= 0 else (slice(0, nx + dx), slice(-dx, nx))
    m = ok[dy:, x1] & ok[:ny - dy, x0]
    return ((a[dy:, x1] - a[:ny - dy, x0])[m]) ** 2


def _trim_factor(trim_fraction):
    """Mean of the smallest ``1 - trim`` of ``Z^2`` (``Z`` standard normal)."""
    q = 1.0 - float(trim_fraction)
    if q >= 1.0:
        return 1.0
    from scipy.special import ndtri

    z = float(ndtri(1.0 - float(trim_fraction) / 2.0))
    return (q - 2.0 * z * math.exp(-0.5 * z * z) / math.sqrt(2.0 * math.pi)) / q


def robust_variogram(values, max_lag_px: float = NOISE_MAX_LAG_PX, *,
                     trim_fraction: float = NOISE_TRIM_FRACTION, valid=None):
    """Isotropic semivariogram of a map with gaps, robust to sparse sharp features.

    For every lag vector ``d`` (integer, ``|d| <= max_lag_px``) the squared differences
    ``(a(p + d) - a(p))^2`` of all pairs of valid pixels are pooled by distance ``h = |d|``;
    the largest ``trim_fraction`` of them are left out and the mean of the rest is divided by
    its expectation for Gaussian differences of unit variance, so that
    ``gamma(h) = 1/2 E[(a(p + d) - a(p))^2]`` for Gaussian noise and smooth signal while hot
    spots and steps that touch a minority of the pairs do not enter.  ``trim_fraction = 0``
    gives the classical (Matheron) estimator.

    Parameters
    ----------
    values : (Y, X) array_like
        NaN where unknown.
    max_lag_px : float
        Largest distance (pixels).
    trim_fraction : float
        Fraction of the largest squared differences left out at each distance, in ``[0, 0.9]``.
    valid : (Y, X) bool array_like, optional
        Pixels to use (default: the finite ones).

    Returns
    -------
    h_px, gamma, n_pairs : (m,) ndarray
        Distinct distances (pixels, increasing), semivariance (the map's units squared) and the
        number of pairs at each.
    offsets : dict
        ``{h: [(dy, dx), ...]}``: the lag vectors pooled at each distance.
    """
    a = _as_map(values)
    ok = np.isfinite(a) if valid is None else (np.asarray(valid, bool) & np.isfinite(a))
    if not (0.0 <= float(trim_fraction) <= 0.9):
        raise ParameterError("trim_fraction", trim_fraction, "must be in [0, 0.9]")
    if not (np.isfinite(max_lag_px) and max_lag_px >= 1):
        raise ParameterError("max_lag_px", max_lag_px, "must be finite and >= 1 (pixels)")
    a0 = np.where(ok, a, 0.0)
    groups: dict = {}
    for dy, dx in _offsets(max_lag_px):
        d2 = _pair_sq_diffs(a0, ok, dy, dx)
        if d2.size:
            key = round(math.hypot(dy, dx), 9)
            groups.setdefault(key, ([], []))
            groups[key][0].append(d2)
            groups[key][1].append((dy, dx))
    c = _trim_factor(trim_fraction)
    hs, gs, ns, offs = [], [], [], {}
    for key in sorted(groups):
        d2 = np.concatenate(groups[key][0])
        keep = max(1, int(round(d2.size * (1.0 - float(trim_fraction)))))
        if keep < d2.size:
            d2 = np.partition(d2, keep - 1)[:keep]
        hs.append(key)
        gs.append(float(d2.mean()) / c / 2.0)
        ns.append(int(sum(g.size for g in groups[key][0])))
        offs[key] = groups[key][1]
    return (np.asarray(hs, float), np.asarray(gs, float), np.asarray(ns, np.int64), offs)


def empirical_variogram(values, max_lag_px: float = NOISE_MAX_LAG_PX):
    """Classical isotropic semivariogram of a map with gaps.

    ``gamma(h) = 1/2 mean[(a(p + d) - a(p))^2]`` over every pixel pair whose offset ``d``
    (integer, ``|d| = h <= max_lag_px``) joins two finite pixels, pooled by distance
    (:func:`robust_variogram` with nothing trimmed).

    Parameters
    ----------
    values : (Y, X) array_like
        NaN where unknown.
    max_lag_px : float
        Largest offset (pixels).

    Returns
    -------
    h_px, gamma, n_pairs : (m,) ndarray
        Distinct distances (pixels, increasing), semivariance (the map's units squared) and
        the number of pairs at each.
    """
    h, g, n, _ = robust_variogram(values, max_lag_px, trim_fraction=0.0)
    return h, g, n


def _kernel_1d(l_px):
    """The 1-D Gaussian kernel of :func:`scipy.ndimage.gaussian_filter` (std ``l_px``)."""
    from scipy import ndimage

    r = int(4.0 * float(l_px) + 0.5)
    d = np.zeros(2 * r + 1)
    d[r] = 1.0
    return ndimage.gaussian_filter1d(d, float(l_px), mode="constant")


def _corr_1d(l_px, max_lag):
    """Correlation ``rho(k)``, ``k = 0..max_lag``, of 1-D white noise filtered by the kernel."""
    k = _kernel_1d(l_px)
    ac = np.correlate(k, k, mode="full")
    mid = ac.size // 2
    out = np.zeros(int(max_lag) + 1)
    n = min(out.size, ac.size - mid)
    out[:n] = ac[mid:mid + n]
    return out / out[0]


def _corr_at(l_px, offsets_by_h, h):
    """Correlation of the correlated part at each pooled distance (mean over its lag vectors)."""
    m = int(max(abs(v) for key in h for d in offsets_by_h[key] for v in d))
    r1 = _corr_1d(l_px, m)
    return np.asarray([np.mean([r1[abs(dy)] * r1[abs(dx)] for dy, dx in offsets_by_h[key]])
                       for key in h])


@dataclass(frozen=True)
class MapNoiseModel:
    """Noise of a map, white and spatially correlated parts (:func:`fit_map_noise`).

    Model (pixel units): white noise of variance ``white_sigma**2`` plus white noise filtered
    by a Gaussian of std ``correlation_length_px`` (the discrete kernel of
    :func:`scipy.ndimage.gaussian_filter`), of variance ``correlated_sigma**2`` (module
    docstring).

    Attributes
    ----------
    sigma : float
        Per-pixel noise std, white and correlated parts together (the map's units):
        ``sqrt(white_sigma**2 + correlated_sigma**2)``, what an rms difference from the true
        map sees.  NaN when the map has too few pixels (``model`` ``"none"``).
    white_sigma : float
        Std of the white part.
    correlated_sigma : float
        Std of the correlated part (0 for ``model`` ``"white"``).
    correlation_length_px : float
        ``l``: std (pixels) of the Gaussian that correlates the correlated part (0 for
        ``"white"``); its correlation falls to 1/e at about ``2 l``.
    model : str
        ``"white"``, ``"white+gaussian"`` or ``"none"`` (too few pixels to fit).
    signal_sigma : float
        ``sqrt(S)``: std of the fitted smooth signal (a nuisance term of the fit).
    signal_length_px : float
        ``L``: the signal's Gaussian scale in ``S (1 - exp(-h^2 / L^2))`` (pixels).
    neighbour_sigma : float
        :func:`neighbour_difference_noise` of the map (white-noise assumption; low by
        ``sqrt(1 - rho(1))`` for correlated noise), for reference.
    max_lag_px : float
        Largest lag fitted (pixels).
    n_px : int
        Pixels of the map used.
    """

    sigma: float
    white_sigma: float
    correlated_sigma: float
    correlation_length_px: float
    model: str
    signal_sigma: float
    signal_length_px: float
    neighbour_sigma: float
    max_lag_px: float
    n_px: int

    # names of the former transport result (ssbscope.transport.current_density)
    @property
    def noise(self) -> float:
        """Alias of :attr:`sigma`."""
        return self.sigma

    @property
    def white_noise(self) -> float:
        """Alias of :attr:`neighbour_sigma` (the neighbour-difference estimate)."""
        return self.neighbour_sigma

    @property
    def signal_std(self) -> float:
        """Alias of :attr:`signal_sigma`."""
        return self.signal_sigma

    def correlation(self, dy_px, dx_px=0):
        """Correlation of the noise (white and correlated parts) between pixels ``d`` apart.

        Parameters
        ----------
        dy_px, dx_px : int or array_like of int
            Lag along y and x (pixels).

        Returns
        -------
        float or ndarray
            1 at zero lag; ``C rho_l(d) / (W + C)`` elsewhere.
        """
        dy = np.abs(np.asarray(dy_px, int))
        dx = np.abs(np.asarray(dx_px, int))
        zero = (dy == 0) & (dx == 0)
        if not self.sigma > 0:  # NaN model, or a noise-free map
            return np.where(zero, 1.0, np.nan if np.isnan(self.sigma) else 0.0)
        rc = np.zeros(np.broadcast(dy, dx).shape)
        if self.correlated_sigma > 0:
            r1 = _corr_1d(self.correlation_length_px, int(max(dy.max(initial=0),
                                                                dx.max(initial=0))))
            rc = r1[dy] * r1[dx]
        return np.where(zero, 1.0, self.correlated_sigma ** 2 * rc / self.sigma ** 2)

    def field(self, shape, rng) -> np.ndarray:
        """One realisation of the noise on a ``shape`` grid (the map's units).

        Parameters
        ----------
        shape : (int, int)
        rng : numpy.random.Generator

        Returns
        -------
        (ny, nx) ndarray
        """
        from scipy import ndimage

        ny, nx = (int(v) for v in shape)
        f = self.white_sigma * rng.standard_normal((ny, nx))
        if self.correlated_sigma > 0:
            pad = int(4 * self.correlation_length_px + 2)
            k = _kernel_1d(self.correlation_length_px)
            c = ndimage.gaussian_filter(rng.standard_normal((ny + 2 * pad, nx + 2 * pad)),
                                        self.correlation_length_px, mode="wrap")
            f += self.correlated_sigma / float(np.sum(k ** 2)) * c[pad:pad + ny, pad:pad + nx]
        return f

    def smoothed_sigma(self, smoothing_um=None, pixel_um=1.0, *, valid=None,
                       n_realisations: int = 8, seed: int = 0) -> float:
        """Noise std of the map after a Gaussian smoothing.

        Without ``valid``: the exact std at an interior pixel of a Gaussian filter of std
        ``smoothing_um`` (scipy's discrete kernel): ``W sum w^2 + C sum (w * k_l)^2 /
        sum k_l^2`` with ``w`` the smoothing kernel and ``k_l`` the noise's.  With ``valid``:
        the rms over those pixels of :func:`ssbscope._maps.smooth_with_gaps` (normalised
        convolution, NaN gaps, reflected sides) applied to ``n_realisations`` noise fields
        drawn from the model on them, ``std^2 = mean_r var_valid(G_s * n_r)`` (gaps and sides
        raise the noise near them; deterministic for a given ``seed``).

        Parameters
        ----------
        smoothing_um : float, optional
            Standard deviation of the Gaussian (um); None or 0: :attr:`sigma`.
        pixel_um : float or (float, float)
            Pixel size (um), or ``(dy, dx)``; 1 gives ``smoothing_um`` in pixels.
        valid : (ny, nx) bool array_like, optional
            Pixels of the smoothed map (NaN gaps elsewhere).
        n_realisations : int
            Noise fields drawn when ``valid`` is given.
        seed : int
            Seed of the draws.

        Returns
        -------
        float
            The map's units; NaN for a model that is NaN.
        """
        from scipy import ndimage

        from ssbscope._maps import smooth_with_gaps

        sm = float(smoothing_um or 0.0)
        if not (0.0 <= sm < float("inf")):
            raise ParameterError("smoothing_um", smoothing_um, "must be finite and >= 0 (um)")
        if not np.isfinite(self.sigma):
            return float("nan")
        if sm == 0 or self.sigma == 0:
            return float(self.sigma)
        dy, dx = ((float(pixel_um),) * 2 if np.ndim(pixel_um) == 0
                  else tuple(float(v) for v in pixel_um))
        s_px = (sm / dy, sm / dx)
        if valid is None:
            half = int(4 * max(s_px) + 4 * self.correlation_length_px + 3)
            d = np.zeros((2 * half + 1,) * 2)
            d[half, half] = 1.0
            w = ndimage.gaussian_filter(d, s_px, mode="constant")
            var = self.white_sigma ** 2 * float(np.sum(w ** 2))
            if self.correlated_sigma > 0:
                k = _kernel_1d(self.correlation_length_px)
                wk = ndimage.gaussian_filter(w, self.correlation_length_px, mode="constant")
                var += self.correlated_sigma ** 2 * float(np.sum(wk ** 2)) / float(
                    np.sum(k ** 2)) ** 2
            return float(np.sqrt(var))
        ok = np.asarray(valid, bool)
        if ok.ndim != 2 or not ok.any():
            raise InputError(f"valid: expected a (y, x) mask with valid pixels, got shape "
                             f"{ok.shape}")
        rng = np.random.default_rng(seed)
        var = []
        for _ in range(max(1, int(n_realisations))):
            f = np.where(ok, self.field(ok.shape, rng), np.nan)
            var.append(np.nanvar(smooth_with_gaps(f, s_px, ok)))
        return float(np.sqrt(np.mean(var)))


def fit_map_noise(values, *, valid=None, max_lag_px: float = NOISE_MAX_LAG_PX,
                  max_length_px: float = NOISE_MAX_LENGTH_PX,
                  scale_ratio: float = NOISE_SCALE_RATIO,
                  trim_fraction: float = NOISE_TRIM_FRACTION,
                  min_signal_length_px: float = NOISE_MIN_SIGNAL_LENGTH_PX) -> MapNoiseModel:
    r"""Fit the white + correlated noise model to a map's own robust semivariogram.

    The semivariograms of the noise and of the signal add:

    .. math::

        \gamma(h) = W + C \left(1 - \rho_l(h)\right)
                     + S \left(1 - e^{-h^2/L^2}\right) + T h^2,
        \qquad L \geq \max(L_{min}, 2 r l), \quad 1 \leq h \leq h_{max},

    with ``W`` the white variance (the nugget), ``C`` the correlated variance, ``rho_l`` the
    correlation of white noise filtered by a Gaussian of std ``l`` (module docstring; averaged
    over the lag vectors pooled at each distance), ``S``, ``L`` the signal's variance and
    Gaussian scale and ``T h^2`` a trend (a gradient across the map, or signal on scales
    beyond the map).  :func:`robust_variogram` gives ``gamma`` at the distances ``h``
    (``trim_fraction`` of the largest squared differences left out, so the few pairs across
    sharp features do not count as noise).  For every ``(l, L)`` of a logarithmic grid
    (``NOISE_MIN_LENGTH_PX <= l <= max_length_px``, ``L <= 300`` px) ``W, C, S, T >= 0`` are
    the non-negative least-squares fit, and the pair with the least residual is kept; the
    white model (``C = 0``) is fitted the same way.  Weights: first relative
    (``sqrt(n_pairs) / gamma``), then, from that fit, the sampling variance of the noise's
    part (``2 gamma_noise^2 / n_pairs``) plus that of the signal's part, which a map holds in
    only ``~ n_px / (pi L^2)`` independent patches (``gamma_signal^2 pi L^2 / n_px``), so that
    the signal's large-lag shape, known to a few patches only, does not pass for noise.  The
    correlated part is kept when its F statistic against the white fit exceeds the
    :data:`NOISE_CORRELATED_F_LEVEL` quantile; otherwise ``model`` is ``"white"``.

    Identifying assumptions: the noise is stationary, isotropic (in pixels) and Gaussian; the
    signal varies on a longer scale than the noise (``L >= 2 r l`` and ``L >= L_min``, so
    noise with ``2 l`` near or above ``L_min`` = 4 px, i.e. ``l >~ 2`` px, is taken for
    signal); a bias (mean offset) and an error that follows the signal stay out of the
    estimate.  Sharp features touching more than ``trim_fraction`` of the pixel pairs enter
    the noise (conservative: ``sigma`` and above all its smoothed value read high).

    Measured (benchmarks/map_noise_estimators.py and its README table: 96 x 96 disk maps,
    3 draws; estimate over the true std, unsmoothed and after Gaussian smoothing of 2 and
    6 px): white + correlated noise with ``l`` = 0-1.5 px under smooth (4 and 8 px), 3 px
    hot-spot and sharp (1.25 px bumps and steps) signals, 0.90-1.10, except white noise under
    the sharp signal (1.10 / 1.89 / 2.15: read high); ``l`` = 2-3 px: 0.06-0.55 (taken for
    signal).  32 x 32 disk maps (~550 pixels, a 4 px signal;
    tests/transport/test_current_density_truth.py): medians over 12 maps 0.91-1.02, single
    maps 0.77-1.17.

    Parameters
    ----------
    values : (Y, X) array_like
        The map (NaN where unknown).
    valid : (Y, X) bool array_like, optional
        Pixels to use (default: the finite ones).
    max_lag_px : float
        Largest distance fitted ``h_max`` (pixels).
    max_length_px : float
        Largest correlation length ``l`` tried (pixels).
    scale_ratio : float
        ``r``: the signal's scale ``L`` is at least ``r`` times the noise's ``2 l``.
    trim_fraction : float
        Passed to :func:`robust_variogram`.
    min_signal_length_px : float
        ``L_min``: the signal's shortest Gaussian scale (pixels).

    Returns
    -------
    MapNoiseModel
        NaN (``model`` ``"none"``; ``neighbour_sigma`` still given where it can be) with fewer
        than :data:`NOISE_MIN_PX` pixels or 6 distances.

    Examples
    --------
    White noise of std 0.1 plus noise correlated over ``l`` = 1 px of std 0.2, on a smooth
    signal:

    >>> from scipy import ndimage
    >>> rng = np.random.default_rng(0)
    >>> y, x = np.mgrid[:96, :96]
    >>> c = ndimage.gaussian_filter(rng.standard_normal((96, 96)), 1.0)
    >>> m = np.sin(x / 9.0) + 0.1 * rng.standard_normal((96, 96)) + 0.2 * c / c.std()
    >>> r = fit_map_noise(m)
    >>> r.model, bool(abs(r.sigma / np.hypot(0.1, 0.2) - 1) < 0.15)
    ('white+gaussian', True)
    """
    from scipy.optimize import nnls
    from scipy.special import fdtri

    a = _as_map(values)
    ok = np.isfinite(a) if valid is None else (np.asarray(valid, bool) & np.isfinite(a))
    if ok.shape != a.shape:
        raise InputError(f"valid: shape {ok.shape} differs from the map's {a.shape}")
    for nm, v in (("max_lag_px", max_lag_px), ("max_length_px", max_length_px),
                  ("scale_ratio", scale_ratio), ("min_signal_length_px", min_signal_length_px)):
        if not np.isfinite(v) or v <= 0:
            raise ParameterError(nm, v, "must be finite and > 0")
    n_px = int(ok.sum())
    neigh = neighbour_difference_noise(np.where(ok, a, np.nan))
    nan = float("nan")
    none = MapNoiseModel(nan, nan, nan, nan, "none", nan, nan, neigh, float(max_lag_px), n_px)
    if n_px < NOISE_MIN_PX:
        return none
    h, g, n, offs = robust_variogram(a, max(float(max_lag_px), 1.0),
                                     trim_fraction=trim_fraction, valid=ok)
    if h.size and np.all(g == 0):  # a constant map
        return MapNoiseModel(0.0, 0.0, 0.0, 0.0, "white", 0.0, 0.0, neigh,
                             float(max_lag_px), n_px)
    use = g > 0
    if use.sum() < 6:
        return none
    h, g, n = h[use], g[use], n[use]
    trend = (h / h.max()) ** 2
    shapes = [(big, np.column_stack([1.0 - np.exp(-(h / big) ** 2), trend]))
              for big in np.geomspace(float(min_signal_length_px), 300.0, 40)]
    lmin = NOISE_MIN_LENGTH_PX
    rhos = [(ell, _corr_at(ell, offs, h))
            for ell in np.geomspace(lmin, max(float(max_length_px), lmin), 24)]
    ones = np.ones((h.size, 1))

    def fits(w):
        gw = g * w
        best_w = best_c = None
        for big, sig in shapes:
            coef, res = nnls(np.hstack([ones, sig]) * w[:, None], gw)
            if best_w is None or res < best_w[0]:
                best_w = (float(res), 0.0, big, np.insert(coef, 1, 0.0))
        for ell, rho in rhos:
            for big, sig in shapes:
                if big < 2.0 * scale_ratio * ell:
                    continue
                coef, res = nnls(np.hstack([ones, (1.0 - rho)[:, None], sig]) * w[:, None], gw)
                if best_c is None or res < best_c[0]:
                    best_c = (float(res), ell, big, coef)
        return best_w, best_c or best_w

    # 1. relative weights: each distance's estimate has a relative error ~ 1 / sqrt(pairs)
    best_w, best_c = fits(np.sqrt(n.astype(float)) / g)
    # 2. weights from the first fit's noise (pair sampling) and signal (patch count) parts
    _, ell, big, coef = best_c
    rho = dict(rhos).get(ell, np.zeros_like(h))
    g_noise = coef[0] + coef[1] * (1.0 - rho)
    g_sig = np.maximum(g - g_noise, 0.0)
    var = 2.0 * g_noise ** 2 / n + g_sig ** 2 * min(1.0, np.pi * big ** 2 / n_px)
    best_w, best_c = fits(1.0 / np.sqrt(np.maximum(var, 1e-12 * g.max() ** 2)))
    # F test of the correlated part's two parameters (C, l) against the white fit
    dof = max(h.size - 6, 1)
    rss_w, rss_c = best_w[0] ** 2, best_c[0] ** 2
    f_stat = ((rss_w - rss_c) / 2.0) / max(rss_c / dof, 1e-300)
    if best_c[3][1] > 0 and f_stat > float(fdtri(2, dof, NOISE_CORRELATED_F_LEVEL)):
        _, ell, big, coef = best_c
        model = "white+gaussian"
    else:
        _, ell, big, coef = best_w
        ell, model = 0.0, "white"
    wv, cv, sv = float(coef[0]), float(coef[1]), float(coef[2])
    return MapNoiseModel(sigma=float(np.sqrt(wv + cv)), white_sigma=float(np.sqrt(wv)),
                         correlated_sigma=float(np.sqrt(cv)),
                         correlation_length_px=float(ell), model=model,
                         signal_sigma=float(np.sqrt(sv)), signal_length_px=float(big),
                         neighbour_sigma=neigh, max_lag_px=float(max_lag_px), n_px=n_px)
