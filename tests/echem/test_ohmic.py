"""Ohmic drop at current steps: a cell V = OCV + R I must give back R."""

import numpy as np
import pandas as pd
import pytest

from ssbscope.echem import ohmic_drop
from ssbscope.errors import ParameterError

R = 25.0


def step_log(dt=1.0, noise_mV=0.0, seed=0):
    t = np.arange(0.0, 4000.0, dt)
    i = np.select([t < 500, t < 1500, t < 2000, t < 3000], [0.0, 2e-3, 0.0, -1e-3], 0.0)
    rng = np.random.default_rng(seed)
    v = 3.7 + R * i + rng.normal(0.0, noise_mV * 1e-3, t.size)
    return pd.DataFrame({"time_s": t, "voltage_V": v, "current_A": i})


def test_resistance_from_every_step():
    out = ohmic_drop(step_log(), area_cm2=2.0)
    assert list(out["time_s"]) == [500.0, 1500.0, 2000.0, 3000.0]
    np.testing.assert_allclose(out["resistance_ohm"], R, rtol=1e-9)
    np.testing.assert_allclose(out["resistance_ohm_cm2"], 2.0 * R, rtol=1e-9)
    np.testing.assert_allclose(out["delta_current_A"], [2e-3, -2e-3, -1e-3, 1e-3])


def test_noise_error_is_bounded():
    out = ohmic_drop(step_log(noise_mV=0.5, seed=3))
    # sqrt(2) * 0.5 mV / 1 mA = 0.7 ohm per step at most a few sigma
    assert np.all(np.abs(out["resistance_ohm"] - R) < 4 * np.sqrt(2) * 0.5e-3 / 1e-3)


def test_max_dt_and_min_step():
    df = step_log()
    assert len(ohmic_drop(df, max_dt_s=0.5)) == 0
    assert len(ohmic_drop(df, min_step_A=1.5e-3)) == 2
    with pytest.raises(ParameterError, match="area_cm2"):
        ohmic_drop(df, area_cm2=-1.0)
