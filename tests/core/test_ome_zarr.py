"""OME-Zarr (NGFF 0.5) in the store: declared images and label images open in ome-zarr-py
(and napari, through the napari-ome-zarr reader) with the physical scale and a pyramid,
while ``Store.read`` returns the dataset exactly as before."""

import json
import warnings
from types import SimpleNamespace

import numpy as np
import pytest
import xarray as xr

from ssbscope.errors import StoreError
from ssbscope.store import Store

VS = 2.5  # um


def _space(nz, ny, nx, vs=VS):
    return {"z_um": ("z", (np.arange(nz) + 0.5) * vs, {"units": "um"}),
            "y_um": ("y", (np.arange(ny) + 0.5) * vs, {"units": "um"}),
            "x_um": ("x", (np.arange(nx) + 0.5) * vs, {"units": "um"})}


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    rng = np.random.default_rng(1)
    nt, nz, ny, nx = 2, 10, 24, 18
    vol = rng.random((nt, nz, ny, nx)).astype(np.float32)
    lab = (vol * 3).astype(np.uint8)
    coords = {"time_s": ("time_s", [0.0, 600.0], {"units": "s"}), **_space(nz, ny, nx)}
    st = Store.create(tmp_path_factory.mktemp("ome") / "s.zarr")
    vds = xr.Dataset({"volume": (("time_s", "z", "y", "x"), vol,
                                 {"units": "1/pixel", "ome_image": "image"}),
                      "state": ("time_s", np.array(["pristine", "plated"]))},
                     coords=coords, attrs={"voxel_size_um": VS})
    # as tomo/<series>/labels (ssbscope.tomo.stages.series_datasets): an NGFF label of the
    # volumes, stored at tomo/cell/volumes/labels/phases
    lds = xr.Dataset({"labels": (("time_s", "z", "y", "x"), lab,
                                 {"ome_image": "label", "ome_source": "../volumes",
                                  "ome_label_name": "phases", "label_values": [0, 1, 2, 255],
                                  "label_names": ["void", "Li", "SE", "undeclared"]}),
                      "cell_mask": (("y", "x"), np.ones((ny, nx), bool))},
                     coords=coords, attrs={"voxel_size_um": VS})
    # a height map per interface: (t, c, y, x) with physical y/x coordinates
    hm = rng.normal(20.0, 1.0, (nt, 2, ny, nx)).astype(np.float32)
    mds = xr.Dataset({"height_um": (("time_s", "interface", "y", "x"), hm, {"ome_image": "image"})},
                     coords={"time_s": coords["time_s"], "interface": ["a|b", "b|c"],
                             "y": ("y", (np.arange(ny) + 0.5) * VS, {"units": "um"}),
                             "x": ("x", (np.arange(nx) + 0.5) * VS, {"units": "um"})})
    st.write("tomo/cell/volumes", vds)
    st.write("tomo/cell/labels", lds)
    st.write("tomo/cell/maps", mds)
    st.write("echem/timeseries", xr.Dataset({"voltage_V": ("time_s", [3.0, 3.1])},
                                            coords={"time_s": [0.0, 1.0]}))
    return SimpleNamespace(st=st, vol=vol, lab=lab, hm=hm, vds=vds, lds=lds)


def _node(path):
    from ome_zarr.io import parse_url
    from ome_zarr.reader import Reader

    nodes = list(Reader(parse_url(str(path)))())
    return [n for n in nodes if n.zarr.path.rstrip("/") == str(path).rstrip("/")][0]


def test_ome_zarr_reader_finds_the_images_with_the_voxel_size(store):
    pytest.importorskip("ome_zarr")
    st = store.st
    assert st.ome_images() == ["tomo/cell/maps", "tomo/cell/volumes"]  # labels: in volumes
    node = _node(st.path / "tomo/cell/volumes")
    assert [a["name"] for a in node.metadata["axes"]] == ["time_s", "z", "y", "x"]  # the dims
    assert [a.get("unit") for a in node.metadata["axes"]] == ["second"] + ["micrometer"] * 3
    ct = node.metadata["coordinateTransformations"]
    # level 0: scale = voxel size, translation = first voxel centre (the z_um/y_um/x_um coords);
    # time: the step of the (evenly spaced) time_s, from its first value
    assert ct[0][0] == {"type": "scale", "scale": [600.0, VS, VS, VS]}
    assert ct[0][1]["translation"] == [0.0, VS / 2, VS / 2, VS / 2]
    # level 1: twice the voxel size; its voxel centres are the means of the 2x2x2 blocks'
    assert ct[1][0]["scale"] == [600.0, 2 * VS, 2 * VS, 2 * VS]
    assert ct[1][1]["translation"] == [0.0, VS, VS, VS]
    assert len(node.data) == 2
    np.testing.assert_array_equal(np.asarray(node.data[0]), store.vol)
    v = store.vol
    ref = v.reshape(2, 5, 2, 12, 2, 9, 2).mean(axis=(2, 4, 6))  # block means, independently
    np.testing.assert_allclose(np.asarray(node.data[1]), ref, rtol=1e-6)


