"""Pipeline stages of the X-ray tomography area.

``ssbscope run`` on a user's scans (:func:`input_stages`): the inputs are grouped by
``series``; each scan is reconstructed (projections: flat/dark, -ln, zingers, centre search,
rings, FBP) or read (volumes) -> ``tomo/<series>/scans/<label>``; a series whose cell declares
its layers is registered, segmented and measured against them (:mod:`ssbscope.tomo.series`)
-> ``tomo/<series>/volumes``, ``/labels``, ``/metrics``, ``/maps`` on ``time_s``
(:func:`scan_times`).  The demo's anode-free series (Sandoval et al. 2025,
doi:10.1039/d5eb00111k) goes this way too: the twin writes its scans as Data Exchange files.

The demo's soft-short pellet (Cao et al. 2023, doi:10.1002/adfm.202307998, Fig. 3F-J;
:func:`ssbscope.twin.folder.soft_short_part`) is a one-scan series of its own cell: its
Li-connected vs isolated low-attenuation volumes and the layer fractions of the electrolyte
are the series' metrics.  ``analysis.tomo`` holds the settings of every series, and
``analysis.tomo.series.<name>`` the ones that differ for one series
(:meth:`ssbscope.config.TomoAnalysis.for_series`); shared layer names a series' cell lacks but
another series' declares are skipped for that series (:func:`_series_settings`).

The twin uses coarser voxels (3 µm) and a lower energy (22 keV) than the papers (1.6-1.8 µm,
40 keV) so that a 40-voxel-wide phantom scanned with 16-bit detector noise keeps a usable
Li/LPSCl contrast.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

__all__ = ["input_stages", "scan_times", "series_datasets"]

log = logging.getLogger(__name__)

# --------------------------------------------------------------------------- real inputs

def _slug(text: str) -> str:
    import re

    s = re.sub(r"[^A-Za-z0-9_-]+", "_", text).strip("_")
    return s or "scan"


def _input_recon_stage(ctx, inputs, *, path, kind, label, time_s=None, voxel_size_um=None,
                       center_px=None, angle_range_deg=None, scan="180", rows=None, dataset=None,
                       energy_kev=None, key, series=None, state=None, flats=None, darks=None,
                       angles=None, phase_retrieval=None, truncated="auto", config_field=None,
                       config_path=None, bad_pixels="raise", zingers=None):
    """Read one real tomography input: projections are reconstructed, volumes stored lazily.

    ``zingers``: the zinger rule ``{threshold, polarity, temporal}``
    (:class:`ssbscope.config.ZingerRule`; None: its defaults, one-sided and temporal).
    """
    import xarray as xr

    import ssbscope.tomo as tomo
    from ssbscope.paths import expand_inputs, is_pattern

    separate = kind == "projections" and (
        flats is not None or darks is not None or angles is not None or is_pattern(path)
        or Path(path).is_dir() or str(path).lower().endswith((".tif", ".tiff")))
    if separate:
        # TIFF series / separate flat, dark and angle files: every file is a raw input; they
        # are gathered into one Data Exchange file in the run's scratch folder, which the
        # streamed reconstruction reads by blocks of rows
        for spec in (path, flats, darks):
            if spec is not None:
                for f in expand_inputs(spec, what="tomography file"):
                    ctx.record_input(f)
        if angles is not None:
            ctx.record_input(angles)
        pdat = tomo.read_projections(path, flats=flats, darks=darks, angles=angles,
                                     angles_deg=angle_range_deg)
        from ssbscope.tomo.io import write_dxchange

        src_path = path
        path = write_dxchange(pdat, Path(ctx.work_dir) / "tomo_inputs" / f"{label}.h5")
        log.info("tomo: %s gathered into %s (%d projections, %d flats, %d darks)", src_path,
                 path, pdat.projections.shape[0], pdat.flats.shape[0], pdat.darks.shape[0])
    elif is_pattern(path):
        for f in expand_inputs(path, what="tomography file"):
            ctx.record_input(f)
    else:
        ctx.record_input(path)
    attrs = {"label": label, "source": str(path)}
    if series is not None:
        attrs["series"] = str(series)
    if state is not None:
        attrs["state"] = str(state)
    if energy_kev is not None:
        attrs["energy_kev"] = float(energy_kev)
    if kind == "volume":
        vd = tomo.read_volume(path, dataset=dataset, voxel_size_um=voxel_size_um)
        vs = vd.voxel_size_um
        ds = xr.Dataset({"volume": (("z", "y", "x"), vd.data, {"units": "1", "long_name": "grey value",
                                                                "ome_image": "image"})},
                        attrs={**attrs, "format": vd.format,
                               "voxel_size_um": float(vs) if vs is not None else float("nan")})
    else:
        # streamed: blocks of detector rows are Dask tasks, computed while the store writes
        # the volume (ssbscope.tomo.stream); only the centre search runs here
        from ssbscope.tomo.stream import stream_reconstruct

        phase = None
        if phase_retrieval is not None:
            phase = {"delta_beta": phase_retrieval["delta_beta"],
                     "distance_mm": phase_retrieval["distance_mm"],
                     "energy_kev": phase_retrieval.get("energy_kev"),
                     "energy_kev_default": energy_kev, "pixel_size_um": voxel_size_um}
        try:
            sr = stream_reconstruct(path, angles_deg=angle_range_deg, rows=rows,
                                    center_px=center_px, scan=scan,
                                    memory_limit_bytes=getattr(ctx, "memory_limit_bytes", None),
                                    phase=phase, truncated=truncated,
                                    bad_pixels=bad_pixels, zingers=zingers,
                                    progress=None if getattr(ctx, "quiet", True)
                                    else f"tomo reconstruction {label}: row blocks")
        except Exception as exc:
            from ssbscope.errors import InputError

            if not isinstance(exc, InputError) or phase is None or not str(exc).startswith("phase retrieval:"):
                raise
            from ssbscope.errors import ConfigError

            fld = (f"{config_field}.phase_retrieval.energy_kev" if "energy" in str(exc)
                   else f"{config_field}.voxel_size_um")
            raise ConfigError(config_path or "experiment", [(fld, str(exc))]) from None
        if bad_pixels != "raise":
            attrs["bad_pixels"] = bad_pixels  # dead detector pixels interpolated (provenance)
        md = sr.metadata
        vs = voxel_size_um if voxel_size_um is not None else md.get("pixel_size_um")
        center = sr.center_px
        extra = ({"center_rows": [int(sr.center_rows[0]), int(sr.center_rows[1])]}
                 if sr.center_rows is not None else {})
        ds = xr.Dataset({"volume": (("z", "y", "x"), sr.volume, {"units": "1/pixel", "ome_image": "image"}),
                         "sinogram": (("angle", "detector"), sr.sinogram,
                                      {"units": "1", "description": "-ln(I/I0) of the middle row, after cleaning"}),
                         "angles_rad": ("angle", np.asarray(sr.angles_rad, float))},
                        attrs={**attrs, **{k: md[k] for k in ("start_time", "end_time", "count_time_s")
                                           if md.get(k) is not None},
                               "format": sr.format, "center_px": center, **extra,
                               "truncated": int(sr.truncated),
                               **({f"zinger_{k}": (v if not isinstance(v, bool) else int(v))
                                   for k, v in zingers.items()} if zingers else {}),
                               **({f"paganin_{k}": float(v) for k, v in sr.phase.items()}
                                  if sr.phase else {}),
                               "n_projections": int(sr.angles_rad.size),
                               "voxel_size_um": float(vs) if vs is not None else float("nan")})
    if time_s is not None:
        ds = ds.expand_dims(time_s=[float(time_s)])
    return {key: ds}


def _parse_time(text):
    import datetime as dt

    if text is None:
        return None
    if isinstance(text, (bytes, bytearray)):
        text = text.decode(errors="replace")
    try:
        t = dt.datetime.fromisoformat(str(text).strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    if t.tzinfo is None:
        t = t.replace(tzinfo=dt.timezone.utc)
    return t


def _cell_log(exp, item):
    """The cycling log of an input's cell (``inputs.echem[].cell``), else the first one."""
    logs = [e for e in exp.inputs.echem if e.kind == "cycling"]
    if not logs:
        return None
    own = getattr(item, "cell", None)
    if own is None and getattr(item, "series", None) in exp.cells:
        own = item.series
    return next((e for e in logs if e.cell == own), logs[0])


