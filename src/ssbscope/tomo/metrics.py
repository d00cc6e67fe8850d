"""Lithium morphology metrics from segmented CT volumes.

Volumes are ``(z, y, x)`` with z the stacking axis (current flow) unless ``axis`` says
otherwise; lengths in µm, volumes in µm^3.  Every multi-field result is a frozen dataclass;
:func:`to_dataset` stacks a list of them (one per scan) into an ``xarray.Dataset`` on
``time_s`` so a pipeline stage can store them as time series aligned with the
electrochemistry.

Papers: interface roughness Ra/Rq (Eqs. 6-7 of 000_290f30815ae66793, Table 1); thickness
maps, pore + crack volume, crack capacity for deposited Li and pore/crack greyscale overlap
(001_a2c994afa3295f29, Figs. 3c, 5, S4); Li-connected vs isolated low-attenuation regions,
layer volume fractions and the median-greyscale profile (002_3ee4edf529433f9c, Fig. 3F-J).
"""

from __future__ import annotations

import dataclasses
import logging
import math
import warnings
from dataclasses import dataclass

from typing import TYPE_CHECKING

import numpy as np

from ssbscope.errors import DataQualityError, EmptyResultError, InputError, ParameterError

if TYPE_CHECKING:  # pragma: no cover
    import xarray

__all__ = [
    "Roughness",
    "roughness",
    "NoiseCorrectedRoughness",
    "roughness_noise_corrected",
    "EdgeSpread",
    "lateral_edge_spread",
    "ResolutionCorrectedRoughness",
    "roughness_resolution_corrected",
    "surface_forward_heights",
    "detrend_plane",
    "interface_height_map",
    "TruncatedHeights",
    "exterior_shading",
    "interface_height_map_truncated",
    "phase_retrieved_contrast",
    "thickness_map",
    "ThicknessStats",
    "thickness_stats",
    "thickness_outliers",
    "ThicknessOutliers",
    "central_region",
    "phase_volumes",
    "percent_change",
    "pore_volume",
    "partial_volume",
    "CrackChange",
    "crack_change",
    "faraday_li_thickness_um",
    "crack_li_fraction",
    "GaussianOverlap",
    "overlap_coefficient",
    "fit_two_gaussians",
    "gaussian_overlap",
    "LowAttenuationRegions",
    "classify_low_attenuation",
    "layer_volume_fractions",
    "SliceProfile",
    "median_profile",
    "NewFilaments",
    "new_filaments",
    "to_dataset",
]

log = logging.getLogger(__name__)


def _check_voxel(voxel_size_um) -> float:
    v = float(voxel_size_um)
    if not (math.isfinite(v) and v > 0):
        raise ParameterError("voxel_size_um", voxel_size_um, "must be a finite length > 0",
                             "pass the voxel edge length in micrometres")
    return v


def _check_axis(axis, ndim=3) -> int:
    if axis not in range(-ndim, ndim):
        raise ParameterError("axis", axis, f"must be in -{ndim}..{ndim - 1}",
                             "use axis=0 for the stacking axis z")
    return axis % ndim


def _mask3(mask, name="mask") -> np.ndarray:
    arr = np.asarray(mask)
    if arr.ndim != 3:
        raise InputError(f"{name}: expected a 3-D (z, y, x) array, got shape {arr.shape}")
    if arr.dtype != np.bool_:
        if not np.issubdtype(arr.dtype, np.integer):
            raise InputError(f"{name}: dtype {arr.dtype} is not boolean; segment the volume "
                             "first (ssbscope.tomo.segment_phases)")
        arr = arr != 0
    return arr


# --------------------------------------------------------------------------- roughness

@dataclass(frozen=True)
class Roughness:
    """Arithmetic and root-mean-square roughness of a height map (Eqs. 6-7, 000_...).

    Unpacks as ``ra_um, rq_um = roughness(h)``.

    Attributes
    ----------
    ra_um, rq_um : float
        Mean |Z| and sqrt(mean Z^2) of the plane-detrended height Z (µm).
    n_columns : int
        Columns used.
    n_excluded : int
        Columns excluded because their height is NaN (no interface found there).
    plane_um : tuple of float
        Best-fit plane ``(c0, c_row, c_col)``: ``h ~ c0 + c_row * i + c_col * j`` (µm; i, j
        the map's row and column indices).
    """

    ra_um: float
    rq_um: float
    n_columns: int
    n_excluded: int
    plane_um: tuple[float, float, float]

    def __iter__(self):
        return iter((self.ra_um, self.rq_um))

    def __len__(self):
        return 2

    def __getitem__(self, i):
        return (self.ra_um, self.rq_um)[i]


def detrend_plane(height_map_um) -> tuple[np.ndarray, tuple[float, float, float]]:
    """Subtract the least-squares plane from a height map, ignoring NaN entries.

    Parameters
    ----------
    height_map_um : (M, N) array_like
        Heights (µm); NaN where no interface was found.

    Returns
    -------
    residual_um : (M, N) ndarray
        ``h - plane`` (NaN kept).
    plane_um : (c0, c_row, c_col)
        Plane coefficients in µm per index.
    """
    h = np.asarray(height_map_um, dtype=float)
    if h.ndim != 2:
        raise InputError(f"height_map_um: expected a 2-D map, got shape {h.shape}")
    if np.isinf(h).any():
        raise DataQualityError("height_map_um: contains inf; mark missing columns with NaN")
    ok = np.isfinite(h)
    if ok.sum() < 3:
        raise EmptyResultError(
            f"height_map_um: only {int(ok.sum())} of {h.size} columns hold a height (the rest "
            "are NaN: no interface found); a plane needs >= 3; check the segmentation")
    ii, jj = np.nonzero(ok)
    a = np.column_stack([np.ones(ii.size), ii.astype(float), jj.astype(float)])
    coef, *_ = np.linalg.lstsq(a, h[ok], rcond=None)
    i_all, j_all = np.indices(h.shape, dtype=float)
    resid = h - (coef[0] + coef[1] * i_all + coef[2] * j_all)
    return resid, (float(coef[0]), float(coef[1]), float(coef[2]))


def roughness(height_map_um) -> Roughness:
    """Roughness Ra and Rq of an interface height map after plane detrending.

    ``Ra = (1/A) ∬ |Z| dx dy`` (Eq. 6 of 000_290f30815ae66793) and
    ``Rq = sqrt((1/A) ∬ Z^2 dx dy)`` (Eq. 7), with Z the height above the least-squares
    best-fit plane (so a tilted but flat interface has zero roughness).  On a regular grid
    the integrals are means over the columns.

    Parameters
    ----------
    height_map_um : (M, N) array_like
        Interface height Z(x, y) in µm (e.g. from :func:`interface_height_map`); NaN marks
        columns without an interface, which are excluded and counted.

    Returns
    -------
    Roughness
        ``ra_um, rq_um`` (unpackable as a pair) plus the column counts and the plane.

    Raises
    ------
    EmptyResultError
        Fewer than 3 columns hold a height (e.g. a segmentation that found no Li).
    DataQualityError
        The map holds inf.

    Examples
    --------
    >>> import numpy as np
    >>> h = np.add.outer(np.arange(4.0), np.arange(5.0))   # a tilted plane
    >>> ra, rq = roughness(h)
    >>> round(ra, 12), round(rq, 12)
    (0.0, 0.0)
    """
    resid, plane = detrend_plane(height_map_um)
    ok = np.isfinite(resid)
    z = resid[ok]
    n_ex = int(resid.size - z.size)
    if n_ex:
        log.info("roughness: %d of %d columns have no interface (NaN) and are excluded",
                 n_ex, resid.size)
    return Roughness(ra_um=float(np.mean(np.abs(z))), rq_um=float(np.sqrt(np.mean(z * z))),
                     n_columns=int(z.size), n_excluded=n_ex, plane_um=plane)


@dataclass(frozen=True)
class NoiseCorrectedRoughness:
    """Roughness of a measured height map with the height-estimation noise removed.

    Attributes
    ----------
    ra_um, rq_um : float
        Noise-corrected Ra and Rq (µm): ``Rq = sqrt(Rq_raw^2 - noise^2)`` and
        ``Ra = Ra_raw x Rq / Rq_raw`` (the measured Ra/Rq shape factor kept; for Gaussian
        surface and noise both are ``sqrt(2/pi) Rq``); 0 where the noise explains all of the
        measured variance.
    ra_raw_um, rq_raw_um : float
        Ra and Rq of the height map as measured (:func:`roughness`).
    noise_um : float
        Standard deviation of the height noise (µm): the nugget of the map's lag covariance
        (see :func:`roughness_noise_corrected`).
    covariance_um2 : tuple of float
        Lag covariance ``C(0), C(1), C(2)`` of the detrended map (µm^2; lags in columns, the
        two axes pooled).
    n_columns : int
        Columns used.
    """

    ra_um: float
    rq_um: float
    ra_raw_um: float
    rq_raw_um: float
    noise_um: float
    covariance_um2: tuple[float, float, float]
    n_columns: int

    def __iter__(self):
        return iter((self.ra_um, self.rq_um))


def _lag_covariance(z, ok, lag: int) -> float:
    a = ok[:, lag:] & ok[:, :-lag]
    b = ok[lag:] & ok[:-lag]
    prod = np.concatenate([(z[:, lag:] * z[:, :-lag])[a], (z[lag:] * z[:-lag])[b]])
    return float(np.mean(prod)) if prod.size else float("nan")


def roughness_noise_corrected(height_map_um) -> NoiseCorrectedRoughness:
    """Ra and Rq of a measured interface height map, corrected for height noise.

    A measured height is ``h = h_true + e``; noise in the grey values makes ``e`` a random
    error of each column's height, so ``Rq_raw^2 = Rq_true^2 + var(e)`` and the raw Ra/Rq
    read high when the surface is smooth at the noise's scale (an interface whose Rq is a
    fraction of a voxel).  The noise variance is estimated from the map itself as the
    **nugget** of its lag covariance ``C(r) = mean(Z(x) Z(x + r))`` (Z: plane-detrended
    heights, lags along both map axes pooled): for a surface that is smooth at the scale of
    one column, ``C_true(r) ~ C_true(0) - b r^2`` for small ``r``, so
    ``C_true(0) ~ C(1) + (C(1) - C(2)) / 3`` and ``var(e) = C(0) - C_true(0)``.

    Assumptions (state them with the result):

    * the height errors of neighbouring columns are uncorrelated: heights taken on the
      unfiltered grey values of a slice-wise (parallel-beam) reconstruction, whose noise is
      nearly white in-plane (twin: lag-1 correlation 0.02-0.16 of the errors).  Heights taken
      on a 3x3x3 median share voxels between neighbouring columns; their noise is partly in
      ``C(1)`` and the correction removes less than the noise (a lower bound);
    * the surface is smooth over one to two columns (its correlation length several
      columns).  A surface rough at the pixel scale (or a voxel staircase) has part of its
      own variance in the nugget, and the correction then removes real roughness too: on the
      symmetric Li | Li6PS5Cl | Li twin (correlation 3 voxels, Ra 1.3-2.7 voxels) the
      corrected Rq is 10-15 % below the truth (the raw, 2-8 % below, is closer there);
    * Ra is rescaled with Rq (``Ra = Ra_raw Rq / Rq_raw``): exact when surface and noise are
      both Gaussian (``Ra = sqrt(2/pi) Rq``), approximate otherwise.

    Parameters
    ----------
    height_map_um : (M, N) array_like
        Interface height (µm), NaN where no interface was found (as :func:`roughness`).

    Returns
    -------
    NoiseCorrectedRoughness

    Raises
    ------
    EmptyResultError
        Fewer than 3 columns hold a height.

    Examples
    --------
    >>> import numpy as np
    >>> y, x = np.mgrid[:64, :64]
    >>> surf = 2.0 * np.sin(2 * np.pi * x / 32) * np.cos(2 * np.pi * y / 32)
    >>> noise = np.random.default_rng(0).normal(0, 1.5, surf.shape)
    >>> r = roughness_noise_corrected(surf + noise)
    >>> round(r.rq_raw_um, 1), round(r.rq_um, 1), round(r.noise_um, 1)   # true Rq 1.0
    (1.8, 1.0, 1.5)
    """
    raw = roughness(height_map_um)
    z, _plane = detrend_plane(height_map_um)
    ok = np.isfinite(z)
    zz = np.where(ok, z, 0.0)
    c0 = float(np.mean(z[ok] ** 2))
    c1, c2 = _lag_covariance(zz, ok, 1), _lag_covariance(zz, ok, 2)
    if np.isfinite(c1) and np.isfinite(c2):
        s0 = min(max(c1 + (c1 - c2) / 3.0, 0.0), c0)
    else:  # a map one column wide: no lag to extrapolate from
        s0 = c0
    noise2 = c0 - s0
    rq = math.sqrt(s0)
    ra = raw.ra_um * rq / raw.rq_um if raw.rq_um > 0 else 0.0
    return NoiseCorrectedRoughness(ra_um=float(ra), rq_um=float(rq), ra_raw_um=raw.ra_um,
                                   rq_raw_um=raw.rq_um, noise_um=float(math.sqrt(noise2)),
                                   covariance_um2=(c0, c1, c2), n_columns=raw.n_columns)


