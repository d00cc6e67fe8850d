"""Readers and writers for neutron radiograph series (FITS, TIFF) with timestamps.

Time of each frame, always explicit (``time_source``):

* ``"header"``: a header keyword, ``time_key`` (default ``"TIME_S"``, seconds since the start
  of the experiment); FITS ``DATE-OBS`` (ISO 8601) is used when ``time_key`` is absent and
  ``"DATE-OBS"`` is allowed as the key; for TIFF the keys are read from a JSON
  ImageDescription.  Times from ``DATE-OBS`` are seconds since ``t0`` (the first frame by
  default);
* ``"mtime"``: the file modification time (seconds since ``t0``, default the first file);
* ``"interval"``: ``frame_interval_s`` × frame index (+ ``t0``).

Every header keyword of every frame (FITS cards such as ``TOF``, ``TIMEBIN``, ``N_COUNTS``,
``N_TRIGS``, ``SHUTTER_N`` of MCP/Timepix time-of-flight detectors) is collected into a
per-frame metadata table.  Images are read lazily, one file per dask chunk, so long series
stream; files are opened read-only and never modified.
"""

from __future__ import annotations

import datetime as _dt
import json
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ssbscope.errors import (DataQualityError, FileFormatError, InputError, ParameterError,
                             UnsupportedFormatError, reader_boundary)
from ssbscope.neutron._checks import choice

__all__ = ["RadiographSeries", "read_series", "mask_warnings", "NAN_POLICIES", "read_tof_spectra", "write_fits_series",
           "write_tiff_series", "sha256"]

log = logging.getLogger(__name__)

_FITS_EXT = (".fits", ".fit", ".fts")
_TIFF_EXT = (".tif", ".tiff")
#: what astropy, tifffile and numpy raise on damaged bytes (struct.error from TIFF tag parsing)
_DAMAGE = (OSError, RuntimeError, ValueError, TypeError, KeyError, IndexError, AttributeError,
           EOFError, OverflowError, ZeroDivisionError, MemoryError, __import__("struct").error)


def sha256(path) -> str:
    """SHA-256 of a file (provenance); a FIFO or device is refused before it is opened."""
    from ssbscope.store import sha256_file

    return sha256_file(path)


#: what read_series does with pixels of infinite or negative counts (``nan_policy``)
NAN_POLICIES = ("raise", "mask")


def _bad_pixels(a: np.ndarray) -> tuple[np.ndarray, int, int]:
    """(mask, n_infinite, n_negative) of the pixels no detector count can take.

    NaN is not counted: detectors and their software flag saturated or dead pixels with NaN,
    and the analysis counts such pixels as empty (``empty_pixels``) instead of using them.
    """
    if a.dtype.kind in "fc":
        inf = np.isinf(a)
        with np.errstate(invalid="ignore"):
            neg = (a < 0) & ~inf
    elif a.dtype.kind == "i":
        inf = np.zeros(a.shape, bool)
        neg = a < 0
    else:  # unsigned, bool: neither can occur
        z = np.zeros(a.shape, bool)
        return z, 0, 0
    return inf | neg, int(inf.sum()), int(neg.sum())


