"""Tortuosity solver against analytic answers (always run) and bad input."""

from __future__ import annotations

import numpy as np
import pytest

from ssbscope.errors import EmptyResultError, InputError, ParameterError
from ssbscope.transport import (
    flux_map,
    percolating_network,
    slab_tortuosity,
    tortuosity,
    tortuosity_map,
    tortuosity_multiphase,
)


@pytest.mark.parametrize("axis", [0, 1, 2])
@pytest.mark.parametrize("width", [1, 3, 7])
def test_straight_channels_tau_one_any_porosity(axis, width):
    # channels along `axis`: tau == 1 whatever the porosity (TauFactor's uniform-block check)
    m = np.zeros((12, 12, 12), bool)
    sl = [slice(None)] * 3
    others = [d for d in range(3) if d != axis]
    sl[others[0]] = slice(2, 2 + width)
    m[tuple(sl)] = True
    r = tortuosity(m, axis=axis)
    assert r.porosity == pytest.approx(width / 12)
    assert r.tau == pytest.approx(1.0, rel=1e-6)
    assert r.d_eff_ratio == pytest.approx(width / 12, rel=1e-6)
    assert r.flux_imbalance < 1e-3


def test_straight_channels_periodic_and_2d():
    m = np.zeros((10, 9, 9), bool)
    m[:, ::3, ::2] = True
    assert tortuosity(m, periodic=True).tau == pytest.approx(1.0, rel=1e-6)
    m2 = np.zeros((20, 10), bool)
    m2[:, 4:6] = True
    r = tortuosity(m2, axis=0)
    assert r.tau == pytest.approx(1.0, rel=1e-6)
    assert r.potential.shape == (20, 10)


def test_layers_in_series_match_harmonic_mean():
    # layers normal to z: D_eff = L / sum(l_i / D_i) (exact for the half-voxel Dirichlet faces)
    lab = np.ones((30, 6, 5), np.int16)
    lab[10:25] = 2
    cond = {1: 1.0, 2: 0.1}
    r = tortuosity_multiphase(lab, cond, axis=0)
    expected = 30 / (15 / 1.0 + 15 / 0.1)
    assert r.d_eff == pytest.approx(expected, rel=5e-3)
    assert r.d_eff == pytest.approx(expected, rel=1e-6)  # in fact exact to solver tolerance
    assert r.tau == pytest.approx(((15 * 1.0 + 15 * 0.1) / 30) / expected, rel=1e-6)


def test_layers_in_parallel_match_arithmetic_mean():
    lab = np.ones((16, 12, 10), np.int16)
    lab[:, :4] = 2
    lab[:, 4:5] = 0  # a non-conducting sheet
    r = tortuosity_multiphase(lab, {1: 2.0, 2: 0.5}, axis=0)
    expected = (7 * 2.0 + 4 * 0.5) / 12
    assert r.d_eff == pytest.approx(expected, rel=5e-3)
    assert r.d_eff == pytest.approx(expected, rel=1e-6)
    # the same layers across y are in series
    r_y = tortuosity_multiphase(np.where(lab == 0, 1, lab), {1: 2.0, 2: 0.5}, axis=1)
    assert r_y.d_eff == pytest.approx(12 / (4 / 0.5 + 8 / 2.0), rel=1e-6)


def test_multiphase_single_phase_equals_binary():
    rng = np.random.default_rng(3)
    m = rng.random((14, 14, 14)) < 0.6
    rb = tortuosity(m)
    rm = tortuosity_multiphase(m.astype(np.uint8), {1: 1.0})
    assert rm.tau == pytest.approx(rb.tau, rel=1e-6)
    assert rm.d_eff_ratio == pytest.approx(rb.d_eff_ratio, rel=1e-6)


def test_dead_end_and_isolated_pores_do_not_change_d_eff():
    m = np.zeros((20, 15, 15), bool)
    m[:, 5:8, 5:8] = True  # straight channel
    base = tortuosity(m)
    dead = m.copy()
    dead[9, 8:14, 5:8] = True  # dead-end branch attached to the channel at one height
    dead[2:5, 1:3, 1:3] = True  # isolated pore
    r = tortuosity(dead)
    assert r.d_eff_ratio == pytest.approx(base.d_eff_ratio, rel=1e-6)
    assert r.porosity > base.porosity
    # tau follows TauFactor's definition with the whole phase volume: D_eff = D eps / tau
    assert r.tau == pytest.approx(r.porosity / r.d_eff_ratio, rel=1e-9)
    assert r.percolating_fraction == pytest.approx((m.sum() + 6 * 3) / dead.sum())
    net = percolating_network(dead, 0)
    assert not net[2:5, 1:3, 1:3].any() and net[9, 8:14, 5:8].all()
    # the dead end carries no net flux along z
    f = r.flux_field()
    assert np.abs(f[0, 9, 10:14, 5:8]).max() < 1e-4


