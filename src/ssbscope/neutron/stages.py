"""Pipeline stages of the neutron area, Cao et al. 2023 (doi:10.1002/adfm.202307998).

Every neutron result comes from an experiment's files (:func:`input_stages`); the demo writes
its radiographs and its CT pair as files too (:mod:`ssbscope.twin.neutron_folder`), so
:func:`demo_stages` is empty.  A CT scan (``inputs.neutron`` with ``kind: projections``: a
frame per rotation angle) becomes ``neutron/<label>/volume`` (attenuation, 1/cm, reconstructed
by detector-row blocks, :func:`ssbscope.neutron.reconstruct_ct`); ``analysis.neutron.ct_difference``
registers two scans of the cell and writes ``neutron/ct`` (increment, masks, Li gained/lost).

:func:`input_stages` reads an experiment's real radiograph series (``ssbscope run``), one
stage ``neutron.input.<label>`` per ``inputs.neutron`` entry writing
``neutron/input/<label>``: the frames (FITS/TIFF, a file, folder or glob pattern read as one
series), gamma spots removed, normalised by Eq. 1 when an open beam is given (dark taken as 0
when absent) or kept as raw counts otherwise, with the mean over each frame and the
through-plane profile (mean over x per row) frame by frame; time-of-flight header values
(``TOF``, ``TIMEBIN``, ``N_COUNTS``, ``N_TRIGS`` of MCP/Timepix detectors) are kept per
frame, with the neutron wavelength when ``flight_path_m`` is given.  An operando time series
is median-binned as in 002_ (Methods: 30 frames per bin, ``<var>_binned``), mapped as the ratio
to the reference bin (Tr_t/Tr_0, ``transmission_ratio``; ``count_ratio`` without open beam)
and reduced to its space–time map (``ratio_profile``: mean over x per row and bin); with
``li_roi`` the Li path-length change per pixel and the Li volume change in that region
(:mod:`ssbscope.neutron.lithium`).  An input with ``regions`` gets a second stage
``neutron.analyse.<label>`` (002_ Section 2.2): space-time maps of each region, bands of Li
enrichment/depletion (P1-P4 of 002_), the soft-short onset and the layer boundaries
(``neutron/<label>/spacetime``, ``/bands``, ``/boundaries``).
"""

from __future__ import annotations

import json
import logging
import warnings as warnings_module
from pathlib import Path

import numpy as np

__all__ = ["demo_stages", "input_stages", "TWIN_SIZES"]

log = logging.getLogger(__name__)

#: Twin sizes of the demo's radiograph series (:func:`ssbscope.twin.neutron_folder.neutron_part`):
#: frames, frame interval (s), field (px), static background (1 % of the open beam, removed
#: with the Cd-marker region, ``background_roi``).  All cover 8 h of the C/20 charge (soft short
#: at 4.5 h) in 30-frame bins of at most 30 min (longer bins average the fluctuations away).
TWIN_SIZES = {
    "tiny": dict(n_frames=480, frame_interval_s=60.0, shape_yx=(48, 96), background_fraction=0.01),
    "small": dict(n_frames=480, frame_interval_s=60.0, shape_yx=(64, 96), background_fraction=0.01),
    "medium": dict(n_frames=1440, frame_interval_s=20.0, shape_yx=(64, 96), background_fraction=0.01),
}


def demo_stages(config=None) -> list:
    """No neutron study runs in memory any more: the demo folder writes the radiographs
    (:func:`ssbscope.twin.neutron_folder.neutron_part`) and the CT pair's frames
    (:func:`ssbscope.twin.neutron_folder.neutron_ct_part`), and :func:`input_stages` analyses
    them like a user's.

    Returns
    -------
    list
        Empty.
    """
    return []


def _ct_scan_stage(ctx, inputs, *, path, label, open_beam, dark, pixel_size_um, angles=None,
                   angle_range_deg=None, center_px=None, block_rows=8, nan_policy="raise"):
    """One neutron CT scan (frame per angle) -> ``neutron/<label>/volume`` (1/cm)."""
    import dask
    import dask.array as da
    import xarray as xr

    from ssbscope.errors import ParameterError
    from ssbscope.neutron.ct import reconstruct_ct
    from ssbscope.neutron.io import read_series
    from ssbscope.neutron.normalization import normalize
    from ssbscope.paths import expand_inputs

    for p in expand_inputs(path):
        ctx.record_input(p)
    frames = read_series(path, time_source="interval", frame_interval_s=1.0, nan_policy=nan_policy)
    n = int(frames.images.shape[0])
    angle_warnings: list[str] = []  # a cut last line of the angles file, dropped
    if angles is not None:
        from ssbscope.tomo.io import read_angles_file

        ang = read_angles_file(ctx.record_input(angles), warnings=angle_warnings)
    elif angle_range_deg is not None:
        a0, a1 = (float(x) for x in angle_range_deg)
        ang = np.deg2rad(a0 + (a1 - a0) * np.arange(n) / n)
    else:
        raise ParameterError(f"inputs.neutron[{label}].angles", None,
                             f"the CT scan {path} needs its rotation angles",
                             "give angles: (a text file) or angle_range_deg: [0, 180]")
    if ang.size != n:
        raise ParameterError(f"inputs.neutron[{label}].angles", f"{ang.size} angles",
                             f"the scan {path} has {n} frames", "give one angle per frame")

    from ssbscope.neutron.io import mask_warnings

    warnings: list[str] = list(angle_warnings)
    if nan_policy != "raise":  # one extra read of the scan to name the masked frames
        warnings += mask_warnings(frames, frames.masked_pixels.compute())

    def frames_of(spec, what):
        for p in expand_inputs(spec):
            ctx.record_input(p)
        s = read_series(spec, time_source="interval", frame_interval_s=1.0, nan_policy=nan_policy)
        arr, n_masked = dask.compute(s.images, s.masked_pixels)
        warnings.extend(f"{what}: {w}" for w in mask_warnings(s, n_masked))
        return np.asarray(arr, dtype=np.float32)

    ob = frames_of(open_beam, "open_beam")
    dk = frames_of(dark, "dark") if dark else np.zeros_like(ob[:1])
    t = normalize(da.asarray(frames.images), ob, dk)  # Eq. 1 (one implementation, checks OB > DF)
    vol, c = reconstruct_ct(t, ang, float(pixel_size_um), center_px=center_px,
                            block_rows=block_rows)
    vs = float(pixel_size_um)
    nz, ny, nx = vol.shape
    coords = {d: (d, (np.arange(k) + 0.5) * vs, {"units": "um", "long_name": f"{d} position"})
              for d, k in (("z", nz), ("y", ny), ("x", nx))}
    ds = xr.Dataset({"attenuation_1_cm": (("z", "y", "x"), vol,
                                          {"units": "1/cm", "long_name": "attenuation coefficient",
                                           "ome_image": "image"})},  # OME-Zarr for viewers
                    coords=coords)
    ds.attrs.update({"label": label, "voxel_size_um": vs, "center_px": float(c),
                     "n_angles": int(n), "source": str(path),
                     "method": "Eq. 1 normalisation, -ln T, FBP per detector row "
                               "(ssbscope.neutron.reconstruct_ct)"})
    if nan_policy != "raise":
        ds.attrs["nan_policy"] = nan_policy
    if warnings:
        for w in warnings:
            log.warning(w)
        ds.attrs["warnings"] = warnings
    return {f"neutron/{label}/volume": ds}


