"""Contour studies of 003_103f2bf5a3479ade (Figs. 1-4): sweeps over H, S, H/S and shape.

Defaults (one parameter set for every case, no per-case tuning): Li|Li6PS5Cl charge-transfer
resistance 10 Ohm cm2 and conductivity 2 mS/cm (kinetic length ``sigma R_ct = 200 um``, of
the order of the feature sizes, so kinetics matter as in 003_ Fig. 2c), 1 mm electrolyte as
in 003_'s cells, Li creep with Nabarro-Herring creep at a 2 um grain size plus the power law
of Masias et al. (:mod:`.creep`), fracture pressure ``K_Ic / (1.12 sqrt(pi a))`` with
``K_Ic = 0.25 MPa m^0.5`` and a 10 um flaw (40 MPa), edges of pyramids/frustums rounded over
2 um (:mod:`.shapes`).  The grain size and flaw depth are assumptions inside plausible
ranges (module docstring of :mod:`.creep`).

Pressure models (``pressure_model``): ``"finite-slope"`` solves the creeping flow
of the plated Li in the true geometry of the cell (:mod:`.stokes`: Taylor-Hood Q2-Q1,
``stokes_n_xy`` elements per quarter-cell side, mesh graded towards the Li ridges for
pyramids and frustums; local secant viscosity by Picard iteration with two solves per case for
the current rescaling of the criterion, or one secant viscosity and one solve);
``"small-slope"`` is the spectral half-space model of :mod:`.creep` (one secant viscosity; the
default of :func:`contour_sweep`, whose earlier results it keeps).  ``"auto"`` (used by the
demo stage) takes the finite-slope model for every shape.

Viscosity of the finite-slope model (``stokes_viscosity``): ``"local"`` by default for every
shape (egg-box H25S150 site pressure 0.632, 0.573, 0.558, 0.547 MPa on 4-10 elements; pyramids
and frustums with an interface layer of an eighth of the tip radius, :mod:`.stokes`: pyramid
0.753-0.768 MPa and frustum 0.891-0.905 MPa from 6 to 24 layers), or ``"global"`` (the secant
viscosity of the small-slope model at its characteristic strain rate, the finite-slope
counterpart of that model).  With the ridge grading of :mod:`.stokes` the one-viscosity
site pressure at H25S150 is grid-converged to a few per cent for all three shapes (pyramid
1.226, 1.249, 1.226, 1.196, 1.174 MPa on 6-10 elements, frustum 1.518, 1.543, 1.514, 1.479 MPa
on 6-9, egg-box 0.583, 0.582, 0.582 on 6, 8, 10; pyramid and frustum drift down by about 2 %
per step beyond 8 elements, so 6 elements may be up to about 10 % high, which does not change
their order against the egg-box); with the local viscosity
and the fixed layer map the pyramid site pressure was not converged (1.15, 0.97, 0.88 MPa on 6,
8, 9 elements), which the thin interface layer of :mod:`.stokes` resolves.  The site pressure of the small-slope model is reported in
every case.

Kinetics and the maximum of 003_ Figs. 3b, 4a (:func:`kinetics_sweep`, :func:`gain_maximum`):
at the default kinetics (``sigma R_ct`` = 0.2 mm, comparable to S) the finite-slope critical
current falls monotonically with H at S = 150 um (0.975, 0.915, 0.889, 0.859 for H = 5, 25,
50, 75 um, local viscosity on 6 elements): the maximum current with kinetics stays near the
geometric one up to H/S = 1/6, so there is little area benefit for the creep pressure to
overturn.  With longer kinetic lengths the maximum current falls towards ``1 / area ratio``
(003_ Fig. 3c) and the critical current first dips (the pressure penalty is linear in H,
the area benefit quadratic), then passes through a maximum: R_ct = 40 Ohm cm2 (0.8 mm),
0.962, 0.993, 1.028, 1.042, 1.032, 1.002 for H = 25-150 um (6 elements; peak near H = 100 um,
H/S = 0.67); R_ct = 150 Ohm cm2 (3 mm) still rises at H/S = 1 (1.156).  The window is narrow
in the fracture pressure too: at R_ct = 40 Ohm cm2 (4 elements) a 3 um flaw (p_c = 73 MPa)
gives a critical current rising with H to 1.30 at H/S = 1, the 10 um default the peak, a
30 um flaw (23 MPa) a monotonic fall to 0.66.  The model thus gives
the paper's maximum only for kinetic lengths several times S and at larger H/S than the
experiments, and then the constant-H/S series peaks as well instead of falling with size
(R_ct 40: 0.907, 0.962, 0.980, 0.974, 0.956 for H5S30-H150S900, against 003_ Fig. 2a; the
default kinetics give 0.857, 0.907, 0.897, 0.851, 0.811 on 4 elements).  The paper's own parameters
(its S2) are not in the text available to us; no parameter set has been tuned to the
figures.
"""

