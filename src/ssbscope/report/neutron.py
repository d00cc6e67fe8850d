"""Neutron imaging section of the report (Cao et al. 2023 (doi:10.1002/adfm.202307998)).

Reads the datasets of :mod:`ssbscope.neutron.stages` and renders:

* for real series (``neutron/input/<label>`` of :func:`ssbscope.neutron.stages.input_stages`):
  the first frame, the mean per frame against time, time of flight or frame number, the
  space–time map of the binned ratio (rows against bin time, RdBu centred at 1) when the series
  was median-binned, and a table saying whether the values are normalised and how they were binned;
  with ``li_roi``: the region on the reference bin and its Li volume change against time with
  the Faraday line of the echem log (``correlate/states``) over the electrode area;
* with ``regions`` (``neutron/<label>/spacetime``, ``/bands``, ``/boundaries``): the reference
  bin with the regions and their profiles with the layer boundaries (Cao et al. 2023, Fig. 1C, S3), the
  space–time maps of the regions beside the voltage of the cell's echem log on the same clock
  with the soft-short onset (Cao et al. 2023, Fig. 2B,D,E), the band time series and tables of bands and
  boundaries; the twin's truth beside them when ``truth.json`` was kept
  (:func:`ssbscope.report.truth`, key ``neutron.<label>``);
* the neutron-CT attenuation increment between two scans of the cell and the Li moved (``neutron/ct``, Cao et al. 2023, Fig. 5B).
"""

from __future__ import annotations

import json
import logging

import numpy as np
import pandas as pd

from ssbscope.report import Section, figure, load_dataset, render_section, table
from ssbscope.units import pretty

__all__ = ["section"]

log = logging.getLogger(__name__)

_get = load_dataset


def _pixel_mm(ds):
    """(mm per pixel, axis unit) of a radiograph series: its ``pixel_size_um`` in mm, or
    (1, "px") when the series has none."""
    try:
        px = float(ds.attrs.get("pixel_size_um", float("nan")))
    except (TypeError, ValueError):
        px = float("nan")
    return (px / 1000.0, "mm") if np.isfinite(px) and px > 0 else (1.0, "px")


def _cell_voltage(store, label):
    """(time_s, voltage_V, log label) of the echem log of the neutron input's cell, or None."""
    exp = store.attrs.get("experiment") or {}
    items = (exp.get("inputs") or {}).get("neutron") or []
    cell = next((it.get("cell") for it in items if it.get("label") == label), None)
    if cell is None:
        return None
    for name in store.names():
        if name.startswith("echem/") and name.endswith("/timeseries") and name.count("/") == 2:
            ts = _get(store, name)
            if ts is not None and ts.attrs.get("cell") == cell and "voltage_V" in ts:
                return ts["time_s"].values, ts["voltage_V"].values, name.split("/")[1]
    return None


