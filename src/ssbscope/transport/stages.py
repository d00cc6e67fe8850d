"""Pipeline stages of the transport area.

:func:`input_stages` (``ssbscope run``): transport on the user's CT series, for every measured
series (``analysis.transport.series``, default all):

1. ``transport.<series>.tortuosity`` (with ``analysis.transport.phase``): tortuosity, volume
   fraction, D_eff/D, slab-wise tortuosity and a mid-plane flux map of the declared phase in
   the core of one declared layer (``analysis.transport.layer``, default the series'
   electrolyte) of every scan, from ``tomo/<series>/labels`` (labels, cell footprint, the
   layers' bands ``layer_z_vox``) -> ``transport/<series>/tortuosity`` on ``time_s``
   (:func:`ssbscope.transport.layer.layer_tortuosity`).
2. ``transport.<series>.interface_flux`` (with ``analysis.transport.interface_regions``):
   tortuosity, volume fraction, D_eff/D and the mid-plane flux map of a declared phase in a
   slab centred on each declared interface ``lower|upper`` of every scan (the Li+ flux
   through the buried Li|SPE interphase region of Huang et al. 2024,
   doi:10.1016/j.xcrp.2024.101995, Fig. S27: driven in-plane by default), from
   ``tomo/<series>/labels``: the interface's mean height from the labels of the lower layer's
   material between the middle of the lower layer's band and the top of the upper one, in
   the measured columns (the cell footprint eroded by one voxel, the tomo chain's inner
   region) -> ``transport/<series>/interface_flux`` on ``time_s`` x ``interface``
   (:func:`ssbscope.transport.layer.interface_tortuosity`).
3. ``transport.<series>.current_density``: current-density maps of the plated layer
   (``analysis.transport.current_density_layer``, else the correlate area's plated layer)
   between consecutive scans, registered to the first by the tomo chain (its in-plane and
   z shifts, ``tomo/<series>/labels`` ``shift_vox``), from ``tomo/<series>/maps``
   ``thickness_um``, with the cycler's mean current density over the same interval (net
   charge of the series' echem log between the two scan times / dt / cell area) ->
   ``transport/<series>/current_density`` on ``interval``
   (:func:`ssbscope.transport.series_current_density`).

The area has no in-memory twin study: the demo's coin-cell CT series asks for the interface
region (``analysis.transport.interface_regions``) and its anode-free series has a scan
displaced in-plane (:mod:`ssbscope.twin.params_001` ``demo_drift_yx``), both through this path.
The contoured-interface study is the interface area's (:mod:`ssbscope.interface.stages`).
"""

from __future__ import annotations

import logging

import numpy as np

from ssbscope.store import attr_list as _list_attr

__all__ = ["input_stages"]

log = logging.getLogger(__name__)

# ----------------------------------------------------------------------------- user series
#: Interface mixing zones trimmed from a layer's band before its tortuosity
#: (:func:`ssbscope.transport.layer.layer_core`).
MIXING_TOL = 0.05



def _layer_bands(lab, layers, k: int, segmentation=None) -> dict:
    """layer name -> (z0, z1) of scan ``k`` (None where absent), from ``layer_z_vox`` of the
    labels, else located again on the stored labels (stores written before it existed).

    ``segmentation``: the series' segmentation method (the ``segmentation`` attribute of
    ``tomo/<series>/metrics``; default: that attribute of the labels, where stored).  The
    labels' ``classes`` attribute is a grey-ordered level -> phase map only for the grey
    thresholds; a random forest stores its training's class order there, which would rank an
    undeclared band wrongly, so it is not passed to ``locate_layers`` then (only one-slice
    undeclared bands are skipped)."""
    if "layer_z_vox" in lab:
        names = [str(x) for x in lab["layer"].values.tolist()]
        zz = np.asarray(lab["layer_z_vox"].values[k])
        return {n: (int(a), int(b)) if a >= 0 else None for n, (a, b) in zip(names, zz)}
    from ssbscope.tomo.series import UNDECLARED, PhaseOrder, locate_layers

    phases = tuple(_list_attr(lab.attrs["phases"]))
    order = PhaseOrder(phases, (float("nan"),) * len(phases), float("nan"))
    # the segmentation's level -> phase map (its grey classes, ascending): the level of an
    # undeclared band, so a short one between two layers' levels is skipped as their ramp
    method = str(segmentation or lab.attrs.get("segmentation", "threshold"))
    classes = [str(c) for c in _list_attr(lab.attrs.get("classes", []))]
    cmap = None
    if (method != "random_forest" and classes
            and all(c in phases or c == "undeclared" for c in classes)):
        cmap = [phases.index(c) if c in phases else UNDECLARED for c in classes]
    loc = locate_layers(lab["labels"].values[k], layers, order, lab["cell_mask"].values,
                        float(lab.attrs["voxel_size_um"]), class_phase=cmap)
    return {n: loc.band(n) for n in loc.names}


