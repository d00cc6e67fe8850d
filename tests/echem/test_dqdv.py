"""dQ/dV against an analytic voltage curve: peak position, height and conserved area."""

import numpy as np
import pandas as pd
import pytest

from echem_synth import full_cell_log
from ssbscope.echem import dq_dv
from ssbscope.errors import ParameterError

Q_MAH, V0, W_V = 1.0, 3.7, 0.02  # logistic plateau: Q(V) = Q / (1 + exp(-(V - V0)/w))


def logistic_log(dt=2.0, noise_mV=0.0, seed=0):
    # constant-current charge 1 mA through the plateau, then discharge back
    i0 = 1e-3
    t_half = Q_MAH * 3.6 / i0 * 0.998
    t = np.arange(0.0, 2 * t_half, dt)
    q = np.where(t < t_half, i0 * t, i0 * (2 * t_half - t)) / 3.6 + 0.001 * Q_MAH
    v = V0 + W_V * np.log(q / (Q_MAH - q))  # inverse of the logistic
    cur = np.where(t < t_half, i0, -i0)
    rng = np.random.default_rng(seed)
    return pd.DataFrame({"time_s": t, "voltage_V": v + rng.normal(0, noise_mV * 1e-3, t.size),
                         "current_A": cur})


def test_peak_position_height_and_area():
    out = dq_dv(logistic_log(), bin_mV=2.0, smooth_bins=0.0)
    ch = out[out["direction"] == "charge"]
    dis = out[out["direction"] == "discharge"]
    # analytic: the bin average of dQ/dV is (Q(V_hi) - Q(V_lo)) / bin width, peak Q / (4 w) at V0
    v = ch["voltage_V"].to_numpy()

    def q_of_v(x):
        return Q_MAH / (1 + np.exp(-(x - V0) / W_V))

    expected = (q_of_v(v + 1e-3) - q_of_v(v - 1e-3)) / 2e-3
    inside = (v > V0 - 0.1) & (v < V0 + 0.1)
    np.testing.assert_allclose(ch["dq_dv_mAh_V"].to_numpy()[inside], expected[inside],
                               atol=0.03 * Q_MAH / (4 * W_V))
    top = ch[ch["dq_dv_mAh_V"] > 0.9 * ch["dq_dv_mAh_V"].max()]
    centroid = np.average(top["voltage_V"], weights=top["dq_dv_mAh_V"])
    assert centroid == pytest.approx(V0, abs=0.001)
    assert ch["dq_dv_mAh_V"].max() == pytest.approx(Q_MAH / (4 * W_V), rel=0.03)
    # discharge is negative by convention, same magnitude
    assert dis["dq_dv_mAh_V"].min() == pytest.approx(-Q_MAH / (4 * W_V), rel=0.03)
    # charge conservation: area equals the charge passed (trapezoid over the samples used)
    area = ch["dq_dv_mAh_V"].sum() * 2e-3
    assert area == pytest.approx(Q_MAH * 0.998, rel=2e-3)


def test_smoothing_preserves_area_and_tames_noise():
    df = logistic_log(noise_mV=2.0, seed=1)
    raw = dq_dv(df, bin_mV=1.0, smooth_bins=0.0)
    sm = dq_dv(df, bin_mV=1.0, smooth_bins=3.0)
    for d in (raw, sm):
        ch = d[d["direction"] == "charge"]
        assert ch["dq_dv_mAh_V"].sum() * 1e-3 == pytest.approx(Q_MAH * 0.998, rel=5e-3)
    chs = sm[sm["direction"] == "charge"]
    top = chs[chs["dq_dv_mAh_V"] > 0.8 * chs["dq_dv_mAh_V"].max()]
    assert np.average(top["voltage_V"], weights=top["dq_dv_mAh_V"]) == pytest.approx(V0, abs=0.003)


def test_cv_hold_excluded_by_default():
    df, truth = full_cell_log(n_cycles=1, dt_s=10.0, noise_mV=0.5)
    out = dq_dv(df)
    ch = out[out["direction"] == "charge"]
    # the CC part only: less than the full charge (the CV hold carries the rest)
    assert ch["dq_dv_mAh_V"].sum() * 5e-3 < truth["charge_mAh"][0]
    with_cv = dq_dv(df, cc_only=False)
    chv = with_cv[with_cv["direction"] == "charge"]
    assert chv["dq_dv_mAh_V"].sum() * 5e-3 == pytest.approx(truth["charge_mAh"][0], rel=5e-3)


def test_bad_bin():
    with pytest.raises(ParameterError, match="bin_mV"):
        dq_dv(logistic_log(), bin_mV=0.0)