def _regions_figure(ds, st, bnd, truth, label):
    """Reference bin with the regions, and each region's profile with the boundaries found."""
    import matplotlib.pyplot as plt
    from matplotlib.patches import Rectangle

    ref = int(ds.attrs.get("reference_bin", 0))
    tr0 = ds["transmission_binned"].values[ref]
    regions = json.loads(st.attrs["regions_px"])
    colors = ["#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2"]
    sc, u = _pixel_mm(ds)
    ny, nx = tr0.shape
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(10, 4), gridspec_kw={"width_ratios": [1.4, 1]})
    im = ax.imshow(tr0, cmap="gray", vmin=0, vmax=1.05, origin="upper", extent=(0, nx * sc, ny * sc, 0))
    for k, (name, r) in enumerate(regions.items()):
        c = colors[k % len(colors)]
        ax.add_patch(Rectangle((r["x0"] * sc, r["y0"] * sc), (r["x1"] - r["x0"]) * sc,
                               (r["y1"] - r["y0"]) * sc, fill=False, lw=1.5, ec=c))
        # the region's name inside its box, on a white patch (readable on any grey)
        ax.text((r["x0"] + r["x1"]) / 2 * sc, (r["y0"] + 1) * sc, name, color=c, fontsize=8, va="top",
                ha="center", bbox=dict(fc="white", ec="none", alpha=0.8, pad=0.5), clip_on=True)
        prof = bnd["profile_transmission"].sel(region=name).values
        ax2.plot(prof, bnd["y"].values * sc, color=c, lw=1.2, label=f"region {name}")
    for p, reg in zip(bnd["position_px"].values, bnd["boundary_region"].values):
        ax2.axhline(p * sc, color=colors[list(regions).index(str(reg)) % len(colors)], lw=0.8, ls="--")
    for name, p in ((truth or {}).get("layer_boundaries_px") or {}).items():
        ax2.axhline(p * sc, color="#d1495b", lw=0.8, ls=":")
        ax2.text(0.02, p * sc, name, color="#d1495b", fontsize=7, va="bottom",
                 transform=ax2.get_yaxis_transform())
    ax.set_xlabel(f"x ({u})")
    ax.set_ylabel(f"y, stacking axis ({u})")
    fig.colorbar(im, ax=ax, label="transmission")
    ax2.invert_yaxis()
    ax2.set_xlabel("transmission (row mean)")
    ax2.set_ylabel(f"y ({u})")
    ax2.legend(fontsize=7)
    fig.tight_layout()
    return figure(fig, f"{label}: reference bin {ref} (median of its frames, Eq. 1) with the "
                            "regions (inputs.neutron[].regions) and their transmission profiles; dashed: "
                            "layer boundaries found (Cao et al. 2023, Fig. 1C, S3)"
                            + ("; dotted: the twin's true boundaries (truth.json)." if truth else "."))


def _spacetime_figure(st, voltage, truth, label, ds=None):
    """Space-time maps of the regions beside the cell's voltage, onsets marked."""
    import matplotlib.pyplot as plt

    t_h = st["time_s"].values / 3600.0
    names = [str(n) for n in st["region"].values]
    sc, u = _pixel_mm(ds) if ds is not None else (1.0, "px")
    y = st["y"].values * sc
    fig, axes = plt.subplots(1, 1 + len(names), figsize=(3.2 + 3.6 * len(names), 4.2), sharey=True,
                             gridspec_kw={"width_ratios": [0.7] + [1] * len(names)})
    if voltage is not None:
        vt, vv, vlab = voltage
        axes[0].plot(vv, vt / 3600.0, color="#1d4e89", lw=1)
        axes[0].set_xlabel(f"voltage (V), log {vlab}")
    else:
        axes[0].text(0.5, 0.5, "no echem log\nof this cell", ha="center", transform=axes[0].transAxes)
    axes[0].set_ylabel("time (h)")
    dt = float(np.diff(t_h).mean()) if t_h.size > 1 else 1.0
    extent = [y[0] - 0.5 * sc, y[-1] + 0.5 * sc, t_h[-1] + dt / 2, t_h[0] - dt / 2]
    r = st["ratio"].values
    fin = r[np.isfinite(r)]
    lim = max(float(np.max(np.abs(fin - 1.0))) if fin.size else 0.0, 0.01)
    lim = min(lim, 0.2)
    im = None
    onsets = {str(n): float(v) for n, v in zip(st["region"].values, st["soft_short_onset_s"].values)}
    for ax, name in zip(axes[1:], names):
        im = ax.imshow(st["ratio"].sel(region=name).values, cmap="RdBu", vmin=1 - lim, vmax=1 + lim,
                       aspect="auto", extent=extent, interpolation="nearest")
        ax.set_title(f"region {name}", fontsize=9)
        ax.set_xlabel(f"y, stacking axis ({u})")
        if onsets[name] >= 0:
            ax.axhline(onsets[name] / 3600.0, color="k", ls="--", lw=1)
    t_true = (truth or {}).get("soft_short_onset_s")
    if t_true is not None:
        for ax in axes:
            ax.axhline(t_true / 3600.0, color="#d1495b", ls=":", lw=1)
    head = float(st.attrs.get("soft_short_onset_s", -1.0))
    if head >= 0:
        axes[0].axhline(head / 3600.0, color="k", ls="--", lw=1)
    axes[0].set_ylim(t_h[-1] + dt / 2, 0)
    fig.colorbar(im, ax=axes[1:].tolist(), label="Tr_t / Tr_0")
    return figure(fig, f"{label}: space–time maps of Tr_t/Tr_0 (mean over each region's columns per "
                            "row and bin) beside the cell's voltage on the same clock (Cao et al. 2023, Fig. 2B,D,E); "
                            "red < 1 Li enrichment, blue > 1 depletion; dashed: soft-short onset found in "
                            "the region's bands" + ("; dotted: the twin's true onset (truth.json)."
                                                    if t_true is not None else "."))


