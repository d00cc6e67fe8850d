"""Cycler binaries read through maintained third-party readers (optional extras).

=================  ==========================  ================================================
format             recognised by               read with
=================  ==========================  ================================================
``neware-nda``     magic ``NEWARE`` (bytes 0-5)  `NewareNDA <https://github.com/d-cogswell/NewareNDA>`_
                                               (BSD-3-Clause): ``pip install 'ssbscope[neware]'``
``neware-ndax``    zip holding ``*.ndc`` /     NewareNDA (same extra)
                   ``TestInfo.xml``
``arbin-res``      MS Access / Jet header      `access-parser <https://pypi.org/project/access-parser/>`_
                   (``Standard Jet DB``)       (Apache-2.0, pure Python):
                                               ``pip install 'ssbscope[arbin]'``; or mdbtools'
                                               ``mdb-export`` when on the PATH
=================  ==========================  ================================================

Both give the canonical table of :mod:`ssbscope.echem.io.common` (``time_s``, ``voltage_V``,
``current_A`` > 0 on charge, ``cycle``, ``step``, and for Neware ``mode`` +
``instrument_state``) through :func:`~ssbscope.echem.io.common.finalize_timeseries`, so the
same checks (NaN, time order, absurd values) apply as to every other reader.

Neware: NewareNDA returns ``Time`` as the *step* time for most files and as the test time for
others (BTS 9 ``.nda``); ``time_s`` is the test time either way (step times added up where
they restart at each step change: the first record of a step is at the instant the previous
step ended, as Neware BTSDA's own "Total Time" counts). The cycle is the file's own counter
(NewareNDA's ``software_cycle_number=False``). The current sign comes from the step type
(``…Chg`` +, ``…DChg`` −), as for Neware CSV exports. Records NewareNDA filled by
interpolation (some BTS 8 ``.ndax``) are flagged in ``attrs["warnings"]``.

Arbin: ``Channel_Normal_Table`` (``Test_Time`` s, ``Voltage`` V, ``Current`` A signed charge
positive, ``Cycle_Index``, ``Step_Index``, counters in Ah/Wh); test name, schedule and start
time from ``Global_Table``. One test per file.
"""

from __future__ import annotations

import io
import logging
import re
import shutil
import subprocess
import warnings
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

from ssbscope.errors import FileFormatError, SsbscopeError, UnsupportedFormatError
from ssbscope.echem.io.common import finalize_timeseries, sha256_file, snake_name

__all__ = ["read_neware_binary", "read_arbin_res", "ARBIN_BACKENDS", "neware_test_time_s",
           "nda_completeness"]

log = logging.getLogger(__name__)

ARBIN_BACKENDS = ("access-parser", "mdbtools")


# --------------------------------------------------------------------------------- Neware

def _neware_kind(fmt: str) -> str:
    return "Neware BTS .ndax (zip archive)" if fmt == "neware-ndax" else "Neware BTS .nda"


class _Capture(logging.Handler):
    def __init__(self):
        super().__init__(logging.DEBUG)
        self.messages: list[tuple[int, str]] = []

    def emit(self, record):  # pragma: no cover - trivial
        try:
            self.messages.append((record.levelno, record.getMessage()))
        except Exception:  # noqa: BLE001 - a bad log call of the library must not fail the read
            pass


def neware_test_time_s(time: np.ndarray, step: np.ndarray) -> tuple[np.ndarray, np.ndarray, str]:
    """Test time and step time from NewareNDA's ``Time`` and its running step counter.

    Parameters
    ----------
    time : ndarray, shape (n,)
        NewareNDA ``Time`` (s): step time (restarts at each step) or test time.
    step : ndarray, shape (n,)
        Running step number (changes at every step change).

    Returns
    -------
    time_s, step_time_s : ndarray, shape (n,)
        Test time (s) and time since the start of the step (s).
    source : str
        ``"test time as recorded"`` or ``"step times added up"``.
    """
    t = np.asarray(time, dtype=float)
    s = np.asarray(step)
    n = t.size
    new = np.ones(n, dtype=bool)
    if n > 1:
        new[1:] = s[1:] != s[:-1]
    starts = np.flatnonzero(new)
    ends = np.r_[starts[1:] - 1, n - 1] if starts.size else np.array([], dtype=int)
    seg = np.cumsum(new) - 1
    if starts.size <= 1:
        return t.copy(), t.copy(), "test time as recorded"
    a, b = t[ends[:-1]], t[starts[1:]]
    tol = 1e-6 * np.maximum(1.0, np.abs(a))
    if np.all(b >= a - tol):  # never restarts: already the test time
        prev_end = np.r_[0.0, a]
        return t.copy(), t - prev_end[seg], "test time as recorded"
    offsets = np.r_[0.0, np.cumsum(t[ends[:-1]])]
    return offsets[seg] + t, t.copy(), "step times added up"


