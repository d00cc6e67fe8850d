"""Streamed reconstruction: projections -> volume in blocks of detector rows, as Dask tasks.

:func:`stream_reconstruct` opens a projection file (Data Exchange or NXtomo HDF5), searches
the rotation centre once on a few rows around the middle of the detector and returns a
*lazy* volume ``(z, y, x)`` float32 whose z-chunks are blocks of detector rows, each split
into (y, x) tiles: the chunks the store writes, cubes of about 128^3 voxels
(:func:`ssbscope.ome.image_chunks`) that never span two blocks.  Each block is
one task that opens the file itself (it is given the path, so it runs on a
``dask.distributed`` worker as well as in a local thread), reads its rows of every
projection, flat and dark (:func:`ssbscope.tomo.io.read_projection_rows`: one HDF5
hyperslab each), and then, on that block only:

1. flat/dark correction and ``-ln`` in float32 (:func:`ssbscope.tomo.flat_dark_correct`;
   per pixel, so a block gives the same values as the whole stack);
2. zinger removal (:func:`ssbscope.tomo.remove_zingers`: a pixel of line integral more than
   the threshold below the 3 x 3 median of its projection and below the same pixel at the
   adjacent angles; the median reaches one detector row up and down, so each block is read
   with a halo of ``size // 2`` rows and cropped afterwards; exact; for a truncated scan the
   zingers are sought in the deviation from the rows' angular mean,
   ``remove_zingers(angle_invariant=True)`` in memory);
2b. optionally, Paganin phase retrieval (:func:`ssbscope.tomo.phase.paganin_filter` on the
   transmission ``exp(-p)``, giving ``-ln`` of the filtered transmission): a 2-D filter in each
   projection, so the block is read with :func:`ssbscope.tomo.phase.paganin_halo_px` more
   halo rows on each side (the rows beyond which 1e-5 of the kernel's weight lies); the block
   then gives the whole projection's result to that fraction of the transmission's variation;
3. ring removal per sinogram (:func:`ssbscope.tomo.remove_rings`; the default
   ``"normalize"`` method, sorting and column-mean normalisation, works on each row's
   sinogram alone, so a block gives the whole stack's result.  The ``"fit"`` method on 3-D
   input also compares neighbouring rows and is not used here);
4. FBP of its rows (:func:`ssbscope.tomo.reconstruct`); for a truncated scan (sample wider
   than the detector: ``truncated=True``, or ``"auto"`` when the middle sinogram's edges
   attenuate, :func:`ssbscope.tomo.roi.detect_truncation`) each sinogram row is extended by
   its tapered edge value before the ramp filter (:func:`ssbscope.tomo.roi.extend_sinogram`).

Peak memory is set by the block size (:func:`plan_blocks`, from a memory limit, the
detector width, the number of angles and the number of threads that run blocks at once),
not by the scan size; the blocks are planned after the centre search, whose middle
sinogram decides ``truncated="auto"``, so only a truncated scan reserves the extended
sinograms' FBP work arrays.  Writing the returned volume (``Store.write`` -> ``to_zarr``) computes
it block by block under the active Dask scheduler, so a cluster spreads the blocks over its
workers and the client holds only the centre search's result (one sinogram).
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field

import numpy as np

from ssbscope.errors import InputError, ParameterError
from ssbscope.ome import _z_chunk, tile_px

__all__ = ["StreamPlan", "StreamedScan", "block_bytes", "plan_blocks", "scheduler_resources",
           "clean_rows", "reconstruct_rows", "center_and_sinogram", "stream_reconstruct",
           "auto_truncated"]

log = logging.getLogger(__name__)

#: Zinger window (px) used by the stage (:func:`ssbscope.tomo.remove_zingers` default).
ZINGER_SIZE = 3
#: Bytes of a process before any block (Python, numpy, numba, dask, xarray, zarr): a
#: LocalCluster worker measured 396 MB after its first block (imports, numba kernels).
BASE_BYTES = 400 * 10**6
#: Largest block (rows); beyond this a bigger block saves nothing (FBP is per row).
MAX_BLOCK_ROWS = 64
#: Fewest slices per stored z-chunk when the scan has them: blocks shorter than this are
#: rounded down to a divisor of it and several of them make one stored chunk
#: (:func:`plan_blocks`), so that short blocks do not leave thin slabs on disk.
MIN_CHUNK_ROWS = 8
#: Memory the blocks of a run without a limit may use (or a quarter of the machine's, if less).
DEFAULT_LIMIT_BYTES = 4 * 10**9


@dataclass(frozen=True)
class StreamPlan:
    """How a scan is cut into tasks.

    Attributes
    ----------
    block_rows : int
        Detector rows per task (one chunk of the lazy volume).
    chunk_rows : int
        Slices per stored Zarr chunk: divides ``block_rows`` (the block itself up to
        :data:`ssbscope.ome.CUBE_SIDE` rows), or, for blocks shorter than
        :data:`MIN_CHUNK_ROWS`, a multiple of it (``MIN_CHUNK_ROWS``: Dask assembles each
        stored chunk from whole blocks; a block never spans two chunks).
    center_rows : int
        Rows around the middle used for the centre search.
    threads : int
        Blocks that run at once per process (threads of the local scheduler, or of a worker).
    budget_bytes : int or None
        Memory one block task may use (None: no limit given).
    block_bytes : int
        Estimated peak memory of one block task (:func:`block_bytes`).
    tile_px : int
        (y, x) side of a stored chunk (:func:`ssbscope.ome.tile_px` of ``chunk_rows``):
        the volume is stored in chunks of ``(chunk_rows, tile_px, tile_px)``.
    """

    block_rows: int
    chunk_rows: int
    center_rows: int
    threads: int
    budget_bytes: int | None
    block_bytes: int
    tile_px: int = 0


def _paganin_halo(phase) -> int:
    if not phase:
        return 0
    from ssbscope.tomo.phase import paganin_halo_px

    return int(paganin_halo_px(**_phase_args(phase)))


def _phase_args(phase) -> dict:
    return {k: float(phase[k]) for k in ("pixel_size_um", "distance_mm", "energy_kev",
                                         "delta_beta")}


def _fbp_bytes(n_angles, n_fbp, n_out):
    """Transient memory (bytes) of one FBP call (:func:`ssbscope.tomo.recon.fbp`, gridding)
    of a sinogram ``n_fbp`` px wide (after any truncation extension).

    An upper bound of the tracemalloc peak of single calls after a first call of the same
    size (the FFT plans and filter caches made by a process's first block are kept: part of
    :data:`BASE_BYTES`), from the arrays :func:`ssbscope.tomo.recon._fbp_gridding` holds,
    with ``n = n_angles x n_pad / 2`` points of the half spectrum (``n_pad = 2
    next_fast_len(n_fbp)``) and ``grid = next_fast_len(2 n_out)``: the largest of

    * building the coefficients and the sort: 22 bytes per point (complex128 coefficient,
      int16 key, int32 order) plus one batch of angles' float64/complex128 spectra (24 bytes
      per padded value);
    * spreading: 20 bytes per point plus the complex64 ``grid x grid`` array;
    * cropping: that array plus the complex64 ``n_out x n_out`` slice;

    times 1.02, plus the extended float32 sinogram (4 bytes per value, counted for every
    call) and 2 MiB.  Measured / this model at 2048 px x 1500 angles: 0.92 (196 MB), 0.98
    truncated (extended by 2048 px per side, 356 MB), 0.95 at 500 angles (168 MB), 0.87 at
    1024 px x 1500 (64 MB; 0.97 truncated), 0.81 at 512 px x 1500, 0.80 at 512 px x 300
    (0.89 truncated).  (The earlier FBP held the full spectrum, float64 coordinates and sort
    arrays, 112 bytes per point: 604 MB at 2048 x 1500, 1247 MB extended by 2048 px per
    side.)"""
    import scipy.fft as sfft

    from ssbscope.tomo.recon import _BATCH_VALUES

    n_pad = 2 * sfft.next_fast_len(max(32, int(n_fbp)))
    grid = sfft.next_fast_len(2 * int(n_out))
    grid += grid % 2
    n = int(n_angles) * (n_pad // 2)
    batch = min(int(n_angles), max(8, _BATCH_VALUES // n_pad))  # as in _fbp_gridding
    core = max(22 * n + 24 * batch * n_pad, 20 * n + 8 * grid * grid,
               8 * grid * grid + 8 * int(n_out) ** 2)
    return int(1.02 * core + 4 * int(n_angles) * int(n_fbp) + 2 * 2**20)


def block_bytes(rows: int, n_angles: int, n_detector: int, *, n_out: int | None = None,
                itemsize: int = 2, n_frames: int = 0, halo: int = ZINGER_SIZE // 2,
                phase_pad: int = 0, extend_px: int = 0) -> int:
    """Estimated peak memory (bytes) of one block task (an upper bound of the measured one).

    While correcting: raw counts (``itemsize``), the float32 line integrals and a byte mask
    per value of the block with its halo rows.  Afterwards: the block's float32 rows, the
    float32 output slices (plus one slice in flight) and the larger of one FBP's work arrays
    (:func:`_fbp_bytes`; the rows are reconstructed one after the other, so these are paid
    once per block, not per row) and one sinogram's ring removal (about 28 bytes per value).
    Measured tracemalloc peak of :func:`reconstruct_rows` at 2048 px x 1500 angles (after a
    first block): 0.21 GB for one row, 0.43 GB for 8, 0.66 GB for 16, 0.59 GB for 8 rows of
    a truncated scan (extended by 2048 px per side), against 0.26, 0.46, 0.70, 0.61 GB here
    (RSS rose by 0.16, 0.38, 0.63, 0.58 GB).  With the earlier FBP (0.60 GB per call, 1.25
    GB extended) one row peaked at 0.62 GB and 8 rows at 0.84 GB.

    Parameters
    ----------
    rows : int
        Detector rows of the block.
    n_angles, n_detector : int
    n_out : int, optional
        Side of the output slices (default ``n_detector``).
    itemsize : int
        Bytes per raw value (2 for uint16).
    n_frames : int
        Flats + darks (read for the block's rows too, medians in float64).
    halo : int
        Extra rows read on each side (zinger window, plus the Paganin halo when phase
        retrieval is on).
    phase_pad : int
        Paganin padding (px) of each projection's FFT (0: no phase retrieval): adds the
        work arrays of one batch of 16 padded projections (float32 + complex64 + float64).
    extend_px : int
        Pixels each sinogram row is extended by on each side before the ramp filter
        (truncated scans: at most ``n_detector``); FBP's work arrays grow with the
        extended width.
    """
    n_out = int(n_detector if n_out is None else n_out)
    r = int(rows) + 2 * int(halo)
    plane = int(n_angles) * int(n_detector)
    reading = r * plane * (itemsize + 4 + 1) + r * n_frames * n_detector * (itemsize + 8)
    if phase_pad:
        pr, pc = r + 2 * int(phase_pad), int(n_detector) + 2 * int(phase_pad)
        reading = max(reading, r * plane * 4 + 16 * pr * pc * (4 + 8 + 8) + r * plane * 4)
    n_fbp = int(n_detector) + 2 * int(extend_px)
    recon = (int(rows) * plane * 4 + (int(rows) + 1) * n_out * n_out * 4
             + max(_fbp_bytes(n_angles, n_fbp, n_out), 28 * plane))
    return int(max(reading, recon))


def _total_memory() -> int:
    try:
        import psutil

        return int(psutil.virtual_memory().total)
    except Exception:  # pragma: no cover - psutil comes with distributed
        return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))


def scheduler_resources():
    """Memory and threads of the processes that will run the blocks.

    Returns
    -------
    memory_bytes : int or None
        Memory limit of one worker of the active ``dask.distributed`` client (the smallest),
        or None for the local threaded scheduler / workers without a limit.
    threads : int
        Threads per worker (distributed), else the local scheduler's thread count.
    n_workers : int
        Workers (1 for the local scheduler).
    """
    try:
        from distributed import default_client

        client = default_client()
    except (ImportError, ValueError):
        client = None
    if client is not None:
        try:
            workers = client.scheduler_info(n_workers=-1)["workers"]
        except TypeError:  # older distributed: no n_workers argument
            workers = client.scheduler_info()["workers"]
        except Exception:  # pragma: no cover - scheduler gone: fall through to local
            workers = {}
        if workers:
            mem = [int(w.get("memory_limit") or 0) for w in workers.values()]
            thr = [int(w.get("nthreads") or 1) for w in workers.values()]
            m = min(mem) if all(mem) else None
            return m, max(thr), len(workers)
    import dask

    n = dask.config.get("num_workers", None) or os.cpu_count() or 1
    return None, int(n), 1


def plan_blocks(n_rows: int, n_angles: int, n_detector: int, *, memory_limit_bytes=None,
                threads: int = 1, n_out: int | None = None, itemsize: int = 2,
                n_frames: int = 0, center_rows: int = 16, block_rows: int | None = None,
                base_bytes: int = BASE_BYTES, fraction: float = 0.8, phase_halo: int = 0,
                extend_px: int = 0, align_rows: int = 1,
                min_chunk_rows: int = MIN_CHUNK_ROWS) -> StreamPlan:
    """Choose the rows per task so that ``threads`` tasks at once stay under a memory limit.

    ``block_rows`` is the largest ``b <= MAX_BLOCK_ROWS`` with ``threads *
    block_bytes(b) <= fraction * memory_limit_bytes - base_bytes`` (at least 1 row: when
    even that does not fit, the limit cannot be met and a warning says so).  Without a
    limit, :data:`DEFAULT_LIMIT_BYTES` (or a quarter of the machine's memory) is the
    budget.  The centre search uses up to ``center_rows`` rows around the middle, fewer when
    its block would not fit either (at least 4 rows when the detector has them).

    Stored chunks (``chunk_rows``, the rule): blocks of at least ``min_chunk_rows`` rows
    are rounded down to a multiple of ``align_rows`` and stored in z-chunks that divide
    them (:func:`ssbscope.ome._z_chunk`: the block itself up to 128 rows).  Shorter blocks
    (the budget allows fewer rows) are rounded down to a divisor of ``min_chunk_rows``
    (4, 2 or 1 for 8) and ``min_chunk_rows`` of their slices make one stored chunk,
    assembled by Dask from whole blocks and written by one task, provided the budget also
    holds that chunk's slices (``min_chunk_rows * n_out^2 * 4`` bytes, the finished blocks
    waiting for their chunk) beside the blocks running; else the chunk is the block.  A
    block never spans two stored chunks and a stored chunk is never written by two tasks.

    Parameters
    ----------
    n_rows, n_angles, n_detector : int
        Shape of the projections (rows to reconstruct).
    memory_limit_bytes : int, optional
        Memory the process (or one worker) may use.
    threads : int
        Blocks running at once in that process.
    n_out, itemsize, n_frames
        As in :func:`block_bytes`.
    center_rows : int
        Rows for the centre search (8-16 recommended).
    block_rows : int, optional
        Forces the block size (still capped at ``n_rows``; the chunk is then the block).
    base_bytes : int
        Memory of the process before any block.
    fraction : float
        Part of the limit the process may fill: 0.8, where Dask workers pause
        (:func:`block_bytes` being an upper bound of the measured peak, the blocks stay
        below it; the nanny only ends a worker at 95 %).
    phase_halo : int
        Paganin halo rows (and FFT padding) per side (0: no phase retrieval).
    extend_px : int
        Sinogram extension per side for truncated scans (:func:`block_bytes`); 0 when the
        scan is known not to be truncated (:func:`stream_reconstruct` decides it first).
    align_rows : int
        Unless ``block_rows`` is given, blocks of at least this many rows are rounded down
        to a multiple of it (and of the chunk): :func:`ssbscope.ome.pyramid_factor`, so that
        every block's pyramid levels are written from that block alone.
    min_chunk_rows : int
        Fewest slices per stored chunk (see the rule above; 1: the chunk is the block).

    Returns
    -------
    StreamPlan
    """
    n_rows, n_angles, n_detector = int(n_rows), int(n_angles), int(n_detector)
    if min(n_rows, n_angles, n_detector) < 1:
        raise InputError(f"projections: shape ({n_angles}, {n_rows}, {n_detector}) is empty")
    threads = max(1, int(threads))
    n_out = int(n_detector if n_out is None else n_out)
    limit = memory_limit_bytes
    if limit is not None and not limit > 0:
        raise ParameterError("memory_limit_bytes", limit, "must be > 0")
    default = min(0.25 * _total_memory(), DEFAULT_LIMIT_BYTES)
    budget_total = float(fraction) * (limit if limit is not None else default) - base_bytes
    budget = budget_total / threads

    def cost(b):
        return block_bytes(b, n_angles, n_detector, n_out=n_out, itemsize=itemsize,
                           n_frames=n_frames, halo=ZINGER_SIZE // 2 + int(phase_halo),
                           phase_pad=int(phase_halo), extend_px=extend_px)

    c = None
    if block_rows is not None:
        b = max(1, min(int(block_rows), n_rows))
    else:
        b = 1
        while b < min(MAX_BLOCK_ROWS, n_rows) and cost(b + 1) <= budget:
            b += 1
        if cost(1) > budget and limit is not None:
            log.warning("memory limit %.2f GB: one row per task at %d angles x %d px needs "
                        "%.2f GB per thread (%d thread(s)); the run may exceed the limit: "
                        "raise it or use fewer threads/workers", limit / 1e9, n_angles,
                        n_detector, (cost(1) + base_bytes / threads) / 1e9, threads)
        mc = max(1, int(min_chunk_rows))
        if b < mc <= n_rows:
            # short blocks: several make one stored chunk of mc slices, if its slices fit too
            held = mc * n_out * n_out * 4
            for d in sorted((k for k in range(1, b + 1) if mc % k == 0), reverse=True):
                if threads * cost(d) + held <= budget_total:
                    b, c = d, mc
                    break
    if c is None:
        m = max(1, int(align_rows))
        if block_rows is None and b >= m:
            b = (b // m) * m
        # stored chunks: cubes whose z extent divides the block (ssbscope.ome.image_chunks),
        # so a block writes its own chunks and no chunk waits for two blocks
        c = _z_chunk(b)
        b = max(c, (b // c) * c)
    cr = max(1, min(int(center_rows), n_rows))
    # the centre search runs alone (before the blocks): the whole budget is its own
    plane = n_angles * n_detector

    def center_cost(r):  # read + correct (r + halo rows), find_center on 2 x 16 projections
        return (r + 2 + 2 * int(phase_halo)) * plane * (itemsize + 4 + 1) + 28 * plane + 32 * 2**20

    while limit is not None and cr > min(4, n_rows) and center_cost(cr) > budget_total:
        cr -= 1
    return StreamPlan(block_rows=int(b), chunk_rows=int(c), center_rows=int(cr),
                      threads=threads, budget_bytes=int(budget) if limit is not None else None,
                      block_bytes=int(cost(b)), tile_px=int(min(tile_px(c), n_out)))


# --------------------------------------------------------------------------- block tasks

def _halo_rows(r0, r1, n_rows, halo):
    a0, a1 = max(0, r0 - halo), min(n_rows, r1 + halo)
    return a0, a1, r0 - a0


def clean_rows(path, row_start: int, row_stop: int, *, n_rows: int, layout=None,
               zinger_threshold: float = 0.1, zinger_size: int = ZINGER_SIZE,
               bad_pixels: str = "raise",
               angle_block: int = 64, phase: dict | None = None,
               invariant_zingers: bool = False, zinger_polarity: str = "low",
               zinger_temporal: bool = True) -> np.ndarray:
    """Read, flat/dark-correct and de-zinger detector rows ``[row_start, row_stop)``.

    The rows are read with a halo of ``zinger_size // 2`` rows on each side (within the
    detector) so that the 3 x 3 zinger median sees the same neighbours as on the whole
    stack; the result is cropped to the requested rows.  Zingers are removed in blocks of
    ``angle_block`` projections, so no full-size temporary is made; each block is given the
    uncleaned projections just outside it (``remove_zingers`` ``before`` / ``after``), so
    the temporal test (a zinger must also stand out from the same pixel at the adjacent
    angles) sees the same neighbours as on the whole stack: the result equals
    ``remove_zingers`` on all angles at once.

    Parameters
    ----------
    path : str
        Projection file (opened here).
    row_start, row_stop : int
        Absolute detector rows.
    n_rows : int
        Detector rows of the file (limits the halo).
    layout : dict, optional
        ``{"data_path": ..., "image_key_path": ...}`` for NXtomo
        (:func:`ssbscope.tomo.io.read_projection_rows`); None for Data Exchange.
    phase : dict, optional
        Paganin phase retrieval after zinger removal: ``{"pixel_size_um", "distance_mm",
        "energy_kev", "delta_beta"}`` (numbers; :func:`ssbscope.tomo.phase.paganin_filter`).
        The rows are then read with :func:`ssbscope.tomo.phase.paganin_halo_px` more halo
        rows on each side (fewer at the detector's top and bottom, where the filter pads by
        reflection as on the whole projection).
    invariant_zingers : bool
        Look for zingers in the deviation of each projection from the rows' mean over all
        angles (the angle-invariant part added back unchanged; :func:`ssbscope.tomo.remove_zingers`
        ``angle_invariant``, the same option in memory).  :func:`reconstruct_rows` sets
        it for truncated scans: there the cell outside the field of view, the same at every
        angle, puts near-field fringes into the rows at each layer step (line integrals
        changing by up to ~0.5 from one row to the next at a coin cell's Li | polymer
        interface, 16-20 mm chords at 300 mm), which the 3 x 3 median's absolute threshold
        took for zingers (3 % of the pixels) and replaced by the median, in a pattern that
        follows the region's own structure.  Zingers (single frames) stand out of the
        deviation as they do of the projection.
    zinger_polarity, zinger_temporal : str, bool
        :func:`ssbscope.tomo.remove_zingers` ``polarity`` / ``temporal``: by default a
        zinger lowers ``-ln`` (``"low"``) and lies in one frame (``True``); ``"both", False``
        is the two-sided spatial rule used before 2026-12, which rewrote 1.8 % of the
        001_ twin's zinger-free pixels and moved its Cu | Li face +0.18 µm (see there).

    Returns
    -------
    (n_angles, row_stop - row_start, n_detector) ndarray of float32
        Line integrals ``-ln(I/I0)`` (with ``phase``: of the phase-retrieved transmission),
        zingers replaced.
    """
    from ssbscope.tomo.io import read_projection_rows
    from ssbscope.tomo.prep import flat_dark_correct, remove_zingers

    zh = int(zinger_size) // 2
    ph = _paganin_halo(phase)
    # the zinger median's halo rows beyond the Paganin halo keep the filter's input exact
    halo = zh + ph
    a0, a1, off = _halo_rows(int(row_start), int(row_stop), int(n_rows), halo)
    raw, fl, dk = read_projection_rows(path, a0, a1, **(layout or {}))
    p = flat_dark_correct(raw, fl, dk, dtype=np.float32, bad_pixels=bad_pixels)
    del raw, fl, dk
    if ph:
        from ssbscope.tomo.phase import paganin_filter

        # rows the filter sees: the Paganin halo around the block (the outer zinger halo rows
        # only served the median); at the detector's edges the filter pads as on the whole
        f0 = max(0, int(row_start) - ph) - a0
        f1 = min(int(n_rows), int(row_stop) + ph) - a0
    # the mean over all angles, not over the block (remove_zingers(angle_invariant=True) on
    # the whole stack in memory gives the same)
    inv = p.mean(axis=0, dtype=np.float64).astype(np.float32) if invariant_zingers else None
    n_a, ab = p.shape[0], int(angle_block)
    before = None  # the uncleaned projection before the block (the temporal test's neighbour)
    for s in range(0, n_a, ab):
        after = p[s + ab] if s + ab < n_a else None  # not yet cleaned
        blk = remove_zingers(p[s:s + ab], threshold=zinger_threshold, size=zinger_size,
                             polarity=zinger_polarity, temporal=zinger_temporal,
                             angular_mean=inv, before=before, after=after)
        before = p[min(s + ab, n_a) - 1].copy()
        if ph:
            t = np.exp(-blk[:, f0:f1, :])
            blk[:, f0:f1, :] = paganin_filter(t, pad_px=ph, **_phase_args(phase))
        p[s:s + ab] = blk
    n = int(row_stop) - int(row_start)
    if off == 0 and n == p.shape[1]:
        return p
    return np.ascontiguousarray(p[:, off:off + n, :])


def _remove_rings_rows(p):
    """Ring removal on each row's sinogram of a block, in place."""
    from ssbscope.tomo.prep import remove_rings

    for r in range(p.shape[1]):
        p[:, r, :] = remove_rings(p[:, r, :])
    return p


