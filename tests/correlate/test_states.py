"""correlate/states: image results on the electrochemical clock, against analytic references.

References are independent of the code under test: the charge of a constant-current log is
``I t / 3600 / A`` (mAh cm^-2) and the dense-Li thickness of a charge q is
``3.6 q M_Li / (F rho_Li) 1e4`` µm (3 mAh cm^-2 = 14.5 µm, Faraday's law).
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from ssbscope.config import from_dict
from ssbscope.correlate import states as C
from ssbscope.correlate.stages import OUTPUT, input_stages
from ssbscope.echem.faraday import lithium_thickness_um
from ssbscope.echem.stages import eis_dataset, timeseries_dataset
from ssbscope.pipeline import run
from ssbscope.store import Store

J_MA_CM2 = 0.5          # plating current density
AREA_CM2 = 0.5          # electrode area
F, M_LI, RHO_LI = 96485.33212, 6.941, 0.534


def li_um(q_mah_cm2):
    """Independent Faraday reference (µm of dense Li per mAh cm^-2)."""
    return np.asarray(q_mah_cm2) * 3.6 / F * M_LI / RHO_LI * 1e4


EDGE_S = 1e-3   # the log samples the end of the current step twice, 1 ms apart


def cc_log(hours=6.0, rest_h=1.0, dt_s=37.0, area=AREA_CM2, j=J_MA_CM2):
    """Constant-current plating log (current > 0 on charge) then a rest; analytic charge.

    The end of the step is sampled on both sides (``hours`` and ``hours + 1 ms``), as a
    potentiostat records a step change, so the trapezoid charge is exact to 1e-7.
    """
    t = np.arange(0.0, (hours + rest_h) * 3600.0 + dt_s / 2, dt_s)
    t = np.unique(np.concatenate((t, [hours * 3600.0, hours * 3600.0 + EDGE_S])))
    i_a = np.where(t <= hours * 3600.0, j * area * 1e-3, 0.0)
    v = np.where(i_a > 0, 0.02 + 1e-6 * t, 0.0)          # any voltage; linear in time
    return pd.DataFrame({"time_s": t, "voltage_V": v, "current_A": i_a})


def q_true(t_s, hours=6.0, j=J_MA_CM2):
    return j * np.minimum(np.asarray(t_s, float), hours * 3600.0) / 3600.0


# ----------------------------------------------------------------------------------------
# library
# ----------------------------------------------------------------------------------------
def test_charge_at_constant_current_is_i_t():
    from ssbscope.echem import add_capacity

    df = add_capacity(cc_log(), area_cm2=AREA_CM2)   # ssbscope integrates the current
    tq = np.array([0.0, 100.0, 3600.0, 5000.5, 4.5 * 3600, 6 * 3600, 6.5 * 3600])
    q = C.charge_at(tq, df["time_s"], df["charge_mAh_cm2"])
    np.testing.assert_allclose(q, q_true(tq), rtol=1e-7, atol=1e-12)
    assert C.charge_at(1800.0, [0.0, 3600.0], [0.0, 0.5]) == pytest.approx(0.25)


def test_charge_outside_the_log_is_nan_with_a_warning(caplog):
    with caplog.at_level(logging.WARNING, logger="ssbscope.correlate.states"):
        q = C.charge_at([-10.0, 10.0, 1e9], [0.0, 100.0], [0.0, 1.0])
    assert np.isnan(q[0]) and np.isnan(q[2]) and q[1] == pytest.approx(0.1)
    assert "outside the echem log" in caplog.text


def test_voltage_at_interpolates_linearly():
    v = C.voltage_at([5.0, 15.0], [0.0, 10.0, 20.0], [3.0, 4.0, 3.0])
    np.testing.assert_allclose(v, [3.5, 3.5])


def test_faraday_residual_zero_for_faraday_and_ten_percent_for_1p1():
    q = np.array([0.3, 1.0, 3.0, -1.0])
    h = lithium_thickness_um(q)
    np.testing.assert_allclose(h, li_um(q), rtol=1e-6)   # the one Faraday implementation
    np.testing.assert_allclose(C.faraday_residual(h, q), 0.0, atol=1e-9)
    np.testing.assert_allclose(C.faraday_residual(1.1 * h, q), 10.0, rtol=1e-9)
    np.testing.assert_allclose(C.faraday_residual(0.8 * h, q), -20.0, rtol=1e-9)
    # below 0.05 mAh cm-2 (|dh_F| < 0.24 um) and NaN inputs: NaN
    r = C.faraday_residual([0.2, 1.0, np.nan], [0.04, np.nan, 1.0])
    assert np.all(np.isnan(r))
    assert C.faraday_residual(li_um(3.0) * 1.1, 3.0) == pytest.approx(10.0, rel=1e-5)


def test_tomo_and_twin_faraday_names_are_the_echem_one():
    from ssbscope.tomo.metrics import faraday_li_thickness_um
    from ssbscope.twin.ct import faraday_thickness_um

    for q in (0.1, 3.0):
        assert faraday_li_thickness_um(q) == lithium_thickness_um(q)
        assert faraday_thickness_um(q) == lithium_thickness_um(q)
    assert lithium_thickness_um(3.0) == pytest.approx(14.5, abs=0.1)


def test_nearest_eis_picks_the_closest_spectrum():
    ne = C.nearest_eis([0.0, 900.0, 2000.0, 1e5], [np.nan, 0.0, 1000.0, 3000.0],
                       [1.0, 10.0, 20.0, 30.0], ["x", "a", "b", "c"])
    assert ne.index.tolist() == [1, 2, 2, 3]
    np.testing.assert_allclose(ne.r_ct_ohm, [10.0, 20.0, 20.0, 30.0])
    assert ne.label.tolist() == ["a", "b", "b", "c"]
    empty = C.nearest_eis([1.0], [np.nan], [5.0])
    assert empty.index[0] == -1 and np.isnan(empty.r_ct_ohm[0])


def test_states_table_on_an_analytic_log():
    df = cc_log()
    from ssbscope.echem import add_capacity

    a = add_capacity(df, area_cm2=AREA_CM2)
    t = np.array([3 * 3600.0, 0.0, 4 * 3600.0, 8 * 3600.0])       # unsorted, one outside
    h = li_um(q_true(t))
    ds = C.states_table(t, a["time_s"], a["charge_mAh_cm2"], a["voltage_V"],
                        log_current_a=a["current_A"], states=["", "pristine", "", ""],
                        plated_thickness_um=2.0 + 1.1 * h)
    assert ds["time_s"].values.tolist() == [0.0, 3 * 3600.0, 4 * 3600.0, 8 * 3600.0]
    np.testing.assert_allclose(ds["charge_mah_cm2"].values[:3], q_true([0, 3 * 3600, 4 * 3600]),
                               rtol=1e-7, atol=1e-12)
    assert np.isnan(ds["charge_mah_cm2"].values[3])
    np.testing.assert_allclose(ds["faraday_residual_pct"].values[1:3], 10.0, rtol=1e-6)
    assert np.isnan(ds["faraday_residual_pct"].values[0])       # reference scan, dq = 0
    assert ds["state"].values.tolist()[:3] == ["pristine", "charging (50 % SoC)",
                                               "charging (67 % SoC)"]
    assert ds["state_source"].values.tolist() == ["experiment file", "echem log", "echem log", "none"]
    for k in ds.data_vars:
        assert "long_name" in ds[k].attrs, k
    assert ds["faraday_residual_pct"].attrs["units"] == "percent"


# ----------------------------------------------------------------------------------------
# the stage through the pipeline
# ----------------------------------------------------------------------------------------
LAYERS = [{"name": "cu", "material": "Cu", "thickness_um": 10},
          {"name": "plated", "material": "Li", "thickness_um": 0},
          {"name": "electrolyte", "material": "Li6PS5Cl", "thickness_um": 500}]
SCAN_H = [0.0, 2.0, 4.0, 6.0, 6.5]
FACTOR = [1.0, 1.0, 1.1, 0.95, 0.95]       # measured / Faraday plated thickness
FOOT_UM2 = 400.0 * 300.0


def metrics_dataset(scan_h, factor, state=None, t_offset_h=0.0, j=J_MA_CM2, hours=6.0):
    """Hand-made CT metrics (the contract of tomo/<series>/metrics)."""
    t = np.asarray(scan_h) * 3600.0
    dq = q_true(t + t_offset_h * 3600.0, hours=hours, j=j) - q_true(
        t[0] + t_offset_h * 3600.0, hours=hours, j=j)
    plated = 1.5 + np.asarray(factor) * li_um(dq)
    th = np.stack([np.full(t.size, 10.0), plated, np.full(t.size, 500.0)], axis=1)
    vol = th * FOOT_UM2
    layers = np.array([la["name"] for la in LAYERS], dtype=object)
    st = np.array(state if state is not None else [""] * t.size, dtype=object)
    return xr.Dataset({"thickness_mean_um": (("time_s", "layer"), th),
                       "layer_volume_um3": (("time_s", "layer"), vol),
                       "volume_um3": (("time_s", "phase"), vol),
                       "state": ("time_s", st)},
                      coords={"time_s": t, "layer": layers, "phase": layers},
                      attrs={"voxel_size_um": 0.65})


def experiment(tmp_path, **extra):
    d = {"name": "corr", "cell": {"area_cm2": AREA_CM2, "layers": LAYERS},
         "inputs": {"echem": [{"path": "plate.mpt"}, {"path": "eis0.mpt", "kind": "eis", "label": "eis0"},
                              {"path": "eis1.mpt", "kind": "eis", "label": "eis1"}],
                    "tomo": [{"path": f"scan{k}.h5", "time_s": h * 3600, "kind": "volume",
                              "voxel_size_um": 0.65} for k, h in enumerate(SCAN_H)]}}
    d.update(extra)
    return from_dict(d, base_dir=tmp_path)


def eis_store_dataset():
    return eis_dataset([dict(label="eis0", time_s=0.0, frequency_Hz=np.ones(3), z_real_ohm=np.ones(3),
                             z_imag_ohm=-np.ones(3), r_ct_ohm=100.0),
                        dict(label="eis1", time_s=5 * 3600.0, frequency_Hz=np.ones(3),
                             z_real_ohm=np.ones(3), z_imag_ohm=-np.ones(3), r_ct_ohm=40.0)])


def test_stage_through_the_pipeline(tmp_path):
    exp = experiment(tmp_path, analysis={"correlate": {}})
    stages = input_stages(exp)
    assert [s.name for s in stages] == ["correlate.states"]
    assert set(stages[0].inputs) == {"echem/timeseries", "tomo/scans/metrics", "echem/eis"}
    st = Store.create(tmp_path / "store.zarr")
    # the log carries no areal charge: the stage divides by the series' cell area itself
    st.write("echem/timeseries", timeseries_dataset(cc_log(), name="first_cycle"))
    st.write("tomo/scans/metrics", metrics_dataset(SCAN_H, FACTOR, state=["pristine", "", "", "", ""]))
    st.write("echem/eis", eis_store_dataset())
    res = run(stages, st, config=exp, quiet=True)
    assert res.ran == ("correlate.states",)
    ds = st[OUTPUT].load()
    t = np.asarray(SCAN_H) * 3600.0
    np.testing.assert_allclose(ds["time_s"].values, t)
    np.testing.assert_allclose(ds["charge_mah_cm2"].values, q_true(t), rtol=1e-7, atol=1e-12)
    np.testing.assert_allclose(ds["charge_mah"].values, q_true(t) * AREA_CM2, rtol=1e-7, atol=1e-12)
    assert ds["charge_mah_cm2"].attrs["units"] == "mA*h/cm^2"
    assert np.isnan(ds["faraday_residual_pct"].sel(time_s=0.0))
    assert float(ds["faraday_residual_pct"].sel(time_s=2 * 3600.0)) == pytest.approx(0.0, abs=1e-6)
    assert float(ds["faraday_residual_pct"].sel(time_s=4 * 3600.0)) == pytest.approx(10.0, rel=1e-6)
    assert float(ds["faraday_residual_pct"].sel(time_s=6 * 3600.0)) == pytest.approx(-5.0, rel=1e-6)
    # the volume change per CT footprint area gives the same residual (footprint from V / t)
    np.testing.assert_allclose(ds["faraday_volume_residual_pct"].values[1:],
                               ds["faraday_residual_pct"].values[1:], rtol=1e-9)
    np.testing.assert_allclose(ds["faraday_thickness_change_um"].values, li_um(q_true(t)), rtol=1e-6)
    assert ds["state"].values.tolist() == ["pristine", "charging (33 % SoC)", "charging (67 % SoC)",
                                           "charging (100 % SoC)", "rest"]
    assert ds["r_ct_ohm"].values.tolist() == [100.0, 100.0, 40.0, 40.0, 40.0]
    np.testing.assert_allclose(ds["voltage_V"].values[1:4], 0.02 + 1e-6 * t[1:4], rtol=1e-9)
    for k in ds.data_vars:
        assert "long_name" in ds[k].attrs, k
    import json

    info = json.loads(ds.attrs["series"])["scans"]
    assert info["plated_layer"] == "plated" and info["area_cm2"] == AREA_CM2
    assert info["footprint_area_um2"] == pytest.approx(FOOT_UM2)


def test_no_stage_without_echem_log_or_imaging(tmp_path):
    exp = experiment(tmp_path)
    assert input_stages(exp.model_copy(update={"inputs": exp.inputs.model_copy(
        update={"tomo": []})})) == []
    assert input_stages(exp.model_copy(update={"inputs": exp.inputs.model_copy(
        update={"echem": []})})) == []


def test_plated_layer_must_be_a_layer(tmp_path):
    from ssbscope.errors import ConfigError

    with pytest.raises(ConfigError, match="plated_layer"):
        input_stages(experiment(tmp_path, analysis={"correlate": {"plated_layer": "anode"}}))


def test_named_cells_use_their_own_log_and_area(tmp_path):
    """Two cells: series 'b' reads cell b's log and divides by cell b's area."""
    area_b, j_b = 0.25, 1.0
    exp = from_dict({
        "cell": {"area_cm2": AREA_CM2, "layers": LAYERS},
        "cells": {"b": {"area_cm2": area_b, "layers": LAYERS}},
        "inputs": {"echem": [{"path": "a.mpt", "label": "a"}, {"path": "b.mpt", "label": "b", "cell": "b"}],
                   "tomo": [{"path": "a0.h5", "time_s": 0}, {"path": "a1.h5", "time_s": 7200},
                            {"path": "b0.h5", "series": "b", "time_s": 0},
                            {"path": "b1.h5", "series": "b", "time_s": 3600}]}}, base_dir=tmp_path)
    stages = input_stages(exp)
    assert set(stages[0].inputs) == {"echem/timeseries", "echem/b/timeseries",
                                     "tomo/scans/metrics", "tomo/b/metrics"}
    st = Store.create(tmp_path / "store.zarr")
    st.write("echem/timeseries", timeseries_dataset(cc_log()))
    st.write("echem/b/timeseries", timeseries_dataset(cc_log(area=area_b, j=j_b)))
    st.write("tomo/scans/metrics", metrics_dataset([0.0, 2.0], [1.0, 1.0]))
    st.write("tomo/b/metrics", metrics_dataset([0.0, 1.0], [1.0, 1.2], j=j_b))
    run(stages, st, config=exp, quiet=True)
    ds = st[OUTPUT].load()
    b = ds.isel(time_s=ds["series"].values == "b")
    np.testing.assert_allclose(b["charge_mah_cm2"].values, [0.0, j_b * 1.0])
    assert b["echem_log"].values.tolist() == ["echem/b/timeseries"] * 2
    assert float(b["faraday_residual_pct"].values[1]) == pytest.approx(20.0, rel=1e-6)
    a = ds.isel(time_s=ds["series"].values == "scans")
    np.testing.assert_allclose(a["charge_mah_cm2"].values, [0.0, J_MA_CM2 * 2.0])
    assert float(a["faraday_residual_pct"].values[1]) == pytest.approx(0.0, abs=1e-6)


def test_end_to_end_from_an_mpt_log(tmp_path):
    """A BioLogic .mpt written from the constant-current log, read by the echem input stage."""
    from ssbscope.echem.stages import input_stages as echem_stages
    from ssbscope.twin.formats import write_mpt

    write_mpt(tmp_path / "plate.mpt", cc_log(dt_s=60.0), area_cm2=AREA_CM2)
    exp = from_dict({"cell": {"area_cm2": AREA_CM2, "layers": LAYERS},
                     "inputs": {"echem": [{"path": "plate.mpt"}],
                                "tomo": [{"path": f"s{k}.h5", "time_s": h * 3600}
                                         for k, h in enumerate(SCAN_H)]}}, base_dir=tmp_path)
    st = Store.create(tmp_path / "store.zarr")
    st.write("tomo/scans/metrics", metrics_dataset(SCAN_H, FACTOR))
    run(echem_stages(exp) + input_stages(exp), st, config=exp, quiet=True)
    ds = st[OUTPUT].load()
    t = np.asarray(SCAN_H) * 3600.0
    # .mpt stores the current in mA with finite digits: 1e-6 relative
    np.testing.assert_allclose(ds["charge_mah_cm2"].values, q_true(t), rtol=1e-5, atol=1e-8)
    np.testing.assert_allclose(ds["faraday_residual_pct"].values[1:], 100 * (np.array(FACTOR[1:]) - 1),
                               atol=1e-3)
    # the report section: the series table and the Faraday figure
    from ssbscope.report import build_report
    from ssbscope.report.correlate import section

    sec = section(st)
    assert sec is not None and sec.title == "Imaging vs electrochemistry"
    assert sec.html.count("<table>") == 2 and sec.html.count("<img") == 1
    assert "residual (%)" in sec.html and "<td>10</td>" in sec.html   # 1.1x Faraday at 4 h
    html = build_report(st, tmp_path / "report.html").read_text()
    assert "Imaging vs electrochemistry" in html


def test_neutron_frames_on_the_echem_clock(tmp_path):
    """A neutron series with time_s: rows per frame with charge and state, no thickness."""
    exp = from_dict({"cell": {"area_cm2": AREA_CM2, "layers": LAYERS},
                     "inputs": {"echem": [{"path": "plate.mpt"}],
                                "neutron": [{"path": "frames/*.fits", "label": "nr", "time_s": 1800.0,
                                             "frame_interval_s": 3600.0}]}}, base_dir=tmp_path)
    stages = input_stages(exp)
    assert set(stages[0].inputs) == {"echem/timeseries", "neutron/input/nr"}
    st = Store.create(tmp_path / "store.zarr")
    st.write("echem/timeseries", timeseries_dataset(cc_log()))
    t = 1800.0 + 3600.0 * np.arange(3)
    st.write("neutron/input/nr", xr.Dataset({"mean_counts": ("frame", np.ones(3))},
                                            coords={"frame": np.arange(3), "time_s": ("frame", t)}))
    run(stages, st, config=exp, quiet=True)
    ds = st[OUTPUT].load()
    assert ds["series"].values.tolist() == ["neutron/nr"] * 3
    assert ds["modality"].values.tolist() == ["neutron"] * 3
    np.testing.assert_allclose(ds["charge_mah_cm2"].values, q_true(t), rtol=1e-7)
    np.testing.assert_allclose(ds["charge_since_first_mah_cm2"].values, q_true(t) - q_true(t[0]), rtol=1e-7)
    assert np.all(np.isnan(ds["plated_thickness_change_um"].values))
    assert ds["state"].values.tolist()[0] == "charging (8 % SoC)"


def test_xcs_series_states_are_put_on_the_clock():
    """An XCS series (exposures with beam heights and times) gets rows in correlate/states,
    read from compton/<series>/emf; a series without times does not."""
    from ssbscope.config import from_dict
    from ssbscope.correlate.stages import _series_records

    def exp(with_time):
        items = [{"path": f"s{k}.ssbevt", "series": "xcs", "state": st, "beam_height_um": 600,
                  **({"time_s": t} if with_time else {})}
                 for k, (st, t) in enumerate((("pristine", 0.0), ("charged", 3600.0)))]
        return from_dict({"cell": {"area_cm2": 1.0, "layers": [
            {"name": "anode", "material": "Li", "thickness_um": 400}]},
            "inputs": {"echem": [{"path": "log.mpt"}], "compton": items}})

    recs, _ = _series_records(exp(True))
    (rec,) = [r for r in recs if r["modality"] == "compton"]
    assert rec["key"] == "compton/xcs/emf" and rec["log"] == "echem/timeseries"
    recs, _ = _series_records(exp(False))
    assert not [r for r in recs if r["modality"] == "compton"]
