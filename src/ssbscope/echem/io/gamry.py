"""Gamry Framework ``.DTA`` files: header key/value lines and named TABLE blocks.

A ``.DTA`` holds header lines ``KEY<TAB>TYPE<TAB>VALUE...`` and tables introduced by
``NAME<TAB>TABLE[<TAB>N]``, followed by a column-name line, a unit line and tab-indented rows.

* Time series (:func:`read_dta`): the ``CURVE``/``CURVEn`` tables (concatenated in file order),
  columns ``T`` (s) → ``time_s``, ``Vf`` (V) → ``voltage_V``, ``Im`` (A) → ``current_A``.
  An EIS file whose only time series is the ``OCVCURVE`` before the sweep returns that curve
  (``mode = "rest"``, current 0 A). Gamry reports anodic current positive (Framework default,
  header ``CONVENTION``, kept in ``attrs``): like EC-Lab, this is charge-positive for a cell with
  its positive electrode on the working lead; ``invert_current=True`` flips it otherwise.
* Impedance (:func:`read_dta_eis`): the ``ZCURVE`` table, ``Freq`` → ``frequency_Hz``,
  ``Zreal`` → ``z_real_ohm``, ``Zimag`` → ``z_imag_ohm`` (Gamry already writes Z'' with its
  sign, capacitive < 0), ``Time`` → ``time_s``, ``Vdc``/``Idc`` → ``voltage_V``/``current_A``.
"""

from __future__ import annotations

import hashlib
import io
import re
from datetime import datetime

import pandas as pd

from ssbscope.errors import FileFormatError
from ssbscope.echem.io.common import check_file, drop_truncated_last_row, finalize_eis, finalize_timeseries, snake_name

import logging

log = logging.getLogger(__name__)

__all__ = ["read_dta", "read_dta_eis", "parse_dta"]

_TABLE_RE = re.compile(r"^([A-Za-z_][\w]*)\tTABLE(?:\t(\d+))?\s*$")


def parse_dta(path):
    """Parse a Gamry ``.DTA`` file.

    Returns
    -------
    header : dict
        ``KEY -> value`` (the third field, as text) for every header line.
    tables : dict[str, pandas.DataFrame]
        Table name -> numeric table (column names as in the file).
    sha256 : str
    """
    p = check_file(path)
    with open(p, "rb") as fh:
        raw = fh.read()
    sha = hashlib.sha256(raw).hexdigest()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        text = raw.decode("latin-1")
    lines = text.splitlines()
    if not lines or lines[0].strip() != "EXPLAIN":
        raise FileFormatError(p, "not a Gamry .DTA file (its first line is not 'EXPLAIN')",
                              "pass format= for the right reader")
    header: dict[str, str] = {}
    tables: dict[str, pd.DataFrame] = {}
    i = 1
    n = len(lines)
    while i < n:
        ln = lines[i]
        m = _TABLE_RE.match(ln)
        if m:
            name = m.group(1)
            if i + 2 >= n:
                raise FileFormatError(p, f"table {name} at line {i + 1} is cut before its column "
                                      "names", "the file is truncated; copy it again")
            cols = lines[i + 1].strip("\r\n").split("\t")[1:]
            j = i + 3
            rows = []
            while j < n and lines[j].startswith("\t") and lines[j].strip():
                rows.append(lines[j][1:])
                j += 1
            notes = []
            if j >= n:  # the table runs to the end of the file: its last row may be cut
                rows, cut = drop_truncated_last_row(rows, "\t", p, n_fields=len(cols),
                                                    ends_with_newline=text.endswith(("\n", "\r")))
                if cut:
                    notes.append(cut)
            if rows:
                tab = pd.read_csv(io.StringIO("\n".join(rows)), sep="\t", header=None,
                                  names=cols, usecols=range(len(cols)), engine="c")
            else:
                tab = pd.DataFrame(columns=cols)
            declared = m.group(2)
            if declared is not None and int(declared) < len(tab):
                raise FileFormatError(p, f"table {name} declares {declared} rows but holds "
                                      f"{len(tab)}", "the file is damaged; copy it again")
            if declared is not None and int(declared) > len(tab):
                # one rule for every table type: the rows present are kept, with a warning
                msg = (f"{p}: table {name} declares {declared} rows but holds {len(tab)}: the file "
                       "was cut or the measurement stopped early; the rows present are used")
                log.warning(msg)
                notes.append(msg)
            tab.attrs["warnings"] = notes
            key = name
            k = 2
            while key in tables:
                key = f"{name}#{k}"
                k += 1
            tables[key] = tab
            i = j
            continue
        parts = ln.split("\t")
        if len(parts) >= 3 and parts[0]:
            header.setdefault(parts[0], parts[2])
        elif len(parts) == 2 and parts[0]:
            header.setdefault(parts[0], parts[1])
        i += 1
    return p, header, tables, sha


