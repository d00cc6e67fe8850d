"""Gap creep against the neutron P4 band (issue 17 §4, Cao et al. 2023 Figs. 2D-E and 6).

Known answers: the projected share of an annulus (chord integrals, checked against a direct
sum of supersampled chords); the Li volume of a synthetic annular fill recovered from its
monochromatic transmission; and through the chain, the twin's neutron radiographs (FITS ->
normalisation -> bands -> P4 -> Li volume) against the volume the twin moved into the gap.
"""

import json
import math

import numpy as np
import pytest

from ssbscope.interface import annulus_projected_fraction, band_gap_volume


def _shell(ri, ro, u):
    c = lambda r: 2 * np.sqrt(np.maximum(r * r - u * u, 0.0))  # noqa: E731
    return c(ro) - c(ri)


@pytest.mark.parametrize("u0,u1", [(-1e5, 1e5), (0.0, 1e5), (3000.0, 3400.0), (-200.0, 3100.0)])
def test_annulus_share_matches_a_direct_chord_sum(u0, u1):
    ri, ro = 3175.0, 3325.0
    u = np.linspace(max(u0, -ro), min(u1, ro), 400001)
    direct = np.trapezoid(_shell(ri, ro, u), u) / (math.pi * (ro ** 2 - ri ** 2))
    assert annulus_projected_fraction(ri, ro, u0, u1) == pytest.approx(direct, abs=2e-5)
    if u1 - u0 > 1e5:
        assert annulus_projected_fraction(ri, ro, u0, u1) == pytest.approx(1.0, abs=1e-12)


def test_band_volume_of_a_synthetic_gap_fill_is_recovered():
    from ssbscope.neutron.attenuation import li_cross_section_1_cm
    from ssbscope.neutron.lithium import monochromatic

    p, axis, ri, g = 50.0, 500.0, 3175.0, 150.0
    ny, nx, nt = 20, 96, 5
    fill_um = np.array([0.0, 40.0, 80.0, 120.0, 150.0])  # gap height filled, from row 12 upward
    # pixel-mean annulus chord (supersampled 50 x per column)
    xs = (np.arange(nx * 50) + 0.5) / 50 * p - axis
    chord = _shell(ri, ri + g, xs).reshape(nx, 50).mean(axis=1)
    path = np.zeros((nt, ny, nx))
    front0 = 12 * p
    for k, f in enumerate(fill_um):
        edges = np.arange(ny + 1) * p
        cover = np.clip(np.minimum(edges[1:], front0) - np.maximum(edges[:-1], front0 - f), 0, None) / p
        path[k] = cover[:, None] * chord[None, :]
    sig = li_cross_section_1_cm(3.0) * 1e-4
    tr0 = np.full((ny, nx), 0.4)
    ratio = np.exp(-sig * path)
    r = band_gap_volume(ratio, tr0, roi_px=(5, 12, 70, 78), pixel_size_um=p, axis_x_um=axis,
                        inner_radius_um=ri, gap_um=g, spectrum=monochromatic(3.0))
    true = math.pi * ((ri + g) ** 2 - ri ** 2) * fill_um
    # the columns' share is exact for the pixel-mean chords; the band holds the whole fill
    np.testing.assert_allclose(r.gap_volume_um3, true, rtol=1e-6, atol=1.0)
    assert r.projected_fraction == pytest.approx(
        annulus_projected_fraction(ri, ri + g, 70 * p - axis, 78 * p - axis))
    with pytest.raises(Exception, match="see none of the gap"):
        band_gap_volume(ratio, tr0, roi_px=(5, 12, 80, 90), pixel_size_um=p, axis_x_um=axis,
                        inner_radius_um=ri, gap_um=g)


