"""Pipeline stages of the transport area.

:func:`input_stages` (``ssbscope run``): transport on the user's CT series, for every measured
series (``analysis.transport.series``, default all):

1. ``transport.<series>.tortuosity`` (with ``analysis.transport.phase``): tortuosity, volume
   fraction, D_eff/D, slab-wise tortuosity and a mid-plane flux map of the declared phase in
   the core of one declared layer (``analysis.transport.layer``, default the series'
   electrolyte) of every scan, from ``tomo/<series>/labels`` (labels, cell footprint, the
   layers' bands ``layer_z_vox``) -> ``transport/<series>/tortuosity`` on ``time_s``
   (:func:`ssbscope.transport.layer.layer_tortuosity`).
2. ``transport.<series>.current_density``: current-density maps of the plated layer
   (``analysis.transport.current_density_layer``, else the correlate area's plated layer)
   between consecutive registered scans, from ``tomo/<series>/maps`` ``thickness_um``, with
   the cycler's mean current density over the same interval (net charge of the series' echem
   log between the two scan times / dt / cell area) -> ``transport/<series>/current_density``
   on ``interval`` (:func:`ssbscope.transport.series_current_density`).

:func:`demo_stages` runs, on the digital twin (``twin.modalities``):

1. ``transport.interface_flux``: Li+ flux through the SPE of the buried Li|SPE interphase
   region of the 000_290f30815ae66793 coin-cell twin (:func:`ssbscope.twin.ct.coin_cell_000`)
   at the pristine, charged and discharged states, driven across the x-y plane as in the
   paper's TauFactor simulation -> ``transport/interface_flux`` (tau, porosity, D_eff/D,
   convergence checks per state; flux maps in the slab mid-plane).
2. ``transport.current_density``: current-density map between two Li thickness maps of the
   anode-free twin (:func:`ssbscope.twin.ct.anode_free_001`, 0 -> 1.5 mAh/cm2 at
   0.5 mA/cm2), the second scan displaced in-plane and registered back first ->
   ``transport/current_density`` with the twin's imposed current, the imposed and recovered
   drift and the map error with and without registration.

The contoured-interface study is the interface area's (:mod:`ssbscope.interface.stages`).
"""

from __future__ import annotations

import logging

import numpy as np

from ssbscope.store import attr_list as _list_attr

__all__ = ["demo_stages", "input_stages", "INTERFACE_STATES"]

log = logging.getLogger(__name__)

INTERFACE_STATES = ("pristine", "charged", "discharged")

_SIZES = {"tiny": 48, "small": 64, "medium": 96}  # coin-cell n_xy
_SPE, _LI, _LI_FILAMENT = 3, 2, 10
_HALF_SLAB_VOX = 4


def _with_units(ds):
    from ssbscope.store import with_default_units

    return with_default_units(ds)


def _size(config) -> str:
    from ssbscope.config import twin_size

    return twin_size(config, tuple(_SIZES))



