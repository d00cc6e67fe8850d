"""The twin plating at its own predicted current: the hot-spot comparison has skill to find.

The default anode-free twin plates a random texture that no model predicts, so its
comparison can never show skill (and says "not resolvable": tests/report/test_report.py).
With ``plating="model"`` the twin grows the Li, after a nucleated layer of the table's texture,
at the current the interface model's primary distribution predicts on the layer's own surface
(:func:`ssbscope.twin.ct.model_plated_layer_um`).  Raw files -> ``ssbscope run`` -> the
comparison on the *measured* surfaces and current-density maps must then find the imposed
hot spots: "resolvable" and a top-decile overlap far above the shuffled baseline.  The
truth (the plating rule) stays in the twin; the analysis reads only the raw files.

The default texture twin's growth is its own height texture, so a primary-distribution
prediction (current at the protrusions) on it is also "resolvable" with overlap 0.58-0.75 vs
shuffled baselines 0.11-0.14 at 6 um (measured, not asserted: a second run costs ~2 min); the
shuffled baseline does not separate model skill from "grows where already thick".  The
height-conditioned test (:func:`ssbscope.interface.height_conditioned_skill`) does: on that
twin (primary current, 20 solve nodes, the noise-weighted surface) the measured maps give
partial correlations given the height 0.00 / 0.09 / 0.16 (p 0.55 / 0.44 / 0.31: no skill
beyond the height) and the true current maps -0.08 / 0.04 / 0.15 (surrogate spread
0.26-0.31); at smooth_um 4.5 0.08 / 0.21 / 0.25 against 0.12 / 0.20 / 0.19 (the former
mid-interval surface: 0.29 / 0.25 / 0.31 against -0.19 / -0.15 / 0.10).  Here the model's
growth is skill beyond the height, and the truth maps show it (asserted below).  The default
YAML (linearised Butler-Volmer, R_ct 10 Ohm cm^2: ~1 % predicted contrast) keeps the texture
twin "not resolvable".

Cost: the run solves the current on four 40 x 40 maps; the fixture asks for a 20 x 20 solve
grid (``max_nodes: 20``, interpolated back to the pixels; the comparison smooths over two
pixels anyway) and no report, which the tests do not read.

Heights smoothed before the solve by the YAML's default, fitted per map
(:func:`ssbscope.interface.topography.height_smoothing_um`: the least expected error of the
predicted current given the map's own height noise and signal spectra): each interval's
prediction is solved on the noise-weighted surface (``prediction_height`` default), which
carries no noise in common with the measured map but its own (0.55 um in the quieter scans),
and the primary current follows that noise's slopes (weighted by the wavenumber).  Fitted
4.7 / 5.8 / 6.0 um on the three interval surfaces (the former default: one pixel, 3 um; this
test used to set ``smooth_um: 4.5``).  Measured (this fixture, 20 solve nodes, 200
surrogates): partial correlations given the height 0.34 / 0.43 / 0.23 (p 0.080 / 0.035 /
0.19) at one pixel, 0.42 / 0.51 / 0.31 (p 0.060 / 0.025 / 0.16) at 4.5 um, 0.44 / 0.52 /
0.34 (p 0.050 / 0.040 / 0.16) fitted; the compared prediction's correlation with the true
current maps 0.70 / 0.75 / 0.45 at one pixel, 0.81 / 0.86 / 0.54 fitted.  The demo's YAML
(64 solve nodes): 0.27 / 0.34 / 0.18 (p 0.11 / 0.065 / 0.23) at one pixel, 0.41 / 0.51 /
0.32 (p 0.060 / 0.030 / 0.16) fitted, contrast / noise 1.16 / 1.63 / 1.98 -> 1.02 / 1.30
/ 1.57 (the noise's slopes no longer add contrast).  The former mid-interval surface read
0.72 / 0.70 / 0.64 at 3 um, of which the noise the two maps shared was a part (the same bias
gave 0.29 / 0.25 / 0.31 on the texture twin, whose true maps give -0.19 / -0.15 / 0.10).

Interval 1 (scans 1 -> 2, 1.5 mAh cm^-2 plated) is marginal: contrast / noise 0.95 fitted
(0.97 at 4.5 um, 1.06 at one pixel).  Not because the increment is below the noise: the true
growth's contrast at the compared 6 um is 0.080 of the mean and the measured map's actual
error there 0.041 (1.9x, the same as interval 2's).  The noise floor reads 0.052 (the fitted
noise model, 1.27x the actual error; interval 2: 0.043), and the prediction's contrast is
0.053, 2/3 of the true growth's: it is solved on the smoothed surface and then smoothed again
by the comparison, and scan 2's heights are 3.7x noisier than scans 1 and 3 (2.07 against
0.56 um, the tomography chain's).  No twin parameter is changed for it: Sandoval et al. 2025
(doi:10.1039/d5eb00111k) scan every 15 min, 0.125 mAh cm^-2 per interval at 0.5 mA cm^-2,
so the paper's increments are 12x smaller than the demo's 1.5 mAh cm^-2; the verdict then
says "not resolvable" and the report brackets its numbers.

Why scans 2 and 4 are the noisy ones (issue 17, measured on this fixture's raw files, seed 0):
not the acquisition (every scan: 90 angles over 180 deg, 20 flats, 10 darks, 1 s exposure,
flat mean 3.01e4 counts), not the reconstruction (centre of rotation 19.93-19.98 px), not the
registration (shift 0 in every scan) and not the interface's sub-voxel phase (truth mean
height mod 3 um: 0.42 / 0.85 / 0.42 / 0.36 voxel: scan 4 sits where scans 1 and 3 do).  It
is the height estimator the tomography chain picks per interface and scan
(``ssbscope.tomo.series.HEIGHT_RAW_CNR`` = 3: the window sum of the unfiltered grey values at
a contrast-to-noise ratio >= 3, else of the 3x3x3 median).  The ratio it reads is 2.8 / 3.5 /
2.9 / 3.7: the noise (0.00053-0.00057 per voxel) and the Li6PS5Cl level (0.00202) are the
same in every scan, but the crop's Li class (Otsu split of the median) of the 2-voxel layers
(1.5 mAh cm^-2) is mixed by partial volume (median 0.00041-0.00044, pure Li 0.00003), of the
5-6 voxel layers not (0.00007-0.00011).  So the thin layers' heights come from the median
(error against the twin's continuous surface 0.69 / 0.68 um), the thick ones' from the
unfiltered values (2.11 / 2.30 um).  Forcing one estimator on all four scans: median 0.69 /
0.76 / 0.68 / 1.18 um (fitted 0.59 / 0.61 / 0.56 / 0.70), contrast / noise 1.70 / 1.78 / 2.70,
partial correlations 0.66 / 0.65 / 0.51 (p 0.005 / 0.005 / 0.095); unfiltered 1.97 / 2.11 /
1.88 / 2.30 um, contrast / noise 0.84 / 1.14 / 1.37.  The noise-corrected roughness does not
favour the unfiltered values here (Ra median 0.57 / 1.01 / 0.60 / 1.22, unfiltered 0.66 / 1.11
/ 0.75 / 1.36, truth 0.45 / 0.98 / 0.45 / 1.33 um).  Interval 1's marginal contrast is
therefore the estimator switch, not the physics; the switch is the tomography chain's to fix
(a contrast that does not depend on the layer's thickness, and a choice that weighs the
unfiltered heights' noise, ~ voxel sqrt(window) / CNR, against the median's flattening).  A
higher threshold alone is no cure: the symmetric twin's Li | Li6PS5Cl reads 3.5-3.7 too and
its roughness needs the unfiltered values (the constant's docstring).

Fixed (issue 17): the estimator is chosen once per interface for the whole series
(``ssbscope.tomo.series.choose_height_estimator``) from each scan's two height maps and its own
voxel noise (the electrolyte's interior), not from the crop's grey classes: estimated errors
unfiltered 1.87 / 2.25 / 1.79 / 2.04 um, median 0.64 / 0.77 / 0.66 / 0.74 um (actual
1.97-2.30 and 0.68-1.18 above), so the median in every scan.  Measured on this fixture
(seed 0): contrast / noise 1.75 / 1.81 / 2.92 (before 0.95 / 1.21 / 1.47), all three
"resolvable"; partial correlations 0.67 / 0.64 / 0.50 (p 0.005 / 0.005 / 0.10; before 0.44 /
0.52 / 0.34); interval weights 0.51 / 0.46 / 0.61 (before 0.93 / 0.06 / 0.94); the fitted
prediction's correlation with the true current maps 0.91 / 0.93 (before 0.81 / 0.86), one
pixel 0.86 / 0.89 (before 0.70 / 0.75).  Interval 1 is no longer marginal.
"""