def _read_log(exp, entry):
    """The log as a table (None when unreadable: the echem stage reports that itself)."""
    try:
        from ssbscope.echem import read

        fmt = None if entry.format == "auto" else entry.format
        return read(exp.resolve(entry.path), format=fmt, invert_current=entry.invert_current,
                    nan_policy=getattr(entry, "nan_policy", "raise"),
                    **dict(entry.columns))
    except Exception as exc:
        log.info("tomo: echem log %s unreadable here (%s)", entry.path, exc)
        return None


def _echem_start_time(df):
    """Start of a log (its recorded start date-time), or None."""
    if df is None or not hasattr(df, "attrs"):
        return None
    meta = df.attrs.get("meta") or {}
    return _parse_time(df.attrs.get("start_time") or meta.get("start_time"))


def scan_times(exp, series: str) -> list:
    """The scans of one CT series and their times, sorted by time.

    The time of a scan (s since the start of the electrochemical test): ``time_s`` of the
    input; else the file's acquisition start (``read_projections(...).metadata["start_time"]``)
    minus the start of its cell's echem log, when both are known; else the first time that log
    reaches the scan's ``state`` (:func:`ssbscope.echem.time_of_state`: "pristine",
    "fully charged", "20 % SoC", "plated 3.0 mAh/cm2", ...).

    Parameters
    ----------
    exp : ssbscope.config.Experiment
    series : str

    Returns
    -------
    list of (int, TomoInput, float)
        Index in ``inputs.tomo``, the input, its time (s); sorted by time.

    Raises
    ------
    ConfigError
        A scan whose time is neither given nor recoverable from the files.
    """
    from ssbscope.errors import ConfigError

    out = []
    logs: dict = {}

    def log_of(item):
        entry = _cell_log(exp, item)
        if entry is None:
            return None, None
        if entry.path not in logs:
            logs[entry.path] = _read_log(exp, entry)
        return entry, logs[entry.path]

    for i, item in enumerate(exp.inputs.tomo):
        if item.series != series:
            continue
        t = item.time_s
        if t is None:
            start = None
            if item.kind == "projections":
                try:
                    import ssbscope.tomo as tomo

                    md = tomo.read_projections(
                        exp.resolve(item.path), angles_deg=item.angle_range_deg,
                        **{f: str(exp.resolve(getattr(item, f))) for f in ("flats", "darks", "angles")
                           if getattr(item, f, None) is not None}).metadata
                    start = _parse_time((md or {}).get("start_time"))
                except Exception as exc:
                    log.info("tomo: %s: acquisition time unreadable (%s)", item.path, exc)
            entry, df = log_of(item) if (start is not None or item.state) else (None, None)
            echem_t0 = _echem_start_time(df)
            if start is not None and echem_t0 is not None:
                t = (start - echem_t0).total_seconds()
                log.info("tomo: %s: time %.0f s from its acquisition start %s and the echem "
                         "log's start %s", item.path, t, start.isoformat(), echem_t0.isoformat())
            elif item.state and df is not None:
                from ssbscope.echem import time_of_state

                cell = exp.cell_of(item)
                t = time_of_state(df, item.state, area_cm2=cell.electrode_area_cm2)
                if t is not None:
                    log.info("tomo: %s: time %.0f s where the log %s first reaches %r",
                             item.path, t, entry.path, item.state)
        if t is None:
            what = (f"its state {item.state!r} is not found in the echem log of its cell "
                    "(understood: pristine, fully charged/discharged, NN % SoC/DoD, plated/"
                    "stripped Q mAh/cm2)" if item.state else "it has no time")
            raise ConfigError(exp.base_dir or "experiment", [(
                f"inputs.tomo[{i}].time_s",
                f"scan {item.path!r} of series {series!r}: {what}; give time_s (s since the start "
                "of the electrochemical test), or a file recording its acquisition start time "
                "together with an echem log recording its start")])
        out.append((i, item, float(t)))
    out.sort(key=lambda r: (r[2], r[0]))
    return out


def _series_stage(ctx, inputs, *, series, scan_keys, time_s, states, layers, energy_kev=None,
                  interfaces=None, thickness=None, central_fraction=0.75, register_on=None,
                  median=True, opening_radius_vox=0, min_filament_volume_um3=0.0, n_layers=10,
                  electrolyte=None, segmentation=None, denoise=None, phase_levels=None,
                  level_erode_vox=2, level_denoise="default", subvoxel_heights=False,
                  height_estimator="auto"):
    """Register, segment and measure one CT series against the declared layers.

    The scans are read lazily from the store and analysed in z-slabs sized from
    ``ctx.memory_limit_bytes`` (:func:`ssbscope.tomo.series_chunked.analyse_series_chunked`,
    equal to the in-memory :func:`~ssbscope.tomo.series.analyse_series`); intermediates go
    to temporary Zarr arrays under ``ctx.work_dir``.  ``segmentation`` (from
    ``analysis.tomo.segmentation`` or the series' own, :func:`_forest_params`) selects a
    random forest trained here on the labelled voxels of one scan, or loaded
    (:func:`_segmenter`).
    """
    from ssbscope.tomo.series_chunked import analyse_series_chunked

    vols, vs = [], None
    trunc = []
    for key in scan_keys:
        ds = inputs[key]
        trunc.append(_truncated_phase(ds.attrs))
        v = ds["volume"]
        if "time_s" in v.dims:
            v = v.isel(time_s=0)
        vols.append(v.data)  # Dask-backed: read slab by slab, never whole
        if vs is None:
            vs = float(ds.attrs.get("voxel_size_um", float("nan")))
    # intermediates of this series' previous run (already written to the store) go now; this
    # run's stay until the next, as the returned datasets read from them
    import shutil

    work = Path(ctx.work_dir) / "tomo-series" / str(series).replace("/", "_")
    shutil.rmtree(work, ignore_errors=True)
    segmenter = _segmenter(ctx, inputs, segmentation) if segmentation else None
    res = analyse_series_chunked(
        vols, layers, vs, work_dir=work, segmenter=segmenter,
        memory_limit_bytes=getattr(ctx, "memory_limit_bytes", None), energy_kev=energy_kev,
        interfaces=interfaces, thickness=thickness, central_fraction=central_fraction,
        register_on=register_on, median=median, opening_radius_vox=opening_radius_vox,
        min_filament_volume_um3=min_filament_volume_um3, n_layers=n_layers,
        electrolyte=electrolyte, progress=lambda it: ctx.progress(it, desc=f"tomo {series}"),
        denoise=denoise, phase_levels=phase_levels, level_erode_vox=level_erode_vox,
        level_denoise=level_denoise,
        truncated=trunc[0] if trunc and all(t is not None for t in trunc) else None,
        subvoxel_heights=bool(subvoxel_heights), height_estimator=height_estimator)
    out = series_datasets(res, time_s, states, vs, central_fraction=central_fraction,
                          series=series)
    is_trunc = bool(trunc) and all(t is not None for t in trunc)
    _isolated_split_attrs(out[f"tomo/{series}/metrics"], res, layers=layers)
    out[f"tomo/{series}/metrics"].attrs.update(
        _height_method(is_trunc, bool(subvoxel_heights)))
    return out


