"""Electrochemistry section of the report.

Reads the datasets written by :mod:`ssbscope.echem.stages` (``echem/timeseries``,
``echem/<log>/timeseries``, ``echem/cycles``, ``echem/states``, ``echem/events``,
``echem/eis``, and the twin's ground truth when present) and renders:

* voltage vs time and vs specific capacity of the main cell with the scan states marked and
  labelled (Huang et al. 2024 (doi:10.1016/j.xcrp.2024.101995) Fig. 1E);
* the events found (hard/soft shorts with onsets, the critical current density) beside the
  ground truth when the log came from the twin, with the other logs plotted and marked;
* the cycle table with the Coulombic efficiency;
* Nyquist plots of the impedance spectra with their fits, and R_s / R_ct vs state
  (Huang et al. 2024, Fig. 2A–B).
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from ssbscope.report import Section, figure, load_dataset, macro, render_section, table, truth

__all__ = ["section"]

log = logging.getLogger(__name__)

_LOG_TITLES = {
    "first_cycle": "NMC622 | PEO-LiTFSI | Li, first cycle (Huang et al. 2024)",
    "anode_free": "anode-free Cu | Li6PS5Cl | Li, case B (Sandoval et al. 2025)",
    "short_clean": "sulfide cell, C/20 charge, normal (Cao et al. 2023)",
    "short_soft": "sulfide cell, C/20 charge, soft short (Cao et al. 2023)",
    "short_hard": "sulfide cell, C/20 charge, hard short (Cao et al. 2023)",
    "ccd": "Li | Li6PS5Cl | Li, CCD staircase (Zhang et al. 2024)",
}


_get = load_dataset


def _main_figures(ts, states, twin: bool = False) -> list:
    """Voltage vs time and vs capacity of the main log; ``states`` (``echem/states``) are
    marked when there are any; ``twin``: the demo's twin, whose states follow Huang et al.
    2024 Fig. 1E (a caption describes the data shown: a user's log has no such numbering)."""
    import matplotlib.pyplot as plt

    n_states = 0 if states is None else int(states.sizes.get("state", 0))
    if n_states == 0:
        states = None
    t_h = ts["time_s"].values / 3600.0
    v = ts["voltage_V"].values
    parts = []
    fig, ax = plt.subplots(figsize=(9, 3.6))
    ax.plot(t_h, v, lw=1.2, color="#1d4e89")
    if states is not None:
        groups = []  # [(time h, voltage, [(number, label)])]: states at one moment share a label
        for k in range(states.sizes["state"]):
            ts_s = float(states["time_s"].values[k])
            vv = float(np.interp(ts_s, ts["time_s"].values, v))
            lab = str(states["label"].values[k])
            if groups and abs(groups[-1][0] - ts_s / 3600.0) < 1e-3 * max(t_h[-1], 1e-9):
                groups[-1][2].append((k + 1, lab))
            else:
                groups.append((ts_s / 3600.0, vv, [(k + 1, lab)]))
        t_end = float(np.nanmax(t_h)) if t_h.size else 1.0
        for g, (th, vv, members) in enumerate(groups):
            ax.plot(th, vv, "o", ms=7, color="#d1495b", zorder=3)
            nums = ", ".join(str(n) for n, _ in members)
            labs = [lab for _, lab in members]
            short = min(labs, key=len)  # "fully charged" and "compton: fully charged": one name
            names = [short] if all(x.endswith(short) for x in labs) else list(dict.fromkeys(labs))
            right = th > 0.75 * t_end  # labels of the last states go left of their dot
            ax.annotate(f"({nums}) {' / '.join(names)}", (th, vv), textcoords="offset points",
                        xytext=(-4 if right else 4, 8 if g % 2 == 0 else -14), fontsize=8,
                        ha="right" if right else "left")
    ax.margins(x=0.03, y=0.14)  # room for the labels of the first/last and highest/lowest states
    ax.set_xlabel("time (h)")
    ax.set_ylabel("voltage (V)")
    ax.grid(alpha=0.3)
    cap = "Main cell: voltage vs time"
    if n_states:
        cap += (" with the scan states (dots, numbered in time order"
                + (" as in Huang et al. 2024, Fig. 1E" if twin else "") + ")")
    parts.append(figure(fig, cap + "."))
    cap_name = "capacity_mAh_g" if "capacity_mAh_g" in ts else "capacity_mAh"
    unit = "mAh g⁻¹" if cap_name.endswith("_g") else "mAh"
    if cap_name in ts and "direction" in ts:
        cap = ts[cap_name].values
        d = np.array([str(x) for x in ts["direction"].values.tolist()], dtype=object)
        fig, ax = plt.subplots(figsize=(6.5, 4))
        for kind, color in (("charge", "#1d4e89"), ("discharge", "#d1495b")):
            m = d == kind
            if m.any():
                # one line per half-cycle: a gap (NaN) where a run of this direction ends, so
                # that the end of one half-cycle is not joined to the start of the next
                idx = np.flatnonzero(m)
                breaks = np.flatnonzero(np.diff(idx) > 1) + 1
                xs = np.insert(cap[idx].astype(float), breaks, np.nan)
                ys = np.insert(v[idx].astype(float), breaks, np.nan)
                ax.plot(xs, ys, lw=1.2, color=color, label=kind)
        if states is not None:
            pts = []  # [(capacity, voltage, [state numbers])]: states at one point share a label
            fc, fv = cap[np.isfinite(cap)], v[np.isfinite(v)]  # no capacity: no NaN warning
            span_c = (float(np.ptp(fc)) if fc.size else 0.0) or 1.0
            span_v = (float(np.ptp(fv)) if fv.size else 0.0) or 1.0
            for k in range(states.sizes["state"]):
                ts_s = float(states["time_s"].values[k])
                j = int(np.clip(np.searchsorted(ts["time_s"].values, ts_s), 0, t_h.size - 1))
                c = cap[j] if np.isfinite(cap[j]) else 0.0
                vv = float(np.interp(ts_s, ts["time_s"].values, v))
                for p in pts:
                    if abs(p[0] - c) < 0.02 * span_c and abs(p[1] - vv) < 0.02 * span_v:
                        p[2].append(k + 1)
                        break
                else:
                    pts.append((c, vv, [k + 1]))
            c_end = max((p[0] for p in pts), default=1.0)
            for c, vv, ks in pts:
                ax.plot(c, vv, "o", color="k", ms=5)
                right = c > 0.9 * c_end
                ax.annotate(", ".join(map(str, ks)), (c, vv), textcoords="offset points",
                            xytext=(-5 if right else 4, 4), fontsize=8,
                            ha="right" if right else "left")
            ax.margins(y=0.1)
        ax.set_xlabel(f"capacity in the half-cycle ({unit})")
        ax.set_ylabel("voltage (V)")
        if ax.get_legend_handles_labels()[0]:
            ax.legend()
        ax.grid(alpha=0.3)
        parts.append(figure(fig, "Main cell: voltage vs capacity, charge and discharge"
                                 + (", with the scan states." if n_states else ".")))
    return parts


def _other_logs_figure(logs: dict, events, true_logs=None):
    import matplotlib.pyplot as plt

    if not logs:
        return None
    n = len(logs)
    fig, axes = plt.subplots(n, 1, figsize=(9, 2.3 * n), squeeze=False)
    for ax, (name, ds) in zip(axes[:, 0], logs.items()):
        t_h = ds["time_s"].values / 3600.0
        ax.plot(t_h, ds["voltage_V"].values, lw=1.0, color="#1d4e89")
        ax.set_title(_LOG_TITLES.get(name, name), fontsize=9, loc="left")
        ax.set_ylabel("voltage (V)")
        ax.grid(alpha=0.3)
        if events is not None:
            for k in range(events.sizes["event"]):
                if str(events["log"].values[k]) != name:
                    continue
                kind = str(events["kind"].values[k])
                on = float(events["onset_s"].values[k])
                if np.isfinite(on):
                    ax.axvline(on / 3600.0, color="#d1495b" if kind == "hard" else "#edae49",
                               ls="--", lw=1.2, label=f"{kind} short (found)")
            tr = ((true_logs or {}).get(name) or {}).get("short_onset_s")
            if tr is not None:
                ax.axvline(tr / 3600.0, color="k", ls=":", lw=1.0, label="true onset (twin)")
            h, lab = ax.get_legend_handles_labels()
            if h:
                uniq = dict(zip(lab, h))
                # above the axes, right of the left-aligned title: it hides no data
                ax.legend(uniq.values(), uniq.keys(), fontsize=7, loc="lower right",
                          bbox_to_anchor=(1.0, 1.0), ncol=len(uniq), frameon=False,
                          borderaxespad=0.1)
    axes[-1, 0].set_xlabel("time (h)")
    fig.tight_layout()
    return figure(fig, "Other logs: dashed lines are events found by ssbscope.echem "
                            "(red hard, amber soft short)"
                       + ("; dotted lines the twin's true onsets." if true_logs else "."))


def _events_table(events, true_logs=None) -> tuple:
    if events is None or events.sizes.get("event", 0) == 0:
        return None, []
    rows = []
    summary = []
    for k in range(events.sizes["event"]):
        kind = str(events["kind"].values[k])
        logn = str(events["log"].values[k])
        on = float(events["onset_s"].values[k])
        ccd = float(events["ccd_ma_cm2"].values[k])
        tl = (true_logs or {}).get(logn)
        if kind == "ccd":
            tccd = tl.get("ccd_ma_cm2") if tl else None
            row = {"log": logn, "event": "critical current density", "found": f"{ccd:.2f} mA cm⁻²"}
            if true_logs is not None:
                row.update({"twin truth": f"{tccd:.2f} mA cm⁻²" if tccd is not None else "—",
                            "error": f"{ccd - tccd:+.3f} mA cm⁻²" if tccd is not None else "—"})
            rows.append(row)
            summary.append(("Critical current density", f"{ccd:.2f} mA cm⁻²"))
        else:
            row = {"log": logn, "event": f"{kind} short", "found": f"onset {on / 3600:.3f} h"}
            if true_logs is not None:
                tr = tl.get("short_onset_s") if tl else None
                row.update({"twin truth": (f"{tl.get('short_kind')} at {tr / 3600:.3f} h"
                                           if tr is not None else "no short"),
                            "error": f"{100 * (on - tr) / tr:+.2f} %" if tr else "—"})
            rows.append(row)
    shorts = [r for r in rows if r["event"].endswith("short")]
    summary.append(("Shorts found", f"{len(shorts)} ({', '.join(sorted({r['event'] for r in shorts}))})"
                    if shorts else "none"))
    return table(pd.DataFrame(rows), caption="Events found in the logs"), summary


def _cycles_table(cycles) -> tuple:
    if cycles is None or cycles.sizes.get("row", 0) == 0:
        return None, []
    df = cycles.to_dataframe().reset_index(drop=True)
    df = df[df["discharge_capacity_mAh"].notna()]
    if df.empty:
        return None, []
    out = pd.DataFrame({
        "log": df["log"].astype(str),
        "cycle": df["cycle"].astype(int),
        "charge (mAh)": df["charge_capacity_mAh"].astype(float),
        "discharge (mAh)": df["discharge_capacity_mAh"].astype(float),
        "CE (%)": 100 * df["coulombic_efficiency"].astype(float),
    })
    summary = [(f"CE, {r['log']} cycle {r['cycle']}", f"{r['CE (%)']:.2f} %")
               for _, r in out.iterrows() if r["cycle"] == 1]
    return table(out, caption="Cycles and Coulombic efficiency (CE = discharge / charge)",
                 float_format="{:.4g}"), summary


def _states_table(states):
    if states is None or states.sizes.get("state", 0) == 0:
        return None
    rows = []
    for k in range(states.sizes["state"]):
        frac = float(states["fraction"].values[k])
        kind = {"soc": "SoC", "dod": "DoD"}.get(str(states["kind"].values[k]), "")
        rows.append({"#": k + 1, "scan state": str(states["label"].values[k]),
                     "target": f"{100 * frac:.0f} % {kind}" if np.isfinite(frac) else "—",
                     "time (h)": float(states["time_s"].values[k]) / 3600.0,
                     "state from the log": str(states["measured_state"].values[k])
                     if "measured_state" in states else "—"})
    return table(pd.DataFrame(rows), caption="Scan states: time and the state read from the log",
                 float_format="{:.3f}")


def _eis_figures(eis, true_eis=None) -> tuple:
    """(HTML of the impedance part or None, summary items)."""
    import matplotlib.pyplot as plt

    if eis is None or eis.sizes.get("state", 0) == 0:
        return None, []
    n = eis.sizes["state"]
    cmap = plt.get_cmap("viridis")
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(11, 4.2))
    for k in range(n):
        c = cmap(k / max(n - 1, 1))
        zr = eis["z_real_ohm"].values[k]
        zi = eis["z_imag_ohm"].values[k]
        ok = np.isfinite(zr)
        lab = str(eis["label"].values[k])
        ax.plot(zr[ok], -zi[ok], "o", ms=3, color=c, label=lab)
        fr = eis["z_fit_real_ohm"].values[k]
        fi = eis["z_fit_imag_ohm"].values[k]
        if np.any(np.isfinite(fr)):
            ax.plot(fr, -fi, "-", lw=1, color=c)
            zoom = np.isfinite(fr)
            ax2.plot(fr[zoom], -fi[zoom], "-", lw=1, color=c)
        ax2.plot(zr[ok], -zi[ok], "o", ms=3, color=c)
    ax.set_xlabel("Z' (Ω)")
    ax.set_ylabel("−Z'' (Ω)")
    ax.set_ylim(bottom=0)
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3)
    r_s = eis["r_s_ohm"].values
    r_ct = eis["r_ct_ohm"].values
    zr_all = eis["z_real_ohm"].values
    zi_all = -eis["z_imag_ohm"].values
    lo_ref = np.nanmin(r_s) if np.any(np.isfinite(r_s)) else np.nanmin(zr_all)
    span = 0.5 * (np.nanmin(r_ct) if np.any(np.isfinite(r_ct)) else np.nanmin(zr_all))
    if np.isfinite(lo_ref) and np.isfinite(span) and span > 0:
        w = 0.6 * span  # one scale on both axes (a Nyquist plot): arcs keep their shape
        x0 = 0.9 * lo_ref
        near = np.isfinite(zr_all) & np.isfinite(zi_all) & (zr_all >= x0) & (zr_all <= x0 + w)
        # the window holds the measured points of the high-frequency end (e.g. below the axis
        # when the cell is inductive there, or above w), not an empty square
        y0 = min(0.0, float(np.min(zi_all[near]))) if near.any() else 0.0
        y1 = max(w + y0, 1.1 * float(np.max(zi_all[near]))) if near.any() else w
        side = max(w, y1 - y0)
        ax2.set_xlim(x0, x0 + side)
        ax2.set_ylim(y0, y0 + side)
        ax2.set_aspect("equal", adjustable="box")
    ax2.set_xlabel("Z' (Ω)")
    ax2.set_ylabel("−Z'' (Ω)")
    ax2.set_title("high-frequency region", fontsize=9)
    ax2.grid(alpha=0.3)
    fig.tight_layout()
    twin = bool(true_eis)
    parts = [figure(fig, ("Nyquist plots at the scan states" if twin else
                          "Nyquist plot of each impedance spectrum")
                    + " (dots: data; lines: the fitted circuit of each spectrum, see the circuit "
                      "table)" + (", cf. Huang et al. 2024, Fig. 2A–B." if twin else "."))]
    summary = []
    labels = [str(x) for x in eis["label"].values]
    if np.any(np.isfinite(r_ct)):
        fig, ax = plt.subplots(figsize=(8, 3.4))
        x = np.arange(n)
        ax.errorbar(x, r_ct, yerr=np.nan_to_num(eis["r_ct_err_ohm"].values), fmt="o-",
                    color="#d1495b", label="R_ct (fit)")
        rs_shown = bool(np.any(np.isfinite(r_s)))
        if rs_shown:  # no legend entry for a series with no point
            ax.errorbar(x, r_s, yerr=np.nan_to_num(eis["r_s_err_ohm"].values), fmt="s-",
                        color="#1d4e89", label="R_s (fit)")
        by_label = {t["label"]: t for t in (true_eis or [])}
        t_rct = np.array([by_label.get(lab, {}).get("r_ct_ohm", np.nan) for lab in labels], float)
        t_rs = np.array([by_label.get(lab, {}).get("r_s_ohm", np.nan) for lab in labels], float)
        if np.any(np.isfinite(t_rct)):
            ax.plot(x, t_rct, "x", color="k", label="twin truth")
            ax.plot(x, t_rs, "x", color="k")
        ax.set_xticks(x)
        ax.set_xticklabels(labels, rotation=20, fontsize=8)
        ax.set_ylabel("resistance (Ω)")
        ax.legend(fontsize=8)
        ax.grid(alpha=0.3)
        fig.tight_layout()
        cap = (("R_s and R_ct" if rs_shown else "R_ct") + " of each spectrum's fit"
               + (" vs state" if n > 1 else "") + " (error bars: the fit's 1σ")
        if not rs_shown:
            cap += "; R_s not resolved, see the table"
        if twin:
            cap += "; crosses: the twin's truth; R_ct falls on charge, rises on discharge in " \
                   "Huang et al. 2024"
        parts.append(figure(fig, cap + ")."))
        cols = {"state": labels, "R_s (Ω)": _fit_cells(eis, r_s),
                "R_ct (Ω)": _fit_cells(eis, r_ct, "r_ct_resolved")}
        if np.any(np.isfinite(t_rct)):
            cols.update({"R_s truth (Ω)": t_rs, "R_ct truth (Ω)": t_rct})
        tab = pd.DataFrame(cols)
        parts.append(table(tab, caption="EIS fits", float_format="{:.1f}"))
        parts.extend(_circuit_part(eis, labels))
        k_full = labels.index("fully charged") if "fully charged" in labels else 0
        summary.append(("R_ct range over the cycle", f"{np.nanmin(r_ct):.0f}–{np.nanmax(r_ct):.0f} Ω"))
        summary.append((f"R_s at {labels[k_full]}", _fit_cells(eis, r_s)[k_full]
                        if not np.isfinite(r_s[k_full]) else f"{r_s[k_full]:.1f} Ω"))
    elif "fit_ok" in eis and eis.sizes["state"] > 0:
        tab = pd.DataFrame({"state": labels, "R_s (Ω)": _fit_cells(eis, r_s),
                            "R_ct (Ω)": _fit_cells(eis, r_ct, "r_ct_resolved")})
        any_ok = bool(np.any(eis["fit_ok"].values.astype(bool)))
        parts.append(table(tab, caption="EIS fits (no R_ct resolved by the spectra)" if any_ok
                           else "EIS fits (every fit failed its quality test)"))
        parts.extend(_circuit_part(eis, labels))
    no_fit = not np.any(np.isfinite(r_ct)) and not ("fit_ok" in eis and eis.sizes["state"] > 0)
    n_failed = int((~eis["fit_ok"].values.astype(bool)).sum()) if "fit_ok" in eis else 0
    if n_failed:
        summary.append(("EIS fits failed", f"{n_failed} of {n}"))
    return macro("impedance", parts, no_fit, template="echem.html.j2"), summary


