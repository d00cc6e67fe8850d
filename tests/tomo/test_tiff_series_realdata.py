"""A real TIFF projection series with a separate flat, dark and angles file (issue 14, item 4).

tests/data/realdata/tomo_tiff/savu_image_test (MANIFEST.md): Savu's image-loader test data
(Diamond Light Source): uint16 projections 135 x 160 written one file per angle, one float32
flat and one float32 dark file, and the beamline's angles file, which lists the angle of every
frame of the scan (dark and flat frames included, 111 values) rather than one per projection.
31 of the 91 projections are kept (every third: -88.2 deg to +91.8 deg in 6 deg steps).

References, none from the reader: the two projections 180 deg apart are mirror images about
the rotation axis (checks angles and centre together); a compact object's track in the
sinogram is a sinusoid in the angle (checks the angle of every projection).
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import pytest

from ssbscope.errors import DataQualityError, FileFormatError
from ssbscope.tomo import find_center, flat_dark_correct, read_projections

SAVU = Path(__file__).resolve().parents[1] / "data" / "realdata" / "tomo_tiff" / "savu_image_test"
FLAT, DARK, ANGLES = SAVU / "flat_00001.tiff", SAVU / "dark_00001.tiff", SAVU / "angles.txt"
RANGE = (-88.2, 91.8)


def _read():
    return read_projections(SAVU / "tiffs", flats=str(FLAT), darks=str(DARK), angles_deg=RANGE)


def test_series_reads_with_its_flat_and_dark():
    pd_ = _read()
    assert pd_.format == "tiff-series"
    assert pd_.projections.shape == (31, 135, 160)
    assert pd_.flats.shape == (1, 135, 160) and pd_.darks.shape == (1, 135, 160)
    np.testing.assert_allclose(np.rad2deg(pd_.angles_rad[[0, 1, -1]]), [-88.2, -82.2, 91.8])
    raw = np.asarray(pd_.projections, float)
    # a detector: dark ~ 100 counts, open beam ~ 37,000, the sample attenuates in between
    assert 50 < np.median(pd_.darks) < 150 and 30_000 < np.median(pd_.flats) < 45_000
    assert np.median(pd_.darks) < np.median(raw) < np.median(pd_.flats)


def test_beamline_angles_file_of_every_frame_is_refused_clearly():
    """The angles file lists dark/flat frames too: 111 angles for the 31 projections here."""
    with pytest.raises(FileFormatError, match=r"angles\.txt: 111 angles for 31 projections"):
        read_projections(SAVU / "tiffs", flats=str(FLAT), darks=str(DARK), angles=ANGLES)


def test_dead_pixel_refused_by_default_and_masked_on_request():
    pd_ = _read()
    raw = np.asarray(pd_.projections)
    with pytest.raises(DataQualityError, match=r"1 pixel\(s\).*row 0, column 0"):
        flat_dark_correct(raw, pd_.flats, pd_.darks)
    p = flat_dark_correct(raw, pd_.flats, pd_.darks, bad_pixels="mask")
    assert np.isfinite(p).all()
    # -ln T: the sample never lets more than the open beam through, nor stops it entirely
    assert 0.0 < p.min() and p.max() < 5.0


def test_projections_180_deg_apart_mirror_about_the_found_axis_and_tracks_are_sinusoids():
    pd_ = _read()
    p = flat_dark_correct(np.asarray(pd_.projections), pd_.flats, pd_.darks, bad_pixels="mask")
    ang = pd_.angles_rad
    c = find_center(p, ang)
    assert 60 < c < 100  # near the detector's middle (160 px)
    a, b = p[0], p[-1]
    assert np.rad2deg(ang[-1] - ang[0]) == pytest.approx(180.0)
    x = np.arange(p.shape[2], dtype=float)
    ok = (2 * c - x >= 0) & (2 * c - x <= x[-1])
    bm = np.array([np.interp(2 * c - x[ok], x, row) for row in b])
    assert np.corrcoef(a[:, ok].ravel(), bm.ravel())[0, 1] > 0.99
    assert np.median(np.abs(a[:, ok] - bm)) < 0.1 * np.std(a[:, ok])
    # without the mirror the two views differ: the check can fail
    assert np.corrcoef(a.ravel(), b.ravel())[0, 1] < 0.9
    # the dense object's track in the middle row: x(theta) = c + r cos(theta - phi)
    s = p[:, 67, :]
    xs = []
    for row in s:
        w = np.clip(row - np.percentile(row, 90), 0, None)
        xs.append(np.sum(w * x) / np.sum(w))
    xs = np.asarray(xs)
    design = np.column_stack([np.ones_like(ang), np.cos(ang), np.sin(ang)])
    coef, *_ = np.linalg.lstsq(design, xs, rcond=None)
    resid = xs - design @ coef
    assert np.hypot(coef[1], coef[2]) > 5            # off-axis: a real sinusoid, not a line
    assert np.sqrt(np.mean(resid ** 2)) < 1.0        # px: every projection at its angle
    assert abs(coef[0] - c) < 2.0                    # the track is centred on the axis


def test_run_reconstructs_the_series_by_content(tmp_path):
    """`ssbscope validate` and `run`: the folder of TIFFs + flat + dark files; the dead pixel
    stops the run with one line unless `bad_pixels: mask` is set, then the scan is stored."""
    from ssbscope.cli import main
    from ssbscope.store import Store

    def yaml(extra):
        y = tmp_path / f"exp{len(extra)}.yaml"
        y.write_text("name: savu tiff series\ninputs:\n  tomo:\n"
                     f"    - {{path: {SAVU / 'tiffs'}, flats: {FLAT}, darks: {DARK}, "
                     f"angle_range_deg: [-88.2, 91.8], series: savu, label: savu{extra}}}\n")
        return y

    y = yaml("")
    assert main(["validate", str(y)]) == 0
    assert main(["run", str(y), "--out", str(tmp_path / "a"), "--quiet"]) == 2
    y = yaml(", bad_pixels: mask")
    assert main(["run", str(y), "--out", str(tmp_path / "b"), "--quiet"]) == 0
    ds = Store.open(tmp_path / "b")["tomo/savu/scans/savu"]
    assert ds.attrs["n_projections"] == 31 and ds.attrs["bad_pixels"] == "mask"
    assert 60 < float(ds.attrs["center_px"]) < 100
    v = ds["volume"].values
    assert v.shape == (135, 160, 160) and np.isfinite(v).all()
    # a compact dense object: 90 % of the top 1 % of voxels lie within ~25 px (the rest are
    # the streaks of 31 angles)
    top = v[67] > np.percentile(v[67], 99)
    yy, xx = np.nonzero(top)
    for q in (yy, xx):
        assert np.percentile(q, 95) - np.percentile(q, 5) < 25


# ---------------------------------------------------------------------------- fuzzing

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from ssbscope.fuzz import mutate, run_one, targets  # noqa: E402

FUZZ = settings(max_examples=30, deadline=5000, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
OPS = st.lists(st.tuples(st.integers(0, 6), st.integers(0, 1 << 24), st.integers(0, 1 << 16)),
               min_size=1, max_size=4)


def _target():
    return targets()["tomo.tiff_series"]


def _check(data: bytes):
    with tempfile.TemporaryDirectory() as d:
        outcome, detail = run_one(_target(), data, Path(d))
    assert outcome != "bug", detail


def test_fuzz_seeds_are_read():
    with tempfile.TemporaryDirectory() as d:
        assert all(run_one(_target(), b, Path(d))[0] == "ok" for _, b in _target().seeds)


@FUZZ
@given(data=st.binary(max_size=2048))
def test_fuzz_random_bytes(data):
    _check(data)


@FUZZ
@given(k=st.integers(0, 1 << 20), ops=OPS)
def test_fuzz_mutated_real_projection(k, ops):
    seeds = _target().seeds
    _check(mutate(seeds[k % len(seeds)][1], ops))


@FUZZ
@given(k=st.integers(0, 1 << 20), frac=st.floats(0.0, 1.0))
def test_fuzz_truncated_real_projection(k, frac):
    seeds = _target().seeds
    b = seeds[k % len(seeds)][1]
    _check(b[: int(frac * len(b))])
