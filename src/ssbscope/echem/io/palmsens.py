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

__all__ = ["read_pssession", "read_pssession_eis", "is_pssession_text", "read_pstrace_csv",
           "read_pstrace_csv_timeseries", "pstrace_units_row", "PSTRACE_UNITS"]

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


def _unicode_text(raw: bytes) -> str | None:
    """PSTrace's text: UTF-16 (with or without a BOM) or UTF-8; None when it is neither."""
    text = utf16_text(raw)
    if text is None:
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError:
            return None
    return text


def _session(p: Path) -> tuple[dict, str]:
    text = _unicode_text(p.read_bytes())
    if text is None:
        raise FileFormatError(p, "is not a PalmSens session (neither UTF-16 nor UTF-8 text)",
                              "export the measurement from PSTrace again")
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


# ------------------------------------------------------------------ PSTrace CSV exports
#: Unit tokens of the header row of a PSTrace CSV export: (quantity, factor to SI).  PSTrace
#: writes one (x unit, y unit) pair per curve and nothing else: ``V,µA`` (a voltammogram, i vs
#: E), ``s,µA`` (chronoamperometry, i vs t), ``s,V`` (chronopotentiometry / OCP, E vs t).
#: µ as the micro sign (U+00B5), the Greek mu (U+03BC) or "u".
PSTRACE_UNITS = {
    "s": ("time_s", 1.0), "ms": ("time_s", 1e-3), "min": ("time_s", 60.0), "h": ("time_s", 3600.0),
    "V": ("voltage_V", 1.0), "mV": ("voltage_V", 1e-3), "µV": ("voltage_V", 1e-6),
    "A": ("current_A", 1.0), "mA": ("current_A", 1e-3), "µA": ("current_A", 1e-6),
    "nA": ("current_A", 1e-9), "pA": ("current_A", 1e-12),
    "C": ("charge_C", 1.0), "mC": ("charge_C", 1e-3), "µC": ("charge_C", 1e-6), "nC": ("charge_C", 1e-9),
}


def _unit(tok: str):
    t = tok.strip()
    try:  # UTF-8 bytes decoded as Latin-1 (the format sniffer's view of the file)
        t = t.encode("latin-1").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        pass
    t = t.replace("\u03bc", "\u00b5")  # Greek mu for the micro sign
    if t.startswith("u") and len(t) > 1:
        t = "\u00b5" + t[1:]
    return PSTRACE_UNITS.get(t)


def _split(line: str) -> list[str]:
    """Fields of a PSTrace CSV line; a line quoted whole (``"V,µA"``, as some PSTrace/PStouch
    versions write the header lines) and quoted fields are unquoted."""
    s = line.strip()
    if len(s) >= 2 and s[0] == s[-1] == '"' and s.count('"') == 2:
        s = s[1:-1]
    return [f.strip().strip('"').strip() for f in s.split(",")]


def pstrace_units_row(lines) -> int | None:
    """Index of the units row of a PSTrace CSV export in ``lines``, or None.

    The row is found by content: every field a unit (:data:`PSTRACE_UNITS`), an even number of
    fields (one x/y pair per curve, trailing empty fields allowed), and the next line numeric.
    The preamble PSTrace writes above it (``Date and time:``, ``Notes:``, curve titles, ``Date
    and time measurement:``) is not needed: a file that starts with a bare ``V,µA`` header is
    recognised as well.
    """
    for k, ln in enumerate(lines[:40]):
        f = _split(ln.replace("\ufeff", ""))
        while f and f[-1] == "":
            f.pop()
        if len(f) < 2 or len(f) % 2 or not all(_unit(x) for x in f):
            continue
        # the next line that is not blank (files whose line ends were doubled on the way,
        # "\r\n" become "\n\n", have a blank line after every row)
        j = next((j for j in range(k + 1, min(k + 4, len(lines))) if lines[j].strip()), None)
        nxt = _split(lines[j].replace("\ufeff", "")) if j is not None else []
        try:
            float(nxt[0])
            float(nxt[1])
        except (IndexError, ValueError):
            continue
        return k
    return None


