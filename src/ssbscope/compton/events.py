"""Photon events of a pixelated spectroscopic detector: file format, streaming, binning.

Event records
-------------
One record per photon hit, :data:`EVENT_DTYPE` (12 bytes, little-endian)::

    frame  uint32   readout frame index (9 kHz frames in 000_290f30815ae66793)
    row    uint8    detector row (0-79)
    col    uint8    detector column (0-79)
    flags  uint16   reserved (0)
    value  float32  energy (keV) or pulse height (ADU), as the file header says

Events must be sorted by frame (the order a detector produces them); charge-sharing
discrimination looks at the other hits of the same frame.

File format (``.ssbevt``)
-------------------------
``b"SSBEVT\\x00\\x01"`` (8 bytes), ``n_events`` (uint64 LE), ``json_len`` (uint32 LE), a UTF-8
JSON header of ``json_len`` bytes (``{"format": "ssbscope-events", "version": 1, "value_unit":
"keV"|"adu", "n_rows": 80, "n_cols": 80, "frame_rate_hz": ..., "metadata": {...}}``), then
``n_events`` records.  A file whose size differs from header + ``12 n_events`` is refused as
truncated.  Files are written atomically (temporary file, then rename).

Binning
-------
:func:`events_to_cube` histograms events into an ``(n_rows, n_cols, n_bins)`` uint32 cube
with optional per-pixel gain/offset calibration, pixel masking and charge-sharing
discrimination ("discard": hits with a neighbouring hit, or a second hit on the same pixel, in
the same frame are dropped; "add": isolated pairs are summed into the pixel with the larger
signal, larger clusters dropped).

The events are split at frame boundaries into one contiguous part per thread; a numba kernel
(releasing the GIL) bins each part into its own partial cube, and the integer cubes are added:
the result is the same bytes whatever the thread count.  Within a part the kernel works on
blocks of 8192 records (cut at frame boundaries when discriminating; a longer frame is taken
whole) in three passes:

1. keys: every hit's cube index (one multiply for the uniform bins, per-pixel calibration
   when given), or one of three spare counters after the cube (energy out of range; outside
   the pixel range; negative value, the latter two counted for the error messages), and for
   "discard" the hit's cell in a padded (n_rows + 5) x (n_cols + 2) map.  The loop has no
   branches and no stores but its outputs, so LLVM vectorizes it (AVX2/AVX-512 gathers of
   the 12-byte records).  With calibration a short scalar loop first computes
   ``gain * value + offset`` per hit (LLVM cannot vectorize the data-dependent table loads
   beside the stores), and the vectorized loop reads those energies.
2. "discard", one scalar pass in record order: the frame's token (1-255, the next one at
   every new frame; the byte map is cleared only when the token wraps, every 255 frames) is
   compared with the map's bytes around the hit's cell: three unaligned 4-byte loads (rows
   above, at and below the cell, bytes col - 1 .. col + 1) XORed with the token, and an
   exact zero-byte test ``(x - 0x010101) & ~x & 0x808080`` (8-connectivity; the middle byte
   of the outer rows only for 4-connectivity).  A hit that finds a stamped byte (a
   neighbour, or a second hit on its own pixel) is rejected, and so is every earlier hit of
   the frame in its window, found through an owner map (block index of the last hit that
   stamped each cell); then the hit stamps its cell.  This drops exactly the hits that have
   another hit on their pixel or on a neighbouring pixel in the same frame.  Hits outside
   the pixel range or with a negative value all use a dummy cell whose window no real pixel
   reaches: they take no part in the charge-sharing rules (and raise unless
   ``check=False``).
3. scatter: ``cube[key] += 1`` over the block's keys, a short loop that keeps many cache
   misses in flight (the 15 MB cube does not fit in L2).  For "none" the frame-order check
   rides on this latency-bound loop.

Masked pixels take part in the discrimination; their counts are zeroed at the end.  "add"
uses an older two-pass kernel per frame (stamp, then test each hit; a per-pixel record index
finds the partner of the rare hits that have a neighbour).  The kernels are compiled on
first use (a few seconds, once per process; no on-disk cache is relied on).
``benchmarks/bench_events.py`` measures the throughput beside ``numpy.histogramdd`` and
``numpy.bincount``, on uniform energies and on an XCS-twin spectrum.
"""

