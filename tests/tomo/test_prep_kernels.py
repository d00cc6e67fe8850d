"""The numba kernels of zinger and ring removal equal the scipy / NumPy steps they replace."""

import numpy as np
import pytest
from scipy.ndimage import median_filter

from ssbscope.errors import ParameterError
from ssbscope.tomo.prep import _sorting, normalize_offsets, remove_rings, remove_zingers


def _zingers_scipy(a, threshold):
    fp = (1, 3, 3) if a.ndim == 3 else (3, 3)
    med = median_filter(a, size=fp, mode="nearest")
    return np.where(np.abs(a - med) > threshold, med, a).astype(np.float32)


def _zingers_ref(a, threshold, sign, before=None, after=None, size=3):
    """The one-sided spatial + temporal rule (the neighbouring angles' mean), pixel by pixel
    (scipy median, Python loops)."""
    med = median_filter(a, size=(1, size, size), mode="nearest")
    thr = np.float32(threshold)
    out = a.copy()
    n = a.shape[0]
    for k, i, x in np.ndindex(a.shape):
        d = a[k, i, x] - med[k, i, x]
        if not (-d > thr if sign < 0 else d > thr if sign > 0 else abs(d) > thr):
            continue
        nbrs = [q[i, x] for q in (a[k - 1] if k > 0 else before, a[k + 1] if k < n - 1 else after)
                if q is not None]
        t = (nbrs[0] + nbrs[1]) * np.float32(0.5) if len(nbrs) == 2 else nbrs[0] if nbrs else None
        e = None if t is None else a[k, i, x] - t
        if e is None or (e > thr if d > 0 else -e > thr):
            out[k, i, x] = med[k, i, x]
    return out


@pytest.mark.parametrize("shape", [(5, 6, 7), (3, 1, 6), (2, 6, 1), (9, 8), (1, 1, 1), (4, 2, 2)])
def test_zinger_kernel_equals_scipy_median(shape):
    rng = np.random.default_rng(1)
    a = rng.standard_normal(shape).astype(np.float32)
    a[rng.random(shape) < 0.1] += 3.0
    a.flat[::5] = np.round(a.flat[::5])  # ties in the windows
    for thr in (0.1, 0.5, 1.0):
        got = remove_zingers(a, threshold=thr, polarity="both", temporal=False)
        assert got.dtype == np.float32
        np.testing.assert_array_equal(got, _zingers_scipy(a, thr))
    # a deviation of exactly float32(threshold) is not a zinger (as NumPy's float32 compare)
    b = np.zeros((1, 3, 3), np.float32)
    b[0, 1, 1] = np.float32(-0.1)
    np.testing.assert_array_equal(remove_zingers(b, threshold=0.1), b)
    b[0, 1, 1] = np.nextafter(np.float32(-0.1), np.float32(-1))
    assert remove_zingers(b, threshold=0.1)[0, 1, 1] == 0.0
    b[0, 1, 1] = 1.0  # high in line integrals: absorption, not a zinger (default "low")
    assert remove_zingers(b, threshold=0.1)[0, 1, 1] == 1.0
    assert remove_zingers(b, threshold=0.1, polarity="high")[0, 1, 1] == 0.0


@pytest.mark.parametrize("polarity, sign", [("low", -1), ("high", 1), ("both", 0)])
@pytest.mark.parametrize("size", [3, 5])
def test_zinger_one_sided_temporal_rule_equals_reference(polarity, sign, size):
    """Kernel (size 3) and the median_filter branch (size 5) equal a pixel-by-pixel reference
    of the one-sided spatial + temporal rule, on the whole stack and in blocks of angles with
    the neighbouring projections given (``before`` / ``after``)."""
    rng = np.random.default_rng(4)
    a = (0.2 * rng.standard_normal((11, 6, 9))).astype(np.float32)
    a[:, :, 5:] += 1.0                    # a step, the same at every angle: structure
    hit = rng.random(a.shape) < 0.08
    a[hit] += rng.choice([-3.0, 3.0], hit.sum()).astype(np.float32)
    a.flat[::7] = np.round(a.flat[::7])   # ties
    whole = remove_zingers(a, threshold=0.3, polarity=polarity, size=size)
    np.testing.assert_array_equal(whole, _zingers_ref(a, 0.3, sign, size=size))
    assert not np.array_equal(whole, a)
    blocks = np.concatenate([remove_zingers(a[s:s + 4], threshold=0.3, polarity=polarity, size=size,
                                            before=a[s - 1] if s else None,
                                            after=a[s + 4] if s + 4 < 11 else None)
                             for s in range(0, 11, 4)])
    np.testing.assert_array_equal(blocks, whole)
    # without the neighbours the block ends would differ (so the block test can fail)
    naive = np.concatenate([remove_zingers(a[s:s + 4], threshold=0.3, polarity=polarity, size=size)
                            for s in range(0, 11, 4)])
    assert not np.array_equal(naive, whole)


def test_zinger_temporal_test_keeps_structure_and_removes_single_frames():
    """A 3 x 3 corner of an absorbing region that is the same at every angle passes the
    spatial test (0.5 below its median) but not the temporal one: kept; a single-frame dip of
    the same size is removed."""
    a = np.zeros((5, 5, 5), np.float32)
    a[:, :2, :] = 1.0
    a[:, :, :2] = 1.0                     # the pixel (2, 2) sees 5 of 9 at 1.0: median 1.0
    a[:, 2, 2] = 0.5
    got = remove_zingers(a, threshold=0.1)
    np.testing.assert_array_equal(got, a)  # structure kept
    assert remove_zingers(a, threshold=0.1, temporal=False)[2, 2, 2] == 1.0  # the old rule
    b = a.copy()
    b[2, 3, 3] = -0.5                      # a zinger: one frame only
    got = remove_zingers(b, threshold=0.1)
    assert got[2, 3, 3] == 0.0 and np.array_equal(np.delete(got.ravel(), 2 * 25 + 3 * 5 + 3),
                                                  np.delete(b.ravel(), 2 * 25 + 3 * 5 + 3))
    with pytest.raises(ParameterError, match="polarity"):
        remove_zingers(a, polarity="up")


def test_zinger_kernel_angle_invariant_and_input_untouched():
    rng = np.random.default_rng(2)
    a = (rng.standard_normal((12, 5, 9)) + np.arange(5)[:, None] * 0.7).astype(np.float32)
    a[3, 2, 4] += 5.0
    keep = a.copy()
    inv = a.mean(axis=0, dtype=np.float64).astype(np.float32)
    ref = _zingers_scipy(a - inv, 0.1) + inv
    np.testing.assert_array_equal(remove_zingers(a, angle_invariant=True, polarity="both",
                                                 temporal=False), ref)
    ref = _zingers_ref(a - inv, 0.1, -1) + inv
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
