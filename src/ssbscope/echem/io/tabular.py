"""Text tables: generic CSV/TSV with a column mapping, and built-in presets for cycler exports.

Generic use::

    read(path, time_s="Test Time (s)", voltage_V="Voltage (V)", current_A="Current (mA)")

The unit of a mapped column is taken from its name (``(mA)``, ``[A]``, ``/h`` ...) unless given
as ``time_unit=`` / ``voltage_unit=`` / ``current_unit=`` (s, min, h, d; V, mV; A, mA, uA, nA);
without either, SI (s, V, A) is assumed. A time column may also hold durations
(``[Nd ]HH:MM:SS.fff``) or date-times (converted to seconds since the first row). A table that
already has ``time_s``, ``voltage_V``, ``current_A`` columns (ssbscope's own CSV) needs no mapping.
A mapped ``mode`` column is normalised to :data:`~ssbscope.echem.io.common.MODES` (``Rest``/
``OCV`` → ``rest``, ``CC…`` → ``CC``, ``CV…`` → ``CV``, ``CCCV…`` → ``CCCV``, ``EIS``/``FRA`` →
``EIS``, else ``other``); the text as written is kept in ``instrument_state``.

Presets (all signs converted to charge-positive):

=============  ======================================  ===========================================
preset         recognised by                           sign of the current
=============  ======================================  ===========================================
``arbin``      ``Data_Point``, ``Test_Time`` header    signed, charge > 0 (kept)
``neware``     ``Step Type`` + ``Current(A|mA)``       from ``Step Type`` (…Chg +, …DChg −): some
                                                       BTS versions export it unsigned
``maccor``     ``Rec``/``Md`` text export              unsigned + state ``C``/``D``: sign from the
                                                       state (``D`` → −)
``maccor-raw`` ``Today's Date`` + ``Rec#`` line        as ``maccor``, whether ``Amps`` is signed or
               (``.0NN`` raw text)                     not; ``FRA`` (impedance) records dropped
``novonix``    ``[Summary]`` … ``[Data]``              signed, charge > 0 (kept)
``basytec``    ``~Time[s]`` first, ``U[V]``, ``I[A]``  signed, charge > 0 (kept); ``~Key: value``
               (after a ``~`` preamble; also in a      preamble in ``attrs["preamble"]``
               generic ``csv`` table)
=============  ======================================  ===========================================
"""

from __future__ import annotations

import hashlib
import io
import logging
import re
import warnings
from datetime import datetime, timezone

import numpy as np
import pandas as pd

from ssbscope.errors import FileFormatError, MissingColumnError, ParameterError
from ssbscope.echem.io.common import (check_file, drop_truncated_last_row, finalize_timeseries,
                                      parse_duration_s, snake_name, utf16_text)

__all__ = ["read_table", "table_header", "PRESETS", "MAPPING_KEYS", "COLUMNS_KEYS", "split_name_unit"]

log = logging.getLogger(__name__)

MAPPING_KEYS = ("time_s", "voltage_V", "current_A", "cycle", "step", "mode")
#: Keys of an experiment input's ``columns:`` mapping: the mapped columns and the units of
#: mapped columns whose names carry none (``time_unit``, ``voltage_unit``, ``current_unit``).
COLUMNS_KEYS = MAPPING_KEYS + ("time_unit", "voltage_unit", "current_unit")

TIME_UNITS = {"s": 1.0, "sec": 1.0, "secs": 1.0, "second": 1.0, "seconds": 1.0, "ms": 1e-3,
              "min": 60.0, "mins": 60.0, "minute": 60.0, "minutes": 60.0, "h": 3600.0, "hr": 3600.0,
              "hrs": 3600.0, "hour": 3600.0, "hours": 3600.0, "d": 86400.0, "day": 86400.0,
              "days": 86400.0}
VOLTAGE_UNITS = {"v": 1.0, "mv": 1e-3, "uv": 1e-6, "µv": 1e-6, "kv": 1e3}
CURRENT_UNITS = {"a": 1.0, "ma": 1e-3, "ua": 1e-6, "µa": 1e-6, "μa": 1e-6, "na": 1e-9, "amps": 1.0,
                 "amp": 1.0}
_SCALES = {"time_s": TIME_UNITS, "voltage_V": VOLTAGE_UNITS, "current_A": CURRENT_UNITS}

_UNIT_RE = re.compile(r"^(?P<name>.*?)\s*[\(\[]\s*(?P<unit>[^\(\)\[\]]+?)\s*[\)\]]\s*$")


def split_name_unit(col: str) -> tuple[str, str | None]:
    """``"Current (mA)" -> ("Current", "mA")``; ``"I/mA" -> ("I", "mA")``; else ``(col, None)``."""
    m = _UNIT_RE.match(col)
    if m:
        return m.group("name"), m.group("unit")
    if col.count("/") == 1 and not col.startswith("dV"):
        a, b = col.split("/")
        if " / " in col:  # Battery Data Format: "Test Time / s", "Voltage / V"
            a, b = a.strip(), b.strip()
        if a and b and " " not in b:
            return a, b
    return col, None


# --------------------------------------------------------------------------------- presets

def _neware_mode(v) -> str:
    s = str(v).strip().lower().replace("_", " ").replace("-", "")
    if "rest" in s or s == "ocv" or "pause" in s:
        return "rest"
    if s.startswith("cccv") or s.startswith("cpcv"):
        return "CCCV"
    if s.startswith("cc"):
        return "CC"
    if s.startswith("cv"):
        return "CV"
    return "other"


def _generic_mode(v) -> str:
    """Mode text of a generic table -> one of MODES (kept if already one)."""
    s = str(v).strip()
    if s in ("CC", "CV", "CCCV", "rest", "EIS", "other"):
        return s
    low = s.lower()
    if any(k in low for k in ("eis", "impedance", "fra")):
        return "EIS"
    return _neware_mode(s)


def _neware_sign(v) -> float:
    s = str(v).strip().lower()
    if "dchg" in s or "discharge" in s:
        return -1.0
    if "chg" in s or "charge" in s:
        return 1.0
    return 0.0


def _maccor_mode(v) -> str:
    s = str(v).strip().upper()
    if s == "R":
        return "rest"
    if s == "FRA":
        return "EIS"
    return "other"


