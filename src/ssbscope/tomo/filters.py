"""Image-processing kernels of the CT chain: 3x3x3 median, ball opening, thresholds, labels.

The chain of 000_290f30815ae66793 (Experimental procedures): a 3 x 3 x 3 median filter,
a morphological opening with a ball of radius 3 voxels, an automatic threshold and a
connected-component analysis.  Volumes are ``(z, y, x)`` with z the stacking axis.

Own kernels (numba, parallel over z, deterministic whatever the thread count) are used where
``benchmarks/bench_morphology.py`` shows them faster than the best peer at identical output:

* :func:`median3` equals ``scipy.ndimage.median_filter(v, size=3)`` bit for bit (edges by
  replication, which for a size-3 window is scipy's default ``mode='reflect'``).  Each output
  row is computed with branch-free compare-exchange networks that vectorise along x: the
  3 x 3 (z, y) column of every x is sorted (25 comparators), neighbouring sorted columns are
  merged (33 comparators, shared by two windows) and the 14th of 27 is selected from the
  merged 18 and the third sorted column with ``min_i max(M[i], C[13 - i])``.
* :func:`opening` equals ``skimage.morphology.binary_opening(mask, ball(r))`` (skimage's
  default ``mode='ignore'``: voxels outside the volume neither erode nor dilate).  Erosion and
  dilation by the Euclidean ball ``dz^2 + dy^2 + dx^2 <= r^2`` are done exactly as a
  squared distance transform truncated at ``r^2 + 1``, computed separably (three 1-D
  min-plus passes of ``2 r + 1`` taps each).
* :func:`label` equals ``scipy.ndimage.label`` (same numbering: components numbered in the
  raster order of their first voxel) for 6-, 18- or 26-connectivity; union-find over runs
  of foreground voxels along x, z-slabs linked in parallel and merged across slab faces.

The parallel kernels are launched through :func:`_launch`: the chunked stages call them from
Dask's worker threads, several at once, which numba's ``omp`` and ``tbb`` threading layers
allow and its ``workqueue`` layer does not (it aborts the process); under ``workqueue`` the
launches take turns.

Thresholds reuse scikit-image's Otsu on a histogram (so that a chunked run can pass a global
histogram computed in a first pass); multi-Otsu is an own exact dynamic programme
(O(classes x nbins^2)) because scikit-image's exhaustive search grows as nbins^(classes-1).
"""

from __future__ import annotations

import logging
import threading

import numba
import numpy as np
from numba import prange

from ssbscope.errors import DataQualityError, InputError, ParameterError

__all__ = [
    "median3",
    "opening",
    "erosion",
    "dilation",
    "threshold_otsu",
    "threshold_multiotsu",
    "histogram",
    "label",
    "check_finite",
    "kernels_serialised",
]

log = logging.getLogger(__name__)

#: Held by every parallel launch while the threading layer is unknown (the first launch
#: selects it) or is ``workqueue``.
_LAUNCH_LOCK = threading.Lock()
_serialised: bool | None = None


def kernels_serialised() -> bool | None:
    """Whether this process's parallel kernels take turns: True under numba's ``workqueue``
    threading layer (not threadsafe), False under ``omp`` or ``tbb``, None before the first
    launch (the layer is chosen then: ``NUMBA_THREADING_LAYER``, else the first of tbb, omp,
    workqueue that loads)."""
    return _serialised