def _bands_figure(bands, onset_s, label, ds=None):
    import matplotlib.pyplot as plt

    sc, u = _pixel_mm(ds) if ds is not None else (1.0, "px")
    t_h = bands["time_s"].values / 3600.0
    fig, ax = plt.subplots(figsize=(8, 3.6))
    for k in range(bands.sizes["band"]):
        pos = bands["position_px"].values[k] * sc
        lab = (f"{bands['region'].values[k]}, y = {pos:.{1 if u == 'px' else 2}f} {u} "
               f"({bands['kind'].values[k]})")
        ax.errorbar(t_h, bands["series_ratio"].values[k], yerr=bands["series_sigma"].values[k],
                    marker="o", ms=3, lw=1, label=lab)
    if onset_s is not None and onset_s >= 0:
        ax.axvline(onset_s / 3600.0, color="k", ls="--", lw=1)
    ax.axhline(1.0, color="0.6", lw=0.8)
    ax.set_xlabel("time (h)")
    ax.set_ylabel("band mean Tr_t / Tr_0")
    ax.legend(fontsize=7, ncol=2)
    ax.grid(alpha=0.3)
    return figure(fig, f"{label}: band time series (enrichment < 1, depletion > 1, ±1σ counting); "
                            "dashed: soft-short onset.")


