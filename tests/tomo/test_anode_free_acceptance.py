"""Acceptance of the anode-free twin (Sandoval et al. 2025, doi:10.1039/d5eb00111k, case B)
through the full chain.

The twin writes the demo's case-B series (size "small": 5 scans, 40 x 40 x 56 voxels of 3 µm,
90 angles) as Data Exchange files + a BioLogic log + experiment.yaml;
``ssbscope.workflow.run_experiment`` reads the YAML (projections -> FBP -> segmentation ->
metrics -> correlation with the log) and the store is compared with ``truth.json`` (the
phantom's voxel counts) and with the paper's numbers in the twin's table.

Truth of the layer's centre / edge (``plated_li_thickness_definition`` in truth.json): the
Li between the Cu and the pellet's lower face, on the continuous face the projections image;
filament Li in the pellet is not layer, also where a root touches the layer (Sandoval et al.
2025 segment the electrodeposited layer, Fig. 5e, and report filaments apart).  The numbers
below were measured against the whole-voxel staircase's centre / edge (now
``*_voxel_staircase``); the continuous face reads 14.55 / 14.60 µm at 3 mAh cm^-2, 7.28 / 7.30
at 1.5 mAh cm^-2 and after the strip, 19.40 / 17.86 (centre - edge 1.55, was 1.50) after the
1.5 mA cm^-2 step; case A 7.32 / 7.35 and 9.79 / 9.83 at 2 / 3 mAh cm^-2.
Measured on this fixture (seed 0): plated Li at 3 mAh cm^-2, centre 14.70 µm vs truth 14.55
(+1.0 %, the continuous face), mean 14.75 vs 14.55 (+1.4 %; 14.51 / 14.58 before the zinger
step became one-sided and temporal, see test_centre_thicker_than_edge_where_truth_is); the
thin layers (7.28 µm at 1.5 mAh cm^-2, plated and after the strip) mean 7.28 / 7.17 (0.0 /
-1.5 %; 7.15 / 7.06 with the old zinger step; they read 7.62 / 7.67, +5.4 %, while the
interface heights took the crop's plain class medians as pure levels; now each class eroded
by one voxel along z); after the 1.5 mA cm^-2 step the plain means over every column
read centre 19.20 / edge 18.94 µm vs truth 19.39 / 17.89 (centre - edge 0.26 against 1.50):
in the 30 of 220 edge columns that hold an edge filament the Li runs on from the layer into
the filament's root and the column reads 4.9 µm thick beyond the truth's layer, which leaves
the filament out (the other 190 edge columns +0.35 µm).  A column alone cannot tell a root
from a thicker layer (2.3 sigma of the per-column noise; a height window reaching 1 voxel
above the crossing instead of 3 leaves the edge at 18.84 µm); the centre/edge statistics now
leave out the columns that stand above their lateral context
(:func:`ssbscope.tomo.metrics.thickness_outliers`: residual from a 7 x 7 median averaged
over 3 x 3 columns above 3 robust sigmas, the flagged cores of >= 2 columns grown into the
neighbours above 1 per-column sigma): centre 19.20 / edge 18.52, centre - edge 0.68 (cores
only: 19.21 / 18.61, 0.60).  The edge's remaining +0.6 µm is Li the twin counts as filament
but which no column count can tell from the layer: of the step's 122 filament voxels, all lie
0-4 voxels above the layer top and 36 columns hold 1-4 of them contiguous with the layer (a
truth that counted the Li contiguous with the Cu side as layer reads edge 18.61, centre -
edge 0.78).  The thin layers' outermost ring of columns read +0.63 µm (7.91 / 7.90 against
7.28): their heights are on the 3x3x3 median, which there mixed in the columns outside the
analysed footprint; the rim's median now takes the footprint's own columns only
(``series_chunked._rim_median_crop``): 7.40 / 7.11, centre - edge -0.28 / -0.37 against
truth -0.09 (before -0.47 / -0.63).
(Compared on the same maps: the region median reads 19.11 / 18.51, 0.60, but 14.25 against
14.51 at 3 mAh cm^-2, -1.8 %, and 7.70 / 9.98 against 7.30 / 9.77 in case A; trimmed means
(10 / 20 %) 0.39 / 0.49.)  The thickness mean and the layer volumes keep every column.  Not the 3x3x3 median: at 3 mAh cm^-2 and after the step the heights are on
the unfiltered grey values (contrast-to-noise >= 3), and TV denoising or none gives the same
numbers there; at 1.5 mAh cm^-2 (heights on the median) no denoising or TV (2-D or 3-D)
read a mean of 7.58 / 7.47 µm (plated / stripped: +4.1 / +2.6 %) and centre - edge -0.22 /
-0.30 against truth -0.09 (median: 7.15 / 7.06, -0.50 / -0.65).  LPSCl volume
within 0.4 % of the first scan (truth: the same voxels); CE 92.90 %.  Ra of the Li | LPSCl
interface:
the raw Ra (Eq. 6 on the measured height map) reads
0.97 / 2.08 / 1.73 / 2.26 µm against truth 0.92 / 1.31 / 0.92 / 1.67 (+5 / +59 / +88 / +35 %:
the height noise, ~2 µm on the unfiltered grey values, is larger than the roughness); the
noise-corrected Ra 0.91 / 1.29 / 0.98 / 1.50 (-1 / -2 / +7 / -10 %).  Those numbers were
measured with the phantom's faces on whole voxels; the faces now lie on the continuous
surface (sub-voxel attenuation) and the Ra truth is that surface's on the analysis'
footprint (see the Ra test for the numbers).  One check misses because of the measurement,
not the twin, and was xfail with its numbers: the pore + crack volume at this pellet's 0.6 %
porosity of ~1-voxel pores is noise-limited (1 sigma ~8 % of it then, ~6 % since issue 16's
matched-filter detection), so the new-crack volume scatters by ~450 µm^3 (its tolerance:
516); it now passes on seeds 0-2 (see the test).

A second fixture runs case A (filament cracks after a ~1 mAh cm^-2 plateau) through the same
chain for the crack plateau, which case B (no crack at 0.5 mA cm^-2) cannot show.

Circular checks, kept on purpose: the truth-side checks (plateau, fractions, residual) read the
table's values back from the phantom's voxel counts; they pin the folder's truth.json to the
paper's table.  Every measured check compares the store with truth.json or the paper.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from ssbscope.echem.faraday import lithium_thickness_um
from ssbscope.twin.params_001 import p

pytestmark = pytest.mark.slow  # two ~50 s chain runs (case B, case A), each shared


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    from ssbscope.config import load
    from ssbscope.store import Store
    from ssbscope.twin.folder import write_ct_experiment
    from ssbscope.workflow import run_experiment

    root = tmp_path_factory.mktemp("anode_free_b")
    folder = write_ct_experiment(root / "experiment", design="anode_free", size="small", seed=0)
    # the store only (6 of the fixture's 46 CPU-s were its report): the tests read the store;
    # the tiny demo's report renders this series (anode-free case B, tests/report/test_report.py)
    run_experiment(load(folder.yaml_path), root / "out", quiet=True, report=False)
    truth = json.loads(folder.truth_path.read_text())
    st = Store.open(root / "out" / "store.zarr")
    return st, st["tomo/anode_free/metrics"].load(), truth["tomo"]["anode_free"]["scans"]


def _k(scans, state):
    """Index of the scan whose state label (the twin's, in the report's unit typography:
    ``plated 3.0 mAh cm⁻²``) is ``state``."""
    states = [r["state"] for r in scans]
    assert state in states, (state, states)
    return states.index(state)


def test_plated_li_within_5_percent_of_truth(run):
    _st, met, scans = run
    k = _k(scans, "plated 3.0 mAh cm⁻²")
    tr = scans[k]
    # the truth itself: Faraday's 14.5 µm x the fraction of the Li not in cracks (case B: all
    # of it at 0.5 mA cm^-2), inside the paper's 14.2 ± 2.4 µm
    frac = tr["li_in_cracks_fraction"]
    assert frac == 0.0
    assert tr["plated_li_thickness_um"]["mean"] == pytest.approx(
        lithium_thickness_um(3.0) * (1 - frac), rel=0.01)
    m, sd = p("plated_thickness_B")
    assert abs(tr["plated_li_thickness_um"]["center"] - m) < sd
    # measured: centre (the paper's central 75 %) and mean within 5 % at 3 mAh cm^-2 ...
    c = float(met["thickness_center_um"].sel(layer="Li").values[k])
    mean = float(met["thickness_mean_um"].sel(layer="Li").values[k])
    assert c == pytest.approx(tr["plated_li_thickness_um"]["center"], rel=0.05)
    assert mean == pytest.approx(tr["plated_li_thickness_um"]["mean"], rel=0.05)
    # ... and the centre at every scan where the layer is >= 10 µm (the paper analysed the
    # layer only from ~10 µm on)
    for j, r in enumerate(scans):
        t = r["plated_li_thickness_um"]["center"]
        if t >= 10.0:
            got = float(met["thickness_center_um"].sel(layer="Li").values[j])
            assert got == pytest.approx(t, rel=0.05), r["state"]


def test_thin_plated_layers_within_5_percent(run):
    """The mean plated thickness at every scan that holds Li, the 2.4-voxel layers at
    1.5 mAh cm^-2 included (measured 7.28 / 14.75 / 7.17 / 19.42 µm against truth 7.28 /
    14.55 / 7.28 / 18.86: 0.0 / +1.4 / -1.5 / +3.0 %; 7.14 / 14.58 / 7.01 / 19.14 before the
    zinger step became one-sided and temporal, its Cu | Li face artefact taking ~0.18 µm
    off the layer; 7.15 / 7.06 before the rim's median
    left out the columns outside the footprint; +5.4 % after the strip before the
    interface levels were taken from the axis-eroded classes)."""
    _st, met, scans = run
    for j, r in enumerate(scans):
        t = r["plated_li_thickness_um"]["mean"]
        if t > 0:
            got = float(met["thickness_mean_um"].sel(layer="Li").values[j])
            assert got == pytest.approx(t, rel=0.05), r["state"]


def test_ra_noise_corrected_against_truth(run):
    """Ra of the Li | LPSCl interface with the height noise removed
    (``ra_noise_corrected_um``, :func:`ssbscope.tomo.metrics.roughness_noise_corrected`)
    against the truth: the Ra of the continuous surface the phantom's attenuation places the
    pellet on (sub-voxel faces), on the analysis' footprint.

    Measured 0.64 / 1.25 / 0.65 / 1.37 µm against 0.52 / 1.05 / 0.52 / 1.35 (raw 0.72 / 2.02
    / 0.76 / 2.15).  Below ~1 µm (a third of the 3 µm voxel) the corrected Ra stays at a
    floor of ~0.65 µm (height noise correlated between columns, which the nugget does not
    remove): within 0.25 µm there; from 1 µm on within 20 %.  (With the old whole-voxel
    staircase as both object and truth, 0.92 / 1.31 / 0.92 / 1.67 µm over the whole cell, it
    read -1 / -2 / +7 / -10 %: the staircase's 2-or-3-voxel patches of the thin layers are
    resolved, but on the tiny demo the thick layer's column-to-column steps were not, -34 %.)
    The corrected Ra is closer to the truth than the raw Ra wherever that reads more than
    20 % high.
    """
    _st, met, scans = run
    raw = met["ra_um"].sel(interface="Li|LPSCl").values
    cor = met["ra_noise_corrected_um"].sel(interface="Li|LPSCl").values
    noise = met["height_noise_um"].sel(interface="Li|LPSCl").values
    n = 0
    for j, r in enumerate(scans):
        t = r["roughness_um"]["Li|LPSCl"]["ra_um"]
        if not t > 0:
            assert np.isnan(cor[j])
            continue
        n += 1
        assert noise[j] > 0
        assert t < r["roughness_um"]["Li|LPSCl"]["ra_voxel_staircase_um"]
        if t >= 1.0:
            assert cor[j] == pytest.approx(t, rel=0.20), (r["state"], cor[j], t)
        else:
            assert abs(cor[j] - t) < 0.25, (r["state"], cor[j], t)
        if raw[j] > 1.2 * t:
            assert abs(cor[j] - t) < abs(raw[j] - t), (r["state"], raw[j], cor[j], t)
    assert n == 4


def test_ra_resolution_corrected_on_noise_dominated_maps(run):
    """Ra with the measurement's lateral transfer and the map's own noise undone
    (``ra_resolution_corrected_um``, :func:`ssbscope.tomo.metrics.roughness_resolution_corrected`)
    against the continuous surface's Ra on the analysis' footprint.

    The median heights' own noise (``height_map_noise_um``, from the scan's noise field:
    0.67 / 0.81 / 0.62 / 0.84 um) is 22-56 % of the maps' variance.  Without removing it the
    correction scaled the noise up: 0.90 / 1.40 / 1.06 / 1.59 um against 0.52 / 1.05 / 0.52 /
    1.35 (+72 / +33 / +101 / +18 %).  With it: 0.45 / 1.09 / 0.74 / 1.32 (-13 / +4 / +41 /
    -2 %).  Seeds 1 and 2 (measured, not asserted): -10 / -6 / -11 / +2 % and -6 / -1 / -12 /
    -5 % (raw +14 / -3 / +8 / -2 % and +4 / 0 / -2 / -5 %).  Where the truth is at least
    1 um (a third of the 3 um voxel) it is within 10 % on all three seeds (6.4 % at most);
    below, within 0.25 um (the stripped scan of seed 0, +0.21 um, is the worst: its map holds
    structure that is neither the surface nor the noise the field shows), and the
    accuracy table's note marks it not valid there."""
    _st, met, scans = run
    cor = met["ra_resolution_corrected_um"].sel(interface="Li|LPSCl").values
    noise = met["height_map_noise_um"].sel(interface="Li|LPSCl").values
    share = met["height_noise_fraction"].sel(interface="Li|LPSCl").values
    n = 0
    for j, r in enumerate(scans):
        t = r["roughness_um"]["Li|LPSCl"]["ra_um"]
        if not t > 0:
            continue
        n += 1
        assert noise[j] > 0 and 0.1 < share[j] < 0.7, (noise[j], share[j])
        if t >= 1.0:
            assert cor[j] == pytest.approx(t, rel=0.10), (r["state"], cor[j], t)
        else:
            assert abs(cor[j] - t) < 0.25, (r["state"], cor[j], t)
    assert n == 4


