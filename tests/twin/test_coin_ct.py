"""The coin cell's 115 keV phase-contrast CT twin (Huang et al. 2024,
doi:10.1016/j.xcrp.2024.101995) and its series through ``ssbscope run``.

Physics of the forward model against independent references (xraylib's refractive index and
the disc chord; the transport-of-intensity equation; the absorption-only limit), the twin's
truth against Table 1 and Faraday's law, and the acceptance of issue 16 through the chain.
"""

import json
import math

import numpy as np
import pytest

from ssbscope.twin import coin_ct as cc


def test_delta_line_integral_is_xraylib_delta_times_chord():
    """A slice of pure Li: ∫δ dl = δ_Li (xraylib) x 16 mm chord + δ_steel x the casing's
    two 0.3 mm walls; at t = 5 mm off axis the chords shorten as 2 sqrt(R^2 - t^2)."""
    import xraylib

    cfg = cc.CoinCTConfig()
    idx = cc.refractive_indices(115.0)
    d_li = 1.0 - xraylib.Refractive_Index_Re("Li", 115.0, 0.534)
    assert idx["Li"][0] == pytest.approx(d_li, rel=1e-9)
    assert 6e-9 < d_li < 9e-9  # ~7.2e-9 at 115 keV
    fr = np.zeros((1, len(cc.PHASES)))
    fr[0, 2] = 1.0
    t = np.array([0.0, 5000.0])
    dl, bl = cc.line_integrals_outside(fr, t, cfg, idx)
    d_fe = idx["steel"][0]
    for j, tu in enumerate(t):
        li = 2 * math.sqrt(8000.0 ** 2 - tu ** 2) * 1e-6
        wall = 2 * (math.sqrt(10000.0 ** 2 - tu ** 2) - math.sqrt(9700.0 ** 2 - tu ** 2)) * 1e-6
        assert dl[0, j] == pytest.approx(d_li * li + d_fe * wall, rel=1e-9)
    # the phase of 16 mm of Li is ~100 rad, 100x the ROI's (the projections are truncated)
    assert 2 * math.pi / cc.wavelength_m(115.0) * dl[0, 0] > 50


def test_fresnel_propagation_matches_transport_of_intensity():
    """A weak, smooth phase bump: I(d) = 1 - (λ d / 2π) ∇²φ (TIE, first order in d)."""
    lam = cc.wavelength_m(115.0)
    px = 3.24e-6
    n = 512
    x = (np.arange(n) - n / 2) * px
    s = 2 * px
    a = 0.5
    phi = a * np.exp(-x ** 2 / (2 * s ** 2))
    d = 0.3
    I = np.abs(cc.fresnel_propagate(np.exp(1j * phi), d, px, lam)) ** 2
    lap = a * np.exp(-x ** 2 / (2 * s ** 2)) * (x ** 2 / s ** 4 - 1 / s ** 2)
    tie = 1 - lam * d / (2 * np.pi) * lap
    # sign: the wave is exp(-i k ∫δ) with phi = -k∫δ, propagator exp(-i π λ d u²)
    assert np.max(np.abs(I - tie)) < 0.1 * np.max(np.abs(tie - 1))
    assert np.max(np.abs(tie - 1)) > 1e-3  # the effect is there (not a vacuous check)


@pytest.fixture(scope="module")
def scans():
    cfg = cc.CoinCTConfig(n_angles=24)
    ph = cc.coin_roi_phantom("fully charged", n_xy=32, cfg=cfg, seed=1)
    near = cc.CoinCTConfig(n_angles=24, distance_mm=1e-6)
    out = {}
    for name, c in (("far", cfg), ("near", near)):
        sc, ex = cc.simulate_coin_scan(ph, cfg=c, seed=3, return_intensity=True)
        out[name] = (sc, ex)
    return ph, out