def _ct_difference_stage(ctx, inputs, *, before, after, threshold_sigma=3.0,
                         min_component_vox=20, smooth_sigma_vox=0.7):
    """Register two neutron CT volumes, map the attenuation increment and the Li moved."""
    import xarray as xr

    from ssbscope.materials import get
    from ssbscope.neutron import ct_difference
    from ssbscope.neutron.attenuation import cold_spectrum, macroscopic_cross_section_1_cm
    from ssbscope.neutron.ct import li_volume_change_mm3

    b = inputs[f"neutron/{before}/volume"]
    a = inputs[f"neutron/{after}/volume"]
    vs = float(b.attrs["voxel_size_um"])
    res = ct_difference(b["attenuation_1_cm"].values, a["attenuation_1_cm"].values,
                        threshold_sigma=threshold_sigma, smooth_sigma_vox=smooth_sigma_vox)
    sp = cold_spectrum(n=32)
    mu_li = float(np.sum(sp.weight * macroscopic_cross_section_1_cm(get("Li"), sp.wavelength_a)))
    gained, lost = li_volume_change_mm3(res, vs, mu_li, min_component_vox=min_component_vox)
    dims = ("z", "y", "x")
    ds = xr.Dataset({"increment_1_cm": (dims, res.increment, {"units": "1/cm", "ome_image": "image"}),
                     # NGFF labels of the increment image (neutron/ct/labels/<name>), gain
                     # green and loss red (both are 1 where set: the default colours agree)
                     "increase_mask": (dims, res.increase_mask, {
                         "ome_image": "label", "label_values": [0, 1],
                         "label_names": ["no significant increase", "attenuation increased (Li gained)"],
                         "label_rgba": [[0, 0, 0, 0], [44, 160, 44, 255]]}),
                     "decrease_mask": (dims, res.decrease_mask, {
                         "ome_image": "label", "label_values": [0, 1],
                         "label_names": ["no significant decrease", "attenuation decreased (Li lost)"],
                         "label_rgba": [[0, 0, 0, 0], [214, 39, 40, 255]]}),
                     "li_gained_mm3": ((), gained, {"units": "mm^3", "long_name": "Li volume gained"}),
                     "li_lost_mm3": ((), lost, {"units": "mm^3", "long_name": "Li volume lost"})},
                    coords={d: b[d] for d in dims})
    ds.attrs.update({"shift_zyx_vox": list(res.shift_zyx_vox), "noise_1_cm": res.noise,
                     "method": res.method, "voxel_size_um": vs, "before": before, "after": after,
                     "mu_li_1_cm": mu_li,
                     "smooth_sigma_vox": float(smooth_sigma_vox),
                     "li_rule": f"sum of the increment / mu_Li x voxel volume over connected "
                                f"regions of the masks of >= {int(min_component_vox)} voxels; "
                                "mu_Li of the cold CG-1D spectrum"})
    return {"neutron/ct": ds}


# --------------------------------------------------------------------------- real inputs

#: h / m_n in Å m / s: wavelength (Å) = H_OVER_MN_A_M_S * tof (s) / flight path (m)
H_OVER_MN_A_M_S = 3956.034

#: Per-frame header keywords of time-of-flight detectors kept as variables: (name, unit, dtype)
_TOF_KEYS = {"TOF": ("tof_s", "s", float), "TIMEBIN": ("timebin_s", "s", float),
             "N_COUNTS": ("n_counts", "count", np.int64), "N_TRIGS": ("n_trigs", "1", np.int64),
             "SHUTTER_N": ("shutter_n", "1", np.int64)}


def _slug(text: str) -> str:
    import re

    s = re.sub(r"[^A-Za-z0-9_-]+", "_", text).strip("_")
    return s or "series"


def _frame_times(md, n, frame_interval_s, time_s):
    """(times (n,) s or None, description) of a series' frames."""
    t0 = float(time_s) if time_s is not None else 0.0
    if frame_interval_s is not None:
        return t0 + float(frame_interval_s) * np.arange(n), "frame_interval_s of the experiment file"
    if "TIME_S" in md and md["TIME_S"].notna().all():
        t = md["TIME_S"].to_numpy(float)
        return t0 + t, "TIME_S header keyword"
    if "DATE-OBS" in md and md["DATE-OBS"].notna().all():
        from ssbscope.neutron.io import _parse_iso

        t = np.array([_parse_iso(v, p) for v, p in zip(md["DATE-OBS"], md["path"])])
        return t0 + (t - t[0]), "DATE-OBS header keyword"
    return None, ("none: no TIME_S / DATE-OBS header and no frame_interval_s; frames are indexed "
                  "by number (and by time of flight where the header has it)")


def _check_times(times, where):
    from ssbscope.errors import DataQualityError
    from ssbscope.neutron.binning import check_times

    try:
        return check_times(times, times.size)
    except DataQualityError as e:
        raise DataQualityError(f"{where}: {e}") from None


def _reference(paths_or_pattern, what, shape_yx, ctx, nan_policy="raise", warnings=None):
    """Frames of an open-beam / dark reference, loaded (median-combined by normalize); pixels
    masked by ``nan_policy="mask"`` are appended to ``warnings``."""
    import dask

    from ssbscope.errors import FileFormatError
    from ssbscope.neutron.io import mask_warnings, read_series

    ref = read_series(paths_or_pattern, time_source="interval", frame_interval_s=1.0,
                      nan_policy=nan_policy)
    for q in ref.paths:
        ctx.record_input(q)
    arr, n_masked = dask.compute(ref.images, ref.masked_pixels)
    if warnings is not None:
        warnings.extend(f"{what}: {w}" for w in mask_warnings(ref, n_masked))
    if arr.shape[1:] != tuple(shape_yx):
        raise FileFormatError(paths_or_pattern, f"{what} frames are {arr.shape[1:]}, the sample frames "
                              f"{tuple(shape_yx)}", f"give {what} frames of the same detector region")
    return arr


def _is_tof(md) -> bool:
    """True when the series' headers carry time-of-flight keys (an MCP/Timepix TOF stack)."""
    return any(key in md and md[key].notna().any() for key in _TOF_KEYS)


def _binning(md, n, bin_frames, default_bin_frames, path):
    """(frames per bin or None, why) for a series of ``n`` frames (see :func:`input_stages`)."""
    from ssbscope.errors import ParameterError

    if bin_frames is not None:
        k = int(bin_frames)
        if k > n:
            raise ParameterError(
                "bin_frames", k, f"exceeds the {n} frame(s) of the neutron input {path}",
                f"set inputs.neutron bin_frames to at most {n}, to 1 to switch binning off, or leave "
                "it out (then only time series of at least analysis.neutron.bin_frames frames are binned)")
        if k == 1:
            return None, "none: bin_frames=1 (binning switched off in the input)"
        if _is_tof(md):
            keys = [key for key in _TOF_KEYS if key in md]
            log.warning("neutron input %s: bin_frames=%d bins a time-of-flight series (header "
                        "keys %s): each bin is the median of %d wavelength channels, not of %d "
                        "times; leave bin_frames out to keep the channels", path, k,
                        ", ".join(keys), k, k)
            return k, (f"median of {k} consecutive frames (bin_frames of the input) of a "
                       f"time-of-flight series (header keys {', '.join(keys)}): bins are "
                       "wavelength-channel groups, not times")
        return k, f"median of {k} consecutive frames (bin_frames of the input)"
    if _is_tof(md):
        keys = [key for key in _TOF_KEYS if key in md]
        return None, (f"none: time-of-flight series (header keys {', '.join(keys)}): frames are "
                      "wavelength channels, not times; set bin_frames to bin them anyway")
    k = int(default_bin_frames)
    if k == 1:
        return None, "none: analysis.neutron.bin_frames=1"
    if n < k:
        return None, (f"none: {n} frame(s), fewer than analysis.neutron.bin_frames={k}; set the "
                      "input's bin_frames to bin a short series")
    return k, f"median of {k} consecutive frames (analysis.neutron.bin_frames)"


def _median_bin_block(block):
    """Median of one bin (a dask block of whole frames); pixels with no finite value -> NaN.

    Masked pixels are NaN in every frame and :func:`ssbscope.neutron.median_bin` refuses
    pixels with no finite value in a bin: they are filled before and set to NaN after.
    """
    from ssbscope.neutron import median_bin

    empty = ~np.isfinite(block).any(axis=0)
    if empty.any():
        block = np.where(empty[None], np.float32(0.0), block)
    out = median_bin(block, block.shape[0], nan_policy="omit")
    if empty.any():
        out[:, empty] = np.nan
    return out


def _empty_block(block, masked):
    """Pixels of one bin with no finite value, not counting pixels masked in every frame."""
    empty = ~np.isfinite(block).any(axis=0) & ~masked
    return np.array([int(empty.sum())], dtype=np.int32)


def _ratio_block(block, ref):
    """Tr_t/Tr_0 of a block of bins against the reference bin; invalid pixels -> NaN."""
    from ssbscope.neutron import transmission_ratio

    stack = np.concatenate([np.asarray(ref, np.float32).reshape((1,) + block.shape[1:]), block])
    with np.errstate(invalid="ignore"):
        r = transmission_ratio(stack, 0, on_invalid="mask")
    return np.ma.filled(r, np.nan)[1:].astype(np.float32)