def reconstruct_rows(path, row_start: int, row_stop: int, *, n_rows: int, angles_rad,
                     center: float, scan: str = "180", layout=None,
                     zinger_threshold: float = 0.1, phase: dict | None = None,
                     truncated: bool = False, bad_pixels: str = "raise",
                     zinger_polarity: str = "low", zinger_temporal: bool = True) -> np.ndarray:
    """One block task: rows ``[row_start, row_stop)`` of a projection file -> slices.

    Reads (with a halo), corrects, removes zingers, optionally retrieves the phase
    (:func:`clean_rows`, ``phase``), removes rings per sinogram and reconstructs
    (:func:`ssbscope.tomo.reconstruct`; ``truncated``: sinograms extended before the ramp).
    ``zinger_*``: the zinger rule (:func:`clean_rows`).

    Returns
    -------
    (row_stop - row_start, n_out, n_out) ndarray of float32
        Attenuation per voxel (1/voxel).
    """
    from ssbscope.tomo.recon import reconstruct

    p = clean_rows(path, row_start, row_stop, n_rows=n_rows, layout=layout,
                   zinger_threshold=zinger_threshold, phase=phase, bad_pixels=bad_pixels,
                   invariant_zingers=bool(truncated), zinger_polarity=zinger_polarity,
                   zinger_temporal=zinger_temporal)
    _remove_rings_rows(p)
    ang = np.asarray(angles_rad, float)
    out = None
    for i in range(p.shape[1]):  # row by row: no slice's FBP result outlives its copy
        img = reconstruct(p[:, i:i + 1, :], ang, float(center), scan=scan,
                          truncated=bool(truncated))
        if out is None:
            out = np.empty((p.shape[1],) + img.shape[1:], np.float32)
        out[i] = img[0]
        del img
    return out


