"""BioLogic EC-Lab / BT-Lab files: binary ``.mpr`` (through galvani) and ASCII ``.mpt``.

Sign: EC-Lab logs ``I/mA`` positive for an anodic (oxidation) current at the working electrode.
With the positive electrode on WE — the usual wiring for half cells (cathode vs Li) and full
cells — oxidation of the WE is charging, so **EC-Lab's sign already is ssbscope's (charge > 0)**
and is kept. For a cell wired with the negative electrode on WE (e.g. Li | SE | Cu with Cu as
WE, plating = reduction at WE = charging an anode-free cell), pass ``invert_current=True`` to
:func:`ssbscope.echem.read`.

Voltage: ``Ewe/V`` (``<Ewe>/V`` in impedance techniques); ``Ecell/V``, ``Ece/V`` are kept as
``ecell_V``, ``ece_V`` when recorded. Mode: EC-Lab's mode flag 1 → ``"CC"``, 2 → ``"CV"``,
3 → ``"rest"``; points with ``freq/Hz`` > 0 → ``"EIS"``. Impedance: EC-Lab writes
``-Im(Z)/Ohm``; ssbscope stores ``z_imag_ohm = Im(Z)`` (capacitive arcs negative).
"""

from __future__ import annotations

import io
import logging
import re
import struct
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd

from ssbscope.errors import FileFormatError, MissingColumnError
from ssbscope.echem.io.common import check_file, drop_truncated_last_row, finalize_eis, finalize_timeseries, snake_name

__all__ = ["read_mpr", "read_mpt", "read_mpr_eis", "read_mpt_eis", "MPR_MAGIC", "MPT_MAGICS"]

log = logging.getLogger(__name__)

MPR_MAGIC = b"BIO-LOGIC MODULAR FILE"
MPT_MAGICS = (b"EC-Lab ASCII FILE", b"BT-Lab ASCII FILE")

# EC-Lab column -> (ssbscope name, scale to the unit in the name)
_NAMED = {
    "time/s": ("time_s", 1.0),
    "(Q-Qo)/mA.h": ("capacity_mAh", 1.0),
    "(Q-Qo)/C": ("capacity_mAh", 1.0 / 3.6),
    "dq/mA.h": ("dq_mAh", 1.0),                    # increment since the previous point
    "dQ/mA.h": ("step_capacity_mAh", 1.0),          # since the start of the sequence (Ns)
    "dQ/C": ("step_capacity_mAh", 1.0 / 3.6),
    "Q charge/discharge/mA.h": ("half_cycle_capacity_mAh", 1.0),
    "Q charge/mA.h": ("charge_capacity_mAh", 1.0),
    "Q discharge/mA.h": ("discharge_capacity_mAh", 1.0),
    "Capacity/mA.h": ("half_cycle_capacity_mAh", 1.0),
    "control/mA": ("control_A", 1e-3),
    "control/V": ("control_V", 1.0),
    "Ecell/V": ("ecell_V", 1.0),
    "Ece/V": ("ece_V", 1.0),
    "<Ece>/V": ("ece_mean_V", 1.0),
    "freq/Hz": ("frequency_Hz", 1.0),
    "Re(Z)/Ohm": ("z_real_ohm", 1.0),
    "-Im(Z)/Ohm": ("z_imag_ohm", -1.0),
    "|Z|/Ohm": ("z_mod_ohm", 1.0),
    "Phase(Z)/deg": ("z_phase_deg", 1.0),
    "|Ewe|/V": ("ewe_amplitude_V", 1.0),
    "|I|/A": ("current_amplitude_A", 1.0),
    "Temperature/°C": ("temperature_C", 1.0),
    "P/W": ("power_W", 1.0),
    "half cycle": ("half_cycle", 1.0),
    "cycle number": ("cycle", 1.0),
    "Ns": ("step", 1.0),
    "z cycle": ("z_cycle", 1.0),
}
_VOLTAGE = ("Ewe/V", "<Ewe>/V", "<Ewe/V>", "Ecell/V")
_CURRENT = ("I/mA", "<I>/mA")
_DROP = {"flags", "I Range", "ox/red", "error", "control changes", "Ns changes", "counter inc.",
         "mode", "control/V/mA", "Rcmp/Ohm", "x"}
