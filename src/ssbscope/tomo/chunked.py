"""Larger-than-memory image processing on Dask arrays (e.g. Zarr-backed volumes).

Each function gives the same result as its in-memory counterpart in
:mod:`ssbscope.tomo.filters` while holding only a few chunks (plus their halos) at a time;
Dask schedules the work (no scheduler of our own):

* :func:`median3_chunked`: ``map_overlap`` with a 1-voxel halo, edges replicated
  (``boundary="nearest"``), bit-identical to :func:`~ssbscope.tomo.filters.median3`.
* :func:`opening_chunked`: ``map_overlap`` with a ``2 r`` halo (``r`` for the erosion, ``r``
  for the dilation) and no padding at the volume's faces, identical to
  :func:`~ssbscope.tomo.filters.opening`.
* :func:`histogram_chunked`, :func:`threshold_otsu_chunked`,
  :func:`threshold_multiotsu_chunked`: a first pass for the global range, a second for the
  global histogram, then the in-memory threshold on that histogram.
* :func:`label_chunked`: each chunk labelled on its own; the label planes on both sides of
  every chunk boundary give pairs of touching labels (with the in-plane diagonal offsets of
  the chosen connectivity, so chunks meeting at an edge or corner are merged too); a
  union-find over those pairs (``scipy.sparse.csgraph.connected_components``) merges them;
  components are numbered in the raster order of their first voxel, which reproduces
  :func:`~ssbscope.tomo.filters.label` (and ``scipy.ndimage.label``) exactly, not only up to
  renumbering.  Peak memory: a chunk plus the boundary planes and the label table.  Each
  chunk is labelled twice (once for the table, once to write the final labels) rather than
  keeping provisional labels of the whole volume.

Volumes are ``(z, y, x)``.
"""

from __future__ import annotations

import logging

import numpy as np

from ssbscope.errors import InputError, ParameterError

__all__ = [
    "as_dask",
    "median3_chunked",
    "opening_chunked",
    "histogram_chunked",
    "threshold_otsu_chunked",
    "threshold_multiotsu_chunked",
    "label_chunked",
]

log = logging.getLogger(__name__)


def as_dask(volume, chunks=None):
    """Wrap a volume as a Dask array.

    Parameters
    ----------
    volume : dask.array.Array, zarr.Array, str or path-like (a Zarr array), or ndarray
    chunks : tuple of int, optional
        Rechunk to this shape (default: keep the Zarr/Dask chunks; NumPy input gets 128^3).

    Returns
    -------
    dask.array.Array
    """
    import os

    import dask.array as da

    if isinstance(volume, da.Array):
        arr = volume
    elif isinstance(volume, (str, os.PathLike)):
        import zarr

        try:
            z = zarr.open_array(str(volume), mode="r")
        except Exception as exc:  # zarr raises several types for a missing/invalid store
            from ssbscope.errors import FileFormatError

            raise FileFormatError(volume, f"cannot open as a Zarr array ({exc})",
                                  "pass the path of a Zarr array (not a group)") from exc
        arr = da.from_zarr(z)
    elif hasattr(volume, "chunks") and hasattr(volume, "shape") and not isinstance(volume,
                                                                                   np.ndarray):
        arr = da.from_zarr(volume)
    else:
        arr = da.from_array(np.asarray(volume), chunks=chunks or (128, 128, 128))
    if arr.ndim != 3:
        raise InputError(f"volume: expected a 3-D (z, y, x) array, got shape {arr.shape}")
    if chunks is not None:
        arr = arr.rechunk(chunks)
    return arr


def _min_chunk(arr, depth, name):
    """Merge chunks thinner than the halo ``depth`` into their neighbours (dask helper)."""
    from dask.array.overlap import ensure_minimum_chunksize

    if max(arr.shape) and min(arr.shape) < depth:
        raise ParameterError("volume.shape", arr.shape,
                             f"{name} needs at least {depth} voxels along every axis")
    new = tuple(ensure_minimum_chunksize(depth, c) if min(c) < depth else c
                for c in arr.chunks)
    return arr.rechunk(new) if new != arr.chunks else arr


def _zarr_source(volume):
    """The array-like to read halos from directly (Zarr array), or None."""
    import os

    import dask.array as da

    if isinstance(volume, (str, os.PathLike)):
        import zarr

        return zarr.open_array(str(volume), mode="r")
    if isinstance(volume, (np.ndarray, da.Array)):
        return None
    if hasattr(volume, "chunks") and hasattr(volume, "shape") and hasattr(volume, "__getitem__"):
        return volume
    return None


