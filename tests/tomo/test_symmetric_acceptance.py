"""Acceptance of the one-path CT contract on a cell design the demo does not use.

The twin writes a symmetric Li | Li6PS5Cl | Li series (no Cu; steel plungers declared) as a
beamline and a cycler would: one Data Exchange file per scan, a BioLogic .mpt log, an
experiment.yaml, the truth apart.  `ssbscope run` on it must recover, through the whole chain
(projections -> FBP -> segmentation by the declared layers -> metrics -> Faraday residual):

* Ra of the plated Li | Li6PS5Cl interface within 10 % of truth at every scan, after the
  resolution correction (``ra_resolution_corrected_um``: -7.6 / -7.2 / -7.3 % at 0 / 1.5 /
  3 mAh cm-2; the raw Ra of the series' median heights reads -15 / -15 / -16 %; what is
  left is the footprint: the metric integrates the cell minus its outer ring, whose own
  truth Ra is 6.5-10 % below the whole cell's; see the test);
* the mean thickness of both Li layers within one voxel (3 um);
* the plated layer's volume change within 10 % (relative) of truth;
* the Faraday residual (plated thickness change vs charge from the log) within 10 %.

The truth is the twin's voxelised phantom (exact Ra of its height map, voxel-count
thickness), independent of the measurement code; the charge comes from the log file.
"""

from __future__ import annotations

import json

import numpy as np
import pytest


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    from ssbscope.cli import main
    from ssbscope.store import Store
    from ssbscope.twin.folder import write_ct_experiment

    root = tmp_path_factory.mktemp("symmetric")
    folder = write_ct_experiment(root / "experiment", design="symmetric", size="small", seed=0)
    # the store only: the report of this series is built by tests/core/test_examples.py's run
    assert main(["run", str(folder.yaml_path), "--out", str(root / "out"), "--quiet",
                 "--no-report"]) == 0
    truth = json.loads(folder.truth_path.read_text())
    return Store.open(root / "out" / "store.zarr"), truth


def test_roughness_within_10_percent(run):
    """Ra of the plated interface with the measurement's lateral transfer undone
    (``ra_resolution_corrected_um``, :func:`ssbscope.tomo.metrics.roughness_resolution_corrected`)
    within 10 % of the truth at every scan.

    The series' height estimator (:func:`ssbscope.tomo.series.choose_height_estimator`) takes
    the 3x3x3 median here, the better height map (rms error per column 1.12 / 1.31 / 1.67 um,
    unfiltered 2.11 / 2.18 / 2.50); its raw Ra reads -15 / -15 / -16 % (3.25 / 4.92 / 6.69 um
    against 3.81 / 5.76 / 7.95).  Two parts (diagnosed with the truth, not used by the code):
    the footprint (the cell less its outer ring; the truth's own Ra there is 3.56 / 5.27 /
    7.15, -6.5 / -8.5 / -10.1 %, which no correction of the map can recover) and the lateral
    transfer (the truth on the footprint blurred by a Gaussian of 1.0-1.1 voxel matches the
    measured map best, rms 0.75-1.13 um).  The correction measures the reconstruction's PSF
    from the cell wall's edge spread in the pellet's slices (sigma 0.46 / 0.46 / 0.49 voxel),
    passes the map once more through PSF + median + partial-volume heights and undoes the
    loss it shows (R_meas^2 / R_forward): 3.52 / 5.35 / 7.37 um, -7.6 / -7.2 / -7.3 % against
    the whole-cell truth, -1.2 / +1.5 / +3.1 % against the footprint's.  The raw Ra is the
    lower one at every scan.

    Since the correction also removes the map's own noise (the median heights' noise from
    the scan's noise field, 0.66 / 0.89 / 0.64 um, 0.6-2.7 % of the map's variance; issue 17,
    valid on the anode-free twin's noise-dominated maps too) it reads 3.45 / 5.26 / 7.34 um,
    -9.6 / -8.7 / -7.7 % (-3.2 / -0.2 / +2.6 % of the footprint's truth): the margin at the
    pristine scan is 0.4 points, and the footprint's loss is what uses it.  The PSF is
    measured with the scan (up to 64 slices of the band, here the whole band: the same
    0.46 / 0.46 / 0.49).  Other seeds (not asserted, measured): seed 1 -3.3 / -6.6 / -6.0 %;
    seed 2 -5.2 / -12.4 / -12.9 % (raw -10 / -20 / -22 %; without the noise term -3.5 /
    -11.8 / -12.4 %): this test's tolerance holds on seeds 0 and 1 only."""
    st, truth = run
    met = st["tomo/symmetric/metrics"].load()
    scans = truth["tomo"]["symmetric"]["scans"]
    raw = met["ra_um"].sel(interface="Li|LPSCl").values
    ra = met["ra_resolution_corrected_um"].sel(interface="Li|LPSCl").values
    true_ra = np.array([r["roughness_um"]["Li|LPSCl"]["ra_um"] for r in scans])
    np.testing.assert_allclose(ra, true_ra, rtol=0.10)
    assert np.all(np.diff(ra) > 0)  # roughening with the plated charge, as in truth
    assert np.all(raw < ra) and np.all(raw < 0.9 * true_ra)   # the raw Ra: -15 %
    psf = met["psf_sigma_vox"].values
    assert np.all((psf > 0.2) & (psf < 1.0)), psf       # edge spread: 0.46-0.49 voxel