def test_label_image_is_an_ngff_label_of_its_volume(store):
    """The label series is an NGFF 0.5 label of the volumes it was segmented from: listed in
    tomo/cell/volumes/labels, found by ome-zarr-py's Reader from the image, with the image's
    axes, scale and pyramid levels (nearest: every second voxel), integer dtype,
    dimension_names = the axes, and spec-valid by ome-zarr-models."""
    pytest.importorskip("ome_zarr")
    import zarr
    from ome_zarr.reader import Label, Labels, Multiscales

    img = store.st.path / "tomo/cell/volumes"
    lpath = img / "labels" / "phases"
    assert json.loads((img / "labels" / "zarr.json").read_text())["attributes"]["ome"] == \
        {"version": "0.5", "labels": ["phases"]}
    assert not (store.st.path / "tomo/cell/labels" / "labels").exists()  # moved, not copied
    from ome_zarr.io import parse_url
    from ome_zarr.reader import Reader

    nodes = list(Reader(parse_url(str(img)))())
    by_path = {n.zarr.path.rstrip("/"): n for n in nodes}
    assert by_path[str(img)].first(Multiscales) is not None
    assert by_path[str(img / "labels")].first(Labels) is not None
    node = by_path[str(lpath)]
    assert node.first(Label) is not None
    image = by_path[str(img)]
    assert node.metadata["axes"] == image.metadata["axes"]
    assert node.metadata["coordinateTransformations"] == image.metadata["coordinateTransformations"]
    assert node.metadata["coordinateTransformations"][0][0]["scale"] == [600.0, VS, VS, VS]
    assert [d.shape for d in node.data] == [d.shape for d in image.data]
    assert np.asarray(node.data[1]).dtype == np.uint8
    np.testing.assert_array_equal(np.asarray(node.data[0]), store.lab)
    np.testing.assert_array_equal(np.asarray(node.data[1]), store.lab[:, ::2, ::2, ::2])
    assert node.metadata["properties"][1] == {"name": "Li"}
    ome = json.loads((lpath / "zarr.json").read_text())["attributes"]["ome"]
    assert ome["version"] == "0.5"
    assert ome["image-label"]["source"] == {"image": "../../"}
    assert {c["label-value"] for c in ome["image-label"]["colors"]} == {0, 1, 2, 255}
    g = zarr.open_group(str(lpath), mode="r")
    for d in ome["multiscales"][0]["datasets"]:
        assert g[d["path"]].metadata.dimension_names == ("time_s", "z", "y", "x")
    models = pytest.importorskip("ome_zarr_models.v05")
    lab_model = models.Labels.from_zarr(zarr.open_group(str(img / "labels"), mode="r"))
    assert lab_model.attributes.ome.labels == ["phases"]
    models.ImageLabel.from_zarr(g)  # raises if not spec-valid


def test_label_follows_its_image_and_needs_it(store, tmp_path):
    """Rewriting the image keeps the labels other datasets stored in it (the label dataset
    still reads and verifies); deleting the label dataset takes its label out of the image;
    a label whose image is not in the store is refused."""
    st = Store.create(tmp_path / "s.zarr")
    with pytest.raises(StoreError, match="not in the store"):
        st.write("tomo/cell/labels", store.lds)
    assert "tomo/cell/labels" not in st.names()
    st.write("tomo/cell/volumes", store.vds)
    st.write("tomo/cell/labels", store.lds)
    st.write("tomo/cell/volumes", store.vds)
    np.testing.assert_array_equal(st.read("tomo/cell/labels")["labels"].values, store.lab)
    assert st.check() == []
    with open(st.path / "tomo/cell/volumes/labels/phases/zarr.json", "a") as fh:
        fh.write(" ")  # the label dataset's manifest covers its label image
    assert any("tomo/cell/labels: file ../volumes/labels/phases/zarr.json" in p
               for p in st.check())
    st.write("tomo/cell/labels", store.lds)
    st.delete("tomo/cell/labels")
    assert not (st.path / "tomo/cell/volumes/labels").exists()
    assert st.check() == []
    root = json.loads((st.path / "zarr.json").read_text())["consolidated_metadata"]["metadata"]
    assert not any("/labels" in k for k in root)


def test_map_with_a_channel_axis(store):
    pytest.importorskip("ome_zarr")
    node = _node(store.st.path / "tomo/cell/maps")
    assert [a["type"] for a in node.metadata["axes"]] == ["time", "channel", "space", "space"]
    assert node.metadata["coordinateTransformations"][0][0]["scale"] == [600.0, 1.0, VS, VS]
    assert np.asarray(node.data[1]).shape == (2, 2, 12, 9)


def test_store_read_is_unchanged(store):
    st = store.st
    got = st.read("tomo/cell/volumes").load()
    assert sorted(got.data_vars) == ["state", "volume"]
    assert "ome" not in got.attrs
    xr.testing.assert_identical(got.drop_attrs(), store.vds.drop_attrs())
    lab = st.read("tomo/cell/labels").load()
    assert sorted(lab.data_vars) == ["cell_mask", "labels"]  # read from volumes/labels/phases
    assert lab["labels"].dims == ("time_s", "z", "y", "x") and "ome_labels" not in lab.attrs
    np.testing.assert_array_equal(lab["labels"].values, store.lab)
    xr.testing.assert_equal(lab.drop_attrs(), store.lds.drop_attrs())
    from ssbscope.store_repr import store_summary  # the Jupyter view lists it there too

    row = {r["name"]: r for r in store_summary(st)}["tomo/cell/labels"]
    assert {"name": "labels", "dims": ("time_s", "z", "y", "x"), "dtype": "uint8"}.items() <= \
        [v for v in row["variables"] if v["name"] == "labels"][0].items()
    assert st.check() == []  # the manifests cover the pyramid arrays and OME metadata


def test_consolidated_metadata_and_no_bookkeeping_in_the_hierarchy(store):
    import zarr

    st = store.st
    root = json.loads((st.path / "zarr.json").read_text())
    assert "tomo/cell/volumes/s1/volume" in root["consolidated_metadata"]["metadata"]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no "consolidated metadata" warning on open
        ds = xr.open_zarr(st.path, group="tomo/cell/volumes")
        assert "volume" in ds
        members = dict(zarr.open_consolidated(str(st.path), zarr_format=3).members(max_depth=None))
    names = st.names()
    for key in members:  # every Zarr node is a dataset, inside one, or a parent group of one
        assert (any(key == n or key.startswith(n + "/") for n in names)
                or any(n.startswith(key + "/") for n in names)), key
    assert not any(p.name == "zarr.json" for p in (st.path / ".ssbscope").rglob("*")
                   if "tmp" not in p.parts)


def test_incremental_consolidation_equals_zarrs(store, tmp_path):
    """Store.write updates the root's consolidated metadata for its dataset only; the result
    is what zarr.consolidate_metadata writes for the whole hierarchy (also after a delete)."""
    import shutil

    from ssbscope.store import _consolidate_quietly

    st = store.st
    st.write("echem/extra", xr.Dataset({"current_mA": ("time_s", [1.0])}, coords={"time_s": [0.0]}))
    st.delete("echem/extra")
    st.write("echem/other/deep", xr.Dataset({"current_mA": ("time_s", [1.0])}, coords={"time_s": [0.0]}))
    mine = json.loads((st.path / "zarr.json").read_text())["consolidated_metadata"]["metadata"]
    ref_dir = tmp_path / "ref.zarr"
    shutil.copytree(st.path, ref_dir)
    _consolidate_quietly(ref_dir)
    ref = json.loads((ref_dir / "zarr.json").read_text())["consolidated_metadata"]["metadata"]
    assert sorted(mine) == sorted(ref)
    assert mine == json.loads(json.dumps(ref))
    st.delete("echem/other/deep")


