"""X-ray Compton scattering (XCS) section of the report (Huang et al. 2024 (doi:10.1016/j.xcrp.2024.101995), Figs. 2-3, Table 1).

Reads the datasets written by :mod:`ssbscope.compton.stages` (``compton/spectra``,
``compton/emf``, ``compton/profiles``, ``compton/maps``, and ``compton/twin/truth`` when the
data came from the twin) and renders:

* the scattering spectra of the three beam positions per state, log scale, with the detector
  and shielding lines and the Compton and elastic peaks labelled (Fig. 2C);
* the unmixed component spectra per unit volume (Fig. 2D);
* the Compton profiles of the components with the valence and core windows shaded (Fig. 2E);
* EMF vs state per component with error bars, beside the twin's truth (Fig. 2F);
* EMF maps per state (Fig. 3A);
* the XCS-CT correlation (``compton/ct_fractions``): per-pixel phase-fraction maps of the
  segmented CT seen by the detector at each sheet position, and the CT volumes used for the
  unmixing beside the layered model's;
* a table of EMF values and the Table-1-like summary row (anode EMF, pristine / fully
  charged / fully discharged and the changes in %);
* for real inputs (``compton/input/<label>/spectrum`` of :mod:`ssbscope.compton.input_stages`):
  the whole-detector spectrum of each input and a table of counts and EMF, or why no EMF was
  computed;
* for operando series (``compton/<series>/emf``, ``/maps`` of the series stage): the EMF of
  each unmixed component vs state with error bars (beside the twin's truth when a
  ``truth.json`` was kept), the EMF of each exposure, a table with the Li content from the
  EMF calibration, and the component EMF maps.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from ssbscope.report import Section, esc, figure_html, table_html, truth
from ssbscope.store import attr_list as _as_list

__all__ = ["section"]

log = logging.getLogger(__name__)

_COLORS = ("#1d4e89", "#d1495b", "#edae49", "#00798c", "#66a182", "#8d6a9f")


def _get(store, name):
    if name not in store.names():
        return None
    return store.read(name).load()


def _line_labels():
    from ssbscope.compton.electron_momentum import default_lines_kev

    lines = default_lines_kev()
    return [("Cd Kα", lines["Cd Ka1"]), ("Te Kα", lines["Te Ka1"]), ("Te Kβ", lines["Te Kb1"]),
            ("W Kα", lines["W Ka1"]), ("W Kβ", lines["W Kb1"]), ("Pb Kα", lines["Pb Ka1"]),
            ("Pb Kβ", lines["Pb Kb1"]), ("esc. Cd", lines["Compton - Cd Ka escape"]),
            ("Compton", 93.87), ("elastic", 115.0)]


def _spectra_figure(sp) -> str:
    import matplotlib.pyplot as plt

    var = "counts_unaligned" if "counts_unaligned" in sp else "counts"
    e = sp["energy_kev"].values
    regions = [str(r) for r in sp["region"].values]
    states = [str(s) for s in sp["state"].values]
    fig, axes = plt.subplots(len(regions), 1, figsize=(9, 2.6 * len(regions)), sharex=True, squeeze=False)
    for ri, (ax, reg) in enumerate(zip(axes[:, 0], regions)):
        for si, st in enumerate(states):
            y = sp[var].values[si, ri]
            ax.semilogy(e, np.where(y > 0, y, np.nan), lw=0.8, color=_COLORS[si % len(_COLORS)], label=st)
        ax.set_title(reg, fontsize=9, loc="left")
        ax.set_ylabel("counts / bin")
        ax.grid(alpha=0.3, which="both")
        top = np.nanmax(sp[var].values[:, ri])
        for k, (lab, le) in enumerate(_line_labels()):
            if e[0] < le < e[-1]:
                ax.axvline(le, color="grey", lw=0.5, ls=":")
                if ri == 0:
                    ax.text(le, top * (2.0 if k % 2 else 0.6), lab, fontsize=7, rotation=90,
                            ha="right", va="top")
    # in the last panel, whose upper left is empty (the line labels sit in the first panel)
    axes[-1, 0].legend(fontsize=7, ncol=3, loc="upper left")
    axes[-1, 0].set_xlabel("energy (keV)")
    axes[-1, 0].set_xlim(15, 120)
    fig.tight_layout()
    return figure_html(fig, "Scattering spectra of the three beam positions (sum over the pixels "
                            "inside the cell) at each state, log scale; dotted lines mark the Cd/Te "
                            "fluorescence of the detector, the W (pinhole) and Pb (shield) lines, the "
                            "Cd escape peak, the Compton peak and the elastic line (cf. Huang et al. 2024, Fig. 2C).")


def _component_figure(pr) -> str:
    import matplotlib.pyplot as plt

    e = pr["energy_kev"].values
    comps = [str(c) for c in pr["component"].values]
    states = [str(s) for s in pr["state"].values]
    fig, ax = plt.subplots(figsize=(8, 3.8))
    sel = (e > 80) & (e < 105)
    peak = 0.0
    for ci, comp in enumerate(comps):
        for si in (0, len(states) - 1) if len(states) > 1 else (0,):
            y = pr["spectrum"].values[si, ci][sel]
            peak = max(peak, float(np.nanmax(y)) if y.size else 0.0)
            ax.semilogy(e[sel], np.where(y > 0, y, np.nan), lw=1.0, color=_COLORS[ci],
                        ls="-" if si == 0 else "--", label=f"{comp}, {states[si]}")
    if peak > 0:  # NNLS zeros and round-off values far below the counting floor are not shown
        ax.set_ylim(peak * 1e-4, peak * 2)
    ax.set_xlabel("energy (keV)")
    ax.set_ylabel("counts per mm³ / bin")
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3, which="both")
    return figure_html(fig, "Component spectra per unit volume from NNLS unmixing of the three "
                            "beam positions with the sheet's volume fractions (cf. Huang et al. 2024, Fig. 2D).")


def _profile_figure(pr, lo, hi) -> str:
    import matplotlib.pyplot as plt

    pz = pr["pz_au"].values
    comps = [str(c) for c in pr["component"].values]
    states = [str(s) for s in pr["state"].values]
    fig, axes = plt.subplots(1, len(comps), figsize=(3.4 * len(comps), 3.2), sharey=True, squeeze=False)
    for ci, (ax, comp) in enumerate(zip(axes[0], comps)):
        ax.axvspan(-lo[1], lo[1], color="#f6e27f", alpha=0.5, lw=0, label="valence (low p_z)")
        ax.axvspan(-hi[1], -hi[0], color="#b5e48c", alpha=0.5, lw=0, label="core (high p_z)")
        ax.axvspan(hi[0], hi[1], color="#b5e48c", alpha=0.5, lw=0)
        for si, st in enumerate(states):
            ax.plot(pz, pr["j"].values[si, ci], lw=1.0, color=_COLORS[si % len(_COLORS)], label=st)
        ax.set_title(comp, fontsize=9)
        ax.set_xlabel("p_z (a.u.)")
        ax.grid(alpha=0.3)
    axes[0, 0].set_ylabel("J(p_z), area 1 over |p_z| < 5")
    axes[0, 0].legend(fontsize=6)
    fig.tight_layout()
    return figure_html(fig, "Compton profiles of the components at each state; the shaded bands "
                            "are the EMF windows (valence yellow, core green; cf. Huang et al. 2024, Fig. 2E).")


def _emf_figure(em) -> str:
    import matplotlib.pyplot as plt

    comps = [str(c) for c in em["component"].values]
    states = [str(s) for s in em["state"].values]
    x = np.arange(len(states))
    fig, axes = plt.subplots(1, len(comps), figsize=(3.4 * len(comps), 3.2), squeeze=False)
    for ci, (ax, comp) in enumerate(zip(axes[0], comps)):
        ax.errorbar(x, em["emf"].values[:, ci], yerr=em["emf_unc"].values[:, ci], fmt="o-",
                    color=_COLORS[ci], capsize=3,
                    label="measured (CT volumes)" if "emf_layered" in em else "measured")
        if "emf_layered" in em:
            ax.plot(x + 0.08, em["emf_layered"].values[:, ci], "s", mfc="none", color=_COLORS[ci],
                    ms=5, label="layered-model volumes")
        if "true_emf" in em:
            ax.plot(x, em["true_emf"].values[:, ci], "k:", lw=1, label="true profile (twin)")
        if "true_emf_resolution" in em and np.any(np.isfinite(em["true_emf_resolution"].values)):
            ax.plot(x, em["true_emf_resolution"].values[:, ci], "k--", lw=1,
                    label="true, Gaussian resolution only")
        ax.set_xticks(x)
        ax.set_xticklabels(states, rotation=35, ha="right", fontsize=7)
        ax.set_title(comp, fontsize=9)
        ax.grid(alpha=0.3)
    axes[0, 0].set_ylabel("EMF")
    axes[0, 0].legend(fontsize=7)
    fig.tight_layout()
    corr = str(em.attrs.get("detector_corrections", "none"))
    tail = em.attrs.get("tail_fraction", float("nan"))
    att = str(em.attrs.get("attenuation_correction", "none"))
    if corr not in ("none", "", "None"):
        how = (f"Detector corrections: {corr}"
               + (f" (tail fraction {float(tail):.2f})" if np.isfinite(float(tail)) else "")
               + f"; attenuation: {att}.")
    else:
        how = ("No detector-response correction: the sub-threshold charge-sharing tail and "
               "calibration spread lower the measured EMF.")
    return figure_html(fig, "Electron momentum factor per component and state with counting "
                            "uncertainties (cf. Huang et al. 2024, Fig. 2F). Dotted: EMF of the twin's true profile; "
                            "dashed: the same broadened by the detector's Gaussian energy resolution "
                            "only (the reference the corrected measurement should meet). " + how)


def _maps_figure(mp, region="region 3") -> str:
    import matplotlib.pyplot as plt

    regs = [str(r) for r in mp["region"].values]
    ri = regs.index(region) if region in regs else len(regs) - 1
    states = [str(s) for s in mp["state"].values]
    v = mp["emf"].values[:, ri]
    finite = v[np.isfinite(v)]
    if finite.size == 0:
        return "<p>No EMF map: no block had enough counts.</p>"
    lo, hi = np.percentile(finite, [5, 95])
    fig, axes = plt.subplots(1, len(states), figsize=(2.6 * len(states), 2.9), squeeze=False)
    im = None
    for si, (ax, st) in enumerate(zip(axes[0], states)):
        im = ax.imshow(v[si], vmin=lo, vmax=hi, cmap="viridis")
        ax.set_title(st, fontsize=8)
        ax.set_xticks([])
        ax.set_yticks([])
    fig.colorbar(im, ax=axes[0].tolist(), shrink=0.8, label="EMF")
    return figure_html(fig, f"EMF maps of {regs[ri]} per state on {int(mp.attrs.get('block_px', 1))}"
                            f" x {int(mp.attrs.get('block_px', 1))} pixel blocks (cf. Huang et al. 2024, Fig. 3A).")


_CT_SHOWN = ("li", "spe", "cathode", "li_filament", "pore")


def _ct_figure(ct) -> str:
    import matplotlib.pyplot as plt

    states = [str(s) for s in ct["state"].values]
    regs = [str(r) for r in ct["region"].values]
    phases = [str(p) for p in ct["phase"].values]
    f = ct["fractions"].values
    # phases that reach 1 % somewhere, in a fixed order
    shown = [p for p in _CT_SHOWN if p in phases and np.nanmax(f[:, :, phases.index(p)]) >= 0.01]
    shown += [p for p in phases if p not in shown and np.nanmax(f[:, :, phases.index(p)]) >= 0.01]
    picks = [0] + ([len(states) - 1] if len(states) > 1 and "fully charged" not in states
                   else [states.index("fully charged")] if "fully charged" in states else [])
    rows = [(si, ri) for si in picks for ri in range(len(regs))]
    fig, axes = plt.subplots(len(rows), len(shown), figsize=(2.2 * len(shown) + 0.8, 2.1 * len(rows)),
                             squeeze=False)
    im = None
    for k, (si, ri) in enumerate(rows):
        for j, p in enumerate(shown):
            ax = axes[k, j]
            im = ax.imshow(f[si, ri, phases.index(p)], vmin=0, vmax=1, cmap="magma")
            ax.set_xticks([])
            ax.set_yticks([])
            if k == 0:
                ax.set_title(p, fontsize=9)
            if j == 0:
                ax.set_ylabel(f"{states[si]}\n{regs[ri]}", fontsize=7)
    fig.colorbar(im, ax=axes.ravel().tolist(), shrink=0.6, label="phase fraction")
    return figure_html(fig, "XCS-CT correlation: fraction of each phase of the segmented CT in the "
                            "sheet volume seen by each detector pixel, per sheet position (rows), "
                            f"for {' and '.join(states[i] for i in picks)}; pinhole magnification "
                            "150/160, image inverted; "
                            f"{esc(str(ct.attrs.get('segmentation', '')))}, tiled over a "
                            f"{float(ct.attrs.get('tile_radius_mm', np.nan)):g} mm disc. These volumes "
                            "are the unmixing weights.")


def _ct_table(ct, em) -> str:
    rows = []
    for si, st in enumerate(str(s) for s in ct["state"].values):
        for ri, reg in enumerate(str(r) for r in ct["region"].values):
            row = {"state": st, "region": reg}
            for ci, comp in enumerate(str(c) for c in ct["component"].values):
                v, lv = ct["volume_mm3"].values[si, ri, ci], ct["volume_mm3_layered"].values[si, ri, ci]
                d = ct["volume_rel_diff"].values[si, ri, ci]
                row[f"{comp} CT / layered (mm³)"] = (f"{v:.3f} / {lv:.3f}" +
                                                    (f" ({100 * d:+.1f} %)" if np.isfinite(d) else ""))
            rows.append(row)
    html = table_html(pd.DataFrame(rows), caption="Unmixing volumes inside the analysis mask: XCS-CT "
                      "correlation vs the layered cell model (relative difference).")
    if em is not None and "emf_layered" in em:
        comps = [str(c) for c in em["component"].values]
        d = 100 * (em["emf"].values / em["emf_layered"].values - 1)
        t = pd.DataFrame([{"state": str(s), **{f"{c}: EMF change (%)": f"{d[si, ci]:+.2f}"
                                              for ci, c in enumerate(comps)}}
                          for si, s in enumerate(em["state"].values)])
        html += table_html(t, caption="EMF unmixed with the CT volumes relative to the EMF with the "
                                      "layered model's volumes.")
    return html


def _tables(em) -> tuple[str, list]:
    comps = [str(c) for c in em["component"].values]
    states = [str(s) for s in em["state"].values]
    rows = []
    for si, st in enumerate(states):
        row = {"state": st}
        for ci, comp in enumerate(comps):
            row[f"EMF {comp}"] = f"{em['emf'].values[si, ci]:.3f} ± {em['emf_unc'].values[si, ci]:.3f}"
        if "x_cathode_estimated" in em:
            row["x cathode (from EMF)"] = (f"{em['x_cathode_estimated'].values[si]:.2f} ± "
                                          f"{em['x_cathode_unc'].values[si]:.2f}")
        if "x_cathode_true" in em:
            row["x cathode (twin)"] = f"{em['x_cathode_true'].values[si]:.3f}"
        rows.append(row)
    html = table_html(pd.DataFrame(rows), caption="EMF per component and state; cathode Li content "
                      "from the EMF calibration on the reference states "
                      f"{', '.join(map(str, _as_list(em.attrs.get('calibration_states', []))))}")
    summary = []
    if "anode" in comps:
        ci = comps.index("anode")
        idx = {s: i for i, s in enumerate(states)}
        if {"pristine", "fully charged", "fully discharged"} <= set(idx):
            p, c, d = (em["emf"].values[idx[k], ci] for k in ("pristine", "fully charged", "fully discharged"))
            t1 = pd.DataFrame([{"": "EMF from XCS imaging (anode)", "pristine": f"{p:.3f}",
                                "fully charged": f"{c:.3f}", "fully discharged": f"{d:.3f}",
                                "pristine → charged (%)": f"{100 * (c - p) / p:+.1f}",
                                "pristine → discharged (%)": f"{100 * (d - p) / p:+.1f}"}])
            html += table_html(t1, caption="Table-1-like summary row (cf. Huang et al. 2024, Table 1)")
            summary.append(("Anode EMF, pristine → fully charged", f"{p:.3f} → {c:.3f} ({100 * (c - p) / p:+.1f} %)"))
    return html, summary



def _input_labels(store) -> list[str]:
    """Labels of the real inputs (``compton/input/<label>/spectrum``) in the store."""
    pre, suf = "compton/input/", "/spectrum"
    return [n[len(pre):-len(suf)] for n in store.names() if n.startswith(pre) and n.endswith(suf)]


def _input_spectrum_figure(sp, label) -> str:
    import matplotlib.pyplot as plt

    e = sp["energy_kev"].values
    y = sp["counts"].values
    fig, ax = plt.subplots(figsize=(8, 3.2))
    if np.any(y > 0):
        ax.semilogy(e, np.where(y > 0, y, np.nan), lw=0.8, color=_COLORS[0], drawstyle="steps-mid")
    else:
        ax.text(0.5, 0.5, "no counts in the energy range", ha="center", transform=ax.transAxes)
    ec = float(sp["e_compton_kev"].values)
    ax.axvline(ec, color="#d1495b", lw=0.8, ls="--")
    ax.text(ec, 0.95, " E_C", color="#d1495b", fontsize=8, va="top", transform=ax.get_xaxis_transform())
    e1 = float(sp.attrs.get("e_incident_kev", 115.0))
    if e[0] < e1 < e[-1]:
        ax.axvline(e1, color="grey", lw=0.8, ls=":")
        ax.text(e1, 0.95, " elastic", color="grey", fontsize=8, va="top", transform=ax.get_xaxis_transform())
    ax.set_xlabel("energy (keV)")
    ax.set_ylabel("counts / bin")
    ax.grid(alpha=0.3, which="both")
    fig.tight_layout()
    return figure_html(fig, f"{label}: whole-detector spectrum (good pixels, charge-sharing "
                            f"discrimination), energy scale: {sp.attrs.get('energy_scale', '?')}; dashed: "
                            "Compton energy E_C of the nominal geometry.")


def _series_members(store) -> set:
    """Labels of the inputs unmixed in a series (their EMF is the series'; the report keeps
    their rows in the inputs table but not one figure and summary line each)."""
    out = set()
    for series in _series_names(store):
        em = store.read(f"compton/{series}/emf")
        if "exposure" in em.variables:
            out.update(str(x) for x in np.asarray(em["exposure"].values).ravel() if str(x))
    return out


def _inputs_html(store, labels) -> tuple[str, list]:
    """Spectra and the EMF table of the real inputs."""
    parts, rows, summary = ["<h3>Real inputs</h3>"], [], []
    members = _series_members(store)
    if members:
        parts.append(f"<p class=\"note\">{len(members)} input(s) belong to an operando series "
                     "above: their whole-detector EMF is in the table (a mixture of the layers "
                     "the sheet crosses), their spectra are not plotted one by one.</p>")
    for lab in labels:
        sp = _get(store, f"compton/input/{lab}/spectrum")
        cube_attrs = store.read(f"compton/input/{lab}/cube").attrs if \
            f"compton/input/{lab}/cube" in store.names() else {}
        if lab not in members:
            parts.append(_input_spectrum_figure(sp, lab))
        reason = str(sp.attrs.get("emf_reason", "") or "")
        v, u = float(sp["emf"].values), float(sp["emf_unc"].values)
        rows.append({"input": lab, "format": str(sp.attrs.get("format", "")),
                     "events": cube_attrs.get("n_events", "—"),
                     "counts kept": int(sp.attrs.get("n_kept_counts", 0)),
                     "events/s": cube_attrs.get("events_per_s", float("nan")),
                     "Compton peak (keV)": float(sp["peak_centre_kev"].values),
                     "EMF": v, "± (1σ)": u,
                     "why no EMF": reason or "—"})
        if lab not in members:
            summary.append((f"XCS {lab}: EMF", f"{v:.4g} ± {u:.2g}" if np.isfinite(v) else "not measured"))
    df = pd.DataFrame(rows)
    parts.append(table_html(df, caption="Real XCS inputs: counts and electron momentum factor (Eqs. 3-5, "
                                        "windows as in analysis.compton); an EMF is only computed when "
                                        "the spectrum shows a Compton peak near E_C"))
    return "".join(parts), summary


def _series_names(store) -> list[str]:
    """Series of the real inputs (``compton/<series>/emf``) in the store."""
    out = []
    for n in store.names():
        parts = n.split("/")
        if len(parts) == 3 and parts[0] == "compton" and parts[2] == "emf" and parts[1] != "input":
            out.append(parts[1])
    return out


def _series_truth(store, series, states, comps):
    """(state x component) resolution-broadened true EMF of the twin, or None."""
    t = truth(store, "compton")
    if not isinstance(t, dict) or t.get("series") != series or "true_emf_resolution" not in t:
        return None
    ts, tc = list(t.get("states", [])), list(t.get("components", []))
    out = np.full((len(states), len(comps)), np.nan)
    for si, s in enumerate(states):
        for ci, c in enumerate(comps):
            if s in ts and c in tc:
                out[si, ci] = t["true_emf_resolution"][ts.index(s)][tc.index(c)]
    return out


def _series_emf_figure(em, tru, series) -> str:
    import matplotlib.pyplot as plt

    comps = [str(c) for c in em["component"].values]
    states = [str(s) for s in em["state"].values]
    x = np.arange(len(states))
    fig, axes = plt.subplots(1, len(comps) + 1, figsize=(3.2 * (len(comps) + 1), 3.2), squeeze=False)
    for ci, (ax, comp) in enumerate(zip(axes[0], comps)):
        ax.errorbar(x, em["emf"].values[:, ci], yerr=em["emf_unc"].values[:, ci], fmt="o-",
                    color=_COLORS[ci % len(_COLORS)], capsize=3, label="measured (±1σ)")
        if tru is not None:
            ax.plot(x, tru[:, ci], "k--", lw=1, label="twin truth (resolution-broadened)")
        ax.set_title(comp + (" (anode side)" if comp == em.attrs.get("anode_component") else ""), fontsize=9)
        ax.set_xticks(x)
        ax.set_xticklabels(states, rotation=35, ha="right", fontsize=7)
        ax.grid(alpha=0.3)
    ax = axes[0, -1]
    hp = em["emf_position"].values
    for pi in range(hp.shape[1]):
        ax.errorbar(x + 0.05 * pi, hp[:, pi], yerr=em["emf_position_unc"].values[:, pi], fmt="s:", ms=4,
                    capsize=2, color=_COLORS[(pi + 3) % len(_COLORS)],
                    label=f"z = {np.nanmean(em['beam_height_um'].values[:, pi]):.0f} µm")
    ax.set_title("each exposure (mixtures)", fontsize=9)
    ax.set_xticks(x)
    ax.set_xticklabels(states, rotation=35, ha="right", fontsize=7)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=6)
    axes[0, 0].set_ylabel("EMF")
    axes[0, 0].legend(fontsize=6)
    fig.tight_layout()
    return figure_html(fig, f"Series {series}: EMF of each component unmixed from the beam "
                            "positions (sheet fractions from the " + str(em.attrs.get("phase_fractions", ""))
                       + f"), corrections {', '.join(map(str, _as_list(em.attrs.get('detector_corrections', []))))}"
                       "; right: the EMF of each exposure, the mixture the sheet sees (cf. Huang et al. 2024, Fig. 2F).")


def _series_maps_figure(mp, series) -> str:
    import matplotlib.pyplot as plt

    comps = [str(c) for c in mp["component"].values]
    states = [str(s) for s in mp["state"].values]
    v = mp["emf"].values
    if not np.isfinite(v).any():
        return f"<p>Series {esc(series)}: no EMF map block had enough counts.</p>"
    fig, axes = plt.subplots(len(comps), len(states), figsize=(2.4 * len(states) + 0.8, 2.2 * len(comps)),
                             squeeze=False)
    for ci, comp in enumerate(comps):
        f = v[:, ci][np.isfinite(v[:, ci])]
        lo, hi = (np.percentile(f, [5, 95]) if f.size else (0, 1))
        im = None
        for si, st in enumerate(states):
            ax = axes[ci, si]
            im = ax.imshow(v[si, ci], vmin=lo, vmax=hi, cmap="viridis")
            ax.set_xticks([])
            ax.set_yticks([])
            if ci == 0:
                ax.set_title(st, fontsize=8)
            if si == 0:
                ax.set_ylabel(comp, fontsize=8)
        if im is not None:
            fig.colorbar(im, ax=axes[ci].tolist(), shrink=0.8, label="EMF")
    return figure_html(fig, f"Series {series}: EMF maps of each component on "
                            f"{int(mp.attrs.get('block_px', 1))} x {int(mp.attrs.get('block_px', 1))} pixel "
                            "blocks, unmixed block by block (cf. Huang et al. 2024, Fig. 3A); blank: outside the analysed "
                            "pixels or too few counts.")


def _series_html(store, names) -> tuple[str, list]:
    parts, summary = [], []
    for series in names:
        em = _get(store, f"compton/{series}/emf")
        mp = _get(store, f"compton/{series}/maps")
        comps = [str(c) for c in em["component"].values]
        states = [str(s) for s in em["state"].values]
        tru = _series_truth(store, series, states, comps)
        parts.append(f"<h3>Operando series {esc(series)}</h3><p>{len(states)} states × "
                     f"{em.sizes.get('position', 0)} beam heights, {int(em.attrs.get('n_pixels', 0))} pixels; "
                     f"{esc(str(em.attrs.get('method', '')))}.</p>")
        parts.append(_series_emf_figure(em, tru, series))
        rows = []
        for si, st in enumerate(states):
            row = {"state": st, "time (s)": float(em["time_s"].values[si])}
            for ci, c in enumerate(comps):
                row[f"EMF {c}"] = f"{em['emf'].values[si, ci]:.3f} ± {em['emf_unc'].values[si, ci]:.3f}"
                if tru is not None and np.isfinite(tru[si, ci]):
                    row[f"{c} (twin)"] = f"{tru[si, ci]:.3f}"
            if "x" in em:
                row[f"x {em.attrs.get('x_component', '')} (from EMF)"] = \
                    f"{em['x'].values[si]:.2f} ± {em['x_unc'].values[si]:.2f}"
            rows.append(row)
        parts.append(table_html(pd.DataFrame(rows), caption=f"Series {series}: EMF per component and "
                                "state (±1σ counting, propagated through the unmixing)"))
        if mp is not None:
            parts.append(_series_maps_figure(mp, series))
        an = str(em.attrs.get("anode_component", comps[0]))
        if an in comps and len(states) > 1:
            ci = comps.index(an)
            a0, a1 = em["emf"].values[0, ci], em["emf"].values[-1, ci]
            summary.append((f"XCS {series}: {an} EMF, {states[0]} → {states[-1]}",
                            f"{a0:.3f} → {a1:.3f} ({100 * (a1 - a0) / a0:+.1f} %)"))
        if "interphase" in comps and an != "interphase" and len(states) > 1:
            # the anode/SPE interphase of Huang et al. 2024, Table 1: every state
            ci = comps.index("interphase")
            v, u = em["emf"].values[:, ci], em["emf_unc"].values[:, ci]
            summary.append((f"XCS {series}: interphase EMF, " + " → ".join(states),
                            " → ".join(f"{a:.2f} ± {b:.2f}" for a, b in zip(v, u))))
    return "".join(parts), summary


def section(store) -> Section | None:
    """The XCS section, or None when the store holds no XCS results."""
    sp = _get(store, "compton/spectra")
    labels = _input_labels(store)
    series = _series_names(store)
    if sp is None:
        if not labels and not series:
            return None
        html, summary = _series_html(store, series) if series else ("", [])
        if labels:
            h2, s2 = _inputs_html(store, labels)
            html, summary = html + h2, list(summary) + s2
        return Section("X-ray Compton scattering imaging", html, tuple(summary))
    em = _get(store, "compton/emf")
    pr = _get(store, "compton/profiles")
    mp = _get(store, "compton/maps")
    parts = [f"<p>XCS imaging of the coin cell: {len(sp['state'])} states × "
             f"{len(sp['region'])} beam positions; {esc(str(sp.attrs.get('description', '')))}.</p>"]
    summary = []
    parts.append(_spectra_figure(sp))
    if pr is not None:
        parts.append(_component_figure(pr))
        lo = tuple(_as_list(em.attrs.get("low_au", [0, 1]))) if em is not None else (0, 1)
        hi = tuple(_as_list(em.attrs.get("high_au", [1, 5]))) if em is not None else (1, 5)
        parts.append(_profile_figure(pr, lo, hi))
    if em is not None:
        parts.append(_emf_figure(em))
        html, summary = _tables(em)
        parts.append(html)
    if mp is not None:
        parts.append(_maps_figure(mp))
    ct = _get(store, "compton/ct_fractions")
    if ct is not None:
        parts.append(_ct_figure(ct))
        parts.append(_ct_table(ct, em))
    if series:
        html, extra = _series_html(store, series)
        parts.append(html)
        summary = list(summary) + extra
    if labels:
        html, extra = _inputs_html(store, labels)
        parts.append(html)
        summary = list(summary) + extra
    return Section("X-ray Compton scattering imaging", "".join(parts), tuple(summary))
