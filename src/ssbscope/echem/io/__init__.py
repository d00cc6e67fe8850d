"""Potentiostat and cycler readers: one time-series table, one impedance table.

:func:`read` returns a :class:`pandas.DataFrame` with ``time_s`` (s since the start of the test,
as the instrument counts it), ``voltage_V``, ``current_A``, plus ``cycle``, ``step``, ``mode``
where the instrument records them, and the other recorded quantities under snake_case names
ending with their unit (``capacity_mAh``, ``temperature_C`` ...).
:func:`read_eis` returns ``frequency_Hz``, ``z_real_ohm``, ``z_imag_ohm`` (+ ``time_s`` ...).

Sign conventions
----------------
* **Current is positive on charge** (Li leaves the positive electrode / is plated on the
  negative one). Per format:

  - BioLogic ``.mpr``/``.mpt``: EC-Lab's ``I`` is positive for oxidation at the working
    electrode. With the positive electrode on WE (half cells vs Li, full cells wired the usual
    way) that is charge: kept as is. Cells wired with the negative electrode on WE (e.g. Cu WE
    in Li | SE | Cu): pass ``invert_current=True``.
  - Gamry ``.DTA``: anodic positive (Framework default), treated like BioLogic.
  - Arbin CSV, Novonix CSV: signed, charge positive: kept.
  - Neware CSV: sign taken from ``Step Type`` (``…Chg`` +, ``…DChg`` −), because some BTS
    versions export the current unsigned.
  - Maccor text / raw exports: current unsigned (``.0NN`` raw files may also be signed);
    the sign comes from the state column (``C`` +, ``D`` −).

  We chose charge-positive because analysis (SoC, CE, plating capacity) counts charge
  forwards, and because it is what every cycler except Maccor already writes.
* **Impedance**: ``Z = z_real_ohm + j·z_imag_ohm``; capacitive arcs have ``z_imag_ohm < 0``
  (EC-Lab's ``-Im(Z)`` is negated; Gamry's ``Zimag`` is kept).

Formats
-------
Detected from the content (magic bytes / header lines), the extension breaking ties, or forced
with ``format=``: ``biologic-mpr``, ``biologic-mpt``, ``gamry-dta``, ``arbin``, ``neware``,
``maccor``, ``maccor-raw``, ``novonix``, ``landt`` (Landt/LANHE record tables, English or
Chinese headers), ``basytec`` (BaSyTec Battery Test System text exports: a ``~Key: value``
preamble, then a ``~Time[s]``, ``U[V]``, ``I[A]`` header; also recognised in a generic table),
``csv`` (generic, with a column mapping), and the
cycler binaries ``neware-nda``, ``neware-ndax`` (through NewareNDA, extra ``neware``) and
``arbin-res`` (through access-parser or mdbtools, extra ``arbin``): see
:mod:`ssbscope.echem.io.binary_cyclers`; PalmSens ``.pssession`` (UTF-16 JSON, time series and
impedance): :mod:`ssbscope.echem.io.palmsens`; PalmSens PSTrace CSV exports (``palmsens-csv``: a units-only
header such as ``V,µA``, detected by content; a time series needs E vs t and i vs t curves;
their impedance exports, ``pstrace-eis``, through :func:`read_eis`). Excel workbooks
(``excel``; ``.xlsx`` through the extra ``excel``: openpyxl, Excel 97-2003 ``.xls`` through the
extra ``xls``: xlrd): the data sheet (continued sheets such as Arbin's
``Channel_11_1``, ``Channel_11_2`` joined) is read as the text table it holds, by the preset its
header names (an Arbin export is ``arbin``), test information from an Arbin ``Global_Info``
sheet in ``attrs``; ``attrs["sha256"]`` is the workbook's.
Without the extra such a file is refused with
:class:`~ssbscope.errors.UnsupportedFormatError` naming it.

Provenance
----------
``df.attrs``: ``path`` (absolute), ``sha256`` of the file, ``format``, ``instrument``,
``software``/``software_version``, ``start_time`` (ISO, where the file says), the columns used,
and ``warnings`` for any repair made (rows dropped). Files are opened read-only (``"rb"``);
nothing is written anywhere.
"""

from __future__ import annotations

import io
import logging
import zipfile
from pathlib import Path

import pandas as pd

from ssbscope.errors import FileFormatError, ParameterError, UnsupportedFormatError
from ssbscope.echem.io.common import CORE_COLUMNS, MODES, check_file, reader_boundary, utf16_text
from ssbscope.echem.io.eis_text import EIS_TEXT_FORMATS