_MODE_NAMES = {1: "CC", 2: "CV", 3: "rest"}


def _split_unit(col: str) -> tuple[str, str | None]:
    if "/" in col:
        name, unit = col.split("/", 1)
        return name, unit
    return col, None


def _dq_dt_mA(cols: dict, t: np.ndarray) -> tuple[np.ndarray, str] | None:
    """Current in mA from the charge columns: ``dq/dt`` (lower-case dq: the increment of each
    interval), or ``d(Q-Qo)/dt`` (the running charge, differenced); 0 where dt == 0."""
    dt_h = np.diff(t, prepend=t[:1]) / 3600.0
    if "dq/mA.h" in cols:
        dq = np.asarray(cols["dq/mA.h"], dtype=float)
        src = "dq/mA.h"
    else:
        qc = next((c for c in ("(Q-Qo)/mA.h", "(Q-Qo)/C") if c in cols), None)
        if qc is None:
            return None
        q = np.asarray(cols[qc], dtype=float) * (1.0 / 3.6 if qc.endswith("/C") else 1.0)
        dq = np.diff(q, prepend=q[:1])
        src = f"d{qc}"
    with np.errstate(divide="ignore", invalid="ignore"):
        i_ma = np.where(dt_h > 0, dq / dt_h, 0.0)
    return i_ma, src


def _current_without_i(cols: dict, mode_raw, t: np.ndarray) -> tuple[np.ndarray, str] | None:
    """Current (A) of a file with no ``I/mA`` column (EC-Lab GCPL with "record I" off).

    EC-Lab's ``control/V/mA`` holds the set point of each point: a current in mA where the
    point is galvanostatic (``mode`` 1), a voltage where it is potentiostatic (2); rest points
    (3) carry no current. Galvanostatic points take the set current (what the instrument
    regulated), rest points 0, and potentiostatic points ``dq/dt`` (or ``d(Q-Qo)/dt``).
    Returns ``(current_A, source description)`` or None when neither source exists.
    """
    if "control/V/mA" not in cols or mode_raw is None:
        return None
    mode = np.asarray(mode_raw)
    if mode.shape != t.shape:
        return None
    ctrl = np.asarray(cols["control/V/mA"], dtype=float)
    i_ma = np.where(mode == 1, ctrl, 0.0)
    src = "control/V/mA (set current of galvanostatic points; 0 at rest)"
    pot = mode == 2
    if pot.any():
        dq = _dq_dt_mA(cols, t)
        if dq is None:
            return None
        i_ma = np.where(pot, dq[0], i_ma)
        src += f"; {dq[1]}/dt at potentiostatic points"
    return i_ma * 1e-3, src + " (file records no I/mA column)"


