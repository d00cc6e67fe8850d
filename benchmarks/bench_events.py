"""Events -> spectral cube throughput: ssbscope.compton.events_to_cube vs numpy.

Times, in one run on the same synthetic events (80 x 80 pixels, 0-120 keV in 0.2 keV bins,
events sorted by frame, ~40 hits per 9 kHz frame as in a HEXITEC exposure):

* ``numpy.histogramdd`` over (row, col, energy) (no charge-sharing discrimination),
* ``numpy.bincount`` on a flat index computed with numpy (no discrimination),
* ``events_to_cube`` with charge sharing "none", "discard" (the paper's discrimination) and
  "add", on 1 thread and on all threads.

Every ``events_to_cube`` kernel is compiled (numba) and run once before timing: the times
exclude JIT compilation.  Each method is timed ``--repeat`` times and the best wall time is
kept; the CPU time of that call (process time, all threads) is printed beside it, because on a
shared machine the wall time depends on the other processes (the load average is printed
before and after).

Prints events/s, the ratio to bincount, and the fraction of memory bandwidth reached: bytes of
event records read per second (12 bytes per event) over a streaming read of the same records
measured in the same run (numpy sum over a uint64 view, one thread).

Run ``python benchmarks/bench_events.py`` (5e7 events) or ``--quick`` (5e6).
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np
from _machine import machine


def best_of(fn, repeat):
    """Best wall time over ``repeat`` calls, the CPU time of that call, and its result."""
    best, cpu, out = np.inf, np.nan, None
    for _ in range(repeat):
        c = time.process_time()
        t = time.perf_counter()
        out = fn()
        dt = time.perf_counter() - t
        if dt < best:
            best, cpu = dt, time.process_time() - c
    return best, cpu, out


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="5e6 events instead of 5e7")
    ap.add_argument("--events", type=int, default=None)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--no-histogramdd", action="store_true", help="skip the slow histogramdd")
    args = ap.parse_args()
    n = args.events or (5_000_000 if args.quick else 50_000_000)

    from ssbscope.compton import events_to_cube, make_events

    rng = np.random.default_rng(0)
    n_frames = max(1, n // 40)
    frame = np.sort(rng.integers(0, n_frames, n)).astype(np.uint32)
    ev = make_events(frame, rng.integers(0, 80, n), rng.integers(0, 80, n),
                     rng.uniform(0.0, 119.9, n).astype(np.float32))
    nbins = 600
    ncpu = os.cpu_count() or 1
    print(f"machine: {machine()}")
    print(f"events: {n:,} in {n_frames:,} frames, cube 80 x 80 x {nbins} uint32; "
          f"best of {args.repeat}")

    # memory bandwidth reference: a streaming read of the records (sum of a uint64 view)
    raw = ev.view(np.uint8)
    words = raw[: raw.size // 8 * 8].view(np.uint64)
    t_bw, _, _ = best_of(lambda: words.sum(), args.repeat)
    bw = raw.nbytes / t_bw
    print(f"streaming read bandwidth (numpy sum, 1 thread): {bw / 1e9:.1f} GB/s")

    # compile every kernel before timing (JIT time excluded from the table)
    t = time.perf_counter()
    for mode in ("none", "discard", "add"):
        events_to_cube(ev[:2_000_000], charge_sharing=mode, n_threads=2)
    print(f"warm-up incl. JIT compilation: {time.perf_counter() - t:.1f} s (not in the table)")

    res = {}
    if not args.no_histogramdd:
        def hdd():
            h, _ = np.histogramdd(
                np.column_stack([ev["row"], ev["col"], ev["value"]]).astype(np.float64),
                bins=(80, 80, nbins), range=((0, 80), (0, 80), (0, 120)))
            return h
        t, c, _ = best_of(hdd, 1)
        res["numpy.histogramdd (no discrimination)"] = (t, c)

    def bc():
        idx = (ev["row"].astype(np.int64) * 80 + ev["col"]) * nbins + \
            (ev["value"].astype(np.float64) * (nbins / 120.0)).astype(np.int64)
        return np.bincount(idx, minlength=80 * 80 * nbins).reshape(80, 80, nbins)
    t, c, ref = best_of(bc, args.repeat)
    res["numpy.bincount (no discrimination)"] = (t, c)

    threads = sorted({1, ncpu})
    for mode in ("none", "discard", "add"):
        cubes = []
        for th in threads:
            t, c, cube = best_of(lambda m=mode, k=th: events_to_cube(ev, charge_sharing=m, n_threads=k),
                                 args.repeat)
            res[f"events_to_cube {mode:7s} {th} thread(s)"] = (t, c)
            cubes.append(cube)
            if mode == "none":
                assert np.array_equal(cube, ref), "cube differs from bincount"
        assert all(np.array_equal(cubes[0], x) for x in cubes), "thread count changed the cube"
        if mode == "discard":
            kept = int(cubes[0].sum())
            print(f"discard keeps {kept:,} of {n:,} events ({100 * kept / n:.1f} %)")
        del cubes

    t_bc = res["numpy.bincount (no discrimination)"][0]
    print(f"{'method':42s} {'wall s':>7s} {'M ev/s':>7s} {'vs bincount':>11s} {'of mem bw':>9s} "
          f"{'CPU s':>7s} {'M ev/CPU-s':>10s}")
    for k, (t, c) in res.items():
        print(f"{k:42s} {t:7.3f} {n / t / 1e6:7.1f} {t_bc / t:10.2f}x "
              f"{ev.nbytes / t / bw * 100:8.1f}% {c:7.3f} {n / c / 1e6:10.1f}")
    print(f"load average after: {os.getloadavg()[0]:.1f} (on {ncpu} CPUs)")
    best_disc = min(v[0] for k, v in res.items() if "discard" in k)
    print(f"goal >= 100 M events/s with discrimination on {ncpu} cores: "
          f"{n / best_disc / 1e6:.1f} M events/s here")


if __name__ == "__main__":
    main()
