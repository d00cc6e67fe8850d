"""FITS/TIFF series readers: timestamps, headers, real time-of-flight radiographs."""

import os

import numpy as np
import pytest

from ssbscope.errors import (
    DataQualityError,
    FileFormatError,
    ParameterError,
    UnsupportedFormatError,
)
from ssbscope.neutron import (
    read_series,
    read_tof_spectra,
    write_fits_series,
    write_tiff_series,
)
from ssbscope.testing import realdata_dir

REALDATA = realdata_dir()
NEUTRON = REALDATA / "neutron"


@pytest.fixture
def frames():
    rng = np.random.default_rng(0)
    return rng.integers(0, 60000, size=(5, 6, 7)).astype(np.uint16), np.array([5.0, 15.0, 25.0, 35.0, 45.0])


@pytest.mark.parametrize("writer", [write_fits_series, write_tiff_series])
def test_round_trip_with_header_times_and_mtimes(tmp_path, frames, writer):
    imgs, t = frames
    paths = writer(tmp_path, imgs, t, exposure_s=10.0)
    s = read_series(tmp_path)
    np.testing.assert_array_equal(s.load(), imgs)
    np.testing.assert_allclose(s.time_s, t)
    assert s.metadata["EXPTIME"].tolist() == [10.0] * 5
    sm = read_series(paths, time_source="mtime")
    np.testing.assert_allclose(sm.time_s, t - t[0], atol=1e-3)
    iso = read_series(tmp_path, time_key="DATE-OBS")
    np.testing.assert_allclose(iso.time_s, t - t[0], atol=1e-5)
    si = read_series(tmp_path, time_source="interval", frame_interval_s=10.0, t0=5.0)
    np.testing.assert_allclose(si.time_s, t)
    assert s.to_xarray().dims == ("time_s", "y", "x")


def test_twin_series_written_and_read_back(tmp_path, twin):
    from ssbscope.twin.neutron import simulate_radiography, write_series

    small = simulate_radiography(n_frames=6, shape_yx=(32, 96))
    out = write_series(small, tmp_path, fmt="fits")
    s = read_series(out["sample"])
    np.testing.assert_array_equal(s.load(), small.images)
    np.testing.assert_allclose(s.time_s, small.time_s)
    ob = read_series(tmp_path / "open_beam").load()
    np.testing.assert_array_equal(ob, small.open_beam)
    out_t = write_series(small, tmp_path / "tiff", fmt="tiff")
    np.testing.assert_array_equal(read_series(out_t["dark"]).load(), small.dark)


def test_missing_time_keyword_is_a_clear_error(tmp_path, frames):
    from astropy.io import fits

    fits.PrimaryHDU(frames[0][0]).writeto(tmp_path / "a.fits")
    with pytest.raises(FileFormatError, match="a.fits: has no time keyword 'TIME_S'.*frame_interval_s"):
        read_series(tmp_path / "a.fits")
    with pytest.raises(ParameterError, match="frame_interval_s"):
        read_series(tmp_path / "a.fits", time_source="interval")


def test_non_monotonic_timestamps_are_refused(tmp_path, frames):
    imgs, t = frames
    write_fits_series(tmp_path, imgs, t[[0, 1, 3, 2, 4]])
    with pytest.raises(DataQualityError, match="not strictly increasing"):
        read_series(tmp_path)


def test_frames_of_another_shape_are_refused(tmp_path, frames):
    imgs, t = frames
    write_fits_series(tmp_path, imgs[:2], t[:2], prefix="a")
    write_fits_series(tmp_path, imgs[:2, :3], t[2:4], prefix="b")
    with pytest.raises(FileFormatError, match="frame shape"):
        read_series(tmp_path)


def test_unsupported_and_missing_files(tmp_path):
    (tmp_path / "x.png").write_bytes(b"\x89PNG")
    with pytest.raises(UnsupportedFormatError, match="neither FITS"):
        read_series(tmp_path / "x.png")
    with pytest.raises(FileFormatError, match="does not exist"):
        read_series([tmp_path / "nope.fits"])
    (tmp_path / "broken.fits").write_bytes(b"SIMPLE  = T" + b" " * 50)
    with pytest.raises(FileFormatError, match="broken.fits"):
        read_series(tmp_path / "broken.fits", time_source="interval", frame_interval_s=1.0)
    # a TIFF header with no image (pages): an error naming the file, not an IndexError
    (tmp_path / "empty.tif").write_bytes(b"II*\x00" + bytes(8))
    with pytest.raises(FileFormatError, match=r"empty\.tif: is a TIFF file with no image"):
        read_series(tmp_path / "empty.tif", time_source="interval", frame_interval_s=1.0)
    (tmp_path / "cut.tif").write_bytes(b"II*\x00\x08\x00\x00\x00\x05\x00")
    with pytest.raises(FileFormatError, match=r"cut\.tif: "):
        read_series(tmp_path / "cut.tif", time_source="interval", frame_interval_s=1.0)


