"""Per-series CT settings: ``analysis.tomo.series.<name>`` overrides ``analysis.tomo`` for one
series only (config parsing and errors, the series stages' parameters and fingerprints, the
twin's folder writer, and the demo's coin series)."""

from __future__ import annotations

import copy

import numpy as np
import pytest

from ssbscope.config import from_dict
from ssbscope.errors import ConfigError

_LAYERS_AF = [{"name": "Cu", "material": "Cu", "thickness_um": 20},
              {"name": "Li", "material": "Li", "thickness_um": 0},
              {"name": "LPSCl", "material": "Li6PS5Cl", "thickness_um": 100},
              {"name": "counter", "material": "Li", "thickness_um": 40}]
_LAYERS_COIN = [{"name": "anode", "material": "Li", "thickness_um": 50},
                {"name": "SPE", "material": "PEO-LiTFSI", "thickness_um": 30},
                {"name": "cathode", "material": "NMC622", "thickness_um": 60}]


def _exp(tomo_analysis, tmp_path=None):
    """Two CT series of two cells (anode-free, coin), two scans each, times in the YAML."""
    d = {"cells": {"af": {"diameter_mm": 2.0, "layers": _LAYERS_AF},
                   "coin": {"diameter_mm": 2.0, "layers": _LAYERS_COIN}},
         "inputs": {"tomo": [
             {"path": f"scans/{s}{k}.h5", "kind": "projections", "series": s, "time_s": 100 * k}
             for s in ("af", "coin") for k in range(2)]},
         "analysis": {"tomo": copy.deepcopy(tomo_analysis)}}
    return from_dict(d, base_dir=tmp_path)


def _problems(tomo_analysis):
    with pytest.raises(ConfigError) as e:
        _exp(tomo_analysis)
    return e.value.problems


def test_override_applies_to_its_series_only():
    exp = _exp({"n_layers": 5, "min_filament_volume_um3": 0,
                "series": {"coin": {"electrolyte": "SPE", "min_filament_volume_um3": 3.4e5,
                                    "thickness": None}}})
    an = exp.analysis.tomo
    coin, af = an.for_series("coin"), an.for_series("af")
    assert coin.electrolyte == "SPE" and coin.min_filament_volume_um3 == 3.4e5
    assert coin.n_layers == 5                    # not overridden: the shared value
    assert coin.thickness is None                # explicit null: the default (every layer)
    assert af.electrolyte is None and af.min_filament_volume_um3 == 0 and af.n_layers == 5
    assert coin.series == {} and af.series == {}
    assert an.min_filament_volume_um3 == 0       # the section itself is unchanged


def test_override_errors_name_the_field():
    (loc, msg), = _problems({"series": {"coni": {"electrolyte": "SPE"}}})
    assert "analysis.tomo.series" in msg and "'coni'" in msg and "did you mean 'coin'" in msg
    (loc, msg), = _problems({"series": {"coin": {"electrolite": "SPE"}}})
    assert loc == "analysis.tomo.series.coin.electrolite" and "did you mean 'electrolyte'" in msg
    (loc, msg), = _problems({"series": {"coin": {"n_layers": 0}}})
    assert loc == "analysis.tomo.series.coin.n_layers" and msg == "must be >= 1"
    (loc, msg), = _problems({"series": {"coin": {"central_fraction": 1.5}}})
    assert loc == "analysis.tomo.series.coin.central_fraction" and msg == "must be <= 1"
    (loc, _), = _problems({"series": {"coin": {"median": None}}})  # not optional above either
    assert loc == "analysis.tomo.series.coin.median"
    # segmentation too (tests/tomo/test_series_segmentation_override.py): its keys checked
    (loc, msg), = _problems({"series": {"coin": {"segmentation": {"metod": "threshold"}}}})
    assert loc == "analysis.tomo.series.coin.segmentation.metod"
    assert "did you mean 'method'" in msg


def test_override_model_reuses_the_fields():
    """Every field of analysis.tomo but series, same description and constraints; in the
    JSON schema without a default (unset: the shared value)."""
    from ssbscope.config import TomoAnalysis, TomoSeriesSettings

    want = set(TomoAnalysis.model_fields) - {"series"}
    assert set(TomoSeriesSettings.model_fields) == want
    for n in want:
        a, b = TomoAnalysis.model_fields[n], TomoSeriesSettings.model_fields[n]
        assert b.description == a.description and b.description
        assert b.metadata == a.metadata
    sch = TomoSeriesSettings.model_json_schema()
    assert all("default" not in p for p in sch["properties"].values())
    assert sch["additionalProperties"] is False


def _series_params(exp):
    from ssbscope.pipeline import _fingerprint
    from ssbscope.tomo.stages import input_stages

    out = {}
    for s in input_stages(exp):
        if s.name.endswith(".series"):
            out[s.name.split(".")[1]] = (s.params, _fingerprint(s, exp.seed, {}))
    return out