def _finite_frame(a: np.ndarray, path, page: int = 0, nan_policy: str = "raise") -> np.ndarray:
    """Apply ``nan_policy`` to a frame: refuse (``"raise"``) or set to NaN (``"mask"``) pixels
    of infinite or negative counts; refuse a frame holding only NaN either way.

    Counts of a radiograph (ADU or detected neutrons, before any dark subtraction) are finite
    and >= 0: an infinite or negative value is a damaged, mis-scaled or already-processed
    frame.  NaN stays: it marks a pixel the detector software flagged (see :func:`_bad_pixels`).
    With ``"mask"`` a signed-integer frame is returned as floating point (NaN needs it).
    """
    bad, n_inf, n_neg = _bad_pixels(a)
    if nan_policy == "mask" and a.dtype.kind == "i":  # every frame of the series as read_series declares
        a = a.astype(np.result_type(a.dtype, np.float32))
    if n_inf or n_neg:
        if nan_policy == "raise":
            what = " and ".join(t for t in (f"{n_inf} pixel(s) with infinite counts" if n_inf else "",
                                            f"{n_neg} pixel(s) with negative counts" if n_neg else "") if t)
            r, c = (int(v) for v in np.argwhere(bad)[0][-2:])
            raise DataQualityError(f"{path}: frame (page {page}) has {what}, first at row {r}, col {c}; "
                                   "counts are finite and >= 0, so the frame is damaged, mis-scaled or "
                                   "already processed - re-export it, remove it from the series, or set "
                                   "nan_policy: mask on this input (such pixels become NaN, with a "
                                   "warning; NaN marks a flagged pixel and is allowed)")
        a = a.astype(np.result_type(a.dtype, np.float32), copy=True)  # NaN needs floating point
        a[bad] = np.nan
    if a.dtype.kind in "fc" and a.size and np.isnan(a).all():
        raise DataQualityError(f"{path}: every pixel is NaN (flagged) or masked: the frame holds no "
                               "counts - re-export it or remove it from the series")
    return a


def _n_bad(a: np.ndarray) -> np.ndarray:
    """Number of pixels ``nan_policy='mask'`` sets to NaN in a frame, as a (1,) array."""
    _, n_inf, n_neg = _bad_pixels(a)
    return np.array([n_inf + n_neg], np.int64)


def mask_warnings(series: "RadiographSeries", counts, *, limit: int = 10) -> list[str]:
    """``attrs["warnings"]`` lines for the pixels masked by ``nan_policy='mask'``.

    Parameters
    ----------
    series : RadiographSeries
    counts : (t,) array of int
        ``series.masked_pixels`` computed (pixels set to NaN per frame).
    limit : int
        Frames named one by one; the rest are summed in one line.

    Returns
    -------
    list of str
        One line per frame with masked pixels (count, frame index, file, page), at most
        ``limit`` plus a summary line; empty when nothing was masked.
    """
    c = np.asarray(counts, np.int64).ravel()
    idx = np.flatnonzero(c)
    out = []
    for k in idx[:limit]:
        f = series.metadata["path"].iloc[k]
        pg = int(series.metadata["page"].iloc[k]) if "page" in series.metadata else 0
        out.append(f"{f}: frame {int(k)} (page {pg}): masked {int(c[k])} pixel(s) with infinite or "
                   "negative counts (set to NaN, nan_policy: mask)")
    if idx.size > limit:
        out.append(f"{series.paths[0] if series.paths else ''}: {idx.size - limit} more frame(s) with "
                   f"{int(c[idx[limit:]].sum())} masked pixel(s) in all (nan_policy: mask); "
                   f"{int(c.sum())} pixel(s) masked in {idx.size} of {c.size} frames")
    return out


@dataclass(frozen=True)
class RadiographSeries:
    """A series of radiographs read from files.

    Attributes
    ----------
    images : (t, y, x) dask array
        Lazy frames (one file per chunk); ``numpy.asarray(series.images)`` loads them.
    time_s : (t,) ndarray
        Frame times (s), strictly increasing.
    metadata : pandas.DataFrame
        One row per frame: ``path``, ``time_s`` and every header keyword.
    paths : tuple of str
    time_source : str
    masked_pixels : (t,) dask array of int64, optional
        Pixels of each frame set to NaN by ``nan_policy="mask"`` (infinite or negative counts;
        zeros with ``"raise"``); compute it with the images (one read of each file) and turn
        it into warnings with :func:`mask_warnings`.
    nan_policy : str
    """

    images: object
    time_s: np.ndarray
    metadata: pd.DataFrame = field(repr=False)
    paths: tuple = field(repr=False)
    time_source: str = "header"
    masked_pixels: object = field(default=None, repr=False)
    nan_policy: str = "raise"

    def load(self) -> np.ndarray:
        """All frames as one numpy array."""
        return np.asarray(self.images)

    def to_xarray(self):
        """``xarray.DataArray`` with dims (time_s, y, x) (lazy)."""
        import xarray as xr

        return xr.DataArray(self.images, dims=("time_s", "y", "x"),
                            coords={"time_s": self.time_s}, name="counts_adu",
                            attrs={"time_source": self.time_source})


