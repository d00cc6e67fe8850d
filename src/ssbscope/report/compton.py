"""X-ray Compton scattering (XCS) section of the report (Huang et al. 2024 (doi:10.1016/j.xcrp.2024.101995), Figs. 2-3, Table 1).

Reads the datasets of :mod:`ssbscope.compton.input_stages` (``ssbscope run``) and renders:

* for operando series (``compton/<series>/emf``, ``/spectra``, ``/profiles``, ``/maps``,
  ``/ct_fractions``): the EMF of each unmixed component vs state with its 1-sigma uncertainty,
  beside the twin's resolution-broadened truth when a ``truth.json`` was kept (Fig. 2F); the
  EMF of each exposure; a table with the Li content from the EMF calibration; the unmixed
  component spectra (Fig. 2D) and their Compton profiles with the EMF windows (Fig. 2E); with
  the XCS-CT correlation, the sheet fractions of the components from the segmented CT beside
  the declared layers' (figure and table); and the component EMF maps (Fig. 3A);
* for real inputs (``compton/input/<label>/spectrum``): the whole-detector spectrum of each
  input and a table of counts and EMF, or why no EMF was computed.
"""

from __future__ import annotations

import json
import logging

import numpy as np
import pandas as pd

from ssbscope.report import Section, figure, render_section, table, truth
from ssbscope.store import attr_list as _as_list

__all__ = ["section"]

log = logging.getLogger(__name__)

_COLORS = ("#1d4e89", "#d1495b", "#edae49", "#00798c", "#66a182", "#8d6a9f")


def _get(store, name):
    if name not in store:  # the dataset's own zarr.json (names() walks the whole store)
        return None
    return store.read(name).load()


def _component_figure(spd, series):
    import matplotlib.pyplot as plt

    e = spd["energy_kev"].values
    comps = [str(c) for c in spd["component"].values]
    states = [str(s) for s in spd["state"].values]
    fig, ax = plt.subplots(figsize=(8, 3.8))
    sel = (e > 80) & (e < 105)
    peak = 0.0
    for ci, comp in enumerate(comps):
        for si in (0, len(states) - 1) if len(states) > 1 else (0,):
            y = spd["component_spectrum"].values[si, ci][sel]
            peak = max(peak, float(np.nanmax(y)) if y.size and np.isfinite(y).any() else 0.0)
            ax.semilogy(e[sel], np.where(y > 0, y, np.nan), lw=1.0, color=_COLORS[ci % len(_COLORS)],
                        ls="-" if si == 0 else "--", label=f"{comp}, {states[si]}")
    if peak > 0:  # values far below the counting floor are not shown
        ax.set_ylim(peak * 1e-3, peak * 2)
    ax.set_xlabel("energy (keV)")
    ax.set_ylabel("counts per monitor per sheet fraction")
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3, which="both")
    return figure(fig, f"Series {series}: detector-corrected component spectra unmixed from the "
                            "beam positions with the sheet fractions (cf. Huang et al. 2024, Fig. 2D).")


def _profile_figure(pr, lo, hi, series):
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
    return figure(fig, f"Series {series}: Compton profiles of the unmixed components at each state; "
                            "the shaded bands are the EMF windows (valence yellow, core green; cf. Huang et "
                            "al. 2024, Fig. 2E).")


def _ct_figure(ct, series):
    import matplotlib.pyplot as plt

    states = [str(s) for s in ct["state"].values]
    comps = [str(c) for c in ct["component"].values]
    pos = list(range(ct.sizes["position"]))
    h = ct["beam_height_um"].values
    fig, axes = plt.subplots(1, len(comps), figsize=(3.0 * len(comps), 3.0), sharey=True, squeeze=False)
    for ci, (ax, comp) in enumerate(zip(axes[0], comps)):
        for si, st in enumerate(states):
            c = _COLORS[si % len(_COLORS)]
            ax.plot(h[si], ct["fraction"].values[si, :, ci], "o", color=c, label=f"{st}: CT")
            ax.plot(h[si], ct["fraction_layers"].values[si, :, ci], "x", color=c, ms=7,
                    label=f"{st}: declared layers")
        ax.set_title(comp, fontsize=9)
        ax.set_xlabel("sheet centre (µm)")
        ax.grid(alpha=0.3)
    axes[0, 0].set_ylabel("sheet fraction")
    axes[0, 0].legend(fontsize=6)
    fig.tight_layout()
    return figure(fig, f"Series {series}: XCS-CT correlation. Sheet fraction of each component at each "
                            f"beam height ({len(pos)} positions) from the segmented CT tomo/"
                            f"{ct.attrs.get('ct_series', '')}/labels (o; seen through the pinhole "
                            "camera, declared layers outside the CT volume) beside the declared layers (x); "
                            f"registration: {ct.attrs.get('registration', '')}. The CT fractions are "
                            "the unmixing matrix.")


