"""Transport on a user's CT series through `ssbscope run` (issue 12 §2, last bullet).

The twin writes a symmetric Li | Li6PS5Cl | Li cell plated onto its bottom electrode (three
scans in the rests at 0, 1.5 and 3.0 mAh cm-2, a BioLogic log) as a beamline and a cycler
would; the experiment file asks for the tortuosity of Li6PS5Cl.  Through projections -> FBP ->
segmentation -> layer bands -> diffusion solve, and thickness maps -> Faraday's law:

* the layer bands stored with the CT labels sit on the twin's interfaces (within one voxel
  plus the interface's Ra: a band edge is the median height of a rough interface);
* tau of the dense pellet (about 2 % isolated pores of 1-1.3 voxel radius) is at least 1 and
  within 0.05 of the Hashin-Shtrikman / Maxwell value for non-conducting isolated inclusions,
  ``D_eff / D = 2 (1 - p) / (2 + p)``, i.e. ``tau = eps D / D_eff = 1 + p / 2`` (p from the
  twin's pore volume; the HS upper bound on D_eff makes 1 + p/2 a lower bound of tau for an
  isotropic microstructure, and a dense pellet sits close to it); the slab taus are finite
  and in the same range;
* the mean current density of the plated Li between consecutive scans matches the cycler's
  mean over the same interval (charge between the scan times / dt / area) within 10 %; the
  scans sit in rests, so that mean is 1.5 mAh cm-2 / 4 h = 0.375 mA cm-2, not the plating
  current 0.5 mA cm-2 (truth: charge_mah_cm2 and time_s of truth.json).
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import yaml


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    from ssbscope.cli import main
    from ssbscope.store import Store
    from ssbscope.twin.folder import write_ct_experiment

    root = tmp_path_factory.mktemp("series_transport")
    folder = write_ct_experiment(root / "experiment", design="symmetric", size="tiny", seed=0)
    doc = yaml.safe_load(folder.yaml_path.read_text())
    doc.setdefault("analysis", {})["transport"] = {"phase": "Li6PS5Cl"}
    y = folder.root / "transport.yaml"
    y.write_text(yaml.safe_dump(doc, sort_keys=False))
    # the store only: the report's transport part is checked on the store below
    # (test_report_has_the_series_parts), the whole report on the tiny demo's
    assert main(["run", str(y), "--out", str(root / "out"), "--quiet", "--no-report"]) == 0
    truth = json.loads(folder.truth_path.read_text())
    return Store.open(root / "out" / "store.zarr"), truth, doc, folder


def test_store_keys_and_variables(run):
    st, _, _, _ = run
    names = set(st.names())
    assert {"transport/symmetric/tortuosity", "transport/symmetric/current_density"} <= names
    tr = st["transport/symmetric/tortuosity"]
    for v in ("tau", "volume_fraction", "d_eff_ratio", "slab_tau", "slab_bounds_um",
              "flux_map", "core_z_um", "band_z_um"):
        assert v in tr, v
    assert tr["flux_map"].dims == ("time_s", "y", "x")
    assert tr["slab_tau"].dims == ("time_s", "slab")
    assert tr["y"].attrs["units"] == "um" and tr.attrs["layer"] == "LPSCl"  # the electrolyte
    cd = st["transport/symmetric/current_density"]
    assert cd["current_density_ma_cm2"].dims == ("interval", "y", "x")
    assert cd["current_density_ma_cm2"].attrs["units"] == "mA/cm^2"
    assert cd.attrs["layer"] == "Li" and cd.attrs["echem_log"] == "echem/timeseries"


def test_layer_bands_on_the_twin_interfaces(run):
    st, truth, _, _ = run
    lab = st["tomo/symmetric/labels"].load()
    vs = float(lab.attrs["voxel_size_um"])
    z = lab["layer_z_vox"].sel(layer="LPSCl").values * vs
    for k, s in enumerate(truth["tomo"]["symmetric"]["scans"]):
        ra = s["roughness_um"]["Li|LPSCl"]["ra_um"]
        assert z[k, 0] == pytest.approx(s["interface_z_um"]["Li|LPSCl"], abs=vs + ra), k
        assert z[k, 1] == pytest.approx(s["interface_z_um"]["LPSCl|counter"], abs=vs + ra), k


def test_bands_located_again_for_stores_without_layer_z_vox(run):
    from ssbscope.transport.stages import _layer_bands

    st, _, doc, _ = run
    lab = st["tomo/symmetric/labels"].load()
    layers = doc["cells"]["symmetric"]["layers"]
    old = lab.drop_vars(["layer_z_vox", "layer", "bound"])
    for k in range(lab.sizes["time_s"]):
        stored = _layer_bands(lab, layers, k)
        again = _layer_bands(old, layers, k)
        assert set(stored) == set(again)
        for name, b in stored.items():  # stored on the eroded footprint, again on the mask
            assert np.abs(np.subtract(b, again[name])).max() <= 1, (k, name, b, again[name])


def test_tortuosity_of_the_dense_pellet(run):
    st, truth, _, _ = run
    tr = st["transport/symmetric/tortuosity"].load()
    tau = tr["tau"].values
    for k, s in enumerate(truth["tomo"]["symmetric"]["scans"]):
        p = s["pore_volume_um3"] / (s["mean_thickness_um"]["LPSCl"] * s["cell_area_um2"])
        assert 0.01 < p < 0.03
        assert tau[k] >= 1.0 - 1e-6
        assert abs(tau[k] - (1.0 + p / 2.0)) < 0.05, (k, tau[k], p)
        # D_eff = D eps / tau
        assert tr["d_eff_ratio"].values[k] == pytest.approx(
            tr["volume_fraction"].values[k] / tau[k], rel=1e-9)
        # the CT sees at most the twin's pores (voxel-sized pores partly lost to the median)
        assert 1.0 - p - 0.005 <= tr["volume_fraction"].values[k] <= 1.0
    slab = tr["slab_tau"].values
    assert np.all(np.isfinite(slab)) and np.all(slab >= 1.0 - 1e-6) and np.all(slab < 1.1)
    # slabs tile the core along z
    sb = tr["slab_bounds_um"].values
    np.testing.assert_allclose(sb[:, 0, 0], tr["core_z_um"].values[:, 0])
    np.testing.assert_allclose(sb[:, -1, 1], tr["core_z_um"].values[:, 1])
    fm = tr["flux_map"].values
    assert np.isfinite(fm).any() and np.nanmedian(fm) == pytest.approx(1.0, abs=0.05)


def test_current_density_matches_the_cycler(run):
    st, truth, _, _ = run
    cd = st["transport/symmetric/current_density"].load()
    scans = truth["tomo"]["symmetric"]["scans"]
    t = np.array([s["time_s"] for s in scans])
    q = np.array([s["charge_mah_cm2"] for s in scans])
    want = np.diff(q) / (np.diff(t) / 3600.0)  # 0.375 mA/cm2: the intervals hold a 1 h rest
    assert np.all(np.abs(want - 0.5) > 0.1)
    np.testing.assert_allclose(cd["t_start_s"].values, t[:-1])
    np.testing.assert_allclose(cd["t_end_s"].values, t[1:])
    np.testing.assert_allclose(cd["cycler_current_density_ma_cm2"].values, want, rtol=1e-3)
    np.testing.assert_allclose(cd["mean_current_density_ma_cm2"].values, want, rtol=0.10)
    assert np.all(np.abs(cd["residual_pct"].values) < 10.0)


def test_report_has_the_series_parts(run):
    from ssbscope.report.transport import section

    st, _, _, _ = run
    sec = section(st)
    assert sec is not None
    assert "Tortuosity of Li6PS5Cl in LPSCl (series symmetric)" in sec.html
    assert "Current density between scans (series symmetric)" in sec.html
    labels = dict(sec.summary)
    assert "tau Li6PS5Cl (symmetric)" in labels and "current density CT vs cycler (symmetric)" in labels


def test_configuration_errors(run):
    from ssbscope.config import from_dict
    from ssbscope.errors import ConfigError
    from ssbscope.transport.stages import input_stages

    _, _, doc, folder = run

    def stages(thickness=None, **tr):
        d = json.loads(json.dumps(doc))
        d["analysis"]["transport"] = tr
        if thickness is not None:
            d["analysis"]["tomo"]["thickness"] = thickness
        return input_stages(from_dict(d, base_dir=folder.root))

    names = [s.name for s in stages(phase="Li6PS5Cl")]
    assert names == ["transport.symmetric.tortuosity", "transport.symmetric.current_density"]
    assert [s.name for s in stages()] == ["transport.symmetric.current_density"]
    with pytest.raises(ConfigError, match="analysis.transport.phase"):
        stages(phase="NMC622")
    with pytest.raises(ConfigError, match="analysis.transport.series"):
        stages(series=["nope"])
    with pytest.raises(ConfigError, match="analysis.transport.layer"):
        stages(phase="Li6PS5Cl", layer="cathode")
    with pytest.raises(ConfigError, match="analysis.transport.current_density_layer"):
        stages(current_density_layer="LPSCl", thickness=["Li", "counter"])  # not measured


# ----------------------------------------------------------------------------- library, analytic

def test_layer_tortuosity_straight_channels_in_a_disk():
    from ssbscope.transport import layer_tortuosity

    nz, n = 20, 24
    yy, xx = np.mgrid[:n, :n]
    disk = (yy - 11.5) ** 2 + (xx - 11.5) ** 2 <= 10.5 ** 2
    lab = np.zeros((nz, n, n), np.uint8)            # phase 1 = conducting, 0 = other
    lab[:, disk] = 1
    cols = disk & ((xx % 4) == 0)                    # straight non-conducting columns
    lab[:, cols] = 0
    lab[:4] = 0                                      # the layer below: 4 slices
    lab[4][disk & (yy < 12)] = 0                     # a rough face: a mixing slice
    r = layer_tortuosity(lab, 1, (4, nz), disk, n_slabs=3)
    assert r.core_z_vox == (5, nz)                   # the mixing slice is trimmed
    assert r.tau == pytest.approx(1.0, abs=1e-6)     # straight channels
    eps = 1.0 - cols.sum() / disk.sum()
    assert r.volume_fraction == pytest.approx(eps, rel=1e-12)  # of the footprint, not the box
    assert r.d_eff_ratio == pytest.approx(eps, rel=1e-5)
    np.testing.assert_allclose(r.slab_tau, 1.0, atol=1e-6)
    assert r.slab_bounds_vox[0, 0] == 5 and r.slab_bounds_vox[-1, 1] == nz
    assert np.isnan(r.flux_map[~disk]).all()
    np.testing.assert_allclose(r.flux_map[disk & ~cols], 1.0, atol=1e-4)
    # in-plane: largest square inside the disk, still straight channels along y
    r1 = layer_tortuosity(lab, 1, (4, nz), disk, axis=1)
    assert r1.tau == pytest.approx(1.0, abs=1e-6)
    side = max(k for k in range(1, n + 1) for i in range(n - k + 1) for j in range(n - k + 1)
               if disk[i:i + k, j:j + k].all())        # brute force
    ys, xs = np.nonzero(r1.region)
    assert r1.region.sum() == side ** 2 and np.ptp(ys) + 1 == side and np.ptp(xs) + 1 == side
    assert disk[r1.region].all()


def test_series_current_density_matches_faraday():
    from ssbscope.transport import series_current_density, thickness_change_to_current_ma_cm2

    t = np.array([0.0, 3600.0, 10800.0])
    dh = thickness_change_to_current_ma_cm2(1.0, 3600.0)   # mA/cm2 per um/h
    j = 0.5                                                 # plating, then 1 h rest inside
    h1 = 10 + j / dh                                        # um after 1 h at j
    h2 = h1 + j / dh                                        # 1 h more plating, 1 h rest
    maps = np.stack([np.full((5, 6), v) for v in (10.0, h1, h2)])
    log_t = np.array([0.0, 3600.0, 7200.0, 10800.0])
    log_q = np.array([0.0, 0.5, 1.0, 1.0])                  # mAh/cm2
    res = series_current_density(maps, t, log_time_s=log_t, log_charge_mah_cm2=log_q)
    np.testing.assert_allclose(res.cycler_current_ma_cm2, [0.5, 0.25])
    np.testing.assert_allclose(res.mean_current_ma_cm2, [0.5, 0.25], rtol=1e-12)
    np.testing.assert_allclose(res.residual_pct, 0.0, atol=1e-9)
