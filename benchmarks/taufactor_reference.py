"""Record TauFactor's tau for each phase and axis of the real electrode volume.

Writes ``tests/transport/data/taufactor_electrode_reference.json`` (``_<crop>.json`` for
other crops) used by
``tests/transport/test_realdata.py``. TauFactor's SOR solver is slow on 2 CPU cores, so the
default is the central ``--crop`` voxels (96^3); ``--crop 256`` runs the whole volume.

Results are written after every case and merged with the cases already in the file, so a
long ``--crop 256`` run can be split (``--only 0:0,85:2``) and resumed after an interruption
(cases present in the file are skipped unless ``--redo``).

Usage: python benchmarks/taufactor_reference.py [--crop 96] [--conv-crit 1e-3] [--threads 1]
       [--only LABEL:AXIS,...] [--redo]
       python benchmarks/taufactor_reference.py --crop 256 --compare   # ssbscope beside the file
"""

from __future__ import annotations

import argparse
import json
import time
from importlib import metadata
from pathlib import Path

import numpy as np
import tifffile

ROOT = Path(__file__).resolve().parents[1]
TIFF = ROOT.parent / "shared" / "realdata" / "ct_volume" / "taufactor_electrode.tiff"
OUT = ROOT / "tests" / "transport" / "data" / "taufactor_electrode_reference.json"


def crop_centre(vol: np.ndarray, n: int) -> np.ndarray:
    s = [(d - n) // 2 for d in vol.shape]
    return vol[s[0]:s[0] + n, s[1]:s[1] + n, s[2]:s[2] + n]


def _out_path(crop: int) -> Path:
    return OUT if crop == 96 else OUT.with_name(f"taufactor_electrode_reference_{crop}.json")


def compare(crop: int) -> None:
    """ssbscope's tau beside every case recorded for ``crop``; prints one row per case."""
    from ssbscope.transport import tortuosity

    ref = json.loads(_out_path(crop).read_text())
    vol = crop_centre(tifffile.imread(TIFF), crop)
    print(f"crop {crop}^3, TauFactor conv_crit {ref['conv_crit']}")
    print("label axis  tau_taufactor  tau_ssbscope  rel_diff   t_taufactor_s  t_ssbscope_s")
    worst = 0.0
    for row in ref["results"]:
        t0 = time.perf_counter()
        r = tortuosity(vol == row["label"], axis=row["axis"])
        dt = time.perf_counter() - t0
        if row["tau"] is None:
            print(f"{row['label']:5d} {row['axis']:4d}  {'inf':>13}  {r.tau:12.6g}")
            continue
        d = r.tau / row["tau"] - 1.0
        worst = max(worst, abs(d))
        print(f"{row['label']:5d} {row['axis']:4d}  {row['tau']:13.6f}  {r.tau:12.6f}  {d:+.2e}"
              f"  {row['seconds']:13.1f}  {dt:12.1f}", flush=True)
    print(f"{len(ref['results'])} case(s), largest |relative difference| {worst:.2e}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--crop", type=int, default=96)
    ap.add_argument("--conv-crit", type=float, default=1e-3)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--only", default=None, help="comma-separated LABEL:AXIS cases")
    ap.add_argument("--redo", action="store_true", help="recompute cases already in the file")
    ap.add_argument("--compare", action="store_true",
                    help="solve the recorded cases with ssbscope and print the relative differences")
    args = ap.parse_args()
    if args.compare:
        return compare(args.crop)
    import taufactor
    import torch

    torch.set_num_threads(args.threads)
    vol = crop_centre(tifffile.imread(TIFF), args.crop)
    out = _out_path(args.crop)
    done = {}
    if out.exists():
        old = json.loads(out.read_text())
        if old.get("crop") == args.crop and old.get("conv_crit") == args.conv_crit:
            done = {(r["label"], r["axis"]): r for r in old["results"]}
    cases = [(lab, ax) for lab in (0, 85, 170) for ax in range(3)]
    if args.only:
        cases = [tuple(int(v) for v in c.split(":")) for c in args.only.split(",")]
    for label, axis in cases:
        if (label, axis) in done and not args.redo:
            print("skip (in file)", done[(label, axis)], flush=True)
            continue
        img = np.moveaxis(vol == label, axis, 0).astype(np.uint8)
        t0 = time.perf_counter()
        s = taufactor.Solver(np.ascontiguousarray(img), device="cpu")
        tau = float(np.atleast_1d(s.solve(verbose=False, conv_crit=args.conv_crit,
                                          iter_limit=100000))[0])
        dt = time.perf_counter() - t0
        tau = tau if np.isfinite(tau) and tau > 0 else None
        done[(label, axis)] = {"label": label, "axis": axis, "tau": tau,
                               "porosity": float(np.mean(img)), "seconds": round(dt, 1),
                               "threads": args.threads, "converged": bool(s.converged)}
        print(done[(label, axis)], flush=True)
        rows = [done[k] for k in sorted(done)]
        meta = {"source": str(TIFF.name), "crop": args.crop,
                "crop_rule": "central crop, (d - n) // 2",
                "conv_crit": args.conv_crit, "taufactor": metadata.version("taufactor"), "torch": torch.__version__,
                "solver": "taufactor.Solver (binary, no-flux sides), flux along the first axis "
                          "of np.moveaxis(vol == label, axis, 0)", "results": rows}
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = out.with_suffix(".tmp")
        tmp.write_text(json.dumps(meta, indent=1))
        tmp.replace(out)

if __name__ == "__main__":
    main()
