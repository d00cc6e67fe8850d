"""Per-series segmentation (``analysis.tomo.series.<name>.segmentation``, issue 12): two cells
of an experiment segmented differently (thresholds for one, a random forest trained on the
other's own labelled planes), validated with errors that name the field, and reflected in the
series stages' fingerprints so that changing one series' segmentation re-runs only it.

The run uses ``kind: volume`` inputs: the anode-free twin's attenuation volume (Sandoval et
al. 2025 case B, 3.0 mAh cm^-2 plated; 32 x 32 x 48 voxels of 3 µm) plus Gaussian noise, the
same two noisy scans for both series, so any difference between them is the segmentation's."""

from __future__ import annotations

import copy

import numpy as np
import pytest

from ssbscope.config import from_dict
from ssbscope.errors import ConfigError

LAYERS = [{"name": "Cu", "material": "Cu", "thickness_um": 12},
          {"name": "Li", "material": "Li", "thickness_um": 0},
          {"name": "LPSCl", "material": "Li6PS5Cl", "thickness_um": 63},
          {"name": "counter", "material": "Li", "thickness_um": 40}]
CLASSES = ["Li", "Li6PS5Cl", "Cu", "void", "undeclared"]
TRUTH_CLASS = {"li": 1, "li_filament": 1, "lpscl": 2, "cu": 3, "void": 4, "pore": 4,
               "crack": 4, "steel": 5}
FOREST = {"method": "random_forest",
          "training": {"labels": "labels/b_planes.npy", "classes": CLASSES,
                       "n_estimators": 10, "max_depth": 8, "max_samples": 20000}}


def _doc(tomo_analysis):
    return {"seed": 1,
            "cells": {"a": {"diameter_mm": 0.1, "layers": LAYERS},
                      "b": {"diameter_mm": 0.1, "layers": LAYERS}},
            "inputs": {"tomo": [
                {"path": f"vols/s{k}.tif", "kind": "volume", "series": s, "time_s": 3600 * k,
                 "voxel_size_um": 3.0, "label": f"{s}{k}"}
                for s in ("a", "b") for k in range(2)]},
            "analysis": {"tomo": {"interfaces": ["Li|LPSCl"], "thickness": ["Li", "counter"],
                                  "min_filament_volume_um3": 0,
                                  **copy.deepcopy(tomo_analysis)}}}


def _problems(tomo_analysis):
    with pytest.raises(ConfigError) as e:
        from_dict(_doc(tomo_analysis))
    return e.value.problems


def test_segmentation_override_errors_name_the_field():
    # an unknown key inside the series' segmentation: its full location and the known key
    (loc, msg), = _problems({"series": {"b": {"segmentation": {"metod": "threshold"}}}})
    assert loc == "analysis.tomo.series.b.segmentation.metod"
    assert "did you mean 'method'" in msg
    (loc, msg), = _problems({"series": {"b": {"segmentation": {"method": "forest"}}}})
    assert loc == "analysis.tomo.series.b.segmentation.method" and "random_forest" in msg
    (loc, msg), = _problems({"series": {"b": {"segmentation": {"method": "random_forest"}}}})
    assert loc == "analysis.tomo.series.b.segmentation" and "training" in msg
    # the training scan must be one of the series' own scans
    bad = copy.deepcopy(FOREST)
    bad["training"]["scan"] = "a0"
    (_, msg), = _problems({"series": {"b": {"segmentation": bad}}})
    assert "analysis.tomo.series.b.segmentation.training.scan" in msg
    assert "'a0' is not a scan of series 'b'" in msg and "(its scans: b0, s0, b1, s1)" in msg
    bad["training"]["scan"] = "b01"
    (_, msg), = _problems({"series": {"b": {"segmentation": bad}}})
    assert "did you mean 'b0'" in msg or "did you mean 'b1'" in msg
    # classes: the series' cell's materials, void or undeclared
    bad = copy.deepcopy(FOREST)
    bad["training"]["classes"] = ["Li", "Li6PS5C1", "Cu", "void", "undeclared"]
    (_, msg), = _problems({"series": {"b": {"segmentation": bad}}})
    assert "analysis.tomo.series.b.segmentation.training.classes" in msg
    assert "'Li6PS5C1'" in msg and "did you mean 'Li6PS5Cl'" in msg
    # a null segmentation is no setting (the shared one is not optional either)
    (loc, _), = _problems({"series": {"b": {"segmentation": None}}})
    assert loc == "analysis.tomo.series.b.segmentation"


def _series_params(doc, tmp_path):
    from ssbscope.pipeline import _fingerprint
    from ssbscope.tomo.stages import input_stages

    exp = from_dict(doc, base_dir=tmp_path)
    return {s.name.split(".")[1]: (s.params, _fingerprint(s, exp.seed, {}))
            for s in input_stages(exp) if s.name.endswith(".series")}