def _analysis_blocks(store, label, ds) -> tuple[list, list]:
    """Figures and tables of ``neutron/<label>/...`` (regions, bands, onset, boundaries)."""
    from ssbscope.report import truth as _truth

    st = _get(store, f"neutron/{label}/spacetime")
    if st is None:
        return [], []
    bands = _get(store, f"neutron/{label}/bands")
    bnd = _get(store, f"neutron/{label}/boundaries")
    tru = _truth(store, "neutron", label)
    parts, summary = [], []
    if bnd is not None and "transmission_binned" in ds:
        parts.append(_regions_figure(ds, st, bnd, tru, label))
    parts.append(_spacetime_figure(st, _cell_voltage(store, label), tru, label, ds))
    onset = float(st.attrs.get("soft_short_onset_s", -1.0))
    reg = st.attrs.get("onset_region", "")
    summary.append((f"neutron {label}: soft-short onset (region {reg})",
                    f"{onset / 3600:.2f} h" if onset >= 0 else "none"))
    t_true = (tru or {}).get("soft_short_onset_s")
    if tru is not None:
        summary.append((f"neutron {label}: true soft-short onset (twin)",
                        f"{t_true / 3600:.2f} h" if t_true is not None else "none"))
    if bands is not None and bands.sizes.get("band", 0):
        parts.append(_bands_figure(bands, onset, label, ds))
        df = pd.DataFrame({"region": bands["region"].values, "rows": [
            f"{a}-{b}" for a, b in zip(bands["row0_px"].values, bands["row1_px"].values)],
            "position (px)": bands["position_px"].values, "kind": bands["kind"].values,
            "final Tr_t/Tr_0": bands["final_ratio"].values, "onset (h)": bands["onset_s"].values / 3600.0})
        if "name" in bands:  # named from the data (ssbscope.neutron.band_names)
            df.insert(0, "band (rule)", [str(n) or "—" for n in bands["name"].values])
        if tru is not None and tru.get("bands"):
            names = []
            for k in range(len(df)):
                hit = [b for b, v in tru["bands"].items()
                       if v["rows"][0] - 1 <= df["position (px)"][k] <= v["rows"][1]
                       and int(v["sign"]) == int(bands["sign"].values[k])]
                names.append(", ".join(f"{b} ({tru['bands'][b]['region']})" for b in hit) or "—")
            df.insert(0, "twin band", names)
        parts.append(table(df, caption=f"{label}: bands of Li enrichment / depletion in the "
                                       "space–time maps (P1–P4 of Cao et al. 2023)"))
        summary.append((f"neutron {label}: bands found", str(len(df))))
    if bnd is not None and bnd.sizes.get("boundary", 0):
        df = pd.DataFrame({"region": bnd["boundary_region"].values, "row (px)": bnd["position_px"].values,
                           "step (1/px)": bnd["step"].values})
        if tru is not None and tru.get("layer_boundaries_px"):
            tb = tru["layer_boundaries_px"]
            near = [min(tb, key=lambda n: abs(tb[n] - p)) for p in df["row (px)"]]
            df["nearest true boundary"] = near
            df["true row (px)"] = [tb[n] for n in near]
        parts.append(table(df, caption=f"{label}: layer boundaries (steps of the reference bin's "
                                       "transmission profile)"))
    return parts, summary


def _ct_figure(ct):
    import matplotlib.pyplot as plt

    inc = ct["increment_1_cm"].values
    z = int(np.argmax(ct["increase_mask"].values.sum(axis=(1, 2))))
    y = inc.shape[1] // 2
    lim = float(np.percentile(np.abs(inc), 99.9)) or 1.0
    vs_mm = float(ct.attrs.get("voxel_size_um", 1000.0)) / 1000.0
    nz, ny, nx = inc.shape
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.8))
    im = axes[0].imshow(inc[z], cmap="RdBu_r", vmin=-lim, vmax=lim, origin="lower",
                        extent=(0, nx * vs_mm, 0, ny * vs_mm))
    axes[0].set_title(f"slice z = {(z + 0.5) * vs_mm:.1f} mm", fontsize=9)
    axes[0].set_xlabel("x (mm)")
    axes[0].set_ylabel("y (mm)")
    axes[1].imshow(inc[:, y, :], cmap="RdBu_r", vmin=-lim, vmax=lim, aspect="auto",
                   extent=(0, nx * vs_mm, nz * vs_mm, 0))
    axes[1].set_title(f"section y = {(y + 0.5) * vs_mm:.1f} mm (z down)", fontsize=9)
    axes[1].set_xlabel("x (mm)")
    axes[1].set_ylabel("z (mm)")
    fig.colorbar(im, ax=axes.tolist(), label="attenuation increment (cm⁻¹)")
    shift = json.loads(ct.attrs["shift_zyx_vox"]) if isinstance(ct.attrs["shift_zyx_vox"], str) \
        else ct.attrs["shift_zyx_vox"]
    return figure(fig, "Neutron-CT attenuation increment after − before, aligned by phase "
                            f"correlation (shift found {np.round(shift, 2).tolist()} voxels): red = "
                            "Li gained (creep into the rod–tube gap), blue = lost (Cao et al. 2023, Fig. 5B).")