#: An .ndax whose members declare more than this many bytes (and expand more than
#: _ZIP_MAX_RATIO-fold) is refused before NewareNDA unpacks it: a damaged or hostile archive.
_ZIP_MAX_BYTES = 4 * 1024**3
_ZIP_MAX_RATIO = 200


def _check_zip_size(p: Path) -> None:
    import zipfile

    try:
        with zipfile.ZipFile(p) as z:
            total = sum(max(0, i.file_size) for i in z.infolist())
    except (zipfile.BadZipFile, OSError, ValueError, EOFError):
        return  # NewareNDA reports the damage
    size = max(1, p.stat().st_size)
    if total > _ZIP_MAX_BYTES and total > _ZIP_MAX_RATIO * size:
        raise FileFormatError(p, f"Neware .ndax archive declares {total / 1e9:.3g} GB of members "
                              f"from {size / 1e6:.3g} MB (a damaged or hostile archive)",
                              "copy the file again, or export CSV from Neware BTS")


_AUX = {"V": ("aux_voltage", "V"), "T": ("aux_temperature", "C"), "H": ("aux_humidity", "pct")}

#: Start of the record block of an .nda version 130 (BTS 9) file, and the type byte of the
#: block that follows the last record (NewareNDA stops reading there).
_NDA130_DATA = 1024
_NDA130_END = 0x81


def nda_completeness(path) -> list[str]:
    """Signs that a Neware ``.nda`` file was cut short, which NewareNDA itself ignores.

    NewareNDA reads whole records until the end of the file and drops a partial last record
    without a word, so a file cut at (or inside) a record reads as a shorter, valid log. This
    checks what the file layout allows:

    * version 130 (BTS 9): the record block must be followed by the end-of-data block (type
      byte ``0x81``) and the step/footer sections the header's (offset, length) table lists
      must lie inside the file;
    * version 29 (BTS 7/8): the file size its header records (bytes 72-87: the same 64-bit
      size twice) must not exceed the file's size;
    * every version: the bytes after the first record are a whole number of records
      (a cut inside a record).

    Layouts as in the two real files of the tests (a BTS 9.1 and a BTS 7 file); a file whose
    header lacks these fields is checked for a partial record only.

    Parameters
    ----------
    path : path-like
        The ``.nda`` file.

    Returns
    -------
    list of str
        Warnings (empty when the file looks complete), each naming the file.
    """
    p = Path(path)
    try:
        with open(p, "rb") as f:
            head = f.read(_NDA130_DATA + 2)
            size = p.stat().st_size
            if head[:6] != b"NEWARE" or len(head) < 15:
                return []
            version = head[14]
            if version == 130 and len(head) >= _NDA130_DATA + 2:
                return _nda130_completeness(p, f, head, size)
            if version == 29:
                f.seek(0)
                buf = f.read(min(size, 1 << 20))
                h = buf.find(b"\x00\x00\x00\x00\x55\x00")
                if h == -1:
                    return []
                out = []
                rest = (size - (h + 4)) % 86
                if rest:
                    out.append(f"{p}: the last {rest} byte(s) are part of a Neware record (86 "
                               "bytes): the file was cut inside a record (copied while the test "
                               "was running?); NewareNDA dropped that record; copy the file again "
                               "after the test ends")
                # the header records the file's size (u64 at bytes 72 and 80, equal)
                import struct

                a, b = struct.unpack("<QQ", buf[72:88]) if len(buf) >= 88 else (0, 0)
                if a == b and h < a < 2**40 and a > size:
                    out.append(f"{p}: Neware .nda is incomplete: its header records {a} bytes, "
                               f"the file has {size} (cut while copying, or copied while the "
                               "test was running); the records after the cut are missing and "
                               "NewareNDA read the rest as a shorter log; copy the file again "
                               "after the test ends")
                return out
    except OSError:
        return []
    return []


