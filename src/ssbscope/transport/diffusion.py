"""Tortuosity factor, effective diffusivity and flux fields of segmented volumes.

Steady-state diffusion (or conduction) through the voxels of one phase, with the potential
fixed on two opposite faces and no flux through the other four (or periodic sides),
discretised exactly as TauFactor does (Cooper et al., SoftwareX 5, 203 (2016); the tool used
for the Li+ flux simulation of 000_290f30815ae66793 and the piecewise tortuosity maps of
004_abdc661361e9d05b Fig. 24f):

* one unknown per voxel of the phase, 7-point finite-volume stencil, face conductance the
  harmonic mean of the two voxel conductivities;
* Dirichlet values imposed half a voxel outside the first and last slices;
* ``D_eff / D = (mean flux across the planes) * L / (A * dphi)``, with the porosity ``eps``
  the volume fraction of the whole phase (isolated pores included), and the tortuosity
  factor defined by ``D_eff = D eps / tau``.

Voxels not connected (6-connectivity) to both driven faces carry no flux; they are removed
before solving (they cannot change ``D_eff``).  A phase with no such path has
``tau = inf`` and the reason is stated in the result.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import scipy.ndimage as ndi

from ssbscope.errors import ConvergenceError, EmptyResultError, InputError, ParameterError

from ._solver import assemble, solve_spd

log = logging.getLogger(__name__)

__all__ = [
    "TortuosityResult",
    "SlabTortuosity",
    "tortuosity",
    "tortuosity_multiphase",
    "slab_tortuosity",
    "tortuosity_map",
    "flux_map",
    "percolating_network",
]


@dataclass(frozen=True)
class TortuosityResult:
    """Tortuosity factor and the fields behind it.

    Attributes
    ----------
    tau : float
        Tortuosity factor (``inf`` when the phase does not percolate along ``axis``).
    porosity : float
        Volume fraction of the conducting phase(s) in the whole volume (TauFactor's
        ``VF``; isolated and dead-end voxels included).
    d_eff_ratio : float
        ``D_eff / D`` = ``porosity / tau`` (0 when not percolating).  For several phases,
        ``D`` is the volume-fraction-weighted conductivity of the conducting phases.
    d_eff : float
        Effective diffusivity/conductivity in the units of the phase conductivities (binary
        masks: conductivity 1, so ``d_eff == d_eff_ratio``).
    percolating_fraction : float
        Fraction of the phase volume that belongs to the network joining both faces.
    axis : int
        Transport axis of the ``(z, y, x)`` volume.
    periodic : bool
        Whether the two other axes were periodic.
    potential : (Z, Y, X) float32 ndarray
        Normalised potential/concentration (1 half a voxel before the first slice, 0 half a
        voxel after the last), NaN outside the percolating network.
    conductivity : (Z, Y, X) float32 ndarray
        Voxel conductivity used (0 outside the percolating network).
    plane_flux : (N + 1,) ndarray
        Flux through the inlet face, each of the N - 1 inner planes and the outlet face,
        normalised by ``D A dphi / L`` (each equals ``d_eff`` at exact convergence).
    flux_imbalance : float
        ``(max - min) / mean`` of ``plane_flux``: the flux-balance convergence check.
    relative_residual : float
        ``||b - A x|| / ||b||`` of the linear solve at exit.
    rtol : float
        Relative-residual criterion the solve was run to.
    iterations : int
        Multigrid-preconditioned CG iterations.
    reason : str
        Empty when the phase percolates; otherwise why ``tau`` is infinite.
    """

    tau: float
    porosity: float
    d_eff_ratio: float
    d_eff: float
    percolating_fraction: float
    axis: int
    periodic: bool
    potential: np.ndarray = field(repr=False)
    conductivity: np.ndarray = field(repr=False)
    plane_flux: np.ndarray = field(repr=False)
    flux_imbalance: float = 0.0
    relative_residual: float = 0.0
    rtol: float = 0.0
    iterations: int = 0
    reason: str = ""

    def flux_field(self) -> np.ndarray:
        """Voxel-centred flux density, shape ``(3, Z, Y, X)`` (components along z, y, x).

        Face fluxes ``g (phi_i - phi_{i+1})`` averaged onto voxel centres and normalised by
        ``D dphi / L``, so that the flux of a straight open channel is 1 along ``axis``.

        Returns
        -------
        (3, Z, Y, X) float32 ndarray
        """
        return _flux_field(self)


@dataclass(frozen=True)
class SlabTortuosity:
    """Piecewise (slab-wise) tortuosity across a region.

    Attributes
    ----------
    bounds : (n, 2) int ndarray
        ``[start, stop)`` voxel index of each slab along ``axis``.
    tau : (n,) ndarray
        Tortuosity factor of each slab solved on its own (``inf`` where not percolating).
    porosity : (n,) ndarray
        Phase volume fraction of each slab.
    d_eff_ratio : (n,) ndarray
        ``porosity / tau`` of each slab.
    axis : int
        Transport axis.
    """

    bounds: np.ndarray
    tau: np.ndarray
    porosity: np.ndarray
    d_eff_ratio: np.ndarray
    axis: int


# ----------------------------------------------------------------------------- checks
def _check_axis(axis, ndim: int) -> int:
    if isinstance(axis, bool) or not isinstance(axis, (int, np.integer)) or not -ndim <= axis < ndim:
        raise ParameterError("axis", axis, f"must be an integer in [0, {ndim})",
                             "pass 0 for z (the stacking axis), 1 for y or 2 for x")
    return int(axis) % ndim


def _as_binary(mask, name: str = "mask") -> np.ndarray:
    arr = np.asarray(mask)
    if arr.ndim not in (2, 3):
        raise InputError(f"{name}: expected a 2-D (y, x) or 3-D (z, y, x) array, got shape "
                         f"{arr.shape}; pass one segmented volume")
    if arr.size == 0:
        raise InputError(f"{name}: the array is empty (shape {arr.shape}); pass a segmented volume")
    if arr.dtype == bool:
        return arr
    if not np.issubdtype(arr.dtype, np.number):
        raise InputError(f"{name}: dtype {arr.dtype} is not boolean or numeric; pass a 0/1 mask")
    if np.issubdtype(arr.dtype, np.floating) and not np.all(np.isfinite(arr)):
        raise InputError(f"{name}: contains NaN or inf; pass a 0/1 mask")
    values = np.unique(arr)
    if not np.all(np.isin(values, (0, 1))):
        shown = values[:6].tolist()
        raise InputError(
            f"{name}: non-binary labels {shown}{' ...' if values.size > 6 else ''}; a binary "
            f"mask (1 = conducting phase) is expected: pass `labels == phase_label`, or use "
            f"tortuosity_multiphase for several conducting phases")
    return arr.astype(bool)


def _check_tol(rtol):
    if not np.isfinite(rtol) or not 0 < rtol < 1:
        raise ParameterError("rtol", rtol, "must be finite and in (0, 1)", "use e.g. 1e-6")


# ----------------------------------------------------------------------------- network
def percolating_network(mask, axis: int = 0, *, periodic: bool = False) -> np.ndarray:
    """Voxels of ``mask`` connected (faces, 6-connectivity) to both faces normal to ``axis``.

    Parameters
    ----------
    mask : (Z, Y, X) bool ndarray
        Conducting phase.
    axis : int
        Transport axis.
    periodic : bool
        Treat the two other axes as periodic when joining clusters.

    Returns
    -------
    (Z, Y, X) bool ndarray
        Isolated clusters and clusters touching only one face removed (dead ends attached
        to the network are kept: they carry no flux but belong to it).
    """
    m = np.asarray(mask, dtype=bool)
    labels, n = ndi.label(m)
    if n == 0:
        return np.zeros_like(m)
    if periodic:
        import scipy.sparse as sp
        from scipy.sparse.csgraph import connected_components

        pairs = []
        for d in range(m.ndim):
            if d == axis or m.shape[d] < 2:
                continue
            a = np.take(labels, 0, axis=d)
            b = np.take(labels, -1, axis=d)
            both = (a > 0) & (b > 0)
            pairs.append(np.stack([a[both], b[both]]))
        if pairs:
            pr = np.concatenate(pairs, axis=1)
            graph = sp.coo_matrix((np.ones(pr.shape[1]), (pr[0], pr[1])), shape=(n + 1, n + 1))
            _, comp = connected_components(graph, directed=False)
            labels = np.where(m, comp[labels] + 1, 0)  # +1 keeps background at 0
    first = np.unique(np.take(labels, 0, axis=axis))
    last = np.unique(np.take(labels, -1, axis=axis))
    keep = np.intersect1d(first[first > 0], last[last > 0])
    if keep.size == 0:
        return np.zeros_like(m)
    return np.isin(labels, keep)


# ----------------------------------------------------------------------------- core solve
def _plane_flux(u: np.ndarray, cond: np.ndarray, axis: int) -> np.ndarray:
    """Flux through the N + 1 planes normal to ``axis`` (potential 1 in, 0 out)."""
    ut = np.moveaxis(u, axis, 0)
    ct = np.moveaxis(cond, axis, 0).astype(np.float64)
    s = ct[:-1] + ct[1:]
    with np.errstate(divide="ignore", invalid="ignore"):
        g = np.where(s > 0, 2 * ct[:-1] * ct[1:] / s, 0.0)
    inner = (g * (ut[:-1] - ut[1:])).reshape(g.shape[0], -1).sum(axis=1)
    inlet = (2 * ct[0] * (1.0 - ut[0])).sum()
    outlet = (2 * ct[-1] * ut[-1]).sum()
    return np.concatenate([[inlet], inner, [outlet]])


def _solve(cond_full: np.ndarray, axis: int, periodic: bool, rtol: float, flux_tol: float,
           maxiter: int, d_ref: float, volume_fraction: float, phase_volume: int):
    """Solve on a conductivity map (0 = not conducting); returns a TortuosityResult."""
    shape = cond_full.shape
    n_len = shape[axis]
    area = int(np.prod(shape)) // n_len
    network = percolating_network(cond_full > 0, axis, periodic=periodic)
    n_net = int(network.sum())
    if n_net == 0:
        reason = (f"no connected path of the phase joins the two faces normal to axis {axis} "
                  f"(6-connectivity{', periodic sides' if periodic else ''})")
        log.info("tortuosity: %s", reason)
        nan = np.full(shape, np.nan, dtype=np.float32)
        return TortuosityResult(
            tau=float("inf"), porosity=volume_fraction, d_eff_ratio=0.0, d_eff=0.0,
            percolating_fraction=0.0, axis=axis, periodic=periodic, potential=nan,
            conductivity=np.zeros(shape, np.float32), plane_flux=np.zeros(n_len + 1),
            flux_imbalance=0.0, relative_residual=0.0, rtol=rtol, iterations=0, reason=reason)
    cond = np.where(network, cond_full, 0.0)
    A, b, index = assemble(cond, axis, periodic)
    # initial guess: the linear profile of a straight channel
    pos = (np.arange(n_len) + 0.5) / n_len
    prof = np.broadcast_to(
        np.expand_dims(1.0 - pos, tuple(d for d in range(3) if d != axis)), shape)
    x0 = np.ascontiguousarray(np.moveaxis(prof, axis, 0)[np.moveaxis(network, axis, 0)])
    tol = rtol
    total_iter = 0
    while True:
        x, info = solve_spd(A, b, index, x0=x0, rtol=tol, maxiter=maxiter)
        total_iter += info.iterations
        u_t = np.zeros(np.moveaxis(cond, axis, 0).shape)
        u_t[np.moveaxis(network, axis, 0)] = x
        u = np.moveaxis(u_t, 0, axis)
        pf = _plane_flux(u, cond, axis)
        mean = float(pf.mean())
        imbalance = float((pf.max() - pf.min()) / mean) if mean > 0 else float("inf")
        if imbalance <= flux_tol:
            break
        if tol <= 1e-12:
            raise ConvergenceError(
                f"transport solve: flux imbalance {imbalance:.2e} between planes > "
                f"flux_tol={flux_tol:g} at rtol={tol:g}; loosen flux_tol")
        tol = max(tol * 1e-2, 1e-12)
        x0 = x
    d_eff_abs = mean * n_len / area  # unit potential drop
    d_eff_ratio = d_eff_abs / d_ref
    tau = volume_fraction / d_eff_ratio if d_eff_ratio > 0 else float("inf")
    potential = np.where(network, u, np.nan).astype(np.float32)
    log.debug("tortuosity axis %d: tau=%.5f, %d iterations, imbalance %.2e", axis, tau,
              total_iter, imbalance)
    return TortuosityResult(
        tau=float(tau), porosity=volume_fraction, d_eff_ratio=float(d_eff_ratio),
        d_eff=float(d_eff_abs), percolating_fraction=n_net / phase_volume, axis=axis,
        periodic=periodic, potential=potential, conductivity=cond.astype(np.float32),
        plane_flux=pf * n_len / area, flux_imbalance=imbalance,
        relative_residual=info.relative_residual, rtol=tol, iterations=total_iter, reason="")


def tortuosity(mask, axis: int = 0, *, periodic: bool = False, rtol: float = 1e-6,
               flux_tol: float = 1e-3, maxiter: int = 500) -> TortuosityResult:
    """Tortuosity factor of one phase by steady-state diffusion along ``axis``.

    Solves ``div(D grad c) = 0`` in the phase, ``c = 1`` and ``c = 0`` half a voxel outside
    the two faces normal to ``axis``, no flux elsewhere (or periodic sides), with TauFactor's
    finite-volume discretisation, and returns ``tau`` from ``D_eff = D eps / tau``
    (the definition TauFactor uses for the flux simulation of 000_290f30815ae66793).

    Convergence criterion: conjugate gradients preconditioned by a box-aggregation
    multigrid V-cycle run until the relative residual ``||b - A x|| / ||b|| <= rtol``;
    the flux through every plane normal to ``axis`` must then agree within ``flux_tol``
    (``(max - min) / mean``, TauFactor's check), else the solve is tightened.

    Parameters
    ----------
    mask : (Z, Y, X) or (Y, X) array of bool or 0/1
        The conducting phase (True/1).  Not modified.
    axis : int, default 0
        Transport axis (0 = z, the stacking axis).
    periodic : bool, default False
        Periodic instead of no-flux conditions on the four side faces.
    rtol : float, default 1e-6
        Relative-residual stopping criterion.
    flux_tol : float, default 1e-3
        Largest accepted relative spread of the plane fluxes.
    maxiter : int, default 500
        CG iteration limit.

    Returns
    -------
    TortuosityResult
        ``tau``, ``porosity``, ``d_eff_ratio`` and the fields; ``tau = inf`` with ``reason``
        when no path joins the two faces.

    Raises
    ------
    InputError
        Non-binary labels, NaN, wrong shape.
    EmptyResultError
        The phase is absent (an all-solid volume).

    Examples
    --------
    >>> import numpy as np
    >>> m = np.zeros((8, 6, 6), bool); m[:, 2:4, :] = True
    >>> round(tortuosity(m).tau, 6)
    1.0
    """
    m = _as_binary(mask)
    axis = _check_axis(axis, m.ndim)
    _check_tol(rtol)
    if m.ndim == 2:
        m = m[None]
        axis += 1
        squeeze = True
    else:
        squeeze = False
    n_phase = int(m.sum())
    if n_phase == 0:
        raise EmptyResultError(
            "mask: the conducting phase is absent (all-solid volume); check the segmentation "
            "label or pass the phase you want (mask = labels == phase)")
    res = _solve(m.astype(np.float64), axis, periodic, rtol, flux_tol, maxiter, 1.0,
                 n_phase / m.size, n_phase)
    return _squeeze(res) if squeeze else res


def tortuosity_multiphase(labels, conductivities: Mapping[int, float], axis: int = 0, *,
                          periodic: bool = False, rtol: float = 1e-6, flux_tol: float = 1e-3,
                          maxiter: int = 500) -> TortuosityResult:
    """Effective conductivity of a multi-phase volume with one conductivity per label.

    Same discretisation as :func:`tortuosity` (harmonic-mean face conductances, half-voxel
    Dirichlet faces).  ``tau = D_mean / D_eff`` with ``D_mean`` the volume-weighted mean
    conductivity (labels not listed conduct nothing), TauFactor's multi-phase definition.
    Note that TauFactor's ``MultiPhaseSolver`` places its Dirichlet values one voxel (not
    half a voxel) outside the volume and rescales by ``(N + 1)``, so its tau differs from this
    one by O(1/N); the binary :func:`tortuosity` matches TauFactor's ``Solver`` exactly.

    Parameters
    ----------
    labels : (Z, Y, X) integer ndarray
        Segmented volume.
    conductivities : mapping label -> conductivity
        Conductivity of each conducting label (any consistent unit, > 0).
    axis, periodic, rtol, flux_tol, maxiter
        As in :func:`tortuosity`.

    Returns
    -------
    TortuosityResult
        ``d_eff`` in the units of ``conductivities``; ``d_eff_ratio = d_eff / D`` with ``D``
        the volume-fraction-weighted conductivity of the conducting phases, so that
        ``d_eff_ratio = porosity / tau`` as in the binary case.
    """
    arr = np.asarray(labels)
    if arr.ndim != 3 or arr.size == 0:
        raise InputError(f"labels: expected a non-empty 3-D (z, y, x) array, got shape {arr.shape}")
    if not np.issubdtype(arr.dtype, np.integer) and arr.dtype != bool:
        raise InputError(f"labels: dtype {arr.dtype} is not an integer label volume; "
                         f"pass the segmented labels")
    axis = _check_axis(axis, 3)
    _check_tol(rtol)
    if not isinstance(conductivities, Mapping) or not conductivities:
        raise ParameterError("conductivities", conductivities, "must be a non-empty mapping",
                             "pass e.g. {1: 1.0, 2: 0.1}")
    cond = np.zeros(arr.shape, dtype=np.float64)
    for lab, c in conductivities.items():
        c = float(c)
        if not np.isfinite(c) or c <= 0:
            raise ParameterError(f"conductivities[{lab!r}]", c, "must be finite and > 0",
                                 "leave non-conducting labels out of the mapping")
        cond[arr == lab] = c
    conducting = cond > 0
    n_phase = int(conducting.sum())
    if n_phase == 0:
        raise EmptyResultError(
            f"labels: none of the labels {sorted(conductivities)} is present; the values found "
            f"are {np.unique(arr)[:8].tolist()}")
    vf = n_phase / arr.size
    d_ref = float(cond[conducting].mean())
    return _solve(cond, axis, periodic, rtol, flux_tol, maxiter, d_ref, vf, n_phase)


def _squeeze(res: TortuosityResult) -> TortuosityResult:
    from dataclasses import replace

    return replace(res, axis=res.axis - 1, potential=res.potential[0],
                   conductivity=res.conductivity[0])


# ----------------------------------------------------------------------------- fields
def _flux_field(res: TortuosityResult) -> np.ndarray:
    u = res.potential
    c = res.conductivity.astype(np.float64)
    if u.ndim == 2:
        u = u[None]
        c = c[None]
        axis = res.axis + 1
    else:
        axis = res.axis
    u0 = np.nan_to_num(u.astype(np.float64), nan=0.0)
    n_len = u.shape[axis]
    out = np.zeros((3,) + u.shape, dtype=np.float64)
    for d in range(3):
        cm = np.moveaxis(c, d, 0)
        um = np.moveaxis(u0, d, 0)
        if res.periodic and d != axis and cm.shape[0] > 1:
            cn = np.roll(cm, -1, axis=0)
            un = np.roll(um, -1, axis=0)
            s = cm + cn
            with np.errstate(divide="ignore", invalid="ignore"):
                g = np.where(s > 0, 2 * cm * cn / s, 0.0)
            face = g * (um - un)  # face i+1/2, i = 0..N-1 (last one wraps)
            lower = np.roll(face, 1, axis=0)
            vox = 0.5 * (face + lower)
        else:
            s = cm[:-1] + cm[1:]
            with np.errstate(divide="ignore", invalid="ignore"):
                g = np.where(s > 0, 2 * cm[:-1] * cm[1:] / s, 0.0)
            face = g * (um[:-1] - um[1:])
            nf = face.shape[0] + 2
            faces = np.zeros((nf,) + face.shape[1:])
            faces[1:-1] = face
            if d == axis:
                faces[0] = 2 * cm[0] * (1.0 - um[0])
                faces[-1] = 2 * cm[-1] * um[-1]
            vox = 0.5 * (faces[:-1] + faces[1:])
        out[d] = np.moveaxis(vox, 0, d)
    out *= n_len
    out[:, ~(c > 0)] = 0.0
    if res.potential.ndim == 2:
        return out[1:, 0].astype(np.float32)
    return out.astype(np.float32)


def flux_map(result: TortuosityResult, plane_axis: int, index: int, *,
             component: str = "axial") -> np.ndarray:
    """2-D map of the flux in one plane of the volume.

    Parameters
    ----------
    result : TortuosityResult
    plane_axis : int
        Axis normal to the plane (0: a z-slice (y, x); 1: (z, x); 2: (z, y)).
    index : int
        Slice index along ``plane_axis``.
    component : {"axial", "magnitude"}
        Flux along the transport axis, or the magnitude of the flux vector; normalised by
        ``D dphi / L`` (1 in a straight open channel).

    Returns
    -------
    2-D float32 ndarray
    """
    nd = result.potential.ndim
    plane_axis = _check_axis(plane_axis, nd)
    n = result.potential.shape[plane_axis]
    if isinstance(index, bool) or not isinstance(index, (int, np.integer)) or not -n <= index < n:
        raise ParameterError("index", index, f"must be an integer in [0, {n})",
                             f"pick a slice along axis {plane_axis}")
    f = result.flux_field()
    if component == "axial":
        vol = f[result.axis]
    elif component == "magnitude":
        vol = np.sqrt((f.astype(np.float64) ** 2).sum(axis=0)).astype(np.float32)
    else:
        raise ParameterError("component", component, "must be 'axial' or 'magnitude'")
    return np.take(vol, index, axis=plane_axis)


# ----------------------------------------------------------------------------- piecewise
def _bounds(n: int, n_slabs) -> np.ndarray:
    if isinstance(n_slabs, bool) or not isinstance(n_slabs, (int, np.integer)) or not 1 <= n_slabs <= n:
        raise ParameterError("n_slabs", n_slabs, f"must be an integer in [1, {n}]",
                             "choose fewer slabs than voxels along the axis")
    edges = np.linspace(0, n, int(n_slabs) + 1).round().astype(int)
    return np.stack([edges[:-1], edges[1:]], axis=1)


def slab_tortuosity(mask, axis: int = 0, *, n_slabs: int | None = None, bounds=None,
                    periodic: bool = False, rtol: float = 1e-6) -> SlabTortuosity:
    """Piecewise tortuosity: each slab along ``axis`` solved on its own.

    The piecewise tortuosity of an interface region (004_abdc661361e9d05b Fig. 24f): the
    volume is cut into slabs normal to ``axis`` and :func:`tortuosity` is run on each.

    Parameters
    ----------
    mask : (Z, Y, X) bool ndarray
    axis : int
        Transport axis (slabs are normal to it).
    n_slabs : int, optional
        Number of equal slabs (default 4 when ``bounds`` is not given).
    bounds : (n, 2) int array, optional
        Explicit ``[start, stop)`` slab ranges.
    periodic, rtol
        As in :func:`tortuosity`.

    Returns
    -------
    SlabTortuosity
    """
    m = _as_binary(mask)
    if m.ndim != 3:
        raise InputError(f"mask: slab_tortuosity needs a 3-D (z, y, x) volume, got {m.shape}")
    axis = _check_axis(axis, 3)
    n = m.shape[axis]
    if bounds is None:
        b = _bounds(n, 4 if n_slabs is None else n_slabs)
    else:
        b = np.asarray(bounds, dtype=int).reshape(-1, 2)
        if np.any(b[:, 0] < 0) or np.any(b[:, 1] > n) or np.any(b[:, 1] <= b[:, 0]):
            raise ParameterError("bounds", bounds, f"each [start, stop) must satisfy 0 <= start < stop <= {n}")
    taus, por, der = [], [], []
    for lo, hi in b:
        sub = np.take(m, np.arange(lo, hi), axis=axis)
        p = float(sub.mean())
        if p == 0:
            taus.append(np.inf); por.append(0.0); der.append(0.0)
            continue
        r = tortuosity(sub, axis, periodic=periodic, rtol=rtol)
        taus.append(r.tau); por.append(r.porosity); der.append(r.d_eff_ratio)
    return SlabTortuosity(bounds=b, tau=np.array(taus), porosity=np.array(por),
                          d_eff_ratio=np.array(der), axis=axis)


def tortuosity_map(mask, axis: int = 0, *, tile_voxels: int = 32, periodic: bool = False,
                   rtol: float = 1e-6) -> np.ndarray:
    """Map of the tortuosity of square columns through the volume along ``axis``.

    The volume is cut into ``tile_voxels x tile_voxels`` columns across the two other axes
    and each column is solved on its own (local tortuosity maps, 004_abdc661361e9d05b
    Fig. 24f).

    Parameters
    ----------
    mask : (Z, Y, X) bool ndarray
    axis : int
        Transport axis.
    tile_voxels : int
        Column edge length in voxels.
    periodic, rtol
        As in :func:`tortuosity`.

    Returns
    -------
    2-D float ndarray
        Tortuosity of each column (``inf`` where the column does not percolate), indexed
        by tile along the two other axes in increasing axis order.
    """
    m = _as_binary(mask)
    if m.ndim != 3:
        raise InputError(f"mask: tortuosity_map needs a 3-D (z, y, x) volume, got {m.shape}")
    axis = _check_axis(axis, 3)
    if isinstance(tile_voxels, bool) or not isinstance(tile_voxels, (int, np.integer)) or tile_voxels < 1:
        raise ParameterError("tile_voxels", tile_voxels, "must be an integer >= 1")
    mt = np.moveaxis(m, axis, 0)
    ny = max(1, mt.shape[1] // tile_voxels)
    nx = max(1, mt.shape[2] // tile_voxels)
    out = np.full((ny, nx), np.inf)
    for i in range(ny):
        for j in range(nx):
            sub = mt[:, i * tile_voxels:(i + 1) * tile_voxels, j * tile_voxels:(j + 1) * tile_voxels]
            if sub.any():
                out[i, j] = tortuosity(sub, 0, periodic=periodic, rtol=rtol).tau
    return out