def _ct_table(store, ct):
    """Shift, noise and Li moved between the two CT scans, beside the twin's truth if kept."""
    from ssbscope.report import truth as _truth

    shift = ct.attrs.get("shift_zyx_vox")
    shift = json.loads(shift) if isinstance(shift, str) else shift
    tru = _truth(store, "neutron", "ct") or {}
    rows = [{"quantity": "re-mounting shift z, y, x (voxels)",
             "measured": ", ".join(f"{v:.2f}" for v in shift or []),
             "twin truth": ", ".join(f"{v:.2f}" for v in tru.get("shift_zyx_vox", [])) or "—"},
            {"quantity": "increment noise (cm⁻¹)", "measured": f"{float(ct.attrs.get('noise_1_cm', np.nan)):.3g}",
             "twin truth": "—"}]
    for var, what in (("li_gained_mm3", "Li gained (mm³)"), ("li_lost_mm3", "Li lost (mm³)")):
        if var in ct:
            t = tru.get(var.replace("_mm3", "_mm3"))
            rows.append({"quantity": what, "measured": f"{float(ct[var].values):.3g}",
                         "twin truth": f"{float(t):.3g}" if t is not None else "—"})
    if _truth(store, "neutron", "ct") is None:  # a user's own data: no truth column
        rows = [{k: v for k, v in r.items() if k != "twin truth"} for r in rows]
    return table(pd.DataFrame(rows), caption=(
        f"Neutron CT {ct.attrs.get('before', 'before')} → {ct.attrs.get('after', 'after')}: "
        f"{ct.attrs.get('li_rule', '')}"))


def _input_labels(store) -> list[str]:
    """Labels of the real radiograph series (``neutron/input/<label>``) in the store."""
    pre = "neutron/input/"
    return [n[len(pre):] for n in store.names() if n.startswith(pre) and "/" not in n[len(pre):]]


def _input_figure(ds, label):
    import matplotlib.pyplot as plt

    var = "transmission" if "transmission" in ds else "counts"
    unit = ds[var].attrs.get("units", "")  # shown with the report's typography (units.pretty)
    first = ds[var].isel(frame=0).values
    fin = first[np.isfinite(first)]
    lo, hi = (np.percentile(fin, [1, 99]) if fin.size else (0.0, 1.0))
    sc, u = _pixel_mm(ds)
    ny, nx = first.shape
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(10, 4), gridspec_kw={"width_ratios": [1.2, 1]})
    im = ax.imshow(first, cmap="gray", vmin=lo, vmax=hi, origin="upper", extent=(0, nx * sc, ny * sc, 0))
    ax.set_xlabel(f"x ({u})")
    ax.set_ylabel(f"y ({u})")
    shown = pretty(unit) if pretty(unit) != var else ""  # "counts (counts)": the unit is the name
    fig.colorbar(im, ax=ax, label=f"{var} ({shown})" if shown else var)
    mean = ds[f"mean_{var}"].values
    if "time_s" in ds.coords:
        x, xl = ds["time_s"].values, "time (s)"
    elif "tof_s" in ds.coords:
        x, xl = ds["tof_s"].values * 1e3, "time of flight (ms)"
    else:
        x, xl = ds["frame"].values, "frame"
    ax2.plot(x, mean, marker="o", ms=3, lw=1, color="#1d4e89")
    ax2.set_xlabel(xl)
    ax2.set_ylabel(f"mean {var} ({shown})" if shown else f"mean {var}")
    ax2.grid(alpha=0.3)
    fig.tight_layout()
    note = "" if ds.attrs.get("normalised") in (True, "True") else " Not normalised: no open beam was given."
    return figure(fig, f"{label}: first frame after gamma-spot removal and the mean over each frame."
                            + note)


