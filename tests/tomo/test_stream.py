"""Streamed reconstruction (ssbscope.tomo.stream): blocks of detector rows as Dask tasks give
the in-memory chain's volume; block sizes follow the memory limit; a real `dask scheduler` +
`dask worker` pair gives the local result through `ssbscope run`."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import ssbscope.tomo as tomo
from ssbscope.testing import realdata_dir
from ssbscope.tomo.io import read_projection_rows
from ssbscope.tomo.stream import (
    BASE_BYTES,
    block_bytes,
    clean_rows,
    plan_blocks,
    reconstruct_rows,
    stream_reconstruct,
)

SRC = Path(__file__).resolve().parents[2] / "src"


def _in_memory(path, center=None, angles_deg=None, rows=None):
    """Today's in-memory chain (whole stack): correct, zingers, centre, rings, FBP."""
    pd_ = tomo.read_projections(path, angles_deg=angles_deg)
    proj, fl, dk = np.asarray(pd_.projections), pd_.flats, pd_.darks
    if rows is not None:
        proj, fl, dk = (a[:, rows[0]:rows[1]] for a in (proj, fl, dk))
    p = tomo.flat_dark_correct(proj, fl, dk)
    p = tomo.remove_zingers(p)
    c_all = tomo.find_center(p, pd_.angles_rad)
    p = tomo.remove_rings(p)
    c = c_all if center is None else center
    return tomo.reconstruct(p, pd_.angles_rad, c), p, c_all


@pytest.fixture(scope="module")
def twin_ct(tmp_path_factory):
    """The tiny anode-free twin: Data Exchange scans (60 angles x 48 rows x 32 px)."""
    from ssbscope.twin.folder import write_ct_experiment

    root = tmp_path_factory.mktemp("twin_ct")
    folder = write_ct_experiment(root, design="anode_free", size="tiny")
    truth = json.loads(folder.truth_path.read_text())
    scans = sorted((root / "scans" / "anode_free").glob("*.h5"))
    return root, scans, truth


def _write_dx(path, *, n_a=90, n_r=24, n_d=48, zinger_rows=(7, 8, 15, 16), seed=3,
              flat_counts=300.0):
    """Data Exchange file of a disk phantom with Poisson noise, zingers on given rows and
    a few defective (ring) columns."""
    import h5py

    rng = np.random.default_rng(seed)
    ang = np.linspace(0, np.pi, n_a, endpoint=False)
    t = np.arange(n_d) - (n_d - 1) / 2 - 0.3
    chord = 2 * np.sqrt(np.clip((0.35 * n_d) ** 2 - t ** 2, 0, None))
    mu = 0.02 * (1 + 0.3 * np.sin(np.arange(n_r) / 3.0))
    line = mu[None, :, None] * chord[None, None, :] * np.ones((n_a, 1, 1))
    gain = np.ones(n_d)
    gain[[11, 30]] = [1.06, 0.95]  # defective columns: rings
    counts = rng.poisson(flat_counts * gain * np.exp(-line) + 5).astype(np.float64)
    for r in zinger_rows:
        a = rng.integers(0, n_a, 20)
        c = rng.integers(0, n_d, 20)
        counts[a, r, c] *= 4.0
    flats = rng.poisson(flat_counts * gain + 5, (10, n_r, n_d))
    darks = rng.poisson(5, (6, n_r, n_d))
    with h5py.File(path, "w") as h:
        ex = h.create_group("exchange")
        ex["data"] = counts.astype(np.uint16)
        ex["data_white"] = flats.astype(np.uint16)
        ex["data_dark"] = darks.astype(np.uint16)
        ex["theta"] = np.rad2deg(ang)
        ex["theta"].attrs["units"] = "degrees"
    return path


