"""Pipeline stages of the neutron area (``ssbscope demo``), 002_3ee4edf529433f9c.

:func:`demo_stages` runs the neutron twin the way a user's files go:

1. ``neutron.twin`` writes the radiograph series (TIFF with ``TIME_S``/``DATE-OBS`` in the
   description and matching file times; the FITS writer/reader is exercised by the tests),
   open-beam and dark frames into ``ctx.raw_dir/neutron`` and stores the ground truth
   (``neutron/twin/truth``); the before/after CT volumes go to ``raw_dir/neutron/ct`` as
   float32 TIFF stacks (truth of their difference: ``neutron/twin/ct``).
2. ``neutron.reduce`` reads the FITS series and streams it through saturated-pixel and
   gamma-spot removal, static-background subtraction, Eq. 1 with beam-intensity correction and
   30-frame median binning to Tr_t/Tr_0 maps with counting uncertainty and the Li thickness
   change (``neutron/radiographs``).
3. ``neutron.analyse``: layer boundaries, space–time maps of regions I (cell middle) and II
   (cell edge), bands P1–P4 and the soft-short onset (``neutron/spacetime``,
   ``neutron/bands``, ``neutron/boundaries``).
4. ``neutron.ct``: registration and attenuation increment of the CT pair (``neutron/ct``).
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np

__all__ = ["demo_stages", "TWIN_SIZES"]

log = logging.getLogger(__name__)

#: Twin sizes: frames, frame interval (s), field (px), static background (1 % of the open
#: beam, removed with the Cd-marker region).  All cover 8 h of the C/20 charge (soft short
#: at 4.5 h) in 30-frame bins of at most 30 min (longer bins average the fluctuations away).
TWIN_SIZES = {
    "tiny": dict(n_frames=480, frame_interval_s=60.0, shape_yx=(48, 96), background_fraction=0.01),
    "small": dict(n_frames=480, frame_interval_s=60.0, shape_yx=(64, 96), background_fraction=0.01),
    "medium": dict(n_frames=1440, frame_interval_s=20.0, shape_yx=(64, 96), background_fraction=0.01),
}


def _size(config) -> str:
    twin = getattr(config, "twin", None)
    return getattr(twin, "size", "small") if twin is not None else "small"


def _twin_stage(ctx, inputs, *, size: str = "small"):
    import xarray as xr

    from ssbscope.neutron import median_bin
    from ssbscope.twin.neutron import simulate_ct, simulate_radiography, write_ct, write_series

    seed = int(ctx.seed)
    tw = simulate_radiography(seed=seed, **TWIN_SIZES.get(size, TWIN_SIZES["small"]))
    raw = Path(ctx.raw_dir) / "neutron"
    files = write_series(tw, raw, fmt="tiff")  # astropy FITS I/O is ~10x slower per file
    tr = tw.truth
    cfg = tw.config
    n = 30
    g = tw.images.shape[0] // n
    t_bin = tw.time_s[: g * n].reshape(g, n).mean(axis=1)
    bands = tr.bands
    names = list(bands)
    truth = xr.Dataset(
        {
            "transmission_true": (("time_s", "y", "x"), median_bin(tr.transmission, n)),
            "delta_li_true_um": (("time_s", "y", "x"), median_bin(tr.delta_li_um, n)),
            "beam_scale_ratio": (("frame",), tr.beam_scale),
            "frame_time_s": (("frame",), tw.time_s),
            "voltage_V": (("voltage_time_s",), tr.voltage_V),
            "band_row0_px": (("band",), np.array([bands[b]["rows"][0] for b in names], np.int64)),
            "band_row1_px": (("band",), np.array([bands[b]["rows"][1] for b in names], np.int64)),
            "band_sign": (("band",), np.array([bands[b]["sign"] for b in names], np.int64)),
            "band_roi": (("band",), np.array([bands[b]["roi"] for b in names], dtype=object)),
            "band_onset_s": (("band",), np.array([bands[b]["onset_s"] for b in names], float)),
        },
        coords={"time_s": t_bin, "voltage_time_s": tr.voltage_time_s,
                "band": np.array(names, dtype=object)})
    truth["transmission_true"].attrs["units"] = "1"
    truth.attrs.update({
        "soft_short_onset_s": float(tr.soft_short_onset_s) if tr.soft_short_onset_s is not None else -1.0,
        "layer_boundaries_px": json.dumps(tr.layer_boundaries_px),
        "rois": json.dumps({k: list(v) for k, v in tr.rois.items()}),
        "pixel_size_um": cfg.pixel_size_um, "bin_n": n, "size": size,
        "gain_adu_per_count": cfg.gain_adu_per_count, "read_noise_adu": cfg.read_noise_adu,
        "paper": "002_3ee4edf529433f9c", "raw_dir": str(raw),
        "n_sample_files": len(files["sample"]),
    })
    ct = simulate_ct(seed=seed)
    ct_files = write_ct(ct, raw / "ct")
    dims = ("z", "y", "x")
    ctds = xr.Dataset({"increment_true_1_cm": (dims, ct.increment_true)})
    ctds.attrs.update({"voxel_size_um": ct.voxel_size_um, "shift_zyx_vox": list(ct.shift_zyx_vox),
                       "before_file": ct_files["before"], "after_file": ct_files["after"]})
    return {"neutron/twin/truth": truth, "neutron/twin/ct": ctds}


def _reduce_stage(ctx, inputs):
    from ssbscope.neutron import li_thickness_change_um, li_thickness_sigma_um, read_series
    from ssbscope.neutron.stream import reduce_series

    truth = inputs["neutron/twin/truth"]
    raw = Path(truth.attrs["raw_dir"])
    rois = json.loads(truth.attrs["rois"])
    for sub in ("sample", "open_beam", "dark"):
        for p in sorted((raw / sub).glob("*.tif")):
            ctx.record_input(p)
    series = read_series(raw / "sample")
    ob = read_series(raw / "open_beam").load()
    df = read_series(raw / "dark").load()
    rs = reduce_series(series, ob, df, bin_n=int(truth.attrs["bin_n"]), beam_roi=tuple(rois["beam"]),
                       background_roi=tuple(rois["background"]),
                       gain_adu_per_count=float(truth.attrs["gain_adu_per_count"]),
                       read_noise_adu=float(truth.attrs["read_noise_adu"]))
    ds = rs.to_xarray()
    dli = li_thickness_change_um(rs.ratio, rs.transmission[0], mask=rs.mask != 0)
    ds["delta_li_um"] = (("time_s", "y", "x"), np.ma.filled(dli, 0.0).astype(np.float32))
    ds["delta_li_um"].attrs["long_name"] = "Li-metal-equivalent path-length change (natural Li, CG-1D spectrum)"
    dsig = li_thickness_sigma_um(rs.ratio, rs.ratio_sigma, rs.transmission[0])
    ds["delta_li_sigma_um"] = (("time_s", "y", "x"), np.ma.filled(dsig, 0.0).astype(np.float32))
    ds["beam_factor_ratio"] = (("frame",), rs.beam_factors)
    ds["n_spots_counts"] = (("frame",), rs.n_spots)
    ds.attrs.update({"rois": truth.attrs["rois"], "pixel_size_um": truth.attrs["pixel_size_um"],
                     "source": str(raw / "sample")})
    return {"neutron/radiographs": ds}


def _analyse_stage(ctx, inputs):
    import xarray as xr

    from ssbscope.neutron import ROI, detect_bands, layer_boundaries, profile, space_time_map
    from ssbscope.neutron.analysis import soft_short_onset

    rd = inputs["neutron/radiographs"].load()
    rois = json.loads(rd.attrs["rois"])
    ratio = rd["ratio"].values
    sig = rd["ratio_sigma"].values
    t = rd["time_s"].values
    maps, rows, onsets = [], [], {}
    for name in ("I", "II"):
        st = space_time_map(ratio, ROI(*rois[name], name=name), t, sig)
        maps.append(st)
        bands = detect_bands(st)
        ts, idx, where = soft_short_onset(bands, t)
        onsets[name] = -1.0 if ts is None else ts
        for b in bands:
            rows.append(dict(roi=name, position_px=b.position_px, row0_px=b.rows[0], row1_px=b.rows[1],
                             sign=b.sign, kind=b.kind, final_ratio=b.final_ratio, onset_s=b.onset_s,
                             series=b.series))
    st_ds = xr.Dataset(
        {"ratio": (("roi", "time_s", "position_px"), np.stack([m.ratio for m in maps])),
         "ratio_sigma": (("roi", "time_s", "position_px"), np.stack([m.sigma for m in maps]))},
        coords={"roi": np.array(["I", "II"], dtype=object), "time_s": t,
                "position_px": maps[0].position_px})
    st_ds["ratio_sigma"].attrs["units"] = "1"
    # the soft short shows at the electrochemically active layers across the cell middle
    # (region I, 002_ Fig. 2D); region II (edge) is reported beside it
    st_ds.attrs.update({"soft_short_onset_s": float(onsets["I"]),
                        "soft_short_onset_by_roi_s": json.dumps(onsets)})
    bands_ds = xr.Dataset(
        {"roi": ("band", np.array([r["roi"] for r in rows], dtype=object)),
         "position_px": ("band", np.array([r["position_px"] for r in rows], float)),
         "row0_px": ("band", np.array([r["row0_px"] for r in rows], np.int64)),
         "row1_px": ("band", np.array([r["row1_px"] for r in rows], np.int64)),
         "sign": ("band", np.array([r["sign"] for r in rows], np.int64)),
         "kind": ("band", np.array([r["kind"] for r in rows], dtype=object)),
         "final_ratio": ("band", np.array([r["final_ratio"] for r in rows], float)),
         "onset_s": ("band", np.array([r["onset_s"] for r in rows], float)),
         "series_ratio": (("band", "time_s"), np.array([r["series"] for r in rows]).reshape(len(rows), t.size))},
        coords={"time_s": t})
    prof = profile(rd["transmission"].values[0], ROI(*rois["I"], name="I"))
    lb = layer_boundaries(prof)
    bnd = xr.Dataset({"position_px": ("boundary", lb.position_px),
                      "step_ratio": ("boundary", lb.step),
                      "profile_ratio": ("row", prof)})
    return {"neutron/spacetime": st_ds, "neutron/bands": bands_ds, "neutron/boundaries": bnd}


def _ct_stage(ctx, inputs):
    import xarray as xr

    from ssbscope.neutron import ct_difference

    import tifffile

    ct = inputs["neutron/twin/ct"]
    vols = []
    for key in ("before_file", "after_file"):
        path = ctx.record_input(ct.attrs[key])
        vols.append(tifffile.imread(path))
    res = ct_difference(vols[0], vols[1])
    dims = ("z", "y", "x")
    ds = xr.Dataset({"increment_1_cm": (dims, res.increment),
                     "increase_mask": (dims, res.increase_mask),
                     "decrease_mask": (dims, res.decrease_mask)})
    ds.attrs.update({"shift_zyx_vox": list(res.shift_zyx_vox), "noise_1_cm": res.noise,
                     "method": res.method, "voxel_size_um": float(ct.attrs["voxel_size_um"])})
    return {"neutron/ct": ds}


def demo_stages(config=None) -> list:
    """The neutron stages of ``ssbscope demo`` (twin → reduce → analyse, and CT).

    Parameters
    ----------
    config : ssbscope.config.Experiment, optional
        Its ``twin.size`` picks the series length (:data:`TWIN_SIZES`).

    Returns
    -------
    list of ssbscope.pipeline.Stage
    """
    from ssbscope.pipeline import Stage

    size = _size(config)
    return [
        Stage("neutron.twin", _twin_stage, outputs=("neutron/twin/truth", "neutron/twin/ct"),
              params={"size": size}),
        Stage("neutron.reduce", _reduce_stage, inputs=("neutron/twin/truth",),
              outputs=("neutron/radiographs",), long=True),
        Stage("neutron.analyse", _analyse_stage, inputs=("neutron/radiographs",),
              outputs=("neutron/spacetime", "neutron/bands", "neutron/boundaries")),
        Stage("neutron.ct", _ct_stage, inputs=("neutron/twin/ct",), outputs=("neutron/ct",)),
    ]