def test_large_volume_gets_more_levels_and_unknown_voxel_size_no_unit(tmp_path):
    pytest.importorskip("ome_zarr")
    st = Store.create(tmp_path / "s.zarr")
    v = np.zeros((600, 6, 5), np.float32)
    v[300:] = 1.0
    st.write("tomo/big/scans/s0", xr.Dataset(
        {"volume": (("z", "y", "x"), v, {"units": "1", "ome_image": "image"})},
        attrs={"voxel_size_um": float("nan")}))
    node = _node(st.path / "tomo/big/scans/s0")
    # 600 > 2*256: two coarser levels (600 -> 300 -> 150 along z)
    assert [d.shape for d in node.data] == [(600, 6, 5), (300, 3, 2), (150, 1, 1)]
    assert all("unit" not in a for a in node.metadata["axes"])  # voxel size unknown
    assert node.metadata["coordinateTransformations"][0][0]["scale"] == [1.0, 1.0, 1.0]
    assert float(np.asarray(node.data[2])[149, 0, 0]) == 1.0


def test_declared_image_with_wrong_axes_is_refused(tmp_path):
    st = Store.create(tmp_path / "s.zarr")
    ds = xr.Dataset({"img": (("x", "time_s"), np.zeros((3, 2)), {"units": "1", "ome_image": "image"})})
    with pytest.raises(StoreError, match="OME-Zarr"):
        st.write("tomo/bad", ds)
    assert "tomo/bad" not in st.names()


def test_tomo_input_stage_declares_the_volume(tmp_path):
    """A real tomography input (multi-page TIFF) through the tomo input stage: the scan's
    volume opens in ome-zarr-py with the declared voxel size."""
    pytest.importorskip("ome_zarr")
    import tifffile

    from ssbscope.tomo.stages import _input_recon_stage

    f = tmp_path / "vol.tif"
    data = (np.arange(8 * 12 * 10) % 251).astype(np.uint16).reshape(8, 12, 10)
    tifffile.imwrite(f, data)
    out = _input_recon_stage(SimpleNamespace(record_input=lambda p: None), {}, path=f,
                             kind="volume", label="s0", time_s=30.0, voxel_size_um=1.7,
                             key="tomo/cell/scans/s0")
    st = Store.create(tmp_path / "s.zarr")
    st.write("tomo/cell/scans/s0", out["tomo/cell/scans/s0"])
    node = _node(st.path / "tomo/cell/scans/s0")
    assert [a["name"] for a in node.metadata["axes"]] == ["time_s", "z", "y", "x"]  # the dims
    assert node.metadata["coordinateTransformations"][0][0]["scale"] == [1.0, 1.7, 1.7, 1.7]
    np.testing.assert_array_equal(np.asarray(node.data[0])[0], data)


def test_a_scan_volume_reads_back_with_physical_coordinates_equal_to_its_ngff_transform(tmp_path):
    """Issue 15 §1 "physical coordinates on spatial dims": a tomo input stage's scan
    (``tomo/<series>/scans/<label>``) carried z/y/x without coordinates (the demo's 9 scans);
    stored, they get ``z_um``/``y_um``/``x_um`` = voxel centres, the NGFF scale/translation."""
    import tifffile

    from ssbscope.tomo.stages import _input_recon_stage

    f = tmp_path / "vol.tif"
    tifffile.imwrite(f, np.zeros((6, 5, 7), np.uint16))
    out = _input_recon_stage(SimpleNamespace(record_input=lambda p: None), {}, path=f,
                             kind="volume", label="s0", time_s=0.0, voxel_size_um=1.7,
                             key="tomo/cell/scans/s0")["tomo/cell/scans/s0"]
    assert not any(c.dims == ("z",) for c in out.coords.values())  # the stage gives none
    st = Store.create(tmp_path / "s.zarr")
    st.write("tomo/cell/scans/s0", out)
    ds = st.read("tomo/cell/scans/s0")
    ms = json.loads((st.path / "tomo/cell/scans/s0/zarr.json").read_text())["attributes"]["ome"][
        "multiscales"][0]
    scale, trans = (t[k] for t, k in zip(ms["datasets"][0]["coordinateTransformations"],
                                         ("scale", "translation")))
    for i, (d, n) in enumerate((("z", 6), ("y", 5), ("x", 7)), start=1):
        c = ds[f"{d}_um"]
        assert c.dims == (d,) and c.attrs["units"] == "um" and c.attrs["long_name"]
        np.testing.assert_allclose(c.values, (np.arange(n) + 0.5) * 1.7, rtol=1e-12)
        np.testing.assert_allclose(c.values, trans[i] + np.arange(n) * scale[i], rtol=1e-12)
    # an image of unknown voxel size gets no invented coordinates
    st.write("tomo/cell/scans/s1", xr.Dataset(
        {"volume": (("z", "y", "x"), np.zeros((4, 4, 4), np.float32),
                    {"units": "1", "ome_image": "image"})}))
    assert not any(str(c).endswith("_um") for c in st.read("tomo/cell/scans/s1").coords)