from __future__ import annotations

import logging
from dataclasses import replace

import pandas as pd

from ssbscope.errors import ParameterError

from .creep import (
    DEFAULT_FLAW_DEPTH_UM,
    DEFAULT_GRAIN_SIZE_UM,
    LI6PS5CL_FRACTURE_TOUGHNESS_MPA_M05,
    CreepLaw,
    creep_pressure,
    critical_current_from,
)
from .current import current_distribution
from .shapes import DEFAULT_TIP_RADIUS_UM
from .stokes import grid_extrapolation, stokes_critical_current, with_stress

log = logging.getLogger(__name__)

__all__ = ["KINETICS_R_CT_OHM_CM2", "KINETICS_SWEEP", "PAPER_SWEEPS", "PRESSURE_MODELS",
           "contour_sweep", "gain_maximum", "grid_convergence", "kinetics_sweep"]

PRESSURE_MODELS = ("auto", "finite-slope", "small-slope")

# the (H, S) series of the paper, in um
PAPER_SWEEPS = {
    "constant_S": [(5, 150), (25, 150), (50, 150), (75, 150)],  # Fig. 3a-c
    "constant_H": [(25, 225), (25, 150), (25, 75), (25, 50)],  # Fig. 3d-f
    "constant_ratio": [(5, 30), (25, 150), (50, 300), (100, 600), (150, 900)],  # Fig. 2
    "shapes": [(25, 150)],  # Fig. 1, three shapes
}

# Fig. 3b/4a extended to H/S = 1 (H in um at S = 150 um) and the charge-transfer resistances
# (Ohm cm2) of :func:`kinetics_sweep`: kinetic lengths sigma R_ct of 0.2, 0.8 and 3 mm at
# 2 mS/cm, from comparable to the feature size to kinetics-dominated
KINETICS_SWEEP = [(5, 150), (25, 150), (50, 150), (75, 150), (100, 150), (125, 150), (150, 150)]
KINETICS_R_CT_OHM_CM2 = (10.0, 40.0, 150.0)


