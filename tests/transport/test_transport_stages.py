"""The transport area on the run path only (issue 12, "one path"): no in-memory twin study;
the interface-region library on analytic labels; ``analysis.transport.interface_regions`` in
the experiment file.  The demo's run-path results against the twin's truth are in
``test_demo_transport.py``."""

from __future__ import annotations

import numpy as np
import pytest


def test_area_has_no_twin_study_and_declares_the_run_path_keys():
    from ssbscope.areas import area
    from ssbscope.twin.demo import TWIN_STUDIES

    a = area("transport")
    stages = a.module("stages")
    assert callable(stages.input_stages) and not hasattr(stages, "demo_stages")
    assert "transport" not in TWIN_STUDIES
    assert sorted(a.store_keys) == sorted(["transport/<series>/tortuosity",
                                           "transport/<series>/interface_flux",
                                           "transport/<series>/current_density"])


def _flat_interface(n=16, zi=10, nz=20, h=4, islands=True):
    """Lower material 0 below slice ``zi``, conducting phase 1 above; isolated single-voxel
    islands of phase 1 (a quarter of the columns) in slices zi-h .. zi-2 of the lower layer."""
    lab = np.zeros((nz, n, n), np.uint8)
    lab[zi:] = 1
    isl = np.zeros((n, n), bool)
    isl[::2, ::2] = True
    if islands:
        for z in range(zi - h, zi - 1):
            lab[z][isl] = 1
    return lab, isl


def test_mean_interface_height_is_the_mean_of_a_height_map():
    from ssbscope.transport import mean_interface_height_vox

    rng = np.random.default_rng(3)
    n, nz = 20, 30
    h = rng.integers(8, 16, size=(n, n))                     # column heights (voxel boundaries)
    lab = np.where(np.arange(nz)[:, None, None] < h[None], 0, 1).astype(np.uint8)
    fp = np.zeros((n, n), bool)
    fp[2:18, 3:17] = True
    assert mean_interface_height_vox(lab, 0, (4, 25), fp) == pytest.approx(h[fp].mean(), abs=1e-12)
    # other labels below the interface (pores) lower it by their volume per footprint area
    lab2, isl = _flat_interface()
    got = mean_interface_height_vox(lab2, 0, (2, 18), np.ones(isl.shape, bool))
    assert got == pytest.approx(10 - 3 * isl.mean(), abs=1e-12)


def test_interface_tortuosity_of_straight_layers_with_isolated_islands():
    """In-plane through a slab of 2 h slices: the n_up slices above the interface conduct in
    straight lines, the islands below are isolated: D_eff/D = n_up / (2 h) and
    tau = eps / (D_eff/D) = 1 + (islands in the slab) / (n_up * area)."""
    from ssbscope.transport import interface_slab, interface_tortuosity

    lab, isl = _flat_interface()
    fp = np.ones(isl.shape, bool)
    r = interface_tortuosity(lab, 1, 0, (2, 18), fp, 4, axis=2)
    z0, z1 = r.slab_z_vox
    assert (z0, z1) == interface_slab(r.interface_z_vox, 4, lab.shape[0]) == (5, 13)
    n_up = z1 - 10
    n_isl = sum(int(lab[z][isl].sum()) for z in range(z0, 10))
    area = fp.sum()
    assert r.result.d_eff_ratio == pytest.approx(n_up / (z1 - z0), rel=1e-5)
    assert r.result.volume_fraction == pytest.approx((n_up * area + n_isl) / ((z1 - z0) * area))
    assert r.result.tau == pytest.approx(1 + n_isl / (n_up * area), rel=1e-5)
    assert r.result.percolating_fraction == pytest.approx(n_up * area / (n_up * area + n_isl))
    # the mid-plane is slice z0 + h: here the lower material (the islands lowered the height)
    assert r.result.flux_plane_z_vox == 9 and np.all(r.result.flux_map == 0)
    # without islands: the interface at 10, the mid-plane the first conducting slice, tau 1
    flat, _ = _flat_interface(islands=False)
    r0 = interface_tortuosity(flat, 1, 0, (2, 18), fp, 4, axis=1)
    assert r0.interface_z_vox == 10 and r0.slab_z_vox == (6, 14)
    assert r0.result.tau == pytest.approx(1.0, abs=1e-6)
    assert r0.result.volume_fraction == pytest.approx(0.5)
    assert r0.result.flux_plane_z_vox == 10
    np.testing.assert_allclose(r0.result.flux_map, 1.0, atol=1e-4)
    # through the slab (z) the lower material blocks: no tortuosity
    rz = interface_tortuosity(lab, 1, 0, (2, 18), fp, 4, axis=0)
    assert np.isinf(rz.result.tau) and rz.result.reason


def test_interface_slab_limits():
    from ssbscope.errors import EmptyResultError, ParameterError
    from ssbscope.transport import interface_slab

    assert interface_slab(10.49, 3, 20) == (7, 13)
    assert interface_slab(10.5, 3, 20) == (8, 14)
    with pytest.raises(ParameterError):
        interface_slab(10.0, 0, 20)
    with pytest.raises(EmptyResultError, match="half_thickness_um"):
        interface_slab(18.0, 4, 20)
    with pytest.raises(EmptyResultError):
        interface_slab(float("nan"), 2, 20)


