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
    # the store only: the tiny demo's report renders its soft-short scan (tests/report/test_report.py)
    res = run_experiment(load(y), root / "out", quiet=True, report=False)
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


def _pellet(seed, n=40, nz=48, e0=6):
    """Electrode (z < e0), vertical Li columns (2 x 2 voxels) from it, pores (balls) and dead
    Li (ellipsoids, twice as long along z), each at least one voxel (26-neighbourhood) from
    everything else, as the soft-short twin places them."""
    import scipy.ndimage as ndi

    rng = np.random.default_rng(seed)
    zz, yy, xx = np.indices((nz, n, n))
    fil = np.zeros((nz, n, n), bool)
    for y in range(3, n - 3, 7):
        for x in range(3, n - 3, 7):
            fil[e0:e0 + rng.integers(15, nz - e0 - 2), y:y + 2, x:x + 2] = True
    cube = np.ones((3, 3, 3), bool)
    forbid = ndi.binary_dilation(fil, cube)
    forbid[:e0 + 1] = True
    pores, dead = np.zeros_like(fil), np.zeros_like(fil)
    for k in range(400):
        r = rng.uniform(1.0, 1.8)
        cz, cy, cx = rng.uniform(e0 + 3, nz - 3), rng.uniform(2, n - 2), rng.uniform(2, n - 2)
        ball = (((zz + 0.5 - cz) / (2.0 if k % 2 == 0 else 1.0)) ** 2 + (yy - cy) ** 2
                + (xx - cx) ** 2 <= r * r)
        if not ball.any() or (ball & forbid).any():
            continue
        (dead if k % 2 == 0 else pores)[ball] = True
        forbid |= ndi.binary_dilation(ball, cube)
    elec = np.zeros_like(fil)
    elec[:e0] = True
    return elec, fil, pores, dead


def _objects(vol, lv, rim, inside, e0):
    """The matched-filter objects of a scan as series_chunked finds them, in memory."""
    import scipy.ndimage as ndi

    from ssbscope.tomo import low_attenuation as LA

    f = LA.fraction_map(vol, lv, rim)
    el = np.zeros(vol.shape, bool)
    el[:e0] = f[:e0] >= 0.5                                 # the electrode's low voxels
    core = (LA.matched_fraction(vol, lv, rim) >= 0.5) & inside & ~el
    cube = np.ones((3, 3, 3), bool)
    lab, n = ndi.label(core, cube)
    touch = np.zeros(n + 1, bool)
    touch[np.unique(lab[ndi.binary_dilation(el, cube) & (lab > 0)])] = True
    iso = ~touch
    iso[0] = False
    return LA.object_regions(lab, touch[lab] | el, inside, iso), n, iso


def test_matched_filter_objects_split_pores_from_dead_li():
    """Pores (void) in a pristine and a later scan, dead Li only in the later, Li columns
    from the electrode one voxel from them; blur 0.5 voxel and white noise at a
    contrast-to-noise of 3.3 (the tiny twin's), independent between the scans.  The former
    rule (26-connected regions at the midpoint) leaves a third of the pore and dead-Li voxels
    isolated (the rest join the columns through noise voxels: the threshold marks ~5 % of the
    matrix, near the 26-neighbourhood's percolation threshold); the matched-filter objects
    split by persistence recover both within 25 % (measured -9 / -9 %; seeds 1, 2: -16 / -23,
    -15 / -38 %).  Grey level could not do it: Li and void differ by 1-2 % of the
    Li | Li6PS5Cl contrast at 22 keV (linear attenuation of the materials)."""
    import scipy.ndimage as ndi

    from ssbscope.tomo import low_attenuation as LA

    e0, sd = 6, 0.3
    elec, fil, pores, dead = _pellet(0, e0=e0)
    rng = np.random.default_rng(100)

    def scan(low):
        return ndi.gaussian_filter(np.where(low, 0.0, 1.0), 0.5) + rng.normal(0, sd, low.shape)

    ref, now = scan(elec | pores), scan(elec | fil | pores | dead)
    lv = LA.LowAttenuationLevels(level_low=0.0, level_matrix=1.0, noise_sd=sd)
    rim = np.zeros(ref.shape[1:], bool)
    inside = np.zeros(ref.shape, bool)
    inside[e0:] = True
    fr, fk = LA.fraction_map(ref, lv, rim), LA.fraction_map(now, lv, rim)
    sums = []
    for vol, own, other in ((ref, fr, fk), (now, fk, fr)):
        reg, n, iso = _objects(vol, lv, rim, inside, e0)
        idx = np.arange(n + 1)
        cnt = np.bincount(reg.ravel(), minlength=n + 1)
        so = np.asarray(ndi.sum(own, reg, idx))
        st = np.asarray(ndi.sum(other, reg, idx))
        keep = LA.significant_objects(cnt, so, iso, lv)
        assert not keep[0] and keep.sum() >= 20
        sums.append((keep, so, st, cnt))
    pv, li = LA.split_objects(sums[0], sums[1], 2.0)
    assert pv == pytest.approx(2.0 * pores.sum(), rel=0.25)
    assert li == pytest.approx(2.0 * dead.sum(), rel=0.25)
    # the former rule: isolated 26-connected regions at the midpoint hold a third of them
    low = fk >= 0.5
    lab, _ = ndi.label(low, np.ones((3, 3, 3), bool))
    net = np.unique(lab[elec & low])
    iso_old = (lab > 0) & ~np.isin(lab, net)
    assert (iso_old & (pores | dead)).sum() < 0.45 * (pores | dead).sum()
    # an absent object whose region exceeds MAX_OBJECT_REGION_VOX is not isolated Li
    k_k, s_kk, s_kr, n_k = sums[1]
    big = n_k.copy()
    big[k_k] = LA.MAX_OBJECT_REGION_VOX + 1
    assert LA.split_objects(sums[0], (k_k, s_kk, s_kr, big), 2.0)[1] == 0.0
    c = LA.li_void_contrast("Li", "Li6PS5Cl", 22.0)
    assert 0.005 < c < 0.03