def _nda130_completeness(p: Path, f, head: bytes, size: int) -> list[str]:
    import struct

    rl = 88  # BTS 9.0; BTS 9.1 (first byte 0x55): up to the next record's first two bytes
    if head[_NDA130_DATA] == 0x55:
        f.seek(_NDA130_DATA)
        probe = f.read(4096)
        k = probe.find(probe[:2], 2)
        rl = k if k > 0 else rl
    # header (offset, length) table: follow the chain of contiguous sections from the data block
    # (the table's entries are not all 8-byte aligned: every byte offset is tried)
    pairs = [struct.unpack("<QQ", head[o:o + 16]) for o in range(16, _NDA130_DATA - 15)]
    pairs = [(o, ln) for o, ln in pairs if _NDA130_DATA <= o < 2**40 and 0 < ln < 2**32
             and (o != _NDA130_DATA or ln % rl == 0)]  # the record block: whole records
    ends, grew = {_NDA130_DATA}, True
    chain_end = None
    while grew:
        grew = False
        for o, ln in pairs:
            if o in ends and o + ln not in ends:
                ends.add(o + ln)
                grew = True
    if len(ends) > 1:
        chain_end = max(ends)
    # end-of-data block after the last whole record
    f.seek(_NDA130_DATA)
    data = f.read(max(0, size - _NDA130_DATA))
    n = len(data) // rl
    first = np.frombuffer(data, dtype=np.uint8, count=n * rl).reshape(n, rl)[:, 0] if n else \
        np.zeros(0, dtype=np.uint8)
    stop = np.flatnonzero(first == _NDA130_END)
    problems = []
    if stop.size == 0:
        rest = len(data) - n * rl
        problems.append(f"its records run to the end of the file without the end-of-data block "
                        f"Neware writes after the last record"
                        + (f", and the last {rest} byte(s) are a partial record" if rest else ""))
    if chain_end is not None and chain_end > size:
        problems.append(f"its header lists sections up to byte {chain_end}, the file has {size} bytes")
    if not problems:
        return []
    return [f"{p}: Neware .nda is incomplete: " + "; ".join(problems) + " (cut while copying, or "
            "copied while the test was running); the records after the cut are missing and "
            "NewareNDA read the rest as a shorter log; copy the file again after the test ends"]


