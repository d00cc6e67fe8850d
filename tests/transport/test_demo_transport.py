"""Transport of the demo through `ssbscope run` against the twin's truth (issue 12, one path).

The demo (``tiny_demo``) is the twin's experiment folder and exactly ``ssbscope run``:

* the coin cell's CT series (Huang et al. 2024, doi:10.1016/j.xcrp.2024.101995: 115 keV
  phase contrast, truncated ROI scans at pristine / fully charged / fully discharged) asks for
  the Li+ flux through its anode|SPE interphase region (``analysis.transport.
  interface_regions``: PEO-LiTFSI in a +-16 µm slab, driven along x as in the paper's TauFactor
  simulation).  Truth: the same slab on the twin's labels about its true mean surface height
  (``truth.json`` ``tomo.coin.scans[].interface_flux``).  Tolerances: tau 5 %, volume fraction
  0.04, the interface's mean height half a voxel (1.62 µm).  Measured at tiny, seed 0:
  tau 1.443 / 1.371 / 1.365 against 1.484 / 1.374 / 1.348 (-2.8, -0.3, +1.3 %), volume
  fraction +0.018 / +0.028 / +0.029, heights within 0.4 µm;
* the anode-free series (Sandoval et al. 2025) has its second scan displaced in-plane by
  (1, -1) voxels (twin parameter ``demo_drift_yx``); the tomo chain registers it back, the
  current density between consecutive scans must match the cycler's charge (4 %) and the
  twin's true mean (4 %), and the stored registration shift must undo the displacement
  within a quarter voxel (measured: -2.7, +2.4 µm for -3, +3).
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from ssbscope.report.accuracy import CD_RMS_NOISE_TOL


@pytest.fixture(scope="module")
def demo(tiny_demo):
    from ssbscope.store import Store

    truth = json.loads((tiny_demo / "experiment" / "truth.json").read_text())
    return Store.open(tiny_demo / "store.zarr"), truth, tiny_demo


def test_demo_asks_for_the_interface_region_on_the_run_path(demo):
    from ssbscope.config import load

    _, _, root = demo
    exp = load(root / "experiment" / "experiment.yaml")
    assert exp.twin is None or "transport" not in exp.twin.modalities
    (reg,) = exp.analysis.transport.interface_regions
    assert (reg.interface, reg.phase, reg.half_thickness_um, reg.axis) == (
        "anode|SPE", "PEO-LiTFSI", 16.0, 2)


def test_interface_flux_of_the_coin_series_against_truth(demo):
    st, truth, _ = demo
    names = set(st.names())
    assert "transport/interface_flux" not in names and "transport/current_density" not in names
    fx = st["transport/coin/interface_flux"].load()
    assert list(fx["interface"].values) == ["anode|SPE"]
    assert fx["flux_map"].dims == ("time_s", "interface", "y", "x")
    assert fx["y"].attrs["units"] == "um" and fx["interface_z_um"].attrs["units"] == "um"
    scans = truth["tomo"]["coin"]["scans"]
    vs = truth["tomo"]["coin"]["voxel_size_um"]
    np.testing.assert_allclose(fx["time_s"].values, [s["time_s"] for s in scans])
    for k, s in enumerate(scans):
        tr = s["interface_flux"]["anode|SPE"]
        assert tr["half_thickness_um"] == 16.0 and tr["axis"] == 2
        tau, eps = fx["tau"].values[k, 0], fx["volume_fraction"].values[k, 0]
        assert tau == pytest.approx(tr["tau"], rel=0.05), (s["state"], tau, tr["tau"])
        assert abs(eps - tr["volume_fraction"]) <= 0.04, (s["state"], eps, tr["volume_fraction"])
        assert abs(fx["interface_z_um"].values[k, 0] - tr["interface_z_um"]) <= vs / 2
        assert fx["d_eff_ratio"].values[k, 0] == pytest.approx(eps / tau, rel=1e-9)
        # the slab: 2 x 5 voxels about the interface, as the truth's (same rounded centre)
        np.testing.assert_allclose(fx["slab_z_um"].values[k, 0], tr["slab_z_um"], atol=1e-6)
        assert fx["flux_imbalance"].values[k, 0] <= 1e-3
        fm = fx["flux_map"].values[k, 0]
        assert np.isfinite(fm).sum() >= 0.4 * fm.size and np.nanmax(fm) > 0.5
    # the twin's interphase: the pristine slab is the most tortuous (truth 1.48 vs 1.37, 1.35)
    assert fx["tau"].values[0, 0] > max(fx["tau"].values[1:, 0])


def test_current_density_registers_the_displaced_scan(demo):
    from ssbscope.transport import thickness_change_to_current_ma_cm2

    st, truth, _ = demo
    cd = st["transport/anode_free/current_density"].load()
    scans = truth["tomo"]["anode_free"]["scans"]
    vs = truth["tomo"]["anode_free"]["voxel_size_um"]
    drift = np.array([s["drift_yx_um"] for s in scans])
    moved = np.flatnonzero(np.abs(drift).sum(axis=1) > 0)
    assert moved.tolist() == [1]                      # the twin displaced the second scan
    sh = cd["registration_shift_um"].sel(axis=["y", "x"]).values
    np.testing.assert_allclose(sh, -drift, atol=vs / 4)
    t = np.array([s["time_s"] for s in scans])
    q = np.array([s["charge_mah_cm2"] for s in scans])
    want = np.diff(q) / (np.diff(t) / 3600.0)       # the cycler's mean over each interval
    np.testing.assert_allclose(cd["cycler_current_density_ma_cm2"].values, want, rtol=1e-3)
    # measured at seeds 0, 1, 2: -1.7 / -1.8, -0.2 / -1.3, -0.4 / -0.0 % (the stripping
    # interval read -8.9 / -7.5 / -7.1 % before the thin layer's interface took its
    # material's pure level)
    np.testing.assert_allclose(cd["mean_current_density_ma_cm2"].values, want, rtol=0.04)
    assert np.all(np.abs(cd["residual_pct"].values) < 4.0)
    h = np.array([s["mean_thickness_um"]["Li"] for s in scans])
    j_true = [thickness_change_to_current_ma_cm2(dh, dt) for dh, dt in zip(np.diff(h), np.diff(t))]
    np.testing.assert_allclose(cd["mean_current_density_ma_cm2"].values, j_true, rtol=0.04)


def _smooth(a, ok, sigma):
    import scipy.ndimage as ndi

    num = ndi.gaussian_filter(np.where(ok, a, 0.0), sigma)
    den = ndi.gaussian_filter(ok.astype(float), sigma)
    return (num / np.maximum(den, 1e-12))[ok]


def test_current_density_maps_against_the_true_maps(demo):
    """Each measured map against the twin's true map (truth.json ``tomo.anode_free.
    current_density``: Faraday's law on the plated layer's continuous thickness change per
    column, the phantom's grid in the first scan's frame).  Measured at tiny, seed 0 (pristine
    -> plated 3.0, plated 3.0 -> stripped 1.5 mAh cm^-2; the second scan displaced and
    registered back): rms difference 0.043 / 0.088 mA cm^-2 against the map's noise estimate
    (white and correlated error, ssbscope.transport.current_density.map_noise_correlated: the
    shared model ssbscope.mapnoise) 0.029 / 0.070 (ratio 1.45 / 1.26; the former exponential
    variogram fit 1.20 / 1.01, seeds 1, 2: 1.16 / 0.94, 0.83 / 0.96; tolerance
    CD_RMS_NOISE_TOL = 1.5; the neighbour-difference estimate, 0.024 / 0.054, misses the
    error correlated over neighbouring pixels, rho(1) ~ 0.55); correlation after a Gaussian
    of 2 px on both 0.97 / 0.88 (tolerance 0.8); mean bias -0.011 / +0.011 mA cm^-2 (seeds
    1, 2: -0.002 / +0.008, -0.002 / +0.001; the stripping interval read +0.046 / +0.039 /
    +0.036, 7-9 % short, while the 2.4-voxel stripped layer's interface height took the
    crop's mixed Li level: ssbscope.tomo.series_chunked.THIN_LAYER_VOX)
    (the report's accuracy rows, same tolerances)."""
    st, truth, _ = demo
    cd = st["transport/anode_free/current_density"].load()
    tcd = truth["tomo"]["anode_free"]["current_density"]
    assert tcd["layer"] == cd.attrs["layer"] == "Li"
    # the truth's grid is the run's (pixel centres in µm)
    np.testing.assert_allclose(cd["y"].values, tcd["y_um"])
    np.testing.assert_allclose(cd["x"].values, tcd["x_um"])
    assert len(tcd["intervals"]) == cd.sizes["interval"] == 2
    for k, iv in enumerate(tcd["intervals"]):
        assert iv["t_start_s"] == cd["t_start_s"].values[k]
        assert iv["t_end_s"] == cd["t_end_s"].values[k]
        jt = np.array([[np.nan if v is None else v for v in r]
                       for r in iv["current_density_ma_cm2"]], float)
        jm = cd["current_density_ma_cm2"].values[k].astype(float)
        ok = np.isfinite(jt) & np.isfinite(jm)
        assert ok.sum() >= 0.4 * ok.size
        # the true map itself: Faraday's law of the cycler's charge on average (no Li into
        # cracks in these intervals), a non-uniform pattern (the plated layer's thickness CV)
        want = 0.5 if k == 0 else -0.5
        assert np.nanmean(jt) == pytest.approx(want, rel=0.01)
        assert 0.05 < np.nanstd(jt) < 0.15
        noise = float(cd["noise_current_density_ma_cm2"].values[k])
        rms = float(np.sqrt(np.mean((jm[ok] - jt[ok]) ** 2)))
        assert 0 < noise and rms <= CD_RMS_NOISE_TOL * noise, (k, rms, noise)
        # the correlated part: more than the neighbour differences see, over 1-3 pixels
        white = float(cd["white_noise_current_density_ma_cm2"].values[k])
        assert noise > 1.2 * white and rms > CD_RMS_NOISE_TOL * white, (k, rms, noise, white)
        assert 0 < float(cd["noise_correlation_length_um"].values[k]) <= 3 * 3.0
        assert abs(float(np.mean(jm[ok] - jt[ok]))) < 0.025
        c = float(np.corrcoef(_smooth(jm, ok, 2.0), _smooth(jt, ok, 2.0))[0, 1])
        assert c >= 0.8, (k, c)
        # no blanket tolerance: the mean plus noise of the map's level (no pattern) misses
        # the correlation
        flat = np.where(ok, np.nanmean(jm), np.nan) + \
            np.random.default_rng(k).normal(0, noise, jm.shape)
        assert float(np.corrcoef(_smooth(flat, ok, 2.0), _smooth(jt, ok, 2.0))[0, 1]) < 0.8


def test_report_and_accuracy_read_the_run_path_keys(demo):
    from ssbscope.report.accuracy import accuracy_table
    from ssbscope.report.transport import _series_interface_part, section

    st, truth, _ = demo
    sec = section(st)
    assert "Flux through the interface regions (series coin)" in sec.html
    assert "twin tau" in sec.html and "twin displacement y, x (µm)" in sec.html
    assert dict(sec.summary)["tau PEO-LiTFSI at anode|SPE (coin)"].count("→") == 2
    # without truth (a user's data): the same part, no twin columns
    html, _ = _series_interface_part(st["transport/coin/interface_flux"].load(), "coin", None)
    assert "twin" not in html and "Flux through the interface regions" in html
    df = accuracy_table(st, truth)
    rows = df[df["quantity"].str.contains("about the interface|between scans|registration shift")]
    assert len(rows[rows["quantity"] == "tortuosity of PEO-LiTFSI about the interface"]) == 3
    assert len(rows[rows["quantity"].str.startswith("registration shift")]) == 2
    assert rows["within"].astype(bool).all(), rows[["quantity", "where", "error"]]
    # the maps against the twin's true maps: rms vs the map's noise, smoothed correlation
    cdr = df[df["quantity"].str.startswith("current-density map:")]
    assert len(cdr) == 4 and cdr["within"].astype(bool).all(), cdr[["quantity", "where", "error"]]
    # without truth.json (a user's data): no such row
    assert not accuracy_table(st, {})["quantity"].astype(str).str.startswith(
        "current-density map:").any()
