"""Image results on the electrochemical clock (``correlate/states``).

Renders, per imaging series, a table of every scan / frame time with its state, the net
charge passed, the voltage, the R_ct of the nearest impedance spectrum and the measured
plated-Li thickness change against Faraday's law with the residual (neutron series with a
``li_roi``: the Li volume change in that region over the electrode area, with its sigma and
residual); and one figure: the measured plated thickness change (volume change per CT
footprint area; neutron Li change per electrode area) against the charge passed since the
series' first scan, with the Faraday line (dense Li, 3 mAh cm^-2 = 14.5 µm).
"""

from __future__ import annotations

import json
import logging

import numpy as np
import pandas as pd

from ssbscope.report import Section, figure, load_dataset, render_section, table

__all__ = ["section"]

log = logging.getLogger(__name__)


def _strs(a) -> list[str]:
    return [str(x) for x in np.asarray(a).tolist()]


def _figure(ds, series: list[str]):
    import matplotlib.pyplot as plt

    from ssbscope.correlate.states import faraday_change_um

    ser = np.array(_strs(ds["series"].values), dtype=object)
    dq_all = ds["charge_since_first_mah_cm2"].values
    dh_all = ds["plated_thickness_change_um"].values
    nl_all = (ds["neutron_li_change_per_area_um"].values if "neutron_li_change_per_area_um" in ds
              else np.full(dq_all.shape, np.nan))
    if not np.any(np.isfinite(dq_all) & (np.isfinite(dh_all) | np.isfinite(nl_all))):
        return None
    fig, ax = plt.subplots(figsize=(6.5, 4.2))
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    shown = set()  # what the caption describes: only what is plotted
    for k, name in enumerate(series):
        m = ser == name
        dq, dh = dq_all[m], dh_all[m]
        c = colors[k % len(colors)]
        nl = nl_all[m]
        if np.any(np.isfinite(dq) & np.isfinite(nl)):
            err = ds["neutron_li_change_sigma_um"].values[m] if "neutron_li_change_sigma_um" in ds else None
            ax.errorbar(dq, nl, yerr=err, fmt="D", ms=4, color=c, capsize=2,
                        label=f"{name}: neutron Li in li_roi / electrode area")
            shown.add("neutron")
        if not np.any(np.isfinite(dq) & np.isfinite(dh)):
            continue
        ax.plot(dq, dh, "o", color=c, label=f"{name}: CT thickness change")
        shown.add("ct")
        dv = ds["plated_volume_change_per_area_um"].values[m]
        if np.any(np.isfinite(dv)):
            ax.plot(dq, dv, "s", mfc="none", color=c, label=f"{name}: CT volume change / footprint")
            shown.add("volume")
    fin = dq_all[np.isfinite(dq_all)]
    lo, hi = min(0.0, float(fin.min())), max(0.0, float(fin.max()))
    qq = np.linspace(lo, hi, 50)
    ax.plot(qq, faraday_change_um(qq), "-", color="k", lw=1.2, label="Faraday (dense Li)")
    ax.set_xlabel("net charge since the first scan (mAh cm⁻²)")
    ax.set_ylabel("plated Li change (µm)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    parts = [t for key, t in (
        ("ct", "plated-Li thickness change (CT, dots)"),
        ("volume", "volume change per CT footprint area (squares)"),
        ("neutron", "neutron Li volume change in the input's li_roi over the electrode area "
                    "(diamonds, ±1 σ counting noise; signed so that plating by positive charge "
                    "is positive)")) if key in shown]
    what = parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]
    return figure(fig, f"Measured {what} against the net charge passed since the series' first "
                       "scan; line: Faraday's law for dense Li (3 mAh cm⁻² = 14.5 µm).")


def _table(ds, name: str):
    ser = np.array(_strs(ds["series"].values), dtype=object)
    m = ser == name
    sub = ds.isel(time_s=m)
    tab = pd.DataFrame({
        "time (h)": sub["time_s"].values / 3600.0,
        "state": _strs(sub["state"].values),
        "charge (mAh cm⁻²)": sub["charge_mah_cm2"].values,
        "voltage (V)": sub["voltage_V"].values,
        "R_ct (Ω)": sub["r_ct_ohm"].values,
        "Δh CT (µm)": sub["plated_thickness_change_um"].values,
        "Δh Faraday (µm)": sub["faraday_thickness_change_um"].values,
        "residual (%)": sub["faraday_residual_pct"].values,
        "ΔV/A CT (µm)": sub["plated_volume_change_per_area_um"].values,
        "volume residual (%)": sub["faraday_volume_residual_pct"].values,
    })
    if "neutron_li_change_per_area_um" in sub:
        tab["ΔV/A neutron Li (µm)"] = sub["neutron_li_change_per_area_um"].values
        tab["± (µm)"] = sub["neutron_li_change_sigma_um"].values
        tab["neutron residual (%)"] = sub["neutron_li_residual_pct"].values
    keep = [c for c in tab.columns if c in ("time (h)", "state") or np.any(
        np.isfinite(np.asarray(tab[c], dtype=float)))]
    return table(tab[keep], caption=f"Series {name}", float_format="{:.3g}")


def section(store) -> Section | None:
    """The correlation section (None if the store has no ``correlate/states``).

    Parameters
    ----------
    store : ssbscope.store.Store

    Returns
    -------
    ssbscope.report.Section or None
    """
    ds = load_dataset(store, "correlate/states")
    if ds is None or ds.sizes.get("time_s", 0) == 0:
        return None
    series = list(dict.fromkeys(_strs(ds["series"].values)))
    try:
        info = json.loads(ds.attrs.get("series", "{}"))
    except (TypeError, ValueError):
        info = {}
    rows = []
    for name in series:
        i = info.get(name, {})
        rows.append({"series": name, "echem log": i.get("log", ""), "why": i.get("log_choice", ""),
                     "cell area (cm²)": i.get("area_cm2") if i.get("area_cm2") is not None else np.nan,
                     "plated layer": i.get("plated_layer") or "—",
                     "CT footprint (µm²)": i.get("footprint_area_um2", np.nan)})
    neutron = any(info.get(n, {}).get("modality") == "neutron" for n in series)
    html = render_section("correlate.html.j2", residual_rule=str(ds.attrs.get("residual_rule", "")),
                  series_table=table(pd.DataFrame(rows), float_format="{:.4g}",
                                     caption="Series and the echem log they are read against"),
                  figure=_figure(ds, series), tables=[_table(ds, name) for name in series],
                  neutron_note=str(ds.attrs.get("neutron", "")) if neutron else None)
    summary = []
    if "neutron_li_residual_pct" in ds:
        ser = np.array(_strs(ds["series"].values), dtype=object)
        for name in series:
            m = ser == name
            nr = ds["neutron_li_residual_pct"].values[m]
            ok = np.flatnonzero(np.isfinite(nr))
            if ok.size:
                j = ok[-1]
                summary.append((f"Faraday residual of the neutron Li change ({name}, last bin)",
                                f"{nr[j]:+.1f} % at {ds['charge_since_first_mah_cm2'].values[m][j]:.2f} mAh cm⁻²"))
    res = ds["faraday_residual_pct"].values
    fin = np.isfinite(res)
    if fin.any():
        j = np.flatnonzero(fin)[-1]
        summary.append(("Faraday residual of the plated Li thickness (last scan)",
                        f"{res[j]:+.1f} % at {ds['charge_since_first_mah_cm2'].values[j]:.2f} mAh cm⁻²"))
    return Section("Imaging vs electrochemistry", html, summary=tuple(summary))
