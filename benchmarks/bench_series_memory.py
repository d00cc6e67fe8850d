"""Benchmark: a 4-D CT series through segmentation and metrics in bounded memory (issue 13).

Writes a synthetic operando series (``--scans`` volumes of ``--size``^3 voxels, float32:
Cu | plated Li (rough, growing) | Li6PS5Cl with pores and Li filaments | Li counter, a
cylindrical cell in air, noise, a sub-voxel (y, x) drift between scans) to an ssbscope
store slab by slab, then runs the series analysis on the store's lazy volumes:

* ``chunked`` (default): :func:`ssbscope.tomo.series_chunked.analyse_series_chunked` under
  ``--memory-limit`` (the stage's path), then the stage's datasets written to the store;
* ``memory``: the in-memory :func:`ssbscope.tomo.series.analyse_series` on ``np.asarray`` of
  every volume (today's path before issue 13; needs ~30-40 bytes per voxel of the series).

Prints wall time and peak RSS (psutil, polled every 20 ms) per step and for the whole run,
with the machine.  Run each mode in its own process (``--mode``) for a clean peak.

``--trace`` also prints, at the start and end of every step, the RSS and glibc's heap
(``mallinfo2``: bytes in use, bytes freed but kept by the allocator); after the analysis and
after the write it collects garbage and prints them again, with ``--tracemalloc N`` the N
largest live allocations (Python and NumPy, by traceback) and with ``--trim`` the RSS after
``malloc_trim(0)``: memory that trimming returns was freed but kept by the allocator, memory
that stays is held by live objects.

Usage::

    python benchmarks/bench_series_memory.py [--size 256] [--scans 4] [--mode chunked|memory]
        [--memory-limit 2GB] [--dir DIR] [--trace [--tracemalloc 10] [--trim]]
    python benchmarks/bench_series_memory.py --size 1024      # the issue's 4 x 1024^3 case
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
from _machine import machine

LAYERS = [{"name": "Cu", "material": "Cu", "thickness_um": 0.1},
          {"name": "Li", "material": "Li", "thickness_um": 0},
          {"name": "LPSCl", "material": "Li6PS5Cl", "thickness_um": 0.44},
          {"name": "counter", "material": "Li", "thickness_um": 0.4}]
GREY = {"air": 0.0, "Li": 1.0, "LPSCl": 2.0, "Cu": 4.0}
NOISE = 0.25


def layers_for(n: int, vs: float):
    """Declared layers with thicknesses in µm for an ``n``-slice stack of voxel ``vs``."""
    out = []
    for la in LAYERS:
        out.append(dict(la, thickness_um=la["thickness_um"] * n * vs))
    return out


def _field(n, seed, amp):
    import scipy.ndimage as ndi

    rng = np.random.default_rng(seed)
    c = rng.normal(0, 1, (9, 9))
    f = ndi.zoom(c, n / 9, order=3, grid_mode=True, mode="grid-wrap")[:n, :n]
    return amp * f / (np.abs(f).max() + 1e-12)


def scan_slab(n: int, k: int, z0: int, z1: int) -> np.ndarray:
    """Rows ``[z0, z1)`` of scan ``k`` (float32), generated independently of the slab."""
    yy, xx = np.mgrid[0:n, 0:n].astype(np.float32)
    dy, dx = 0.6 * k, -0.4 * k  # drift between scans (registration)
    r = np.hypot(yy - (n - 1) / 2 - dy, xx - (n - 1) / 2 - dx)
    cell = r < 0.42 * n
    z_cu = 0.1 * n
    h_li = z_cu + (0.03 + 0.03 * k) * n + _field(n, 1 + k, 0.02 * n)  # rough plated Li
    z_el = 0.6 * n + 0.0 * k
    z = np.arange(z0, z1, dtype=np.float32)[:, None, None] + 0.5
    v = np.full((z1 - z0, n, n), GREY["air"], np.float32)
    lay = np.where(z < z_cu, GREY["Cu"], np.where(z < h_li[None], GREY["Li"],
                   np.where(z < z_el, GREY["LPSCl"], GREY["Li"])))
    v = np.where(cell[None], lay, v).astype(np.float32)
    # pores (fixed) and Li filaments growing from the plated Li (more in later scans)
    rng = np.random.default_rng(100)
    pores = rng.uniform([0.3 * n, 0.3 * n, 0.3 * n], [0.55 * n, 0.7 * n, 0.7 * n], (60, 3))
    rad = rng.uniform(1.5, 0.015 * n + 2, 60)
    fil = rng.uniform([0.3 * n, 0.3 * n], [0.7 * n, 0.7 * n], (8 * (k + 1), 2))
    def box(c, r):  # the rows/columns within r of c (the same voxels, fewer evaluated)
        return slice(max(0, int(np.floor(c - r))), min(n, int(np.ceil(c + r)) + 1))

    for (pz, py, px), pr in zip(pores, rad):
        if pz + pr < z0 or pz - pr > z1:
            continue
        by, bx = box(py, pr), box(px, pr)
        m = (z - pz) ** 2 + (yy[None, by, bx] - py) ** 2 + (xx[None, by, bx] - px) ** 2 \
            < pr ** 2
        v[:, by, bx][m] = GREY["Li"]
    top = z_cu + 0.06 * n + (0.05 + 0.05 * k) * n
    for fy, fx in fil:
        by, bx = box(fy, 2.0), box(fx, 2.0)
        m = ((yy[by, bx] - fy) ** 2 + (xx[by, bx] - fx) ** 2 < 4.0)[None] & (z < top) \
            & (z > z_cu)
        v[:, by, bx][m & cell[None, by, bx]] = GREY["Li"]
    noise = np.random.default_rng([k, z0]).normal(0, NOISE, v.shape).astype(np.float32)
    return v + noise


def write_series(store, n: int, scans: int, vs: float, slab: int = 32):
    """Write ``scans`` volumes to ``store`` as ``tomo/s{k}/volume`` (slab by slab)."""
    import dask
    import dask.array as da
    import xarray as xr

    keys = []
    for k in range(scans):
        blocks = [da.from_delayed(dask.delayed(scan_slab)(n, k, z0, min(n, z0 + slab)),
                                  shape=(min(n, z0 + slab) - z0, n, n), dtype=np.float32)
                  for z0 in range(0, n, slab)]
        vol = da.concatenate(blocks, axis=0)
        ds = xr.Dataset({"volume": (("z", "y", "x"), vol)}, attrs={"voxel_size_um": vs})
        ds["volume"].attrs["units"] = "1/pixel"
        ds["volume"].attrs["ome_image"] = "image"  # stored as a reconstruction is: cubes
        key = f"tomo/s{k}/recon"
        store.write(key, ds)
        keys.append(key)
    return keys


def _cpu() -> float:
    """CPU seconds (user + system) of this process so far (all its threads)."""
    import resource

    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime


def _mallinfo():
    """glibc's heap (all arenas): ``(in use, free but kept)`` in bytes, or None."""
    import ctypes

    class _MI2(ctypes.Structure):
        _fields_ = [(f, ctypes.c_size_t) for f in (
            "arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks",
            "uordblks", "fordblks", "keepcost")]

    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.mallinfo2.restype = _MI2
    except (OSError, AttributeError):
        return None
    m = libc.mallinfo2()
    return m.uordblks + m.hblkhd, m.fordblks