__all__ = ["read", "read_eis", "sniff_format", "FORMATS", "CORE_COLUMNS", "MODES"]

log = logging.getLogger(__name__)

FORMATS = ("biologic-mpr", "biologic-mpt", "gamry-dta", "arbin", "neware", "neware-regular",
           "maccor", "maccor-raw", "novonix", "pec", "bdf", "landt", "basytec", "csv", "excel",
           "neware-nda", "neware-ndax", "arbin-res", "palmsens-pssession", "palmsens-csv")
_BINARY = ("biologic-mpr", "biologic-mpt", "gamry-dta", "neware-nda", "neware-ndax", "arbin-res",
           "palmsens-pssession", "palmsens-csv")
_UNSUPPORTED: dict = {}  # recognised formats refused outright (none at present)
#: The Compound File (OLE2) signature of Excel 97-2003 ``.xls`` workbooks (BIFF8).
_OLE2_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_EXT = {".mpr": "biologic-mpr", ".mpt": "biologic-mpt", ".dta": "gamry-dta", ".nda": "neware-nda",
        ".ndax": "neware-ndax", ".res": "arbin-res", ".csv": "csv", ".tsv": "csv", ".txt": "csv"}


@reader_boundary
def sniff_format(path) -> str:
    """Name of the format of ``path`` from its first bytes (extension only as a tie-break).

    Raises
    ------
    FileFormatError
        Missing/empty file, or content no reader recognises.
    """
    p = check_file(path)
    with open(p, "rb") as fh:
        head = fh.read(8192)
    if head.startswith(b"\xef\xbb\xbf"):  # UTF-8 byte-order mark of some text exports
        head = head[3:]
    from ssbscope.echem.io.biologic import MPR_MAGIC, MPT_MAGICS

    if head.startswith(MPR_MAGIC):
        return "biologic-mpr"
    if head.startswith(MPT_MAGICS):
        return "biologic-mpt"
    if head.startswith(b"NEWARE"):
        return "neware-nda"
    if head[4:19] == b"Standard Jet DB" or head[4:19] == b"Standard ACE DB":
        return "arbin-res"
    if head.startswith(_OLE2_MAGIC):  # Compound File: an Excel 97-2003 .xls workbook
        return "excel"
    if head.startswith(b"PK\x03\x04"):
        try:
            with zipfile.ZipFile(p) as z:
                names = set(z.namelist())
        except (zipfile.BadZipFile, OSError, ValueError, EOFError):
            if p.suffix.lower() == ".ndax":
                return "neware-ndax"  # its reader says the archive is damaged
            raise FileFormatError(p, "is a damaged or truncated zip archive",
                                  "copy the file again from the instrument computer") from None
        if any(n.endswith(".ndc") for n in names) or "TestInfo.xml" in names:
            return "neware-ndax"
        if "xl/workbook.xml" in names:
            return "excel"
        raise FileFormatError(p, f"is a zip archive ({sorted(names)[:5]}) of no known potentiostat "
                              "format", f"unpack it and read the data file; formats: {list(FORMATS)}")
    utf16 = utf16_text(head)
    if utf16 is not None:
        from ssbscope.echem.io.palmsens import is_pssession_text

        if is_pssession_text(utf16):
            return "palmsens-pssession"
        head = utf16.encode("utf-8", errors="replace")
    if b"\x00" in head:
        ext = _EXT.get(p.suffix.lower())
        if ext in ("neware-nda", "neware-ndax", "arbin-res"):
            return ext  # the binary reader says what is wrong with it
        raise FileFormatError(p, "binary file of unknown format (no known signature in its first bytes)",
                              f"export the data as text/CSV; formats read: {list(FORMATS)}")
    text = head.decode("latin-1")
    lines = text.splitlines()
    first = lines[0] if lines else ""
    from ssbscope.echem.io.eis_text import sniff_eis_text

    eis_fmt = sniff_eis_text(lines)
    if eis_fmt is not None:
        return eis_fmt
    if first.strip() == "EXPLAIN":
        return "gamry-dta"
    from ssbscope.echem.io.palmsens import pstrace_units_row

    if pstrace_units_row(lines) is not None:  # a PSTrace CSV: a header row of units only (V,µA)
        return "palmsens-csv"
    if first.strip().startswith("EC-Lab ASCII") or first.strip().startswith("BT-Lab ASCII"):
        return "biologic-mpt"
    if first.strip() == "[Summary]" and "Novonix" in text:
        return "novonix"
    if first.startswith("Today's Date") or (len(lines) > 1 and lines[1].startswith("Rec#\t")):
        return "maccor-raw"
    if any(ln.startswith(("Rec\t", "Rec#\t", "Rec,", "Rec#,", "Rec;", "Rec#;")) for ln in lines[:60]):
        return "maccor"
    if first.startswith("Cycle Index,") and len(lines) > 2 and lines[1].startswith(",Step Index") \
            and lines[2].startswith(",,"):
        return "neware-regular"
    low = first.lower()
    if ("test_id" in low and "schedule_file_name" in low) or p.name.endswith("_Metadata.csv"):
        return "arbin-metadata"
    # the column header, wherever a preamble puts it (found by content, not by a flag)
    from ssbscope.echem.io.tabular import header_line

    k = header_line(lines[:-1] if len(head) == 8192 else lines)
    hdr = lines[k] if lines else ""
    if "Data_Point" in hdr and ("Test_Time" in hdr):
        return "arbin"
    if "Test_Time(s)" in hdr and "Step_Index" in hdr and "Cycle_Index" in hdr:
        return "arbin"  # MITS Pro / MITS 7 Excel export: no Data_Point column
    if ("Step Type" in hdr or "Step Name" in hdr) and "Current(" in hdr:
        return "neware"
    if "Cur(" in hdr and "Status" in hdr and "CapaCity(" in hdr:
        return "neware"  # the Detail sheet of a Neware BTS 7 Excel export
    for ln in head.decode("utf-8", errors="replace").splitlines()[:80]:  # (latin-1 splits CJK)
        if any(t in ln for t in ("TestTime", "测试时间")) and \
                any(v in ln for v in ("Voltage/", "电压/")) and any(c in ln for c in ("Current/", "电流/")):
            return "landt"  # Landt / LANHE record sheet (English or Chinese headers)
    if hdr.startswith("Test,Cell,Rack") or ("Total Time (Seconds)" in hdr and "Real Time" in hdr):
        return "pec"
    import re

    if re.search(r"Test Time / (s|min|h)\b|test_time_second", hdr) and \
            re.search(r"Voltage / m?V\b|voltage_volt", hdr):
        return "bdf"
    return "csv"


