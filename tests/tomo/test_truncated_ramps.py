"""The layer bands of a truncated scan around a blurred edge's ramp
(:func:`ssbscope.tomo.series_chunked._truncated_close_ramps`, ``_location_from_bands``).

Reference: a synthetic label stack whose steel | Li edge passes through the two intermediate
phases' grey classes (as the coin's steel spacer after Paganin with Li's delta/beta), with the
interface's measured height given: the bands meet at that height and the ramp's voxels take
the two layers' phases.  The chain check on the twin is
tests/compton/test_ct_registration.py::test_demo_ct_layer_bottom_after_paganin.
"""

from types import SimpleNamespace

import numpy as np

from ssbscope.tomo.series import UNDECLARED, LayerLocation
from ssbscope.tomo.series_chunked import _location_from_bands, _truncated_close_ramps


def test_ramp_between_bands_closed_at_the_measured_height():
    vs = 2.0
    li, peo, nmc, steel = 0, 1, 2, 3
    lab = np.empty((40, 6, 6), np.uint8)
    lab[:8] = steel
    lab[8:11] = nmc  # the steel's blurred edge through the NMC622 and PEO classes
    lab[11:14] = peo
    lab[14:30] = li
    lab[30:] = peo
    lab[12, 0, 0] = UNDECLARED  # other material in the ramp is kept
    inner = np.ones((6, 6), bool)
    inner[5] = False  # outside the footprint: kept
    sc = SimpleNamespace(labels=lab.copy())
    band = {"spacer": (0, 8), "anode": (14, 30), "SPE": (30, 40)}
    present = ["spacer", "anode", "SPE"]
    pidx = {"spacer": steel, "anode": li, "SPE": peo}
    h = np.where(inner, 9.6 * vs, np.nan)
    h[0, :3] = 30.0 * vs  # a few outlying columns: the median holds
    heights = {("spacer", "anode"): h, ("anode", "SPE"): np.where(inner, 30.0 * vs, np.nan)}
    _truncated_close_ramps(sc, heights, band, present, pidx, vs, inner)
    assert band == {"spacer": (0, 10), "anode": (10, 30), "SPE": (30, 40)}
    got = sc.labels
    assert np.all(got[8:10][:, inner] != nmc) and np.all(got[10:14][:, inner & ~_one(0, 0)] == li)
    assert np.all(got[8:10][:, inner] == steel)
    assert got[12, 0, 0] == UNDECLARED
    np.testing.assert_array_equal(got[:, 5], lab[:, 5])  # outside the footprint
    np.testing.assert_array_equal(got[14:], lab[14:])  # no gap at anode|SPE: unchanged
    loc = LayerLocation(names=("spacer", "anode", "SPE"), present=(True, True, True), z0_vox=(0, 14, 30),
                        z1_vox=(8, 30, 40), stack_vox=(0, 40),
                        ignored=(("NMC622", 8, 11), ("PEO-LiTFSI", 11, 14), ("Li", 40, 44)))
    new = _location_from_bands(loc, band)
    assert new.z0_vox == (0, 10, 30) and new.z1_vox == (10, 30, 40) and new.stack_vox == (0, 40)
    assert new.ignored == (("Li", 40, 44),)  # the ramp's bands are inside the layers now


def test_gap_without_a_measured_height_keeps_the_bands():
    lab = np.zeros((20, 3, 3), np.uint8)
    sc = SimpleNamespace(labels=lab.copy())
    band = {"a": (0, 5), "b": (9, 20)}
    _truncated_close_ramps(sc, {("a", "b"): np.full((3, 3), np.nan)}, band, ["a", "b"], {"a": 1, "b": 0},
                           1.0, np.ones((3, 3), bool))
    assert band == {"a": (0, 5), "b": (9, 20)}
    np.testing.assert_array_equal(sc.labels, lab)


def _one(y, x):
    m = np.zeros((6, 6), bool)
    m[y, x] = True
    return m
