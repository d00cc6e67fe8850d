"""Demo stages of the transport/interface areas and their report section."""

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


def test_contour_study_tables(store):
    df = store.read("interface/contour_study").to_dataframe()
    sh = df[df["series"] == "shapes"].set_index("shape")
    assert set(sh.index) == {"egg-box", "pyramid", "frustum"}
    assert np.all(df["gain_over_flat"] <= df["area_ratio"] + 1e-9)
    gc = store.read("interface/grid_convergence").to_dataframe()
    assert gc["rel_change_vs_finest"].max() < 0.02
    sf = store.read("interface/surface_fields")
    assert sf["current_ma_cm2"].dims == ("shape", "kinetics", "y_um", "x_um")


def test_current_density_recovers_imposed_current(store):
    ds = store.read("transport/current_density")
    a = ds.attrs
    assert a["mean_current_ma_cm2"] == pytest.approx(a["imposed_current_ma_cm2"], rel=0.05)


def test_report_section(store):
    from ssbscope.report.transport import section

    sec = section(store)
    assert sec is not None and sec.title == "Transport and interfaces"
    assert sec.html.count("<img") == 4
    labels = [k for k, _ in sec.summary]
    assert "tau interphase (charged)" in labels


def test_section_none_for_empty_store(tmp_path):
    from ssbscope.report.transport import section

    assert section(Store.create(tmp_path / "empty.zarr")) is None
