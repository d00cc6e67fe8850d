"""The tomography demo stages on the tiny twin, and the report section they feed."""

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
    assert set(res.ran) == {"tomo.twin", "tomo.reconstruct", "tomo.segment", "tomo.measure",
                            "tomo.soft_short"}
    again = run(demo_stages(cfg), path, quiet=True)   # resumes: nothing recomputed
    assert again.ran == () and len(again.skipped) == 5
    return res.store


def test_demo_metrics_follow_the_twin(demo_store):
    met = demo_store.read("tomo/metrics").load()
    truth = demo_store.read("tomo/twin/truth").load()
    vs = met.attrs["voxel_size_um"]
    assert list(met["time_s"].values) == list(truth["time_s"].values)
    # pristine: nothing plated -> thickness 0 by count and roughness explicitly undefined
    assert met["plated_thickness_center_um"].values[0] == 0.0
    assert np.isnan(met["ra_um"].values[0])
    # noisy 16-bit scans: plated and counter thickness within a voxel of the truth
    np.testing.assert_allclose(met["plated_thickness_center_um"].values[1:],
                               truth["plated_thickness_um"].values[1:], atol=vs)
    np.testing.assert_allclose(met["counter_thickness_center_um"].values,
                               truth["counter_thickness_um"].values, atol=vs)
    # roughness of the thick (3 mAh/cm2) plated surface within 25 % despite the noise (on
    # thin layers the height noise, ~0.3 voxel, adds in quadrature); the order of the states
    # (rougher after more plating) is kept
    assert met["rq_um"].values[1] == pytest.approx(truth["rq_um"].values[1], rel=0.25)
    assert met["rq_um"].values[1] > met["rq_um"].values[2]
    # cracks open with plating: more pore + crack volume than pristine
    assert np.all(met["new_crack_volume_um3"].values[1:] > 0)
    assert np.all(met["crack_li_fraction"].values[1:] > 0)
    assert np.all(met["crack_li_fraction"].values[1:] < 1)
    assert met["pore_crack_volume_um3"].attrs["units"] == "um^3"


def test_demo_maps_and_segmentation(demo_store):
    maps = demo_store.read("tomo/maps").load()
    seg = demo_store.read("tomo/segmentation").load()
    assert maps["plated_thickness_um"].dims == ("time_s", "y", "x")
    assert seg["labels"].dims == ("time_s", "z", "y", "x")
    # the twin has no drift: registration finds (almost) none
    assert np.abs(seg["shift_vox"].values).max() < 0.5


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


def test_report_section(demo_store):
    from ssbscope.report.tomo import section

    sec = section(demo_store)
    assert sec.title == "X-ray tomography"
    assert sec.html.count("<img") >= 5
    assert "Soft short" in sec.html
    assert "twin truth" in sec.html and "Ra" in sec.html
    assert any("plated Li" in k for k, _ in sec.summary)


def test_report_section_absent_without_tomo(tmp_path):
    from ssbscope.report.tomo import section
    from ssbscope.store import Store

    assert section(Store.create(tmp_path / "empty")) is None
