"""Phase segmentation on a layered analytic volume with known phase boundaries."""

import numpy as np
import pytest

import ssbscope.tomo as tomo
from ssbscope.errors import DataQualityError, EmptyResultError, InputError, ParameterError

LEVELS = {"pore": 0.05, "Li": 0.3, "electrolyte": 0.6, "metal": 1.0}


def _layers(seed=0, noise=0.04):
    v = np.empty((32, 24, 24))
    v[:8] = LEVELS["metal"]
    v[8:16] = LEVELS["Li"]
    v[16:28] = LEVELS["electrolyte"]
    v[28:] = LEVELS["metal"]
    v[20:24, 8:14, 8:14] = LEVELS["pore"]     # a pore inside the electrolyte
    truth = np.digitize(v, [0.2, 0.45, 0.8])
    return v + np.random.default_rng(seed).normal(0, noise, v.shape), truth


def test_segment_phases_recovers_layers_ordered_by_attenuation():
    v, truth = _layers()
    seg = tomo.segment_phases(v, tuple(LEVELS))
    assert seg.phase_names == ("pore", "Li", "electrolyte", "metal")
    assert np.all(np.diff(seg.thresholds) > 0)
    # thresholds fall between the phase levels
    lv = list(LEVELS.values())
    for t, (a, b) in zip(seg.thresholds, zip(lv[:-1], lv[1:])):
        assert a < t < b
    # 3x3x3 median first: all but the pore's corners/edges (blurred by the median) correct
    assert np.mean(seg.labels == truth) > 0.995
    counts = seg.counts()
    assert counts["Li"] == pytest.approx(8 * 24 * 24, rel=0.01)
    # the median removes the box's edge voxels (12 of 27 neighbours inside), keeps the rest
    assert 0.6 * 144 < seg.mask("pore").sum() <= 144


def test_segment_phases_explicit_thresholds_and_opening():
    v, truth = _layers(noise=0.0)
    v[12, 3, 3] = LEVELS["pore"]  # a single dark speck inside Li
    seg = tomo.segment_phases(v, tuple(LEVELS), thresholds=[0.2, 0.45, 0.8], median=False,
                              opening_radius=1)
    assert seg.labels[12, 3, 3] == 1   # the speck is opened away and refilled with Li
    assert np.mean(seg.labels == truth) > 0.99


def test_segment_phases_no_li_is_an_explicit_error():
    v = np.full((10, 10, 10), LEVELS["electrolyte"])
    v[:5] = LEVELS["metal"]
    with pytest.raises(EmptyResultError, match="phase 'Li': no voxel segmented"):
        tomo.segment_phases(v, tuple(LEVELS), thresholds=[0.2, 0.45, 0.8], require=("Li",))
    seg = tomo.segment_phases(v, tuple(LEVELS), thresholds=[0.2, 0.45, 0.8])
    assert seg.mask("Li", allow_empty=True).sum() == 0
    with pytest.raises(InputError, match="phase 'Cu' not in"):
        seg.mask("Cu")


def test_segment_phases_bad_input():
    v, _ = _layers()
    with pytest.raises(ParameterError, match="ascending"):
        tomo.segment_phases(v, tuple(LEVELS), thresholds=[0.5, 0.2, 0.8])
    bad = v.copy()
    bad[0, 0, 0] = np.inf
    with pytest.raises(DataQualityError, match="NaN/inf"):
        tomo.segment_phases(bad)
    with pytest.raises(DataQualityError, match="occupied bins"):
        tomo.segment_phases(np.zeros((6, 6, 6)), ("a", "b", "c"))


def test_hierarchical_thresholds_with_bright_metal_and_roi():
    # a dim pair (Li 0.01 vs electrolyte 0.1) beside very bright metal (5, 7) and air (0)
    # outside the cell: recursive Otsu restricted to the cell finds all four phases
    rng = np.random.default_rng(2)
    v = np.zeros((40, 30, 30))
    v[:4] = 7.0           # current collector
    v[4:12] = 0.01        # Li
    v[12:34] = 0.1        # electrolyte
    v[34:37] = 5.0        # plunger
    v[:, :, 25:] = 0.0    # air beside the cell
    v = v + rng.normal(0, 0.01, v.shape)
    cell = np.zeros((30, 30), bool)
    cell[:, :25] = True
    seg = tomo.segment_phases(v, ("low", "el", "steel", "cu"), method="hierarchical", roi=cell)
    t = seg.thresholds
    assert 0.01 < t[0] < 0.1 < t[1] < 5.0 < t[2] < 7.0
    assert np.all(seg.labels[5:11, :, :25] == 0) and np.all(seg.labels[14:32, :, :25] == 1)
    with pytest.raises(InputError, match="roi: shape"):
        tomo.segment_phases(v, ("a", "b"), roi=np.ones((3, 3), bool))
    with pytest.raises(ParameterError, match="method="):
        tomo.segment_phases(v, ("a", "b"), method="kmeans")
