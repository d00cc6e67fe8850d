"""Pipeline stages of the electrochemistry area (``ssbscope demo``).

:func:`demo_stages` runs the electrochemistry twin end to end, the way a user's files go:

1. ``echem.twin`` writes the twin's potentiostat logs in real formats into ``ctx.raw_dir/echem``
   (BioLogic ``.mpt``, Neware-style CSV, generic CSV, PEIS ``.mpt``) and stores the ground
   truth (``echem/twin/truth``, ``echem/twin/states``, ``echem/twin/eis``).
2. ``echem.read`` reads every log with :func:`ssbscope.echem.read` into one time series per
   log on the ``time_s`` axis (``echem/timeseries`` for the main cell of 000_, then
   ``echem/<log>/timeseries``), with the cumulative charge and per-half-cycle capacity.
3. ``echem.analyse`` computes the cycle table and CE (``echem/cycles``), the paper's scan states
   (``echem/states``), shorts and the CCD (``echem/events``).
4. ``echem.eis`` reads the PEIS files and fits R_s + ((R_ct + W) ∥ CPE) (``echem/eis``).

:func:`input_stages` does the same for an experiment's real files (``inputs.echem`` of the
experiment YAML): ``echem.inputs.read`` then ``echem.inputs.analyse`` (cycles, events, and
the electrochemical state at the time of every imaging input) and ``echem.inputs.eis``.

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
    "demo_stages",
    "input_stages",
    "LOGS",
    "MAIN_LOG",
    "timeseries_dataset",
    "cycles_dataset",
    "events_dataset",
    "eis_dataset",
]

log = logging.getLogger(__name__)

#: The main cell (000_290f30815ae66793): its log is ``echem/timeseries``, the time axis the
#: imaging modalities of that cell align to.
MAIN_LOG = "first_cycle"

#: Twin logs of the demo: name -> (file name in raw_dir/echem, paper, description).
LOGS = {
    "first_cycle": ("nmc622_first_cycle.mpt", "000_290f30815ae66793",
                    "NMC622 | PEO-LiTFSI | Li, first cycle at 0.3 mA cm-2, 3.0-4.3 V + CV hold"),
    "anode_free": ("anode_free_case_B.mpt", "001_a2c994afa3295f29",
                   "anode-free Cu | Li6PS5Cl | Li, case B: plate/strip, rising current to a short"),
    "short_clean": ("sulfide_c20_clean_neware.csv", "002_3ee4edf529433f9c",
                    "NMC811 | Li5.4PS4.6Cl1.4 | Li, C/20 charge, normal"),
    "short_soft": ("sulfide_c20_soft_short.mpt", "002_3ee4edf529433f9c",
                   "NMC811 | Li5.4PS4.6Cl1.4 | Li, C/20 charge, soft short"),
    "short_hard": ("sulfide_c20_hard_short.csv", "002_3ee4edf529433f9c",
                   "NMC811 | Li5.4PS4.6Cl1.4 | Li, C/20 charge, hard short"),
    "ccd": ("li_lpscl_li_ccd.csv", "003_103f2bf5a3479ade",
            "Li | Li6PS5Cl | Li, stepped plating for the critical current density"),
}

#: Logging intervals (s) per twin size: (first cycle, anode-free, sulfide charges, CCD).
_DT = {"tiny": (300.0, 60.0, 60.0, 20.0), "small": (30.0, 30.0, 30.0, 5.0),
       "medium": (10.0, 10.0, 10.0, 2.0)}


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
    units = {"voltage_V": "V", "current_A": "A", "charge_mAh": "mAh", "capacity_mAh": "mAh",
             "charge_mAh_cm2": "mAh cm-2", "capacity_mAh_cm2": "mAh cm-2",
             "charge_mAh_g": "mAh g-1", "capacity_mAh_g": "mAh g-1", "time_s": "s"}
    for k, u in units.items():
        if k in ds.variables:
            ds[k].attrs["units"] = u
    ds["time_s"].attrs["long_name"] = "time since the start of the electrochemical test"
    ds["current_A"].attrs["sign"] = "positive on charge"
    ds.attrs.update({"log": name, "source": source,
                     "area_cm2": float(area_cm2) if area_cm2 else float("nan"),
                     "active_mass_mg": float(mass_mg) if mass_mg else float("nan")})
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
        ``ccd_ma_cm2`` (NaN for shorts), ``evidence`` (dict), ``true_onset_s``,
        ``true_ccd_ma_cm2`` (NaN when unknown).

    Returns
    -------
    xarray.Dataset
    """
    import xarray as xr

    keys = ["log", "kind", "onset_s", "end_s", "ccd_ma_cm2", "true_onset_s", "true_ccd_ma_cm2",
            "true_kind", "evidence"]
    data = {}
    for k in keys:
        vals = [r.get(k) for r in rows]
        if k in ("log", "kind", "true_kind"):
            data[k] = ("event", np.array([str(v or "") for v in vals], dtype=object))
        elif k == "evidence":
            data[k] = ("event", np.array([json.dumps(v or {}, sort_keys=True, default=float)
                                          for v in vals], dtype=object))
        else:
            data[k] = ("event", np.array([np.nan if v is None else float(v) for v in vals],
                                         dtype=np.float64))
    return xr.Dataset(data)


