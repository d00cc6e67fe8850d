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

A flat interface plated uniformly has ``U = W = 0``: no flow and no excess pressure.  The
momentum balance (Stokes flow of the creeping, incompressible Li) is solved in the
small-slope limit on the Li half-space behind the interface, with the interface velocity
``(U, W)`` prescribed, per Fourier mode ``k`` of the periodic cell.  For a uniform viscosity
``eta`` the surface pressure is exactly

    ``p_k = eta (2 |k| W_k - 2 i k . U_k)``,   i.e.   ``p = eta (2 Lambda W - 2 div U)``

(``Lambda`` the Dirichlet-to-Neumann operator ``|k|``): converging lateral flow
(``div U < 0``, at the Li protrusions) and excess plating (``W > 0``) pressurise the Li.

The fields are evaluated on a fine spectral grid of the whole periodic cell (spacing a third
of the edge rounding of pyramids/frustums, S/128 for the egg-box; ``pressure_spacing_um``),
with the exact contour ``h`` (:mod:`.shapes`) and the local current interpolated from the
current solve (bicubic spline; the current with kinetics is smooth on the rounding scale).
The lateral term ``-2 eta div U`` is local and follows the curvature of the contour, so the
pressure at a rounded pyramid ridge scales as ``1 / tip_radius``; it converges once the
rounding is resolved, independently of the grid of the current solve.