def _fit_cells(eis, values, resolved_flag: str | None = None) -> list[str]:
    """One table cell per spectrum: the value, or "fit failed: <reason>" for a failed fit
    ("not resolved (fitted with R_s = 0)" for an R_s the fit fixed at 0; "not resolved" for an
    arc whose flag ``resolved_flag``, e.g. ``r_ct_resolved``, is False in an ok fit)."""
    ok = eis["fit_ok"].values.astype(bool) if "fit_ok" in eis else np.isfinite(values)
    why = eis["fit_problem"].values if "fit_problem" in eis else [""] * len(values)
    fixed = eis["r_s_fixed"].values.astype(bool) if "r_s_fixed" in eis else [False] * len(values)
    res = (eis[resolved_flag].values.astype(bool) if resolved_flag and resolved_flag in eis
           else [True] * len(values))
    return [f"{v:.1f}" if o and np.isfinite(v) else
            "not resolved" if o and not rs else
            "not resolved (fitted with R_s = 0)" if o and fx else f"fit failed: {w or 'no fit'}"
            for v, o, w, fx, rs in zip(values, ok, why, fixed, res)]


def _circuit_part(eis, labels) -> list:
    """The fitted circuit of each spectrum with its criterion values and the solid-state
    resistances (R_ct is the lowest-frequency arc in every circuit), and how ``auto`` chose."""
    if "circuit" not in eis:
        return []

    def col(name):
        return eis[name].values.astype(float) if name in eis else np.full(len(labels), np.nan)

    ok = eis["fit_ok"].values.astype(bool)

    def pm(v, e, flag=None):
        v, e = np.asarray(v, float), np.asarray(e, float)
        res = (eis[flag].values.astype(bool) if flag and flag in eis
               else np.ones(len(v), dtype=bool))
        return ["not resolved" if not r and o else
                f"{a:.4g} ± {b:.2g}" if np.isfinite(a) and np.isfinite(b) else
                (f"{a:.4g}" if np.isfinite(a) else "—") for a, b, r, o in zip(v, e, res, ok)]

    tab = pd.DataFrame({
        "state": labels,
        "circuit": [str(c) for c in eis["circuit"].values],
        "fit": ["ok" if o else "failed" for o in ok],
        "parameters": [f"{v:.0f}" if np.isfinite(v) else "—" for v in col("n_params")],
        "BIC": col("bic"), "AIC": col("aic"),
        "residual (%)": 100 * col("relative_residual"),
        "R_electrolyte (Ω)": pm(col("r_electrolyte_ohm"), col("r_electrolyte_err_ohm")),
        "R_b (Ω)": pm(col("r_b_ohm"), col("r_b_err_ohm"), "r_b_resolved"),
        "R_gb (Ω)": pm(col("r_gb_ohm"), col("r_gb_err_ohm"), "r_gb_resolved"),
        "R_int (Ω)": pm(col("r_int_ohm"), col("r_int_err_ohm"), "r_int_resolved"),
        "R_ct (Ω)": pm(col("r_ct_ohm"), col("r_ct_err_ohm"), "r_ct_resolved"),
        "n_ct": col("n_cpe"), "C_ct (F)": col("c_ct_F")})
    parts = [table(tab, caption="EIS circuits (analysis.echem.eis_circuit): R_ct is the "
                                "lowest-frequency arc; R_electrolyte = R_s + the bulk and "
                                "grain-boundary arcs (an upper bound of the solid electrolyte's "
                                "resistance); BIC/AIC of the |Z|-weighted residual",
                   float_format="{:.4g}", max_columns=20)]
    parts.extend(_capacitance_part(eis, labels, ok))
    notes = [str(v) for v in eis["fit_note"].values] if "fit_note" in eis else []
    c_notes = [str(v) for v in eis["c_note"].values] if "c_note" in eis else [""] * len(notes)
    for lab, t, c, o in zip(labels, notes, c_notes, ok):
        if c and t.endswith(c):  # the capacitance lines, shown on their own below
            t = t[: -len(c)].rstrip("; ")
        if t and o:  # an ok fit with an arc the spectrum does not resolve (stored as NaN)
            parts.append(macro("para", {"text": f"Not resolved, {lab}: {t}", "cls": "note"}))
        if c and o:  # an arc whose capacitance contradicts its label (the label is kept)
            parts.append(macro("para", {"text": f"Capacitance contradicts the arc label, {lab}: {c}",
                                        "cls": "note"}))
    sel = [str(v) for v in eis["selection"].values] if "selection" in eis else []
    for lab, t in zip(labels, sel):
        if t:
            parts.append(macro("para", {"text": f"Circuit selection, {lab}: {t}", "cls": "note"}))
    return parts


