"""One interface-height estimator per series, chosen from the height maps' own errors
(:func:`ssbscope.tomo.series.choose_height_estimator`, issue 17).

Synthetic Cu | Li | Li6PS5Cl | Li stacks at the anode-free twin's levels (22 keV, 3 um voxels:
Cu 0.070, Li6PS5Cl 0.0021, Li 0.00003 per voxel), a continuous Li | Li6PS5Cl surface
voxelised by partial volume, blurred by a Gaussian of 0.5 voxel and white noise added; the
truth is the continuous surface the stack is built from.

The former per-scan switch (the crop's contrast-to-noise at 3) read 2.1 for a 2.6-voxel Li
layer (its grey class mixed by partial volume) and 3.7 for a 6-voxel layer of the same surface
and noise, so the two scans' heights came from different estimators: rms error against the
surface 0.74 against 2.00 um (measured, seed 0).  One estimator for the series: 0.74 / 0.80.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from ssbscope.tomo.series import (analyse_series, choose_height_estimator,
                                  height_estimator_errors)

VS = 3.0
CU, LI, LPS = 0.070, 0.00003, 0.0021
LAYERS = [dict(name="Cu", material="Cu", thickness_um=12),
          dict(name="Li", material="Li", thickness_um=0),
          dict(name="LPSCl", material="Li6PS5Cl", thickness_um=42),
          dict(name="counter", material="Li", thickness_um=30)]
CU_VOX = 4


def _texture(n, std_vox, corr_px, seed):
    t = ndimage.gaussian_filter(np.random.default_rng(seed).standard_normal((n, n)), corr_px,
                                mode="wrap")
    return (t - t.mean()) / t.std() * std_vox


def _volume(t_vox, rng, noise, nz=30, n=36, pel=14, blur=0.5):
    """Cu in slices [0, 4), Li up to ``4 + t_vox(y, x)`` (partial volume), Li6PS5Cl for
    ``pel`` voxels, a Li counter electrode above; a disc in vacuum, blurred, with noise."""
    z = np.arange(nz)[:, None, None] + 0.0
    top_li = CU_VOX + t_vox[None]
    top = CU_VOX + float(t_vox.mean()) + pel
    f_lps = np.clip(np.minimum(z + 1, top) - np.maximum(z, top_li), 0, 1)
    f_cu = (z < CU_VOX).astype(float)
    v = ndimage.gaussian_filter(f_cu * CU + f_lps * LPS + (1 - f_cu - f_lps) * LI, blur)
    yy, xx = np.mgrid[:n, :n] - (n - 1) / 2
    v = np.where(((yy ** 2 + xx ** 2) <= (n / 2 - 3) ** 2)[None], v, 0.0)
    sig = np.where(np.arange(nz) < CU_VOX, 0.0025, noise)[:, None, None]
    return (v + rng.normal(size=v.shape) * sig).astype(np.float32)


def _error_um(h, t_vox, inner):
    """rms error (µm) of a height map against the continuous surface, about its mean."""
    ok = inner & np.isfinite(h)
    e = h[ok] - (CU_VOX + t_vox[ok]) * VS
    return float(np.sqrt(np.mean((e - e.mean()) ** 2)))


def test_thin_and_thick_layer_scans_share_the_estimator_and_its_noise():
    # the model-plated twin's case (issue 17): one surface texture (Ra 0.35 um), the noise
    # the same in both scans; the layer 2.6 voxels thick, then 6
    rng = np.random.default_rng(0)
    tex = _texture(36, 0.15, 2.5, 1)
    ts = [2.6 + tex, 6.0 + tex]
    res = analyse_series([_volume(t, rng, 0.00055) for t in ts], LAYERS, VS, energy_kev=22,
                         interfaces=["Li|LPSCl"], thickness=["Li"])
    inner = res.region.inner
    est = [s.height_estimator["Li|LPSCl"] for s in res.scans]
    assert est == ["median", "median"], est
    err = [_error_um(s.height_um["Li|LPSCl"], t, inner) for s, t in zip(res.scans, ts)]
    # measured 0.74 / 0.80 um (the former switch: 0.74 / 2.00, the thick layer unfiltered)
    assert max(err) < 1.0 and max(err) / min(err) < 1.4, err
    for s, e in zip(res.scans, err):
        e_u, e_m = s.height_estimator_errors_um["Li|LPSCl"]
        # the stated median error is the actual one within 35 % (measured 0.92 / 0.79
        # against 0.74 / 0.80), and the unfiltered noise 2-3 times it (2.13 / 2.02)
        assert e_m == pytest.approx(e, rel=0.35), (e_m, e)
        assert 2.0 * e_m < e_u < 3.5 * e_m, (e_u, e_m)
        assert not s.height_candidates_um  # the candidate maps are dropped after the choice
    # the thickness follows the chosen heights: within 0.5 um of the truth's mean
    for s, t in zip(res.scans, ts):
        assert s.thickness_mean_um["Li"] == pytest.approx(float(t[inner].mean()) * VS, abs=0.5)


def test_a_rough_quiet_scan_and_a_smooth_noisy_one_get_the_series_choice():
    # scan 0 alone would take the unfiltered heights (a rough surface the median flattens,
    # little noise), scan 1 alone the median (a smooth surface, four times the noise): the
    # series takes one, the one of the smaller summed squared error, for both
    rng = np.random.default_rng(0)
    ts = [6.0 + _texture(36, 1.5, 1.0, 2), 6.0 + _texture(36, 0.15, 2.5, 3)]
    vols = [_volume(ts[0], rng, 0.00015), _volume(ts[1], rng, 0.0006)]
    alone = [analyse_series([v], LAYERS, VS, energy_kev=22, interfaces=["Li|LPSCl"])
             .scans[0] for v in vols]
    assert [s.height_estimator["Li|LPSCl"] for s in alone] == ["unfiltered", "median"], [
        s.height_estimator_errors_um["Li|LPSCl"] for s in alone]
    # each scan's own choice is the estimator closer to the true surface, and the stated
    # errors rank them as the truth does: scan 0 unfiltered 0.78 um against median 1.81
    # (stated 0.68 / 1.25; Ra 3.41 / 2.70 um, truth 3.67), scan 1 median 0.85 against
    # unfiltered 2.18 (stated 0.73 / 2.16)
    for v, t, s in zip(vols, ts, alone):
        err = {}
        for e in ("median", "unfiltered"):
            r = analyse_series([v], LAYERS, VS, energy_kev=22, interfaces=["Li|LPSCl"],
                               height_estimator=e)
            err[e] = _error_um(r.scans[0].height_um["Li|LPSCl"], t, r.region.inner)
        e_u, e_m = s.height_estimator_errors_um["Li|LPSCl"]
        assert min(err, key=err.get) == s.height_estimator["Li|LPSCl"], (err, e_u, e_m)
        assert e_u == pytest.approx(err["unfiltered"], rel=0.2), (err, e_u)
    res = analyse_series(vols, LAYERS, VS, energy_kev=22, interfaces=["Li|LPSCl"])
    errs = [s.height_estimator_errors_um["Li|LPSCl"] for s in res.scans]
    want = choose_height_estimator(errs)
    assert [s.height_estimator["Li|LPSCl"] for s in res.scans] == [want, want], errs
    # the scan whose own choice it is keeps its heights; the other one's are the other map
    keep = 0 if want == "unfiltered" else 1
    np.testing.assert_array_equal(res.scans[keep].height_um["Li|LPSCl"],
                                  alone[keep].height_um["Li|LPSCl"])
    assert res.scans[keep].ra_um["Li|LPSCl"] == alone[keep].ra_um["Li|LPSCl"]
    other = 1 - keep
    assert not np.array_equal(res.scans[other].height_um["Li|LPSCl"],
                              alone[other].height_um["Li|LPSCl"], equal_nan=True)


def test_errors_from_the_maps_alone():
    # a surface and white noise of 1 um on the unfiltered map; the "median" map the surface
    # flattened by 0.8 um rms (a 3 x 3 mean's loss) and no noise: e_u reads the noise, e_m
    # the flattening (no noise response given: e_m**2 = var(d) - e_u**2)
    rng = np.random.default_rng(4)
    s = 3.0 * _texture(64, 1.0, 1.5, 5)
    flat = ndimage.uniform_filter(s, 3, mode="wrap")
    f = float(np.std(s - flat))
    e_u, e_m = height_estimator_errors(flat, s + rng.normal(0, 1.0, s.shape))
    assert e_u == pytest.approx(1.0, rel=0.15), e_u  # the surface's curvature leaks a little
    assert e_m == pytest.approx(f, rel=0.25), (e_m, f)
    assert choose_height_estimator([(e_u, e_m)]) == ("unfiltered" if e_u < e_m else "median")
    assert np.isnan(height_estimator_errors(np.ones((2, 2)), np.ones((2, 2)))[0])
    assert choose_height_estimator([(np.nan, np.nan)]) == "unfiltered"
    # the median only beyond the estimates' sampling uncertainty: 0.20 against 0.24 um on
    # 900 columns (the anode-free twin's Cu | Li face) is a tie, the unfiltered heights kept
    assert choose_height_estimator([(0.24, 0.20)]) == "median"
    assert choose_height_estimator([(0.24, 0.20)], [900]) == "unfiltered"
    assert choose_height_estimator([(2.0, 0.7)], [900]) == "median"


def test_the_estimator_can_be_forced_for_the_series():
    # analysis.tomo.height_estimator: the named estimator in every scan, the errors still
    # measured and stored
    rng = np.random.default_rng(0)
    t = 6.0 + _texture(36, 0.15, 2.5, 3)
    vols = [_volume(t, rng, 0.0006), _volume(t, rng, 0.0006)]
    auto = analyse_series(vols, LAYERS, VS, energy_kev=22, interfaces=["Li|LPSCl"])
    forced = analyse_series(vols, LAYERS, VS, energy_kev=22, interfaces=["Li|LPSCl"],
                            height_estimator="unfiltered")
    assert [s.height_estimator["Li|LPSCl"] for s in auto.scans] == ["median"] * 2
    assert [s.height_estimator["Li|LPSCl"] for s in forced.scans] == ["unfiltered"] * 2
    for a, f in zip(auto.scans, forced.scans):
        assert a.height_estimator_errors_um == f.height_estimator_errors_um
        # the unfiltered heights are the noisier ones here (smooth surface)
        assert f.ra_um["Li|LPSCl"] > a.ra_um["Li|LPSCl"]
    from ssbscope.errors import ParameterError

    with pytest.raises(ParameterError, match="height_estimator"):
        analyse_series(vols[:1], LAYERS, VS, energy_kev=22, height_estimator="mean")
