"""The surface an interval's prediction is solved on: scan k's shares its height noise with the
measured thickness change (biased partial correlation); the mid-interval one does not when the
two scans are equally noisy, the noise-weighted one (inverse-variance mean) also when they are
not."""
import numpy as np
import pytest
from scipy import ndimage

from ssbscope.errors import ParameterError
from ssbscope.interface.topography import (height_conditioned_skill, interval_height,
                                           interval_height_weight)


def _field(rng, n, l_px):
    f = ndimage.gaussian_filter(rng.standard_normal((n, n)), l_px, mode="wrap")
    return f / f.std()


def _primary_first_order(h, thickness_px=20.0, smooth_px=1.0):
    """Small-slope primary current on ``h`` (periodic): 1 + a k coth(k L) h_hat, the
    first-order analytic solution of the surface-current model (a fast stand-in for the
    finite-volume solve; it responds to the height noise as the solve does)."""
    hs = ndimage.gaussian_filter(h, smooth_px, mode="wrap")
    n = h.shape[0]
    k = 2 * np.pi * np.hypot(*np.meshgrid(np.fft.fftfreq(n), np.fft.fftfreq(n), indexing="ij"))
    m = np.where(k > 0, k / np.tanh(np.maximum(k, 1e-9) * thickness_px), 1 / thickness_px)
    return 1 + 0.3 * np.real(np.fft.ifft2(m * np.fft.fft2(hs - hs.mean()))), hs


@pytest.mark.parametrize("sign", [+1, -1], ids=["plating", "stripping"])
def test_mid_interval_height_removes_the_shared_noise_bias(sign):
    # growth independent of the model (no skill beyond the height by construction), white
    # height noise of 0.3 texture std in each scan, measured |j| = |h1 - h0|
    n, draws, noise = 48, 20, 0.3
    pc = {"scan_start": [], "mid_interval": []}
    for d in range(draws):
        rng = np.random.default_rng(d)
        h = _field(rng, n, 3.0)
        growth = sign * (2.0 + 0.5 * _field(rng, n, 3.0))
        h0 = h + noise * rng.standard_normal((n, n))
        h1 = h + growth + noise * rng.standard_normal((n, n))
        meas = np.abs(h1 - h0)
        for choice in pc:
            pred, hs = _primary_first_order(interval_height(h0, h1, choice, weight=0.5))
            pc[choice].append(height_conditioned_skill(pred, meas, hs, n_shuffle=10,
                                                       seed=d).partial_correlation)
    old, new = np.mean(pc["scan_start"]), np.mean(pc["mid_interval"])
    se = np.std(pc["mid_interval"], ddof=1) / np.sqrt(draws)  # ~0.023
    # measured: scan_start -0.150 (plating) / +0.160 (stripping); mid_interval +-0.017
    assert sign * old < -0.10, (old, new)  # the old choice: low when plating, high stripping
    assert abs(new) < 0.06, (old, new, se)  # unbiased within ~2.5 standard errors
    assert abs(new) < abs(old) / 3


@pytest.mark.parametrize("sign", [+1, -1], ids=["plating", "stripping"])
def test_noise_weighted_height_removes_the_bias_of_unequal_noise(sign):
    # as above, but the later scan three times noisier than the earlier (as on the texture
    # twin, whose thicker layers' heights are measured on unfiltered grey values): the
    # mid-interval surface shares (var n1 - var n0) / 2 of the measured map's noise (with the
    # sign of the thickness change in |j|: high when plating, low when stripping), the
    # noise-weighted one none
    n, draws = 48, 8
    pc = {"mid_interval": [], "noise_weighted": []}
    ws = []
    for d in range(draws):
        rng = np.random.default_rng(100 + d)
        h = _field(rng, n, 3.0)
        growth = sign * (2.0 + 0.5 * _field(rng, n, 3.0))
        h0 = h + 0.15 * rng.standard_normal((n, n))
        h1 = h + growth + 0.45 * rng.standard_normal((n, n))
        meas = np.abs(h1 - h0)
        w = interval_height_weight(h0, h1)[0]
        ws.append(w)
        for choice in pc:
            pred, hs = _primary_first_order(interval_height(h0, h1, choice, weight=w))
            pc[choice].append(height_conditioned_skill(pred, meas, hs, n_shuffle=10,
                                                       seed=d).partial_correlation)
    mid, new = np.mean(pc["mid_interval"]), np.mean(pc["noise_weighted"])
    se = np.std(pc["noise_weighted"], ddof=1) / np.sqrt(draws)
    print(sign, mid, new, se, np.mean(ws), np.std(ws))
    # the weight: 0.45^2 / (0.15^2 + 0.45^2) = 0.9 (each map's noise fitted on itself)
    assert abs(np.mean(ws) - 0.9) < 0.04
    # measured (8 draws): mid-interval +0.13 (plating) / -0.16 (stripping), noise-weighted
    # -0.02 +- 0.03 / -0.02 +- 0.03
    assert sign * mid > 0.08, (mid, new)  # the mid-interval surface: biased
    assert abs(new) < max(0.06, 2.5 * se), (mid, new, se)
    assert abs(new) < abs(mid) / 3


def test_interval_height_weight_of_equal_and_unequal_noise():
    rng = np.random.default_rng(7)
    h = 3.0 * _field(rng, 40, 3.0)
    a, b = h + 0.3 * rng.standard_normal(h.shape), h + 1.0 + 0.3 * rng.standard_normal(h.shape)
    w, s0, s1 = interval_height_weight(a, b)
    assert w == pytest.approx(0.5, abs=0.1) and s0 == pytest.approx(0.3, rel=0.2)
    w, s0, s1 = interval_height_weight(a, h + 0.9 * rng.standard_normal(h.shape))
    assert w == pytest.approx(0.9, abs=0.05) and s1 == pytest.approx(0.9, rel=0.15)
    # too few pixels to fit a noise model: the mid-interval surface
    tiny = np.full((40, 40), np.nan)
    tiny[:2, :2] = 1.0
    assert interval_height_weight(tiny, tiny)[0] == 0.5


def test_interval_height_choices():
    a, b = np.zeros((3, 3)), np.full((3, 3), 2.0)
    b[0, 0] = np.nan
    mid = interval_height(a, b, "mid_interval")
    assert mid[1, 1] == 1.0 and np.isnan(mid[0, 0])
    assert interval_height(a, b, weight=0.25)[1, 1] == 1.5
    with pytest.raises(ParameterError):
        interval_height(a, b, weight=1.5)
    assert np.array_equal(interval_height(a, b, "scan_start"), a)
    with pytest.raises(ParameterError):
        interval_height(a, b, "scan_end")
    with pytest.raises(ParameterError):
        interval_height(a, np.zeros((2, 2)))
