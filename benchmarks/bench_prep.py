"""Zinger and ring removal of the streamed reconstruction: CPU-s per detector row, our
numba kernels against the NumPy / scipy.ndimage calls they replace (issue 13 item 6).

One block of detector rows as :func:`ssbscope.tomo.stream.reconstruct_rows` cleans it:
``(n_angles, rows + 2 halo rows, n_detector)`` float32 line integrals of a synthetic scan (an
off-axis disc inside a centred cylinder, noise 0.02, 0.5 % gain error per pixel, zingers of
+1 in 1e-4 of the pixels), zingers removed in blocks of 64 angles
(``remove_zingers(threshold=0.1, size=3, polarity="both", temporal=False)``, the two-sided
spatial rule the reference implements), the halo rows cropped, then ``remove_rings``
(``"normalize"``) on each row's sinogram.  The reference engine runs the same steps with
``scipy.ndimage.median_filter`` (zingers: ``size=(1, 3, 3)``, ``mode="nearest"``; rings:
``np.argsort(kind="stable")``, ``median_filter(size=(1, 7))``, ``np.put_along_axis``), i.e.
the code before the kernels; both outputs must be equal bit for bit.  CPU time with
``time.process_time`` (all threads of the process), best of ``--repeat``.  One more row times
the stage's own rule (the default since 2026-12: one-sided, temporal, each block of 64 angles
given its neighbouring projections as :func:`ssbscope.tomo.stream.clean_rows` does), which
has no scipy counterpart to compare with.

    python benchmarks/bench_prep.py                 # 8 rows x 1500 angles x 2048 px
    python benchmarks/bench_prep.py --quick         # 4 rows x 500 x 512
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))


def block(n_rows: int, n_angles: int, n_det: int, seed: int = 0) -> np.ndarray:
    """``(n_angles, n_rows, n_det)`` float32 line integrals (see the module docstring)."""
    rng = np.random.default_rng(seed)
    th = np.linspace(0, np.pi, n_angles, endpoint=False)
    t = np.arange(n_det, dtype=np.float64) - n_det / 2
    R = 0.42 * n_det
    p = np.empty((n_angles, n_rows, n_det), np.float32)
    for i, a in enumerate(th):
        x = t - 0.1 * n_det * np.cos(a)
        pr = (0.004 * np.sqrt(np.maximum(0.3 * R * R - x * x, 0))
              + 0.002 * np.sqrt(np.maximum(R * R - t * t, 0)))
        p[i] = pr.astype(np.float32)[None]
    p += rng.normal(0, 0.02, p.shape).astype(np.float32)
    p *= (1 + rng.normal(0, 0.005, (1, n_rows, n_det))).astype(np.float32)
    p[rng.random(p.shape) < 1e-4] += 1.0
    return p


def zingers_ref(a, threshold=0.1):
    from scipy.ndimage import median_filter

    med = median_filter(a, size=(1, 3, 3), mode="nearest")
    return np.where(np.abs(a - med) > threshold, med, a).astype(np.float32)


def rings_ref(s):
    """remove_rings(s) ("normalize", size 7, norm_half_width 6) with the NumPy/scipy sort."""
    from ssbscope.tomo.prep import _sorting, normalize_offsets

    b = _sorting(s, 7, engine="numpy")
    off = normalize_offsets(b.mean(axis=0, dtype=np.float64), half_width=6)
    return (b - off[None]).astype(np.float32)


def run(p, engine: str):
    """Clean a block with halo rows 0 and -1: (zinger CPU s, ring CPU s, result)."""
    from ssbscope.tomo.prep import remove_rings, remove_zingers

    t0 = time.process_time()
    z = np.empty_like(p)
    for s in range(0, p.shape[0], 64):
        z[s:s + 64] = (remove_zingers(p[s:s + 64], threshold=0.1, size=3, polarity="both",
                                      temporal=False) if engine == "ours"
                       else zingers_ref(p[s:s + 64]))
    z = np.ascontiguousarray(z[:, 1:-1])
    t1 = time.process_time()
    for r in range(z.shape[1]):
        z[:, r, :] = remove_rings(z[:, r, :]) if engine == "ours" else rings_ref(z[:, r, :])
    t2 = time.process_time()
    return t1 - t0, t2 - t1, z


def zingers_stage_rule(p):
    """CPU s of the stage's zinger rule (``remove_zingers`` defaults) in blocks of 64 angles."""
    from ssbscope.tomo.prep import remove_zingers

    t0 = time.process_time()
    before = None
    for s in range(0, p.shape[0], 64):
        after = p[s + 64] if s + 64 < p.shape[0] else None
        remove_zingers(p[s:s + 64], threshold=0.1, size=3, before=before, after=after)
        before = p[min(s + 64, p.shape[0]) - 1]
    return time.process_time() - t0


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="4 rows x 500 angles x 512 px")
    ap.add_argument("--rows", type=int, default=None)
    ap.add_argument("--angles", type=int, default=None)
    ap.add_argument("--width", type=int, default=None)
    ap.add_argument("--repeat", type=int, default=2)
    a = ap.parse_args(argv)
    from _machine import machine

    rows = a.rows or (4 if a.quick else 8)
    n_ang = a.angles or (500 if a.quick else 1500)
    n_det = a.width or (512 if a.quick else 2048)
    p = block(rows + 2, n_ang, n_det)
    run(p[:, :3, :64].copy(), "ours")  # compile the kernels (cached on disk)
    res = {}
    for eng in ("reference", "ours"):
        best = None
        for _ in range(max(1, a.repeat)):
            tz, tr, out = run(p, eng)
            best = (tz, tr) if best is None else (min(best[0], tz), min(best[1], tr))
        res[eng] = best + (out,)
    import scipy

    print(f"zingers + rings of one block: {rows} rows (+2 halo rows for the zinger median) x "
          f"{n_ang} angles x {n_det} px; {machine()}; scipy {scipy.__version__}")
    print("| engine | zingers CPU-s/row | rings CPU-s/row | both CPU-s/row |")
    print("|---|---|---|---|")
    for eng, label in (("reference", "scipy.ndimage median_filter + NumPy argsort"),
                       ("ours", "ssbscope numba kernels")):
        tz, tr, _ = res[eng]
        print(f"| {label} | {tz / rows:.3f} | {tr / rows:.3f} | {(tz + tr) / rows:.3f} |")
    tzs = min(zingers_stage_rule(p) for _ in range(max(1, a.repeat)))
    print(f"| ssbscope, the stage's rule (one-sided, temporal) | {tzs / rows:.3f} | "
          f"{res['ours'][1] / rows:.3f} | {(tzs + res['ours'][1]) / rows:.3f} |")
    (rz, rr, ro), (oz, orr, oo) = res["reference"], res["ours"]
    print(f"ratio reference / ours: zingers {rz / oz:.1f}, rings {rr / orr:.1f}, both "
          f"{(rz + rr) / (oz + orr):.1f}")
    print(f"results equal bit for bit: {np.array_equal(ro, oo)} (max |diff| "
          f"{float(np.abs(ro - oo).max()):.3g})")


if __name__ == "__main__":
    main()