def test_napari_reader_opens_the_volume_with_its_scale(store):
    """napari's OME-Zarr reader (napari-ome-zarr, extra ``viewer``) builds the layers headless
    (no Qt window: layers are created from the reader's layer data)."""
    reader_mod = pytest.importorskip("napari_ome_zarr", reason="napari-ome-zarr not installed "
                                     "(pip install 'ssbscope[viewer]')")
    try:
        from napari.layers import Layer
    except Exception as e:  # noqa: BLE001 - any import failure means no headless napari here
        pytest.skip(f"napari cannot be imported headless here: {e}")
    path = str(store.st.path / "tomo/cell/volumes")
    read = reader_mod.napari_get_reader(path)
    assert read is not None
    layers = [Layer.create(d, kw, t) for d, kw, t in read(path)]
    img = [la for la in layers if la.__class__.__name__ == "Image"]
    assert len(img) == 1 and img[0].multiscale
    np.testing.assert_allclose(img[0].scale, [600.0, VS, VS, VS])
    assert [tuple(s) for s in img[0].level_shapes] == [(2, 10, 24, 18), (2, 5, 12, 9)]
    # the labels open with the image (its labels/ group), at the image's scale and levels
    lab = [la for la in layers if la.__class__.__name__ == "Labels"]
    assert len(lab) == 1 and lab[0].multiscale, [la.__class__.__name__ for la in layers]
    np.testing.assert_allclose(lab[0].scale, [600.0, VS, VS, VS])
    assert [tuple(s) for s in lab[0].level_shapes] == [(2, 10, 24, 18), (2, 5, 12, 9)]
    np.testing.assert_array_equal(np.asarray(lab[0].data[1]), store.lab[:, ::2, ::2, ::2])


# ---------------------------------------------------------------- XCS maps and neutron series

BLOCK_MM = 2.0  # XCS block size in the sheet (mm)
PX_UM = 50.0  # neutron pixel size (um)


def _xcs_maps(times):
    """A dataset shaped like compton/<series>/maps (ssbscope.compton.input_stages): the pinhole
    inverts the image and the stage stores the blocks in reverse detector order, so y_mm and
    x_mm increase along block_row and block_col."""
    rng = np.random.default_rng(3)
    ns, nc, nb = len(times), 3, 6
    emf = rng.normal(1.6, 0.05, (ns, nc, nb, nb))
    cen = (np.arange(nb) - (nb - 1) / 2) * BLOCK_MM
    ome = {"ome_image": "image"}
    return xr.Dataset(
        {"emf": (("state", "component", "block_row", "block_col"), emf, {"units": "1", **ome}),
         "emf_unc": (("state", "component", "block_row", "block_col"), emf * 0.01, {"units": "1", **ome}),
         "block_inside": (("block_row", "block_col"), np.ones((nb, nb), bool))},
        coords={"state": [f"s{k}" for k in range(ns)], "component": ["anode", "SPE", "cathode"],
                "time_s": ("state", np.asarray(times, float)),
                "block_row": np.arange(nb), "block_col": np.arange(nb),
                "y_mm": ("block_row", cen, {"units": "mm"}), "x_mm": ("block_col", cen, {"units": "mm"})},
        attrs={"block_size_mm": BLOCK_MM, "ome_default": "emf"})


def _neutron_series(n_bin=4, bin_s=1800.0):
    """A dataset shaped like neutron/input/<label> (ssbscope.neutron.stages): frames with
    time_s, bins with time_s_bin, integer y/x pixel indices and pixel_size_um."""
    rng = np.random.default_rng(4)
    nf, ny, nx = 3 * n_bin, 8, 12
    tr = rng.uniform(0.5, 0.9, (n_bin, ny, nx)).astype(np.float32)
    ome = {"ome_image": "image"}
    return xr.Dataset(
        {"transmission": (("frame", "y", "x"), np.repeat(tr, 3, axis=0), {"units": "1"}),
         "transmission_binned": (("bin", "y", "x"), tr, {"units": "1", **ome}),
         "transmission_ratio": (("bin", "y", "x"), tr / tr[0], {"units": "1", **ome}),
         "ratio_profile": (("bin", "y"), (tr / tr[0]).mean(axis=2), {"units": "1"})},
        coords={"frame": np.arange(nf), "time_s": ("frame", 600.0 * np.arange(nf) + 60.0),
                "bin": np.arange(n_bin), "time_s_bin": ("bin", 60.0 + 600.0 + bin_s * np.arange(n_bin),
                                                        {"units": "s"}),
                "y": np.arange(ny), "x": np.arange(nx)},
        attrs={"pixel_size_um": PX_UM, "ome_default": "transmission_ratio"})


def _ome_of(st, name):
    return json.loads((st.path / name / "zarr.json").read_text())["attributes"]["ome"]


def _without_ome(ds):
    ds = ds.copy()
    for v in ds.variables.values():
        v.attrs.pop("ome_image", None)
    return ds


@pytest.fixture(scope="module")
def series_store(tmp_path_factory):
    st = Store.create(tmp_path_factory.mktemp("ome_series") / "s.zarr")
    even = _xcs_maps([600.0, 4200.0, 7800.0])
    uneven = _xcs_maps([600.0, 51963.6, float("nan")])
    nt = _neutron_series()
    st.write("compton/xcs/maps", even)
    st.write("compton/uneven/maps", uneven)
    st.write("neutron/input/cell", nt)
    # the same datasets without the declaration: what Store.read returned before
    st.write("plain/xcs", _without_ome(even))
    st.write("plain/neutron", _without_ome(nt))
    return SimpleNamespace(st=st, even=even, uneven=uneven, nt=nt)