def test_non_percolating_gives_inf_with_reason():
    m = np.zeros((10, 10, 10), bool)
    m[:4, 3:6, 3:6] = True
    m[6:, 3:6, 3:6] = True
    r = tortuosity(m)
    assert np.isinf(r.tau) and r.d_eff_ratio == 0.0
    assert "no connected path" in r.reason
    assert r.porosity == pytest.approx(m.mean())


def test_periodic_sides_join_clusters():
    # a staircase that percolates along z only through the periodic x boundary
    m = np.zeros((8, 4, 8), bool)
    m[:4, :, 6:] = True
    m[4:, :, :2] = True
    m[3:5, :, 7] = True
    m[3:5, :, 0] = True
    assert np.isinf(tortuosity(m).tau)
    r = tortuosity(m, periodic=True)
    assert np.isfinite(r.tau) and r.tau > 1


def test_flux_balance_and_tau_on_random_structure():
    rng = np.random.default_rng(0)
    m = rng.random((24, 24, 24)) < 0.7
    r = tortuosity(m, rtol=1e-8)
    assert r.relative_residual <= 1e-8
    assert r.flux_imbalance < 1e-6
    assert r.plane_flux.mean() == pytest.approx(r.d_eff, rel=1e-9)
    # a random structure is more tortuous than straight channels, but tau is finite
    assert 1.0 < r.tau < 5.0
    # TauFactor's definition holds exactly
    assert r.d_eff_ratio == pytest.approx(r.porosity / r.tau, rel=1e-12)


def test_flux_map_of_channel_is_one_inside_zero_outside():
    m = np.zeros((10, 8, 8), bool)
    m[:, 2:5, 3:6] = True
    r = tortuosity(m)
    fm = flux_map(r, 0, 5)
    assert fm.shape == (8, 8)
    np.testing.assert_allclose(fm[2:5, 3:6], 1.0, rtol=1e-5)
    assert np.all(fm[~m[5]] == 0)
    mag = flux_map(r, 2, 4, component="magnitude")
    assert mag.shape == (10, 8)


def test_slab_tortuosity_locates_the_tortuous_region():
    rng = np.random.default_rng(1)
    m = np.zeros((40, 20, 20), bool)
    m[:, 4:8, :] = True
    m[:, 12:16, :] = True
    m[20:30] = rng.random((10, 20, 20)) < 0.65  # a random, tortuous slab
    s = slab_tortuosity(m, 0, n_slabs=4)
    assert s.bounds.tolist() == [[0, 10], [10, 20], [20, 30], [30, 40]]
    np.testing.assert_allclose(s.tau[[0, 1, 3]], 1.0, rtol=1e-6)
    assert s.tau[2] > 1.05
    tmap = tortuosity_map(m, 0, tile_voxels=10)
    assert tmap.shape == (2, 2)


def test_inputs_not_modified_and_deterministic():
    rng = np.random.default_rng(5)
    m = rng.random((16, 16, 16)) < 0.6
    before = m.copy()
    a = tortuosity(m)
    b = tortuosity(m)
    assert np.array_equal(m, before)
    assert a.tau == b.tau
    assert np.array_equal(a.potential, b.potential, equal_nan=True)


def test_bad_input():
    with pytest.raises(EmptyResultError, match="all-solid"):
        tortuosity(np.zeros((5, 5, 5), bool))
    with pytest.raises(InputError, match="non-binary labels"):
        tortuosity(np.array([[[0, 85], [170, 0]]], dtype=np.uint8))
    with pytest.raises(InputError, match="NaN"):
        tortuosity(np.full((3, 3, 3), np.nan))
    with pytest.raises(InputError, match="2-D .* or 3-D"):
        tortuosity(np.ones(5, bool))
    with pytest.raises(ParameterError, match="axis"):
        tortuosity(np.ones((3, 3, 3), bool), axis=3)
    with pytest.raises(ParameterError, match="rtol"):
        tortuosity(np.ones((3, 3, 3), bool), rtol=float("nan"))
    with pytest.raises(ParameterError, match=r"conductivities\[2\]"):
        tortuosity_multiphase(np.ones((3, 3, 3), np.uint8), {1: 1.0, 2: -1.0})
    with pytest.raises(EmptyResultError, match="none of the labels"):
        tortuosity_multiphase(np.zeros((3, 3, 3), np.uint8), {1: 1.0})