def _build(cols: dict[str, np.ndarray], mode_raw, path: Path) -> tuple[pd.DataFrame, dict]:
    """Map EC-Lab columns (raw header names) to ssbscope names; derive current if needed."""
    out: dict[str, np.ndarray] = {}
    notes: dict = {}
    if "time/s" not in cols:
        raise MissingColumnError(path, f"no 'time/s' column; columns found: {list(cols)}",
                                 "record time in EC-Lab (it always is for data files) or "
                                 "re-export the complete file")
    for vname in _VOLTAGE:
        if vname in cols:
            out["voltage_V"] = np.asarray(cols[vname], dtype=float)
            notes["voltage_source"] = vname
            break
    for cname in _CURRENT:
        if cname in cols:
            out["current_A"] = np.asarray(cols[cname], dtype=float) * 1e-3
            notes["current_source"] = cname
            break
    t = np.asarray(cols["time/s"], dtype=float)
    if "current_A" not in out:
        dq_col = next((c for c in ("dq/mA.h", "dQ/mA.h", "dQ/C") if c in cols), None)
        if dq_col is not None:
            # I = dq/dt with dq the charge passed over the interval ending at each point
            # (EC-Lab: lower-case dq is that increment; upper-case dQ counts from the start of
            # the sequence Ns, so it is differenced inside each sequence); 0 where dt == 0.
            dq_mah = np.asarray(cols[dq_col], dtype=float) * (1.0 / 3.6 if dq_col == "dQ/C" else 1.0)
            if dq_col != "dq/mA.h":
                ns = np.asarray(cols.get("Ns", np.zeros_like(dq_mah)))
                same = np.r_[False, ns[1:] == ns[:-1]]
                dq_mah = np.where(same, dq_mah - np.r_[0.0, dq_mah[:-1]], dq_mah)
            dt_h = np.diff(t, prepend=t[:1]) / 3600.0
            with np.errstate(divide="ignore", invalid="ignore"):
                i_ma = np.where(dt_h > 0, dq_mah / dt_h, 0.0)
            out["current_A"] = i_ma * 1e-3
            notes["current_source"] = f"derived: {dq_col} / dt (file records no I/mA column)"
        elif (dq := _dq_dt_mA(cols, t)) is not None:
            out["current_A"] = dq[0] * 1e-3
            notes["current_source"] = f"derived: {dq[1]} / dt (file records no I/mA column)"
        elif (derived := _current_without_i(cols, mode_raw, t)) is not None:
            out["current_A"] = derived[0]
            notes["current_source"] = derived[1]
        elif mode_raw is not None and np.all(np.asarray(mode_raw) == 3):
            out["current_A"] = np.zeros_like(t)
            notes["current_source"] = "zero: open-circuit (rest) technique without a current column"
        elif not any(c in cols for c in ("freq/Hz",)):
            raise MissingColumnError(
                path, f"no current column (I/mA, <I>/mA, dq/mA.h, dQ/C, (Q-Qo), control/V/mA); "
                  f"columns found: {list(cols)}",
                "record I or dq in the EC-Lab technique settings and re-export")
    for col, values in cols.items():
        if col in _VOLTAGE and notes.get("voltage_source") == col:
            continue
        if col in _CURRENT or col in _DROP:
            continue
        if col in _NAMED:
            name, scale = _NAMED[col]
            if name in out:
                continue
            a = np.asarray(values)
            out[name] = a * scale if scale != 1.0 else a
        elif col in _VOLTAGE:
            out.setdefault(snake_name(*_split_unit(col.strip("<>"))), np.asarray(values))
        else:
            neg = col.startswith("-")  # EC-Lab writes -Im(...): store Im(...) itself
            name = snake_name(*_split_unit(col.lstrip("-")))
            if name in out or name in ("time_s",):
                continue
            a = np.asarray(values)
            out[name] = -a if neg and np.issubdtype(a.dtype, np.number) else a
    df = pd.DataFrame(out)
    if mode_raw is not None:
        m = np.asarray(mode_raw).astype(int)
        mode = np.array([_MODE_NAMES.get(int(v), "other") for v in range(4)], dtype=object)[np.clip(m, 0, 3)]
        df["mode"] = mode
    if "frequency_Hz" in df.columns:
        eis = df["frequency_Hz"].to_numpy(dtype=float) > 0
        if eis.any():
            if "mode" not in df.columns:
                df["mode"] = np.where(eis, "EIS", "other")
            else:
                df.loc[eis, "mode"] = "EIS"
    for c in ("step", "cycle", "half_cycle", "z_cycle"):
        if c in df.columns:
            a = np.asarray(df[c], dtype=float)
            if np.isfinite(a).all():  # a cut last row leaves NaN: keep float, rows checked later
                df[c] = a.round().astype(np.int64)
    return df, notes


# --------------------------------------------------------------------------------------- .mpr