# ------------------------------------------------------------------ resolution-corrected roughness

@dataclass(frozen=True)
class EdgeSpread:
    """Lateral edge spread of a reconstruction at the cell's circumferential wall.

    Attributes
    ----------
    sigma_vox : float
        Standard deviation (voxels) of the Gaussian line spread function fitted to the
        grey values across the wall (an error-function edge).
    edge_vox : float
        Fitted edge position (voxels of signed distance from the cell mask's boundary).
    inside, step : float
        Fitted grey level outside the cell and the step into it.
    n_voxels : int
        Voxels fitted.
    """

    sigma_vox: float
    edge_vox: float
    inside: float
    step: float
    n_voxels: int


def lateral_edge_spread(slices, cell_mask, *, max_distance_vox: float = 6.0) -> EdgeSpread:
    """Lateral resolution of a reconstruction from the edge of a homogeneous layer.

    In slices that cross one homogeneous layer (e.g. the electrolyte pellet away from its
    faces) the only lateral edge is the cell's wall (layer | exterior).  Each voxel's grey
    value is taken against its signed distance ``d`` from the boundary of ``cell_mask``
    (positive inside; Euclidean distance transform of the pixel centres) and fitted by
    ``v(d) = a + b Phi((d - d0) / sigma)`` (Phi: standard normal CDF), the edge spread of
    a Gaussian point spread function of standard deviation ``sigma`` (voxels) applied to
    a sharp wall (edge spread function, e.g. ISO 12233's slanted-edge idea on a curved
    edge: many sub-voxel edge phases).

    Parameters
    ----------
    slices : (n, Y, X) array_like
        Reconstructed grey values of slices through one homogeneous layer.
    cell_mask : (Y, X) array_like of bool
        The cell's columns (:func:`ssbscope.tomo.series.cell_region`).
    max_distance_vox : float, default 6
        Voxels farther than this from the boundary are left out of the fit.

    Returns
    -------
    EdgeSpread

    Raises
    ------
    EmptyResultError
        Fewer than 20 voxels near the wall, or the fit does not converge.
    """
    v = np.asarray(slices)
    if v.ndim == 2:
        v = v[None]
    m = np.asarray(cell_mask, bool)
    if v.shape[1:] != m.shape:
        raise ParameterError("cell_mask", m.shape, f"must match the slices' (Y, X) {v.shape[1:]}")
    d = wall_distance(m)
    near = np.abs(d) <= max_distance_vox
    return fit_edge_spread(np.broadcast_to(d[near], (v.shape[0], int(near.sum()))).ravel(),
                           v[:, near].astype(np.float64).ravel())


def wall_distance(cell_mask) -> np.ndarray:
    """Signed distance (voxels) of each column from the boundary of ``cell_mask``, positive
    inside, the boundary between the pixel centres (Euclidean distance transforms): the
    abscissa of :func:`lateral_edge_spread`.

    Parameters
    ----------
    cell_mask : (Y, X) array_like of bool

    Returns
    -------
    (Y, X) ndarray of float64
    """
    from scipy import ndimage

    m = np.asarray(cell_mask, bool)
    d = ndimage.distance_transform_edt(m) - ndimage.distance_transform_edt(~m)
    return np.where(m, d - 0.5, d + 0.5)


def fit_edge_spread(distance_vox, values, counts=None) -> EdgeSpread:
    """The edge-spread fit of :func:`lateral_edge_spread` on samples gathered elsewhere:
    ``v(d) = a + b Phi((d - d0) / sigma)``, least squares.

    With ``counts`` the samples are group means (``values[k]`` the mean of ``counts[k]``
    voxels at the same distance ``distance_vox[k]``, e.g. accumulated slab by slab,
    :func:`ssbscope.tomo.series_chunked._lateral_psf`): the fit weights each by its count,
    which minimises the same sum of squares as the voxels themselves (the sum over a group
    of ``(v_i - f(d))^2`` is ``n (mean - f(d))^2`` plus a constant), in memory of the
    number of distinct distances (a few hundred within 6 voxels of the wall) instead of the
    voxels'.

    Parameters
    ----------
    distance_vox, values : (n,) array_like
        Signed distance from the wall (:func:`wall_distance`) and grey value (or group mean)
        of each sample.
    counts : (n,) array_like, optional
        Voxels behind each sample (None: one each).

    Returns
    -------
    EdgeSpread

    Raises
    ------
    EmptyResultError
        Fewer than 20 finite voxels, none beyond one voxel on either side, or no
        convergence.
    """
    from scipy.optimize import curve_fit
    from scipy.special import ndtr

    dd = np.asarray(distance_vox, np.float64).ravel()
    vv = np.asarray(values, np.float64).ravel()
    w = None if counts is None else np.asarray(counts, np.float64).ravel()
    ok = np.isfinite(vv) if w is None else np.isfinite(vv) & (w > 0)
    dd, vv = dd[ok], vv[ok]
    n_vox = vv.size if w is None else float(w[ok].sum())
    if n_vox < 20 or not (np.any(dd > 1) and np.any(dd < -1)):
        raise EmptyResultError("lateral_edge_spread: fewer than 20 voxels on both sides of "
                               "the cell wall; pass slices that cross the cell's edge")
    if w is None:
        sigma = None
        a0 = float(np.median(vv[dd < -1]))
        b0 = float(np.median(vv[dd > 1])) - a0
    else:
        w = w[ok]
        sigma = 1.0 / np.sqrt(w)
        a0 = float(np.average(vv[dd < -1], weights=w[dd < -1]))
        b0 = float(np.average(vv[dd > 1], weights=w[dd > 1])) - a0

    def esf(x, a, b, x0, s):
        return a + b * ndtr((x - x0) / s)

    try:
        p, _ = curve_fit(esf, dd, vv, p0=[a0, b0, 0.0, 0.7], sigma=sigma,
                         bounds=([-np.inf, -np.inf, -3.0, 0.05], [np.inf, np.inf, 3.0, 5.0]))
    except (RuntimeError, ValueError) as exc:
        raise EmptyResultError(f"lateral_edge_spread: the edge fit failed ({exc})") from exc
    return EdgeSpread(sigma_vox=float(p[3]), edge_vox=float(p[2]), inside=float(p[0]),
                      step=float(p[1]), n_voxels=int(n_vox))


@dataclass(frozen=True)
class ResolutionCorrectedRoughness:
    """Roughness of a measured height map corrected for the lateral transfer of the
    measurement (:func:`roughness_resolution_corrected`).

    Attributes
    ----------
    ra_um, rq_um : float
        Corrected Ra and Rq (µm): ``R_meas^2 / R_forward``.
    ra_raw_um, rq_raw_um : float
        Ra and Rq of the map as measured (:func:`roughness`).
    ra_forward_um, rq_forward_um : float
        Ra and Rq of the map after one more pass through the forward model.
    psf_sigma_vox : float
        Gaussian PSF standard deviation (voxels) of the forward model.
    median : bool
        Whether the forward model applies the 3x3x3 median before the heights.
    n_columns : int
    noise_um : float
        Standard deviation of the map's own height noise that was removed (µm; 0: none).
    noise_transfer : float
        Fraction of the noise's variance that one more pass through the forward model keeps
        (``g``; NaN without noise).
    noise_fraction : float
        Share of the measured map's variance that is noise, ``noise_um^2 / rq_raw_um^2``:
        near 1 the correction is a small difference of large numbers (NaN result where the
        forward pass holds no variance beyond its share of the noise).
    """

    ra_um: float
    rq_um: float
    ra_raw_um: float
    rq_raw_um: float
    ra_forward_um: float
    rq_forward_um: float
    psf_sigma_vox: float
    median: bool
    n_columns: int
    noise_um: float = 0.0
    noise_transfer: float = float("nan")
    noise_fraction: float = 0.0

    def __iter__(self):
        return iter((self.ra_um, self.rq_um))


def surface_forward_heights(height_map_um, voxel_size_um: float, *, psf_sigma_vox: float,
                            median: bool) -> np.ndarray:
    """Heights (µm) the measurement chain returns for a given surface.

    The surface ``height_map_um`` (plane-detrended; NaN columns filled by a normalised
    Gaussian average of 3 columns, then 0) is voxelised as partial-volume voxels (the
    lower phase's fraction of each voxel: 1 below the surface, 0 above, linear in the cut
    voxel), blurred by a 3-D Gaussian of ``psf_sigma_vox`` (the reconstruction's PSF),
    passed through the 3x3x3 median when ``median`` (:func:`ssbscope.tomo.filters.median3`)
    and measured by :func:`interface_height_map` with the pure levels 1 and 0.

    Returns
    -------
    (M, N) ndarray
        Forward heights (µm, the detrended surface's frame), NaN where the input is NaN.
    """
    from scipy import ndimage

    from ssbscope.tomo.filters import median3

    vs = _check_voxel(voxel_size_um)
    z, _plane = detrend_plane(height_map_um)
    ok = np.isfinite(z)
    zz = np.where(ok, z, 0.0)
    den = ndimage.gaussian_filter(ok.astype(float), 3.0)
    fill = ndimage.gaussian_filter(zz, 3.0) / np.maximum(den, 1e-12)
    s = np.where(ok, z, np.where(den > 1e-3, fill, 0.0)) / vs
    pad = int(math.ceil(3 * max(psf_sigma_vox, 0.0))) + 5
    lo = float(np.floor(s.min())) - pad
    nz = int(np.ceil(s.max())) + pad - int(lo)
    zc = np.arange(nz)[:, None, None] + lo + 0.5          # voxel centres (voxels)
    # float32: one map-sized column stack of the height range (+ the PSF's margin)
    vol = np.clip((s[None] - (zc - 0.5)).astype(np.float32), 0.0, 1.0)
    if psf_sigma_vox > 0:
        vol = ndimage.gaussian_filter(vol, float(psf_sigma_vox), mode="nearest")
    if median:
        vol = median3(vol)
    h = interface_height_map(vol, vs, lower_level=1.0, upper_level=0.0)
    return np.where(ok, h + lo * vs, np.nan)