def test_phase_contrast_fringe_at_the_li_spe_interface(scans):
    """At 300 mm the rough Li|SPE surface shows up across the detector at many times its
    absorption contrast (d -> 0); deep in the Li there is nothing to see either way; the
    outside's 1-D profile rings (over- and undershoot) at the interface."""
    ph, out = scans
    I_far, I_near = out["far"][1]["intensity"], out["near"][1]["intensity"]
    z_if = int(round(np.mean(ph.surface_z_vox[ph.roi])))
    band = slice(z_if - 3, z_if + 3)
    sl = slice(4, -4)  # the ROI's columns away from its rim
    c_far = np.std(I_far[:, band, sl] / I_far[:, band, sl].mean(axis=2, keepdims=True))
    c_near = np.std(I_near[:, band, sl] / I_near[:, band, sl].mean(axis=2, keepdims=True))
    assert c_far > 5 * c_near, (c_far, c_near)
    deep = slice(z_if - 40, z_if - 30)
    assert np.std(I_far[:, deep, sl] / I_far[:, deep, sl].mean()) < 0.2 * c_far
    # absorption-only contrast Li | PEO-LiTFSI through the ROI's ~100 µm: ~1e-3 relative
    assert c_near < 5e-3
    prof_far = out["far"][1]["I_outside"][:, 16]
    prof_near = out["near"][1]["I_outside"][:, 16]
    li, spe = prof_near[z_if - 20], prof_near[z_if + 6]
    win = prof_far[z_if - 6:z_if + 6]
    assert win.max() > max(li, spe) * 1.01 or win.min() < min(li, spe) * 0.99
    # far from any edge the propagated intensity is the absorption (Beer-Lambert) one
    assert prof_far[z_if - 30] == pytest.approx(prof_near[z_if - 30], rel=2e-3)


def test_coupled_propagation_reduces_to_the_product_without_an_exterior(monkeypatch):
    """``coupled=True`` propagates the outside's and the ROI's waves together on a finer z grid
    over the ROI's rows; with no cell outside the ROI (zero radii, no casing) and the same z
    sampling as the decoupled path (oversampling 1) the two give the same intensity (the
    window, margins and kept rows are right), while with an exterior they differ by its
    refraction (measured through the chain at tiny / 600, seed 0: Ra 5.39 / 8.26 / 9.33 um,
    anode volume change +2.92 / +1.27 %, contrast -2.8 / -1.6 / -2.3e-5; the demo keeps the
    decoupled default, see the module docstring)."""
    monkeypatch.setattr(cc, "COUPLE_Z_OVERSAMPLE", 1)
    rad = {k: 0.0 for k in ("steel", "Li", "PEO-LiTFSI", "cathode", "Al", "void")}
    out = {}
    for cp in (False, True):
        cfg = cc.CoinCTConfig(n_angles=12, coupled=cp, radii_mm=rad, casing_mm=(0.0, 0.0))
        ph = cc.coin_roi_phantom("fully discharged", n_xy=32, cfg=cfg, seed=0)
        out[cp] = cc.simulate_coin_scan(ph, cfg=cfg, seed=1, return_intensity=True)[1][
            "intensity"]
    assert np.ptp(out[False]) > 0.03                      # the ROI's own fringes
    assert np.abs(out[True] - out[False]).max() < 1e-4
    cfg = cc.CoinCTConfig(n_angles=12, coupled=True)       # with the cell outside: coupled
    ph = cc.coin_roi_phantom("fully discharged", n_xy=32, cfg=cfg, seed=0)
    ic = cc.simulate_coin_scan(ph, cfg=cfg, seed=1, return_intensity=True)[1]["intensity"]
    dc = cc.simulate_coin_scan(ph, cfg=cc.CoinCTConfig(n_angles=12), seed=1,
                               return_intensity=True)[1]["intensity"]
    assert np.abs(ic - dc).max() > 1e-3


def test_twin_truth_follows_table1_and_faraday():
    from ssbscope.twin.xcs import states_from_echem

    cfg = cc.CoinCTConfig()
    phs = [cc.coin_roi_phantom(s, n_xy=40, cfg=cfg, seed=0) for s in cc.STATES]
    assert [p.ra_um for p in phs] == pytest.approx([5.1, 5.4, 6.1], abs=0.05)
    v = [p.anode_volume_um3 for p in phs]
    assert 100 * (v[1] / v[0] - 1) == pytest.approx(3.7, abs=0.15)
    assert 100 * (v[2] / v[1] - 1) == pytest.approx(-1.4, abs=0.15)
    st = {s.name: s for s in states_from_echem(labels=cc.STATES)}
    plated_um = 1e3 * (st["fully charged"].anode_thickness_mm - st["pristine"].anode_thickness_mm)
    area = phs[0].roi.sum() * cfg.voxel_size_um ** 2
    # envelope growth = the ROI's share (0.8, params_000) of Faraday's plated Li
    assert (v[1] - v[0]) / area == pytest.approx(0.8 * plated_um, rel=0.02)
    # stripped Li not lost from the envelope sits in subsurface pores (Li volume conserved)
    stripped_um = plated_um - 1e3 * (st["fully discharged"].anode_thickness_mm
                                     - st["pristine"].anode_thickness_mm)
    li_lost = (phs[1].li_volume_um3 - phs[2].li_volume_um3) / area
    assert li_lost == pytest.approx(0.8 * stripped_um, rel=0.05)
    # one geometry: the spacer and the anode's bottom do not move
    for p in phs:
        assert p.truth["anode_bottom_z_vox"] == cfg.spacer_vox
        assert (p.labels[:cfg.spacer_vox] == 1).all()


