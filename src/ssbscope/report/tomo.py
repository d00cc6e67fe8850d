"""X-ray tomography section of the report.

Reads the datasets written by :mod:`ssbscope.tomo.stages` (``tomo/segmentation``,
``tomo/metrics``, ``tomo/maps`` and, for the twin, ``tomo/twin/truth``; for a user's series
``tomo/<series>/metrics``, ``/maps``, ``/labels`` and the scans ``tomo/<series>/scans/*``)
and renders:

* orthogonal slices (x-z through the centre, x-y through the plated layer) of every scan
  state with the segmentation overlaid;
* topography maps of the plated Li | electrolyte interface (plane detrended) with Ra/Rq
  (Eqs. 6-7 of Huang et al. 2024 (doi:10.1016/j.xcrp.2024.101995));
* plated-Li and counter-electrode thickness maps (Sandoval et al. 2025 (doi:10.1039/d5eb00111k) Fig. 5d-e);
* pore + crack volume vs time under the voltage curve (Sandoval et al. 2025, Fig. 3c) when the anode-free
  log is in the store;
* a Table-1-like summary: value per state and % change from the first (pristine) scan, with
  the twin's ground truth beside it when present;
* for a series with a measured electrolyte: the volume fraction of its low-attenuation
  regions per layer and the Li-connected vs isolated volumes (Cao et al. 2023,
  doi:10.1002/adfm.202307998, Fig. 3I-J; the demo's soft-short pellet), beside the truth
  when present.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from ssbscope.report import Section, figure, load_dataset, render_section, table

__all__ = ["section"]

log = logging.getLogger(__name__)

_PHASE_COLORS = ("#00000000", "#2a9d8f", "#e9c46a", "#e76f51")  # low, lpscl, steel, cu


_get = load_dataset


def _state_labels(ds) -> list[str]:
    if ds is not None and "state" in ds:
        return [str(s) for s in ds["state"].values]
    return [f"t = {t / 3600:.2f} h" for t in ds["time_s"].values]


def _low_attenuation_blocks(store, series, met) -> list:
    """Layer fractions of the electrolyte's low-attenuation volume and the Li-connected vs
    isolated regions (Cao et al. 2023, doi:10.1002/adfm.202307998, Fig. 3I-J), measured
    beside the twin's truth when ``truth.json`` holds it."""
    import matplotlib.pyplot as plt

    from ssbscope.report import truth

    if "layer_fraction" not in met or not np.isfinite(met["layer_fraction"].values).any():
        return []
    scans = truth(store, "tomo", series, "scans")
    if not scans or len(scans) != met.sizes["time_s"]:
        scans = None
    labels = _time_labels(met)
    nt = met.sizes["time_s"]
    picks = [0] if nt == 1 else [0, nt - 1]
    dim = "layer_index" if "layer_index" in met.dims else "slab"
    slab = met[dim].values.astype(float)
    l1 = met["layer_fraction"].attrs.get("layer_1_next_to", "the face away from the Li electrode")
    el = str(met.attrs.get("electrolyte", "electrolyte"))
    fig, axes = plt.subplots(1, len(picks), figsize=(5.0 * len(picks), 3.4), squeeze=False)
    fig.subplots_adjust(wspace=0.3, bottom=0.18)
    for ax, k in zip(axes[0], picks):
        want = (scans[k].get("layer_fraction") if scans else None)
        w = 0.4 if want is not None else 0.8
        ax.bar(slab - (0.2 if want is not None else 0.0),
               100 * met["layer_fraction"].isel(time_s=k).values, width=w, color="#3a86ff",
               label="measured")
        if want is not None and len(want) == slab.size:
            ax.bar(slab + 0.2, 100 * np.array([np.nan if v is None else v for v in want], float),
                   width=w, color="#bbb", label="twin truth")
        ax.set_xlabel(f"layer of {el} (1: next to {l1}, away from the Li electrode)")
        ax.set_ylabel("low-attenuation volume fraction (%)")
        ax.set_title(labels[k], fontsize=8)
        ax.set_xticks(slab)
        ax.legend(fontsize=8)
    fig_ = figure(fig, f"Series {series}: volume fraction of the darkest phase (Li, pores, "
                            f"cracks) per layer of the {el}, layer 1 at its face away from the Li "
                            f"electrode (next to {l1}) (Cao et al. 2023, doi:10.1002/adfm.202307998, Fig. 3J "
                            "numbering)" + ("; grey: twin truth from truth.json" if scans else "")
                       + ".")
    rows = []
    split = [("  of which pores (present in the first scan)", "pore_volume_um3"),
             ("  of which isolated Li (absent from the first scan)", "isolated_li_um3")]
    split = [(k, v) for k, v in split
             if v in met and np.isfinite(np.asarray(met[v].values, float)).any()]
    for kind, var in (("connected to a Li electrode", "low_attenuation_connected_um3"),
                      ("isolated", "low_attenuation_isolated_um3"), *split):
        r = {"regions": kind}
        for k, lab in enumerate(labels):
            g = float(met[var].values[k])
            w = scans[k].get(var) if scans else None
            r[lab] = "—" if not np.isfinite(g) else (
                f"{g:.4g}" + (f" ({float(w):.4g})" if w is not None else ""))
        rows.append(r)
    cap = (f"Low-attenuation regions of the {el} (µm³): connected to a declared Li layer vs "
           "isolated (Cao et al. 2023 Fig. 3I)" + ("; in brackets the twin truth" if scans else "")
           + ("; isolated regions split by persistence against the first scan, each part less "
              "its noise estimate (ssbscope.tomo.low_attenuation)" if split else ""))
    return [fig_, table(pd.DataFrame(rows), caption=cap)]


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