def _read_halo(src, loc, depth, boundary):
    """Read block ``loc`` (tuple of (start, stop)) with a halo; pad at the volume faces."""
    sl, pads = [], []
    for (a, b), n in zip(loc, src.shape):
        lo, hi = max(a - depth, 0), min(b + depth, n)
        sl.append(slice(lo, hi))
        pads.append((depth - (a - lo), depth - (hi - b)))
    data = np.asarray(src[tuple(sl)])
    if boundary == "nearest" and any(p != (0, 0) for p in pads):
        data = np.pad(data, pads, mode="edge")
        pads = [(depth, depth)] * 3
    else:
        pads = [(a - max(a - depth, 0), min(b + depth, n) - b) for (a, b), n in zip(loc, src.shape)]
    return data, pads


def _halo_block(src, loc, depth, boundary, func, kwargs):
    data, pads = _read_halo(src, loc, depth, boundary)
    kwargs = dict(kwargs)
    as_bool = kwargs.pop("_as_bool", False)
    if as_bool and data.dtype != np.bool_:
        data = data != 0
    out = func(data, **kwargs)
    trim = tuple(slice(p0, out.shape[i] - p1) for i, (p0, p1) in enumerate(pads))
    return out[trim]


def _halo_map(src, chunks, depth, boundary, func, dtype, **kwargs):
    """Blockwise ``func`` with a halo read straight from ``src`` (no inter-chunk tasks)."""
    import dask
    import dask.array as da

    starts = [np.r_[0, np.cumsum(c)[:-1]] for c in chunks]
    grid = tuple(len(c) for c in chunks)
    blocks = np.empty(grid, dtype=object)
    src_d = dask.delayed(src, pure=True)
    for b in np.ndindex(grid):
        loc = tuple((int(starts[a][b[a]]), int(starts[a][b[a]] + chunks[a][b[a]]))
                    for a in range(3))
        blocks[b] = da.from_delayed(
            dask.delayed(_halo_block, pure=True)(src_d, loc, depth, boundary, func, dict(kwargs)),
            shape=tuple(chunks[a][b[a]] for a in range(3)), dtype=dtype)
    return da.block(blocks.tolist())


def median3_chunked(volume, chunks=None):
    """3 x 3 x 3 median of a Dask/Zarr volume, identical to the in-memory ``median3``.

    A Zarr source (path or array) is read chunk by chunk with its 1-voxel halo (peak memory
    a few chunks whatever the volume size); a Dask array goes through ``map_overlap``
    (``boundary="nearest"``), whose memory depends on Dask's task ordering.

    Parameters
    ----------
    volume : Zarr array or path, dask array, or ndarray
    chunks : tuple of int, optional
        Work chunks (default the source's chunks).

    Returns
    -------
    dask.array.Array
        Lazy result; store it with ``dask.array.to_zarr``.
    """
    from ssbscope.tomo.filters import median3

    arr = as_dask(volume, chunks)
    arr = _min_chunk(arr, 1, "median3")
    src = _zarr_source(volume)
    if src is not None:
        return _halo_map(src, arr.chunks, 1, "nearest", median3, arr.dtype)
    return arr.map_overlap(median3, depth=1, boundary="nearest", dtype=arr.dtype,
                           meta=np.empty((0, 0, 0), arr.dtype))


def opening_chunked(mask, radius: int = 3, chunks=None):
    """Opening by a ball of ``radius`` voxels of a Dask/Zarr mask, identical to ``opening``.

    Halo ``2 radius`` voxels, nothing padded at the volume's faces (skimage's
    ``mode='ignore'``).  Chunks thinner than the halo are merged with their neighbours.

    Parameters
    ----------
    mask : Zarr array or path, dask array, or ndarray (bool; integers taken as ``!= 0``)
    radius : int
    chunks : tuple of int, optional

    Returns
    -------
    dask.array.Array of bool
    """
    from ssbscope.tomo.filters import _check_radius, opening

    r = _check_radius(radius)
    arr = as_dask(mask, chunks)
    arr = _min_chunk(arr, 2 * r, "opening")
    src = _zarr_source(mask)
    if src is not None:
        return _halo_map(src, arr.chunks, 2 * r, "none", opening, np.bool_, radius=r,
                         _as_bool=True)
    if arr.dtype != np.bool_:
        arr = arr != 0
    return arr.map_overlap(opening, depth=2 * r, boundary="none", radius=r, dtype=np.bool_,
                           meta=np.empty((0, 0, 0), np.bool_))


