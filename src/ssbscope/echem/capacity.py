"""Charge passed, capacity per half-cycle, and the named state (SoC / DoD) at any time.

Conventions (ssbscope): current > 0 is charge (Li leaves the positive electrode / is plated on
the negative one); charge in mAh (1 mAh = 3.6 A s), integrated with the trapezoid rule over the
samples as logged; a half-cycle's capacity also holds its last sample's current until the
next record (sample-and-hold at step edges, exact when the current switches on sample times).
A *half-cycle* is a span in which the current, where it flows, keeps one
sign; rests inside it (interrupted charge) belong to it, a CV hold belongs to its charge.

State of charge follows 000_290f30815ae66793 (Fig. 1E): during a charge, SoC is the charge
passed since the start of that charge over the charge's total (0 % at its start, 100 % at
its end, a CV hold included); during a discharge, DoD is the same for the discharge.
Pass ``capacity_mAh`` to normalise by a nominal capacity instead.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ssbscope.echem._checks import check_echem, positive_or_none
from ssbscope.echem._segments import cumulative_mah, half_cycles, label_samples
from ssbscope.errors import ParameterError

__all__ = ["cumulative_charge", "add_capacity", "state_of_charge", "state_at", "time_of_state"]

_AREA_FIX = "pass the electrode area in cm^2 (e.g. 1.54 for a 14 mm disc)"
_MASS_FIX = "pass the active mass in mg"


def cumulative_charge(df: pd.DataFrame, *, area_cm2: float | None = None,
                      mass_mg: float | None = None) -> pd.Series:
    """Net charge passed since the first sample (positive on charge).

    Parameters
    ----------
    df : pandas.DataFrame
        Echem table with ``time_s`` (s), ``current_A`` (A, > 0 on charge), ``voltage_V``.
    area_cm2 : float, optional
        Electrode area in cm^2; the result is then in mAh cm^-2.
    mass_mg : float, optional
        Active mass in mg; the result is then in mAh g^-1 (not with ``area_cm2``).

    Returns
    -------
    pandas.Series
        ``charge_mAh`` (or ``charge_mAh_cm2`` / ``charge_mAh_g``), same index as ``df``;
        ``Q(t) = ∫ I dt`` by the trapezoid rule, so constant current gives ``Q = I t`` exactly.

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"time_s": [0.0, 3600.0], "voltage_V": [3.0, 4.0], "current_A": [1e-3, 1e-3]})
    >>> float(cumulative_charge(df).iloc[-1])
    1.0
    """
    t, _, i = check_echem(df)
    area = positive_or_none("area_cm2", area_cm2, _AREA_FIX)
    mass = positive_or_none("mass_mg", mass_mg, _MASS_FIX)
    if area is not None and mass is not None:
        raise ParameterError("mass_mg", mass_mg, "cannot be combined with area_cm2",
                             "ask for one normalisation at a time (or use add_capacity)")
    q = cumulative_mah(t, i)
    if area is not None:
        return pd.Series(q / area, index=df.index, name="charge_mAh_cm2")
    if mass is not None:
        return pd.Series(q / (mass * 1e-3), index=df.index, name="charge_mAh_g")
    return pd.Series(q, index=df.index, name="charge_mAh")


def add_capacity(df: pd.DataFrame, area_cm2: float | None = None, mass_mg: float | None = None,
                 *, current_threshold_A: float | None = None) -> pd.DataFrame:
    """Return a copy of ``df`` with charge and per-half-cycle capacity columns.

    Parameters
    ----------
    df : pandas.DataFrame
        Echem table (``time_s``, ``voltage_V``, ``current_A``); not modified.
    area_cm2 : float, optional
        Electrode area (cm^2) for the ``*_mAh_cm2`` columns.
    mass_mg : float, optional
        Active mass (mg) for the ``*_mAh_g`` columns.
    current_threshold_A : float, optional
        Current below which a sample is a rest (default: automatic, 0.5 % of the 99th
        percentile of ``|I|`` or 5 noise sigmas, whichever is larger).

    Returns
    -------
    pandas.DataFrame
        ``df`` plus ``charge_mAh`` (net, cumulative), ``half_cycle`` (0, 1, ...; -1 outside
        any), ``direction`` ("charge"/"discharge"/"" outside), ``capacity_mAh`` (charge passed
        since the start of the current half-cycle, >= 0, NaN outside), and the ``_mAh_cm2`` /
        ``_mAh_g`` versions of both when ``area_cm2`` / ``mass_mg`` are given.  Columns of
        the same names already in ``df`` (some readers pass the instrument's
        ``capacity_mAh`` / ``half_cycle`` through) are replaced in the copy.
    """
    t, _, i = check_echem(df)
    area = positive_or_none("area_cm2", area_cm2, _AREA_FIX)
    mass = positive_or_none("mass_mg", mass_mg, _MASS_FIX)
    q = cumulative_mah(t, i)
    hcs = half_cycles(t, i, current_threshold_A, q_mah=q)
    idx = np.full(t.size, -1, dtype=np.int64)
    direction = np.full(t.size, "", dtype=object)
    cap = np.full(t.size, np.nan)
    for hc in hcs:
        sl = slice(hc.start, hc.stop + 1)
        idx[sl] = hc.index
        direction[sl] = hc.kind
        cap[sl] = hc.sign * (q[sl] - q[hc.start])
    out = df.copy()
    out["charge_mAh"] = q
    out["half_cycle"] = idx
    out["direction"] = direction
    out["capacity_mAh"] = cap
    if area is not None:
        out["charge_mAh_cm2"] = q / area
        out["capacity_mAh_cm2"] = cap / area
    if mass is not None:
        out["charge_mAh_g"] = q / (mass * 1e-3)
        out["capacity_mAh_g"] = cap / (mass * 1e-3)
    return out


def state_of_charge(df: pd.DataFrame, capacity_mAh: float | None = None, *,
                    current_threshold_A: float | None = None) -> pd.DataFrame:
    """Per-sample state: charging / discharging / rest with SoC and DoD in percent.

    Parameters
    ----------
    df : pandas.DataFrame
        Echem table; not modified.
    capacity_mAh : float, optional
        Nominal capacity (mAh) to normalise by; default: each half-cycle's own total, so a
        charge runs 0 → 100 % SoC and a discharge 0 → 100 % DoD (000_290f30815ae66793 Fig. 1E).
    current_threshold_A : float, optional
        Rest threshold (see :func:`add_capacity`).

    Returns
    -------
    pandas.DataFrame
        Index as ``df``; columns ``time_s``, ``state`` ("charging", "discharging", "rest"),
        ``half_cycle`` (-1 outside), ``soc_percent`` (defined over charge half-cycles, NaN
        elsewhere), ``dod_percent`` (over discharge half-cycles), ``label`` (e.g.
        "charging (20 % SoC)").
    """
    t, _, i = check_echem(df)
    cap_nom = positive_or_none("capacity_mAh", capacity_mAh, "pass the nominal capacity in mAh")
    q = cumulative_mah(t, i)
    lab = label_samples(i, current_threshold_A)
    hcs = half_cycles(t, i, current_threshold_A, labels=lab, q_mah=q)
    soc = np.full(t.size, np.nan)
    dod = np.full(t.size, np.nan)
    idx = np.full(t.size, -1, dtype=np.int64)
    for hc in hcs:
        sl = slice(hc.start, hc.stop + 1)
        denom = cap_nom if cap_nom is not None else hc.capacity_mAh
        passed = hc.sign * (q[sl] - q[hc.start])
        frac = 100.0 * passed / denom if denom > 0 else np.zeros_like(passed)
        (soc if hc.sign > 0 else dod)[sl] = frac
        idx[sl] = hc.index
    state = np.where(lab > 0, "charging", np.where(lab < 0, "discharging", "rest")).astype(object)
    label = [_label(s, a, b) for s, a, b in zip(state, soc, dod)]
    return pd.DataFrame({"time_s": t, "state": state, "half_cycle": idx, "soc_percent": soc,
                         "dod_percent": dod, "label": label}, index=df.index)


def _label(state: str, soc: float, dod: float) -> str:
    if state == "charging" and np.isfinite(soc):
        return f"charging ({soc:.0f} % SoC)"
    if state == "discharging" and np.isfinite(dod):
        return f"discharging ({dod:.0f} % DoD)"
    return "rest"


def state_at(df: pd.DataFrame, time_s, capacity_mAh: float | None = None, *,
             current_threshold_A: float | None = None):
    """Named state of the cell at given time(s), e.g. ``"charging (20 % SoC)"``.

    Between samples the charge is interpolated linearly in time, so the percentage is exact
    for constant current whatever the sampling interval.  The state is that of the last
    sample at or before ``time_s``; after the last sample of a half-cycle its current is held
    until the next record (then 100 %), later times are ``"rest"``.

    Parameters
    ----------
    df : pandas.DataFrame
        Echem table; not modified.
    time_s : float or array_like of float
        Time(s) in s, within ``[df.time_s.min(), df.time_s.max()]``.
    capacity_mAh : float, optional
        Nominal capacity for normalisation (default: each half-cycle's own total).
    current_threshold_A : float, optional
        Rest threshold (see :func:`add_capacity`).

    Returns
    -------
    str or list of str
        ``"charging (NN % SoC)"``, ``"discharging (NN % DoD)"`` or ``"rest"`` (percent rounded
        to an integer); a list when ``time_s`` is an array.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> t = np.arange(0.0, 1001.0, 10.0)
    >>> df = pd.DataFrame({"time_s": t, "voltage_V": 3.5, "current_A": 1e-3})
    >>> state_at(df, 200.0)
    'charging (20 % SoC)'
    """
    t, _, i = check_echem(df)
    cap_nom = positive_or_none("capacity_mAh", capacity_mAh, "pass the nominal capacity in mAh")
    scalar = np.ndim(time_s) == 0
    tq = np.atleast_1d(np.asarray(time_s, dtype=np.float64))
    bad = ~np.isfinite(tq) | (tq < t[0]) | (tq > t[-1])
    if bad.any():
        raise ParameterError("time_s", float(tq[bad][0]),
                             f"is outside the log ({t[0]} .. {t[-1]} s)",
                             "ask for a time inside the recorded span")
    q = cumulative_mah(t, i)
    lab = label_samples(i, current_threshold_A)
    hcs = half_cycles(t, i, current_threshold_A, labels=lab, q_mah=q)
    which = np.full(t.size, -1, dtype=np.int64)
    for hc in hcs:
        which[hc.start:hc.stop + 1] = hc.index
    k = np.searchsorted(t, tq, side="right") - 1
    qq = np.interp(tq, t, q)
    out = []
    for kk, tt, qv in zip(k, tq, qq):
        h = which[kk]
        if lab[kk] == 0 or h < 0:
            out.append("rest")
            continue
        hc = hcs[h]
        if tt > hc.end_s:
            if tt >= hc.hold_end_s:
                out.append("rest")
                continue
            # between the last sample and the next record: the last current is held
            passed = hc.sign * (q[hc.stop] - q[hc.start]) + abs(i[hc.stop]) * (tt - hc.end_s) / 3.6
        else:
            passed = hc.sign * (qv - q[hc.start])
        denom = cap_nom if cap_nom is not None else hc.capacity_mAh
        pct = 100.0 * passed / denom if denom > 0 else 0.0
        out.append(_label("charging" if hc.sign > 0 else "discharging",
                          pct if hc.sign > 0 else np.nan, pct if hc.sign < 0 else np.nan))
    return out[0] if scalar else out


_STATE_PATTERNS = (
    ("soc", r"^(?:charg\w*\s*)?\(?\s*(\d+(?:\.\d+)?)\s*%\s*soc\)?$"),
    ("dod", r"^(?:discharg\w*\s*)?\(?\s*(\d+(?:\.\d+)?)\s*%\s*dod\)?$"),
    ("plated", r"^(?:plated\s+)?(\d+(?:\.\d+)?)\s*mah\s*/?\s*cm(?:2|\^2|-2|²|⁻²)$"),
    ("stripped", r"^stripped\s+(\d+(?:\.\d+)?)\s*mah\s*/?\s*cm(?:2|\^2|-2|²|⁻²)$"),
)


def time_of_state(df: pd.DataFrame, state: str, *, area_cm2: float | None = None,
                  current_threshold_A: float | None = None) -> float | None:
    """When the cell first reached a named state (s on the log's clock), or None.

    Understood names (case-insensitive): ``"pristine"`` (the start of the log), ``"fully
    charged"`` / ``"fully discharged"`` (end of the first charge / discharge half-cycle),
    ``"NN % SoC"`` / ``"charging (NN % SoC)"`` and the DoD equivalents (first charge /
    discharge half-cycle reaching NN % of its own capacity, as :func:`state_at` labels it),
    ``"plated Q mAh/cm2"`` (net charge since the start reaching Q, needs ``area_cm2``) and
    ``"stripped Q mAh/cm2"`` (net charge falling Q below its largest value, after it); the
    areal unit also as ``mAh cm-2``, ``mAh cm^2``, ``mAh cm²`` or the report's ``mAh cm⁻²``.

    Parameters
    ----------
    df : pandas.DataFrame
        Echem table (current positive on charge); not modified.
    state : str
    area_cm2 : float, optional
        Electrode area for the areal states.
    current_threshold_A : float, optional
        Rest threshold (see :func:`add_capacity`).

    Returns
    -------
    float or None
        Time (s); None when the name is not understood or the log never reaches the state.
    """
    import re

    t, _, i = check_echem(df)
    s = " ".join(str(state).strip().lower().split())
    if s == "pristine":
        return float(t[0])
    q = cumulative_mah(t, i)
    lab = label_samples(i, current_threshold_A)
    hcs = half_cycles(t, i, current_threshold_A, labels=lab, q_mah=q)
    if s in ("fully charged", "charged", "fully discharged", "discharged"):
        sign = 1 if "dis" not in s else -1
        hc = next((h for h in hcs if h.sign == sign), None)
        return float(hc.end_s) if hc is not None else None
    for kind, pat in _STATE_PATTERNS:
        m = re.match(pat, s)
        if not m:
            continue
        val = float(m.group(1))
        if kind in ("soc", "dod"):
            sign = 1 if kind == "soc" else -1
            hc = next((h for h in hcs if h.sign == sign), None)
            if hc is None or hc.capacity_mAh <= 0:
                return None
            passed = sign * (q[hc.start:hc.stop + 1] - q[hc.start])
            target = val / 100.0 * hc.capacity_mAh
            tt = t[hc.start:hc.stop + 1]
            k = int(np.searchsorted(passed, target - 1e-12))
            if k >= passed.size:
                return None
            if k == 0:
                return float(tt[0])
            return float(np.interp(target, passed[k - 1:k + 1], tt[k - 1:k + 1]))
        if area_cm2 is None or not area_cm2 > 0:
            return None
        qa = q / float(area_cm2)
        tol = 2e-4 * max(val, 1e-9)  # logged charge carries the cycler's noise
        if kind == "plated":
            level = qa
            target = val - tol
        else:  # net charge fallen val below the largest value reached so far
            level = np.maximum.accumulate(qa) - qa
            target = val - tol
        hit = np.flatnonzero(level >= target)
        if hit.size == 0:
            return None
        k = int(hit[0])
        if k == 0:
            return float(t[0])
        lo, hi = level[k - 1], level[k]
        frac = 1.0 if hi == lo else float(np.clip((target - lo) / (hi - lo), 0.0, 1.0))
        return float(t[k - 1] + frac * (t[k] - t[k - 1]))
    return None
