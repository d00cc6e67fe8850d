"""Cycles, per-cycle capacities and Coulombic efficiency.

A cycle starts with a charge half-cycle (current > 0) and ends with the discharge that
follows it.  A discharge before the first charge (a leading partial discharge) is not a
cycle; a final charge with no discharge after it is a cycle with no Coulombic efficiency.
CE = discharge capacity / charge capacity of the same cycle (for anode-free Li | SE | Cu
cells: Li stripped / Li plated, as in 001_a2c994afa3295f29).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ssbscope.echem._checks import check_echem, positive_or_none
from ssbscope.echem._segments import HalfCycle, cumulative_mah, half_cycles

__all__ = ["split_cycles", "cycle_table", "coulombic_efficiency"]


def _pairs(hcs: list[HalfCycle]) -> list[tuple[HalfCycle, HalfCycle | None]]:
    pairs = []
    k = 0
    while k < len(hcs) and hcs[k].sign < 0:
        k += 1  # leading partial discharge(s): not a cycle
    while k < len(hcs):
        ch = hcs[k]
        dis = hcs[k + 1] if k + 1 < len(hcs) and hcs[k + 1].sign < 0 else None
        pairs.append((ch, dis))
        k += 2 if dis is not None else 1
    return pairs


def _cycles(df, current_threshold_A):
    t, _, i = check_echem(df)
    q = cumulative_mah(t, i)
    return t, _pairs(half_cycles(t, i, current_threshold_A, q_mah=q))


def split_cycles(df: pd.DataFrame, *, current_threshold_A: float | None = None) -> list[pd.DataFrame]:
    """Split a log into cycles (charge + following discharge).

    Parameters
    ----------
    df : pandas.DataFrame
        Echem table (``time_s``, ``voltage_V``, ``current_A`` > 0 on charge); not modified.
    current_threshold_A : float, optional
        Current below which a sample is a rest (default automatic, see
        :func:`ssbscope.echem.add_capacity`).

    Returns
    -------
    list of pandas.DataFrame
        One copy per cycle, rows from the first sample of the charge to the last sample of the
        discharge (or of the charge, for a trailing charge with no discharge).
    """
    _, pairs = _cycles(df, current_threshold_A)
    out = []
    for ch, dis in pairs:
        last = dis.stop if dis is not None else ch.stop
        out.append(df.iloc[ch.start:last + 1].copy())
    return out


def cycle_table(df: pd.DataFrame, area_cm2: float | None = None, mass_mg: float | None = None, *,
                current_threshold_A: float | None = None) -> pd.DataFrame:
    """Per-cycle charge/discharge capacity and Coulombic efficiency.

    Parameters
    ----------
    df : pandas.DataFrame
        Echem table; not modified.
    area_cm2 : float, optional
        Electrode area (cm^2): adds ``*_mAh_cm2`` columns.
    mass_mg : float, optional
        Active mass (mg): adds ``*_mAh_g`` columns.
    current_threshold_A : float, optional
        Rest threshold (see :func:`split_cycles`).

    Returns
    -------
    pandas.DataFrame
        One row per cycle: ``cycle`` (1, 2, ...), ``charge_start_s``, ``charge_end_s``,
        ``discharge_start_s``, ``discharge_end_s`` (NaN without discharge),
        ``charge_capacity_mAh``, ``discharge_capacity_mAh`` (NaN without discharge),
        ``coulombic_efficiency`` (fraction 0-1, NaN without discharge), and the normalised
        capacities when ``area_cm2`` / ``mass_mg`` are given.
    """
    area = positive_or_none("area_cm2", area_cm2, "pass the electrode area in cm^2")
    mass = positive_or_none("mass_mg", mass_mg, "pass the active mass in mg")
    _, pairs = _cycles(df, current_threshold_A)
    rows = []
    for n, (ch, dis) in enumerate(pairs, start=1):
        qd = dis.capacity_mAh if dis is not None else np.nan
        rows.append({
            "cycle": n,
            "charge_start_s": ch.start_s,
            "charge_end_s": ch.end_s,
            "discharge_start_s": dis.start_s if dis is not None else np.nan,
            "discharge_end_s": dis.end_s if dis is not None else np.nan,
            "charge_capacity_mAh": ch.capacity_mAh,
            "discharge_capacity_mAh": qd,
            "coulombic_efficiency": qd / ch.capacity_mAh if ch.capacity_mAh > 0 else np.nan,
        })
    cols = ["cycle", "charge_start_s", "charge_end_s", "discharge_start_s", "discharge_end_s",
            "charge_capacity_mAh", "discharge_capacity_mAh", "coulombic_efficiency"]
    tab = pd.DataFrame(rows, columns=cols)
    tab["cycle"] = tab["cycle"].astype(np.int64)
    for suffix, div in (("_mAh_cm2", area), ("_mAh_g", None if mass is None else mass * 1e-3)):
        if div is not None:
            tab["charge_capacity" + suffix] = tab["charge_capacity_mAh"] / div
            tab["discharge_capacity" + suffix] = tab["discharge_capacity_mAh"] / div
    return tab


def coulombic_efficiency(df: pd.DataFrame, *, current_threshold_A: float | None = None) -> list[float]:
    """Coulombic efficiency of every full cycle, as a fraction (0-1).

    Parameters
    ----------
    df : pandas.DataFrame
        Echem table; not modified.
    current_threshold_A : float, optional
        Rest threshold (see :func:`split_cycles`).

    Returns
    -------
    list of float
        ``Q_discharge / Q_charge`` per cycle that has both; a trailing charge with no
        discharge and a leading partial discharge give no entry.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> t = np.arange(0.0, 2010.0, 10.0)
    >>> i = np.where(t < 1000, 1e-3, np.where(t < 2000, -0.9e-3, 0.0))
    >>> df = pd.DataFrame({"time_s": t, "voltage_V": 3.5, "current_A": i})
    >>> [round(x, 3) for x in coulombic_efficiency(df)]
    [0.9]
    """
    tab = cycle_table(df, current_threshold_A=current_threshold_A)
    ce = tab["coulombic_efficiency"].to_numpy()
    return [float(x) for x in ce if np.isfinite(x)]
