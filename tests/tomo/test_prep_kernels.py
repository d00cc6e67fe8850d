"""The numba kernels of zinger and ring removal equal the scipy / NumPy steps they replace."""

import numpy as np
import pytest
from scipy.ndimage import median_filter

from ssbscope.tomo.prep import _sorting, normalize_offsets, remove_rings, remove_zingers


def _zingers_scipy(a, threshold):
    fp = (1, 3, 3) if a.ndim == 3 else (3, 3)
    med = median_filter(a, size=fp, mode="nearest")
    return np.where(np.abs(a - med) > threshold, med, a).astype(np.float32)


@pytest.mark.parametrize("shape", [(5, 6, 7), (3, 1, 6), (2, 6, 1), (9, 8), (1, 1, 1), (4, 2, 2)])
def test_zinger_kernel_equals_scipy_median(shape):
    rng = np.random.default_rng(1)
    a = rng.standard_normal(shape).astype(np.float32)
    a[rng.random(shape) < 0.1] += 3.0
    a.flat[::5] = np.round(a.flat[::5])  # ties in the windows
    for thr in (0.1, 0.5, 1.0):
        got = remove_zingers(a, threshold=thr)
        assert got.dtype == np.float32
        np.testing.assert_array_equal(got, _zingers_scipy(a, thr))
    # a deviation of exactly float32(threshold) is not a zinger (as NumPy's float32 compare)
    b = np.zeros((1, 3, 3), np.float32)
    b[0, 1, 1] = np.float32(0.1)
    np.testing.assert_array_equal(remove_zingers(b, threshold=0.1), b)
    b[0, 1, 1] = np.nextafter(np.float32(0.1), np.float32(1))
    assert remove_zingers(b, threshold=0.1)[0, 1, 1] == 0.0


def test_zinger_kernel_angle_invariant_and_input_untouched():
    rng = np.random.default_rng(2)
    a = (rng.standard_normal((12, 5, 9)) + np.arange(5)[:, None] * 0.7).astype(np.float32)
    a[3, 2, 4] += 5.0
    keep = a.copy()
    inv = a.mean(axis=0, dtype=np.float64).astype(np.float32)
    ref = _zingers_scipy(a - inv, 0.1) + inv
    np.testing.assert_array_equal(remove_zingers(a, angle_invariant=True), ref)
    np.testing.assert_array_equal(a, keep)


@pytest.mark.parametrize("shape", [(60, 40), (7, 3), (2, 5), (30, 1), (1, 9), (181, 64)])
@pytest.mark.parametrize("size", [3, 5, 7, 9])
def test_sorting_kernels_equal_numpy(shape, size):
    rng = np.random.default_rng(3)
    for k in range(3):
        a = rng.standard_normal(shape).astype(np.float32)
        if k == 1:  # ties and a negative zero (stable order of equal values)
            a[:, ::2] = np.round(a[:, ::2])
            a.flat[0] = -0.0
        if k == 2:  # a profile rising across the detector (the edge offsets engage)
            a += np.linspace(0.0, 5.0, shape[1], dtype=np.float32)
        keep = a.copy()
        np.testing.assert_array_equal(_sorting(a, size), _sorting(a, size, engine="numpy"))
        np.testing.assert_array_equal(a, keep)


def test_remove_rings_normalize_equals_numpy_reference():
    rng = np.random.default_rng(4)
    n_a, n_r, n_d = 90, 3, 48
    t = np.arange(n_d) - n_d / 2
    s = (np.sqrt(np.maximum(20.0 ** 2 - t ** 2, 0.0)) * 0.05)[None, None, :]
    s = s + 0.02 * rng.standard_normal((n_a, n_r, n_d)) + 0.01 * rng.standard_normal((1, n_r, n_d))
    s = s.astype(np.float32)
    b = np.stack([_sorting(s[:, r], 7, engine="numpy") for r in range(n_r)], axis=1)
    off = normalize_offsets(b.mean(axis=0, dtype=np.float64), half_width=6)
    ref = (b - off[None]).astype(np.float32)
    got = remove_rings(s)
    assert got.dtype == np.float32
    np.testing.assert_array_equal(got, ref)
    np.testing.assert_array_equal(remove_rings(s[:, 1]), ref[:, 1])