def _maccor_sign(v) -> float:
    s = str(v).strip().upper()
    return {"C": 1.0, "D": -1.0}.get(s, 0.0)


# Novonix "Step Type" codes: 0 open circuit; 1/2 CC charge/discharge; 7/8 CC and CV part of a
# CC-CV charge; 9/10 CC and CV part of a CC-CV discharge.
_NOVONIX_MODES = {0: "rest", 1: "CC", 2: "CC", 7: "CC", 8: "CV", 9: "CC", 10: "CV"}


def _novonix_mode(v) -> str:
    try:
        return _NOVONIX_MODES.get(int(float(v)), "other")
    except (TypeError, ValueError):
        return "other"


PRESETS: dict[str, dict] = {
    "arbin": {
        "instrument": "Arbin",
        "time_s": ["Test_Time(s)", "Test_Time", "Test Time (s)", "Test Time(s)"],
        "voltage_V": ["Voltage(V)", "Voltage", "Voltage (V)"],
        "current_A": ["Current(A)", "Current", "Current (A)"],
        "cycle": ["Cycle_Index", "Cycle Index"],
        "step": ["Step_Index", "Step Index"],
        "units": {"Charge_Capacity": "Ah", "Discharge_Capacity": "Ah", "Charge_Energy": "Wh",
                  "Discharge_Energy": "Wh", "Temperature": "C", "Internal_Resistance": "ohm",
                  "dV/dt": "V_per_s", "Step_Time": "s"},
        "drop": {"Data_Point", "DateTime", "Date_Time", "Date Time"},
    },
    # Neware BTS CSV exports; also the "Detail_<unit>_<channel>" sheet of a BTS 7 Excel export
    # (Record Index, Status, JumpTo, Cycle, Step, Cur(mA), Voltage(V), CapaCity(mAh),
    # Energy(mWh), Relative Time(h:min:s.ms) = step time, Absolute Time = wall clock; no test
    # time column, so the time is the wall clock since the first record)
    "neware": {
        "instrument": "Neware",
        "time_s": ["Total Time", "Cumulative Time", "Test Time", "Total Time(s)", "Test Time(s)",
                   "Total Time(h:min:s.ms)", "Absolute Time"],
        "voltage_V": ["Voltage(V)", "Voltage(mV)", "Voltage (V)"],
        "current_A": ["Current(A)", "Current(mA)", "Current(uA)", "Current (A)", "Current (mA)",
                      "Cur(mA)", "Cur(A)"],
        "cycle": ["Cycle Index", "Cycle ID", "Cycle"],
        "step": ["Step Index", "Step ID", "Step Number", "Step"],
        "mode_col": ["Step Type", "Step Name", "Status"],
        "mode_map": _neware_mode,
        "clock": ["Date", "Realtime", "Absolute Time"],
        "sign_col": ["Step Type", "Step Name", "Status"],
        "sign_map": _neware_sign,
        "drop": {"DataPoint", "Data Point", "Record ID", "Date", "Realtime", "Time", "Step Time",
                 "Module start-stop switch", "Record Index", "JumpTo", "Absolute Time",
                 "Relative Time(h:min:s.ms)"},
    },
    "maccor": {
        "instrument": "Maccor",
        "time_s": ["TestTime", "Test Time", "Test Time (sec)", "Test (Sec)"],
        "voltage_V": ["Voltage [V]", "Voltage", "Volts", "Voltage (V)"],
        "current_A": ["Current [A]", "Current", "Amps", "Current (A)"],
        "cycle": ["Cycle C", "Cyc#", "Cycle", "Cycle P"],
        "step": ["Step"],
        "mode_col": ["Md", "State"],
        "mode_map": _maccor_mode,
        "sign_col": ["Md", "State"],
        "sign_map": _maccor_sign,
        "time_from_clock": ["DPT Time", "DPt Time"],
        "clock": ["DPT Time", "DPt Time"],
        "drop": {"Rec", "Rec#", "ES", "DPT Time", "DPt Time", "Cycle P", "Range"},
        "drop_prefix": ("VAR", "Loop", "WF "),
        "names": {"Cap. [Ah]": "capacity_Ah", "Ener. [Wh]": "energy_Wh", "Amp-hr": "capacity_Ah",
                  "Watt-hr": "energy_Wh", "ACImp/Ohms": "ac_impedance_ohm", "DCIR/Ohms": "dcir_ohm"},
        "step_time": ["StepTime", "Step (Sec)"],
    },
    "novonix": {
        "instrument": "Novonix",
        "time_s": ["Run Time (h)", "Run Time(h)"],
        "voltage_V": ["Potential (V)", "Voltage (V)"],
        "current_A": ["Current (A)"],
        "cycle": ["Cycle Number"],
        "step": ["Step Number"],
        "mode_col": ["Step Type"],
        "mode_map": _novonix_mode,
        "clock": ["Date and Time"],
        "drop": {"Date and Time", "Step position"},
    },
}
PRESETS["maccor-raw"] = dict(PRESETS["maccor"], drop_states={"FRA"})
PRESETS["neware-regular"] = dict(PRESETS["neware"], time_s=["Total Time"] + PRESETS["neware"]["time_s"])
# Battery Data Format (battery-data-alliance): human "Name / unit" headers or machine names;
# current positive on charge (the BDF convention, kept).
PRESETS["bdf"] = {
    "instrument": "Battery Data Format",
    "time_s": ["Test Time / s", "test_time_second", "Test Time / h", "Test Time / min"],
    "voltage_V": ["Voltage / V", "voltage_volt", "Voltage / mV"],
    "current_A": ["Current / A", "current_ampere", "Current / mA"],
    "cycle": ["Cycle Count / 1", "cycle_count", "Cycle Count"],
    "step": ["Step Index / 1", "step_index", "Step Count / 1", "step_count"],
    "clock": [],
    "drop": {"Unix Time / s", "unix_time_second", "Date Time", "date_time"},
}
# PEC cycler CSV export: a "Key:,value" preamble, then Test,Cell,Rack,...; current signed,
# charge > 0 (kept); times in s or hh:mm:ss.xxx hours.
PRESETS["pec"] = {
    "instrument": "PEC",
    "time_s": ["Total Time (Seconds)", "Total Time (Hours in hh:mm:ss.xxx)", "Total_Time_Seconds"],
    "voltage_V": ["Voltage (V)", "Voltage (mV)", "Voltage_mV"],
    "current_A": ["Current (A)", "Current (mA)", "Current_mA"],
    "cycle": ["Cycle"],
    "step": ["Step"],
    "mode_col": ["Instruction Name"],
    "mode_map": lambda v: ("rest" if str(v).strip().lower() in ("idle", "rest", "pause")
                           else "other"),
    "clock": ["Real Time"],
    "drop": {"Test", "Cell", "Rack", "Shelf", "Position", "Cell ID", "Real Time",
             "Position Start Time", "Load On Time (Seconds)", "Load On Time (Hours in hh:mm:ss.xxx)",
             "Cycle Charge Time (Seconds)", "Cycle Discharge Time (Seconds)",
             "Cycle Charge Time (Hours in hh:mm:ss.xxx)", "Cycle Discharge Time (Hours in hh:mm:ss.xxx)",
             "ReasonCode"},
    "step_time": ["Step Time (Seconds)"],
}
def _landt_sign(v) -> float:
    """Landt/LANHE step state -> current sign: ``R`` rest; ``RateC``/``CCC``/``CVC``/``CCCV_C``
    charge; ``RateD``/``CCD``/``CVD`` discharge (a trailing C or D); Chinese 充电 / 放电."""
    s = str(v).strip().upper().replace("-", "_")
    if s in ("R", "REST", "OCV", "PAUSE", "静置", "搁置"):
        return 0.0
    if "放电" in s or s.endswith("D") or "DCHG" in s or "DISCHARGE" in s:
        return -1.0
    if "充电" in s or s.endswith("C") or "CHG" in s or "CHARGE" in s:
        return 1.0
    return 0.0