def _load_mpr(path, raw: bytes | None = None):
    """Parse an .mpr through galvani; return (columns dict, mode array or None, meta, sha)."""
    import hashlib

    p = check_file(path)
    if raw is None:
        with open(p, "rb") as fh:
            raw = fh.read()
    if not raw.startswith(MPR_MAGIC):
        raise FileFormatError(p, f"not a BioLogic .mpr file (does not start with {MPR_MAGIC!r})",
                              "pass format= for the right reader or check the file")
    sha = hashlib.sha256(raw).hexdigest()
    try:
        from galvani import BioLogic
    except ImportError as e:  # pragma: no cover - galvani is a core dependency
        raise FileFormatError(p, "reading .mpr needs the 'galvani' package",
                              "pip install galvani, or export the file as .mpt from EC-Lab") from e
    try:
        mpr = BioLogic.MPRfile(io.BytesIO(raw))
    except (ValueError, AssertionError, NotImplementedError, struct.error, EOFError, OSError,
            IndexError, KeyError, TypeError, StopIteration) as e:
        msg = " ".join(str(e).split()) or type(e).__name__
        raise FileFormatError(
            p, f"galvani could not parse this .mpr ({type(e).__name__}: {msg}); the file may be "
               "truncated (still being written?) or from an EC-Lab version galvani does not know",
            "copy the complete file again, or export it as .mpt (EC-Lab: File > Export as text)"
        ) from e
    data = mpr.data
    names = list(data.dtype.names)
    cols = {n: data[n] for n in names if n != "flags"}
    mode_raw = None
    if "mode" in getattr(mpr, "flags_dict", {}):
        mode_raw = mpr.get_flag("mode")
    meta = {
        "instrument": "BioLogic",
        "software": "EC-Lab",
        "mpr_data_module_version": int(getattr(mpr, "version", -1)),
        "reader": "galvani " + _galvani_version(),
    }
    ts = getattr(mpr, "timestamp", None)
    if ts is not None:
        meta["start_time"] = ts.isoformat()
    elif getattr(mpr, "startdate", None) is not None:
        meta["start_date"] = mpr.startdate.isoformat()
    return p, cols, mode_raw, meta, sha


def _galvani_version() -> str:
    try:
        from importlib.metadata import version

        return version("galvani")
    except Exception:  # noqa: BLE001 - metadata lookup only
        return "unknown"


def read_mpr(path, *, nan_policy: str = "raise", invert_current: bool = False) -> pd.DataFrame:
    """Read a BioLogic EC-Lab binary ``.mpr`` file into the canonical time-series table.

    Parameters
    ----------
    path : path-like
        The ``.mpr`` file (opened read-only).
    nan_policy : {"raise", "drop"}
        See :func:`ssbscope.echem.io.common.finalize_timeseries`.
    invert_current : bool
        Flip the current sign (cell wired with the negative electrode on WE).

    Returns
    -------
    pandas.DataFrame
        ``time_s``, ``voltage_V``, ``current_A`` (+ ``step`` from ``Ns``, ``mode``, ``cycle``,
        ``half_cycle``, ``capacity_mAh`` ... where recorded). Where the file records no
        ``I/mA`` (some GCPL settings) the current is ``dq/dt``, else ``d(Q-Qo)/dt``, else the set
        point ``control/V/mA`` of the galvanostatic points (0 at rest); ``attrs["current_source"]``
        says which.
    """
    p, cols, mode_raw, meta, sha = _load_mpr(path)
    df, notes = _build(cols, mode_raw, p)
    meta.update(notes)
    return finalize_timeseries(df, p, "biologic-mpr", meta, nan_policy=nan_policy,
                               invert_current=invert_current, sha256=sha)


