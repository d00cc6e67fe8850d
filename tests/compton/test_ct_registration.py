"""XCS-CT registration from the data: the CT placed in the XCS cell by an interface it measures
(``analysis.compton.ct_register_interface``, :func:`ssbscope.compton.correlate.register_on_interface`).

References: an analytic stack (declared thicknesses, a rough interface of known mean), and on
the demo the twin's true height of the coin CT's region of interest in the cell (truth.json
``compton.ct_z_offset_um``, from the twin's geometry; the analysis never reads it).
"""

import json

import numpy as np
import pytest

from ssbscope.compton.correlate import (
    ct_component_fractions,
    declared_interface_height_um,
    register_on_interface,
)
from ssbscope.errors import ConfigError, EmptyResultError, InputError

NAMES = ["can", "anode", "interphase", "SPE", "cathode"]
THICK = [250.0, 380.0, 20.0, 30.0, 65.0]


def test_declared_height_is_the_bottom_of_the_upper_layer():
    # adjacent layers, and an interphase between them counted below (the CT sees it as anode)
    assert declared_interface_height_um("interphase|SPE", NAMES, THICK) == pytest.approx(650.0)
    assert declared_interface_height_um("anode|SPE", NAMES, THICK) == pytest.approx(650.0)
    assert declared_interface_height_um(" can | anode ", NAMES, THICK) == pytest.approx(250.0)
    with pytest.raises(InputError, match="not below"):
        declared_interface_height_um("SPE|anode", NAMES, THICK)
    with pytest.raises(InputError, match="not among"):
        declared_interface_height_um("Li|SPE", NAMES, THICK)
    with pytest.raises(InputError, match="lower\\|upper"):
        declared_interface_height_um("anode", NAMES, THICK)


def test_register_on_a_rough_interface_recovers_the_offset():
    """A rough interface (Ra ~ 5 um) of mean 438.9 um above the CT's bottom whose declared height
    is 650 um: the offset is 650 - 438.9 to round-off, whatever the roughness; NaN columns (outside
    the footprint) are ignored; a map with no column cannot register."""
    rng = np.random.default_rng(3)
    h = 438.88 + 6.0 * rng.standard_normal((30, 30))
    h -= h.mean() - 438.88
    h_nan = h.copy()
    h_nan[:3] = np.nan
    r = register_on_interface(h, "anode|SPE", NAMES, THICK)
    assert r.z_offset_um == pytest.approx(650.0 - 438.88, abs=1e-9)
    assert r.declared_height_um == 650.0 and r.n_columns == 900 and r.height_std_um == pytest.approx(h.std())
    r2 = register_on_interface(h_nan, "anode|SPE", NAMES, THICK)
    assert r2.n_columns == 810
    assert r2.z_offset_um == pytest.approx(650.0 - np.nanmean(h_nan), abs=1e-9)
    with pytest.raises(EmptyResultError, match="no measured column"):
        register_on_interface(np.full((4, 4), np.nan), "anode|SPE", NAMES, THICK)


def test_registered_ct_gives_the_declared_fractions():
    """A voxelised region-of-interest CT (1 um voxels, its bottom 211 um above the can's bottom,
    steel / Li / PEO / cathode, a rough Li|PEO surface whose column heights are the 'measured'
    map): registered on anode|SPE, the sheet fractions equal those of the declared layers within
    the voxel (the CT's anode holds the declared interphase, ct_within)."""
    z0 = 211
    nz, n = 500, 8
    rng = np.random.default_rng(0)
    top = np.rint(650 - z0 + 3.0 * rng.standard_normal((n, n))).astype(int)
    top += int(round(650 - z0 - top.mean()))  # mean plane on the declared height (to a voxel)
    zz = np.arange(nz)[:, None, None]
    lab = np.full((nz, n, n), 3, np.uint8)  # cathode above the SPE
    lab[(zz >= top[None]) & (zz < 650 - z0 + 30)] = 2  # SPE
    lab[(zz >= 250 - z0) & (zz < top[None])] = 1  # Li (bulk + interphase)
    lab[:250 - z0] = 0  # steel can
    reg = register_on_interface(top.astype(float), "anode|SPE", NAMES, THICK)
    assert abs(reg.z_offset_um - z0) <= 0.5
    centres = [450.0, 600.0, 680.0]
    r = ct_component_fractions(lab, 1.0, ["steel", "Li", "PEO-LiTFSI", "NMC622"], centres, 250.0,
                               z_offset_um=reg.z_offset_um, components=["anode", "interphase", "SPE", "cathode"],
                               layer_thickness_um=THICK, layer_names=NAMES,
                               component_phases={"anode": ["Li"], "SPE": ["PEO-LiTFSI"], "cathode": ["NMC622"]},
                               within={"interphase": "anode"})
    from ssbscope.compton.series import sheet_layer_fractions

    for i, c in enumerate(centres):
        want = sheet_layer_fractions(THICK, c, 250.0)[[1, 2, 3, 4]]
        np.testing.assert_allclose(r.fractions[i], want, atol=4.0 / 250 + 1e-9, err_msg=str(c))