import numpy as np
import pytest

pytestmark = pytest.mark.slow(seconds=80)


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    from ssbscope.config import load
    from ssbscope.store import Store
    from ssbscope.twin.folder import write_ct_experiment
    from ssbscope.workflow import run_experiment

    root = tmp_path_factory.mktemp("model_plating")
    f = write_ct_experiment(root / "experiment", design="anode_free", size="small",
                            plating="model")
    y = f.yaml_path.read_text(encoding="utf-8")
    topo = "topography: {series: [anode_free], r_ct_ohm_cm2: null, smoothing_um: 6}"
    assert topo in y, "the model-plating YAML changed: update the max_nodes override"
    # the heights' smoothing is the YAML's default (fitted per map)
    f.yaml_path.write_text(y.replace(topo, topo[:-1] + ", max_nodes: 20}"),
                           encoding="utf-8")
    res = run_experiment(load(f.yaml_path), root / "out", quiet=True, report=False)
    return Store.open(res.store_path), f.truth_path


@pytest.fixture(scope="module")
def store(run):
    return run[0]


def test_model_growth_follows_the_model_on_its_own_surface():
    # the twin's rule on its own: Faraday's mean thickness, and the growth after the nucleated
    # layer follows the primary current on the nucleated surface (it changes as it grows)
    from scipy import ndimage

    from ssbscope.interface import surface_current
    from ssbscope.twin.ct import (MODEL_PLATING_SEED_MAH_CM2, faraday_thickness_um,
                                  model_plated_layer_um)

    rng = np.random.default_rng(0)
    tex = ndimage.gaussian_filter(rng.standard_normal((20, 20)), 2.0, mode="wrap")
    tex = (tex - tex.mean()) / tex.std()
    cell = np.ones((20, 20), bool)
    seed_t = model_plated_layer_um(MODEL_PLATING_SEED_MAH_CM2, tex, 0.17, cell, 3.0, 100.0)
    t = model_plated_layer_um(2.0, tex, 0.17, cell, 3.0, 100.0)
    assert seed_t.mean() == pytest.approx(faraday_thickness_um(MODEL_PLATING_SEED_MAH_CM2))
    assert t.mean() == pytest.approx(faraday_thickness_um(2.0), rel=1e-9)
    p = surface_current(seed_t, 3.0, conductivity_s_cm=2e-3, thickness_um=100.0,
                        current_ma_cm2=1.0, max_nodes=24).projected_current_ma_cm2
    g = t - seed_t
    assert np.corrcoef(g.ravel(), p.ravel())[0, 1] > 0.8  # measured 0.88
    assert np.std(g) / np.mean(g) > 0.05  # hot spots of several % (primary distribution)