def _kind(path: Path) -> str:
    s = path.name.lower()
    if s.endswith(_FITS_EXT):
        return "fits"
    if s.endswith(_TIFF_EXT):
        return "tiff"
    raise UnsupportedFormatError(path, "is neither FITS (.fits/.fit/.fts) nor TIFF (.tif/.tiff)",
                                 "convert it or pass FITS/TIFF files")


def _fits_header(path: Path) -> tuple[dict, tuple, np.dtype]:
    import warnings

    from astropy.io import fits
    from astropy.utils.exceptions import AstropyUserWarning

    try:
        with warnings.catch_warnings(record=True) as caught:
            # astropy warns on non-standard cards; a broken file fails below with a clear error
            warnings.simplefilter("always", AstropyUserWarning)
            hdul = fits.open(path, mode="readonly", memmap=False, lazy_load_hdus=True)
            with hdul:
                hdus = list(hdul)
        cut = [str(w.message) for w in caught if "truncated" in str(w.message)]
        if cut:  # astropy only warns; reading the data would fail later without the file's name
            raise FileFormatError(path, f"is cut short ({cut[0].split('[')[0].strip()})",
                                  "copy the file again (it may still be being written)")
        for hdu in hdus:
            if hdu.header.get("NAXIS", 0) >= 2:
                hdr = hdu.header
                shape = tuple(hdr[f"NAXIS{k}"] for k in range(hdr["NAXIS"], 0, -1))
                bitpix = hdr["BITPIX"]
                dt = {8: np.uint8, 16: np.int16, 32: np.int32, 64: np.int64, -32: np.float32,
                      -64: np.float64}.get(bitpix)
                if dt is None:
                    raise FileFormatError(path, f"BITPIX = {bitpix!r} is not a FITS pixel type "
                                          "(8, 16, 32, 64, -32, -64)", "the header is damaged; copy the file again")
                if bitpix == 16 and hdr.get("BZERO", 0) == 32768:
                    dt = np.uint16
                meta = {k: hdr[k] for k in hdr.keys()
                        if k and k not in ("COMMENT", "HISTORY", "") and not k.startswith("NAXIS")}
                return meta, shape, np.dtype(dt)
    except InputError:
        raise
    except Exception as e:  # noqa: BLE001 - astropy raises OSError, VerifyError, ValueError ... on damaged headers
        why = str(e).splitlines()[0][:160] if str(e) else type(e).__name__
        raise FileFormatError(path, f"cannot be read as FITS ({why})", "check that the file is complete") from None
    raise FileFormatError(path, "holds no image HDU (NAXIS >= 2)", "pass radiograph files")


def _fits_data(path: str) -> np.ndarray:
    import warnings

    from astropy.io import fits
    from astropy.utils.exceptions import AstropyUserWarning

    try:
        with warnings.catch_warnings(), fits.open(path, mode="readonly", memmap=False) as hdul:
            warnings.simplefilter("ignore", AstropyUserWarning)  # the header read refused cut files
            for hdu in hdul:
                if hdu.header.get("NAXIS", 0) >= 2 and hdu.data is not None:
                    a = np.asarray(hdu.data)
                    a = a.astype(a.dtype.newbyteorder("=")) if a.dtype.byteorder not in ("=", "|") else a
                    return a.reshape(a.shape[-2:]) if a.ndim > 2 and a.shape[0] == 1 else a
    except Exception as e:  # noqa: BLE001 - read lazily (a Dask task): astropy's VerifyError too; name the file
        if isinstance(e, InputError):
            raise
        raise FileFormatError(path, f"image data cannot be read ({type(e).__name__}: "
                              f"{str(e).splitlines()[0][:120] if str(e) else ''})",
                              "check that the file is complete; copy it again") from None
    raise FileFormatError(path, "holds no image data")


