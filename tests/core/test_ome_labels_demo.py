"""The demo's label images are NGFF labels of the images they were computed from (issue 15,
item 1): ome-zarr-py's ``Reader``, started on a volume of the shared ``tiny_demo`` store
(``ssbscope demo --size tiny``), finds its labels with the volume's axes, physical scale and
pyramid levels; napari's reader (extra ``viewer``) opens them with the volume, headless; and
``Store.read`` still returns each label variable in its own dataset.  The phases are stored
as phase index + 1 (0: phase 0 outside the cell), so that napari shows phase 0; the cell mask
is a label of the volumes too (broadcast along time and z), and both open visible in napari."""

import json

import numpy as np
import pytest


@pytest.fixture(scope="module")
def st(tiny_demo):
    from ssbscope.store import Store

    return Store.open(tiny_demo / "store.zarr")


def _nodes(path):
    from ome_zarr.io import parse_url
    from ome_zarr.reader import Reader

    return {n.zarr.path.rstrip("/"): n for n in Reader(parse_url(str(path)))()}


def test_tomo_labels_open_with_their_volume_at_the_voxel_size(st):
    pytest.importorskip("ome_zarr")
    from ome_zarr.reader import Label

    series = sorted(n.split("/")[1] for n in st.names()
                    if n.startswith("tomo/") and n.endswith("/labels"))
    assert "anode_free" in series and len(series) >= 2
    for s in series:
        img = st.path / "tomo" / s / "volumes"
        nodes = _nodes(img)
        image, label = nodes[str(img)], nodes[str(img / "labels" / "phases")]
        assert label.first(Label) is not None, s
        vs = float(st.read(f"tomo/{s}/volumes").attrs["voxel_size_um"])
        ct = label.metadata["coordinateTransformations"]
        assert ct == image.metadata["coordinateTransformations"], s
        assert ct[0][0]["scale"][1:] == pytest.approx([vs] * 3, rel=1e-12), s
        assert [a.get("unit") for a in label.metadata["axes"]][1:] == ["micrometer"] * 3
        assert [d.shape for d in label.data] == [d.shape for d in image.data], s
        lab = st.read(f"tomo/{s}/labels")
        assert lab["labels"].dims == ("time_s", "z", "y", "x")
        got = np.asarray(label.data[0])
        assert got.dtype == np.uint8
        # stored as phase index + 1 (undeclared: 255), 0 only for phase 0 outside the cell,
        # so that viewers (0: background) show phase 0; Store.read gives the phase index
        L, cm = lab["labels"].values, lab["cell_mask"].values
        want = np.where(L == 255, 255, L + 1).astype(np.uint8)
        want[(L == 0) & ~cm] = 0
        np.testing.assert_array_equal(got, want)
        assert (L[:, :, cm] == 0).any() and (got[:, :, cm] != 0).all(), s
        # level 1: every second voxel (an odd extent loses its last: 159 slices -> 79)
        every2 = (slice(None),) + tuple(slice(0, n // 2 * 2, 2) for n in got.shape[1:])
        np.testing.assert_array_equal(np.asarray(label.data[1]), got[every2])
        # the phases named as the dataset names them (labels index into phases)
        phases = lab.attrs["phases"]
        phases = phases if isinstance(phases, list) else json.loads(phases)
        props = label.metadata["properties"]
        assert [props[k + 1]["name"] for k in range(len(phases))] == list(phases)
        assert [props[k + 1]["ssbscope-value"] for k in range(len(phases))] == \
            list(range(len(phases)))
        # the cell mask: a label of the volumes too (broadcast along time and z)
        mask = nodes[str(img / "labels" / "cell_mask")]
        assert mask.first(Label) is not None
        assert mask.metadata["coordinateTransformations"] == ct, s
        m0 = np.asarray(mask.data[0])
        assert m0.shape == got.shape, s
        np.testing.assert_array_equal(m0[-1, -1], cm.astype(np.uint8))
        assert (m0 == m0[:1, :1]).all(), s
        assert len(mask.data) == len(image.data), s


def test_neutron_ct_masks_are_labels_of_the_increment(st):
    pytest.importorskip("ome_zarr")
    from ome_zarr.reader import Label

    img = st.path / "neutron" / "ct"
    nodes = _nodes(img)
    ct = st.read("neutron/ct")
    vs = float(ct.attrs["voxel_size_um"])
    for v in ("increase_mask", "decrease_mask"):
        node = nodes[str(img / "labels" / v)]
        assert node.first(Label) is not None
        assert node.metadata["coordinateTransformations"][0][0]["scale"] == pytest.approx([vs] * 3)
        assert ct[v].dtype == bool  # read back as the mask it was
        np.testing.assert_array_equal(np.asarray(node.data[0]), ct[v].values.astype(np.uint8))


def test_napari_opens_the_volume_with_its_labels(st):
    reader_mod = pytest.importorskip("napari_ome_zarr", reason="napari-ome-zarr not installed "
                                     "(pip install 'ssbscope[viewer]')")
    try:
        from napari.layers import Layer
    except Exception as e:  # noqa: BLE001 - no headless napari here
        pytest.skip(f"napari cannot be imported headless here: {e}")
    path = str(st.path / "tomo" / "anode_free" / "volumes")
    layers = [Layer.create(d, kw, t) for d, kw, t in reader_mod.napari_get_reader(path)(path)]
    kinds = sorted(la.__class__.__name__ for la in layers)
    assert kinds == ["Image", "Labels", "Labels"], kinds  # the volume, its phases, the cell
    vs = float(st.read("tomo/anode_free/volumes").attrs["voxel_size_um"])
    for la in layers:
        assert la.multiscale
        np.testing.assert_allclose(la.scale[1:], [vs] * 3)  # the cell mask too (broadcast)
        assert la.visible, la.name  # the labels too: their omero channel is active
    # phase 0 (the darkest: Li) inside the cell is a non-zero label napari draws opaque
    ph = [la for la in layers if la.name.split(":")[0].endswith("phases")][0]
    lab = st.read("tomo/anode_free/labels")
    L, cm = lab["labels"].values, lab["cell_mask"].values
    t, z, y, x = np.argwhere((L == 0) & cm)[0]
    v = int(np.asarray(ph.data[0])[t, z, y, x])
    assert v != 0
    assert ph.colormap.map(np.array([v]))[0][3] == pytest.approx(1.0)
    phases = lab.attrs["phases"]
    phases = phases if isinstance(phases, list) else json.loads(phases)
    assert dict(zip(ph.features["index"], ph.features["name"]))[v] == phases[0]


def test_ome_zarr_models_validates_every_image_group_of_the_demo(st):
    """NGFF 0.5 (ome-zarr-models): every image group of the demo store (with its labels group
    and label images) is spec-valid, every level's Zarr dimension_names are the axes' names
    (the dataset's dimensions), and the image's dataset has level 0 only."""
    import zarr

    models = pytest.importorskip("ome_zarr_models.v05")
    images = st.ome_images()
    assert any(n.startswith("tomo/") for n in images) and "neutron/ct" in images
    for name in images:
        path = st.path / name
        g = zarr.open_group(str(path), mode="r")
        ome = g.attrs["ome"]
        (models.ImageLabel if "image-label" in ome else models.Image).from_zarr(g)
        groups = [g]
        if (path / "labels" / "zarr.json").is_file():
            lg = zarr.open_group(str(path / "labels"), mode="r")
            models.Labels.from_zarr(lg)
            for ln in lg.attrs["ome"]["labels"]:
                groups.append(zarr.open_group(str(path / "labels" / ln), mode="r"))
                models.ImageLabel.from_zarr(groups[-1])
        for gg in groups:
            for ms in gg.attrs["ome"]["multiscales"]:
                names = tuple(a["name"] for a in ms["axes"])
                assert len(ms["datasets"]) >= 2, (name, ms["name"])
                for d in ms["datasets"]:
                    assert gg[d["path"]].metadata.dimension_names == names, (name, d["path"])
        ds = st.read(name)
        levels = {d["path"] for ms in ome["multiscales"] for d in ms["datasets"][1:]}
        assert not levels & set(map(str, ds.variables)), name
        for ms in ome["multiscales"]:
            assert ds[ms["name"]].dims == tuple(a["name"] for a in ms["axes"]), name
