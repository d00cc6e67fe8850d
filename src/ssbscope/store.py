"""The experiment store: one Zarr directory holding every result on one time axis.

Layout (a Zarr v3 hierarchy; any Zarr/xarray reader can open it)::

    store.zarr/
      zarr.json                    root group; attrs["ssbscope"] = store metadata
      echem/zarr.json              intermediate groups
      echem/timeseries/...         one xarray Dataset per result ("echem/timeseries")
      .ssbscope/stages/<stage>.json  records of finished pipeline stages (resume marks)
      .ssbscope/checksums/<name>.json  manifest of each dataset's files (path, size, sha256)
      .ssbscope/lock               held (fcntl) by the run writing the store: pid and host
      .ssbscope/tmp/               scratch for atomic writes (names start with the writer's pid)
      tomo/<series>/volumes/s1/volume  OME-Zarr pyramid level 1 of a declared image (ssbscope.ome)
      tomo/<series>/volumes/labels/phases  NGFF label image of the volumes: the ``labels``
                                   variable of dataset ``tomo/<series>/labels`` (read back there;
                                   stored as phase index + 1, ssbscope.ome.label_dataset)
      tomo/<series>/volumes/labels/cell_mask  its ``cell_mask`` (y, x), broadcast along time, z

The root ``zarr.json`` and every dataset's ``zarr.json`` carry consolidated metadata
(refreshed after each write).  A variable with ``attrs["ome_image"] = "image"`` or
``"label"`` makes its dataset group an OME-Zarr (NGFF 0.5) image that ome-zarr-py and
napari open with the physical scale (:mod:`ssbscope.ome`, :meth:`Store.ome_images`); its
pyramid levels are hidden by :meth:`Store.read`.  A label image computed from an image (the
variable's ``attrs["ome_source"]``, e.g. ``"../volumes"``, or an image in the same dataset)
is stored as an NGFF label of that image, ``<image>/labels/<label name>``, so that viewers
open it with the image; its dataset records where (``attrs["ome_labels"]``), :meth:`Store.read`
returns it as the variable it was, its manifest covers it, a rewrite of the image keeps it and
:meth:`Store.delete` of its dataset removes it.

Every dataset shares the time axis ``time_s`` (seconds since the start of the
electrochemical test) where it has one, carries ``units`` on every variable and
coordinate, and a ``provenance`` attribute (JSON): input paths with sha256, ssbscope
version, parameters, UTC time.

Writes are atomic: a dataset is written to a scratch directory and renamed into place, so a
crash never leaves a half-written result that later reads as valid.  After the rename the
dataset's manifest (every file's relative path, size and sha256) is written outside the Zarr
hierarchy; :meth:`Store.verify` compares a dataset with it (names and sizes, or full sha256)
and :meth:`Store.check` checks the whole store (``ssbscope check STORE``).  One process
writes a store at a time: :meth:`Store.lock` takes an exclusive ``fcntl`` lock on
``.ssbscope/lock`` (released by the kernel when the process dies, so the lock of a killed
run is taken over by the next one).

Examples
--------
>>> import numpy as np, xarray as xr, tempfile, ssbscope
>>> from ssbscope.store import Store
>>> d = tempfile.mkdtemp()
>>> st = Store.create(d + "/s.zarr")
>>> ds = xr.Dataset({"voltage_V": ("time_s", np.array([3.0, 3.1]))},
...                 coords={"time_s": [0.0, 1.0]})
>>> st.write("echem/timeseries", ds)
>>> ssbscope.open(d + "/s.zarr")["echem/timeseries"].voltage_V.attrs["units"]
'V'
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import hashlib
import json
import logging
import os
import posixpath
import re
import shutil
import socket
import stat as _stat
import uuid
from pathlib import Path
from typing import Any, Iterable, Mapping

import numpy as np

from ssbscope.errors import InputError, StoreError

__all__ = ["Store", "StoreLockedError", "sha256_file", "check_regular_file", "units_from_name",
           "provenance_record"]


def _node_meta(d: Path) -> dict | None:
    """The parsed ``zarr.json`` of a Zarr node folder, or None (absent or unreadable)."""
    try:
        meta = json.loads((d / "zarr.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return meta if isinstance(meta, dict) else None


def _is_dataset_meta(meta: dict | None) -> bool:
    """Whether a node's ``zarr.json`` is that of a complete ssbscope dataset (a group marked
    ``_ssbscope_dataset``)."""
    return bool(meta) and meta.get("node_type") == "group" and bool(
        (meta.get("attributes") or {}).get("_ssbscope_dataset"))


class StoreLockedError(StoreError):
    """Another live process holds the store's lock (a second run on the same ``--out``)."""


log = logging.getLogger(__name__)

_META = ".ssbscope"
_FORMAT_VERSION = 1
_NAME_RE = re.compile(r"^[A-Za-z0-9_\-]+(/[A-Za-z0-9_\-]+)*$")

# unit suffixes recognised in variable names (longest first)
_UNIT_SUFFIXES = [
    ("_mah_cm2", "mA*h/cm^2"), ("_mAh_cm2", "mA*h/cm^2"), ("_mah_g", "mA*h/g"), ("_mAh_g", "mA*h/g"),
    ("_ma_cm2", "mA/cm^2"), ("_mA_cm2", "mA/cm^2"), ("_ohm_cm2", "ohm*cm^2"), ("_s_cm", "S/cm"),
    ("_g_cm3", "g/cm^3"), ("_1_cm", "1/cm"), ("_cm2_g", "cm^2/g"), ("_um3", "um^3"), ("_um2", "um^2"),
    ("_mm3", "mm^3"), ("_cm2", "cm^2"), ("_cm3", "cm^3"),
    ("_mah", "mA*h"), ("_mAh", "mA*h"), ("_ma", "mA"), ("_mA", "mA"), ("_mv", "mV"), ("_mV", "mV"),
    ("_kev", "keV"), ("_keV", "keV"), ("_ohm", "ohm"), ("_Hz", "Hz"), ("_hz", "Hz"),
    ("_um", "um"), ("_mm", "mm"), ("_nm", "nm"), ("_deg", "degree"), ("_rad", "rad"),
    ("_au", "hbar/bohr"), ("_pct", "percent"), ("_percent", "percent"),
    ("_mg", "mg"), ("_s", "s"), ("_h", "h"), ("_V", "V"), ("_A", "A"), ("_px", "pixel"),
    ("_vox", "pixel"), ("_counts", "count"), ("_frac", "1"), ("_fraction", "1"), ("_ratio", "1"),
]


def attr_list(value) -> list:
    """A list-valued attribute as read back from the store (JSON text there) or as given:
    ``'["Li", "Cu"]'`` -> ``["Li", "Cu"]``; a plain string is one item; None is ``[]``."""
    if value is None:
        return []
    if isinstance(value, str):
        try:
            v = json.loads(value)
        except ValueError:
            return [value]
        return list(v) if isinstance(v, list) else [v]
    return list(value)