Li creep law: diffusional plus power-law creep
----------------------------------------------
Li at room temperature is at a homologous temperature ``T / T_m = 298 / 454 = 0.66``.
Deformation-mechanism maps (Frost and Ashby, *Deformation-Mechanism Maps*, 1982) place
diffusional (Nabarro-Herring / Coble) creep, linear in stress, below ``sigma / G ~ 1e-4``
(``G_Li ~ 4 GPa``: sub-MPa stresses) at such homologous temperatures, and power-law
(dislocation) creep above.  Nanoindentation of vapour-deposited Li films (Herbert et al.,
"Nanoindentation of high-purity vapor deposited lithium films: a mechanistic rationalization
of diffusion-mediated flow", J. Mater. Res. 2018) found length-scale and strain-rate
dependent flow explained by Nabarro-Herring-type diffusional creep at small scales, with a
stress- and length-scale dependent transition to dislocation flow.  The uniaxial strain rate
is therefore taken as the sum of the two mechanisms,

    ``eps = A_NH D_Li Omega sigma / (k_B T d^2) + eps_ref (sigma / sigma_ref)^n``,

with

* ``A_NH = 14`` (Nabarro-Herring coefficient for tension, Frost and Ashby);
* ``D_Li = 5e-11 cm^2/s``, lattice self-diffusion of Li near 298 K (the order of the NMR and
  tracer values extrapolated to room temperature; an assumption, not checked against a
  table here);
* ``Omega = M_Li / (rho_Li N_A) = 2.16e-29 m^3``;
* ``d``: grain size, default ``DEFAULT_GRAIN_SIZE_UM`` = 2 um.  This is the main assumption
  of the low-stress regime: bulk Li foil has grains of 0.1-1 mm, but the Li that fills the
  contour and the freshly plated Li at the interface are fine-grained (the films of Herbert
  et al. are 5-18 um thick).  ``grain_size_um=None`` switches diffusional creep off (the pure
  power law, whose excess pressure vanishes only as ``H^(1/n)`` as ``H -> 0``);
* ``n = 6.56`` and one point of the power law, 0.8 MPa at 5e-4 1/s: constant-stress creep
  of Li at room temperature, Masias et al., J. Mater. Sci. 54, 2585 (2019),
  doi:10.1007/s10853-018-2971-3 (ref. 50 of 003_; n = 6.56); strain-rate and temperature
  dependent flow of bulk Li, LePage et al., J. Electrochem. Soc. 166, A89 (2019),
  doi:10.1149/2.0221902jes (ref. 49; power-law creep dominant over battery-relevant
  rates, sub-MPa flow stress near 5e-4 1/s).  The search tools available gave the
  abstracts of these papers, not their tables: the numbers are the commonly quoted values.

The combined law is inverted numerically (``brentq``) for the flow stress ``sigma_f(eps)``.
One secant viscosity ``eta = sigma_f(eps_c) / (3 eps_c)`` (von Mises) is evaluated at the
characteristic equivalent strain rate of the interfacial layer,

    ``eps_c^2 = (8/3) sum_k |k|^2 (|U_L,k|^2 + |U_T,k|^2 / 2 + |W_k|^2)``

(``U_L``, ``U_T`` the parts of ``U`` along and across ``k``; the parts weighted by their
viscous dissipation).  Consequences (checked in the tests):

* flat interface: ``p = 0``; ``H -> 0``: ``p -> 0`` linearly in ``H`` (diffusional regime,
  continuous with flat); for ``n = 1`` and uniform current,
  ``p_max = 2 eta V k^2 H`` (``k = 2 pi / S``), with ``eta = k_B T d^2 / (3 A_NH D Omega)``
  in the diffusional limit;
* large strain rates: the power law, ``p ~ i^(1/n)``;
* the lateral term scales as ``V H / S^2``: the pressure rises with H at fixed S and as S
  falls at fixed H (003_, Fig. 3c,f).

The single secant viscosity is a simplification: at a sharply rounded ridge the local strain
rate exceeds ``eps_c`` and a local viscosity would be lower, so the pressure there is an upper
estimate.

Reported pressures: ``max_excess_pressure_mpa`` is the highest magnitude of ``p - p_stack``
(the "max" of 003_ Fig. 3c,f), ``max_compressive_excess_pressure_mpa`` the largest
compressive value and ``site_excess_pressure_mpa`` the excess at the site of maximum local
current (the Li protrusion, where 003_ finds current and pressure maxima together, Fig. S3);
the last one enters the dendrite criterion.

Dendrite-growth criterion (after Ning et al., Nature 618, 287 (2023), ref. 37 of 003_)
-------------------------------------------------------------------------------------
A dendrite grows as a Li-filled crack at the site of maximum local current ``j = r i``.  The
Li plated inside the crack must creep out through the crack mouth; at the high strain rates
inside a crack this is power-law extrusion, raising the Li pressure in the crack above the
interfacial pressure by ``dp_crack = p_c (j / i_g0)^(1/n)``.  The crack extends when the
total ``dp + dp_crack`` reaches the fracture pressure ``p_c``:

    ``i_g(dp) = i_g0 (1 - dp / p_c)^n``    (``dp`` the compressive excess at the site, >= 0),

with ``i_g0`` the critical current of a flat interface and ``p_c`` from linear-elastic
fracture mechanics for a surface flaw of depth ``a``,

    ``p_c = K_Ic / (1.12 sqrt(pi a))``,

``K_Ic = 0.25 MPa m^0.5`` for Li6PS5Cl (sulfide electrolytes are quoted at 0.2-0.3 MPa m^0.5
from indentation; not checked against a table here) and ``a`` = ``DEFAULT_FLAW_DEPTH_UM``
(an assumption: the crack of Ning et al. at the moment of growth, tens of um).  Because
``dp`` is no longer a pure power of the current, the critical geometric current is solved
self-consistently, ``r i = i_g(dp(i))`` with the velocities scaling with ``i`` and the secant
viscosity taken at ``eps_c(i)`` (bracketed root on ``[0, i_g0 / r]``).  A flat interface
(``r = 1``, ``dp = 0``) gives exactly ``i_g0``.  As 003_ stresses (Fig. 4), the numbers are
trends, not absolute critical currents.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from scipy.interpolate import RectBivariateSpline
from scipy.optimize import brentq

from ssbscope.errors import ParameterError
from ssbscope.materials import FARADAY_C_MOL, M_LI_G_MOL, RHO_LI_G_CM3

from .current import CurrentDistribution, current_distribution

__all__ = [
    "DEFAULT_CRITICAL_PRESSURE_MPA",
    "DEFAULT_FLAW_DEPTH_UM",
    "DEFAULT_GRAIN_SIZE_UM",
    "LI6PS5CL_FRACTURE_TOUGHNESS_MPA_M05",
    "LI_CREEP_EXPONENT",
    "LI_CREEP_REFERENCE_STRAIN_RATE_1_S",
    "LI_CREEP_REFERENCE_STRESS_MPA",
    "LI_SELF_DIFFUSION_CM2_S",
    "CreepLaw",
    "CreepPressure",
    "CriticalCurrent",
    "creep_pressure",
    "critical_current",
    "critical_current_from",
    "critical_pressure_mpa",
    "halfspace_surface_stress",
    "characteristic_strain_rate",
    "li_flow_stress_mpa",
    "CoupledInterface",
    "monroe_newman_coupling",
    "STRESS_VARIANTS",
]

LI_CREEP_EXPONENT = 6.56
LI_CREEP_REFERENCE_STRESS_MPA = 0.8
LI_CREEP_REFERENCE_STRAIN_RATE_1_S = 5e-4
LI_SELF_DIFFUSION_CM2_S = 5e-11
NABARRO_HERRING_COEFFICIENT = 14.0
DEFAULT_GRAIN_SIZE_UM = 2.0
DEFAULT_TEMPERATURE_K = 298.15
LI6PS5CL_FRACTURE_TOUGHNESS_MPA_M05 = 0.25
DEFAULT_FLAW_DEPTH_UM = 10.0
_BOLTZMANN_J_K = 1.380649e-23
_AVOGADRO_1_MOL = 6.02214076e23
LI_ATOMIC_VOLUME_M3 = M_LI_G_MOL / RHO_LI_G_CM3 / _AVOGADRO_1_MOL * 1e-6


def _pos(name, v):
    try:
        fv = float(v)
    except (TypeError, ValueError):
        raise ParameterError(name, v, "must be a number") from None
    if not np.isfinite(fv) or fv <= 0:
        raise ParameterError(name, v, "must be finite and > 0")
    return fv


def critical_pressure_mpa(fracture_toughness_mpa_m05: float = LI6PS5CL_FRACTURE_TOUGHNESS_MPA_M05,
                          flaw_depth_um: float = DEFAULT_FLAW_DEPTH_UM) -> float:
    """Fracture pressure of a Li-filled surface flaw, ``p_c = K_Ic / (1.12 sqrt(pi a))``.

    Parameters
    ----------
    fracture_toughness_mpa_m05 : float
        ``K_Ic`` of the electrolyte in MPa m^0.5 (Li6PS5Cl default 0.25).
    flaw_depth_um : float
        Flaw (crack) depth ``a`` in um.

    Returns
    -------
    float
        ``p_c`` in MPa (edge-crack factor 1.12, uniform crack-face pressure).
    """
    k = _pos("fracture_toughness_mpa_m05", fracture_toughness_mpa_m05)
    a = _pos("flaw_depth_um", flaw_depth_um)
    return k / (1.12 * math.sqrt(math.pi * a * 1e-6))


DEFAULT_CRITICAL_PRESSURE_MPA = critical_pressure_mpa()


@dataclass(frozen=True)
class CreepLaw:
    """Steady-state creep of Li: Nabarro-Herring diffusional plus power-law creep.

    ``eps = A_NH D Omega sigma / (k_B T d^2) + eps_ref (sigma / sigma_ref)^n`` (uniaxial;
    module docstring for the values and sources).

    Attributes
    ----------
    stress_exponent : float
        ``n`` of the power law.
    reference_stress_mpa, reference_strain_rate_1_s : float
        One point of the power law.
    grain_size_um : float or None
        ``d``; None switches diffusional creep off.
    self_diffusion_cm2_s : float
        ``D_Li`` at ``temperature_k``.
    temperature_k : float
    nh_coefficient : float
        ``A_NH``.
    """

    stress_exponent: float = LI_CREEP_EXPONENT
    reference_stress_mpa: float = LI_CREEP_REFERENCE_STRESS_MPA
    reference_strain_rate_1_s: float = LI_CREEP_REFERENCE_STRAIN_RATE_1_S
    grain_size_um: float | None = DEFAULT_GRAIN_SIZE_UM
    self_diffusion_cm2_s: float = LI_SELF_DIFFUSION_CM2_S
    temperature_k: float = DEFAULT_TEMPERATURE_K
    nh_coefficient: float = NABARRO_HERRING_COEFFICIENT

    def __post_init__(self):
        for name in ("stress_exponent", "reference_stress_mpa", "reference_strain_rate_1_s",
                     "self_diffusion_cm2_s", "temperature_k", "nh_coefficient"):
            object.__setattr__(self, name, _pos(name, getattr(self, name)))
        if self.grain_size_um is not None:
            object.__setattr__(self, "grain_size_um", _pos("grain_size_um", self.grain_size_um))

    @property
    def diffusional_coefficient_1_mpa_s(self) -> float:
        """``A_NH D Omega / (k_B T d^2)`` in 1/(MPa s) (0 without diffusional creep)."""
        if self.grain_size_um is None:
            return 0.0
        d_m = self.grain_size_um * 1e-6
        a_pa = (self.nh_coefficient * self.self_diffusion_cm2_s * 1e-4 * LI_ATOMIC_VOLUME_M3
                / (_BOLTZMANN_J_K * self.temperature_k * d_m * d_m))
        return a_pa * 1e6

    @property
    def diffusional_viscosity_mpa_s(self) -> float:
        """Newtonian limit ``eta = 1 / (3 a)`` (MPa s; inf without diffusional creep)."""
        a = self.diffusional_coefficient_1_mpa_s
        return float("inf") if a == 0 else 1.0 / (3.0 * a)

    def strain_rate_1_s(self, stress_mpa):
        """Uniaxial strain rate (1/s) at ``stress_mpa`` (>= 0)."""
        s = np.asarray(stress_mpa, dtype=float)
        out = (self.diffusional_coefficient_1_mpa_s * s + self.reference_strain_rate_1_s
               * (s / self.reference_stress_mpa) ** self.stress_exponent)
        return float(out) if out.ndim == 0 else out

    def _power_stress(self, e):
        return self.reference_stress_mpa * (e / self.reference_strain_rate_1_s) ** (
            1.0 / self.stress_exponent)

    def flow_stress_mpa(self, strain_rate_1_s):
        """Flow stress ``sigma_f`` (MPa) solving ``strain_rate(sigma_f) = eps`` (brentq)."""
        e = np.asarray(strain_rate_1_s, dtype=float)
        if np.any(~np.isfinite(e)) or np.any(e < 0):
            raise ParameterError("strain_rate_1_s", strain_rate_1_s, "must be finite and >= 0")
        a = self.diffusional_coefficient_1_mpa_s
        out = np.empty(e.shape)
        for idx, ev in np.ndenumerate(e):
            if ev == 0:
                out[idx] = 0.0
                continue
            hi = self._power_stress(ev) if a == 0 else min(ev / a, self._power_stress(ev))
            if a == 0:
                out[idx] = hi
                continue
            hi *= 1.0 + 1e-9  # strain_rate(ev / a) = ev only up to round-off
            lo = 0.5 * hi  # strain_rate(lo) <= ev (1/2 + 2^-n) < ev <= strain_rate(hi)
            out[idx] = brentq(lambda s, e_t=ev: self.strain_rate_1_s(s) / e_t - 1.0, lo, hi,
                              xtol=1e-14 * hi, rtol=1e-13)
        return float(out) if out.ndim == 0 else out

    def secant_viscosity_mpa_s(self, strain_rate_1_s: float) -> float:
        """``sigma_f(eps) / (3 eps)`` in MPa s (the Newtonian limit at ``eps = 0``)."""
        e = float(strain_rate_1_s)
        if e == 0:
            return self.diffusional_viscosity_mpa_s
        return self.flow_stress_mpa(e) / (3.0 * e)


def li_flow_stress_mpa(strain_rate_1_s, *, stress_exponent: float = LI_CREEP_EXPONENT,
                       reference_stress_mpa: float = LI_CREEP_REFERENCE_STRESS_MPA,
                       reference_strain_rate_1_s: float = LI_CREEP_REFERENCE_STRAIN_RATE_1_S,
                       grain_size_um: float | None = None, **law_kw):
    """Steady-state uniaxial flow stress of Li (MPa).

    Pure power law ``sigma_ref (e / eps_ref)^(1/n)`` by default; with ``grain_size_um`` the
    combined diffusional + power-law :class:`CreepLaw` inverted numerically.

    Parameters
    ----------
    strain_rate_1_s : float or ndarray
        Equivalent strain rate (1/s), >= 0.
    stress_exponent, reference_stress_mpa, reference_strain_rate_1_s : float
        Power-law creep parameters (module docstring for the Li defaults and references).
    grain_size_um : float, optional
        Grain size for Nabarro-Herring creep; further :class:`CreepLaw` fields as keywords.

    Returns
    -------
    float or ndarray
        Flow stress in MPa.
    """
    law = CreepLaw(stress_exponent, reference_stress_mpa, reference_strain_rate_1_s,
                   grain_size_um, **law_kw)
    return law.flow_stress_mpa(strain_rate_1_s)


@dataclass(frozen=True)
class CreepPressure:
    """Excess interfacial pressure from creeping plated Li.

    Attributes
    ----------
    x_um, y_um : (m,) ndarray
        Full-cell grid of the pressure evaluation (periodic, spacing ``S / m``).
    excess_pressure_mpa : (m, m) ndarray
        Interfacial pressure minus the stack pressure (zero mean), index ``[ix, iy]``.
    max_excess_pressure_mpa : float
        Highest magnitude ``max |p - p_stack|`` (003_ Fig. 3c,f: "the highest magnitude").
    max_compressive_excess_pressure_mpa : float
        Largest compressive excess ``max (p - p_stack)``.
    site_excess_pressure_mpa : float
        Excess at the site of maximum local current (the Li protrusion; dendrite site).
    site_xy_um : tuple
        Coordinates of that site in the full cell.
    plating_rate_um_s : float
        Mean advance ``V = <q>`` of the interface (Li moved away from the electrolyte).
    strain_rate_1_s : float
        Characteristic equivalent strain rate ``eps_c`` of the creeping layer.
    viscosity_mpa_s : float
        Secant viscosity ``sigma_f(eps_c) / (3 eps_c)``.
    geometric_current_ma_cm2 : float
        Current of the underlying distribution.
    law : CreepLaw
        Creep law used.
    lateral_velocity_um_s : (2, m, m) ndarray
        Lateral interface velocity ``U`` (x, y components).
    stress : {"normal", "mean"}
        The stress reported as pressure: normal traction on the electrolyte or Li mean stress.
    normal_velocity_um_s : (m, m) ndarray
        Vertical interface velocity relative to the mean advance, ``-W`` (z up, out of the
        Li; negative where more Li than average is plated).
    """

    x_um: np.ndarray = field(repr=False)
    y_um: np.ndarray = field(repr=False)
    excess_pressure_mpa: np.ndarray = field(repr=False)
    max_excess_pressure_mpa: float = 0.0
    max_compressive_excess_pressure_mpa: float = 0.0
    site_excess_pressure_mpa: float = 0.0
    site_xy_um: tuple = (0.0, 0.0)
    plating_rate_um_s: float = 0.0
    strain_rate_1_s: float = 0.0
    viscosity_mpa_s: float = float("inf")
    geometric_current_ma_cm2: float = 1.0
    law: CreepLaw = field(default_factory=CreepLaw, repr=False)
    lateral_velocity_um_s: np.ndarray = field(default=None, repr=False)
    stress: str = "normal"
    normal_velocity_um_s: np.ndarray = field(default=None, repr=False)

    def scale_factor(self, current_ma_cm2: float) -> float:
        """Factor turning pressures at this current into pressures at ``current_ma_cm2``.

        Velocities scale with the current (linear kinetics), so the unit-viscosity pressure
        and the strain rate scale with ``s = i / i_0``; the secant viscosity is taken again
        at ``eps_c s``: the factor is ``s eta(eps_c s) / eta(eps_c)``.
        """
        i = float(current_ma_cm2)
        if i == 0.0 or not self.strain_rate_1_s > 0:
            return 0.0
        s = i / self.geometric_current_ma_cm2
        return s * self.law.secant_viscosity_mpa_s(self.strain_rate_1_s * s) / self.viscosity_mpa_s

    def site_pressure_at(self, current_ma_cm2: float) -> float:
        """Site excess pressure (MPa) at another geometric current (:meth:`scale_factor`)."""
        if self.site_excess_pressure_mpa == 0.0:
            return 0.0
        return self.site_excess_pressure_mpa * self.scale_factor(current_ma_cm2)


_MA_CM2_TO_UM_S = 1e-3 * (M_LI_G_MOL / RHO_LI_G_CM3) / FARADAY_C_MOL * 1e4


def _fine_size(dist: CurrentDistribution, pressure_spacing_um):
    n = dist.x_um.size - 1
    S = dist.separation_um
    if pressure_spacing_um is None:
        if dist.shape in ("pyramid", "frustum"):
            spacing = dist.tip_radius_um / 3.0
        else:
            spacing = S / 128.0
    else:
        spacing = _pos("pressure_spacing_um", pressure_spacing_um)
    m = max(2 * n, math.ceil(S / spacing))
    m = 2 * n * math.ceil(m / (2 * n))  # current nodes are pressure nodes
    if m > 4096:
        raise ParameterError("pressure_spacing_um", pressure_spacing_um,
                             f"gives {m} points per cell side (> 4096) for S = {S:g} um",
                             "use a coarser spacing or a larger tip_radius_um")
    return m


STRESS_VARIANTS = ("normal", "mean")


def characteristic_strain_rate(lateral_velocity_um_s, excess_velocity_um_s, spacing_um) -> float:
    """Characteristic equivalent strain rate ``eps_c`` of the creeping layer (1/s).

    ``eps_c^2 = (8/3) sum_k |k|^2 (|U_L,k|^2 + |U_T,k|^2 / 2 + |W_k|^2)`` over the Fourier
    modes of a periodic surface field (module docstring): ``lateral_velocity_um_s`` (2, mx, my)
    along the two axes, ``excess_velocity_um_s`` (mx, my) the plating rate minus its mean,
    ``spacing_um`` a float or the two spacings.
    """
    u = np.asarray(lateral_velocity_um_s, float)
    w = np.asarray(excess_velocity_um_s, float)
    d0, d1 = (spacing_um, spacing_um) if np.ndim(spacing_um) == 0 else spacing_um
    m0, m1 = w.shape
    k0 = 2 * np.pi * np.fft.fftfreq(m0, d=float(d0))
    k1 = 2 * np.pi * np.fft.fftfreq(m1, d=float(d1))
    K0, K1 = np.meshgrid(k0, k1, indexing="ij")
    kmag = np.hypot(K0, K1)
    N = m0 * m1
    U0, U1, W = np.fft.fft2(u[0]) / N, np.fft.fft2(u[1]) / N, np.fft.fft2(w) / N
    U0[0, 0] = U1[0, 0] = W[0, 0] = 0.0
    kdotU = K0 * U0 + K1 * U1
    U2 = np.abs(U0) ** 2 + np.abs(U1) ** 2
    rate2 = (8.0 / 3.0) * np.sum(0.5 * np.abs(kdotU) ** 2 + 0.5 * kmag ** 2 * U2
                                 + kmag ** 2 * np.abs(W) ** 2)
    return float(np.sqrt(rate2))


def halfspace_surface_stress(lateral_velocity_um_s, normal_velocity_um_s, spacing_um,
                             viscosity_mpa_s: float, *, stress: str = "normal") -> np.ndarray:
    """Compressive surface stress of Stokes flow in a half-space with a prescribed surface velocity.

    The Li fills ``z < 0`` behind the interface (small-slope limit), creeps as an
    incompressible Newtonian fluid of viscosity ``eta`` and moves with the periodic surface
    velocity ``(U, w)`` at ``z = 0``; the flow decays into the Li.  Per Fourier mode ``k`` of
    the surface field (``W = -w`` the excess velocity away from the electrolyte), the
    decaying Stokes solution gives

    * the Li mean stress ``p_k = eta (2 |k| W_k - 2 i k . U_k)`` and
    * the normal traction on the electrolyte
      ``-sigma_zz,k = p_k - 2 eta (d w / d z)_k = 2 eta |k| W_k``, since incompressibility
      makes ``d w / d z = -div U`` at the surface: the lateral convergence of the plated Li
      raises the mean stress but cancels in the normal traction.

    Parameters
    ----------
    lateral_velocity_um_s : (2, mx, my) ndarray
        Surface velocity components along x and y (um/s) on a periodic grid, index ``[ix, iy]``.
    normal_velocity_um_s : (mx, my) ndarray
        Surface velocity along z (um/s; z points out of the Li into the electrolyte).
    spacing_um : float or (float, float)
        Grid spacing along x and y.
    viscosity_mpa_s : float
        Li viscosity ``eta`` (MPa s).
    stress : {"normal", "mean"}
        ``"normal"``: ``-sigma_zz``; ``"mean"``: the pressure ``p``.

    Returns
    -------
    (mx, my) ndarray
        Compressive stress (MPa) with zero mean: the excess over the stack pressure.
    """
    if stress not in STRESS_VARIANTS:
        raise ParameterError("stress", stress, f"must be one of {', '.join(STRESS_VARIANTS)}")
    u = np.asarray(lateral_velocity_um_s, float)
    w = np.asarray(normal_velocity_um_s, float)
    if u.ndim != 3 or u.shape[0] != 2 or u.shape[1:] != w.shape:
        raise ParameterError("lateral_velocity_um_s", u.shape,
                             f"must have shape (2,) + {w.shape} (the normal velocity's shape)")
    dx, dy = (spacing_um, spacing_um) if np.ndim(spacing_um) == 0 else spacing_um
    mx, my = w.shape
    kx = 2 * np.pi * np.fft.fftfreq(mx, d=float(dx))
    ky = 2 * np.pi * np.fft.fftfreq(my, d=float(dy))
    KX, KY = np.meshgrid(kx, ky, indexing="ij")
    kmag = np.hypot(KX, KY)
    W = -np.fft.fft2(w)
    p_hat = 2.0 * kmag * W
    if stress == "mean":
        p_hat = p_hat - 2j * (KX * np.fft.fft2(u[0]) + KY * np.fft.fft2(u[1]))
    p_hat[0, 0] = 0.0
    return float(viscosity_mpa_s) * np.real(np.fft.ifft2(p_hat))


def creep_pressure(dist: CurrentDistribution, *, law: CreepLaw | None = None,
                   stress_exponent: float = LI_CREEP_EXPONENT,
                   reference_stress_mpa: float = LI_CREEP_REFERENCE_STRESS_MPA,
                   reference_strain_rate_1_s: float = LI_CREEP_REFERENCE_STRAIN_RATE_1_S,
                   grain_size_um: float | None = DEFAULT_GRAIN_SIZE_UM,
                   self_diffusion_cm2_s: float = LI_SELF_DIFFUSION_CM2_S,
                   temperature_k: float = DEFAULT_TEMPERATURE_K,
                   pressure_spacing_um: float | None = None,
                   stress: str = "normal") -> CreepPressure:
    """Excess interfacial pressure needed to creep the non-uniformly plated Li away.

    Small-slope Stokes flow of creeping Li (diffusional + power-law creep, one secant
    viscosity) behind the interface, driven by the lateral velocity of Li plated normal to
    the contour and by non-uniform plating (module docstring; 003_103f2bf5a3479ade
    Fig. 3c,f,g).

    Parameters
    ----------
    dist : CurrentDistribution
        Current distribution (with kinetics, as in 003_103f2bf5a3479ade Fig. 3c,f).
    law : CreepLaw, optional
        Creep law; when given, the scalar creep keywords are ignored.
    stress_exponent : float
        Power-law creep exponent ``n`` (Li: 6.56, Masias et al. 2019).
    reference_stress_mpa, reference_strain_rate_1_s : float
        One point of the uniaxial power law (Li: 0.8 MPa at 5e-4 1/s).
    grain_size_um : float or None
        Grain size of Nabarro-Herring creep (default 2 um; None: pure power law).
    self_diffusion_cm2_s, temperature_k : float
        Li self-diffusion coefficient and temperature.
    pressure_spacing_um : float, optional
        Spacing of the pressure grid (default: a third of the edge rounding for
        pyramids/frustums, S/128 for the egg-box).
    stress : {"normal", "mean"}
        Which stress is the "pressure": ``"normal"`` (default) the compressive normal
        traction that the creeping Li exerts on the electrolyte, ``-sigma_zz = 2 eta Lambda W``
        (:func:`halfspace_surface_stress`); ``"mean"`` the Li mean stress (pressure)
        ``p = eta (2 Lambda W - 2 div U)`` at the interface, which also carries the lateral
        convergence of the plated Li (the model of earlier ssbscope versions).

    Returns
    -------
    CreepPressure
        The excess pressure field at the interface, its maxima and the dendrite-site value;
        ``stress`` names the variant.

    Raises
    ------
    ParameterError
        Non-finite or non-positive creep parameters or grain size; too fine a spacing.
    """
    if stress not in STRESS_VARIANTS:
        raise ParameterError("stress", stress, f"must be one of {', '.join(STRESS_VARIANTS)}")
    if law is None:
        law = CreepLaw(stress_exponent, reference_stress_mpa, reference_strain_rate_1_s,
                       grain_size_um, self_diffusion_cm2_s, temperature_k)
    elif not isinstance(law, CreepLaw):
        raise ParameterError("law", law, "must be a CreepLaw")
    i0 = dist.geometric_current_ma_cm2
    mean_q = i0 * _MA_CM2_TO_UM_S
    if dist.shape == "flat":
        m = 2 * (dist.x_um.size - 1)
        x = np.arange(m) * float(dist.x_um[1] - dist.x_um[0])
        eta0 = law.diffusional_viscosity_mpa_s
        return CreepPressure(x, x.copy(), np.zeros((m, m)), 0.0, 0.0, 0.0, (0.0, 0.0), mean_q,
                             0.0, eta0, i0, law, np.zeros((2, m, m)), stress=stress,
                             normal_velocity_um_s=np.zeros((m, m)))
    S = dist.separation_um
    n = dist.x_um.size - 1
    m = _fine_size(dist, pressure_spacing_um)
    dx = S / m
    x = np.arange(m) * dx
    xq = np.minimum(x, S - x)  # quarter-cell (mirror) coordinate
    spline = RectBivariateSpline(dist.x_um, dist.y_um, dist.local_current_ma_cm2, kx=3, ky=3)
    xu, inv = np.unique(xq, return_inverse=True)
    v_q = spline(xu, xu)
    v_n = v_q[np.ix_(inv, inv)] * _MA_CM2_TO_UM_S  # um/s along the normal, per true area
    h_fun = dist.height_function()
    X, Y = np.meshgrid(x, x, indexing="ij")
    e = 1e-3 * min(dx, dist.tip_radius_um)
    hx = (h_fun(X + e, Y) - h_fun(X - e, Y)) / (2 * e)
    hy = (h_fun(X, Y + e) - h_fun(X, Y - e)) / (2 * e)
    norm = np.sqrt(1.0 + hx ** 2 + hy ** 2)
    ux, uy = v_n * hx / norm, v_n * hy / norm
    q = v_n * norm
    w = q - q.mean()
    eps_c = characteristic_strain_rate(np.stack([ux, uy]), w, dx)
    if not eps_c > 0:
        return CreepPressure(x, x.copy(), np.zeros((m, m)), 0.0, 0.0, 0.0, (0.0, 0.0),
                             mean_q, 0.0, law.diffusional_viscosity_mpa_s, i0, law,
                             np.stack([ux, uy]), stress=stress, normal_velocity_um_s=-w)
    eta = law.secant_viscosity_mpa_s(eps_c)  # MPa s
    p = halfspace_surface_stress(np.stack([ux, uy]), -w, dx, eta, stress=stress)
    # dendrite site: node of maximum local current of the current solve
    ia, ib = np.unravel_index(np.argmax(dist.local_current_ma_cm2),
                              dist.local_current_ma_cm2.shape)
    fa, fb = ia * (m // (2 * n)), ib * (m // (2 * n))
    return CreepPressure(x, x.copy(), p, float(np.abs(p).max()), float(p.max()),
                         float(p[fa, fb]), (float(x[fa]), float(x[fb])), mean_q, eps_c,
                         float(eta), i0, law, np.stack([ux, uy]), stress=stress,
                         normal_velocity_um_s=-w)


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
        Highest-magnitude excess pressure at 1 mA/cm2.
    site_excess_pressure_mpa_at_1 : float
        Compressive excess at the dendrite site at 1 mA/cm2 (criterion input).
    site_excess_pressure_mpa_at_critical : float
        The same at the critical current.
    critical_pressure_mpa : float
        ``p_c`` used.
    area_ratio : float
    stack_pressure_mpa : float
        ``p_s`` of the criterion.
    effective_critical_pressure_mpa : float
        The margin ``p_c - p_s (1 - kappa)`` left to the creep pressure.
    stress : str
        Interface stress of the pressure (``"normal"`` traction or ``"mean"`` stress).
    """

    critical_current_ma_cm2: float
    gain_over_flat: float
    max_over_geometric: float
    max_excess_pressure_mpa_at_1: float
    area_ratio: float
    site_excess_pressure_mpa_at_1: float = 0.0
    site_excess_pressure_mpa_at_critical: float = 0.0
    critical_pressure_mpa: float = DEFAULT_CRITICAL_PRESSURE_MPA
    stack_pressure_mpa: float = 0.0
    effective_critical_pressure_mpa: float = DEFAULT_CRITICAL_PRESSURE_MPA
    stress: str = "normal"


def _resolve_pc(critical_pressure_mpa_, fracture_toughness_mpa_m05, flaw_depth_um):
    pc = critical_pressure_mpa(fracture_toughness_mpa_m05, flaw_depth_um)
    if critical_pressure_mpa_ is not None:
        pc = _pos("critical_pressure_mpa", critical_pressure_mpa_)
    return pc


def critical_current(shape: str, height_um: float, separation_um: float, *,
                     r_ct_ohm_cm2: float, conductivity_s_cm: float, thickness_um: float,
                     flat_critical_current_ma_cm2: float = 1.0,
                     critical_pressure_mpa: float | None = None,
                     fracture_toughness_mpa_m05: float = LI6PS5CL_FRACTURE_TOUGHNESS_MPA_M05,
                     flaw_depth_um: float = DEFAULT_FLAW_DEPTH_UM,
                     n_xy: int = 16, tip_radius_um: float | None = None,
                     stack_pressure_mpa: float = 0.0, lateral_stress_ratio: float = 0.0,
                     **creep_kw) -> CriticalCurrent:
    """Critical geometric current for dendrites from local current and creep pressure.

    Solves ``r i = i_g0 (1 - dp(i) / p_c)^n`` (module docstring; criterion after Ning et al.
    2023, ref. 37 of 003_103f2bf5a3479ade, used for its Fig. 4), with ``r`` from
    :func:`current_distribution` (with kinetics) and ``dp(i)`` the compressive excess at the
    site of maximum current from :func:`creep_pressure`.

    Parameters
    ----------
    shape, height_um, separation_um, r_ct_ohm_cm2, conductivity_s_cm, thickness_um
        As in :func:`current_distribution`.
    flat_critical_current_ma_cm2 : float
        ``i_g0``, the critical current of a flat interface.
    critical_pressure_mpa : float, optional
        Override of ``p_c``; by default ``K_Ic / (1.12 sqrt(pi a))``.
    fracture_toughness_mpa_m05, flaw_depth_um : float
        ``K_Ic`` (MPa m^0.5) and flaw depth ``a`` (um) of ``p_c``.
    n_xy : int
        Grid of the current solve.
    tip_radius_um : float, optional
        Edge rounding of pyramids/frustums (default of :func:`current_distribution`).
    stack_pressure_mpa, lateral_stress_ratio : float
        Stack pressure and the electrolyte's lateral stress ratio (:func:`critical_current_from`).
    **creep_kw
        Creep parameters of :func:`creep_pressure` (including ``stress``).

    Returns
    -------
    CriticalCurrent
    """
    i_g0 = _pos("flat_critical_current_ma_cm2", flat_critical_current_ma_cm2)
    p_c = _resolve_pc(critical_pressure_mpa, fracture_toughness_mpa_m05, flaw_depth_um)
    _pos("r_ct_ohm_cm2", r_ct_ohm_cm2)
    extra = {} if tip_radius_um is None else {"tip_radius_um": tip_radius_um}
    dist = current_distribution(shape, height_um, separation_um, r_ct_ohm_cm2=r_ct_ohm_cm2,
                                conductivity_s_cm=conductivity_s_cm, thickness_um=thickness_um,
                                geometric_current_ma_cm2=1.0, n_xy=n_xy, n_zeta=n_xy, **extra)
    pr = creep_pressure(dist, **creep_kw)
    return critical_current_from(dist, pr, flat_critical_current_ma_cm2=i_g0,
                                 critical_pressure_mpa=p_c, stack_pressure_mpa=stack_pressure_mpa,
                                 lateral_stress_ratio=lateral_stress_ratio)


def critical_current_from(dist: CurrentDistribution, pressure: CreepPressure, *,
                          flat_critical_current_ma_cm2: float = 1.0,
                          critical_pressure_mpa: float | None = None,
                          fracture_toughness_mpa_m05: float = LI6PS5CL_FRACTURE_TOUGHNESS_MPA_M05,
                          flaw_depth_um: float = DEFAULT_FLAW_DEPTH_UM,
                          stress_exponent: float | None = None,
                          stack_pressure_mpa: float = 0.0,
                          lateral_stress_ratio: float = 0.0) -> CriticalCurrent:
    """The dendrite criterion of :func:`critical_current` on solved fields.

    Parameters
    ----------
    dist : CurrentDistribution
        With kinetics; its maximum over the geometric current is ``r``.
    pressure : CreepPressure
        From :func:`creep_pressure` on ``dist``; its site pressure is rescaled to any current
        with :meth:`CreepPressure.site_pressure_at`.
    flat_critical_current_ma_cm2 : float
        ``i_g0``.
    critical_pressure_mpa : float, optional
        Override of ``p_c = K_Ic / (1.12 sqrt(pi a))``.
    fracture_toughness_mpa_m05, flaw_depth_um : float
        ``K_Ic`` and ``a`` of ``p_c``.
    stress_exponent : float, optional
        Exponent of the crack-extrusion law (default: that of the creep law).
    stack_pressure_mpa : float
        Stack pressure ``p_s`` on the cell (003_: 7 MPa).  The Li, in the crack as at the
        interface, carries it, while the electrolyte around a crack normal to the interface is
        held closed only by its lateral stress ``kappa p_s``; the crack therefore opens at
        ``p_s (1 - kappa) + dp + dp_crack = p_c``.  With ``i_g0`` the flat-interface critical
        current measured at the same stack pressure the criterion becomes
        ``r i = i_g0 (1 - dp / (p_c - p_s (1 - kappa)))^n``: the stack pressure narrows the
        margin that the creep pressure uses up.
    lateral_stress_ratio : float
        ``kappa`` in [0, 1]: 0 for a pellet free to expand sideways (default), about
        ``nu / (1 - nu)`` (0.4 for ``nu = 0.3``) for a pellet held in a rigid die, 1 for a
        hydrostatic stack (the stack pressure then drops out).

    Returns
    -------
    CriticalCurrent

    Raises
    ------
    ParameterError
        Non-finite or non-positive ``i_g0``, ``p_c``, ``K_Ic``, ``a`` or exponent; a negative
        stack pressure, ``kappa`` outside [0, 1] or a stack pressure that alone opens the crack.
    """
    i_g0 = _pos("flat_critical_current_ma_cm2", flat_critical_current_ma_cm2)
    p_c = _resolve_pc(critical_pressure_mpa, fracture_toughness_mpa_m05, flaw_depth_um)
    n = pressure.law.stress_exponent if stress_exponent is None else _pos(
        "stress_exponent", stress_exponent)
    p_s = float(stack_pressure_mpa)
    kappa = float(lateral_stress_ratio)
    if not (math.isfinite(p_s) and p_s >= 0):
        raise ParameterError("stack_pressure_mpa", stack_pressure_mpa, "must be finite and >= 0")
    if not (0.0 <= kappa <= 1.0):
        raise ParameterError("lateral_stress_ratio", lateral_stress_ratio, "must be in [0, 1]")
    p_margin = p_c - p_s * (1.0 - kappa)
    if not p_margin > 0:
        raise ParameterError("stack_pressure_mpa", stack_pressure_mpa,
                             f"opens a crack by itself (p_s (1 - kappa) >= p_c = {p_c:.3g} MPa)",
                             "check the stack pressure, the flaw depth and the toughness")
    # a flat interface carries exactly the geometric current everywhere (r = 1)
    r = 1.0 if dist.shape == "flat" else dist.max_over_geometric

    def dp(i):
        return max(pressure.site_pressure_at(i), 0.0)

    def f(i):
        return r * i - i_g0 * max(1.0 - dp(i) / p_margin, 0.0) ** n

    i_hi = i_g0 / r
    if f(i_hi) <= 0.0:  # no compressive excess at the site
        i_c = i_hi
    else:
        i_c = brentq(f, 0.0, i_hi, xtol=1e-12 * i_hi, rtol=1e-12)
    return CriticalCurrent(float(i_c), float(i_c / i_g0), float(r),
                           float(pressure.max_excess_pressure_mpa * pressure.scale_factor(1.0)),
                           dist.area_ratio, float(pressure.site_pressure_at(1.0)),
                           float(dp(i_c)), float(p_c), p_s, float(p_margin),
                           getattr(pressure, "stress", "mean"))


@dataclass(frozen=True)
class CoupledInterface:
    """Current and creep pressure solved together (:func:`monroe_newman_coupling`).

    Attributes
    ----------
    distribution : CurrentDistribution
        Current with the pressure shift of the Li equilibrium potential.
    pressure : CreepPressure
        Creep pressure of that current.
    uncoupled : CurrentDistribution
        The current without the shift (the first iterate).
    potential_shift_v : (n + 1, n + 1) ndarray
        ``Omega_Li dp / F`` at the quarter-cell nodes of the last iterate (V).
    max_current_change : float
        ``max |j_coupled - j_uncoupled| / max j_uncoupled``.
    site_pressure_change : float
        Relative change of the site excess pressure.
    iterations : int
    converged : bool
    """

    distribution: CurrentDistribution
    pressure: CreepPressure
    uncoupled: CurrentDistribution
    potential_shift_v: np.ndarray = field(repr=False)
    max_current_change: float = 0.0
    site_pressure_change: float = 0.0
    iterations: int = 0
    converged: bool = True


_LI_MOLAR_VOLUME_M3_MOL = M_LI_G_MOL / RHO_LI_G_CM3 * 1e-6


def _quarter_nodes(pr: CreepPressure, n: int) -> np.ndarray:
    m = pr.excess_pressure_mpa.shape[0]
    step = m // (2 * n)
    idx = np.arange(n + 1) * step
    return pr.excess_pressure_mpa[np.ix_(idx, idx)]


def monroe_newman_coupling(shape: str, height_um: float, separation_um: float, *,
                           r_ct_ohm_cm2: float, conductivity_s_cm: float, thickness_um: float,
                           geometric_current_ma_cm2: float = 1.0, n_xy: int = 12,
                           law: CreepLaw | None = None, stress: str = "mean",
                           rtol: float = 1e-6, max_iter: int = 30, relaxation: float = 0.5,
                           **current_kw) -> CoupledInterface:
    """Couple the interfacial pressure to the deposition kinetics by iteration.

    Monroe and Newman (J. Electrochem. Soc. 151, A880 (2004); ref. 41 of Zhang et al. 2024,
    doi:10.1039/d3ee03322h) showed that stress at a deforming Li interface shifts the
    electrochemical potential of the deposited metal.  In the linearised kinetics of
    :func:`.current.current_distribution` a local excess pressure ``dp`` of the Li raises the
    overpotential that plating needs by ``Omega_Li dp / F`` (``Omega_Li = M_Li / rho_Li``,
    13.0 cm3/mol): ``j = (eta - Omega_Li dp / F) / R_ct``.  The current is solved with that
    shift, the creep pressure of the new current (:func:`creep_pressure`) gives the next
    shift, until the local current changes by less than ``rtol`` of its maximum.  Zhang et al.
    found the kinetic current changed by less than 1 % (their Fig. S2), so they kept R_ct
    independent of pressure; the returned ``max_current_change`` is that check here.

    Parameters
    ----------
    shape, height_um, separation_um, r_ct_ohm_cm2, conductivity_s_cm, thickness_um
        As in :func:`.current.current_distribution` (kinetics required).
    geometric_current_ma_cm2 : float
        Current of the coupled solve (the pressure is not linear in it).
    n_xy : int
        Grid of the current solve (and of the potential shift).
    law : CreepLaw, optional
        Li creep law (default :class:`CreepLaw`).
    stress : {"mean", "normal"}
        Stress that shifts the Li potential: the Li mean stress (pressure) by default, the
        thermodynamic driving force of Monroe and Newman's hydrostatic term; ``"normal"`` the
        normal traction.
    rtol : float
        Stop when the local current changes by less than ``rtol`` of its maximum.
    max_iter : int
        Iteration cap (``converged`` is False when reached).
    relaxation : float
        Under-relaxation of the potential shift between iterates (0 < w <= 1; 1: plain
        fixed-point iteration, which oscillates when the pressure is large).
    **current_kw
        Other arguments of :func:`.current.current_distribution` (``n_zeta``, ``tip_radius_um``...).

    Returns
    -------
    CoupledInterface
    """
    _pos("r_ct_ohm_cm2", r_ct_ohm_cm2)
    if not 0.0 < relaxation <= 1.0:
        raise ParameterError("relaxation", relaxation, "must be in (0, 1]")
    law = CreepLaw() if law is None else law
    kw = dict(r_ct_ohm_cm2=r_ct_ohm_cm2, conductivity_s_cm=conductivity_s_cm,
              thickness_um=thickness_um, geometric_current_ma_cm2=geometric_current_ma_cm2,
              n_xy=int(n_xy), n_zeta=int(current_kw.pop("n_zeta", n_xy)), **current_kw)
    d0 = current_distribution(shape, height_um, separation_um, **kw)
    p0 = creep_pressure(d0, law=law, stress=stress)
    d, p = d0, p0
    shift = np.zeros((int(n_xy) + 1, int(n_xy) + 1))
    it, converged = 0, shape == "flat"
    while not converged and it < int(max_iter):
        new = _LI_MOLAR_VOLUME_M3_MOL * _quarter_nodes(p, int(n_xy)) * 1e6 / FARADAY_C_MOL
        shift = new if it == 0 else (1.0 - relaxation) * shift + relaxation * new
        dn = current_distribution(shape, height_um, separation_um, surface_offset_v=shift, **kw)
        change = float(np.abs(dn.local_current_ma_cm2 - d.local_current_ma_cm2).max()
                       / np.abs(d.local_current_ma_cm2).max())
        d, p = dn, creep_pressure(dn, law=law, stress=stress)
        it += 1
        converged = change < rtol
    jc = float(np.abs(d.local_current_ma_cm2 - d0.local_current_ma_cm2).max()
               / np.abs(d0.local_current_ma_cm2).max())
    sp0 = p0.site_excess_pressure_mpa
    spc = abs(p.site_excess_pressure_mpa - sp0) / abs(sp0) if sp0 else 0.0
    return CoupledInterface(d, p, d0, shift, jc, float(spc), it, bool(converged))
