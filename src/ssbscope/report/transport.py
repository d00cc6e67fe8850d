"""Report section of the transport area.

Per CT series of the user's run (``transport/<series>/tortuosity``,
``transport/<series>/current_density``): tortuosity and slab-wise tortuosity of the declared
phase against time, the flux map of the last scan, and the current-density map of every
interval between consecutive scans with its mean beside the cycler's mean current density
(table).  Twin studies: flux maps of the Li|SPE interphase region with tau per state
(Huang et al. 2024) and the current-density map from two thickness maps
(Dixit et al. 2021, Fig. 24d).  The contoured-interface study has its own section
(:mod:`ssbscope.report.interface`).  Axes in um.
"""

from __future__ import annotations

import logging

import numpy as np

from ssbscope.report import Section, esc, figure_html, table_html
from ssbscope.store import attr_list as _list_attr

__all__ = ["section"]

log = logging.getLogger(__name__)


def _flux_part(ds):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    states = [str(s) for s in ds["state"].values]
    n = len(states)
    fig, axes = plt.subplots(2, n, figsize=(3.3 * n, 6.2), squeeze=False)
    vmax = float(np.nanmax(ds["flux_map"].values)) or 1.0
    for k, st in enumerate(states):
        ax = axes[0, k]
        im = ax.imshow(ds["flux_map"].values[k], cmap="inferno", vmin=0, vmax=vmax,
                       origin="lower")
        ax.set_title(f"{st}: tau = {float(ds['tau'].values[k]):.3f}")
        ax.set_xticks([])
        ax.set_yticks([])
        ax2 = axes[1, k]
        ax2.imshow(ds["phase_map"].values[k], cmap="tab10", vmin=0, vmax=10, origin="lower",
                   interpolation="nearest")
        ax2.set_title("phases (3 = SPE, 2 = Li, 10 = filament)", fontsize=8)
        ax2.set_xticks([])
        ax2.set_yticks([])
    fig.colorbar(im, ax=axes[0, :].tolist(), shrink=0.8, label="flux along x (D dc/L)")
    cap = ("Li+ flux through the SPE in the mid-plane of the Li|SPE interphase slab "
           f"(z voxels {ds.attrs.get('slab_z_vox')}), driven along x as in the paper's "
           "TauFactor simulation; tau from D_eff = D eps / tau.")
    rows = [{"state": st, "tau": float(ds["tau"].values[k]),
             "porosity": float(ds["porosity"].values[k]),
             "D_eff/D": float(ds["d_eff_ratio"].values[k]),
             "flux spread": float(ds["flux_imbalance"].values[k]),
             "rel. residual": float(ds["relative_residual"].values[k]),
             "CG iterations": int(ds["iterations"].values[k])} for k, st in enumerate(states)]
    import pandas as pd

    html = "<h3>Li+ flux through the interphase region</h3>" + figure_html(fig, cap)
    html += table_html(pd.DataFrame(rows), caption="Tortuosity per state")
    html += f'<p class="note">Convergence: {esc(str(ds.attrs.get("convergence", "")))}</p>'
    summary = tuple((f"tau interphase ({st})", f"{float(ds['tau'].values[k]):.3f}")
                    for k, st in enumerate(states))
    return html, summary