def _tiff_header(path: Path) -> tuple[dict, tuple, np.dtype, int]:
    import tifffile

    from ssbscope.tiff import open_tiff

    try:
        with open_tiff(path) as tf:
            pages = tf.pages
            if len(pages) == 0:
                raise FileFormatError(path, "is a TIFF file with no image (no pages)",
                                      "check that the file is complete; copy it again")
            p0 = pages[0]
            meta: dict = {}
            desc = p0.description or ""
            if desc.strip().startswith("{"):
                try:
                    meta.update(json.loads(desc))
                except json.JSONDecodeError:
                    meta["ImageDescription"] = desc
            elif desc:
                meta["ImageDescription"] = desc
            dt = p0.tags.get("DateTime")
            if dt is not None:
                meta["DateTime"] = dt.value
            return meta, tuple(p0.shape), np.dtype(p0.dtype), len(pages)
    except FileFormatError:
        raise
    except (tifffile.TiffFileError, *_DAMAGE) as e:
        raise FileFormatError(path, f"cannot be read as TIFF ({type(e).__name__})",
                              "check that the file is complete") from e


def _tiff_data(path: str, page: int) -> np.ndarray:
    import tifffile

    try:
        with tifffile.TiffFile(path) as tf:
            a = tf.pages[page].asarray()
    except (tifffile.TiffFileError, *_DAMAGE) as e:  # read lazily (a Dask task): name the file
        raise FileFormatError(path, f"page {page} cannot be read as TIFF ({type(e).__name__})",
                              "check that the file is complete; copy it again") from None
    return a


def _shaped(a: np.ndarray, shape, path) -> np.ndarray:
    """A frame read lazily must have the shape its header declared (a damaged file may decode
    to another): refused naming the file, not left to fail inside Dask."""
    if tuple(a.shape) != tuple(shape):
        raise FileFormatError(path, f"frame data decode to shape {tuple(a.shape)}, the header "
                              f"declares {tuple(shape)}", "the file is damaged; copy it again")
    return a


def _parse_iso(value, path) -> float:
    try:
        d = _dt.datetime.fromisoformat(str(value).strip().replace("Z", "+00:00"))
    except ValueError as e:
        raise FileFormatError(path, f"DATE-OBS {value!r} is not ISO 8601", "fix the header") from e
    if d.tzinfo is None:
        d = d.replace(tzinfo=_dt.timezone.utc)
    return d.timestamp()


def _damaged(paths, e) -> FileFormatError:
    why = str(e).splitlines()[0][:120] if str(e) else ""
    return FileFormatError(paths if isinstance(paths, (str, os.PathLike)) else list(map(str, paths))[:3],
                           f"cannot be read ({type(e).__name__}{': ' + why if why else ''}); a "
                           "file is damaged, cut short or not in the format its name says",
                           "check the files (copied whole?)")


#: Every failure of a public reader is an ssbscope error naming the file(s) (issue 14).
_reader_boundary = reader_boundary(_DAMAGE, _damaged)