def test_streamed_equals_in_memory_on_the_twin(twin_ct):
    """Twin Data Exchange scan: streamed blocks (5 rows, borders inside the volume) give the
    whole-stack chain's volume and middle sinogram (float32 correction vs float64: within
    1e-6 of a 0.09 /voxel maximum); the centre from 16 middle rows is within 0.1 px of the
    all-rows search and 0.25 px of the twin's true axis."""
    root, scans, truth = twin_ct
    path = scans[1]
    sr = stream_reconstruct(path, block_rows=5)
    assert sr.volume.chunks[0][:2] == (5, 5)
    assert sr.center_rows == (16, 32)
    vol = np.asarray(sr.volume.compute())
    ref, p, c_all = _in_memory(path, center=sr.center_px)
    assert vol.shape == ref.shape == (48, 32, 32) and vol.dtype == np.float32
    np.testing.assert_allclose(vol, ref, rtol=0, atol=1e-6)
    assert float(np.abs(ref).max()) > 0.05
    np.testing.assert_allclose(sr.sinogram, p[:, 24, :], rtol=0, atol=1e-6)
    assert sr.center_px == pytest.approx(c_all, abs=0.1)
    true_c = truth["tomo"]["anode_free"]["scans"][1].get("center_px", 16.0)
    assert sr.center_px == pytest.approx(true_c, abs=0.25)


def test_block_borders_with_zingers_and_rings(tmp_path):
    """Zingers on the rows either side of each block border and defective columns: blocks of
    8 rows (halo of one row for the 3 x 3 zinger median, rings per sinogram) equal the whole
    stack; without the halo the zinger step would differ (so this test can fail)."""
    path = _write_dx(tmp_path / "z.h5")
    pd_ = tomo.read_projections(path)
    whole = tomo.remove_zingers(tomo.flat_dark_correct(np.asarray(pd_.projections), pd_.flats,
                                                       pd_.darks))
    # per block, halo rows read and cropped
    blocks = np.concatenate([clean_rows(str(path), b, b + 8, n_rows=24) for b in (0, 8, 16)],
                            axis=1)
    np.testing.assert_allclose(blocks, whole, rtol=0, atol=2e-6)
    # blocks of 7 angles too: each block is given the uncleaned projections just outside it,
    # so the temporal test (the neighbouring angles' mean) sees the whole stack's neighbours
    np.testing.assert_allclose(clean_rows(str(path), 0, 24, n_rows=24, angle_block=7), whole,
                               rtol=0, atol=2e-6)
    # the same blocks without halo are not the whole-stack result at the borders
    fd = tomo.flat_dark_correct(np.asarray(pd_.projections), pd_.flats, pd_.darks)
    naive = np.concatenate([tomo.remove_zingers(fd[:, b:b + 8]) for b in (0, 8, 16)], axis=1)
    assert np.abs(naive - whole)[:, [7, 8, 15, 16]].max() > 1e-3
    # rings: per-row removal on a block = the whole stack's 3-D call
    rr = np.stack([tomo.remove_rings(whole[:, r]) for r in range(24)], axis=1)
    np.testing.assert_allclose(rr, tomo.remove_rings(whole), rtol=0, atol=1e-6)
    # the whole chain, blocks of 8, against the in-memory reconstruction
    sr = stream_reconstruct(path, block_rows=8)
    ref, _, _ = _in_memory(path, center=sr.center_px)
    np.testing.assert_allclose(np.asarray(sr.volume.compute()), ref, rtol=0,
                               atol=2e-6 * float(np.abs(ref).max()) + 1e-7)
    # the rule of the YAML (inputs.tomo[].zingers) reaches the centre search's sinogram and
    # every block: the two-sided spatial rule (before 2026-12) streamed = in memory
    old = {"polarity": "both", "temporal": False, "threshold": 0.1}
    p_old = tomo.remove_zingers(fd, **{k: v for k, v in old.items()})
    assert np.abs(p_old - whole).max() > 1e-3  # another rule (so this can fail)
    sr_old = stream_reconstruct(path, block_rows=8, center_px=sr.center_px, zingers=old)
    np.testing.assert_allclose(sr_old.sinogram, tomo.remove_rings(p_old[:, 12]), rtol=0,
                               atol=2e-6)
    ref_old = tomo.reconstruct(tomo.remove_rings(p_old), pd_.angles_rad, sr.center_px)
    np.testing.assert_allclose(np.asarray(sr_old.volume.compute()), ref_old, rtol=0,
                               atol=2e-6 * float(np.abs(ref_old).max()) + 1e-7)
    from ssbscope.errors import ParameterError

    with pytest.raises(ParameterError, match="zingers"):
        stream_reconstruct(path, zingers={"size": 5})