def histogram_chunked(volume, nbins: int = 256, chunks=None):
    """Global histogram of a Dask/Zarr volume in two passes (range, then counts).

    Returns ``(counts, bin_centers)`` equal to :func:`ssbscope.tomo.filters.histogram` on the
    whole volume.  NaN/inf raise :class:`~ssbscope.errors.DataQualityError`.
    """
    import dask
    import dask.array as da

    from ssbscope.errors import DataQualityError

    arr = as_dask(volume, chunks)
    if nbins < 2:
        raise ParameterError("nbins", nbins, "must be >= 2", "use e.g. 256")
    if np.issubdtype(arr.dtype, np.floating):
        n_bad, lo, hi = dask.compute((~da.isfinite(arr)).sum(), arr.min(), arr.max())
        if n_bad:
            raise DataQualityError(f"volume: {int(n_bad)} NaN/inf voxel(s); replace them before "
                                   "thresholding")
    else:
        lo, hi = dask.compute(arr.min(), arr.max())
    lo, hi = float(lo), float(hi)
    counts, _ = da.histogram(arr, bins=nbins, range=(lo, hi))
    counts = np.asarray(counts.compute(), dtype=np.int64)
    edges = np.linspace(lo, hi, nbins + 1)
    return counts, 0.5 * (edges[:-1] + edges[1:])


def threshold_otsu_chunked(volume, nbins: int = 256, chunks=None) -> float:
    """Otsu threshold of a Dask/Zarr volume from its global histogram."""
    from ssbscope.errors import DataQualityError
    from ssbscope.tomo.filters import threshold_otsu

    counts, centers = histogram_chunked(volume, nbins, chunks)
    if np.count_nonzero(counts) < 2:
        raise DataQualityError("volume: a single grey value; nothing to threshold")
    return threshold_otsu(hist=(counts, centers))


def threshold_multiotsu_chunked(volume, classes: int = 3, nbins: int = 256,
                                chunks=None) -> np.ndarray:
    """Multi-level Otsu thresholds of a Dask/Zarr volume from its global histogram."""
    from ssbscope.tomo.filters import threshold_multiotsu

    return threshold_multiotsu(hist=histogram_chunked(volume, nbins, chunks), classes=classes)


# --------------------------------------------------------------------------- labelling

def _cc3d():
    try:
        import cc3d
    except ImportError:
        return None
    return cc3d


def _block_label(block, connectivity, backend="auto"):
    """Label one block: cc3d (connected-components-3d) when importable and ``backend`` is
    ``"auto"`` or ``"cc3d"``, else :func:`ssbscope.tomo.filters.label`.  The numbering inside
    a block does not matter: :func:`label_chunked` renumbers by first voxel."""
    from ssbscope.tomo.filters import label

    b = np.asarray(block)
    if backend in ("auto", "cc3d"):
        cc3d = _cc3d()
        if cc3d is not None:
            lab, n = cc3d.connected_components(np.ascontiguousarray(b, dtype=bool),
                                               connectivity=connectivity, return_N=True)
            return lab, int(n)
        if backend == "cc3d":
            raise ParameterError("backend", backend, "needs connected-components-3d",
                                 "pip install connected-components-3d, or use backend='numba'")
    return label(b, connectivity)


def _block_meta(block, origin, shape, connectivity, backend="auto"):
    """Label one block; return its count, first-voxel global indices and face planes."""
    lab, n = _block_label(block, connectivity, backend)
    if n:
        first = _first_index(lab.ravel(), int(n))
        loc = np.unravel_index(first, lab.shape)
        glob = np.ravel_multi_index(tuple(l + o for l, o in zip(loc, origin)), shape)
    else:
        glob = np.zeros(0, np.int64)
    faces = [(lab.take(0, axis=a).copy(), lab.take(-1, axis=a).copy()) for a in range(3)]
    return n, np.asarray(glob, np.int64), faces


def _relabel_block(block, table=None, offset=0, connectivity=26, backend="auto"):
    lab, n = _block_label(block, connectivity, backend)
    tab = np.zeros(int(n) + 1, table.dtype)
    tab[1:] = table[offset:offset + int(n)]
    return tab[lab]  # one gather (label 0 -> 0)