def eis_dataset(spectra: list[dict]):
    """Impedance spectra and their fits as one dataset (dimensions ``state``, ``point``).

    Parameters
    ----------
    spectra : list of dict
        Keys: ``label``, ``time_s``, ``frequency_Hz``, ``z_real_ohm``, ``z_imag_ohm`` (arrays of
        one length), fitted ``r_s_ohm``, ``r_ct_ohm``, ``r_s_err_ohm``, ``r_ct_err_ohm`` and the
        fitted curve ``z_fit_real_ohm``, ``z_fit_imag_ohm`` (NaN when no fit), ``true_r_s_ohm``,
        ``true_r_ct_ohm`` (NaN when unknown), ``source``.

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
    for k in ("time_s", "r_s_ohm", "r_ct_ohm", "r_s_err_ohm", "r_ct_err_ohm", "true_r_s_ohm",
              "true_r_ct_ohm"):
        data[k] = ("state", np.array([np.nan if s.get(k) is None else float(s.get(k))
                                      for s in spectra], dtype=np.float64))
    for k in ("label", "source"):
        data[k] = ("state", np.array([str(s.get(k, "")) for s in spectra], dtype=object))
    ds = xr.Dataset(data)
    ds["z_imag_ohm"].attrs["convention"] = "Z = Z' + j Z''; capacitive arcs have Z'' < 0"
    return ds


# --------------------------------------------------------------------------------------
# stages
# --------------------------------------------------------------------------------------
def _size(config) -> str:
    twin = getattr(config, "twin", None)
    return getattr(twin, "size", "small") if twin is not None else "small"


def _twin_stage(ctx, inputs, *, size: str = "small"):
    import xarray as xr

    from ssbscope.twin import echem as T
    from ssbscope.twin import formats as F

    dt = _DT.get(size, _DT["small"])
    seed = int(ctx.seed)
    out_dir = Path(ctx.raw_dir) / "echem"
    out_dir.mkdir(parents=True, exist_ok=True)
    twins = {
        "first_cycle": T.nmc622_first_cycle(seed=seed, dt_s=dt[0]),
        "anode_free": T.anode_free_cell("B", seed=seed + 1, dt_s=dt[1]),
        "short_clean": T.sulfide_charge("clean", seed=seed + 2, dt_s=dt[2]),
        "short_soft": T.sulfide_charge("soft", seed=seed + 3, dt_s=dt[2]),
        "short_hard": T.sulfide_charge("hard", seed=seed + 4, dt_s=dt[2]),
        "ccd": T.ccd_staircase(seed=seed + 5, dt_s=dt[3]),
    }
    rows = []
    for name, tw in twins.items():
        fname, paper, desc = LOGS[name]
        F.write_twin(tw, out_dir / fname)
        kind = getattr(tw, "short_kind", None)
        rows.append(dict(
            log=name, file=fname, paper=paper, description=desc,
            invert_current=bool(getattr(tw, "instrument_current_sign", 1) < 0
                                and fname.endswith(".mpt")),
            area_cm2=tw.area_cm2, active_mass_mg=getattr(tw, "active_mass_mg", np.nan),
            true_ce_fraction=getattr(tw, "coulombic_efficiency", None),
            true_short_kind=kind or "", true_short_onset_s=getattr(tw, "short_onset_s", None),
            true_ccd_ma_cm2=getattr(tw, "ccd_ma_cm2", None)))
    cyc = twins["first_cycle"]
    spectra = T.first_cycle_eis(cyc, seed=seed + 100)
    eis_rows = []
    for k, sp in enumerate(spectra):
        fname = f"peis_{k}_{sp.label.replace(' ', '_')}.mpt"
        F.write_twin(sp, out_dir / fname)
        eis_rows.append(dict(file=fname, label=sp.label, time_s=sp.time_s, r_s_ohm=sp.r_s_ohm,
                             r_ct_ohm=sp.r_ct_ohm))

    def col(key, kind):
        vals = [r[key] for r in rows]
        if kind is str:
            return ("log", np.array([str(v) for v in vals], dtype=object))
        if kind is bool:
            return ("log", np.array(vals, dtype=bool))
        return ("log", np.array([np.nan if v is None else float(v) for v in vals], dtype=np.float64))

    truth = xr.Dataset({
        "file": col("file", str), "paper": col("paper", str), "description": col("description", str),
        "invert_current": col("invert_current", bool), "area_cm2": col("area_cm2", float),
        "active_mass_mg": col("active_mass_mg", float),
        "true_ce_fraction": col("true_ce_fraction", float),
        "true_short_kind": col("true_short_kind", str),
        "true_short_onset_s": col("true_short_onset_s", float),
        "true_ccd_ma_cm2": col("true_ccd_ma_cm2", float),
    }, coords={"log": ("log", np.array(list(twins), dtype=object))})
    truth.attrs.update({"size": size, "raw_dir": str(out_dir)})
    states = xr.Dataset({
        "label": ("state", np.array([s.label for s in cyc.states], dtype=object)),
        "kind": ("state", np.array([s.kind for s in cyc.states], dtype=object)),
        "fraction": ("state", np.array([s.fraction for s in cyc.states], dtype=np.float64)),
        "time_s": ("state", np.array([s.time_s for s in cyc.states], dtype=np.float64)),
    })
    states["fraction"].attrs["units"] = "1"
    states.attrs.update({"charge_capacity_mAh": cyc.charge_capacity_mah,
                         "discharge_capacity_mAh": cyc.discharge_capacity_mah,
                         "coulombic_efficiency": cyc.coulombic_efficiency})
    eis_truth = xr.Dataset({
        "file": ("state", np.array([r["file"] for r in eis_rows], dtype=object)),
        "label": ("state", np.array([r["label"] for r in eis_rows], dtype=object)),
        "time_s": ("state", np.array([r["time_s"] for r in eis_rows], dtype=np.float64)),
        "r_s_ohm": ("state", np.array([r["r_s_ohm"] for r in eis_rows], dtype=np.float64)),
        "r_ct_ohm": ("state", np.array([r["r_ct_ohm"] for r in eis_rows], dtype=np.float64)),
    })
    return {"echem/twin/truth": truth, "echem/twin/states": states, "echem/twin/eis": eis_truth}


def _read_stage(ctx, inputs):
    from ssbscope.echem import read

    truth = inputs["echem/twin/truth"].load()
    raw = Path(ctx.raw_dir) / "echem"
    out = {}
    for name in truth["log"].values.tolist():
        rec = truth.sel(log=name)
        path = ctx.record_input(raw / str(rec["file"].item()))
        df = read(path, invert_current=bool(rec["invert_current"].item()))
        area = float(rec["area_cm2"].item())
        mass = float(rec["active_mass_mg"].item())
        out[_dataset_name(name)] = timeseries_dataset(
            df, area_cm2=area if np.isfinite(area) else None,
            mass_mg=mass if np.isfinite(mass) else None, name=name, source=path.name)
    return out


def _df(ds) -> pd.DataFrame:
    d = {"time_s": ds["time_s"].values, "voltage_V": ds["voltage_V"].values,
         "current_A": ds["current_A"].values}
    return pd.DataFrame(d)


def _analyse_stage(ctx, inputs):
    import xarray as xr

    from ssbscope.echem import critical_current_density, cycle_table, detect_shorts, state_at

    truth = inputs["echem/twin/truth"].load()
    tables = {}
    events = []
    for name in truth["log"].values.tolist():
        rec = truth.sel(log=name)
        df = _df(inputs[_dataset_name(name)].load())
        area = float(rec["area_cm2"].item())
        mass = float(rec["active_mass_mg"].item())
        if name != "ccd":
            tab = cycle_table(df, area_cm2=area, mass_mg=mass if np.isfinite(mass) else None)
            if len(tab):
                tables[name] = tab
        true_kind = str(rec["true_short_kind"].item())
        true_onset = float(rec["true_short_onset_s"].item())
        for ev in detect_shorts(df):
            events.append(dict(log=name, kind=ev.kind, onset_s=ev.onset_s, end_s=ev.end_s,
                               evidence=ev.evidence, true_kind=true_kind,
                               true_onset_s=true_onset if true_kind else None))
        if name == "ccd":
            ccd = critical_current_density(df, area)
            events.append(dict(log=name, kind="ccd", ccd_ma_cm2=ccd,
                               true_ccd_ma_cm2=float(rec["true_ccd_ma_cm2"].item())))
    st = inputs["echem/twin/states"].load()
    main = _df(inputs[_dataset_name(MAIN_LOG)].load())
    times = st["time_s"].values.astype(float)
    # "pristine" is the last moment before the charge: ask just before it
    ask = np.where(st["fraction"].values == 0.0, times - 1e-6, times)
    ask = np.clip(ask, main["time_s"].iloc[0], main["time_s"].iloc[-1])
    measured = state_at(main, ask)
    states = xr.Dataset({
        "label": st["label"], "kind": st["kind"], "fraction": st["fraction"],
        "time_s": st["time_s"],
        "measured_state": ("state", np.array(measured, dtype=object)),
    })
    states["fraction"].attrs["units"] = "1"
    return {"echem/cycles": cycles_dataset(tables), "echem/events": events_dataset(events),
            "echem/states": states}


def _eis_stage(ctx, inputs):
    from ssbscope.echem import read_eis

    tr = inputs["echem/twin/eis"].load()
    raw = Path(ctx.raw_dir) / "echem"
    try:
        from ssbscope.echem import fit_eis
    except (ImportError, AttributeError):
        fit_eis = None
        log.warning("ssbscope.echem.fit_eis is not available: EIS spectra stored without fits")
    spectra = []
    for k in range(tr.sizes["state"]):
        path = ctx.record_input(raw / str(tr["file"].values[k]))
        z = read_eis(path)
        f = z["frequency_Hz"].to_numpy(dtype=float)
        zr = z["z_real_ohm"].to_numpy(dtype=float)
        zi = z["z_imag_ohm"].to_numpy(dtype=float)
        rec = dict(label=str(tr["label"].values[k]), time_s=float(tr["time_s"].values[k]),
                   frequency_Hz=f, z_real_ohm=zr, z_imag_ohm=zi, source=path.name,
                   true_r_s_ohm=float(tr["r_s_ohm"].values[k]),
                   true_r_ct_ohm=float(tr["r_ct_ohm"].values[k]))
        if fit_eis is not None:
            fit = fit_eis(f, zr, zi)
            rec.update(r_s_ohm=fit.r_s_ohm, r_ct_ohm=fit.r_ct_ohm,
                       r_s_err_ohm=getattr(fit, "r_s_err_ohm", None),
                       r_ct_err_ohm=getattr(fit, "r_ct_err_ohm", None))
            zf = _fit_curve(fit, f)
            if zf is not None:
                rec.update(z_fit_real_ohm=zf.real, z_fit_imag_ohm=zf.imag)
        spectra.append(rec)
    return {"echem/eis": eis_dataset(spectra)}


def _fit_curve(fit, f):
    """The fitted impedance at ``f`` from the fit's circuit values (None if it has none)."""
    from ssbscope.echem import randles_impedance

    names = ("r_s_ohm", "r_ct_ohm", "q_cpe", "n_cpe", "sigma_w_ohm_s05")
    if not all(hasattr(fit, n) for n in names):
        return None
    try:
        return randles_impedance(f, *(getattr(fit, n) for n in names))
    except (ValueError, TypeError):
        return None