def _row_mean(block):
    """Mean over x of the finite pixels of each row; NaN for a row without any."""
    ok = np.isfinite(block)
    cnt = ok.sum(axis=-1)
    tot = np.where(ok, block, 0.0).sum(axis=-1, dtype=np.float64)
    return np.where(cnt > 0, tot / np.maximum(cnt, 1), np.nan).astype(np.float32)


def _region_px(region, field, shape_yx, pixel_size_um, where):
    """(y0, y1, x0, x1) pixels of a YAML region ``{rows, cols, units}`` checked against the frame."""
    from ssbscope.errors import ParameterError

    rows, cols = list(region["rows"]), list(region["cols"])
    if region.get("units", "px") == "um":
        if pixel_size_um is None:
            raise ParameterError(f"inputs.neutron[].{field}.units", "um",
                                 f"needs the input's pixel_size_um (neutron input {where})",
                                 "give pixel_size_um or the region in pixels (units: px)")
        p = float(pixel_size_um)
        rows = [int(round(v / p)) for v in rows]
        cols = [int(round(v / p)) for v in cols]
    else:
        if any(float(v) != int(v) for v in rows + cols):
            raise ParameterError(f"inputs.neutron[].{field}", {"rows": rows, "cols": cols},
                                 "pixel indices must be whole numbers", "give integers or units: um")
        rows, cols = [int(v) for v in rows], [int(v) for v in cols]
    ny, nx = shape_yx
    if not (0 <= rows[0] < rows[1] <= ny and 0 <= cols[0] < cols[1] <= nx):
        raise ParameterError(f"inputs.neutron[].{field}", {"rows": rows, "cols": cols},
                             f"lies outside the {ny} x {nx} px frames of the neutron input {where}",
                             f"give rows within 0-{ny} and cols within 0-{nx} (end excluded)")
    return rows[0], rows[1], cols[0], cols[1]


def _median_se_block(block):
    """Standard error of one bin's median per pixel (a dask block of the bin's frames)."""
    from ssbscope.neutron.lithium import median_standard_error

    return median_standard_error(block)[None]


def _li_map_block(block, ref, *, spectrum, li6_fraction):
    """Li path-length change (um) of a block of ratio bins against the reference bin's Tr_0."""
    from ssbscope.neutron.attenuation import li_thickness_change_um

    r = np.asarray(block, dtype=np.float64)
    t0 = np.asarray(ref, dtype=np.float64)[0]
    ok0 = np.isfinite(t0) & (t0 > 0)
    bad = ~np.isfinite(r) | (r <= 0) | ~ok0[None]
    d = li_thickness_change_um(np.where(bad, 1.0, r), np.where(ok0, t0, 1.0), mask=bad,
                               spectrum=spectrum, li6_fraction=li6_fraction)
    return np.ma.filled(d, np.nan).astype(np.float32)


def _beam_se_block(block):
    """(1,) relative standard error of one bin's beam-intensity correction."""
    from ssbscope.neutron.lithium import beam_factor_sigma

    return np.array([beam_factor_sigma(block)])


def _li_roi_block(rb, tb, sb, t0, s0, eb, e0, *, ref_idx, spectrum, li6_fraction, block_id=None):
    """(1, 3) [mean, sigma, valid pixels] of the Li change over the ROI for one bin."""
    from ssbscope.neutron.lithium import region_li_change

    r = np.asarray(rb, dtype=np.float64)
    if block_id is not None and block_id[0] == ref_idx:
        rs = np.zeros(r.shape)
        eps = 0.0
    else:
        with np.errstate(invalid="ignore", divide="ignore"):
            rs = np.abs(r) * np.sqrt((np.asarray(sb, float) / np.asarray(tb, float)) ** 2
                                     + (np.asarray(s0, float) / np.asarray(t0, float)) ** 2)
        eps = float(np.hypot(np.asarray(eb, float).ravel()[0], np.asarray(e0, float).ravel()[0]))
    res = region_li_change(r, np.asarray(t0, dtype=np.float64)[0], rs, spectrum=spectrum,
                           common_rel_sigma=[eps], li6_fraction=li6_fraction)
    return np.array([[res.mean_um[0], res.sigma_um[0], float(res.n_valid[0])]])


#: Conventions of the Li variables of a real input (attribute li_geometry).
LI_GEOMETRY = (
    "Beer-Lambert inversion of Tr_t/Tr_0 per pixel (ssbscope.neutron.attenuation."
    "li_thickness_change_um, Tr_0 of the reference bin treated as lithium-equivalent for the "
    "beam hardening): li_thickness_change_um is the change of the lithium-metal-equivalent path "
    "length along the beam through each pixel (positive = Li gained). The beam passes side-on "
    "through the cell (layers parallel to the beam, stacked along the rows, 002_), so this is "
    "not a layer thickness: the region mean li_thickness_change_roi_um is the Li volume change "
    "per projected area of li_roi, and li_volume_change_roi_um3 = mean x region area is the Li "
    "volume change in the cell behind the region (masked pixels counted at the region mean). "
    "Faraday's law compares that volume over the electrode area (correlate/states); it holds "
    "when li_roi spans the whole electrode width and every row where that electrode gains or "
    "loses Li (Li moved within the region, e.g. creep into a rod-tube gap, cancels).")


def _li_vars(a, binned, ratio, ref_idx, g, li, where):
    """Li thickness map, ROI mean/sigma/volume of a binned transmission series (lazy)."""
    import dask.array as da

    from ssbscope.neutron.attenuation import LI6_NATURAL, cold_spectrum, effective_wavelength_a
    from ssbscope.neutron.lithium import monochromatic

    y0, y1, x0, x1 = li["roi"]
    li6 = float(li.get("li6_fraction", LI6_NATURAL))
    wl = li.get("wavelength_a")
    spectrum = monochromatic(float(wl)) if wl is not None else cold_spectrum()
    sp_note = (f"monochromatic {float(wl):g} A (wavelength_a)" if wl is not None else
               "cold CG-1D spectrum of 002_ (0.8-6 A, peak 2.6 A, effective "
               f"{effective_wavelength_a():.3g} A) with its hardening")
    kw = dict(spectrum=spectrum, li6_fraction=li6)
    ref = binned[ref_idx][None]
    li_map = da.map_blocks(_li_map_block, ratio, ref, dtype=np.float32, **kw)
    sig = da.map_blocks(_median_se_block, a[:, y0:y1, x0:x1],
                        chunks=((1,) * g, (y1 - y0,), (x1 - x0,)), dtype=np.float32)
    rb, tb = ratio[:, y0:y1, x0:x1], binned[:, y0:y1, x0:x1]
    broi = li.get("beam_roi")
    if broi is not None:
        by0, by1, bx0, bx1 = broi
        eps = da.map_blocks(_beam_se_block, a[:, by0:by1, bx0:bx1], drop_axis=(1, 2),
                            chunks=((1,) * g,), dtype=np.float64)
        common_note = ("; plus the error of the beam-intensity correction (beam_roi) of the bin and "
                       "of the reference bin, common to every pixel")
    else:
        eps = da.zeros(g, chunks=1, dtype=np.float64)
        common_note = "; no beam_roi: beam-intensity fluctuations are not corrected and not included"
    stats = da.map_blocks(_li_roi_block, rb, tb, sig, tb[ref_idx][None], sig[ref_idx][None],
                          eps[:, None, None], eps[ref_idx][None, None, None],
                          drop_axis=2, chunks=((1,) * g, (3,)), dtype=np.float64,
                          ref_idx=int(ref_idx), **kw)
    roi_desc = {"rows": [int(y0), int(y1)], "cols": [int(x0), int(x1)]}
    sign = "positive = Li gained in the region"
    data = {
        "li_thickness_change_um": (("bin", "y", "x"), li_map, {
            "units": "um", "reference_bin": int(ref_idx), "description":
            "change of the lithium-metal-equivalent path length along the beam through the pixel "
            f"since the reference bin ({sign.replace('region', 'pixel')}); NaN where the ratio or Tr_0 is "
            "invalid; see li_geometry", "ome_image": "image"}),
        "li_thickness_change_roi_um": ("bin", stats[:, 0], {
            "units": "um", "roi_px": json.dumps(roi_desc), "description":
            f"mean of li_thickness_change_um over li_roi: Li volume change per projected area of the "
            f"region ({sign})"}),
        "li_thickness_change_roi_sigma_um": ("bin", stats[:, 1], {
            "units": "um", "description": "standard deviation of li_thickness_change_roi_um from pixel "
            "counting noise (standard error of each bin's median from its frames' scatter, reference "
            "bin included, pixels independent)" + common_note + "; the hardening-model error is not "
            "included"}),
        "li_roi_valid_pixels": ("bin", stats[:, 2].astype(np.int64), {
            "units": "pixel", "description": f"pixels of li_roi with a valid Li change (of "
            f"{(y1 - y0) * (x1 - x0)})"}),
    }
    attrs = {"li_roi_px": json.dumps(roi_desc), "li_gains_on_charge": bool(li.get("gains_on_charge", True)),
             "li_spectrum": sp_note, "li6_fraction": li6, "li_geometry": LI_GEOMETRY}
    p = li.get("pixel_size_um")
    if p is not None:
        area = (y1 - y0) * (x1 - x0) * float(p) ** 2
        data["li_volume_change_roi_um3"] = ("bin", stats[:, 0] * area, {
            "units": "um^3", "description": f"Li volume change in the cell behind li_roi: "
            f"li_thickness_change_roi_um x region area {area:.6g} um2 ({sign})"})
        data["li_volume_change_roi_sigma_um3"] = ("bin", stats[:, 1] * area, {
            "units": "um^3", "description": "standard deviation of li_volume_change_roi_um3 (pixel noise)"})
        attrs["li_roi_area_um2"] = float(area)
    else:
        attrs["li_volume"] = ("no pixel_size_um: no li_volume_change_roi_um3 (and no Faraday residual "
                              "in correlate/states); give the input's pixel_size_um")
    return data, attrs


