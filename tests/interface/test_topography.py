"""Current on a measured topography (issue 17 §2) and the hot-spot comparison.

References: a flat surface (uniform current), the first-order analytic solution of a gentle
cosine surface (primary distribution ``j / j0 = 1 + a k cos(kx)`` on a thick electrolyte),
the periodic contour model of :func:`ssbscope.interface.current_distribution` (a quarter
cell sampled as a pixel map; mirror sides make it the same periodic problem), and a surface
with imposed protrusions for the hot-spot overlap against its shuffled-map baseline.
"""

import numpy as np
import pytest

from ssbscope.errors import ParameterError
from ssbscope.interface import current_distribution, hot_spot_overlap, surface_current
from ssbscope.interface.shapes import li_height_um

KW = {"conductivity_s_cm": 2e-3, "thickness_um": 1000.0, "current_ma_cm2": 1.5}


def test_flat_map_carries_the_geometric_current_everywhere():
    r = surface_current(np.full((9, 12), 4.0), 5.0, **KW)
    np.testing.assert_allclose(r.current_ma_cm2, 1.5, rtol=1e-8)
    assert r.area_ratio == pytest.approx(1.0) and r.current_ma_cm2.shape == (9, 12)
    rk = surface_current(np.zeros((9, 12)), 5.0, r_ct_ohm_cm2=10.0, **KW)
    np.testing.assert_allclose(rk.current_ma_cm2, 1.5, rtol=1e-8)


def test_gentle_cosine_matches_the_first_order_analytic_current():
    lam, a = 100.0, 0.8  # a k = 0.05
    k = 2 * np.pi / lam
    x = np.linspace(0.0, lam, 33)  # pixel centres; mirror sides through the crests
    h = np.tile(a * np.cos(k * x), (5, 1))  # (ny, nx), uniform along y
    r = surface_current(h, (10.0, x[1] - x[0]), n_zeta=24, **KW)
    expected = 1.5 * (1 + a * k * np.cos(k * x))
    np.testing.assert_allclose(r.current_ma_cm2[2], expected, rtol=3e-3)


@pytest.mark.parametrize("r_ct", [None, 10.0])
def test_quarter_cell_map_reproduces_the_periodic_contour_model(r_ct):
    H, S, n = 25.0, 150.0, 16
    xs = np.linspace(0.0, S / 2, n + 1)
    X, Y = np.meshgrid(xs, xs, indexing="ij")
    h = li_height_um("egg-box", X, Y, H, S).T  # (ny, nx)
    r = surface_current(h, xs[1], r_ct_ohm_cm2=r_ct, n_zeta=n, **KW)
    d = current_distribution("egg-box", H, S, r_ct_ohm_cm2=r_ct, conductivity_s_cm=2e-3,
                             thickness_um=1000.0, geometric_current_ma_cm2=1.5, n_xy=n, n_zeta=n)
    np.testing.assert_allclose(r.current_ma_cm2, d.local_current_ma_cm2.T, rtol=0.02)
    assert r.area_ratio == pytest.approx(d.area_ratio, rel=0.01)
    assert r.flux_balance < 1e-6
    # the mean projected current is the geometric current
    assert r.projected_current_ma_cm2[1:-1, 1:-1].mean() == pytest.approx(1.5, rel=0.03)


def _bumpy_surface(seed=3, n=72, pixel=2.0, n_bumps=6):
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:n, 0:n] * pixel
    h = np.zeros((n, n))
    centres = rng.uniform(0.15, 0.85, size=(n_bumps, 2)) * n * pixel
    for cy, cx in centres:
        h += 6.0 * np.exp(-((x - cx) ** 2 + (y - cy) ** 2) / (2 * 6.0 ** 2))
    return h, centres, x, y


