"""Li creeping into the gap beside the pellet while it plates (Cao et al. 2023, Fig. 6).

Cao et al. 2023 (doi:10.1002/adfm.202307998) explain the Li accumulation at the cell edge
(band P4 of their neutron space-time maps, region II) by Li creeping from the anode foil
into the gap that densification leaves between the stainless-steel rod and the bulged PTFE
tube, driven by the stack pressure and by the volume the plating adds inside a stack that
the fixed framework constrains; the pressure inside the cell rises slowly during the charge
(their Fig. 6F).  Their finite-element model (viscoelastic-plastic Li, the three loading
steps) is not reproducible from the text (its parameters are in a supplement we do not
have).  This module is a reduced, axisymmetric model of the same mechanism whose every
assumption is stated:

* the Li foil (radius ``R``, thickness ``t``) lies between two rigid, no-slip faces (the rod
  and the pellet); Li plated at the pellet face adds volume at ``v_p = i Omega_Li / F`` per
  unit area;
* the framework is a linear spring: the mean Li pressure is ``p = p_s + k_s dh`` with ``dh``
  the change of the stack height (foil thickness) since assembly, ``p_s`` the stack pressure
  and ``k_s`` the framework stiffness (MPa per um);
* Li leaves the foil only radially into the annular gap (radial width ``g``), whose front
  is at zero pressure (empty space); inside the foil and inside the gap the Li creeps as a
  power-law fluid (uniaxial ``eps = eps_ref (sigma / sigma_ref)^n``, shear
  ``gamma = A tau^n`` with ``A = sqrt(3) eps_ref (sqrt(3) / sigma_ref)^n`` by von Mises):
  lubrication (squeeze) flow between the faces and plane-Poiseuille flow along the gap over
  the filled length ``l``;
* conservation: ``d(dh)/dt = v_p - s``, ``dV_gap/dt = pi R^2 s``, with ``s`` the outflow
  per unit foil area, from ``p = s^(1/n) B(l)``.

Power-law squeeze flow of a disc with a uniform volume source (``q(r) = r s / 2`` per unit
circumference, half-gap ``b = t / 2``, ``q = 2 A G^n b^(n+2) / (n + 2)`` for the pressure
gradient ``G``) gives

    ``p(r) = c s^(1/n) (R^(1+1/n) - r^(1+1/n)) / (1 + 1/n)``,
    ``c = ((n + 2) / (4 A b^(n+2)))^(1/n)``,  mean ``c s^(1/n) R^(1+1/n) / (3 + 1/n)``,

(for ``n = 1``, ``A = 1 / mu``: Stefan's squeeze film ``p = 3 mu s (R^2 - r^2) / t^3``), and
the gap adds ``l ((n + 2) R s / (4 A (g/2)^(n+2)))^(1/n)``, so
``B(l) = c R^(1+1/n) / (3 + 1/n) + l ((n + 2) R / (4 A (g/2)^(n+2)))^(1/n)``.
The mean pressure drives the outflow; the foil's own elastic compliance is neglected next to
the framework's.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from ssbscope.errors import ParameterError
from ssbscope.materials import FARADAY_C_MOL, M_LI_G_MOL, RHO_LI_G_CM3

from .creep import (LI_CREEP_EXPONENT, LI_CREEP_REFERENCE_STRAIN_RATE_1_S,
                    LI_CREEP_REFERENCE_STRESS_MPA, _pos)

__all__ = ["GAP_CREEP_DEFAULTS", "GapCreep", "gap_creep", "compare_gap_volume",
           "squeeze_outflow_um_s", "annulus_projected_fraction", "BandGapVolume",
           "band_gap_volume"]

#: Defaults and their sources (value, unit, source).
GAP_CREEP_DEFAULTS = {
    "radius_um": (3175.0, "um", "Cao et al. 2023, methods: 1/4 inch PTFE tube and Li disc"),
    "thickness_um": (100.0, "um", "assumption: the paper gives the Li disc's diameter only"),
    "gap_um": (50.0, "um", "assumption: radial width of the tube bulge gap (Fig. 6B shows it, "
                           "no value)"),
    "stack_pressure_mpa": (10.0, "MPa", "Cao et al. 2023, methods: 10 MPa fixed by an SS frame"),
    "frame_stiffness_mpa_um": (1.0, "MPa/um", "assumption: 10 um of stack growth adds 10 MPa"),
    "current_ma_cm2": (0.25, "mA/cm2", "C/20 of 8 mg NMC811 (~200 mAh/g) over the 1/4 inch "
                                       "disc (Cao et al. 2023, methods)"),
}

_UM_S_PER_MA_CM2 = 1e-3 * (M_LI_G_MOL / RHO_LI_G_CM3) / FARADAY_C_MOL * 1e4


@dataclass(frozen=True)
class GapCreep:
    """Time course of :func:`gap_creep` (arrays on ``time_s``).

    Attributes
    ----------
    time_s : ndarray
    pressure_mpa : ndarray
        Mean Li pressure in the foil (absolute: the stack pressure plus the framework's rise).
    stack_growth_um : ndarray
        Change of the foil thickness since assembly (negative: Li left faster than it plated).
    gap_volume_um3 : ndarray
        Li in the gap.
    gap_fill_um : ndarray
        Length of the gap filled with Li.
    plated_volume_um3 : ndarray
        Li plated so far (Faraday).
    gap_fraction : ndarray
        Share of the plated Li found in the gap (``(V_gap - V_gap,0) / V_plated``; NaN at 0).
    centre_excess_pressure_mpa : ndarray
        Pressure at the foil centre above the mean (squeeze-flow profile).
    conservation_error : float
        ``max |V_gap + pi R^2 dh - V_gap,0 - V_plated| / V_plated``.
    parameters : dict
        The inputs (with units in the names).
    """

    time_s: np.ndarray = field(repr=False)
    pressure_mpa: np.ndarray = field(repr=False)
    stack_growth_um: np.ndarray = field(repr=False)
    gap_volume_um3: np.ndarray = field(repr=False)
    gap_fill_um: np.ndarray = field(repr=False)
    plated_volume_um3: np.ndarray = field(repr=False)
    gap_fraction: np.ndarray = field(repr=False)
    centre_excess_pressure_mpa: np.ndarray = field(repr=False)
    conservation_error: float = 0.0
    parameters: dict = field(default_factory=dict, repr=False)


def _shear_coefficient(n, sigma_ref_mpa, eps_ref_1_s):
    """``A`` of ``gamma = A tau^n`` (1/s per MPa^n) from the uniaxial law (von Mises)."""
    return math.sqrt(3.0) * eps_ref_1_s * (math.sqrt(3.0) / sigma_ref_mpa) ** n


def _resistance(n, A, R, t, g, fill_um):
    """``(disc, disc + slot)`` parts of ``B(l)`` (module docstring): ``p = s^(1/n) B``."""
    inv = 1.0 / n
    c = ((n + 2.0) / (4.0 * A * (t / 2.0) ** (n + 2.0))) ** inv
    disc = c * R ** (1.0 + inv) / (3.0 + inv)
    slot = float(fill_um) * ((n + 2.0) * R / (4.0 * A * (g / 2.0) ** (n + 2.0))) ** inv
    return disc, disc + slot


def squeeze_outflow_um_s(mean_pressure_mpa: float, *, radius_um: float, thickness_um: float,
                         gap_um: float, gap_fill_um: float = 0.0,
                         stress_exponent: float = LI_CREEP_EXPONENT,
                         reference_stress_mpa: float = LI_CREEP_REFERENCE_STRESS_MPA,
                         reference_strain_rate_1_s: float = LI_CREEP_REFERENCE_STRAIN_RATE_1_S
                         ) -> float:
    """Outflow ``s`` (um/s per unit foil area) that a mean foil pressure drives into the gap.

    ``s = (p / B(l))^n`` (module docstring): power-law squeeze flow of the foil plus the flow
    along the filled gap length ``l``.
    """
    n = _pos("stress_exponent", stress_exponent)
    A = _shear_coefficient(n, _pos("reference_stress_mpa", reference_stress_mpa),
                           _pos("reference_strain_rate_1_s", reference_strain_rate_1_s))
    R, t, g = _pos("radius_um", radius_um), _pos("thickness_um", thickness_um), _pos("gap_um", gap_um)
    p = float(mean_pressure_mpa)
    if not p > 0:
        return 0.0
    return (p / _resistance(n, A, R, t, g, gap_fill_um)[1]) ** n


def gap_creep(duration_s: float, *, current_ma_cm2: float = 0.25, radius_um: float = 3175.0,
              thickness_um: float = 100.0, gap_um: float = 50.0,
              stack_pressure_mpa: float = 10.0, frame_stiffness_mpa_um: float = 1.0,
              initial_gap_fill_um: float = 0.0, stress_exponent: float = LI_CREEP_EXPONENT,
              reference_stress_mpa: float = LI_CREEP_REFERENCE_STRESS_MPA,
              reference_strain_rate_1_s: float = LI_CREEP_REFERENCE_STRAIN_RATE_1_S,
              n_steps: int = 400) -> GapCreep:
    """Li creeping into the gap beside the pellet during a constant-current plating step.

    The reduced axisymmetric model of the module docstring (Cao et al. 2023, Fig. 6):
    power-law squeeze flow of the foil into an annular gap, the pressure set by the framework
    spring.  Integrated in time by substepped explicit updates of the stack height and gap
    volume with the outflow solved exactly at each step (``s = (p / B(l))^n``), on a
    logarithmic then uniform time grid.

    Parameters
    ----------
    duration_s : float
        Plating time.
    current_ma_cm2 : float
        Plating current density (0: relaxation of the assembled cell without current).
    radius_um, thickness_um, gap_um : float
        Foil radius and thickness, radial width of the gap.
    stack_pressure_mpa : float
        Pressure at assembly (t = 0).
    frame_stiffness_mpa_um : float
        Framework stiffness: pressure rise per um of stack growth.
    initial_gap_fill_um : float
        Gap length already filled at t = 0 (assembly creep).
    stress_exponent, reference_stress_mpa, reference_strain_rate_1_s : float
        Li power-law creep (Masias et al. 2019: 6.56, 0.8 MPa at 5e-4 1/s).
    n_steps : int
        Output times.

    Returns
    -------
    GapCreep
    """
    T = _pos("duration_s", duration_s)
    i = float(current_ma_cm2)
    if not (math.isfinite(i) and i >= 0):
        raise ParameterError("current_ma_cm2", current_ma_cm2, "must be finite and >= 0")
    R, t0, g = _pos("radius_um", radius_um), _pos("thickness_um", thickness_um), _pos("gap_um", gap_um)
    p_s, k = _pos("stack_pressure_mpa", stack_pressure_mpa), _pos("frame_stiffness_mpa_um",
                                                                  frame_stiffness_mpa_um)
    n = _pos("stress_exponent", stress_exponent)
    A = _shear_coefficient(n, _pos("reference_stress_mpa", reference_stress_mpa),
                           _pos("reference_strain_rate_1_s", reference_strain_rate_1_s))
    l0 = float(initial_gap_fill_um)
    if not (math.isfinite(l0) and l0 >= 0):
        raise ParameterError("initial_gap_fill_um", initial_gap_fill_um, "must be finite and >= 0")
    v_p = i * _UM_S_PER_MA_CM2
    area = math.pi * R * R
    ring = 2.0 * math.pi * R * g  # gap volume per um of fill length
    inv = 1.0 / n

    def B(l, t):
        return _resistance(n, A, R, t, g, l)

    def outflow(dh, l):
        p = p_s + k * dh
        if p <= 0:
            return 0.0, p
        _, b_tot = B(l, t0 + dh)
        return (p / b_tot) ** n, p

    times = np.unique(np.concatenate([[0.0], np.geomspace(min(1e-3, T / 10), T, n_steps - 1)]))
    dh, V = 0.0, ring * l0
    rows = []
    tc = 0.0
    for tn in times:
        # substeps limited so that the pressure changes by < 1 % per substep (stiff relaxation)
        while tc < tn - 1e-12:
            s, p = outflow(dh, V / ring)
            rate = abs(v_p - s) * k  # MPa/s
            dt = min(tn - tc, 0.01 * max(p, 1e-6) / rate if rate > 0 else tn - tc)
            # midpoint step
            s1, _ = outflow(dh + 0.5 * dt * (v_p - s), (V + 0.5 * dt * area * s) / ring)
            dh += dt * (v_p - s1)
            V += dt * area * s1
            tc += dt
        s, p = outflow(dh, V / ring)
        disc, _ = B(V / ring, t0 + dh)
        # centre pressure above the mean: profile peak (1 + 1/n)^-1 vs mean (3 + 1/n)^-1
        centre = (s ** inv) * disc * ((3.0 + inv) / (1.0 + inv) - 1.0) if s > 0 else 0.0
        rows.append((tn, p, dh, V, V / ring, v_p * area * tn, centre))
    a = np.array(rows)
    plated = a[:, 5]
    with np.errstate(invalid="ignore", divide="ignore"):
        frac = np.where(plated > 0, (a[:, 3] - ring * l0) / plated, np.nan)
    err_abs = np.abs(a[:, 3] - ring * l0 + area * a[:, 2] - plated)
    scale = max(float(plated[-1]), ring * max(l0, 1.0), area * 1e-3)
    params = {"current_ma_cm2": i, "radius_um": R, "thickness_um": t0, "gap_um": g,
              "stack_pressure_mpa": p_s, "frame_stiffness_mpa_um": k,
              "initial_gap_fill_um": l0, "stress_exponent": n,
              "reference_stress_mpa": float(reference_stress_mpa),
              "reference_strain_rate_1_s": float(reference_strain_rate_1_s)}
    return GapCreep(a[:, 0], a[:, 1], a[:, 2], a[:, 3], a[:, 4], plated, frac, a[:, 6],
                    float(err_abs.max() / scale), params)


def compare_gap_volume(model: GapCreep, time_s, measured_volume_um3) -> dict:
    """Model gap volume against a measured Li volume time series (e.g. band P4 of the neutron
    maps converted to Li volume), both as increments from their first sample.

    Returns
    -------
    dict
        ``ratio`` (least-squares factor measured = ratio x model), ``rms_um3`` of the
        residual after the factor, ``correlation``.
    """
    t = np.asarray(time_s, float)
    m = np.asarray(measured_volume_um3, float)
    ok = np.isfinite(t) & np.isfinite(m)
    if ok.sum() < 3:
        raise ParameterError("measured_volume_um3", int(ok.sum()), "needs at least 3 finite samples")
    t, m = t[ok], m[ok] - m[ok][0]
    v = np.interp(t, model.time_s, model.gap_volume_um3) - np.interp(t[0], model.time_s,
                                                                    model.gap_volume_um3)
    denom = float(np.dot(v, v))
    ratio = float(np.dot(v, m) / denom) if denom > 0 else float("nan")
    res = m - ratio * v if denom > 0 else m
    corr = float(np.corrcoef(v, m)[0, 1]) if v.std() > 0 and m.std() > 0 else float("nan")
    return {"ratio": ratio, "rms_um3": float(np.sqrt(np.mean(res ** 2))), "correlation": corr}


# --------------------------------------------------------------------------- neutron check
def annulus_projected_fraction(inner_radius_um: float, outer_radius_um: float, u0_um: float,
                               u1_um: float) -> float:
    """Share of a coaxial annulus' volume whose projection along the beam lies in ``[u0, u1]``.

    A radiograph of the cylindrical cell sees the Li of an annulus ``R_i <= r < R_o`` (per
    unit height) with the path length ``2 sqrt(R_o^2 - u^2) - 2 sqrt(R_i^2 - u^2)`` at lateral
    position ``u`` from the cell axis (each root 0 beyond its radius); the integral of a chord
    ``2 sqrt(r^2 - u^2)`` is ``F(r, u) = u sqrt(r^2 - u^2) + r^2 asin(u / r)`` and over
    ``[-r, r]`` it is ``pi r^2``, so the share is
    ``[F(R_o, u) - F(R_i, u)]_{u0}^{u1} / (pi (R_o^2 - R_i^2))``.

    Parameters
    ----------
    inner_radius_um, outer_radius_um : float
        The annulus (the rod radius and the rod radius plus the gap width), um.
    u0_um, u1_um : float
        Lateral window (signed, um from the cell axis; ``u1 > u0``), e.g. the columns of the
        neutron region that holds the band.

    Returns
    -------
    float
        In ``[0, 1]``; 0.5 for ``[0, inf)``.

    Examples
    --------
    >>> round(annulus_projected_fraction(3175.0, 3325.0, 0.0, 1e9), 12)
    0.5
    """
    ri, ro = _pos("inner_radius_um", inner_radius_um), _pos("outer_radius_um", outer_radius_um)
    if not ro > ri:
        raise ParameterError("outer_radius_um", outer_radius_um, f"must exceed inner_radius_um ({ri:g})")
    u0, u1 = float(u0_um), float(u1_um)
    if not (np.isfinite(u0) and np.isfinite(u1) and u1 > u0):
        raise ParameterError("u1_um", u1_um, f"must be finite and > u0_um ({u0_um})")

    def F(r, u):
        u = min(max(u, -r), r)
        return u * math.sqrt(max(r * r - u * u, 0.0)) + r * r * math.asin(u / r)

    return float((F(ro, u1) - F(ro, u0) - F(ri, u1) + F(ri, u0)) / (math.pi * (ro * ro - ri * ri)))


@dataclass(frozen=True)
class BandGapVolume:
    """Li volume of a neutron band and the gap volume it implies (:func:`band_gap_volume`).

    Attributes
    ----------
    band_volume_um3, band_volume_sigma_um3 : (t,) ndarray
        Li volume change in the band's pixels (rows x region columns) per bin and its counting
        sigma (um^3), from the reference bin.
    gap_volume_um3, gap_volume_sigma_um3 : (t,) ndarray
        ``band_volume / projected_fraction``: the Li gained in the whole annular gap.
    projected_fraction : float
        Share of the annulus seen by the band's columns (:func:`annulus_projected_fraction`).
    u_um : (float, float)
        The columns' lateral window from the cell axis (um).
    roi_px : (int, int, int, int)
        ``(y0, y1, x0, x1)`` of the band's pixels.
    """

    band_volume_um3: np.ndarray = field(repr=False)
    band_volume_sigma_um3: np.ndarray = field(repr=False)
    gap_volume_um3: np.ndarray = field(repr=False)
    gap_volume_sigma_um3: np.ndarray = field(repr=False)
    projected_fraction: float
    u_um: tuple
    roi_px: tuple


def band_gap_volume(ratio, reference_transmission, ratio_sigma=None, *, roi_px, pixel_size_um: float,
                    axis_x_um: float, inner_radius_um: float, gap_um: float, spectrum=None,
                    li6_fraction: float | None = None) -> BandGapVolume:
    """Li volume in the rod-tube gap from a neutron band (P4 of Cao et al. 2023, Fig. 2D-E).

    The band's Li volume change is the sum over its pixels of the Li path-length change
    (Beer-Lambert with the Li macroscopic cross-section of Sears 1992 cross-sections,
    :func:`ssbscope.neutron.lithium.region_li_change`) times the pixel area; the band's
    columns see only part of the annulus, so the gap volume is that over
    :func:`annulus_projected_fraction` of the columns' window.  Assumes that the band's
    change is Li entering the annular gap ``inner_radius <= r < inner_radius + gap`` coaxial
    with the cell, and nothing else in those pixels.

    Parameters
    ----------
    ratio : (t, y, x) ndarray
        Tr_t/Tr_0 per bin (``neutron/input/<label>`` ``transmission_ratio``).
    reference_transmission : (y, x) ndarray
        Transmission of the reference bin.
    ratio_sigma : (t, y, x) ndarray, optional
    roi_px : (int, int, int, int)
        ``(y0, y1, x0, x1)``: the band's rows and its region's columns.
    pixel_size_um : float
    axis_x_um : float
        Cell axis: distance from the left edge of column 0 (um).
    inner_radius_um, gap_um : float
        Rod radius and radial gap width (um).
    spectrum : ssbscope.neutron.attenuation.Spectrum, optional
        Default the cold CG-1D spectrum (as the neutron stages).
    li6_fraction : float, optional
        6Li atom fraction (default natural, 0.0759).

    Returns
    -------
    BandGapVolume
    """
    from ssbscope.neutron.attenuation import LI6_NATURAL
    from ssbscope.neutron.lithium import region_li_change

    p = _pos("pixel_size_um", pixel_size_um)
    y0, y1, x0, x1 = (int(v) for v in roi_px)
    u0, u1 = x0 * p - float(axis_x_um), x1 * p - float(axis_x_um)
    ri = _pos("inner_radius_um", inner_radius_um)
    frac = annulus_projected_fraction(ri, ri + _pos("gap_um", gap_um), u0, u1)
    if not frac > 0:
        raise ParameterError("roi_px", roi_px, f"its columns (u {u0:g} to {u1:g} um from the cell "
                             "axis) see none of the gap annulus", "check axis_x_um and the region")
    r = region_li_change(ratio, reference_transmission, ratio_sigma, roi=(y0, y1, x0, x1),
                         pixel_size_um=p, spectrum=spectrum,
                         li6_fraction=LI6_NATURAL if li6_fraction is None else float(li6_fraction))
    vol, sig = np.asarray(r.volume_um3, float), np.asarray(r.volume_sigma_um3, float)
    return BandGapVolume(vol, sig, vol / frac, sig / frac, frac, (u0, u1), (y0, y1, x0, x1))
