"""CT of a user's operando series against the cell's declared layers (tomo.series + stages).

The anode-free twin (Cu | plated Li | Li6PS5Cl | Li counter, with a steel plunger on top that
the YAML does not declare) is scanned at 0, 1.5 and 3.0 mAh/cm2, written as Data Exchange
files, and run through ``ssbscope run``; the measured morphology is compared with the
phantom's truth.
"""

from pathlib import Path

import json
import numpy as np
import pytest

from ssbscope.tomo import series as S

VS = 3.0
E_KEV = 22.0
CHARGES = (0.0, 1.5, 3.0)
TIMES = (0.0, 10800.0, 21600.0)
LAYERS = [{"name": "Cu", "material": "Cu", "thickness_um": 12},
          {"name": "Li", "material": "Li", "thickness_um": 0},
          {"name": "LPSCl", "material": "Li6PS5Cl", "thickness_um": 63},
          {"name": "counter", "material": "Li", "thickness_um": 40}]

YAML = """\
name: anode-free twin series
cell:
  diameter_mm: 0.12
  layers:
    - {name: Cu, material: Cu, thickness_um: 12}
    - {name: Li, material: Li, thickness_um: 0}
    - {name: LPSCl, material: Li6PS5Cl, thickness_um: 63}
    - {name: counter, material: Li, thickness_um: 40}
inputs:
  tomo:
    - {path: scans/s000.h5, kind: projections, series: cell, time_s: 0, energy_kev: 22}
    - {path: scans/s001.h5, kind: projections, series: cell, time_s: 10800, state: "plated 1.5 mAh/cm2"}
    - {path: scans/s002.h5, kind: projections, series: cell, time_s: 21600, state: "plated 3.0 mAh/cm2"}
analysis:
  tomo:
    interfaces: ["Li|LPSCl"]
    thickness: [Li, counter]
    central_fraction: 0.5625
    min_filament_volume_um3: 0
"""


def _phantom(q):
    from ssbscope.twin import ct

    return ct.anode_free_001(q, 0.0, n_xy=40, n_z=56, voxel_size_um=VS, e_kev=E_KEV,
                             max_charge_mah_cm2=4, seed=0)


@pytest.fixture(scope="module")
def phantoms():
    return [_phantom(q) for q in CHARGES]


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory, phantoms):
    from ssbscope.cli import main
    from ssbscope.twin.ct_files import write_dxchange

    d = tmp_path_factory.mktemp("series")
    (d / "scans").mkdir()
    for k, ph in enumerate(phantoms):
        write_dxchange(d / "scans" / f"s{k:03d}.h5", ph.scan(n_angles=90, flux_photons=3e4, seed=k))
    (d / "exp.yaml").write_text(YAML)
    assert main(["run", str(d / "exp.yaml"), "--out", str(d / "out"), "--quiet"]) == 0
    return d


@pytest.fixture(scope="module")
def store(run_dir):
    from ssbscope.store import Store

    return Store.open(run_dir / "out" / "store.zarr")


@pytest.fixture(scope="module")
def recon(phantoms):
    import ssbscope.tomo as tomo

    out = []
    for k, ph in enumerate(phantoms[:1]):
        sc = ph.scan(n_angles=90, flux_photons=3e4, seed=k)
        p = tomo.flat_dark_correct(sc.projections, sc.flats, sc.darks)
        out.append(tomo.reconstruct(p, sc.angles_rad, tomo.find_center(p, sc.angles_rad)))
    return out


# --------------------------------------------------------------------------- library units

def test_phase_order_by_attenuation():
    po = S.phase_order(LAYERS, 22.0)
    assert po.phases == ("Li", "Li6PS5Cl", "Cu")
    assert np.all(np.diff(po.mu_1_cm) > 0)
    assert S.phase_order(LAYERS).energy_kev == S.DEFAULT_ENERGY_KEV
    with pytest.raises(Exception):
        S.phase_order(LAYERS[:1] + [{"name": "x", "material": "Unobtainium", "thickness_um": 1}])