def center_and_sinogram(path, row_start: int, row_stop: int, *, n_rows: int, angles_rad,
                        scan: str = "180", middle: int, layout=None, search: bool = True,
                        zinger_threshold: float = 0.1, phase: dict | None = None,
                        bad_pixels: str = "raise", zinger_polarity: str = "low",
                        zinger_temporal: bool = True):
    """Centre search on rows ``[row_start, row_stop)`` and the cleaned sinogram of ``middle``.

    Parameters
    ----------
    middle : int
        Absolute detector row (within the rows) whose sinogram is returned after zinger and
        ring removal.
    search : bool
        False: only the sinogram (the centre is given); returns ``(None, sinogram)``.
    zinger_threshold, zinger_polarity, zinger_temporal
        The zinger rule (:func:`clean_rows`).

    Returns
    -------
    center : float or None
        :func:`ssbscope.tomo.find_center` on the corrected, de-zingered rows (before ring
        removal, as its docstring asks).
    sinogram : (n_angles, n_detector) ndarray of float32
    """
    from ssbscope.tomo.center import find_center
    from ssbscope.tomo.prep import remove_rings

    p = clean_rows(path, row_start, row_stop, n_rows=n_rows, layout=layout,
                   zinger_threshold=zinger_threshold, phase=phase, bad_pixels=bad_pixels,
                   zinger_polarity=zinger_polarity, zinger_temporal=zinger_temporal)
    c = float(find_center(p, np.asarray(angles_rad, float), scan=scan)) if search else None
    sino = remove_rings(p[:, int(middle) - int(row_start), :])
    return c, np.asarray(sino, np.float32)


