"""Image results on the electrochemical clock: charge, voltage, state, R_ct, Faraday residual.

Every function takes plain arrays (times in s since the start of the echem log, the log's
own samples) and returns arrays, a frozen dataclass or an :class:`xarray.Dataset`; the
pipeline stage (:mod:`ssbscope.correlate.stages`) only reads the store and calls them.

Faraday residual
----------------
Between the first scan of a series (time ``t0``) and a later scan ``t`` the cell passed the
net areal charge ``dq = q(t) - q(t0)`` (mAh cm^-2, current positive on charge).  Positive
``dq`` plates that much dense Li onto the plated layer: ``dh_F = lithium_thickness_um(dq)``
(Faraday's law, :func:`ssbscope.echem.faraday.lithium_thickness_um`: 3 mAh cm^-2 <-> 14.5 µm),
negative ``dq`` strips it.  The residual of a measured change ``dh`` is

    ``residual_pct = 100 (dh - dh_F) / dh_F``

and NaN where ``|dq| < MIN_CHARGE_MAH_CM2`` (0.05 mAh cm^-2, i.e. |dh_F| < 0.24 µm, about a
voxel or less at the usual CT resolution: the ratio is noise there), or where either side is
NaN.  The volume residual uses the measured layer-volume change per CT footprint area
(``dV / A_fp``, µm) against the same ``dh_F``, so the CT field of view may be smaller than
the electrode: both are changes per area.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from ssbscope.errors import InputError, ParameterError

__all__ = [
    "MIN_CHARGE_MAH_CM2",
    "charge_at",
    "voltage_at",
    "NearestEIS",
    "nearest_eis",
    "faraday_change_um",
    "faraday_residual",
    "footprint_area_um2",
    "states_table",
    "combine_series",
]

log = logging.getLogger(__name__)

#: Smallest |net charge since the first scan| (mAh cm^-2) with a Faraday residual; below it
#: the residual is NaN (0.05 mAh cm^-2 = 0.24 µm of dense Li).
MIN_CHARGE_MAH_CM2 = 0.05


def _log_arrays(log_time_s, values, what: str):
    t = np.asarray(log_time_s, dtype=np.float64).ravel()
    v = np.asarray(values, dtype=np.float64).ravel()
    if t.size != v.size:
        raise ParameterError(what, f"{v.size} samples", f"must have one value per log time "
                             f"({t.size})", "pass the log's time_s and its column together")
    ok = np.isfinite(t) & np.isfinite(v)
    t, v = t[ok], v[ok]
    if t.size == 0:
        raise InputError(f"{what}: the echem log has no finite samples; check the log file")
    if np.any(np.diff(t) < 0):
        order = np.argsort(t, kind="stable")
        t, v = t[order], v[order]
    return t, v


def _interp_on_log(time_s, log_time_s, values, what: str):
    t, v = _log_arrays(log_time_s, values, what)
    scalar = np.ndim(time_s) == 0
    tq = np.atleast_1d(np.asarray(time_s, dtype=np.float64))
    out = np.interp(tq, t, v)
    outside = ~np.isfinite(tq) | (tq < t[0]) | (tq > t[-1])
    if outside.any():
        out[outside] = np.nan
        log.warning("%d time(s) lie outside the echem log (%.6g .. %.6g s), e.g. %.6g s: %s "
                    "is NaN there", int(outside.sum()), t[0], t[-1], float(tq[outside][0]), what)
    return float(out[0]) if scalar else out.reshape(np.shape(time_s))


def charge_at(time_s, log_time_s, charge_mah_cm2):
    """Net areal charge passed since the start of the log at given times.

    The log's cumulative charge is interpolated linearly in time (exact for constant current
    whatever the sampling interval).

    Parameters
    ----------
    time_s : float or array_like, shape (n,)
        Query times (s since the start of the echem log).
    log_time_s : array_like, shape (m,)
        The log's sample times (s).
    charge_mah_cm2 : array_like, shape (m,)
        Net cumulative charge of the log at those samples (mAh cm^-2, positive on charge);
        any unit works, the result is in the same one.

    Returns
    -------
    float or ndarray, shape (n,)
        Charge (mAh cm^-2); NaN (with a logged warning) at times outside the log.

    Examples
    --------
    >>> charge_at(1800.0, [0.0, 3600.0], [0.0, 0.5])
    0.25
    """
    return _interp_on_log(time_s, log_time_s, charge_mah_cm2, "charge_mah_cm2")


def voltage_at(time_s, log_time_s, voltage_v):
    """Cell voltage at given times, linearly interpolated on the log.

    Parameters
    ----------
    time_s : float or array_like, shape (n,)
        Query times (s since the start of the echem log).
    log_time_s, voltage_v : array_like, shape (m,)
        The log's sample times (s) and voltages (V).

    Returns
    -------
    float or ndarray, shape (n,)
        Voltage (V); NaN (with a logged warning) outside the log.
    """
    return _interp_on_log(time_s, log_time_s, voltage_v, "voltage_V")


@dataclass(frozen=True)
class NearestEIS:
    """The impedance spectrum nearest in time to each query time.

    Attributes
    ----------
    index : ndarray of int, shape (n,)
        Index of the spectrum among those given; -1 where none has a finite time.
    time_s : ndarray, shape (n,)
        Time of that spectrum (s on the echem clock); NaN where none.
    r_ct_ohm : ndarray, shape (n,)
        Its fitted charge-transfer resistance (ohm); NaN where none or not fitted.
    label : ndarray of object (str), shape (n,)
        Its label ("" where none).
    """

    index: np.ndarray
    time_s: np.ndarray
    r_ct_ohm: np.ndarray
    label: np.ndarray


def nearest_eis(time_s, eis_time_s, r_ct_ohm, labels=None) -> NearestEIS:
    """R_ct of the impedance spectrum nearest in time to each query time.

    Spectra without a finite time are ignored; ties go to the earlier spectrum.  There is no
    distance limit: the spectrum's own time is returned so the gap can be judged.

    Parameters
    ----------
    time_s : array_like, shape (n,)
        Query times (s).
    eis_time_s, r_ct_ohm : array_like, shape (k,)
        Times (s) and fitted R_ct (ohm) of the spectra (``echem/eis`` ``time_s``, ``r_ct_ohm``).
    labels : array_like of str, shape (k,), optional

    Returns
    -------
    NearestEIS
    """
    tq = np.atleast_1d(np.asarray(time_s, dtype=np.float64))
    te = np.atleast_1d(np.asarray(eis_time_s, dtype=np.float64))
    r = np.atleast_1d(np.asarray(r_ct_ohm, dtype=np.float64))
    if te.size != r.size:
        raise ParameterError("r_ct_ohm", f"{r.size} values", f"must match eis_time_s ({te.size})")
    lab = (np.array([str(x) for x in labels], dtype=object) if labels is not None
           else np.array([""] * te.size, dtype=object))
    idx = np.full(tq.size, -1, dtype=np.int64)
    ok = np.flatnonzero(np.isfinite(te))
    if ok.size:
        for j, t in enumerate(tq):
            if np.isfinite(t):
                d = np.abs(te[ok] - t)
                idx[j] = ok[int(np.argmin(d))]
    has = idx >= 0
    safe = np.where(has, idx, 0)
    return NearestEIS(
        index=idx,
        time_s=np.where(has, te[safe] if te.size else np.nan, np.nan),
        r_ct_ohm=np.where(has, r[safe] if r.size else np.nan, np.nan),
        label=np.array([lab[i] if i >= 0 else "" for i in idx], dtype=object))


def faraday_change_um(charge_change_mah_cm2):
    """Dense-Li thickness change (µm) for a net areal charge change, NaN-tolerant.

    :func:`ssbscope.echem.faraday.lithium_thickness_um` on the finite entries; NaN stays NaN.

    Parameters
    ----------
    charge_change_mah_cm2 : float or array_like
        Net charge passed (mAh cm^-2; > 0 plates, < 0 strips).

    Returns
    -------
    float or ndarray
        Thickness change (µm), 3 mAh cm^-2 -> 14.5 µm.
    """
    from ssbscope.echem.faraday import lithium_thickness_um

    q = np.asarray(charge_change_mah_cm2, dtype=np.float64)
    out = np.full(q.shape, np.nan)
    ok = np.isfinite(q)
    if ok.any():
        out[ok] = lithium_thickness_um(q[ok])
    return float(out) if np.ndim(out) == 0 else out


def faraday_residual(measured_change_um, charge_change_mah_cm2, *,
                     min_charge_mah_cm2: float = MIN_CHARGE_MAH_CM2):
    """Faraday residual of a measured plated-Li thickness change (%).

    ``100 (dh - dh_F) / dh_F`` with ``dh_F = lithium_thickness_um(dq)``.

    Parameters
    ----------
    measured_change_um : float or array_like, shape (n,)
        Measured thickness change since the reference scan (µm), or a volume change per
        footprint area (µm).
    charge_change_mah_cm2 : float or array_like, shape (n,)
        Net areal charge passed since the reference scan (mAh cm^-2, > 0 plates).
    min_charge_mah_cm2 : float, default 0.05
        The residual is NaN where ``|dq|`` is below this (the ratio is noise there).

    Returns
    -------
    float or ndarray, shape (n,)
        Residual (%): 0 when the measurement equals Faraday's law, +10 for 1.1x; NaN where
        ``|dq| < min_charge_mah_cm2`` or an input is NaN.

    Examples
    --------
    >>> from ssbscope.echem.faraday import lithium_thickness_um
    >>> round(faraday_residual(1.1 * lithium_thickness_um(3.0), 3.0), 6)
    10.0
    """
    if not (np.isfinite(min_charge_mah_cm2) and min_charge_mah_cm2 >= 0):
        raise ParameterError("min_charge_mah_cm2", min_charge_mah_cm2, "must be finite and >= 0")
    dh = np.asarray(measured_change_um, dtype=np.float64)
    dq = np.asarray(charge_change_mah_cm2, dtype=np.float64)
    dh, dq = np.broadcast_arrays(dh, dq)
    ref = np.asarray(faraday_change_um(dq), dtype=np.float64)
    ok = np.isfinite(dh) & np.isfinite(dq) & (np.abs(dq) >= min_charge_mah_cm2) & (ref != 0)
    out = np.full(dq.shape, np.nan)
    out[ok] = 100.0 * (dh[ok] - ref[ok]) / ref[ok]
    return float(out) if out.ndim == 0 else out


def footprint_area_um2(layer_volume_um3, thickness_mean_um) -> float:
    """CT footprint area estimated from layer volumes and mean thicknesses (µm^2).

    For a dense layer covering the footprint, volume = mean thickness x area; the estimate is
    the median of ``V / t`` over every (scan, layer) pair with finite ``V`` and ``t > 0``.
    Use it only when the CT metrics do not record the footprint (attribute
    ``footprint_area_um2``); porous layers bias it low.

    Parameters
    ----------
    layer_volume_um3, thickness_mean_um : array_like, same shape
        Layer volumes (µm^3) and mean thicknesses (µm), e.g. (scan, layer).

    Returns
    -------
    float
        Area (µm^2); NaN when no pair qualifies.
    """
    v = np.asarray(layer_volume_um3, dtype=np.float64)
    t = np.asarray(thickness_mean_um, dtype=np.float64)
    ok = np.isfinite(v) & np.isfinite(t) & (t > 0) & (v > 0)
    return float(np.median(v[ok] / t[ok])) if ok.any() else float("nan")


_ATTRS = {
    "series": (None, "imaging series the row belongs to (tomo: inputs.tomo[].series; neutron: neutron/<label>)"),
    "modality": (None, "imaging modality of the row (tomo, neutron)"),
    "echem_log": (None, "store key of the echem log the row is read against"),
    "charge_mah_cm2": ("mA*h/cm^2", "net charge passed since the start of the echem log (positive on charge)"),
    "charge_mah": ("mAh", "net charge passed since the start of the echem log (positive on charge)"),
    "charge_since_first_mah_cm2": ("mA*h/cm^2", "net charge passed since the first scan of the series"),
    "voltage_V": ("V", "cell voltage at the scan time (linear interpolation on the log)"),
    "state": (None, "state of the scan: the experiment file's state, else the echem state at that time"),
    "state_source": (None, "where state comes from: 'experiment file', 'echem log' or 'none' (outside the log)"),
    "r_ct_ohm": ("ohm", "charge-transfer resistance of the impedance spectrum nearest in time"),
    "eis_time_s": ("s", "time of that impedance spectrum"),
    "eis_label": (None, "label of that impedance spectrum"),
    "plated_thickness_um": ("um", "CT mean thickness of the plated layer"),
    "plated_thickness_change_um": ("um", "CT mean thickness change of the plated layer since the first scan"),
    "faraday_thickness_change_um": ("um", "dense-Li thickness change for charge_since_first_mah_cm2 (Faraday's law)"),
    "faraday_residual_pct": ("percent", "100 (plated_thickness_change_um - faraday_thickness_change_um) / "
                                  "faraday_thickness_change_um; NaN where |charge_since_first_mah_cm2| < 0.05"),
    "plated_volume_change_um3": ("um^3", "CT volume change of the plated layer since the first scan"),
    "plated_volume_change_per_area_um": ("um", "plated_volume_change_um3 / CT footprint area"),
    "faraday_volume_residual_pct": ("percent", "100 (plated_volume_change_per_area_um - faraday_thickness_change_um) / "
                                         "faraday_thickness_change_um; NaN where |charge_since_first_mah_cm2| < 0.05"),
}


def _f(x, n):
    if x is None:
        return np.full(n, np.nan)
    a = np.asarray(x, dtype=np.float64).ravel()
    if a.size != n:
        raise ParameterError("values", f"{a.size} entries", f"must have one per scan time ({n})")
    return a


def states_table(time_s, log_time_s, log_charge_mah_cm2, log_voltage_v, *,
                 log_current_a=None, log_charge_mah=None, states=None,
                 plated_thickness_um=None, plated_volume_um3=None, footprint_area_um2=None,
                 eis_time_s=None, eis_r_ct_ohm=None, eis_label=None, series: str = "scans",
                 modality: str = "tomo", echem_log: str = "",
                 min_charge_mah_cm2: float = MIN_CHARGE_MAH_CM2):
    """One imaging series on the electrochemical clock.

    Parameters
    ----------
    time_s : array_like, shape (n,)
        Scan / frame times of the series (s since the start of the echem log).
    log_time_s, log_charge_mah_cm2, log_voltage_v : array_like, shape (m,)
        The echem log: times (s), net cumulative areal charge (mAh cm^-2, positive on
        charge; all-NaN when the area is unknown) and voltage (V).
    log_current_a : array_like, shape (m,), optional
        The log's current (A): gives the state (:func:`ssbscope.echem.state_at`) of scans
        without one.
    log_charge_mah : array_like, shape (m,), optional
        Net cumulative charge (mAh) for ``charge_mah``.
    states : sequence of str, shape (n,), optional
        The scans' states from the experiment file ("" or None where not given).
    plated_thickness_um, plated_volume_um3 : array_like, shape (n,), optional
        CT mean thickness (µm) and volume (µm^3) of the plated layer at each scan.
    footprint_area_um2 : float, optional
        CT footprint area for the volume change per area (µm^2).
    eis_time_s, eis_r_ct_ohm, eis_label : array_like, shape (k,), optional
        Impedance spectra (times s, fitted R_ct ohm, labels).
    series, modality, echem_log : str
        Row labels (series name, "tomo"/"neutron", store key of the log).
    min_charge_mah_cm2 : float
        Faraday residuals are NaN below this |charge since the first scan|.

    Returns
    -------
    xarray.Dataset
        Dimension ``time_s`` (sorted, the series' first scan is the reference); the variables
        listed in the module docstring of :mod:`ssbscope.correlate.stages`, each with
        ``units`` (where it has one) and ``long_name``.
    """
    import pandas as pd
    import xarray as xr

    t = np.asarray(time_s, dtype=np.float64).ravel()
    n = t.size
    if n == 0:
        raise InputError(f"series {series!r}: no scan times to correlate")
    order = np.argsort(t, kind="stable")
    t = t[order]

    def sel(a):
        return None if a is None else _f(a, n)[order]

    q = charge_at(t, log_time_s, log_charge_mah_cm2) if np.any(np.isfinite(
        np.asarray(log_charge_mah_cm2, dtype=np.float64))) else np.full(n, np.nan)
    q_mah = (charge_at(t, log_time_s, log_charge_mah) if log_charge_mah is not None
             else np.full(n, np.nan))
    v = voltage_at(t, log_time_s, log_voltage_v)
    dq = q - q[0]
    # state: experiment file first, else the echem state at that time
    yaml_states = (["" if s is None else str(s) for s in np.asarray(states, dtype=object).ravel()]
                   if states is not None else [""] * n)
    if len(yaml_states) != n:
        raise ParameterError("states", f"{len(yaml_states)} entries", f"must have one per scan time ({n})")
    yaml_states = [yaml_states[i] for i in order]
    lt = np.asarray(log_time_s, dtype=np.float64)
    state = np.array(yaml_states, dtype=object)
    source = np.array(["experiment file" if s else "none" for s in yaml_states], dtype=object)
    need = np.array([not s for s in yaml_states]) & np.isfinite(t) & (t >= np.nanmin(lt)) & (t <= np.nanmax(lt))
    if need.any() and log_current_a is not None:
        from ssbscope.echem import state_at

        df = pd.DataFrame({"time_s": lt, "voltage_V": np.asarray(log_voltage_v, dtype=np.float64),
                           "current_A": np.asarray(log_current_a, dtype=np.float64)})
        df = df[np.isfinite(df["time_s"]) & np.isfinite(df["current_A"])].sort_values(
            "time_s", kind="stable")
        lab = state_at(df, t[need])
        state[need] = lab
        source[need] = "echem log"
    # impedance
    if eis_time_s is not None and np.size(eis_time_s):
        ne = nearest_eis(t, eis_time_s, eis_r_ct_ohm, eis_label)
        r_ct, t_eis, l_eis = ne.r_ct_ohm, ne.time_s, ne.label
    else:
        r_ct, t_eis = np.full(n, np.nan), np.full(n, np.nan)
        l_eis = np.array([""] * n, dtype=object)
    h_far = np.asarray(faraday_change_um(dq), dtype=np.float64).reshape(n)
    th = sel(plated_thickness_um)
    vol = sel(plated_volume_um3)
    data = {
        "series": np.array([series] * n, dtype=object),
        "modality": np.array([modality] * n, dtype=object),
        "echem_log": np.array([echem_log] * n, dtype=object),
        "charge_mah_cm2": q, "charge_mah": q_mah, "charge_since_first_mah_cm2": dq,
        "voltage_V": v, "state": state, "state_source": source,
        "r_ct_ohm": r_ct, "eis_time_s": t_eis, "eis_label": l_eis,
        "faraday_thickness_change_um": h_far,
    }
    nan = np.full(n, np.nan)
    dth = th - th[0] if th is not None else nan
    data.update(plated_thickness_um=th if th is not None else nan, plated_thickness_change_um=dth,
                faraday_residual_pct=np.asarray(faraday_residual(
                    dth, dq, min_charge_mah_cm2=min_charge_mah_cm2), dtype=np.float64).reshape(n))
    dv = vol - vol[0] if vol is not None else nan
    area = float(footprint_area_um2) if footprint_area_um2 is not None else np.nan
    dv_a = dv / area if np.isfinite(area) and area > 0 else nan
    data.update(plated_volume_change_um3=dv, plated_volume_change_per_area_um=dv_a,
                faraday_volume_residual_pct=np.asarray(faraday_residual(
                    dv_a, dq, min_charge_mah_cm2=min_charge_mah_cm2), dtype=np.float64).reshape(n))
    ds = xr.Dataset({k: ("time_s", np.asarray(a)) for k, a in data.items()},
                    coords={"time_s": ("time_s", t)})
    _label(ds)
    ds.attrs.update({"min_charge_mah_cm2": float(min_charge_mah_cm2),
                     "footprint_area_um2": area})
    return ds


def _label(ds):
    ds["time_s"].attrs.update(units="s", long_name="scan / frame time since the start of the echem log")
    for k, (u, ln) in _ATTRS.items():
        if k in ds.variables:
            if u is not None:
                ds[k].attrs["units"] = u
            ds[k].attrs["long_name"] = ln


def combine_series(tables):
    """Several series' tables (:func:`states_table`) as one dataset on ``time_s``.

    Rows of all series are concatenated and sorted by time (stable); the ``series``
    variable tells them apart (select one with
    ``ds.isel(time_s=ds.series.values == name)``),
    and each series' changes refer to its own first scan.  Scans of two series at the same
    time give repeated ``time_s`` values.

    Parameters
    ----------
    tables : sequence of xarray.Dataset

    Returns
    -------
    xarray.Dataset
    """
    import xarray as xr

    tables = list(tables)
    if not tables:
        raise InputError("no imaging series to correlate")
    if len(tables) == 1:
        out = tables[0].copy()
    else:
        out = xr.concat(tables, dim="time_s", data_vars="all", coords="minimal",
                        combine_attrs="drop")
        order = np.argsort(out["time_s"].values, kind="stable")
        out = out.isel(time_s=order)
    _label(out)
    return out