def _landt_mode(v) -> str:
    s = str(v).strip().upper().replace("-", "_")
    if s in ("R", "REST", "OCV", "PAUSE", "静置", "搁置"):
        return "rest"
    if s.startswith("RATE") or s in ("CCC", "CCD") or "恒流" in s:
        return "CC"
    if s in ("CVC", "CVD") or "恒压" in s:
        return "CV"
    if s.startswith("CCCV"):
        return "CCCV"
    return "other"


# Landt (LANHE, LANDdt) exports, workbook record sheet ("Record-Tab", "记录层") or its CSV:
# English headers as a real LANDdt export writes them ("Record", "TestTime/Sec",
# "StepTime/Sec", "Current/mA", "Capacity/mAh", "SpeCap/mAh/g", "SOC|DOD/%", "Voltage/V",
# "Energy/mWh", "SpeEnergy/Wh/kg", "AuxTemp/dC.", "AuxVolt/V", "SysTime"; cellpy's
# testdata/data/custom_data_002.xlsx), the cycle/step/state columns of LANDdt V7 and LANHE
# ("CycleNo", "StepNo", "Cycle", "Step-State" with R / RateC / RateD or CCC / CCD / CVC), and
# the Chinese headers of the Chinese software ("测试时间", "步骤时间", "电流/mA", "电压/V",
# "容量/mAh", "工步状态", "循环序号", "工步序号", "系统时间"; documented names, no real file
# with them was found). Current is signed (discharge < 0); the state column confirms it.
PRESETS["landt"] = {
    "instrument": "Landt",
    "time_s": ["TestTime/Sec", "TestTime/s", "TestTime/min", "TestTime/h", "TestTime",
               "测试时间/Sec", "测试时间/s", "测试时间/min", "测试时间/h", "测试时间"],
    "voltage_V": ["Voltage/V", "Voltage/mV", "电压/V", "电压/mV"],
    "current_A": ["Current/mA", "Current/uA", "Current/A", "电流/mA", "电流/uA", "电流/A"],
    "cycle": ["Cycle-Index", "CycleNo", "Cycle", "循环序号", "循环号"],
    "step": ["Step-Index", "StepNo", "Step", "工步序号", "工步号"],
    "mode_col": ["Step-State", "Step State", "State", "工步状态"],
    "mode_map": _landt_mode,
    "sign_col": ["Step-State", "Step State", "State", "工步状态"],
    "sign_map": _landt_sign,
    "clock": ["SysTime", "系统时间"],
    "drop": {"Record", "SysTime", "记录序号", "系统时间", "StepTime/min", "StepTime/h",
             "步骤时间/min", "步骤时间/h", "SOC|DOD/%"},
    "step_time": ["StepTime/Sec", "StepTime/s", "步骤时间/Sec", "步骤时间/s"],
    "names": {"容量/mAh": "capacity_mAh", "容量/Ah": "capacity_Ah", "比容量/mAh/g": "specific_capacity_mAh_per_g",
              "能量/mWh": "energy_mWh", "能量/Wh": "energy_Wh", "比能量/Wh/kg": "specific_energy_Wh_per_kg",
              "SpeCap/mAh/g": "specific_capacity_mAh_per_g", "SpeEnergy/Wh/kg": "specific_energy_Wh_per_kg"},
}
# BaSyTec Battery Test System text export ("~Resultfile from Basytec Battery Test System"):
# '~Key: value' preamble lines (test name, plan, channel, "Start of Test: DD.MM.YYYY hh:mm:ss"),
# then a header in 'Name[unit]' style whose first field carries the '~' too: "~Time[s]",
# "DataSet" (record number), "t-Step[s]", "Line" (test-plan line: the step), "Command" (Pause,
# Charge, Discharge ...), "U[V]", "I[A]" (charge > 0, kept), "Ah[Ah]" (the charge counter),
# "Cyc-Count" (PyProBE's sample export, MANIFEST.md). Recognised by its header in a generic
# table (read_table with fmt "csv"): no column mapping needed.
PRESETS["basytec"] = {
    "instrument": "BaSyTec",
    "time_s": ["~Time[s]", "Time[s]", "~Time[h]", "Time[h]"],
    "voltage_V": ["U[V]", "U[mV]"],
    "current_A": ["I[A]", "I[mA]"],
    "cycle": ["Cyc-Count"],
    "step": ["Line"],
    "mode_col": ["Command"],
    "mode_map": _neware_mode,
    "drop": {"DataSet"},
    "step_time": ["t-Step[s]"],
}


