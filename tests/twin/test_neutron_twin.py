"""The neutron radiography twin: determinism, Beer-Lambert, Faraday, mass conservation."""

import numpy as np
import pytest

from ssbscope.materials import FARADAY_C_MOL, M_LI_G_MOL, RHO_LI_G_CM3
from ssbscope.neutron.attenuation import cold_spectrum, spectrum_transmission
from ssbscope.twin.neutron import NeutronTwinConfig, simulate_ct, simulate_radiography

SMALL = dict(n_frames=60, shape_yx=(48, 96))


@pytest.fixture(scope="module")
def centred():
    # the whole cell in the field (axis in the middle) so projections integrate to volumes
    return simulate_radiography(n_frames=120, shape_yx=(64, 192), cell_axis_x_um=4800.0,
                                cd_marker=(2, 6, 186, 192), blur_fwhm_um=0.0, seed=1)


def test_same_seed_same_bytes_other_seed_differs():
    a = simulate_radiography(**SMALL, seed=3)
    b = simulate_radiography(**SMALL, seed=3)
    c = simulate_radiography(**SMALL, seed=4)
    assert a.images.tobytes() == b.images.tobytes()
    assert a.open_beam.tobytes() == b.open_beam.tobytes()
    assert a.images.tobytes() != c.images.tobytes()
    assert a.images.dtype == np.uint16 and a.images.shape == (60, 48, 96)


def test_steel_rod_transmission_is_beer_lambert_through_the_chords():
    tw = simulate_radiography(**SMALL, blur_fwhm_um=0.0)
    cfg = tw.config
    x = 10  # column near the axis; row 0 is rod + unbulged PTFE tube
    u = cfg.x_to_u_um(x)
    R, Ro = cfg.rod_radius_um, cfg.tube_outer_radius_um
    steel = 2 * np.sqrt(R ** 2 - u ** 2) * 1e-4
    ptfe = 2 * (np.sqrt(Ro ** 2 - u ** 2) - np.sqrt(R ** 2 - u ** 2)) * 1e-4
    expected = spectrum_transmission({"steel": steel, "PTFE": ptfe}, cold_spectrum(n=32))
    assert tw.truth.transmission[0, 0, x] == pytest.approx(float(expected), rel=2e-3)
    # open beam beside the tube and nothing behind the Cd marker
    y0, y1, x0, x1 = tw.truth.rois["beam"]
    assert np.all(tw.truth.transmission[:, y0:y1, x0:x1] == pytest.approx(1.0))
    y0, y1, x0, x1 = tw.truth.rois["background"]
    assert np.all(tw.truth.transmission[0, y0:y1, x0:x1] < 1e-3)


def test_plating_follows_faraday_before_the_short():
    tw = simulate_radiography(**SMALL)
    cfg = tw.config
    t = tw.time_s
    # 0.198 mA/cm2 -> Li thickness rate j M / (F rho)
    rate_um_s = cfg.current_density_ma_cm2 * 1e-3 * M_LI_G_MOL / (FARADAY_C_MOL * RHO_LI_G_CM3) * 1e4
    assert rate_um_s * 3600 == pytest.approx(0.96, rel=0.01)
    before = t < cfg.soft_short_onset_s
    np.testing.assert_allclose(tw.truth.band_amounts_um["P2"][before], rate_um_s * t[before], rtol=1e-12)


def test_projected_li_change_integrates_to_volumes(centred):
    """∫∫ ΔL dA = volume moved: creep conserves Li (P3 = -P4), plating = h · π R²."""
    tw = centred
    cfg = tw.config
    p = cfg.pixel_size_um
    d = tw.truth.delta_li_um[-1].astype(np.float64)
    amounts = {k: v[-1] for k, v in tw.truth.band_amounts_um.items()}
    Rg = cfg.rod_radius_um + cfg.gap_um
    rows = tw.truth.bands
    vol = {k: d[slice(*rows[k]["rows"])].sum() * p * p for k in rows}
    assert vol["P4"] == pytest.approx(amounts["P4"] * np.pi * Rg ** 2, rel=0.02)
    assert vol["P3"] == pytest.approx(-amounts["P3"] * np.pi * Rg ** 2, rel=0.02)
    R = cfg.rod_radius_um
    assert vol["P1"] == pytest.approx(-amounts["P1"] * np.pi * R ** 2, rel=0.02)
    # the plated Li decays exponentially into the electrolyte: integrate over all its rows
    r0 = rows["P2"]["rows"][0]
    vol_p2 = d[r0:rows["P1"]["rows"][0]].sum() * p * p
    assert vol_p2 == pytest.approx(amounts["P2"] * np.pi * R ** 2, rel=0.02)


def test_soft_short_onset_is_the_electrochemistry_twins():
    from ssbscope.twin.echem import sulfide_charge

    tw = simulate_radiography(**SMALL, frame_interval_s=600.0, soft_short_onset_s=3.0 * 3600)
    ec = sulfide_charge("soft", seed=tw.config.seed, short_onset_h=3.0, time_limit_h=10.0)
    assert tw.truth.soft_short_onset_s == pytest.approx(ec.short_onset_s)
    v = tw.truth.voltage_V
    assert v.size == tw.truth.voltage_time_s.size and 3.0 < v.max() < 4.4


def test_bad_configuration():
    from ssbscope.errors import ParameterError

    with pytest.raises(ParameterError, match="pixel_size_um"):
        NeutronTwinConfig(pixel_size_um=0.0)
    with pytest.raises(ParameterError, match="open-beam columns"):
        simulate_radiography(n_frames=5, shape_yx=(32, 60))


def test_ct_twin_increment_conserves_li_and_is_shifted():
    ct = simulate_ct()
    from ssbscope.neutron.attenuation import cold_spectrum as cs, macroscopic_cross_section_1_cm

    sp = cs(n=32)
    mu_li = float(np.sum(sp.weight * macroscopic_cross_section_1_cm("Li", sp.wavelength_a)))
    gained = ct.increment_true[ct.creep_mask].sum() / mu_li
    lost = -ct.increment_true[ct.thinning_mask].sum() / mu_li
    assert gained == pytest.approx(lost, rel=0.05)
    assert ct.before.shape == ct.after.shape == (40, 48, 48)
    assert ct.shift_zyx_vox == (1.0, -2.0, 1.5)


def test_ct_volumes_written_as_tiff_stacks(tmp_path):
    import tifffile

    from ssbscope.twin.neutron import write_ct

    ct = simulate_ct(shape_zyx=(16, 20, 20), voxel_size_um=400.0)
    paths = write_ct(ct, tmp_path)
    np.testing.assert_array_equal(tifffile.imread(paths["before"]), ct.before)
    np.testing.assert_array_equal(tifffile.imread(paths["after"]), ct.after)