def _height_estimator_vars(met, scans, ifaces):
    """The interface heights' estimator (one per interface for the series,
    :func:`ssbscope.tomo.series.choose_height_estimator`) and the errors it weighed:
    ``height_estimator`` attrs (``"lower|upper: median; ..."``) and the variables
    ``height_noise_unfiltered_um`` / ``height_error_median_um`` on (time_s, interface)."""
    nt = len(scans)
    errs = np.array([[s.height_estimator_errors_um.get(k, (np.nan, np.nan)) for k in ifaces]
                     for s in scans], float).reshape(nt, len(ifaces), 2)
    est = {k: sorted({s.height_estimator.get(k, "none") for s in scans}) for k in ifaces}
    met.attrs["height_estimator"] = "; ".join(f"{k}: {'/'.join(v)}" for k, v in est.items())
    met.attrs["height_estimator_rule"] = (
        "per interface, one estimator for every scan of the series: the 3x3x3 median's "
        "heights (the series' denoising) where the sum over the scans of "
        "height_error_median_um^2 is below that of height_noise_unfiltered_um^2 by more than "
        "2 sampling standard errors, else the unfiltered grey values' "
        "(ssbscope.tomo.series.choose_height_estimator); "
        "'truncated': heights from the local contrast of truncated scans; YAML "
        "analysis.tomo.height_estimator (median / unfiltered) overrides the choice")
    met["height_noise_unfiltered_um"] = (("time_s", "interface"), errs[..., 0])
    met["height_noise_unfiltered_um"].attrs.update({"units": "um", "method": (
        "std of the pixel-independent part of the unfiltered grey values' height map "
        "(second-difference estimate, ssbscope.interface.topography.white_noise_std): that "
        "estimator's error (ssbscope.tomo.series.height_estimator_errors)")})
    met["height_error_median_um"] = (("time_s", "interface"), errs[..., 1])
    met["height_error_median_um"].attrs.update({"units": "um", "method": (
        "sqrt(var(h_unfiltered - h_median) - height_noise_unfiltered_um^2): what the median's "
        "heights differ from the unfiltered ones beyond the unfiltered noise (its flattening "
        "and own noise; ssbscope.tomo.series.height_estimator_errors)")})


def _height_method(truncated: bool, subvoxel: bool) -> dict:
    """Provenance of a series' interface heights (``tomo/<series>/metrics`` attrs):
    ``height_method`` and ``subvoxel_heights`` (``analysis.tomo.subvoxel_heights``)."""
    if truncated:
        how = ("edge, sub-voxel (partial-volume sum)" if subvoxel else "edge, whole voxels")
        how = ("truncated scans: each column's steepest edge of the local contrast "
               f"(ssbscope.tomo.metrics.interface_height_map_truncated), {how}")
    else:
        how = ("partial-volume integral of each column's profile around its segmented "
               "crossing (sub-voxel; ssbscope.tomo.metrics.interface_height_map)")
        if subvoxel:
            how += "; subvoxel_heights applies to truncated scans only"
            log.info("tomo: analysis.tomo.subvoxel_heights: the scans are not truncated; "
                     "their heights are sub-voxel already")
    return {"height_method": how, "subvoxel_heights": int(subvoxel)}


def _truncated_phase(attrs):
    """``{"delta_beta", "energy_kev"}`` (Paganin's; empty without) of a scan reconstructed
    from truncated projections (its stored ``truncated`` attribute), else None."""
    if not int(attrs.get("truncated", 0) or 0):
        return None
    out = {}
    if attrs.get("paganin_delta_beta") is not None:
        out = {"delta_beta": float(attrs["paganin_delta_beta"]),
               "energy_kev": float(attrs.get("paganin_energy_kev", attrs.get("energy_kev")))}
    elif attrs.get("energy_kev") is not None:
        out = {"energy_kev": float(attrs["energy_kev"])}
    return out


def _segmenter(ctx, inputs, p):
    """The random forest of a series stage: loaded from ``p["model"]`` or trained on the
    labels ``p["labels"]`` of the scan ``p["scan_key"]`` (its stored, unregistered volume).
    Every file read is a raw input of the stage."""
    import os

    from ssbscope.tomo import trainable as T

    if p.get("model"):
        ctx.record_input(p["model"])
        seg = T.load_segmenter(p["model"])
        log.info("tomo: random forest loaded from %s (classes %s)", p["model"], seg.classes)
        return seg
    lp = Path(p["labels"])
    for f in ([lp] if lp.is_file() else sorted(Path(r) / n for r, _, fs in os.walk(lp)
                                                for n in fs)):
        ctx.record_input(f)
    lab = T.read_label_volume(lp, dataset=p.get("dataset"))
    v = inputs[p["scan_key"]]["volume"]
    if "time_s" in v.dims:
        v = v.isel(time_s=0)
    from ssbscope.errors import InputError

    if tuple(v.shape) != tuple(lab.shape):
        raise InputError(f"analysis.tomo.segmentation.training.labels: {lp} has shape "
                         f"{tuple(lab.shape)} but scan {p['scan_key']} is {tuple(v.shape)} "
                         "(z, y, x); label the reconstructed scan's own grid")
    seg = T.train_segmenter(v.data, lab, p["classes"], sigmas=p["sigmas"],
                            n_estimators=p["n_estimators"], max_depth=p["max_depth"],
                            max_samples=p["max_samples"], random_state=p["seed"])
    log.info("tomo: random forest trained on %s (scan %s): %s voxels per class", lp,
             p["scan_key"], dict(zip(seg.classes, seg.n_training_voxels)))
    return seg


def _forest_params(exp, an, series, rows) -> dict | None:
    """``segmentation`` parameter of a series stage (None: thresholds).

    ``an``: the settings whose ``segmentation`` applies (``analysis.tomo``, or the series'
    effective settings where ``analysis.tomo.series.<series>`` sets its own).  ``rows``:
    ``(input index, TomoInput, store key)`` of the series' scans, time order.  The forest
    segments the series holding ``training.scan`` (default: the first measured series; with
    the series' own segmentation: its first scan)."""
    seg = an.segmentation
    if seg.method != "random_forest":
        return None
    tr = seg.training
    key = None
    for _, item, k in rows:
        names = {item.label, Path(item.path).stem, k.rsplit("/", 1)[-1]}
        if tr.scan is None or tr.scan in names:
            key = k
            break
    if key is None:
        return None
    out = {"method": "random_forest", "scan_key": key, "classes": list(tr.classes),
           "sigmas": [float(x) for x in tr.sigmas], "n_estimators": int(tr.n_estimators),
           "max_depth": tr.max_depth, "max_samples": int(tr.max_samples),
           "seed": int(exp.seed), "dataset": tr.dataset, "labels": None, "model": None}
    if tr.model is not None:
        out["model"] = str(exp.resolve(tr.model))
    else:
        out["labels"] = str(exp.resolve(tr.labels))
    return out


