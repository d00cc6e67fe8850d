"""Pipeline stages of the interface area: contoured Li|electrolyte interfaces.

The contoured-interface study of Zhang et al. 2024 (doi:10.1039/d3ee03322h; 003_103f2bf5a3479ade):
local current, creep pressure and the critical current of periodic Li contours against a flat
interface.  The science is in :mod:`ssbscope.interface.study`; these stages only assemble its
tables into datasets.

:func:`input_stages` (``ssbscope run``), one path for a user's experiment and the demo:
``interface.contour_study`` when the experiment's ``analysis.interface`` lists ``cases`` or
``contours``: the ``cases`` and ``shapes`` at its kinetics, creep and fracture parameters,
repeated at ``kinetics_r_ct_ohm_cm2`` when given (series "cases" and "kinetics"), and each
series of ``contours`` (its (H, S) pairs or one of the paper's sweeps by name: Figs. 1-4 shapes
at H25S150, H at fixed S, S at fixed H, fixed H/S, the H series to H/S = 1 for the
Wagner-number study at multiples of R_ct) -> ``interface/contour_study``; with
``analysis.interface.grid_convergence`` the grid convergence of the maximum current
(``interface/grid_convergence``) and with ``surface_fields`` the current maps over a unit cell
(``interface/surface_fields``).  ``ssbscope demo``'s YAML declares the paper's study this way
(:mod:`ssbscope.twin.demo`); there is no in-memory twin study of this area any more.
Besides: the current on CT-measured topographies (``topography``), the phase-field growth
(``phase_field``) and the gap creep (``gap_creep``).
"""

from __future__ import annotations

import logging

import numpy as np

__all__ = ["input_stages"]

log = logging.getLogger(__name__)

_GRID_EXTRAPOLATION_NOTE = (
    "pyramid/frustum finite-slope rows: site_excess_pressure_extrapolated_mpa = the computed "
    "site normal traction times the ratio of the Richardson limit (6-12 elements) to the value "
    "on the solve's grid, measured at H25S150 (interface.stokes.GRID_CONVERGENCE, "
    "benchmarks/bench_stokes_convergence.py); stokes_grid_drift = computed / extrapolated - 1; "
    "critical_current_extrapolated_ma_cm2 and gain_over_flat_extrapolated: the criterion with "
    "the pressure scaled to the limit")


def _with_units(ds):
    from ssbscope.store import with_default_units

    return with_default_units(ds)


def _sweep_table(tasks, common, compute=None):
    """Run contour-sweep tasks ``(series, r_ct, shape, (H, S), stokes_n_xy)`` through dask.

    One pure ``dask.delayed`` task per contour on the pipeline's scheduler (local threads, or
    the workers of a dask.distributed cluster); tasks with equal arguments (H25S150 in several
    series) are computed once.  ``compute(delayeds) -> tuple`` runs them (default
    ``dask.compute``; the stage passes :meth:`ssbscope.pipeline.StageContext.compute`, which
    reports the finished contours: the demo's study is two minutes in one stage).  Returns the
    rows in task order with ``series``, ``r_ct_ohm_cm2`` and ``kinetic_length_um``
    (``sigma R_ct``) in front.
    """
    import dask
    import pandas as pd

    from ssbscope.interface import contour_sweep

    if compute is None:
        def compute(ds):
            return dask.compute(*ds)
    parts = compute([
        dask.delayed(contour_sweep, pure=True)([case], shapes=(shape,), r_ct_ohm_cm2=rct,
                                               stokes_n_xy=sn, **common)
        for (_, rct, shape, case, sn) in tasks])
    frames = []
    for (name, rct, _, _, _), df in zip(tasks, parts):
        df = df.copy()  # identical tasks share one result
        df.insert(0, "kinetic_length_um", float(rct) * float(common["conductivity_s_cm"]) * 1e4)
        df.insert(0, "r_ct_ohm_cm2", float(rct))
        df.insert(0, "series", name)
        frames.append(df)
    return pd.concat(frames, ignore_index=True)

def _series_cases(cases):
    """(H, S) pairs of a :class:`ssbscope.config.ContourSeries` ``cases`` (a list or a sweep name)."""
    from ssbscope.interface import KINETICS_SWEEP, PAPER_SWEEPS

    if isinstance(cases, str):
        return [tuple(float(v) for v in c) for c in
                (KINETICS_SWEEP if cases == "kinetics" else PAPER_SWEEPS[cases])]
    return [tuple(float(v) for v in c) for c in cases]


def _grid_convergence_table(case, grids, runs, *, r_ct_ohm_cm2, conductivity_s_cm,
                            grain_size_um):
    """``interface/grid_convergence``: the maximum local current of each (shape, kinetics) run
    on ``grids`` (:func:`ssbscope.interface.grid_convergence`)."""
    import pandas as pd
    import xarray as xr

    from ssbscope.interface import grid_convergence

    rows = []
    for shape, kinetics in runs:
        rct = None if kinetics == "primary" else float(r_ct_ohm_cm2)
        g = grid_convergence(shape, float(case[0]), float(case[1]),
                             grids=tuple(int(n) for n in grids), r_ct_ohm_cm2=rct,
                             conductivity_s_cm=conductivity_s_cm, grain_size_um=grain_size_um)
        g.insert(0, "kinetics", kinetics)
        rows.append(g)
    return xr.Dataset.from_dataframe(pd.concat(rows, ignore_index=True).rename_axis("run"))


def _surface_fields(case, shapes, *, n_xy, r_ct_ohm_cm2, conductivity_s_cm, thickness_um):
    """``interface/surface_fields``: primary and linear-BV local current over one unit cell."""
    import xarray as xr

    from ssbscope.interface import current_distribution

    H, S = (float(v) for v in case)
    fields = {}
    x = None
    for shape in shapes:
        for kind, rct in (("primary", None), ("kinetic", float(r_ct_ohm_cm2))):
            d = current_distribution(shape, H, S, r_ct_ohm_cm2=rct,
                                     conductivity_s_cm=conductivity_s_cm, thickness_um=thickness_um,
                                     geometric_current_ma_cm2=1.0, n_xy=n_xy, n_zeta=n_xy)
            x, _, j, h = d.full_cell()
            fields[(shape, kind)] = j
            fields[(shape, "height")] = h
    shapes = list(shapes)
    return xr.Dataset(
        {"current_ma_cm2": (("shape", "kinetics", "y_um", "x_um"),
                            np.stack([[fields[(s, k)] for k in ("primary", "kinetic")]
                                      for s in shapes])),
         "li_height_um": (("shape", "y_um", "x_um"),
                          np.stack([fields[(s, "height")] for s in shapes]))},
        coords={"shape": shapes, "kinetics": ["primary", "kinetic"], "x_um": x, "y_um": x},
        attrs={"height_um": H, "separation_um": S, "geometric_current_ma_cm2": 1.0,
               "r_ct_ohm_cm2": float(r_ct_ohm_cm2)})


def _r_ct_from_eis(ds, spectrum, interfaces, area_cm2):
    """Area-specific R_ct per interface (Ohm cm2) from the fitted ``echem/eis`` dataset.

    ``R_ct(fit) * area / interfaces``; returns (value, description).
    """
    from ssbscope.errors import ParameterError

    labels = [str(v) for v in ds["label"].values]
    n = len(labels)
    if isinstance(spectrum, str) and not spectrum.lstrip("-").isdigit():
        if spectrum not in labels:
            raise ParameterError("analysis.interface.eis_spectrum", spectrum,
                                 f"is not the label of a fitted EIS spectrum ({labels})",
                                 "give one of these labels or an index")
        k = labels.index(spectrum)
    else:
        k = int(spectrum)
        if not 0 <= k < n:
            raise ParameterError("analysis.interface.eis_spectrum", spectrum,
                                 f"is out of range for the {n} fitted EIS spectrum(s)",
                                 f"give an index from 0 to {n - 1} or a label")
    r_ohm = float(ds["r_ct_ohm"].values[k])
    if not (r_ohm > 0 and np.isfinite(r_ohm)):
        unresolved = "r_ct_resolved" in ds and not bool(ds["r_ct_resolved"].values[k])
        why = (f": R_ct is not resolved by the spectrum ({ds['fit_note'].values[k]})"
               if unresolved and "fit_note" in ds else "")
        raise ParameterError("echem/eis r_ct_ohm", r_ohm,
                             f"the EIS fit of spectrum {k} ({labels[k]}) gave no positive R_ct{why}",
                             "check the spectrum and its fit in the report, or set "
                             "analysis.interface.r_ct_ohm_cm2 to a number")
    value = r_ohm * float(area_cm2) / int(interfaces)
    src = ds["source"].values[k] if "source" in ds else ""
    return value, (f"EIS fit of spectrum {k} ({labels[k]}{', ' + str(src) if src else ''}): "
                   f"R_ct = {r_ohm:.4g} Ohm x {float(area_cm2):.4g} cm2 / {int(interfaces)} "
                   f"interface(s) = {value:.4g} Ohm cm2")

