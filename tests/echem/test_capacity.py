"""Charge integration, capacity columns, SoC/DoD states (references: Q = I t, exact times)."""

import numpy as np
import pandas as pd
import pytest

from echem_synth import full_cell_log
from ssbscope.echem import (add_capacity, coulombic_efficiency, cumulative_charge, cycle_table,
                            state_at, state_of_charge)
from ssbscope.errors import DataQualityError, InputError, MissingColumnError, ParameterError


def cc_log(current_a=2e-3, dt=10.0, t_end=3600.0, v=3.7):
    t = np.arange(0.0, t_end + dt / 2, dt)
    return pd.DataFrame({"time_s": t, "voltage_V": v, "current_A": current_a})


def test_constant_current_integral_is_i_times_t():
    df = cc_log(2e-3, 10.0, 3600.0)
    q = cumulative_charge(df)
    # Q = I t = 2 mA * 1 h = 2 mAh, at every sample
    np.testing.assert_allclose(q.to_numpy(), 2e-3 * df["time_s"].to_numpy() / 3.6, rtol=1e-12, atol=1e-15)
    assert q.name == "charge_mAh"


def test_areal_and_specific_normalisation():
    df = cc_log(2e-3, 10.0, 3600.0)
    assert cumulative_charge(df, area_cm2=2.0).iloc[-1] == pytest.approx(1.0)
    assert cumulative_charge(df, mass_mg=10.0).iloc[-1] == pytest.approx(200.0)  # 2 mAh / 0.01 g
    out = add_capacity(df, area_cm2=2.0, mass_mg=10.0)
    assert out["capacity_mAh"].iloc[-1] == pytest.approx(2.0)
    assert out["capacity_mAh_cm2"].iloc[-1] == pytest.approx(1.0)
    assert out["capacity_mAh_g"].iloc[-1] == pytest.approx(200.0)


def test_add_capacity_does_not_modify_input_and_marks_half_cycles():
    df, truth = full_cell_log(n_cycles=1, dt_s=30.0, noise_mV=0.5)
    before = df.copy()
    out = add_capacity(df)
    pd.testing.assert_frame_equal(df, before)
    assert set(out["direction"].unique()) >= {"charge", "discharge", ""}
    # capacity restarts at 0 in each half-cycle and ends near its total
    ch = out[out["direction"] == "charge"]
    assert ch["capacity_mAh"].iloc[0] == 0.0
    assert ch["capacity_mAh"].max() == pytest.approx(truth["charge_mAh"][0], rel=2e-3)


def test_state_at_exact_times_on_constant_current_charge():
    # 1 mA for 1000 s: SoC is t / 1000 exactly, whatever the sampling
    df = cc_log(1e-3, 7.0, 1001.0)
    df = df[df["time_s"] <= 1001.0]
    t_end = df["time_s"].iloc[-1]
    for frac in (0.2, 0.71):
        assert state_at(df, frac * t_end) == f"charging ({round(100 * frac)} % SoC)"


def test_state_at_paper_states_on_full_cycle():
    # 000_290f30815ae66793 Fig. 1E states: 20/71/100 % SoC and 22/77/100 % DoD
    df, truth = full_cell_log(n_cycles=1, dt_s=10.0, noise_mV=1.0, seed=3)
    (_, c0, c1), (_, d0, d1) = [p for p in truth["phases"] if p[0] in ("charge", "discharge")][:2]
    qc = truth["charge_mAh"][0]
    i0 = 1e-3
    # the CC part is linear in time: SoC s is reached at t = c0 + s qc 3.6 / I (inside CC)
    for s in (20, 71):
        t_s = c0 + s / 100 * qc * 3.6 / i0
        assert state_at(df, t_s) == f"charging ({s} % SoC)"
    for d in (22, 77):
        t_d = d0 + d / 100 * (d1 - d0)
        assert state_at(df, t_d) == f"discharging ({d} % DoD)"
    assert state_at(df, d1 - 1.0) == "discharging (100 % DoD)"
    assert state_at(df, 100.0) == "rest"
    labels = state_at(df, [100.0, d0 + 0.5 * (d1 - d0)])
    assert labels == ["rest", "discharging (50 % DoD)"]


def test_state_of_charge_table():
    df, truth = full_cell_log(n_cycles=1, dt_s=30.0, noise_mV=0.5)
    st = state_of_charge(df)
    assert list(st.columns) == ["time_s", "state", "half_cycle", "soc_percent", "dod_percent", "label"]
    assert st["soc_percent"].max() <= 100.0 + 1e-9
    assert st["soc_percent"].max() > 99.0
    assert set(st["state"]) == {"charging", "discharging", "rest"}
    # SoC only during charge half-cycles, DoD only during discharges
    assert st.loc[st["state"] == "discharging", "soc_percent"].isna().all()
    # a nominal capacity rescales the percentages
    measured = cycle_table(df)["charge_capacity_mAh"].iloc[0]
    st2 = state_of_charge(df, capacity_mAh=2 * measured)
    assert st2["soc_percent"].max() == pytest.approx(st["soc_percent"].max() / 2, rel=1e-9)