def _malloc_trim() -> bool:
    """``malloc_trim(0)`` of glibc (returns the arenas' free pages to the system)."""
    import ctypes

    try:
        return bool(ctypes.CDLL("libc.so.6").malloc_trim(0))
    except (OSError, AttributeError):
        return False


class _Peak:
    """Peak RSS (bytes) of this process, polled in a thread, per nested step; ``trace``:
    the RSS and glibc's heap printed at each step's start and end."""

    def __init__(self, trace=False):
        import psutil

        self.trace = trace
        self.proc = psutil.Process()
        self.active: list[list] = []
        self.rows: list[tuple] = []
        self.stop = False
        self.total = 0
        self.t = threading.Thread(target=self._poll, daemon=True)
        self.t.start()

    def _poll(self):
        while not self.stop:
            rss = self.proc.memory_info().rss
            self.total = max(self.total, rss)
            for a in self.active:
                a[1] = max(a[1], rss)
            time.sleep(0.02)

    def mem(self) -> str:
        """``RSS x GB, heap in use y GB, free kept z GB`` now."""
        out = f"RSS {self.proc.memory_info().rss / 1e9:.3f} GB"
        mi = _mallinfo()
        if mi is not None:
            out += f", heap in use {mi[0] / 1e9:.3f} GB, freed but kept {mi[1] / 1e9:.3f} GB"
        return out

    @contextlib.contextmanager
    def step(self, name):
        entry = [name, self.proc.memory_info().rss, time.perf_counter(), _cpu()]
        if self.trace:
            print(f"  > {name.strip()}: {self.mem()}", flush=True)
        self.active.append(entry)
        try:
            yield
        finally:
            self.active.remove(entry)
            if self.trace:
                print(f"  < {name.strip()}: {self.mem()}", flush=True)
            row = (name, time.perf_counter() - entry[2], entry[1], _cpu() - entry[3])
            self.rows.append(row)
            # as it ends (a run stopped early still tells its steps); load: the machine's
            print(f"[{time.strftime('%H:%M:%S')}] {name.strip()}: wall {row[1]:.1f} s, "
                  f"CPU {row[3]:.1f} s, peak RSS {row[2] / 1e9:.2f} GB, load average "
                  f"{os.getloadavg()[0]:.1f}", flush=True)


