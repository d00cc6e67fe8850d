"""Creep pressure and dendrite criterion on contoured interfaces (003_103f2bf5a3479ade Figs. 3-4).

Checks against analytic limits of the small-slope Stokes model (flat -> 0, Newtonian egg-box
``p_max = 2 eta V k^2 H``, power-law scalings ``H^(1/n)`` and ``i^(1/n)``) and against the
trends the paper describes for the maximum excess pressure and the critical current.
"""

from __future__ import annotations

import numpy as np
import pytest

from ssbscope.errors import ParameterError
from ssbscope.interface import (
    contour_sweep,
    creep_pressure,
    critical_current,
    critical_current_from,
    current_distribution,
    grid_convergence,
)
from ssbscope.interface.creep import li_flow_stress_mpa
from ssbscope.materials import FARADAY_C_MOL, M_LI_G_MOL, RHO_LI_G_CM3

COMMON = {"conductivity_s_cm": 2e-3, "thickness_um": 1000.0, "geometric_current_ma_cm2": 1.0}
N_LI = 6.56


def _dist(shape, H, S, rct=10.0, n=12, i=1.0):
    return current_distribution(shape, H, S, r_ct_ohm_cm2=rct, n_xy=n, n_zeta=n,
                                **{**COMMON, "geometric_current_ma_cm2": i})


def test_flat_interface_has_no_excess_pressure():
    p = creep_pressure(_dist("flat", 0, 0, n=8))
    assert p.max_excess_pressure_mpa == 0.0
    assert p.max_compressive_excess_pressure_mpa == 0.0
    assert np.all(p.excess_pressure_mpa == 0.0)


def test_newtonian_egg_box_matches_analytic_small_slope_solution():
    # n = 1, uniform current per true area (R_ct -> inf), small slope:
    # p = -2 eta div U, U = V grad h  ->  p_max = 2 eta V k^2 H at the Li tip
    H, S = 0.5, 150.0
    d = _dist("egg-box", H, S, rct=1e6, n=16)
    p = creep_pressure(d, stress_exponent=1.0)
    eta = 0.8 / (3 * 5e-4)  # MPa s, from the reference point of the creep law
    V = 1e-3 * (M_LI_G_MOL / RHO_LI_G_CM3) / FARADAY_C_MOL * 1e4  # um/s at 1 mA/cm2
    k = 2 * np.pi / S
    expected = 2 * eta * V * k ** 2 * H
    assert p.max_compressive_excess_pressure_mpa == pytest.approx(expected, rel=0.02)
    assert p.max_excess_pressure_mpa == pytest.approx(expected, rel=0.02)
    assert p.plating_rate_um_s == pytest.approx(V, rel=1e-6)
    # the maximum sits at the Li protrusion (maximum of the Li height)
    h = np.concatenate([d.li_height_um, d.li_height_um[-2:0:-1]], axis=0)
    h = np.concatenate([h, h[:, -2:0:-1]], axis=1)
    assert h.flat[np.argmax(p.excess_pressure_mpa)] == pytest.approx(h.max())
    # the mean of the excess is zero (the mean interfacial pressure is the stack pressure)
    assert abs(p.excess_pressure_mpa.mean()) < 1e-12


def test_power_law_scalings_with_height_and_current():
    # velocities scale with H (small slope, uniform current) and with i -> p ~ (.)^(1/n)
    pa = creep_pressure(_dist("egg-box", 0.2, 150, rct=1e6)).max_excess_pressure_mpa
    pb = creep_pressure(_dist("egg-box", 0.8, 150, rct=1e6)).max_excess_pressure_mpa
    assert pa / pb == pytest.approx(0.25 ** (1 / N_LI), rel=0.01)
    p1 = creep_pressure(_dist("egg-box", 25, 150, i=1.0)).max_excess_pressure_mpa
    p2 = creep_pressure(_dist("egg-box", 25, 150, i=2.0)).max_excess_pressure_mpa
    assert p2 / p1 == pytest.approx(2 ** (1 / N_LI), rel=1e-9)
    # H -> 0: the excess vanishes (as H^(1/n))
    small = [creep_pressure(_dist("egg-box", h, 150, rct=1e6)).max_excess_pressure_mpa
             for h in (1.0, 1e-2, 1e-4)]
    assert small[0] > small[1] > small[2] > 0
    assert small[2] / small[0] == pytest.approx(1e-4 ** (1 / N_LI), rel=0.01)


