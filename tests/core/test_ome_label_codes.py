"""Label images that viewers agree on (issue 15, item 1): napari and ome-zarr-py draw label
value 0 as background, and phase 0 of a tomo segmentation is the darkest phase (Li, void).
A label declared with codes (``ome_label_stored``, as ``ssbscope.tomo.stages.series_datasets``
declares the phases) is stored as phase index + 1 with 0 only for the background voxels
outside the cell mask, named in ``image-label`` ``properties``; ``Store.read`` gives back the
phase index, also lazily and chunked like the volume.  The 2-D cell mask is a label of the
volumes too, broadcast along time and z: the volume's voxels, so that every viewer shows it
on every slice, whether or not it applies NGFF translations."""

import json

import numpy as np
import pytest
import xarray as xr

from ssbscope.errors import StoreError
from ssbscope.store import Store

VS = 2.5  # um
NT, NZ, NY, NX = 2, 10, 24, 18
PHASES = ["Li", "Li6PS5Cl", "NMC811"]


def _coords():
    return {"time_s": ("time_s", [0.0, 600.0], {"units": "s"}),
            "z_um": ("z", (np.arange(NZ) + 0.5) * VS), "y_um": ("y", (np.arange(NY) + 0.5) * VS),
            "x_um": ("x", (np.arange(NX) + 0.5) * VS)}


def _labels_ds(lab, cm):
    """As tomo/<series>/labels (ssbscope.tomo.stages.series_datasets)."""
    vals = [0, 1, 2, 255]
    return xr.Dataset(
        {"labels": (("time_s", "z", "y", "x"), lab,
                    {"ome_image": "label", "ome_source": "../volumes", "ome_label_name": "phases",
                     "label_values": vals, "label_names": PHASES + ["undeclared"],
                     "ome_label_stored": [1, 2, 3, 255], "ome_label_mask": "cell_mask",
                     "ome_label_background": 0, "ome_label_outside": "Li outside the cell"}),
         "cell_mask": (("y", "x"), cm, {"ome_image": "label", "ome_source": "../volumes",
                                        "label_values": [0, 1],
                                        "label_names": ["outside the cell", "cell"]})},
        coords=_coords(), attrs={"voxel_size_um": VS})


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    rng = np.random.default_rng(7)
    lab = rng.integers(0, 3, (NT, NZ, NY, NX)).astype(np.uint8)
    lab[:, -2:] = 255  # an undeclared steel plunger on top, inside and outside the cell
    cm = np.zeros((NY, NX), bool)
    cm[3:21, 2:16] = True
    st = Store.create(tmp_path_factory.mktemp("codes") / "s.zarr")
    st.write("tomo/c/volumes", xr.Dataset(
        {"volume": (("time_s", "z", "y", "x"), rng.random(lab.shape).astype(np.float32),
                    {"units": "1/pixel", "ome_image": "image"})},
        coords=_coords(), attrs={"voxel_size_um": VS}))
    st.write("tomo/c/labels", _labels_ds(lab, cm))
    return st, lab, cm


def _raw(st, name):
    import zarr

    return np.asarray(zarr.open_group(str(st.path / "tomo/c/volumes/labels" / name),
                                      mode="r")[name])


def test_phase_zero_is_stored_non_zero_and_read_back_as_phase_zero(store):
    st, lab, cm = store
    raw = _raw(st, "phases")
    inside = np.broadcast_to(cm, lab.shape)
    # inside the cell every voxel is phase index + 1 (undeclared stays 255): nothing is 0
    np.testing.assert_array_equal(raw[inside], np.where(lab[inside] == 255, 255, lab[inside] + 1))
    assert (raw[inside] != 0).all() and (lab[inside] == 0).sum() > 100
    # outside: phase 0 is the background (0); the other values keep their codes (lossless)
    out = ~inside
    np.testing.assert_array_equal(raw[out] == 0, lab[out] == 0)
    np.testing.assert_array_equal(raw[out][lab[out] != 0],
                                  np.where(lab[out] == 255, 255, lab[out] + 1)[lab[out] != 0])
    back = st.read("tomo/c/labels")
    np.testing.assert_array_equal(back["labels"].values, lab)
    assert back["labels"].dtype == np.uint8
    np.testing.assert_array_equal(back["cell_mask"].values, cm)
    assert back["cell_mask"].dims == ("y", "x") and back["cell_mask"].dtype == bool
    assert back["labels"].attrs["ome_label_stored"] == [1, 2, 3, 255]  # a rewrite stores it alike
    assert not any(k.startswith("ssbscope_") for k in back["labels"].attrs)
    assert st.check() == []


