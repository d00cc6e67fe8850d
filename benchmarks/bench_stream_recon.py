"""Benchmark: `ssbscope run` on a synthetic Data Exchange scan of growing height (issue 13).

For each number of detector rows R (64, 256; 1024 with ``--large``) a scan 2048 px wide with
1500 angles is generated to disk (two cylinders along the rotation axis with attenuation
varying along z, Gaussian counting noise, uint16; written in blocks of rows with h5py, so
generating it is bounded too), then ``ssbscope run`` reconstructs it in a subprocess.  The
process tree is polled with psutil for the peak RSS: the ``ssbscope`` process (the client)
and, with ``--workers``, its worker processes.  Printed: one table of rows, wall time, wall
time per row, CPU-s per row, peak RSS, and the ratio of peak RSS to the 64-row run; then the
same runs with ``--workers 2 --memory-limit 3GB`` (client and largest worker RSS); then
where the time goes in one block (CPU-s per row per step, in this process).

Run:  python benchmarks/bench_stream_recon.py [--rows 64 256] [--large] [--angles 1500]
      [--width 2048] [--no-cluster] [--memory-limit 4GB] [--keep DIR]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
from _machine import machine

ROOT = Path(__file__).resolve().parents[1]


def write_scan(path, n_rows, n_angles=1500, width=2048, block=32, seed=0, flat=20000.0):
    """Synthetic Data Exchange file ``(n_angles, n_rows, width)`` uint16, written by blocks."""
    import h5py

    rng = np.random.default_rng(seed)
    ang = np.linspace(0.0, np.pi, n_angles, endpoint=False)
    c = (width - 1) / 2.0 + 0.37  # axis off the pixel grid
    t = np.arange(width, dtype=np.float64) - c

    def chord(r, x0, y0):  # line integral of a unit disk of radius r at (x0, y0), px
        s = t[None, :] - (x0 * np.cos(ang) - y0 * np.sin(ang))[:, None]
        return (2.0 * np.sqrt(np.clip(r * r - s * s, 0.0, None))).astype(np.float32)

    outer = chord(0.42 * width, 0.0, 0.0)
    inner = chord(0.08 * width, 0.2 * width, -0.1 * width)
    with h5py.File(path, "w") as h:
        ex = h.create_group("exchange")
        d = ex.create_dataset("data", (n_angles, n_rows, width), dtype=np.uint16)
        ex["data_white"] = np.clip(flat + 140.0 * rng.standard_normal((10, n_rows, width)), 0,
                                   65535).astype(np.uint16)
        ex["data_dark"] = np.clip(100 + 10.0 * rng.standard_normal((5, n_rows, width)), 0,
                                  65535).astype(np.uint16)
        th = ex.create_dataset("theta", data=np.rad2deg(ang))
        th.attrs["units"] = "degrees"
        h["measurement/instrument/detector/pixel_size_um"] = 1.6
        for r0 in range(0, n_rows, block):
            r1 = min(n_rows, r0 + block)
            z = np.arange(r0, r1, dtype=np.float32)
            mu_o = 4e-4 * (1.0 + 0.2 * np.sin(z / 17.0))
            mu_i = 6e-4 * (1.0 + 0.5 * (np.floor(z / 40.0) % 2))
            line = (mu_o[None, :, None] * outer[:, None, :] + mu_i[None, :, None] * inner[:, None, :])
            counts = flat * np.exp(-line) + 100.0
            counts += np.sqrt(counts) * rng.standard_normal(counts.shape, dtype=np.float32)
            d[:, r0:r1, :] = np.clip(counts, 0, 65535).astype(np.uint16)
    return path


def write_yaml(folder, scan):
    y = Path(folder) / f"{Path(scan).stem}.yaml"
    y.write_text(f"name: bench {Path(scan).stem}\ninputs:\n  tomo:\n"
                 f"    - {{path: {Path(scan).name}, kind: projections, series: bench}}\n")
    return y


def run_measured(cmd, env):
    """Run ``cmd``; poll the process tree: (wall s, CPU s, client peak RSS, worker peak RSS,
    tree peak RSS), bytes."""
    import psutil

    import resource

    ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    ps = psutil.Process(proc.pid)
    peak = {"client": 0, "worker": 0, "tree": 0}
    cpu_seen: dict = {}
    out_chunks = []

    def drain():
        for line in proc.stdout:
            out_chunks.append(line)

    th = threading.Thread(target=drain, daemon=True)
    th.start()
    while proc.poll() is None:
        try:
            kids = ps.children(recursive=True)
            rc = ps.memory_info().rss
            cpu_seen[ps.pid] = sum(ps.cpu_times()[:2])
            ws = []
            for k in kids:
                try:
                    ws.append(k.memory_info().rss)
                    cpu_seen[k.pid] = sum(k.cpu_times()[:2])
                except psutil.Error:
                    pass
            peak["client"] = max(peak["client"], rc)
            peak["worker"] = max([peak["worker"]] + ws)
            peak["tree"] = max(peak["tree"], rc + sum(ws))
        except psutil.Error:
            pass
        time.sleep(0.1)
    th.join()
    wall = time.perf_counter() - t0
    ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = max((ru1.ru_utime - ru0.ru_utime) + (ru1.ru_stime - ru0.ru_stime),
              sum(cpu_seen.values()))
    if proc.returncode != 0:
        sys.stdout.write(b"".join(out_chunks).decode(errors="replace")[-3000:])
        raise SystemExit(f"{' '.join(cmd)} failed ({proc.returncode})")
    return wall, cpu, peak


def profile_block(scan, n_rows, rows=8, center_rows=16):
    """CPU-s per row of each step of one block, in this process (threads as configured)."""
    import ssbscope.tomo as tomo
    from ssbscope.tomo.io import read_projection_rows
    from ssbscope.tomo.prep import flat_dark_correct, remove_rings, remove_zingers
    from ssbscope.tomo.stream import center_and_sinogram

    pd_ = tomo.read_projections(scan, load_fields=False)
    ang = pd_.angles_rad
    r0 = n_rows // 2 - rows // 2
    out = {}

    def timed(name, f, *a, **k):
        c0, w0 = time.process_time(), time.perf_counter()
        res = f(*a, **k)
        out[name] = (time.process_time() - c0, time.perf_counter() - w0)
        return res

    raw, fl, dk = timed("read", read_projection_rows, str(scan), r0 - 1, r0 + rows + 1)
    p = timed("flat/dark, -ln", flat_dark_correct, raw, fl, dk, dtype=np.float32)
    p = timed("zingers", lambda q: np.concatenate(
        [remove_zingers(q[s:s + 64]) for s in range(0, q.shape[0], 64)]), p)[:, 1:-1]
    p = timed("rings", lambda q: np.stack([remove_rings(q[:, r]) for r in range(q.shape[1])],
                                          axis=1), p)
    c, _ = timed(f"centre ({center_rows} rows, once)", center_and_sinogram, str(scan),
                 n_rows // 2 - center_rows // 2, n_rows // 2 + center_rows // 2,
                 n_rows=n_rows, angles_rad=ang, middle=n_rows // 2)
    timed("FBP", tomo.reconstruct, p, ang, c)
    return out, rows, c


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, nargs="+", default=[64, 256])
    ap.add_argument("--large", action="store_true", help="also 1024 rows")
    ap.add_argument("--angles", type=int, default=1500)
    ap.add_argument("--width", type=int, default=2048)
    ap.add_argument("--memory-limit", default=None, help="--memory-limit of the local runs")
    ap.add_argument("--no-cluster", action="store_true", help="skip the --workers 2 runs")
    ap.add_argument("--no-local", action="store_true", help="skip the local-threads runs")
    ap.add_argument("--cluster-rows", type=int, nargs="+", default=None,
                    help="rows of the cluster runs (default: as --rows)")
    ap.add_argument("--no-profile", action="store_true")
    ap.add_argument("--keep", default=None, help="folder for the scans (default: a temp dir)")
    a = ap.parse_args()
    rows_list = list(a.rows) + ([1024] if a.large else [])
    tmp = Path(a.keep) if a.keep else Path(tempfile.mkdtemp(prefix="ssbscope-bench-"))
    tmp.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src") + os.pathsep + os.environ.get("PYTHONPATH", ""))
    print(f"# {machine()}")
    print(f"# scan: {a.width} px x {a.angles} angles, uint16 Data Exchange; files in {tmp}")
    scans = {}
    for R in sorted(set(rows_list + (a.cluster_rows or []))):
        f = tmp / f"scan_{R}.h5"
        if not f.exists():
            t0 = time.perf_counter()
            write_scan(f, R, a.angles, a.width)
            print(f"# wrote {f.name} ({f.stat().st_size / 1e9:.2f} GB) in {time.perf_counter() - t0:.0f} s")
        scans[R] = f

    def one(R, extra):
        y = write_yaml(tmp, scans[R])
        out = tmp / f"out_{R}_{'w' if '--workers' in extra else 'l'}"
        shutil.rmtree(out, ignore_errors=True)
        cmd = [sys.executable, "-m", "ssbscope.cli", "run", str(y), "--out", str(out), "-q"] + extra
        res = run_measured(cmd, env)
        shutil.rmtree(out, ignore_errors=True)
        return res

    local = ["--memory-limit", a.memory_limit] if a.memory_limit else []
    print(f"\n## local threads{' ' + ' '.join(local) if local else ''}")
    print(f"{'rows':>6} {'wall s':>8} {'s/row':>7} {'CPU-s/row':>10} {'peak RSS GB':>12} {'RSS ratio':>10}")
    base = None
    for R in ([] if a.no_local else rows_list):
        wall, cpu, pk = one(R, local)
        base = base or pk["tree"]
        print(f"{R:>6} {wall:>8.1f} {wall / R:>7.2f} {cpu / R:>10.2f} {pk['tree'] / 1e9:>12.2f} "
              f"{pk['tree'] / base:>10.2f}", flush=True)
    if not a.no_cluster:
        print("\n## --workers 2 --memory-limit 3GB (LocalCluster, 1.5 GB per worker)")
        print(f"{'rows':>6} {'wall s':>8} {'s/row':>7} {'CPU-s/row':>10} {'client GB':>10} "
              f"{'worker GB':>10} {'tree GB':>8}")
        for R in (a.cluster_rows or rows_list):
            wall, cpu, pk = one(R, ["--workers", "2", "--memory-limit", "3GB"])
            print(f"{R:>6} {wall:>8.1f} {wall / R:>7.2f} {cpu / R:>10.2f} {pk['client'] / 1e9:>10.2f} "
                  f"{pk['worker'] / 1e9:>10.2f} {pk['tree'] / 1e9:>8.2f}", flush=True)
    if not a.no_profile:
        R = rows_list[0]
        prof, n, _ = profile_block(scans[R], R)
        print(f"\n## one block of {n} rows ({R}-row scan), in this process")
        print(f"{'step':>24} {'CPU-s/row':>10} {'wall s/row':>11}")
        for k, (cpu, wall) in prof.items():
            div = 1 if k.startswith("centre") else n
            unit = " (total)" if k.startswith("centre") else ""
            print(f"{k:>24} {cpu / div:>10.3f} {wall / div:>11.3f}{unit}")
    if not a.keep:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