def contour_sweep(cases, *, shapes=("egg-box",), r_ct_ohm_cm2: float = 10.0,
                  conductivity_s_cm: float = 2e-3, thickness_um: float = 1000.0,
                  flat_critical_current_ma_cm2: float = 1.0,
                  critical_pressure_mpa: float | None = None,
                  fracture_toughness_mpa_m05: float = LI6PS5CL_FRACTURE_TOUGHNESS_MPA_M05,
                  flaw_depth_um: float = DEFAULT_FLAW_DEPTH_UM,
                  grain_size_um: float | None = DEFAULT_GRAIN_SIZE_UM,
                  tip_radius_um: float = DEFAULT_TIP_RADIUS_UM,
                  n_xy: int = 16, pressure_model: str = "small-slope",
                  stokes_n_xy: int = 6, stokes_viscosity: str | None = None,
                  stress: str = "normal", stack_pressure_mpa: float = 0.0,
                  lateral_stress_ratio: float = 0.0) -> pd.DataFrame:
    """Primary and kinetic maximum current, excess pressures and critical current.

    Parameters
    ----------
    cases : sequence of (height_um, separation_um)
        Contours to compute (see ``PAPER_SWEEPS``).
    shapes : sequence of str
        Shapes to run each case for.
    r_ct_ohm_cm2, conductivity_s_cm, thickness_um
        Kinetics and electrolyte (module docstring for the defaults).
    flat_critical_current_ma_cm2 : float
        ``i_g0`` of the criterion (gain = critical current over it).
    critical_pressure_mpa : float, optional
        Override of ``p_c``; by default ``K_Ic / (1.12 sqrt(pi a))``.
    fracture_toughness_mpa_m05, flaw_depth_um : float
        ``K_Ic`` (MPa m^0.5) and flaw depth ``a`` (um).
    grain_size_um : float or None
        Grain size of diffusional creep (None: pure power law).
    tip_radius_um : float
        Edge rounding of pyramids/frustums (um).
    n_xy : int
        Grid intervals of the quarter cell (current solve).
    pressure_model : {"auto", "finite-slope", "small-slope"}
        Creep-pressure model of the criterion (module docstring; default small-slope;
        "auto": finite-slope).
    stokes_n_xy : int
        Q2 elements per quarter-cell side of the finite-slope solve (egg-box: 6 within about
        5 % of the finest grid checked, 4 within about 15 %, too high; pyramid and frustum:
        4 about 35 % too low, so use at least 6; their site normal traction on 6 elements is
        22-24 % above the Richardson limit of 6-12 elements, 3 % on 12, and the rows carry the
        grid-extrapolated values for 6, 8, 10 and 12 elements).
    stokes_viscosity : {"local", "global"}, optional
        Local (Picard) or one secant viscosity in the finite-slope solve; default "local"
        (module docstring).
    stress : {"normal", "mean"}
        Interface stress of the criterion: the normal traction on the electrolyte (default)
        or the Li mean stress; the other variant's site stress and gain are reported too
        (``site_normal_traction_mpa``, ``site_mean_stress_mpa``, ``gain_over_flat_normal``,
        ``gain_over_flat_mean``).
    stack_pressure_mpa, lateral_stress_ratio : float
        Stack pressure in the criterion and the electrolyte's lateral stress ratio
        (:func:`.creep.critical_current_from`; 003_'s cells: 7 MPa).

    Returns
    -------
    pandas.DataFrame
        One row per (shape, H, S): ``h_over_s``, ``area_ratio``,
        ``max_primary_over_geometric``, ``max_kinetic_over_geometric`` (``r``),
        ``max_excess_pressure_mpa`` (highest magnitude, at 1 mA/cm2),
        ``max_compressive_excess_pressure_mpa``, ``site_excess_pressure_mpa`` (compressive
        excess at the site of maximum current, 1 mA/cm2), ``creep_strain_rate_1_s``,
        ``creep_viscosity_mpa_s``, ``critical_current_ma_cm2``,
        ``site_excess_pressure_at_critical_mpa``, ``critical_pressure_mpa``,
        ``gain_over_flat``, ``pressure_model``, ``site_excess_pressure_small_slope_mpa``,
        ``gain_over_flat_small_slope`` (the criterion with the small-slope pressure; equal to
        ``gain_over_flat`` for that model) and, for the finite-slope model, ``stokes_flux_balance``,
        ``stokes_picard_iterations`` and ``stokes_viscosity`` (run times are logged, not stored:
        the same inputs give the same table).  Finite-slope pyramids and frustums with the
        normal traction on a grid of :data:`.stokes.GRID_CONVERGENCE` also carry the
        grid-extrapolated values (:func:`.stokes.grid_extrapolation`, the Richardson limit over
        the computed value measured at H25S150): ``site_excess_pressure_extrapolated_mpa``,
        ``stokes_grid_drift`` (computed over extrapolated, minus one),
        ``stokes_grid_extrapolation_spread`` (Aitken vs Richardson limit),
        ``critical_current_extrapolated_ma_cm2`` and ``gain_over_flat_extrapolated`` (the
        criterion with the pressure scaled to the limit at every current); other rows NaN.
    """
    if pressure_model not in PRESSURE_MODELS:
        raise ParameterError("pressure_model", pressure_model,
                             f"must be one of {PRESSURE_MODELS}")
    if stress not in ("normal", "mean"):
        raise ParameterError("stress", stress, "must be 'normal' or 'mean'")
    rows = []
    cases = list(cases)
    model = "finite-slope" if pressure_model == "auto" else pressure_model
    shapes = tuple(shapes)
    if stokes_viscosity is None:
        stokes_viscosity = "local"
    if stokes_viscosity not in ("local", "global"):
        raise ParameterError("stokes_viscosity", stokes_viscosity,
                             "must be 'local', 'global' or None")
    if not cases:
        raise ParameterError("cases", cases, "must list at least one (height_um, separation_um)")
    law = CreepLaw(grain_size_um=grain_size_um)
    for shape in shapes:
        for H, S in cases:
            common = {"conductivity_s_cm": conductivity_s_cm, "thickness_um": thickness_um,
                      "geometric_current_ma_cm2": 1.0, "n_xy": n_xy, "n_zeta": n_xy,
                      "tip_radius_um": tip_radius_um}
            prim = current_distribution(shape, H, S, r_ct_ohm_cm2=None, **common)
            kin = current_distribution(shape, H, S, r_ct_ohm_cm2=r_ct_ohm_cm2, **common)
            crit_kw = {"flat_critical_current_ma_cm2": flat_critical_current_ma_cm2,
                       "critical_pressure_mpa": critical_pressure_mpa,
                       "fracture_toughness_mpa_m05": fracture_toughness_mpa_m05,
                       "flaw_depth_um": flaw_depth_um, "stack_pressure_mpa": stack_pressure_mpa,
                       "lateral_stress_ratio": lateral_stress_ratio}
            other = "mean" if stress == "normal" else "normal"
            pr_ss = creep_pressure(kin, law=law, stress=stress)
            extra = {}
            if model == "finite-slope" and shape != "flat":
                res = stokes_critical_current(kin, law=law, n_xy=stokes_n_xy,
                                              viscosity=stokes_viscosity, stress=stress,
                                              **crit_kw)
                pr, cc, cc_alt = res.pressure, res.critical, res.critical_alternative
                alt_site = with_stress(res.at_reference, other).site_excess_pressure_mpa
                extra = {"stokes_flux_balance": res.at_reference.flux_balance,
                         "stokes_picard_iterations": res.at_reference.picard_iterations,
                         "stokes_viscosity": stokes_viscosity}
                log.debug("contour %s H%g S%g: Stokes solve %.2f s CPU", shape, H, S, res.runtime_s)
                cc_ss = critical_current_from(kin, pr_ss, **crit_kw)
                ext = grid_extrapolation(shape, stokes_n_xy, stress=stress)
                if ext is not None:
                    # the measured lateral grid drift (pyramid/frustum): the pressure scaled to
                    # the Richardson limit at every current, and the criterion with it
                    f = ext.factor
                    pr_x = replace(pr, excess_pressure_mpa=pr.excess_pressure_mpa * f,
                                   max_excess_pressure_mpa=pr.max_excess_pressure_mpa * f,
                                   max_compressive_excess_pressure_mpa=(
                                       pr.max_compressive_excess_pressure_mpa * f),
                                   site_excess_pressure_mpa=pr.site_excess_pressure_mpa * f)
                    cc_x = critical_current_from(kin, pr_x, **crit_kw)
                    extra.update({
                        "site_excess_pressure_extrapolated_mpa": pr_x.site_excess_pressure_mpa,
                        "stokes_grid_drift": ext.drift,
                        "stokes_grid_extrapolation_spread": ext.spread,
                        "critical_current_extrapolated_ma_cm2": cc_x.critical_current_ma_cm2,
                        "gain_over_flat_extrapolated": cc_x.gain_over_flat})
            else:
                pr = pr_ss
                cc = cc_ss = critical_current_from(kin, pr, **crit_kw)
                pr_alt = creep_pressure(kin, law=law, stress=other)
                cc_alt = critical_current_from(kin, pr_alt, **crit_kw)
                alt_site = pr_alt.site_excess_pressure_mpa
            sites = {stress: pr.site_excess_pressure_mpa, other: alt_site}
            gains = {stress: cc.gain_over_flat, other: cc_alt.gain_over_flat}
            rows.append({"shape": shape, "height_um": float(H), "separation_um": float(S),
                         "h_over_s": float(H) / float(S), "area_ratio": prim.area_ratio,
                         "max_primary_over_geometric": prim.max_over_geometric,
                         "max_kinetic_over_geometric": kin.max_over_geometric,
                         "max_excess_pressure_mpa": pr.max_excess_pressure_mpa,
                         "max_compressive_excess_pressure_mpa": (
                             pr.max_compressive_excess_pressure_mpa),
                         "site_excess_pressure_mpa": pr.site_excess_pressure_mpa,
                         "creep_strain_rate_1_s": pr.strain_rate_1_s,
                         "creep_viscosity_mpa_s": pr.viscosity_mpa_s,
                         "critical_current_ma_cm2": cc.critical_current_ma_cm2,
                         "site_excess_pressure_at_critical_mpa": (
                             cc.site_excess_pressure_mpa_at_critical),
                         "critical_pressure_mpa": cc.critical_pressure_mpa,
                         "gain_over_flat": cc.gain_over_flat,
                         "pressure_model": model if shape != "flat" else "small-slope",
                         "site_excess_pressure_small_slope_mpa": (
                             pr_ss.site_excess_pressure_mpa),
                         "gain_over_flat_small_slope": cc_ss.gain_over_flat,
                         "stress": stress, "stack_pressure_mpa": float(stack_pressure_mpa),
                         "site_normal_traction_mpa": sites["normal"],
                         "site_mean_stress_mpa": sites["mean"],
                         "gain_over_flat_normal": gains["normal"],
                         "gain_over_flat_mean": gains["mean"], **extra})
            log.debug("sweep %s H=%g S=%g done", shape, H, S)
    return pd.DataFrame(rows)


