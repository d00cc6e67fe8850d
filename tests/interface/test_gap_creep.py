"""Li creep into the gap beside the pellet (Cao et al. 2023, Fig. 6): reduced model checks.

References: Stefan's squeeze film (Newtonian disc, p = 3 mu s (R^2 - r^2) / t^3, mean
3 mu s R^2 / (2 t^3)), volume conservation, and the trends the paper reports (pressure
rising during the charge, Li accumulating in the gap)."""

import math

import numpy as np
import pytest

from ssbscope.errors import ParameterError
from ssbscope.interface.gap_creep import compare_gap_volume, gap_creep, squeeze_outflow_um_s


def test_newtonian_limit_is_stefans_squeeze_film():
    # n = 1: gamma = A tau with A = sqrt(3) eps_ref sqrt(3) / sigma_ref = 3 eps_ref / sigma_ref,
    # i.e. mu = sigma_ref / (3 eps_ref); Stefan: mean pressure 3 mu s R^2 / (2 t^3)
    R, t, p = 3000.0, 100.0, 5.0
    mu = 0.8 / (3 * 5e-4)
    s = squeeze_outflow_um_s(p, radius_um=R, thickness_um=t, gap_um=50.0, stress_exponent=1.0)
    assert s == pytest.approx(p * 2 * t ** 3 / (3 * mu * R ** 2), rel=1e-12)
    # a filled gap adds resistance: less outflow at the same pressure
    s2 = squeeze_outflow_um_s(p, radius_um=R, thickness_um=t, gap_um=50.0, gap_fill_um=500.0,
                              stress_exponent=1.0)
    assert s2 < s


def test_plated_volume_is_conserved_and_the_pressure_rises_during_the_charge():
    r = gap_creep(20 * 3600.0)  # C/20 for 20 h, the paper's cell (module defaults)
    assert r.conservation_error < 1e-9
    # Li plated (Faraday: 0.25 mA/cm2 x 20 h = 5 mAh/cm2 = 24 um over the disc)
    assert r.plated_volume_um3[-1] / (math.pi * 3175.0 ** 2) == pytest.approx(24.3, rel=0.01)
    # the framework holds the stack: most plated Li ends in the gap, the pressure rises
    # (Cao et al. 2023, Fig. 6D,F)
    assert r.pressure_mpa[-1] > r.pressure_mpa[0] + 2.0
    assert 0.3 < r.gap_fraction[-1] < 1.0
    assert np.all(np.diff(r.gap_volume_um3) >= 0)


def test_assembled_cell_relaxes_without_current_and_a_stiffer_frame_pushes_more_li_out():
    r0 = gap_creep(3600.0, current_ma_cm2=0.0)
    assert np.all(np.diff(r0.pressure_mpa) <= 1e-12) and r0.pressure_mpa[-1] < 10.0
    assert r0.gap_fill_um[-1] > 0 and r0.conservation_error < 1e-9
    soft = gap_creep(10 * 3600.0, frame_stiffness_mpa_um=0.1)
    stiff = gap_creep(10 * 3600.0, frame_stiffness_mpa_um=10.0)
    assert stiff.pressure_mpa[-1] > soft.pressure_mpa[-1]
    assert stiff.gap_fraction[-1] > soft.gap_fraction[-1]


def test_comparison_with_a_measured_gap_volume():
    r = gap_creep(3600.0 * 5)
    t = np.linspace(0, 3600.0 * 5, 12)
    meas = 2.0 * np.interp(t, r.time_s, r.gap_volume_um3) + 7.0
    c = compare_gap_volume(r, t, meas)
    assert c["ratio"] == pytest.approx(2.0, rel=1e-9) and c["correlation"] == pytest.approx(1.0)
    with pytest.raises(ParameterError):
        gap_creep(-1.0)
