"""``analysis.interface.topography.conductivity_s_cm: from_ct`` end to end through ``ssbscope run``.

Raw files: two reconstructed CT volumes (multi-page TIFF, ``kind: volume``) of a tiny
Li | Li6PS5Cl | Li cell whose electrolyte holds straight square pores along z (a quarter of
the area) and whose lower Li surface carries a bump.  ``ssbscope run`` segments them, maps the
Li|Li6PS5Cl heights and computes the current on each scan's measured surface with the
electrolyte conductivity ``bulk x eps / tau`` of the Li6PS5Cl layer from the labels.

Reference: ``eps / tau`` recomputed here from the *stored* labels with an independent
finite-volume solve (sparse direct solve of the voxel conductance network, written below; the
stage uses :func:`ssbscope.transport.diffusion.tortuosity`, conjugate gradients with a multigrid
preconditioner) on the slices the stage reports (``electrolyte_core_z_vox``).  This is
circular in the labels and in the core slices: both come from the pipeline under test, because
the effective conductivity of what CT *segmented* is what the model must use, and the
segmentation has its own tests (tests/tomo); the core slices are a trimming rule (interface
mixing zones), not physics.  What is checked independently is the layer and phase chosen, the
bulk value, the tortuosity solve and that the conductivity reaches the current solve.

The same folder with ``analysis.transport`` (Li6PS5Cl in the LPSCl layer along z): ``from_ct``
takes eps/tau from the stored ``transport/c/tortuosity`` instead, checked the same way on the
slices that stage reports.
"""

from pathlib import Path

import numpy as np
import pytest

BULK_S_CM = 2e-3
NZ, N, VS = 40, 32, 2.0


def _write_folder(root: Path) -> Path:
    import tifffile
    import yaml

    yy, xx = np.mgrid[:N, :N]
    cell = (yy - N / 2 + 0.5) ** 2 + (xx - N / 2 + 0.5) ** 2 <= (0.45 * N) ** 2
    pores = ((yy % 8) < 4) & ((xx % 8) < 4)  # 4 x 4 voxel pores every 8: 25 % of the area
    z = np.arange(NZ)[:, None, None]
    for k in range(2):
        bump = np.round(4 * np.exp(-((xx - 16) ** 2 + (yy - 16) ** 2) / 20.0)).astype(int)
        li = z < (12 + 2 * k + bump)[None]
        v = np.full((NZ, N, N), 3.0, np.float32)  # Li6PS5Cl (grey levels in attenuation order)
        v[li] = 1.0  # Li
        v[:, pores] = np.where(li[:, pores], 1.0, 0.2)  # pores in the electrolyte
        v[34:] = 1.0  # counter Li
        v[:, ~cell] = 0.0
        v += np.random.default_rng(k).normal(0.0, 0.05, v.shape).astype(np.float32)
        tifffile.imwrite(root / f"v{k}.tif", v)
    exp = {"name": "from_ct end to end",
           "cells": {"c": {"diameter_mm": 0.08, "layers": [
               {"name": "Li", "material": "Li", "thickness_um": 30},
               {"name": "LPSCl", "material": "Li6PS5Cl", "thickness_um": 50},
               {"name": "counter", "material": "Li", "thickness_um": 16}]}},
           "inputs": {"tomo": [{"path": f"v{k}.tif", "kind": "volume", "series": "c",
                                "time_s": 3600.0 * k, "voxel_size_um": VS, "energy_kev": 22}
                               for k in range(2)]},
           "analysis": {"tomo": {"interfaces": ["Li|LPSCl"]},
                        "interface": {"conductivity_s_cm": BULK_S_CM, "topography": {
                            "conductivity_s_cm": "from_ct", "current_ma_cm2": 1.0,
                            "r_ct_ohm_cm2": 10, "max_nodes": 16, "n_shuffle": 10}}}}
    f = root / "experiment.yaml"
    f.write_text(yaml.safe_dump(exp))
    return f


