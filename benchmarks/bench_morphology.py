"""Benchmark: the CT image-processing chain median3 -> threshold -> opening(ball 3) -> label.

Times ssbscope's kernels beside the best peers in the same run (scipy.ndimage, scikit-image,
connected-components-3d if installed) on a synthetic 512^3 float32 volume (``--quick``:
256^3), and prints time ratios, voxels/s and accuracy (identical output expected).

Usage::

    python benchmarks/bench_morphology.py [--quick] [--size N] [--repeat R]
"""

from __future__ import annotations

import argparse
import os
import time
import warnings

import numpy as np
from _machine import cpu_model as _cpu_model



def _volume(n: int, seed: int = 0) -> np.ndarray:
    """Blobby two-phase float32 volume with noise: a zoomed coarse random field."""
    import scipy.ndimage as ndi

    rng = np.random.default_rng(seed)
    coarse = rng.random((n // 8,) * 3).astype(np.float32)
    v = ndi.zoom(coarse, 8, order=1, mode="grid-wrap", grid_mode=True)
    v += rng.normal(0, 0.08, v.shape).astype(np.float32)
    return v


def _time(fn, repeat: int):
    best, out = np.inf, None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="256^3 instead of 512^3")
    ap.add_argument("--size", type=int, default=None, help="edge length (voxels)")
    ap.add_argument("--repeat", type=int, default=1, help="repeats of each timing (best kept)")
    args = ap.parse_args(argv)
    n = args.size or (256 if args.quick else 512)

    import numba
    import scipy
    import scipy.ndimage as ndi
    import skimage
    from skimage.filters import threshold_otsu as sk_otsu
    from skimage.morphology import ball, binary_opening

    from ssbscope.tomo import filters as F

    try:
        import cc3d
    except ImportError:  # optional peer (bench extra)
        cc3d = None

    from importlib.metadata import PackageNotFoundError, version

    try:
        cc3d_v = version("connected-components-3d") if cc3d is not None else "absent"
    except PackageNotFoundError:
        cc3d_v = "unknown"
    print(f"machine: {os.cpu_count()} CPUs, {_cpu_model()}; numba threads "
          f"{numba.get_num_threads()}; load average {os.getloadavg()[0]:.1f}; "
          f"numpy {np.__version__}, scipy {scipy.__version__}, "
          f"scikit-image {skimage.__version__}, cc3d {cc3d_v}")
    v = _volume(n)
    nvox = v.size
    print(f"volume: {v.shape} float32 ({v.nbytes / 1e6:.0f} MB)")

    # warm-up: compile the numba kernels outside the timings
    small = v[:16, :16, :16]
    F.label(F.opening(F.median3(small) > 0.5))

    rows = []

    def row(step, ours_s, peer, peer_s, accuracy):
        rows.append((step, ours_s, peer, peer_s, accuracy))
        print(f"{step:<10} ours {ours_s:7.2f} s ({nvox / ours_s / 1e6:7.1f} Mvox/s) | "
              f"{peer:<34} {peer_s:7.2f} s ({nvox / peer_s / 1e6:7.1f} Mvox/s) | "
              f"speed-up x{peer_s / ours_s:6.2f} | {accuracy}", flush=True)

    t_ours, med = _time(lambda: F.median3(v), args.repeat)
    t_peer, med_ref = _time(lambda: ndi.median_filter(v, size=3), 1)
    row("median3", t_ours, "scipy.ndimage.median_filter", t_peer,
        f"max |diff| = {float(np.abs(med - med_ref).max()):g} (identical: "
        f"{np.array_equal(med, med_ref)})")
    del med_ref

    t_ours, thr = _time(lambda: F.threshold_otsu(med), args.repeat)
    t_peer, thr_ref = _time(lambda: sk_otsu(med), 1)
    row("otsu", t_ours, "skimage.filters.threshold_otsu", t_peer,
        f"threshold {thr:.6f} vs {thr_ref:.6f}")
    mask = med > thr
    del med

    t_ours, op = _time(lambda: F.opening(mask, 3), args.repeat)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        t_peer, op_ref = _time(lambda: binary_opening(mask, ball(3)), 1)
    row("opening", t_ours, "skimage binary_opening(ball(3))", t_peer,
        f"differing voxels = {int(np.count_nonzero(op != op_ref))}")
    del op_ref, mask

    t_ours, (lab, nlab) = _time(lambda: F.label(op, 26), args.repeat)
    t_peer, (lab_ref, n_ref) = _time(lambda: ndi.label(op, np.ones((3, 3, 3), bool)), 1)
    row("label26", t_ours, "scipy.ndimage.label (26)", t_peer,
        f"n = {nlab} vs {n_ref}; identical labels: {np.array_equal(lab, lab_ref)}")
    del lab_ref
    if cc3d is not None:
        t_cc, lab_cc = _time(lambda: cc3d.connected_components(op, connectivity=26), 1)
        same = int(lab_cc.max()) == nlab and np.array_equal(lab_cc > 0, lab > 0)
        row("label26", t_ours, "cc3d.connected_components (26)", t_cc,
            f"n = {nlab} vs {int(lab_cc.max())}; same foreground/count: {same}")
        del lab_cc
    t_ours6, (lab6, n6) = _time(lambda: F.label(op, 6), args.repeat)
    t_peer6, (lab6_ref, n6_ref) = _time(lambda: ndi.label(op), 1)
    row("label6", t_ours6, "scipy.ndimage.label (6)", t_peer6,
        f"n = {n6} vs {n6_ref}; identical labels: {np.array_equal(lab6, lab6_ref)}")

    tot_ours = sum(r[1] for r in rows if r[2].startswith(("scipy.ndimage.median", "skimage",
                                                           "scipy.ndimage.label (26)")))
    tot_peer = sum(r[3] for r in rows if r[2].startswith(("scipy.ndimage.median", "skimage",
                                                           "scipy.ndimage.label (26)")))
    print(f"chain median->otsu->opening->label26: ours {tot_ours:.2f} s, peers {tot_peer:.2f} s, "
          f"speed-up x{tot_peer / tot_ours:.2f}")


if __name__ == "__main__":
    main()
