"""Report section of the transport area.

Per CT series of the run (``transport/<series>/tortuosity``,
``transport/<series>/interface_flux``, ``transport/<series>/current_density``): tortuosity
and slab-wise tortuosity of the declared phase against time with the flux map of the last
scan; the flux maps of the phase in the slab around each declared interface with tau per
scan (the Li+ flux through the interphase region of Huang et al. 2024, Fig. S27); the
current-density map of every interval between consecutive registered scans with its mean
beside the cycler's mean current density and the registration shift of each scan (table).
Where the twin's ``truth.json`` is present, its values stand beside the measured ones.  The
contoured-interface study has its own section (:mod:`ssbscope.report.interface`).  Axes in
um.
"""

from __future__ import annotations

import logging

import numpy as np

from ssbscope.report import Section, figure, macro, render_section, table

__all__ = ["section"]

log = logging.getLogger(__name__)


def _extent_um(ds):
    """imshow extent (x0, x1, y0, y1) in um from pixel-centre coordinates."""
    x = np.asarray(ds["x"].values, float)
    y = np.asarray(ds["y"].values, float)
    dx = float(x[1] - x[0]) if x.size > 1 else 1.0
    dy = float(y[1] - y[0]) if y.size > 1 else 1.0
    return (x[0] - dx / 2, x[-1] + dx / 2, y[0] - dy / 2, y[-1] + dy / 2)


def _series_tortuosity_part(ds, name: str):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import pandas as pd

    a = ds.attrs
    t_h = np.asarray(ds["time_s"].values, float) / 3600.0
    tau = np.asarray(ds["tau"].values, float)
    slab = np.asarray(ds["slab_tau"].values, float)
    fig, axes = plt.subplots(1, 3, figsize=(14, 3.9))
    ax = axes[0]
    ax.plot(t_h, tau, "o-", color="k", label="layer core")
    for j in range(slab.shape[1]):
        if np.isfinite(slab[:, j]).any():
            ax.plot(t_h, slab[:, j], ".--", lw=0.8, label=f"slab {j + 1}")
    ax.set_xlabel("time (h)")
    ax.set_ylabel("tortuosity factor tau")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    ax = axes[1]
    sb = np.asarray(ds["slab_bounds_um"].values, float)
    for k in range(t_h.size):
        c = sb[k].mean(axis=1)
        if np.isfinite(slab[k]).any():
            ax.plot(c, slab[k], "o-", label=f"t = {t_h[k]:.2f} h")
    ax.set_xlabel(f"slab centre along {a.get('axis_name', 'z')} (µm)")
    ax.set_ylabel("slab tau")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    ax = axes[2]
    good = np.flatnonzero(np.isfinite(tau))
    k = int(good[-1]) if good.size else t_h.size - 1
    fm = np.asarray(ds["flux_map"].values[k], float)
    vmax = float(np.nanmax(fm)) if np.isfinite(fm).any() else 1.0
    im = ax.imshow(fm, origin="lower", cmap="inferno", vmin=0, vmax=vmax or 1.0,
                   extent=_extent_um(ds), interpolation="nearest")
    ax.set_xlabel("x (µm)")
    ax.set_ylabel("y (µm)")
    ax.set_title(f"flux at z = {float(ds['flux_plane_z_um'].values[k]):.1f} µm, "
                 f"t = {t_h[k]:.2f} h", fontsize=9)
    fig.colorbar(im, ax=ax, shrink=0.8, label="axial flux (D dc / L)")
    fig.tight_layout()
    cap = (f"Series {name}: tortuosity factor of {a.get('phase')} in the core of layer "
           f"{a.get('layer')} ({a.get('layer_choice')}), transport along "
           f"{a.get('axis_name', 'z')} in the {a.get('region')}: whole core (black) and "
           f"{slab.shape[1]} slabs solved on their own (left; middle: slab tau against the "
           "slab position); right: flux along the transport axis in the core's mid-plane of "
           "the last scan (1 = straight open channel, 0 = pores / other phases).  "
           f"{a.get('tau_definition', '')}.")
    rows = []
    st = [str(x) for x in ds["state"].values] if "state" in ds else [""] * t_h.size
    for k in range(t_h.size):
        cz = ds["core_z_um"].values[k]
        rows.append({"time (h)": t_h[k], "state": st[k], "tau": tau[k],
                     "volume fraction": float(ds["volume_fraction"].values[k]),
                     "D_eff/D": float(ds["d_eff_ratio"].values[k]),
                     "core z (µm)": f"{cz[0]:.0f}-{cz[1]:.0f}",
                     "slab tau": ", ".join(f"{v:.3f}" for v in slab[k] if np.isfinite(v)),
                     "flux spread": float(ds["flux_imbalance"].values[k]),
                     "note": str(ds["reason"].values[k])})
    part = {"series": name, "phase": str(a.get("phase")),
            "layer": str(a.get("layer")), "figure": figure(fig, cap),
            "table": table(pd.DataFrame(rows), caption=f"Tortuosity per scan, series {name}")}
    summary = ()
    if good.size:
        summary = ((f"tau {a.get('phase')} ({name})",
                    f"{tau[good[0]]:.3f} -> {tau[good[-1]]:.3f}"),)
    return macro("tortuosity", part, template="transport.html.j2"), summary