def test_state_at_outside_log():
    df = cc_log()
    with pytest.raises(ParameterError, match="time_s"):
        state_at(df, 1e9)


# ---- bad input (shared validation of every analysis function) ----

def test_empty_dataframe():
    df = pd.DataFrame({"time_s": [], "voltage_V": [], "current_A": []})
    with pytest.raises(InputError, match="empty"):
        cumulative_charge(df)


def test_not_a_dataframe():
    with pytest.raises(InputError, match="DataFrame"):
        add_capacity(np.zeros((3, 3)))


def test_missing_column():
    with pytest.raises(MissingColumnError, match="current_A"):
        cumulative_charge(pd.DataFrame({"time_s": [0.0, 1.0], "voltage_V": [3.0, 3.1]}))


def test_nan_voltage():
    df = cc_log()
    df.loc[5, "voltage_V"] = np.nan
    with pytest.raises(DataQualityError, match="voltage_V.*row 5"):
        add_capacity(df)


def test_non_monotonic_time():
    df = cc_log()
    df.loc[10, "time_s"] = 5.0
    with pytest.raises(DataQualityError, match="time decreases at row 10"):
        state_of_charge(df)


@pytest.mark.parametrize("kw", [{"area_cm2": 0.0}, {"area_cm2": -1.0}, {"mass_mg": 0.0},
                                {"mass_mg": -5.0}, {"area_cm2": np.nan}])
def test_bad_area_or_mass(kw):
    with pytest.raises(ParameterError, match=next(iter(kw))):
        add_capacity(cc_log(), **kw)


def test_eis_rows_inside_a_time_series_count_as_rest():
    # an impedance sweep logged between charge and discharge: its AC current is not charge
    t = np.arange(0.0, 3010.0, 10.0)
    i = np.select([t < 1000, t < 2000, t < 3000], [1e-3, 0.0, -1e-3], 0.0)
    mode = np.where((t >= 1200) & (t < 1500), "EIS", np.where(i == 0, "rest", "CC"))
    i = np.where(mode == "EIS", 5e-4 * np.sin(t), i)
    df = pd.DataFrame({"time_s": t, "voltage_V": 3.7, "current_A": i, "mode": mode})
    assert coulombic_efficiency(df) == [pytest.approx(1.0, abs=1e-12)]
    dc = df.assign(current_A=np.where(mode == "EIS", 0.0, df["current_A"]))
    np.testing.assert_allclose(cumulative_charge(df), cumulative_charge(dc), rtol=0, atol=1e-15)
    assert not np.allclose(cumulative_charge(df.drop(columns="mode")), cumulative_charge(dc))


def test_time_of_state_against_the_twin_protocol():
    """Named states located in a log: the twin's first-cycle scan times (000_ Fig. 1E states),
    and areal plating/stripping marks of the anode-free case-B protocol (0.5 mA/cm2 steps)."""
    from ssbscope.echem import time_of_state
    from ssbscope.twin import echem as T

    cyc = T.nmc622_first_cycle(dt_s=30.0)
    for st in cyc.states[1:]:
        name = st.label if st.label.startswith("fully") else \
            f"{round(100 * st.fraction)} % {'SoC' if st.kind == 'soc' else 'DoD'}"
        assert time_of_state(cyc.data, name) == pytest.approx(st.time_s, abs=2.0), name
    af = T.anode_free_cell("B", dt_s=30.0)
    plate_end = af.steps[0][3]
    assert time_of_state(af.data, "plated 1.5 mAh/cm2", area_cm2=af.area_cm2) == \
        pytest.approx(plate_end / 2, abs=10)
    assert time_of_state(af.data, "stripped 1.5 mAh/cm2", area_cm2=af.area_cm2) == \
        pytest.approx(plate_end + 3 * 3600, abs=10)
    for spelling in ("mAh cm-2", "mAh cm⁻²", "mAh/cm²"):  # the report's typography too
        assert time_of_state(af.data, f"plated 1.5 {spelling}", area_cm2=af.area_cm2) == \
            time_of_state(af.data, "plated 1.5 mAh/cm2", area_cm2=af.area_cm2)
    assert time_of_state(af.data, "pristine") == af.data["time_s"].iloc[0]
    assert time_of_state(af.data, "plated 9 mAh/cm2", area_cm2=af.area_cm2) is None
    assert time_of_state(af.data, "when it felt right") is None