def test_image_label_names_every_stored_value(store):
    st, _, _ = store
    zj = st.path / "tomo/c/volumes/labels/phases/zarr.json"
    il = json.loads(zj.read_text())["attributes"]["ome"]["image-label"]
    props = {p["label-value"]: p for p in il["properties"]}
    assert props[0] == {"label-value": 0, "name": "Li outside the cell", "ssbscope-value": 0}
    assert [props[k]["name"] for k in (1, 2, 3, 255)] == PHASES + ["undeclared"]
    assert [props[k]["ssbscope-value"] for k in (1, 2, 3, 255)] == [0, 1, 2, 255]
    rgba = {c["label-value"]: c["rgba"] for c in il["colors"]}
    assert rgba[0][3] == 0 and all(rgba[k][3] == 255 for k in (1, 2, 3, 255))


def test_cell_mask_is_a_label_broadcast_over_the_series(store):
    """NGFF: a label's dimension is the image's or 1.  The 2-D mask is broadcast along time
    and z: the volume's shape, chunks, scale and translation at every level (so that no
    reader needs to place a length-1 voxel), stored in little space (constant along the
    broadcast axes), spec-valid, and read back as the 2-D mask it was."""
    pytest.importorskip("ome_zarr")
    from ome_zarr.io import parse_url
    from ome_zarr.reader import Label, Reader

    st, _, cm = store
    img = st.path / "tomo/c/volumes"
    nodes = {n.zarr.path.rstrip("/"): n for n in Reader(parse_url(str(img)))()}
    node, image = nodes[str(img / "labels" / "cell_mask")], nodes[str(img)]
    assert node.first(Label) is not None
    assert [d.shape for d in node.data] == [d.shape for d in image.data] == \
        [(NT, NZ, NY, NX), (NT, NZ // 2, NY // 2, NX // 2)]
    assert [d.chunksize for d in node.data] == [d.chunksize for d in image.data]
    assert node.metadata["coordinateTransformations"] == image.metadata["coordinateTransformations"]
    assert node.metadata["coordinateTransformations"][0] == [
        {"type": "scale", "scale": [600.0, VS, VS, VS]},
        {"type": "translation", "translation": [0.0, VS / 2, VS / 2, VS / 2]}]
    assert node.metadata["axes"] == image.metadata["axes"]
    want = np.broadcast_to(cm.astype(np.uint8), (NT, NZ, NY, NX))
    np.testing.assert_array_equal(np.asarray(node.data[0]), want)
    np.testing.assert_array_equal(np.asarray(node.data[1]), want[:, ::2, ::2, ::2])
    lvl0 = img / "labels" / "cell_mask" / "cell_mask"
    on_disk = sum(f.stat().st_size for f in lvl0.rglob("*") if f.is_file() and f.name != "zarr.json")
    assert 0 < on_disk < want.nbytes / 4, on_disk  # constant along t and z: compresses
    back = st.read("tomo/c/labels")["cell_mask"]
    assert back.dims == ("y", "x") and back.dtype == bool
    np.testing.assert_array_equal(back.values, cm)
    models = pytest.importorskip("ome_zarr_models.v05")
    import zarr

    models.Labels.from_zarr(zarr.open_group(str(img / "labels"), mode="r"))
    for n in ("phases", "cell_mask"):
        models.ImageLabel.from_zarr(zarr.open_group(str(img / "labels" / n), mode="r"))


def test_napari_shows_phase_zero_and_the_mask_on_every_slice(store):
    reader_mod = pytest.importorskip("napari_ome_zarr", reason="napari-ome-zarr not installed "
                                     "(pip install 'ssbscope[viewer]')")
    try:
        from napari.layers import Layer
    except Exception as e:  # noqa: BLE001 - no headless napari here
        pytest.skip(f"napari cannot be imported headless here: {e}")
    st, lab, cm = store
    path = str(st.path / "tomo/c/volumes")
    made = [Layer.create(d, kw, t) for d, kw, t in reader_mod.napari_get_reader(path)(path)]
    # the label layers are named "<label>: <long_name>" (their omero channel)
    layers = {la.name.split(":")[0].rsplit("/", 1)[-1]: la for la in made}
    ph = layers["phases"]
    assert ph.__class__.__name__ == "Labels"
    # shown when opened (omero channel active), the image too
    assert all(la.visible for la in made) and len(made) == 3
    # the volume, its phases and the (broadcast) mask in the same place, whatever napari
    # does with the NGFF translation (napari-ome-zarr 0.10 drops it, for all three alike)
    for la in made[1:]:
        np.testing.assert_allclose(la.scale, made[0].scale)
        np.testing.assert_allclose(la.translate, made[0].translate)
        np.testing.assert_allclose(la.affine.affine_matrix, made[0].affine.affine_matrix)
        assert la.data[0].shape == made[0].data[0].shape
    # a phase-0 voxel inside the cell: a non-zero value napari draws opaque
    t, z, y, x = np.argwhere((lab == 0) & cm)[0]
    v = int(np.asarray(ph.data[0])[t, z, y, x])
    assert v == 1
    assert ph.colormap.map(np.array([v]))[0][3] == pytest.approx(1.0)
    assert ph.colormap.map(np.array([0]))[0][3] == 0.0  # the background outside the cell
    names = dict(zip(ph.features["index"], ph.features["name"]))
    assert names[1] == "Li" and names[0] == "Li outside the cell"
    # in a (headless) viewer with the volume, the mask is drawn on every slice at every time
    from napari.components import ViewerModel

    viewer = ViewerModel()
    for la in layers.values():
        viewer.add_layer(la)
    m = layers["cell_mask"]
    drawn = []
    for t in (0.0, 600.0):
        for k in range(NZ):
            viewer.dims.point = (t, (k + 0.5) * VS, NY * VS / 2, NX * VS / 2)
            drawn.append(int(np.asarray(m._slice.image.raw).sum()))
    shown = np.asarray(m.data[m.data_level])[0, 0]  # the level the viewer draws
    assert drawn == [int(shown.sum())] * (2 * NZ) and shown.sum() > 0, drawn


def test_lazy_chunked_reads_of_labels_follow_the_volume(store):
    """Store.read(chunks=...) reaches the label groups: the labels come back Dask-backed in
    the chunks asked for (the volume's), decoded block by block, equal to the eager read."""
    import dask.array as da

    st, lab, cm = store
    ch = {"time_s": 1, "z": 5}
    vol = st.read("tomo/c/volumes", chunks=ch)["volume"]
    got = st.read("tomo/c/labels", chunks=ch)
    assert isinstance(got["labels"].data, da.Array)
    assert got["labels"].chunks == vol.chunks == ((1, 1), (5, 5), (NY,), (NX,))
    np.testing.assert_array_equal(got["labels"].isel(time_s=1, z=slice(5, 10)).values,
                                  lab[1, 5:10])
    np.testing.assert_array_equal(got["cell_mask"].values, cm)


def test_a_dask_label_with_codes_is_streamed(tmp_path):
    """A Dask-backed label series with codes and a mask (the chunked series' labels) is
    encoded block by block, each block computed once, and reads back as it was."""
    import threading

    import dask
    import dask.array as da

    rng = np.random.default_rng(8)
    lab = rng.integers(0, 3, (NT, NZ, NY, NX)).astype(np.uint8)
    cm = np.zeros((NY, NX), bool)
    cm[2:20, 4:14] = True
    calls, lock = [], threading.Lock()

    def slab(t, z0):
        with lock:
            calls.append((t, z0))
        return lab[t:t + 1, z0:z0 + 5]

    lazy = da.concatenate([da.concatenate([da.from_delayed(dask.delayed(slab)(t, z0),
                                                           shape=(1, 5, NY, NX), dtype=np.uint8)
                                           for z0 in (0, 5)], axis=1) for t in range(NT)])
    st = Store.create(tmp_path / "s.zarr")
    st.write("tomo/c/volumes", xr.Dataset(
        {"volume": (("time_s", "z", "y", "x"), lab.astype(np.float32),
                    {"units": "1", "ome_image": "image"})},
        coords=_coords(), attrs={"voxel_size_um": VS}))
    st.write("tomo/c/labels", _labels_ds(lazy, cm))
    assert sorted(calls) == [(t, z) for t in range(NT) for z in (0, 5)]
    np.testing.assert_array_equal(st.read("tomo/c/labels")["labels"].values, lab)
    raw = _raw(st, "phases")
    np.testing.assert_array_equal(raw[:, :, cm], lab[:, :, cm] + 1)
    np.testing.assert_array_equal(raw[:, :, ~cm], lab[:, :, ~cm] + (lab[:, :, ~cm] > 0))


def test_codes_that_would_lose_values_are_refused(store, tmp_path):
    st0, lab, cm = store
    st = Store.create(tmp_path / "s.zarr")
    st.write("tomo/c/volumes", st0.read("tomo/c/volumes").load())
    bad = lab.copy()
    bad[0, 0, 5, 5] = 3  # not in label_values, and 3 is the code of phase 2
    with pytest.raises(StoreError, match=r"\[3\].*not in label_values"):
        st.write("tomo/c/labels", _labels_ds(bad, cm))
    ds = _labels_ds(lab, cm)
    ds["labels"].attrs["ome_label_stored"] = [0, 1, 2, 255]  # 0 is the background's
    with pytest.raises(StoreError, match="codes must be 1"):
        st.write("tomo/c/labels", ds)
    ds = _labels_ds(lab, cm)
    ds["labels"].attrs["ome_label_mask"] = "thresholds"
    with pytest.raises(StoreError, match="ome_label_mask 'thresholds'"):
        st.write("tomo/c/labels", ds)
    assert "tomo/c/labels" not in st.names()
    assert not (st.path / "tomo/c/volumes/labels").exists()


def test_store_summary_lists_the_labels_as_the_dataset_reads_them(store):
    from ssbscope.store_repr import store_summary

    st, lab, cm = store
    row = {r["name"]: r for r in store_summary(st)}["tomo/c/labels"]
    v = {x["name"]: x for x in row["variables"]}
    assert (v["cell_mask"]["dims"], v["cell_mask"]["shape"], v["cell_mask"]["dtype"]) == \
        (("y", "x"), (NY, NX), "bool")
    assert (v["labels"]["dims"], v["labels"]["shape"]) == (("time_s", "z", "y", "x"), lab.shape)


def test_masks_of_one_image_get_the_colours_their_stage_chose(tmp_path):
    """Two 0/1 masks of one image (the neutron CT's Li gain and loss) would both be drawn in
    the first default colour; ``label_rgba`` gives each its own (and names its values)."""
    rng = np.random.default_rng(9)
    inc = rng.normal(0, 1, (NZ, NY, NX)).astype(np.float32)
    sp = {k: v for k, v in _coords().items() if k != "time_s"}
    st = Store.create(tmp_path / "s.zarr")
    st.write("neutron/ct", xr.Dataset(
        {"increment_1_cm": (("z", "y", "x"), inc, {"units": "1/cm", "ome_image": "image"}),
         "increase_mask": (("z", "y", "x"), inc > 1, {
             "ome_image": "label", "label_values": [0, 1], "label_names": ["no", "gained"],
             "label_rgba": [[0, 0, 0, 0], [44, 160, 44, 255]]}),
         "decrease_mask": (("z", "y", "x"), inc < -1, {
             "ome_image": "label", "label_values": [0, 1], "label_names": ["no", "lost"],
             "label_rgba": [[0, 0, 0, 0], [214, 39, 40, 255]]})},
        coords=sp, attrs={"voxel_size_um": VS}))
    il = {n: json.loads((st.path / "neutron/ct/labels" / n / "zarr.json").read_text())[
        "attributes"]["ome"]["image-label"] for n in ("increase_mask", "decrease_mask")}
    col = {n: {c["label-value"]: c["rgba"] for c in v["colors"]} for n, v in il.items()}
    assert col["increase_mask"][1] == [44, 160, 44, 255]
    assert col["decrease_mask"][1] == [214, 39, 40, 255]
    assert il["decrease_mask"]["properties"][1] == {"label-value": 1, "name": "lost"}
    np.testing.assert_array_equal(st.read("neutron/ct")["decrease_mask"].values, inc < -1)