def test_the_comparison_on_the_model_plated_twin_is_resolvable_with_skill(store):
    ds = store.read("interface/anode_free/surface_current").load()
    v = [str(x) for x in ds["verdict"].values]
    plating = [k for k, x in enumerate(v) if x != "no comparison"]
    assert plating, v
    print({k: (v[k], float(ds["contrast_to_noise"].values[k]), float(ds["overlap"].values[k]),
               float(ds["baseline_overlap"].values[k]), float(ds["overlap_z"].values[k]),
               float(ds["correlation"].values[k]), float(ds["correlation_z"].values[k]))
           for k in plating})
    assert ds.attrs["r_ct_ohm_cm2"] != ds.attrs["r_ct_ohm_cm2"]  # NaN: primary distribution
    assert ds.attrs["smoothing_um"] > 0
    # intervals 1 (plating 1.5 -> 3 mAh/cm2) and 2 (stripping back to 1.5) are wholly the
    # model's growth; interval 3 adds the case-B 1.5 mA/cm2 step, whose radial profile is the
    # table's, not the model's (its skill is lower)
    # interval 1 was marginal (module docstring): contrast / noise 1.04 before the rim-median fix
    # of the heights at the measured area's edge (issue 16), 0.97 after it (smooth_um 4.5),
    # 0.95 with the fitted smoothing (1.21, 1.47 in intervals 2, 3)
    # one height estimator for the series (issue 17), recorded with the errors it weighed
    # (measured unfiltered 1.87-2.25 um, median 0.64-0.77 um in the plated scans)
    met = store.read("tomo/anode_free/metrics").load()
    assert "Li|LPSCl: median" in met.attrs["height_estimator"], met.attrs["height_estimator"]
    e_u = met["height_noise_unfiltered_um"].sel(interface="Li|LPSCl").values[1:]
    e_m = met["height_error_median_um"].sel(interface="Li|LPSCl").values[1:]
    assert np.all(e_u > 2 * e_m) and np.all(e_m > 0.3), (e_u, e_m)
    # contrast / noise 1.75 / 1.81 / 2.92
    cn = ds["contrast_to_noise"].values
    assert [v[k] for k in (1, 2, 3)] == ["resolvable"] * 3 and cn[1] > 1.4, cn
    # measured (small, seed 0, 6 um smoothing, 20 x 20 solve grid, the former spectrum floor):
    # contrast / noise 1.04, 2.24, 2.21; top-decile overlap 0.50 and 0.82 vs shuffled
    # baselines 0.12 and 0.09 (z 2.5, 5.3); correlation 0.74 and 0.92 (z 2.7, 3.6); interval
    # 3: overlap 0.33 vs 0.13 (z 1.2).  (Full 40 x 40 grid: 1.13, 2.47, 2.41.)  The shared
    # noise model (ssbscope.mapnoise) reads the noise lower: on the 40 x 40 grid contrast /
    # noise 1.33, 2.84, 1.93 (former floor 1.18, 2.29, 2.57)
    for k in (1, 2):
        assert ds["overlap"].values[k] > ds["baseline_overlap"].values[k] + 0.25
        assert ds["overlap_z"].values[k] > 2 and ds["correlation_z"].values[k] > 2.3
        assert ds["correlation"].values[k] > 0.5


