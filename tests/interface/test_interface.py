"""Contoured-interface current distribution (003_103f2bf5a3479ade); creep in test_creep.py."""

from __future__ import annotations

import numpy as np
import pytest

from ssbscope.errors import ParameterError
from ssbscope.interface import (
    area_ratio,
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
    assert area_ratio("pyramid", 25, 150, tip_radius_um=0.05) == pytest.approx(
        np.sqrt(1 + (2 * 25 / 150) ** 2), rel=1e-3)
    assert area_ratio("flat", 0, 0) == 1.0


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