#: Layer materials that make a Li|electrolyte interface of the EIS R_ct (lower case, no spaces):
#: Li metal and the Li-In alloys of solid-state counter electrodes.
_LI_ELECTRODE_MATERIALS = {"li", "lithium", "limetal", "li-metal", "lithiummetal", "li-in", "in-li",
                           "liin", "inli", "li-inalloy", "in-lialloy"}


def default_eis_interfaces(cell) -> tuple[int, str]:
    """Default of ``analysis.interface.eis_interfaces`` from the declared cell.

    The fitted R_ct of a cell holds every Li|electrolyte interface in series: a symmetric
    Li|electrolyte|Li cell has two, a half cell (cathode or Cu | electrolyte | Li) or a full
    cell with one Li electrode has one.  Counted from ``cell.layers``: layers of Li metal or a
    Li-In alloy (``_LI_ELECTRODE_MATERIALS``).

    Parameters
    ----------
    cell : ssbscope.config.Cell

    Returns
    -------
    (int, str)
        The number of interfaces (2 with two or more Li layers, 1 with one or none, 2 when the
        cell declares no layers: the former default) and why, for the provenance text.
    """
    layers = list(getattr(cell, "layers", []) or [])
    if not layers:
        return 2, "eis_interfaces 2: default, cell.layers declares no stack"
    li = [la.name for la in layers
          if str(la.material).lower().replace(" ", "").replace("_", "-") in _LI_ELECTRODE_MATERIALS]
    if len(li) >= 2:
        return 2, (f"eis_interfaces 2 from cell.layers: Li layers {li}, a symmetric "
                   "Li|electrolyte|Li cell")
    what = f"one Li layer {li[0]!r}" if li else "no Li layer"
    return 1, f"eis_interfaces 1 from cell.layers: {what}, a half or full cell with one interface"


def _coupling_check(r_ct_ohm_cm2, conductivity_s_cm, thickness_um, case=(25.0, 150.0)):
    """Monroe-Newman coupling at one egg-box case: attrs for the contour study."""
    from ssbscope.interface import monroe_newman_coupling

    H, S = (float(v) for v in case)
    r = monroe_newman_coupling("egg-box", H, S, r_ct_ohm_cm2=float(r_ct_ohm_cm2),
                               conductivity_s_cm=float(conductivity_s_cm),
                               thickness_um=float(thickness_um), n_xy=10)
    return {"monroe_newman_case": f"egg-box H{H:g}S{S:g}",
            "monroe_newman_max_current_change": r.max_current_change,
            "monroe_newman_site_pressure_change": r.site_pressure_change,
            "monroe_newman_converged": bool(r.converged)}


def _ccd_from_events(events, log_name):
    """i_g0 (mA/cm2) from the critical current density in ``echem/events`` and its source."""
    from ssbscope.errors import InputError

    kinds = [str(k) for k in events["kind"].values] if "kind" in events else []
    logs = [str(v) for v in events["log"].values] if "log" in events else []
    vals = events["ccd_ma_cm2"].values if "ccd_ma_cm2" in events else []
    found = [(lg, float(v)) for k, lg, v in zip(kinds, logs, vals) if k == "ccd" and np.isfinite(v)]
    if log_name is not None:
        found = [f for f in found if f[0] == log_name]
    if len(found) != 1:
        what = "none" if not found else ", ".join(f"{lg} ({v:.3g} mA/cm2)" for lg, v in found)
        raise InputError("analysis.interface.flat_critical_current_ma_cm2: 'ccd' needs exactly "
                         "one critical current density from the echem logs"
                         f"{' named ' + repr(log_name) if log_name else ''}; found {what}; name "
                         "the stepped log in analysis.interface.ccd_log or give the value in mA/cm2")
    lg, v = found[0]
    return v, f"echem/events: critical current density of log {lg!r}"


def _user_contour_stage(ctx, inputs, *, cases, shapes, r_ct_ohm_cm2, conductivity_s_cm,
                        thickness_um, kinetics_r_ct_ohm_cm2, pressure_model, n_xy, stokes_n_xy,
                        grain_size_um, flaw_depth_um, critical_pressure_mpa, eis_spectrum=0,
                        eis_interfaces=2, eis_interfaces_from="", cell_area_cm2=None,
                        stress="normal",
                        stack_pressure_mpa=0.0, lateral_stress_ratio=0.0,
                        flat_critical_current_ma_cm2=1.0, ccd_log=None, contours=(),
                        grid_convergence=None, surface_fields=None):
    """Contour study of ``analysis.interface`` (``ssbscope run``): the user's cases and shapes
    at the configured kinetics, repeated at ``kinetics_r_ct_ohm_cm2`` (series "cases" and
    "kinetics"), then each series of ``contours`` (its cases or named sweep, shapes, R_ct
    multiples and creep grid) -> ``interface/contour_study``; with ``grid_convergence`` /
    ``surface_fields`` also ``interface/grid_convergence`` / ``interface/surface_fields``.
    With ``r_ct_ohm_cm2 = "eis"`` the resistance comes from the ``echem/eis`` fit."""
    import xarray as xr

    from ssbscope.interface.creep import LI6PS5CL_FRACTURE_TOUGHNESS_MPA_M05
    from ssbscope.interface.shapes import DEFAULT_TIP_RADIUS_UM

    r_ct_source = "analysis.interface.r_ct_ohm_cm2"
    if r_ct_ohm_cm2 == "eis":
        r_ct_ohm_cm2, r_ct_source = _r_ct_from_eis(inputs["echem/eis"].load(), eis_spectrum,
                                                   eis_interfaces, cell_area_cm2)
        if eis_interfaces_from:
            r_ct_source += f" ({eis_interfaces_from})"

    i_g0_source = "analysis.interface.flat_critical_current_ma_cm2"
    if flat_critical_current_ma_cm2 == "ccd":
        flat_critical_current_ma_cm2, i_g0_source = _ccd_from_events(inputs["echem/events"].load(),
                                                                     ccd_log)
    common = {"conductivity_s_cm": conductivity_s_cm, "thickness_um": thickness_um,
              "critical_pressure_mpa": critical_pressure_mpa, "grain_size_um": grain_size_um,
              "flaw_depth_um": flaw_depth_um, "n_xy": n_xy, "pressure_model": pressure_model,
              "stress": stress, "stack_pressure_mpa": float(stack_pressure_mpa),
              "lateral_stress_ratio": float(lateral_stress_ratio),
              "flat_critical_current_ma_cm2": float(flat_critical_current_ma_cm2)}
    cases = [tuple(float(v) for v in c) for c in cases]
    tasks = [("cases", float(r_ct_ohm_cm2), shape, case, stokes_n_xy)
             for shape in shapes for case in cases]
    extra = [float(r) for r in kinetics_r_ct_ohm_cm2]
    if extra and cases:
        tasks += [("kinetics", rct, "egg-box" if "egg-box" in shapes else shapes[0], case,
                   stokes_n_xy) for rct in [float(r_ct_ohm_cm2), *extra] for case in cases]
    series_rct, shape_grids = {}, []
    for c in contours:
        sn = int(c.get("stokes_n_xy") or stokes_n_xy)
        rcts = [float(r_ct_ohm_cm2) * float(f) for f in c.get("r_ct_factors", [1.0])]
        series_rct[c["series"]] = rcts
        if set(c.get("shapes", ["egg-box"])) - {"egg-box"}:
            shape_grids.append(sn)
        for rct in rcts:
            for shape in c.get("shapes", ["egg-box"]):
                for case in _series_cases(c["cases"]):
                    tasks.append((c["series"], rct, shape, case, sn))
    table = _sweep_table(tasks, common,
                         compute=lambda ds: ctx.compute(ds, desc="interface contour study"))
    # the egg-box creep grid (report): that of the series without pyramids/frustums, if any
    egg_n = next((int(c.get("stokes_n_xy") or stokes_n_xy) for c in contours
                  if not set(c.get("shapes", ["egg-box"])) - {"egg-box"}), stokes_n_xy)
    kin_rct = ([float(r_ct_ohm_cm2), *extra] if extra and cases
               else series_rct.get("kinetics", []))
    study = xr.Dataset.from_dataframe(table.rename_axis("case"))
    study.attrs.update({"paper": "003_103f2bf5a3479ade (analysis.interface of the experiment)",
                        "r_ct_ohm_cm2": float(r_ct_ohm_cm2), "conductivity_s_cm": conductivity_s_cm,
                        "thickness_um": thickness_um,
                        "critical_pressure_mpa": float(table["critical_pressure_mpa"].iloc[0]),
                        "fracture_toughness_mpa_m05": LI6PS5CL_FRACTURE_TOUGHNESS_MPA_M05,
                        "flaw_depth_um": float(flaw_depth_um),
                        "grain_size_um": float("nan") if grain_size_um is None else float(grain_size_um),
                        "tip_radius_um": DEFAULT_TIP_RADIUS_UM,
                        "flat_critical_current_ma_cm2": float(flat_critical_current_ma_cm2),
                        "flat_critical_current_source": i_g0_source,
                        "geometric_current_ma_cm2": 1.0,
                        "grid_n_xy": n_xy, "pressure_model": pressure_model,
                        "stress": stress, "stack_pressure_mpa": float(stack_pressure_mpa),
                        "lateral_stress_ratio": float(lateral_stress_ratio),
                        "r_ct_source": r_ct_source,
                        "stokes_n_xy": int(egg_n),
                        "stokes_n_xy_shapes": int(shape_grids[0] if shape_grids else stokes_n_xy),
                        "stokes_grid_extrapolation": _GRID_EXTRAPOLATION_NOTE,
                        "kinetics_r_ct_ohm_cm2": kin_rct,
                        "contour_series": [str(c["series"]) for c in contours],
                        "series_source": "analysis.interface.cases / contours of the experiment"})
    if "kinetics" in series_rct:
        study.attrs["series_kinetics"] = ("the cases of contours series 'kinetics' at each of "
                                          "kinetics_r_ct_ohm_cm2")
    all_cases = [(float(r["height_um"]), float(r["separation_um"])) for _, r in table.iterrows()]
    study.attrs.update(_coupling_check(r_ct_ohm_cm2, conductivity_s_cm, thickness_um,
                                       next((c for c in all_cases if c[0] < c[1]), all_cases[0])))
    out = {"interface/contour_study": _with_units(study)}
    if grid_convergence is not None:
        out["interface/grid_convergence"] = _with_units(_grid_convergence_table(
            grid_convergence["case"], grid_convergence["grids"], grid_convergence["runs"],
            r_ct_ohm_cm2=r_ct_ohm_cm2, conductivity_s_cm=conductivity_s_cm,
            grain_size_um=grain_size_um))
    if surface_fields is not None:
        out["interface/surface_fields"] = _with_units(_surface_fields(
            surface_fields["case"], surface_fields["shapes"], n_xy=n_xy,
            r_ct_ohm_cm2=r_ct_ohm_cm2, conductivity_s_cm=conductivity_s_cm,
            thickness_um=thickness_um))
    return out