def demo_stages(config=None) -> list:
    """The electrochemistry stages of ``ssbscope demo`` (twin → read → analyse, and EIS).

    Parameters
    ----------
    config : ssbscope.config.Experiment, optional
        Its ``twin.size`` picks the logging intervals (``tiny`` for tests, ``small`` for the
        demo, ``medium``); the run seed comes from the pipeline (``ctx.seed``).

    Returns
    -------
    list of ssbscope.pipeline.Stage
    """
    from ssbscope.pipeline import Stage

    size = _size(config)
    logs = [_dataset_name(n) for n in LOGS]
    return [
        Stage("echem.twin", _twin_stage,
              outputs=("echem/twin/truth", "echem/twin/states", "echem/twin/eis"),
              params={"size": size}),
        Stage("echem.read", _read_stage, inputs=("echem/twin/truth",), outputs=tuple(logs)),
        Stage("echem.analyse", _analyse_stage,
              inputs=("echem/twin/truth", "echem/twin/states", *logs),
              outputs=("echem/cycles", "echem/events", "echem/states")),
        Stage("echem.eis", _eis_stage, inputs=("echem/twin/eis",), outputs=("echem/eis",)),
    ]


# --------------------------------------------------------------------------------------
# real inputs (``ssbscope run EXPERIMENT.yaml``)
# --------------------------------------------------------------------------------------
_FORMATS = {"auto": None, "mpr": "biologic-mpr", "mpt": "biologic-mpt", "gamry": "gamry-dta",
            "csv": "csv", "neware": "neware", "arbin": "arbin", "maccor": "maccor",
            "novonix": "novonix"}