#: Arc labels with stored capacitances (ssbscope.echem.stages._EIS_C_ARCS), their names and
#: the consistency flag that covers each.
_C_ARCS = (("b", "bulk", "c_b_consistent"), ("gb", "grain boundary", "c_gb_consistent"),
           ("el", "electrolyte", "c_el_consistent"), ("i1", "interface 1", "c_int_consistent"),
           ("i2", "interface 2", "c_int_consistent"), ("ct", "charge transfer", "c_ct_consistent"))


def _judged(lab: str) -> tuple[str, str, str]:
    """(quantity, its unit, the ranges) a label's capacitance is judged by: C l/A for the
    electrolyte's arcs (bulk, grain boundary), C/A for layers and interfaces
    (ssbscope.echem.eis.ARC_PHENOMENA / C_PHENOMENA)."""
    from ssbscope.echem.eis import ARC_PHENOMENA, C_PHENOMENA

    phen = ARC_PHENOMENA[lab]
    units = {C_PHENOMENA[p][2] for p in phen}
    assert len(units) == 1, (lab, units)  # one label, one normalisation
    unit = units.pop()
    ranges = "; ".join(f"{p} {C_PHENOMENA[p][0]:.0e}–{C_PHENOMENA[p][1]:.0e}"
                       if np.isfinite(C_PHENOMENA[p][1]) else f"{p} ≥ {C_PHENOMENA[p][0]:.0e}"
                       for p in phen)
    return ("C l/A", "F cm⁻¹", ranges) if unit == "cm" else ("C/A", "F cm⁻²", ranges)


