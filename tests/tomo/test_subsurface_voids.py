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