def config_problems(exp) -> list[tuple[str, str]]:
    """``(location, message)`` of what :func:`input_stages` refuses in ``analysis.interface``.

    ``ssbscope validate`` (:func:`ssbscope.config.validate_file`) calls it, so that a key that
    needs another input (``flat_critical_current_ma_cm2: ccd`` without an echem log,
    ``r_ct_ohm_cm2: eis`` without a spectrum or cell area, a ``gap_creep.neutron.label`` that
    is not a radiograph series with regions, a ``topography`` series or interface the CT does
    not measure) is reported before a run creates its output folder.
    """
    from ssbscope.errors import ConfigError

    try:
        input_stages(exp)
    except ConfigError as e:
        return list(e.problems)
    return []


def input_stages(exp) -> list:
    """Stages of ``ssbscope run`` for this area: the contour study of ``analysis.interface``
    when it lists ``cases`` or ``contours`` (with its grid convergence and current maps when
    asked), the topography, phase-field and gap-creep models when their sections are given.

    Parameters
    ----------
    exp : ssbscope.config.Experiment

    Returns
    -------
    list of ssbscope.pipeline.Stage
    """
    from ssbscope.errors import ConfigError
    from ssbscope.pipeline import Stage

    cfg = getattr(getattr(exp, "analysis", None), "interface", None)
    if cfg is None:
        return []
    stages = _topography_stages(exp, cfg)
    if cfg.phase_field is not None:
        pf = cfg.phase_field.model_dump(mode="json")
        for key in ("plating_eigenstrain", "curvature_counter_term"):
            if not pf.get(key):  # new keys only when set: earlier runs keep their fingerprints
                pf.pop(key, None)
        stages.append(Stage("interface.phase_field", _phase_field_stage,
                            outputs=("interface/phase_field",),
                            params={**pf, "seed": int(getattr(exp, "seed", 0) or 0)}, long=True))
    if cfg.gap_creep is not None:
        gp = cfg.gap_creep.model_dump(mode="json")
        nin = gp.pop("neutron", None)
        ins = ()
        if nin is not None:
            nin, ins = _gap_neutron_params(exp, nin)
            gp["neutron"] = nin
        stages.append(Stage("interface.gap_creep", _gap_creep_stage, inputs=ins,
                            outputs=("interface/gap_creep",), params=gp))
    if not (cfg.cases or cfg.contours):
        return stages
    params = cfg.model_dump(mode="json")
    params.pop("topography", None)
    params.pop("gap_creep", None)
    params.pop("phase_field", None)
    params["cases"] = [list(c) for c in cfg.cases]
    outputs = ["interface/contour_study"]
    for key in ("contours", "grid_convergence", "surface_fields"):
        if not params.get(key):  # new keys only when set: earlier runs keep their fingerprints
            params.pop(key, None)
        elif key != "contours":
            outputs.append(f"interface/{key}")
    needs = ()
    if cfg.flat_critical_current_ma_cm2 == "ccd":
        if not exp.inputs.echem:
            raise ConfigError(exp.base_dir or "experiment", [(
                "analysis.interface.flat_critical_current_ma_cm2",
                "'ccd' needs an echem input with a stepped critical-current protocol")])
        needs = ("echem/events",)
    if cfg.r_ct_ohm_cm2 == "eis":
        problems = []
        if not any(getattr(i, "kind", "") == "eis" for i in exp.inputs.echem):
            problems.append(("analysis.interface.r_ct_ohm_cm2",
                             "'eis' needs an echem input with kind: eis (a PEIS file to fit)"))
        area = exp.cell.electrode_area_cm2
        if area is None:
            problems.append(("cell.area_cm2", "'analysis.interface.r_ct_ohm_cm2: eis' needs the "
                             "cell area (area_cm2 or diameter_mm) to make R_ct area-specific"))
        if problems:
            raise ConfigError(exp.base_dir or "experiment", problems)
        params["cell_area_cm2"] = float(area)
        if cfg.eis_interfaces is None:  # default: from the declared cell (explicit value wins)
            params["eis_interfaces"], params["eis_interfaces_from"] = default_eis_interfaces(exp.cell)
        needs = needs + ("echem/eis",)
    elif params.get("eis_interfaces") is None:
        params["eis_interfaces"] = 2  # unused without r_ct_ohm_cm2: eis (old fingerprints kept)
    return [Stage("interface.contour_study", _user_contour_stage, inputs=needs,
                  outputs=tuple(outputs), params=params)] + stages


def _phase_field_stage(ctx, inputs, *, pressures_mpa, size, duration_s, seed=0,
                       plating_eigenstrain=False, curvature_counter_term=False):
    """The phase-field model of Cao et al. 2023 (Fig. 4) at each pressure (``interface/phase_field``)."""
    import dask
    import xarray as xr

    from ssbscope.interface.phase_field import phase_field_growth

    runs = dask.compute(*[dask.delayed(phase_field_growth, pure=True)(
        float(p), size=size, seed=seed, duration_s=float(duration_s),
        plating_eigenstrain=bool(plating_eigenstrain),
        curvature_counter_term=bool(curvature_counter_term)) for p in pressures_mpa])
    t = runs[0].time_s
    ds = xr.Dataset(
        {"li_area_fraction": (("pressure_mpa", "time_s"), np.stack([r.li_area_fraction for r in runs]),
                              {"units": "1", "long_name": "Li area fraction of the electrolyte region"}),
         "peak_stress_mpa": (("pressure_mpa", "time_s"), np.stack([r.peak_stress_mpa_t for r in runs]),
                             {"units": "MPa", "long_name": "peak hydrostatic pressure in Li"}),
         "leakage_current_a": (("pressure_mpa", "time_s"), np.stack([r.leakage_current_a for r in runs]),
                               {"units": "A", "long_name": "electronic current through the counter electrode"}),
         "connected": (("pressure_mpa", "time_s"), np.stack([np.asarray(r.connected, bool) for r in runs])),
         "mass_error": ("pressure_mpa", np.array([r.mass_error for r in runs]), {"units": "1"}),
         "xi_final": (("pressure_mpa", "y_um", "x_um"), np.stack([r.xi for r in runs]).astype(np.float32),
                      {"units": "1", "long_name": "Li order parameter at the end"}),
         "rho_final": (("pressure_mpa", "y_um", "x_um"), np.stack([r.rho for r in runs]).astype(np.float32),
                       {"units": "1", "long_name": "solid (1) / pore (-1) order parameter at the end"})},
        coords={"pressure_mpa": ("pressure_mpa", np.asarray(pressures_mpa, float), {"units": "MPa"}),
                "time_s": ("time_s", t, {"units": "s"}),
                "y_um": ("y_um", runs[0].y_um, {"units": "um"}),
                "x_um": ("x_um", runs[0].x_um, {"units": "um"})},
        attrs={"model": "phase field (Allen-Cahn with Butler-Volmer, Cahn-Hilliard, potential, "
                        "plane-strain elasticity) after Cao et al. 2023, Eqs. 2-3 "
                        "(ssbscope.interface.phase_field)",
               "size": size, "notes": runs[0].notes,
               "plating_eigenstrain": bool(plating_eigenstrain),
               "curvature_counter_term": bool(curvature_counter_term)})
    return {"interface/phase_field": ds}