def _basytec_header(cols: list[str]) -> bool:
    """Whether a table's columns are a BaSyTec export's ('~Time[s]' first, 'U[V]', 'I[A]')."""
    return bool(cols) and re.fullmatch(r"~?Time\[(s|h)\]", cols[0]) is not None and \
        any(c in cols for c in PRESETS["basytec"]["voltage_V"]) and \
        any(c in cols for c in PRESETS["basytec"]["current_A"])


def _basytec_preamble(lines: list[str]) -> dict:
    """``~Key: value`` preamble lines of a BaSyTec export -> metadata (``start_time`` from
    ``Start of Test`` written DD.MM.YYYY hh:mm:ss, the tester's local time)."""
    pre: dict = {}
    for ln in lines:
        m = re.match(r"^~\s*([^:]{1,60}):\s*(.*?)\s*$", ln)
        if m and m.group(2):
            pre[m.group(1).strip()] = m.group(2)[:200]
    meta: dict = {"preamble": pre} if pre else {}
    start = pre.get("Start of Test")
    if start:
        try:
            meta["start_time"] = datetime.strptime(start, "%d.%m.%Y %H:%M:%S").isoformat()
        except ValueError:
            pass
    return meta


# Generic tables (Landt/Lanhe exports, cellpy/BDF-like snake_case, "Time (s)" ...): aliases tried
# when no mapping names a column and the canonical name is absent.
GENERIC_ALIASES = {
    "time_s": ["test_time_s", "Test Time / s", "test_time_second", "TestTime/Sec", "Test Time (s)",
               "Test Time(s)", "Time (s)", "Time(s)", "Time / s", "time/s", "Total Time (s)"],
    "voltage_V": ["Voltage / V", "voltage_volt", "Voltage (V)", "Voltage(V)", "Voltage/V",
                  "Ewe/V", "voltage", "Voltage"],
    "current_A": ["Current / A", "current_ampere", "Current (A)", "Current(A)", "Current/A",
                  "Current (mA)", "Current(mA)", "Current/mA", "I/mA", "current", "Current"],
    "cycle": ["cycle_index", "Cycle Index", "cycle_count", "Cycle Count / 1", "Cycle", "cycle"],
    "step": ["step_index", "Step Index", "Step Index / 1", "Step", "step"],
    "mode": ["step_name", "Step Name", "Step Type", "State"],
}


# --------------------------------------------------------------------------------- helpers

def _map_unique(col: pd.Series, fn) -> np.ndarray:
    """``fn`` applied once per distinct value of ``col`` (state columns repeat a few values)."""
    keys = col.astype(str).str.strip()
    table = {u: fn(u) for u in pd.unique(keys)}
    return keys.map(table).to_numpy()


def _decode(raw: bytes) -> str:
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def _sep_of(line: str) -> str:
    if "\t" in line:
        return "\t"
    if line.count(";") > line.count(","):
        return ";"
    return ","


def _first(cands, columns) -> str | None:
    for c in cands:
        if c in columns:
            return c
    low = {c.lower(): c for c in columns}
    for c in cands:
        if c.lower() in low:
            return low[c.lower()]
    return None


def _scale_for(key: str, col: str, unit: str | None, path) -> float:
    if unit is None:
        unit = split_name_unit(col)[1]
    if unit is None:
        return 1.0
    table = _SCALES[key]
    u = unit.strip().replace("µ", "u").replace("μ", "u")
    for cand in (u, u.lower()):
        if cand in table:
            return table[cand]
    if key == "time_s" and ":" in u:  # "h:min:s.ms" style: durations, parsed later
        return 1.0
    raise ParameterError(f"{key.split('_')[0]}_unit", unit,
                         f"unknown unit for {key} (column {col!r} of {path})",
                         f"use one of {sorted(set(table))}")


def _to_seconds(s: pd.Series, scale: float, path, col: str) -> tuple[np.ndarray, str | None]:
    """Numeric (× scale), duration strings, or date-times (s since the first row)."""
    num = pd.to_numeric(s, errors="coerce")
    if num.notna().sum() >= max(1, int(0.99 * s.notna().sum())) and num.notna().any():
        return num.to_numpy(dtype=float) * scale, None
    txt = s.astype(str).str.strip()
    if txt.str.contains(r"^\s*(?:\d+\s*d\w*\s*,?\s*|\d+\s+)?\d+:\d{1,2}:\d", regex=True).mean() > 0.99:
        return parse_duration_s(txt, path, col), None
    dt = pd.to_datetime(txt, errors="coerce", format="mixed")
    if dt.notna().all():
        sec = (dt - dt.iloc[0]).dt.total_seconds().to_numpy(dtype=float)
        return sec, dt.iloc[0].isoformat()
    i = int(np.flatnonzero((num.isna() & dt.isna()).to_numpy())[0])
    raise FileFormatError(path, f"time column {col!r}: cannot read the value at data row {i} "
                          "as seconds, a duration or a date-time",
                          "pass time_s=<a numeric time column> and time_unit=")


_CLOCK_FORMATS = ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %I:%M:%S %p", "%m/%d/%Y %I:%M:%S %p",
                  "%m/%d/%Y %H:%M:%S", "%Y-%m-%d %H:%M:%S.%f", "%Y/%m/%d %H:%M:%S")


def _parse_clock(txt: str):
    for f in _CLOCK_FORMATS:
        try:
            return pd.Timestamp(datetime.strptime(txt, f))
        except ValueError:
            continue
    return None


def _arbin_metadata(p) -> dict:
    """Start time and schedule from the companion ``<name>_Metadata.csv`` (beep layout), if any."""
    mp = p.with_name(p.stem + "_Metadata.csv")
    if not mp.is_file():
        return {}
    try:
        with open(mp, "rb") as fh:
            md = pd.read_csv(io.BytesIO(fh.read()))
    except (ValueError, pd.errors.ParserError, OSError):
        log.warning("%s: companion metadata %s unreadable; ignored", p, mp.name)
        return {}
    md.columns = [str(c).strip().lower() for c in md.columns]
    out: dict = {"metadata_file": mp.name}
    if "first_start_datetime" in md.columns:
        v = pd.to_numeric(md["first_start_datetime"], errors="coerce").iloc[0]
        if np.isfinite(v) and v > 0:
            out["start_time"] = datetime.fromtimestamp(float(v), tz=timezone.utc).isoformat()
    if "schedule_file_name" in md.columns:
        out["schedule"] = str(md["schedule_file_name"].iloc[0])
    return out


