"""The chunked CT series analysis (tomo.series_chunked) against the in-memory path.

Every volume step of :func:`ssbscope.tomo.series.analyse_series` is run on z-slabs of 7 or 9
slices (cutting through the layers, the interfaces and the low-attenuation regions) and must
give the in-memory result: labels bit for bit, metrics to float rounding of the sums.  The
volumes are the anode-free twin reconstructed from simulated projections (as
tests/tomo/test_series.py), later scans drifted in (y, x) so that registration is exercised.
A subprocess measures peak RSS (``resource.getrusage``) of both paths on a larger volume.
"""

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import scipy.ndimage as ndi

from ssbscope.testing import ANODE_FREE_LAYERS, ANODE_FREE_SERIES_KW
from ssbscope.tomo import series as S
from ssbscope.tomo import series_chunked as SC

VS = 3.0
LAYERS = ANODE_FREE_LAYERS
KW = ANODE_FREE_SERIES_KW


@pytest.fixture(scope="module")
def recon(anode_free_recon_3_dir):
    # anode_free_recon_series((0.0, 1.5, 3.0), [(-0.6, 0.8), (2.0, -1.0)]): sub-voxel and
    # whole-voxel drift of the later scans in (y, x); built once per test run and shared by
    # tests/tomo/test_chunked_series.py and test_pores_split_once.py (tests/conftest.py)
    return [np.load(anode_free_recon_3_dir / f"scan{k}.npy") for k in range(3)]


def _assert_same(a, b):
    np.testing.assert_array_equal(np.asarray(b.volumes), a.volumes)
    np.testing.assert_array_equal(np.asarray(b.labels), a.labels)
    np.testing.assert_array_equal(b.shift_vox, a.shift_vox)
    np.testing.assert_array_equal(b.class_thresholds, a.class_thresholds)
    assert b.class_names == a.class_names
    np.testing.assert_array_equal(b.region.mask, a.region.mask)
    np.testing.assert_array_equal(b.region.inner, a.region.inner)
    for f in ("new_filaments", "new_filaments_center", "new_filaments_edge",
              "new_filament_volume_um3"):
        np.testing.assert_array_equal(getattr(b, f), getattr(a, f), err_msg=f)
    for f in ("new_crack_volume_um3", "pore_crack_grey_overlap"):
        np.testing.assert_allclose(getattr(b, f), getattr(a, f), rtol=1e-10, atol=1e-9,
                                   err_msg=f)
    for sa, sb in zip(a.scans, b.scans):
        assert sb.location == sa.location
        for f in ("height_um", "thickness_um"):
            for key in getattr(sa, f):
                np.testing.assert_array_equal(getattr(sb, f)[key], getattr(sa, f)[key],
                                              err_msg=f"{f}[{key}]")
        for f in ("ra_um", "rq_um", "thickness_center_um", "thickness_center_std_um",
                  "thickness_edge_um", "thickness_edge_std_um", "thickness_mean_um",
                  "phase_volume_um3", "layer_volume_um3"):
            assert getattr(sb, f).keys() == getattr(sa, f).keys()
            for key, v in getattr(sa, f).items():
                np.testing.assert_allclose(getattr(sb, f)[key], v, rtol=1e-12,
                                           err_msg=f"{f}[{key}]")
        # partial volume: the same sum in another order (per slab)
        np.testing.assert_allclose(sb.pore_crack_volume_um3, sa.pore_crack_volume_um3,
                                   rtol=1e-10)
        # regions: labelled across slab borders, volumes are voxel counts
        assert sb.low_attenuation_connected_um3 == sa.low_attenuation_connected_um3
        assert sb.low_attenuation_isolated_um3 == sa.low_attenuation_isolated_um3
        # their split against the first scan (NaN there): partial-volume sums over the same
        # objects (the matched filter reads each slab with its halo rows), in another order
        np.testing.assert_allclose([sb.pore_volume_um3, sb.isolated_li_um3],
                                   [sa.pore_volume_um3, sa.isolated_li_um3], rtol=1e-10,
                                   atol=1e-9)
        np.testing.assert_array_equal(sb.layer_fraction, sa.layer_fraction)
        np.testing.assert_array_equal(np.asarray(sb.electrolyte_low), sa.electrolyte_low)
        np.testing.assert_array_equal(np.asarray(sb.electrolyte_raw_low), sa.electrolyte_raw_low)