def _instrument(peak):
    """Wrap the chunked analysis' steps so that each reports wall time and peak RSS."""
    from ssbscope.tomo import series_chunked as SC

    def wrap(name, fn, namer=None):
        def inner(*a, **kw):
            with peak.step(namer(*a) if namer else name):
                return fn(*a, **kw)
        return inner

    SC._cell_region = wrap("cell region", SC._cell_region)
    SC._write_map = wrap("map", SC._write_map,
                         lambda dst, *a: f"  {Path(str(dst.store.root)).name.split('_')[0]}"
                         if hasattr(dst.store, "root") else "  map")
    SC._register_slab = wrap("registration (slab)", SC._register_slab)
    SC._segment = wrap("segment (levels, labels, fractions)", SC._segment)
    SC._measure = wrap("measure (heights, thickness, volumes, regions)", SC._measure)
    SC._new_filaments_chunked = wrap("new filaments", SC._new_filaments_chunked)
    SC._split_isolated_series = wrap("pores / dead-Li split", SC._split_isolated_series)
    SC._objects_in = wrap("  objects of a scan, their sums", SC._objects_in)


def _smaps() -> str:
    """Resident memory by kind of mapping (``/proc/self/smaps``): the main heap, glibc's
    thread arenas (64 MiB reserved heaps), other anonymous memory (large arrays mmapped one by
    one, Python's object arenas, thread stacks) and files (libraries)."""
    kinds = {"heap": 0, "thread arenas": 0, "other anonymous": 0, "files": 0}
    maps = []
    try:
        with open("/proc/self/smaps") as fh:
            for line in fh:
                f = line.split()
                if "-" in f[0] and len(f) >= 5 and ":" in f[3]:
                    a, b = (int(x, 16) for x in f[0].split("-"))
                    maps.append([a, b, f[1], f[5] if len(f) > 5 else "", 0])
                elif f[0] == "Rss:" and maps:
                    maps[-1][4] = int(f[1]) * 1024
    except OSError:
        return "(no /proc/self/smaps)"
    arena = 64 * 2**20
    for a, b, perm, name, rss in maps:
        if name == "[heap]":
            kinds["heap"] += rss
        elif name.startswith("/"):
            kinds["files"] += rss
        elif not name and a % arena == 0 and perm.startswith("rw") and b - a <= arena:
            kinds["thread arenas"] += rss  # an arena's heap starts on a 64 MiB boundary
        else:
            kinds["other anonymous"] += rss
    return ", ".join(f"{k} {v / 1e9:.3f}" for k, v in kinds.items()) + " GB resident"