def _maccor_time_unit(df: pd.DataFrame, tcol: str, clock_col: str | None, path) -> float:
    """Maccor text exports write TestTime in s, min or h depending on the export settings:
    pick the unit from the wall-clock column (median d(clock)/d(TestTime) ≈ 1, 60 or 3600)."""
    if clock_col is None:
        return 1.0
    t = pd.to_numeric(df[tcol], errors="coerce").to_numpy(dtype=float)
    txt = df[clock_col].iloc[:2000].astype(str).str.strip()
    t = t[:2000]
    clock = None
    for f in ("%m/%d/%Y %I:%M:%S %p", "%m/%d/%Y %H:%M:%S"):
        c = pd.to_datetime(txt, errors="coerce", format=f)
        if c.notna().mean() > 0.9:
            clock = c
            break
    if clock is None:
        clock = pd.to_datetime(txt, errors="coerce", format="mixed")
    if clock.isna().mean() > 0.5 or np.isnan(t).all():
        return 1.0
    c = (clock - clock.iloc[0]).dt.total_seconds().to_numpy(dtype=float)
    dt, dc = np.diff(t), np.diff(c)
    ok = (dt > 0) & np.isfinite(dc) & (dc > 0)
    if ok.sum() < 3:
        return 1.0
    ratio = float(np.median(dc[ok] / dt[ok]))
    choices = np.array([1.0, 60.0, 3600.0])
    best = choices[np.argmin(np.abs(np.log(ratio / choices)))]
    log.info("%s: Maccor TestTime unit inferred from %s: %g s per unit (ratio %.3g)",
             path, clock_col, best, ratio)
    return float(best)


# --------------------------------------------------------------------------------- preambles

def _locate(fmt: str, lines: list[str], path, wanted: list[str]) -> tuple[int, dict, list[str]]:
    """Return (header line index, meta from the preamble, lines) for a text format."""
    meta: dict = {}
    if fmt == "novonix":
        try:
            i = next(k for k, ln in enumerate(lines) if ln.strip() == "[Data]")
        except StopIteration:
            raise FileFormatError(path, "Novonix file without a '[Data]' section",
                                  "export the complete file from the Novonix software") from None
        for ln in lines[:i]:
            s = ln.strip().strip('"')
            if s.startswith("Started:"):
                txt = s.split(":", 1)[1].strip()
                meta["start_time_text"] = txt
                for f in ("%Y-%m-%d %I:%M:%S %p", "%Y-%m-%d %H:%M:%S"):
                    try:
                        meta["start_time"] = datetime.strptime(txt, f).isoformat()
                        break
                    except ValueError:
                        pass
            elif s.startswith("Version:"):
                meta["software_version"] = s.split(":", 1)[1].strip()
            elif s.startswith("Channel:"):
                meta["channel"] = s.split(":", 1)[1].strip()
            elif s.startswith("Protocol:"):
                meta.setdefault("protocol", s.split(":", 1)[1].strip())
        body = [ln.strip().strip('"') for ln in lines[i + 1:]]
        return 0, meta, body
    if fmt == "maccor-raw":
        if len(lines) < 2:
            raise FileFormatError(path, "holds only the first line of a Maccor export (no column "
                                  "header, no data)", "the file is cut or the export failed; export it again")
        first = lines[0]
        m = re.search(r"Date of Test:\s*([\d/]+)", first)
        if m:
            meta["test_date"] = m.group(1)
        m = re.search(r"Procedure:\s*(.*?)\s*(?:\t|Comment|$)", first)
        if m:
            meta["procedure"] = m.group(1)
        # the 'Rec#' header is the second line; some exports spread the preamble over lines
        k = next((k for k, ln in enumerate(lines[1:200], 1) if re.match(r"^Rec#?[\t,;]", ln)), 1)
        for ln in lines[1:k]:
            m = re.search(r"Date of Test:\s*([\d/]+)", ln)
            if m and "test_date" not in meta:
                meta["test_date"] = m.group(1)
        return k, meta, lines
    if fmt == "maccor":
        for k, ln in enumerate(lines[:200]):
            if re.match(r"^Rec#?[\t,;]", ln):
                for pl in lines[:k]:
                    parts = [x.strip() for x in re.split(r"\t|:\t|,", pl) if x.strip()]
                    if len(parts) >= 2:
                        key = parts[0].rstrip(":")
                        if key in ("Started", "Tester", "Procedure", "Channel", "Name"):
                            meta[key.lower()] = parts[1]
                if "started" in meta:
                    for f in ("%m/%d/%Y %I:%M:%S %p", "%m/%d/%Y %H:%M:%S"):
                        try:
                            meta["start_time"] = datetime.strptime(meta["started"], f).isoformat()
                            break
                        except ValueError:
                            pass
                return k, meta, lines
        raise FileFormatError(path, "Maccor text export without a 'Rec' column header line",
                              "export the data with column headers")
    if fmt == "neware-regular":
        return 0, {"export": "Neware BTS regular (cycle / step / record) export"}, \
            _flatten_neware_regular(lines, path)
    # arbin / neware / generic csv: the first line holding the wanted column names
    if wanted:
        for k, ln in enumerate(lines[:200]):
            if ln.strip() and all(w in ln for w in wanted):
                return k, meta, lines
    k = header_line(lines)
    if k > 0:
        pre = {}
        for ln in lines[:k]:
            parts = [x.strip() for x in re.split(r"[,;\t]", ln) if x.strip()]
            if len(parts) >= 2 and parts[0].endswith(":"):
                pre[parts[0].rstrip(":").strip()[:60]] = parts[1][:200]
        meta["preamble_lines"] = k
        if pre:
            meta["preamble"] = pre
    return k, meta, lines


def _fields(line: str) -> list[str]:
    return line.rstrip("\r\n").split(_sep_of(line))