def _counting_se_block(block, *, obdf, gain, read_noise, bg, n_bin):
    """Counting standard error of one bin's median transmission (pixel-wise), shape of block."""
    t = np.asarray(block, dtype=np.float64)
    var = gain * np.maximum(t * obdf + bg, 0.0) + read_noise ** 2
    with np.errstate(invalid="ignore"):
        s = np.sqrt(np.pi / 2.0) * np.sqrt(var) / obdf / np.sqrt(n_bin)
    return s.astype(np.float32)


def _ratio_sigma_block(rb, tb, sb, t0, s0):
    """Standard deviation of Tr_t/Tr_0 from those of the bin and the reference bin."""
    with np.errstate(invalid="ignore", divide="ignore"):
        out = np.abs(rb) * np.sqrt((sb / tb) ** 2 + (s0 / t0) ** 2)
    return np.where(np.isfinite(out), out, np.nan).astype(np.float32)


def _binned_vars(values, var, unit, n_bin, reference_index, times, normalised, dark_note, where,
                 li=None, sigma_model=None):
    """Median-binned frames, ratio to the reference bin and its space-time map (lazy, dask).

    With ``li`` (a normalised series with ``li_roi``) also the Li thickness map and the ROI's
    Li change (:func:`_li_vars`).  Returns (data_vars, coords, attrs) to add to the input's
    dataset.
    """
    import dask.array as da

    from ssbscope.errors import ParameterError
    from ssbscope.neutron import bin_times

    n = values.shape[0]
    g = n // n_bin
    used = g * n_bin
    ny, nx = values.shape[1:]
    a = values[:used].rechunk({0: n_bin, 1: -1, 2: -1})
    binned = da.map_blocks(_median_bin_block, a, chunks=((1,) * g, (ny,), (nx,)), dtype=np.float32)
    # pixels with no finite value in a bin that do have one elsewhere in the series (not masked)
    masked = ~da.isfinite(a).any(axis=0)
    empty = da.map_blocks(_empty_block, a, masked, drop_axis=(1, 2), chunks=((1,) * g,),
                          dtype=np.int32)
    ref_idx = int(reference_index)
    if not 0 <= ref_idx < g:
        raise ParameterError("analysis.neutron.reference_index", ref_idx,
                             f"out of range for the {g} bin(s) of the neutron input {where}",
                             f"give a bin index from 0 to {g - 1}")
    ref = binned[ref_idx]  # one bin; dask computes it once for all ratio blocks
    ratio = da.map_blocks(_ratio_block, binned, ref[None], dtype=np.float32)
    prof = da.map_blocks(_row_mean, ratio, drop_axis=2, dtype=np.float32)
    dropped = n - used
    drop_note = (f"trailing {dropped} frame(s) ({used}-{n - 1}) dropped: fewer than {n_bin} "
                 "frames for a last bin" if dropped else "no frame dropped")
    first = np.arange(g) * n_bin
    coords = {"bin": np.arange(g),
              "frame_first": ("bin", first, {"description": "first frame of the bin"}),
              "frame_last": ("bin", first + n_bin - 1, {"description": "last frame of the bin"})}
    if times is not None:
        coords["time_s_bin"] = ("bin", bin_times(times, n_bin), {
            "units": "s", "description": "mean time of the frames of each bin"})
    if normalised:
        rname, rdesc = "transmission_ratio", (
            f"Tr_t/Tr_0 (002_ Section 2.2): binned transmission over bin {ref_idx}; < 1 Li "
            "enrichment, > 1 depletion; NaN where the reference is <= 0 or not finite")
    else:
        rname, rdesc = "count_ratio", (
            f"binned {dark_note} counts over bin {ref_idx}; equals Tr_t/Tr_0 only if the beam "
            "intensity is stable over the series (no open beam was given to normalise each frame"
            + ("" if dark_note.startswith("dark") else "; no dark was subtracted, so a camera offset "
               "pulls the ratio towards 1") + "); NaN where the reference is <= 0 or not finite")
    bin_desc = (f"pixel-wise median of {n_bin} consecutive frames (002_ Methods); {drop_note}; "
                "pixels with no finite value in a bin are NaN (masked pixels; others counted in empty_pixels)")
    # OME-Zarr images (ssbscope.ome): bin -> t by time_s_bin, y/x in um by pixel_size_um
    data = {
        f"{var}_binned": (("bin", "y", "x"), binned, {"units": unit, "description": bin_desc,
                                                      "ome_image": "image"}),
        rname: (("bin", "y", "x"), ratio, {"units": "1", "reference_bin": ref_idx, "description": rdesc,
                                           "ome_image": "image"}),
        "empty_pixels": ("bin", empty, {
            "units": "1", "description": "pixels with no finite value in the bin although finite "
            "in some other frame of the series (pixels masked in every frame not counted): NaN "
            "in the bin's median and ratio"}),
        "ratio_profile": (("bin", "y"), prof, {
            "units": "1", "ratio": rname, "description": f"space-time map: mean over x of {rname} "
            "per row and bin (rows along the stacking axis; NaN pixels left out)"}),
    }
    attrs = {"binning": f"{g} bin(s); {drop_note}",
             "bin_frames": int(n_bin), "reference_bin": ref_idx, "frames_dropped": int(dropped),
             "ome_default": rname}
    if sigma_model is not None and normalised:
        if sigma_model.get("gain") is not None:
            sig = da.map_blocks(_counting_se_block, binned, dtype=np.float32,
                                obdf=sigma_model["obdf"], gain=float(sigma_model["gain"]),
                                read_noise=float(sigma_model["read_noise"]), bg=float(sigma_model["bg"]),
                                n_bin=int(n_bin))
            sdesc = (f"counting statistics: sqrt(pi/2) sqrt(g (T (OB - DF) + B) + r^2) / (OB - DF) / "
                     f"sqrt({n_bin}) per bin, gain g = {float(sigma_model['gain']):g} ADU/count "
                     f"(gain_adu_per_count), read noise r = {float(sigma_model['read_noise']):.3g} ADU "
                     "(scatter of the dark frames)")
        else:
            sig = da.map_blocks(_median_se_block, a, chunks=((1,) * g, (ny,), (nx,)), dtype=np.float32)
            sdesc = ("standard error of each bin's median from the scatter of its frames (no "
                     "gain_adu_per_count; changes within a bin count as noise)")
        rsig = da.map_blocks(_ratio_sigma_block, ratio, binned, sig, binned[ref_idx][None],
                             sig[ref_idx][None], dtype=np.float32)
        data["transmission_ratio_sigma"] = (("bin", "y", "x"), rsig, {
            "units": "1", "description": "standard deviation of transmission_ratio from those of the bin "
            f"and the reference bin; transmission: {sdesc}"})
    if li is not None and normalised:
        ldata, lattrs = _li_vars(a, binned, ratio, ref_idx, g, li, where)
        data.update(ldata)
        attrs.update(lattrs)
    return data, coords, attrs


