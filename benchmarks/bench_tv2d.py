"""Slice-wise TV denoising (``tv2d``) of the pure-phase levels' interior labels: ours against
scikit-image's ``denoise_tv_chambolle`` (issue 13).

One z-block of the chunked series analysis (``ssbscope.tomo.denoise.denoise_rows`` with
``DEFAULT_LEVEL_DENOISE``: 8 slices sharing one noise estimate), a synthetic slab of
``8 x N x N`` float32 (a bright disc holding dark pores and a crack in a darker ring, plus
white noise).  Each engine runs in its own subprocess (peak RSS above the process's baseline
after the data are made and the kernels compiled), CPU time with ``time.process_time``.

Prints, per engine: CPU s per block and per slice, wall s, peak RSS increase; then the
difference of the denoised slices (max |ours - skimage|, slices equal bit for bit, Chambolle
iterations) and of the noise estimate, and of the thresholded labels
(``ssbscope.tomo.levels.interior_labels``).

    python benchmarks/bench_tv2d.py            # 8 x 1024 x 1024
    python benchmarks/bench_tv2d.py --quick    # 8 x 256 x 256
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))

WEIGHT_SIGMA = 0.5  # ssbscope.tomo.levels.DEFAULT_LEVEL_DENOISE


def slab(n: int, nz: int = 8, seed: int = 0) -> np.ndarray:
    """``(nz, n, n)`` float32: disc (1.0) with pores and a crack, ring (0.6), outside 0.1,
    white noise of 0.3 (the twin's 25-30 % per voxel)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:n, :n].astype(np.float32)
    r2 = (yy - n / 2) ** 2 + (xx - n / 2) ** 2
    base = np.full((n, n), 0.1, np.float32)
    base[r2 < (0.45 * n) ** 2] = 0.6
    base[r2 < (0.40 * n) ** 2] = 1.0
    for _ in range(max(4, n * n // 4000)):
        cy, cx = rng.uniform(0.15 * n, 0.85 * n, 2)
        rr = rng.uniform(1.0, 4.0)
        base[(yy - cy) ** 2 + (xx - cx) ** 2 < rr * rr] = 0.6
    base[(np.abs(yy - 0.3 * n - 0.2 * xx) < 1.0) & (r2 < (0.35 * n) ** 2)] = 0.6
    out = np.empty((nz, n, n), np.float32)
    for k in range(nz):
        out[k] = base + np.float32(0.3) * rng.standard_normal((n, n), dtype=np.float32)
    return out


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def child(engine: str, n: int, out_path: str) -> None:
    """Denoise one block with ``engine`` and save the result and timings."""
    from ssbscope.tomo.denoise import estimate_noise_sigma, tv_chambolle_2d

    v = slab(n)
    if engine == "ours":
        tv_chambolle_2d(v[:1, :16, :16], 0.1)  # compile (cached)
        estimate_noise_sigma(v[:2, :16, :16])
    else:
        from skimage.restoration import denoise_tv_chambolle, estimate_sigma

        denoise_tv_chambolle(v[0, :16, :16], weight=0.1)
        estimate_sigma(v[:2, :16, :16].astype(np.float64), channel_axis=None)
    rss0 = _rss_mb()
    c0, w0 = time.process_time(), time.perf_counter()
    if engine == "ours":
        sig = estimate_noise_sigma(v)
    else:
        sig = float(estimate_sigma(v.astype(np.float64), channel_axis=None))
    c1 = time.process_time()
    if engine == "ours":
        d = tv_chambolle_2d(v, WEIGHT_SIGMA * sig)
    else:
        d = np.empty_like(v)
        for k in range(v.shape[0]):
            d[k] = denoise_tv_chambolle(v[k], weight=WEIGHT_SIGMA * sig, channel_axis=None)
    c2, w2 = time.process_time(), time.perf_counter()
    np.save(out_path, d)
    with open(out_path + ".json", "w") as fh:
        json.dump({"sigma": sig, "cpu_sigma": c1 - c0, "cpu_tv": c2 - c1, "cpu": c2 - c0,
                   "wall": w2 - w0, "rss_mb": _rss_mb() - rss0}, fh)


def iterations(v: np.ndarray, weight: float) -> list[int]:
    from ssbscope.tomo.denoise import _tv2d_stack

    return [int(i) for i in _tv2d_stack(np.ascontiguousarray(v), weight, 2e-4, 200)[1]]


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="8 x 256 x 256")
    ap.add_argument("--size", type=int, default=None, help="slice side (default 1024)")
    ap.add_argument("--child", nargs=3, metavar=("ENGINE", "N", "OUT"), help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    if a.child:
        child(a.child[0], int(a.child[1]), a.child[2])
        return
    from _machine import machine

    n = a.size or (256 if a.quick else 1024)
    import tempfile

    res = {}
    with tempfile.TemporaryDirectory() as tmp:
        for eng in ("skimage", "ours"):
            p = os.path.join(tmp, eng + ".npy")
            subprocess.run([sys.executable, __file__, "--child", eng, str(n), p], check=True)
            with open(p + ".json") as fh:
                res[eng] = json.load(fh)
            res[eng]["d"] = np.load(p)
    import skimage

    print(f"tv2d of one 8 x {n} x {n} float32 block (weight {WEIGHT_SIGMA} x noise sigma); "
          f"{machine()}; scikit-image {skimage.__version__}")
    print("| engine | CPU s / block | of which noise sigma | CPU s / slice (TV) | wall s | "
          "peak RSS +MB |")
    print("|---|---|---|---|---|---|")
    for eng, label in (("skimage", "scikit-image denoise_tv_chambolle + estimate_sigma"),
                       ("ours", "ssbscope tv_chambolle_2d + estimate_noise_sigma")):
        r = res[eng]
        print(f"| {label} | {r['cpu']:.2f} | {r['cpu_sigma']:.2f} | {r['cpu_tv'] / 8:.3f} | "
              f"{r['wall']:.2f} | {r['rss_mb']:.0f} |")
    rs, ro = res["skimage"], res["ours"]
    print(f"CPU ratio skimage / ours: {rs['cpu'] / ro['cpu']:.2f} (TV alone "
          f"{rs['cpu_tv'] / ro['cpu_tv']:.2f}, noise sigma "
          f"{rs['cpu_sigma'] / ro['cpu_sigma']:.2f})")
    diff = np.abs(rs["d"] - ro["d"])
    eq = sum(np.array_equal(rs["d"][k], ro["d"][k]) for k in range(8))
    v = slab(n)
    print(f"noise sigma: skimage {rs['sigma']!r}, ours {ro['sigma']!r} "
          f"({'equal' if rs['sigma'] == ro['sigma'] else 'differ'})")
    print(f"denoised: max |ours - skimage| {float(diff.max()):.3g}, slices equal bit for bit "
          f"{eq} / 8; Chambolle iterations per slice {iterations(v, WEIGHT_SIGMA * ro['sigma'])}")
    thr = [0.35, 0.8]
    lab_s = np.digitize(rs["d"], thr)
    lab_o = np.digitize(ro["d"], thr)
    print(f"labels at {thr}: voxels differing {int((lab_s != lab_o).sum())} of {lab_s.size}")


if __name__ == "__main__":
    main()