def section(store) -> Section | None:
    """The tomography section of the report (None if the store has no tomography results).

    Parameters
    ----------
    store : ssbscope.store.Store

    Returns
    -------
    ssbscope.report.Section or None
    """
    series, scans = _series_parts(store), _input_figures(store)
    if not series and not scans:
        return None
    body = render_section("tomo.html.j2", series=series, scans=scans)
    return Section("X-ray tomography", body, summary=tuple(_series_summary(store)))


def _pct_change(vals) -> float:
    """100 (last - first) / first, or NaN where the first value is (numerically) zero."""
    vals = np.asarray(vals, float)
    ref, last = vals[0], vals[-1]
    scale = np.nanmax(np.abs(vals)) if np.isfinite(vals).any() else 0.0
    if not (np.isfinite(ref) and np.isfinite(last)) or abs(ref) <= 1e-9 * scale or ref == 0:
        return float("nan")
    return 100.0 * (last - ref) / ref


def _series_summary(store) -> list:
    """Summary rows: per series, the change of Ra and of the mean thickness of each layer."""
    out = []
    for s in _series_names(store):
        met = _get(store, f"tomo/{s}/metrics")
        if met is None or met.sizes.get("time_s", 0) < 1:
            continue
        for it in (met["interface"].values if "ra_um" in met else ()):
            ra = met["ra_um"].sel(interface=it).values
            if np.isfinite(ra).any():
                out.append((f"{s}: Ra {it}", " → ".join("—" if not np.isfinite(v) else f"{v:.2f}"
                                                          for v in ra) + " µm"))
        for la in _thickness_layers(met):
            if "thickness_mean_um" in met:
                th = met["thickness_mean_um"].sel(layer=la).values
                out.append((f"{s}: mean thickness {la}",
                            " → ".join("—" if not np.isfinite(v) else f"{v:.1f}" for v in th) + " µm"))
    return out


def _truncated_series(store, series: str) -> bool:
    """Were the scans of ``series`` reconstructed as truncated (``truncated`` attr of
    ``tomo/<series>/scans/<label>``)?"""
    pre = f"tomo/{series}/scans/"
    for n in store.names():
        if n.startswith(pre):
            if int(store.read(n).attrs.get("truncated", 0) or 0):  # lazy: attributes only
                return True
    return False


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