def series_datasets(res, time_s, states, voxel_size_um, *, central_fraction, series) -> dict:
    """Store datasets ``tomo/<series>/{volumes,labels,metrics,maps}`` of a SeriesResult."""
    import xarray as xr

    from ssbscope.tomo.series import UNDECLARED

    vs = float(voxel_size_um)
    t = np.asarray(time_s, float)
    nt, nz, ny, nx = res.volumes.shape
    st = np.asarray([str(s) for s in states], dtype=str)
    zc = (np.arange(nz) + 0.5) * vs
    yc = (np.arange(ny) + 0.5) * vs
    xc = (np.arange(nx) + 0.5) * vs
    base = f"tomo/{series}"
    space = {"z_um": ("z", zc), "y_um": ("y", yc), "x_um": ("x", xc)}
    vol = xr.Dataset({"volume": (("time_s", "z", "y", "x"), res.volumes.astype(np.float32)),
                      "state": ("time_s", st)},
                     coords={"time_s": t, **space},
                     attrs={"voxel_size_um": vs, "series": series,
                            "register_on": res.register_on,
                            "description": "scans registered to the first on the register_on "
                                           "layer's slab"})
    vol["volume"].attrs.update({"units": "1/pixel", "ome_image": "image"})  # OME-Zarr (ssbscope.ome)
    phases = list(res.order.phases)
    lab = xr.Dataset(
        {"labels": (("time_s", "z", "y", "x"), res.labels.astype(np.uint8)),
         "thresholds": (("time_s", "boundary"), res.class_thresholds),
         "shift_vox": (("time_s", "axis"), res.shift_vox),
         "cell_mask": (("y", "x"), res.region.mask.astype(bool)),
         "state": ("time_s", st)},
        coords={"time_s": t, "axis": ["z", "y", "x"],
                "boundary": [f"{a}|{b}" for a, b in zip(res.class_names[:-1],
                                                         res.class_names[1:])], **space},
        attrs={"voxel_size_um": vs, "phases": phases, "undeclared_label": UNDECLARED,
               "classes": list(res.class_names), "energy_kev": res.order.energy_kev,
               "segmentation": str(getattr(res, "segmentation", "threshold")),
               "description": "labels index into phases (darkest first); undeclared_label marks "
                              "material the cell does not declare"})
    lab["thresholds"].attrs["units"] = "1/pixel"
    # an NGFF label of the volumes (tomo/<series>/volumes/labels/phases; ssbscope.ome), stored
    # as phase index + 1 (undeclared: 255) with 0 for the darkest phase outside the cell, so
    # that viewers, which draw 0 as background, show phase 0 inside the cell; read back as
    # the phase index (ssbscope.ome.label_dataset / decode_label)
    cls_vals = sorted({int(c) for c in range(len(phases))} | {UNDECLARED})
    lab["labels"].attrs.update({"ome_image": "label", "ome_source": "../volumes",
                                "ome_label_name": "phases", "label_values": cls_vals,
                                "label_names": [phases[c] if c != UNDECLARED else "undeclared"
                                                for c in cls_vals],
                                "ome_label_stored": [c + 1 if c != UNDECLARED else UNDECLARED
                                                     for c in cls_vals],
                                "ome_label_mask": "cell_mask", "ome_label_background": 0,
                                "ome_label_outside": f"{phases[0]} outside the cell"})
    # the cell's columns: a label of the volumes too (volumes/labels/cell_mask, broadcast
    # lazily along time and z to the volume's shape and transforms: shown on every slice)
    lab["cell_mask"].attrs.update({"ome_image": "label", "ome_source": "../volumes",
                                   "label_values": [0, 1],
                                   "label_names": ["outside the cell", "cell"],
                                   "description": "the cell's footprint (y, x): Otsu "
                                                  "threshold of the first scan's mean along z, "
                                                  "largest component, holes filled "
                                                  "(ssbscope.tomo.series.cell_region)"})
    # where each declared layer lies along z (majority bands of locate_layers; -1: absent)
    loc_names = list(res.scans[0].location.names)
    lab["layer_z_vox"] = (("time_s", "layer", "bound"), np.array(
        [[[s.location.z0_vox[i], s.location.z1_vox[i]] for i in range(len(loc_names))]
         for s in res.scans], np.int64).reshape(nt, len(loc_names), 2))
    lab = lab.assign_coords(layer=loc_names, bound=["z0", "z1"])
    lab["layer_z_vox"].attrs.update({
        "units": "pixel",
        "description": "slice range [z0, z1) of each declared layer's majority band "
                       "(ssbscope.tomo.series.locate_layers) in the registered frame; -1 where "
                       "the layer is absent in that scan"})
    scans = res.scans
    ifaces = list(scans[0].interfaces)
    tlayers = list(scans[0].layers)
    all_layers = list(scans[0].layer_volume_um3)
    nl = scans[0].layer_fraction.size

    def arr(attr, keys):
        return np.array([[getattr(s, attr)[k] for k in keys] for s in scans], float)

    pv = arr("phase_volume_um3", phases)
    with np.errstate(divide="ignore", invalid="ignore"):
        pct = 100.0 * (pv - pv[0]) / np.where(pv[0] > 0, pv[0], np.nan)
    data = {
        "ra_um": (("time_s", "interface"), arr("ra_um", ifaces).reshape(nt, len(ifaces))),
        "rq_um": (("time_s", "interface"), arr("rq_um", ifaces).reshape(nt, len(ifaces))),
        **({"interface_contrast_data": (("time_s", "interface"), np.array(
                [[s.interface_contrast.get(k, (np.nan, np.nan))[0] for k in ifaces]
                 for s in scans], float).reshape(nt, len(ifaces))),
            "interface_contrast_materials": (("time_s", "interface"), np.array(
                [[s.interface_contrast.get(k, (np.nan, np.nan))[1] for k in ifaces]
                 for s in scans], float).reshape(nt, len(ifaces)))}
           if any(s.interface_contrast for s in scans) else {}),
        "volume_um3": (("time_s", "phase"), pv),
        "volume_change_pct": (("time_s", "phase"), pct),
        "layer_volume_um3": (("time_s", "layer"), arr("layer_volume_um3", all_layers)),
        "pore_crack_volume_um3": ("time_s", np.array([s.pore_crack_volume_um3 for s in scans])),
        # voids inside the layer below a truncated scan's interface (NaN for other scans)
        "subsurface_void_volume_um3": ("time_s", np.array(
            [getattr(s, "subsurface_void_volume_um3", np.nan) for s in scans], float)),
        "new_crack_volume_um3": ("time_s", res.new_crack_volume_um3),
        "pore_crack_grey_overlap": ("time_s", res.pore_crack_grey_overlap),
        "new_filaments": ("time_s", res.new_filaments),
        "new_filaments_center": ("time_s", res.new_filaments_center),
        "new_filaments_edge": ("time_s", res.new_filaments_edge),
        "new_filament_volume_um3": ("time_s", res.new_filament_volume_um3),
        "low_attenuation_connected_um3": ("time_s", np.array(
            [s.low_attenuation_connected_um3 for s in scans])),
        "low_attenuation_isolated_um3": ("time_s", np.array(
            [s.low_attenuation_isolated_um3 for s in scans])),
        # the isolated regions split by persistence (ssbscope.tomo.low_attenuation)
        "pore_volume_um3": ("time_s", np.array(
            [getattr(s, "pore_volume_um3", np.nan) for s in scans], float)),
        "isolated_li_um3": ("time_s", np.array(
            [getattr(s, "isolated_li_um3", np.nan) for s in scans], float)),
        "layer_fraction": (("time_s", "layer_index"),
                           np.stack([s.layer_fraction for s in scans])),
        "low_attenuation_level_low": ("time_s", np.array(
            [s.low_attenuation_levels[0] for s in scans], float)),
        "low_attenuation_level_matrix": ("time_s", np.array(
            [s.low_attenuation_levels[1] for s in scans], float)),
        "low_attenuation_threshold": ("time_s", np.array(
            [s.low_attenuation_levels[2] for s in scans], float)),
        "state": ("time_s", st),
    }
    # roughness with the height noise removed (nugget of the height map's lag covariance,
    # ssbscope.tomo.metrics.roughness_noise_corrected); ra_um / rq_um stay the raw values
    data.update(_noise_corrected_roughness(scans, ifaces))
    # roughness with the measurement's lateral transfer (reconstruction PSF from the cell
    # wall's edge spread, the height estimator's 3x3x3 median) undone, issue 17
    data.update(_resolution_corrected_roughness(scans, ifaces, vs))
    if all(getattr(s, "phase_levels", None) is not None for s in scans):
        # the pure-phase grey levels of the partial volume (ssbscope.tomo.levels)
        def lv(attr):
            return np.array([[getattr(s.phase_levels[p], attr) for p in phases] for s in scans])

        data["phase_level"] = (("time_s", "phase"), lv("level").astype(float))
        data["phase_level_unc"] = (("time_s", "phase"), lv("uncertainty").astype(float))
        data["phase_level_voxels"] = (("time_s", "phase"), lv("n_voxels").astype(np.int64))
        data["phase_level_method"] = (("time_s", "phase"), lv("method").astype(str))
        # 1-sigma of the pore + crack volume from the levels' standard errors
        pc_unc = _pore_crack_unc(res, scans, phases, vs)
        data["pore_crack_volume_unc_um3"] = ("time_s", pc_unc)
        data["new_crack_volume_unc_um3"] = ("time_s", np.where(
            np.arange(nt) == 0, 0.0, np.hypot(pc_unc, pc_unc[0])))
    for name, attr in (("thickness_center_um", "thickness_center_um"),
                       ("thickness_edge_um", "thickness_edge_um"),
                       ("thickness_center_std_um", "thickness_center_std_um"),
                       ("thickness_edge_std_um", "thickness_edge_std_um"),
                       ("thickness_mean_um", "thickness_mean_um"),
                       # layers thinner than a voxel, from their partial volume (else NaN)
                       ("thickness_noise_um", "thickness_noise_um"),
                       ("thickness_mean_se_um", "thickness_mean_se_um"),
                       ("thickness_significance", "thickness_significance")):
        # every declared layer; NaN for those analysis.tomo.thickness does not ask for
        vals = np.array([[getattr(sc, attr).get(k, np.nan) for k in all_layers] for sc in scans], float)
        data[name] = (("time_s", "layer"), vals.reshape(nt, len(all_layers)))
    unc = getattr(res, "uncertainty", ())
    if unc:  # random forest: uncertainties from the voxels' class probabilities
        data["volume_expected_um3"] = (("time_s", "phase"), np.array(
            [[u.volume_expected_um3[p] for p in phases] for u in unc], float))
        data["volume_unc_um3"] = (("time_s", "phase"), np.array(
            [[u.volume_unc_um3[p] for p in phases] for u in unc], float))
        data["thickness_mean_expected_um"] = (("time_s", "layer"), np.array(
            [[u.thickness_mean_expected_um.get(k, np.nan) for k in all_layers] for u in unc],
            float).reshape(nt, len(all_layers)))
        data["thickness_mean_unc_um"] = (("time_s", "layer"), np.array(
            [[u.thickness_mean_unc_um.get(k, np.nan) for k in all_layers] for u in unc],
            float).reshape(nt, len(all_layers)))
    el = scans[0].electrolyte
    # the declared layers at the electrolyte's faces: layer n of layer_fraction at the Li
    # electrode (res.slab_order face), layer 1 at the other (the cathode side)
    i_el = all_layers.index(el) if el in all_layers else -1
    below = all_layers[i_el - 1] if i_el > 0 else "none"
    above = all_layers[i_el + 1] if 0 <= i_el < len(all_layers) - 1 else "none"
    l1_name, ln_name = (above, below) if res.slab_order == "bottom" else (below, above)
    met = xr.Dataset(data, coords={"time_s": t, "interface": ifaces, "layer": all_layers,
                                   "phase": phases,
                                   "layer_index": np.arange(1, nl + 1)},
                     attrs={"voxel_size_um": vs, "central_fraction": float(central_fraction),
                            "series": series, "electrolyte": el,
                            "conventions": (
                                "heights from the face of slice 0 (z = 0, the bottom declared "
                                "layer) in the registered frame; Ra/Rq after plane detrending "
                                "(Eqs. 6-7 of Huang et al. 2024, doi:10.1016/j.xcrp.2024.101995); "
                                "thickness from the two bounding "
                                "interfaces, else the voxel count of the layer's phase; centre = "
                                "central disk of central_fraction of the cell area, edge = the "
                                "rest; volumes inside the cell region and the declared stack's "
                                "z range; volume_change_pct against the first scan; phase "
                                f"{phases[0]} holds pores/cracks/void; pore/crack volume and "
                                f"layer fractions inside the electrolyte ({el}); layer_index 1 "
                                "of layer_fraction at the electrolyte face away from the Li "
                                f"electrode ({l1_name}), layer n at its {res.slab_order} face "
                                f"({ln_name}) (Cao et al. 2023, doi:10.1002/adfm.202307998, "
                                "Fig. 3J numbering); "
                                "new_* against the previous scan (filaments) or the first "
                                "(cracks, grey overlap)")})
    # the centre/edge statistics of the LAYER: columns where its material runs on into a
    # filament root or a filled crack left out (ssbscope.tomo.metrics.thickness_outliers)
    met["thickness_outlier_fraction"] = (("time_s", "layer"), np.array(
        [[(getattr(sc, "thickness_outlier_fraction", None) or {}).get(k, np.nan)
          for k in all_layers] for sc in scans], float).reshape(nt, len(all_layers)))
    from ssbscope.tomo.metrics import (OUTLIER_GROW_K, OUTLIER_K, OUTLIER_MIN_CORE_PX,
                                       OUTLIER_SMOOTH_PX, OUTLIER_WINDOW_PX)
    rule = (f"columns where the residual map - median of the {OUTLIER_WINDOW_PX} x "
            f"{OUTLIER_WINDOW_PX} columns around, averaged over {OUTLIER_SMOOTH_PX} x "
            f"{OUTLIER_SMOOTH_PX} columns, exceeds {OUTLIER_K:g} robust sigmas (1.4826 x its "
            "MAD over the cell) and the column lies above that median are left out, and "
            f"flagged patches of >= {OUTLIER_MIN_CORE_PX} columns grow into the 4-connected "
            f"columns whose own residual exceeds {OUTLIER_GROW_K:g} robust sigma: there the "
            "layer's material runs on into a filament root or a filled crack just above the "
            "layer (ssbscope.tomo.metrics.thickness_outliers; one-sided)")
    met["thickness_outlier_fraction"].attrs.update({"units": "1", "method": (
        "fraction of the analysed columns left out of thickness_center_um / "
        "thickness_edge_um (and their std): " + rule)})
    for v in ("thickness_center_um", "thickness_edge_um", "thickness_center_std_um",
              "thickness_edge_std_um"):
        met[v].attrs["method"] = ("mean / std over the centre or edge columns of the layer; "
                                  + rule + ", see thickness_outlier_fraction")
    met["thickness_mean_um"].attrs["method"] = (
        "mean over every column of the cell (no column left out), as layer_volume_um3 and "
        "the Faraday balance")
    _thin = ("a declared layer not found as a band (thinner than a voxel) between two found "
             "ones: its thickness map from the grey-level deficit against the first scan "
             "(ssbscope.tomo.series_chunked.missing_layer_thickness); NaN for other layers")
    met["thickness_noise_um"].attrs.update({"units": "um", "method": (
        "1 sigma per column of " + _thin)})
    met["thickness_mean_se_um"].attrs.update({"units": "um", "method": (
        "standard error of thickness_mean_um of " + _thin)})
    met["thickness_significance"].attrs.update({"units": "1", "method": (
        "thickness_mean_um / thickness_mean_se_um of " + _thin + "; below 3 the layer is "
        "not detected")})
    if all(getattr(s, "pore_crack_parts", None) for s in scans):
        met["pore_crack_volume_um3"].attrs.update({"units": "um3", "method": (
            "partial volume sum (h_r - v) / (h - lo) of the unfiltered grey values over the "
            "neighbourhood (2 six-connected steps) of the voxels whose matched-filtered value "
            "(Gaussian of 0.6 voxel) lies z noise deviations below their column ring's "
            "median (z: one expected noise detection in the rows), in the electrolyte's rows 2 slices inside its measured mean faces, on "
            "the footprint (the cell less its wall's partial-volume ring); h_r: the mean of "
            "the voxels outside the neighbourhood in the column ring (by distance from the "
            "cell's edge) where it differs from the rings inside, h the pooled one; lo: the "
            "darkest phase's pure level (phase_level); Li-filled cracks count (Li is almost "
            "as transparent as a pore); "
            "ssbscope.tomo.series_chunked._local_pore_crack_volume")})
    for v in ("pore_crack_volume_unc_um3", "new_crack_volume_unc_um3"):
        if v in met:
            met[v].attrs.update({"units": "um3", "method": (
                "1 sigma from the standard errors of the matrix and pore levels and the "
                "voxels' noise: the partial volume sum_R (h_r - v) / (h - lo) moves by "
                "N_R,r d_h_r / (h - lo) per ring's level (its mean's standard error) and "
                "V_pc d_lo / (h - lo) (V_R: the "
                "neighbourhood of the electrolyte's low-attenuation voxels it sums over), plus "
                "sigma_v sqrt(N_R) / (hi - lo) (sigma_v: the matrix voxels' standard deviation, "
                "voxels taken independent); pores the detection misses entirely are not "
                "included; new_crack: both scans' in quadrature")})
    for v in ("ra_noise_corrected_um", "rq_noise_corrected_um", "height_noise_um"):
        met[v].attrs.update({"units": "um", "method": (
            "height noise = nugget of the plane-detrended height map's lag covariance "
            "(C(0) - [C(1) + (C(1) - C(2)) / 3]); Rq = sqrt(rq_um^2 - noise^2), Ra = ra_um x "
            "Rq / rq_um; assumes height errors uncorrelated between columns and a surface "
            "smooth over 1-2 columns (ssbscope.tomo.metrics.roughness_noise_corrected)")})
    met["layer_fraction"].attrs.update({
        "long_name": "low-attenuation volume fraction per layer of the electrolyte",
        "electrolyte": el, "layer_1_next_to": l1_name, "layer_n_next_to": ln_name,
        "numbering": (f"layer_index 1 at the {el} face next to {l1_name} (away from the Li "
                      f"electrode: the cathode side), layer_index n at the face next to "
                      f"{ln_name} (the Li the filaments grow from); Cao et al. 2023, "
                      "doi:10.1002/adfm.202307998, Fig. 3J: layer 1 at the cathode, layer 10 "
                      "at the Li metal anode"),
        "method": ("partial volume: (level_matrix - mean grey) / (level_matrix - level_low) "
                   "per layer over the cell region, pure levels from the Li electrode's "
                   "interior and the electrolyte histogram above its peak (the cell's outer "
                   "voxel ring: its own histogram) "
                   "(ssbscope.tomo.low_attenuation); voxel counts at the darkest class's "
                   "threshold when no Li electrode is found")})
    _height_estimator_vars(met, scans, ifaces)
    _isolated_split_attrs(met, res)
    met["layer_index"].attrs["description"] = (
        f"layer of the {el} in n equal layers, 1 next to {l1_name}, n next to {ln_name}")
    met["layer"].attrs["description"] = ("every declared layer, bottom to top; thickness "
                                         "statistics NaN for layers analysis.tomo.thickness "
                                         "does not list")
    met.attrs["thickness_layers"] = list(tlayers)
    met.attrs["segmentation"] = str(getattr(res, "segmentation", "threshold"))
    if unc:
        met["volume_expected_um3"].attrs["description"] = (
            "expected phase volume: voxel volume x sum of the forest's phase probability over "
            "the cell and the declared stack (volume_um3 counts the most probable phase)")
        met["volume_unc_um3"].attrs["description"] = (
            "uncertainty of volume_um3 from the forest's probabilities p: voxel volume x "
            "(sum of 1 - p over the voxels labelled with the phase + sum of p over the "
            "others), the expected misassigned volume if p is calibrated, a bound on the "
            "expected error whatever the errors' correlation; "
            "ssbscope.tomo.trainable.SegmentationUncertainty")
        met["thickness_mean_expected_um"].attrs["description"] = (
            "probability-weighted mean thickness of a layer: voxel size x sum of the forest's "
            "probability of its phase over its band widened by 2 slices and the inner "
            "columns, divided by their number (a voxel-count thickness; thickness_mean_um "
            "comes from the interface heights where both exist)")
        met["thickness_mean_unc_um"].attrs["description"] = (
            "uncertainty of a layer's mean thickness from the forest's probabilities: as "
            "volume_unc_um3 over the layer's band widened by 2 slices and the inner columns, "
            "divided by their area (segmentation only; the interface heights' sub-voxel "
            "interpolation is not in it)")
    # the CT footprint: volumes per area compare with Faraday's law (correlate/states)
    met.attrs["footprint_area_um2"] = float(np.count_nonzero(res.region.mask)) * vs ** 2
    if "phase_level" in met:
        met["phase_level"].attrs["description"] = (
            "grey value of each phase's pure material used by the partial-volume pore/crack "
            "volume: mode of the phase's segmented interior (eroded; histogram peak refined by "
            "a Gaussian fit, ssbscope.tomo.levels.pure_phase_levels) or the user's "
            "analysis.tomo.phase_levels; phase_level_method says which per scan")
        met["phase_level_unc"].attrs["description"] = "standard error of phase_level"
        met["phase_level_voxels"].attrs["description"] = "voxels the level comes from"
    for k in met.data_vars:
        if k in ("state", "phase_level_method"):
            continue
        if k in ("phase_level", "phase_level_unc"):
            met[k].attrs["units"] = "1/pixel"
            continue
        if k.endswith("_um3"):
            met[k].attrs["units"] = "um^3"
        elif k.endswith("_um"):
            met[k].attrs["units"] = "um"
        elif k.endswith("_pct"):
            met[k].attrs["units"] = "percent"
        else:
            met[k].attrs["units"] = "1"
    met["psf_sigma_vox"].attrs.update({
        "units": "pixel", "description": "Gaussian std of the reconstruction's lateral point "
        "spread, fitted to the edge spread at the cell wall of up to 64 slices at the middle "
        "of the electrolyte's band, measured with the scan (ssbscope.tomo.metrics."
        "lateral_edge_spread, ssbscope.tomo.series_chunked._lateral_psf)"})
    met["height_map_noise_um"].attrs.update({"units": "um", "description": (
        "std of the height map's own noise for the series' height estimator: the estimator "
        "on the scan's voxel noise field, scaled to the map's white-noise level "
        "(ssbscope.tomo.series.height_noise_maps); the median's excludes its flattening")})
    met["height_noise_fraction"].attrs.update({"units": "1", "description": (
        "height_map_noise_um^2 / Rq^2 of the measured map: above ~0.5 the "
        "resolution-corrected roughness is a small difference of large numbers")})
    for k in ("ra_resolution_corrected_um", "rq_resolution_corrected_um"):
        met[k].attrs.update({
            "psf_sigma_vox": [float(v) for v in met["psf_sigma_vox"].values],
            "description": "the map passed once more through the measurement's lateral "
            "transfer T (the PSF psf_sigma_vox, the 3x3x3 median where the series' height "
            "estimator is the median, partial-volume heights) and the loss it shows undone "
            "after the map's own noise is removed: Rq = (Rq_m^2 - N) / sqrt(Rq_f^2 - g N), N "
            "= height_map_noise_um^2, g the noise's share through T "
            "(ssbscope.tomo.metrics.roughness_resolution_corrected); NaN where T[map] holds "
            "no variance beyond its noise share; see height_noise_fraction; same footprint "
            "as ra_um"})
    hmap = np.array([[s.height_um[k] for k in ifaces] for s in scans], np.float32)
    tmap = np.array([[s.thickness_um[k] for k in tlayers] for s in scans], np.float32)
    mp = xr.Dataset({"height_um": (("time_s", "interface", "y", "x"),
                                   hmap.reshape(nt, len(ifaces), ny, nx)),
                     "thickness_um": (("time_s", "layer", "y", "x"),
                                      tmap.reshape(nt, len(tlayers), ny, nx)),
                     "state": ("time_s", st)},
                    coords={"time_s": t, "interface": ifaces, "layer": tlayers,
                            "y": yc, "x": xc},
                    attrs={"voxel_size_um": vs, "series": series})
    mp["height_um"].attrs["units"] = "um"
    mp["thickness_um"].attrs["units"] = "um"
    for v in ("height_um", "thickness_um"):
        mp[v].attrs["ome_image"] = "image"
    mp["y"].attrs["units"] = "um"
    mp["x"].attrs["units"] = "um"
    for d in (vol, lab):
        for c in ("z_um", "y_um", "x_um"):
            d[c].attrs["units"] = "um"
    for d in (vol, lab, met, mp):
        d["time_s"].attrs["units"] = "s"
    return {f"{base}/volumes": vol, f"{base}/labels": lab, f"{base}/metrics": met,
            f"{base}/maps": mp}


