"""Neutron imaging section of the report (002_3ee4edf529433f9c).

Reads the datasets of :mod:`ssbscope.neutron.stages` (``neutron/radiographs``,
``neutron/spacetime``, ``neutron/bands``, ``neutron/boundaries``, ``neutron/ct`` and the
twin's ``neutron/twin/truth`` when present) and renders:

* the first binned radiograph with the regions of interest, and the transmission profile of
  region I with its derivative and the layer boundaries (002_ Fig. 1C, Fig. S3);
* Tr_t/Tr_0 maps at chosen times (002_ Fig. 2C);
* space–time maps of regions I and II beside the voltage curve on the same time axis, with
  the soft-short onset marked (002_ Fig. 2B,D,E);
* band time series with their onsets; a table of bands against the twin's truth;
* neutron-CT attenuation-increment slices after registration (002_ Fig. 5B);
* for real series (``neutron/input/<label>`` of :func:`ssbscope.neutron.stages.input_stages`):
  the first frame, the mean per frame against time, time of flight or frame number, the
  space–time map of the binned ratio (rows against bin time, RdBu centred at 1) when the series
  was median-binned, and a table saying whether the values are normalised and how they were binned;
  with ``li_roi``: the region on the reference bin and its Li volume change against time with
  the Faraday line of the echem log (``correlate/states``) over the electrode area.
"""

from __future__ import annotations

import json
import logging

import numpy as np
import pandas as pd

from ssbscope.report import Section, figure_html, table_html, load_dataset

__all__ = ["section"]

log = logging.getLogger(__name__)

_ROI_COLORS = {"I": "#2ca02c", "II": "#ff7f0e", "beam": "#1f77b4", "background": "#7f7f7f"}


_get = load_dataset


def _radiograph_figure(rd, bnd, rois) -> str:
    import matplotlib.pyplot as plt
    from matplotlib.patches import Rectangle

    tr0 = rd["transmission"].values[0]
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(10, 4), gridspec_kw={"width_ratios": [1.4, 1]})
    im = ax.imshow(tr0, cmap="gray", vmin=0, vmax=1.05, origin="upper")
    for name, (y0, y1, x0, x1) in rois.items():
        ax.add_patch(Rectangle((x0 - 0.5, y0 - 0.5), x1 - x0, y1 - y0, fill=False, lw=1.5,
                               ec=_ROI_COLORS.get(name, "w")))
        ax.text(x0, y0 + 2, name, color=_ROI_COLORS.get(name, "w"), fontsize=8, va="top")
    ax.set_xlabel("x (px)")
    ax.set_ylabel("z, stacking axis (px)")
    fig.colorbar(im, ax=ax, label="transmission")
    if bnd is not None:
        prof = bnd["profile_ratio"].values
        rows = np.arange(rois["I"][0], rois["I"][0] + prof.size)
        ax2.plot(prof, rows, color="k", lw=1.2, label="transmission (ROI I)")
        d = np.gradient(prof)
        ax2b = ax2.twiny()
        ax2b.plot(d, rows, color="#d1495b", lw=1.0, label="derivative")
        ax2b.set_xlabel("d transmission / d z (1/px)", color="#d1495b")
        for p in bnd["position_px"].values:
            ax2.axhline(p + rois["I"][0], color="#1d4e89", lw=0.8, ls="--")
        ax2.invert_yaxis()
        ax2.set_xlabel("transmission")
        ax2.set_ylabel("z (px)")
    return figure_html(fig, "Binned radiograph before cycling (Eq. 1, 30-frame median) with the "
                            "regions of interest, and the profile of region I with its derivative; "
                            "dashed lines: layer boundaries found (002_ Fig. 1C, S3).")


