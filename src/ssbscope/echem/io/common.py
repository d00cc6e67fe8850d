"""Shared machinery of the potentiostat readers: file checks, provenance, column names, and the
validation every time-series table passes before it is returned.

The canonical time-series table
-------------------------------
``time_s``      float64, s since the start of the test as the instrument counts it (BioLogic:
                since the start of the experiment; Arbin/Maccor/Neware/Novonix: test time).
                Non-decreasing. Equal consecutive stamps are kept only where the step, mode or
                cycle changes (an instrument logs the last point of one step and the first
                point of the next at the same instant); see :func:`finalize_timeseries`.
``voltage_V``   float64, cell (or working-electrode) voltage in V.
``current_A``   float64, A, **positive on charge** (see the package docstring).
``cycle``       int64, the instrument's own cycle counter, where recorded (numbering base as
                the instrument writes it).
``step``        int64, the instrument's step / sequence index, where recorded.
``mode``        str, one of :data:`MODES`, where recorded.
``instrument_state``  str, the cycler's own state/step-type text where the sign or mode is
                derived from it (Maccor ``C``/``D``/``R``, Neware ``CC DChg`` ...).

Extra instrument columns are kept under snake_case names ending with their unit
(``capacity_mAh``, ``temperature_C``, ``frequency_Hz`` ...).
"""

from __future__ import annotations

import logging
import os
import re
from pathlib import Path

import numpy as np
import pandas as pd

from ssbscope.errors import DataQualityError, FileFormatError, MissingColumnError
from ssbscope.errors import reader_boundary as _reader_boundary_factory
from ssbscope.store import sha256_file  # noqa: F401  (re-exported for the readers)

__all__ = [
    "CORE_COLUMNS",
    "MODES",
    "check_file",
    "check_values",
    "drop_truncated_last_row",
    "VOLTAGE_LIMIT_V",
    "CHARGE_LIMIT_MAH",
    "CURRENT_DENSITY_LIMIT_MA_CM2",
    "check_current_density",
    "reader_boundary",
    "sha256_file",
    "snake_name",
    "finalize_timeseries",
    "finalize_eis",
    "parse_duration_s",
    "utf16_text",
]

log = logging.getLogger(__name__)

CORE_COLUMNS = ("time_s", "voltage_V", "current_A")
EIS_COLUMNS = ("frequency_Hz", "z_real_ohm", "z_imag_ohm")

#: Values of the ``mode`` column: constant current, constant voltage, a CC-then-CV step whose
#: switch point the instrument does not log (Neware CCCV), rest / open circuit, impedance
#: measurement, and "other": current flows but the control mode is not recorded (Maccor C/D
#: states) or is something else (pulses, power steps).
MODES = ("CC", "CV", "CCCV", "rest", "EIS", "other")

#: Extra columns that carry the sign of the current (flipped with ``invert_current``); the
#: unsigned counters of cyclers (charge_capacity_Ah, capacity_Ah of Maccor/Neware) are not.
SIGNED_EXTRAS = ("capacity_mAh", "dq_mAh", "step_capacity_mAh", "half_cycle_capacity_mAh",
                 "power_W", "control_A")



def utf16_text(raw: bytes) -> str | None:
    """The text of a UTF-16 file (byte-order mark, or ASCII text with every other byte 0, as
    PalmSens and some Windows exports write), else None (binary or another encoding)."""
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return raw[: len(raw) - len(raw) % 2].decode("utf-16")
        except UnicodeDecodeError:
            return None
    head = raw[:4096]
    if len(head) >= 8:
        for enc, zeros, text in (("utf-16-le", head[1::2], head[0::2]),
                                 ("utf-16-be", head[0::2], head[1::2])):
            if zeros.count(0) >= 0.95 * len(zeros) and text.count(0) == 0 and \
                    sum(32 <= b < 127 or b in (9, 10, 13) for b in text) >= 0.95 * len(text):
                try:
                    return raw[: len(raw) - len(raw) % 2].decode(enc)
                except UnicodeDecodeError:
                    return None
    return None


