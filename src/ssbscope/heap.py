"""The C heap of the bounded-memory (chunked) paths: freed slabs go back to the system.

glibc's ``malloc`` serves an allocation of at least ``M_MMAP_THRESHOLD`` bytes with its own
``mmap`` (unmapped when freed) and smaller ones from its arenas (one per thread that
allocates, up to 8 per core), which keep freed memory for reuse; the free memory at the top
of an arena goes back once it exceeds ``M_TRIM_THRESHOLD``.  Both thresholds rise as the
process frees large blocks, to 32 and 64 MiB: after the first slabs of a chunked analysis
every array below 32 MiB (a 1024 x 1024 slice, a thin slab, the temporaries of a per-slice
loop) comes from the arenas of Dask's worker threads, each arena keeps up to 64 MiB at its
top, and ``malloc_trim`` returns the free chunks inside the arenas but not the tops of the
threads' arenas.

:func:`limit_heap_retention` fixes the thresholds at :data:`MMAP_THRESHOLD_BYTES` and
:data:`TRIM_THRESHOLD_BYTES` (which stops their rise), :func:`trim_heap` returns the arenas'
free chunks between steps.  Measured with ``benchmarks/bench_series_memory.py --trace`` on
2 x 256^3 in slabs of 16 slices (``--memory-limit 256MB``, the slabs of 4 x 1024^3 at 4 GB),
RSS 0.24 GB before the analysis (2 cores, loaded; CPU-s of the analysis):

=================================  ===========  ==================  ======
heap                               peak RSS GB  held after, GB [1]  CPU-s
=================================  ===========  ==================  ======
glibc's default (rising)           0.67-0.68    0.38                35.9
8 / 16 MiB, trimmed per scan       0.57         0.25                32.9
4 / 32 MiB, trimmed per scan       0.58         0.29                33.2
16 / 16 MiB, trimmed per scan      0.59         0.26                33.3
1 / 2 MiB, trimmed per scan        0.46-0.48    0.14                42.5-51.8
=================================  ===========  ==================  ======

.. [1] RSS after the analysis (garbage collected) less RSS before it; live Python and NumPy
   objects (tracemalloc) 0.07 GB of it.

A small trim threshold (1-2 MiB, or 128 KiB as ``MALLOC_MMAP_THRESHOLD_`` leaves it) keeps
the least, but shrinks and regrows the arenas' tops on nearly every slab: +3 to +4 times the
system time (page faults).  Both functions are no-ops off glibc, and
:func:`limit_heap_retention` leaves the heap alone when the user tuned it (``MALLOC_*_``
variables or ``GLIBC_TUNABLES`` with ``glibc.malloc``; Dask's distributed workers are started
with ``MALLOC_TRIM_THRESHOLD_``).
"""

from __future__ import annotations

import ctypes
import logging
import os

__all__ = ["MMAP_THRESHOLD_BYTES", "TRIM_THRESHOLD_BYTES", "limit_heap_retention",
           "trim_heap"]

log = logging.getLogger(__name__)

#: Allocations of at least this many bytes are mmapped once :func:`limit_heap_retention`
#: ran (glibc's: 128 KiB rising to 32 MiB).
MMAP_THRESHOLD_BYTES = 8 << 20
#: Free memory at the top of an arena beyond this goes back to the system at once
#: (glibc's: 128 KiB rising to 64 MiB).
TRIM_THRESHOLD_BYTES = 16 << 20
# mallopt parameters (malloc.h)
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
_USER_VARS = ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_", "MALLOC_TOP_PAD_",
              "MALLOC_MMAP_MAX_")

_libc = None
_applied: tuple | None = None


def _glibc():
    """glibc (``mallopt`` and ``malloc_trim``), or None elsewhere."""
    global _libc
    if _libc is None:
        try:
            lib = ctypes.CDLL("libc.so.6")
            lib.mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
            lib.malloc_trim.argtypes = [ctypes.c_size_t]
            _libc = lib
        except (OSError, AttributeError):
            _libc = False
    return _libc or None


def _user_tuned() -> bool:
    return any(v in os.environ for v in _USER_VARS) or \
        "glibc.malloc" in os.environ.get("GLIBC_TUNABLES", "")


def limit_heap_retention(threshold_bytes: int = MMAP_THRESHOLD_BYTES,
                         trim_threshold_bytes: int = TRIM_THRESHOLD_BYTES) -> bool:
    """Fix glibc's mmap and trim thresholds for this process (once).

    Arrays of ``threshold_bytes`` or more are then mapped on their own and returned to the
    system when freed, whichever thread freed them, and an arena keeps at most
    ``trim_threshold_bytes`` free at its top, instead of the 32 and 64 MiB the thresholds
    rise to.

    Parameters
    ----------
    threshold_bytes : int
        Bytes; default :data:`MMAP_THRESHOLD_BYTES` (8 MiB).
    trim_threshold_bytes : int
        Bytes; default :data:`TRIM_THRESHOLD_BYTES` (16 MiB).

    Returns
    -------
    bool
        True when this process's heap runs with the thresholds (set now or before), False off
        glibc or when the user tuned the heap (``MALLOC_*_`` / ``GLIBC_TUNABLES``).
    """
    global _applied
    thr, trim = int(threshold_bytes), int(trim_threshold_bytes)
    if _applied == (thr, trim):
        return True
    lib = _glibc()
    if lib is None or _user_tuned():
        return False
    ok = bool(lib.mallopt(_M_MMAP_THRESHOLD, thr)) and bool(lib.mallopt(_M_TRIM_THRESHOLD,
                                                                         trim))
    if ok:
        _applied = (thr, trim)
        log.debug("glibc heap: mmap threshold %d bytes, trim threshold %d", thr, trim)
    return ok


def trim_heap() -> bool:
    """``malloc_trim(0)``: the free pages of every glibc arena back to the system.

    Returns
    -------
    bool
        True when memory was returned; False off glibc or when there was none.
    """
    lib = _glibc()
    return bool(lib.malloc_trim(0)) if lib is not None else False
