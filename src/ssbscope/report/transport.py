"""Report section of the transport area.

Flux maps of the twin's Li|SPE interphase region with tau per state (000_290f30815ae66793)
and the current-density map from two thickness maps (004_abdc661361e9d05b Fig. 24d).  The
contoured-interface study has its own section (:mod:`ssbscope.report.interface`).
"""

from __future__ import annotations

import logging

import numpy as np

from ssbscope.report import Section, esc, figure_html, table_html

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

def _list_attr(v):
    """A list attribute as stored (JSON text in the store) or as given."""
    import json

    return json.loads(v) if isinstance(v, str) else list(v)


def _current_density_part(ds):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    unreg = "current_unregistered_ma_cm2" in ds
    fig, axes = plt.subplots(1, 4 if unreg else 3, figsize=(16 if unreg else 12, 3.8))
    ext = None
    for ax, var, title in ((axes[0], "thickness_before_um", "Li thickness before (um)"),
                           (axes[1], "thickness_after_um", "Li thickness after (um)")):
        im = ax.imshow(ds[var].values, origin="lower", cmap="magma", extent=ext)
        ax.set_title(title)
        fig.colorbar(im, ax=ax, shrink=0.8)
    j = ds["current_ma_cm2"].values
    lim = float(np.nanmax(np.abs(j))) or 1.0
    im = axes[2].imshow(j, origin="lower", cmap="RdBu_r", vmin=-lim, vmax=lim)
    hs = ds["plating_hotspots"].values
    if hs.any():
        axes[2].contour(hs.astype(float), levels=[0.5], colors="k", linewidths=0.8)
    axes[2].set_title("local current (mA/cm2), hot-spots outlined", fontsize=9)
    fig.colorbar(im, ax=axes[2], shrink=0.8)
    if unreg:
        im = axes[3].imshow(ds["current_unregistered_ma_cm2"].values, origin="lower",
                            cmap="RdBu_r", vmin=-lim, vmax=lim)
        axes[3].set_title("without registration (mA/cm2)", fontsize=9)
        fig.colorbar(im, ax=axes[3], shrink=0.8)
    for ax in axes:
        ax.set_xticks([])
        ax.set_yticks([])
    a = ds.attrs
    cap = (f"Current density j = rho F dh / (M dt) between two Li thickness maps of the twin "
           f"({a.get('twin', '')}); mean {a.get('mean_current_ma_cm2', float('nan')):.4f} "
           f"mA/cm2 vs imposed {a.get('imposed_current_ma_cm2', float('nan')):.4f} mA/cm2, "
           f"{a.get('n_hotspots', 0)} hot-spots (> mean + 2 std).")
    if "registration_shift_yx_vox" in a:
        sy, sx = (float(v) for v in _list_attr(a["registration_shift_yx_vox"]))
        dy, dx = (float(v) for v in _list_attr(a.get("imposed_drift_yx_vox", [float("nan")] * 2)))
        cap += (f"  The second scan was displaced in-plane by ({dy:g}, {dx:g}) voxels; "
                f"registration ({a.get('registration', '')}) found ({sy:.3f}, {sx:.3f}) to apply. "
                "RMS error of the local current against the twin's undisplaced map: "
                f"{float(a.get('rms_error_registered_ma_cm2', float('nan'))):.3g} mA/cm2 "
                "registered, "
                f"{float(a.get('rms_error_unregistered_ma_cm2', float('nan'))):.3g} mA/cm2 "
                "without registration (right).")
    html = "<h3>Current-density map from thickness maps</h3>" + figure_html(fig, cap)
    summary = (("current from thickness maps",
                f"{a.get('mean_current_ma_cm2', float('nan')):.4f} mA/cm2 "
                f"(imposed {a.get('imposed_current_ma_cm2', float('nan')):.3g})"),)
    if "rms_error_registered_ma_cm2" in a:
        summary += (("current map error, registered / not",
                     f"{float(a['rms_error_registered_ma_cm2']):.3g} / "
                     f"{float(a['rms_error_unregistered_ma_cm2']):.3g} mA/cm2 RMS"),)
    return html, summary


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
    if not parts:
        return None
    return Section("Transport", "".join(parts), tuple(summary))