def _launch(kernel, *args):
    """``kernel(*args)`` of a ``parallel=True`` kernel, callable from several threads at once.

    Dask runs the chunked stages' slabs (:mod:`ssbscope.tomo.series_chunked`,
    :mod:`ssbscope.tomo.chunked`) and the streamed reconstruction's blocks
    (:mod:`ssbscope.tomo.stream`, the FBP's gridding kernel) on a thread pool, so these
    kernels are launched concurrently.  Numba's ``omp`` and ``tbb`` threading layers are threadsafe; ``workqueue``,
    which numba falls back to when neither OpenMP nor TBB loads (e.g. macOS without libomp)
    or which ``NUMBA_THREADING_LAYER=workqueue`` selects, terminates the process on a
    concurrent launch ("Concurrent access has been detected").  Under it every launch holds
    one lock (one kernel at a time, each still parallel over its threads); the first launch,
    which selects the layer, holds it too.
    """
    global _serialised
    if _serialised is False:
        return kernel(*args)
    with _LAUNCH_LOCK:
        out = kernel(*args)
        if _serialised is None:
            try:
                layer = numba.threading_layer()
            except ValueError:  # not initialised (a kernel that ran serially)
                return out
            _serialised = layer == "workqueue"
            if _serialised:
                log.info("numba threading layer 'workqueue' (not threadsafe): the parallel "
                         "kernels of ssbscope.tomo (filters, FBP gridding) run one at a time; install tbb or "
                         "OpenMP, or set NUMBA_THREADING_LAYER=omp|tbb, for concurrent slabs")
        return out


# Optimal 25-comparator sorting network for 9 inputs (verified by the 0-1 principle in
# tests/tomo/test_filters.py).
_SORT9 = np.array(
    [(0, 3), (1, 7), (2, 5), (4, 8), (0, 7), (2, 4), (3, 8), (5, 6), (0, 2), (1, 3),
     (4, 5), (7, 8), (1, 4), (3, 6), (5, 7), (0, 1), (2, 4), (3, 5), (6, 8), (2, 3),
     (4, 5), (6, 7), (1, 2), (3, 4), (5, 6)], dtype=np.int64)
# Merge network for two sorted runs of 9 (inputs 0-8 and 9-17), obtained by pruning
# Knuth's merge-exchange network for 18 inputs (verified in the tests).
_MERGE9 = np.array(
    [(0, 16), (1, 17), (1, 9), (2, 10), (3, 11), (4, 12), (5, 13), (6, 14), (7, 15),
     (8, 16), (0, 4), (8, 12), (5, 9), (6, 10), (7, 11), (13, 17), (0, 2), (4, 6),
     (8, 10), (12, 14), (3, 5), (7, 9), (11, 13), (15, 17), (0, 1), (2, 3), (4, 5),
     (6, 7), (8, 9), (10, 11), (12, 13), (14, 15), (16, 17)], dtype=np.int64)


def check_finite(volume: np.ndarray, name: str = "volume") -> None:
    """Raise :class:`DataQualityError` if a floating-point array holds NaN or inf.

    Parameters
    ----------
    volume : ndarray
        Array to check (integer and boolean arrays always pass).
    name : str
        Name used in the error message.
    """
    if np.issubdtype(volume.dtype, np.floating) or np.issubdtype(volume.dtype, np.complexfloating):
        finite = np.isfinite(volume)
        if not finite.all():
            bad = int(finite.size - np.count_nonzero(finite))
            first = np.unravel_index(int(np.argmin(finite)), volume.shape)
            raise DataQualityError(
                f"{name}: {bad} NaN/inf voxel(s) (first at index {tuple(int(i) for i in first)}); "
                "replace them (e.g. np.nan_to_num or mask the field of view) before filtering")


def _as_volume(volume, name: str = "volume", ndim: int = 3) -> np.ndarray:
    arr = np.asarray(volume)
    if arr.ndim != ndim:
        raise InputError(f"{name}: expected a {ndim}-D (z, y, x) array, got shape {arr.shape}; "
                         "pass one volume at a time")
    if arr.size == 0:
        raise InputError(f"{name}: empty array of shape {arr.shape}; pass a non-empty volume")
    return arr


# --------------------------------------------------------------------------- median 3x3x3

