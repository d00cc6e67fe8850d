"""Experiment store: atomic writes, units, provenance, reopening."""

import json
import os
import re

import numpy as np
import pytest
import xarray as xr

import ssbscope
from ssbscope.errors import StoreError
from ssbscope.store import Store, provenance_record, sha256_file, units_from_name


def _ds(n=5, seed=0):
    rng = np.random.default_rng(seed)
    return xr.Dataset({"voltage_V": ("time_s", rng.normal(3.7, 0.1, n)),
                       "cycle": ("time_s", np.arange(n) // 2)},
                      coords={"time_s": np.arange(n, dtype=float) * 10})


def test_write_read_roundtrip_with_units_and_provenance(tmp_path):
    st = Store.create(tmp_path / "s.zarr")
    raw = tmp_path / "raw.txt"
    raw.write_text("data")
    st.write("echem/timeseries", _ds(), provenance=provenance_record(inputs=[raw], parameters={"a": 1}))
    st2 = ssbscope.open(tmp_path / "s.zarr")
    ds = st2["echem/timeseries"]
    xr.testing.assert_allclose(ds.load().drop_attrs(), _ds().drop_attrs())
    assert ds.voltage_V.attrs["units"] == "V"
    assert ds.time_s.attrs["units"] == "s"
    prov = st2.provenance("echem/timeseries")
    assert prov["inputs"][0]["sha256"] == sha256_file(raw)
    assert prov["parameters"] == {"a": 1}
    assert prov["ssbscope_version"] == ssbscope.__version__
    assert prov["created_utc"].endswith("+00:00")
    assert st2.names() == ["echem/timeseries"]


def test_float_variable_without_units_is_refused(tmp_path):
    st = Store.create(tmp_path / "s.zarr")
    ds = xr.Dataset({"mystery": ("x", np.ones(3))})
    with pytest.raises(StoreError, match="mystery.*units"):
        st.write("a", ds)
    assert st.names() == []


def test_failed_write_leaves_nothing(tmp_path, monkeypatch):
    st = Store.create(tmp_path / "s.zarr")
    st.write("a", _ds(seed=1))

    def boom(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(xr.Dataset, "to_zarr", boom)
    with pytest.raises(StoreError, match="writing dataset 'a' failed"):
        st.write("a", _ds(seed=2))
    monkeypatch.undo()
    # the old dataset is intact, no scratch left behind
    xr.testing.assert_allclose(st["a"].load().drop_attrs(), _ds(seed=1).drop_attrs())
    assert list((tmp_path / "s.zarr" / ".ssbscope" / "tmp").iterdir()) == []


def test_half_written_scratch_is_not_a_dataset(tmp_path):
    st = Store.create(tmp_path / "s.zarr")
    # simulate a crash mid-write: the scratch copy exists, the rename never happened
    _ds().to_zarr(tmp_path / "s.zarr" / ".ssbscope" / "tmp" / "deadbeef", zarr_format=3, consolidated=False)
    assert st.names() == []
    with pytest.raises(StoreError, match="no dataset 'a'"):
        st["a"]
    st.cleanup_tmp()  # no writer pid in the name: only removed by the holder of the lock
    assert [p.name for p in (tmp_path / "s.zarr" / ".ssbscope" / "tmp").iterdir()] == ["deadbeef"]
    with st.lock():
        st.cleanup_tmp()
    assert list((tmp_path / "s.zarr" / ".ssbscope" / "tmp").iterdir()) == []


def test_cleanup_removes_only_scratch_of_dead_processes(tmp_path):
    """Scratch names carry the writer's pid; clean-up never deletes a live writer's write."""
    import subprocess
    import sys

    st = Store.create(tmp_path / "s.zarr")
    tmp = tmp_path / "s.zarr" / ".ssbscope" / "tmp"
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    live = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        for pid in (dead.pid, live.pid, os.getpid()):
            (tmp / f"{pid}-{'ab' * 16}").mkdir()
        with st.lock():
            st.cleanup_tmp()
        left = sorted(int(p.name.split("-")[0]) for p in tmp.iterdir())
        assert left == sorted([live.pid, os.getpid()])
    finally:
        live.kill()
        live.wait()


def test_same_data_same_bytes(tmp_path):
    for name in ("one", "two"):
        st = Store.create(tmp_path / f"{name}.zarr")
        st.write("x/y", _ds(100, seed=3))
    for root, _d, files in os.walk(tmp_path / "one.zarr" / "x" / "y"):
        for f in files:
            if f == "zarr.json":
                continue
            a = os.path.join(root, f)
            b = a.replace("one.zarr", "two.zarr")
            assert open(a, "rb").read() == open(b, "rb").read()


@pytest.mark.parametrize("bad", ["", "a//b", "../x", "a b", "/abs"])
def test_bad_names(tmp_path, bad):
    st = Store.create(tmp_path / "s.zarr")
    with pytest.raises(StoreError, match="dataset name"):
        st.write(bad, _ds())


def test_open_errors(tmp_path):
    with pytest.raises(StoreError, match="no such store"):
        ssbscope.open(tmp_path / "missing.zarr")
    (tmp_path / "plain").mkdir()
    (tmp_path / "plain" / "file.txt").write_text("x")
    with pytest.raises(StoreError, match="not an ssbscope store"):
        ssbscope.open(tmp_path / "plain")
    with pytest.raises(StoreError, match="not an ssbscope store"):
        Store.create(tmp_path / "plain")


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write into read-only directories")
def test_unwritable_output(tmp_path):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    with pytest.raises(StoreError, match="cannot write"):
        Store.create(ro / "s.zarr")


def test_unwritable_output_path_is_a_file(tmp_path):
    f = tmp_path / "afile"
    f.write_text("x")
    with pytest.raises(StoreError, match="cannot write"):
        Store.create(f / "s.zarr")


def test_units_from_name():
    assert units_from_name("voxel_size_um") == "um"
    assert units_from_name("current_ma_cm2") == "mA/cm^2"
    assert units_from_name("e_incident_kev") == "keV"
    assert units_from_name("time_s") == "s"
    assert units_from_name("label") is None


def test_store_attrs(tmp_path):
    st = Store.create(tmp_path / "s.zarr", attrs={"experiment": {"name": "x"}})
    st.update_attrs({"note": "y"})
    a = Store.open(tmp_path / "s.zarr").attrs
    assert a["experiment"] == {"name": "x"} and a["note"] == "y"
    assert json.loads((tmp_path / "s.zarr" / "zarr.json").read_text())["node_type"] == "group"


def test_read_and_in_look_at_the_dataset_alone_and_names_skip_chunks(tmp_path, monkeypatch):
    """``read`` and ``in`` open the dataset's own zarr.json (they used to list the whole store,
    chunk files included, on every call); ``names`` keeps its order (a dataset's sub-datasets
    before it) and finds datasets beside arrays with many chunks."""
    st = Store.create(tmp_path / "s.zarr")
    st.write("a/b", xr.Dataset({"v_um": ("x", np.arange(3.0))}))
    st.write("a/b/c", xr.Dataset({"w_um": ("x", np.arange(2.0))}))
    st.write("vol", xr.Dataset({"v_um": (("z", "y"), np.zeros((64, 64)))}).chunk({"z": 4, "y": 4}))
    assert st.names() == ["a/b/c", "a/b", "vol"]
    assert sum(1 for _ in (st.path / "vol").rglob("*")) > 256  # the chunks names() no longer enters
    monkeypatch.setattr(Store, "names", lambda self: pytest.fail("the store was listed"))
    assert "a/b" in st and "a/b/c" in st and "a" not in st and "a/x" not in st and "../a" not in st
    np.testing.assert_array_equal(st.read("a/b")["v_um"].values, np.arange(3.0))
    assert st.provenance("a/b/c") == {}


def test_paper_ids_in_attributes_are_stored_as_citations(tmp_path):
    """A stage's ``paper`` note reaches users (Jupyter, napari, exports) as "authors year",
    never as the file id of the project's copy of the paper; provenance is kept as recorded."""
    st = Store.create(tmp_path / "s.zarr")
    ds = xr.Dataset({"emf": ("state", np.ones(2), {"units": "1", "method": "Eqs. 3-5 of 000_290f30815ae66793"})},
                    attrs={"paper": "002_3ee4edf529433f9c", "note": "frame_00000.fits"})
    st.write("a/b", ds)
    back = st.read("a/b")
    assert back.attrs["paper"] == "Cao et al. 2023"
    assert back["emf"].attrs["method"] == "Eqs. 3-5 of Huang et al. 2024"
    assert back.attrs["note"] == "frame_00000.fits"
    assert ds.attrs["paper"] == "002_3ee4edf529433f9c"  # the caller's dataset is not modified


def test_paper_ids_in_store_level_attributes_are_stored_as_citations(tmp_path):
    """The store's own attributes (the twin's truth.json kept for the report: the demo's root
    zarr.json held ``"paper": "000_290f30815ae66793"``) cite papers as "authors year" too."""
    truth = {"compton": {"paper": "000_290f30815ae66793", "states": ["pristine"],
                         "n_photons": 160000, "notes": ["Fig. 2 of 002_3ee4edf529433f9c"]}}
    st = Store.create(tmp_path / "s.zarr", attrs={"truth": truth})
    st.update_attrs({"experiment": {"description": "as in 003_103f2bf5a3479ade"}})
    raw = (st.path / "zarr.json").read_text()
    assert not re.search(r"\d{3}_[0-9a-f]{16}", raw), raw
    a = Store.open(st.path).attrs
    assert a["truth"]["compton"] == {"paper": "Huang et al. 2024", "states": ["pristine"],
                                     "n_photons": 160000, "notes": ["Fig. 2 of Cao et al. 2023"]}
    assert a["experiment"]["description"] == "as in Zhang et al. 2024"
    assert truth["compton"]["paper"] == "000_290f30815ae66793"  # the caller's dict is kept


def test_consolidated_metadata_text_is_the_plain_indented_dump(tmp_path):
    """The root zarr.json after each write is ``json.dumps(..., indent=2, sort_keys=True)`` of
    its content (the entries' text is cached between writes, store._consolidated_text), and a
    rewritten dataset's entries are its new zarr.json files, also where only a value's JSON
    type changes (1 -> 1.0 -> true: equal in Python, not in the file)."""
    st = Store.create(tmp_path / "s.zarr")
    root = tmp_path / "s.zarr" / "zarr.json"

    def check(name, text_too=True):
        text = root.read_text(encoding="utf-8")
        meta = json.loads(text)
        if text_too:  # (the first write: Zarr's own consolidation, its own key order)
            assert text == json.dumps(meta, indent=2, sort_keys=True)
        md = meta["consolidated_metadata"]["metadata"]
        d = tmp_path / "s.zarr" / name
        for zj in d.rglob("zarr.json"):
            node = json.loads(zj.read_text(encoding="utf-8"))
            if node.get("node_type") == "group":
                node["consolidated_metadata"] = {"kind": "inline", "must_understand": False,
                                                 "metadata": {}}
            assert md[zj.parent.relative_to(tmp_path / "s.zarr").as_posix()] == node
        return md

    st.write("echem/a", _ds())
    check("echem/a", text_too=False)
    st.write("echem/b", _ds(7, 1))
    check("echem/b")
    for v in (1, 1.0, True, -0.0, 0.0, float("nan")):
        ds = _ds()
        ds.attrs["flag"] = v
        st.write("echem/a", ds)
        md = check("echem/a")
        got = md["echem/a"]["attributes"]["flag"]
        assert type(got) is type(v) and str(got) == str(v), (got, v)
    assert "echem/b" in check("echem/b")