def check_file(path) -> Path:
    """Return ``path`` as a :class:`~pathlib.Path` after checking it is a readable, non-empty file.

    Raises
    ------
    FileFormatError
        If the path does not exist, is a directory or is empty.
    """
    import stat as _stat

    p = Path(os.fspath(path))
    try:
        st = os.stat(p)  # never opened before it is known to be a regular file
    except FileNotFoundError:
        raise FileFormatError(p, "file not found", "check the path (relative paths are taken from "
                              f"the working directory {os.getcwd()})") from None
    except OSError as e:
        raise FileFormatError(p, f"cannot be read ({e.strerror or type(e).__name__})",
                              "check the path and its permissions") from None
    if not _stat.S_ISREG(st.st_mode):
        kind = ("a directory" if _stat.S_ISDIR(st.st_mode) else "a FIFO (named pipe)"
                if _stat.S_ISFIFO(st.st_mode) else "a device or special file")
        raise FileFormatError(p, f"is {kind}, not a regular file", "pass the path of a potentiostat data file")
    if st.st_size == 0:
        raise FileFormatError(p, "file is empty (0 bytes)",
                              "re-export the data from the instrument software")
    if st.st_size <= 64:  # a byte-order mark or blank lines only: as empty
        with open(p, "rb") as fh:
            head = fh.read(64)
        for bom in (b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff"):
            head = head.removeprefix(bom)
        if not head.replace(b"\x00", b"").strip():
            raise FileFormatError(p, f"holds no data ({st.st_size} bytes: only a byte-order mark or "
                                  "blank space)", "re-export the data from the instrument software")
    return p




def _unreadable(path, e) -> FileFormatError:
    why = (e.strerror or type(e).__name__) if isinstance(e, OSError) else f"{type(e).__name__} while parsing"
    return FileFormatError(path, f"cannot be read ({why}); the file is damaged, truncated "
                           "or not in the format it appears to be",
                           "check the file, or pass format= for the right reader")


#: Decorate a public reader so that every failure is an :mod:`ssbscope.errors` class: an
#: ``OSError``, ``UnicodeDecodeError``, pandas parser error, ``IndexError``, ``KeyError``,
#: ``ValueError`` ... raised while parsing becomes a :class:`FileFormatError` naming the file
#: and the exception type (never the file's content).
reader_boundary = _reader_boundary_factory(
    (OSError, UnicodeError, pd.errors.ParserError, pd.errors.EmptyDataError, IndexError, KeyError,
     ValueError, TypeError, AttributeError, OverflowError, ZeroDivisionError, EOFError),
    _unreadable)


#: Largest |voltage| accepted from a cell log (V): no single cell, and no stack a lab cycler
#: drives, comes near it; a larger value is a unit or column mix-up (mV read as V).
VOLTAGE_LIMIT_V = 100.0
#: Largest total charge a log may pass (mAh, integral of |I| dt): 1000 Ah, far above any
#: laboratory cell; more means an absurd current (a unit mix-up or a corrupt value).
CHARGE_LIMIT_MAH = 1e6


def _decimals(field: str) -> int | None:
    f = field.strip().strip('"')
    m = re.fullmatch(r"[-+]?\d*[.,](\d+)(?:[eE][-+]?\d+)?", f)
    if m is None or re.search(r"[eE]", f):
        return None
    return len(m.group(1))


#: A number cut while written: a sign alone, digits and a decimal separator with nothing after it,
#: or a mantissa with an incomplete exponent (``-``, ``0.``, ``-3,``, ``1.5e``, ``2E-``).
_INCOMPLETE_NUMBER = re.compile(r"[-+]|[-+]?\d+[.,]|[-+]?(?:\d+[.,]?\d*|[.,]\d+)[eE][-+]?")
#: A complete number (no trailing separator): the rows before a cut one must all hold one.
_COMPLETE_NUMBER = re.compile(r"[-+]?(?:\d+[.,]\d+|\d+|[.,]\d+)(?:[eE][-+]?\d+)?")


def drop_truncated_last_row(lines: list[str], sep: str | None, path, *, n_fields: int,
                            ends_with_newline: bool) -> tuple[list[str], str | None]:
    """Drop the last data row of a text table when it was cut mid-field.

    The same rule for every table reader (a cycler still writing its file, a copy cut short):

    1. the last non-blank line has fewer fields than the header (``n_fields``): cut;
    2. the file does not end with a line break and the row's last field is empty, lacks the
       exponent that field has in each of the previous (up to 5) rows, or has fewer decimals
       than it has there (the previous rows agreeing), or is an incomplete number (a sign
       alone, ``0.``, ``1.5e-``) where the rows before hold numbers: cut (a number written in
       a fixed format lost its tail).  A cut that leaves a complete-looking number (``3.41`` of
       ``3.412`` written with variable precision) cannot be told from a complete row.

    A complete last row without a final line break (many exports) is kept.

    Parameters
    ----------
    lines : list of str
        Data lines (no header), as split from the file.
    sep : str or None
        Field separator (None: whitespace).
    path : path-like
        For the warning.
    n_fields : int
        Number of columns of the header.
    ends_with_newline : bool
        Whether the file's text ends with a line break.

    Returns
    -------
    lines, warning
        The lines without a cut last row, and the warning text (None if nothing dropped).
    """
    idx = [i for i, ln in enumerate(lines) if ln.strip()]
    if not idx:
        return lines, None
    last = idx[-1]

    def split(ln):
        return ln.rstrip("\r\n").split(sep) if sep is not None else ln.split()

    fields = split(lines[last])
    cut = None
    if len(fields) < n_fields:
        cut = f"has {len(fields)} of {n_fields} fields"
    elif not ends_with_newline:
        tail = fields[n_fields - 1] if len(fields) >= n_fields else ""
        prev = [split(lines[i]) for i in idx[-6:-1]]
        prev_tail = [f[n_fields - 1] for f in prev if len(f) >= n_fields]
        if not tail.strip() and all(x.strip() for x in prev_tail):
            cut = "ends in an empty field"
        elif _INCOMPLETE_NUMBER.fullmatch(tail.strip().strip('"')) and prev_tail and \
                all(_COMPLETE_NUMBER.fullmatch(x.strip().strip('"')) for x in prev_tail):
            cut = "ends in an incomplete number"
        elif prev_tail and all(re.search(r"\d[eE][-+]?\d", x) for x in prev_tail) \
                and not re.search(r"\d[eE][-+]?\d", tail):
            cut = "ends in a number without the exponent the rows before have"
        else:
            d = _decimals(tail)
            pd_ = {_decimals(x) for x in prev_tail}
            if d is not None and len(pd_) == 1 and None not in pd_ and d < pd_.pop():
                cut = "ends in a number with fewer decimals than the rows before"
    if cut is None:
        return lines, None
    msg = (f"{path}: dropped the last data row (line {last + 1} of the table), which {cut} and no "
           "line end: the file was cut or is still being written")
    log.warning(msg)
    return lines[:last], msg


def check_values(out: pd.DataFrame, path, warnings: list) -> None:
    """Refuse physically absurd voltage or current in a canonical time-series table.

    ``|voltage_V| > VOLTAGE_LIMIT_V`` or a total charge ``∫|I|dt > CHARGE_LIMIT_MAH`` (or not
    finite) raise :class:`DataQualityError` naming the file, column, rows and the bound.
    """
    v = out["voltage_V"].to_numpy(dtype=float)
    big = np.flatnonzero(np.abs(v) > VOLTAGE_LIMIT_V)
    if big.size:
        raise DataQualityError(
            f"{path}: column voltage_V has |value| > {VOLTAGE_LIMIT_V:g} V at row(s) {_rows_text(big)} "
            f"(largest {float(np.max(np.abs(v))):.4g} V); no cell log holds such voltages — check "
            "the column and its unit (mV read as V?) or remove those rows")
    t = out["time_s"].to_numpy(dtype=float)
    i = out["current_A"].to_numpy(dtype=float)
    if len(t) > 1:
        with np.errstate(over="ignore", invalid="ignore"):
            q_mah = float(np.sum(np.abs(i[1:]) * np.diff(t))) / 3.6
        if not np.isfinite(q_mah) or q_mah > CHARGE_LIMIT_MAH:
            k = int(np.argmax(np.abs(i)))
            raise DataQualityError(
                f"{path}: column current_A passes a total charge of {q_mah:.4g} mAh (limit "
                f"{CHARGE_LIMIT_MAH:g} mAh; largest |current| {float(np.abs(i[k])):.4g} A at row {k}); "
                "check the current column and its unit, or remove the corrupt rows")


#: Largest |current density| accepted once the cell's electrode area is known (mA/cm2):
#: solid-state cells run at 0.01-10 mA/cm2 and fast-charge studies reach ~100; a value a
#: thousand times a real one is a unit mix-up (mA logged as A) or a wrong area.
CURRENT_DENSITY_LIMIT_MA_CM2 = 1000.0


def check_current_density(out: pd.DataFrame, area_cm2, path, *, field: str = "cell area_cm2") -> None:
    """Refuse a log whose current density on the declared electrode area is absurd.

    Parameters
    ----------
    out : pandas.DataFrame
        Canonical table (``current_A``).
    area_cm2 : float or None
        Electrode area the experiment declares (nothing is checked without one).
    path : path-like
        The log, named in the error.
    field : str
        Where the area came from, named in the error.

    Raises
    ------
    DataQualityError
        ``max |current_A| / area_cm2 > CURRENT_DENSITY_LIMIT_MA_CM2`` (in mA/cm2).
    """
    if area_cm2 is None or not np.isfinite(area_cm2) or area_cm2 <= 0 or "current_A" not in out:
        return
    i = np.abs(out["current_A"].to_numpy(dtype=float))
    if "mode" in out.columns:  # impedance points carry the AC perturbation, not a DC current
        i = np.where(out["mode"].astype(str).str.upper().to_numpy() == "EIS", 0.0, i)
    if not i.size:
        return
    k = int(np.nanargmax(i)) if np.isfinite(i).any() else 0
    j = 1e3 * float(i[k]) / float(area_cm2)
    if j > CURRENT_DENSITY_LIMIT_MA_CM2:
        raise DataQualityError(
            f"{path}: current_A reaches {float(i[k]):.4g} A at row {k}, {j:.4g} mA/cm2 on the "
            f"{float(area_cm2):.4g} cm2 of {field} (limit {CURRENT_DENSITY_LIMIT_MA_CM2:g} mA/cm2); "
            "check the current column's unit (mA logged as A?) and the electrode area in the "
            "experiment file")


_UNIT_FIX = {"µ": "u", "μ": "u", "°": "", "%": "pct", "Ω": "ohm", "Ohm-1": "S", "Ohm": "ohm"}


def snake_name(name: str, unit: str | None = None) -> str:
    """Clean snake_case column name with the unit as suffix.

    ``snake_name("Capacitance charge", "µF") == "capacitance_charge_uF"``;
    ``snake_name("Re(Zce)", "Ohm") == "re_zce_ohm"``.
    """
    base = name.strip()
    for k, v in _UNIT_FIX.items():
        base = base.replace(k, v)
    base = re.sub(r"[^0-9A-Za-z]+", "_", base).strip("_").lower() or "col"
    if unit:
        u = unit.strip()
        for k, v in _UNIT_FIX.items():
            u = u.replace(k, v)
        u = u.replace(".", "").replace("/", "_per_")
        u = re.sub(r"[^0-9A-Za-z_]+", "", u)
        if u:
            return f"{base}_{u}"
    return base


_DUR_RE = re.compile(
    r"^\s*(?:(?P<d>\d+)(?:\s*(?:d|day|days)\s*,?\s*|\s+))?(?P<h>\d+):(?P<m>\d{1,2}):(?P<s>\d{1,2}(?:\.\d*)?)\s*$"
)


def parse_duration_s(values: pd.Series, path, column: str) -> np.ndarray:
    """Parse durations written as ``[Nd ]HH:MM:SS[.fff]`` or ``[N ]HH:MM:SS[.fff]`` (a day count
    before a space, as LANHE's ``TestTime`` writes it; hours may exceed 24) to seconds.

    Plain numbers are taken as seconds.
    """
    s = values.astype(str)
    num = pd.to_numeric(s, errors="coerce")
    if num.notna().all():
        return num.to_numpy(dtype=float)
    parts = s.str.extract(_DUR_RE)
    bad = parts["h"].isna() & num.isna()
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        raise FileFormatError(path, f"column {column!r}, data row {i}: cannot read duration "
                              "(expected [Nd ]HH:MM:SS[.fff] or seconds)",
                              "re-export with the time in seconds or pass time_s=<column>")
    num_part = {k: pd.to_numeric(parts[k], errors="coerce") for k in ("d", "h", "m", "s")}
    out = (num_part["d"].fillna(0.0) * 86400.0 + num_part["h"] * 3600.0
           + num_part["m"] * 60.0 + num_part["s"])
    out = out.to_numpy(dtype=float)
    return np.where(np.isnan(out), num.to_numpy(dtype=float), out)


def _rows_text(idx: np.ndarray, limit: int = 5) -> str:
    shown = ", ".join(str(int(i)) for i in idx[:limit])
    more = f" and {len(idx) - limit} more" if len(idx) > limit else ""
    return f"{shown}{more}"


def _require(df: pd.DataFrame, cols, path, mapping_hint: str) -> None:
    missing = [c for c in cols if c not in df.columns]
    if missing:
        raise MissingColumnError(
            path, f"missing column(s) {missing}; columns found: {list(df.columns)}", mapping_hint)


def finalize_timeseries(df: pd.DataFrame, path: Path, fmt: str, meta: dict | None = None, *,
                        nan_policy: str = "raise", invert_current: bool = False,
                        sha256: str | None = None,
                        record_index: np.ndarray | None = None) -> pd.DataFrame:
    """Validate a reader's table, order its columns and attach provenance.

    Checks, in order (rows are 0-based data rows of the table read from the file):

    1. ``time_s``, ``voltage_V``, ``current_A`` present, numeric.
    2. NaN or infinite ``time_s``: :class:`DataQualityError` naming the rows.
    3. NaN ``voltage_V`` / ``current_A``: with ``nan_policy="raise"`` (default) a
       :class:`DataQualityError` naming the rows; with ``"drop"`` those rows are removed and a
       warning is logged.
    4. Rows that repeat the previous row in every column (a logging artefact) are dropped with
       a warning — the only timestamp repair made, because it is unambiguous.
    5. ``time_s`` decreasing anywhere: :class:`DataQualityError` naming the first bad row.
       Equal consecutive stamps are accepted where ``step``, ``mode`` or ``cycle`` changes (a
       step transition logged at one instant). Equal stamps inside one step are accepted with a
       logged warning when the file numbers its records (``record_index``, e.g. Neware
       ``DataPoint``, Maccor ``Rec#``) and the numbers increase there: the order is then
       unambiguous and only the clock resolution is coarse (the stamps are kept, not invented).
       Otherwise they are ambiguous and raise :class:`DataQualityError`.

    ``df.attrs`` receives ``path`` (absolute), ``sha256``, ``format``, ``sign_convention`` and
    the reader's ``meta`` (instrument, software version, start time, ...).
    """
    if nan_policy not in ("raise", "drop"):
        from ssbscope.errors import ParameterError

        raise ParameterError("nan_policy", nan_policy, "must be 'raise' or 'drop'")
    hint = ("pass the column names as keyword arguments, e.g. read(path, time_s='Test Time (s)', "
            "voltage_V='Voltage (V)', current_A='Current (A)')")
    _require(df, CORE_COLUMNS, path, hint)
    if len(df) == 0:
        raise FileFormatError(path, "contains a header but no data rows",
                              "check the export finished (the file may be truncated)")
    out = df.copy()
    if record_index is not None:
        out["_record"] = np.asarray(record_index, dtype=float)
    for c in CORE_COLUMNS:
        col = pd.to_numeric(out[c], errors="coerce")
        bad = col.isna() & out[c].notna()
        if bad.any():
            idx = np.flatnonzero(bad.to_numpy())
            raise DataQualityError(f"{path}: column {c!r} holds non-numeric values at row(s) "
                                   f"{_rows_text(idx)}; fix or "
                                   "remove those rows")
        out[c] = col.astype(float)
    if invert_current:
        out["current_A"] = -out["current_A"]
        for c in SIGNED_EXTRAS:
            if c in out.columns and pd.api.types.is_numeric_dtype(out[c]):
                out[c] = -out[c]

    t = out["time_s"].to_numpy()
    bad_t = ~np.isfinite(t)
    if bad_t.any():
        idx = np.flatnonzero(bad_t)
        raise DataQualityError(f"{path}: time_s is missing, NaN or infinite at row(s) {_rows_text(idx)}; "
                               "the time axis must be complete — re-export the file")
    warnings: list[str] = list((meta or {}).get("warnings", []) or [])
    meta = {k: v for k, v in (meta or {}).items() if k != "warnings"}
    v_ok = np.isfinite(out["voltage_V"].to_numpy())
    i_ok = np.isfinite(out["current_A"].to_numpy())
    nan_mask = ~(v_ok & i_ok)
    if nan_mask.any():
        idx = np.flatnonzero(nan_mask)
        which = [c for c, ok in (("voltage_V", v_ok), ("current_A", i_ok)) if not ok.all()]
        if nan_policy == "raise":
            raise DataQualityError(
                f"{path}: NaN in {which} at row(s) {_rows_text(idx)} ({len(idx)} of {len(out)} rows); "
                "pass nan_policy='drop' (in the experiment file: nan_policy: drop on this input) "
                "to drop those rows (NaN or infinite values; a warning is recorded), or fix the file")
        msg = f"{path}: dropped {len(idx)} row(s) with NaN in {which} (rows {_rows_text(idx)})"
        log.warning(msg)
        warnings.append(msg)
        out = out.loc[~nan_mask]

    # exact duplicate consecutive rows -> drop (unambiguous)
    if len(out) > 1:
        same = np.ones(len(out) - 1, dtype=bool)
        for c in out.columns:
            if c == "_record":
                continue
            a = out[c].to_numpy()
            try:
                eq = (a[1:] == a[:-1]) | (pd.isna(a[1:]) & pd.isna(a[:-1]))
            except TypeError:
                eq = np.array([x == y for x, y in zip(a[1:], a[:-1])], dtype=bool)
            same &= np.asarray(eq, dtype=bool)
        if same.any():
            dup = np.flatnonzero(same) + 1
            rows = out.index.to_numpy()[dup]
            msg = f"{path}: dropped {len(dup)} exact duplicate row(s) (rows {_rows_text(rows)})"
            log.warning(msg)
            warnings.append(msg)
            keep = np.ones(len(out), dtype=bool)
            keep[dup] = False
            out = out.loc[keep]

    t = out["time_s"].to_numpy()
    if len(t) > 1:
        dt = np.diff(t)
        back = np.flatnonzero(dt < 0)
        if back.size:
            i = back[0] + 1
            row = out.index[i]
            raise DataQualityError(
                f"{path}: time_s goes backwards at row {row} ({float(t[i - 1])!r} s -> {float(t[i])!r} s; "
                f"{back.size} such place(s)); the file may join two tests or hold a clock reset — "
                "split it or re-export one test")
        ties = np.flatnonzero(dt == 0)
        if ties.size:
            change = np.zeros(ties.size, dtype=bool)
            for c in ("step", "mode", "cycle"):
                if c in out.columns:
                    a = out[c].to_numpy()
                    change |= a[ties + 1] != a[ties]
            amb = ties[~change]
            if amb.size and "_record" in out.columns:
                r = out["_record"].to_numpy()
                ordered = r[amb + 1] > r[amb]
                if ordered.all():
                    msg = (f"{path}: {amb.size} pair(s) of consecutive records share a timestamp "
                           f"inside one step (first at row {out.index[amb[0] + 1]}, "
                           f"time_s={float(t[amb[0] + 1])!r}); kept in record order — the exported clock "
                           "is coarser than the logging interval")
                    log.warning(msg)
                    warnings.append(msg)
                    amb = amb[:0]
            if amb.size:
                i = amb[0] + 1
                row = out.index[i]
                raise DataQualityError(
                    f"{path}: duplicate timestamp time_s={float(t[i])!r} s at row {row} (same as the "
                    f"previous row, {amb.size} such place(s)) with different values inside one "
                    "step; the order of those points is ambiguous — re-export with a finer time "
                    "resolution or remove the duplicates")

    check_values(out, path, warnings)
    out = out.drop(columns=[c for c in ("_record",) if c in out.columns])
    front = [c for c in (*CORE_COLUMNS, "cycle", "step", "mode") if c in out.columns]
    out = out[front + [c for c in out.columns if c not in front]].reset_index(drop=True)
    for c in ("cycle", "step"):
        if c in out.columns:
            col = pd.to_numeric(out[c], errors="coerce")
            if col.notna().all() and np.all(np.mod(col.to_numpy(), 1) == 0):
                out[c] = col.astype(np.int64)
    if "mode" in out.columns:
        out["mode"] = out["mode"].astype(str)
    _attach(out, path, fmt, meta, sha256, warnings, kind="timeseries")
    if invert_current:
        out.attrs["current_inverted"] = True
    return out


def finalize_eis(df: pd.DataFrame, path: Path, fmt: str, meta: dict | None = None, *,
                 sha256: str | None = None) -> pd.DataFrame:
    """Validate an impedance table (``frequency_Hz`` > 0, finite Z) and attach provenance."""
    _require(df, EIS_COLUMNS, path, "this file holds no impedance table; use read() for time series")
    out = df.copy()
    for c in EIS_COLUMNS:
        out[c] = pd.to_numeric(out[c], errors="coerce").astype(float)
    if len(out) == 0:
        raise FileFormatError(path, "holds no impedance points", "check the measurement finished")
    bad = ~np.isfinite(out[list(EIS_COLUMNS)].to_numpy()).all(axis=1) | (out["frequency_Hz"].to_numpy() <= 0)
    if bad.any():
        idx = np.flatnonzero(bad)
        raise DataQualityError(f"{path}: impedance row(s) {_rows_text(idx)} have a non-positive "
                               "frequency or a NaN impedance; remove them or re-export")
    front = [c for c in (*EIS_COLUMNS, "time_s") if c in out.columns]
    out = out[front + [c for c in out.columns if c not in front]].reset_index(drop=True)
    warnings = list((meta or {}).get("warnings", []) or [])
    meta = {k: v for k, v in (meta or {}).items() if k != "warnings"}
    _attach(out, path, fmt, meta, sha256, warnings, kind="eis")
    return out


def _attach(out, path, fmt, meta, sha256, warnings, kind):
    attrs = {
        "path": str(Path(path).resolve()),
        "sha256": sha256 if sha256 is not None else sha256_file(Path(path)),
        "format": fmt,
        "kind": kind,
    }
    if kind == "timeseries":
        attrs["sign_convention"] = "current_A > 0 on charge"
        attrs["units"] = {c: u for c, u in (("time_s", "s"), ("voltage_V", "V"), ("current_A", "A"))}
    else:
        attrs["sign_convention"] = "Z = z_real_ohm + j*z_imag_ohm; capacitive arcs have z_imag_ohm < 0"
        attrs["units"] = {"frequency_Hz": "Hz", "z_real_ohm": "ohm", "z_imag_ohm": "ohm"}
    for k, v in (meta or {}).items():
        if v is not None and v != "":
            attrs[k] = v
    if warnings:
        attrs["warnings"] = list(warnings)
    out.attrs.update(attrs)