def _gap_neutron_params(exp, nin):
    """Stage parameters and inputs of ``analysis.interface.gap_creep.neutron``."""
    from ssbscope.errors import ConfigError
    from ssbscope.neutron.stages import input_labels

    where = exp.base_dir or "experiment"
    found = [(it, nm) for it, nm in input_labels(exp) if nm == nin["label"]]
    if not found:
        have = [nm for _, nm in input_labels(exp)]
        raise ConfigError(where, [("analysis.interface.gap_creep.neutron.label", (
            f"{nin['label']!r} is not the label of a neutron input (have "
            f"{', '.join(map(repr, have)) or 'none'})"))])
    item, name = found[0]
    problems = []
    if getattr(item, "kind", "radiography") != "radiography" or not getattr(item, "regions", None):
        problems.append("needs a radiograph series with regions (its bands P1-P4)")
    if item.pixel_size_um is None:
        problems.append("needs the input's pixel_size_um for the band's Li volume")
    if problems:
        raise ConfigError(where, [("analysis.interface.gap_creep.neutron.label",
                                   f"neutron input {name!r}: {p}") for p in problems])
    nin = {**nin, "pixel_size_um": float(item.pixel_size_um),
           "li6_fraction": float(item.li6_fraction),
           "wavelength_a": None if item.wavelength_a is None else float(item.wavelength_a)}
    return nin, (f"neutron/input/{name}", f"neutron/{name}/bands", f"neutron/{name}/spacetime")


def _gap_neutron_compare(inputs, model, *, label, band, axis_x_um, time_offset_s, pixel_size_um,
                         li6_fraction, wavelength_a):
    """Measured band volume (de-projected to the gap) vs the model: data vars and attrs."""
    from ssbscope.interface.gap_creep import band_gap_volume, compare_gap_volume
    from ssbscope.neutron.attenuation import cold_spectrum
    from ssbscope.neutron.lithium import monochromatic

    bands = inputs[f"neutron/{label}/bands"].load()
    st = inputs[f"neutron/{label}/spacetime"]
    names = [str(v) for v in bands["name"].values] if "name" in bands else []
    attrs = {"neutron_label": label, "neutron_band": band, "neutron_axis_x_um": float(axis_x_um),
             "neutron_time_offset_s": float(time_offset_s)}
    if band not in names:
        attrs["neutron_note"] = (f"no band {band} in neutron/{label}/bands (named: "
                                 f"{', '.join(n for n in names if n) or 'none'}): no comparison")
        return {}, attrs
    i = names.index(band)
    region = str(bands["region"].values[i])
    regions = [str(v) for v in st["region"].values]
    y0, y1 = int(bands["row0_px"].values[i]), int(bands["row1_px"].values[i])
    _, _, x0, x1 = (int(v) for v in st["region_px"].values[regions.index(region)])
    nin = inputs[f"neutron/input/{label}"]
    ref = int(nin.attrs.get("reference_bin", 0))
    ratio = nin["transmission_ratio"].values.astype(np.float64)
    sig = (nin["transmission_ratio_sigma"].values.astype(np.float64)
           if "transmission_ratio_sigma" in nin else None)
    tr0 = nin["transmission_binned"].values[ref].astype(np.float64)
    t = np.asarray(nin["time_s_bin"].values, float) - float(time_offset_s)
    spectrum = monochromatic(float(wavelength_a)) if wavelength_a is not None else cold_spectrum()
    g = band_gap_volume(ratio, tr0, sig, roi_px=(y0, y1, x0, x1), pixel_size_um=pixel_size_um,
                        axis_x_um=axis_x_um, inner_radius_um=model.parameters["radius_um"],
                        gap_um=model.parameters["gap_um"], spectrum=spectrum,
                        li6_fraction=li6_fraction)
    inside = (t >= 0) & (t <= model.time_s[-1])
    meas = np.where(inside, g.gap_volume_um3, np.nan)
    ok = np.isfinite(meas)
    if ok.sum() < 3:
        attrs["neutron_note"] = (f"band {band}: {int(ok.sum())} bin(s) with a finite volume "
                                 "inside the model's time span (needs 3): no comparison; check "
                                 "time_offset_s and duration_s")
        return {}, attrs
    cmp = compare_gap_volume(model, t, meas)
    t_ok = t[ok]
    mod = np.full(t.size, np.nan)
    mod[ok] = (np.interp(t_ok, model.time_s, model.gap_volume_um3)
               - np.interp(t_ok[0], model.time_s, model.gap_volume_um3))
    meas_inc = meas - meas[ok][0]
    last = np.flatnonzero(ok)[-1]
    data = {
        "neutron_time_s": ("bin", t, {"units": "s", "long_name": "neutron bin time - time_offset_s"}),
        "measured_band_volume_um3": ("bin", g.band_volume_um3, {
            "units": "um^3", "long_name": f"Li volume change in band {band} (its pixels)"}),
        "measured_band_volume_sigma_um3": ("bin", g.band_volume_sigma_um3, {"units": "um^3"}),
        "measured_gap_volume_um3": ("bin", meas_inc, {
            "units": "um^3", "long_name": f"Li gained in the gap from band {band} (band volume / "
                                          "projected share of the annulus), from the first bin"}),
        "measured_gap_volume_sigma_um3": ("bin", g.gap_volume_sigma_um3, {"units": "um^3"}),
        "model_gap_volume_at_bin_um3": ("bin", mod, {
            "units": "um^3", "long_name": "model gap volume at the bin times, from the first bin"})}
    attrs.update({
        "neutron_region": region, "neutron_band_roi_px": [y0, y1, x0, x1],
        "neutron_band_u_um": list(g.u_um), "neutron_projected_fraction": g.projected_fraction,
        "neutron_spectrum": (f"monochromatic {wavelength_a:g} A" if wavelength_a is not None
                             else "cold CG-1D spectrum (Cao et al. 2023)"),
        "neutron_li_cross_section": "Sears 1992 bound-atom cross-sections, natural Li unless "
                                    f"li6_fraction ({li6_fraction:g})",
        "volume_ratio": cmp["ratio"], "volume_rms_um3": cmp["rms_um3"],
        "volume_correlation": cmp["correlation"],
        "measured_final_gap_volume_um3": float(meas_inc[last]),
        "model_final_gap_volume_um3": float(mod[last]),
        "final_volume_ratio": (float(meas_inc[last] / mod[last]) if mod[last] != 0
                               else float("nan")),
        "neutron_assumption": "the band's change is Li entering the annular gap "
                              "radius_um..radius_um + gap_um, coaxial with the cell"})
    return data, attrs


def _gap_creep_stage(ctx, inputs, **params):
    """The reduced gap-creep model of Cao et al. 2023, Fig. 6 (``interface/gap_creep``), and
    with ``neutron`` its gap volume against the neutron band's (:func:`_gap_neutron_compare`)."""
    import xarray as xr

    from ssbscope.interface.gap_creep import gap_creep

    duration = params.pop("duration_s")
    neutron = params.pop("neutron", None)
    r = gap_creep(duration, **params)
    ds = xr.Dataset(
        {"pressure_mpa": ("time_s", r.pressure_mpa, {"units": "MPa",
                                                     "long_name": "mean Li pressure in the foil"}),
         "stack_growth_um": ("time_s", r.stack_growth_um, {"units": "um"}),
         "gap_volume_um3": ("time_s", r.gap_volume_um3, {"units": "um^3"}),
         "gap_fill_um": ("time_s", r.gap_fill_um, {"units": "um"}),
         "plated_volume_um3": ("time_s", r.plated_volume_um3, {"units": "um^3"}),
         "gap_fraction": ("time_s", r.gap_fraction, {"units": "1"}),
         "centre_excess_pressure_mpa": ("time_s", r.centre_excess_pressure_mpa, {"units": "MPa"})},
        coords={"time_s": ("time_s", r.time_s, {"units": "s"})},
        attrs={"model": "reduced axisymmetric power-law squeeze flow into the rod-tube gap, "
                        "framework spring (Cao et al. 2023, Fig. 6; ssbscope.interface.gap_creep)",
               "conservation_error": r.conservation_error, **r.parameters})
    if neutron is not None:
        data, attrs = _gap_neutron_compare(inputs, r, **neutron)
        if data:
            ds = ds.assign(data)
        ds.attrs.update(attrs)
    return {"interface/gap_creep": ds}