def test_faraday_residual_through_the_log(run):
    st, _met, scans = run
    cs = st["correlate/states"].load()
    res = cs["faraday_residual_pct"].values
    for j, r in enumerate(scans):
        if r["plated_li_thickness_um"]["mean"] >= 10.0:
            assert abs(res[j]) < 5.0, (r["state"], res[j])


def test_centre_vs_edge_in_truth(run):
    _st, _met, scans = run
    for r in scans:
        t = r["plated_li_thickness_um"]
        dc = t["center"] - t["edge"]
        if r["high_current_mah_cm2"] > 0:   # Fig. 5e(ii): thicker in the middle
            assert dc > 1.0, r["state"]
        else:                               # 0.5 mA cm^-2: near-uniform
            assert abs(dc) < 0.3 + 0.05 * t["mean"], r["state"]


def test_centre_thicker_than_edge_where_truth_is(run):
    """Centre and edge of the plated LAYER: the columns where the Li runs on into an edge
    filament's root are left out (``thickness_outlier_fraction``,
    :func:`ssbscope.tomo.metrics.thickness_outliers`).

    Measured after the 1.5 mA cm^-2 step: centre 19.52 / edge 18.59 µm against truth 19.40 /
    17.86 (the continuous face; 19.39 / 17.89 on the whole voxels), centre - edge 0.93
    against 1.55; seed 1 (not a test fixture): 1.03 against 1.59.  Before the zinger step
    became one-sided and temporal (:func:`ssbscope.tomo.remove_zingers`) it read 19.20 /
    18.52, 0.68 (seed 1: 0.65): the old two-sided 3x3 median replaced 42 % of the last Cu
    row's projection pixels wherever the chord length changes by > 0.1 per pixel, and the
    Cu | Li face read +0.18 µm in the centre, +0.01 at the edge, in every scan.  The
    remaining -0.62 is the edge's +0.73 (filament Li: 15 of the 30 edge columns with
    filament Li within 2 voxels of the layer top unflagged, ~+0.2 µm, the roots' neighbours
    +1.1 µm each, ~+0.25, and filament Li that the twin places contiguous with the layer:
    36 columns hold 1-4 filament voxels directly on the layer top; counting them as layer
    the truth's edge reads 18.61), which no column count at 3 µm voxels tells from the
    layer, against the centre's +0.12.  Tolerance: centre - edge within 0.8 µm of the
    truth's (measured -0.62 / -0.56 at seeds 0 / 1; the plain means miss by 1.1) and at
    least 0.6 µm; 2.4 % of the columns are left out there.

    At the 0.5 mA cm^-2 scans (no filament) 3.3 / 0.8 / 4.0 % of the columns are left out
    (seed 1: 1.3 / 1.5 / 1.3 %; 1.5 / 0.9 / 1.5 % before the zinger fix) and the centre and
    edge move by up to 0.08 / 0.18 µm from the plain means (before <= 0.06): the footprint
    grew from 878 to 905 columns (the Cu disk's lateral edge is no longer eroded by the
    zinger step), its new outer columns are partial-volume columns that read ~0.5 µm thin
    (see test_thin_layer_edge_without_the_rim_median_bias), and the columns just inside
    them stand above that context (16 of the 36 flagged in the stripped scan lie in the
    2nd-3rd ring).  Tolerance: at most 5 % of the columns, moves < 0.25 µm."""
    st, met, scans = run
    maps = st["tomo/anode_free/maps"].load()["thickness_um"].sel(layer="Li").values
    of = met["thickness_outlier_fraction"].sel(layer="Li").values
    assert "thickness_outliers" in met["thickness_center_um"].attrs["method"]
    n = 0
    for j, r in enumerate(scans):
        t = r["plated_li_thickness_um"]
        c = float(met["thickness_center_um"].sel(layer="Li").values[j])
        e = float(met["thickness_edge_um"].sel(layer="Li").values[j])
        if t["center"] - t["edge"] > 1.0:
            n += 1
            assert c > e, (r["state"], c, e)
            assert c - e > 0.6, (r["state"], c, e)
            assert abs((c - e) - (t["center"] - t["edge"])) < 0.8, (r["state"], c, e)
            assert 0 < of[j] < 0.1
        elif t["mean"] > 0:
            from ssbscope.tomo.metrics import thickness_stats
            m = maps[j].astype(float)
            plain = thickness_stats(m, met.attrs["central_fraction"], footprint=np.isfinite(m))
            assert of[j] <= 0.05, (r["state"], of[j])
            assert abs(c - plain.mean_center_um) < 0.25 and abs(e - plain.mean_edge_um) < 0.25
    assert n == 1


