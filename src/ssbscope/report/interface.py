"""Report section of the interface area: contoured Li|electrolyte interfaces.

The contour study of Zhang et al. 2024 (doi:10.1039/d3ee03322h, Figs.
1-4): maximum local current, creep pressure and critical current against the contour, the
kinetics (Wagner-number) study, the grid convergence and the current on one periodic cell.
"""

from __future__ import annotations

import logging

from ssbscope.report import Section, figure, macro, render_section, table

__all__ = ["section"]

log = logging.getLogger(__name__)


_FIRST = ("series", "r_ct_ohm_cm2", "kinetic_length_um", "shape", "height_um", "separation_um", "h_over_s", "n_xy", "pressure_model",
          "area_ratio", "max_primary_over_geometric", "max_kinetic_over_geometric",
          "max_over_geometric", "rel_change_vs_finest", "site_excess_pressure_mpa",
          "site_excess_pressure_extrapolated_mpa", "stokes_grid_drift",
          "critical_current_ma_cm2", "critical_current_extrapolated_ma_cm2", "gain_over_flat",
          "gain_over_flat_extrapolated", "gain_over_flat_small_slope")


_HEADERS = {
    "r_ct_ohm_cm2": "R_ct (Ω cm²)", "kinetic_length_um": "kinetic length (µm)",
    "height_um": "H (µm)", "separation_um": "S (µm)", "h_over_s": "H/S", "n_xy": "grid n_xy",
    "max_primary_over_geometric": "max j / geometric, primary",
    "max_kinetic_over_geometric": "max j / geometric, kinetics",
    "max_over_geometric": "max j / geometric",
    "rel_change_vs_finest": "change vs finest grid",
    "site_excess_pressure_extrapolated_mpa": "site excess pressure, grid-extrapolated (MPa)",
    "critical_current_extrapolated_ma_cm2": "critical current, grid-extrapolated (mA cm⁻²)",
    "gain_over_flat": "critical / flat", "gain_over_flat_extrapolated": "critical / flat, grid-extrapolated",
    "gain_over_flat_small_slope": "critical / flat, small-slope",
}
_SUFFIXES = (("_mpa_s", "MPa s"), ("_mpa", "MPa"), ("_ma_cm2", "mA cm⁻²"), ("_s_cm", "S cm⁻¹"),
             ("_1_s", "s⁻¹"), ("_um", "µm"), ("_ohm_cm2", "Ω cm²"))


def _header(col: str) -> str:
    """A table header a reader outside the project can read: words and the unit in brackets
    ("site_excess_pressure_mpa" -> "site excess pressure (MPa)")."""
    if col in _HEADERS:
        return _HEADERS[col]
    for suf, unit in _SUFFIXES:
        if col.endswith(suf):
            return f"{col[:-len(suf)].replace('_', ' ')} ({unit})"
    return col.replace("_", " ")


def _ordered(df):
    """Key columns first (case, then the headline numbers), the rest in their order."""
    first = [c for c in _FIRST if c in df.columns]
    return df[first + [c for c in df.columns if c not in first]]