def _input_stage(ctx, inputs, *, path, fmt="auto", label, time_s=None, open_beam=None, dark=None,
                 frame_interval_s=None, pixel_size_um=None, flight_path_m=None, gamma_filter=True,
                 bin_frames=None, default_bin_frames=30, reference_index=0,
                 ratio_half_range=None, beam_roi=None, li_roi=None, li6_fraction=None,
                 wavelength_a=None, background_roi=None, gain_adu_per_count=None, ratio_sigma=False,
                 nan_policy="raise"):
    """Read one real radiograph series: clean, normalise when possible, mean series and profiles.

    ``nan_policy`` (``inputs.neutron[].nan_policy``) applies to the sample, open-beam and dark
    frames: pixels of infinite or negative counts refuse the input (``"raise"``) or become NaN
    (``"mask"``), each frame with masked pixels named in ``attrs["warnings"]``."""
    import dask.array as da
    import xarray as xr

    from ssbscope.errors import FileFormatError
    from ssbscope.neutron import remove_gamma_spots
    from ssbscope.neutron.io import _expand, read_series
    from ssbscope.neutron.normalization import MASK_REASONS, normalization_mask, normalize

    files = _expand(path, True)
    ext = {".fits": "fits", ".fit": "fits", ".fts": "fits", ".tif": "tiff", ".tiff": "tiff"}
    for f in files:
        kind = ext.get(f.suffix.lower())
        if fmt != "auto" and kind != fmt:
            raise FileFormatError(f, f"is not a {fmt.upper()} file (suffix {f.suffix!r})",
                                  "set format: auto or give files of that format")
    series = read_series(files, time_source="interval", frame_interval_s=1.0, nan_policy=nan_policy)
    warnings: list[str] = []
    for q in dict.fromkeys(series.paths):
        ctx.record_input(q)
    md = series.metadata
    n = len(series.time_s)
    where = str(files[0].parent)
    times, time_desc = _frame_times(md, n, frame_interval_s, time_s)
    if times is not None:
        times = _check_times(np.asarray(times, float), where)
    raw = series.images.astype(np.float32)
    shape_yx = tuple(raw.shape[1:])
    sat_note = "not tested (float data have no fixed full-well value)"
    if np.issubdtype(series.images.dtype, np.integer):
        full = np.iinfo(series.images.dtype).max
        sat = (series.images >= full).sum().compute()
        sat_note = f"{int(sat)} pixel values at the integer maximum {full}"
    if gamma_filter:
        if n >= 3:
            clean = remove_gamma_spots(raw, method="temporal")
            gamma_note = "temporal median of the 4 nearest frames, 5 sigma"
        else:
            clean = remove_gamma_spots(raw, method="spatial")
            gamma_note = "3 x 3 spatial median (fewer than 3 frames), 5 sigma"
        n_spots = (clean != raw).sum(axis=(1, 2))
    else:
        clean, gamma_note = raw, "off (gamma_filter: false)"
        n_spots = da.zeros(n, dtype=np.int64, chunks=n)
    attrs = {"label": label, "source": str(path), "files": [str(f) for f in files],
             "format": ext.get(files[0].suffix.lower(), "unknown"), "n_frames": int(n),
             "frame_shape_px": list(shape_yx), "time_source": time_desc, "gamma_filter": gamma_note,
             "saturation": sat_note, "paper": "002_3ee4edf529433f9c"}
    if pixel_size_um is not None:
        attrs["pixel_size_um"] = float(pixel_size_um)
    if time_s is not None:
        attrs["time_s"] = float(time_s)
    first = md.drop(columns=[c for c in ("path", "page", "time_s") if c in md]).iloc[0].to_dict()
    attrs["header_first_frame"] = json.dumps({k: (v if isinstance(v, (int, float, str, bool)) else str(v))
                                              for k, v in first.items()}, default=str)
    n_bin, bin_why = _binning(md, n, bin_frames, default_bin_frames, path)
    li = None
    if li_roi is not None:
        from ssbscope.errors import ParameterError

        if open_beam is None:
            raise ParameterError("inputs.neutron[].li_roi", li_roi, f"needs transmission: the neutron "
                                 f"input {path} has no open_beam", "give open_beam (and dark) frames")
        if n_bin is None:
            raise ParameterError("inputs.neutron[].li_roi", li_roi, f"needs a median-binned series "
                                 f"(Tr_t/Tr_0 per bin); the neutron input {path} is not binned ({bin_why})",
                                 "set the input's bin_frames (>= 2)")
        li = {"roi": _region_px(li_roi, "li_roi", shape_yx, pixel_size_um, path),
              "beam_roi": (_region_px(beam_roi, "beam_roi", shape_yx, pixel_size_um, path)
                           if beam_roi is not None else None),
              "gains_on_charge": bool(li_roi.get("gains_on_charge", True)),
              "pixel_size_um": pixel_size_um, "wavelength_a": wavelength_a,
              "li6_fraction": 0.0759 if li6_fraction is None else float(li6_fraction)}
    mask = np.zeros(shape_yx, np.uint8)
    if open_beam is not None:
        ob = _reference(open_beam, "open_beam", shape_yx, ctx, nan_policy, warnings)
        if dark is not None:
            df = _reference(dark, "dark", shape_yx, ctx, nan_policy, warnings)
            dark_note = f"median of {df.shape[0]} dark frame(s)"
        else:
            df = np.zeros(shape_yx, np.float32)
            dark_note = "no dark given: taken as 0 (camera offset not removed)"
        with warnings_module.catch_warnings():  # a pixel NaN in every frame stays NaN (masked below)
            warnings_module.simplefilter("ignore", RuntimeWarning)
            # NaN: a pixel flagged by the detector or masked by nan_policy, left out of the median
            obm = np.nanmedian(ob, axis=0)
            dfm = np.nanmedian(df, axis=0) if df.ndim == 3 else df
        mask = normalization_mask(obm, dfm)
        dfm = np.where((mask != 0) & ~np.isfinite(dfm), 0.0, dfm).astype(dfm.dtype)
        safe_ob = np.where(mask != 0, dfm + 1.0, obm)
        broi = None
        if beam_roi is not None:
            y0, y1, x0, x1 = _region_px(beam_roi, "beam_roi", shape_yx, pixel_size_um, path)
            broi = (y0, y1, x0, x1)
            attrs["beam_roi_px"] = json.dumps({"rows": [y0, y1], "cols": [x0, x1]})
        bg = 0.0
        bg_note = "no static background subtracted (no background_roi)"
        if background_roi is not None:
            y0, y1, x0, x1 = _region_px(background_roi, "background_roi", shape_yx, pixel_size_um, path)
            bg = float(da.nanmean(clean[:, y0:y1, x0:x1] - dfm[y0:y1, x0:x1].astype(np.float32)).compute())
            bg_note = (f"static background {bg:.4g} ADU (mean dark-subtracted signal in background_roi "
                       f"rows {y0}-{y1}, cols {x0}-{x1} over the series) subtracted from every frame")
            attrs["background_adu"] = bg
            attrs["background_roi_px"] = json.dumps({"rows": [y0, y1], "cols": [x0, x1]})
        values = normalize(clean, safe_ob, dfm, beam_roi=broi, background=bg)
        if ratio_sigma:
            rn = float(np.median(np.std(df, axis=0, ddof=1))) if df.ndim == 3 and df.shape[0] >= 2 else 0.0
            sigma_model = {"gain": gain_adu_per_count, "read_noise": rn, "bg": bg,
                           "obdf": np.where(mask != 0, np.nan, safe_ob - dfm).astype(np.float64)}
        values = da.where(da.from_array(mask != 0), np.float32(np.nan), values)
        var, unit = "transmission", "1"
        attrs.update({"normalised": True, "normalisation": f"Eq. 1 (I - DF) / (OB - DF); open beam: median "
                      f"of {ob.shape[0]} frame(s); {dark_note}; " + (
                          f"beam-intensity correction: each frame divided by its median in beam_roi "
                          f"rows {broi[0]}-{broi[1]}, cols {broi[2]}-{broi[3]}" if broi is not None else
                          "no beam-intensity correction (no beam_roi)"),
                      "background": bg_note,
                      "masked_pixels": json.dumps({MASK_REASONS[b]: int(np.count_nonzero(mask & b))
                                                   for b in MASK_REASONS if np.any(mask & b)}),
                      "mask_note": "masked pixels are NaN in transmission, reasons in mask_reason"})
    else:
        if dark is not None:
            df = _reference(dark, "dark", shape_yx, ctx, nan_policy, warnings)
            values = clean - np.median(df, axis=0).astype(np.float32)
            note = "dark subtracted"
        else:
            values = clean
            note = "raw"
        var, unit = "counts", "count"
        attrs.update({"normalised": False,
                      "normalisation": f"none: no open beam was given, values are {note} detector counts, "
                                       "not transmission; add open_beam: (and dark:) to normalise (Eq. 1)"})
    if not ratio_sigma or var != "transmission":
        sigma_model = None
    mean = da.nanmean(values, axis=(1, 2))
    prof = da.nanmean(values, axis=2)
    mean, prof, n_spots, n_masked = da.compute(mean, prof, n_spots, series.masked_pixels)
    if nan_policy != "raise":
        from ssbscope.neutron.io import mask_warnings

        warnings[:0] = mask_warnings(series, n_masked)
        attrs["nan_policy"] = nan_policy
        attrs["n_masked_pixels"] = int(np.sum(n_masked))
    if warnings:
        for w in warnings:
            log.warning(w)
        attrs["warnings"] = warnings
    frame = np.arange(n)
    data = {var: (("frame", "y", "x"), values.astype(np.float32), {"units": unit}),
            f"mean_{var}": (("frame",), np.asarray(mean, float), {"units": unit,
                            "description": "mean over the frame (masked pixels left out)"}),
            f"profile_{var}": (("frame", "y"), np.asarray(prof, np.float32),
                               {"units": unit, "description": "through-plane profile: mean over x "
                                "of each row (rows along the stacking axis)"}),
            "n_gamma_spots": (("frame",), np.asarray(n_spots, np.int64), {"units": "pixel"}),
            "mask_reason": (("y", "x"), mask, {"units": "1", "flag_meanings": json.dumps(
                {str(k): v for k, v in MASK_REASONS.items()})})}
    coords = {"frame": frame, "y": np.arange(shape_yx[0]), "x": np.arange(shape_yx[1])}
    if pixel_size_um is not None:  # y/x stay pixel indices (the ROIs are given in pixels)
        for d, n in (("y", shape_yx[0]), ("x", shape_yx[1])):
            coords[f"{d}_um"] = (d, (np.arange(n) + 0.5) * float(pixel_size_um),
                                 {"units": "um", "long_name": f"{d} (pixel centre)"})
    if times is not None:
        coords["time_s"] = ("frame", np.asarray(times, float))
    for key, (nm, u, dt) in _TOF_KEYS.items():
        if key in md and md[key].notna().all():
            coords[nm] = ("frame", md[key].to_numpy(dt), {"units": u, "header_keyword": key})
    if "tof_s" in coords and flight_path_m is not None:
        coords["wavelength_a"] = ("frame", H_OVER_MN_A_M_S * np.asarray(coords["tof_s"][1], float)
                                  / float(flight_path_m), {"units": "angstrom", "description":
                                                           f"h t / (m_n L), L = {flight_path_m:g} m"})
        attrs["flight_path_m"] = float(flight_path_m)
    if n_bin is None:
        attrs["binning"] = bin_why
    else:
        bdata, bcoords, battrs = _binned_vars(values, var, unit, n_bin, reference_index, times,
                                              var == "transmission", note if var == "counts" else "",
                                              path, li=li, sigma_model=sigma_model)
        if ratio_half_range is not None:
            bdata["ratio_profile"][2]["colour_half_range"] = float(ratio_half_range)
        data.update(bdata)
        coords.update(bcoords)
        attrs.update(battrs)
        attrs["binning"] = f"{bin_why}: {battrs['binning']}"
    ds = xr.Dataset(data, coords=coords, attrs=attrs)
    return {f"neutron/input/{label}": ds}