def test_thin_layer_edge_without_the_rim_median_bias(run):
    """The 2.4-voxel layers at 0.5 mA cm^-2 (1.5 mAh cm^-2 plated, and after the strip; their
    heights are on the 3x3x3 median) and the 3 mAh cm^-2 layer: the outermost ring of the
    analysed columns (a neighbour outside the map's footprint) against the truth's mean (the
    twin's low-current texture is radially detrended, so every ring holds the layer's mean),
    and centre - edge against the truth's.

    Measured rim 6.88 / 14.04 / 6.57 µm against 7.28 / 14.55 / 7.28 (seed 1: 6.56 / 14.15 /
    7.60 against 7.28 / 14.55 / 7.28); centre - edge +0.02 / -0.05 / +0.15 against the
    continuous face's -0.02 / -0.05 / -0.02 (errors +0.04 / -0.01 / +0.17; seed 1 +0.18 /
    -0.03 / -0.12).  Before the zinger step became one-sided and temporal
    (:func:`ssbscope.tomo.remove_zingers`): rim 7.40 / 14.61 / 7.11, centre - edge errors
    -0.25 / -0.22 / -0.34, of which -0.17 was the Cu | Li face's zinger artefact (+0.18 µm
    in the centre, +0.01 at the edge, see test_centre_thicker_than_edge_where_truth_is)
    and the rest the thin centres' level bias, which now reads within the noise.  The rim
    now reads 0.4-0.7 µm low in 5 of the 6 layers (seeds 0, 1): the old step's artefact at
    the Cu disk's lateral edge (whose tangent rays meet the rim columns) had also shrunk the
    footprint and hidden that the outermost columns are partial-volume columns at the disk's
    edge.  The cell mask (the column means' Otsu mask) now holds 1005 columns against the
    twin's 1009 (975 with the old step), the maps' footprint (the mask eroded by one) 905
    against the twin's 909 (878): the rim is the cell's second column ring, which the
    reconstruction's edge response still mixes with the exterior (the Cu slices' contrast
    is ~33x the Li | Li6PS5Cl contrast at 22 keV, so a small lateral spread moves the
    Cu | Li face).  A known bias, not fixed here: leaving that ring out of every map would need the series'
    footprint erosion raised from 1 to 2 voxels, which moves every other result of the
    series (the soft-short pellet's objects, whose grey values are not Cu-dominated, leave
    out only the first ring, :func:`ssbscope.tomo.low_attenuation.core_columns`).  Before the
    rim's median left out the columns outside the footprint the rim read +0.63 µm high on
    the thin layers (7.91 / 14.61 / 7.90).  Tolerances: the rim at most 0.35 µm above the
    truth's mean (that bias is high; the rim's noise ~0.1 µm) and at most 0.8 µm below it
    (the partial-volume rim, measured -0.72 at worst); centre - edge within 0.25 µm of the
    truth's (its noise ~0.09 µm; measured 0.18 at worst over seeds 0 and 1; was 0.40 with
    the zinger artefact's 0.17)."""
    import scipy.ndimage as ndi

    st, met, scans = run
    maps = st["tomo/anode_free/maps"].load()["thickness_um"].sel(layer="Li").values
    n = 0
    for j, r in enumerate(scans):
        t = r["plated_li_thickness_um"]
        if not (t["mean"] > 0 and r["high_current_mah_cm2"] == 0):
            continue
        n += 1
        m = maps[j].astype(float)
        fp = np.isfinite(m)
        rim = fp & ~ndi.binary_erosion(fp)
        assert -0.8 < float(m[rim].mean()) - t["mean"] < 0.35, (r["state"], float(m[rim].mean()))
        c = float(met["thickness_center_um"].sel(layer="Li").values[j])
        e = float(met["thickness_edge_um"].sel(layer="Li").values[j])
        assert abs((c - e) - (t["center"] - t["edge"])) < 0.25, (r["state"], c, e)
    assert n == 3