from __future__ import annotations

import json
import logging
import os
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ssbscope.errors import FileFormatError, InputError, ParameterError

__all__ = [
    "EVENT_DTYPE",
    "MAGIC",
    "EventFileHeader",
    "energy_edges_kev",
    "events_to_cube",
    "invalid_events",
    "iter_event_chunks",
    "make_events",
    "read_event_header",
    "read_events",
    "write_events",
]

log = logging.getLogger(__name__)

EVENT_DTYPE = np.dtype([("frame", "<u4"), ("row", "u1"), ("col", "u1"), ("flags", "<u2"),
                        ("value", "<f4")])
MAGIC = b"SSBEVT\x00\x01"
_PRE = struct.Struct("<8sQI")

_MODES = {"none": 0, "discard": 1, "add": 2}


def make_events(frame, row, col, value, flags=None) -> np.ndarray:
    """Pack columns into an :data:`EVENT_DTYPE` record array (a new array)."""
    frame = np.asarray(frame)
    n = frame.size
    for nm, a in (("row", row), ("col", col), ("value", value)):
        if np.asarray(a).size != n:
            raise InputError(f"{nm}: {np.asarray(a).size} values for {n} frames")
    for nm, a in (("row", row), ("col", col)):
        a = np.asarray(a)
        if a.size and (a.min() < 0 or a.max() > 255):
            raise InputError(f"{nm}: values outside 0-255 cannot be stored in an event record")
    if n and np.asarray(frame).min() < 0:
        raise InputError("frame: negative frame index")
    ev = np.zeros(n, EVENT_DTYPE)
    ev["frame"], ev["row"], ev["col"], ev["value"] = frame, row, col, value
    if flags is not None:
        ev["flags"] = flags
    return ev


@dataclass(frozen=True)
class EventFileHeader:
    """Header of an event file.

    Attributes
    ----------
    n_events : int
    value_unit : {"keV", "adu"}
    n_rows, n_cols : int
    frame_rate_hz : float or None
    metadata : dict
    data_offset : int
        Byte offset of the first record.
    """

    n_events: int
    value_unit: str
    n_rows: int
    n_cols: int
    frame_rate_hz: float | None
    metadata: dict
    data_offset: int


def _header_bytes(n_events, value_unit, n_rows, n_cols, frame_rate_hz, metadata):
    head = {"format": "ssbscope-events", "version": 1, "record": "frame<u4,row u1,col u1,flags<u2,value<f4",
            "value_unit": value_unit, "n_rows": int(n_rows), "n_cols": int(n_cols),
            "frame_rate_hz": None if frame_rate_hz is None else float(frame_rate_hz),
            "metadata": metadata or {}}
    js = json.dumps(head, sort_keys=True).encode()
    js += b" " * ((-(_PRE.size + len(js))) % 16)  # align the records to 16 bytes
    return _PRE.pack(MAGIC, int(n_events), len(js)) + js


