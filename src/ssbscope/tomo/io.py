"""Reading reconstructed volumes and raw projections (lazily, read-only).

* :func:`read_volume` - a TIFF folder (one slice per file), a multi-page TIFF, or an HDF5
  dataset, as a dask array ``(z, y, x)`` (one chunk per slice for TIFF, the file's chunking
  for HDF5), with the voxel size from the metadata when present.
* :func:`read_projections` - raw projections with flats, darks and angles from Data Exchange
  HDF5 (``/exchange/data``, ``data_white``, ``data_dark``, ``theta``) or NeXus NXtomo
  (``image_key`` 0/1/2 for projection/flat/dark, ``rotation_angle``), following external links
  (files next to the ``.nxs``); or from separate files: a TIFF series, or an HDF5 file holding
  only the projections (format ``hdf5-projections``), with flat and dark TIFF/HDF5 files.

Files are opened read-only; HDF5 files stay open while the returned dask arrays are in use.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ssbscope.errors import (DataQualityError, FileFormatError, InputError, ParameterError,
                             UnsupportedFormatError, reader_boundary)

__all__ = ["VolumeData", "ProjectionData", "read_volume", "read_projections",
           "read_projection_rows", "read_angles_file", "write_dxchange"]

log = logging.getLogger(__name__)

_TIFF_EXT = (".tif", ".tiff")
_H5_EXT = (".h5", ".hdf5", ".hdf", ".nxs", ".nx5", ".cxi")


@dataclass(frozen=True)
class VolumeData:
    """A reconstructed volume, read lazily.

    Attributes
    ----------
    data : (n_z, n_y, n_x) dask.array.Array
        Voxel values in the file's dtype (``data.compute()`` or slicing loads them).
    voxel_size_um : float or None
        Voxel edge (µm) from the file's metadata (or the caller); None when unknown.
    path : str
        File or folder read.
    format : str
        ``"tiff-folder"``, ``"tiff"`` or ``"hdf5"``.
    metadata : dict
        What the reader found (dataset path, TIFF tags, number of files ...).
    """

    data: object
    voxel_size_um: float | None
    path: str
    format: str
    metadata: dict = field(default_factory=dict)

    @property
    def shape(self):
        """``(n_z, n_y, n_x)``."""
        return tuple(self.data.shape)

    def to_xarray(self):
        """``xarray.DataArray`` with dims ``(z, y, x)`` and coordinates in µm when known."""
        import xarray as xr

        coords = {}
        if self.voxel_size_um:
            for dim, n in zip(("z", "y", "x"), self.data.shape):
                coords[f"{dim}_um"] = (dim, np.arange(n) * self.voxel_size_um)
        return xr.DataArray(self.data, dims=("z", "y", "x"), coords=coords,
                            attrs={"voxel_size_um": self.voxel_size_um or np.nan,
                                   "source": self.path})


@dataclass(frozen=True)
class ProjectionData:
    """Raw projections with their flats, darks and angles.

    Attributes
    ----------
    projections : (n_angles, n_rows, n_detector) dask.array.Array
        Sample projections (counts).
    flats, darks : (n_frames, n_rows, n_detector) ndarray
        Open-beam and dark frames (loaded).
    angles_rad : (n_angles,) ndarray
        Rotation angles (rad).
    metadata : dict
        Paths of the datasets used, units, pixel size when present, image_key counts, ...
    path : str
    format : str
        ``"dxchange"``, ``"nxtomo"`` or ``"tiff-series"``.
    """

    projections: object
    flats: np.ndarray
    darks: np.ndarray
    angles_rad: np.ndarray
    metadata: dict
    path: str
    format: str


# ----------------------------------------------------------------------------------------------
# volumes


def _tiff_voxel_size_um(tf) -> float | None:
    """Voxel size from ImageJ metadata (spacing/unit) or the resolution tags."""
    page = tf.pages[0]
    ij = tf.imagej_metadata or {}
    unit = str(ij.get("unit", "")).lower().replace("\\u00b5", "u").replace("µ", "u")
    try:
        xres = page.tags["XResolution"].value
        px_per_unit = xres[0] / xres[1] if isinstance(xres, tuple) else float(xres)
    except (KeyError, ZeroDivisionError, TypeError, IndexError, ValueError):  # absent or damaged tag
        px_per_unit = None
    res_unit = page.tags.get("ResolutionUnit")
    res_unit = int(res_unit.value) if res_unit is not None else 1
    if px_per_unit and px_per_unit > 0:
        size = 1.0 / px_per_unit
        if unit in ("um", "micron", "microns", "micrometer", "micrometre"):
            return size
        if unit == "nm":
            return size * 1e-3
        if unit == "mm":
            return size * 1e3
        if res_unit == 3:  # centimetre
            return size * 1e4
        if res_unit == 2:  # inch: only meaningful if not the 72/96/300 dpi default
            if xres not in ((72, 1), (96, 1), (300, 1), (1, 1)):
                return size * 25400.0
    if "spacing" in ij and unit in ("um", "micron", "microns"):
        return float(ij["spacing"])
    return None


def _read_tiff_page(path, key, shape=None):
    import tifffile

    try:
        a = tifffile.imread(path, key=key)
    except Exception as exc:  # noqa: BLE001 - read lazily (a Dask task): name the file
        raise FileFormatError(path, f"page {key} is not a readable TIFF image "
                              f"({type(exc).__name__})", "check the file (copied whole?)") from None
    if shape is not None and tuple(a.shape) != tuple(shape):
        raise FileFormatError(path, f"page {key} decodes to shape {tuple(a.shape)}, its tags declare "
                              f"{tuple(shape)}", "the file is damaged; copy it again")
    return a


def _read_tiff_file(path, shape=None):
    import tifffile

    try:
        a = tifffile.imread(path)
    except Exception as exc:  # noqa: BLE001 - read lazily (a Dask task): name the file
        raise FileFormatError(path, f"is not a readable TIFF image ({type(exc).__name__})",
                              "check the file (copied whole?)") from None
    if shape is not None and tuple(a.shape) != tuple(shape):
        raise FileFormatError(path, f"holds an image of shape {tuple(a.shape)}; the series' first "
                              f"file has {tuple(shape)}", "give files of one detector region")
    return a


def _natural_key(p: Path):
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", p.name)]


#: what h5py, tifffile and numpy raise on damaged bytes (struct.error from tifffile's tag parsing)
_DAMAGE = (OSError, RuntimeError, ValueError, TypeError, KeyError, IndexError, AttributeError,
           EOFError, OverflowError, ZeroDivisionError, MemoryError, __import__("struct").error)


def _damaged(path, e) -> FileFormatError:
    why = str(e).splitlines()[0][:120] if str(e) else ""
    return FileFormatError(path, f"cannot be read ({type(e).__name__}{': ' + why if why else ''}); "
                           "the file is damaged, cut short or not in the format its name says",
                           "check the file (copied whole?)")


#: Every failure of a public reader is an ssbscope error naming the file (issue 14).
_reader_boundary = reader_boundary(_DAMAGE, _damaged)


class _GuardedH5:
    """An HDF5 dataset whose reads (lazy, in Dask tasks) name the file when its bytes fail."""

    def __init__(self, d, path):
        self._d, self._path = d, path
        self.shape, self.dtype, self.ndim = d.shape, d.dtype, d.ndim

    def __len__(self):
        return self.shape[0]

    def __getitem__(self, key):
        try:
            return self._d[key]
        except _DAMAGE as e:
            raise _damaged(self._path, e) from None


@_reader_boundary
def read_volume(path, *, dataset: str | None = None, pattern: str | None = None,
                voxel_size_um: float | None = None) -> VolumeData:
    """Open a reconstructed volume lazily.

    Parameters
    ----------
    path : str or Path
        A folder of 2-D TIFF slices (sorted by the numbers in their names), a glob pattern of
        slice files (``vol/slice_*.tif``), a multi-page (or 3-D) TIFF, a single 2-D TIFF (a
        one-slice volume), or an HDF5 file.
    dataset : str, optional
        HDF5 dataset path; default: the only 3-D dataset in the file (or ``/exchange/data``,
        ``/entry/data/data``, ``/data``).
    pattern : str, optional
        Glob for the slice files of a folder (default ``*.tif`` and ``*.tiff``).
    voxel_size_um : float, optional
        Overrides the voxel size found in the metadata.

    Returns
    -------
    VolumeData

    Raises
    ------
    FileFormatError
        Missing file, empty folder, slices of different shapes/dtypes, no 3-D dataset.
    UnsupportedFormatError
        A file type that is neither TIFF nor HDF5.
    """
    import dask
    import dask.array as da

    from ssbscope.paths import is_pattern

    p = Path(path)
    if is_pattern(path) and pattern is None and not is_pattern(p.parent):
        p, pattern = p.parent, p.name  # "vol/slice_*.tif": the folder's files matching it
    if not p.exists():
        raise FileFormatError(p, "does not exist", "check the path")
    if voxel_size_um is not None and not (np.isfinite(voxel_size_um) and voxel_size_um > 0):
        raise ParameterError("voxel_size_um", voxel_size_um, "must be finite and > 0")
    if p.is_dir():
        files = []
        pats = [pattern] if pattern else ["*.tif", "*.tiff", "*.TIF", "*.TIFF"]
        for pat in pats:
            files.extend(p.glob(pat))
        files = sorted(set(files), key=_natural_key)
        if not files:
            raise FileFormatError(p, "contains no TIFF slices",
                                  "point to the folder of .tif slices or pass pattern=")
        from ssbscope.tiff import open_tiff

        with open_tiff(files[0]) as tf:
            shape0 = tf.pages[0].shape
            dtype0 = tf.pages[0].dtype
            vs = _tiff_voxel_size_um(tf)
        if len(shape0) != 2:
            raise FileFormatError(files[0], f"slice has shape {shape0}, expected 2-D",
                                  "a folder must hold one 2-D image per file")
        for f in files[1:]:
            with open_tiff(f) as tf:
                if tf.pages[0].shape != shape0 or tf.pages[0].dtype != dtype0:
                    raise FileFormatError(f, f"slice shape {tf.pages[0].shape} / dtype "
                                          f"{tf.pages[0].dtype} differs from {files[0].name} "
                                          f"({shape0} / {dtype0})",
                                          "keep only the slices of one volume in the folder")
        slices = [da.from_delayed(dask.delayed(_read_tiff_file)(str(f), shape0), shape0, dtype0)
                  for f in files]
        data = da.stack(slices, axis=0)
        meta = {"n_files": len(files), "first": files[0].name, "last": files[-1].name}
        return VolumeData(data, voxel_size_um or vs, str(p), "tiff-folder", meta)
    suf = p.suffix.lower()
    if suf in _TIFF_EXT:
        from contextlib import ExitStack

        from ssbscope.tiff import open_tiff

        opened = ExitStack()
        try:
            tf = opened.enter_context(open_tiff(p))
        except InputError:
            raise
        except Exception as exc:  # tifffile raises several types for broken files
            raise FileFormatError(p, f"is not a readable TIFF ({type(exc).__name__})",
                                  "check the file (a TIFF written whole, not cut or empty?)") from None
        with opened:
            if not len(tf.pages) or not tf.series:
                raise FileFormatError(p, "is a TIFF file with no image (no pages)",
                                      "check the file (a TIFF written whole, not cut or empty?)")
            series = tf.series[0]
            shape = tuple(series.shape)
            dtype = series.dtype
            n_pages = len(series.pages)
            if series.axes.endswith("S"):  # interleaved samples (RGB...): a colour picture;
                # separate sample planes (axes 'SYX', tifffile's old default for a (3|4, y, x)
                # array) stay slices, as they were written
                raise FileFormatError(p, f"holds a colour / multi-sample image (axes {series.axes!r}, "
                                      f"shape {shape}); a volume is one grey value per voxel",
                                      "export the slices as greyscale")
            other = [(k, pg.shape) for k, pg in enumerate(tf.pages) if k >= n_pages
                     and not getattr(pg, "is_reduced", False)]
            if other:
                raise FileFormatError(p, f"has {len(tf.pages)} pages but only the first {n_pages} "
                                      f"form one image of slice shape {shape[-2:]} (page {other[0][0]} "
                                      f"has shape {other[0][1]})",
                                      "a volume's slices share one shape; export the volume again")
            vs = _tiff_voxel_size_um(tf)
            ij = tf.imagej_metadata or {}
        if len(shape) == 2:
            shape = (1,) + shape
        if len(shape) != 3:
            raise FileFormatError(p, f"holds an image of shape {shape}; expected (z, y, x)",
                                  "colour or multi-channel TIFFs are not volumes")
        if n_pages == shape[0]:
            pages = [da.from_delayed(dask.delayed(_read_tiff_page)(str(p), i, shape[1:]), shape[1:], dtype)
                     for i in range(shape[0])]
            data = da.stack(pages, axis=0)
        else:  # one page holding a 3-D block: read whole (it fits in one page)
            data = da.from_delayed(dask.delayed(_read_tiff_file)(str(p), shape), shape, dtype)
        meta = {"pages": n_pages, "imagej": dict(ij)}
        return VolumeData(data, voxel_size_um or vs, str(p), "tiff", meta)
    if suf in _H5_EXT:
        import h5py

        try:
            h = h5py.File(p, "r")
        except OSError as exc:
            raise FileFormatError(p, f"is not a readable HDF5 file ({exc})") from exc
        if dataset is None:
            cands = []
            h.visititems(lambda n, o: cands.append(n) if isinstance(o, h5py.Dataset)
                         and o.ndim == 3 else None)
            pref = [c for c in ("exchange/data", "entry/data/data", "data") if c in cands]
            if pref:
                dataset = pref[0]
            elif len(cands) == 1:
                dataset = cands[0]
            else:
                h.close()
                raise FileFormatError(p, f"has {len(cands)} 3-D datasets ({cands[:5]})",
                                      "pass dataset='/path/to/volume'")
        if dataset not in h:
            h.close()
            raise FileFormatError(p, f"has no dataset {dataset!r}")
        d = h[dataset]
        if not isinstance(d, h5py.Dataset) or d.ndim != 3:
            h.close()
            raise FileFormatError(p, f"{dataset!r} is not a 3-D dataset")
        chunks = d.chunks or (1,) + d.shape[1:]
        data = da.from_array(_GuardedH5(d, p), chunks=chunks, lock=True)
        vs = None
        for key in ("voxel_size_um", "pixel_size_um", "element_size_um"):
            if key in d.attrs:
                v = np.atleast_1d(d.attrs[key]).astype(float)
                vs = float(v[-1])
                break
        if vs is None:
            for key in ("voxel_size", "pixel_size"):
                if key in d.attrs:
                    units = str(d.attrs.get("units", d.attrs.get(key + "_units", "um")))
                    scale = {"um": 1.0, "micron": 1.0, "mm": 1e3, "nm": 1e-3, "m": 1e6}.get(
                        units.strip().lower().replace("µ", "u"), None)
                    if scale is not None:
                        vs = float(np.atleast_1d(d.attrs[key]).astype(float)[-1]) * scale
                    break
        meta = {"dataset": dataset, "chunks": chunks, "dtype": str(d.dtype)}
        return VolumeData(data, voxel_size_um or vs, str(p), "hdf5", meta)
    raise UnsupportedFormatError(p, f"suffix {p.suffix!r} is not a volume format ssbscope reads",
                                 "use a TIFF folder, a multi-page TIFF or an HDF5 file")


# ----------------------------------------------------------------------------------------------
# projections


def _angles_to_rad(values, units: str | None, where: str):
    a = np.asarray(values, dtype=np.float64).ravel()
    if not np.all(np.isfinite(a)):
        raise FileFormatError(where, "rotation angles contain NaN/inf")
    u = (units or "").strip().lower()
    if u.startswith("rad"):
        return a
    if u.startswith("deg") or u in ("°",):
        return np.deg2rad(a)
    # unitless: a range beyond 2 pi + a step can only be degrees
    if np.ptp(a) > 2 * np.pi + 0.1:
        log.info("%s: angles without units, range %.1f -> taken as degrees", where, np.ptp(a))
        return np.deg2rad(a)
    log.warning("%s: angles without units and range <= 2 pi -> taken as radians", where)
    return a


#: Length units of a pixel size (``units`` attribute, lower case, "µ"/"μ" read as "u") in µm.
_LENGTH_UM = {"m": 1e6, "meter": 1e6, "meters": 1e6, "metre": 1e6, "metres": 1e6,
              "cm": 1e4, "mm": 1e3, "millimeter": 1e3, "millimeters": 1e3, "millimetre": 1e3,
              "um": 1.0, "micron": 1.0, "microns": 1.0, "micrometer": 1.0, "micrometers": 1.0,
              "micrometre": 1.0, "micrometres": 1.0, "nm": 1e-3, "nanometer": 1e-3,
              "nanometers": 1e-3, "nanometre": 1e-3}


def _length_scale_um(units: str, path, field: str) -> float:
    """µm per unit of a length ``units`` attribute; FileFormatError naming file and field."""
    u = units.strip().replace("\u00b5", "u").replace("\u03bc", "u")
    if u.lower() in _LENGTH_UM:
        return _LENGTH_UM[u.lower()]
    try:  # anything else pint reads as a length (e.g. "angstrom", "1e-6 m")
        from ssbscope.units import _registry

        return float(_registry()(u).to("um").magnitude)
    except Exception:
        raise FileFormatError(path, f"{field}: units attribute {units!r} is not a length unit "
                              "(m, mm, um/µm/micron, nm)",
                              "fix the attribute, or remove it (µm is assumed) and give "
                              "voxel_size_um on the input") from None


def _pixel_size_um(dset, path, field: str) -> float:
    """A detector pixel size (dataset ``field`` of ``path``) in µm, honouring its ``units``."""
    try:
        v = float(np.asarray(dset[()], dtype=np.float64).ravel()[0])
    except (TypeError, ValueError, IndexError) as exc:
        raise FileFormatError(path, f"{field}: not a number ({exc})",
                              "give voxel_size_um on the input") from None
    units = _attr_str(dset.attrs.get("units"))
    scale = 1.0 if units is None or not str(units).strip() else _length_scale_um(str(units), path, field)
    um = v * scale
    if not (np.isfinite(um) and um > 0):
        raise FileFormatError(path, f"{field}: pixel size {v!r} {units or 'um'} is not > 0",
                              "fix the file or give voxel_size_um on the input")
    return um


def _attr_str(v):
    if isinstance(v, bytes):
        return v.decode(errors="replace")
    if isinstance(v, np.ndarray) and v.dtype.kind in "SO" and v.size == 1:
        return _attr_str(v.ravel()[0])
    return str(v) if v is not None else None


@_reader_boundary
def read_projections(path, *, angles_deg=None, data_path: str | None = None,
                     load_fields: bool = True, flats=None, darks=None,
                     angles=None) -> ProjectionData:
    """Read raw projections, flats, darks and rotation angles.

    Two layouts: one HDF5 file holding everything (Data Exchange, NXtomo), or separate files
    as lab CT and several beamlines write them: a TIFF projection series (a folder, a glob
    such as ``proj/*.tif``, or one multi-page TIFF) with ``flats=``, ``darks=`` (TIFF series
    or HDF5 files) and ``angles=`` (a text file). ``flats``/``darks`` given with an HDF5 file
    replace the file's own (flats and darks in separate HDF5 files); given both, the HDF5 file
    may hold the projections only (``data_path``, else its only 3-D dataset; angles from a
    ``rotation_angle``/``theta``/``angles`` dataset as long as the stack, else ``angles=`` or
    ``angles_deg``), as detector writers store them (e.g. Diamond I12:
    ``pcoN_projections.hdf`` beside ``pcoN_flats_00000.hdf`` and ``pcoN_darks_00000.hdf``).

    Parameters (besides those below)
    --------------------------------
    flats, darks : path, glob or sequence, optional
        Open-beam and dark frames: TIFF files (one frame or a multi-page stack each) or HDF5
        files (their ``/exchange/data_white`` / ``data_dark`` / ``data``, or their only 2-D/3-D
        dataset). Required with a TIFF projection series.
    angles : path, optional
        Text file of rotation angles, one per projection (the last number of each line;
        lines without a number are skipped), in degrees unless a header line says ``rad``.
        Otherwise ``angles_deg``.

    Parameters
    ----------
    path : str or Path
        Data Exchange HDF5 (``/exchange/data``, ``data_white``, ``data_dark``, ``theta``) or
        a NeXus NXtomo file (``.nxs``; ``image_key`` 0 = projection, 1 = flat, 2 = dark;
        angles from ``rotation_angle``).  External links are followed (relative to the file).
    angles_deg : array or (start, stop), optional
        Angles to use when the file has none (or its angle dataset is in a missing linked
        file): one value per projection, or ``(start, stop)`` for evenly spaced angles with
        both ends included.  Ignored when the file has readable angles.
    data_path : str, optional
        NXtomo: path of the detector data with a sibling ``image_key`` (default: searched).
    load_fields : bool
        Load the flats and darks (default).  False leaves them as lazy dask arrays like the
        projections, so that only the angles and metadata are read (the streamed
        reconstruction, :mod:`ssbscope.tomo.stream`, reads them per block of rows with
        :func:`read_projection_rows`).

    Returns
    -------
    ProjectionData

    Raises
    ------
    FileFormatError
        Missing datasets, unreadable external link, angle count not matching the
        projections, flats/darks of the wrong shape.
    """
    from ssbscope.paths import is_pattern

    if is_pattern(path) or Path(path).is_dir() or str(path).lower().endswith(_TIFF_EXT):
        return _read_tiff_projections(path, flats=flats, darks=darks, angles=angles,
                                      angles_deg=angles_deg)
    angle_warnings: list[str] = []  # a cut last line of the angles file, dropped
    pdat = _read_projections_h5(path, angles_deg=angles_deg if angles is None else None,
                                data_path=data_path, load_fields=load_fields,
                                angles_override=None if angles is None
                                else read_angles_file(angles, warnings=angle_warnings),
                                separate_fields=flats is not None and darks is not None)
    if angle_warnings:
        pdat.metadata["warnings"] = list(pdat.metadata.get("warnings", [])) + angle_warnings
    if flats is None and darks is None:
        return pdat
    import dataclasses

    n_r, n_d = pdat.projections.shape[1:]
    meta = dict(pdat.metadata)
    new = {}
    for name, spec in (("flats", flats), ("darks", darks)):
        if spec is not None:
            arr, files = _read_field_frames(spec, name, (n_r, n_d))
            new[name] = arr
            meta[f"{name}_files"] = [str(f) for f in files]
    return dataclasses.replace(pdat, metadata=meta, **new)


def _plain_h5_projections(h, p: Path, data_path: str | None):
    """The projection stack of an HDF5 file that holds only projections (flats and darks in
    other files, as detector writers and some beamlines store them): ``data_path``, else the
    file's only 3-D dataset."""
    import h5py

    if data_path is not None:
        key = data_path.lstrip("/")
        try:
            d = h[key]
        except (KeyError, OSError):
            raise FileFormatError(p, f"has no dataset {data_path!r}",
                                  "check data_path (the projection stack inside the file)") from None
        if not isinstance(d, h5py.Dataset) or d.ndim != 3:
            raise FileFormatError(p, f"{data_path} is not a 3-D dataset "
                                  "(n_angles, n_rows, n_detector)")
        return key, d
    found = []
    h.visititems(lambda n, o: found.append(n) if isinstance(o, h5py.Dataset) and o.ndim == 3 else None)
    if len(found) != 1:
        raise FileFormatError(p, f"holds {len(found)} 3-D datasets ({found[:5]}), no /exchange "
                              "and no NXtomo image_key: cannot tell which are the projections",
                              "give data_path (the projection stack inside the file)")
    return found[0], h[found[0]]


def _read_projections_h5(path, *, angles_deg=None, data_path=None, load_fields=True,
                         angles_override=None, separate_fields=False) -> ProjectionData:
    import dask.array as da
    import h5py

    p = Path(path)
    if not p.exists():
        raise FileFormatError(p, "does not exist", "check the path")
    try:
        h = h5py.File(p, "r")
    except OSError as exc:
        raise FileFormatError(p, f"is not a readable HDF5 file ({exc})") from exc

    def fallback_angles(n, why):
        if angles_override is not None:
            return angles_override, "angles file"
        if angles_deg is None:
            raise FileFormatError(p, why, "pass angles_deg=(start, stop) or one angle per "
                                  "projection if you know the scan's angles")
        a = np.asarray(angles_deg, dtype=np.float64).ravel()
        if a.size == 2 and n != 2:
            a = np.linspace(a[0], a[1], n)
        if a.size != n:
            raise InputError(f"angles_deg: {a.size} angles for {n} projections")
        log.warning("%s: %s; using the angles given by the caller", p, why)
        return np.deg2rad(a), "caller"

    fmt, plain = None, False
    if "exchange" in h and "data" in h["exchange"]:
        ex = h["exchange"]
        d = ex["data"]
        if d.ndim != 3:
            raise FileFormatError(p, f"/exchange/data has shape {d.shape}; expected "
                                  "(n_angles, n_rows, n_detector)")
        proj = da.from_array(_GuardedH5(d, p), chunks=(max(1, min(d.shape[0], 64)),) + d.shape[1:], lock=True)
        missing = [k for k in ("data_white", "data_dark") if k not in ex]
        if missing:
            raise FileFormatError(p, f"/exchange lacks {missing}",
                                  "flat/dark correction needs both; add them to the file")
        if load_fields:
            flats = np.asarray(ex["data_white"])
            darks = np.asarray(ex["data_dark"])
        else:
            flats = da.from_array(_GuardedH5(ex["data_white"], p), lock=True)
            darks = da.from_array(_GuardedH5(ex["data_dark"], p), lock=True)
        if "theta" in ex:
            th = ex["theta"]
            units = _attr_str(th.attrs.get("units"))
            ang = _angles_to_rad(th[()], units or "degrees", f"{p}:/exchange/theta")
            src = "/exchange/theta"
        else:
            ang, src = fallback_angles(d.shape[0], "has no /exchange/theta")
        meta = {"data": "/exchange/data", "angles": src, "dtype": str(d.dtype)}
        # pixel size at the sample: pixel_size_x (Data Exchange), else pixel_size_um; in the
        # dataset's ``units`` attribute (m, mm, um, nm, ...), µm when it has none
        det = "measurement/instrument/detector/"
        for key in (det + "pixel_size_um", det + "pixel_size_x"):
            if key in h:
                meta["pixel_size_um"] = _pixel_size_um(h[key], p, key)
        if det + "pixel_size_y" in h:
            meta["pixel_size_y_um"] = _pixel_size_um(h[det + "pixel_size_y"], p, det + "pixel_size_y")
            px = meta.get("pixel_size_um")
            if px is not None and abs(meta["pixel_size_y_um"] - px) > 1e-6 * px:
                log.warning("%s: pixel_size_y %.6g um differs from pixel_size_x %.6g um; the "
                            "reconstruction uses pixel_size_x (square voxels)", p,
                            meta["pixel_size_y_um"], px)
        if "measurement/instrument/monochromator/energy" in h:  # keV (Data Exchange)
            e = h["measurement/instrument/monochromator/energy"]
            units = (_attr_str(e.attrs.get("units")) or "keV").strip().lower()
            scale = {"kev": 1.0, "ev": 1e-3, "mev": 1e3}.get(units)
            if scale is not None:
                meta["energy_kev"] = float(np.asarray(e[()]).ravel()[0]) * scale
        if "measurement/sample/rotation_center_px" in h:
            meta["rotation_center_px"] = float(h["measurement/sample/rotation_center_px"][()])
        # scan times when recorded (Data Exchange: /process/acquisition/start_date, end_date;
        # detector exposure_time in s)
        for key, cands in (("start_time", ("process/acquisition/start_date",
                                           "measurement/instrument/detector/start_time")),
                           ("end_time", ("process/acquisition/end_date",
                                         "measurement/instrument/detector/end_time")),
                           ("count_time_s", ("measurement/instrument/detector/exposure_time",))):
            for c in cands:
                if c not in h:
                    continue
                v = h[c][()]
                if key == "count_time_s":
                    meta[key] = float(np.asarray(v).ravel()[0])
                else:
                    v = _attr_str(v)
                    meta[key] = v.strip().strip("\x00").strip() if isinstance(v, str) else v
                break
        fmt = "dxchange"
    else:
        # NeXus NXtomo: find an image_key with a 3-D data sibling
        keys = []

        def visit(name, obj):
            if isinstance(obj, h5py.Group) and "image_key" in obj:
                keys.append(name)

        h.visititems(visit)
        if data_path is not None:
            grp = data_path.rsplit("/", 1)[0].lstrip("/")
            keys = [grp] if grp in h and "image_key" in h[grp] else []
        found = None
        broken = []
        for g in keys:
            grp = h[g]
            name = data_path.rsplit("/", 1)[1] if data_path else "data"
            if name not in grp:
                continue
            try:
                d = grp[name]
            except (KeyError, OSError):
                link = grp.get(name, getlink=True)
                broken.append(f"{g}/{name} -> {getattr(link, 'filename', '?')}")
                continue
            if isinstance(d, h5py.Dataset) and d.ndim == 3:
                found = (g, d)
                break
        if found is None and broken:
            raise FileFormatError(p, f"detector data link(s) cannot be opened: {broken}",
                                  "keep the linked files next to the .nxs")
        if found is None and not keys and separate_fields:
            # projections only; flats and darks come from their own files (read_projections)
            key_name, d = _plain_h5_projections(h, p, data_path)
            proj = da.from_array(_GuardedH5(d, p), chunks=(max(1, min(d.shape[0], 64)),) + d.shape[1:],
                                 lock=True)
            flats = darks = np.empty((0,) + d.shape[1:], dtype=d.dtype)
            ang, src = None, None
            for c in ("rotation_angle", "theta", "angles"):
                cands = []
                h.visititems(lambda n, o, c=c: cands.append(n) if isinstance(o, h5py.Dataset)
                             and o.ndim == 1 and o.shape[0] == d.shape[0]
                             and n.rsplit("/", 1)[-1].lower() == c else None)
                if cands:
                    units = _attr_str(h[cands[0]].attrs.get("units"))
                    ang = _angles_to_rad(h[cands[0]][()], units or "degrees", f"{p}:{cands[0]}")
                    src = cands[0]
                    break
            if ang is None:
                ang, src = fallback_angles(d.shape[0], "has no angle dataset")
            meta = {"data": key_name, "angles": src, "dtype": str(d.dtype),
                    "n_projections": int(d.shape[0])}
            plain = True
        if found is None and not plain:
            raise UnsupportedFormatError(p, "is neither Data Exchange (/exchange/data) nor "
                                         "NXtomo (detector data beside an image_key)",
                                         "an HDF5 file of projections only is read with its "
                                         "flats and darks given as separate files (flats=, "
                                         "darks=; in the experiment file flats: and darks:)")
    if plain:
        fmt = "hdf5-projections"
    elif fmt != "dxchange":  # NXtomo
        g, d = found
        key = np.asarray(h[g]["image_key"][()]).astype(int).ravel()
        if key.size != d.shape[0]:
            raise FileFormatError(p, f"{g}/image_key has {key.size} entries for "
                                  f"{d.shape[0]} frames")
        i_proj = np.nonzero(key == 0)[0]
        i_flat = np.nonzero(key == 1)[0]
        i_dark = np.nonzero(key == 2)[0]
        if i_proj.size == 0:
            raise FileFormatError(p, f"{g}/image_key has no projection (0) frames")
        full = da.from_array(_GuardedH5(d, p), chunks=(max(1, min(d.shape[0], 64)),) + d.shape[1:], lock=True)
        if np.all(np.diff(i_proj) == 1):
            proj = full[i_proj[0]:i_proj[-1] + 1]
        else:
            proj = full[i_proj]
        if load_fields:
            flats = np.asarray(d[i_flat.tolist()]) if i_flat.size else np.empty((0,) + d.shape[1:])
            darks = np.asarray(d[i_dark.tolist()]) if i_dark.size else np.empty((0,) + d.shape[1:])
        else:
            flats, darks = full[i_flat], full[i_dark]
        # angles: NXtomo rotation_angle, else a *theta* dataset as long as the frames
        ang, src, why = None, None, "has no rotation_angle dataset"
        cands = []

        def visit_ang(name, obj):
            base = name.rsplit("/", 1)[-1].lower()
            if base == "rotation_angle" or "theta" in base:
                cands.append(name)

        h.visititems(visit_ang)
        # links that cannot be resolved are not visited: list them by name too
        for grp_name in {g, "entry/sample", "entry/imaging_sum", "entry/imaging"}:
            if grp_name in h:
                for k in h[grp_name].keys():
                    if k == "rotation_angle" or "theta" in k.lower():
                        cands.append(f"{grp_name}/{k}")
        cands = sorted(set(cands), key=lambda c: (0 if c.endswith("rotation_angle") else 1, c))
        for c in cands:
            try:
                obj = h[c]
            except (KeyError, OSError):
                link = h.get(c, getlink=True)
                why = (f"angle dataset {c} links to {getattr(link, 'filename', '?')}, which "
                       "is missing")
                continue
            if not isinstance(obj, h5py.Dataset) or obj.ndim != 1:
                continue
            if obj.shape[0] == d.shape[0]:
                units = _attr_str(obj.attrs.get("units"))
                ang = _angles_to_rad(obj[()][i_proj], units, f"{p}:{c}")
                src = c
                break
            if obj.shape[0] == i_proj.size:
                units = _attr_str(obj.attrs.get("units"))
                ang = _angles_to_rad(obj[()], units, f"{p}:{c}")
                src = c
                break
        if ang is None:
            ang, src = fallback_angles(i_proj.size, why)
        meta = {"data": f"{g}/data", "image_key": f"{g}/image_key", "angles": src,
                "n_projections": int(i_proj.size), "n_flats": int(i_flat.size),
                "n_darks": int(i_dark.size), "dtype": str(d.dtype)}
        # scan times when recorded (NeXus start_time/end_time, detector count_time)
        entry = g.split("/")[0]
        for key, cands in (("start_time", (f"{entry}/start_time", f"{entry}/diamond_scan/start_time")),
                           ("end_time", (f"{entry}/end_time", f"{entry}/diamond_scan/end_time")),
                           ("count_time_s", (f"{g}/count_time",))):
            for c in cands:
                try:
                    v = h[c][()]
                except (KeyError, OSError):
                    continue
                v = _attr_str(v) if key != "count_time_s" else float(np.asarray(v).ravel()[0])
                if isinstance(v, str):
                    v = v.strip().strip("\x00").strip()
                meta[key] = v
                break
        fmt = "nxtomo"
    n_a, n_r, n_d = proj.shape
    if angles_override is not None:
        ang, meta["angles"] = angles_override, "angles file"
    if ang.size != n_a:
        raise FileFormatError(p, f"{ang.size} angles for {n_a} projections",
                              "the angle dataset does not match the data")
    for name, arr in (("flats", flats), ("darks", darks)):
        if arr.ndim == 2:
            arr = arr[None]
        if arr.size and arr.shape[1:] != (n_r, n_d):
            raise FileFormatError(p, f"{name} have frame shape {arr.shape[1:]}, projections "
                                  f"{(n_r, n_d)}")
    meta["shape"] = (int(n_a), int(n_r), int(n_d))
    flats = flats[None] if flats.ndim == 2 else flats
    darks = darks[None] if darks.ndim == 2 else darks
    return ProjectionData(projections=proj, flats=flats, darks=darks, angles_rad=ang,
                          metadata=meta, path=str(p), format=fmt)


def read_angles_file(path, warnings: list | None = None) -> np.ndarray:
    """Rotation angles (rad) from a text file: the last number of each line that has one
    (``index angle`` or ``angle`` columns, comma/space/tab separated); degrees unless a
    non-numeric header line mentions ``rad``.

    A last line cut mid-field (the file still being written: fewer fields than the line
    before, or an incomplete number such as ``179.`` with no line end) is dropped with a
    warning, the rule every table reader shares
    (:func:`ssbscope.echem.io.common.drop_truncated_last_row`).

    Parameters
    ----------
    path : path-like
        The angles file.
    warnings : list of str, optional
        The warning text of a dropped last line is appended here (it is logged too).

    Returns
    -------
    ndarray, shape (n,)
        Angles in rad.
    """
    from ssbscope.echem.io.common import drop_truncated_last_row

    p = Path(path)
    if not p.is_file():
        raise FileFormatError(p, "angles file does not exist", "check angles:")
    raw = p.read_bytes()
    if b"\x00" in raw[:4096]:
        raise FileFormatError(p, "angles file is binary, not text", "give one angle per line")
    text = raw.decode("utf-8", errors="replace")
    vals, rad, rows, last_parts = [], False, [], None
    for ln in text.splitlines():
        parts = [x for x in re.split(r"[\s,;]+", ln.strip()) if x]
        nums = []
        for x in parts:
            try:
                nums.append(float(x))
            except ValueError:
                nums = None
                break
        if nums:
            vals.append(nums[-1])
            rows.append(" ".join(parts))
        elif ln.strip() and re.search(r"\brad", ln.lower()) and not vals:
            rad = True
        if parts:
            last_parts = None if nums else parts
    ends_with_newline = text.endswith(("\n", "\r"))
    if last_parts is not None and vals and not ends_with_newline \
            and all(re.fullmatch(r"[-+.,\deE]+", x) for x in last_parts):
        rows.append(" ".join(last_parts))  # a last line that is no number (``-`` of ``-12.5``?)
    if len(rows) > 1:
        kept, msg = drop_truncated_last_row(rows, None, p, n_fields=len(rows[-2].split()),
                                            ends_with_newline=ends_with_newline)
        vals = vals[:len(kept)]
        if msg and warnings is not None:
            warnings.append(msg)
    if not vals:
        raise FileFormatError(p, "angles file holds no numbers", "give one angle per line")
    a = np.asarray(vals, dtype=np.float64)
    if not np.all(np.isfinite(a)):
        raise FileFormatError(p, "angles file holds NaN/inf", "fix the angles")
    return a if rad else np.deg2rad(a)


def _h5_frames(f: Path, name: str) -> np.ndarray:
    import h5py

    try:
        h = h5py.File(f, "r")
    except OSError as exc:
        raise FileFormatError(f, f"is not a readable HDF5 file ({exc})") from exc
    with h:
        pref = {"flats": ("exchange/data_white", "exchange/data", "data"),
                "darks": ("exchange/data_dark", "exchange/data", "data")}[name]
        for k in pref:
            if k in h and isinstance(h[k], h5py.Dataset):
                return np.asarray(h[k])
        found = []
        h.visititems(lambda n, o: found.append(n) if isinstance(o, h5py.Dataset) and o.ndim in (2, 3) else None)
        if len(found) != 1:
            raise FileFormatError(f, f"holds {len(found)} 2-D/3-D datasets ({found[:5]}); cannot "
                                  f"tell which are the {name}", "store them as /exchange/data_white "
                                  "(flats) or /exchange/data_dark (darks), or as the file's only dataset")
        return np.asarray(h[found[0]])


def _read_field_frames(spec, name: str, frame_shape) -> tuple[np.ndarray, list[Path]]:
    """Flat or dark frames (n, rows, cols) from TIFF and/or HDF5 files."""
    import tifffile

    from ssbscope.paths import expand_inputs

    files = expand_inputs(spec, exts=_TIFF_EXT + _H5_EXT, what=f"{name} file")
    frames = []
    for f in files:
        if f.name.lower().endswith(_H5_EXT):
            a = _h5_frames(f, name)
        else:
            try:
                a = tifffile.imread(f)
            except Exception as exc:  # noqa: BLE001 - tifffile raises many types
                raise FileFormatError(f, f"is not a readable TIFF ({type(exc).__name__})",
                                      "check the file (a TIFF written whole, not cut or empty?)") from None
        a = np.asarray(a)
        if a.ndim == 2:
            a = a[None]
        if a.ndim != 3 or a.shape[1:] != tuple(frame_shape):
            raise FileFormatError(f, f"{name} frame shape {a.shape[1:] if a.ndim == 3 else a.shape} "
                                  f"does not match the projections {tuple(frame_shape)}")
        frames.append(a)
    return np.concatenate(frames, axis=0), files


def _read_tiff_projections(path, *, flats, darks, angles, angles_deg) -> ProjectionData:
    """A TIFF projection series with separate flat, dark and angle files."""
    import dask
    import dask.array as da
    import tifffile

    from ssbscope.paths import expand_inputs

    files = expand_inputs(path, exts=_TIFF_EXT, what="TIFF projection")
    try:
        with tifffile.TiffFile(files[0]) as tf:
            n_pages = len(tf.pages)
            shape, dtype = tf.pages[0].shape, tf.pages[0].dtype
    except Exception as exc:  # noqa: BLE001
        raise FileFormatError(files[0], f"is not a readable TIFF ({type(exc).__name__})",
                              "check the file (a TIFF written whole, not cut or empty?)") from None
    if len(shape) != 2:
        raise FileFormatError(files[0], f"TIFF page of shape {shape}; expected 2-D projections")
    if len(files) == 1 and n_pages > 1:
        parts = [da.from_delayed(dask.delayed(_read_tiff_page)(str(files[0]), k, shape), shape, dtype)
                 for k in range(n_pages)]
    else:
        parts = [da.from_delayed(dask.delayed(_read_tiff_file)(str(f), shape), shape, dtype)
                 for f in files]
    proj = da.stack(parts)
    n_a = proj.shape[0]
    missing = [n for n, v in (("flats", flats), ("darks", darks)) if v is None]
    if missing:
        raise FileFormatError(path, f"a TIFF projection series needs {' and '.join(missing)} "
                              "files", "give flats: and darks: (TIFF series or HDF5 files)")
    fl, fl_files = _read_field_frames(flats, "flats", shape)
    dk, dk_files = _read_field_frames(darks, "darks", shape)
    angle_warnings: list[str] = []  # a cut last line of the angles file, dropped
    if angles is not None:
        ang, src = read_angles_file(angles, warnings=angle_warnings), str(angles)
    elif angles_deg is not None:
        a = np.asarray(angles_deg, dtype=np.float64).ravel()
        if a.size == 2 and n_a != 2:
            a = np.linspace(a[0], a[1], n_a)
        ang, src = np.deg2rad(a), "caller"
    else:
        raise FileFormatError(path, "a TIFF projection series has no angles",
                              "give angles: (a text file) or angle_range_deg")
    if ang.size != n_a:
        raise FileFormatError(angles if angles is not None else path,
                              f"{ang.size} angles for {n_a} projections",
                              "give one angle per projection")
    meta = {"data": f"{len(files)} TIFF file(s)", "angles": src, "dtype": str(dtype),
            "n_projections": int(n_a), "n_flats": int(fl.shape[0]), "n_darks": int(dk.shape[0]),
            "projection_files": [str(f) for f in files[:3]] + (["..."] if len(files) > 3 else []),
            "flats_files": [str(f) for f in fl_files], "darks_files": [str(f) for f in dk_files],
            "shape": (int(n_a), int(shape[0]), int(shape[1]))}
    if angle_warnings:
        meta["warnings"] = angle_warnings
    return ProjectionData(projections=proj, flats=fl, darks=dk, angles_rad=ang, metadata=meta,
                          path=str(path), format="tiff-series")


def write_dxchange(pd_: ProjectionData, out_path) -> Path:
    """Write projections, flats, darks and angles as one Data Exchange HDF5 file (the layout
    the streamed reconstruction reads by blocks of rows)."""
    import h5py

    out = Path(out_path)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".part")
    with h5py.File(tmp, "w") as h:
        n_a, n_r, n_d = pd_.projections.shape
        d = h.create_dataset("exchange/data", shape=(n_a, n_r, n_d), dtype=pd_.projections.dtype,
                             chunks=(1, n_r, n_d))
        for k in range(n_a):
            d[k] = np.asarray(pd_.projections[k])
        h["exchange/data_white"] = np.asarray(pd_.flats)
        h["exchange/data_dark"] = np.asarray(pd_.darks)
        th = h.create_dataset("exchange/theta", data=np.rad2deg(pd_.angles_rad))
        th.attrs["units"] = "degrees"
    tmp.replace(out)
    return out


@_reader_boundary
def read_projection_rows(path, row_start: int, row_stop: int, *, data_path: str | None = None,
                         image_key_path: str | None = None):
    """Read detector rows ``[row_start, row_stop)`` of every projection, flat and dark.

    One HDF5 hyperslab per array, so memory is set by the number of rows, not by the scan.
    The file is opened (read-only) and closed here, so this works in any process (a
    ``dask.distributed`` worker given the path).

    Parameters
    ----------
    path : str or Path
        Data Exchange HDF5 or NeXus NXtomo file (as :func:`read_projections`).
    row_start, row_stop : int
        Detector rows, ``0 <= row_start < row_stop <= n_rows``.
    data_path, image_key_path : str, optional
        NXtomo: the detector data and its ``image_key`` (``read_projections(...).metadata``
        ``["data"]`` and ``["image_key"]``).  Without ``image_key_path`` the file is read as
        Data Exchange (``/exchange/data``, ``data_white``, ``data_dark``).

    Returns
    -------
    projections : (n_angles, n_sel, n_detector) ndarray
    flats, darks : (n_frames, n_sel, n_detector) ndarray
        In the file's dtype (e.g. uint16 counts).

    Raises
    ------
    FileFormatError
        Unreadable file, missing datasets, rows outside the detector.
    """
    import h5py

    p = Path(path)
    r0, r1 = int(row_start), int(row_stop)
    try:
        h = h5py.File(p, "r")
    except OSError as exc:
        raise FileFormatError(p, f"is not a readable HDF5 file ({exc})") from exc
    with h:
        if image_key_path is None:
            try:
                ex = h["exchange"]
                d, fl, dk = ex["data"], ex["data_white"], ex["data_dark"]
            except KeyError as exc:
                raise FileFormatError(p, f"lacks a Data Exchange dataset ({exc})",
                                      "read it with read_projections() to see what is there") from exc
            if not (0 <= r0 < r1 <= d.shape[1]):
                raise FileFormatError(p, f"rows [{r0}, {r1}) outside the detector's {d.shape[1]}")

            def rows(ds):
                return ds[r0:r1, :][None] if ds.ndim == 2 else ds[:, r0:r1, :]

            return _finite_rows(p, r0, rows(d), rows(fl), rows(dk))
        try:
            d = h[data_path]
            key = np.asarray(h[image_key_path][()]).astype(int).ravel()
        except (KeyError, OSError, TypeError) as exc:
            raise FileFormatError(p, f"cannot open {data_path!r} / {image_key_path!r} ({exc})") from exc
        if not (0 <= r0 < r1 <= d.shape[1]):
            raise FileFormatError(p, f"rows [{r0}, {r1}) outside the detector's {d.shape[1]}")

        def frames(sel):
            idx = np.nonzero(key == sel)[0]
            if idx.size == 0:
                return np.empty((0, r1 - r0, d.shape[2]), d.dtype)
            if np.all(np.diff(idx) == 1):
                return d[int(idx[0]):int(idx[-1]) + 1, r0:r1, :]
            return d[idx.tolist(), r0:r1, :]

        return _finite_rows(p, r0, frames(0), frames(1), frames(2))


def _finite_rows(path, r0: int, *arrays):
    """Refuse NaN/inf counts in float projections, flats or darks, naming the file, the array
    and the first frame and row (a damaged or mis-scaled file; counts are finite)."""
    for name, a in zip(("projections", "flats", "darks"), arrays):
        if a.dtype.kind in "fc":
            bad = ~np.isfinite(a)
            if bad.any():
                k, r, _ = (int(i[0]) for i in np.nonzero(bad))
                raise DataQualityError(f"{path}: {name}: {int(bad.sum())} non-finite value(s) "
                                       f"(NaN/inf), first in frame {k}, detector row {r0 + r}; "
                                       "the file is damaged or mis-scaled - fix or drop those frames")
    return arrays
