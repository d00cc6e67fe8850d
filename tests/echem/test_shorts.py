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


def test_soft_short_plateau_style_and_recovery():
    df = charge_with_short("soft", onset_s=12000.0, recover_s=18000.0, style="plateau",
                           dt_s=10.0, seed=4)
    ev = detect_shorts(df)
    assert [e.kind for e in ev] == ["soft"]
    assert ev[0].onset_s == pytest.approx(12000.0, rel=0.01)
    assert ev[0].end_s == pytest.approx(18000.0, rel=0.01)


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