def _current_density_part(ds):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    unreg = "current_unregistered_ma_cm2" in ds
    fig, axes = plt.subplots(1, 4 if unreg else 3, figsize=(16 if unreg else 12, 3.8))
    ext = None
    for ax, var, title in ((axes[0], "thickness_before_um", "Li thickness before (µm)"),
                           (axes[1], "thickness_after_um", "Li thickness after (µm)")):
        im = ax.imshow(ds[var].values, origin="lower", cmap="magma", extent=ext)
        ax.set_title(title)
        fig.colorbar(im, ax=ax, shrink=0.8)
    j = ds["current_ma_cm2"].values
    lim = float(np.nanmax(np.abs(j))) or 1.0
    im = axes[2].imshow(j, origin="lower", cmap="RdBu_r", vmin=-lim, vmax=lim)
    hs = ds["plating_hotspots"].values
    if hs.any():
        axes[2].contour(hs.astype(float), levels=[0.5], colors="k", linewidths=0.8)
    axes[2].set_title("local current (mA cm⁻²), hot-spots outlined", fontsize=9)
    fig.colorbar(im, ax=axes[2], shrink=0.8)
    if unreg:
        im = axes[3].imshow(ds["current_unregistered_ma_cm2"].values, origin="lower",
                            cmap="RdBu_r", vmin=-lim, vmax=lim)
        axes[3].set_title("without registration (mA cm⁻²)", fontsize=9)
        fig.colorbar(im, ax=axes[3], shrink=0.8)
    for ax in axes:
        ax.set_xticks([])
        ax.set_yticks([])
    a = ds.attrs
    cap = (f"Current density j = rho F dh / (M dt) between two Li thickness maps of the twin "
           f"({a.get('twin', '')}); mean {a.get('mean_current_ma_cm2', float('nan')):.4f} "
           f"mA cm⁻² vs imposed {a.get('imposed_current_ma_cm2', float('nan')):.4f} mA cm⁻², "
           f"{a.get('n_hotspots', 0)} hot-spots (> mean + 2 std).")
    if "registration_shift_yx_vox" in a:
        sy, sx = (float(v) for v in _list_attr(a["registration_shift_yx_vox"]))
        dy, dx = (float(v) for v in _list_attr(a.get("imposed_drift_yx_vox", [float("nan")] * 2)))
        cap += (f"  The second scan was displaced in-plane by ({dy:g}, {dx:g}) voxels; "
                f"registration ({a.get('registration', '')}) found ({sy:.3f}, {sx:.3f}) to apply. "
                "RMS error of the local current against the twin's undisplaced map: "
                f"{float(a.get('rms_error_registered_ma_cm2', float('nan'))):.3g} mA cm⁻² "
                "registered, "
                f"{float(a.get('rms_error_unregistered_ma_cm2', float('nan'))):.3g} mA cm⁻² "
                "without registration (right).")
    html = "<h3>Current-density map from thickness maps</h3>" + figure_html(fig, cap)
    summary = (("current from thickness maps",
                f"{a.get('mean_current_ma_cm2', float('nan')):.4f} mA cm⁻² "
                f"(imposed {a.get('imposed_current_ma_cm2', float('nan')):.3g})"),)
    if "rms_error_registered_ma_cm2" in a:
        summary += (("current map error, registered / not",
                     f"{float(a['rms_error_registered_ma_cm2']):.3g} / "
                     f"{float(a['rms_error_unregistered_ma_cm2']):.3g} mA cm⁻² RMS"),)
    return html, summary


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
    html = (f"<h3>Tortuosity of {esc(str(a.get('phase')))} in {esc(str(a.get('layer')))} "
            f"(series {esc(name)})</h3>" + figure_html(fig, cap)
            + table_html(pd.DataFrame(rows), caption=f"Tortuosity per scan, series {name}"))
    summary = ()
    if good.size:
        summary = ((f"tau {a.get('phase')} ({name})",
                    f"{tau[good[0]]:.3f} -> {tau[good[-1]]:.3f}"),)
    return html, summary


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
                     f"cycler {cyc[k]:.3f} mA cm⁻²", fontsize=9)
        ax.set_xlabel("x (µm)")
        ax.set_ylabel("y (µm)")
    fig.colorbar(im, ax=axes[0, :].tolist(), shrink=0.8, label="current density (mA cm⁻²)")
    cap = (f"Series {name}: local current density of layer {a.get('layer')} "
           f"({a.get('layer_choice')}) between consecutive registered scans, "
           "j = rho_Li F dh / (M_Li dt) (positive: the layer thickens).  The mean over the cell "
           "must match the cycler's mean current density over the same interval (net charge "
           f"of {a.get('echem_log') or 'no log'} between the two scan times / dt / cell area): "
           + "; ".join(f"{mean[k]:.4f} vs {cyc[k]:.4f} mA cm⁻²" for k in range(n)) + ".")
    rows = []
    for k in range(n):
        row = {"from (h)": t0[k], "to (h)": t1[k],
               "states": f"{ds['state_start'].values[k]} -> {ds['state_end'].values[k]}",
               "mean j CT (mA cm⁻²)": mean[k],
               "std j CT (mA cm⁻²)": float(ds["std_current_density_ma_cm2"].values[k]),
               "cycler charge (mAh/cm2)": float(ds["cycler_charge_mah_cm2"].values[k]),
               "cycler j (mA cm⁻²)": cyc[k],
               "CT / cycler": float(ds["ratio"].values[k]),
               "residual (%)": float(ds["residual_pct"].values[k]),
               "hot-spots": int(ds["n_hotspots"].values[k])}
        if truth_scans is not None:
            try:
                from ssbscope.transport.current_density import thickness_change_to_current_ma_cm2

                th = [float(s["mean_thickness_um"][a.get("layer")]) for s in truth_scans]
                row["twin truth j (mA cm⁻²)"] = float(thickness_change_to_current_ma_cm2(
                    th[k + 1] - th[k], (t1[k] - t0[k]) * 3600.0))
            except (KeyError, IndexError, TypeError, ValueError):
                pass
        rows.append(row)
    html = (f"<h3>Current density between scans (series {esc(name)})</h3>" + figure_html(fig, cap)
            + table_html(pd.DataFrame(rows), caption=f"Mean current density per interval vs "
                                                      f"the cycler, series {name}"))
    ok = np.isfinite(ds["residual_pct"].values)
    summary = ()
    if ok.any():
        summary = ((f"current density CT vs cycler ({name})",
                    "residual " + ", ".join(f"{v:+.1f} %" for v in ds["residual_pct"].values[ok])),)
    return html, summary


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
    if "transport/interface_flux" in names:
        h, s = _flux_part(store.read("transport/interface_flux").load())
        parts.append(h)
        summary.extend(s)
    if "transport/current_density" in names:
        h, s = _current_density_part(store.read("transport/current_density").load())
        parts.append(h)
        summary.extend(s)
    from ssbscope.report import truth

    series = list(dict.fromkeys(_series_names(names, "tortuosity")
                                + _series_names(names, "current_density")))
    for name in series:
        if f"transport/{name}/tortuosity" in names:
            h, s = _series_tortuosity_part(store.read(f"transport/{name}/tortuosity").load(), name)
            parts.append(h)
            summary.extend(s)
        if f"transport/{name}/current_density" in names:
            h, s = _series_current_part(store.read(f"transport/{name}/current_density").load(),
                                        name, truth(store, "tomo", name, "scans"))
            parts.append(h)
            summary.extend(s)
    if not parts:
        return None
    return Section("Transport", "".join(parts), tuple(summary))
