"""Current distribution on a measured Li|electrolyte topography and hot-spot comparison.

The contour model of :mod:`.current` (Zhang et al. 2024, doi:10.1039/d3ee03322h, Figs. 1e,
2b,c, 3c,f: Laplace in the electrolyte, equipotential Li or linearised Butler-Volmer kinetics)
applied to any height map ``h(x, y)`` that CT measures (``tomo/<series>/maps``), as the review
of Dixit et al. 2021 (doi:10.1039/d1ee00638j, Figs. 23-24) asks of image-based models: predict
where the current concentrates on the real interface and check the prediction against the
current-density map measured between two scans.

Boundary treatment
------------------
A measured map is a crop of a larger interface, so it has no natural periodic sides.  The
map is treated as one cell of its mirror images: the sides are mirror (no-flux) planes through
the outermost pixel centres and the surface is extended by reflection (its slope across a side
is zero).  Currents within about one feature size of a side are therefore those of the mirrored
interface; the rest are unaffected by the choice.  The top of the electrolyte carries a uniform
potential at ``mean(h) + thickness`` (or two map widths above the highest point when the
electrolyte is thicker: the non-uniform field has decayed there).

Resolution
----------
The field is solved on the pixel grid, or, for maps larger than ``max_nodes`` per side, on a
grid coarsened by block means (stride ``s``); the current is interpolated back to the pixels
(bilinear).  The height map is interpolated by a bicubic spline; ``smooth_um`` applies a
Gaussian filter first (CT height maps carry voxel-scale noise whose slopes the current
would follow); the pipeline fits it per map when not given (:func:`height_smoothing_um`:
the least expected error of the predicted current, from the map's own height noise and
signal spectra and the model's response ``k coth(kT) / (1 + lambda k coth(kT))``).

Can the comparison discriminate?
--------------------------------
A measured current-density map (thickness change between two scans, Faraday's law) carries the
CT heights' noise twice.  :func:`hot_spot_overlap` therefore first compares the predicted
map's contrast (std / mean) with the measured map's noise floor (its noise std over its mean)
at the compared resolution (``smoothing_um`` applied to both maps, the shuffled baseline and
the floor).  The noise std includes the noise's spatial correlation (:func:`map_noise`: the
shared noise model of :mod:`ssbscope.mapnoise`, white plus Gaussian-correlated noise fitted to
the map's robust semivariogram beside a smooth signal, carried through the smoothing): smoothing removes white noise as ``1 / sqrt(area)`` but noise correlated over
pixels much less, so a white-noise floor (:func:`white_noise_std` x
:func:`smoothing_noise_factor`, kept as ``measured_white_noise_std``) would call a heavily
smoothed comparison resolvable that is not.  Only when the contrast exceeds the floor
(``resolvable``) do correlation and top-decile overlap, with their z-scores against shifted
copies of the measured map, measure the model's skill; otherwise they follow whatever the two
maps share (e.g. a texture the height and the growth both carry) and are not evidence for or
against the model.  The pipeline compares the current per projected area
(:attr:`SurfaceCurrent.projected_current_ma_cm2`), which is what a column's thickness change
measures.

Electrolyte conductivity from the CT phase map
----------------------------------------------
A porous or partly decomposed electrolyte conducts ions only through its solid phase:
``sigma_eff = sigma_bulk * eps / tau`` (the TauFactor definition ``D_eff = D eps / tau``; Cooper
et al. 2016, doi:10.1016/j.softx.2016.09.002), with ``eps`` the phase's volume fraction and
``tau`` its tortuosity factor through the layer (along z, the current's direction).
:func:`effective_conductivity` computes it on one scan's labels (the core of the electrolyte
layer, interface mixing zones trimmed, :func:`ssbscope.transport.layer.layer_tortuosity`); the
pipeline takes ``eps / tau`` from ``transport/<series>/tortuosity`` when the transport stage
solved the same phase, layer and axis, and computes it from ``tomo/<series>/labels`` otherwise.

Skill beyond the height
-----------------------
When Li grows where it is already thick, the measured map follows the height, and every map
that is a function of the height beats the shuffled baseline.  :func:`height_conditioned_skill`
asks whether the prediction carries information beyond the height: the partial correlation of
the two maps given a spline of the height, against surrogates of the measured map that keep
its dependence on the height and its residual texture (the residual shifted and flipped), with
the height-only prediction's overlap for reference.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from ssbscope.errors import ParameterError

from .current import _finite_pos, _solve_field, mirror_cell

__all__ = ["SurfaceCurrent", "SurfaceCreep", "HotSpotComparison", "EffectiveConductivity",
           "surface_current", "surface_creep_pressure", "hot_spot_overlap",
           "effective_conductivity", "white_noise_std", "smooth_map", "smoothing_noise_factor",
           "map_noise", "MapNoise",
           "RESOLVABLE_CONTRAST_TO_NOISE", "NOISE_ESTIMATOR"]


@dataclass(frozen=True)
class SurfaceCurrent:
    """Local current on a measured topography (:func:`surface_current`).

    Attributes
    ----------
    x_um, y_um : (nx,), (ny,) ndarray
        Pixel-centre coordinates of the map.
    height_um : (ny, nx) ndarray
        The Li surface used (after filling gaps and smoothing), index ``[iy, ix]``.
    current_ma_cm2 : (ny, nx) ndarray
        Local current density normal to the surface, per true area (NaN where the map had no
        height).
    projected_current_ma_cm2 : (ny, nx) ndarray
        Current per projected area (its mean is the geometric current).
    area_ratio : float
        True over projected area of the map.
    max_over_geometric : float
        ``max(current) / geometric current``.
    geometric_current_ma_cm2, conductivity_s_cm, thickness_um : float
    r_ct_ohm_cm2 : float or None
        Charge-transfer resistance (None: primary distribution).
    grid_stride : int
        Pixels per solve node along each axis.
    flux_balance : float
        Relative difference of the current through the surface and through the top.
    filled_fraction : float
        Fraction of map pixels without a height (NaN) that were filled from neighbours.
    boundary : str
        Side treatment (``"mirror"``; module docstring).
    """

    x_um: np.ndarray = field(repr=False)
    y_um: np.ndarray = field(repr=False)
    height_um: np.ndarray = field(repr=False)
    current_ma_cm2: np.ndarray = field(repr=False)
    projected_current_ma_cm2: np.ndarray = field(repr=False)
    area_ratio: float
    max_over_geometric: float
    geometric_current_ma_cm2: float
    conductivity_s_cm: float
    thickness_um: float
    r_ct_ohm_cm2: float | None
    grid_stride: int
    flux_balance: float
    filled_fraction: float = 0.0
    boundary: str = "mirror"


@dataclass(frozen=True)
class EffectiveConductivity:
    """Effective ionic conductivity of a CT-segmented electrolyte layer (:func:`effective_conductivity`).

    Attributes
    ----------
    conductivity_s_cm : float
        ``bulk_conductivity_s_cm * volume_fraction / tau`` (S/cm); 0 when the phase does not
        percolate through the layer.
    bulk_conductivity_s_cm : float
        Conductivity of the dense electrolyte (S/cm).
    volume_fraction : float
        Volume fraction ``eps`` of the conducting phase in the layer's core (cell footprint).
    tau : float
        Tortuosity factor along z (inf when the phase does not percolate).
    d_eff_ratio : float
        ``eps / tau``.
    core_z_vox : (int, int)
        Slices ``[z0, z1)`` of the layer's core that were solved.
    source : str
        Where ``eps / tau`` came from.
    """

    conductivity_s_cm: float
    bulk_conductivity_s_cm: float
    volume_fraction: float
    tau: float
    d_eff_ratio: float
    core_z_vox: tuple
    source: str


def effective_conductivity(labels, phase: int, band_z_vox, footprint, *,
                           bulk_conductivity_s_cm: float, mixing_tol: float = 0.05,
                           rtol: float = 1e-6) -> EffectiveConductivity:
    """Electrolyte conductivity ``sigma_bulk * eps / tau`` of one layer of a labelled CT scan.

    Parameters
    ----------
    labels : (Z, Y, X) integer array_like
        Phase labels of one scan (e.g. one time of ``tomo/<series>/labels``).
    phase : int
        Label of the ion-conducting electrolyte phase.
    band_z_vox : (int, int)
        The electrolyte layer's band ``[z0, z1)`` along z (``layer_z_vox``).
    footprint : (Y, X) bool array_like
        The cell's columns (``cell_mask``).
    bulk_conductivity_s_cm : float
        Conductivity of the dense electrolyte (S/cm).
    mixing_tol : float
        Interface mixing zones trimmed from the band
        (:func:`ssbscope.transport.layer.layer_core`).
    rtol : float
        Relative residual of the diffusion solve.

    Returns
    -------
    EffectiveConductivity

    Raises
    ------
    ParameterError
        A non-finite or non-positive bulk conductivity.
    EmptyResultError
        No voxel of the phase in the layer's core, or an empty band/footprint.

    Examples
    --------
    Straight z channels holding 25 % of the columns: ``tau = 1``, ``sigma_eff = 0.25 sigma``.

    >>> lab = np.zeros((8, 8, 8), np.uint8); lab[:, ::2, ::2] = 1
    >>> r = effective_conductivity(lab, 1, (0, 8), np.ones((8, 8), bool),
    ...                            bulk_conductivity_s_cm=2e-3)
    >>> round(r.tau, 6), round(r.conductivity_s_cm / 2e-3, 6)
    (1.0, 0.25)
    """
    from ssbscope.transport.layer import layer_tortuosity

    bulk = _finite_pos("bulk_conductivity_s_cm", bulk_conductivity_s_cm)
    r = layer_tortuosity(labels, int(phase), band_z_vox, footprint, axis=0, n_slabs=1,
                         mixing_tol=mixing_tol, rtol=rtol)
    d = float(r.d_eff_ratio) if np.isfinite(r.tau) else 0.0
    return EffectiveConductivity(bulk * d, bulk, float(r.volume_fraction), float(r.tau), d,
                                 tuple(int(v) for v in r.core_z_vox),
                                 "tortuosity along z of the layer's core in the labels "
                                 "(ssbscope.transport.layer.layer_tortuosity)")


def _fill_gaps(h):
    """Fill NaN pixels with the nearest valid height (scipy distance transform)."""
    from scipy import ndimage

    bad = ~np.isfinite(h)
    if not bad.any():
        return h, 0.0
    idx = ndimage.distance_transform_edt(bad, return_distances=False, return_indices=True)
    return h[tuple(idx)], float(bad.mean())


def _block_mean(a, s):
    if s == 1:
        return a
    ny, nx = a.shape
    py, px = (-ny) % s, (-nx) % s
    a = np.pad(a, ((0, py), (0, px)), mode="edge")
    return a.reshape(a.shape[0] // s, s, a.shape[1] // s, s).mean(axis=(1, 3))


def surface_current(height_um, pixel_um, *, conductivity_s_cm: float, thickness_um: float,
                    current_ma_cm2: float, r_ct_ohm_cm2: float | None = None,
                    max_nodes: int = 64, n_zeta: int = 16,
                    smooth_um: float | None = None) -> SurfaceCurrent:
    """Local current density on a measured Li surface (electrolyte above it).

    Solves Laplace's equation in the electrolyte between the Li surface ``z = h(x, y)`` and a
    uniform-potential plane above it (boundary-fitted finite volumes of :mod:`.current`),
    with an equipotential Li surface (primary distribution) or linearised Butler-Volmer
    kinetics ``j = eta / R_ct`` (secondary); mirror sides (module docstring).  Scaled so that
    the mean current per projected area is ``current_ma_cm2``.

    Parameters
    ----------
    height_um : (ny, nx) array_like
        Li surface height (um, increasing into the electrolyte), index ``[iy, ix]``, e.g. a
        CT interface height map; NaN pixels are filled from their nearest neighbours.
    pixel_um : float or (float, float)
        Pixel size (um), or ``(dy, dx)``.
    conductivity_s_cm : float
        Electrolyte ionic conductivity (S/cm).
    thickness_um : float
        Electrolyte thickness above the mean surface (um); must exceed ``max(h) - mean(h)``.
    current_ma_cm2 : float
        Geometric current density (mA/cm2).
    r_ct_ohm_cm2 : float, optional
        Charge-transfer resistance per true area (Ohm cm2); None: primary distribution.
    max_nodes : int
        Largest number of solve nodes per side (the map is block-averaged beyond it).
    n_zeta : int
        Grid intervals through the boundary-fitted electrolyte layer.
    smooth_um : float, optional
        Gaussian smoothing (standard deviation, um) of the height map before the solve.

    Returns
    -------
    SurfaceCurrent
        ``.current_ma_cm2`` is the ``(ny, nx)`` local current density normal to the surface,
        ``.area_ratio`` the true over projected area.

    Raises
    ------
    ParameterError
        A map that is not 2-D with at least 3 x 3 finite pixels, non-finite or non-positive
        parameters, or an electrolyte thinner than the surface relief.
    """
    from scipy.interpolate import RectBivariateSpline, RegularGridInterpolator

    h = np.asarray(height_um, dtype=float)
    if h.ndim != 2 or min(h.shape) < 3:
        raise ParameterError("height_um", h.shape, "must be a 2-D (ny, nx) map of at least 3 x 3 pixels")
    if not np.isfinite(h).any():
        raise ParameterError("height_um", "all NaN", "has no finite height",
                             "check the interface segmentation of the scan")
    if np.ndim(pixel_um) == 0:
        dy = dx = _finite_pos("pixel_um", pixel_um)
    else:
        dy, dx = (_finite_pos("pixel_um", v) for v in pixel_um)
    sigma = _finite_pos("conductivity_s_cm", conductivity_s_cm)
    L = _finite_pos("thickness_um", thickness_um)
    i_geo = _finite_pos("current_ma_cm2", current_ma_cm2)
    rct = _finite_pos("r_ct_ohm_cm2", r_ct_ohm_cm2, allow_none=True)
    for name, v in (("max_nodes", max_nodes), ("n_zeta", n_zeta)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 4:
            raise ParameterError(name, v, "must be an integer >= 4")
    measured = np.isfinite(h)
    h, filled = _fill_gaps(h)
    if smooth_um:
        from scipy import ndimage

        h = ndimage.gaussian_filter(h, (float(smooth_um) / dy, float(smooth_um) / dx),
                                    mode="reflect")
    ny, nx = h.shape
    y_um = np.arange(ny) * dy
    x_um = np.arange(nx) * dx
    stride = max(1, math.ceil(max(nx, ny) / int(max_nodes)))
    hc = _block_mean(h, stride)
    cy, cx = hc.shape
    if min(cx, cy) < 3:
        raise ParameterError("max_nodes", max_nodes, f"coarsens the {ny} x {nx} map below 3 nodes per side")
    sx, sy = dx * stride, dy * stride
    xc = np.arange(cx) * sx
    yc = np.arange(cy) * sy
    relief = float(hc.max() - hc.mean())
    if L <= relief:
        raise ParameterError("thickness_um", thickness_um,
                             f"must exceed the surface relief above its mean ({relief:.3g} um)",
                             "the electrolyte must cover the surface")
    # mirror extension so that the spline has zero slope across the sides
    pad = 3
    he = np.pad(hc, pad, mode="reflect")
    xe = (np.arange(cx + 2 * pad) - pad) * sx
    ye = (np.arange(cy + 2 * pad) - pad) * sy
    spline = RectBivariateSpline(xe, ye, he.T, kx=3, ky=3)  # index [ix, iy]

    def h_fun(x, y):
        xb, yb = np.broadcast_arrays(np.asarray(x, float), np.asarray(y, float))
        return spline.ev(xb.ravel(), yb.ravel()).reshape(xb.shape)

    lx, ly = xc[-1], yc[-1]
    flat = float(hc.max() - hc.min()) <= 1e-9 * max(lx, ly)
    z_top = min(float(hc.mean()) + L, float(hc.max()) + 2.0 * max(lx, ly))
    sigma_um = sigma * 1e-4
    robin_k = None if rct is None else 1.0 / (sigma_um * rct * 1e8)
    beta = 1e-6 if flat else 2.5
    xs, F3s, _, metric, top_total, surf_total, _, ys = _solve_field(
        h_fun, lx, z_top, cx - 1, int(n_zeta), beta, robin_k, length_y=ly, ny=cy - 1)
    wx = np.full(cx, sx)
    wx[0] = wx[-1] = sx / 2
    wy = np.full(cy, sy)
    wy[0] = wy[-1] = sy / 2
    W = wx[:, None] * wy[None, :]
    area = lx * ly
    scale = i_geo / (surf_total / area)
    j_true = scale * F3s / metric  # [ix, iy]
    j_proj = scale * F3s
    ar = float((W * metric).sum() / area)
    balance = abs(top_total - surf_total) / abs(surf_total)
    if stride > 1:
        # back to pixel centres: coarse node k sits at the block's first pixel + (s - 1) / 2
        off_x, off_y = (stride - 1) / 2 * dx, (stride - 1) / 2 * dy
        gx = np.clip(x_um - off_x, 0, lx)
        gy = np.clip(y_um - off_y, 0, ly)
        GX, GY = np.meshgrid(gx, gy, indexing="ij")
        pts = np.stack([GX.ravel(), GY.ravel()], axis=1)
        j_true = RegularGridInterpolator((xs, ys), j_true)(pts).reshape(nx, ny)
        j_proj = RegularGridInterpolator((xs, ys), j_proj)(pts).reshape(nx, ny)
    j_true, j_proj = j_true.T.copy(), j_proj.T.copy()
    j_true[~measured] = np.nan  # no surface measured there (the solve used filled heights)
    j_proj[~measured] = np.nan
    return SurfaceCurrent(x_um, y_um, h, j_true, j_proj, ar, float(np.nanmax(j_true) / i_geo), i_geo,
                          sigma, L, rct, int(stride), float(balance), filled)


#: The comparison can discriminate (``resolvable``) when the predicted map's contrast exceeds
#: the measured map's noise floor at the compared resolution by this factor.
RESOLVABLE_CONTRAST_TO_NOISE = 1.0

#: How the measured map's noise floor is estimated (stored with the comparison).
NOISE_ESTIMATOR = (
    "noise of the measured map at the compared resolution, spatial correlation included "
    "(ssbscope.interface.map_noise = the shared model ssbscope.mapnoise.fit_map_noise, which "
    "the transport area's stored noise uses too): white + Gaussian-correlated noise (white "
    "noise filtered by a Gaussian of std 0.45 <= l <= 1.5 px, kept when an F test at 95 % "
    "prefers it) fitted with a smooth signal (Gaussian scale >= 4 px and >= 3 l, plus a "
    "trend) to the map's robust semivariogram (squared pixel differences up to 10 px, the "
    "largest 5 % at each distance trimmed so the pairs across sharp hot spots and steps stay "
    "out), carried through the comparison's smoothing by drawing noise fields of that model "
    "on the compared pixels and smoothing them the same way; noise correlated over as long a "
    "scale as the signal is taken for signal (a lower bound)")


def white_noise_std(a) -> float:
    """Standard deviation of the pixel-independent (white) noise of a 2-D map.

    ``a = s + n`` with ``s`` smooth over a few pixels and ``n`` white noise of std ``sigma``:
    the separable second difference ``K = [1, -2, 1] x [1, -2, 1]`` cancels every part of
    ``s`` that is linear along x or along y (the residual of a smooth feature of ``l`` pixels
    falls as ``l**-4``), and ``K * n`` has variance ``36 sigma**2`` (sum of ``K**2``), so
    ``sigma = rms(K * a) / 6`` (Immerkaer 1996, doi:10.1006/cviu.1996.0060; the root mean
    square rather than his mean absolute value: no Gaussian assumption, so voxel-quantised
    heights are estimated too).  Only 3 x 3 windows with nine finite pixels count.

    Parameters
    ----------
    a : (ny, nx) array_like
        The map (NaN: no value).

    Returns
    -------
    float
        Noise std in the map's units; NaN when fewer than 10 windows are complete.

    Notes
    -----
    Noise correlated over several pixels (e.g. from interpolation in a registration) is
    partly taken for signal, so the estimate is then a lower bound.
    """
    from scipy import ndimage

    a = np.asarray(a, float)
    if a.ndim != 2 or min(a.shape) < 3:
        raise ParameterError("map", a.shape, "must be a 2-D map of at least 3 x 3 pixels")
    ok = np.isfinite(a)
    k1 = np.array([1.0, -2.0, 1.0])
    kern = np.outer(k1, k1)
    r = ndimage.convolve(np.where(ok, a, 0.0), kern, mode="constant")
    full = ndimage.convolve(ok.astype(float), np.ones((3, 3)), mode="constant") == 9
    full[[0, -1], :] = False
    full[:, [0, -1]] = False
    if full.sum() < 10:
        return float("nan")
    return float(np.sqrt(np.mean(r[full] ** 2)) / 6.0)


def smooth_map(a, pixel_um, smoothing_um):
    """Gaussian smoothing of a map with NaN gaps (normalised convolution).

    ``(G * (a m)) / (G * m)`` with ``m`` the finite pixels and ``G`` a Gaussian of standard
    deviation ``smoothing_um``; pixels that were NaN stay NaN, and the sides are reflected.

    Parameters
    ----------
    a : (ny, nx) array_like
    pixel_um : float or (float, float)
        Pixel size (um), or ``(dy, dx)``.
    smoothing_um : float or None
        Standard deviation of the Gaussian (um); None or 0: ``a`` unchanged (a float copy).

    Returns
    -------
    (ny, nx) ndarray
    """
    from ssbscope._maps import smooth_with_gaps

    a = np.array(a, dtype=float)
    if not smoothing_um:
        return a
    dy, dx = (float(pixel_um),) * 2 if np.ndim(pixel_um) == 0 else (float(v) for v in pixel_um)
    return smooth_with_gaps(a, (float(smoothing_um) / dy, float(smoothing_um) / dx))


def smoothing_noise_factor(pixel_um, smoothing_um) -> float:
    """Factor by which :func:`smooth_map` scales the std of white noise (interior pixels).

    ``sqrt(sum w**2)`` of the discrete filter weights ``w`` (the filter applied to a unit
    impulse); 1 without smoothing.  About ``1 / (2 sqrt(pi) s)`` for ``s`` pixels of
    smoothing.
    """
    if not smoothing_um:
        return 1.0
    dy, dx = (float(pixel_um),) * 2 if np.ndim(pixel_um) == 0 else (float(v) for v in pixel_um)
    n = 2 * int(math.ceil(4.0 * float(smoothing_um) / min(dy, dx))) + 3
    d = np.zeros((n, n))
    d[n // 2, n // 2] = 1.0
    w = smooth_map(d, (dy, dx), smoothing_um)
    return float(np.sqrt(np.sum(w ** 2)))


@dataclass(frozen=True)
class MapNoise:
    """Noise of a measured map after a smoothing (:func:`map_noise`).

    The map's noise model (:class:`ssbscope.mapnoise.MapNoiseModel`, fitted by
    :func:`ssbscope.mapnoise.fit_map_noise`: white noise of variance ``white_std**2`` plus
    white noise filtered by a Gaussian of std ``correlation_length_px``, of variance
    ``correlated_std**2``) evaluated at one smoothing.

    Attributes
    ----------
    std : float
        Noise std of the map after the smoothing (the map's units): what the comparison's
        floor uses.
    pixel_std : float
        Noise std of the unsmoothed map (``sqrt(white_std**2 + correlated_std**2)``).
    white_std : float
        Std of the white component.
    correlated_std : float
        Std of the correlated component (0 when none is fitted).
    correlation_length_px : float
        ``l`` (pixels; 0 when no correlated component is fitted).
    immerkaer_std : float
        :func:`white_noise_std` of the map (for reference).
    white_assumption_std : float
        ``immerkaer_std`` x :func:`smoothing_noise_factor`: the white-noise floor.
    smoothing_um : float
    n_px : int
        Pixels the model was fitted on.
    method : str
        ``"variogram"`` (the fitted model) or, for maps too small to fit, ``"white"`` (the
        white-noise floor).
    model : MapNoiseModel
        The fitted model (NaN, ``model.model == "none"``, when ``method`` is ``"white"``).
    """

    std: float
    pixel_std: float
    white_std: float
    correlated_std: float
    correlation_length_px: float
    immerkaer_std: float
    white_assumption_std: float
    smoothing_um: float
    n_px: int
    method: str
    model: object = field(repr=False, compare=False, default=None)


def map_noise(a, pixel_um=1.0, smoothing_um=None, *, valid=None, n_realisations: int = 8,
              seed: int = 0) -> MapNoise:
    """Noise std of a measured map after Gaussian smoothing, spatial correlation included.

    White-noise estimates (:func:`white_noise_std`) see the highest frequencies only, and
    smoothing removes white noise as ``1 / sqrt(area)``; noise correlated over pixels keeps
    more of its variance after a smoothing.  This fits the map's noise model (white +
    Gaussian-correlated noise under a smooth signal, on the map's robust semivariogram:
    :func:`ssbscope.mapnoise.fit_map_noise`, the model the transport area stores too) and
    carries it through the smoothing actually applied
    (:meth:`ssbscope.mapnoise.MapNoiseModel.smoothed_sigma`: ``n_realisations`` noise fields
    drawn from the model on the valid pixels and smoothed by :func:`smooth_map`, so gaps,
    the sides' reflection and the normalised convolution are those of the comparison).

    Assumptions and limits (:func:`ssbscope.mapnoise.fit_map_noise`): stationary, isotropic,
    Gaussian noise; the signal varies on a longer scale than the noise (Gaussian scale
    ``L >= 4`` px and ``>= 3 l``); the largest 5 % of the squared pixel differences at each
    lag (the pairs across sharp hot spots and steps) are trimmed out of the variogram, and
    sharp structure beyond that reads as correlated noise (``std`` then high: conservative).
    Noise correlated over as long a scale as the signal is taken for signal (``std`` then
    low).

    Measured (benchmarks/map_noise_estimators.py, tests/core/test_mapnoise.py; ``std`` over
    the true smoothed-noise std, 96^2 disk maps of 2 um pixels, 3 draws, smoothings 0 / 4 /
    12 um): 0.90-1.10 for white + correlated noise with ``l`` = 0-1.5 px under smooth, 6 um
    hot-spot and sharp (2.5 um hot spots + steps) signals, where the former spectrum fit read
    0.38-1.19; white noise under the sharp signal 1.10 / 1.89 / 2.15 (former: 1.18 / 2.58 /
    2.88); ``l`` >= 2 px: 0.06-0.55 (noise as coarse as the signal).  Hot-spot run
    (tests/interface/test_hot_spot_run.py, 2 um smoothing, hot spots of 2.5 voxels at 30-56 %
    contrast and voxel steps): ``std`` over the measured map's true error 0.92 and 1.42
    (the former spectrum fit: 3.9 and 11.9).

    Parameters
    ----------
    a : (ny, nx) array_like
        The map (NaN: no value).
    pixel_um : float or (float, float)
        Pixel size (um), or ``(dy, dx)``.
    smoothing_um : float, optional
        Gaussian smoothing (std, um) whose output noise is wanted (:func:`smooth_map`);
        None or 0: the pixel map's noise.
    valid : (ny, nx) bool array_like, optional
        Pixels compared (default the finite ones of ``a``).
    n_realisations : int
        Noise fields drawn for the smoothing.
    seed : int
        Seed of the draws (the result is deterministic).

    Returns
    -------
    MapNoise
        ``.std`` in the map's units; ``method`` ``"white"`` (white-noise floor) when the map
        has too few valid pixels for the fit (:data:`ssbscope.mapnoise.NOISE_MIN_PX`).

    Examples
    --------
    White noise of std 0.1 under a smooth signal, smoothed by 4 pixels:

    >>> rng = np.random.default_rng(0)
    >>> m = 1.0 + 0.1 * rng.standard_normal((128, 128))
    >>> r = map_noise(m, 1.0, 4.0)
    >>> bool(abs(r.pixel_std / 0.1 - 1) < 0.05), bool(abs(r.std / (0.1 / (2 * np.sqrt(np.pi) * 4)) - 1) < 0.1)
    (True, True)
    """
    from ssbscope.mapnoise import fit_map_noise

    a = np.asarray(a, float)
    if a.ndim != 2 or min(a.shape) < 3:
        raise ParameterError("map", a.shape, "must be a 2-D map of at least 3 x 3 pixels")
    ok = np.isfinite(a) if valid is None else (np.asarray(valid, bool) & np.isfinite(a))
    sm = float(smoothing_um or 0.0)
    if not (0.0 <= sm < float("inf")):
        raise ParameterError("smoothing_um", smoothing_um, "must be finite and >= 0 (um)")
    imm = white_noise_std(np.where(ok, a, np.nan))
    white_sm = imm * smoothing_noise_factor(pixel_um, sm)
    model = fit_map_noise(a, valid=ok)
    if not np.isfinite(model.sigma):
        return MapNoise(float(white_sm), float(imm), float(imm), 0.0, 0.0, float(imm),
                        float(white_sm), sm, model.n_px, "white", model)
    std = model.smoothed_sigma(sm, pixel_um, valid=ok, n_realisations=n_realisations,
                               seed=seed)
    return MapNoise(float(std), model.sigma, model.white_sigma, model.correlated_sigma,
                    model.correlation_length_px, float(imm), float(white_sm), sm, model.n_px,
                    "variogram", model)


@dataclass(frozen=True)
class HotSpotComparison:
    """Predicted against measured hot spots (:func:`hot_spot_overlap`).

    Attributes
    ----------
    correlation : float
        Pearson correlation of the two maps over the valid pixels.
    overlap : float
        Fraction of the predicted top region that lies in the measured top region.
    baseline_correlation, baseline_overlap : float
        Mean of the same under random shifts/flips of the measured map (the shuffled-map
        baseline, which keeps the map's spatial autocorrelation).
    baseline_overlap_std : float
        Standard deviation of the baseline overlap.
    top_fraction : float
        Fraction of pixels that make a top region (0.1: top decile).
    n_shuffle : int
    baseline_correlation_std : float
        Standard deviation of the baseline correlation.
    smoothing_um : float
        Gaussian smoothing (std, um) applied to both maps and the baseline (0: none).
    predicted_contrast : float
        ``std / mean`` of the predicted map over the compared pixels, after the smoothing.
    measured_noise_std : float
        Noise std of the measured map at the compared resolution (its units), spatial
        correlation included (:func:`map_noise` ``.std``: the shared noise model,
        :mod:`ssbscope.mapnoise`, carried through the smoothing actually applied).
    measured_mean : float
        Mean of the measured map over the compared pixels (after the smoothing).
    measured_noise_floor : float
        ``measured_noise_std / |measured_mean|``: the smallest relative contrast the
        measured map can show at this resolution.
    measured_white_noise_std : float
        The white-noise assumption's std at the same resolution (:func:`white_noise_std` x
        :func:`smoothing_noise_factor`), for reference: below ``measured_noise_std`` when
        the noise is correlated over pixels.
    noise_correlation_length_px : float
        Correlation length (Gaussian std, pixels) of the noise's correlated component
        (:class:`MapNoise`; 0: white).
    """

    correlation: float
    overlap: float
    baseline_correlation: float
    baseline_overlap: float
    baseline_overlap_std: float
    top_fraction: float
    n_shuffle: int
    baseline_correlation_std: float = float("nan")
    smoothing_um: float = 0.0
    predicted_contrast: float = float("nan")
    measured_noise_std: float = float("nan")
    measured_mean: float = float("nan")
    measured_noise_floor: float = float("nan")
    measured_white_noise_std: float = float("nan")
    noise_correlation_length_px: float = float("nan")

    @property
    def overlap_z(self) -> float:
        """How many baseline standard deviations the overlap lies above the baseline mean."""
        if not self.baseline_overlap_std > 0:
            return float("inf") if self.overlap > self.baseline_overlap else 0.0
        return (self.overlap - self.baseline_overlap) / self.baseline_overlap_std

    @property
    def correlation_z(self) -> float:
        """How many baseline standard deviations the correlation lies above the baseline mean."""
        if not self.baseline_correlation_std > 0:
            return float("nan")
        return (self.correlation - self.baseline_correlation) / self.baseline_correlation_std

    @property
    def contrast_to_noise(self) -> float:
        """``predicted_contrast / measured_noise_floor`` (inf for a noise-free measured map)."""
        if not np.isfinite(self.predicted_contrast) or not np.isfinite(self.measured_noise_floor):
            return float("nan")
        if self.measured_noise_floor == 0:
            return float("inf") if self.predicted_contrast > 0 else float("nan")
        return self.predicted_contrast / self.measured_noise_floor

    @property
    def resolvable(self) -> bool:
        """Whether the measured map can show the predicted contrast: the predicted contrast
        exceeds the measured noise floor (x :data:`RESOLVABLE_CONTRAST_TO_NOISE`) at the
        compared resolution.  Only then do correlation and overlap measure the model's skill."""
        return bool(self.contrast_to_noise > RESOLVABLE_CONTRAST_TO_NOISE)  # False for NaN

    @property
    def verdict(self) -> str:
        """``"resolvable"`` or ``"not resolvable"`` (:attr:`resolvable`)."""
        return "resolvable" if self.resolvable else "not resolvable"


def _top(a, valid, q):
    thr = np.quantile(a[valid], 1.0 - q)
    return valid & (a >= thr)


def hot_spot_overlap(predicted, measured, *, top_fraction: float = 0.1, n_shuffle: int = 200,
                     seed: int = 0, pixel_um=1.0,
                     smoothing_um: float | None = None) -> HotSpotComparison:
    """Compare a predicted current map with a measured one: correlation and top-region overlap.

    Says first whether the comparison *can* discriminate: the measured map's noise floor
    (:func:`map_noise`: the shared noise model, spatial correlation included, carried through
    the smoothing; relative to its mean, at the compared resolution) against
    the predicted map's contrast (std / mean).  A prediction whose contrast lies below the
    noise floor cannot be confirmed or refuted by this map, whatever the correlation
    (:attr:`HotSpotComparison.resolvable`).

    Parameters
    ----------
    predicted, measured : (ny, nx) array_like
        Maps on the same pixel grid (e.g. :attr:`SurfaceCurrent.current_ma_cm2` and a
        current-density map from the thickness change between two scans); NaN pixels are
        left out.
    top_fraction : float
        The hot-spot region of each map: its highest ``top_fraction`` of pixels (0.1: the top
        decile).
    n_shuffle : int
        Random circular shifts (with random flips) of the measured map for the baseline: they
        keep its spatial autocorrelation, so the baseline is what two unrelated maps of this
        texture give, not the ``top_fraction`` of a pixel permutation.
    seed : int
        Seed of the shifts.
    pixel_um : float or (float, float)
        Pixel size (um), or ``(dy, dx)``; used by ``smoothing_um``.
    smoothing_um : float, optional
        Gaussian smoothing (std, um) of both maps before the comparison (:func:`smooth_map`);
        the baseline shifts the smoothed measured map, and the noise floor is that of the
        smoothed map (:func:`map_noise` with the same smoothing).  None: the pixel maps.

    Returns
    -------
    HotSpotComparison
    """
    p = np.asarray(predicted, float)
    m = np.asarray(measured, float)
    if p.shape != m.shape or p.ndim != 2:
        raise ParameterError("measured", m.shape, f"must be a 2-D map of the predicted map's shape {p.shape}")
    if not (0.0 < top_fraction < 0.5):
        raise ParameterError("top_fraction", top_fraction, "must be in (0, 0.5)")
    if int(n_shuffle) < 10:
        raise ParameterError("n_shuffle", n_shuffle, "must be >= 10")
    if smoothing_um is not None and not (0 <= float(smoothing_um) < float("inf")):
        raise ParameterError("smoothing_um", smoothing_um, "must be finite and >= 0 (um)")
    both = np.isfinite(p) & np.isfinite(m)
    sm = float(smoothing_um or 0.0)
    nz = map_noise(m, pixel_um, sm, valid=both, seed=seed)
    noise = nz.std
    if sm > 0:
        p = smooth_map(np.where(both, p, np.nan), pixel_um, sm)
        m = smooth_map(np.where(both, m, np.nan), pixel_um, sm)

    def stats(mm):
        valid = np.isfinite(p) & np.isfinite(mm)
        if valid.sum() < 10:
            return float("nan"), float("nan")
        a, b = p[valid], mm[valid]
        corr = float(np.corrcoef(a, b)[0, 1]) if a.std() > 0 and b.std() > 0 else 0.0
        tp, tm = _top(p, valid, top_fraction), _top(mm, valid, top_fraction)
        return corr, float((tp & tm).sum() / max(tp.sum(), 1))

    corr, ov = stats(m)
    if not np.isfinite(corr):
        raise ParameterError("measured", "valid pixels", "fewer than 10 pixels are finite in both maps")
    valid = np.isfinite(p) & np.isfinite(m)
    pm = float(np.mean(p[valid]))
    contrast = float(np.std(p[valid]) / abs(pm)) if pm != 0 else float("nan")
    mm_mean = float(np.mean(m[valid]))
    floor = noise / abs(mm_mean) if mm_mean != 0 else float("nan")
    rng = np.random.default_rng(seed)
    ny, nx = m.shape
    bc, bo = [], []
    for _ in range(int(n_shuffle)):
        mm = np.roll(m, (int(rng.integers(ny)), int(rng.integers(nx))), axis=(0, 1))
        if rng.random() < 0.5:
            mm = mm[::-1]
        if rng.random() < 0.5:
            mm = mm[:, ::-1]
        c, o = stats(mm)
        if np.isfinite(c):
            bc.append(c)
            bo.append(o)
    return HotSpotComparison(corr, ov, float(np.mean(bc)), float(np.mean(bo)), float(np.std(bo)),
                             float(top_fraction), int(n_shuffle), float(np.std(bc)), sm,
                             contrast, float(noise), mm_mean, float(floor),
                             float(nz.white_assumption_std), float(nz.correlation_length_px))


#: :func:`height_conditioned_skill` calls the prediction's skill beyond the height
#: significant when the one-sided permutation p-value of its partial correlation against the
#: height-conditioned surrogates is at most this.  A p-value rather than a z-score: on small
#: maps of smooth fields the surrogates' correlations are few independent samples wide and far
#: from normal (the model-plated twin: an observed partial correlation above all 200
#: surrogates lies only 1.9 of their standard deviations above their mean).
SKILL_BEYOND_HEIGHT_P = 0.05


@dataclass(frozen=True)
class HeightConditionedSkill:
    """Skill of a predicted map beyond what the height alone explains (:func:`height_conditioned_skill`).

    Attributes
    ----------
    partial_correlation : float
        Pearson correlation of the predicted and the measured map after each has had its
        dependence on the height removed (piecewise-linear regression on height bins).
    partial_correlation_baseline, partial_correlation_baseline_std : float
        Mean and std of the same over the height-conditioned surrogates of the measured map.
    partial_correlation_p : float
        One-sided permutation p-value ``(1 + #{surrogate >= observed}) / (1 + n)``.
    overlap : float
        Fraction of the predicted top region inside the measured top region (as
        :attr:`HotSpotComparison.overlap`).
    conditional_baseline_overlap, conditional_baseline_overlap_std : float
        Mean and std of the overlap with the height-conditioned surrogates: what a prediction
        of this map scores against a measured map that depends on the height exactly as the
        measured one does but is otherwise unrelated to the prediction.
    conditional_overlap_p : float
        One-sided permutation p-value of the overlap.
    correlation : float
        Pearson correlation of the two maps (as :attr:`HotSpotComparison.correlation`).
    conditional_baseline_correlation, conditional_baseline_correlation_std : float
        Mean and std of the correlation with the surrogates.
    height_only_overlap, height_only_correlation : float
        Overlap and correlation of the height-only prediction (the measured map's own
        regression on the height, fitted in-sample: the most any map that is a function of
        the height alone scores) with the measured map; ``height_only_correlation ** 2`` is
        the fraction of the measured variance the height explains.
    n_height_bins, top_fraction, n_shuffle, smoothing_um
        Settings.
    """

    partial_correlation: float
    partial_correlation_baseline: float
    partial_correlation_baseline_std: float
    partial_correlation_p: float
    overlap: float
    conditional_baseline_overlap: float
    conditional_baseline_overlap_std: float
    conditional_overlap_p: float
    correlation: float
    conditional_baseline_correlation: float
    conditional_baseline_correlation_std: float
    height_only_overlap: float
    height_only_correlation: float
    n_height_bins: int
    top_fraction: float
    n_shuffle: int
    smoothing_um: float = 0.0

    @staticmethod
    def _z(v, mean, std):
        if not np.isfinite(v) or not np.isfinite(mean):
            return float("nan")
        if not std > 0:
            return float("inf") if v > mean else 0.0
        return float((v - mean) / std)

    @property
    def partial_correlation_z(self) -> float:
        """Partial correlation minus its surrogate mean, in surrogate standard deviations."""
        return self._z(self.partial_correlation, self.partial_correlation_baseline,
                       self.partial_correlation_baseline_std)

    @property
    def conditional_overlap_z(self) -> float:
        """Overlap minus its height-conditioned baseline mean, in baseline standard deviations."""
        return self._z(self.overlap, self.conditional_baseline_overlap,
                       self.conditional_baseline_overlap_std)

    @property
    def conditional_correlation_z(self) -> float:
        """Correlation minus its height-conditioned baseline mean, in baseline standard deviations."""
        return self._z(self.correlation, self.conditional_baseline_correlation,
                       self.conditional_baseline_correlation_std)

    @property
    def beyond_height(self) -> bool:
        """Whether the prediction carries skill beyond the height: the partial correlation's
        permutation p-value is at most :data:`SKILL_BEYOND_HEIGHT_P` (and it is positive)."""
        return bool(self.partial_correlation_p <= SKILL_BEYOND_HEIGHT_P
                    and self.partial_correlation > 0)  # False for NaN

    @property
    def verdict(self) -> str:
        """``"skill beyond height"`` or ``"no skill beyond height"`` (:attr:`beyond_height`)."""
        return "skill beyond height" if self.beyond_height else "no skill beyond height"


def _height_basis(h, n_bins):
    """Cubic B-spline design matrix ``(n, n_bins + 3)`` of the heights ``h`` (1-D), with
    interior knots at the ``n_bins``-quantiles of ``h`` (distinct ones only) (a regression spline: any smooth,
    even non-monotone, function of the height, with one more degree of freedom per bin)."""
    from scipy.interpolate import BSpline

    lo, hi = float(h.min()), float(h.max())
    inner = np.unique(np.r_[np.quantile(h, np.linspace(0.0, 1.0, n_bins + 1)[1:-1]),
                            np.linspace(lo, hi, n_bins + 1)[1:-1]])
    inner = inner[(inner > lo) & (inner < hi)]  # quantised heights: no repeated knots
    t = np.r_[[lo] * 4, inner, [hi] * 4]
    return BSpline.design_matrix(np.clip(h, lo, hi), t, 3).toarray()


def height_conditioned_skill(predicted, measured, height, *, top_fraction: float = 0.1,
                             n_shuffle: int = 200, seed: int = 0, pixel_um=1.0,
                             smoothing_um: float | None = None,
                             n_height_bins: int = 10) -> HeightConditionedSkill:
    """Does a predicted current map carry skill beyond what the height alone gives?

    :func:`hot_spot_overlap`'s shuffled baseline asks whether the predicted and the measured
    map agree more than two unrelated maps of the same texture.  When the growth follows the
    height itself (Li plates where it is already thick), every map that is a function of the
    height passes that test; a model has skill only if it predicts the measured map *beyond*
    the height.  The null hypothesis here: the measured map depends on the prediction only
    through the local height ``h`` of the surface the prediction was made on,
    ``measured = f(h) + e`` pixel by pixel, with ``f`` any smooth function and ``e`` a
    stationary field unrelated to the prediction.

    1. ``f`` is estimated on the pixel maps by least squares on a cubic regression spline of
       ``h`` (interior knots at the ``n_height_bins``-quantiles of ``h`` and at
       ``n_height_bins`` even steps of its range, so the sparse extremes are fitted too;
       any smooth, even non-monotone, dependence), and likewise the prediction's dependence
       on ``h``.  The fit is done before the smoothing: a smoothed ``f(h)`` of a nonlinear
       ``f`` is not a function of the smoothed height.
    2. Statistics, after ``smoothing_um`` (as in :func:`hot_spot_overlap`): the partial
       correlation given the height (correlation of the two smoothed residual maps: 0 in
       expectation under the null), and the correlation and top-region overlap of the
       smoothed maps themselves.
    3. Height-conditioned surrogates ``f_hat(h) + T(e_hat)``, ``T`` a random circular shift
       with random flips of the residual map (as the shuffled baseline moves the whole
       map): each keeps the measured map's dependence on the height and its residual
       texture (spatial autocorrelation), but moves the residual relative to the
       prediction.  Each statistic is recomputed on every surrogate (the regressions
       refitted on its pixels), so under the null the observed value is one more draw of the
       surrogates' distribution: z-scores and one-sided permutation p-values
       ``(1 + #{surrogate >= observed}) / (1 + n)`` follow.
    4. For reference, the height-only prediction ``f_hat(h)`` (fitted in-sample on the
       measured map, so the most a map that is a function of the height scores) with its
       overlap and correlation.

    Why this test: a height-only prediction compared with the model gives no significance;
    a permutation of the measured pixels within height bins ignores the maps' spatial
    correlation and reports skill that is not there (measured: 64 x 64 maps, a texture of
    3 px, growth linear in the height plus noise correlated over 1 px, 2 um smoothing,
    the primary current as the prediction, 30 noise draws: z 4.5 +- 4.1, 73 % above 2);
    these surrogates give z 0.0 +- 1.0 (3 % above 2) on the same draws' kind, and
    -0.1 +- 1.0 (none above 2) with growth ``exp(1.2 h / std(h))``.
    Assumptions: ``e`` is stationary (its spread does not change with the height); a
    dependence on the height at another scale than the prediction's surface (e.g. growth
    following a more smoothed height) counts as "beyond the height"; a prediction and a
    growth that share a strong nonlinearity in ``h`` within one knot interval leave
    aligned fit residuals (more ``n_height_bins`` reduce them); a measured map that shares
    noise with ``height`` (a thickness change from the scan whose surface was predicted on)
    breaks the null's "``e`` unrelated to the prediction" when the prediction responds to
    that noise, biasing the partial correlation (low when plating, high in the ``|j|`` of a
    stripping interval; see the pipeline's ``conditional_caveat``).  Power: on a small map of
    smooth fields the surrogates' spread is wide (few independent patches), so read the
    p-value (:attr:`HeightConditionedSkill.beyond_height`) rather than the z-score.

    Parameters
    ----------
    predicted, measured, height : (ny, nx) array_like
        The predicted and the measured current map and the height (um) of the surface the
        prediction was made on (e.g. :attr:`SurfaceCurrent.height_um`), on one pixel grid;
        NaN pixels are left out.
    top_fraction, n_shuffle, seed, pixel_um, smoothing_um
        As in :func:`hot_spot_overlap` (``n_shuffle`` surrogates).
    n_height_bins : int
        Knot intervals of the height spline per knot family (at least 2, and at least 20
        valid pixels per interval).

    Returns
    -------
    HeightConditionedSkill

    Raises
    ------
    ParameterError
        Maps of different shapes, bad settings, fewer than ``20 n_height_bins`` pixels valid
        in all three maps, or a height with fewer distinct values than bins.

    Examples
    --------
    A measured map that is a function of the height plus noise, and a prediction that is
    another function of it: skill by the shuffled baseline, none beyond the height.

    >>> from scipy import ndimage
    >>> rng = np.random.default_rng(1)
    >>> h = 4 * ndimage.gaussian_filter(rng.standard_normal((48, 48)), 3.0, mode="wrap")
    >>> h /= h.std()
    >>> measured = np.exp(0.3 * h) + 0.3 * rng.standard_normal(h.shape)
    >>> predicted = 1 + 0.1 * h + 0.02 * h ** 3
    >>> r = height_conditioned_skill(predicted, measured, h, n_shuffle=50)
    >>> hot_spot_overlap(predicted, measured, n_shuffle=50).overlap_z > 3, r.beyond_height
    (True, False)
    """
    p0 = np.asarray(predicted, float)
    m0 = np.asarray(measured, float)
    h0 = np.asarray(height, float)
    if p0.ndim != 2 or m0.shape != p0.shape or h0.shape != p0.shape:
        raise ParameterError("measured, height", (m0.shape, h0.shape),
                             f"must be 2-D maps of the predicted map's shape {p0.shape}")
    if not (0.0 < top_fraction < 0.5):
        raise ParameterError("top_fraction", top_fraction, "must be in (0, 0.5)")
    if int(n_shuffle) < 10:
        raise ParameterError("n_shuffle", n_shuffle, "must be >= 10")
    if (isinstance(n_height_bins, bool) or not isinstance(n_height_bins, (int, np.integer))
            or n_height_bins < 2):
        raise ParameterError("n_height_bins", n_height_bins, "must be an integer >= 2")
    nb = int(n_height_bins)
    if smoothing_um is not None and not (0 <= float(smoothing_um) < float("inf")):
        raise ParameterError("smoothing_um", smoothing_um, "must be finite and >= 0 (um)")
    sm = float(smoothing_um or 0.0)
    valid = np.isfinite(p0) & np.isfinite(m0) & np.isfinite(h0)
    if valid.sum() < 20 * nb:
        raise ParameterError("measured", f"{int(valid.sum())} valid pixels",
                             f"fewer than 20 per height bin ({nb} bins)",
                             "lower n_height_bins or compare a larger map")
    hv = h0[valid] - h0[valid].mean()
    if np.unique(hv).size < nb:
        raise ParameterError("height", f"{np.unique(hv).size} distinct values",
                             f"fewer than the {nb} height bins", "lower n_height_bins")
    bv = _height_basis(hv, nb)
    basis = np.zeros(h0.shape + (bv.shape[1],))
    basis[valid] = bv

    def fit(a, ok):
        """Least-squares regression of the map ``a`` on the height spline over ``ok``."""
        out = np.full(a.shape, np.nan)
        bm = basis[ok]
        g = bm.T @ bm  # normal equations (a few dozen unknowns), lightly regularised
        g[np.diag_indices_from(g)] += 1e-9 * np.trace(g) / g.shape[0]
        out[ok] = bm @ np.linalg.solve(g, bm.T @ a[ok])
        return out

    def corr(a, b):
        return float(np.corrcoef(a, b)[0, 1]) if a.std() > 0 and b.std() > 0 else 0.0

    m_fit = fit(m0, valid)
    m_res = np.where(valid, m0 - m_fit, np.nan)
    p_s = smooth_map(np.where(valid, p0, np.nan), pixel_um, sm)

    def stats(mm):
        """(partial correlation, overlap, correlation) of the prediction with the pixel map
        ``mm``: regressions at the pixel scale, then both maps and both residuals smoothed."""
        ok = valid & np.isfinite(mm)
        if ok.sum() < 10 * nb:
            return (float("nan"),) * 3
        pr = smooth_map(np.where(ok, p0 - fit(p0, ok), np.nan), pixel_um, sm)[ok]
        mr = smooth_map(np.where(ok, mm - fit(mm, ok), np.nan), pixel_um, sm)[ok]
        ps = p_s if ok.sum() == valid.sum() else smooth_map(np.where(ok, p0, np.nan), pixel_um, sm)
        ms = smooth_map(np.where(ok, mm, np.nan), pixel_um, sm)
        tp, tm = _top(ps, ok, top_fraction), _top(ms, ok, top_fraction)
        return corr(pr, mr), float((tp & tm).sum() / max(tp.sum(), 1)), corr(ps[ok], ms[ok])

    pc, ov, cc = stats(m0)
    ms0 = smooth_map(np.where(valid, m0, np.nan), pixel_um, sm)
    fs0 = smooth_map(m_fit, pixel_um, sm)
    tf, tm = _top(fs0, valid, top_fraction), _top(ms0, valid, top_fraction)
    h_ov = float((tf & tm).sum() / max(tf.sum(), 1))
    h_cc = corr(fs0[valid], ms0[valid])
    rng = np.random.default_rng(seed)
    ny, nx = m0.shape
    null = []
    for _ in range(int(n_shuffle)):
        r = np.roll(m_res, (int(rng.integers(ny)), int(rng.integers(nx))), axis=(0, 1))
        if rng.random() < 0.5:
            r = r[::-1]
        if rng.random() < 0.5:
            r = r[:, ::-1]
        s = stats(m_fit + r)
        if np.isfinite(s[0]):
            null.append(s)
    if len(null) < 10:
        raise ParameterError("measured", "valid pixels", "too few surrogates keep enough "
                             "valid pixels (a map mostly NaN)", "compare a larger map")
    null = np.asarray(null)

    def pval(v, col):
        return float((1 + np.sum(null[:, col] >= v)) / (1 + null.shape[0]))

    return HeightConditionedSkill(
        pc, float(null[:, 0].mean()), float(null[:, 0].std()), pval(pc, 0),
        ov, float(null[:, 1].mean()), float(null[:, 1].std()), pval(ov, 1),
        cc, float(null[:, 2].mean()), float(null[:, 2].std()), h_ov, h_cc, nb,
        float(top_fraction), int(n_shuffle), sm)


__all__ += ["HeightConditionedSkill", "height_conditioned_skill", "SKILL_BEYOND_HEIGHT_P"]


PREDICTION_HEIGHTS = ("noise_weighted", "mid_interval", "scan_start")


def interval_height_weight(h_start, h_end) -> tuple[float, float, float]:
    """Weight of scan k's height in its interval's noise-weighted surface.

    ``w = var(n_end) / (var(n_start) + var(n_end))`` with each scan's height-noise variance
    from its own map (:func:`ssbscope.mapnoise.fit_map_noise`: white + Gaussian-correlated
    noise beside a smooth signal on the map's robust semivariogram; the per-pixel variance
    ``sigma**2``).  ``w h_start + (1 - w) h_end`` is the inverse-variance weighted mean of
    the two scans, whose noise ``w n_start + (1 - w) n_end`` has zero covariance with the
    measured map's ``n_end - n_start`` (:func:`interval_height`).

    Parameters
    ----------
    h_start, h_end : (ny, nx) array_like
        Heights (um) of the interval's first and last scan; NaN: not measured.

    Returns
    -------
    (float, float, float)
        ``(w, sigma_start_um, sigma_end_um)``; ``w`` is 0.5 (the mid-interval height) when
        either map's noise cannot be fitted (too few pixels) or both read zero.

    Examples
    --------
    >>> from scipy import ndimage
    >>> rng = np.random.default_rng(0)
    >>> h = 4 * ndimage.gaussian_filter(rng.standard_normal((48, 48)), 4.0, mode="wrap")
    >>> w, s0, s1 = interval_height_weight(h + 0.2 * rng.standard_normal(h.shape),
    ...                                    h + 0.6 * rng.standard_normal(h.shape))
    >>> round(w, 1)  # 0.6**2 / (0.2**2 + 0.6**2)
    0.9
    """
    from ssbscope.mapnoise import fit_map_noise

    sig = []
    for a in (h_start, h_end):
        a = np.asarray(a, float)
        try:
            s = float(fit_map_noise(a).sigma) if np.isfinite(a).sum() >= 9 else float("nan")
        except Exception:  # a map the noise model cannot be fitted to
            s = float("nan")
        sig.append(s)
    v0, v1 = sig[0] ** 2, sig[1] ** 2
    if not (np.isfinite(v0) and np.isfinite(v1)) or v0 + v1 <= 0:
        return 0.5, sig[0], sig[1]
    return float(v1 / (v0 + v1)), sig[0], sig[1]


def interval_height(h_start, h_end, choice: str = "noise_weighted", *, weight=None):
    """Height of the surface an interval's current prediction is solved on.

    The measured current map of the interval from scan k to scan k+1 is proportional to the
    thickness change ``h_end - h_start``, so it carries the height noise of both scans:
    ``n_end - n_start``.  A prediction made on ``h_start`` responds to ``n_start`` too, and
    a test of its skill beyond the height (:func:`height_conditioned_skill`) then sees a
    shared noise that is not skill: the partial correlation is biased low when plating and
    high in the ``|j|`` of a stripping interval.  A surface ``w h_start + (1 - w) h_end``
    carries ``w n_start + (1 - w) n_end``, whose covariance with ``n_end - n_start`` is
    ``(1 - w) var(n_end) - w var(n_start)`` (independent noise in the two scans): zero for
    ``w = var(n_end) / (var(n_start) + var(n_end))``, the inverse-variance weighted mean
    (``"noise_weighted"``, the default; :func:`interval_height_weight` fits each scan's
    noise on its own map), which is also the least noisy combination of the two.  The
    mid-interval height (``w = 1/2``) is unbiased only for equally noisy scans.

    Measured on 48 x 48 maps (texture 3 px, white height noise 0.3 of the texture's std in
    each scan, growth 2 +- 0.5 independent of the model, 20 draws,
    ``tests/interface/test_prediction_height.py``): partial correlation -0.15 +- 0.02
    (plating) and +0.16 +- 0.02 (stripping) on ``h_start``, +0.02 +- 0.02 and -0.02 +- 0.02
    on the mid-interval height; with noise 0.15 / 0.45 in the two scans the mid-interval
    height is biased and the noise-weighted one is not (same test).  On the texture twin
    (growth without skill beyond the height; small, seed 0, primary current, 6 um
    comparison smoothing, 20 solve nodes) the scans' height noise was unequal under the
    former per-scan choice of the height estimator (fitted 0.52 / 2.10 / 0.55 / 2.22 um in
    scans 1-4: the thicker layers' heights were measured on the unfiltered grey values; the
    acquisitions are identical, and on the model-plated twin of the same charges the
    2-voxel layers' crops read a contrast-to-noise ratio of 2.8-2.9 against 3.5-3.7 only by
    partial volume, below and above the former threshold of 3: issue 17, measured in
    ``tests/interface/test_twin_model_plating.py``; now one estimator per interface for the
    whole series, :func:`ssbscope.tomo.series.choose_height_estimator`, and the model-plated
    twin's weights read 0.51 / 0.46 / 0.61), and the measured maps' partial
    correlations were 0.29 / 0.25 / 0.31 on the mid-interval surface where the true current
    maps give -0.19 / -0.15 / 0.10 on it; on the noise-weighted surface (w 0.94 / 0.06 / 0.94)
    0.00 / 0.09 / 0.16 against the true maps' -0.08 / 0.04 / 0.15 (p 0.55 / 0.45 / 0.38).

    What remains: the weights use each map's per-pixel noise variance, while the bias
    weighs the noise at the scales the prediction responds to (a correlated and a white
    noise of one variance differ there); errors that follow the surface (the same in both
    scans) or correlate between scans are not removed; the weighted surface holds a
    fraction ``1 - w`` of the interval's growth, to which the prediction responds too.

    Parameters
    ----------
    h_start, h_end : (ny, nx) array_like
        Heights (um) of the interval's first and last scan on one grid; NaN: not measured.
    choice : {"noise_weighted", "mid_interval", "scan_start"}
        ``"noise_weighted"`` ``w h_start + (1 - w) h_end`` (``w`` from ``weight`` or
        :func:`interval_height_weight`), ``"mid_interval"`` the mean of the two (NaN where
        either is), ``"scan_start"`` ``h_start`` (the former, biased choice).
    weight : float, optional
        ``w`` of ``"noise_weighted"`` in [0, 1] (default: fitted).

    Returns
    -------
    (ny, nx) ndarray
        Height (um).

    Raises
    ------
    ParameterError
        An unknown choice, a weight outside [0, 1] or maps of different shapes.

    Examples
    --------
    >>> float(interval_height(np.zeros((2, 2)), np.full((2, 2), 2.0), "mid_interval")[0, 0])
    1.0
    >>> float(interval_height(np.zeros((2, 2)), np.full((2, 2), 2.0), weight=0.75)[0, 0])
    0.5
    """
    a = np.asarray(h_start, float)
    if choice not in PREDICTION_HEIGHTS:
        raise ParameterError("choice", choice, f"must be one of {', '.join(PREDICTION_HEIGHTS)}")
    if choice == "scan_start":
        return a.copy()
    b = np.asarray(h_end, float)
    if b.shape != a.shape:
        raise ParameterError("h_end", b.shape, f"must have h_start's shape {a.shape}")
    if choice == "mid_interval":
        return 0.5 * (a + b)
    w = interval_height_weight(a, b)[0] if weight is None else weight
    if not (np.isfinite(w) and 0.0 <= float(w) <= 1.0):
        raise ParameterError("weight", weight, "must be in [0, 1]")
    return float(w) * a + (1.0 - float(w)) * b


__all__ += ["interval_height", "interval_height_weight", "PREDICTION_HEIGHTS"]


#: Largest height smoothing (Gaussian std) :func:`height_smoothing_um` returns, as a fraction
#: of the map's shorter side (a map of pure noise is smoothed to this, not to a plane).
HEIGHT_SMOOTHING_MAX_FRACTION = 0.25
#: Height smoothing rule (stored with the results that use it).
HEIGHT_SMOOTHING_RULE = (
    "fitted per map (ssbscope.interface.topography.height_smoothing_um): the Gaussian std s "
    "that minimises the expected error of the predicted current's first-order perturbation, "
    "sum_k R(k)^2 [P(k) (1 - G)^2 + N(k) G^2] with G = exp(-k^2 s^2 / 2), R(k) = k coth(kT) "
    "/ (1 + lambda k coth(kT)) the small-slope response of the current to a height mode "
    "(T the electrolyte thickness, lambda = sigma R_ct, 0 for the primary distribution), and "
    "the height signal P and noise N spectra of the map's own fitted noise model "
    "(ssbscope.mapnoise.fit_map_noise); one pixel where the noise cannot be fitted")


@dataclass(frozen=True)
class HeightSmoothing:
    """Smoothing of a measured height map before the current solve (:func:`height_smoothing_um`).

    Attributes
    ----------
    smooth_um : float
        Gaussian std (um) to pass to :func:`surface_current` as ``smooth_um``.
    relative_error : float
        Expected rms error of the predicted current perturbation after that smoothing, over
        the rms perturbation of the height signal (the map's fitted model).
    relative_error_one_pixel : float
        The same for a smoothing of one pixel (the former default), for reference.
    noise_sigma_um, signal_sigma_um, signal_length_um : float
        The fitted height noise per pixel, the signal's std and its Gaussian scale ``L``
        (:class:`ssbscope.mapnoise.MapNoiseModel`).
    source : str
        ``"fitted"`` or ``"one pixel (noise not fitted: ...)"``.
    """

    smooth_um: float
    relative_error: float
    relative_error_one_pixel: float
    noise_sigma_um: float
    signal_sigma_um: float
    signal_length_um: float
    source: str


def height_smoothing_um(height_um, pixel_um, *, thickness_um: float | None = None,
                        kinetic_length_um: float = 0.0, n_k: int = 128) -> HeightSmoothing:
    r"""Gaussian smoothing of a CT height map that the current prediction on it needs.

    A measured height is ``h = s + n``: the surface ``s`` and the CT's height noise ``n``.
    To first order in the slope, a height mode of wavenumber ``k`` changes the current by
    ``j_1 / j_0 = R(k) h_k`` with (Laplace in an electrolyte of thickness ``T`` above the
    surface, uniform potential at its top; equipotential Li for the primary distribution,
    the linearised Butler-Volmer kinetics of Zhang et al. 2024, doi:10.1039/d3ee03322h,
    otherwise)

    .. math::

        R(k) = \frac{k \coth(kT)}{1 + \lambda k \coth(kT)}, \qquad \lambda = \sigma R_{ct},

    so that the primary current (``lambda = 0``) weighs each mode by ``k``: the noise's
    short-wavelength slopes dominate an unsmoothed prediction.  A Gaussian smoothing of
    std ``s`` (transfer ``G = exp(-k^2 s^2 / 2)``) leaves the expected error

    .. math::

        E(s) = \sum_k R(k)^2 \left[ P(k) (1 - G)^2 + N(k) G^2 \right]

    (the signal it removes plus the noise it keeps); the smoothing returned minimises it over
    the pixel grid's wavenumbers (``[-pi, pi]^2`` per pixel, ``n_k`` x ``n_k`` points).
    ``P`` and ``N`` are the map's own fitted model (:func:`ssbscope.mapnoise.fit_map_noise`,
    pixel units): the signal covariance ``S exp(-r^2 / L^2)``, ``P = pi L^2 S exp(-k^2 L^2
    / 4)``; white noise ``W`` and noise filtered by a Gaussian of std ``l``, ``N = W + 4 pi
    l^2 C exp(-k^2 l^2)``.  The trend term of the fit (scales beyond the map) is left out.
    The smoothing therefore follows from the data (the height noise against the surface's
    own spectrum, both per pixel of the reconstruction) and from the model's length scales
    (``T``, ``lambda``), not from the comparison it feeds.

    Measured.  Against the solver (``tests/interface/test_height_smoothing.py``: a 24 x 24
    surface of std 1 um and Gaussian scale 4 px, white noise 1 um, 3 um pixels): fitted
    4.9 um, rms error of the primary current over its std 0.60 against 0.68 at one pixel and
    0.80 at 9 um; the model's own expected error 0.55.  On the anode-free model-plated twin
    (small, seed 0, 3 um voxels; heights with 0.56-0.59 um of noise in scans 1 and 3, 2.1 um
    in 2 and 4): 5.0 / 5.7 / 5.4 / 6.4 um on the four scans, 4.7 / 5.8 / 6.0 um on the
    three noise-weighted interval surfaces; the compared prediction's correlation with the
    twin's true current maps rose from 0.70 / 0.75 (one pixel) to 0.81 / 0.85
    (``tests/interface/test_twin_model_plating.py``).  The smoothing lowers the predicted
    contrast (the noise's slopes no longer add to it), so a comparison's contrast / noise
    drops with it (there 1.06 -> 0.95 in interval 1).

    Parameters
    ----------
    height_um : (ny, nx) array_like
        Height map (um); NaN: not measured.
    pixel_um : float or (float, float)
        Pixel size (um), or ``(dy, dx)`` (their geometric mean is used).
    thickness_um : float, optional
        Electrolyte thickness ``T`` (um); default infinite (``coth = 1``).
    kinetic_length_um : float
        ``lambda = sigma R_ct`` (um); 0 for the primary distribution.
    n_k : int
        Wavenumber points per axis.

    Returns
    -------
    HeightSmoothing

    Raises
    ------
    ParameterError
        Non-positive pixel size or thickness, a negative kinetic length or ``n_k < 16``.
    """
    from ssbscope.mapnoise import fit_map_noise

    if np.ndim(pixel_um) == 0:
        p = _finite_pos("pixel_um", pixel_um)
    else:
        dy, dx = (_finite_pos("pixel_um", v) for v in pixel_um)
        p = math.sqrt(dy * dx)
    T = math.inf if thickness_um is None else _finite_pos("thickness_um", thickness_um)
    lam = float(kinetic_length_um)
    if not (np.isfinite(lam) and lam >= 0):
        raise ParameterError("kinetic_length_um", kinetic_length_um, "must be finite and >= 0")
    if isinstance(n_k, bool) or not isinstance(n_k, (int, np.integer)) or n_k < 16:
        raise ParameterError("n_k", n_k, "must be an integer >= 16")
    h = np.asarray(height_um, float)
    nan = float("nan")
    try:
        m = fit_map_noise(h) if h.ndim == 2 and np.isfinite(h).sum() >= 9 else None
    except Exception as e:  # a map the noise model cannot be fitted to
        m, why = None, str(e)
    else:
        why = "too few pixels" if m is None or m.model == "none" else ""
    if m is None or m.model == "none":
        return HeightSmoothing(p, nan, nan, nan, nan, nan,
                               f"one pixel (noise not fitted: {why})")
    k1 = (np.arange(n_k) + 0.5) / n_k * 2.0 * np.pi - np.pi  # rad / px, no k = 0 point
    k2 = (k1[:, None] ** 2 + k1[None, :] ** 2).ravel()
    k = np.sqrt(k2)
    kc = k / np.tanh(np.minimum(k * T / p, 50.0)) if np.isfinite(T) else k
    resp2 = (kc / (1.0 + (lam / p) * kc)) ** 2
    W, C = m.white_sigma ** 2, m.correlated_sigma ** 2
    ell, S, L = m.correlation_length_px, m.signal_sigma ** 2, m.signal_length_px
    noise = W + (C * 4.0 * np.pi * ell ** 2 * np.exp(-k2 * ell ** 2) if C > 0 else 0.0)
    sig = S * np.pi * L ** 2 * np.exp(-k2 * L ** 2 / 4.0)
    a_s, a_n = resp2 * sig, resp2 * noise
    ref = float(a_s.sum())
    if not ref > 0:  # no surface beside the noise on the fit's scales: nothing to optimise
        return HeightSmoothing(p, nan, nan, float(m.sigma), float(m.signal_sigma), nan,
                               "one pixel (no height signal fitted beside the noise)")
    s_max = HEIGHT_SMOOTHING_MAX_FRACTION * min(h.shape)
    s_px = np.linspace(0.0, s_max, int(round(s_max / 0.02)) + 1)
    g = np.exp(-np.outer(s_px ** 2, k2) / 2.0)
    err = ((1.0 - g) ** 2 @ a_s) + (g ** 2 @ a_n)
    i = int(np.argmin(err))
    g1 = np.exp(-k2 / 2.0)
    e1 = float(((1.0 - g1) ** 2 * a_s + g1 ** 2 * a_n).sum())
    rel = (lambda e: math.sqrt(e / ref) if ref > 0 else nan)
    return HeightSmoothing(float(s_px[i] * p), rel(float(err[i])), rel(e1), float(m.sigma * 1.0),
                           float(m.signal_sigma), float(L * p), "fitted")


__all__ += ["HeightSmoothing", "height_smoothing_um", "HEIGHT_SMOOTHING_RULE",
            "HEIGHT_SMOOTHING_MAX_FRACTION"]


@dataclass(frozen=True)
class SurfaceCreep:
    """Creep pressure of the Li plated on a measured surface (:func:`surface_creep_pressure`).

    Attributes
    ----------
    excess_pressure_mpa : (ny, nx) ndarray
        Interface stress over the stack pressure (compressive positive; NaN where the map had
        no height).
    max_compressive_excess_pressure_mpa : float
    site_excess_pressure_mpa : float
        At the pixel of maximum local current.
    strain_rate_1_s, viscosity_mpa_s : float
        Characteristic strain rate of the creeping layer and the secant viscosity there.
    stress : str
        ``"normal"`` traction on the electrolyte or Li ``"mean"`` stress.
    """

    excess_pressure_mpa: np.ndarray = field(repr=False)
    max_compressive_excess_pressure_mpa: float
    site_excess_pressure_mpa: float
    strain_rate_1_s: float
    viscosity_mpa_s: float
    stress: str


def surface_creep_pressure(result: SurfaceCurrent, *, law=None, stress: str = "normal") -> SurfaceCreep:
    """Small-slope creep pressure of the Li plated with the current of a measured surface.

    The model of :func:`.creep.creep_pressure` (Li plated normal to the surface creeps away
    as a Stokes fluid with one secant viscosity of the Li creep law) on the measured map: the
    map and its current are extended by mirror images into one periodic cell (the side
    treatment of :func:`surface_current`), the interface velocity ``(U, W)`` follows from the
    local current and the slopes, and :func:`.creep.halfspace_surface_stress` gives the
    normal traction (default) or the mean stress.  The small-slope limit: on steep CT
    surfaces (slopes near 1) read the values as trends.

    Parameters
    ----------
    result : SurfaceCurrent
    law : CreepLaw, optional
        Li creep law (default :class:`.creep.CreepLaw`).
    stress : {"normal", "mean"}

    Returns
    -------
    SurfaceCreep
    """
    from .creep import _MA_CM2_TO_UM_S, CreepLaw, characteristic_strain_rate, halfspace_surface_stress

    law = CreepLaw() if law is None else law
    valid = np.isfinite(result.current_ma_cm2)
    j = np.where(valid, result.current_ma_cm2, np.nanmean(result.current_ma_cm2))
    h = result.height_um

    dy = float(result.y_um[1] - result.y_um[0]) if result.y_um.size > 1 else 1.0
    dx = float(result.x_um[1] - result.x_um[0]) if result.x_um.size > 1 else 1.0
    he, je = mirror_cell(h), mirror_cell(j)
    gy, gx = np.gradient(np.pad(he, 1, mode="wrap"), dy, dx)
    gy, gx = gy[1:-1, 1:-1], gx[1:-1, 1:-1]
    norm = np.sqrt(1.0 + gx ** 2 + gy ** 2)
    vn = je * _MA_CM2_TO_UM_S
    u = np.stack([vn * gy / norm, vn * gx / norm])  # axis 0 = y, axis 1 = x
    q = vn * norm
    w = q - q.mean()
    eps = characteristic_strain_rate(u, w, (dy, dx))
    eta = law.secant_viscosity_mpa_s(eps) if eps > 0 else law.diffusional_viscosity_mpa_s
    p = halfspace_surface_stress(u, -w, (dy, dx), eta, stress=stress)
    ny, nx = h.shape
    p = p[:ny, :nx].copy()
    p[~valid] = np.nan
    site = np.unravel_index(np.nanargmax(result.current_ma_cm2), h.shape)
    return SurfaceCreep(p, float(np.nanmax(p)), float(p[site]), float(eps), float(eta), stress)
