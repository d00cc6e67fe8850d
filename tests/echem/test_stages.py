"""The echem demo stages and the echem report section, on a tiny twin run."""

from __future__ import annotations

import re

import numpy as np
import pytest

from ssbscope.config import Experiment
from ssbscope.echem import stages as S
from ssbscope.pipeline import run
from ssbscope.store import Store
from ssbscope.twin import echem as E


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    """The demo's echem files, YAML and truth, as ``ssbscope demo --only echem`` writes them."""
    from ssbscope.twin.demo import write_demo_folder

    return write_demo_folder(tmp_path_factory.mktemp("echem_demo") / "experiment", size="tiny",
                             modalities=["echem"])


@pytest.fixture(scope="module")
def store(folder):
    from ssbscope.config import load
    from ssbscope.workflow import run_experiment

    # the store only: the echem report section is checked on it (test_report_section), the
    # whole report on the tiny demo's
    res = run_experiment(load(folder.yaml_path), folder.root.parent, quiet=True, report=False)
    assert set(res.result.ran) == {"echem.inputs.read", "echem.inputs.analyse", "echem.inputs.eis"}
    return Store.open(res.store_path)


@pytest.fixture(scope="module")
def truth(folder):
    import json

    return json.loads(folder.truth_path.read_text())["echem"]


def test_datasets_written_with_units(store):
    names = set(store.names())
    for n in ("echem/timeseries", "echem/cycles", "echem/events", "echem/states", "echem/eis",
              "echem/anode_free/timeseries", "echem/ccd/timeseries", "echem/short_soft/timeseries"):
        assert n in names, n
    assert not any(n.startswith("echem/twin") for n in names)  # no truth in the analysis
    ts = store["echem/timeseries"]
    assert ts["time_s"].attrs["units"] == "s"
    assert ts["voltage_V"].attrs["units"] == "V" and ts["current_A"].attrs["units"] == "A"
    assert ts["capacity_mAh_g"].attrs["units"] == "mA*h/g"
    assert np.all(np.diff(ts["time_s"].values) >= 0)
    assert not any(v.startswith("true_") for n in ("echem/events", "echem/eis")
                   for v in store[n].data_vars)
    # provenance names the raw twin file with its hash
    prov = store.provenance("echem/timeseries")
    assert any(i["path"].endswith("nmc622_first_cycle.mpt") and len(i["sha256"]) == 64
               for i in prov["inputs"])


def test_results_match_the_twin_truth(store, truth):
    cyc = store["echem/cycles"].load().to_dataframe()
    for name in ("first_cycle", "anode_free"):
        ce = cyc[(cyc["log"] == name) & (cyc["cycle"] == 1)]["coulombic_efficiency"].iloc[0]
        assert 100 * abs(ce - truth["logs"][name]["ce_fraction"]) < 0.1, name
    # areal capacity of a named cell uses that cell's area (anode-free: 3 mAh cm-2 plated)
    af = store["echem/anode_free/timeseries"].load()
    hc = af["half_cycle"].values
    first = hc == hc[af["capacity_mAh_cm2"].values > 0][0]
    assert float(af["capacity_mAh_cm2"].values[first].max()) == pytest.approx(3.0, rel=0.01)
    ev = store["echem/events"].load().to_dataframe()
    ccd = ev[ev["kind"] == "ccd"]["ccd_ma_cm2"].iloc[0]
    assert ccd == pytest.approx(truth["logs"]["ccd"]["ccd_ma_cm2"], rel=1e-3)
    kinds = {(r.log, r.kind) for r in ev.itertuples()}
    assert ("short_soft", "soft") in kinds and ("short_hard", "hard") in kinds
    assert not any(r.log == "short_clean" for r in ev.itertuples())
    st = store["echem/states"].load()
    labels = [str(x) for x in st["measured_state"].values]
    assert labels[1:] == ["charging (20 % SoC)", "charging (71 % SoC)", "charging (100 % SoC)",
                          "discharging (22 % DoD)", "discharging (77 % DoD)",
                          "discharging (100 % DoD)"]
    eis = store["echem/eis"].load()
    np.testing.assert_allclose(eis["r_ct_ohm"], [t["r_ct_ohm"] for t in truth["eis"]], rtol=0.02)
    np.testing.assert_allclose(eis["r_s_ohm"], [t["r_s_ohm"] for t in truth["eis"]], rtol=0.02)


