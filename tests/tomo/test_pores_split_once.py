"""The chunked series' pores / dead-Li split (``series_chunked._split_isolated_series``)
finds the first scan's matched-filter objects once, with their sums in every later scan in
one pass, and gives the same floats as the pairwise formula it replaced (the first scan's
objects found again against each later scan, ``_object_sums`` on ``[first, scan]``).

The series: the anode-free twin (``ssbscope.twin.ct.anode_free_001``) reconstructed from
simulated projections at three charges, as tests/tomo/test_chunked_series.py, later scans
drifted in (y, x); slabs of 7 slices cut the objects.
"""

import functools

import numpy as np
import pytest

from ssbscope.testing import ANODE_FREE_LAYERS, ANODE_FREE_SERIES_KW
from ssbscope.tomo import low_attenuation as LA
from ssbscope.tomo import series_chunked as SC

VS = 3.0
LAYERS = ANODE_FREE_LAYERS
KW = ANODE_FREE_SERIES_KW


@pytest.fixture(scope="module")
def recon(anode_free_recon_3_dir):
    # anode_free_recon_series((0.0, 1.5, 3.0), [(-0.6, 0.8), (2.0, -1.0)]): sub-voxel and
    # whole-voxel drift of the later scans in (y, x); built once per test run and shared by
    # tests/tomo/test_chunked_series.py and test_pores_split_once.py (tests/conftest.py)
    return [np.load(anode_free_recon_3_dir / f"scan{k}.npy") for k in range(3)]


def _pairwise(ref, reg, shape, cz, local):
    """The replaced formula: per later scan, both scans' objects found anew, each with its
    sums in ``[own, other]`` (one region pass per pair)."""

    def objects_in(a, b):
        n, regions, za, iso = SC._matched_objects(a, shape, cz, local)
        cnt, own, oth = np.zeros(n + 1), np.zeros(n + 1), np.zeros(n + 1)
        if n:
            for ids, c, s_a, s_b in SC._map_blocks(regions, za, functools.partial(
                    SC._object_sums, n, [a, b]), local):
                cnt[ids] += c
                own[ids] += s_a
                oth[ids] += s_b
        return LA.significant_objects(cnt, own, iso, a["lv"]), own, oth, cnt

    return LA.split_objects(objects_in(ref, reg), objects_in(reg, ref), reg["v3"])


@pytest.mark.slow(seconds=10)
def test_split_finds_first_objects_once_same_floats(recon, monkeypatch):
    """In memory (the analysis' NumPy records), split on slabs of 7 slices (8 blocks: the
    sums accumulate across blocks) and on one slab."""
    calls = []
    real_objects = SC._matched_objects
    real_split = SC._split_isolated_series
    seen = {}

    def counting(reg, *a, **kw):
        calls.append(reg)
        return real_objects(reg, *a, **kw)

    def split(scans, shape, cz, local):
        # on the same records: the replaced formula, then the new path counting its object
        # searches, each on slabs of 7 slices and on the whole volume
        regs = [s.low_attenuation_regions for s in scans]
        seen["regs"] = regs
        for c in (7, cz):
            seen[c, "pairwise"] = [_pairwise(regs[0], r, shape, c, local) for r in regs[1:]]
            calls.clear()
            out = real_split(scans, shape, c, local)
            seen[c, "calls"] = list(calls)
            seen[c, "got"] = [(s.pore_volume_um3, s.isolated_li_um3) for s in out[1:]]
        seen["cz"] = cz
        return out

    monkeypatch.setattr(SC, "_matched_objects", counting)
    monkeypatch.setattr(SC, "_split_isolated_series", split)
    res = SC.analyse_series_chunked(recon, LAYERS, VS, work_dir=False, **KW)
    regs = seen["regs"]
    assert all(r is not None for r in regs) and seen["cz"] == recon[0].shape[0]
    for cz in (7, seen["cz"]):
        calls = seen[cz, "calls"]
        # one object search per scan, the first scan's once (pairwise: 2 per later scan)
        assert len(calls) == len(recon)
        assert [id(r) for r in calls].count(id(regs[0])) == 1
        assert {id(r) for r in calls} == {id(r) for r in regs}
        # the same floats as the pairwise formula (==, not approx), something measured
        got = seen[cz, "got"]
        assert got == seen[cz, "pairwise"], (cz, got, seen[cz, "pairwise"])
        assert all(np.isfinite(v) for g in got for v in g)
        assert any(g[0] > 0 for g in got) and any(g[1] > 0 for g in got)
    assert [(s.pore_volume_um3, s.isolated_li_um3) for s in res.scans[1:]] == got
    assert np.isnan(res.scans[0].pore_volume_um3) and np.isnan(res.scans[0].isolated_li_um3)
