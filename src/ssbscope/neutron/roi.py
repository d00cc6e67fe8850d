"""Rectangular regions of interest on radiographs (rows = stacking axis z, columns = lateral x)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ssbscope.errors import EmptyResultError, ParameterError

__all__ = ["ROI", "as_roi"]


@dataclass(frozen=True)
class ROI:
    """A box ``[y0, y1) × [x0, x1)`` in pixel indices of a (y, x) frame.

    Rows (y) run along the stacking axis z of the cell, columns (x) across it.

    Parameters
    ----------
    y0, y1, x0, x1 : int
        Half-open pixel ranges.
    name : str
        Label shown in figures and tables.
    """

    y0: int
    y1: int
    x0: int
    x1: int
    name: str = "roi"

    def __post_init__(self):
        for f in ("y0", "y1", "x0", "x1"):
            v = getattr(self, f)
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
                raise ParameterError(f"roi.{f}", v, "must be an integer pixel index")
            object.__setattr__(self, f, int(v))
        if self.y1 <= self.y0 or self.x1 <= self.x0:
            raise EmptyResultError(f"roi {self.name!r}: box y[{self.y0}:{self.y1}] x[{self.x0}:{self.x1}] "
                                   "is empty; give y1 > y0 and x1 > x0")

    @property
    def slices(self) -> tuple[slice, slice]:
        """``(slice(y0, y1), slice(x0, x1))``."""
        return slice(self.y0, self.y1), slice(self.x0, self.x1)

    @property
    def shape(self) -> tuple[int, int]:
        return self.y1 - self.y0, self.x1 - self.x0

    def check(self, shape_yx) -> "ROI":
        """Raise unless the box lies inside a frame of ``shape_yx`` (returns self)."""
        ny, nx = int(shape_yx[-2]), int(shape_yx[-1])
        if self.y0 < 0 or self.x0 < 0 or self.y1 > ny or self.x1 > nx:
            raise EmptyResultError(f"roi {self.name!r}: box y[{self.y0}:{self.y1}] x[{self.x0}:{self.x1}] "
                                   f"does not fit in the {ny} x {nx} frame; keep it inside 0..{ny} / 0..{nx}")
        return self

    def to_dict(self) -> dict:
        return {"name": self.name, "y0": self.y0, "y1": self.y1, "x0": self.x0, "x1": self.x1}


def as_roi(roi, shape_yx=None, name: str = "roi") -> ROI:
    """Accept an :class:`ROI`, a ``(y0, y1, x0, x1)`` tuple or a pair of slices."""
    if isinstance(roi, ROI):
        out = roi
    elif isinstance(roi, dict):
        out = ROI(**roi)
    elif isinstance(roi, tuple) and len(roi) == 2 and all(isinstance(s, slice) for s in roi):
        ys, xs = roi
        if shape_yx is None:
            raise ParameterError(name, roi, "slices need the frame shape to resolve")
        y0, y1, _ = ys.indices(shape_yx[-2])
        x0, x1, _ = xs.indices(shape_yx[-1])
        out = ROI(y0, y1, x0, x1, name)
    elif isinstance(roi, (tuple, list)) and len(roi) == 4:
        out = ROI(*roi, name=name)
    else:
        raise ParameterError(name, roi, "is not a region", "pass ROI(y0, y1, x0, x1) or (y0, y1, x0, x1)")
    if shape_yx is not None:
        out.check(shape_yx)
    return out