def _ratio_maps_figure(rd, times_idx) -> str:
    import matplotlib.pyplot as plt

    r = rd["ratio"].values
    t = rd["time_s"].values
    fig, axes = plt.subplots(1, len(times_idx), figsize=(3.3 * len(times_idx), 3.2), squeeze=False)
    im = None
    for ax, k in zip(axes[0], times_idx):
        im = ax.imshow(r[k], cmap="RdBu", vmin=0.8, vmax=1.2, origin="upper")
        ax.set_title(f"t = {t[k] / 3600:.2f} h", fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
    fig.colorbar(im, ax=axes[0].tolist(), label="Tr_t / Tr_0", shrink=0.85)
    return figure_html(fig, "Transmission ratio maps Tr_t/Tr_0: red < 1 Li enrichment, blue > 1 "
                            "depletion (002_ Fig. 2C).")


def _spacetime_figure(st, truth, onset_s) -> str:
    import matplotlib.pyplot as plt

    t_h = st["time_s"].values / 3600.0
    pos = st["position_px"].values
    fig, axes = plt.subplots(1, 3, figsize=(11, 4.2), sharey=True,
                             gridspec_kw={"width_ratios": [0.7, 1, 1]})
    if truth is not None and "voltage_V" in truth:
        vt = truth["voltage_time_s"].values / 3600.0
        axes[0].plot(truth["voltage_V"].values, vt, color="#1d4e89", lw=1)
        axes[0].set_xlabel("voltage (V)")
    else:
        axes[0].text(0.5, 0.5, "no voltage log", ha="center", transform=axes[0].transAxes)
    axes[0].set_ylabel("time (h)")
    dt = np.diff(t_h).mean() if t_h.size > 1 else 1.0
    extent = [pos[0] - 0.5, pos[-1] + 0.5, t_h[-1] + dt / 2, t_h[0] - dt / 2]
    im = None
    for ax, roi in zip(axes[1:], ("I", "II")):
        im = ax.imshow(st["ratio"].sel(roi=roi).values, cmap="RdBu", vmin=0.8, vmax=1.2,
                       aspect="auto", extent=extent)
        ax.set_title(f"region {roi}", fontsize=9)
        ax.set_xlabel("z, stacking axis (px)")
    for ax in axes:
        if onset_s is not None and onset_s >= 0:
            ax.axhline(onset_s / 3600.0, color="k", ls="--", lw=1)
        if truth is not None and truth.attrs.get("soft_short_onset_s", -1) >= 0:
            ax.axhline(truth.attrs["soft_short_onset_s"] / 3600.0, color="#d1495b", ls=":", lw=1)
    axes[0].set_ylim(t_h[-1] + dt / 2, 0)
    fig.colorbar(im, ax=axes[1:].tolist(), label="Tr_t / Tr_0")
    return figure_html(fig, "Space–time maps of Tr_t/Tr_0 in regions I and II beside the voltage "
                            "curve on the same time axis (002_ Fig. 2B,D,E); dashed: soft-short onset "
                            "found in the maps, dotted: the electrochemistry twin's onset.")


def _bands_figure(bands, onset_s) -> str:
    import matplotlib.pyplot as plt

    t_h = bands["time_s"].values / 3600.0
    fig, ax = plt.subplots(figsize=(8, 3.6))
    for k in range(bands.sizes["band"]):
        lab = (f"{bands['roi'].values[k]} z={bands['position_px'].values[k]:.1f} px "
               f"({bands['kind'].values[k]})")
        ax.plot(t_h, bands["series_ratio"].values[k], marker="o", ms=3, lw=1, label=lab)
    if onset_s is not None and onset_s >= 0:
        ax.axvline(onset_s / 3600.0, color="k", ls="--", lw=1)
    ax.axhline(1.0, color="0.6", lw=0.8)
    ax.set_xlabel("time (h)")
    ax.set_ylabel("band mean Tr_t / Tr_0")
    ax.legend(fontsize=7, ncol=2)
    ax.grid(alpha=0.3)
    return figure_html(fig, "Band time series (enrichment < 1, depletion > 1); dashed: soft-short onset.")


def _ct_figure(ct) -> str:
    import matplotlib.pyplot as plt

    inc = ct["increment_1_cm"].values
    z = int(np.argmax(ct["increase_mask"].values.sum(axis=(1, 2))))
    y = inc.shape[1] // 2
    lim = float(np.percentile(np.abs(inc), 99.9)) or 1.0
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.8))
    im = axes[0].imshow(inc[z], cmap="RdBu_r", vmin=-lim, vmax=lim)
    axes[0].set_title(f"slice z = {z}", fontsize=9)
    axes[1].imshow(inc[:, y, :], cmap="RdBu_r", vmin=-lim, vmax=lim, aspect="auto")
    axes[1].set_title(f"section y = {y} (z down)", fontsize=9)
    fig.colorbar(im, ax=axes.tolist(), label="attenuation increment (1/cm)")
    shift = json.loads(ct.attrs["shift_zyx_vox"]) if isinstance(ct.attrs["shift_zyx_vox"], str) \
        else ct.attrs["shift_zyx_vox"]
    return figure_html(fig, "Neutron-CT attenuation increment after − before, aligned by phase "
                            f"correlation (shift found {np.round(shift, 2).tolist()} voxels): red = "
                            "Li gained (creep into the rod–tube gap), blue = lost (002_ Fig. 5B).")