def test_zinger_rule_in_the_yaml_reaches_the_scan_stage():
    """inputs.tomo[].zingers: validated (polarity low | both, threshold > 0), the one-sided
    temporal rule by default, and always a parameter of the scan's stage (its fingerprint:
    scans reconstructed under the former default are not reused)."""
    from ssbscope.config import from_dict
    from ssbscope.errors import ConfigError
    from ssbscope.tomo.stages import input_stages

    def scan_stage(item):
        exp = from_dict({"inputs": {"tomo": [{"path": "a.h5", "series": "s", "time_s": 0,
                                              **item}]}})
        return [s for s in input_stages(exp) if ".scan." in s.name][0]

    assert scan_stage({}).params["zingers"] == {"threshold": 0.1, "polarity": "low",
                                                "temporal": True}
    st = scan_stage({"zingers": {"polarity": "both", "temporal": False, "threshold": 0.2}})
    assert st.params["zingers"] == {"threshold": 0.2, "polarity": "both", "temporal": False}
    assert "zingers" not in scan_stage({"kind": "volume"}).params
    for bad in ({"polarity": "high"}, {"threshold": 0}, {"window": 5}):
        with pytest.raises(ConfigError, match="zingers"):
            scan_stage({"zingers": bad})


def test_rows_subset_and_given_centre(tmp_path):
    """`rows` restricts the volume (halo still read from the neighbours) and a given centre
    skips the search."""
    path = _write_dx(tmp_path / "r.h5")
    sr = stream_reconstruct(path, rows=(5, 17), center_px=23.2, block_rows=4)
    assert sr.center_rows is None and sr.center_px == 23.2
    vol = np.asarray(sr.volume.compute())
    ref, _, _ = _in_memory(path, center=23.2)
    np.testing.assert_allclose(vol, ref[5:17], rtol=0, atol=1e-6)
    with pytest.raises(tomo.io.InputError, match="rows"):
        stream_reconstruct(path, rows=(10, 40))


needs_real = pytest.mark.skipif(not (realdata_dir() / "xray_tomo" / "k11-18014.nxs").is_file(),
                                reason="real NXtomo file absent")


@needs_real
def test_nxtomo_rows_and_stream_match_the_reader():
    """A real NXtomo file (Diamond k11, links to data files): row hyperslabs equal the
    reader's arrays, and the streamed rows equal the in-memory chain on those rows."""
    path = realdata_dir() / "xray_tomo" / "k11-18014.nxs"
    pd_ = tomo.read_projections(path, angles_deg=(0.0, 180.0))
    md = pd_.metadata
    p, f, d = read_projection_rows(path, 6, 10, data_path=md["data"],
                                   image_key_path=md["image_key"])
    np.testing.assert_array_equal(p, np.asarray(pd_.projections[:, 6:10]))
    np.testing.assert_array_equal(f, pd_.flats[:, 6:10])
    np.testing.assert_array_equal(d, pd_.darks[:, 6:10])
    # the crop is narrower than the sample (truncated: auto would extend the sinograms);
    # compared here with the plain in-memory chain
    sr = stream_reconstruct(path, angles_deg=(0.0, 180.0), rows=(6, 14), center_px=12.5,
                            block_rows=3, truncated=False)
    ref, _, _ = _in_memory(path, center=12.5, angles_deg=(0.0, 180.0), rows=(5, 15))
    np.testing.assert_allclose(np.asarray(sr.volume.compute()), ref[1:9], rtol=0,
                               atol=1e-5 * float(np.abs(ref).max()))