def _capacitance_part(eis, labels, ok) -> list:
    """One row per fitted arc with a capacitance: C_eff (F), the quantity its label is judged
    by - C l/A (F cm⁻¹) for bulk / grain boundary / electrolyte arcs, C/A (F cm⁻²) for the
    interfacial and charge-transfer arcs - its value, the label's range and whether it agrees
    (Irvine et al. 1990). The other normalisation is not shown (it is not judged)."""
    rows = []
    for k, state in enumerate(labels):
        if not ok[k]:
            continue
        for lab, name, flag in _C_ARCS:
            key = f"c_{lab}_F"
            if key not in eis or not np.isfinite(float(eis[key].values[k])):
                continue
            cons = bool(eis[flag].values[k]) if flag in eis else True
            c_int = [c for c in str(eis["c_note"].values[k]).split("; ")
                     if f"({lab}) has C" in c] if "c_note" in eis else []
            what, unit, ranges = _judged(lab)
            var = f"c_{lab}_F_per_cm" if what == "C l/A" else f"c_{lab}_F_cm2"
            val = float(eis[var].values[k]) if var in eis else float("nan")
            rows.append({"state": state, "arc": f"{name} ({lab})",
                         "C (F)": float(eis[key].values[k]),
                         "judged as": f"{what} ({unit})",
                         "value": val if np.isfinite(val) else
                         ("area not declared (bracketed)" if what == "C/A"
                          else "area or thickness not declared (bracketed)"),
                         "label's range": f"{ranges} {unit}",
                         "label": "consistent" if cons or not c_int else "contradicted"})
    if not rows:
        return []
    return [table(pd.DataFrame(rows), float_format="{:.3g}",
                  caption="Effective capacitance of each arc, C = (R Q)^(1/n) / R (Hsu & "
                          "Mansfeld 2001), and the quantity its label is judged by against the "
                          "label's range (Irvine, Sinclair & West 1990): C l/A (F cm⁻¹) for "
                          "bulk, grain-boundary and electrolyte arcs, C/A (F cm⁻²) for "
                          "interfacial and charge-transfer arcs; an unknown area or thickness "
                          "is bracketed, so only a clear contradiction is flagged")]


