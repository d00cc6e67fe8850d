"""Saturated-pixel and gamma-spot removal against the twin's injected spots."""

import numpy as np
import pytest

from ssbscope.errors import DataQualityError, ParameterError
from ssbscope.neutron import remove_gamma_spots, remove_saturated_pixels


@pytest.fixture(scope="module")
def cleaned(twin):
    n = 150
    raw = twin.images[:n]
    desat, smask = remove_saturated_pixels(raw, return_mask=True)
    out, gmask = remove_gamma_spots(desat, return_mask=True)
    return n, out, gmask, smask


def test_acceptance_gamma_spots_removed_and_spot_free_pixels_untouched(twin, cleaned):
    """Acceptance: >= 99 % of injected spots removed; spot-free pixels change < 0.5 %."""
    n, out, gmask, smask = cleaned
    tr = twin.truth
    clean = tr.images_without_spots[:n].astype(np.float64)
    dark = tr.dark_map_adu
    g = twin.config.gain_adu_per_count
    sigma = np.sqrt(g * np.maximum(clean - dark, 0) + twin.config.read_noise_adu ** 2 + 1.0)
    resid = np.abs(out - clean) / sigma
    labels = tr.spot_labels[:n]
    ids = np.unique(labels[labels > 0])
    # a spot is removed when none of its pixels stays above 5 counting sigmas
    worst = np.zeros(labels.max() + 1)
    np.maximum.at(worst, labels[labels > 0], resid[labels > 0])
    removed = np.mean(worst[ids] < 5.0)
    assert ids.size > 1000
    assert removed >= 0.99
    free = (labels == 0) & ~tr.saturated_mask[:n]
    changed = out[free] != twin.images[:n][free]
    assert changed.mean() < 0.005
    rel = np.abs(out[free] - clean[free]) / clean[free]
    assert rel.mean() < 0.005
    # the filter detects the spots, not the cell's edges: flagged pixels are nearly all spots
    assert np.mean(labels[gmask] > 0) > 0.95


def test_spatial_method_on_a_single_frame():
    rng = np.random.default_rng(1)
    fr = rng.poisson(2000.0, size=(40, 40)).astype(np.float64)
    spotted = fr.copy()
    ys, xs = rng.integers(1, 39, 20), rng.integers(1, 39, 20)
    spotted[ys, xs] += 5000.0
    out, mask = remove_gamma_spots(spotted, return_mask=True)
    assert out.shape == fr.shape
    assert mask[ys, xs].all()
    assert np.all(np.abs(out[ys, xs] - 2000.0) < 5 * np.sqrt(2000.0))
    assert mask.sum() <= len(set(zip(ys, xs))) + 2


def test_dask_stream_matches_numpy(twin):
    da = pytest.importorskip("dask.array")
    raw = remove_saturated_pixels(twin.images[:40])
    ref = remove_gamma_spots(raw)
    lazy = remove_gamma_spots(da.from_array(raw, chunks=(10, -1, -1)))
    np.testing.assert_array_equal(np.asarray(lazy), ref)


def test_saturated_pixels_filled_from_neighbours():
    fr = np.full((3, 9, 9), 1000, dtype=np.uint16)
    fr[1, 4, 4] = 65535
    fr[1, 0, 0] = 65535
    out, mask = remove_saturated_pixels(fr, return_mask=True)
    assert out.dtype == np.float32
    assert mask.sum() == 2 and np.all(out == 1000)


def test_fully_saturated_frame_is_refused():
    fr = np.full((3, 9, 9), 1000, dtype=np.uint16)
    fr[2] = 65535
    with pytest.raises(DataQualityError, match=r"images\[2\]: 100.0 % of the pixels are saturated"):
        remove_saturated_pixels(fr)


def test_float_input_needs_a_saturation_level():
    with pytest.raises(ParameterError, match="saturation_level"):
        remove_saturated_pixels(np.ones((2, 4, 4)))


def test_bad_parameters():
    with pytest.raises(ParameterError, match="threshold_sigma"):
        remove_gamma_spots(np.ones((4, 4)), threshold_sigma=-1)
    with pytest.raises(ParameterError, match="temporal"):
        remove_gamma_spots(np.ones((2, 4, 4)), method="temporal")
