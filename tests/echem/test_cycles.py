"""Cycles and Coulombic efficiency against synthetic logs with analytic capacities."""

import numpy as np
import pandas as pd
import pytest

from echem_synth import full_cell_log
from ssbscope.echem import coulombic_efficiency, cycle_table, split_cycles
from ssbscope.errors import ParameterError


@pytest.mark.parametrize("dt_s,align", [(1.0, False), (10.0, True), (30.0, True), (60.0, True)])
def test_ce_within_0p1_percentage_point(dt_s, align):
    # align: current switches on sample times (as potentiostats record step changes)
    df, truth = full_cell_log(n_cycles=3, ce=(0.93, 0.985, 0.997), dt_s=dt_s, align=align,
                              noise_mV=1.0, noise_A=2e-7, seed=int(dt_s))
    ce = coulombic_efficiency(df)
    assert len(ce) == 3
    np.testing.assert_allclose(np.array(ce) * 100, np.array(truth["ce"]) * 100, atol=0.1)
    tab = cycle_table(df)
    np.testing.assert_allclose(tab["charge_capacity_mAh"], truth["charge_mAh"], rtol=2e-3)
    np.testing.assert_allclose(tab["discharge_capacity_mAh"], truth["discharge_mAh"], rtol=2e-3)


def test_unaligned_coarse_sampling_error_is_bounded_by_one_interval_per_edge():
    # switches between samples: each edge is uncertain by at most one interval dt
    dt = 20.0
    df, truth = full_cell_log(n_cycles=3, ce=(0.93, 0.985, 0.997), dt_s=dt, align=False, seed=7)
    tab = cycle_table(df)
    i0_mah_per_s = 1e-3 / 3.6
    bound = 2 * dt * i0_mah_per_s
    assert np.all(np.abs(tab["charge_capacity_mAh"] - truth["charge_mAh"]) <= bound)
    assert np.all(np.abs(tab["discharge_capacity_mAh"] - truth["discharge_mAh"]) <= bound)


def test_leading_partial_discharge_is_not_a_cycle_and_trailing_charge_has_no_ce():
    df, truth = full_cell_log(n_cycles=2, dt_s=10.0, leading_discharge_s=900.0,
                              trailing_charge=True, noise_mV=0.5)
    ce = coulombic_efficiency(df)
    assert len(ce) == 2
    np.testing.assert_allclose(ce, truth["ce"], atol=1e-3)
    tab = cycle_table(df)
    assert list(tab["cycle"]) == [1, 2, 3]
    assert np.isnan(tab["coulombic_efficiency"].iloc[-1])
    assert np.isnan(tab["discharge_capacity_mAh"].iloc[-1])
    # the first cycle starts with the first charge, not with the leading discharge
    first_charge = [p for p in truth["phases"] if p[0] == "charge"][0]
    assert tab["charge_start_s"].iloc[0] == pytest.approx(first_charge[1], abs=10.0)


def test_split_cycles_spans():
    df, truth = full_cell_log(n_cycles=2, dt_s=30.0, noise_mV=0.5)
    parts = split_cycles(df)
    assert len(parts) == 2
    tab = cycle_table(df)
    for part, (_, row) in zip(parts, tab.iterrows()):
        assert part["time_s"].iloc[0] == row["charge_start_s"]
        assert part["time_s"].iloc[-1] == row["discharge_end_s"]
        assert (part["current_A"] > 0).any() and (part["current_A"] < 0).any()


def test_interrupted_charge_is_one_half_cycle():
    # charge 1000 s, rest 500 s, charge 1000 s more, discharge 1900 s: CE = 0.95
    t = np.arange(0.0, 4500.0, 5.0)
    i = np.select([t < 1000, t < 1500, t < 2500, t < 4400], [1e-3, 0.0, 1e-3, -1e-3], 0.0)
    df = pd.DataFrame({"time_s": t, "voltage_V": 3.7 + 1e-4 * i, "current_A": i})
    assert coulombic_efficiency(df) == [pytest.approx(0.95, abs=1e-9)]


def test_normalised_capacities():
    df, truth = full_cell_log(n_cycles=1, dt_s=30.0)
    tab = cycle_table(df, area_cm2=2.0, mass_mg=5.0)
    assert tab["charge_capacity_mAh_cm2"].iloc[0] == pytest.approx(tab["charge_capacity_mAh"].iloc[0] / 2)
    assert tab["discharge_capacity_mAh_g"].iloc[0] == pytest.approx(tab["discharge_capacity_mAh"].iloc[0] / 5e-3)
    with pytest.raises(ParameterError, match="mass_mg"):
        cycle_table(df, mass_mg=-1.0)


def test_rest_only_log_has_no_cycles():
    df = pd.DataFrame({"time_s": np.arange(10.0), "voltage_V": 3.0, "current_A": 0.0})
    assert coulombic_efficiency(df) == []
    assert len(cycle_table(df)) == 0


def test_explicit_current_threshold():
    df, truth = full_cell_log(n_cycles=1, dt_s=30.0)
    np.testing.assert_allclose(coulombic_efficiency(df, current_threshold_A=1e-5), truth["ce"], atol=1e-3)
    with pytest.raises(ParameterError, match="current_threshold_A"):
        coulombic_efficiency(df, current_threshold_A=-1.0)