def test_segmentation_override_reaches_only_its_series_stage(tmp_path):
    base = _series_params(_doc({}), tmp_path)
    assert base["a"][0]["segmentation"] is None and base["b"][0]["segmentation"] is None
    own = _series_params(_doc({"series": {"b": {"segmentation": FOREST}}}), tmp_path)
    p = own["b"][0]["segmentation"]
    assert p["method"] == "random_forest" and p["scan_key"] == "tomo/b/scans/b0"  # its first
    assert p["labels"].endswith("labels/b_planes.npy") and p["n_estimators"] == 10
    assert own["a"][0]["segmentation"] is None
    assert own["a"][1] == base["a"][1] and own["b"][1] != base["b"][1]
    # another forest for b only: b's fingerprint changes (it re-runs), a's does not
    other = copy.deepcopy(FOREST)
    other["training"]["n_estimators"] = 5
    oth = _series_params(_doc({"series": {"b": {"segmentation": other}}}), tmp_path)
    assert oth["a"][1] == base["a"][1] and oth["b"][1] not in (base["b"][1], own["b"][1])
    # a shared forest with no training scan named goes to the first series without its own
    # segmentation; a series overriding with thresholds keeps thresholds
    shared = _series_params(_doc({"segmentation": FOREST,
                                  "series": {"a": {"segmentation": {"method": "threshold"}}}}),
                            tmp_path)
    assert shared["a"][0]["segmentation"] is None
    assert shared["b"][0]["segmentation"]["scan_key"] == "tomo/b/scans/b0"
    # the shared forest's named scan in a series that has its own segmentation: an error
    named = copy.deepcopy(FOREST)
    named["training"]["scan"] = "a1"
    with pytest.raises(ConfigError, match="without its own segmentation"):
        _series_params(_doc({"segmentation": named,
                             "series": {"a": {"segmentation": {"method": "threshold"}}}}),
                       tmp_path)


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    """Two noisy scans of the twin's cell (same volumes for both series) and the forest's
    training planes of scan b0 from the phantom's labels (y = 8, 16, 24)."""
    import tifffile

    from ssbscope.twin import ct

    d = tmp_path_factory.mktemp("segov")
    (d / "vols").mkdir()
    (d / "labels").mkdir()
    ph = ct.anode_free_001(3.0, 0.0, case="B", n_xy=32, n_z=48, voxel_size_um=3.0,
                           e_kev=22.0, max_charge_mah_cm2=3.0, seed=0)
    mu = np.asarray(ph.mu_per_voxel, np.float32)
    rng = np.random.default_rng(0)
    sig = 0.12 * float(np.percentile(mu[mu > 0], 90))
    for k in range(2):
        tifffile.imwrite(d / "vols" / f"s{k}.tif",
                         (mu + rng.normal(0, sig, mu.shape)).astype(np.float32))
    truth = np.zeros(ph.labels.shape, np.uint8)
    for name, v in TRUTH_CLASS.items():
        truth[ph.labels == ct.CODES[name]] = v
    lab = np.zeros_like(truth)
    lab[:, [8, 16, 24]] = truth[:, [8, 16, 24]]
    np.save(d / "labels" / "b_planes.npy", lab)
    from ssbscope.tomo.trainable import phase_map

    return d, phase_map(CLASSES, ["Li", "Li6PS5Cl", "Cu"])[truth.astype(int) - 1]


def _run(folder, out, tomo_analysis):
    import yaml

    from ssbscope.config import load
    from ssbscope.store import Store
    from ssbscope.workflow import run_experiment

    (folder / "exp.yaml").write_text(yaml.safe_dump(_doc(tomo_analysis)))
    r = run_experiment(load(folder / "exp.yaml"), out, quiet=True, report=False)
    st = Store.open(out / "store.zarr")
    labels = {s: st[f"tomo/{s}/labels"]["labels"].values for s in ("a", "b")}
    mets = {s: st[f"tomo/{s}/metrics"].load() for s in ("a", "b")}
    return r.result, labels, mets


def _accuracy(labels, truth, cell):
    """Voxel accuracy on the cell's columns off the training rows (y = 8, 16, 24)."""
    rows = np.ones(cell.shape[0], bool)
    rows[[8, 16, 24]] = False
    m = cell & rows[:, None]
    return [float((lab[:, m] == truth[:, m]).mean()) for lab in labels]


def test_override_changes_its_series_result_only(folder, tmp_path):
    folder, truth = folder
    out = tmp_path / "run"
    r0, lab0, met0 = _run(folder, out, {})
    assert {"tomo.a.series", "tomo.b.series"} <= set(r0.ran)
    np.testing.assert_array_equal(lab0["a"], lab0["b"])      # same scans, same settings
    assert met0["b"].attrs["segmentation"] == "threshold"

    r1, lab1, met1 = _run(folder, out, {"series": {"b": {"segmentation": FOREST}}})
    assert "tomo.b.series" in r1.ran and "tomo.a.series" in r1.skipped
    np.testing.assert_array_equal(lab1["a"], lab0["a"])
    assert met1["a"].attrs["segmentation"] == "threshold"
    assert met1["b"].attrs["segmentation"] == "random_forest"
    # b's forest against the phantom's phases, on rows it was not trained on; measured:
    # thresholds 0.722 / 0.725, forest 0.938 / 0.923 (noise 12 % of the bright level)
    from ssbscope.store import Store

    cell = Store.open(out / "store.zarr")["tomo/b/labels"]["cell_mask"].values
    acc_thr = _accuracy(lab1["a"], truth, cell)
    acc_rf = _accuracy(lab1["b"], truth, cell)
    assert all(r > t + 0.1 for r, t in zip(acc_rf, acc_thr)), (acc_thr, acc_rf)
    assert "volume_unc_um3" in met1["b"] and "volume_unc_um3" not in met1["a"]