def _ct_table(ct, series):
    rows = []
    comps = [str(c) for c in ct["component"].values]
    for si, st in enumerate(str(s) for s in ct["state"].values):
        for pi in range(ct.sizes["position"]):
            row = {"state": st, "sheet centre (µm)": f"{ct['beam_height_um'].values[si, pi]:.1f}",
                   "CT coverage": f"{ct['coverage'].values[si, pi]:.2f}"}
            for ci, comp in enumerate(comps):
                row[f"{comp}: CT / layers"] = (f"{ct['fraction'].values[si, pi, ci]:.3f} / "
                                               f"{ct['fraction_layers'].values[si, pi, ci]:.3f}")
            rows.append(row)
    src = ct.attrs.get("component_source", "{}")
    try:  # stored as JSON {component: source}; the table macro escapes the caption itself
        src = "; ".join(f"{k}: {v}" for k, v in json.loads(src).items())
    except (TypeError, ValueError, AttributeError):
        src = str(src)
    return table(pd.DataFrame(rows), caption=f"Series {series}: sheet fractions from the CT (scan at "
                      f"time_s {', '.join(f'{t:g}' for t in ct['ct_time_s'].values)}) and from the declared "
                      f"layers; components: {src}")


def _ct_registration(store, ct, series) -> dict | None:
    """The CT's height in the XCS cell as the series used it, beside the twin's truth if kept."""
    z = np.asarray(ct["z_offset_um"].values, float) if "z_offset_um" in ct else np.array([])
    if z.size == 0 or not np.isfinite(z).any():
        return None
    method = str(ct.attrs.get("register_method", ""))
    src = {"interface": "registered on a measured interface", "layer": "registered on a layer's bottom",
           "given": "given in the YAML (ct_z_offset_um)"}.get(method, "")
    vals = sorted({round(float(v), 2) for v in z[np.isfinite(z)]})
    each = str(ct.attrs.get("register_scans", "first")) == "each"
    if each:
        src += (", " if src else "") + "measured on each state's matched CT scan (ct_register_scans: each)"
        at = ", ".join(f"{st}: {float(v):.2f}" for st, v in zip(ct["state"].values, z))
    else:
        if method in ("interface", "layer"):
            src += ", measured on the first CT scan for every state (ct_register_scans: first)"
        at = ", ".join(f"{v:.2f}" for v in vals)
    txt = (f"Series {series}: CT volume's bottom at {at} µm above z = 0 of the "
           f"cell{' (' + src + ')' if src else ''}")
    t = truth(store, "compton")
    if isinstance(t, dict) and t.get("series") == series and t.get("ct_z_offset_um") is not None:
        tz = float(t["ct_z_offset_um"])
        vs = float(ct.attrs.get("register_voxel_size_um", np.nan))
        err = max(abs(v - tz) for v in vals)
        txt += (f"; twin truth {tz:.2f} µm (error {err:.2f} µm"
                + (f", {err / vs:.2f} voxels" if np.isfinite(vs) and vs > 0 else "") + ")")
    return {"text": f"{txt}."}  # a paragraph (the ``block`` macro)


def _input_labels(store) -> list[str]:
    """Labels of the real inputs (``compton/input/<label>/spectrum``) in the store."""
    pre, suf = "compton/input/", "/spectrum"
    return [n[len(pre):-len(suf)] for n in store.names() if n.startswith(pre) and n.endswith(suf)]