@pytest.fixture(scope="module")
def coin_folder(tmp_path_factory):
    from ssbscope.twin.folder import write_truth_json

    exp = tmp_path_factory.mktemp("coin_ct") / "experiment"
    part = cc.coin_ct_part(exp, size="tiny", seed=0, n_angles=300)
    t = write_truth_json(exp / "truth.json", [part])
    return exp, part, json.loads(t.read_text())["tomo"]["coin"]


def test_coin_part_files_yaml_truth(coin_folder):
    exp, part, truth = coin_folder
    from ssbscope.config import load
    from ssbscope.twin.folder import write_experiment_yaml

    y = write_experiment_yaml(exp / "experiment.yaml", [part], name="coin CT")
    cfg = load(y)  # the YAML a user could write validates
    tomo = cfg.inputs.tomo
    assert [t.phase_retrieval.distance_mm for t in tomo] == [300.0] * 3
    assert cfg.cells["coin"].layers[1].name == "anode"
    assert part.files == [f"scans/coin/s00{k}.h5" for k in range(3)]
    items = [d for d, _ in part.inputs["tomo"]]
    assert [d["state"] for d in items] == list(cc.STATES)
    assert all(d["phase_retrieval"]["method"] == "paganin" and d["truncated"] == "auto"
               and d["energy_kev"] == 115.0 for d in items)
    assert part.analysis["tomo"] == {"interfaces": ["anode|SPE"], "thickness": ["anode", "SPE"],
                                    "electrolyte": "SPE"}
    ra = [s["roughness_um"]["anode|SPE"]["ra_um"] for s in truth["scans"]]
    assert ra == pytest.approx([5.1, 5.4, 6.1], abs=0.05)
    chg = [s["anode_volume_change_pct"] for s in truth["scans"]]
    assert chg[1] == pytest.approx(3.7, abs=0.15)
    assert (1 + chg[2] / 100) / (1 + chg[1] / 100) - 1 == pytest.approx(-0.014, abs=0.0015)


@pytest.fixture(scope="module")
def coin_run(coin_folder, tiny_demo):
    """``ssbscope run`` on the tiny series (40 px ROI, 300 projections): the shared tiny demo
    (tests/conftest.py), whose folder holds this very series (same files, byte for byte, and
    the same truth: checked here) beside the demo's other inputs; its store and report.
    (A run of the series alone gives the same coin metrics and costs ~20 s CPU more.)"""
    import hashlib
    from types import SimpleNamespace

    exp, part, truth = coin_folder
    demo = tiny_demo / "experiment"
    for f in part.files:
        assert (hashlib.sha256((exp / f).read_bytes()).digest()
                == hashlib.sha256((demo / f).read_bytes()).digest()), f
    assert json.loads((demo / "truth.json").read_text())["tomo"]["coin"] == truth
    return SimpleNamespace(store_path=tiny_demo / "store.zarr", report_path=tiny_demo / "report.html")


@pytest.fixture(scope="module")
def coin_metrics(coin_run, coin_folder):
    from ssbscope.store import Store

    return Store.open(coin_run.store_path).read("tomo/coin/metrics").load(), coin_folder[2]


@pytest.mark.slow
def test_truncated_series_report_warns_about_grey_level_quantities(coin_run, coin_metrics):
    """The coin scans are truncated (the cell is ~100x the field of view): the electrolyte is
    the declared SPE, and the report says which quantities are measured from the local
    contrast (heights, labels and phase volumes around the requested interfaces, pore +
    crack, layer fractions, subsurface voids; the flat SPE | cathode interface from the
    slice level's steepest change) and which are not measured or still carry the exterior's
    per-slice level (connected / isolated regions; interfaces against steel)."""
    met, _ = coin_metrics
    assert met.attrs["electrolyte"] == "SPE"
    html = coin_run.report_path.read_text(encoding="utf-8")  # the run's own report
    assert "The scans of this series are truncated" in html
    assert "local contrast" in html and "indicative only" in html
    assert "steepest change of the slice level" in html and "subsurface void volume" in html