def _is_num(x: str) -> bool:
    x = x.strip().strip('"')
    if not x:
        return False
    try:
        float(x.replace(",", ".") if x.count(",") == 1 and "." not in x else x)
        return True
    except ValueError:
        return bool(re.fullmatch(r"\d+(:\d+)+(\.\d+)?|\d+[-/]\d+[-/]\d+.*", x))


def header_line(lines: list[str], scan: int = 300) -> int:
    """Index of the column-header line of a delimited table, found by content.

    The header is the first line with >= 3 fields, most of them non-numeric, followed by
    (up to) 3 lines with the same separator and at least as many fields, most of them numbers
    (dates and durations count). Preambles of any length and wording (Maccor, PEC, Landt,
    Neware detailed exports, instrument metadata) are skipped this way. 0 when none is found.
    """
    n = min(len(lines), scan)
    last = None  # a header line with nothing after it (a table cut after its header)
    for k in range(n):
        ln = lines[k]
        if not ln.strip():
            continue
        sep = _sep_of(ln)
        head = [x for x in ln.rstrip("\r\n").split(sep)]
        named = [x for x in head if x.strip()]
        if len(named) < 3 or sum(_is_num(x) for x in named) > len(named) // 3:
            continue
        body = [b for b in lines[k + 1:k + 6] if b.strip()][:3]
        if not body:
            if not any(b.strip() for b in lines[k + 1:]):
                last = k
            continue
        ok = True
        for b in body:
            f = b.rstrip("\r\n").split(sep)
            vals = [x for x in f if x.strip()]
            if len(f) < len(named) or not vals or sum(_is_num(x) for x in vals) < 0.5 * len(vals):
                ok = False
                break
        if ok:
            return k
    return last if last is not None else 0


def _flatten_neware_regular(lines: list[str], path) -> list[str]:
    """Neware BTS "regular" export (three interleaved tables: cycle rows, step rows starting
    with one comma, record rows starting with two) -> one record table with the cycle index,
    step index and step type of each record's parents."""
    if len(lines) < 4:
        raise FileFormatError(path, "Neware regular export with fewer than 4 lines",
                              "export the complete file again")
    step_head = lines[1].split(",")
    rec_head = lines[2].split(",")
    try:
        i_step_no, i_step_type = step_head.index("Step Number"), step_head.index("Step Type")
    except ValueError:
        raise FileFormatError(path, "Neware regular export without 'Step Number'/'Step Type' in "
                              "its second header line", "export with the default columns") from None
    out = [",".join(["Cycle Index", "Step Index", "Step Type"] + rec_head[2:])]
    cyc, step, stype = "", "", ""
    for ln in lines[3:]:
        if not ln.strip():
            continue
        if ln.startswith(",,"):
            out.append(",".join([cyc, step, stype]) + "," + ln[2:])
        elif ln.startswith(","):
            f = ln.split(",")
            step = f[i_step_no] if len(f) > i_step_no else ""
            stype = f[i_step_type] if len(f) > i_step_type else ""
        else:
            cyc = ln.split(",")[0]
    return out


def _refuse_long_rows(body: list[str], sep: str, n_fields: int, k: int, path) -> None:
    """A data row with more non-empty fields than the header: pandas (index_col=False) would
    cut it to the header's width without a word.  Trailing empty fields (a separator at each
    line's end) are allowed; quoted lines are left to the parser."""
    if n_fields < 2:  # not a table: refused with its own message after parsing
        return
    for i, ln in enumerate(body[1:], start=1):
        if ln.count(sep) < n_fields or '"' in ln:
            continue
        f = ln.rstrip("\r\n").split(sep)
        if len(f) > n_fields and any(x.strip() for x in f[n_fields:]):
            raise FileFormatError(path, f"cannot parse the table (separator {sep!r}): line {k + i + 1} "
                                  f"of the file has {len(f)} fields, the header {n_fields}",
                                  "check it is a delimited text export of one table")


def _load(fmt: str, text: str, path, wanted: list[str]) -> tuple[pd.DataFrame, dict]:
    lines = text.splitlines()
    k, meta, lines = _locate(fmt, lines, path, wanted)
    header = lines[k]
    sep = _sep_of(header)
    body = lines[k:]
    n_fields = len(header.rstrip("\r\n").rstrip(sep).split(sep))
    rows, cut = drop_truncated_last_row(body[1:], sep, path, n_fields=n_fields,
                                        ends_with_newline=text.endswith(("\n", "\r")))
    body = body[:1] + rows
    data_line = next((ln for ln in body[1:] if ln.strip()), "")
    decimal = "."
    if sep in (";", "\t") and re.search(r"\d,\d", data_line) and not re.search(r"\d\.\d", data_line):
        decimal = ","
    _refuse_long_rows(body, sep, n_fields, k, path)
    try:
        with warnings.catch_warnings():  # ragged rows are checked below, not printed by pandas
            warnings.simplefilter("ignore", pd.errors.ParserWarning)
            df = pd.read_csv(io.StringIO("\n".join(body)), sep=sep, decimal=decimal,
                             index_col=False, skip_blank_lines=True, low_memory=False,
                             skipinitialspace=False)
    except (ValueError, pd.errors.ParserError) as e:
        m = re.search(r"Expected (\d+) fields in line (\d+), saw (\d+)", str(e))
        why = (f"line {int(m.group(2)) + k} of the file has {m.group(3)} fields, the header "
               f"{m.group(1)}") if m else "rows of uneven length or unbalanced quotes"
        raise FileFormatError(path, f"cannot parse the table (separator {sep!r}): {why}",
                              "check it is a delimited text export") from None
    df.columns = [str(c).strip() for c in df.columns]
    df = df.loc[:, [c for c in df.columns if c and not c.startswith("Unnamed:")]]
    meta["separator"] = sep
    meta["decimal_separator"] = decimal
    if cut:
        meta["warnings"] = [cut]
    return df, meta