def with_default_units(ds):
    """Give every float variable of ``ds`` without ``units`` one: from its name's suffix
    (:func:`units_from_name`), ``MPa`` for ``*_mpa``, else ``1`` (dimensionless).  Returns
    ``ds`` (modified in place)."""
    for name, var in ds.variables.items():
        if "units" in var.attrs or var.dtype.kind not in "fc":
            continue
        if str(name).endswith("_mpa"):
            var.attrs["units"] = "MPa"
        elif units_from_name(str(name)) is None:
            var.attrs["units"] = "1"
    return ds


def units_from_name(name: str) -> str | None:
    """Unit implied by a variable name's suffix (``voxel_size_um`` -> ``"um"``), or None."""
    for suffix, unit in _UNIT_SUFFIXES:
        if name.endswith(suffix) or name == suffix[1:]:
            return unit
    return None


def _normalise_units(name: str, ds) -> None:
    """Every ``units`` attribute of ``ds`` in its one spelling (:mod:`ssbscope.units`), and a
    ``long_name`` from the variable name where none is given (in place)."""
    from ssbscope.units import long_name_from, normalize_units

    for vname, var in ds.variables.items():
        try:
            var.attrs["units"] = normalize_units(var.attrs["units"])
        except ValueError as e:
            raise StoreError(f"dataset {name!r}, variable {vname!r}: units {e}") from None
        if "long_name" not in var.attrs:
            var.attrs["long_name"] = long_name_from(str(vname))


def _cite_papers(ds) -> None:
    """Replace the source papers' file ids in the text attributes of ``ds`` and its variables
    by "authors year" (:func:`ssbscope.papers.cite`), in place; provenance is kept as recorded."""
    from ssbscope.papers import cite

    for attrs in [ds.attrs] + [v.attrs for v in ds.variables.values()]:
        for k, v in list(attrs.items()):
            if isinstance(v, str) and k != "provenance":
                c = cite(v)
                if c != v:
                    attrs[k] = c


def _cite_nested(obj):
    """JSON-like ``obj`` with :func:`ssbscope.papers.cite` applied to every string in it."""
    from ssbscope.papers import cite

    if isinstance(obj, str):
        return cite(obj)
    if isinstance(obj, dict):
        return {k: _cite_nested(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_cite_nested(v) for v in obj]
    return obj


def _in_name_order(ds):
    """``ds`` with its data variables in name order (every coordinate kept)."""
    import xarray as xr

    order = sorted(ds.data_vars, key=str)
    if list(ds.data_vars) == order:
        return ds
    out = xr.Dataset({k: ds.variables[k] for k in order}, coords=ds.coords, attrs=ds.attrs)
    out.encoding = ds.encoding
    return out


def _finish_group(name: str, group_dir: Path, ds, pending=None) -> None:
    """After ``to_zarr``: NGFF metadata and pyramid levels of the declared images
    (:func:`ssbscope.ome.write_ome`; with ``pending``, the deferred ``to_zarr`` computed in
    the same pass as the levels), then the group's consolidated metadata."""
    from ssbscope.ome import write_ome

    try:
        write_ome(group_dir, ds, pending)
    except InputError:  # a lazily read input file that turns out damaged: its own message
        raise
    except ValueError as e:
        raise StoreError(f"dataset {name!r}: OME-Zarr image: {e}") from None
    _consolidate_quietly(group_dir)


def _asks_auto(chunks) -> bool:
    """Whether ``chunks`` (of :meth:`Store.read`) asks Dask to size some chunks ("auto")."""
    if isinstance(chunks, str):
        return chunks == "auto"
    return isinstance(chunks, Mapping) and any(isinstance(c, str) and c == "auto"
                                               for c in chunks.values())


def _chunk_auto(ds, chunks):
    """``ds`` (opened in its disk chunks) rechunked by ``chunks`` ("auto", or a dict with
    "auto" for some dimensions): every numeric, boolean or time variable, from its disk
    chunks (Dask's ``previous_chunks``, so that a chunk holds whole disk chunks); string
    variables (NumPy's ``StringDType`` or object: variable-length, which Dask cannot size)
    get the explicit sizes only, and indexes stay in memory."""
    upd_data, upd_coords = {}, {}
    for n, v in ds.variables.items():
        if n in ds.indexes or v.ndim == 0:
            continue
        sizeable = v.dtype.kind in "biufcmM"
        spec = (chunks if sizeable else None) if isinstance(chunks, str) else \
            {d: c for d, c in chunks.items() if d in v.dims and (sizeable or c != "auto")}
        if spec:
            (upd_coords if n in ds.coords else upd_data)[n] = v.chunk(spec)
    return ds.assign(upd_data).assign_coords(upd_coords)


def _flat_levels(ome) -> list[str] | None:
    """Pyramid levels stored as arrays of the dataset group itself (``<var>_s1``: stores
    written before the levels moved to the subgroups ``s1/``, ...), for ``drop_variables``."""
    from ssbscope.ome import pyramid_paths

    return [p for p in pyramid_paths(ome) if "/" not in p] or None


def _write_label_group(name: str, group_dir: Path, sub) -> None:
    """Write the one-variable dataset ``sub`` (:func:`ssbscope.ome.label_dataset`) as an NGFF
    label image at ``group_dir``: level 0, the nearest-downsampled pyramid (in one pass for a
    Dask-backed label, as for an image) and ``image-label`` with ``source`` ``../../``."""
    from ssbscope.ome import write_ome

    # the group holds the label's levels only (dimension_names: the NGFF axes, as NGFF 0.5
    # requires); the coordinates give write_ome the scale and stay in the dataset
    sub = sub.assign_coords({k: np.asarray(c.values) for k, c in sub.coords.items()})
    spans = json.loads(sub.attrs.pop("ome_spans", None) or "null")  # (ssbscope.ome.label_dataset)
    n_levels = sub.attrs.pop("ome_levels", None)
    lazy = any(v.chunks for v in sub.data_vars.values())
    pending = sub.drop_vars(list(sub.coords)).to_zarr(
        str(group_dir), mode="w", consolidated=False, zarr_format=3, compute=not lazy)
    try:
        write_ome(group_dir, sub, pending if lazy else None, label_source="../../",
                  nested=False, spans=spans, n_levels=n_levels)
    except InputError:
        raise
    except ValueError as e:
        raise StoreError(f"dataset {name!r}: OME-Zarr label image: {e}") from None
    _consolidate_quietly(group_dir)


def _keep_labels(old: Path, new: Path) -> list[tuple[str, Path, Path]]:
    """Move the label groups of ``old`` (the ``labels/`` group of an image being rewritten)
    that the new image does not write itself into ``new``: the labels other datasets store
    there.  Returns ``[(label name, new path, former path)]`` (for :func:`_restore_labels`)."""
    if not old.is_dir():
        return []
    moved = []
    for child in sorted(old.iterdir()):
        if (child.is_dir() and (child / "zarr.json").is_file()
                and not (new / child.name).exists()):
            new.mkdir(exist_ok=True)
            os.replace(child, new / child.name)
            moved.append((child.name, new / child.name, child))
    return moved


def _restore_labels(moved) -> None:
    """Undo :func:`_keep_labels` after a failed write (best effort)."""
    for _, now, former in moved:
        with contextlib.suppress(OSError):
            os.replace(now, former)


def _consolidate_quietly(path) -> None:
    """``zarr.consolidate_metadata`` without its notes that consolidated metadata is not
    in the v3 spec yet and that ``.ssbscope/`` (bookkeeping, deliberately not Zarr) is no
    Zarr node."""
    import warnings

    import zarr

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*[Cc]onsolidated metadata.*")
        warnings.filterwarnings("ignore", message=r".*\.ssbscope is not recognized.*")
        zarr.consolidate_metadata(str(path), zarr_format=3)


def check_regular_file(path) -> os.stat_result:
    """``os.stat`` of ``path`` after checking it is a regular file, without opening it.

    A FIFO, a device (``/dev/zero``), a socket or a directory is refused before any read, so
    no caller hangs on a pipe or reads an endless device.

    Raises
    ------
    InputError
        Missing path, or not a regular file (the message names the kind).
    """
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise InputError(f"{path}: file not found; check the path") from None
    except OSError as e:
        raise InputError(f"{path}: cannot be read ({e.strerror or type(e).__name__}); "
                         "check the path and its permissions") from None
    if not _stat.S_ISREG(st.st_mode):
        kind = ("a directory" if _stat.S_ISDIR(st.st_mode) else "a FIFO (named pipe)"
                if _stat.S_ISFIFO(st.st_mode) else "a device" if _stat.S_ISCHR(st.st_mode)
                or _stat.S_ISBLK(st.st_mode) else "a socket" if _stat.S_ISSOCK(st.st_mode)
                else "not a regular file")
        raise InputError(f"{path}: is {kind}, not a regular file; pass the path of a data file")
    return st


def sha256_file(path, chunk_bytes: int = 1 << 20) -> str:
    """SHA-256 of a file (hex), read in chunks, opened read-only.

    Raises
    ------
    InputError
        ``path`` is not a regular file (checked before it is opened: a FIFO or device is
        never read).
    """
    check_regular_file(path)
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while True:
            b = fh.read(chunk_bytes)
            if not b:
                break
            h.update(b)
    return h.hexdigest()


def _utc_now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


def _jsonable(obj):
    if isinstance(obj, Mapping):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, Path):
        return str(obj)
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, (str, int, float, bool)) or obj is None:
        return obj
    return repr(obj)


