"""An operando CT series written without ssbscope, as an outside checker would.

A symmetric Li | Li6PS5Cl | Li micro-cell (steel plungers, PEEK-like sleeve) imaged three
times while Li is plated onto the bottom electrode.  Everything here uses numpy, scikit-image
``radon`` and h5py only; the experiment file is written from the README's CT contract.

Truth (returned by :func:`write_series` and written to ``truth.json``):

* the bottom Li grows by Faraday's law, 3.0 mAh/cm^2 <-> 14.5 um (M_Li / (F rho_Li)), the
  counter Li thins by the same amount, the electrolyte moves up with it;
* the Li|LPSCl interface is a smooth random surface (raw Ra 3.0 um over the cell disc; Ra
  of its plane-detrended voxel-column heights, the README's definition, 2.46 um), carried up
  unchanged by uniform plating;
* layer thicknesses are given per region (centre = central ``central_fraction`` of the area).

Geometry: volume axes (z, y, x); z is the detector row axis (the rotation axis) and the
stacking axis, z = 0 at the bottom row.  Parallel-beam projections per row with
``skimage.transform.radon`` on a 2x-supersampled slice, then binned to the detector pixel;
partial volume along z is exact (overlap of each layer with each voxel row).
"""
from __future__ import annotations

import json
from pathlib import Path

import h5py
import numpy as np
from scipy import ndimage
from skimage.transform import radon

UM_PER_MAH_CM2 = 14.5 / 3.0  # Faraday's law for Li metal (README: 3 mAh/cm2 = 14.5 um)

# linear attenuation at ~20 keV, 1/cm (mu/rho from NIST XCOM, rounded)
MU_1_CM = {"steel": 250.0, "Li6PS5Cl": 15.0, "Li": 0.15, "PEEK": 1.3, "air": 0.0}


def _rough_surface(n, vs_um, ra_um, corr_um, rng, disc):
    """Smooth Gaussian random field on an n x n grid, zero mean and Ra = ra_um over disc."""
    f = ndimage.gaussian_filter(rng.standard_normal((n, n)), corr_um / vs_um, mode="wrap")
    f -= f[disc].mean()
    return f * (ra_um / np.abs(f[disc]).mean())