def write_events(path, events, *, value_unit: str = "keV", n_rows: int = 80, n_cols: int = 80,
                 frame_rate_hz: float | None = None, metadata: dict | None = None) -> Path:
    """Write events to an ``.ssbevt`` file atomically.

    Parameters
    ----------
    path : str or Path
    events : ndarray of EVENT_DTYPE or iterable of such arrays (chunks, written in order)
    value_unit : {"keV", "adu"}
    n_rows, n_cols : int
        Detector size (80 x 80 HEXITEC).
    frame_rate_hz : float, optional
    metadata : dict, optional
        JSON-serialisable; e.g. the twin's ground truth.

    Returns
    -------
    Path
    """
    if value_unit not in ("keV", "adu"):
        raise ParameterError("value_unit", value_unit, "must be 'keV' or 'adu'")
    path = Path(path)
    chunks = [events] if isinstance(events, np.ndarray) else events
    tmp = path.with_name(path.name + ".part")
    n = 0
    last = -1
    try:
        with open(tmp, "wb") as fh:
            fh.write(_header_bytes(0, value_unit, n_rows, n_cols, frame_rate_hz, metadata))
            for ch in chunks:
                ch = np.asarray(ch)
                if ch.dtype != EVENT_DTYPE:
                    raise InputError(f"events: dtype {ch.dtype} is not EVENT_DTYPE; build them "
                                     "with make_events()")
                if ch.size:
                    fr = ch["frame"]
                    if fr[0] < last or np.any(fr[1:] < fr[:-1]):
                        raise InputError("events: not sorted by frame; sort with "
                                         "np.sort(events, order='frame', kind='stable')")
                    last = int(fr[-1])
                fh.write(ch.tobytes())
                n += ch.size
            fh.seek(0)
            fh.write(_header_bytes(n, value_unit, n_rows, n_cols, frame_rate_hz, metadata))
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return path


def read_event_header(path) -> EventFileHeader:
    """Read and check the header of an event file (size checked against n_events)."""
    path = Path(path)
    if not path.is_file():
        raise FileFormatError(path, "no such event file")
    size = path.stat().st_size
    with open(path, "rb") as fh:
        pre = fh.read(_PRE.size)
        if len(pre) < _PRE.size:
            raise FileFormatError(path, f"only {size} bytes, shorter than the event-file preamble",
                                  "the file is truncated or not an ssbscope event file")
        magic, n, jl = _PRE.unpack(pre)
        if magic != MAGIC:
            raise FileFormatError(path, f"does not start with the event-file magic {MAGIC!r}",
                                  "not an ssbscope event file; for raw HEXITEC streams use read_hexitec_raw")
        js = fh.read(jl)
    if len(js) < jl:
        raise FileFormatError(path, "truncated inside the JSON header")
    try:
        head = json.loads(js.decode())
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise FileFormatError(path, f"JSON header does not parse ({err})") from None
    if not isinstance(head, dict):
        raise FileFormatError(path, f"JSON header is a {type(head).__name__}, not an object",
                              "not an ssbscope event file, or a corrupt one; re-write it")
    for key, lo, hi in (("n_rows", 1, 4096), ("n_cols", 1, 4096)):
        val = head.get(key, 80)
        if isinstance(val, bool) or not isinstance(val, int) or not lo <= val <= hi:
            raise FileFormatError(path, f"header field {key} = {str(val)[:40]!r} is not an integer "
                                  f"in [{lo}, {hi}]", "re-write the file with a valid detector geometry")
    if head.get("value_unit", "keV") not in ("keV", "adu"):
        raise FileFormatError(path, f"header field value_unit = {str(head.get('value_unit'))[:40]!r} "
                              "is not 'keV' or 'adu'", "re-write the file")
    fr = head.get("frame_rate_hz")
    if fr is not None and (isinstance(fr, bool) or not isinstance(fr, (int, float))
                           or not np.isfinite(fr) or fr <= 0):
        raise FileFormatError(path, f"header field frame_rate_hz = {str(fr)[:40]!r} is not a "
                              "positive number", "re-write the file")
    if not isinstance(head.get("metadata", {}), dict):
        raise FileFormatError(path, "header field metadata is not an object", "re-write the file")
    off = _PRE.size + jl
    expect = off + n * EVENT_DTYPE.itemsize
    if size != expect:
        raise FileFormatError(path, f"truncated or padded: {size} bytes, header promises {n} events "
                              f"= {expect} bytes", "re-copy or re-write the file")
    return EventFileHeader(n_events=int(n), value_unit=head.get("value_unit", "keV"),
                           n_rows=int(head.get("n_rows", 80)), n_cols=int(head.get("n_cols", 80)),
                           frame_rate_hz=head.get("frame_rate_hz"), metadata=head.get("metadata", {}),
                           data_offset=off)


