"""Benchmark: runtime of the phase-field growth model (Cao et al. 2023, Fig. 4) for the
0 / 5 / 10 MPa set, one run after another on this machine, with the trend numbers beside.

Usage::

    python benchmarks/bench_phase_field.py [--size tiny|small|paper] [--pressures 0 5 10]
                                           [--counter-term]

With ``--counter-term`` (tiny, 0 / 5 / 10 MPa, 2026-12-07, load ~10): Li fraction at 500 s
0.2012 / 0.2006 / 0.2000 (off 0.1600 / 0.1594 / 0.1589), peak P_m 0 / 5.3 / 10.5 MPa, no
penetration.  The counter term's curvature evaluation costs 0.45 ms CPU per step on the small
grid (13 020 cells), 0.2 s of a 46-90 s run: its cost is negligible.

Measured 2026-12-06 on the 2-CPU Intel Xeon development machine shared with other jobs (load
average 4-7, so the timings vary by up to 2x between runs): size small (13 020 cells, 500 steps)
92 / 46 / 74 s for 0 / 5 / 10 MPa, 212 s for the set (the fastest, 46 s, is the unloaded
figure); size tiny (1 705 cells) about 8 s each. Per step: one or two sparse LU solves of the
potential (the cost), a conjugate-gradient Allen-Cahn step, and an elasticity solve every 25 s
(small) / 10 s (paper) of model time. Paper size (125 000 cells, 1000 steps at dt 0.5 s):
``--duration 5`` took 250 s for 10 steps, most of it the start-up Picard iterations; one
potential solve takes 1.25 s and one elasticity solve 15.5 s there, so a 500 s run costs about
2 x 1000 x 1.25 + 50 x 15.5 = 3300 s (~55 min) per pressure, ~2.7 h for the set: not run.
"""

from __future__ import annotations

import argparse
import time

from _machine import machine


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", default="small", choices=("tiny", "small", "paper"))
    ap.add_argument("--pressures", type=float, nargs="+", default=[0.0, 5.0, 10.0])
    ap.add_argument("--duration", type=float, default=500.0,
                    help="model time (s); below 500 the runtime is also extrapolated to 500 s")
    ap.add_argument("--counter-term", action="store_true",
                    help="cancel the diffuse interface's curvature motion (Sun & Beckermann 2007)")
    args = ap.parse_args(argv)

    from ssbscope.interface.phase_field import SIZE_NOTES, SIZES, phase_field_growth

    pre = SIZES[args.size]
    nx = round((pre["li_thickness_um"] + pre["se_thickness_um"]) / pre["cell_um"])
    ny = round(pre["height_um"] / pre["cell_um"])
    print(f"machine: {machine()}")
    print(f"size {args.size}: {SIZE_NOTES[args.size]}; grid {nx} x {ny} = {nx * ny} cells, "
          f"{round(args.duration / pre['dt_s'])} steps ({args.duration:g} s model time)")
    print(f"{'p (MPa)':>8} {'time (s)':>9} {'Li frac 0':>10} {'Li frac end':>12} "
          f"{'peak P_m (MPa)':>15} {'leak end (A)':>13} {'connected':>10}")
    total = 0.0
    for p in args.pressures:
        t0 = time.perf_counter()
        r = phase_field_growth(p, size=args.size, duration_s=args.duration,
                               curvature_counter_term=args.counter_term)
        dt = time.perf_counter() - t0
        total += dt
        print(f"{p:8.1f} {dt:9.1f} {r.li_area_fraction[0]:10.5f} {r.li_area_fraction[-1]:12.5f} "
              f"{r.peak_stress_mpa:15.2f} {r.leakage_current_a[-1]:13.3e} "
              f"{str(bool(r.connected.any())):>10}")
    steps = round(args.duration / pre["dt_s"])
    print(f"total {total:.1f} s for {len(args.pressures)} pressures "
          f"({total / len(args.pressures) / (nx * ny * steps) * 1e6:.2f} us per cell-step)")
    if args.duration < 500.0:
        print(f"extrapolated to 500 s: {total * 500.0 / args.duration:.0f} s for the set "
              "(includes the start-up Picard iterations, so an upper estimate)")


if __name__ == "__main__":
    main()