@pytest.mark.parametrize("slab, opening", [(7, 0), (9, 1)])
def test_series_chunked_equals_in_memory(recon, tmp_path, slab, opening):
    a = S.analyse_series(recon, LAYERS, VS, opening_radius_vox=opening, **KW)
    b = SC.analyse_series_chunked(recon, LAYERS, VS, chunk_slices=slab, work_dir=tmp_path,
                                  opening_radius_vox=opening, **KW)
    # the test can fail: the drift was found and something was measured
    assert np.abs(a.shift_vox[2] - (0.0, -2.0, 1.0)).max() < 0.2
    assert a.new_filaments[2] > 0 and a.scans[2].low_attenuation_connected_um3 > 0
    # slabs cut the layers and the filaments: Li|LPSCl lies inside a slab, not on a face
    loc = a.scans[2].location
    assert any(z % slab for z in loc.z0_vox + loc.z1_vox if z > 0)
    _assert_same(a, b)


def test_series_chunked_reads_dask_and_zarr(recon, tmp_path):
    """Dask arrays (as the store gives) and Zarr arrays give the NumPy result."""
    import dask.array as da
    import zarr

    z = zarr.create_array(store=str(tmp_path / "v.zarr"), shape=recon[1].shape,
                          chunks=(5, 40, 40), dtype=np.float32)
    z[:] = recon[1]
    vols = [da.from_array(recon[0], chunks=(11, 40, 40)), z]
    a = S.analyse_series(recon[:2], LAYERS, VS, **KW)
    b = SC.analyse_series_chunked(vols, LAYERS, VS, chunk_slices=8, work_dir=tmp_path, **KW)
    _assert_same(a, b)


@pytest.mark.parametrize("denoise, levels", [
    ({"method": "tv", "block_slices": 16}, None),
    ({"method": "nlm", "block_slices": 12, "patch_distance": 2}, {"Li": 0.0}),
    (None, {"Li6PS5Cl": {"z_vox": [20, 30], "y_vox": [15, 25], "x_vox": [15, 25]}}),
])
def test_series_chunked_equals_in_memory_denoise_and_levels(recon, tmp_path, denoise, levels):
    """TV / NLM denoising (fixed block grid) and user levels: the chunked path equals the
    in-memory one; the levels are the ones measure_scan reports."""
    kw = dict(KW, denoise=denoise, phase_levels=levels)
    a = S.analyse_series(recon[:2], LAYERS, VS, **kw)
    b = SC.analyse_series_chunked(recon[:2], LAYERS, VS, chunk_slices=7, work_dir=tmp_path, **kw)
    _assert_same(a, b)
    for sa, sb in zip(a.scans, b.scans):
        assert sa.phase_levels == sb.phase_levels
        assert np.isfinite(sa.pore_crack_volume_um3)
    pl = a.scans[0].phase_levels
    if levels and "Li" in levels:
        assert pl["Li"].method == "user_value" and pl["Li"].level == 0.0
    if levels and "Li6PS5Cl" in levels:
        assert pl["Li6PS5Cl"].method == "user_box"
        assert pl["Li6PS5Cl"].level == pytest.approx(float(np.median(
            a.volumes[0][20:30, 15:25, 15:25])))
    else:
        assert pl["Li6PS5Cl"].method == "mode"