def write_series(folder, *, n_px=80, n_rows=64, n_angles=120, voxel_size_um=2.0,
                 cell_diameter_px=60, sleeve_px=6, charges_mah_cm2=(0.0, 1.5, 3.0),
                 ra_um=3.0, corr_um=12.0, steel_um=12.0, li0_um=22.0, lpscl_um=44.0,
                 counter0_um=40.0, i0_counts=40000.0, central_fraction=0.5625, seed=7):
    """Write scans/sNNN.h5, cycling.csv, experiment.yaml and truth.json under *folder*.

    Returns the truth dict.
    """
    folder = Path(folder)
    (folder / "scans").mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    ss = 2                                    # in-plane supersampling
    n_ss = n_px * ss
    vs_ss = voxel_size_um / ss
    c = (n_ss - 1) / 2.0
    yy, xx = np.mgrid[0:n_ss, 0:n_ss]
    r_px = np.hypot(yy - c, xx - c) / ss      # in detector pixels
    disc_ss = r_px <= cell_diameter_px / 2
    sleeve_ss = (r_px > cell_diameter_px / 2) & (r_px <= cell_diameter_px / 2 + sleeve_px)
    rough_ss = _rough_surface(n_ss, vs_ss, ra_um, corr_um, rng, disc_ss)
    radius_um = cell_diameter_px / 2 * voxel_size_um
    area_cm2 = np.pi * (radius_um * 1e-4) ** 2
    total_um = n_rows * voxel_size_um
    top_steel_um = total_um - steel_um - li0_um - lpscl_um - counter0_um
    assert top_steel_um > 0
    assert li0_um + rough_ss[disc_ss].min() > 2 * voxel_size_um, "rough surface cuts the Li"

    # truth on the (non-supersampled) voxel grid's disc: mean of 2x2 blocks of the surface
    rough_vox = rough_ss.reshape(n_px, ss, n_px, ss).mean(axis=(1, 3))
    cv = (n_px - 1) / 2.0
    yv, xv = np.mgrid[0:n_px, 0:n_px]
    rv = np.hypot(yv - cv, xv - cv)
    disc_v = rv <= cell_diameter_px / 2
    centre_v = disc_v & (rv <= cell_diameter_px / 2 * np.sqrt(central_fraction))
    edge_v = disc_v & ~centre_v
    # Ra/Rq as the README defines them: the height map (one value per voxel column) minus its
    # least-squares plane, over the cell disc; the raw mean |h - <h>| is kept as ra_raw_um
    hz = rough_vox[disc_v]
    a = np.c_[np.ones(hz.size), yv[disc_v], xv[disc_v]]
    resid = hz - a @ np.linalg.lstsq(a, hz, rcond=None)[0]
    ra_true = float(np.abs(resid - resid.mean()).mean())
    rq_true = float(np.sqrt(((resid - resid.mean()) ** 2).mean()))
    ra_raw = float(np.abs(rough_ss[disc_ss] - rough_ss[disc_ss].mean()).mean())

    angles = np.linspace(0.0, 180.0, n_angles, endpoint=False)
    truth = {"voxel_size_um": voxel_size_um, "cell_diameter_um": 2 * radius_um,
             "area_cm2": area_cm2, "ra_um": ra_true, "rq_um": rq_true, "ra_raw_um": ra_raw,
             "central_fraction": central_fraction, "scans": []}
    for k, q in enumerate(charges_mah_cm2):
        d_um = q * UM_PER_MAH_CM2
        z0 = steel_um                                    # bottom Li starts (flat, static)
        z1 = steel_um + li0_um + d_um + rough_ss         # Li|LPSCl (rough, moves up)
        z2 = steel_um + li0_um + d_um + lpscl_um         # LPSCl|counter (flat)
        z3 = total_um - top_steel_um                     # counter|steel (static)
        # exact z overlap of every layer with every voxel row, per supersampled column
        lo = np.arange(n_rows)[:, None, None] * voxel_size_um
        hi = lo + voxel_size_um

        def frac(a, b):
            a = np.broadcast_to(a, (n_ss, n_ss))
            b = np.broadcast_to(b, (n_ss, n_ss))
            return np.clip(np.minimum(hi, b[None]) - np.maximum(lo, a[None]), 0, None) / voxel_size_um

        mu = (MU_1_CM["steel"] * (frac(0.0, z0) + frac(z3, total_um))
              + MU_1_CM["Li"] * (frac(z0, z1) + frac(z2, z3))
              + MU_1_CM["Li6PS5Cl"] * frac(z1, z2)) * disc_ss[None]
        mu = mu + MU_1_CM["PEEK"] * sleeve_ss[None]
        mu_per_px = mu * (vs_ss * 1e-4)                  # per supersampled pixel
        sino = np.empty((n_angles, n_rows, n_px))
        for z in range(n_rows):
            s = radon(mu_per_px[z], theta=angles, circle=True)   # (n_ss detector, n_angles)
            sino[:, z, :] = s.T.reshape(n_angles, n_px, ss).sum(axis=2) / ss
        dark = 100.0
        proj = rng.poisson(i0_counts * np.exp(-sino)) + rng.poisson(dark, sino.shape)
        flats = rng.poisson(i0_counts, (10, n_rows, n_px)) + rng.poisson(dark, (10, n_rows, n_px))
        darks = rng.poisson(dark, (10, n_rows, n_px))
        with h5py.File(folder / "scans" / f"s{k:03d}.h5", "w") as h:
            h.attrs["implements"] = "exchange:measurement:process"
            ex = h.create_group("exchange")
            ex.create_dataset("data", data=proj.astype(np.uint16))
            ex.create_dataset("data_white", data=flats.astype(np.uint16))
            ex.create_dataset("data_dark", data=darks.astype(np.uint16))
            th = ex.create_dataset("theta", data=angles)
            th.attrs["units"] = "degrees"
        # per-voxel-column truth of the bottom Li and counter thickness
        li_t = (z1 - z0).reshape(n_px, ss, n_px, ss).mean(axis=(1, 3))
        co_t = np.broadcast_to(z3 - z2, (n_px, n_px))
        truth["scans"].append({
            "label": f"s{k:03d}", "charge_mah_cm2": q, "plated_um": d_um,
            "Li_thickness_center_um": float(li_t[centre_v].mean()),
            "Li_thickness_edge_um": float(li_t[edge_v].mean()),
            "Li_thickness_mean_um": float(li_t[disc_v].mean()),
            "counter_thickness_center_um": float(co_t[centre_v].mean()),
            "counter_thickness_mean_um": float(co_t[disc_v].mean()),
            "Li_layer_volume_um3": float(li_t[disc_v].sum() * voxel_size_um ** 2),
        })
    v0 = truth["scans"][0]["Li_layer_volume_um3"]
    for s in truth["scans"]:
        s["Li_layer_volume_change_pct"] = 100 * (s["Li_layer_volume_um3"] / v0 - 1)
        s["Li_phase_volume_change_pct"] = 0.0  # symmetric cell: the Li moves, its total stays

    # cycler log: rest during each scan (1200 s), constant-current plating between scans
    scan_t = [0.0, 14400.0, 28800.0]
    t = np.arange(0.0, 30000.0 + 1, 10.0)
    q_step = np.diff(charges_mah_cm2)                     # mAh/cm2 per interval
    i_a = np.zeros_like(t)
    for j, dq in enumerate(q_step):
        t_on, t_off = scan_t[j] + 1200.0, scan_t[j + 1]
        i_a[(t >= t_on) & (t < t_off)] = dq * area_cm2 * 3.6 / (t_off - t_on)  # A (mAh*3.6 = C)
    # the potentiostat logs plating onto its working electrode (bottom Li) as negative current
    v = np.where(i_a > 0, -0.012, 0.0) + rng.normal(0, 2e-4, t.size)
    with open(folder / "cycling.csv", "w") as fh:
        fh.write("time_s,voltage_V,current_A\n")
        for a, b, cur in zip(t, v, -i_a):
            fh.write(f"{a:.1f},{b:.6f},{cur:.6e}\n")
    truth["scan_time_s"] = scan_t
    truth["current_A"] = float(i_a.max())

    d_mm = 2 * radius_um / 1000
    yaml = f"""\
name: outside check, symmetric Li | Li6PS5Cl | Li micro-cell
cell:
  diameter_mm: {d_mm:.4f}
  layers:
    - {{name: plunger_bottom, material: steel, thickness_um: {steel_um}}}
    - {{name: Li, material: Li, thickness_um: {li0_um}}}
    - {{name: LPSCl, material: Li6PS5Cl, thickness_um: {lpscl_um}}}
    - {{name: counter, material: Li, thickness_um: {counter0_um}}}
    - {{name: plunger_top, material: steel, thickness_um: {top_steel_um}}}
inputs:
  echem:
    - {{path: cycling.csv, invert_current: true}}
  tomo:
    - {{path: scans/s000.h5, kind: projections, series: sym, time_s: 0, voxel_size_um: {voxel_size_um}, energy_kev: 20}}
    - {{path: scans/s001.h5, kind: projections, series: sym, time_s: 14400, voxel_size_um: {voxel_size_um}, energy_kev: 20}}
    - {{path: scans/s002.h5, kind: projections, series: sym, time_s: 28800, voxel_size_um: {voxel_size_um}, energy_kev: 20}}
analysis:
  tomo:
    interfaces: ["Li|LPSCl"]
    thickness: [Li, counter]
    central_fraction: {central_fraction}
  correlate:
    plated_layer: Li
"""
    (folder / "experiment.yaml").write_text(yaml)
    (folder / "truth.json").write_text(json.dumps(truth, indent=1))
    return truth


if __name__ == "__main__":  # pragma: no cover
    import sys
    print(json.dumps(write_series(sys.argv[1]), indent=1))
