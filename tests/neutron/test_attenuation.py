"""Neutron cross-sections, spectrum and lithium thickness from Beer-Lambert."""

import numpy as np
import pytest

from ssbscope.errors import ParameterError
from ssbscope.neutron.attenuation import (Spectrum, cold_spectrum, effective_wavelength_a,
                                          li_cross_section_1_cm, li_thickness_change_um,
                                          macroscopic_cross_section_1_cm, spectrum_transmission)


def test_li_cross_section_from_sears_table_by_hand():
    # natural Li: n = rho N_A / M; sigma_tot(1.798 A) = 1.37 b scatt + 70.5 b abs (Sears 1992, 7.5 % 6Li)
    n = 0.534 * 6.02214076e23 / 6.941
    expected = n * (1.37 + 70.5) * 1e-24
    assert macroscopic_cross_section_1_cm("Li", 1.798, li6_fraction=0.075) == pytest.approx(expected, rel=3e-3)


def test_absorption_follows_one_over_v_and_li7_is_transparent():
    s1, s2 = li_cross_section_1_cm(np.array([1.0, 4.0]))
    n = 0.534 * 6.02214076e23 / 6.941
    scat = n * 1.367e-24
    assert (s2 - scat) / (s1 - scat) == pytest.approx(4.0, rel=1e-3)
    assert li_cross_section_1_cm(1.798, li6_fraction=0.0) < 0.05 * li_cross_section_1_cm(1.798)


def test_cold_spectrum_peaks_at_2p6_angstrom():
    sp = cold_spectrum(n=520)
    assert sp.wavelength_a[np.argmax(sp.weight)] == pytest.approx(2.6, abs=0.02)
    assert sp.weight.sum() == pytest.approx(1.0)
    assert 2.6 < effective_wavelength_a(sp) < 3.6


def test_monochromatic_limit_is_plain_beer_lambert():
    sp = Spectrum(np.array([3.0]), np.array([1.0]))
    sig = li_cross_section_1_cm(3.0)
    ratio = np.array([0.9, 1.0, 1.1])
    dx = li_thickness_change_um(ratio, spectrum=sp)
    np.testing.assert_allclose(dx, -np.log(ratio) / sig * 1e4, rtol=1e-6, atol=1e-6)


def test_polychromatic_round_trip_with_hardening():
    sp = cold_spectrum()
    x0, dx = 0.2, 0.005  # cm of Li
    t0 = spectrum_transmission({"Li": x0}, sp)
    t1 = spectrum_transmission({"Li": x0 + dx}, sp)
    est = li_thickness_change_um(np.array([t1 / t0]), np.array([t0]), spectrum=sp)
    assert float(est[0]) == pytest.approx(dx * 1e4, rel=1e-3)
    # ignoring the hardening by the Li already there overestimates the attenuation per µm
    naive = li_thickness_change_um(np.array([t1 / t0]), spectrum=sp)
    assert float(naive[0]) < 0.9 * dx * 1e4


def test_invalid_pixels_are_masked_not_nan():
    est = li_thickness_change_um(np.array([0.9, -1.0, np.nan]))
    assert est.mask.tolist() == [False, True, True]
    assert np.all(np.isfinite(est.data))


def test_unknown_element_and_bad_spectrum():
    from ssbscope.materials import Material

    with pytest.raises(ParameterError, match="without neutron cross-sections"):
        macroscopic_cross_section_1_cm(Material("U", {"U": 1.0}, 19.0), 2.0)
    with pytest.raises(ParameterError, match="increasing"):
        Spectrum(np.array([2.0, 1.0]), np.array([1.0, 1.0]))