def _input_spacetime_figure(ds, label):
    """Space–time map of a binned real series: ratio per row (y) against the bin time."""
    import matplotlib.pyplot as plt

    prof = ds["ratio_profile"]
    rname = prof.attrs.get("ratio", "transmission_ratio")
    ylab = "Tr_t / Tr_0" if rname == "transmission_ratio" else "counts_t / counts_0"
    p = prof.values
    if "time_s_bin" in ds.coords:
        tb = ds["time_s_bin"].values
        scale, xl = (3600.0, "time (h)") if tb[-1] - tb[0] > 2 * 3600 else (60.0, "time (min)")
        x = tb / scale
    else:
        x, xl = ds["bin"].values.astype(float), "bin"
    dx = float(np.diff(x).mean()) if x.size > 1 else 1.0
    sc, u = _pixel_mm(ds)
    rows = ds["y"].values * sc
    fin = p[np.isfinite(p)]
    dev = float(np.max(np.abs(fin - 1.0))) if fin.size else 0.0  # row means: no lone outliers
    fixed = prof.attrs.get("colour_half_range")
    lim = float(fixed) if fixed is not None else max(dev, 0.01)
    fig, ax = plt.subplots(figsize=(7.5, 4))
    im = ax.imshow(p.T, cmap="RdBu", vmin=1 - lim, vmax=1 + lim, aspect="auto", origin="upper",
                   interpolation="nearest",
                   extent=[x[0] - dx / 2, x[-1] + dx / 2, rows[-1] + 0.5 * sc, rows[0] - 0.5 * sc])
    ref = int(ds[rname].attrs.get("reference_bin", ds.attrs.get("reference_bin", 0)))
    ax.axvline(x[ref], color="k", lw=0.8, ls=":")
    ax.set_xlabel(xl)
    ax.set_ylabel(f"y, stacking axis ({u})")
    fig.colorbar(im, ax=ax, label=f"row mean {ylab}")
    fig.tight_layout()
    n = int(ds.attrs.get("bin_frames", 0))
    what = ("transmission change ratio Tr_t/Tr_0" if rname == "transmission_ratio" else
            "count ratio (equals Tr_t/Tr_0 only for a stable beam: no open beam was given)")
    return figure(fig, f"{label}: space–time map of the {what}, mean over x of each row, per "
                            f"{n}-frame median bin against the bin's mean time; dotted: reference bin "
                            "(red < 1 Li enrichment, blue > 1 depletion; Cao et al. 2023, Fig. 2B,D); colour range "
                            f"1 ± {lim:.3g}" + (" (analysis.neutron.ratio_half_range)" if fixed is not None
                                                 else " (this map's largest deviation)") + ".")


def _faraday_volume(corr, label):
    """(times s, Faraday Li volume change um3 signed as the region's, area cm2) of a series'
    rows in correlate/states, or None."""
    if corr is None or "series" not in corr:
        return None
    m = np.array([str(x) for x in corr["series"].values.tolist()], dtype=object) == f"neutron/{label}"
    if not m.any():
        return None
    try:
        info = json.loads(corr.attrs.get("series", "{}")).get(f"neutron/{label}", {})
    except (TypeError, ValueError):
        info = {}
    area = info.get("area_cm2")
    if not area:
        return None
    sign = 1.0 if info.get("li_gains_on_charge", True) else -1.0
    h = corr["faraday_thickness_change_um"].values[m]
    return corr["time_s"].values[m], sign * h * float(area) * 1e8, float(area)