def test_the_skill_beyond_the_height_is_stored_and_found_on_the_true_maps(run):
    # the height alone explains much of the top-decile overlap (the shuffled baseline's 0.1
    # becomes 0.3-0.7 once the measured map keeps its dependence on the height); what the
    # model predicts beyond the height is there in the true current maps (the growth follows
    # the current on the nucleated surface, not its height) and, less clearly, in the
    # measured ones, whose noise is 2-3 times the true contrast per pixel and shares the
    # scan's height noise with the prediction
    import json

    from ssbscope.interface import height_conditioned_skill

    store, truth_path = run
    ds = store.read("interface/anode_free/surface_current").load()
    for v in ("partial_correlation", "partial_correlation_z", "partial_correlation_p",
              "conditional_baseline_overlap", "conditional_baseline_overlap_std",
              "conditional_overlap_z", "conditional_overlap_p", "height_only_overlap",
              "height_only_correlation"):
        assert ds[v].attrs["units"] == "1" and ds[v].attrs["long_name"], v
    assert ds["surface_height_um"].attrs["units"] == "um"
    beyond = [str(x) for x in ds["skill_beyond_height"].values]
    print({k: (beyond[k], *(round(float(ds[v].values[k]), 3) for v in (
        "partial_correlation", "partial_correlation_z", "partial_correlation_p", "overlap",
        "conditional_baseline_overlap", "conditional_overlap_z", "baseline_overlap",
        "height_only_overlap"))) for k in (1, 2, 3)})
    assert beyond[0] == "no comparison" and all(b != "no comparison" for b in beyond[1:])
    for k in (1, 2):
        assert ds["conditional_baseline_overlap"].values[k] > ds["baseline_overlap"].values[k] + 0.15
    # measured (noise-weighted surface, the default; fitted smoothing): partial correlation
    # 0.44 / 0.52 / 0.34 (p 0.050 / 0.040 / 0.16); at smooth_um 4.5
    # 0.42 / 0.51 / 0.31 (p 0.060 / 0.025 / 0.16) with the rim-median and outlier-growth fixes
    # of the thickness maps (issue 16); 0.47 / 0.54 / 0.57 (p 0.030 / 0.025 / 0.025) before
    # them: only interval 2 is significant at p <= 0.05 now; formerly, on the mid-interval surface
    # (3 um), 0.72 / 0.70 / 0.64, biased high by the height noise it shared with the measured
    # maps (scans 2 and 4 four times noisier than 1 and 3); on the scan-start surface 0.21 /
    # 0.75 / 0.41 (p 0.18 / 0.03 / 0.08)
    pc = ds["partial_correlation"].values
    pp = ds["partial_correlation_p"].values
    # one height estimator for the series (issue 17): 0.67 / 0.64 / 0.50 (p 0.005 / 0.005 /
    # 0.10); with the former per-scan switch 0.44 / 0.52 / 0.34 (p 0.050 / 0.040 / 0.16)
    assert beyond[1:3] == ["skill beyond height"] * 2, (beyond, pc, pp)
    assert pc[1] > 0.55 and pc[2] > 0.55 and pc[3] > 0.4, (beyond, pc, pp)
    assert pp[1] < 0.05 and pp[2] < 0.05 and pp[3] < 0.25, (beyond, pc, pp)
    w = ds["interval_height_weight"].values
    assert ds["interval_height_weight"].attrs["units"] == "1"
    # every scan's heights from one estimator: equally noisy scans, weights near 1/2
    # (measured 0.51 / 0.46 / 0.61; with the former per-scan switch 0.93 / 0.06 / 0.94, scans
    # 2 and 4 on the unfiltered grey values)
    assert np.all(np.abs(w[1:] - 0.5) < 0.2), w
    truth = json.loads(truth_path.read_text(encoding="utf-8"))["tomo"]["anode_free"]
    sm = float(ds.attrs["smoothing_um"])
    px = float(ds["x"].values[1] - ds["x"].values[0])
    found = []
    for k in (1, 2):
        t = np.abs(np.array([[np.nan if v is None else v for v in row] for row in
                             truth["current_density"]["intervals"][k]["current_density_ma_cm2"]],
                            float))
        s = height_conditioned_skill(ds["projected_current_ma_cm2"].values[k], t,
                                     ds["surface_height_um"].values[k], seed=k, pixel_um=px,
                                     smoothing_um=sm)
        found.append((s.partial_correlation, s.partial_correlation_p))
        assert s.beyond_height and s.partial_correlation > 0.4, (k, found)
    print("true maps:", found)  # measured 0.70 (p 0.005), 0.85 (p 0.010)