@numba.njit(parallel=True, cache=True, nogil=True)
def _median3_kernel(v, out, sort9, merge9):  # pragma: no cover - compiled
    nz, ny, nx = v.shape
    for z in prange(nz):
        # S[:, c] holds the sorted 3x3 (z, y) column of x = c - 1 (edge-replicated).
        S = np.empty((9, nx + 2), v.dtype)
        M = np.empty((18, nx), v.dtype)
        for y in range(ny):
            k = 0
            for dz in range(-1, 2):
                zz = min(max(z + dz, 0), nz - 1)
                for dy in range(-1, 2):
                    yy = min(max(y + dy, 0), ny - 1)
                    for x in range(nx):
                        S[k, x + 1] = v[zz, yy, x]
                    k += 1
            for c in range(sort9.shape[0]):
                i = sort9[c, 0]
                j = sort9[c, 1]
                for x in range(1, nx + 1):
                    a = S[i, x]
                    b = S[j, x]
                    S[i, x] = a if a < b else b
                    S[j, x] = b if a < b else a
            for k in range(9):
                S[k, 0] = S[k, 1]
                S[k, nx + 1] = S[k, nx]
            # M[:, x] = merge of the sorted columns of x - 1 and x.
            for k in range(9):
                for x in range(nx):
                    M[k, x] = S[k, x]
                    M[k + 9, x] = S[k, x + 1]
            for c in range(merge9.shape[0]):
                i = merge9[c, 0]
                j = merge9[c, 1]
                for x in range(nx):
                    a = M[i, x]
                    b = M[j, x]
                    M[i, x] = a if a < b else b
                    M[j, x] = b if a < b else a
            # 14th smallest of M (18 sorted) and C = column x + 1 (9 sorted):
            # min over i = 4..13 of max(M[i], C[12 - i]) with C[-1] = -inf.
            for x in range(nx):
                out[z, y, x] = M[13, x]
            for i in range(4, 13):
                ci = 12 - i
                for x in range(nx):
                    a = M[i, x]
                    b = S[ci, x + 2]
                    m = a if a > b else b
                    o = out[z, y, x]
                    out[z, y, x] = m if m < o else o
    return out


def median3(volume: np.ndarray) -> np.ndarray:
    """3 x 3 x 3 median filter (000_290f30815ae66793, Experimental procedures).

    Parameters
    ----------
    volume : (Z, Y, X) ndarray
        Greyscale volume, any real dtype; NaN/inf are rejected.

    Returns
    -------
    (Z, Y, X) ndarray
        Median of each voxel's 27-neighbourhood, same dtype.  Edges are replicated, which
        for a size-3 window equals ``scipy.ndimage.median_filter(volume, size=3)``
        (``mode='reflect'``) bit for bit.

    Raises
    ------
    InputError
        ``volume`` is not a non-empty 3-D array.
    DataQualityError
        ``volume`` holds NaN or inf.

    Examples
    --------
    >>> import numpy as np
    >>> v = np.zeros((3, 3, 3), np.float32); v[1, 1, 1] = 9.0
    >>> float(median3(v)[1, 1, 1])
    0.0
    """
    arr = _as_volume(volume)
    if arr.dtype == np.bool_:
        arr = arr.view(np.uint8)
        return _launch(_median3_kernel, np.ascontiguousarray(arr),
                       np.empty(arr.shape, np.uint8), _SORT9, _MERGE9).view(np.bool_)
    if not (np.issubdtype(arr.dtype, np.integer) or np.issubdtype(arr.dtype, np.floating)):
        raise InputError(f"volume: dtype {arr.dtype} is not real-valued; pass an integer or "
                         "floating-point volume")
    check_finite(arr)
    arr = np.ascontiguousarray(arr)
    out = np.empty(arr.shape, arr.dtype)
    return _launch(_median3_kernel, arr, out, _SORT9, _MERGE9)


# --------------------------------------------------------------------------- ball morphology

@numba.njit(parallel=True, cache=True, nogil=True)
def _near_pass_x(target, invert, r, cap, out):  # pragma: no cover - compiled
    # out = min(cap, min over |d| <= r with target[x + d] of d^2); target taken as (t != invert)
    nz, ny, nx = target.shape
    for z in prange(nz):
        for y in range(ny):
            for x in range(nx):
                out[z, y, x] = cap
            for x in range(nx):
                if (target[z, y, x] != 0) != invert:
                    lo = max(x - r, 0)
                    hi = min(x + r, nx - 1)
                    for xx in range(lo, hi + 1):
                        d2 = (xx - x) * (xx - x)
                        if d2 < out[z, y, xx]:
                            out[z, y, xx] = d2
    return out


