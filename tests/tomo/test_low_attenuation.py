"""Low-attenuation regions and layer fractions of the soft-short pellet (Cao et al. 2023,
doi:10.1002/adfm.202307998, Fig. 3I-J) through the chain: the twin's Data Exchange file ->
`ssbscope run` (FBP, segmentation by the declared stack, pure levels, regions) -> metrics,
against the phantom's truth (independent of the analysis: voxel counts of its labels)."""

import json

import numpy as np
import pytest


@pytest.fixture(scope="module")
def soft_short_run(tmp_path_factory):
    """The demo's small soft-short scan (40 x 40 x 64 voxels, 90 projections), run alone."""
    from ssbscope.config import load
    from ssbscope.store import Store
    from ssbscope.twin.folder import soft_short_part, write_experiment_yaml, write_truth_json
    from ssbscope.workflow import run_experiment

    root = tmp_path_factory.mktemp("soft_short")
    part = soft_short_part(root / "experiment", size="small", seed=0)
    y = write_experiment_yaml(root / "experiment" / "experiment.yaml", [part], name="ss")
    write_truth_json(root / "experiment" / "truth.json", [part])
    res = run_experiment(load(y), root / "out", quiet=True)
    truth = json.loads((root / "experiment" / "truth.json").read_text())
    return Store.open(res.store_path)["tomo/soft_short/metrics"].load(), \
        truth["tomo"]["soft_short"]["scans"][0]


def test_connected_and_isolated_volumes_within_15_percent(soft_short_run):
    """Before (darkest-class threshold, 1-voxel-eroded footprint) the small twin read
    connected -25 % and isolated +51 %; the midpoint of the measured pure levels over the
    whole cell region +9.6 % and -8.6 %; with the cell ring's own matrix level and the
    noise-mirror estimate subtracted from the connected count (ssbscope.tomo.low_attenuation)
    +1.1 % and -10.7 % (seeds 1, 2: +2.2 / -8.5 %, -0.7 / +8.2 %).  The isolated number is a
    cancellation (noise clusters counted, pores joined to the network), see the module."""
    met, tr = soft_short_run
    for var in ("low_attenuation_connected_um3", "low_attenuation_isolated_um3"):
        got, want = float(met[var].values[0]), float(tr[var])
        assert want > 0
        assert got == pytest.approx(want, rel=0.15), var


def test_layer_fractions_in_the_papers_numbering_within_3_pp(soft_short_run):
    met, tr = soft_short_run
    lf = met["layer_fraction"]
    assert lf.dims == ("time_s", "layer_index")
    np.testing.assert_array_equal(met["layer_index"].values, np.arange(1, 11))
    got = lf.values[0]
    want = np.asarray(tr["layer_fraction_paper_order"], float)
    # the truth is the paper's: 9.91 % at layer 1 (cathode side) to 30.65 % at layer 10 (Li)
    assert want[0] == pytest.approx(0.0991, abs=0.005)
    assert want[-1] == pytest.approx(0.3065, abs=0.005)
    np.testing.assert_allclose(got, want, atol=0.03)
    # layer 1 at the cathode side, rising toward the Li the filaments grow from
    assert got[-1] - got[0] > 0.15
    assert np.corrcoef(np.arange(10), got)[0, 1] > 0.95
    assert lf.attrs["layer_1_next_to"] == "cathode"
    assert lf.attrs["layer_n_next_to"] == "Li"
    assert "layer 1 at the cathode" in lf.attrs["numbering"]
    # the pure levels: Li electrode below the matrix, threshold between them
    lo = float(met["low_attenuation_level_low"].values[0])
    hi = float(met["low_attenuation_level_matrix"].values[0])
    thr = float(met["low_attenuation_threshold"].values[0])
    assert lo < thr < hi and thr == pytest.approx(0.5 * (lo + hi))


def test_matrix_level_above_partial_volume_contamination():
    """A matrix N(1, 0.2) with 35 % of its voxels pulled down by partial volume with a dark
    phase (uniform fractions): the median is biased low by ~8 %, the Gaussian of the known
    noise width fitted above the histogram's peak recovers the matrix level within 1.5 %."""
    from ssbscope.tomo import low_attenuation as LA

    rng = np.random.default_rng(0)
    n, sd = 200_000, 0.2
    frac = np.where(rng.random(n) < 0.35, rng.random(n), 0.0)
    v = (1.0 - frac) + rng.normal(0.0, sd, n)
    assert np.median(v) < 0.95
    edges = LA.histogram_edges(v.min(), v.max(), sd)
    counts = np.histogram(v, bins=edges)[0]
    assert LA.matrix_level(counts, edges, sd) == pytest.approx(1.0, abs=0.015)
    lo, s = LA.electrode_level(rng.normal(0.1, sd, 50_000))
    assert lo == pytest.approx(0.1, abs=0.005) and s == pytest.approx(sd, rel=0.03)