def test_register_interface_configuration(tmp_path):
    """The stage reads tomo/<ct>/maps with an interface registration; one registration only; the
    interface's layers must be declared by both cells, lower below upper."""
    from ssbscope.config import from_dict
    from ssbscope.workflow import stages_for

    cell = {"layers": [{"name": "can", "material": "steel", "thickness_um": 250},
                       {"name": "anode", "material": "Li", "thickness_um": 400},
                       {"name": "SPE", "material": "PEO-LiTFSI", "thickness_um": 30}]}
    both = [{"path": "a.ssbevt", "beam_height_um": 300, "state": "p", "label": "a"},
            {"path": "a.ssbevt", "beam_height_um": 420, "state": "p", "label": "b"}]

    def stages(compton):
        return stages_for(from_dict({"cell": cell, "inputs": {"compton": both},
                                     "analysis": {"compton": {"ct_series": "coin", **compton}}}, base_dir=tmp_path))

    st = [s for s in stages({"ct_register_interface": "anode | SPE"}) if s.name == "compton.series.xcs"][0]
    assert "tomo/coin/maps" in st.inputs and "tomo/coin/labels" in st.inputs
    assert st.params["ct"]["register_interface"] == "anode|SPE" and st.params["ct"]["register_layer"] is None
    st = [s for s in stages({"ct_register_layer": "anode"}) if s.name == "compton.series.xcs"][0]
    assert "tomo/coin/maps" not in st.inputs
    for bad, msg in (({"ct_register_interface": "anode|SPE", "ct_z_offset_um": 1.0}, "one registration"),
                     ({"ct_register_interface": "anode|SPE", "ct_register_layer": "anode"}, "one registration"),
                     ({"ct_register_interface": "SPE|anode"}, "lower one below"),
                     ({"ct_register_interface": "Li|SPE"}, "lower one below"),
                     ({"ct_register_interface": "anode"}, "lower\\|upper")):
        with pytest.raises(ConfigError, match=msg):
            stages(bad)


def test_demo_ct_registered_on_its_anode_spe_interface(tiny_demo):
    """Through the chain (raw projections -> Paganin, truncated reconstruction -> tomo/coin/maps
    height map of anode|SPE -> registration -> sheet fractions -> unmixing of the event files):
    the demo's YAML registers the coin CT on its measured anode|SPE interface
    (ct_register_interface, no ct_z_offset_um); the CT's height in the cell lies within
    2 voxels (6.5 um) of the twin's true 211.12 um; every component EMF within 3 stated sigmas of
    the truth (12 values); the CT's sheet fractions within 0.04 of the twin's true layers."""
    import yaml

    from ssbscope.compton.series import sheet_layer_fractions
    from ssbscope.store import Store

    cfg = yaml.safe_load((tiny_demo / "experiment" / "experiment.yaml").read_text())
    an = cfg["analysis"]["compton"]
    assert an.get("ct_register_interface") == "anode|SPE" and "ct_z_offset_um" not in an
    truth = json.loads((tiny_demo / "experiment" / "truth.json").read_text())["compton"]
    st = Store.open(tiny_demo / "store.zarr")
    ct = st["compton/xcs/ct_fractions"].load()
    vs = float(ct.attrs["register_voxel_size_um"])
    assert ct.attrs["register_method"] == "interface" and ct.attrs["register_interface"] == "anode|SPE"
    z = ct["z_offset_um"].values
    assert np.all(z == z[0])  # one offset for the series (scans registered to the first)
    assert abs(z[0] - truth["ct_z_offset_um"]) < 2 * vs, (z[0], truth["ct_z_offset_um"])
    assert ct.attrs["register_z_offset_um"] == pytest.approx(z[0])
    assert ct.attrs["register_thickness_state"] == "pristine"
    em = st["compton/xcs/emf"].load()
    comps = [str(c) for c in em["component"].values]
    ref = np.array(truth["true_emf_resolution"])[:, [truth["components"].index(c) for c in comps]]
    zs = (em["emf"].values - ref) / em["emf_unc"].values
    assert np.all(np.abs(zs) < 3.0), zs
    layers = cfg["cell"]["layers"]
    names = [ly["name"] for ly in layers]
    for si in range(len(truth["states"])):
        t = [ly["thickness_um"] for ly in layers]
        t[names.index("anode")] = truth["anode_thickness_um"][si]
        t[names.index("interphase")] = truth["interphase_thickness_um"][si]
        for pi in range(ct.sizes["position"]):
            want = sheet_layer_fractions(t, float(ct["beam_height_um"].values[si, pi]), 250.0)
            np.testing.assert_allclose(ct["fraction"].values[si, pi], want[[names.index(c) for c in comps]],
                                       atol=0.04, err_msg=f"{truth['states'][si]} {pi}")
    # the report puts the measured height beside the truth (and the accuracy table lists it)
    html = (tiny_demo / "report.html").read_text(encoding="utf-8")
    assert "registered on a measured interface" in html and "twin truth 211.12" in html
    assert "XCS-CT registration" in html


