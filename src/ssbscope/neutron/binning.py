"""Median binning of consecutive frames, transmission ratios Tr_t/Tr_0 and their uncertainty.

002_3ee4edf529433f9c (Methods) combines every 30 normalised radiographs (10 s apart) by the
pixel-wise median into one image (5 min time resolution) and maps the transmission change
ratio Tr_t/Tr_0 (Section 2.2): < 1 where lithium accumulated, > 1 where it left.

Counting statistics
-------------------
With ``g`` ADU per detected neutron and read noise ``σ_r`` (ADU), a raw pixel has variance
``g (I − DF) + σ_r²``; the normalised frame has ``σ_T = sqrt(g (I − DF) + σ_r²) / (OB − DF)``
(times the beam factor).  The median of n frames has ``σ_med ≈ sqrt(π/2) σ / sqrt(n)`` (the
asymptotic efficiency of the median for Gaussian noise).  In the ratio Tr_t/Tr_0 both
transmissions share the same open beam and dark field, whose noise cancels; only the
frame-specific counting noise enters, ``σ_R = R sqrt((σ_t/T_t)² + (σ_0/T_0)²)``.
"""

from __future__ import annotations

import numpy as np

from ssbscope.errors import DataQualityError, InputError, ParameterError
from ssbscope.neutron._checks import as_stack, choice, is_dask, positive_int, reference_frame

__all__ = [
    "median_bin",
    "bin_times",
    "check_times",
    "transmission_ratio",
    "counting_sigma",
    "median_bin_sigma",
    "ratio_sigma",
]


def _n_groups(t: int, n: int, partial: str) -> int:
    g = t // n if partial == "drop" else -(-t // n)
    if g == 0:
        raise InputError(f"images: {t} frame(s) is fewer than one bin of n={n}; "
                         "pass more frames, a smaller n or partial='keep'")
    return g


def median_bin(images, n: int = 30, *, partial: str = "drop", nan_policy: str = "raise"):
    """Median of every ``n`` consecutive frames (002_3ee4edf529433f9c, Methods: n = 30).

    Parameters
    ----------
    images : (t, y, x) ndarray, MaskedArray or dask array
        Frames along axis 0 (normalised transmission or raw).
    n : int
        Frames per bin (default 30: 10 s frames -> 5 min bins).
    partial : {"drop", "keep"}
        A trailing group with fewer than ``n`` frames is dropped (default) or kept.
    nan_policy : {"raise", "omit"}
        Non-finite values raise :class:`DataQualityError` (default) or are left out of the
        median; a pixel with no finite value in a whole bin still raises.

    Returns
    -------
    (t // n, y, x) ndarray (float32 for float32/integer input, float64 for float64)
        A MaskedArray in, a MaskedArray out (a pixel is masked if masked in any frame of the
        bin); a dask array in, a lazy dask array out (chunks of whole bins).

    Examples
    --------
    >>> import numpy as np
    >>> a = np.arange(12, dtype=float).reshape(6, 1, 2)
    >>> median_bin(a, n=3)[:, 0, 0]
    array([2., 8.])
    """
    n = positive_int("n", n)
    choice("partial", partial, ("drop", "keep"))
    choice("nan_policy", nan_policy, ("raise", "omit"))
    if isinstance(images, np.ma.MaskedArray):
        data = np.ma.getdata(images)
        m = np.ma.getmaskarray(images)
        out = median_bin(data if not m.any() else np.where(m, np.nan, data), n, partial=partial,
                         nan_policy="omit" if m.any() else nan_policy)
        g = out.shape[0]
        mm = np.zeros(out.shape, dtype=bool)
        m3 = m if m.ndim == 3 else m[None]
        for k in range(g):
            mm[k] = m3[k * n:(k + 1) * n].any(axis=0)
        return np.ma.MaskedArray(np.where(mm, 0, out), mask=mm)
    arr, _ = as_stack(images, allow_2d=False)
    t = arr.shape[0]
    g = _n_groups(t, n, partial)
    odt = np.float64 if arr.dtype == np.float64 else np.float32
    if is_dask(arr):
        import dask.array as da

        tt = g * n if partial == "drop" else t
        a = arr[:tt].rechunk({0: tuple(min(n, tt - i) for i in range(0, tt, n)), 1: -1, 2: -1})
        # each chunk is one bin -> one output frame; rechunk to several bins per chunk is the
        # caller's choice (this keeps memory at one bin)
        return da.map_blocks(lambda b: _median_groups(b, b.shape[0], "keep", nan_policy, odt), a,
                             chunks=((1,) * len(a.chunks[0]), a.chunks[1], a.chunks[2]), dtype=odt)
    return _median_groups(np.asarray(arr), n, partial, nan_policy, odt)


