"""Every example experiment file of the README: valid against the schema, and run.

`ct_series.yaml` runs on the twin's symmetric cell written as a beamline would (the file names
the example uses are the ones `ssbscope twin symmetric` writes); `echem.yaml` and
`realdata.yaml` on the real files of ../shared/realdata (realdata.yaml in
test_run_realdata.py); `contours.yaml` is run in the interface tests' time budget only as
its stage list (its full study takes ~80 s on 2 cores).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from ssbscope.cli import main
from ssbscope.config import load
from ssbscope.store import Store
from ssbscope.testing import realdata_dir

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


@pytest.mark.parametrize("name", sorted(p.name for p in EXAMPLES.glob("*.yaml")))
def test_every_example_loads(name):
    exp = load(EXAMPLES / name)
    assert exp.name


@pytest.mark.parametrize("name", sorted(p.name for p in EXAMPLES.glob("*.yaml")))
def test_schema_command_validates_every_example(name, capsys):
    """`ssbscope schema` (JSON Schema for editors) accepts every example file."""
    import json

    import yaml

    jsonschema = pytest.importorskip("jsonschema")
    assert main(["schema"]) == 0
    schema = json.loads(capsys.readouterr().out)
    data = yaml.safe_load((EXAMPLES / name).read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator(schema).validate(data)


def test_ct_series_example_runs_on_the_twin_symmetric_cell(tmp_path):
    assert main(["twin", "symmetric", "--out", str(tmp_path), "--size", "tiny", "--quiet"]) == 0
    shutil.copy(EXAMPLES / "ct_series.yaml", tmp_path / "ct_series.yaml")
    assert main(["validate", str(tmp_path / "ct_series.yaml"), "--quiet"]) == 0
    assert main(["run", str(tmp_path / "ct_series.yaml"), "--out", str(tmp_path / "run"),
                 "--quiet"]) == 0
    st = Store.open(tmp_path / "run" / "store.zarr")
    met = st["tomo/sym/metrics"]
    assert met["ra_um"].dims == ("time_s", "interface")
    assert list(met["interface"].values) == ["Li|LPSCl"]
    assert met["thickness_center_um"].dims == ("time_s", "layer")
    assert met["volume_change_pct"].dims == ("time_s", "phase")
    assert {"tomo/sym/maps", "tomo/sym/volumes", "tomo/sym/labels", "correlate/states"} <= set(st.names())
    th = met["thickness_mean_um"].sel(layer="Li").values
    assert np.all(np.diff(th) > 0)  # plating thickens the bottom Li
    sc = st["interface/sym/surface_current"]
    assert sc.attrs["interface"] == "Li|LPSCl"
    assert sc["current_ma_cm2"].dims == ("time_s", "y", "x")
    assert np.isfinite(sc["correlation"].values).all()  # every interval compared


_BESIDE = pytest.mark.skipif(
    not (EXAMPLES.parent.parent / "shared" / "realdata").exists(),
    reason="the example's ../../shared/realdata files are not beside this clone")


def test_xcs_series_example_runs_on_the_twin_coin_cell(tmp_path):
    assert main(["twin", "xcs", "--out", str(tmp_path), "--size", "tiny", "--quiet"]) == 0
    shutil.copy(EXAMPLES / "xcs_series.yaml", tmp_path / "xcs_series.yaml")
    assert main(["run", str(tmp_path / "xcs_series.yaml"), "--out", str(tmp_path / "run"),
                 "--quiet"]) == 0
    emf = Store.open(tmp_path / "run" / "store.zarr")["compton/xcs/emf"]
    assert emf["emf"].dims == ("state", "component")
    assert list(emf["component"].values) == ["anode", "interphase", "SPE", "cathode"]
    assert list(emf["state"].values) == ["pristine", "fully charged"]
    # the anode's EMF (pure Li in the twin) within 3 sigma of lithium's at both states
    an = emf["emf"].sel(component="anode").values
    assert np.all(np.abs(an - an.mean()) < 3 * emf["emf_unc"].sel(component="anode").values)


@_BESIDE
def test_neutron_example_runs_on_real_files(tmp_path):
    assert main(["run", str(EXAMPLES / "neutron.yaml"), "--out", str(tmp_path), "--quiet"]) == 0
    assert "neutron/input/TOF_bins" in Store.open(tmp_path / "store.zarr").names()


@_BESIDE
def test_echem_example_runs_on_real_files(tmp_path):
    assert main(["run", str(EXAMPLES / "echem.yaml"), "--out", str(tmp_path), "--quiet"]) == 0
    st = Store.open(tmp_path / "store.zarr")
    assert {"echem/timeseries", "echem/cycles", "echem/eis", "echem/states"} <= set(st.names())
    states = st["echem/states"].load()
    assert [str(x) for x in states["label"].values] == ["after 2 h"]
