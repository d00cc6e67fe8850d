"""The CT series analysis of :mod:`ssbscope.tomo.series` on chunked, lazily read volumes.

:func:`analyse_series_chunked` gives the same :class:`~ssbscope.tomo.series.SeriesResult` as
:func:`~ssbscope.tomo.series.analyse_series` while holding only z-slabs of the volumes (plus
their halos) in memory; the volumes may be Dask arrays (e.g. ``store.read(key)["volume"]``),
Zarr arrays or NumPy arrays.  Every volume intermediate is computed once and written to a
temporary Zarr array under ``work_dir`` (z-slab chunks), from which the later steps read:

============== ====================================================================== =========
step           how                                                                    equal to
============== ====================================================================== =========
cell region    mean along z accumulated slice by slice in float32 (numpy's order):    bit-exact
               per band of rows a chain of slab tasks passing the running sum
registration   shift from the ``register_on`` slab only (a few slices loaded; block-  bit-exact
               averaged in (y, x) on a fixed grid when it holds more than
               ``REGISTER_MAX_VOXELS``, whatever the budget: :func:`register_factor`); the
               resampling (``affine_transform``, order 1, ``mode='nearest'``) per
               z-slab, each slab reading ``ceil(|dz|) + 2`` halo slices
median 3x3x3   per z-slab with a 1-slice halo, edges replicated                       bit-exact
levels         per-slice medians over the cell (one pass over the median) -> the      exact
               same exact 1-D k-means and level map (``series._choose_levels``)
labels         ``digitize`` per slab (elementwise); opening per slab with a ``4 r``   exact [1]_
               halo.  Random forest (``segmenter``): features and prediction per
               slab read with the features' halo (``TrainedSegmenter.halo_vox``),
               the opening on a slab predicted ``4 r`` further; probability sums
               per slice
layer location per-slice phase fractions, one pass over the labels                    exact
heights        ``interface_height_map`` on the crop ``[lo, hi)`` of the median and   exact
               of the raw values (a few slices around each interface), both kept
               (2-D) until the series' one estimator per interface is chosen
               (:func:`_series_height_estimator`); the noise response reads one
               homogeneous slab of the electrolyte; truncated scans: slice means
               and the exterior's reference sums per slab, then the window
               (:func:`_truncated_heights`; again, widened, where the surface
               reaches its ends); the window's labels are rewritten from those
               heights (:func:`_relabel_window`)
thickness      per-column voxel counts, slab by slab                                  exact
volumes        per-phase counts, slab by slab                                         exact
pore + crack   pure-phase levels: per-phase count/min/max, then a 16384-bin histogram  1e-12
               of the eroded interiors (erosion reads ``erode_vox`` halo slices),
               integer counts -> the same mode (:mod:`ssbscope.tomo.levels`);
               partial volume summed per slab over the neighbourhood of the
               low-attenuation voxels (:func:`_local_pore_crack_volume`, reads
               ``PORE_NEIGHBOURHOOD_VOX`` halo slices); truncated scans: each slice's
               median - mean after removing the exterior's shading
               (:func:`_truncated_pore_volume`)
denoise        median as above; tv/nlm on the fixed z-block grid of                   exact
               :func:`ssbscope.tomo.denoise.denoise_rows` (block + halo)
low-attenuation  :func:`~ssbscope.tomo.chunked.label_chunked` (26-connected, merged   exact
regions        exactly across slab faces) on the z-range of the electrolyte and the
               Li electrodes; sizes and contacts per slab
new filaments  the same labelling of ``current & ~previous``; sizes and centroids     exact
               from per-slab ``bincount``
grey overlap   sample mean and std in two passes                                      1e-12
============== ====================================================================== =========

.. [1] The opening fills voxels that no phase's opening keeps from the nearest kept voxel;
   the slab sees ``4 r`` slices beyond its faces, so the fill is exact when the nearest kept
   voxel lies within that distance (always for the twin's volumes; a gap wider than ``4 r``
   voxels along z in every phase would differ).

The volumes (``SeriesResult.volumes``/``labels``) and the masks of the scans are lazy Dask
arrays backed by those Zarr arrays: the store writes them chunk by chunk.  The slab
thickness comes from ``memory_limit_bytes`` (:func:`slab_slices`).

The chunked path fixes glibc's mmap and trim thresholds
(:func:`ssbscope.heap.limit_heap_retention`) and trims the heap after each scan: the slabs'
arrays that Dask's threads free go back to the system instead of staying in the threads'
arenas (2 x 256^3 in slabs of 16 slices: 0.38 GB held after the analysis and a 0.68 GB peak
before, 0.25 GB and 0.57 GB after; see :mod:`ssbscope.heap`).

The slabs that write a volume intermediate (registration resampling, median or TV/NLM
blocks, labels or the forest's prediction, the levels' interior labels) are Dask tasks on
the active scheduler: under ``ssbscope run --workers N`` or ``--scheduler ADDRESS`` they run
on the cluster's workers and the client keeps only per-slice reductions.  So are the
reductions over slabs: the labelling's slabs and the label pairs across their faces
(:func:`~ssbscope.tomo.chunked.label_chunked`), the per-block label counts, contacts and
centroid sums of the low-attenuation regions and new filaments (:func:`_map_blocks`), the
pure-phase and low-attenuation level histograms, the layer fractions and the grey-overlap
sums; the client receives counts, pairs and histograms, never a slab.  The cell region's
column means are chains of slab tasks per band of rows (float32 sums passed along z in
numpy's order: bit-identical) and the registration is one task that reads both slabs on a
worker; the client receives a (y, x) mean image and a shift.

This is the one implementation of the series analysis: the in-memory
:func:`~ssbscope.tomo.series.segment_scan`, :func:`~ssbscope.tomo.series.measure_scan` and
:func:`~ssbscope.tomo.series.analyse_series` run it on a single slab of NumPy arrays.
"""

from __future__ import annotations

import functools
import logging
import math
import os
import tempfile
from pathlib import Path

import numpy as np

from ssbscope.errors import EmptyResultError, InputError, ParameterError
from ssbscope.heap import limit_heap_retention, trim_heap

__all__ = ["slab_slices", "analyse_series_chunked"]

log = logging.getLogger(__name__)

#: Bytes of work memory per voxel of a slab (float32 input + halo, float64 resampling and
#: median temporaries, labels) -- measured on the 256^3 benchmark, rounded up.
BYTES_PER_VOXEL = 64
#: Default budget when none is given (bytes).
DEFAULT_BUDGET = 2 * 1024**3


