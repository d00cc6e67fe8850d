"""Record TauFactor's tau for each phase and axis of the real electrode volume.

Writes ``tests/transport/data/taufactor_electrode_reference.json`` (``_<crop>.json`` for
other crops) used by
``tests/transport/test_realdata.py``. TauFactor's SOR solver is slow on 2 CPU cores, so the
default is the central ``--crop`` voxels (96^3); ``--crop 256`` runs the whole volume.

Usage: python benchmarks/taufactor_reference.py [--crop 96] [--conv-crit 1e-3] [--threads 1]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import tifffile

ROOT = Path(__file__).resolve().parents[1]
TIFF = ROOT.parent / "shared" / "realdata" / "ct_volume" / "taufactor_electrode.tiff"
OUT = ROOT / "tests" / "transport" / "data" / "taufactor_electrode_reference.json"


def crop_centre(vol: np.ndarray, n: int) -> np.ndarray:
    s = [(d - n) // 2 for d in vol.shape]
    return vol[s[0]:s[0] + n, s[1]:s[1] + n, s[2]:s[2] + n]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--crop", type=int, default=96)
    ap.add_argument("--conv-crit", type=float, default=1e-3)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    import taufactor
    import torch

    torch.set_num_threads(args.threads)
    vol = crop_centre(tifffile.imread(TIFF), args.crop)
    rows = []
    for label in (0, 85, 170):
        for axis in range(3):
            img = np.moveaxis(vol == label, axis, 0).astype(np.uint8)
            t0 = time.perf_counter()
            s = taufactor.Solver(np.ascontiguousarray(img), device="cpu")
            tau = float(np.atleast_1d(s.solve(verbose=False, conv_crit=args.conv_crit, iter_limit=100000))[0])
            dt = time.perf_counter() - t0
            tau = tau if np.isfinite(tau) and tau > 0 else None
            rows.append({"label": label, "axis": axis, "tau": tau,
                         "porosity": float(np.mean(img)), "seconds": round(dt, 1),
                         "converged": bool(s.converged)})
            print(rows[-1], flush=True)
    out = OUT if args.crop == 96 else OUT.with_name(f"taufactor_electrode_reference_{args.crop}.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    meta = {"source": str(TIFF.name), "crop": args.crop, "crop_rule": "central crop, (d - n) // 2",
            "conv_crit": args.conv_crit, "taufactor": "1.2.1", "torch": torch.__version__,
            "solver": "taufactor.Solver (binary, no-flux sides), flux along the first axis of "
                      "np.moveaxis(vol == label, axis, 0)", "results": rows}
    tmp = out.with_suffix(".tmp")
    tmp.write_text(json.dumps(meta, indent=1))
    tmp.replace(out)


if __name__ == "__main__":
    main()
