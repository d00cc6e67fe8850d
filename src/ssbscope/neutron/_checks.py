"""Input validation shared by the neutron functions (private)."""

from __future__ import annotations

import numpy as np

from ssbscope.errors import InputError, ParameterError


def is_dask(a) -> bool:
    return type(a).__module__.startswith("dask.") and hasattr(a, "compute")


def as_stack(images, name: str = "images", *, allow_2d: bool = True):
    """Return a float-compatible (t, y, x) view (2-D input -> t = 1) and whether it was 2-D."""
    if is_dask(images):
        arr = images
    else:
        arr = np.asarray(images)
    if arr.ndim == 2 and allow_2d:
        return arr[None], True
    if arr.ndim != 3:
        raise InputError(f"{name}: expected a (t, y, x) stack{' or a (y, x) frame' if allow_2d else ''}"
                         f", got shape {tuple(arr.shape)}; stack the frames along axis 0")
    if arr.shape[0] == 0 or arr.shape[1] == 0 or arr.shape[2] == 0:
        raise InputError(f"{name}: has an empty axis, shape {tuple(arr.shape)}")
    if not (np.issubdtype(arr.dtype, np.number) and not np.issubdtype(arr.dtype, np.complexfloating)):
        raise InputError(f"{name}: dtype {arr.dtype} is not a real number type")
    return arr, False


def reference_frame(ref, name: str, shape_yx: tuple[int, int]) -> np.ndarray:
    """Combine (n, y, x) reference frames (open beam, dark) into one (y, x) frame by the median."""
    arr = np.asarray(ref, dtype=np.float64)
    if arr.ndim == 3:
        if arr.shape[0] == 0:
            raise InputError(f"{name}: holds no frames; pass at least one (y, x) frame")
        arr = np.median(arr, axis=0) if arr.shape[0] > 1 else arr[0]
    elif arr.ndim != 2:
        raise InputError(f"{name}: expected (n, y, x) or (y, x), got shape {arr.shape}")
    if arr.shape != tuple(shape_yx):
        raise InputError(f"{name}: frame shape {arr.shape} differs from the images' {tuple(shape_yx)}; "
                         "use open-beam/dark frames taken with the same detector region and binning")
    return arr


def positive_int(name: str, value) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ParameterError(name, value, "must be an integer >= 1")
    return int(value)


def choice(name: str, value, options):
    if value not in options:
        raise ParameterError(name, value, f"must be one of {list(options)}")
    return value