def slab_slices(shape, memory_limit_bytes: int | None = None, n_threads: int | None = None,
                ) -> int:
    """Slices per z-slab so that ``n_threads`` slabs in flight fit ``memory_limit_bytes``.

    Parameters
    ----------
    shape : (Z, Y, X)
    memory_limit_bytes : int, optional
        Default 2 GiB.
    n_threads : int, optional
        Default the CPU count.

    Returns
    -------
    int
        Between 4 and Z.
    """
    nz, ny, nx = (int(s) for s in shape)
    budget = int(memory_limit_bytes) if memory_limit_bytes else DEFAULT_BUDGET
    nt = int(n_threads or os.cpu_count() or 1)
    # half the budget for slabs in flight; the rest for the interpreter, maps and tables
    per = max(1, budget // 2 // (nt * BYTES_PER_VOXEL * ny * nx))
    return int(min(nz, max(4, per)))


# --------------------------------------------------------------------------- slab helpers

class _Vol:
    """A (Z, Y, X) volume read slab by slab (Dask, Zarr or NumPy)."""

    def __init__(self, v):
        import dask.array as da

        if hasattr(v, "data") and hasattr(v, "dims"):  # xarray.DataArray
            v = v.data
        self.src = v
        self.shape = tuple(int(s) for s in v.shape)
        self.is_dask = isinstance(v, da.Array)
        self.in_memory = isinstance(v, np.ndarray)

    def read(self, z0, z1, y0=None, y1=None):
        """Slices ``[z0, z1)`` (rows ``[y0, y1)`` of them when given), float32 if float."""
        z0, z1 = max(0, int(z0)), min(self.shape[0], int(z1))
        out = self.src[z0:z1] if y0 is None else self.src[z0:z1, int(y0):int(y1)]
        if self.is_dask:
            out = out.compute(scheduler="threads")
        return np.asarray(out, np.float32) if np.asarray(out).dtype.kind == "f" \
            else np.asarray(out)


def _bounds(nz, cz):
    return [(z, min(nz, z + cz)) for z in range(0, nz, cz)]


def _new_zarr(work: Path, name: str, shape, cz: int, dtype):
    import zarr

    return zarr.create_array(store=str(work / f"{name}.zarr"), shape=shape,
                             chunks=(cz,) + tuple(shape[1:]), dtype=dtype, overwrite=True,
                             fill_value=0)


def _map_slabs(bounds, func, local=False):
    """``[func(z0, z1) for z0, z1 in bounds]``, each a Dask task on the active scheduler (the
    workers of a ``dask.distributed`` client, e.g. ``ssbscope run --workers N`` /
    ``--scheduler``; else local threads); on local threads when ``local`` (``func`` reads
    NumPy arrays, which every task would carry)."""
    import dask

    tasks = [dask.delayed(func)(z0, z1) for z0, z1 in bounds]
    return list(dask.compute(*tasks, scheduler="threads" if local else None))


def _write_map(dst, cz, func, local=False):
    """Fill ``dst`` slab by slab with ``func(z0, z1)`` (the rows, or ``(rows, extra)``), the
    slabs as tasks (:func:`_map_slabs`; local threads for a NumPy ``dst``); returns the
    extras in slab order (None without)."""
    return _map_slabs(_bounds(dst.shape[0], cz), functools.partial(_write_slab, dst, func),
                      local or isinstance(dst, np.ndarray))


def _write_slab(dst, func, z0, z1):
    out = func(z0, z1)
    rows, extra = out if isinstance(out, tuple) else (out, None)
    dst[z0:z1] = rows
    return extra


def _map_blocks(lab, z_start, func, local=False):
    """``[func(block, z0, z1) ...]`` of the z-blocks of the lazy array ``lab`` (its rows
    start at global row ``z_start``), each a Dask task on the active scheduler (local threads
    when ``local``): the blocks are computed and reduced on the workers, only ``func``'s
    results reach the client."""
    import dask

    st = np.r_[0, np.cumsum(lab.chunks[0])].astype(int)
    blocks = lab.to_delayed().reshape(len(lab.chunks[0]), -1)[:, 0]
    tasks = [dask.delayed(func)(blk, z_start + int(a), z_start + int(b))
             for blk, a, b in zip(blocks, st[:-1], st[1:])]
    return list(dask.compute(*tasks, scheduler="threads" if local else None))


def _scheduler(local):
    """A context in which ``dask.compute`` runs on local threads (``local``: the tasks read
    NumPy arrays, which every task would carry to a cluster), else the active scheduler."""
    import contextlib

    import dask

    return dask.config.set(scheduler="threads") if local else contextlib.nullcontext()


def _nonzero_counts(c):
    """(ids, values) of the non-zero entries of a per-label array (what a task returns)."""
    ids = np.flatnonzero(c)
    return ids, c[ids]


def _region_reduce(near, n, lab, z0, z1):
    """A task: voxel counts of the labels of a block and the labels touching ``near``."""
    lab = np.asarray(lab)
    ids, cnt = _nonzero_counts(np.bincount(lab.ravel(), minlength=n + 1))
    nr = near(z0, z1) & (lab > 0)
    return ids, cnt, np.unique(lab[nr])


def _lazy(z, cz):
    import dask.array as da

    chunks = (cz,) + tuple(z.shape[1:])
    return da.from_array(z, chunks=chunks) if isinstance(z, np.ndarray) \
        else da.from_zarr(z, chunks=chunks)


def _cell_region(vol: _Vol, cz: int):
    """:func:`ssbscope.tomo.series.cell_region` of a slab-read volume (same float32 sum).

    The column means are Dask tasks (on the workers of a ``dask.distributed`` client): the
    (y, x) plane is cut into bands of rows (:func:`_cell_bands`), and each band's float32
    sum runs along z as a chain of slab tasks (:func:`_column_sums`), each adding its slices
    one by one to the running sum it receives, i.e. in numpy's order for ``nanmean`` along
    axis 0, so the mean is bit-identical to the in-memory one however the slabs and bands
    are cut.  Only the bands' float32 means reach the client (one (y, x) image).
    """
    import dask

    from ssbscope.tomo.series import _region_from_mean

    nz, ny, _ = vol.shape
    means = []
    for y0, y1 in _cell_bands(vol):
        acc = None
        for z0, z1 in _bounds(nz, cz):
            acc = dask.delayed(_column_sums, pure=False)(vol, z0, z1, y0, y1, acc)
        means.append(dask.delayed(_column_mean, pure=False)(acc))
    with _scheduler(vol.in_memory):
        bands = dask.compute(*means)
    return _region_from_mean(np.concatenate(bands, axis=0).astype(np.float64), "edge")


def _cell_bands(vol: _Vol):
    """Bands of (y) rows for the column-mean chains: the stored chunks' rows (cubes of the
    store, :func:`ssbscope.ome.image_chunks`) when they give several, else about 4 bands (at
    least 16 rows each)."""
    ny = vol.shape[1]
    ch = getattr(vol.src, "chunks", None)
    step = None
    if vol.is_dask and len(ch[1]) > 1:
        step = int(ch[1][0])
    elif isinstance(ch, tuple) and ch and isinstance(ch[0], int) and len(ch) == 3 \
            and int(ch[1]) < ny:  # a Zarr array's chunk shape
        step = int(ch[1])
    if step is None:
        step = max(16, -(-ny // 4))
    return [(y, min(ny, y + step)) for y in range(0, ny, step)]


def _column_sums(vol: _Vol, z0, z1, y0, y1, prev):
    """A task: ``prev`` (float32 sum, count of non-NaN values; None: zeros) plus the slices
    ``[z0, z1)`` of the rows ``[y0, y1)``, added one slice at a time."""
    v = vol.read(z0, z1, y0, y1)
    if prev is None:
        acc = np.zeros(v.shape[1:], np.float32)
        cnt = np.zeros(v.shape[1:], np.intp)
    else:
        acc, cnt = prev[0].copy(), prev[1].copy()
    for sl in v:
        ok = ~np.isnan(sl)
        acc += np.where(ok, sl, np.float32(0))
        cnt += ok
    return acc, cnt


def _column_mean(prev):
    """A task: numpy's nanmean from the sums: float32 sum / count, divided in float64 into
    float32 (NaN where a column has no value)."""
    acc, cnt = prev
    with np.errstate(invalid="ignore", divide="ignore"):
        return (acc / cnt).astype(np.float32)


def _shift_slab(vol: _Vol, transform, z0, z1):
    """Rows ``[z0, z1)`` of ``apply_rigid(volume, transform, order=1)``."""
    import scipy.ndimage as ndi

    from ssbscope.tomo.register import _matrix

    nz = vol.shape[0]
    dz = float(transform.shift_vox[0])
    m = int(math.ceil(abs(dz))) + 2
    c0, c1 = max(0, z0 - m), min(nz, z1 + m)
    from ssbscope.tomo.filters import check_finite

    crop = vol.read(c0, c1).astype(np.float64)
    check_finite(crop)
    rot = _matrix(transform.rotation_deg)
    c = (np.array(vol.shape, float) - 1) / 2
    offset = c - rot @ (c + np.asarray(transform.shift_vox, float))
    # output row j of the slab is global row z0 + j; the crop's row i is global row c0 + i
    offset = offset.copy()
    offset[0] += z0 - c0
    return ndi.affine_transform(crop, rot, offset=offset, order=1, mode="nearest",
                                output_shape=(z1 - z0,) + crop.shape[1:]).astype(np.float32)


def _median_slab(src, z0, z1):
    from ssbscope.tomo.filters import median3

    nz = src.shape[0]
    a, b = max(0, z0 - 1), min(nz, z1 + 1)
    d = np.asarray(src[a:b])
    d = np.pad(d, ((1 - (z0 - a), 1 - (b - z1)), (1, 1), (1, 1)), mode="edge")
    return median3(d)[1:-1, 1:-1, 1:-1]


def _rim_median_crop(src, med_crop, c0, c1, footprint):
    """Rows ``[c0, c1)`` of the 3x3x3 median ``med_crop`` of ``src``, with the columns on
    the rim of ``footprint`` (one of their 8 neighbours outside it) filtered again after
    every column outside the footprint took the value of its nearest footprint column.

    The plain median at the outermost analysed column mixes in the cell's own rim and the
    air beyond (dark, like Li): next to a Li layer the darker median moves the Li | Li6PS5Cl
    crossing up.  On the anode-free twin (Sandoval et al. 2025, case B, 3 µm voxels) the
    thin plated layers (2.4 voxels, heights on the median) read +0.65 µm in that ring and
    +0.25 µm over the edge ring (centre - edge -0.50 against truth -0.15 on the same
    footprint).  The other columns keep the plain median (identical within the footprint's
    interior)."""
    import scipy.ndimage as ndi

    from ssbscope.tomo.filters import median3

    fp = np.asarray(footprint, bool)
    rim = fp & ~ndi.binary_erosion(fp, structure=np.ones((3, 3), bool))  # 3x3 sees outside
    if c1 <= c0 or not rim.any() or fp.all():
        return med_crop
    nz = src.shape[0]
    a, b = max(0, c0 - 1), min(nz, c1 + 1)
    d = np.asarray(src[a:b]).astype(np.float32)
    iy, ix = ndi.distance_transform_edt(~fp, return_distances=False, return_indices=True)
    d = d[:, iy, ix]
    d = np.pad(d, ((1 - (c0 - a), 1 - (b - c1)), (1, 1), (1, 1)), mode="edge")
    out = np.array(med_crop, dtype=np.float32, copy=True)
    out[:, rim] = median3(d)[1:-1, 1:-1, 1:-1][:, rim]
    return out


def _open(lab, n, radius):
    """Opening of every declared phase of ``lab`` (undeclared voxels kept); none at 0."""
    from ssbscope.tomo.segment import _open_phases
    from ssbscope.tomo.series import UNDECLARED

    if not radius:
        return lab
    und = lab == UNDECLARED
    return np.where(und, UNDECLARED, _open_phases(np.where(und, 0, lab), n,
                                                  int(radius))).astype(np.uint8)


def _label_slab(med, edges, lut, n, radius, z0, z1):
    h = 4 * int(radius) if radius else 0
    a, b = max(0, z0 - h), min(med.shape[0], z1 + h)
    lab = _open(lut[np.digitize(np.asarray(med[a:b]), edges).astype(np.uint8)], n, radius)
    return lab[z0 - a:z0 - a + (z1 - z0)]


def _read_rows(src, a, b):
    return np.asarray(src[a:b])


# --------------------------------------------------------------------------- one scan

class _Scan:
    """Intermediates of one scan, read and written by z-slab: aligned grey values, median,
    labels (Zarr arrays, or NumPy arrays as one slab in memory)."""

    def __init__(self, aligned, med, labels, cz, med_is_median3: bool = False):
        self.aligned, self.med, self.labels, self.cz = aligned, med, labels, cz
        self.shape = tuple(aligned.shape)
        # ``med`` is the plain 3x3x3 median of ``aligned`` (the interface heights then redo
        # it at the footprint's rim without the columns outside: _rim_median_crop)
        self.med_is_median3 = bool(med_is_median3)

    def slabs(self):
        return _bounds(self.shape[0], self.cz)

    def map(self, func):
        """``func(z0, z1)`` of every slab, as tasks (:func:`_map_slabs`)."""
        return _map_slabs(self.slabs(), func, isinstance(self.labels, np.ndarray))


def _segment(sc: _Scan, layers, order, region, vs, radius, class_phase):
    """Grey levels, labels (written to ``sc.labels``) and layers of one scan, slab by slab
    (:func:`ssbscope.tomo.series.segment_scan` is one slab); returns the
    :class:`~ssbscope.tomo.series.PhaseSegmentation` (``labels`` None) and the per-slice
    phase fractions of the cell's inner columns."""
    from ssbscope.tomo.series import (UNDECLARED, PhaseSegmentation, _choose_levels,
                                      _locate_from_fractions, _undeclared_band_ranks)

    n = len(order.phases)
    inner = region.inner
    med = sc.med
    prof = np.concatenate(sc.map(lambda z0, z1: np.median(np.asarray(med[z0:z1])[:, inner],
                                                          axis=1)))
    best = _choose_levels(prof, layers, order, vs, class_phase)
    _, cmap, centers, edges = best
    lut = np.array(cmap, np.uint8)
    _write_map(sc.labels, sc.cz,
               lambda z0, z1: _label_slab(sc.med, edges, lut, n, radius, z0, z1))
    frac = _fractions(sc, n, inner)
    rank = _undeclared_band_ranks(frac, n, class_phase=cmap,
                                  slice_medians=lambda: _slice_medians(sc, n, inner))
    try:
        loc = _locate_from_fractions(frac, layers, order, vs, rank=rank)
    except EmptyResultError:
        loc = best[0]
    log.info("segment (chunked): thresholds %s -> %s; layers %s", np.round(edges, 6).tolist(),
             [order.phases[p] if p != UNDECLARED else "undeclared" for p in cmap],
             {nm: (a, b) for nm, a, b, ok in zip(loc.names, loc.z0_vox, loc.z1_vox, loc.present)
              if ok})
    seg = PhaseSegmentation(labels=None, phases=order.phases,
                            class_thresholds=tuple(float(e) for e in edges),
                            class_phase=tuple(cmap), location=loc)
    return seg, frac


def _segment_forest(sc: _Scan, segmenter, layers, order, region, vs, radius):
    """:func:`ssbscope.tomo.trainable.forest_segment_scan` on the scan's intermediates: the
    forest predicts every z-slab from the aligned grey values read with the features' halo
    (equal to the whole-volume prediction); with an opening, the slab's labels are predicted
    ``4 r`` slices further each side and opened there (exact as :func:`_label_slab`); the
    per-slice probability sums are gathered on the way."""
    import dataclasses

    from ssbscope.tomo.trainable import (_phase_labels, concat_sums, forest_segmentation,
                                         locate_forest_layers, predict_slab, probability_sums)

    n = len(order.phases)
    nz = sc.shape[0]
    rec = forest_segmentation(segmenter, order, None)
    cmap = np.asarray(rec.class_phase)
    h = 4 * int(radius) if radius else 0
    aligned, mask, inner = sc.aligned, region.mask, region.inner

    def slab(z0, z1):  # a task: labels and probability sums of the slab
        a, b = max(0, z0 - h), min(nz, z1 + h)
        pp, lab = _phase_labels(predict_slab(segmenter, aligned, a, b), cmap, n)
        pp, lab = pp[:, z0 - a:z1 - a], _open(lab, n, radius)[z0 - a:z1 - a]
        return lab, probability_sums(pp, lab, mask, inner)

    sums = concat_sums(_write_map(sc.labels, sc.cz, slab))
    frac = _fractions(sc, n, region.inner)
    loc = locate_forest_layers(frac, layers, order, vs, "segment (chunked, random forest)",
                               slice_medians=lambda: _slice_medians(sc, n, inner))
    return dataclasses.replace(rec, location=loc), frac, sums


def _fractions(sc: _Scan, n, footprint):
    """``series._phase_fractions`` of the label array, slab by slab."""
    from ssbscope.tomo.series import _phase_fractions

    labels = sc.labels
    return np.concatenate(sc.map(lambda z0, z1: _phase_fractions(np.asarray(labels[z0:z1]), n,
                                                                 footprint)), axis=1)


def _slice_medians(sc: _Scan, n, footprint):
    """``series._slice_grey_medians`` of the labels and the filtered grey values
    (``sc.med``), slab by slab: the level of a short undeclared band for the layer
    location."""
    from ssbscope.tomo.series import _slice_grey_medians

    labels, med = sc.labels, sc.med
    return np.concatenate(sc.map(lambda z0, z1: _slice_grey_medians(
        np.asarray(labels[z0:z1]), np.asarray(med[z0:z1]), footprint, n)), axis=1)


def _label_stats(mask_slab_fn, shape, z_range, cz, *, want_coords=False, local=False):
    """Label the mask (26-connected, exact across slabs) on ``z_range`` and return
    ``(n, labels, z0)``: ``labels`` lazy (rows from ``z0``), None when the range is empty;
    ``mask_slab_fn(z0, z1)`` gives the mask's rows (global indices).  The slabs are
    labelled, and the label pairs across their faces found, in tasks on the active
    scheduler (local threads when ``local``)."""
    from ssbscope.tomo.chunked import label_chunked

    za, zb = z_range
    if zb <= za:
        return 0, None, za
    with _scheduler(local):
        lab, n = label_chunked(_lazy_fn(mask_slab_fn, shape, z_range, cz), 26)
    return n, lab, za


def _bright_rows(src, z_range, fp, level, z0, z1):
    """Rows ``[z0, z1)`` of the mask ``src >= level`` (a (Y, X) level per column) inside
    the columns ``fp`` and the slices ``z_range``, False elsewhere."""
    m = np.zeros((z1 - z0,) + fp.shape, bool)
    a, b = max(z_range[0], z0), min(z_range[1], z1)
    if b > a:
        m[a - z0:b - z0] = (np.asarray(src[a:b]) >= level[None]) & fp[None]
    return m


def _mirror_noise_count(lab, touch, bright_fn, electrode_fn, shape, z_range, cz, local):
    """Voxels of ``bright_fn``'s mask (grey value at or above the mirror level,
    :func:`ssbscope.tomo.low_attenuation.mirror_levels`) in the 26-neighbourhood of the
    Li-connected set (the electrode's low voxels and the labels ``touch`` of ``lab``, rows
    from ``z_range[0]``), outside it: by the noise's symmetry about the matrix level, the
    estimated number of matrix voxels that noise carried below the threshold and joined to
    the connected regions.  Lazy blocks with a one-row overlap, summed on the active
    scheduler."""
    import dask.array as da
    import scipy.ndimage as ndi

    tl = np.asarray(touch, bool)
    conn = lab.map_blocks(lambda b: tl[b], dtype=bool)
    elm = _lazy_fn(electrode_fn, shape, z_range, cz)
    bright = _lazy_fn(bright_fn, shape, z_range, cz)
    near = da.map_overlap(
        lambda b: ndi.binary_dilation(b, structure=np.ones((3, 3, 3), bool)),
        conn | elm, depth={0: 1, 1: 0, 2: 0}, boundary="none", dtype=bool)
    with _scheduler(local):
        return int((near & bright & ~conn).sum().compute())


def _range_mask(src, z_range, inner, thr, z0, z1):
    """Rows ``[z0, z1)`` of the mask ``src <= thr`` inside the cell's columns ``inner`` and
    the slices ``z_range``, False elsewhere."""
    m = np.zeros((z1 - z0,) + inner.shape, bool)
    a, b = max(z_range[0], z0), min(z_range[1], z1)
    if b > a:
        m[a - z0:b - z0] = (np.asarray(src[a:b]) <= thr) & inner[None]
    return m


def _lazy_fn(slab_fn, shape, z_range, cz, dtype=bool):
    """Lazy rows ``z_range`` of a volume whose rows ``slab_fn(z0, z1)`` gives (one chunk a
    slab)."""
    import dask
    import dask.array as da

    za, zb = z_range
    return da.concatenate([
        da.from_delayed(dask.delayed(slab_fn)(za + a, za + b),
                        shape=(b - a,) + tuple(shape[1:]), dtype=dtype)
        for a, b in _bounds(zb - za, cz)], axis=0)


#: Layers whose band holds fewer voxels take their phase's pure level from the whole scan
#: in the interface height maps (:func:`_measure`): the crop starts one voxel inside the band,
#: so the 1-2 voxels it holds of such a layer lie within a voxel of a face.
THIN_LAYER_VOX = 4


#: Slices of the scan's noise field (:func:`ssbscope.tomo.series.height_noise_field`) that
#: :func:`_measure` reads: the tallest interface crop it serves (at most 10 + 2 x the
#: partial-volume run-out of the faces; taller crops fall back to white noise).
NOISE_FIELD_SLICES = 16


def _measure(sc: _Scan, seg, region, layers, vs, *, interfaces, thickness, central_fraction,
             electrolyte, n_layers, min_volume_um3, frac_inner, phase_levels=None,
             level_erode_vox=2, level_labels=None, truncated=None, subvoxel=False):
    """The measurement of one scan from its intermediates, slab by slab (the one
    implementation: :func:`ssbscope.tomo.series.measure_scan` is one slab); returns the
    :class:`~ssbscope.tomo.series.ScanMeasurement` and the per-slab functions of its masks
    ``electrolyte_low`` and ``electrolyte_raw_low`` (:func:`_range_mask`).  ``subvoxel``:
    sub-voxel edges of a truncated scan's interfaces (:func:`_truncated_heights`)."""
    import scipy.ndimage as ndi

    from ssbscope.tomo.series import (PhaseOrder, ScanMeasurement, _height,
                                      _height_candidates, _median_noise_response, as_layers,
                                      choose_height_estimator, electrolyte_layer,
                                      electrolyte_slab_order, height_estimator_errors,
                                      height_noise_field, height_noise_maps,
                                      interface_pairs)

    lay = as_layers(layers)
    names = [la.name for la in lay]
    loc = seg.location
    order_phases = seg.phases
    n_ph = len(order_phases)
    inner, cell = region.inner, region.mask
    nz = sc.shape[0]
    cz = sc.cz
    pidx = {la.name: order_phases.index(la.material) for la in lay}
    present = [nm for nm, ok in zip(names, loc.present) if ok]
    band = {nm: loc.band(nm) for nm in present}

    # a layer thinner than THIN_LAYER_VOX: its voxels in an interface's crop all lie within
    # the faces' blur, so the crop's level of its phase is mixed; its material's pure level
    # in the scan (eroded interiors, e.g. a thick counter electrode) replaces it
    thin_levels = None
    thin = [nm for nm in present if band[nm][1] - band[nm][0] < THIN_LAYER_VOX]
    if truncated is None and thin:
        from ssbscope.tomo.levels import pure_phase_levels

        local0 = isinstance(sc.labels, np.ndarray)
        thin_levels = pure_phase_levels(
            sc.aligned, sc.labels if level_labels is None else level_labels, range(n_ph),
            phase_names=order_phases, footprint=inner, z_range=loc.stack_vox,
            overrides=phase_levels, erode_vox=level_erode_vox, chunk_slices=cz,
            map_slabs=lambda func, bounds: _map_slabs(bounds, func, local0))

    def thin_level(nm):
        return (thin_levels.level(order_phases[pidx[nm]])
                if nm in thin and thin_levels is not None else None)

    heights, cands, h_err, h_est = {}, {}, {}, {}
    n_cands, h_noise = {}, {}  # the estimators' noise maps (height_noise_maps)
    noise_field = None  # the scan's voxel noise (its electrolyte's interior), read once
    for a, b in zip(present[:-1], present[1:]):
        (a0, a1), (b0, b1) = band[a], band[b]
        pa, pb = pidx[a], pidx[b]
        ia, ib = present.index(a), present.index(b)
        lo = max(a0 + (1 if ia > 0 else 0), a1 - 5)
        hi = min(b1 - (1 if ib < len(present) - 1 else 0), b0 + 5)
        lo_min = a0 + (1 if ia > 0 else 0)
        hi_max = b1 - (1 if ib < len(present) - 1 else 0)
        frac_b, frac_a = frac_inner[pb], frac_inner[pa]

        def mixing(f, k, prev):
            return f[k] > 0.02 and (f[k] >= 0.5 or f[k] < f[prev] - 0.01)

        while lo > lo_min and mixing(frac_b, lo - 1, lo):
            lo -= 1
        while hi < hi_max and mixing(frac_a, hi, hi - 1):
            hi += 1
        # only the crop [lo, hi) is read; _height indexes [lo:hi] of its arrays
        c0, c1 = max(0, lo), max(max(0, lo), hi)
        med_c = np.asarray(sc.med[c0:c1])
        if sc.med_is_median3:  # the rim's median without what lies outside the footprint
            med_c = _rim_median_crop(sc.aligned, med_c, c0, c1, inner)
        med_c = _Crop(med_c, c0)
        raw_c = _Crop(np.asarray(sc.aligned[c0:c1]), c0)
        if truncated is not None:  # the seed of the local-contrast heights
            heights[(a, b)] = _height(med_c, lo, hi, vs, inner, f"{a}|{b}", raw=raw_c,
                                      lower_level=thin_level(a), upper_level=thin_level(b))
            h_est[f"{a}|{b}"] = "truncated"
            continue
        # both estimators' maps; this scan's choice alone here, the series' one after
        # every scan is measured (_series_height_estimator)
        h_m, h_u = _height_candidates(med_c, lo, hi, vs, inner, f"{a}|{b}", raw=raw_c,
                                      lower_level=thin_level(a), upper_level=thin_level(b))
        key = f"{a}|{b}"
        if sc.med is sc.aligned or h_u is None:  # no filter: one estimator, the unfiltered
            h_m = h_u = h_u if h_u is not None else h_m
        # the estimators' response to the voxels' noise (the 3x3x3 median's only; another
        # denoising: the lower bound of its error, height_estimator_errors)
        resp = None
        if sc.med_is_median3 and h_u is not h_m:
            if noise_field is None:
                el_band = band.get(electrolyte_layer(lay, PhaseOrder(
                    tuple(order_phases), (float("nan"),) * n_ph, float("nan")), electrolyte))
                noise_field = (height_noise_field(sc.aligned, el_band, inner, NOISE_FIELD_SLICES)
                               if el_band is not None else None)
                if noise_field is None:
                    noise_field = False  # no homogeneous slab: white noise
            resp = _median_noise_response(raw_c, lo, hi, vs, inner, thin_level(a),
                                          thin_level(b),
                                          noise=None if noise_field is False else noise_field)
        cands[(a, b)] = (h_m, h_u)
        h_err[key] = height_estimator_errors(h_m, h_u, resp)
        h_est[key] = "unfiltered" if h_u is h_m else choose_height_estimator(
            [h_err[key]], [_n_common(h_m, h_u)], vs)
        heights[(a, b)] = h_u if h_est[key] == "unfiltered" else h_m
        # each estimator's own noise (a realisation at the map's level), for the
        # resolution-corrected roughness (ssbscope.tomo.metrics.roughness_resolution_corrected)
        n_cands[(a, b)] = height_noise_maps(h_m, h_u, resp)
        picked = n_cands[(a, b)][1 if h_est[key] == "unfiltered" else 0]
        if picked is not None:
            h_noise[key] = picked

    pairs = interface_pairs(lay, interfaces)
    contrast, shading = {}, {}
    voids = float("nan")
    if truncated is not None:  # region-of-interest scan: heights from the local contrast
        mats = {la.name: la.material for la in lay}
        for a, b in pairs:
            h0 = heights.get((a, b))
            if h0 is None or not np.isfinite(h0).any() or a not in band:
                continue
            got = _truncated_heights(sc, h0, band[a], mats[a], mats[b], vs, inner,
                                     truncated, f"{a}|{b}", subvoxel=subvoxel)
            if got is not None:
                heights[(a, b)], contrast[f"{a}|{b}"], shading[(a, b)], win = got
                _relabel_window(sc, win, heights[(a, b)], inner, pidx[a], pidx[b], vs)
        for a, b in pairs:  # voids inside the layer below a locally measured interface
            if (a, b) in shading and a in band:
                v = _truncated_subsurface_voids(sc, band[a], heights[(a, b)], inner,
                                                shading[(a, b)], truncated, mats[a], vs,
                                                f"{a}|{b}", contrast.get(f"{a}|{b}"))
                if math.isfinite(v):
                    voids = (0.0 if not math.isfinite(voids) else voids) + v
        # the other interfaces (flat ones, e.g. electrolyte | cathode): the steepest change
        # of the slice level (_truncated_flat_heights); their labels and bands follow
        _truncated_flat_interfaces(sc, heights, shading, band, present, mats, pidx, vs, inner,
                                   truncated)
        # a blurred edge's ramp between two layers' majority bands (e.g. the steel | Li edge
        # after Paganin with Li's delta/beta): closed at the measured interface height, and
        # the layer location follows the bands the measurement used
        _truncated_close_ramps(sc, heights, band, present, pidx, vs, inner)
        loc = _location_from_bands(loc, band)
    h_out, ra, rq = _interface_maps(heights, pairs, inner)

    want_t = list(names) if thickness is None else list(thickness)
    for t in want_t:
        if t not in names:
            raise InputError(f"analysis.tomo.thickness: {t!r} is not a declared layer {names}")
    # one pass over the labels: per-column counts of the bands' phases, phase volumes
    need_count = {}
    tmaps = {}
    for nm in names:
        if nm not in present:
            tmaps[nm] = np.where(inner, 0.0, np.nan)
            continue
        k = present.index(nm)
        below = heights.get((present[k - 1], nm)) if k > 0 else None
        above = heights.get((nm, present[k + 1])) if k < len(present) - 1 else None
        if below is not None and above is not None:
            tmaps[nm] = np.where(inner, above - below, np.nan)
        else:
            need_count[nm] = np.zeros(inner.shape, np.int64)
    z0s, z1s = loc.stack_vox
    phase_cnt = np.zeros(n_ph, np.int64)
    labels, need = sc.labels, {nm: (band[nm], pidx[nm]) for nm in need_count}

    def counts(z0, z1):  # a task: the slab's per-column counts and phase counts
        lab = np.asarray(labels[z0:z1])
        cols = {nm: (lab[max(a, z0) - z0:max(min(b, z1) - z0, 0)] == p).sum(axis=0)
                for nm, ((a, b), p) in need.items()}
        a, b = max(z0s, z0), max(min(z1s, z1), z0)
        return cols, np.bincount(lab[a - z0:b - z0][:, inner].ravel(), minlength=256)[:n_ph]

    for cols, pc in sc.map(counts):
        phase_cnt += pc
        for nm, c in cols.items():
            need_count[nm] += c
    for nm, acc in need_count.items():
        tmaps[nm] = np.where(inner, acc.astype(float) * vs, np.nan)

    stats = {k: {} for k in ("c", "cs", "e", "es", "m", "o")}
    for nm in want_t:
        for kk, v in zip(_STAT_KEYS, _thickness_stats(tmaps[nm], inner, central_fraction)):
            stats[kk][nm] = v
    v3 = vs ** 3
    area_um2 = float(cell.sum()) * vs ** 2
    # the phases' voxels on the footprint ``inner`` (the cell less its wall's partial-volume
    # ring, as the maps, layer volumes and pore + crack volume), scaled to the cell's area:
    # the ring's grey values mix the exterior in (its electrolyte reads ~0.7 of the matrix
    # level) and the share it puts into the darkest class follows the layers' faces along
    # the wall, which move as Li plates (anode-free twin, seeds 0-2: Li +0.9 ... +2.2 % of
    # volume change against a conserved truth while the ring was counted)
    phase_vol = {p: float(phase_cnt[i]) * v3 * float(cell.sum()) / max(float(inner.sum()), 1.0)
                 for i, p in enumerate(order_phases)}
    layer_vol = {nm: _layer_volume(tmaps[nm], inner, area_um2) for nm in names}

    # pure-phase levels: histograms of the eroded interiors per slab (equal to measure_scan's)
    from ssbscope.tomo.levels import pure_phase_levels

    local = isinstance(sc.labels, np.ndarray)

    def tasks(func, bounds):  # per-slab reductions as tasks (:func:`_map_slabs`)
        return _map_slabs(bounds, func, local)

    levels = thin_levels if thin_levels is not None else pure_phase_levels(
                               sc.aligned, sc.labels if level_labels is None else level_labels,
                               range(n_ph), phase_names=order_phases,
                               footprint=inner, z_range=(z0s, z1s), overrides=phase_levels,
                               erode_vox=level_erode_vox, chunk_slices=cz, map_slabs=tasks)

    porder = PhaseOrder(tuple(order_phases), (float("nan"),) * n_ph, float("nan"))
    el = electrolyte_layer(lay, porder, electrolyte)
    eb = band.get(el)
    pcv = conn = iso = float("nan")
    la_regions = None
    trunc_slices = None
    pc_parts = {}
    frac = np.full(int(n_layers), np.nan)
    la_levels = (float("nan"),) * 3
    thr = seg.threshold_below(0)
    el_rng = raw_rng = (0, 0)
    if eb is None:
        log.warning("measure_scan: electrolyte %r not found; no pore/crack volume", el)
    else:
        e0, e1 = eb
        e_phase = pidx[el]

        lo_lv = levels.level(order_phases[0])  # NaN when the stack holds no such voxel
        hi_lv = levels.level(order_phases[e_phase])
        shade = next((g for (a, b), g in shading.items() if el in (a, b)), None)
        if truncated is not None:
            # a truncated scan's grey levels carry the exterior's per-slice level: the
            # partial volume from each slice's local deviation (_truncated_pore_volume)
            if e1 - e0 > 4:
                below = next((heights[(a, b)] for (a, b) in heights if b == el), None)
                trunc_slices = _truncated_pore_volume(sc, (e0, e1), inner, shade, truncated,
                                                      order_phases[0], lay, el, vs, below,
                                                      per_slice=True)
                if trunc_slices is not None:
                    pcv = float(trunc_slices[e0 + 2:e1 - 2].sum()) * vs ** 3
        elif np.isfinite(lo_lv) and np.isfinite(hi_lv):
            if e1 - e0 > 4:
                if not math.isfinite(lo_lv - hi_lv) or lo_lv == hi_lv:
                    raise ParameterError("level_phase", lo_lv,
                                         f"must differ from level_other={hi_lv!r}")
                pc_rows = _interior_rows(heights, el, inner, vs, (e0, e1))
                pcv, pc_parts = _local_pore_crack_volume(sc, pc_rows, inner, lo_lv, hi_lv,
                                                         vs, cell=cell)
                pc_parts["rows"] = tuple(int(v) for v in pc_rows)
        if e1 - e0 > 4:
            el_rng = (e0 + 2, e1 - 2)
            if np.isfinite(thr):
                raw_rng = (e0 + 2, e1 - 2)
        # as measure_scan: the midpoint of the pure levels (ssbscope.tomo.low_attenuation)
        from ssbscope.tomo import low_attenuation as LA

        el_bands = [band[nm] for nm in present if pidx[nm] == 0 and nm != el]
        ring = cell & ~inner  # the cell's outermost ring: its own matrix level
        lv = LA.measure_levels(functools.partial(_read_rows, sc.aligned), inner, el_bands,
                               e0, e1, bounds=list(_bounds(nz, cz)), map_slabs=tasks,
                               rim=ring)
        rlow_thr = lv.threshold if lv is not None else thr
        la_levels = ((lv.level_low, lv.level_matrix) if lv is not None
                     else (float("nan"),) * 2) + (float(rlow_thr),)
        fp = cell if lv is not None else inner  # as measure_scan: the whole cell region
        # per column: the ring's threshold on the ring (LA.threshold_map)
        thr_map = LA.threshold_map(lv, ring) if lv is not None else None

        def rlow(z0, z1):
            if thr_map is not None:
                return np.asarray(sc.aligned[z0:z1]) <= thr_map[None]
            if np.isfinite(rlow_thr):
                return np.asarray(sc.aligned[z0:z1]) <= rlow_thr
            return np.asarray(sc.labels[z0:z1]) == 0


        def region_low(z0, z1):
            m = np.zeros((z1 - z0,) + sc.shape[1:], bool)
            a, b = max(e0, z0), min(e1, z1)
            if b > a:
                m[a - z0:b - z0] = rlow(a, b) & fp[None]
            return m

        def electrode(z0, z1):
            m = np.zeros((z1 - z0,) + sc.shape[1:], bool)
            for (p0, p1) in el_bands:
                a, b = max(p0, z0), min(p1, z1)
                if b > a:
                    m[a - z0:b - z0] = rlow(a, b) & fp[None]
            return m

        if el_bands:
            za = max(0, min([e0] + [p0 for p0, _ in el_bands]) - 1)
            zb = min(nz, max([e1] + [p1 for _, p1 in el_bands]) + 1)

            def low_only(z0, z1):
                return region_low(z0, z1) & ~electrode(z0, z1)

            def near(z0, z1):  # electrode dilated by the 3x3x3 cube (zero outside)
                a, b = max(0, z0 - 1), min(nz, z1 + 1)
                d = ndi.binary_dilation(electrode(a, b), structure=np.ones((3, 3, 3), bool))
                return d[z0 - a:z1 - a]

            any_el = any(tasks(lambda z0, z1: bool(electrode(z0, z1).any()),
                               [(z0, z1) for z0, z1 in _bounds(nz, cz) if z1 > za and z0 < zb]))
        else:
            any_el = False
        if truncated is not None and any_el:
            # the regions' threshold is a grey level of the whole stack, which a truncated
            # scan's slices do not share (each carries the exterior's level): not measured
            log.warning("measure_scan: truncated scan: the low-attenuation regions "
                        "(connected / isolated) are not measured (grey-level threshold)")
            any_el = False
        if any_el:  # as measure_scan: regions only where the Li electrode has voxels
            n, lab, off = _label_stats(low_only, sc.shape, (za, zb), cz, local=local)
            sizes = np.zeros(n + 1, np.int64)
            touch = np.zeros(n + 1, bool)
            if n:  # per block in tasks: label counts (non-zero ones) and touching labels
                for ids, cnt, tl in _map_blocks(lab, za, functools.partial(
                        _region_reduce, near, n), local):
                    sizes[ids] += cnt
                    touch[tl] = True
            touch[0] = False
            big = sizes * v3 > min_volume_um3
            big[0] = False
            iso_keep = big & ~touch
            n_noise = 0
            if n and lv is not None:  # noise voxels joined to the Li-connected set
                n_noise = _mirror_noise_count(lab, touch, functools.partial(
                    _bright_rows, sc.aligned, (e0, e1), fp, LA.mirror_levels(lv, ring)),
                    electrode, sc.shape, (za, zb), cz, local)
            conn = float(max(0, int(sizes[touch].sum()) - n_noise) * v3)
            iso = float(sizes[iso_keep].sum() * v3)
            # kept for the split of the isolated regions against the first scan
            # (_split_isolated_series), read lazily from the aligned volume
            la_regions = dict(lab=lab, za=za, zb=zb, touch=touch, isolated=iso_keep,
                              sizes=sizes, lv=lv, ring=ring, fp=fp, e0=e0, e1=e1,
                              electrode=electrode, near=near, aligned=sc.aligned, v3=v3,
                              nz=nz)
        side = electrolyte_slab_order(lay, porder, el)
        start, stop = (e1, e0) if side == "bottom" else (e0, e1)
        def slice_sums(a, b):  # a task: per-slice sums of the slab's part of [e0, e1)
            if lv is not None:  # partial-volume fractions with the pure levels
                return LA.slice_fraction_sums(np.asarray(sc.aligned[a:b])[:, fp], lv,
                                              rim=ring[fp])
            return region_low(a, b)[:, fp].sum(axis=1)

        try:
            per_slice = np.zeros(nz)
            if truncated is not None:
                # each slice's partial volume from its local deviation (the pore volume's)
                if trunc_slices is None:
                    raise ParameterError("truncated", "no local partial volume",
                                         "needs the exterior's shading at the electrolyte")
                per_slice, area = trunc_slices, float(inner.sum())
            else:
                rng = [(max(e0, z0), min(e1, z1)) for z0, z1 in _bounds(nz, cz)
                       if min(e1, z1) > max(e0, z0)]
                for (a, b), v in zip(rng, tasks(slice_sums, rng)):
                    per_slice[a:b] = v
                area = float(fp.sum())
            frac = LA.layer_fractions_from_slices(per_slice, start, stop, int(n_layers),
                                                  area, nz)
        except ParameterError as exc:
            log.warning("measure_scan: layer fractions undefined (%s)", exc)
    # the masks of the scan, slab by slab (labels == 0, grey value <= the darkest threshold)
    el_fn = functools.partial(_range_mask, sc.labels, el_rng, inner, 0)
    raw_fn = functools.partial(_range_mask, sc.aligned, raw_rng, inner, thr)
    el_low, raw_low = (_lazy_fn(f, sc.shape, (0, nz), cz) for f in (el_fn, raw_fn))
    sm = ScanMeasurement(
        location=loc, interfaces=tuple(f"{a}|{b}" for a, b in pairs), height_um=h_out,
        ra_um=ra, rq_um=rq, layers=tuple(want_t), thickness_um={k: tmaps[k] for k in want_t},
        thickness_center_um=stats["c"], thickness_center_std_um=stats["cs"],
        thickness_edge_um=stats["e"], thickness_edge_std_um=stats["es"],
        thickness_mean_um=stats["m"], phase_volume_um3=phase_vol, layer_volume_um3=layer_vol,
        electrolyte=el, pore_crack_volume_um3=float(pcv),
        low_attenuation_connected_um3=float(conn), low_attenuation_isolated_um3=float(iso),
        layer_fraction=np.asarray(frac, float), electrolyte_low=el_low,
        electrolyte_raw_low=raw_low, low_attenuation_levels=la_levels,
        phase_levels=levels, interface_contrast=contrast, subsurface_void_volume_um3=voids,
        pore_crack_parts=pc_parts, thickness_outlier_fraction=stats["o"],
        low_attenuation_regions=la_regions if la_regions and lv is not None else None,
        height_estimator=h_est, height_estimator_errors_um=h_err, height_candidates_um=cands,
        psf_sigma_vox=_lateral_psf(sc.aligned, loc, el, cell, cz), height_noise_map_um=h_noise,
        height_noise_candidates_um=n_cands)
    return sm, el_fn, raw_fn


#: Slices of the electrolyte's band (at its middle, 2 from each face) that :func:`_lateral_psf`
#: fits at most: the whole band of a small scan (on the symmetric twin 8 slices at the
#: middle gave 0.43 / 0.50 / 0.46 voxel where the band's 26 gave 0.47 / 0.46 / 0.49), a fit of
#: bounded cost on a large one.  Read slab by slab, the wall's voxels summed (issue 13: the
#: whole band, read at once at the series' write, held ~230 MB a scan at 512^3).
PSF_SLICES = 64


def _lateral_psf(aligned, loc, el, cell, cz: int = 8) -> float:
    """The scan's lateral Gaussian PSF std (voxels) from the edge spread at the cell wall of
    at most :data:`PSF_SLICES` slices at the middle of the electrolyte band ``el`` less 2
    slices at each face (:func:`ssbscope.tomo.metrics.lateral_edge_spread`'s least squares),
    read in slabs of ``cz`` slices whose voxels within 6 of the wall are summed per distinct
    distance (:func:`ssbscope.tomo.metrics.fit_edge_spread` with counts): memory of one slab
    and a few hundred sums, whatever the scan's size; NaN when the band holds fewer than 9
    slices or the fit fails."""
    from ssbscope.tomo.metrics import fit_edge_spread, wall_distance

    try:
        b = loc.band(el) if el else None
    except ValueError:  # not a declared layer name
        b = None
    if b is None or b[1] - b[0] < 9:
        return float("nan")
    z0, z1 = int(b[0]) + 2, int(b[1]) - 2
    n = min(PSF_SLICES, z1 - z0)
    a = z0 + (z1 - z0 - n) // 2
    d = wall_distance(cell)
    near = np.abs(d) <= 6.0
    # the voxels' sums and counts per distinct distance from the wall (the fit weights the
    # group means by their counts: the same least squares as the voxels), slab by slab
    dist, grp = np.unique(d[near], return_inverse=True)
    sums = np.zeros(dist.size)
    cnt = np.zeros(dist.size)
    step = max(int(cz), 1)
    for s0 in range(a, a + n, step):
        v = np.asarray(aligned[s0:min(s0 + step, a + n)])[:, near].astype(np.float64)
        fin = np.isfinite(v)
        sums += np.bincount(grp, np.where(fin, v, 0.0).sum(axis=0), dist.size)
        cnt += np.bincount(grp, fin.sum(axis=0), dist.size)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = sums / cnt
    try:
        return float(fit_edge_spread(dist, mean, cnt).sigma_vox)
    except EmptyResultError as exc:
        log.info("measure_scan: no lateral edge spread (%s)", exc)
        return float("nan")


#: Keys of :func:`_thickness_stats`' values in :func:`_measure` (centre, its std, edge, its
#: std, mean, outlier fraction).
_STAT_KEYS = ("c", "cs", "e", "es", "m", "o")


def _interface_maps(heights, pairs, inner):
    """Height maps, Ra and Rq of the requested interfaces ``pairs`` from ``heights``
    (``(lower, upper)`` -> (Y, X) map, µm; a missing one NaN)."""
    from ssbscope.tomo import metrics as M

    h_out, ra, rq = {}, {}, {}
    for a, b in pairs:
        key = f"{a}|{b}"
        h = heights.get((a, b))
        if h is None:
            h = np.full(inner.shape, np.nan)
        h_out[key] = h
        try:
            r = M.roughness(h)
            ra[key], rq[key] = r.ra_um, r.rq_um
        except EmptyResultError:
            ra[key] = rq[key] = float("nan")
    return h_out, ra, rq


def _thickness_stats(tm, inner, central_fraction):
    """Centre, centre std, edge, edge std (of the LAYER, :func:`layer_centre_edge`), mean
    over every column, outlier fraction of a thickness map (µm); NaN when it is empty."""
    ok = inner & np.isfinite(tm)
    if not ok.any():
        return (float("nan"),) * 6
    # the mean and the volumes keep every column
    st, o_frac = layer_centre_edge(tm, ok, central_fraction)
    return (st.mean_center_um, st.std_center_um, st.mean_edge_um, st.std_edge_um,
            float(np.mean(tm[ok])), o_frac)


def _layer_volume(tm, inner, area_um2):
    """Mean thickness over the inner cell x the cell's area (µm³); NaN when empty."""
    return (float(np.nanmean(tm[inner])) * area_um2 if np.isfinite(tm[inner]).any()
            else float("nan"))


def _series_height_estimator(scans, layers, region, vs, central_fraction, forced="auto"):
    """One height estimator per interface for the whole series
    (:func:`ssbscope.tomo.series.choose_height_estimator` on every scan's
    ``height_estimator_errors_um``), applied to each scan's height maps and what follows from
    them (Ra, Rq; the thickness maps, their statistics and the layer volumes of the layers
    between two measured interfaces); the scans' candidate maps are dropped.  ``forced``
    ("median" or "unfiltered"): that estimator instead (YAML
    ``analysis.tomo.height_estimator``)."""
    import dataclasses

    from ssbscope.tomo.series import HEIGHT_ESTIMATORS, as_layers, choose_height_estimator

    if forced != "auto" and forced not in HEIGHT_ESTIMATORS:
        raise ParameterError("height_estimator", forced,
                             f"must be 'auto' or one of {', '.join(HEIGHT_ESTIMATORS)}")

    names = [la.name for la in as_layers(layers)]
    keys = {k for m in scans for k in m.height_candidates_um}
    choice = {}
    for a, b in keys:
        errs = [m.height_estimator_errors_um[f"{a}|{b}"] for m in scans
                if (a, b) in m.height_candidates_um]
        ncol = [_n_common(*m.height_candidates_um[(a, b)]) for m in scans
                if (a, b) in m.height_candidates_um]
        choice[(a, b)] = (choose_height_estimator(errs, ncol, vs) if forced == "auto"
                          else forced)
        log.info("analyse_series: %s|%s: heights %s in every scan (unfiltered noise %s um, "
                 "median error %s um)", a, b, choice[(a, b)],
                 " / ".join(f"{e[0]:.2f}" for e in errs),
                 " / ".join(f"{e[1]:.2f}" for e in errs))
    inner = region.inner
    area_um2 = float(region.mask.sum()) * vs ** 2
    out = []
    for m in scans:
        cand = m.height_candidates_um
        if not cand:
            out.append(m)
            continue
        heights, est = {}, dict(m.height_estimator)
        noise = dict(m.height_noise_map_um)
        for (a, b), (h_m, h_u) in cand.items():
            pick = choice[(a, b)]
            heights[(a, b)] = h_u if pick == "unfiltered" else h_m
            est[f"{a}|{b}"] = "unfiltered" if h_u is h_m else pick
            n_m, n_u = m.height_noise_candidates_um.get((a, b), (None, None))
            n_pick = n_u if est[f"{a}|{b}"] == "unfiltered" else n_m
            noise.pop(f"{a}|{b}", None)
            if n_pick is not None:
                noise[f"{a}|{b}"] = n_pick
        # the requested interfaces (m.interfaces, "lower|upper"); every adjacent pair of
        # found layers is in cand
        key_pair = {f"{a}|{b}": (a, b) for a, b in cand}
        pairs = [key_pair.get(k, tuple(k.split("|", 1))) for k in m.interfaces]
        h_out, ra, rq = _interface_maps(heights, pairs, inner)
        present = [nm for nm, ok in zip(m.location.names, m.location.present) if ok]
        tmaps = {}
        for k, nm in enumerate(present):
            below = heights.get((present[k - 1], nm)) if k > 0 else None
            above = heights.get((nm, present[k + 1])) if k < len(present) - 1 else None
            if below is not None and above is not None:
                tmaps[nm] = np.where(inner, above - below, np.nan)
        th = dict(m.thickness_um)
        st = {kk: dict(getattr(m, a)) for kk, a in zip(_STAT_KEYS, _STAT_ATTRS)}
        lv = dict(m.layer_volume_um3)
        for nm, tm in tmaps.items():
            if nm in names:
                lv[nm] = _layer_volume(tm, inner, area_um2)
            if nm in th:
                th[nm] = tm
                for kk, v in zip(_STAT_KEYS, _thickness_stats(tm, inner, central_fraction)):
                    st[kk][nm] = v
        out.append(dataclasses.replace(
            m, height_um=h_out, ra_um=ra, rq_um=rq, thickness_um=th, layer_volume_um3=lv,
            height_estimator=est, height_candidates_um={}, height_noise_map_um=noise,
            height_noise_candidates_um={},
            **{a: st[kk] for kk, a in zip(_STAT_KEYS, _STAT_ATTRS)}))
    return out


def _n_common(h_m, h_u) -> int:
    """Columns where both height maps are finite."""
    return int((np.isfinite(h_m) & np.isfinite(h_u)).sum())


#: :class:`~ssbscope.tomo.series.ScanMeasurement` fields of :data:`_STAT_KEYS`.
_STAT_ATTRS = ("thickness_center_um", "thickness_center_std_um", "thickness_edge_um",
               "thickness_edge_std_um", "thickness_mean_um", "thickness_outlier_fraction")


def layer_centre_edge(thickness_map_um, footprint, central_fraction: float):
    """Centre and edge statistics of a layer's thickness map, as the LAYER (one definition
    with the twin's truth).

    The layer is the material between its two faces; material of the same phase beyond
    the upper face - Li in a filament or a filled crack of the electrolyte, whose root sits
    on the layer top or 1-3 voxels above it - is not layer.  Sandoval et al. 2025
    (doi:10.1039/d5eb00111k) segment the electrodeposited layer (Fig. 5b, c, e: thickness
    maps over the central ~75 % of the area) and report the Li in the electrolyte apart, as
    filaments / cracks (Figs. 2, 3c, 6, S7); the anode-free twin's truth
    (:func:`ssbscope.twin.ct.anode_free_001`, ``plated_thickness_center_um`` / ``_edge_um``)
    counts the Li between the Cu and the pellet's lower face, on the continuous face.  A
    column's partial-volume height (:func:`ssbscope.tomo.metrics.interface_height_map`)
    integrates every dark voxel of its window, so where a filament's root sits on or just
    above the layer the column reads the root as layer; those columns are left out of the
    centre / edge means and std (:func:`ssbscope.tomo.metrics.thickness_outliers`: columns
    standing above the median of their lateral context).  The map itself, its mean and the
    layer volumes keep every column.

    What remains (anode-free twin, case B after the 1.5 mA cm^-2 step, seed 0, small,
    3 µm voxels): edge +0.66 µm over the truth (18.52 against 17.86): 15 of the 30 columns
    with filament Li within 2 voxels of the layer top are not flagged (+1.6 to +4 µm each,
    ~+0.2 µm on the edge mean) and the roots' neighbours read +1.1 µm (52 columns, ~+0.25);
    the per-column height noise (~2.1 µm) hides a root's 1-2 voxels.  Seed 1: +0.94.

    Parameters
    ----------
    thickness_map_um : (M, N) ndarray
        Thickness per column (µm), NaN where not measured.
    footprint : (M, N) ndarray of bool
        Analysed columns (finite entries of the map).
    central_fraction : float
        Area fraction of the central disk (:func:`ssbscope.tomo.metrics.central_region`).

    Returns
    -------
    stats : ssbscope.tomo.metrics.ThicknessStats
        Centre / edge mean and std over the kept columns (µm).
    outlier_fraction : float
        Fraction of the footprint's columns left out.
    """
    from ssbscope.tomo import metrics as M

    out = M.thickness_outliers(thickness_map_um, footprint)
    st = M.thickness_stats(thickness_map_um, central_fraction, footprint=footprint,
                           exclude=out.mask)
    return st, out.fraction


#: Significance (map mean / its standard error) from which a missing layer's thickness
#: counts as detected (:func:`missing_layer_thickness`).
DETECTION_SIGMA = 3.0
#: Lateral correlation of the reconstruction noise assumed for the standard error of a
#: thickness map's mean: one independent value per LATERAL_CORR_COLUMNS columns (3 x 3).
LATERAL_CORR_COLUMNS = 9


def missing_layer_thickness(volume, reference, z_contact: int, level_layer: float,
                            level_upper: float, voxel_size_um: float, inner, *,
                            blur_vox: int = 1, background_vox: int = 2):
    """Thickness per column of a layer thinner than a voxel that the layer location does not
    find as a band (no slice where it is the majority), between two layers that are in
    contact in the series' reference scan (e.g. the stripped Li between Cu and Li6PS5Cl).

    Its lower neighbour's upper face does not move between the registered scans (the
    registration's layer, e.g. the current collector), so the layer's partial volume is the
    grey-level deficit against the reference in a window around the contact:
    ``t = voxel_size_um * sum_z (reference - volume) / (level_upper - level_layer)`` over
    ``z_contact - blur_vox <= z < z_contact + 1 + blur_vox``: a layer of thickness ``t``
    replaces ``t`` of the upper phase (pushed up by ``t``), whatever the lower phase's
    contrast (a single scan's integral cannot tell the layer from the lower face's height:
    on Cu | Li | Li6PS5Cl at 22 keV the Li moves the Cu face's height by 3 % of its
    thickness).  The upper neighbour's own change next to the contact (voids of stripped Li,
    opened cracks: as dark as the layer) is the mean deficit per slice of the
    ``background_vox`` slices above the window, subtracted from the window's slices above the
    contact slice (on the anode-free twin's stripped scan, case A: 0.30 µm per slice there,
    0.39 / 0.20 in the two slices above; mean 2.42 µm without it, 2.10 with it, against the
    phantom's 1.97).  Assumes the reference holds none of the layer (a sub-voxel layer
    already there is subtracted: the result is the change since the reference) and that the
    lower neighbour is the registered, unchanging layer; not used for truncated scans.

    Parameters
    ----------
    volume, reference : (Z, Y, X) array-like
        Registered grey values of the scan and of the series' reference (its first scan).
    z_contact : int
        Slice of the reference where the upper neighbour starts (the lower one's band end).
    level_layer, level_upper : float
        Pure-phase levels of the layer's material and of the upper neighbour in the scan
        (:func:`ssbscope.tomo.levels.pure_phase_levels`).
    voxel_size_um : float
    inner : (Y, X) bool
        Columns to measure.
    blur_vox : int, default 1
        Half-width of the window beyond the one contact slice (the faces' blur).
    background_vox : int, default 2
        Slices above the window whose mean deficit is the upper neighbour's own change
        (0: none).

    Returns
    -------
    thickness_um : (Y, X) ndarray
        Per column (NaN outside ``inner``); noisy, mean unbiased (not clipped at 0).
    noise_um : float
        1 sigma per column: the per-slice robust spread (1.4826 MAD over the columns) of
        the difference, summed in quadrature over the window (the layer's own lateral
        variation counts as noise: conservative).
    mean_se_um : float
        Standard error of the map's mean: ``noise_um / sqrt(N / LATERAL_CORR_COLUMNS)``.
    significance : float
        ``mean / mean_se_um``; below :data:`DETECTION_SIGMA` the layer is not detected.
    """
    inner = np.asarray(inner, bool)
    vs = float(voxel_size_um)
    contrast = float(level_upper) - float(level_layer)
    nz = np.shape(volume)[0]
    a, b = max(0, int(z_contact) - blur_vox), min(nz, int(z_contact) + 1 + blur_vox)
    if not (math.isfinite(contrast) and contrast != 0) or b <= a or not inner.any():
        raise EmptyResultError(f"missing layer: no contrast ({level_upper!r} - {level_layer!r}) "
                               f"or no window at slice {z_contact}")
    d = (np.asarray(reference[a:b], np.float64) - np.asarray(volume[a:b], np.float64))[:, inner]
    t = np.full(inner.shape, np.nan)
    bg = 0.0
    c = min(nz, b + int(background_vox))
    if background_vox > 0 and c > b:
        bg = float(np.mean(np.asarray(reference[b:c], np.float64)[:, inner]
                           - np.asarray(volume[b:c], np.float64)[:, inner]))
    t[inner] = (d.sum(axis=0) - bg * max(0, b - int(z_contact) - 1)) * vs / contrast
    mad = np.median(np.abs(d - np.median(d, axis=1, keepdims=True)), axis=1) * 1.4826
    noise = float(np.sqrt(np.sum(mad ** 2)) * vs / abs(contrast))
    se = noise / math.sqrt(max(1.0, inner.sum() / LATERAL_CORR_COLUMNS))
    mean = float(np.mean(t[inner]))
    return t, noise, se, (mean / se if se > 0 else float("nan"))


def _missing_layers(scans, scans_z, lay, vs, region, central_fraction):
    """The series' scans with each declared layer that is absent as a band (and absent in
    the reference scan) while both its neighbours are present measured by
    :func:`missing_layer_thickness` (instead of a thickness map of 0)."""
    import dataclasses

    names = [la.name for la in lay]
    inner = region.inner
    ref = scans[0]
    out = list(scans)
    for k in range(1, len(scans)):
        sm = scans[k]
        rep = {f: dict(getattr(sm, f)) for f in (
            "thickness_um", "thickness_center_um", "thickness_center_std_um",
            "thickness_edge_um", "thickness_edge_std_um", "thickness_mean_um",
            "layer_volume_um3", "thickness_outlier_fraction", "thickness_noise_um",
            "thickness_mean_se_um", "thickness_significance")}
        done = False
        for i, nm in enumerate(names):
            if nm not in sm.layers or i == 0 or i == len(names) - 1:
                continue
            lo, up = names[i - 1], names[i + 1]
            if (sm.location.band(nm) is not None or ref.location.band(nm) is not None
                    or any(s.location.band(x) is None for s in (sm, ref) for x in (lo, up))):
                continue
            levels = sm.phase_levels
            if levels is None:
                continue
            zc = ref.location.band(lo)[1]
            try:
                t, noise, se, sig = missing_layer_thickness(
                    scans_z[k].aligned, scans_z[0].aligned, zc,
                    levels.level(lay[i].material), levels.level(lay[i + 1].material), vs,
                    inner)
            except EmptyResultError as exc:
                log.warning("measure_scan: layer %r not found and not measured (%s)", nm, exc)
                continue
            ok = inner & np.isfinite(t)
            st, o_frac = layer_centre_edge(t, ok, central_fraction)
            mean = float(np.mean(t[ok]))
            rep["thickness_um"][nm] = t
            rep["thickness_center_um"][nm] = st.mean_center_um
            rep["thickness_center_std_um"][nm] = st.std_center_um
            rep["thickness_edge_um"][nm] = st.mean_edge_um
            rep["thickness_edge_std_um"][nm] = st.std_edge_um
            rep["thickness_mean_um"][nm] = mean
            rep["thickness_outlier_fraction"][nm] = o_frac
            area = sm.layer_volume_um3.get(nm)
            if area is not None:
                rep["layer_volume_um3"][nm] = mean * float(region.mask.sum()) * vs ** 2
            rep["thickness_noise_um"][nm] = noise
            rep["thickness_mean_se_um"][nm] = se
            rep["thickness_significance"][nm] = sig
            done = True
            log.info("measure_scan: scan %d: layer %r not found as a band; from the partial "
                     "volume against the first scan: mean %.2f ± %.2f µm (%.1f sigma%s), "
                     "%.2f µm per column", k, nm, mean, se, sig,
                     "" if sig >= DETECTION_SIGMA else ": below detection", noise)
        if done:
            out[k] = dataclasses.replace(sm, **rep)
    return out


def _matched_core_rows(reg, z0, z1):
    """Rows ``[z0, z1)`` of the matched-filter objects' mask
    (:func:`ssbscope.tomo.low_attenuation.matched_fraction` >= 0.5 in the electrolyte's
    columns ``fp`` off its outermost ring (:func:`ssbscope.tomo.low_attenuation.core_columns`)
    and slices ``[e0, e1)``, less the electrode's low voxels); the slab is read with
    :data:`~ssbscope.tomo.low_attenuation.MATCHED_HALO_VOX` extra rows each side, so that it
    does not depend on the slab split."""
    from ssbscope.tomo import low_attenuation as LA

    fp = reg["fp"]
    core = LA.core_columns(fp, reg["ring"])
    m = np.zeros((z1 - z0,) + fp.shape, bool)
    lo, hi = max(reg["e0"], z0), min(reg["e1"], z1)
    if hi > lo:
        h = LA.MATCHED_HALO_VOX
        a, b = max(0, lo - h), min(reg["nz"], hi + h)
        g = LA.matched_fraction(np.asarray(reg["aligned"][a:b]), reg["lv"], reg["ring"])
        m[lo - z0:hi - z0] = (g[lo - a:hi - a] >= 0.5) & core[None]
    return m & ~reg["electrode"](z0, z1)


def _inside_rows(reg, z0, z1):
    """Rows ``[z0, z1)`` of the electrolyte's voxels (columns ``fp``, slices ``[e0, e1)``)."""
    fp = reg["fp"]
    m = np.zeros((z1 - z0,) + fp.shape, bool)
    lo, hi = max(reg["e0"], z0), min(reg["e1"], z1)
    if hi > lo:
        m[lo - z0:hi - z0] = fp[None]
    return m


def _matched_objects(reg, shape, cz, local):
    """The matched-filter objects of a scan (:data:`ssbscope.tomo.low_attenuation.
    PERSISTENCE_RULE`): ``(n, regions, za, isolated)`` with ``regions`` the lazy region
    labels (rows from ``za``, :func:`ssbscope.tomo.low_attenuation.object_regions`) and
    ``isolated`` the labels that do not touch the electrode's low voxels."""
    import dask.array as da

    from ssbscope.tomo import low_attenuation as LA

    za, zb = reg["za"], reg["zb"]
    n, lab, za = _label_stats(functools.partial(_matched_core_rows, reg), shape, (za, zb), cz,
                              local=local)
    touch = np.zeros(n + 1, bool)
    if n:
        for _ids, _cnt, tl in _map_blocks(lab, za, functools.partial(
                _region_reduce, reg["near"], n), local):
            touch[tl] = True
    touch[0] = False
    iso = ~touch
    iso[0] = False
    net = lab.map_blocks(lambda b: touch[b], dtype=bool) | _lazy_fn(reg["electrode"], shape,
                                                                     (za, zb), cz)
    inside = _lazy_fn(functools.partial(_inside_rows, reg), shape, (za, zb), cz)
    regions = da.map_overlap(functools.partial(LA.object_regions, isolated=iso), lab, net,
                             inside, depth={0: 1, 1: 0, 2: 0}, boundary="none",
                             dtype=lab.dtype)
    return n, regions, za, iso


def _object_sums(n, scans, blk, z0, z1):
    """A task: per region label of a block (rows ``[z0, z1)``), its voxels and its summed
    partial-volume fraction in each of ``scans`` (each with its own levels)."""
    from ssbscope.tomo import low_attenuation as LA

    r = np.asarray(blk).ravel()
    ids = np.unique(r[r > 0])
    out = [ids, np.bincount(r, minlength=n + 1)[ids]]
    for sc in scans:
        f = LA.fraction_map(np.asarray(sc["aligned"][z0:z1]), sc["lv"], sc["ring"]).ravel()
        out.append(np.bincount(r, weights=f, minlength=n + 1)[ids])
    return out


def _objects_in(reg, others, shape, cz, local):
    """``(keep, sum_own, sums_other, n_region)`` per object of ``reg``'s scan: which count
    (:func:`ssbscope.tomo.low_attenuation.significant_objects`), their regions' summed
    fraction in that scan, a list of their regions' summed fractions in each scan of
    ``others`` (registered), and their regions' voxels.

    The objects (labels, Li-connected set, regions) are found once, and every scan's sums
    taken in the same pass over the regions' blocks (:func:`_object_sums`; each task reads
    one block of each scan in turn, so its memory does not grow with ``len(others)``).
    Each sum is accumulated block by block in block order, as one scan at a time would:
    the same floats."""
    from ssbscope.tomo import low_attenuation as LA

    n, regions, za, iso = _matched_objects(reg, shape, cz, local)
    cnt, own = np.zeros(n + 1), np.zeros(n + 1)
    oth = [np.zeros(n + 1) for _ in others]
    if n:
        for ids, c, a, *bs in _map_blocks(regions, za, functools.partial(
                _object_sums, n, [reg, *others]), local):
            cnt[ids] += c
            own[ids] += a
            for o, b in zip(oth, bs):
                o[ids] += b
    return LA.significant_objects(cnt, own, iso, reg["lv"]), own, oth, cnt


def _split_isolated_series(scans, shape, cz, local):
    """The scans with ``pore_volume_um3`` and ``isolated_li_um3``: each later scan's
    matched-filter objects and the first scan's, split by persistence
    (:data:`ssbscope.tomo.low_attenuation.PERSISTENCE_RULE`); the regions' lazy records
    dropped.

    The first scan's objects are found once, with their sums in every later scan in one
    pass (:func:`_objects_in`); each later scan's objects once, with their sums in it and
    in the first scan: ``len(scans)`` object searches, not ``2 (len(scans) - 1)``."""
    import dataclasses

    from ssbscope.tomo import low_attenuation as LA

    ref = scans[0].low_attenuation_regions
    out = [dataclasses.replace(scans[0], low_attenuation_regions=None)]
    later = [k for k, sm in enumerate(scans) if k and ref is not None
             and sm.low_attenuation_regions is not None]
    ref_sums = {}
    if later:
        keep, own, oth, cnt = _objects_in(ref, [scans[k].low_attenuation_regions
                                                for k in later], shape, cz, local)
        ref_sums = {k: (keep, own, o, cnt) for k, o in zip(later, oth)}
    for k, sm in enumerate(scans[1:], 1):
        reg = sm.low_attenuation_regions
        pv = li = float("nan")
        if k in ref_sums:
            keep, own, (oth,), cnt = _objects_in(reg, [ref], shape, cz, local)
            pv, li = LA.split_objects(ref_sums[k], (keep, own, oth, cnt), reg["v3"])
            log.info("pores / dead-Li split: scan %d against the first: pores %.6g um3, "
                     "isolated Li %.6g um3", k, pv, li)
        out.append(dataclasses.replace(sm, pore_volume_um3=pv, isolated_li_um3=li,
                                       low_attenuation_regions=None))
    return out


#: Growth (6-connected steps) of the low-attenuation voxels found in the electrolyte into the
#: neighbourhood whose partial volume :func:`_local_pore_crack_volume` sums: a pore's blurred
#: rim (the reconstruction's point spread, ~1 voxel) and the pores the detection sees only
#: in part.
PORE_NEIGHBOURHOOD_VOX = 2


#: Slices inside the electrolyte's faces that the pore + crack volume leaves out (the faces'
#: own blur and the layers' low attenuation next to them).
PORE_FACE_MARGIN_VOX = 2


def _interior_rows(heights, electrolyte, inner, vs, band):
    """Rows ``[f0, f1)`` of the electrolyte's interior: :data:`PORE_FACE_MARGIN_VOX` slices
    inside its measured mean faces (the interface height maps below and above it, averaged
    over ``inner``, rounded to the slice boundary), else inside its majority band ``band``.

    The majority band's ends are where half of a slice's columns change phase: with a plated
    layer thicker at the centre than at the edge (the anode-free twin's 1.5 mA cm^-2 step:
    6.3 voxels, centre - edge 0.5 voxel) they round one slice away from the mean face, and
    the rows then missed or took in a slice of the pellet's pores (-216 µm^3, -4.8 %, on
    the small twin, seed 2, after the strip).  The lower face's mean leaves out the columns
    :func:`ssbscope.tomo.metrics.thickness_outliers` flags (a filled crack or a root on the
    layer).

    Parameters
    ----------
    heights : dict
        ``(lower, upper)`` layer names -> (Y, X) height map (µm above the lower edge of slice
        0; NaN outside ``inner``).
    electrolyte : str
    inner : (Y, X) ndarray of bool
    vs : float
        Voxel size (µm).
    band : (int, int)
        The electrolyte's majority band ``[e0, e1)``.

    Returns
    -------
    (int, int)
    """
    from ssbscope.tomo.metrics import thickness_outliers

    m = PORE_FACE_MARGIN_VOX
    f0, f1 = band[0] + m, band[1] - m
    for (a, b), h in heights.items():
        h = np.asarray(h, np.float64)
        if b != electrolyte and a != electrolyte:
            continue
        keep = inner & np.isfinite(h)
        if b == electrolyte and keep.sum() > 8:
            # the lower face without the columns where the layer's material runs on into a
            # filled crack or a filament root just above it (they stand above their
            # neighbours: case A's Li-filled cracks on the layer put the mean 0.16 voxel
            # high at 1.5 mAh cm^-2, and the rows one slice up, -17 %)
            keep &= ~thickness_outliers(np.where(keep, h, np.nan), keep).mask
        if not keep.any():
            continue
        if b == electrolyte:
            f0 = int(round(float(np.mean(h[keep])) / vs)) + m
        else:
            f1 = int(round(float(np.mean(h[keep])) / vs)) - m
    return (f0, max(f0, f1))


def _matched_rows(aligned, z_range, a, b, halo):
    """The unfiltered grey values of rows ``[a, b)`` smoothed by the Gaussian matched filter
    (:data:`ssbscope.tomo.low_attenuation.MATCHED_SIGMA_VOX`; rows ``z_range`` only, read with
    ``halo`` rows each side inside it: a slab gives the whole range's values)."""
    from scipy.ndimage import gaussian_filter

    from ssbscope.tomo import low_attenuation as LA

    za, zb = z_range
    ha, hb = max(za, a - halo), min(zb, b + halo)
    g = gaussian_filter(np.asarray(aligned[ha:hb]).astype(np.float64), LA.MATCHED_SIGMA_VOX,
                        mode="reflect")
    return g[a - ha:b - ha]


def _matched_ring_moments(aligned, z_range, inner, rings, n_rings, z0, z1):
    """A task: per footprint ring, count, sum and sum of squares of the matched-filtered
    grey values of rows ``[z0, z1)`` inside ``z_range`` (None outside)."""
    from ssbscope.tomo import low_attenuation as LA

    a, b = max(z_range[0], z0), min(z_range[1], z1)
    if b <= a:
        return None
    g = _matched_rows(aligned, z_range, a, b, LA.MATCHED_HALO_VOX)[:, inner]
    r = np.broadcast_to(rings[inner][None] - 1, g.shape).ravel()
    g = g.ravel()
    return np.stack([np.bincount(r, minlength=n_rings),
                     np.bincount(r, weights=g, minlength=n_rings),
                     np.bincount(r, weights=g * g, minlength=n_rings)])


#: Bins of the per-ring histograms of the matched-filtered grey values
#: (:func:`_matched_ring_histograms`) over the rings' mean +- 8 standard deviations.
MATCHED_HIST_BINS = 4096


def _matched_ring_histograms(aligned, z_range, inner, rings, n_rings, edges, z0, z1):
    """A task: per footprint ring, the histogram (``edges``; values beyond them in the end
    bins) of the matched-filtered grey values of rows ``[z0, z1)`` inside ``z_range``."""
    from ssbscope.tomo import low_attenuation as LA

    a, b = max(z_range[0], z0), min(z_range[1], z1)
    if b <= a:
        return None
    g = _matched_rows(aligned, z_range, a, b, LA.MATCHED_HALO_VOX)[:, inner]
    r = np.broadcast_to(rings[inner][None] - 1, g.shape).ravel()
    k = np.clip(np.searchsorted(edges, g.ravel(), side="right") - 1, 0, edges.size - 2)
    return np.bincount(r * (edges.size - 1) + k,
                       minlength=n_rings * (edges.size - 1)).reshape(n_rings, -1)


def detection_z(n_voxels: float) -> float:
    """Noise deviations below the matrix at which :func:`_local_pore_crack_volume` detects a
    voxel: one expected noise detection in the rows, ``z = Phi^-1(1 - 1 / N_eff)``, with
    ``N_eff = n_voxels / (2 sqrt(pi) sigma)^3`` the rows' independent samples after the
    matched filter (``sigma``: :data:`ssbscope.tomo.low_attenuation.MATCHED_SIGMA_VOX`;
    ``(2 sqrt(pi) sigma)^3`` the Gaussian's noise-equivalent volume, 9.6 voxels).

    A noise detection brings the neighbours whose noise made it into the sum, so the false
    detections bias the volume up (on the anode-free twin, small, seeds 0-2: +5 ... +25 % at
    z = 3 with the bright-side noise deviation), and a higher z misses pores near the noise
    (z = 3.7: -4 ... -23 %).  At one expected false detection their bias is at most about
    one object's (~40 µm^3 there) whatever the rows' size; the twin's 22600 voxels give
    z = 3.34: -10.1 ... +5.6 %.

    Parameters
    ----------
    n_voxels : float
        Voxels of the rows on the footprint.

    Returns
    -------
    float
    """
    from scipy.special import ndtri

    from ssbscope.tomo import low_attenuation as LA

    n_eff = float(n_voxels) / (2.0 * math.sqrt(math.pi) * LA.MATCHED_SIGMA_VOX) ** 3
    return float(ndtri(1.0 - 1.0 / max(n_eff, 2.0)))


def matched_ring_thresholds(counts, edges, z: float):
    """Detection threshold of each footprint ring from its histogram of matched-filtered
    grey values: the median less ``z`` noise deviations, the deviation from the bright side
    (the 84.13th percentile less the median), which the dark objects do not reach (on case A
    of the anode-free twin the Li-filled cracks widen the dark side: a standard deviation
    over all voxels put the threshold below most pores).

    Parameters
    ----------
    counts : (R, B) array_like
        Per ring, the histogram over ``edges`` (B + 1 values).
    edges : (B + 1,) array_like
    z : float

    Returns
    -------
    thresholds : (R,) ndarray
        -inf for a ring without voxels.
    noise_sd : (R,) ndarray
    """
    c = np.asarray(counts, np.float64)
    e = np.asarray(edges, np.float64)
    centre = 0.5 * (e[1:] + e[:-1])
    thr = np.full(c.shape[0], -np.inf)
    sd = np.full(c.shape[0], np.nan)
    for r in range(c.shape[0]):
        n = c[r].sum()
        if n < 2:
            continue
        cdf = np.cumsum(c[r]) / n
        q50 = float(np.interp(0.5, cdf, centre))
        q84 = float(np.interp(0.8413, cdf, centre))
        sd[r] = q84 - q50
        thr[r] = q50 - z * sd[r]
    return thr, sd


def _local_pore_crack_slab(aligned, thr_ring, z_range, inner, rings, n_rings, grow, z0, z1):
    """A task: per ring of ``rings`` (the footprint's column rings, 1 at the cell's edge,
    :func:`footprint_rings`), the neighbourhood's voxel count and grey-value sum and the
    count, sum and sum of squares of the voxels outside it, over rows ``[z0, z1)``
    (:func:`_local_pore_crack_volume`); a (5, n_rings) array, or None outside the rows.
    The neighbourhood: the voxels whose matched-filtered value lies at or below their
    ring's ``thr_ring``, grown by ``grow`` 6-connected steps inside ``inner``."""
    import scipy.ndimage as ndi

    from ssbscope.tomo import low_attenuation as LA
    from ssbscope.tomo.filters import check_finite

    check_finite(np.asarray(aligned[z0:z1]))
    za, zb = z_range
    a, b = max(za, z0), min(zb, z1)
    if b <= a:
        return None
    ha, hb = max(za, a - grow), min(zb, b + grow)  # halo: the growth reaches grow slices
    t = np.where(inner, thr_ring[np.maximum(rings, 1) - 1], -np.inf)
    d = (_matched_rows(aligned, z_range, ha, hb, LA.MATCHED_HALO_VOX) <= t[None]) & inner[None]
    if grow > 0 and d.any():
        d = ndi.binary_dilation(d, ndi.generate_binary_structure(3, 1), iterations=int(grow),
                                mask=np.broadcast_to(inner[None], d.shape))
    near = d[a - ha:b - ha][:, inner]
    v = np.asarray(aligned[a:b])[:, inner].astype(np.float64)
    r = np.broadcast_to(rings[inner][None] - 1, v.shape)
    out = np.zeros((5, int(n_rings)))
    out[0] = np.bincount(r[near], minlength=n_rings)
    out[1] = np.bincount(r[near], weights=v[near], minlength=n_rings)
    m = ~near
    out[2] = np.bincount(r[m], minlength=n_rings)
    out[3] = np.bincount(r[m], weights=v[m], minlength=n_rings)
    out[4] = np.bincount(r[m], weights=v[m] * v[m], minlength=n_rings)
    return out


def footprint_rings(cell, inner) -> np.ndarray:
    """Column rings of the footprint ``inner`` by their distance from the cell's edge.

    Ring ``r`` (1, 2, ...) holds the columns of ``inner`` removed by the ``r``-th erosion
    of ``inner`` (cross structure: the 4-neighbour step of :func:`ssbscope.tomo.series.
    cell_region`'s erosion); 0 outside ``inner``.  ``cell`` (the region's mask) only checks
    that ``inner`` lies inside it.

    Parameters
    ----------
    cell, inner : (Y, X) ndarray of bool

    Returns
    -------
    (Y, X) ndarray of int
    """
    import scipy.ndimage as ndi

    inner = np.asarray(inner, bool)
    if inner.shape != np.shape(cell) or np.any(inner & ~np.asarray(cell, bool)):
        raise ParameterError("inner", inner.shape, "must be a part of the cell mask")
    out = np.zeros(inner.shape, np.int64)
    m, r = inner.copy(), 0
    while m.any():
        r += 1
        e = ndi.binary_erosion(m)
        out[m & ~e] = r
        m = e
    return out


#: Standard errors by which a footprint ring's matrix level must differ from the pooled
#: level of the rings inside it to be given its own (:func:`radial_matrix_levels`).
RING_LEVEL_SE = 2.0


def radial_matrix_levels(count, total, total_sq):
    """The matrix level of each footprint ring: its own mean where the rings from the cell's
    edge inward differ from the pooled rings inside them, else the pooled mean.

    The reconstruction's response to the cell's wall (the filtered back-projection's
    ringing: on the anode-free twin the electrolyte of the footprint's outermost ring reads
    4 % of the pore contrast above the interior's, the next ring 2 % below) and a radial
    cupping (beam hardening) are offsets of the grey level by distance from the edge; a
    pore's partial volume there is its deficit against the level of its own ring.  From the
    outermost ring inward, ring ``r`` keeps its own mean while it differs from the pooled
    mean of rings ``r+1 ...`` by more than :data:`RING_LEVEL_SE` standard errors of the
    difference (voxels taken independent); the first ring that does not, and every ring
    inside it, take their pooled mean.  Rings without voxels take the pooled mean.

    Parameters
    ----------
    count, total, total_sq : (R,) array_like
        Per ring (outermost first): voxels, sum and sum of squares of the matrix voxels
        (grey values outside the pores' neighbourhood).

    Returns
    -------
    levels : (R,) ndarray
        Matrix level per ring (grey units).
    n_own : int
        Rings, from the edge, with their own level.
    pooled : float
        The pooled level of the remaining rings.
    pooled_se : float
        Its standard error (sd / sqrt(n)).
    """
    n = np.asarray(count, np.float64)
    s1 = np.asarray(total, np.float64)
    s2 = np.asarray(total_sq, np.float64)
    R = n.size
    if n.sum() < 2:
        raise EmptyResultError("radial_matrix_levels: fewer than 2 matrix voxels")
    var = max(s2.sum() / n.sum() - (s1.sum() / n.sum()) ** 2, 0.0)
    n_own = 0
    for r in range(R - 1):
        n_in = n[r + 1:].sum()
        if n[r] < 2 or n_in < 2:
            break
        d = s1[r] / n[r] - s1[r + 1:].sum() / n_in
        if abs(d) <= RING_LEVEL_SE * math.sqrt(var / n[r] + var / n_in):
            break
        n_own = r + 1
    n_p = n[n_own:].sum()
    pooled = float(s1[n_own:].sum() / n_p)
    lv = np.full(R, pooled)
    lv[:n_own] = s1[:n_own] / n[:n_own]
    return lv, n_own, pooled, math.sqrt(var / n_p)


def _local_pore_crack_volume(sc, z_range, inner, lo_lv, hi_lv, vs,
                             grow=PORE_NEIGHBOURHOOD_VOX, cell=None):
    """Pore + crack volume (µm³) of the electrolyte rows ``z_range`` from the partial volume
    of the neighbourhood of its low-attenuation voxels.

    Detection: the unfiltered grey values smoothed by the Gaussian matched filter of the
    low-attenuation objects (:data:`ssbscope.tomo.low_attenuation.MATCHED_SIGMA_VOX`, 0.6
    voxel: pores of 1-2 voxels) at or below their column ring's median less
    :func:`detection_z` of the ring's noise deviations (:func:`matched_ring_thresholds`;
    rings: :func:`footprint_rings`; one expected noise detection in the rows).  The detected voxels inside the
    rows and the cell's ``inner`` columns are grown by ``grow`` 6-connected steps (inside
    the same region); the volume is ``sum (h_r - v) / (h - lo)`` of the unfiltered grey
    values ``v`` over that neighbourhood only, ``h_r`` the matrix level of the voxel's
    column ring (:func:`radial_matrix_levels`: the mean of the same rows' voxels outside the
    neighbourhood, by distance from the cell's edge), ``h`` the pooled one.

    Why each part (anode-free twin, small, seeds 0-2, truth for diagnosis only):

    * the neighbourhood only: the pure matrix elsewhere contributes zero on average; an
      error ``d h`` of the level moves the volume by ``N_near d h / (h - lo)`` instead of
      ``N_region d h / (h - lo)`` over the whole band (0.6 % porosity: 80 times the pore
      volume).  Its growth reaches voxels whose own values did not make the detection, so
      the per-voxel noise is not selected for.
    * the matched filter, not the labels of a denoised copy: a 3 x 3 x 3 median erases
      pores of ~7 voxels, so the labels found 23-30 of the 25-30 pore objects together with
      ~70 one-voxel noise objects whose neighbourhoods made two thirds of ``N_near`` (noise
      of the sum ~400 µm^3, 8 %), and missed pores lost their whole volume (seed 2: 30 of
      176 pore voxels outside every neighbourhood, -26 %).  Now 1 sigma ~300 µm^3.
    * the matrix's mean, not the mode of its eroded interior (``hi_lv``): the sum is a
      mean over voxels, and the mode read the matrix 0.2-0.7 % of the pore contrast low
      (times ``N_near``: -2 to -6 % of the volume).
    * per ring: the reconstruction's response to the cell's wall (filtered back-projection
      ringing: the footprint's outermost ring reads ~4 % of the pore contrast above the
      interior, the next ~2 % below) is an offset by distance from the edge.
    * ``grow`` 2: in a noise-free reconstruction of the twin's pellet the 2-step
      neighbourhood of the true pore voxels holds 191.3 of their 191 voxels' deficit, and
      96 % after the reconstruction's ring removal (its sorting spreads a small object's
      contrast along the detector); 1 step read +6 ... +14 %, 3 steps doubled the noise.

    Lost: pores the detection misses entirely (their deficit lowers the matrix level
    instead, by their volume over the ~7 times more matrix voxels).

    Parameters
    ----------
    sc : _Scan
        The scan's intermediates (``aligned``: the unfiltered, registered grey values).
    z_range : (int, int)
        Rows ``[f0, f1)`` (:func:`_interior_rows`).
    inner : (Y, X) ndarray of bool
        The footprint (the cell less its wall's partial-volume ring).
    lo_lv : float
        The darkest phase's pure level (grey units).
    hi_lv : float
        The electrolyte's pure level (the mode of its eroded interior): only a fallback
        where the rows hold no matrix voxel.
    vs : float
        Voxel size (µm).
    grow : int
        6-connected growth steps of the detected voxels.
    cell : (Y, X) ndarray of bool, optional
        The cell's mask (``inner`` by default): the rings' reference.

    Returns
    -------
    volume_um3 : float
    parts : dict
        ``region_um3`` (neighbourhood volume), ``noise_um3`` (1 sigma of the sum from the
        per-voxel noise of the matrix outside the neighbourhood, voxels taken independent),
        ``level_um3`` (1 sigma of the sum from the levels' standard errors),
        ``matrix_voxels``, ``grow_vox``, ``ring_levels`` (rings with their own level, from
        the edge), ``matrix_level`` (pooled), ``detection_z``.
    """
    inner = np.asarray(inner, bool)
    rings = footprint_rings(inner if cell is None else cell, inner)
    n_r = int(rings.max()) if inner.any() else 0
    n_r = max(n_r, 1)
    # the detection: the matched-filtered grey values at or below their ring's median less
    # detection_z of their ring's noise deviations (matched_ring_thresholds)
    mom = np.zeros((3, n_r))
    for r in sc.map(functools.partial(_matched_ring_moments, sc.aligned, tuple(z_range), inner,
                                      rings, n_r)):
        if r is not None:
            mom += r
    n_all = max(mom[0].sum(), 1.0)
    mean = mom[1].sum() / n_all
    sd_all = math.sqrt(max(mom[2].sum() / n_all - mean ** 2, 0.0))
    edges = mean + sd_all * np.linspace(-8.0, 8.0, MATCHED_HIST_BINS + 1)
    hist = np.zeros((n_r, MATCHED_HIST_BINS))
    for r in sc.map(functools.partial(_matched_ring_histograms, sc.aligned, tuple(z_range),
                                      inner, rings, n_r, edges)):
        if r is not None:
            hist += r
    z_det = detection_z(n_all)
    thr_ring, _ = matched_ring_thresholds(hist, edges, z_det)
    acc = np.zeros((5, n_r))
    func = functools.partial(_local_pore_crack_slab, sc.aligned, thr_ring, tuple(z_range), inner,
                             rings, n_r, int(grow))
    for r in sc.map(func):
        if r is not None:  # summed in slab order, as one loop would
            acc += r
    v3 = vs ** 3
    n_near = int(acc[0].sum())
    n_m = int(acc[2].sum())
    if n_m < 2:  # no matrix voxel: the mode of the eroded interior
        lv, n_own, h, h_se = np.full(acc.shape[1], float(hi_lv)), 0, float(hi_lv), float("nan")
        sd = float("nan")
    else:
        lv, n_own, h, h_se = radial_matrix_levels(acc[2], acc[3], acc[4])
        sd = math.sqrt(max(acc[4].sum() / n_m - (acc[3].sum() / n_m) ** 2, 0.0))
    c = h - float(lo_lv)
    if not (math.isfinite(c) and c != 0):
        raise ParameterError("level_phase", lo_lv, f"must differ from the matrix level {h!r}")
    tot = float((acc[0] * lv - acc[1]).sum() / c)
    # the levels' errors: each own ring's mean and the pooled one, times their voxels
    own_var = sum((acc[0][r] * sd / math.sqrt(acc[2][r])) ** 2 for r in range(n_own)
                  if acc[2][r] > 0)
    lvl = math.sqrt(own_var + (acc[0][n_own:].sum() * h_se) ** 2) / abs(c) * v3 \
        if math.isfinite(sd) else float("nan")
    parts = {"region_um3": n_near * v3, "noise_um3": sd * math.sqrt(n_near) * v3 / abs(c),
             "level_um3": lvl, "matrix_voxels": n_m, "grow_vox": int(grow),
             "ring_levels": int(n_own), "matrix_level": h, "detection_z": z_det}
    return tot * v3, parts


#: Half-width (slices) of the window of :func:`_truncated_heights` at least; the reference
#: slices of the exterior's shading start 2 slices beyond it and reach
#: :data:`TRUNCATED_REF_SLICES` further.
TRUNCATED_WINDOW_VOX = 8
TRUNCATED_REF_SLICES = 40
#: Slices by which :func:`_truncated_heights` widens its window on a side where columns
#: find their edge at the window's end (``TruncatedHeights.height_at_window_edge``), and
#: how many times at most.  The first window follows the threshold heights, which read the
#: slice ramp rather than the surface: on the coin-cell twin (small, seed 2) 16 slices
#: around them missed the surface's top 3 slices (truth 133-147 in a window 128-144).
TRUNCATED_WIDEN_VOX = 4
TRUNCATED_WIDEN_TRIES = 3


def _truncated_heights(sc, h0, band_a, mat_a, mat_b, vs, inner, truncated, what, *,
                       subvoxel=False):
    """Heights of interface ``what`` of a truncated scan
    (:func:`ssbscope.tomo.metrics.interface_height_map_truncated`): window of
    ``2 TRUNCATED_WINDOW_VOX`` slices (or the spread of the threshold heights ``h0``) around
    ``h0``'s mean, widened by :data:`TRUNCATED_WIDEN_VOX` on a side where columns find the
    surface at the window's end (up to :data:`TRUNCATED_WIDEN_TRIES` times), the exterior's
    shading (:func:`ssbscope.tomo.metrics.exterior_shading`) from the slices below it in
    layer ``a`` and above it (sums per z-slab, so memory stays one slab and a few (Y, X)
    maps); returns ``(heights, (contrast_data, contrast_materials), (G, C), (w0, w1))`` or
    None (logged) when the window or references do not fit.  ``subvoxel``: each column's
    edge refined to a fraction of a voxel (``subvoxel`` of
    :func:`~ssbscope.tomo.metrics.interface_height_map_truncated`; YAML
    ``analysis.tomo.subvoxel_heights``), else whole voxels."""
    from ssbscope.tomo import metrics as M

    zc = float(np.nanmean(h0[inner])) / vs
    spread = float(np.nanmax(h0[inner]) - np.nanmin(h0[inner])) / vs
    W = int(max(TRUNCATED_WINDOW_VOX, math.ceil(spread / 2) + 3))
    w0, w1 = int(round(zc)) - W, int(round(zc)) + W
    got = None
    for attempt in range(TRUNCATED_WIDEN_TRIES + 1):
        res = _truncated_heights_in(sc, w0, w1, band_a, mat_a, mat_b, vs, inner, truncated,
                                    what, subvoxel=subvoxel)
        if res is None:  # no room (logged): the last window that fitted, if any
            break
        got, r = res
        hv = r.height_um[inner] / vs
        n = w1 - w0
        lo = bool(np.any(hv < M.EDGE_MARGIN_VOX))
        hi = bool(np.any(hv > n - M.EDGE_MARGIN_VOX))
        if not (lo or hi) or attempt == TRUNCATED_WIDEN_TRIES:
            if lo or hi:
                log.warning("measure_scan: %s: truncated scan: %d columns still find the "
                            "surface at the ends of the window %d..%d", what,
                            r.height_at_window_edge, w0, w1)
            break
        log.info("measure_scan: %s: truncated scan: %d columns at the ends of the window "
                 "%d..%d; widened", what, r.height_at_window_edge, w0, w1)
        w0 -= TRUNCATED_WIDEN_VOX if lo else 0
        w1 += TRUNCATED_WIDEN_VOX if hi else 0
    if got is None:
        log.warning("measure_scan: %s: truncated-scan heights not measured; threshold heights "
                    "kept", what)
    return got


def _truncated_heights_in(sc, w0, w1, band_a, mat_a, mat_b, vs, inner, truncated, what, *,
                          subvoxel=False):
    """:func:`_truncated_heights` in the window ``[w0, w1)``: ``(result tuple,
    TruncatedHeights)`` or None (logged)."""
    from ssbscope.tomo import metrics as M

    nz = sc.shape[0]
    r0, r1 = max(band_a[0], w0 - 2 - TRUNCATED_REF_SLICES), w0 - 2
    u0, u1 = w1 + 2, min(nz, w1 + 2 + TRUNCATED_REF_SLICES)
    if w0 < 0 or w1 > nz or (r1 - r0) + (u1 - u0) < 8 or r1 - r0 < 2:
        log.warning("measure_scan: %s: no room for the truncated-scan window %d..%d with "
                    "reference slices", what, w0, w1)
        return None
    aligned = sc.aligned
    ref = [(r0, r1), (u0, u1)]

    def sums(z0, z1):  # a task: slice means, and the reference sums of the slab
        v = np.asarray(aligned[z0:z1]).astype(np.float64)
        a = v[:, inner].mean(axis=1)
        keep = np.zeros(z1 - z0, bool)
        for p0, p1 in ref:
            keep[max(p0, z0) - z0:max(min(p1, z1) - z0, 0)] = True
        ak, vk = a[keep], v[keep]
        return a, (ak.sum(), (ak * ak).sum(), np.tensordot(ak, vk, 1), vk.sum(axis=0),
                   int(keep.sum()))

    out = sc.map(sums)
    a = np.concatenate([o[0] for o in out])
    tot = [sum(o[1][i] for o in out) for i in range(5)]
    try:
        G, C = M.exterior_shading(tot[0], tot[2], tot[3], tot[1], tot[4])
        c_mat = _materials_contrast(mat_a, mat_b, truncated, vs)
        r = M.interface_height_map_truncated(np.asarray(aligned[w0:w1]), a[w0:w1], G, C, vs,
                                             footprint=inner, contrast_materials=c_mat,
                                             subvoxel=bool(subvoxel))
    except EmptyResultError as exc:
        log.warning("measure_scan: %s: truncated-scan heights failed (%s)", what, exc)
        return None
    log.info("measure_scan: %s: truncated scan: heights from the local contrast %.3g (data; "
             "materials %.3g, %d two-phase slices) in slices %d..%d", what, r.contrast_used,
             r.contrast_materials, r.n_bimodal, w0, w1)
    return (np.where(inner, r.height_um + w0 * vs, np.nan),
            (r.contrast_data, r.contrast_materials), (G, C), (w0, w1)), r


#: Largest ratio between a material's delta/beta and the Paganin retrieval's (either way)
#: for which :func:`_truncated_flat_interfaces` takes a flat interface at the steepest change
#: of the slice level.  Beyond it the retrieval leaves the edge's fringe in the profile and
#: skews it: the twin's steel | Li edge (delta/beta 570 against Li's 1271) reads 1.1 voxels
#: low by the steepest change, its threshold height stays; NMC622 | PEO-LiTFSI (704 and
#: 1228) reads +0.15 voxel.
FLAT_EDGE_DELTA_BETA_RATIO = 2.0


def _flat_edge_applies(mat_a, mat_b, truncated):
    """Whether :func:`_truncated_flat_interfaces` measures the interface ``mat_a | mat_b``:
    always without phase retrieval, with it where both materials' delta/beta lie within
    :data:`FLAT_EDGE_DELTA_BETA_RATIO` of the retrieval's (:func:`_delta_beta`)."""
    db = truncated.get("delta_beta")
    if db is None:
        return True
    try:
        r = [_delta_beta(m, truncated["energy_kev"]) / float(db) for m in (mat_a, mat_b)]
    except Exception as exc:  # an unknown material: keep the threshold heights
        log.info("measure_scan: truncated scan: no delta/beta of %s | %s (%s)", mat_a, mat_b,
                 exc)
        return False
    lim = FLAT_EDGE_DELTA_BETA_RATIO
    return all(1.0 / lim <= x <= lim for x in r)


def _delta_beta(material, energy_kev):
    """delta/beta of a declared material at ``energy_kev`` (xraylib, its formula and
    density; :mod:`ssbscope.materials`)."""
    import xraylib

    from ssbscope import materials

    m = materials.get(material)
    f = "".join(f"{el}{n:.6g}" for el, n in m.composition.items())
    d = 1.0 - xraylib.Refractive_Index_Re(f, float(energy_kev), m.density_g_cm3)
    b = xraylib.Refractive_Index_Im(f, float(energy_kev), m.density_g_cm3)
    return float(d / b)


def _slice_levels(sc, inner):
    """``a(z)``: each slice's mean grey value over the footprint ``inner`` (per-slab tasks)."""
    aligned = sc.aligned
    return np.concatenate(sc.map(lambda z0, z1: np.asarray(aligned[z0:z1])[:, inner]
                                 .astype(np.float64).mean(axis=1)))


def flat_interface_height(levels, lo: int, hi: int, step_sign: float | None = None):
    """Height (slices from the face of slice 0) of a flat interface from a slice-level
    profile: the steepest change of ``levels`` between slices ``lo`` and ``hi``.

    In a truncated scan a flat interface has no in-plane contrast; its slices differ only in
    level, and each level ``a(z)`` carries the exterior's step at the same height, blurred
    by the retrieval and the detector.  The edge is where that blurred step is steepest (the
    gradient maximum): the boundary between slices ``i`` and ``i + 1`` for the largest
    ``s (a[i+1] - a[i])``, refined by the vertex of the parabola through it and its two
    neighbours (``s`` the step's sign, by default that of ``a[hi-1] - a[lo]``).

    Parameters
    ----------
    levels : (Z,) array
    lo, hi : int
        Slices searched (``hi`` exclusive).
    step_sign : float, optional

    Returns
    -------
    float or None
        In slices (face coordinates: slice ``i`` covers ``[i, i + 1)``); None when the
        largest change lies at the search range's end (no interior peak) or the range holds
        fewer than 4 slices.
    """
    a = np.asarray(levels, float)
    lo, hi = max(0, int(lo)), min(a.size, int(hi))
    if hi - lo < 4:
        return None
    s = float(np.sign(a[hi - 1] - a[lo])) if step_sign is None else float(np.sign(step_sign))
    if s == 0:
        return None
    d = s * np.diff(a[lo:hi])
    i = int(np.argmax(d))
    if i == 0 or i == d.size - 1:
        return None
    y0, y1, y2 = d[i - 1], d[i], d[i + 1]
    den = y0 - 2 * y1 + y2
    off = 0.5 * (y0 - y2) / den if den < 0 else 0.0
    return float(lo + i + 1 + np.clip(off, -0.5, 0.5))


def _truncated_flat_interfaces(sc, heights, shading, band, present, mats, pidx, vs, inner,
                               truncated):
    """Heights of a truncated scan's interfaces not measured from the local contrast.

    For each pair of adjacent present layers whose heights came from grey thresholds (not
    in ``shading``) and whose materials pass :func:`_flat_edge_applies`: the height (the
    same in every column) is :func:`flat_interface_height` of the slice levels ``a(z)``,
    searched within :data:`TRUNCATED_WINDOW_VOX` slices of the threshold heights' mean,
    above the upper quartile of a measured interface's heights below and below the lower
    quartile of one above (the rough interface's own change of level stays out; its highest
    columns can come within a slice of the flat one); the thresholds read the exterior's
    blurred steps: the twin's 30 µm SPE under the cathode read 18-28 % thin.  ``heights``
    (µm) and ``band`` (the two layers' slice ranges) are updated in place, and the labels of the slices between the old and new
    height (one slice beyond) are rewritten: voxels of the footprint labelled with either
    layer's phase take the lower phase below the height and the upper one above (other
    phases, e.g. pores, kept).
    """
    a_z = None
    for k, (a, b) in enumerate(zip(present[:-1], present[1:])):
        h0 = heights.get((a, b))
        if (a, b) in shading or h0 is None or not np.isfinite(h0[inner]).any() \
                or a not in band or b not in band:
            continue
        if not _flat_edge_applies(mats[a], mats[b], truncated):
            continue
        if a_z is None:
            a_z = _slice_levels(sc, inner)
        zt = float(np.nanmean(h0[inner])) / vs
        lo = max(band[a][0] + 1, int(math.floor(zt)) - TRUNCATED_WINDOW_VOX)
        hi = min(band[b][1] - 1, int(math.ceil(zt)) + TRUNCATED_WINDOW_VOX + 1)
        below = heights.get((present[k - 1], a)) if k > 0 else None
        above = heights.get((b, present[k + 2])) if k + 2 < len(present) else None
        if below is not None and (present[k - 1], a) in shading:
            lo = max(lo, int(math.ceil(np.nanpercentile(below[inner], 75) / vs)))
        if above is not None and (b, present[k + 2]) in shading:
            hi = min(hi, int(math.floor(np.nanpercentile(above[inner], 25) / vs)))
        z = flat_interface_height(a_z, lo, hi)
        if z is None:
            log.warning("measure_scan: %s|%s: truncated scan: no steepest change of the slice "
                        "level in slices %d..%d; threshold heights kept", a, b, lo, hi)
            continue
        log.info("measure_scan: %s|%s: truncated scan: flat interface at slice %.2f (steepest "
                 "change of the slice level; thresholds %.2f)", a, b, z, zt)
        heights[(a, b)] = np.where(inner, z * vs, np.nan)
        zi = int(round(z))
        band[a] = (band[a][0], max(band[a][0] + 1, zi))
        band[b] = (min(band[b][1] - 1, zi), band[b][1])
        r0 = max(0, min(int(math.floor(zt)), int(math.floor(z))) - 1)
        r1 = min(sc.shape[0], max(int(math.ceil(zt)), int(math.ceil(z))) + 1)
        lab = np.asarray(sc.labels[r0:r1]).copy()
        zz = np.arange(r0, r1)[:, None, None] + 0.5
        mine = ((lab == pidx[a]) | (lab == pidx[b])) & inner[None]
        new = np.where(zz < z, np.uint8(pidx[a]), np.uint8(pidx[b]))
        lab[mine] = np.broadcast_to(new, lab.shape)[mine]
        sc.labels[r0:r1] = lab


def _truncated_close_ramps(sc, heights, band, present, pidx, vs, inner):
    """Close the gaps a truncated scan's majority bands leave between adjacent layers.

    Around an edge whose grey step is much larger than the retrieval expects (the twin's steel
    spacer under the Li anode, Paganin with Li's delta/beta: the steel's edge spreads over ~20
    slices), the slice levels pass through the grey classes of the phases between the two
    layers' (PEO-LiTFSI and NMC622 between Li and steel); those slices are majority bands of
    no declared layer (the ramp :func:`ssbscope.tomo.series._ramp` skips), so the upper
    layer's band started at the ramp's top: the coin's anode bottom read 21 slices for 12.
    Here the boundary between two adjacent present layers whose bands leave such a gap is the
    median of their interface's measured heights (``heights``, the per-column crossing of the
    grey level midway between the two layers, :func:`ssbscope.tomo.series._height`), clipped
    to the gap; ``band`` is updated in place and the footprint's voxels of the gap labelled
    with a phase between the two layers' (an intermediate grey level) or with either layer's
    phase take the lower layer's phase below the boundary and the upper one's above (other
    phases kept).  Pairs without a finite height keep their bands.
    """
    for a, b in zip(present[:-1], present[1:]):
        if a not in band or b not in band:
            continue
        g0, g1 = band[a][1], band[b][0]
        if g1 <= g0:
            continue
        h = heights.get((a, b))
        v = np.asarray(h, float)[inner] if h is not None else np.array([])
        v = v[np.isfinite(v)]
        if v.size == 0:
            log.warning("measure_scan: %s|%s: truncated scan: slices %d..%d between the two "
                        "layers' bands, no measured height to place their boundary", a, b, g0, g1)
            continue
        z = float(np.median(v)) / vs
        zi = int(np.clip(round(z), g0, g1))
        log.info("measure_scan: %s|%s: truncated scan: the bands' gap %d..%d (a blurred edge's "
                 "intermediate grey levels) closed at slice %d (median measured height %.2f)",
                 a, b, g0, g1, zi, z)
        band[a] = (band[a][0], zi)
        band[b] = (zi, band[b][1])
        pa, pb = pidx[a], pidx[b]
        lo_p, hi_p = min(pa, pb), max(pa, pb)
        lab = np.asarray(sc.labels[g0:g1]).copy()
        zz = np.arange(g0, g1)[:, None, None]
        mine = (lab >= lo_p) & (lab <= hi_p) & inner[None]
        new = np.where(zz < zi, np.uint8(pa), np.uint8(pb))
        lab[mine] = np.broadcast_to(new, lab.shape)[mine]
        sc.labels[g0:g1] = lab


def _location_from_bands(loc, band):
    """``loc`` with the slice ranges of the present layers replaced by ``band`` (the ranges
    the measurement used: flat interfaces and closed ramps of a truncated scan)."""
    import dataclasses

    z0 = tuple(int(band[n][0]) if n in band else z for n, z in zip(loc.names, loc.z0_vox))
    z1 = tuple(int(band[n][1]) if n in band else z for n, z in zip(loc.names, loc.z1_vox))
    used = [i for i, p in enumerate(loc.present) if p]
    stack = (min(z0[i] for i in used), max(z1[i] for i in used)) if used else loc.stack_vox
    covered = np.zeros(max([stack[1]] + [int(r[2]) for r in loc.ignored]) + 1, bool)
    for i in used:
        covered[z0[i]:z1[i]] = True
    # bands now inside the layers' ranges (a closed ramp) are no longer outside the stack
    ignored = tuple(r for r in loc.ignored if not covered[int(r[1]):int(r[2])].all())
    return dataclasses.replace(loc, z0_vox=z0, z1_vox=z1, stack_vox=stack, ignored=ignored)


def _materials_contrast(mat_a, mat_b, truncated, vs):
    """Grey-level step ``L_a - L_b`` per voxel between two declared materials of a truncated
    scan: from the Paganin retrieval's delta/beta and energy
    (:func:`ssbscope.tomo.metrics.phase_retrieved_contrast`), else from the materials'
    attenuation at the scan's energy (``mu`` in 1/cm times the voxel size); ``None`` when the
    scan records neither."""
    from ssbscope.tomo import metrics as M

    if "delta_beta" in truncated:
        return M.phase_retrieved_contrast(mat_a, mat_b, delta_beta=truncated["delta_beta"],
                                          energy_kev=truncated["energy_kev"], voxel_size_um=vs)
    if "energy_kev" in truncated:
        from ssbscope import materials

        mu = [materials.get(m).linear_attenuation_1_cm(truncated["energy_kev"])
              for m in (mat_a, mat_b)]
        return float(mu[0] - mu[1]) * vs * 1e-4
    return None


def _relabel_window(sc, window, height_um, inner, lower, upper, vs):
    """Labels of a truncated scan's interface window from its local-contrast heights.

    The grey-level segmentation of a truncated scan labels the slices of a rough interface
    whole (each slice's level is the exterior's); in the window ``[w0, w1)`` of
    :func:`_truncated_heights` the voxels of the footprint ``inner`` below each column's
    height become the lower layer's phase and those above the upper layer's (the phase
    indices are unchanged, so the labels keep their meaning; voids below the surface are
    the lower phase's, the envelope, as the grey-level classes read them).
    """
    w0, w1 = window
    h = np.asarray(height_um, float) / vs
    zz = np.arange(w0, w1)[:, None, None]
    lab = np.asarray(sc.labels[w0:w1]).copy()
    ok = inner & np.isfinite(h)
    new = np.where(zz < h[None], np.uint8(lower), np.uint8(upper))
    lab[:, ok] = new[:, ok]
    sc.labels[w0:w1] = lab


#: Voxels between a column's measured interface height and the first voxel counted by
#: :func:`_truncated_subsurface_voids` (the interface's own partial volume stays out).
SUBSURFACE_MARGIN_VOX = 1.0
#: Depth (µm) below the interface's lowest column that :func:`_truncated_subsurface_voids`
#: reads (None: the whole layer band from 2 slices above its bottom).  Chosen on the twin:
#: its stripping voids lie 10-40 µm below the surface; over the whole 400 µm Li band the
#: slices' shading residuals (+-30-60 voxels a slice, correlated over a few slices) add up
#: to +-4e4 µm³ on void-free scans (+-6e3 over 50 µm).
SUBSURFACE_DEPTH_UM = 50.0


def half_sample_mode(x) -> float:
    """Half-sample mode of ``x`` (Bickel and Fruehwirth 2006): the densest half of the sorted
    sample, halved again until 3 values remain, their mean (or the closer pair's)."""
    y = np.sort(np.asarray(x, float).ravel())
    while y.size > 3:
        h = (y.size + 1) // 2
        w = y[h - 1:] - y[:y.size - h + 1]
        i = int(np.argmin(w))
        y = y[i:i + h]
    if y.size == 3:
        return float((y[0] + y[1]) / 2 if y[1] - y[0] < y[2] - y[1] else
                     (y[1] + y[2]) / 2 if y[2] - y[1] < y[1] - y[0] else y[1])
    return float(np.mean(y))


#: Half-width (noise standard deviations) of the symmetric window of :func:`matrix_level`.
LEVEL_TRIM_SIGMA = 2.0


def matrix_level(x, n_iter: int = 6) -> float:
    """The level of the majority-or-not matrix of a slice's deviations ``x`` holding darker
    inclusions (voids): a symmetrically trimmed median started at the half-sample mode.

    The plain median is the matrix's level only while the inclusions are a minority; below a
    rough surface the voids can fill half the voxels of a slice.  The matrix is the sharpest
    peak of ``x``: start at its mode (:func:`half_sample_mode`), estimate the noise from the
    values above it (``1.4826 median(x - m)`` over ``x > m``, which no void reaches), and
    take the median of the values within :data:`LEVEL_TRIM_SIGMA` noise deviations of the
    level, a few times.  For inclusion-free Gaussian noise the symmetric window leaves the
    median unbiased (precision that of the median of the kept values).
    """
    x = np.asarray(x, float).ravel()
    m = half_sample_mode(x)
    for _ in range(int(n_iter)):
        up = x[x > m] - m
        if up.size < 4:
            break
        sig = 1.4826 * float(np.median(up))
        if not sig > 0:
            break
        keep = x[np.abs(x - m) <= LEVEL_TRIM_SIGMA * sig]
        if keep.size < 4:
            break
        m_new = float(np.median(keep))
        if m_new == m:
            break
        m = m_new
    return m


#: Blobs' surroundings (slices along z, voxels in-plane) left out of a slice's layer level in
#: :func:`_voids_block`; the blobs' threshold on the smoothed deviation (fraction of the
#: layer | vacuum contrast: the midpoint) and the smoothing (voxels).
VOID_HALO_VOX = (1, 2)
VOID_DETECT_FRACTION = 0.5
VOID_SMOOTH_VOX = 1.0


#: Hysteresis of :func:`_voids_block` (fractions of the layer | vacuum contrast): a void needs
#: a core darker than the vacuum level (a true void is vacuum over some depth; the noise's
#: deviation is 0.16-0.28 of the contrast on the twin's scans, so 1.0 is >= 4 of them), and
#: its region is the voxels connected to a core that stay darker than ~2 noise deviations.
VOID_CORE_FRACTION = 1.0
VOID_GROW_FRACTION = 0.4
#: A region counts when its mean deficit is at least this fraction of the contrast: a void is
#: mostly vacuum (regions holding the twin's voids: 0.57-0.9, the large ones >= 0.65), the
#: shading's leftovers that reach the vacuum level only at a peak are mostly flank (0.53-0.64
#: on the twin's void-free scans; one at 0.70 about the rotation axis stays).
VOID_MIN_MEAN_FRACTION = 0.6
#: Depth (voxels below the column's measured height) above which no void voxel counts in
#: :func:`_voids_block`: the interface's own residual (signed, dark below the surface's hills
#: and bright above its valleys, up to twice the contrast) raises the deficit's spread over
#: the first 3-4 voxels on the twin's scans.
VOID_CORE_DEPTH_VOX = 4.0


def _void_deficit(aligned, z0, z1, inner, shade, lim, step):
    """``(r, layer)``: the deficit ``r = (level - d) / step`` of slices ``[z0, z1)`` (NaN off
    the layer) and the layer's voxels (see :func:`_voids_block`)."""
    import scipy.ndimage as ndi

    G, C = (np.asarray(x, float) for x in shade)
    v = np.asarray(aligned[z0:z1]).astype(np.float64)
    lv = np.array([sl[inner].mean() for sl in v])
    d = v - lv[:, None, None] * G[None] - C[None]
    zz = np.arange(z0, z1)[:, None, None]
    lim2 = np.full(inner.shape, -np.inf)
    lim2[inner] = lim
    layer = (zz + 1 <= lim2[None]) & inner[None]
    m0 = np.zeros(z1 - z0)
    for i in range(z1 - z0):
        x = d[i][layer[i]]
        m0[i] = matrix_level(x) if x.size >= 16 else np.nan
    rel = np.where(layer, d - np.nan_to_num(m0)[:, None, None], 0.0)
    sm = ndi.gaussian_filter(rel, VOID_SMOOTH_VOX)
    wt = ndi.gaussian_filter(layer.astype(float), VOID_SMOOTH_VOX)
    with np.errstate(invalid="ignore", divide="ignore"):
        sm = np.where(wt > 0.2, sm / wt, 0.0)
    # blobs both ways: the noise is correlated over a few voxels (retrieval, reconstruction),
    # so leaving out only the dark blobs' surroundings would bias the level up
    blobs = layer & (np.abs(sm) > VOID_DETECT_FRACTION * abs(step))
    hz, hxy = VOID_HALO_VOX
    st = np.zeros((2 * hz + 1, 2 * hxy + 1, 2 * hxy + 1), bool)
    yy, xx = np.mgrid[-hxy:hxy + 1, -hxy:hxy + 1]
    st[:, yy ** 2 + xx ** 2 <= hxy ** 2 + 0.5] = True
    near = ndi.binary_dilation(blobs, structure=st)
    r = np.full(d.shape, np.nan)
    for i in range(z1 - z0):
        x = d[i][layer[i]]
        if x.size < 16:
            layer[i] = False
            continue
        far = d[i][layer[i] & ~near[i]]
        lvl = float(np.median(far)) if far.size >= max(30, x.size // 10) else m0[i]
        r[i][layer[i]] = (lvl - x) / step
    return r, layer


def _voids_block(aligned, z0, z1, inner, shade, lim, step, margin_vox=None,
                 core_excess=None):
    """Void voxels (partial volume) of slices ``[z0, z1)`` (read as one block: the layer's
    top ``SUBSURFACE_DEPTH_UM`` and the interface window).

    Per slice, the deviation ``d`` after removing the shading; the layer's voxels are those
    of the footprint below ``lim`` (slices, per column).  A first level (:func:`matrix_level`)
    finds the blobs: the deviation smoothed by :data:`VOID_SMOOTH_VOX` differs from it by
    more than :data:`VOID_DETECT_FRACTION` of ``step`` (voids below; above, the noise's
    bright blobs, so that the exclusion is symmetric where there is no void).  The level is
    the median of the layer's voxels outside the blobs dilated by :data:`VOID_HALO_VOX` (the
    halo the retrieval and reconstruction spread around a void darkens its neighbours, which
    the mode cannot tell from the matrix where voids fill a slice), when at least 30 and a
    tenth of them remain (else the first level); the deficit ``r = (level - d) / step``.

    Voids by hysteresis on ``r`` (3D, face-connected): cores ``r > VOID_CORE_FRACTION``
    (vacuum over some depth; plus ``VOID_AXIS_K x core_excess`` per column when given,
    :func:`_axis_excess`), grown into ``r > VOID_GROW_FRACTION``, both at least
    :data:`VOID_CORE_DEPTH_VOX` below the column's measured height (``lim + margin_vox``,
    ``margin_vox`` default :data:`SUBSURFACE_MARGIN_VOX`); a grown region whose mean ``r``
    is below :data:`VOID_MIN_MEAN_FRACTION` is not a void; the volume (voxels) is the sum
    of ``r`` over the regions kept.  The shading's leftovers (patches of 0.5-1 of the
    contrast, 10-20 px across, e.g. the arcs about the rotation axis) and the interface's
    residual seed no void unless they reach the vacuum level; the sum of ``r`` over every
    layer voxel (the former rule) counted them all.
    """
    import scipy.ndimage as ndi

    if z1 <= z0:
        return 0.0
    r, layer = _void_deficit(aligned, z0, z1, inner, shade, lim, step)
    if not layer.any():
        return 0.0
    mg = SUBSURFACE_MARGIN_VOX if margin_vox is None else float(margin_vox)
    zz = np.arange(z0, z1)[:, None, None]
    lim2 = np.full(inner.shape, -np.inf)
    lim2[inner] = lim
    deep = layer & (lim2[None] + mg - zz >= VOID_CORE_DEPTH_VOX)
    rr = np.where(deep, r, 0.0)
    thr = VOID_CORE_FRACTION
    if core_excess is not None:  # per column (Y, X): the axis artefact's spread
        thr = VOID_CORE_FRACTION + VOID_AXIS_K * np.asarray(core_excess, float)[None]
    core = deep & (rr > thr)
    if not core.any():
        return 0.0
    grown = ndi.binary_propagation(core, mask=deep & (rr > VOID_GROW_FRACTION))
    lab, n = ndi.label(grown)
    idx = np.arange(1, n + 1)
    tot = np.asarray(ndi.sum(rr, lab, idx), float)
    size = np.asarray(ndi.sum(grown, lab, idx), float)
    keep = tot >= VOID_MIN_MEAN_FRACTION * size
    return float(tot[keep].sum())


#: The core threshold of :func:`_voids_block` is raised, per column, by this many times the
#: spread of the deficit along z that the columns about the rotation axis carry beyond the
#: others (:func:`_axis_excess`, measured in the layer below the read depth).  On two
#: pristine coin-cell scans (tiny/600 and small/900, seed 1) the rotation axis's columns read
#: the deficit swinging by +-0.6-0.8 of the contrast over 10-20 slices through the whole Li
#: band (the annulus beyond 8 px: +-0.1): the FBP sums the same central detector column
#: over every angle, so its row-to-row offsets (the outside's near-field fringes) do not
#: average out.  Below the surface such a swing reached the vacuum level and read as a void
#: (1.2e4 and 3.5e4 um3).  Measured from the stored volumes, pristine / charged / stripped
#: against 0 / 0 / truth: 2 leaves the small one (3.5e4), 4 removes both; the stripped
#: volumes move by -3 to 0 % of the truth (tiny/600 seeds 1, 2, tiny/300 seed 0, small/900
#: seeds 0-2; see :func:`_truncated_subsurface_voids`).
VOID_AXIS_K = 4.0
#: Slices of the layer below the read depth that :func:`_axis_excess` reads (at most), as a
#: multiple of the read depth.
VOID_AXIS_DEPTH_FACTOR = 3.0


def _axis_excess(aligned, z0, z1, inner, shade, lim, step):
    """Per column (Y, X), the spread of the deficit along z over slices ``[z0, z1)`` (the
    layer below the read depth: 1.4826 x the median absolute deviation of each column) in
    excess of the columns' median spread (in quadrature), averaged over the rings about the
    rotation axis (the reconstruction grid's centre, one voxel wide); None with fewer than 8
    slices."""
    import warnings

    if z1 - z0 < 8:
        return None
    r, layer = _void_deficit(aligned, z0, z1, inner, shade, lim, step)
    rd = np.where(layer, r, np.nan)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        med = np.nanmedian(rd, axis=0)
        mad = 1.4826 * np.nanmedian(np.abs(rd - med[None]), axis=0)
    if not np.isfinite(mad[inner]).any():
        return None
    s0 = float(np.nanmedian(mad[inner]))
    exc = np.nan_to_num(np.sqrt(np.clip(mad ** 2 - s0 ** 2, 0.0, None)))
    ny, nx = inner.shape
    yy, xx = np.indices(inner.shape)
    ring = np.rint(np.hypot(yy - (ny - 1) / 2.0, xx - (nx - 1) / 2.0)).astype(int)
    num = np.bincount(ring[inner], weights=exc[inner], minlength=ring.max() + 1)
    den = np.bincount(ring[inner], minlength=ring.max() + 1)
    prof = np.where(den > 0, num / np.maximum(den, 1), 0.0)
    return prof[ring]


def _truncated_subsurface_voids(sc, band_a, height_um, inner, shade, truncated, material, vs,
                                what, contrast=None):
    """Volume (µm³) of voids (vacuum) inside layer ``a`` below a truncated scan's interface.

    The labels of a truncated scan keep the layer's envelope (the threshold classes cannot
    see a void below a surface whose slice level is the exterior's).  Here, as for the
    electrolyte's pores (:func:`_truncated_pore_volume`), each slice's exterior shading
    ``a(z) G + C`` (``shade``, fitted for the interface by :func:`_truncated_heights`) is
    removed; the voxels of the footprint at least :data:`SUBSURFACE_MARGIN_VOX` below the
    column's measured height (``height_um``) are the layer's, their median its level in the
    slice (voids a minority), and the voids' partial volume is ``sum (median - d) /
    (L_material - L_vacuum)`` with the contrast from the retrieval's delta/beta
    (:func:`ssbscope.tomo.metrics.phase_retrieved_contrast`) or the attenuation, scaled by
    the ratio of the interface's measured to materials' contrast (``contrast``, the
    transfer the data show; :func:`_truncated_heights`).  The layer's level in each slice
    comes from its voxels away from blobs (:func:`_voids_block`: the voids and the halo the
    retrieval and reconstruction spread around them can fill half a slice's voxels under a
    rough surface, and the mode of the slice then reads low).  Slices from
    :data:`SUBSURFACE_DEPTH_UM` below the interface's lowest column (not below 2 slices above
    the layer band's bottom) to its highest column.  NaN (logged) without a contrast.

    Voids are the hysteresis regions of :func:`_voids_block` (a former rule summed every
    layer voxel's deficit, so the shading's leftovers, the rotation-axis arcs and the
    interface's residual all counted: up to 6.5e4 µm³ in void-free scans).  Measured from the stored volumes (same heights and
    shading as the chain), void-free / stripped against the stripped truth: tiny / 600 seeds
    0-2: void-free 0 / 0, 1.2e4 / 0 (14 %), 0 / 0; stripped 7.4 / 9.3 / 8.6e4 against
    8.7e4 (-15 / +7 / -1 %); tiny / 300 seed 0: 0 / 0, 7.7e4 (-11 %); small / 900 seeds
    0-2: 0 / 0, 3.5e4 (28 %) / 0, 0 / 0; stripped 1.10 / 1.26 / 1.41e5 against 1.26e5
    (-13 / 0 / +12 %).  The two void-free scans that still read voids (pristine, seed 1)
    carried the rotation axis's artefact: the columns about the axis swing by +-0.6-0.8 of
    the contrast along z through the whole Li band (the FBP sums the same central detector
    column over every angle, so its row-to-row offsets do not average out; the annulus
    beyond 8 px swings by +-0.1), and below the surface a swing reached the vacuum level.
    The cores' threshold is now raised per column by :data:`VOID_AXIS_K` x that excess
    spread, measured in the layer below the read depth (:func:`_axis_excess`): re-measured
    from the stored volumes, pristine / charged / stripped, tiny/600 seed 1 0 / 0 / 9.34e4
    (was 1.2e4 / 0 / 9.34e4; truth 8.69e4), small/900 seed 1 0 / 0 / 1.23e5 (was 3.5e4 / 0
    / 1.26e5; truth 1.26e5), tiny/600 seed 2 0 / 0 / 8.50e4 (was 0 / 0 / 8.63e4), tiny/300
    seed 0 0 / 0 / 7.50e4 (was 0 / 0 / 7.76e4), small/900 seeds 0, 2 0 / 0 / 1.07e5 and
    0 / 0 / 1.42e5 (were 0 / 0 / 1.10e5 and 0 / 0 / 1.44e5; truth 1.26e5): stripped -15 to
    +13 %.
    """
    try:
        step = _materials_contrast(material, "vacuum", truncated, vs)
        step = float("nan") if step is None else float(step)
    except Exception as exc:  # an unknown material
        log.warning("measure_scan: %s: truncated scan: no contrast %s | vacuum (%s); no "
                    "subsurface void volume", what, material, exc)
        return float("nan")
    if not (math.isfinite(step) and step != 0):
        return float("nan")
    h = np.asarray(height_um, float)[inner] / vs
    if not np.isfinite(h).any():
        return float("nan")
    top = int(math.ceil(np.nanmax(h)))
    z0 = band_a[0] + 2
    if SUBSURFACE_DEPTH_UM is not None:
        z0 = max(z0, int(math.floor(np.nanmin(h) - SUBSURFACE_DEPTH_UM / vs)))
    if contrast is not None and all(math.isfinite(c) and c != 0 for c in contrast):
        step *= contrast[0] / contrast[1]  # the contrast transfer the interface shows
    lim = np.where(np.isfinite(h), h - SUBSURFACE_MARGIN_VOX, -np.inf)
    zd = max(band_a[0] + 2, z0 - int(VOID_AXIS_DEPTH_FACTOR * (top - z0)))
    exc = _axis_excess(sc.aligned, zd, z0, inner, shade, lim, step)
    vol = _voids_block(sc.aligned, z0, top, inner, shade, lim, step, core_excess=exc) * vs ** 3
    log.info("measure_scan: %s: truncated scan: voids below the interface %.4g um3 (slices "
             "%d..%d, contrast %s | vacuum %.3g)", what, vol, z0, top, material, step)
    return vol


def _truncated_pore_volume(sc, z_range, inner, shade, truncated, dark_material, lay, el, vs,
                           below=None, per_slice=False):
    """Pore + crack volume (µm³) of the electrolyte slices ``z_range`` of a truncated scan.

    Each slice's level is set by the cell outside the field of view, so the pure-phase levels
    of the whole stack do not apply.  In each slice the exterior's shading ``a(z) G + C``
    (``shade``, fitted for the electrolyte's interface by :func:`_truncated_heights`) is
    removed; the electrolyte's own level is the slice's median (the matrix fills most of it)
    and the pores' partial volume is ``N (median - mean) / (L_el - L_dark)`` (``N`` voxels,
    the darkest declared phase as the pores' content as in the untruncated measurement),
    with the two materials' contrast from the retrieval's delta/beta and energy
    (:func:`ssbscope.tomo.metrics.phase_retrieved_contrast`) or the materials' attenuation.
    With ``below`` (the heights of the electrolyte's lower interface, µm, as measured) only
    the voxels at least 2 voxels above it count (the rough layer below reaches into the
    electrolyte's first slices).  NaN (logged) without a shading fit or the materials'
    contrast.  With ``per_slice``: the partial volume (voxels) of every slice of the scan
    (zero outside ``z_range``; the layer fractions of a truncated scan), None where NaN.
    """
    el_mat = next(la.material for la in lay if la.name == el)
    try:
        step = _materials_contrast(el_mat, dark_material, truncated, vs)
        step = float("nan") if step is None else step
    except Exception as exc:  # an unknown material: no contrast
        log.warning("measure_scan: truncated scan: no contrast %s | %s (%s); no pore/crack "
                    "volume", el_mat, dark_material, exc)
        return None if per_slice else float("nan")
    if shade is None or not (math.isfinite(step) and step != 0):
        log.warning("measure_scan: truncated scan: no exterior shading fit at the electrolyte "
                    "%r or no materials' contrast; no pore/crack volume", el)
        return None if per_slice else float("nan")
    G, C = (np.asarray(x, float)[inner] for x in shade)
    z0, z1 = z_range
    aligned = sc.aligned
    first = np.zeros(int(inner.sum()))
    if below is not None:  # first electrolyte voxel of each column + 2
        hb = np.asarray(below, float)[inner] / vs
        first = np.where(np.isfinite(hb), np.ceil(hb - 1e-9) + 2, 0.0)

    def part(a0, b0):  # a task: N (median - mean) of each of the slab's slices
        out = np.zeros(b0 - a0)
        a, b = max(a0, z0), min(b0, z1)
        if b <= a:
            return out
        v = np.asarray(aligned[a:b])[:, inner].astype(np.float64)
        lv = v.mean(axis=1)  # a(z): the slice's mean over the footprint, as fitted
        d = v - lv[:, None] * G[None] - C[None]
        for i in range(d.shape[0]):
            x = d[i][a + i >= first]
            if x.size:
                out[a - a0 + i] = float(np.median(x) - x.mean()) * x.size
        return out

    slices = np.concatenate(sc.map(part)) / step
    if per_slice:
        return slices
    return float(slices.sum()) * vs ** 3


class _Crop:
    """A z-crop of a volume indexed with global slice numbers (``crop[lo:hi]``)."""

    def __init__(self, data, z0):
        self.data, self.z0 = data, z0

    def __getitem__(self, key):
        if isinstance(key, slice) and key.step is None:
            a = (key.start or 0) - self.z0
            b = (key.stop if key.stop is not None else self.z0 + len(self.data)) - self.z0
            if a < 0 or b > len(self.data):
                raise IndexError(f"crop {self.z0}..{self.z0 + len(self.data)}: {key}")
            return self.data[a:b]
        raise IndexError(key)


# --------------------------------------------------------------------------- series

class _Work:
    """Where the volume intermediates of a series live: Zarr arrays with z-slab chunks in a
    temporary directory under ``work_dir`` (chunked), or NumPy arrays when ``path`` is None
    (in memory, one slab: :func:`ssbscope.tomo.series.analyse_series`)."""

    def __init__(self, path, cz):
        self.path, self.cz = path, cz

    def new(self, name, shape, dtype, cz=None):
        """An array of zeros; Zarr chunks of ``cz`` slices (default the slab)."""
        if self.path is None:
            return np.zeros(shape, dtype)
        return _new_zarr(self.path, name, shape, cz or self.cz, dtype)

    def drop(self, name):
        if self.path is not None:  # free the disk space of an intermediate not in the result
            import shutil

            shutil.rmtree(self.path / f"{name}.zarr", ignore_errors=True)

    def stack(self, arrays):
        """(T, Z, Y, X) of the scans' arrays: NumPy in memory, else lazy (one chunk a slab)."""
        import dask.array as da

        if self.path is None:
            return np.stack(arrays)
        zchunks = (self.cz,) + tuple(arrays[0].shape[1:])
        return da.stack([_lazy(a, self.cz) for a in arrays]).rechunk((1,) + zchunks)


def _scan_intermediates(work: _Work, k, v: _Vol, ref: _Vol, slab, dn, memory_limit_bytes):
    """Aligned grey values (registered to ``ref`` on ``slab`` for a later scan), denoised
    values and an empty label array of scan ``k``; returns ``(_Scan, shift_vox)``."""
    shape, cz = v.shape, work.cz
    aligned = work.new(f"aligned_{k}", shape, np.float32)
    if k:
        t = _register_slab(ref, v, slab[0], slab[1], memory_limit_bytes)
        sh = tuple(float(s) for s in t.shift_vox)
        _write_map(aligned, cz, lambda z0, z1: _shift_slab(v, t, z0, z1), v.in_memory)
    else:
        sh = (0.0, 0.0, 0.0)
        _write_map(aligned, cz, lambda z0, z1: v.read(z0, z1).astype(np.float32), v.in_memory)
    if dn.method == "median":
        med = work.new(f"median_{k}", shape, np.float32)
        _write_map(med, cz, lambda z0, z1: _median_slab(aligned, z0, z1))
    elif dn.method != "none":
        # the fixed block grid of denoise_rows, one chunk a block (tasks write apart)
        from ssbscope.tomo.denoise import denoise_rows

        med = work.new(f"median_{k}", shape, np.float32, dn.block_slices)
        _write_map(med, dn.block_slices, lambda z0, z1: denoise_rows(aligned, z0, z1, dn))
    else:
        med = aligned
    return _Scan(aligned, med, work.new(f"labels_{k}", shape, np.uint8), cz,
                 med_is_median3=dn.method == "median"), sh


def _analyse(volumes, layers, voxel_size_um, work_dir, memory_limit_bytes, chunk_slices, *,
             energy_kev, interfaces, thickness, central_fraction, register_on, median,
             opening_radius_vox, min_filament_volume_um3, n_layers, electrolyte, progress,
             segmenter, denoise, phase_levels, level_erode_vox, level_denoise,
             truncated=None, subvoxel_heights=False, height_estimator="auto"):
    """The series analysis on z-slabs; ``work_dir`` False: in memory, one slab (the result's
    arrays NumPy), else Zarr intermediates under ``work_dir`` (None: a temporary directory)
    and lazy arrays in the result."""
    from ssbscope.tomo import metrics as M
    from ssbscope.tomo.denoise import as_settings
    from ssbscope.tomo.series import (SeriesResult, _level_denoise, as_layers,
                                      electrolyte_layer, electrolyte_slab_order, phase_order)

    lay = as_layers(layers)
    vols = [_Vol(v) for v in volumes]
    if not vols:
        raise InputError("volumes: the series holds no scan")
    shapes = {v.shape for v in vols}
    if len(shapes) != 1 or len(vols[0].shape) != 3:
        raise InputError(f"volumes: the scans of a series must share one (z, y, x) grid, got "
                         f"{sorted(shapes)}; reconstruct them with the same rows/size")
    vs = float(voxel_size_um)
    if not (vs > 0 and math.isfinite(vs)):
        raise InputError(f"voxel_size_um: {voxel_size_um!r}; give voxel_size_um for the scans "
                         "(inputs.tomo[i].voxel_size_um) when the files do not record it")
    shape = vols[0].shape
    if work_dir is False:  # in memory: one slab (registration: the same register_factor)
        cz, memory_limit_bytes, work = shape[0], 2**62, _Work(None, shape[0])
    else:
        cz = int(chunk_slices) if chunk_slices else slab_slices(shape, memory_limit_bytes)
        cz = max(1, min(cz, shape[0]))
        if work_dir is None:
            path = Path(tempfile.mkdtemp(prefix="ssbscope-series-"))
        else:
            Path(work_dir).mkdir(parents=True, exist_ok=True)
            path = Path(tempfile.mkdtemp(prefix="series-", dir=str(work_dir)))
        work = _Work(path, cz)
        # the slabs' arrays freed by Dask's threads go back to the system (ssbscope.heap)
        limit_heap_retention()
        log.info("analyse_series_chunked: %s voxels per scan, %d scans, slabs of %d slices in "
                 "%s", shape, len(vols), cz, path)
    order = phase_order(lay, energy_kev)
    reg_name = register_on or lay[0].name
    if reg_name not in [la.name for la in lay]:
        raise InputError(f"analysis.tomo.register_on: {reg_name!r} is not a declared layer")
    el = electrolyte_layer(lay, order, electrolyte)
    dn = as_settings(denoise, median)
    ld = _level_denoise(level_denoise, dn)
    region = _cell_region(vols[0], cz)
    it = range(len(vols)) if progress is None else progress(range(len(vols)))
    scans_z, segs, shifts, fracs, psums = [], [], [], [], []
    scans, masks = [], []
    cmap = None
    slab = None
    for k in it:
        sc, sh = _scan_intermediates(work, k, vols[k], vols[0], slab, dn, memory_limit_bytes)
        if segmenter is not None:
            seg, frac, sums = _segment_forest(sc, segmenter, lay, order, region, vs,
                                              int(opening_radius_vox))
            psums.append(sums)
        else:
            seg, frac = _segment(sc, lay, order, region, vs, int(opening_radius_vox), cmap)
        if k == 0:
            cmap = seg.class_phase
            bnd = seg.location.band(reg_name)
            if bnd is None:
                raise EmptyResultError(f"analysis.tomo.register_on: layer {reg_name!r} is not "
                                       "found in the first scan; register on a layer present "
                                       "from the start (e.g. the current collector)")
            slab = (max(0, bnd[0] - 3), min(shape[0], bnd[1] + 3))
        scans_z.append(sc)
        segs.append(seg)
        shifts.append(sh)
        fracs.append(frac)
        # measured now (a scan's measurement needs only its own intermediates), so that its
        # median is dropped before the next scan's is written: one median on disk at a time
        # (4 x 1024^3: 4.3 GB, not 17 GB)
        lv_lab = None
        if ld is not None:  # the levels' interior labels, on the fixed denoising block grid
            from ssbscope.tomo.levels import interior_labels

            lv_lab = work.new(f"level_labels_{k}", shape, np.uint8, ld.block_slices)
            _write_map(lv_lab, ld.block_slices, functools.partial(
                interior_labels, sc.aligned, seg.class_thresholds, seg.class_phase, ld))
        m, el_fn, raw_fn = _measure(sc, seg, region, lay, vs, interfaces=interfaces,
                                    thickness=thickness, central_fraction=central_fraction,
                                    electrolyte=el, n_layers=n_layers,
                                    min_volume_um3=min_filament_volume_um3,
                                    frac_inner=frac, phase_levels=phase_levels,
                                    level_erode_vox=level_erode_vox, level_labels=lv_lab,
                                    truncated=truncated, subvoxel=subvoxel_heights)
        scans.append(m)
        masks.append((el_fn, raw_fn))
        work.drop(f"level_labels_{k}")
        if dn.method != "none":  # the median is not part of the result
            work.drop(f"median_{k}")
            sc.med = None  # (in memory: freed too)
        if work.path is not None:
            trim_heap()
    # one height estimator per interface for the series, chosen now that every scan's
    # two height maps are measured (2-D maps: cheap to keep)
    scans = _series_height_estimator(scans, lay, region, vs, central_fraction,
                                     height_estimator)
    # layers thinner than a voxel (no band) between two found ones: partial volume
    if truncated is None:
        scans = _missing_layers(scans, scans_z, lay, vs, region, central_fraction)
    # the isolated low-attenuation regions: pores (present in the first scan) vs isolated Li
    scans = _split_isolated_series(scans, shape, cz, work.path is None)
    nt = len(vols)
    nf = np.full((4, nt), np.nan)
    overlap = np.full(nt, np.nan)
    pcv = np.array([s.pore_crack_volume_um3 for s in scans])
    inner = region.inner
    creg = M.central_region(inner.shape, central_fraction, inner)

    local = work.path is None

    def values(k, new):
        """The slabs' rows and ``vals(a, b)``: the grey values of scan ``k`` under its raw
        low mask (``new``: and not under the first scan's) in rows ``[a, b)``."""
        rk, r0 = masks[k][1].args[1], masks[0][1].args[1]  # the masks' z ranges
        lo, hi = (min(rk[0], r0[0]), max(rk[1], r0[1])) if new else rk
        rng = [(max(lo, z0), min(hi, z1)) for z0, z1 in _bounds(shape[0], cz)
               if min(hi, z1) > max(lo, z0)]
        raw_k, raw_0, aligned = masks[k][1], masks[0][1], scans_z[k].aligned

        def vals(a, b):
            m = raw_k(a, b)
            if new:
                m &= ~raw_0(a, b)
            return np.asarray(aligned[a:b])[m].astype(np.float64)
        return rng, vals

    def mean_std(rv):
        """Sample mean and std in two passes of per-slab tasks (only sums come back),
        summed in slab order (as one loop over the slabs)."""
        rng, vals = rv

        def count_sum(a, b):
            x = vals(a, b)
            return x.size, (float(np.sum(x, dtype=np.float64)) if x.size else 0.0)

        n, s = 0, 0.0
        for c, t in _map_slabs(rng, count_sum, local):
            if c:
                n, s = n + c, s + t
        if n == 0:
            return 0, float("nan"), float("nan")
        mu = s / n
        ss = sum(_map_slabs(rng, lambda a, b: float(((vals(a, b) - mu) ** 2).sum()), local))
        return n, mu, math.sqrt(ss / n)

    first = mean_std(values(0, False))
    for k in range(1, nt):
        nf[:, k] = _new_filaments_chunked(  # current & ~previous: in the current's range
            lambda z0, z1, k=k: masks[k][0](z0, z1) & ~masks[k - 1][0](z0, z1), shape,
            masks[k][0].args[1], cz, vs, min_filament_volume_um3, creg, local)
        new = mean_std(values(k, True))
        if new[0] >= 2 and first[0] >= 2:
            overlap[k] = M.overlap_coefficient(first[1], first[2], new[1], new[2])
    unc = ()
    if segmenter is not None:
        from ssbscope.tomo.trainable import segmentation_uncertainty

        unc = tuple(segmentation_uncertainty(ps, sg.location, lay, order.phases, vs)
                    for ps, sg in zip(psums, segs))
    if work.path is not None:
        trim_heap()
    if work.path is None:  # in memory: the scans' masks as NumPy arrays
        import dataclasses

        scans = [dataclasses.replace(m, electrolyte_low=np.asarray(m.electrolyte_low),
                                     electrolyte_raw_low=np.asarray(m.electrolyte_raw_low))
                 for m in scans]
    return SeriesResult(
        volumes=work.stack([s.aligned for s in scans_z]),
        labels=work.stack([s.labels for s in scans_z]),
        class_thresholds=np.array([s.class_thresholds for s in segs], float),
        class_names=segs[0].class_names,
        shift_vox=np.array(shifts, float), region=region, order=order, scans=tuple(scans),
        new_filaments=nf[0], new_filaments_center=nf[1], new_filaments_edge=nf[2],
        new_filament_volume_um3=nf[3], new_crack_volume_um3=pcv - pcv[0],
        pore_crack_grey_overlap=overlap, register_on=reg_name,
        slab_order=electrolyte_slab_order(lay, order, el),
        segmentation="threshold" if segmenter is None else "random_forest", uncertainty=unc)


def analyse_series_chunked(volumes, layers, voxel_size_um: float, *, work_dir=None,
                           memory_limit_bytes: int | None = None, chunk_slices: int | None = None,
                           energy_kev: float | None = None, interfaces=None, thickness=None,
                           central_fraction: float = 0.75, register_on: str | None = None,
                           median: bool = True, opening_radius_vox: int = 0,
                           min_filament_volume_um3: float = 0.0, n_layers: int = 10,
                           electrolyte: str | None = None, progress=None, segmenter=None,
                           denoise=None, phase_levels=None, level_erode_vox: int = 2,
                           level_denoise="default", truncated=None,
                           subvoxel_heights: bool = False, height_estimator: str = "auto"):
    """:func:`ssbscope.tomo.series.analyse_series` on z-slabs of lazily read volumes.

    Parameters
    ----------
    volumes : sequence of (Z, Y, X) dask arrays, xarray DataArrays, Zarr or NumPy arrays
        Reconstructed scans in time order on one grid (read slab by slab, never whole).
    layers, voxel_size_um, energy_kev, interfaces, thickness, central_fraction, register_on,
    median, opening_radius_vox, min_filament_volume_um3, n_layers, electrolyte, progress,
    denoise, phase_levels, level_erode_vox, level_denoise
        As :func:`~ssbscope.tomo.series.analyse_series` (``tv``/``nlm`` denoising on its
        fixed z-block grid, :func:`ssbscope.tomo.denoise.denoise_rows`; pure-phase levels from
        per-slab histograms, :func:`ssbscope.tomo.levels.pure_phase_levels`).
    work_dir : path, optional
        Where the temporary Zarr intermediates go (default a new temporary directory, kept
        while the result's lazy arrays are in use).
    memory_limit_bytes : int, optional
        Sizes the z-slabs (:func:`slab_slices`).
    chunk_slices : int, optional
        Slices per slab (overrides ``memory_limit_bytes``).
    segmenter : ssbscope.tomo.trainable.TrainedSegmenter, optional
        Random-forest segmentation instead of grey thresholds (as
        :func:`~ssbscope.tomo.series.analyse_series`); predicted slab by slab.
    truncated : mapping, optional
        The scans were reconstructed from truncated projections (region of interest): the
        requested interfaces' heights then come from the local contrast after removing the
        exterior's per-slice shading (:func:`_truncated_heights`); ``{"delta_beta",
        "energy_kev"}`` of the Paganin retrieval (or ``{"energy_kev"}`` without) give the
        materials' contrast the measured one is stored beside.
    subvoxel_heights : bool, default False
        With ``truncated``: each column's edge refined to a fraction of a voxel by the
        partial-volume sum around it (:func:`ssbscope.tomo.metrics.refine_edges`; YAML
        ``analysis.tomo.subvoxel_heights``), else whole voxels; no effect on other scans.
    height_estimator : {"auto", "median", "unfiltered"}
        Grey values of the interface heights, one for every scan (YAML
        ``analysis.tomo.height_estimator``; "auto":
        :func:`ssbscope.tomo.series.choose_height_estimator` per interface).

    Returns
    -------
    SeriesResult
        ``volumes`` and ``labels`` (and the scans' masks) are lazy Dask arrays read from
        ``work_dir``; the numbers equal the in-memory path's (see the module docstring;
        ``subvoxel_heights`` heights to float rounding, ~1e-12 um: the exterior's shading is
        summed per slab).
    """
    return _analyse(volumes, layers, voxel_size_um, work_dir, memory_limit_bytes,
                    chunk_slices, energy_kev=energy_kev, interfaces=interfaces,
                    thickness=thickness, central_fraction=central_fraction,
                    register_on=register_on, median=median,
                    opening_radius_vox=opening_radius_vox,
                    min_filament_volume_um3=min_filament_volume_um3, n_layers=n_layers,
                    electrolyte=electrolyte, progress=progress, segmenter=segmenter,
                    denoise=denoise, phase_levels=phase_levels,
                    level_erode_vox=level_erode_vox, level_denoise=level_denoise,
                    truncated=truncated, subvoxel_heights=subvoxel_heights,
                    height_estimator=height_estimator)


#: Bytes of work memory per voxel of the registration slab (two float64 copies, complex
#: FFTs and spline coefficients of register_rigid), measured at 160^3.
REGISTER_BYTES_PER_VOXEL = 200
#: Most voxels the registration slab is registered on: larger slabs are block-averaged in
#: (y, x) by the smallest power of two that fits.  A constant, not the memory budget, so that
#: the shift (and every result after it) is the same under every ``memory_limit_bytes`` and
#: slab size, and in memory; the registration's work is then at most
#: ``REGISTER_MAX_VOXELS * REGISTER_BYTES_PER_VOXEL`` ~ 0.84 GB whatever the budget.  At
#: 4 x 1024^3 (factor 8) the shifts were within 0.03-0.06 voxel of the phantom's drift, 0.00-0.05
#: at factor 4 (benchmarks/README.md, "4 x 1024^3 again").
REGISTER_MAX_VOXELS = 2**22


def register_factor(shape, a: int, b: int) -> int:
    """The (y, x) block-averaging factor of the registration slab ``[a, b)`` of a
    ``(Z, Y, X)`` volume: the smallest power of two ``f`` with
    ``(b - a) * (Y // f) * (X // f) <= REGISTER_MAX_VOXELS`` (1 for small slabs), stopping
    before a side falls under 16 blocks.  Depends on the grid only (never on the memory
    budget or the slab thickness), so every path registers on the same blocks."""
    ny, nx = (int(s) for s in shape[1:])
    f = 1
    while ((b - a) * (ny // f) * (nx // f) > REGISTER_MAX_VOXELS
           and min(ny, nx) // (2 * f) >= 16):
        f *= 2
    return f


def _register_slab(ref: _Vol, mov: _Vol, a: int, b: int, memory_limit_bytes=None):
    """:func:`ssbscope.tomo.register_rigid` on the slab ``[a, b)`` of both scans.

    The slab is what the in-memory path registers on (same shift).  When it holds more than
    :data:`REGISTER_MAX_VOXELS` voxels it is block-averaged in (y, x) by
    :func:`register_factor` (blocks on a fixed grid from voxel (0, 0), the same in every
    path) and the (y, x) shift scaled back.  The factor never depends on
    ``memory_limit_bytes`` (a former rule sized it from the budget, so that a 256 MB run of
    2 x 256^3 registered on 2 x 2 blocks and found -0.61 voxel where a 4 GB run found -0.60,
    and every result after differed); the budget only decides whether a warning says that
    the registration's work (:data:`REGISTER_BYTES_PER_VOXEL` per voxel) exceeds half of it.
    """
    from ssbscope.tomo.register import RigidTransform

    budget = int(memory_limit_bytes) if memory_limit_bytes else DEFAULT_BUDGET
    ny, nx = ref.shape[1:]
    f = register_factor(ref.shape, a, b)
    need = (b - a) * (ny // f) * (nx // f) * REGISTER_BYTES_PER_VOXEL
    if f > 1:
        log.info("registration slab %d..%d block-averaged by %d in (y, x) (%d MB of work)",
                 a, b, f, need // 2**20)
    if need > budget / 2:
        log.warning("registration slab %d..%d takes %d MB of work, over half the memory "
                    "budget (%d MB); its size is fixed so that results do not depend on the "
                    "budget (REGISTER_MAX_VOXELS)", a, b, need // 2**20, budget // 2**20)
    # a task (on a worker of a dask.distributed client): the client never holds the slab
    import dask

    task = dask.delayed(_register_task, pure=False)(ref, mov, a, b, f)
    with _scheduler(ref.in_memory and mov.in_memory):
        t = dask.compute(task)[0]
    if f == 1:
        return t
    s = np.asarray(t.shift_vox, float) * np.array([1.0, f, f])
    # block means are centred at (i + 0.5) f - 0.5: a shift scales by f exactly
    return RigidTransform(shift_vox=tuple(float(x) for x in s),
                          rotation_deg=float(t.rotation_deg), error=float(t.error))


def _register_task(ref: _Vol, mov: _Vol, a: int, b: int, f: int):
    """A task: :func:`ssbscope.tomo.register_rigid` of the slabs ``[a, b)``, block-averaged
    by ``f`` in (y, x) when ``f > 1`` (the shift then in block units)."""
    import ssbscope.tomo as tomo

    def down(x):
        if f == 1:
            return x
        z, y, w = x.shape
        x = x[:, :y - y % f, :w - w % f]
        return x.reshape(z, y // f, f, w // f, f).mean(axis=(2, 4), dtype=np.float64)

    return tomo.register_rigid(down(ref.read(a, b)), down(mov.read(a, b)), upsample_factor=10)


def _filament_reduce(n, lab, z0, z1):
    """A task: voxel counts and sums of y and x of the labels of a block (non-zero ones)."""
    l = np.asarray(lab)
    fl = l.reshape(l.shape[0], -1)
    yy, xx = np.indices(l.shape[1:])
    ids, cnt = _nonzero_counts(np.bincount(l.ravel(), minlength=n + 1))
    sy = np.bincount(fl.ravel(), weights=np.broadcast_to(yy.ravel(), fl.shape).ravel(),
                     minlength=n + 1)
    sx = np.bincount(fl.ravel(), weights=np.broadcast_to(xx.ravel(), fl.shape).ravel(),
                     minlength=n + 1)
    return ids, cnt, sy[ids], sx[ids]


def _new_filaments_chunked(mask_fn, shape, z_range, cz, vs, min_volume_um3, creg,
                           local=False):
    """(count, count_center, count_edge, volume_um3) of
    :func:`ssbscope.tomo.metrics.new_filaments` from a chunked labelling; the labelling and
    the per-block sums are tasks on the active scheduler (local threads when ``local``)."""
    n, lab, za = _label_stats(mask_fn, shape, z_range, cz, local=local)
    if n == 0:
        return (0, 0, 0, 0.0)
    sizes = np.zeros(n + 1, np.int64)
    sy = np.zeros(n + 1)
    sx = np.zeros(n + 1)
    # added in block order, as one loop over the blocks would (labels absent from a block
    # add zero)
    for ids, cnt, y, x in _map_blocks(lab, za, functools.partial(_filament_reduce, n), local):
        sizes[ids] += cnt
        sy[ids] += y
        sx[ids] += x
    v3 = vs ** 3
    vol = sizes[1:] * v3
    keep = np.flatnonzero(vol > min_volume_um3) + 1
    if keep.size == 0:
        return (0, 0, 0, 0.0)
    cy = sy[keep] / sizes[keep]
    cx = sx[keep] / sizes[keep]
    yi = np.clip(np.round(cy).astype(int), 0, shape[1] - 1)
    xi = np.clip(np.round(cx).astype(int), 0, shape[2] - 1)
    is_c = creg[yi, xi]
    vols = vol[keep - 1]
    return (int(keep.size), int(is_c.sum()), int((~is_c).sum()), float(vols.sum()))