def _series_settings(an, series: str, names, other_names, own=()) -> dict:
    """``analysis.tomo`` layer names that apply to one series.

    ``analysis.tomo`` (without a ``series`` override) is shared by every series: a layer name there
    that this series' cell lacks but another series' cell declares (``thickness: [Li,
    counter]`` beside a cell with no ``counter``) is skipped for this series, with a log line;
    a name no series declares is kept, so that the analysis reports it.

    Parameters
    ----------
    an : ssbscope.config.TomoAnalysis
    series : str
    names : sequence of str
        Layer names of the series' cell.
    other_names : set of str
        Layer names of the other series' cells.
    own : collection of str
        Fields ``an`` takes from the series' own ``analysis.tomo.series`` entry: their names
        are never skipped.

    Returns
    -------
    dict
        ``interfaces``, ``thickness`` (lists or None), ``register_on``, ``electrolyte``
        (str or None).
    """
    names = set(names)

    def keep(what, name, parts):
        if what in own:
            return True
        miss = [p for p in parts if p not in names]
        if miss and all(p in other_names for p in miss):
            log.info("tomo: series %r: analysis.tomo.%s %r skipped (its cell has no layer %s)",
                     series, what, name, ", ".join(repr(p) for p in miss))
            return False
        return True

    out = {}
    for what in ("interfaces", "thickness"):
        req = getattr(an, what, None)
        if req is None:
            out[what] = None
            continue
        kept = [r for r in req if keep(what, r, str(r).split("|") if what == "interfaces"
                                       else [r])]
        # nothing left for this series: its default (every interface / layer)
        out[what] = kept if kept else None
    for what in ("register_on", "electrolyte"):
        v = getattr(an, what, None)
        out[what] = v if v is None or keep(what, v, [v]) else None
    return out