def test_rerun_resumes_everything(store, folder):
    from ssbscope.config import load
    from ssbscope.workflow import run_experiment

    before = store["echem/cycles"].load()
    res = run_experiment(load(folder.yaml_path), folder.root.parent, quiet=True, report=False)
    assert res.result.ran == () and len(res.result.skipped) == 3
    assert store["echem/cycles"].load().identical(before)


def test_timeseries_dataset_without_pipeline():
    tw = E.anode_free_cell("A", dt_s=300.0)
    ds = S.timeseries_dataset(tw.data, area_cm2=tw.area_cm2, name="a")
    assert ds.sizes["time_s"] == len(tw.data)
    # plated charge in mAh cm-2 = 3.0 at the end of the first half-cycle (Faraday)
    plate_end = tw.steps[0][3]
    q = float(ds["charge_mAh_cm2"].sel(time_s=plate_end))
    assert q == pytest.approx(3.0, rel=1e-3)
    assert ds["charge_mAh_cm2"].attrs["units"] == "mA*h/cm^2"


def test_report_section(store):
    from ssbscope.report.echem import section

    sec = section(store)
    assert sec.title == "Electrochemistry"
    figures = re.findall(r'<img class="fig"[^>]*src="data:image/png;base64,', sec.html)
    assert len(figures) == 5  # V-t, V-Q, other logs, Nyquist, R vs state
    assert "charging II" in sec.html and "critical current density" in sec.html
    summary = dict(sec.summary)
    assert summary["CE, first_cycle cycle 1"] == "86.50 %"
    assert summary["Critical current density"] == "2.50 mA cm⁻²"


def test_report_section_none_without_echem(tmp_path):
    from ssbscope.report.echem import section

    assert section(Store.create(tmp_path / "empty.zarr")) is None


def test_input_stages_on_real_format_files(tmp_path):
    """``ssbscope run`` path: files named in the experiment, states at the imaging times."""
    from ssbscope.config import Cell, EchemInput, Inputs, TomoInput
    from ssbscope.twin import formats as F

    cyc = E.nmc622_first_cycle(dt_s=300.0)
    F.write_twin(cyc, tmp_path / "cycle1.mpt")
    F.write_twin(E.nmc622_first_cycle(dt_s=300.0, seed=5, coulombic_efficiency=0.9),
                 tmp_path / "cycle1_repeat_neware.csv")
    F.write_twin(E.first_cycle_eis(cyc)[3], tmp_path / "peis_charged.mpt")
    t_ch2 = cyc.state_time_s("charging II")
    t_dis1 = cyc.state_time_s("discharging I")
    exp = Experiment(
        cell=Cell(area_cm2=cyc.area_cm2, active_mass_mg=cyc.active_mass_mg),
        inputs=Inputs(
            echem=[EchemInput(path="cycle1.mpt"),
                   EchemInput(path="cycle1_repeat_neware.csv", label="repeat cell", format="neware"),
                   EchemInput(path="peis_charged.mpt", kind="eis", time_s=cyc.charge_end_s)],
            tomo=[TomoInput(path="scan_a.h5", time_s=t_ch2, label="charging II"),
                  TomoInput(path="scan_b.h5", time_s=t_dis1, label="discharging I")]),
        base_dir=str(tmp_path))
    stages = S.input_stages(exp)
    assert [s.name for s in stages] == ["echem.inputs.read", "echem.inputs.analyse", "echem.inputs.eis"]
    st = Store.create(tmp_path / "store.zarr")
    run(stages, st, raw_dir=tmp_path, quiet=True)
    assert {"echem/timeseries", "echem/repeat_cell/timeseries", "echem/eis"} <= set(st.names())
    states = st["echem/states"].load()
    assert [str(x) for x in states["label"].values] == ["tomo: charging II", "tomo: discharging I"]
    assert [str(x) for x in states["measured_state"].values] == ["charging (71 % SoC)",
                                                                  "discharging (22 % DoD)"]
    cycles = st["echem/cycles"].load().to_dataframe().set_index("log")
    assert 100 * abs(cycles.loc["first_cycle", "coulombic_efficiency"] - cyc.coulombic_efficiency) < 0.1
    assert 100 * abs(cycles.loc["repeat_cell", "coulombic_efficiency"] - 0.9) < 0.1
    assert len(st["echem/events"].load()["event"]) == 0  # clean cycles: no short, no CCD
    eis = st["echem/eis"].load()
    assert float(eis["r_ct_ohm"][0]) == pytest.approx(160.0, rel=0.02)
    assert float(eis["time_s"][0]) == pytest.approx(cyc.charge_end_s)