def table_header(path, fmt: str = "csv", wanted=(), *, max_bytes: int = 1 << 20) -> list[str]:
    """The column headers of a text table as :func:`read_table` names them, from the file's
    first ``max_bytes`` only (no full read: ``ssbscope validate`` checks a ``columns:`` mapping
    with it).

    Parameters
    ----------
    path : path-like
        A regular file (checked by :func:`~ssbscope.echem.io.common.check_file`).
    fmt : str
        A text preset of :func:`read_table` (``"csv"``, ``"maccor"``, ``"novonix"`` ...).
    wanted : sequence of str
        Mapped header names: a preamble is skipped to the first line holding them all (as the
        reader does); when no line holds them, the header is found by content.
    max_bytes : int
        Bytes read from the start of the file (1 MiB; a preamble longer than that is not
        expected). The last, possibly cut, line of the head is not used.

    Returns
    -------
    list of str
        Header names, stripped, without the empty / ``Unnamed`` columns the reader drops.
    """
    p = check_file(path)
    with open(p, "rb") as fh:
        raw = fh.read(max_bytes + 1)
    whole = len(raw) <= max_bytes
    raw = raw[:max_bytes]
    if not whole and raw.rfind(b"\n") > 0:  # whole lines only: a UTF-8 character cut by the
        raw = raw[: raw.rfind(b"\n") + 1]   # head's end would make the text decode as latin-1
    text = utf16_text(raw)
    text = _decode(raw) if text is None else text.replace("\ufeff", "")
    lines = text.splitlines()
    if not whole and len(lines) > 1:
        lines = lines[:-1]  # cut by the head's end
    if not lines:
        return []
    k, _, lines = _locate(fmt, lines, p, [w for w in wanted if w])
    header = lines[k] if k < len(lines) else ""
    sep = _sep_of(header)
    cols = pd.read_csv(io.StringIO(header), sep=sep, nrows=0, index_col=False).columns
    return [c for c in (str(c).strip() for c in cols) if c and not c.startswith("Unnamed:")]


# --------------------------------------------------------------------------------- main

