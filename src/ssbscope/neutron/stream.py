"""Streaming reduction of a long radiograph series: clean, normalise, bin, ratio.

The chain of 002_3ee4edf529433f9c (Methods): saturated pixels and gamma spots removed, static
background subtracted, open-beam/dark normalisation (Eq. 1) with the per-frame beam-intensity
correction, median of every 30 frames, Tr_t/Tr_0 with counting uncertainty.

The series is processed one bin at a time (plus ``gamma_window`` frames of overlap on each
side for the temporal gamma-spot reference) by a plain generator, :func:`iter_binned`: a
numpy array, a lazy dask array or a :class:`~ssbscope.neutron.io.RadiographSeries` (files
read only when their bin is reached), so memory stays at one bin whatever the series length.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np

from ssbscope.errors import DataQualityError, EmptyResultError, InputError, ParameterError
from ssbscope.neutron._checks import is_dask, positive_int, reference_frame
from ssbscope.neutron.binning import check_times, ratio_sigma, transmission_ratio
from ssbscope.neutron.filters import remove_gamma_spots, remove_saturated_pixels
from ssbscope.neutron.normalization import MASK_REASONS, describe_mask, normalization_mask, normalize
from ssbscope.neutron.roi import as_roi

__all__ = ["ReducedSeries", "iter_binned", "reduce_series"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ReducedSeries:
    """Result of :func:`reduce_series` (binned frames ``(g, y, x)``).

    Attributes
    ----------
    transmission, transmission_sigma : (g, y, x) float32
        Median-binned transmission and its counting-statistics standard deviation
        (frame-specific part; the shared open-beam noise is left out).
    transmission_sigma_total : (g, y, x) float32
        Including the open beam's own counting noise (median of its n frames), for comparing
        a binned transmission with an absolute reference.
    ratio, ratio_sigma : (g, y, x) float32
        Tr_t/Tr_0 and its standard deviation; masked pixels hold 1.0 / 0.0.
    time_s : (g,) ndarray
        Mean time of the frames in each bin.
    bin_start_s, bin_stop_s : (g,) ndarray
        First and last frame time in each bin.
    mask : (y, x) uint8
        Reason bits (:data:`ssbscope.neutron.normalization.MASK_REASONS`); 0 = valid.
    beam_factors : (t,) ndarray
        Per-frame beam-intensity correction (NaN for dropped frames).
    n_spots, n_saturated : (t,) int
        Pixels replaced per frame.
    frames_dropped : tuple of (int, str)
        Frames left out and why.
    background_adu : float
        Static background subtracted.
    """

    transmission: np.ndarray
    transmission_sigma: np.ndarray
    transmission_sigma_total: np.ndarray
    ratio: np.ndarray
    ratio_sigma: np.ndarray
    time_s: np.ndarray
    bin_start_s: np.ndarray
    bin_stop_s: np.ndarray
    mask: np.ndarray
    beam_factors: np.ndarray = field(repr=False)
    n_spots: np.ndarray = field(repr=False)
    n_saturated: np.ndarray = field(repr=False)
    frames_dropped: tuple = ()
    background_adu: float = 0.0
    bin_n: int = 30
    reference_index: int = 0

    @property
    def mask_reasons(self) -> dict:
        """``{reason: n_pixels}`` of the masked pixels."""
        return describe_mask(self.mask)

    def ratio_masked(self) -> np.ma.MaskedArray:
        """Tr_t/Tr_0 as a MaskedArray (masked where ``mask != 0``)."""
        m = np.broadcast_to(self.mask != 0, self.ratio.shape)
        return np.ma.MaskedArray(self.ratio, mask=m.copy())

    def to_xarray(self):
        """``xarray.Dataset`` on (time_s, y, x) with the maps, sigmas and the mask."""
        import xarray as xr

        dims = ("time_s", "y", "x")
        ds = xr.Dataset(
            {"transmission": (dims, self.transmission), "transmission_sigma": (dims, self.transmission_sigma),
             "ratio": (dims, self.ratio), "ratio_sigma": (dims, self.ratio_sigma),
             "mask": (("y", "x"), self.mask), "bin_start_s": ("time_s", self.bin_start_s),
             "bin_stop_s": ("time_s", self.bin_stop_s)},
            coords={"time_s": self.time_s},
            attrs={"bin_n": self.bin_n, "background_adu": self.background_adu,
                   "reference_index": self.reference_index,
                   "mask_reasons": str({k: v for k, v in MASK_REASONS.items()}),
                   "frames_dropped": str(list(self.frames_dropped))})
        for v in ("transmission", "transmission_sigma", "ratio", "ratio_sigma"):
            ds[v].attrs["units"] = "1"
        ds["mask"].attrs["units"] = "1"
        ds["mask"].attrs["flags"] = str(MASK_REASONS)
        ds["time_s"].attrs["units"] = "s"
        return ds


def _source(images, time_s):
    from ssbscope.neutron.io import RadiographSeries

    if isinstance(images, RadiographSeries):
        if time_s is None:
            time_s = images.time_s
        images = images.images
    if not is_dask(images):
        images = np.asarray(images)
    if images.ndim != 3:
        raise InputError(f"images: expected a (t, y, x) series, got shape {tuple(images.shape)}")
    return images, check_times(time_s, images.shape[0])


def iter_binned(images, open_beam, dark, time_s=None, *, bin_n: int = 30, beam_roi=None,
                background=0.0, background_roi=None, saturation_level=None,
                max_saturated_fraction: float = 0.5, gamma_threshold_sigma: float = 5.0,
                gamma_window: int = 2, gain_adu_per_count: float | None = None,
                read_noise_adu: float = 0.0, stats: dict | None = None):
    """Yield ``(k, time_s, bin_start_s, bin_stop_s, T_bin, sigma_bin)`` one bin at a time.

    See :func:`reduce_series` for the parameters.  ``stats`` (a dict, optional) receives the
    per-frame ``beam_factors``, ``n_spots``, ``n_saturated``, ``frames_dropped`` and
    ``background_adu``.
    """
    src, t = _source(images, time_s)
    n = positive_int("bin_n", bin_n)
    nt = src.shape[0]
    shape_yx = tuple(src.shape[1:])
    ob_raw = np.asarray(open_beam)
    if ob_raw.ndim == 2 or (ob_raw.ndim == 3 and ob_raw.shape[0] < 3):
        # the pixel-wise median of >= 3 open beams rejects gamma spots; fewer need a filter
        log.info("open_beam: %s frame(s); removing gamma spots spatially",
                 1 if ob_raw.ndim == 2 else ob_raw.shape[0])
        open_beam = remove_gamma_spots(ob_raw, method="spatial")
    ob = reference_frame(open_beam, "open_beam", shape_yx)
    df = reference_frame(dark, "dark", shape_yx)
    if saturation_level is None:
        if not np.issubdtype(src.dtype, np.integer):
            raise ParameterError("saturation_level", None, f"is needed for {src.dtype} frames",
                                 "pass the camera's full-well value (ADU)")
        saturation_level = float(np.iinfo(src.dtype).max)
    roi = as_roi(beam_roi, shape_yx, "beam_roi") if beam_roi is not None else None
    bg_roi = as_roi(background_roi, shape_yx, "background_roi") if background_roi is not None else None
    st = stats if stats is not None else {}
    st.update(beam_factors=np.full(nt, np.nan), n_spots=np.zeros(nt, np.int64),
              n_saturated=np.zeros(nt, np.int64), frames_dropped=[], background_adu=None)
    invalid = normalization_mask(ob, df) != 0
    n_bins = nt // n
    if n_bins == 0:
        raise InputError(f"images: {nt} frame(s) is fewer than one bin of bin_n={n}")
    w = gamma_window
    for k in range(n_bins):
        a, b = k * n, (k + 1) * n
        lo, hi = max(0, a - w), min(nt, b + w)
        block = np.asarray(src[lo:hi])
        idx = np.arange(lo, hi)
        sat_frac = (block >= saturation_level).reshape(block.shape[0], -1).mean(axis=1)
        keep = sat_frac <= max_saturated_fraction
        for i in idx[~keep]:
            if a <= i < b:
                st["frames_dropped"].append((int(i), f"{100 * sat_frac[i - lo]:.0f} % saturated"))
        block, idx = block[keep], idx[keep]
        core = (idx >= a) & (idx < b)
        if not core.any():
            log.warning("bin %d: every frame dropped", k)
            continue
        clean, smask = remove_saturated_pixels(block, saturation_level=saturation_level,
                                               max_saturated_fraction=max_saturated_fraction,
                                               return_mask=True)
        if clean.shape[0] >= 3:
            clean, gmask = remove_gamma_spots(clean, threshold_sigma=gamma_threshold_sigma,
                                              window=w, return_mask=True)
        else:
            gmask = np.zeros(clean.shape, dtype=bool)
        clean, smask, gmask, idx = clean[core], smask[core], gmask[core], idx[core]
        st["n_saturated"][idx] = smask.reshape(idx.size, -1).sum(axis=1)
        st["n_spots"][idx] = gmask.reshape(idx.size, -1).sum(axis=1)
        if bg_roi is not None:
            if st["background_adu"] is None:
                ys, xs = bg_roi.slices
                st["background_adu"] = float(np.mean(clean[:, ys, xs] - df[ys, xs]))
            bg = st["background_adu"]
        else:
            bg = background
            st["background_adu"] = float(np.mean(background))
        tr = normalize(clean, ob, df, background=bg, on_invalid="mask")
        trd = np.ma.getdata(tr)
        if roi is not None:
            ys, xs = roi.slices
            good = ~invalid[ys, xs]
            if not good.any():
                raise DataQualityError("beam_roi: every pixel in it is masked; move it to valid pixels")
            med = np.array([np.median(f[ys, xs][good]) for f in trd])
            if np.any(~np.isfinite(med) | (med <= 0)):
                raise DataQualityError(f"beam_roi: frames {idx[~(med > 0)].tolist()[:5]} have no "
                                       "open-beam signal in the reference region; move beam_roi")
            fac = 1.0 / med
            trd = trd * fac[:, None, None].astype(trd.dtype)
        else:
            fac = np.ones(idx.size)
        st["beam_factors"][idx] = fac
        tb = np.median(trd, axis=0).astype(np.float32)
        if gain_adu_per_count is not None:
            from ssbscope.neutron.binning import counting_sigma

            sig = counting_sigma(clean, ob, df, gain_adu_per_count=gain_adu_per_count,
                                 read_noise_adu=read_noise_adu, background=bg, beam_factors=fac)
            sb = np.sqrt(np.pi / 2 * np.mean(sig.astype(np.float64) ** 2, axis=0) / idx.size)
        elif idx.size >= 2:
            sb = np.sqrt(np.pi / 2) * np.std(trd, axis=0, ddof=1) / np.sqrt(idx.size)
        else:
            raise DataQualityError(f"bin {k}: one frame left; give gain_adu_per_count for the "
                                   "counting uncertainty")
        sb = np.where(invalid, 0.0, sb).astype(np.float32)
        tb = np.where(invalid, 0.0, tb).astype(np.float32)
        tt = t[idx]
        yield k, float(tt.mean()), float(tt[0]), float(tt[-1]), tb, sb


def _open_beam_sigma_rel(open_beam, ob, df, mask, gain, read_noise):
    """Relative standard deviation of the combined open beam (median of its n frames)."""
    raw = np.asarray(open_beam, dtype=np.float64)
    n = raw.shape[0] if raw.ndim == 3 else 1
    eff = np.pi / 2 if n >= 3 else 1.0
    denom = np.where(mask == 0, ob - df, 1.0)
    if gain is not None:
        var = gain * np.maximum(ob - df, 0) + read_noise ** 2
        rel = np.sqrt(eff * var / n) / denom
    elif n >= 2:
        rel = np.sqrt(eff) * raw.std(axis=0, ddof=1) / np.sqrt(n) / denom
    else:
        rel = np.zeros(ob.shape)
    return np.where(mask == 0, rel, 0.0)


def reduce_series(images, open_beam, dark, time_s=None, *, bin_n: int = 30, beam_roi=None,
                  background=0.0, background_roi=None, saturation_level=None,
                  max_saturated_fraction: float = 0.5, gamma_threshold_sigma: float = 5.0,
                  gamma_window: int = 2, gain_adu_per_count: float | None = None,
                  read_noise_adu: float = 0.0, reference_index: int = 0) -> ReducedSeries:
    """Raw frames -> binned transmission and Tr_t/Tr_0 maps with uncertainty (streamed).

    Parameters
    ----------
    images : (t, y, x) ndarray, dask array or RadiographSeries
        Raw frames (ADU).
    open_beam, dark : (n, y, x) or (y, x) ndarray
    time_s : (t,) ndarray, optional
        Frame times (taken from a RadiographSeries when omitted); strictly increasing.
    bin_n : int
        Frames per median bin (002_: 30).
    beam_roi : ROI or (y0, y1, x0, x1), optional
        Open-beam region for the per-frame intensity correction.
    background : float
        Static background (ADU above dark), or
    background_roi : ROI, optional
        Region behind a neutron-opaque marker to estimate it from the first bin.
    saturation_level : float, optional
        Full well (default: the integer dtype's maximum).
    max_saturated_fraction : float
        Frames with more saturated pixels are dropped (listed in ``frames_dropped``).
    gamma_threshold_sigma, gamma_window : float, int
        :func:`ssbscope.neutron.remove_gamma_spots` settings.
    gain_adu_per_count, read_noise_adu : float, optional
        Counting model for the uncertainty; without a gain the uncertainty is estimated from
        the scatter of the frames within each bin.
    reference_index : int
        Binned frame used as Tr_0.

    Returns
    -------
    ReducedSeries
    """
    stats: dict = {}
    out = list(iter_binned(images, open_beam, dark, time_s, bin_n=bin_n, beam_roi=beam_roi,
                           background=background, background_roi=background_roi,
                           saturation_level=saturation_level,
                           max_saturated_fraction=max_saturated_fraction,
                           gamma_threshold_sigma=gamma_threshold_sigma, gamma_window=gamma_window,
                           gain_adu_per_count=gain_adu_per_count, read_noise_adu=read_noise_adu,
                           stats=stats))
    if not out:
        raise EmptyResultError("images: every bin was dropped (saturated frames); nothing to reduce")
    tb = np.stack([o[4] for o in out])
    sb = np.stack([o[5] for o in out])
    shape_yx = tb.shape[1:]
    ob = reference_frame(open_beam, "open_beam", shape_yx)
    df = reference_frame(dark, "dark", shape_yx)
    mask = normalization_mask(ob, df)
    ob_rel = _open_beam_sigma_rel(open_beam, ob, df, mask, gain_adu_per_count, read_noise_adu)
    sb_tot = np.sqrt(sb.astype(np.float64) ** 2 + (tb * ob_rel) ** 2).astype(np.float32)
    ref = tb[reference_index]
    mask[(ref <= 0) & (mask == 0)] |= 4
    r = transmission_ratio(np.ma.MaskedArray(tb, mask=np.broadcast_to(mask != 0, tb.shape).copy()),
                           reference_index, on_invalid="mask")
    rs = ratio_sigma(np.where(mask != 0, 1.0, tb), sb, reference_index)
    return ReducedSeries(
        transmission=tb, transmission_sigma=sb, transmission_sigma_total=sb_tot, ratio=np.ma.getdata(r).astype(np.float32),
        ratio_sigma=np.where(mask != 0, 0.0, rs).astype(np.float32),
        time_s=np.array([o[1] for o in out]), bin_start_s=np.array([o[2] for o in out]),
        bin_stop_s=np.array([o[3] for o in out]), mask=mask,
        beam_factors=stats["beam_factors"], n_spots=stats["n_spots"], n_saturated=stats["n_saturated"],
        frames_dropped=tuple(stats["frames_dropped"]), background_adu=float(stats["background_adu"] or 0.0),
        bin_n=int(bin_n), reference_index=int(reference_index))