# --------------------------------------------------------------------------- the lazy volume

@dataclass(frozen=True)
class StreamedScan:
    """A scan reconstructed lazily (:func:`stream_reconstruct`).

    Attributes
    ----------
    volume : (n_z, n_out, n_out) dask.array.Array of float32
        Chunks of ``(chunk_rows, tile_px, tile_px)`` (:class:`StreamPlan`), the stored
        chunks; computing a chunk runs its block's task.  Attenuation per voxel (1/voxel).
    sinogram : (n_angles, n_detector) ndarray of float32
        The middle row's ``-ln(I/I0)`` after zinger and ring removal.
    angles_rad : (n_angles,) ndarray
    center_px : float
        Rotation axis on the detector (px): given, or searched on ``plan.center_rows`` rows.
    center_rows : (int, int) or None
        Detector rows ``[start, stop)`` of the centre search (None when given).
    plan : StreamPlan
    metadata : dict
        From :func:`ssbscope.tomo.read_projections`.
    format : str
    phase : dict or None
        The Paganin parameters applied (numbers: pixel_size_um, distance_mm, energy_kev,
        delta_beta, and halo_px, kernel_width_px), or None.
    truncated : bool
        Whether the sinograms were extended before the ramp filter (truncated scan).
    """

    volume: object
    sinogram: np.ndarray
    angles_rad: np.ndarray
    center_px: float
    center_rows: tuple | None
    plan: StreamPlan
    metadata: dict = field(default_factory=dict)
    format: str = ""
    phase: dict | None = None
    truncated: bool = False


