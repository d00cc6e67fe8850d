"""Pipeline stages of the transport area (in-memory twin studies, ``twin.modalities``).

:func:`demo_stages` runs, on the digital twin:

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

:func:`input_stages` adds nothing: the tortuosity of real volumes runs in the tomo stages.
The contoured-interface study is the interface area's (:mod:`ssbscope.interface.stages`).
"""

from __future__ import annotations

import logging

import numpy as np

__all__ = ["demo_stages", "input_stages", "INTERFACE_STATES"]

log = logging.getLogger(__name__)

INTERFACE_STATES = ("pristine", "charged", "discharged")

_SIZES = {"tiny": 48, "small": 64, "medium": 96}  # coin-cell n_xy
_SPE, _LI, _LI_FILAMENT = 3, 2, 10
_HALF_SLAB_VOX = 4


def _with_units(ds):
    """Give every float variable a unit: MPa for ``*_mpa``, else 1 (dimensionless)."""
    from ssbscope.store import units_from_name

    for name, var in ds.variables.items():
        if "units" in var.attrs or var.dtype.kind not in "fc":
            continue
        if str(name).endswith("_mpa"):
            var.attrs["units"] = "MPa"
        elif units_from_name(str(name)) is None:
            var.attrs["units"] = "1"
    return ds


def _size(config) -> str:
    twin = getattr(config, "twin", None)
    size = getattr(twin, "size", "small") if twin is not None else "small"
    return size if size in _SIZES else "small"


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
    ds["flux_map"].attrs["units"] = "D dc / L (1 = straight open channel)"
    return {"transport/interface_flux": _with_units(ds)}

def input_stages(exp) -> list:
    """Stages of ``ssbscope run`` for this area: none (the tortuosity of real volumes runs in
    the tomo stages).

    Parameters
    ----------
    exp : ssbscope.config.Experiment

    Returns
    -------
    list of ssbscope.pipeline.Stage
    """
    return []


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
