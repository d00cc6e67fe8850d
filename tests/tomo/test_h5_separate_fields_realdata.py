"""Real HDF5 projections with their flats and darks in separate HDF5 files (issue 14, item 4).

tests/data/realdata/tomo_h5/savu_i12_lfov (MANIFEST.md; DiamondLightSource/Savu, Apache-2.0):
Savu's large-field-of-view loader test data from Diamond beamline I12. Two PCO cameras
(``pc2``/``pco2`` and ``pc3``/``pco3``) view overlapping halves of the sample; for each camera
the projections are in one file (``tomo_data/pcN_projections.hdf``, ``/entry/data/data``,
19 x 32 x 64 float32) and the flats and darks in two others
(``dark_flat/pcoN_{flats,darks}_00000.hdf``, 5 frames each). The frames are binned averages of
the detector counts (multiples of 1/21). No file holds the rotation angles.

References, none from the reader: the arrays read with h5py; the two cameras' shared columns
(found here by correlation, 10 columns): the transmission computed with each camera's own flats
and darks agrees there, although the raw counts and the flats of the two cameras differ by ~4 %.
"""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pytest

from ssbscope.errors import FileFormatError, UnsupportedFormatError
from ssbscope.tomo import read_projections
from ssbscope.tomo.io import write_dxchange

LFOV = Path(__file__).resolve().parents[1] / "data" / "realdata" / "tomo_h5" / "savu_i12_lfov"
OVERLAP = 10  # camera 3's last 10 columns see what camera 2's first 10 columns see


def _files(cam: str):
    return (LFOV / "tomo_data" / f"pc{cam}_projections.hdf",
            LFOV / "dark_flat" / f"pco{cam}_flats_00000.hdf",
            LFOV / "dark_flat" / f"pco{cam}_darks_00000.hdf")


def _h5(path) -> np.ndarray:
    with h5py.File(path, "r") as h:
        return h["entry/data/data"][()]


def _read(cam: str, **kw):
    proj, flats, darks = _files(cam)
    return read_projections(proj, flats=flats, darks=darks, angles_deg=(0.0, 180.0), **kw)


@pytest.mark.parametrize("cam", ["2", "3"])
def test_projections_flats_and_darks_from_three_files_match_h5py(cam):
    proj, flats, darks = _files(cam)
    pd_ = _read(cam)
    assert pd_.format == "hdf5-projections"
    assert pd_.projections.shape == (19, 32, 64)
    assert pd_.flats.shape == (5, 32, 64) and pd_.darks.shape == (5, 32, 64)
    np.testing.assert_array_equal(np.asarray(pd_.projections), _h5(proj))
    np.testing.assert_array_equal(pd_.flats, _h5(flats))
    np.testing.assert_array_equal(pd_.darks, _h5(darks))
    assert pd_.metadata["data"] == "entry/data/data"
    assert pd_.metadata["flats_files"] == [str(flats)] and pd_.metadata["darks_files"] == [str(darks)]
    np.testing.assert_allclose(np.rad2deg(pd_.angles_rad[[0, 1, -1]]), [0.0, 10.0, 180.0])
    # a PCO detector: dark ~ 100 counts, open beam ~ 2e4, the sample in between
    assert 80 < np.median(pd_.darks) < 130 and 1e4 < np.median(pd_.flats) < 4e4
    assert np.median(pd_.darks) < np.median(np.asarray(pd_.projections)) < np.median(pd_.flats)


def test_each_cameras_own_flats_and_darks_make_the_shared_columns_agree():
    """The same strip of the sample seen by both cameras: raw counts differ by the cameras'
    different open-beam levels; the transmission T = (P - D) / (F - D) computed from each
    camera's separate flat and dark files agrees to < 1 % (median over the strip)."""
    def transmission(pd_):
        f, d = pd_.flats.astype(float).mean(0), pd_.darks.astype(float).mean(0)
        return (np.asarray(pd_.projections, float) - d) / (f - d)

    a, b = _read("3"), _read("2")
    raw = np.median(np.asarray(a.projections)[..., -OVERLAP:] / np.asarray(b.projections)[..., :OVERLAP])
    flat = np.median(a.flats[..., -OVERLAP:] / b.flats[..., :OVERLAP])
    ta, tb = transmission(a)[..., -OVERLAP:], transmission(b)[..., :OVERLAP]
    ratio = np.median(ta / tb)
    assert abs(raw - 1.0) > 0.03 and abs(flat - 1.0) > 0.03  # the cameras do differ
    assert abs(ratio - 1.0) < 0.01
    assert np.corrcoef(ta.ravel(), tb.ravel())[0, 1] > 0.98
    # the check can fail: camera 3 corrected with camera 2's flats and darks does not agree
    proj3 = _files("3")[0]
    wrong = read_projections(proj3, flats=_files("2")[1], darks=_files("2")[2], angles_deg=(0, 180))
    assert abs(np.median(transmission(wrong)[..., -OVERLAP:] / tb) - 1.0) > 0.5


