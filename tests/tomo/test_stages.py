"""The CT twin study that still runs in memory (soft short), and the tomography report section
on the demo's anode-free series written as Data Exchange files and run like a user's."""

from types import SimpleNamespace

import numpy as np
import pytest


@pytest.fixture(scope="module")
def demo_store(tmp_path_factory):
    from ssbscope.pipeline import run
    from ssbscope.tomo.stages import demo_stages

    cfg = SimpleNamespace(twin=SimpleNamespace(size="tiny"), analysis=None)
    path = tmp_path_factory.mktemp("tomo") / "store"
    res = run(demo_stages(cfg), path, quiet=True)
    assert set(res.ran) == {"tomo.soft_short"}
    again = run(demo_stages(cfg), path, quiet=True)   # resumes: nothing recomputed
    assert again.ran == () and len(again.skipped) == 1
    return res.store


@pytest.fixture(scope="module")
def series_store(tmp_path_factory):
    """The demo folder's CT part (anode-free series + its log), through `ssbscope run`."""
    from ssbscope.config import load
    from ssbscope.store import Store
    from ssbscope.twin.demo import write_demo_folder
    from ssbscope.workflow import run_experiment

    root = tmp_path_factory.mktemp("tomo_series")
    folder = write_demo_folder(root / "experiment", size="tiny", modalities=["echem", "tomo"])
    res = run_experiment(load(folder.yaml_path), root, quiet=True)
    import json

    return Store.open(res.store_path), json.loads(folder.truth_path.read_text())


def test_demo_series_recovers_the_twin_through_the_chain(series_store):
    """Data Exchange files -> FBP -> segmentation by the declared layers -> metrics, against
    the twin's truth: plated and counter Li thickness within one voxel (3 um) at every scan."""
    st, truth = series_store
    met = st["tomo/anode_free/metrics"].load()
    scans = truth["tomo"]["anode_free"]["scans"]
    np.testing.assert_allclose(met["time_s"].values, [r["time_s"] for r in scans])
    for k, r in enumerate(scans):
        for layer in ("Li", "counter"):
            got = float(met["thickness_mean_um"].sel(layer=layer).values[k])
            assert got == pytest.approx(r["mean_thickness_um"][layer], abs=3.0), (layer, r["state"])
    assert np.isnan(met["ra_um"].sel(interface="Li|LPSCl").values[0])  # no plated layer yet
    cs = st["correlate/states"].load()
    np.testing.assert_allclose(cs["charge_mah_cm2"].values, [r["charge_mah_cm2"] for r in scans],
                               atol=1e-3)


def test_demo_soft_short_profile_and_regions(demo_store):
    ss = demo_store.read("tomo/soft_short").load()
    # interfaces from the median-grey derivative within a voxel of the twin's
    np.testing.assert_allclose(ss["interfaces_z_vox"].values,
                               ss["interfaces_truth_z_vox"].values, atol=1.0)
    frac = ss["layer_fraction"].values
    # more low-attenuation volume at the anode than at the cathode side (002_ Fig. 3J)
    assert frac[0] > 2 * frac[-1]
    assert frac[0] == pytest.approx(ss["layer_fraction_truth"].values[0], abs=0.05)
    assert ss["n_connected"].item() >= 1 and ss["volume_connected_um3"].item() > 0


def test_report_section(demo_store, series_store):
    from ssbscope.report.tomo import section

    sec = section(demo_store)
    assert sec.title == "X-ray tomography" and "Soft short" in sec.html
    sec = section(series_store[0])
    assert sec.html.count("<img") >= 4
    assert "Series anode_free" in sec.html and "Ra Li|LPSCl" in sec.html
    assert any("mean thickness Li" in k for k, _ in sec.summary)


def test_report_section_absent_without_tomo(tmp_path):
    from ssbscope.report.tomo import section
    from ssbscope.store import Store

    assert section(Store.create(tmp_path / "empty")) is None