def input_stages(exp) -> list:
    """Stages reading an experiment's real tomography inputs (``ssbscope run``).

    The inputs are grouped by ``series``.  Every scan is reconstructed (projections: flat/dark
    correction, zingers, centre search unless ``center_px`` is given, rings, FBP) or read
    (volumes, lazily) -> ``tomo/<series>/scans/<label>``.  Where the series' cell
    (``exp.cell_of(item)``) declares its layers, one stage per series registers, segments and
    measures the scans against them (:func:`ssbscope.tomo.series.analyse_series`) ->
    ``tomo/<series>/volumes``, ``/labels``, ``/metrics``, ``/maps`` on ``time_s``
    (:func:`scan_times`).

    Parameters
    ----------
    exp : ssbscope.config.Experiment

    Returns
    -------
    list of ssbscope.pipeline.Stage
    """
    from pathlib import Path

    from ssbscope.pipeline import Stage

    stages = []
    series_names = []
    for item in exp.inputs.tomo:
        if item.series not in series_names:
            series_names.append(item.series)
    an = exp.analysis.tomo
    forest_done = False
    # layer names declared by the cell of any measured series (analysis.tomo is one section
    # for all series: a name another series' cell declares is skipped where it is missing)
    cell_names = {}
    for item in exp.inputs.tomo:
        cell_names.setdefault(item.series, [la.name for la in exp.cell_of(item).layers])
    for series in series_names:
        other_names = {n for s_, ns in cell_names.items() if s_ != series for n in ns}
        sname = _slug(series)
        members = [(i, it) for i, it in enumerate(exp.inputs.tomo) if it.series == series]
        cell = exp.cell_of(members[0][1])
        for i, it in members[1:]:
            if exp.cell_of(it) != cell:
                from ssbscope.errors import ConfigError

                raise ConfigError(exp.base_dir or "experiment", [(
                    f"inputs.tomo[{i}].cell", f"series {series!r} mixes cells; the scans of a "
                    "series are of one cell: give them one cell: or separate series")])
        measured = len(cell.layers) >= 2
        rows = (scan_times(exp, series) if measured else
                [(i, it, it.time_s) for i, it in enumerate(exp.inputs.tomo)
                 if it.series == series])
        used, keys, times, states, energy = set(), [], [], [], None
        for i, item, t in rows:
            label = item.label or Path(item.path).stem
            name = _slug(label)
            k = 1
            while name in used:
                k += 1
                name = f"{_slug(label)}_{k}"
            used.add(name)
            key = f"tomo/{sname}/scans/{name}"
            path = exp.resolve(item.path)
            params = {"path": str(path), "kind": item.kind, "label": name,
                      "time_s": t, "voxel_size_um": item.voxel_size_um,
                      "center_px": item.center_px,
                      "angle_range_deg": list(item.angle_range_deg) if item.angle_range_deg else None,
                      "scan": item.scan, "rows": list(item.rows) if item.rows else None,
                      "dataset": item.dataset, "energy_kev": item.energy_kev, "key": key,
                      "series": series, "state": item.state}
            if item.phase_retrieval is not None:
                params["phase_retrieval"] = item.phase_retrieval.model_dump()
                params["config_field"] = f"inputs.tomo[{i}]"
                params["config_path"] = str(exp.base_dir or "experiment")
            if item.truncated != "auto":
                params["truncated"] = item.truncated
            for fld in ("flats", "darks", "angles"):
                if getattr(item, fld, None) is not None:
                    params[fld] = str(exp.resolve(getattr(item, fld)))
            if getattr(item, "bad_pixels", "raise") != "raise":  # default: fingerprint unchanged
                params["bad_pixels"] = item.bad_pixels
            if item.kind == "projections":
                # always in the fingerprint: the default rule changed (2026-12, one-sided and
                # temporal), so scans reconstructed with the old one are not reused
                params["zingers"] = item.zingers.model_dump()
            stages.append(Stage(f"tomo.{sname}.scan.{name}", _input_recon_stage,
                                outputs=(key,), params=params, long=True))
            keys.append(key)
            times.append(t)
            states.append(item.state or (f"t = {t / 3600:.2f} h" if t is not None else name))
            if energy is None and item.energy_kev is not None:
                energy = float(item.energy_kev)
        if not measured:
            log.info("tomo: series %r: its cell declares %d layer(s); the scans are "
                     "reconstructed only (declare cell.layers to measure them)", series,
                     len(cell.layers))
            continue
        layers = [{"name": la.name, "material": la.material, "thickness_um": la.thickness_um}
                  for la in cell.layers]
        # this series' settings: analysis.tomo with its analysis.tomo.series override
        san = an.for_series(series)
        ov = an.series.get(series)
        seg_rows = [(i, it, k) for (i, it, _), k in zip(rows, keys)]
        forest = None
        if ov is not None and "segmentation" in ov.model_fields_set:
            # its own segmentation: its own forest (training scan: one of its scans, default
            # its first), or thresholds; the shared forest never goes to it
            forest = _forest_params(exp, san, series, seg_rows)
        else:
            if not (forest_done and an.segmentation.training is not None
                    and an.segmentation.training.scan is None):
                forest = _forest_params(exp, an, series, seg_rows)
            if forest is not None:
                forest_done = True
            elif an.segmentation.method == "random_forest":
                log.info("tomo: series %r segmented by grey thresholds (the random forest's "
                         "training scan is in another series)", series)
        own = _series_settings(san, series, [la.name for la in cell.layers], other_names,
                               own=ov.model_fields_set if ov is not None else ())
        base = f"tomo/{sname}"
        stages.append(Stage(
            f"tomo.{sname}.series", _series_stage, inputs=tuple(keys),
            outputs=(f"{base}/volumes", f"{base}/labels", f"{base}/metrics", f"{base}/maps"),
            params={"series": sname, "scan_keys": keys, "time_s": times, "states": states,
                    "layers": layers, "energy_kev": energy,
                    "interfaces": own["interfaces"], "thickness": own["thickness"],
                    "central_fraction": float(san.central_fraction),
                    "register_on": own["register_on"], "median": bool(san.median),
                    "opening_radius_vox": int(san.opening_radius_vox),
                    "min_filament_volume_um3": float(san.min_filament_volume_um3),
                    "n_layers": int(san.n_layers),
                    "electrolyte": own["electrolyte"], "segmentation": forest,
                    "denoise": san.denoise.model_dump() if san.denoise is not None else None,
                    "phase_levels": {k: (v if isinstance(v, (int, float)) else
                                         {kk: list(vv) for kk, vv in v.model_dump().items()
                                          if vv is not None})
                                     for k, v in san.phase_levels.items()} or None,
                    "level_erode_vox": int(san.level_erode_vox),
                    "level_denoise": (san.level_denoise.model_dump()
                                      if san.level_denoise is not None else "default"),
                    # only when on: the default keeps existing stores' fingerprints
                    **({"subvoxel_heights": True} if san.subvoxel_heights else {}),
                    **({"height_estimator": san.height_estimator}
                       if san.height_estimator != "auto" else {})},
            long=True))
    tr = an.segmentation.training
    if an.segmentation.method == "random_forest" and not forest_done and tr.scan is not None:
        from ssbscope.errors import ConfigError

        raise ConfigError(exp.base_dir or "experiment", [(
            "analysis.tomo.segmentation.training.scan",
            f"{tr.scan!r} is not the label (or file stem) of a scan of a measured CT series "
            "without its own segmentation (analysis.tomo.series.<name>.segmentation); name "
            "the scan the training labels belong to")])
    return stages