def _eps_over_tau(phase_mask, footprint):
    """``D_eff / D`` along z of a (Z, Y, X) phase mask inside ``footprint`` (voxel network).

    Face conductance 1 between face-adjacent phase voxels, 2 to the Dirichlet planes half a
    voxel outside the first and last slices (c = 1 and 0); clusters touching neither plane are
    dropped (they carry no current).  ``D_eff / D = flux * Z / area(footprint)``.
    """
    import scipy.ndimage as ndi
    import scipy.sparse as sp
    import scipy.sparse.linalg as spla

    m = phase_mask & footprint[None]
    lab, n = ndi.label(m)  # 6-connectivity
    keep = np.zeros(n + 1, bool)
    keep[np.unique(lab[0])] = True
    keep[np.unique(lab[-1])] = True
    keep[0] = False
    m = keep[lab]
    idx = -np.ones(m.shape, np.int64)
    idx[m] = np.arange(int(m.sum()))
    rows, cols = [], []
    for ax in range(3):
        a = [slice(None)] * 3
        b = [slice(None)] * 3
        a[ax], b[ax] = slice(0, -1), slice(1, None)
        both = m[tuple(a)] & m[tuple(b)]
        rows.append(idx[tuple(a)][both])
        cols.append(idx[tuple(b)][both])
    r, c = np.concatenate(rows), np.concatenate(cols)
    nv = int(m.sum())
    A = sp.coo_matrix((np.ones(r.size), (r, c)), shape=(nv, nv))
    A = (A + A.T).tocsr()
    diag = np.asarray(A.sum(axis=1)).ravel()
    rhs = np.zeros(nv)
    first, last = idx[0][m[0]], idx[-1][m[-1]]
    diag[first] += 2.0
    diag[last] += 2.0
    rhs[first] += 2.0  # c = 1 on the plane below
    L = (sp.diags(diag) - A).tocsc()
    c = spla.spsolve(L, rhs)
    flux = float(np.sum(2.0 * (1.0 - c[first])))
    return flux * m.shape[0] / float(footprint.sum())


@pytest.fixture(scope="module")
def run_store(tmp_path_factory):
    from ssbscope.cli import main
    from ssbscope.store import Store

    root = tmp_path_factory.mktemp("from_ct")
    f = _write_folder(root)
    assert main(["run", str(f), "--out", str(root / "out"), "--quiet"]) == 0
    return Store.open(root / "out" / "store.zarr")


def test_conductivity_used_is_bulk_times_eps_over_tau_of_the_stored_labels(run_store):
    from ssbscope.store import attr_list

    ds = run_store.read("interface/c/surface_current").load()
    lab = run_store.read("tomo/c/labels").load()
    phases = [str(p) for p in attr_list(lab.attrs["phases"])]
    ph = phases.index("Li6PS5Cl")
    fp = np.asarray(lab["cell_mask"].values, bool)
    sigma = ds["conductivity_s_cm"].values
    assert ds.attrs["conductivity_model"].startswith("from_ct")
    for k in range(ds.sizes["time_s"]):
        z0, z1 = (int(v) for v in ds["electrolyte_core_z_vox"].values[k])
        band = dict(zip([str(v) for v in lab["layer"].values],
                        lab["layer_z_vox"].values[k].tolist()))["LPSCl"]
        # the core lies inside the Li6PS5Cl layer's band and keeps most of it
        assert band[0] <= z0 < z1 <= band[1], (band, z0, z1)
        assert z1 - z0 >= 0.6 * (band[1] - band[0]), (band, z0, z1)
        core = np.asarray(lab["labels"].values[k, z0:z1]) == ph
        eps = float(core[:, fp].mean())
        assert ds["electrolyte_volume_fraction"].values[k] == pytest.approx(eps, rel=1e-9)
        d = _eps_over_tau(core, fp)
        assert sigma[k] == pytest.approx(BULK_S_CM * d, rel=1e-4), (k, sigma[k], d)
        assert ds["electrolyte_tau"].values[k] == pytest.approx(eps / d, rel=1e-4)
        # the pores cut the conductivity well below the bulk value (the phantom: 25 % pores)
        assert 0.5 < d < 0.95, d
        assert "tomo/c/labels" in str(ds["conductivity_source"].values[k])


def test_surface_current_is_stored_and_solved_with_that_conductivity(run_store):
    from ssbscope.interface import surface_current

    ds = run_store.read("interface/c/surface_current").load()
    mp = run_store.read("tomo/c/maps").load()
    j = ds["current_ma_cm2"].values
    assert j.shape == (2, N, N) and np.isfinite(j).mean() > 0.3
    # the mean over the measured surface carries the geometric current (1 mA/cm2, per true
    # area: mean j x area ratio = geometric)
    for k in range(2):
        assert np.nanmean(j[k]) * ds["area_ratio"].values[k] == pytest.approx(1.0, rel=0.05)
    # the current solve took the CT conductivity: recomputed on the stored height map with it
    # it matches, with the bulk value it does not (a 10 um bump, kinetic length sigma R_ct of
    # 120-200 um: the lower conductivity concentrates the current more)
    h = np.asarray(mp["height_um"].sel(interface="Li|LPSCl").values[1], float)
    px = float(abs(mp["x"].values[1] - mp["x"].values[0]))
    kw = {"thickness_um": float(ds.attrs["thickness_um"]), "current_ma_cm2": 1.0,
          "r_ct_ohm_cm2": 10.0, "max_nodes": 16, "smooth_um": float(ds["height_smoothing_um"].values[1])}
    sigma_ct = float(ds["conductivity_s_cm"].values[1])
    ct = surface_current(h, (px, px), conductivity_s_cm=sigma_ct, **kw)
    bulk = surface_current(h, (px, px), conductivity_s_cm=BULK_S_CM, **kw)
    m = float(ds["max_over_geometric"].values[1])
    assert m == pytest.approx(ct.max_over_geometric, rel=1e-6)
    assert m > bulk.max_over_geometric * (1 + 1e-4), (m, bulk.max_over_geometric)


