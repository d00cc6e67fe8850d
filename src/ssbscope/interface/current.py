"""Current distribution on a contoured Li|solid-electrolyte interface.

Primary distribution (Laplace in the electrolyte, equipotential Li) and secondary
distribution with linearised Butler-Volmer kinetics (``j = eta / R_ct``, a Robin condition),
as used for Figs. 1e, 2b,c and 3c,f of 003_103f2bf5a3479ade.

Method
------
The electrolyte above the Li surface ``z = h(x, y)`` is mapped onto a box by the
boundary-fitted transform ``z = h + (z_top - h) q(zeta)``, ``zeta in [0, 1]``, with
``q(zeta) = (exp(beta zeta) - 1) / (exp(beta) - 1)`` clustering grid planes at the surface.
Laplace's equation is written in conservative curvilinear form,
``d_i (J g^ij d_j phi) = 0`` with the analytic metric of the transform
(``J g^11 = J g^22 = Z_zeta``, ``J g^13 = -Z_x``, ``J g^23 = -Z_y``,
``J g^33 = (1 + Z_x^2 + Z_y^2) / Z_zeta``), and discretised by second-order finite
volumes on the nodes of a uniform ``(x, y, zeta)`` grid over the quarter cell with mirror
(no-flux) sides (the shapes are symmetric about x, y = 0 and S/2).  The flux through every
``zeta`` plane is the same to round-off (conservation), which gives a check of the solve.
The top ``z_top = H + S`` carries a uniform potential: the non-uniform part of the field
decays as ``exp(-2 pi z / S)``, so it is below 1e-5 of the surface variation there and a
uniform potential or a uniform current at the top are the same; the rest of the electrolyte
thickness only adds a series resistance.  The linear problem is scaled to the requested
geometric current.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from ssbscope.errors import ParameterError

from .shapes import area_ratio as _area_ratio
from .shapes import DEFAULT_TIP_RADIUS_UM, check_shape, check_tip_radius, li_height_um

log = logging.getLogger(__name__)

__all__ = ["CurrentDistribution", "current_distribution"]


@dataclass(frozen=True)
class CurrentDistribution:
    """Local normal current density on a contoured interface.

    Attributes
    ----------
    shape : str
    height_um, separation_um : float
        Peak height H and separation S.
    r_ct_ohm_cm2 : float or None
        Charge-transfer resistance (None: primary distribution).
    conductivity_s_cm : float
        Electrolyte conductivity.
    geometric_current_ma_cm2 : float
        Current per projected (cell) area.
    x_um, y_um : (n + 1,) ndarray
        Quarter-cell node coordinates (0 .. S/2).
    li_height_um : (n + 1, n + 1) ndarray
        Li surface height ``h(x, y)``, index ``[ix, iy]``.
    local_current_ma_cm2 : (n + 1, n + 1) ndarray
        Current density normal to the surface per unit true area (the surface field).
    max_local_current_ma_cm2 : float
        Its maximum.
    mean_local_current_ma_cm2 : float
        Area-weighted mean over the true surface (= geometric / area_ratio).
    area_ratio : float
        True over projected interfacial area.
    projected_current_ma_cm2 : (n + 1, n + 1) ndarray
        Current per unit projected area (its mean is the geometric current).
    overpotential_v : (n + 1, n + 1) ndarray
        Surface overpotential ``eta = j R_ct`` (zeros for the primary distribution).
    grid : tuple
        ``(n_xy, n_zeta)`` intervals of the quarter-cell grid.
    flux_balance : float
        Relative difference between the current through the surface and the top.
    top_fraction, tip_radius_um : float
        Shape parameters (frustum top width over S; edge rounding radius in um).
    """

    shape: str
    height_um: float
    separation_um: float
    r_ct_ohm_cm2: float | None
    conductivity_s_cm: float
    geometric_current_ma_cm2: float
    x_um: np.ndarray = field(repr=False)
    y_um: np.ndarray = field(repr=False)
    li_height_um: np.ndarray = field(repr=False)
    local_current_ma_cm2: np.ndarray = field(repr=False)
    max_local_current_ma_cm2: float = 0.0
    mean_local_current_ma_cm2: float = 0.0
    area_ratio: float = 1.0
    projected_current_ma_cm2: np.ndarray = field(default=None, repr=False)
    overpotential_v: np.ndarray = field(default=None, repr=False)
    grid: tuple = (0, 0)
    flux_balance: float = 0.0
    top_fraction: float = 1 / 3
    tip_radius_um: float = DEFAULT_TIP_RADIUS_UM

    def height_function(self):
        """``h(x, y)`` (um) of this contour at quarter-cell coordinates (exact shape)."""
        H, S = self.height_um, self.separation_um
        shape, kw = self.shape, dict(top_fraction=self.top_fraction,
                                     tip_radius_um=self.tip_radius_um)

        def h(x, y):
            return li_height_um(shape, x, y, H, S, **kw)

        return h

    @property
    def max_over_geometric(self) -> float:
        """``max_local / geometric`` current."""
        return self.max_local_current_ma_cm2 / self.geometric_current_ma_cm2

    def full_cell(self):
        """The surface field mirrored onto one whole periodic cell ``[0, S) x [0, S)``.

        Returns
        -------
        x_um, y_um : (2n,) ndarray
        current_ma_cm2, height_um : (2n, 2n) ndarray
        """
        n = self.x_um.size - 1
        x = np.arange(2 * n) * (self.x_um[1] - self.x_um[0])
        return (x, x.copy(), mirror_cell(self.local_current_ma_cm2),
                mirror_cell(self.li_height_um))


def mirror_cell(a):
    """A 2-D field on nodes ``0..n`` of a mirror-symmetric box extended to the whole periodic
    cell ``(2n, 2n)`` by its mirror images (the end nodes are not repeated)."""
    a = np.concatenate([a, a[-2:0:-1]], axis=0)
    return np.concatenate([a, a[:, -2:0:-1]], axis=1)


def _finite_pos(name, v, allow_none=False):
    if v is None and allow_none:
        return None
    try:
        fv = float(v)
    except (TypeError, ValueError):
        raise ParameterError(name, v, "must be a number") from None
    if not np.isfinite(fv) or fv <= 0:
        raise ParameterError(name, v, "must be finite and > 0")
    return fv


def _metrics(h_fun, x, y, zeta, z_top, beta):
    """Z_x, Z_y, Z_zeta at points (x, y, zeta) (broadcast arrays)."""
    S_eps = 1e-6 * max(float(np.max(x)) if np.size(x) else 1.0, 1.0)
    h = h_fun(x, y)
    hx = (h_fun(x + S_eps, y) - h_fun(x - S_eps, y)) / (2 * S_eps)
    hy = (h_fun(x, y + S_eps) - h_fun(x, y - S_eps)) / (2 * S_eps)
    q = np.expm1(beta * zeta) / np.expm1(beta)
    dq = beta * np.exp(beta * zeta) / np.expm1(beta)
    Zx = hx * (1 - q)
    Zy = hy * (1 - q)
    Zz = (z_top - h) * dq
    return Zx, Zy, Zz


def _linear_solve(A, b):
    """GMRES with an incomplete-LU preconditioner (SuperLU ILUTP); direct LU if that fails."""
    import os

    method = os.environ.get("SSBSCOPE_INTERFACE_SOLVER", "auto")
    if method == "auto":
        method = "direct" if A.shape[0] <= 20000 else "amg"
    if method == "amg":
        try:
            import pyamg

            ml = pyamg.smoothed_aggregation_solver(A.tocsr(), symmetry="nonsymmetric",
                                                   max_coarse=500)
            res = []
            x = ml.solve(b, tol=1e-11, accel="gmres", maxiter=300, residuals=res)
            rel = np.linalg.norm(b - A @ x) / np.linalg.norm(b)
            log.debug("AMG-GMRES: %d iterations, relative residual %.2e", len(res), rel)
            if rel <= 1e-8:
                return x
        except ImportError:
            method = "ilu"
    if method == "ilu":  # pragma: no cover - alternative kept for very large grids
        try:
            ilu = spla.spilu(A.tocsc(), drop_tol=1e-5, fill_factor=20)
            M = spla.LinearOperator(A.shape, ilu.solve)
            x, info = spla.gmres(A, b, M=M, rtol=1e-12, atol=0.0, restart=60, maxiter=50)
            if info == 0:
                return x
            log.debug("GMRES did not converge (info=%d); falling back to direct LU", info)
        except RuntimeError as exc:  # singular ILU factor
            log.debug("ILU failed (%s); falling back to direct LU", exc)
    return spla.spsolve(A.tocsc(), b)


def _solve_field(h_fun, half_s, z_top, n, nz, beta, robin_k, *, length_y=None, ny=None,
                 offsets=None, extra=None):
    """Solve on the quarter cell; return surface flux F3 (per projected area) and checks.

    The box is ``[0, half_s] x [0, length_y]`` (default square) with ``n`` x ``ny`` intervals
    and mirror (no-flux) sides.  ``robin_k`` = 1 / (sigma R_ct) in 1/um (None: phi = 0 on the
    surface).  Potential 0 in the Li, 1 at the top.  Returns (xs, F3_surface, phi_surface,
    surface metric, top_flux_total, surface_flux_total, residual) with totals integrated over
    the box (trapezoid weights); with ``length_y`` the y nodes are appended to the tuple.
    ``offsets``: surface fields ``d`` (n + 1, ny + 1) of extra problems with zero potential at
    the top and the Robin condition ``F3 = metric k (phi - d)``; their surface fluxes go to
    ``extra["offset_fluxes"]`` (superposition for a potential offset at the surface).
    """
    rect = length_y is not None
    ny = n if ny is None else int(ny)
    length_y = half_s if length_y is None else float(length_y)
    dx = half_s / n
    dy = length_y / ny
    dz = 1.0 / nz
    xs = np.arange(n + 1) * dx
    ys = np.arange(ny + 1) * dy
    zs = np.arange(nz + 1) * dz
    X = xs[:, None, None]
    Y = ys[None, :, None]
    Zt = zs[None, None, :]
    # metric coefficients at half points
    # x-faces (i+1/2, j, k): J g^11 = Zz, J g^13 = -Zx
    xh = (xs[:-1] + 0.5 * dx)[:, None, None]
    Zx_a, _, Zz_a = _metrics(h_fun, xh, Y, Zt, z_top, beta)
    c11 = Zz_a
    c13 = -Zx_a
    yh = (ys[:-1] + 0.5 * dy)[None, :, None]
    _, Zy_b, Zz_b = _metrics(h_fun, X, yh, Zt, z_top, beta)
    c22 = Zz_b
    c23 = -Zy_b
    zh = (zs[:-1] + 0.5 * dz)[None, None, :]
    Zx_c, Zy_c, Zz_c = _metrics(h_fun, X, Y, zh, z_top, beta)
    c31 = -Zx_c
    c32 = -Zy_c
    c33 = (1 + Zx_c ** 2 + Zy_c ** 2) / Zz_c
    # surface (zeta = 0) coefficients
    Zx0, Zy0, Zz0 = _metrics(h_fun, X[:, :, 0], Y[:, :, 0], 0.0, z_top, beta)
    surf_metric = np.sqrt(1 + Zx0 ** 2 + Zy0 ** 2)  # true area per projected area
    shape = (n + 1, ny + 1, nz + 1)

    def pad_xy(phi):
        return np.pad(phi, ((1, 1), (1, 1), (0, 0)), mode="reflect")

    def d_zeta_central(phi):
        """Central zeta derivative at nodes (one-sided at k=0 and k=nz)."""
        d = np.empty_like(phi)
        d[..., 1:-1] = (phi[..., 2:] - phi[..., :-2]) / (2 * dz)
        d[..., 0] = (phi[..., 1] - phi[..., 0]) / dz
        d[..., -1] = (phi[..., -1] - phi[..., -2]) / dz
        return d

    def fluxes(phi):
        pp = pad_xy(phi)
        dz_c = d_zeta_central(phi)
        dzp = pad_xy(dz_c)
        # x faces
        phix = (phi[1:] - phi[:-1]) / dx
        phiz = 0.5 * (dz_c[1:] + dz_c[:-1])
        F1 = c11 * phix + c13 * phiz
        phiy = (phi[:, 1:] - phi[:, :-1]) / dy
        phiz = 0.5 * (dz_c[:, 1:] + dz_c[:, :-1])
        F2 = c22 * phiy + c23 * phiz
        # zeta faces: tangential derivatives averaged between k and k+1
        dxc = (pp[2:, 1:-1] - pp[:-2, 1:-1]) / (2 * dx)
        dyc = (pp[1:-1, 2:] - pp[1:-1, :-2]) / (2 * dy)
        F3 = c31 * 0.5 * (dxc[..., 1:] + dxc[..., :-1]) + c32 * 0.5 * (dyc[..., 1:] + dyc[..., :-1]) \
            + c33 * (phi[..., 1:] - phi[..., :-1]) / dz
        del dzp
        return F1, F2, F3

    def div_xy(F1, F2):
        """x/y flux divergence at nodes with mirror (zero) fluxes outside."""
        # node i: (F1[i+1/2] - F1[i-1/2]) / dx ; control volume half-width at i = 0, n
        g1 = np.zeros((n + 2,) + shape[1:])
        g1[1:-1] = F1
        d1 = (g1[1:] - g1[:-1]) / dx
        g2 = np.zeros((n + 1, ny + 2, nz + 1))
        g2[:, 1:-1] = F2
        d2 = (g2[:, 1:] - g2[:, :-1]) / dy
        # boundary nodes own half control volumes: the flux difference spans dx/2
        d1[0] *= 2
        d1[-1] *= 2
        d2[:, 0] *= 2
        d2[:, -1] *= 2
        return d1 + d2

    def surface_flux(phi, F1, F2, F3):
        """F3 at zeta = 0 from the half control volume at k = 0 (conservative)."""
        d = div_xy(F1, F2)[..., 0]
        return F3[..., 0] + 0.5 * dz * d

    def residual(phi):
        F1, F2, F3 = fluxes(phi)
        res = np.zeros(shape)
        d = div_xy(F1, F2)
        res[..., 1:-1] = d[..., 1:-1] + (F3[..., 1:] - F3[..., :-1]) / dz
        res[..., -1] = phi[..., -1] - 1.0
        if robin_k is None:
            res[..., 0] = phi[..., 0]
        else:
            # half cell at k = 0: F3(1/2) - F3(0) + dz/2 div_xy = 0, F3(0) = metric k phi
            res[..., 0] = (F3[..., 0] + 0.5 * dz * d[..., 0] - surf_metric * robin_k * phi[..., 0]) / dz
        return res

    # probe the (linear) operator column colour by colour: exact sparse matrix
    N = int(np.prod(shape))
    r0 = residual(np.zeros(shape))
    idx = np.arange(N).reshape(shape)
    rows, cols, vals = [], [], []
    ii, jj, kk = np.meshgrid(np.arange(n + 1), np.arange(ny + 1), np.arange(nz + 1), indexing="ij")
    # the stencil reaches +-1 in x, y and zeta (27 points): 3 x 3 x 3 colours
    for cx in range(3):
        for cy in range(3):
            for cz in range(3):
                e = ((ii % 3 == cx) & (jj % 3 == cy) & (kk % 3 == cz)).astype(float)
                if not e.any():
                    continue
                col_r = residual(e) - r0
                nz_rows = np.nonzero(np.abs(col_r) > 0)
                # owner column: the probed node within reach (|di|<=2, |dj|<=2, |dk|<=1)
                ri, rj, rk = nz_rows
                oi = ri + ((cx - ri) % 3 + 1) % 3 - 1
                oj = rj + ((cy - rj) % 3 + 1) % 3 - 1
                ok = rk + ((cz - rk) % 3 + 1) % 3 - 1
                # mirror images fold back into the domain
                oi = np.where(oi < 0, -oi, np.where(oi > n, 2 * n - oi, oi))
                oj = np.where(oj < 0, -oj, np.where(oj > ny, 2 * ny - oj, oj))
                rows.append(idx[ri, rj, rk])
                cols.append(idx[oi, oj, ok])
                vals.append(col_r[nz_rows])
    A = sp.csr_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
                      shape=(N, N))
    phi = _linear_solve(A, -r0.ravel()).reshape(shape)
    res = residual(phi)
    rel = float(np.abs(res).max())
    F1, F2, F3 = fluxes(phi)
    F3s = surface_flux(phi, F1, F2, F3)
    if offsets is not None:
        if robin_k is None:
            raise ParameterError("surface_offset_v", "given", "needs kinetics (r_ct_ohm_cm2)")
        out = []
        for off in offsets:
            # residual at phi = 0 of the problem with top 0 and the surface offset: only the
            # Robin rows, (- metric k (0 - d)) / dz; the linear part is the same matrix A
            rb = np.zeros(shape)
            rb[..., 0] = surf_metric * robin_k * np.asarray(off, float) / dz
            phib = _linear_solve(A, -rb.ravel()).reshape(shape)
            G1, G2, G3 = fluxes(phib)
            out.append(surface_flux(phib, G1, G2, G3))
        if extra is not None:
            extra["offset_fluxes"] = out
    w = np.full(n + 1, dx)
    w[0] = w[-1] = dx / 2
    wy = np.full(ny + 1, dy)
    wy[0] = wy[-1] = dy / 2
    W = w[:, None] * wy[None, :]
    top_total = float((W * F3[..., -1]).sum())
    surf_total = float((W * F3s).sum())
    if rect:
        return xs, F3s, phi[..., 0], surf_metric, top_total, surf_total, rel, ys
    return xs, F3s, phi[..., 0], surf_metric, top_total, surf_total, rel


def current_distribution(shape: str, height_um: float, separation_um: float, *,
                         r_ct_ohm_cm2: float | None = None, conductivity_s_cm: float,
                         thickness_um: float, geometric_current_ma_cm2: float,
                         n_xy: int = 16, n_zeta: int = 16, top_fraction: float = 1 / 3,
                         tip_radius_um: float = DEFAULT_TIP_RADIUS_UM,
                         surface_offset_v=None) -> CurrentDistribution:
    """Local current density normal to a contoured Li|electrolyte interface.

    Primary distribution (``r_ct_ohm_cm2=None``: equipotential Li, Laplace in the
    electrolyte) or secondary distribution with linearised Butler-Volmer kinetics
    ``j = eta / R_ct`` (Robin condition ``sigma d phi/d n = (phi - phi_Li) / R_ct``), uniform
    potential far from the interface, periodic (mirror-symmetric) sides; 003_103f2bf5a3479ade
    Figs. 1e, 2b,c, 3c,f.  See the module docstring for the numerical method.

    Parameters
    ----------
    shape : {"flat", "egg-box", "pyramid", "frustum"}
        Contour (height and separation are ignored for ``"flat"``).
    height_um, separation_um : float
        Peak height H and peak separation S, > 0 for a contoured shape.
    r_ct_ohm_cm2 : float, optional
        Charge-transfer resistance (area-specific, per true area); None for primary.
    conductivity_s_cm : float
        Electrolyte ionic conductivity (Li6PS5Cl ~ 2e-3 S/cm).
    thickness_um : float
        Electrolyte thickness above the interface; must exceed H.
    geometric_current_ma_cm2 : float
        Current per projected area (the cell's current density).
    n_xy, n_zeta : int
        Grid intervals across the quarter cell and along the boundary-fitted coordinate.
    top_fraction : float
        Frustum top width over S.
    tip_radius_um : float
        Rounding radius of pyramid/frustum edges and apices (um; default 2 um, the
        printing/imprinting resolution of 003_'s templates, see :mod:`.shapes`).
    surface_offset_v : (n_xy + 1, n_xy + 1) array_like, optional
        A local shift (V) of the Li equilibrium potential at the quarter-cell surface nodes,
        index ``[ix, iy]``, with kinetics only: ``j = (eta - offset) / R_ct``.  The
        Monroe-Newman pressure coupling passes ``Omega_Li dp / F`` here
        (:func:`.creep.monroe_newman_coupling`).  Solved by superposition with the
        unshifted problem, still scaled to the geometric current.

    Returns
    -------
    CurrentDistribution
        ``max_local_current_ma_cm2``, ``area_ratio`` and the surface field
        ``local_current_ma_cm2`` (quarter cell; ``.full_cell()`` mirrors it).

    Raises
    ------
    ParameterError
        Unknown shape, H or S <= 0 for a contour, non-finite or non-positive parameters.
    """
    check_shape(shape, height_um, separation_um)
    sigma = _finite_pos("conductivity_s_cm", conductivity_s_cm)
    L = _finite_pos("thickness_um", thickness_um)
    i_geo = _finite_pos("geometric_current_ma_cm2", geometric_current_ma_cm2)
    rct = _finite_pos("r_ct_ohm_cm2", r_ct_ohm_cm2, allow_none=True)
    for name, v in (("n_xy", n_xy), ("n_zeta", n_zeta)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 4:
            raise ParameterError(name, v, "must be an integer >= 4")
    if shape == "flat":
        H, S = 0.0, 100.0
    else:
        H, S = float(height_um), float(separation_um)
        if L <= H:
            raise ParameterError("thickness_um", thickness_um,
                                 f"must exceed the peak height H={H} um",
                                 "the electrolyte must cover the contour")
    if shape in ("pyramid", "frustum"):
        check_tip_radius(tip_radius_um, S)
    kw = dict(top_fraction=float(top_fraction), tip_radius_um=float(tip_radius_um))

    def h_fun(x, y):
        return li_height_um(shape, x, y, H, S, **kw)

    z_top = min(H + S, float(np.mean(h_fun(*np.meshgrid(np.linspace(0, S / 2, 65),
                                                         np.linspace(0, S / 2, 65))))) + L)
    sigma_um = sigma * 1e-4  # S/um
    robin_k = None if rct is None else 1.0 / (sigma_um * rct * 1e8)  # 1/um
    beta = 2.5 if shape != "flat" else 1e-6
    extra = {}
    offs = None
    if surface_offset_v is not None:
        off = np.asarray(surface_offset_v, float)
        if off.shape != (int(n_xy) + 1, int(n_xy) + 1) or not np.isfinite(off).all():
            raise ParameterError("surface_offset_v", off.shape,
                                 f"must be a finite ({int(n_xy) + 1}, {int(n_xy) + 1}) array (V)")
        offs = [off]
    xs, F3s, phi_s, metric, top_total, surf_total, res = _solve_field(
        h_fun, S / 2, z_top, int(n_xy), int(n_zeta), beta, robin_k, offsets=offs, extra=extra)
    area_q = (S / 2) ** 2
    if offs is not None:
        # phi = V phi_1 + phi_offset (volts); j = sigma d phi / dn: V from the geometric current
        Fb = extra["offset_fluxes"][0]
        wq = np.full(int(n_xy) + 1, xs[1] - xs[0])
        wq[0] = wq[-1] = wq[0] / 2
        Wq = wq[:, None] * wq[None, :]
        to_ma = sigma * 1e7  # (S/cm) x (V/um) -> mA/cm2
        V = (i_geo * area_q / to_ma - float((Wq * Fb).sum())) / surf_total
        F3s = V * F3s + Fb
        ratio = top_total / surf_total  # flux balance of the unshifted solve (the check)
        surf_total = i_geo * area_q / to_ma
        top_total = ratio * surf_total
    scale = i_geo / (surf_total / area_q)  # so that the mean projected flux is i_geo
    j_local = scale * F3s / metric  # per true area, mA/cm2
    balance = abs(top_total - surf_total) / abs(surf_total)
    ar = _area_ratio(shape, H, S, **kw) if shape != "flat" else 1.0
    eta = np.zeros_like(j_local) if rct is None else j_local * 1e-3 * rct
    h_grid = h_fun(xs[:, None], xs[None, :])
    log.debug("%s H=%g S=%g: residual %.2e, flux balance %.2e", shape, H, S, res, balance)
    return CurrentDistribution(
        shape=shape, height_um=H, separation_um=S if shape != "flat" else float("nan"),
        r_ct_ohm_cm2=rct, conductivity_s_cm=sigma, geometric_current_ma_cm2=i_geo,
        x_um=xs, y_um=xs.copy(), li_height_um=h_grid, local_current_ma_cm2=j_local,
        max_local_current_ma_cm2=float(j_local.max()),
        mean_local_current_ma_cm2=i_geo / ar, area_ratio=ar,
        projected_current_ma_cm2=scale * F3s, overpotential_v=eta,
        grid=(int(n_xy), int(n_zeta)), flux_balance=float(balance),
        top_fraction=float(top_fraction), tip_radius_um=float(tip_radius_um))