def test_locate_layers_absent_zero_thickness_layer():
    po = S.phase_order(LAYERS, 22.0)
    # Cu 4 slices, LPSCl 20, Li counter 13, steel (undeclared) 3, void (dark) 6: no plated Li
    z = [2] * 4 + [1] * 20 + [0] * 13 + [S.UNDECLARED] * 3 + [0] * 6
    lab = np.broadcast_to(np.array(z, np.uint8)[:, None, None], (len(z), 8, 8)).copy()
    fp = np.ones((8, 8), bool)
    loc = S.locate_layers(lab, LAYERS, po, fp, VS)
    assert loc.present == (True, False, True, True)
    assert loc.band("Cu") == (0, 4) and loc.band("LPSCl") == (4, 24)
    assert loc.band("counter") == (24, 37) and loc.band("Li") is None
    assert loc.stack_vox == (0, 37) and len(loc.ignored) == 2
    # with 2 slices of plated Li it is found
    z2 = [2] * 4 + [0] * 2 + [1] * 18 + [0] * 13 + [S.UNDECLARED] * 3
    lab2 = np.broadcast_to(np.array(z2, np.uint8)[:, None, None], (len(z2), 8, 8)).copy()
    loc2 = S.locate_layers(lab2, LAYERS, po, fp, VS)
    assert loc2.present == (True, True, True, True) and loc2.band("Li") == (4, 6)
    # a declared layer of thickness > 0 that is missing: an explicit error
    z3 = [2] * 4 + [1] * 20
    lab3 = np.broadcast_to(np.array(z3, np.uint8)[:, None, None], (len(z3), 8, 8)).copy()
    with pytest.raises(Exception, match="not found"):
        S.locate_layers(lab3, LAYERS, po, fp, VS)


def test_cell_region_matches_phantom(phantoms, recon):
    reg = S.cell_region(recon[0])
    truth = phantoms[0].cell_mask
    iou = (reg.mask & truth).sum() / (reg.mask | truth).sum()
    assert iou > 0.9, iou
    assert reg.inner.sum() < reg.mask.sum() and not (reg.inner & ~reg.mask).any()


# --------------------------------------------------------------------------- through the chain

def test_series_keys_and_names(store):
    names = set(store.names())
    assert {"tomo/cell/volumes", "tomo/cell/labels", "tomo/cell/metrics",
            "tomo/cell/maps"} <= names
    assert {"tomo/cell/scans/s000", "tomo/cell/scans/s001", "tomo/cell/scans/s002"} <= names
    assert not any(n.startswith("tomo/inputs/") for n in names)
    met = store["tomo/cell/metrics"]
    np.testing.assert_array_equal(met["time_s"].values, TIMES)
    assert list(met["interface"].values) == ["Li|LPSCl"]
    assert list(met["layer"].values) == ["Cu", "Li", "LPSCl", "counter"]
    assert json.loads(met.attrs["thickness_layers"]) == ["Li", "counter"]
    assert np.isnan(met["thickness_mean_um"].sel(layer="LPSCl")).all()
    assert list(met["phase"].values) == ["Li", "Li6PS5Cl", "Cu"]
    lab = store["tomo/cell/labels"]
    assert lab["labels"].dtype == np.uint8 and lab["labels"].shape == (3, 56, 40, 40)
    assert lab["cell_mask"].dims == ("y", "x")
    mp = store["tomo/cell/maps"]
    assert mp["height_um"].dims == ("time_s", "interface", "y", "x")
    assert mp["thickness_um"].dims == ("time_s", "layer", "y", "x")
    assert mp["x"].values[1] - mp["x"].values[0] == pytest.approx(VS)


def test_thickness_against_truth(store, phantoms):
    met = store["tomo/cell/metrics"].load()
    plated = met["thickness_mean_um"].sel(layer="Li").values
    counter = met["thickness_mean_um"].sel(layer="counter").values
    t_pl = np.array([ph.mean_thickness_um["plated_li"] for ph in phantoms])
    t_ct = np.array([ph.mean_thickness_um["counter_li"] for ph in phantoms])
    # within one voxel (3 um) at every scan, and the plated layer grows with charge
    assert np.all(np.abs(plated - t_pl) <= VS), (plated, t_pl)
    assert np.all(np.abs(counter - t_ct) <= VS), (counter, t_ct)
    assert plated[0] == 0.0 and np.all(np.diff(plated) > 0)
    assert np.all(np.isfinite(met["thickness_center_um"].sel(layer="Li").values[1:]))