def _series_table(met):
    labels = _time_labels(met)
    rows = []

    def add(title, vals):
        vals = np.asarray(vals, float)
        row = {"quantity": title}
        for k, lab in enumerate(labels):
            row[lab] = vals[k]
        rows.append(row)

    for it in (met["interface"].values if "ra_um" in met else ()):
        add(f"Ra {it} (µm)", met["ra_um"].sel(interface=it).values)
        add(f"Rq {it} (µm)", met["rq_um"].sel(interface=it).values)
        if "ra_noise_corrected_um" in met:  # Rq^2 - height-noise variance (tomo.metrics)
            add(f"Ra {it}, noise-corrected (µm)", met["ra_noise_corrected_um"].sel(interface=it).values)
            add(f"height noise {it} (µm)", met["height_noise_um"].sel(interface=it).values)
        if "ra_resolution_corrected_um" in met:  # PSF + median + noise undone (tomo.metrics)
            add(f"Ra {it}, resolution-corrected (µm)",
                met["ra_resolution_corrected_um"].sel(interface=it).values)
            if "height_noise_fraction" in met:
                add(f"noise share of the map's variance {it}",
                    met["height_noise_fraction"].sel(interface=it).values)
    for la in _thickness_layers(met):
        for key, what in (("thickness_center_um", "centre"), ("thickness_center_std_um",
                                                               "centre std"),
                          ("thickness_edge_um", "edge"), ("thickness_edge_std_um", "edge std"),
                          ("thickness_mean_um", "mean")):
            if key in met:
                add(f"{la} thickness, {what} (µm)", met[key].sel(layer=la).values)
    for ph in (met["phase"].values if "volume_change_pct" in met else ()):
        add(f"volume change {ph} (%)", met["volume_change_pct"].sel(phase=ph).values)
    for key, title in (("pore_crack_volume_um3", "pore + crack volume in the electrolyte (µm³)"),
                       ("subsurface_void_volume_um3", "voids below the measured interfaces "
                                                      "(truncated scans, µm³)"),
                       ("new_crack_volume_um3", "new crack volume since the first scan (µm³)"),
                       ("pore_crack_grey_overlap", "grey overlap first-scan pores vs new cracks"),
                       ("new_filaments", "new filaments since the previous scan"),
                       ("new_filaments_center", "  of which in the centre"),
                       ("new_filaments_edge", "  of which at the edge"),
                       ("low_attenuation_connected_um3", "low attenuation connected to Li (µm³)"),
                       ("low_attenuation_isolated_um3", "low attenuation isolated (µm³)"),
                       ("pore_volume_um3", "  of which pores, present in the first scan (µm³)"),
                       ("isolated_li_um3", "  of which isolated Li, new since the first scan "
                                           "(µm³)")):
        if key in ("subsurface_void_volume_um3", "pore_volume_um3", "isolated_li_um3") \
                and key in met and not np.isfinite(np.asarray(met[key].values, float)).any():
            continue  # measured on truncated scans / series of several scans only
        if key in met:
            add(title, met[key].values)
    return table(pd.DataFrame(rows), caption="Metrics per scan (registered series; NaN: "
                                                  "undefined, e.g. an interface of a layer not "
                                                  "yet formed)")


def _thickness_layers(met) -> list:
    """Layers whose thickness was measured (attrs come back from the store as JSON text)."""
    from ssbscope.store import attr_list

    v = met.attrs.get("thickness_layers")
    return attr_list(v) if v is not None else [str(x) for x in met["layer"].values]


def _truth_table(store, series, met):
    """Measured beside the twin's truth (``truth.json`` of the experiment folder), if any."""
    from ssbscope.report import truth

    scans = truth(store, "tomo", series, "scans")
    if not scans or len(scans) != met.sizes["time_s"]:
        return None
    rows = []
    for la in _thickness_layers(met):
        tv = [sc.get("mean_thickness_um", {}).get(la) for sc in scans]
        if all(v is not None for v in tv):
            rows.append((f"{la} mean thickness (µm)", met["thickness_mean_um"].sel(layer=la).values, tv))
    for it in (met["interface"].values if "ra_um" in met else ()):
        tv = [(sc.get("roughness_um", {}).get(str(it)) or {}).get("ra_um") for sc in scans]
        if all(v is not None for v in tv):
            rows.append((f"Ra {it} (µm)", met["ra_um"].sel(interface=it).values, tv))
            if "ra_noise_corrected_um" in met:
                rows.append((f"Ra {it}, noise-corrected (µm)",
                             met["ra_noise_corrected_um"].sel(interface=it).values, tv))
            if "ra_resolution_corrected_um" in met:
                rows.append((f"Ra {it}, resolution-corrected (µm)",
                             met["ra_resolution_corrected_um"].sel(interface=it).values, tv))
    if not rows:
        return None
    labels = _time_labels(met)
    data = []
    for title, got, want in rows:
        r = {"quantity": title}
        for k, lab in enumerate(labels):
            g, w = float(got[k]), float(want[k])
            r[lab] = "—" if not np.isfinite(g) else f"{g:.2f} ({w:.2f})"
        data.append(r)
    return table(pd.DataFrame(data), caption="Measured (twin truth) per scan: the phantom's "
                                                  "voxel-count thickness and the Ra of its voxelised "
                                                  "interface, from truth.json beside the experiment file")