def section(store) -> Section | None:
    """The electrochemistry section of the report (None if the store has no echem data).

    Parameters
    ----------
    store : ssbscope.store.Store

    Returns
    -------
    ssbscope.report.Section or None
    """
    names = store.names()
    if not any(n.startswith("echem/") for n in names):
        return None
    ts = _get(store, "echem/timeseries")
    states = _get(store, "echem/states")
    events = _get(store, "echem/events")
    cycles = _get(store, "echem/cycles")
    eis = _get(store, "echem/eis")
    others = {}
    for n in sorted(names):
        if n.startswith("echem/") and n.endswith("/timeseries") and n != "echem/timeseries":
            others[n.split("/")[1]] = store.read(n).load()
    summary: list = []
    main = None
    if ts is not None:
        main = {"source": str(ts.attrs.get("source", "")), "n": ts.sizes["time_s"],
                "hours": f"{ts['time_s'].values[-1] / 3600:.2f}",
                "figures": _main_figures(ts, states, twin=store.attrs.get("truth") is not None),
                "states": _states_table(states)}
    ctab, csum = _cycles_table(cycles)
    summary.extend(csum)
    true_logs = truth(store, "echem", "logs")
    etab, esum = _events_table(events, true_logs)
    summary.extend(esum)
    others_fig = _other_logs_figure(others, events, true_logs)
    eis_part, eisum = _eis_figures(eis, truth(store, "echem", "eis"))
    summary.extend(eisum)
    html = render_section("echem.html.j2", main=main, cycles=ctab, events=etab, others=others_fig,
                  eis=eis_part)
    return Section("Electrochemistry", html, summary=tuple(summary))