def _li_side(interface: str, materials: dict):
    """(+1 Li below / -1 Li above, electrolyte-side layer) of a 'lower|upper' interface, or None."""
    lower, _, upper = interface.partition("|")
    ml, mu = materials.get(lower), materials.get(upper)
    if ml == "Li" and mu not in (None, "Li"):
        return 1, upper
    if mu == "Li" and ml not in (None, "Li"):
        return -1, lower
    return None


def _topography_stages(exp, cfg) -> list:
    """``interface.<series>.surface_current`` for the series of ``analysis.interface.topography``."""
    from ssbscope.correlate.stages import _cell, _cell_key, _tomo_series
    from ssbscope.errors import ConfigError
    from ssbscope.pipeline import Stage
    from ssbscope.tomo.stages import _slug

    topo = cfg.topography
    if topo is None:
        return []
    where = exp.base_dir or "experiment"
    measured = _tomo_series(exp)
    chosen = list(dict.fromkeys(topo.series)) if topo.series is not None else list(measured)
    bad = [s for s in chosen if s not in measured]
    if bad:
        raise ConfigError(where, [("analysis.interface.topography.series", (
            f"{', '.join(map(repr, bad))}: not a measured CT series (measured: "
            f"{', '.join(map(repr, measured)) or 'none'})"))])
    try:
        from ssbscope.transport.stages import input_stages as transport_stages

        produced = {o for st in transport_stages(exp) for o in st.outputs}
    except Exception:  # no transport analysis possible: compare with nothing
        produced = set()
    stages = []
    for series in chosen:
        items = measured[series]
        cell = _cell(exp, _cell_key(exp, items))
        materials = {la.name: la.material for la in cell.layers}
        thick = {la.name: la.thickness_um for la in cell.layers}
        names = [la.name for la in cell.layers]
        if topo.interface is not None:
            iface = topo.interface
            side = _li_side(iface, materials)
            if side is None:
                raise ConfigError(where, [("analysis.interface.topography.interface", (
                    f"{iface!r} is not an interface between a Li layer and another layer of "
                    f"series {series!r} (layers: {', '.join(names)}); write 'lower|upper'"))])
        else:
            pairs = [f"{a}|{b}" for a, b in zip(names, names[1:])]
            wanted = exp.analysis.tomo.for_series(series).interfaces
            cands = [p for p in (wanted if wanted is not None else pairs) if _li_side(p, materials)]
            if not cands:
                log.info("interface: series %r has no Li|electrolyte interface; no surface current",
                         series)
                continue
            iface = cands[0]
            side = _li_side(iface, materials)
        sign, elec = side
        sname = _slug(series)
        cd_key = f"transport/{sname}/current_density"
        ins = (f"tomo/{sname}/maps",) + ((cd_key,) if cd_key in produced else ())
        from_ct = None
        if topo.conductivity_s_cm == "from_ct":
            # eps/tau of the electrolyte layer's material in that layer: the transport stage's
            # result when it solves it (checked on its attrs at run time), else the labels
            tk = f"transport/{sname}/tortuosity"
            from_ct = {"labels_key": f"tomo/{sname}/labels", "layer": elec,
                       "phase": materials.get(elec),
                       "tortuosity_key": tk if tk in produced else None,
                       "layers": [{"name": la.name, "material": la.material,
                                   "thickness_um": la.thickness_um} for la in cell.layers]}
            ins = ins + (from_ct["labels_key"],) + ((tk,) if tk in produced else ())
        sigma = (cfg.conductivity_s_cm if topo.conductivity_s_cm in (None, "from_ct")
                 else topo.conductivity_s_cm)
        stages.append(Stage(
            f"interface.{sname}.surface_current", _surface_current_stage, inputs=ins,
            outputs=(f"interface/{sname}/surface_current",),
            params={"series": sname, "maps_key": f"tomo/{sname}/maps",
                    "cd_key": cd_key if cd_key in produced else None, "interface": iface,
                    "sign": int(sign),
                    "thickness_um": float(topo.thickness_um if topo.thickness_um is not None
                                          else (thick.get(elec) or cfg.thickness_um)),
                    "conductivity_s_cm": float(sigma), "conductivity_from_ct": from_ct,
                    "r_ct_ohm_cm2": topo.r_ct_ohm_cm2, "current_ma_cm2": topo.current_ma_cm2,
                    "smooth_um": topo.smooth_um, "max_nodes": int(topo.max_nodes),
                    "top_fraction": float(topo.top_fraction), "n_shuffle": int(topo.n_shuffle),
                    "smoothing_um": (None if topo.smoothing_um is None
                                     else float(topo.smoothing_um)),
                    "prediction_height": str(topo.prediction_height),
                    "seed": int(getattr(exp, "seed", 0) or 0), "stress": cfg.stress,
                    "grain_size_um": cfg.grain_size_um},
            long=True))
    return stages


