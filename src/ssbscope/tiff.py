"""TIFF opening shared by the readers: tifffile's own log lines become ours.

tifffile reports what it finds wrong in a file (a page offset past the end, a file with no
pages) through the ``tifffile`` logger, before the reader can say anything.  A user then saw
tifffile's line on stderr and, right after it, ssbscope's one-line error about the same file.
:func:`open_tiff` keeps tifffile's messages for the file being opened: when the reader raises
its own error they are dropped (that error says what is wrong and what to do); when the file
reads, each is logged once by ssbscope with the file's name.
"""

from __future__ import annotations

import logging
import threading
from contextlib import contextmanager
from pathlib import Path

__all__ = ["open_tiff"]

log = logging.getLogger("ssbscope.tiff")


class _Collect(logging.Filter):
    """Takes tifffile's records of one thread out of the normal log path."""

    def __init__(self):
        super().__init__()
        self.thread = threading.get_ident()
        self.messages: list[str] = []

    def filter(self, record):  # noqa: A003 - logging's name
        if record.thread != self.thread:
            return True
        self.messages.append(record.getMessage())
        return False


@contextmanager
def open_tiff(path):
    """``tifffile.TiffFile(path)`` whose log messages name the file or vanish with an error.

    Parameters
    ----------
    path : str or Path
        The TIFF file.

    Yields
    ------
    tifffile.TiffFile
        The open file (closed on exit).  Exceptions (tifffile's or the caller's) pass
        through unchanged; tifffile's messages are then not shown.
    """
    import tifffile

    tl = logging.getLogger("tifffile")
    coll = _Collect()
    tl.addFilter(coll)
    ok = False
    try:
        with tifffile.TiffFile(path) as tf:
            yield tf
        ok = True
    finally:
        tl.removeFilter(coll)
        if ok:
            for m in dict.fromkeys(coll.messages):
                log.warning("%s: %s", Path(path).name, m)