def _first_index_py(flat, n):
    first = np.full(n, -1, np.int64)
    fg = np.flatnonzero(flat)
    vals = flat[fg].astype(np.int64) - 1
    # reversed so that the first occurrence is the last write
    first[vals[::-1]] = fg[::-1]
    return first


try:
    import numba as _nb

    @_nb.njit(cache=True, nogil=True)
    def _first_index_nb(flat, n):
        first = np.full(n, -1, np.int64)
        for i in range(flat.size):
            v = flat[i]
            if v > 0 and first[v - 1] < 0:
                first[v - 1] = i
        return first
except ImportError:  # pragma: no cover - numba is a core dependency
    _first_index_nb = None


def _first_index(flat, n):
    """Flat index of the first voxel of every label 1..n (one pass)."""
    if _first_index_nb is not None:
        return _first_index_nb(flat, n)
    return _first_index_py(flat, n)


def _pairs(left, right, connectivity):
    """Label pairs touching across a plane boundary (left at index p - 1, right at p)."""
    out = []
    ny, nx = left.shape
    for dy in (-1, 0, 1):
        for dx in (-1, 0, 1):
            order = 1 + abs(dy) + abs(dx)
            if (connectivity == 6 and order > 1) or (connectivity == 18 and order > 2):
                continue
            ys = slice(max(dy, 0), ny + min(dy, 0))
            xs = slice(max(dx, 0), nx + min(dx, 0))
            ys2 = slice(max(-dy, 0), ny + min(-dy, 0))
            xs2 = slice(max(-dx, 0), nx + min(-dx, 0))
            a = left[ys, xs]
            b = right[ys2, xs2]
            ok = (a > 0) & (b > 0)
            if ok.any():
                out.append(np.stack([a[ok], b[ok]], axis=1))
    if not out:
        return []
    pr = np.concatenate(out)
    if pr.max() >= 2**32:  # pragma: no cover - over 4e9 provisional labels
        return [np.unique(pr, axis=0)]
    # unique pairs through one 1-D key
    key = np.unique(pr[:, 0].astype(np.int64) << 32 | pr[:, 1].astype(np.int64))
    return [np.stack([key >> 32, key & 0xFFFFFFFF], axis=1)]


def _meta_head(meta):
    """Count and first-voxel indices of a block's :func:`_block_meta` (what the client keeps)."""
    return meta[0], meta[1]


def _boundary_pairs(ax, plane, parts, metas, connectivity):
    """Label pairs across one chunk boundary along ``ax`` from the blocks' face planes.

    ``parts`` holds ``(left, slices)`` of each block beside the boundary (``left``: the block
    ends at it; ``slices``: its (start, stop) along the two other axes); the labels are
    numbered per boundary (each block's labels offset by the counts of the blocks before it
    in ``parts``).  Returns ``(pairs, offsets)``: (k, 2) int64 unique pairs of those numbers
    (1-based) and the blocks' offsets, so the client maps them to global labels."""
    ofs = np.r_[0, np.cumsum([int(m[0]) for m in metas])].astype(np.int64)
    left = np.zeros(plane, np.int64)
    right = np.zeros(plane, np.int64)
    for j, ((is_left, sl), m) in enumerate(zip(parts, metas)):
        n_b, _, faces = m
        if n_b == 0:
            continue
        face = faces[ax][1] if is_left else faces[ax][0]
        glab = np.where(face > 0, face.astype(np.int64) + ofs[j], 0)
        (left if is_left else right)[tuple(slice(a, b) for a, b in sl)] = glab
    pr = _pairs(left, right, connectivity)
    return (pr[0] if pr else np.zeros((0, 2), np.int64)), ofs[:-1]


