"""XCS twin's fast paths against the straightforward computation.

Reference 1: the dense formulation of ``simulate_exposure``'s photon-count step (one
(n, n, n_classes) array of expected photons per kind for every class, ``rng.poisson`` over
the whole array); tolerance: none (same seed, same bytes).
Reference 2: the plain per-class sampler :func:`ssbscope.twin.xcs._class_sampler` (no
cached tables, no in-place arithmetic; its products are grouped differently, so it agrees to
rounding and to the 1e-9 mm thickness in its cache key (5e-10 mm x mu < 1e-9 of t2): rtol 1e-9).
"""

import numpy as np

from ssbscope.twin import xcs

GEOM = xcs.XcsGeometry()


def _dense_reference(cell, beam_centre_mm, nz, roi_radius_mm, n_photons, seed):
    """Exposure scale and Compton/Rayleigh photon counts from the dense arrays."""
    from ssbscope.compton.physics import klein_nishina_cm2_sr

    classes, pixels, weights = xcs._voxel_classes(cell, GEOM, beam_centre_mm, nz)
    n = GEOM.n_pixels
    wvol = np.zeros((n * n, len(classes)))
    for k, (pix, w) in enumerate(zip(pixels, weights)):
        wvol[pix, k] = w
    wvol = wvol.reshape(n, n, len(classes))
    smp = [xcs._class_sampler_cached(xcs._class_key(c), GEOM.e_incident_kev) for c in classes]
    rate_c = np.array([s[0] for s in smp])
    rate_r = np.array([s[2] for s in smp])
    yy, xx = GEOM.object_centres_mm()
    L = GEOM.sample_to_pinhole_mm
    e1 = GEOM.e_incident_kev
    kn_rel = klein_nishina_cm2_sr(e1, xcs._angle_deg(xx, yy, L)) / klein_nishina_cm2_sr(e1, 90.0)
    obl = (L / np.sqrt(xx * xx + yy * yy + L * L)) ** 3
    lam_c = wvol * rate_c[None, None, :] * (kn_rel * obl)[:, :, None]
    lam_r = wvol * rate_r[None, None, :] * obl[:, :, None]
    out_roi = np.hypot(xx, yy) >= roi_radius_mm
    lam_c[out_roi] = 0.0
    lam_r[out_roi] = 0.0
    scale = n_photons / (lam_c.sum() + lam_r.sum())
    rng = np.random.default_rng(seed)
    n_c = rng.poisson(lam_c * scale)
    n_r = rng.poisson(lam_r * scale)
    return scale, int(n_c.sum()), int(n_r.sum()), smp, classes


def test_sparse_exposure_matches_dense_reference():
    cell = xcs.CoinCell()
    z = cell.beam_centres_mm()["region 2"]  # anode and SPE in the sheet, wall zone outside the ROI
    scale, n_c, n_r, smp, classes = _dense_reference(cell, z, 12, 5.0, 30_000, 3)
    ex = xcs.simulate_exposure(cell, z, n_photons=30_000, nz=12, roi_radius_mm=5.0,
                               detector=xcs.DetectorModel.ideal(), seed=3)
    assert ex.truth["exposure_scale"] == scale
    assert ex.truth["n_photons_compton"] == n_c and ex.truth["n_photons_rayleigh"] == n_r
    assert n_c > 20_000
    # the cached in-place sampler agrees with the plain one to rounding
    for c, got in zip(classes, smp):
        ref = xcs._class_sampler(c, GEOM.e_incident_kev)
        np.testing.assert_allclose([got[0], got[2]], [ref[0], ref[2]], rtol=1e-9, atol=0)
        np.testing.assert_allclose(got[1], ref[1], rtol=1e-9, atol=1e-300)
        assert got[0] > 0 and got[1][-1] == 1.0