def _input_labels(store) -> list[str]:
    """Labels of the real radiograph series (``neutron/input/<label>``) in the store."""
    pre = "neutron/input/"
    return [n[len(pre):] for n in store.names() if n.startswith(pre) and "/" not in n[len(pre):]]


def _input_figure(ds, label) -> str:
    import matplotlib.pyplot as plt

    var = "transmission" if "transmission" in ds else "counts"
    unit = ds[var].attrs.get("units", "")
    first = ds[var].isel(frame=0).values
    fin = first[np.isfinite(first)]
    lo, hi = (np.percentile(fin, [1, 99]) if fin.size else (0.0, 1.0))
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(10, 4), gridspec_kw={"width_ratios": [1.2, 1]})
    im = ax.imshow(first, cmap="gray", vmin=lo, vmax=hi, origin="upper")
    ax.set_xlabel("x (px)")
    ax.set_ylabel("y (px)")
    fig.colorbar(im, ax=ax, label=f"{var} ({unit})")
    mean = ds[f"mean_{var}"].values
    if "time_s" in ds.coords:
        x, xl = ds["time_s"].values, "time (s)"
    elif "tof_s" in ds.coords:
        x, xl = ds["tof_s"].values * 1e3, "time of flight (ms)"
    else:
        x, xl = ds["frame"].values, "frame"
    ax2.plot(x, mean, marker="o", ms=3, lw=1, color="#1d4e89")
    ax2.set_xlabel(xl)
    ax2.set_ylabel(f"mean {var} ({unit})")
    ax2.grid(alpha=0.3)
    fig.tight_layout()
    note = "" if ds.attrs.get("normalised") in (True, "True") else " Not normalised: no open beam was given."
    return figure_html(fig, f"{label}: first frame after gamma-spot removal and the mean over each frame."
                            + note)


def _input_spacetime_figure(ds, label) -> str:
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
    rows = ds["y"].values
    fin = p[np.isfinite(p)]
    dev = float(np.max(np.abs(fin - 1.0))) if fin.size else 0.0  # row means: no lone outliers
    fixed = prof.attrs.get("colour_half_range")
    lim = float(fixed) if fixed is not None else max(dev, 0.01)
    fig, ax = plt.subplots(figsize=(7.5, 4))
    im = ax.imshow(p.T, cmap="RdBu", vmin=1 - lim, vmax=1 + lim, aspect="auto", origin="upper",
                   interpolation="nearest",
                   extent=[x[0] - dx / 2, x[-1] + dx / 2, rows[-1] + 0.5, rows[0] - 0.5])
    ref = int(ds[rname].attrs.get("reference_bin", ds.attrs.get("reference_bin", 0)))
    ax.axvline(x[ref], color="k", lw=0.8, ls=":")
    ax.set_xlabel(xl)
    ax.set_ylabel("y, stacking axis (px)")
    fig.colorbar(im, ax=ax, label=f"row mean {ylab}")
    fig.tight_layout()
    n = int(ds.attrs.get("bin_frames", 0))
    what = ("transmission change ratio Tr_t/Tr_0" if rname == "transmission_ratio" else
            "count ratio (equals Tr_t/Tr_0 only for a stable beam: no open beam was given)")
    return figure_html(fig, f"{label}: space–time map of the {what}, mean over x of each row, per "
                            f"{n}-frame median bin against the bin's mean time; dotted: reference bin "
                            "(red < 1 Li enrichment, blue > 1 depletion; 002_ Fig. 2B,D); colour range "
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


def _li_figure(ds, label, corr) -> tuple[str, tuple | None]:
    """The Li region on the reference bin and its Li change against time (Faraday line when the
    series is on the echem clock); returns (html, summary item)."""
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
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(10.5, 4), gridspec_kw={"width_ratios": [1.2, 1]})
    ax.imshow(tr, cmap="gray", vmin=lo, vmax=hi, origin="upper")
    ax.add_patch(Rectangle((x0 - 0.5, y0 - 0.5), x1 - x0, y1 - y0, fill=False, lw=1.5, ec="#d1495b"))
    ax.text(x0, y0 - 1, "li_roi", color="#d1495b", fontsize=8, va="bottom")
    if "beam_roi_px" in ds.attrs:
        b = json.loads(ds.attrs["beam_roi_px"])
        ax.add_patch(Rectangle((b["cols"][0] - 0.5, b["rows"][0] - 0.5), b["cols"][1] - b["cols"][0],
                               b["rows"][1] - b["rows"][0], fill=False, lw=1.2, ec="#1f77b4"))
        ax.text(b["cols"][0], b["rows"][1] + 1, "beam_roi", color="#1f77b4", fontsize=8, va="top")
    ax.set_xlabel("x (px)")
    ax.set_ylabel("y, stacking axis (px)")
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
    return figure_html(fig, cap), item


