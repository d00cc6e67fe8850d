"""Experiment YAML schema: every problem reported with its location."""

import textwrap

import pytest

from ssbscope.config import from_dict, load, validate_file
from ssbscope.errors import ConfigError

GOOD = textwrap.dedent("""
    name: test cell
    seed: 3
    cell:
      diameter_mm: 14
      active_mass_mg: 12.5
      layers:
        - {name: cathode, material: NMC622, thickness_um: 65}
        - {name: SPE, material: PEO-LiTFSI, thickness_um: 30}
        - {name: anode, material: Li, thickness_um: 250}
    inputs:
      echem:
        - {path: log.csv, format: csv, columns: {time_s: "t", voltage_V: "U", current_A: "I"}}
    analysis:
      echem: {drop_mV: 2.5}
      tomo: {opening_radius_vox: 3}
""")


def test_valid_file_loads_with_resolved_paths(tmp_path):
    f = tmp_path / "exp.yaml"
    f.write_text(GOOD)
    (tmp_path / "log.csv").write_text("t,U,I\n0,3,0\n")
    exp = load(f)
    assert exp.seed == 3
    assert exp.cell.electrode_area_cm2 == pytest.approx(1.5394, rel=1e-4)
    assert exp.analysis.echem.drop_mV == 2.5
    assert exp.analysis.tomo.central_fraction == 0.75  # default
    assert exp.resolve(exp.inputs.echem[0].path) == tmp_path / "log.csv"
    assert validate_file(f) == []


def test_every_problem_with_location(tmp_path):
    f = tmp_path / "bad.yaml"
    f.write_text(GOOD.replace("thickness_um: 250", "thickness_um: -1, colour: red")
                 .replace("seed: 3", "seed: three").replace("drop_mV: 2.5", "drop_mV: -1")
                 + "extra_key: 1\n")
    probs = dict(validate_file(f))
    assert probs["cell.layers[2].thickness_um"] == "must be >= 0"
    assert "unknown key" in probs["cell.layers[2].colour"]
    assert probs["seed"].startswith("must be an integer")
    assert probs["analysis.echem.drop_mV"] == "must be > 0"
    assert "unknown key" in probs["extra_key"]
    with pytest.raises(ConfigError, match=r"5 problem\(s\)"):
        load(f)


def test_missing_input_file_is_a_problem(tmp_path):
    f = tmp_path / "exp.yaml"
    f.write_text(GOOD)
    assert validate_file(f) == [("inputs.echem[0].path", "'log.csv' does not exist")]


def test_glob_inputs_and_side_files_are_checked(tmp_path):
    for i in range(2):
        (tmp_path / f"img_{i}.fits").write_bytes(b"")
    f = tmp_path / "exp.yaml"
    f.write_text("name: x\ninputs:\n  neutron:\n    - {path: 'img_*.fits', format: fits}\n"
                 "    - {path: 'none_*.fits', format: fits}\n"
                 "  compton:\n    - {path: img_0.fits, calibration: cal.dat}\n")
    assert validate_file(f) == [
        ("inputs.compton[0].calibration", "'cal.dat' does not exist"),
        ("inputs.neutron[1].path", "'none_*.fits' matches no file"),
    ]


@pytest.mark.parametrize("text, loc", [
    ("", "(top level)"),
    ("- a\n- b\n", "(top level)"),
    ("name: [unclosed\n", "line"),
])
def test_empty_non_mapping_and_syntax_errors(tmp_path, text, loc):
    f = tmp_path / "e.yaml"
    f.write_text(text)
    probs = validate_file(f)
    assert probs and probs[0][0].startswith(loc)


def test_area_and_diameter_must_agree():
    with pytest.raises(ConfigError, match="disagrees with diameter_mm"):
        from_dict({"cell": {"area_cm2": 2.0, "diameter_mm": 14}})


def test_missing_file():
    with pytest.raises(ConfigError, match="does not exist"):
        load("/nonexistent/exp.yaml")


def test_neutron_bin_frames_defaults_to_analysis_and_must_be_positive(tmp_path):
    from ssbscope.neutron.stages import input_stages

    exp = from_dict({"inputs": {"neutron": [{"path": "a.fits"}, {"path": "b.fits", "bin_frames": 10}]},
                     "analysis": {"neutron": {"bin_frames": 20, "reference_index": 2}}}, base_dir=tmp_path)
    assert exp.inputs.neutron[0].bin_frames is None  # None: decided from the series (time/TOF, length)
    p = [s.params for s in input_stages(exp)]
    assert [q["bin_frames"] for q in p] == [None, 10]
    assert {q["default_bin_frames"] for q in p} == {20} and {q["reference_index"] for q in p} == {2}
    with pytest.raises(ConfigError, match=r"inputs.neutron\[0\].bin_frames: must be >= 1"):
        from_dict({"inputs": {"neutron": [{"path": "a.fits", "bin_frames": 0}]}})


def test_named_cells_and_series(tmp_path):
    """Inputs pick a named cell; a CT series named like a cell uses it; unknown names fail."""
    exp = from_dict({
        "cells": {"sym": {"layers": [{"name": "Li", "material": "Li", "thickness_um": 0},
                                     {"name": "LPSCl", "material": "Li6PS5Cl", "thickness_um": 600},
                                     {"name": "counter", "material": "Li", "thickness_um": 40}]}},
        "inputs": {"tomo": [{"path": "a.h5", "series": "sym", "state": "plated"},
                            {"path": "b.h5"}]}})
    assert [la.name for la in exp.cell_of(exp.inputs.tomo[0]).layers] == ["Li", "LPSCl", "counter"]
    assert exp.cell_of(exp.inputs.tomo[1]) is exp.cell
    assert exp.inputs.tomo[1].series == "scans"
    with pytest.raises(ConfigError, match=r"inputs.tomo\[0\].cell: 'x' is not a key of cells"):
        from_dict({"inputs": {"tomo": [{"path": "a.h5", "cell": "x"}]}})
    with pytest.raises(ConfigError, match="layer names must be unique"):
        from_dict({"cell": {"layers": [{"name": "Li", "material": "Li", "thickness_um": 1},
                                       {"name": "Li", "material": "Li", "thickness_um": 1}]}})


def test_every_yaml_key_is_described():
    """The schema documents itself: every field of the experiment file has a description
    (what `ssbscope validate` and the README point users to)."""
    import typing

    from pydantic import BaseModel

    from ssbscope.config import Experiment

    missing, seen = [], set()

    def walk(model, path):
        if model in seen:
            return
        seen.add(model)
        for name, f in model.model_fields.items():
            if not f.description and name != "base_dir":
                missing.append(f"{path}{name}")
            args = [f.annotation, *typing.get_args(f.annotation)]
            args += [a for x in typing.get_args(f.annotation) for a in typing.get_args(x)]
            for t in args:
                if isinstance(t, type) and issubclass(t, BaseModel):
                    walk(t, f"{path}{name}.")

    walk(Experiment, "")
    assert missing == []
