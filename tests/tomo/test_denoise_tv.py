"""The own slice-wise TV kernel and noise estimate of ``tv2d`` against scikit-image's."""

import numpy as np
import pytest

from ssbscope.errors import InputError, ParameterError
from ssbscope.tomo.denoise import denoise_rows, estimate_noise_sigma, tv_chambolle_2d


@pytest.mark.parametrize("shape", [(3, 37, 53), (2, 1, 9), (2, 9, 1), (1, 2, 2)])
@pytest.mark.parametrize("weight", [0.05, 0.5, 3.0])
def test_tv_chambolle_2d_equals_skimage(shape, weight):
    from skimage.restoration import denoise_tv_chambolle

    rng = np.random.default_rng(7)
    v = (rng.standard_normal(shape) + (np.arange(shape[-1]) > shape[-1] // 2)).astype(np.float32)
    ref = np.stack([denoise_tv_chambolle(x, weight=weight, channel_axis=None) for x in v])
    out = tv_chambolle_2d(v, weight)
    assert out.dtype == np.float32 and out.shape == v.shape
    np.testing.assert_array_equal(out, ref)
    # the iteration cap (stopped before convergence) too
    ref5 = denoise_tv_chambolle(v[0], weight=weight, max_num_iter=5, channel_axis=None)
    np.testing.assert_array_equal(tv_chambolle_2d(v[0], weight, max_num_iter=5), ref5)
    assert not np.array_equal(ref5, ref[0]) or v[0].size < 10  # a cap that bites


def test_estimate_noise_sigma_equals_skimage():
    from skimage.restoration import estimate_sigma

    rng = np.random.default_rng(3)
    v = (0.2 * rng.standard_normal((8, 64, 63)) + np.linspace(0, 1, 63)).astype(np.float32)
    assert estimate_noise_sigma(v) == float(estimate_sigma(v.astype(np.float64),
                                                           channel_axis=None))
    # 0.178: the wavelet coefficients at the ends of the short z axis (symmetric extension)
    # read low; the weight_sigma factors absorb it
    assert estimate_noise_sigma(v) == pytest.approx(0.2, rel=0.15)


def test_tv2d_rows_equal_skimage_per_block():
    """denoise_rows(tv2d) = skimage per slice at weight_sigma x the block's noise estimate."""
    from skimage.restoration import denoise_tv_chambolle, estimate_sigma

    rng = np.random.default_rng(11)
    v = (0.3 * rng.standard_normal((12, 24, 20)) + 1.0).astype(np.float32)
    got = denoise_rows(v, 3, 12, {"method": "tv2d", "weight_sigma": 0.5, "block_slices": 8})
    for z0, z1 in ((0, 8), (8, 12)):
        s = float(estimate_sigma(v[z0:z1].astype(np.float64), channel_axis=None))
        for z in range(max(z0, 3), z1):
            ref = denoise_tv_chambolle(v[z], weight=0.5 * s, channel_axis=None)
            np.testing.assert_array_equal(got[z - 3], ref)


def test_tv_chambolle_2d_rejects_bad_input():
    with pytest.raises(ParameterError):
        tv_chambolle_2d(np.zeros((4, 4), np.float32), 0.0)
    with pytest.raises(InputError):
        tv_chambolle_2d(np.zeros(4, np.float32), 0.1)