def _median_groups(arr, n, partial, nan_policy, odt):
    t = arr.shape[0]
    g = _n_groups(t, n, partial)
    out = np.empty((g,) + arr.shape[1:], dtype=odt)
    for k in range(g):
        grp = arr[k * n:(k + 1) * n]
        if np.issubdtype(grp.dtype, np.floating):
            fin = np.isfinite(grp)
            if not fin.all():
                if nan_policy == "raise":
                    raise DataQualityError(f"images: {int((~fin).sum())} non-finite value(s) in frames "
                                           f"{k * n}-{k * n + grp.shape[0] - 1}; clean or mask them, or pass "
                                           "nan_policy='omit'")
                if (~fin.any(axis=0)).any():
                    raise DataQualityError(f"images: {int((~fin.any(axis=0)).sum())} pixel(s) have no finite "
                                           f"value in bin {k}; mask those pixels before binning")
                out[k] = np.nanmedian(grp, axis=0)
                continue
        out[k] = np.median(grp, axis=0)
    return out


def check_times(time_s, n_frames: int | None = None, name: str = "time_s") -> np.ndarray:
    """Validate frame timestamps: present, finite, strictly increasing; return float64 copy."""
    if time_s is None:
        raise DataQualityError(f"{name}: no timestamps; read them from the file headers or "
                               "modification times, or give a frame interval")
    t = np.asarray(time_s, dtype=np.float64)
    if t.ndim != 1:
        raise DataQualityError(f"{name}: expected a 1-D array, got shape {t.shape}")
    if n_frames is not None and t.size != n_frames:
        raise DataQualityError(f"{name}: {t.size} timestamps for {n_frames} frames; give one per frame")
    bad = ~np.isfinite(t)
    if bad.any():
        raise DataQualityError(f"{name}: timestamp(s) missing (non-finite) at frames "
                               f"{np.nonzero(bad)[0][:10].tolist()}; fix the headers or give a frame interval")
    d = np.diff(t)
    if np.any(d <= 0):
        i = int(np.nonzero(d <= 0)[0][0])
        raise DataQualityError(f"{name}: timestamps are not strictly increasing (frame {i + 1}: "
                               f"{t[i + 1]:g} s after {t[i]:g} s); sort the files by acquisition time "
                               "or remove duplicates")
    return t


def bin_times(time_s, n: int = 30, *, partial: str = "drop") -> np.ndarray:
    """Mean timestamp of every ``n`` consecutive frames (matches :func:`median_bin`)."""
    n = positive_int("n", n)
    choice("partial", partial, ("drop", "keep"))
    t = check_times(time_s)
    g = _n_groups(t.size, n, partial)
    return np.array([t[k * n:(k + 1) * n].mean() for k in range(g)])


def transmission_ratio(images, reference_index=0, *, on_invalid: str = "raise"):
    """Transmission change ratio Tr_t/Tr_0 (Section 2.2 of 002_3ee4edf529433f9c).

    Parameters
    ----------
    images : (t, y, x) ndarray or MaskedArray
        Normalised (and binned) transmission frames.
    reference_index : int or slice
        Frame of Tr_0 (default the first); a slice takes the pixel-wise median of those frames.
    on_invalid : {"raise", "mask"}
        Pixels whose reference is <= 0 or non-finite: raise :class:`DataQualityError`
        (default) or mask them (returns a MaskedArray).

    Returns
    -------
    (t, y, x) ndarray (MaskedArray when masking or for masked input)
        < 1: lithium enrichment, > 1: depletion, = 1: no change.

    Examples
    --------
    >>> import numpy as np
    >>> tr = np.array([[[0.5]], [[0.4]]])
    >>> transmission_ratio(tr)[:, 0, 0]
    array([1. , 0.8])
    """
    choice("on_invalid", on_invalid, ("raise", "mask"))
    masked_in = isinstance(images, np.ma.MaskedArray)
    m_in = np.ma.getmaskarray(images) if masked_in else None
    data = np.ma.getdata(images) if masked_in else images
    arr, _ = as_stack(data, allow_2d=False)
    arr = np.asarray(arr)
    t = arr.shape[0]
    if isinstance(reference_index, slice):
        idx = range(t)[reference_index]
        if len(idx) == 0:
            raise ParameterError("reference_index", reference_index, "selects no frame")
        ref = np.median(arr[reference_index], axis=0)
    else:
        if isinstance(reference_index, bool) or not isinstance(reference_index, (int, np.integer)):
            raise ParameterError("reference_index", reference_index, "must be an int or a slice")
        if not -t <= reference_index < t:
            raise ParameterError("reference_index", reference_index, f"out of range for {t} frames")
        ref = arr[reference_index]
    odt = np.float64 if arr.dtype == np.float64 else np.float32
    bad = ~np.isfinite(ref) | (ref <= 0)
    if masked_in:
        bad = bad | (m_in[reference_index].any(axis=0) if isinstance(reference_index, slice)
                     else m_in[reference_index])
    if bad.any() and on_invalid == "raise":
        ys, xs = np.nonzero(bad)
        raise DataQualityError(f"images[{reference_index}]: reference transmission <= 0 or non-finite at "
                               f"{int(bad.sum())} pixel(s), first (y={ys[0]}, x={xs[0]}); pass "
                               "on_invalid='mask' or mask those pixels")
    safe = np.where(bad, 1.0, ref).astype(odt)
    out = (arr.astype(odt) / safe).astype(odt)
    nonfin = ~np.isfinite(out)
    if nonfin.any() and on_invalid == "raise":
        raise DataQualityError(f"images: {int(nonfin.sum())} non-finite value(s); clean the frames or "
                               "pass on_invalid='mask'")
    if on_invalid == "mask" or masked_in:
        mm = np.broadcast_to(bad, out.shape) | nonfin
        if masked_in:
            mm = mm | m_in
        return np.ma.MaskedArray(np.where(mm, 1.0, out).astype(odt), mask=mm)
    return out