def _surface_current_stage(ctx, inputs, *, series, maps_key, cd_key, interface, sign,
                           thickness_um, conductivity_s_cm, r_ct_ohm_cm2, current_ma_cm2,
                           smooth_um, max_nodes, top_fraction, n_shuffle, seed=0,
                           stress="normal", grain_size_um=2.0, conductivity_from_ct=None,
                           smoothing_um=None, prediction_height="noise_weighted"):
    """Predicted current on each scan's measured Li surface vs the measured current maps.

    ``prediction_height`` (:func:`ssbscope.interface.topography.interval_height`): the
    surface each interval's prediction is solved on and its skill test conditions on,
    ``"noise_weighted"`` (the inverse-variance weighted mean of the interval's two scans,
    each scan's height noise fitted on its own map: its noise is uncorrelated with the
    measured thickness change's), ``"mid_interval"`` (their plain mean: uncorrelated only
    when both scans are equally noisy) or ``"scan_start"`` (scan k's, whose noise the
    measured map shares with sign -1: a biased partial correlation).  The per-scan maps
    (``current_ma_cm2``, ``projected_current_ma_cm2``, ``surface_height_um``) are solved on
    each scan's surface either way; the compared ones are ``interval_*``.

    Each interval's comparison says first whether it can discriminate
    (:func:`ssbscope.interface.hot_spot_overlap`): ``verdict`` "resolvable" when the predicted
    contrast (std / mean) exceeds the measured map's noise floor at the compared
    resolution (``smoothing_um`` applied to both maps and the baseline), else "not
    resolvable" (the floor includes the noise's spatial correlation,
    :func:`ssbscope.interface.map_noise`); correlation and overlap with their
    shuffled-baseline z-scores are skill only when resolvable.

    ``conductivity_from_ct`` (``analysis.interface.topography.conductivity_s_cm: from_ct``):
    the bulk ``conductivity_s_cm`` times ``eps / tau`` of the electrolyte layer per scan
    (:func:`_ct_conductivity`)."""
    import xarray as xr

    from ssbscope.errors import InputError
    from ssbscope.interface import hot_spot_overlap, surface_creep_pressure, surface_current
    from ssbscope.interface.creep import CreepLaw
    from ssbscope.interface.topography import (HEIGHT_SMOOTHING_RULE, NOISE_ESTIMATOR,
                                               RESOLVABLE_CONTRAST_TO_NOISE,
                                               height_smoothing_um,
                                               SKILL_BEYOND_HEIGHT_P, height_conditioned_skill,
                                               interval_height, interval_height_weight)

    law = CreepLaw(grain_size_um=grain_size_um)

    mp = inputs[maps_key].load()
    ifaces = [str(v) for v in mp["interface"].values.tolist()]
    if interface not in ifaces:
        raise InputError(f"{maps_key}: no height map of interface {interface!r} (maps of: "
                         f"{', '.join(ifaces) or 'none'}); add it to analysis.tomo.interfaces")
    h_all = np.asarray(mp["height_um"].sel(interface=interface).values, float) * sign
    x, y = np.asarray(mp["x"].values, float), np.asarray(mp["y"].values, float)
    px = float(abs(x[1] - x[0])) if x.size > 1 else float(mp.attrs.get("voxel_size_um", 1.0))
    py = float(abs(y[1] - y[0])) if y.size > 1 else px
    t = np.asarray(mp["time_s"].values, float)
    cd = inputs[cd_key].load() if cd_key else None
    cyc = (np.asarray(cd["cycler_current_density_ma_cm2"].values, float) if cd is not None
           else np.full(max(t.size - 1, 0), np.nan))
    # the heights' smoothing before each solve: the given smooth_um, or fitted per map
    # (height_smoothing_um: the least expected error of the predicted current on that map)
    lam_um = 0.0 if r_ct_ohm_cm2 is None else float(r_ct_ohm_cm2) * 1e4  # x sigma (S/cm)

    def _smooth(hmap, sigma_s_cm):
        if smooth_um is not None:
            return float(smooth_um), float("nan")
        hs = height_smoothing_um(hmap, (py, px), thickness_um=thickness_um,
                                 kinetic_length_um=lam_um * float(sigma_s_cm))
        return hs.smooth_um, hs.relative_error

    smooth_k = np.full(t.size, np.nan)  # smoothing of each scan's solve (um)
    err_k = np.full(t.size, np.nan)
    maps, ratios, maxr, used_i, notes = [], [], [], [], []
    proj = []  # current per projected area: what a thickness change between scans measures
    nt = t.size
    sig = np.full(nt, float(conductivity_s_cm))
    eps_tau = np.full((nt, 2), np.nan)
    core = np.full((nt, 2), -1, np.int64)
    sig_src = np.full(nt, "analysis.interface.conductivity_s_cm", dtype=object)
    if conductivity_from_ct is not None:
        sig, eps_tau, sig_src, more, core = _ct_conductivity(inputs, t, float(conductivity_s_cm),
                                                       **conductivity_from_ct)
        notes.extend(more)
    pmaps, psite = [], []
    heights = []  # the surface each prediction was made on (conditioning of the skill test)
    for k in range(t.size):
        i_k = current_ma_cm2
        if i_k is None:
            c = cyc[k] if k < cyc.size else np.nan
            i_k = abs(float(c)) if np.isfinite(c) and abs(c) > 0 else 1.0
        h = h_all[k]
        if np.isfinite(h).sum() < 9 or not sig[k] > 0:
            maps.append(np.full(h.shape, np.nan))
            proj.append(np.full(h.shape, np.nan))
            heights.append(np.full(h.shape, np.nan))
            pmaps.append(np.full(h.shape, np.nan))
            psite.append(np.nan)
            ratios.append(np.nan)
            maxr.append(np.nan)
            used_i.append(i_k)
            notes.append(f"scan {k}: no interface found" if np.isfinite(h).sum() < 9 else
                         f"scan {k}: no electrolyte conductivity from CT ({sig_src[k]})")
            continue
        smooth_k[k], err_k[k] = _smooth(h, sig[k])
        res = surface_current(h, (py, px), conductivity_s_cm=float(sig[k]),
                              thickness_um=thickness_um, current_ma_cm2=i_k,
                              r_ct_ohm_cm2=r_ct_ohm_cm2, max_nodes=max_nodes,
                              smooth_um=smooth_k[k] or None)
        maps.append(res.current_ma_cm2)
        proj.append(res.projected_current_ma_cm2)
        heights.append(np.where(np.isfinite(h), res.height_um, np.nan))
        cr = surface_creep_pressure(res, law=law, stress=stress)
        pmaps.append(cr.excess_pressure_mpa)
        psite.append(cr.site_excess_pressure_mpa)
        ratios.append(res.area_ratio)
        maxr.append(res.max_over_geometric)
        used_i.append(i_k)
    n_int = 0 if cd is None else int(cd.sizes.get("interval", 0))
    cols = {k: [] for k in ("correlation", "overlap", "baseline_correlation", "baseline_overlap",
                            "baseline_overlap_std", "overlap_z", "baseline_correlation_std",
                            "correlation_z", "predicted_contrast", "measured_noise_ma_cm2",
                            "measured_mean_ma_cm2", "measured_noise_floor", "contrast_to_noise",
                            "measured_white_noise_ma_cm2", "noise_correlation_length_um")}
    ccols = {k: [] for k in ("partial_correlation", "partial_correlation_z",
                             "partial_correlation_p", "conditional_baseline_overlap",
                             "conditional_baseline_overlap_std", "conditional_overlap_z",
                             "conditional_overlap_p", "height_only_overlap",
                             "height_only_correlation")}
    verdicts, beyond = [], []
    ipred, iheight = [], []  # each interval's compared prediction and its surface
    iweight, isig = [], []  # scan k's weight in the surface, the two scans' height noise
    ismooth, ierr = [], []  # the interval surface's smoothing (um) and its expected error
    for k in range(n_int):
        meas = np.asarray(cd["current_density_ma_cm2"].isel(interval=k).values, float)
        # the measured map is dh/dt of each column: current per projected area
        pred = proj[k] if k < len(proj) else None
        hk = heights[k] if k < len(heights) else None
        w_k, s_k = (1.0, (np.nan, np.nan)) if prediction_height == "scan_start" else (
            0.5, (np.nan, np.nan))
        sm_k, e_k = ((smooth_k[k], err_k[k]) if k < nt else (np.nan, np.nan))
        if prediction_height != "scan_start" and pred is not None and k + 1 < nt:
            # solved again on the interval's weighted surface (noise uncorrelated with the map's)
            if prediction_height == "noise_weighted":
                w_k, *s_k = interval_height_weight(h_all[k], h_all[k + 1])
            hm = interval_height(h_all[k], h_all[k + 1], prediction_height, weight=w_k)
            sk = [float(v) for v in sig[k:k + 2] if np.isfinite(v) and v > 0]
            if np.isfinite(hm).sum() < 9 or not sk:
                notes.append(f"interval {k}: no {prediction_height} surface (a scan without "
                             "interface or conductivity)")
                pred = hk = np.full(hm.shape, np.nan)
            else:
                sm_k, e_k = _smooth(hm, np.mean(sk))
                rm = surface_current(hm, (py, px), conductivity_s_cm=float(np.mean(sk)),
                                     thickness_um=thickness_um, current_ma_cm2=used_i[k],
                                     r_ct_ohm_cm2=r_ct_ohm_cm2, max_nodes=max_nodes,
                                     smooth_um=sm_k or None)
                pred = rm.projected_current_ma_cm2
                hk = np.where(np.isfinite(hm), rm.height_um, np.nan)
        iweight.append(float(w_k))
        ismooth.append(float(sm_k))
        ierr.append(float(e_k))
        isig.append([float(v) for v in s_k])
        ipred.append(pred if pred is not None else np.full(h_all.shape[1:], np.nan))
        iheight.append(hk if hk is not None else np.full(h_all.shape[1:], np.nan))
        try:
            if pred is None or meas.shape != pred.shape:
                raise ValueError("maps of different shape")
            c = hot_spot_overlap(pred, np.abs(meas), top_fraction=top_fraction,
                                 n_shuffle=n_shuffle, seed=seed + k, pixel_um=(py, px),
                                 smoothing_um=smoothing_um)
            vals = (c.correlation, c.overlap, c.baseline_correlation, c.baseline_overlap,
                    c.baseline_overlap_std, c.overlap_z, c.baseline_correlation_std,
                    c.correlation_z, c.predicted_contrast, c.measured_noise_std,
                    c.measured_mean, c.measured_noise_floor, c.contrast_to_noise,
                    c.measured_white_noise_std,
                    c.noise_correlation_length_px * float(np.sqrt(px * py)))
            verdicts.append(c.verdict)
        except Exception as e:  # a map with too few valid pixels: no comparison
            notes.append(f"interval {k}: no comparison ({e})")
            vals = (np.nan,) * len(cols)
            verdicts.append("no comparison")
        for key, v in zip(cols, vals):
            cols[key].append(float(v))
        try:  # skill beyond the height: the measured map's dependence on it kept in the null
            if verdicts[-1] == "no comparison":
                raise ValueError("no comparison")
            hc = height_conditioned_skill(pred, np.abs(meas), hk,
                                          top_fraction=top_fraction, n_shuffle=n_shuffle,
                                          seed=seed + k, pixel_um=(py, px),
                                          smoothing_um=smoothing_um)
            cvals = (hc.partial_correlation, hc.partial_correlation_z, hc.partial_correlation_p,
                     hc.conditional_baseline_overlap, hc.conditional_baseline_overlap_std,
                     hc.conditional_overlap_z, hc.conditional_overlap_p, hc.height_only_overlap,
                     hc.height_only_correlation)
            beyond.append(hc.verdict)
        except Exception as e:
            if verdicts[-1] != "no comparison":
                notes.append(f"interval {k}: no height-conditioned comparison ({e})")
            cvals = (np.nan,) * len(ccols)
            beyond.append("no comparison")
        for key, v in zip(ccols, cvals):
            ccols[key].append(float(v))
    data = {"current_ma_cm2": (("time_s", "y", "x"), np.asarray(maps, np.float32),
                               {"units": "mA/cm2",
                                "long_name": "predicted local current density normal to the Li surface"}),
            "projected_current_ma_cm2": (("time_s", "y", "x"), np.asarray(proj, np.float32), {
                "units": "mA/cm2", "long_name": "predicted current per projected area (the "
                "column's growth rate by Faraday's law; compared with the measured map)"}),
            "surface_height_um": (("time_s", "y", "x"), np.asarray(heights, np.float32), {
                "units": "um", "long_name": "the Li surface each prediction was solved on (the "
                "measured height, sign-adjusted, gaps filled and smoothed by height_smoothing_um; NaN "
                "where it was not measured); the skill test conditions on "
                "interval_surface_height_um"}),
            "interval_projected_current_ma_cm2": (
                ("interval", "y", "x"), np.asarray(ipred, np.float32).reshape(
                    (n_int,) + h_all.shape[1:]), {
                    "units": "mA/cm2", "long_name": "predicted current per projected area "
                    "compared with the measured map of each interval (solved on "
                    "interval_surface_height_um; see prediction_height)"}),
            "interval_surface_height_um": (
                ("interval", "y", "x"), np.asarray(iheight, np.float32).reshape(
                    (n_int,) + h_all.shape[1:]), {
                    "units": "um", "long_name": "the surface each interval's prediction was "
                    "solved on and its skill test conditions on (prediction_height), "
                    "sign-adjusted, gaps filled and smoothed by interval_height_smoothing_um"}),
            "interval_height_weight": ("interval", np.asarray(iweight, float), {
                "units": "1", "long_name": "weight w of scan k's height in the interval's "
                "surface w h_k + (1 - w) h_k+1 (prediction_height: noise_weighted: "
                "var(n_k+1) / (var(n_k) + var(n_k+1)); mid_interval 0.5; scan_start 1)"}),
            "interval_height_noise_um": (("interval", "scan"), np.asarray(
                isig, float).reshape(n_int, 2), {
                "units": "um", "long_name": "per-pixel height noise std fitted on scan k's and "
                "scan k+1's map (ssbscope.mapnoise.fit_map_noise; NaN: not fitted)"}),
            "height_smoothing_um": ("time_s", smooth_k, {
                "units": "um", "long_name": "Gaussian std of the smoothing of each scan's "
                "heights before its solve (smooth_um, or fitted on the map: smooth_rule)"}),
            "height_smoothing_error": ("time_s", err_k, {
                "units": "1", "long_name": "expected rms error of the predicted current "
                "perturbation after that smoothing over the height signal's (fitted model; "
                "NaN: smooth_um given or not fitted)"}),
            "interval_height_smoothing_um": ("interval", np.asarray(ismooth, float), {
                "units": "um", "long_name": "the same for each interval's surface "
                "(interval_surface_height_um)"}),
            "interval_height_smoothing_error": ("interval", np.asarray(ierr, float), {
                "units": "1", "long_name": "the same for each interval's surface"}),
            "excess_pressure_mpa": (("time_s", "y", "x"), np.asarray(pmaps, np.float32),
                                    {"units": "MPa", "long_name": f"small-slope creep {stress} "
                                     "stress over the stack pressure"}),
            "site_excess_pressure_mpa": ("time_s", np.asarray(psite, float), {"units": "MPa"}),
            "area_ratio": ("time_s", np.asarray(ratios, float), {"units": "1"}),
            "max_over_geometric": ("time_s", np.asarray(maxr, float), {"units": "1"}),
            "geometric_current_ma_cm2": ("time_s", np.asarray(used_i, float), {"units": "mA/cm2"}),
            "conductivity_s_cm": ("time_s", sig, {"units": "S/cm",
                                                  "long_name": "electrolyte conductivity of the solve"}),
            "conductivity_source": ("time_s", np.asarray([str(v) for v in sig_src], dtype=str)),
            "electrolyte_volume_fraction": ("time_s", eps_tau[:, 0], {"units": "1"}),
            "electrolyte_tau": ("time_s", eps_tau[:, 1], {"units": "1"}),
            "electrolyte_core_z_vox": (("time_s", "bound"), core, {
                "units": "1", "long_name": "[z0, z1) of the labels' slices in the eps/tau solve "
                "(the electrolyte layer's band less its interface mixing zones); -1: not from "
                "the labels"})}
    long_names = {
        "correlation_z": "correlation minus its baseline mean, in baseline standard deviations",
        "overlap_z": "top-region overlap minus its baseline mean, in baseline standard deviations",
        "predicted_contrast": "std / mean of the predicted current over the compared pixels "
                              "(after smoothing_um)",
        "measured_noise_ma_cm2": "noise std of the measured |current density| at the "
                                 "compared resolution, spatial correlation included",
        "measured_white_noise_ma_cm2": "the same under a white-noise assumption (reference; "
                                       "the former floor)",
        "noise_correlation_length_um": "correlation length (Gaussian std) of the noise's "
                                       "correlated component; 0: white",
        "measured_mean_ma_cm2": "mean measured |current density| over the compared pixels",
        "measured_noise_floor": "measured_noise_ma_cm2 / measured_mean_ma_cm2: the smallest "
                                "relative contrast the measured map shows above its noise",
        "contrast_to_noise": "predicted_contrast / measured_noise_floor",
        "partial_correlation": "correlation of the predicted and the measured map after each "
                               "has had its dependence on the height removed (cubic "
                               "regression spline of the height, pixel maps, then smoothed): "
                               "the prediction's skill beyond the height",
        "partial_correlation_z": "partial correlation minus its mean over height-conditioned "
                                 "surrogates of the measured map, in their standard deviations",
        "partial_correlation_p": "one-sided permutation p-value of the partial correlation "
                                 "against the height-conditioned surrogates",
        "conditional_baseline_overlap": "mean top-region overlap of the prediction with the "
                                        "height-conditioned surrogates (the measured map's "
                                        "height dependence kept, its residual shifted/flipped)",
        "conditional_baseline_overlap_std": "standard deviation of the same",
        "conditional_overlap_z": "top-region overlap minus its height-conditioned baseline "
                                 "mean, in baseline standard deviations",
        "conditional_overlap_p": "one-sided permutation p-value of the overlap against the "
                                 "height-conditioned surrogates",
        "height_only_overlap": "top-region overlap of the height-only prediction (the "
                               "measured map regressed on the height, in-sample) with the "
                               "measured map",
        "height_only_correlation": "correlation of the height-only prediction with the "
                                   "measured map (its square: the variance the height explains)"}
    units = {"noise_correlation_length_um": "um"}
    for key, v in cols.items():
        unit = units.get(key, "mA/cm2" if key.endswith("_ma_cm2") else "1")
        data[key] = ("interval", np.asarray(v, float),
                     {"units": unit, **({"long_name": long_names[key]} if key in long_names else {})})
    for key, v in ccols.items():
        data[key] = ("interval", np.asarray(v, float),
                     {"units": "1", "long_name": long_names[key]})
    data["skill_beyond_height"] = ("interval", np.asarray(beyond, dtype=str), {
        "long_name": "skill beyond height: the partial correlation given the height is "
                     "positive with a permutation p-value against the height-conditioned "
                     f"surrogates of at most {SKILL_BEYOND_HEIGHT_P:g} (a map that is a "
                     "function of the height alone has none); read it only where verdict is "
                     "resolvable"})
    data["verdict"] = ("interval", np.asarray(verdicts, dtype=str), {
        "long_name": "resolvable: the predicted contrast exceeds the measured noise floor, so "
                     "correlation and overlap measure skill; not resolvable: the measured map "
                     "cannot show the predicted contrast (the numbers are not skill)"})
    coords = {"time_s": ("time_s", t, {"units": "s"}), "y": ("y", y, {"units": "um"}),
              "x": ("x", x, {"units": "um"}), "bound": ["z0", "z1"]}
    if n_int:
        coords["interval"] = np.arange(n_int)
        coords["scan"] = ["k", "k+1"]
    ds = xr.Dataset(data, coords=coords, attrs={
        "series": series, "interface": interface, "source": f"{maps_key} height_um",
        "measured": f"{cd_key} current_density_ma_cm2 (|j|)" if cd_key else "none",
        "model": ("linearised Butler-Volmer" if r_ct_ohm_cm2 is not None else "primary")
                 + " current distribution (Zhang et al. 2024, doi:10.1039/d3ee03322h) on the "
                   "measured surface; mirror sides",
        "r_ct_ohm_cm2": float("nan") if r_ct_ohm_cm2 is None else float(r_ct_ohm_cm2),
        "conductivity_s_cm": conductivity_s_cm,
        "conductivity_model": ("from_ct: bulk conductivity_s_cm x eps/tau of the electrolyte "
                               f"layer {conductivity_from_ct['layer']!r} per scan "
                               "(conductivity_source per scan)" if conductivity_from_ct
                               else "uniform: analysis.interface conductivity_s_cm"),
        "thickness_um": thickness_um,
        "smooth_um": float("nan") if smooth_um is None else float(smooth_um),
        "smooth_rule": (f"given: {float(smooth_um):g} um on every map" if smooth_um is not None
                        else HEIGHT_SMOOTHING_RULE),
        "top_fraction": top_fraction, "n_shuffle": n_shuffle,
        "smoothing_um": float(smoothing_um or 0.0),
        "smoothing": (f"Gaussian, std {float(smoothing_um):g} um, on the predicted and the "
                      "measured map before the comparison (baseline and noise floor included)"
                      if smoothing_um else "none (pixel maps)"),
        "noise_estimator": NOISE_ESTIMATOR,
        "resolvable_rule": ("resolvable when predicted_contrast > "
                            f"{RESOLVABLE_CONTRAST_TO_NOISE:g} x measured_noise_floor"),
        "stress": stress,
        "baseline": "random circular shifts and flips of the measured map",
        "conditional_baseline": (
            "height-conditioned surrogates f(h) + T(e): the measured pixel map's regression "
            "on the height h of the surface the prediction was made on (cubic spline, knots "
            "at 10 quantiles and 10 even steps of h) plus its residual e randomly shifted and "
            "flipped (T), then smoothed by smoothing_um; statistics refitted on each "
            "(ssbscope.interface.height_conditioned_skill)"),
        "prediction_height": prediction_height,
        "prediction_height_rule": {
            "noise_weighted": (
                "noise_weighted: each interval's prediction solved on w h_k + (1 - w) h_k+1, "
                "w = var(n_k+1) / (var(n_k) + var(n_k+1)) from each scan's height noise fitted "
                "on its own map (interval_height_weight, interval_height_noise_um): the "
                "inverse-variance weighted mean, whose noise is uncorrelated with the measured "
                "map's n_k+1 - n_k (ssbscope.interface.topography.interval_height)"),
            "mid_interval": (
                "mid_interval: each interval's prediction solved on (h_k + h_k+1)/2, whose "
                "height noise is uncorrelated with the measured map's n_k+1 - n_k when the two "
                "scans are equally noisy (ssbscope.interface.topography.interval_height)"),
            "scan_start": (
                "scan_start: each interval's prediction solved on scan k's surface, whose "
                "height noise the measured map carries with sign -1")}[prediction_height],
        "conditional_caveat": {
            "noise_weighted": (
                "the measured map of interval k carries the height noise n_k+1 - n_k; the "
                "prediction on the noise-weighted surface carries w n_k + (1 - w) n_k+1, "
                "uncorrelated with it for independent noise in the two scans.  The weights "
                "use each map's per-pixel noise variance, not its spectrum; errors common to "
                "both scans (following the surface) are not removed.  Measured on the "
                "texture twin (no skill beyond the height; primary current, 6 um smoothing, "
                "20 solve nodes; height noise 0.5-2.2 um, unequal between scans): partial "
                "correlations 0.00 / 0.09 / 0.16 with the measured maps against 0.29 / "
                "0.25 / 0.31 on the mid-interval surface, the true maps -0.08 / 0.04 / 0.15 "
                "on the same surfaces"),
            "mid_interval": (
                "the measured map of interval k carries the height noise n_k+1 - n_k; the "
                "prediction on the mid-interval surface carries (n_k + n_k+1)/2, uncorrelated "
                "with it only when both scans are equally noisy: a covariance "
                "(var n_k+1 - var n_k)/2 remains otherwise (on the texture twin, whose scans' "
                "height noise is 0.5-2.2 um: partial correlations 0.29 / 0.25 / 0.31 with "
                "the measured maps, -0.19 / -0.15 / 0.10 with the true ones); "
                "prediction_height: noise_weighted removes it"),
            "scan_start": (
                "the measured map of interval k is a thickness change from scan k, so it "
                "carries scan k's height noise (with sign -1 when plating, +1 in |j| when "
                "stripping), to which the prediction on scan k's surface responds too: the "
                "partial correlation is biased low in plating and high in stripping "
                "intervals, the more the noisier the heights (the texture twin, whose growth "
                "has no skill beyond the height: 0.40 in its stripping interval with the "
                "measured map, -0.27 with the true one); prediction_height: noise_weighted "
                "removes it")}[prediction_height],
        "pairing": {
            "noise_weighted": ("prediction on the noise-weighted surface w h_k + (1 - w) "
                               "h_k+1 vs the map of interval k (scan k -> k+1)"),
            "mid_interval": ("prediction on the mid-interval surface (h_k + h_k+1)/2 vs the "
                             "map of interval k (scan k -> k+1)"),
            "scan_start": ("prediction on the surface of scan k vs the map of interval k "
                           "(scan k -> k+1)")}[prediction_height],
        "compared": "projected_current_ma_cm2 (current per projected area) vs the measured |j|",
        "notes": notes})
    return {f"interface/{series}/surface_current": ds}