@numba.njit(parallel=True, cache=True, nogil=True)
def _near_pass_y(g, r, cap, out):  # pragma: no cover - compiled
    nz, ny, nx = g.shape
    for z in prange(nz):
        for y in range(ny):
            for x in range(nx):
                out[z, y, x] = g[z, y, x]
            for d in range(1, r + 1):
                d2 = d * d
                if d2 >= cap:
                    break
                if y - d >= 0:
                    for x in range(nx):
                        c = g[z, y - d, x] + d2
                        if c < out[z, y, x]:
                            out[z, y, x] = c
                if y + d < ny:
                    for x in range(nx):
                        c = g[z, y + d, x] + d2
                        if c < out[z, y, x]:
                            out[z, y, x] = c
    return out


@numba.njit(parallel=True, cache=True, nogil=True)
def _near_pass_z_threshold(h, r, cap, keep_if_near, out):  # pragma: no cover - compiled
    # out[z, y, x] = (min_d h[z + d] + d^2 <= r^2) == keep_if_near
    nz, ny, nx = h.shape
    r2 = r * r
    for z in prange(nz):
        acc = np.empty(nx, h.dtype)
        for y in range(ny):
            for x in range(nx):
                acc[x] = h[z, y, x]
            for d in range(1, r + 1):
                d2 = d * d
                if d2 >= cap:
                    break
                if z - d >= 0:
                    for x in range(nx):
                        c = h[z - d, y, x] + d2
                        if c < acc[x]:
                            acc[x] = c
                if z + d < nz:
                    for x in range(nx):
                        c = h[z + d, y, x] + d2
                        if c < acc[x]:
                            acc[x] = c
            for x in range(nx):
                out[z, y, x] = (acc[x] <= r2) == keep_if_near
    return out


def _near(target: np.ndarray, radius: int, *, invert: bool, keep_if_near: bool) -> np.ndarray:
    """Voxels within Euclidean distance ``radius`` of a target voxel (targets inside only)."""
    cap = radius * radius + 1
    # values never exceed cap (sums are formed in int64 before the comparison)
    dt = np.uint8 if cap <= 255 else np.uint16
    g = _launch(_near_pass_x, target.view(np.uint8), invert, radius, dt(cap),
                np.empty(target.shape, dt))
    h = _launch(_near_pass_y, g, radius, cap, np.empty(target.shape, dt))
    del g
    return _launch(_near_pass_z_threshold, h, radius, cap, keep_if_near,
                   np.empty(target.shape, np.bool_))


def _check_mask(mask, name="mask") -> np.ndarray:
    arr = _as_volume(mask, name)
    if arr.dtype != np.bool_:
        if not np.issubdtype(arr.dtype, np.integer):
            raise InputError(f"{name}: dtype {arr.dtype} is not boolean; threshold the volume "
                             "first (e.g. volume > threshold_otsu(volume))")
        arr = arr != 0
    return np.ascontiguousarray(arr)


def _check_radius(radius) -> int:
    if int(radius) != radius or radius < 1 or radius > 100:
        raise ParameterError("radius", radius, "must be an integer in 1..100 (voxels)",
                             "pass e.g. radius=3 as in 000_290f30815ae66793")
    return int(radius)


def erosion(mask: np.ndarray, radius: int = 3) -> np.ndarray:
    """Binary erosion by the Euclidean ball ``dz^2 + dy^2 + dx^2 <= radius^2`` (voxels).

    Voxels outside the volume are ignored (they do not erode), as in scikit-image's
    ``binary_erosion(mask, ball(radius))`` with its default ``mode='ignore'``.

    Parameters
    ----------
    mask : (Z, Y, X) ndarray of bool
    radius : int
        Ball radius in voxels.

    Returns
    -------
    (Z, Y, X) ndarray of bool
    """
    arr = _check_mask(mask)
    r = _check_radius(radius)
    # kept iff no background voxel within distance r
    return _near(arr, r, invert=True, keep_if_near=False)


