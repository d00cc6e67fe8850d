"""Short detection on synthetic logs with known onsets (002_3ee4edf529433f9c Fig. 2B, S4)."""

import numpy as np
import pandas as pd
import pytest

from echem_synth import ccd_log, charge_with_short, full_cell_log
from ssbscope.echem import ShortEvent, detect_shorts
from ssbscope.errors import DataQualityError, ParameterError


@pytest.mark.parametrize("dt_s", [1.0, 10.0, 30.0])
@pytest.mark.parametrize("seed", [0, 1])
def test_soft_short_onset_within_1_percent(dt_s, seed):
    onset = 9000.0 + 2000.0 * seed
    df = charge_with_short("soft", onset_s=onset, dt_s=dt_s, seed=seed, noise_mV=1.0)
    ev = detect_shorts(df)
    assert [e.kind for e in ev] == ["soft"]
    assert ev[0].onset_s == pytest.approx(onset, rel=0.01)
    assert ev[0].end_s is None
    assert ev[0].evidence["fluctuation_std_mV"] > 3 * ev[0].evidence["baseline_noise_mV"]
    assert ev[0].evidence["mean_current_A"] == pytest.approx(1e-3)


def test_soft_short_recovery_time():
    df = charge_with_short("soft", onset_s=12000.0, recover_s=18000.0, dt_s=10.0, seed=4)
    ev = detect_shorts(df)
    assert [e.kind for e in ev] == ["soft"]
    assert ev[0].onset_s == pytest.approx(12000.0, rel=0.01)
    assert ev[0].end_s == pytest.approx(18000.0, rel=0.01)


@pytest.mark.parametrize("seed", [1, 2, 5])
def test_soft_short_plateau_style_is_one_soft_event(seed):
    # zero-mean fluctuation around a flat plateau (no sag): found and classified, onset
    # within 3 % (the flattening of a slow rise under 15 mV wander is fuzzier than a sag)
    onset = 8000.0 + 700.0 * seed
    df = charge_with_short("soft", onset_s=onset, style="plateau", dt_s=10.0, seed=seed)
    ev = detect_shorts(df)
    assert [e.kind for e in ev] == ["soft"]
    assert ev[0].onset_s == pytest.approx(onset, rel=0.03)


@pytest.mark.parametrize("dt_s", [1.0, 10.0, 60.0])
def test_hard_short_onset_within_1_percent(dt_s):
    df = charge_with_short("hard", onset_s=14000.0, dt_s=dt_s, seed=2)
    ev = detect_shorts(df)
    assert [e.kind for e in ev] == ["hard"]
    assert ev[0].onset_s == pytest.approx(14000.0, rel=0.01)
    assert ev[0].end_s is None
    assert ev[0].evidence["collapse_ratio"] < 0.05
    assert isinstance(ev[0], ShortEvent)
    with pytest.raises(AttributeError):
        ev[0].kind = "soft"  # frozen


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("dt_s,noise_mV", [(1.0, 2.0), (10.0, 1.0), (30.0, 5.0), (60.0, 2.0)])
def test_no_false_short_on_noisy_clean_cycles(seed, dt_s, noise_mV):
    # CC-CV charge, rests with relaxation, discharge with its end-of-discharge drop
    df, _ = full_cell_log(n_cycles=2, dt_s=dt_s, noise_mV=noise_mV, noise_A=1e-6 * (seed % 2),
                          seed=seed, align=bool(seed % 2))
    assert detect_shorts(df) == []
    df = charge_with_short("normal", dt_s=dt_s, noise_mV=noise_mV, seed=seed)
    assert detect_shorts(df) == []


def test_no_false_short_on_stepped_symmetric_cell_without_dendrite():
    df, _ = ccd_log(critical_step=99, n_steps=6, noise_mV=0.3)
    assert detect_shorts(df) == []


def test_hard_short_not_called_when_voltage_recovers():
    # a 10-sample dip to ~0 V during charge that recovers is not a hard short
    df = charge_with_short("normal", dt_s=10.0, noise_mV=0.5)
    v = df["voltage_V"].to_numpy().copy()
    v[1000:1010] = 0.01
    df2 = df.assign(voltage_V=v)
    assert [e.kind for e in detect_shorts(df2)] != ["hard"]


def test_input_not_modified_and_bad_parameters():
    df = charge_with_short("soft", dt_s=30.0)
    before = df.copy()
    detect_shorts(df)
    pd.testing.assert_frame_equal(df, before)
    with pytest.raises(ParameterError, match="hard_fraction"):
        detect_shorts(df, hard_fraction=1.5)
    with pytest.raises(ParameterError, match="window_s"):
        detect_shorts(df, window_s=0.0)
    bad = df.copy()
    bad.loc[3, "voltage_V"] = np.nan
    with pytest.raises(DataQualityError, match="voltage_V"):
        detect_shorts(bad)


def test_no_false_hard_short_when_polarisation_relaxes_through_zero_after_reversal():
    # symmetric cell: plating at +50 mV, then a small stripping current; the voltage relaxes
    # through 0 V to the small stripping polarisation (-3 mV) within a minute
    t = np.arange(0.0, 7200.0, 5.0)
    plating = t < 3600
    i = np.where(plating, 1e-3, -5e-5)
    rng = np.random.default_rng(0)
    v = np.where(plating, 0.05, -0.003 + 0.053 * np.exp(-(t - 3600) / 15.0))
    df = pd.DataFrame({"time_s": t, "voltage_V": v + rng.normal(0, 1e-4, t.size), "current_A": i})
    assert detect_shorts(df) == []


def test_no_false_soft_short_on_nucleation_overshoot_after_current_step():
    # anode-free half cell: plating (charge) at negative voltage; doubling the current gives a
    # nucleation-like overshoot that relaxes over a few minutes
    t = np.arange(0.0, 20000.0, 30.0)
    step = 18500.0
    i = np.where(t < step, 4.7e-5, 9.4e-5)
    tau = 200.0
    x = np.clip(t - step, 0, None)
    v = np.where(t < step, -0.125, -0.17 - 0.07 * (x / tau) * np.exp(1 - x / tau) + 1e-6 * x)
    rng = np.random.default_rng(1)
    df = pd.DataFrame({"time_s": t, "voltage_V": v + rng.normal(0, 2e-4, t.size), "current_A": i})
    assert detect_shorts(df) == []