def _meta(header: dict) -> dict:
    meta = {"instrument": "Gamry", "software": "Gamry Framework"}
    if "FRAMEWORKVERSION" in header:
        meta["software_version"] = header["FRAMEWORKVERSION"]
    if "INSTRUMENTVERSION" in header:
        meta["instrument_version"] = header["INSTRUMENTVERSION"]
    if "PSTAT" in header:
        meta["device"] = header["PSTAT"]
    if "TAG" in header:
        meta["technique"] = header["TAG"]
    if "TITLE" in header:
        meta["title"] = header["TITLE"]
    if "CONVENTION" in header:
        meta["current_convention_header"] = header["CONVENTION"]
    d, t = header.get("DATE"), header.get("TIME")
    if d:
        for fmt in ("%m/%d/%Y %H:%M:%S.%f", "%m/%d/%Y %H:%M:%S", "%m/%d/%Y"):
            try:
                meta["start_time"] = datetime.strptime(f"{d} {t}".strip() if "%H" in fmt else d,
                                                       fmt).isoformat()
                break
            except ValueError:
                continue
    return meta


_TS_NAMED = {"T": "time_s", "Vf": "voltage_V", "Im": "current_A", "Vu": "vu_V", "Vm": "vm_V",
             "Temp": "temperature_C", "Ach": "ach_V", "Pt": "point"}


def read_dta(path, *, nan_policy: str = "raise", invert_current: bool = False) -> pd.DataFrame:
    """Time series of a Gamry ``.DTA`` (``CURVE`` tables; ``OCVCURVE`` if it is the only one)."""
    p, header, tables, sha = parse_dta(path)
    meta = _meta(header)
    curves = [k for k in tables if re.fullmatch(r"CURVE\d*(#\d+)?", k)]
    if curves:
        frames = []
        for k, name in enumerate(curves):
            t = tables[name]
            missing = [c for c in ("T", "Vf", "Im") if c not in t.columns]
            if missing:
                from ssbscope.errors import MissingColumnError

                raise MissingColumnError(p, f"table {name} lacks {missing}; columns found: "
                                         f"{list(t.columns)}", "export the curve with T, Vf and Im")
            f = t.rename(columns=lambda c: _TS_NAMED.get(c, snake_name(c)))
            f["curve"] = k
            frames.append(f)
        df = pd.concat(frames, ignore_index=True)
        meta["tables"] = curves
        meta["warnings"] = [w for name in curves for w in tables[name].attrs.get("warnings", [])]
    elif "OCVCURVE" in tables:
        t = tables["OCVCURVE"]
        df = t.rename(columns=lambda c: _TS_NAMED.get(c, snake_name(c)))
        if "current_A" not in df.columns:
            df["current_A"] = 0.0
        df["mode"] = "rest"
        meta["tables"] = ["OCVCURVE"]
        meta["warnings"] = list(t.attrs.get("warnings", []))
        meta["current_source"] = "zero: open-circuit curve"
    else:
        found = list(tables) or "none"
        hint = ("this file holds only an impedance table; use ssbscope.echem.read_eis()"
                if "ZCURVE" in tables else "export the measurement's CURVE table from Gamry")
        raise FileFormatError(p, f"no time-series table (CURVE or OCVCURVE); tables found: {found}", hint)
    for c in ("point", "over", "overload"):
        if c in df.columns and not pd.api.types.is_numeric_dtype(df[c]):
            df = df.drop(columns=c)
    return finalize_timeseries(df, p, "gamry-dta", meta, nan_policy=nan_policy,
                               invert_current=invert_current, sha256=sha)


_Z_NAMED = {"Freq": "frequency_Hz", "Zreal": "z_real_ohm", "Zimag": "z_imag_ohm", "Time": "time_s",
            "Zmod": "z_mod_ohm", "Zphz": "z_phase_deg", "Idc": "current_A", "Vdc": "voltage_V",
            "Zsig": "z_sig_V", "IERange": "ie_range", "Pt": "point"}


def read_dta_eis(path) -> pd.DataFrame:
    """Impedance spectrum of a Gamry ``.DTA`` (``ZCURVE`` table). See the module docstring."""
    p, header, tables, sha = parse_dta(path)
    meta = _meta(header)
    if "ZCURVE" not in tables:
        raise FileFormatError(p, f"no ZCURVE (impedance) table; tables found: {list(tables) or 'none'}",
                              "use ssbscope.echem.read() for time series")
    t = tables["ZCURVE"]
    df = t.rename(columns=lambda c: _Z_NAMED.get(c, snake_name(c)))
    meta["tables"] = ["ZCURVE"]
    meta["warnings"] = list(t.attrs.get("warnings", []))
    return finalize_eis(df, p, "gamry-dta", meta, sha256=sha)