def _noise_corrected_roughness(scans, ifaces) -> dict:
    """``ra_noise_corrected_um``, ``rq_noise_corrected_um``, ``height_noise_um`` on
    (time_s, interface) from each scan's height map (NaN where the map holds < 3 heights)."""
    from ssbscope.errors import EmptyResultError
    from ssbscope.tomo.metrics import roughness_noise_corrected

    out = np.full((3, len(scans), len(ifaces)), np.nan)
    for i, s in enumerate(scans):
        for j, k in enumerate(ifaces):
            h = s.height_um.get(k)
            if h is None or np.isfinite(h).sum() < 3:
                continue
            try:
                r = roughness_noise_corrected(h)
            except EmptyResultError:
                continue
            out[:, i, j] = r.ra_um, r.rq_um, r.noise_um
    dims = ("time_s", "interface")
    return {"ra_noise_corrected_um": (dims, out[0]), "rq_noise_corrected_um": (dims, out[1]),
            "height_noise_um": (dims, out[2])}


def _resolution_corrected_roughness(scans, ifaces, vs) -> dict:
    """``ra_resolution_corrected_um``, ``rq_resolution_corrected_um`` on (time_s, interface)
    and ``psf_sigma_vox`` on time_s: each scan's lateral PSF, measured with the scan from the
    edge spread at the cell wall of a few slices at the middle of its electrolyte band
    (``ScanMeasurement.psf_sigma_vox``, :func:`ssbscope.tomo.series_chunked._lateral_psf`;
    no volume is read here), then :func:`ssbscope.tomo.metrics.roughness_resolution_corrected`
    of each height map with the scan's height estimator (the median's 3x3x3 filter in the
    forward model where it took the heights).  NaN where the scan has no PSF (no
    electrolyte band of >= 9 slices, or the edge fit failed), the estimator is the truncated
    scan's, or the map holds < 3 heights."""
    from ssbscope.errors import EmptyResultError
    from ssbscope.tomo.metrics import roughness_resolution_corrected

    nt = len(scans)
    out = np.full((4, nt, len(ifaces)), np.nan)
    psf = np.array([getattr(s, "psf_sigma_vox", np.nan) for s in scans], float)
    for i, s in enumerate(scans):
        noise = getattr(s, "height_noise_map_um", {})
        for j, k in enumerate(ifaces):
            h = s.height_um.get(k)
            n = noise.get(k)
            if h is not None and n is not None:  # the map's own noise on its columns
                ok = np.isfinite(h) & np.isfinite(n)
                if ok.sum() >= 3:
                    out[2, i, j] = float(np.std(n[ok]))
            est = getattr(s, "height_estimator", {}).get(k, "unfiltered")
            if (not np.isfinite(psf[i]) or h is None or est not in ("median", "unfiltered")
                    or np.isfinite(h).sum() < 3):
                continue
            try:
                r = roughness_resolution_corrected(h, vs, psf_sigma_vox=psf[i],
                                                   median=est == "median", noise_map_um=n)
            except EmptyResultError:
                continue
            out[[0, 1, 3], i, j] = r.ra_um, r.rq_um, r.noise_fraction
    dims = ("time_s", "interface")
    return {"ra_resolution_corrected_um": (dims, out[0]),
            "rq_resolution_corrected_um": (dims, out[1]),
            "height_map_noise_um": (dims, out[2]),
            "height_noise_fraction": (dims, out[3]),
            "psf_sigma_vox": ("time_s", psf)}