def read_table(path, fmt: str = "csv", *, column_mapping: dict | None = None,
               time_unit: str | None = None, voltage_unit: str | None = None,
               current_unit: str | None = None, nan_policy: str = "raise",
               invert_current: bool = False, raw: bytes | None = None) -> pd.DataFrame:
    """Read a delimited text export into the canonical time-series table.

    Parameters
    ----------
    path : path-like
        The file (opened read-only).
    fmt : {"csv", "arbin", "neware", "maccor", "maccor-raw", "novonix", "basytec", ...}
        Preset; ``"csv"`` is a generic table (canonical column names or a mapping).
    column_mapping : dict, optional
        ``{canonical key: column name in the file}``, keys from :data:`MAPPING_KEYS`.
        Overrides the preset's choice.
    time_unit, voltage_unit, current_unit : str, optional
        Units of the mapped columns when their names do not say (default s, V, A).
    """
    mapping = dict(column_mapping or {})
    bad = [k for k in mapping if k not in MAPPING_KEYS]
    if bad:
        raise ParameterError("column_mapping", bad, f"unknown key(s); allowed: {list(MAPPING_KEYS)}",
                             "e.g. read(path, time_s='Test Time (s)', voltage_V='Voltage (V)', "
                             "current_A='Current (A)')")
    p = check_file(path)
    if raw is None:
        with open(p, "rb") as fh:
            raw = fh.read()
    sha = hashlib.sha256(raw).hexdigest()
    text = utf16_text(raw)  # UTF-16 exports (PalmSens, some Windows tools) are text, not binary
    if text is None:
        if b"\x00" in raw[:4096]:
            raise FileFormatError(p, "is a binary file, not a delimited text table",
                                  "pass format= for the instrument's binary reader, or export CSV")
        text = _decode(raw)
    else:
        text = text.replace("\ufeff", "")  # PSTrace writes one at the start and one as the last line
    preset = PRESETS.get(fmt, {})
    if fmt != "csv" and not preset:
        raise ParameterError("format", fmt, "unknown text format", f"use one of {['csv', *PRESETS]}")
    wanted = [v for v in mapping.values()]
    df, meta = _load(fmt, text, p, wanted)
    cols = list(df.columns)
    if fmt == "basytec" or (fmt == "csv" and _basytec_header(cols)):  # named, or recognised by
        preset = PRESETS["basytec"]                                     # its header: no mapping
        meta.update(_basytec_preamble(text.splitlines()[:meta.get("preamble_lines", 0)]))
    if preset:
        meta["instrument"] = preset["instrument"]
    if len(cols) < 2:  # not a table: its text is not quoted back (it may be any file)
        raise FileFormatError(p, "is not a delimited table: its header line has a single field "
                              "(no ',', ';' or tab separator)",
                              "pass a potentiostat export (CSV/TSV/TXT) or an instrument file")
    if len(df) == 0:
        raise FileFormatError(p, f"contains a header but no data rows (columns: {cols})",
                              "check the export finished (the file may be truncated)")

    chosen: dict[str, str] = {}
    for key in MAPPING_KEYS:
        if key in mapping:
            if mapping[key] not in cols:
                err = MissingColumnError(
                    p, f"mapped column {key}={mapping[key]!r} not found; columns found: {cols}",
                    f"pass the right names as keyword arguments (keys: {list(MAPPING_KEYS)})")
                # for callers that word the fix their own way (the experiment's columns: mapping)
                err.missing, err.mapped, err.columns_found = [key], {key: mapping[key]}, cols
                raise err
            chosen[key] = mapping[key]
            continue
        if key in cols:
            chosen[key] = key
            continue
        cands = preset.get(key) if key != "mode" else preset.get("mode_col")
        if not cands and fmt == "csv":
            cands = GENERIC_ALIASES.get(key)
        if cands:
            c = _first(cands, cols)
            if c is not None:
                chosen[key] = c
    missing = [k for k in ("time_s", "voltage_V", "current_A") if k not in chosen]
    if missing:
        what = f"{preset['instrument']} export" if preset else "table"
        err = MissingColumnError(
            p, f"{what} lacks column(s) for {missing}; columns found: {cols}",
            "pass the column names as keyword arguments, e.g. read(path, "
            + ", ".join(f"{k}='<column>'" for k in missing) + f") (mapping keys: {list(MAPPING_KEYS)})")
        err.missing, err.mapped, err.columns_found = missing, {}, cols
        raise err

    # rows to drop by state (Maccor FRA records carry no time advance)
    if preset.get("drop_states"):
        sc = _first(preset.get("sign_col", []), cols)
        if sc is not None:
            st = df[sc].astype(str).str.strip()
            drop = st.isin(preset["drop_states"]).to_numpy()
            if drop.any():
                msg = (f"{p}: dropped {int(drop.sum())} impedance (FRA) record(s) from the time "
                       "series; the tester does not advance the test time during them")
                log.warning(msg)
                meta["dropped_records"] = msg
                df = df.loc[~drop].reset_index(drop=True)

    out: dict[str, np.ndarray] = {}
    units = {"time_s": time_unit, "voltage_V": voltage_unit, "current_A": current_unit}
    tcol = chosen["time_s"]
    if fmt in ("maccor", "maccor-raw") and time_unit is None and split_name_unit(tcol)[1] is None \
            and "sec" not in tcol.lower():
        tscale = _maccor_time_unit(df, tcol, _first(preset.get("time_from_clock", []), cols), p)
        meta["time_unit_inferred_s"] = tscale
    else:
        tscale = _scale_for("time_s", tcol, time_unit, p)
    t, start = _to_seconds(df[tcol], tscale, p, tcol)
    if start is not None:
        meta.setdefault("start_time", start)
    out["time_s"] = t
    for key in ("voltage_V", "current_A"):
        col = chosen[key]
        scale = _scale_for(key, col, units[key], p)
        v = pd.to_numeric(df[col], errors="coerce")
        nonnum = v.isna() & df[col].notna() & (df[col].astype(str).str.strip() != "")
        if nonnum.any():
            i = int(np.flatnonzero(nonnum.to_numpy())[0])
            raise FileFormatError(p, f"column {col!r} ({key}) holds non-numeric text "
                                  f"at data row {i}",
                                  "fix the value or map another column")
        out[key] = v.to_numpy(dtype=float) * scale
    meta["columns_used"] = dict(chosen)
    for key, col in chosen.items():  # pandas renames a repeated header name to 'name.1', ...
        if key not in mapping and f"{col}.1" in cols and key in ("time_s", "voltage_V", "current_A"):
            raise FileFormatError(p, f"column name {col!r} appears more than once in the header; "
                                  f"which one is {key} is ambiguous",
                                  f"rename the columns, or map one: read(path, {key}='{col}.1') "
                                  "for the second")

    sc = _first(preset.get("sign_col", []), cols) if preset.get("sign_map") else None
    if sc is not None and "current_A" not in mapping:
        sign = _map_unique(df[sc], preset["sign_map"]).astype(float)
        i = out["current_A"]
        out["current_A"] = np.where(sign != 0, np.abs(i) * sign, i)
        meta["current_sign_from"] = sc
    for key in ("cycle", "step"):
        if key in chosen:
            v = pd.to_numeric(df[chosen[key]], errors="coerce")
            if v.notna().any():
                out[key] = v.to_numpy(dtype=float)
    if "mode" in chosen:
        mc = chosen["mode"]
        fn = preset.get("mode_map") if mc in preset.get("mode_col", []) else _generic_mode
        out["mode"] = _map_unique(df[mc], fn).astype(object)
        raw_state = df[mc].astype(str).str.strip().to_numpy(dtype=object)
        if mc in preset.get("sign_col", []) or (fn is _generic_mode and
                                                 not np.array_equal(raw_state, out["mode"])):
            out["instrument_state"] = raw_state

    used = set(chosen.values())
    names = preset.get("names", {})
    for c in cols:
        if c in used or c in preset.get("drop", set()) or c.startswith(preset.get("drop_prefix", ("\0",))):
            continue
        if c in preset.get("mode_col", []) or c in preset.get("sign_col", []):
            continue
        v = pd.to_numeric(df[c], errors="coerce")
        if v.isna().all():
            continue
        if c in preset.get("step_time", []):
            scale = tscale if fmt in ("maccor", "maccor-raw") else 1.0
            st, _ = _to_seconds(df[c], scale, p, c)
            out.setdefault("step_time_s", st)
            continue
        if c in names:
            name = names[c]
        else:
            base, unit = split_name_unit(c)
            unit = unit or preset.get("units", {}).get(c)
            name = snake_name(base, unit)
            if unit and unit.lower() == "h" and name.endswith("_h"):
                v = v * 3600.0
                name = name[:-2] + "_s"
        if name in out or name in MAPPING_KEYS:
            continue
        out[name] = v.to_numpy(dtype=float)
    frame = pd.DataFrame(out)
    for key in ("cycle", "step"):
        if key in frame.columns and frame[key].isna().any():
            frame = frame.drop(columns=key)  # partially empty counters are not trustworthy
    if fmt == "arbin":
        meta.update(_arbin_metadata(p))
        dtc = _first(["DateTime", "Date_Time"], cols)
        if dtc is not None:
            first = pd.to_numeric(df[dtc], errors="coerce").iloc[0]
            t0 = None
            if np.isfinite(first):  # beep CSV: Unix seconds (UTC)
                t0 = datetime.fromtimestamp(float(first), tz=timezone.utc)
            else:  # Excel export: a local date-time cell
                t0 = _parse_clock(str(df[dtc].iloc[0]).strip())
            if t0 is not None:
                meta["first_record_time"] = t0.isoformat()
                if float(out["time_s"][0]) == 0.0:
                    meta.setdefault("start_time", t0.isoformat())
    clock = _first(preset.get("clock", []), cols)
    if clock is not None:
        # wall clock of the first record (local time of the tester); it is the start of the
        # test only when that record is at time 0 (test time may exclude pauses)
        first = _parse_clock(str(df[clock].iloc[0]).strip())
        if first is not None:
            meta["first_record_time"] = first.isoformat()
            if "start_time" not in meta and float(out["time_s"][0]) == 0.0:
                meta["start_time"] = first.isoformat()
    rc = _first(["DataPoint", "Data_Point", "Data Point", "Rec#", "Rec", "Record ID", "Record",
                 "Record Index", "记录序号"], cols)
    rec = pd.to_numeric(df[rc], errors="coerce").to_numpy(dtype=float) if rc is not None else None
    if rec is not None and np.isnan(rec).any():
        rec = None
    return finalize_timeseries(frame, p, fmt, meta, nan_policy=nan_policy,
                               invert_current=invert_current, sha256=sha, record_index=rec)