def dilation(mask: np.ndarray, radius: int = 3) -> np.ndarray:
    """Binary dilation by the Euclidean ball ``dz^2 + dy^2 + dx^2 <= radius^2`` (voxels).

    Parameters
    ----------
    mask : (Z, Y, X) ndarray of bool
    radius : int
        Ball radius in voxels.

    Returns
    -------
    (Z, Y, X) ndarray of bool
        Equal to ``skimage.morphology.binary_dilation(mask, ball(radius))``.
    """
    arr = _check_mask(mask)
    r = _check_radius(radius)
    return _near(arr, r, invert=False, keep_if_near=True)


def opening(mask: np.ndarray, radius: int = 3) -> np.ndarray:
    """Morphological opening by a ball of ``radius`` voxels (000_290f30815ae66793, r = 3).

    Erosion then dilation by the Euclidean ball ``dz^2 + dy^2 + dx^2 <= radius^2``, each
    done exactly as a truncated squared distance transform.  Removes features narrower than
    the ball (noise specks, thin bridges) while keeping larger shapes unchanged.

    Parameters
    ----------
    mask : (Z, Y, X) ndarray of bool (integers are taken as ``!= 0``)
    radius : int, default 3
        Ball radius in voxels.

    Returns
    -------
    (Z, Y, X) ndarray of bool
        Equal to ``skimage.morphology.binary_opening(mask, skimage.morphology.ball(radius))``.

    Raises
    ------
    InputError
        ``mask`` is not a 3-D boolean/integer array.
    ParameterError
        ``radius`` is not an integer in 1..100.
    """
    arr = _check_mask(mask)
    r = _check_radius(radius)
    eroded = _near(arr, r, invert=True, keep_if_near=False)
    return _near(eroded, r, invert=False, keep_if_near=True)


# --------------------------------------------------------------------------- thresholds

def histogram(volume, nbins: int = 256, value_range: tuple[float, float] | None = None,
              ) -> tuple[np.ndarray, np.ndarray]:
    """Histogram of a volume as ``(counts, bin_centers)`` for the threshold functions.

    Parameters
    ----------
    volume : ndarray
        Greyscale values (NaN/inf rejected).
    nbins : int
        Number of equal-width bins.
    value_range : (float, float), optional
        Histogram range; default the data's min and max.

    Returns
    -------
    counts : (nbins,) ndarray of int64
    bin_centers : (nbins,) ndarray of float64
    """
    arr = np.asarray(volume)
    check_finite(arr)
    if arr.size == 0:
        raise InputError("volume: empty array; pass a non-empty volume")
    if nbins < 2:
        raise ParameterError("nbins", nbins, "must be >= 2", "use e.g. 256")
    if value_range is None:
        value_range = (float(arr.min()), float(arr.max()))
    lo, hi = float(value_range[0]), float(value_range[1])
    counts, _ = np.histogram(arr, bins=nbins, range=(lo, hi))
    edges = np.linspace(lo, hi, nbins + 1)  # float64 whatever the data dtype (as dask's)
    return counts.astype(np.int64), 0.5 * (edges[:-1] + edges[1:])


def _check_hist(hist):
    counts, centers = (np.asarray(h, dtype=float) for h in hist)
    if counts.ndim != 1 or counts.shape != centers.shape or counts.size < 2:
        raise InputError("hist: expected (counts, bin_centers) of equal 1-D length >= 2")
    if (counts < 0).any() or counts.sum() <= 0:
        raise InputError("hist: counts must be non-negative with a positive total")
    return counts, centers