def _series_trend_figure(met):
    import matplotlib.pyplot as plt

    t_h = met["time_s"].values.astype(float) / 3600.0
    fig, (ax0, ax1) = plt.subplots(1, 2, figsize=(10, 3.4))
    fig.subplots_adjust(wspace=0.3, bottom=0.16)
    for it in (met["interface"].values if "ra_um" in met else ()):
        ax0.plot(t_h, met["ra_um"].sel(interface=it).values, "o-", label=f"Ra {it}")
        if "ra_noise_corrected_um" in met:
            ax0.plot(t_h, met["ra_noise_corrected_um"].sel(interface=it).values, "o--",
                     label=f"Ra {it}, noise-corrected")
        if "ra_resolution_corrected_um" in met:
            ax0.plot(t_h, met["ra_resolution_corrected_um"].sel(interface=it).values, "^:",
                     label=f"Ra {it}, resolution-corrected")
    ax0.set_xlabel("time (h)")
    ax0.set_ylabel("Ra (µm)")
    ax0.legend(fontsize=8)
    for la in _thickness_layers(met):
        ax1.plot(t_h, met["thickness_mean_um"].sel(layer=la).values, "s-", label=str(la))
    ax1.set_xlabel("time (h)")
    ax1.set_ylabel("mean thickness (µm)")
    ax1.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0)
    fig.subplots_adjust(right=0.86)
    return figure(fig, "Roughness Ra of each mapped interface (plane detrended, Eq. 6 of "
                            "Huang et al. 2024, doi:10.1016/j.xcrp.2024.101995; dashed: with the "
                            "height-map noise variance removed, tomo.metrics."
                            "roughness_noise_corrected; dotted: with the measurement's lateral "
                            "transfer (the reconstruction's PSF from the cell wall, the 3x3x3 "
                            "median where it took the heights) and the map's own noise undone, "
                            "tomo.metrics.roughness_resolution_corrected) and mean thickness of "
                            "each mapped layer vs time.")


def _series_maps_figure(mp, var, dim, unit_label, caption):
    import matplotlib.pyplot as plt

    from ssbscope.errors import EmptyResultError
    from ssbscope.tomo.metrics import detrend_plane

    names = [str(n) for n in mp[dim].values]
    if not names:
        return None
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
    return figure(fig, caption)


def _series_parts(store) -> list:
    """Each measured series (``tomo/<series>/metrics``, ``/maps``): table, trends, maps."""
    parts = []
    for s in _series_names(store):
        met = _get(store, f"tomo/{s}/metrics")
        mp = _get(store, f"tomo/{s}/maps")
        lab = _get(store, f"tomo/{s}/labels")
        if met is None:
            continue
        vs = float(met.attrs.get("voxel_size_um", float("nan")))
        from ssbscope.store import attr_list

        phases = attr_list(lab.attrs.get("phases")) if lab is not None else []
        blocks = [_series_table(met), _truth_table(store, s, met), _series_trend_figure(met),
                  *_low_attenuation_blocks(store, s, met)]
        if mp is not None:
            blocks.append(_series_maps_figure(
                mp, "height_um", "interface", "height above plane (µm)",
                f"Series {s}: interface height above its best-fit plane (µm), first and last "
                "scan; axes in µm."))
            blocks.append(_series_maps_figure(
                mp, "thickness_um", "layer", "thickness (µm)",
                f"Series {s}: layer thickness per column (µm), first and last scan; axes in µm."))
        parts.append({"name": s, "n_scans": met.sizes["time_s"], "voxel": f"{vs:.3g}",
                      "phases": ", ".join(map(str, phases)),
                      "electrolyte": str(met.attrs.get("electrolyte", "")),
                      "central_pct": f"{100 * float(met.attrs.get('central_fraction', 0.75)):.0f}",
                      "conventions": str(met.attrs.get("conventions", "")),
                      "truncated": _truncated_series(store, s), "blocks": blocks})
    return parts


