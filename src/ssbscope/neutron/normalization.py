"""Open-beam / dark-field normalisation of neutron radiographs (Eq. 1 of 002_3ee4edf529433f9c).

``I_N(i, j) = (I(i, j) − DF(i, j)) / (OB(i, j) − DF(i, j))``

with an optional static background subtracted from the sample images first and an optional
per-frame beam-intensity correction that rescales each normalised frame so that an open-beam
reference region (no sample in the beam) averages to 1.

Masking convention: pixels that cannot be normalised carry a reason code (bit flags in a
``uint8`` mask, :data:`MASK_REASONS`); they are either refused (``on_invalid="raise"``) or
returned masked (``numpy.ma.MaskedArray``), never as silent NaNs.
"""

from __future__ import annotations

import logging

import numpy as np

from ssbscope.errors import DataQualityError, InputError, ParameterError
from ssbscope.neutron._checks import as_stack, choice, is_dask, reference_frame
from ssbscope.neutron.roi import as_roi

__all__ = [
    "normalize",
    "normalization_mask",
    "estimate_static_background",
    "beam_intensity_factors",
    "MASK_REASONS",
    "describe_mask",
]

log = logging.getLogger(__name__)

#: Bit flag -> reason of a masked pixel.
MASK_REASONS: dict[int, str] = {
    1: "open beam <= dark field (no beam signal)",
    2: "non-finite value in images, open beam or dark field",
    4: "reference transmission <= 0 or non-finite (ratio undefined)",
    8: "outside the field of view / excluded by the caller",
}


def describe_mask(mask: np.ndarray) -> dict[str, int]:
    """Count masked pixels per reason: ``{reason: n_pixels}`` for the reasons present."""
    m = np.asarray(mask)
    return {text: int(np.count_nonzero(m & bit)) for bit, text in MASK_REASONS.items()
            if np.any(m & bit)}


def normalization_mask(open_beam, dark) -> np.ndarray:
    """(y, x) uint8 reason mask of pixels where Eq. 1 is undefined (OB <= DF, non-finite)."""
    ob = np.asarray(open_beam, dtype=np.float64)
    df = np.asarray(dark, dtype=np.float64)
    m = np.zeros(ob.shape, dtype=np.uint8)
    fin = np.isfinite(ob) & np.isfinite(df)
    m[~fin] |= 2
    with np.errstate(invalid="ignore"):
        m[fin & (ob - df <= 0)] |= 1
    return m


def estimate_static_background(images, dark, roi) -> float:
    """Static background level (ADU above dark) from a neutron-opaque region.

    The background that is not in the dark field, e.g. neutrons scattered by the sample and
    the set-up onto the scintillator or light halo in the camera, shows as signal behind a
    neutron-opaque marker (Cd, Gd, B4C).  Its level is the mean of ``images − dark`` over
    ``roi`` and all frames (use gamma-spot-free frames).

    Parameters
    ----------
    images : (t, y, x) or (y, x) ndarray
    dark : (n, y, x) or (y, x) ndarray
    roi : ROI or (y0, y1, x0, x1)
        A region behind a neutron-opaque marker.

    Returns
    -------
    float
        Background (ADU), to pass as ``normalize(..., background=...)``.
    """
    arr, _ = as_stack(images)
    arr = np.asarray(arr)
    df = reference_frame(dark, "dark", arr.shape[1:])
    r = as_roi(roi, arr.shape[1:], "background_roi")
    sl = r.slices
    vals = arr[:, sl[0], sl[1]].astype(np.float64) - df[sl]
    if not np.all(np.isfinite(vals)):
        raise DataQualityError("images: non-finite values inside background_roi; clean the frames first")
    return float(vals.mean())


def beam_intensity_factors(transmission, roi) -> np.ndarray:
    """Per-frame factors that bring an open-beam reference region to transmission 1.

    Parameters
    ----------
    transmission : (t, y, x) ndarray
        Normalised frames (Eq. 1).
    roi : ROI or (y0, y1, x0, x1)
        Region with no sample in the beam (open beam) in every frame.

    Returns
    -------
    (t,) ndarray
        ``1 / median_roi(T_t)``; multiply frame t by it.
    """
    arr, _ = as_stack(transmission)
    arr = np.asarray(arr)
    r = as_roi(roi, arr.shape[1:], "beam_roi")
    sl = r.slices
    vals = np.ma.masked_invalid(arr[:, sl[0], sl[1]].reshape(arr.shape[0], -1))
    med = np.ma.median(vals, axis=1)
    med = np.ma.filled(med, np.nan)
    bad = ~np.isfinite(med) | (med <= 0)
    if np.any(bad):
        raise DataQualityError(f"beam_roi: frames {np.nonzero(bad)[0][:10].tolist()} have no positive "
                               "open-beam signal in the reference region; move beam_roi to a "
                               "sample-free area or drop those frames")
    return 1.0 / np.asarray(med, dtype=np.float64)