def read_events(path) -> tuple[np.ndarray, EventFileHeader]:
    """Memory-map all events of a file (read-only) with its header."""
    h = read_event_header(path)
    if h.n_events == 0:
        return np.zeros(0, EVENT_DTYPE), h
    ev = np.memmap(path, dtype=EVENT_DTYPE, mode="r", offset=h.data_offset, shape=(h.n_events,))
    return ev, h


def iter_event_chunks(path, chunk_events: int = 1 << 22):
    """Yield event chunks of about ``chunk_events`` records, never splitting a frame.

    Memory stays bounded by the chunk size (plus one frame), so files larger than memory can
    be binned: ``sum(events_to_cube(ch) for ch in iter_event_chunks(p))``.
    """
    if chunk_events < 1:
        raise ParameterError("chunk_events", chunk_events, "must be >= 1")
    ev, h = read_events(path)
    n = h.n_events
    start = 0
    while start < n:
        stop = min(start + chunk_events, n)
        if stop < n:
            f = ev["frame"][stop - 1]
            # extend to the end of this frame
            probe = stop
            while probe < n:
                block = np.asarray(ev["frame"][probe:probe + 4096])
                k = int(np.searchsorted(block, f, side="right"))
                probe += k
                if k < block.size:
                    break
            stop = probe
        yield np.array(ev[start:stop])
        start = stop


def energy_edges_kev(e_min_kev: float = 0.0, e_max_kev: float = 120.0, bin_width_kev: float = 0.2):
    """Bin edges (keV) of the default cube: 0.2 keV bins (000_290f30815ae66793)."""
    if not (bin_width_kev > 0) or not (e_max_kev > e_min_kev):
        raise ParameterError("bin_width_kev/e_max_kev", (bin_width_kev, e_max_kev),
                             "need bin_width_kev > 0 and e_max_kev > e_min_kev")
    n = round((e_max_kev - e_min_kev) / bin_width_kev)
    return e_min_kev + bin_width_kev * np.arange(n + 1)


# ----------------------------------------------------------------------------- kernel
_KERNELS = {}

# spare counters after the cube: rejected hits (charge sharing, energy out of range),
# hits outside the pixel range, hits with a negative value
_N_SPARE = 3
# records per block: keys, cells and the maps stay in L1/L2
_BLOCK = 1 << 13


def _kernels():
    """The binning kernels (:mod:`ssbscope.compton._events_kernels`, imported at the first
    call: numba is imported only when events are binned)."""
    if not _KERNELS:
        from ssbscope.compton import _events_kernels as K

        _KERNELS.update(bin_main=K.bin_main, bin_add=K.bin_add)
    return _KERNELS


def _records(events) -> np.ndarray:
    """Events as a C-contiguous EVENT_DTYPE array (no copy when it already is one)."""
    if isinstance(events, np.ndarray) and events.dtype == EVENT_DTYPE:
        return np.ascontiguousarray(events)
    if isinstance(events, np.ndarray) and events.dtype.names:
        need = ("frame", "row", "col", "value")
        missing = [k for k in need if k not in events.dtype.names]
        if missing:
            raise InputError(f"events: missing fields {missing}; use make_events()")
        cols = [events[k] for k in need]
    elif isinstance(events, dict):
        vk = "value" if "value" in events else "energy_kev"
        try:
            cols = [np.asarray(events[k]) for k in ("frame", "row", "col", vk)]
        except KeyError as err:
            raise InputError(f"events: dict lacks key {err}; need frame, row, col, value") from None
    else:
        raise InputError(f"events: expected an EVENT_DTYPE array, a dict of columns or a file path, "
                         f"got {type(events).__name__}")
    fr, ro, co, va = cols
    for nm, a in (("frame", fr), ("row", ro), ("col", co)):
        if np.asarray(a).dtype.kind not in "ui":
            raise InputError(f"events: {nm} must be integers, got {np.asarray(a).dtype}")
    return make_events(fr, ro, co, va)


