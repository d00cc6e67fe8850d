"""Centre / edge of a plated LAYER (:func:`ssbscope.tomo.series_chunked.layer_centre_edge`):
the definition the anode-free twin's truth uses (Sandoval et al. 2025, doi:10.1039/d5eb00111k,
Fig. 5e: the electrodeposited layer; Li in filaments reported apart), on a synthetic map.

Reference: the layer's own centre / edge means (analytic radial profile), computed without
the root patches.  A root patch (a filament's Li standing on the layer top) reads +5 µm in
its columns; the helper leaves those columns out, the plain statistics do not.
"""

from __future__ import annotations

import numpy as np
import pytest

from ssbscope.tomo.metrics import thickness_stats
from ssbscope.tomo.series_chunked import layer_centre_edge


def _layer(seed=0, n=40, noise_um=0.3):
    yy, xx = np.mgrid[:n, :n]
    r2 = ((yy - n / 2 + 0.5) ** 2 + (xx - n / 2 + 0.5) ** 2) / (0.45 * n) ** 2
    fp = r2 <= 1.0
    layer = 18.0 + 2.0 * (1.0 - 2.0 * r2)         # thicker in the middle (Fig. 5e)
    layer = layer + np.random.default_rng(seed).normal(0.0, noise_um, layer.shape)
    return np.where(fp, layer, np.nan), fp, r2


def test_root_patches_at_the_edge_left_out():
    layer, fp, r2 = _layer()
    ref = thickness_stats(layer, 0.75, footprint=fp)
    m = layer.copy()
    # four 3 x 3 root patches in the edge ring, +5 µm (a filament's root on the layer top)
    for cy, cx in ((20, 36), (4, 20), (20, 4), (34, 30)):
        m[cy - 1:cy + 2, cx - 1:cx + 2] += 5.0
    m = np.where(fp, m, np.nan)
    st, frac = layer_centre_edge(m, fp, 0.75)
    plain = thickness_stats(m, 0.75, footprint=fp)
    # the plain edge mean counts the roots (measured +0.34 µm)
    assert plain.mean_edge_um - ref.mean_edge_um > 0.25
    # the layer's: within 0.1 µm (the noise's 0.3 µm / sqrt(~300) is 0.02; leaving the
    # patches out removes their columns' own noise too)
    assert st.mean_edge_um == pytest.approx(ref.mean_edge_um, abs=0.1)
    assert st.mean_center_um == pytest.approx(ref.mean_center_um, abs=0.05)
    step, ref_step = st.mean_center_um - st.mean_edge_um, ref.mean_center_um - ref.mean_edge_um
    assert step == pytest.approx(ref_step, abs=0.1)          # measured 2.00 against 1.98
    assert abs((plain.mean_center_um - plain.mean_edge_um) - ref_step) > 0.2  # plain: 1.73
    assert 36 / fp.sum() <= frac < 0.1


def test_no_root_no_change():
    """Without roots the helper's centre / edge stay within 0.05 µm of the plain means."""
    layer, fp, _ = _layer(seed=3)
    st, frac = layer_centre_edge(layer, fp, 0.75)
    plain = thickness_stats(layer, 0.75, footprint=fp)
    assert abs(st.mean_center_um - plain.mean_center_um) < 0.05
    assert abs(st.mean_edge_um - plain.mean_edge_um) < 0.05
    assert frac < 0.03
