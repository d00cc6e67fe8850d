"""Helpers for tests and examples that read the real instrument files.

The real files (potentiostat logs, CT projections and volumes, neutron FITS, HEXITEC streams)
live outside the package, in ``shared/realdata`` beside a checkout.  :func:`realdata_dir`
finds that folder the same way for every test module, and lets a user point the suite at a
copy elsewhere with the ``SSBSCOPE_REALDATA`` environment variable.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["REALDATA_ENV", "realdata_dir"]

#: Environment variable naming the real-data folder (the one holding ``potentiostat/``,
#: ``ct_volume/``, ``neutron/``, ``hexitec/``, ...).
REALDATA_ENV = "SSBSCOPE_REALDATA"


def _candidates():
    env = os.environ.get(REALDATA_ENV)
    if env:
        yield Path(env).expanduser()
        return
    seen = set()
    for start in (Path.cwd(), Path(__file__).resolve().parent):
        for anc in (start, *start.parents):
            if anc in seen:
                continue
            seen.add(anc)
            yield anc / "shared" / "realdata"


def realdata_dir(*parts: str) -> Path:
    """Path of the real-data folder (or of ``parts`` inside it).

    Resolution order: ``$SSBSCOPE_REALDATA`` when set (used as given, even if missing, so a
    wrong setting shows up as skipped tests naming it); otherwise the first
    ``<ancestor>/shared/realdata`` folder above the working directory or above this package
    (a checkout sitting beside ``shared/``).  When nothing is found the path returned is the
    first candidate, which does not exist: callers test ``.exists()`` and skip.

    Parameters
    ----------
    *parts : str
        Sub-path inside the real-data folder, e.g. ``"ct_volume", "taufactor_electrode.tiff"``.

    Returns
    -------
    pathlib.Path
    """
    first = None
    for cand in _candidates():
        first = first or cand
        if cand.is_dir():
            return cand.joinpath(*parts)
    return first.joinpath(*parts)
