"""Writers that put twin potentiostat logs into real instrument file formats.

* :func:`write_mpt` — BioLogic EC-Lab ASCII export (``.mpt``) of a GCPL (galvanostatic cycling
  with potential limitation) run: the ``EC-Lab ASCII FILE`` banner, ``Nb header lines : N``,
  technique name, instrument block, the per-sequence parameter table and the tab-separated
  data table (``mode  ox/red  error  control changes  Ns changes  counter inc.  Ns  time/s
  control/V/mA  Ewe/V  I/mA  dQ/mA.h  (Q-Qo)/mA.h  half cycle ...  cycle number``) with
  EC-Lab's number formats (``%.7E``/``%.15E`` with three-digit exponents), CRLF line ends and
  Latin-1 encoding (``µ``, ``²``), as in the real files of ``../shared/realdata/potentiostat``.
  BioLogic's current sign: ``I/mA`` > 0 is an oxidation at the working electrode.
* :func:`write_peis_mpt` — EC-Lab ASCII export of a PEIS (potentio electrochemical impedance
  spectroscopy) sweep: ``freq/Hz  Re(Z)/Ohm  -Im(Z)/Ohm  |Z|/Ohm  Phase(Z)/deg ...``.
* :func:`write_csv` — ssbscope's generic CSV (the canonical columns, full precision).
* :func:`write_neware_csv` — a Neware BTS-style CSV export (``DataPoint, Cycle Index, Step
  Index, Step Type, Time, Cumulative Time, Current(A), Voltage(V), Capacity(Ah) ...``).

Every writer is deterministic (no clock, no random draw: same input, same bytes) and atomic
(the file appears complete or not at all).
"""

from __future__ import annotations

import math
import os
import re
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

from ssbscope.errors import InputError, MissingColumnError, ParameterError

__all__ = ["write_mpt", "write_peis_mpt", "write_csv", "write_neware_csv", "write_twin"]

_MODE_CODE = {"CC": 1, "CV": 2, "rest": 3}
_EXP2 = re.compile(r"E([+-])(\d\d)(?=[\t\r])")
_EXP3 = re.compile(r"E[+-]\d\d\d")
_DEFAULT_START = "01/15/2024 09:00:00.000"


