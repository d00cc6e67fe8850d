"""Impedance text exports of other potentiostats / frequency-response analysers.

Our own parsers (no dependency on impedance.py) for the text formats impedance.py's
``preprocessing.readFile`` knows; each is recognised by its content (:func:`sniff_eis_text`):

=================  ==============================================  ===============================
format             recognised by                                   columns used
=================  ==============================================  ===============================
``zplot``          first line ``ZPLOT2 ASCII`` / ``"ZPlotW Data    Freq(Hz), Z'(a), Z''(b) (1st,
                   File`` / ``"Z60W Data File`` (Scribner ZPlot;   5th, 6th fields); the data
                   Autolab Z60W-style text export)                 follow ``End Comments`` or the
                                                                   ``Freq(Hz)`` header line
``chi``            ``A.C. Impedance`` + ``Freq/Hz, Z'/ohm,         Freq/Hz, Z'/ohm, Z"/ohm
                   Z"/ohm`` header (CH Instruments)
``parstat``        tab header with ``Frequency (Hz)``, ``Zre       rows with a frequency > 0
                   (ohms)``, ``Zim (ohms)`` (Parstat / PMC)         (the DC rows before are dropped)
``powersuite``     header ``Frequency  Zre  Zimg`` (PowerSuite)    the three columns
``versastudio``    ``<Application>`` block naming VersaStudio      ``<SegmentN>`` blocks:
                   (``.par``)                                      ``Definition=`` names the
                                                                   columns; Frequency(Hz), Z Real,
                                                                   Z Imag, Elapsed Time(s), E, I
``pstrace-eis``     a ``freq / Hz`` header row with ``Z' / Ohm``    freq / Hz, Z' / Ohm, Z'' / Ohm
                   and ``Z'' / Ohm`` (PalmSens PSTrace CSV         (sign: below), Idc / uA; one
                   export of an impedance measurement, UTF-16)     spectrum per header row
=================  ==============================================  ===============================

All but PSTrace write the imaginary part signed (capacitive arcs negative), as ssbscope does: it
is kept. PSTrace's ``Z''`` column holds −Im(Z) (positive for a capacitive arc, like its
``neg. Phase``): its sign is taken from the ``neg. Phase / °`` column of the same rows where the
file has one (``attrs["z_imag_sign_from"]``), else from the header (``-Z''`` is −Im(Z); a plain
``Z''`` is PSTrace's −Im(Z) too, as in the real exports).
The same truncated-last-row rule as the other table readers applies
(:func:`~ssbscope.echem.io.common.drop_truncated_last_row`).
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import numpy as np
import pandas as pd

from ssbscope.errors import FileFormatError
from ssbscope.echem.io.common import check_file, drop_truncated_last_row, finalize_eis

__all__ = ["EIS_TEXT_FORMATS", "sniff_eis_text", "read_eis_text"]

EIS_TEXT_FORMATS = ("zplot", "chi", "parstat", "powersuite", "versastudio", "pstrace-eis")

_PSTRACE_EIS_HEADER = re.compile(r"^\ufeff?\s*freq\s*/\s*Hz\s*,.*\bZ'\s*/\s*Ohm\s*,.*Z''\s*/\s*Ohm",
                                 re.I | re.M)


def _text(raw: bytes) -> str:
    from ssbscope.echem.io.common import utf16_text

    text = utf16_text(raw)  # with or without a byte-order mark; an odd trailing byte is dropped
    if text is not None:
        return text
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        return raw.decode("utf-16", errors="replace")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def sniff_eis_text(lines: list[str]) -> str | None:
    """Name of the impedance text format of these first lines, or None."""
    if not lines:
        return None
    first = lines[0].strip().lstrip("\ufeff").strip('"').strip()
    if first.startswith(("ZPLOT2 ASCII", "ZPlotW Data File", "Z60W Data File")):
        return "zplot"
    head = "\n".join(lines[:60])
    if "A.C. Impedance" in head and re.search(r"^Freq/Hz,\s*Z'/ohm", head, re.M):
        return "chi"
    if first.startswith("<Application>") and "VersaStudio" in head:
        return "versastudio"
    h0 = lines[0]
    if "Frequency (Hz)" in h0 and "Zre (ohms)" in h0 and "Zim (ohms)" in h0:
        return "parstat"
    if re.match(r"^\s*Frequency\s*\t\s*Zre\s*\t\s*Zimg\s*$", h0):
        return "powersuite"
    if _PSTRACE_EIS_HEADER.search(head):
        return "pstrace-eis"
    return None


def _pstrace_eis(lines: list[str], p, ends_nl: bool) -> tuple[pd.DataFrame, dict, str | None]:
    """The impedance blocks of a PSTrace CSV export: each a ``freq / Hz,...`` header row, then
    numeric rows (blank lines between them skipped) up to the first row that is not numeric."""
    lines = [ln.replace("\ufeff", "").replace("\ufffd", "") for ln in lines]
    heads = [i for i, ln in enumerate(lines) if _PSTRACE_EIS_HEADER.match(ln)]
    if not heads:
        raise FileFormatError(p, "PSTrace impedance export without a 'freq / Hz, ..., Z' / Ohm, "
                              "Z'' / Ohm' header row", "export the impedance measurement from PSTrace as CSV")
    meta: dict = {"instrument": "PalmSens", "export": "PSTrace CSV"}
    for ln in lines[:heads[0]]:
        f = [x.strip() for x in ln.split(",")]
        if len(f) >= 2 and f[0] in ("Measurement:", "Date and time:", "File date:") and f[1]:
            meta[{"Measurement:": "technique", "Date and time:": "start_time",
                  "File date:": "export_time"}[f[0]]] = f[1][:100]
    blocks, cut, sign_src, starts, declared = [], None, set(), [], []
    prev = 0
    for b, h in enumerate(heads):
        # this block's preamble: its start time and the point count PSTrace states
        start, n_decl = None, None
        for ln in lines[prev:h]:
            f = [x.strip() for x in ln.split(",")]
            if f[0] == "Date and time:" and len(f) > 1:
                start = f[1][:100]
            m = re.match(r"^\s*Fixed at (\d+) freqs", ln)
            if m:
                n_decl = int(m.group(1))
        starts.append(start)
        declared.append(n_decl)
        names = [c.strip() for c in lines[h].split(",")]
        while names and names[-1] == "":
            names.pop()
        low = [n.lower().replace(" ", "") for n in names]

        def col(*cands):
            return next((low.index(c) for c in cands if c in low), None)

        i_f, i_re = col("freq/hz"), col("z'/ohm")
        i_im, neg_hdr = col("-z''/ohm"), True
        if i_im is None:
            i_im = col("z''/ohm")
        i_ph, i_idc = col("neg.phase/°", "-phase/°"), col("idc/ua")
        end = next((j for j in range(h + 1, len(lines))
                    if j in heads or (lines[j].strip() and not re.match(r"^\s*[-+\d.]", lines[j]))),
                   len(lines))
        body = [ln for ln in lines[h + 1:end] if ln.strip()]
        # fields of the header as written (PSTrace ends every row with a comma)
        arr, c = _numeric_rows(body, ",", len(names), p, len(lines[h].split(",")),
                               end < len(lines) or ends_nl)
        cut = cut or c
        prev = end
        if n_decl is not None and n_decl > len(arr):
            meta.setdefault("warnings", []).append(
                f"{p}: impedance measurement {b} states {n_decl} frequencies but the file holds "
                f"{len(arr)}: the sweep was stopped or the file was cut")
        zim = arr[:, i_im]
        if i_ph is not None:
            # -phase = -atan2(Im, Re): the column with the phase's sign is -Im(Z)
            ph, ok = arr[:, i_ph], (np.abs(arr[:, i_ph]) > 0.5) & (np.abs(zim) > 0)
            agree = np.mean(np.sign(ph[ok]) == np.sign(zim[ok])) if ok.any() else 1.0
            neg_hdr = bool(agree >= 0.5)
            sign_src.add("neg. Phase column")
        else:
            sign_src.add("header (PSTrace: Z'' is -Im Z)")
        part = pd.DataFrame({"frequency_Hz": arr[:, i_f], "z_real_ohm": arr[:, i_re],
                             "z_imag_ohm": -zim if neg_hdr else zim})
        if i_idc is not None:
            part["current_A"] = arr[:, i_idc] * 1e-6
        part["spectrum"] = b
        blocks.append(part)
    meta["z_imag_sign_from"] = ", ".join(sorted(sign_src))
    meta["start_times"] = starts
    meta["declared_points"] = declared
    return pd.concat(blocks, ignore_index=True), meta, cut


def _numeric_rows(lines: list[str], sep, ncol_min: int, path, n_fields: int, ends_nl: bool):
    """Split data lines into float rows; drop a cut last row (warning); error on bad rows."""
    rows, cut = drop_truncated_last_row(lines, sep, path, n_fields=n_fields, ends_with_newline=ends_nl)
    out = []
    for k, ln in enumerate(rows):
        if not ln.strip():
            continue
        parts = [x.strip().strip('"') for x in (re.split(sep, ln.strip()) if sep else ln.split())]
        if len(parts) < ncol_min:
            raise FileFormatError(path, f"impedance data line {k + 1} has {len(parts)} fields, "
                                  f"fewer than the {ncol_min} needed", "re-export the complete file")
        try:
            out.append([float(x) for x in parts[:ncol_min]])
        except ValueError:
            raise FileFormatError(path, f"impedance data line {k + 1} holds a non-numeric field",
                                  "re-export the file as plain numbers") from None
    if not out:
        raise FileFormatError(path, "holds no impedance data rows", "check the measurement finished")
    return np.array(out, dtype=float), cut


def read_eis_text(path, fmt: str | None = None, raw: bytes | None = None) -> pd.DataFrame:
    """Read a ZPlot/Z60W, CH Instruments, Parstat or PowerSuite impedance text export.

    Parameters
    ----------
    path : path-like
        The file (opened read-only).
    fmt : {"zplot", "chi", "parstat", "powersuite"}, optional
        Default: detected from the content.

    Returns
    -------
    pandas.DataFrame
        ``frequency_Hz``, ``z_real_ohm``, ``z_imag_ohm`` (signed, capacitive < 0), plus
        ``time_s`` (ZPlot, Parstat), ``voltage_V``/``current_A`` (Parstat) where written;
        ``attrs`` as every reader (``format``, ``sha256``, ``instrument``, ``warnings``).

    Raises
    ------
    FileFormatError
        Not one of these formats, no data rows, a malformed data row.
    """
    p = check_file(path)
    if raw is None:
        with open(p, "rb") as fh:
            raw = fh.read()
    sha = hashlib.sha256(raw).hexdigest()
    text = _text(raw)
    ends_nl = text.endswith(("\n", "\r"))
    lines = text.splitlines()
    fmt = fmt or sniff_eis_text(lines)
    meta: dict = {}
    if fmt == "zplot":
        meta["instrument"] = "Scribner ZPlot / Z60W text export"
        start = None
        for i, ln in enumerate(lines):
            if "End Comments" in ln:
                start = i + 1
                break
        if start is None:
            hdr = next((i for i, ln in enumerate(lines) if re.search(r"Freq\s*\(Hz\)", ln)), None)
            if hdr is None:
                raise FileFormatError(p, "ZPlot file without 'End Comments' or a 'Freq(Hz)' header line",
                                      "export the complete .z file from ZPlot/ZView")
            start = hdr + 1
        body = lines[start:]
        first = next((ln for ln in body if ln.strip()), "")
        sep = "\t" if "\t" in first else ","
        n_fields = len(first.strip().split(sep)) if first else 6
        arr, cut = _numeric_rows(body, sep, 6, p, n_fields, ends_nl)
        df = pd.DataFrame({"frequency_Hz": arr[:, 0], "z_real_ohm": arr[:, 4],
                           "z_imag_ohm": arr[:, 5], "time_s": arr[:, 3]})
        # ZPlotW/Z60W write the number of points on the line before the column header
        hdr = next((i for i in range(start - 1, max(start - 3, -1), -1)
                    if re.search(r"Freq\s*\(Hz\)", lines[i])), None)
        if hdr is not None and hdr > 0 and lines[hdr - 1].strip().isdigit():
            declared = int(lines[hdr - 1].strip())
            meta["declared_points"] = declared
            if declared > len(df):
                meta.setdefault("warnings", []).append(
                    f"{p}: the header declares {declared} points but the file holds {len(df)}: "
                    "the sweep was stopped or the file was cut")
    elif fmt == "chi":
        meta["instrument"] = "CH Instruments"
        hdr = next(i for i, ln in enumerate(lines) if ln.startswith("Freq/Hz"))
        m = next((ln.split(":", 1)[1].strip() for ln in lines[:hdr]
                  if ln.startswith("Instrument Model:")), None)
        if m:
            meta["instrument_model"] = m
        n_fields = len(lines[hdr].split(","))
        arr, cut = _numeric_rows(lines[hdr + 1:], ",", 3, p, n_fields, ends_nl)
        df = pd.DataFrame({"frequency_Hz": arr[:, 0], "z_real_ohm": arr[:, 1], "z_imag_ohm": arr[:, 2]})
    elif fmt in ("parstat", "powersuite"):
        meta["instrument"] = "Parstat (PMC)" if fmt == "parstat" else "Solartron PowerSuite"
        header = [c.strip() for c in lines[0].rstrip("\t\r\n ").split("\t")]
        body = [ln.rstrip("\t\r\n ") if fmt == "parstat" else ln for ln in lines[1:]]
        want = (["Frequency (Hz)", "Zre (ohms)", "Zim (ohms)"] if fmt == "parstat"
                else ["Frequency", "Zre", "Zimg"])
        idx = [header.index(w) for w in want]
        arr, cut = _numeric_rows(body, "\t", len(header), p, len(header), ends_nl or fmt == "parstat")
        cols = {"frequency_Hz": arr[:, idx[0]], "z_real_ohm": arr[:, idx[1]], "z_imag_ohm": arr[:, idx[2]]}
        for name, c in (("time_s", "Elapsed Time (s)"), ("voltage_V", "Potential (V)"),
                        ("current_A", "Current (A)")):
            if c in header:
                cols[name] = arr[:, header.index(c)]
        df = pd.DataFrame(cols)
        if fmt == "parstat":
            keep = df["frequency_Hz"].to_numpy() > 0
            if not keep.any():
                raise FileFormatError(p, "Parstat table holds no impedance rows (every frequency is 0)",
                                      "use read() for the time series; read_eis() needs the EIS part")
            meta["dropped_dc_rows"] = int((~keep).sum())
            df = df.loc[keep].reset_index(drop=True)
    elif fmt == "pstrace-eis":
        df, meta, cut = _pstrace_eis(lines, p, ends_nl)
    elif fmt == "versastudio":
        meta["instrument"] = "Princeton Applied Research VersaSTAT (VersaStudio .par)"
        blocks, cut = [], None
        k = 0
        while k < len(lines):
            m = re.match(r"^<Segment(\d+)>\s*$", lines[k].strip())
            if not m:
                k += 1
                continue
            end = next((j for j in range(k + 1, len(lines))
                        if lines[j].strip() == f"</Segment{m.group(1)}>"), len(lines))
            seg = lines[k + 1:end]
            dfn = next((ln for ln in seg if ln.startswith("Definition=")), None)
            if dfn is not None:
                names = [c.strip() for c in dfn.split("=", 1)[1].split(",")]
                rows = [ln for ln in seg if ln.strip() and re.match(r"^[-+\d.]", ln)]
                if rows and "Frequency(Hz)" in names and "Z Real" in names and "Z Imag" in names:
                    arr, c = _numeric_rows(rows, ",", len(names) - 1, p, len(names) - 1,
                                           end < len(lines) or ends_nl)
                    cut = cut or c
                    cols = {"frequency_Hz": arr[:, names.index("Frequency(Hz)")],
                            "z_real_ohm": arr[:, names.index("Z Real")],
                            "z_imag_ohm": arr[:, names.index("Z Imag")]}
                    for name, cn in (("time_s", "Elapsed Time(s)"), ("voltage_V", "E(V)"),
                                     ("current_A", "I(A)")):
                        if cn in names and names.index(cn) < arr.shape[1]:
                            cols[name] = arr[:, names.index(cn)]
                    part = pd.DataFrame(cols)
                    part["spectrum"] = len(blocks)
                    blocks.append(part)
            k = end + 1
        if not blocks:
            raise FileFormatError(p, "VersaStudio file without a segment of impedance data "
                                  "(Frequency(Hz), Z Real, Z Imag)", "export the EIS action's data")
        df = pd.concat(blocks, ignore_index=True)
        df = df.loc[df["frequency_Hz"] > 0].reset_index(drop=True)
    else:
        raise FileFormatError(p, "is not an impedance text export ssbscope recognises",
                              f"impedance text formats read: {list(EIS_TEXT_FORMATS)}")
    if cut:
        meta.setdefault("warnings", []).append(cut)
    return finalize_eis(df, Path(p), fmt, meta, sha256=sha)