def test_lpscl_volume_conserved(run):
    _st, met, scans = run
    # truth: the same Li6PS5Cl voxels in every scan
    v = [r["lpscl_volume_um3"] for r in scans]
    assert max(v) == min(v)
    # measured phase volume and layer volume within ±2 % of the first scan
    pct = met["volume_change_pct"].sel(phase="Li6PS5Cl").values
    assert np.all(np.abs(pct) < 2.0), pct
    lv = met["layer_volume_um3"].sel(layer="LPSCl").values
    assert np.all(np.abs(lv / lv[0] - 1) < 0.02), lv


def test_li_volume_change_within_1_point(run):
    """The Li phase volume (plated + counter electrode) is conserved: its change since the
    first scan within 1 percentage point of the truth's (issue 16's acceptance).  The phase
    volumes count the footprint (the cell less the wall's partial-volume ring, as the maps and
    the pore + crack volume) scaled to the cell's area; with the ring counted they read
    +0.59 / +0.14 / +0.42 / +1.27 % on the demo (seed 0, the scan displaced) and up to +1.51
    / +2.18 % at seeds 1 / 2 (the ring's grey values mix the exterior in, and the share its
    Li class takes follows the faces along the wall).  Now +0.36 / +0.26 / +0.34 / +0.73 %
    (seed 0; seeds 1, 2 at most +0.59 / +0.92 %)."""
    _st, met, scans = run
    pct = met["volume_change_pct"].sel(phase="Li").values
    t0 = scans[0]["li_volume_um3"]  # all Li voxels of the phantom, filaments included
    for j, r in enumerate(scans):
        t = 100.0 * (r["li_volume_um3"] - t0) / t0
        assert abs(t) < 0.1  # the truth: Li conserved (plated from the counter electrode)
        assert abs(pct[j] - t) < 1.0, (r["state"], pct[j], t)