def read_neware_binary(path, fmt: str, *, nan_policy: str = "raise",
                       invert_current: bool = False) -> pd.DataFrame:
    """Read a Neware ``.nda``/``.ndax`` file through NewareNDA into the canonical table.

    Parameters
    ----------
    path : pathlib.Path
        The file (any name: the format was found from its content).
    fmt : {"neware-nda", "neware-ndax"}
    nan_policy, invert_current
        As for :func:`ssbscope.echem.io.read`.

    Returns
    -------
    pandas.DataFrame
        ``time_s``, ``voltage_V``, ``current_A`` (charge > 0), ``cycle``, ``step`` (the
        schedule's step index), ``mode``, ``instrument_state`` (NewareNDA ``Status``),
        ``step_time_s``, ``charge_capacity_mAh``/``discharge_capacity_mAh`` and
        ``charge_energy_mWh``/``discharge_energy_mWh`` (per-step counters of the cycler),
        ``aux_temperature_<n>_C``/``aux_voltage_<n>_V`` for auxiliary channels.

    Raises
    ------
    UnsupportedFormatError
        NewareNDA is not installed, or it does not read this file version.
    FileFormatError
        Damaged/truncated file, or no records.
    """
    p = Path(path)
    kind = _neware_kind(fmt)
    try:
        from NewareNDA.NewareNDA import read_nda, read_nda_metadata
        from NewareNDA.NewareNDAx import read_ndax, read_ndax_metadata
    except ImportError:
        raise UnsupportedFormatError(
            p, f"is a {kind} file; reading it needs the optional 'NewareNDA' package",
            "pip install 'ssbscope[neware]', or export CSV from Neware BTS and read the CSV") from None
    version = _dist_version("NewareNDA")
    sha = sha256_file(p)
    if fmt == "neware-ndax":
        _check_zip_size(p)
    reader = read_ndax if fmt == "neware-ndax" else read_nda
    lg = logging.getLogger("newarenda")
    cap = _Capture()
    old_level, old_prop = lg.level, lg.propagate
    lg.addHandler(cap)
    lg.setLevel(logging.INFO)  # its version / interpolation notes, kept in attrs, not printed
    lg.propagate = False
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            raw = reader(str(p), False, "chg")
    except SsbscopeError:
        raise
    except NotImplementedError as e:
        raise UnsupportedFormatError(
            p, f"is a {kind} file of a version NewareNDA {version} does not read ({str(e)[:80]})",
            "update NewareNDA (pip install -U NewareNDA), or export CSV from Neware BTS") from None
    except MemoryError:
        raise FileFormatError(p, f"{kind} file declares more data than fits in memory; it is "
                              "damaged", "check the file, or export CSV from Neware BTS") from None
    except Exception as e:  # noqa: BLE001 - the library raises many types on damaged files
        raise FileFormatError(
            p, f"cannot be read as a {kind} file by NewareNDA {version} ({type(e).__name__}); the "
            "file is damaged, truncated or of an unknown version",
            "check the file, or export CSV from Neware BTS and read the CSV") from None
    finally:
        lg.removeHandler(cap)
        lg.setLevel(old_level)
        lg.propagate = old_prop
    need = ["Time", "Voltage", "Current(mA)", "Status", "Step"]
    if not isinstance(raw, pd.DataFrame) or any(c not in raw.columns for c in need):
        raise FileFormatError(p, f"{kind} file gave no record table (NewareNDA {version})",
                              "check the file, or export CSV from Neware BTS")
    if len(raw) == 0:
        raise FileFormatError(p, f"{kind} file holds no data records",
                              "check the test recorded data, or export CSV from Neware BTS")

    from ssbscope.echem.io.tabular import _map_unique, _neware_mode, _neware_sign

    meta: dict = {"instrument": "Neware", "export": f"{kind} binary",
                  "reader": f"NewareNDA {version}"}
    warns: list[str] = []
    t_raw = pd.to_numeric(raw["Time"], errors="coerce").to_numpy(dtype=float)
    time_s, step_time_s, source = neware_test_time_s(t_raw, raw["Step"].to_numpy())
    meta["time_source"] = source
    status = raw["Status"].astype(str)
    i = pd.to_numeric(raw["Current(mA)"], errors="coerce").to_numpy(dtype=float) * 1e-3
    sign = _map_unique(status, _neware_sign).astype(float)
    out = {"time_s": time_s,
           "voltage_V": pd.to_numeric(raw["Voltage"], errors="coerce").to_numpy(dtype=float),
           "current_A": np.where(sign != 0, np.abs(i) * sign, i)}
    meta["current_sign_from"] = "Status (step type)"
    if "Cycle" in raw.columns:
        out["cycle"] = pd.to_numeric(raw["Cycle"], errors="coerce").to_numpy(dtype=float)
    step_col = "Step_Index" if "Step_Index" in raw.columns else "Step"
    out["step"] = pd.to_numeric(raw[step_col], errors="coerce").to_numpy(dtype=float)
    out["mode"] = _map_unique(status, _neware_mode).astype(object)
    out["instrument_state"] = status.str.strip().to_numpy(dtype=object)
    out["step_time_s"] = step_time_s
    for c, name in (("Charge_Capacity(mAh)", "charge_capacity_mAh"),
                    ("Discharge_Capacity(mAh)", "discharge_capacity_mAh"),
                    ("Charge_Energy(mWh)", "charge_energy_mWh"),
                    ("Discharge_Energy(mWh)", "discharge_energy_mWh")):
        if c in raw.columns:
            out[name] = pd.to_numeric(raw[c], errors="coerce").to_numpy(dtype=float)
    known = set(need) | {"Index", "Cycle", "Step_Index", "Timestamp", "Charge_Capacity(mAh)",
                         "Discharge_Capacity(mAh)", "Charge_Energy(mWh)", "Discharge_Energy(mWh)"}
    dropped = []
    for c in raw.columns:
        if c in known:
            continue
        m = re.fullmatch(r"([VTH])(-?\d+)", str(c))
        if m is None:
            dropped.append(str(c))
            continue
        base, unit = _AUX[m.group(1)]
        out[f"{base}_{m.group(2).replace('-', 'm')}_{unit}"] = \
            pd.to_numeric(raw[c], errors="coerce").to_numpy(dtype=float)
    if dropped:
        meta["dropped_columns"] = dropped
    frame = pd.DataFrame(out)
    for key in ("cycle", "step"):
        if frame[key].isna().any() if key in frame.columns else False:
            frame = frame.drop(columns=key)
    if "Timestamp" in raw.columns:
        ts = pd.to_datetime(raw["Timestamp"], errors="coerce")
        if len(ts) and not pd.isna(ts.iloc[0]):
            first = ts.iloc[0].isoformat()
            meta["first_record_time"] = first
            if abs(time_s[0]) < 1.0:  # the first record is the start of the test
                meta["start_time"] = first
    try:
        md = (read_ndax_metadata if fmt == "neware-ndax" else read_nda_metadata)(p)
        sw = md.get("client_version") or (md.get("VersionInfo", {}).get("ZwjVersion", {})
                                          .get("CurrClientVer"))
        if sw:
            meta["software"] = str(sw)
        if md.get("server_version"):
            meta["server_version"] = str(md["server_version"])
    except Exception:  # noqa: BLE001 - metadata is optional; the data were read
        pass
    notes = [m[:120] for lvl, m in cap.messages if lvl < logging.WARNING and "interpolat" not in m.lower()]
    if notes:
        meta["reader_notes"] = notes[:10]
    for level, msg in cap.messages:
        if "interpolat" in msg.lower():
            warns.append(f"{p}: NewareNDA filled Time, Timestamp, capacity and energy of records "
                         "this file does not store by interpolation; those values are derived, "
                         "not measured")
        elif level >= logging.WARNING:
            warns.append(f"{p}: NewareNDA: {msg[:200]}")
    if fmt == "neware-nda":
        warns.extend(nda_completeness(p))
    if warns:
        meta["warnings"] = warns
    rec = pd.to_numeric(raw["Index"], errors="coerce").to_numpy(dtype=float) \
        if "Index" in raw.columns else None
    if rec is not None and np.isnan(rec).any():
        rec = None
    return finalize_timeseries(frame, p, fmt, meta, nan_policy=nan_policy,
                               invert_current=invert_current, sha256=sha, record_index=rec)


