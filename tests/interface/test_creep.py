"""Creep pressure and dendrite criterion on contoured interfaces (003_103f2bf5a3479ade Figs. 3-4).

Checks against analytic limits of the small-slope Stokes model (flat -> 0; Newtonian egg-box
``p_max = 2 eta V k^2 H`` with the Nabarro-Herring viscosity ``k_B T d^2 / (3 A D Omega)`` at
small H; the power law ``i^(1/n)`` at high rates), the limits of the combined creep law, the
self-consistent criterion, grid convergence of the pressure and the trends of the paper that
the model reproduces.
"""

from __future__ import annotations

import math

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
from ssbscope.interface.creep import CreepLaw, critical_pressure_mpa, li_flow_stress_mpa
from ssbscope.materials import FARADAY_C_MOL, M_LI_G_MOL, RHO_LI_G_CM3

# The analytic references below (and the paper's trends of the small-slope model) are those of
# the Li mean stress, the labelled alternative ``stress="mean"``; the default normal traction
# is checked in test_halfspace_stress.py (against a finite-element Stokes solve) and its
# finite-slope trends in test_stokes.py.
_creep_pressure, _contour_sweep, _critical_current = creep_pressure, contour_sweep, critical_current
_grid_convergence = grid_convergence


def creep_pressure(*a, **k):  # noqa: F811 - the mean-stress variant of these tests
    return _creep_pressure(*a, **{"stress": "mean", **k})


def contour_sweep(*a, **k):  # noqa: F811
    return _contour_sweep(*a, **{"stress": "mean", **k})


def critical_current(*a, **k):  # noqa: F811
    return _critical_current(*a, **{"stress": "mean", **k})


def grid_convergence(*a, **k):  # noqa: F811
    return _grid_convergence(*a, **{"stress": "mean", **k})


COMMON = {"conductivity_s_cm": 2e-3, "thickness_um": 1000.0, "geometric_current_ma_cm2": 1.0}
N_LI = 6.56
V1 = 1e-3 * (M_LI_G_MOL / RHO_LI_G_CM3) / FARADAY_C_MOL * 1e4  # um/s at 1 mA/cm2


def _dist(shape, H, S, rct=10.0, n=12, i=1.0):
    return current_distribution(shape, H, S, r_ct_ohm_cm2=rct, n_xy=n, n_zeta=n,
                                **{**COMMON, "geometric_current_ma_cm2": i})


def test_flat_interface_zero_pressure_and_gain_exactly_one():
    p = creep_pressure(_dist("flat", 0, 0, n=8))
    assert p.max_excess_pressure_mpa == 0.0 and p.site_excess_pressure_mpa == 0.0
    assert np.all(p.excess_pressure_mpa == 0.0)
    c = critical_current("flat", 0, 0, r_ct_ohm_cm2=10.0, conductivity_s_cm=2e-3,
                         thickness_um=1000.0, flat_critical_current_ma_cm2=1.7, n_xy=8)
    assert c.critical_current_ma_cm2 == 1.7
    assert c.gain_over_flat == 1.0
    assert c.site_excess_pressure_mpa_at_critical == 0.0


def test_newtonian_power_law_limit_matches_analytic_small_slope_solution():
    # n = 1 without diffusional creep, uniform current per true area, small slope:
    # p = -2 eta div U, U = V grad h  ->  p_max = 2 eta V k^2 H at the Li tip
    H, S = 0.5, 150.0
    d = _dist("egg-box", H, S, rct=1e6, n=16)
    p = creep_pressure(d, stress_exponent=1.0, grain_size_um=None)
    eta = 0.8 / (3 * 5e-4)  # MPa s, from the reference point of the creep law
    expected = 2 * eta * V1 * (2 * np.pi / S) ** 2 * H
    # (uniform current: the site of maximum current is not defined; use the maximum)
    assert p.max_compressive_excess_pressure_mpa == pytest.approx(expected, rel=0.02)
    assert p.plating_rate_um_s == pytest.approx(V1, rel=1e-6)
    assert abs(p.excess_pressure_mpa.mean()) < 1e-12