@pytest.mark.slow
def test_acceptance_anode_volume_change_through_the_chain(coin_metrics):
    """Issue 16: the anode's volume change within 1 percentage point of the twin's truth
    (Faraday at 0.3 mA cm^-2 in the ROI: +3.69 % charged, +2.24 % discharged against the
    pristine scan, i.e. the paper's +3.7 % then -1.4 %).  Measured at tiny / 300 projections:
    seed 0 +3.77 / +2.27 % (+0.08 / +0.03 pp; +3.72 / +2.18 with the voxel-count heights;
    before the labels of the interface window came from its local-contrast heights and the
    zinger fix: +2.98 / +2.73).  The anode is the Li phase of the segmentation (the
    subsurface pores read as Li's class: the envelope).  The mean thickness (heights) changes
    by +3.69 / +2.22 % (truth +3.69 / +2.24; voxel counts: +3.64 / +2.14)."""
    met, truth = coin_metrics
    vc = met["volume_change_pct"].sel(phase="Li").values
    vc_t = [s["anode_volume_change_pct"] for s in truth["scans"]]
    assert vc[0] == 0.0
    assert np.abs(np.asarray(vc) - np.asarray(vc_t)).max() < 1.0, (vc, vc_t)
    assert vc[1] > 0 and vc[2] > 0  # grown on charge, still above pristine after discharge
    # the mean thickness (heights from the local contrast) follows the same change
    th = met["thickness_mean_um"].sel(layer="anode").values
    th_t = [s["mean_thickness_um"]["anode"] for s in truth["scans"]]
    chg, chg_t = 100 * (th / th[0] - 1), 100 * (np.asarray(th_t) / th_t[0] - 1)
    assert np.abs(chg - chg_t).max() < 1.0, (chg, chg_t)
    assert np.abs(th - np.asarray(th_t)).max() < 2 * 3.24  # within 2 voxels of the truth


@pytest.mark.slow
def test_truncated_pore_crack_volume_reads_the_empty_electrolyte(coin_metrics):
    """The twin's SPE holds no pore (truth 0).  In a truncated scan the stack's pure-phase
    levels do not apply (each slice's level is the exterior's), so the partial volume comes
    from each slice's deviation from its median after removing the exterior's shading,
    above the measured Li surface (+2 voxels).  Measured (tiny / 300, seed 0) 2319 / -336 / -216 um^3
    (1648 / -592 / -716 with the voxel-count heights; 765 / 128 / -747 before the SPE's band
    followed its flat top); before, with the
    stack's levels: -10 646 / -7 525 / -13 881 um^3 (tiny, seed 0), -19 388 at small.
    Tolerance: 2 % of the SPE layer (30 um over the ROI, ~3.7e5 um^3 at tiny)."""
    met, truth = coin_metrics
    pcv = met["pore_crack_volume_um3"].values
    spe = 30.0 * truth["scans"][0]["roi_area_um2"]
    assert np.all(np.isfinite(pcv))
    assert np.abs(pcv).max() < 0.02 * spe, pcv


@pytest.mark.slow
def test_truncated_scan_contrast_measured_matches_materials(coin_metrics):
    """The truncated scans' heights use the Li|SPE contrast measured from the two modes of
    the interface slices; it agrees with the one Paganin gives the declared materials
    (4 pi (delta_Li - delta_PEO) / (lambda delta/beta) = -4.0e-5 per voxel; measured at tiny /
    300, seed 0: -3.53 / -3.75 / -3.64e-5)."""
    met, _ = coin_metrics
    cd = met["interface_contrast_data"].sel(interface="anode|SPE").values
    cm = met["interface_contrast_materials"].sel(interface="anode|SPE").values
    assert cm == pytest.approx([-4.0e-5] * 3, rel=0.03)
    assert np.all(np.abs(cd / cm - 1) < 0.25), (cd, cm)