def _contour_part(study, gc, fields):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    df = study.to_dataframe()
    blocks, summary = [], []  # figures and tables under the part's heading (template)
    series = [("constant_S", "height_um", "H (µm), S = 150 µm"),
              ("constant_H", "separation_um", "S (µm), H = 25 µm"),
              ("constant_ratio", "separation_um", "S (µm), H/S = 1/6"),
              ("cases", "h_over_s", "H/S (analysis.interface cases)")]
    present = [s for s in series if (df["series"] == s[0]).any()]
    if present:
        sh = df[df["series"] == "shapes"]
        user = df[df["series"] == "cases"]
        shapes_h = df[df["series"] == "shapes_H"]
        curves, curves_title = None, ""
        if shapes_h["shape"].nunique() > 1:  # medium demo: every shape along H at S = 150 µm
            curves, curves_title = shapes_h, "shapes along H, S = 150 µm"
        elif len(sh) == 0 and user["shape"].nunique() > 1:
            curves, curves_title = user, "cases by shape"
        ncol = len(present) + (1 if len(sh) or curves is not None else 0)
        fig, axes = plt.subplots(2, ncol, figsize=(4.0 * ncol, 6.6), squeeze=False)
        for k, (name, xcol, xlabel) in enumerate(present):
            d = df[df["series"] == name].sort_values(xcol)
            if d["shape"].nunique() > 1:  # one curve per panel: egg-box, else the first shape
                first = "egg-box" if (d["shape"] == "egg-box").any() else d["shape"].iloc[0]
                d = d[d["shape"] == first]
                xlabel = f"{xlabel}, {first}"
            ax = axes[0, k]
            ax.plot(d[xcol], d["max_primary_over_geometric"], "o-", label="max j, primary")
            ax.plot(d[xcol], d["max_kinetic_over_geometric"], "s-", label="max j, kinetics")
            finite = "pressure_model" in d and (d["pressure_model"] == "finite-slope").any()
            ax.plot(d[xcol], d["gain_over_flat"], "^-", lw=2,
                    label="critical / flat" + (" (finite-slope)" if finite else ""))
            if finite and "gain_over_flat_small_slope" in d:
                ax.plot(d[xcol], d["gain_over_flat_small_slope"], "v--", color="C2", lw=1.2,
                        label="critical / flat (small-slope)")
            ax.axhline(1.0, color="k", ls=":", lw=1, label="flat interface")
            ax.set_xlabel(xlabel)
            ax.set_ylabel("ratio to geometric / flat")
            ax.legend(fontsize=7)
            ax = axes[1, k]
            site = ("site_excess_pressure_mpa" if "site_excess_pressure_mpa" in d
                    else "max_compressive_excess_pressure_mpa")
            ax.plot(d[xcol], d[site], "kd-", label="at max-current site (criterion)")
            if ("site_excess_pressure_small_slope_mpa" in d and "pressure_model" in d
                    and (d["pressure_model"] == "finite-slope").any()):
                ax.plot(d[xcol], d["site_excess_pressure_small_slope_mpa"], "o:", color="C3",
                        label="site, small-slope model")
            ax.plot(d[xcol], d["max_excess_pressure_mpa"], "d--", color="0.5",
                    label="max |p - p_stack|")
            ax.set_xlabel(xlabel)
            ax.set_ylabel("excess pressure at 1 mA cm⁻² (MPa)")
            ax.legend(fontsize=7)
        ax = axes[0, -1]
        if curves is not None:  # every shape: critical current and area against H/S
            for k, (shape, d) in enumerate(curves.groupby("shape", sort=False)):
                d = d.sort_values("h_over_s")
                ax.plot(d["h_over_s"], d["gain_over_flat"], "o-", color=f"C{k}", label=shape)
                axes[1, -1].plot(d["h_over_s"], d["area_ratio"], "o-", color=f"C{k}", label=shape)
            ax.axhline(1.0, color="k", ls=":", lw=1)
            ax.set_ylabel("critical current / flat")
            ax.set_title(curves_title, fontsize=9)
            ax.legend(fontsize=7)
            axes[1, -1].set_ylabel("area ratio")
            axes[1, -1].set_xlabel("H/S")
            axes[1, -1].legend(fontsize=7)
            best = curves.loc[curves["critical_current_ma_cm2"].idxmax()]
            summary.append(("best contour" if curves is shapes_h else "best case",
                            f"{best['shape']} H{best['height_um']:g}S"
                            f"{best['separation_um']:g} ({best['gain_over_flat']:.3f} × flat)"))
        if len(sh) and curves is None:
            ax.bar(sh["shape"], sh["critical_current_ma_cm2"], color=["C0", "C1", "C2"][:len(sh)])
            if ("critical_current_extrapolated_ma_cm2" in sh
                    and sh["critical_current_extrapolated_ma_cm2"].notna().any()):
                ax.plot(sh["shape"], sh["critical_current_extrapolated_ma_cm2"], "k_", ms=22,
                        mew=2, label="grid-extrapolated pressure")
            i_flat = float(study.attrs.get("flat_critical_current_ma_cm2", 1.0))
            ax.axhline(i_flat, color="k", ls=":", label="flat")
            lo = 0.9 * float(sh["critical_current_ma_cm2"].min())
            hi = max(i_flat, float(sh["critical_current_ma_cm2"].max()))
            # headroom above the flat line for the legend (it must not hide the line)
            ax.set_ylim(lo, hi + 0.3 * (hi - lo))
            ax.legend(fontsize=7, loc="upper right")
            ax.set_ylabel("critical current (mA cm⁻²), flat = 1")
            ax.set_title("H25S150 by shape" + (
                " (finite-slope)" if "pressure_model" in sh
                and (sh["pressure_model"] == "finite-slope").all() else ""))
            axes[1, -1].bar(sh["shape"], sh["area_ratio"], color=["C0", "C1", "C2"][:len(sh)])
            axes[1, -1].set_ylim(1.0, 1.02 * float(sh["area_ratio"].max()))
            axes[1, -1].set_ylabel("area ratio")
        if len(sh):
            best = sh.loc[sh["critical_current_ma_cm2"].idxmax()]
            summary.append(("best shape at H25S150 (computed pressures)", f"{best['shape']} "
                            f"({best['critical_current_ma_cm2']:.3f} mA cm⁻² vs flat 1)"))
            xcol = "site_excess_pressure_extrapolated_mpa"
            if xcol in sh and sh[xcol].notna().any():
                ext = sh[sh[xcol].notna()]
                summary.append(("site pressure at H25S150, computed → grid-extrapolated",
                                "; ".join(f"{r['shape']} {r['site_excess_pressure_mpa']:.3f} → "
                                          f"{r[xcol]:.3f} MPa ({r['stokes_grid_drift']:+.0%})"
                                          for _, r in ext.iterrows())))
                # the shape order with the grid-extrapolated pyramid/frustum pressures (the
                # egg-box site pressure on 6 elements is 2 % over its limit: no extrapolation)
                ic = sh["critical_current_extrapolated_ma_cm2"].fillna(
                    sh["critical_current_ma_cm2"])
                order = sorted(zip(ic, sh["shape"]), reverse=True)
                spread = (order[0][0] - order[-1][0]) / order[0][0]
                summary.append(("shape order at H25S150 with grid-extrapolated pressures",
                                " > ".join(f"{s_} {v:.3f}" for v, s_ in order)
                                + f" mA cm⁻² (spread {spread:.1%}"
                                + ("; not resolved by this model" if spread < 0.01 else "")
                                + ")"))
        fig.tight_layout()
        a = study.attrs
        cap = ("Maximum local current over the geometric current without and with linearised "
               f"Butler-Volmer kinetics (R_ct = {float(a.get('r_ct_ohm_cm2', float('nan'))):.4g} Ohm cm2"
               + (f" from the {a['r_ct_source']}" if str(a.get("r_ct_source", "")).startswith("EIS")
                  else "") + ", sigma = "
               f"{a.get('conductivity_s_cm')} S/cm); creep excess pressure at 1 mA cm⁻² at the "
               "site of maximum current (compressive, enters the criterion) and its largest "
               "magnitude (Li creep: diffusional, grain size "
               f"{a.get('grain_size_um', float('nan')):g} µm, plus power law n = 6.56); "
               "critical current of the self-consistent dendrite criterion relative to a flat "
               "interface (dotted line = flat; p_c = "
               f"{a.get('critical_pressure_mpa', float('nan')):.1f} MPa from K_Ic = "
               f"{a.get('fracture_toughness_mpa_m05', float('nan')):g} MPa m^0.5 and a "
               f"{a.get('flaw_depth_um', float('nan')):g} µm flaw).  Trends only, as in "
               "Zhang et al. 2024, Figs. 2-4.  " + _model_sentence(df, a)
               + _maximum_sentence(df, a))
        blocks.append(figure(fig, cap))
        fin = df[df["pressure_model"] == "finite-slope"] if "pressure_model" in df else df.iloc[:0]
        ss = (df["gain_over_flat_small_slope"] if "gain_over_flat_small_slope" in df
              else df["gain_over_flat"])
        summary.append(("best contour gain over flat (small-slope pressure)", f"{ss.max():.3f} × flat"))
        if len(fin):
            summary.append(("best gain over flat (finite-slope pressure)",
                            f"{fin['gain_over_flat'].max():.3f} × flat"))
    kin = df[df["series"] == "kinetics"] if "series" in df else df.iloc[:0]
    if len(kin) and "kinetic_length_um" not in kin:
        kin = kin.assign(kinetic_length_um=kin["r_ct_ohm_cm2"]
                         * float(study.attrs.get("conductivity_s_cm", float("nan"))) * 1e4)
    if len(kin):
        h, s_ = _kinetics_part(kin, study.attrs)
        blocks.append(h)
        summary.extend(s_)
    main = df[df["series"] != "kinetics"] if "series" in df else df
    tab = _ordered(main.reset_index(drop=True))
    blocks.append(table(tab.rename(columns={c: _header(str(c)) for c in tab.columns}),
                        caption="Contour study (1 mA cm⁻²)"))
    if len(kin):
        cols = [c for c in ("r_ct_ohm_cm2", "kinetic_length_um", "height_um", "separation_um",
                            "h_over_s", "area_ratio", "max_kinetic_over_geometric",
                            "site_excess_pressure_mpa", "critical_current_ma_cm2",
                            "gain_over_flat", "gain_over_flat_small_slope") if c in kin]
        blocks.append(table(kin[cols].reset_index(drop=True),
                            caption="Kinetics study (the cases at each charge-transfer resistance)"))
    if gc is not None:
        blocks.append(table(_ordered(gc.to_dataframe().reset_index(drop=True)),
                            caption="Grid convergence of the maximum local current and of "
                                    "the creep pressures (H25S150; egg-box primary and kinetic, "
                                    "pyramid and frustum kinetic)"))
    if fields is not None:
        shapes = [str(s) for s in fields["shape"].values]
        fig, axes = plt.subplots(2, len(shapes), figsize=(3.9 * len(shapes), 6.6), squeeze=False,
                                 layout="constrained")
        x = fields["x_um"].values
        for i, kind in enumerate(("primary", "kinetic")):
            for k, s in enumerate(shapes):
                ax = axes[i, k]
                im = ax.imshow(fields["current_ma_cm2"].sel(shape=s, kinetics=kind).values.T,
                               origin="lower", cmap="viridis",
                               extent=(x[0], x[-1], x[0], x[-1]))
                ax.set_title(f"{s}, {kind}: max "
                             f"{float(fields['current_ma_cm2'].sel(shape=s, kinetics=kind).max()):.2f}",
                             fontsize=9)
                ax.set_xlabel("x (µm)", fontsize=8)
                ax.set_ylabel("y (µm)", fontsize=8)
                ax.tick_params(labelsize=7)
                cb = fig.colorbar(im, ax=ax, shrink=0.8, pad=0.02)
                cb.set_label("j (mA cm⁻²)", fontsize=8)
                cb.ax.tick_params(labelsize=7)
        blocks.append(figure(fig, "Local normal current density on one periodic cell "
                                  "(H = 25 µm, S = 150 µm, 1 mA cm⁻² geometric); highest at the "
                                  "Li protrusions (Zhang et al. 2024, doi:10.1039/d3ee03322h, "
                                  "Fig. 1e)."))
    return macro("contour", blocks, template="interface.html.j2"), tuple(summary)