def label_chunked(mask, connectivity: int = 26, chunks=None, backend: str = "auto"):
    """Connected components of a Dask/Zarr mask, chunk by chunk, merged across chunk faces.

    Each chunk is labelled in a Dask task (on the active scheduler), and the label pairs
    across each chunk boundary are found in a task from the chunks' face planes, so the
    caller receives only counts, first voxels and pairs.  Each chunk is labelled by cc3d (``connected-components-3d``, optional dependency, the
    ``bench`` extra) when it is importable, else by :func:`ssbscope.tomo.filters.label`
    (numba); ``benchmarks/bench_labelling.py``: cc3d was faster per chunk on this machine
    (26-connected, 256^3 and 512^3).  Either gives the same labels: the chunks' own
    numbering is replaced by the raster order of each component's first voxel.

    Parameters
    ----------
    mask : dask array, Zarr array or path, or ndarray (bool)
    connectivity : {6, 18, 26}
    chunks : tuple of int, optional
    backend : {"auto", "cc3d", "numba"}
        Per-chunk labeller: "auto" (cc3d if importable, else numba).

    Returns
    -------
    labels : dask.array.Array of int32 (int64 for > 2^31 - 1 components)
        Lazy labels, identical to ``ssbscope.tomo.filters.label(mask)`` (raster-order
        numbering); compute or ``to_zarr`` it.
    n : int
        Number of components.
    """
    import dask
    import dask.array as da
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    if connectivity not in (6, 18, 26):
        raise ParameterError("connectivity", connectivity, "must be 6, 18 or 26")
    arr = as_dask(mask, chunks)
    if arr.dtype != np.bool_:
        arr = arr != 0
    shape = arr.shape
    starts = [np.r_[0, np.cumsum(c)[:-1]] for c in arr.chunks]
    grid = arr.to_delayed()
    idx = list(np.ndindex(grid.shape))
    if backend not in ("auto", "cc3d", "numba"):
        raise ParameterError("backend", backend, "must be 'auto', 'cc3d' or 'numba'")
    # every block labelled in a task; the client gets its count and first voxels, and the
    # label pairs across each chunk boundary (computed from the face planes in a task too,
    # so that no (Y, X) plane travels to the client)
    meta_d = {b: dask.delayed(_block_meta)(grid[b], tuple(int(starts[a][b[a]]) for a in range(3)),
                                           shape, connectivity, backend) for b in idx}
    bounds_d = []
    for ax in range(3):
        others = [a for a in range(3) if a != ax]
        for k in range(1, grid.shape[ax]):
            parts = [(b, b[ax] == k - 1,
                      tuple((int(starts[o][b[o]]), int(starts[o][b[o]]) + arr.chunks[o][b[o]])
                            for o in others)) for b in idx if b[ax] in (k - 1, k)]
            plane = (shape[others[0]], shape[others[1]])
            bounds_d.append((parts, dask.delayed(_boundary_pairs)(
                ax, plane, [(side, sl) for _, side, sl in parts], [meta_d[b] for b, _, _ in parts],
                connectivity)))
    heads, bpairs = dask.compute([dask.delayed(_meta_head)(meta_d[b]) for b in idx],
                                 [d for _, d in bounds_d])
    meta = dict(zip(idx, heads))
    counts = np.array([meta[b][0] for b in idx], np.int64)
    offsets = dict(zip(idx, np.r_[0, np.cumsum(counts)[:-1]]))
    total = int(counts.sum())
    if total == 0:
        return da.zeros(shape, np.int32, chunks=arr.chunks), 0
    first = np.concatenate([meta[b][1] for b in idx])
    pairs = []
    for (parts, _), (pr, pofs) in zip(bounds_d, bpairs):
        if len(pr):  # boundary-local ids -> global provisional labels (1-based)
            glob = np.array([offsets[b] for b, _, _ in parts], np.int64)
            part = np.searchsorted(pofs, pr - 1, side="right") - 1
            pairs.append(pr - pofs[part] + glob[part])
    if pairs:
        pr = np.concatenate(pairs) - 1
        g = coo_matrix((np.ones(len(pr), np.int8), (pr[:, 0], pr[:, 1])), shape=(total, total))
        ncomp, comp = connected_components(g, directed=False)
    else:
        ncomp, comp = total, np.arange(total)
    comp_first = np.full(ncomp, np.iinfo(np.int64).max, np.int64)
    np.minimum.at(comp_first, comp, first)
    rank = np.empty(ncomp, np.int64)
    rank[np.argsort(comp_first, kind="stable")] = np.arange(1, ncomp + 1)
    dt = np.int32 if ncomp < 2**31 - 1 else np.int64
    table = rank[comp].astype(dt)
    log.info("label_chunked: %d provisional labels in %d chunks -> %d components",
             total, len(idx), ncomp)
    blocks = np.empty(grid.shape, dtype=object)
    table_d = dask.delayed(table, pure=True)  # one graph node shared by every block
    for b in idx:
        blocks[b] = da.from_delayed(
            dask.delayed(_relabel_block)(grid[b], table_d, int(offsets[b]), connectivity,
                                         backend),
            shape=tuple(arr.chunks[a][b[a]] for a in range(3)), dtype=dt)
    return da.block(blocks.tolist()), int(ncomp)