def threshold_otsu(volume=None, nbins: int = 256, *, hist=None) -> float:
    """Otsu's threshold (maximum between-class variance) of a greyscale volume.

    Parameters
    ----------
    volume : ndarray, optional
        Greyscale values; NaN/inf rejected.  Not needed when ``hist`` is given.
    nbins : int
        Bins of the histogram computed from ``volume``.
    hist : (counts, bin_centers), optional
        A precomputed histogram (e.g. a global one from a chunked first pass).

    Returns
    -------
    float
        Threshold: voxels ``> threshold`` form the bright class.  It is scikit-image's
        threshold (the centre of the dark class's last histogram bin) plus half a bin, i.e.
        that bin's upper edge, so no value of a dark-class bin lands in the bright class.

    Raises
    ------
    DataQualityError
        NaN/inf voxels, or a single grey value (nothing to separate).
    """
    from skimage.filters import threshold_otsu as _sk_otsu

    if hist is None:
        if volume is None:
            raise InputError("threshold_otsu: pass a volume or hist=(counts, bin_centers)")
        arr = np.asarray(volume)
        check_finite(arr)
        if arr.size == 0:
            raise InputError("volume: empty array; pass a non-empty volume")
        lo, hi = float(arr.min()), float(arr.max())
        if lo == hi:
            raise DataQualityError(f"volume: all voxels equal {lo}; nothing to threshold")
        hist = histogram(arr, nbins, (lo, hi))
    counts, centers = _check_hist(hist)
    if np.count_nonzero(counts) < 2:
        raise DataQualityError("hist: a single occupied bin; nothing to threshold")
    # scikit-image returns the centre of the last bin of the dark class; values in the upper
    # half of that bin would then count as bright.  Return the bin's upper edge instead, so
    # that every value of the dark class's bins is <= the threshold.
    return float(_sk_otsu(hist=(counts, centers))) + _half_width(centers)


def _half_width(centers) -> float:
    c = np.asarray(centers, float)
    return float(0.5 * (c[1] - c[0])) if c.size > 1 else 0.0


def threshold_multiotsu(volume=None, classes: int = 3, nbins: int = 256, *, hist=None,
                        ) -> np.ndarray:
    """Multi-level Otsu thresholds (exact maximum of the between-class variance).

    Dynamic programme over the histogram: the between-class variance
    ``sum_k w_k mu_k^2`` (minus a constant) is a sum over contiguous bin ranges, so the
    optimum over ``classes - 1`` cut points is found exactly in O(classes x nbins^2).

    Parameters
    ----------
    volume : ndarray, optional
        Greyscale values; NaN/inf rejected.  Not needed when ``hist`` is given.
    classes : int
        Number of classes (>= 2).
    nbins : int
        Bins of the histogram computed from ``volume``.
    hist : (counts, bin_centers), optional
        A precomputed histogram.

    Returns
    -------
    (classes - 1,) ndarray of float
        Ascending thresholds; class k holds values in ``(t[k-1], t[k]]`` (``numpy.digitize``
        with ``right=True``).  Equal to scikit-image's ``threshold_multiotsu`` plus half a bin
        (upper edges of the class-boundary bins).

    Raises
    ------
    DataQualityError
        Fewer occupied histogram bins than classes.
    """
    if classes < 2:
        raise ParameterError("classes", classes, "must be >= 2", "use 2 for a single threshold")
    if hist is None:
        if volume is None:
            raise InputError("threshold_multiotsu: pass a volume or hist=(counts, bin_centers)")
        hist = histogram(volume, nbins)
    counts, centers = _check_hist(hist)
    if np.count_nonzero(counts) < classes:
        raise DataQualityError(
            f"hist: only {np.count_nonzero(counts)} occupied bins for {classes} classes; "
            "use fewer classes or more bins")
    # work on occupied bins only (empty bins never change the optimum)
    occ = np.flatnonzero(counts)
    p = counts[occ] / counts.sum()
    c = centers[occ]
    idx = _multiotsu_dp(p, c, classes)
    # upper edge of the last bin of each class (see threshold_otsu)
    return centers[occ[idx]].astype(float) + _half_width(centers)


@numba.njit(cache=True)
def _multiotsu_dp(p, c, classes):  # pragma: no cover - compiled
    n = p.shape[0]
    w = np.zeros(n + 1)
    m = np.zeros(n + 1)
    for i in range(n):
        w[i + 1] = w[i] + p[i]
        m[i + 1] = m[i] + p[i] * c[i]
    # best[k, j]: max sum over k classes covering bins [0, j); arg[k, j] last cut
    best = np.full((classes + 1, n + 1), -np.inf)
    arg = np.zeros((classes + 1, n + 1), np.int64)
    best[0, 0] = 0.0
    for k in range(1, classes + 1):
        for j in range(k, n - (classes - k) + 1):
            bv = -np.inf
            ba = -1
            for i in range(k - 1, j):
                if best[k - 1, i] == -np.inf:
                    continue
                ww = w[j] - w[i]
                mm = m[j] - m[i]
                val = best[k - 1, i] + mm * mm / ww
                if val > bv:
                    bv = val
                    ba = i
            best[k, j] = bv
            arg[k, j] = ba
    cuts = np.zeros(classes - 1, np.int64)
    j = n
    for k in range(classes, 1, -1):
        i = arg[k, j]
        cuts[k - 2] = i - 1  # last bin of class k - 1
        j = i
    return cuts


