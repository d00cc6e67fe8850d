"""Critical current density on a synthetic stepped plating protocol (003_103f2bf5a3479ade Methods)."""

import numpy as np
import pytest

from echem_synth import ccd_log
from ssbscope.echem import critical_current_density
from ssbscope.echem.ccd import critical_current_steps
from ssbscope.errors import EmptyResultError, ParameterError


@pytest.mark.parametrize("flip", [False, True], ids=["plating+", "plating-"])
@pytest.mark.parametrize("critical_step", [2, 5])
@pytest.mark.parametrize("dt_s,noise_mV", [(1.0, 0.2), (5.0, 0.5)])
def test_ccd_equals_true_step_either_sign(flip, critical_step, dt_s, noise_mV):
    df, truth = ccd_log(critical_step=critical_step, flip=flip, dt_s=dt_s, noise_mV=noise_mV,
                        seed=critical_step)
    assert critical_current_density(df, 0.785) == pytest.approx(truth, rel=1e-9)


def test_step_table_identifies_plating_group_and_drop():
    df, truth = ccd_log(critical_step=4, n_steps=6, flip=True, noise_mV=0.2)
    tab = critical_current_steps(df, 0.785)
    assert tab.attrs["plating_sign"] == -1
    np.testing.assert_allclose(tab["current_density_ma_cm2"], 0.5 * np.arange(1, 7), rtol=1e-9)
    assert list(tab["dendrite"]) == [False, False, False, True, False, False]
    # the synthetic drop is 6 mV: measured within 1 mV
    assert tab["drop_mV"].iloc[3] == pytest.approx(6.0, abs=1.0)
    assert (tab["drop_mV"].drop(index=3) < 2.0).all()


def test_drop_threshold_is_respected():
    df, _ = ccd_log(critical_step=3, drop_mV=1.5, noise_mV=0.1)
    with pytest.raises(EmptyResultError, match="none of the 7 plating step"):
        critical_current_density(df, 0.785, drop_mV=2.0)
    assert critical_current_density(df, 0.785, drop_mV=1.0) == pytest.approx(1.5)


def test_no_dendrite_raises_with_reason():
    df, _ = ccd_log(critical_step=99, n_steps=5)
    with pytest.raises(EmptyResultError, match="largest"):
        critical_current_density(df, 0.785)


@pytest.mark.parametrize("area", [0.0, -1.0])
def test_bad_area(area):
    df, _ = ccd_log(n_steps=2)
    with pytest.raises(ParameterError, match="area_cm2"):
        critical_current_density(df, area)