def events_to_cube(events, *, energy_edges_kev=None, e_min_kev: float = 0.0,
                   e_max_kev: float = 120.0, bin_width_kev: float = 0.2,
                   n_rows: int = 80, n_cols: int = 80, charge_sharing: str = "discard",
                   connectivity: int = 8, gain_kev_per_unit=None, offset_kev=None, pixel_mask=None,
                   n_threads: int | None = None, chunk_events: int = 1 << 23,
                   check: bool = True, invalid: str = "raise", report: dict | None = None) -> np.ndarray:
    """Histogram photon events into a spectral cube.

    Parameters
    ----------
    events : ndarray of EVENT_DTYPE, dict of columns, or str/Path of an ``.ssbevt`` file
        Sorted by frame.  A path is streamed in chunks of ``chunk_events`` whole frames.
        ``value`` is energy (keV), or pulse height when ``gain_kev_per_unit`` is given.
    energy_edges_kev : (n_bins + 1,) ndarray, optional
        Uniform bin edges; default ``e_min_kev`` to ``e_max_kev`` in ``bin_width_kev`` steps
        (0 - 120 keV in 0.2 keV bins, 600 bins).
    n_rows, n_cols : int
        Detector size (80 x 80).
    charge_sharing : {"discard", "add", "none"}
        "discard": drop every hit with a neighbouring hit (or a second hit on its own pixel)
        in the same frame (the paper's charge-sharing discrimination); "add": sum isolated
        two-pixel clusters into the pixel with the larger signal (the earlier record on a tie),
        keep single hits, drop larger clusters; "none": bin every hit.
    connectivity : {4, 8}
        Which neighbours count.
    gain_kev_per_unit, offset_kev : (n_rows, n_cols) ndarray, optional
        Per-pixel calibration ``E = gain * value + offset`` (e.g. from
        :func:`ssbscope.compton.calibrate_pixels`).
    pixel_mask : (n_rows, n_cols) bool ndarray, optional
        True = use the pixel (dead/noisy pixels False).  Masked pixels still take part in
        charge-sharing discrimination.
    n_threads : int, optional
        Parts processed in parallel threads (default: the CPU count); the result does not
        depend on it.
    check : bool
        Raise on unsorted frames, hits outside the pixel range and negative values.
    invalid : {"raise", "drop"}
        Events whose value no detector gives (:func:`invalid_events`: NaN or infinite,
        negative, or above :data:`MAX_EVENT_KEV` keV / :data:`MAX_EVENT_ADU` ADU with a
        calibration): ``"raise"`` (default, strict) refuses them as ``check`` says; ``"drop"``
        removes them before binning, as if they had not been recorded (they take no part in
        the charge-sharing discrimination), and counts them in ``report``.
    report : dict, optional
        Filled with ``n_invalid`` (events dropped), ``n_nonfinite``, ``n_negative``,
        ``n_above_limit``, ``first_invalid_record`` (record index in the input, or None),
        ``limit`` and ``unit``.

    Returns
    -------
    (n_rows, n_cols, n_bins) ndarray of uint32

    Raises
    ------
    InputError
        Unsorted events, hits outside the pixel range, negative or non-finite (NaN, inf)
        energies, energies above :data:`MAX_EVENT_KEV` (pulse heights above
        :data:`MAX_EVENT_ADU` with a calibration) (with ``check``; without, such values go to
        the out-of-range counter).
    FileFormatError
        A truncated or foreign event file.
    """
    if charge_sharing not in _MODES:
        raise ParameterError("charge_sharing", charge_sharing, f"must be one of {sorted(_MODES)}")
    if invalid not in INVALID_POLICIES:
        raise ParameterError("invalid", invalid, f"must be one of {list(INVALID_POLICIES)}")
    if connectivity not in (4, 8):
        raise ParameterError("connectivity", connectivity, "must be 4 or 8")
    if energy_edges_kev is None:
        edges = _default_edges(e_min_kev, e_max_kev, bin_width_kev)
    else:
        edges = np.asarray(energy_edges_kev, dtype=float)
        w = np.diff(edges)
        if edges.ndim != 1 or edges.size < 2 or np.any(w <= 0) or np.ptp(w) > 1e-6 * w.mean():
            raise ParameterError("energy_edges_kev", "array", "must be increasing uniform edges")
    nbins = edges.size - 1
    e_min = float(edges[0])
    inv_w = float(nbins / (edges[-1] - edges[0]))
    npx = n_rows * n_cols
    use_cal = gain_kev_per_unit is not None or offset_kev is not None
    gain = np.ones(npx, np.float32) if gain_kev_per_unit is None else \
        np.ascontiguousarray(np.broadcast_to(np.asarray(gain_kev_per_unit, np.float32), (n_rows, n_cols))).ravel()
    off = np.zeros(npx, np.float32) if offset_kev is None else \
        np.ascontiguousarray(np.broadcast_to(np.asarray(offset_kev, np.float32), (n_rows, n_cols))).ravel()
    if pixel_mask is None:
        pm = np.ones(npx, np.bool_)
    else:
        pm = np.asarray(pixel_mask, bool)
        if pm.shape != (n_rows, n_cols):
            raise InputError(f"pixel_mask: shape {pm.shape}, expected {(n_rows, n_cols)}")
        pm = np.ascontiguousarray(pm).ravel()
    if isinstance(events, (str, os.PathLike)):
        h = read_event_header(events)
        if (h.n_rows, h.n_cols) != (n_rows, n_cols):
            raise InputError(f"{events}: detector {h.n_rows}x{h.n_cols} in the file, "
                             f"{n_rows}x{n_cols} requested")
        if h.value_unit == "adu" and not use_cal:
            raise InputError(f"{events}: values are pulse heights (ADU); pass gain_kev_per_unit "
                             "and offset_kev from calibrate_pixels()")
    if npx * nbins + _N_SPARE > np.iinfo(np.uint32).max:
        raise ParameterError("n_rows/n_cols/energy bins", (n_rows, n_cols, nbins),
                             "the cube must have fewer than 2**32 counters")
    # spare counters at the end collect rejected and invalid hits (branch-free kernels)
    flat = np.zeros(npx * nbins + _N_SPARE, np.uint32)
    partials = []  # per-thread partial cubes, reused over the chunks of a file
    args = (gain, off, use_cal, pm, e_min, inv_w, nbins, charge_sharing, connectivity, n_rows,
            n_cols, n_threads, check)
    lim = (MAX_EVENT_ADU, "ADU") if use_cal else (MAX_EVENT_KEV, "keV")
    tally = {"n_invalid": 0, "n_nonfinite": 0, "n_negative": 0, "n_above_limit": 0,
             "first_invalid_record": None, "limit": float(lim[0]), "unit": lim[1]}

    def valid(ch, source, first):
        if invalid == "drop":
            bad, kinds = invalid_events(ch, limit=lim[0])
            if bad.any():
                if tally["first_invalid_record"] is None:
                    tally["first_invalid_record"] = int(np.flatnonzero(bad)[0]) + int(first)
                tally["n_invalid"] += int(bad.sum())
                for k, v in kinds.items():
                    tally[k] += v
                return np.ascontiguousarray(ch[~bad])
        elif check:
            _check_finite(ch, source, first, limit=lim[0], unit=lim[1])
        return ch

    if isinstance(events, (str, os.PathLike)):
        done = 0
        for ch in iter_event_chunks(events, chunk_events):
            ch = np.ascontiguousarray(ch)
            n_ch = ch.size
            _bin(valid(ch, events, done), *args, flat, partials)
            done += n_ch
    else:
        rec = _records(events)
        _bin(valid(rec, "events", 0), *args, flat, partials)
    if report is not None:
        report.update(tally)
    cube = flat[:npx * nbins].reshape(n_rows, n_cols, nbins)
    if not pm.all():  # masked pixels take part in the discrimination, their counts are dropped
        cube[~pm.reshape(n_rows, n_cols)] = 0
    return cube


