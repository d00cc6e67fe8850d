"""Layer location across a blurred edge (tomo.series._ramp): a steel|Li edge after Paganin
phase retrieval passes through the intermediate grey levels (NMC622, PEO-LiTFSI) for a few
slices; those bands are skipped, a real band of another order or a long one is not."""

import numpy as np
import pytest

from ssbscope.tomo.series import _ramp, phase_order


def _frac(classes, n_phases):
    f = np.zeros((n_phases + 1, len(classes)))
    f[classes, np.arange(len(classes))] = 1.0
    return f


@pytest.mark.parametrize("ramp_len, ok", [(6, True), (17, False)])
def test_ramp_between_steel_and_li(ramp_len, ok):
    from ssbscope.tomo.series import _locate_from_fractions

    layers = [{"name": "spacer", "material": "steel", "thickness_um": 39},
              {"name": "anode", "material": "Li", "thickness_um": 400},
              {"name": "SPE", "material": "PEO-LiTFSI", "thickness_um": 30}]
    order = phase_order(layers, 115.0)
    li, peo, fe = (order.index(m) for m in ("Li", "PEO-LiTFSI", "steel"))
    assert li < peo < fe
    # steel, then a monotone ramp down through PEO's level, then Li, then PEO
    cls = [fe] * 12 + [peo] * ramp_len + [li] * 120 + [peo] * 9
    frac = _frac(np.array(cls), len(order.phases))
    if ok:
        loc = _locate_from_fractions(frac, layers, order, 3.24)
        assert loc.z0_vox[1] == 12 + ramp_len and loc.z1_vox[1] == 12 + ramp_len + 120
        assert any(b[0] == "PEO-LiTFSI" and b[1] == 12 for b in loc.ignored)
    else:
        from ssbscope.errors import EmptyResultError

        with pytest.raises(EmptyResultError):
            _locate_from_fractions(frac, layers, order, 3.24)


def test_ramp_rejects_a_band_outside_the_two_levels():
    # prev = 3 (steel), next = 0 (Li): a band of class 4 (denser than steel) is no ramp
    runs = [(3, 0, 12), (4, 12, 15), (0, 15, 100)]
    assert _ramp(runs, 1, 3, 0) == 0
    runs = [(3, 0, 12), (2, 12, 14), (1, 14, 18), (0, 18, 100)]
    assert _ramp(runs, 1, 3, 0) == 2
    runs = [(3, 0, 12), (1, 12, 14), (2, 14, 18), (0, 18, 100)]  # not monotone
    assert _ramp(runs, 1, 3, 0) == 0