def _probe(peak, what, top=0, trim=False):
    """Print the memory held at ``what`` (after ``gc.collect``): RSS and heap, the ``top``
    largest live allocations (tracemalloc, when tracing), and with ``trim`` the RSS after
    ``malloc_trim(0)``."""
    import gc
    import tracemalloc

    print(f"[{what}] {peak.mem()}", flush=True)
    gc.collect()
    print(f"[{what}] after gc.collect: {peak.mem()}\n[{what}] {_smaps()}", flush=True)
    if top and tracemalloc.is_tracing():
        snap = tracemalloc.take_snapshot()
        cur, pk = tracemalloc.get_traced_memory()
        print(f"[{what}] tracemalloc: {cur / 1e9:.3f} GB live (peak {pk / 1e9:.3f} GB), "
              "largest:")
        for st in snap.statistics("traceback")[:top]:
            fr = [f"{Path(f.filename).name}:{f.lineno}" for f in st.traceback[-6:]]
            print(f"    {st.size / 1e6:9.1f} MB in {st.count:6d} blocks  " + " < ".join(
                reversed(fr)))
    if trim:
        _malloc_trim()
        print(f"[{what}] after malloc_trim(0): {peak.mem()}\n[{what}] {_smaps()}",
              flush=True)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--scans", type=int, default=4)
    ap.add_argument("--mode", choices=["chunked", "memory"], default="chunked")
    ap.add_argument("--memory-limit", default="2GB")
    ap.add_argument("--dir", default=None, help="work folder (default a temporary one)")
    ap.add_argument("--trace", action="store_true",
                    help="RSS and glibc heap at each step's start and end, and held after "
                         "the analysis and the write")
    ap.add_argument("--tracemalloc", type=int, default=0, metavar="N",
                    help="with --trace: the N largest live allocations (tracemalloc) held "
                         "after the analysis and the write")
    ap.add_argument("--trim", action="store_true",
                    help="with --trace: malloc_trim(0) after the analysis, before the write")
    args = ap.parse_args(argv)

    from ssbscope.pipeline import parse_memory
    from ssbscope.store import Store
    from ssbscope.tomo.stages import series_datasets

    n, vs = args.size, 1.0
    limit = parse_memory(args.memory_limit)
    root = Path(args.dir or tempfile.mkdtemp(prefix="bench-series-"))
    root.mkdir(parents=True, exist_ok=True)
    peak = _Peak(trace=args.trace)
    print(machine())
    print(f"series of {args.scans} x {n}^3 float32 ({args.scans * n**3 * 4 / 1e9:.2f} GB), "
          f"mode {args.mode}, memory limit {args.memory_limit}")
    store = Store.create(root / "store.zarr")
    t_all = time.perf_counter()
    with peak.step("write the series to the store"):
        keys = write_series(store, n, args.scans, vs)
    lay = layers_for(n, vs)
    kw = dict(energy_kev=22.0, interfaces=["Li|LPSCl"], thickness=["Li", "counter"],
              central_fraction=0.5625)
    vols = [store.read(k)["volume"].data for k in keys]
    base = peak.proc.memory_info().rss
    if args.tracemalloc:
        import tracemalloc

        tracemalloc.start(12)
    if args.mode == "chunked":
        from ssbscope.tomo.series_chunked import analyse_series_chunked

        _instrument(peak)
        with peak.step("analysis (chunked)"):
            res = analyse_series_chunked(vols, lay, vs, work_dir=root / "work",
                                         memory_limit_bytes=limit, **kw)
    else:
        from ssbscope.tomo.series import analyse_series

        with peak.step("read np.asarray"):
            arrs = [np.asarray(v.compute(), np.float32) for v in vols]
        with peak.step("analysis (in memory)"):
            res = analyse_series(arrs, lay, vs, **kw)
    if args.trace:
        _probe(peak, "held after the analysis", args.tracemalloc, args.trim)
    with peak.step("write labels/metrics/maps to the store"):
        out = series_datasets(res, np.arange(args.scans) * 3600.0,
                              [f"s{k}" for k in range(args.scans)], vs,
                              central_fraction=kw["central_fraction"], series="bench")
        for key, ds in out.items():
            with peak.step(f"  {key}") if args.trace else contextlib.nullcontext():
                store.write(key, ds)
    wall = time.perf_counter() - t_all
    if args.trace:
        del out
        _probe(peak, "held after the write", args.tracemalloc)
    peak.stop = True
    print(f"\nRSS before the analysis {base / 1e9:.2f} GB")
    print(f"{'step':<52} {'wall s':>8} {'CPU-s':>8} {'peak RSS GB':>12}")
    agg: dict = {}
    for name, t, p, c in peak.rows:  # steps repeated per scan: summed time, largest peak
        a = agg.setdefault(name, [0, 0.0, 0, 0.0])
        a[0] += 1
        a[1] += t
        a[2] = max(a[2], p)
        a[3] += c
    for name, (cnt, t, p, c) in agg.items():
        print(f"{name + (f' (x{cnt})' if cnt > 1 else ''):<52} {t:8.1f} {c:8.1f} {p / 1e9:12.2f}")
    print(f"{'total':<52} {wall:8.1f} {_cpu():8.1f} {peak.total / 1e9:12.2f}")
    for key in store.names():  # the stored images' chunks (cubes, ssbscope.ome.image_chunks)
        for v in store.read(key).data_vars.values():
            if v.ndim >= 3:
                print(f"stored {key}/{v.name}: shape {v.shape}, chunks "
                      f"{tuple(c[0] for c in v.chunks)}")
    print("results: shifts", np.round(res.shift_vox, 2).tolist())
    print("  Li|LPSCl Ra um", [round(s.ra_um["Li|LPSCl"], 3) for s in res.scans],
          " Li thickness centre um", [round(s.thickness_center_um["Li"], 2) for s in res.scans])
    print("  new filaments", res.new_filaments.tolist(), " pore+crack um3",
          [round(s.pore_crack_volume_um3, 1) for s in res.scans])
    print("  pores um3", [repr(s.pore_volume_um3) for s in res.scans], " isolated Li um3",
          [repr(s.isolated_li_um3) for s in res.scans])
    if args.dir is None:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