def _eis_from(df: pd.DataFrame, p: Path, fmt: str, meta: dict, sha: str) -> pd.DataFrame:
    if "frequency_Hz" not in df.columns:
        raise FileFormatError(p, "holds no impedance data (no freq/Hz column)",
                              "use ssbscope.echem.read() for time series; read_eis() needs a PEIS/GEIS file")
    eis = df.loc[df["frequency_Hz"].to_numpy(dtype=float) > 0].copy()
    if eis.empty:
        raise FileFormatError(p, "has a freq/Hz column but no impedance points (all 0)",
                              "use ssbscope.echem.read() for the time series")
    if "z_real_ohm" not in eis.columns or "z_imag_ohm" not in eis.columns:
        if "z_mod_ohm" in eis.columns and "z_phase_deg" in eis.columns:
            ph = np.deg2rad(eis["z_phase_deg"].to_numpy(dtype=float))
            mod = eis["z_mod_ohm"].to_numpy(dtype=float)
            eis["z_real_ohm"] = mod * np.cos(ph)
            eis["z_imag_ohm"] = mod * np.sin(ph)
            meta["impedance_source"] = "|Z| and Phase(Z) (no Re(Z)/-Im(Z) columns recorded)"
        else:
            raise MissingColumnError(p, f"no Re(Z)/-Im(Z) nor |Z|/Phase(Z) columns; found {list(df.columns)}",
                                     "record Re(Z) and -Im(Z) in EC-Lab")
    # spectrum index: a new sweep starts where the frequency rises or the sequence changes
    f = eis["frequency_Hz"].to_numpy(dtype=float)
    new = np.r_[False, f[1:] > f[:-1]]
    if "step" in eis.columns:
        s = eis["step"].to_numpy()
        new |= np.r_[False, s[1:] != s[:-1]]
    eis["spectrum"] = np.cumsum(new).astype(np.int64)
    drop = [c for c in ("mode",) if c in eis.columns]
    eis = eis.drop(columns=drop)
    return finalize_eis(eis, p, fmt, meta, sha256=sha)


def read_mpr_eis(path) -> pd.DataFrame:
    """Impedance points of a BioLogic ``.mpr`` (PEIS/GEIS, or the EIS steps of a Modulo Bat file).

    Returns ``frequency_Hz``, ``z_real_ohm``, ``z_imag_ohm`` (Z = Z' + jZ'', capacitive < 0),
    ``time_s``, and ``spectrum`` (0, 1, ... one per frequency sweep), plus the other recorded
    columns (``voltage_V`` = <Ewe>, ``current_A`` = <I>, ``cycle`` ...).
    """
    p, cols, mode_raw, meta, sha = _load_mpr(path)
    df, notes = _build(cols, mode_raw, p)
    meta.update(notes)
    return _eis_from(df, p, "biologic-mpr", meta, sha)


# --------------------------------------------------------------------------------------- .mpt

_NB_RE = re.compile(r"Nb header lines\s*:\s*(\d+)")


def _decode(raw: bytes) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def _parse_mpt_header(lines: list[str]) -> dict:
    meta: dict = {"instrument": "BioLogic"}
    for ln in lines:
        s = ln.strip()
        m = re.match(r"(EC-Lab|BT-Lab) for windows v([\w.]+)", s)
        if m:
            meta["software"] = m.group(1)
            meta["software_version"] = m.group(2)
        elif s.startswith("Device :") or s.startswith("Device:"):
            meta["device"] = s.split(":", 1)[1].strip()
        elif s.startswith("Acquisition started on"):
            txt = s.split(":", 1)[1].strip()
            meta["start_time_text"] = txt
            for fmt in ("%m/%d/%Y %H:%M:%S.%f", "%m/%d/%Y %H:%M:%S", "%m.%d.%Y %H:%M:%S",
                        "%m/%d/%Y %H:%M", "%d/%m/%Y %H:%M:%S"):
                try:
                    meta["start_time"] = datetime.strptime(txt, fmt).isoformat()
                    break
                except ValueError:
                    continue
    nonblank = [ln.strip() for ln in lines[2:6] if ln.strip()]
    if nonblank and ":" not in nonblank[0]:
        meta["technique"] = nonblank[0]
    return meta


