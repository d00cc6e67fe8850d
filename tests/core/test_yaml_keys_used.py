"""Every key of analysis.tomo / analysis.transport is used or refused (issue 12: keys were
accepted and silently ignored), and `ssbscope validate` lists what `ssbscope run` refuses when
it builds its stages (its error messages send users to `validate`)."""

from __future__ import annotations

import pytest

from ssbscope.config import from_dict, validate_file
from ssbscope.errors import ConfigError

_LAYERS = [{"name": "Li", "material": "Li", "thickness_um": 30},
           {"name": "LPSCl", "material": "Li6PS5Cl", "thickness_um": 66},
           {"name": "counter", "material": "Li", "thickness_um": 30}]


def _doc(**analysis):
    return {"cell": {"diameter_mm": 2, "layers": _LAYERS},
            "inputs": {"tomo": [{"path": "s0.h5", "kind": "volume", "series": "cell", "time_s": 0}]},
            "analysis": analysis}


@pytest.mark.parametrize("analysis, match", [
    ({"tomo": {"threshold": "multiotsu"}}, "analysis.tomo.threshold"),        # was never read
    ({"tomo": {"thickness": ["Lii"]}}, "'Lii' is not a layer.*did you mean 'Li'"),
    ({"tomo": {"interfaces": ["Li|NOPE"]}}, "analysis.tomo.interfaces: 'NOPE'"),
    ({"tomo": {"interfaces": ["counter|Li"]}}, "counter must lie directly below Li"),
    ({"tomo": {"register_on": "Cu"}}, "analysis.tomo.register_on: 'Cu'"),
    ({"tomo": {"electrolyte": "SPE"}}, "analysis.tomo.electrolyte: 'SPE'"),
    ({"tomo": {"phase_levels": {"Unobtainium": 0.5}}}, "phase_levels: 'Unobtainium' is not a material"),
    ({"tomo": {"series": {"cell": {"thickness": ["Cu"]}}}}, "analysis.tomo.series.cell.thickness"),
    ({"transport": {"layer": "LPSCl"}}, "analysis.transport.layer: has no effect without"),
    ({"transport": {"n_slabs": 3}}, "analysis.transport.n_slabs: has no effect without"),
])
def test_unused_or_undeclared_keys_are_refused(analysis, match):
    with pytest.raises(ConfigError, match=match):
        from_dict(_doc(**analysis))


@pytest.mark.parametrize("analysis", [
    {"tomo": {"thickness": ["Li", "counter"], "interfaces": ["Li|LPSCl"], "register_on": "Li",
              "electrolyte": "LPSCl", "phase_levels": {"Li": 0.5}}},
    {"transport": {"phase": "Li6PS5Cl", "layer": "LPSCl", "n_slabs": 3}},
])
def test_declared_names_pass(analysis):
    from_dict(_doc(**analysis))


def test_a_dumped_config_loads_again():
    """``model_dump`` writes every default (``analysis.transport.axis: 0``, ``n_slabs: 4``):
    a config written back and read again must load, so defaults are not "settings without a
    phase" (CI failure: tests/tomo/test_scan_times.py round-trips a config this way)."""
    exp = from_dict(_doc(tomo={"thickness": ["Li"]}))
    again = from_dict(exp.model_dump(mode="json"))
    assert again.analysis.transport.n_slabs == 4 and again.analysis.transport.phase is None


def test_validate_lists_what_the_run_refuses_when_building_its_stages(tmp_path):
    """analysis.correlate.plated_layer naming no layer: `run` refused it (before any stage)
    and said "run 'ssbscope validate ...' for the full list", but `validate` said valid."""
    import yaml

    from ssbscope.twin.folder import write_ct_experiment

    folder = write_ct_experiment(tmp_path / "exp", design="symmetric", size="tiny")
    assert validate_file(folder.yaml_path) == []
    doc = yaml.safe_load(folder.yaml_path.read_text(encoding="utf-8"))
    doc["analysis"]["correlate"] = {"plated_layer": "Nope"}
    f = folder.root / "bad.yaml"
    f.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    probs = dict(validate_file(f))
    assert "'Nope' is not a layer" in probs.get("analysis.correlate.plated_layer", ""), probs
