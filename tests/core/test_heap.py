"""ssbscope.heap: glibc's mmap threshold fixed for the chunked paths, unless the user tuned
the heap; trimming is harmless anywhere."""

import ctypes

import pytest

from ssbscope import heap


def _glibc():
    try:
        return hasattr(ctypes.CDLL("libc.so.6"), "mallopt")
    except OSError:
        return False


def test_user_tuning_is_left_alone(monkeypatch):
    monkeypatch.setattr(heap, "_applied", None)
    monkeypatch.setenv("MALLOC_TRIM_THRESHOLD_", "65536")  # e.g. distributed's workers
    assert heap.limit_heap_retention() is False
    monkeypatch.delenv("MALLOC_TRIM_THRESHOLD_")
    monkeypatch.setenv("GLIBC_TUNABLES", "glibc.malloc.mmap_threshold=262144")
    assert heap.limit_heap_retention() is False
    assert heap._applied is None


@pytest.mark.skipif(not _glibc(), reason="glibc only")
def test_threshold_is_set_once(monkeypatch):
    for v in heap._USER_VARS + ("GLIBC_TUNABLES",):
        monkeypatch.delenv(v, raising=False)
    assert heap.limit_heap_retention() is True
    assert heap._applied == (heap.MMAP_THRESHOLD_BYTES, heap.TRIM_THRESHOLD_BYTES)
    assert heap.limit_heap_retention() is True  # idempotent
    assert isinstance(heap.trim_heap(), bool)