_default_edges = energy_edges_kev

#: Largest photon energy (keV) an event may carry: 10 MeV.  The incident beams of Compton
#: imaging are at most ~1000 keV (``inputs.compton[].e_incident_kev``), a CdTe/CdZnTe pixel
#: detector records 4-200 keV (HEXITEC), and even a cosmic-ray muon deposits only ~1.4 MeV in a
#: 2 mm CdTe sensor (~7 MeV/cm at minimum ionisation); a larger value is a damaged record.
MAX_EVENT_KEV = 1.0e4
#: Largest pulse height (ADU) an uncalibrated event may carry: the full scale of the 16-bit
#: words of a HEXITEC stream (its ADC is 14-bit); a larger value is a damaged record.
MAX_EVENT_ADU = 65536.0


#: what events_to_cube does with events whose value no detector gives (``invalid=``)
INVALID_POLICIES = ("raise", "drop")


def invalid_events(ev, *, limit: float = MAX_EVENT_KEV) -> tuple[np.ndarray, dict]:
    """Events whose value (photon energy or pulse height) no detector gives.

    Parameters
    ----------
    ev : ndarray of EVENT_DTYPE
    limit : float
        Largest valid value (:data:`MAX_EVENT_KEV` for keV, :data:`MAX_EVENT_ADU` for ADU).

    Returns
    -------
    bad : (n,) bool ndarray
        NaN or infinite, negative, or above ``limit``.
    counts : dict
        ``n_nonfinite``, ``n_negative``, ``n_above_limit``.
    """
    v = ev["value"]
    nf = ~np.isfinite(v)
    with np.errstate(invalid="ignore"):
        neg = (v < 0) & ~nf
        big = (v > limit) & ~nf
    return nf | neg | big, {"n_nonfinite": int(nf.sum()), "n_negative": int(neg.sum()),
                            "n_above_limit": int(big.sum())}