def _resolve(path, format: str | None) -> tuple[Path, str]:
    p = check_file(path)
    if format is None:
        fmt = sniff_format(p)
        ext = _EXT.get(p.suffix.lower())
        if ext in ("biologic-mpr", "gamry-dta") and fmt != ext:
            raise FileFormatError(p, f"has the {p.suffix} extension but its content is not "
                                  f"{ext} (looks like {fmt})",
                                  "the file may be truncated/corrupt, or pass format= explicitly")
    else:
        fmt = format.lower()
        if fmt not in FORMATS and fmt not in _UNSUPPORTED and fmt not in EIS_TEXT_FORMATS:
            raise ParameterError("format", format, "unknown format", f"use one of {list(FORMATS)}")
    if fmt in _UNSUPPORTED:
        what, fix = _UNSUPPORTED[fmt]
        raise UnsupportedFormatError(p, f"is {what}, a binary format ssbscope does not read", fix)
    if fmt == "arbin-metadata":
        data = p.with_name(p.name.replace("_Metadata.csv", ".csv"))
        raise FileFormatError(p, "is an Arbin metadata file (test and schedule information), not "
                              "data", f"read the data file {data.name} instead")
    return p, fmt


@reader_boundary
def read(path, *, format: str | None = None, nan_policy: str = "raise",
         invert_current: bool = False, time_unit: str | None = None,
         voltage_unit: str | None = None, current_unit: str | None = None,
         **column_mapping) -> pd.DataFrame:
    """Read a potentiostat/cycler file into one time-series table.

    Parameters
    ----------
    path : path-like
        The data file (opened read-only, never modified).
    format : str, optional
        Force a reader (one of :data:`FORMATS`); default: detected from the content.
    nan_policy : {"raise", "drop"}, default "raise"
        NaN voltage or current: ``"raise"`` gives a :class:`~ssbscope.errors.DataQualityError`
        naming the rows; ``"drop"`` removes those rows and logs a warning (also recorded in
        ``attrs["warnings"]``).
    invert_current : bool, default False
        Flip the sign of the current (and of signed charge columns) — for a cell wired with its
        negative electrode on the working lead.
    time_unit, voltage_unit, current_unit : str, optional
        Units of mapped text columns whose names do not say (``"h"``, ``"mV"``, ``"mA"`` ...).
    **column_mapping
        For text tables: ``time_s=``, ``voltage_V=``, ``current_A=``, ``cycle=``, ``step=``,
        ``mode=`` naming the file's columns, e.g.
        ``read(p, time_s="Test Time (s)", voltage_V="Voltage (V)", current_A="Current (mA)")``
        (a unit in the name is applied: here mA → A).

    Returns
    -------
    pandas.DataFrame
        ``time_s`` (float, s), ``voltage_V`` (V), ``current_A`` (A, charge > 0), then ``cycle``,
        ``step``, ``mode`` (one of :data:`MODES`) where recorded, then extra columns.
        Provenance in ``attrs`` (see the module docstring).

    Raises
    ------
    FileFormatError
        Missing, empty, truncated or unrecognised file.
    UnsupportedFormatError
        Neware ``.nda``/``.ndax`` without the ``neware`` extra (NewareNDA), Arbin ``.res``
        without the ``arbin`` extra (access-parser) or mdbtools; a file version the reader
        does not know.
    MissingColumnError
        A text table lacks (or the mapping names a missing) time/voltage/current column; the
        message lists the columns found and the mapping keys to pass.
    DataQualityError
        NaN/backwards time, ambiguous duplicate timestamps, NaN voltage/current (see
        ``nan_policy``).

    Examples
    --------
    >>> df = read("cell.mpr")                                        # doctest: +SKIP
    >>> df = read("log.csv", time_s="t/h", voltage_V="E", current_A="I/mA")  # doctest: +SKIP
    """
    p, fmt = _resolve(path, format)
    kw = dict(nan_policy=nan_policy, invert_current=invert_current)
    if fmt in EIS_TEXT_FORMATS:
        raise FileFormatError(p, f"is an impedance export ({fmt}), not a time series",
                              "read it with read_eis() (in an experiment: kind: eis)")
    if fmt in _BINARY and column_mapping:
        raise ParameterError("column_mapping", sorted(column_mapping),
                             f"column mapping applies to text tables, not to {fmt}",
                             "drop the keyword arguments; the reader knows this format's columns")
    if fmt == "biologic-mpr":
        from ssbscope.echem.io.biologic import read_mpr

        return read_mpr(p, **kw)
    if fmt == "biologic-mpt":
        from ssbscope.echem.io.biologic import read_mpt

        return read_mpt(p, **kw)
    if fmt == "gamry-dta":
        from ssbscope.echem.io.gamry import read_dta

        return read_dta(p, **kw)
    if fmt in ("neware-nda", "neware-ndax"):
        from ssbscope.echem.io.binary_cyclers import read_neware_binary

        return read_neware_binary(p, fmt, **kw)
    if fmt == "arbin-res":
        from ssbscope.echem.io.binary_cyclers import read_arbin_res

        return read_arbin_res(p, **kw)
    if fmt == "palmsens-pssession":
        from ssbscope.echem.io.palmsens import read_pssession

        return read_pssession(p, **kw)
    if fmt == "palmsens-csv":
        from ssbscope.echem.io.palmsens import read_pstrace_csv_timeseries

        return read_pstrace_csv_timeseries(p, **kw)
    from ssbscope.echem.io.tabular import read_table

    raw, xmeta = None, None
    if fmt == "excel":
        raw, xmeta = _excel_as_csv(p)
        fmt = sniff_text_format(raw, p)
    df = read_table(p, fmt, column_mapping=column_mapping, time_unit=time_unit,
                    voltage_unit=voltage_unit, current_unit=current_unit, raw=raw, **kw)
    if xmeta is not None:
        import hashlib

        with open(p, "rb") as fh:  # provenance: the workbook's bytes, not the sheet's CSV
            df.attrs["sha256"] = hashlib.sha256(fh.read()).hexdigest()
        df.attrs["container"] = "excel"
        for k, v in xmeta.items():
            df.attrs.setdefault(k, v)
    return df