def test_levels_do_not_depend_on_the_slab_split():
    """The chunked analysis reads the volume slab by slab: same levels bit for bit."""
    from ssbscope.tomo import low_attenuation as LA

    rng = np.random.default_rng(1)
    vol = rng.normal(1.0, 0.2, (30, 16, 16)).astype(np.float32)
    vol[:6] -= 0.9
    fp = np.ones((16, 16), bool)
    a = LA.measure_levels(lambda z0, z1: vol[z0:z1], fp, [(0, 6)], 6, 30)
    b = LA.measure_levels(lambda z0, z1: vol[z0:z1], fp, [(0, 6)], 6, 30,
                          bounds=[(0, 4), (4, 11), (11, 30)])
    assert a == b
    assert a.level_matrix == pytest.approx(1.0, abs=0.02)
    assert a.level_low == pytest.approx(0.1, abs=0.02)


def test_rim_level_and_per_column_thresholds():
    """The cell's outer ring reads darker (the empty exterior blurred into it): its matrix
    level is fitted on its own histogram, and the thresholds, mirror levels and fractions
    use it there."""
    from ssbscope.tomo import low_attenuation as LA

    rng = np.random.default_rng(3)
    n, sd = 24, 0.1
    rim = np.zeros((n, n), bool)
    rim[0] = rim[-1] = rim[:, 0] = rim[:, -1] = True
    inner = ~rim
    vol = rng.normal(1.0, sd, (40, n, n)).astype(np.float32)
    vol[:8] -= 0.9                           # the Li electrode (level 0.1)
    vol[8:, rim] -= 0.2                      # the ring's matrix at 0.8
    lv = LA.measure_levels(lambda z0, z1: vol[z0:z1], inner, [(0, 8)], 8, 40, rim=rim)
    assert lv.level_matrix == pytest.approx(1.0, abs=0.02)
    assert lv.level_matrix_rim == pytest.approx(0.8, abs=0.02)
    assert lv.threshold_rim == pytest.approx(0.5 * (lv.level_low + lv.level_matrix_rim))
    t = LA.threshold_map(lv, rim)
    assert t[rim].max() == t[rim].min() == lv.threshold_rim
    assert t[inner].max() == lv.threshold
    mir = LA.mirror_levels(lv, rim)
    np.testing.assert_allclose(mir[inner], 2 * lv.level_matrix - lv.threshold)
    np.testing.assert_allclose(mir[rim], 2 * lv.level_matrix_rim - lv.threshold_rim)
    # partial-volume fractions of the pure matrix: ~0 with the ring's level, not with one level
    vals = vol[8:].reshape(32, -1)
    with_rim = LA.slice_fraction_sums(vals, lv, rim=rim.ravel()).sum() / vals.size
    one = LA.slice_fraction_sums(vals, lv).sum() / vals.size
    assert abs(with_rim) < 0.01 < one
    # without a ring the rim properties fall back on the interior's
    lv0 = LA.measure_levels(lambda z0, z1: vol[z0:z1], inner, [(0, 8)], 8, 40)
    assert lv0.level_matrix_rim is None and lv0.threshold_rim == lv0.threshold


