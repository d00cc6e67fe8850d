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
    lds = xr.Dataset({"labels": (("time_s", "z", "y", "x"), lab,
                                 {"ome_image": "label", "ome_source": "../volumes"}),
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
    assert st.ome_images() == ["tomo/cell/labels", "tomo/cell/maps", "tomo/cell/volumes"]
    node = _node(st.path / "tomo/cell/volumes")
    assert [a["name"] for a in node.metadata["axes"]] == ["t", "z", "y", "x"]
    assert [a.get("unit") for a in node.metadata["axes"]] == ["second"] + ["micrometer"] * 3
    ct = node.metadata["coordinateTransformations"]
    # level 0: scale = voxel size, translation = first voxel centre (the z_um/y_um/x_um coords)
    assert ct[0][0] == {"type": "scale", "scale": [1.0, VS, VS, VS]}
    assert ct[0][1]["translation"] == [0.0, VS / 2, VS / 2, VS / 2]
    # level 1: twice the voxel size; its voxel centres are the means of the 2x2x2 blocks'
    assert ct[1][0]["scale"] == [1.0, 2 * VS, 2 * VS, 2 * VS]
    assert ct[1][1]["translation"] == [0.0, VS, VS, VS]
    assert len(node.data) == 2
    np.testing.assert_array_equal(np.asarray(node.data[0]), store.vol)
    v = store.vol
    ref = v.reshape(2, 5, 2, 12, 2, 9, 2).mean(axis=(2, 4, 6))  # block means, independently
    np.testing.assert_allclose(np.asarray(node.data[1]), ref, rtol=1e-6)


def test_label_image_is_an_ngff_label_with_a_nearest_pyramid(store):
    pytest.importorskip("ome_zarr")
    from ome_zarr.reader import Label

    path = store.st.path / "tomo/cell/labels"
    node = _node(path)
    assert node.first(Label) is not None
    ome = json.loads((path / "zarr.json").read_text())["attributes"]["ome"]
    assert ome["version"] == "0.5"
    assert ome["image-label"]["source"] == {"image": "../volumes"}
    assert {c["label-value"] for c in ome["image-label"]["colors"]} <= {0, 1, 2}
    assert np.asarray(node.data[1]).dtype == np.uint8
    np.testing.assert_array_equal(np.asarray(node.data[1]), store.lab[:, ::2, ::2, ::2])


def test_map_with_a_channel_axis(store):
    pytest.importorskip("ome_zarr")
    node = _node(store.st.path / "tomo/cell/maps")
    assert [a["type"] for a in node.metadata["axes"]] == ["time", "channel", "space", "space"]
    assert node.metadata["coordinateTransformations"][0][0]["scale"] == [1.0, 1.0, VS, VS]
    assert np.asarray(node.data[1]).shape == (2, 2, 12, 9)


def test_store_read_is_unchanged(store):
    st = store.st
    got = st.read("tomo/cell/volumes").load()
    assert sorted(got.data_vars) == ["state", "volume"]
    assert "ome" not in got.attrs
    xr.testing.assert_identical(got.drop_attrs(), store.vds.drop_attrs())
    lab = st.read("tomo/cell/labels").load()
    assert sorted(lab.data_vars) == ["cell_mask", "labels"]
    np.testing.assert_array_equal(lab["labels"].values, store.lab)
    assert st.check() == []  # the manifests cover the pyramid arrays and OME metadata


def test_consolidated_metadata_and_no_bookkeeping_in_the_hierarchy(store):
    import zarr

    st = store.st
    root = json.loads((st.path / "zarr.json").read_text())
    assert "tomo/cell/volumes/volume_s1" in root["consolidated_metadata"]["metadata"]
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
    assert [a["name"] for a in node.metadata["axes"]] == ["t", "z", "y", "x"]
    assert node.metadata["coordinateTransformations"][0][0]["scale"] == [1.0, 1.7, 1.7, 1.7]
    np.testing.assert_array_equal(np.asarray(node.data[0])[0], data)


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
    np.testing.assert_allclose(img[0].scale, [1.0, VS, VS, VS])
    assert [tuple(s) for s in img[0].level_shapes] == [(2, 10, 24, 18), (2, 5, 12, 9)]
    lpath = str(store.st.path / "tomo/cell/labels")
    lab = [Layer.create(d, kw, t) for d, kw, t in reader_mod.napari_get_reader(lpath)(lpath)]
    assert any(la.__class__.__name__ == "Labels" and np.allclose(la.scale, [1.0, VS, VS, VS])
               for la in lab)