@pytest.mark.skipif(not NEUTRON.is_dir(), reason="shared/realdata/neutron not present")
def test_real_tof_fits_radiographs_read_with_headers():
    files = sorted(NEUTRON.glob("*.fits"))
    assert len(files) == 3
    with pytest.raises(FileFormatError, match="no time keyword"):
        read_series(files)
    s = read_series(files, time_source="header", time_key="TOF")
    data = s.load()
    assert data.shape == (3, 512, 512) and data.dtype == np.float32
    md = s.metadata
    for key in ("TOF", "TIMEBIN", "N_COUNTS", "N_TRIGS", "SHUTTER_N"):
        assert key in md.columns
    # the header's total counts is the image sum (independent check of the pixel data)
    np.testing.assert_allclose(data.reshape(3, -1).sum(axis=1, dtype=np.float64), md["N_COUNTS"], rtol=1e-6)
    # consecutive TOF bins one TIMEBIN apart
    np.testing.assert_allclose(np.diff(md["TOF"]), md["TIMEBIN"].iloc[0], rtol=1e-3)
    np.testing.assert_allclose(s.time_s, md["TOF"])
    assert all(os.access(f, os.R_OK) for f in files)


@pytest.mark.skipif(not NEUTRON.is_dir(), reason="shared/realdata/neutron not present")
def test_real_tof_spectra_file():
    df = read_tof_spectra(NEUTRON / "ibeatles_Image019_Spectra.txt")
    assert list(df.columns) == ["tof_s", "counts"] and len(df) == 10
    assert df["tof_s"].is_monotonic_increasing and (df["counts"] > 0).all()


def test_multipage_tiff_with_per_page_times(tmp_path, frames):
    import json

    import tifffile

    imgs, t = frames
    tifffile.imwrite(tmp_path / "stack.tif", imgs, description=json.dumps({"TIME_S": t.tolist()}))
    s = read_series(tmp_path / "stack.tif")
    np.testing.assert_array_equal(s.load(), imgs)
    np.testing.assert_allclose(s.time_s, t)
    with pytest.raises(ParameterError, match="multi-page TIFF has one mtime"):
        read_series(tmp_path / "stack.tif", time_source="mtime")


@pytest.mark.parametrize("writer", [write_fits_series, write_tiff_series])
def test_frame_with_non_finite_counts_is_refused(tmp_path, writer):
    """Reproduction (issue 14): a FITS frame of -inf counts was accepted.  Refused (lazily, when
    the frame is read) naming the file."""
    imgs = np.full((3, 4, 5), 100.0, np.float32)
    imgs[1, 2, 3] = -np.inf
    writer(tmp_path, imgs, np.array([0.0, 10.0, 20.0]))
    s = read_series(tmp_path)
    with pytest.raises(DataQualityError, match=r"1 pixel\(s\) with infinite counts"):
        s.load()
    imgs[1, 2, 3] = np.nan           # NaN flags a pixel (saturated, dead): kept for the analysis
    writer(tmp_path / "n", imgs, np.array([0.0, 10.0, 20.0]))
    assert np.isnan(read_series(tmp_path / "n").load()[1, 2, 3])


@pytest.mark.parametrize("cut", ["9.0e-05\t", "9.0e-0", "9.0e-05\t4808.", "9.0e-05\t4808e"])
def test_tof_spectra_cut_last_row_is_dropped_with_a_warning(tmp_path, cut):
    """Issue 14: a ``*_Spectra.txt`` still being written ends in a row cut mid-field.  The row is
    dropped and the warning recorded (the rule every echem table reader uses); complete rows are
    read as written, and a complete last row without a line end is kept."""
    rows = "".join(f"{1.0e-05 * (k + 1):.1e}\t{4800 + k}\n" for k in range(8))
    f = tmp_path / "Image_Spectra.txt"
    f.write_text(rows + cut)
    df = read_tof_spectra(f)
    assert len(df) == 8 and df["counts"].tolist() == [4800 + k for k in range(8)]
    assert len(df.attrs["warnings"]) == 1 and "dropped the last data row" in df.attrs["warnings"][0]
    f.write_text(rows + "9.0e-05\t4808")  # complete, no line end: kept
    df = read_tof_spectra(f)
    assert len(df) == 9 and df["counts"].iloc[-1] == 4808 and df.attrs["warnings"] == []


@pytest.mark.parametrize("cut", ["179.", "-", "12", "12,"])
def test_angles_file_cut_last_line_is_dropped_with_a_warning(tmp_path, cut):
    """Issue 14: an angles file cut mid-number (``179.`` of ``179.5``, a sign alone, an index
    without its angle) lost its last angle silently or read a wrong one.  Dropped, warned."""
    from ssbscope.tomo.io import read_angles_file

    two_cols = cut.startswith("12")
    body = "".join((f"{k},{k * 1.5:.1f}\n" if two_cols else f"{k * 1.5:.1f}\n") for k in range(12))
    f = tmp_path / "angles.txt"
    f.write_text("# angle (deg)\n" + body + cut)
    w: list = []
    a = read_angles_file(f, warnings=w)
    np.testing.assert_allclose(a, np.deg2rad(np.arange(12) * 1.5), rtol=0, atol=1e-12)
    assert len(w) == 1 and "dropped the last data row" in w[0]
    f.write_text("# angle (deg)\n" + body + ("12,18.0" if two_cols else "18.0"))  # complete: kept
    w = []
    a = read_angles_file(f, warnings=w)
    assert a.size == 13 and a[-1] == pytest.approx(np.deg2rad(18.0)) and w == []