def _stress_sentence(df, a):
    """Which interface stress enters the criterion, the stack pressure and i_g0's source."""
    stress = a.get("stress", df["stress"].iloc[0] if "stress" in df else "mean")
    text = ("Interface stress: the normal traction of the creeping Li on the electrolyte "
            "(the Li mean stress, which also carries the sideways convergence of the plated "
            "Li, is the labelled alternative: its site value and gain are in the table).  "
            if stress == "normal" else
            "Interface stress: the Li mean stress (the alternative to the normal traction on "
            "the electrolyte, whose site value and gain are in the table).  ")
    if "site_normal_traction_mpa" in df and "site_mean_stress_mpa" in df:
        ref = df[(df["height_um"] == 25) & (df["separation_um"] == 150) & (df["shape"] == "egg-box")]
        if len(ref):
            r = ref.iloc[0]
            text += (f"At H25S150 the site normal traction is {r['site_normal_traction_mpa']:.2f} "
                     f"MPa against a mean stress of {r['site_mean_stress_mpa']:.2f} MPa.  ")
    ps = a.get("stack_pressure_mpa")
    if ps is not None:
        text += (f"Stack pressure {float(ps):g} MPa in the fracture criterion (lateral stress "
                 f"ratio {float(a.get('lateral_stress_ratio', 0.0)):g}); i_g0 = "
                 f"{float(a.get('flat_critical_current_ma_cm2', 1.0)):g} mA cm⁻² from "
                 f"{a.get('flat_critical_current_source', 'the default')}.  ")
    return text


def _model_sentence(df, a):
    """The caption's account of the pressure model and its resolution, for what was run."""
    finite = "pressure_model" in df and (df["pressure_model"] == "finite-slope").any()
    if not finite:
        return ("Pressure model: small-slope (spectral half-space Stokes flow of the creeping "
                "Li, one secant viscosity).  " + _stress_sentence(df, a))
    text = ("Pressure model: finite-slope (Stokes flow of the creeping Li in the true cell, "
            "Q2-Q1, local secant viscosity on "
            f"{a.get('stokes_n_xy', '?')} elements per quarter-cell side for the egg-box, "
            + _egg_box_grid_clause(a.get("stokes_n_xy"))
            + "; the red dotted line is the small-slope site "
            "pressure, which saturates with H/S while the finite-slope one keeps rising).  ")
    if (df["series"] == "shapes").any() or df["shape"].isin(["pyramid", "frustum"]).any():
        text += ("Pyramids and frustums: local viscosity on "
                 f"{a.get('stokes_n_xy_shapes', '?')} elements, meshes graded to their 2 um "
                 "ridge rounding with a 0.25 um layer at the interface (layers converged).  "
                 + _grid_drift_sentence(df))
    return text + _stress_sentence(df, a)


def _grid_drift_sentence(df):
    """The computed and grid-extrapolated pyramid/frustum site pressures, from the table."""
    col = "site_excess_pressure_extrapolated_mpa"
    if col not in df or not df[col].notna().any():
        return ("Their site pressures are not grid-converged laterally (no extrapolation for "
                "this grid or stress; benchmarks/bench_stokes_convergence.py).  ")
    d = df[df[col].notna()]
    ref = d[(d["height_um"] == 25) & (d["separation_um"] == 150)]
    d = (ref if len(ref) else d).drop_duplicates("shape")
    parts = []
    for _, r in d.iterrows():
        parts.append(f"{r['shape']} {r['site_excess_pressure_mpa']:.3f} → {r[col]:.3f} MPa "
                     f"(computed {r['stokes_grid_drift']:+.0%} over the limit, extrapolation "
                     f"spread {r['stokes_grid_extrapolation_spread']:.1%}; critical current "
                     f"{r['critical_current_ma_cm2']:.3f} → "
                     f"{r['critical_current_extrapolated_ma_cm2']:.3f} mA cm⁻²)")
    where = (f"H{d['height_um'].iloc[0]:g}S{d['separation_um'].iloc[0]:g}")
    return ("Laterally their site normal traction still falls under refinement (6 → 12 "
            "elements would cost about 9 times the CPU); the table gives the computed value and "
            "beside it the value extrapolated to the Richardson limit of 6-12 elements (the "
            "ratio measured at H25S150 by benchmarks/bench_stokes_convergence.py, an estimate "
            "at other contours), and the critical current with the extrapolated pressure.  At "
            f"{where}: " + "; ".join(parts) + ".  The egg-box site normal traction is "
            "grid-converged from 6 elements (0.228 MPa on 6, 8, 10 and 12 elements with 8 "
            "layers to 0.4 %), so it is not extrapolated.  ")


def _egg_box_grid_clause(n_xy):
    """How far the egg-box site pressure on the study's ``n_xy`` x default-layer grid lies
    above its grid limit (measured at H25S150, :data:`ssbscope.interface.stokes.EGG_BOX_GRID`)."""
    from ssbscope.interface.stokes import EGG_BOX_GRID as g

    lim = g["limit_mpa"]
    try:
        k = g["n_xy"].index(int(n_xy))
    except (TypeError, ValueError):
        return ("site pressure at H25S150 "
                + ", ".join(f"{(p / lim - 1):+.0%} on {n} x {z}" for n, z, p in
                            zip(g["n_xy"], g["n_z"], g["site_mpa"]))
                + f" elements over its grid limit {lim:g} MPa")
    p = g["site_mpa"][k]
    return (f"{g['n_z'][k]} layers: site pressure at H25S150 {p:.3f} MPa, {p / lim - 1:+.0%} "
            f"over its grid limit {lim:g} MPa, not extrapolated")