def _inputs_html(store, labels) -> tuple[str, list]:
    parts, rows, summary = ["<h3>Real inputs</h3>"], [], []
    corr = _get(store, "correlate/states")
    for lab in labels:
        ds = _get(store, f"neutron/input/{lab}")
        var = "transmission" if "transmission" in ds else "counts"
        parts.append(_input_figure(ds, lab))
        binned = "ratio_profile" in ds
        if binned:
            parts.append(_input_spacetime_figure(ds, lab))
        if "li_thickness_change_roi_um" in ds and "li_roi_px" in ds.attrs:
            html, item = _li_figure(ds, lab, corr)
            parts.append(html)
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
    parts.append(table_html(pd.DataFrame(rows), caption="Real neutron radiograph series"))
    return "".join(parts), summary


def section(store) -> Section | None:
    """The neutron section, or None when the store holds no neutron results."""
    rd = _get(store, "neutron/radiographs")
    labels = _input_labels(store)
    if rd is None:
        if not labels:
            return None
        html, summary = _inputs_html(store, labels)
        return Section("Neutron imaging", html, tuple(summary))
    truth = _get(store, "neutron/twin/truth")
    st = _get(store, "neutron/spacetime")
    bands = _get(store, "neutron/bands")
    bnd = _get(store, "neutron/boundaries")
    ct = _get(store, "neutron/ct")
    rois = json.loads(rd.attrs["rois"]) if "rois" in rd.attrs else {}
    parts = ["<p>Operando neutron radiography of the soft-shorting sulfide cell (002_3ee4edf529433f9c): "
             "saturated pixels and gamma spots removed, static background subtracted, open-beam/dark "
             "normalisation (Eq. 1) with beam-intensity correction, 30-frame median binning, "
             "Tr_t/Tr_0 maps with counting uncertainty.</p>"]
    summary = []
    parts.append(_radiograph_figure(rd, bnd, rois))
    nt = rd.sizes["time_s"]
    if nt >= 2:
        parts.append(_ratio_maps_figure(rd, sorted({max(1, nt // 3), max(1, 2 * nt // 3), nt - 1})))
    onset = None
    if st is not None:
        onset = float(st.attrs.get("soft_short_onset_s", -1.0))
        parts.append(_spacetime_figure(st, truth, onset))
        summary.append(("neutron: soft-short onset", f"{onset / 3600:.2f} h" if onset >= 0 else "none"))
    if bands is not None and bands.sizes.get("band", 0):
        parts.append(_bands_figure(bands, onset))
        df = pd.DataFrame({"ROI": bands["roi"].values, "position (px)": bands["position_px"].values,
                           "kind": bands["kind"].values, "final Tr_t/Tr_0": bands["final_ratio"].values,
                           "onset (h)": bands["onset_s"].values / 3600.0})
        if truth is not None:
            names = []
            for k in range(len(df)):
                hit = ""
                for b in range(truth.sizes["band"]):
                    r0, r1 = int(truth["band_row0_px"].values[b]), int(truth["band_row1_px"].values[b])
                    if (truth["band_roi"].values[b] == df["ROI"][k]
                            and r0 - 1 <= df["position (px)"][k] <= r1
                            and int(truth["band_sign"].values[b]) == int(bands["sign"].values[k])):
                        hit = str(truth["band"].values[b])
                names.append(hit or "—")
            df.insert(0, "twin band", names)
        if "delta_li_um" in rd:
            d = rd["delta_li_um"].values[-1]
            px = float(rd.attrs.get("pixel_size_um", 1.0))
            df["Li volume change (10⁶ µm³)"] = [
                float(d[int(bands["row0_px"].values[k]):int(bands["row1_px"].values[k]),
                        rois[str(bands["roi"].values[k])][2]:rois[str(bands["roi"].values[k])][3]].sum())
                * px * px / 1e6 for k in range(len(df))]
        parts.append(table_html(df, caption="Bands of Li enrichment / depletion in the space–time maps"))
        summary.append(("neutron: bands found", str(len(df))))
    if ct is not None:
        parts.append(_ct_figure(ct))
    if truth is not None and truth.attrs.get("soft_short_onset_s", -1) >= 0:
        summary.append(("neutron twin: true soft-short onset",
                        f"{truth.attrs['soft_short_onset_s'] / 3600:.2f} h"))
    if labels:
        html, extra = _inputs_html(store, labels)
        parts.append(html)
        summary += extra
    return Section("Neutron imaging", "\n".join(parts), tuple(summary))