def provenance_record(*, inputs: Iterable = (), parameters: Mapping | None = None,
                      stage: str | None = None) -> dict:
    """Provenance of a result: input files with sha256, version, parameters, UTC time.

    Parameters
    ----------
    inputs : iterable of path-like or dict
        Files the result was derived from (hashed here) or ready ``{"path", "sha256"}`` dicts.
    parameters : mapping, optional
        Analysis parameters.
    stage : str, optional
        Pipeline stage that produced it.
    """
    import platform

    from ssbscope import __version__

    files = []
    for item in inputs:
        if isinstance(item, Mapping):
            files.append(dict(item))
        else:
            p = Path(item)
            files.append({"path": str(p.resolve()), "sha256": sha256_file(p)})
    return {
        "stage": stage,
        "inputs": files,
        "ssbscope_version": __version__,
        "python": platform.python_version(),
        "parameters": _jsonable(parameters or {}),
        "created_utc": _utc_now(),
    }


def _write_json_atomic(path: Path, obj) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(obj, fh, indent=2, sort_keys=True)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


#: Per store root: {node path: (compact JSON of its metadata, its indented text)}, so that a
#: write re-encodes only the nodes that changed (:func:`_consolidated_text`).
_CM_TEXT: dict = {}
_CM_PLACEHOLDER = "\x00ssbscope consolidated metadata\x00"


def _consolidated_text(root_key: str, meta: dict) -> str:
    """``json.dumps(meta, indent=2, sort_keys=True)`` of a root ``zarr.json`` whose
    ``consolidated_metadata.metadata`` is a dict sorted by key, the same bytes with the
    entries' text cached.

    The pure-Python indented encoder took ~60 ms per write of the tiny demo's store (1100
    nodes), ~3 % of a run.  An entry's text at depth 3 is its own indented dump with every
    newline indented 6 more spaces (JSON strings hold no raw newline); it is reused when the
    entry's compact dump (C encoder: distinguishes 1, 1.0, true, -0.0, NaN) is unchanged.
    """
    md = meta["consolidated_metadata"]["metadata"]
    old = _CM_TEXT.get(root_key, {})
    new = {}
    parts = []
    for k, v in md.items():
        compact = json.dumps(v, sort_keys=True)
        hit = old.get(k)
        if hit is None or hit[0] != compact:
            text = json.dumps(v, indent=2, sort_keys=True).replace("\n", "\n" + " " * 6)
            hit = (compact, " " * 6 + json.dumps(k) + ": " + text)
        new[k] = hit
        parts.append(hit[1])
    if len(_CM_TEXT) >= 8 and root_key not in _CM_TEXT:
        _CM_TEXT.pop(next(iter(_CM_TEXT)))
    _CM_TEXT[root_key] = new
    body = "{\n" + ",\n".join(parts) + "\n    }" if parts else "{}"
    head = json.dumps({**meta, "consolidated_metadata": {**meta["consolidated_metadata"],
                                                          "metadata": _CM_PLACEHOLDER}},
                      indent=2, sort_keys=True)
    mark = json.dumps(_CM_PLACEHOLDER)
    if head.count(mark) != 1 or list(md) != sorted(md):  # not the layout assumed: plain dump
        return json.dumps(meta, indent=2, sort_keys=True)
    return head.replace(mark, body)


def _write_text_atomic(path: Path, text: str) -> None:
    """:func:`_write_json_atomic` of an already encoded text."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def _fsync_tree(path: Path) -> None:
    for root, _dirs, files in os.walk(path):
        for f in files:
            fd = os.open(os.path.join(root, f), os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)


#: On resume, datasets up to this many bytes are verified by sha256, larger ones by file
#: names and sizes (``Store.verify(name, full="auto")``).
AUTO_HASH_BYTES = 256 * 2**20

_LOCKS: dict[str, list] = {}  # resolved store path -> [fd, depth] of locks this process holds


def _tmp_name(prefix: str = "") -> str:
    """Scratch name that proves its writer: ``[prefix-]<pid>-<hex>``."""
    return f"{prefix + '-' if prefix else ''}{os.getpid()}-{uuid.uuid4().hex}"


def _tmp_pid(name: str) -> int | None:
    m = re.match(r"^(?:old-)?(\d+)-[0-9a-f]{32}$", name)
    return int(m.group(1)) if m else None


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _label_paths(root: Path) -> list[str]:
    """Paths (relative to the dataset directory ``root``) of the NGFF label groups that hold
    the dataset's label images (``attrs["ome_labels"]``, :meth:`Store.write`)."""
    meta = _node_meta(root) or {}
    try:
        rel = json.loads((meta.get("attributes") or {}).get("ome_labels") or "{}")
    except (TypeError, ValueError):
        return []
    return sorted(str(v) for v in rel.values()) if isinstance(rel, dict) else []