@pytest.mark.parametrize("cz", [64, 7])
def test_noise_mirror_estimate_counts_the_matrix_voxels_joined(cz):
    """Columns (3 x 3 voxels) of the low phase (level 0) grow from an electrode through a
    matrix (level 1, white noise sd 0.33: contrast-to-noise 3, as the tiny twin): matrix
    voxels that noise carries below the midpoint join the columns through 26-connectivity.
    The voxels at or above the mirror level in the connected set's 26-neighbourhood estimate
    their number within 15 %, whatever the slab split (the true count of joined matrix voxels
    is known here, not in a scan)."""
    import dask.array as da
    import scipy.ndimage as ndi

    from ssbscope.tomo import low_attenuation as LA
    from ssbscope.tomo.series_chunked import _bright_rows, _mirror_noise_count

    rng = np.random.default_rng(4)
    nz, n, e0 = 64, 48, 6
    truth = np.zeros((nz, n, n), bool)
    truth[:e0] = True                                      # the electrode
    for y in range(2, n - 3, 8):
        for x in range(2, n - 3, 8):
            truth[e0:e0 + rng.integers(10, nz - e0), y:y + 3, x:x + 3] = True
    vol = np.where(truth, 0.0, 1.0) + rng.normal(0, 0.33, truth.shape)
    lv = LA.LowAttenuationLevels(level_low=0.0, level_matrix=1.0, noise_sd=0.33)
    rim = np.zeros((n, n), bool)
    fp = np.ones((n, n), bool)
    low = vol <= LA.threshold_map(lv, rim)[None]
    el = np.zeros_like(low)
    el[:e0] = low[:e0]
    region = low.copy()
    region[:e0] = False
    lab, k = ndi.label(region, np.ones((3, 3, 3), bool))
    near = ndi.binary_dilation(el, np.ones((3, 3, 3), bool))
    touch = np.zeros(k + 1, bool)
    touch[np.unique(lab[near & (lab > 0)])] = True
    touch[0] = False
    joined = int((touch[lab] & ~truth).sum())              # matrix voxels in the connected set
    assert joined > 0.1 * truth[e0:].sum()                 # the bias this estimates
    noise = _mirror_noise_count(da.from_array(lab, chunks=(cz, n, n)), touch,
                                lambda z0, z1: _bright_rows(vol, (e0, nz), fp,
                                                            LA.mirror_levels(lv, rim), z0, z1),
                                lambda z0, z1: el[z0:z1], vol.shape, (0, nz), cz, True)
    assert noise == pytest.approx(joined, rel=0.15)


def test_persistence_tells_pores_from_dead_li():
    """Pores (void) present in a pristine and a later scan, dead-Li blobs only in the later,
    white noise at contrast-to-noise 4 (independent between the scans): the regions of the
    later scan present in the reference (reference fraction summed over the region >= half
    its own) are the pores, the others the dead Li; the split adds up with its noise parts.
    Grey level could not do it: Li and void differ by 1-2 % of the Li | Li6PS5Cl contrast at
    22 keV (linear attenuation of the materials)."""
    import scipy.ndimage as ndi

    from ssbscope.tomo import low_attenuation as LA

    rng = np.random.default_rng(7)
    shape = (40, 40, 40)
    pores, dead = np.zeros(shape, bool), np.zeros(shape, bool)
    centres = [(z, y, x) for z in range(5, 36, 10) for y in range(5, 36, 10)
               for x in range(5, 36, 10)]
    rng.shuffle(centres)
    zz, yy, xx = np.indices(shape)
    for i, (z, y, x) in enumerate(centres):
        ball = (zz - z) ** 2 + (yy - y) ** 2 + (xx - x) ** 2 <= 2.2 ** 2
        (pores if i % 2 else dead)[ball] = True
    lv = LA.LowAttenuationLevels(level_low=0.0, level_matrix=1.0, noise_sd=0.25)
    rim = np.zeros(shape[1:], bool)
    ref = np.where(pores, 0.0, 1.0) + rng.normal(0, 0.25, shape)
    now = np.where(pores | dead, 0.0, 1.0) + rng.normal(0, 0.25, shape)
    low = now <= LA.threshold_map(lv, rim)[None]
    lab, n = ndi.label(low, np.ones((3, 3, 3), bool))
    idx = np.arange(n + 1)
    sk = np.asarray(ndi.sum(LA.fraction_map(now, lv, rim), lab, idx))
    sr = np.asarray(ndi.sum(LA.fraction_map(ref, lv, rim), lab, idx))
    iso = np.ones(n + 1, bool)
    iso[0] = False
    pres = LA.present_in_reference(sk, sr, iso)
    on_pore = np.unique(lab[pores & (lab > 0)])
    on_dead = np.unique(lab[dead & (lab > 0)])
    assert on_pore.size == on_dead.size == 32
    assert pres[on_pore].all() and not pres[on_dead].any()
    # noise clusters (matrix voxels below the midpoint) are absent from the reference
    noise_only = np.setdiff1d(np.flatnonzero(iso), np.r_[on_pore, on_dead])
    assert noise_only.size > 0 and pres[noise_only].mean() < 0.2
    sizes = np.bincount(lab.ravel(), minlength=n + 1)
    pv, li = LA.split_isolated(sizes, pres, iso, 5, 7, 2.0)
    assert pv == 2.0 * (sizes[pres].sum() - 5) and li == 2.0 * (sizes[iso & ~pres].sum() - 7)
    assert LA.split_isolated(sizes, pres, iso, 10 ** 9, 0, 1.0)[0] == 0.0
    c = LA.li_void_contrast("Li", "Li6PS5Cl", 22.0)
    assert 0.005 < c < 0.03