def _coin_truth(tiny_demo):
    truth = json.loads((tiny_demo / "experiment" / "truth.json").read_text())
    return truth["compton"], truth["tomo"]["coin"]


def test_demo_ct_layer_bottom_after_paganin(tiny_demo):
    """Through the chain (Paganin with Li's delta/beta over the steel spacer -> truncated
    reconstruction -> segmentation -> layer location): the anode's bottom in every coin scan
    (``layer_z_vox`` z0 of tomo/coin/labels) lies within 2 voxels of the twin's (its anode|SPE
    height minus its anode thickness: 12 voxels), and so the registration on the anode's bottom
    (ct_register_layer: the XCS cell's can below it, 250 um) puts the CT within 2 voxels of the
    true 211.12 um.  Before the gap the steel's blurred edge leaves between the majority bands
    was closed at the measured spacer|anode height, the anode started at the ramp's top:
    21 voxels, the offset 29 um low."""
    import yaml

    from ssbscope.store import Store

    tc, tt = _coin_truth(tiny_demo)
    st = Store.open(tiny_demo / "store.zarr")
    lab = st["tomo/coin/labels"].load()
    vs = float(lab.attrs["voxel_size_um"])
    z0 = lab["layer_z_vox"].sel(layer="anode", bound="z0").values
    want = [(s["interface_z_um"]["anode|SPE"] - s["mean_thickness_um"]["anode"]) / vs for s in tt["scans"]]
    assert np.all(np.abs(z0 - np.asarray(want)) <= 2), (z0, want)
    # the bands tile the stack: the spacer ends where the anode starts
    assert np.all(lab["layer_z_vox"].sel(layer="spacer", bound="z1").values == z0)
    cfg = yaml.safe_load((tiny_demo / "experiment" / "experiment.yaml").read_text())
    layers = cfg["cell"]["layers"]
    names = [ly["name"] for ly in layers]
    bottom = sum(ly["thickness_um"] for ly in layers[:names.index("anode")])
    z_off = bottom - z0 * vs
    assert np.all(np.abs(z_off - tc["ct_z_offset_um"]) < 2 * vs), (z_off, tc["ct_z_offset_um"])


def test_offset_scans_first_each_and_unmatched():
    """ct_register_scans: 'first' places every state by the earliest scan; 'each' by the scan of
    the same state name, else of the same time_s (1 s), else the latest scan before it, else
    the first."""
    import xarray as xr

    from ssbscope.compton.input_stages import _offset_scans

    lab = xr.Dataset({"state": ("time_s", ["b", "a", "c"])}, coords={"time_s": [100.0, 0.0, 500.0]})
    members = [{"state": "a", "time_s": 7.0}, {"state": "x", "time_s": 100.4}, {"state": "y", "time_s": 300.0},
               {"state": "z", "time_s": -5.0}, {"state": "c", "time_s": None}]
    states = ["a", "x", "y", "z", "c"]
    by_state = {s: [i] for i, s in enumerate(states)}
    assert _offset_scans(lab, {"register_scans": "first"}, members, by_state, states) == {s: 1 for s in states}
    got = _offset_scans(lab, {"register_scans": "each"}, members, by_state, states)
    assert got == {"a": 1, "x": 0, "y": 0, "z": 1, "c": 2}


