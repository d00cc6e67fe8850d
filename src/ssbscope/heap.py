"""The C heap of the bounded-memory (chunked) paths: arrays freed go back to the system.

glibc's ``malloc`` serves an allocation of at least ``M_MMAP_THRESHOLD`` bytes with its own
``mmap`` (unmapped when freed) and smaller ones from its arenas (one per thread that
allocates, up to 8 per core), which keep freed memory for reuse.  The threshold starts at
128 KiB but rises to the size of every mmapped block freed, up to 32 MiB: after the first
slab of a chunked analysis is freed, every array below 32 MiB -- a 1024 x 1024 slice, the
temporaries of a per-slice loop, a thin slab -- comes from the arenas of Dask's worker
threads, and what those threads freed stays resident.  Measured with
``benchmarks/bench_series_memory.py --trace`` on 2 x 256^3 (``--memory-limit 4GB``): after
the chunked series analysis the process held 0.81 GB against 0.24 GB before it, 0.46 GB of
it freed but kept by the arenas (live Python and NumPy objects: 0.07 GB, tracemalloc;
``malloc_trim(0)`` returned only 0.14 GB of it), and the analysis peaked at 1.15 GB; with a
fixed 1 MiB threshold it held 0.36 GB (0.18 GB before) and peaked at 0.72 GB.

:func:`limit_heap_retention` fixes the threshold at :data:`MMAP_THRESHOLD_BYTES` (which stops
its rise), :func:`trim_heap` returns the arenas' free pages between steps.  Both are no-ops
off glibc, and :func:`limit_heap_retention` leaves the heap alone when the user tuned it
(``MALLOC_*_`` variables or ``GLIBC_TUNABLES`` with ``glibc.malloc``).  Dask's distributed
workers are started with ``MALLOC_TRIM_THRESHOLD_`` set, which stops the rise too.
"""

from __future__ import annotations

import ctypes
import logging
import os

__all__ = ["MMAP_THRESHOLD_BYTES", "limit_heap_retention", "trim_heap"]

log = logging.getLogger(__name__)

#: Allocations of at least this many bytes are mmapped once :func:`limit_heap_retention`
#: ran (glibc's default before its dynamic rise is 128 KiB; distributed's workers keep that).
MMAP_THRESHOLD_BYTES = 1 << 20
# mallopt parameters (malloc.h)
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
_USER_VARS = ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_", "MALLOC_TOP_PAD_",
              "MALLOC_MMAP_MAX_")

_libc = None
_applied: int | None = None


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


def limit_heap_retention(threshold_bytes: int = MMAP_THRESHOLD_BYTES) -> bool:
    """Fix glibc's mmap threshold at ``threshold_bytes`` for this process (once).

    Arrays of that size or more are then mapped on their own and returned to the system when
    freed, whichever thread freed them, instead of staying in the threads' arenas; the trim
    threshold (free memory at the top of a heap given back at once) is set to twice it, the
    ratio glibc's own rise keeps.

    Parameters
    ----------
    threshold_bytes : int
        Bytes; default :data:`MMAP_THRESHOLD_BYTES` (1 MiB).

    Returns
    -------
    bool
        True when this process's heap runs with the threshold (set now or before), False off
        glibc or when the user tuned the heap (``MALLOC_*_`` / ``GLIBC_TUNABLES``).
    """
    global _applied
    thr = int(threshold_bytes)
    if _applied == thr:
        return True
    lib = _glibc()
    if lib is None or _user_tuned():
        return False
    ok = bool(lib.mallopt(_M_MMAP_THRESHOLD, thr)) and \
        bool(lib.mallopt(_M_TRIM_THRESHOLD, 2 * thr))
    if ok:
        _applied = thr
        log.debug("glibc heap: mmap threshold %d bytes, trim threshold %d", thr, 2 * thr)
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
