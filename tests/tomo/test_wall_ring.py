"""The cell wall's partial-volume ring (one rule for every footprint: maps, phase volumes,
pore + crack volume) and the pore + crack volume's per-ring matrix levels (issue 16).

References: the analytic edge response of a Gaussian point spread on a sharp wall
(``0.5 erfc(-d / (sqrt(2) sigma))``), and rings of known grey-level offsets."""
from __future__ import annotations

import numpy as np
import pytest


def _blurred_disk(sigma, n=48, radius=17.3):
    """Column means of a cylinder (level 1, exterior 0) blurred by a Gaussian ``sigma``."""
    import scipy.ndimage as ndi

    yy, xx = np.mgrid[:n, :n] - (n - 1) / 2
    fine = 8  # supersampled disk, averaged to pixels: sub-voxel wall positions
    yf, xf = (np.mgrid[:n * fine, :n * fine] + 0.5) / fine - n / 2
    disk = (np.hypot(yf, xf) < radius).reshape(n, fine, n, fine).mean(axis=(1, 3))
    return ndi.gaussian_filter(disk, sigma, mode="constant") if sigma > 0 else disk


@pytest.mark.parametrize("sigma", [0.5, 1.5])
def test_wall_ring_from_the_edge_spread(sigma):
    """The footprint leaves out the columns inside the edge's 10-90 % rise.  At the twins'
    0.5-voxel spread it is the one-voxel erosion (the footprint before issue 16, so no
    series result moves); at 1.5 voxels the one-voxel erosion keeps columns that read
    < 0.9 of the cell's level (the exterior mixed in), the edge rule none."""
    import scipy.ndimage as ndi

    from ssbscope.tomo.series import _region_from_mean

    img = _blurred_disk(sigma) + 0.05  # the exterior attenuates a little (air, holder)
    reg = _region_from_mean(img, "edge")
    # the pixels' own box (1/sqrt(12) voxel) adds to the Gaussian
    assert reg.edge_sigma_vox == pytest.approx(np.hypot(sigma, 12 ** -0.5), rel=0.1)
    ero1 = ndi.binary_erosion(reg.mask)
    rel = (img - 0.05) / 1.0
    outer = reg.inner & ~ndi.binary_erosion(reg.inner)  # the footprint's outermost columns
    if sigma == 0.5:
        assert np.array_equal(reg.inner, ero1)
        assert 1.0 < reg.ring_width_vox < np.sqrt(2)
    else:
        assert not np.array_equal(reg.inner, ero1)
        assert rel[ero1 & ~ndi.binary_erosion(ero1)].min() < 0.9  # the old footprint's rim
        assert reg.ring_width_vox > 2.0
    assert rel[outer].min() >= 0.88, rel[outer].min()


def test_wall_ring_without_a_wall_is_one_voxel():
    """No edge to fit (a truncated scan's flat field of view): the ring is the mask's
    outermost columns, the field of view's border included (the one-voxel erosion)."""
    import scipy.ndimage as ndi

    from ssbscope.tomo.series import _region_from_mean

    img = np.ones((20, 20))
    img[:, :3] = 0.0  # one straight edge off the border, sharp
    reg = _region_from_mean(img, "edge")
    assert np.array_equal(reg.inner, ndi.binary_erosion(reg.mask))


def test_radial_matrix_levels_take_each_offset_ring():
    """Rings from the edge with offsets +0.04 / -0.02 (the filtered back-projection's
    ringing at the wall) keep their own means, the rings inside pooled; without offsets
    every ring takes the pooled mean."""
    from ssbscope.tomo.series_chunked import radial_matrix_levels

    rng = np.random.default_rng(0)
    off = np.array([0.04, -0.02, 0.0, 0.0, 0.0, 0.0])
    n = np.array([2400, 2300, 2200, 2100, 2000, 6000])
    for shift, want_own in ((off, 2), (0 * off, 0)):
        cnt, s1, s2 = [], [], []
        for k in range(off.size):
            v = 1.0 + shift[k] + 0.27 * rng.standard_normal(n[k])
            cnt.append(v.size)
            s1.append(v.sum())
            s2.append((v * v).sum())
        lv, n_own, pooled, se = radial_matrix_levels(cnt, s1, s2)
        assert n_own == want_own
        assert pooled == pytest.approx(1.0, abs=4 * se)
        for k in range(n_own):
            assert lv[k] == pytest.approx(1.0 + shift[k], abs=4 * 0.27 / np.sqrt(n[k]))
        assert np.all(lv[n_own:] == pooled)


def test_interior_rows_follow_the_measured_faces():
    """2 slices inside the mean faces (rounded to the slice boundary), not the majority
    band: a layer below the electrolyte with its mean face at 12.6 voxels (a thicker centre
    can put the band's start at slice 14) gives the rows from 15."""
    from ssbscope.tomo.series_chunked import _interior_rows

    inner = np.ones((4, 4), bool)
    vs = 3.0
    heights = {("Li", "LPSCl"): np.full((4, 4), 12.6 * vs),
               ("LPSCl", "counter"): np.full((4, 4), 41.2 * vs)}
    assert _interior_rows(heights, "LPSCl", inner, vs, (14, 41)) == (15, 39)
    assert _interior_rows({}, "LPSCl", inner, vs, (14, 41)) == (16, 39)
