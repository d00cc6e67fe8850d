"""Library pieces of the current-density truth comparison: the map's noise estimate, the
agreement of two maps (with resampling), and the twin's true map (Faraday's law)."""

import numpy as np
import pytest

from ssbscope.transport.current_density import map_agreement, map_noise


def test_map_noise_recovers_white_noise_on_a_smooth_map():
    rng = np.random.default_rng(0)
    y, x = np.mgrid[0:64, 0:64]
    smooth = 0.5 + 0.1 * np.sin(y / 9.0) * np.cos(x / 7.0)
    a = smooth + rng.normal(0, 0.05, smooth.shape)
    a[:5] = np.nan
    assert map_noise(a) == pytest.approx(0.05, rel=0.08)
    assert map_noise(smooth) < 0.005
    assert np.isnan(map_noise(np.full((3, 3), np.nan)))


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