def _check_finite(ev, source, first_record: int, *, limit: float = MAX_EVENT_KEV,
                  unit: str = "keV") -> None:
    """Refuse events whose value (photon energy or pulse height) is NaN or infinite, or larger
    than ``limit`` (:data:`MAX_EVENT_KEV`, :data:`MAX_EVENT_ADU`): they would otherwise land on
    the out-of-range counter, i.e. be dropped without a word."""
    v = ev["value"]
    bad = ~np.isfinite(v)
    if bad.any():
        i = int(np.flatnonzero(bad)[0]) + int(first_record)
        raise InputError(f"{source}: {int(bad.sum())} event(s) with a non-finite photon energy "
                         f"(NaN or infinite value), first at record {i}; the event data are damaged "
                         "- re-write the file, or drop such events with a recorded count (nan_policy: "
                         "drop on the input; invalid='drop' in events_to_cube)")
    big = v > limit
    if big.any():
        k = np.flatnonzero(big)
        i = int(k[0]) + int(first_record)
        what = "photon energy" if unit == "keV" else "pulse height"
        raise InputError(f"{source}: {k.size} event(s) with a {what} above {limit:g} {unit} "
                         f"(largest {float(v[k].max()):.4g} {unit}), first at record {i}; no X-ray "
                         f"source or pixel detector of Compton imaging gives such values - the event "
                         "data are damaged or the value unit is wrong; re-write the file, or drop such "
                         "events with a recorded count (nan_policy: drop on the input)")