@pytest.mark.slow
def test_acceptance_ra_through_the_chain(coin_metrics):
    """Issue 16: anode|SPE Ra within 10 % of truth at each state, order kept.

    Truth 5.10 / 5.40 / 6.10 um.  Measured (tiny, Paganin with Li's delta/beta at 300 mm,
    truncated: auto, heights at each column's steepest drop of the local contrast,
    ssbscope.tomo.metrics.column_edges): tiny / 300 (this test) seed 0 5.05 / 5.41 / 6.10;
    tiny / 600 (``ssbscope demo --size tiny``) seed 0 5.12 / 5.39 / 6.09, seed 1 5.08 / 5.39 /
    6.26, seed 2 5.08 / 5.38 / 6.11; small / 900 seed 0 5.05 / 5.37 / 6.08, seed 1 5.13 /
    5.46 / 6.17, seed 2 4.90 / 5.16 / 5.99 (within -4.5 / +2.6 %; seed 2 at small: the
    measured footprint leaves out the ROI's outer ring, whose columns carry 4 % of its Ra:
    the footprint's own truth is 4.91 / 5.18 / 5.92).  With the voxel counts above half the
    contrast in a fixed 16-slice window (before): tiny / 300 seed 0 5.28 / 5.59 / 6.30; tiny
    / 600 seeds 0-2 within +3.5 %; small seeds 1, 2 5.64 / 5.46 / 6.18 and 5.43 / 5.11 /
    6.03 (+10.5 %, order broken: local offsets of the retrieval's residual moved the counts
    of up to 134 columns by 2-4 voxels; the window missed the surface's top).  Before the zinger fix
    (the 3 x 3 median's absolute threshold took the exterior's angle-invariant fringes for
    zingers, ssbscope.tomo.stream.clean_rows ``invariant_zingers``): seed 0 7.30 / 7.98 /
    11.28, seeds 1, 2 9.51 / 7.90 / 10.01 and 8.78 / 8.16 / 9.30."""
    met, truth = coin_metrics
    ra = met["ra_um"].sel(interface="anode|SPE").values
    ra_t = [s["roughness_um"]["anode|SPE"]["ra_um"] for s in truth["scans"]]
    for m, t in zip(ra, ra_t):
        assert m == pytest.approx(t, rel=0.10)
    assert ra[0] < ra[1] < ra[2]


def test_demo_folder_coin_ct(tiny_demo):
    """``write_demo_folder(coin_ct=True)`` (the default; CLI ``ssbscope demo --no-coin-ct``
    leaves it out) adds the series with its own cell to the demo's YAML, which validates
    (the shared tiny demo's folder: ``ssbscope demo --size tiny``, tests/conftest.py)."""
    from types import SimpleNamespace

    from ssbscope.config import load

    f = SimpleNamespace(yaml_path=tiny_demo / "experiment" / "experiment.yaml",
                        truth_path=tiny_demo / "experiment" / "truth.json")
    cfg = load(f.yaml_path)
    coin = [t for t in cfg.inputs.tomo if t.series == "coin"]
    assert len(coin) == 3 and all(t.cell == "coin" for t in coin)
    assert [la.name for la in cfg.cells["coin"].layers] == ["spacer", "anode", "SPE", "cathode"]
    truth = json.loads(f.truth_path.read_text())
    assert "coin" in truth["tomo"]


@pytest.mark.slow
def test_truncated_spe_thickness_from_the_flat_interface(coin_metrics):
    """The flat SPE | cathode interface of a truncated scan has no in-plane contrast; its
    height is the steepest change of the slice level (ssbscope.tomo.series_chunked.
    flat_interface_height), so the SPE's thickness and layer volume come within a few % of
    the truth (30.9 / 29.1 / 28.4 um at seed 0: the SPE's top is flat at a whole slice).
    Measured at tiny / 600, seeds 0-2: +2.3 / +2.3 / +2.5 % (thickness 31.6 / 29.8 / 29.1 um
    at seed 0), small / 900 seeds 0, 1: +0.9 to +2.2 %; before, from the grey thresholds:
    23.3 / 21.5 / 20.8 um (-25 %)."""
    met, truth = coin_metrics
    th = met["thickness_mean_um"].sel(layer="SPE").values
    th_t = np.array([s["mean_thickness_um"]["SPE"] for s in truth["scans"]])
    assert np.all(np.abs(th / th_t - 1) < 0.05), (th, th_t)
    # the layer volume is that thickness over the cell region (the field of view)
    vol = met["layer_volume_um3"].sel(layer="SPE").values
    area = np.array([s["roi_area_um2"] for s in truth["scans"]])
    assert np.all(np.abs(vol / (th_t * area) - 1) < 0.05 + 0.08), (vol, th_t * area)


