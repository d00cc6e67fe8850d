"""Image-processing kernels against peer packages (scipy.ndimage, scikit-image)."""

import itertools
import warnings

import numpy as np
import pytest
import scipy.ndimage as ndi

from ssbscope.errors import DataQualityError, InputError, ParameterError
from ssbscope.tomo import filters as F


def _apply(net, a):
    a = list(a)
    for i, j in net:
        if a[i] > a[j]:
            a[i], a[j] = a[j], a[i]
    return a


def test_sort9_network_sorts_all_01_inputs():
    # 0-1 principle: a comparator network sorting every 0/1 input sorts everything
    for x in itertools.product([0, 1], repeat=9):
        assert _apply(F._SORT9, x) == sorted(x)


def test_merge9_network_merges_all_sorted_01_runs():
    for a in range(10):
        for b in range(10):
            x = [0] * a + [1] * (9 - a) + [0] * b + [1] * (9 - b)
            assert _apply(F._MERGE9, x) == sorted(x)


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.uint8, np.int16, np.uint16])
@pytest.mark.parametrize("shape", [(9, 11, 13), (1, 1, 1), (2, 1, 5), (3, 17, 2)])
def test_median3_equals_scipy(dtype, shape):
    rng = np.random.default_rng(3)
    v = (rng.random(shape) * 200).astype(dtype)
    out = F.median3(v)
    assert out.dtype == v.dtype
    np.testing.assert_array_equal(out, ndi.median_filter(v, size=3))


def test_median3_ties_and_noncontiguous_input_unchanged():
    rng = np.random.default_rng(4)
    v = rng.integers(0, 3, (12, 14, 16)).astype(np.float32)[:, ::-1, ::2]
    before = v.copy()
    np.testing.assert_array_equal(F.median3(v), ndi.median_filter(v, size=3))
    np.testing.assert_array_equal(v, before)


def test_median3_removes_salt_noise():
    v = np.full((10, 10, 10), 5.0)
    v[3, 4, 5] = 1e6
    assert np.all(F.median3(v) == 5.0)


def test_median3_rejects_nan_and_2d():
    v = np.zeros((4, 4, 4))
    v[1, 2, 3] = np.nan
    with pytest.raises(DataQualityError, match=r"1 NaN/inf voxel\(s\) \(first at index \(1, 2, 3\)\)"):
        F.median3(v)
    with pytest.raises(InputError, match="expected a 3-D"):
        F.median3(np.zeros((4, 4)))


def _blobs(shape, seed, sigma=2.0, level=0.5):
    rng = np.random.default_rng(seed)
    return ndi.gaussian_filter(rng.random(shape), sigma) > level


@pytest.mark.parametrize("radius", [1, 2, 3, 4])
def test_morphology_equals_skimage(radius):
    from skimage.morphology import ball, binary_dilation, binary_erosion, binary_opening

    m = _blobs((24, 27, 30), radius)
    m[0, :, :5] = True  # touch the border
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        ref_o = binary_opening(m, ball(radius))
        ref_e = binary_erosion(m, ball(radius))
        ref_d = binary_dilation(m, ball(radius))
    np.testing.assert_array_equal(F.opening(m, radius), ref_o)
    np.testing.assert_array_equal(F.erosion(m, radius), ref_e)
    np.testing.assert_array_equal(F.dilation(m, radius), ref_d)


def test_opening_keeps_big_ball_removes_thin_rod():
    z, y, x = np.indices((30, 30, 30))
    big = (z - 15) ** 2 + (y - 15) ** 2 + (x - 10) ** 2 <= 36
    rod = (np.abs(y - 15) <= 1) & (np.abs(z - 15) <= 1) & (x >= 18)
    out = F.opening(big | rod, 3)
    assert not out[:, :, 18:].any()          # the 3-voxel-wide rod is gone
    np.testing.assert_array_equal(out, F.opening(big, 3))
    assert out.sum() >= 0.85 * big.sum()     # the radius-6 ball survives (digital corners go)


def test_opening_bad_radius_and_dtype():
    with pytest.raises(ParameterError, match="radius=2.5"):
        F.opening(np.ones((4, 4, 4), bool), 2.5)
    with pytest.raises(InputError, match="not boolean"):
        F.opening(np.ones((4, 4, 4), float))


