"""The random-forest segmentation path across a rough interface's 2-slice undeclared band.

The grey-level location (tests/tomo/test_layer_interface_band.py) and the label location
(tests/tomo/test_locate_layers_band.py) skip a short undeclared band whose grey level lies
between its two neighbouring layers' levels as their interface's ramp.  The forest path
(``trainable.forest_segment_scan`` and the series' ``series_chunked._segment_forest``)
located its layers from the labels without the band's level, so such a band refused the
scan.  The forest's classes are in the user's training order, not grey order, so the level
comes from the grey volume (per-slice medians of each phase's voxels, shared with
``locate_layers(..., volume=)``), never from the forest's class map.
"""

import numpy as np
import pytest

from ssbscope.errors import EmptyResultError
from ssbscope.tomo import trainable as T
from ssbscope.tomo.series import UNDECLARED, CellRegion, locate_layers, phase_order

LAYERS = [{"name": "Cu", "material": "Cu", "thickness_um": 10},
          {"name": "Li", "material": "Li", "thickness_um": 0},
          {"name": "LPSCl", "material": "Li6PS5Cl", "thickness_um": 44},
          {"name": "counter", "material": "Li", "thickness_um": 40}]
# training order on purpose not the grey order (undeclared first): the class map must not be
# read as grey levels
CLASSES = ("undeclared", "Cu", "Li", "Li6PS5Cl")
PHASE_GREY = {0: 1.0, 1: 2.0, 2: 4.0}  # Li, Li6PS5Cl, Cu (phase_order: darkest first)
SHAPE_YX = (20, 20)


def _volume(band_grey, band_len=2, seed=0):
    """Cu 10, Li 6, an undeclared band, LPSCl 44, Li 40 slices; grey + noise 0.05; the
    forest's training labels on 3 y-planes (class index + 1 into CLASSES)."""
    cls = [2] * 10 + [0] * 6 + [UNDECLARED] * band_len + [1] * 44 + [0] * 40
    truth = np.broadcast_to(np.array(cls, np.uint8)[:, None, None],
                            (len(cls),) + SHAPE_YX).copy()
    grey = np.array([PHASE_GREY.get(c, band_grey) for c in cls], np.float32)
    rng = np.random.default_rng(seed)
    vol = (grey[:, None, None] + rng.normal(0, 0.05, truth.shape)).astype(np.float32)
    to_cls = {UNDECLARED: 1, 2: 2, 0: 3, 1: 4}  # phase -> 1 + index in CLASSES
    lab = np.zeros(truth.shape, np.uint8)
    for y in (3, 10, 16):
        lab[:, y] = np.vectorize(to_cls.get)(truth[:, y])
    return vol, truth, lab


def _region():
    m = np.ones(SHAPE_YX, bool)
    inner = np.zeros(SHAPE_YX, bool)
    inner[1:-1, 1:-1] = True
    return CellRegion(mask=m, inner=inner, threshold=0.0)


@pytest.fixture(scope="module")
def forest():
    vol, truth, lab = _volume(1.45)
    seg = T.train_segmenter(vol, lab, CLASSES, n_estimators=10, max_depth=8,
                            max_samples=20000)
    return vol, truth, seg


def _check_located(loc):
    assert loc.band("Cu") == (0, 10) and loc.band("Li") == (10, 16)
    assert loc.band("LPSCl") == (18, 62) and loc.band("counter") == (62, 102)
    assert ("undeclared", 16, 18) in loc.ignored


def test_forest_scan_with_a_two_slice_band_is_located(forest):
    vol, truth, seg = forest
    order = phase_order(LAYERS, 22.0)
    assert order.phases == ("Li", "Li6PS5Cl", "Cu")
    rec, _ = T.forest_segment_scan(vol, seg, LAYERS, order, _region(), 1.0)
    inner = _region().inner
    # the forest labels the band undeclared (the precondition of the refusal)
    assert (rec.labels[16:18][:, inner] == UNDECLARED).mean() > 0.9
    assert (rec.labels[:, inner] == truth[:, inner]).mean() > 0.99
    _check_located(rec.location)
    # the labels alone (no level) still cannot tell the band from a plunger: refused
    with pytest.raises(EmptyResultError):
        locate_layers(rec.labels, LAYERS, order, inner, 1.0)


def test_forest_series_path_with_a_two_slice_band_is_located(forest):
    """series_chunked._segment_forest (both analyse_series paths) on one in-memory slab."""
    from ssbscope.tomo import series_chunked as SC
    from ssbscope.tomo.filters import median3

    vol, _, seg = forest
    order = phase_order(LAYERS, 22.0)
    sc = SC._Scan(vol, median3(vol), np.zeros(vol.shape, np.uint8), vol.shape[0])
    rec, _, _ = SC._segment_forest(sc, seg, LAYERS, order, _region(), 1.0, 0)
    _check_located(rec.location)


@pytest.mark.parametrize("band_grey", [5.0, 0.5])
def test_forest_band_outside_the_two_levels_is_still_refused(band_grey):
    """A 2-slice undeclared band brighter than Cu (a plunger's steel) or darker than Li is
    not the Li|LPSCl ramp: the scan is refused as before."""
    vol, _, lab = _volume(band_grey, seed=1)
    seg = T.train_segmenter(vol, lab, CLASSES, n_estimators=10, max_depth=8,
                            max_samples=20000)
    order = phase_order(LAYERS, 22.0)
    with pytest.raises(EmptyResultError, match="random-forest"):
        T.forest_segment_scan(vol, seg, LAYERS, order, _region(), 1.0)
