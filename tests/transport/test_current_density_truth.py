"""Library pieces of the current-density truth comparison: the map's noise estimate, the
agreement of two maps (with resampling), and the twin's true map (Faraday's law)."""

import numpy as np
import pytest
import scipy.ndimage as ndi

from ssbscope.transport.current_density import (empirical_variogram, map_agreement, map_noise,
                                                 map_noise_correlated)


def test_map_noise_recovers_white_noise_on_a_smooth_map():
    rng = np.random.default_rng(0)
    y, x = np.mgrid[0:64, 0:64]
    smooth = 0.5 + 0.1 * np.sin(y / 9.0) * np.cos(x / 7.0)
    a = smooth + rng.normal(0, 0.05, smooth.shape)
    a[:5] = np.nan
    assert map_noise(a) == pytest.approx(0.05, rel=0.08)
    assert map_noise(smooth) < 0.005
    assert np.isnan(map_noise(np.full((3, 3), np.nan)))


def _unit_field(rng, n, sigma_px):
    """Gaussian-filtered white noise of unit variance (the kernel's squared weights)."""
    delta = np.zeros((n, n))
    delta[n // 2, n // 2] = 1.0
    k2 = float((ndi.gaussian_filter(delta, sigma_px) ** 2).sum())
    return ndi.gaussian_filter(rng.standard_normal((n, n)), sigma_px) / np.sqrt(k2)


def _synthetic_map(seed, white, correlated, n=32):
    """A current-density-like map on a disk of ~550 pixels (the tiny twin's): a smooth signal
    (std 0.085, Gaussian correlation 4 px: the twin's plated-layer texture) + white noise +
    noise correlated over ~1 px (a 3x3 median filter's reach), of known standard deviations."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:n, :n]
    disk = (yy - n // 2) ** 2 + (xx - n // 2) ** 2 <= (0.42 * n) ** 2
    s = ndi.gaussian_filter(rng.standard_normal((n, n)), 4.0, mode="wrap")
    s = 0.5 + 0.085 * s / s.std()
    a = s + correlated * _unit_field(rng, n, 1.0) + rng.normal(0.0, white, (n, n))
    return np.where(disk, a, np.nan), float(np.hypot(white, correlated))


@pytest.mark.parametrize("white, correlated", [(0.02, 0.035), (0.05, 0.075), (0.0, 0.05)])
def test_correlated_noise_estimate_recovers_known_white_plus_correlated_noise(white, correlated):
    """White + correlated noise of known variance on a smooth signal: the variogram fit
    recovers the total noise (12 maps: median within -10 / +15 %, each within -35 / +45 %;
    measured medians 1.10, 1.01, 1.11), where the neighbour differences read ~0.5-0.7 of it."""
    got, white_est = [], []
    for seed in range(12):
        a, sd = _synthetic_map(seed, white, correlated)
        nm = map_noise_correlated(a)
        got.append(nm.noise / sd)
        white_est.append(nm.white_noise / sd)
        assert 0 < nm.correlation_length_px <= 3.0 and nm.n_px > 500
    assert 0.9 <= np.median(got) <= 1.15, got
    assert 0.65 <= min(got) and max(got) <= 1.45, got
    assert np.mean(white_est) < 0.75, white_est  # the white-noise estimate misses the part


def test_correlated_noise_estimate_on_white_noise_and_edge_cases():
    ratios = []
    for seed in range(6):
        a, sd = _synthetic_map(seed, 0.04, 0.0)
        nm = map_noise_correlated(a)
        ratios.append(nm.noise / sd)
        assert nm.correlation_length_px < 0.6        # white: no correlation length
        assert nm.white_noise == pytest.approx(sd, rel=0.2)
    assert 0.9 <= np.median(ratios) <= 1.1, ratios
    # too few pixels: NaN (the caller falls back to the white estimate)
    small = np.full((6, 6), 0.5)
    assert np.isnan(map_noise_correlated(small).noise)
    with pytest.raises(Exception, match="scale_ratio"):
        map_noise_correlated(np.zeros((20, 20)), scale_ratio=0.0)


def test_empirical_variogram_of_a_linear_ramp():
    """gamma(h) of a ramp a = c x over a full grid: c^2 dx^2 / 2 averaged over the offsets of
    each distance; at h = 1 the offsets (0, 1) and (1, 0) pool to c^2 / 4."""
    y, x = np.mgrid[0:20, 0:20]
    a = 0.3 * x.astype(float)
    a[0, 0] = np.nan
    h, g, n = empirical_variogram(a, 3.0)
    assert h[0] == 1.0 and h[1] == pytest.approx(np.sqrt(2.0)) and h[-1] == 3.0
    assert g[0] == pytest.approx(0.09 / 4, rel=0.01)
    assert g[1] == pytest.approx(0.09 / 2, rel=1e-9)       # (1, +-1): dx^2 = 1 each
    assert np.all(n > 0)


def test_map_agreement_and_resampling():
    rng = np.random.default_rng(1)
    y, x = np.mgrid[0:40, 0:40]
    ref = np.sin(y / 6.0) + np.cos(x / 5.0)
    meas = ref + rng.normal(0, 0.6, ref.shape) + 0.1
    ag = map_agreement(meas, ref, smoothing_px=2.0)
    assert ag.rms == pytest.approx(np.sqrt(0.6 ** 2 + 0.1 ** 2), rel=0.05)
    assert ag.bias == pytest.approx(0.1, abs=0.04)
    assert ag.correlation > 0.9 > ag.correlation_raw and ag.n_px == 1600
    # a reference on a twice finer grid of the same area, resampled onto the measured pixels
    c = (np.arange(40) + 0.5) * 3.0
    f = (np.arange(80) + 0.5) * 1.5
    yy, xx = np.meshgrid(f / 3.0 - 0.5, f / 3.0 - 0.5, indexing="ij")
    fine = np.sin(yy / 6.0) + np.cos(xx / 5.0)
    ag2 = map_agreement(ref, fine, measured_yx=(c, c), reference_yx=(f, f))
    assert ag2.rms < 0.01 and ag2.n_px >= 38 * 38
    with pytest.raises(Exception, match="shape"):
        map_agreement(ref, fine)


def test_twin_true_current_density_is_faraday_of_the_thickness_change():
    """14.5 µm of dense Li per 3 mAh cm^-2 (the issue's Faraday pair): 6 h at 0.5 mA cm^-2."""
    from ssbscope.twin.folder import true_current_density

    h0 = np.full((4, 5), 0.0)
    h0[0, 0] = np.nan
    h1 = np.full((4, 5), 14.5)
    h1[1, 1] = 29.0
    h1[0, 0] = np.nan
    out = true_current_density([(0.0, h0), (21600.0, h1)], 3.0)
    (iv,) = out["intervals"]
    j = np.array([[np.nan if v is None else v for v in r] for r in iv["current_density_ma_cm2"]])
    assert np.isnan(j[0, 0]) and j[1, 1] == pytest.approx(2 * j[2, 2], rel=1e-4)
    assert j[2, 2] == pytest.approx(0.5, rel=0.01)
    assert out["y_um"] == [1.5, 4.5, 7.5, 10.5] and len(out["x_um"]) == 5
    assert iv["t_start_s"] == 0 and iv["t_end_s"] == 21600