def _check_exposure(name: str, value, image_exposure_s):
    if value is None or image_exposure_s is None:
        return
    if not np.isclose(float(value), float(image_exposure_s), rtol=1e-6):
        raise InputError(f"{name}: exposure {float(value):g} s differs from the images' "
                         f"{float(image_exposure_s):g} s; Eq. 1 needs open-beam and dark frames "
                         "taken with the same exposure (acquire them again, or pass "
                         "scale_open_beam=True to rescale the open beam linearly when only "
                         "the open-beam exposure differs)")


def normalize(images, open_beam, dark, *, background=0.0, beam_roi=None,
              exposure_s: float | None = None, open_beam_exposure_s: float | None = None,
              dark_exposure_s: float | None = None, scale_open_beam: bool = False,
              on_invalid: str = "raise", dtype=np.float32):
    """Normalise radiographs with open beam and dark field, Eq. 1 of 002_3ee4edf529433f9c.

    ``I_N = (I − DF − B) / (OB − DF)``, then optionally ``I_N,t ← I_N,t / median_roi(I_N,t)``
    (per-frame beam-intensity correction from an open-beam reference region).

    Parameters
    ----------
    images : (t, y, x) or (y, x) ndarray or dask array
        Sample radiographs (ADU), saturated pixels and gamma spots removed first.
    open_beam : (n, y, x) or (y, x) ndarray
        Open-beam frames; several are combined by the pixel-wise median.
    dark : (n, y, x) or (y, x) ndarray
        Dark-field frames; combined by the median.
    background : float or (y, x) ndarray
        Static background (ADU above dark) subtracted from the sample images
        (:func:`estimate_static_background`).
    beam_roi : ROI or (y0, y1, x0, x1), optional
        Sample-free region for the per-frame beam-intensity correction.
    exposure_s, open_beam_exposure_s, dark_exposure_s : float, optional
        Exposures; when given they must agree (the dark current scales with exposure).
    scale_open_beam : bool
        Allow an open beam of another exposure: ``OB − DF`` is scaled by
        ``exposure_s / open_beam_exposure_s`` (dark must match the images).
    on_invalid : {"raise", "mask"}
        Pixels with OB <= DF or non-finite input: raise :class:`DataQualityError`
        (default) or return a ``numpy.ma.MaskedArray`` masking them.
    dtype : numpy dtype
        float32 (default) or float64.

    Returns
    -------
    ndarray (or MaskedArray with ``on_invalid="mask"``; dask array for dask input, a dask
    masked array when pixels are masked)
        Transmission, same shape as ``images``; ``.reasons`` on a MaskedArray lists why.

    Raises
    ------
    InputError
        Open beam or dark of another frame shape or exposure.
    DataQualityError
        Invalid pixels with ``on_invalid="raise"``; a beam ROI without signal.

    Examples
    --------
    >>> import numpy as np
    >>> ob = np.full((4, 4), 1100.0); df = np.full((4, 4), 100.0)
    >>> img = np.full((2, 4, 4), 600.0)
    >>> float(normalize(img, ob, df)[0, 0, 0])
    0.5
    """
    choice("on_invalid", on_invalid, ("raise", "mask"))
    if np.dtype(dtype) not in (np.dtype(np.float32), np.dtype(np.float64)):
        raise ParameterError("dtype", dtype, "must be float32 or float64")
    dtype = np.dtype(dtype).type
    arr, was2d = as_stack(images)
    shape_yx = tuple(arr.shape[1:])
    ob = reference_frame(open_beam, "open_beam", shape_yx)
    df = reference_frame(dark, "dark", shape_yx)
    _check_exposure("dark", dark_exposure_s, exposure_s)
    if not scale_open_beam:
        _check_exposure("open_beam", open_beam_exposure_s, exposure_s)
    denom = ob - df
    if scale_open_beam and open_beam_exposure_s is not None and exposure_s is not None:
        if open_beam_exposure_s <= 0 or exposure_s <= 0:
            raise ParameterError("open_beam_exposure_s", open_beam_exposure_s, "exposures must be > 0")
        denom = denom * (float(exposure_s) / float(open_beam_exposure_s))
    bg = np.asarray(background, dtype=np.float64)
    if bg.ndim not in (0, 2) or (bg.ndim == 2 and bg.shape != shape_yx):
        raise InputError(f"background: shape {bg.shape} must be scalar or the frame shape {shape_yx}")
    mask = normalization_mask(ob, df)
    if bg.ndim == 2:
        mask[~np.isfinite(bg)] |= 2
    elif not np.isfinite(bg):
        raise ParameterError("background", float(bg), "must be finite")
    roi = as_roi(beam_roi, shape_yx, "beam_roi") if beam_roi is not None else None

    if is_dask(arr):
        if on_invalid == "raise" and mask.any():
            _raise_invalid(mask)
        res = _normalize_dask(arr, df, bg, denom, mask, roi, dtype, was2d)
        if on_invalid == "mask" and mask.any():
            import dask.array as da

            log.warning("normalize: %d pixel(s) masked: %s", int(np.count_nonzero(mask)), describe_mask(mask))
            return da.ma.masked_array(res, mask=da.broadcast_to(mask != 0, res.shape))
        return res

    data = np.asarray(arr)
    nonfinite = ~np.isfinite(data) if np.issubdtype(data.dtype, np.floating) else None
    if nonfinite is not None and nonfinite.any():
        mask = mask | (np.any(nonfinite, axis=0).astype(np.uint8) * 2)
    if on_invalid == "raise" and mask.any():
        _raise_invalid(mask)
    good = mask == 0
    inv = np.where(good, 1.0 / np.where(good, denom, 1.0), 0.0).astype(dtype)
    sub = (df + bg).astype(dtype)
    out = np.empty(data.shape, dtype=dtype)
    for i in range(data.shape[0]):
        fr = (data[i].astype(dtype, copy=False) - sub) * inv
        out[i] = np.where(good, fr, 0)
    if roi is not None:
        roi_good = good[roi.slices]
        if not roi_good.any():
            raise DataQualityError("beam_roi: every pixel in it is masked; move it to valid pixels")
        sl = roi.slices
        for i in range(out.shape[0]):
            med = float(np.median(out[i][sl][roi_good]))
            if not np.isfinite(med) or med <= 0:
                raise DataQualityError(f"beam_roi: frame {i} has no positive open-beam signal in the "
                                       "reference region; move beam_roi to a sample-free area or drop the frame")
            out[i] *= dtype(1.0 / med)
    if was2d:
        out = out[0]
    if on_invalid == "mask":
        m3 = np.broadcast_to(~good, out.shape)
        res = np.ma.MaskedArray(out, mask=m3.copy())
        res.reasons = describe_mask(mask)  # type: ignore[attr-defined]
        if mask.any():
            log.warning("normalize: %d pixel(s) masked: %s", int((~good).sum()), describe_mask(mask))
        return res
    return out