def _interface_flux_stage(ctx, inputs, *, size="small", axis=2):
    import xarray as xr

    from ssbscope.transport import flux_map, tortuosity
    from ssbscope.twin import ct

    n_xy = _SIZES[size]
    vs = 3.24
    rows, fmaps, pmaps = [], [], []
    zr = None
    for state in ctx.progress(INTERFACE_STATES, desc="interface flux"):
        ph = ct.coin_cell_000(state, n_xy=n_xy, n_z=96, voxel_size_um=vs, seed=int(ctx.seed))
        zi = int(round(ph.interfaces_z_vox["li|spe"]))
        half = int((0.45 * n_xy - 2) / np.sqrt(2))  # square inside the cell disk
        c0 = n_xy // 2
        z0, z1 = zi - _HALF_SLAB_VOX, zi + _HALF_SLAB_VOX + 1
        zr = (z0, z1)
        sub = ph.labels[z0:z1, c0 - half:c0 + half, c0 - half:c0 + half]
        res = tortuosity(sub == _SPE, axis=axis)
        mid = sub.shape[0] // 2
        fmaps.append(flux_map(res, 0, mid) if np.isfinite(res.tau)
                     else np.zeros(sub.shape[1:], np.float32))
        pmaps.append(sub[mid])
        rows.append((res.tau, res.porosity, res.d_eff_ratio, res.percolating_fraction,
                     res.flux_imbalance, res.relative_residual, res.iterations))
    arr = np.array(rows, float)
    ds = xr.Dataset(
        {"tau": ("state", arr[:, 0]), "porosity": ("state", arr[:, 1]),
         "d_eff_ratio": ("state", arr[:, 2]), "percolating_fraction": ("state", arr[:, 3]),
         "flux_imbalance": ("state", arr[:, 4]), "relative_residual": ("state", arr[:, 5]),
         "iterations": ("state", arr[:, 6].astype(int)),
         "flux_map": (("state", "y", "x"), np.stack(fmaps).astype(np.float32)),
         "phase_map": (("state", "y", "x"), np.stack(pmaps).astype(np.uint8))},
        coords={"state": list(INTERFACE_STATES)},
        attrs={"twin": "coin_cell_000 (000_290f30815ae66793)", "phase": "PEO-LiTFSI SPE (code 3)",
               "transport_axis": int(axis), "slab_z_vox": list(zr), "voxel_size_um": vs,
               "convergence": "MG-preconditioned CG to relative residual 1e-6; plane-flux "
                              "spread (max-min)/mean <= 1e-3",
               "tau_definition": "D_eff = D eps / tau (TauFactor)"})
    ds["flux_map"].attrs["units"] = "1"
    return {"transport/interface_flux": _with_units(ds)}

# ----------------------------------------------------------------------------- user series
#: Interface mixing zones trimmed from a layer's band before its tortuosity
#: (:func:`ssbscope.transport.layer.layer_core`).
MIXING_TOL = 0.05



def _layer_bands(lab, layers, k: int) -> dict:
    """layer name -> (z0, z1) of scan ``k`` (None where absent), from ``layer_z_vox`` of the
    labels, else located again on the stored labels (stores written before it existed)."""
    if "layer_z_vox" in lab:
        names = [str(x) for x in lab["layer"].values.tolist()]
        zz = np.asarray(lab["layer_z_vox"].values[k])
        return {n: (int(a), int(b)) if a >= 0 else None for n, (a, b) in zip(names, zz)}
    from ssbscope.tomo.series import PhaseOrder, locate_layers

    phases = tuple(_list_attr(lab.attrs["phases"]))
    order = PhaseOrder(phases, (float("nan"),) * len(phases), float("nan"))
    loc = locate_layers(lab["labels"].values[k], layers, order, lab["cell_mask"].values,
                        float(lab.attrs["voxel_size_um"]))
    return {n: loc.band(n) for n in loc.names}


def _tortuosity_series_stage(ctx, inputs, *, series, labels_key, metrics_key, phase, layer,
                             layers, axis=0, n_slabs=4, rtol=1e-6, mixing_tol=MIXING_TOL):
    """tau, slab tau and mid-plane flux of ``phase`` in ``layer`` for every scan of a series."""
    import xarray as xr

    from ssbscope.errors import EmptyResultError, InputError
    from ssbscope.transport.layer import layer_tortuosity

    lab = inputs[labels_key].load()
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
    labels = lab["labels"].values
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
        b = _layer_bands(lab, layers, k).get(layer)
        if b is None:
            reasons.append(f"layer {layer!r} absent in this scan")
            log.warning("transport %s: scan %d: layer %r absent; tau NaN", series, k, layer)
            continue
        band[k] = b
        try:
            r = layer_tortuosity(labels[k], pidx, b, fp, axis=axis, n_slabs=ns,
                                 mixing_tol=mixing_tol, rtol=rtol)
        except EmptyResultError as exc:
            reasons.append(str(exc))
            log.warning("transport %s: scan %d: %s; tau NaN", series, k, exc)
            continue
        reasons.append(r.reason)
        core[k] = r.core_z_vox
        scal[k] = (r.tau, r.volume_fraction, r.d_eff_ratio, r.percolating_fraction,
                   r.flux_imbalance, r.relative_residual, r.iterations)
        m = r.slab_tau.size
        slab[k, :m] = np.stack([r.slab_tau, r.slab_volume_fraction, r.slab_d_eff_ratio], 1)
        sb[k, :m] = r.slab_bounds_vox * vs
        fmap[k] = r.flux_map
        fz[k] = (r.flux_plane_z_vox + 0.5) * vs
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


