"""Validation shared by the electrochemistry analysis functions (private)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ssbscope.errors import DataQualityError, InputError, MissingColumnError, ParameterError

REQUIRED = ("time_s", "voltage_V", "current_A")


def check_echem(df, name: str = "df") -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Validate an echem table and return float64 copies of (time_s, voltage_V, current_A).

    Rows whose ``mode`` is ``"EIS"`` (impedance points inside a time series, as the readers
    label them) get current 0 in the returned copy: their current is the AC perturbation.

    Raises
    ------
    InputError
        ``df`` is not a DataFrame or has no rows.
    MissingColumnError
        A required column is absent.
    DataQualityError
        NaN/inf values, or time that decreases (equal consecutive timestamps are allowed).
    """
    if not isinstance(df, pd.DataFrame):
        raise InputError(f"{name}: expected a pandas.DataFrame with columns {list(REQUIRED)}, "
                         f"got {type(df).__name__}; read the file with ssbscope.echem.read")
    missing = [c for c in REQUIRED if c not in df.columns]
    if missing:
        raise MissingColumnError(name, f"missing column(s) {missing} (have {list(df.columns)})",
                                 "rename the columns or read the file with ssbscope.echem.read")
    if len(df) == 0:
        raise InputError(f"{name}: the table is empty (0 rows); check the file holds data")
    out = []
    for col in REQUIRED:
        try:
            a = np.asarray(df[col].to_numpy(), dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise DataQualityError(f"{name}['{col}']: values are not numeric ({exc}); "
                                   "convert the column to numbers") from None
        bad = ~np.isfinite(a)
        if bad.any():
            first = int(np.flatnonzero(bad)[0])
            raise DataQualityError(
                f"{name}['{col}']: {int(bad.sum())} NaN/inf value(s), first at row {first}; "
                "drop or interpolate those rows before the analysis")
        out.append(a)
    t = out[0]
    if "mode" in df.columns:
        # impedance points logged inside a time series carry the AC perturbation, not a DC
        # current: they count as rest for the charge analysis
        eis = (df["mode"].astype(str).str.upper() == "EIS").to_numpy()
        if eis.any():
            out[2] = np.where(eis, 0.0, out[2])
    if t.size > 1:
        dt = np.diff(t)
        if np.any(dt < 0):
            first = int(np.flatnonzero(dt < 0)[0]) + 1
            raise DataQualityError(
                f"{name}['time_s']: time decreases at row {first} ({t[first - 1]!r} -> {t[first]!r}); "
                "sort the rows or re-read the file (the readers repair unambiguous cases)")
    return t, out[1], out[2]


def positive_or_none(name: str, value, fix: str) -> float | None:
    """Return ``float(value)`` if it is a finite number > 0, ``None`` if ``None``; else raise."""
    if value is None:
        return None
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ParameterError(name, value, "must be a number > 0", fix) from None
    if not np.isfinite(v) or v <= 0:
        raise ParameterError(name, value, "must be a finite number > 0", fix)
    if name == "mass_mg" and v <= MIN_MASS_MG:  # 1e-308 mg gave inf mAh/g (issue 14)
        raise ParameterError(name, value, f"must be more than {MIN_MASS_MG:g} mg", fix)
    if name == "area_cm2":  # 1e30 cm2 gave 1e-31 mAh/cm2 with exit 0: the experiment file's bounds
        from ssbscope.config import AREA_RANGE_CM2

        lo, hi = AREA_RANGE_CM2
        if not lo <= v <= hi:
            raise ParameterError(name, value, f"must lie in {lo:g} to {hi:g} cm2 (a 1 um disc to "
                                 "10 m2); check the unit (mm2 or m2 given as cm2?)", fix)
    return v


#: Smallest active mass accepted (mg); the experiment file has the same bound.
MIN_MASS_MG = 1e-9


def positive(name: str, value, fix: str) -> float:
    """Like :func:`positive_or_none` but ``None`` is refused too."""
    if value is None:
        raise ParameterError(name, value, "is required (a number > 0)", fix)
    return positive_or_none(name, value, fix)