def read_pstrace_csv(path) -> pd.DataFrame:
    """Read the curves of a PalmSens PSTrace CSV export (UTF-16 or UTF-8).

    Layout (PSTrace 5 "Export to CSV"; PSTrace writes it as UTF-16 LE with a byte-order mark,
    and a last line holding only a second byte-order mark)::

        Date and time:,2025-01-01 12:00:00
        Notes:
        ,,,
        Cyclic Voltammetry: CV i vs E Scan 1,,Cyclic Voltammetry: CV i vs E Scan 2,
        Date and time measurement:,2025-01-01 12:00:01,Date and time measurement:,...
        V,µA,V,µA
        -0.400,0.10,-0.400,0.11
        ...

    one (x, y) column pair per curve, the units row naming only units (no "Potential" /
    "Current" names), shorter curves padded with empty fields.  The preamble is optional; the
    table ends at the first row that is not numeric (PSTrace appends further measurements, e.g.
    an impedance block, below); blank lines inside it are skipped (a file whose ``\r\n`` line
    ends were turned into ``\n\n`` on its way, as in the datalab copy of a real export, has one
    after every row).  Format source: real PSTrace exports (``tests/data/realdata/palmsens``,
    see its ``MANIFEST.md``).

    Returns
    -------
    pandas.DataFrame
        Long table, one row per point: ``curve`` (0, 1 ...), the x and y of each curve under
        canonical names by their unit (``time_s``, ``voltage_V``, ``current_A``, ``charge_C``,
        scaled to SI; NaN where a curve lacks the quantity).  ``attrs``: ``titles`` (the curve
        titles where the preamble gives them), ``units`` (the units row), ``start_times``,
        ``format`` = ``"palmsens-csv"``, ``path``, ``sha256``.

    Raises
    ------
    FileFormatError
        No units row, a curve without data, or non-numeric fields inside the table.
    """
    from ssbscope.echem.io.common import check_file

    p = check_file(path)
    raw = p.read_bytes()
    text = _unicode_text(raw)
    if text is None:
        text = raw.decode("latin-1")
    lines = text.replace("\ufeff", "").splitlines()
    k = pstrace_units_row(lines)
    if k is None:
        raise FileFormatError(p, "is not a PalmSens PSTrace CSV export (no row of units such as "
                              "'V,µA' followed by numbers)", "export the curves from PSTrace as CSV")
    units = _split(lines[k])
    while units and units[-1] == "":
        units.pop()
    n_curves = len(units) // 2
    titles, starts = [""] * n_curves, [""] * n_curves
    for ln in [x for x in lines[max(0, k - 8):k] if x.strip()][-3:]:
        f = _split(ln)
        if f and f[0].lower().startswith("date and time measurement"):
            starts = [(f[2 * c + 1] if 2 * c + 1 < len(f) else "") for c in range(n_curves)]
        elif f and any(f[2 * c] if 2 * c < len(f) else "" for c in range(n_curves)) and \
                not f[0].lower().startswith(("date and time", "notes")):
            titles = [(f[2 * c] if 2 * c < len(f) else "") for c in range(n_curves)]
    cols = [[[] for _ in range(2)] for _ in range(n_curves)]
    table, block_after = [], False
    for r, ln in enumerate(lines[k + 1:]):
        f = _split(ln)
        if not any(f):
            continue  # a blank line (doubled line ends); the table ends at a non-numeric row
        try:
            float(f[0]) if f[0] else None
        except ValueError:
            block_after = True
            break  # the next block (another measurement) starts
        table.append((r, ln, f))
    cut = None
    if table and not block_after:  # the table runs to the file's end: its last row may be cut
        table, cut = _drop_cut_row(table, n_curves, p, text.replace("\ufeff", "").endswith(("\n", "\r")))
    for r, ln, f in table:
        for c in range(n_curves):
            pair = f[2 * c:2 * c + 2] + [""] * 2
            x, y = pair[0], pair[1]
            if x == "" and y == "":
                continue
            try:
                cols[c][0].append(float(x))
                cols[c][1].append(float(y))
            except ValueError:
                raise FileFormatError(p, f"PSTrace CSV row {k + 2 + r} (curve {c}) holds a "
                                      "non-numeric value", "export the curves again from PSTrace") from None
    parts = []
    for c in range(n_curves):
        if not cols[c][0]:
            raise FileFormatError(p, f"PSTrace CSV curve {c} ({titles[c] or units[2 * c] + ',' + units[2 * c + 1]}) "
                                  "has no data rows", "check the export finished")
        d = {"curve": np.full(len(cols[c][0]), c)}
        for j in range(2):
            name, fac = _unit(units[2 * c + j])
            d[name] = np.asarray(cols[c][j]) * fac
        parts.append(pd.DataFrame(d))
    out = pd.concat(parts, ignore_index=True)
    out.attrs.update({"format": "palmsens-csv", "path": str(p.resolve()), "sha256": sha256_file(p),
                      "instrument": "PalmSens", "export": "PSTrace CSV", "titles": titles,
                      "units": units, "start_times": starts})
    if cut:
        out.attrs["warnings"] = [cut]
    return out


