"""OME-Zarr (NGFF 0.5) metadata and pyramids for the images of a store.

A stage declares which variables of a dataset are images by a variable attribute::

    ds["volume"].attrs["ome_image"] = "image"   # grey values (mean-downsampled pyramid)
    ds["labels"].attrs["ome_image"] = "label"   # label image (nearest-downsampled pyramid)

:meth:`ssbscope.store.Store.write` then calls :func:`write_ome` on the freshly written
dataset group: the group itself becomes an NGFF image (``attributes["ome"]`` with
``version: "0.5"`` and ``multiscales``) whose level-0 ``path`` is the variable's own array,
and the coarser levels are arrays in subgroups, ``s1/<var>``, ``s2/<var>``, ... (the
``datasets[].path`` of the multiscale).  Every level's Zarr ``dimension_names`` are the axes'
names, which are the variable's own dimensions (NGFF 0.5 requires the two to match), each at
its own size; the subgroups are not part of the xarray dataset, so the group stays the
dataset it was: :meth:`Store.read` returns the same variables and dimensions (the ``ome``
attribute hidden).  A data variable may therefore not be named ``s1``, ``s2``, ...

Axes (:func:`axes_of`), in NGFF order (time, channel, space), named as the variable's
dimensions (``time_s``, ``state``, ``component``, ``block_row`` ...; NGFF 0.5 axis names are
free unique strings, the ``type`` and ``unit`` say what they are):

* time (type ``time``): the dimension ``time_s``, or a dimension along which a numeric coordinate named
  ``time_s`` or ``time_s_<...>`` runs (``state`` with ``time_s`` of the XCS maps, ``bin`` with
  ``time_s_bin`` of a neutron radiograph series).  Its scale is the time step in seconds and its
  translation the first time when the times are finite and evenly spaced (within 0.1 %); else
  the axis is an index (scale 1, no unit).  The times themselves are listed in the multiscale's
  ``metadata["time_s"]`` either way.
* space (type ``space``; role ``z``, ``y``, ``x``): dimensions of those names, or a dimension along which a numeric
  coordinate named ``z_<unit>``, ``y_<unit>`` or ``x_<unit>`` runs (``y_mm`` along
  ``block_row`` of the XCS maps).  Unit micrometer; scale and translation from a coordinate in
  um/mm/nm (the dimension's own, or ``<dim>_<unit>`` / ``<axis>_<unit>`` along it; a decreasing
  coordinate, such as the pinhole-inverted ``y_mm`` of the XCS maps, gives a negative scale, so
  that the image's physical coordinates are the dataset's), else ``voxel_size_um`` or
  ``pixel_size_um`` of the variable or dataset (translation: half a voxel, the centre of the
  first); with neither, scale 1 and no unit.  Scales and translations are stored rounded to
  12 significant digits (coordinate differences carry floating-point noise: 3.24 um voxel
  centres differ by 3.240000000000009).
* channel (type ``channel``): any other dimension (``interface`` of the tomo maps, ``component`` of the XCS
  maps).  NGFF allows one time and one channel axis, so an image has at most one dimension of
  each; the labels of the channel and time dimensions (their coordinate values) are listed in
  ``metadata["axis_labels"]``.

A dataset with several declared images lists them all in ``multiscales``; readers (ome-zarr-py,
napari) show the first: an unplaced label image (see below), else the variable named by the
dataset attribute ``ome_default``, else the first by name.

Label images are NGFF 0.5 labels of the image they were computed from
(:func:`label_placement`): the image named by the variable's ``attrs["ome_source"]`` (a
dataset, relative to the label's: ``"../volumes"`` for ``tomo/<series>/labels``), else the
image of the same dataset (the masks of ``neutron/ct``).  :meth:`ssbscope.store.Store.write`
stores each as the group ``<image>/labels/<label name>`` (``attrs["ome_label_name"]``, else
the variable's name), listed in ``<image>/labels`` (``{"ome": {"version": "0.5", "labels":
[...]}}``, :func:`write_labels_group`): a multiscale image with the image's axes, scale and
pyramid levels (nearest: every second voxel; stored as ``<label>``, ``<label>_s1``, ... in its
group, which holds nothing else), integer dtype (a boolean mask as uint8 0/1),
Zarr ``dimension_names`` equal to the axes' names, and ``image-label`` with ``source``
``{"image": "../../"}``, ``colors`` (RGBA per label value: the variable's ``label_rgba``, else
:data:`LABEL_RGBA`, 0 transparent)
and, when the variable names its values (``label_values``/``label_names``: the phases of a
tomo segmentation), ``properties``; and ``omero`` with one ``active`` channel, so that
napari shows them when it opens the image (:func:`label_omero`).  ome-zarr-py's ``Reader``
and napari open them with the image.  The dataset of the label keeps reading it (``Store.read``).  Viewers draw value 0 as
background: a label whose 0 is a label of its own (the darkest phase of a tomo segmentation)
is stored with codes (``ome_label_stored``: phase index + 1, 0 only for the background
outside a mask, :func:`label_dataset`) and read back as it was (:func:`decode_label`).  A
label with fewer dimensions than its image (the 2-D ``cell_mask`` of a volume series) gets
the others by broadcasting (the same voxels as the image's; :func:`label_dataset`).  A label image with no
image (no ``ome_source`` and none beside it) stays what it was: its dataset group is the
label image (``image-label`` without ``source``).

Images of the areas: tomo volumes, labels and height/thickness maps (``time_s`` -> t,
``interface``/``layer`` -> c); neutron CT volumes; the XCS EMF maps ``compton/<series>/maps``
(``emf`` shown first, ``emf_unc``; state -> t by its ``time_s``, an index when the states' times
are uneven or unknown, component -> c, block_row/block_col -> y/x by ``y_mm``/``x_mm``: one
image per variable, since (state x component) fills NGFF's one time and one channel axis; only
with the pinhole geometry, without which the blocks have no size in the sheet); the neutron
radiograph series ``neutron/input/<label>`` (``transmission_ratio`` or ``count_ratio`` shown
first, ``<var>_binned``, ``li_thickness_change_um``; bin -> t by ``time_s_bin``, y/x by
``pixel_size_um``).  Not images: the unbinned frames (left out so as not to write a pyramid of
every frame), the XCS cubes (row x col x energy: energy would have to come before the space
axes) and the space-time maps (bin x y: one spatial axis, NGFF needs two or three).

The store's root is a plain Zarr group: NGFF 0.5 has no collection of images at arbitrary
paths that ome-zarr-py's ``Reader`` follows (the bioformats2raw layout wants images at ``0/``,
``1/``, ... and only ome-zarr-py's ``find_multiscales`` reads it), so images are listed with
:meth:`ssbscope.store.Store.ome_images` and opened one by one.

Every image gets at least one coarser level (so that viewers always see a pyramid) and more
until the largest spatial extent is at most :data:`PYRAMID_MAX_EXTENT` voxels; each level
halves every spatial axis longer than one voxel (``factor`` per axis in the scale).  Levels
are computed chunk-wise with Dask from the level above as written on disk; for a Dask-backed
image written lazily (:meth:`ssbscope.store.Store.write` passes the deferred ``to_zarr`` as
``pending``), the levels are computed in the same pass as level 0: each block (e.g. a slab
of a streamed reconstruction, :func:`ssbscope.tomo.stream.stream_reconstruct`, whose
blocks hold a multiple of :func:`pyramid_factor` rows) is written and downsampled as soon as
it is computed, never read back, with the same chunks, so the levels equal the ones computed
from disk bit for bit.

Examples
--------
>>> from ome_zarr.io import parse_url                     # doctest: +SKIP
>>> from ome_zarr.reader import Reader                    # doctest: +SKIP
>>> st = ssbscope.open("out/store.zarr")                  # doctest: +SKIP
>>> for name in st.ome_images():                          # doctest: +SKIP
...     node = next(iter(Reader(parse_url(st.path / name))()))
...     print(name, node.metadata["coordinateTransformations"][0])
"""

