"""The demo folder's CT part through `ssbscope run`: the anode-free series and the soft-short
pellet (Cao et al. 2023, doi:10.1002/adfm.202307998), both written as Data Exchange files,
and the tomography report section on them."""

from types import SimpleNamespace

import numpy as np
import pytest


@pytest.fixture(scope="module")
def series_store(tiny_demo):
    """The demo folder's CT part (anode-free series + its log, soft-short pellet), through
    `ssbscope run`: the shared tiny demo (``ssbscope demo --size tiny``, tests/conftest.py),
    its store and the twin's truth beside its experiment file."""
    import json

    from ssbscope.store import Store

    truth = json.loads((tiny_demo / "experiment" / "truth.json").read_text())
    return Store.open(tiny_demo / "store.zarr"), truth


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
    cs = cs.isel(time_s=np.flatnonzero(cs["series"].values == "anode_free"))
    np.testing.assert_allclose(cs["charge_mah_cm2"].values, [r["charge_mah_cm2"] for r in scans],
                               atol=1e-3)


def test_demo_soft_short_profile_and_regions(series_store):
    """Soft-short pellet: Data Exchange file -> FBP -> segmentation by the declared stack ->
    low-attenuation regions and layer fractions, against the phantom's truth.  Layer 1 lies at
    the electrolyte face away from the Li anode (the cathode side), layer 10 at the anode."""
    st, truth = series_store
    met = st["tomo/soft_short/metrics"].load()
    tr = truth["tomo"]["soft_short"]["scans"]
    assert len(tr) == 1 and met.sizes["time_s"] == 1
    tr = tr[0]
    assert met.attrs["electrolyte"] == "LPSCl"
    frac = met["layer_fraction"].values[0]
    assert met["layer_fraction"].dims == ("time_s", "layer_index")
    assert met["layer_fraction"].attrs["layer_1_next_to"] == "cathode"
    want = np.asarray(tr["layer_fraction"], float)
    assert frac.shape == want.shape == (10,)
    assert want[-1] > want[0]          # truth: 30.65 % at the anode (layer 10), 9.91 % at layer 1
    # more low-attenuation volume at the anode side than the far side (002_ Fig. 3J)
    assert frac[-1] > 2 * frac[0]
    assert frac[-1] == pytest.approx(want[-1], abs=0.05)
    assert frac[0] == pytest.approx(want[0], abs=0.05)
    # Li-connected regions found; thin filaments partly fall below the noise at 3 um.  At this
    # tiny size (cell radius 14.5 px in a 32-px field) it reads +27 % (165996 against 130896 um^3,
    # seed 0): the interior (cell eroded by one voxel) over-counts 24 % (noise voxels below the
    # midpoint threshold at this contrast-to-noise, joined through 26-connectivity) and the rim
    # ring 74 % (blur with the empty space outside).  Before the ring-removal edge fix it read
    # +8 % only because a too-small cell mask (595 px against the true 657) left 529 true voxels
    # out.  The 15 % is asserted at size small (tests/tomo/test_low_attenuation.py:
    # +9.6 %); the interior over-count is open (issue 16).
    conn = float(met["low_attenuation_connected_um3"].values[0])
    assert 0.5 * tr["low_attenuation_connected_um3"] < conn < 1.3 * tr["low_attenuation_connected_um3"]
    iso = float(met["low_attenuation_isolated_um3"].values[0])
    assert 0 < iso < 2 * tr["low_attenuation_isolated_um3"]
    # the electrolyte | cathode interface within a voxel of the phantom's
    mp = st["tomo/soft_short/maps"].load()
    h = float(np.nanmean(mp["height_um"].sel(interface="LPSCl|cathode").values[0]))
    assert h == pytest.approx(tr["interface_z_um"]["LPSCl|cathode"], abs=3.0)
    # the Li | electrolyte interface although Li filaments cross it: the height search stops
    # where the Li fraction stops falling, so the Li layer is its own thickness within a voxel
    # (it read 37 um for 15 before)
    met = st["tomo/soft_short/metrics"].load()
    li = float(met["thickness_mean_um"].sel(layer="Li").values[0])
    assert li == pytest.approx(tr["mean_thickness_um"]["Li"], abs=3.0)


def test_series_settings_skip_names_of_other_cells():
    """analysis.tomo is one section: a name another series' cell declares is skipped where the
    cell lacks it; a name no cell declares is kept (the analysis reports it)."""
    from ssbscope.tomo.stages import _series_settings

    an = SimpleNamespace(interfaces=["Li|LPSCl", "LPSCl|cathode"], thickness=["Li", "counter"],
                         register_on="Cu", electrolyte=None)
    soft = ["steel_bottom", "Li", "LPSCl", "cathode", "steel_top"]
    af = ["Cu", "Li", "LPSCl", "counter"]
    got = _series_settings(an, "soft_short", soft, set(af))
    assert got == {"interfaces": ["Li|LPSCl", "LPSCl|cathode"], "thickness": ["Li"],
                   "register_on": None, "electrolyte": None}
    got = _series_settings(an, "anode_free", af, set(soft))
    assert got["interfaces"] == ["Li|LPSCl"] and got["thickness"] == ["Li", "counter"]
    assert got["register_on"] == "Cu"
    typo = SimpleNamespace(interfaces=None, thickness=["Lii"], register_on=None, electrolyte=None)
    assert _series_settings(typo, "soft_short", soft, set(af))["thickness"] == ["Lii"]


def test_report_section(series_store):
    from ssbscope.report.tomo import section

    sec = section(series_store[0])
    assert sec.title == "X-ray tomography"
    assert sec.html.count("<img") >= 6
    assert "Series anode_free" in sec.html and "Ra Li|LPSCl" in sec.html
    assert "Series soft_short" in sec.html and "twin truth" in sec.html
    assert "connected to a Li electrode" in sec.html
    assert any("mean thickness Li" in k for k, _ in sec.summary)


def test_report_section_absent_without_tomo(tmp_path):
    from ssbscope.report.tomo import section
    from ssbscope.store import Store

    assert section(Store.create(tmp_path / "empty")) is None