def test_the_fitted_height_smoothing_predicts_the_true_current_better_than_one_pixel(run):
    # the former default (one pixel, 3 um) re-solved on the same interval surfaces: its
    # prediction follows the heights' noise slopes and matches the twin's true current maps
    # less (measured correlation 0.86 / 0.89 against 0.91 / 0.93 fitted; 0.70 / 0.75 against
    # 0.81 / 0.86 with the former per-scan height estimator, whose noisier scans gave the
    # one-pixel surface more noise slopes to follow)
    import json

    from ssbscope.interface import surface_current
    from ssbscope.interface.topography import interval_height

    store, truth_path = run
    ds = store.read("interface/anode_free/surface_current").load()
    mp = store.read("tomo/anode_free/maps").load()
    assert ds.attrs["smooth_um"] != ds.attrs["smooth_um"]  # NaN: fitted per map
    assert "minimises the expected error" in ds.attrs["smooth_rule"]
    sm = ds["interval_height_smoothing_um"].values
    px = float(ds["x"].values[1] - ds["x"].values[0])
    assert np.all((sm[1:] > 1.2 * px) & (sm[1:] < 2.5 * px)), sm  # measured 4.7 / 5.8 / 6.0
    h = np.asarray(mp["height_um"].sel(interface=ds.attrs["interface"]).values, float)
    truth = json.loads(truth_path.read_text(encoding="utf-8"))["tomo"]["anode_free"]
    for k in (1, 2):
        t = np.abs(np.array([[np.nan if v is None else v for v in row] for row in
                             truth["current_density"]["intervals"][k]["current_density_ma_cm2"]],
                            float))
        hm = interval_height(h[k], h[k + 1], weight=float(ds["interval_height_weight"].values[k]))
        old = surface_current(hm, px, conductivity_s_cm=float(ds.attrs["conductivity_s_cm"]),
                              thickness_um=float(ds.attrs["thickness_um"]), current_ma_cm2=1.0,
                              r_ct_ohm_cm2=None, max_nodes=20, smooth_um=px)
        new = ds["interval_projected_current_ma_cm2"].values[k]
        ok = np.isfinite(t) & np.isfinite(new) & np.isfinite(old.projected_current_ma_cm2)
        c_new = np.corrcoef(new[ok], t[ok])[0, 1]
        c_old = np.corrcoef(old.projected_current_ma_cm2[ok], t[ok])[0, 1]
        print(k, c_old, c_new)
        assert c_new > c_old + 0.03 and c_new > 0.88, (k, c_old, c_new)