@_reader_boundary
def read_series(paths, *, time_source: str = "header", time_key: str = "TIME_S",
                frame_interval_s: float | None = None, t0: float | None = None,
                sort: bool = True, nan_policy: str = "raise") -> RadiographSeries:
    """Read a FITS or TIFF radiograph series with timestamps (lazily).

    Parameters
    ----------
    paths : path, glob pattern, directory or sequence of paths
        Single-frame FITS files, single-frame TIFFs or multi-page TIFFs (one frame per page).
        A directory reads every FITS/TIFF file in it.
    time_source : {"header", "mtime", "interval"}
        Where the frame times come from (see the module docstring); nothing is guessed.
    time_key : str
        Header keyword holding the time: seconds (``TIME_S``) or ISO 8601 (``DATE-OBS``).
    frame_interval_s : float
        Required with ``time_source="interval"``.
    t0 : float, optional
        Time origin subtracted from absolute times (epoch seconds for ``DATE-OBS`` / mtime;
        default: the first frame's); added to interval times.
    sort : bool
        Sort the files by name (natural numeric order) first.
    nan_policy : {"raise", "mask"}
        Pixels of infinite or negative counts (no detector records them: a damaged,
        mis-scaled or already-processed frame): ``"raise"`` (default, strict) refuses the
        frame with a :class:`DataQualityError` naming the file, page, count and first pixel
        when it is read; ``"mask"`` sets them to NaN (a flagged pixel, which the analysis
        leaves out) and counts them per frame in ``masked_pixels`` (see
        :func:`mask_warnings`).  NaN pixels are flagged pixels and pass either way; a frame
        of NaN only is refused either way.

    Returns
    -------
    RadiographSeries

    Raises
    ------
    FileFormatError
        Unreadable file, missing time keyword, frames of different shapes.
    DataQualityError
        Non-monotonic or duplicate timestamps; (when read) infinite or negative counts with
        ``nan_policy="raise"``.
    """
    import dask
    import dask.array as da

    choice("time_source", time_source, ("header", "mtime", "interval"))
    choice("nan_policy", nan_policy, NAN_POLICIES)
    files = _expand(paths, sort)
    entries = []  # (path, page, meta, shape, dtype)
    for f in files:
        kind = _kind(f)
        if kind == "fits":
            meta, shape, dt = _fits_header(f)
            entries.append((f, 0, meta, shape, dt, kind))
        else:
            meta, shape, dt, n = _tiff_header(f)
            for pg in range(n):
                entries.append((f, pg, meta, shape, dt, kind))
    shapes = {e[3] for e in entries}
    if len(shapes) != 1:
        first = entries[0]
        odd = next(e for e in entries if e[3] != first[3])
        raise FileFormatError(odd[0], f"frame shape {odd[3]} differs from {first[0].name}'s {first[3]}",
                              "read series of one detector region and binning")
    shape = entries[0][3]
    if len(shape) != 2:
        raise FileFormatError(entries[0][0], f"image has shape {shape}; expected a 2-D frame")
    dtype = entries[0][4]
    # times
    if time_source == "interval":
        if frame_interval_s is None or not np.isfinite(frame_interval_s) or frame_interval_s <= 0:
            raise ParameterError("frame_interval_s", frame_interval_s, "is needed (> 0) with "
                                 "time_source='interval'")
        times = (t0 or 0.0) + frame_interval_s * np.arange(len(entries), dtype=float)
    elif time_source == "mtime":
        if any(e[5] == "tiff" and e[1] > 0 for e in entries):
            raise ParameterError("time_source", "mtime", "a multi-page TIFF has one mtime for all pages",
                                 "use time_source='header' or 'interval'")
        abs_t = np.array([os.stat(e[0]).st_mtime for e in entries], dtype=float)
        times = abs_t - (abs_t[0] if t0 is None else t0)
    else:
        times = np.empty(len(entries))
        iso = False
        for k, (f, pg, meta, _, _, kind) in enumerate(entries):
            val = meta.get(time_key)
            if kind == "tiff" and isinstance(val, list):
                val = val[pg] if pg < len(val) else None
            if val is None:
                raise FileFormatError(f, f"has no time keyword {time_key!r} in its header",
                                      "pass time_key=..., time_source='mtime' or "
                                      "time_source='interval' with frame_interval_s")
            if isinstance(val, (int, float, np.integer, np.floating)) and not isinstance(val, bool):
                times[k] = float(val)
            else:
                times[k] = _parse_iso(val, f)
                iso = True
        if iso:
            times = times - (times[0] if t0 is None else t0)
    from ssbscope.neutron.binning import check_times

    try:
        times = check_times(times, len(entries))
    except DataQualityError as e:
        raise DataQualityError(f"{entries[0][0].parent}: {e}") from e
    # lazy images
    chunks, counts = [], []
    out_dtype = np.result_type(dtype, np.float32) if nan_policy == "mask" and dtype.kind == "i" else dtype
    for f, pg, _, _, _, kind in entries:
        if kind == "fits":
            raw = dask.delayed(_shaped, pure=True)(dask.delayed(_fits_data, pure=True)(str(f)), shape, str(f))
        else:
            raw = dask.delayed(_shaped, pure=True)(dask.delayed(_tiff_data, pure=True)(str(f), pg), shape, str(f))
        # the raw frame is one task shared by the image and its count (one read when computed together)
        d = dask.delayed(_finite_frame, pure=True)(raw, str(f), pg, nan_policy)
        chunks.append(da.from_delayed(d, shape=shape, dtype=out_dtype)[None])
        counts.append(da.from_delayed(dask.delayed(_n_bad, pure=True)(raw), shape=(1,), dtype=np.int64)
                      if nan_policy == "mask" else da.zeros(1, dtype=np.int64))
    images = da.concatenate(chunks, axis=0)
    masked = da.concatenate(counts, axis=0)
    rows = []
    for (f, pg, meta, *_), t in zip(entries, times):
        row = {"path": str(f), "page": pg, "time_s": float(t)}
        for k, v in meta.items():
            if isinstance(v, (list, dict)):
                v = json.dumps(v)
            row[k] = v
        rows.append(row)
    md = pd.DataFrame(rows)
    return RadiographSeries(images=images, time_s=times, metadata=md,
                            paths=tuple(str(e[0]) for e in entries), time_source=time_source,
                            masked_pixels=masked, nan_policy=nan_policy)