def _truth_row(truth_scans, t_s, tol_s=1.0):
    """The twin's truth row of the scan at ``t_s`` (None without truth)."""
    if not truth_scans:
        return None
    best = min((s for s in truth_scans if isinstance(s, dict) and "time_s" in s),
               key=lambda s: abs(float(s["time_s"]) - float(t_s)), default=None)
    if best is None or abs(float(best["time_s"]) - float(t_s)) > tol_s:
        return None
    return best


def _series_interface_part(ds, name: str, truth_scans=None):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import pandas as pd

    a = ds.attrs
    t = np.asarray(ds["time_s"].values, float)
    ifaces = [str(x) for x in ds["interface"].values]
    states = ([str(x) for x in ds["state"].values] if "state" in ds
              else [f"t = {x / 3600:.2f} h" for x in t])
    tau = np.asarray(ds["tau"].values, float)
    nt, ni = tau.shape
    fm = np.asarray(ds["flux_map"].values, float)
    fig, axes = plt.subplots(ni, nt, figsize=(3.6 * nt + 0.8, 3.4 * ni), squeeze=False)
    vmax = float(np.nanmax(fm)) if np.isfinite(fm).any() else 1.0
    im = None
    for j in range(ni):
        for k in range(nt):
            ax = axes[j, k]
            im = ax.imshow(fm[k, j], origin="lower", cmap="inferno", vmin=0, vmax=vmax or 1.0,
                           extent=_extent_um(ds), interpolation="nearest")
            ax.set_title(f"{ifaces[j]}, {states[k]}\ntau = {tau[k, j]:.3f}", fontsize=9)
            ax.set_xlabel("x (µm)")
            if k == 0:
                ax.set_ylabel("y (µm)")
    fig.colorbar(im, ax=axes.ravel().tolist(), shrink=0.8, label="flux (D dc / L)")
    ax_names = {0: "z", 1: "y", 2: "x"}
    axis = [ax_names.get(int(v), "?") for v in ds["axis"].values]
    phase = [str(v) for v in ds["phase"].values]
    hv = np.asarray(ds["half_thickness_um"].values, float)
    cap = (f"Series {name}: flux of " + "; ".join(
        f"{phase[j]} through a slab of ±{hv[j]:g} µm about the mean height of {ifaces[j]} "
        f"(driven along {axis[j]})" for j in range(ni))
        + ", in the slab's mid-plane (1 = straight open channel, 0 = other phases; outside "
        f"the solved square: blank).  {a.get('region', '')}.  {a.get('tau_definition', '')}.")
    rows = []
    has_truth = False
    for j in range(ni):
        for k in range(nt):
            sz = ds["slab_z_um"].values[k, j]
            row = {"interface": ifaces[j], "state": states[k], "time (h)": t[k] / 3600.0,
                   "phase": phase[j],
                   "interface z (µm)": float(ds["interface_z_um"].values[k, j]),
                   "slab z (µm)": f"{sz[0]:.1f}-{sz[1]:.1f}" if np.isfinite(sz).all() else "",
                   "tau": tau[k, j],
                   "volume fraction": float(ds["volume_fraction"].values[k, j]),
                   "D_eff/D": float(ds["d_eff_ratio"].values[k, j]),
                   "flux spread": float(ds["flux_imbalance"].values[k, j])}
            tr = _truth_row(truth_scans, t[k])
            got = ((tr or {}).get("interface_flux") or {}).get(ifaces[j])
            if isinstance(got, dict):
                has_truth = True
                row["twin interface z (µm)"] = float(got.get("interface_z_um", np.nan))
                row["twin tau"] = float(got.get("tau", np.nan))
                row["twin volume fraction"] = float(got.get("volume_fraction", np.nan))
            note = str(ds["reason"].values[k, j])
            if note:
                row["note"] = note
            rows.append(row)
    part = {"series": name, "figure": figure(fig, cap),
            "table": table(pd.DataFrame(rows), caption=(
                f"Tortuosity per scan and interface, series {name}"
                + (" (twin: its truth.json, on its own labels)" if has_truth else ""))),
            "convergence": str(a.get("convergence", ""))}
    summary = []
    for j in range(ni):
        ok = np.isfinite(tau[:, j])
        if ok.any():
            summary.append((f"tau {phase[j]} at {ifaces[j]} ({name})",
                            " → ".join(f"{v:.3f}" for v in tau[ok, j])))
    return macro("interface", part, template="transport.html.j2"), tuple(summary)