def _input_figures(store) -> list:
    """Slices of the experiment's own scans (``tomo/<series>/scans/*``): reconstructed or read."""
    import matplotlib.pyplot as plt

    names = [n for n in store.names()
             if n.startswith("tomo/") and len(n.split("/")) == 4 and n.split("/")[2] == "scans"]
    parts = []
    for name in names:
        ds = store.read(name)
        if "time_s" in ds.dims:
            ds = ds.isel(time_s=0)
        vol = ds["volume"]
        nz = vol.sizes["z"]
        zslice = np.asarray(vol.isel(z=nz // 2).values, float)
        has_sino = "sinogram" in ds
        ncol = 3 if has_sino else 2
        side = np.asarray(vol.isel(y=vol.sizes["y"] // 2).values, float)
        vs = float(ds.attrs.get("voxel_size_um", float("nan")))
        # physical axes when the voxel size is known (µm, voxel centres at (i + 0.5) * vs)
        um = np.isfinite(vs) and vs > 0
        s_ = vs if um else 1.0
        unit = "µm" if um else "voxels"
        fig, axes = plt.subplots(1, ncol, figsize=(4.2 * ncol, 4.0),
                                 gridspec_kw={"width_ratios": [1, 1] + ([1.1] if has_sino else [])})
        # each view its own grey range (1-99.5 percentiles): a dense layer (Cu, steel) in the
        # section would otherwise leave the slice through a light layer black
        # section (every layer): the densest layer saturates, the lighter ones keep their contrast
        for ax, img, title, ylab, top in (
                (axes[0], zslice, f"x-y slice at z = {(nz // 2 + 0.5) * s_:.4g} {unit}", f"y ({unit})",
                 99.5),
                (axes[1], side, "x-z section (middle y), z up", f"z ({unit})", 75.0)):
            fin = img[np.isfinite(img)]
            lo, hi = np.percentile(fin, [1, top]) if fin.size else (0.0, 1.0)
            ratio = img.shape[0] / max(img.shape[1], 1)
            ax.imshow(img, cmap="gray", vmin=lo, vmax=hi if hi > lo else lo + 1, origin="lower",
                      extent=(0, img.shape[1] * s_, 0, img.shape[0] * s_), interpolation="nearest",
                      aspect="equal" if 1 / 6 <= ratio <= 6 else "auto")  # a few rows: stretched
            ax.set_title(title, fontsize=9)
            ax.set_xlabel(f"x ({unit})")
            ax.set_ylabel(ylab)
        if has_sino:
            sino = np.asarray(ds["sinogram"].values, float)
            axes[2].imshow(sino, cmap="gray", aspect="auto")
            axes[2].set_title("sinogram, -ln(I/I0), middle row", fontsize=9)
            axes[2].set_xlabel("detector pixel")
            axes[2].set_ylabel("projection")
        fig.tight_layout()
        series = name.split("/")[1]
        label = ds.attrs.get("label", name.rsplit("/", 1)[-1])
        info = [f"format {ds.attrs.get('format', '?')}"]
        if "center_px" in ds.attrs:
            info.append(f"centre of rotation {float(ds.attrs['center_px']):.2f} px (searched)")
        if "n_projections" in ds.attrs:
            info.append(f"{int(ds.attrs['n_projections'])} projections")
        if um:
            info.append(f"voxel {vs:g} µm")
        parts.append(figure(fig, f"Series {series}, scan {label}: {', '.join(info)}; grey range "
                                 "of each view from its own values (section: the densest layer "
                                 f"saturates); source {ds.attrs.get('source', '')}."))
    return parts
