"""Issue 14, Deliver 2 for neutron frames: pixels of infinite or negative counts refuse the
input by default (exit 2, one line naming the file) and become NaN with a recorded warning
(count and frame) with ``nan_policy: mask``.  NaN (a detector-flagged pixel) passes either way."""

import json

import numpy as np
import pytest

from ssbscope.cli import main
from ssbscope.errors import DataQualityError
from ssbscope.neutron.io import mask_warnings, read_series, write_fits_series, write_tiff_series


def _frames():
    imgs = np.full((4, 6, 7), 100.0, np.float32) + np.arange(7, dtype=np.float32)
    imgs[1, 2, 3] = -np.inf
    imgs[1, 4, 4] = -5.0
    imgs[3, 0, 0] = np.inf
    imgs[2, 1, 1] = np.nan      # flagged by the detector software: kept, not counted
    return imgs


@pytest.mark.parametrize("writer", [write_fits_series, write_tiff_series])
def test_library_raise_and_mask(tmp_path, writer):
    imgs = _frames()
    writer(tmp_path, imgs, np.arange(4.0) * 10)
    # frames are read in parallel: either bad frame may be the one named
    with pytest.raises(DataQualityError, match=r"page 0\) has 1 pixel\(s\) with infinite counts"
                                               r"( and 1 pixel\(s\) with negative counts)?, first at row"):
        read_series(tmp_path).load()
    with pytest.raises(DataQualityError, match=r"_00001\..*has 1 pixel\(s\) with infinite counts and "
                                               r"1 pixel\(s\) with negative counts, first at row 2, col 3"):
        np.asarray(read_series(tmp_path).images[1])
    s = read_series(tmp_path, nan_policy="mask")
    got, n = np.asarray(s.images), np.asarray(s.masked_pixels)
    np.testing.assert_array_equal(n, [0, 2, 0, 1])
    bad = np.zeros(imgs.shape, bool)
    bad[1, 2, 3] = bad[1, 4, 4] = bad[3, 0, 0] = True
    assert np.isnan(got[bad]).all() and np.isnan(got[2, 1, 1])
    ok = ~bad & ~np.isnan(imgs)
    np.testing.assert_array_equal(got[ok], imgs[ok])
    w = mask_warnings(s, n)
    assert len(w) == 2 and "frame 1 (page 0): masked 2 pixel(s)" in w[0] and "frame 3" in w[1]
    assert "_00001." in w[0] and "_00003." in w[1]


def test_signed_integer_frames(tmp_path):
    """A signed-integer FITS frame with a negative count: refused, or masked as float."""
    imgs = np.full((3, 4, 5), 1000, np.int32)
    imgs[2, 3, 4] = -7
    write_fits_series(tmp_path, imgs, np.arange(3.0))
    with pytest.raises(DataQualityError, match="negative counts"):
        read_series(tmp_path).load()
    s = read_series(tmp_path, nan_policy="mask")
    got = s.load()
    assert got.dtype.kind == "f" and np.isnan(got[2, 3, 4]) and np.nansum(got) == 1000 * (3 * 20 - 1)
    # unsigned frames cannot hold a bad value: nothing counted
    write_fits_series(tmp_path / "u", imgs.clip(0).astype(np.uint16), np.arange(3.0))
    assert np.asarray(read_series(tmp_path / "u", nan_policy="mask").masked_pixels).sum() == 0


def test_mask_of_every_pixel_is_refused(tmp_path):
    imgs = np.full((2, 3, 3), 5.0, np.float32)
    imgs[1] = -1.0
    write_fits_series(tmp_path, imgs, np.arange(2.0))
    with pytest.raises(DataQualityError, match="every pixel is NaN"):
        read_series(tmp_path, nan_policy="mask").load()


def _one_error_line(capsys):
    cap = capsys.readouterr()
    lines = cap.err.strip().splitlines()
    assert len(lines) == 1, cap.err
    assert lines[0].startswith("ssbscope: error: ") and "Traceback" not in cap.err + cap.out
    return lines[0]


def test_through_run_default_refuses_mask_records_warnings(tmp_path, capsys):
    from ssbscope.store import Store

    imgs = _frames()
    write_fits_series(tmp_path / "frames", imgs, np.arange(4.0) * 10)
    write_fits_series(tmp_path / "ob", np.full((2, 6, 7), 400.0, np.float32), np.arange(2.0))
    dk = np.full((2, 6, 7), 10.0, np.float32)
    dk[0, 5, 6] = -3.0
    write_fits_series(tmp_path / "dk", dk, np.arange(2.0))
    y = tmp_path / "exp.yaml"
    base = "name: n\ninputs:\n  neutron:\n    - {path: frames, label: r, open_beam: ob, dark: dk"
    y.write_text(base + "}\n")
    assert main(["run", str(y), "--out", str(tmp_path / "strict"), "--quiet"]) == 2
    line = _one_error_line(capsys)
    assert "nan_policy: mask" in line and any(f in line for f in (
        "frames/frame_00001.fits", "frames/frame_00003.fits", "dk/frame_00000.fits")), line

    y.write_text(base + ", nan_policy: mask}\n")
    assert main(["run", str(y), "--out", str(tmp_path / "mask"), "--quiet"]) == 0
    ds = Store.open(tmp_path / "mask")["neutron/input/r"]
    w = ds.attrs["warnings"]
    w = json.loads(w) if isinstance(w, str) else list(w)
    assert any("frame 1 (page 0): masked 2 pixel(s)" in x for x in w), w
    assert any("frame 3 (page 0): masked 1 pixel(s)" in x for x in w), w
    assert any(x.startswith("dark: ") and "frame 0 (page 0): masked 1 pixel(s)" in x for x in w), w
    assert ds.attrs["n_masked_pixels"] == 3
    tr = ds["transmission"].values
    assert np.isnan(tr[1, 2, 3]) and np.isnan(tr[1, 4, 4]) and np.isnan(tr[3, 0, 0])
    # an unaffected pixel keeps Eq. 1: (I - DF) / (OB - DF)
    np.testing.assert_allclose(tr[0, 3, 2], (imgs[0, 3, 2] - 10.0) / 390.0, rtol=1e-5)


def test_nan_policy_values_in_the_experiment_file(tmp_path, capsys):
    y = tmp_path / "exp.yaml"
    y.write_text("name: n\ninputs:\n  neutron:\n    - {path: f.fits, nan_policy: drop}\n")
    assert main(["validate", str(y)]) == 2
    assert "inputs.neutron[0].nan_policy" in capsys.readouterr().out
