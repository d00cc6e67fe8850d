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

__all__ = ["open_tiff", "check_declared_sizes"]

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
            check_declared_sizes(tf, path)
            yield tf
        ok = True
    finally:
        tl.removeFilter(coll)
        if ok:
            for m in dict.fromkeys(coll.messages):
                log.warning("%s: %s", Path(path).name, m)


#: largest uncompressed / file size ratio believed of a compressed page (real detector images
#: compress 2-10x; deflate tops out near 1030x on an all-zero page, zstd can go further)
MAX_COMPRESSION_RATIO = 10_000


def check_declared_sizes(tf, path) -> None:
    """Refuse pages whose tags declare more pixel data than the file can hold.

    A damaged (or hostile) TIFF of a few hundred bytes can declare a 15-million-row image:
    tifffile would allocate gigabytes and spend minutes filling them with zeros.  An
    uncompressed page cannot hold more bytes than the file has; a compressed one not more than
    :data:`MAX_COMPRESSION_RATIO` times that.  A chain of image directories longer than the
    file could hold (a damaged offset pointing back) is refused too: tifffile walks it forever.

    Raises
    ------
    ssbscope.errors.FileFormatError
        Naming the page, its declared shape and the file size.
    """
    import os

    import numpy as np

    from ssbscope.errors import FileFormatError

    size = os.path.getsize(path)
    max_pages = size // 18 + 1  # an image directory takes at least 18 bytes
    for k, pg in enumerate(tf.pages):
        if k >= max_pages:  # a damaged next-directory offset that points back: an endless chain
            raise FileFormatError(path, f"its chain of image directories runs past {max_pages} pages, "
                                  f"more than a {size:,}-byte file can hold (a loop)",
                                  "the file is damaged; copy it again")
        dtype = getattr(pg, "dtype", None)
        shape = tuple(getattr(pg, "shape", ()) or ())
        if dtype is None or not shape:
            continue
        bits = int(getattr(pg, "bitspersample", 0) or 8 * np.dtype(dtype).itemsize)  # 1 for bilevel
        nbytes = int(np.prod(np.array(shape, dtype=object))) * bits // 8
        compressed = int(getattr(pg, "compression", 1)) != 1
        limit = size * (MAX_COMPRESSION_RATIO if compressed else 1)
        if nbytes > limit:
            raise FileFormatError(path, f"page {k} declares a {' x '.join(map(str, shape))} image of "
                                  f"{np.dtype(dtype)} ({nbytes:,} bytes), more than the file's "
                                  f"{size:,} bytes can hold{' compressed' if compressed else ''}",
                                  "the file is damaged or cut short; copy it again")