def test_series_chunked_slabs_run_on_dask_workers(recon, tmp_path):
    """Under a ``dask.distributed`` client (as ``ssbscope run --workers 2``), the per-slab
    work of each scan (cell-region column means, registration and its resampling, median,
    labels with the opening, the per-slab counts) runs as tasks on the two worker processes, and the result equals the
    in-memory path's."""
    distributed = pytest.importorskip("distributed")
    import zarr

    vols = []
    for k, v in enumerate(recon[:2]):  # Zarr scans, as the store's
        z = zarr.create_array(store=str(tmp_path / f"s{k}.zarr"), shape=v.shape,
                              chunks=(8,) + v.shape[1:], dtype=np.float32)
        z[:] = v
        vols.append(z)
    a = S.analyse_series(recon[:2], LAYERS, VS, opening_radius_vox=1, **KW)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster, \
            distributed.Client(cluster, set_as_default=True) as client:
        with distributed.get_task_stream(client) as ts:
            b = SC.analyse_series_chunked(vols, LAYERS, VS, chunk_slices=9,
                                          work_dir=tmp_path / "w", opening_radius_vox=1, **KW)
        _assert_same(a, b)
    from ssbscope.tomo.denoise import as_settings
    from ssbscope.tomo.levels import DEFAULT_LEVEL_DENOISE

    slabs = [t for t in ts.data if "_write_slab" in str(t["key"])]
    # 2 scans x ((aligned, median, labels) x 7 slabs of 9 of the 56 slices + the blocks of
    # the levels' interior labels)
    n_lv = -(-56 // as_settings(DEFAULT_LEVEL_DENOISE).block_slices)
    assert len(slabs) == 2 * (3 * 7 + n_lv)
    assert len({t["worker"] for t in slabs}) == 2
    # the per-slab reductions too: column and phase counts, 7 slabs per scan
    assert sum(str(t["key"]).startswith("counts-") for t in ts.data) == 2 * 7
    # ... and the labelling (slabs, pairs across their faces), the label reductions (region
    # sizes and contacts, new filaments' sizes and centroids), the pure-phase and
    # low-attenuation level histograms: tasks (the relabelling fused into the reductions)
    assert a.new_filaments[1] > 0 and a.scans[1].low_attenuation_connected_um3 > 0
    for name in ("_block_meta", "_boundary_pairs", "_region_reduce",
                 "_filament_reduce", "slab_stats", "slab_hist", "_extremes", "_counts",
                 "slice_sums", "count_sum", "_column_sums", "_column_mean",
                 "_register_task"):
        workers = {t["worker"] for t in ts.data if str(t["key"]).startswith(name + "-")}
        assert workers, name
    assert len({t["worker"] for t in ts.data if "_block_meta" in str(t["key"])}) == 2
    # the cell region's column means (chains of slab tasks per band of rows, 7 slabs each)
    # and the registration slab are computed on the workers too: the client gets a (y, x)
    # mean image and a shift, never a slab
    n_chain = sum(str(t["key"]).startswith("_column_sums-") for t in ts.data)
    assert n_chain >= 7 and n_chain % 7 == 0
    assert sum(str(t["key"]).startswith("_register_task-") for t in ts.data) == 1


def test_shift_slab_equals_apply_rigid_with_z_shift():
    from ssbscope.tomo.register import RigidTransform, apply_rigid

    rng = np.random.default_rng(0)
    v = ndi.gaussian_filter(rng.random((30, 18, 20)), 1.5).astype(np.float32)
    for shift in ((1.7, -0.4, 2.2), (-3.2, 0.0, 0.5), (0.0, 1.0, -1.0)):
        t = RigidTransform(shift_vox=shift, rotation_deg=0.0, error=0.0)
        ref = apply_rigid(v, t, order=1).astype(np.float32)
        vol = SC._Vol(v)
        got = np.concatenate([SC._shift_slab(vol, t, z0, z1) for z0, z1 in SC._bounds(30, 7)])
        # same interpolation; the slab's offset differs from the volume's by an integer, so
        # coordinates may round differently in the last bit
        np.testing.assert_allclose(got, ref, rtol=2e-6, atol=0)
        assert np.count_nonzero(got != ref) <= 0.01 * v.size


def test_median_slab_equals_median3():
    from ssbscope.tomo.filters import median3

    v = np.random.default_rng(1).random((23, 9, 11)).astype(np.float32)
    got = np.concatenate([SC._median_slab(v, z0, z1) for z0, z1 in SC._bounds(23, 4)])
    np.testing.assert_array_equal(got, median3(v))


def _helix_mask():
    """Components that cross z-slab borders of 7 slices in every way: a helix winding
    through all slabs, a U whose arms join only two slabs further up, two blobs touching
    only at a corner across a slab face, and an isolated voxel on a face."""
    m = np.zeros((35, 24, 24), bool)
    t = np.linspace(0, 6 * np.pi, 2000)
    z = np.clip((t / t.max() * 34).round().astype(int), 0, 34)
    y = (12 + 8 * np.cos(t)).round().astype(int)
    x = (12 + 8 * np.sin(t)).round().astype(int)
    m[z, y, x] = True
    m[0:20, 2, 2] = True            # U: two arms ...
    m[0:20, 2, 5] = True
    m[19, 2, 2:6] = True            # ... joined at z = 19 (third slab)
    m[5:7, 20:22, 20:22] = True     # block ending at z = 6 (last slice of slab 0)
    m[7:9, 22:23, 22:23] = True     # corner contact only, across the face z = 6 | 7
    m[14, 0, 23] = True             # isolated voxel on the face of slab 2
    return m


@pytest.mark.parametrize("backend", ["numba", "cc3d"])
@pytest.mark.parametrize("chunks", [(7, 24, 24), (9, 10, 11)])
def test_label_chunked_components_cross_chunk_borders(backend, chunks):
    import dask.array as da

    from ssbscope.tomo.chunked import label_chunked

    if backend == "cc3d":
        pytest.importorskip("cc3d")
    m = _helix_mask()
    ref, n_ref = ndi.label(m, np.ones((3, 3, 3), bool))
    lab, n = label_chunked(da.from_array(m, chunks=chunks), 26, backend=backend)
    assert n == n_ref == 4  # helix, U, corner pair, voxel
    np.testing.assert_array_equal(lab.compute(), ref)
    # 6-connected: the corner pair splits, the helix (diagonal steps) breaks up
    ref6, n6 = ndi.label(m)
    lab6, k6 = label_chunked(da.from_array(m, chunks=chunks), 6, backend=backend)
    assert k6 == n6 > 4
    np.testing.assert_array_equal(lab6.compute(), ref6)


def test_series_chunked_keeps_one_median_on_disk(recon, tmp_path, monkeypatch):
    """Each scan is measured before the next scan's intermediates are written, so at most one
    median volume is on disk at a time (4 x 1024^3 float32: 4.3 GB, not 17 GB, beside the
    inputs, the registered volumes and the labels); the numbers are unchanged (the equality
    tests above).  Counted on disk when each median is created."""
    seen = []
    new = SC._Work.new

    def spy(self, name, shape, dtype, cz=None):
        if name.startswith("median_") and self.path is not None:
            seen.append(sorted(p.name for p in Path(self.path).glob("median_*.zarr")))
        return new(self, name, shape, dtype, cz)

    monkeypatch.setattr(SC._Work, "new", spy)
    SC.analyse_series_chunked(recon, LAYERS, VS, chunk_slices=8, work_dir=tmp_path, **KW)
    assert len(seen) == 3  # one median per scan was written
    assert seen == [[], [], []], seen  # none of the earlier scans' medians was left


def test_slab_slices_from_memory_limit():
    assert SC.slab_slices((512, 512, 512), 4 * 1024**3, 2) == 64
    assert SC.slab_slices((512, 512, 512), 64 * 1024**2, 2) == 4   # floor: 4 slices
    assert SC.slab_slices((10, 512, 512), 64 * 1024**3, 2) == 10   # at most the volume


_GEN = textwrap.dedent("""
    import sys
    import numpy as np
    import zarr
    sys.path.insert(0, {bench!r})
    from bench_series_memory import scan_slab
    n, work = int(sys.argv[1]), sys.argv[2]
    for k in range(1):
        z = zarr.create_array(store=f"{{work}}/s{{k}}.zarr", shape=(n, n, n),
                              chunks=(16, n, n), dtype=np.float32)
        for z0 in range(0, n, 16):
            z[z0:z0 + 16] = scan_slab(n, k, z0, min(n, z0 + 16))
""")

_CHILD = textwrap.dedent("""
    import json, resource, sys
    import numpy as np

    def hwm_kb():
        # peak RSS of this process image: VmHWM (reset at exec); ru_maxrss on Linux keeps the
        # forking parent's (pytest's) high-water mark across exec
        try:
            with open("/proc/self/status") as fh:
                for line in fh:
                    if line.startswith("VmHWM:"):
                        return int(line.split()[1])
        except OSError:
            pass
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

    import zarr
    import dask.array, scipy.ndimage, skimage.registration  # imported before the baseline
    sys.path.insert(0, {bench!r})
    from bench_series_memory import layers_for, scan_slab
    import ssbscope.tomo as tomo
    from ssbscope.tomo import chunked, metrics, series as S, series_chunked as SC
    mode, n, work = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    zs = [zarr.open_array(f"{{work}}/s{{k}}.zarr", mode="r") for k in range(1)]
    kw = dict(energy_kev=22.0, interfaces=["Li|LPSCl"], thickness=["Li", "counter"])
    # warm-up on 64^3 (numba compilation, lazy imports) before the baseline
    small = []
    for k in range(1):  # through Zarr, as the measured run (codec and I/O threads warmed)
        z = zarr.create_array(store=f"{{work}}/w{{k}}.zarr", shape=(64, 64, 64),
                              chunks=(16, 64, 64), dtype=np.float32, overwrite=True)
        z[:] = scan_slab(64, k, 0, 64)
        small.append(z if mode == "chunked" else np.asarray(z[:]))
    if mode == "memory":
        S.analyse_series(small, layers_for(64, 1.0), 1.0, **kw)
    else:
        SC.analyse_series_chunked(small, layers_for(64, 1.0), 1.0, work_dir=work + "/tmp",
                                  chunk_slices=16, **kw)
    del small
    base = hwm_kb()
    if mode == "memory":
        r = S.analyse_series([np.asarray(z[:]) for z in zs], layers_for(n, 1.0), 1.0, **kw)
    else:
        r = SC.analyse_series_chunked(zs, layers_for(n, 1.0), 1.0, work_dir=work + "/tmp",
                                      chunk_slices=16, **kw)
    peak = hwm_kb()
    print(json.dumps({{"base_kb": base, "peak_kb": peak,
                      "ra": [s.ra_um["Li|LPSCl"] for s in r.scans],
                      "li": [s.thickness_center_um["Li"] for s in r.scans]}}))
""")


@pytest.mark.slow
def test_chunked_series_peak_rss_well_below_in_memory(tmp_path):
    """Segmentation and metrics of one 192^3 scan of bench_series_memory.py (written to Zarr
    by another process): the chunked path's peak RSS above its baseline (after a warm-up run
    on 64^3: imports, numba, Zarr threads), 16-slice slabs, is under a third of the in-memory
    path's, with the same measurements.  (Registration is left out: its slab is the same in
    both paths unless it exceeds half the memory budget.)"""
    bench = str(Path(__file__).resolve().parents[2] / "benchmarks")
    n = "192"
    p = subprocess.run([sys.executable, "-c", _GEN.format(bench=bench), n, str(tmp_path)],
                       capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr[-3000:]
    out = {}
    for mode in ("memory", "chunked"):
        p = subprocess.run([sys.executable, "-c", _CHILD.format(bench=bench), mode, n,
                            str(tmp_path)], capture_output=True, text=True, timeout=300)
        assert p.returncode == 0, p.stderr[-3000:]
        out[mode] = json.loads(p.stdout.strip().splitlines()[-1])
    grow = {m: (o["peak_kb"] - o["base_kb"]) / 1024 for m, o in out.items()}
    print("peak RSS growth MB", grow)
    assert grow["memory"] > 150, grow  # the in-memory path: ~35 bytes per voxel (7.1 M)
    assert grow["chunked"] < grow["memory"] / 3, grow
    np.testing.assert_allclose(out["chunked"]["ra"], out["memory"]["ra"], rtol=1e-12)
    np.testing.assert_allclose(out["chunked"]["li"], out["memory"]["li"], rtol=1e-12)


def test_first_index_numba_and_numpy_agree():
    from ssbscope.tomo.chunked import _first_index_nb, _first_index_py

    lab = np.random.default_rng(3).integers(0, 50, 5000).astype(np.int32)
    n = int(lab.max())
    ref = np.array([np.flatnonzero(lab == k)[0] for k in range(1, n + 1)])
    np.testing.assert_array_equal(_first_index_py(lab, n), ref)
    if _first_index_nb is not None:
        np.testing.assert_array_equal(_first_index_nb(lab, n), ref)