def _current_density_series_stage(ctx, inputs, *, series, maps_key, layer, layer_choice,
                                  log_key=None, log_choice=None, area_cm2=None):
    """Current-density maps between consecutive scans of a series vs the cycler's charge."""
    import xarray as xr

    from ssbscope.errors import InputError
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
    for v, u in (("t_start_s", "s"), ("t_end_s", "s"), ("dt_s", "s"),
                 ("current_density_ma_cm2", "mA/cm^2"), ("mean_current_density_ma_cm2", "mA/cm^2"),
                 ("std_current_density_ma_cm2", "mA/cm^2"), ("n_hotspots", "1"),
                 ("cycler_charge_mah_cm2", "mA*h/cm^2"), ("cycler_current_density_ma_cm2", "mA/cm^2"),
                 ("ratio", "1"), ("residual_pct", "percent"), ("y", "um"), ("x", "um")):
        ds[v].attrs["units"] = u
    return {f"transport/{series}/current_density": ds}


def input_stages(exp) -> list:
    """Transport stages of ``ssbscope run`` on the user's CT series.

    For every measured CT series (its cell declares at least two layers; all of them unless
    ``analysis.transport.series`` names some):

    * ``transport.<series>.tortuosity`` when ``analysis.transport.phase`` is set: tau, slab
      tau and a mid-plane flux map of that phase in the core of ``analysis.transport.layer``
      (default the series' electrolyte layer) for every scan, from ``tomo/<series>/labels``
      -> ``transport/<series>/tortuosity``;
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
        A series, phase or layer of ``analysis.transport`` the experiment does not have.
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
        th = exp.analysis.tomo.thickness
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
        ins = (f"{base}/maps",) + ((log_key,) if log_key else ())
        stages.append(Stage(
            f"transport.{sname}.current_density", _current_density_series_stage, inputs=ins,
            outputs=(f"transport/{sname}/current_density",),
            params={"series": sname, "maps_key": f"{base}/maps", "layer": cd,
                    "layer_choice": why, "log_key": log_key, "log_choice": log_why,
                    "area_cm2": cell.electrode_area_cm2}))
    return stages

def _li_thickness_map_um(ph, voxel_size_um, li=None):
    """Li (bulk + filament) voxels per column below the pellet mid-plane, in um.

    ``li``: a boolean Li volume on the phantom's grid to use instead of its labels (e.g. the
    Li of a displaced scan registered back).
    """
    z0, z1 = ph.truth["pellet_z_vox"]
    zc = int(z0 + z1) // 2
    if li is None:
        li = np.isin(ph.labels, (_LI, _LI_FILAMENT))
    return li[:zc].sum(axis=0) * float(voxel_size_um)


def _current_density_stage(ctx, inputs, *, current_ma_cm2=0.5, charge_mah_cm2=1.5,
                           drift_yx_vox=(3, -2)):
    """Current density between two scans of the anode-free twin, registered first.

    The second scan is displaced by ``drift_yx_vox`` (the cell remounted between scans).  The
    two volumes are registered on the pellet of the first scan (static pores;
    :func:`ssbscope.tomo.register_rigid`); only the in-plane part is drift (the z part is the
    pellet lifted by the plated Li), so the Li of the second scan is moved back in-plane before
    its thickness map is taken.
    """
    import scipy.ndimage as ndi
    import xarray as xr

    from ssbscope.tomo.register import RigidTransform, apply_rigid, register_rigid
    from ssbscope.transport import current_density_map
    from ssbscope.twin import ct

    vs = 3.0
    a = ct.anode_free_001(0.0, 0.0, current_ma_cm2=current_ma_cm2, n_xy=40, n_z=56,
                          voxel_size_um=vs, seed=int(ctx.seed))
    b = ct.anode_free_001(charge_mah_cm2, 0.0, current_ma_cm2=current_ma_cm2, n_xy=40, n_z=56,
                          voxel_size_um=vs, seed=int(ctx.seed))
    dt_s = charge_mah_cm2 / current_ma_cm2 * 3600.0
    drift = (0, int(drift_yx_vox[0]), int(drift_yx_vox[1]))
    mu_b = ndi.shift(b.mu_per_voxel, drift, order=0, mode="nearest")
    li_b = ndi.shift(np.isin(b.labels, (_LI, _LI_FILAMENT)), drift, order=0, mode="nearest")
    z0, z1 = (int(v) for v in a.truth["pellet_z_vox"])
    tf = register_rigid(a.mu_per_voxel[z0:z1], mu_b[z0:z1])
    in_plane = RigidTransform(shift_vox=(0.0, float(tf.shift_vox[1]), float(tf.shift_vox[2])),
                              rotation_deg=0.0, error=tf.error)
    li_reg = apply_rigid(li_b, in_plane)
    h0 = _li_thickness_map_um(a, vs)
    h_true, h_raw, h_reg = (_li_thickness_map_um(b, vs, li) for li in (None, li_b, li_reg))
    res = current_density_map(h0, h_reg, dt_s, mask=a.cell_mask)
    truth = current_density_map(h0, h_true, dt_s, mask=a.cell_mask).current_ma_cm2
    raw = current_density_map(h0, h_raw, dt_s, mask=a.cell_mask).current_ma_cm2
    m = a.cell_mask

    def rms(x):
        return float(np.sqrt(np.nanmean((x[m] - truth[m]) ** 2)))

    ny, nx = h0.shape
    ds = xr.Dataset(
        {"current_ma_cm2": (("y", "x"), res.current_ma_cm2.astype(np.float32)),
         "current_unregistered_ma_cm2": (("y", "x"), raw.astype(np.float32)),
         "current_truth_ma_cm2": (("y", "x"), truth.astype(np.float32)),
         "thickness_before_um": (("y", "x"), np.where(a.cell_mask, h0, np.nan).astype(np.float32)),
         "thickness_after_um": (("y", "x"), np.where(a.cell_mask, h_reg, np.nan).astype(np.float32)),
         "plating_hotspots": (("y", "x"), res.plating_hotspots),
         "stripping_hotspots": (("y", "x"), res.stripping_hotspots)},
        coords={"y": np.arange(ny) * vs, "x": np.arange(nx) * vs},
        attrs={"mean_current_ma_cm2": res.mean_current_ma_cm2,
               "std_current_ma_cm2": res.std_current_ma_cm2,
               "imposed_current_ma_cm2": float(current_ma_cm2), "dt_s": dt_s,
               "n_hotspots": int(len(res.hotspots)), "voxel_size_um": vs,
               "imposed_drift_yx_vox": [float(drift[1]), float(drift[2])],
               "registration_shift_yx_vox": [float(tf.shift_vox[1]), float(tf.shift_vox[2])],
               "registration_shift_z_vox": float(tf.shift_vox[0]),
               "registration": "ssbscope.tomo.register_rigid on the first scan's pellet "
                               f"(z {z0}-{z1} vox); in-plane part applied to the second scan's Li "
                               "(the z part is the pellet lifted by the plated Li)",
               "rms_error_registered_ma_cm2": rms(res.current_ma_cm2),
               "rms_error_unregistered_ma_cm2": rms(raw),
               "twin": "anode_free_001 (001_a2c994afa3295f29), 0 -> 1.5 mAh/cm2; second scan "
                       "displaced in-plane by imposed_drift_yx_vox",
               "equation": "j = rho_Li F dh / (M_Li dt) (004_abdc661361e9d05b Fig. 24d)"})
    return {"transport/current_density": _with_units(ds)}


def demo_stages(config) -> list:
    """Transport stages of the twin (see the module docstring).

    Parameters
    ----------
    config : ssbscope.config.Experiment or None
        ``config.twin.size`` picks the sizes ("tiny", "small", "medium").

    Returns
    -------
    list of ssbscope.pipeline.Stage
    """
    from ssbscope.pipeline import Stage

    size = _size(config)
    return [
        Stage("transport.interface_flux", _interface_flux_stage,
              outputs=("transport/interface_flux",), params={"size": size}),
        Stage("transport.current_density", _current_density_stage,
              outputs=("transport/current_density",), params={}),
    ]