def test_xcs_maps_open_with_the_block_size_and_the_state_times(series_store):
    """state -> t (time_s evenly spaced: its step in s), component -> c, block_row/block_col ->
    y/x by their y_mm/x_mm coordinates: scale = block size in um (positive: the blocks are stored
    with y/x increasing), translation = the first block's centre; the first image is emf."""
    pytest.importorskip("ome_zarr")
    st, ds = series_store.st, series_store.even
    assert {"compton/xcs/maps", "compton/uneven/maps", "neutron/input/cell"} <= set(st.ome_images())
    node = _node(st.path / "compton/xcs/maps")
    axes = node.metadata["axes"]
    assert [(a["name"], a["type"]) for a in axes] == [("state", "time"), ("component", "channel"),
                                                      ("block_row", "space"), ("block_col", "space")]
    assert [a.get("unit") for a in axes] == ["second", None, "micrometer", "micrometer"]
    ct = node.metadata["coordinateTransformations"]
    b_um = BLOCK_MM * 1000.0
    assert ct[0][0]["scale"] == [3600.0, 1.0, b_um, b_um]
    assert ct[0][1]["translation"] == [600.0, 0.0, -2.5 * b_um, -2.5 * b_um]
    # level 1: 2 x 2 blocks; its first centre is the mean of the first two blocks' centres
    assert ct[1][0]["scale"] == [3600.0, 1.0, 2 * b_um, 2 * b_um]
    assert ct[1][1]["translation"] == [600.0, 0.0, -2.0 * b_um, -2.0 * b_um]
    np.testing.assert_array_equal(np.asarray(node.data[0]), ds["emf"].values)
    ref = ds["emf"].values.reshape(3, 3, 3, 2, 3, 2).mean(axis=(3, 5))
    np.testing.assert_allclose(np.asarray(node.data[1]), ref, rtol=1e-12)
    ome = _ome_of(st, "compton/xcs/maps")
    assert [m["name"] for m in ome["multiscales"]] == ["emf", "emf_unc"]
    md = ome["multiscales"][0]["metadata"]
    assert md["time_s"] == [600.0, 4200.0, 7800.0]
    assert md["axis_labels"] == {"state": ["s0", "s1", "s2"], "component": ["anode", "SPE", "cathode"]}
    # physical position of block (row 4, col 1) from the image's transform = its y_mm/x_mm
    y_um = ct[0][1]["translation"][2] + 4 * ct[0][0]["scale"][2]
    x_um = ct[0][1]["translation"][3] + 1 * ct[0][0]["scale"][3]
    assert (y_um, x_um) == pytest.approx((ds["y_mm"].values[4] * 1e3, ds["x_mm"].values[1] * 1e3))


def test_xcs_maps_with_uneven_or_unknown_times_have_an_index_time_axis(series_store):
    pytest.importorskip("ome_zarr")
    node = _node(series_store.st.path / "compton/uneven/maps")
    t = node.metadata["axes"][0]
    assert t["type"] == "time" and "unit" not in t
    assert node.metadata["coordinateTransformations"][0][0]["scale"][0] == 1.0
    md = _ome_of(series_store.st, "compton/uneven/maps")["multiscales"][0]["metadata"]
    assert md["time_s"] == [600.0, 51963.6, None]


def test_neutron_ratio_movie_opens_with_the_bin_time_and_pixel_size(series_store):
    """bin -> t (time_s_bin: the bin interval, from the first bin's time), y/x from
    pixel_size_um (translation: the first pixel's centre); the ratio is the first image."""
    pytest.importorskip("ome_zarr")
    st, ds = series_store.st, series_store.nt
    node = _node(st.path / "neutron/input/cell")
    assert [(a["name"], a.get("unit")) for a in node.metadata["axes"]] == [
        ("bin", "second"), ("y", "micrometer"), ("x", "micrometer")]
    ct = node.metadata["coordinateTransformations"]
    assert ct[0][0]["scale"] == [1800.0, PX_UM, PX_UM]
    assert ct[0][1]["translation"] == [660.0, PX_UM / 2, PX_UM / 2]
    assert ct[1][0]["scale"] == [1800.0, 2 * PX_UM, 2 * PX_UM]
    assert node.metadata["name"] == "transmission_ratio"
    np.testing.assert_array_equal(np.asarray(node.data[0]), ds["transmission_ratio"].values)
    assert np.asarray(node.data[1]).shape == (4, 4, 6)
    ome = _ome_of(st, "neutron/input/cell")
    assert sorted(m["name"] for m in ome["multiscales"]) == ["transmission_binned", "transmission_ratio"]


def test_store_read_of_the_series_is_what_it_was_without_the_declaration(series_store):
    st = series_store.st
    for name, plain in (("compton/xcs/maps", "plain/xcs"), ("neutron/input/cell", "plain/neutron")):
        got = _without_ome(st.read(name).load())
        ref = st.read(plain).load()
        assert sorted(got.variables) == sorted(ref.variables), name
        xr.testing.assert_identical(got, ref)
    # and the dataset as the stage built it (values, coordinates)
    xr.testing.assert_equal(st.read("neutron/input/cell").load(), series_store.nt)
    assert st.check() == []


def test_axes_rules_refuse_two_y_dimensions_and_time_after_channel():
    from ssbscope.ome import axes_of

    ds = xr.Dataset(coords={"y_mm": ("block_row", [1.0, 0.0]), "y2": ("a", [0, 1])})
    with pytest.raises(ValueError, match="not"):
        axes_of(("block_row", "y", "x"), ds)
    ds = xr.Dataset(coords={"time_s": ("state", [0.0, 1.0])})
    with pytest.raises(ValueError, match="not"):
        axes_of(("component", "state", "y", "x"), ds)
    # axis names are the dimensions (NGFF 0.5: = the arrays' dimension_names); types by role
    assert [(a["name"], a["type"]) for a in axes_of(("state", "component", "y", "x"), ds)] == [
        ("state", "time"), ("component", "channel"), ("y", "space"), ("x", "space")]
    # without the dataset only the names count: state is then a channel
    assert [a["type"] for a in axes_of(("state", "y", "x"))] == ["channel", "space", "space"]


def test_napari_reader_opens_the_xcs_maps_and_the_ratio_movie(series_store):
    reader_mod = pytest.importorskip("napari_ome_zarr", reason="napari-ome-zarr not installed "
                                     "(pip install 'ssbscope[viewer]')")
    try:
        from napari.layers import Layer
    except Exception as e:  # noqa: BLE001 - any import failure means no headless napari here
        pytest.skip(f"napari cannot be imported headless here: {e}")
    from napari.layers.utils.stack_utils import split_channels

    b_um = BLOCK_MM * 1000.0
    for name, scale in (("neutron/input/cell", [1800.0, PX_UM, PX_UM]),
                        ("compton/xcs/maps", [3600.0, b_um, b_um])):
        path = str(series_store.st.path / name)
        layers = []
        for d, kw, t in reader_mod.napari_get_reader(path)(path):
            if "channel_axis" in kw:  # what viewer.add_image does with a channel axis
                kw = dict(kw)
                parts = split_channels(d, kw.pop("channel_axis"), **kw)
            else:
                parts = [(d, kw, t)]
            layers += [Layer.create(*part) for part in parts]
        img = [la for la in layers if la.__class__.__name__ == "Image"]
        assert img and all(la.multiscale for la in img), name
        # the channel axis (component) becomes one layer per channel
        for la in img:
            np.testing.assert_allclose(la.scale, scale, err_msg=name)
    assert len(img) == 3  # anode, SPE, cathode


