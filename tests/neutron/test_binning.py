"""Median binning, timestamps, Tr_t/Tr_0 and the counting uncertainty."""

import numpy as np
import pytest

from ssbscope.errors import DataQualityError, InputError, ParameterError
from ssbscope.neutron import (bin_times, check_times, median_bin, median_bin_sigma, ratio_sigma,
                              transmission_ratio)


def test_median_bin_equals_numpy_median_of_groups():
    rng = np.random.default_rng(0)
    a = rng.random((95, 3, 4)).astype(np.float32)
    out = median_bin(a, n=30)
    assert out.shape == (3, 3, 4) and out.dtype == np.float32
    np.testing.assert_array_equal(out, np.median(a[:90].reshape(3, 30, 3, 4), axis=1))
    keep = median_bin(a, n=30, partial="keep")
    np.testing.assert_array_equal(keep[3], np.median(a[90:], axis=0))


def test_median_bin_rejects_outliers_that_a_mean_keeps():
    a = np.ones((30, 2, 2))
    a[3, 0, 0] = 1e6  # a gamma spot left in one frame
    assert median_bin(a, 30)[0, 0, 0] == 1.0


def test_median_bin_dask_matches():
    da = pytest.importorskip("dask.array")
    rng = np.random.default_rng(1)
    a = rng.random((60, 5, 6))
    np.testing.assert_allclose(np.asarray(median_bin(da.from_array(a, chunks=(7, -1, -1)), 30)),
                               median_bin(a, 30))


def test_median_bin_nan_policy():
    a = np.ones((6, 2, 2))
    a[1, 0, 0] = np.nan
    with pytest.raises(DataQualityError, match="non-finite"):
        median_bin(a, 3)
    assert median_bin(a, 3, nan_policy="omit")[0, 0, 0] == 1.0
    a[:3, 1, 1] = np.nan
    with pytest.raises(DataQualityError, match="no finite value in bin 0"):
        median_bin(a, 3, nan_policy="omit")


def test_median_bin_masked_input_propagates_mask():
    a = np.ma.MaskedArray(np.ones((6, 2, 2)), mask=np.zeros((6, 2, 2), bool))
    a.mask[4, 1, 0] = True
    out = median_bin(a, 3)
    assert isinstance(out, np.ma.MaskedArray)
    assert out.mask[1, 1, 0] and out.mask.sum() == 1


def test_median_bin_bad_parameters():
    with pytest.raises(ParameterError, match="n=0"):
        median_bin(np.ones((4, 2, 2)), 0)
    with pytest.raises(InputError, match="fewer than one bin"):
        median_bin(np.ones((4, 2, 2)), 30)


def test_bin_times_and_timestamp_checks():
    t = np.arange(90) * 10.0
    np.testing.assert_allclose(bin_times(t, 30), [145.0, 445.0, 745.0])
    with pytest.raises(DataQualityError, match="missing"):
        check_times([0.0, np.nan, 20.0])
    with pytest.raises(DataQualityError, match="not strictly increasing"):
        check_times([0.0, 20.0, 10.0])
    with pytest.raises(DataQualityError, match="no timestamps"):
        check_times(None)
    with pytest.raises(DataQualityError, match="3 timestamps for 4 frames"):
        check_times([0.0, 1.0, 2.0], 4)


def test_transmission_ratio_definition_and_reference_choice():
    tr = np.array([[[0.5, 0.2]], [[0.4, 0.25]], [[0.45, 0.2]]])
    r = transmission_ratio(tr)
    np.testing.assert_allclose(r[:, 0, 0], [1.0, 0.8, 0.9])
    r2 = transmission_ratio(tr, reference_index=slice(0, 3))
    np.testing.assert_allclose(r2[:, 0, 1], tr[:, 0, 1] / 0.2)


def test_transmission_ratio_zero_reference_raises_or_masks():
    tr = np.array([[[0.5, 0.0]], [[0.4, 0.1]]])
    with pytest.raises(DataQualityError, match=r"reference transmission <= 0.*\(y=0, x=1\)"):
        transmission_ratio(tr)
    r = transmission_ratio(tr, on_invalid="mask")
    assert r.mask[:, 0, 1].all() and not r.mask[:, 0, 0].any()
    assert np.all(np.isfinite(r.filled(1.0)))


def test_ratio_sigma_matches_monte_carlo():
    rng = np.random.default_rng(3)
    t_true = np.array([0.5, 0.4])
    s = np.array([0.01, 0.02])
    draws = t_true[:, None] + s[:, None] * rng.normal(size=(2, 200000))
    r = draws[1] / draws[0]
    pred = ratio_sigma(t_true[:, None, None] * np.ones((2, 1, 1)), s[:, None, None] * np.ones((2, 1, 1)))
    assert pred[0, 0, 0] == 0.0
    assert pred[1, 0, 0] == pytest.approx(np.std(r), rel=0.02)


def test_median_bin_sigma_matches_monte_carlo():
    rng = np.random.default_rng(4)
    x = rng.normal(size=(30 * 4000, 1, 1))
    meds = np.median(x.reshape(4000, 30), axis=1)
    pred = median_bin_sigma(np.ones((30, 1, 1)), 30)[0, 0, 0]
    assert pred == pytest.approx(np.std(meds), rel=0.05)


def test_ratio_uncertainty_of_the_twin_is_calibrated(reduced, true_binned):
    """The ratio's counting sigma predicts its scatter around the true ratio."""
    r_true = true_binned / true_binned[0]
    cell = true_binned[0] > 0.02
    z = (reduced.ratio[1:] - r_true[1:])[:, cell] / reduced.ratio_sigma[1:][:, cell]
    assert 0.9 < np.std(z) < 1.1
