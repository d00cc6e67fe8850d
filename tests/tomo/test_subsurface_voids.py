"""Subsurface voids of a truncated scan (:func:`ssbscope.tomo.series_chunked._voids_block`)
on a synthetic Li slab whose voids are known, with the dark leftovers of the shading model
that the coin-cell twin's void-free scans carry (smooth patches reaching about the vacuum
level at their peak, 10-20 px across) and a signed residual along the interface."""

import numpy as np
import pytest
from scipy.ndimage import gaussian_filter

from ssbscope.tomo import series_chunked as S


#: The shading's leftovers: (y, x, depth below the mean surface, amplitude in contrasts,
#: lateral sigma): broad patches reaching about the vacuum level where the noise adds (the
#: twin's: 0.5-0.9 over 10-20 px, cores past 1.0 where the noise adds).
PATCHES = ((14, 16, 9, 0.8, 5.0), (34, 31, 13, 0.75, 5.0), (32, 11, 7, 0.7, 4.0),
           (14, 35, 14, 0.8, 5.0))


def _slab(seed, voids=True, patches=True, n=48, nz=40, noise=0.12):
    """Deviation volume (shading already removed: ``G = C = 0``), Li at 0, vacuum at -1
    (contrast 1), PEO above the surface at +0.3; returns ``(v, h, footprint, void_vox)``."""
    rng = np.random.default_rng(seed)
    yy, xx = np.indices((n, n))
    fp = np.hypot(yy - (n - 1) / 2, xx - (n - 1) / 2) < n / 2 - 1
    f = gaussian_filter(rng.standard_normal((n, n)), 4, mode="wrap")
    h = np.rint(30 + 2.0 * f / f[fp].std())               # whole voxels (face convention)
    z = np.arange(nz)[:, None, None]
    li = z < h[None]
    void = np.zeros((nz, n, n), bool)
    if voids:  # flat vacuum lenses 5-10 voxels below the surface, as stripping leaves
        k = 0
        for _ in range(1000):
            cy, cx = rng.uniform(8, n - 8, 2)
            if min(np.hypot(cy - py, cx - px) for py, px, *_ in PATCHES) < 11:
                continue  # beside the leftovers, not on them (they would add up)
            k += 1
            if k > 10:
                break
            zc = h[int(cy), int(cx)] - rng.uniform(8, 11)
            a, c = rng.uniform(3.0, 5.0), rng.uniform(2.0, 2.8)
            void |= (((z + 0.5 - zc) / c) ** 2 + ((yy - cy) / a) ** 2
                     + ((xx - cx) / a) ** 2 <= 1) & li & fp[None]
    mat = np.where(li, 0.0, 0.3) - void.astype(float)
    v = gaussian_filter(mat, 0.7)                          # the retrieval's blur
    if patches:
        hm = h[fp].mean()
        for py, px, dz, amp, s in PATCHES:
            g = np.exp(-((yy - py) ** 2 + (xx - px) ** 2) / (2 * s ** 2))
            v = v - amp * g[None] * np.exp(-((z - (hm - dz)) / 2.5) ** 2)
        # the interface's residual: dark under the surface's hills, bright over its valleys
        hill = gaussian_filter(h - h[fp].mean(), 2)
        band = np.exp(-np.clip(h[None] - 0.5 - z, 0, None) / 1.5) * li
        v = v - 0.8 * np.clip(hill, -2, 2)[None] * band
    v = v + noise * rng.standard_normal(v.shape)
    return v.astype(np.float32), h, fp, int(void.sum())


def _measure(v, h, fp):
    z0 = int(np.floor(h[fp].min() - 16))
    top = int(np.ceil(h[fp].max()))
    lim = h[fp] - S.SUBSURFACE_MARGIN_VOX
    zero = np.zeros(fp.shape)
    return S._voids_block(v, z0, top, fp, (zero, zero), lim, 1.0)