def _validate_ngff(st):
    """Validate every OME-Zarr group of ``st`` with ome-zarr-models (NGFF 0.5): each image
    (with its labels), each label group and each unplaced label image; check that every
    level's Zarr dimension_names are the axes' names and the image stays an xarray dataset.
    Returns the names validated."""
    import zarr

    models = pytest.importorskip("ome_zarr_models.v05")
    seen = []
    for name in st.ome_images():
        path = st.path / name
        g = zarr.open_group(str(path), mode="r")
        ome = g.attrs["ome"]
        if "image-label" in ome:
            models.ImageLabel.from_zarr(g)  # raises if not spec-valid
        else:
            models.Image.from_zarr(g)
        groups = [(path, ome)]
        if (path / "labels" / "zarr.json").is_file():
            lg = zarr.open_group(str(path / "labels"), mode="r")
            models.Labels.from_zarr(lg)
            for ln in lg.attrs["ome"]["labels"]:
                lab = zarr.open_group(str(path / "labels" / ln), mode="r")
                models.ImageLabel.from_zarr(lab)
                groups.append((path / "labels" / ln, lab.attrs["ome"]))
        for gpath, gome in groups:
            gg = zarr.open_group(str(gpath), mode="r")
            for ms in gome["multiscales"]:
                names = tuple(a["name"] for a in ms["axes"])
                shapes = [gg[d["path"]].shape for d in ms["datasets"]]
                assert len(shapes) >= 2 and shapes[1] != shapes[0], (gpath, shapes)
                for d in ms["datasets"]:
                    assert gg[d["path"]].metadata.dimension_names == names, (gpath, d["path"])
        # the image group is still the dataset: level 0 only, its dims the axes' names
        ds = st.read(name)
        for ms in ome["multiscales"]:
            if ms["name"] in ds:
                assert ds[ms["name"]].dims == tuple(a["name"] for a in ms["axes"])
        assert not any(str(v).startswith("s1") or str(v).endswith("_s1") for v in ds.variables)
        seen.append(name)
    return seen


def test_ome_zarr_models_validates_every_image_group(store, series_store):
    """NGFF 0.5 wants each level's dimension_names to be the axes' names: ome-zarr-models
    accepts every image (tomo volumes with their label, height maps with a channel axis, XCS
    maps, a neutron ratio movie), label group and label image of the two tiny stores."""
    assert _validate_ngff(store.st) == ["tomo/cell/maps", "tomo/cell/volumes"]
    assert {"compton/xcs/maps", "compton/uneven/maps", "neutron/input/cell"} <= \
        set(_validate_ngff(series_store.st))


def test_ome_zarr_models_rejected_the_former_layout(store, tmp_path):
    """The check can fail: the image with its levels' dimension_names renamed (as the
    <dim>_s<k> arrays of the former layout had them) is refused by ome-zarr-models."""
    import shutil

    import zarr

    models = pytest.importorskip("ome_zarr_models.v05")
    src = store.st.path / "tomo/cell/volumes"
    dst = tmp_path / "volumes"
    shutil.copytree(src, dst, ignore=shutil.ignore_patterns("labels"))
    zj = dst / "s1" / "volume" / "zarr.json"
    meta = json.loads(zj.read_text())
    meta["dimension_names"] = ["time_s", "z_s1", "y_s1", "x_s1"]
    zj.write_text(json.dumps(meta))
    top = json.loads((dst / "zarr.json").read_text())
    top.pop("consolidated_metadata", None)
    (dst / "zarr.json").write_text(json.dumps(top))
    with pytest.raises(Exception, match="(?i)dimension"):
        models.Image.from_zarr(zarr.open_group(str(dst), mode="r"))