# --------------------------------------------------------------------------------- Arbin

def _dist_version(name: str) -> str:
    try:
        from importlib.metadata import version

        return version(name)
    except Exception:  # noqa: BLE001
        return "?"


def _ole_date(days: float) -> str | None:
    """An OLE Automation date (days since 1899-12-30, Arbin's DateTime) as ISO text."""
    try:
        d = float(days)
        if not np.isfinite(d) or not 1.0 < d < 2_958_465.0:
            return None
        return (datetime(1899, 12, 30) + timedelta(days=d)).isoformat(timespec="seconds")
    except (TypeError, ValueError, OverflowError):
        return None


def _arbin_backend(p: Path, backend: str | None) -> str:
    if backend is not None:
        if backend not in ARBIN_BACKENDS:
            from ssbscope.errors import ParameterError

            raise ParameterError("backend", backend, "unknown Arbin .res backend",
                                 f"use one of {list(ARBIN_BACKENDS)}")
        return backend
    try:
        import access_parser  # noqa: F401

        return "access-parser"
    except ImportError:
        pass
    if shutil.which("mdb-export"):
        return "mdbtools"
    raise UnsupportedFormatError(
        p, "is an Arbin .res file (MS Access database); reading it needs the optional "
        "'access-parser' package (or mdbtools' mdb-export on the PATH)",
        "pip install 'ssbscope[arbin]' (or apt-get install mdbtools), or export CSV from Arbin "
        "MITS Pro / Data Watcher and read the CSV")