def grid_convergence(shape: str = "egg-box", height_um: float = 25.0,
                     separation_um: float = 150.0, *, grids=(8, 12, 16, 24),
                     r_ct_ohm_cm2: float | None = None, conductivity_s_cm: float = 2e-3,
                     thickness_um: float = 1000.0,
                     grain_size_um: float | None = DEFAULT_GRAIN_SIZE_UM,
                     tip_radius_um: float = DEFAULT_TIP_RADIUS_UM,
                     stress: str = "normal") -> pd.DataFrame:
    """Maximum local current and creep pressures against the grid of the current solve.

    ``stress`` selects the interface stress of :func:`creep_pressure` (normal traction or
    mean stress).

    Returns
    -------
    pandas.DataFrame
        ``shape``, ``n_xy``, ``max_over_geometric``, ``rel_change_vs_finest``,
        ``flux_balance``, ``max_excess_pressure_mpa`` and ``site_excess_pressure_mpa``
        (:func:`creep_pressure` at 1 mA/cm2) with ``pressure_rel_change_vs_finest`` and
        ``site_pressure_rel_change_vs_finest``.
    """
    rows = []
    law = CreepLaw(grain_size_um=grain_size_um)
    for n in grids:
        d = current_distribution(shape, height_um, separation_um, r_ct_ohm_cm2=r_ct_ohm_cm2,
                                 conductivity_s_cm=conductivity_s_cm, thickness_um=thickness_um,
                                 geometric_current_ma_cm2=1.0, n_xy=int(n), n_zeta=int(n),
                                 tip_radius_um=tip_radius_um)
        pr = creep_pressure(d, law=law, stress=stress)
        rows.append({"shape": shape, "n_xy": int(n), "max_over_geometric": d.max_over_geometric,
                     "flux_balance": d.flux_balance,
                     "max_excess_pressure_mpa": pr.max_excess_pressure_mpa,
                     "site_excess_pressure_mpa": pr.site_excess_pressure_mpa})
    df = pd.DataFrame(rows)
    for col, out in (("max_over_geometric", "rel_change_vs_finest"),
                     ("max_excess_pressure_mpa", "pressure_rel_change_vs_finest"),
                     ("site_excess_pressure_mpa", "site_pressure_rel_change_vs_finest")):
        fin = df[col].iloc[-1]
        df[out] = (df[col] - fin).abs() / abs(fin) if fin != 0 else 0.0
    return df