def _atomic_write(path, data: bytes) -> Path:
    p = Path(os.fspath(path))
    if not p.parent.exists():
        raise ParameterError("path", str(p), "its folder does not exist", "create the folder first")
    fd, tmp = tempfile.mkstemp(prefix=f".{p.name}.", suffix=".tmp", dir=p.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.chmod(tmp, 0o644)  # mkstemp creates 0600; a log file is meant to be read
        os.replace(tmp, p)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    return p


def _check_df(df) -> pd.DataFrame:
    if not isinstance(df, pd.DataFrame):
        raise InputError(f"df: expected a pandas.DataFrame, got {type(df).__name__}")
    need = ["time_s", "voltage_V", "current_A"]
    miss = [c for c in need if c not in df.columns]
    if miss:
        raise MissingColumnError("df", f"missing column(s) {miss}", "pass a twin log (twin.data)")
    if len(df) == 0:
        raise InputError("df: the table is empty; nothing to write")
    for c in need:
        if not np.all(np.isfinite(df[c].to_numpy(dtype=float))):
            raise InputError(f"df['{c}']: NaN/inf values; a twin log has none")
    return df


def _col(df, name, default):
    if name in df.columns:
        return df[name].to_numpy()
    return np.full(len(df), default)


def _e(a, digits: int):
    """A float column with its EC-Lab format (exponent fixed to 3 digits afterwards)."""
    return (f"%.{digits}E", np.asarray(a, dtype=np.float64).tolist())


def _exp3(body: str) -> str:
    """Three-digit exponents as EC-Lab writes them (``1.0E-003``) in a formatted data body."""
    if _EXP3.search(body):  # some exponent already has 3 digits: fix each one separately
        return _EXP2.sub(r"E\g<1>0\g<2>", body)
    return body.replace("E+", "E+0").replace("E-", "E-0")


def _i(a):
    """An integer column."""
    return ("%d", np.asarray(a, dtype=np.int64).tolist())


def _rows(cols, sep: str = "\t") -> list[str]:
    """Format columns ``[(name, (fmt, values)), ...]`` row by row."""
    fmt = sep.join(f for _, (f, _) in cols)
    return [fmt % r for r in zip(*(vals for _, (_, vals) in cols))]


def _hms(seconds: float) -> str:
    h = int(seconds // 3600)
    m = int((seconds - 3600 * h) // 60)
    s = seconds - 3600 * h - 60 * m
    return f"{h}:{m:02d}:{s:07.4f}"


def _table(rows: list[tuple[str, list[str]]]) -> list[str]:
    return [f"{name:<20s}" + "".join(f"{v:<20s}" for v in vals) for name, vals in rows]


def _unit_current(a_ma: float) -> tuple[float, str]:
    a = abs(a_ma)
    if a == 0 or a >= 1.0:
        return a_ma, "mA"
    return a_ma * 1e3, "\u00b5A"


def _irange(max_ma: float) -> str:
    for lim, name in ((0.01, "10 \u00b5A"), (0.1, "100 \u00b5A"), (1.0, "1 mA"), (10.0, "10 mA"),
                      (100.0, "100 mA")):
        if max_ma <= lim:
            return name
    return "1 A"


def _segments(q_instr: np.ndarray, keys: np.ndarray) -> np.ndarray:
    """Charge since the first row of each run of equal ``keys`` (q is cumulative)."""
    start = np.r_[True, keys[1:] != keys[:-1]]
    idx = np.maximum.accumulate(np.where(start, np.arange(keys.size), 0))
    return q_instr - q_instr[idx]


def write_mpt(path, df: pd.DataFrame, *, current_sign: int = 1, area_cm2: float | None = None,
              mass_mg: float | None = None, electrode_material: str = "",
              electrolyte: str = "", comments: str = "ssbscope digital twin",
              acquisition_start: str = _DEFAULT_START,
              device: str = "VMP3 (SN 0001)") -> Path:
    """Write a cycling log as a BioLogic EC-Lab ASCII ``.mpt`` file (GCPL technique).

    Parameters
    ----------
    path : str or path-like
        Output file (its folder must exist); written atomically.
    df : pandas.DataFrame
        ``time_s``, ``voltage_V``, ``current_A`` (> 0 on charge), optionally ``cycle``,
        ``step``, ``mode`` ("CC", "CV", "rest").
    current_sign : {+1, -1}
        ``I/mA = current_sign × 1000 × current_A``: +1 when charge is an oxidation at the
        working electrode (full cell with the cathode as working electrode), −1 when the
        working electrode is the negative one (Li plating on a Cu working electrode).
    area_cm2, mass_mg : float, optional
        Written to the header (``Electrode surface area``, ``Characteristic mass``).
    electrode_material, electrolyte, comments : str
        Header fields.
    acquisition_start : str
        ``Acquisition started on`` (MM/DD/YYYY HH:MM:SS.fff); fixed, so the bytes do not
        depend on the clock.
    device : str

    Returns
    -------
    pathlib.Path

    Notes
    -----
    Columns written: ``mode`` (1 CC, 2 CV, 3 rest), ``ox/red`` (1 when ``I`` > 0), ``error``,
    ``control changes``, ``Ns changes``, ``counter inc.``, ``Ns`` (= ``step``), ``time/s``,
    ``control/V/mA`` (set current in mA, or set voltage in CV), ``Ewe/V``, ``I/mA``,
    ``dQ/mA.h`` (since the start of the sequence), ``(Q-Qo)/mA.h`` (since the start),
    ``half cycle``, ``Q charge/discharge/mA.h``, ``Q discharge/mA.h``, ``Q charge/mA.h``,
    ``cycle number`` (= ``cycle``), ``P/W``.
    """
    df = _check_df(df)
    if current_sign not in (1, -1):
        raise ParameterError("current_sign", current_sign, "must be +1 or -1")
    t = df["time_s"].to_numpy(dtype=float)
    v = df["voltage_V"].to_numpy(dtype=float)
    i_ma = current_sign * 1e3 * df["current_A"].to_numpy(dtype=float) + 0.0  # no "-0" in rests
    n = t.size
    step = _col(df, "step", 0).astype(np.int64)
    cycle = _col(df, "cycle", 0).astype(np.int64)
    mode_s = _col(df, "mode", "CC").astype(object)
    mode = np.array([_MODE_CODE.get(str(m), 1) for m in mode_s], dtype=np.int64)
    oxred = (i_ma > 0).astype(np.int64)
    ch_step = np.r_[1, (step[1:] != step[:-1]).astype(np.int64)]
    ch_step[0] = 0
    ch_ctrl = ch_step.copy()
    cnt = np.r_[0, (cycle[1:] != cycle[:-1]).astype(np.int64)]
    q = np.zeros(n)
    if n > 1:
        q[1:] = np.cumsum(0.5 * (i_ma[1:] + i_ma[:-1]) * np.diff(t)) / 3600.0
    dq = _segments(q, step)
    sgn = np.sign(i_ma)
    # half cycle: counter of sign changes among the rows where current flows
    nz = sgn != 0
    flow_sign = pd.Series(np.where(nz, sgn, np.nan)).ffill().fillna(0).to_numpy()
    hc = np.r_[0, np.cumsum((flow_sign[1:] != flow_sign[:-1]) & (flow_sign[:-1] != 0))]
    qhc = _segments(q, hc)
    qdis = np.where(qhc < 0, -qhc, 0.0)
    qch = np.where(qhc > 0, qhc, 0.0)
    ctrl = np.where(mode == 2, v, np.where(mode == 3, 0.0, i_ma))
    # set current per step: the step's median current (a twin's CC steps are constant)
    step_ids, first = np.unique(step, return_index=True)
    order = np.argsort(first)
    step_ids = step_ids[order]
    for sid in step_ids:
        m = (step == sid) & (mode == 1)
        if m.any():
            ctrl[m] = float(np.round(np.median(i_ma[m]), 9))
    power = v * i_ma * 1e-3 + 0.0

    cols = [
        ("mode", _i(mode)), ("ox/red", _i(oxred)), ("error", _i(np.zeros(n))),
        ("control changes", _i(ch_ctrl)), ("Ns changes", _i(ch_step)),
        ("counter inc.", _i(cnt)), ("Ns", _i(step)),
        ("time/s", _e(t, 15)), ("control/V/mA", _e(ctrl, 7)), ("Ewe/V", _e(v, 7)),
        ("I/mA", _e(i_ma, 7)), ("dQ/mA.h", _e(dq, 7)), ("(Q-Qo)/mA.h", _e(q, 7)),
        ("half cycle", _i(hc)), ("Q charge/discharge/mA.h", _e(qhc, 15)),
        ("Q discharge/mA.h", _e(qdis, 15)), ("Q charge/mA.h", _e(qch, 15)),
        ("cycle number", _e(cycle.astype(float), 15)), ("P/W", _e(power, 7)),
    ]
    header_cols = "\t".join(c for c, _ in cols) + "\t"
    body = _rows(cols)

    # parameter table, one column per sequence (Ns)
    pars: dict[str, list[str]] = {k: [] for k in (
        "Ns", "Set I/C", "Is", "unit Is", "vs.", "N", "I sign", "t1 (h:m:s)", "I Range",
        "Bandwidth", "dE1 (mV)", "dt1 (s)", "EM (V)", "tM (h:m:s)", "Im", "unit Im",
        "E range min (V)", "E range max (V)", "dq", "unit dq", "dtq (s)", "dQM", "unit dQM",
        "dxM", "tR (h:m:s)", "dER/dt (mV/h)", "dER (mV)", "dtR (s)", "EL (V)", "goto Ns'",
        "nc cycles")}
    irange = _irange(float(np.max(np.abs(i_ma))) if n else 1.0)
    dts = float(np.median(np.diff(t))) if n > 1 else 1.0
    for k, sid in enumerate(step_ids):
        m = step == sid
        md = int(np.bincount(mode[m]).argmax())
        dur = float(t[m][-1] - (t[m][0] if k == 0 else t[np.flatnonzero(m)[0] - 1]))
        is_val, is_unit = _unit_current(float(np.median(i_ma[m])) if md == 1 else 0.0)
        em = f"{v[m][-1]:.3f}" if md in (1, 2) else "pass"
        pars["Ns"].append(str(k))
        pars["Set I/C"].append("I")
        pars["Is"].append(f"{abs(is_val):.3f}")
        pars["unit Is"].append(is_unit)
        pars["vs."].append("<None>")
        pars["N"].append("1.00")
        pars["I sign"].append("> 0" if (md != 1 or np.median(i_ma[m]) >= 0) else "< 0")
        pars["t1 (h:m:s)"].append(_hms(dur if md in (1, 3) else 0.0))
        pars["I Range"].append(irange)
        pars["Bandwidth"].append("5")
        pars["dE1 (mV)"].append("0.00" if md == 3 else "10.00")
        pars["dt1 (s)"].append(f"{dts:.4f}")
        pars["EM (V)"].append(em)
        pars["tM (h:m:s)"].append(_hms(dur if md == 2 else 0.0))
        pars["Im"].append("0.000")
        pars["unit Im"].append("mA")
        pars["E range min (V)"].append(f"{min(0.0, float(np.floor(v.min()))):.3f}")
        pars["E range max (V)"].append(f"{max(5.0, float(np.ceil(v.max()))):.3f}")
        pars["dq"].append("0.000")
        pars["unit dq"].append("mA.h")
        pars["dtq (s)"].append("0.0000")
        pars["dQM"].append("0.000")
        pars["unit dQM"].append("mA.h")
        pars["dxM"].append("0.000")
        pars["tR (h:m:s)"].append(_hms(dur if md == 3 else 0.0))
        pars["dER/dt (mV/h)"].append("0.0")
        pars["dER (mV)"].append("0.00")
        pars["dtR (s)"].append(f"{dts:.4f}")
        pars["EL (V)"].append("pass")
        pars["goto Ns'"].append("0")
        pars["nc cycles"].append("0")
    table = _table(list(pars.items()))

    def _f(x, unit):
        return "0.001 " + unit if x is None else f"{x:.4g} {unit}"

    head = [
        "EC-Lab ASCII FILE",
        None,  # Nb header lines
        "",
        "Galvanostatic Cycling with Potential Limitation",
        "",
        "Run on channel : 1 (SN 0001)",
        "User : ",
        "CE vs. WE compliance from -10 V to 10 V",
        "Electrode connection : standard",
        "Potential control : Ewe",
        "Ewe ctrl range : min = -10.00 V, max = 10.00 V",
        "Safety Limits :",
        "\tDo not start on E overload",
        f"Acquisition started on : {acquisition_start}",
        "Loaded Setting File : NONE",
        "Saved on :",
        f"\tFile : {Path(os.fspath(path)).with_suffix('.mpr').name}",
        "\tDirectory : C:\\ssbscope\\twin\\",
        "\tHost : 127.0.0.1",
        f"Device : {device}",
        "Address : USB",
        "EC-Lab for windows v11.50 (software)",
        "Internet server v11.50 (firmware)",
        "Command interpretor v11.50 (firmware)",
        f"Electrode material : {electrode_material}",
        "Initial state : ",
        f"Electrolyte : {electrolyte}",
        f"Comments : {comments}",
        f"Electrode surface area : {_f(area_cm2, 'cm²')}",
        f"Characteristic mass : {_f(None if mass_mg is None else mass_mg * 1e-3, 'g')}",
        "Equivalent Weight : 0.000 g/eq.",
        "Density : 0.000 g/cm3",
        "Cycle Definition : Charge/Discharge alternance",
        *table,
        "",
        header_cols,
    ]
    head[1] = f"Nb header lines : {len(head):<28d}"
    text = "\r\n".join(head) + "\r\n" + _exp3("\r\n".join(body) + "\r\n")
    return _atomic_write(path, text.encode("latin-1"))


def _freq_unit(f: float) -> tuple[float, str]:
    for scale, unit in ((1e6, "MHz"), (1e3, "kHz"), (1.0, "Hz"), (1e-3, "mHz"), (1e-6, "\u00b5Hz")):
        if f >= scale:
            return f / scale, unit
    return f / 1e-6, "\u00b5Hz"


def write_peis_mpt(path, freq_hz, z_real_ohm, z_imag_ohm, *, start_time_s: float = 0.0,
                   e_dc_V: float = 0.0, amplitude_mV: float = 10.0, cycle: int = 1,
                   points_per_decade: int | None = None, area_cm2: float | None = None,
                   comments: str = "ssbscope digital twin",
                   acquisition_start: str = _DEFAULT_START) -> Path:
    """Write an impedance sweep as a BioLogic EC-Lab ASCII ``.mpt`` file (PEIS technique).

    Parameters
    ----------
    path : str or path-like
        Output file; written atomically.
    freq_hz, z_real_ohm, z_imag_ohm : (N,) array_like
        Sweep (any order; written as given) and impedance ``Z' + j Z''`` (``Z'' < 0`` on the
        capacitive arc; the file's ``-Im(Z)/Ohm`` column holds ``−Z''``).
    start_time_s : float
        ``time/s`` of the first frequency; each frequency takes 2 periods + 0.5 s.
    e_dc_V : float
        DC potential written to ``<Ewe>/V``.
    amplitude_mV : float
        Excitation amplitude (``Va (mV)``, ``|Ewe|/V``).
    cycle : int
        ``cycle number`` column.
    points_per_decade : int, optional
        Header ``Nd`` (default: from the frequencies).
    area_cm2 : float, optional
    comments, acquisition_start : str

    Returns
    -------
    pathlib.Path
    """
    f = np.asarray(freq_hz, dtype=float)
    zr = np.asarray(z_real_ohm, dtype=float)
    zi = np.asarray(z_imag_ohm, dtype=float)
    if f.ndim != 1 or f.size == 0 or zr.shape != f.shape or zi.shape != f.shape:
        raise InputError("freq_hz, z_real_ohm, z_imag_ohm: need three 1-D arrays of the same "
                         f"non-zero length (got {f.shape}, {zr.shape}, {zi.shape})")
    if not (np.all(np.isfinite(f)) and np.all(f > 0) and np.all(np.isfinite(zr))
            and np.all(np.isfinite(zi))):
        raise InputError("freq_hz/z: values must be finite and frequencies > 0")
    n = f.size
    w = 2 * np.pi * f
    mag = np.hypot(zr, zi)
    phase = np.degrees(np.arctan2(zi, zr))
    t = start_time_s + np.cumsum(2.0 / f + 0.5) - (2.0 / f[0] + 0.5)
    with np.errstate(divide="ignore", invalid="ignore"):
        cs = np.where(zi != 0, -1.0 / (w * zi), 0.0) * 1e6
        cp = np.where(mag > 0, -zi / (w * mag ** 2), 0.0) * 1e6
    ewe_amp = amplitude_mV * 1e-3
    i_amp = ewe_amp / mag
    yr = zr / mag ** 2
    yi = -zi / mag ** 2
    cols = [
        ("freq/Hz", _e(f, 7)), ("Re(Z)/Ohm", _e(zr, 7)), ("-Im(Z)/Ohm", _e(-zi, 7)),
        ("|Z|/Ohm", _e(mag, 7)), ("Phase(Z)/deg", _e(phase, 7)), ("time/s", _e(t, 15)),
        ("<Ewe>/V", _e(np.full(n, e_dc_V), 7)), ("<I>/mA", _e(np.zeros(n), 7)),
        ("Cs/\u00b5F", _e(cs, 7)), ("Cp/\u00b5F", _e(cp, 7)),
        ("cycle number", _e(np.full(n, float(cycle)), 15)), ("I Range", _i(np.full(n, 41))),
        ("|Ewe|/V", _e(np.full(n, ewe_amp), 7)), ("|I|/A", _e(i_amp, 7)),
        ("Re(Y)/Ohm-1", _e(yr, 7)), ("Im(Y)/Ohm-1", _e(yi, 7)), ("|Y|/Ohm-1", _e(1.0 / mag, 7)),
        ("Phase(Y)/deg", _e(-phase, 7)),
    ]
    header_cols = "\t".join(c for c, _ in cols) + "\t"
    body = _rows(cols)
    fi, ufi = _freq_unit(float(f[0]))
    ff, uff = _freq_unit(float(f[-1]))
    if points_per_decade is None:
        dec = abs(math.log10(f[0] / f[-1])) if n > 1 else 1.0
        points_per_decade = max(1, int(round((n - 1) / dec))) if dec > 0 else 1
    table = _table([
        ("Mode", ["Single sine"]), ("E (V)", [f"{e_dc_V:.4f}"]), ("vs.", ["Eoc"]),
        ("tE (h:m:s)", ["0:00:0.0000"]), ("record", ["0"]), ("dI", ["0.000"]), ("unit dI", ["mA"]),
        ("dt (s)", ["0.000"]), ("fi", [f"{fi:.3f}"]), ("unit fi", [ufi]), ("ff", [f"{ff:.3f}"]),
        ("unit ff", [uff]), ("Nd", [str(points_per_decade)]), ("Points", ["per decade"]),
        ("spacing", ["Logarithmic"]), ("Va (mV)", [f"{amplitude_mV:.1f}"]), ("pw", ["0.10"]),
        ("Na", ["2"]), ("corr", ["0"]), ("E range min (V)", ["-10.000"]),
        ("E range max (V)", ["10.000"]), ("I Range", ["Auto"]), ("Bandwidth", ["7"]),
        ("nc cycles", ["0"]), ("goto Ns'", ["0"]), ("nr cycles", ["0"]), ("inc. cycle", ["0"]),
    ])
    area = "0.001 cm²" if area_cm2 is None else f"{area_cm2:.3f} cm²"
    head = [
        "EC-Lab ASCII FILE", None, "", "Potentio Electrochemical Impedance Spectroscopy", "",
        "Run on channel : 1 (SN 0001)", "User : ", "CE vs. WE compliance from -10 V to 10 V",
        "Electrode connection : standard", "Ewe ctrl range : min = -10.00 V, max = 10.00 V",
        "Safety Limits :", "\tDo not start on E overload",
        f"Acquisition started on : {acquisition_start}", "Saved on :",
        f"\tFile : {Path(os.fspath(path)).with_suffix('.mpr').name}",
        "\tDirectory : C:\\ssbscope\\twin\\", "\tHost : 127.0.0.1", "Device : VMP3 (SN 0001)",
        "Address : USB", "EC-Lab for windows v11.50 (software)",
        "Internet server v11.50 (firmware)", "Command interpretor v11.50 (firmware)",
        "Electrode material : ", "Initial state : ", "Electrolyte : ", f"Comments : {comments}",
        f"Electrode surface area : {area}", "Characteristic mass : 0.001 g",
        "Equivalent Weight : 0.000 g/eq.", "Density : 0.000 g/cm3",
        "Cycle Definition : Charge/Discharge alternance", *table, "", header_cols,
    ]
    head[1] = f"Nb header lines : {len(head):<28d}"
    text = "\r\n".join(head) + "\r\n" + _exp3("\r\n".join(body) + "\r\n")
    return _atomic_write(path, text.encode("latin-1"))


def write_csv(path, df: pd.DataFrame) -> Path:
    """Write a log as ssbscope's generic CSV (``time_s,voltage_V,current_A,cycle,step,mode``).

    Floats are written with 12 significant digits, ``\\n`` line ends, UTF-8; only the
    canonical columns present in ``df`` are written, in canonical order.
    """
    df = _check_df(df)
    cols = [c for c in ("time_s", "voltage_V", "current_A", "cycle", "step", "mode") if c in df.columns]
    text = df[cols].to_csv(index=False, float_format="%.12g", lineterminator="\n")
    return _atomic_write(path, text.encode("utf-8"))


def _neware_hms(s: np.ndarray) -> np.ndarray:
    s = np.rint(s).astype(np.int64)
    h, rem = np.divmod(s, 3600)
    m, sec = np.divmod(rem, 60)
    return np.array(["%02d:%02d:%02d" % x for x in zip(h.tolist(), m.tolist(), sec.tolist())],
                    dtype=object)


def write_neware_csv(path, df: pd.DataFrame, *, mass_mg: float | None = None,
                     start_date: str = "2024-01-15 09:00:00") -> Path:
    """Write a log as a Neware BTS-style CSV export.

    Columns as the BTS client exports them (``DataPoint, Cycle Index, Step Index, Step Type,
    Time, Cumulative Time, Current(A), Voltage(V), Capacity(Ah), Spec. Cap.(mAh/g), Chg.
    Cap.(Ah), ... Date, Power(W) ...``).  Times are whole seconds (``HH:MM:SS``, hours beyond
    24 kept), current 8 decimals (A), voltage 4 decimals (V), as in real exports; rows whose
    rounded time equals the previous row's are dropped (the later row is kept).  Cycle and
    step indices are 1-based, as Neware numbers them.

    Parameters
    ----------
    path : str or path-like
    df : pandas.DataFrame
        Twin log (current > 0 on charge, which is also Neware's sign).
    mass_mg : float, optional
        Active mass for the specific-capacity columns (0 when not given).
    start_date : str
        Date and time of the first row (``YYYY-MM-DD HH:MM:SS``).
    """
    df = _check_df(df)
    t_all = df["time_s"].to_numpy(dtype=float)
    ts = np.rint(t_all)
    keep = np.r_[ts[1:] != ts[:-1], True]
    d = df.loc[keep]
    t = ts[keep]
    v = d["voltage_V"].to_numpy(dtype=float)
    i = d["current_A"].to_numpy(dtype=float)
    step = _col(d, "step", 0).astype(np.int64)
    cycle = _col(d, "cycle", 0).astype(np.int64)
    mode = _col(d, "mode", "CC").astype(object)
    # renumber steps 1.. in order of appearance, cycles 1..
    _, first, inv = np.unique(step, return_index=True, return_inverse=True)
    rank = np.empty_like(first)
    rank[np.argsort(first)] = np.arange(first.size)
    step_idx = rank[inv] + 1
    cyc_idx = cycle - cycle.min() + 1
    stype = []
    for m, cur in zip(mode, i):
        if str(m) == "rest":
            stype.append("Rest")
        elif str(m) == "CV":
            stype.append("CV Chg" if cur >= 0 else "CV DChg")
        else:
            stype.append("CC Chg" if cur >= 0 else "CC DChg")
    stype = np.array(stype, dtype=object)
    start = np.r_[True, step_idx[1:] != step_idx[:-1]]
    sidx = np.maximum.accumulate(np.where(start, np.arange(t.size), 0))
    t_step = t - t[sidx]
    q = np.zeros(t.size)
    if t.size > 1:
        q[1:] = np.cumsum(0.5 * (i[1:] + i[:-1]) * np.diff(t)) / 3600.0  # Ah
    cap = np.abs(q - q[sidx])
    chg = np.where(i >= 0, cap, 0.0)
    dchg = np.where(i < 0, cap, 0.0)
    spec = (lambda a: a * 1e3 / (mass_mg * 1e-3)) if mass_mg else (lambda a: np.zeros_like(a))
    p = v * i
    ecum = np.zeros(t.size)
    if t.size > 1:
        ecum[1:] = np.cumsum(0.5 * (p[1:] + p[:-1]) * np.diff(t)) / 3600.0  # Wh
    e = np.abs(ecum - ecum[sidx])  # energy within the step
    t0 = pd.Timestamp(start_date)
    dates = (t0 + pd.to_timedelta(t, unit="s")).strftime("%Y-%m-%d %H:%M:%S").tolist()
    sp = spec(cap), spec(chg), spec(dchg)
    cols = [
        ("DataPoint", _i(np.arange(1, t.size + 1))),
        ("Cycle Index", _i(cyc_idx)),
        ("Step Index", _i(step_idx)),
        ("Step Type", ("%s", stype.tolist())),
        ("Time", ("%s", _neware_hms(t_step).tolist())),
        ("Cumulative Time", ("%s", _neware_hms(t).tolist())),
        ("Current(A)", ("%.8f", i.tolist())),
        ("Voltage(V)", ("%.4f", v.tolist())),
        ("Capacity(Ah)", ("%.8f", cap.tolist())),
        ("Spec. Cap.(mAh/g)", ("%.2f", sp[0].tolist())),
        ("Chg. Cap.(Ah)", ("%.8f", chg.tolist())),
        ("Chg. Spec. Cap.(mAh/g)", ("%.2f", sp[1].tolist())),
        ("DChg. Cap.(Ah)", ("%.8f", dchg.tolist())),
        ("DChg. Spec. Cap.(mAh/g)", ("%.2f", sp[2].tolist())),
        ("Energy(Wh)", ("%.8f", e.tolist())),
        ("Date", ("%s", dates)),
        ("Power(W)", ("%.8f", p.tolist())),
    ]
    text = ",".join(c for c, _ in cols) + "\n" + "\n".join(_rows(cols, ",")) + "\n"
    return _atomic_write(path, text.encode("utf-8"))


def write_twin(twin, path) -> Path:
    """Write a twin result (any generator's dataclass) to ``path`` by its suffix.

    ``.mpt`` → :func:`write_mpt` (or :func:`write_peis_mpt` for an EIS twin); ``.csv`` →
    :func:`write_csv`; a name ending in ``_neware.csv`` → :func:`write_neware_csv`.
    """
    p = Path(os.fspath(path))
    name = p.name.lower()
    if hasattr(twin, "freq_hz"):
        if not name.endswith(".mpt"):
            raise ParameterError("path", str(p), "an EIS twin is written as .mpt", "use a .mpt name")
        return write_peis_mpt(p, twin.freq_hz, twin.z_real_ohm, twin.z_imag_ohm,
                              start_time_s=0.0 if not np.isfinite(twin.time_s) else twin.time_s,
                              amplitude_mV=twin.amplitude_mV)
    area = getattr(twin, "area_cm2", None)
    mass = getattr(twin, "active_mass_mg", None)
    if name.endswith("_neware.csv"):
        return write_neware_csv(p, twin.data, mass_mg=mass)
    if name.endswith(".csv"):
        return write_csv(p, twin.data)
    if name.endswith(".mpt"):
        return write_mpt(p, twin.data, current_sign=twin.instrument_current_sign,
                         area_cm2=area, mass_mg=mass)
    raise ParameterError("path", str(p), "unknown suffix", "use .mpt, .csv or _neware.csv")