def test_default_registration(tmp_path):
    """No registration key: the first interface analysis.tomo.interfaces lists (for the CT
    series) whose layers both cells declare; without one, the layer registration's default."""
    from ssbscope.config import from_dict
    from ssbscope.workflow import stages_for

    cell = {"layers": [{"name": "can", "material": "steel", "thickness_um": 250},
                       {"name": "anode", "material": "Li", "thickness_um": 400},
                       {"name": "SPE", "material": "PEO-LiTFSI", "thickness_um": 30}]}
    both = [{"path": "a.ssbevt", "beam_height_um": 300, "state": "p", "label": "a"},
            {"path": "a.ssbevt", "beam_height_um": 420, "state": "p", "label": "b"}]

    def params(analysis):
        exp = from_dict({"cell": cell, "inputs": {"compton": both},
                         "analysis": {"compton": {"ct_series": "coin"}, **analysis}}, base_dir=tmp_path)
        st = [s for s in stages_for(exp) if s.name == "compton.series.xcs"][0]
        return st.params["ct"], st.inputs

    ct, inputs = params({"tomo": {"interfaces": ["Li|X", "anode|SPE"]}})
    assert ct["register_interface"] == "anode|SPE" and ct["register_layer"] is None
    assert ct["register_interface_default"] and ct["register_scans"] == "first"
    assert "tomo/coin/maps" in inputs
    # no interface listed: the layer registration's default (here no CT scan declares the
    # CT's cell, so there is no layer of both cells: the error names ct_register_layer)
    with pytest.raises(ConfigError, match="ct_register_layer"):
        params({})
    with pytest.raises(ConfigError, match="ct_register_layer"):
        params({"tomo": {"interfaces": ["SPE|anode"]}})  # upper below lower: not taken


@pytest.fixture(scope="module")
def each_run(tiny_demo, tmp_path_factory):
    """The tiny demo's XCS series stage again on the demo's stored CT products, its YAML with
    ``ct_register_scans: each`` (the demo's folder and store only read)."""
    import yaml

    from ssbscope.config import from_dict
    from ssbscope.pipeline import StageContext
    from ssbscope.store import Store
    from ssbscope.workflow import stages_for

    exp_dir = tiny_demo / "experiment"
    cfg = yaml.safe_load((exp_dir / "experiment.yaml").read_text())
    cfg["analysis"]["compton"]["ct_register_scans"] = "each"
    exp = from_dict(cfg, base_dir=exp_dir)
    (stage,) = [s for s in stages_for(exp) if s.name == "compton.series.xcs"]
    st = Store.open(tiny_demo / "store.zarr")
    inputs = {k: st[k] for k in stage.inputs}
    tmp = tmp_path_factory.mktemp("each")
    ctx = StageContext(stage=stage.name, store=st, raw_dir=tmp, work_dir=tmp, config=exp, quiet=True)
    return stage.func(ctx, inputs, **stage.params)


def test_each_state_registered_on_its_own_scan(each_run, tiny_demo):
    """ct_register_scans: each, on the tiny demo: every XCS state is matched to the coin scan of
    its name and placed by the anode|SPE height measured on that scan at the height its own
    layer_thickness_um declare (the interface moves +14.8 / +9.0 um on charge / discharge);
    each offset lies within half a voxel of the twin's true 211.12 um (the CT's bottom does not
    move), the scan time and the measured / declared heights are stored per state and the mode
    is named in the attrs and the registration text."""
    tc, tt = _coin_truth(tiny_demo)
    ct = each_run["compton/xcs/ct_fractions"]
    vs = float(ct.attrs["register_voxel_size_um"])
    assert ct.attrs["register_scans"] == "each" and "ct_register_scans each" in ct.attrs["registration"]
    states = [str(s) for s in ct["state"].values]
    assert states == tc["states"]
    z = ct["z_offset_um"].values
    assert np.all(np.abs(z - tc["ct_z_offset_um"]) < 0.5 * vs), (z, tc["ct_z_offset_um"])
    assert len(set(np.round(z, 6))) == len(z)  # measured on three scans, not one
    np.testing.assert_allclose(ct["z_offset_scan_time_s"].values, [s["time_s"] for s in tt["scans"]])
    # the phase fractions come from the scan that gave the offset
    np.testing.assert_array_equal(ct["ct_time_s"].values, ct["z_offset_scan_time_s"].values)
    meas = ct["register_measured_height_um"].values
    true_h = [s["interface_z_um"]["anode|SPE"] for s in tt["scans"]]
    assert np.all(np.abs(meas - np.asarray(true_h)) < 0.5 * vs), (meas, true_h)
    # the declared height follows each state's declared thicknesses (can + anode + interphase)
    decl = ct["register_declared_height_um"].values
    want = [250.0 + a + i for a, i in zip(tc["anode_thickness_um"], tc["interphase_thickness_um"])]
    np.testing.assert_allclose(decl, want, atol=1e-3)
    np.testing.assert_allclose(z, decl - meas, atol=1e-6)


