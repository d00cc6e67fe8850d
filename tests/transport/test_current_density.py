"""Current-density maps from thickness maps against Faraday's law."""

from __future__ import annotations

import numpy as np
import pytest

from ssbscope.errors import InputError, ParameterError
from ssbscope.materials import FARADAY_C_MOL, M_LI_G_MOL, RHO_LI_G_CM3
from ssbscope.transport import current_density_map, thickness_change_to_current_ma_cm2


def _faraday_dh_um(j_ma_cm2, dt_s):
    # independent inverse: charge per area -> moles -> volume -> thickness
    q_c_cm2 = np.asarray(j_ma_cm2) * 1e-3 * dt_s
    return q_c_cm2 / FARADAY_C_MOL * M_LI_G_MOL / RHO_LI_G_CM3 * 1e4


def test_faraday_three_mah_cm2_is_about_14_5_um():
    # 001_a2c994afa3295f29: 3 mAh/cm2 of Li is 14.5 um
    dt = 3600.0
    dh = _faraday_dh_um(3.0, dt)
    assert dh == pytest.approx(14.5, rel=0.01)
    assert thickness_change_to_current_ma_cm2(dh, dt) == pytest.approx(3.0, rel=1e-12)


def test_recovers_imposed_current_and_hotspots_on_synthetic_pair():
    rng = np.random.default_rng(7)
    ny, nx = 80, 100
    yy, xx = np.mgrid[0:ny, 0:nx]
    j_true = 1.0 + 3.0 * np.exp(-((yy - 20) ** 2 + (xx - 70) ** 2) / (2 * 4.0 ** 2))
    j_true -= 2.5 * np.exp(-((yy - 60) ** 2 + (xx - 25) ** 2) / (2 * 4.0 ** 2))
    dt = 1800.0
    h0 = 50 + rng.normal(0, 2.0, (ny, nx))
    h1 = h0 + _faraday_dh_um(j_true, dt) + rng.normal(0, 0.05, (ny, nx))
    before = h1.copy()
    r = current_density_map(h0, h1, dt, microstructure=j_true)
    assert np.array_equal(h1, before)
    assert r.mean_current_ma_cm2 == pytest.approx(j_true.mean(), rel=0.05)
    assert r.mean_current_ma_cm2 == pytest.approx(j_true.mean(), rel=0.01)
    assert r.correlation > 0.9
    plat = r.hotspots[r.hotspots.kind == "plating"]
    strip = r.hotspots[r.hotspots.kind == "stripping"]
    assert len(plat) == 1 and len(strip) == 1
    assert plat.centroid_y.iloc[0] == pytest.approx(20, abs=1.5)
    assert plat.centroid_x.iloc[0] == pytest.approx(70, abs=1.5)
    assert strip.centroid_y.iloc[0] == pytest.approx(60, abs=1.5)
    assert strip.peak_current_ma_cm2.iloc[0] < 0


def test_nan_and_mask_are_excluded():
    h0 = np.full((10, 10), 20.0)
    h1 = h0 + _faraday_dh_um(2.0, 600.0)
    h1[0, 0] = np.nan
    m = np.ones((10, 10), bool)
    m[5:] = False
    r = current_density_map(h0, h1, 600.0, mask=m)
    assert np.isnan(r.current_ma_cm2[0, 0]) and np.isnan(r.current_ma_cm2[7, 3])
    assert r.mean_current_ma_cm2 == pytest.approx(2.0, rel=1e-9)
    assert r.hotspots.empty


def test_bad_input():
    h = np.zeros((4, 4))
    with pytest.raises(InputError, match="register the maps"):
        current_density_map(h, np.zeros((4, 5)), 10.0)
    with pytest.raises(ParameterError, match="dt_s"):
        current_density_map(h, h, 0.0)
    with pytest.raises(ParameterError, match="dt_s"):
        current_density_map(h, h, float("inf"))
    with pytest.raises(InputError, match="no pixel is finite"):
        current_density_map(np.full((3, 3), np.nan), h[:3, :3], 1.0)
    with pytest.raises(InputError, match="2-D"):
        current_density_map(np.zeros(4), np.zeros(4), 1.0)
