"""The shared map-noise model (ssbscope.mapnoise) against maps with a known noise.

Reference: the noise itself, drawn independently of the estimator (white noise plus white
noise filtered by a Gaussian of std ``l`` pixels, each part scaled to its std) and added to a
signal; the truth is the noise's std on the map's pixels, and after a Gaussian smoothing the
std of the smoothed noise alone (same normalised convolution on the same pixels), pooled over
draws.  Bounds are stated per case from benchmarks/map_noise_estimators.py (96 x 96 disk maps,
3 draws): l = 0-1.5 px: 0.90-1.10 under smooth and 6 um hot-spot signals (the former
periodogram estimator: 0.38-1.14, the former variogram one: 0.34-2.39).
"""

import numpy as np
import pytest
from scipy import ndimage as ndi

from ssbscope._maps import smooth_with_gaps
from ssbscope.mapnoise import MapNoiseModel, fit_map_noise, robust_variogram

N = 96


def _disk(n=N):
    yy, xx = np.mgrid[:n, :n] - n / 2 + 0.5
    return np.hypot(yy, xx) < 0.45 * n


def _signal(kind, rng, n=N):
    y, x = np.mgrid[0:n, 0:n].astype(float)
    s = np.ones((n, n))
    if kind == "smooth":  # Gaussian random field, 4 px, std 0.15
        f = ndi.gaussian_filter(rng.standard_normal((n, n)), 4.0, mode="wrap")
        return s + 0.15 * f / f.std()
    if kind == "hotspots":  # 3 px Gaussian bumps of +50 %
        for cy, cx in rng.uniform(5, n - 5, size=(10, 2)):
            s += 0.5 * np.exp(-((x - cx) ** 2 + (y - cy) ** 2) / (2 * 3.0 ** 2))
        return s
    # sharp: 1.25 px bumps of +30-56 % and hard-edged plateaus (steps of 0.2)
    for cy, cx in rng.uniform(5, n - 5, size=(14, 2)):
        s += rng.uniform(0.3, 0.56) * np.exp(-((x - cx) ** 2 + (y - cy) ** 2) / (2 * 1.25 ** 2))
    for cy, cx in rng.uniform(8, n - 8, size=(5, 2)):
        s += 0.2 * (np.hypot(x - cx, y - cy) < rng.uniform(3, 7))
    return s


def _noise(rng, white, corr, l_px, n=N):
    f = white * rng.standard_normal((n, n))
    if corr > 0:
        c = ndi.gaussian_filter(rng.standard_normal((n, n)), l_px, mode="wrap")
        f += corr * c / c.std()
    return f


def _ratios(kind, white, corr, l_px, smoothings_px=(0.0, 2.0, 6.0), draws=3):
    """Estimate over truth (pooled variances over draws) for each smoothing (pixels)."""
    cell = _disk()
    est = {s: [] for s in smoothings_px}
    true = {s: [] for s in smoothings_px}
    models = []
    for d in range(draws):
        rng = np.random.default_rng(1000 * d + int(10 * l_px) + 7)
        s, nz = _signal(kind, rng), _noise(rng, white, corr, l_px)
        m = np.where(cell, s + nz, np.nan)
        r = fit_map_noise(m)
        models.append(r)
        for sm in smoothings_px:
            true[sm].append(np.nanvar(smooth_with_gaps(np.where(cell, nz, np.nan), sm, cell)))
            est[sm].append(r.smoothed_sigma(sm, valid=cell) ** 2)
    ratios = {sm: float(np.sqrt(np.mean(est[sm]) / np.mean(true[sm]))) for sm in smoothings_px}
    return ratios, models


@pytest.mark.parametrize("kind, white, corr, l_px, lo, hi", [
    ("smooth", 0.0, 0.1, 0.0, 0.85, 1.15),     # white only (measured 0.96-1.00)
    ("smooth", 0.05, 0.1, 0.5, 0.8, 1.2),      # measured 0.91-1.00
    ("smooth", 0.05, 0.1, 1.0, 0.85, 1.2),     # 0.99-1.02
    ("smooth", 0.0, 0.1, 1.5, 0.8, 1.2),       # correlated only, 1.00-1.04
    ("hotspots", 0.0, 0.1, 0.0, 0.8, 1.2),     # 0.93-1.01
    ("hotspots", 0.05, 0.1, 1.0, 0.85, 1.25),  # 1.04-1.10
    ("hotspots", 0.05, 0.1, 1.5, 0.8, 1.2),    # 0.94-0.96
])
def test_known_noise_is_recovered_smoothed_and_unsmoothed(kind, white, corr, l_px, lo, hi):
    ratios, models = _ratios(kind, white, corr, l_px)
    assert all(lo <= v <= hi for v in ratios.values()), ratios
    if l_px == 0:
        assert sum(m.model == "white" for m in models) >= 2, [m.model for m in models]
    else:
        assert all(m.model == "white+gaussian" for m in models)
        assert np.median([m.correlation_length_px for m in models]) == pytest.approx(l_px, abs=0.3)