def _manifest(root: Path, *, hashes: bool = True, at: Path | None = None) -> dict:
    """``{relative path: {"size", "sha256"}}`` of the files of one dataset directory (nested
    datasets, i.e. sub-directories that are Zarr groups, are not part of it), and of the
    label groups holding its label images (paths such as ``../volumes/labels/phases/...``,
    resolved from ``at``, where the dataset lives, default ``root``)."""
    out = {}
    for dirpath, dirnames, files in os.walk(root):
        here = Path(dirpath)
        keep = []
        for dn in sorted(dirnames):
            zj = here / dn / "zarr.json"
            try:
                node = json.loads(zj.read_text(encoding="utf-8")).get("node_type") if zj.exists() else None
            except (OSError, ValueError):
                node = None
            if node != "group":
                keep.append(dn)
        dirnames[:] = keep
        for fn in sorted(files):
            f = here / fn
            rel = f.relative_to(root).as_posix()
            entry = {"size": f.stat().st_size}
            if hashes:
                entry["sha256"] = sha256_file(f)
            out[rel] = entry
    for lp in _label_paths(root):
        base = Path(os.path.normpath((at or root) / lp if lp.startswith("..") else root / lp))
        for dirpath, _dirnames, files in os.walk(base):
            for fn in sorted(files):
                f = Path(dirpath) / fn
                entry = {"size": f.stat().st_size}
                if hashes:
                    entry["sha256"] = sha256_file(f)
                out[f"{lp}/{f.relative_to(base).as_posix()}"] = entry
    return out