def _natural_key(p: Path):
    import re

    return [int(s) if s.isdigit() else s.lower() for s in re.split(r"(\d+)", p.name)]


def _expand(paths, sort: bool) -> list[Path]:
    from ssbscope.paths import expand_inputs  # the one expansion every modality shares

    return expand_inputs(paths, exts=_FITS_EXT + _TIFF_EXT, sort=sort, what="FITS/TIFF file")


def read_tof_spectra(path) -> pd.DataFrame:
    """Read an MCP/Timepix ``*_Spectra.txt`` file: columns ``tof_s`` and ``counts``.

    A last row cut mid-field (the file still being written) is dropped, and the warning is
    kept in ``attrs["warnings"]`` (the rule of
    :func:`ssbscope.echem.io.common.drop_truncated_last_row`).

    Raises
    ------
    FileFormatError
        Not two numeric columns, or time of flight not increasing.
    """
    from ssbscope.echem.io.common import drop_truncated_last_row

    p = Path(path)
    if not p.is_file():
        raise FileFormatError(p, "does not exist", "check the path")
    try:
        text = p.read_bytes().decode("latin-1")
    except OSError as e:
        raise FileFormatError(p, f"cannot be read ({e})") from e
    # the rule every table reader shares: a last row cut mid-field (a file still being written)
    # is dropped with a warning, not read as a short or truncated number
    lines = [ln.split("#", 1)[0] for ln in text.splitlines()]
    lines = [ln for ln in lines if ln.strip()]
    warnings: list[str] = []
    if len(lines) > 1:
        lines, msg = drop_truncated_last_row(lines, None, p, n_fields=len(lines[-2].split()),
                                             ends_with_newline=text.endswith(("\n", "\r")))
        if msg:
            warnings.append(msg)
    try:
        arr = np.loadtxt(lines, ndmin=2)
    except ValueError as e:
        raise FileFormatError(p, f"is not a two-column numeric table ({e})") from e
    if arr.shape[1] < 2 or arr.shape[0] == 0:
        raise FileFormatError(p, f"has {arr.shape[1]} column(s); expected time of flight and counts")
    if np.any(np.diff(arr[:, 0]) <= 0):
        raise FileFormatError(p, "time of flight is not increasing")
    df = pd.DataFrame({"tof_s": arr[:, 0], "counts": arr[:, 1]})
    df.attrs["warnings"] = warnings
    return df