@pytest.mark.slow
def test_truncated_subsurface_voids_after_stripping(coin_metrics):
    """Voids the stripped Li leaves below its surface (truth 0 / 0 / 8.7e4 um^3 at tiny),
    measured from each slice's local deviation below the measured Li | SPE heights
    (ssbscope.tomo.series_chunked._truncated_subsurface_voids); the labels keep the Li
    envelope, so before this the chain reported none.  Measured at tiny / 600: seeds 0 / 1 / 2
    discharged 7.1 / 9.4 / 9.9e4 (-18 / +8 / +14 %), void-free scans -1.6e4 to +1.8e4
    (a fifth of the stripped volume: per-slice level noise over the 50 um read); small / 900
    seeds 0, 1: 1.26 / 1.42e5 against 1.26e5 (0 / +13 %), void-free up to 4.0e4.  With the
    heights at each column's steepest drop: tiny / 300 seed 0 -1.8e4 / -1.2e4 / 7.0e4
    (-20 %; the voxel counts: -1.6e4 / -4.5e3 / 7.5e4), tiny / 600 seed 2 -1.9e4 / 1.8e4 /
    9.8e4, small seeds 1, 2 3.2e4 / 5.7e3 / 1.40e5 and 5.4e4 / -1.9e3 / 1.36e5 (void-free
    scans: a dark-skewed residual of the shading model at 10-20 px lateral scale, no void).
    Voids now by hysteresis on the deficit (series_chunked._voids_block: cores at the
    vacuum level >= 4 voxels below the surface, grown to 0.4 of the contrast, regions
    mostly vacuum): tiny / 300 seed 0 0 / 0 / 7.7e4 (-11 %); tiny / 600 seeds 0-2 void-free
    0 except 1.2e4 (seed 1 pristine, 14 % of the stripped truth), stripped -15 / +7 / -1 %;
    small seeds 0-2 void-free 0 except 3.5e4 (seed 1 pristine, 28 %: a patch about the
    rotation axis that reaches the vacuum level), stripped -13 / 0 / +12 %.  With the cores'
    threshold raised on the rotation axis's columns (series_chunked._axis_excess): tiny/300
    seed 0 0 / 0 / 7.50e4 (-14 %), tiny/600 seed 1 0 / 0 / 9.34e4, small seeds 0, 1
    0 / 0 / 1.07e5 (-15 %), 0 / 0 / 1.23e5 (-2 %).  Tolerance 15 % after stripping,
    void-free scans < 10 % of the stripped volume."""
    met, truth = coin_metrics
    v = met["subsurface_void_volume_um3"].values
    v_t = np.array([s["subsurface_void_volume_um3"] for s in truth["scans"]])
    assert v_t[0] == 0 and v_t[1] == 0 and v_t[2] > 5e4
    assert 0.85 * v_t[2] < v[2] < 1.15 * v_t[2], (v, v_t)
    assert np.all(np.abs(v[:2]) < 0.10 * v_t[2]), (v, v_t)


@pytest.mark.slow
def test_truncated_layer_fractions_and_regions(coin_metrics):
    """The SPE's low-attenuation layer fractions of a truncated scan come from each slice's
    local partial volume (truth 0: the twin's SPE is pure): within 3 percentage points
    (measured at tiny / 600 within +-1.5 pp; before, from the stack's grey levels: undefined,
    or -170 to +54 % once the SPE's band was right).  The connected / isolated regions need a
    grey-level threshold the slices do not share: not measured (NaN, was 1-4e4 um^3 of
    false regions)."""
    met, _ = coin_metrics
    lf = met["layer_fraction"].values
    assert np.all(np.isfinite(lf)) and np.abs(lf).max() < 0.03, lf
    assert np.all(np.isnan(met["low_attenuation_connected_um3"].values))
    assert np.all(np.isnan(met["low_attenuation_isolated_um3"].values))