def test_plan_follows_the_memory_limit():
    """2048 px x 1500 angles: more memory -> larger blocks; the estimated peak of the blocks
    running at once stays within the limit's share; a tiny limit gives one row and a
    warning-level plan; the stored chunks are cubes of about 128^3 voxels along the blocks."""
    kw = dict(n_rows=2048, n_angles=1500, n_detector=2048, threads=2, n_frames=30)
    plans = [plan_blocks(memory_limit_bytes=g * 10**9, **kw) for g in (2, 4, 8, 16)]
    rows = [p.block_rows for p in plans]
    assert rows == sorted(rows) and rows[0] < rows[-1]
    for g, p in zip((2, 4, 8, 16), plans):
        if p.block_rows > 1:
            assert 2 * p.block_bytes <= 0.8 * g * 10**9 - BASE_BYTES
    assert plans[1].block_rows >= 4  # 4 GB on 2 threads: several rows per task
    # stored chunks: cubes of a block's rows (never two blocks in one chunk), ~128^3 voxels
    for p in plans:
        assert p.block_rows % p.chunk_rows == 0 and p.chunk_rows <= 128
        assert p.tile_px in (128, 256, 512, 1024) and p.chunk_rows * p.tile_px ** 2 <= 2 * 128 ** 3
    assert plans[-1].chunk_rows == plans[-1].block_rows >= 32 and plans[-1].tile_px <= 256
    small = plan_blocks(n_rows=48, n_angles=60, n_detector=32, memory_limit_bytes=4 * 10**9)
    assert small.block_rows == 48 and small.chunk_rows == 48
    # one block's estimate bounds what its numpy arrays really use (tracemalloc)
    assert block_bytes(8, 1500, 2048) > 8 * 1500 * 2048 * 4 + 8 * 2048 * 2048 * 4


def test_block_memory_estimate_bounds_the_task(tmp_path):
    """tracemalloc peak of one block task (numpy/scipy arrays) stays below block_bytes."""
    import tracemalloc

    path = _write_dx(tmp_path / "m.h5", n_a=180, n_r=16, n_d=128, zinger_rows=())
    ang = np.deg2rad(np.linspace(0, 180, 180, endpoint=False))
    reconstruct_rows(str(path), 4, 12, n_rows=16, angles_rad=ang, center=63.5)  # warm caches
    tracemalloc.start()
    reconstruct_rows(str(path), 4, 12, n_rows=16, angles_rad=ang, center=63.5)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < block_bytes(8, 180, 128, n_frames=16)


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _one_scan_yaml(root, scan):
    y = root / "one.yaml"
    y.write_text(f"name: one scan\ninputs:\n  tomo:\n    - {{path: {scan}, kind: projections, "
                 "series: s, voxel_size_um: 3.0}\n")
    return y