# Arbin's Excel export: a Global_Info sheet whose header row names these fields (value row below)
_XL_INFO_KEYS = {"Channel": "channel", "Start DateTime": "channel_start_datetime",
                 "Schedule File Name": "schedule", "Software Version": "software_version",
                 "Schedule Version": "schedule_version", "Creator": "creator",
                 # Neware BTS 7 Excel export: the Info sheet's "Equipment Unit Channel ..." row
                 "Equipment": "equipment", "Unit": "unit",
                 "Battery of Number(P/N)": "battery_number", "Start time": "channel_start_datetime",
                 "Remark": "remark"}


def _excel_info(df: pd.DataFrame) -> dict:
    """Test information from a non-data sheet: the row holding the known field names, values
    in the row below (Arbin ``Global_Info``)."""
    out: dict = {}
    for k in range(min(len(df) - 1, 20)):
        row = [str(x).strip() if pd.notna(x) else "" for x in df.iloc[k]]
        if sum(c in _XL_INFO_KEYS for c in row) < 2:
            continue
        vals = df.iloc[k + 1]
        for j, c in enumerate(row):
            if c in _XL_INFO_KEYS and j < len(vals) and pd.notna(vals.iloc[j]):
                v = str(vals.iloc[j]).strip()
                if v:
                    out[_XL_INFO_KEYS[c]] = v[:200]
        break
    return out


