"""Contoured-interface current, creep pressure and critical current (003_103f2bf5a3479ade)."""

from __future__ import annotations

import numpy as np
import pytest

from ssbscope.errors import ParameterError
from ssbscope.interface import (
    area_ratio,
    contour_sweep,
    creep_pressure,
    critical_current,
    current_distribution,
    grid_convergence,
)

COMMON = dict(conductivity_s_cm=2e-3, thickness_um=1000.0, geometric_current_ma_cm2=1.0)


@pytest.mark.parametrize("rct", [None, 10.0])
def test_flat_interface_gives_uniform_current(rct):
    r = current_distribution("flat", 0, 0, r_ct_ohm_cm2=rct, n_xy=8, n_zeta=8, **COMMON)
    assert r.max_local_current_ma_cm2 == pytest.approx(1.0, rel=5e-3)
    np.testing.assert_allclose(r.local_current_ma_cm2, 1.0, rtol=1e-9)
    assert r.area_ratio == 1.0


@pytest.mark.parametrize("shape", ["egg-box", "pyramid", "frustum"])
def test_huge_rct_gives_uniform_current_per_true_area(shape):
    r = current_distribution(shape, 25, 150, r_ct_ohm_cm2=1e6, n_xy=12, n_zeta=12, **COMMON)
    j = r.local_current_ma_cm2
    assert j.max() / j.min() == pytest.approx(1.0, abs=5e-3)
    # uniform per true area: the projected mean is the geometric current
    assert r.max_local_current_ma_cm2 == pytest.approx(1.0 / r.area_ratio, rel=5e-3)


def test_conservation_and_current_scaling():
    a = current_distribution("egg-box", 25, 150, n_xy=12, n_zeta=12, **COMMON)
    assert a.flux_balance < 1e-8
    assert a.projected_current_ma_cm2.mean() == pytest.approx(1.0, rel=0.02)
    b = current_distribution("egg-box", 25, 150, n_xy=12, n_zeta=12,
                             **{**COMMON, "geometric_current_ma_cm2": 3.0})
    np.testing.assert_allclose(b.local_current_ma_cm2, 3 * a.local_current_ma_cm2, rtol=1e-9)
    # the current is highest at the Li tip (farthest protrusion into the electrolyte)
    ij = np.unravel_index(np.argmax(a.local_current_ma_cm2), a.local_current_ma_cm2.shape)
    assert a.li_height_um[ij] == pytest.approx(a.li_height_um.max())


def test_primary_maximum_invariant_at_fixed_h_over_s_and_kinetic_rises_with_size():
    prim = [current_distribution("egg-box", H, S, n_xy=12, n_zeta=12, **COMMON).max_over_geometric
            for H, S in ((5, 30), (25, 150), (100, 600))]
    assert prim[0] == pytest.approx(prim[1], rel=1e-6)
    assert prim[2] == pytest.approx(prim[1], rel=1e-6)
    kin = [current_distribution("egg-box", H, S, r_ct_ohm_cm2=10.0, n_xy=12, n_zeta=12,
                                **COMMON).max_over_geometric
           for H, S in ((5, 30), (25, 150), (100, 600))]
    assert kin[0] < kin[1] < kin[2] < prim[0]


def test_grid_convergence_within_two_percent():
    df = grid_convergence("egg-box", 25, 150, grids=(12, 16, 24))
    assert df["rel_change_vs_finest"].iloc[1] < 0.02
    assert df["rel_change_vs_finest"].iloc[1] < df["rel_change_vs_finest"].iloc[0]
    dk = grid_convergence("pyramid", 25, 150, grids=(16, 24), r_ct_ohm_cm2=10.0)
    assert dk["rel_change_vs_finest"].iloc[0] < 0.02


def test_area_ratio_against_analytic():
    # small-slope egg-box: 1 + (k H)^2 / 16 + O(H^4)
    H, S = 2.0, 150.0
    k = 2 * np.pi / S
    assert area_ratio("egg-box", H, S) - 1 == pytest.approx((k * H) ** 2 / 16, rel=2e-3)
    # sharp square pyramids: every face has slope 2H/S
    assert area_ratio("pyramid", 25, 150, edge_radius_fraction=1e-5) == pytest.approx(
        np.sqrt(1 + (2 * 25 / 150) ** 2), rel=1e-3)
    assert area_ratio("flat", 0, 0) == 1.0