def counting_sigma(images, open_beam, dark, *, gain_adu_per_count: float = 1.0,
                   read_noise_adu: float = 0.0, background=0.0, beam_factors=None):
    """Counting-statistics standard deviation of normalised frames (frame-specific part).

    ``σ_T = sqrt(g · max(I − DF − B, 0) + σ_r²) / (OB − DF) · f_t``.  The open beam's and
    dark's own noise is common to every frame and cancels in Tr_t/Tr_0; it is left out.

    Parameters
    ----------
    images : (t, y, x) or (y, x) ndarray
        Raw frames (ADU), cleaned.
    open_beam, dark : (n, y, x) or (y, x) ndarray
    gain_adu_per_count : float
        ADU per detected neutron (g).
    read_noise_adu : float
        Camera read noise (ADU rms).
    background : float or (y, x)
        Static background removed in :func:`normalize`.
    beam_factors : (t,) ndarray, optional
        Per-frame beam-intensity factors applied in the normalisation.

    Returns
    -------
    ndarray (float32), shape of ``images``; 0 where OB <= DF.
    """
    if gain_adu_per_count <= 0:
        raise ParameterError("gain_adu_per_count", gain_adu_per_count, "must be > 0")
    if read_noise_adu < 0:
        raise ParameterError("read_noise_adu", read_noise_adu, "must be >= 0")
    arr, was2d = as_stack(images)
    arr = np.asarray(arr)
    ob = reference_frame(open_beam, "open_beam", arr.shape[1:])
    df = reference_frame(dark, "dark", arr.shape[1:])
    denom = ob - df
    good = denom > 0
    inv = np.where(good, 1.0 / np.where(good, denom, 1.0), 0.0)
    sig = np.empty(arr.shape, dtype=np.float32)
    f = np.ones(arr.shape[0]) if beam_factors is None else np.asarray(beam_factors, dtype=float)
    if f.shape != (arr.shape[0],):
        raise InputError(f"beam_factors: {f.shape} does not match {arr.shape[0]} frames")
    for i in range(arr.shape[0]):
        sig_counts = gain_adu_per_count * np.maximum(arr[i] - df - background, 0) + read_noise_adu ** 2
        sig[i] = np.sqrt(sig_counts) * inv * f[i]
    return sig[0] if was2d else sig


def median_bin_sigma(sigma, n: int = 30, *, partial: str = "drop") -> np.ndarray:
    """Standard deviation of the median of ``n`` frames: ``sqrt(π/2) · rms(σ) / sqrt(n)``."""
    n = positive_int("n", n)
    arr, _ = as_stack(sigma, allow_2d=False)
    arr = np.asarray(arr, dtype=np.float64)
    g = _n_groups(arr.shape[0], n, partial)
    out = np.empty((g,) + arr.shape[1:], dtype=np.float32)
    for k in range(g):
        grp = arr[k * n:(k + 1) * n]
        out[k] = np.sqrt(np.pi / 2 * np.mean(grp ** 2, axis=0) / grp.shape[0])
    return out


def ratio_sigma(transmission, sigma, reference_index: int = 0) -> np.ndarray:
    """Standard deviation of Tr_t/Tr_0: ``R sqrt((σ_t/T_t)² + (σ_0/T_0)²)`` (shared OB cancels).

    For t = reference the ratio is 1 by construction and its sigma is 0.
    """
    tr = np.asarray(np.ma.getdata(transmission), dtype=np.float64)
    sg = np.asarray(sigma, dtype=np.float64)
    if tr.shape != sg.shape:
        raise InputError(f"sigma: shape {sg.shape} differs from transmission {tr.shape}")
    t0 = tr[reference_index]
    s0 = sg[reference_index]
    with np.errstate(divide="ignore", invalid="ignore"):
        r = tr / t0
        rel = np.sqrt((sg / tr) ** 2 + (s0 / t0) ** 2)
        out = np.abs(r) * rel
    out[reference_index] = 0.0
    return np.where(np.isfinite(out), out, 0.0).astype(np.float32)