def input_stages(exp) -> list:
    """Stages reading an experiment's real neutron radiograph series (``ssbscope run``).

    Each ``inputs.neutron`` entry (a file, folder or glob pattern read as one series, FITS or
    TIFF) becomes ``neutron/input/<label>``: gamma spots removed
    (:func:`ssbscope.neutron.remove_gamma_spots`), normalised by Eq. 1 of 002_3ee4edf529433f9c
    when ``open_beam`` is given, else kept as detector counts (attribute ``normalisation``
    says so), with the mean per frame, the through-plane profile per frame, frame times
    (``frame_interval_s``, or ``TIME_S``/``DATE-OBS`` headers; offset by the input's
    ``time_s``) and time-of-flight header values.

    Binning (002_ Methods): the input's ``bin_frames`` when given (1 = off; more than the
    series' frames raises :class:`ssbscope.errors.ParameterError`), else
    ``analysis.neutron.bin_frames`` for a time series (no time-of-flight header keys) of at
    least that many frames.  A binned series adds ``<var>_binned`` (pixel-wise median of each
    group of consecutive frames, a trailing partial group dropped; coordinates ``bin``,
    ``frame_first``, ``frame_last`` and ``time_s_bin``, the mean frame time per bin), the ratio
    to bin ``analysis.neutron.reference_index`` (``transmission_ratio`` = Tr_t/Tr_0, or
    ``count_ratio`` for raw counts, NaN where the reference is invalid) and the space–time map
    ``ratio_profile`` (mean over x per row and bin).  ``<var>_binned`` and the ratio are
    OME-Zarr images (:mod:`ssbscope.ome`; napari shows the ratio movie): t from
    ``time_s_bin`` (s), y/x in um from ``pixel_size_um``.  The attribute ``binning`` says what was
    done or why not.  Everything stays a dask graph until the store writes it (one bin of
    frames in memory at a time, plus the reference bin).

    ``beam_roi`` (an open-beam region) divides each normalised frame by its median there
    (beam-intensity correction).  ``li_roi`` (a binned, normalised series) adds the Li change
    (:mod:`ssbscope.neutron.lithium` for the geometry): ``li_thickness_change_um`` (bin, y, x:
    change of the Li-metal-equivalent path length along the beam per pixel since the reference
    bin, Beer–Lambert with the cold-spectrum hardening or at ``wavelength_a``, ``li6_fraction``),
    its region mean ``li_thickness_change_roi_um`` with ``li_thickness_change_roi_sigma_um``
    (counting noise, plus the beam-correction noise with ``beam_roi``), ``li_roi_valid_pixels``
    and, with ``pixel_size_um``, ``li_volume_change_roi_um3`` (± ``..._sigma_um3``): the Li
    volume change in the cell behind the region, which ``correlate/states`` compares with
    Faraday's law over the electrode area.  Positive = Li gained.

    ``background_roi`` (behind a neutron-opaque marker) subtracts the mean dark-subtracted signal
    there over the series (static background) from every frame before Eq. 1.  ``regions``
    (named rectangles) adds ``transmission_ratio_sigma`` (counting statistics with
    ``gain_adu_per_count`` and the dark frames' read noise, else the scatter of each bin's
    frames) and a stage ``neutron.analyse.<label>`` (labels ``input``, ``twin``, ``ct`` are
    refused) writing, with the thresholds of ``analysis.neutron``:

    * ``neutron/<label>/spacetime``: ``ratio``/``ratio_sigma`` (region, bin, y; NaN outside the
      region's rows; coordinate ``time_s`` per bin), ``soft_short_onset_s`` per region (-1: none;
      :func:`ssbscope.neutron.analysis.soft_short_onset` on the region's bands), attribute
      ``soft_short_onset_s`` of ``analysis.neutron.onset_region`` (default the first region);
    * ``neutron/<label>/bands``: ``region``, ``row0_px``/``row1_px``, ``position_px``, ``sign``
      (+1 enrichment), ``kind``, ``final_ratio``, ``onset_s``, ``series_ratio``/``series_sigma``
      (band, bin) (:func:`ssbscope.neutron.analysis.detect_bands`);
    * ``neutron/<label>/boundaries``: ``boundary_region``, ``position_px`` (frame row), ``step``
      and ``profile_transmission`` (region, y) of the reference bin
      (:func:`ssbscope.neutron.analysis.layer_boundaries`).

    Parameters
    ----------
    exp : ssbscope.config.Experiment

    Returns
    -------
    list of ssbscope.pipeline.Stage
        Empty when the experiment has no neutron inputs.
    """
    from ssbscope.pipeline import Stage

    stages = []
    for item, name in input_labels(exp):
        if getattr(item, "kind", "radiography") == "projections":
            stages.append(_ct_scan_stage_of(exp, item, name))
            continue
        params = {"path": str(exp.resolve(item.path)), "fmt": item.format, "label": name,
                  "time_s": item.time_s,
                  "open_beam": str(exp.resolve(item.open_beam)) if item.open_beam else None,
                  "dark": str(exp.resolve(item.dark)) if item.dark else None,
                  "frame_interval_s": item.frame_interval_s, "pixel_size_um": item.pixel_size_um,
                  "flight_path_m": getattr(item, "flight_path_m", None),
                  "gamma_filter": bool(getattr(item, "gamma_filter", True)),
                  "bin_frames": getattr(item, "bin_frames", None),
                  "default_bin_frames": int(exp.analysis.neutron.bin_frames),
                  "reference_index": int(exp.analysis.neutron.reference_index)}
        if getattr(item, "nan_policy", "raise") != "raise":  # only when set: older runs keep their cache
            params["nan_policy"] = item.nan_policy
        if exp.analysis.neutron.ratio_half_range is not None:  # keeps older runs' parameters
            params["ratio_half_range"] = float(exp.analysis.neutron.ratio_half_range)
        # new keys only when set, so that runs without them keep their parameters (and cache)
        if getattr(item, "beam_roi", None) is not None:
            params["beam_roi"] = item.beam_roi.model_dump(mode="json")
        if getattr(item, "li_roi", None) is not None:
            params["li_roi"] = item.li_roi.model_dump(mode="json")
            params["li6_fraction"] = float(item.li6_fraction)
            if item.wavelength_a is not None:
                params["wavelength_a"] = float(item.wavelength_a)
        if getattr(item, "background_roi", None) is not None:
            params["background_roi"] = item.background_roi.model_dump(mode="json")
        regions = getattr(item, "regions", None)
        if regions:
            params["ratio_sigma"] = True
            if item.gain_adu_per_count is not None:
                params["gain_adu_per_count"] = float(item.gain_adu_per_count)
        stages.append(Stage(f"neutron.input.{name}", _input_stage, outputs=(f"neutron/input/{name}",),
                            params=params, long=True))
        if regions:
            stages.append(_analysis_stage(exp, item, name))
    cd = getattr(exp.analysis.neutron, "ct_difference", None)
    if cd is not None:
        stages.append(_ct_difference_stage_of(exp, cd, stages))
    return stages