def test_crack_plateau_in_truth(run):
    _st, _met, scans = run
    new = np.array([r["new_crack_volume_um3"] for r in scans])
    low = np.array([r["high_current_mah_cm2"] == 0 for r in scans])
    # case B: no new crack while plating/stripping at 0.5 mA cm^-2 (plateau through the
    # first cycle); edge filaments open at >= 1.5 mA cm^-2
    assert np.all(new[low] == 0) and np.all(new[~low] > 0)


def test_crack_plateau_measured(run):
    """No crack opens at 0.5 mA cm^-2 (case B): the measured new-crack volume within 10 % of
    the pristine interior truth (516 µm^3) of the interior truth at every scan (issue 16's
    pore + crack tolerance).  Measured 296 / -82 / 429 / 1064 against 0 / 27 / 0 / 702
    (seed 0; seeds 1, 2 at most 391 / 427 µm^3 off): the difference of two scans' pore +
    crack volumes, each with a stated 1 sigma of ~300 µm^3, so the margin is ~1 sigma of
    the difference.  Before issue 16's matched-filter detection, ring levels and face rows:
    522 / 178 / 611 / 1091 (the ring levels alone), 263 / -375 / 625 / 470 on this
    fixture's earlier store (xfail), 12 / -165 / 650 / 215 on the demo."""
    _st, met, scans = run
    new = met["new_crack_volume_um3"].values
    want = np.array([r["new_crack_volume_interior_um3"] for r in scans])
    tol = 0.10 * scans[0]["pore_crack_volume_interior_um3"]
    np.testing.assert_allclose(new, want, atol=tol)


