"""Electrolyte conductivity from the CT phase map (issue 17 §2): sigma_bulk * eps / tau.

Analytic references: straight z channels have tau = 1, so sigma_eff = sigma eps exactly; channels
that end blind half-way (dead ends, connected to one face only) add volume but carry no current,
so eps rises and tau = eps / (through fraction) while sigma_eff stays that of the through channels.
"""

import numpy as np
import pytest
import xarray as xr

from ssbscope.interface import effective_conductivity

FP = np.ones((8, 8), bool)


@pytest.mark.parametrize("every", [2, 4])
def test_straight_channels_give_sigma_times_eps(every):
    lab = np.zeros((12, 8, 8), np.uint8)
    lab[:, :, ::every] = 1  # sheets along z: eps = 1 / every, tau = 1
    r = effective_conductivity(lab, 1, (0, 12), FP, bulk_conductivity_s_cm=2e-3)
    assert r.volume_fraction == pytest.approx(1 / every, abs=1e-12)
    assert r.tau == pytest.approx(1.0, abs=1e-6)
    assert r.conductivity_s_cm == pytest.approx(2e-3 / every, rel=1e-6)


def test_dead_end_channels_raise_tau_and_keep_the_through_conductance():
    lab = np.zeros((12, 8, 8), np.uint8)
    lab[:6, :, ::2] = 1  # upper half: sheets every 2nd column
    lab[6:, :, ::4] = 1  # lower half: only every 4th continues -> the others are dead ends
    r = effective_conductivity(lab, 1, (0, 12), FP, bulk_conductivity_s_cm=1.0, mixing_tol=1.0)
    # eps = (1/2 + 1/4) / 2 = 0.375; through fraction 1/4 -> tau = 0.375 / 0.25 = 1.5
    assert r.volume_fraction == pytest.approx(0.375, abs=1e-12)
    assert r.tau == pytest.approx(1.5, rel=1e-5)
    assert r.conductivity_s_cm == pytest.approx(0.25, rel=1e-5)
    # denser but more tortuous: eps/tau, not eps, sets the conductivity
    straight = effective_conductivity(np.where(np.arange(8)[None, None, :] % 4 == 0, 1, 0)
                                      .astype(np.uint8).repeat(12, 0).repeat(8, 1),
                                      1, (0, 12), FP, bulk_conductivity_s_cm=1.0)
    assert straight.volume_fraction < r.volume_fraction
    assert straight.conductivity_s_cm == pytest.approx(r.conductivity_s_cm, rel=1e-5)


def test_no_percolation_gives_zero_conductivity():
    lab = np.zeros((12, 8, 8), np.uint8)
    lab[:5] = 1
    lab[7:] = 1  # a gap of two slices with no electrolyte
    r = effective_conductivity(lab, 1, (0, 12), FP, bulk_conductivity_s_cm=1.0, mixing_tol=1.0)
    assert r.conductivity_s_cm == 0.0


class _In:
    def __init__(self, ds):
        self.ds = ds

    def load(self):
        return self.ds


def _series(n_scans=2, every=(2, 4)):
    """A two-scan series: Li below z = 6, electrolyte sheets above (eps 1/every[k]), a bump."""
    nz, ny, nx = 16, 12, 12
    lab = np.zeros((n_scans, nz, ny, nx), np.uint8)  # 0 = Li, 1 = LPSCl, 2 = pore
    lab[:, 6:] = 2
    for k in range(n_scans):
        lab[k, 6:, :, ::every[k]] = 1
    t = np.arange(n_scans) * 3600.0
    labels = xr.Dataset(
        {"labels": (("time_s", "z", "y", "x"), lab),
         "cell_mask": (("y", "x"), np.ones((ny, nx), bool)),
         "layer_z_vox": (("time_s", "layer", "bound"),
                         np.array([[[0, 6], [6, nz]]] * n_scans, np.int64))},
        coords={"time_s": t, "layer": ["li", "sep"], "bound": ["z0", "z1"]},
        attrs={"voxel_size_um": 2.0, "phases": ["Li", "LPSCl", "pore"]})
    yy, xx = np.mgrid[:ny, :nx]
    h = 12.0 + 8.0 * np.exp(-((xx - 6) ** 2 + (yy - 6) ** 2) / 4.0)
    maps = xr.Dataset({"height_um": (("time_s", "interface", "y", "x"),
                                     np.stack([h[None]] * n_scans))},
                      coords={"time_s": t, "interface": ["li|sep"], "x": np.arange(nx) * 2.0 + 1,
                              "y": np.arange(ny) * 2.0 + 1})
    return labels, maps


