"""Streaming reduction: same result from numpy, dask and files; bad frames and pixels."""

import numpy as np
import pytest

from ssbscope.errors import DataQualityError, InputError
from ssbscope.neutron.stream import reduce_series


@pytest.fixture(scope="module")
def small():
    from ssbscope.twin.neutron import simulate_radiography

    return simulate_radiography(n_frames=90, shape_yx=(32, 96), seed=2)


def _reduce(tw, images=None, **kw):
    tr = tw.truth
    return reduce_series(tw.images if images is None else images, tw.open_beam, tw.dark,
                         kw.pop("time_s", tw.time_s), beam_roi=tr.rois["beam"],
                         background_roi=tr.rois["background"], **kw)


def test_dask_and_file_series_give_the_same_maps(small, tmp_path):
    da = pytest.importorskip("dask.array")
    from ssbscope.neutron import read_series
    from ssbscope.twin.neutron import write_series

    ref = _reduce(small)
    lazy = _reduce(small, da.from_array(small.images, chunks=(7, -1, -1)))
    np.testing.assert_array_equal(lazy.ratio, ref.ratio)
    out = write_series(small, tmp_path, fmt="fits")
    series = read_series(out["sample"])
    files = reduce_series(series, small.open_beam, small.dark, beam_roi=small.truth.rois["beam"],
                          background_roi=small.truth.rois["background"])
    np.testing.assert_array_equal(files.transmission, ref.transmission)
    np.testing.assert_allclose(files.time_s, ref.time_s)
    assert ref.transmission.shape == (3, 32, 96)
    ds = ref.to_xarray()
    assert set(ds.data_vars) >= {"transmission", "ratio", "ratio_sigma", "mask"}


def test_fully_saturated_frame_is_dropped_with_reason(small):
    imgs = small.images.copy()
    imgs[40] = 65535
    rs = _reduce(small, imgs)
    assert rs.frames_dropped == ((40, "100 % saturated"),)
    assert np.isnan(rs.beam_factors[40]) and np.all(np.isfinite(rs.ratio))
    ref = _reduce(small)
    # one frame fewer in the median of bin 1 only: the maps barely move
    assert np.median(np.abs(rs.transmission[1] / ref.transmission[1] - 1)) < 0.01
    np.testing.assert_array_equal(rs.transmission[0], ref.transmission[0])


def test_dead_open_beam_pixels_are_masked_with_reason_never_nan(small):
    ob = small.open_beam.copy()
    ob[:, 5, 7] = 50  # below the dark level
    rs = reduce_series(small.images, ob, small.dark, small.time_s, beam_roi=small.truth.rois["beam"])
    assert rs.mask[5, 7] == 1 and np.count_nonzero(rs.mask == 1) == 1
    assert rs.mask_reasons["open beam <= dark field (no beam signal)"] == 1
    # behind the opaque Cd marker Tr_0 is ~0: those pixels are masked with their own reason
    y0, y1, x0, x1 = small.config.cd_marker
    other = np.argwhere(rs.mask == 4)
    assert np.all((other[:, 0] >= y0) & (other[:, 0] < y1) & (other[:, 1] >= x0) & (other[:, 1] < x1))
    for arr in (rs.transmission, rs.ratio, rs.ratio_sigma, rs.transmission_sigma):
        assert np.all(np.isfinite(arr))
    assert rs.ratio_masked().mask[:, 5, 7].all()


def test_bad_timestamps_and_shapes(small):
    t = small.time_s.copy()
    t[10] = t[9]
    with pytest.raises(DataQualityError, match="not strictly increasing"):
        _reduce(small, time_s=t)
    t[10] = np.nan
    with pytest.raises(DataQualityError, match="missing"):
        _reduce(small, time_s=t)
    with pytest.raises(InputError, match="open_beam: frame shape"):
        reduce_series(small.images, small.open_beam[:, :-1], small.dark, small.time_s)
    with pytest.raises(InputError, match="fewer than one bin"):
        reduce_series(small.images[:10], small.open_beam, small.dark, small.time_s[:10])


def test_single_open_beam_frame_is_cleaned_of_gamma_spots(small):
    ob1 = small.open_beam[:1].copy()
    y0, y1, x0, x1 = small.truth.rois["I"]
    ob1[0, 30 % ob1.shape[1], x0 + 3] = 60000  # a spot in the only open beam
    rs = reduce_series(small.images, ob1, small.dark, small.time_s, beam_roi=small.truth.rois["beam"])
    t = rs.transmission[0, 30 % ob1.shape[1], x0 + 3]
    neighbours = rs.transmission[0, 30 % ob1.shape[1], x0 + 4]
    assert abs(t / neighbours - 1) < 0.1  # without cleaning it would be ~6x too dark