def input_labels(exp) -> list:
    """``(item, label)`` of every ``inputs.neutron`` entry: the label of its store keys
    (``neutron/input/<label>``, ``neutron/<label>/...``): the item's label, else its file stem,
    made unique by ``_2``, ``_3`` ...  """

    out, used = [], set()
    for item in getattr(exp.inputs, "neutron", []) or []:
        stem = Path(item.path).name.split("*")[0].rstrip("_-.") or Path(item.path).stem
        base = _slug(item.label or stem)
        name, k = base, 1
        while name in used:
            k += 1
            name = f"{base}_{k}"
        used.add(name)
        out.append((item, name))
    return out


def _ct_scan_stage_of(exp, item, name):
    """The reconstruction stage of one neutron CT scan (``kind: projections``)."""
    from ssbscope.errors import ConfigError
    from ssbscope.pipeline import Stage

    src = getattr(exp, "base_dir", None) or "experiment"
    if name in _RESERVED:
        raise ConfigError(src, [("inputs.neutron[].label", f"{name!r} (CT scan {item.path}) clashes "
                                 f"with the store keys neutron/{name}/...; give the scan another label")])
    if item.open_beam is None or item.pixel_size_um is None:
        raise ConfigError(src, [("inputs.neutron[]", f"the CT scan {item.path} (kind projections) "
                                 "needs open_beam (and dark) frames and pixel_size_um")])
    params = {"path": str(exp.resolve(item.path)), "label": name,
              "open_beam": str(exp.resolve(item.open_beam)),
              "dark": str(exp.resolve(item.dark)) if item.dark else None,
              "pixel_size_um": float(item.pixel_size_um),
              "angles": str(exp.resolve(item.angles)) if item.angles else None,
              "angle_range_deg": list(item.angle_range_deg) if item.angle_range_deg else None,
              "center_px": item.center_px}
    if getattr(item, "nan_policy", "raise") != "raise":
        params["nan_policy"] = item.nan_policy
    return Stage(f"neutron.ct.{name}", _ct_scan_stage, outputs=(f"neutron/{name}/volume",),
                 params=params, long=True)


def _ct_difference_stage_of(exp, cd, stages):
    """The before/after difference stage (``analysis.neutron.ct_difference``)."""
    from ssbscope.errors import ConfigError
    from ssbscope.pipeline import Stage

    src = getattr(exp, "base_dir", None) or "experiment"
    have = {st.outputs[0].split("/")[1] for st in stages if st.name.startswith("neutron.ct.")}
    for key, lab in (("before", cd.before), ("after", cd.after)):
        if lab not in have:
            raise ConfigError(src, [(f"analysis.neutron.ct_difference.{key}",
                                     f"{lab!r} is not the label of a neutron CT scan (inputs.neutron "
                                     f"with kind: projections; have {sorted(have) or 'none'})")])
    return Stage("neutron.ct_difference", _ct_difference_stage,
                 inputs=(f"neutron/{cd.before}/volume", f"neutron/{cd.after}/volume"),
                 outputs=("neutron/ct",),
                 params={"before": cd.before, "after": cd.after,
                         "threshold_sigma": float(cd.threshold_sigma),
                         "smooth_sigma_vox": float(cd.smooth_sigma_vox),
                         "min_component_vox": int(cd.min_component_vox)})


#: Labels that cannot name an input with regions (their keys neutron/<label>/... are taken).
_RESERVED = ("input", "twin", "ct")


def _analysis_stage(exp, item, name):
    """The band analysis stage of one input with ``regions`` (see :func:`input_stages`)."""
    from ssbscope.errors import ConfigError
    from ssbscope.pipeline import Stage

    src = getattr(exp, "base_dir", None) or "experiment"
    if name in _RESERVED:
        raise ConfigError(src, [("inputs.neutron[].label", f"{name!r} (input {item.path}, with regions) "
                                 f"clashes with the store keys neutron/{name}/...; give the input another label")])
    an = exp.analysis.neutron
    regions = {k: v.model_dump(mode="json") for k, v in item.regions.items()}
    onset_region = an.onset_region if an.onset_region is not None else next(iter(regions))
    if onset_region not in regions:
        raise ConfigError(src, [("analysis.neutron.onset_region", f"{onset_region!r} is not a region of "
                                 f"the neutron input {item.path} (regions: {', '.join(regions)}); name one "
                                 "of them or leave it out")])
    if item.open_beam is None:
        raise ConfigError(src, [("inputs.neutron[].regions", f"the band analysis of {item.path} needs "
                                 "Tr_t/Tr_0: give open_beam (and dark) frames")])
    params = {"label": name, "regions": regions, "onset_region": onset_region,
              "pixel_size_um": item.pixel_size_um,
              "band_threshold_sigma": float(an.band_threshold_sigma),
              "band_min_change": float(an.band_min_change),
              "onset_threshold_sigma": float(an.onset_threshold_sigma),
              "boundary_threshold_sigma": float(an.boundary_threshold_sigma)}
    outs = tuple(f"neutron/{name}/{p}" for p in ("spacetime", "bands", "boundaries"))
    return Stage(f"neutron.analyse.{name}", _analyse_input_stage, inputs=(f"neutron/input/{name}",),
                 outputs=outs, params=params)


