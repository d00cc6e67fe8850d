"""Accuracy of the 000_ XCS chain on the twin's coin cell (Huang et al. 2024, Table 1 / Fig. 3A).

Writes the twin's operando series (:func:`ssbscope.twin.xcs_series.write_xcs_series`: 3 states
x 4 sheet heights, event files in ADU with flood and calibration, anode/SPE interphase of
:mod:`ssbscope.twin.params_000`), runs ``ssbscope run`` on its YAML and prints, as markdown:

* every component's EMF per state beside the twin's truth (resolution-broadened, Eqs. 3-5)
  with the stated uncertainty and z = (measured - truth) / emf_unc;
* the interphase's relative changes vs pristine: measured +- propagated sigma, truth, paper;
* the EMF maps' centre (block centres r < 2.5 mm) and edge (2.5-6 mm) means (inverse-variance
  weighted, so biased low where blocks have few counts) beside the truth's centre and edge rings;
* the radial profile (``compton/xcs/radial``: rings summed before unmixing, out to the anode's
  rim beyond the cathode) beside the truth per ring.

Run ``python benchmarks/accuracy_xcs_000.py --photons 1600000`` (about 3 minutes on 2 cores;
photons within the simulated 8.4 mm disc) or ``--photons 160000`` (the demo's "small" size).
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import numpy as np


def _wmean(v, u):
    ok = np.isfinite(v) & np.isfinite(u) & (u > 0)
    if not ok.any():
        return float("nan"), float("nan")
    w = 1 / u[ok] ** 2
    return float((w * v[ok]).sum() / w.sum()), float(1 / np.sqrt(w.sum()))


def main(argv=None):
    from ssbscope.cli import main as cli
    from ssbscope.store import Store
    from ssbscope.twin.xcs_series import write_xcs_series

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--photons", type=int, default=1_600_000, help="scattered photons per exposure")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default=None, help="folder to keep (default: a temporary one)")
    a = ap.parse_args(argv)
    root = Path(a.out) if a.out else Path(tempfile.mkdtemp(prefix="acc_xcs_"))
    tw = write_xcs_series(root / "exp", n_photons=a.photons, flood_photons=500_000, seed=a.seed)
    assert cli(["run", str(tw.yaml_path), "--out", str(root / "out"), "--quiet"]) in (0, None)
    st = Store.open(root / "out" / "store.zarr")
    em = st["compton/xcs/emf"].load()
    tr = tw.truth
    ref = np.array(tr["true_emf_resolution"])
    v, u = em["emf"].values, em["emf_unc"].values
    print(f"## XCS 000_ through the chain ({a.photons:.0e} photons per exposure, seed {a.seed})\n")
    print("| state | component | measured | stated sigma | truth | z |")
    print("|---|---|---|---|---|---|")
    for i, s in enumerate(tr["states"]):
        for j, c in enumerate(tr["components"]):
            print(f"| {s} | {c} | {v[i, j]:.4f} | {u[i, j]:.4f} | {ref[i, j]:.4f} | {(v[i, j] - ref[i, j]) / u[i, j]:+.2f} |")
    it = tr["interphase"]
    k = tr["components"].index("interphase")
    vi, ui = v[:, k], u[:, k]
    print("\n| interphase change vs pristine | measured % | sigma % | truth % | paper % (Table 1) |")
    print("|---|---|---|---|---|")
    for i in (1, 2):
        rel = 100 * (vi[i] / vi[0] - 1)
        rel_u = 100 * np.hypot(ui[i] / vi[0], vi[i] * ui[0] / vi[0] ** 2)
        print(f"| {tr['states'][i]} | {rel:+.1f} | {rel_u:.1f} | {it['relative_change_pct'][i]:+.1f} | "
              f"{it['paper_relative_change_pct'][i - 1]:+.1f} |")
    mp = st["compton/xcs/maps"].load()
    m = mp["emf"].sel(component="interphase").values
    mu = mp["emf_unc"].sel(component="interphase").values
    r = np.hypot(mp["y_mm"].values[:, None], mp["x_mm"].values[None, :])
    inside = mp["block_inside"].values
    print(f"\n| maps (interphase, {mp.attrs['block_size_mm']:.2f} mm blocks) | centre (r < 2.5 mm) | edge (2.5-6 mm) "
          "| truth centre ring | truth edge ring |")
    print("|---|---|---|---|---|")
    for i, s in enumerate(tr["states"]):
        c, cu = _wmean(m[i][inside & (r < 2.5)], mu[i][inside & (r < 2.5)])
        e, eu = _wmean(m[i][inside & (r >= 2.5)], mu[i][inside & (r >= 2.5)])
        print(f"| {s} | {c:.3f} +- {cu:.3f} | {e:.3f} +- {eu:.3f} | {it['centre_emf'][i]:.3f} | {it['edge_emf'][i]:.3f} |")
    if "compton/xcs/radial" in st.names():
        ra = st["compton/xcs/radial"].load()
        rv = ra["emf"].sel(component="interphase").values
        ru = ra["emf_unc"].sel(component="interphase").values
        rt = np.array(it["radial_emf"])
        rings = [f"{a_:g}-{b_:g} mm" for a_, b_ in zip(ra["r_inner_mm"].values, ra["r_outer_mm"].values)]
        print("\n| radial (interphase): state | " + " | ".join(rings) + " |")
        print("|---" * (len(rings) + 1) + "|")
        for i, s in enumerate(tr["states"]):
            print(f"| {s} measured | " + " | ".join(f"{x:.3f} +- {y:.3f}" for x, y in zip(rv[i], ru[i])) + " |")
            print(f"| {s} truth | " + " | ".join(f"{x:.3f}" for x in rt[i]) + " |")
    print("\ntruth interphase composition (volume fractions over the analysed disc):")
    print(json.dumps(dict(zip(tr["states"], it["volume_fractions"])), indent=1))


if __name__ == "__main__":
    main()