@pytest.fixture(scope="module")
def run_store_transport(tmp_path_factory):
    """The same folder with ``analysis.transport`` solving Li6PS5Cl in the LPSCl layer along z:
    ``from_ct`` then takes eps/tau from ``transport/c/tortuosity``."""
    import yaml

    from ssbscope.cli import main
    from ssbscope.store import Store

    root = tmp_path_factory.mktemp("from_ct_transport")
    f = _write_folder(root)
    exp = yaml.safe_load(f.read_text())
    exp["analysis"]["transport"] = {"phase": "Li6PS5Cl", "layer": "LPSCl", "n_slabs": 2}
    f.write_text(yaml.safe_dump(exp))
    assert main(["run", str(f), "--out", str(root / "out"), "--quiet"]) == 0
    return Store.open(root / "out" / "store.zarr")


@pytest.mark.slow(seconds=25)  # its own `ssbscope run` (segmentation + transport): ~20 s CPU
def test_conductivity_from_the_transport_stage_tortuosity(run_store_transport):
    """``from_ct`` with a transport stage: sigma = bulk x the stored ``d_eff_ratio`` of
    ``transport/c/tortuosity`` per scan, and that ratio is eps/tau of the stored labels on the
    slices the transport stage reports (``core_z_um``), recomputed with the independent voxel
    network solve above (the transport stage solves by conjugate gradients to 1e-6)."""
    st = run_store_transport
    ds = st.read("interface/c/surface_current").load()
    tr = st.read("transport/c/tortuosity").load()
    lab = st.read("tomo/c/labels").load()
    from ssbscope.store import attr_list

    assert tr.attrs["layer"] == "LPSCl" and tr.attrs["phase"] == "Li6PS5Cl"
    ph = [str(p) for p in attr_list(lab.attrs["phases"])].index("Li6PS5Cl")
    fp = np.asarray(lab["cell_mask"].values, bool)
    vs = float(tr.attrs["voxel_size_um"])
    assert ds.sizes["time_s"] == tr.sizes["time_s"] == 2
    for k in range(2):
        assert str(ds["conductivity_source"].values[k]) == \
            "transport/c/tortuosity d_eff_ratio (eps/tau)"
        d = float(tr["d_eff_ratio"].values[k])
        assert ds["conductivity_s_cm"].values[k] == pytest.approx(BULK_S_CM * d, rel=1e-12)
        assert ds["electrolyte_tau"].values[k] == pytest.approx(float(tr["tau"].values[k]),
                                                                rel=1e-12)
        z0, z1 = (int(round(v / vs)) for v in tr["core_z_um"].values[k])
        core = np.asarray(lab["labels"].values[k, z0:z1]) == ph
        ref = _eps_over_tau(core, fp)
        assert d == pytest.approx(ref, rel=2e-3), (k, d, ref)
        assert 0.5 < d < 0.95, d
    # the current solve used it: the stored maximum matches a solve with that conductivity
    from ssbscope.interface import surface_current

    mp = st.read("tomo/c/maps").load()
    h = np.asarray(mp["height_um"].sel(interface="Li|LPSCl").values[1], float)
    px = float(abs(mp["x"].values[1] - mp["x"].values[0]))
    r = surface_current(h, (px, px), conductivity_s_cm=float(ds["conductivity_s_cm"].values[1]),
                        thickness_um=float(ds.attrs["thickness_um"]), current_ma_cm2=1.0,
                        r_ct_ohm_cm2=10.0, max_nodes=16, smooth_um=float(ds["height_smoothing_um"].values[1]))
    assert float(ds["max_over_geometric"].values[1]) == pytest.approx(r.max_over_geometric,
                                                                      rel=1e-6)