def test_scheduler_worker_pair_gives_the_local_volume(twin_ct, tmp_path):
    """`ssbscope run` against a real `dask scheduler` + `dask worker` pair (subprocesses on
    localhost) writes the same volume as a local run with --memory-limit; the blocks run on
    the worker (its memory limit sets them)."""
    from ssbscope.config import load
    from ssbscope.store import Store
    from ssbscope.workflow import run_experiment

    _, scans, _ = twin_ct
    y = _one_scan_yaml(tmp_path, scans[0])
    # the stores only (report=False, here and below): the volumes are compared
    local = run_experiment(load(y), tmp_path / "local", quiet=True, memory_limit="2GB",
                           report=False)
    port = _free_port()
    env = dict(os.environ, PYTHONPATH=str(SRC) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    cmd = [sys.executable, "-m", "distributed.cli.dask_scheduler", "--host", "127.0.0.1",
           "--port", str(port), "--no-dashboard"]
    procs = [subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)]
    try:
        addr = f"tcp://127.0.0.1:{port}"
        procs.append(subprocess.Popen(
            [sys.executable, "-m", "distributed.cli.dask_worker", addr, "--nthreads", "1",
             "--nworkers", "1", "--memory-limit", "1.5GB", "--no-dashboard"],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        from distributed import Client

        deadline = time.time() + 20
        while True:
            try:
                with Client(addr, timeout="2s") as c:
                    if c.scheduler_info()["workers"]:
                        break
            except OSError:
                pass
            assert time.time() < deadline, "dask scheduler/worker did not start"
            time.sleep(0.3)
        from distributed import get_task_stream

        with Client(addr, timeout="10s") as c, get_task_stream(c) as ts:
            dist = run_experiment(load(y), tmp_path / "dist", quiet=True, scheduler=addr,
                                  report=False)
        # the row blocks (reconstruct_rows tasks, key "ssbscope-recon-<tag>-...") ran on the
        # worker process, not in the client
        recon = [t for t in ts.data if "ssbscope-recon-" in str(t["key"])]
        assert recon and all(t["worker"].startswith("tcp://127.0.0.1:") for t in recon)
    finally:
        for p in reversed(procs):
            p.terminate()
        for p in procs:
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
    a = Store.open(local.store_path)["tomo/s/scans/s000"]
    b = Store.open(dist.store_path)["tomo/s/scans/s000"]
    assert set(a.data_vars) == {"volume", "sinogram", "angles_rad"}
    np.testing.assert_array_equal(a["volume"].values, b["volume"].values)
    np.testing.assert_array_equal(a["sinogram"].values, b["sinogram"].values)
    assert a.attrs["center_px"] == b.attrs["center_px"]
    assert a["volume"].shape == (48, 32, 32)


def test_local_cluster_workers_give_the_local_volume(twin_ct, tmp_path):
    """`--workers 1 --memory-limit 2GB` (a LocalCluster process started and closed by the
    run, from the experiment file's resources:) writes the same scan as local threads."""
    from ssbscope.config import load
    from ssbscope.store import Store
    from ssbscope.workflow import run_experiment

    _, scans, _ = twin_ct
    y = _one_scan_yaml(tmp_path, scans[2])
    y.write_text(y.read_text() + "resources: {memory_limit: 2GB, workers: 1}\n")
    exp = load(y)
    assert exp.resources.workers == 1
    # the stores only: the volumes are compared
    dist = run_experiment(exp, tmp_path / "w", quiet=True, report=False)
    local = run_experiment(exp, tmp_path / "l", quiet=True, workers=0, report=False)
    a = Store.open(local.store_path)["tomo/s/scans/s002"]
    b = Store.open(dist.store_path)["tomo/s/scans/s002"]
    np.testing.assert_array_equal(a["volume"].values, b["volume"].values)
    assert a.attrs["center_px"] == b.attrs["center_px"]


def test_memory_settings_are_checked(tmp_path):
    """A memory limit that is not a size is refused with the value named (CLI exit 2,
    YAML validation)."""
    from ssbscope.cli import main
    from ssbscope.config import validate_file
    from ssbscope.pipeline import parse_memory

    assert parse_memory("4GB") == 4 * 10**9 and parse_memory("1.5GiB") == int(1.5 * 2**30)
    y = tmp_path / "e.yaml"
    y.write_text("name: x\n")
    assert main(["run", str(y), "--out", str(tmp_path / "o"), "-q", "--memory-limit", "lots"]) == 2
    y.write_text("name: x\nresources: {memory_limit: lots}\n")
    problems = validate_file(y)
    assert any("resources" in loc and "memory size" in msg for loc, msg in problems)


def test_invariant_zingers_keep_angle_invariant_fringes(tmp_path):
    """A truncated scan's exterior (the same at every angle) puts fringes into its rows: line
    integrals alternating by 0.4 between neighbouring rows (a coin cell's Li | polymer step
    at 300 mm).  The 3 x 3 median's absolute threshold (0.1) alone takes them for zingers; with
    ``invariant_zingers`` the zingers are sought in the deviation from the rows' angular mean:
    the fringes stay, the zingers still go.  The temporal test (a zinger must also stand out
    from the same pixel at the adjacent angles) keeps them without it as well, but the
    replacement (the 3 x 3 median) is only right in the deviation."""
    import h5py

    rng = np.random.default_rng(5)
    n_a, n_r, n_d = 40, 12, 24
    fringe = np.where(np.arange(n_r) % 2 == 0, 0.2, 0.6)      # angle-invariant rows
    ang = np.linspace(0, np.pi, n_a, endpoint=False)
    local = 0.02 * np.sin(ang[:, None, None] + np.arange(n_d)[None, None, :] / 4.0)
    line = fringe[None, :, None] + local * np.ones((1, n_r, 1))
    flat = 4.0e5  # the noise far below the threshold
    counts = flat * np.exp(-line)
    zing = [(3, 4, 5), (17, 7, 11), (30, 9, 20)]
    for a, r, c in zing:
        counts[a, r, c] *= 3.0
    path = tmp_path / "fr.h5"
    with h5py.File(path, "w") as h:
        ex = h.create_group("exchange")
        ex["data"] = np.round(counts).astype(np.float32)
        ex["data_white"] = np.full((4, n_r, n_d), flat, np.float32)
        ex["data_dark"] = np.zeros((2, n_r, n_d), np.float32)
        ex["theta"] = np.rad2deg(ang)
        ex["theta"].attrs["units"] = "degrees"
    truth = line
    got = clean_rows(str(path), 0, n_r, n_rows=n_r, invariant_zingers=True)
    plain = clean_rows(str(path), 0, n_r, n_rows=n_r)
    ok = np.ones(truth.shape, bool)
    for a, r, c in zing:
        ok[a, r, c] = False
        assert abs(got[a, r, c] - truth[a, r, c]) < 0.05  # the zinger replaced
    assert np.abs(got - truth)[ok].max() < 1e-3           # the fringes kept
    # the plain rule keeps them too since the temporal test (a fringe is in every frame; the
    # old two-sided spatial-only rule broke them), but replaces a zinger by its 3 x 3 median,
    # which across the fringes is the neighbouring rows' level (0.4 off): hence the option
    assert np.abs(plain - truth)[ok].max() < 1e-3
    assert max(abs(plain[a, r, c] - truth[a, r, c]) for a, r, c in zing) > 0.3
    # the same option in memory (flat/dark -> remove_zingers -> reconstruct): the streamed
    # path's result, in blocks of angles too (the mean over all angles given)
    from ssbscope.tomo import flat_dark_correct, remove_zingers

    with h5py.File(path, "r") as h:
        fd = flat_dark_correct(h["exchange/data"][()], h["exchange/data_white"][()], h["exchange/data_dark"][()],
                               dtype=np.float32)
    mem = remove_zingers(fd, angle_invariant=True)
    np.testing.assert_array_equal(mem, got)
    inv = fd.mean(axis=0, dtype=np.float64).astype(np.float32)
    blocks = np.concatenate([remove_zingers(fd[s:s + 16], angular_mean=inv) for s in range(0, n_a, 16)])
    np.testing.assert_array_equal(blocks, got)
    assert np.abs(remove_zingers(fd, polarity="both", temporal=False) - truth)[ok].max() > 0.1
    with pytest.raises(tomo.io.InputError, match="angle_invariant"):
        remove_zingers(fd[:, 0, :], angle_invariant=True)


def test_block_bytes_is_an_upper_bound_of_a_blocks_peak(tmp_path):
    """tracemalloc peak of one block task (which agreed within 5 % with the RSS peak at
    2048 px x 1500 angles) at 512 px x 300 angles and 1, 4, 8 rows: block_bytes bounds it
    from above, within 1.5x (measured 1.15-1.24x at this size; at 2048 px x 1500 angles
    0.62 / 0.72 / 0.84 GB against 0.70 / 0.78 / 0.90 GB, 1.08-1.13x)."""
    import tracemalloc

    path = _write_dx(tmp_path / "m.h5", n_a=300, n_r=12, n_d=512, zinger_rows=())
    ang = np.deg2rad(np.linspace(0, 180, 300, endpoint=False))
    reconstruct_rows(str(path), 2, 4, n_rows=12, angles_rad=ang, center=255.5)  # warm caches
    for rows in (1, 4, 8):
        tracemalloc.start()
        reconstruct_rows(str(path), 2, 2 + rows, n_rows=12, angles_rad=ang, center=255.5)
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        est = block_bytes(rows, 300, 512, n_frames=16)
        assert peak <= est <= 1.5 * peak, (rows, peak, est)


def test_truncation_is_decided_before_the_blocks_are_planned(tmp_path):
    """`truncated: auto`: a scan whose sample fits the detector plans its blocks without the
    extended sinogram's FBP work arrays; a truncated one (sample wider than the detector)
    keeps them."""
    kw = dict(n_a=60, n_r=16, n_d=64, zinger_rows=())
    inside = stream_reconstruct(_write_dx(tmp_path / "in.h5", **kw), memory_limit_bytes=2e9)
    assert inside.truncated is False
    assert inside.plan.block_bytes == plan_blocks(16, 60, 64, memory_limit_bytes=2e9,
                                                  n_frames=16).block_bytes
    import h5py

    wide = tmp_path / "wide.h5"
    with h5py.File(_write_dx(wide, **kw), "a") as h:  # a sample 3x the field of view
        t = np.arange(64) - 31.5
        chord = 2 * np.sqrt(96.0 ** 2 - t ** 2)
        h["exchange/data"][...] = np.round(300 * np.exp(-0.004 * chord)
                                           * np.ones((60, 16, 1))).astype(np.uint16)
    trunc = stream_reconstruct(wide, memory_limit_bytes=2e9, center_px=31.5)
    assert trunc.truncated is True
    ext = plan_blocks(16, 60, 64, memory_limit_bytes=2e9, n_frames=16, extend_px=64)
    assert trunc.plan.block_bytes == ext.block_bytes > inside.plan.block_bytes


def test_short_blocks_share_a_stored_chunk():
    """The stored-chunk rule: blocks of 8 rows or more are stored in chunks that divide them;
    when the budget allows fewer than 8 rows, the blocks become a divisor of 8 and 8 slices
    make one stored chunk if the budget holds them as well, else the chunk is the block."""
    kw = dict(n_rows=64, n_angles=3000, n_detector=512, threads=1)
    c1, c2, c8 = (block_bytes(b, 3000, 512) for b in (1, 2, 8))
    held = 8 * 512 * 512 * 4

    def at(budget):
        return plan_blocks(memory_limit_bytes=(budget + BASE_BYTES) / 0.8, **kw)

    assert at(c8 + 1).block_rows == at(c8 + 1).chunk_rows == 8
    p = at(c2 + held + 1)          # 2 + rows fit, and 8 slices beside them
    assert 2 <= p.block_rows < 8 and 8 % p.block_rows == 0 and p.chunk_rows == 8
    q = at(c1 + held // 2)         # 1 row fits, but not with 8 slices held
    assert q.block_rows == q.chunk_rows == 1
    # 2048 px x 1500 angles, 1.5 GB per single-thread worker: 16-row blocks, 8 for a
    # truncated scan (its sinograms extended by up to 2048 px per side); with the earlier FBP
    # (112 bytes per point of the half spectrum) 4 and 1 rows
    for ext, rows in ((0, 16), (2048, 8)):
        w = plan_blocks(2048, 1500, 2048, memory_limit_bytes=1.5e9, n_frames=30, align_rows=8,
                        extend_px=ext)
        assert w.block_rows == w.chunk_rows == rows
        assert w.block_bytes <= 0.8 * 1.5e9 - BASE_BYTES


@pytest.mark.slow(seconds=60)
def test_cluster_plan_gives_several_rows_and_the_local_volume(tmp_path):
    """A 2-worker LocalCluster at 570 MB per worker, a scan of 512 px, 300 angles, 32 rows:
    the old plan (the truncation extension reserved before knowing, FBP at 200 bytes per
    sinogram value, a 0.7 fraction, 350 MiB base) gave 1-row blocks, and so did reserving the
    extension until the FBP got lean; the scan is not truncated, so it is planned in two
    blocks of 24 and 8 rows (one per worker; 8-row blocks with the earlier FBP) and the
    streamed volume equals the local threads' bit for bit."""
    from distributed import Client, LocalCluster

    path = _write_dx(tmp_path / "c.h5", n_a=300, n_r=32, n_d=512, zinger_rows=(7, 8))
    # the centre given: at 570 MB the centre search would use fewer rows than locally
    local = stream_reconstruct(path, memory_limit_bytes=4e9, center_px=255.6)
    ref = np.asarray(local.volume.compute())
    limit = 570e6
    # reserving the extension: 1-row blocks with the earlier FBP (112 bytes per point of the
    # half spectrum), several rows with the lean one
    assert plan_blocks(32, 300, 512, memory_limit_bytes=limit, n_frames=16,
                       extend_px=512).block_rows >= 8
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, memory_limit=limit,
                      dashboard_address=None) as cl, Client(cl):
        sr = stream_reconstruct(path, center_px=255.6)
        assert sr.truncated is False and sr.plan.threads == 1
        b = sr.plan.block_rows  # 24 (the budget's 56 MB)
        assert 16 <= b < 32 and sr.volume.chunks[0] == (b, 32 - b)
        vol = np.asarray(sr.volume.compute())
    np.testing.assert_array_equal(vol, ref)
    assert float(np.abs(ref).max()) > 0.01


@pytest.mark.parametrize("n_a,n_d,truncated", [(300, 512, False), (300, 512, True),
                                               (600, 1024, False), (600, 1024, True)])
def test_fbp_memory_model_bounds_one_call(n_a, n_d, truncated):
    """tracemalloc peak of one FBP (after a first call of the size, as in a block task),
    truncated sinograms extended by their taper lengths: _fbp_bytes bounds it from above
    within 1.5x (measured 0.80-0.98 of the model, 2048 px x 1500 angles included), and the
    lean gridding holds well under the earlier 112 bytes per point of the half spectrum."""
    import tracemalloc

    import scipy.fft as sfft

    from ssbscope.tomo.recon import fbp
    from ssbscope.tomo.roi import taper_lengths
    from ssbscope.tomo.stream import _fbp_bytes

    rng = np.random.default_rng(4)
    sino = (1.0 + 0.01 * rng.random((n_a, n_d))).astype(np.float32)  # edges do not fall off
    ang = np.linspace(0, np.pi, n_a, endpoint=False)
    n_fbp = n_d + (2 * max(taper_lengths(sino, n_d // 2)) if truncated else 0)
    assert not truncated or n_fbp > 2 * n_d
    fbp(sino, ang, truncated=truncated)  # warm: FFT plans, filter and kernel caches
    tracemalloc.start()
    fbp(sino, ang, truncated=truncated)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    est = _fbp_bytes(n_a, n_fbp, n_d)
    assert peak <= est <= 1.5 * peak, (peak, est)
    n_pad = 2 * sfft.next_fast_len(n_fbp)
    assert est < 0.5 * 112 * n_a * n_pad // 2 + 18 * (2 * n_d) ** 2


def test_streamed_scan_reports_its_row_blocks_when_piped(tmp_path, capsys, monkeypatch):
    """Issue 15 §5: a streamed CT scan (27 s for the demo's coin scan) printed nothing between
    its stage's start and end when piped.  Its row blocks, computed while the store writes the
    volume, are now counted: one plain ``k/N`` line per finished block with the throttle off
    (N the planned blocks), nothing when the same volume is computed again or with no label,
    and the volume is byte-identical to one computed without progress."""
    import re

    import ssbscope.progress as pr
    from ssbscope.cli import main
    from ssbscope.store import Store

    monkeypatch.setattr(pr, "INNER_INTERVAL_S", 0.0)
    scan = _write_dx(tmp_path / "p.h5", n_a=40, n_r=24, n_d=32)
    capsys.readouterr()
    sr = stream_reconstruct(scan, center_px=15.7, block_rows=4, progress="scan p")
    vol = np.asarray(sr.volume.compute())
    lines = capsys.readouterr().err.splitlines()
    assert lines == [f"[ssbscope] scan p: {k}/6" for k in range(1, 7)], lines
    assert np.asarray(sr.volume.compute()).tobytes() == vol.tobytes()  # counted once only
    quiet = stream_reconstruct(scan, center_px=15.7, block_rows=4)
    assert np.asarray(quiet.volume.compute()).tobytes() == vol.tobytes()
    assert capsys.readouterr().err == ""
    # through `ssbscope run`, piped: the scan stage's lines lie between its start and end
    y = tmp_path / "one.yaml"
    y.write_text(f"name: one scan\ninputs:\n  tomo:\n    - {{path: {scan}, kind: projections, "
                 "series: s, voxel_size_um: 3.0, label: p}\n")
    assert main(["run", str(y), "--out", str(tmp_path / "a"), "--no-report"]) == 0
    lines = capsys.readouterr().err.splitlines()
    i0 = next(k for k, ln in enumerate(lines) if re.search(r"tomo\.\S*p\S*: start$", ln))
    i1 = next(k for k, ln in enumerate(lines) if k > i0 and "done in" in ln)
    inner = [ln for ln in lines[i0 + 1:i1] if "tomo reconstruction p: row blocks" in ln]
    assert inner and inner[-1].endswith(f"/{len(inner)}"), lines
    assert main(["run", str(y), "--out", str(tmp_path / "b"), "--no-report", "--quiet"]) == 0
    assert "row blocks" not in capsys.readouterr().err
    va, vb = Store.open(tmp_path / "a" / "store.zarr"), Store.open(tmp_path / "b" / "store.zarr")
    name = next(k for k in va.names() if k.startswith("tomo/") and "volume" in va.read(k))
    assert np.asarray(va.read(name)["volume"]).tobytes() == np.asarray(vb.read(name)["volume"]).tobytes()
