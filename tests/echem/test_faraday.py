"""Faraday's law: charge <-> Li thickness <-> Li volume (reference: hand calculation, paper 001)."""

import numpy as np
import pytest

from ssbscope.echem import lithium_thickness_um, lithium_volume_um3, thickness_to_capacity_mah_cm2
from ssbscope.errors import ParameterError

F = 96485.33212
M_LI = 6.941
RHO = 0.534


def test_paper_value_3_mah_cm2_is_14_5_um():
    # 001_a2c994afa3295f29: 3.0 mAh cm^-2 of Li is 14.5 um thick
    assert lithium_thickness_um(3.0) == pytest.approx(14.5, abs=0.1)


def test_thickness_matches_independent_formula():
    q = np.array([0.1, 0.5, 3.0, 10.0])
    expected_um = q * 3.6 / F * M_LI / RHO * 1e4  # mol e- -> g -> cm^3 per cm^2 -> um
    np.testing.assert_allclose(lithium_thickness_um(q), expected_um, rtol=1e-12)


def test_round_trip_and_volume_consistency():
    q = np.linspace(0.0, 5.0, 11)
    np.testing.assert_allclose(thickness_to_capacity_mah_cm2(lithium_thickness_um(q)), q, rtol=1e-12)
    # 1 mAh spread over 1 cm^2 = 1e8 um^2: volume / area = thickness
    assert lithium_volume_um3(1.0) / 1e8 == pytest.approx(lithium_thickness_um(1.0), rel=1e-12)


def test_density_argument_scales_inversely():
    assert lithium_thickness_um(3.0, density_g_cm3=0.267) == pytest.approx(2 * lithium_thickness_um(3.0))


def test_scalar_in_scalar_out():
    assert isinstance(lithium_thickness_um(1.0), float)
    assert isinstance(lithium_volume_um3(2.0), float)


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_non_finite_rejected(bad):
    with pytest.raises(ParameterError, match="areal_capacity_mah_cm2"):
        lithium_thickness_um(bad)


def test_bad_density_rejected():
    with pytest.raises(ParameterError, match="density_g_cm3"):
        lithium_volume_um3(1.0, density_g_cm3=0.0)