def test_sharp_features_stay_out_and_the_limits_are_what_the_docstring_states():
    # 1.25 px hot spots and steps with correlated noise: the robust variogram keeps them out
    ratios, _ = _ratios("sharp", 0.05, 0.1, 1.0)
    assert all(0.9 <= v <= 1.3 for v in ratios.values()), ratios  # measured 1.06-1.12
    # with white noise only, the sharp signal reads as some correlated noise: conservative
    # (high), and far below the former periodogram's 2.6-2.9 after smoothing
    ratios, _ = _ratios("sharp", 0.0, 0.1, 0.0)
    assert 0.95 <= ratios[0.0] <= 1.2 and 1.0 <= ratios[6.0] <= 2.5, ratios  # 1.10 / 2.15
    # noise correlated over l = 3 px (e-folding 6 px) under a 4 px signal: taken for signal,
    # the estimate is low (the identifying assumption fails; measured 0.06-0.45)
    ratios, _ = _ratios("smooth", 0.05, 0.1, 3.0, draws=1)
    assert ratios[6.0] < 0.7, ratios


def test_the_white_smoothing_factor_and_the_interior_formula():
    # white model: interior std after smoothing by s px = sigma sqrt(sum w^2) ~ 1/(2 sqrt(pi) s)
    m = MapNoiseModel(0.2, 0.2, 0.0, 0.0, "white", 0.0, 0.0, 0.2, 10.0, 1000)
    assert m.smoothed_sigma(4.0) == pytest.approx(0.2 / (2 * np.sqrt(np.pi) * 4.0), rel=0.02)
    assert m.smoothed_sigma(8.0, 2.0) == pytest.approx(m.smoothed_sigma(4.0), rel=1e-12)
    # correlated model: the interior formula equals the std of smoothed draws of the model
    c = MapNoiseModel(float(np.hypot(0.05, 0.1)), 0.05, 0.1, 1.5, "white+gaussian", 0.0, 0.0,
                      0.05, 10.0, 1000)
    rng = np.random.default_rng(3)
    draws = [ndi.gaussian_filter(c.field((256, 256), rng), 3.0, mode="wrap").std()
             for _ in range(6)]
    assert c.smoothed_sigma(3.0) == pytest.approx(np.sqrt(np.mean(np.square(draws))), rel=0.05)
    assert c.field((300, 300), np.random.default_rng(1)).std() == pytest.approx(c.sigma, rel=0.05)
    assert c.correlation(0, 0) == 1.0 and 0 < c.correlation(1, 0) < c.correlation(0, 0)
    assert c.correlation(1, 0) == pytest.approx(c.correlation(0, 1))
    assert c.smoothed_sigma(0.0) == c.sigma and c.smoothed_sigma(None) == c.sigma


def test_robust_variogram_ignores_a_few_outliers_and_edge_cases():
    rng = np.random.default_rng(0)
    a = 0.1 * rng.standard_normal((60, 60))
    b = a.copy()
    b[rng.random(a.shape) < 0.01] += 5.0  # 1 % of pixels: spikes
    h, g, _, _ = robust_variogram(a, 3.0)
    hb, gb, _, _ = robust_variogram(b, 3.0)
    assert np.allclose(g, 0.01, rtol=0.08)  # white noise: gamma = sigma^2 at every lag
    assert np.allclose(gb, 0.01, rtol=0.15)  # the spikes are trimmed
    _, gm, _, _ = robust_variogram(b, 3.0, trim_fraction=0.0)
    assert np.all(gm > 10 * 0.01)  # the classical estimator is dominated by them
    with pytest.raises(Exception, match="trim_fraction"):
        robust_variogram(a, 3.0, trim_fraction=0.95)
    small = fit_map_noise(np.full((6, 6), 0.5))
    assert small.model == "none" and np.isnan(small.sigma) and np.isnan(small.smoothed_sigma(2))
    flat = fit_map_noise(np.full((20, 20), 0.5))
    assert flat.sigma == 0.0 and flat.model == "white"