def test_small_contours_are_diffusional_pressure_linear_in_height():
    # default law: at small H the strain rate is far below the diffusional/power-law
    # crossover, so eta = k_B T d^2 / (3 A_NH D Omega) and p = 2 eta V k^2 H (003_ flat limit)
    S, d_um = 150.0, 2.0
    kT = 1.380649e-23 * 298.15
    omega = M_LI_G_MOL / RHO_LI_G_CM3 / 6.02214076e23 * 1e-6
    eta_nh = kT * (d_um * 1e-6) ** 2 / (3 * 14.0 * 5e-11 * 1e-4 * omega) * 1e-6  # MPa s
    k = 2 * np.pi / S
    ps = []
    for H in (0.05, 0.1):
        p = creep_pressure(_dist("egg-box", H, S, rct=1e6, n=12), grain_size_um=d_um)
        pm = p.max_compressive_excess_pressure_mpa
        assert pm == pytest.approx(2 * eta_nh * V1 * k ** 2 * H, rel=0.02)
        ps.append(pm)
    assert ps[1] / ps[0] == pytest.approx(2.0, rel=0.01)  # p proportional to H
    # the pure power law instead gives p ~ H^(1/n): a finite jump from flat
    pw = [creep_pressure(_dist("egg-box", H, S, rct=1e6), grain_size_um=None
                         ).max_compressive_excess_pressure_mpa for H in (0.05, 0.1)]
    assert pw[1] / pw[0] == pytest.approx(2 ** (1 / N_LI), rel=0.01)


def test_combined_creep_law_reduces_to_each_regime():
    law = CreepLaw(grain_size_um=2.0)
    a = law.diffusional_coefficient_1_mpa_s
    for e in (1e-9, 1e-8):  # diffusional: sigma = eps / a
        assert law.flow_stress_mpa(e) == pytest.approx(e / a, rel=1e-3)
    for e in (1.0, 10.0):  # power law: sigma = sigma_ref (eps / eps_ref)^(1/n)
        assert law.flow_stress_mpa(e) == pytest.approx(0.8 * (e / 5e-4) ** (1 / N_LI), rel=1e-3)
    e = np.array([1e-7, 3e-5, 2e-3])
    np.testing.assert_allclose(law.strain_rate_1_s(law.flow_stress_mpa(e)), e, rtol=1e-10)
    # strain rates add: the combined flow stress is below both single-mechanism stresses
    s = law.flow_stress_mpa(3e-5)
    assert s < min(3e-5 / a, li_flow_stress_mpa(3e-5))
    assert li_flow_stress_mpa(5e-4) == pytest.approx(0.8)
    assert law.secant_viscosity_mpa_s(0.0) == pytest.approx(1 / (3 * a))


def test_self_consistent_criterion_and_fracture_pressure():
    assert critical_pressure_mpa(0.25, 10.0) == pytest.approx(
        0.25 / (1.12 * math.sqrt(math.pi * 10e-6)), rel=1e-12)
    d = _dist("egg-box", 25, 75)
    p = creep_pressure(d)
    cc = critical_current_from(d, p, flat_critical_current_ma_cm2=2.0, flaw_depth_um=30.0)
    i, r, pc = cc.critical_current_ma_cm2, cc.max_over_geometric, cc.critical_pressure_mpa
    assert pc == pytest.approx(critical_pressure_mpa(0.25, 30.0))
    dp = p.site_pressure_at(i)
    assert dp == pytest.approx(cc.site_excess_pressure_mpa_at_critical, rel=1e-12)
    assert r * i == pytest.approx(2.0 * (1 - dp / pc) ** N_LI, rel=1e-9)
    # pressure scaling between currents: between linear (diffusional) and i^(1/n)
    ratio = p.site_pressure_at(2.0) / p.site_pressure_at(1.0)
    assert 2 ** (1 / N_LI) < ratio < 2.0
    # no pressure: growth set by the current maximum alone; override of p_c
    none = critical_current_from(d, p, critical_pressure_mpa=1e12)
    assert none.critical_current_ma_cm2 == pytest.approx(1.0 / r, rel=1e-9)
    assert none.critical_pressure_mpa == 1e12


def test_max_pressure_rises_with_height_and_falls_with_separation():
    # 003_ Fig. 3c,f: at the dendrite site, up with H at S = 150 um, up as S falls at H = 25
    pH = [creep_pressure(_dist("egg-box", H, 150)).site_excess_pressure_mpa for H in (5, 25, 50)]
    assert np.all(np.diff(pH) > 0), pH
    pS = [creep_pressure(_dist("egg-box", 25, S)).site_excess_pressure_mpa for S in (225, 150, 75)]
    assert np.all(np.diff(pS) > 0), pS