@pytest.mark.parametrize("sign", [1, -1])
def test_input_stages_find_the_ccd(tmp_path, sign):
    from ssbscope.config import Cell, EchemInput, Inputs
    from ssbscope.twin import formats as F

    tw = E.ccd_staircase(dt_s=20.0, plating_sign=sign, ccd_ma_cm2=1.5)
    F.write_twin(tw, tmp_path / "ccd.csv")
    exp = Experiment(cell=Cell(area_cm2=tw.area_cm2),
                     inputs=Inputs(echem=[EchemInput(path="ccd.csv")]), base_dir=str(tmp_path))
    st = Store.create(tmp_path / "store.zarr")
    run(S.input_stages(exp), st, raw_dir=tmp_path, quiet=True)
    ev = st["echem/events"].load().to_dataframe()
    assert ev[ev["kind"] == "ccd"]["ccd_ma_cm2"].tolist() == pytest.approx([1.5], rel=1e-3)


def test_input_stages_without_echem_inputs_is_empty():
    assert S.input_stages(Experiment()) == []


def test_echem_glob_gives_one_input_per_file_through_run(tmp_path, capsys):
    """issue 14 item 4 (globs for every modality): an echem path with a pattern reads each
    matching file as its own log (label_<stem>); a pattern with one match is that file; a
    pattern that matches nothing is refused by validate (exit 2, the field named)."""
    import shutil
    from pathlib import Path

    import yaml

    from ssbscope.cli import main
    from ssbscope.store import Store

    src = Path(__file__).resolve().parents[1] / "data" / "realdata" / "biologic"
    for f in ("bdfrepo_GCPL-0.mpr", "bdfrepo_MB-1.mpr"):
        shutil.copyfile(src / f, tmp_path / f)
    y = tmp_path / "e.yaml"
    y.write_text(yaml.safe_dump({"cell": {"name": "c", "area_cm2": 1.0},
                                 "inputs": {"echem": [{"path": "bdfrepo_*.mpr", "label": "gc"}]}}))
    assert main(["run", str(y), "--out", str(tmp_path / "out"), "--quiet"]) == 0
    names = Store.open(tmp_path / "out").names()
    assert "echem/timeseries" in names and "echem/gc_bdfrepo_mb_1/timeseries" in names
    assert "GCPL-0.mpr" in str(Store.open(tmp_path / "out").read("echem/timeseries").attrs)
    y.write_text(yaml.safe_dump({"cell": {"name": "c", "area_cm2": 1.0},
                                 "inputs": {"echem": [{"path": "nothing_*.mpr"}]}}))
    capsys.readouterr()
    assert main(["validate", str(y)]) == 2
    assert "inputs.echem[0].path: 'nothing_*.mpr' matches no file" in capsys.readouterr().out
