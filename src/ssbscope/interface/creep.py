"""Creep-driven interfacial pressure and a dendrite-growth criterion on contoured interfaces.

Pressure model (003_103f2bf5a3479ade, Fig. 3c,f,g and its text on Li creep)
---------------------------------------------------------------------------
Li plated at the interface is added along the local surface normal at the rate
``v_n = j Omega / F`` (``j`` the local normal current, ``Omega = M_Li / rho_Li``).  The Li
electrode as a whole moves away from the rigid electrolyte at the mean plating rate
``V = <q>`` (``q`` the plating rate per projected area, ``<q> = i Omega / F``).  Relative to
that rigid motion the Li at the interface has

* a lateral velocity ``U = v_n grad h / sqrt(1 + |grad h|^2)``: plating normal to a sloped
  surface sends Li sideways, towards the Li protrusions into the electrolyte (the troughs
  of the electrolyte), where it converges (003_, Fig. 3g);
* a normal velocity ``W = q - <q>`` from non-uniform plating (kinetics, Fig. 3c,f).

A flat interface plated uniformly has ``U = W = 0``: no flow and no excess pressure.  The Li
is an incompressible power-law creeping solid,
``eps_dot_eq = eps_ref (sigma_eq / sigma_ref)^n`` (von Mises; secant viscosity
``eta = sigma_eq / (3 eps_dot_eq)``).  The momentum balance (Stokes flow of the creeping Li)
is solved in the small-slope limit on the Li half-space behind the interface, with the
interface velocity ``(U, W)`` prescribed, per Fourier mode ``k`` of the periodic cell.  The
surface pressure is then, exactly for a uniform viscosity,

    ``p_k = eta (2 |k| W_k - 2 i k . U_k)``,   i.e.   ``p = eta (2 Lambda W - 2 div U)``

(``Lambda`` the Dirichlet-to-Neumann operator ``|k|``): converging lateral flow (``div U < 0``)
and excess plating (``W > 0``) both pressurise the Li.  The power law enters through one
secant viscosity evaluated at the characteristic equivalent strain rate of the interfacial
layer,

    ``eps_c^2 = (8/3) sum_k |k|^2 (|U_L,k|^2 + |U_T,k|^2 / 2 + |W_k|^2)``

(``U_L``, ``U_T`` the parts of ``U`` along and across ``k``); for one longitudinal mode this
is the exact (uniform) equivalent strain rate at the surface, and the parts are weighted by
their viscous dissipation (traction power ``eta |k| (2|U_L|^2 + |U_T|^2 + 2|W|^2)``).  So
``p = sigma_f(eps_c) / (3 eps_c) * p_N`` with ``p_N`` the pressure for unit viscosity and
``sigma_f(e) = sigma_ref (e / eps_ref)^(1/n)``.  Consequences (checked in the tests):

* flat interface, or ``H -> 0``: ``p -> 0`` (as ``H^(1/n)`` for the power law, ``~ H`` for
  ``n = 1``);
* ``n = 1`` egg-box at small slope and uniform current:
  ``p_max = 2 eta V k^2 H`` (``k = 2 pi / S``);
* velocities scale with the current, so ``p ~ i^(1/n)``;
* the lateral term scales as ``V H / S^2``: the maximum pressure rises with H at fixed S and
  as S falls at fixed H (003_, Fig. 3c,f); at fixed H/S it falls slowly (``~ S^(-1/n)``)
  with the feature size unless kinetics concentrate the plating more on larger features.

Li creep defaults (room temperature): stress exponent ``n = 6.56`` and one point of the
steady-state law, a flow stress of 0.8 MPa at 5e-4 1/s.  Sources: constant-stress creep of
Li at room temperature, Masias et al., J. Mater. Sci. 54, 2585 (2019),
doi:10.1007/s10853-018-2971-3 (ref. 50 of 003_103f2bf5a3479ade; n = 6.56); strain-rate and
temperature dependent flow of bulk Li, LePage et al., J. Electrochem. Soc. 166, A89 (2019),
doi:10.1149/2.0221902jes (ref. 49; power-law creep dominant over battery-relevant rates,
sub-MPa flow stress near 5e-4 1/s).  The search tools available when this was written gave
the abstracts of these papers, not their tables: the two numbers are the commonly quoted
values, approximate; pass your own for a specific Li.  A pure power law has no linear
low-stress regime, so the excess pressure of a contour goes to zero only as ``H^(1/n)``.

The "max" excess pressure reported is the highest magnitude of ``p - p_stack`` over the
interface, as defined for 003_ Fig. 3c,f; the compressive maximum (at the Li protrusions into
the electrolyte) is reported beside it.  In this small-slope model the largest magnitude on
an egg-box is tensile, on the Li valleys (electrolyte peaks), where the plated Li diverges and
the plating per projected area is lowest, whereas 003_ finds the pressure maximum at the Li
protrusion (Fig. S3).

Dendrite-growth criterion (after Ning et al., Nature 618, 287 (2023), ref. 37 of 003_)
-------------------------------------------------------------------------------------
A dendrite grows as a Li-filled crack at the site of maximum local current and pressure (the
same site in 003_, Fig. S3).  The Li plated inside the crack at the local current ``j`` must
creep out through the crack mouth, which raises the Li pressure in the crack above the
interfacial pressure by ``dp_crack = p_c (j / i_g0)^(1/n)`` (power-law extrusion: pressure ~
rate^(1/n)); the crack extends when the total excess ``dp + dp_crack`` reaches the fracture
pressure margin ``p_c``.  Hence the current needed for growth falls with the interfacial
excess pressure,

    ``i_g(dp) = i_g0 (1 - dp / p_c)^n``,

with ``i_g0`` the critical current of a flat interface (measured, e.g. by the stepped protocol
of 003_'s Methods) and ``p_c`` of the order of ``K_Ic / (1.12 sqrt(pi a))`` for a crack of
depth ``a`` (about 10 MPa for a ~100 um flaw in an argyrodite with ``K_Ic ~ 0.2 MPa m^0.5``;
default 10 MPa, an order of magnitude, not a measured value).  As 003_ does (Fig. 4), the
maxima of current and pressure are combined: with ``j_max = r i`` and ``dp_max = P1 i^(1/n)``
(``i`` in mA/cm2) the critical geometric current solves ``r i = i_g(P1 i^(1/n))``, in
closed form

    ``i_c = i_g0 / (r^(1/n) + i_g0^(1/n) P1 / p_c)^n``.

A flat interface (``r = 1``, ``P1 = 0``) gives ``i_c = i_g0``.  As 003_ stresses, the
numbers are trends, not absolute critical currents.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ssbscope.errors import ParameterError
from ssbscope.materials import FARADAY_C_MOL, M_LI_G_MOL, RHO_LI_G_CM3

from .current import CurrentDistribution, current_distribution

__all__ = [
    "DEFAULT_CRITICAL_PRESSURE_MPA",
    "LI_CREEP_EXPONENT",
    "LI_CREEP_REFERENCE_STRAIN_RATE_1_S",
    "LI_CREEP_REFERENCE_STRESS_MPA",
    "CreepPressure",
    "CriticalCurrent",
    "creep_pressure",
    "critical_current",
    "critical_current_from",
    "li_flow_stress_mpa",
]

LI_CREEP_EXPONENT = 6.56
LI_CREEP_REFERENCE_STRESS_MPA = 0.8
LI_CREEP_REFERENCE_STRAIN_RATE_1_S = 5e-4
DEFAULT_CRITICAL_PRESSURE_MPA = 10.0


def li_flow_stress_mpa(strain_rate_1_s, *, stress_exponent: float = LI_CREEP_EXPONENT,
                       reference_stress_mpa: float = LI_CREEP_REFERENCE_STRESS_MPA,
                       reference_strain_rate_1_s: float = LI_CREEP_REFERENCE_STRAIN_RATE_1_S):
    """Steady-state uniaxial flow stress of Li, ``sigma_ref (e / eps_ref)^(1/n)``.

    Parameters
    ----------
    strain_rate_1_s : float or ndarray
        Equivalent strain rate (1/s), >= 0.
    stress_exponent, reference_stress_mpa, reference_strain_rate_1_s : float
        Power-law creep parameters (module docstring for the Li defaults and references).

    Returns
    -------
    float or ndarray
        Flow stress in MPa.
    """
    n = _pos("stress_exponent", stress_exponent)
    s_ref = _pos("reference_stress_mpa", reference_stress_mpa)
    e_ref = _pos("reference_strain_rate_1_s", reference_strain_rate_1_s)
    e = np.asarray(strain_rate_1_s, dtype=float)
    if np.any(~np.isfinite(e)) or np.any(e < 0):
        raise ParameterError("strain_rate_1_s", strain_rate_1_s, "must be finite and >= 0")
    out = s_ref * (e / e_ref) ** (1.0 / n)
    return float(out) if out.ndim == 0 else out


@dataclass(frozen=True)
class CreepPressure:
    """Excess interfacial pressure from creeping plated Li.

    Attributes
    ----------
    x_um, y_um : (m,) ndarray
        Full-cell grid (``m = 2 n``, periodic, spacing ``S / m``).
    excess_pressure_mpa : (m, m) ndarray
        Interfacial pressure minus the stack pressure (zero mean), index ``[ix, iy]``.
    max_excess_pressure_mpa : float
        Highest magnitude of the excess pressure, ``max |p - p_stack|`` (the "max" of
        003_103f2bf5a3479ade Fig. 3c,f: "the highest magnitude").
    max_compressive_excess_pressure_mpa : float
        Largest compressive excess, ``max (p - p_stack)`` (at the Li protrusions).
    plating_rate_um_s : float
        Mean advance ``V = <q>`` of the interface (Li moved away from the electrolyte).
    strain_rate_1_s : float
        Characteristic equivalent strain rate ``eps_c`` of the creeping layer.
    viscosity_mpa_s : float
        Secant viscosity ``sigma_f(eps_c) / (3 eps_c)`` (inf when nothing flows).
    lateral_velocity_um_s : (2, m, m) ndarray
        Lateral interface velocity ``U`` (x, y components).
    """

    x_um: np.ndarray = field(repr=False)
    y_um: np.ndarray = field(repr=False)
    excess_pressure_mpa: np.ndarray = field(repr=False)
    max_excess_pressure_mpa: float = 0.0
    max_compressive_excess_pressure_mpa: float = 0.0
    plating_rate_um_s: float = 0.0
    strain_rate_1_s: float = 0.0
    viscosity_mpa_s: float = float("inf")
    lateral_velocity_um_s: np.ndarray = field(default=None, repr=False)


def _pos(name, v):
    try:
        fv = float(v)
    except (TypeError, ValueError):
        raise ParameterError(name, v, "must be a number") from None
    if not np.isfinite(fv) or fv <= 0:
        raise ParameterError(name, v, "must be finite and > 0")
    return fv


def _mirror(a):
    a = np.concatenate([a, a[-2:0:-1]], axis=0)
    return np.concatenate([a, a[:, -2:0:-1]], axis=1)


_MA_CM2_TO_UM_S = 1e-3 * (M_LI_G_MOL / RHO_LI_G_CM3) / FARADAY_C_MOL * 1e4


def creep_pressure(dist: CurrentDistribution, *, stress_exponent: float = LI_CREEP_EXPONENT,
                   reference_stress_mpa: float = LI_CREEP_REFERENCE_STRESS_MPA,
                   reference_strain_rate_1_s: float = LI_CREEP_REFERENCE_STRAIN_RATE_1_S
                   ) -> CreepPressure:
    """Excess interfacial pressure needed to creep the non-uniformly plated Li away.

    Small-slope Stokes flow of power-law creeping Li behind the interface, driven by the
    lateral velocity of Li plated normal to the contour and by non-uniform plating (module
    docstring; 003_103f2bf5a3479ade Fig. 3c,f,g).

    Parameters
    ----------
    dist : CurrentDistribution
        Current distribution (with kinetics, as in 003_103f2bf5a3479ade Fig. 3c,f).
    stress_exponent : float
        Power-law creep exponent ``n`` (Li: 6.56, LePage et al. 2019).
    reference_stress_mpa, reference_strain_rate_1_s : float
        One point of the uniaxial steady-state creep law (Li: 0.8 MPa at 5e-4 1/s).

    Returns
    -------
    CreepPressure
        The excess pressure field at the interface and its maximum.

    Raises
    ------
    ParameterError
        Non-finite or non-positive creep parameters.
    """
    n = _pos("stress_exponent", stress_exponent)
    s_ref = _pos("reference_stress_mpa", reference_stress_mpa)
    e_ref = _pos("reference_strain_rate_1_s", reference_strain_rate_1_s)
    q = _mirror(dist.projected_current_ma_cm2) * _MA_CM2_TO_UM_S  # um/s per projected area
    m = q.shape[0]
    dx = float(dist.x_um[1] - dist.x_um[0])
    x = np.arange(m) * dx
    mean_q = float(q.mean())
    zeros = np.zeros_like(q)
    if dist.shape == "flat":
        return CreepPressure(x, x.copy(), zeros, 0.0, 0.0, mean_q, 0.0, float("inf"),
                             np.zeros((2, m, m)))
    h = _mirror(dist.li_height_um)
    v_n = _mirror(dist.local_current_ma_cm2) * _MA_CM2_TO_UM_S
    hx = (np.roll(h, -1, axis=0) - np.roll(h, 1, axis=0)) / (2 * dx)
    hy = (np.roll(h, -1, axis=1) - np.roll(h, 1, axis=1)) / (2 * dx)
    norm = np.sqrt(1.0 + hx ** 2 + hy ** 2)
    ux, uy = v_n * hx / norm, v_n * hy / norm
    w = q - mean_q
    k = 2 * np.pi * np.fft.fftfreq(m, d=dx)
    KX, KY = np.meshgrid(k, k, indexing="ij")
    kmag = np.hypot(KX, KY)
    N = m * m
    Ux, Uy, W = np.fft.fft2(ux) / N, np.fft.fft2(uy) / N, np.fft.fft2(w) / N
    Ux[0, 0] = Uy[0, 0] = W[0, 0] = 0.0
    kdotU = KX * Ux + KY * Uy
    U2 = np.abs(Ux) ** 2 + np.abs(Uy) ** 2
    rate2 = (8.0 / 3.0) * np.sum(0.5 * np.abs(kdotU) ** 2 + 0.5 * kmag ** 2 * U2
                                 + kmag ** 2 * np.abs(W) ** 2)
    eps_c = float(np.sqrt(rate2))
    if not eps_c > 0:
        return CreepPressure(x, x.copy(), zeros, 0.0, 0.0, mean_q, 0.0, float("inf"),
                             np.stack([ux, uy]))
    eta = s_ref * (eps_c / e_ref) ** (1.0 / n) / (3.0 * eps_c)  # MPa s
    p_hat = 2.0 * kmag * W - 2j * kdotU
    p = eta * np.real(np.fft.ifft2(p_hat * N))
    p -= p.mean()
    return CreepPressure(x, x.copy(), p, float(np.abs(p).max()), float(p.max()), mean_q,
                         eps_c, float(eta),
                         np.stack([ux, uy]))


@dataclass(frozen=True)
class CriticalCurrent:
    """Critical geometric current for dendrite growth on a contoured interface.

    Attributes
    ----------
    critical_current_ma_cm2 : float
    gain_over_flat : float
        ``critical / flat critical current``.
    max_over_geometric : float
        ``r = j_max / i`` with kinetics.
    max_excess_pressure_mpa_at_1 : float
        ``P1``: maximum excess pressure at 1 mA/cm2.
    area_ratio : float
    """

    critical_current_ma_cm2: float
    gain_over_flat: float
    max_over_geometric: float
    max_excess_pressure_mpa_at_1: float
    area_ratio: float


def critical_current(shape: str, height_um: float, separation_um: float, *,
                     r_ct_ohm_cm2: float, conductivity_s_cm: float, thickness_um: float,
                     flat_critical_current_ma_cm2: float = 1.0,
                     critical_pressure_mpa: float = DEFAULT_CRITICAL_PRESSURE_MPA,
                     n_xy: int = 16, stress_exponent: float = LI_CREEP_EXPONENT,
                     **creep_kw) -> CriticalCurrent:
    """Critical geometric current for dendrites from local current and creep pressure.

    ``i_c = i_g0 / (r^(1/n) + i_g0^(1/n) P1 / p_c)^n`` (module docstring; criterion after
    Ning et al. 2023, ref. 37 of 003_103f2bf5a3479ade, used for its Fig. 4), with ``r`` and
    ``P1`` from :func:`current_distribution` (with kinetics) and :func:`creep_pressure` at
    1 mA/cm2.

    Parameters
    ----------
    shape, height_um, separation_um, r_ct_ohm_cm2, conductivity_s_cm, thickness_um
        As in :func:`current_distribution`.
    flat_critical_current_ma_cm2 : float
        ``i_g0``, the critical current of a flat interface.
    critical_pressure_mpa : float
        ``p_c``, the crack's fracture pressure margin (excess pressure at which growth needs
        no current).
    n_xy : int
        Grid of the current solve.
    stress_exponent : float
        Creep exponent ``n``; further creep parameters as keyword arguments.

    Returns
    -------
    CriticalCurrent
    """
    i_g0 = _pos("flat_critical_current_ma_cm2", flat_critical_current_ma_cm2)
    p_c = _pos("critical_pressure_mpa", critical_pressure_mpa)
    n = _pos("stress_exponent", stress_exponent)
    _pos("r_ct_ohm_cm2", r_ct_ohm_cm2)
    dist = current_distribution(shape, height_um, separation_um, r_ct_ohm_cm2=r_ct_ohm_cm2,
                                conductivity_s_cm=conductivity_s_cm, thickness_um=thickness_um,
                                geometric_current_ma_cm2=1.0, n_xy=n_xy, n_zeta=n_xy)
    pr = creep_pressure(dist, stress_exponent=n, **creep_kw)
    return critical_current_from(dist, pr, flat_critical_current_ma_cm2=i_g0,
                                 critical_pressure_mpa=p_c, stress_exponent=n)


def critical_current_from(dist: CurrentDistribution, pressure: CreepPressure, *,
                          flat_critical_current_ma_cm2: float = 1.0,
                          critical_pressure_mpa: float = DEFAULT_CRITICAL_PRESSURE_MPA,
                          stress_exponent: float = LI_CREEP_EXPONENT) -> CriticalCurrent:
    """The dendrite criterion of :func:`critical_current` on solved fields.

    Parameters
    ----------
    dist : CurrentDistribution
        With kinetics; its maximum over the geometric current is ``r``.
    pressure : CreepPressure
        From :func:`creep_pressure` on ``dist`` (same ``n``); rescaled to 1 mA/cm2 as
        ``P1 = dp_max i^(-1/n)``, exact for the power law.
    flat_critical_current_ma_cm2, critical_pressure_mpa, stress_exponent
        ``i_g0``, ``p_c``, ``n``.

    Returns
    -------
    CriticalCurrent
    """
    i_g0 = _pos("flat_critical_current_ma_cm2", flat_critical_current_ma_cm2)
    p_c = _pos("critical_pressure_mpa", critical_pressure_mpa)
    n = _pos("stress_exponent", stress_exponent)
    r = dist.max_over_geometric
    p1 = max(pressure.max_excess_pressure_mpa, 0.0) * (
        1.0 / dist.geometric_current_ma_cm2) ** (1 / n)
    i_c = i_g0 / (r ** (1 / n) + i_g0 ** (1 / n) * p1 / p_c) ** n
    return CriticalCurrent(float(i_c), float(i_c / i_g0), float(r), float(p1), dist.area_ratio)
