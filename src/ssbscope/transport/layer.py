"""Tortuosity of one phase inside one declared layer of a segmented CT scan.

A CT series measured against the declared cell (:mod:`ssbscope.tomo.series`) gives phase labels
``(z, y, x)``, the cell's footprint ``(y, x)`` and the slice band ``[z0, z1)`` of each layer.
The ions cross a layer through the connected voxels of one phase (the solid electrolyte of a
pellet, the electrolyte network of a composite).  This module solves steady-state diffusion
through those voxels (:func:`ssbscope.transport.tortuosity`, TauFactor's discretisation and
``D_eff = D eps / tau``) inside the layer's *core*:

* the layer's band is trimmed at each face by the slices where the neighbouring layer still
  intrudes (a rough interface): starting from each face, slices whose phase fraction inside
  the footprint is below the band's median fraction minus ``mixing_tol`` are dropped
  (:func:`layer_core`); pores inside the core are kept, they are what tau measures;
* through the stack (``axis = 0``) the solved region is the prism of the cell footprint;
  in-plane (``axis = 1`` or ``2``) it is the largest square inside the footprint, so that the
  driven faces are whole (:func:`inscribed_square`);
* volume fraction and ``D_eff / D`` refer to that region (the rest of the bounding box
  conducts nothing and is not counted); tau does not depend on it.

The slab-wise tortuosity cuts the core into ``n_slabs`` slabs along the transport axis and
solves each (:func:`ssbscope.transport.slab_tortuosity`, the piecewise tortuosity of
Fig. 24f of the review 004_abdc661361e9d05b).  The flux map is the axial flux in the mid-z
plane of the core (normalised by ``D dc / L``: 1 in a straight open channel).

Around a buried interface (:func:`interface_tortuosity`) the solved region is a slab of
given half thickness centred on the interface's mean height found in the labels
(:func:`mean_interface_height_vox`, :func:`interface_slab`), transport in-plane by default:
the Li+ flux through the interphase region of Huang et al. 2024
(doi:10.1016/j.xcrp.2024.101995, Fig. S27).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ssbscope.errors import EmptyResultError, InputError, ParameterError

__all__ = ["LayerTortuosity", "layer_core", "inscribed_square", "layer_tortuosity",
           "region_tortuosity", "InterfaceTortuosity", "mean_interface_height_vox",
           "interface_slab", "interface_tortuosity"]


@dataclass(frozen=True)
class LayerTortuosity:
    """Tortuosity of a phase in the core of one layer.

    Attributes
    ----------
    tau : float
        Tortuosity factor (``inf`` when the phase does not join the two driven faces).
    volume_fraction : float
        Phase volume fraction of the solved region (footprint prism or square x core).
    d_eff_ratio : float
        ``D_eff / D = volume_fraction / tau``.
    percolating_fraction : float
        Fraction of the phase volume joined to both driven faces.
    flux_imbalance, relative_residual : float
        Convergence checks of the solve (:class:`ssbscope.transport.TortuosityResult`).
    iterations : int
    reason : str
        Empty when the phase percolates, else why tau is infinite.
    band_z_vox : (int, int)
        The layer's band ``[z0, z1)`` given.
    core_z_vox : (int, int)
        The slices solved ``[z0, z1)`` (band minus the interface mixing zones).
    axis : int
        Transport axis of the ``(z, y, x)`` volume.
    region : (Y, X) bool ndarray
        Columns of the solved region.
    slab_bounds_vox : (n, 2) int ndarray
        ``[start, stop)`` of each slab along ``axis`` in the full volume's indices.
    slab_tau, slab_volume_fraction, slab_d_eff_ratio : (n,) ndarray
        The same per slab.
    flux_map : (Y, X) float32 ndarray
        Axial flux (along ``axis``) in the mid-z plane of the core, NaN outside ``region``,
        0 in non-conducting voxels.
    flux_plane_z_vox : int
        The z slice of ``flux_map``.
    """

    tau: float
    volume_fraction: float
    d_eff_ratio: float
    percolating_fraction: float
    flux_imbalance: float
    relative_residual: float
    iterations: int
    reason: str
    band_z_vox: tuple
    core_z_vox: tuple
    axis: int
    region: np.ndarray = field(repr=False)
    slab_bounds_vox: np.ndarray = field(repr=False)
    slab_tau: np.ndarray = field(repr=False)
    slab_volume_fraction: np.ndarray = field(repr=False)
    slab_d_eff_ratio: np.ndarray = field(repr=False)
    flux_map: np.ndarray = field(repr=False)
    flux_plane_z_vox: int = 0


def layer_core(fraction, band_z_vox, *, mixing_tol: float = 0.05) -> tuple[int, int]:
    """The core of a layer's band: its faces' interface mixing zones removed.

    Parameters
    ----------
    fraction : (Z,) array_like
        Fraction of the footprint's columns holding the layer's phase in each slice.
    band_z_vox : (int, int)
        The layer's band ``[z0, z1)``.
    mixing_tol : float
        Slices at either face whose fraction is below ``median(fraction in band) - mixing_tol``
        are trimmed, from the face inwards, until the first slice that is not.

    Returns
    -------
    (int, int)
        ``[z0, z1)`` of the core.

    Raises
    ------
    EmptyResultError
        The band is empty or its core holds fewer than 2 slices.
    """
    f = np.asarray(fraction, float)
    z0, z1 = (int(v) for v in band_z_vox)
    if not 0 <= z0 < z1 <= f.size:
        raise EmptyResultError(f"layer band [{z0}, {z1}) is empty or outside the volume "
                               f"(0..{f.size}); is the layer present in this scan?")
    if not np.isfinite(mixing_tol) or mixing_tol < 0:
        raise ParameterError("mixing_tol", mixing_tol, "must be finite and >= 0")
    ref = float(np.median(f[z0:z1])) - float(mixing_tol)
    a, b = z0, z1
    while a < b and f[a] < ref:
        a += 1
    while b > a and f[b - 1] < ref:
        b -= 1
    if b - a < 2:
        raise EmptyResultError(f"layer band [{z0}, {z1}): fewer than 2 slices left after removing "
                               "the interface mixing zones; the layer is too thin at this voxel "
                               "size for a tortuosity")
    return a, b


def inscribed_square(mask) -> np.ndarray:
    """The largest axis-aligned square of True pixels in a 2-D mask (first found on ties).

    Parameters
    ----------
    mask : (Y, X) bool array_like

    Returns
    -------
    (Y, X) bool ndarray
        True inside the square.
    """
    m = np.asarray(mask, bool)
    if m.ndim != 2 or not m.any():
        raise EmptyResultError("footprint: no pixel; the cell footprint is empty")
    dp = np.zeros((m.shape[0] + 1, m.shape[1] + 1), int)
    for i in range(m.shape[0]):
        row = m[i]
        for j in range(m.shape[1]):
            if row[j]:
                dp[i + 1, j + 1] = 1 + min(dp[i, j + 1], dp[i + 1, j], dp[i, j])
    s = int(dp.max())
    i, j = np.unravel_index(int(np.argmax(dp)), dp.shape)
    out = np.zeros_like(m)
    out[i - s:i, j - s:j] = True
    return out


def layer_tortuosity(labels, phase: int, band_z_vox, footprint, *, axis: int = 0,
                     n_slabs: int = 4, mixing_tol: float = 0.05,
                     rtol: float = 1e-6) -> LayerTortuosity:
    """Tortuosity, slab-wise tortuosity and flux map of one phase in the core of one layer.

    Parameters
    ----------
    labels : (Z, Y, X) integer ndarray
        Phase labels of one scan.  Not modified.
    phase : int
        Label of the conducting phase.
    band_z_vox : (int, int)
        The layer's band ``[z0, z1)`` along z (e.g. ``tomo/<series>/labels`` ``layer_z_vox``).
    footprint : (Y, X) bool ndarray
        The cell's columns.
    axis : int
        Transport axis (0: z through the stack; 1, 2: in-plane, in the largest square inside
        the footprint).
    n_slabs : int
        Slabs along ``axis`` for the slab-wise tortuosity (at most the core's length).
    mixing_tol : float
        See :func:`layer_core`.
    rtol : float
        Relative residual of the solves.

    Returns
    -------
    LayerTortuosity

    Raises
    ------
    InputError
        Shapes that do not match.
    EmptyResultError
        Empty footprint or band, or no voxel of the phase in the core.
    """
    lab, fp = _check_inputs(labels, footprint)
    frac = (lab == int(phase))[:, fp].mean(axis=1)
    core = layer_core(frac, band_z_vox, mixing_tol=mixing_tol)
    return region_tortuosity(lab, phase, core, fp, axis=axis, n_slabs=n_slabs, rtol=rtol,
                             band_z_vox=band_z_vox)


def _check_inputs(labels, footprint):
    lab = np.asarray(labels)
    fp = np.asarray(footprint, bool)
    if lab.ndim != 3 or fp.shape != lab.shape[1:]:
        raise InputError(f"labels {lab.shape} / footprint {fp.shape}: expected (z, y, x) and (y, x)")
    if not fp.any():
        raise EmptyResultError("footprint: selects no column")
    return lab, fp


def region_tortuosity(labels, phase: int, z_range_vox, footprint, *, axis: int = 0,
                      n_slabs: int = 4, rtol: float = 1e-6,
                      band_z_vox=None) -> LayerTortuosity:
    """Tortuosity, slab-wise tortuosity and flux map of one phase in the slices ``z_range_vox``.

    The solved region is the prism of ``footprint`` over ``[z0, z1)`` through the stack
    (``axis = 0``), the largest square inside the footprint in-plane (``axis = 1, 2``;
    :func:`inscribed_square`).

    Parameters
    ----------
    labels : (Z, Y, X) integer ndarray
        Phase labels of one scan.  Not modified.
    phase : int
        Label of the conducting phase.
    z_range_vox : (int, int)
        Slices ``[z0, z1)`` solved (at least 2 for ``axis = 0``).
    footprint : (Y, X) bool ndarray
        The cell's columns.
    axis : int
        Transport axis of the ``(z, y, x)`` volume.
    n_slabs : int
        Slabs along ``axis`` for the slab-wise tortuosity (at most the region's length).
    rtol : float
        Relative residual of the solves.
    band_z_vox : (int, int), optional
        Recorded as the result's ``band_z_vox`` (default ``z_range_vox``).

    Returns
    -------
    LayerTortuosity
        ``core_z_vox`` is ``z_range_vox``.

    Raises
    ------
    InputError
        Shapes that do not match.
    EmptyResultError
        Empty footprint, a range outside the volume, or no voxel of the phase in the region.
    """
    from ssbscope.transport.diffusion import _check_axis, flux_map, slab_tortuosity, tortuosity

    lab, fp = _check_inputs(labels, footprint)
    axis = _check_axis(axis, 3)
    c0, c1 = (int(v) for v in z_range_vox)
    if not 0 <= c0 < c1 <= lab.shape[0] or (axis == 0 and c1 - c0 < 2):
        raise EmptyResultError(f"slices [{c0}, {c1}): empty, outside the volume (0..{lab.shape[0]}) "
                               "or fewer than 2 along the transport axis")
    ph = lab == int(phase)
    region = fp if axis == 0 else inscribed_square(fp)
    ys, xs = np.flatnonzero(region.any(axis=1)), np.flatnonzero(region.any(axis=0))
    sy, sx = slice(ys[0], ys[-1] + 1), slice(xs[0], xs[-1] + 1)
    sub = ph[c0:c1, sy, sx] & region[sy, sx][None]
    if not sub.any():
        raise EmptyResultError(f"phase {phase}: no voxel in slices z {c0}..{c1} inside "
                               "the footprint; check analysis.transport.phase and the layer or interface")
    # box -> region: volume fraction and D_eff/D scale by box size / region size (tau does not)
    scale = region[sy, sx].size / float(region[sy, sx].sum())
    res = tortuosity(sub, axis, rtol=rtol)
    n_len = sub.shape[axis]
    slabs = slab_tortuosity(sub, axis, n_slabs=min(int(n_slabs), n_len), rtol=rtol)
    offset = (c0, ys[0], xs[0])[axis]
    zmid = (c1 - c0) // 2
    fmap = np.full(fp.shape, np.nan, np.float32)
    if np.isfinite(res.tau):
        plane = flux_map(res, 0, zmid)
    else:
        plane = np.zeros(sub.shape[1:], np.float32)
    fmap[sy, sx] = np.where(region[sy, sx], plane, np.nan)
    band = (c0, c1) if band_z_vox is None else band_z_vox
    return LayerTortuosity(
        tau=float(res.tau), volume_fraction=float(res.porosity * scale),
        d_eff_ratio=float(res.d_eff_ratio * scale),
        percolating_fraction=float(res.percolating_fraction),
        flux_imbalance=float(res.flux_imbalance), relative_residual=float(res.relative_residual),
        iterations=int(res.iterations), reason=res.reason,
        band_z_vox=(int(band[0]), int(band[1])), core_z_vox=(c0, c1),
        axis=axis, region=region, slab_bounds_vox=slabs.bounds + offset,
        slab_tau=np.asarray(slabs.tau, float),
        slab_volume_fraction=np.asarray(slabs.porosity, float) * scale,
        slab_d_eff_ratio=np.asarray(slabs.d_eff_ratio, float) * scale,
        flux_map=fmap, flux_plane_z_vox=int(c0 + zmid))


# ----------------------------------------------------------------------------- interface regions

@dataclass(frozen=True)
class InterfaceTortuosity:
    """Tortuosity of a phase in a slab centred on a buried interface.

    Attributes
    ----------
    interface_z_vox : float
        Mean height of the interface (voxel-boundary coordinate: slice ``k`` spans
        ``[k, k + 1)``), :func:`mean_interface_height_vox`.
    slab_z_vox : (int, int)
        The slab ``[z0, z1)`` solved (:func:`interface_slab`).
    result : LayerTortuosity
        Tortuosity, volume fraction, ``D_eff / D``, convergence and the flux map in the
        slab's mid-plane (``result.flux_plane_z_vox``, the first slice above the interface's
        rounded height) of :func:`region_tortuosity` on the slab.
    """

    interface_z_vox: float
    slab_z_vox: tuple
    result: LayerTortuosity


def mean_interface_height_vox(labels, lower_phase: int, window_z_vox, footprint) -> float:
    """Mean height of the interface above a layer of ``lower_phase`` from the labels.

    ``z = z0 + sum_{z0 <= k < z1} f(k)``, with ``f(k)`` the fraction of the footprint's
    columns labelled ``lower_phase`` in slice ``k``: for a single-valued interface (each
    column holds the lower phase up to its height ``h(y, x)`` inside the window, then the
    upper layer) this is the mean of ``h`` over the footprint.  The window must start inside
    the lower layer and end inside the upper one.  Voxels of ``lower_phase`` above the
    interface (protrusions detached from the surface) raise it by their volume per area, and
    other labels inside the lower layer (pores) lower it.

    Parameters
    ----------
    labels : (Z, Y, X) integer ndarray
    lower_phase : int
        Label of the material below the interface.
    window_z_vox : (int, int)
        Slices ``[z0, z1)`` searched.
    footprint : (Y, X) bool ndarray

    Returns
    -------
    float
        Height in voxels from the bottom face of slice 0.

    Raises
    ------
    EmptyResultError
        An empty window.
    """
    lab, fp = _check_inputs(labels, footprint)
    z0, z1 = max(int(window_z_vox[0]), 0), min(int(window_z_vox[1]), lab.shape[0])
    if z1 <= z0:
        raise EmptyResultError(f"interface window [{window_z_vox[0]}, {window_z_vox[1]}) is empty "
                               f"or outside the volume (0..{lab.shape[0]})")
    f = (lab[z0:z1][:, fp] == int(lower_phase)).mean(axis=1)
    return float(z0 + f.sum())


def interface_slab(interface_z_vox: float, half_thickness_vox: int, n_z: int) -> tuple[int, int]:
    """Slices ``[z0, z1)`` of a slab of ``2 half_thickness_vox`` slices centred on an interface.

    ``z0 = round(z) - half``, ``z1 = round(z) + half``: the slab's mid-plane is the voxel
    boundary nearest the interface's mean height.

    Raises
    ------
    ParameterError
        ``half_thickness_vox < 1``.
    EmptyResultError
        The slab leaves the volume ``[0, n_z)``.
    """
    h = int(half_thickness_vox)
    if h < 1:
        raise ParameterError("half_thickness_vox", half_thickness_vox, "must be >= 1 voxel")
    if not np.isfinite(interface_z_vox):
        raise EmptyResultError("interface height: not finite; the interface was not found")
    zc = int(np.floor(float(interface_z_vox) + 0.5))
    z0, z1 = zc - h, zc + h
    if z0 < 0 or z1 > int(n_z):
        raise EmptyResultError(f"interface slab [{z0}, {z1}) leaves the volume (0..{int(n_z)}); "
                               "reduce half_thickness_um or reconstruct more rows")
    return z0, z1


def interface_tortuosity(labels, phase: int, lower_phase: int, window_z_vox, footprint,
                         half_thickness_vox: int, *, axis: int = 2,
                         rtol: float = 1e-6) -> InterfaceTortuosity:
    """Tortuosity and flux map of ``phase`` in a slab centred on a buried interface.

    The interface's mean height comes from the labels (:func:`mean_interface_height_vox`
    with ``lower_phase`` in ``window_z_vox``); the slab holds ``half_thickness_vox`` slices
    each side of it (:func:`interface_slab`) and is solved along ``axis``
    (:func:`region_tortuosity`; in-plane, ``axis = 1, 2``, in the largest square inside the
    footprint, as the x-y TauFactor simulation of Huang et al. 2024,
    doi:10.1016/j.xcrp.2024.101995).  In-plane, the slab's lower half is mostly the lower
    layer with the conducting phase in its valleys; tau rises steeply as the slab thins
    (the valleys do not join the driven faces).

    Parameters
    ----------
    labels : (Z, Y, X) integer ndarray
    phase, lower_phase : int
        Labels of the conducting phase and of the material below the interface.
    window_z_vox : (int, int)
        Slices searched for the interface (start inside the lower layer, end inside the
        upper one).
    footprint : (Y, X) bool ndarray
    half_thickness_vox : int
    axis : int
    rtol : float

    Returns
    -------
    InterfaceTortuosity
    """
    lab, fp = _check_inputs(labels, footprint)
    z = mean_interface_height_vox(lab, lower_phase, window_z_vox, fp)
    slab = interface_slab(z, half_thickness_vox, lab.shape[0])
    res = region_tortuosity(lab, phase, slab, fp, axis=axis, n_slabs=1, rtol=rtol)
    return InterfaceTortuosity(interface_z_vox=z, slab_z_vox=slab, result=res)
