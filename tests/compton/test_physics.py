"""Compton kinematics and cross-sections against analytic values and xraylib."""

import numpy as np
import pytest
import xraylib

from ssbscope.compton import (compton_energy_kev, ddcs_cm2_sr_kev, dpz_de2_au_per_kev,
                              energy_from_momentum_kev, klein_nishina_cm2_sr, momentum_au, profile)
from ssbscope.errors import ParameterError
from ssbscope.materials import AVOGADRO


def test_compton_energy_paper_value():
    # 000_...: Compton peak at 93.9 keV, 21.1 keV below 115 keV
    assert compton_energy_kev(115.0, 90.0) == pytest.approx(93.88, abs=0.01)
    assert 115.0 - compton_energy_kev(115.0, 90.0) == pytest.approx(21.1, abs=0.05)
    # xraylib's own Compton energy (independent implementation)
    for e, a in [(115.0, 90.0), (60.0, 45.0), (200.0, 150.0)]:
        assert compton_energy_kev(e, a) == pytest.approx(xraylib.ComptonEnergy(e, np.radians(a)), rel=1e-7)  # mc2 constants differ


def test_momentum_zero_at_compton_energy_and_sign():
    ec = compton_energy_kev(115.0, 90.0)
    assert abs(momentum_au(ec, 115.0, 90.0)) < 1e-10
    e2 = np.linspace(80, 110, 301)
    pz = momentum_au(e2, 115.0, 90.0)
    assert np.all(np.diff(pz) > 0)  # monotonic in E2
    # antisymmetric to first order about E_C: sign flips, magnitudes agree to second order
    for d in (0.5, 2.0, 5.0):
        lo, hi = momentum_au(ec - d, 115.0, 90.0), momentum_au(ec + d, 115.0, 90.0)
        assert lo < 0 < hi
        assert abs(lo + hi) < 0.01 * d * hi  # second-order asymmetry only


def test_momentum_array_and_free_electron_limit():
    # |p_z| of 1 a.u. at 115 keV, 90 deg is ~1 keV from E_C (q ~ 148 keV): pz ~ dE * E1/(Ec q alpha)
    e2 = np.array([93.0, 94.5])
    pz = momentum_au(e2, 115.0, 90.0)
    assert pz.shape == (2,)
    q = np.hypot(115.0, 93.88)
    approx = (e2 - 93.874) * 115.0 / (93.874 * q) * 137.036
    assert np.allclose(pz, approx, rtol=0.03)


def test_jacobian_matches_numerical_derivative():
    e2 = np.linspace(70, 112, 50)
    h = 1e-4
    num = (momentum_au(e2 + h, 115.0, 90.0) - momentum_au(e2 - h, 115.0, 90.0)) / (2 * h)
    assert np.allclose(dpz_de2_au_per_kev(e2, 115.0, 90.0), num, rtol=1e-7)


def test_energy_from_momentum_inverts_eq2():
    pz = np.linspace(-30, 15, 91)
    e2 = energy_from_momentum_kev(pz, 115.0, 90.0)
    assert np.allclose(momentum_au(e2, 115.0, 90.0), pz, atol=1e-9)


def test_klein_nishina_vs_xraylib():
    for e, a in [(115.0, 90.0), (30.0, 20.0), (500.0, 170.0)]:
        # xraylib DCS_KN is in barn/sr
        assert klein_nishina_cm2_sr(e, a) == pytest.approx(xraylib.DCS_KN(e, np.radians(a)) * 1e-24, rel=1e-6)


@pytest.mark.parametrize("el,tol", [("Li", 0.02), ("O", 0.02), ("Cu", 0.04)])
def test_ddcs_integral_vs_xraylib_incoherent(el, tol):
    """Integral of the impulse-approximation DDCS over E2 vs xraylib's DCS_Compt (S(x,Z) KN)."""
    z = xraylib.SymbolToAtomicNumber(el)
    e2 = np.linspace(20.0, 114.99, 40001)
    ia = np.trapezoid(ddcs_cm2_sr_kev(e2, 115.0, 90.0, lambda p: profile(el, p)), e2)
    ref = xraylib.DCS_Compt(z, 115.0, np.pi / 2) * xraylib.AtomicWeight(z) / AVOGADRO  # cm2/sr/atom
    assert ia == pytest.approx(ref, rel=tol)


def test_bad_physics_input():
    with pytest.raises(ParameterError, match="e_incident_kev"):
        compton_energy_kev(-1.0, 90.0)
    with pytest.raises(ParameterError, match="angle_deg"):
        momentum_au(90.0, 115.0, 200.0)
    with pytest.raises(ParameterError, match="e_scattered_kev"):
        momentum_au(np.array([90.0, -1.0]), 115.0, 90.0)