def _li_figure(ds, label, corr) -> tuple:
    """The Li region on the reference bin and its Li change against time (Faraday line when the
    series is on the echem clock); returns (figure, summary item)."""
    import matplotlib.pyplot as plt
    from matplotlib.patches import Rectangle

    roi = json.loads(ds.attrs["li_roi_px"])
    (y0, y1), (x0, x1) = roi["rows"], roi["cols"]
    has_vol = "li_volume_change_roi_um3" in ds
    if has_vol:
        v, e = ds["li_volume_change_roi_um3"].values / 1e6, ds["li_volume_change_roi_sigma_um3"].values / 1e6
        ylab = "Li volume change in li_roi (10⁶ µm³)"
    else:
        v, e = ds["li_thickness_change_roi_um"].values, ds["li_thickness_change_roi_sigma_um"].values
        ylab = "mean Li path-length change in li_roi (µm)"
    if "time_s_bin" in ds.coords:
        t, xl = ds["time_s_bin"].values / 3600.0, "time (h)"
    else:
        t, xl = ds["bin"].values.astype(float), "bin"
    ref = int(ds.attrs.get("reference_bin", 0))
    tr = ds["transmission_binned"].isel(bin=ref).values
    fin = tr[np.isfinite(tr)]
    lo, hi = (np.percentile(fin, [1, 99]) if fin.size else (0.0, 1.0))
    sc, u = _pixel_mm(ds)
    ny, nx = tr.shape
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(10.5, 4), gridspec_kw={"width_ratios": [1.2, 1]})
    ax.imshow(tr, cmap="gray", vmin=lo, vmax=hi, origin="upper", extent=(0, nx * sc, ny * sc, 0))
    ax.add_patch(Rectangle((x0 * sc, y0 * sc), (x1 - x0) * sc, (y1 - y0) * sc, fill=False, lw=1.5,
                           ec="#d1495b"))
    lab_box = dict(fc="white", ec="none", alpha=0.8, pad=0.5)  # readable on any grey, inside the axes
    ax.text((x0 + 1) * sc, (y0 + 1) * sc, "li_roi", color="#d1495b", fontsize=8, va="top",
            bbox=lab_box, clip_on=True)
    if "beam_roi_px" in ds.attrs:
        b = json.loads(ds.attrs["beam_roi_px"])
        ax.add_patch(Rectangle((b["cols"][0] * sc, b["rows"][0] * sc), (b["cols"][1] - b["cols"][0]) * sc,
                               (b["rows"][1] - b["rows"][0]) * sc, fill=False, lw=1.2, ec="#1f77b4"))
        ax.text((b["cols"][0] + 1) * sc, (b["rows"][1] - 1) * sc, "beam_roi", color="#1f77b4",
                fontsize=8, va="bottom", bbox=lab_box, clip_on=True)
    ax.set_xlabel(f"x ({u})")
    ax.set_ylabel(f"y, stacking axis ({u})")
    ax.set_title(f"reference bin {ref}", fontsize=9)
    ax2.errorbar(t, v, yerr=e, fmt="o", ms=4, capsize=2, color="#1d4e89", label="neutron (±1 σ)")
    far = _faraday_volume(corr, label) if has_vol else None
    item = None
    if far is not None:
        ft, fv, area = far
        fv = fv - fv[0] + v[0]  # the Faraday change since the series' first bin
        tt = ft / 3600.0 if xl == "time (h)" else t
        ax2.plot(tt, fv / 1e6, "-", color="k", lw=1.2, label=f"Faraday (dense Li, {area:.4g} cm²)")
        j = int(np.flatnonzero(np.isfinite(v))[-1])
        item = (f"neutron {label}: Li in li_roi (last bin)",
                f"{v[j]:+.4g} ± {e[j]:.2g} × 10⁶ µm³ vs Faraday {fv[j] / 1e6:+.4g} × 10⁶ µm³")
    elif has_vol:
        j = int(np.flatnonzero(np.isfinite(v))[-1])
        item = (f"neutron {label}: Li in li_roi (last bin)", f"{v[j]:+.4g} ± {e[j]:.2g} × 10⁶ µm³")
    ax2.axhline(0, color="0.6", lw=0.8)
    ax2.set_xlabel(xl)
    ax2.set_ylabel(ylab)
    ax2.grid(alpha=0.3)
    ax2.legend(fontsize=8)
    fig.tight_layout()
    gains = ds.attrs.get("li_gains_on_charge", True) in (True, "True", 1)
    cap = (f"{label}: Li volume change in li_roi (rows {y0}-{y1}, cols {x0}-{x1}) since the reference "
           "bin: Beer–Lambert Li path length along the beam per pixel (" + str(ds.attrs.get("li_spectrum", ""))
           + f", ⁶Li fraction {float(ds.attrs.get('li6_fraction', 0.0759)):g}) summed over the region × "
           "pixel area (the beam passes side-on through the cell); positive = Li gained. "
           + ("Line: Faraday's law for the charge of the echem log over the electrode area, "
              + ("positive charge adding Li to the region" if gains else "positive charge removing Li "
                 "from the region (li_roi.gains_on_charge: false)") + "; it holds when the region spans "
              "the whole electrode width and every row where the electrode gains or loses Li. "
              if far is not None else "No Faraday line: the series is not on an echem clock with a cell area. ")
           + "Error bars: counting and beam-correction noise; the beam-hardening model error (a few %) "
           "is not included.")
    return figure(fig, cap), item


