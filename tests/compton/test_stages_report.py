"""XCS stages (EMF stage on synthetic region spectra) and the report section."""

import numpy as np
import xarray as xr

from ssbscope.compton.stages import COMPONENTS, REGIONS, _emf_stage, demo_stages
from ssbscope.compton import ddcs_cm2_sr_kev, profile, window_ratio
from ssbscope.pipeline import order_stages
from ssbscope.store import Store

MATS = {"cathode": "NMC622", "SPE": "PEO-LiTFSI", "anode": "Li"}


def synthetic_inputs():
    e = np.arange(0.1, 120.0, 0.2)
    comp = np.stack([ddcs_cm2_sr_kev(e, 115.0, 90.0, lambda p, m=MATS[c]: profile(m, p)) * (e < 115)
                     for c in COMPONENTS])
    comp = comp / comp.max() * 1e6
    states = ["pristine", "fully charged"]
    vols = np.array([[0.065, 0.030, 0.155], [0.0, 0.0275, 0.2225], [0.0, 0.0, 0.25]])
    spectra = np.stack([vols @ comp for _ in states])
    truth = xr.Dataset({"x_cathode": ("state", [1.0, 0.45], {"units": "1"}),
                        "volume_mm3": (("state", "region", "component"), np.stack([vols, vols])),
                        "true_emf": (("state", "component"),
                                     np.array([[window_ratio(MATS[c]) for c in COMPONENTS]] * 2),
                                     {"units": "1"})},
                       coords={"state": states, "region": list(REGIONS), "component": list(COMPONENTS)})
    sp = xr.Dataset({"counts": (("state", "region", "energy_kev"), spectra, {"units": "counts"})},
                    coords={"state": states, "region": list(REGIONS), "energy_kev": e},
                    attrs={"bin_kev": 0.2, "description": "synthetic"})
    return truth, sp


def test_emf_stage_unmixes_and_recovers_component_emf():
    truth, sp = synthetic_inputs()
    out = _emf_stage(None, {"compton/twin/truth": truth, "compton/spectra": sp})
    em = out["compton/emf"]
    assert np.allclose(em["emf"].values, em["true_emf"].values, rtol=0.02)
    assert np.all(em["emf_unc"].values > 0)
    prof = out["compton/profiles"]["j"].values
    assert np.all(np.isfinite(prof))


def test_report_section(tmp_path):
    from ssbscope.report.compton import section

    store = Store.create(tmp_path / "s.zarr")
    assert section(store) is None
    truth, sp = synthetic_inputs()
    out = _emf_stage(None, {"compton/twin/truth": truth, "compton/spectra": sp})
    store.write("compton/spectra", sp)
    for k, v in out.items():
        store.write(k, v)
    maps = xr.Dataset({"emf": (("state", "region", "block_row", "block_col"),
                               np.random.default_rng(0).normal(1.0, 0.05, (2, 3, 20, 20)), {"units": "1"})},
                      coords={"state": ["pristine", "fully charged"], "region": list(REGIONS)},
                      attrs={"block_px": 4})
    store.write("compton/maps", maps)
    sec = section(store)
    assert sec.title.startswith("X-ray Compton")
    assert sec.html.count("<figure>") == 5
    assert "EMF" in sec.html


def test_demo_stages_are_wired():
    stages = demo_stages(None)
    names = [s.name for s in order_stages(stages)]
    assert names == ["compton.twin", "compton.cubes", "compton.emf"]
    assert {"compton/emf", "compton/maps", "compton/spectra"} <= {o for s in stages for o in s.outputs}


def test_compton_peak_equalisation_recovers_pixel_offsets():
    from ssbscope.compton.stages import _compton_equalise

    rng = np.random.default_rng(1)
    edges = np.arange(60.0, 120.0001, 0.2)
    ny = nx = 8
    d_true = rng.uniform(-0.6, 0.6, (ny, nx))
    cube = np.zeros((ny, nx, edges.size - 1))
    fine = np.arange(60.0, 120.0, 0.01)
    for iy in range(ny):
        for ix in range(nx):
            # the pixel reads E + d: its spectrum is the true one shifted up by d
            s = ddcs_cm2_sr_kev(fine - d_true[iy, ix], 115.0, 90.0, lambda p: profile("NMC622", p))
            s = s * (fine - d_true[iy, ix] < 115)
            cum = np.concatenate([[0.0], np.cumsum(s)])
            lam = np.diff(np.interp(edges, np.r_[fine, 120.0], cum))
            cube[iy, ix] = rng.poisson(lam / lam.sum() * 3000)
    ang = np.full((ny, nx), 90.0)
    mask = np.ones((ny, nx), bool)
    g0, o0 = np.ones((ny, nx)), np.zeros((ny, nx))
    g, o, shift, rejected = _compton_equalise(cube, edges, ang, mask, g0, o0)
    rel = d_true - np.median(d_true)
    assert not rejected.any()
    assert np.sqrt(np.mean((shift - rel) ** 2)) < 0.06  # keV, from 3000 counts per pixel
    assert np.allclose(o, -shift) and np.all(g == 1.0)
