"""Contour studies of 003_103f2bf5a3479ade (Figs. 1-4): sweeps over H, S, H/S and shape."""

from __future__ import annotations

import logging

import pandas as pd

from ssbscope.errors import ParameterError

from .creep import DEFAULT_CRITICAL_PRESSURE_MPA, creep_pressure, critical_current_from
from .current import current_distribution

log = logging.getLogger(__name__)

__all__ = ["PAPER_SWEEPS", "contour_sweep", "grid_convergence"]

# the (H, S) series of the paper, in um
PAPER_SWEEPS = {
    "constant_S": [(5, 150), (25, 150), (50, 150), (75, 150)],  # Fig. 3a-c
    "constant_H": [(25, 225), (25, 150), (25, 75), (25, 50)],  # Fig. 3d-f
    "constant_ratio": [(5, 30), (25, 150), (50, 300), (100, 600), (150, 900)],  # Fig. 2
    "shapes": [(25, 150)],  # Fig. 1, three shapes
}


def contour_sweep(cases, *, shapes=("egg-box",), r_ct_ohm_cm2: float = 10.0,
                  conductivity_s_cm: float = 2e-3, thickness_um: float = 1000.0,
                  flat_critical_current_ma_cm2: float = 1.0,
                  critical_pressure_mpa: float = DEFAULT_CRITICAL_PRESSURE_MPA,
                  n_xy: int = 16) -> pd.DataFrame:
    """Primary and kinetic maximum current, maximum excess pressure and critical current.

    Parameters
    ----------
    cases : sequence of (height_um, separation_um)
        Contours to compute (see ``PAPER_SWEEPS``).
    shapes : sequence of str
        Shapes to run each case for.
    r_ct_ohm_cm2, conductivity_s_cm, thickness_um
        Kinetics and electrolyte (defaults: Li|Li6PS5Cl-like values, 10 Ohm cm2 and
        2 mS/cm; 1 mm electrolyte as in 003_'s cells).
    flat_critical_current_ma_cm2, critical_pressure_mpa
        Dendrite criterion ``i_c = i_g0 / (r^(1/n) + i_g0^(1/n) P1 / p_c)^n``
        (:mod:`ssbscope.interface.creep`; default ``p_c`` 10 MPa).
    n_xy : int
        Grid intervals of the quarter cell.

    Returns
    -------
    pandas.DataFrame
        One row per (shape, H, S): ``h_over_s``, ``area_ratio``,
        ``max_primary_over_geometric``, ``max_kinetic_over_geometric``,
        ``max_excess_pressure_mpa`` (highest magnitude, at 1 mA/cm2),
        ``max_compressive_excess_pressure_mpa``, ``creep_strain_rate_1_s``,
        ``critical_current_ma_cm2``, ``gain_over_flat``.
    """
    rows = []
    cases = list(cases)
    if not cases:
        raise ParameterError("cases", cases, "must list at least one (height_um, separation_um)")
    for shape in shapes:
        for H, S in cases:
            common = {"conductivity_s_cm": conductivity_s_cm, "thickness_um": thickness_um,
                          "geometric_current_ma_cm2": 1.0, "n_xy": n_xy, "n_zeta": n_xy}
            prim = current_distribution(shape, H, S, r_ct_ohm_cm2=None, **common)
            kin = current_distribution(shape, H, S, r_ct_ohm_cm2=r_ct_ohm_cm2, **common)
            pr = creep_pressure(kin)
            cc = critical_current_from(kin, pr,
                                       flat_critical_current_ma_cm2=flat_critical_current_ma_cm2,
                                       critical_pressure_mpa=critical_pressure_mpa)
            rows.append({"shape": shape, "height_um": float(H), "separation_um": float(S),
                             "h_over_s": float(H) / float(S), "area_ratio": prim.area_ratio,
                             "max_primary_over_geometric": prim.max_over_geometric,
                             "max_kinetic_over_geometric": kin.max_over_geometric,
                             "max_excess_pressure_mpa": pr.max_excess_pressure_mpa,
                             "max_compressive_excess_pressure_mpa": (
                                 pr.max_compressive_excess_pressure_mpa),
                             "creep_strain_rate_1_s": pr.strain_rate_1_s,
                             "critical_current_ma_cm2": cc.critical_current_ma_cm2,
                             "gain_over_flat": cc.gain_over_flat})
            log.debug("sweep %s H=%g S=%g done", shape, H, S)
    return pd.DataFrame(rows)


def grid_convergence(shape: str = "egg-box", height_um: float = 25.0,
                     separation_um: float = 150.0, *, grids=(8, 12, 16, 24),
                     r_ct_ohm_cm2: float | None = None, conductivity_s_cm: float = 2e-3,
                     thickness_um: float = 1000.0) -> pd.DataFrame:
    """Maximum local current and creep pressure against grid size.

    Returns
    -------
    pandas.DataFrame
        ``n_xy``, ``max_over_geometric``, ``rel_change_vs_finest``, ``flux_balance``,
        ``max_excess_pressure_mpa`` (:func:`creep_pressure` at 1 mA/cm2) and
        ``pressure_rel_change_vs_finest``.
    """
    rows = []
    for n in grids:
        d = current_distribution(shape, height_um, separation_um, r_ct_ohm_cm2=r_ct_ohm_cm2,
                                 conductivity_s_cm=conductivity_s_cm, thickness_um=thickness_um,
                                 geometric_current_ma_cm2=1.0, n_xy=int(n), n_zeta=int(n))
        rows.append({"n_xy": int(n), "max_over_geometric": d.max_over_geometric,
                         "flux_balance": d.flux_balance,
                         "max_excess_pressure_mpa": creep_pressure(d).max_excess_pressure_mpa})
    df = pd.DataFrame(rows)
    finest = df["max_over_geometric"].iloc[-1]
    df["rel_change_vs_finest"] = (df["max_over_geometric"] - finest).abs() / finest
    p_fin = df["max_excess_pressure_mpa"].iloc[-1]
    df["pressure_rel_change_vs_finest"] = ((df["max_excess_pressure_mpa"] - p_fin).abs()
                                           / p_fin if p_fin > 0 else 0.0)
    return df
