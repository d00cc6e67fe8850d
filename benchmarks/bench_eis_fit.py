"""EIS fitting: ssbscope.echem.fit_eis vs impedance.py (CustomCircuit) on the same spectra.

Circuit R_s + ((R_ct + W) ∥ CPE) (impedance.py string ``R0-p(R1-W1,CPE1)``), 61 frequencies
1e5–0.1 Hz, 1 % modulus noise, random true values per spectrum (seeded).  Both fits use
modulus weighting.  impedance.py gets a generic starting guess (its fit needs one); ssbscope
estimates its own from the arc.  Prints, for each, the time per spectrum, the ratio of times,
and the median / worst relative error of R_s and R_ct, plus how many fits missed R_ct by > 2 %.

Run ``python benchmarks/bench_eis_fit.py`` (200 spectra) or ``--quick`` (30).
"""

from __future__ import annotations

import argparse
import os
import platform
import time

import numpy as np
from _machine import cpu_model



def spectra(n, seed=0):
    from ssbscope.echem import randles_impedance

    rng = np.random.default_rng(seed)
    f = np.logspace(5, -1, 61)
    out = []
    for _ in range(n):
        truth = (10 ** rng.uniform(0, 2), 10 ** rng.uniform(1, 3), 10 ** rng.uniform(-6.5, -4.5),
                 rng.uniform(0.7, 1.0), 10 ** rng.uniform(0, 2))
        z = randles_impedance(f, *truth)
        z = z + np.abs(z) * 0.01 * (rng.normal(size=f.size) + 1j * rng.normal(size=f.size))
        out.append((f, z, truth))
    return out


def errors(fits, data):
    e_rs = np.array([abs(a[0] / d[2][0] - 1) for a, d in zip(fits, data)])
    e_rct = np.array([abs(a[1] / d[2][1] - 1) for a, d in zip(fits, data)])
    return e_rs, e_rct


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("-n", type=int, default=None)
    a = ap.parse_args()
    n = a.n or (30 if a.quick else 200)
    data = spectra(n)
    from ssbscope.echem import fit_eis

    fit_eis(*[data[0][0], data[0][1].real, data[0][1].imag])  # warm-up (imports)
    t0 = time.perf_counter()
    ours = []
    for f, z, _ in data:
        r = fit_eis(f, z.real, z.imag)
        ours.append((r.r_s_ohm, r.r_ct_ohm))
    t_ours = (time.perf_counter() - t0) / n
    print(f"machine: {os.cpu_count()} CPUs, {cpu_model()}, Python {platform.python_version()}")
    print(f"{n} spectra, 61 frequencies, 1 % noise")
    e_rs, e_rct = errors(ours, data)
    print(f"ssbscope fit_eis : {1e3 * t_ours:8.1f} ms/spectrum  R_s err median {np.median(e_rs):.2%} "
          f"max {e_rs.max():.2%}  R_ct err median {np.median(e_rct):.2%} max {e_rct.max():.2%}  "
          f"R_ct > 2 % off: {int((e_rct > 0.02).sum())}")
    try:
        from impedance.models.circuits import CustomCircuit
    except ImportError:
        print("impedance.py not installed: no peer timing (pip install impedance)")
        return
    import warnings

    peer = []
    t0 = time.perf_counter()
    for f, z, _ in data:
        cc = CustomCircuit("R0-p(R1-W1,CPE1)", initial_guess=[10.0, 100.0, 10.0, 1e-5, 0.9])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                cc.fit(f, z, weight_by_modulus=True)
                p = cc.parameters_
                peer.append((p[0], p[1]))
            except Exception as exc:  # noqa: BLE001 - a peer failure is a result to report
                peer.append((np.nan, np.nan))
                print(f"impedance.py failed on one spectrum: {type(exc).__name__}")
    t_peer = (time.perf_counter() - t0) / n
    e_rs, e_rct = errors(peer, data)
    print(f"impedance.py     : {1e3 * t_peer:8.1f} ms/spectrum  R_s err median {np.nanmedian(e_rs):.2%} "
          f"max {np.nanmax(e_rs):.2%}  R_ct err median {np.nanmedian(e_rct):.2%} max {np.nanmax(e_rct):.2%}  "
          f"R_ct > 2 % off: {int(np.sum(~(e_rct <= 0.02)))}")
    print(f"time ratio ssbscope / impedance.py: {t_ours / t_peer:.2f}")


if __name__ == "__main__":
    main()