def _series_current_part(ds, name: str, truth_scans=None):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import pandas as pd

    a = ds.attrs
    j = np.asarray(ds["current_density_ma_cm2"].values, float)
    n = j.shape[0]
    mean = np.asarray(ds["mean_current_density_ma_cm2"].values, float)
    cyc = np.asarray(ds["cycler_current_density_ma_cm2"].values, float)
    fig, axes = plt.subplots(1, n, figsize=(4.2 * n, 3.8), squeeze=False)
    lim = float(np.nanmax(np.abs(j))) if np.isfinite(j).any() else 1.0
    t0 = np.asarray(ds["t_start_s"].values, float) / 3600.0
    t1 = np.asarray(ds["t_end_s"].values, float) / 3600.0
    for k in range(n):
        ax = axes[0, k]
        im = ax.imshow(j[k], origin="lower", cmap="RdBu_r", vmin=-lim, vmax=lim,
                       extent=_extent_um(ds), interpolation="nearest")
        ax.set_title(f"{t0[k]:.2f} -> {t1[k]:.2f} h: mean {mean[k]:.3f}\n"
                     + (f"cycler {cyc[k]:.3f} mA cm⁻²" if np.isfinite(cyc[k])
                        else "no cycler log"), fontsize=9)
        ax.set_xlabel("x (µm)")
        if k == 0:
            ax.set_ylabel("y (µm)")
    fig.colorbar(im, ax=axes[0, :].tolist(), shrink=0.8, label="current density (mA cm⁻²)")
    cap = (f"Series {name}: local current density of layer {a.get('layer')} "
           f"({a.get('layer_choice')}) between consecutive registered scans, "
           "j = rho_Li F dh / (M_Li dt) (positive: the layer thickens).  The mean over the cell "
           "must match the cycler's mean current density over the same interval ("
           + (f"net charge of {a.get('echem_log')} between the two scan times / dt / cell area"
              if a.get("echem_log") else "the series has no cycler log") + "): "
           + "; ".join(f"{mean[k]:.4f} vs {cyc[k]:.4f} mA cm⁻²" if np.isfinite(cyc[k])
                       else f"{mean[k]:.4f} mA cm⁻² (no cycler log)" for k in range(n)) + ".")
    if "registration_shift_um" in ds:
        cap += ("  Every scan is registered onto the first by the tomo chain before its "
                "thickness map (shifts in the table: a scan displaced by d is shifted back by "
                "-d).")
    rows = []
    for k in range(n):
        row = {"from (h)": t0[k], "to (h)": t1[k],
               "states": f"{ds['state_start'].values[k]} -> {ds['state_end'].values[k]}",
               "mean j CT (mA cm⁻²)": mean[k],
               "std j CT (mA cm⁻²)": float(ds["std_current_density_ma_cm2"].values[k]),
               "cycler charge (mAh cm⁻²)": float(ds["cycler_charge_mah_cm2"].values[k]),
               "cycler j (mA cm⁻²)": cyc[k],
               "CT / cycler": float(ds["ratio"].values[k]),
               "residual (%)": float(ds["residual_pct"].values[k]),
               "hot-spots": int(ds["n_hotspots"].values[k])}
        if "registration_shift_um" in ds:
            sh = np.asarray(ds["registration_shift_um"].values, float)
            if k + 1 < sh.shape[0]:
                row["end scan's registration shift y, x (µm)"] = (
                    f"{sh[k + 1, 1]:+.2f}, {sh[k + 1, 2]:+.2f}")
            tr = _truth_row(truth_scans, t1[k] * 3600.0)
            if tr is not None and tr.get("drift_yx_um") is not None:
                dy, dx = (float(v) for v in tr["drift_yx_um"])
                row["twin displacement y, x (µm)"] = f"{dy:+.2f}, {dx:+.2f}"
        if truth_scans is not None:
            try:
                from ssbscope.transport.current_density import thickness_change_to_current_ma_cm2

                th = [float(s["mean_thickness_um"][a.get("layer")]) for s in truth_scans]
                row["twin truth j (mA cm⁻²)"] = float(thickness_change_to_current_ma_cm2(
                    th[k + 1] - th[k], (t1[k] - t0[k]) * 3600.0))
            except (KeyError, IndexError, TypeError, ValueError):
                pass
        rows.append(row)
    part = {"series": name, "figure": figure(fig, cap),
            "table": table(pd.DataFrame(rows), caption=f"Mean current density per interval vs "
                                                       f"the cycler, series {name}")}
    ok = np.isfinite(ds["residual_pct"].values)
    summary = ()
    if ok.any():
        summary = ((f"current density CT vs cycler ({name})",
                    "residual " + ", ".join(f"{v:+.1f} %" for v in ds["residual_pct"].values[ok])),)
    return macro("current", part, template="transport.html.j2"), summary


