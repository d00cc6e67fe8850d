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
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ssbscope.errors import EmptyResultError, InputError, ParameterError

__all__ = ["LayerTortuosity", "layer_core", "inscribed_square", "layer_tortuosity"]


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
    from ssbscope.transport.diffusion import _check_axis, flux_map, slab_tortuosity, tortuosity

    lab = np.asarray(labels)
    fp = np.asarray(footprint, bool)
    if lab.ndim != 3 or fp.shape != lab.shape[1:]:
        raise InputError(f"labels {lab.shape} / footprint {fp.shape}: expected (z, y, x) and (y, x)")
    if not fp.any():
        raise EmptyResultError("footprint: selects no column")
    axis = _check_axis(axis, 3)
    ph = lab == int(phase)
    frac = ph[:, fp].mean(axis=1)
    c0, c1 = layer_core(frac, band_z_vox, mixing_tol=mixing_tol)
    region = fp if axis == 0 else inscribed_square(fp)
    ys, xs = np.flatnonzero(region.any(axis=1)), np.flatnonzero(region.any(axis=0))
    sy, sx = slice(ys[0], ys[-1] + 1), slice(xs[0], xs[-1] + 1)
    sub = ph[c0:c1, sy, sx] & region[sy, sx][None]
    if not sub.any():
        raise EmptyResultError(f"phase {phase}: no voxel in the layer's core z {c0}..{c1} inside "
                               "the footprint; check analysis.transport.phase and layer")
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
    return LayerTortuosity(
        tau=float(res.tau), volume_fraction=float(res.porosity * scale),
        d_eff_ratio=float(res.d_eff_ratio * scale),
        percolating_fraction=float(res.percolating_fraction),
        flux_imbalance=float(res.flux_imbalance), relative_residual=float(res.relative_residual),
        iterations=int(res.iterations), reason=res.reason,
        band_z_vox=(int(band_z_vox[0]), int(band_z_vox[1])), core_z_vox=(int(c0), int(c1)),
        axis=axis, region=region, slab_bounds_vox=slabs.bounds + offset,
        slab_tau=np.asarray(slabs.tau, float),
        slab_volume_fraction=np.asarray(slabs.porosity, float) * scale,
        slab_d_eff_ratio=np.asarray(slabs.d_eff_ratio, float) * scale,
        flux_map=fmap, flux_plane_z_vox=int(c0 + zmid))