def test_pore_crack_volume_within_10_percent(run):
    """The pore + crack volume and its 1-sigma (``pore_crack_volume_unc_um3``: the matrix
    levels' standard errors times the summed neighbourhood, and the voxels' noise over it)
    at every scan against the truth of the pellet's interior (the region the estimate
    integrates: 2 slices inside the measured mean faces, the footprint's columns).

    Issue 16's acceptance, 10 %.  Measured (seed 0) -7.7 / -1.9 / -9.7 / +0.7 / -0.6 %;
    seeds 1, 2: -0.2 / -5.9 / +7.7 / -2.6 / -0.5 and -7.6 / +1.5 / -1.7 / +0.1 / -3.4 %
    (mean -2.3 %); stated 1 sigma ~300 µm^3 (6 %).  Before (the labels of the 3 x 3 x 3 median as the
    detection, the mode of the eroded matrix as its level, the rows from the majority
    band): -11.0 / -3.2 / -14.6 / +1.6 / -18.0 %, seed 2 -26 / +7 / -28 / -19 / -19 %.
    The two scans of one phantom (1.5 mAh cm^-2 plated, and after the strip) agree within
    3 sigma of their difference."""
    _st, met, scans = run
    pc = met["pore_crack_volume_um3"].values
    unc = met["pore_crack_volume_unc_um3"].values
    for j, r in enumerate(scans):
        t = r["pore_crack_volume_interior_um3"]
        assert 0 < t <= r["pore_crack_volume_um3"]  # the edge filaments: outside (last scan)
        assert 0 < unc[j] < 0.10 * t, (r["state"], unc[j])
        assert abs(pc[j] - t) < 3 * unc[j], (r["state"], pc[j], t, unc[j])
        assert abs(pc[j] - t) < 0.10 * t, (r["state"], pc[j], t)
    j1, j3 = _k(scans, "plated 1.5 mAh cm⁻²"), _k(scans, "stripped 1.5 mAh cm⁻²")
    assert abs(pc[j1] - pc[j3]) < 3 * np.hypot(unc[j1], unc[j3])


def test_coulombic_efficiency_is_the_papers(run):
    st, _met, _scans = run
    ce = st["echem/cycles"].load()["coulombic_efficiency"].values
    assert ce[0] == pytest.approx(p("ce_B"), abs=2e-3)


# ------------------------------------------------------------------------------ case A
# Sandoval et al. 2025 case A: filament cracks after a ~1 mAh cm^-2 plateau (Fig. 3c), 49 % of
# the Li deposited after it in cracks, ~20 % of the crack volume left after the strip (79.9 %
# CE).  Measured on this fixture (seed 0, small): new-crack volume 0 / -217 / 11426 / 33275 /
# 4742 µm^3 against truth 0 / 0 / 21573 / 43173 / 8640 at 0 / 1 / 2 / 3 mAh cm^-2 / stripped
# (interior truth 0 / 0 / 15741 / 35316 / 1917).


