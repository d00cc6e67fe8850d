"""Accuracy through the chain at a larger size: the report's accuracy table for a bigger twin.

Runs ``ssbscope demo --size SIZE --out DIR`` (the twin writes its experiment folder, then
exactly ``ssbscope run`` on it) in a child process, then builds
:func:`ssbscope.report.accuracy.accuracy_table` from the store and the twin's ``truth.json``,
and prints it as a Markdown table with the run's wall time, the child's peak RSS and the
machine. The tolerances are those of the report (see :mod:`ssbscope.report.accuracy`).

Usage::

    python benchmarks/accuracy.py [--size medium] [--only tomo,echem] [--out DIR] [--csv FILE]
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _machine import machine


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", default="medium", choices=("tiny", "small", "medium"))
    ap.add_argument("--only", default=None, help="comma-separated modalities (default all)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default=None, help="demo folder (default: a temporary one)")
    ap.add_argument("--csv", default=None, help="also write the table as CSV")
    a = ap.parse_args(argv)

    out = Path(a.out) if a.out else Path(tempfile.mkdtemp(prefix="ssbscope-accuracy-"))
    cmd = [sys.executable, "-m", "ssbscope", "demo", "--size", a.size, "--out", str(out),
           "--seed", str(a.seed), "--quiet"]
    if a.only:
        cmd += ["--only", a.only]
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True)
    wall = time.perf_counter() - t0
    peak_gb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024 ** 2

    from ssbscope.report.accuracy import accuracy_table
    from ssbscope.store import Store

    df = accuracy_table(Store.open(out / "store.zarr"))
    if a.csv:
        df.to_csv(a.csv, index=False)
    judged = df[df["within"].notna()]
    print(f"# accuracy through the chain, twin size {a.size}, seed {a.seed}")
    print(f"machine: {machine()}")
    print(f"demo + run: {wall:.0f} s wall, peak RSS {peak_gb:.2f} GB; "
          f"{int(judged['within'].astype(bool).sum())} of {len(judged)} within tolerance\n")
    print("| paper | quantity | where | measured | truth | error | tolerance | within |")
    print("|---|---|---|---|---|---|---|---|")
    for r in df.itertuples():
        w = "—" if r.within is None else ("yes" if r.within else "**no**")
        print(f"| {r.paper} | {r.quantity} | {r.where} | {r.measured:.4g} {r.unit} | "
              f"{r.truth:.4g} | {r.error:+.3g} {r.error_unit} | {r.tolerance:.3g} | {w} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
