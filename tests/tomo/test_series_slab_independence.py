"""The chunked CT series analysis gives the same result whatever the slab size.

:func:`ssbscope.tomo.series_chunked.analyse_series_chunked` sizes its z-slabs from the
memory budget; every number it returns must not depend on that choice.  A two-scan twin
series (64 x 64 in (y, x), so that a budget-sized registration would block-average it, as a
former rule did under small budgets) with a (y, x) drift and Li filaments grown between the
scans is analysed in slabs of 7 slices under a 4 MB budget and in one slab under 4 GB:
registration shifts, aligned volumes and labels bit for bit, filament counts and volumes
exactly, the other metrics to float rounding of per-slab sums; at least one new filament
crosses a 7-slice slab face (labelled across it, counted once).
"""

import numpy as np
import pytest
import scipy.ndimage as ndi

from ssbscope.testing import ANODE_FREE_LAYERS, ANODE_FREE_SERIES_KW, anode_free_recon_series
from ssbscope.tomo import series_chunked as SC

VS = 3.0
LAYERS = ANODE_FREE_LAYERS
KW = ANODE_FREE_SERIES_KW
SLAB = 7


@pytest.fixture(scope="module")
def series():
    return anode_free_recon_series((0.0, 3.0), [(-0.63, 0.77)], n_xy=64)


def test_register_factor_depends_on_grid_only():
    assert SC.register_factor((56, 64, 64), 0, 10) == 1
    n = SC.REGISTER_MAX_VOXELS
    # a slab of 4 n voxels is averaged by 2 (n voxels); 32 n voxels by 8
    assert SC.register_factor((1, 2048, 2048), 0, 4 * n // 2048**2) == 2
    assert SC.register_factor((8, 4096, 4096), 0, 8) == 8


def test_series_results_do_not_depend_on_slab_size(series, tmp_path):
    a = SC.analyse_series_chunked(series, LAYERS, VS, work_dir=tmp_path / "a",
                                  chunk_slices=SLAB, memory_limit_bytes=4 * 10**6, **KW)
    b = SC.analyse_series_chunked(series, LAYERS, VS, work_dir=tmp_path / "b",
                                  memory_limit_bytes=4 * 10**9, **KW)
    assert np.asarray(a.labels).shape[1] == 56  # b: one slab of 56 slices, a: 8 slabs
    np.testing.assert_array_equal(a.shift_vox, b.shift_vox)
    # the drift is found (independently of the slab): (0, -0.63, 0.77) within 0.1 voxel
    np.testing.assert_allclose(a.shift_vox[1], (0.0, 0.63, -0.77), atol=0.1)
    np.testing.assert_array_equal(np.asarray(a.volumes), np.asarray(b.volumes))
    np.testing.assert_array_equal(np.asarray(a.labels), np.asarray(b.labels))
    np.testing.assert_array_equal(a.class_thresholds, b.class_thresholds)
    for f in ("new_filaments", "new_filaments_center", "new_filaments_edge",
              "new_filament_volume_um3"):
        np.testing.assert_array_equal(getattr(a, f), getattr(b, f), err_msg=f)
    np.testing.assert_allclose(a.new_crack_volume_um3, b.new_crack_volume_um3, rtol=1e-10,
                               atol=1e-9)
    np.testing.assert_allclose(a.pore_crack_grey_overlap, b.pore_crack_grey_overlap,
                               rtol=1e-10, atol=1e-12)
    for sa, sb in zip(a.scans, b.scans):
        assert sa.location == sb.location
        np.testing.assert_array_equal(np.asarray(sa.electrolyte_low),
                                      np.asarray(sb.electrolyte_low))
        for f in ("ra_um", "thickness_center_um", "phase_volume_um3"):
            for key, v in getattr(sb, f).items():
                np.testing.assert_allclose(getattr(sa, f)[key], v, rtol=1e-12, err_msg=f)
        np.testing.assert_allclose(sa.pore_crack_volume_um3, sb.pore_crack_volume_um3,
                                   rtol=1e-10)
    # a new filament crosses a slab face of run a and is one component there
    new = np.asarray(a.scans[1].electrolyte_low) & ~np.asarray(a.scans[0].electrolyte_low)
    lab, n = ndi.label(new, np.ones((3, 3, 3), bool))
    assert a.new_filaments[1] >= 1 and n >= 1
    zs = ndi.find_objects(lab)
    sizes = np.bincount(lab.ravel())[1:]
    crossing = [s[0] for s, c in zip(zs, sizes)
                if c * VS**3 > 0 and any(s[0].start < f < s[0].stop
                                         for f in range(SLAB, new.shape[0], SLAB))]
    assert crossing, "no new low-attenuation component crosses a slab face"