def _analyse_input_stage(ctx, inputs, *, label, regions, onset_region, pixel_size_um=None,
                         band_threshold_sigma=6.0, band_min_change=0.01, onset_threshold_sigma=4.0,
                         boundary_threshold_sigma=8.0):
    """Space-time maps, bands, soft-short onset and layer boundaries of one input's regions."""
    import xarray as xr

    from ssbscope.errors import ParameterError
    from ssbscope.neutron import ROI, detect_bands, layer_boundaries, profile, space_time_map
    from ssbscope.neutron.analysis import soft_short_onset

    ds = inputs[f"neutron/input/{label}"]
    where = ds.attrs.get("source", label)
    for v in ("transmission_ratio", "transmission_ratio_sigma", "transmission_binned"):
        if v not in ds:
            raise ParameterError(f"inputs.neutron[{label}].regions", list(regions),
                                 f"need a median-binned, normalised series; the neutron input {where} "
                                 f"has no {v} ({ds.attrs.get('binning', '')})",
                                 "give open_beam and enough frames for a bin (bin_frames)")
    if "time_s_bin" not in ds.coords:
        raise ParameterError(f"inputs.neutron[{label}].regions", list(regions),
                             f"need frame times; the neutron input {where} has none",
                             "give frame_interval_s or frames with TIME_S / DATE-OBS headers")
    ratio = np.ma.masked_invalid(ds["transmission_ratio"].values.astype(np.float64))
    sig = np.nan_to_num(ds["transmission_ratio_sigma"].values.astype(np.float64), nan=0.0)
    ref = int(ds.attrs.get("reference_bin", 0))
    tr0 = np.ma.masked_invalid(ds["transmission_binned"].values[ref].astype(np.float64))
    t = ds["time_s_bin"].values.astype(float)
    shape_yx = ratio.shape[1:]
    ny = shape_yx[0]
    names = list(regions)
    st = np.full((len(names), t.size, ny), np.nan)
    st_sig = np.full_like(st, np.nan)
    tprof = np.full((len(names), ny), np.nan)
    rows, onsets, onset_band, bnd_rows, roi_px = [], {}, {}, [], {}
    for k, nm in enumerate(names):
        y0, y1, x0, x1 = _region_px(regions[nm], f"regions.{nm}", shape_yx, pixel_size_um, where)
        roi_px[nm] = [y0, y1, x0, x1]
        roi = ROI(y0, y1, x0, x1, name=nm)
        m = space_time_map(ratio, roi, t, sig)
        st[k, :, y0:y1] = m.ratio
        st_sig[k, :, y0:y1] = m.sigma
        bands = detect_bands(m, threshold_sigma=band_threshold_sigma, min_change=band_min_change)
        ts, _, in_band = soft_short_onset(bands, t, threshold_sigma=onset_threshold_sigma)
        onsets[nm] = -1.0 if ts is None else float(ts)
        onset_band[nm] = in_band or ""
        for b in bands:
            rows.append(dict(region=nm, position_px=b.position_px, row0_px=b.rows[0], row1_px=b.rows[1],
                             sign=b.sign, kind=b.kind, final_ratio=b.final_ratio, onset_s=b.onset_s,
                             series=b.series, series_sigma=b.series_sigma))
        prof = profile(tr0, roi)
        tprof[k, y0:y1] = prof
        lb = layer_boundaries(prof, threshold_sigma=boundary_threshold_sigma)
        for pos, step in zip(lb.position_px, lb.step):
            bnd_rows.append((nm, float(pos) + y0, float(step)))
    y = np.arange(ny)
    tc = {"time_s": ("bin", t, {"units": "s", "description": "mean time of the frames of each bin"})}
    if "y_um" in ds.coords:  # the rows' physical position (pixel centres), as in the input
        tc["y_um"] = ("y", np.asarray(ds["y_um"].values, float), {"units": "um",
                                                                   "long_name": "y (pixel centre)"})
    region = np.array(names, dtype=object)
    st_ds = xr.Dataset(
        {"ratio": (("region", "bin", "y"), st.astype(np.float32), {
            "units": "1", "description": "space-time map: Tr_t/Tr_0 averaged over the region's columns per "
            "row and bin (002_ Fig. 2D,E); NaN outside the region's rows"}),
         "ratio_sigma": (("region", "bin", "y"), st_sig.astype(np.float32), {
             "units": "1", "description": "standard deviation of ratio (pixels independent)"}),
         "soft_short_onset_s": ("region", np.array([onsets[n] for n in names]), {
             "units": "s", "description": "soft-short onset found in the region's bands (-1: none)"}),
         "onset_band": ("region", np.array([onset_band[n] for n in names], dtype=object))},
        coords={"region": region, "bin": np.arange(t.size), "y": y, **tc,
                "region_px": (("region", "corner"), np.array([roi_px[n] for n in names], np.int64))})
    st_ds.attrs.update({
        "label": label, "onset_region": onset_region,
        "soft_short_onset_s": float(onsets[onset_region]),
        "soft_short_onset_by_region_s": json.dumps(onsets),
        "regions_px": json.dumps({n: dict(zip(("y0", "y1", "x0", "x1"), roi_px[n])) for n in names}),
        "onset_method": ("ssbscope.neutron.analysis.soft_short_onset: earliest fluctuation onset over "
                         f"the region's bands ({onset_threshold_sigma:g} sigma)"),
        "paper": "002_3ee4edf529433f9c"})
    nb = len(rows)
    # P1-P4 from the data: position against the Li foil of the onset (middle) region's
    # reference profile, sign of the change (ssbscope.neutron.band_names)
    from ssbscope.errors import InputError
    from ssbscope.neutron.band_names import name_bands

    band_names, geom = [""] * nb, None
    if nb:
        try:
            band_names, geom = name_bands([r["position_px"] for r in rows],
                                          [r["sign"] for r in rows],
                                          [r["final_ratio"] for r in rows],
                                          tprof[names.index(onset_region)])
        except InputError as exc:
            log.warning("%s: bands not named (%s)", where, exc)
    bands_ds = xr.Dataset(
        {"region": ("band", np.array([r["region"] for r in rows], dtype=object)),
         "position_px": ("band", np.array([r["position_px"] for r in rows], float),
                         {"units": "pixel", "description": "|change|-weighted centroid row"}),
         "row0_px": ("band", np.array([r["row0_px"] for r in rows], np.int64)),
         "row1_px": ("band", np.array([r["row1_px"] for r in rows], np.int64),
                     {"description": "last row + 1"}),
         "sign": ("band", np.array([r["sign"] for r in rows], np.int64),
                  {"description": "+1 enrichment (Tr_t/Tr_0 < 1), -1 depletion"}),
         "kind": ("band", np.array([r["kind"] for r in rows], dtype=object)),
         "name": ("band", np.array(band_names, dtype=object), {
             "description": "Cao et al. 2023 Fig. 2D-E band from position and sign "
             "(ssbscope.neutron.band_names.name_bands): P1 cathode depletion, P2 SE|Li "
             "enrichment, P3 Li-foil depletion, P4 enrichment beyond the foil (collector "
             "side); '' none"}),
         "final_ratio": ("band", np.array([r["final_ratio"] for r in rows], float), {"units": "1"}),
         "onset_s": ("band", np.array([r["onset_s"] for r in rows], float), {"units": "s"}),
         "series_ratio": (("band", "bin"), np.array([r["series"] for r in rows], float).reshape(nb, t.size),
                          {"units": "1", "description": "band-mean Tr_t/Tr_0 per bin"}),
         "series_sigma": (("band", "bin"), np.array([r["series_sigma"] for r in rows], float).reshape(nb, t.size),
                          {"units": "1"})},
        coords={"bin": np.arange(t.size), **tc})
    bands_ds.attrs.update({"label": label, "threshold_sigma": float(band_threshold_sigma),
                           "min_change": float(band_min_change)})
    if geom is not None:
        bands_ds.attrs.update({"li_foil_rows_px": list(geom.li_rows),
                               "se_li_interface_px": geom.se_face_px,
                               "li_collector_face_px": geom.cc_face_px,
                               "naming_region": onset_region})
    bnd = xr.Dataset(
        {"boundary_region": ("boundary", np.array([b[0] for b in bnd_rows], dtype=object),
                             {"description": "region whose profile has the boundary"}),
         "position_px": ("boundary", np.array([b[1] for b in bnd_rows], float),
                         {"units": "pixel", "description": "frame row of the step (subpixel)"}),
         "step": ("boundary", np.array([b[2] for b in bnd_rows], float),
                  {"units": "1/pixel", "description": "signed derivative of the profile at the boundary "
                   "(> 0: transmission rises with the row)"}),
         "profile_transmission": (("region", "y"), tprof.astype(np.float32), {
             "units": "1", "description": f"transmission of the reference bin {ref} averaged over the "
             "region's columns per row"})},
        coords={"region": region, "y": y, **({"y_um": tc["y_um"]} if "y_um" in tc else {})})
    bnd.attrs.update({"label": label, "threshold_sigma": float(boundary_threshold_sigma)})
    return {f"neutron/{label}/spacetime": st_ds, f"neutron/{label}/bands": bands_ds,
            f"neutron/{label}/boundaries": bnd}
