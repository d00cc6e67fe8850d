"""Benchmark: 26-connected labelling, ssbscope vs cc3d vs scipy.ndimage, same run.

Times on a thresholded blobby volume (the morphology benchmark's, ``> 0.5``) of 256^3 and
512^3 voxels (``--sizes``):

* ``filters.label``: ssbscope's in-memory run-based union-find (numba);
* ``label_chunked`` on z-slabs of 64 slices, per-chunk labeller numba and cc3d (the
  default when cc3d is importable), computed to a NumPy array;
* ``cc3d.connected_components`` (connected-components-3d), whole volume;
* ``scipy.ndimage.label`` with the 3x3x3 structure, whole volume.

All outputs are checked identical to scipy's (same raster-order numbering); cc3d's own
numbering differs, so its partition is compared.  Best of ``--repeat`` runs.

Usage::

    python benchmarks/bench_labelling.py [--sizes 256 512] [--repeat 2] [--slab 64]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from _machine import machine


def _mask(n: int, seed: int = 0) -> np.ndarray:
    import scipy.ndimage as ndi

    rng = np.random.default_rng(seed)
    coarse = rng.random((n // 8,) * 3).astype(np.float32)
    v = ndi.zoom(coarse, 8, order=1, mode="grid-wrap", grid_mode=True)
    v += rng.normal(0, 0.08, v.shape).astype(np.float32)
    return v > 0.5


def _time(fn, repeat):
    best, out = np.inf, None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def _same_partition(a, b) -> bool:
    fa, fb = a.ravel(), b.ravel()
    if not np.array_equal(fa > 0, fb > 0):
        return False
    pairs = np.unique(np.stack([fa[fa > 0], fb[fb > 0]], axis=1), axis=0)
    return len(np.unique(pairs[:, 0])) == len(pairs) == len(np.unique(pairs[:, 1]))


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[256, 512])
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--slab", type=int, default=64, help="z-slab of label_chunked (slices)")
    args = ap.parse_args(argv)

    import dask.array as da
    import scipy.ndimage as ndi

    from ssbscope.tomo import filters as F
    from ssbscope.tomo.chunked import label_chunked

    try:
        import cc3d
    except ImportError:
        cc3d = None
    print(machine())
    print(f"{'size':>5} {'method':<34} {'time s':>8} {'vs cc3d':>8} {'components':>11} ok")
    st = np.ones((3, 3, 3), bool)
    for n in args.sizes:
        m = _mask(n)
        F.label(m[:16, :16, :16], 26)  # numba compile outside the timing
        t_sp, (ref, nref) = _time(lambda: ndi.label(m, st), args.repeat)
        rows = [("scipy.ndimage.label", t_sp, nref, True)]
        t, (lab, k) = _time(lambda: F.label(m, 26), args.repeat)
        rows.append(("ssbscope filters.label (numba)", t, k, bool(np.array_equal(lab, ref))))
        del lab
        for be in ("numba", "cc3d"):
            if be == "cc3d" and cc3d is None:
                continue

            def run(be=be):
                lab, k = label_chunked(da.from_array(m, chunks=(args.slab, n, n)), 26,
                                       backend=be)
                return lab.compute(scheduler="threads"), k

            t, (lab, k) = _time(run, args.repeat)
            rows.append((f"label_chunked z{args.slab} ({be})", t, k,
                         bool(np.array_equal(lab, ref))))
            del lab
        t_cc = None
        if cc3d is not None:
            t_cc, (lab, k) = _time(lambda: cc3d.connected_components(m, connectivity=26,
                                                                     return_N=True),
                                   args.repeat)
            rows.append(("cc3d.connected_components", t_cc, int(k), _same_partition(lab, ref)))
            del lab
        for name, t, k, ok in rows:
            ratio = f"{t / t_cc:8.2f}" if t_cc else f"{'-':>8}"
            print(f"{n:>5} {name:<34} {t:8.3f} {ratio} {k:>11} {'yes' if ok else 'NO'}")


if __name__ == "__main__":
    main()