def test_coarsened_solve_matches_the_full_grid():
    h, *_ = _bumpy_surface(n=48)
    full = surface_current(h, 2.0, max_nodes=48, **KW)
    coarse = surface_current(h, 2.0, max_nodes=24, **KW)
    assert coarse.grid_stride == 2 and coarse.current_ma_cm2.shape == h.shape
    hot = full.current_ma_cm2 > np.quantile(full.current_ma_cm2, 0.9)
    assert np.corrcoef(full.current_ma_cm2.ravel(), coarse.current_ma_cm2.ravel())[0, 1] > 0.95
    assert coarse.current_ma_cm2[hot].mean() > np.quantile(coarse.current_ma_cm2, 0.8)


def test_predicted_hot_spots_overlap_the_imposed_ones_far_above_the_shuffled_baseline():
    # a plated Li surface whose protrusions are known: Li grows fastest at their tips, so the
    # "measured" current-density map (thickness change between two scans) has its hot spots
    # there, with measurement noise
    h, centres, x, y = _bumpy_surface()
    rng = np.random.default_rng(1)
    imposed = np.zeros_like(h)
    for cy, cx in centres:
        imposed += np.exp(-((x - cx) ** 2 + (y - cy) ** 2) / (2 * 5.0 ** 2))
    measured = imposed + 0.1 * rng.standard_normal(h.shape)
    pred = surface_current(h + 0.2 * rng.standard_normal(h.shape), 2.0, smooth_um=2.0, **KW)
    cmp_ = hot_spot_overlap(pred.current_ma_cm2, measured, n_shuffle=100)
    assert cmp_.overlap > 0.5 > 3 * cmp_.baseline_overlap
    assert cmp_.overlap_z > 5
    assert cmp_.correlation > 0.5 > cmp_.baseline_correlation + 0.3


def test_bad_maps_are_refused_with_the_field_named():
    with pytest.raises(ParameterError, match="height_um"):
        surface_current(np.zeros(5), 1.0, **KW)
    with pytest.raises(ParameterError, match="height_um"):
        surface_current(np.full((4, 4), np.nan), 1.0, **KW)
    with pytest.raises(ParameterError, match="thickness_um"):
        surface_current(np.array([[0, 0, 0], [0, 50, 0], [0, 0, 0.0]]), 1.0,
                        **{**KW, "thickness_um": 10.0})
    gappy = np.zeros((6, 6))
    gappy[2, 3] = np.nan
    assert surface_current(gappy, 1.0, **KW).filled_fraction == pytest.approx(1 / 36)


def test_creep_pressure_on_a_quarter_cell_map_matches_the_periodic_model():
    # the egg-box quarter cell as a measured map: mirror extension = the periodic cell
    from ssbscope.interface import creep_pressure, surface_creep_pressure

    H, S, n = 5.0, 150.0, 16
    xs = np.linspace(0.0, S / 2, n + 1)
    X, Y = np.meshgrid(xs, xs, indexing="ij")
    h = li_height_um("egg-box", X, Y, H, S).T
    r = surface_current(h, xs[1], r_ct_ohm_cm2=10.0, n_zeta=n, **KW)
    d = current_distribution("egg-box", H, S, r_ct_ohm_cm2=10.0, conductivity_s_cm=2e-3,
                             thickness_um=1000.0, geometric_current_ma_cm2=1.5, n_xy=n, n_zeta=n)
    for stress in ("mean", "normal"):
        ref = creep_pressure(d, stress=stress)
        got = surface_creep_pressure(r, stress=stress)
        assert got.strain_rate_1_s == pytest.approx(ref.strain_rate_1_s, rel=0.05)
        scale = ref.max_excess_pressure_mpa
        step = ref.excess_pressure_mpa.shape[0] // (2 * n)
        quarter = ref.excess_pressure_mpa[: n * step + 1: step, : n * step + 1: step].T
        np.testing.assert_allclose(got.excess_pressure_mpa, quarter, atol=0.1 * scale)