@pytest.fixture(scope="module")
def run_a(tmp_path_factory):
    from ssbscope.config import load
    from ssbscope.store import Store
    from ssbscope.twin.folder import write_ct_experiment
    from ssbscope.workflow import run_experiment

    root = tmp_path_factory.mktemp("anode_free_a")
    folder = write_ct_experiment(root / "experiment", design="anode_free", size="small",
                                 seed=0, case="A")
    run_experiment(load(folder.yaml_path), root / "out", quiet=True)
    truth = json.loads(folder.truth_path.read_text())
    st = Store.open(root / "out" / "store.zarr")
    return st, st["tomo/anode_free/metrics"].load(), truth["tomo"]["anode_free"]["scans"]


def test_case_a_plateau_fraction_residual_in_truth(run_a):
    _st, _met, scans = run_a
    q = np.array([r["plated_mah_cm2"] for r in scans])
    new = np.array([r["new_crack_volume_um3"] for r in scans])
    plateau = (q <= p("crack_plateau_A") + 1e-9) & (np.array([r["stripped_mah_cm2"]
                                                             for r in scans]) == 0)
    assert plateau.sum() == 2 and np.all(new[plateau] == 0)
    k3 = _k(scans, "plated 3.0 mAh cm⁻²")
    assert new[k3] > new[_k(scans, "plated 2.0 mAh cm⁻²")] > 0
    # Li in cracks at 3 mAh cm^-2: 49 % of the Li deposited after the plateau
    area = scans[k3]["cell_area_um2"]
    assert new[k3] == pytest.approx(
        p("crack_li_fraction_A") * lithium_thickness_um(3.0 - p("crack_plateau_A")) * area,
        rel=0.01)
    # the plated layer is Faraday x (1 - fraction in cracks)
    t = scans[k3]
    assert t["plated_li_thickness_um"]["mean"] == pytest.approx(
        lithium_thickness_um(3.0) * (1 - t["li_in_cracks_fraction"]), rel=0.01)
    assert new[_k(scans, "stripped")] / new[k3] == pytest.approx(p("crack_residual_A"), abs=0.01)


def test_case_a_plateau_in_measured_new_crack_volume(run_a):
    """The measured new-crack volume stays flat to ~1 mAh cm^-2, then grows.

    Tolerance: at the plateau scan its magnitude is below 20 % of the measured growth at
    3 mAh cm^-2 (measured 217 vs 33275 µm^3: 0.7 %), and it rises from 1 to 2 to 3 mAh cm^-2.
    """
    _st, met, scans = run_a
    new = met["new_crack_volume_um3"].values
    k1 = _k(scans, f"plated {p('crack_plateau_A'):.1f} mAh cm⁻²")
    k2, k3 = _k(scans, "plated 2.0 mAh cm⁻²"), _k(scans, "plated 3.0 mAh cm⁻²")
    assert abs(new[k1]) < 0.2 * new[k3]
    assert new[k1] < new[k2] < new[k3]


@pytest.mark.xfail(strict=False, reason=(
    "measurement: cracks are 1-voxel-radius tubes at 3 µm voxels, which the 3x3x3 median "
    "partly erases, and the grey-level pore + crack volume drops as Li plates: new-crack "
    "volume measured 11426 / 33275 µm^3 against the whole pellet's truth 21573 / 43173 at "
    "2 / 3 mAh cm^-2 (53 % / 77 %), 4742 against 8640 after the strip (tolerance 10 % of "
    "the truth's pore + crack volume: 2967 / 5127 / 1674); the interior truth is 15741 / "
    "35316 / 1917 (the edge filaments lie largely outside the interior); 11207 / 32899 / "
    "4540 before issue 16's edge fix of ring removal"))
def test_case_a_new_crack_volume_within_10_percent(run_a):
    _st, met, scans = run_a
    new = met["new_crack_volume_um3"].values
    for j, r in enumerate(scans):
        assert new[j] == pytest.approx(r["new_crack_volume_um3"],
                                       abs=0.10 * r["pore_crack_volume_um3"]), r["state"]


