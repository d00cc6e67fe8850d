"""Input paths of every modality: a file, a folder, or a glob pattern, expanded one way.

Tomography, neutron and any other multi-file input share :func:`expand_inputs`, so that
``proj/*.tif``, ``flats/`` and ``scan.h5`` mean the same everywhere: a folder gives its files
with the wanted extensions, a pattern (``*``, ``?``, ``[``) its matches, in natural order
(``img2`` before ``img10``).
"""

from __future__ import annotations

import glob
import os
import re
from pathlib import Path

from ssbscope.errors import FileFormatError

__all__ = ["expand_inputs", "is_pattern", "natural_key", "single_match"]


def natural_key(p: Path):
    """Sort key: digit runs compared as numbers (``a2`` < ``a10``)."""
    return [int(s) if s.isdigit() else s.lower() for s in re.split(r"(\d+)", Path(p).name)]


def is_pattern(spec) -> bool:
    """Whether ``spec`` is a glob pattern."""
    return isinstance(spec, (str, os.PathLike)) and any(ch in str(spec) for ch in "*?[")


def special_file(p) -> bool:
    """Whether ``p`` exists and is neither a regular file nor a folder (a FIFO, device or
    socket: reading it would block or never end).  Only ``stat`` is called, nothing opened."""
    import stat as _stat

    try:
        m = os.stat(p).st_mode
    except OSError:
        return False
    return not (_stat.S_ISREG(m) or _stat.S_ISDIR(m))


def expand_inputs(spec, *, exts: tuple[str, ...] | None = None, base=None, sort: bool = True,
                  what: str = "file") -> list[Path]:
    """Files named by ``spec``: a path, a folder, a glob pattern, or a sequence of paths.

    Parameters
    ----------
    spec : path-like, str or sequence
        File, folder (its files ending in ``exts``), glob pattern, or explicit list.
    exts : tuple of str, optional
        Lower-case suffixes a folder's files must have (default: every file).
    base : path-like, optional
        Folder relative paths and patterns are taken from.
    sort : bool
        Natural sort (default); False keeps the order of an explicit list / the glob.
    what : str
        What the files are, for the messages (e.g. "FITS/TIFF file").

    Raises
    ------
    FileFormatError
        Nothing matches, or a named file does not exist / is not a regular file.
    """
    def rel(s):
        q = Path(s)
        return q if base is None or q.is_absolute() else Path(base) / q

    if isinstance(spec, (str, os.PathLike)):
        p = rel(spec)
        if is_pattern(spec):
            hits = [Path(q) for q in glob.glob(str(p))]
        elif p.is_dir():
            hits = [q for q in p.iterdir() if exts is None or q.name.lower().endswith(exts)]
        else:
            hits = None
        if hits is None:
            files = [p]
        else:
            # a FIFO, device or socket among the matches is refused as when named directly (its
            # read would hang or never end); a sub-folder is not a file of the series: skipped
            for q in hits:
                if special_file(q):
                    raise FileFormatError(q, f"is a FIFO, device or special file matched by {spec!s}, "
                                          "not a data file", "remove it or narrow the pattern")
            files = [q for q in hits if q.is_file()]
    else:
        files = [rel(q) for q in spec]
    if not files:
        raise FileFormatError(spec, f"matches no {what}", "check the path or pattern")
    for f in files:
        if not f.is_file():
            raise FileFormatError(f, "does not exist" if not f.exists() else "is not a regular file",
                                  "check the path")
    return sorted(files, key=natural_key) if sort else files


def single_match(resolved) -> str:
    """A resolved input path; a glob pattern that matches exactly one file becomes that file
    (inputs read as one file, e.g. one XCS exposure). Anything else is returned unchanged, for
    the reader to report (``ssbscope validate`` refuses a pattern matching several files
    where one file is read)."""
    s = str(resolved)
    if is_pattern(s):
        hits = [q for q in glob.glob(s) if os.path.isfile(q)]
        if len(hits) == 1:
            return hits[0]
    return s