def test_what_is_missing_is_named():
    proj, flats, darks = _files("2")
    # projections only, no flats/darks given: not Data Exchange, not NXtomo
    with pytest.raises(UnsupportedFormatError, match=r"pc2_projections\.hdf.*flats="):
        read_projections(proj, angles_deg=(0, 180))
    # no angle dataset in the file and none given
    with pytest.raises(FileFormatError, match=r"pc2_projections\.hdf: has no angle dataset.*angles_deg"):
        read_projections(proj, flats=flats, darks=darks)
    # a data_path the file does not have
    with pytest.raises(FileFormatError, match=r"has no dataset '/entry/data/nope'.*data_path"):
        read_projections(proj, flats=flats, darks=darks, angles_deg=(0, 180),
                         data_path="/entry/data/nope")
    # a dark frame of another detector (the 135 x 160 Savu TIFF test scan)
    other = LFOV.parent.parent / "tomo_tiff" / "savu_image_test" / "dark_00001.tiff"
    with pytest.raises(FileFormatError, match=r"dark_00001\.tiff: darks frame shape \(135, 160\) "
                       r"does not match the projections \(32, 64\)"):
        read_projections(proj, flats=flats, darks=other, angles_deg=(0, 180))


def test_gathered_into_one_data_exchange_file_as_the_pipeline_does(tmp_path):
    """The tomo stage gathers separate files into one Data Exchange file before the streamed
    reconstruction: the round trip keeps every array and the angles."""
    pd_ = _read("2")
    out = write_dxchange(pd_, tmp_path / "lfov2.h5")
    back = read_projections(out)
    assert back.format == "dxchange"
    np.testing.assert_array_equal(np.asarray(back.projections), np.asarray(pd_.projections))
    np.testing.assert_array_equal(back.flats, pd_.flats)
    np.testing.assert_array_equal(back.darks, pd_.darks)
    np.testing.assert_allclose(back.angles_rad, pd_.angles_rad)


def test_run_records_the_three_files_and_stores_the_scan(tmp_path):
    """`ssbscope run` on the projections file with its flat and dark files: every file is a
    raw input of the scan (sha256 computed here), and the scan is reconstructed and stored."""
    import hashlib
    import json

    from ssbscope.cli import main
    from ssbscope.store import Store

    proj, flats, darks = _files("2")
    y = tmp_path / "exp.yaml"
    y.write_text("name: i12 lfov camera 2\ninputs:\n  tomo:\n"
                 f"    - {{path: {proj}, flats: {flats}, darks: {darks}, "
                 "angle_range_deg: [0, 180], series: i12, label: pc2}\n")
    assert main(["run", str(y), "--out", str(tmp_path / "out"), "--quiet", "--no-report"]) == 0
    ds = Store.open(tmp_path / "out")["tomo/i12/scans/pc2"]
    assert ds.attrs["n_projections"] == 19
    v = ds["volume"].values
    assert v.shape == (32, 64, 64) and np.isfinite(v).all()
    inputs = {Path(i["path"]).name: i["sha256"] for i in json.loads(ds.attrs["provenance"])["inputs"]}
    assert inputs == {f.name: hashlib.sha256(f.read_bytes()).hexdigest() for f in (proj, flats, darks)}


# ---------------------------------------------------------------------------- fuzzing

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from ssbscope.fuzz import mutate, run_one, targets  # noqa: E402

FUZZ = settings(max_examples=30, deadline=5000, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
OPS = st.lists(st.tuples(st.integers(0, 6), st.integers(0, 1 << 24), st.integers(0, 1 << 16)),
               min_size=1, max_size=4)


_TARGET: list = []


def _target():
    if not _TARGET:  # building every fuzz target takes seconds: once per module
        _TARGET.append(targets()["tomo.hdf5_projections"])
    return _TARGET[0]


def _check(data: bytes, tmp):
    outcome, detail = run_one(_target(), data, tmp)
    assert outcome != "bug", detail


def test_fuzz_seed_is_read(tmp_path):
    assert [run_one(_target(), b, tmp_path)[0] for _, b in _target().seeds] == ["ok"]


@FUZZ
@given(k=st.integers(0, 1 << 20), ops=OPS)
def test_fuzz_mutated_real_projections_file(k, ops):
    import tempfile

    seeds = _target().seeds
    with tempfile.TemporaryDirectory() as d:
        _check(mutate(seeds[k % len(seeds)][1], ops), Path(d))


@FUZZ
@given(frac=st.floats(0.0, 1.0))
def test_fuzz_truncated_real_projections_file(frac):
    import tempfile

    b = _target().seeds[0][1]
    with tempfile.TemporaryDirectory() as d:
        _check(b[: int(frac * len(b))], Path(d))
