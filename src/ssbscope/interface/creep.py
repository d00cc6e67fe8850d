"""Creep-driven interfacial pressure and a dendrite-growth criterion on contoured interfaces.

Pressure model (003_103f2bf5a3479ade, Fig. 3c,f,g)
-------------------------------------------------
Li plated at the interface advances it along the normal at ``v_n = j Omega / F``
(``Omega = M_Li / rho_Li``).  Per unit projected area the volume deposited is
``q(x, y) = j_proj Omega / F``; only its mean is taken up by a rigid advance of the Li, the
rest, ``dq = q - <q>``, must creep laterally away in a layer of thickness ``delta`` next to
the interface.  The layer is treated as a thin film of a power-law creeping solid,
``eps_dot = eps_ref (sigma_eq / sigma_ref)^n`` (von Mises: shear rate
``gamma_dot = 3^((n+1)/2) eps_ref (tau / sigma_ref)^n``) between no-slip walls, whose volume
flux per unit width is ``Q = 2 gamma_ref (delta/2)^(n+2) |grad p / sigma_ref|^n / (n + 2)``
along ``-grad p``.  Mass balance gives ``div Q = dq``; the flux is taken irrotational
(``Q = grad chi``, ``lap chi = dq``; exact in 1-D and axisymmetric cases), the pressure
gradient follows from the film law, and the pressure is its least-squares integral
(``lap p = div grad p``, periodic FFT).  The excess pressure is ``p - <p>`` (the mean is
the stack pressure).

Li creep defaults: stress exponent n = 6.56 and a flow stress of 0.8 MPa at 5e-4 1/s at
room temperature, with a linear (diffusional) mechanism in parallel below a transition
stress of 0.1 MPa so that the pressure vanishes smoothly for a flat interface (a pure power
law gives ``dp ~ H^(1/n)``, finite as H -> 0) (power law: LePage et al., J. Electrochem. Soc. 166, A89 (2019), ref. 49 of
003_103f2bf5a3479ade; Masias et al., J. Mater. Sci. 54, 2585 (2019), ref. 50, report
similar values).  These are approximate literature values: pass your own.

Dendrite-growth criterion (after Ning et al., Nature 618, 287 (2023), ref. 37)
-------------------------------------------------------------------------------
A dendrite crack grows where the local current exceeds a growth current that falls with
the local interfacial pressure, ``i_g(p) = i_g0 (1 - dp / p_c)``; ``i_g0`` is the critical
current of a flat interface (measured, e.g. by the stepped protocol of 003_'s Methods) and
``p_c`` the excess pressure at which growth needs no current.  With ``j_max = r i`` and
``dp_max = P1 (i / 1 mA cm^-2)^(1/n)`` (both from the solved distributions; the maximum
current and pressure occur at the same place, 003_ Fig. S3) the critical geometric current
solves ``r i = i_g0 (1 - P1 i^(1/n) / p_c)``.  The numbers are trends, as the paper notes.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ssbscope.errors import ParameterError
from ssbscope.materials import FARADAY_C_MOL, M_LI_G_MOL, RHO_LI_G_CM3

from .current import CurrentDistribution, current_distribution

__all__ = ["CreepPressure", "creep_pressure", "CriticalCurrent", "critical_current",
           "critical_current_from",
           "LI_CREEP_EXPONENT", "LI_CREEP_REFERENCE_STRESS_MPA",
           "LI_CREEP_REFERENCE_STRAIN_RATE_1_S"]

LI_CREEP_EXPONENT = 6.56
LI_CREEP_REFERENCE_STRESS_MPA = 0.8
LI_CREEP_REFERENCE_STRAIN_RATE_1_S = 5e-4
LI_CREEP_TRANSITION_STRESS_MPA = 0.1


def _film_gradient(Q, delta, n, s_ref, e_ref, t_stress):
    """|grad p| (MPa/um) that drives a film flux Q (um^2/s) through a layer delta (um).

    Two creep mechanisms in parallel (uniaxial rates add):
    ``eps_dot = e_ref [(s/s_ref)^n + (s_t/s_ref)^n (s/s_t)]``; in shear
    ``gamma_dot = sqrt(3) eps_dot(sqrt(3) tau)``.  The Poiseuille-type film flux between
    no-slip walls is ``Q = 2 sum_m c_m g^m (delta/2)^(m+2) / (m+2)`` with ``c_m`` the shear
    coefficient of the mechanism of exponent m; it rises monotonically with ``g`` and is
    inverted by bisection in log space.
    """
    c_n = np.sqrt(3) * e_ref * (np.sqrt(3) / s_ref) ** n
    c_1 = np.sqrt(3) * e_ref * (t_stress / s_ref) ** n * (np.sqrt(3) / t_stress)
    half = delta / 2

    def flux(g):
        return 2 * c_n * g ** n * half ** (n + 2) / (n + 2) + 2 * c_1 * g * half ** 3 / 3

    Q = np.asarray(Q, dtype=float)
    out = np.zeros_like(Q)
    pos = Q > 0
    if not pos.any():
        return out
    q = Q[pos]
    # bracket: the linear law alone over-estimates g; the power law alone too
    g_lin = q / (2 * c_1 * half ** 3 / 3)
    g_pow = (q * (n + 2) / (2 * c_n * half ** (n + 2))) ** (1 / n)
    hi = np.log(np.minimum(g_lin, g_pow))
    lo = hi - np.log(2.0) - 1.0
    lo = np.minimum(lo, hi - 1.0)
    for _ in range(80):
        mid = 0.5 * (lo + hi)
        too_much = flux(np.exp(mid)) > q
        hi = np.where(too_much, mid, hi)
        lo = np.where(too_much, lo, mid)
    out[pos] = np.exp(0.5 * (lo + hi))
    return out


@dataclass(frozen=True)
class CreepPressure:
    """Excess interfacial pressure from creeping plated Li.

    Attributes
    ----------
    x_um, y_um : (m,) ndarray
        Full-cell grid (``m = 2 n``).
    excess_pressure_mpa : (m, m) ndarray
        Interfacial pressure minus the stack pressure.
    max_excess_pressure_mpa : float
    plating_rate_um_s : float
        Mean advance ``<q>`` of the interface.
    layer_thickness_um : float
        Creep layer thickness ``delta``.
    """

    x_um: np.ndarray = field(repr=False)
    y_um: np.ndarray = field(repr=False)
    excess_pressure_mpa: np.ndarray = field(repr=False)
    max_excess_pressure_mpa: float = 0.0
    plating_rate_um_s: float = 0.0
    layer_thickness_um: float = 0.0


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


def creep_pressure(dist: CurrentDistribution, *, stress_exponent: float = LI_CREEP_EXPONENT,
                   reference_stress_mpa: float = LI_CREEP_REFERENCE_STRESS_MPA,
                   reference_strain_rate_1_s: float = LI_CREEP_REFERENCE_STRAIN_RATE_1_S,
                   layer_thickness_um: float | None = None,
                   transition_stress_mpa: float = LI_CREEP_TRANSITION_STRESS_MPA) -> CreepPressure:
    """Excess interfacial pressure needed to creep the non-uniformly plated Li away.

    See the module docstring for the model and the Li parameters.

    Parameters
    ----------
    dist : CurrentDistribution
        Current distribution (with kinetics, as in 003_103f2bf5a3479ade Fig. 3c,f).
    stress_exponent : float
        Power-law creep exponent ``n``.
    reference_stress_mpa, reference_strain_rate_1_s : float
        One point of the uniaxial creep law.
    layer_thickness_um : float, optional
        Creep layer thickness; default ``S / 2``.
    transition_stress_mpa : float
        Stress below which a linear (diffusional) creep mechanism takes over from the power
        law (both give the same rate there).

    Returns
    -------
    CreepPressure
    """
    n = _pos("stress_exponent", stress_exponent)
    s_ref = _pos("reference_stress_mpa", reference_stress_mpa)
    e_ref = _pos("reference_strain_rate_1_s", reference_strain_rate_1_s)
    t_stress = _pos("transition_stress_mpa", transition_stress_mpa)
    omega_cm3_mol = M_LI_G_MOL / RHO_LI_G_CM3
    # projected current (mA/cm2) -> vertical advance (um/s)
    q = _mirror(dist.projected_current_ma_cm2) * 1e-3 * omega_cm3_mol / FARADAY_C_MOL * 1e4
    m = q.shape[0]
    dx = float(dist.x_um[1] - dist.x_um[0])
    x = np.arange(m) * dx
    mean_q = float(q.mean())
    if dist.shape == "flat":
        return CreepPressure(x, x.copy(), np.zeros_like(q), 0.0, mean_q, float("nan"))
    delta = (dist.separation_um / 2) if layer_thickness_um is None else _pos(
        "layer_thickness_um", layer_thickness_um)
    dq = q - mean_q
    k = 2 * np.pi * np.fft.fftfreq(m, d=dx)
    KX, KY = np.meshgrid(k, k, indexing="ij")
    k2 = KX ** 2 + KY ** 2
    k2[0, 0] = 1.0
    chi_h = -np.fft.fft2(dq) / k2
    chi_h[0, 0] = 0.0
    Qx = np.real(np.fft.ifft2(1j * KX * chi_h))
    Qy = np.real(np.fft.ifft2(1j * KY * chi_h))
    Qmag = np.hypot(Qx, Qy)
    grad_mag = _film_gradient(Qmag, delta, n, s_ref, e_ref, t_stress)
    with np.errstate(invalid="ignore", divide="ignore"):
        ux = np.where(Qmag > 0, Qx / Qmag, 0.0)
        uy = np.where(Qmag > 0, Qy / Qmag, 0.0)
    Gx = -grad_mag * ux
    Gy = -grad_mag * uy
    div_h = 1j * KX * np.fft.fft2(Gx) + 1j * KY * np.fft.fft2(Gy)
    p_h = -div_h / k2
    p_h[0, 0] = 0.0
    p = np.real(np.fft.ifft2(p_h))
    return CreepPressure(x, x.copy(), p, float(p.max()), mean_q, float(delta))


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
                     critical_pressure_mpa: float = 1.0, n_xy: int = 16,
                     stress_exponent: float = LI_CREEP_EXPONENT, **creep_kw) -> CriticalCurrent:
    """Critical geometric current for dendrites from current and creep pressure.

    Solves ``r i = i_g0 (1 - P1 i^(1/n) / p_c)`` (module docstring) by bisection, with
    ``r`` and ``P1`` from :func:`current_distribution` (with kinetics) and
    :func:`creep_pressure` at 1 mA/cm2 (003_103f2bf5a3479ade Fig. 4).

    Parameters
    ----------
    shape, height_um, separation_um, r_ct_ohm_cm2, conductivity_s_cm, thickness_um
        As in :func:`current_distribution`.
    flat_critical_current_ma_cm2 : float
        ``i_g0``, the critical current of a flat interface.
    critical_pressure_mpa : float
        ``p_c``, excess pressure at which growth needs no current.
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
                          critical_pressure_mpa: float = 1.0,
                          stress_exponent: float = LI_CREEP_EXPONENT) -> CriticalCurrent:
    """The dendrite criterion of :func:`critical_current` on solved fields.

    Parameters
    ----------
    dist : CurrentDistribution
        With kinetics; its maximum over the geometric current is ``r``.
    pressure : CreepPressure
        From :func:`creep_pressure` on ``dist``; rescaled to 1 mA/cm2 as ``P1`` with the
        power law (``dp ~ i^(1/n)``).
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
    p1 = pressure.max_excess_pressure_mpa * (1.0 / dist.geometric_current_ma_cm2) ** (1 / n)

    def f(i):
        return r * i - i_g0 * (1 - p1 * i ** (1 / n) / p_c)

    lo, hi = 0.0, i_g0 / r
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if f(mid) > 0:
            hi = mid
        else:
            lo = mid
        if hi - lo <= 1e-12 * hi:
            break
    i_c = 0.5 * (lo + hi)
    return CriticalCurrent(i_c, i_c / i_g0, r, p1, dist.area_ratio)
