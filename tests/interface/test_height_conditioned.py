"""Skill beyond the height: the height-conditioned baseline of the hot-spot comparison (issue 17 §2).

The shuffled baseline of :func:`ssbscope.interface.hot_spot_overlap` credits any map that is a
function of the height when the growth follows the height itself.  References here are
synthetic maps whose dependence on the height is known by construction:

- ``measured = f(h) + noise`` (f nonlinear, noise correlated over a pixel): the shuffled
  baseline says skill for a prediction ``g(h)`` and for the primary current on ``h``, the
  height-conditioned test must not (the prediction cannot know the noise);
- ``measured = f(h) + c curvature + noise`` with the primary current as the prediction:
  the current concentrates on convex features whatever their height, so the prediction
  carries information beyond the height and the test must find it;
- the null over many noise draws: the z-scores against the surrogates must be ~N(0, 1)
  (a permutation within height bins, which ignores the spatial correlation, gives
  z 4.5 +- 4.1 on this kind of map: the docstring of
  :func:`ssbscope.interface.height_conditioned_skill`).
"""

import numpy as np
import pytest
from scipy import ndimage

from ssbscope.errors import ParameterError
from ssbscope.interface import height_conditioned_skill, hot_spot_overlap, surface_current

N, PX, SMOOTH = 56, 2.0, 2.0


def _disk(n):
    yy, xx = np.mgrid[:n, :n] - n / 2 + 0.5
    return yy ** 2 + xx ** 2 <= (0.47 * n) ** 2


@pytest.fixture(scope="module")
def surface():
    """A textured Li surface (um) on a disk cell and its primary current (mA/cm2)."""
    rng = np.random.default_rng(3)
    tex = ndimage.gaussian_filter(rng.standard_normal((N, N)), 3.0, mode="wrap")
    cell = _disk(N)
    h = np.where(cell, 10.0 + 4.0 * tex / tex.std(), np.nan)
    pred = surface_current(h, PX, conductivity_s_cm=2e-3, thickness_um=100.0,
                           current_ma_cm2=1.0, max_nodes=28).projected_current_ma_cm2
    return h, pred, cell


def _noise(seed):
    n = ndimage.gaussian_filter(np.random.default_rng(seed).standard_normal((N, N)), 1.0)
    return n / n.std()


def _f(h):
    """A strongly nonlinear growth law of the height (x 20 over the map)."""
    return np.exp(0.75 * (h - np.nanmean(h)) / np.nanstd(h))


@pytest.mark.parametrize("which", ["g(h)", "model"])
def test_growth_that_follows_the_height_has_no_skill_beyond_it(surface, which):
    h, model, cell = surface
    pred = 1.0 + 0.05 * (h - 10.0) + 0.002 * (h - 10.0) ** 3 if which == "g(h)" else model
    measured = _f(h) + 0.3 * _noise(11)
    c = hot_spot_overlap(pred, measured, n_shuffle=100, pixel_um=PX, smoothing_um=SMOOTH)
    s = height_conditioned_skill(pred, measured, h, n_shuffle=100, pixel_um=PX,
                                 smoothing_um=SMOOTH)
    print(which, c.overlap, c.baseline_overlap, c.overlap_z, c.correlation_z, "|",
          s.conditional_baseline_overlap, s.conditional_overlap_z, s.partial_correlation,
          s.partial_correlation_z, s.partial_correlation_p, s.height_only_overlap)
    # the shuffled baseline credits the prediction ...
    assert c.overlap_z > 3 and c.correlation_z > 3 and c.overlap > c.baseline_overlap + 0.4
    # ... the height-conditioned one does not: the height explains the agreement
    assert not s.beyond_height and s.verdict == "no skill beyond height"
    assert s.partial_correlation_p > 0.1 and abs(s.partial_correlation_z) < 1.5
    assert abs(s.conditional_overlap_z) < 1.5
    assert s.overlap == pytest.approx(c.overlap) and s.correlation == pytest.approx(c.correlation)
    # the height alone predicts the measured hot spots at least as well as the prediction
    assert s.height_only_overlap >= s.overlap - 0.05 and s.height_only_correlation > 0.9


def test_growth_that_follows_the_predicted_curvature_is_skill_beyond_the_height(surface):
    h, model, cell = surface
    curv = -ndimage.laplace(ndimage.gaussian_filter(np.where(cell, h, 10.0), 1.5))
    curv = np.where(cell, curv / curv[cell].std(), np.nan)
    measured = _f(h) + 0.5 * curv + 0.3 * _noise(12)
    s = height_conditioned_skill(model, measured, h, n_shuffle=100, pixel_um=PX,
                                 smoothing_um=SMOOTH)
    c = hot_spot_overlap(model, measured, n_shuffle=100, pixel_um=PX, smoothing_um=SMOOTH)
    print(c.overlap, c.baseline_overlap, c.overlap_z, "|", s.conditional_baseline_overlap,
          s.conditional_overlap_z, s.partial_correlation, s.partial_correlation_z,
          s.partial_correlation_p, s.height_only_overlap)
    assert s.beyond_height and s.verdict == "skill beyond height"
    assert s.partial_correlation > 0.4 and s.partial_correlation_p < 0.02
    assert s.partial_correlation_z > 3
    # the same growth without the curvature term: nothing beyond the height
    s0 = height_conditioned_skill(model, _f(h) + 0.3 * _noise(12), h, n_shuffle=100,
                                  pixel_um=PX, smoothing_um=SMOOTH)
    assert not s0.beyond_height and s.partial_correlation > s0.partial_correlation + 0.3


def test_z_scores_under_the_null_are_standard_normal(surface):
    # growth linear in the height plus noise correlated over a pixel, 16 noise draws: the
    # observed partial correlation is one more draw of its surrogates
    h, model, cell = surface
    z, p = [], []
    for k in range(16):
        s = height_conditioned_skill(model, 2.0 + 0.25 * (h - 10.0) + _noise(100 + k), h,
                                     n_shuffle=50, seed=k, pixel_um=PX, smoothing_um=SMOOTH)
        z.append(s.partial_correlation_z)
        p.append(s.partial_correlation_p)
    z, p = np.asarray(z), np.asarray(p)
    print(np.round(z, 2), z.mean(), z.std())
    assert abs(z.mean()) < 0.6 and 0.6 < z.std() < 1.5
    assert np.sum(p <= 0.05) <= 3  # 0.8 expected


def test_bad_inputs_are_refused_with_the_field_named(surface):
    h, model, cell = surface
    m = np.where(cell, 1.0, np.nan)
    with pytest.raises(ParameterError, match="height"):
        height_conditioned_skill(model, m, h[:-1])
    with pytest.raises(ParameterError, match="n_height_bins"):
        height_conditioned_skill(model, m, h, n_height_bins=1)
    with pytest.raises(ParameterError, match="height"):  # a flat surface: nothing to condition on
        height_conditioned_skill(model, m + _noise(1), np.where(cell, 5.0, np.nan))
    with pytest.raises(ParameterError, match="measured"):
        height_conditioned_skill(model[:8, :8], m[:8, :8], h[:8, :8])