# --------------------------------------------------------------------------- labelling
#
# Run-based union-find: the foreground of every (z, y) row is split into runs along x; a run
# touches the runs of the previous rows (z, y - 1), (z - 1, y - 1 .. y + 1) that overlap its
# x-range (widened by one voxel where the connectivity allows an x-diagonal step).  Runs are
# numbered in raster order and a union always links the larger root under the smaller, so
# every parent precedes its child and one pass resolves the final labels in the raster order
# of each component's first voxel (scipy.ndimage.label's numbering).

def _row_offsets(connectivity: int) -> np.ndarray:
    """Previous rows (dz, dy) a run can touch and the x widening e (0 or 1) for each."""
    rows = []
    for dz, dy in ((0, -1), (-1, -1), (-1, 0), (-1, 1)):
        order = abs(dz) + abs(dy)
        if connectivity == 26:
            rows.append((dz, dy, 1))
        elif connectivity == 18:
            rows.append((dz, dy, 1 if order == 1 else 0))
        elif order == 1:
            rows.append((dz, dy, 0))
    return np.array(rows, dtype=np.int64)


@numba.njit(parallel=True, cache=True, nogil=True)
def _count_runs(mask, counts):  # pragma: no cover - compiled
    nz, ny, nx = mask.shape
    for z in prange(nz):
        for y in range(ny):
            c = 0
            prev = False
            for x in range(nx):
                cur = mask[z, y, x]
                if cur and not prev:
                    c += 1
                prev = cur
            counts[z * ny + y] = c
    return counts


@numba.njit(parallel=True, cache=True, nogil=True)
def _fill_runs(mask, row_start, x0, x1):  # pragma: no cover - compiled
    nz, ny, nx = mask.shape
    for z in prange(nz):
        for y in range(ny):
            r = row_start[z * ny + y]
            prev = False
            for x in range(nx):
                cur = mask[z, y, x]
                if cur != prev:
                    if cur:
                        x0[r] = x
                    else:
                        x1[r] = x
                        r += 1
                    prev = cur
            if prev:
                x1[r] = nx


@numba.njit(cache=True, nogil=True)
def _rfind(par, i):  # pragma: no cover - compiled
    while par[i] != i:
        par[i] = par[par[i]]
        i = par[i]
    return i


@numba.njit(cache=True, nogil=True)
def _runion(par, a, b):  # pragma: no cover - compiled
    ra = _rfind(par, a)
    rb = _rfind(par, b)
    if ra < rb:
        par[rb] = ra
    elif rb < ra:
        par[ra] = rb


@numba.njit(cache=True, nogil=True)
def _link_row(row, nrow, e, row_start, x0, x1, par):  # pragma: no cover - compiled
    a_lo = row_start[row]
    a_hi = row_start[row + 1]
    b = row_start[nrow]
    b_hi = row_start[nrow + 1]
    for a in range(a_lo, a_hi):
        lo = x0[a] - e
        hi = x1[a] + e
        while b < b_hi and x1[b] <= lo:
            b += 1
        k = b
        if k < b_hi and x0[k] < hi:
            ra = _rfind(par, a)
            while k < b_hi and x0[k] < hi:
                rb = _rfind(par, k)
                if rb < ra:
                    par[ra] = rb
                    ra = rb
                elif ra < rb:
                    par[rb] = ra
                k += 1