def _run(inputs, from_ct, rct=10.0):
    from ssbscope.interface.stages import _surface_current_stage

    layers = [{"name": "li", "material": "Li", "thickness_um": 12.0},
              {"name": "sep", "material": "LPSCl", "thickness_um": 20.0}]
    fc = None if from_ct is None else {"labels_key": "tomo/s/labels", "layer": "sep",
                                       "phase": "LPSCl", "tortuosity_key": from_ct,
                                       "layers": layers}
    out = _surface_current_stage(None, inputs, series="s", maps_key="tomo/s/maps", cd_key=None,
                                 interface="li|sep", sign=1, thickness_um=200.0,
                                 conductivity_s_cm=2e-3, r_ct_ohm_cm2=rct, current_ma_cm2=1.0,
                                 smooth_um=0.0, max_nodes=16, top_fraction=0.1, n_shuffle=10,
                                 conductivity_from_ct=fc)
    return out["interface/s/surface_current"]


def test_stage_takes_eps_over_tau_from_the_labels_per_scan():
    labels, maps = _series()
    ins = {"tomo/s/labels": _In(labels), "tomo/s/maps": _In(maps)}
    ds = _run(ins, "")
    np.testing.assert_allclose(ds["electrolyte_volume_fraction"].values, [0.5, 0.25], atol=1e-12)
    np.testing.assert_allclose(ds["electrolyte_tau"].values, [1.0, 1.0], atol=1e-6)
    np.testing.assert_allclose(ds["conductivity_s_cm"].values, [1e-3, 5e-4], rtol=1e-6)
    assert all("tomo/s/labels" in str(v) for v in ds["conductivity_source"].values)
    assert ds.attrs["conductivity_model"].startswith("from_ct")
    # the less conductive electrolyte is the less uniform secondary distribution (smaller
    # Wagner number sigma R_ct / L, here kinetic lengths 50-200 um over a 10 um bump): its
    # peak current over the geometric one is higher
    m = ds["max_over_geometric"].values
    assert m[1] > m[0], m
    uni = _run(ins, None)
    np.testing.assert_allclose(uni["conductivity_s_cm"].values, [2e-3, 2e-3])
    assert uni["max_over_geometric"].values[0] < m[0]


def test_stage_prefers_the_transport_result_when_it_solved_the_same_layer():
    labels, maps = _series()
    t = labels["time_s"].values
    tr = xr.Dataset({"d_eff_ratio": ("time_s", [0.3, 0.1]), "volume_fraction": ("time_s", [0.45, 0.3]),
                     "tau": ("time_s", [1.5, 3.0])}, coords={"time_s": t},
                    attrs={"layer": "sep", "phase": "LPSCl", "transport_axis": 0})
    ins = {"tomo/s/labels": _In(labels), "tomo/s/maps": _In(maps), "transport/s/tortuosity": _In(tr)}
    ds = _run(ins, "transport/s/tortuosity")
    np.testing.assert_allclose(ds["conductivity_s_cm"].values, [6e-4, 2e-4], rtol=1e-12)
    assert all("transport/s/tortuosity" in str(v) for v in ds["conductivity_source"].values)
    # another layer or axis: back to the labels, with a note
    tr.attrs["transport_axis"] = 1
    ds = _run(ins, "transport/s/tortuosity")
    np.testing.assert_allclose(ds["conductivity_s_cm"].values, [1e-3, 5e-4], rtol=1e-6)
    assert any("from the labels" in n for n in ds.attrs["notes"])


def test_from_ct_is_a_config_choice_and_other_strings_are_refused():
    from ssbscope.config import TopographyAnalysis

    assert TopographyAnalysis(conductivity_s_cm="from_ct").conductivity_s_cm == "from_ct"
    with pytest.raises(Exception):
        TopographyAnalysis(conductivity_s_cm="ct")
    with pytest.raises(Exception):
        TopographyAnalysis(conductivity_s_cm=-1.0)


def test_report_states_the_ct_conductivity(tmp_path):
    from ssbscope.report.interface import section
    from ssbscope.store import Store

    labels, maps = _series()
    ds = _run({"tomo/s/labels": _In(labels), "tomo/s/maps": _In(maps)}, "")
    st = Store.create(tmp_path / "s.zarr")
    st.write("interface/s/surface_current", ds)
    sec = section(st)
    import re

    assert re.search(r"= 0.002 S cm⁻¹ × ε/τ with ε 0\.(500|250), τ 1\.000 of the electrolyte "
                     r"phase from tomo/s/labels", sec.html), sec.html[:2000]
