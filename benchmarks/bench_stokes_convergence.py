"""Benchmark: lateral grid convergence of the finite-slope creep pressure of pyramid and
frustum contours (Zhang et al. 2024, doi:10.1039/d3ee03322h; :mod:`ssbscope.interface.stokes`).

H25S150, linearised Butler-Volmer current (R_ct 10 Ohm cm2, 2 mS/cm, 12 x 12 current grid, the
study's), default Li creep law with local viscosity, normal traction; Q2 elements per
quarter-cell side n = 6, 8, 10, 12 at a fixed 8 layers through the depth (the interface layer
at an eighth of the tip radius converges the layers; :mod:`ssbscope.interface.stokes`).  The site
pressure drifts down under lateral refinement; with a constant ratio ``q`` of successive
differences (geometric convergence in the refinement step) the limit is
``p_n + d_n q / (1 - q)`` (Aitken's delta-squared on the last three grids), and with an
algebraic rate ``p_h = p_0 + C h^r`` (h = 1/n) the Richardson value solves the last three grids
for ``r``.  Both are printed; the study's 6-element value is compared with them.

The values below are ``ssbscope.interface.stokes.GRID_CONVERGENCE`` (rerun this benchmark
and update that table when the solver changes; tests/interface/test_stokes.py recomputes its
6-element pyramid value), from which the contour study extrapolates its 6-element
pyramid/frustum pressures (``site_excess_pressure_extrapolated_mpa``, ``stokes_grid_drift``).
Cost of converging instead: 6 -> 12 elements is about 9 times the CPU per solve (two solves
per contour), e.g. the tiny demo's two shape contours from about 20 s to about 190 s CPU.

Usage::

    python benchmarks/bench_stokes_convergence.py [--grids 6 8 10 12] [--shapes pyramid frustum]

Measured 2026-12-07 on the shared 2-CPU development machine (load ~10; CPU s per solve)::

    pyramid   n=6 0.3062 (4.4 s)  8 0.2826 (-7.7 %, 16 s)  10 0.2634 (-6.8 %, 25 s)
              12 0.2558 (-2.9 %, 40 s); Aitken 0.2510, Richardson 0.2476 MPa (order 3.6);
              6 elements +22 % / +24 % over them
    frustum   n=6 0.4188 (5.9 s)  8 0.3796 (-9.4 %, 24 s)  10 0.3559 (-6.3 %, 33 s)
              12 0.3488 (-2.0 %, 54 s); Aitken 0.3459, Richardson 0.3440 MPa (order 4.9);
              6 elements +21 % / +22 % over them
    egg-box   (--shapes egg-box --grids 4 6 8 10 12) 0.2487, 0.2283, 0.2285, 0.2281, 0.2277 MPa
              (1.3, 2.5, 7.1, 15, 27 s): converged from 6 elements, no extrapolation needed

Rerun in this session (load 7-15): pyramid 0.3062 / 0.2826 / 0.2634 / 0.2558 MPa (4.8, 16, 26,
43 s CPU), frustum 0.4188 / 0.3796 / 0.3559 (7.2, 23, 37 s CPU): the table reproduced.
Frustum re-measured at 10 and 12 elements (2026-12-07, ``--shapes frustum --grids 10 12``,
load 2-15): 0.3559 MPa (37 s CPU) and 0.3488 MPa (-1.98 %, 58 s CPU), the table's values to
the fourth digit, so GRID_CONVERGENCE and the extrapolated limits (Richardson 0.3440, Aitken
0.3459 MPa) stand.  Not a test: the frustum's 6-12 element set costs about 125 s CPU
(pyramid about 90 s), far beyond the suite's 20 s per test; tests/interface/test_stokes.py
recomputes the 6-element pyramid value instead.
"""

from __future__ import annotations

import argparse
import time

from _machine import machine


def richardson_nonuniform(n, p):
    """``p_0`` and ``r`` of ``p = p_0 + C n^-r`` through three grids (bisection on r)."""
    import math

    (n1, n2, n3), (p1, p2, p3) = n, p
    d12, d23 = p1 - p2, p2 - p3
    if d12 * d23 <= 0:
        return float("nan"), float("nan")
    target = d12 / d23

    def f(r):
        return (n1 ** -r - n2 ** -r) / (n2 ** -r - n3 ** -r) - target

    lo, hi = 1e-3, 20.0
    if f(lo) * f(hi) > 0:
        return float("nan"), float("nan")
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if f(lo) * f(mid) <= 0:
            hi = mid
        else:
            lo = mid
    r = 0.5 * (lo + hi)
    C = d23 / (n2 ** -r - n3 ** -r)
    return p3 - C * n3 ** -r, r


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--grids", type=int, nargs="+", default=[6, 8, 10, 12])
    ap.add_argument("--shapes", nargs="+", default=["pyramid", "frustum"])
    ap.add_argument("--layers", type=int, default=8)
    args = ap.parse_args(argv)

    from ssbscope.interface import CreepLaw, current_distribution
    from ssbscope.interface.stokes import solve_interface_stokes

    print(f"machine: {machine()}")
    law = CreepLaw()
    for shape in args.shapes:
        kin = current_distribution(shape, 25.0, 150.0, r_ct_ohm_cm2=10.0, conductivity_s_cm=2e-3,
                                   thickness_um=1000.0, geometric_current_ma_cm2=1.0, n_xy=12,
                                   n_zeta=12)
        ps = []
        print(f"{shape} H25S150 ({args.layers} layers, local viscosity, normal traction)")
        print(f"{'n':>4} {'site p (MPa)':>13} {'change':>9} {'CPU (s)':>8}")
        for n in args.grids:
            t0 = time.process_time()
            s = solve_interface_stokes(kin, law=law, n_xy=n, n_z=args.layers, stress="normal")
            t = time.process_time() - t0
            p = float(s.site_excess_pressure_mpa)
            ch = "" if not ps else f"{(p - ps[-1]) / ps[-1]:+.2%}"
            ps.append(p)
            print(f"{n:4d} {p:13.4f} {ch:>9} {t:8.1f}", flush=True)
        if len(ps) >= 3:
            d1, d2 = ps[-2] - ps[-3], ps[-1] - ps[-2]
            q = d2 / d1 if d1 else float("nan")
            aitken = ps[-1] + d2 * q / (1 - q) if 0 < q < 1 else float("nan")
            rich, r = richardson_nonuniform(args.grids[-3:], ps[-3:])
            print(f"  ratio of successive changes {q:.2f}; geometric (Aitken) limit "
                  f"{aitken:.4f} MPa; algebraic Richardson limit {rich:.4f} MPa (order {r:.2f})")
            for name, lim in (("Aitken", aitken), ("Richardson", rich)):
                if lim == lim:
                    print(f"  6-element value over the {name} limit: {ps[0] / lim - 1:+.1%}")


if __name__ == "__main__":
    main()