def _res_tables(p: Path, names: list[str], backend: str) -> dict[str, pd.DataFrame]:
    """The named tables of an Access database (absent ones omitted)."""
    out: dict[str, pd.DataFrame] = {}
    if backend == "access-parser":
        try:
            from access_parser import AccessParser
        except ImportError:
            raise UnsupportedFormatError(p, "is an Arbin .res file; the 'access-parser' package is "
                                         "not installed", "pip install 'ssbscope[arbin]'") from None
        alog = logging.getLogger("access_parser")
        old = alog.level
        alog.setLevel(logging.CRITICAL)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                db = AccessParser(str(p))
                for n in names:
                    if n in db.catalog:
                        out[n] = pd.DataFrame(db.parse_table(n))
        finally:
            alog.setLevel(old)
        return out
    exe = shutil.which("mdb-export")
    if exe is None:
        raise UnsupportedFormatError(p, "is an Arbin .res file; mdbtools' mdb-export is not on the "
                                     "PATH", "apt-get install mdbtools, or pip install 'ssbscope[arbin]'")
    tables = subprocess.run([shutil.which("mdb-tables") or "mdb-tables", "-1", str(p)],
                            capture_output=True, timeout=120, check=True).stdout.decode("latin-1")
    have = {ln.strip() for ln in tables.splitlines()}
    for n in names:
        if n in have:
            res = subprocess.run([exe, str(p), n], capture_output=True, timeout=300, check=True)
            out[n] = pd.read_csv(io.BytesIO(res.stdout))
    return out