def test_creep_pressure_flat_zero_and_scaling_between_mechanisms():
    flat = current_distribution("flat", 0, 0, r_ct_ohm_cm2=10.0, n_xy=8, n_zeta=8, **COMMON)
    assert creep_pressure(flat).max_excess_pressure_mpa == 0.0
    d1 = current_distribution("egg-box", 25, 150, r_ct_ohm_cm2=10.0, n_xy=12, n_zeta=12, **COMMON)
    d2 = current_distribution("egg-box", 25, 150, r_ct_ohm_cm2=10.0, n_xy=12, n_zeta=12,
                              **{**COMMON, "geometric_current_ma_cm2": 2.0})
    p1 = creep_pressure(d1)
    p2 = creep_pressure(d2)
    assert p1.max_excess_pressure_mpa > 0
    ratio = p2.max_excess_pressure_mpa / p1.max_excess_pressure_mpa
    # power law (n = 6.56) alone: 2^(1/n); linear mechanism alone: 2
    assert 2 ** (1 / 6.56) - 1e-6 <= ratio <= 2.0
    # the mean excess pressure is zero (the mean is the stack pressure)
    assert abs(p1.excess_pressure_mpa.mean()) < 1e-9
    # a pure power law (transition stress -> 0) gives exactly 2^(1/n)
    q1 = creep_pressure(d1, transition_stress_mpa=1e-9)
    q2 = creep_pressure(d2, transition_stress_mpa=1e-9)
    assert q2.max_excess_pressure_mpa / q1.max_excess_pressure_mpa == pytest.approx(
        2 ** (1 / 6.56), rel=1e-4)


def test_egg_box_best_and_gain_bounded():
    shapes = contour_sweep([(25, 150)], shapes=("egg-box", "pyramid", "frustum"), n_xy=16)
    cc = dict(zip(shapes["shape"], shapes["critical_current_ma_cm2"]))
    assert cc["egg-box"] > cc["pyramid"] and cc["egg-box"] > cc["frustum"]
    sweep = contour_sweep([(25, 150), (75, 150), (150, 150)], n_xy=12, r_ct_ohm_cm2=20.0)
    # r >= 1/area_ratio, so no contour can beat flat by more than its area ratio
    assert np.all(sweep["gain_over_flat"] <= sweep["area_ratio"] + 1e-9)
    assert sweep["gain_over_flat"].max() < 1.6


def test_critical_current_flat_equals_flat_value():
    c = critical_current("flat", 0, 0, r_ct_ohm_cm2=10.0, conductivity_s_cm=2e-3,
                         thickness_um=1000.0, flat_critical_current_ma_cm2=1.7, n_xy=8)
    assert c.critical_current_ma_cm2 == pytest.approx(1.7, rel=1e-9)
    assert c.gain_over_flat == pytest.approx(1.0, rel=1e-9)


def test_bad_input():
    with pytest.raises(ParameterError, match="height_um"):
        current_distribution("egg-box", 0, 150, **COMMON)
    with pytest.raises(ParameterError, match="separation_um"):
        current_distribution("pyramid", 25, -1, **COMMON)
    with pytest.raises(ParameterError, match="shape"):
        current_distribution("cone", 25, 150, **COMMON)
    with pytest.raises(ParameterError, match="height_um"):
        current_distribution("frustum", float("nan"), 150, **COMMON)
    with pytest.raises(ParameterError, match="conductivity_s_cm"):
        current_distribution("egg-box", 25, 150, **{**COMMON, "conductivity_s_cm": float("inf")})
    with pytest.raises(ParameterError, match="r_ct_ohm_cm2"):
        current_distribution("egg-box", 25, 150, r_ct_ohm_cm2=float("nan"), **COMMON)
    with pytest.raises(ParameterError, match="thickness_um"):
        current_distribution("egg-box", 25, 150, **{**COMMON, "thickness_um": 20.0})
    with pytest.raises(ParameterError, match="n_xy"):
        current_distribution("egg-box", 25, 150, n_xy=2, **COMMON)