@numba.njit(parallel=True, cache=True, nogil=True)
def _link_slabs(shape, row_start, x0, x1, par, rows, bounds):  # pragma: no cover - compiled
    ny = shape[1]
    for s in prange(bounds.shape[0] - 1):
        z0 = bounds[s]
        for z in range(z0, bounds[s + 1]):
            for y in range(ny):
                row = z * ny + y
                if row_start[row] == row_start[row + 1]:
                    continue
                for k in range(rows.shape[0]):
                    zz = z + rows[k, 0]
                    yy = y + rows[k, 1]
                    if zz < z0 or yy < 0 or yy >= ny:
                        continue
                    _link_row(row, zz * ny + yy, rows[k, 2], row_start, x0, x1, par)


@numba.njit(cache=True, nogil=True)
def _link_faces_resolve(shape, row_start, x0, x1, par, rows, bounds, lab):  # pragma: no cover
    ny = shape[1]
    for s in range(1, bounds.shape[0] - 1):
        z = bounds[s]
        for y in range(ny):
            row = z * ny + y
            if row_start[row] == row_start[row + 1]:
                continue
            for k in range(rows.shape[0]):
                if rows[k, 0] != -1:
                    continue
                yy = y + rows[k, 1]
                if yy < 0 or yy >= ny:
                    continue
                _link_row(row, (z - 1) * ny + yy, rows[k, 2], row_start, x0, x1, par)
    count = 0
    for r in range(par.shape[0]):
        p = par[r]
        if p == r:
            count += 1
            lab[r] = count
        else:
            lab[r] = lab[p]  # p < r: already final
    return count


@numba.njit(parallel=True, cache=True, nogil=True)
def _paint_runs(out, row_start, x0, x1, lab):  # pragma: no cover - compiled
    nz, ny, nx = out.shape
    for z in prange(nz):
        for y in range(ny):
            for x in range(nx):
                out[z, y, x] = 0
            row = z * ny + y
            for r in range(row_start[row], row_start[row + 1]):
                v = lab[r]
                for x in range(x0[r], x1[r]):
                    out[z, y, x] = v


def label(mask: np.ndarray, connectivity: int = 26) -> tuple[np.ndarray, int]:
    """Connected components of a binary volume (000_290f30815ae66793, Experimental procedures).

    Run-based union-find (runs along x, z-slabs linked in parallel, then merged across slab
    faces); deterministic whatever the thread count.

    Parameters
    ----------
    mask : (Z, Y, X) ndarray of bool (integers taken as ``!= 0``)
    connectivity : {6, 18, 26}
        Face, face+edge or face+edge+corner neighbours.

    Returns
    -------
    labels : (Z, Y, X) ndarray of int32 (int64 above 2^31 - 1 runs)
        0 for background, 1..n for components numbered in the raster (z, y, x) order of their
        first voxel: identical to ``scipy.ndimage.label(mask, structure)`` with the matching
        structure.
    n : int
        Number of components.
    """
    arr = _check_mask(mask)
    if connectivity not in (6, 18, 26):
        raise ParameterError("connectivity", connectivity, "must be 6, 18 or 26",
                             "use 26 (faces, edges and corners) or 6 (faces only)")
    nz, ny, nx = arr.shape
    counts = _launch(_count_runs, arr, np.empty(nz * ny, np.int64))
    row_start = np.zeros(nz * ny + 1, np.int64)
    np.cumsum(counts, out=row_start[1:])
    n_runs = int(row_start[-1])
    it = np.int32 if n_runs < 2**31 - 1 else np.int64
    x0 = np.empty(n_runs, np.int32)
    x1 = np.empty(n_runs, np.int32)
    _launch(_fill_runs, arr, row_start, x0, x1)
    par = np.arange(n_runs, dtype=it)
    nthreads = numba.get_num_threads()
    nslab = max(1, min(nz, 4 * nthreads))
    bounds = np.unique(np.linspace(0, nz, nslab + 1).round().astype(np.int64))
    rows = _row_offsets(connectivity)
    shape = np.array(arr.shape, np.int64)
    _launch(_link_slabs, shape, row_start, x0, x1, par, rows, bounds)
    lab_run = np.empty(n_runs, it)
    n = int(_link_faces_resolve(shape, row_start, x0, x1, par, rows, bounds, lab_run))
    out = np.empty(arr.shape, it)
    _launch(_paint_runs, out, row_start, x0, x1, lab_run)
    return out, n