def _atomic_write(path: Path, write):
    tmp = path.with_name(path.name + ".part")
    write(tmp)
    os.replace(tmp, path)


def _times_abs(start, time_s):
    if start is None:
        start = _dt.datetime(2000, 1, 1, tzinfo=_dt.timezone.utc)
    return [start + _dt.timedelta(seconds=float(t)) for t in time_s]


def write_fits_series(directory, images, time_s, *, prefix: str = "frame", start=None,
                      exposure_s: float | None = None, extra_header: dict | None = None) -> list[str]:
    """Write frames as single-image FITS files with ``TIME_S``, ``DATE-OBS`` and ``EXPTIME``.

    The file modification time is set to ``start + time_s``.  Writes are atomic.
    """
    from astropy.io import fits

    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    arr = np.asarray(images)
    if arr.ndim != 3:
        raise ParameterError("images", arr.shape, "must be (t, y, x)")
    ts = np.asarray(time_s, dtype=float)
    if ts.shape != (arr.shape[0],):
        raise ParameterError("time_s", ts.shape, f"needs one time per frame ({arr.shape[0]})")
    out = []
    for k, (fr, t, ta) in enumerate(zip(arr, ts, _times_abs(start, ts))):
        hdr = fits.Header()
        hdr["TIME_S"] = (float(t), "s since start of the electrochemical test")
        hdr["DATE-OBS"] = (ta.isoformat(timespec="microseconds").replace("+00:00", ""), "UTC")
        if exposure_s is not None:
            hdr["EXPTIME"] = (float(exposure_s), "exposure, s")
        for key, v in (extra_header or {}).items():
            hdr[key] = v
        p = d / f"{prefix}_{k:05d}.fits"
        _atomic_write(p, lambda q, fr=fr, hdr=hdr: fits.PrimaryHDU(fr, header=hdr).writeto(q, overwrite=True))
        os.utime(p, (ta.timestamp(), ta.timestamp()))
        out.append(str(p))
    return out


def write_tiff_series(directory, images, time_s, *, prefix: str = "frame", start=None,
                      exposure_s: float | None = None) -> list[str]:
    """Write frames as single-page TIFFs with a JSON description ``{"TIME_S", "DATE-OBS", "EXPTIME"}``.

    The file modification time is set to ``start + time_s``.  Writes are atomic.
    """
    import tifffile

    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    arr = np.asarray(images)
    if arr.ndim != 3:
        raise ParameterError("images", arr.shape, "must be (t, y, x)")
    ts = np.asarray(time_s, dtype=float)
    if ts.shape != (arr.shape[0],):
        raise ParameterError("time_s", ts.shape, f"needs one time per frame ({arr.shape[0]})")
    out = []
    for k, (fr, t, ta) in enumerate(zip(arr, ts, _times_abs(start, ts))):
        desc = {"TIME_S": float(t), "DATE-OBS": ta.isoformat(timespec="microseconds").replace("+00:00", "")}
        if exposure_s is not None:
            desc["EXPTIME"] = float(exposure_s)
        p = d / f"{prefix}_{k:05d}.tif"
        _atomic_write(p, lambda q, fr=fr, desc=desc: tifffile.imwrite(q, fr, description=json.dumps(desc),
                                                                      metadata=None))
        os.utime(p, (ta.timestamp(), ta.timestamp()))
        out.append(str(p))
    return out