def _inputs_part(store, labels) -> tuple[dict, list]:
    parts, rows, summary = [], [], []
    corr = _get(store, "correlate/states")
    for lab in labels:
        ds = _get(store, f"neutron/input/{lab}")
        var = "transmission" if "transmission" in ds else "counts"
        parts.append(_input_figure(ds, lab))
        binned = "ratio_profile" in ds
        if binned:
            parts.append(_input_spacetime_figure(ds, lab))
        blocks, extra = _analysis_blocks(store, lab, ds)
        if blocks:
            parts.extend(blocks)
            summary += extra
        if "li_thickness_change_roi_um" in ds and "li_roi_px" in ds.attrs:
            fig_, item = _li_figure(ds, lab, corr)
            parts.append(fig_)
            if item is not None:
                summary.append(item)
        mean = ds[f"mean_{var}"].values
        rows.append({"input": lab, "frames": int(ds.sizes["frame"]),
                     "frame (px)": f"{ds.sizes['y']} × {ds.sizes['x']}",
                     "values": var, "mean (first frame)": float(mean[0]),
                     "bins": (f"{int(ds.sizes['bin'])} × {int(ds.attrs.get('bin_frames', 0))} frames"
                              + (f" ({int(ds.attrs['frames_dropped'])} dropped)"
                                 if int(ds.attrs.get("frames_dropped", 0)) else "")
                              + (f"; {int(ds['empty_pixels'].values.sum())} pixel-bin(s) empty "
                                 "(no finite frame)" if "empty_pixels" in ds
                                 and int(ds["empty_pixels"].values.sum()) else "")
                              if binned else str(ds.attrs.get("binning", "none"))),
                     "gamma spots replaced": int(ds["n_gamma_spots"].values.sum()),
                     "normalisation": str(ds.attrs.get("normalisation", "")),
                     "time axis": str(ds.attrs.get("time_source", ""))})
        summary.append((f"neutron {lab}", f"{int(ds.sizes['frame'])} frames, "
                        f"{'normalised' if var == 'transmission' else 'raw counts (no open beam)'}"
                        + (f", {int(ds.sizes['bin'])} median bins of {int(ds.attrs.get('bin_frames', 0))}"
                           if binned else "")))
    return {"blocks": parts, "table": table(pd.DataFrame(rows), caption="Real neutron radiograph series")}, summary


def section(store) -> Section | None:
    """The neutron section, or None when the store holds no neutron results."""
    labels = _input_labels(store)
    ct = _get(store, "neutron/ct")
    if not labels and ct is None:
        return None
    inputs, ct_part, summary = None, None, []
    if labels:
        inputs, summary = _inputs_part(store, labels)
    if ct is not None:
        ct_part = {"figure": _ct_figure(ct), "table": _ct_table(store, ct)}
        if "li_gained_mm3" in ct:
            summary.append(("neutron CT: Li moved", f"{float(ct['li_gained_mm3'].values):.3g} mm³ "
                            f"gained, {float(ct['li_lost_mm3'].values):.3g} mm³ lost"))
    return Section("Neutron imaging", render_section("neutron.html.j2", inputs=inputs, ct=ct_part),
                   tuple(summary))
