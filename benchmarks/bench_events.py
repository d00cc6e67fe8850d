"""Events -> spectral cube throughput: ssbscope.compton.events_to_cube vs numpy.

Times, in one run, on two synthetic event sets of the same frames and pixels (80 x 80
pixels, uniform over the detector, events sorted by frame, ~40 hits per 9 kHz frame as in a
HEXITEC exposure; cube 0-120 keV in 0.2 keV bins):

* "uniform": energies uniform over 0-120 keV, the worst case for the cube's caches (every
  counter of the 15 MB cube equally likely);
* "xcs": energies resampled (with replacement) from one exposure of the XCS twin
  (:func:`ssbscope.twin.xcs.simulate_exposure`, region 1 of the pristine coin cell, detector
  with resolution, fluorescence, charge sharing and shielding lines, keV output; the few
  hits above 119.9 keV are left out of the pool): a Compton peak near 90-100 keV, the
  escape/fluorescence and shielding lines and the low-energy tail of shared charge, i.e. a
  realistic spectrum whose counts concentrate in fewer bins.

For each set:

* ``numpy.histogramdd`` over (row, col, energy) (uniform set only, no charge-sharing
  discrimination; skip with ``--no-histogramdd``),
* ``numpy.bincount`` on a flat index computed with numpy (no discrimination),
* ``events_to_cube`` with charge sharing "none", "discard" (the paper's discrimination) and
  "add", on 1 thread and on all threads.

Every ``events_to_cube`` kernel is compiled (numba) and run once before timing: the times
exclude JIT compilation.  Each method is timed ``--repeat`` times and the best wall time is
kept; the CPU time of that call (process time, all threads) is printed beside it, because on a
shared machine the wall time depends on the other processes (the load average is printed
before and after): CPU seconds per million events is the figure to compare between runs.

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

NBINS = 600


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


def xcs_energy_pool(seed=1):
    """Deposited energies (keV) of one XCS-twin exposure, the pool the "xcs" set draws from."""
    from ssbscope.twin import xcs

    cell = xcs.CoinCell()
    ex = xcs.simulate_exposure(cell, cell.beam_centres_mm()["region 1"], n_photons=200_000,
                               detector=xcs.DetectorModel(output="keV"), seed=seed)
    e = ex.events["value"]
    return e[(e >= 0) & (e < 119.9)]


def run_set(name, ev, args, bw):
    """Time every method on the events ``ev``; print the table."""
    from ssbscope.compton import events_to_cube

    n = ev.size
    ncpu = os.cpu_count() or 1
    res = {}
    if name == "uniform" and not args.no_histogramdd:
        def hdd():
            h, _ = np.histogramdd(
                np.column_stack([ev["row"], ev["col"], ev["value"]]).astype(np.float64),
                bins=(80, 80, NBINS), range=((0, 80), (0, 80), (0, 120)))
            return h
        t, c, _ = best_of(hdd, 1)
        res["numpy.histogramdd (no discrimination)"] = (t, c)

    def bc():
        idx = (ev["row"].astype(np.int64) * 80 + ev["col"]) * NBINS + \
            (ev["value"].astype(np.float64) * (NBINS / 120.0)).astype(np.int64)
        return np.bincount(idx, minlength=80 * 80 * NBINS).reshape(80, 80, NBINS)
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
            print(f"[{name}] discard keeps {kept:,} of {n:,} events ({100 * kept / n:.1f} %)")
        del cubes
    del ref

    t_bc = res["numpy.bincount (no discrimination)"][0]
    print(f"\n[{name}] {n:,} events, best of {args.repeat}")
    print(f"{'method':42s} {'wall s':>7s} {'M ev/s':>7s} {'vs bincount':>11s} {'of mem bw':>9s} "
          f"{'CPU s':>7s} {'CPU s/M ev':>10s}")
    for k, (t, c) in res.items():
        print(f"{k:42s} {t:7.3f} {n / t / 1e6:7.1f} {t_bc / t:10.2f}x "
              f"{ev.nbytes / t / bw * 100:8.1f}% {c:7.3f} {c / (n / 1e6):10.4f}")
    best_disc = min(v[0] for k, v in res.items() if "discard" in k)
    best_disc_cpu = min(v[1] for k, v in res.items() if "discard" in k)
    print(f"[{name}] goal >= 100 M events/s with discrimination on {ncpu} cores: "
          f"{n / best_disc / 1e6:.1f} M events/s here (wall); "
          f"{n / best_disc_cpu / 1e6 * ncpu:.1f} M events/s if the {ncpu} cores were ours alone "
          f"(from CPU time)")
    print(f"load average after: {os.getloadavg()[0]:.1f} (on {ncpu} CPUs)\n")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="5e6 events instead of 5e7")
    ap.add_argument("--events", type=int, default=None)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--no-histogramdd", action="store_true", help="skip the slow histogramdd")
    ap.add_argument("--sets", default="uniform,xcs", help="comma-separated: uniform, xcs")
    args = ap.parse_args()
    n = args.events or (5_000_000 if args.quick else 50_000_000)
    sets = [s.strip() for s in args.sets.split(",") if s.strip()]

    from ssbscope.compton import events_to_cube, make_events

    rng = np.random.default_rng(0)
    n_frames = max(1, n // 40)
    frame = np.sort(rng.integers(0, n_frames, n)).astype(np.uint32)
    ev = make_events(frame, rng.integers(0, 80, n), rng.integers(0, 80, n),
                     rng.uniform(0.0, 119.9, n).astype(np.float32))
    del frame
    print(f"machine: {machine()}")
    print(f"events: {n:,} in {n_frames:,} frames, cube 80 x 80 x {NBINS} uint32; "
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
    print(f"warm-up incl. JIT compilation: {time.perf_counter() - t:.1f} s (not in the table)\n")

    for name in sets:
        if name == "uniform":
            run_set(name, ev, args, bw)
        elif name == "xcs":
            pool = xcs_energy_pool()
            ev["value"] = rng.choice(pool, n)  # same frames and pixels, twin energies
            h, _ = np.histogram(ev["value"], bins=12, range=(0, 120))
            print(f"[xcs] energy histogram, 10 keV bins 0-120 (% of events): "
                  f"{' '.join(f'{x:.1f}' for x in 100 * h / n)}")
            print(f"[xcs] occupied energy bins: {np.unique((ev['value'] * 5).astype(int)).size} "
                  f"of {NBINS}")
            run_set(name, ev, args, bw)
        else:
            raise SystemExit(f"unknown event set {name!r}; use uniform and/or xcs")


if __name__ == "__main__":
    main()