@pytest.mark.parametrize("connectivity,rank", [(6, 1), (18, 2), (26, 3)])
@pytest.mark.parametrize("shape", [(20, 21, 22), (1, 9, 9), (7, 1, 8), (9, 8, 1)])
def test_label_equals_scipy(connectivity, rank, shape):
    rng = np.random.default_rng(connectivity + sum(shape))
    for p in (0.3, 0.6):
        m = rng.random(shape) < p
        ours, n = F.label(m, connectivity)
        ref, nref = ndi.label(m, ndi.generate_binary_structure(3, rank))
        assert n == nref
        np.testing.assert_array_equal(ours, ref)


def test_label_spiral_merges_across_slabs():
    # one helix winding through every z-slab must stay one component
    m = np.zeros((64, 16, 16), bool)
    t = np.arange(64)
    m[t, np.round(8 + 6 * np.sin(t / 8)).astype(int), np.round(8 + 6 * np.cos(t / 8)).astype(int)] = True
    lab, n = F.label(m, 26)
    ref, nref = ndi.label(m, np.ones((3, 3, 3)))
    assert n == nref == 1
    np.testing.assert_array_equal(lab, ref)


def test_label_empty_and_bad_connectivity():
    lab, n = F.label(np.zeros((3, 4, 5), bool))
    assert n == 0 and lab.max() == 0
    with pytest.raises(ParameterError, match="connectivity=8"):
        F.label(np.ones((2, 2, 2), bool), 8)


def test_threshold_otsu_matches_skimage_and_separates_modes():
    from skimage.filters import threshold_otsu as sk

    rng = np.random.default_rng(5)
    x = np.concatenate([rng.normal(1, 0.2, 5000), rng.normal(3, 0.3, 3000)]).reshape(10, 20, 40)
    t = F.threshold_otsu(x)
    half = 0.5 * (x.max() - x.min()) / 256
    assert t == pytest.approx(sk(x) + half, abs=1e-12)   # upper edge of skimage's bin
    assert 1.6 < t < 2.4


def test_threshold_otsu_spiky_histogram_keeps_whole_bins():
    # three grey levels: the middle one must fall on the dark side if it belongs there
    v = np.concatenate([np.zeros(68), np.full(85764, 2.1535638e-05), np.full(27190, 6.36e-05)])
    t = F.threshold_otsu(v)
    assert 2.1535638e-05 <= t < 6.36e-05


@pytest.mark.parametrize("classes", [2, 3, 4])
def test_threshold_multiotsu_matches_skimage(classes):
    from skimage.filters import threshold_multiotsu as sk

    rng = np.random.default_rng(classes)
    x = np.concatenate([rng.normal(5 * k, 1, 4000 + 500 * k) for k in range(classes)])
    hist = F.histogram(x, 64)
    half = 0.5 * (hist[1][1] - hist[1][0])
    np.testing.assert_allclose(F.threshold_multiotsu(hist=hist, classes=classes),
                               sk(hist=hist, classes=classes) + half, atol=1e-12)


def test_thresholds_bad_input():
    with pytest.raises(DataQualityError, match="all voxels equal"):
        F.threshold_otsu(np.ones((3, 3, 3)))
    with pytest.raises(DataQualityError, match="NaN/inf"):
        F.threshold_otsu(np.array([1.0, np.inf, 2.0]))
    with pytest.raises(DataQualityError, match="occupied bins for 4 classes"):
        F.threshold_multiotsu(np.array([0.0, 1.0, 0.0]), classes=4)


def test_kernels_deterministic_whatever_the_thread_count():
    import numba

    rng = np.random.default_rng(11)
    v = ndi.gaussian_filter(rng.random((40, 33, 35)), 1.5).astype(np.float32)
    m = v > 0.5
    n0 = numba.get_num_threads()
    outs = []
    try:
        for n in sorted({1, n0}):
            numba.set_num_threads(n)
            outs.append((F.median3(v).tobytes(), F.opening(m, 2).tobytes(), F.label(m)[0].tobytes()))
    finally:
        numba.set_num_threads(n0)
    assert all(o == outs[0] for o in outs)