def test_roughness_against_truth(store, phantoms):
    met = store["tomo/cell/metrics"].load()
    ra = met["ra_um"].sel(interface="Li|LPSCl").values
    ra_true = phantoms[2].roughness_um["li|lpscl"][0]
    assert np.isnan(ra[0])                    # no plated Li at the pristine scan
    # noise of the sub-voxel heights adds in quadrature to the true roughness at 3 um voxels;
    # measured: 1.99 um vs 1.35 um true at 3 mAh/cm2 (see the report of issue 12 2)
    assert abs(ra[2] - ra_true) < 1.0, (ra[2], ra_true)


def test_volumes_against_truth(store, phantoms):
    met = store["tomo/cell/metrics"].load()
    pct = met["volume_change_pct"]

    def true_pct(names):
        v = np.array([sum(ph.phase_volumes_um3.get(n, 0.0) for n in names) for ph in phantoms])
        return 100 * (v - v[0]) / v[0]

    # the Li-filled and empty cracks are 1-voxel tubes that the 3x3x3 median partly erases,
    # so the measured change of each phase lies between the truth counting the cracks with
    # the electrolyte and the truth counting them with the dark phase (0.5 point slack)
    lps_lo, lps_hi = true_pct(["lpscl"]), true_pct(["lpscl", "li_filament", "crack"])
    m = pct.sel(phase="Li6PS5Cl").values
    assert np.all((m >= lps_lo - 0.5) & (m <= lps_hi + 0.5)), (m, lps_lo, lps_hi)
    li_lo, li_hi = true_pct(["li", "pore"]), true_pct(["li", "li_filament", "pore", "crack"])
    m = pct.sel(phase="Li").values
    assert np.all((m >= li_lo - 0.5) & (m <= li_hi + 0.5)), (m, li_lo, li_hi)
    lv = met["layer_volume_um3"].sel(layer="Li").values
    assert lv[0] == 0 and np.all(np.diff(lv) > 0)
    assert np.all(met["pore_crack_volume_um3"].values > 0)
    assert np.isnan(met["new_filaments"].values[0]) and met["new_filaments"].values[2] >= 0


def test_report_shows_series(run_dir):
    html = (run_dir / "out" / "report.html").read_text()
    assert "Series" in html and "Li|LPSCl" in html and "counter" in html


def test_single_scan_series(recon):
    r = S.analyse_series(recon[:1], LAYERS, VS, energy_kev=E_KEV, interfaces=["Li|LPSCl"],
                         thickness=["Li", "counter"])
    assert r.labels.shape[0] == 1 and np.isnan(r.new_filaments[0])
    assert r.scans[0].location.present == (True, False, True, True)
    assert r.class_names == ("Li", "Li6PS5Cl", "undeclared", "Cu")  # the steel plunger


def test_scan_time_needed_and_file_changes_recompute(tmp_path):
    import os

    from ssbscope.config import from_dict
    from ssbscope.errors import ConfigError
    from ssbscope.tomo.stages import input_stages, scan_times

    cell = {"layers": LAYERS}
    (tmp_path / "a.h5").write_bytes(b"x")
    (tmp_path / "b.h5").write_bytes(b"y")
    exp = from_dict({"cell": cell, "inputs": {"tomo": [
        {"path": "b.h5", "series": "cell", "time_s": 50},
        {"path": "a.h5", "series": "cell", "time_s": 10},
        {"path": "a.h5", "series": "other", "state": "plated 3.0 mAh/cm2"}]}},
        base_dir=tmp_path)
    assert [t for _, _, t in scan_times(exp, "cell")] == [10.0, 50.0]
    with pytest.raises(ConfigError, match=r"inputs\.tomo\[2\]\.time_s"):
        scan_times(exp, "other")
    exp2 = from_dict({"cell": cell, "inputs": {"tomo": [
        {"path": "a.h5", "series": "cell", "time_s": 0}]}}, base_dir=tmp_path)
    st1 = input_stages(exp2)
    assert [s.name for s in st1] == ["tomo.cell.scan.a", "tomo.cell.series"]
    # a changed file is caught by the pipeline's content hash of the inputs a stage read
    # (tests/core/test_pipeline.py), not by parameters: a rewritten identical file resumes
    os.utime(tmp_path / "a.h5", ns=(1, 10**18))
    assert input_stages(exp2)[0].params == st1[0].params