class Store:
    """An experiment store on disk (a Zarr v3 directory).

    Use :meth:`create` for a new store and :meth:`open` (or ``ssbscope.open``) for an
    existing one.  Datasets are addressed by slash-separated names such as
    ``"echem/timeseries"`` or ``"tomo/metrics"``.
    """

    def __init__(self, path, _checked: bool = False):
        self.path = Path(path)
        if not _checked:
            raise StoreError("use Store.create(path) or Store.open(path)")

    # ------------------------------------------------------------------ opening
    @classmethod
    def create(cls, path, *, exist_ok: bool = True, attrs: Mapping | None = None) -> "Store":
        """Create a store (or open it if it exists and ``exist_ok``).

        Raises
        ------
        StoreError
            If the directory cannot be written, or exists and is not a store.
        """
        import zarr

        p = Path(path)
        if p.exists():
            if (p / "zarr.json").exists() and cls._is_store(p):
                if not exist_ok:
                    raise StoreError(f"{p}: a store exists already; pass another path or delete it")
                st = cls(p, _checked=True)
                if attrs:
                    st.update_attrs(attrs)
                return st
            if any(p.iterdir()):
                raise StoreError(f"{p}: exists and is not an ssbscope store; choose an empty or new directory")
        try:
            p.mkdir(parents=True, exist_ok=True)
            probe = p / f".write-probe-{uuid.uuid4().hex}"
            probe.write_bytes(b"")
            probe.unlink()
        except OSError as e:
            raise StoreError(f"{p}: cannot write here ({e.strerror or e}); choose a writable output directory") from e
        meta = {"format_version": _FORMAT_VERSION, "created_utc": _utc_now()}
        from ssbscope import __version__

        meta["ssbscope_version"] = __version__
        if attrs:
            meta.update(_cite_nested(_jsonable(attrs)))
        zarr.open_group(str(p), mode="a", zarr_format=3, attributes={"ssbscope": meta})
        (p / _META / "stages").mkdir(parents=True, exist_ok=True)
        (p / _META / "tmp").mkdir(parents=True, exist_ok=True)
        return cls(p, _checked=True)

    @staticmethod
    def _is_store(p: Path) -> bool:
        try:
            meta = json.loads((p / "zarr.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return False
        return "ssbscope" in meta.get("attributes", {})

    @classmethod
    def open(cls, path) -> "Store":
        """Open an existing store.

        Raises
        ------
        StoreError
            If ``path`` is missing or not an ssbscope store.
        """
        p = Path(path)
        if not p.exists():
            raise StoreError(f"{p}: no such store; run 'ssbscope demo --out DIR' or 'ssbscope run FILE' first")
        if p.is_dir() and not (p / "zarr.json").exists() and (p / "store.zarr" / "zarr.json").exists():
            p = p / "store.zarr"
        if not cls._is_store(p):
            raise StoreError(f"{p}: not an ssbscope store (no zarr.json with 'ssbscope' attributes); "
                             "pass the store directory written by ssbscope")
        return cls(p, _checked=True)

    # ------------------------------------------------------------------ metadata
    @property
    def attrs(self) -> dict:
        """Store-level metadata (experiment name, versions, configuration)."""
        meta = json.loads((self.path / "zarr.json").read_text(encoding="utf-8"))
        return dict(meta.get("attributes", {}).get("ssbscope", {}))

    def update_attrs(self, attrs: Mapping) -> None:
        """Merge ``attrs`` into the store-level metadata (atomic); papers' file ids in its
        text (e.g. a twin truth's ``paper``) are written as "authors year", as in datasets."""
        f = self.path / "zarr.json"
        meta = json.loads(f.read_text(encoding="utf-8"))
        cur = meta.setdefault("attributes", {}).setdefault("ssbscope", {})
        cur.update(_cite_nested(_jsonable(dict(attrs))))
        _write_json_atomic(f, meta)

    # ------------------------------------------------------------------ datasets
    def _dir(self, name: str) -> Path:
        if not isinstance(name, str) or not _NAME_RE.match(name):
            raise StoreError(f"dataset name {name!r}: use letters, digits, '_' or '-' separated by '/', "
                             "e.g. 'echem/timeseries'")
        return self.path.joinpath(*name.split("/"))

    def names(self) -> list[str]:
        """Names of all complete datasets in the store, sorted.

        One walk over the groups: hidden folders (``.ssbscope``) and the chunk folders below an
        array's ``zarr.json`` are not entered (a store holds thousands of chunk files, and
        :meth:`read` used to list them all on every call).
        """
        found = []
        root = str(self.path)
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames[:] = [d for d in dirnames if not d.startswith(".")]
            if "zarr.json" not in filenames:
                continue
            meta = _node_meta(Path(dirpath))
            if meta is None:
                continue
            if meta.get("node_type") == "array":
                dirnames[:] = []  # chunks only
                continue
            rel = Path(dirpath).relative_to(root).parts
            if rel and _is_dataset_meta(meta):
                found.append(rel)
        # the order of the zarr.json paths (a dataset's sub-datasets before it), as before
        return ["/".join(r) for r in sorted(found, key=lambda r: (*r, "zarr.json"))]

    def _has(self, name: str) -> bool:
        """``name in self.names()``, from the dataset's own ``zarr.json`` only."""
        return _is_dataset_meta(_node_meta(self._dir(name)))

    def __contains__(self, name: str) -> bool:
        return isinstance(name, str) and bool(_NAME_RE.match(name)) and self._has(name)

    def __iter__(self):
        return iter(self.names())

    def __getitem__(self, name: str):
        return self.read(name)

    def __repr__(self) -> str:
        return f"<ssbscope.Store {self.path} datasets={self.names()}>"

    def _repr_html_(self) -> str:
        """Jupyter view: datasets with their variables (dims, shapes, units), sizes on disk
        and the stage that wrote each (:mod:`ssbscope.store_repr`)."""
        from ssbscope.store_repr import store_html

        return store_html(self)

    def read(self, name: str, *, chunks=None):
        """Open a dataset lazily (Dask-backed) as an :class:`xarray.Dataset`.

        Parameters
        ----------
        name : str
            The dataset's key (``<area>/<series or label>/<product>``).
        chunks : None, dict, int or "auto"
            Dask chunks, as for :func:`xarray.open_zarr`; default: the chunks on disk.
            ``"auto"`` (or ``"auto"`` for some dimensions) sizes the numeric variables' chunks
            from the ones on disk; string variables (``state``: variable-length strings,
            which Dask cannot size) keep theirs.  (``xarray.open_zarr(chunks="auto")`` of
            such a dataset fails with "Can not use auto rechunking with object dtype"; use
            this, or ``chunks={}``.)

        Raises
        ------
        StoreError
            If the dataset does not exist (the message lists those that do).
        """
        import xarray as xr

        d = self._dir(name)
        if not self._has(name):
            raise StoreError(f"{self.path}: no dataset {name!r}; it has: {', '.join(self.names()) or 'none'}")
        # default: the chunks on disk (dask's "auto" cannot size object/string variables)
        from ssbscope.ome import ome_metadata

        # OME-Zarr pyramid levels (ssbscope.ome) are for viewers, in subgroups s1/, s2/ ...
        # that xarray does not open (a store written before: arrays <var>_s1 ..., dropped)
        auto = _asks_auto(chunks)  # opened in the disk chunks, then sized (_chunk_auto)
        ds = xr.open_zarr(str(d), consolidated=False,
                          chunks={} if chunks is None or auto else chunks,
                          zarr_format=3, drop_variables=_flat_levels(ome_metadata(d)))
        ds.attrs.pop("ome", None)
        ds = self._with_labels(name, d, ds, None if auto else chunks)
        if auto:
            ds = _chunk_auto(ds, chunks)
        # Zarr lists a group's arrays in directory order, which differs between runs and
        # file systems: variables in name order instead, the same on every read
        return _in_name_order(ds)

    def _with_labels(self, name: str, d: Path, ds, chunks):
        """``ds`` with its label images read back from the NGFF label groups where
        :meth:`write` stored them (``attrs["ome_labels"]``), as the variables they were."""
        import xarray as xr

        from ssbscope.ome import decode_label, ome_metadata

        raw = ds.attrs.pop("ome_labels", None)
        if not raw:
            return ds
        try:
            where = json.loads(raw)
        except ValueError:
            raise StoreError(f"{self.path}: dataset {name!r}: attribute ome_labels is not JSON; "
                             "re-run the stage that wrote it") from None
        for vname, rel in sorted(where.items()):
            p = Path(os.path.normpath(d / rel))
            if not (p / "zarr.json").is_file():
                raise StoreError(f"{self.path}: dataset {name!r}: its label image {vname!r} is "
                                 f"missing at {p} (the image it labels was rewritten or deleted); "
                                 "re-run the stage that wrote the dataset")
            lab = xr.open_zarr(str(p), consolidated=False, zarr_format=3,
                               chunks={} if chunks is None else chunks,
                               drop_variables=_flat_levels(ome_metadata(p)))
            v = lab[posixpath.basename(rel)].variable  # stored under the label's name
            dims = attr_list(v.attrs.pop("ssbscope_dims", None)) or list(v.dims)
            if len(dims) < v.ndim:  # the dimensions of its image it was broadcast along
                v = v.isel({d: 0 for d in v.dims if d not in dims}).transpose(*dims)
            # its own values (a label stored with codes: ssbscope.ome.label_dataset)
            data, attrs = decode_label(v.data, v.attrs)
            data = data.astype(bool) if attrs.pop("ssbscope_dtype", None) == "bool" else data
            ds[vname] = (dims, data, attrs)  # the dataset's dimensions (NGFF's on disk)
        return ds

    def provenance(self, name: str) -> dict:
        """Provenance of a dataset (dict)."""
        return json.loads(self.read(name).attrs.get("provenance", "{}"))

    def write(self, name: str, ds, *, provenance: Mapping | None = None) -> None:
        """Write ``ds`` under ``name`` atomically (replacing an existing dataset).

        Every data variable and coordinate must carry ``attrs["units"]`` unless the unit
        follows from its name's suffix (``_s``, ``_um``, ``_V``, ...) or it is an
        integer, boolean or string variable (counts, labels, flags, names).

        Parameters
        ----------
        name : str
            Slash-separated dataset name.
        ds : xarray.Dataset
            Possibly Dask-backed; it is computed by the active Dask scheduler while written.
        provenance : mapping, optional
            Stored as JSON in ``attrs["provenance"]``.

        Raises
        ------
        StoreError
            Missing units, an invalid name, or an I/O failure (nothing is left behind).
        """
        import xarray as xr

        if not isinstance(ds, xr.Dataset):
            raise StoreError(f"dataset {name!r}: expected an xarray.Dataset, got {type(ds).__name__}")
        target = self._dir(name)
        ds = ds.copy(deep=False)
        ds = _in_name_order(ds)  # name order on disk too (see read)
        from ssbscope.ome import with_space_coords

        ds = with_space_coords(ds)  # physical z/y/x of every image (its NGFF scale)
        missing = []
        for vname, var in list(ds.variables.items()):
            if "units" in var.attrs:
                continue
            unit = units_from_name(str(vname))
            if unit is not None:
                var.attrs["units"] = unit
            elif var.dtype.kind in "fc" and var.ndim > 0:
                missing.append(str(vname))
            elif var.dtype.kind in "fc":
                missing.append(str(vname))
            else:
                var.attrs["units"] = "1" if var.dtype.kind in "iub" else ""
        if missing:
            raise StoreError(f"dataset {name!r}: variables {missing} have no attrs['units'] and no unit "
                             "suffix in their name; add units (e.g. ds[v].attrs['units'] = 'um')")
        _normalise_units(name, ds)
        for vname in list(ds.variables):
            if ds[vname].dtype.kind == "U":  # variable-length UTF-8 has a Zarr v3 spec; fixed-width has not
                ds[vname] = ds[vname].astype(object)
        attrs = dict(ds.attrs)
        attrs.pop("ome", None)  # written afresh from the declared images (ssbscope.ome)
        attrs["_ssbscope_dataset"] = True
        if provenance is not None:
            attrs["provenance"] = json.dumps(_jsonable(dict(provenance)), sort_keys=True)
        for k, v in list(attrs.items()):
            if isinstance(v, (dict, list, tuple)) and k != "provenance":
                attrs[k] = json.dumps(_jsonable(v), sort_keys=True)
        ds.attrs = attrs
        _cite_papers(ds)  # readers see "Cao et al. 2023", never the papers' file ids
        # strip encodings inherited from a store we read (chunks may no longer match)
        for var in ds.variables.values():
            var.encoding = {}
        # declared images are stored in cubes, not slabs (ssbscope.ome.image_chunks): Dask
        # images split along y/x (their z blocks kept), NumPy images chunked on writing
        from ssbscope.ome import OME_ATTR, image_chunks

        for vname in list(ds.data_vars):
            if OME_ATTR in ds[vname].attrs and ds[vname].ndim >= 2:
                try:
                    ck = image_chunks(ds, vname)
                except ValueError:  # not an NGFF image: write_ome says so below
                    continue
                if ds[vname].chunks:
                    ds[vname] = ds[vname].chunk(dict(zip(ds[vname].dims, ck)))
                else:
                    ds[vname].encoding["chunks"] = ck
        # Zarr needs regular chunks (all equal but the last): regularise irregular Dask chunks
        for vname in list(ds.data_vars):
            chunks = ds[vname].chunks
            if chunks and any(len(set(c[:-1])) > 1 or (len(c) > 1 and c[-1] > c[0]) for c in chunks):
                ds[vname] = ds[vname].chunk({d: max(c) for d, c in zip(ds[vname].dims, chunks)})
        # label images go to the labels/ group of the image they were computed from (NGFF
        # labels, ssbscope.ome.label_placement); the dataset lists where (attrs["ome_labels"])
        # and read() puts them back
        ds, labels = self._split_labels(name, ds)
        old_labels = _label_paths(target) if target.is_dir() else []
        tmp_root = self.path / _META / "tmp"
        tmp_root.mkdir(parents=True, exist_ok=True)
        tmp = tmp_root / _tmp_name()
        scratch, kept = [], []
        try:
            # a Dask-backed image (e.g. a streamed reconstruction): its pyramid is written
            # in the same pass as the image, block by block (ssbscope.ome.write_ome)
            lazy = any("ome_image" in v.attrs and v.chunks for v in ds.data_vars.values())
            pending = ds.to_zarr(str(tmp), mode="w", consolidated=False, zarr_format=3,
                                 compute=not lazy)
            placed = []  # (label group written in scratch, image dataset, label name)
            for image, lname, sub in labels:
                ltmp = tmp_root / _tmp_name()
                scratch.append(ltmp)
                _write_label_group(name, ltmp, sub)
                placed.append((ltmp, image, lname))
            own = [(lt, ln) for lt, im, ln in placed if im == name]
            for lt, ln in own:
                (tmp / "labels").mkdir(exist_ok=True)
                os.replace(lt, tmp / "labels" / ln)
            # the labels of other datasets stored in this image are kept across its rewrite
            kept = _keep_labels(target / "labels", tmp / "labels") if target.is_dir() else []
            if own or kept:
                from ssbscope.ome import write_labels_group

                write_labels_group(tmp / "labels", [ln for _, ln in own] + [k[0] for k in kept])
            _finish_group(name, tmp, ds, pending if lazy else None)
            for lt, image, ln in placed:
                if image != name:
                    self._place_label(image, ln, lt)
            _fsync_tree(tmp)
            manifest = _manifest(tmp, at=target)
            self._ensure_parent_groups(name)
            self._manifest_path(name).unlink(missing_ok=True)  # never an old manifest for new files
            trash = None
            if target.exists():
                trash = tmp_root / _tmp_name("old")
                os.replace(target, trash)
            os.replace(tmp, target)
            kept = []
            if trash is not None:
                shutil.rmtree(trash, ignore_errors=True)
            _write_json_atomic(self._manifest_path(name), {"dataset": name, "files": manifest})
            self._consolidate(name)
            now = set(_label_paths(target))
            for lp in old_labels:  # label images this dataset no longer has
                if lp.startswith("..") and lp not in now:
                    self._drop_label(Path(os.path.normpath(target / lp)))
        except OSError as e:
            _restore_labels(kept)
            shutil.rmtree(tmp, ignore_errors=True)
            for d in scratch:
                shutil.rmtree(d, ignore_errors=True)
            raise StoreError(f"{self.path}: writing dataset {name!r} failed ({e}); "
                             "check free space and permissions") from e
        except BaseException:
            _restore_labels(kept)
            shutil.rmtree(tmp, ignore_errors=True)
            for d in scratch:
                shutil.rmtree(d, ignore_errors=True)
            raise

    def _split_labels(self, name: str, ds):
        """``ds`` without its placed label images (:func:`ssbscope.ome.label_placement`),
        ``attrs["ome_labels"]`` naming where each is stored (JSON ``{variable: path relative
        to the dataset}``), and ``[(image dataset, label name, one-variable dataset)]``."""
        from ssbscope.ome import image_summary, label_dataset, label_placement

        try:
            where = label_placement(name, ds)
        except ValueError as e:
            raise StoreError(f"dataset {name!r}: OME-Zarr label image: {e}") from None
        if not where:
            ds.attrs.pop("ome_labels", None)
            return ds, []
        out, rel = [], {}
        for vname, (image, lname) in where.items():
            if image != name and not self._has(image):
                raise StoreError(
                    f"dataset {name!r}: variable {vname!r} is a label image of {image!r} "
                    f"(ome_source), which is not in the store; write {image!r} first")
            if image == name and "labels" in ds.variables:
                raise StoreError(f"dataset {name!r}: a variable named 'labels' and label images "
                                 "(stored in the NGFF group 'labels/'); rename the variable")
            # the image's axes and levels: a label with fewer dimensions is broadcast along
            # the others, and gets the image's number of pyramid levels (NGFF)
            summary = image_summary(self._dir(image)) if image != name else None
            try:
                out.append((image, lname, label_dataset(ds, vname, lname, summary)))
            except ValueError as e:
                raise StoreError(f"dataset {name!r}: OME-Zarr label image {vname!r}: {e}") from None
            rel[vname] = posixpath.relpath(f"{image}/labels/{lname}", name)
        ds = ds.drop_vars(list(where))
        ds.attrs["ome_labels"] = json.dumps(rel, sort_keys=True)
        return ds, out

    def _place_label(self, image: str, lname: str, src: Path) -> None:
        """Move the label group ``src`` (written in scratch) to ``<image>/labels/<lname>``
        (replacing one there), list it in ``<image>/labels``, and refresh the image's
        consolidated metadata (its manifest entry for ``zarr.json`` follows) and the root's."""
        from ssbscope.ome import write_labels_group

        d = self._dir(image)
        dest = d / "labels" / lname
        (d / "labels").mkdir(exist_ok=True)
        trash = None
        if dest.exists():
            trash = self.path / _META / "tmp" / _tmp_name("old")
            os.replace(dest, trash)
        os.replace(src, dest)
        if trash is not None:
            shutil.rmtree(trash, ignore_errors=True)
        write_labels_group(d / "labels", [lname])
        self._refresh_image(image)

    def _ensure_parent_groups(self, name: str) -> None:
        parts = name.split("/")[:-1]
        cur = self.path
        for part in parts:
            cur = cur / part
            zj = cur / "zarr.json"
            if not zj.exists():
                cur.mkdir(parents=True, exist_ok=True)
                _write_json_atomic(zj, {"zarr_format": 3, "node_type": "group", "attributes": {}})

    def delete(self, name: str) -> None:
        """Remove a dataset and its manifest (atomic: renamed away first), and the label
        images it stored in other datasets' images (``<image>/labels/<name>``)."""
        target = self._dir(name)
        self._manifest_path(name).unlink(missing_ok=True)
        if not target.exists():
            return
        for lp in _label_paths(target):
            if lp.startswith(".."):
                self._drop_label(Path(os.path.normpath(target / lp)))
        trash = self.path / _META / "tmp" / _tmp_name("old")
        trash.parent.mkdir(parents=True, exist_ok=True)
        os.replace(target, trash)
        shutil.rmtree(trash, ignore_errors=True)
        parent = target.parent  # parent groups left empty (only their zarr.json) go too
        while parent != self.path and parent.is_dir() and \
                [c.name for c in parent.iterdir()] == ["zarr.json"]:
            (parent / "zarr.json").unlink(missing_ok=True)
            parent.rmdir()
            parent = parent.parent
        self._consolidate(name)

    def _drop_label(self, lpath: Path) -> None:
        """Remove the label group ``lpath`` (``<image>/labels/<name>``) from its image: its
        listing in ``labels/`` (the group itself when empty), the image's consolidated
        metadata and manifest entry, the root's."""
        from ssbscope.ome import write_labels_group

        labels, img = lpath.parent, lpath.parent.parent
        if lpath.exists():
            trash = self.path / _META / "tmp" / _tmp_name("old")
            os.replace(lpath, trash)
            shutil.rmtree(trash, ignore_errors=True)
        if labels.is_dir():
            if write_labels_group(labels, [])["labels"] == []:
                shutil.rmtree(labels, ignore_errors=True)
        image = img.relative_to(self.path).as_posix()
        if img.is_dir() and self._has(image):
            self._refresh_image(image)

    def _refresh_image(self, image: str) -> None:
        """After its ``labels/`` group changed: the image's consolidated metadata, its
        manifest entry for ``zarr.json`` (the labels are not part of its manifest) and the
        root's consolidated metadata."""
        d = self._dir(image)
        _consolidate_quietly(d)
        man = self.manifest(image)
        if man is not None and isinstance(man.get("files"), dict) and "zarr.json" in man["files"]:
            zj = d / "zarr.json"
            man["files"]["zarr.json"] = {"size": zj.stat().st_size, "sha256": sha256_file(zj)}
            _write_json_atomic(self._manifest_path(image), man)
        self._consolidate(image)

    def _consolidate(self, name: str | None = None) -> None:
        """Refresh the consolidated metadata in the root ``zarr.json`` (so that Zarr and
        xarray open the store, or any group by path from the root, without listing it).

        With ``name``, only that dataset's entries (and its parent groups') are replaced, in
        the layout ``zarr.consolidate_metadata`` writes (one flat ``metadata`` dict keyed by
        path; groups with empty inline metadata of their own): a write costs the size of
        its dataset, not of the store.  Without it (or when the root has none yet), Zarr
        consolidates the whole hierarchy.
        """
        try:
            self._consolidate_inner(name)
        except (OSError, ValueError) as e:  # a convenience for readers: never fails a write
            log.warning("%s: consolidated metadata not refreshed (%s); readers list the "
                        "hierarchy instead", self.path, e)

    def _consolidate_inner(self, name: str | None) -> None:
        root = self.path / "zarr.json"
        meta = json.loads(root.read_text(encoding="utf-8"))
        cm = meta.get("consolidated_metadata")
        if name is None or not isinstance(cm, dict) or not isinstance(cm.get("metadata"), dict):
            _consolidate_quietly(self.path)
            return
        empty = {"kind": "inline", "must_understand": False, "metadata": {}}

        def node(zj: Path) -> dict:
            m = json.loads(zj.read_text(encoding="utf-8"))
            if m.get("node_type") == "group":
                m["consolidated_metadata"] = dict(empty)
            return m

        md = {k: v for k, v in cm["metadata"].items() if k != name and not k.startswith(name + "/")}
        for i in range(1, len(name.split("/"))):  # parent groups removed with the dataset
            key = "/".join(name.split("/")[:i])
            if key in md and not self.path.joinpath(key, "zarr.json").is_file():
                md = {k: v for k, v in md.items() if k != key and not k.startswith(key + "/")}
        parts = name.split("/")
        for i in range(1, len(parts)):
            key = "/".join(parts[:i])
            zj = self.path.joinpath(*parts[:i], "zarr.json")
            if key not in md and zj.is_file():
                md[key] = node(zj)
        d = self._dir(name)
        if d.is_dir():
            for zj in sorted(d.rglob("zarr.json")):
                md[zj.parent.relative_to(self.path).as_posix()] = node(zj)
        meta["consolidated_metadata"] = {**empty, "metadata": dict(sorted(md.items()))}
        _write_text_atomic(root, _consolidated_text(str(self.path), meta))

    def ome_images(self) -> list[str]:
        """Names of the datasets that are OME-Zarr (NGFF 0.5) images or label images
        (open ``store.path / name`` with ``ome_zarr.reader.Reader`` or napari)."""
        from ssbscope.ome import ome_metadata

        return [n for n in self.names() if (ome_metadata(self._dir(n)) or {}).get("multiscales")]

    # ------------------------------------------------------------------ integrity
    def _manifest_path(self, name: str) -> Path:
        self._dir(name)  # validates the name
        return self.path / _META / "checksums" / (name + ".json")

    def manifest(self, name: str) -> dict | None:
        """The recorded manifest of a dataset (``{"dataset", "files": {relpath: {"size",
        "sha256"}}}``), or None when none was recorded."""
        f = self._manifest_path(name)
        try:
            return json.loads(f.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None

    def verify(self, name: str, *, full: bool = False) -> list[str]:
        """Problems of one dataset against its manifest (empty list: it verifies).

        Parameters
        ----------
        name : str
        full : bool or "auto"
            True: also compare every file's sha256 (reads all data); False (default): names
            and sizes only; ``"auto"`` (used on resume): sha256 too when the dataset holds at
            most :data:`AUTO_HASH_BYTES` (a same-size corruption of a large volume is then
            found by ``ssbscope check`` only).
        """
        man = self.manifest(name)
        d = self._dir(name)
        if man is None or not isinstance(man.get("files"), dict):
            return [f"{name}: no checksum manifest recorded (written by an older ssbscope or "
                    "interrupted); re-run the experiment to rewrite it"]
        if not d.is_dir():
            return [f"{name}: dataset directory is missing"]
        if man.get("damaged"):  # found by `ssbscope check` (e.g. a same-size change that a
            # resume, comparing sizes only for a large dataset, would not see)
            return [f"{name}: marked damaged by ssbscope check ({man['damaged'][0]})"]
        rec = man["files"]
        have = _manifest(d, hashes=False)
        if full == "auto":
            full = sum(int(v.get("size") or 0) for v in rec.values()) <= AUTO_HASH_BYTES
        out = []
        for rel in sorted(set(rec) - set(have)):
            out.append(f"{name}: file {rel} is missing")
        for rel in sorted(set(have) - set(rec)):
            out.append(f"{name}: file {rel} is not in the manifest (extra)")
        for rel in sorted(set(rec) & set(have)):
            if rec[rel].get("size") != have[rel]["size"]:
                out.append(f"{name}: file {rel} has {have[rel]['size']} bytes, manifest "
                           f"{rec[rel].get('size')}")
            elif full and sha256_file(d / rel) != rec[rel].get("sha256"):
                out.append(f"{name}: file {rel} content changed (sha256 differs from the manifest)")
        return out

    def check(self, *, mark: bool = False) -> list[str]:
        """Every integrity problem of the store (empty list: it verifies).

        Each dataset is compared with its manifest (missing, extra and resized files,
        sha256); each finished stage's outputs must exist; each manifest must have its
        dataset.  Used by ``ssbscope check STORE``.

        Parameters
        ----------
        mark : bool
            Record each damaged dataset in its manifest (``"damaged"``), so that the next run
            recomputes it even where a resume compares sizes only (datasets above
            :data:`AUTO_HASH_BYTES`). The caller holds the store's lock.
        """
        problems: list[str] = []
        names = self.names()
        for name in names:
            bad = self.verify(name, full=True)
            problems += bad
            man = self.manifest(name) if (mark and bad) else None
            if man is not None and isinstance(man.get("files"), dict) and not man.get("damaged"):
                man["damaged"] = [b.split(": ", 1)[-1] for b in bad][:5]
                _write_json_atomic(self._manifest_path(name), man)
        croot = self.path / _META / "checksums"
        if croot.is_dir():
            for f in sorted(croot.rglob("*.json")):
                if f.name.startswith("."):
                    continue
                name = f.relative_to(croot).with_suffix("").as_posix()
                if name not in names:
                    problems.append(f"{name}: checksum manifest recorded but the dataset is missing")
        sroot = self.path / _META / "stages"
        if sroot.is_dir():
            for f in sorted(sroot.glob("*.json")):
                if f.name.startswith("."):
                    continue
                rec = self.stage_record(f.stem)
                if rec is None:
                    problems.append(f"stage {f.stem}: record unreadable")
                    continue
                for o in rec.get("outputs", []):
                    if o not in names:
                        problems.append(f"stage {f.stem}: output {o} is missing")
        return problems

    # ------------------------------------------------------------------ lock
    @contextlib.contextmanager
    def lock(self):
        """Hold the store's exclusive write lock (re-entrant within one process).

        The lock is an ``fcntl.flock`` on ``.ssbscope/lock``, which records the holder's pid
        and host.  The kernel drops it when the holder dies (even by ``kill -9``), so a stale
        lock file of a dead run is simply taken over.

        Raises
        ------
        StoreLockedError
            Another live process holds the lock; the message names its pid and host.
        """
        import fcntl

        key = str(self.path.resolve())
        held = _LOCKS.get(key)
        if held is not None:
            held[1] += 1
            try:
                yield self
            finally:
                held[1] -= 1
            return
        f = self.path / _META / "lock"
        f.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(f, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            try:
                holder = json.loads(os.pread(fd, 4096, 0).decode("utf-8", "replace") or "{}")
            except ValueError:
                holder = {}
            os.close(fd)
            raise StoreLockedError(
                f"{self.path}: another ssbscope run (pid {holder.get('pid', '?')} on host "
                f"{holder.get('host', '?')}) is writing this store; wait for it to finish, or "
                "choose another --out") from None
        try:
            prev = json.loads(os.pread(fd, 4096, 0).decode("utf-8", "replace") or "{}")
        except ValueError:
            prev = {}
        if prev.get("pid"):
            log.warning("%s: taking over the lock left by pid %s on host %s (that run ended "
                        "without releasing it, e.g. killed)", self.path, prev.get("pid"), prev.get("host"))
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps({"pid": os.getpid(), "host": socket.gethostname(),
                                  "since_utc": _utc_now()}).encode(), 0)
        _LOCKS[key] = [fd, 1]
        try:
            yield self
        finally:
            _LOCKS.pop(key, None)
            try:
                os.ftruncate(fd, 0)
            finally:
                os.close(fd)  # closing the descriptor releases the flock

    # ------------------------------------------------------------------ stage records
    def stage_record(self, stage: str) -> dict | None:
        """The record of a finished stage, or None."""
        f = self.path / _META / "stages" / f"{stage}.json"
        if not f.exists():
            return None
        try:
            return json.loads(f.read_text(encoding="utf-8"))
        except ValueError:
            return None

    def mark_stage_done(self, stage: str, record: Mapping[str, Any]) -> None:
        """Record a finished stage (atomic)."""
        _write_json_atomic(self.path / _META / "stages" / f"{stage}.json", _jsonable(dict(record)))

    def clear_stage(self, stage: str) -> None:
        """Forget a stage's record so the next run recomputes it."""
        f = self.path / _META / "stages" / f"{stage}.json"
        if f.exists():
            f.unlink()

    def cleanup_tmp(self) -> None:
        """Remove leftovers of interrupted writes: only those of dead processes.

        Scratch names start with the writing process's pid (``<pid>-<hex>``); an entry whose
        process is alive (another writer, or this process) is left alone.  Entries without a
        pid (older ssbscope) are removed only while this process holds :meth:`lock`.
        """
        tmp_root = self.path / _META / "tmp"
        if not tmp_root.exists():
            return
        locked = str(self.path.resolve()) in _LOCKS
        for child in tmp_root.iterdir():
            pid = _tmp_pid(child.name)
            if pid is None:
                if not locked:
                    continue
            elif pid == os.getpid() or _pid_alive(pid):
                continue
            shutil.rmtree(child, ignore_errors=True) if child.is_dir() else child.unlink(missing_ok=True)