def test_paper_trends_shapes_size_and_bounded_gain():
    sh = contour_sweep([(25, 150)], shapes=("egg-box", "pyramid", "frustum"), n_xy=12)
    cc = dict(zip(sh["shape"], sh["critical_current_ma_cm2"]))
    assert cc["egg-box"] > cc["pyramid"] and cc["egg-box"] > cc["frustum"], cc
    # the compressive maximum sits at the site of maximum current (003_ Fig. S3)
    np.testing.assert_allclose(sh["site_excess_pressure_mpa"],
                               sh["max_compressive_excess_pressure_mpa"], rtol=1e-9)
    # same H/S, larger features -> lower critical current (kinetics, 003_ Fig. 2a, 4c)
    ratio = contour_sweep([(5, 30), (25, 150), (100, 600)], n_xy=12)
    assert np.all(np.diff(ratio["critical_current_ma_cm2"].to_numpy()) < 0), ratio
    # steep egg-boxes beat flat, boundedly (r >= 1 / area_ratio); nearly flat ~ flat
    steep = contour_sweep([(5, 150), (25, 50), (75, 150)], n_xy=12)
    g = steep["gain_over_flat"].to_numpy()
    assert np.all(g <= steep["area_ratio"].to_numpy() + 1e-9)
    assert abs(g[0] - 1.0) < 0.05
    assert 1.15 < g.max() < 1.8


@pytest.mark.parametrize("shape", ["pyramid", "frustum"])
def test_pressure_of_rounded_shapes_grid_converged(shape):
    df = grid_convergence(shape, 25, 150, grids=(10, 16), r_ct_ohm_cm2=10.0)
    assert df["site_pressure_rel_change_vs_finest"].iloc[0] < 0.02, df
    assert df["pressure_rel_change_vs_finest"].iloc[0] < 0.02, df
    d = _dist(shape, 25, 150)
    fine = creep_pressure(d, pressure_spacing_um=0.25).site_excess_pressure_mpa
    assert creep_pressure(d).site_excess_pressure_mpa == pytest.approx(fine, rel=0.02)
    # a sharper edge concentrates the converging Li flow: more pressure
    sharp = creep_pressure(current_distribution(shape, 25, 150, r_ct_ohm_cm2=10.0, n_xy=12,
                                                n_zeta=12, tip_radius_um=1.0, **COMMON))
    assert sharp.site_excess_pressure_mpa > 1.2 * fine


def test_egg_box_pressure_grid_converged():
    df = grid_convergence("egg-box", 25, 150, grids=(10, 12, 16), r_ct_ohm_cm2=10.0)
    assert df["pressure_rel_change_vs_finest"].iloc[1] < 0.02, df
    assert df["site_pressure_rel_change_vs_finest"].iloc[1] < 0.02, df
    assert df["max_excess_pressure_mpa"].iloc[-1] > 0


def test_bad_input():
    d = _dist("egg-box", 25, 150, n=8)
    for bad in (float("nan"), -1.0, float("inf"), 0.0):
        with pytest.raises(ParameterError, match="grain_size_um"):
            creep_pressure(d, grain_size_um=bad)
        with pytest.raises(ParameterError, match="flaw_depth_um"):
            critical_current_from(d, creep_pressure(d), flaw_depth_um=bad)
        with pytest.raises(ParameterError, match="fracture_toughness_mpa_m05"):
            critical_pressure_mpa(bad, 10.0)
        with pytest.raises(ParameterError, match="tip_radius_um"):
            current_distribution("pyramid", 25, 150, tip_radius_um=bad, **COMMON)
    with pytest.raises(ParameterError, match="stress_exponent"):
        creep_pressure(d, stress_exponent=float("nan"))
    with pytest.raises(ParameterError, match="critical_pressure_mpa"):
        critical_current_from(d, creep_pressure(d), critical_pressure_mpa=0.0)
    with pytest.raises(ParameterError, match="strain_rate_1_s"):
        li_flow_stress_mpa(-1.0)
    with pytest.raises(ParameterError, match="tip_radius_um"):
        current_distribution("frustum", 25, 150, tip_radius_um=20.0, **COMMON)