from __future__ import annotations

import functools
import json
import logging
import math
import os
from pathlib import Path

import numpy as np

__all__ = ["OME_ATTR", "NGFF_VERSION", "PYRAMID_MAX_EXTENT", "CUBE_SIDE", "write_ome",
           "ome_metadata", "pyramid_paths", "level_group", "axes_of", "pyramid_factor", "tile_px",
           "image_chunks", "label_placement", "label_dataset", "decode_label", "image_summary",
           "write_labels_group", "label_omero", "LABEL_CODE_ATTRS", "with_space_coords"]

log = logging.getLogger(__name__)

#: variable attribute declaring an image: "image" or "label"
OME_ATTR = "ome_image"
#: the OME-Zarr (NGFF) version written (Zarr v3: the metadata under ``attributes["ome"]``)
NGFF_VERSION = "0.5"
#: extra pyramid levels are added until the largest spatial extent is at most this (voxels)
PYRAMID_MAX_EXTENT = 256
_MAX_LEVELS = 8
_SPACE = ("z", "y", "x")
_LENGTH_UNITS = {"um": 1.0, "micrometer": 1.0, "µm": 1.0, "mm": 1e3, "nm": 1e-3}


_TIME_TOL = 1e-3
#: Side of the stored chunk cube of an image (voxels): a chunk holds about ``CUBE_SIDE ** 3``
#: voxels (8 MiB of float32), with at most ``CUBE_SIDE`` slices along z.
CUBE_SIDE = 128


def tile_px(z_chunk: int) -> int:
    """(y, x) side of a stored chunk whose z extent is ``z_chunk`` slices: the power of two
    that keeps the chunk at about ``CUBE_SIDE ** 3`` voxels (128 for 128 slices, 128 for 64,
    256 for 16-32, 1024 for one slice or a 2-D image)."""
    v = CUBE_SIDE ** 3 / max(1, int(z_chunk))
    return int(2 ** max(4, math.floor(math.log2(math.sqrt(v)))))


def _z_chunk(cz: int) -> int:
    """A z chunk of at most :data:`CUBE_SIDE` slices that divides ``cz`` (the producer's
    blocks: a stored chunk never spans two of them), else :data:`CUBE_SIDE`."""
    cz = max(1, int(cz))
    if cz <= CUBE_SIDE:
        return cz
    d = max(k for k in range(1, CUBE_SIDE + 1) if cz % k == 0)
    return d if d >= CUBE_SIDE // 2 else CUBE_SIDE


def image_chunks(ds, vname) -> tuple[int, ...]:
    """Chunk shape in which :meth:`ssbscope.store.Store.write` stores a declared image.

    Cubes rather than slabs, so that a viewer (or a chunked analysis) reading any plane or
    sub-volume reads few chunks: along z the producer's chunk (a Dask image's first spatial
    chunk, e.g. a streamed reconstruction's block of rows; :func:`_z_chunk` when larger than
    :data:`CUBE_SIDE`), else :data:`CUBE_SIDE`; along y and x :func:`tile_px` of it; one
    per time or channel.  For a Dask image the new chunks only split the old ones along y/x
    (each block is still written by the task that computes it, and blocks never share a
    chunk), so memory stays what the producer planned.

    Parameters
    ----------
    ds : xarray.Dataset
    vname : str
        A variable with two or three spatial axes (:func:`axes_of`).

    Returns
    -------
    tuple of int
        One chunk size per dimension, each at most the dimension's length (and >= 1).
    """
    var = ds[vname]
    axes = axes_of(var.dims, ds)
    space = [i for i, a in enumerate(axes) if a["type"] == "space"]
    chunks = var.chunks
    out = [1] * var.ndim
    if len(space) == 3:
        z = space[0]
        cz = max(chunks[z]) if chunks else CUBE_SIDE
        out[z] = _z_chunk(cz)
        t = tile_px(out[z])
        rest = space[1:]
    else:
        t = tile_px(1)
        rest = space
    for i in rest:
        out[i] = t
    return tuple(max(1, min(int(c), int(n))) for c, n in zip(out, var.shape))


def _numeric_1d(ds, name, dim) -> bool:
    # (``coords.get`` of a dimension without a coordinate gives its index: not a coordinate)
    c = ds.coords[name] if ds is not None and name in ds.coords else None
    return c is not None and c.dims == (dim,) and c.dtype.kind in "fiu"


def _time_coord(ds, dim):
    """The coordinate giving the times (s) of ``dim``, or None when ``dim`` is not time-like."""
    if ds is None:
        return None
    names = [dim] if dim == "time_s" else []
    names += ["time_s"] + sorted(str(n) for n in ds.coords if str(n).startswith("time_s_"))
    for n in names:
        if _numeric_1d(ds, n, dim):
            return ds.coords[n]
    return None


