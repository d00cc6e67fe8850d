"""OME-Zarr (NGFF 0.5) metadata and pyramids for the images of a store.

A stage declares which variables of a dataset are images by a variable attribute::

    ds["volume"].attrs["ome_image"] = "image"   # grey values (mean-downsampled pyramid)
    ds["labels"].attrs["ome_image"] = "label"   # label image (nearest-downsampled pyramid)

:meth:`ssbscope.store.Store.write` then calls :func:`write_ome` on the freshly written
dataset group: the group itself becomes an NGFF image (``attributes["ome"]`` with
``version: "0.5"`` and ``multiscales``) whose level-0 ``path`` is the variable's own array,
and the coarser levels are extra arrays ``<var>_s1``, ``<var>_s2``, ... next to it.  The
group stays an xarray dataset: :meth:`Store.read` hides the pyramid arrays and the ``ome``
attribute, so readers of the dataset see what they saw before.

Axes: ``time_s`` -> ``t`` (time, second); ``z``, ``y``, ``x`` -> space axes in micrometer
with the scale of the voxel size (from a coordinate on the dimension in um, a ``<dim>_um``
coordinate along it, or ``voxel_size_um`` in the variable's or dataset's attributes) and the
translation of the first voxel centre (the coordinate's first value, else half a voxel); any other dimension (e.g. ``interface``) -> ``c``
(channel).  A label image group also carries ``image-label`` (NGFF labels), with
``source.image`` pointing to a sibling dataset given by ``attrs["ome_source"]`` if any.

Every image gets at least one coarser level (so that viewers always see a pyramid) and more
until the largest spatial extent is at most :data:`PYRAMID_MAX_EXTENT` voxels; each level
halves every spatial axis longer than one voxel (``factor`` per axis in the scale).  Levels
are computed chunk-wise with Dask from the level above as written on disk.

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

import json
import logging
import math
from pathlib import Path

import numpy as np

__all__ = ["OME_ATTR", "PYRAMID_MAX_EXTENT", "write_ome", "ome_metadata", "pyramid_paths",
           "axes_of"]

log = logging.getLogger(__name__)

#: variable attribute declaring an image: "image" or "label"
OME_ATTR = "ome_image"
#: extra pyramid levels are added until the largest spatial extent is at most this (voxels)
PYRAMID_MAX_EXTENT = 256
_MAX_LEVELS = 8
_SPACE = ("z", "y", "x")
_LENGTH_UNITS = {"um": 1.0, "micrometer": 1.0, "µm": 1.0, "mm": 1e3, "nm": 1e-3}


def axes_of(dims) -> list[dict]:
    """NGFF axes of a variable's dimensions (see the module docstring).

    Raises
    ------
    ValueError
        If the dimensions are not in NGFF order (time, channel, space) or have not two or
        three spatial axes.
    """
    axes, kinds = [], []
    for d in dims:
        if d == "time_s":
            axes.append({"name": "t", "type": "time", "unit": "second"}); kinds.append(0)
        elif d in _SPACE:
            axes.append({"name": d, "type": "space"}); kinds.append(2)
        else:
            axes.append({"name": "c", "type": "channel"}); kinds.append(1)
    if kinds != sorted(kinds) or kinds.count(0) > 1 or kinds.count(1) > 1 or kinds.count(2) not in (2, 3):
        raise ValueError(f"dimensions {tuple(dims)} are not (time_s?, channel?, [z,] y, x)")
    return axes


def _spacing(ds, var, dim):
    """(scale_um, translation_um) of spatial ``dim`` or (None, 0.0) when unknown."""
    cands = []
    if dim in ds.coords and ds[dim].dims == (dim,):
        cands.append(ds[dim])
    for name, c in ds.coords.items():
        if name != dim and c.dims == (dim,) and str(name).startswith(dim + "_"):
            cands.append(c)
    for c in cands:
        unit = str(c.attrs.get("units", "um" if str(c.name).endswith("_um") else ""))
        f = _LENGTH_UNITS.get(unit)
        if f is None or c.dtype.kind not in "fiu" or c.size < 1:
            continue
        v = np.asarray(c.values, float) * f
        if v.size >= 2:
            step = float(np.median(np.diff(v)))
            if np.isfinite(step) and step > 0:
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
        try:
            vs = float(attrs.get("voxel_size_um"))
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


def write_ome(group_dir, ds) -> dict | None:
    """Write NGFF metadata and pyramid levels for the declared images of ``ds``.

    Parameters
    ----------
    group_dir : path-like
        The dataset's Zarr v3 group, already written from ``ds`` (by ``to_zarr``).
    ds : xarray.Dataset
        The dataset written there (for the attributes and coordinates).

    Returns
    -------
    dict or None
        The ``ome`` attribute written, or None when ``ds`` declares no image.

    Raises
    ------
    ValueError
        A declared variable whose dimensions do not map to NGFF axes, or an unknown kind.
    """
    import dask.array as da
    import zarr

    group_dir = Path(group_dir)
    declared = [(str(v), ds[v].attrs[OME_ATTR]) for v in sorted(ds.data_vars, key=str)
                if OME_ATTR in ds[v].attrs]
    if not declared:
        return None
    g = zarr.open_group(str(group_dir), mode="r+", zarr_format=3)
    multiscales, label, label_var = [], None, None
    for vname, kind in declared:
        if kind not in ("image", "label"):
            raise ValueError(f"variable {vname!r}: attrs[{OME_ATTR!r}] is {kind!r}; use 'image' or 'label'")
        var = ds[vname]
        axes = axes_of(var.dims)
        space_idx = [i for i, d in enumerate(var.dims) if d in _SPACE]
        scale0, trans0 = [1.0] * var.ndim, [0.0] * var.ndim
        known = True
        for i in space_idx:
            s, t = _spacing(ds, var, var.dims[i])
            if s is None:
                known = False
                s, t = 1.0, 0.0
            scale0[i], trans0[i] = s, t
        if known:
            for i in space_idx:
                axes[i]["unit"] = "micrometer"
        arr0 = g[vname]
        chunks = arr0.chunks
        datasets = [{"path": vname, "coordinateTransformations": [
            {"type": "scale", "scale": scale0}, {"type": "translation", "translation": trans0}]}]
        cur = da.from_zarr(arr0)
        total = [1] * var.ndim
        for level in range(1, _n_levels(arr0.shape, space_idx) + 1):
            nxt, factor = _downsample(cur, space_idx, kind)
            if any(n == 0 for n in nxt.shape):
                break
            total = [a * b for a, b in zip(total, factor)]
            path = f"{vname}_s{level}"
            if path in ds.variables:
                raise ValueError(f"variable {vname!r}: pyramid level name {path!r} is taken by a variable")
            cks = tuple(min(c, n) for c, n in zip(chunks, nxt.shape))
            dims = [d if d not in _SPACE else f"{d}_s{level}" for d in var.dims]
            out = g.create_array(path, shape=nxt.shape, dtype=nxt.dtype, chunks=cks,
                                 dimension_names=dims, fill_value=0,
                                 attributes={"units": var.attrs.get("units", ""),
                                             "long_name": f"{var.attrs.get('long_name', vname)} "
                                                          f"(pyramid level {level})",
                                             "ome_level_of": vname, "ome_level": level},
                                 overwrite=True)
            da.store(nxt.rechunk(cks), out, lock=False)
            datasets.append({"path": path, "coordinateTransformations": [
                {"type": "scale", "scale": [s * f for s, f in zip(scale0, total)]},
                {"type": "translation", "translation": [
                    t + (s * (f - 1) / 2 if i in space_idx else 0.0)
                    for i, (s, t, f) in enumerate(zip(scale0, trans0, total))]}]})
            cur = da.from_zarr(out)
        ms = {"name": vname, "axes": axes, "datasets": datasets,
              "type": "mean" if kind == "image" and var.dtype.kind in "fc" else "nearest",
              "metadata": {"description": "each level halves the spatial axes of the one above: "
                                          + ("mean of 2x2(x2) blocks" if kind == "image" and
                                             var.dtype.kind in "fc" else "every second voxel")
                                          + " (ssbscope.ome, Dask)",
                           "long_name": str(var.attrs.get("long_name", vname)),
                           "units": str(var.attrs.get("units", ""))}}
        multiscales.append(ms)
        if kind == "label" and label is None:
            vals = None
            if var.size <= 2 ** 26:
                vals = np.unique(np.asarray(cur))  # the coarsest level: small
            label, label_var = {}, vname
            src = ds[vname].attrs.get("ome_source") or ds.attrs.get("ome_source")
            if src:
                label["source"] = {"image": str(src)}
            if vals is not None:
                label["colors"] = [{"label-value": int(v)} for v in vals if v.dtype.kind in "iub"]
    # the first declared label, if any, is what a label reader shows: put it first
    if label is not None:
        multiscales.sort(key=lambda m: m["name"] != label_var)
    meta = {"version": "0.5", "multiscales": multiscales}
    if label is not None:
        meta["image-label"] = label
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


def pyramid_paths(ome: dict | None) -> list[str]:
    """Array paths of the coarser levels (level 1 and beyond) listed in ``ome``."""
    out = []
    for ms in (ome or {}).get("multiscales", []):
        out += [d["path"] for d in ms.get("datasets", [])[1:]]
    return out
