"""The neutron demo stages through the pipeline, and the report section."""

import json

import numpy as np
import pytest


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    from ssbscope.neutron.stages import demo_stages
    from ssbscope.pipeline import run

    class Cfg:
        class twin:
            size = "tiny"

    out = tmp_path_factory.mktemp("neutron_demo")
    res = run(demo_stages(Cfg), out / "store.zarr", raw_dir=out / "raw", seed=0, quiet=True)
    assert set(res.ran) >= {"neutron.twin", "neutron.reduce", "neutron.analyse", "neutron.ct"}
    return res.store


def test_stages_write_results_that_match_the_truth(store):
    names = store.names()
    for n in ("neutron/radiographs", "neutron/spacetime", "neutron/bands", "neutron/boundaries",
              "neutron/ct", "neutron/twin/truth", "neutron/twin/ct"):
        assert n in names
    truth = store.read("neutron/twin/truth").load()
    rd = store.read("neutron/radiographs").load()
    rel = rd["transmission"].values / truth["transmission_true"].values - 1
    assert np.median(np.abs(rel)) < 0.01
    st = store.read("neutron/spacetime")
    bin_s = float(np.diff(rd["time_s"].values)[0])
    assert abs(st.attrs["soft_short_onset_s"] - truth.attrs["soft_short_onset_s"]) <= bin_s
    bands = store.read("neutron/bands").load()
    assert set(bands["kind"].values[bands["roi"].values == "I"]) == {"enrichment", "depletion"}
    ct = store.read("neutron/ct")
    np.testing.assert_allclose(json.loads(ct.attrs["shift_zyx_vox"]), [1.0, -2.0, 1.5], atol=0.15)


def test_report_section_renders_figures(store):
    from ssbscope.report.neutron import section

    sec = section(store)
    assert sec.title == "Neutron imaging"
    assert sec.html.count("data:image/png;base64") == 5
    labels = dict(sec.summary)
    assert labels["neutron: soft-short onset"].endswith(" h")


def test_section_is_none_without_neutron_data(tmp_path):
    from ssbscope.report.neutron import section
    from ssbscope.store import Store

    assert section(Store.create(tmp_path / "empty.zarr")) is None