def _load_mpt(path):
    import hashlib

    p = check_file(path)
    with open(p, "rb") as fh:
        raw = fh.read()
    sha = hashlib.sha256(raw).hexdigest()
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    text = _decode(raw)
    lines = text.splitlines()
    if raw.startswith(MPT_MAGICS):
        m = _NB_RE.search(lines[1]) if len(lines) > 1 else None
        if m is None:
            raise FileFormatError(p, "EC-Lab ASCII file without a 'Nb header lines : N' line 2",
                                  "re-export from EC-Lab with the header")
        n_header = int(m.group(1))
        if n_header < 3 or n_header > len(lines):
            raise FileFormatError(p, f"'Nb header lines : {n_header}' but the file has {len(lines)} "
                                  "lines", "the file is truncated; export it again")
        header_lines = lines[: n_header - 1]
        col_line = n_header - 1
    elif "time/s" in lines[0]:
        header_lines, col_line = [], 0  # exported without the header block
    else:
        raise FileFormatError(p, "not an EC-Lab ASCII (.mpt) file (no 'EC-Lab ASCII FILE' or 'time/s' on line 1)",
                              "expected 'EC-Lab ASCII FILE' on line 1")
    meta = _parse_mpt_header(header_lines)
    names = [c.strip() for c in lines[col_line].rstrip("\r\n").split("\t")]
    while names and names[-1] == "":
        names.pop()
    rows, cut = drop_truncated_last_row(lines[col_line + 1:], "\t", p, n_fields=len(names),
                                        ends_with_newline=text.endswith(("\n", "\r")))
    body = "\n".join(rows)
    if not body.strip():
        raise FileFormatError(p, "EC-Lab ASCII file has a header but no data rows",
                              "the measurement wrote no points or the export was cut")
    first = next(ln for ln in lines[col_line + 1:] if ln.strip())
    decimal = "," if re.search(r"\d,\d", first) and not re.search(r"\d\.\d", first) else "."
    try:
        tab = pd.read_csv(io.StringIO(body), sep="\t", header=None, decimal=decimal,
                          usecols=range(len(names)), engine="c", skip_blank_lines=True)
    except (ValueError, pd.errors.ParserError) as e:
        raise FileFormatError(p, f"cannot parse the data table of the .mpt ({e})",
                              "check the file is a complete EC-Lab text export") from e
    cols: dict[str, np.ndarray] = {}
    for i, n in enumerate(names):
        if n in cols:  # EC-Lab sometimes writes a column twice (<I>/mA); keep the first
            continue
        cols[n] = pd.to_numeric(tab.iloc[:, i], errors="coerce").to_numpy(dtype=float)
    mode_raw = cols.pop("mode", None)
    meta["decimal_separator"] = decimal
    if cut:
        meta["warnings"] = [cut]
    return p, cols, mode_raw, meta, sha


def read_mpt(path, *, nan_policy: str = "raise", invert_current: bool = False) -> pd.DataFrame:
    """Read a BioLogic EC-Lab / BT-Lab ASCII ``.mpt`` export into the canonical table.

    Handles the ``Nb header lines : N`` header block (or a header-less export starting with
    the column names), latin-1 or UTF-8 text, decimal comma or point, and duplicated columns.
    Provenance in ``attrs`` includes ``software_version``, ``device``, ``technique`` and
    ``start_time`` (from ``Acquisition started on``, read as month/day/year).
    """
    p, cols, mode_raw, meta, sha = _load_mpt(path)
    df, notes = _build(cols, mode_raw, p)
    meta.update(notes)
    return finalize_timeseries(df, p, "biologic-mpt", meta, nan_policy=nan_policy,
                               invert_current=invert_current, sha256=sha)


def read_mpt_eis(path) -> pd.DataFrame:
    """Impedance points of a BioLogic ``.mpt`` export (see :func:`read_mpr_eis`)."""
    p, cols, mode_raw, meta, sha = _load_mpt(path)
    df, notes = _build(cols, mode_raw, p)
    meta.update(notes)
    return _eis_from(df, p, "biologic-mpt", meta, sha)
