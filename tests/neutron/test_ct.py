"""Neutron-CT difference volumes after registration (002_ Fig. 5B) on the CT twin."""

import numpy as np
import pytest

from ssbscope.errors import DataQualityError, InputError
from ssbscope.neutron import ct_difference


@pytest.fixture(scope="module")
def ct():
    from ssbscope.twin.neutron import simulate_ct

    return simulate_ct()


def test_registration_recovers_the_remount_shift(ct):
    res = ct_difference(ct.before, ct.after)
    np.testing.assert_allclose(res.shift_zyx_vox, ct.shift_zyx_vox, atol=0.1)


def test_increment_shows_the_li_creep(ct):
    res = ct_difference(ct.before, ct.after)
    inc, true = res.increment, ct.increment_true
    creep = ct.creep_mask & (true > 8 * res.noise)
    # Li gained in the gap is found where it is (most of the clearly increased voxels)
    assert np.mean(res.increase_mask[creep]) > 0.9
    # ... with its amount: summed increment over the creep region (widened in-plane by the
    # half-voxel resampling of the 1.5 voxel x shift) within 10 %
    from scipy.ndimage import binary_dilation

    region = binary_dilation(ct.creep_mask, structure=np.ones((1, 3, 3), bool))
    assert inc[region].sum() == pytest.approx(true[ct.creep_mask].sum(), rel=0.10)
    # away from the changes the increment is noise; false increases are rare
    quiet = ~(ct.creep_mask | ct.thinning_mask)
    from scipy.ndimage import binary_dilation

    quiet &= ~binary_dilation(ct.creep_mask | ct.thinning_mask, iterations=2)
    assert np.mean(res.increase_mask[quiet]) < 0.01


def test_without_registration_the_edges_light_up(ct):
    raw = ct_difference(ct.before, ct.after, register=False)
    reg = ct_difference(ct.before, ct.after)
    assert raw.increase_mask.sum() > 3 * reg.increase_mask.sum()


def test_bad_volumes():
    with pytest.raises(InputError, match="differs from before"):
        ct_difference(np.zeros((4, 5, 6)), np.zeros((4, 5, 5)))
    v = np.zeros((4, 5, 6))
    v[1, 1, 1] = np.nan
    with pytest.raises(DataQualityError, match="after: 1 non-finite"):
        ct_difference(np.zeros((4, 5, 6)), v)
