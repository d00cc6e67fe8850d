"""Read a store written by `ssbscope run` on :mod:`outside_phantom`'s series and compare with truth."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np


def measured_vs_truth(store, truth, series="sym"):
    """Return {quantity: (measured list, truth list)} read through ssbscope's public store."""
    from ssbscope.store import Store
    st = Store.open(store) if not hasattr(store, "read") else store
    m = st.read(f"tomo/{series}/metrics")
    s = st.read("correlate/states")
    ts = truth["scans"]
    out = {}
    out["ra_um"] = (m["ra_um"].sel(interface="Li|LPSCl").values.tolist(), [truth["ra_um"]] * len(ts))
    out["rq_um"] = (m["rq_um"].sel(interface="Li|LPSCl").values.tolist(), [truth["rq_um"]] * len(ts))
    for lay in ("Li", "counter"):
        out[f"{lay}_thickness_center_um"] = (m["thickness_center_um"].sel(layer=lay).values.tolist(),
                                             [t[f"{lay}_thickness_center_um"] for t in ts])
        if "thickness_mean_um" in m:
            out[f"{lay}_thickness_mean_um"] = (m["thickness_mean_um"].sel(layer=lay).values.tolist(),
                                               [t[f"{lay}_thickness_mean_um"] for t in ts])
    out["Li_thickness_edge_um"] = (m["thickness_edge_um"].sel(layer="Li").values.tolist(),
                                   [t["Li_thickness_edge_um"] for t in ts])
    if "layer_volume_um3" in m:
        v = m["layer_volume_um3"].sel(layer="Li").values
        out["Li_layer_volume_change_pct"] = ((100 * (v / v[0] - 1)).tolist(),
                                             [t["Li_layer_volume_change_pct"] for t in ts])
    out["Li_phase_volume_change_pct"] = (m["volume_change_pct"].sel(phase="Li").values.tolist(),
                                         [0.0] * len(ts))
    out["charge_mah_cm2"] = (s["charge_mah_cm2"].values.tolist(), [t["charge_mah_cm2"] for t in ts])
    out["faraday_residual_pct"] = (s["faraday_residual_pct"].values.tolist(), [0.0] * len(ts))
    out["time_s"] = (m["time_s"].values.tolist(), truth["scan_time_s"])
    return out


if __name__ == "__main__":  # pragma: no cover
    import sys
    truth = json.loads((Path(sys.argv[1]) / "truth.json").read_text())
    res = measured_vs_truth(sys.argv[2], truth)
    for k, (a, b) in res.items():
        print(f"{k:32s} measured {np.round(a, 3).tolist()}  truth {np.round(b, 3).tolist()}")
