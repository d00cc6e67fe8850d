"""Experiment folders written by the twin (ssbscope.twin.folder): a user's YAML, raw files in
real formats read back by ssbscope's readers, the truth beside them; the symmetric phantom
against Faraday's law and Li conservation."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timedelta

import numpy as np
import pytest

from ssbscope.config import load
from ssbscope.echem.faraday import lithium_thickness_um
from ssbscope.twin import ct
from ssbscope.twin.folder import write_ct_experiment


@pytest.fixture(scope="module", params=["anode_free", "symmetric"])
def folder(request, tmp_path_factory):
    out = tmp_path_factory.mktemp(request.param)
    return write_ct_experiment(out, design=request.param, size="tiny", seed=0)


def _truth(f):
    return json.loads(f.truth_path.read_text(encoding="utf-8"))


def test_yaml_loads_and_inputs_exist(folder):
    exp = load(folder.yaml_path)
    truth = _truth(folder)
    design = truth["design"]
    assert set(exp.cells) == {design}
    cell = exp.cells[design]
    names = [la.name for la in cell.layers]
    assert {"Li", "LPSCl", "counter"} <= set(names)
    assert names.index("Li") < names.index("LPSCl") < names.index("counter")  # bottom to top
    assert cell.electrode_area_cm2 == pytest.approx(truth["echem"][exp.inputs.echem[0].path]["area_cm2"])
    assert len(exp.inputs.tomo) == 3 and len(exp.inputs.echem) == 1
    assert exp.inputs.echem[0].invert_current and exp.inputs.echem[0].cell == design
    for item in exp.inputs.echem + exp.inputs.tomo:
        assert not item.path.startswith("/")
        assert exp.resolve(item.path).is_file(), item.path
    for item in exp.inputs.tomo:
        assert exp.cell_of(item) is cell and item.series == design and item.kind == "projections"
    times = [it.time_s for it in exp.inputs.tomo]
    assert times == sorted(times) and times[0] == 0.0
    assert exp.analysis.tomo.interfaces == ["Li|LPSCl"]
    assert exp.analysis.tomo.thickness == ["Li", "counter", "LPSCl"]
    # truth: one row per scan, keyed by the YAML's layer / interface names
    scans = truth["tomo"][design]["scans"]
    assert [s["path"] for s in scans] == [it.path for it in exp.inputs.tomo]
    assert [s["time_s"] for s in scans] == pytest.approx(times)
    for s in scans:
        assert set(s["mean_thickness_um"]) == set(names)
        assert "Li|LPSCl" in s["roughness_um"]
    files = {str(p.relative_to(folder.root)) for p in folder.root.rglob("*") if p.is_file()}
    assert files == set(folder.files)
    assert "truth" not in folder.yaml_path.read_text().split("\nname:")[1]  # YAML never points at it


def test_dxchange_files_read_back(folder):
    from ssbscope.tomo import read_projections

    exp = load(folder.yaml_path)
    truth = _truth(folder)
    design = truth["design"]
    t_log = datetime.fromisoformat(truth["echem"][exp.inputs.echem[0].path]["start_time"])
    ser = truth["tomo"][design]
    for item, row in zip(exp.inputs.tomo, ser["scans"]):
        pd = read_projections(exp.resolve(item.path))
        n_z, n_y, n_x = ser["shape_zyx"]
        assert pd.projections.shape == (ser["n_angles"], n_z, n_x)
        assert pd.flats.shape[1:] == (n_z, n_x) and pd.flats.shape[0] > 0
        assert pd.darks.shape[1:] == (n_z, n_x) and pd.darks.shape[0] > 0
        assert np.allclose(pd.angles_rad, np.linspace(0, np.pi, ser["n_angles"], endpoint=False))
        assert pd.metadata["pixel_size_um"] == pytest.approx(ser["voxel_size_um"])
        assert "rotation_center_px" not in pd.metadata  # twin truth stays out of a user's file
        start = datetime.fromisoformat(pd.metadata["start_time"])
        assert (start - t_log).total_seconds() == pytest.approx(item.time_s, abs=1e-3)
        assert datetime.fromisoformat(pd.metadata["end_time"]) > start
        assert pd.metadata["count_time_s"] > 0


def test_symmetric_folder_measurable_through_the_chain(tmp_path):
    """Raw files -> FBP -> median + Otsu -> Li thickness per column recovers the truth: the
    Li / Li6PS5Cl contrast survives the scan (3 µm, 22 keV, 3e4 photons)."""
    import scipy.ndimage as ndi

    import ssbscope.tomo as tomo

    f = write_ct_experiment(tmp_path, design="symmetric", size="tiny", seed=0)
    exp, truth = load(f.yaml_path), _truth(f)
    ser = truth["tomo"]["symmetric"]
    n, vs = ser["shape_zyx"][1], ser["voxel_size_um"]
    yy, xx = np.mgrid[:n, :n]
    cell = (yy - n // 2) ** 2 + (xx - n // 2) ** 2 <= ser["cell_radius_vox"] ** 2
    inner = ndi.binary_erosion(cell, iterations=1)
    measured = []
    for it, row in zip(exp.inputs.tomo, ser["scans"]):
        pd = tomo.read_projections(exp.resolve(it.path))
        p = tomo.flat_dark_correct(np.asarray(pd.projections), pd.flats, pd.darks)
        rec = tomo.reconstruct(p, pd.angles_rad, tomo.find_center(p, pd.angles_rad))
        lab = tomo.segment_phases(rec, ("low", "lpscl", "steel"), median=True,
                                  method="hierarchical", roi=cell).labels
        z = np.flatnonzero((lab == 1)[:, inner].mean(axis=1) > 0.5)
        zm = (z.min() + z.max() + 1) // 2  # mid-plane of the pellet
        low = (lab == 0)[:, inner]
        li, counter = low[:zm].sum(axis=0).mean() * vs, low[zm:].sum(axis=0).mean() * vs
        assert li == pytest.approx(row["mean_thickness_um"]["Li"], abs=0.5 * vs)
        assert counter == pytest.approx(row["mean_thickness_um"]["counter"], abs=0.5 * vs)
        measured.append(li)
    for li, row in zip(measured[1:], ser["scans"][1:]):
        assert li - measured[0] == pytest.approx(row["faraday_thickness_um"], abs=vs)


def test_log_charge_at_scan_times_is_truth(folder):
    import ssbscope.echem as ec

    exp = load(folder.yaml_path)
    truth = _truth(folder)
    item = exp.inputs.echem[0]
    df = ec.read(exp.resolve(item.path), invert_current=item.invert_current)
    start = datetime.fromisoformat(df.attrs["start_time"])
    assert start == datetime.fromisoformat(truth["echem"][item.path]["start_time"])
    q = ec.cumulative_charge(df, area_cm2=exp.cells[truth["design"]].electrode_area_cm2)
    t = df["time_s"].to_numpy()
    for it, row in zip(exp.inputs.tomo, truth["tomo"][truth["design"]]["scans"]):
        q_log = float(np.interp(it.time_s, t, q.to_numpy()))
        # Faraday consistency of the twin: the log's net charge is the phantom's charge
        assert q_log == pytest.approx(row["charge_mah_cm2"], abs=2e-3), row["state"]
        assert row["faraday_thickness_um"] == pytest.approx(
            lithium_thickness_um(row["charge_mah_cm2"]), abs=1e-6)
        assert datetime.fromisoformat(row["start_date"]) == start + timedelta(seconds=it.time_s)


def test_symmetric_truth_follows_faraday(tmp_path):
    f = write_ct_experiment(tmp_path, design="symmetric", size="tiny", seed=0)
    scans = _truth(f)["tomo"]["symmetric"]["scans"]
    vs = _truth(f)["tomo"]["symmetric"]["voxel_size_um"]
    assert [s["charge_mah_cm2"] for s in scans] == [0.0, 1.5, 3.0]
    p0 = scans[0]
    li0 = p0["li_volume_um3"]
    for s in scans[1:]:
        grow = s["mean_thickness_um"]["Li"] - p0["mean_thickness_um"]["Li"]
        shrink = p0["mean_thickness_um"]["counter"] - s["mean_thickness_um"]["counter"]
        assert abs(grow - s["faraday_thickness_um"]) < vs
        assert abs(shrink - s["faraday_thickness_um"]) < vs
        assert s["li_volume_um3"] == pytest.approx(li0, rel=0.01)
        assert s["mean_thickness_um"]["LPSCl"] == pytest.approx(p0["mean_thickness_um"]["LPSCl"],
                                                                abs=vs)
    ra = [s["roughness_um"]["Li|LPSCl"]["ra_um"] for s in scans]
    assert ra[0] < ra[1] < ra[2] and ra[2] > 1.5 * ra[0]


@pytest.mark.parametrize("n_xy,n_z", [(32, 48), (40, 56)])
def test_symmetric_phantom(n_xy, n_z):
    vs = 3.0
    phs = [ct.symmetric_li_lpscl(q, n_xy=n_xy, n_z=n_z, voxel_size_um=vs, seed=1)
           for q in (0.0, 1.5, 3.0)]
    p0 = phs[0]
    n_cell = p0.cell_mask.sum()
    for ph, q in zip(phs, (0.0, 1.5, 3.0)):
        lab = ph.labels
        # the stack: steel, Li, Li6PS5Cl (+ pores), Li, steel in every column of the cell
        col = lab[:, n_xy // 2, n_xy // 2]
        runs = [int(c) for k, c in enumerate(col) if k == 0 or c != col[k - 1]]
        runs = [c for c in runs if c != ct.CODES["pore"]]
        runs = [c for k, c in enumerate(runs) if k == 0 or c != runs[k - 1]]
        assert runs[:5] == [ct.CODES[p] for p in ("steel", "li", "lpscl", "li", "steel")]
        # Faraday: the bottom electrode thickens by the Faraday thickness within a voxel,
        # the top one thins by as much, the total Li is conserved
        t_far = lithium_thickness_um(q)
        grow = ph.mean_thickness_um["li"] - p0.mean_thickness_um["li"]
        assert abs(grow - t_far) < vs
        assert (ph.truth["li_bottom_volume_um3"] - p0.truth["li_bottom_volume_um3"]) == \
            pytest.approx(t_far * n_cell * vs ** 2, abs=2 * vs ** 3)
        li = (lab == ct.CODES["li"]).sum() * vs ** 3
        assert li == pytest.approx(ph.truth["li_volume_um3"])
        assert li == pytest.approx(p0.truth["li_volume_um3"], rel=0.01)
        assert abs(li - ph.truth["li_volume_pristine_um3"]) <= 4 * vs ** 3
        # plungers do not move, the pellet shifts up with the plated thickness
        assert np.array_equal(lab[:3], p0.labels[:3])
        assert ph.truth["pellet_shift_um"] == pytest.approx(t_far, abs=vs)
        # pores: about 2 % of the pellet, never touching the Li
        pel = ph.mean_thickness_um["pellet"] * n_cell * vs ** 2
        assert 0.01 < ph.truth["pore_volume_um3"] / pel < 0.03
        assert ph.truth["pore_volume_um3"] == pytest.approx(ph.phase_volumes_um3["pore"])
        # roughness recorded from the voxelised surface
        ra, rq = ph.roughness_um["li|lpscl"]
        assert ra == pytest.approx(ct.roughness_ra_rq(ph.height_maps_um["li|lpscl"],
                                                      ph.cell_mask)[0])
        assert rq > ra > 0
    ra = [ph.roughness_um["li|lpscl"][0] for ph in phs]
    assert ra[0] < ra[1] < ra[2]
    assert ra[0] == pytest.approx(1.5 * vs, rel=0.3) and ra[2] == pytest.approx(3 * vs, rel=0.3)


def test_symmetric_phantom_checks():
    from ssbscope.errors import ParameterError

    with pytest.raises(ParameterError, match="li_um"):
        ct.symmetric_li_lpscl(3.0, li_um=12.0)
    with pytest.raises(ParameterError, match="charge_mah_cm2"):
        ct.symmetric_li_lpscl(4.0, max_charge_mah_cm2=3.0)
    a = ct.symmetric_li_lpscl(1.5, n_xy=32, n_z=48, seed=2)
    b = ct.symmetric_li_lpscl(1.5, n_xy=32, n_z=48, seed=2)
    assert np.array_equal(a.labels, b.labels)


def test_same_seed_same_bytes(tmp_path):
    def digest(root):
        return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
                for p in sorted(root.rglob("*")) if p.is_file()}

    a = write_ct_experiment(tmp_path / "a", design="symmetric", size="tiny", seed=3)
    b = write_ct_experiment(tmp_path / "b", design="symmetric", size="tiny", seed=3)
    c = write_ct_experiment(tmp_path / "c", design="symmetric", size="tiny", seed=4)
    da, db, dc = digest(a.root), digest(b.root), digest(c.root)
    assert da == db  # .mpt, .h5, .yaml and .json alike
    assert any(p.endswith(".h5") for p in da)
    assert da["scans/symmetric/s001.h5"] != dc["scans/symmetric/s001.h5"]
    assert da["truth.json"] != dc["truth.json"]


def test_bad_arguments(tmp_path):
    from ssbscope.errors import ParameterError

    with pytest.raises(ParameterError, match="design"):
        write_ct_experiment(tmp_path, design="coin")
    with pytest.raises(ParameterError, match="size"):
        write_ct_experiment(tmp_path, size="huge")


def test_symmetric_plating_protocol():
    from ssbscope.errors import ParameterError
    from ssbscope.twin.echem import symmetric_plating

    tw = symmetric_plating((0.0, 1.0, 2.5), current_ma_cm2=0.5, rest_s=1800.0, seed=1)
    df = tw.data
    t, i = df["time_s"].to_numpy(), df["current_A"].to_numpy()
    assert tw.scan_times_s == pytest.approx((0.0, 1800.0 + 7200.0, 2 * 1800.0 + 18000.0))
    assert tw.scan_labels == ("pristine", "plated 1.0 mAh cm⁻²", "plated 2.5 mAh cm⁻²")
    rest = (df["mode"] == "rest").to_numpy()
    assert np.all(i[rest] == 0) and np.all(i[~rest] > 0)  # plating onto the bottom: I > 0
    assert np.all(df["voltage_V"].to_numpy()[~rest][5:] < 0)  # E(bottom) - E(top) < 0
    for ts in tw.scan_times_s:  # each scan starts a rest that outlasts a scan
        k = np.searchsorted(t, ts + 1.5)
        assert rest[k] and t[rest].max() >= ts
    q = np.concatenate([[0], np.cumsum(0.5 * (i[1:] + i[:-1]) * np.diff(t))]) / 3.6 / tw.area_cm2
    assert np.interp(tw.scan_times_s, t, q) == pytest.approx(tw.scan_charges_mah_cm2, abs=1e-3)
    with pytest.raises(ParameterError, match="charges_mah_cm2"):
        symmetric_plating((0.5, 1.0))


def test_soft_short_part_truth_in_series_slab_order(tmp_path):
    """The soft-short pellet's part: one Data Exchange scan, a cell bottom to top, and truth
    layer fractions renumbered from the anode (phantom) to slab 1 away from it (metrics)."""
    import h5py

    from ssbscope.twin.folder import (FolderPart, soft_short_part, write_experiment_yaml,
                                      write_truth_json)

    part = soft_short_part(tmp_path, size="tiny", seed=3)
    assert part.files == ["scans/soft_short/s000.h5"]
    with h5py.File(tmp_path / part.files[0], "r") as f:
        assert f["exchange/data"].shape[0] == 60 and "rotation_center_px" not in f.get(
            "measurement/sample", {})
    cell, _, _ = part.cells["soft_short"]
    assert [la["material"] for la in cell["layers"]] == ["steel", "Li", "Li6PS5Cl", "NMC811",
                                                         "steel"]
    ph = ct.soft_short_002(n_xy=32, n_z=64, voxel_size_um=3.0, e_kev=22.0, n_layers=10, seed=3)
    row = part.truth["tomo"]["soft_short"]["scans"][0]
    from_anode = ph.truth["layer_fraction_low_attenuation"]
    np.testing.assert_allclose(row["layer_fraction"], from_anode[::-1], rtol=1e-8)
    assert row["layer_fraction"][-1] > row["layer_fraction"][0]   # layer 10 at the anode
    assert row["layer_fraction_paper_order"] == row["layer_fraction"]
    assert row["layer_fraction"][0] == pytest.approx(0.0991, abs=0.01)  # Cao et al. Fig. 3J
    assert row["layer_fraction"][-1] == pytest.approx(0.3065, abs=0.01)
    assert row["interface_z_um"]["Li|LPSCl"] == pytest.approx(ph.interfaces_z_vox["li|lpscl"] * 3.0)
    # two parts' analysis.tomo lists merge (union), the YAML validates
    af = FolderPart(analysis={"tomo": {"interfaces": ["Li|LPSCl"], "thickness": ["Li"]}})
    y = write_experiment_yaml(tmp_path / "experiment.yaml", [af, part], name="ss")
    write_truth_json(tmp_path / "truth.json", [part])
    an = load(y).analysis.tomo
    assert an.interfaces == ["Li|LPSCl", "LPSCl|cathode"]
    assert an.thickness == ["Li", "LPSCl"] and an.n_layers == 10


def test_rewriting_the_same_folder_resumes_every_stage(tmp_path):
    """Same seed, same bytes: the twin rewrites its files with new mtimes but identical content,
    so a rerun recomputes nothing (stages are keyed on the content hash of their inputs)."""
    from ssbscope.config import load
    from ssbscope.twin.folder import write_ct_experiment
    from ssbscope.workflow import run_experiment

    # the stores only (report=False): the report of this series is built by the run of
    # tests/core/test_examples.py
    f = write_ct_experiment(tmp_path / "exp", design="symmetric", size="tiny")
    first = run_experiment(load(f.yaml_path), tmp_path / "out", quiet=True, report=False)
    assert first.result.ran
    f = write_ct_experiment(tmp_path / "exp", design="symmetric", size="tiny")
    again = run_experiment(load(f.yaml_path), tmp_path / "out", quiet=True, report=False)
    assert again.result.ran == () and len(again.result.skipped) == len(first.result.ran)