def _input_spectrum_figure(sp, label):
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
    return figure(fig, f"{label}: whole-detector spectrum (good pixels, charge-sharing "
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


def _inputs_part(store, labels) -> tuple[dict, list]:
    """Spectra and the EMF table of the real inputs."""
    parts, rows, summary = [], [], []
    members = _series_members(store)
    for lab in labels:
        sp = _get(store, f"compton/input/{lab}/spectrum")
        cube_attrs = store.read(f"compton/input/{lab}/cube").attrs if \
            f"compton/input/{lab}/cube" in store else {}
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
    tab = table(df, caption="Real XCS inputs: counts and electron momentum factor (Eqs. 3-5, "
                            "windows as in analysis.compton); an EMF is only computed when "
                            "the spectrum shows a Compton peak near E_C")
    return {"n_members": len(members), "figures": parts, "table": tab}, summary


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


def _series_emf_figure(em, tru, series):
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
    return figure(fig, f"Series {series}: EMF of each component unmixed from the beam "
                            "positions (sheet fractions from the " + str(em.attrs.get("phase_fractions", ""))
                       + f"), corrections {', '.join(map(str, _as_list(em.attrs.get('detector_corrections', []))))}"
                       "; right: the EMF of each exposure, the mixture the sheet sees (cf. Huang et al. 2024, Fig. 2F).")


def _series_maps_figure(mp, series):
    import matplotlib.pyplot as plt

    comps = [str(c) for c in mp["component"].values]
    states = [str(s) for s in mp["state"].values]
    v = mp["emf"].values
    if not np.isfinite(v).any():
        return {"text": f"Series {series}: no EMF map block had enough counts."}
    fig, axes = plt.subplots(len(comps), len(states), figsize=(2.4 * len(states) + 0.8, 2.2 * len(comps)),
                             squeeze=False)
    # with the pinhole geometry the blocks carry their sheet position (y_mm/x_mm increasing):
    # draw them on it, y upwards; without it, on block indices
    phys = "y_mm" in mp.coords and "x_mm" in mp.coords
    extent = None
    if phys:
        y, x = mp["y_mm"].values, mp["x_mm"].values
        hb = float(mp.attrs.get("block_size_mm", 0.0)) / 2
        extent = (x[0] - hb, x[-1] + hb, y[0] - hb, y[-1] + hb)
    for ci, comp in enumerate(comps):
        f = v[:, ci][np.isfinite(v[:, ci])]
        lo, hi = (np.percentile(f, [5, 95]) if f.size else (0, 1))
        im = None
        for si, st in enumerate(states):
            ax = axes[ci, si]
            im = ax.imshow(v[si, ci], vmin=lo, vmax=hi, cmap="viridis", origin="lower", extent=extent)
            ax.tick_params(labelsize=6)
            if ci == 0:
                ax.set_title(st, fontsize=8)
            if ci == len(comps) - 1:
                ax.set_xlabel("x (mm)" if phys else "block column", fontsize=7)
            else:
                ax.set_xticklabels([])
            if si == 0:
                ax.set_ylabel(f"{comp}\n" + ("y (mm)" if phys else "block row"), fontsize=7)
            else:
                ax.set_yticklabels([])
        if im is not None:
            fig.colorbar(im, ax=axes[ci].tolist(), shrink=0.8, label="EMF")
    return figure(fig, f"Series {series}: EMF maps of each component on "
                            f"{int(mp.attrs.get('block_px', 1))} x {int(mp.attrs.get('block_px', 1))} pixel "
                            "blocks, unmixed block by block (cf. Huang et al. 2024, Fig. 3A); blank: outside the analysed "
                            "pixels or too few counts.")


def _series_parts(store, names) -> tuple[list, list]:
    parts, summary = [], []
    for series in names:
        em = _get(store, f"compton/{series}/emf")
        mp = _get(store, f"compton/{series}/maps")
        comps = [str(c) for c in em["component"].values]
        states = [str(s) for s in em["state"].values]
        tru = _series_truth(store, series, states, comps)
        blocks = [_series_emf_figure(em, tru, series)]
        parts.append({"name": series, "n_states": len(states), "n_positions": em.sizes.get("position", 0),
                      "n_pixels": int(em.attrs.get("n_pixels", 0)), "method": str(em.attrs.get("method", "")),
                      "blocks": blocks})
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
        blocks.append(table(pd.DataFrame(rows), caption=f"Series {series}: EMF per component and "
                            "state (±1σ counting, propagated through the unmixing)"))
        spd = _get(store, f"compton/{series}/spectra")
        if spd is not None and "component_spectrum" in spd:
            blocks.append(_component_figure(spd, series))
        pr = _get(store, f"compton/{series}/profiles")
        if pr is not None and np.isfinite(pr["j"].values).any():
            lo = tuple(_as_list(em.attrs.get("low_au", [0, 1])))
            hi = tuple(_as_list(em.attrs.get("high_au", [1, 5])))
            blocks.append(_profile_figure(pr, lo, hi, series))
        ct = _get(store, f"compton/{series}/ct_fractions")
        if ct is not None:
            blocks.append(_ct_figure(ct, series))
            blocks.append(_ct_table(ct, series))
            blocks.append(_ct_registration(store, ct, series))
        if mp is not None:
            blocks.append(_series_maps_figure(mp, series))
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
    return parts, summary


def section(store) -> Section | None:
    """The XCS section, or None when the store holds no XCS results."""
    labels = _input_labels(store)
    series = _series_names(store)
    if not labels and not series:
        return None
    parts, summary = _series_parts(store, series) if series else ([], [])
    inputs = None
    if labels:
        inputs, s2 = _inputs_part(store, labels)
        summary = list(summary) + s2
    html = render_section("compton.html.j2", series=parts, inputs=inputs)
    return Section("X-ray Compton scattering imaging", html, tuple(summary))