def test_layer_thickness_within_one_voxel(run):
    st, truth = run
    met = st["tomo/symmetric/metrics"].load()
    for k, r in enumerate(truth["tomo"]["symmetric"]["scans"]):
        for layer in ("Li", "counter"):
            got = float(met["thickness_mean_um"].sel(layer=layer).values[k])
            assert got == pytest.approx(r["mean_thickness_um"][layer], abs=3.0), (layer, k)


def test_plated_li_volume_change_within_10_percent(run):
    st, truth = run
    met = st["tomo/symmetric/metrics"].load()
    vol = met["layer_volume_um3"].sel(layer="Li").values
    t_true = np.array([r["mean_thickness_um"]["Li"] for r in truth["tomo"]["symmetric"]["scans"]])
    got = 100 * (vol[1:] - vol[0]) / vol[0]
    want = 100 * (t_true[1:] - t_true[0]) / t_true[0]  # same footprint: volume ~ thickness
    np.testing.assert_allclose(got, want, rtol=0.10)


def test_faraday_residual_within_10_percent(run):
    st, truth = run
    cs = st["correlate/states"].load()
    scans = truth["tomo"]["symmetric"]["scans"]
    np.testing.assert_allclose(cs["charge_mah_cm2"].values, [r["charge_mah_cm2"] for r in scans],
                               atol=1e-3)
    res = cs["faraday_residual_pct"].values
    assert np.isnan(res[0])  # no charge passed at the first scan
    assert np.all(np.abs(res[1:]) < 10.0), res


def test_current_density_maps_against_the_true_maps(run):
    """``transport/symmetric/current_density`` against the twin's true maps (truth.json
    ``tomo.symmetric.current_density``: Faraday's law on the bottom electrode's whole-voxel
    thickness change per column).  Measured (small, seed 0): rms difference 0.159 / 0.162
    mA cm^-2 against the map's noise estimate and the truth's whole-voxel rounding in
    quadrature, 0.178 / 0.177 (ratio 0.89 / 0.92; tolerance 1.5); correlation after a
    Gaussian of 2 px on both 0.993 / 0.988 (tolerance 0.8).  With one height estimator for
    the series (the median, issue 17): rms 0.081 / 0.090 against 0.081 / 0.081 (ratio 1.00
    / 1.12), correlation 0.989 / 0.986."""
    import scipy.ndimage as ndi

    st, truth = run
    cd = st["transport/symmetric/current_density"].load()
    tcd = truth["tomo"]["symmetric"]["current_density"]
    np.testing.assert_allclose(cd["y"].values, tcd["y_um"])
    assert len(tcd["intervals"]) == cd.sizes["interval"] == 2

    def smooth(a, ok):
        num = ndi.gaussian_filter(np.where(ok, a, 0.0), 2.0)
        return (num / np.maximum(ndi.gaussian_filter(ok.astype(float), 2.0), 1e-12))[ok]

    for k, iv in enumerate(tcd["intervals"]):
        jt = np.array([[np.nan if v is None else v for v in r]
                       for r in iv["current_density_ma_cm2"]], float)
        jm = cd["current_density_ma_cm2"].values[k].astype(float)
        ok = np.isfinite(jt) & np.isfinite(jm)
        assert ok.sum() >= 0.4 * ok.size
        q = iv["quantization_ma_cm2"]
        assert q > 0                                   # a whole-voxel truth
        noise = float(cd["noise_current_density_ma_cm2"].values[k])
        rms = float(np.sqrt(np.mean((jm[ok] - jt[ok]) ** 2)))
        assert rms <= 1.5 * np.hypot(noise, q), (k, rms, noise, q)
        # one height estimator for the series, the median here (issue 17): 0.081 / 0.090
        # mA cm^-2 (0.159 / 0.162 with the former per-scan switch's unfiltered heights)
        assert rms < 0.12, (k, rms)
        assert np.corrcoef(smooth(jm, ok), smooth(jt, ok))[0, 1] >= 0.8