def _xls_sheets(p: Path) -> dict:
    """Every sheet of an Excel 97-2003 ``.xls`` workbook as a table of text cells (header=None,
    like ``pandas.read_excel(..., dtype=str)``), read with the optional ``xlrd``
    (``pip install 'ssbscope[xls]'``). Date cells become ISO date-times (microseconds kept),
    numbers their shortest text, empty and error cells NaN."""
    import math

    try:
        import xlrd
    except ImportError:
        raise UnsupportedFormatError(p, "is an Excel 97-2003 workbook (.xls); reading it needs the "
                                     "optional 'xlrd' package",
                                     "pip install 'ssbscope[xls]', or open it in Excel/LibreOffice "
                                     "and save it as .xlsx or CSV") from None
    try:
        book = xlrd.open_workbook(str(p), on_demand=True, logfile=io.StringIO())
    except Exception as e:  # noqa: BLE001 - xlrd raises XLRDError, struct.error, ... on bad files
        raise FileFormatError(p, f"Excel 97-2003 workbook cannot be read ({type(e).__name__})",
                              "open and re-save it as .xlsx, or export the data sheet as CSV") from None
    out = {}
    try:
        for name in book.sheet_names():
            sh = book.sheet_by_name(name)
            rows = []
            for r in range(sh.nrows):
                row = []
                for c in range(sh.ncols):
                    t, v = sh.cell_type(r, c), sh.cell_value(r, c)
                    if t == xlrd.XL_CELL_DATE:
                        try:
                            v = xlrd.xldate_as_datetime(v, book.datemode).isoformat(sep=" ")
                        except (ValueError, OverflowError):
                            v = repr(float(v))
                    elif t == xlrd.XL_CELL_NUMBER:
                        fv = float(v)
                        v = (str(int(fv)) if math.isfinite(fv) and fv.is_integer() and abs(fv) < 1e15
                             else repr(fv))
                    elif t == xlrd.XL_CELL_BOOLEAN:
                        v = str(bool(v))
                    elif t in (xlrd.XL_CELL_EMPTY, xlrd.XL_CELL_BLANK, xlrd.XL_CELL_ERROR):
                        v = float("nan")
                    else:
                        v = str(v) if str(v).strip() != "" else float("nan")
                    row.append(v)
                rows.append(row)
            out[name] = pd.DataFrame(rows, dtype=object)
            book.unload_sheet(name)
    except Exception as e:  # noqa: BLE001
        raise FileFormatError(p, f"Excel 97-2003 workbook cannot be read ({type(e).__name__})",
                              "open and re-save it as .xlsx, or export the data sheet as CSV") from None
    finally:
        book.release_resources()
    return out


