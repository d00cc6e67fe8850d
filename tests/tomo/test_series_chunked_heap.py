"""The chunked CT series analysis gives its slabs' memory back (issue 13): after
:func:`ssbscope.tomo.series_chunked.analyse_series_chunked` the process holds about what it
held before, not the arrays that Dask's threads freed and glibc's arenas kept
(:mod:`ssbscope.heap`).

A subprocess (its own heap) analyses a tiny series first (imports, compiled kernels, caches:
held for good), then a 2 x 128^3 one in one slab a scan (8 MB float32 arrays, 16 MB float64:
the sizes glibc's rising thresholds keep in the arenas); the RSS after it (garbage collected)
less the RSS before it is the memory the analysis left behind.  Measured on the 2-core
machine: 167 MB left, 207 MB free in the arenas (``mallinfo2``'s ``fordblks``, trimmed pages
included), before the fix; 68 MB and 81 MB after (slabs of 32 slices: 79 -> 47 MB left)."""

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

SCRIPT = textwrap.dedent("""
    import ctypes, gc, json, sys, tempfile
    import numpy as np
    from ssbscope.tomo.series_chunked import analyse_series_chunked

    def series(n, nt=2):
        z = np.arange(n, dtype=np.float32)[:, None, None] + 0.5
        yy, xx = np.mgrid[0:n, 0:n].astype(np.float32)
        out = []
        for k in range(nt):
            cell = np.hypot(yy - (n - 1) / 2 - 0.6 * k, xx - (n - 1) / 2) < 0.42 * n
            h_li = (0.16 + 0.04 * k) * n + 0.02 * n * np.sin(2 * np.pi * xx / n) \\
                * np.cos(2 * np.pi * yy / n)
            lay = np.where(z < 0.1 * n, 4.0, np.where(z < h_li[None], 1.0,
                           np.where(z < 0.6 * n, 2.0, 1.0)))
            rng = np.random.default_rng(k)
            for c in rng.uniform([0.35 * n, 0.35 * n, 0.35 * n], [0.55 * n, 0.65 * n,
                                 0.65 * n], (12, 3)):
                ball = (z - c[0]) ** 2 + (yy - c[1]) ** 2 + (xx - c[2]) ** 2 < (0.03 * n) ** 2
                lay = np.where(ball & (z > h_li[None]), 1.0, lay)
            v = np.where(cell[None], lay, 0.0) + rng.normal(0, 0.25, (n, n, n))
            out.append(v.astype(np.float32))
        return out

    def layers(n):
        return [{"name": "Cu", "material": "Cu", "thickness_um": 0.1 * n},
                {"name": "Li", "material": "Li", "thickness_um": 0},
                {"name": "LPSCl", "material": "Li6PS5Cl", "thickness_um": 0.44 * n},
                {"name": "counter", "material": "Li", "thickness_um": 0.4 * n}]

    def rss():
        for line in open("/proc/self/status"):
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024

    def kept():  # glibc: bytes freed but kept in the arenas
        class MI2(ctypes.Structure):
            _fields_ = [(f, ctypes.c_size_t) for f in ("arena", "ordblks", "smblks",
                        "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks",
                        "keepcost")]
        try:
            f = ctypes.CDLL("libc.so.6").mallinfo2
        except (OSError, AttributeError):
            return -1
        f.restype = MI2
        return f().fordblks

    kw = dict(energy_kev=22.0, interfaces=["Li|LPSCl"], thickness=["Li", "counter"],
              central_fraction=0.5625)
    work = sys.argv[1]
    n0, n, cz = 48, int(sys.argv[2]), int(sys.argv[3])
    res = analyse_series_chunked(series(n0), layers(n0), 1.0, work_dir=work, chunk_slices=8,
                                 **kw)
    vols = series(n)
    del res
    gc.collect()
    r0, k0 = rss(), kept()
    res = analyse_series_chunked(vols, layers(n), 1.0, work_dir=work, chunk_slices=cz, **kw)
    gc.collect()
    r1, k1 = rss(), kept()
    print(json.dumps({"held": r1 - r0, "kept_before": k0, "kept_after": k1,
                      "li_um": [s.thickness_center_um["Li"] for s in res.scans]}))
""")


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="Linux /proc needed")
def test_chunked_series_analysis_leaves_no_slab_memory_behind(tmp_path):
    env = dict(os.environ)
    src = str(Path(__file__).resolve().parents[2] / "src")
    env["PYTHONPATH"] = src + os.pathsep + env.get("PYTHONPATH", "")
    for v in ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_", "MALLOC_TOP_PAD_",
              "MALLOC_MMAP_MAX_", "GLIBC_TUNABLES"):
        env.pop(v, None)  # the heap as glibc starts it
    n, cz = 128, 128
    r = subprocess.run([sys.executable, "-c", SCRIPT, str(tmp_path / "work"), str(n), str(cz)],
                       capture_output=True, text=True, env=env, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    out = json.loads(r.stdout.strip().splitlines()[-1])
    # the analysis measured the layers: Li grows by 0.04 n = 5.1 um between the scans
    li = out["li_um"]
    assert li[1] - li[0] == pytest.approx(0.04 * n, abs=1.5), out
    scan = n ** 3 * 4  # one float32 scan (and slab): 8.4 MB
    assert out["held"] < 12 * scan, (out, out["held"] / 1e6)  # before the fix: 167 MB
    # glibc: the arenas do not keep the slabs' arrays (207 MB before the fix).  The pores /
    # dead-Li split's extra passes over both scans (issue 16) leave more free bytes in the
    # arenas: 148 MB in one CI run beside a concurrent demo (RSS held 80 MB, within bounds)
    if out["kept_after"] >= 0:
        assert out["kept_after"] < 21 * scan, (out, out["kept_after"] / 1e6)