def _raise_invalid(mask: np.ndarray):
    reasons = describe_mask(mask)
    n = int(np.count_nonzero(mask))
    ys, xs = np.nonzero(mask)
    raise DataQualityError(f"open_beam/dark: {n} pixel(s) cannot be normalised ({reasons}); first at "
                           f"(y={ys[0]}, x={xs[0]}); pass on_invalid='mask' to get them masked, or "
                           "check that open_beam and dark are not swapped")


def _normalize_dask(arr, df, bg, denom, mask, roi, dtype, was2d):
    import dask.array as da

    good = mask == 0
    inv = np.where(good, 1.0 / np.where(good, denom, 1.0), 0.0).astype(dtype)
    sub = (df + bg).astype(dtype)
    sl = roi.slices if roi is not None else None
    roi_good = good[sl] if roi is not None else None

    def block(b):
        out = (b.astype(dtype) - sub) * inv
        out = np.where(good, out, 0).astype(dtype)
        if sl is not None:
            for i in range(out.shape[0]):
                med = float(np.median(out[i][sl][roi_good]))
                if not np.isfinite(med) or med <= 0:
                    raise DataQualityError("beam_roi: a frame has no positive open-beam signal in "
                                           "the reference region; move beam_roi or drop the frame")
                out[i] *= dtype(1.0 / med)
        return out

    arr = arr.rechunk({1: -1, 2: -1})
    res = da.map_blocks(block, arr, dtype=dtype)
    return res[0] if was2d else res
