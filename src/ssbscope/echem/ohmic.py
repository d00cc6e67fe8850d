"""Ohmic drop at current steps: R = ΔV / ΔI across each step edge.

At a current step the ohmic part of the voltage responds at once, the polarisation only
later, so the voltage change between the last sample before and the first sample after
the edge over the current change is the (apparent) ohmic resistance.  With coarse sampling
part of the fast polarisation is included: the value is an upper bound whose accuracy is set
by the sampling interval (reported as ``dt_s``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ssbscope.echem._checks import check_echem, positive_or_none
from ssbscope.echem._segments import noise_sigma
from ssbscope.errors import ParameterError

__all__ = ["ohmic_drop"]

_COLS = ["time_s", "dt_s", "current_before_A", "current_after_A", "delta_current_A",
         "voltage_before_V", "voltage_after_V", "delta_voltage_V", "resistance_ohm"]


def ohmic_drop(df: pd.DataFrame, area_cm2: float | None = None, *, min_step_A: float | None = None,
               max_dt_s: float | None = None) -> pd.DataFrame:
    """Resistance from the voltage jump at every current step.

    Parameters
    ----------
    df : pandas.DataFrame
        Echem table (``time_s``, ``voltage_V``, ``current_A``); not modified.
    area_cm2 : float, optional
        Electrode area (cm^2): adds ``resistance_ohm_cm2`` (area-specific resistance).
    min_step_A : float, optional
        Smallest ``|ΔI|`` between consecutive samples counted as a step (default: 20 % of
        the 99th percentile of ``|I|``, and at least 10 current-noise sigmas).
    max_dt_s : float, optional
        Skip edges whose two samples are further apart than this (s).

    Returns
    -------
    pandas.DataFrame
        One row per step: ``time_s`` (first sample after the edge), ``dt_s`` (interval across
        the edge), currents and voltages before/after, ``delta_current_A``,
        ``delta_voltage_V``, ``resistance_ohm`` = ΔV/ΔI (> 0 for a passive cell), and
        ``resistance_ohm_cm2`` when ``area_cm2`` is given.

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"time_s": [0., 1., 2., 3.], "voltage_V": [3.7, 3.7, 3.72, 3.72],
    ...                    "current_A": [0., 0., 1e-3, 1e-3]})
    >>> round(float(ohmic_drop(df)["resistance_ohm"].iloc[0]), 6)
    20.0
    """
    t, v, i = check_echem(df)
    area = positive_or_none("area_cm2", area_cm2, "pass the electrode area in cm^2")
    if max_dt_s is not None and not (np.isfinite(max_dt_s) and max_dt_s > 0):
        raise ParameterError("max_dt_s", max_dt_s, "must be > 0", "omit it to keep every edge")
    if min_step_A is None:
        ref = float(np.percentile(np.abs(i), 99)) if i.size else 0.0
        thr = max(0.2 * ref, 10.0 * noise_sigma(i), 1e-15)
    else:
        thr = positive_or_none("min_step_A", min_step_A, "pass a current step in A")
    di = np.diff(i)
    dts = np.diff(t)
    k = np.flatnonzero((np.abs(di) >= thr) & (dts > 0))
    if max_dt_s is not None:
        k = k[dts[k] <= max_dt_s]
    out = pd.DataFrame({
        "time_s": t[k + 1], "dt_s": dts[k],
        "current_before_A": i[k], "current_after_A": i[k + 1], "delta_current_A": di[k],
        "voltage_before_V": v[k], "voltage_after_V": v[k + 1], "delta_voltage_V": v[k + 1] - v[k],
        "resistance_ohm": (v[k + 1] - v[k]) / di[k],
    }, columns=_COLS)
    if area is not None:
        out["resistance_ohm_cm2"] = out["resistance_ohm"] * area
    return out