def roughness_resolution_corrected(height_map_um, voxel_size_um: float, *,
                                   psf_sigma_vox: float, median: bool = False,
                                   noise_um: float | None = None, noise_map_um=None,
                                   seed: int = 0) -> ResolutionCorrectedRoughness:
    """Ra and Rq of a measured height map corrected for the lateral transfer of the
    measurement (reconstruction PSF, 3x3x3 median, partial-volume heights) and, given the
    map's own noise, for that noise.

    A measured map is ``m = T[h] + n``: the true surface ``h`` through the measurement's
    lateral transfer ``T`` (the reconstruction's point spread, a Gaussian of
    ``psf_sigma_vox``, e.g. from :func:`lateral_edge_spread`; then, for the median height
    estimator, the 3x3x3 median; then the partial-volume heights,
    :func:`surface_forward_heights` simulates ``T``), plus the height estimator's noise ``n``
    of variance ``N``.  ``T`` lowers the roughness of a surface that varies over a few
    columns.  The correction is the bootstrap bias correction of a multiplicative loss:
    ``T`` is applied once more to the measured map and the loss it shows there is taken as
    the loss the measurement caused.  In variances (Rq^2 about the detrending plane),
    ``V_m = S_m + N`` (measured) and ``V_f = var(T[m]) = S_f + g N`` (forward pass), with
    ``g = var(T[m + n'] - T[m]) / var(n')`` the share of the noise's variance one more pass
    keeps (``n'`` a realisation of the noise, ``noise_map_um``, added to the map: ``T`` is
    nonlinear through the median and the partial volume, so its transfer is measured on
    the map itself).  For a transfer that multiplies the surface's amplitude by ``t``,
    ``S_m = t^2 S`` and ``S_f = t^4 S``, so

    ``Rq_corr = S_m / sqrt(S_f) = (V_m - N) / sqrt(V_f - g N)``,

    and ``Ra_corr = (Ra_m^2 / Ra_f) x Rq_corr / (V_m / sqrt(V_f))`` (the Ra of the
    noise-free correction ``R_m^2 / R_f`` rescaled as its Rq is; exact for a Gaussian
    surface and noise).  Without noise (``N = 0``) this is ``R_corr = R_m^2 / R_f``, exact
    for a surface of one spatial frequency under a linear ``T`` (a Gaussian PSF on
    partial-volume heights multiplies the amplitude by ``exp(-2 pi^2 sigma^2 f^2)``); for a
    broad spectrum and for the median (not linear: it cuts curvature) approximate, and low
    where ``T`` removes most of a band.  Without the noise term the forward pass removes
    most of the map's noise too (white height noise keeps ~10 % of its variance through PSF
    + median) and the correction scales the noise up on a noise-dominated map (anode-free
    twin: +18 to +101 %).

    The noise: ``noise_map_um``, one realisation of the map's own noise at its level
    (:func:`ssbscope.tomo.series.height_noise_maps`: the height estimator on the scan's voxel
    noise field, spatial correlation included), sets ``N`` (its variance over the map's
    columns) and ``g``; ``noise_um`` alone: white noise of that std (``seed``); neither:
    ``N = 0``.  The result is NaN where ``V_f <= g N`` (the forward pass holds no variance
    beyond the noise's share: the surface is not resolved from the noise) and 0 where
    ``V_m <= N``.  No truth and no fitted factor enter; the accuracy is that of ``N``'s
    estimate where ``N`` is most of ``V_m`` (``noise_fraction``).

    Measured on the small twins (3 um voxels, 90 angles, median heights, seeds 0 / 1 / 2):
    symmetric Li | Li6PS5Cl (Rq 4-9 um, noise share 0.6-2.7 %) -9.6 / -8.7 / -7.7 %, -3.3 /
    -6.6 / -6.0 %, -5.2 / -12.4 / -12.9 % against the whole cell's truth (the footprint's
    own truth lies 6-10 % below it); anode-free (Ra 0.5-2.2 um, noise share 6-56 %) -13 /
    +4 / +41 / -2 %, -10 / -6 / -11 / +2 %, -6 / -1 / -12 / -5 % against the continuous
    surface on the footprint (without the noise term +72 / +33 / +101 / +18 % on seed 0):
    within 6.4 % wherever the truth is above a third of a voxel, -13 to +41 % below.

    Parameters
    ----------
    height_map_um : (M, N) array_like
        Measured interface height (µm), NaN outside the footprint.
    voxel_size_um : float
    psf_sigma_vox : float
        Lateral (and axial) Gaussian PSF standard deviation of the reconstruction (voxels).
    median : bool, default False
        Whether the map's heights were taken on the 3x3x3 median.
    noise_um : float, optional
        Standard deviation (µm) of the map's height noise, white (used when
        ``noise_map_um`` is None).
    noise_map_um : (M, N) array_like, optional
        A realisation of the map's height noise (µm; NaN where unknown).
    seed : int, default 0
        Seed of the white realisation for ``noise_um``.

    Returns
    -------
    ResolutionCorrectedRoughness

    Raises
    ------
    EmptyResultError
        Fewer than 3 columns hold a height.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.arange(48.0)
    >>> true = np.tile(6.0 * np.sin(2 * np.pi * x / 8), (48, 1))     # Rq 4.243 um
    >>> m = surface_forward_heights(true, 3.0, psf_sigma_vox=0.8, median=False)
    >>> r = roughness_resolution_corrected(m, 3.0, psf_sigma_vox=0.8)
    >>> round(r.rq_raw_um, 2), round(r.rq_um, 2)   # true 4.24 (the map's ends: -1.5 %)
    (3.49, 4.18)
    """
    if not (np.isfinite(psf_sigma_vox) and psf_sigma_vox >= 0):
        raise ParameterError("psf_sigma_vox", psf_sigma_vox, "must be finite and >= 0")
    hm = np.asarray(height_map_um, float)
    raw = roughness(hm)
    kw = dict(psf_sigma_vox=float(psf_sigma_vox), median=bool(median))
    f_map = surface_forward_heights(hm, voxel_size_um, **kw)
    fwd = roughness(f_map)
    ra = raw.ra_um ** 2 / fwd.ra_um if fwd.ra_um > 0 else raw.ra_um
    rq = raw.rq_um ** 2 / fwd.rq_um if fwd.rq_um > 0 else raw.rq_um
    ok = np.isfinite(hm)
    n = None
    if noise_map_um is not None:
        n = np.asarray(noise_map_um, float)
        if n.shape != hm.shape:
            raise ParameterError("noise_map_um", n.shape, f"must match the map's {hm.shape}")
    elif noise_um is not None and np.isfinite(noise_um) and noise_um > 0:
        n = np.random.default_rng(seed).normal(0.0, float(noise_um), hm.shape)
    noise2, g, frac = 0.0, float("nan"), 0.0
    if n is not None:
        okn = ok & np.isfinite(n)
        if okn.sum() >= 3:
            n0 = np.where(okn, n - float(np.mean(n[okn])), 0.0)
            noise2 = float(np.mean(n0[okn] ** 2))
    if noise2 > 0:
        # the noise's share through one more pass, measured on the map (T is nonlinear)
        f_noisy = surface_forward_heights(hm + n0, voxel_size_um, **kw)
        d = (f_noisy - f_map)[okn]
        g = float(np.var(d)) / noise2
        v_m, v_f = raw.rq_um ** 2, fwd.rq_um ** 2
        frac = noise2 / v_m if v_m > 0 else float("inf")
        s_m, s_f = v_m - noise2, v_f - g * noise2
        if s_m <= 0:
            ra = rq = 0.0
        elif s_f <= 0:
            ra = rq = float("nan")
        else:
            rq_c = s_m / math.sqrt(s_f)
            ra = ra * rq_c / rq if rq > 0 else 0.0
            rq = rq_c
    return ResolutionCorrectedRoughness(
        ra_um=float(ra), rq_um=float(rq), ra_raw_um=raw.ra_um, rq_raw_um=raw.rq_um,
        ra_forward_um=fwd.ra_um, rq_forward_um=fwd.rq_um, psf_sigma_vox=float(psf_sigma_vox),
        median=bool(median), n_columns=raw.n_columns, noise_um=math.sqrt(noise2),
        noise_transfer=g, noise_fraction=float(frac))


# --------------------------------------------------------------------------- interface height