def _slug(text: str) -> str:
    import re

    out = re.sub(r"[^a-z0-9]+", "_", str(text).lower()).strip("_")
    return out or "log"


def _input_items(exp) -> tuple[list[dict], list[dict]]:
    """(cycling, eis) input records with resolved paths and unique dataset names."""
    cyc, eis = [], []
    used = set()
    for item in getattr(getattr(exp, "inputs", None), "echem", []) or []:
        cell = exp.cell_of(item) if hasattr(exp, "cell_of") else getattr(exp, "cell", None)
        rec = {"path": str(exp.resolve(item.path)), "format": _FORMATS.get(item.format),
               "columns": dict(item.columns), "label": item.label or Path(item.path).stem,
               "time_s": item.time_s, "invert_current": bool(getattr(item, "invert_current", False)),
               "cell": getattr(item, "cell", None),
               "area_cm2": cell.electrode_area_cm2 if cell is not None else None,
               "mass_mg": cell.active_mass_mg if cell is not None else None}
        if item.kind == "eis":
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
            out.append((f"{area}: {item.label or Path(item.path).stem}", float(item.time_s)))
    an = getattr(getattr(exp, "analysis", None), "echem", None)
    if cell is None:
        out.extend((st.label, float(st.time_s)) for st in getattr(an, "states", []) or [])
    return sorted(out, key=lambda x: x[1])