def _three_scan_labels():
    """A CT series of 3 scans (time_s 0, 100, 500; states s0, s1, s2), 5 um voxels: Cu 20 um,
    Li 30, 30 and 50 um thick (plated between 100 and 500 s), Li6PS5Cl above; layer_z_vox as
    the tomo stages store it."""
    import xarray as xr

    li_top = [10, 10, 14]  # voxels (Cu 0..4)
    nz, n = 60, 6
    lab = np.full((3, nz, n, n), 1, np.uint8)  # Li6PS5Cl
    zv = np.zeros((3, 3, 2), int)
    for k, t in enumerate(li_top):
        lab[k, :4] = 2  # Cu
        lab[k, 4:t] = 0  # Li
        zv[k] = [[0, 4], [4, t], [t, nz]]
    return xr.Dataset(
        {"labels": (("time_s", "z", "y", "x"), lab),
         "cell_mask": (("y", "x"), np.ones((n, n), bool)),
         "state": ("time_s", ["s0", "s1", "s2"]),
         "layer_z_vox": (("time_s", "layer", "bound"), zv)},
        coords={"time_s": [0.0, 100.0, 500.0], "layer": ["Cu", "Li", "LPSCl"], "bound": ["z0", "z1"]},
        attrs={"phases": ["Li", "Li6PS5Cl", "Cu"], "voxel_size_um": 5.0})


@pytest.mark.parametrize("mode", ["each", "first"])
def test_each_state_takes_offset_and_fractions_from_one_scan(mode):
    """ct_register_scans: each: an XCS state with no matched CT scan (time_s 350: no scan of its
    name, none within 1 s) takes its offset from the latest scan before it (time_s 100) and its
    phase fractions from that same scan (not the nearest, time_s 500); both scan times stored.
    The sheet (60 +- 10 um) lies in the Li6PS5Cl at 100 s and in the plated Li at 500 s, so the
    two scans' fractions differ.  With 'first' the offset is the first scan's and the fractions
    the nearest scan's (the series' scans are registered to the first)."""
    from ssbscope.compton.input_stages import _ct_state_fractions

    lab = _three_scan_labels()
    layers = [("Cu", "Cu", 20.0), ("anode", "Li", 30.0), ("SPE", "Li6PS5Cl", 200.0)]
    ct = {"series": "cell", "z_offset_um": None, "register_layer": "Cu", "register_bottom_um": 0.0,
          "register_interface": None, "register_scans": mode, "phases": {}, "within": {},
          "materials": {n: m for n, m, _ in layers}}
    members = [{"label": f"{s}_a", "state": s, "time_s": t, "beam_height_um": 60.0, "beam_thickness_um": 20.0,
                "layer_thickness_um": {}} for s, t in [("s0", 0.0), ("late", 350.0)]]
    states = ["s0", "late"]
    by_state = {"s0": [0], "late": [1]}
    frac, ct_time, out = _ct_state_fractions(lab, None, ct, members, by_state, states, layers,
                                             ["anode", "SPE"], None, np.ones((80, 80), bool), None)
    want_scan = 1 if mode == "each" else 2
    assert out["offset_scan"] == {"s0": 0, "late": 1 if mode == "each" else 0}
    assert out["scan"] == {"s0": 0, "late": want_scan}
    assert out["scan_time_s"]["late"] == [0.0, 100.0, 500.0][want_scan] == ct_time[1]
    if mode == "each":
        assert out["scan_time_s"]["late"] == out["offset_time_s"]["late"] == 100.0
    # the fractions: SPE at 100 s (the sheet 50..70 um above Li's top at 50 um), Li at 500 s
    # (Li up to 70 um)
    np.testing.assert_allclose(frac[1], [0.0, 1.0] if mode == "each" else [1.0, 0.0], atol=1e-9)
    np.testing.assert_allclose(frac[0], [0.0, 1.0], atol=1e-9)
