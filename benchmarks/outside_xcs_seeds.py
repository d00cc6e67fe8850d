"""Coverage of ``emf_unc`` on the outside XCS check over seeds (tests/outside/outside_xcs.py).

For each seed the outside writer (numpy + xraylib only) writes its three-state, three-height
micro-cell series; ``ssbscope run`` analyses it; the 9 component EMFs of
``compton/xcs/emf`` are compared with the truth's ``emf_detected``:
``z = (emf - truth) / emf_unc``.  Prints per seed the z-scores' chi2 (9 dof), max |z| and the
mean error (%), then over all seeds: the z-scores' mean and standard deviation (1 for an
``emf_unc`` that covers the scatter), the per-(state, component) mean z (a bias common to the
seeds shows there) and the standard deviation with those means removed.  ``--json`` keeps
every seed's table.

    PYTHONPATH=src python benchmarks/outside_xcs_seeds.py [--seeds 1-14] [--json out.json]
"""

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "outside"))

from outside_xcs import write_series  # noqa: E402

COMPONENTS = ("anode", "separator", "cathode")


def one(seed, root):
    from ssbscope.cli import main
    from ssbscope.store import Store

    truth = write_series(root / "exp", seed=seed)
    assert main(["run", str(root / "exp" / "experiment.yaml"), "--out", str(root / "out"),
                 "--quiet", "--no-report"]) == 0
    ds = Store.open(root / "out" / "store.zarr").read("compton/xcs/emf").load()
    out = {}
    for key in ("emf", "emf_unc", "emf_unc_counting", "emf_unc_tail"):
        out[key] = [[float(ds[key].sel(state=s["state"], component=c)) for c in COMPONENTS]
                    for s in truth["states"]]
    out["truth"] = [[s["emf_detected"][c] for c in COMPONENTS] for s in truth["states"]]
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", default="1-14", help="a-b or comma list")
    ap.add_argument("--json", default=None)
    a = ap.parse_args()
    if "-" in a.seeds:
        lo, hi = map(int, a.seeds.split("-"))
        seeds = list(range(lo, hi + 1))
    else:
        seeds = [int(x) for x in a.seeds.split(",")]
    rows = {}
    for s in seeds:
        t0 = time.perf_counter()
        with tempfile.TemporaryDirectory() as d:
            r = one(s, Path(d))
        rows[s] = r
        m, u, t = (np.array(r[k]) for k in ("emf", "emf_unc", "truth"))
        z = (m - t) / u
        print(f"seed {s:3d}  chi2 {np.sum(z ** 2):5.1f}  max|z| {np.abs(z).max():.2f}  "
              f"mean err {100 * np.mean((m - t) / t):+.2f} %  tail/counting "
              f"{np.mean(np.array(r['emf_unc_tail']) / np.array(r['emf_unc_counting'])):.2f}"
              f"  [{time.perf_counter() - t0:.0f} s]", flush=True)
    z = np.array([(np.array(r["emf"]) - np.array(r["truth"])) / np.array(r["emf_unc"]) for r in rows.values()])
    zc = np.array([(np.array(r["emf"]) - np.array(r["truth"])) / np.array(r["emf_unc_counting"])
                   for r in rows.values()])
    print(f"{len(seeds)} seeds, {z.size} z-scores: mean {z.mean():+.3f}  sd {z.std(ddof=1):.3f}  "
          f"within 2 sigma {100 * np.mean(np.abs(z) < 2):.0f} %  (counting only: sd {zc.std(ddof=1):.3f})")
    cell = z.mean(axis=0)
    print("mean z per (state, component):\n" + np.array2string(cell, precision=2)
          + f"\n  (standard error {1 / np.sqrt(len(seeds)):.2f})")
    print(f"sd with the per-cell means removed: {np.sqrt(np.sum((z - cell) ** 2) / (z.size - cell.size)):.3f}")
    chi2 = np.sum(z.reshape(len(seeds), -1) ** 2, axis=1)
    print(f"seeds failing chi2(9) < 21.67 or max|z| < 3: "
          f"{[s for s, c2, zz in zip(seeds, chi2, z) if c2 >= 21.67 or np.abs(zz).max() >= 3]}")
    if a.json:
        Path(a.json).write_text(json.dumps({str(k): v for k, v in rows.items()}))


if __name__ == "__main__":
    main()