def _inputs_read_stage(ctx, inputs, *, logs: list):
    from ssbscope.echem import read

    out = {}
    for rec in logs:
        path = ctx.record_input(rec["path"])
        df = read(path, format=rec["format"], invert_current=rec.get("invert_current", False), **rec["columns"])
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


def _inputs_eis_stage(ctx, inputs, *, spectra: list):
    from ssbscope.echem import fit_eis, read_eis

    out = []
    for rec in spectra:
        path = ctx.record_input(rec["path"])
        z = read_eis(path, format=rec["format"])
        f = z["frequency_Hz"].to_numpy(dtype=float)
        zr = z["z_real_ohm"].to_numpy(dtype=float)
        zi = z["z_imag_ohm"].to_numpy(dtype=float)
        fit = fit_eis(f, zr, zi)
        zf = _fit_curve(fit, f)
        t = rec["time_s"]
        if t is None and "time_s" in z.columns:
            t = float(z["time_s"].iloc[0])
        item = dict(label=rec["label"], time_s=t, frequency_Hz=f, z_real_ohm=zr, z_imag_ohm=zi,
                    source=path.name, r_s_ohm=fit.r_s_ohm, r_ct_ohm=fit.r_ct_ohm,
                    r_s_err_ohm=fit.r_s_err_ohm, r_ct_err_ohm=fit.r_ct_err_ohm)
        if zf is not None:
            item.update(z_fit_real_ohm=zf.real, z_fit_imag_ohm=zf.imag)
        out.append(item)
    return {"echem/eis": eis_dataset(out)}


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
        stages.append(Stage("echem.inputs.eis", _inputs_eis_stage, outputs=("echem/eis",),
                            params={"spectra": eis}))
    return stages