def test_max_pressure_trends_of_fig3():
    # Fig. 3c: rises with H at S = 150 um; Fig. 3f: rises as S falls at H = 25 um
    pH = [creep_pressure(_dist("egg-box", H, 150)).max_excess_pressure_mpa for H in (5, 25, 50, 75)]
    assert np.all(np.diff(pH) > 0), pH
    pS = [creep_pressure(_dist("egg-box", 25, S)).max_excess_pressure_mpa for S in (225, 150, 75, 50)]
    assert np.all(np.diff(pS) > 0), pS
    # fixed H/S: the creep paths scale with S, the rates as 1/S -> falls with feature size
    pR = [creep_pressure(_dist("egg-box", H, S)).max_excess_pressure_mpa
          for H, S in ((5, 30), (25, 150), (50, 300))]
    assert np.all(np.diff(pR) < 0), pR


def test_critical_current_closed_form_and_flat_limit():
    c = critical_current("flat", 0, 0, r_ct_ohm_cm2=10.0, conductivity_s_cm=2e-3,
                         thickness_um=1000.0, flat_critical_current_ma_cm2=1.7, n_xy=8)
    assert c.critical_current_ma_cm2 == pytest.approx(1.7, rel=1e-12)
    assert c.gain_over_flat == pytest.approx(1.0, rel=1e-12)
    d = _dist("egg-box", 25, 150)
    p = creep_pressure(d)
    cc = critical_current_from(d, p, flat_critical_current_ma_cm2=2.0, critical_pressure_mpa=10.0)
    i, r, p1 = cc.critical_current_ma_cm2, cc.max_over_geometric, cc.max_excess_pressure_mpa_at_1
    # r i = i_g(dp) with i_g(dp) = i_g0 (1 - dp / p_c)^n and dp = P1 i^(1/n)
    assert r * i == pytest.approx(2.0 * (1 - p1 * i ** (1 / N_LI) / 10.0) ** N_LI, rel=1e-10)
    # no pressure: growth set by the current maximum alone
    none = critical_current_from(d, p, critical_pressure_mpa=1e12)
    assert none.critical_current_ma_cm2 == pytest.approx(1.0 / r, rel=1e-9)


@pytest.mark.parametrize("n_xy", [12, 16])
def test_egg_box_beats_pyramids_and_frustums_and_gain_bounded(n_xy):
    shapes = contour_sweep([(25, 150)], shapes=("egg-box", "pyramid", "frustum"), n_xy=n_xy)
    cc = dict(zip(shapes["shape"], shapes["critical_current_ma_cm2"]))
    assert cc["egg-box"] > cc["pyramid"] and cc["egg-box"] > cc["frustum"], cc
    # r >= 1 / area_ratio, so no contour can beat flat by more than its area ratio
    assert np.all(shapes["gain_over_flat"] <= shapes["area_ratio"] + 1e-9)
    assert shapes["gain_over_flat"].max() < 1.6


def test_critical_current_falls_with_size_at_fixed_ratio_and_gain_bounded():
    # 003_ Fig. 2a / 4c: same H/S, larger features -> lower critical current
    df = contour_sweep([(25, 150), (50, 300), (100, 600)], n_xy=10)
    assert np.all(np.diff(df["critical_current_ma_cm2"].to_numpy()) < 0), df
    steep = contour_sweep([(25, 50), (75, 150), (150, 150)], n_xy=10, r_ct_ohm_cm2=20.0)
    assert np.all(steep["gain_over_flat"] <= steep["area_ratio"] + 1e-9)
    assert steep["gain_over_flat"].max() < 1.6


def test_flow_stress_and_bad_input():
    assert li_flow_stress_mpa(5e-4) == pytest.approx(0.8)
    assert li_flow_stress_mpa(5e-4 * 2 ** N_LI) == pytest.approx(1.6)
    d = _dist("egg-box", 25, 150, n=8)
    with pytest.raises(ParameterError, match="stress_exponent"):
        creep_pressure(d, stress_exponent=float("nan"))
    with pytest.raises(ParameterError, match="reference_stress_mpa"):
        creep_pressure(d, reference_stress_mpa=-1.0)
    with pytest.raises(ParameterError, match="critical_pressure_mpa"):
        critical_current_from(d, creep_pressure(d), critical_pressure_mpa=0.0)
    with pytest.raises(ParameterError, match="strain_rate_1_s"):
        li_flow_stress_mpa(-1.0)


def test_egg_box_pressure_grid_converged():
    df = grid_convergence("egg-box", 25, 150, grids=(10, 12, 16), r_ct_ohm_cm2=10.0)
    assert df["pressure_rel_change_vs_finest"].iloc[1] < 0.02, df
    assert df["max_excess_pressure_mpa"].iloc[-1] > 0
