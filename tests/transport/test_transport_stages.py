"""Twin stages of the transport area and its report section."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from ssbscope.pipeline import run
from ssbscope.store import Store
from ssbscope.transport.stages import INTERFACE_STATES, demo_stages


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    root = tmp_path_factory.mktemp("transport_demo")
    st = Store.create(root / "store.zarr")
    cfg = SimpleNamespace(twin=SimpleNamespace(size="tiny"))
    run(demo_stages(cfg), st, raw_dir=root / "raw", seed=0, quiet=True)
    return st


def test_interface_flux_per_state(store):
    ds = store.read("transport/interface_flux").load()
    assert [str(s) for s in ds["state"].values] == list(INTERFACE_STATES)
    tau = ds["tau"].values
    assert np.all(np.isfinite(tau)) and np.all(tau >= 1.0)
    # TauFactor's definition holds for every state
    np.testing.assert_allclose(ds["d_eff_ratio"].values, ds["porosity"].values / tau, rtol=1e-9)
    assert np.all(ds["flux_imbalance"].values <= 1e-3)
    assert ds["flux_map"].shape[0] == 3


def test_current_density_recovers_imposed_current(store):
    ds = store.read("transport/current_density")
    a = ds.attrs
    assert a["mean_current_ma_cm2"] == pytest.approx(a["imposed_current_ma_cm2"], rel=0.05)
    # the second scan is displaced in-plane; registration finds the opposite shift and the
    # local map then matches the twin's undisplaced map, which the unregistered one does not
    import json

    np.testing.assert_allclose(json.loads(a["registration_shift_yx_vox"]),
                               [-v for v in json.loads(a["imposed_drift_yx_vox"])], atol=0.05)
    # the pellet rises by the plated Li thickness (1.5 mAh/cm2 = 7.3 um = 2.4 voxels of 3 um,
    # rounded up to whole voxels by the twin); that z part is not applied
    assert -6 < a["registration_shift_z_vox"] < -1
    assert a["rms_error_registered_ma_cm2"] < 0.02 * a["imposed_current_ma_cm2"]
    assert a["rms_error_unregistered_ma_cm2"] > 0.2 * a["imposed_current_ma_cm2"]
    assert a["rms_error_unregistered_ma_cm2"] > 10 * a["rms_error_registered_ma_cm2"] + 1e-6


def test_report_section(store):
    from ssbscope.report.transport import section

    sec = section(store)
    assert sec is not None and sec.title == "Transport"
    assert sec.html.count("<img") == 2  # flux maps, current-density maps
    assert "Contoured" not in sec.html  # the contour study is the interface section's
    assert "without registration" in sec.html
    labels = [k for k, _ in sec.summary]
    assert "tau interphase (charged)" in labels


def test_section_none_for_empty_store(tmp_path):
    from ssbscope.report.transport import section

    assert section(Store.create(tmp_path / "empty.zarr")) is None



def test_demo_stages_hold_no_contour_study():
    # the contour study is the interface area's (ssbscope.interface.stages)
    cfg = SimpleNamespace(twin=SimpleNamespace(size="tiny"))
    stages = demo_stages(cfg)
    assert [s.name for s in stages] == ["transport.interface_flux", "transport.current_density"]
    assert not any(k.startswith("interface/") for s in stages for k in s.outputs)