@pytest.mark.parametrize("block, chunk", [(24, 8), (13, 13)])
def test_streamed_pyramid_equals_the_pyramid_from_disk_in_one_pass(tmp_path, monkeypatch, block,
                                                                   chunk):
    """A Dask-backed image (as a streamed reconstruction: one task per slab of rows) is
    written with its pyramid in one pass: every slab task runs once (the levels are not read
    back from level 0), and the levels equal the ones written from an in-memory array bit for
    bit; slabs of a multiple of the pyramid factor (24 = 6 x 4) or not (13: the remainder is
    carried to the next slab inside the graph)."""
    import threading

    import dask
    import dask.array as da
    import zarr

    from ssbscope.ome import pyramid_factor, write_ome

    rng = np.random.default_rng(3)
    n_slabs = -(-600 // block)
    nz, ny, nx = 600, 40, 36
    v = rng.random((nz, ny, nx)).astype(np.float32)
    lab = (v * 4).astype(np.uint8)
    assert pyramid_factor(v.shape) == 4  # two coarser levels: 600 -> 300 -> 150
    calls, lock = [], threading.Lock()

    def slab(src, z0, z1):
        with lock:
            calls.append(z0)
        return src[z0:z1]

    def lazy(src):
        parts = [da.from_delayed(dask.delayed(slab)(src, z0, min(nz, z0 + block)),
                                 shape=(min(nz, z0 + block) - z0, ny, nx), dtype=src.dtype)
                 for z0 in range(0, nz, block)]
        return da.concatenate(parts).rechunk((chunk, ny, nx))

    def datasets(data, labels):
        return {"tomo/c/volumes": xr.Dataset(
                    {"volume": (("z", "y", "x"), data, {"units": "1/pixel", "ome_image": "image"})},
                    coords=_space(nz, ny, nx)),
                "tomo/c/labels": xr.Dataset(
                    {"labels": (("z", "y", "x"), labels, {"units": "1", "ome_image": "label"})},
                    coords=_space(nz, ny, nx))}

    # reference: level 0 written first, then the pyramid read back from it (the post-hoc path)
    for name, ds in datasets(lazy(v), lazy(lab)).items():
        ds.to_zarr(str(tmp_path / "ref" / name), mode="w", consolidated=False, zarr_format=3)
        write_ome(tmp_path / "ref" / name, ds)
    assert len(calls) == 2 * n_slabs
    calls.clear()
    got = Store.create(tmp_path / "got.zarr")

    def no_read_back(*a, **k):
        raise AssertionError("a streamed image's level was read back from disk")

    with monkeypatch.context() as m:
        m.setattr(da, "from_zarr", no_read_back)
        for name, ds in datasets(lazy(v), lazy(lab)).items():
            got.write(name, ds)
    assert sorted(calls) == sorted(2 * list(range(0, nz, block)))  # each slab once per image
    for name, var in (("tomo/c/volumes", "volume"), ("tomo/c/labels", "labels")):
        g_ref = zarr.open_group(str(tmp_path / "ref" / name), mode="r")
        g_got = zarr.open_group(str(got.path / name), mode="r")
        assert g_got.attrs["ome"] == g_ref.attrs["ome"]
        paths = [d["path"] for d in g_ref.attrs["ome"]["multiscales"][0]["datasets"]]
        assert paths == [var, f"s1/{var}", f"s2/{var}"]
        for p in paths:
            assert g_got[p].chunks == g_ref[p].chunks
            np.testing.assert_array_equal(g_got[p][...], g_ref[p][...], err_msg=p)
    np.testing.assert_array_equal(got.read("tomo/c/volumes")["volume"].values, v)


def test_stream_plan_blocks_are_a_multiple_of_the_pyramid_factor():
    from ssbscope.ome import pyramid_factor
    from ssbscope.tomo.stream import plan_blocks

    f = pyramid_factor((2048, 2048, 2048))
    assert f == 8  # 2048 -> 1024 -> 512 -> 256
    free = plan_blocks(2048, 1500, 2048, memory_limit_bytes=6e9)
    al = plan_blocks(2048, 1500, 2048, memory_limit_bytes=6e9, align_rows=f)
    assert free.block_rows % f != 0 or free.block_rows == al.block_rows  # the test can fail
    assert al.block_rows % f == 0 and free.block_rows - f < al.block_rows <= free.block_rows
    # fewer rows than the factor: kept (the remainder is carried inside the graph)
    # (0.9 GB: 3-row blocks with the lean FBP; 1.2 GB now gives 11 rows)
    few = plan_blocks(2048, 1500, 2048, memory_limit_bytes=0.9e9)
    assert 1 < few.block_rows < f
    assert plan_blocks(2048, 1500, 2048, memory_limit_bytes=0.9e9,
                       align_rows=f).block_rows == few.block_rows


def test_stored_images_are_cube_chunked_along_the_producers_blocks(tmp_path):
    """Declared images are stored in cubes (ssbscope.ome.image_chunks), not z-slabs: a Dask
    volume made of 16-slice blocks keeps 16-slice chunks (a block never shares a chunk)
    split into 256 x 256 tiles (~128^3 voxels a chunk), each block task running once; a
    NumPy label series gets 128^3 cubes (cut by its extent), one time point a chunk; the pyramid levels are
    cubes too, and what is read back equals what was written."""
    import threading

    import dask
    import dask.array as da
    import zarr

    from ssbscope.ome import image_chunks, tile_px

    assert (tile_px(128), tile_px(64), tile_px(32), tile_px(16), tile_px(1)) == \
        (128, 128, 256, 256, 1024)
    rng = np.random.default_rng(0)
    nz, ny, nx, block = 32, 300, 270, 16
    v = rng.random((nz, ny, nx)).astype(np.float32)
    calls, lock = [], threading.Lock()

    def slab(z0, z1):
        with lock:
            calls.append(z0)
        return v[z0:z1]

    lazy = da.concatenate([da.from_delayed(dask.delayed(slab)(z0, min(nz, z0 + block)),
                                           shape=(min(nz, z0 + block) - z0, ny, nx),
                                           dtype=np.float32) for z0 in range(0, nz, block)])
    lab = (rng.random((2, 130, 20, 140)) * 4).astype(np.uint8)
    st = Store.create(tmp_path / "s.zarr")
    ds = xr.Dataset({"volume": (("z", "y", "x"), lazy, {"units": "1/pixel", "ome_image": "image"})},
                    coords=_space(nz, ny, nx))
    assert image_chunks(ds, "volume") == (16, 256, 256)
    st.write("tomo/a/volumes", ds)
    assert sorted(calls) == [0, 16]  # each block computed once, its tiles written from it
    g = zarr.open_group(str(st.path / "tomo/a/volumes"), mode="r")
    assert g["volume"].chunks == (16, 256, 256)
    assert g["s1/volume"].chunks == (16, 150, 135)
    np.testing.assert_array_equal(st.read("tomo/a/volumes")["volume"].values, v)
    ls = xr.Dataset({"labels": (("time_s", "z", "y", "x"), lab, {"units": "1", "ome_image": "label"})},
                    coords={"time_s": [0.0, 60.0], **_space(130, 20, 140)})
    st.write("tomo/a/labels", ls)
    g = zarr.open_group(str(st.path / "tomo/a/labels"), mode="r")
    assert g["labels"].chunks == (1, 128, 20, 128)
    got = st.read("tomo/a/labels")["labels"]
    assert tuple(c[0] for c in got.chunks) == (1, 128, 20, 128)  # read lazily in cubes
    np.testing.assert_array_equal(got.values, lab)


def test_scales_from_coordinates_are_stored_clean(tmp_path):
    """The coin CT voxel size 3.24 um through voxel-centre coordinates ((i + 0.5) * 3.24, whose
    differences are 3.240000000000009 in floating point) and the XCS-like mm coordinates
    (scaled by 1000) is stored as 3.24 (12 significant digits), at every pyramid level."""
    from ssbscope.ome import ome_metadata

    vs, n = 3.24, 200
    vds = xr.Dataset({"volume": (("z", "y", "x"), np.zeros((n, n, 6), np.float32),
                                 {"ome_image": "image", "units": "1/pixel"})},
                     coords={**{k: v for k, v in _space(n, n, 6, vs).items() if k != "y_um"},
                             "y_mm": ("y", (np.arange(n) + 0.5) * vs / 1000, {"units": "mm"})},
                     attrs={"voxel_size_um": vs})
    # the noise this guards against
    assert float(np.median(np.diff(vds["z_um"].values))) != vs
    assert float(np.median(np.diff(vds["y_mm"].values * 1000))) != vs
    st = Store.create(tmp_path / "s.zarr")
    st.write("tomo/coin/volumes", vds)
    ms = ome_metadata(st.path / "tomo/coin/volumes")["multiscales"][0]
    ct = [d["coordinateTransformations"] for d in ms["datasets"]]
    assert ct[0][0]["scale"] == [vs, vs, vs]
    assert ct[0][1]["translation"] == [vs / 2, vs / 2, vs / 2]
    assert ct[1][0]["scale"][1] == 6.48 and ct[1][1]["translation"][1] == 3.24
    for c in ct:
        for x in c[0]["scale"] + c[1]["translation"]:
            assert x == float(f"{x:.12g}")


def test_a_dask_label_is_streamed_into_its_image(tmp_path, monkeypatch):
    """A Dask-backed label series (as the chunked series' labels) is written into its
    volume's labels/ group as its blocks are computed: each block once, no level read back
    from disk; the levels equal every second voxel of the labels."""
    import threading

    import dask
    import dask.array as da

    nz, ny, nx, block = 40, 20, 18, 8
    lab = (np.random.default_rng(5).random((nz, ny, nx)) * 3).astype(np.uint8)
    calls, lock = [], threading.Lock()

    def slab(z0, z1):
        with lock:
            calls.append(z0)
        return lab[z0:z1]

    lazy = da.concatenate([da.from_delayed(dask.delayed(slab)(z0, z0 + block),
                                           shape=(block, ny, nx), dtype=np.uint8)
                           for z0 in range(0, nz, block)])
    st = Store.create(tmp_path / "s.zarr")
    st.write("tomo/c/volumes", xr.Dataset(
        {"volume": (("z", "y", "x"), lab.astype(np.float32), {"units": "1", "ome_image": "image"})},
        coords=_space(nz, ny, nx)))

    def no_read_back(*a, **k):
        raise AssertionError("a streamed label's level was read back from disk")

    with monkeypatch.context() as m:
        m.setattr(da, "from_zarr", no_read_back)
        st.write("tomo/c/labels", xr.Dataset(
            {"labels": (("z", "y", "x"), lazy, {"ome_image": "label", "ome_source": "../volumes"})},
            coords=_space(nz, ny, nx)))
    assert sorted(calls) == list(range(0, nz, block))
    node = _node(st.path / "tomo/c/volumes/labels/label")
    np.testing.assert_array_equal(np.asarray(node.data[1]), lab[::2, ::2, ::2])
    np.testing.assert_array_equal(st.read("tomo/c/labels")["labels"].values, lab)
    assert st.check() == []


def test_read_with_auto_chunks_keeps_the_string_state(store):
    """Store.read(chunks="auto") (or "auto" for some dimensions) opens a dataset with a
    variable-length string variable (``state``), which Dask cannot size: the numeric
    variables and the label images get Dask's chunks, the strings their disk chunks or the
    sizes given explicitly; the values are the ones written."""
    import dask
    import dask.array as da

    st = store.st
    with dask.config.set({"array.chunk-size": "4KiB"}):  # small: "auto" really splits
        got = st.read("tomo/cell/volumes", chunks="auto")
        by_dim = st.read("tomo/cell/volumes", chunks={"time_s": 1, "z": "auto"})
        lab = st.read("tomo/cell/labels", chunks={"time_s": 1, "z": "auto"})
    vol = got["volume"].data
    assert isinstance(vol, da.Array) and vol.npartitions > 2  # sized by Dask, not on disk
    assert max(np.prod([max(c) for c in vol.chunks]), 1) * 4 <= 4096
    np.testing.assert_array_equal(got["volume"].values, store.vol)
    assert list(got["state"].values) == ["pristine", "plated"]
    assert by_dim["state"].chunks == ((1, 1),)  # the explicit size applies to the strings
    assert by_dim["volume"].chunks[0] == (1, 1) and len(by_dim["volume"].chunks[1]) > 1
    assert list(by_dim["state"].values) == ["pristine", "plated"]
    assert lab["labels"].chunks[0] == (1, 1) and len(lab["labels"].chunks[1]) > 1
    np.testing.assert_array_equal(lab["labels"].values, store.lab)
    np.testing.assert_array_equal(lab["cell_mask"].values, store.lds["cell_mask"].values)


def test_label_images_ask_to_be_shown(store):
    """NGFF's image-label has colours, not visibility; the label image's omero channel is
    ``active``.  ome-zarr-py's Reader reads it: a label opened on its own path is visible;
    reached from its image, ome-zarr-py marks the nodes under labels/ hidden whatever the
    metadata (its own choice); napari-ome-zarr shows it (tests/core/test_ome_label_codes.py)."""
    pytest.importorskip("ome_zarr")
    from ome_zarr.io import parse_url
    from ome_zarr.reader import OMERO, Reader

    lpath = store.st.path / "tomo/cell/volumes/labels/phases"
    ome = json.loads((lpath / "zarr.json").read_text())["attributes"]["ome"]
    assert ome["omero"]["channels"][0]["active"] is True
    assert "window" not in ome["omero"]["channels"][0]  # a label layer has no contrast limits
    nodes = {n.zarr.path.rstrip("/"): n for n in Reader(parse_url(str(lpath)))()}
    first = nodes[str(lpath)]  # (its image comes first, hidden: ome-zarr-py's choice too)
    assert not nodes[str(store.st.path / "tomo/cell/volumes")].visible
    assert first.visible and first.metadata["visible"] == [True]
    assert first.first(OMERO).image_data["channels"][0]["active"] is True
    # the image itself (no omero): ome-zarr-py's defaults, shown
    img = _node(store.st.path / "tomo/cell/volumes")
    assert img.visible and "omero" not in json.loads(
        (store.st.path / "tomo/cell/volumes/zarr.json").read_text())["attributes"]["ome"]