def _ct_conductivity(inputs, t, bulk, *, labels_key, layer, phase, tortuosity_key, layers):
    """Per-scan ``bulk * eps / tau`` of ``phase`` in ``layer`` for the scans at times ``t``.

    From ``transport/<series>/tortuosity`` when it solved the same material and layer along z
    (its ``d_eff_ratio``), else from the labels (:func:`ssbscope.interface.effective_conductivity`
    on the layer's band ``layer_z_vox``).  Returns ``(sigma, (eps, tau), source, notes, core)``
    with ``core`` the ``[z0, z1)`` slices of each scan's labels solved (-1 where the value came
    from the transport stage or none was found).
    """
    from ssbscope.errors import EmptyResultError, InputError
    from ssbscope.interface.topography import effective_conductivity
    from ssbscope.store import attr_list
    from ssbscope.transport.stages import _layer_bands

    nt = t.size
    sig = np.full(nt, np.nan)
    et = np.full((nt, 2), np.nan)
    core = np.full((nt, 2), -1, np.int64)
    src = np.full(nt, "", dtype=object)
    notes = []
    tr = inputs[tortuosity_key].load() if tortuosity_key else None
    use_tr = (tr is not None and str(tr.attrs.get("layer")) == layer
              and str(tr.attrs.get("phase")) == str(phase)
              and int(tr.attrs.get("transport_axis", -1)) == 0
              and tr.sizes.get("time_s") == nt)
    if tr is not None and not use_tr:
        notes.append(f"{tortuosity_key} solved {tr.attrs.get('phase')!r} in layer "
                     f"{tr.attrs.get('layer')!r} along axis {tr.attrs.get('transport_axis')}, "
                     f"not {phase!r} in {layer!r} along z: eps/tau from the labels")
    lab = None
    for k in range(nt):
        if use_tr:
            d = float(tr["d_eff_ratio"].values[k])
            if np.isfinite(d):
                sig[k] = bulk * d
                et[k] = float(tr["volume_fraction"].values[k]), float(tr["tau"].values[k])
                src[k] = f"{tortuosity_key} d_eff_ratio (eps/tau)"
                continue
        if lab is None:
            lab = inputs[labels_key].load()
            phases = [str(p) for p in attr_list(lab.attrs["phases"])]
            if phase not in phases:
                raise InputError(f"{labels_key}: the electrolyte layer {layer!r} is of material "
                                 f"{phase!r}, which is not a segmented phase (phases: "
                                 f"{', '.join(phases)}); give analysis.interface.topography."
                                 "conductivity_s_cm as a number")
            pidx = phases.index(phase)
            fp = np.asarray(lab["cell_mask"].values, bool)
        band = _layer_bands(lab, layers, k).get(layer)
        try:
            if band is None:
                raise EmptyResultError(f"layer {layer!r} absent in this scan")
            r = effective_conductivity(lab["labels"].values[k], pidx, band, fp,
                                       bulk_conductivity_s_cm=bulk)
        except EmptyResultError as e:
            src[k] = f"labels: none ({e})"
            continue
        sig[k] = r.conductivity_s_cm
        et[k] = r.volume_fraction, r.tau
        core[k] = r.core_z_vox
        src[k] = f"{labels_key}: {r.source}"
    return sig, et, src, notes, core
