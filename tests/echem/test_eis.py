"""Randles circuit and its fit (reference: analytic limits, noisy synthetic spectra, impedance.py)."""

import numpy as np
import pytest

from ssbscope.echem import EISFit, fit_eis, randles_impedance
from ssbscope.echem.eis import track_eis
from ssbscope.errors import InputError, ParameterError

F = np.logspace(5, -1, 61)  # 1e5 .. 0.1 Hz, as in 000_290f30815ae66793


def noisy(z, rel, seed):
    rng = np.random.default_rng(seed)
    return z + np.abs(z) * rel * (rng.normal(size=z.size) + 1j * rng.normal(size=z.size))


def test_limits_and_topology():
    # high f: R_s; low f without Warburg: R_s + R_ct; ideal capacitor apex at 1/(R_ct C)
    z = randles_impedance([1e9, 1e-9], 10.0, 100.0, 1e-6, 1.0)
    assert z[0].real == pytest.approx(10.0, abs=1e-3)
    assert z[1].real == pytest.approx(110.0, rel=1e-6)
    w0 = 1.0 / (100.0 * 1e-6)
    za = randles_impedance([w0 / (2 * np.pi)], 10.0, 100.0, 1e-6, 1.0)[0]
    assert za.real == pytest.approx(60.0) and za.imag == pytest.approx(-50.0)
    # Warburg in series with R_ct inside the parallel branch: at low f Z -> R_s+R_ct+σ(1-j)/√ω
    f = 1e-6
    w = 2 * np.pi * f
    z = randles_impedance([f], 10.0, 100.0, 1e-6, 1.0, 50.0)[0]
    zw = 100.0 + 50.0 * (1 - 1j) / np.sqrt(w)
    expected = 10.0 + zw / (1 + zw * 1e-6 * 1j * w)
    assert z == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("truth", [(12.0, 150.0, 2e-6, 0.85, 30.0), (3.0, 20.0, 5e-5, 0.95, 0.0),
                                   (80.0, 1200.0, 3e-7, 0.8, 400.0)])
def test_fit_recovers_rs_rct_within_2_percent(seed, truth):
    z = noisy(randles_impedance(F, *truth), 0.01, seed)
    fit = fit_eis(F, z.real, z.imag)
    assert isinstance(fit, EISFit) and fit.success
    assert fit.r_s_ohm == pytest.approx(truth[0], rel=0.02)
    assert fit.r_ct_ohm == pytest.approx(truth[1], rel=0.02)
    assert fit.n_cpe == pytest.approx(truth[3], abs=0.03)
    # the standard errors are honest: the truth lies within 4 sigma
    assert abs(fit.r_ct_ohm - truth[1]) < 4 * fit.r_ct_err_ohm + 1e-9
    assert abs(fit.r_s_ohm - truth[0]) < 4 * fit.r_s_err_ohm + 1e-9
    # 1 % modulus noise on both parts: chi2 per dof ~ 1e-4
    assert fit.reduced_chi_square == pytest.approx(1e-4, rel=0.5)


def test_exact_spectrum_is_fitted_exactly_from_any_order():
    truth = (12.0, 150.0, 2e-6, 0.85, 30.0)
    z = randles_impedance(F, *truth)
    perm = np.random.default_rng(0).permutation(F.size)
    fit = fit_eis(F[perm], z.real[perm], z.imag[perm])
    got = (fit.r_s_ohm, fit.r_ct_ohm, fit.q_cpe, fit.n_cpe, fit.sigma_w_ohm_s05)
    np.testing.assert_allclose(got, truth, rtol=1e-5)
    np.testing.assert_allclose(fit.impedance(F), z, rtol=1e-6)


def test_agrees_with_impedance_py():
    pytest.importorskip("impedance")
    from impedance.models.circuits import CustomCircuit

    truth = (12.0, 150.0, 2e-6, 0.85, 30.0)
    z = noisy(randles_impedance(F, *truth), 0.01, 7)
    # same topology in impedance.py: R_s - p(R_ct - W, CPE); W = σ(1-j)/√ω, CPE = 1/(Q (jω)^n)
    cc = CustomCircuit("R0-p(R1-W1,CPE1)", initial_guess=[10.0, 100.0, 20.0, 1e-6, 0.9])
    cc.fit(F, z, weight_by_modulus=True)
    r0, r1, w1, q1, n1 = cc.parameters_
    ours = fit_eis(F, z.real, z.imag)
    assert ours.r_s_ohm == pytest.approx(r0, rel=2e-3)
    assert ours.r_ct_ohm == pytest.approx(r1, rel=2e-3)
    assert ours.sigma_w_ohm_s05 == pytest.approx(w1, rel=1e-2)
    # and the models agree point by point
    np.testing.assert_allclose(cc.predict(F), randles_impedance(F, r0, r1, q1, n1, w1), rtol=1e-9)


def test_track_eis_tabulates_states():
    import pandas as pd

    rcts = [300.0, 200.0, 150.0, 260.0]
    parts = []
    for k, r in enumerate(rcts):
        z = noisy(randles_impedance(F, 10.0 + k, r, 1e-6, 0.85, 40.0), 0.005, k)
        parts.append(pd.DataFrame({"frequency_Hz": F, "z_real_ohm": z.real, "z_imag_ohm": z.imag,
                                   "spectrum": k, "time_s": 1000.0 * k}))
    tab = track_eis(pd.concat(parts), states=["pristine", "charging (20 % SoC)",
                                              "charging (100 % SoC)", "discharging (50 % DoD)"])
    np.testing.assert_allclose(tab["r_ct_ohm"], rcts, rtol=0.02)
    np.testing.assert_allclose(tab["r_s_ohm"], [10.0, 11.0, 12.0, 13.0], rtol=0.02)
    assert list(tab["time_s"]) == [0.0, 1000.0, 2000.0, 3000.0]
    assert tab["state"].iloc[1] == "charging (20 % SoC)"


def test_bad_inputs():
    with pytest.raises(InputError, match="freq_hz"):
        randles_impedance([0.0, 1.0], 1.0, 1.0, 1e-6, 1.0)
    with pytest.raises(ParameterError, match="n_cpe"):
        randles_impedance([1.0], 1.0, 1.0, 1e-6, 1.5)
    with pytest.raises(ParameterError, match="r_ct_ohm"):
        randles_impedance([1.0], 1.0, -1.0, 1e-6, 1.0)
    z = randles_impedance(F, 10.0, 100.0, 1e-6, 0.9)
    with pytest.raises(InputError, match="at least 6"):
        fit_eis(F[:4], z.real[:4], z.imag[:4])
    with pytest.raises(InputError, match="lengths"):
        fit_eis(F, z.real[:-1], z.imag)
    zr = z.real.copy()
    zr[3] = np.nan
    with pytest.raises(InputError, match="z_real_ohm"):
        fit_eis(F, zr, z.imag)
    with pytest.raises(ParameterError, match="initial"):
        fit_eis(F, z.real, z.imag, initial={"r_x": 1.0})