def test_case_a_plated_layer_centre_within_5_percent(run_a):
    """Case A: the plated layer's centre thickness (the paper's central 75 %) where the
    layer is >= 7 µm (2 and 3 mAh cm^-2), with the columns where Li runs on into a filled
    crack just above the layer left out (:func:`ssbscope.tomo.metrics.thickness_outliers`).

    Measured 7.54 / 10.22 µm against truth 7.32 / 9.79 (the continuous face; +2.9 / +4.3 %,
    +0.22 / +0.43 µm), with the flagged cores grown into their patches (a third of the
    columns hold filled cracks at 2 mAh cm^-2; 23 / 14 % of the columns left out).  The
    truth is the layer; the measurement still counts the Li of filled cracks directly on the
    layer top in the columns the outlier test leaves in: a known, documented bias of
    +0.2-0.4 µm.  The twin itself: 10 % of the columns hold Li-filled crack voxels directly on
    the layer top; counting them as layer puts the whole-voxel centre at 7.95 / 10.42 against
    7.28 / 9.75 (+0.68 µm; seed 1 +0.87), counting only the 1-voxel runs +0.07: no column
    profile at 3 µm voxels tells a filled crack contiguous with the layer from the layer (Li
    either way), and the outlier test removes the long runs.  Before the zinger step became one-sided and temporal
    (:func:`ssbscope.tomo.remove_zingers`) it read 7.30 / 9.75 (-0.3 / -0.4 %) only because
    the zinger artefact on the last Cu row moved the centre's Cu | Li face up by +0.16 µm
    and cancelled it.  Seed 1 (not a test fixture): 7.50 / 11.15 (+2.4 / +13.8 %; the
    3 mAh cm^-2 scan reads +13.8 % with the old zinger rule as well).  Earlier numbers
    (with the old zinger step): the cores alone 7.68 / 10.16; the plain means over every
    column 8.82 / 10.52 (+21 / +8 %), and the mean over every column
    (``thickness_mean_um``, kept for the volume balance) 8.90 / 10.59 against 7.32 / 9.79.
    Tolerance 5 %: the filled-crack bias (+4.3 % at 3 mAh cm^-2) plus the noise of the
    centre (~0.1 µm, 1 %); the plain means (+21 / +8 %) miss it.
    Not asserted: the 1 mAh cm^-2 layer (5.40 against 4.85, +11 %, 1.6 voxels; 5.16 with the
    old zinger step), the edge (7.66 / 10.28 against 7.35 / 9.83; 8.22 / 10.36 with the old
    zinger step; whole voxels 7.39 / 9.91: in the
    edge ring 10 of 26 columns with crack Li directly on the layer top are flagged, in the
    centre 46 of 62, the rim's windows hold fewer neighbours; 8.55 / 11.01 before both edge
    fixes: filled cracks too dense there for a lateral baseline) and the stripped scan
    (a 0.66-voxel layer found as no band: see
    ``test_case_a_stripped_sub_voxel_layer_from_its_partial_volume``)."""
    _st, met, scans = run_a
    n = 0
    for j, r in enumerate(scans):
        t = r["plated_li_thickness_um"]["center"]
        if t >= 7.0:
            n += 1
            got = float(met["thickness_center_um"].sel(layer="Li").values[j])
            assert got == pytest.approx(t, rel=0.05), (r["state"], got, t)
    assert n == 2


def test_case_a_stripped_sub_voxel_layer_from_its_partial_volume(run_a):
    """Case A after the strip: the residual Li layer is 0.66 voxel (1.97 µm at 3 µm), no
    slice holds Li as the majority class and the layer location finds no Li band
    (``layer_z_vox`` -1); its thickness comes from the grey-level deficit against the first
    (pristine) scan between Cu and Li6PS5Cl
    (:func:`ssbscope.tomo.series_chunked.missing_layer_thickness`), with its noise.

    Measured (seed 0, small): mean 2.22 / centre 2.16 / edge 2.38 µm against truth
    1.97 / 1.98 / 1.97 (+13 / +9 / +21 %; 2.10 / 1.94 / 2.21 before the zinger step became
    one-sided and temporal); before that: per column 1 sigma 4.8 µm, standard error of
    the mean 0.49 µm, 4.3 sigma (detected); before: 0 / 0 / 0 (the absent layer's map was 0).
    Without the upper neighbour's own deficit removed (voids of the stripped Li and opened
    cracks at the pellet's bottom, as dark as Li) the mean read 2.42 (+23 %).
    Tolerance: 25 % on the mean and the centre (the edge's standard error, ~0.9 µm on a
    quarter of the columns, is 45 % of the layer: not asserted), and the mean within 2 of
    its stated standard errors."""
    _st, met, scans = run_a
    k = _k(scans, "stripped")
    tr = scans[k]["plated_li_thickness_um"]
    li = met.sel(layer="Li")
    mean = float(li["thickness_mean_um"].values[k])
    se = float(li["thickness_mean_se_um"].values[k])
    assert mean == pytest.approx(tr["mean"], rel=0.25)
    assert float(li["thickness_center_um"].values[k]) == pytest.approx(tr["center"], rel=0.25)
    assert abs(mean - tr["mean"]) < 2 * se
    assert float(li["thickness_significance"].values[k]) >= 3.0
    assert 0 < float(li["thickness_noise_um"].values[k]) < 10.0
    # the scans where Li is a band keep their own measurement (no noise stated)
    assert np.all(np.isnan(li["thickness_significance"].values[:k]))


def test_case_a_coulombic_efficiency_is_the_papers(run_a):
    st, _met, _scans = run_a
    ce = st["echem/cycles"].load()["coulombic_efficiency"].values
    assert ce[0] == pytest.approx(p("ce_A"), abs=2e-3)