@pytest.fixture(scope="module")
def pristine_and_after_run(tmp_path_factory):
    """The small soft-short twin (the demo's size) with dead Li (1 % of the layers) and a
    pristine scan first (same pores; ssbscope.twin.folder.soft_short_part), through
    `ssbscope run`.  Small, not tiny: at the tiny twin's contrast-to-noise (3.1) the matched
    filter misses most 2-8 voxel pores (see test_pores_and_dead_li_within_20_percent)."""
    from ssbscope.config import load
    from ssbscope.store import Store
    from ssbscope.twin.folder import soft_short_part, write_experiment_yaml, write_truth_json
    from ssbscope.workflow import run_experiment

    root = tmp_path_factory.mktemp("soft_short_pristine")
    part = soft_short_part(root / "experiment", size="small", seed=0, pristine_scan=True,
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
    The twin's truth: pores 13851 um^3 in both scans, dead Li 11556 um^3 after (small,
    seed 0)."""
    met, tr = pristine_and_after_run
    assert [r["state"] for r in tr] == ["pristine", "after the soft short"]
    assert tr[0]["isolated_li_um3"] == 0 and tr[0]["pore_volume_um3"] > 0
    assert tr[1]["pore_volume_um3"] == tr[0]["pore_volume_um3"] and tr[1]["isolated_li_um3"] > 0
    pv, li = met["pore_volume_um3"].values, met["isolated_li_um3"].values
    # the reference scan is not split (nothing to compare with)
    assert np.isnan(pv[0]) and np.isnan(li[0])
    assert np.isfinite(pv[1]) and np.isfinite(li[1]) and pv[1] > 0 and li[1] > 0
    for v in ("pore_volume_um3", "isolated_li_um3"):
        a = met[v].attrs
        assert a["units"] == "um^3" and a["long_name"]
        assert "persistence" in a["method"] and "li_void_contrast = 0.01" in a["method"]
        assert "matched filter" in a["method"]
    # the Li-connected volume stays within the 15 % with the dead Li beside it
    assert float(met["low_attenuation_connected_um3"].values[1]) == pytest.approx(
        tr[1]["low_attenuation_connected_um3"], rel=0.15)


@pytest.mark.slow(seconds=45)
def test_pores_and_dead_li_within_20_percent(pristine_and_after_run):
    """Issue 16: the matched-filter objects split by persistence (ssbscope.tomo.
    low_attenuation.PERSISTENCE_RULE) against the twin's truth (voxel counts of its pore and
    dead-Li labels), scan after the short, small twin.  Measured through the chain, seeds
    0 / 1 / 2: pores -9.4 / -9.6 / -5.7 %, dead Li -0.4 / +10.2 / 0.0 %.

    Before the zinger step became one-sided and temporal (2026-12): pores -3.9 / -5.5 / +5.2 %,
    dead Li +2.3 / +11.6 / +0.8 %; with the new zinger rule alone +4.9 / -2.9 / +10.7 %,
    +4.7 / +9.4 / +3.5 %;
    the rest is the objects' cores now kept off the footprint's outermost column ring
    (:func:`ssbscope.tomo.low_attenuation.core_columns`), whose grey values the reconstruction
    mixes with the exterior: objects there that persist between scans of one geometry were
    counted as pores (~14 % of the truth at seed 0, against ~1 % of the twin's pore voxels in
    that ring).  The old zinger step had dimmed the plungers' edge columns, so the footprint
    (column means' Otsu mask) lost most of the cell's outer ring (tiny seed 2: 643 of 657
    columns) and fewer such objects came in.  The remaining -6 to -10 %: pores of 2-8 voxels
    below the objects' contrast-to-noise bound.

    Not asserted, the tiny twin (contrast-to-noise 3.1 per voxel): pores -36 / +10 / -38 %,
    dead Li +15 / -20 / -9 % (the ring objects included: +22 / +111 / +75 %; before the zinger
    change +6 / +58 / -4 %, a cancellation of the ring objects against the missed pores: on
    tiny seed 2's pristine scan 51 of the 60 counted objects touched the ring, 16 of the 26
    true pores were not found).  Tolerance 20 % (the accuracy table's)."""
    met, tr = pristine_and_after_run
    assert float(met["pore_volume_um3"].values[1]) == pytest.approx(
        tr[1]["pore_volume_um3"], rel=0.20)
    assert float(met["isolated_li_um3"].values[1]) == pytest.approx(
        tr[1]["isolated_li_um3"], rel=0.20)