def _kinetics_axis(kin):
    """(column, axis label, summary label) of the kinetics study: H at one S, else H/S."""
    sep = kin["separation_um"].unique()
    if len(sep) == 1:
        return "height_um", f"H (µm), S = {sep[0]:g} µm", f"H (S = {sep[0]:g} µm)"
    return "h_over_s", "H/S", "H/S"


def _maxima(kin, x="height_um"):
    from ssbscope.interface import gain_maximum

    return gain_maximum(kin, x=x, y="gain_over_flat", by="r_ct_ohm_cm2")


def _maximum_sentence(df, attrs):
    """What the figure shows about the maximum of Zhang et al. 2024, Figs. 3b,e, from the data."""
    kin = df[df["series"] == "kinetics"] if "series" in df else df.iloc[:0]
    rct = float(attrs.get("r_ct_ohm_cm2", float("nan")))
    text = ""
    d = df[df["series"] == "constant_S"] if "series" in df else df.iloc[:0]
    if len(d) > 2:
        m = _maxima(d.assign(r_ct_ohm_cm2=rct)).iloc[0]
        lo, hi = float(d["height_um"].min()), float(d["height_um"].max())
        text = ("Zhang et al. 2024, Figs. 3b,e show the critical current passing through a maximum against "
                f"H/S.  At R_ct = {rct:g} Ohm cm2 the {d['pressure_model'].iloc[0]} critical "
                "current " + (f"peaks inside H = {lo:g}-{hi:g} µm at H = {m['x_at_max']:.0f} µm. "
                              if m["interior"] else
                              f"has no maximum inside H = {lo:g}-{hi:g} µm at S = 150 µm. "))
    if len(kin):
        text += ("The kinetics study below shows how the maximum depends on the kinetic "
                 "length sigma R_ct.")
    return text


def _kinetics_part(kin, attrs):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    xcol, xlabel, xname = _kinetics_axis(kin)
    mx = _maxima(kin, xcol)
    fig, axes = plt.subplots(1, 3, figsize=(13.0, 3.9))
    for k, (rct, d) in enumerate(kin.groupby("r_ct_ohm_cm2", sort=True)):
        d = d.sort_values(xcol)
        lk = float(d["kinetic_length_um"].iloc[0])
        lab = f"R_ct {rct:g} Ohm cm2 (sigma R_ct {lk / 1000:.2g} mm)"
        axes[0].plot(d[xcol], d["gain_over_flat"], "o-", color=f"C{k}", label=lab)
        m = mx[mx["r_ct_ohm_cm2"] == rct].iloc[0]
        if m["interior"]:
            axes[0].plot([m["x_at_max"]], [m["y_at_max"]], "*", ms=14, color=f"C{k}",
                         markeredgecolor="k")
        axes[1].plot(d[xcol], d["max_kinetic_over_geometric"], "s-", color=f"C{k}", label=lab)
        axes[1].plot(d[xcol], 1.0 / d["area_ratio"], ":", color="0.4",
                     label="1 / area ratio" if k == 0 else None)
        axes[2].plot(d[xcol], d["site_excess_pressure_mpa"], "d-", color=f"C{k}", label=lab)
    axes[0].axhline(1.0, color="k", ls=":", lw=1)
    axes[0].set_ylabel("critical current / flat")
    axes[1].set_ylabel("max local / geometric current")
    axes[2].set_ylabel("site excess pressure at 1 mA cm⁻² (MPa)")
    for ax in axes:
        ax.set_xlabel(xlabel)
        ax.legend(fontsize=7)
    axes[0].set_title("critical current (* = maximum)", fontsize=9)
    fig.tight_layout()
    parts = []
    for _, m in mx.iterrows():
        sep = float(kin["separation_um"].iloc[0])
        at = ((lambda v: f"H = {v:.0f} µm (H/S = {v / sep:.2f})") if xcol == "height_um"
              else (lambda v: f"H/S = {v:.2f}"))
        if m["interior"]:
            parts.append(f"R_ct {m['r_ct_ohm_cm2']:g}: maximum at {at(m['x_at_max'])}, "
                         f"{m['y_at_max']:.3f} × flat")
        elif m["trend"] == "falling":
            parts.append(f"R_ct {m['r_ct_ohm_cm2']:g}: no maximum, falls with "
                         + ("H" if xcol == "height_um" else "H/S"))
        elif m["x_at_max"] == float(kin[xcol].max()):
            parts.append(f"R_ct {m['r_ct_ohm_cm2']:g}: still rising at {at(m['x_at_max'])} "
                         f"({m['y_at_max']:.3f} × flat)")
        else:
            parts.append(f"R_ct {m['r_ct_ohm_cm2']:g}: no maximum inside the sweep, highest at "
                         f"{at(m['x_at_max'])} ({m['y_at_max']:.3f} × flat)")
    finite = kin["pressure_model"].iloc[0] == "finite-slope"
    cap = (f"Kinetics (Wagner-number) study, {kin['shape'].iloc[0]} against {xlabel}, "
           f"{kin['pressure_model'].iloc[0]} creep pressure"
           + (f" ({attrs.get('stokes_n_xy', '?')} elements)" if finite else "")
           + ", all else as above. "
           "The area benefit (max current below the geometric one, towards 1 / area ratio) "
           "grows with the kinetic length sigma R_ct; the creep pressure at the Li protrusion "
           "rises with H nearly independently of it.  With sigma R_ct comparable to S the "
           "pressure wins and the critical current falls with H; with longer kinetic lengths "
           "it dips (pressure linear in H, area benefit quadratic) and then rises to a "
           "maximum, the trend of Zhang et al. 2024, Figs. 3b and 4a.  "
           + "; ".join(parts) + ".")
    return figure(fig, cap), ((f"critical-current maximum vs {xname}",
                               "; ".join(parts)),)