@pytest.mark.parametrize("seed", [0, 1])
def test_subsurface_voids_ignore_dark_shading_patches(seed):
    """Voids by hysteresis (cores at the vacuum level, grown to 0.4 of the contrast, regions
    mostly vacuum): the voids' volume with the patches and the interface residual present
    reads as without them, and a void-free slab carrying the same leftovers reads < 5 % of
    the voids.  The rule loses the blurred tails below ``VOID_GROW_FRACTION``: measured
    0.81-0.85 of the voids on these lenses (seeds 0-3, with or without the leftovers), so
    the bounds are 0.75-1.05.  The former rule (every layer voxel's deficit summed) read
    1.31-1.53 with the leftovers and 0.37-0.59 of the voids on the void-free slab."""
    v, h, fp, n_void = _slab(seed)
    assert n_void > 500
    got = _measure(v, h, fp)
    assert 0.75 * n_void < got < 1.05 * n_void, (got, n_void)
    v0, h0, fp0, n0 = _slab(seed, voids=False)
    assert n0 == 0
    assert abs(_measure(v0, h0, fp0)) < 0.05 * n_void
    v1, h1, fp1, n1 = _slab(seed, patches=False)
    assert n1 == n_void
    assert abs(_measure(v1, h1, fp1) - got) < 0.05 * n_void


def test_rotation_axis_swing_is_no_void():
    """The columns about the rotation axis of the pristine coin-cell scans carry a deficit that
    swings by +-0.6-0.8 of the contrast along z through the whole Li band (FBP sums the same
    central detector column over every angle); below the surface a swing reached the vacuum
    level and read as a void (1.2e4 and 3.5e4 um^3 on two void-free scans).  With the core
    threshold raised by VOID_AXIS_K x the axis columns' excess spread along z, measured in
    the layer below the read depth (series_chunked._axis_excess), a void-free slab carrying
    such a swing reads < 5 % of the voids of the same slab with voids, and the voids' volume
    reads within 10 % of the slab without the swing; without it the swing reads as a void."""
    n, nz, surf = 48, 110, 100
    rng = np.random.default_rng(5)
    yy, xx = np.indices((n, n))
    fp = np.hypot(yy - (n - 1) / 2, xx - (n - 1) / 2) < n / 2 - 1
    h = np.full((n, n), float(surf))
    z = np.arange(nz)[:, None, None]
    li = z < h[None]
    rad = np.hypot(yy - (n - 1) / 2, xx - (n - 1) / 2)
    # the axis swing: a smooth z profile (correlated over ~6 slices) on the central columns
    prof = gaussian_filter(rng.standard_normal(nz), 3.0)
    prof *= 0.7 / prof.std()
    prof[surf - 12:surf - 4] = 1.1            # one swing below the surface past the vacuum level
    swing = prof[:, None, None] * np.exp(-(rad / 3.0) ** 2)[None] * li

    def slab(voids, with_swing=True):
        void = np.zeros((nz, n, n), bool)
        if voids:  # lenses away from the axis, 6-10 voxels below the surface
            for cy, cx in ((12, 12), (34, 14), (14, 34), (36, 35)):
                void |= (((z + 0.5 - (surf - 8)) / 2.5) ** 2 + ((yy - cy) / 4.0) ** 2
                         + ((xx - cx) / 4.0) ** 2 <= 1) & fp[None]
        v = gaussian_filter(np.where(li, 0.0, 0.3) - void.astype(float), 0.7)
        v = v - swing if with_swing else v
        return (v + 0.12 * rng.standard_normal(v.shape)).astype(np.float32), int(void.sum())

    def measure(v, axis):
        z0 = surf - 16
        lim = h[fp] - S.SUBSURFACE_MARGIN_VOX
        zero = np.zeros(fp.shape)
        exc = S._axis_excess(v, 4, z0, fp, (zero, zero), lim, 1.0) if axis else None
        return S._voids_block(v, z0, surf, fp, (zero, zero), lim, 1.0, core_excess=exc)

    v0, _ = slab(False)
    v1, n_void = slab(True)
    v2, _ = slab(True, with_swing=False)
    assert n_void > 500
    with_voids = measure(v1, True)
    assert 0.75 * n_void < with_voids < 1.05 * n_void
    assert abs(with_voids - measure(v2, False)) < 0.10 * n_void
    assert measure(v0, False) > 0.05 * n_void           # the swing reads as a void without
    assert measure(v0, True) < 0.05 * n_void
