"""Finite-amplitude creeping flow of plated Li behind a contoured interface.

Extends the small-slope pressure model of :mod:`.creep` (003_103f2bf5a3479ade, Fig. 3g and
the creep text of Figs. 3-4) to finite slopes: the momentum balance of the creeping Li is
solved in the true geometry of one periodic cell, so that Li plated on the steep walls of the
electrolyte troughs must be extruded out of the pit (the confinement that the small-slope
half-space solution linearises away).

Problem
-------
Frame of the rigid electrolyte.  The Li fills ``-D <= z <= h(x, y)`` below the contour
(``h`` from :mod:`.shapes`, Li protrusion = maximum of ``h`` at the quarter-cell corner
``(S/2, S/2)``), ``D = depth_over_s * S`` (default ``S``; the slowest non-uniform mode of the
cell decays as ``exp(-2 sqrt(2) pi z / S)``, below 2e-4 at ``D = S``).  Quarter cell
``[0, S/2]^2`` with the mirror planes of all shapes as symmetry planes (zero normal velocity,
zero tangential traction).  Incompressible Stokes flow

    ``div(2 eta(eps) e(u)) = grad p``,   ``div u = 0``,

with ``e(u)`` the strain-rate tensor and the local secant viscosity of the Li creep law,
``eta = sigma_f(eps) / (3 eps)`` at the von Mises equivalent strain rate
``eps = sqrt(2/3 e:e)`` (:class:`.creep.CreepLaw`: Nabarro-Herring plus power-law creep).

* Interface ``z = h``: ``u = v_n n``, ``n = (h_x, h_y, -1) / sqrt(1 + |grad h|^2)`` the unit
  normal into the Li and ``v_n = j Omega / F`` the plating velocity of the local current
  ``j`` (per true area, from :func:`.current_distribution` with kinetics).  The tangential
  velocity is zero (no slip: plated Li is added normal to the surface and does not slide
  along the electrolyte).
* Far boundary ``z = -D``: ``u_x = u_y = 0`` (the bulk electrode moves rigidly) and zero
  normal traction; the normal traction there is the stack pressure, so ``p`` below is the
  excess over the stack pressure, and the outflow (the rigid backward motion ``V = <q>`` of the
  electrode) follows from incompressibility.

The Li flux balance is checked: outflow through ``z = -D`` over inflow through the interface.

Method
------
Taylor-Hood Q2-Q1 hexahedra (scikit-fem for the mesh, bases and quadrature; the Stokes
matrices are assembled here in vectorised form) on a structured terrain-following mesh: the
box ``[0, S/2]^2 x [0, 1]`` with planes clustered at the interface (``zeta = 1 - q_beta(1 - t)``,
``q_b(t) = (exp(b t) - 1) / (exp(b) - 1)``, ``beta = 3`` for the mirror grading) mapped by
``z = -D + (h + D) zeta``; quadratic (27-node) geometry.  Egg-box (``grading="mirror"``):
lateral nodes clustered towards both mirror planes, where the Li tips and the electrolyte apices
lie (``x = S/2 (s - c sin(2 pi s) / (2 pi))``, ``c = 0.5``).  Pyramids and frustums
(``grading="ridge"``): their dendrite site is the crossing of the Li ridges at ``x, y = S/2``,
rounded over ``tip_radius_um`` (2 um, :mod:`.shapes`), so the lateral nodes follow
``x = S/2 (1 - q_b(1 - s))`` and the layers ``zeta = 1 - q_b'(1 - t)``, with the exponents
``b, b'`` fixed by the tip radius such that with 8 elements per direction the element at the
ridge and the layer at the interface are half a tip radius wide (1.46 um on 6 elements,
geometric growth about 1.9 per element laterally and 2.3 vertically); ``n_z = n_xy`` by
default.  Refining ``n`` refines this fixed map everywhere.
Direct sparse solve (SuperLU, symmetric mode); Picard updates by GMRES preconditioned with the
factorisation of the first iterate.  Default grid ``n_xy = 6`` elements per quarter-cell side
and ``n_z = 4`` through the depth for the egg-box (about 5e3 unknowns, 1-2 s CPU per case),
``n_z = 6`` for pyramids and frustums (7e3 unknowns, about 2 s with one viscosity, 4-5 s with
the local one).

Verification (tests/interface/test_stokes.py): Newtonian egg-box at ``H/S = 1/300`` with
uniform current within 0.5 % of ``p_max = 2 eta V k^2 H`` (4 and 6 elements) and within 1 % of
the spectral small-slope site pressure with kinetics; flat interface: rigid translation,
``|p| < 1e-6`` of the contour scale; Li flux balance ``< 1e-7`` (interface inflow by
FacetBasis quadrature, outflow through the flat far boundary by Simpson's rule, exact for the
Q2 trace).  Egg-box H25S150 site pressure with the default law and local viscosity: 0.632,
0.573, 0.558, 0.547 MPa on 4, 6, 8, 10 elements (one global viscosity: 0.624, 0.583, 0.582,
0.582): the local viscosity converges slowly because the minimum viscosity near the Li tip
keeps falling under refinement.

Pyramids and frustums, H25S150, default law, ridge grading (the mirror grading gave 0.05,
0.37, 0.69, 1.24 MPa for the pyramid on 4, 6, 6, 8 elements with clustering 0.75 to 0.9).  One
global viscosity: pyramid site pressure 0.79, 1.09, 1.226, 1.249, 1.226, 1.196, 1.174 MPa on
4-10 elements (CPU 0.7, 1.1, 1.8, 3.5, 5-6, 16, 23 s), frustum 0.99, 1.36, 1.518, 1.543,
1.514, 1.479 MPa on 4-9 elements: within 2.5 % between successive grids from 6 elements on,
drifting down by about 2 % per step beyond 8 (a geometric extrapolation puts the limit near
1.1 MPa, i.e. 6 elements may be up to about 10 % high).  Local viscosity: with the fixed
map the pyramid site pressure falls with the layers at the interface (1.15, 1.08, 0.97,
0.88 MPa on 6-9 elements; 8 lateral elements with 5, 6, 8, 10, 12, 16, 20 layers: 1.22, 1.13,
0.97, 0.86, 0.82, 0.79, 0.78 MPa): the strain rate under the rounded Li ridge, and with it the
drop of the local viscosity there, is resolved only by layers much thinner than the tip
radius.  The local-viscosity solve therefore puts its first layer at an eighth of the tip
radius (0.25 um; ``interface_layer_um``), which converges the layers: pyramid 0.753, 0.761,
0.767 MPa with 6 lateral elements and 6, 8, 12 layers, against 0.768 MPa with 24 layers of the
fixed map; frustum 0.891, 0.898 MPa on 6 and 8 layers against 0.905 with 24.  Laterally the
site pressure then drifts as with one viscosity (pyramid 0.761, 0.766, 0.744, 0.727 MPa on 6,
8, 10, 12 elements with 8 layers; about 2.5 % per step beyond 8), so 6 elements may read up to
about 10 % high for both viscosity models.  CPU: 4-5 s per pyramid/frustum solve at 6 x 6.
The normal traction (the default ``stress``) drifts more (benchmarks/bench_stokes_convergence.py,
H25S150, R_ct 10 Ohm cm2, local viscosity, 8 layers; 2026-12-07): pyramid 0.3062, 0.2826,
0.2634, 0.2558 MPa on 6, 8, 10, 12 elements, frustum 0.4188, 0.3796, 0.3559, 0.3488 MPa;
Richardson extrapolation of the last three grids (``p = p_0 + C n^-r`` solved for ``r``):
pyramid 0.248 MPa (r = 3.6; geometric/Aitken limit 0.251), frustum 0.344 MPa (r = 4.9;
Aitken 0.346), so the 6-element values the study uses are 22-24 % (pyramid) and 21-22 %
(frustum) above the extrapolated limit; 12 elements are within 3 % and 1.4 % of it (CPU 40-54 s
per solve under load).  The extrapolation rests on three grids whose successive changes fall
from 7-9 % to 2-3 %: read its limit to a few per cent.  These numbers are
:data:`GRID_CONVERGENCE`; :func:`grid_extrapolation` turns them into the factor by which the
contour study (:func:`ssbscope.interface.contour_sweep`) extrapolates a 6-12 element value
to the limit, stored beside the computed one with the remaining drift (the converged grid
would cost about 9 times the CPU of the default 6 elements).

The viscosity is updated by Picard iterations: start from the uniform viscosity at the
characteristic strain rate of the small-slope model, then ``eta`` at every quadrature point
from the strain rate of the previous iterate; stop when the site pressure and the maximum
surface pressure change by less than ``picard_rtol`` (default 2e-3) between iterates (at most
``max_picard``; the count is reported).  ``viscosity="global"`` keeps one secant viscosity
(that of :mod:`.creep`), which is the finite-slope counterpart of the small-slope model.

The pressure reported is the Li pressure ``p`` (mean stress) at the interface, as in
:mod:`.creep` (small-slope limit ``p_k = eta (2 |k| W_k - 2 i k . U_k)``); (in the small-slope limit
the normal traction of purely lateral forcing equals ``p`` minus ``2 eta d_z w = 2 eta div U``,
i.e. zero: the pressure, not the traction, carries the creep signal).

Use in the dendrite criterion
-----------------------------
:func:`stokes_creep_pressure` returns a :class:`.creep.CreepPressure`, so that
:func:`.creep.critical_current_from` applies unchanged.  Its rescaling to other currents uses
one secant viscosity at an effective strain rate ``eps_eff``; with local viscosity ``eps_eff``
is fitted so that the rescaling reproduces a second finite-slope solve at another current
(``fit_current_ma_cm2``), so the rescaled site pressure is exact at both currents.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field, replace

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla
from scipy.interpolate import RectBivariateSpline, RegularGridInterpolator
from scipy.optimize import brentq

from ssbscope.errors import ParameterError

from .creep import (
    _MA_CM2_TO_UM_S,
    DEFAULT_GRAIN_SIZE_UM,
    CreepLaw,
    CreepPressure,
    creep_pressure,
)
from .current import CurrentDistribution

__all__ = ["EGG_BOX_GRID", "GRID_CONVERGENCE", "GridExtrapolation", "InterfaceStokes", "grid_extrapolation",
           "solve_interface_stokes", "stokes_creep_pressure", "with_stress"]

_BETA = 3.0
# ridge grading (pyramids, frustums): one fixed exponential map per direction, chosen so that
# with n0 elements the element next to the Li ridges and the layer next to the interface are
# `first` tip radii wide (refining n refines the whole map)
_RIDGE = {"first": 0.5, "n0_xy": 8, "n0_z": 8, "local_layer": 0.125}
GRADINGS = ("mirror", "ridge")

#: Lateral grid convergence of the finite-slope site normal traction of pyramids and
#: frustums, measured by benchmarks/bench_stokes_convergence.py (2026-12-07): H25S150,
#: linearised Butler-Volmer current (R_ct 10 Ohm cm2, 2 mS/cm, 1 mm, 12 x 12 current grid),
#: default creep law (2 um grains), local viscosity, 8 layers, 1 mA/cm2.  ``site_mpa`` on the
#: ``n_xy`` elements per quarter-cell side; ``richardson_mpa`` solves ``p = p_0 + C n^-r`` on
#: the last three grids (order ``order``), ``aitken_mpa`` the geometric (Aitken) limit.  The
#: layers are converged (6 vs 8 layers: within 0.2 %), and so is the current grid (10, 12, 16
#: intervals: within 1 %), so the ratio applies to the study's 6 x 6 grid.  The egg-box site
#: normal traction is grid-converged from 6 elements (same benchmark, 8 layers: 0.2487,
#: 0.2283, 0.2285, 0.2281, 0.2277 MPa on 4, 6, 8, 10, 12 elements) and has no entry; with the
#: study's default layers (``n_z = max(3, round(2 n / 3))``) see :data:`EGG_BOX_GRID`.  Re-measured: pyramid 6-12 and frustum 6-10 (same values), frustum 10 and 12
#: elements again later the same day (0.3559, 0.3488 MPa; 37 and 58 s CPU), so the limits stand.
GRID_CONVERGENCE = {
    "pyramid": {"n_xy": (6, 8, 10, 12), "site_mpa": (0.3062, 0.2826, 0.2634, 0.2558),
                "richardson_mpa": 0.2476, "order": 3.57, "aitken_mpa": 0.2510},
    "frustum": {"n_xy": (6, 8, 10, 12), "site_mpa": (0.4188, 0.3796, 0.3559, 0.3488),
                "richardson_mpa": 0.3440, "order": 4.9, "aitken_mpa": 0.3459},
}
#: Egg-box H25S150 site normal traction (MPa) on the contour study's grids: ``n_xy``
#: elements per quarter-cell side with the default ``n_z = max(3, round(2 n_xy / 3))`` layers
#: (same case as :data:`GRID_CONVERGENCE`; re-measured 2026-12-08 with
#: :func:`solve_interface_stokes`), and the 8-layer limit of 6-12 elements
#: (benchmarks/bench_stokes_convergence.py).  The 4 x 3 grid is 15 % high, the 6 x 4 grid 2 %.
EGG_BOX_GRID = {"n_xy": (4, 6, 8), "n_z": (3, 4, 5), "site_mpa": (0.2620, 0.2330, 0.2319),
                "limit_mpa": 0.228}
GRID_CONVERGENCE_CASE = ("H25S150, R_ct 10 Ohm cm2, 2 mS/cm, default creep law, local "
                         "viscosity, normal traction (benchmarks/bench_stokes_convergence.py)")


@dataclass(frozen=True)
class GridExtrapolation:
    """Grid-converged estimate of a finite-slope site pressure (:func:`grid_extrapolation`).

    Attributes
    ----------
    factor : float
        Richardson limit over the value on the solve's grid, at the measured case.
    drift : float
        Remaining drift: the value on the solve's grid over the limit, minus one.
    spread : float
        Relative difference of the geometric (Aitken) and algebraic (Richardson) limits: how
        far the extrapolation itself can be trusted.
    case : str
        Where the ratio was measured.
    """

    factor: float
    drift: float
    spread: float
    case: str = GRID_CONVERGENCE_CASE


def grid_extrapolation(shape: str, n_xy: int, *, stress: str = "normal"
                       ) -> GridExtrapolation | None:
    """The measured grid drift of a pyramid/frustum site normal traction on ``n_xy`` elements.

    The lateral refinement that would converge the finite-slope site pressure of pyramids and
    frustums costs about 9 times the CPU of the default 6 elements at 12 (40-54 s per solve,
    two solves per contour); instead the ratio of the Richardson limit to the value on the
    solve's grid, measured at H25S150 (``GRID_CONVERGENCE``), extrapolates the computed value.
    At other contours and parameters it is an estimate (the drift comes from the resolution
    of the rounded ridge crossing, which the ridge grading scales with the tip radius).

    Parameters
    ----------
    shape : str
        Contour shape.
    n_xy : int
        Elements per quarter-cell side of the solve.
    stress : {"normal", "mean"}
        Interface stress; the table holds the normal traction only.

    Returns
    -------
    GridExtrapolation or None
        None for shapes, grids or stresses the table does not hold (egg-box: converged to a few
        per cent, module docstring).
    """
    tab = GRID_CONVERGENCE.get(shape)
    if tab is None or stress != "normal" or int(n_xy) not in tab["n_xy"]:
        return None
    p = tab["site_mpa"][tab["n_xy"].index(int(n_xy))]
    lim = tab["richardson_mpa"]
    return GridExtrapolation(lim / p, p / lim - 1.0, abs(tab["aitken_mpa"] - lim) / lim)


@dataclass(frozen=True)
class InterfaceStokes:
    """Finite-slope Stokes solution of the creeping Li behind one contour cell.

    Attributes
    ----------
    x_um, y_um : (n + 1,) ndarray
        Quarter-cell vertex coordinates of the interface (0 .. S/2).
    excess_pressure_mpa : (n + 1, n + 1) ndarray
        Li pressure at the interface over the stack pressure, index ``[ix, iy]``.
    site_excess_pressure_mpa : float
        Excess pressure at the site of maximum local current of ``dist``.
    site_xy_um : tuple
        Quarter-cell coordinates of that site.
    max_excess_pressure_mpa, max_compressive_excess_pressure_mpa : float
        ``max |p|`` and ``max p`` over the interface.
    geometric_current_ma_cm2 : float
        Current of the solve.
    plating_rate_um_s : float
        Mean advance ``V`` of the electrode (interface inflow over projected area).
    flux_balance : float
        ``|outflow - inflow| / inflow`` of Li (incompressibility and mesh check).
    divergence_ratio : float
        ``||div u|| / ||grad u||`` (L2 norms over the Li).
    strain_rate_1_s : float
        Dissipation-weighted mean equivalent strain rate ``<eta eps^3> / <eta eps^2>``.
    viscosity_range_mpa_s : tuple
        Smallest and largest local viscosity.
    picard_iterations : int
    picard_change : float
        Relative change of the site pressure in the last iteration.
    viscosity : str
        ``"local"`` or ``"global"``.
    grid : tuple
        ``(n_xy, n_z)`` elements of the quarter cell.
    grading : str
        ``"mirror"`` or ``"ridge"`` (:func:`solve_interface_stokes`).
    n_dofs : int
    runtime_s : float
        CPU time of the solve.
    interface_layer_um : float
        Thickness of the layer of elements next to the interface at the dendrite site.
    stress : str
        Which field ``excess_pressure_mpa`` holds: ``"normal"`` or ``"mean"``.
    normal_traction_mpa, mean_stress_mpa : (n + 1, n + 1) ndarray
        Both interface stresses over the stack pressure (compressive positive).
    site_mean_stress_mpa : float
        The mean stress at the dendrite site (the labelled alternative of the criterion).
    """

    x_um: np.ndarray = field(repr=False)
    y_um: np.ndarray = field(repr=False)
    excess_pressure_mpa: np.ndarray = field(repr=False)
    site_excess_pressure_mpa: float
    site_xy_um: tuple
    max_excess_pressure_mpa: float
    max_compressive_excess_pressure_mpa: float
    geometric_current_ma_cm2: float
    plating_rate_um_s: float
    flux_balance: float
    divergence_ratio: float
    strain_rate_1_s: float
    viscosity_range_mpa_s: tuple
    picard_iterations: int
    picard_change: float
    viscosity: str
    grid: tuple
    grading: str
    n_dofs: int
    runtime_s: float
    interface_layer_um: float = float("nan")
    stress: str = "mean"
    normal_traction_mpa: np.ndarray = field(default=None, repr=False)
    mean_stress_mpa: np.ndarray = field(default=None, repr=False)
    site_mean_stress_mpa: float = float("nan")


def with_stress(solution: InterfaceStokes, stress: str) -> InterfaceStokes:
    """The same solve reporting the other interface stress (``"normal"`` or ``"mean"``)."""
    if stress not in ("normal", "mean"):
        raise ParameterError("stress", stress, "must be 'normal' or 'mean'")
    if stress == solution.stress:
        return solution
    g = solution.normal_traction_mpa if stress == "normal" else solution.mean_stress_mpa
    xs = solution.x_um
    site = float(RegularGridInterpolator((xs, solution.y_um), g)([solution.site_xy_um])[0])
    return replace(solution, excess_pressure_mpa=g, site_excess_pressure_mpa=site,
                   max_excess_pressure_mpa=float(np.abs(g).max()),
                   max_compressive_excess_pressure_mpa=float(g.max()), stress=stress)


def _flow_stress_table(law: CreepLaw):
    """Log-log table of the flow stress (exact brentq inversion of the law at the nodes)."""
    le = np.linspace(-11.0, 1.0, 241)
    ls = np.log10(law.flow_stress_mpa(10.0 ** le))

    def eta(eps):
        e = np.clip(np.asarray(eps, float), 1e-11, 1e1)
        s = 10.0 ** np.interp(np.log10(e), le, ls)
        return s / (3.0 * e)

    return eta


def _grading(n, half_s, cluster):
    s = np.linspace(0.0, 1.0, n + 1)
    return half_s * (s - cluster * np.sin(2 * np.pi * s) / (2 * np.pi))


def _exp_map(t, b):
    """``(exp(b t) - 1) / (exp(b) - 1)`` on ``[0, 1]`` (identity for ``b -> 0``)."""
    t = np.asarray(t, float)
    return t if b < 1e-9 else np.expm1(b * t) / np.expm1(b)


def _exp_rate(first_fraction: float, n0: int) -> float:
    """Exponent ``b`` of :func:`_exp_map` whose first of ``n0`` equal steps in ``t`` spans
    ``first_fraction`` of the range (0: uniform spacing is already that fine)."""
    if first_fraction >= 1.0 / n0:
        return 0.0
    return brentq(lambda b: math.expm1(b / n0) / math.expm1(b) - first_fraction,
                  1e-6, 200.0, xtol=1e-10)


def _site(dist: CurrentDistribution):
    ia, ib = np.unravel_index(np.argmax(dist.local_current_ma_cm2),
                              dist.local_current_ma_cm2.shape)
    return float(dist.x_um[ia]), float(dist.y_um[ib])


def solve_interface_stokes(dist: CurrentDistribution, *, law: CreepLaw | None = None,
                           grain_size_um: float | None = DEFAULT_GRAIN_SIZE_UM,
                           current_ma_cm2: float | None = None, n_xy: int = 6,
                           n_z: int | None = None, depth_over_s: float = 1.0,
                           viscosity: str = "local", picard_rtol: float = 2e-3,
                           max_picard: int = 12, lateral_clustering: float | None = None,
                           grading: str | None = None,
                           interface_layer_um: float | None = None,
                           stress: str = "normal") -> InterfaceStokes:
    """Solve the finite-slope creeping flow of plated Li behind one contour cell.

    Parameters
    ----------
    dist : CurrentDistribution
        Contour and local current (with kinetics; 003_103f2bf5a3479ade Fig. 3c,f).
    law : CreepLaw, optional
        Li creep law (default ``CreepLaw(grain_size_um=grain_size_um)``).
    grain_size_um : float or None
        Grain size of diffusional creep when ``law`` is not given.
    current_ma_cm2 : float, optional
        Geometric current of the solve (default that of ``dist``; the local current is
        scaled linearly).
    n_xy, n_z : int
        Q2 elements along each lateral side of the quarter cell and through the depth
        (default ``max(3, round(2 n_xy / 3))`` for the mirror grading, ``n_xy`` for the
        ridge grading; the interface planes are clustered).
    depth_over_s : float
        Depth ``D / S`` of the Li below the lowest interface point.
    viscosity : {"local", "global"}
        Picard iteration of the local secant viscosity, or the one secant viscosity of
        :func:`.creep.creep_pressure`.
    picard_rtol : float
        Stopping tolerance of the Picard iteration (relative change of the site and maximum
        pressures).
    max_picard : int
        Iteration cap.
    lateral_clustering : float, optional
        ``grading="mirror"``: node clustering towards both mirror planes, ``0 <= c < 1``
        (spacing there ``(1 - c)`` times the mean; default 0.5 for the egg-box, 0.75
        otherwise).
    grading : {"mirror", "ridge"}, optional
        Mesh grading (module docstring): ``"mirror"`` (default for the egg-box) clusters
        lateral nodes towards both mirror planes and layers towards the interface with a
        fixed ``beta = 3``; ``"ridge"`` (default for pyramids and frustums) grades the
        lateral nodes exponentially towards the Li ridges at ``x, y = S/2`` and the layers
        towards the interface, so that the element at the ridge crossing is
        ``tip_radius_um / 2`` wide and thick at ``n_xy = n_z = 8``.
    interface_layer_um : float, optional
        ``grading="ridge"`` only: thickness (um, at the Li ridge) of the layer of elements next
        to the interface for this ``n_z``.  Default: an eighth of the tip radius with the
        local viscosity (0.25 um), whose pressure under the rounded ridge needs thin layers
        there (module docstring); the fixed map above, refined with ``n_z``, with one
        viscosity.
    stress : {"normal", "mean"}
        The interface stress reported as excess pressure: ``"normal"`` (default) the
        compressive normal traction ``-n . sigma . n = p - 2 eta n . e(u) . n`` on the
        electrolyte, ``"mean"`` the Li pressure ``p`` (:func:`.creep.halfspace_surface_stress`
        for the small-slope counterparts).  The viscous normal stress is the L2 projection of
        its quadrature values onto the Q1 pressure space.  Both fields are kept
        (``normal_traction_mpa``, ``mean_stress_mpa``).

    Returns
    -------
    InterfaceStokes

    Raises
    ------
    ParameterError
        Flat interface, bad grid, depth, viscosity mode, clustering or grading.
    """
    from skfem import Basis, ElementHex1, ElementHex2, FacetBasis, MeshHex, MeshHex2

    t0 = time.process_time()
    if not isinstance(dist, CurrentDistribution):
        raise ParameterError("dist", dist, "must be a CurrentDistribution")
    if dist.shape == "flat":
        raise ParameterError("dist", dist.shape, "is flat: the excess pressure is zero",
                             "use creep_pressure for a flat interface")
    if viscosity not in ("local", "global"):
        raise ParameterError("viscosity", viscosity, "must be 'local' or 'global'")
    if stress not in ("normal", "mean"):
        raise ParameterError("stress", stress, "must be 'normal' or 'mean'")
    n_xy = int(n_xy)
    if grading is None:
        grading = "mirror" if dist.shape == "egg-box" else "ridge"
    if grading not in GRADINGS:
        raise ParameterError("grading", grading, f"must be one of {GRADINGS}")
    if n_z is None:
        n_z = n_xy if grading == "ridge" else max(3, round(2 * n_xy / 3))
    n_z = int(n_z)
    if n_xy < 2 or n_z < 2:
        raise ParameterError("n_xy", (n_xy, n_z), "must be >= 2 elements per direction")
    if interface_layer_um is not None:
        if not (np.isfinite(interface_layer_um) and interface_layer_um > 0):
            raise ParameterError("interface_layer_um", interface_layer_um, "must be finite and > 0")
        if grading != "ridge":
            raise ParameterError("interface_layer_um", interface_layer_um,
                                 f"applies to grading='ridge' only (this solve: {grading!r})",
                                 "leave it out or pass grading='ridge'")
    if not (np.isfinite(depth_over_s) and depth_over_s >= 0.5):
        raise ParameterError("depth_over_s", depth_over_s, "must be >= 0.5",
                             "the non-uniform flow must decay before the far boundary")
    if law is None:
        law = CreepLaw(grain_size_um=grain_size_um)
    i_geo = dist.geometric_current_ma_cm2 if current_ma_cm2 is None else float(current_ma_cm2)
    if not (np.isfinite(i_geo) and i_geo > 0):
        raise ParameterError("current_ma_cm2", current_ma_cm2, "must be finite and > 0")
    scale = i_geo / dist.geometric_current_ma_cm2
    if lateral_clustering is None:
        lateral_clustering = 0.5 if dist.shape == "egg-box" else 0.75
    if not 0.0 <= lateral_clustering < 1.0:
        raise ParameterError("lateral_clustering", lateral_clustering, "must be in [0, 1)")

    S = dist.separation_um
    half = S / 2
    D = depth_over_s * S
    h_fun = dist.height_function()
    t = np.linspace(0.0, 1.0, n_z + 1)
    if grading == "ridge":
        rho = dist.tip_radius_um
        b_xy = _exp_rate(_RIDGE["first"] * rho / half, _RIDGE["n0_xy"])
        xs = half * (1.0 - _exp_map(1.0 - np.linspace(0.0, 1.0, n_xy + 1), b_xy))
        if interface_layer_um is None and viscosity == "local":
            interface_layer_um = _RIDGE["local_layer"] * rho
        if interface_layer_um is None:
            b_z = _exp_rate(_RIDGE["first"] * rho / (D + dist.height_um), _RIDGE["n0_z"])
        else:
            b_z = _exp_rate(float(interface_layer_um) / (D + dist.height_um), n_z)
        zeta = 1.0 - _exp_map(1.0 - t, b_z)
    else:
        xs = _grading(n_xy, half, lateral_clustering)
        zeta = 1.0 - (np.exp(_BETA * (1 - t)) - 1) / (np.exp(_BETA) - 1)
    ref = MeshHex2.from_mesh(MeshHex.init_tensor(xs, xs, zeta))
    tol = 1e-9 * S
    top = ref.facets_satisfying(lambda x: x[2] > 1 - 1e-9)
    bottom = ref.facets_satisfying(lambda x: x[2] < 1e-9)
    sides = {ax: ref.facets_satisfying(
        lambda x, a=ax: (np.abs(x[a]) < tol) | (np.abs(x[a] - half) < tol)) for ax in (0, 1)}
    X = ref.doflocs.copy()
    hx = h_fun(X[0], X[1])
    X[2] = -D + (hx + D) * X[2]
    mesh = replace(ref, doflocs=X)

    bs = Basis(mesh, ElementHex2(), intorder=4)
    bp = Basis(mesh, ElementHex1(), intorder=4)
    ns, npr = bs.N, bp.N
    nu = 3 * ns
    dx = bs.dx  # (nel, nq)
    nel = dx.shape[0]
    gphi = np.stack([bs.basis[a][0].grad for a in range(bs.Nbfun)])  # (27, 3, nel, nq)
    psi = np.stack([np.asarray(bp.basis[a][0]) for a in range(bp.Nbfun)])  # (8, nel, nq)
    ed, pd = bs.element_dofs, bp.element_dofs

    # interface velocity v_n n at the interface nodes (exact normal of h)
    e = 1e-4 * min(S / n_xy, dist.tip_radius_um)

    def normal(px, py):
        xp, xm = np.minimum(px + e, half), np.maximum(px - e, 0.0)
        yp, ym = np.minimum(py + e, half), np.maximum(py - e, 0.0)
        gx = (h_fun(xp, py) - h_fun(xm, py)) / (xp - xm)
        gy = (h_fun(px, yp) - h_fun(px, ym)) / (yp - ym)
        return np.stack([gx, gy, -np.ones_like(gx)]) / np.sqrt(1 + gx * gx + gy * gy)

    spline = RectBivariateSpline(dist.x_um, dist.y_um, dist.local_current_ma_cm2, kx=3, ky=3)
    itop = bs.get_dofs(top).all()
    ptx, pty = bs.doflocs[0, itop], bs.doflocs[1, itop]
    vn = spline.ev(ptx, pty) * scale * _MA_CM2_TO_UM_S
    ubc = np.zeros(nu)
    nt = normal(ptx, pty)
    for c in range(3):
        ubc[c * ns + itop] = vn * nt[c]
    ibot = bs.get_dofs(bottom).all()
    fixed = [c * ns + itop for c in range(3)] + [ibot, ns + ibot,
                                                 bs.get_dofs(sides[0]).all(),
                                                 ns + bs.get_dofs(sides[1]).all()]
    D_u = np.unique(np.concatenate(fixed))
    free = np.setdiff1d(np.arange(nu + npr), D_u)

    # divergence block B[q, c ns + b] = -int psi_q d_c phi_b (independent of viscosity)
    Bl = -np.einsum("qeQ,bceQ,eQ->eqcb", psi, gphi, dx)
    rows = np.broadcast_to(pd.T[:, :, None, None], Bl.shape)
    cols = np.broadcast_to((np.arange(3)[None, None, :, None] * ns
                            + ed.T[:, None, None, :]), Bl.shape)
    B = sp.csr_matrix((Bl.ravel(), (rows.ravel(), cols.ravel())), shape=(npr, nu))

    def viscous(eta_q):
        # K[(c,a),(d,b)] = int eta (delta_cd grad phi_a . grad phi_b + d_d phi_a d_c phi_b)
        w = eta_q * dx
        K = sp.csr_matrix((nu, nu))
        eye = np.eye(3)
        for s0 in range(0, nel, 128):
            sl = slice(s0, min(nel, s0 + 128))
            g = gphi[:, :, sl]
            L = np.einsum("aieQ,bieQ,eQ->eab", g, g, w[sl])
            M = np.einsum("adeQ,bceQ,eQ->ecdab", g, g, w[sl])
            M += eye[None, :, :, None, None] * L[:, None, None]
            E = ed[:, sl].T  # (ne, 27)
            r = (np.arange(3)[None, :, None, None, None] * ns + E[:, None, None, :, None])
            cc = (np.arange(3)[None, None, :, None, None] * ns + E[:, None, None, None, :])
            K = K + sp.csr_matrix((M.ravel(), (np.broadcast_to(r, M.shape).ravel(),
                                               np.broadcast_to(cc, M.shape).ravel())),
                                  shape=(nu, nu))
        return K

    cache = {}

    def solve(eta_q):
        K = sp.bmat([[viscous(eta_q), B.T], [B, None]], format="csc")
        x = np.zeros(nu + npr)
        x[:nu] = ubc
        rhs = -(K[:, D_u] @ x[D_u])[free]
        Kf = K[free][:, free].tocsc()
        xf, info = None, 1
        if "lu" in cache:
            # Picard update: GMRES preconditioned by the factorisation of an earlier
            # iterate (the viscosity changes by a bounded factor between iterates)
            M = spla.LinearOperator(Kf.shape, cache["lu"].solve)
            xf, info = spla.gmres(Kf, rhs, x0=cache["x"], M=M, rtol=1e-11, atol=0.0,
                                  restart=60, maxiter=3)
        if info != 0:
            # symmetric-mode LU (diagonal pivots, minimum degree on A + A^T): about a third
            # of the fill of partial pivoting here; checked by the residual, else pivoting
            lu = spla.splu(Kf, permc_spec="MMD_AT_PLUS_A", diag_pivot_thresh=0.0,
                           options={"SymmetricMode": True})
            xf = lu.solve(rhs)
            if not np.linalg.norm(Kf @ xf - rhs) <= 1e-9 * np.linalg.norm(rhs):
                lu = spla.splu(Kf)
                xf = lu.solve(rhs)
            cache["lu"] = lu
            cache["factorisations"] = cache.get("factorisations", 0) + 1
        cache["x"] = xf
        x[free] = xf
        return x[:nu].reshape(3, ns), x[nu:]

    def grad_u(U):
        return np.einsum("cae,aieQ->cieQ", U[:, ed], gphi)  # (3, 3, nel, nq)

    def rates(G):
        Es = 0.5 * (G + np.swapaxes(G, 0, 1))
        return np.sqrt(np.maximum(2.0 / 3.0 * np.einsum("ij...,ij...->...", Es, Es), 0.0))

    eta_of = _flow_stress_table(law)
    # initial (and "global") viscosity: the secant viscosity of the small-slope model
    pr0 = creep_pressure(dist, law=law)
    eps0 = pr0.strain_rate_1_s * scale
    eta_glob = (law.secant_viscosity_mpa_s(eps0) if eps0 > 0
                else law.secant_viscosity_mpa_s(1e-12))
    eta_q = np.full(dx.shape, eta_glob)

    # interface pressure dofs on the (n + 1, n + 1) vertex grid
    p_top = bp.get_dofs(top).all()
    pxy = bp.doflocs[:2, p_top]
    ix = np.argmin(np.abs(pxy[0][:, None] - xs[None, :]), axis=1)
    iy = np.argmin(np.abs(pxy[1][:, None] - xs[None, :]), axis=1)
    sx, sy = _site(dist)

    def site_value(g):  # bilinear on the interface vertex grid
        return RegularGridInterpolator((xs, xs), g)([[sx, sy]])[0]

    def surface(vals):
        g = np.zeros((n_xy + 1, n_xy + 1))
        g[ix, iy] = vals
        return g

    U, pv = solve(eta_q)
    P = surface(pv[p_top])
    it, change = 1, 0.0
    if viscosity == "local":
        while it < max_picard:
            eta_q = eta_of(rates(grad_u(U)))
            U, pv = solve(eta_q)
            P_new = surface(pv[p_top])
            ps_new = site_value(P_new)
            d_site = abs(ps_new - site_value(P)) / max(abs(ps_new), 1e-30)
            d_max = abs(P_new.max() - P.max()) / max(np.abs(P_new).max(), 1e-30)
            change = max(d_site, d_max)
            P = P_new
            it += 1
            if change < picard_rtol:
                break

    G = grad_u(U)
    # normal traction: p - 2 eta n.e(u).n, n the contour normal at the point's (x, y)
    Es = 0.5 * (G + np.swapaxes(G, 0, 1))
    qx = bs.mapping.F(bs.quadrature[0])  # (3, nel, nq) physical quadrature points
    nq = normal(np.clip(qx[0], 0.0, half), np.clip(qx[1], 0.0, half))
    tau_nn = 2.0 * eta_q * np.einsum("ieQ,ijeQ,jeQ->eQ", nq, Es, nq)
    T = surface(bp.project(tau_nn)[p_top])
    P_mean = P
    P_normal = P - T
    P = P_normal if stress == "normal" else P_mean

    # checks: Li flux through the interface and the far boundary; divergence
    def flux(facets):
        fb = FacetBasis(mesh, ElementHex2(), facets=facets, intorder=4)
        un = sum(np.asarray(fb.interpolate(U[c])) * fb.normals[c] for c in range(3))
        return float(np.sum(un * fb.dx))

    def bottom_outflow():
        # the far boundary z = -D is flat and its facets are the affine rectangles of the
        # lateral tensor grid, where the Q2 trace is biquadratic: Simpson's rule is exact
        # (and avoids the inverse isoparametric mapping of FacetBasis, which fails to
        # converge on the long thin bottom elements of fine ridge-graded meshes)
        xq = np.sort(np.unique(np.round(bs.doflocs[0, ibot], 9)))
        w1 = np.zeros(xq.size)
        hh = np.diff(xq[::2])
        w1[:-1:2] += hh / 6
        w1[2::2] += hh / 6
        w1[1::2] += 4 * hh / 6
        jx = np.searchsorted(xq, np.round(bs.doflocs[0, ibot], 9))
        jy = np.searchsorted(xq, np.round(bs.doflocs[1, ibot], 9))
        return -float(np.sum(w1[jx] * w1[jy] * U[2, ibot]))

    inflow, outflow = -flux(top), bottom_outflow()
    divq = G[0, 0] + G[1, 1] + G[2, 2]
    div_ratio = math.sqrt(float(np.sum(divq ** 2 * dx))
                          / float(np.sum(np.einsum("ij...,ij...->...", G, G) * dx)))
    eq = rates(G)
    wd = eta_q * eq ** 2 * dx
    eps_w = float(np.sum(wd * eq) / np.sum(wd)) if np.sum(wd) > 0 else 0.0
    return InterfaceStokes(
        xs.copy(), xs.copy(), P, float(site_value(P)), (sx, sy),
        float(np.abs(P).max()), float(P.max()), float(i_geo), float(inflow / half ** 2),
        float(abs(outflow - inflow) / abs(inflow)), float(div_ratio), eps_w,
        (float(eta_q.min()), float(eta_q.max())), int(it), float(change), viscosity,
        (n_xy, n_z), grading, int(nu + npr), float(time.process_time() - t0),
        float((D + h_fun(np.array(sx), np.array(sy))) * (zeta[-1] - zeta[-2])),
        stress, P_normal, P_mean, float(site_value(P_mean)))


def _effective_rate(law: CreepLaw, s: float, ratio: float) -> float:
    """Strain rate ``e`` with ``s eta(e s) / eta(e) = ratio`` (one-viscosity rescaling)."""
    lo, hi = 1e-12, 10.0

    def g(le):
        e = 10.0 ** le
        return s * law.secant_viscosity_mpa_s(e * s) / law.secant_viscosity_mpa_s(e) - ratio

    glo, ghi = g(math.log10(lo)), g(math.log10(hi))
    if glo * ghi > 0:  # ratio outside the range of the law: nearest end
        return lo if abs(glo) < abs(ghi) else hi
    return 10.0 ** brentq(g, math.log10(lo), math.log10(hi), xtol=1e-6)


def stokes_creep_pressure(dist: CurrentDistribution, solution: InterfaceStokes, *,
                          law: CreepLaw, second: InterfaceStokes | None = None
                          ) -> CreepPressure:
    """A :class:`.creep.CreepPressure` from finite-slope solves, for the dendrite criterion.

    Parameters
    ----------
    dist : CurrentDistribution
        The current distribution the solves used.
    solution : InterfaceStokes
        Solve at the current of ``dist``.
    law : CreepLaw
        The creep law of the solves.
    second : InterfaceStokes, optional
        Solve at another current: the effective strain rate of the rescaling is fitted so
        that :meth:`.creep.CreepPressure.site_pressure_at` reproduces both site pressures.
        Without it the dissipation-weighted strain rate of ``solution`` is used (exact for
        ``viscosity="global"`` and for a Newtonian law).

    Returns
    -------
    CreepPressure
        Fields on a uniform full-cell grid (mirrored and bilinearly resampled from the
        interface vertices), ``strain_rate_1_s`` the effective rate of the rescaling.
    """
    i1 = solution.geometric_current_ma_cm2
    if solution.viscosity == "global":
        eps = creep_pressure(dist, law=law).strain_rate_1_s * i1 / dist.geometric_current_ma_cm2
    elif second is not None and abs(second.geometric_current_ma_cm2 / i1 - 1) > 1e-3 and \
            solution.site_excess_pressure_mpa != 0.0:
        eps = _effective_rate(law, second.geometric_current_ma_cm2 / i1,
                              second.site_excess_pressure_mpa / solution.site_excess_pressure_mpa)
    else:
        eps = solution.strain_rate_1_s
    S = dist.separation_um
    n = solution.x_um.size - 1
    m = 2 * n
    x = np.arange(m) * (S / m)
    xq = np.minimum(x, S - x)
    interp = RegularGridInterpolator((solution.x_um, solution.y_um), solution.excess_pressure_mpa)
    XQ, YQ = np.meshgrid(xq, xq, indexing="ij")
    p = interp(np.stack([XQ.ravel(), YQ.ravel()], axis=1)).reshape(m, m)
    sx, sy = solution.site_xy_um
    eta = law.secant_viscosity_mpa_s(eps)
    return CreepPressure(x, x.copy(), p, solution.max_excess_pressure_mpa,
                         solution.max_compressive_excess_pressure_mpa,
                         solution.site_excess_pressure_mpa, (float(sx), float(sy)),
                         solution.plating_rate_um_s, float(eps), float(eta), float(i1), law,
                         np.zeros((2, m, m)), stress=solution.stress)


@dataclass(frozen=True)
class StokesCriticalCurrent:
    """Critical current with the finite-slope pressure (:func:`stokes_critical_current`).

    Attributes
    ----------
    critical : CriticalCurrent
    pressure : CreepPressure
        Rescalable site pressure (fitted between the two solves).
    at_reference, at_critical : InterfaceStokes
        Solves at the current of ``dist`` and at the first estimate of the critical current.
    runtime_s : float
        CPU time of both solves.
    critical_alternative : CriticalCurrent
        The criterion with the other interface stress of the same solves (the mean stress
        when ``critical`` uses the normal traction, and the reverse).
    """

    critical: object
    pressure: CreepPressure
    at_reference: InterfaceStokes
    at_critical: InterfaceStokes | None
    runtime_s: float
    critical_alternative: object = None


def stokes_critical_current(dist: CurrentDistribution, *, law: CreepLaw,
                            flat_critical_current_ma_cm2: float = 1.0,
                            critical_pressure_mpa: float | None = None,
                            fracture_toughness_mpa_m05: float | None = None,
                            flaw_depth_um: float | None = None,
                            stack_pressure_mpa: float = 0.0,
                            lateral_stress_ratio: float = 0.0,
                            **solver_kw) -> StokesCriticalCurrent:
    """Dendrite criterion of :func:`.creep.critical_current_from` with finite-slope pressure.

    Solves at the current of ``dist``; a first critical current follows with the
    dissipation-weighted rescaling; a second solve at that current fixes the rescaling
    (:func:`stokes_creep_pressure`) and the criterion is solved again.  With
    ``viscosity="global"`` one solve is exact.

    Parameters
    ----------
    dist : CurrentDistribution
        With kinetics.
    law : CreepLaw
    flat_critical_current_ma_cm2, critical_pressure_mpa, fracture_toughness_mpa_m05,
    flaw_depth_um, stack_pressure_mpa, lateral_stress_ratio
        As in :func:`.creep.critical_current_from` (None: its defaults).
    **solver_kw
        Passed to :func:`solve_interface_stokes`.

    Returns
    -------
    StokesCriticalCurrent
    """
    from .creep import critical_current_from

    kw = {"flat_critical_current_ma_cm2": flat_critical_current_ma_cm2,
          "critical_pressure_mpa": critical_pressure_mpa,
          "stack_pressure_mpa": stack_pressure_mpa, "lateral_stress_ratio": lateral_stress_ratio}
    if fracture_toughness_mpa_m05 is not None:
        kw["fracture_toughness_mpa_m05"] = fracture_toughness_mpa_m05
    if flaw_depth_um is not None:
        kw["flaw_depth_um"] = flaw_depth_um
    s1 = solve_interface_stokes(dist, law=law, **solver_kw)
    pr = stokes_creep_pressure(dist, s1, law=law)
    cc = critical_current_from(dist, pr, **kw)
    s2 = None
    ic = cc.critical_current_ma_cm2
    if s1.viscosity == "local" and abs(ic / s1.geometric_current_ma_cm2 - 1) > 0.02:
        s2 = solve_interface_stokes(dist, law=law, current_ma_cm2=ic, **solver_kw)
        pr = stokes_creep_pressure(dist, s1, law=law, second=s2)
        cc = critical_current_from(dist, pr, **kw)
    rt = s1.runtime_s + (0.0 if s2 is None else s2.runtime_s)
    other = "mean" if s1.stress == "normal" else "normal"
    a1 = with_stress(s1, other)
    a2 = None if s2 is None else with_stress(s2, other)
    cc_alt = critical_current_from(dist, stokes_creep_pressure(dist, a1, law=law, second=a2), **kw)
    return StokesCriticalCurrent(cc, pr, s1, s2, rt, cc_alt)