def section(store) -> Section | None:
    """The interfaces section, or None when the store holds no contour study.

    Parameters
    ----------
    store : ssbscope.store.Store

    Returns
    -------
    ssbscope.report.Section or None
    """
    names = set(store.names())
    topo = sorted(n for n in names if n.startswith("interface/") and n.endswith("/surface_current"))
    if ("interface/contour_study" not in names and not topo
            and not {"interface/gap_creep", "interface/phase_field"} & names):
        return None
    parts, summary = [], []  # HTML of each part (safe), in the section's order
    if "interface/contour_study" in names:
        gc = store.read("interface/grid_convergence").load() \
            if "interface/grid_convergence" in names else None
        sf = store.read("interface/surface_fields").load() \
            if "interface/surface_fields" in names else None
        study = store.read("interface/contour_study").load()
        h, summary = _contour_part(study, gc, sf)
        summary = list(summary)
        parts += [h, _parameters_part(study.attrs)]
    for name in topo:
        h, sm = _topography_part(store, name)
        parts.append(h)
        summary += sm
    if "interface/gap_creep" in names:
        h, sm = _gap_creep_part(store.read("interface/gap_creep").load())
        parts.append(h)
        summary += sm
    if "interface/phase_field" in names:
        h, sm = _phase_field_part(store.read("interface/phase_field").load())
        parts.append(h)
        summary += sm
    return Section("Interfaces", render_section("interface.html.j2", parts=parts), tuple(summary))


