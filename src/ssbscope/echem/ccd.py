"""Critical current density from a stepped plating protocol (003_103f2bf5a3479ade, Methods).

Protocol: plate at 0.5 mA cm^-2 and strip at 0.2 mA cm^-2 (0.2 mAh cm^-2 each), then raise the
plating current by 0.5 mA cm^-2 every cycle while stripping stays fixed.  The critical current
for dendrites is the plating current density of the step whose plating voltage drops by 2 mV
(a dendrite bridging the electrolyte lowers the polarisation).

Implementation
--------------
* Half-cycles are grouped by current sign.  The plating group is the one whose current
  magnitude rises step-wise from half-cycle to half-cycle; the other stays fixed.  This works
  whatever the instrument's sign convention (a single half-cycle per group falls back to the
  ssbscope convention, plating = positive current).
* In each plating half-cycle the polarisation magnitude ``|V|`` is median-smoothed (window
  adapted to the noise so smoothed noise cannot fake the drop) and the drop is the largest
  fall below its running maximum within that half-cycle:
  ``drop = max_t (max_{t' <= t} P(t') - P(t))``.
* CCD = the plating current density of the first step with ``drop >= drop_mV``.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
from scipy.ndimage import median_filter

from ssbscope.echem._checks import check_echem, positive
from ssbscope.echem._segments import half_cycles, label_samples, noise_sigma
from ssbscope.errors import EmptyResultError

__all__ = ["critical_current_density", "critical_current_steps"]

log = logging.getLogger(__name__)


def _odd(n: int) -> int:
    n = max(int(n), 1)
    return n if n % 2 else n + 1


def critical_current_steps(df: pd.DataFrame, area_cm2: float, *, drop_mV: float = 2.0,
                           current_threshold_A: float | None = None) -> pd.DataFrame:
    """Per plating step: current density and the largest polarisation drop within it.

    Parameters
    ----------
    df : pandas.DataFrame
        Echem table of a stepped plating/stripping protocol; not modified.
    area_cm2 : float
        Electrode area in cm^2 (> 0).
    drop_mV : float, default 2.0
        Drop (mV) that marks dendrite penetration.
    current_threshold_A : float, optional
        Rest threshold (see :func:`ssbscope.echem.add_capacity`).

    Returns
    -------
    pandas.DataFrame
        One row per plating half-cycle: ``step`` (1, 2, ...), ``start_s``, ``end_s``,
        ``current_density_ma_cm2``, ``max_polarisation_mV``, ``drop_mV`` (largest fall below
        the running maximum), ``drop_time_s`` (when the fall is deepest), ``dendrite`` (bool).
        ``attrs["plating_sign"]`` holds the sign of the plating current in the log.
    """
    t, v, i = check_echem(df)
    area = positive("area_cm2", area_cm2, "pass the electrode area in cm^2")
    drop_v = positive("drop_mV", drop_mV, "use the paper's 2 mV") * 1e-3
    lab = label_samples(i, current_threshold_A)
    hcs = half_cycles(t, i, current_threshold_A, labels=lab)
    if not hcs:
        raise EmptyResultError("df['current_A']: no current flows, so there is no plating step; "
                               "pass a stepped plating/stripping log")
    mags = {s: [float(np.median(np.abs(i[h.start:h.stop + 1][lab[h.start:h.stop + 1] == s])))
                for h in hcs if h.sign == s] for s in (1, -1)}
    sign = _plating_sign(mags)
    rows = []
    for h in (h for h in hcs if h.sign == sign):
        sl = slice(h.start, h.stop + 1)
        act = lab[sl] == sign
        vv = np.abs(v[sl][act])
        tt = t[sl][act]
        j = float(np.median(np.abs(i[sl][act]))) / area * 1e3
        if vv.size < 3:
            continue
        sig = noise_sigma(vv)
        # smoothed-noise drawdown ~ 6 * 1.25 sigma / sqrt(W) must stay below drop/2
        w = _odd(min(max(5, np.ceil((15.0 * sig / drop_v) ** 2)), max(1, vv.size // 3)))
        p = median_filter(vv, size=w, mode="nearest") if w > 1 else vv
        dd = np.maximum.accumulate(p) - p
        k = int(np.argmax(dd))
        rows.append({"step": len(rows) + 1, "start_s": h.start_s, "end_s": h.end_s,
                     "current_density_ma_cm2": j, "max_polarisation_mV": float(p.max() * 1e3),
                     "drop_mV": float(dd[k] * 1e3), "drop_time_s": float(tt[k]),
                     "dendrite": bool(dd[k] >= drop_v)})
    tab = pd.DataFrame(rows, columns=["step", "start_s", "end_s", "current_density_ma_cm2",
                                      "max_polarisation_mV", "drop_mV", "drop_time_s", "dendrite"])
    tab.attrs["plating_sign"] = sign
    return tab


def _plating_sign(mags: dict[int, list[float]]) -> int:
    """Sign whose half-cycle currents rise step-wise (the other group stays fixed)."""
    def rise(m):
        if len(m) < 2:
            return 0.0
        m = np.asarray(m)
        steps = np.diff(m) / m[:-1]
        # fraction of clear increases times the overall spread
        return float(np.mean(steps > 0.05) * (m.max() / m.min() - 1.0))

    r_pos, r_neg = rise(mags[1]), rise(mags[-1])
    if r_pos == r_neg:
        log.info("plating direction ambiguous (no step-wise rise); using current > 0 as plating")
        return 1 if mags[1] else -1
    return 1 if r_pos > r_neg else -1


def critical_current_density(df: pd.DataFrame, area_cm2: float, drop_mV: float = 2.0, *,
                             current_threshold_A: float | None = None) -> float:
    """Critical current density (mA cm^-2) from a stepped plating protocol.

    003_103f2bf5a3479ade (Methods, Fig. S4a): the plating current is raised by a fixed step
    each cycle while stripping stays fixed; the critical current for dendrites is the plating
    current density of the step in which the voltage drops by ``drop_mV``.

    Parameters
    ----------
    df : pandas.DataFrame
        Echem table (``time_s``, ``voltage_V``, ``current_A``), either sign convention.
    area_cm2 : float
        Electrode area in cm^2 (> 0).
    drop_mV : float, default 2.0
        Polarisation drop (mV, within one plating half-cycle, below its running maximum) that
        marks dendrite penetration.
    current_threshold_A : float, optional
        Rest threshold (see :func:`ssbscope.echem.add_capacity`).

    Returns
    -------
    float
        Plating current density of the first step with the drop, in mA cm^-2.

    Raises
    ------
    EmptyResultError
        No plating step shows the drop (the message gives the largest drop found).
    ParameterError
        ``area_cm2`` or ``drop_mV`` not > 0.
    """
    tab = critical_current_steps(df, area_cm2, drop_mV=drop_mV,
                                 current_threshold_A=current_threshold_A)
    hit = tab[tab["dendrite"]]
    if hit.empty:
        worst = tab["drop_mV"].max() if len(tab) else float("nan")
        raise EmptyResultError(
            f"critical_current_density: none of the {len(tab)} plating step(s) shows a "
            f"polarisation drop >= {drop_mV} mV (largest: {worst:.3g} mV); the cell did not "
            "short within the protocol, or lower drop_mV")
    return float(hit["current_density_ma_cm2"].iloc[0])