@pytest.fixture(scope="module")
def twin_run(tmp_path_factory):
    """The demo's neutron folder (radiographs only, ~25 s), with gap creep compared with P4."""
    import yaml

    from ssbscope.config import load
    from ssbscope.twin.demo import write_demo_folder
    from ssbscope.workflow import run_experiment

    out = tmp_path_factory.mktemp("gap_neutron")
    folder = write_demo_folder(out / "experiment", size="tiny", modalities=["neutron"])
    y = yaml.safe_load(folder.yaml_path.read_text())
    y["inputs"]["neutron"] = [i for i in y["inputs"]["neutron"]
                              if i.get("kind", "radiography") == "radiography"]
    y["analysis"]["neutron"].pop("ct_difference", None)
    label = y["inputs"]["neutron"][0]["label"]
    # the twin cell's geometry as a user declares it: rod radius 1/4 inch / 2, a 150 um gap,
    # the cell axis 500 um right of the frame's left edge; C/20 at 0.198 mA/cm2 for 8 h
    y["analysis"]["interface"] = {"gap_creep": {
        "duration_s": 28800.0, "current_ma_cm2": 0.198, "radius_um": 3175.0, "gap_um": 150.0,
        "neutron": {"label": label, "axis_x_um": 500.0}}}
    folder.yaml_path.write_text(yaml.safe_dump(y))
    # the store only: the interface section is built below (test_report_states_...), and a
    # report with the gap-creep section by tests/interface/test_interface_stages.py
    run = run_experiment(load(folder.yaml_path), out / "run", report=False)
    truth = json.loads(folder.truth_path.read_text())["neutron"][label]
    return run.result.store, truth


def test_p4_band_volume_through_the_chain_matches_the_twin(twin_run):
    from ssbscope.twin.neutron import NeutronTwinConfig

    store, truth = twin_run
    ds = store.read("interface/gap_creep").load()
    assert ds.attrs["neutron_band"] == "P4" and ds.attrs["neutron_region"] == "II"
    from ssbscope.store import attr_list

    assert [int(v) for v in attr_list(ds.attrs["neutron_band_roi_px"])[:2]] == truth["bands"]["P4"]["rows"]
    t = ds["neutron_time_s"].values
    meas = ds["measured_gap_volume_um3"].values
    # truth: the twin moves creep_rate x (t - onset) of foil (radius R + gap) into the gap
    cfg = NeutronTwinConfig()
    rg = cfg.rod_radius_um + cfg.gap_um
    moved = math.pi * rg ** 2 * cfg.creep_rate_um_h / 3600.0 * np.clip(t - cfg.creep_onset_s, 0, None)
    true = moved - moved[0]
    assert meas[-1] == pytest.approx(true[-1], rel=0.1)
    assert np.max(np.abs(meas - true)) < 0.1 * true[-1]
    # the comparison with the model is finite, and both volumes grow together
    for k in ("volume_ratio", "final_volume_ratio", "volume_correlation", "volume_rms_um3"):
        assert np.isfinite(ds.attrs[k]), k
    assert ds.attrs["volume_ratio"] > 0 and ds.attrs["volume_correlation"] > 0.9
    assert np.all(np.isfinite(ds["model_gap_volume_at_bin_um3"].values))


def test_report_states_the_neutron_comparison(twin_run, tmp_path):
    from ssbscope.report.interface import section

    store, _ = twin_run
    sec = section(store)
    labels = dict(sec.summary)
    assert "gap creep vs neutron P4" in labels
    assert "ratio" in labels["gap creep vs neutron P4"]
    assert "divided by the share of the gap annulus" in sec.html


def test_gap_neutron_label_must_be_a_radiograph_series_with_regions(tmp_path):
    from ssbscope.config import from_dict
    from ssbscope.errors import ConfigError
    from ssbscope.workflow import stages_for

    exp = from_dict({"name": "x", "analysis": {"interface": {"gap_creep": {
        "neutron": {"label": "nope", "axis_x_um": 0.0}}}}})
    with pytest.raises(ConfigError, match="not the label of a neutron input"):
        stages_for(exp)
    # without neutron: the stage's parameters are those of before (no key, no inputs)
    exp = from_dict({"name": "x", "analysis": {"interface": {"gap_creep": {}}}})
    st = [s for s in stages_for(exp) if s.name == "interface.gap_creep"][0]
    assert "neutron" not in st.params and not st.inputs


def test_no_band_is_a_note_not_an_error():
    import xarray as xr

    from ssbscope.interface.gap_creep import gap_creep
    from ssbscope.interface.stages import _gap_neutron_compare

    class _In:
        def __init__(self, ds):
            self.ds = ds

        def load(self):
            return self.ds

    bands = xr.Dataset({"name": ("band", np.array(["P1", ""], dtype=object)),
                        "region": ("band", np.array(["I", "I"], dtype=object))})
    data, attrs = _gap_neutron_compare({"neutron/x/bands": _In(bands), "neutron/x/spacetime": None},
                                       gap_creep(3600.0), label="x", band="P4", axis_x_um=0.0,
                                       time_offset_s=0.0, pixel_size_um=50.0, li6_fraction=0.0759,
                                       wavelength_a=None)
    assert data == {} and "no band P4" in attrs["neutron_note"]