def _excel_as_csv(p: Path) -> tuple[bytes, dict]:
    """The data sheet of an .xlsx workbook (through the optional ``openpyxl``,
    ``pip install ssbscope[excel]``) or an Excel 97-2003 ``.xls`` one (through the optional
    ``xlrd``, ``pip install ssbscope[xls]``: Arbin, Landt and Neware BTS 7 export these) as CSV
    bytes, and what the workbook says about the test.

    The data sheet is the one with the most rows; sheets after it with the same header row are
    its continuation (Arbin splits a long test over ``Channel_11_1``, ``Channel_11_2`` ...) and
    are appended in workbook order. Test information (channel, schedule, software version) comes
    from another sheet holding those field names (Arbin ``Global_Info``).
    """
    with open(p, "rb") as fh:
        xls = fh.read(8).startswith(_OLE2_MAGIC)
    if xls:
        sheets = _xls_sheets(p)
    else:
        try:
            import openpyxl  # noqa: F401
        except ImportError:
            raise UnsupportedFormatError(p, "is an Excel workbook; reading .xlsx needs the optional "
                                         "'openpyxl' package",
                                         "pip install 'ssbscope[excel]', or export the sheet as CSV") from None
        try:
            sheets = pd.read_excel(p, sheet_name=None, header=None, engine="openpyxl", dtype=str)
        except Exception as e:  # noqa: BLE001 - openpyxl/zipfile raise many types on bad workbooks
            raise FileFormatError(p, f"Excel workbook cannot be read ({type(e).__name__})",
                                  "open and re-save it, or export the data sheet as CSV") from None
    if not sheets:
        raise FileFormatError(p, "Excel workbook has no sheet", "export the data as CSV")
    names = list(sheets)
    name = max(names, key=lambda n: sheets[n].shape[0])
    df = sheets[name]
    head = [str(x).strip() for x in df.iloc[0]] if len(df) else []
    parts, used = [df], [name]
    for other in names[names.index(name) + 1:]:
        o = sheets[other]
        if len(o) > 1 and o.shape[1] == df.shape[1] and \
                [str(x).strip() for x in o.iloc[0]] == head:
            parts.append(o.iloc[1:])
            used.append(other)
    if len(parts) > 1:
        df = pd.concat(parts, ignore_index=True)
    log.info("%s: reading sheet(s) %s (%d rows)", p, used, df.shape[0])
    meta: dict = {"sheets": used}
    for other in names:
        if other not in used:
            meta.update({k: v for k, v in _excel_info(sheets[other]).items() if k not in meta})
    return df.to_csv(index=False, header=False).encode("utf-8"), meta


def sniff_text_format(raw: bytes, p: Path) -> str:
    """Format name of text content already in memory (an Excel sheet turned into CSV)."""
    import tempfile

    with tempfile.TemporaryDirectory() as d:
        q = Path(d) / (p.stem + ".csv")
        q.write_bytes(raw)
        fmt = sniff_format(q)
    return fmt if fmt in FORMATS and fmt != "excel" and fmt not in _BINARY else "csv"


@reader_boundary
def read_eis(path, *, format: str | None = None) -> pd.DataFrame:
    """Read an impedance spectrum (BioLogic PEIS/GEIS ``.mpr``/``.mpt``, Gamry ``ZCURVE``, and
    the text exports of ZPlot/Z60W (Autolab), CH Instruments, Parstat and PowerSuite: see
    :mod:`ssbscope.echem.io.eis_text`).

    Returns
    -------
    pandas.DataFrame
        ``frequency_Hz`` (> 0), ``z_real_ohm``, ``z_imag_ohm`` with ``Z = Z' + jZ''`` —
        capacitive arcs have ``z_imag_ohm < 0`` (plot ``-z_imag_ohm`` upwards for a Nyquist
        plot) — plus ``time_s`` where recorded; BioLogic files add ``spectrum`` (0, 1, ... one
        per frequency sweep, for files holding several), ``voltage_V``, ``current_A``.

    Raises
    ------
    FileFormatError
        The file holds no impedance table (or is missing/empty/unrecognised).
    """
    p, fmt = _resolve(path, format)
    if fmt == "biologic-mpr":
        from ssbscope.echem.io.biologic import read_mpr_eis

        return read_mpr_eis(p)
    if fmt == "biologic-mpt":
        from ssbscope.echem.io.biologic import read_mpt_eis

        return read_mpt_eis(p)
    if fmt == "gamry-dta":
        from ssbscope.echem.io.gamry import read_dta_eis

        return read_dta_eis(p)
    if fmt in EIS_TEXT_FORMATS:
        from ssbscope.echem.io.eis_text import read_eis_text

        return read_eis_text(p, fmt)
    if fmt == "palmsens-pssession":
        from ssbscope.echem.io.palmsens import read_pssession_eis

        return read_pssession_eis(p)
    raise FileFormatError(p, f"format {fmt} holds no impedance spectra that ssbscope reads",
                          "read_eis() takes BioLogic PEIS/GEIS (.mpr/.mpt), Gamry EIS (.DTA) and "
                          f"{', '.join(EIS_TEXT_FORMATS)} text exports")