def _bin(ev, gain, off, use_cal, pm, e_min, inv_w, nbins, mode, connectivity, n_rows, n_cols,
         n_threads, check, flat, partials):
    """Add the counts of records ``ev`` to ``flat`` (cube counters + ``_N_SPARE`` spares)."""
    import sys

    k = _kernels()
    n = ev.size
    if n_rows > 255 or n_cols > 255:
        raise ParameterError("n_rows/n_cols", (n_rows, n_cols), "must be <= 255 for event records")
    nthreads = (os.cpu_count() or 1) if n_threads is None else int(n_threads)
    if nthreads < 1:
        raise ParameterError("n_threads", n_threads, "must be >= 1")
    if n == 0:
        return
    if sys.byteorder != "little":  # pragma: no cover - the record views assume little-endian
        raise InputError("events_to_cube needs a little-endian machine")
    fr = ev["frame"]
    # contiguous parts split at frame boundaries, >= 1e6 records each
    nparts = max(1, min(nthreads, n // 1_000_000 + 1))
    splits = np.zeros(nparts + 1, np.int64)
    splits[-1] = n
    for t in range(1, nparts):
        s = (n * t) // nparts
        f = fr[s - 1]
        j = s
        while j < n:  # move forward to the next frame boundary
            blk = np.asarray(fr[j:j + 4096])
            m = int(np.searchsorted(blk, f, side="right")) if blk[0] == f else 0
            j += m
            if m < blk.size:
                break
        splits[t] = min(n, j)
    splits = np.maximum.accumulate(splits)
    while len(partials) < nparts - 1:
        partials.append(np.empty_like(flat))
    cubes = [flat] + partials[:nparts - 1]
    status = np.zeros((nparts, 3), np.int64)
    scal = (bool(use_cal), pm, float(e_min), float(inv_w), int(nbins))
    scal_main = (bool(use_cal), float(e_min), float(inv_w), int(nbins))
    side = (bool(connectivity == 8), int(n_rows), int(n_cols))
    npad = (n_rows + 5) * (n_cols + 2)

    # read-only views whatever the input (a memmap of a file is read-only): one numba
    # specialisation per kernel, compiled once per process
    rec = ev.view(np.uint32)
    vals = ev.view(np.float32)
    rec.flags.writeable = False
    vals.flags.writeable = False

    spare = n_rows * n_cols * nbins

    def work(t):
        a, b = int(splits[t]), int(splits[t + 1])
        cube = cubes[t]
        if t:
            cube[:] = 0  # each worker zeroes its own partial cube
        before = cube[spare + 1:spare + 3].copy()
        nk = _BLOCK
        if mode == "add":
            k["bin_add"](rec, vals, a, b, gain, off, *scal, *side, cube, np.zeros(npad, np.uint8),
                         np.zeros(npad, np.uint8), np.zeros(npad, np.int32),
                         np.empty(nk, np.uint32), status[t])
        else:
            k["bin_main"](rec, vals, a, b, gain, off, *scal_main, mode == "discard", *side, cube,
                          np.zeros(npad + 4, np.uint8),  # + 4: the 4-byte window loads
                          np.zeros(npad, np.uint16 if nk <= 0x10000 else np.uint32),
                          np.empty(nk, np.uint32),
                          np.empty(nk, np.uint32), np.empty(nk if use_cal else 0, np.float32),
                          status[t])
        # hits outside the pixel range / with negative values counted on spare counters
        status[t, 1:] += (cube[spare + 1:spare + 3] - before).astype(np.int64)  # modulo 2**32

    if nparts == 1:
        work(0)
    else:
        # the kernels release the GIL: one thread per part, each with its own partial cube
        from concurrent.futures import ThreadPoolExecutor

        edges = np.linspace(0, flat.size, nparts + 1).astype(np.int64)

        def reduce(t):  # each worker adds the partial cubes over its own slice of the cube
            sl = slice(int(edges[t]), int(edges[t + 1]))
            for c in cubes[1:]:
                np.add(flat[sl], c[sl], out=flat[sl])  # integer sums: same bytes for any order

        with ThreadPoolExecutor(max_workers=nparts) as pool:
            list(pool.map(work, range(nparts)))
            list(pool.map(reduce, range(nparts)))
    status = status.sum(axis=0)
    if check:
        if status[0]:
            raise InputError("events: not sorted by frame; sort with np.sort(events, order='frame', "
                             "kind='stable') (charge-sharing needs whole frames)")
        if status[1]:
            raise InputError(f"events: {status[1]} hits outside the {n_rows}x{n_cols} pixel range; "
                             "check n_rows/n_cols or the row/col columns")
        if status[2]:
            raise InputError(f"events: {status[2]} negative energies/pulse heights; subtract the "
                             "baseline correctly or drop them before binning (nan_policy: drop on the "
                             "input; invalid='drop' in events_to_cube)")
