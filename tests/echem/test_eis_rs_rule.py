"""The R_s rule of the EIS fit quality test (issue 14, Deliver 5): R_s is compared with the
high-frequency intercept only when the spectrum reaches it; a solid-state spectrum whose
grain-boundary arc is still open at the highest frequency is compared with the valley between
that arc and the fitted one (:func:`ssbscope.echem.eis.rs_reference`)."""

import numpy as np
import pytest

from ssbscope.echem import read_eis
from ssbscope.echem.eis import (HF_CLOSED_PHASE_DEG, fit_eis, fit_quality, randles_impedance,
                                rs_reference)
from ssbscope.testing import realdata_dir

SSB = realdata_dir("potentiostat", "hybriddrt_PEIS_SSB.mpr")
LO = [0.0, 0.0, -15.0, 0.3, 0.0]
HI = [np.inf, np.inf, 3.0, 1.0, np.inf]


def _solid_state(f, r_b=40.0, r_gb=20.0, f_gb=3e6):
    """Bulk + (grain boundary ∥ CPE) at MHz + a Randles cathode arc: the Randles circuit's R_s
    stands for r_b + r_gb."""
    w = 2 * np.pi * f
    q = 1 / (r_gb * (2 * np.pi * f_gb) ** 0.9)
    return r_b + r_gb / (1 + r_gb * q * (1j * w) ** 0.9) + randles_impedance(f, 0.0, 2000.0, 2e-5, 0.8, 30.0)


@pytest.mark.skipif(not SSB.exists(), reason="shared/realdata/potentiostat not present")
def test_real_ncm_lpscl_spectrum_passes_the_rs_rule():
    """hybrid-drt's NCM/LPSCl half cell (BSD-3-Clause, shared/realdata MANIFEST.tsv), 7 MHz -
    10 mHz: at 7 MHz Re(Z) = 49.0 Ω but the phase is still -18° (the grain-boundary arc is not
    closed), so the fitted R_s = 58.7 Ω (bulk + grain boundary) is compared with the valley
    between the arcs (93 Ω at 68 kHz), not with 49 Ω."""
    e = read_eis(SSB)
    f = e["frequency_Hz"].to_numpy()
    z = e["z_real_ohm"].to_numpy() + 1j * e["z_imag_ohm"].to_numpy()
    top = np.argmax(f)
    assert z.real[top] == pytest.approx(49.0, abs=0.1)
    assert abs(np.degrees(np.angle(z[top]))) > HF_CLOSED_PHASE_DEG
    ref, closed = rs_reference(f, z)
    assert not closed and ref == pytest.approx(93.0, abs=0.5)
    fit = fit_eis(f, z.real, z.imag)
    # the R_s rule passes it: R_s (bulk + grain boundary) lies between the 7 MHz Re(Z) and the
    # valley; the fit still fails, on its CPE exponent (0.33: a single Randles arc spread over
    # the cathode's arc and its diffusion tail is diffusion-like, not a charge-transfer arc)
    assert 49.0 < fit.r_s_ohm < ref and fit.r_s_ohm == pytest.approx(58.7, abs=1.0)
    assert not fit.fit_ok and fit.fit_problem.startswith("CPE exponent n = 0.3"), fit.fit_problem
    assert "R_s" not in fit.fit_problem


def test_open_high_frequency_arc_uses_the_valley():
    f = np.logspace(np.log10(7e6), -2, 89)
    z = _solid_state(f)
    ref, closed = rs_reference(f, z)
    assert not closed
    # the valley lies beyond the bulk + grain-boundary sum and before the cathode arc's apex
    assert 60.0 < ref < 60.0 + 0.5 * 2000.0
    # the same cell measured to 1 GHz reaches the intercept: the bulk resistance
    f2 = np.logspace(9, -2, 120)
    ref2, closed2 = rs_reference(f2, _solid_state(f2))
    assert closed2 and ref2 == pytest.approx(40.0, rel=0.01)


def test_closed_arc_compares_with_the_intercept():
    f = np.logspace(6, -1, 71)
    z = randles_impedance(f, 45.0, 250.0, 2e-6, 0.85, 60.0)
    ref, closed = rs_reference(f, z)
    assert closed and ref == pytest.approx(45.0, rel=0.01)
    p = np.array([45.0, 250.0, np.log10(2e-6), 0.85, 60.0])
    ok, why, rel = fit_quality(p, np.ones(5), f, z, success=True, message="", lo=LO, hi=HI)
    assert ok and why == "" and rel < 1e-9
    # an R_s 30 % above a reached intercept fails on the R_s rule (residual limit lifted to
    # isolate it), and passes it at 3 %
    for factor, fails in ((1.3, True), (1.03, False)):
        ok, why, rel = fit_quality(p * [factor, 1, 1, 1, 1], np.ones(5), f, z, success=True,
                                   message="", lo=LO, hi=HI, max_relative_residual=1.0)
        assert ok is not fails and (not fails or "high-frequency intercept" in why), why


@pytest.mark.parametrize("r_s", [1e-16, 50.0])
def test_rs_far_below_an_826_ohm_intercept_still_fails(r_s):
    """The reproduction of issue 14: R_s ≈ 1e-16 Ω on a spectrum whose high-frequency Re(Z) is
    826 Ω is failed - whether the spectrum's high-frequency arc is closed or not."""
    f = np.logspace(5, -1, 61)
    z = 826.0 + randles_impedance(f, 0.0, 3000.0, 1e-6, 0.8, 100.0)
    assert np.max(f) == 1e5 and z.real[np.argmax(f)] == pytest.approx(826.0, rel=0.01)
    p = np.array([r_s, 3826.0, -6.0, 0.8, 100.0])
    ok, why, _ = fit_quality(p, np.ones(5), f, z, success=True, message="", lo=LO, hi=HI,
                             max_relative_residual=1.0)  # isolate the R_s rules
    assert not ok and "R_s" in why, why
    if r_s == 50.0:  # not at a bound of the fit: the resolution rule fires
        assert "far below the high-frequency Re(Z) = 833" in why
