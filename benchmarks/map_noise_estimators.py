"""Accuracy of the shared map-noise model (ssbscope.mapnoise.fit_map_noise) on maps of known noise.

Synthetic 96 x 96 maps (a disk of ~5700 pixels, 2 um pixels): a signal (``smooth``: Gaussian
random field of 4 px, std 0.15; ``broad``: the same at 8 px; ``hotspots``: ten 3 px Gaussian
bumps of +50 %; ``sharp``: fourteen 1.25 px bumps of +30-56 % and five hard-edged plateaus of
+0.2) plus white noise and white noise filtered by a Gaussian of std ``l`` (0-3 px), each
scaled to its std.  Printed: estimate over truth, the truth being the std of the noise alone
on the disk, unsmoothed and after the same Gaussian smoothing (4 and 12 um), pooled over
``--draws`` draws.  The numbers of the two former estimators (the interface periodogram fit,
the transport variogram fit) are in benchmarks/README.md.

Usage::

    python benchmarks/map_noise_estimators.py [--draws 3] [--kinds smooth,broad,hotspots,sharp]
"""

from __future__ import annotations

import argparse
import math
import time

import numpy as np
from scipy import ndimage as ndi

N, PX = 96, 2.0
CASES = [(0.0, 0.1, 0.0), (0.05, 0.1, 0.5), (0.05, 0.1, 1.0), (0.05, 0.1, 1.5), (0.0, 0.1, 1.5),
         (0.05, 0.1, 2.0), (0.05, 0.1, 3.0)]
SMOOTHINGS_UM = (0.0, 4.0, 12.0)


def disk(n=N):
    yy, xx = np.mgrid[:n, :n] - n / 2 + 0.5
    return np.hypot(yy, xx) < 0.45 * n


def signal(kind, rng, n=N):
    y, x = np.mgrid[0:n, 0:n].astype(float)
    s = np.ones((n, n))
    if kind in ("smooth", "broad"):
        f = ndi.gaussian_filter(rng.standard_normal((n, n)), 4.0 if kind == "smooth" else 8.0,
                                mode="wrap")
        return s + 0.15 * f / f.std()
    if kind == "hotspots":
        for cy, cx in rng.uniform(5, n - 5, size=(10, 2)):
            s += 0.5 * np.exp(-((x - cx) ** 2 + (y - cy) ** 2) / (2 * 3.0 ** 2))
        return s
    if kind == "sharp":
        for cy, cx in rng.uniform(5, n - 5, size=(14, 2)):
            s += rng.uniform(0.3, 0.56) * np.exp(-((x - cx) ** 2 + (y - cy) ** 2) / (2 * 1.25 ** 2))
        for cy, cx in rng.uniform(8, n - 8, size=(5, 2)):
            s += 0.2 * (np.hypot(x - cx, y - cy) < rng.uniform(3, 7))
        return s
    raise ValueError(kind)


def noise(rng, white, corr, l_px, n=N):
    f = white * rng.standard_normal((n, n))
    if corr > 0:
        c = (ndi.gaussian_filter(rng.standard_normal((n, n)), l_px, mode="wrap") if l_px > 0
             else rng.standard_normal((n, n)))
        f += corr * c / c.std()
    return f


def main(argv=None):
    from ssbscope.interface.topography import smooth_map
    from ssbscope.mapnoise import fit_map_noise

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--draws", type=int, default=3)
    ap.add_argument("--kinds", default="smooth,broad,hotspots,sharp")
    args = ap.parse_args(argv)
    cell = disk()
    t0 = time.perf_counter()
    head = "  ".join(f"{s:g} um" for s in SMOOTHINGS_UM)
    print("signal    white  corr  l_px  model(s)   " + head)
    for kind in args.kinds.split(","):
        for white, corr, l_px in CASES:
            est = {s: [] for s in SMOOTHINGS_UM}
            true = {s: [] for s in SMOOTHINGS_UM}
            models = []
            for d in range(args.draws):
                rng = np.random.default_rng(1000 * d + int(10 * l_px) + 7)
                s, nz = signal(kind, rng), noise(rng, white, corr, l_px)
                m = np.where(cell, s + nz, np.nan)
                r = fit_map_noise(m)
                models.append("c" if r.model == "white+gaussian" else "w")
                for sm in SMOOTHINGS_UM:
                    true[sm].append(np.nanvar(smooth_map(np.where(cell, nz, np.nan), PX, sm)))
                    est[sm].append(r.smoothed_sigma(sm, PX, valid=cell) ** 2)
            ratios = [math.sqrt(np.mean(est[sm]) / np.mean(true[sm])) for sm in SMOOTHINGS_UM]
            print(f"{kind:9s} {white:5.2f} {corr:5.2f} {l_px:5.1f}  {''.join(models):9s}  "
                  + "  ".join(f"{v:5.2f}" for v in ratios), flush=True)
    print(f"time {time.perf_counter() - t0:.1f} s")


if __name__ == "__main__":
    main()
