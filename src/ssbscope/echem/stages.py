"""Pipeline stages of the electrochemistry area (``ssbscope run``; the demo is a run too).

:func:`input_stages` reads an experiment's potentiostat files (``inputs.echem`` of the YAML):

1. ``echem.inputs.read`` reads every cycling log with :func:`ssbscope.echem.read` into one time
   series per log on the ``time_s`` axis (``echem/timeseries`` for the first log, the clock of
   the top-level cell's imaging inputs, then ``echem/<label>/timeseries``), with the cumulative
   charge and per-half-cycle capacity, areal and specific with the area and active mass of the
   log's cell (``cell:`` of the input, default the top-level cell).
2. ``echem.inputs.analyse`` computes the cycle table and CE (``echem/cycles``), shorts and the
   critical current density of a stepped protocol (``echem/events``), and the
   electrochemical state at the time of every imaging input and every
   ``analysis.echem.states`` entry (``echem/states``).
3. ``echem.inputs.eis`` reads the ``kind: eis`` spectra and fits the circuit of
   ``analysis.echem.eis_circuit`` (default ``auto``: Randles or a solid-state multi-arc
   circuit, by BIC; ``echem/eis``). A file with several spectra (a ``spectrum`` column, e.g.
   the sweeps of a PSTrace export) is fitted spectrum by spectrum, one state each, labelled
   ``<label> #<k>``.

Every dataset carries units in ``attrs["units"]`` (or in the variable name's suffix).  The
same functions work without the pipeline: :func:`timeseries_dataset`, :func:`cycles_dataset`,
:func:`events_dataset`, :func:`eis_dataset` turn DataFrames / spectra into the datasets.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pandas as pd

__all__ = [
    "input_stages",
    "MAIN_LOG",
    "timeseries_dataset",
    "cycles_dataset",
    "events_dataset",
    "eis_dataset",
]

log = logging.getLogger(__name__)

#: Dataset name of the first cycling log.
MAIN_LOG = "first_cycle"


def _dataset_name(logname: str) -> str:
    return "echem/timeseries" if logname == MAIN_LOG else f"echem/{logname}/timeseries"


# --------------------------------------------------------------------------------------
# DataFrame -> Dataset converters (usable without the pipeline)
# --------------------------------------------------------------------------------------
def timeseries_dataset(df: pd.DataFrame, *, area_cm2: float | None = None,
                       mass_mg: float | None = None, name: str = "", source: str = ""):
    """One potentiostat log as an :class:`xarray.Dataset` on the ``time_s`` axis.

    Parameters
    ----------
    df : pandas.DataFrame
        Table from :func:`ssbscope.echem.read` (``time_s``, ``voltage_V``, ``current_A``
        [, ``cycle``, ``step``, ``mode``]); not modified.
    area_cm2, mass_mg : float, optional
        Electrode area and active mass (adds areal / specific capacities).
    name, source : str
        Log name and source file (attrs).

    Returns
    -------
    xarray.Dataset
        Dimension ``time_s`` (s since the start of the test); variables ``voltage_V``,
        ``current_A`` (> 0 on charge), ``charge_mAh`` (net cumulative), ``capacity_mAh``
        (within the half-cycle), ``half_cycle`` and, where recorded, ``cycle``, ``step``,
        ``mode``; ``*_mAh_cm2`` / ``*_mAh_g`` with area / mass.
    """
    import xarray as xr

    from ssbscope.echem import add_capacity

    out = add_capacity(df, area_cm2=area_cm2, mass_mg=mass_mg)
    t = out["time_s"].to_numpy(dtype=np.float64)
    data = {}
    for col in ("voltage_V", "current_A", "charge_mAh", "capacity_mAh", "charge_mAh_cm2",
                "capacity_mAh_cm2", "charge_mAh_g", "capacity_mAh_g"):
        if col in out.columns:
            data[col] = ("time_s", out[col].to_numpy(dtype=np.float64))
    for col in ("cycle", "step", "half_cycle"):
        if col in out.columns:
            data[col] = ("time_s", out[col].to_numpy(dtype=np.int64))
    for col in ("mode", "direction"):
        if col in out.columns:
            data[col] = ("time_s", out[col].astype(str).to_numpy(dtype=object))
    ds = xr.Dataset(data, coords={"time_s": ("time_s", t)})
    units = {"voltage_V": "V", "current_A": "A", "charge_mAh": "mA*h", "capacity_mAh": "mA*h",
             "charge_mAh_cm2": "mA*h/cm^2", "capacity_mAh_cm2": "mA*h/cm^2",
             "charge_mAh_g": "mA*h/g", "capacity_mAh_g": "mA*h/g", "time_s": "s"}
    for k, u in units.items():
        if k in ds.variables:
            ds[k].attrs["units"] = u
    ds["time_s"].attrs["long_name"] = "time since the start of the electrochemical test"
    ds["current_A"].attrs["sign"] = "positive on charge"
    ds.attrs.update({"log": name, "source": source,
                     "area_cm2": float(area_cm2) if area_cm2 else float("nan"),
                     "active_mass_mg": float(mass_mg) if mass_mg else float("nan")})
    if df.attrs.get("warnings"):  # rows the reader dropped (cut last row, NaN rows, ...)
        ds.attrs["warnings"] = [str(w) for w in df.attrs["warnings"]]
    return ds


def cycles_dataset(tables: dict):
    """Cycle tables of several logs as one dataset (dimension ``row``).

    Parameters
    ----------
    tables : dict of str to pandas.DataFrame
        Log name -> :func:`ssbscope.echem.cycle_table` output.

    Returns
    -------
    xarray.Dataset
        ``log``, ``cycle``, ``charge_capacity_mAh``, ``discharge_capacity_mAh``,
        ``coulombic_efficiency`` (fraction, units "1"), ``charge_start_s`` ... per row.
    """
    import xarray as xr

    frames = []
    for name, tab in tables.items():
        t = tab.copy()
        t.insert(0, "log", name)
        frames.append(t)
    cols = ["log", "cycle", "charge_start_s", "charge_end_s", "discharge_start_s",
            "discharge_end_s", "charge_capacity_mAh", "discharge_capacity_mAh",
            "coulombic_efficiency"]
    df = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=cols)
    data = {}
    for c in cols:
        a = df[c].to_numpy()
        if c == "log":
            a = a.astype(object)
        elif c == "cycle":
            a = a.astype(np.int64)
        else:
            a = a.astype(np.float64)
        data[c] = ("row", a)
    ds = xr.Dataset(data)
    ds["coulombic_efficiency"].attrs["units"] = "1"
    return ds


def events_dataset(rows: list[dict]):
    """Events (shorts, CCD) of several logs as one dataset (dimension ``event``).

    Parameters
    ----------
    rows : list of dict
        Keys: ``log``, ``kind`` ("soft", "hard", "ccd"), ``onset_s``, ``end_s`` (NaN if none),
        ``ccd_ma_cm2`` (NaN for shorts), ``evidence`` (dict).

    Returns
    -------
    xarray.Dataset
    """
    import xarray as xr

    keys = ["log", "kind", "onset_s", "end_s", "ccd_ma_cm2", "evidence"]
    data = {}
    for k in keys:
        vals = [r.get(k) for r in rows]
        if k in ("log", "kind"):
            data[k] = ("event", np.array([str(v or "") for v in vals], dtype=object))
        elif k == "evidence":
            data[k] = ("event", np.array([json.dumps(v or {}, sort_keys=True, default=float)
                                          for v in vals], dtype=object))
        else:
            data[k] = ("event", np.array([np.nan if v is None else float(v) for v in vals],
                                         dtype=np.float64))
    return xr.Dataset(data)


#: Fit values stored per spectrum beside R_s and R_ct (NaN when the circuit has none or the fit
#: failed): the solid-state arcs, the charge-transfer CPE and the selection criteria.
_EIS_EXTRA_FLOATS = ("r_b_ohm", "r_b_err_ohm", "r_gb_ohm", "r_gb_err_ohm", "r_int_ohm",
                     "r_int_err_ohm", "r_electrolyte_ohm", "r_electrolyte_err_ohm", "n_cpe",
                     "n_params", "aic", "bic")

#: Arc labels whose effective capacitance is stored (``c_<label>_F``, ``c_<label>_F_cm2``,
#: ``c_<label>_F_per_cm``) and the stored capacitance flags ``c_<name>_consistent`` with the
#: labels each covers.
_EIS_C_ARCS = ("b", "gb", "el", "i1", "i2", "ct")
_EIS_C_FLAGS = {"b": ("b",), "gb": ("gb",), "el": ("el",), "int": ("i1", "i2"), "ct": ("ct",)}


#: Stored per-arc flags ``r_<name>_resolved`` and the circuit arc labels each covers.
_EIS_ARC_FLAGS = {"b": ("b",), "gb": ("gb",), "int": ("i1", "i2"), "ct": ("ct",)}


def eis_dataset(spectra: list[dict]):
    """Impedance spectra and their fits as one dataset (dimensions ``state``, ``point``).

    Parameters
    ----------
    spectra : list of dict
        Keys: ``label``, ``time_s``, ``frequency_Hz``, ``z_real_ohm``, ``z_imag_ohm`` (arrays of
        one length), fitted ``r_s_ohm``, ``r_ct_ohm``, ``r_s_err_ohm``, ``r_ct_err_ohm`` and the
        fitted curve ``z_fit_real_ohm``, ``z_fit_imag_ohm`` (NaN when no fit), ``source``,
        and the fit's verdict ``fit_ok`` (bool), ``fit_problem`` (str, "" when ok),
        ``relative_residual``. A failed fit has NaN values: it is stored as failed, not as
        numbers. Optional: the fitted ``circuit`` and ``selection`` (str; ``auto``: every
        candidate's BIC/AIC and verdict), ``n_params``, ``aic``, ``bic`` and the solid-state
        values ``r_b_ohm``, ``r_gb_ohm``, ``r_int_ohm``, ``r_electrolyte_ohm`` (with
        ``*_err_ohm``), ``n_cpe``, ``c_ct_F`` (see :class:`ssbscope.echem.eis.EISFit`);
        ``r_s_fixed`` (bool): the circuit was fitted with R_s = 0 (at its bound, not resolved),
        so ``r_s_ohm`` is NaN while the fit is ok; ``spectrum`` (int): the spectrum's number
        in its file (a file with several spectra gives one entry per spectrum);
        ``unresolved`` (tuple of arc labels, ``EISFit.unresolved``) and ``fit_note`` (str):
        arcs whose R the spectrum does not resolve are NaN while the fit stays ok, flagged by
        the boolean variables ``r_b_resolved``, ``r_gb_resolved``, ``r_int_resolved``,
        ``r_ct_resolved`` (False: the fitted circuit has that arc and its R is not resolved;
        True otherwise, also when the circuit has no such arc) and explained in ``fit_note``.
        Capacitance check (:func:`ssbscope.echem.eis.check_capacitances`): ``c_<arc>_F``
        (effective capacitance, F), ``c_<arc>_F_cm2`` (per electrode area, F cm^-2) and
        ``c_<arc>_F_per_cm`` (times electrolyte thickness over area, F cm^-1) for the arcs
        ``b``, ``gb``, ``el``, ``i1``, ``i2``, ``ct`` (NaN where the circuit has no such arc,
        its R is not resolved, the fit failed or the geometry is unknown); the flags
        ``c_b_consistent``, ``c_gb_consistent``, ``c_el_consistent``, ``c_int_consistent``,
        ``c_ct_consistent`` (False: the arc's capacitance contradicts its label; True
        otherwise, also unchecked), from the entries' ``c_inconsistent`` (tuple of labels);
        ``c_note`` (the contradictions, also appended to ``fit_note``) and ``c_check`` (the
        geometry used and every arc's normalised C and verdict).

    Returns
    -------
    xarray.Dataset
    """
    import xarray as xr

    n = max((len(s["frequency_Hz"]) for s in spectra), default=0)

    def pad(a):
        a = np.asarray(a, dtype=np.float64)
        return np.concatenate((a, np.full(n - a.size, np.nan)))

    data = {}
    for k in ("frequency_Hz", "z_real_ohm", "z_imag_ohm", "z_fit_real_ohm", "z_fit_imag_ohm"):
        data[k] = (("state", "point"), np.stack([pad(s.get(k, np.full(n, np.nan))) for s in spectra])
                   if spectra else np.zeros((0, n)))
    for k in ("time_s", "r_s_ohm", "r_ct_ohm", "r_s_err_ohm", "r_ct_err_ohm", "relative_residual",
              *_EIS_EXTRA_FLOATS):
        data[k] = ("state", np.array([np.nan if s.get(k) is None else float(s.get(k))
                                      for s in spectra], dtype=np.float64))
    # fit verdict: fit_ok False -> the values above are NaN and fit_problem says why
    data["fit_ok"] = ("state", np.array([bool(s.get("fit_ok", s.get("r_s_ohm") is not None))
                                         for s in spectra], dtype=bool))
    # which spectrum of its file (0 for a single-spectrum file; a multi-spectrum file gives one
    # state per spectrum, labelled "<label> #<k>")
    data["spectrum"] = ("state", np.array([int(s.get("spectrum", 0) or 0) for s in spectra],
                                          dtype=np.int64))
    data["r_s_fixed"] = ("state", np.array([bool(s.get("r_s_fixed", False)) for s in spectra], dtype=bool))
    # effective capacitance per arc (Hsu & Mansfeld 2001) and its check against the arc's
    # label (Irvine et al. 1990, ssbscope.echem.eis.check_capacitances)
    for lab in _EIS_C_ARCS:
        for suf in ("F", "F_cm2", "F_per_cm"):
            k = f"c_{lab}_{suf}"
            data[k] = ("state", np.array([np.nan if s.get(k) is None else float(s.get(k))
                                          for s in spectra], dtype=np.float64))
    for arc, labs in _EIS_C_FLAGS.items():
        data[f"c_{arc}_consistent"] = ("state", np.array(
            [not (set(labs) & set(s.get("c_inconsistent", ()) or ())) for s in spectra], dtype=bool))
    # per-arc "not resolved" flags: the arc's R is NaN, the rest of the fit is kept
    for arc, labs in _EIS_ARC_FLAGS.items():
        data[f"r_{arc}_resolved"] = ("state", np.array(
            [not (set(labs) & set(s.get("unresolved", ()) or ())) for s in spectra], dtype=bool))
    data["fit_problem"] = ("state", np.array([str(s.get("fit_problem", "") or "") for s in spectra],
                                             dtype=object))
    data["relative_residual"] = (("state",), data["relative_residual"][1], {"units": "1"})
    for k in ("label", "source", "circuit", "selection", "fit_note", "c_note", "c_check"):
        data[k] = ("state", np.array([str(s.get(k, "")) for s in spectra], dtype=object))
    ds = xr.Dataset(data)
    for k, u in (("aic", "1"), ("bic", "1"), ("n_cpe", "1"), ("n_params", "1")):
        ds[k].attrs["units"] = u
    for lab in _EIS_C_ARCS:
        ds[f"c_{lab}_F"].attrs["units"] = "F"
        ds[f"c_{lab}_F_cm2"].attrs["units"] = "F/cm^2"
        ds[f"c_{lab}_F_per_cm"].attrs["units"] = "F/cm"
        ds[f"c_{lab}_F"].attrs["formula"] = "C_eff = (R Q)^(1/n) / R (Hsu & Mansfeld 2001, doi:10.5006/1.3280607)"
        ds[f"c_{lab}_F_cm2"].attrs["formula"] = "C_eff / electrode area"
        ds[f"c_{lab}_F_per_cm"].attrs["formula"] = "C_eff * electrolyte thickness / electrode area"
    ds["z_imag_ohm"].attrs["convention"] = "Z = Z' + j Z''; capacitive arcs have Z'' < 0"
    return ds


# --------------------------------------------------------------------------------------
# stages
# --------------------------------------------------------------------------------------
def _df(ds) -> pd.DataFrame:
    return pd.DataFrame({"time_s": ds["time_s"].values, "voltage_V": ds["voltage_V"].values,
                         "current_A": ds["current_A"].values})


def _fit_curve(fit, f):
    """The fitted impedance at ``f`` from the fit's circuit values (None if it has none)."""
    if not hasattr(fit, "impedance"):
        return None
    try:
        return fit.impedance(f)
    except (ValueError, TypeError):
        return None


# --------------------------------------------------------------------------------------
# real inputs (``ssbscope run EXPERIMENT.yaml``)
# --------------------------------------------------------------------------------------
_FORMATS = {"auto": None, "mpr": "biologic-mpr", "mpt": "biologic-mpt", "gamry": "gamry-dta",
            "csv": "csv", "neware": "neware", "arbin": "arbin", "maccor": "maccor",
            "novonix": "novonix", "neware-regular": "neware-regular", "pec": "pec", "bdf": "bdf",
            "landt": "landt", "basytec": "basytec",
            "nda": "neware-nda", "ndax": "neware-ndax", "res": "arbin-res",
            "pssession": "palmsens-pssession"}


def _slug(text: str) -> str:
    import re

    out = re.sub(r"[^a-z0-9]+", "_", str(text).lower()).strip("_")
    return out or "log"


#: Solid-electrolyte materials (lower case, no spaces) and layer names that mark the cell's
#: electrolyte layer, whose thickness normalises the electrolyte arcs' capacitance.
_ELECTROLYTE_MATERIALS = {"peo-litfsi", "li6ps5cl", "li5.4ps4.6cl1.4", "lpscl", "llzo",
                          "li7la3zr2o12", "lipon", "li3ps4", "lps", "li10gep2s12", "lgps", "latp",
                          "lagp", "li3incl6", "li3ycl6", "spe", "peo"}
_ELECTROLYTE_NAMES = {"electrolyte", "se", "sse", "spe", "separator"}


def _electrolyte_thickness_cm(cell) -> tuple[float | None, str]:
    """The solid electrolyte's nominal thickness (cm) from ``cell.layers`` and where it comes
    from: the one layer whose material is a solid electrolyte (or, failing that, whose name is
    ``electrolyte``, ``separator``, ``SE``, ``SSE``, ``SPE``), with a thickness > 0; None (and
    why) when there is no such layer or more than one."""
    layers = list(getattr(cell, "layers", []) or [])
    if not layers:
        return None, "cell.layers declares no stack"

    def norm(t):
        return str(t).lower().replace(" ", "").replace("_", "-")

    for how, hits in (("material", [la for la in layers if norm(la.material) in _ELECTROLYTE_MATERIALS]),
                      ("name", [la for la in layers if norm(la.name) in _ELECTROLYTE_NAMES])):
        if len(hits) == 1 and hits[0].thickness_um > 0:
            return float(hits[0].thickness_um) * 1e-4, (f"cell.layers {hits[0].name!r} "
                                                         f"({hits[0].thickness_um:g} um, by {how})")
        if len(hits) > 1:
            return None, f"cell.layers has {len(hits)} electrolyte layers by {how}"
    return None, "no cell.layers entry is a solid electrolyte"


def _input_items(exp) -> tuple[list[dict], list[dict]]:
    """(cycling, eis) input records with resolved paths and unique dataset names."""
    cyc, eis = [], []
    used = set()
    import glob

    from ssbscope.paths import is_pattern, natural_key

    expanded = []  # a glob gives one input per matching file (label: its stem, after label_)
    for item in getattr(getattr(exp, "inputs", None), "echem", []) or []:
        files = sorted((Path(q) for q in glob.glob(str(exp.resolve(item.path)))
                        if Path(q).is_file()), key=natural_key) if is_pattern(item.path) else []
        if len(files) == 1:
            expanded.append((item, files[0], item.label or files[0].stem))
        elif files:
            expanded.extend((item, f, f"{item.label}_{f.stem}" if item.label else f.stem)
                            for f in files)
        else:
            expanded.append((item, exp.resolve(item.path), item.label or Path(item.path).stem))
    for item, path, label in expanded:
        cell = exp.cell_of(item) if hasattr(exp, "cell_of") else getattr(exp, "cell", None)
        rec = {"path": str(path), "format": _FORMATS.get(item.format),
               "columns": dict(item.columns), "label": label,
               "time_s": item.time_s, "invert_current": bool(getattr(item, "invert_current", False)),
               "nan_policy": getattr(item, "nan_policy", "raise"),
               "cell": getattr(item, "cell", None),
               "area_cm2": cell.electrode_area_cm2 if cell is not None else None,
               "mass_mg": cell.active_mass_mg if cell is not None else None}
        if item.kind == "eis":
            rec["thickness_cm"], rec["thickness_from"] = _electrolyte_thickness_cm(cell)
            eis.append(rec)
            continue
        base = name = MAIN_LOG if not cyc else _slug(rec["label"])
        j = 1
        while name in used or (cyc and name == MAIN_LOG):
            j += 1
            name = f"{base}_{j}"
        used.add(name)
        rec["name"] = name
        cyc.append(rec)
    return cyc, eis


def _scan_times(exp, cell=None) -> list[tuple[str, float]]:
    """(label, time_s) of every imaging input of ``cell`` (its name, None for the top-level
    cell) that gives its time on the echem clock, and of every ``analysis.echem.states``."""
    out = []
    inputs = getattr(exp, "inputs", None)
    for area in ("tomo", "compton", "neutron"):
        for item in getattr(inputs, area, []) or []:
            if item.time_s is None:
                continue
            own = getattr(item, "cell", None)
            if own is None and getattr(item, "series", None) in (getattr(exp, "cells", None) or {}):
                own = item.series
            if own != cell:
                continue
            # one row per state of a series (several files per state: beam heights, ...)
            name = getattr(item, "state", None) or item.label or Path(item.path).stem
            row = (f"{area}: {name}", float(item.time_s))
            if row not in out:
                out.append(row)
    an = getattr(getattr(exp, "analysis", None), "echem", None)
    if cell is None:  # named moments, unless an imaging input already marks that time
        seen = {t for _, t in out}
        out.extend((st.label, float(st.time_s)) for st in getattr(an, "states", []) or []
                   if float(st.time_s) not in seen)
    return sorted(out, key=lambda x: x[1])


def _yaml_map(mapping: dict) -> str:
    """``{key: "value", ...}`` as written in an experiment file's flow mapping."""
    return "{" + ", ".join(f'{k}: "{v}"' for k, v in mapping.items()) + "}"


def yaml_column_error(exc, path, columns: dict | None = None, *, where: str | None = None):
    """The reader's missing-column error reworded for a YAML user: the ``columns:`` mapping to
    write (keeping ``columns``, the mapping already given), instead of a Python call.

    Parameters
    ----------
    exc : ssbscope.errors.MissingColumnError
        Raised by the table reader, with ``missing``, ``mapped`` and ``columns_found``.
    path : path-like
        The file.
    columns : dict, optional
        The input's ``columns:`` mapping as given.
    where : str, optional
        Where to write it (default: under the input of that path in the experiment file).

    Returns
    -------
    MissingColumnError or None
        None when ``exc`` carries no column information (re-raise it unchanged).
    """
    from ssbscope.errors import MissingColumnError

    missing = getattr(exc, "missing", None)
    if not missing:
        return None
    cols = dict(columns or {})
    found = getattr(exc, "columns_found", [])
    want = {k: v for k, v in cols.items() if k not in missing}
    want.update({k: "<column header>" for k in missing})
    if getattr(exc, "mapped", None):
        k, v = next(iter(exc.mapped.items()))
        problem = f"columns: maps {k} to {v!r}, which the file lacks; columns found: {found}"
    else:
        problem = f"no column for {missing} found by name; columns found: {found}"
    where = where or f"under the input {{path: {Path(path).name}, ...}} in the experiment file"
    return MissingColumnError(path, problem, f"write `columns: {_yaml_map(want)}` {where}, "
                              "with <column header> replaced by the file's column name")


def _read_log(read, path, rec):
    """Read one cycling input; a missing or mis-mapped column is refused with the YAML to write
    (the reader's own message words the fix as a Python call)."""
    from ssbscope.errors import MissingColumnError, ParameterError

    cols = dict(rec["columns"])
    try:
        return read(path, format=rec["format"], invert_current=rec.get("invert_current", False),
                    nan_policy=rec.get("nan_policy", "raise"), **cols)
    except MissingColumnError as e:
        err = yaml_column_error(e, path, cols)
        if err is None:
            raise
        raise err from e
    except ParameterError as e:
        if getattr(e, "name", "") != "column_mapping":
            raise
        raise ParameterError("columns", cols, f"{path.name} is read by its instrument reader, "
                             "which knows its columns",
                             f"remove columns: under the input {{path: {path.name}, ...}} in "
                             "the experiment file") from e


def _inputs_read_stage(ctx, inputs, *, logs: list):
    from ssbscope.echem import read
    from ssbscope.echem.io.common import check_current_density

    out = {}
    for rec in logs:
        path = ctx.record_input(rec["path"])
        df = _read_log(read, path, rec)
        check_current_density(df, rec.get("area_cm2"), path,
                              field=f"cell {rec['cell']!r}" if rec.get("cell") else "the cell")
        ds = timeseries_dataset(df, area_cm2=rec.get("area_cm2"), mass_mg=rec.get("mass_mg"),
                                name=rec["name"], source=path.name)
        if rec.get("cell"):
            ds.attrs["cell"] = rec["cell"]
        out[_dataset_name(rec["name"])] = ds
    return out


def _inputs_analyse_stage(ctx, inputs, *, logs: list, drop_mV: float = 2.0, scans: list = ()):
    import xarray as xr

    from ssbscope.echem import state_at, summarize

    tables, events = {}, []
    for rec in logs:
        name = rec["name"]
        df = _df(inputs[_dataset_name(name)].load())
        summ = summarize(df, area_cm2=rec.get("area_cm2"), mass_mg=rec.get("mass_mg"), drop_mV=drop_mV)
        if len(summ.cycles):
            tables[name] = summ.cycles
        for ev in summ.shorts:
            events.append(dict(log=name, kind=ev.kind, onset_s=ev.onset_s, end_s=ev.end_s,
                               evidence=ev.evidence))
        if summ.ccd_ma_cm2 is not None:
            events.append(dict(log=name, kind="ccd", ccd_ma_cm2=summ.ccd_ma_cm2))
    main = _df(inputs[_dataset_name(MAIN_LOG)].load())
    t0, t1 = float(main["time_s"].iloc[0]), float(main["time_s"].iloc[-1])
    inside = [(lab, t) for lab, t in scans if t0 <= t <= t1]
    measured = state_at(main, [t for _, t in inside]) if inside else []
    states = xr.Dataset({
        "label": ("state", np.array([lab for lab, _ in inside], dtype=object)),
        "kind": ("state", np.array(["" for _ in inside], dtype=object)),
        "fraction": ("state", np.full(len(inside), np.nan)),
        "time_s": ("state", np.array([t for _, t in inside], dtype=np.float64)),
        "measured_state": ("state", np.array(measured, dtype=object)),
    })
    states["fraction"].attrs["units"] = "1"
    if len(inside) < len(scans):
        log.warning("%d imaging input(s) lie outside the echem log and get no state",
                    len(scans) - len(inside))
    return {"echem/cycles": cycles_dataset(tables), "echem/events": events_dataset(events),
            "echem/states": states}


def _eis_parts(z, label: str) -> list[tuple[str, int, "pd.DataFrame"]]:
    """(label, spectrum number, table) per spectrum of one EIS file: a file with several
    spectra (a ``spectrum`` column with more than one value, e.g. the sweeps of a PSTrace
    export) gives one entry per spectrum, labelled ``<label> #<k>``; a single-spectrum file
    keeps its label."""
    if "spectrum" not in z.columns or z["spectrum"].nunique() <= 1:
        return [(label, 0, z)]
    return [(f"{label} #{int(k)}", int(k), g) for k, g in z.groupby("spectrum", sort=True)]


def _inputs_eis_stage(ctx, inputs, *, spectra: list, circuit: str = "randles"):
    from ssbscope.echem import fit_eis, read_eis

    out = []
    for rec in spectra:
        path = ctx.record_input(rec["path"])
        z_all = read_eis(path, format=rec["format"])
        for label, k, z in _eis_parts(z_all, rec["label"]):
            out.append(_eis_item(z, label, k, rec, path, circuit, fit_eis))
    return {"echem/eis": eis_dataset(out)}


def _c_check_text(fit, rec) -> str:
    """What the capacitance check compared: the geometry used and each arc's C and verdict."""
    if not fit.fit_ok or not fit.capacitances:
        return ""
    area = rec.get("area_cm2")
    geo = [f"area {area:g} cm2" if area else "area unknown (0.01-100 cm2 assumed)",
           (f"electrolyte thickness {rec['thickness_cm'] * 1e4:g} um ({rec.get('thickness_from', '')})"
            if rec.get("thickness_cm") else
            f"electrolyte thickness unknown ({rec.get('thickness_from', '')}; 1 um-1 cm assumed)")]
    arcs = []
    for c in fit.capacitances:
        if not c["checked"]:
            arcs.append(f"{c['label']}: not checked (R not resolved)")
            continue
        v = f"{c['label']}: C = {c['c_F']:.3g} F"
        if np.isfinite(c["c_F_cm2"]):
            v += f", C/A = {c['c_F_cm2']:.3g} F cm^-2"
        if np.isfinite(c["c_F_per_cm"]):
            v += f", C l/A = {c['c_F_per_cm']:.3g} F cm^-1"
        arcs.append(v + (" consistent" if c["consistent"] else f" CONTRADICTS its label ({c['says']})"))
    return "; ".join(geo) + " | " + "; ".join(arcs)


def _eis_item(z, label, k, rec, path, circuit, fit_eis) -> dict:
    """Fit one spectrum and return its :func:`eis_dataset` entry (NaN values if it failed)."""
    f = z["frequency_Hz"].to_numpy(dtype=float)
    zr = z["z_real_ohm"].to_numpy(dtype=float)
    zi = z["z_imag_ohm"].to_numpy(dtype=float)
    from ssbscope.echem.eis import check_capacitances

    fit = check_capacitances(fit_eis(f, zr, zi, circuit=circuit), rec.get("area_cm2"),
                             rec.get("thickness_cm"))
    t = rec["time_s"]
    if t is None and "time_s" in z.columns:
        t = float(z["time_s"].iloc[0])
    item = dict(label=label, spectrum=k, time_s=t, frequency_Hz=f, z_real_ohm=zr, z_imag_ohm=zi,
                source=path.name, fit_ok=fit.fit_ok, fit_problem=fit.fit_problem,
                relative_residual=fit.relative_residual, circuit=fit.circuit,
                selection=fit.selection, n_params=fit.n_params, aic=fit.aic, bic=fit.bic,
                unresolved=tuple(fit.unresolved), fit_note=fit.fit_note,
                c_check=_c_check_text(fit, rec))
    if fit.fit_ok:  # a failed fit is stored as failed (NaN values), never as numbers
        item.update(r_s_ohm=fit.r_s_ohm, r_ct_ohm=fit.r_ct_ohm,
                    r_s_err_ohm=fit.r_s_err_ohm, r_ct_err_ohm=fit.r_ct_err_ohm,
                    **{k: getattr(fit, k) for k in _EIS_EXTRA_FLOATS
                       if k not in ("n_params", "aic", "bic")})
        item.update(c_inconsistent=tuple(fit.c_inconsistent), c_note=fit.c_note)
        for c in fit.capacitances:
            item.update({f"c_{c['label']}_F": c["c_F"], f"c_{c['label']}_F_cm2": c["c_F_cm2"],
                         f"c_{c['label']}_F_per_cm": c["c_F_per_cm"]})
        if fit.c_inconsistent:
            log.warning("echem: EIS fit of %s (%s): %s", path.name, label, fit.c_note)
        if fit.r_s_fixed:  # R_s = 0 was assumed (at its bound), not measured: no number
            item.update(r_s_ohm=None, r_s_err_ohm=None, r_s_fixed=True)
        zf = _fit_curve(fit, f)
        if zf is not None:
            item.update(z_fit_real_ohm=zf.real, z_fit_imag_ohm=zf.imag)
        if fit.unresolved:  # those arcs' R are NaN (EISFit), the rest is kept
            why = fit.fit_note[: -len(fit.c_note)].rstrip("; ") if fit.c_note else fit.fit_note
            log.warning("echem: EIS fit of %s (%s): %s", path.name, label, why)
    else:
        log.warning("echem: EIS fit of %s (%s) failed: %s", path.name, label, fit.fit_problem)
    return item


def input_stages(exp) -> list:
    """Stages reading an experiment's real electrochemistry files (``ssbscope run``).

    The first ``cycling`` input is the main log (``echem/timeseries``, the clock the imaging
    inputs' ``time_s`` refer to); further ones are ``echem/<label>/timeseries``.  Analysis:
    :func:`ssbscope.echem.summarize` per log (cycles and CE, shorts, the CCD of a stepped
    protocol with ``analysis.echem.drop_mV``) and the named state at the ``time_s`` of every
    tomo / compton / neutron input.  ``eis`` inputs are read and fitted.

    Parameters
    ----------
    exp : ssbscope.config.Experiment

    Returns
    -------
    list of ssbscope.pipeline.Stage
        Empty when the experiment has no echem inputs.
    """
    from ssbscope.errors import ConfigError
    from ssbscope.pipeline import Stage

    cyc, eis = _input_items(exp)
    stages = []
    if eis and not cyc:
        raise ConfigError(exp.base_dir or "experiment",
                          [("inputs.echem", "EIS inputs need a cycling log too (kind: cycling), "
                                            "whose clock the spectra's time_s refer to")])
    if cyc:
        names = [r["name"] for r in cyc]
        outs = tuple(_dataset_name(n) for n in names)
        stages.append(Stage("echem.inputs.read", _inputs_read_stage, outputs=outs,
                            params={"logs": cyc}))
        drop = exp.analysis.echem.drop_mV if getattr(exp, "analysis", None) is not None else 2.0
        stages.append(Stage("echem.inputs.analyse", _inputs_analyse_stage, inputs=outs,
                            outputs=("echem/cycles", "echem/events", "echem/states"),
                            params={"logs": cyc, "drop_mV": drop,
                                    "scans": _scan_times(exp, cyc[0]["cell"])}))
    if eis:
        circuit = exp.analysis.echem.eis_circuit if getattr(exp, "analysis", None) is not None else "auto"
        stages.append(Stage("echem.inputs.eis", _inputs_eis_stage, outputs=("echem/eis",),
                            params={"spectra": eis, "circuit": circuit}))
    return stages
