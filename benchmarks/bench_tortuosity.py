"""Tortuosity factor: ssbscope.transport.tortuosity beside TauFactor (PyTorch, CPU).

Both solve TauFactor's finite-volume problem on the same seeded random microstructure
(Gaussian-filtered noise thresholded at 50 % porosity, 6-connected). Equal tolerance:
TauFactor runs to its flux-balance criterion ``conv_crit`` (its default 1e-2, relative spread
of the plane fluxes) and ssbscope to the same flux balance (``flux_tol``) with a relative
residual of 1e-4. Prints time, tau, the ratio of times and the relative tau difference.

Usage: python benchmarks/bench_tortuosity.py [--quick] [--sizes 200 300] [--threads 2]
"""

from __future__ import annotations

import argparse
import os
import platform
import time

import numpy as np
import scipy.ndimage as ndi
from _machine import cpu_model


def microstructure(n: int, seed: int = 0, porosity: float = 0.5, sigma: float = 2.0):
    rng = np.random.default_rng(seed)
    f = ndi.gaussian_filter(rng.standard_normal((n, n, n)).astype(np.float32), sigma)
    return f > np.quantile(f, 1 - porosity)



def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="sizes 64 and 100 instead of 200, 300")
    ap.add_argument("--sizes", type=int, nargs="*", default=None)
    ap.add_argument("--threads", type=int, default=2, help="torch CPU threads for TauFactor")
    ap.add_argument("--conv-crit", type=float, default=1e-2)
    ap.add_argument("--no-peer", action="store_true")
    args = ap.parse_args()
    sizes = args.sizes or ([64, 100] if args.quick else [200, 300])

    from ssbscope.transport import tortuosity

    try:
        if args.no_peer:
            raise ImportError("--no-peer")
        import taufactor
        import torch

        torch.set_num_threads(args.threads)
        from importlib.metadata import version

        peer = f"taufactor {version('taufactor')} (torch {torch.__version__}, CPU, {args.threads} threads)"
    except ImportError as exc:
        taufactor = None
        peer = f"not available ({exc})"
    print(f"machine: {os.cpu_count()} CPUs, {cpu_model()}; python {platform.python_version()}")
    print(f"peer: {peer}")
    print(f"tolerance: flux balance {args.conv_crit:g} for both; ssbscope rtol 1e-4")
    print(f"{'n':>5} {'ours_s':>8} {'tau_ours':>9} {'iters':>6} {'peer_s':>8} {'tau_peer':>9} {'ratio':>6} {'dtau_%':>7}")
    for n in sizes:
        mask = microstructure(n)
        t0 = time.perf_counter()
        r = tortuosity(mask, axis=0, rtol=1e-4, flux_tol=args.conv_crit)
        t_ours = time.perf_counter() - t0
        if taufactor is not None:
            t0 = time.perf_counter()
            s = taufactor.Solver(mask.astype(np.uint8), device="cpu")
            tau_p = float(np.atleast_1d(s.solve(verbose=False, conv_crit=args.conv_crit))[0])
            t_peer = time.perf_counter() - t0
            ratio = t_ours / t_peer
            dtau = 100 * (r.tau - tau_p) / tau_p
            print(f"{n:>5} {t_ours:8.2f} {r.tau:9.5f} {r.iterations:6d} {t_peer:8.2f} {tau_p:9.5f} "
                  f"{ratio:6.3f} {dtau:7.3f}")
        else:
            print(f"{n:>5} {t_ours:8.2f} {r.tau:9.5f} {r.iterations:6d} {'-':>8} {'-':>9} {'-':>6} {'-':>7}")
    print("ratio = ssbscope time / taufactor time (goal <= 0.5)")


if __name__ == "__main__":
    main()