def _space_name(ds, dim):
    """``z``/``y``/``x`` for a spatial dimension (by name, or by a ``<axis>_<unit>``
    coordinate along it), else None."""
    if dim in _SPACE:
        return dim
    if ds is None:
        return None
    for a in _SPACE:
        for n in ds.coords:
            n = str(n)
            if n.startswith(a + "_") and n[2:] in _LENGTH_UNITS and _numeric_1d(ds, n, dim):
                return a
    return None


def with_space_coords(ds):
    """``ds`` with a physical coordinate on every spatial dimension of its declared images.

    A declared image (``attrs["ome_image"]``) whose ``z``/``y``/``x`` dimension has no
    coordinate along it gets ``<dim>_um`` = ``(i + 0.5) * voxel_size_um`` (the voxel centres,
    ``voxel_size_um`` or ``pixel_size_um`` of the variable or dataset): the same numbers as the
    NGFF ``scale``/``translation`` written for it (:func:`_spacing`), so that xarray users
    (``ds.sel(z_um=...)``, plots with physical axes) and viewers agree.  Dimensions that
    already have a coordinate, or images without a known voxel size, are left alone.

    Parameters
    ----------
    ds : xarray.Dataset

    Returns
    -------
    xarray.Dataset
        ``ds`` itself when nothing is added, else a shallow copy with the coordinates.
    """
    add = {}
    for var in ds.data_vars.values():
        if OME_ATTR not in var.attrs:
            continue
        vs = _voxel_size(ds, var)
        if vs is None:
            continue
        for d in var.dims:
            name = f"{d}_um"
            if (d not in _SPACE or name in add or name in ds.variables
                    or any(c.dims == (d,) for c in ds.coords.values())):
                continue
            add[name] = (d, (np.arange(ds.sizes[d]) + 0.5) * vs,
                         {"units": "um", "long_name": f"{d} (voxel centre)"})
    return ds.assign_coords(add) if add else ds


def axes_of(dims, ds=None) -> list[dict]:
    """NGFF axes of a variable's dimensions (see the module docstring).

    Parameters
    ----------
    dims : sequence of str
        The variable's dimensions.
    ds : xarray.Dataset, optional
        Its dataset: coordinates make a dimension time-like (a ``time_s``/``time_s_<...>``
        coordinate along it) or spatial (a ``z_/y_/x_<length unit>`` coordinate along it).
        Without it, only the names ``time_s`` and ``z``, ``y``, ``x`` count.

    Raises
    ------
    ValueError
        If the dimensions are not in NGFF order (time, channel, space), have more than one
        time or channel dimension, repeat a spatial axis, or have not two or three spatial axes.
    """
    axes, kinds, roles = [], [], []
    for d in dims:
        sp = _space_name(ds, d)
        if sp is not None:
            axes.append({"name": str(d), "type": "space"}); kinds.append(2); roles.append(sp)
        elif d == "time_s" or _time_coord(ds, d) is not None:
            axes.append({"name": str(d), "type": "time"}); kinds.append(0); roles.append("t")
        else:
            axes.append({"name": str(d), "type": "channel"}); kinds.append(1); roles.append("c")
    names = [r for r, k in zip(roles, kinds) if k == 2]
    if (kinds != sorted(kinds) or kinds.count(0) > 1 or kinds.count(1) > 1
            or kinds.count(2) not in (2, 3) or len(set(names)) != len(names)):
        raise ValueError(f"dimensions {tuple(dims)} (axes {roles}) are not "
                         "(time?, channel?, [z,] y, x)")
    return axes


def _clean(x: float) -> float:
    """``x`` rounded to 12 significant digits: a scale or translation from coordinate
    differences (``(i + 0.5) * 3.24`` gives steps of 3.240000000000009) is stored as the
    number it stands for; 12 digits are far below any voxel size's or time's precision."""
    x = float(x)
    return float(f"{x:.12g}") if math.isfinite(x) else x


def _time_spacing(c):
    """(scale_s, translation_s, known) of a time coordinate: known when the times are finite
    and evenly spaced (see the module docstring)."""
    if c is None:
        return 1.0, 0.0, False
    v = np.asarray(c.values, float)
    if v.size < 1 or not np.all(np.isfinite(v)):
        return 1.0, 0.0, False
    if v.size == 1:
        return 1.0, float(v[0]), True
    d = np.diff(v)
    step = float(np.median(d))
    if step > 0 and np.all(np.abs(d - step) <= _TIME_TOL * step):
        return step, float(v[0]), True
    return 1.0, 0.0, False


def _spacing(ds, var, dim, axis=None):
    """(scale_um, translation_um) of spatial ``dim`` (NGFF axis ``axis``) or (None, 0.0)."""
    axis = axis or dim
    cands = []
    if dim in ds.coords and ds[dim].dims == (dim,):
        cands.append(ds[dim])
    for name, c in ds.coords.items():
        if (name != dim and c.dims == (dim,)
                and (str(name).startswith(dim + "_") or str(name).startswith(axis + "_"))):
            cands.append(c)
    for c in cands:
        suffix = str(c.name).rsplit("_", 1)[-1]
        unit = str(c.attrs.get("units", suffix if suffix in _LENGTH_UNITS else ""))
        f = _LENGTH_UNITS.get(unit)
        if f is None or c.dtype.kind not in "fiu" or c.size < 1:
            continue
        v = np.asarray(c.values, float) * f
        if v.size >= 2:
            step = float(np.median(np.diff(v)))
            if np.isfinite(step) and step != 0 and np.isfinite(v[0]):
                return step, float(v[0])
        elif v.size == 1:
            vs = _voxel_size(ds, var)
            if vs is not None:
                return vs, float(v[0])
    vs = _voxel_size(ds, var)
    # ssbscope's convention: voxel i spans [i, i + 1) voxel sizes, its centre at (i + 0.5) * vs
    return (vs, vs / 2) if vs is not None else (None, 0.0)


def _voxel_size(ds, var):
    for attrs in (var.attrs, ds.attrs):
        for key in ("voxel_size_um", "pixel_size_um"):
            try:
                vs = float(attrs.get(key))
            except (TypeError, ValueError):
                continue
            if math.isfinite(vs) and vs > 0:
                return vs
    return None


def _n_levels(shape, space_idx) -> int:
    ext = max(shape[i] for i in space_idx)
    n = 1
    while n < _MAX_LEVELS and math.ceil(ext / 2 ** n) > PYRAMID_MAX_EXTENT:
        n += 1
    return n