def kinetics_sweep(cases=KINETICS_SWEEP, r_ct_values_ohm_cm2=KINETICS_R_CT_OHM_CM2, *,
                   conductivity_s_cm: float = 2e-3, pressure_model: str = "finite-slope",
                   **sweep_kw) -> pd.DataFrame:
    """The contour sweep at several charge-transfer resistances (Wagner-number study).

    Where the critical current passes through a maximum against H at fixed S (003_
    Figs. 3b, 4a) depends on how strongly the kinetics level the current: the area benefit
    ``1 / r`` (``r`` the maximum local over the geometric current with kinetics) grows with the
    kinetic length ``L_k = sigma R_ct`` over the feature size, while the creep pressure at the
    Li protrusion rises with H whatever the kinetics.  With ``L_k`` comparable to S the
    pressure wins from the start and the critical current falls with H; with ``L_k`` several
    times S it first falls (the pressure is linear in H, the area benefit quadratic), then rises
    and passes through a maximum where the confined creep flow of steep contours takes over.

    Parameters
    ----------
    cases : sequence of (height_um, separation_um)
        Contours (default ``KINETICS_SWEEP``: H = 5-150 um at S = 150 um).
    r_ct_values_ohm_cm2 : sequence of float
        Charge-transfer resistances (Ohm cm2), each > 0.
    conductivity_s_cm : float
        Electrolyte conductivity (S/cm).
    pressure_model : str
        As in :func:`contour_sweep` (default finite-slope).
    **sweep_kw
        Other arguments of :func:`contour_sweep` (not ``r_ct_ohm_cm2``).

    Returns
    -------
    pandas.DataFrame
        The rows of :func:`contour_sweep` for every resistance, with ``r_ct_ohm_cm2`` and
        ``kinetic_length_um`` (``sigma R_ct``) in front.
    """
    if "r_ct_ohm_cm2" in sweep_kw:
        raise ParameterError("r_ct_ohm_cm2", sweep_kw["r_ct_ohm_cm2"],
                             "is swept by kinetics_sweep", "pass r_ct_values_ohm_cm2 instead")
    values = [float(v) for v in r_ct_values_ohm_cm2]
    if not values or any(not v > 0 or v != v or v == float("inf") for v in values):
        raise ParameterError("r_ct_values_ohm_cm2", r_ct_values_ohm_cm2,
                             "must list finite charge-transfer resistances > 0 (Ohm cm2)")
    frames = []
    for rct in values:
        df = contour_sweep(cases, r_ct_ohm_cm2=rct, conductivity_s_cm=conductivity_s_cm,
                           pressure_model=pressure_model, **sweep_kw)
        df.insert(0, "kinetic_length_um", rct * conductivity_s_cm * 1e4)
        df.insert(0, "r_ct_ohm_cm2", rct)
        frames.append(df)
    return pd.concat(frames, ignore_index=True)