def interface_height_map(volume, voxel_size_um: float, axis: int = 0, *,
                         threshold: float | None = None, window_vox: int = 3,
                         origin: str = "face", footprint=None,
                         levels: tuple[float, float] | None = None,
                         lower_level: float | None = None,
                         upper_level: float | None = None) -> np.ndarray:
    """Height of the surface where two phases meet, per column along ``axis`` (µm).

    The volume is segmented with Otsu's threshold (or ``threshold``); the phase found at
    index 0 of ``axis`` is the "lower" phase.  Each column's values are normalised to the
    lower phase's fraction ``f = (v - level_upper) / (level_lower - level_upper)`` with the
    two classes' median grey values (each class eroded by one voxel along ``axis``, or
    ``levels``) as the pure-phase levels, and the height is the
    partial-volume integral of ``f`` over a window of
    ``± window_vox`` voxels around the column's segmented crossing:
    ``h = voxel_size_um * (k0 + sum_{k0 <= i <= k1} f_i)``.  For partial-volume voxels
    (a voxel cut by the surface holds the volume fraction of each phase) and for any
    symmetric blur narrower than the window this is exact, with noise averaged over the
    window; it is the sub-voxel 50 % crossing of the profile.

    Parameters
    ----------
    volume : (Z, Y, X) ndarray
        Greyscale volume (or a boolean mask of the lower phase, then heights are voxel
        counts).  NaN/inf rejected.
    voxel_size_um : float
        Voxel edge length (µm).
    axis : int, default 0
        Axis across the interface (z, the stacking axis).
    threshold : float, optional
        Grey value separating the phases; default Otsu's.
    window_vox : int, default 3
        Half-width of the refinement window (voxels); cover the blur of the interface.
    origin : {"face", "center"}
        Zero of the heights: the outer face of slice 0 (default; slice i spans
        ``[i, i + 1)`` voxels, the convention of :mod:`ssbscope.twin.ct`'s height maps) or the
        centre of slice 0 (slice i centred at i; heights 0.5 voxel lower).
    footprint : ndarray of bool, optional
        Columns to measure (shape of the volume without ``axis``), e.g. the cell's interior
        without its casing wall; the threshold and phase levels come from these columns
        only, the others are NaN.
    levels : (float, float), optional
        Grey values of the pure lower phase (the one at index 0 of ``axis``) and of the pure
        upper phase, e.g. :func:`ssbscope.tomo.levels.pure_phase_levels` of the whole scan
        (note: where the upper phase near the interface is a composite, e.g. an electrolyte
        crossed by Li filaments, its pure level counts the filaments in the window as
        height; the default's local levels do not).  Default: in the crop, the medians of
        each class's voxels whose two neighbours along ``axis`` are of the same class.  The
        plain class medians are biased for a thin layer, whose class holds a large share of
        partial-volume voxels: on the anode-free twin a 2.4-voxel Li layer's class median
        sat 5 % of the contrast towards the electrolyte, every pure Li voxel counted 1.05
        and the interface read 0.45 µm high (0.1-0.2 µm with the axis-eroded classes).  A
        non-finite or equal pair falls back to the default.
    lower_level, upper_level : float, optional
        The pure level of one phase only, the other one's from ``levels`` or the crop
        (applied after ``levels``; ignored when not finite or on the wrong side of the other
        level).  For a layer thinner than its faces' blur, whose every voxel in the crop is
        mixed with the phase beyond the interface: its material's level where it is thick
        (e.g. :func:`ssbscope.tomo.levels.pure_phase_levels` of the scan).  On the
        anode-free twin's 2.4-voxel stripped Li layer the crop's Li level sat 10-15 % of the
        contrast towards the electrolyte and the Li|Li6PS5Cl interface read 0.5-0.7 µm
        high (0.1-0.2 µm with the scan's Li level).

    Returns
    -------
    ndarray
        Height (µm) measured from ``origin`` along ``axis``, shape of the
        volume without ``axis``; NaN in columns without a crossing (the column is all one
        phase).  Crop the volume so that it starts in one phase and ends in the other; a
        window reaching past either end counts the missing slices as pure phase.

    Raises
    ------
    DataQualityError
        NaN/inf voxels, or a constant volume.
    EmptyResultError
        No column holds an interface (e.g. no Li segmented).
    """
    from ssbscope.tomo.filters import check_finite, threshold_otsu

    vs = _check_voxel(voxel_size_um)
    arr = np.asarray(volume)
    if arr.ndim != 3:
        raise InputError(f"volume: expected a 3-D (z, y, x) array, got shape {arr.shape}")
    ax = _check_axis(axis)
    if int(window_vox) != window_vox or window_vox < 1:
        raise ParameterError("window_vox", window_vox, "must be an integer >= 1")
    if origin not in ("face", "center"):
        raise ParameterError("origin", origin, "must be 'face' or 'center'")
    check_finite(arr)
    v = np.moveaxis(arr, ax, 0)
    n = v.shape[0]
    if footprint is None:
        fp = np.ones(v.shape[1:], bool)
    else:
        fp = np.asarray(footprint, bool)
        if fp.shape != v.shape[1:]:
            raise InputError(f"footprint: shape {fp.shape} differs from the volume's columns "
                             f"{v.shape[1:]} (axis={axis} removed)")
        if not fp.any():
            raise EmptyResultError("footprint: selects no column")
    if v.dtype == np.bool_:
        f = v.astype(np.float32)
        seg_lower = v
    else:
        v = v.astype(np.float64, copy=False)
        vin = v[:, fp]
        t = threshold_otsu(vin) if threshold is None else float(threshold)
        bright = v > t
        bin_ = vin > t
        nb = int(bin_.sum())
        if nb == 0 or nb == vin.size:
            raise EmptyResultError(
                f"volume: the threshold {t:g} leaves a single phase; no interface to measure")
        k = max(1, n // 10)
        bright_below = bool(bin_[:k].mean() > bin_[-k:].mean())
        # pure phase levels: medians of each class's voxels whose two neighbours along the
        # axis are of the same class (beyond the crop: the lower phase below index 0, the
        # upper one past the end), so that the partial-volume voxels at the interface, a
        # large share of a thin layer's class, stay out; the plain class medians where fewer
        # than MIN_LEVEL_VOXELS remain
        m_hi, m_lo = _class_levels(vin, bin_, bright_below)
        lower_mean, upper_mean = (m_hi, m_lo) if bright_below else (m_lo, m_hi)
        if levels is not None:
            lv_lo, lv_up = (float(x) for x in levels)
            if math.isfinite(lv_lo) and math.isfinite(lv_up) and lv_lo != lv_up \
                    and (lv_lo > lv_up) == bright_below:
                lower_mean, upper_mean = lv_lo, lv_up
            else:
                log.info("interface_height_map: levels %s do not fit the crop (lower phase "
                         "%s); class medians used", levels,
                         "bright" if bright_below else "dark")
        for which, lv in (("lower", lower_level), ("upper", upper_level)):
            lv = float("nan") if lv is None else float(lv)
            other = upper_mean if which == "lower" else lower_mean
            # the lower phase is the brighter one when bright_below
            fits = (lv > other) == (bright_below == (which == "lower"))
            if math.isfinite(lv) and lv != other and fits:
                if which == "lower":
                    lower_mean = lv
                else:
                    upper_mean = lv
        f = (v - upper_mean) / (lower_mean - upper_mean)
        seg_lower = bright if bright_below else ~bright
    # crossing estimate: number of lower-phase voxels in the column
    c0 = seg_lower.sum(axis=0).astype(np.int64)
    w = int(window_vox)
    k0 = c0 - w
    k1 = c0 + w  # inclusive; the crossing lies in voxel c0 - 1 or c0
    # a window reaching past the volume's ends is clipped: the slices beyond count as pure
    # lower (below index 0) or upper (beyond n - 1) phase, as the crop is assumed to start in
    # the lower phase and end in the upper one
    valid = (c0 > 0) & (c0 < n) & fp
    idx = np.arange(n).reshape((n,) + (1,) * (f.ndim - 1))
    win = (idx >= k0[None]) & (idx <= k1[None])
    s = np.where(win, f, 0.0).sum(axis=0)
    h = (np.clip(k0, 0, None) + s - (0.5 if origin == "center" else 0.0)) * vs
    h = np.where(valid, h, np.nan)
    if not valid.any():
        raise EmptyResultError(
            "volume: no column has a crossing between the two phases; check the crop, the "
            f"orientation (axis={axis}) and the segmentation")
    return h


# --------------------------------------------------------------------------- truncated scans

#: A window slice counts as two-phase in :func:`interface_height_map_truncated` when its
#: Otsu split's class-median separation is at least this fraction of the window's largest
#: (an Otsu split of one mode, noise or residual shading, separates by ~1.4 sigma; on the
#: coin-cell twin 0.15-0.3 of the contrast in single-phase slices, 0.8-1.2 in mixed ones).
BIMODAL_MIN = 0.5


@dataclass(frozen=True)
class TruncatedHeights:
    """Result of :func:`interface_height_map_truncated`.

    Attributes
    ----------
    height_um : (Y, X) ndarray
        Height of the interface (µm from the outer face of the window's first slice); NaN
        outside the footprint.
    contrast_data : float
        Local contrast (lower phase minus upper phase, grey units per voxel) measured from
        the two modes of the window's two-phase slices; NaN when fewer than 3 slices qualify.
    contrast_materials : float
        The contrast given by the caller (e.g. :func:`phase_retrieved_contrast`); NaN if none.
    contrast_used : float
        ``contrast_data`` when measured, else ``contrast_materials``.
    lower_fraction : (n,) ndarray
        The lower phase's area fraction per window slice (monotone, from the data).
    n_bimodal : int
        Slices that gave ``contrast_data``.
    method : str
        How the heights were taken (``"edge"`` or ``"count"``).
    height_at_window_edge : int
        Columns whose edge lies within :data:`EDGE_MARGIN_VOX` of the window's ends (0 for
        ``"count"``).
    """

    height_um: np.ndarray
    contrast_data: float
    contrast_materials: float
    contrast_used: float
    lower_fraction: np.ndarray
    n_bimodal: int
    method: str = "edge"
    height_at_window_edge: int = 0


def exterior_shading(level_sums, cross_sums, value_sums, level2_sum, n_slices):
    """Per-column gain ``G`` and offset ``C`` of ``v(z, y, x) = a(z) G(y, x) + C(y, x)``.

    In a truncated (region-of-interest) scan the sample outside the field of view adds to
    every slice a contribution set by that slice's composition: for a cell that is
    rotationally symmetric about the axis and much wider than the detector, each sinogram row
    outside the ROI is a near-constant times the slice's attenuation, and the (linear)
    reconstruction turns it into the slice's level ``a(z)`` times one in-plane shape ``G``
    (the truncation's cupping, the same in every slice); the casing, equal at every height,
    adds ``C``.  Least squares per column over reference slices (pure layers away from the
    interface), from sums a z-slab reduction gathers:

    Parameters
    ----------
    level_sums : float
        ``sum_z a(z)`` over the reference slices.
    cross_sums : (Y, X) ndarray
        ``sum_z a(z) v(z)``.
    value_sums : (Y, X) ndarray
        ``sum_z v(z)``.
    level2_sum : float
        ``sum_z a(z)^2``.
    n_slices : int
        Number of reference slices.

    Returns
    -------
    G, C : (Y, X) ndarrays

    Raises
    ------
    EmptyResultError
        Fewer than 2 reference slices or a constant level (no lever for ``G``).
    """
    n = int(n_slices)
    sa, saa = float(level_sums), float(level2_sum)
    var = saa - sa * sa / max(n, 1)
    if n < 2 or not var > 0:
        raise EmptyResultError("exterior_shading: the reference slices' levels do not vary")
    sav, sv = np.asarray(cross_sums, float), np.asarray(value_sums, float)
    G = (sav - sa * sv / n) / var
    C = (sv - G * sa) / n
    return G, C


def phase_retrieved_contrast(lower_material: str, upper_material: str, *, delta_beta: float,
                             energy_kev: float, voxel_size_um: float) -> float:
    """Grey-value contrast (lower - upper, per voxel) of two materials after Paganin retrieval.

    Paganin's filter with ``delta/beta`` of a material M turns the phase shift of a material
    with decrement ``delta'`` into an attenuation ``mu_M delta' / delta_M = 4 pi delta' /
    (lambda delta/beta)`` (exact at the spatial frequencies of an interface; the absorption
    of the two materials enters at low frequencies, equal where both have M's delta/beta).
    ``delta = r_e lambda^2 n_e / (2 pi)`` (electron density ``n_e`` of
    :mod:`ssbscope.materials`; 115 keV is far above the K edges of the light elements), so
    the contrast is ``2 r_e lambda (n_e,lower - n_e,upper) voxel / (delta/beta)``.

    Returns
    -------
    float
        In the reconstruction's units (1/pixel): e.g. Li | PEO-LiTFSI at 115 keV, 3.24 µm,
        delta/beta 1271: -4.0e-5.
    """
    from ssbscope import materials
    from ssbscope.tomo.phase import wavelength_m

    r_e = 2.8179403262e-15
    lam = wavelength_m(float(energy_kev))
    ne = [materials.get(m).electron_density_per_cm3 * 1e6 for m in (lower_material,
                                                                     upper_material)]
    return float(2 * r_e * lam * (ne[0] - ne[1]) * float(voxel_size_um) * 1e-6
                 / float(delta_beta))


def interface_height_map_truncated(window, levels, gain, offset, voxel_size_um: float, *,
                                   footprint, contrast_materials: float | None = None,
                                   method: str = "edge", subvoxel: bool = False,
                                   ) -> TruncatedHeights:
    """Heights of an interface in a truncated (region-of-interest) scan from the local contrast.

    In such a scan every slice's level ``a(z)`` comes from the sample outside the field of
    view (the Li -> electrolyte step of the 16 mm chords is ~170x the local contrast), so
    thresholds and class levels of the raw grey values (:func:`interface_height_map`) read
    the slice ramp, not the surface.  Here the exterior's part, ``a(z) G + C``
    (:func:`exterior_shading`), is removed from each voxel, which leaves the local deviation
    ``d = Delta (chi - p(z))`` (``chi`` the lower phase's indicator, ``p`` its area fraction
    in the slice, ``Delta`` the local contrast).  ``Delta`` is measured from the data: the
    separation of the two modes (Otsu split, class medians) of ``d`` in the slices where both
    phases coexist (separation >= :data:`BIMODAL_MIN` of the largest), median over them,
    its sign that of the slice ramp (the exterior holds the same materials); where fewer than 3
    slices qualify, ``contrast_materials`` (:func:`phase_retrieved_contrast`).  Each voxel's
    lower-phase indicator is ``s = p(z) + d / Delta`` (1 in the lower phase, 0 in the upper,
    plus noise), with ``p(z)`` the self-consistent fraction of ``s > 1/2`` (non-increasing
    from 1 at the window's bottom).

    A column's height (``method="edge"``, the default) is the boundary where its profile
    ``s(z)`` drops most (:func:`column_edges`: the largest drop of the mean of 2 slices
    below against 2 above, refined to the largest single-slice drop within one slice).  The
    alternative, ``method="count"``, counts the column's voxels with ``s > 1/2``; it reads
    every voxel of the window against a fixed level, so a slowly varying local offset of
    ``s`` (a residual of the retrieval and the truncation that the per-slice shading model
    does not hold: +-0.5 to 1 of the contrast over ~10 slices and tens of columns on the
    coin-cell twin) moves it by several voxels: on the twin's small scans (seeds 1, 2)
    up to 134 of 1667 columns read 1.5-4 voxels off with ``count``, 1-13 with ``edge``.
    The edge is sought from 1 slice above the window's bottom to 1 below its top:
    ``height_at_window_edge`` counts the columns found within :data:`EDGE_MARGIN_VOX` of
    the ends, whose surface may lie beyond the window (widen it; the chain's
    :func:`ssbscope.tomo.series_chunked._truncated_heights` does).  With ``subvoxel=True``
    each edge is refined to a fraction of a voxel from the partial volume of the slices
    around it (:func:`refine_edges`); whole-voxel heights add ``voxel^2 / 12`` of variance
    on a continuous surface (Ra, Rq read high when the roughness is ~ the voxel) but are
    exact on a voxelised one.

    Parameters
    ----------
    window : (n, Y, X) ndarray
        Grey values of the slices around the interface (lower phase at index 0).
    levels : (n,) ndarray
        ``a(z)`` of those slices (mean over the footprint).
    gain, offset : (Y, X) ndarrays
        ``G`` and ``C`` from :func:`exterior_shading`.
    voxel_size_um : float
    footprint : (Y, X) ndarray of bool
    contrast_materials : float, optional
    method : {"edge", "count"}
        Height of a column: the steepest drop of its lower-phase indicator (default) or its
        number of voxels above 1/2 (see above).
    subvoxel : bool, default False
        (``edge`` only) refine each column's edge by :func:`refine_edges` (heights then take
        any value, not whole voxels).  Off by default: the coin-cell twin's surface is
        voxelised (whole-voxel truth), where the sub-voxel heights only add the noise of the
        ``2 w`` summed slices; through the chain (tiny, 300 projections, seed 0) its anode|SPE
        Ra read +1.2 / +0.6 / +1.7 % against whole-voxel -0.4 / 0.0 / +1.5 % (seeds 0-2 at
        300 and seed 0 at 600 projections: mean |error| 1.3 % against 0.6 %).  On a
        continuous surface with Ra ~ the voxel it removes the whole voxels' bias
        (tests/tomo/test_subvoxel_edges.py: +46 % -> +2 % at Ra 0.32 voxel).

    Returns
    -------
    TruncatedHeights

    Raises
    ------
    EmptyResultError
        No contrast (neither measured nor given).
    ParameterError
        Unknown ``method``, or (``edge``) a window of fewer than 5 slices.
    """
    from ssbscope.tomo.filters import threshold_otsu

    if method not in ("edge", "count"):
        raise ParameterError("method", method, "must be 'edge' or 'count'")
    vs = _check_voxel(voxel_size_um)
    w = np.asarray(window, np.float64)
    fp = np.asarray(footprint, bool)
    a = np.asarray(levels, np.float64)
    d = w[:, fp] - a[:, None] * np.asarray(gain, float)[fp][None] \
        - np.asarray(offset, float)[fp][None]
    n = d.shape[0]
    k = max(1, n // 4)
    ramp = float(np.mean(a[:k]) - np.mean(a[-k:]))  # lower minus upper slices
    seps = []
    for x in d:
        if x.size < 8 or not np.ptp(x) > 0:
            continue
        t = threshold_otsu(x)
        lo = x <= t
        q = float(lo.mean())
        if not 0.1 <= q <= 0.9:
            continue
        seps.append(float(np.median(x[~lo]) - np.median(x[lo])))
    seps = [x for x in seps if seps and x >= BIMODAL_MIN * max(seps)]
    c_data = float(np.median(seps)) * (1.0 if ramp >= 0 else -1.0) if len(seps) >= 3 \
        else float("nan")
    c_mat = float(contrast_materials) if contrast_materials is not None else float("nan")
    c = c_data if math.isfinite(c_data) and c_data != 0 else c_mat
    if not (math.isfinite(c) and c != 0):
        raise EmptyResultError("interface_height_map_truncated: no local contrast (no two-phase "
                               "slice and no materials' contrast)")
    r = d / c
    p = np.empty(n)
    prev = 1.0
    for i in range(n):  # the lower phase's fraction: fixed point, non-increasing upwards
        q = prev
        for _ in range(64):
            qn = float(np.mean(q + r[i] > 0.5))
            if qn == q:
                break
            q = qn
        prev = p[i] = min(q, prev)
    s = p[:, None] + r
    if method == "count":
        cnt = np.sum(s > 0.5, axis=0)
        at_edge = 0
    else:
        if n < 5:
            raise ParameterError("window", n, "edge heights need a window of >= 5 slices")
        cnt = column_edges(s)
        at_edge = int(np.sum((cnt < EDGE_MARGIN_VOX) | (cnt > n - EDGE_MARGIN_VOX)))
        if subvoxel:
            cnt = refine_edges(s, cnt)
    h = np.full(fp.shape, np.nan)
    h[fp] = cnt * vs
    return TruncatedHeights(height_um=h, contrast_data=c_data, contrast_materials=c_mat,
                            contrast_used=float(c), lower_fraction=p, n_bimodal=len(seps),
                            method=method, height_at_window_edge=at_edge)


#: Columns whose edge (:func:`column_edges`) lies within this many slices of the window's
#: ends are counted in ``TruncatedHeights.height_at_window_edge``: the search reaches 1
#: slice from the ends, so their surface may lie beyond the window (censored).
EDGE_MARGIN_VOX = 3


def column_edges(indicator, coarse_vox: int = 2) -> np.ndarray:
    """Boundary index of the steepest drop of each column's lower-phase indicator.

    For a profile ``s`` (about 1 in the lower phase at small index, 0 in the upper one), the
    drop at boundary ``k`` (between slices ``k - 1`` and ``k``) over ``m`` slices is
    ``mean(s[k-m:k]) - mean(s[k:k+m])``.  The coarse edge maximises it with
    ``m = coarse_vox`` (the noise averaged over ``2 m`` slices, an edge blurred over 2-3
    slices held together); the result is the boundary of the largest single-slice drop
    (``m = 1``) within one slice of it.  The step is located by its shape, not against a
    level: an offset of the profile that varies slowly along the column (residual shading)
    does not move it, nor does a region reading beyond the lower phase (a void, ``s > 1``)
    whose drop back to the lower phase is smaller than the interface's.

    Parameters
    ----------
    indicator : (n, ...) array
        Lower-phase indicator along axis 0 (``n >= 2 coarse_vox + 1``).
    coarse_vox : int, default 2

    Returns
    -------
    (...) int ndarray
        Boundary index ``k`` in ``1 .. n - 1``: the number of slices below the edge (the
        height in voxels from the face of slice 0).

    Raises
    ------
    ParameterError
        Fewer than ``2 coarse_vox + 1`` slices.

    Examples
    --------
    >>> import numpy as np
    >>> s = np.array([1.0, 1.0, 1.6, 1.5, 1.0, 1.0, 0.0, 0.0, 0.1]) + 0.3  # void, offset
    >>> int(column_edges(s[:, None])[0])
    6
    """
    s = np.asarray(indicator, float)
    n = s.shape[0]
    m = int(coarse_vox)
    if m < 1 or n < 2 * m + 1:
        raise ParameterError("indicator", s.shape, f"needs >= {2 * m + 1} slices along axis 0")
    flat = s.reshape(n, -1)
    cs = np.concatenate([np.zeros((1, flat.shape[1])), np.cumsum(flat, axis=0)])
    k = np.arange(m, n - m + 1)
    coarse = ((cs[k] - cs[k - m]) - (cs[k + m] - cs[k])) / m
    kc = k[np.argmax(coarse, axis=0)]
    d1 = np.full((n + 1, flat.shape[1]), -np.inf)
    d1[1:n] = flat[:-1] - flat[1:]                  # d1[k]: the drop at boundary k
    cols = np.arange(flat.shape[1])
    cand = np.clip(np.stack([kc - 1, kc, kc + 1]), 1, n - 1)
    best = cand[np.argmax(d1[cand, cols[None]], axis=0), cols]
    return best.reshape(s.shape[1:])


def refine_edges(indicator, edges, *, half_width_vox: int = 2, level_vox: int = 3,
                 min_contrast: float = 0.3) -> np.ndarray:
    """Sub-voxel heights of each column's edge from the partial volume of the slices around it.

    Around the whole-voxel edge ``k`` (:func:`column_edges`) of a profile ``s`` (the lower
    phase's indicator along axis 0, nominally 1 below the surface and 0 above, with a slowly
    varying offset), the two phases' levels are taken from the profile itself,

        ``lower = median(s[k-w-L : k-w])``,  ``upper = median(s[k+w : k+w+L])``,

    (``w = half_width_vox``, ``L = level_vox``; the median, not the mean, so that one slice
    of a void below the surface, ``s > 1``, does not move the lower level), and each slice
    of the ``2 w`` around the edge holds the lower phase in proportion to its value:

        ``h = (k - w) + sum_{j=k-w}^{k+w-1} clip((s_j - upper) / (lower - upper), 0, 1)``.

    For a surface at height ``h`` (voxel units from the face of slice 0) voxelised with its
    partial volume, and any blur whose support stays within the ``2 w`` slices (blurring
    conserves the sum), this is ``h`` exactly; a whole-voxel step at ``k`` gives ``k``.  Noise
    of ``sigma`` (in units of the contrast) per slice adds ``sigma sqrt(2 w)`` (plus the
    levels' error times the slices' distance from them).  ``w`` is cut to the slices
    available (``min(w, k, n - k)``, >= 1 as ``1 <= k <= n - 1``) and the levels to those that
    exist (nominal 1 and 0 where none); where ``lower - upper < min_contrast`` (no step) the
    whole-voxel edge is kept.

    Parameters
    ----------
    indicator : (n, ...) array
        Lower-phase indicator along axis 0 (dimensionless, 1 lower phase, 0 upper).
    edges : (...) int array
        Whole-voxel boundary indices ``k`` in ``1 .. n - 1`` (:func:`column_edges`).
    half_width_vox : int, default 2
        ``w``: slices on each side of ``k`` whose partial volume is summed (cover the blur).
    level_vox : int, default 3
        ``L``: slices beyond them whose median gives each phase's level.
    min_contrast : float, default 0.3
        Smallest ``lower - upper`` for which the edge is refined.

    Returns
    -------
    (...) float ndarray
        Height in voxels from the face of slice 0 (multiply by the voxel size for µm).

    Raises
    ------
    ParameterError
        ``half_width_vox`` or ``level_vox`` < 1, or ``edges`` not of the indicator's
        trailing shape.

    Examples
    --------
    >>> import numpy as np
    >>> s = np.array([1.0, 1.0, 1.0, 1.0, 1.0, 0.4, 0.0, 0.0, 0.0, 0.0]) + 0.2
    >>> float(refine_edges(s[:, None], np.array([6]))[0])
    5.4
    """
    s = np.asarray(indicator, float)
    n = s.shape[0]
    w0, L = int(half_width_vox), int(level_vox)
    if w0 < 1 or L < 1:
        raise ParameterError("half_width_vox/level_vox", (half_width_vox, level_vox),
                             "must be >= 1")
    k = np.asarray(edges)
    if k.shape != s.shape[1:]:
        raise ParameterError("edges", k.shape, f"must have the indicator's shape {s.shape[1:]}")
    flat = s.reshape(n, -1)
    k = np.clip(k.reshape(-1).astype(int), 1, n - 1)
    w = np.minimum(w0, np.minimum(k, n - k))
    z = np.arange(n)[:, None]
    lo_sel = (z >= k - w - L) & (z < k - w)
    up_sel = (z >= k + w) & (z < k + w + L)
    with warnings.catch_warnings():  # columns with no level slice: all-NaN medians
        warnings.simplefilter("ignore", RuntimeWarning)
        lower = np.nanmedian(np.where(lo_sel, flat, np.nan), axis=0)
        upper = np.nanmedian(np.where(up_sel, flat, np.nan), axis=0)
    lower = np.where(np.isfinite(lower), lower, 1.0)
    upper = np.where(np.isfinite(upper), upper, 0.0)
    c = lower - upper
    ok = c >= float(min_contrast)
    frac = np.clip((flat - upper) / np.where(ok, c, 1.0), 0.0, 1.0)
    band = (z >= k - w) & (z < k + w)
    h = (k - w) + np.sum(np.where(band, frac, 0.0), axis=0)
    return np.where(ok, h, k.astype(float)).reshape(s.shape[1:])


#: Fewest voxels of an axis-eroded class for its median to be the phase's level
#: (:func:`interface_height_map`); fewer: the plain class median.
MIN_LEVEL_VOXELS = 50


def _class_levels(vin, bright, bright_below: bool) -> tuple[float, float]:
    """Medians (bright, dark) of the voxels of each class whose neighbours along axis 0 are
    of the same class; ``vin``, ``bright``: (n, columns).  Beyond the crop the lower phase
    lies below index 0 and the upper one past the end."""
    ncol = bright.shape[1]
    below = np.full((1, ncol), bright_below)
    above = np.full((1, ncol), not bright_below)
    b = np.concatenate([below, bright, above], axis=0)
    out = []
    for want in (True, False):
        same = (b == want)
        core = same[1:-1] & same[:-2] & same[2:]
        cls = bright if want else ~bright
        x = vin[core] if int(core.sum()) >= MIN_LEVEL_VOXELS else vin[cls]
        out.append(float(np.median(x)))
    return out[0], out[1]


# --------------------------------------------------------------------------- thickness

def thickness_map(mask, voxel_size_um: float, axis: int = 0, *, method: str = "count",
                  ) -> np.ndarray:
    """Thickness of a layer per column (µm), 001_a2c994afa3295f29 Fig. 5d-e.

    Parameters
    ----------
    mask : (Z, Y, X) ndarray of bool
        The layer (e.g. plated Li, or the Li counter electrode).
    voxel_size_um : float
        Voxel edge length (µm).
    axis : int, default 0
        Axis along which thickness is measured (z).
    method : {"count", "extent"}
        ``"count"`` (default, as the paper: "summing the entire lithium thickness at each
        position"): number of mask voxels in the column x voxel size; pores inside the layer
        do not count.  ``"extent"``: first-to-last mask voxel inclusive x voxel size.

    Returns
    -------
    ndarray of float
        Thickness (µm) per column; 0 where the column holds no mask voxel.
    """
    vs = _check_voxel(voxel_size_um)
    m = _mask3(mask)
    ax = _check_axis(axis)
    if method == "count":
        return m.sum(axis=ax).astype(float) * vs
    if method == "extent":
        mm = np.moveaxis(m, ax, 0)
        n = mm.shape[0]
        anyv = mm.any(axis=0)
        first = np.argmax(mm, axis=0)
        last = n - 1 - np.argmax(mm[::-1], axis=0)
        return np.where(anyv, (last - first + 1) * vs, 0.0).astype(float)
    raise ParameterError("method", method, "must be 'count' or 'extent'")


def central_region(shape: tuple[int, int], central_fraction: float = 0.75,
                   footprint=None) -> np.ndarray:
    """Disk holding the central ``central_fraction`` of an electrode's area.

    The disk is centred on the footprint's centroid with the radius that encloses
    ``central_fraction`` of the footprint's pixels (001_a2c994afa3295f29 analysed the
    central ~75 % of the electrode area, edges being less reliable).

    Parameters
    ----------
    shape : (M, N)
        Map shape.
    central_fraction : float in (0, 1]
    footprint : (M, N) ndarray of bool, optional
        Electrode area; default the whole map.

    Returns
    -------
    (M, N) ndarray of bool
        Central region (a subset of the footprint).
    """
    if not 0 < central_fraction <= 1:
        raise ParameterError("central_fraction", central_fraction, "must be in (0, 1]",
                             "use 0.75 for the central 75 % of the area")
    fp = np.ones(shape, bool) if footprint is None else np.asarray(footprint, bool)
    if fp.shape != tuple(shape):
        raise InputError(f"footprint: shape {fp.shape} differs from the map's {tuple(shape)}")
    if not fp.any():
        raise EmptyResultError("footprint: empty; no electrode area to split")
    ii, jj = np.nonzero(fp)
    ci, cj = ii.mean(), jj.mean()
    r = np.hypot(ii - ci, jj - cj)
    k = max(1, int(round(central_fraction * r.size)))
    rmax = np.sort(r)[k - 1]
    gi, gj = np.indices(fp.shape)
    return fp & (np.hypot(gi - ci, gj - cj) <= rmax)


@dataclass(frozen=True)
class ThicknessStats:
    """Mean ± std of a thickness map in the central region and at the edge (µm).

    ``n_center`` / ``n_edge`` count the columns the statistics used; ``n_excluded_center`` /
    ``n_excluded_edge`` the finite columns left out (``exclude`` of :func:`thickness_stats`,
    e.g. :func:`thickness_outliers`)."""

    mean_center_um: float
    std_center_um: float
    mean_edge_um: float
    std_edge_um: float
    n_center: int
    n_edge: int
    n_excluded_center: int = 0
    n_excluded_edge: int = 0


def thickness_stats(thickness_map_um, central_fraction: float = 0.75,
                    footprint=None, exclude=None) -> ThicknessStats:
    """Mean and standard deviation of a thickness map, centre and edge separately.

    Parameters
    ----------
    thickness_map_um : (M, N) ndarray
        From :func:`thickness_map` (µm); NaN entries are ignored.
    central_fraction : float, default 0.75
        Area fraction of the central disk (see :func:`central_region`).
    footprint : (M, N) ndarray of bool, optional
        Electrode area; default the whole map.  The centre/edge split is made on the
        footprint before ``exclude`` is applied, so leaving columns out does not move it.
    exclude : (M, N) ndarray of bool, optional
        Columns left out of the statistics (e.g. ``thickness_outliers(...).mask``: columns
        where the layer's material runs on into a filament root or a filled crack); default
        none (the plain mean over the region, as the twin's truth).

    Returns
    -------
    ThicknessStats
        Edge statistics are NaN when the edge ring is empty (``central_fraction=1``).
    """
    t = np.asarray(thickness_map_um, dtype=float)
    if t.ndim != 2:
        raise InputError(f"thickness_map_um: expected a 2-D map, got shape {t.shape}")
    c = central_region(t.shape, central_fraction, footprint)
    fp = np.ones(t.shape, bool) if footprint is None else np.asarray(footprint, bool)
    e = fp & ~c
    fin = np.isfinite(t)
    if exclude is None:
        ex = np.zeros(t.shape, bool)
    else:
        ex = np.asarray(exclude, bool)
        if ex.shape != t.shape:
            raise InputError(f"exclude: shape {ex.shape} differs from the map's {t.shape}")
    tc = t[c & fin & ~ex]
    te = t[e & fin & ~ex]
    if tc.size == 0:
        raise EmptyResultError("thickness_map_um: no finite value in the central region"
                               + (" outside the excluded columns" if ex.any() else ""))
    return ThicknessStats(
        mean_center_um=float(tc.mean()), std_center_um=float(tc.std()),
        mean_edge_um=float(te.mean()) if te.size else float("nan"),
        std_edge_um=float(te.std()) if te.size else float("nan"),
        n_center=int(tc.size), n_edge=int(te.size),
        n_excluded_center=int((c & fin & ex).sum()), n_excluded_edge=int((e & fin & ex).sum()))


#: Defaults of :func:`thickness_outliers`, chosen on the anode-free twin (Sandoval et al.
#: 2025, doi:10.1039/d5eb00111k, case B, seed 0, 3 µm voxels; see its docstring).
OUTLIER_WINDOW_PX = 7
OUTLIER_SMOOTH_PX = 3
OUTLIER_K = 3.0
#: Growth of the flagged patches (:func:`thickness_outliers`): into 4-connected columns that
#: stand this many robust per-column sigmas above their baseline, from cores of at least
#: ``OUTLIER_MIN_CORE_PX`` flagged columns.
OUTLIER_GROW_K = 1.0
OUTLIER_MIN_CORE_PX = 2


@dataclass(frozen=True)
class ThicknessOutliers:
    """Columns of a thickness map that stand above their lateral context.

    Attributes
    ----------
    mask : (M, N) ndarray of bool
        Outlier columns (inside the footprint, finite).
    baseline_um : (M, N) ndarray of float
        Median of the map over ``window_px`` x ``window_px`` columns (µm; NaN outside the
        footprint).
    sigma_um : float
        Robust noise of the test statistic (the residual ``map - baseline`` averaged over
        ``smooth_px`` x ``smooth_px`` columns): 1.4826 x its median absolute deviation over
        the footprint (µm).
    threshold_um : float
        ``k x sigma_um``.
    """

    mask: np.ndarray
    baseline_um: np.ndarray
    sigma_um: float
    threshold_um: float

    @property
    def fraction(self) -> float:
        """Fraction of the footprint's finite columns flagged (0 when none is finite)."""
        n = int(np.isfinite(self.baseline_um).sum())
        return float(self.mask.sum()) / n if n else 0.0


def thickness_outliers(thickness_map_um, footprint=None, *,
                       window_px: int = OUTLIER_WINDOW_PX, smooth_px: int = OUTLIER_SMOOTH_PX,
                       k: float = OUTLIER_K, grow_k: float | None = OUTLIER_GROW_K,
                       min_core_px: int = OUTLIER_MIN_CORE_PX) -> ThicknessOutliers:
    """Columns whose thickness stands above a robust local baseline (filament roots).

    A layer's thickness map counts the layer's material per column; where that material
    runs on from the layer into the root of a filament or a filled crack just above it, a
    patch of a few columns reads thicker than the layer while the columns around it do not.
    Those columns are found from their lateral context: the baseline is the median of the
    map over ``window_px`` x ``window_px`` columns (columns outside the footprint take the
    value of the nearest footprint column), the residual ``map - baseline`` is averaged
    over ``smooth_px`` x ``smooth_px`` columns (a root patch adds up, the per-column height
    noise averages down), its noise sigma is 1.4826 x its MAD over the footprint, and a
    column is flagged where the averaged residual exceeds ``k x sigma`` and the column itself
    lies above its baseline.  One-sided: a root or a filled crack only adds material, so
    thinner columns stay (a pit of the layer is layer).  A patch of roots wider than about
    half the window raises the baseline and is not flagged; with ``smooth_px=1`` the test is
    per column.

    The averaged test finds a patch's core; the patch's other columns each stand above
    their baseline by less than the averaged noise lets it see.  So the flagged cores of at
    least ``min_core_px`` columns (4-connected) grow, repeatedly, into the 4-connected
    neighbours whose own residual exceeds ``grow_k`` robust per-column sigmas (1.4826 x the
    MAD of ``map - baseline`` over the footprint); single flagged columns (the test's
    false alarms on a plain layer, ~0.5 % of the columns) do not grow.  On the anode-free
    twin (Sandoval et al. 2025, case A, dense Li-filled cracks next to the layer: a third
    of the columns at 2 mAh cm^-2) the centre then reads 7.30 / 9.75 µm against truth
    7.30 / 9.77 at 2 / 3 mAh cm^-2 (cores only: 7.68 / 10.16), the edge 8.22 / 10.36
    against 7.39 / 9.91 (8.40 / 10.50); case B after the 1.5 mA cm^-2 step: edge 18.52
    against 17.89 (cores only 18.61), centre 19.20 against 19.39; the 0.5 mA cm^-2 scans
    (no filament): at most 1.5 % of the columns flagged, centre and edge within 0.06 µm of
    the plain means.

    On the anode-free twin (case B, 3 µm voxels, per-column noise ~2.1 µm on the unfiltered
    heights) the 1.5 mA cm^-2 step's edge filaments make 30 of 220 edge columns read
    +4.9 µm (2.3 sigma of one column: a per-column test, ``smooth_px=1``, flags 2 of them);
    the averaged test alone flags 2 centre and 15 edge columns, and the edge mean falls from
    18.94 to 18.61 µm (truth 17.89, centre 19.20 -> 19.21 against 19.39), while at the
    0.5 mA cm^-2 scans, without filaments, the centre and edge move by < 0.05 µm.

    Parameters
    ----------
    thickness_map_um : (M, N) ndarray
        Thickness map (µm), NaN outside the analysed area.
    footprint : (M, N) ndarray of bool, optional
        Columns to test; default the finite entries of the map.
    window_px : int, default ``OUTLIER_WINDOW_PX`` (7)
        Edge of the baseline median filter's square window (columns, odd, >= 3).
    smooth_px : int, default ``OUTLIER_SMOOTH_PX`` (3)
        Edge of the square mean filter of the residual (columns, odd, >= 1).
    k : float, default ``OUTLIER_K`` (3.0)
        Threshold in robust sigmas of the averaged residual.
    grow_k : float or None, default ``OUTLIER_GROW_K`` (1.0)
        Growth threshold in robust sigmas of the per-column residual; None: no growth.
    min_core_px : int, default ``OUTLIER_MIN_CORE_PX`` (2)
        Smallest flagged patch (4-connected columns) that grows.

    Returns
    -------
    ThicknessOutliers
        The mask (none flagged on a flat map: the threshold is at least 1e-9 µm), the
        baseline, sigma and the threshold.
    """
    import scipy.ndimage as ndi

    t = np.asarray(thickness_map_um, dtype=float)
    if t.ndim != 2:
        raise InputError(f"thickness_map_um: expected a 2-D map, got shape {t.shape}")
    w, sw = int(window_px), int(smooth_px)
    if w != window_px or w < 3 or w % 2 == 0:
        raise ParameterError("window_px", window_px, "must be an odd integer >= 3",
                             "use 7 (columns)")
    if sw != smooth_px or sw < 1 or sw % 2 == 0 or sw >= w:
        raise ParameterError("smooth_px", smooth_px,
                             "must be an odd integer >= 1 and below window_px", "use 3")
    if not (np.isfinite(k) and k > 0):
        raise ParameterError("k", k, "must be a positive number of sigmas", "use 3")
    if grow_k is not None and not (np.isfinite(grow_k) and grow_k > 0):
        raise ParameterError("grow_k", grow_k, "must be a positive number of sigmas or None",
                             "use 1 (or None for no growth)")
    if int(min_core_px) != min_core_px or min_core_px < 1:
        raise ParameterError("min_core_px", min_core_px, "must be an integer >= 1", "use 2")
    if footprint is not None and np.shape(footprint) != t.shape:
        raise InputError(f"footprint: shape {np.shape(footprint)} differs from the map's {t.shape}")
    fp = np.isfinite(t) if footprint is None else (np.asarray(footprint, bool) & np.isfinite(t))
    if not fp.any():
        z = np.zeros(t.shape, bool)
        return ThicknessOutliers(z, np.full(t.shape, np.nan), float("nan"), float("nan"))
    # outside the footprint: the nearest footprint column's value, so that the windows near
    # the footprint's edge are taken over footprint values
    idx = ndi.distance_transform_edt(~fp, return_distances=False, return_indices=True)
    filled = t[tuple(idx)]
    base = ndi.median_filter(filled, size=w, mode="nearest")
    res = filled - base
    sm = ndi.uniform_filter(res, size=sw, mode="nearest") if sw > 1 else res
    r = sm[fp]
    sigma = float(1.4826 * np.median(np.abs(r - np.median(r))))
    thr = float(k) * sigma
    mask = fp & (sm > max(thr, 1e-9)) & (res > 0)
    if grow_k is not None and mask.any():
        r1 = res[fp]
        sigma1 = float(1.4826 * np.median(np.abs(r1 - np.median(r1))))
        lab, _ = ndi.label(mask)
        size = np.bincount(lab.ravel())
        size[0] = 0
        core = (size >= int(min_core_px))[lab]
        cand = fp & (res > max(float(grow_k) * sigma1, 1e-9))
        grown = core.copy()
        while True:  # 4-connected growth into the candidates, to convergence
            nxt = ndi.binary_dilation(grown) & cand
            nxt |= grown
            if nxt.sum() == grown.sum():
                break
            grown = nxt
        mask = mask | grown
    return ThicknessOutliers(mask, np.where(fp, base, np.nan), sigma, thr)


# --------------------------------------------------------------------------- volumes

def phase_volumes(labels, voxel_size_um: float, phase_names) -> "xarray.DataArray":
    """Volume of each phase of a label volume (µm^3).

    Parameters
    ----------
    labels : (Z, Y, X) ndarray of int
        Phase index per voxel (0 .. len(phase_names) - 1), e.g. ``Segmentation.labels``.
    voxel_size_um : float
    phase_names : sequence of str

    Returns
    -------
    xarray.DataArray
        Dimension ``phase``; attribute ``units="um^3"``.
    """
    import xarray as xr

    vs = _check_voxel(voxel_size_um)
    lab = np.asarray(labels)
    if not np.issubdtype(lab.dtype, np.integer):
        raise InputError(f"labels: dtype {lab.dtype} is not integer")
    names = list(phase_names)
    if lab.size and (lab.min() < 0 or lab.max() >= len(names)):
        raise InputError(f"labels: values {lab.min()}..{lab.max()} outside 0..{len(names) - 1}; "
                         "pass one name per phase index")
    counts = np.bincount(lab.ravel(), minlength=len(names))[: len(names)]
    return xr.DataArray(counts * vs**3, dims="phase", coords={"phase": names},
                        name="phase_volume_um3", attrs={"units": "um^3"})


def percent_change(values, reference) -> np.ndarray:
    """Percentage change ``100 (values - reference) / reference``.

    Raises
    ------
    EmptyResultError
        ``reference`` is zero (nothing to compare with).
    """
    v = np.asarray(values, dtype=float)
    r = np.asarray(reference, dtype=float)
    if np.any(r == 0):
        raise EmptyResultError("reference: zero volume; percent change undefined (phase absent "
                               "in the reference state)")
    return 100.0 * (v - r) / r


def _subvolume(mask, subvolume):
    if subvolume is None:
        return mask
    if not (isinstance(subvolume, tuple) and len(subvolume) == 3
            and all(isinstance(s, slice) for s in subvolume)):
        raise ParameterError("subvolume", subvolume, "must be a tuple of 3 slices",
                             "use np.s_[z0:z1, y0:y1, x0:x1]")
    out = mask[subvolume]
    if out.size == 0:
        raise EmptyResultError(f"subvolume {subvolume}: selects no voxel")
    return out


def pore_volume(mask, voxel_size_um: float, subvolume=None) -> float:
    """Pore + crack volume (µm^3) in a sub-volume (001_a2c994afa3295f29 Fig. 3c).

    Parameters
    ----------
    mask : (Z, Y, X) ndarray of bool
        Pores and cracks (low-attenuation voxels inside the electrolyte).
    voxel_size_um : float
    subvolume : tuple of 3 slices, optional
        e.g. ``np.s_[10:50, :, 20:80]``; default the whole volume.
    """
    vs = _check_voxel(voxel_size_um)
    return float(np.count_nonzero(_subvolume(_mask3(mask), subvolume))) * vs**3


def partial_volume(volume, level_phase: float, level_other: float, voxel_size_um: float,
                   subvolume=None, footprint=None) -> float:
    """Volume of a phase from grey values, counting each voxel's fraction (µm^3).

    Each voxel holds the fraction ``f = (v - level_other) / (level_phase - level_other)`` of
    the phase (linear partial-volume model, ``f`` not clipped so that noise averages out);
    the volume is ``sum(f) x voxel volume``.  Unlike a threshold this keeps thin features
    (1-2 voxel cracks, whose blurred grey values stay on the other side of any threshold)
    and is unbiased at boundaries.  Valid where only these two phases are present (choose
    ``subvolume``/``footprint`` a few voxels away from other phases).

    Parameters
    ----------
    volume : (Z, Y, X) ndarray
        Reconstructed grey values; NaN/inf rejected.
    level_phase, level_other : float
        Grey values of the pure phase and of the surrounding phase (e.g. the class medians
        of a segmentation).
    voxel_size_um : float
    subvolume : tuple of 3 slices, optional
    footprint : (Y, X) ndarray of bool, optional
        Columns to include.
    """
    from ssbscope.tomo.filters import check_finite

    vs = _check_voxel(voxel_size_um)
    if not math.isfinite(level_phase - level_other) or level_phase == level_other:
        raise ParameterError("level_phase", level_phase,
                             f"must differ from level_other={level_other!r}",
                             "pass the two phases' grey values (e.g. class medians)")
    v = np.asarray(volume)
    if v.ndim != 3:
        raise InputError(f"volume: expected a 3-D (z, y, x) array, got shape {v.shape}")
    check_finite(v)
    v = _subvolume(v, subvolume)
    if footprint is not None:
        fp = np.asarray(footprint, bool)
        if fp.shape != v.shape[1:]:
            raise InputError(f"footprint: shape {fp.shape} differs from the (y, x) shape "
                             f"{v.shape[1:]}")
        v = v[:, fp]
    f = (v.astype(np.float64) - level_other) / (level_phase - level_other)
    return float(f.sum()) * vs**3


@dataclass(frozen=True)
class CrackChange:
    """Pore + crack volume now vs pristine (µm^3).

    ``new_crack_um3`` is the difference of totals (as 001_... reports 461 - 266 =
    195 x 10^4 µm^3); ``appeared_um3`` / ``closed_um3`` count voxels that became / stopped
    being pore after registration.
    """

    total_um3: float
    pristine_um3: float
    new_crack_um3: float
    appeared_um3: float
    closed_um3: float
    percent_increase: float


def crack_change(pristine_mask, current_mask, voxel_size_um: float, subvolume=None,
                 ) -> CrackChange:
    """New crack volume since the pristine state (masks registered beforehand).

    Parameters
    ----------
    pristine_mask, current_mask : (Z, Y, X) ndarray of bool
        Pore + crack masks of the pristine and the current scan, on the same grid
        (apply :func:`ssbscope.tomo.register.apply_rigid` first).
    voxel_size_um : float
    subvolume : tuple of 3 slices, optional
    """
    vs = _check_voxel(voxel_size_um)
    p = _subvolume(_mask3(pristine_mask, "pristine_mask"), subvolume)
    c = _subvolume(_mask3(current_mask, "current_mask"), subvolume)
    if p.shape != c.shape:
        raise InputError(f"current_mask: shape {c.shape} differs from pristine {p.shape}; "
                         "register and crop both to the same grid")
    v3 = vs**3
    tot = np.count_nonzero(c) * v3
    pr = np.count_nonzero(p) * v3
    return CrackChange(
        total_um3=float(tot), pristine_um3=float(pr), new_crack_um3=float(tot - pr),
        appeared_um3=float(np.count_nonzero(c & ~p) * v3),
        closed_um3=float(np.count_nonzero(p & ~c) * v3),
        percent_increase=float(100.0 * (tot - pr) / pr) if pr > 0 else float("nan"))


def faraday_li_thickness_um(charge_mah_cm2) -> np.ndarray | float:
    """Thickness of dense Li metal holding an areal charge (Faraday's law).

    The one implementation is :func:`ssbscope.echem.faraday.lithium_thickness_um`
    (``t = q / F * M_Li / rho_Li``; 3.0 mAh cm^-2 -> 14.5 µm as in 001_a2c994afa3295f29);
    this name is kept for the CT metrics.

    Parameters
    ----------
    charge_mah_cm2 : float or ndarray
        Areal charge passed (mAh/cm^2), finite.

    Returns
    -------
    float or ndarray
        Thickness (µm).
    """
    from ssbscope.echem.faraday import lithium_thickness_um

    return lithium_thickness_um(charge_mah_cm2)


def crack_li_fraction(new_crack_volume_um3: float, charge_mah_cm2: float,
                      footprint_area_um2: float) -> float:
    """Fraction of the deposited Li that new cracks in a sub-volume can hold.

    Li deposited uniformly over the electrode fills ``faraday_li_thickness_um(q) x A`` of the
    sub-volume's footprint area A; the ratio of the new crack volume to it is the fraction
    (001_a2c994afa3295f29: 195 / 398 -> 49 %).

    Parameters
    ----------
    new_crack_volume_um3 : float
    charge_mah_cm2 : float
        Charge passed since the reference scan (mAh/cm^2), > 0.
    footprint_area_um2 : float
        (y, x) area of the sub-volume (µm^2), > 0.
    """
    if not charge_mah_cm2 > 0:
        raise ParameterError("charge_mah_cm2", charge_mah_cm2, "must be > 0",
                             "no Li deposited: the fraction is undefined")
    if not footprint_area_um2 > 0:
        raise ParameterError("footprint_area_um2", footprint_area_um2, "must be > 0")
    v_li = faraday_li_thickness_um(charge_mah_cm2) * footprint_area_um2
    return float(new_crack_volume_um3 / v_li)


# --------------------------------------------------------------------------- greyscale overlap

@dataclass(frozen=True)
class GaussianOverlap:
    """Two Gaussians (e.g. empty pores vs Li-filled cracks) and their overlap coefficient."""

    mean_1: float
    std_1: float
    mean_2: float
    std_2: float
    weight_1: float
    overlap: float


def overlap_coefficient(mean_1, std_1, mean_2, std_2) -> float:
    """Overlap coefficient ``OVL = ∫ min(N1(x), N2(x)) dx`` of two normal densities.

    Closed form from the densities' crossing points (1 = identical, 0 = disjoint).
    """
    from scipy.stats import norm

    m1, s1, m2, s2 = float(mean_1), float(std_1), float(mean_2), float(std_2)
    if not (s1 > 0 and s2 > 0):
        raise ParameterError("std", (s1, s2), "both standard deviations must be > 0")
    if m1 > m2:
        m1, s1, m2, s2 = m2, s2, m1, s1
    if math.isclose(s1, s2, rel_tol=1e-12):
        if m1 == m2:
            return 1.0
        return float(2 * norm.cdf(-(m2 - m1) / (2 * s1)))
    # solve log N1 = log N2: a x^2 + b x + c = 0
    a = 1 / (2 * s2**2) - 1 / (2 * s1**2)
    b = m1 / s1**2 - m2 / s2**2
    c = m2**2 / (2 * s2**2) - m1**2 / (2 * s1**2) + math.log(s2 / s1)
    disc = max(b * b - 4 * a * c, 0.0)
    r = sorted(((-b - math.sqrt(disc)) / (2 * a), (-b + math.sqrt(disc)) / (2 * a)))
    pts = [-np.inf, r[0], r[1], np.inf]
    total = 0.0
    for lo, hi in zip(pts[:-1], pts[1:]):
        mid = 0.5 * (lo + hi) if np.isfinite(lo) and np.isfinite(hi) else (
            hi - 1.0 if np.isfinite(hi) else lo + 1.0)
        # the lower density on this interval
        if norm.pdf(mid, m1, s1) < norm.pdf(mid, m2, s2):
            total += norm.cdf(hi, m1, s1) - norm.cdf(lo, m1, s1)
        else:
            total += norm.cdf(hi, m2, s2) - norm.cdf(lo, m2, s2)
    return float(total)


def gaussian_overlap(values_1, values_2) -> GaussianOverlap:
    """Fit one Gaussian to each of two labelled greyscale samples and report their overlap.

    001_a2c994afa3295f29 Fig. S4: greyscale of empty pores vs Li-filled cracks.  The fit is
    the maximum-likelihood normal (sample mean and standard deviation).

    Parameters
    ----------
    values_1, values_2 : array_like
        Grey values of the two populations (>= 2 finite values each).
    """
    a = np.asarray(values_1, dtype=float).ravel()
    b = np.asarray(values_2, dtype=float).ravel()
    for nm, x in (("values_1", a), ("values_2", b)):
        if x.size < 2 or not np.isfinite(x).all():
            raise DataQualityError(f"{nm}: need >= 2 finite grey values, got {x.size} "
                                   f"({int((~np.isfinite(x)).sum())} non-finite)")
    return GaussianOverlap(float(a.mean()), float(a.std()), float(b.mean()), float(b.std()),
                           float(a.size / (a.size + b.size)),
                           overlap_coefficient(a.mean(), a.std(), b.mean(), b.std()))


def fit_two_gaussians(values, *, max_iter: int = 500, tol: float = 1e-10) -> GaussianOverlap:
    """Fit a two-component Gaussian mixture to one greyscale sample (EM) and its overlap.

    Deterministic: initialised from the Otsu split of the sample.  Component 1 has the lower
    mean.

    Raises
    ------
    ConvergenceError
        EM did not converge within ``max_iter`` iterations.
    """
    from scipy.stats import norm

    from ssbscope.errors import ConvergenceError
    from ssbscope.tomo.filters import threshold_otsu

    x = np.asarray(values, dtype=float).ravel()
    if x.size < 4 or not np.isfinite(x).all():
        raise DataQualityError(f"values: need >= 4 finite grey values, got {x.size}")
    t = threshold_otsu(x)
    lo, hi = x[x <= t], x[x > t]
    w, m1, s1, m2, s2 = lo.size / x.size, lo.mean(), lo.std() + 1e-12, hi.mean(), hi.std() + 1e-12
    ll_old = -np.inf
    for _ in range(max_iter):
        p1 = w * norm.pdf(x, m1, s1)
        p2 = (1 - w) * norm.pdf(x, m2, s2)
        tot = p1 + p2 + 1e-300
        ll = float(np.log(tot).sum())
        g = p1 / tot
        w = g.mean()
        m1 = (g * x).sum() / g.sum()
        m2 = ((1 - g) * x).sum() / (1 - g).sum()
        s1 = math.sqrt(max((g * (x - m1) ** 2).sum() / g.sum(), 1e-24))
        s2 = math.sqrt(max(((1 - g) * (x - m2) ** 2).sum() / (1 - g).sum(), 1e-24))
        if abs(ll - ll_old) <= tol * abs(ll):
            break
        ll_old = ll
    else:
        raise ConvergenceError(f"fit_two_gaussians: EM did not converge in {max_iter} "
                               "iterations; raise max_iter or check the sample is bimodal")
    if m1 > m2:
        m1, s1, m2, s2, w = m2, s2, m1, s1, 1 - w
    return GaussianOverlap(float(m1), float(s1), float(m2), float(s2), float(w),
                           overlap_coefficient(m1, s1, m2, s2))


# --------------------------------------------------------------------------- connected regions

@dataclass(frozen=True)
class LowAttenuationRegions:
    """Low-attenuation regions connected to the Li electrode vs isolated (002_... Fig. 3I).

    Attributes
    ----------
    connected : ndarray of bool
        Low-attenuation voxels in regions touching the electrode (electrode excluded).
    isolated : ndarray of bool
        Low-attenuation voxels in regions not touching it, each above the volume filter.
    n_connected, n_isolated : int
        Number of regions of each kind (a region = a connected component of the low mask;
        regions merged through the electrode count separately).
    volume_connected_um3, volume_isolated_um3 : float
    n_removed : int
        Isolated regions dropped by the minimum-volume filter.
    """

    connected: np.ndarray
    isolated: np.ndarray
    n_connected: int
    n_isolated: int
    volume_connected_um3: float
    volume_isolated_um3: float
    n_removed: int


def classify_low_attenuation(low_mask, electrode_mask, voxel_size_um: float, *,
                             min_volume_um3: float = 3.4e5, connectivity: int = 26,
                             ) -> LowAttenuationRegions:
    """Split low-attenuation regions into Li-electrode-connected and isolated ones.

    Regions (connected components of ``low_mask``) that touch ``electrode_mask`` (share a
    face/edge/corner with it for ``connectivity=26``) are "connected"; the others are
    "isolated" and kept only if their volume exceeds ``min_volume_um3`` (002_3ee4edf529433f9c
    shows regions > 3.4 x 10^5 µm^3).

    Parameters
    ----------
    low_mask : (Z, Y, X) ndarray of bool
        Low-attenuation voxels (pores, cracks, Li filaments) in the electrolyte.
    electrode_mask : (Z, Y, X) ndarray of bool
        The Li electrode.
    voxel_size_um : float
    min_volume_um3 : float, default 3.4e5
    connectivity : {6, 18, 26}

    Raises
    ------
    EmptyResultError
        ``electrode_mask`` is empty (no Li segmented): connection is undefined.
    """
    from ssbscope.tomo.filters import dilation, label

    vs = _check_voxel(voxel_size_um)
    low = _mask3(low_mask, "low_mask")
    el = _mask3(electrode_mask, "electrode_mask")
    if low.shape != el.shape:
        raise InputError(f"electrode_mask: shape {el.shape} differs from low_mask {low.shape}")
    if not el.any():
        raise EmptyResultError("electrode_mask: no Li electrode voxel; connected vs isolated "
                               "is undefined (check the segmentation of the Li phase)")
    low = low & ~el
    lab, n = label(low, connectivity)
    # the electrode's neighbourhood (one step in the chosen connectivity)
    if connectivity == 26:
        import scipy.ndimage as ndi
        near = ndi.binary_dilation(el, structure=np.ones((3, 3, 3), bool))
    elif connectivity == 6:
        near = dilation(el, 1)
    else:
        import scipy.ndimage as ndi
        near = ndi.binary_dilation(el, structure=ndi.generate_binary_structure(3, 2))
    sizes = np.bincount(lab.ravel(), minlength=n + 1)
    touch = np.zeros(n + 1, bool)
    touch[np.unique(lab[near & low])] = True
    touch[0] = False
    v3 = vs**3
    big = sizes * v3 > min_volume_um3
    big[0] = False
    iso_keep = big & ~touch
    iso_keep[0] = False
    n_removed = int(np.count_nonzero(~big[1:] & ~touch[1:]))
    connected = touch[lab]
    isolated = iso_keep[lab]
    return LowAttenuationRegions(
        connected=connected, isolated=isolated, n_connected=int(touch.sum()),
        n_isolated=int(iso_keep.sum()),
        volume_connected_um3=float(connected.sum() * v3),
        volume_isolated_um3=float(isolated.sum() * v3), n_removed=n_removed)


def layer_volume_fractions(mask, start_vox: float, stop_vox: float, n_layers: int = 10,
                           axis: int = 0, footprint=None) -> np.ndarray:
    """Volume fraction of ``mask`` in ``n_layers`` equal slabs between two positions.

    002_3ee4edf529433f9c Fig. 3J: low-attenuation fraction in 10 layers of the electrolyte.
    Voxels are assigned to the layer holding their centre (``index + 0.5``).

    Parameters
    ----------
    mask : (Z, Y, X) ndarray of bool
    start_vox, stop_vox : float
        Positions along ``axis`` (voxel units, faces: slice i spans [i, i + 1)), e.g. the
        interfaces from :func:`median_profile`; layer 1 starts at ``start_vox``.
    n_layers : int
    axis : int
    footprint : 2-D ndarray of bool, optional
        Columns to include (e.g. the pellet's disk); default all.

    Returns
    -------
    (n_layers,) ndarray of float
    """
    from ssbscope.tomo.low_attenuation import layer_fractions_from_slices

    m = _mask3(mask)
    ax = _check_axis(axis)
    mm = np.moveaxis(m, ax, 0)
    fp = np.ones(mm.shape[1:], bool) if footprint is None else np.asarray(footprint, bool)
    per_slice = (mm & fp).sum(axis=(1, 2)).astype(float)
    # the binning (and its checks) is shared with the chunked low-attenuation measurement
    return layer_fractions_from_slices(per_slice, start_vox, stop_vox, int(n_layers),
                                       float(fp.sum()), mm.shape[0])


@dataclass(frozen=True)
class SliceProfile:
    """Median grey value per slice and the interfaces from its derivative (002_... 3F-G).

    Attributes
    ----------
    median : ndarray
        Median grey value of each slice along the axis.
    derivative : ndarray
        Central-difference derivative of the (optionally smoothed) median profile.
    interfaces_vox : ndarray of float
        Interface positions (voxel units, slice centres at i + 0.5), sub-voxel by a parabola
        through the |derivative| peak, in increasing order.
    """

    median: np.ndarray
    derivative: np.ndarray
    interfaces_vox: np.ndarray


def median_profile(volume, axis: int = 0, n_interfaces: int = 2, *, smooth_vox: float = 1.0,
                   footprint=None, min_separation_vox: int = 3) -> SliceProfile:
    """Median grey value per slice along ``axis`` and interfaces at derivative extrema.

    Parameters
    ----------
    volume : (Z, Y, X) ndarray
        Greyscale volume; NaN/inf rejected.
    axis : int
        Stacking axis.
    n_interfaces : int
        Number of interfaces (largest |d median / dz| peaks) to report.
    smooth_vox : float
        Gaussian sigma (voxels) applied to the profile before differentiation (0: none).
    footprint : 2-D ndarray of bool, optional
        Columns to include; default all.
    min_separation_vox : int
        Minimum distance between two reported interfaces.
    """
    import scipy.ndimage as ndi

    from ssbscope.tomo.filters import check_finite

    arr = np.asarray(volume)
    if arr.ndim != 3:
        raise InputError(f"volume: expected a 3-D (z, y, x) array, got shape {arr.shape}")
    check_finite(arr)
    v = np.moveaxis(arr, _check_axis(axis), 0)
    if footprint is None:
        med = np.median(v.reshape(v.shape[0], -1), axis=1)
    else:
        fp = np.asarray(footprint, bool)
        if not fp.any():
            raise EmptyResultError("footprint: selects no column")
        med = np.median(v[:, fp], axis=1)
    med = med.astype(float)
    prof = ndi.gaussian_filter1d(med, smooth_vox, mode="nearest") if smooth_vox > 0 else med
    d = np.gradient(prof)
    a = np.abs(d)
    picks: list[float] = []
    order = np.argsort(-a, kind="stable")
    for i in order:
        if len(picks) >= n_interfaces or a[i] == 0:
            break
        if any(abs(i + 0.5 - p) < min_separation_vox for p in picks):
            continue
        # only local maxima
        if (i > 0 and a[i - 1] > a[i]) or (i < a.size - 1 and a[i + 1] > a[i]):
            continue
        off = 0.0
        if 0 < i < a.size - 1:
            den = a[i - 1] - 2 * a[i] + a[i + 1]
            if den != 0:
                off = 0.5 * (a[i - 1] - a[i + 1]) / den
        picks.append(i + 0.5 + off)
    if len(picks) < n_interfaces:
        raise EmptyResultError(f"volume: found {len(picks)} interface(s) in the median profile, "
                               f"expected {n_interfaces}; the slices look uniform")
    return SliceProfile(median=med, derivative=d, interfaces_vox=np.sort(np.array(picks)))


# --------------------------------------------------------------------------- new filaments

@dataclass(frozen=True)
class NewFilaments:
    """Filaments that appeared between two consecutive scans.

    Attributes
    ----------
    count, count_center, count_edge : int
        Number of new regions; by the (y, x) position of their centroid relative to the
        central region (:func:`central_region`).
    volume_um3, volume_center_um3, volume_edge_um3 : float
    volumes_um3 : ndarray
        Volume of each new region (label order).
    """

    count: int
    count_center: int
    count_edge: int
    volume_um3: float
    volume_center_um3: float
    volume_edge_um3: float
    volumes_um3: np.ndarray


def new_filaments(previous_mask, current_mask, voxel_size_um: float, *,
                  min_volume_um3: float = 0.0, central_fraction: float = 0.75,
                  footprint=None, connectivity: int = 26) -> NewFilaments:
    """Count and measure filament regions present now but not in the previous scan.

    New voxels (``current & ~previous``, masks registered beforehand) are grouped into
    connected regions; regions above ``min_volume_um3`` count, split into centre and edge by
    the (y, x) centroid.

    Parameters
    ----------
    previous_mask, current_mask : (Z, Y, X) ndarray of bool
    voxel_size_um : float
    min_volume_um3 : float
    central_fraction : float
        Area fraction of the central disk (default 0.75).
    footprint : (Y, X) ndarray of bool, optional
        Electrode area; default the whole field.
    connectivity : {6, 18, 26}
    """
    import scipy.ndimage as ndi

    from ssbscope.tomo.filters import label

    vs = _check_voxel(voxel_size_um)
    p = _mask3(previous_mask, "previous_mask")
    c = _mask3(current_mask, "current_mask")
    if p.shape != c.shape:
        raise InputError(f"current_mask: shape {c.shape} differs from previous {p.shape}; "
                         "register both scans first")
    lab, n = label(c & ~p, connectivity)
    v3 = vs**3
    if n == 0:
        return NewFilaments(0, 0, 0, 0.0, 0.0, 0.0, np.zeros(0))
    sizes = np.bincount(lab.ravel(), minlength=n + 1)[1:] * v3
    keep = np.flatnonzero(sizes > min_volume_um3) + 1
    if keep.size == 0:
        return NewFilaments(0, 0, 0, 0.0, 0.0, 0.0, np.zeros(0))
    cent = np.array(ndi.center_of_mass(np.ones(lab.shape, np.uint8), lab, keep)).reshape(-1, 3)
    creg = central_region(c.shape[1:], central_fraction, footprint)
    yi = np.clip(np.round(cent[:, 1]).astype(int), 0, c.shape[1] - 1)
    xi = np.clip(np.round(cent[:, 2]).astype(int), 0, c.shape[2] - 1)
    is_c = creg[yi, xi]
    vols = sizes[keep - 1]
    return NewFilaments(
        count=int(keep.size), count_center=int(is_c.sum()), count_edge=int((~is_c).sum()),
        volume_um3=float(vols.sum()), volume_center_um3=float(vols[is_c].sum()),
        volume_edge_um3=float(vols[~is_c].sum()), volumes_um3=vols.astype(float))


# --------------------------------------------------------------------------- time series

def to_dataset(results, time_s) -> "xarray.Dataset":
    """Stack per-scan result dataclasses into an ``xarray.Dataset`` on ``time_s``.

    Scalar fields become variables of dimension ``time_s``; array fields of equal shape
    across scans become variables ``(time_s, dim_0, ...)``; tuples become extra dims.
    Variable names are the field names (their unit suffixes included).

    Parameters
    ----------
    results : sequence of dataclass instances (all the same class)
    time_s : sequence of float
        Scan times (s since the start of the electrochemical test).
    """
    import xarray as xr

    res = list(results)
    t = np.asarray(time_s, dtype=float)
    if len(res) != t.size or not res:
        raise InputError(f"results: {len(res)} result(s) for {t.size} time(s); pass one per scan")
    cls = type(res[0])
    if not dataclasses.is_dataclass(cls) or any(type(r) is not cls for r in res):
        raise InputError("results: pass instances of one dataclass")
    data = {}
    for f in dataclasses.fields(cls):
        vals = [getattr(r, f.name) for r in res]
        arr = [np.asarray(v) for v in vals]
        if any(a.shape != arr[0].shape for a in arr):
            log.debug("to_dataset: field %s has varying shape; skipped", f.name)
            continue
        st = np.stack(arr)
        dims = ("time_s",) + tuple(f"{f.name}_dim{i}" for i in range(st.ndim - 1))
        data[f.name] = (dims, st)
    return xr.Dataset(data, coords={"time_s": t}, attrs={"result": cls.__name__})