def _drop_cut_row(table: list, n_curves: int, path, ends_with_newline: bool) -> tuple[list, str | None]:
    """The PSTrace table without a last row cut mid-field, by the rule of every table reader
    (:func:`~ssbscope.echem.io.common.drop_truncated_last_row`): fewer fields than the units row,
    or (no line end) a last written field that is empty or shorter than in the rows before.
    A curve shorter than the others is padded with empty fields, so the last row is judged on
    the columns up to its last written (x, y) pair."""
    from ssbscope.echem.io.common import drop_truncated_last_row

    n = 2 * n_curves
    f = table[-1][2]
    if len(f) < n:
        width = n
    else:
        used = [c for c in range(n_curves) if f[2 * c] or f[2 * c + 1]]
        width = 2 * (used[-1] + 1) if used else n
    sub = [",".join(t[2][:width]) if len(t[2]) >= width else ",".join(t[2]) for t in table]
    kept, msg = drop_truncated_last_row(sub, ",", path, n_fields=width,
                                        ends_with_newline=ends_with_newline)
    return (table[:len(kept)] if msg else table), msg


def read_pstrace_csv_timeseries(path, *, nan_policy: str = "raise",
                                invert_current: bool = False) -> pd.DataFrame:
    """The potential/current time series of a PSTrace CSV export, for :func:`ssbscope.echem.read`.

    A time series needs time, potential and current on one time axis: an E vs t curve
    (``s,V``) and an i vs t curve (``s,µA``) recorded together (the same time values), or one
    such curve beside a second quantity.  A voltammogram (``V,µA``: i vs E) holds no time: it is
    refused naming its curves, since a time axis cannot be recovered from the export.

    Raises
    ------
    MissingColumnError
        No time, potential or current on a shared time axis.
    """
    from ssbscope.errors import MissingColumnError

    t = read_pstrace_csv(path)
    p = Path(path)
    units = t.attrs["units"]
    desc = "; ".join(f"curve {c}: {t.attrs['titles'][c] or 'untitled'} ({units[2 * c]}, {units[2 * c + 1]})"
                     for c in range(len(units) // 2))
    timed = [c for c in range(len(units) // 2) if _unit(units[2 * c])[0] == "time_s"]
    cols = {}
    for c in timed:
        g = t[t["curve"] == c]
        y = _unit(units[2 * c + 1])[0]
        if "time_s" not in cols:
            cols["time_s"] = g["time_s"].to_numpy()
        elif len(g) != len(cols["time_s"]) or not np.allclose(g["time_s"].to_numpy(), cols["time_s"]):
            continue  # another time axis (a later measurement): not merged
        cols.setdefault(y, g[y].to_numpy())
    missing = [k for k in ("time_s", "voltage_V", "current_A") if k not in cols]
    if missing:
        what = ("no time axis: its curves are plotted against potential (a voltammogram, i vs E)"
                if not timed else f"no {' or '.join(missing)} on its time axis")
        raise MissingColumnError(p, f"PalmSens PSTrace CSV export holds {what} ({desc}), so it is "
                                 "not a time series",
                                 "save the PSTrace session (.pssession), which keeps the time array, "
                                 "and read that; read_pstrace_csv() reads the curves as they are")
    df = pd.DataFrame({k: cols[k] for k in ("time_s", "voltage_V", "current_A")})
    if "charge_C" in cols:
        df["capacity_mAh"] = cols["charge_C"] / 3.6
    meta = {"instrument": "PalmSens", "export": "PSTrace CSV", "technique": t.attrs["titles"][timed[0]],
            "warnings": list(t.attrs.get("warnings", []))}
    return finalize_timeseries(df, p, "palmsens-csv", meta, nan_policy=nan_policy,
                               invert_current=invert_current, sha256=t.attrs["sha256"])