def _series_names(names, product: str) -> list:
    out = []
    for n in sorted(names):
        parts = n.split("/")
        if len(parts) == 3 and parts[0] == "transport" and parts[2] == product:
            out.append(parts[1])
    return out


def section(store) -> Section | None:
    """The transport section, or None when the store holds none of its results.

    Parameters
    ----------
    store : ssbscope.store.Store

    Returns
    -------
    ssbscope.report.Section or None
    """
    names = set(store.names())
    parts, summary = [], []
    from ssbscope.report import truth

    series = list(dict.fromkeys(_series_names(names, "tortuosity")
                                + _series_names(names, "interface_flux")
                                + _series_names(names, "current_density")))
    for name in series:
        if f"transport/{name}/tortuosity" in names:
            h, s = _series_tortuosity_part(store.read(f"transport/{name}/tortuosity").load(), name)
            parts.append(h)
            summary.extend(s)
        if f"transport/{name}/interface_flux" in names:
            h, s = _series_interface_part(store.read(f"transport/{name}/interface_flux").load(),
                                          name, truth(store, "tomo", name, "scans"))
            parts.append(h)
            summary.extend(s)
        if f"transport/{name}/current_density" in names:
            h, s = _series_current_part(store.read(f"transport/{name}/current_density").load(),
                                        name, truth(store, "tomo", name, "scans"))
            parts.append(h)
            summary.extend(s)
    if not parts:
        return None
    return Section("Transport", render_section("transport.html.j2", parts=parts), tuple(summary))