def _phase_field_part(ds):
    """Li growth, peak pressure and leakage current of the phase-field runs (Cao et al. 2023, Fig. 4)."""
    import matplotlib.pyplot as plt
    import numpy as np

    ps = ds["pressure_mpa"].values
    t = ds["time_s"].values
    n = len(ps)
    fig = plt.figure(figsize=(10.0, 3.2 + 2.2 * ((n + 2) // 3)), layout="constrained")
    gs = fig.add_gridspec(1 + (n + 2) // 3, 3)
    axes = [fig.add_subplot(gs[0, k]) for k in range(3)]
    for i, p in enumerate(ps):
        lab = f"{p:g} MPa"
        axes[0].plot(t, ds["li_area_fraction"].values[i], label=lab)
        axes[1].plot(t, ds["peak_stress_mpa"].values[i], label=lab)
        axes[2].plot(t, ds["leakage_current_a"].values[i], label=lab)
    for ax, yl in zip(axes, ("Li area fraction of the electrolyte", "peak pressure in Li (MPa)",
                             "leakage current (A)")):
        ax.set_xlabel("time (s)")
        ax.set_ylabel(yl)
    axes[0].legend(fontsize=8, loc="lower right")
    x, y = ds["x_um"].values, ds["y_um"].values
    for i, p in enumerate(ps):
        ax = fig.add_subplot(gs[1 + i // 3, i % 3])
        ax.imshow(ds["xi_final"].values[i], extent=[x[0], x[-1], y[-1], y[0]], cmap="viridis",
                  vmin=0, vmax=1, aspect="equal")
        if "rho_final" in ds:  # pores (rho < 0) outlined
            ax.contour(x, y, ds["rho_final"].values[i], levels=[0.0], colors="w", linewidths=0.6)
        ax.set_title(f"Li (yellow) and pores (white) at the end, {p:g} MPa", fontsize=9)
        ax.set_xlabel("x (µm)")
        ax.set_ylabel("y (µm)")
    end = ds["li_area_fraction"].values[:, -1]
    start = ds["li_area_fraction"].values[:, 0]
    growth = ", ".join(f"{p:g} MPa: +{e - s_:.4f}" for p, s_, e in zip(ps, start, end))
    peak = ", ".join(f"{p:g} MPa: {0.0 if abs(v) < 0.05 else v:.1f}"
                     for p, v in zip(ps, ds["peak_stress_mpa"].values[:, -1]))
    conn = bool(np.asarray(ds["connected"].values).any())
    cap = (f"Phase-field growth of Li from the anode into the porous Li6PS5Cl at each external "
           f"pressure (after Cao et al. 2023, Eqs. 2-3; preset '{ds.attrs.get('size')}', literature "
           f"parameters, none tuned to the paper's figure).  Growth of the Li area fraction: "
           f"{growth}; peak pressure in Li at the end (MPa): {peak}.  "
           + ("A dendrite connects the electrodes in at least one run.  " if conn else
              "No dendrite connects the electrodes in this time, so the paper's 0 MPa leakage "
              "jump does not appear: a short at ≈ 400 s needs a tip advancing 1.85 µm/s "
              "(1.36 A cm⁻² by Faraday's law), four times what a 5 µm tip can draw through "
              "2.5 mS cm⁻¹ Li6PS5Cl at −0.35 V even without kinetic loss; and the one-cell "
              "diffuse interface's curvature motion retracts the protrusions at first "
              "(ssbscope.interface.phase_field docstring).  ")
           + ("The curvature motion of the diffuse interface is cancelled (counter term of Sun "
              "and Beckermann 2007): the tips grow by plating only; the thin protrusions' "
              "concave corners still fill without current (Faraday's law to ~20 %).  "
              if ds.attrs.get("curvature_counter_term") else "")
           + ("With the plating eigenstrain (the molar volume of Li where it replaces solid "
              "electrolyte) and elastic Li the pressure in Li is GPa-level, three orders above "
              "the paper's ≈ 2 MPa at 0 MPa, and its Omega P/F shift rivals the applied voltage: "
              "read these runs as a bound, not as the paper's Fig. 4.  "
              if ds.attrs.get("plating_eigenstrain") else
              "No eigenstrain of the plated Li enters the stress (the peak pressure is that of "
              "the stack pressure on the stiffness map).  The model reproduces the order of "
              "growth with pressure and the rise of the peak pressure with the external "
              "pressure, but pressure suppresses growth only weakly (the Omega P/F shift is "
              "~1 mV against ~0.1 V of overpotential)."))
    from ssbscope.interface.phase_field import parameter_table as pf_parameters

    tab = table(pf_parameters(), caption=(
        "Phase-field parameters and their sources.  Cao et al. 2023 list theirs in a "
        "supplement (Table S2) that is not available to this project: the values below come "
        "from the paper's text, the cited literature or stated assumptions, none tuned to "
        "their Fig. 4."))
    return figure(fig, cap) + tab, [("phase field: Li growth by pressure", growth)]


def _gap_creep_parameters(a):
    """The gap-creep model's inputs as run (dataset attributes) with their sources."""
    import pandas as pd

    from ssbscope.interface.creep import (LI_CREEP_EXPONENT, LI_CREEP_REFERENCE_STRAIN_RATE_1_S,
                                          LI_CREEP_REFERENCE_STRESS_MPA)
    from ssbscope.interface.gap_creep import GAP_CREEP_DEFAULTS

    masias = "Masias et al., J. Mater. Sci. 54, 2585 (2019), doi:10.1007/s10853-018-2971-3"
    rows = {**{k: v for k, v in GAP_CREEP_DEFAULTS.items()},
            "stress_exponent": (LI_CREEP_EXPONENT, "1", masias),
            "reference_stress_mpa": (LI_CREEP_REFERENCE_STRESS_MPA, "MPa", masias),
            "reference_strain_rate_1_s": (LI_CREEP_REFERENCE_STRAIN_RATE_1_S, "1/s", masias)}
    out = []
    for key, (default, unit, source) in rows.items():
        if key not in a:
            continue
        v = float(a[key])
        given = abs(v - float(default)) > 1e-9 * max(1.0, abs(float(default)))
        out.append((key, f"{v:g}", unit,
                    f"analysis.interface.gap_creep.{key} (given; default {float(default):g})"
                    if given else source))
    return pd.DataFrame(out, columns=["parameter", "value", "unit", "source"])


def _gap_creep_part(ds):
    """Pressure and gap volume of the reduced gap-creep model (Cao et al. 2023, Fig. 6), with
    the neutron band's Li volume when measured."""
    import matplotlib.pyplot as plt
    import numpy as np

    a = ds.attrs
    t_h = ds["time_s"].values / 3600.0
    fig, (ax0, ax1) = plt.subplots(1, 2, figsize=(9.0, 3.4), layout="constrained")
    ax0.plot(t_h, ds["pressure_mpa"].values, color="#1f3b73")
    ax0.set_xlabel("time (h)")
    ax0.set_ylabel("mean Li pressure (MPa)")
    ax1.plot(t_h, ds["plated_volume_um3"].values * 1e-9, label="plated (Faraday)", color="#888")
    ax1.plot(t_h, (ds["gap_volume_um3"].values - ds["gap_volume_um3"].values[0]) * 1e-9,
             label="crept into the gap", color="#c0392b")
    has_n = "measured_gap_volume_um3" in ds
    if has_n:
        tn = ds["neutron_time_s"].values / 3600.0
        v0 = float(np.interp(tn[0] * 3600.0, ds["time_s"].values, ds["gap_volume_um3"].values))
        ax1.errorbar(tn, (ds["measured_gap_volume_um3"].values + v0
                          - ds["gap_volume_um3"].values[0]) * 1e-9,
                     yerr=ds["measured_gap_volume_sigma_um3"].values * 1e-9, fmt="o", ms=3,
                     color="#1f3b73", label=f"neutron band {a.get('neutron_band')} (de-projected)")
    ax1.set_xlabel("time (h)")
    ax1.set_ylabel("Li volume (mm³)")
    ax1.legend(fontsize=8, loc="upper left")
    frac = float(ds["gap_fraction"].values[-1])
    cap = (f"Li creeping into the gap beside the pellet while it plates at "
           f"{float(a.get('current_ma_cm2', float('nan'))):g} mA cm⁻² (reduced model of Cao et al. "
           f"2023, Fig. 6: power-law squeeze flow of a {float(a.get('thickness_um', 0)):g} µm foil "
           f"of radius {float(a.get('radius_um', 0)):g} µm into a {float(a.get('gap_um', 0)):g} µm "
           f"gap, framework stiffness {float(a.get('frame_stiffness_mpa_um', 0)):g} MPa µm⁻¹, "
           f"stack pressure {float(a.get('stack_pressure_mpa', 0)):g} MPa).  At the end "
           f"{100 * frac:.0f} % of the plated Li is in the gap and the pressure is "
           f"{float(ds['pressure_mpa'].values[-1]):.1f} MPa.  Foil thickness, gap width and frame "
           "stiffness are assumptions (the paper's values are in a supplement not available).")
    summary = [("gap creep: plated Li in the gap", f"{100 * frac:.0f} %")]
    if has_n:
        cap += (f"  Points: the Li gained in band {a.get('neutron_band')} of the neutron series "
                f"{a.get('neutron_label')!r} (rows × columns {a.get('neutron_band_roi_px')} of "
                f"region {a.get('neutron_region')}; Beer–Lambert with the Li cross-section of "
                "Sears 1992), divided by the share of the gap annulus its columns see "
                f"({float(a.get('neutron_projected_fraction', float('nan'))):.3f}, cell axis at "
                f"{float(a.get('neutron_axis_x_um', float('nan'))):g} µm), from the first bin.  "
                f"Measured / model: {float(a.get('volume_ratio', float('nan'))):.2f} "
                f"(least squares over the bins; at the end "
                f"{float(a.get('final_volume_ratio', float('nan'))):.2f}), correlation "
                f"{float(a.get('volume_correlation', float('nan'))):.3f}.")
        summary.append((f"gap creep vs neutron {a.get('neutron_band')}",
                        f"measured {float(a.get('measured_final_gap_volume_um3', float('nan'))) * 1e-9:.3f}"
                        f" mm³ vs model {float(a.get('model_final_gap_volume_um3', float('nan'))) * 1e-9:.3f}"
                        f" mm³ (ratio {float(a.get('volume_ratio', float('nan'))):.2f})"))
    elif a.get("neutron_note"):
        cap += f"  Neutron comparison: {a.get('neutron_note')}."
    tab = table(_gap_creep_parameters(a), caption=(
        "Gap-creep parameters as run and their sources (Cao et al. 2023 give their "
        "finite-element model's parameters in a supplement that is not available)."))
    return figure(fig, cap) + tab, summary


def _parameters_part(a):
    """The coupling check and the parameter table with sources."""
    from ssbscope.interface.parameters import parameter_table

    coupling = None
    if "monroe_newman_max_current_change" in a:
        coupling = {"case": str(a.get("monroe_newman_case")),
                    "current_pct": f"{100 * float(a['monroe_newman_max_current_change']):.2f}",
                    "site_pct": f"{100 * float(a['monroe_newman_site_pressure_change']):.2f}",
                    "converged": bool(a.get("monroe_newman_converged", True))}
    tab = table(parameter_table(), caption=(
        "Model parameters and their sources.  Zhang et al. 2024 give theirs in a supplement "
        "that is not available to this project: nothing here is tuned to their figures."))
    return macro("parameters", coupling, tab, template="interface.html.j2")


def _topography_part(store, name):
    """Predicted current on the measured Li surface beside the measured current-density map."""
    import matplotlib.pyplot as plt
    import numpy as np
    import pandas as pd

    ds = store.read(name).load()
    a = ds.attrs
    series = a.get("series", name.split("/")[1])
    maps_key = f"tomo/{series}/maps"
    cd_key = f"transport/{series}/current_density"
    names = set(store.names())
    x, y = ds["x"].values, ds["y"].values
    ext = [float(x[0]), float(x[-1]), float(y[-1]), float(y[0])]
    n_int = int(ds.sizes.get("interval", 0))
    corr = ds["correlation"].values if "correlation" in ds else np.array([])
    ks = [k for k in range(n_int) if np.isfinite(corr[k])]
    k = ks[-1] if ks else int(np.nanargmax(ds["area_ratio"].values)) \
        if np.isfinite(ds["area_ratio"].values).any() else 0
    panels = []
    if maps_key in names:
        mp = store.read(maps_key)
        h = np.asarray(mp["height_um"].sel(interface=a.get("interface")).isel(time_s=k).values)
        panels.append(("measured Li surface height (µm)", h, "viridis"))
    panels.append(("predicted local current (mA cm⁻²)", ds["current_ma_cm2"].isel(time_s=k).values,
                   "magma"))
    if "excess_pressure_mpa" in ds:
        panels.append((f"creep {a.get('stress', 'normal')} stress − stack (MPa)",
                       ds["excess_pressure_mpa"].isel(time_s=k).values, "coolwarm"))
    if ks and cd_key in names:
        meas = np.abs(store.read(cd_key)["current_density_ma_cm2"].isel(interval=k).values)
        sm_um = float(a.get("smoothing_um", 0.0) or 0.0)
        title = "measured |current density| (mA cm⁻²)"
        if sm_um > 0:  # as compared: the same smoothing as the comparison
            from ssbscope.interface.topography import smooth_map

            meas = smooth_map(meas, (float(abs(y[1] - y[0])), float(abs(x[1] - x[0]))), sm_um)
            title = f"measured |j|, smoothed {sm_um:g} µm (mA cm⁻²)"
        panels.append((title, meas, "magma"))
    fig, axes = plt.subplots(1, len(panels), figsize=(3.6 * len(panels), 3.4),
                             layout="constrained", squeeze=False)
    for ax, (title, img, cmap) in zip(axes[0], panels):
        lim = {}
        if cmap == "coolwarm" and np.isfinite(img).any():  # signed: centred on zero
            v = float(np.nanmax(np.abs(img))) or 1.0
            lim = {"vmin": -v, "vmax": v}
        im = ax.imshow(img, extent=ext, cmap=cmap, **lim)
        ax.set_title(title, fontsize=9)
        ax.set_xlabel("x (µm)")
        ax.set_ylabel("y (µm)")
        fig.colorbar(im, ax=ax, shrink=0.8)
    t = float(ds["time_s"].values[k])
    # the heights' smoothing of this scan's solve: stored per scan (fitted per map when
    # smooth_um is not given), one value in attrs in stores before it
    sm_h = (float(ds["height_smoothing_um"].values[k]) if "height_smoothing_um" in ds
            else float(a.get("smooth_um", 0) or 0))
    sm_src = ("" if "height_smoothing_um" not in ds or np.isfinite(float(a.get("smooth_um", 0)))
              else ", fitted on the map: the least expected error of the predicted current")
    model = a.get("model", "current distribution")
    rct = a.get("r_ct_ohm_cm2")
    sig = a.get("conductivity_s_cm", float("nan"))
    sig_txt = f"σ {sig:g} S cm⁻¹"
    if str(a.get("conductivity_model", "")).startswith("from_ct") and "conductivity_s_cm" in ds:
        sk = float(ds["conductivity_s_cm"].values[k])
        eps = float(ds["electrolyte_volume_fraction"].values[k])
        tau = float(ds["electrolyte_tau"].values[k])
        src = str(ds["conductivity_source"].values[k]).split(":")[0]
        sig_txt = (f"σ {sk:.3g} S cm⁻¹ = {sig:g} S cm⁻¹ × ε/τ with ε {eps:.3f}, τ {tau:.3f} of "
                   f"the electrolyte phase from {src}")
    cap = (f"Series {series}, interface {a.get('interface')}: {model}, on the surface CT "
           f"measured at t = {t:g} s"
           + (f" (R_ct {rct:g} Ω cm², " if rct == rct else " (")
           + f"{sig_txt}, electrolyte "
           f"{a.get('thickness_um', float('nan')):g} µm, heights smoothed over "
           f"{sm_h:.3g} µm{sm_src}).  Sides: mirror planes through the outermost pixels "
           "(the map as one cell of its mirror images).  The creep stress is the small-slope "
           "half-space model on the mirrored map (a trend on steep surfaces).")
    if ks:
        cap += ("  Right: the current density measured from the Li thickness change between "
                "this scan and the next."
                + ("  The table's prediction is solved again on the mid-interval surface "
                   "(mean of the two scans' heights), whose height noise the measured map "
                   "does not share when both scans are equally noisy."
                   if str(a.get("prediction_height", "")) == "mid_interval" else
                   "  The table's prediction is solved again on the noise-weighted surface "
                   "(the two scans' heights weighted by the inverse of their fitted noise "
                   "variance), whose height noise the measured map does not share."
                   if str(a.get("prediction_height", "")) == "noise_weighted" else ""))
    blocks, summary = [figure(fig, cap)], []
    if n_int and "verdict" in ds:
        h2, sm2 = _hot_spot_table(ds, series, ks)
        blocks.append(h2)
        summary += sm2
    elif n_int:  # a store written before the resolvability check
        df = pd.DataFrame({
            "interval": np.arange(n_int),
            "correlation": ds["correlation"].values,
            "top-decile overlap": ds["overlap"].values,
            "baseline overlap": ds["baseline_overlap"].values,
            "baseline sd": ds["baseline_overlap_std"].values,
            "overlap z": ds["overlap_z"].values,
            "baseline correlation": ds["baseline_correlation"].values})
        blocks.append(table(df, caption=(
            "Predicted hot spots against the measured current-density map of each interval "
            "(scan k to k+1): Pearson correlation, the fraction of the predicted top-decile "
            "region inside the measured one, and the same for randomly shifted and flipped "
            "copies of the measured map (the baseline keeps the map's texture).  NaN: no Li "
            "surface in the first scan of the interval.  This store predates the check of "
            "whether the measured map can resolve the predicted contrast: rerun to get it.")))
    return macro("blocks", blocks), summary


def _hot_spot_table(ds, series, ks):
    """The hot-spot comparison per interval: can it discriminate, and only then its skill."""
    import numpy as np
    import pandas as pd

    from ssbscope.interface.topography import SKILL_BEYOND_HEIGHT_P

    a = ds.attrs
    n_int = int(ds.sizes["interval"])
    verdict = [str(v) for v in ds["verdict"].values]
    sm = float(a.get("smoothing_um", 0.0) or 0.0)
    cond = "partial_correlation" in ds  # stores before the height-conditioned test lack it
    res_txt = f"maps smoothed by a Gaussian of {sm:g} µm" if sm > 0 else "pixel maps (no smoothing)"
    # stores before prediction_height predicted (and conditioned) on scan k's surface
    ph = str(a.get("prediction_height", "scan_start"))
    mid = ph in ("mid_interval", "noise_weighted")
    surf = {"mid_interval": "the mid-interval surface (h_k + h_k+1)/2",
            "noise_weighted": "the noise-weighted surface w h_k + (1 - w) h_k+1 (w = "
                              "var n_k+1 / (var n_k + var n_k+1), each scan's height noise "
                              "fitted on its own map)"}.get(ph, "scan k's surface")

    def pct(v):
        return f"{100 * float(v):.2g} %" if np.isfinite(v) else "—"

    def skill(v, z, k):
        if not np.isfinite(v):
            return "—"
        txt = f"{float(v):.2f} (z {float(z):.1f})"
        return txt if verdict[k] == "resolvable" else f"[{txt}]"

    rows = []
    for k in range(n_int):
        rows.append({
            "interval": k,
            "verdict": verdict[k],
            "predicted contrast (std/mean)": pct(ds["predicted_contrast"].values[k]),
            "measured noise floor": pct(ds["measured_noise_floor"].values[k]),
            "contrast / noise": (f"{float(ds['contrast_to_noise'].values[k]):.2g}"
                                 if np.isfinite(ds["contrast_to_noise"].values[k]) else "—"),
            "correlation (z)": skill(ds["correlation"].values[k], ds["correlation_z"].values[k], k),
            "top-decile overlap (z)": skill(ds["overlap"].values[k], ds["overlap_z"].values[k], k),
            "baseline overlap ± sd": (f"{float(ds['baseline_overlap'].values[k]):.2f} ± "
                                      f"{float(ds['baseline_overlap_std'].values[k]):.2f}"
                                      if np.isfinite(ds["baseline_overlap"].values[k]) else "—")})
        if cond:
            rows[-1].update({
                "beyond height": str(ds["skill_beyond_height"].values[k]),
                "partial correlation | height (z, p)": (
                    skill(ds["partial_correlation"].values[k],
                          ds["partial_correlation_z"].values[k], k)
                    + (f" p {float(ds['partial_correlation_p'].values[k]):.3f}"
                       if np.isfinite(ds["partial_correlation_p"].values[k]) else "")),
                "overlap vs height-conditioned baseline (z)": (
                    skill(ds["overlap"].values[k], ds["conditional_overlap_z"].values[k], k)
                    + (f" vs {float(ds['conditional_baseline_overlap'].values[k]):.2f} ± "
                       f"{float(ds['conditional_baseline_overlap_std'].values[k]):.2f}"
                       if np.isfinite(ds["conditional_baseline_overlap"].values[k]) else "")),
                "height-only overlap": (f"{float(ds['height_only_overlap'].values[k]):.2f}"
                                        if np.isfinite(ds["height_only_overlap"].values[k])
                                        else "—")})
    # the caption says what the table is; the notes below it, in short parts, what its
    # columns are, how skill is decided, the height test and the caveats (hot_spot_notes)
    html = table(pd.DataFrame(rows), caption=(
        "Predicted hot spots against the measured current-density map, per interval (scan k "
        "to k+1): can the map test the prediction, and if so, how well does it match?"))
    shown = [
        f"Prediction on {surf}; {res_txt}.",
        "Predicted contrast: std / mean of the predicted current per projected area (what "
        "a thickness change measures).",
        "Measured noise floor: the measured map's noise std over its mean, spatial "
        "correlation included (white + Gaussian-correlated noise fitted to the map's robust "
        "semivariogram, carried through the smoothing; noise correlated over ~2 pixels or "
        "more counts as signal).",
        "Correlation: Pearson's, of the two maps.  Top-decile overlap: the fraction of the "
        "predicted top-decile region inside the measured one.",
        "No comparison, —: the interval's two maps could not be compared (no Li surface in "
        "its first scan, or too few valid pixels; the dataset's notes say which)."]
    decided = [
        "Resolvable: the predicted contrast exceeds the measured noise floor.  Only then do "
        "the correlation and the overlap measure the model's skill.",
        "z: in standard deviations of a baseline, randomly shifted and flipped copies of the "
        "measured map (they keep its texture).",
        "[In brackets]: not resolvable.  The map cannot show the predicted contrast, so these "
        "numbers are not skill; they follow whatever the two maps share, e.g. the height."]
    height = [
        "A measured map whose growth follows the height itself also beats the shuffled "
        "baseline, for the model and for any function of the height.  The entries from "
        "'beyond height' on test the model against that explanation.",
        f"Both maps are regressed on the height of {surf} (a cubic spline: any smooth "
        "function of it); the partial correlation is that of the smoothed residuals.",
        "It and the top-decile overlap are compared with height-conditioned surrogates of "
        "the measured map: its height dependence kept, its residual shifted and flipped.",
        "Skill beyond height: the partial correlation is positive and exceeds all but a "
        f"fraction p ≤ {SKILL_BEYOND_HEIGHT_P:g} of the surrogates'.  The p-value decides, "
        "not z: on small maps the surrogates' spread is wide and far from normal.",
        "Height-only overlap: the top decile of the measured map's own regression on the "
        "height (in-sample: the most a function of the height scores)."] if cond else []
    caveats = ["'Resolvable' is necessary, not sufficient: the z-scores, and the height test, "
               "guard the rest."]
    if cond:
        caveats.append(
            "The measured map's height noise (scan k+1's minus scan k's) is uncorrelated with "
            "the noise-weighted surface's (for independent noise in the two scans), so it does "
            "not bias the partial correlation." if ph == "noise_weighted" else
            "Scans k and k+1 equally noisy: the measured map's height noise is uncorrelated "
            "with the mid-interval surface's and does not bias the partial correlation; an "
            "unequal noise leaves a residual bias (rerun with prediction_height: "
            "noise_weighted)." if mid else
            "The measured map shares scan k's height noise with the prediction: the partial "
            "correlation is biased low in plating and high in stripping intervals (rerun with "
            "prediction_height: noise_weighted).")
    notes = [("What is shown", shown), ("How skill is decided", decided),
             ("Beyond the height", height), ("Caveats", caveats)]
    html = macro("hot_spot_notes", html, [(h, x) for h, x in notes if x],
                 template="interface.html.j2")
    summary = []
    if ks:
        kk = ks[-1]
        if verdict[kk] == "resolvable":
            summary.append((f"surface current hot spots, {series}",
                            f"resolvable (contrast {pct(ds['predicted_contrast'].values[kk])} > "
                            f"noise floor {pct(ds['measured_noise_floor'].values[kk])}); skill: "
                            f"top-decile overlap {ds['overlap'].values[kk]:.2f} vs baseline "
                            f"{ds['baseline_overlap'].values[kk]:.2f} ± "
                            f"{ds['baseline_overlap_std'].values[kk]:.2f} (z "
                            f"{ds['overlap_z'].values[kk]:.1f}), correlation "
                            f"{ds['correlation'].values[kk]:.2f} (z "
                            f"{ds['correlation_z'].values[kk]:.1f}) (interval {kk}, {res_txt})"
                            + (f"; beyond the height: partial correlation "
                               f"{ds['partial_correlation'].values[kk]:.2f} (z "
                               f"{ds['partial_correlation_z'].values[kk]:.1f}, p "
                               f"{ds['partial_correlation_p'].values[kk]:.3f}), "
                               f"{ds['skill_beyond_height'].values[kk]}" if cond else "")))
        else:
            summary.append((f"surface current hot spots, {series}",
                            f"not resolvable: predicted contrast "
                            f"{pct(ds['predicted_contrast'].values[kk])} below the measured "
                            f"noise floor {pct(ds['measured_noise_floor'].values[kk])} (interval "
                            f"{kk}, {res_txt}); no skill is claimed"))
    return html, summary