def _tortuosity_series_stage(ctx, inputs, *, series, labels_key, metrics_key, phase, layer,
                             layers, axis=0, n_slabs=4, rtol=1e-6, mixing_tol=MIXING_TOL):
    """tau, slab tau and mid-plane flux of ``phase`` in ``layer`` for every scan of a series."""
    import xarray as xr

    from ssbscope.errors import EmptyResultError, InputError
    from ssbscope.transport.layer import layer_tortuosity

    lab = inputs[labels_key]  # lazy: each scan's labels are read only in the layer's band
    met = inputs[metrics_key]
    phases = [str(p) for p in _list_attr(lab.attrs["phases"])]
    if phase not in phases:
        raise InputError(f"{labels_key}: analysis.transport.phase {phase!r} is not a segmented "
                         f"phase of series {series!r} (phases: {', '.join(phases)})")
    pidx = phases.index(phase)
    if layer is None:
        if not met.attrs.get("electrolyte"):
            raise InputError(f"{metrics_key}: no 'electrolyte' attribute to default "
                             "analysis.transport.layer to; set analysis.transport.layer")
        layer, why = str(met.attrs["electrolyte"]), "the CT series' electrolyte layer"
    else:
        why = "analysis.transport.layer"
    vs = float(lab.attrs["voxel_size_um"])
    labels = lab["labels"]
    fp = np.asarray(lab["cell_mask"].values, bool)
    t = np.asarray(lab["time_s"].values, float)
    nt, _, ny, nx = labels.shape
    ns = int(n_slabs)
    scal = np.full((nt, 7), np.nan)
    band = np.full((nt, 2), -1, np.int64)
    core = np.full((nt, 2), -1, np.int64)
    slab = np.full((nt, ns, 3), np.nan)
    sb = np.full((nt, ns, 2), np.nan)
    fmap = np.full((nt, ny, nx), np.nan, np.float32)
    fz = np.full(nt, np.nan)
    reasons = []
    for k in ctx.progress(range(nt), desc=f"transport {series}"):
        b = _layer_bands(lab, layers, k, met.attrs.get("segmentation")).get(layer)
        if b is None:
            reasons.append(f"layer {layer!r} absent in this scan")
            log.warning("transport %s: scan %d: layer %r absent; tau NaN", series, k, layer)
            continue
        band[k] = b
        b0 = int(b[0])  # the layer's band only: the core and its solve lie inside it
        try:
            r = layer_tortuosity(np.asarray(labels[k, b0:int(b[1])].values), pidx,
                                 (0, int(b[1]) - b0), fp, axis=axis, n_slabs=ns,
                                 mixing_tol=mixing_tol, rtol=rtol)
        except EmptyResultError as exc:
            reasons.append(str(exc))
            log.warning("transport %s: scan %d: %s; tau NaN", series, k, exc)
            continue
        reasons.append(r.reason)
        core[k] = np.asarray(r.core_z_vox) + b0
        scal[k] = (r.tau, r.volume_fraction, r.d_eff_ratio, r.percolating_fraction,
                   r.flux_imbalance, r.relative_residual, r.iterations)
        m = r.slab_tau.size
        slab[k, :m] = np.stack([r.slab_tau, r.slab_volume_fraction, r.slab_d_eff_ratio], 1)
        sb[k, :m] = (r.slab_bounds_vox + b0) * vs
        fmap[k] = r.flux_map
        fz[k] = (r.flux_plane_z_vox + b0 + 0.5) * vs
    region = "cell footprint prism" if int(axis) == 0 else "largest square inside the cell footprint"
    ds = xr.Dataset(
        {"tau": ("time_s", scal[:, 0]), "volume_fraction": ("time_s", scal[:, 1]),
         "d_eff_ratio": ("time_s", scal[:, 2]), "percolating_fraction": ("time_s", scal[:, 3]),
         "flux_imbalance": ("time_s", scal[:, 4]), "relative_residual": ("time_s", scal[:, 5]),
         "iterations": ("time_s", scal[:, 6]),
         "reason": ("time_s", np.asarray(reasons, dtype=str)),
         "band_z_um": (("time_s", "bound"), np.where(band >= 0, band * vs, np.nan)),
         "core_z_um": (("time_s", "bound"), np.where(core >= 0, core * vs, np.nan)),
         "slab_tau": (("time_s", "slab"), slab[..., 0]),
         "slab_volume_fraction": (("time_s", "slab"), slab[..., 1]),
         "slab_d_eff_ratio": (("time_s", "slab"), slab[..., 2]),
         "slab_bounds_um": (("time_s", "slab", "bound"), sb),
         "flux_map": (("time_s", "y", "x"), fmap),
         "flux_plane_z_um": ("time_s", fz)},
        coords={"time_s": t, "slab": np.arange(1, ns + 1), "bound": ["start", "stop"],
                "y": (np.arange(ny) + 0.5) * vs, "x": (np.arange(nx) + 0.5) * vs},
        attrs={"series": series, "phase": phase, "layer": layer, "layer_choice": why,
               "transport_axis": int(axis), "axis_name": "zyx"[int(axis)],
               "voxel_size_um": vs, "region": region, "mixing_tol": float(mixing_tol),
               "source": f"{labels_key} (labels, cell_mask, layer bands)",
               "tau_definition": "D_eff = D eps / tau (TauFactor), eps = volume_fraction of the "
                                 "phase in the solved region (isolated pores excluded from "
                                 "the phase)",
               "slab": "core of the layer's band (interface mixing zones trimmed: slices from "
                       "each face whose phase fraction is below the band median - mixing_tol); "
                       "slabs cut the core along the transport axis, each solved on its own",
               "convergence": f"MG-preconditioned CG to relative residual {rtol:g}; plane-flux "
                              "spread (max-min)/mean <= 1e-3"})
    if "state" in lab:
        ds["state"] = ("time_s", np.asarray([str(s) for s in lab["state"].values], dtype=str))
    for v, u in (("tau", "1"), ("volume_fraction", "1"), ("d_eff_ratio", "1"),
                 ("percolating_fraction", "1"), ("flux_imbalance", "1"),
                 ("relative_residual", "1"), ("iterations", "1"), ("slab_tau", "1"),
                 ("slab_volume_fraction", "1"), ("slab_d_eff_ratio", "1"),
                 ("band_z_um", "um"), ("core_z_um", "um"), ("slab_bounds_um", "um"),
                 ("flux_plane_z_um", "um"), ("time_s", "s"), ("y", "um"), ("x", "um")):
        ds[v].attrs["units"] = u
    ds["flux_map"].attrs["units"] = "1"
    ds["flux_map"].attrs["description"] = ("flux along the transport axis in the mid-z plane of "
                                           "the core (flux_plane_z_um); NaN outside the solved "
                                           "region")
    return {f"transport/{series}/tortuosity": ds}