def _out_side(n_d, center, scan):
    if scan == "360-offset":
        return 2 * int(np.floor(max(center, n_d - 1 - center))) + 1
    return int(n_d)


def stream_reconstruct(path, *, angles_deg=None, rows=None, center_px=None, scan: str = "180",
                       memory_limit_bytes=None, threads=None, block_rows=None,
                       center_rows: int = 16, fraction=None, phase: dict | None = None,
                       truncated="auto", bad_pixels: str = "raise",
                       zingers: dict | None = None, progress: str | None = None) -> StreamedScan:
    """Reconstruct a projection file lazily, in blocks of detector rows (see the module doc).

    Parameters
    ----------
    path : str or Path
        Data Exchange or NXtomo HDF5 file.
    angles_deg : (start, stop) or array, optional
        Angles when the file has none (:func:`ssbscope.tomo.read_projections`).
    rows : (int, int), optional
        Detector rows ``[start, stop)`` to reconstruct (default all).
    center_px : float, optional
        Rotation axis (px); searched when None.
    scan : {"180", "360-offset"}
    memory_limit_bytes : int, optional
        Memory one process running blocks may use; default: the active
        ``dask.distributed`` workers' limit, else DEFAULT_LIMIT_BYTES (4 GB).
    threads : int, optional
        Blocks running at once per process (default from the active scheduler).
    block_rows : int, optional
        Forces the rows per block.
    center_rows : int
        Rows around the middle for the centre search (fewer if the memory limit needs it).
    fraction : float, optional
        Part of the limit the process may fill (default 0.8: Dask workers pause at 80 % of
        their limit; :func:`block_bytes` is an upper bound of a block's peak).
    phase : dict, optional
        Paganin phase retrieval (:func:`clean_rows`): ``{"distance_mm", "delta_beta",
        "energy_kev", "pixel_size_um"}`` as numbers; ``energy_kev`` / ``pixel_size_um`` may
        be None or absent, then they come from the file's metadata (Data Exchange
        ``/measurement/instrument/monochromator/energy``, the detector pixel size), else an
        InputError (``energy_kev_default``, if given, is used before that error: the input's
        own energy).  ``delta_beta`` may be ``{"material", "density_g_cm3"}``
        (:func:`ssbscope.tomo.phase.resolve_delta_beta` at the energy).
    truncated : {"auto", True, False}
        Extend the sinograms before the ramp filter (region-of-interest scan); ``"auto"``:
        when the middle sinogram's edges attenuate (:func:`ssbscope.tomo.roi.detect_truncation`).
        Decided before the blocks are planned: only a truncated scan's plan reserves the
        extended sinogram's FBP work arrays.
    bad_pixels : {"raise", "mask"}
        Detector pixels with flat <= dark (dead pixels): refused, or interpolated from their
        row neighbours (:func:`ssbscope.tomo.flat_dark_correct`).
    zingers : dict, optional
        The zinger rule, ``{"threshold", "polarity", "temporal"}`` (any of them; defaults
        0.1, ``"low"``, True: :func:`clean_rows`, :class:`ssbscope.config.ZingerRule`).
    progress : str, optional
        Label of inner progress over the row blocks while the volume is computed (by whoever
        computes it, e.g. the store's write): a bar on a terminal, a plain ``label: k/N`` line
        at most every :data:`ssbscope.progress.INNER_INTERVAL_S` s elsewhere
        (:func:`watch_blocks`; local schedulers).  Default None: silent.

    Returns
    -------
    StreamedScan
        The centre search and the middle sinogram are computed here (as one task of the
        active scheduler); the volume is lazy.

    Raises
    ------
    FileFormatError, InputError
        As :func:`ssbscope.tomo.read_projections`; ``rows`` outside the detector.
    """
    import dask
    import dask.array as da

    from ssbscope.ome import pyramid_factor
    from ssbscope.tomo.io import read_projections

    path = str(path)
    zr = _zinger_args(zingers)
    pd_ = read_projections(path, angles_deg=angles_deg, load_fields=False)
    n_a, n_r_all, n_d = (int(x) for x in pd_.projections.shape)
    md = dict(pd_.metadata) if isinstance(pd_.metadata, dict) else {}
    layout = ({"data_path": md["data"], "image_key_path": md["image_key"]}
              if pd_.format == "nxtomo" else None)
    r_start, r_stop = (0, n_r_all) if rows is None else (int(rows[0]), int(rows[1]))
    if not (0 <= r_start < r_stop <= n_r_all):
        raise InputError(f"rows: [{r_start}, {r_stop}) is outside the detector's {n_r_all} rows "
                         f"of {path}; give 0 <= start < stop <= {n_r_all}")
    n_rows = r_stop - r_start
    ang = np.asarray(pd_.angles_rad, float)
    itemsize = int(np.dtype(pd_.projections.dtype).itemsize)
    n_frames = int(pd_.flats.shape[0] + pd_.darks.shape[0])
    mem_w, thr_w, n_w = scheduler_resources()
    distributed = n_w > 1 or mem_w is not None
    limit = memory_limit_bytes if memory_limit_bytes is not None else mem_w
    if memory_limit_bytes is not None and mem_w is not None:
        limit = min(int(memory_limit_bytes), int(mem_w))
    thr = int(threads) if threads is not None else thr_w
    frac = fraction if fraction is not None else 0.8
    phase = _resolve_phase(phase, md, path)
    ph = _paganin_halo(phase)
    if truncated not in ("auto", True, False):
        raise ParameterError("truncated", truncated, "must be 'auto', True or False")
    # the output side depends on the centre only for 360-offset scans (plan with the widest)
    n_plan = (2 * n_d - 1) if scan == "360-offset" else n_d

    def _plan(extend):
        return plan_blocks(n_rows, n_a, n_d, memory_limit_bytes=limit, threads=thr,
                           n_out=n_plan, itemsize=itemsize, n_frames=n_frames,
                           center_rows=center_rows, block_rows=block_rows, fraction=frac,
                           phase_halo=ph, extend_px=extend,
                           align_rows=pyramid_factor((n_rows, n_d, n_d)))

    # the centre search's rows do not depend on the extension; the blocks' plan waits for
    # the truncation decision (made on the centre search's middle sinogram)
    plan = _plan(0)
    mid = r_start + n_rows // 2
    search = center_px is None
    if search:
        c0 = max(r_start, min(mid - plan.center_rows // 2, r_stop - plan.center_rows))
        c_rows = (c0, c0 + plan.center_rows)
    else:
        c_rows = (mid, mid + 1)
    task = dask.delayed(center_and_sinogram, pure=True)(
        path, c_rows[0], c_rows[1], n_rows=n_r_all, angles_rad=ang, scan=scan, middle=mid,
        layout=layout, search=search, phase=phase, bad_pixels=bad_pixels, **zr)
    c_found, sino = dask.compute(task)[0]
    center = float(center_px) if center_px is not None else float(c_found)
    if truncated == "auto":
        trunc = auto_truncated(sino, ang, center, scan)
        if trunc:
            log.info("tomo stream %s: the middle sinogram's edges attenuate (truncated "
                     "scan): sinograms are extended before the ramp filter", path)
    else:
        trunc = bool(truncated)
    if trunc:  # each row's extension is at most the (stitched) detector width per side
        plan = _plan(n_plan)
    n_out = _out_side(n_d, center, scan)
    log.info("tomo stream %s: %d rows in blocks of %d (%d thread(s)%s, ~%.2f GB per block), "
             "centre %.2f px%s", path, n_rows, plan.block_rows, plan.threads,
             f", {n_w} workers" if distributed else "", plan.block_bytes / 1e9, center,
             f" from rows {c_rows[0]}-{c_rows[1] - 1}" if search else " (given)")
    mtime = os.stat(path).st_mtime_ns
    # the scan's tag, in letters: it survives in the names of fused tasks (dask keeps the
    # alphabetic words of a key), so the blocks can be counted as they finish (watch_blocks)
    tag = "".join(chr(97 + int(c, 16)) for c in dask.base.tokenize(
        path, mtime, r_start, r_stop, plan.block_rows, ang, center, scan, layout, phase, trunc,
        bad_pixels, sorted(zr.items()))[:16])
    blocks = []
    for b0 in range(r_start, r_stop, plan.block_rows):
        b1 = min(r_stop, b0 + plan.block_rows)
        name = f"ssbscope-recon-{tag}-" + dask.base.tokenize(path, mtime, b0, b1, ang, center, scan,
                                                             layout, phase, trunc, bad_pixels,
                                                             sorted(zr.items()))
        d = dask.delayed(reconstruct_rows, pure=True)(
            path, b0, b1, n_rows=n_r_all, angles_rad=ang, center=center, scan=scan,
            layout=layout, phase=phase, truncated=trunc, bad_pixels=bad_pixels, **zr,
            dask_key_name=name)
        blocks.append(da.from_delayed(d, shape=(b1 - b0, n_out, n_out), dtype=np.float32))
    vol = da.concatenate(blocks, axis=0)
    if progress:
        from ssbscope.progress import _default_client

        if _default_client() is None:  # local schedulers (their callbacks count the blocks)
            watch_blocks(f"ssbscope-recon-{tag}", len(blocks), progress)
    # cube chunks (ssbscope.ome.image_chunks): a block split into (chunk_rows, tile, tile)
    t = min(plan.tile_px or n_out, n_out)
    if plan.chunk_rows != plan.block_rows or t < n_out:
        vol = vol.rechunk((plan.chunk_rows, t, t))
    return StreamedScan(volume=vol, sinogram=sino, angles_rad=ang, center_px=center,
                        center_rows=c_rows if search else None, plan=plan, metadata=md,
                        format=pd_.format,
                        phase=None if phase is None else {
                            **phase, "halo_px": ph, "kernel_width_px": _kernel_px(phase)},
                        truncated=trunc)


def watch_blocks(tag: str, n_blocks: int, desc: str, stream=None) -> None:
    """Report the row blocks of one scan as they finish, in whichever ``dask.compute``
    computes them next (the store's write of the lazy volume).

    The counting is :mod:`ssbscope.progress`'s (a tqdm bar on a terminal, a plain
    ``desc: k/N`` line at most every ``INNER_INTERVAL_S`` seconds elsewhere), driven by a
    :class:`dask.callbacks.Callback` of the local schedulers: registered now, it counts each
    finished task whose key holds ``tag`` (one per block: the block's own task, or the task
    dask fused it into) and removes itself when the compute that ran them finishes.  Nothing
    is scheduled or computed here; on a ``dask.distributed`` client the blocks run on the
    workers and are not counted.

    Parameters
    ----------
    tag : str
        Part of the blocks' task names (``ssbscope-recon-<letters>``).
    n_blocks : int
        Number of blocks (N).
    desc : str
        Label of the progress lines.
    stream : file, optional
        Where to write (default: stderr at the start of the compute).
    """
    import sys

    from dask.callbacks import Callback

    from ssbscope.progress import _Ticker

    state = {"tick": None, "seen": set(), "done": False}

    def ours(dsk):
        return any(tag in str(k) for k in dsk)

    def _start(dsk):
        if state["tick"] is None and not state["done"] and ours(dsk):
            state["tick"] = _Ticker(desc, int(n_blocks), sys.stderr if stream is None else stream)

    def _posttask(key, result, dsk, st, worker_id):
        tick = state["tick"]
        if tick is not None and tag in str(key) and str(key) not in state["seen"]:
            state["seen"].add(str(key))
            tick.update()

    def _finish(dsk, st, errored):  # the compute that ran the blocks (not one nested in a task)
        if state["tick"] is not None and ours(dsk):
            state["tick"].close()
            state["tick"], state["done"] = None, True  # a later compute of them is not counted
            # dask swaps the registered set out while it computes and puts the same set back
            # after: removed from that set (Callback.unregister here would find it empty)
            registered.discard(cb._callback)

    cb = Callback(start=_start, posttask=_posttask, finish=_finish)
    cb.register()
    registered = Callback.active


def _zinger_args(zingers) -> dict:
    """``clean_rows`` keyword arguments of a zinger rule ``{"threshold", "polarity",
    "temporal"}`` (None or missing keys: the defaults)."""
    z = dict(zingers or {})
    unknown = set(z) - {"threshold", "polarity", "temporal"}
    if unknown:
        raise ParameterError("zingers", sorted(unknown),
                             "keys must be threshold, polarity and temporal")
    return {"zinger_threshold": float(z.get("threshold", 0.1)),
            "zinger_polarity": str(z.get("polarity", "low")),
            "zinger_temporal": bool(z.get("temporal", True))}


def auto_truncated(sinogram, angles_rad, center: float, scan: str = "180") -> bool:
    """``truncated: auto``: do the sinogram's edges attenuate?

    :func:`ssbscope.tomo.roi.detect_truncation` on the sinogram, stitched first for a
    ``"360-offset"`` scan (whose raw projections end at the rotation axis on one side).
    """
    from ssbscope.tomo.roi import detect_truncation

    s = np.asarray(sinogram, np.float32)
    if scan == "360-offset":
        from ssbscope.tomo.recon import stitch_360

        s = stitch_360(s, np.asarray(angles_rad, float), float(center))[0]
    return detect_truncation(s)


def _kernel_px(phase) -> float:
    from ssbscope.tomo.phase import paganin_kernel_width_px

    return float(paganin_kernel_width_px(**_phase_args(phase)))


def _resolve_phase(phase, md, path):
    """Numbers for the Paganin filter: energy and pixel size from the file when not given."""
    if phase is None:
        return None
    from ssbscope.tomo.phase import resolve_delta_beta

    e = phase.get("energy_kev")
    if e is None:
        e = md.get("energy_kev")
    if e is None:
        e = phase.get("energy_kev_default")
    if e is None:
        raise InputError(f"phase retrieval: {path} records no beam energy (Data Exchange "
                         "/measurement/instrument/monochromator/energy) and none is given; "
                         "give phase_retrieval.energy_kev (keV)")
    px = phase.get("pixel_size_um")
    if px is None:
        px = md.get("pixel_size_um")
    if px is None:
        raise InputError(f"phase retrieval: {path} records no pixel size; give voxel_size_um")
    db = resolve_delta_beta(phase["delta_beta"], float(e))
    return {"pixel_size_um": float(px), "distance_mm": float(phase["distance_mm"]),
            "energy_kev": float(e), "delta_beta": float(db)}