def read_arbin_res(path, *, nan_policy: str = "raise", invert_current: bool = False,
                   backend: str | None = None) -> pd.DataFrame:
    """Read an Arbin ``.res`` file (MS Access database) into the canonical table.

    Parameters
    ----------
    path : pathlib.Path
        The file.
    nan_policy, invert_current
        As for :func:`ssbscope.echem.io.read`.
    backend : {"access-parser", "mdbtools"}, optional
        Default: access-parser when installed, else ``mdb-export`` when on the PATH.

    Returns
    -------
    pandas.DataFrame
        ``time_s`` (Arbin ``Test_Time``), ``voltage_V``, ``current_A`` (signed, charge > 0, as
        Arbin records it), ``cycle`` (``Cycle_Index``), ``step`` (``Step_Index``),
        ``step_time_s``, ``charge_capacity_Ah``/``discharge_capacity_Ah`` (cumulative per
        cycle), energies in Wh, ``dv_dt_V_per_s``, ``internal_resistance_ohm`` ...

    Raises
    ------
    UnsupportedFormatError
        Neither backend available; or several tests in one file.
    FileFormatError
        Damaged file, or an Access database that is not an Arbin data file.
    """
    p = Path(path)
    be = _arbin_backend(p, backend)
    sha = sha256_file(p)
    try:
        tabs = _res_tables(p, ["Global_Table", "Channel_Normal_Table"], be)
    except SsbscopeError:
        raise
    except subprocess.TimeoutExpired:
        raise FileFormatError(p, "mdb-export did not finish within its time limit", "check the file") from None
    except MemoryError:
        raise FileFormatError(p, "Access database declares more data than fits in memory; it is "
                              "damaged", "check the file, or export CSV from Arbin MITS Pro") from None
    except Exception as e:  # noqa: BLE001 - the Access parsers raise many types on damaged files
        raise FileFormatError(
            p, f"cannot be read as an Arbin .res (MS Access) file by {be} ({type(e).__name__}); "
            "the file is damaged or truncated",
            "check the file, or export CSV from Arbin MITS Pro / Data Watcher") from None
    d = tabs.get("Channel_Normal_Table")
    if d is None:
        raise FileFormatError(p, "is an MS Access database without Arbin's Channel_Normal_Table "
                              "(not an Arbin .res data file)",
                              "pass an Arbin .res file, or export the data as CSV")
    need = ["Test_Time", "Voltage", "Current"]
    missing = [c for c in need if c not in d.columns]
    if missing:
        raise FileFormatError(p, f"Arbin Channel_Normal_Table lacks column(s) {missing}",
                              "export CSV from Arbin MITS Pro / Data Watcher and read the CSV")
    if len(d) == 0:
        raise FileFormatError(p, "Arbin .res file holds no data records",
                              "check the test recorded data")
    if "Test_ID" in d.columns:
        ids = pd.unique(d["Test_ID"])
        if len(ids) > 1:
            raise UnsupportedFormatError(
                p, f"holds {len(ids)} tests (Test_ID {sorted(map(str, ids))[:5]}); ssbscope reads "
                "one test per file", "export each test as CSV from Arbin MITS Pro")
    if "Data_Point" in d.columns:
        d = d.assign(_dp=pd.to_numeric(d["Data_Point"], errors="coerce")) \
             .sort_values("_dp", kind="stable").drop(columns="_dp").reset_index(drop=True)
    num = {c: pd.to_numeric(d[c], errors="coerce") for c in d.columns}
    out = {"time_s": num["Test_Time"].to_numpy(dtype=float),
           "voltage_V": num["Voltage"].to_numpy(dtype=float),
           "current_A": num["Current"].to_numpy(dtype=float)}
    if "Cycle_Index" in d.columns:
        out["cycle"] = num["Cycle_Index"].to_numpy(dtype=float)
    if "Step_Index" in d.columns:
        out["step"] = num["Step_Index"].to_numpy(dtype=float)
    from ssbscope.echem.io.tabular import PRESETS

    units = dict(PRESETS["arbin"]["units"], AC_Impedance="ohm", ACI_Phase_Angle="deg")
    for c in d.columns:
        if c in ("Test_ID", "Data_Point", "DateTime", "Is_FC_Data", "Test_Time", "Voltage",
                 "Current", "Cycle_Index", "Step_Index"):
            continue
        v = num[c]
        if v.isna().all():
            continue
        name = "step_time_s" if c == "Step_Time" else \
            "dv_dt_V_per_s" if c == "dV/dt" else snake_name(c, units.get(c))
        out.setdefault(name, v.to_numpy(dtype=float))
    frame = pd.DataFrame(out)
    for key in ("cycle", "step"):
        if key in frame.columns and frame[key].isna().any():
            frame = frame.drop(columns=key)
    meta: dict = {"instrument": "Arbin", "export": "Arbin .res (MS Access database)",
                  "reader": f"access-parser {_dist_version('access-parser')}"
                  if be == "access-parser" else "mdbtools mdb-export"}
    if "DateTime" in d.columns and len(d):
        first = _ole_date(num["DateTime"].iloc[0])
        if first:
            meta["first_record_time"] = first
    g = tabs.get("Global_Table")
    if g is not None and len(g):
        row = g.iloc[0]
        for col, key in (("Test_Name", "test_name"), ("Schedule_File_Name", "schedule_file_name"),
                         ("Software_Version", "software_version"), ("Creator", "operator"),
                         ("Channel_Index", "channel")):
            if col in g.columns and str(row[col]).strip() not in ("", "nan", "None"):
                meta[key] = str(row[col]).strip()
        if "Start_DateTime" in g.columns:
            st = _ole_date(pd.to_numeric(pd.Series([row["Start_DateTime"]]), errors="coerce").iloc[0])
            if st:
                meta["start_time"] = st
    rec = num["Data_Point"].to_numpy(dtype=float) if "Data_Point" in d.columns else None
    if rec is not None and np.isnan(rec).any():
        rec = None
    return finalize_timeseries(frame, p, "arbin-res", meta, nan_policy=nan_policy,
                               invert_current=invert_current, sha256=sha, record_index=rec)