@pytest.fixture(scope="module")
def pristine_and_after_run(tmp_path_factory):
    """The tiny soft-short twin with dead Li (1 % of the layers) and a pristine scan first
    (same pores; ssbscope.twin.folder.soft_short_part), through `ssbscope run`."""
    from ssbscope.config import load
    from ssbscope.store import Store
    from ssbscope.twin.folder import soft_short_part, write_experiment_yaml, write_truth_json
    from ssbscope.workflow import run_experiment

    root = tmp_path_factory.mktemp("soft_short_pristine")
    part = soft_short_part(root / "experiment", size="tiny", seed=0, pristine_scan=True,
                           isolated_li_fraction=0.01)
    y = write_experiment_yaml(root / "experiment" / "experiment.yaml", [part], name="ss")
    write_truth_json(root / "experiment" / "truth.json", [part])
    res = run_experiment(load(y), root / "out", quiet=True)
    truth = json.loads((root / "experiment" / "truth.json").read_text())
    return Store.open(res.store_path)["tomo/soft_short/metrics"].load(), \
        truth["tomo"]["soft_short"]["scans"]


@pytest.mark.slow(seconds=45)
def test_pores_and_dead_li_split_through_the_chain(pristine_and_after_run):
    """Projections -> FBP -> regions -> split by persistence against the pristine scan.
    The twin's truth: pores 6021 um^3 in both scans, dead Li 7398 um^3 after (seed 0)."""
    met, tr = pristine_and_after_run
    assert [r["state"] for r in tr] == ["pristine", "after the soft short"]
    assert tr[0]["isolated_li_um3"] == 0 and tr[0]["pore_volume_um3"] > 0
    assert tr[1]["pore_volume_um3"] == tr[0]["pore_volume_um3"] and tr[1]["isolated_li_um3"] > 0
    pv, li = met["pore_volume_um3"].values, met["isolated_li_um3"].values
    # the reference scan is not split (nothing to compare with)
    assert np.isnan(pv[0]) and np.isnan(li[0])
    assert np.isfinite(pv[1]) and np.isfinite(li[1]) and pv[1] >= 0 and li[1] >= 0
    # a partition of the isolated regions, each part less its noise estimate
    assert pv[1] + li[1] <= float(met["low_attenuation_isolated_um3"].values[1])
    for v in ("pore_volume_um3", "isolated_li_um3"):
        a = met[v].attrs
        assert a["units"] == "um^3" and a["long_name"]
        assert "persistence" in a["method"] and "li_void_contrast = 0.01" in a["method"]
    # the Li-connected volume stays within the 15 % with the dead Li beside it
    assert float(met["low_attenuation_connected_um3"].values[1]) == pytest.approx(
        tr[1]["low_attenuation_connected_um3"], rel=0.15)


@pytest.mark.xfail(strict=True, reason=(
    "issue 16 open: at the tiny twin's contrast-to-noise (3.1-3.6) and 1-voxel gaps most true "
    "pores and dead-Li voxels join the Li-connected regions through noise or blur (seed 0: 41 "
    "of 223 pore voxels and 19 of 274 dead-Li voxels stay isolated), so the split reads pores "
    "-70 %, dead Li -81 % (seeds 1, 2: -94 / -40 %, -79 / -91 %; small: -65 / -26 %, -37 / "
    "-50 %, -37 / +2 %); see ssbscope.tomo.low_attenuation"))
def test_pores_and_dead_li_within_15_percent(pristine_and_after_run):
    met, tr = pristine_and_after_run
    assert float(met["pore_volume_um3"].values[1]) == pytest.approx(
        tr[1]["pore_volume_um3"], rel=0.15)
    assert float(met["isolated_li_um3"].values[1]) == pytest.approx(
        tr[1]["isolated_li_um3"], rel=0.15)
