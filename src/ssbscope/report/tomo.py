"""X-ray tomography section of the report.

Reads the datasets written by :mod:`ssbscope.tomo.stages` (``tomo/segmentation``,
``tomo/metrics``, ``tomo/maps`` and, for the twin, ``tomo/twin/truth``; for a user's series
``tomo/<series>/metrics``, ``/maps``, ``/labels`` and the scans ``tomo/<series>/scans/*``)
and renders:

* orthogonal slices (x-z through the centre, x-y through the plated layer) of every scan
  state with the segmentation overlaid;
* topography maps of the plated Li | electrolyte interface (plane detrended) with Ra/Rq
  (Eqs. 6-7 of 000_290f30815ae66793);
* plated-Li and counter-electrode thickness maps (001_a2c994afa3295f29 Fig. 5d-e);
* pore + crack volume vs time under the voltage curve (001_ Fig. 3c) when the anode-free
  log is in the store;
* a Table-1-like summary: value per state and % change from the first (pristine) scan, with
  the twin's ground truth beside it when present;
* for the soft-short pellet (``tomo/soft_short``, 002_3ee4edf529433f9c Fig. 3F-J): the median
  grey value per slice with the interfaces from its derivative, Li-connected vs isolated
  low-attenuation regions and their volume fraction per layer.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from ssbscope.report import Section, esc, figure_html, table_html, load_dataset

__all__ = ["section"]

log = logging.getLogger(__name__)

_PHASE_COLORS = ("#00000000", "#2a9d8f", "#e9c46a", "#e76f51")  # low, lpscl, steel, cu


_get = load_dataset


def _state_labels(ds) -> list[str]:
    if ds is not None and "state" in ds:
        return [str(s) for s in ds["state"].values]
    return [f"t = {t / 3600:.2f} h" for t in ds["time_s"].values]


def _slices_figure(seg) -> str:
    import matplotlib.pyplot as plt
    from matplotlib.colors import ListedColormap

    vol = seg["aligned"].values
    lab = seg["labels"].values
    nt, nz, ny, nx = vol.shape
    labels = _state_labels(seg)
    vs = float(seg.attrs.get("voxel_size_um", 1.0))
    cmap = ListedColormap(["#3a86ff", "#8ac926", "#ffbe0b", "#fb5607"])
    # x-y slice through the lowest low-attenuation layer above the bottom metal
    metal = np.isin(lab[-1], [2, 3]).mean(axis=(1, 2)) > 0.5
    zm = np.flatnonzero(metal)
    z0 = int(zm[0] + np.argmax(~metal[zm[0]:])) if zm.size else 0
    # the slice just above the bottom metal with most low-attenuation voxels (plated Li)
    window = (lab[:, z0: z0 + 4] == 0).mean(axis=(0, 2, 3))
    z_xy = min(z0 + int(np.argmax(window)), nz - 1) if window.size else nz // 2
    fig, axes = plt.subplots(2, nt, figsize=(2.6 * nt, 5.4), squeeze=False)
    # grey window on the Li / electrolyte range (the metals saturate)
    th = seg["thresholds"].values
    lo = float(np.percentile(vol, 1))
    hi = float(2.5 * th[0][0] - 1.5 * lo) if th.size else float(np.percentile(vol, 99))
    for k in range(nt):
        for row, (img, seg_img, ext, title) in enumerate((
                (vol[k][:, ny // 2, :], lab[k][:, ny // 2, :], (0, nx * vs, 0, nz * vs),
                 "x-z (centre)"),
                (vol[k][z_xy], lab[k][z_xy], (0, nx * vs, 0, ny * vs), f"x-y, z = {z_xy}"))):
            ax = axes[row, k]
            ax.imshow(img, cmap="gray", vmin=lo, vmax=hi, origin="lower", extent=ext)
            ax.imshow(np.ma.masked_equal(seg_img, 1), cmap=cmap, vmin=0, vmax=3, alpha=0.3,
                      origin="lower", extent=ext, interpolation="nearest")
            ax.contour(seg_img, levels=[0.5, 1.5], colors=["#3a86ff", "#fb5607"],
                       linewidths=0.6, origin="lower", extent=ext)
            ax.set_title(f"{labels[k]}\n{title}" if row == 0 else title, fontsize=8)
            ax.tick_params(labelsize=7)
            if k == 0:
                ax.set_ylabel("µm", fontsize=8)
    fig.subplots_adjust(left=0.05, right=0.99, bottom=0.05, top=0.9, wspace=0.3, hspace=0.35)
    names = seg.attrs.get("phases", ["low", "lpscl", "steel", "cu"])
    if isinstance(names, str):  # the store keeps list attributes as JSON text
        import json

        names = json.loads(names) if names.startswith("[") else [names]
    return figure_html(fig, "Reconstructed slices per scan state (grey) with the segmentation "
                            f"overlaid (phases {', '.join(map(str, names))}; blue = "
                            "low attenuation: Li, pores, cracks; the electrolyte is left "
                            "uncoloured).")


def _map_figure(maps, key, title, unit_label, metrics=None, detrend=False) -> str:
    import matplotlib.pyplot as plt

    from ssbscope.errors import EmptyResultError
    from ssbscope.tomo.metrics import detrend_plane

    m = maps[key].values
    labels = _state_labels(maps)
    vs = float(maps.attrs.get("voxel_size_um", 1.0))
    nt = m.shape[0]
    imgs, subs = [], []
    for k in range(nt):
        img = m[k].astype(float)
        sub = ""
        if detrend:
            try:
                img, _ = detrend_plane(img)
            except EmptyResultError:
                img = np.full_like(img, np.nan)
                sub = "\n(no interface)"
            if metrics is not None and np.isfinite(metrics["ra_um"].values[k]):
                sub = (f"\nRa {metrics['ra_um'].values[k]:.2f} µm, "
                       f"Rq {metrics['rq_um'].values[k]:.2f} µm")
        imgs.append(img)
        subs.append(sub)
    allv = np.concatenate([i[np.isfinite(i)] for i in imgs] + [np.zeros(0)])
    vmin, vmax = (np.percentile(allv, [2, 98]) if allv.size else (0.0, 1.0))
    if vmin == vmax:
        vmin, vmax = vmin - 0.5, vmax + 0.5
    # one colour scale for every state (comparable), one colour bar, no tight layout passes
    fig, axes = plt.subplots(1, nt, figsize=(2.4 * nt + 0.8, 2.7), squeeze=False)
    fig.subplots_adjust(left=0.06, right=0.9, bottom=0.12, top=0.8, wspace=0.25)
    im = None
    for k in range(nt):
        ax = axes[0, k]
        ext = (0, imgs[k].shape[1] * vs, 0, imgs[k].shape[0] * vs)
        im = ax.imshow(np.ma.masked_invalid(imgs[k]), cmap="viridis", origin="lower",
                       extent=ext, vmin=vmin, vmax=vmax, interpolation="nearest")
        ax.set_title(f"{labels[k]}{subs[k]}", fontsize=8)
        ax.tick_params(labelsize=7)
    cax = fig.add_axes([0.92, 0.15, 0.015, 0.6])
    cb = fig.colorbar(im, cax=cax)
    cb.ax.tick_params(labelsize=7)
    cb.set_label(unit_label, fontsize=7)
    return figure_html(fig, title)


def _volume_vs_time(store, met) -> str:
    import matplotlib.pyplot as plt

    ts = _get(store, "echem/anode_free/timeseries")
    t_h = met["time_s"].values / 3600.0
    if ts is not None and "voltage_V" in ts:
        fig, (ax0, ax1) = plt.subplots(2, 1, figsize=(8, 5), sharex=True,
                                       gridspec_kw={"height_ratios": [1, 1.4]})
        ax0.plot(ts["time_s"].values / 3600.0, ts["voltage_V"].values, lw=1, color="#1d4e89")
        ax0.set_ylabel("voltage (V)")
        ax0.set_title("anode-free log (echem/anode_free/timeseries)", fontsize=9)
    else:
        fig, ax1 = plt.subplots(figsize=(8, 3.2))
    ax1.plot(t_h, met["pore_crack_volume_um3"].values / 1e4, "o-", color="#d1495b",
             label="pore + crack volume (measured)")
    ax1.plot(t_h, met["new_crack_volume_um3"].values / 1e4, "s--", color="#6a4c93",
             label="new crack volume since pristine")
    ax1.set_xlabel("time (h)")
    ax1.set_ylabel("volume (10⁴ µm³)")
    ax1.legend(fontsize=8)
    return figure_html(fig, "Pore + crack volume inside the pellet vs time (partial-volume "
                            "estimate, 001_a2c994afa3295f29 Fig. 3c), under the voltage curve "
                            "when the log is in the store.")


def _soft_short_html(ss) -> str:
    import matplotlib.pyplot as plt

    vs = float(ss.attrs.get("voxel_size_um", 1.0))
    fig, (ax0, ax1) = plt.subplots(1, 2, figsize=(10, 3.4))
    fig.subplots_adjust(wspace=0.3, bottom=0.16)
    z_um = (ss["z"].values + 0.5) * vs
    ax0.plot(z_um, ss["median_grey"].values, lw=1.2, color="#1d4e89")
    for name, zf, zt in zip(ss["interface"].values, ss["interfaces_z_vox"].values,
                            ss["interfaces_truth_z_vox"].values):
        ax0.axvline(zf * vs, color="#d1495b", lw=1)
        ax0.axvline(zt * vs, color="#999", lw=1, ls="--")
        ax0.annotate(str(name), (zf * vs, ax0.get_ylim()[1]), fontsize=7, rotation=90,
                     va="top", ha="right")
    ax0.set_xlabel("z (µm), anode → cathode")
    ax0.set_ylabel("median grey value (1/voxel)")
    ax0.set_title("median grey per slice; interfaces from its derivative (red), twin (grey)",
                  fontsize=8)
    lay = ss["layer"].values
    ax1.bar(lay - 0.2, 100 * ss["layer_fraction"].values, width=0.4, color="#3a86ff",
            label="measured (noisy CT)")
    ax1.bar(lay + 0.2, 100 * ss["layer_fraction_truth"].values, width=0.4, color="#bbb",
            label="twin truth")
    ax1.set_xlabel(f"layer ({ss.attrs.get('layer_order', '')})")
    ax1.set_ylabel("low-attenuation volume fraction (%)")
    ax1.legend(fontsize=8)
    fig_html = figure_html(fig, "Pellet behind a soft short (002_3ee4edf529433f9c Fig. 3F-G, "
                                "3J): median grey value per slice and the layer volume "
                                "fractions of low-attenuation regions.")
    df = pd.DataFrame([
        {"regions": "connected to the Li anode", "count": int(ss["n_connected"].item()),
         "volume (µm³)": float(ss["volume_connected_um3"].item()),
         "twin truth (µm³)": float(ss["volume_connected_truth_um3"].item())},
        {"regions": "isolated", "count": int(ss["n_isolated"].item()),
         "volume (µm³)": float(ss["volume_isolated_um3"].item()),
         "twin truth (µm³)": float(ss["volume_isolated_truth_um3"].item())},
    ])
    vmin = float(ss.attrs.get("min_volume_um3", 0))
    note = (f"<p class=\"note\">Minimum region volume {vmin:.3g} µm³ (the paper's "
            "3.4 × 10⁵ µm³ exceeds the small twin's regions).  Thin filaments "
            "partly vanish under the 3×3×3 median at this noise level, so the measured "
            "fractions fall below the truth away from the anode.</p>")
    return fig_html + table_html(df, caption="Low-attenuation regions (002_ Fig. 3I)") + note


_ROWS = (
    ("Ra Li|LPSCl (µm)", "ra_um", "ra_um"),
    ("Rq Li|LPSCl (µm)", "rq_um", "rq_um"),
    ("plated Li thickness, centre (µm)", "plated_thickness_center_um", "plated_thickness_um"),
    ("plated Li thickness std, centre (µm)", "plated_thickness_center_std_um", None),
    ("plated Li thickness, edge (µm)", "plated_thickness_edge_um", None),
    ("counter Li thickness, centre (µm)", "counter_thickness_center_um", "counter_thickness_um"),
    ("pore + crack volume (µm³)", "pore_crack_volume_um3", None),
    ("new crack volume since pristine (µm³)", "new_crack_volume_um3", None),
    ("fraction of deposited Li the new cracks hold", "crack_li_fraction", None),
    ("grey overlap pristine pores vs new cracks", "pore_crack_grey_overlap", None),
    ("low-attenuation volume (µm³)", "volume_low_um3", None),
    ("Li6PS5Cl volume (µm³)", "volume_lpscl_um3", None),
    ("new filaments since previous scan (centre / edge)", "new_filaments", None),
)


def _summary_table(met, truth) -> tuple[str, list]:
    labels = _state_labels(met)
    rows = []
    for title, key, tkey in _ROWS:
        if key not in met:
            continue
        vals = met[key].values.astype(float)
        row = {"quantity": title}
        for k, lab in enumerate(labels):
            v = vals[k]
            if key == "new_filaments" and np.isfinite(v):
                row[lab] = (f"{int(v)} ({int(met['new_filaments_center'].values[k])} / "
                            f"{int(met['new_filaments_edge'].values[k])})")
            else:
                row[lab] = v
        row["change first→last (%)"] = _pct_change(vals)
        rows.append(row)
        if truth is not None and tkey is not None and tkey in truth:
            trow = {"quantity": f"  twin truth: {title}"}
            tv = truth[tkey].values.astype(float)
            scale = np.nanmax(np.abs(tv)) if np.isfinite(tv).any() else 0.0
            tv = np.where(np.abs(tv) <= 1e-9 * scale, 0.0, tv)  # round-off zeros shown as 0
            for k, lab in enumerate(labels):
                trow[lab] = float(tv[k])
            trow["change first→last (%)"] = _pct_change(tv)
            rows.append(trow)
    df = pd.DataFrame(rows)
    summary = []
    if "plated_thickness_center_um" in met:
        v = met["plated_thickness_center_um"].values
        k = int(np.nanargmax(v)) if np.isfinite(v).any() else 0
        summary.append(("max plated Li thickness (CT, centre)",
                        f"{v[k]:.1f} ± {met['plated_thickness_center_std_um'].values[k]:.1f} µm"))
    if "ra_um" in met and np.isfinite(met["ra_um"].values).any():
        summary.append(("Ra of the plated Li surface (CT, last scan)",
                        f"{met['ra_um'].values[-1]:.2f} µm"))
    if "pore_crack_volume_um3" in met:
        summary.append(("pore + crack volume, first → last scan (CT)",
                        f"{met['pore_crack_volume_um3'].values[0]:.3g} → "
                        f"{met['pore_crack_volume_um3'].values[-1]:.3g} µm³"))
    return table_html(df, caption="Morphology per scan state and change from the first scan "
                                  "(Table 1 of 000_290f30815ae66793 style)"), summary


def section(store) -> Section | None:
    """The tomography section of the report (None if the store has no tomography results).

    Parameters
    ----------
    store : ssbscope.store.Store

    Returns
    -------
    ssbscope.report.Section or None
    """
    met = _get(store, "tomo/metrics")
    real = _series_html(store) + _inputs_html(store)
    if met is None:
        if not real:
            return None
        return Section("X-ray tomography", real)
    maps = _get(store, "tomo/maps")
    seg = _get(store, "tomo/segmentation")
    truth = _get(store, "tomo/twin/truth")
    parts = []
    vs = float(met.attrs.get("voxel_size_um", float("nan")))
    src = "the digital twin (001_a2c994afa3295f29, case B)" if truth is not None else "the scans"
    central = 100 * float(met.attrs.get("central_fraction", 0.75))
    parts.append(f"<p class=\"note\">{met.sizes['time_s']} scans of {esc(src)}; voxel "
                 f"{vs:.2f} µm; central region = {central:.0f} % "
                 "of the electrode area.  Chain: flat/dark, −ln, centre search, FBP, rigid "
                 "registration to the first scan, 3×3×3 median, recursive Otsu thresholds, "
                 "sub-voxel interface heights, partial-volume pore volumes.</p>")
    table, summary = _summary_table(met, truth)
    parts.append("<h3>Summary per state</h3>" + table)
    if seg is not None:
        parts.append("<h3>Slices and segmentation</h3>" + _slices_figure(seg))
    if maps is not None:
        parts.append("<h3>Topography of the plated Li surface</h3>" + _map_figure(
            maps, "height_li_lpscl_um", "Height of the plated Li | Li6PS5Cl interface above "
            "its best-fit plane (µm) with Ra and Rq (Eqs. 6-7 of 000_290f30815ae66793).",
            "height (µm)", met, detrend=True))
        parts.append("<h3>Thickness maps</h3>" + _map_figure(
            maps, "plated_thickness_um", "Plated Li thickness per column (µm), working "
            "electrode (001_a2c994afa3295f29 Fig. 5e).", "thickness (µm)"))
        parts.append(_map_figure(
            maps, "counter_thickness_um", "Li counter electrode thickness per column (µm) "
            "(001_a2c994afa3295f29 Fig. 5d).", "thickness (µm)"))
    parts.append("<h3>Pore and crack volume</h3>" + _volume_vs_time(store, met))
    ss = _get(store, "tomo/soft_short")
    if ss is not None:
        parts.append("<h3>Soft short: Li-connected low-attenuation regions</h3>"
                     + _soft_short_html(ss))
    if real:
        parts.append(real)
    return Section("X-ray tomography", "\n".join(parts), summary=tuple(summary))


def _pct_change(vals) -> float:
    """100 (last - first) / first, or NaN where the first value is (numerically) zero."""
    vals = np.asarray(vals, float)
    ref, last = vals[0], vals[-1]
    scale = np.nanmax(np.abs(vals)) if np.isfinite(vals).any() else 0.0
    if not (np.isfinite(ref) and np.isfinite(last)) or abs(ref) <= 1e-9 * scale or ref == 0:
        return float("nan")
    return 100.0 * (last - ref) / ref


def _series_names(store) -> list[str]:
    """Series measured by ``ssbscope run`` (``tomo/<series>/metrics``)."""
    out = []
    for n in store.names():
        parts = n.split("/")
        if len(parts) == 3 and parts[0] == "tomo" and parts[2] == "metrics":
            out.append(parts[1])
    return out


def _time_labels(ds) -> list[str]:
    t = ds["time_s"].values.astype(float)
    st = [str(s) for s in ds["state"].values] if "state" in ds else [""] * t.size
    return [f"{s} ({tt / 3600:.2f} h)" if s and not s.startswith("t = ") else f"t = {tt / 3600:.2f} h"
            for s, tt in zip(st, t)]


def _series_table(met) -> str:
    labels = _time_labels(met)
    rows = []

    def add(title, vals):
        vals = np.asarray(vals, float)
        row = {"quantity": title}
        for k, lab in enumerate(labels):
            row[lab] = vals[k]
        rows.append(row)

    for it in met["interface"].values:
        add(f"Ra {it} (µm)", met["ra_um"].sel(interface=it).values)
        add(f"Rq {it} (µm)", met["rq_um"].sel(interface=it).values)
    for la in met["layer"].values:
        for key, what in (("thickness_center_um", "centre"), ("thickness_center_std_um",
                                                               "centre std"),
                          ("thickness_edge_um", "edge"), ("thickness_edge_std_um", "edge std"),
                          ("thickness_mean_um", "mean")):
            add(f"{la} thickness, {what} (µm)", met[key].sel(layer=la).values)
    for ph in met["phase"].values:
        add(f"volume change {ph} (%)", met["volume_change_pct"].sel(phase=ph).values)
    for key, title in (("pore_crack_volume_um3", "pore + crack volume in the electrolyte (µm³)"),
                       ("new_crack_volume_um3", "new crack volume since the first scan (µm³)"),
                       ("pore_crack_grey_overlap", "grey overlap first-scan pores vs new cracks"),
                       ("new_filaments", "new filaments since the previous scan"),
                       ("new_filaments_center", "  of which in the centre"),
                       ("new_filaments_edge", "  of which at the edge"),
                       ("low_attenuation_connected_um3", "low attenuation connected to Li (µm³)"),
                       ("low_attenuation_isolated_um3", "low attenuation isolated (µm³)")):
        if key in met:
            add(title, met[key].values)
    return table_html(pd.DataFrame(rows), caption="Metrics per scan (registered series; NaN: "
                                                  "undefined, e.g. an interface of a layer not "
                                                  "yet formed)")


def _series_trend_figure(met) -> str:
    import matplotlib.pyplot as plt

    t_h = met["time_s"].values.astype(float) / 3600.0
    fig, (ax0, ax1) = plt.subplots(1, 2, figsize=(10, 3.4))
    fig.subplots_adjust(wspace=0.3, bottom=0.16)
    for it in met["interface"].values:
        ax0.plot(t_h, met["ra_um"].sel(interface=it).values, "o-", label=f"Ra {it}")
    ax0.set_xlabel("time (h)")
    ax0.set_ylabel("Ra (µm)")
    ax0.legend(fontsize=8)
    for la in met["layer"].values:
        ax1.plot(t_h, met["thickness_mean_um"].sel(layer=la).values, "s-", label=str(la))
    ax1.set_xlabel("time (h)")
    ax1.set_ylabel("mean thickness (µm)")
    ax1.legend(fontsize=8)
    return figure_html(fig, "Roughness Ra of each mapped interface (plane detrended, Eq. 6 of "
                            "Huang et al. 2024, doi:10.1016/j.xcrp.2024.101995) and mean "
                            "thickness of each mapped layer vs time.")


def _series_maps_figure(mp, var, dim, unit_label, caption) -> str:
    import matplotlib.pyplot as plt

    from ssbscope.errors import EmptyResultError
    from ssbscope.tomo.metrics import detrend_plane

    names = [str(n) for n in mp[dim].values]
    if not names:
        return ""
    nt = mp.sizes["time_s"]
    picks = [0] if nt == 1 else [0, nt - 1]
    labels = _time_labels(mp)
    y = mp["y"].values.astype(float)
    x = mp["x"].values.astype(float)
    vs = float(mp.attrs.get("voxel_size_um", 1.0))
    ext = (x[0] - vs / 2, x[-1] + vs / 2, y[0] - vs / 2, y[-1] + vs / 2)
    fig, axes = plt.subplots(len(names), len(picks), figsize=(3.0 * len(picks) + 1.0,
                                                               2.8 * len(names)), squeeze=False)
    fig.subplots_adjust(left=0.12, right=0.86, bottom=0.08, top=0.9, wspace=0.35, hspace=0.5)
    for i, nm in enumerate(names):
        imgs = []
        for k in picks:
            img = mp[var].isel(time_s=k).sel({dim: nm}).values.astype(float)
            if var == "height_um":
                try:
                    img, _ = detrend_plane(img)
                except EmptyResultError:
                    img = np.full_like(img, np.nan)
            imgs.append(img)
        allv = np.concatenate([m[np.isfinite(m)] for m in imgs] + [np.zeros(0)])
        lo, hi = np.percentile(allv, [2, 98]) if allv.size else (0.0, 1.0)
        if lo == hi:
            lo, hi = lo - 0.5, hi + 0.5
        im = None
        for j, (k, img) in enumerate(zip(picks, imgs)):
            ax = axes[i, j]
            im = ax.imshow(np.ma.masked_invalid(img), origin="lower", extent=ext, cmap="viridis",
                           vmin=lo, vmax=hi, interpolation="nearest")
            ax.set_title(f"{nm}: {labels[k]}", fontsize=8)
            if not np.isfinite(img).any():
                ax.text(0.5, 0.5, "not present\n(layer absent)", transform=ax.transAxes,
                        ha="center", va="center", fontsize=8, color="#666")
            ax.set_xlabel("x (µm)", fontsize=7)
            ax.set_ylabel("y (µm)", fontsize=7)
            ax.tick_params(labelsize=7)
        pos = axes[i, -1].get_position()
        cax = fig.add_axes([0.88, pos.y0, 0.015, pos.height])
        cb = fig.colorbar(im, cax=cax)
        cb.ax.tick_params(labelsize=7)
        cb.set_label(unit_label, fontsize=7)
    return figure_html(fig, caption)


def _series_html(store) -> str:
    """Each measured series (``tomo/<series>/metrics``, ``/maps``): table, trends, maps."""
    parts = []
    for s in _series_names(store):
        met = _get(store, f"tomo/{s}/metrics")
        mp = _get(store, f"tomo/{s}/maps")
        lab = _get(store, f"tomo/{s}/labels")
        if met is None:
            continue
        vs = float(met.attrs.get("voxel_size_um", float("nan")))
        phases = lab.attrs.get("phases", []) if lab is not None else []
        if isinstance(phases, str):
            import json

            phases = json.loads(phases) if phases.startswith("[") else [phases]
        parts.append(
            f"<h3>Series {esc(s)}</h3><p class=\"note\">{met.sizes['time_s']} scan(s), voxel "
            f"{vs:.3g} µm, phases (darkest first) {esc(', '.join(map(str, phases)))}, "
            f"electrolyte {esc(str(met.attrs.get('electrolyte', '')))}, central region "
            f"{100 * float(met.attrs.get('central_fraction', 0.75)):.0f} % of the cell area.  "
            "Chain: reconstruction, cell region from the data, registration to the first scan "
            "on the static layer, 3×3×3 median, recursive Otsu thresholds, layers matched to the "
            "declared stack, sub-voxel interface heights.  "
            f"{esc(str(met.attrs.get('conventions', '')))}</p>")
        parts.append(_series_table(met))
        parts.append(_series_trend_figure(met))
        if mp is not None:
            parts.append(_series_maps_figure(
                mp, "height_um", "interface", "height above plane (µm)",
                f"Series {s}: interface height above its best-fit plane (µm), first and last "
                "scan; axes in µm."))
            parts.append(_series_maps_figure(
                mp, "thickness_um", "layer", "thickness (µm)",
                f"Series {s}: layer thickness per column (µm), first and last scan; axes in µm."))
    return "\n".join(p for p in parts if p)


def _inputs_html(store) -> str:
    """Slices of the experiment's own scans (``tomo/<series>/scans/*``): reconstructed or read."""
    import matplotlib.pyplot as plt

    names = [n for n in store.names()
             if n.startswith("tomo/") and len(n.split("/")) == 4 and n.split("/")[2] == "scans"]
    if not names:
        return ""
    parts = ["<h3>Scans of the experiment</h3>"]
    for name in names:
        ds = store.read(name)
        if "time_s" in ds.dims:
            ds = ds.isel(time_s=0)
        vol = ds["volume"]
        nz = vol.sizes["z"]
        zslice = np.asarray(vol.isel(z=nz // 2).values, float)
        has_sino = "sinogram" in ds
        ncol = 3 if has_sino else 2
        fig, axes = plt.subplots(1, ncol, figsize=(4.2 * ncol, 4.0))
        lo, hi = np.nanpercentile(zslice, [1, 99.5])
        axes[0].imshow(zslice, cmap="gray", vmin=lo, vmax=hi)
        axes[0].set_title(f"slice z = {nz // 2} of {nz}")
        side = np.asarray(vol.isel(y=vol.sizes["y"] // 2).values, float)
        axes[1].imshow(side, cmap="gray", vmin=lo, vmax=hi, aspect="auto")
        axes[1].set_title("x-z section (middle y)")
        if has_sino:
            sino = np.asarray(ds["sinogram"].values, float)
            axes[2].imshow(sino, cmap="gray", aspect="auto")
            axes[2].set_title("sinogram, -ln(I/I0), middle row")
            axes[2].set_xlabel("detector (px)")
            axes[2].set_ylabel("projection")
        for ax in axes[:2]:
            ax.set_xticks([])
            ax.set_yticks([])
        label = ds.attrs.get("label", name.rsplit("/", 1)[-1])
        info = [f"format {ds.attrs.get('format', '?')}"]
        if "center_px" in ds.attrs:
            info.append(f"centre of rotation {float(ds.attrs['center_px']):.2f} px (searched)")
        if "n_projections" in ds.attrs:
            info.append(f"{int(ds.attrs['n_projections'])} projections")
        vs = float(ds.attrs.get("voxel_size_um", float("nan")))
        if np.isfinite(vs):
            info.append(f"voxel {vs:g} µm")
        fig.suptitle(str(label))
        parts.append(figure_html(fig, f"{label}: {', '.join(info)}; source {ds.attrs.get('source', '')}."))
    return "\n".join(parts)