def test_override_reaches_only_its_series_stage(tmp_path):
    """The series stages' parameters are the series' effective settings; changing one series'
    override changes that series' fingerprint only (so only it re-runs)."""
    shared = {"central_fraction": 0.6, "min_filament_volume_um3": 0,
              "thickness": ["Li", "counter", "anode", "SPE"]}
    a = _series_params(_exp({**shared, "series": {
        "coin": {"electrolyte": "SPE", "min_filament_volume_um3": 3.4e5,
                 "interfaces": ["anode|SPE"]}}}, tmp_path))
    assert a["coin"][0]["electrolyte"] == "SPE"
    assert a["coin"][0]["min_filament_volume_um3"] == 3.4e5
    assert a["coin"][0]["interfaces"] == ["anode|SPE"]
    assert a["coin"][0]["central_fraction"] == 0.6
    assert a["coin"][0]["thickness"] == ["anode", "SPE"]   # shared names of the other cell skipped
    assert a["af"][0]["electrolyte"] is None
    assert a["af"][0]["min_filament_volume_um3"] == 0
    assert a["af"][0]["interfaces"] is None
    assert a["af"][0]["thickness"] == ["Li", "counter"]
    b = _series_params(_exp({**shared, "series": {
        "coin": {"electrolyte": "SPE", "min_filament_volume_um3": 1e5,
                 "interfaces": ["anode|SPE"]}}}, tmp_path))
    assert b["coin"][0]["min_filament_volume_um3"] == 1e5
    assert b["coin"][1] != a["coin"][1]
    assert b["af"][1] == a["af"][1]
    # a series' own layer names are never skipped: one its cell lacks is refused when the
    # experiment file is read (it used to stop the series stage after the reconstructions)
    from ssbscope.errors import ConfigError

    with pytest.raises(ConfigError, match=r"analysis.tomo.series.coin.thickness: 'Li' is not a layer"):
        _exp({"series": {"coin": {"thickness": ["Li"]}}}, tmp_path)
    # without overrides the parameters are the shared section's, as before
    d = _series_params(_exp(shared, tmp_path))
    e = _series_params(_exp({**shared, "series": {"coin": {}}}, tmp_path))
    assert d["af"][1] == a["af"][1] and e["coin"][1] == d["coin"][1]


def test_folder_writer_puts_differing_settings_under_their_series(tmp_path):
    from ssbscope.config import load
    from ssbscope.twin.folder import FolderPart, write_experiment_yaml

    def part(series, layers, tomo):
        p = FolderPart()
        p.cells[series] = ({"diameter_mm": 2.0, "layers": layers}, series, None)
        p.inputs["tomo"] = [({"path": f"{series}.h5", "kind": "projections",
                              "series": series, "time_s": 0}, None)]
        p.analysis["tomo"] = tomo
        return p

    parts = [part("af", _LAYERS_AF, {"thickness": ["Li", "counter"], "central_fraction": 0.6}),
             part("coin", _LAYERS_COIN, {"thickness": ["anode", "SPE"], "electrolyte": "SPE",
                                         "central_fraction": 0.6})]
    path = write_experiment_yaml(tmp_path / "experiment.yaml", parts, name="two cells", seed=0)
    an = load(path).analysis.tomo
    assert an.central_fraction == 0.6 and an.thickness is None and an.electrolyte is None
    assert set(an.series) == {"af", "coin"}
    assert an.series["af"].model_dump(exclude_unset=True) == {"thickness": ["Li", "counter"]}
    assert an.series["coin"].model_dump(exclude_unset=True) == {"thickness": ["anode", "SPE"],
                                                                "electrolyte": "SPE"}
    # one part: its settings stay shared, as a user with one cell writes them
    one = write_experiment_yaml(tmp_path / "one.yaml", parts[1:], name="one cell", seed=0)
    an = load(one).analysis.tomo
    assert an.electrolyte == "SPE" and an.series == {}


def test_demo_coin_series_counts_no_new_filaments(tiny_demo):
    """The demo's coin cell (PEO-LiTFSI SPE, Huang et al. 2024) takes the default smallest
    filament volume (3.4e5 um3), not the soft-short pellet's 0 (Cao et al. 2023 count every
    new region): no new filaments between its scans (its twin grows none)."""
    from ssbscope.config import load
    from ssbscope.store import Store

    exp = load(tiny_demo / "experiment" / "experiment.yaml")
    an = exp.analysis.tomo
    assert an.for_series("coin").min_filament_volume_um3 == pytest.approx(3.4e5)
    assert an.for_series("coin").electrolyte == "SPE"
    assert an.for_series("soft_short").min_filament_volume_um3 == 0
    met = Store.open(tiny_demo / "store.zarr")["tomo/coin/metrics"].load()
    assert met.attrs["electrolyte"] == "SPE"
    assert np.all(met["new_filaments"].values[1:] == 0)
    assert np.all(met["new_filament_volume_um3"].values[1:] == 0)