def test_flat_interface_height_of_a_blurred_step():
    """The steepest change of a step blurred by a symmetric kernel is the step's position
    (analytic: erf step at 37.3 slices on a linear background, with noise)."""
    from scipy.special import erf

    from ssbscope.tomo.series_chunked import flat_interface_height

    z = np.arange(80) + 0.5  # slice centres
    rng = np.random.default_rng(3)
    for z0, w in ((37.3, 2.0), (41.0, 3.5), (36.8, 1.2)):
        a = 2.0 + 0.01 * z + 1.5 * (1 + erf((z - z0) / (np.sqrt(2) * w))) / 2
        a += 1e-4 * rng.standard_normal(a.size)
        assert flat_interface_height(a, 25, 55) == pytest.approx(z0, abs=0.15)
        assert flat_interface_height(-a, 25, 55) == pytest.approx(z0, abs=0.15)
    assert flat_interface_height(np.arange(80.0), 25, 55) is None  # no interior peak


def test_matrix_level_with_many_voids():
    """The matrix level under many voids (a quarter of the voxels, partial volumes 2-4
    sigma deep): the median follows the voids, the trimmed median from the half-sample mode
    stays within 0.2 sigma of the matrix; without voids it is the median (unbiased).  (With
    half the voxels such voids it fails too: -1.4 sigma.)"""
    from ssbscope.tomo.series_chunked import matrix_level

    rng = np.random.default_rng(0)
    n, sig, step = 4000, 1.0, 4.0
    for f in (0.0, 0.25):
        nv = int(f * n)
        x = sig * rng.standard_normal(n)
        x[:nv] -= step * rng.uniform(0.5, 1.0, nv)  # voids, partial volumes
        assert matrix_level(x) == pytest.approx(0.0, abs=0.2 * sig)
        if f > 0:
            assert abs(np.median(x)) > 2 * abs(matrix_level(x))


@pytest.mark.slow
def test_accuracy_table_rows_of_the_coin_series(coin_run, coin_folder):
    """The report's accuracy table compares the voids below the Li surface with the twin's
    (not the SPE's pore + crack volume, whose truth is 0: no relative row) and lists the
    SPE's thickness, within one voxel at every state."""
    from ssbscope.report.accuracy import accuracy_rows
    from ssbscope.store import Store

    exp = coin_folder[0]
    rows = accuracy_rows(Store.open(coin_run.store_path),
                         json.loads((exp / "truth.json").read_text()))
    coin = [r for r in rows if r.where.startswith("coin")]
    voids = [r for r in coin if r.quantity == "voids below the Li surface"]
    assert len(voids) == 1 and "discharged" in voids[0].where
    assert voids[0].truth > 5e4 and voids[0].measured > 0.6 * voids[0].truth
    assert not [r for r in coin if r.quantity == "pore + crack volume"]
    spe = [r for r in coin if r.quantity == "SPE mean thickness"]
    assert len(spe) == 3 and all(r.within for r in spe), spe


def test_accuracy_table_lists_the_anode_volume_change():
    """Issue 16's acceptance "anode volume change within 1 percentage point" is a row of the
    accuracy table for a truncated (ROI) coin series, whose truth gives the anode's change
    (``anode_volume_change_pct``) rather than the stack's phase volumes.  Hand-made metrics
    (the demo's small store read +3.677 / +2.231 % against truth +3.696 / +2.232 %); before:
    no such row."""
    import xarray as xr

    from ssbscope.report.accuracy import accuracy_rows

    met = xr.Dataset(
        {"volume_change_pct": (("time_s", "phase"),
                               [[0.0, 0.0], [3.677, -4.6], [2.231, -6.6]])},
        coords={"time_s": [0.0, 100.0, 200.0], "phase": ["Li", "PEO-LiTFSI"]})

    class _Store:
        def __contains__(self, name):
            return name == "tomo/coin/metrics"

        def read(self, name):
            return met

    scans = [{"state": s, "time_s": t, "anode_volume_change_pct": c}
             for s, t, c in (("pristine", 0.0, 0.0), ("fully charged", 100.0, 3.696),
                             ("fully discharged", 200.0, 0.232))]
    rows = accuracy_rows(_Store(), {"tomo": {"coin": {"design": "coin", "scans": scans}}})
    av = [r for r in rows if r.quantity == "anode volume change"]
    assert [r.where for r in av] == ["coin: fully charged", "coin: fully discharged"]
    assert av[0].within and av[0].error == pytest.approx(3.677 - 3.696)
    # 2.231 against 0.232: two percentage points off, outside the 1 pp tolerance
    assert av[1].within is False and av[1].tolerance == pytest.approx(1.0)