def _interface_flux_series_stage(ctx, inputs, *, series, labels_key, regions, layers, rtol=1e-6):
    """tau, volume fraction, D_eff/D and mid-plane flux of a phase in a slab centred on each
    declared interface, for every scan of a series (``regions``: dicts with ``interface``,
    ``lower``, ``upper``, ``lower_material``, ``phase``, ``half_thickness_um``, ``axis``)."""
    import scipy.ndimage as ndi
    import xarray as xr

    from ssbscope.errors import EmptyResultError, InputError
    from ssbscope.transport.layer import interface_tortuosity

    lab = inputs[labels_key]  # lazy: each scan's labels are read only around its interfaces
    phases = [str(p) for p in _list_attr(lab.attrs["phases"])]
    for r in regions:
        for what, mat in (("phase", r["phase"]), ("interface", r["lower_material"])):
            if mat not in phases:
                raise InputError(f"{labels_key}: analysis.transport.interface_regions "
                                 f"({r['interface']}): {what} material {mat!r} is not a segmented "
                                 f"phase of series {series!r} (phases: {', '.join(phases)})")
    vs = float(lab.attrs["voxel_size_um"])
    labels = lab["labels"]
    fp = np.asarray(lab["cell_mask"].values, bool)
    inner = ndi.binary_erosion(fp, iterations=1)
    if not inner.any():
        inner = fp
    t = np.asarray(lab["time_s"].values, float)
    nt, nz, ny, nx = labels.shape
    ni = len(regions)
    scal = np.full((nt, ni, 7), np.nan)
    zi = np.full((nt, ni), np.nan)
    slab = np.full((nt, ni, 2), np.nan)
    fz = np.full((nt, ni), np.nan)
    fmap = np.full((nt, ni, ny, nx), np.nan, np.float32)
    reasons = np.full((nt, ni), "", dtype=object)
    half = [max(1, int(round(float(r["half_thickness_um"]) / vs))) for r in regions]
    for k in ctx.progress(range(nt), desc=f"interface flux {series}"):
        bands = _layer_bands(lab, layers, k)
        for j, r in enumerate(regions):
            lo, up = bands.get(r["lower"]), bands.get(r["upper"])
            if lo is None or up is None:
                reasons[k, j] = (f"layer {r['lower'] if lo is None else r['upper']!r} not located "
                                 "in this scan")
                log.warning("transport %s: scan %d: %s; interface flux NaN", series, k,
                            reasons[k, j])
                continue
            window = ((lo[0] + lo[1]) // 2, up[1])
            # only the slices the interface and its slab can reach: [a, b) holds the window
            # and half + 1 slices each side (clipped at the volume's ends, as the full volume)
            a, b = max(0, window[0] - half[j] - 1), min(nz, window[1] + half[j] + 1)
            try:
                res = interface_tortuosity(np.asarray(labels[k, a:b].values),
                                           phases.index(r["phase"]),
                                           phases.index(r["lower_material"]),
                                           (window[0] - a, window[1] - a), inner,
                                           half[j], axis=int(r["axis"]), rtol=rtol)
            except EmptyResultError as exc:
                reasons[k, j] = str(exc)
                log.warning("transport %s: scan %d: %s: %s; interface flux NaN", series, k,
                            r["interface"], exc)
                continue
            q = res.result
            zi[k, j] = (res.interface_z_vox + a) * vs
            slab[k, j] = (np.asarray(res.slab_z_vox, float) + a) * vs
            scal[k, j] = (q.tau, q.volume_fraction, q.d_eff_ratio, q.percolating_fraction,
                          q.flux_imbalance, q.relative_residual, q.iterations)
            fmap[k, j] = q.flux_map
            fz[k, j] = (q.flux_plane_z_vox + a + 0.5) * vs
            reasons[k, j] = q.reason
    dims = ("time_s", "interface")
    ds = xr.Dataset(
        {"tau": (dims, scal[..., 0]), "volume_fraction": (dims, scal[..., 1]),
         "d_eff_ratio": (dims, scal[..., 2]), "percolating_fraction": (dims, scal[..., 3]),
         "flux_imbalance": (dims, scal[..., 4]), "relative_residual": (dims, scal[..., 5]),
         "iterations": (dims, scal[..., 6]),
         "reason": (dims, np.asarray(reasons.tolist(), dtype=str).reshape(nt, ni)),
         "interface_z_um": (dims, zi),
         "slab_z_um": (dims + ("bound",), slab),
         "flux_map": (dims + ("y", "x"), fmap),
         "flux_plane_z_um": (dims, fz),
         "phase": ("interface", np.asarray([r["phase"] for r in regions], dtype=str)),
         "half_thickness_um": ("interface", np.asarray([float(r["half_thickness_um"])
                                                         for r in regions])),
         "half_thickness_vox": ("interface", np.asarray(half, np.int64)),
         "axis": ("interface", np.asarray([int(r["axis"]) for r in regions], np.int64))},
        coords={"time_s": t, "interface": [r["interface"] for r in regions],
                "bound": ["start", "stop"],
                "y": (np.arange(ny) + 0.5) * vs, "x": (np.arange(nx) + 0.5) * vs},
        attrs={"series": series, "voxel_size_um": vs,
               "source": f"{labels_key} (labels, cell_mask, layer bands)",
               "interface_height": "mean height of the boundary in the measured columns: the "
                                   "middle of the lower layer's band + the summed fraction of "
                                   "columns labelled the lower layer's material up to the top "
                                   "of the upper layer's band (ssbscope.transport.layer."
                                   "mean_interface_height_vox)",
               "slab": "2 half_thickness_vox slices centred on the voxel boundary nearest the "
                       "interface's mean height (half_thickness_vox = round(half_thickness_um "
                       "/ voxel size), at least 1)",
               "region": "in-plane (axis 1, 2): the largest square inside the measured columns "
                         "(cell_mask eroded by one voxel); axis 0: those columns",
               "tau_definition": "D_eff = D eps / tau (TauFactor), eps = volume_fraction of the "
                                 "phase in the solved region",
               "convergence": f"MG-preconditioned CG to relative residual {rtol:g}; plane-flux "
                              "spread (max-min)/mean <= 1e-3"})
    if "state" in lab:
        ds["state"] = ("time_s", np.asarray([str(x) for x in lab["state"].values], dtype=str))
    for v, u in (("tau", "1"), ("volume_fraction", "1"), ("d_eff_ratio", "1"),
                 ("percolating_fraction", "1"), ("flux_imbalance", "1"),
                 ("relative_residual", "1"), ("iterations", "1"), ("interface_z_um", "um"),
                 ("slab_z_um", "um"), ("flux_plane_z_um", "um"), ("half_thickness_um", "um"),
                 ("half_thickness_vox", "1"), ("flux_map", "1"), ("time_s", "s"),
                 ("y", "um"), ("x", "um")):
        ds[v].attrs["units"] = u
    ds["flux_map"].attrs["description"] = ("flux along the transport axis (normalised by D dc/L: "
                                           "1 in a straight open channel) in the slab's mid-plane "
                                           "(flux_plane_z_um); NaN outside the solved region")
    return {f"transport/{series}/interface_flux": ds}


def _pixel_um(mp) -> float:
    """Pixel of a maps dataset (µm): the spacing of its ``x`` coordinate, else the
    dataset's ``voxel_size_um``."""
    x = np.asarray(mp["x"].values, float) if "x" in mp.coords else np.zeros(0)
    if x.size >= 2 and np.all(np.isfinite(x[:2])):
        return float(abs(x[1] - x[0]))
    return float(mp.attrs.get("voxel_size_um", float("nan")))


def _current_density_series_stage(ctx, inputs, *, series, maps_key, layer, layer_choice,
                                  log_key=None, log_choice=None, area_cm2=None, labels_key=None):
    """Current-density maps between consecutive scans of a series vs the cycler's charge."""
    import xarray as xr

    from ssbscope.errors import InputError
    from ssbscope.mapnoise import NOISE_MODEL_TEXT
    from ssbscope.transport.current_density import series_current_density

    mp = inputs[maps_key].load()
    layers = [str(x) for x in mp["layer"].values.tolist()]
    if layer not in layers:
        raise InputError(f"{maps_key}: no thickness map of layer {layer!r} (maps of: "
                         f"{', '.join(layers) or 'none'}); add it to analysis.tomo.thickness or "
                         "set analysis.transport.current_density_layer")
    h = np.asarray(mp["thickness_um"].sel(layer=layer).values, float)
    t = np.asarray(mp["time_s"].values, float)
    lt = q = None
    if log_key is not None and area_cm2:
        lg = inputs[log_key]
        lt = np.asarray(lg["time_s"].values, float)
        q = np.asarray(lg["charge_mAh"].values, float) / float(area_cm2)
    elif log_key is not None:
        log.warning("transport %s: the cell has no area (area_cm2 / diameter_mm): no cycler "
                    "current density", series)
    res = series_current_density(h, t, log_time_s=lt, log_charge_mah_cm2=q)
    n = res.t_start_s.size
    states = ([str(s) for s in mp["state"].values] if "state" in mp
              else [f"t = {x:g} s" for x in t])
    ds = xr.Dataset(
        {"t_start_s": ("interval", res.t_start_s), "t_end_s": ("interval", res.t_end_s),
         "dt_s": ("interval", res.t_end_s - res.t_start_s),
         "state_start": ("interval", np.asarray(states[:-1], dtype=str)),
         "state_end": ("interval", np.asarray(states[1:], dtype=str)),
         "current_density_ma_cm2": (("interval", "y", "x"),
                                    res.current_ma_cm2.astype(np.float32)),
         "mean_current_density_ma_cm2": ("interval", res.mean_current_ma_cm2),
         "std_current_density_ma_cm2": ("interval", res.std_current_ma_cm2),
         "noise_current_density_ma_cm2": ("interval", res.noise_ma_cm2),
         "noise_correlation_length_um": ("interval", res.noise_correlation_length_px
                                         * _pixel_um(mp)),
         "white_noise_current_density_ma_cm2": ("interval", res.white_noise_ma_cm2),
         "n_hotspots": ("interval", res.n_hotspots),
         "cycler_charge_mah_cm2": ("interval", res.charge_mah_cm2),
         "cycler_current_density_ma_cm2": ("interval", res.cycler_current_ma_cm2),
         "ratio": ("interval", res.ratio),
         "residual_pct": ("interval", res.residual_pct)},
        coords={"interval": np.arange(n), "y": mp["y"].values, "x": mp["x"].values},
        attrs={"series": series, "layer": layer, "layer_choice": layer_choice,
               "echem_log": log_key or "", "log_choice": log_choice or "no echem cycling log",
               "area_cm2": float(area_cm2) if area_cm2 else float("nan"),
               "source": f"{maps_key} thickness_um (registered frame)",
               "equation": "j = rho_Li F dh / (M_Li dt) (dense Li); cycler: net charge between "
                           "the two scan times / dt / cell area",
               "residual_rule": "100 (mean / cycler - 1); NaN where |cycler charge| < 0.05 "
                                "mA*h/cm^2"})
    if labels_key is not None and "shift_vox" in inputs[labels_key]:
        # the registration the maps are in: each scan's shift onto the first (tomo chain)
        lab = inputs[labels_key]
        sh = np.asarray(lab["shift_vox"].values, float) * float(lab.attrs["voxel_size_um"])
        if sh.shape[0] == t.size:
            ds["registration_shift_um"] = (("time_s", "axis"), sh)
            ds = ds.assign_coords(time_s=t, axis=["z", "y", "x"])
            ds["registration_shift_um"].attrs.update(
                units="um", description="shift applied to each scan to register it onto the first "
                "(tomo/<series>/labels shift_vox x voxel size); the maps are in the first scan's "
                "frame")
            ds["time_s"].attrs["units"] = "s"
    for v, u in (("t_start_s", "s"), ("t_end_s", "s"), ("dt_s", "s"),
                 ("current_density_ma_cm2", "mA/cm^2"), ("mean_current_density_ma_cm2", "mA/cm^2"),
                 ("std_current_density_ma_cm2", "mA/cm^2"),
                 ("noise_current_density_ma_cm2", "mA/cm^2"), ("n_hotspots", "1"),
                 ("noise_correlation_length_um", "um"),
                 ("white_noise_current_density_ma_cm2", "mA/cm^2"),
                 ("cycler_charge_mah_cm2", "mA*h/cm^2"), ("cycler_current_density_ma_cm2", "mA/cm^2"),
                 ("ratio", "1"), ("residual_pct", "percent"), ("y", "um"), ("x", "um")):
        ds[v].attrs["units"] = u
    ds["noise_current_density_ma_cm2"].attrs["description"] = (
        "per-pixel error of each map, white and correlated parts: sigma of the shared map-noise "
        "model (ssbscope.transport.current_density.map_noise_correlated = "
        "ssbscope.mapnoise.fit_map_noise): " + NOISE_MODEL_TEXT)
    ds["noise_correlation_length_um"].attrs["description"] = (
        "l of the same fit: std of the Gaussian that correlates the error's correlated part "
        "(its correlation falls to 1/e at ~2 l); 0: white")
    ds["white_noise_current_density_ma_cm2"].attrs["description"] = (
        "neighbour-difference noise (ssbscope.transport.current_density.map_noise): white "
        "noise only, low where the error is correlated over pixels")
    return {f"transport/{series}/current_density": ds}


def input_stages(exp) -> list:
    """Transport stages of ``ssbscope run`` on the user's CT series.

    For every measured CT series (its cell declares at least two layers; all of them unless
    ``analysis.transport.series`` names some):

    * ``transport.<series>.tortuosity`` when ``analysis.transport.phase`` is set: tau, slab
      tau and a mid-plane flux map of that phase in the core of ``analysis.transport.layer``
      (default the series' electrolyte layer) for every scan, from ``tomo/<series>/labels``
      -> ``transport/<series>/tortuosity``;
    * ``transport.<series>.interface_flux`` for the entries of
      ``analysis.transport.interface_regions`` whose interface's two layers the series' cell
      declares: tortuosity and mid-plane flux map of the entry's phase in a slab centred on
      the interface in every scan, from ``tomo/<series>/labels`` ->
      ``transport/<series>/interface_flux``;
    * ``transport.<series>.current_density`` when the series has at least two scans and a
      current-density layer (``analysis.transport.current_density_layer``, else the correlate
      area's plated layer: ``analysis.correlate.plated_layer``, else the lowest Li layer):
      current-density maps between consecutive scans from ``tomo/<series>/maps`` against the
      cycler's mean current density over the same interval (the echem log the correlate area
      picks for the series) -> ``transport/<series>/current_density``.

    Parameters
    ----------
    exp : ssbscope.config.Experiment

    Returns
    -------
    list of ssbscope.pipeline.Stage

    Raises
    ------
    ConfigError
        A series, phase or layer of ``analysis.transport`` the experiment does not have; an
        interface region no chosen series' cell declares, or whose phase is not a material
        of that cell.
    """
    from ssbscope.correlate.stages import _cell, _cell_key, _choose_log, _plated_layer, _tomo_series
    from ssbscope.echem.stages import _input_items
    from ssbscope.errors import ConfigError
    from ssbscope.pipeline import Stage
    from ssbscope.tomo.stages import _slug

    an = exp.analysis.transport
    where = exp.base_dir or "experiment"
    measured = _tomo_series(exp)
    if an.series is not None:
        bad = [s for s in an.series if s not in measured]
        if bad:
            raise ConfigError(where, [("analysis.transport.series", (
                f"{', '.join(map(repr, bad))}: not a measured CT series (measured: "
                f"{', '.join(map(repr, measured)) or 'none'}; a series is measured when its "
                "cell declares its layers)"))])
        chosen = list(dict.fromkeys(an.series))
    else:
        chosen = list(measured)
    if not chosen:
        return []
    if an.phase is not None:
        has = {s: an.phase in [la.material for la in _cell(exp, _cell_key(exp, measured[s])).layers]
               for s in chosen}
        if not any(has.values()) or (an.series is not None and not all(has.values())):
            bad = [s for s, ok in has.items() if not ok]
            raise ConfigError(where, [("analysis.transport.phase", (
                f"{an.phase!r} is not a material of the declared layers of series "
                f"{', '.join(map(repr, bad))}; give a material of cell.layers (e.g. the "
                "electrolyte's)"))])
    regions = _interface_regions(exp, an, chosen, measured, where)
    cyc, _ = _input_items(exp)
    cyc_items = [it for it in (getattr(exp.inputs, "echem", []) or []) if it.kind != "eis"]
    stages = []
    for series in chosen:
        items = measured[series]
        sname = _slug(series)
        base = f"tomo/{sname}"
        ckey = _cell_key(exp, items)
        cell = _cell(exp, ckey)
        names = [la.name for la in cell.layers]
        layers = [{"name": la.name, "material": la.material, "thickness_um": la.thickness_um}
                  for la in cell.layers]
        if an.phase is not None and an.phase not in [la.material for la in cell.layers]:
            log.info("transport: series %r: its cell has no %r layer; no tortuosity", series,
                     an.phase)
        elif an.phase is not None:
            if an.layer is not None and an.layer not in names:
                raise ConfigError(where, [("analysis.transport.layer", (
                    f"{an.layer!r} is not a layer of the cell of series {series!r} (layers: "
                    f"{', '.join(names)})"))])
            stages.append(Stage(
                f"transport.{sname}.tortuosity", _tortuosity_series_stage,
                inputs=(f"{base}/labels", f"{base}/metrics"),
                outputs=(f"transport/{sname}/tortuosity",),
                params={"series": sname, "labels_key": f"{base}/labels",
                        "metrics_key": f"{base}/metrics", "phase": an.phase, "layer": an.layer,
                        "layers": layers, "axis": int(an.axis), "n_slabs": int(an.n_slabs),
                        "rtol": float(an.rtol), "mixing_tol": MIXING_TOL},
                long=True))
        if regions.get(series):
            stages.append(Stage(
                f"transport.{sname}.interface_flux", _interface_flux_series_stage,
                inputs=(f"{base}/labels",), outputs=(f"transport/{sname}/interface_flux",),
                params={"series": sname, "labels_key": f"{base}/labels",
                        "regions": regions[series], "layers": layers,
                        "rtol": float(an.rtol)},
                long=True))
        if len(items) < 2:
            log.info("transport: series %r has one scan: no current density", series)
            continue
        if an.current_density_layer is not None:
            cd = an.current_density_layer
            if cd not in names:
                raise ConfigError(where, [("analysis.transport.current_density_layer", (
                    f"{cd!r} is not a layer of the cell of series {series!r} (layers: "
                    f"{', '.join(names)})"))])
            why = "analysis.transport.current_density_layer"
        else:
            cd, why = _plated_layer(exp, cell, series)
            if cd is None:
                log.info("transport: series %r: %s", series, why)
                continue
        th = exp.analysis.tomo.for_series(series).thickness
        if th is not None and cd not in th:
            if an.current_density_layer is not None:
                raise ConfigError(where, [("analysis.transport.current_density_layer", (
                    f"{cd!r} has no thickness maps: add it to analysis.tomo.thickness "
                    f"({', '.join(th)})"))])
            log.info("transport: series %r: layer %r is not in analysis.tomo.thickness; no "
                     "current density", series, cd)
            continue
        log_key = log_why = None
        if cyc:
            log_key, log_why = _choose_log(exp, cyc, cyc_items, ckey, series)
        ins = (f"{base}/maps", f"{base}/labels") + ((log_key,) if log_key else ())
        stages.append(Stage(
            f"transport.{sname}.current_density", _current_density_series_stage, inputs=ins,
            outputs=(f"transport/{sname}/current_density",),
            params={"series": sname, "maps_key": f"{base}/maps", "layer": cd,
                    "layer_choice": why, "log_key": log_key, "log_choice": log_why,
                    "area_cm2": cell.electrode_area_cm2, "labels_key": f"{base}/labels"}))
    return stages


def _interface_regions(exp, an, chosen, measured, where) -> dict:
    """series -> list of the interface regions its cell declares (stage parameters)."""
    from ssbscope.correlate.stages import _cell, _cell_key
    from ssbscope.errors import ConfigError, InputError
    from ssbscope.tomo.series import interface_pairs

    out = {s: [] for s in chosen}
    for i, reg in enumerate(an.interface_regions):
        field = f"analysis.transport.interface_regions[{i}]"
        found = []
        for series in chosen:
            cell = _cell(exp, _cell_key(exp, measured[series]))
            names = [la.name for la in cell.layers]
            lower, upper = reg.interface.split("|")
            if lower not in names or upper not in names:
                log.info("transport: series %r: its cell has no layers %r; no interface flux",
                         series, reg.interface)
                continue
            layers = [{"name": la.name, "material": la.material, "thickness_um": la.thickness_um}
                      for la in cell.layers]
            try:
                interface_pairs(layers, [reg.interface])
            except InputError as exc:
                raise ConfigError(where, [(f"{field}.interface", str(exc).split(": ", 1)[-1])]) from None
            mats = [la.material for la in cell.layers]
            if reg.phase not in mats:
                raise ConfigError(where, [(f"{field}.phase", (
                    f"{reg.phase!r} is not a material of the cell of series {series!r} "
                    f"(materials: {', '.join(dict.fromkeys(mats))})"))])
            found.append(series)
            out[series].append({"interface": reg.interface, "lower": lower, "upper": upper,
                                "lower_material": mats[names.index(lower)],
                                "phase": reg.phase,
                                "half_thickness_um": float(reg.half_thickness_um),
                                "axis": int(reg.axis)})
        if not found:
            raise ConfigError(where, [(f"{field}.interface", (
                f"{reg.interface!r}: no chosen CT series' cell declares these two layers "
                f"(series: {', '.join(map(repr, chosen)) or 'none'}); write 'lower|upper' with "
                "names from cell.layers"))])
    return out