def _pore_crack_unc(res, scans, phases, vs) -> np.ndarray:
    """1-sigma of each scan's pore + crack volume (µm^3) from the pure levels' standard
    errors and the voxels' noise (:func:`ssbscope.tomo.series.measure_scan` integrates
    ``(hi - v) / (hi - lo)`` over the neighbourhood of the low-attenuation voxels of the
    electrolyte band less 2 slices at each face, on the cell's inner columns; ``hi`` the
    electrolyte phase's level, the phase holding the band's majority, ``lo`` the darkest
    phase's; ``ScanMeasurement.pore_crack_parts`` gives the neighbourhood's volume and the
    noise of its sum)."""
    inner = np.asarray(res.region.inner, bool)
    n_in = int(inner.sum())
    out = np.full(len(scans), np.nan)
    for k, s in enumerate(scans):
        pc = float(s.pore_crack_volume_um3)
        try:
            b = s.location.band(s.electrolyte) if s.electrolyte else None
        except ValueError:  # not a declared layer name
            b = None
        if b is None or not np.isfinite(pc) or b[1] - b[0] <= 4:
            continue
        e0, e1 = int(b[0]), int(b[1])
        lab = np.asarray(res.labels[k, e0:e1])[:, inner]
        cnt = np.bincount(lab[lab < len(phases)].ravel(), minlength=len(phases))
        hi = s.phase_levels[phases[int(np.argmax(cnt))]]
        lo = s.phase_levels[phases[0]]
        d = hi.level - lo.level
        if not (np.isfinite(d) and d != 0):
            continue
        parts = getattr(s, "pore_crack_parts", None) or {}
        # the region the partial volume sums over: the low-attenuation neighbourhood
        # (series_chunked._local_pore_crack_volume), else the whole band
        v_r = float(parts.get("region_um3", (e1 - e0 - 4) * n_in * vs ** 3))
        noise = float(parts.get("noise_um3", 0.0))
        # the matrix levels' part: the neighbourhood's own (its rings' mean levels,
        # series_chunked._local_pore_crack_volume), else the pure level's
        lvl = float(parts.get("level_um3", float("nan")))
        if not np.isfinite(lvl):
            lvl = (v_r - pc) * hi.uncertainty / d
        out[k] = float(np.sqrt(lvl ** 2 + (pc * lo.uncertainty / d) ** 2 + noise ** 2))
    return out


def _isolated_split_attrs(met, res, *, layers=None):
    """Units, names and the rule of ``pore_volume_um3`` / ``isolated_li_um3`` (with
    ``layers``, the declared materials' Li | void contrast that rules out a grey-level
    split)."""
    from ssbscope.errors import ParameterError
    from ssbscope.tomo import low_attenuation as LA
    from ssbscope.tomo.series import as_layers

    if "pore_volume_um3" not in met.data_vars:  # a metrics dataset without the split
        return
    rule = LA.PERSISTENCE_RULE
    try:
        mats = {la.name: la.material for la in as_layers(layers)}
        electrolyte = met.attrs["electrolyte"]
        c = LA.li_void_contrast(res.order.phases[0], mats[electrolyte],
                                float(res.order.energy_kev))
        rule += f"; li_void_contrast = {c:.3g} ({res.order.phases[0]} in {mats[electrolyte]} " \
                f"at {float(res.order.energy_kev):g} keV)"
    except (KeyError, TypeError, ValueError, ParameterError) as exc:
        # no layers, no energy or an unknown material: the rule without the number
        log.debug("tomo: no Li | void contrast for the isolated split (%s)", exc)
    met["pore_volume_um3"].attrs.update({
        "units": "um^3", "long_name": "pores of the electrolyte (isolated low-attenuation "
        "regions present in the first scan)", "method": rule})
    met["isolated_li_um3"].attrs.update({
        "units": "um^3", "long_name": "isolated (dead) Li: isolated low-attenuation regions "
        "absent from the first scan", "method": rule})
    met["low_attenuation_isolated_um3"].attrs.setdefault("units", "um^3")