def pyramid_factor(shape) -> int:
    """How many voxels of the first axis of a (Z, Y, X) image the coarsest pyramid level
    merges into one (``2 ** levels``, or fewer when the axis is short): blocks of a
    multiple of it along z are downsampled without their neighbours."""
    shape = tuple(int(n) for n in shape)
    f, n = 1, shape[0]
    for _ in range(_n_levels(shape, list(range(len(shape))))):
        if n >= 2:
            f, n = 2 * f, n // 2
    return f


def _downsample(arr, space_idx, kind):
    """Halve every spatial axis longer than one voxel (mean for grey images, nearest for
    labels and integer images); returns (dask array, per-axis factor)."""
    import dask.array as da

    factor = [2 if (i in space_idx and arr.shape[i] >= 2) else 1 for i in range(arr.ndim)]
    if kind == "label" or arr.dtype.kind not in "fc":
        out = arr[tuple(slice(None, (n // f) * f, f) for n, f in zip(arr.shape, factor))]
    else:
        trimmed = arr[tuple(slice(0, (n // f) * f) for n, f in zip(arr.shape, factor))]
        out = da.coarsen(np.mean, trimmed, {i: f for i, f in enumerate(factor) if f > 1},
                         trim_excess=True).astype(arr.dtype)
    return out, factor


def label_placement(name: str, ds) -> dict[str, tuple[str, str]]:
    """Where the declared label images of dataset ``name`` are stored as NGFF labels.

    A variable declared ``attrs["ome_image"] = "label"`` is a label of the image it was
    computed from: the dataset named by ``attrs["ome_source"]`` (of the variable, else of the
    dataset; relative to ``name``, e.g. ``"../volumes"``), else ``name`` itself when ``ds``
    declares an image.  It is stored as the multiscale label image
    ``<image>/labels/<label name>`` (the label name: ``attrs["ome_label_name"]``, else the
    variable's name; ``label`` for a variable named ``labels``, the name NGFF gives the
    labels group), listed in ``<image>/labels`` (NGFF 0.5 "labels").  A label with no
    image (no ``ome_source`` and no image beside it) is not placed: its dataset group itself
    is the label image, as before.

    Returns
    -------
    dict
        ``{variable: (image dataset name, label name)}``.

    Raises
    ------
    ValueError
        An ``ome_source`` leading out of the store, or two labels of one image with one name.
    """
    import posixpath

    has_image = any(ds[v].attrs.get(OME_ATTR) == "image" for v in ds.data_vars)
    out, seen = {}, set()
    for v in sorted(ds.data_vars, key=str):
        if ds[v].attrs.get(OME_ATTR) != "label":
            continue
        src = ds[v].attrs.get("ome_source") or ds.attrs.get("ome_source")
        if src:
            image = posixpath.normpath(posixpath.join(name, str(src)))
            if image.startswith("..") or image.startswith("/") or image == ".":
                raise ValueError(f"variable {v!r}: ome_source {src!r} leads out of the store")
        elif has_image:
            image = name
        else:
            continue
        # "labels" is NGFF's name of the labels group: no array of an image may have it
        lname = str(ds[v].attrs.get("ome_label_name") or (v if v != "labels" else "label"))
        if lname == "labels" or "/" in lname:
            raise ValueError(f"variable {v!r}: label name {lname!r}; NGFF reserves 'labels' "
                             "(set attrs['ome_label_name'])")
        if (image, lname) in seen:
            raise ValueError(f"variable {v!r}: a second label named {lname!r} of image {image!r}")
        seen.add((image, lname))
        out[str(v)] = (image, lname)
    return out


#: variable attributes of a label image that set how its values are stored (:func:`label_dataset`)
LABEL_CODE_ATTRS = ("ome_label_stored", "ome_label_mask", "ome_label_background",
                    "ome_label_outside")


def _code_table(values, stored, dtype):
    """Lookup table value -> NGFF value over every value of ``dtype`` (-1: a value that can
    not be stored: 0, or the code of a listed value, for a value that is not listed)."""
    dtype = np.dtype(dtype)
    if dtype.kind != "u" or dtype.itemsize > 2:
        raise ValueError(f"ome_label_stored needs 8- or 16-bit unsigned labels, not {dtype}")
    info = np.iinfo(dtype)
    vals = [int(v) for v in values]
    codes = [int(c) for c in stored]
    if len(vals) != len(codes) or len(set(vals)) != len(vals) or len(set(codes)) != len(codes):
        raise ValueError(f"ome_label_stored {codes}: one distinct code per label_values entry "
                         f"{vals}")
    if any(c <= 0 or c > info.max for c in codes) or any(not info.min <= v <= info.max
                                                         for v in vals):
        raise ValueError(f"ome_label_stored {codes}: codes must be 1..{info.max} (0 is the "
                         "background: outside ome_label_mask, or no label)")
    lut = np.arange(info.min, info.max + 1, dtype=np.int64)  # unlisted values: themselves
    taken = set(codes) | {0}
    lut[np.isin(lut, list(taken))] = -1  # ... unless that is a listed value's code or 0
    lut[np.asarray(vals) - info.min] = codes
    return lut, int(info.min)


_LUT_PIECE = 1 << 16  # voxels looked up at once (the index array numpy makes: 512 KiB)


def _lookup(block, lut, lo):
    """``lut[block - lo]`` in the block's dtype, a piece at a time (no index array of the
    whole block: numpy converts indices to intp, 8 bytes a voxel); -1 entries of ``lut``
    raise."""
    block = np.asarray(block)
    table = np.where(lut >= 0, lut, 0).astype(block.dtype)
    flat = block.reshape(-1)
    out = np.empty_like(flat)
    for i in range(0, flat.size, _LUT_PIECE):
        idx = flat[i:i + _LUT_PIECE]
        idx = idx if lo == 0 else idx.astype(np.int32) - lo
        bad = lut[idx] < 0
        if bad.any():
            vals = sorted(set(flat[i:i + _LUT_PIECE][bad].tolist()))[:8]
            raise ValueError(f"label value(s) {vals} are not in label_values and collide with "
                             "a stored code; list them in label_values / ome_label_stored")
        out[i:i + _LUT_PIECE] = table[idx]
    return out.reshape(block.shape)


def _encode_block(block, lut, lo, outside=None, background=None):
    """NGFF values of a block of dataset label values (see :func:`label_dataset`)."""
    out = _lookup(block, lut, lo)
    if outside is not None:
        out[np.broadcast_to(outside, block.shape) & (block == background)] = 0
    return out


def _encode_masked(block, outside, *, lut, lo, background):
    return _encode_block(block, lut, lo, outside, background)


def _decode_table(attrs, dtype):
    """Lookup table NGFF value -> dataset value of a label stored with codes (the inverse of
    :func:`_code_table`; 0 -> the background value)."""
    vals = attr_ints(attrs.get("ssbscope_label_values"))
    codes = attr_ints(attrs.get("ssbscope_label_stored"))
    lut, lo = _code_table(vals, codes, dtype)
    inv = np.arange(lo, lo + lut.size, dtype=np.int64)
    inv[np.asarray(codes) - lo] = vals
    inv[0 - lo] = int(attrs.get("ssbscope_label_background", vals[0] if vals else 0))
    return inv, lo


def attr_ints(value) -> list[int]:
    """A list of ints from an attribute read back from Zarr (list, array, scalar or JSON)."""
    if value is None:
        return []
    if isinstance(value, str):
        value = json.loads(value)
    return [int(v) for v in np.atleast_1d(value)]


def decode_label(data, attrs: dict):
    """Dataset label values of a label image's stored (NGFF) values, and its attributes
    without the ``ssbscope_label_*`` bookkeeping.

    The inverse of :func:`label_dataset`: a label written with ``ome_label_stored`` is stored
    as those codes (0 for the background voxels outside ``ome_label_mask``); this maps them
    back (0 -> ``ome_label_background``), lazily for a Dask array (block by block, chunks
    kept).  Data stored without codes is returned as it is.

    Parameters
    ----------
    data : numpy or dask array
        As stored in the label group.
    attrs : dict
        The stored variable's attributes.

    Returns
    -------
    (array, dict)
    """
    attrs = dict(attrs)
    if "ssbscope_label_stored" not in attrs:
        return data, attrs
    inv, lo = _decode_table(attrs, data.dtype)
    attrs.pop("ssbscope_label_values", None)
    # the declaration it was written with (a rewrite of the dataset stores it alike)
    for k in ("stored", "background", "mask", "outside"):
        if f"ssbscope_label_{k}" in attrs:
            attrs[f"ome_label_{k}"] = attrs.pop(f"ssbscope_label_{k}")
    dt = data.dtype

    def dec(b):
        return _lookup(np.asarray(b, dt), inv, lo)

    if hasattr(data, "map_blocks"):
        return data.map_blocks(dec, dtype=dt), attrs
    return dec(np.asarray(data)), attrs


def label_dataset(ds, vname, lname, image=None):
    """The one-variable dataset written as the NGFF label image ``lname`` of ``ds[vname]``:
    the variable renamed ``lname`` (its ``ome_source`` dropped; a boolean mask as uint8
    0/1, NGFF labels being integers), its coordinates (they give the scale, as for the
    image) and the voxel size attributes.

    Stored values.  Viewers (napari) draw value 0 as background (transparent).  A variable
    whose value 0 is a label of its own (phase 0 of a tomo segmentation: the darkest phase)
    declares codes: ``attrs["ome_label_stored"]``, the NGFF value of each of its
    ``label_values`` (1, 2, ...: no 0); and, optionally, ``attrs["ome_label_mask"]``, the
    name of a boolean variable of ``ds`` (e.g. ``cell_mask``, broadcast by dimension name):
    voxels outside it holding ``attrs["ome_label_background"]`` (default: the first of
    ``label_values``) are stored as 0 (``ome_label_outside`` names them, e.g. "outside the
    cell"); other values outside the mask keep their codes, so nothing is lost.  A value not
    in ``label_values`` is stored as itself unless that is 0 or a listed value's code (then
    the write fails).  The codes, the background and the names are listed in
    ``image-label["properties"]`` (:func:`write_ome`: ``label-value``, ``name``,
    ``ssbscope-value``) and in the array's attributes (``ssbscope_label_*``), from which
    :func:`decode_label` (:meth:`ssbscope.store.Store.read`) gives back the variable's own
    values.

    Lower dimensionality.  ``image`` (the image's NGFF axes, level-0 shape, chunks, scale
    and translation, and number of pyramid levels: :func:`image_summary`) with a variable
    lacking some of the image's dimensions (the 2-D ``cell_mask`` of a 4-D volume series):
    the label is the variable broadcast along them to the image's shape, with the image's
    scale and translation and chunks (a lazy view, written chunk by chunk; constant along
    the broadcast axes, so it compresses to little), so that its voxels are the image's in
    every reader: ome-zarr-py, napari-ome-zarr (which applies the scale and not the
    translation, to the image and the label alike) and readers that apply both.  (NGFF
    also allows a dimension of length 1 "if that dimension of the label is irrelevant",
    but leaves how to place it to the reader: napari draws such a voxel on the first slice
    and time only.)  :meth:`ssbscope.store.Store.read` gives the variable back as it was
    (index 0 along the broadcast dimensions, ``ssbscope_dims``).  The pyramid gets the
    image's number of levels (NGFF requires it).
    """
    sub = ds[[vname]].rename({vname: lname})
    sub.attrs = {k: ds.attrs[k] for k in ("voxel_size_um", "pixel_size_um") if k in ds.attrs}
    var = sub[lname]
    attrs = {k: v for k, v in var.attrs.items() if k != "ome_source" and k not in LABEL_CODE_ATTRS}
    attrs["ssbscope_dims"] = [str(d) for d in var.dims]  # read back as these
    src = var.attrs
    if var.dtype == bool:  # NGFF labels are integers: a mask is stored as 0/1
        var = var.astype(np.uint8)
        attrs["ssbscope_dtype"] = "bool"
    if src.get("ome_label_stored") is not None:
        vals = attr_ints(src.get("label_values"))
        codes = attr_ints(src.get("ome_label_stored"))
        lut, lo = _code_table(vals, codes, var.dtype)
        bg = int(src.get("ome_label_background", vals[0] if vals else 0))
        mname = src.get("ome_label_mask")
        outside = None
        if mname is not None:
            if mname not in ds or ds[mname].dtype != bool or not set(ds[mname].dims) <= set(var.dims):
                raise ValueError(f"variable {vname!r}: ome_label_mask {mname!r} is not a boolean "
                                 f"variable of the dataset along some of {tuple(var.dims)}")
            m = ds[mname]
            # the mask's dimensions in the label's order, length 1 along the others
            m = m.transpose(*[d for d in var.dims if d in m.dims])
            outside = ~np.asarray(m.values).reshape(
                [var.sizes[d] if d in m.dims else 1 for d in var.dims])
        data = var.data
        if hasattr(data, "map_blocks"):
            import dask.array as da

            if outside is not None:
                od = da.from_array(outside, chunks=tuple(
                    c if n > 1 else (1,) for c, n in zip(data.chunks, outside.shape)))
                enc = da.map_blocks(functools.partial(_encode_masked, lut=lut, lo=lo,
                                                      background=bg),
                                    data, od, dtype=data.dtype)
            else:
                enc = data.map_blocks(_encode_block, lut=lut, lo=lo, dtype=data.dtype)
        else:
            enc = _encode_block(np.asarray(data), lut, lo, outside, bg)
        var = var.copy(data=enc)
        attrs.update(ssbscope_label_values=vals, ssbscope_label_stored=codes,
                     ssbscope_label_background=bg)
        if mname is not None:
            attrs.update(ssbscope_label_mask=str(mname),
                         ssbscope_label_outside=str(src.get("ome_label_outside")
                                                    or f"{bg} outside {mname}"))
    if image is not None:
        var, spans = _expand_to_image(var, image)
        sub = sub.drop_vars(lname)
        if spans:
            sub.attrs["ome_spans"] = json.dumps(spans)
        sub.attrs["ome_levels"] = int(image["levels"])
    var.attrs = attrs
    sub[lname] = var
    return sub


def _expand_to_image(var, image):
    """``var`` broadcast to its image's shape along the image's dimensions it lacks (in the
    image's axis order; a lazy Dask view in the image's level-0 chunks, never materialised
    as a whole), and ``{dim: [scale, translation, unit]}`` of those dimensions: the image's
    own (the label dataset has no coordinates along them)."""
    import dask.array as da
    import xarray as xr

    names = [str(a["name"]) for a in image["axes"]]
    missing = [d for d in names if d not in var.dims]
    if not missing:
        return var, {}
    if not set(var.dims) <= set(names):
        raise ValueError(f"label dimensions {tuple(var.dims)} are not among its image's "
                         f"axes {tuple(names)}")
    spans = {}
    for d in missing:
        i = names.index(d)
        spans[d] = [_clean(float(image["scale"][i])), _clean(float(image["translation"][i])),
                    image["axes"][i].get("unit")]
    shape = [int(n) for n in image["shape"]]
    chunks = [int(c) for c in (image.get("chunks") or shape)]
    own = var.transpose(*[d for d in names if d in var.dims])
    src = own.data if isinstance(own.data, da.Array) else da.from_array(
        np.asarray(own.data), chunks=tuple(chunks[names.index(d)] for d in own.dims))
    src = src.reshape([shape[i] if d in var.dims else 1 for i, d in enumerate(names)])
    data = da.broadcast_to(src, shape).rechunk(tuple(min(c, n) for c, n in zip(chunks, shape)))
    return xr.Variable(names, data, dict(var.attrs)), spans


def image_summary(group_dir) -> dict | None:
    """``{"axes", "shape", "scale", "chunks", "translation", "levels"}`` of the first multiscale of the
    NGFF image at ``group_dir`` (level 0), or None (no image there); for
    :func:`label_dataset`."""
    ome = ome_metadata(group_dir)
    try:
        ms = ome["multiscales"][0]
        d0 = ms["datasets"][0]
        meta = json.loads((Path(group_dir) / d0["path"] / "zarr.json").read_text(encoding="utf-8"))
        tr = {c["type"]: c for c in d0["coordinateTransformations"]}
        grid = (meta.get("chunk_grid") or {}).get("configuration", {}).get("chunk_shape")
        return {"axes": ms["axes"], "shape": list(meta["shape"]), "scale": tr["scale"]["scale"],
                "chunks": list(grid) if grid else list(meta["shape"]),
                "translation": tr.get("translation", {}).get("translation",
                                                             [0.0] * len(ms["axes"])),
                "levels": len(ms["datasets"]) - 1}
    except (TypeError, KeyError, IndexError, OSError, ValueError):
        return None


def write_labels_group(labels_dir, names) -> dict:
    """Create or update the NGFF "labels" group ``labels_dir`` (``<image>/labels``): its
    ``ome`` attribute lists ``names`` (label image paths relative to it), existing entries
    kept.  Returns the ``ome`` attribute."""
    labels_dir = Path(labels_dir)
    labels_dir.mkdir(parents=True, exist_ok=True)
    zj = labels_dir / "zarr.json"
    try:
        meta = json.loads(zj.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        meta = {"zarr_format": 3, "node_type": "group", "attributes": {}}
    meta.pop("consolidated_metadata", None)
    ome = meta.setdefault("attributes", {}).get("ome") or {}
    have = [str(n) for n in ome.get("labels", []) if (labels_dir / str(n) / "zarr.json").is_file()]
    ome = {"version": NGFF_VERSION, "labels": sorted(set(have) | {str(n) for n in names})}
    meta["attributes"]["ome"] = ome
    tmp = zj.with_name(f".zarr.json.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(meta, indent=2), encoding="utf-8")
    os.replace(tmp, zj)
    return ome


#: colours of label values 1, 2, ... (RGBA 0-255; Tableau 10), cycled; 0 is transparent black
LABEL_RGBA = [[31, 119, 180, 255], [255, 127, 14, 255], [44, 160, 44, 255], [214, 39, 40, 255],
              [148, 103, 189, 255], [140, 86, 75, 255], [227, 119, 194, 255],
              [127, 127, 127, 255], [188, 189, 34, 255], [23, 190, 207, 255]]


def _label_colors(var, coarsest) -> dict:
    """``colors`` (and ``properties``) of a label image's ``image-label``: one entry per label
    value found in the coarsest level as written (small) and per value named by the
    variable's ``label_values``/``label_names`` attributes (``properties``: ``{"label-value",
    "name"}``); colours from the variable's ``label_rgba`` (RGBA 0-255 per ``label_values``
    entry), else :data:`LABEL_RGBA` by value (0 transparent).  A label stored
    with codes (:func:`label_dataset`) names each code (``label-value``) with the name of the
    value it stands for, that value (``ssbscope-value``) and, with a mask, 0 (``name``:
    ``ome_label_outside``)."""
    import itertools

    vals = set()
    if (var.size <= 2 ** 26 or coarsest.size <= 2 ** 24) and \
            np.dtype(coarsest.dtype).kind in "iub":
        # chunk by chunk (the unique values of each stored chunk), not the whole level at
        # once: a series' labels are written in bounded memory
        grid = [range(0, int(n), int(c)) for n, c in zip(coarsest.shape, coarsest.chunks)]
        for start in itertools.product(*grid):
            sel = tuple(slice(a, a + int(c)) for a, c in zip(start, coarsest.chunks))
            vals.update(int(v) for v in np.unique(np.asarray(coarsest[sel])))
    a = var.attrs
    values = attr_ints(a.get("label_values"))
    names = [str(n) for n in np.atleast_1d(a.get("label_names", []))]
    # colours chosen by the stage (``label_rgba``: RGBA 0-255 per label_values entry)
    rgba = [[int(c) for c in x] for x in (a.get("label_rgba") or [])]
    own = dict(zip(attr_ints(a.get("ssbscope_label_stored")) or values, rgba))
    props = {}
    if "ssbscope_label_stored" in a:
        for v, c, n in zip(values, attr_ints(a["ssbscope_label_stored"]), names + [None] * len(values)):
            props[c] = {**({"name": n} if n is not None else {}), "ssbscope-value": v}
        if "ssbscope_label_outside" in a:
            props[0] = {"name": str(a["ssbscope_label_outside"]),
                        "ssbscope-value": int(a["ssbscope_label_background"])}
    else:
        props = {v: {"name": n} for v, n in zip(values, names)}
    vals |= set(props)
    if not vals:
        return {}
    colors = [{"label-value": v, "rgba": own.get(v, [0, 0, 0, 0] if v == 0 else
                                                 LABEL_RGBA[(v - 1) % len(LABEL_RGBA)])}
              for v in sorted(vals)]
    out = {"colors": colors}
    if props:
        out["properties"] = [{"label-value": v, **props.get(v, {})} for v in sorted(vals)]
    return out


def label_omero(var) -> dict:
    """``omero`` (NGFF transitional rendering metadata) of a label image: one channel,
    ``active`` (shown when opened), named by the variable's ``long_name`` (else its name,
    as the multiscale's ``metadata``).

    NGFF's ``image-label`` says how to colour a label image, not whether to show it, and
    the readers open an image's labels hidden: ome-zarr-py's ``Reader`` marks the nodes
    under ``labels/`` invisible whatever the metadata says, and napari-ome-zarr (0.10, its
    own reader) opens label layers with ``visible=False`` unless the label image's ``omero``
    channel is ``active``.  This makes napari show the labels over their image.  The
    channel has a ``color`` (napari-ome-zarr needs one; the label layer's colours are
    ``image-label``'s) and no ``window`` (a label layer has no contrast limits)."""
    return {"channels": [{"label": str(var.attrs.get("long_name") or var.name),
                          "active": True, "color": "FFFFFF"}],
            "rdefs": {"model": "color"}}


def write_ome(group_dir, ds, pending=None, *, label_source: str | None = None,
              nested: bool = True, spans: dict | None = None,
              n_levels: int | None = None) -> dict | None:
    """Write NGFF metadata and pyramid levels for the declared images of ``ds``.

    Parameters
    ----------
    group_dir : path-like
        The dataset's Zarr v3 group, already written from ``ds`` (by ``to_zarr``), or
        created with its writes deferred (``pending``).
    ds : xarray.Dataset
        The dataset written there (for the attributes and coordinates).
    pending : dask Delayed, optional
        The deferred write of ``ds`` (``ds.to_zarr(..., compute=False)``): the levels of its
        Dask-backed images are then computed from the images' own graphs together with it,
        in one pass (each block written and downsampled as it is computed); the levels
        equal the ones computed from the written level 0.
    label_source : str, optional
        ``image-label["source"]["image"]`` of a label image: ``"../../"`` for a label stored
        in its image's ``labels/`` group (:func:`label_placement`); default: the
        ``ome_source`` attribute, if any.
    nested : bool
        Store level ``k`` of image ``<var>`` as ``s<k>/<var>`` (default: in subgroups, so that
        the group stays the xarray dataset it was), else as ``<var>_s<k>`` beside level 0 (a
        label group, which holds the label's levels only; ome-zarr-models 1.7 checks the
        dtypes of a labels group's levels at flat paths only).
    spans : dict, optional
        ``{dim: [scale, translation, unit or None]}``: level-0 scale and translation of
        these dimensions (a label broadcast along dimensions of its image that it lacks:
        the image's, :func:`label_dataset`), instead of the ones from the coordinates.
    n_levels : int, optional
        Number of coarser levels (a label image: its image's, as NGFF requires); default
        until the largest spatial extent is at most :data:`PYRAMID_MAX_EXTENT`.

    Returns
    -------
    dict or None
        The ``ome`` attribute written, or None when ``ds`` declares no image.

    Raises
    ------
    ValueError
        A declared variable whose dimensions do not map to NGFF axes, or an unknown kind.
    """
    import dask
    import dask.array as da
    import zarr

    group_dir = Path(group_dir)
    declared = [(str(v), ds[v].attrs[OME_ATTR]) for v in sorted(ds.data_vars, key=str)
                if OME_ATTR in ds[v].attrs]
    if not declared:
        if pending is not None:
            dask.compute(pending)
        return None
    g = zarr.open_group(str(group_dir), mode="r+", zarr_format=3)
    # streamed: every Dask variable's level 0 and the images' levels are stored by one
    # da.store (one graph: each block computed once), not by the deferred to_zarr, whose
    # optimised graph would compute the blocks a second time; variables that xarray encodes
    # beyond a cast (times, strings) keep the deferred to_zarr and the pyramid from disk
    sources, targets = [], []
    if pending is not None:
        lazy = [str(n) for n, v in ds.variables.items() if isinstance(v.data, da.Array)]
        if all(ds.variables[n].dtype.kind in "fiub" for n in lazy):
            for n in lazy:
                if n not in {v for v, _ in declared}:
                    src = ds.variables[n].data
                    sources.append(src.astype(g[n].dtype).rechunk(g[n].chunks))
                    targets.append(g[n])
        else:
            dask.compute(pending)
            pending = None
    multiscales, label, label_var = [], None, None
    for vname, kind in declared:
        if kind not in ("image", "label"):
            raise ValueError(f"variable {vname!r}: attrs[{OME_ATTR!r}] is {kind!r}; use 'image' or 'label'")
        var = ds[vname]
        axes = axes_of(var.dims, ds)
        space_idx = [i for i, a in enumerate(axes) if a["type"] == "space"]
        scale0, trans0 = [1.0] * var.ndim, [0.0] * var.ndim
        known = True
        for i in space_idx:
            s, t = _spacing(ds, var, var.dims[i], _space_name(ds, var.dims[i]))
            if s is None:
                known = False
                s, t = 1.0, 0.0
            scale0[i], trans0[i] = s, t
        if known:
            for i in space_idx:
                axes[i]["unit"] = "micrometer"
        extra = {}
        for i, a in enumerate(axes):
            d = var.dims[i]
            if a["type"] == "time":
                tc = _time_coord(ds, d)
                scale0[i], trans0[i], t_known = _time_spacing(tc)
                if t_known:
                    a["unit"] = "second"
                if tc is not None:
                    extra["time_s"] = [float(x) if np.isfinite(x) else None
                                       for x in np.asarray(tc.values, float)]
            if spans and d in spans:  # a broadcast dimension: the image's scale
                scale0[i], trans0[i] = float(spans[d][0]), float(spans[d][1])
                a.pop("unit", None)
                if spans[d][2]:
                    a["unit"] = str(spans[d][2])
            if (a["type"] in ("time", "channel") and d in ds.coords and ds[d].dims == (d,)
                    and ds[d].dtype.kind in "OUST"):
                extra.setdefault("axis_labels", {})[a["name"]] = [str(v) for v in ds[d].values]
        arr0 = g[vname]
        chunks = arr0.chunks
        datasets = [{"path": vname, "coordinateTransformations": [
            {"type": "scale", "scale": [_clean(x) for x in scale0]},
            {"type": "translation", "translation": [_clean(x) for x in trans0]}]}]
        # streamed: from the variable's own graph (the chunks of the written array)
        streamed = pending is not None and isinstance(var.data, da.Array)
        cur = var.data.astype(arr0.dtype).rechunk(chunks) if streamed else da.from_zarr(arr0)
        if streamed:
            sources.append(cur)
            targets.append(arr0)
        total = [1] * var.ndim
        out = arr0
        for level in range(1, (n_levels if n_levels is not None
                               else _n_levels(arr0.shape, space_idx)) + 1):
            nxt, factor = _downsample(cur, space_idx, kind)
            if any(n == 0 for n in nxt.shape):
                break
            total = [a * b for a, b in zip(total, factor)]
            # the level's array: s<k>/<var> (an image: a subgroup, outside the xarray
            # dataset), or <var>_s<k> beside level 0 (a label group, which holds nothing else)
            sub = level_group(level) if nested else None
            path = f"{sub}/{vname}" if nested else f"{vname}_s{level}"
            if (sub or path) in ds.variables:
                raise ValueError(f"variable {sub or path!r}: the name of pyramid level {level} "
                                 f"of {vname!r}; rename the variable")
            cks = tuple(min(c, n) for c, n in zip(chunks, nxt.shape))
            dims = [a["name"] for a in axes]  # = the variable's dimensions (axes_of)
            out = (g.require_group(sub) if nested else g).create_array(
                                 path.rsplit("/", 1)[-1], shape=nxt.shape, dtype=nxt.dtype, chunks=cks,
                                 dimension_names=dims, fill_value=0,
                                 attributes={"units": var.attrs.get("units", ""),
                                             "long_name": f"{var.attrs.get('long_name', vname)} "
                                                          f"(pyramid level {level})",
                                             "ome_level_of": vname, "ome_level": level},
                                 overwrite=True)
            if streamed:
                sources.append(nxt.rechunk(cks))
                targets.append(out)
            else:
                da.store(nxt.rechunk(cks), out, lock=False)
            datasets.append({"path": path, "coordinateTransformations": [
                {"type": "scale", "scale": [_clean(s * f) for s, f in zip(scale0, total)]},
                {"type": "translation", "translation": [
                    _clean(t + (s * (f - 1) / 2 if i in space_idx else 0.0))
                    for i, (s, t, f) in enumerate(zip(scale0, trans0, total))]}]})
            cur = nxt.rechunk(cks) if streamed else da.from_zarr(out)
        ms = {"name": vname, "axes": axes, "datasets": datasets,
              "type": "mean" if kind == "image" and var.dtype.kind in "fc" else "nearest",
              "metadata": {"description": "each level halves the spatial axes of the one above: "
                                          + ("mean of 2x2(x2) blocks" if kind == "image" and
                                             var.dtype.kind in "fc" else "every second voxel")
                                          + " (ssbscope.ome, Dask)",
                           "long_name": str(var.attrs.get("long_name", vname)),
                           "units": str(var.attrs.get("units", "")), **extra}}
        multiscales.append(ms)
        if kind == "label" and label is None:
            label, label_var, coarsest = {}, vname, out
            src = label_source or ds[vname].attrs.get("ome_source") or ds.attrs.get("ome_source")
            if src:
                label["source"] = {"image": str(src)}
    if sources:  # level 0 and the streamed levels: one pass over the blocks
        da.store(sources, targets, lock=False)
    if label is not None:
        label.update(_label_colors(ds[label_var], coarsest))
    # readers show the first: the first declared label, if any, else ds.attrs["ome_default"]
    first = label_var if label is not None else ds.attrs.get("ome_default")
    multiscales.sort(key=lambda m: m["name"] != first)
    meta = {"version": NGFF_VERSION, "multiscales": multiscales}
    if label is not None:
        meta["image-label"] = label
        meta["omero"] = label_omero(ds[label_var])
    g.attrs["ome"] = meta
    return meta


def ome_metadata(group_dir) -> dict | None:
    """The ``ome`` attribute of a dataset group (None when it has none)."""
    try:
        meta = json.loads((Path(group_dir) / "zarr.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    ome = meta.get("attributes", {}).get("ome")
    return ome if isinstance(ome, dict) else None


def level_group(level: int) -> str:
    """Name of the subgroup of a dataset (image) group holding pyramid level ``level`` >= 1
    of its images: ``s<level>`` (the level of image ``<var>`` is ``s<level>/<var>``)."""
    return f"s{int(level)}"


def pyramid_paths(ome: dict | None) -> list[str]:
    """Array paths of the coarser levels (level 1 and beyond) listed in ``ome``, relative to
    the group: ``s1/<var>``, ... for an image, ``<label>_s1``, ... in a label group."""
    out = []
    for ms in (ome or {}).get("multiscales", []):
        out += [d["path"] for d in ms.get("datasets", [])[1:]]
    return out
