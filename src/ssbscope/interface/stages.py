"""Pipeline stages of the interface area: contoured Li|electrolyte interfaces.

The contoured-interface study of Zhang et al. 2024 (doi:10.1039/d3ee03322h; 003_103f2bf5a3479ade):
local current, creep pressure and the critical current of periodic Li contours against a flat
interface.  The science is in :mod:`ssbscope.interface.study`; these stages only assemble its
tables into datasets.

:func:`input_stages` (``ssbscope run``): ``interface.contour_study`` when the experiment's
``analysis.interface`` lists ``cases``: those contours and shapes at its kinetics, creep and
fracture parameters, repeated at ``kinetics_r_ct_ohm_cm2`` when given ->
``interface/contour_study`` (series "cases" and "kinetics").

:func:`demo_stages` (the YAML's ``twin.modalities`` names ``interface``): the twin's study,
also ``interface.contour_study`` (Figs. 1-4: shapes at H25S150, H at fixed S, S at fixed H,
fixed H/S) with the grid convergence of the maximum current, and (sizes small and medium) the
H series at S = 150 um to H/S = 1 at three charge-transfer resistances (series "kinetics", the
Wagner-number study of :func:`ssbscope.interface.kinetics_sweep`) and (size medium) the three
shapes along that H series (series "shapes_H", 8 finite-slope pyramid/frustum solves of 4-20 s
CPU each) -> ``interface/contour_study``, ``interface/grid_convergence``,
``interface/surface_fields``.

Both studies write ``interface/contour_study`` (the report reads one key whichever ran), so an
experiment runs one of them: :class:`ssbscope.config.Experiment` rejects ``analysis.interface``
cases together with ``twin.modalities: [interface]`` (a ConfigError naming both).
"""

from __future__ import annotations

import logging

import numpy as np

__all__ = ["demo_stages", "input_stages"]

log = logging.getLogger(__name__)

_SIZES = {  # contour grid, sweep subset
    "tiny": (10, ("shapes", "constant_S")),
    "small": (12, ("shapes", "constant_S", "constant_H", "constant_ratio")),
    "medium": (16, ("shapes", "constant_S", "constant_H", "constant_ratio", "shapes_H")),
}


def _with_units(ds):
    from ssbscope.store import with_default_units

    return with_default_units(ds)


def _size(config) -> str:
    from ssbscope.config import twin_size

    return twin_size(config, tuple(_SIZES))