def _hot_spot_signal(n=80, pixel=2.0, seed=0):
    """A smooth positive 'current map' with Gaussian hot spots (6 um) on a mean of 1."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:n, 0:n] * pixel
    s = np.ones((n, n))
    for cy, cx in rng.uniform(10, n * pixel - 10, size=(8, 2)):
        s += 0.5 * np.exp(-((x - cx) ** 2 + (y - cy) ** 2) / (2 * 6.0 ** 2))
    return s


@pytest.mark.parametrize("sigma", [0.02, 0.1, 0.3])
def test_white_noise_std_recovers_a_known_noise_under_a_smooth_signal(sigma):
    from ssbscope.interface import white_noise_std

    s = _hot_spot_signal()
    m = s + sigma * np.random.default_rng(1).standard_normal(s.shape)
    assert white_noise_std(m) == pytest.approx(sigma, rel=0.05)
    # the signal alone reads as (almost) no noise, while its pixel std is large
    assert white_noise_std(s) < 0.01 * np.std(s)
    # NaN pixels (outside a cell) are left out, not counted as steps
    m[:, :10] = np.nan
    assert white_noise_std(m) == pytest.approx(sigma, rel=0.06)
    # voxel-quantised values: the rms (not Immerkaer's mean |.|) keeps the right size
    q = np.round(m / (3 * sigma)) * (3 * sigma)
    assert white_noise_std(q) == pytest.approx(np.nanstd(q - s), rel=0.1)


@pytest.mark.parametrize("smoothing_um", [2.0, 5.0])
def test_smoothing_lowers_white_noise_by_the_filter_factor(smoothing_um):
    from ssbscope.interface import smooth_map
    from ssbscope.interface.topography import smoothing_noise_factor

    rng = np.random.default_rng(2)
    got = np.sqrt(np.mean([np.var(smooth_map(rng.standard_normal((256, 256)), 2.0,
                                             smoothing_um)[20:-20, 20:-20]) for _ in range(4)]))
    f = smoothing_noise_factor(2.0, smoothing_um)
    assert got == pytest.approx(f, rel=0.05)
    assert f == pytest.approx(1 / (2 * np.sqrt(np.pi) * smoothing_um / 2.0), rel=0.1)
    # NaN gaps stay NaN and do not leak into their neighbours' values
    a = np.ones((20, 20))
    a[5, 5] = np.nan
    sm = smooth_map(a, 1.0, 2.0)
    assert np.isnan(sm[5, 5]) and np.allclose(sm[np.isfinite(sm)], 1.0)


def test_a_prediction_below_the_noise_floor_is_not_resolvable_whatever_its_correlation():
    # the anode-free demo's situation: a ~1 % predicted contrast that follows the height, a
    # measured map with 25 % pixel noise on a persistent texture the height shares
    s = _hot_spot_signal(seed=4)
    rng = np.random.default_rng(5)
    pred = 1.0 + 0.02 * (s - s.mean())  # ~1 % contrast, the same pattern
    measured = s + 0.25 * rng.standard_normal(s.shape)
    c = hot_spot_overlap(pred, measured, n_shuffle=50)
    assert c.predicted_contrast < 0.02 and c.measured_noise_floor > 0.15
    assert c.verdict == "not resolvable" and not c.resolvable
    # smoothing lowers the floor by the filter factor but not below the 1 % contrast
    cs = hot_spot_overlap(pred, measured, n_shuffle=50, pixel_um=2.0, smoothing_um=4.0)
    assert cs.measured_noise_floor == pytest.approx(c.measured_noise_floor * 0.141, rel=0.1)
    assert cs.verdict == "not resolvable" and cs.smoothing_um == 4.0
    # the same pattern predicted with its full contrast is resolvable, and has skill
    ok = hot_spot_overlap(s, measured, n_shuffle=50, pixel_um=2.0, smoothing_um=4.0)
    assert ok.verdict == "resolvable" and ok.contrast_to_noise > 2
    assert ok.overlap_z > 3 and ok.correlation_z > 3


def _white_plus_correlated(n, white_std, corr_std, corr_px, rng):
    """White noise plus white noise filtered by a Gaussian of std ``corr_px`` (pixels), each
    component scaled to its std: the noise model of :func:`ssbscope.interface.map_noise`."""
    from scipy import ndimage

    c = ndimage.gaussian_filter(rng.standard_normal((n, n)), corr_px, mode="wrap")
    return white_std * rng.standard_normal((n, n)) + corr_std * c / c.std()


def _disk(n):
    yy, xx = np.mgrid[:n, :n] - n / 2 + 0.5
    return np.hypot(yy, xx) < 0.45 * n


@pytest.mark.parametrize("white_std, corr_std, corr_px", [(0.05, 0.1, 1.0), (0.1, 0.1, 0.7),
                                                          (0.0, 0.1, 1.2), (0.1, 0.0, 0.0)])
def test_map_noise_recovers_the_smoothed_std_of_white_plus_correlated_noise(white_std, corr_std,
                                                                            corr_px):
    # reference: the std of the known noise itself after the same smoothing (mean variance of
    # 4 draws: one draw of a 12 um smoothing holds only ~40 independent patches), on a disk
    # with the hot-spot signal (6 um bumps) the estimator must not take for noise
    from ssbscope.interface import map_noise, smooth_map

    n, px = 128, 2.0
    cell = _disk(n)
    s = _hot_spot_signal(n, px, seed=3)
    rng = np.random.default_rng(11)
    for sm in (4.0, 12.0):
        est, true_var, white = [], [], []
        for _ in range(4):
            noise = _white_plus_correlated(n, white_std, corr_std, corr_px, rng) if corr_std \
                else white_std * rng.standard_normal((n, n))
            m = np.where(cell, s + noise, np.nan)
            r = map_noise(m, px, sm)
            est.append(r.std)
            white.append(r.white_assumption_std)
            true_var.append(np.nanvar(smooth_map(np.where(cell, noise, np.nan), px, sm)))
        true = np.sqrt(np.mean(true_var))
        # stated tolerance: 20 % of the true smoothed-noise std (measured 0.84-1.09; the
        # estimate falls to ~0.6 for a purely correlated noise of 1.4 px, map_noise's limit)
        assert np.mean(est) == pytest.approx(true, rel=0.2), (sm, np.mean(est), true)
        if corr_std:
            # the white-noise assumption misses it by far (this is what the test guards)
            assert np.mean(white) < 0.5 * true, (sm, np.mean(white), true)
            assert r.correlation_length_px == pytest.approx(corr_px, abs=0.25)
        else:
            assert r.correlation_length_px == 0.0 and r.correlated_std == 0.0


def test_heavy_smoothing_of_a_skill_free_map_is_not_resolvable():
    # the measured map: a texture of its own (unrelated to the prediction) plus noise
    # correlated over ~1 pixel; the prediction: other hot spots with a ~1 % contrast.  Heavy
    # smoothing lowers a white-noise floor below the predicted contrast (the former verdict
    # "resolvable"); the floor with the correlation stays above it.
    n, px = 128, 2.0
    cell = _disk(n)
    rng = np.random.default_rng(21)
    measured = np.where(cell, 4.0 * _hot_spot_signal(n, px, seed=7)
                        + _white_plus_correlated(n, 0.1, 0.4, 1.0, rng), np.nan)
    s = _hot_spot_signal(n, px, seed=8)
    pred = np.where(cell, 1.0 + 0.25 * (s - s.mean()), np.nan)
    for sm in (12.0, 24.0):
        c = hot_spot_overlap(pred, measured, n_shuffle=40, pixel_um=px, smoothing_um=sm)
        white_floor = c.measured_white_noise_std / abs(c.measured_mean)
        assert c.predicted_contrast > white_floor, (sm, c.predicted_contrast, white_floor)
        assert c.verdict == "not resolvable", (sm, c.predicted_contrast, c.measured_noise_floor)
        assert c.noise_correlation_length_px == pytest.approx(1.0, abs=0.25)
    # the same noise with a prediction of the measured texture's full contrast: resolvable
    ok = hot_spot_overlap(np.where(cell, _hot_spot_signal(n, px, seed=7), np.nan), measured,
                          n_shuffle=40, pixel_um=px, smoothing_um=12.0)
    assert ok.verdict == "resolvable" and ok.overlap_z > 3, (ok.contrast_to_noise, ok.overlap_z)