def gain_maximum(table: pd.DataFrame, *, x: str = "height_um", y: str = "gain_over_flat",
                 by: str = "r_ct_ohm_cm2") -> pd.DataFrame:
    """Locate the maximum of the critical-current gain along a sweep, per group.

    The largest interior local maximum of ``y`` (a sample above both neighbours) of each group,
    refined by the vertex of the parabola through it and its two neighbours (non-uniform
    spacing allowed); without one, the largest sample (an end of the sweep).

    Parameters
    ----------
    table : pandas.DataFrame
        Rows of :func:`kinetics_sweep` or :func:`contour_sweep`.
    x, y : str
        Swept column (``height_um`` or ``separation_um``, or ``h_over_s``) and the quantity.
    by : str or None
        Grouping column (one group when None or absent).

    Returns
    -------
    pandas.DataFrame
        One row per group: ``by``, ``interior`` (True for a maximum inside the swept range),
        ``x_at_max`` and ``y_at_max`` (refined when interior, else the largest end sample),
        ``trend`` ("rising" or "falling" when ``y`` is monotonic along ``x``, else
        "non-monotonic"), ``x_name``, ``y_name``.
    """
    import numpy as np

    for col in (x, y):
        if col not in table:
            raise ParameterError(col, None, f"is not a column of the sweep table ({list(table.columns)})")
    groups = table.groupby(by, sort=True) if by and by in table else [(None, table)]
    rows = []
    for key, g in groups:
        g = g.sort_values(x)
        xs, ys = g[x].to_numpy(float), g[y].to_numpy(float)
        peaks = [i for i in range(1, len(ys) - 1) if ys[i] > ys[i - 1] and ys[i] > ys[i + 1]]
        interior = bool(peaks)
        k = max(peaks, key=lambda i: ys[i]) if peaks else int(np.nanargmax(ys))
        xm, ym = xs[k], ys[k]
        d = np.diff(ys)
        trend = ("rising" if np.all(d > 0) else "falling" if np.all(d < 0) else "non-monotonic")
        if interior:
            c2, c1, c0 = np.polyfit(xs[k - 1:k + 2], ys[k - 1:k + 2], 2)
            if c2 < 0:
                xv = -c1 / (2.0 * c2)
                if xs[k - 1] <= xv <= xs[k + 1]:
                    xm, ym = float(xv), float(c0 + c1 * xv + c2 * xv * xv)
        rows.append({by or "group": key, "interior": bool(interior), "x_at_max": float(xm),
                     "y_at_max": float(ym), "trend": trend, "x_name": x, "y_name": y})
    return pd.DataFrame(rows)