def _sweep_table(tasks, common):
    """Run contour-sweep tasks ``(series, r_ct, shape, (H, S), stokes_n_xy)`` through dask.

    One pure ``dask.delayed`` task per contour on the pipeline's scheduler (local threads, or
    the workers of a dask.distributed cluster); tasks with equal arguments (H25S150 in several
    series) are computed once.  Returns the rows in task order with ``series``,
    ``r_ct_ohm_cm2`` and ``kinetic_length_um`` (``sigma R_ct``) in front.
    """
    import dask
    import pandas as pd

    from ssbscope.interface import contour_sweep

    parts = dask.compute(*[
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

def _contour_stage(ctx, inputs, *, size="small", r_ct_ohm_cm2=10.0, conductivity_s_cm=2e-3,
                   critical_pressure_mpa=None, grain_size_um=None, flaw_depth_um=None):
    import pandas as pd
    import xarray as xr

    from ssbscope.interface import (
        KINETICS_SWEEP,
        PAPER_SWEEPS,
        current_distribution,
        grid_convergence,
    )
    from ssbscope.interface.creep import (
        DEFAULT_FLAW_DEPTH_UM,
        DEFAULT_GRAIN_SIZE_UM,
        LI6PS5CL_FRACTURE_TOUGHNESS_MPA_M05,
    )
    from ssbscope.interface.shapes import DEFAULT_TIP_RADIUS_UM

    grain_size_um = DEFAULT_GRAIN_SIZE_UM if grain_size_um is None else grain_size_um
    flaw_depth_um = DEFAULT_FLAW_DEPTH_UM if flaw_depth_um is None else flaw_depth_um
    n_grid, sweeps = _SIZES[size]
    # finite-slope creep pressure, Q2 elements per quarter-cell side.  Egg-box series (local
    # viscosity): the site pressure on 4 elements is 10-15 % above that on 8, on 6 within 4 %.
    # Shapes (local viscosity, mesh graded to the 2 um ridge rounding, interface layer of an
    # eighth of it): 6 elements are within 2 % of 8 laterally and of 24 layers; 4 elements
    # about 35 % low, so the shapes always use 6 (whole shapes series about 30 s CPU)
    stokes_n = 6 if size == "medium" else 4
    stokes_n_shapes = 6
    common = {"conductivity_s_cm": conductivity_s_cm, "critical_pressure_mpa": critical_pressure_mpa,
              "grain_size_um": grain_size_um, "flaw_depth_um": flaw_depth_um, "n_xy": n_grid,
              "pressure_model": "auto"}
    # one task per (series, charge-transfer resistance, shape, case), run by _sweep_table
    tasks = []
    for name in sweeps:
        if name == "shapes_H":  # medium: the three shapes along the H series at S = 150 um
            for shape in ("egg-box", "pyramid", "frustum"):
                for case in PAPER_SWEEPS["constant_S"]:
                    tasks.append((name, r_ct_ohm_cm2, shape, case, stokes_n_shapes))
            continue
        shapes = ("egg-box", "pyramid", "frustum") if name == "shapes" else ("egg-box",)
        for shape in shapes:
            for case in PAPER_SWEEPS[name]:
                tasks.append((name, r_ct_ohm_cm2, shape, case,
                              stokes_n_shapes if name == "shapes" else stokes_n))
    kinetics_rct = ()
    if size != "tiny":
        # Wagner-number study (kinetics_sweep): the H series at S = 150 um extended to H/S = 1
        # at the configured R_ct and at 4x and 15x it (kinetic lengths 0.2, 0.8, 3 mm)
        kinetics_rct = tuple(float(r_ct_ohm_cm2) * f for f in (1.0, 4.0, 15.0))
        for rct in kinetics_rct:
            for case in KINETICS_SWEEP:
                tasks.append(("kinetics", rct, "egg-box", case, stokes_n))
    table = _sweep_table(tasks, common)
    study = xr.Dataset.from_dataframe(table.rename_axis("case"))
    study.attrs.update({"paper": "003_103f2bf5a3479ade Figs. 1-4", "r_ct_ohm_cm2": r_ct_ohm_cm2,
                        "conductivity_s_cm": conductivity_s_cm,
                        "critical_pressure_mpa": float(table["critical_pressure_mpa"].iloc[0]),
                        "fracture_toughness_mpa_m05": LI6PS5CL_FRACTURE_TOUGHNESS_MPA_M05,
                        "flaw_depth_um": float(flaw_depth_um),
                        "grain_size_um": float(grain_size_um),
                        "tip_radius_um": DEFAULT_TIP_RADIUS_UM,
                        "flat_critical_current_ma_cm2": 1.0,
                        "geometric_current_ma_cm2": 1.0, "grid_n_xy": n_grid,
                        "pressure_model": "finite-slope (local secant viscosity)",
                        "stokes_n_xy": stokes_n, "stokes_n_xy_shapes": stokes_n_shapes,
                        "kinetics_r_ct_ohm_cm2": list(kinetics_rct),
                        "series_kinetics": "the H series at S = 150 um to H/S = 1 at each of "
                                           "kinetics_r_ct_ohm_cm2 (interface.kinetics_sweep)"})
    gc_rows = []
    for shape, rct in (("egg-box", None), ("egg-box", r_ct_ohm_cm2), ("pyramid", r_ct_ohm_cm2),
                       ("frustum", r_ct_ohm_cm2)):
        g = grid_convergence(shape, 25, 150, grids=(8, n_grid, n_grid + 4),
                             r_ct_ohm_cm2=rct, conductivity_s_cm=conductivity_s_cm,
                             grain_size_um=grain_size_um)
        g.insert(0, "kinetics", "primary" if rct is None else "linear BV")
        gc_rows.append(g)
    gc = xr.Dataset.from_dataframe(pd.concat(gc_rows, ignore_index=True).rename_axis("run"))
    fields = {}
    x = None
    for shape in ("egg-box", "pyramid", "frustum"):
        for kind, rct in (("primary", None), ("kinetic", r_ct_ohm_cm2)):
            d = current_distribution(shape, 25, 150, r_ct_ohm_cm2=rct,
                                     conductivity_s_cm=conductivity_s_cm, thickness_um=1000.0,
                                     geometric_current_ma_cm2=1.0, n_xy=n_grid, n_zeta=n_grid)
            x, _, j, h = d.full_cell()
            fields[(shape, kind)] = j
            fields[(shape, "height")] = h
    shapes = ["egg-box", "pyramid", "frustum"]
    sf = xr.Dataset(
        {"current_ma_cm2": (("shape", "kinetics", "y_um", "x_um"),
                            np.stack([[fields[(s, k)] for k in ("primary", "kinetic")]
                                      for s in shapes])),
         "li_height_um": (("shape", "y_um", "x_um"), np.stack([fields[(s, "height")] for s in shapes]))},
        coords={"shape": shapes, "kinetics": ["primary", "kinetic"], "x_um": x, "y_um": x},
        attrs={"height_um": 25.0, "separation_um": 150.0, "geometric_current_ma_cm2": 1.0,
               "r_ct_ohm_cm2": r_ct_ohm_cm2})
    return {"interface/contour_study": _with_units(study),
            "interface/grid_convergence": _with_units(gc),
            "interface/surface_fields": _with_units(sf)}

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
        raise ParameterError("echem/eis r_ct_ohm", r_ohm,
                             f"the EIS fit of spectrum {k} ({labels[k]}) gave no positive R_ct",
                             "check the spectrum and its fit in the report, or set "
                             "analysis.interface.r_ct_ohm_cm2 to a number")
    value = r_ohm * float(area_cm2) / int(interfaces)
    src = ds["source"].values[k] if "source" in ds else ""
    return value, (f"EIS fit of spectrum {k} ({labels[k]}{', ' + str(src) if src else ''}): "
                   f"R_ct = {r_ohm:.4g} Ohm x {float(area_cm2):.4g} cm2 / {int(interfaces)} "
                   f"interface(s) = {value:.4g} Ohm cm2")

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
                        eis_interfaces=2, cell_area_cm2=None, stress="normal",
                        stack_pressure_mpa=0.0, lateral_stress_ratio=0.0,
                        flat_critical_current_ma_cm2=1.0, ccd_log=None):
    """Contour study of ``analysis.interface`` (``ssbscope run``): the user's cases and shapes
    at the configured kinetics, repeated at ``kinetics_r_ct_ohm_cm2`` (series "kinetics").
    With ``r_ct_ohm_cm2 = "eis"`` the resistance comes from the ``echem/eis`` fit."""
    import xarray as xr

    from ssbscope.interface.creep import LI6PS5CL_FRACTURE_TOUGHNESS_MPA_M05
    from ssbscope.interface.shapes import DEFAULT_TIP_RADIUS_UM

    r_ct_source = "analysis.interface.r_ct_ohm_cm2"
    if r_ct_ohm_cm2 == "eis":
        r_ct_ohm_cm2, r_ct_source = _r_ct_from_eis(inputs["echem/eis"].load(), eis_spectrum,
                                                   eis_interfaces, cell_area_cm2)

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
    if extra:
        tasks += [("kinetics", rct, "egg-box" if "egg-box" in shapes else shapes[0], case,
                   stokes_n_xy) for rct in [float(r_ct_ohm_cm2), *extra] for case in cases]
    table = _sweep_table(tasks, common)
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
                        "stokes_n_xy": stokes_n_xy, "stokes_n_xy_shapes": stokes_n_xy,
                        "kinetics_r_ct_ohm_cm2": [float(r_ct_ohm_cm2), *extra] if extra else []})
    return {"interface/contour_study": _with_units(study)}

def input_stages(exp) -> list:
    """Stages of ``ssbscope run`` for this area: the contour study of ``analysis.interface``
    when it lists ``cases``.

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
    if cfg is None or not cfg.cases:
        return []
    params = cfg.model_dump(mode="json")
    params["cases"] = [list(c) for c in cfg.cases]
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
        needs = needs + ("echem/eis",)
    return [Stage("interface.contour_study", _user_contour_stage, inputs=needs,
                  outputs=("interface/contour_study",), params=params)]

def demo_stages(config) -> list:
    """The twin's contour study (see the module docstring).

    Parameters
    ----------
    config : ssbscope.config.Experiment or None
        ``config.twin.size`` picks the sweeps and grids ("tiny", "small", "medium").

    Returns
    -------
    list of ssbscope.pipeline.Stage
    """
    from ssbscope.pipeline import Stage

    return [Stage("interface.contour_study", _contour_stage,
                  outputs=("interface/contour_study", "interface/grid_convergence",
                           "interface/surface_fields"), params={"size": _size(config)})]
