"""PalmSens PSTrace / PStouch session files (``.pssession``): UTF-16 JSON.

A session holds one or more measurements; each has a ``dataset`` of named arrays (``time``,
potential, current, charge; for impedance ``Frequency``, ``ZRe``, ``ZIm`` ...) whose unit
object names the scale (``PalmSens.Units.MicroAmpere`` ...). Key case differs between PSTrace
versions (``Measurements`` / ``measurements``); both are read. The file ends with a second
byte-order mark after the JSON, which is ignored.

* :func:`read_pssession` — a potential/current time series (one measurement, one scan):
  ``time_s``, ``voltage_V``, ``current_A`` (anodic positive, as PalmSens records it: kept, as
  for BioLogic), ``capacity_mAh`` from the instrument's charge array where recorded.
* :func:`read_pssession_eis` — impedance measurements: ``frequency_Hz``, ``z_real_ohm``,
  ``z_imag_ohm`` (= −(−Z'') of the file), ``z_abs_ohm``, ``phase_deg`` (of Z, capacitive < 0),
  ``time_s``, ``voltage_V``, ``current_A`` (Idc), ``spectrum`` (0, 1 ... one per measurement).
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pandas as pd

from ssbscope.errors import FileFormatError, UnsupportedFormatError
from ssbscope.echem.io.common import finalize_eis, finalize_timeseries, sha256_file, utf16_text

__all__ = ["read_pssession", "read_pssession_eis", "is_pssession_text"]

_SCALE = {"ampere": 1.0, "milliampere": 1e-3, "microampere": 1e-6, "nanoampere": 1e-9,
          "picoampere": 1e-12, "volt": 1.0, "millivolt": 1e-3, "microvolt": 1e-6, "time": 1.0,
          "second": 1.0, "coulomb": 1.0, "millicoulomb": 1e-3, "microcoulomb": 1e-6,
          "nanocoulomb": 1e-9, "hertz": 1.0, "zre": 1.0, "zim": 1.0, "z": 1.0, "phase": 1.0}


def is_pssession_text(text: str) -> bool:
    """Whether decoded text is a PalmSens session (JSON whose type is a PalmSens data file)."""
    head = text.lstrip("\ufeff \r\n\t")[:300].lower()
    return head.startswith("{") and '"palmsens.datafiles.' in head


def _lower(obj):
    if isinstance(obj, dict):
        return {str(k).lower(): _lower(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_lower(v) for v in obj]
    return obj


def _session(p: Path) -> tuple[dict, str]:
    raw = p.read_bytes()
    text = utf16_text(raw)
    if text is None:
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise FileFormatError(p, "is not a PalmSens session (neither UTF-16 nor UTF-8 text)",
                                  "export the measurement from PSTrace again") from None
    text = text.lstrip("\ufeff")
    try:
        d, _ = json.JSONDecoder().raw_decode(text)
    except (json.JSONDecodeError, RecursionError) as e:
        raise FileFormatError(p, f"PalmSens session is not valid JSON ({type(e).__name__} near "
                              f"character {getattr(e, 'pos', '?')}); the file is damaged or cut",
                              "save the session again from PSTrace") from None
    d = _lower(d) if isinstance(d, dict) else {}
    ms = d.get("measurements")
    if not isinstance(ms, list) or not ms:
        raise FileFormatError(p, "PalmSens session holds no measurements",
                              "save a session with a measurement from PSTrace")
    return d, sha256_file(p)


def _arrays(p: Path, m: dict) -> list[dict]:
    """The measurement's arrays: description, kind (last part of the array type), unit type,
    quantity label, values scaled to SI."""
    out = []
    values = (m.get("dataset") or {}).get("values") if isinstance(m.get("dataset"), dict) else None
    for v in values or []:
        if not isinstance(v, dict):
            continue
        unit = v.get("unit") if isinstance(v.get("unit"), dict) else {}
        utype = str(unit.get("type", "")).split(".")[-1].lower()
        dv = v.get("datavalues")
        if not isinstance(dv, list):
            continue
        try:
            vals = np.array([float(x.get("v")) if isinstance(x, dict) and x.get("v") is not None
                             else np.nan for x in dv], dtype=float)
        except (TypeError, ValueError, OverflowError):
            raise FileFormatError(p, f"PalmSens array {v.get('description')!r} holds non-numeric "
                                  "values", "save the session again from PSTrace") from None
        out.append({"description": str(v.get("description", "")),
                    "kind": str(v.get("type", "")).split(".")[-1].lower(), "unit": utype,
                    "quantity": str(unit.get("q") or ""),
                    "values": vals * _SCALE.get(utype, 1.0)})
    return out


def _pick(arrs, *, kind=None, unit=None, description=None):
    for a in arrs:
        if kind is not None and a["kind"] != kind:
            continue
        if unit is not None and a["unit"] not in unit:
            continue
        if description is not None and a["description"].lower() != description:
            continue
        return a
    return None


def _meta(d: dict, m: dict) -> dict:
    meta = {"instrument": "PalmSens", "export": "PalmSens session (.pssession, UTF-16 JSON)",
            "technique": str(m.get("title", "")), "software": f"PSTrace core {d.get('coreversion', '?')}"}
    if m.get("deviceserial"):
        meta["device_serial"] = str(m["deviceserial"])
    ticks = m.get("utctimestamp")
    try:  # .NET ticks: 100 ns since 0001-01-01 (UTC)
        t = int(ticks)
        if 6e17 < t < 7e17:
            meta["start_time"] = (datetime(1, 1, 1, tzinfo=timezone.utc)
                                  + timedelta(microseconds=t // 10)).isoformat(timespec="seconds")
    except (TypeError, ValueError, OverflowError):
        pass
    return meta


def _is_eis(arrs) -> bool:
    return _pick(arrs, unit=("hertz",)) is not None and _pick(arrs, unit=("zre",)) is not None


def read_pssession_eis(path) -> pd.DataFrame:
    """Impedance spectra of a PalmSens session (see the module docstring).

    Raises
    ------
    FileFormatError
        No impedance measurement, or a damaged file.
    """
    p = Path(path)
    d, sha = _session(p)
    frames, meta = [], None
    for m in d["measurements"]:
        if not isinstance(m, dict):
            continue
        arrs = _arrays(p, m)
        if not _is_eis(arrs):
            continue
        f, zr, zi = (_pick(arrs, unit=(u,)) for u in ("hertz", "zre", "zim"))
        if zi is None:
            raise FileFormatError(p, "PalmSens impedance measurement without a ZIm array",
                                  "export the spectrum again from PSTrace")
        n = len(f["values"])
        if len(zr["values"]) != n or len(zi["values"]) != n:
            raise FileFormatError(p, "PalmSens impedance arrays of different lengths",
                                  "export the spectrum again from PSTrace")
        sign = -1.0 if zi["quantity"].strip().startswith("-") else 1.0  # "-Z''" is stored
        cols = {"frequency_Hz": f["values"], "z_real_ohm": zr["values"],
                "z_imag_ohm": sign * zi["values"]}
        z = _pick(arrs, unit=("z",))
        if z is not None and len(z["values"]) == n:
            cols["z_abs_ohm"] = z["values"]
        ph = _pick(arrs, unit=("phase",))
        if ph is not None and len(ph["values"]) == n:
            cols["phase_deg"] = (-1.0 if ph["quantity"].strip().startswith("-") else 1.0) * ph["values"]
        for key, a in (("time_s", _pick(arrs, kind="dataarraytime")),
                       ("voltage_V", _pick(arrs, kind="dataarraypotentials")),
                       ("current_A", _pick(arrs, kind="dataarraycurrents", description="idc"))):
            if a is not None and len(a["values"]) == n:
                cols[key] = a["values"]
        df = pd.DataFrame(cols)
        df["spectrum"] = len(frames)
        frames.append(df)
        meta = meta or _meta(d, m)
    if not frames:
        raise FileFormatError(p, "PalmSens session holds no impedance measurement",
                              "read its time series with read(); read_eis() needs an EIS session")
    out = pd.concat(frames, ignore_index=True)
    return finalize_eis(out, p, "palmsens-pssession", meta, sha256=sha)


def read_pssession(path, *, nan_policy: str = "raise", invert_current: bool = False) -> pd.DataFrame:
    """The potential/current time series of a one-measurement, one-scan PalmSens session.

    Raises
    ------
    FileFormatError
        An impedance-only session (use read_eis), no time/potential/current arrays, damage.
    UnsupportedFormatError
        Several measurements or scans in one session (each is a time series of its own).
    """
    p = Path(path)
    d, sha = _session(p)
    series, n_eis = [], 0
    for m in d["measurements"]:
        if not isinstance(m, dict):
            continue
        arrs = _arrays(p, m)
        if _is_eis(arrs):
            n_eis += 1
            continue
        t = _pick(arrs, kind="dataarraytime")
        pots = [a for a in arrs if a["kind"] == "dataarraypotentials"]
        curs = [a for a in arrs if a["kind"] == "dataarraycurrents"]
        if t is not None and pots and curs:
            series.append((m, arrs, t, pots, curs))
    if not series:
        if n_eis:
            raise FileFormatError(p, "is a PalmSens impedance session, not a time series",
                                  "read it with read_eis() (in an experiment: kind: eis)")
        raise FileFormatError(p, "PalmSens session holds no time, potential and current arrays",
                              "export the measurement with its time axis from PSTrace")
    if len(series) > 1:
        raise UnsupportedFormatError(p, f"PalmSens session holds {len(series)} time-series "
                                     "measurements; ssbscope reads one per file",
                                     "save each measurement as its own session in PSTrace")
    m, arrs, t, pots, curs = series[0]
    if len(pots) > 1 or len(curs) > 1:
        raise UnsupportedFormatError(p, f"PalmSens measurement holds {max(len(pots), len(curs))} "
                                     "scans on one time array", "save each scan as its own session, "
                                     "or export one scan as CSV")
    n = len(t["values"])
    if len(pots[0]["values"]) != n or len(curs[0]["values"]) != n:
        raise FileFormatError(p, "PalmSens time, potential and current arrays differ in length",
                              "export the measurement again from PSTrace")
    cols = {"time_s": t["values"], "voltage_V": pots[0]["values"], "current_A": curs[0]["values"]}
    q = next((a for a in arrs if a["unit"].endswith("coulomb") and len(a["values"]) == n), None)
    if q is not None:
        cols["capacity_mAh"] = q["values"] / 3.6  # C -> mAh; the instrument's own charge
    meta = _meta(d, m)
    return finalize_timeseries(pd.DataFrame(cols), p, "palmsens-pssession", meta,
                               nan_policy=nan_policy, invert_current=invert_current, sha256=sha)
