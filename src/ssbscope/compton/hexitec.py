"""Reader for raw HEXITEC 80 x 80 science streams and hit finding.

Stream layout (little-endian int32 words, as written by the HEXITEC ground-support
equipment; the sample in ``shared/realdata/hexitec/`` is one)::

    0xFE6B                        start-of-frame sync
    t0, t1, t2                    timestamp words (16 bits used each)
    80 x row block:
        row header                bits 0-7 row id, bit 8 raw flag, bits 10-13 buffer id
        8 mask words              which columns follow: pairs (6-bit, 14-bit) for columns
                                  14-19 / 0-13, 34-39 / 20-33, 54-59 / 40-53, 74-79 / 60-73
        one word per set column   pixel value (ADU), in column order
    0xFADE                        end-of-frame sync

In raw mode (raw flag 1) every column is present (7,125 words per frame) and values are
raw ADC samples on a baseline of about 1,000 ADU.  In processed mode the GSE adds the
calibration-table offset (``caloffset + table[r, c]``) to each value.

The calibration table file holds ``caloffset`` then, per row, 20 groups of four values
for columns ``(c + 60, c + 40, c + 20, c)``.

Hits: per-pixel baseline (median over frames) and per-frame common-mode offset are
subtracted, and pixels above ``threshold_sigma`` robust noise sigmas become events.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ssbscope.errors import DataQualityError, FileFormatError, InputError, ParameterError

__all__ = ["HexitecFrames", "read_hexitec_raw", "read_hexitec_caltable", "frames_to_events",
           "SYNC_START", "SYNC_END", "MAX_PIXEL_ADU"]

log = logging.getLogger(__name__)

SYNC_START = 0xFE6B
SYNC_END = 0xFADE
_N = 80
#: Largest pixel value of a stream: the 16-bit data words (the ADC is 14-bit; the real sample
#: spans 901-11,720 ADU).  A negative or larger value (after the calibration-table offsets of
#: processed rows) is a damaged word.
MAX_PIXEL_ADU = 0xFFFF


@dataclass(frozen=True)
class HexitecFrames:
    """Frames read from a raw HEXITEC stream.

    Attributes
    ----------
    frames : (n_frames, 80, 80) int32 ndarray
        Pixel values (ADU) as (frame, row, column); missing (masked-out) pixels are 0.
    present : (n_frames, 80, 80) bool ndarray
        Which pixels the stream carried.
    timestamps : (n_frames,) int64 ndarray
    raw_mode : bool
        All rows flagged raw.
    n_incomplete : int
        Trailing words of an incomplete last frame that were dropped.
    path : str
    n_out_of_range : int
        Pixel values outside the 16-bit word range [0, :data:`MAX_PIXEL_ADU`] dropped by
        ``nan_policy="drop"`` (marked absent, value 0).
    """

    frames: np.ndarray = field(repr=False)
    present: np.ndarray = field(repr=False)
    timestamps: np.ndarray = field(repr=False)
    raw_mode: bool
    n_incomplete: int
    path: str
    n_out_of_range: int = 0


def _mask_columns(words8):
    """Column presence (80,) from the 8 mask words of a row."""
    cols = np.zeros(_N, bool)
    for g in range(4):
        hi6 = int(words8[2 * g]) & 0x3F
        lo14 = int(words8[2 * g + 1]) & 0x3FFF
        base = 20 * g
        for b in range(14):
            cols[base + b] = (lo14 >> b) & 1
        for b in range(6):
            cols[base + 14 + b] = (hi6 >> b) & 1
    return cols


def read_hexitec_raw(path, *, caltable=None, nan_policy: str = "raise") -> HexitecFrames:
    """Read a raw HEXITEC 80 x 80 science stream (int32 words, sync 0xFE6B).

    Parameters
    ----------
    path : str or Path
        The ``.dat`` stream (opened read-only).
    caltable : (int, (80, 80) ndarray), optional
        ``(caloffset, table)`` from :func:`read_hexitec_caltable`, added to values of rows in
        processed mode (raw flag 0), as the ground-support software does.
    nan_policy : {"raise", "drop"}
        Pixel values outside [0, :data:`MAX_PIXEL_ADU`] (damaged words): ``"raise"`` (default,
        strict) refuses the stream naming the count and the first frame, row and column;
        ``"drop"`` marks them absent (``present`` False, value 0, so they make no hit) and
        counts them in ``n_out_of_range``.

    Returns
    -------
    HexitecFrames

    Raises
    ------
    FileFormatError
        Not a HEXITEC stream (no sync word), a corrupt row header, or no complete frame.
    DataQualityError
        Out-of-range pixel values with ``nan_policy="raise"``.
    """
    if nan_policy not in ("raise", "drop"):
        raise ParameterError("nan_policy", nan_policy, "must be 'raise' or 'drop'")
    path = Path(path)
    if not path.is_file():
        raise FileFormatError(path, "no such HEXITEC stream")
    size = path.stat().st_size
    if size % 4:
        raise FileFormatError(path, f"size {size} bytes is not a whole number of int32 words")
    w = np.fromfile(path, dtype="<i4")
    sync = np.flatnonzero((w & 0xFFFF) == SYNC_START)
    if sync.size == 0:
        raise FileFormatError(path, "no 0xFE6B frame sync word", "not a raw HEXITEC science stream")
    frames, present, stamps, rawflags = [], [], [], []
    pos = int(sync[0])
    n_incomplete = 0
    while pos < w.size:
        if (w[pos] & 0xFFFF) != SYNC_START:
            nxt = sync[sync > pos]
            if nxt.size == 0:
                n_incomplete = w.size - pos
                break
            log.warning("%s: %d words skipped before a frame sync", path, int(nxt[0]) - pos)
            pos = int(nxt[0])
            continue
        if pos + 4 > w.size:
            n_incomplete = w.size - pos
            break
        t = w[pos + 1:pos + 4].astype(np.int64) & 0xFFFF
        p = pos + 4
        img = np.zeros((_N, _N), np.int32)
        pres = np.zeros((_N, _N), bool)
        raw_all = True
        ok = True
        for r in range(_N):
            if p + 9 > w.size:
                ok = False
                break
            head = int(w[p])
            row_id = head & 0xFF
            if row_id != r:
                raise FileFormatError(path, f"frame at word {pos}: row header {head:#x} says row "
                                      f"{row_id}, expected {r}", "the stream is corrupt")
            raw = (head >> 8) & 1
            raw_all &= bool(raw)
            cols = _mask_columns(w[p + 1:p + 9])
            k = int(cols.sum())
            p += 9
            if p + k > w.size:
                ok = False
                break
            vals = w[p:p + k]
            if not raw and caltable is not None:
                off, tab = caltable
                vals = vals + off + tab[r, cols]
            img[r, cols] = vals
            pres[r, cols] = True
            p += k
        if not ok or p >= w.size:
            n_incomplete = w.size - pos
            break
        if (w[p] & 0xFFFF) != SYNC_END:
            raise FileFormatError(path, f"frame at word {pos}: end word {int(w[p]) & 0xFFFF:#x} is "
                                  f"not 0xFADE", "the stream is corrupt or not 80 x 80")
        frames.append(img)
        present.append(pres)
        stamps.append((t[0] << 32) | (t[1] << 16) | t[2])
        rawflags.append(raw_all)
        pos = p + 1
    if not frames:
        raise FileFormatError(path, "no complete frame", "the stream is truncated")
    if n_incomplete:
        log.warning("%s: dropped an incomplete last frame (%d words)", path, n_incomplete)
    img, pres = np.stack(frames), np.stack(present)
    bad = pres & ((img < 0) | (img > MAX_PIXEL_ADU))
    n_bad = int(bad.sum())
    if n_bad:
        f, r, c = (int(v) for v in np.argwhere(bad)[0])
        what = (f"{n_bad} pixel value(s) outside 0-{MAX_PIXEL_ADU} ADU (the 16-bit data words; "
                f"smallest {int(img[bad].min())}, largest {int(img[bad].max())}), first in frame {f} "
                f"at row {r}, col {c}")
        if nan_policy == "raise":
            raise DataQualityError(f"{path}: {what}; the stream is damaged - copy it again, or set "
                                   "nan_policy: drop on this input to leave those pixels out (counted "
                                   "in attrs['warnings'])")
        log.warning("%s: dropped %s (nan_policy: drop)", path, what)
        img[bad] = 0
        pres[bad] = False
    return HexitecFrames(frames=img, present=pres,
                         timestamps=np.asarray(stamps, np.int64), raw_mode=bool(all(rawflags)),
                         n_incomplete=int(n_incomplete), path=str(path), n_out_of_range=n_bad)


def read_hexitec_caltable(path):
    """Read a HEXITEC 80 x 80 calibration table: ``(caloffset, table (80, 80) int32)``."""
    path = Path(path)
    if not path.is_file():
        raise FileFormatError(path, "no such calibration table")
    w = np.fromfile(path, dtype="<i4")
    if w.size != 1 + _N * _N:
        raise FileFormatError(path, f"{w.size} int32 words, expected {1 + _N * _N} "
                              "(offset + 80 x 80 table)")
    t = w[1:].reshape(_N, 20, 4)
    tab = np.zeros((_N, _N), np.int32)
    for k, start in enumerate((60, 40, 20, 0)):
        tab[:, start:start + 20] = t[:, :, k]
    return int(w[0]), tab


def frames_to_events(frames, *, threshold_sigma: float = 8.0, threshold_adu: float | None = None,
                     baseline=None, common_mode: bool = True, first_frame: int = 0):
    """Per-frame baseline subtraction, threshold and hit finding.

    Parameters
    ----------
    frames : (n, ny, nx) ndarray or HexitecFrames
        Raw pixel values (ADU).
    threshold_sigma : float
        Hit threshold in robust noise sigmas (1.4826 x MAD over frames) of each pixel.
    threshold_adu : float, optional
        A fixed threshold above baseline instead.
    baseline : (ny, nx) ndarray, optional
        Per-pixel baseline (ADU); default the median over frames (hits are rare).
    common_mode : bool
        Also subtract each frame's median offset (common-mode noise).
    first_frame : int
        Frame number of the first frame in the events.

    Returns
    -------
    events : ndarray of EVENT_DTYPE
        value = pulse height above baseline (ADU), sorted by frame, row, column.
    baseline : (ny, nx) ndarray
    noise_adu : (ny, nx) ndarray
    """
    from ssbscope.compton.events import make_events

    f = frames.frames if isinstance(frames, HexitecFrames) else np.asarray(frames)
    if f.ndim != 3 or f.shape[0] < 1:
        raise InputError(f"frames: must be (n_frames, ny, nx), got shape {f.shape}")
    f = f.astype(np.float64)
    if baseline is None:
        if f.shape[0] < 5:
            raise InputError("frames: need >= 5 frames to estimate the baseline; pass baseline=")
        base = np.median(f, axis=0)
    else:
        base = np.asarray(baseline, dtype=float)
        if base.shape != f.shape[1:]:
            raise InputError(f"baseline: shape {base.shape}, expected {f.shape[1:]}")
    d = f - base
    if common_mode:
        d = d - np.median(d, axis=(1, 2))[:, None, None]
    noise = 1.4826 * np.median(np.abs(d), axis=0) if f.shape[0] >= 5 else np.full(base.shape, np.nan)
    if threshold_adu is not None:
        if not threshold_adu > 0:
            raise ParameterError("threshold_adu", threshold_adu, "must be > 0")
        thr = np.full(base.shape, float(threshold_adu))
    else:
        if not threshold_sigma > 0:
            raise ParameterError("threshold_sigma", threshold_sigma, "must be > 0")
        if not np.all(np.isfinite(noise)):
            raise InputError("frames: too few frames for a noise estimate; pass threshold_adu")
        thr = threshold_sigma * np.maximum(noise, 1.0)
    hit = d > thr[None]
    fi, ri, ci = np.nonzero(hit)
    ev = make_events(fi + first_frame, ri, ci, d[fi, ri, ci].astype(np.float32))
    return ev, base, noise


#: Range of an ADU -> keV gain (keV per ADU) taken as physical.  Lower: the full scale of the
#: 16-bit data words (:data:`MAX_PIXEL_ADU`) must reach 10 keV, the lowest incident energy of
#: Compton imaging (``inputs.compton[].e_incident_kev`` >= 10); a smaller gain records nothing
#: above noise.  Upper: at 1 keV per ADU the 59.54 keV Am-241 calibration line sits 60 ADU from
#: zero and its 0.8 keV FWHM (HEXITEC) is narrower than one ADU - no spectroscopic detector
#: digitises that coarsely, so a larger value is a unit mistake (eV vs keV, ADU per keV).
GAIN_RANGE_KEV_PER_ADU = (10.0 / MAX_PIXEL_ADU, 1.0)
#: Largest |offset| (keV) of ``E = gain * ADU + offset``: the largest incident energy (1000 keV).
MAX_OFFSET_KEV = 1000.0


def check_energy_scale(gain, offset=0.0, *, source="calibration", gain_field="gain_kev_per_adu",
                       offset_field="offset_kev"):
    """Refuse an ADU -> keV calibration ``E = gain * ADU + offset`` no detector has.

    Parameters
    ----------
    gain : float or (ny, nx) array
        keV per ADU; finite and within :data:`GAIN_RANGE_KEV_PER_ADU`.
    offset : float or (ny, nx) array
        keV; finite, ``|offset|`` <= :data:`MAX_OFFSET_KEV`, and some pulse height in
        [0, :data:`MAX_PIXEL_ADU`] must map to a positive energy.
    source : str
        The file or experiment-file entry named in the message.
    gain_field, offset_field : str
        Names of the fields in the message.

    Raises
    ------
    InputError
        Naming the field, the bad value (the count and first pixel for per-pixel arrays) and
        the valid range.
    """
    lo, hi = GAIN_RANGE_KEV_PER_ADU
    g = np.asarray(gain, dtype=float)
    o = np.broadcast_to(np.asarray(offset, dtype=float), g.shape) if g.ndim else np.asarray(offset, float)

    def where(bad):
        if bad.ndim == 0:
            return ""
        k = np.argwhere(bad)[0]
        return f" ({int(bad.sum())} of {bad.size} pixels, first at {tuple(int(v) for v in k)})"

    with np.errstate(invalid="ignore"):
        checks = (
            (gain_field, g, ~np.isfinite(g), "is not finite", "a number"),
            (gain_field, g, np.isfinite(g) & (g <= 0), "is <= 0", f"{lo:.3g} to {hi:g} keV/ADU"),
            (gain_field, g, np.isfinite(g) & (g > 0) & ((g < lo) | (g > hi)),
             "is outside the physical range", f"{lo:.3g} to {hi:g} keV/ADU (HEXITEC: about 0.03)"),
            (offset_field, o, ~np.isfinite(o), "is not finite", "a number"),
            (offset_field, o, np.isfinite(o) & (np.abs(o) > MAX_OFFSET_KEV), "is outside the physical range",
             f"-{MAX_OFFSET_KEV:g} to {MAX_OFFSET_KEV:g} keV"),
            (offset_field, o, np.isfinite(o) & np.isfinite(g) & (o + g * MAX_PIXEL_ADU <= 0),
             "maps every pulse height to a negative energy", "an offset above -gain x 65535 ADU"),
        )
    for name, val, bad, what, want in checks:
        bad = np.asarray(bad)
        if bad.any():
            v = float(val[bad].flat[0]) if val.ndim else float(val)
            raise InputError(f"{source}: {name} = {v:.6g} {what}{where(bad)}; need {want} "
                             "(E_keV = gain x ADU + offset) - check the calibration's units")
