"""Events -> spectral cube throughput: ssbscope.compton.events_to_cube vs numpy.

Times, in one run on the same synthetic events (80 x 80 pixels, 0-120 keV in 0.2 keV bins,
events sorted by frame, ~40 hits per 9 kHz frame as in a HEXITEC exposure):

* ``numpy.histogramdd`` over (row, col, energy) (no charge-sharing discrimination),
* ``numpy.bincount`` on a flat index computed with numpy (no discrimination),
* ``events_to_cube`` with charge sharing "none", "discard" (the paper's discrimination) and
  "add", on 1 thread and on all threads.

Prints events/s, the ratio to bincount, and the fraction of memory bandwidth reached
(bytes of event records read per second over a measured ``numpy`` streaming-read bandwidth).

Run ``python benchmarks/bench_events.py`` (5e7 events) or ``--quick`` (5e6).
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np
from _machine import cpu_model



def best_of(fn, repeat):
    best = np.inf
    out = None
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t)
    return best, out


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="5e6 events instead of 5e7")
    ap.add_argument("--events", type=int, default=None)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    n = args.events or (5_000_000 if args.quick else 50_000_000)

    import numba

    from ssbscope.compton import events_to_cube, make_events

    rng = np.random.default_rng(0)
    n_frames = max(1, n // 40)
    frame = np.sort(rng.integers(0, n_frames, n)).astype(np.uint32)
    ev = make_events(frame, rng.integers(0, 80, n), rng.integers(0, 80, n),
                     rng.uniform(0.0, 119.9, n).astype(np.float32))
    nbins = 600
    print(f"machine: {os.cpu_count()} cpus, {cpu_model()}, numba threads {numba.get_num_threads()}")
    print(f"events: {n:,} in {n_frames:,} frames, cube 80 x 80 x {nbins} uint32")

    # memory bandwidth reference: a streaming read of the records (sum of a uint64 view)
    raw = ev.view(np.uint8)
    words = raw[: raw.size // 8 * 8].view(np.uint64)
    t_bw, _ = best_of(lambda: words.sum(), args.repeat)
    bw = raw.nbytes / t_bw
    print(f"streaming read bandwidth (numpy sum): {bw / 1e9:.1f} GB/s")

    res = {}
    if n <= 50_000_000:
        def hdd():
            h, _ = np.histogramdd(
                np.column_stack([ev["row"], ev["col"], ev["value"]]).astype(np.float64),
                bins=(80, 80, nbins), range=((0, 80), (0, 80), (0, 120)))
            return h
        t, _ = best_of(hdd, 1)
        res["numpy.histogramdd"] = t

    def bc():
        idx = (ev["row"].astype(np.int64) * 80 + ev["col"]) * nbins + \
            (ev["value"].astype(np.float64) * (nbins / 120.0)).astype(np.int64)
        return np.bincount(idx, minlength=80 * 80 * nbins).reshape(80, 80, nbins)
    t, ref = best_of(bc, args.repeat)
    res["numpy.bincount (flat index)"] = t

    events_to_cube(ev[:1000], charge_sharing="discard")  # compile
    events_to_cube(ev[:1000], charge_sharing="add")
    threads = sorted({1, numba.get_num_threads()})
    for mode in ("none", "discard", "add"):
        for th in threads:
            t, cube = best_of(lambda: events_to_cube(ev, charge_sharing=mode, n_threads=th),
                              args.repeat)
            res[f"events_to_cube {mode:7s} {th} thread(s)"] = t
            if mode == "none":
                assert np.array_equal(cube, ref), "cube differs from bincount"
    t_bc = res["numpy.bincount (flat index)"]
    print(f"{'method':42s} {'time s':>8s} {'M events/s':>11s} {'vs bincount':>12s} {'of mem bw':>10s}")
    for k, t in res.items():
        rate = n / t
        print(f"{k:42s} {t:8.3f} {rate / 1e6:11.1f} {t_bc / t:11.2f}x "
              f"{ev.nbytes / t / bw * 100:9.1f}%")


if __name__ == "__main__":
    main()