def _experiment(**transport):
    from ssbscope.config import from_dict

    layers = [{"name": "spacer", "material": "steel", "thickness_um": 30},
              {"name": "anode", "material": "Li", "thickness_um": 400},
              {"name": "SPE", "material": "PEO-LiTFSI", "thickness_um": 30},
              {"name": "cathode", "material": "NMC622", "thickness_um": 65}]
    sym = [{"name": "Li", "material": "Li", "thickness_um": 30},
           {"name": "LPSCl", "material": "Li6PS5Cl", "thickness_um": 600}]
    tomo = [{"path": f"scans/{s}{k}.h5", "kind": "projections", "series": s, "cell": s,
             "time_s": 100.0 * k} for s in ("coin", "sym") for k in range(2)]
    return from_dict({"name": "x", "cells": {"coin": {"diameter_mm": 0.13, "layers": layers},
                                             "sym": {"diameter_mm": 2.0, "layers": sym}},
                      "inputs": {"tomo": tomo}, "analysis": {"transport": transport}})


def test_interface_regions_in_the_experiment_file():
    from ssbscope.errors import ConfigError
    from ssbscope.transport.stages import input_stages

    reg = {"interface": "anode|SPE", "phase": "PEO-LiTFSI", "half_thickness_um": 16.0}
    stages = {s.name: s for s in input_stages(_experiment(interface_regions=[reg]))}
    st = stages["transport.coin.interface_flux"]      # only the series whose cell has both layers
    assert "transport.sym.interface_flux" not in stages
    assert st.inputs == ("tomo/coin/labels",) and st.outputs == ("transport/coin/interface_flux",)
    (p,) = st.params["regions"]
    assert p == {"interface": "anode|SPE", "lower": "anode", "upper": "SPE",
                 "lower_material": "Li", "phase": "PEO-LiTFSI", "half_thickness_um": 16.0,
                 "axis": 2}
    # the current density reads the registration of the labels beside the maps
    assert "tomo/coin/labels" in stages["transport.coin.current_density"].inputs
    with pytest.raises(ConfigError, match=r"interface_regions\[0\].interface"):
        input_stages(_experiment(interface_regions=[{**reg, "interface": "SPE|anode"}]))
    with pytest.raises(ConfigError, match=r"interface_regions\[0\].interface"):
        input_stages(_experiment(interface_regions=[{**reg, "interface": "Li|SPE"}]))
    with pytest.raises(ConfigError, match=r"interface_regions\[0\].phase"):
        input_stages(_experiment(interface_regions=[{**reg, "phase": "Li6PS5Cl"}]))
    with pytest.raises(ConfigError, match="one entry per interface"):
        _experiment(interface_regions=[reg, reg])
    with pytest.raises(ConfigError, match="half_thickness_um"):
        _experiment(interface_regions=[{**reg, "half_thickness_um": 0}])
    with pytest.raises(ConfigError, match=r"'lower\|upper'"):
        _experiment(interface_regions=[{**reg, "interface": "anode"}])


def _stored_labels(classes, segmentation=None):
    """A one-scan ``tomo/<series>/labels`` without ``layer_z_vox`` (a store written before it):
    Li in z 0..10, three slices of undeclared material (z 10..13), LPSCl above."""
    import xarray as xr

    from ssbscope.tomo.series import UNDECLARED

    lab = np.zeros((1, 24, 8, 8), np.uint8)
    lab[0, 10:13] = UNDECLARED
    lab[0, 13:] = 1
    attrs = {"phases": ["Li", "LPSCl"], "classes": list(classes), "voxel_size_um": 2.0}
    if segmentation is not None:
        attrs["segmentation"] = segmentation
    return xr.Dataset({"labels": (("time_s", "z", "y", "x"), lab),
                       "cell_mask": (("y", "x"), np.ones((8, 8), bool))},
                      coords={"time_s": [0.0]}, attrs=attrs)


def test_layer_bands_use_the_classes_as_grey_order_only_for_threshold_segmentation(monkeypatch):
    """Re-locating layers on a store without ``layer_z_vox``: the stored ``classes`` attribute
    is the grey-ordered level -> phase map of a threshold segmentation (its undeclared level
    between Li and LPSCl makes the 3-slice band their ramp, skipped), but a random forest's
    training order: there it must not be used (the band is then not skipped, as without any
    class map, and the layers are not found in order)."""
    import ssbscope.tomo.series as S
    from ssbscope.config import Layer
    from ssbscope.errors import SsbscopeError
    from ssbscope.transport.stages import _layer_bands

    layers = [Layer(name="anode", material="Li", thickness_um=20),
              Layer(name="se", material="LPSCl", thickness_um=22)]
    classes = ["Li", "undeclared", "LPSCl"]
    got = _layer_bands(_stored_labels(classes), layers, 0)
    assert got == {"anode": (0, 10), "se": (13, 24)}
    assert _layer_bands(_stored_labels(classes, "threshold"), layers, 0) == got
    for lab, seg in ((_stored_labels(classes, "random_forest"), None),   # labels attribute
                     (_stored_labels(classes), "random_forest")):        # the metrics' one
        with pytest.raises(SsbscopeError, match="not found in this order"):
            _layer_bands(lab, layers, 0, seg)
    with pytest.raises(SsbscopeError, match="not found in this order"):
        _layer_bands(_stored_labels([]), layers, 0)                      # no class map at all
    seen = []
    real = S.locate_layers
    monkeypatch.setattr(S, "locate_layers",
                        lambda *a, **k: seen.append(k["class_phase"]) or real(*a, **k))
    _layer_bands(_stored_labels(classes), layers, 0)
    with pytest.raises(SsbscopeError):
        _layer_bands(_stored_labels(classes, "random_forest"), layers, 0)
    assert seen == [[0, S.UNDECLARED, 1], None]
